//! S3 buckets: each region's bucket the logs land in, and (`access_logging`, the default) the access-log bucket
//! its server access logs go to. Both hardened alike: no public access, no ACLs, encryption, TLS only,
//! versioning, expiry.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, RegionalSlot, Spec};
use serde_json::{json, Value};

use super::Registration;
use crate::document::{deny_insecure_transport, policy_document, resource, service_grant};
use crate::model::{DesiredResource, Field, Kind, ObservedResource};
use crate::names::Names;
use crate::operation::{op, op_also, Operation};
use crate::report::Message;

/// Incomplete multipart uploads are aborted after this many days.
pub const ABORT_MULTIPART_DAYS: u32 = 7;
/// Where in the access-log bucket S3 writes a bucket's server access logs.
pub const ACCESS_LOG_PREFIX: &str = "s3-access-logs/";

/// The region's access-log bucket (when on) and its bucket, in that order.
pub fn desired(n: &Names<'_>, region: &str) -> Vec<DesiredResource> {
    let mut out = Vec::new();
    if n.spec.bucket.access_logging {
        out.push(resource(
            Address::regional(region, RegionalSlot::AccessLogBucket).to_string(),
            Kind::Bucket,
            Some(region),
            n.access_log_bucket(region),
            access_log_bucket_fields(n, region),
        ));
    }
    out.push(resource(
        Address::regional(region, RegionalSlot::Bucket).to_string(),
        Kind::Bucket,
        Some(region),
        n.bucket(region),
        bucket_fields(n, region),
    ));
    out
}

fn lifecycle(spec: &Spec) -> Value {
    let days = spec.bucket.retention_days;
    json!({
        "expire_current_days": (days > 0).then_some(days),
        "expire_noncurrent_days": (days > 0).then_some(days),
        "abort_incomplete_multipart_days": ABORT_MULTIPART_DAYS,
    })
}

/// An observed-only field of a bucket: the lifecycle rules of others (any id but the pipeline's) that expire
/// objects where the pipeline keeps them (`reaches`), each `{"id", "expire_current_days",
/// "expire_noncurrent_days", "expire_date"}`. Apply keeps them (they are not ours); the plan warns about the ones
/// that delete evidence before `retention_days` (`early_expiry`).
pub const OTHER_EXPIRING_RULES: &str = "other_expiring_rules";

/// Where a bucket holds what the pipeline keeps: the stream's objects and its failed records in the logs bucket,
/// the server access logs in the access-log bucket.
pub fn evidence_prefixes(n: &Names<'_>, address: &Address) -> Vec<String> {
    if matches!(address, Address::Regional { slot: RegionalSlot::AccessLogBucket, .. }) {
        vec![ACCESS_LOG_PREFIX.to_string()]
    } else {
        vec![n.prefix(), n.error_prefix()]
    }
}

/// Whether a lifecycle rule filtered on `rule_prefix` can expire objects under one of `prefixes`: the rule's
/// prefix is the start of theirs (it covers them all), or theirs is the start of the rule's (it covers some).
pub fn reaches(rule_prefix: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| p.starts_with(rule_prefix) || rule_prefix.starts_with(p.as_str()))
}

/// The other rules (`OTHER_EXPIRING_RULES`) that expire the pipeline's objects sooner than the pipeline's own rule
/// keeps them, as warnings a drift check reports (apply leaves them: they are someone else's): a day count below
/// ours, any expiry when ours keeps objects for ever (`retention_days = 0`), and any expiry on a fixed date.
pub fn early_expiry(d: &DesiredResource, o: &ObservedResource) -> Vec<Message> {
    let ours = d.fields.get("lifecycle").map(|f| &f.value);
    let keep = |key: &str| ours.and_then(|v| v.get(key)).and_then(Value::as_i64);
    let rules = o.fields.get(OTHER_EXPIRING_RULES).and_then(Value::as_array).into_iter().flatten();
    let mut out = Vec::new();
    for rule in rules {
        let id = rule.get("id").and_then(Value::as_str).unwrap_or("(no id)");
        let sooner = |key: &str, kept: Option<i64>| {
            let days = rule.get(key).and_then(Value::as_i64)?;
            kept.is_none_or(|kept| days < kept).then_some(days)
        };
        let what = if let Some(date) = rule.get("expire_date").and_then(Value::as_str) {
            format!("expires the pipeline's objects on {date}")
        } else if let Some(days) = sooner("expire_current_days", keep("expire_current_days")) {
            format!("expires the pipeline's objects after {days} days")
        } else if let Some(days) = sooner("expire_noncurrent_days", keep("expire_noncurrent_days")) {
            format!("removes the pipeline's overwritten or deleted object versions after {days} days")
        } else {
            continue;
        };
        let kept = match keep("expire_current_days") {
            Some(days) => format!("sooner than the {days} days [bucket] retention_days keeps them"),
            None => "while [bucket] retention_days = 0 keeps them for ever".to_string(),
        };
        out.push(Message::new(
            &d.address,
            format!("lifecycle rule {id:?} of bucket {} {what}, {kept}", d.name),
            format!(
                "audit logs would be deleted early: give rule {id:?} a longer expiry or a filter that leaves out the \
                 pipeline's prefixes; eksaudit keeps lifecycle rules it did not write"
            ),
        ));
    }
    out
}

fn tls_only(arn: &str) -> Value {
    deny_insecure_transport("s3:*", json!([arn, format!("{arn}/*")]))
}

fn bucket_fields(n: &Names<'_>, region: &str) -> BTreeMap<String, Field> {
    let spec = n.spec;
    let encryption = match n.kms_key(region) {
        Some(key) => json!({"algorithm": "aws:kms", "kms_key_id": key, "bucket_key": true}),
        None => json!({"algorithm": "AES256"}),
    };
    let policy = policy_document(vec![tls_only(&n.bucket_arn(region))]);
    let logging = spec
        .bucket
        .access_logging
        .then(|| json!({"target_bucket": n.access_log_bucket(region), "target_prefix": ACCESS_LOG_PREFIX}));
    // The preset's tags its platform finds the bucket by (RAD's `ksoc-data-type`), on this bucket only.
    let mut fields = hardened_fields(spec, encryption, lifecycle(spec), policy, &spec.bucket_tags());
    fields.insert("logging".into(), Field::exact(logging.unwrap_or(Value::Null)));
    fields
}

/// What every bucket of the pipeline has: no public access, no ACLs, encryption, a policy, versioning, expiry.
fn hardened_fields(
    spec: &Spec,
    encryption: Value,
    lifecycle: Value,
    policy: Value,
    tags: &BTreeMap<String, String>,
) -> BTreeMap<String, Field> {
    BTreeMap::from([
        (
            "public_access_block".into(),
            Field::exact(
                json!({"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true}),
            ),
        ),
        ("ownership".into(), Field::exact(json!("BucketOwnerEnforced"))),
        ("encryption".into(), Field::exact(encryption)),
        ("policy".into(), Field::policy(policy)),
        ("versioning".into(), Field::exact(json!(if spec.bucket.versioning { "Enabled" } else { "Disabled" }))),
        ("lifecycle".into(), Field::exact(lifecycle)),
        ("tags".into(), Field::tags(tags)),
    ])
}

/// The policy of the access-log bucket: nothing over plain HTTP; only S3's logging service may write, only the
/// logs of this region's bucket, only from this account. (Statement order means nothing to S3.)
fn access_log_bucket_policy(n: &Names<'_>, region: &str) -> Value {
    let arn = n.access_log_bucket_arn(region);
    policy_document(vec![
        tls_only(&arn),
        service_grant(
            "S3ServerAccessLogs",
            "logging.s3.amazonaws.com",
            json!(["s3:PutObject"]),
            json!(format!("{arn}/{ACCESS_LOG_PREFIX}*")),
            &n.bucket_arn(region),
            n.account,
        ),
    ])
}

/// The access-log bucket: hardened like the pipeline's bucket, but SSE-S3 (S3 delivers server access logs only
/// into buckets with S3-managed keys) and not logged itself.
fn access_log_bucket_fields(n: &Names<'_>, region: &str) -> BTreeMap<String, Field> {
    hardened_fields(
        n.spec,
        json!({"algorithm": "AES256"}),
        lifecycle(n.spec),
        access_log_bucket_policy(n, region),
        &n.spec.resource_tags(),
    )
}

pub const OPERATIONS: &[Operation] = &[
    op("s3", "HeadBucket", "s3:ListBucket"),
    op("s3", "GetBucketTagging", "s3:GetBucketTagging"),
    op("s3", "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    op("s3", "GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
    op("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    op("s3", "GetBucketPolicy", "s3:GetBucketPolicy"),
    op("s3", "GetBucketVersioning", "s3:GetBucketVersioning"),
    op("s3", "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    op("s3", "GetBucketLogging", "s3:GetBucketLogging"),
    op("s3", "CreateBucket", "s3:CreateBucket"),
    op("s3", "PutBucketTagging", "s3:PutBucketTagging"),
    op("s3", "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    op("s3", "PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
    op("s3", "PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    op("s3", "PutBucketPolicy", "s3:PutBucketPolicy"),
    op("s3", "PutBucketVersioning", "s3:PutBucketVersioning"),
    op("s3", "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
    op("s3", "PutBucketLogging", "s3:PutBucketLogging"),
    op("s3", "ListObjectVersions", "s3:ListBucketVersions"),
    // Every key is deleted by version id.
    op_also("s3", "DeleteObjects", "s3:DeleteObject", &["s3:DeleteObjectVersion"]),
    op("s3", "ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    op("s3", "AbortMultipartUpload", "s3:AbortMultipartUpload"),
    op("s3", "DeleteBucket", "s3:DeleteBucket"),
];

/// Encrypted with the pipeline's key (the access-log bucket it logs into is of the same kind).
pub const KIND: Registration =
    Registration { kind: Kind::Bucket, depends_on: &[Kind::KmsKey, Kind::Role], operations: OPERATIONS };
