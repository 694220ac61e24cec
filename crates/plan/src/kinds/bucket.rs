//! S3 buckets: each region's bucket the logs land in, and (`access_logging`, the default) the access-log bucket
//! its server access logs go to. Both hardened alike: no public access, no ACLs, encryption, TLS only,
//! versioning, expiry.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, RegionalSlot, Spec};
use serde_json::{json, Value};

use super::Registration;
use crate::document::{deny_insecure_transport, policy_document, resource, service_grant};
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_also, Operation};

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
