//! The pipeline's KMS key in each region (`encryption = "sse-kms"` without a `kms_key_arn`), found by its alias:
//! it encrypts the bucket and the topics; its policy names who may use it, for what, through which service.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, Notify, RegionalSlot, RoleKind};
use serde_json::{json, Value};

use super::Registration;
use crate::document::{policy_document, resource, service_grant};
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, Operation};

/// The operations the account's administrators keep on the pipeline's key (no `kms:*`: nothing that encrypts
/// or decrypts data).
pub const KMS_KEY_ADMIN_ACTIONS: &[&str] = &[
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
];

/// What a service needs of a key to write what it encrypts and read it back.
pub(crate) const KMS_DATA_KEY_ACTIONS: [&str; 2] = ["kms:Decrypt", "kms:GenerateDataKey"];

/// The region's buckets, recorded on its key as tags (`BUCKET_TAG` = the bucket, `ACCESS_LOG_BUCKET_TAG` = its
/// access-log bucket). S3 cannot tag a bucket as it creates it; the key, made before the buckets, is what proves
/// an untagged empty bucket of that name (an apply stopped between CreateBucket and PutBucketTagging) is the
/// pipeline's. The record is part of the key's tags from its CreateKey on, so a bucket's creation costs no extra
/// call; without a key of its own the pipeline writes a creation intent on its Firehose role instead, one IAM
/// write before and one after (IAM's writes are the account's, shared by every region).
pub const BUCKET_TAG: &str = "eksaudit:bucket";
pub const ACCESS_LOG_BUCKET_TAG: &str = "eksaudit:access-log-bucket";

fn bucket_records(n: &Names<'_>, region: &str) -> BTreeMap<String, String> {
    let mut records = BTreeMap::from([(BUCKET_TAG.to_string(), n.bucket(region))]);
    if n.spec.bucket.access_logging {
        records.insert(ACCESS_LOG_BUCKET_TAG.to_string(), n.access_log_bucket(region));
    }
    records
}

pub fn desired(n: &Names<'_>, region: &str) -> Option<DesiredResource> {
    let mut tags = n.spec.resource_tags();
    tags.extend(bucket_records(n, region));
    n.spec.bucket.owns_key().then(|| {
        resource(
            Address::regional(region, RegionalSlot::KmsKey).to_string(),
            Kind::KmsKey,
            Some(region),
            n.spec.kms_alias(),
            BTreeMap::from([
                ("policy".into(), Field::policy(key_policy(n, region))),
                ("rotation".into(), Field::exact(json!(true))),
                ("state".into(), Field::exact(json!("Enabled"))),
                ("tags".into(), Field::tags(&tags)),
            ]),
        )
    })
}

/// The key policy of the pipeline's key in a region: the account administers it; the Firehose role encrypts
/// through S3; S3 (and SNS, when the pipeline notifies through a topic) use it for this account's bucket and topic
/// only; the alert function publishes through SNS; the reader decrypts through S3. Nothing else.
fn key_policy(n: &Names<'_>, region: &str) -> Value {
    let via_s3 = json!({"StringEquals": {"kms:ViaService": format!("s3.{region}.amazonaws.com")}});
    // A key policy applies to its own key only: AWS writes that "*"; the ARN pattern of the region's keys says the
    // same and names the resource type (as linters ask).
    let this_key = n.kms_keys_arn(region);
    let mut statements = vec![
        json!({
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": n.account_root()},
            "Action": KMS_KEY_ADMIN_ACTIONS,
            // The alias actions are also authorised on the alias (linters look for its ARN).
            "Resource": [&this_key, n.kms_alias_arn(region)]
        }),
        json!({
            "Sid": "FirehoseWritesObjects",
            "Effect": "Allow",
            "Principal": {"AWS": n.role_arn(RoleKind::Firehose)},
            "Action": KMS_DATA_KEY_ACTIONS,
            "Resource": this_key,
            "Condition": via_s3
        }),
        service_grant(
            "S3Service",
            "s3.amazonaws.com",
            json!(KMS_DATA_KEY_ACTIONS),
            json!(this_key),
            &n.bucket_arn(region),
            n.account,
        ),
    ];
    if n.spec.consumer.notify == Notify::Sns {
        statements.push(service_grant(
            "SnsService",
            "sns.amazonaws.com",
            json!(KMS_DATA_KEY_ACTIONS),
            json!(this_key),
            &n.topic_arn(region),
            n.account,
        ));
    }
    // The alerts function publishes to the alerts topic, which the key encrypts (a topic brought along is not ours).
    if n.spec.alerts.as_ref().is_some_and(|a| a.topic_arn.is_none()) {
        statements.push(json!({
            "Sid": "AlertsFunctionPublishes",
            "Effect": "Allow",
            "Principal": {"AWS": n.alerts_role_arn()},
            "Action": KMS_DATA_KEY_ACTIONS,
            "Resource": this_key,
            "Condition": {"StringEquals": {"kms:ViaService": format!("sns.{region}.amazonaws.com")}}
        }));
    }
    // The alert function's dead-letter queue: Lambda sends to it as the function's role, and the account's
    // principals (an operator replaying the failed alerts, as IAM allows it) read it, through SQS and for that
    // queue only (SQS binds each use to the queue through the `aws:sqs:arn` encryption context).
    if n.spec.alerts.is_some() {
        let this_queue = json!({
            "StringEquals": {
                "kms:ViaService": format!("sqs.{region}.amazonaws.com"),
                "kms:EncryptionContext:aws:sqs:arn": n.alerts_dead_letter_queue_arn(region)
            }
        });
        statements.push(json!({
            "Sid": "AlertsFunctionSendsFailedAlerts",
            "Effect": "Allow",
            "Principal": {"AWS": n.alerts_role_arn()},
            "Action": KMS_DATA_KEY_ACTIONS,
            "Resource": this_key,
            "Condition": this_queue
        }));
        statements.push(json!({
            "Sid": "AccountReadsFailedAlerts",
            "Effect": "Allow",
            "Principal": {"AWS": n.account_root()},
            "Action": ["kms:Decrypt"],
            "Resource": this_key,
            "Condition": this_queue
        }));
    }
    if n.spec.bucket.encrypt_log_groups {
        statements.push(logs_statement(n, region, &this_key));
        // The alert function's environment: the account's principals (the operator, as IAM allows it) may have
        // Lambda encrypt it, grant Lambda its use, and read it back, through Lambda only.
        if n.spec.alerts.is_some() {
            statements.push(json!({
                "Sid": "LambdaEncryptsFunctionEnvironment",
                "Effect": "Allow",
                "Principal": {"AWS": n.account_root()},
                "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:Encrypt"],
                "Resource": this_key,
                "Condition": {"StringEquals": {"kms:ViaService": format!("lambda.{region}.amazonaws.com")}}
            }));
        }
    }
    statements.push(json!({
        "Sid": "ReaderReadsObjects",
        "Effect": "Allow",
        "Principal": {"AWS": n.role_arn(RoleKind::Reader)},
        "Action": ["kms:Decrypt"],
        "Resource": this_key,
        "Condition": via_s3
    }));
    policy_document(statements)
}

/// What CloudWatch Logs does with the key of an encrypted log group (AWS's key policy for it, the wildcards
/// spelled out). Not `kms:DescribeKey`, which AWS's example lists under the same condition: DescribeKey carries no
/// encryption context, so the condition never lets it through.
pub const LOGS_KEY_ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
];

/// CloudWatch Logs in the key's region may use it for this account's log groups of that region only: AWS binds
/// each use to the log group through the `kms:EncryptionContext:aws:logs:arn` encryption context. (AWS writes
/// `ArnLike`; the encryption context's keys are strings, so `StringLike`, which matches the same ARNs.)
fn logs_statement(n: &Names<'_>, region: &str, this_key: &str) -> Value {
    json!({
        "Sid": "LogsEncryptsLogGroups",
        "Effect": "Allow",
        "Principal": {"Service": format!("logs.{region}.amazonaws.com")},
        "Action": LOGS_KEY_ACTIONS,
        "Resource": this_key,
        "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": n.log_group_arn(region, "*")}}
    })
}

pub const OPERATIONS: &[Operation] = &[
    op("kms", "DescribeKey", "kms:DescribeKey"),
    op("kms", "GetKeyPolicy", "kms:GetKeyPolicy"),
    op("kms", "GetKeyRotationStatus", "kms:GetKeyRotationStatus"),
    op("kms", "ListResourceTags", "kms:ListResourceTags"),
    // Its tags need kms:TagResource on the new key (ManagePipelineKeys grants it on the region's keys).
    op("kms", "CreateKey", "kms:CreateKey"),
    op("kms", "ListKeys", "kms:ListKeys"),
    op("kms", "ListAliases", "kms:ListAliases"),
    op("kms", "CreateAlias", "kms:CreateAlias"),
    op("kms", "EnableKeyRotation", "kms:EnableKeyRotation"),
    op("kms", "PutKeyPolicy", "kms:PutKeyPolicy"),
    op("kms", "TagResource", "kms:TagResource"),
    op("kms", "CancelKeyDeletion", "kms:CancelKeyDeletion"),
    op("kms", "EnableKey", "kms:EnableKey"),
    op("kms", "ScheduleKeyDeletion", "kms:ScheduleKeyDeletion"),
];

/// The key policy names the roles (the alert function's too).
pub const KIND: Registration = Registration { kind: Kind::KmsKey, depends_on: &[Kind::Role], operations: OPERATIONS };
