//! S3 buckets: the bucket the logs are delivered to (read with the pipeline's notification entry on it) and the
//! bucket its server access logs go to. Both hold evidence: settings are converged one at a time, and a bucket is
//! deleted only with every version in it, when the spec asks.

use std::collections::BTreeMap;

use aws_sdk_s3::types as s3t;
use eksaudit_plan::kinds::bucket::{evidence_prefixes, reaches, OTHER_EXPIRING_RULES};
use eksaudit_plan::{DesiredResource, Kind, Observation, ObservedResource, StaleResource, INTERRUPTED_REASON};
use eksaudit_plan::{Management, Names, CREATION_INTENT_TAG_PREFIX};
use serde_json::{json, Value};

use super::{bucket_notification, Context, Found, Reading, Target, Task};
use eksaudit_spec::address::{RegionalSlot, RoleSlot};

use crate::address::{bucket_role, notification_of, regional, role, BucketRole};
use crate::retry::{retry, s3_conflict};
use crate::shared::{
    build_error, exists_ok, field, gone_ok, is_code, optional, policy_value, tag_map, text, unknown, Call,
};
use crate::{Error, ErrorKind, RegionClients};

pub(crate) fn observe<'a>(cx: &'a Reading<'a>, c: &'a RegionClients, d: &'a DesiredResource) -> Task<'a> {
    let ours = Ours {
        pipeline: cx.pipeline,
        prefixes: d
            .address
            .parse()
            .map(|a| evidence_prefixes(&Names::new(cx.spec, cx.account), &a))
            .unwrap_or_else(|_| vec![String::new()]),
    };
    match bucket_role(&d.address) {
        BucketRole::AccessLogs => Box::pin(async move { Found::settle(&d.address, read(c, &d.name, &ours).await) }),
        BucketRole::Logs => {
            let notification = notification_of(&d.address);
            let wanted = cx.desired.contains_key(notification.as_str());
            Box::pin(async move { with_notification(c, &d.address, &d.name, notification, wanted, &ours).await })
        }
    }
}

/// What tells the pipeline's settings from others' on a bucket: its name (the id of its lifecycle rule, its
/// notification entries') and the prefixes it keeps objects under (`evidence_prefixes`).
struct Ours<'a> {
    pipeline: &'a str,
    prefixes: Vec<String>,
}

/// The bucket and our notification entry on it, which can only be read once the bucket is known to be ours.
/// `wanted`: whether the spec wants a notification entry; when it does not, ours is stale (notify = "none").
async fn with_notification(
    c: &RegionClients,
    address: &str,
    name: &str,
    notification_address: String,
    wanted: bool,
    ours: &Ours<'_>,
) -> Found {
    let mut found = bucket_and_notification(c, address, name, notification_address.clone(), ours).await;
    if !wanted {
        let ours = found.resources.iter().position(|(a, _)| *a == notification_address);
        if let Some(i) = ours {
            let (_, observation) = found.resources.remove(i);
            found.neighbours.retain(|(a, _)| *a != notification_address);
            if let Observation::Present(o) = observation {
                found.stale.push(StaleResource {
                    address: notification_address,
                    kind: Kind::BucketNotification,
                    region: Some(c.region.clone()),
                    name: name.to_string(),
                    fields: o.fields,
                });
            }
        }
    }
    found
}

async fn bucket_and_notification(
    c: &RegionClients,
    address: &str,
    name: &str,
    notification_address: String,
    ours: &Ours<'_>,
) -> Found {
    match read(c, name, ours).await {
        Ok(Observation::Present(o)) if o.foreign_account => {
            let why = Observation::Unknown { reason: format!("bucket {name} belongs to another account") };
            Found {
                resources: vec![(address.into(), Observation::Present(o)), (notification_address, why)],
                ..Default::default()
            }
        }
        Ok(Observation::Absent) => Found {
            resources: vec![(address.into(), Observation::Absent), (notification_address, Observation::Absent)],
            ..Default::default()
        },
        Ok(mut observation) => {
            let (n, logging) = futures::join!(bucket_notification::read(c, name, ours.pipeline), read_logging(c, name));
            if let Observation::Present(o) = &mut observation {
                match logging {
                    Ok(logging) => {
                        o.fields.insert("logging".into(), logging);
                    }
                    Err(e) => observation = unknown(&e),
                }
            }
            let mut found = Found { resources: vec![(address.into(), observation)], ..Default::default() };
            match n {
                Ok((n, others)) => {
                    found.resources.push((notification_address.clone(), n));
                    found.neighbours.push((notification_address, others));
                }
                Err(e) => found.resources.push((notification_address, unknown(&e))),
            }
            found
        }
        Err(e) => Found {
            resources: vec![(address.into(), unknown(&e)), (notification_address, unknown(&e))],
            ..Default::default()
        },
    }
}

/// Every setting of the bucket (but its logging, read with the notification), concurrently.
async fn read(c: &RegionClients, name: &str, ours: &Ours<'_>) -> Result<Observation, Error> {
    let s3 = &c.s3;
    if let Err(err) = s3.head_bucket().bucket(name).send().await {
        // HEAD has no body: the status is all S3 says.
        let status = err.raw_response().map(|r| r.status().as_u16());
        return match status {
            Some(404) => Ok(Observation::Absent),
            Some(403) => Ok(Observation::Present(ObservedResource { foreign_account: true, ..Default::default() })),
            Some(301) => Err(Error::Call {
                operation: "s3:HeadBucket",
                target: name.to_string(),
                code: Some("PermanentRedirect".into()),
                message: format!("bucket {name} exists in another region than {}", c.region),
                kind: ErrorKind::Other,
                source: Some(Box::new(err)),
            }),
            _ => Err(Error::call("s3:HeadBucket", name, err)),
        };
    }
    let (tags, pab, ownership, encryption, policy, versioning, lifecycle) = futures::join!(
        async { optional(s3.get_bucket_tagging().bucket(name).send().call("s3:GetBucketTagging", name).await) },
        async {
            optional(s3.get_public_access_block().bucket(name).send().call("s3:GetPublicAccessBlock", name).await)
        },
        async {
            optional(
                s3.get_bucket_ownership_controls()
                    .bucket(name)
                    .send()
                    .call("s3:GetBucketOwnershipControls", name)
                    .await,
            )
        },
        async { optional(s3.get_bucket_encryption().bucket(name).send().call("s3:GetBucketEncryption", name).await) },
        async { optional(s3.get_bucket_policy().bucket(name).send().call("s3:GetBucketPolicy", name).await) },
        s3.get_bucket_versioning().bucket(name).send().call("s3:GetBucketVersioning", name),
        async {
            optional(
                s3.get_bucket_lifecycle_configuration()
                    .bucket(name)
                    .send()
                    .call("s3:GetBucketLifecycleConfiguration", name)
                    .await,
            )
        },
    );
    let mut o = ObservedResource::default();
    if let Some(t) = tags? {
        o.tags = tag_map(t.tag_set().iter().map(|t| (t.key(), t.value())));
    }
    let pab = pab?.and_then(|p| p.public_access_block_configuration).map(|p| {
        json!({
            "block_public_acls": p.block_public_acls.unwrap_or(false),
            "ignore_public_acls": p.ignore_public_acls.unwrap_or(false),
            "block_public_policy": p.block_public_policy.unwrap_or(false),
            "restrict_public_buckets": p.restrict_public_buckets.unwrap_or(false),
        })
    });
    o.fields.insert("public_access_block".into(), pab.unwrap_or(Value::Null));
    let ownership = ownership?
        .and_then(|o| o.ownership_controls)
        .and_then(|c| c.rules().first().map(|r| json!(r.object_ownership().as_str())));
    o.fields.insert("ownership".into(), ownership.unwrap_or(Value::Null));
    let encryption = encryption?.and_then(|e| e.server_side_encryption_configuration).and_then(|c| {
        c.rules().first().and_then(|rule| {
            rule.apply_server_side_encryption_by_default().map(|d| match d.sse_algorithm().as_str() {
                "AES256" => json!({"algorithm": "AES256"}),
                other => json!({
                    "algorithm": other,
                    "kms_key_id": d.kms_master_key_id(),
                    "bucket_key": rule.bucket_key_enabled().unwrap_or(false),
                }),
            })
        })
    });
    o.fields.insert("encryption".into(), encryption.unwrap_or(Value::Null));
    o.fields.insert("policy".into(), policy_value(policy?.as_ref().and_then(|p| p.policy())));
    let enabled = versioning?.status().is_some_and(|s| s.as_str() == "Enabled");
    o.fields.insert("versioning".into(), json!(if enabled { "Enabled" } else { "Disabled" }));
    let rules = lifecycle?.and_then(|l| l.rules).unwrap_or_default();
    // Ours is the rule with the pipeline's id; the others are someone's own (a transition to a colder class, an
    // expiry of another prefix): apply keeps them, and the plan weighs those that expire what the pipeline keeps.
    let (mine, others): (Vec<_>, Vec<_>) = rules.iter().partition(|r| is_ours(r, ours.pipeline));
    let lifecycle = mine.first().map(|r| {
        json!({
            "expire_current_days": r.expiration().and_then(|e| e.days()),
            "expire_noncurrent_days": r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()),
            "abort_incomplete_multipart_days": r.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()),
        })
    });
    o.fields.insert("lifecycle".into(), lifecycle.unwrap_or(Value::Null));
    let expiring: Vec<Value> = others.into_iter().filter_map(|r| expiring_rule(r, &ours.prefixes)).collect();
    if !expiring.is_empty() {
        o.fields.insert(OTHER_EXPIRING_RULES.into(), Value::Array(expiring));
    }
    // No tags and no policy: either someone else's bucket or one an interrupted apply created and never tagged.
    // Only an empty one is the latter (one more read, only in this rare case).
    if o.tags.is_empty() && o.fields.get("policy").is_none_or(Value::is_null) {
        let versions =
            s3.list_object_versions().bucket(name).max_keys(1).send().call("s3:ListObjectVersions", name).await?;
        let empty = versions.versions().is_empty() && versions.delete_markers().is_empty();
        o.fields.insert(eksaudit_plan::INTERRUPTED_CREATE.into(), json!(empty));
    }
    Ok(Observation::Present(o))
}

/// The pipeline's lifecycle rule is the one with its name as id; every other rule is someone's own.
fn is_ours(rule: &s3t::LifecycleRule, pipeline: &str) -> bool {
    rule.id() == Some(pipeline)
}

/// Another's lifecycle rule as `OTHER_EXPIRING_RULES` lists it, if it is enabled, expires objects
/// and can reach the pipeline's: its prefix (the filter's, alone or in an `And`, or the deprecated rule-level one)
/// meets one of `prefixes`, and it names no tag (Firehose and S3's log delivery write untagged objects, so a
/// rule that needs a tag never matches them). A size condition is not weighed: some of the pipeline's objects
/// may fall in it.
fn expiring_rule(rule: &s3t::LifecycleRule, prefixes: &[String]) -> Option<Value> {
    if rule.status() != &s3t::ExpirationStatus::Enabled {
        return None;
    }
    let filter = rule.filter();
    let and = filter.and_then(|f| f.and());
    if filter.is_some_and(|f| f.tag().is_some()) || and.is_some_and(|a| !a.tags().is_empty()) {
        return None;
    }
    #[allow(deprecated)]
    let prefix = filter.and_then(|f| f.prefix()).or(and.and_then(|a| a.prefix())).or(rule.prefix()).unwrap_or("");
    if !reaches(prefix, prefixes) {
        return None;
    }
    let current = rule.expiration();
    let expire_current_days = current.and_then(|e| e.days());
    let expire_date = current.and_then(|e| e.date()).map(|d| d.to_string());
    let expire_noncurrent_days = rule.noncurrent_version_expiration().and_then(|e| e.noncurrent_days());
    if expire_current_days.is_none() && expire_date.is_none() && expire_noncurrent_days.is_none() {
        return None;
    }
    Some(json!({
        "id": rule.id(),
        "expire_current_days": expire_current_days,
        "expire_noncurrent_days": expire_noncurrent_days,
        "expire_date": expire_date,
    }))
}

/// Where the bucket's server access logs go (`null` when they are off).
async fn read_logging(c: &RegionClients, name: &str) -> Result<Value, Error> {
    let out = c.s3.get_bucket_logging().bucket(name).send().call("s3:GetBucketLogging", name).await?;
    Ok(out
        .logging_enabled()
        .map_or(Value::Null, |l| json!({"target_bucket": l.target_bucket(), "target_prefix": l.target_prefix()})))
}

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let intent = !recorded_on_key(cx, c);
    if intent {
        creation_intent(cx, c, Some(&d.name)).await;
    }
    let mut create = c.s3.create_bucket().bucket(&d.name);
    if c.region != "us-east-1" {
        create = create.create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::from(c.region.as_str()))
                .build(),
        );
    }
    exists_ok(create.send().call("s3:CreateBucket", &d.name).await.map(drop))?;
    // The owner tag first: S3 cannot tag at creation, and until the tag is there the bucket is not provably
    // ours (see INTERRUPTED_CREATE for a run stopped before it).
    let mut all: Vec<String> = vec!["tags".to_string()];
    all.extend(d.fields.keys().filter(|k| *k != "tags").cloned());
    converge(cx, c, d, &all, Created::Now).await?;
    if intent {
        creation_intent(cx, c, None).await;
    }
    Ok(())
}

/// Update and replace alike: the changed settings converged in place. A bucket an interrupted apply left
/// untagged gets its owner tag first, then the creation intent goes (if the role holds one: an earlier eksaudit
/// wrote it there whatever the key).
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let interrupted = t.change.reason.as_deref().is_some_and(|r| r.starts_with(INTERRUPTED_REASON));
    let mut fields = t.changed();
    if interrupted {
        fields.sort_by_key(|f| f != "tags");
    }
    converge(cx, c, d, &fields, Created::Before).await?;
    if interrupted {
        creation_intent(cx, c, None).await;
    }
    Ok(())
}

/// Whether the pipeline's own key records the region's buckets (`eksaudit_plan::kinds::kms_key::BUCKET_TAG`): the
/// key comes before them, so creating a bucket needs no creation intent.
fn recorded_on_key(cx: &Context<'_>, c: &RegionClients) -> bool {
    cx.desired(&regional(&c.region, RegionalSlot::KmsKey)).is_some_and(|k| k.management == Management::Owned)
}

/// Writes (`Some(bucket)`) or clears (`None`) the creation intent for this region's bucket on the pipeline's
/// own Firehose role: S3 cannot tag a bucket as it creates it, and the intent is what proves an untagged
/// bucket left by an interrupted apply is ours. Best effort: without it (a reused role, a role that failed),
/// such a bucket must be adopted by hand.
async fn creation_intent(cx: &Context<'_>, c: &RegionClients, bucket: Option<&str>) {
    let Some(role) = cx.desired(role(RoleSlot::Firehose)).filter(|r| r.management == Management::Owned) else {
        return;
    };
    let key = format!("{CREATION_INTENT_TAG_PREFIX}{}", c.region);
    let iam = cx.aws.iam();
    let result = match bucket {
        Some(bucket) => match aws_sdk_iam::types::Tag::builder().key(&key).value(bucket).build() {
            Ok(tag) => {
                iam.tag_role().role_name(&role.name).tags(tag).send().call("iam:TagRole", &role.name).await.map(drop)
            }
            Err(e) => Err(build_error(e)),
        },
        None => iam
            .untag_role()
            .role_name(&role.name)
            .tag_keys(&key)
            .send()
            .call("iam:UntagRole", &role.name)
            .await
            .map(drop),
    };
    if let Err(e) = result {
        tracing::warn!(role = %role.name, "cannot record the bucket's creation intent: {e}");
    }
}

/// Writes the given settings, one at a time: S3 answers OperationAborted to concurrent configuration calls on
/// one bucket.
async fn converge(
    cx: &Context<'_>,
    c: &RegionClients,
    d: &DesiredResource,
    fields: &[String],
    created: Created,
) -> Result<(), Error> {
    let name = d.name.as_str();
    let budget = cx.budgets.s3_conflict;
    for f in fields {
        let v = field(d, f);
        match f.as_str() {
            "tags" => {
                let tags = merged_tags(c, d, name).await?;
                let set: Result<Vec<s3t::Tag>, _> =
                    tags.iter().map(|(k, v)| s3t::Tag::builder().key(k).value(v).build()).collect();
                let tagging = s3t::Tagging::builder()
                    .set_tag_set(Some(set.map_err(build_error)?))
                    .build()
                    .map_err(build_error)?;
                retry(budget, s3_conflict, || async {
                    c.s3.put_bucket_tagging()
                        .bucket(name)
                        .tagging(tagging.clone())
                        .send()
                        .call("s3:PutBucketTagging", name)
                        .await
                        .map(drop)
                })
                .await?;
            }
            "public_access_block" => {
                let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(true);
                let pab = s3t::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(b("block_public_acls"))
                    .ignore_public_acls(b("ignore_public_acls"))
                    .block_public_policy(b("block_public_policy"))
                    .restrict_public_buckets(b("restrict_public_buckets"))
                    .build();
                retry(budget, s3_conflict, || async {
                    c.s3.put_public_access_block()
                        .bucket(name)
                        .public_access_block_configuration(pab.clone())
                        .send()
                        .call("s3:PutPublicAccessBlock", name)
                        .await
                        .map(drop)
                })
                .await?;
            }
            "ownership" => {
                let rule = s3t::OwnershipControlsRule::builder()
                    .object_ownership(s3t::ObjectOwnership::from(text(v).as_str()))
                    .build()
                    .map_err(build_error)?;
                let controls = s3t::OwnershipControls::builder().rules(rule).build().map_err(build_error)?;
                retry(budget, s3_conflict, || async {
                    c.s3.put_bucket_ownership_controls()
                        .bucket(name)
                        .ownership_controls(controls.clone())
                        .send()
                        .call("s3:PutBucketOwnershipControls", name)
                        .await
                        .map(drop)
                })
                .await?;
            }
            "encryption" => {
                let algorithm = v.get("algorithm").map(text).unwrap_or_else(|| "AES256".into());
                let mut by_default = s3t::ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(s3t::ServerSideEncryption::from(algorithm.as_str()));
                if let Some(key) = v.get("kms_key_id").and_then(Value::as_str) {
                    by_default = by_default.kms_master_key_id(key);
                }
                let rule = s3t::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default.build().map_err(build_error)?)
                    .set_bucket_key_enabled(v.get("bucket_key").and_then(Value::as_bool))
                    .build();
                let config =
                    s3t::ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build_error)?;
                retry(budget, s3_conflict, || async {
                    c.s3.put_bucket_encryption()
                        .bucket(name)
                        .server_side_encryption_configuration(config.clone())
                        .send()
                        .call("s3:PutBucketEncryption", name)
                        .await
                        .map(drop)
                })
                .await?;
            }
            "policy" => {
                let doc = v.to_string();
                retry(budget, s3_conflict, || async {
                    c.s3.put_bucket_policy()
                        .bucket(name)
                        .policy(&doc)
                        .send()
                        .call("s3:PutBucketPolicy", name)
                        .await
                        .map(drop)
                })
                .await?;
            }
            "versioning" => {
                let status = if v == "Enabled" {
                    s3t::BucketVersioningStatus::Enabled
                } else {
                    s3t::BucketVersioningStatus::Suspended
                };
                let config = s3t::VersioningConfiguration::builder().status(status).build();
                retry(budget, s3_conflict, || async {
                    c.s3.put_bucket_versioning()
                        .bucket(name)
                        .versioning_configuration(config.clone())
                        .send()
                        .call("s3:PutBucketVersioning", name)
                        .await
                        .map(drop)
                })
                .await?;
            }
            "logging" => write_logging(cx, c, name, v).await?,
            "lifecycle" => {
                let days = |k: &str| v.get(k).and_then(Value::as_i64).map(|d| d as i32);
                let mut rule = s3t::LifecycleRule::builder()
                    .id(&cx.spec.pipeline.name)
                    .status(s3t::ExpirationStatus::Enabled)
                    .filter(s3t::LifecycleRuleFilter::builder().prefix("").build());
                if let Some(d) = days("expire_current_days") {
                    rule = rule.expiration(s3t::LifecycleExpiration::builder().days(d).build());
                }
                if let Some(d) = days("expire_noncurrent_days") {
                    rule = rule.noncurrent_version_expiration(
                        s3t::NoncurrentVersionExpiration::builder().noncurrent_days(d).build(),
                    );
                }
                if let Some(d) = days("abort_incomplete_multipart_days") {
                    rule = rule.abort_incomplete_multipart_upload(
                        s3t::AbortIncompleteMultipartUpload::builder().days_after_initiation(d).build(),
                    );
                }
                // S3 takes the whole configuration: the rules of others (any id but ours) are read back and kept.
                let mut rules = match created {
                    Created::Now => Vec::new(),
                    Created::Before => other_rules(c, name, &cx.spec.pipeline.name).await?,
                };
                rules.push(rule.build().map_err(build_error)?);
                let config =
                    s3t::BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().map_err(build_error)?;
                retry(budget, s3_conflict, || async {
                    c.s3.put_bucket_lifecycle_configuration()
                        .bucket(name)
                        .lifecycle_configuration(config.clone())
                        .send()
                        .call("s3:PutBucketLifecycleConfiguration", name)
                        .await
                        .map(drop)
                })
                .await?;
            }
            // Fields that are read but never written (the interrupted-create marker).
            _ => {}
        }
    }
    Ok(())
}

/// Whether the bucket was made by this very apply (nothing of anyone else's on it yet to keep) or before.
#[derive(Clone, Copy)]
enum Created {
    Now,
    Before,
}

/// The bucket's lifecycle rules but the pipeline's, as S3 holds them now.
async fn other_rules(c: &RegionClients, name: &str, pipeline: &str) -> Result<Vec<s3t::LifecycleRule>, Error> {
    let now = optional(
        c.s3.get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .call("s3:GetBucketLifecycleConfiguration", name)
            .await,
    )?;
    Ok(now.and_then(|l| l.rules).unwrap_or_default().into_iter().filter(|r| !is_ours(r, pipeline)).collect())
}

/// Server access logging into the access-log bucket (`null`: off). S3 checks the target bucket's policy,
/// which may have been set a moment ago.
async fn write_logging(cx: &Context<'_>, c: &RegionClients, name: &str, v: &Value) -> Result<(), Error> {
    let mut status = s3t::BucketLoggingStatus::builder();
    if let Some(target) = v.get("target_bucket").and_then(Value::as_str) {
        status = status.logging_enabled(
            s3t::LoggingEnabled::builder()
                .target_bucket(target)
                .target_prefix(v.get("target_prefix").map(text).unwrap_or_default())
                .build()
                .map_err(build_error)?,
        );
    }
    let status = status.build();
    retry(
        cx.budgets.iam_propagation,
        |e| is_code(e, &["OperationAborted", "InvalidTargetBucketForLogging"]),
        || async {
            c.s3.put_bucket_logging()
                .bucket(name)
                .bucket_logging_status(status.clone())
                .send()
                .call("s3:PutBucketLogging", name)
                .await
                .map(drop)
        },
    )
    .await
}

/// The bucket's tags with ours (the desired resource's: the pipeline's, and on the logs bucket the preset's) set:
/// tags others put on it stay.
async fn merged_tags(c: &RegionClients, d: &DesiredResource, name: &str) -> Result<BTreeMap<String, String>, Error> {
    let tags = optional(c.s3.get_bucket_tagging().bucket(name).send().call("s3:GetBucketTagging", name).await)?;
    let mut tags: BTreeMap<String, String> = tags
        .map(|out| out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
        .unwrap_or_default();
    let ours = field(d, "tags").as_object().into_iter().flatten();
    tags.extend(ours.map(|(k, v)| (k.clone(), text(v))));
    Ok(tags)
}

/// Empties the bucket (every version, delete marker and unfinished upload, in batches of 1000) and deletes it.
pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, name) = (t.clients()?, t.name());
    // Taken as ours because it was empty when read (an interrupted apply's): deleted only as it is, so that S3
    // refuses (BucketNotEmpty) if anything was put in it since, and nothing of anyone's is emptied out.
    if t.change.reason.as_deref() == Some(eksaudit_plan::INTERRUPTED_REASON) {
        return gone_ok(c.s3.delete_bucket().bucket(name).send().call("s3:DeleteBucket", name).await.map(drop));
    }
    loop {
        let out = match c.s3.list_object_versions().bucket(name).send().call("s3:ListObjectVersions", name).await {
            Ok(out) => out,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut ids: Vec<s3t::ObjectIdentifier> = Vec::new();
        for v in out.versions() {
            ids.push(
                s3t::ObjectIdentifier::builder()
                    .key(v.key().unwrap_or_default())
                    .set_version_id(v.version_id().map(str::to_string))
                    .build()
                    .map_err(build_error)?,
            );
        }
        for m in out.delete_markers() {
            ids.push(
                s3t::ObjectIdentifier::builder()
                    .key(m.key().unwrap_or_default())
                    .set_version_id(m.version_id().map(str::to_string))
                    .build()
                    .map_err(build_error)?,
            );
        }
        if ids.is_empty() {
            break;
        }
        for batch in ids.chunks(1000) {
            let delete =
                s3t::Delete::builder().set_objects(Some(batch.to_vec())).quiet(true).build().map_err(build_error)?;
            let out = c.s3.delete_objects().bucket(name).delete(delete).send().call("s3:DeleteObjects", name).await?;
            // S3 answers 200 with the keys it could not delete: listing again would find them forever.
            if let Some(e) = out.errors().first() {
                return Err(Error::Failed {
                    what: format!(
                        "s3:DeleteObjects on {name} could not delete {} object(s), e.g. {:?}: {} {}",
                        out.errors().len(),
                        e.key().unwrap_or_default(),
                        e.code().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    ),
                });
            }
        }
    }
    // ListMultipartUploads answers at most 1,000 uploads a page; the next page starts after the last key and
    // upload id (the SDK has no paginator for it). An upload left behind would keep DeleteBucket failing.
    let (mut key_marker, mut upload_id_marker) = (None::<String>, None::<String>);
    loop {
        let page =
            c.s3.list_multipart_uploads()
                .bucket(name)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_id_marker.take())
                .send()
                .call("s3:ListMultipartUploads", name)
                .await?;
        for u in page.uploads() {
            if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
                gone_ok(
                    c.s3.abort_multipart_upload()
                        .bucket(name)
                        .key(key)
                        .upload_id(id)
                        .send()
                        .call("s3:AbortMultipartUpload", name)
                        .await
                        .map(drop),
                )?;
            }
        }
        if !page.is_truncated().unwrap_or(false) || page.next_key_marker().is_none() {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        upload_id_marker = page.next_upload_id_marker().map(str::to_string);
    }
    gone_ok(c.s3.delete_bucket().bucket(name).send().call("s3:DeleteBucket", name).await.map(drop))
}
