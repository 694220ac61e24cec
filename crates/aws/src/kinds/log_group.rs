//! CloudWatch Logs log groups: Firehose's error log group (with its one log stream), each cluster's control-plane
//! log group (EKS makes it; the pipeline's filter read says whether it exists) and the alert function's. Log
//! groups hold log data: eksaudit never deletes one.

use std::collections::{BTreeSet, HashMap};

use eksaudit_plan::{Action, DesiredResource, Kind, Observation, ObservedResource};
use serde_json::{json, Value};

use super::{kms_key, Context, Found, Target, Task};
use crate::shared::{exists_ok, Call, Named};
use crate::{Error, RegionClients};

/// A log group's ARN, as the plan crate's `Names` makes it.
fn arn(spec: &eksaudit_spec::Spec, region: &str, account: &str, name: &str) -> String {
    eksaudit_plan::Names::new(spec, account).log_group_arn(region, name)
}

/// DescribeLogGroups takes at most this many names (`logGroupIdentifiers`).
const NAMES_PER_DESCRIBE: usize = 50;

/// Which of `names` are log groups: DescribeLogGroups by name, 50 names a call, the calls at once.
pub(crate) async fn existing(c: &RegionClients, names: &BTreeSet<String>) -> Result<BTreeSet<String>, Error> {
    let names: Vec<String> = names.iter().cloned().collect();
    let calls = names.chunks(NAMES_PER_DESCRIBE).map(|chunk| async move {
        let mut found = Vec::new();
        let mut pages =
            c.logs.describe_log_groups().set_log_group_identifiers(Some(chunk.to_vec())).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.named("logs:DescribeLogGroups", &chunk[0])?;
            found.extend(page.log_groups().iter().filter_map(|g| g.log_group_name()).map(str::to_string));
        }
        Ok::<_, Error>(found)
    });
    Ok(futures::future::try_join_all(calls).await?.into_iter().flatten().collect())
}

/// Every log group of the region encrypted with a KMS key, with the key's ARN (destroy's read).
pub(crate) async fn encrypted(c: &RegionClients) -> Result<Vec<(String, String)>, Error> {
    let mut found = Vec::new();
    let mut pages = c.logs.describe_log_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.named("logs:DescribeLogGroups", "the region's log groups")?;
        found.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| Some((g.log_group_name()?.to_string(), g.kms_key_id()?.to_string()))),
        );
    }
    Ok(found)
}

/// The Firehose error and function log groups; `None` for a cluster's, which `filter::observe` reads.
pub(crate) fn observe<'a>(c: &'a RegionClients, d: &'a DesiredResource) -> Option<Task<'a>> {
    match d.kind {
        Kind::LogGroup => None,
        _ => Some(Box::pin(async move { Found::settle(&d.address, read(c, &d.name).await) })),
    }
}

/// Its retention and tags.
async fn read(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let groups =
        c.logs.describe_log_groups().log_group_name_prefix(name).send().call("logs:DescribeLogGroups", name).await?;
    let Some(group) = groups.log_groups().iter().find(|g| g.log_group_name() == Some(name)) else {
        return Ok(Observation::Absent);
    };
    let arn =
        group.log_group_arn().map(str::to_string).or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()));
    let mut o = ObservedResource::default();
    if let Some(arn) = arn {
        let tags =
            c.logs.list_tags_for_resource().resource_arn(&arn).send().call("logs:ListTagsForResource", name).await?;
        o.tags = tags.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    }
    o.fields.insert("retention_days".into(), group.retention_in_days().map_or(Value::Null, |d| json!(d)));
    // The key's ARN; `observe` reads the pipeline's own key as its alias, as the plan names it.
    o.fields.insert("kms_key_id".into(), group.kms_key_id().map_or(Value::Null, |k| json!(k)));
    Ok(Observation::Present(o))
}

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    converge(cx, t.clients()?, t.desired()?, t.change.action, &t.changed()).await
}

/// Update and replace alike: tags, retention and key set in place.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    create(cx, t).await
}

/// Never planned: a log group holds log data.
pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    Err(t.cannot())
}

/// A create makes the group with its tags; an update tags the groups eksaudit made (a cluster's is EKS's).
/// Then the retention, and Firehose's log stream in its error log group.
async fn converge(
    cx: &Context<'_>,
    c: &RegionClients,
    d: &DesiredResource,
    action: Action,
    changed: &[String],
) -> Result<(), Error> {
    let ours = matches!(d.kind, Kind::FirehoseLogGroup | Kind::FunctionLogGroup);
    let name = d.name.as_str();
    let tags: HashMap<String, String> = cx.tags().into_iter().collect();
    // CloudWatch Logs takes the key's ARN, not its alias.
    let needs_key = action == Action::Create || changed.iter().any(|f| f == "kms_key_id");
    let key = match d.fields.get("kms_key_id").and_then(|f| f.value.as_str()).filter(|_| needs_key) {
        Some(alias) => Some(kms_key::arn_of(c, alias).await?),
        None => None,
    };
    // On create, a group already there (an interrupted run made it) may lack the key: associated as on update.
    let mut associate = action != Action::Create && changed.iter().any(|f| f == "kms_key_id");
    if action == Action::Create {
        let created = c
            .logs
            .create_log_group()
            .log_group_name(name)
            .set_kms_key_id(key.clone())
            .set_tags(Some(tags.clone()))
            .send()
            .call("logs:CreateLogGroup", name)
            .await
            .map(drop);
        associate = ours && created.is_err();
        exists_ok(created)?;
    } else if ours {
        let arn = arn(cx.spec, &c.region, cx.account, name);
        c.logs.tag_resource().resource_arn(&arn).set_tags(Some(tags)).send().call("logs:TagResource", name).await?;
    }
    // Only ours are ever updated: a cluster's group is EKS's once it exists (its fields are create-only).
    if let Some(key) = key.filter(|_| associate && ours) {
        c.logs
            .associate_kms_key()
            .log_group_name(name)
            .kms_key_id(key)
            .send()
            .call("logs:AssociateKmsKey", name)
            .await?;
    }
    if let Some(days) = d.fields.get("retention_days").and_then(|f| f.value.as_i64()) {
        c.logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days as i32)
            .send()
            .call("logs:PutRetentionPolicy", name)
            .await?;
    }
    if d.kind == Kind::FirehoseLogGroup {
        exists_ok(
            c.logs
                .create_log_stream()
                .log_group_name(name)
                .log_stream_name(eksaudit_plan::desired::FIREHOSE_ERROR_LOG_STREAM)
                .send()
                .call("logs:CreateLogStream", name)
                .await
                .map(drop),
        )?;
    }
    Ok(())
}
