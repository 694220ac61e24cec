//! The pipeline's KMS key in a region, found by its alias: read, create, converge, schedule deletion.

use std::collections::BTreeMap;

use aws_sdk_kms::types as kt;
use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use futures::StreamExt;
use serde_json::{json, Value};

use super::{Context, Found, Target, Task};
use crate::retry::{answer_may_be_lost, kms_principal_not_propagated, retry, Budget};
use crate::shared::{build_error, field, optional, policy_value, Call, Named};
use crate::{Error, ErrorKind, RegionClients};

/// The AWS minimum: a key scheduled for deletion can still be recovered (apply cancels the deletion) for a week.
pub const DELETION_WINDOW_DAYS: i32 = 7;

pub(crate) fn observe<'a>(c: &'a RegionClients, d: &'a DesiredResource) -> Task<'a> {
    Box::pin(async move { Found::settle(&d.address, read(c, &d.name).await) })
}

/// The key's id behind the alias, `None` when the alias does not exist.
async fn key_id(c: &RegionClients, alias: &str) -> Result<Option<(String, String)>, Error> {
    let out = optional(c.kms.describe_key().key_id(alias).send().call("kms:DescribeKey", alias).await)?;
    Ok(out
        .and_then(|o| o.key_metadata)
        .map(|m| (m.key_id().to_string(), m.key_state().map(|s| s.as_str().to_string()).unwrap_or_default())))
}

/// The ARN of the key behind an alias (or alias ARN): what CloudWatch Logs and Lambda take. Looked up once per
/// region and alias for the run (every log group and function a region creates asks for it, concurrently): the
/// first lookup comes after the key's own step, and an alias names the same key for the rest of the run.
pub(crate) async fn arn_of(c: &RegionClients, alias: &str) -> Result<String, Error> {
    let cell = {
        let mut cells = c.key_arns.0.lock().unwrap_or_else(|e| e.into_inner());
        std::sync::Arc::clone(cells.entry(alias.to_string()).or_default())
    };
    let arn = cell
        .get_or_try_init(|| async {
            let out = c.kms.describe_key().key_id(alias).send().call("kms:DescribeKey", alias).await?;
            out.key_metadata
                .and_then(|m| m.arn)
                .ok_or_else(|| Error::Failed { what: format!("kms:DescribeKey gave no key ARN for {alias}") })
        })
        .await?;
    Ok(arn.clone())
}

/// Key ARNs by alias, shared by the clones of one region's clients (see [`arn_of`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyArns(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::OnceCell<String>>>>>,
);

/// The ARN of a key, from its id.
pub(crate) fn arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:{}:kms:{region}:{account}:key/{id}", eksaudit_spec::partition(region))
}

/// The key behind `alias`: its policy, rotation, state (`Enabled`, `PendingDeletion`...) and tags. Rotation is
/// not readable while the key is not enabled; it is then `null` and converged once the key is enabled again.
async fn read(c: &RegionClients, alias: &str) -> Result<Observation, Error> {
    let Some((id, state)) = key_id(c, alias).await? else { return Ok(Observation::Absent) };
    read_key(c, alias, &id, &state).await.map(Observation::Present)
}

/// Destroy's own read, where the alias is missing: the key a run stopped between CreateKey and CreateAlias left
/// (tagged as this pipeline's, no alias), marked `INTERRUPTED_CREATE`, so that destroy schedules it too. Not one
/// of plan's reads: a first plan would pay a tag read for every key of the region; apply's create finds the key
/// itself.
pub(crate) async fn observe_interrupted(
    c: &RegionClients,
    alias: &str,
    pipeline: &str,
) -> Result<Option<ObservedResource>, Error> {
    let Some((id, state)) = orphan_key(c, alias, pipeline).await? else { return Ok(None) };
    let mut o = read_key(c, alias, &id, &state).await?;
    o.fields.insert(eksaudit_plan::INTERRUPTED_CREATE.into(), json!(true));
    Ok(Some(o))
}

async fn read_key(c: &RegionClients, alias: &str, id: &str, state: &str) -> Result<ObservedResource, Error> {
    let kms = &c.kms;
    let (policy, tags, rotation) = futures::join!(
        kms.get_key_policy().key_id(id).policy_name("default").send().call("kms:GetKeyPolicy", alias),
        kms.list_resource_tags().key_id(id).send().call("kms:ListResourceTags", alias),
        async {
            if state != "Enabled" {
                return Ok(None);
            }
            kms.get_key_rotation_status()
                .key_id(id)
                .send()
                .call("kms:GetKeyRotationStatus", alias)
                .await
                .map(|r| Some(r.key_rotation_enabled()))
        },
    );
    let mut o = ObservedResource {
        tags: tags?.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect(),
        ..Default::default()
    };
    o.fields.insert("policy".into(), policy_value(policy?.policy()));
    o.fields.insert("rotation".into(), rotation?.map_or(Value::Null, |r| json!(r)));
    o.fields.insert("state".into(), json!(state));
    o.fields.insert("key_id".into(), json!(id));
    Ok(o)
}

fn tags(tags: &BTreeMap<String, String>) -> Result<Vec<kt::Tag>, Error> {
    tags.iter().map(|(k, v)| kt::Tag::builder().tag_key(k).tag_value(v).build().map_err(build_error)).collect()
}

/// Every field of the key: what a create converges when it finds a key already there.
const ALL_FIELDS: [&str; 4] = ["policy", "rotation", "state", "tags"];

/// Creates the key (policy and tags at once), points the alias at it and turns rotation on. A run stopped between
/// CreateKey and CreateAlias left a key tagged as this pipeline's without the alias: that key is used rather than a
/// second one made (searched for only here, when the alias is missing, so an in-sync run never pays for it).
pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let pipeline = cx.spec.pipeline.name.as_str();
    let key_tags = desired_tags(d);
    let all_fields = ALL_FIELDS.map(String::from);
    let alias = d.name.as_str();
    if key_id(c, alias).await?.is_some() {
        return converge(c, d, &all_fields, &key_tags, cx.budgets.iam_propagation).await;
    }
    let (id, made_now) = match orphan_key(c, alias, pipeline).await? {
        Some((id, _)) => (id, false),
        None => match create_key(cx, c, d, pipeline, &key_tags).await? {
            Made::Created(id) => (id, true),
            // An attempt whose answer was lost made it (with today's policy and tags; converged all the same).
            Made::Found(id) => (id, false),
        },
    };
    match alias_key(c, alias, &id).await {
        Ok(()) if made_now => {
            enable_rotation(c, alias, &id).await?;
            remember(cx, c, alias, &id);
            Ok(())
        }
        // An adopted key may predate today's policy or tags: converge all of it.
        Ok(()) => converge(c, d, &all_fields, &key_tags, cx.budgets.iam_propagation).await,
        Err(e) => taken_alias(cx, c, d, &id, e).await,
    }
}

/// The ARN of the key this run made, for [`arn_of`] under both names the pipeline's resources give the key (its
/// alias, the alias's ARN): the log groups and functions created after it then ask KMS nothing.
fn remember(cx: &Context<'_>, c: &RegionClients, alias: &str, id: &str) {
    let key_arn = arn(&c.region, cx.account, id);
    let alias_arn = eksaudit_plan::Names::new(cx.spec, cx.account).kms_alias_arn(&c.region);
    let mut cells = c.key_arns.0.lock().unwrap_or_else(|e| e.into_inner());
    for name in [alias.to_string(), alias_arn] {
        // Already set: a lookup came first and found the same key.
        let _ = cells.entry(name).or_default().set(key_arn.clone());
    }
}

async fn alias_key(c: &RegionClients, alias: &str, id: &str) -> Result<(), Error> {
    c.kms.create_alias().alias_name(alias).target_key_id(id).send().call("kms:CreateAlias", alias).await.map(drop)
}

/// CreateAlias refused: another apply of the same spec aliased a key first. If that is not the one we hold, ours
/// was never used: it goes (after the window), theirs is kept. (Both may have adopted the same orphan: then it
/// stays.)
async fn taken_alias(
    cx: &Context<'_>,
    c: &RegionClients,
    d: &DesiredResource,
    id: &str,
    e: Error,
) -> Result<(), Error> {
    if e.code() != Some("AlreadyExistsException") {
        return Err(e);
    }
    let alias = d.name.as_str();
    if key_id(c, alias).await?.is_some_and(|(current, _)| current != id) {
        schedule_deletion(c, id, alias).await?;
    }
    converge(c, d, &ALL_FIELDS.map(String::from), &desired_tags(d), cx.budgets.iam_propagation).await
}

/// How a key came to be held: made by this call, or found made by an earlier attempt whose answer was lost.
enum Made {
    Created(String),
    Found(String),
}

/// Attempts at CreateKey whose answer may have been lost (no answer, or AWS's own internal error), each followed
/// by a search for the key it may have made before the next: as many as the SDK gives any other call.
const CREATE_KEY_ATTEMPTS: u32 = crate::clients::SDK_ATTEMPTS;

/// CreateKey, the one create of the pipeline AWS does not make idempotent by a name: an attempt whose answer was
/// lost on the way back may have made its key, and the SDK's own retry would then make a second, tagged as ours
/// and never used. So the SDK makes one attempt (throttled ones aside: AWS made nothing), and before attempting
/// again eksaudit looks for the key the lost attempt made.
async fn create_key(
    cx: &Context<'_>,
    c: &RegionClients,
    d: &DesiredResource,
    pipeline: &str,
    key_tags: &BTreeMap<String, String>,
) -> Result<Made, Error> {
    let alias = d.name.as_str();
    let key_tags = tags(key_tags)?;
    let once = aws_sdk_kms::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1));
    let mut attempt = 1;
    loop {
        // The policy names roles just created: KMS refuses them until IAM has propagated.
        let created = retry(cx.budgets.iam_propagation, kms_principal_not_propagated, || async {
            c.kms
                .create_key()
                .description(format!("eksaudit pipeline {pipeline}: EKS audit logs, their topic"))
                .key_usage(kt::KeyUsageType::EncryptDecrypt)
                .key_spec(kt::KeySpec::SymmetricDefault)
                .policy(field(d, "policy").to_string())
                .set_tags(Some(key_tags.clone()))
                .customize()
                .config_override(once.clone())
                .send()
                .call("kms:CreateKey", alias)
                .await
        })
        .await;
        match created {
            Ok(created) => {
                let id = created.key_metadata().map(|m| m.key_id().to_string());
                return id
                    .map(Made::Created)
                    .ok_or_else(|| Error::Failed { what: format!("kms:CreateKey gave no key id for {alias}") });
            }
            Err(e) if attempt < CREATE_KEY_ATTEMPTS && (answer_may_be_lost(&e) || e.kind() == ErrorKind::Throttled) => {
                if answer_may_be_lost(&e) {
                    if let Some((id, _)) = orphan_key(c, alias, pipeline).await? {
                        return Ok(Made::Found(id));
                    }
                }
                let backoff = std::time::Duration::from_millis(250 << attempt.min(5));
                tokio::time::sleep(crate::retry::jittered(backoff)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A key in the region tagged as this pipeline's, not scheduled for deletion and without an alias: what a run
/// stopped between CreateKey and CreateAlias leaves, with its state.
async fn orphan_key(c: &RegionClients, alias: &str, pipeline: &str) -> Result<Option<(String, String)>, Error> {
    let mut ids = Vec::new();
    let mut keys = c.kms.list_keys().into_paginator().items().send();
    while let Some(key) = keys.next().await {
        ids.extend(key.named("kms:ListKeys", alias)?.key_id().map(str::to_string));
    }
    // Each key's tags read concurrently (the pacer keeps them within KMS's quota): a region may hold hundreds.
    let mut checks = futures::stream::iter(ids).map(|id| orphan_of(c, id, pipeline)).buffer_unordered(KEYS_AT_ONCE);
    while let Some(found) = checks.next().await {
        if let Some(found) = found? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// How many keys' tags [`orphan_key`] reads at once.
const KEYS_AT_ONCE: usize = 8;

/// The key `id`, with its state, if it is this pipeline's, usable and without an alias.
async fn orphan_of(c: &RegionClients, id: String, pipeline: &str) -> Result<Option<(String, String)>, Error> {
    // Keys of others (AWS managed ones among them) may not let us read their tags: not ours.
    let tags = match c.kms.list_resource_tags().key_id(&id).send().call("kms:ListResourceTags", &id).await {
        Ok(t) => Some(t),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::AccessDenied) => None,
        Err(e) => return Err(e),
    };
    let ours = tags.is_some_and(|t| {
        t.tags().iter().any(|t| t.tag_key() == eksaudit_spec::OWNER_TAG_KEY && t.tag_value() == pipeline)
    });
    if !ours {
        return Ok(None);
    }
    let meta = c.kms.describe_key().key_id(&id).send().call("kms:DescribeKey", &id).await?;
    let state = meta.key_metadata().and_then(|m| m.key_state()).cloned();
    let usable = state.as_ref().is_some_and(|s| *s != kt::KeyState::PendingDeletion);
    let aliases = c.kms.list_aliases().key_id(&id).send().call("kms:ListAliases", &id).await?;
    Ok((usable && aliases.aliases().is_empty())
        .then(|| (id, state.map(|s| s.as_str().to_string()).unwrap_or_default())))
}

async fn enable_rotation(c: &RegionClients, alias: &str, id: &str) -> Result<(), Error> {
    c.kms.enable_key_rotation().key_id(id).send().call("kms:EnableKeyRotation", alias).await.map(drop)
}

/// Update and replace alike: the changed fields converged in place.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let d = t.desired()?;
    converge(t.clients()?, d, &t.changed(), &desired_tags(d), cx.budgets.iam_propagation).await
}

/// The key's tags as the plan wants them: the owner's and the spec's, and the record of the region's buckets.
fn desired_tags(d: &DesiredResource) -> BTreeMap<String, String> {
    let tags = d.fields.get("tags").and_then(|f| f.value.as_object());
    tags.into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
}

/// Converges the given fields. A key pending deletion (a destroy, then an apply within the window) is recovered
/// first: its deletion cancelled and the key enabled, so the logs it encrypted stay readable.
async fn converge(
    c: &RegionClients,
    d: &DesiredResource,
    fields: &[String],
    key_tags: &BTreeMap<String, String>,
    propagation: Budget,
) -> Result<(), Error> {
    let alias = d.name.as_str();
    let Some((id, state)) = key_id(c, alias).await? else {
        return Err(Error::Failed { what: format!("KMS key {alias} disappeared during apply") });
    };
    let kms = &c.kms;
    let has = |f: &str| fields.iter().any(|x| x == f);
    if has("state") && state != "Enabled" {
        if state == "PendingDeletion" {
            kms.cancel_key_deletion().key_id(&id).send().call("kms:CancelKeyDeletion", alias).await?;
        }
        kms.enable_key().key_id(&id).send().call("kms:EnableKey", alias).await?;
    }
    if has("policy") {
        // The policy names roles just created: KMS refuses them until IAM has propagated.
        retry(propagation, kms_principal_not_propagated, || async {
            kms.put_key_policy()
                .key_id(&id)
                .policy_name("default")
                .policy(field(d, "policy").to_string())
                .send()
                .call("kms:PutKeyPolicy", alias)
                .await
        })
        .await?;
    }
    // A key enabled again gets its rotation back.
    if has("rotation") || (has("state") && state != "Enabled") {
        enable_rotation(c, alias, &id).await?;
    }
    if has("tags") {
        kms.tag_resource().key_id(&id).set_tags(Some(tags(key_tags)?)).send().call("kms:TagResource", alias).await?;
    }
    Ok(())
}

/// Schedules the key's deletion with the shortest window AWS allows; the alias stays with it, so an apply within
/// the window finds the key and recovers it. Already scheduled or gone is done.
pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, alias) = (t.clients()?, t.name());
    // Without its alias, the key destroy's own read found by its owner tag (`observe_interrupted`), by its id.
    let found = match (key_id(c, alias).await?, t.old("key_id").and_then(Value::as_str)) {
        (Some(found), _) => Some(found),
        (None, Some(id)) => key_id(c, id).await?,
        (None, None) => None,
    };
    let Some((id, state)) = found else { return Ok(()) };
    if state == "PendingDeletion" {
        return Ok(());
    }
    schedule_deletion(c, &id, alias).await
}

/// kms:ScheduleKeyDeletion after AWS's shortest window that still lets a mistake be undone.
async fn schedule_deletion(c: &RegionClients, id: &str, alias: &str) -> Result<(), Error> {
    c.kms
        .schedule_key_deletion()
        .key_id(id)
        .pending_window_in_days(DELETION_WINDOW_DAYS)
        .send()
        .call("kms:ScheduleKeyDeletion", alias)
        .await
        .map(drop)
}
