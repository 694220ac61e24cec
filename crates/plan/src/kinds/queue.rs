//! SQS queues (`notify = "sqs"`, Sentinel's): each region's queue S3 sends new objects to, and its dead-letter
//! queue for what the consumer failed to process; and with `[alerts]` the alert function's dead-letter queue,
//! where Lambda puts an alert it could not publish after its retries (instead of dropping it).

use std::collections::BTreeMap;

use eksaudit_spec::{Address, Notify, RegionalSlot, RoleKind};
use serde_json::{json, Value};

use super::Registration;
use crate::document::{deny_insecure_transport, policy_document, resource, service_grant};
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_also, Operation};

/// How long the notification queue keeps a message the consumer has not read (SQS's default: 4 days).
pub const QUEUE_RETENTION_SECONDS: u32 = 345_600;
/// How long the dead-letter queue keeps what the consumer failed to process (SQS's maximum: 14 days).
pub const DEAD_LETTER_RETENTION_SECONDS: u32 = 1_209_600;
/// Receives of one message before SQS moves it to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// The region's dead-letter queue and queue, in that order (when the spec notifies through SQS).
pub fn desired(n: &Names<'_>, region: &str) -> Vec<DesiredResource> {
    if n.spec.consumer.notify != Notify::Sqs {
        return Vec::new();
    }
    vec![
        resource(
            Address::regional(region, RegionalSlot::DeadLetterQueue).to_string(),
            Kind::Queue,
            Some(region),
            n.spec.dead_letter_queue_name(),
            queue_fields(n, region, true),
        ),
        resource(
            Address::regional(region, RegionalSlot::Queue).to_string(),
            Kind::Queue,
            Some(region),
            n.spec.queue_name(),
            queue_fields(n, region, false),
        ),
    ]
}

/// `[alerts]`: the alert function's dead-letter queue in a region. Encrypted with the pipeline's key when there is
/// one (the function's role may use it for this queue only, through SQS: `kms_key::key_policy`), SQS's own key
/// otherwise; kept 14 days (SQS's maximum), so a failed alert waits long enough for `drift` or `status` to report
/// it. Lambda sends to it as the function's role (an identity grant, `role::alerts`): the queue policy only
/// refuses plain HTTP.
pub fn alerts_dead_letter(n: &Names<'_>, region: &str) -> DesiredResource {
    let mut fields = BTreeMap::from([
        ("message_retention_seconds".to_string(), Field::exact(json!(DEAD_LETTER_RETENTION_SECONDS))),
        ("policy".into(), Field::policy(policy_document(vec![tls_only(&n.alerts_dead_letter_queue_arn(region))]))),
        ("tags".into(), Field::tags(&n.spec.resource_tags())),
    ]);
    match alerts_dead_letter_key(n, region) {
        Some(key) => {
            fields.insert("encryption".into(), Field::exact(json!("SSE-KMS")));
            fields.insert("kms_key".into(), Field::exact(json!(key)));
        }
        None => {
            fields.insert("encryption".into(), Field::exact(json!("SSE-SQS")));
            // No key of the pipeline's on it: a move back from the pipeline's key shows the key going.
            fields.insert("kms_key".into(), Field::exact(Value::Null));
        }
    }
    resource(
        Address::regional(region, RegionalSlot::AlertsDeadLetterQueue).to_string(),
        Kind::Queue,
        Some(region),
        n.spec.alerts_dead_letter_queue_name(),
        fields,
    )
}

/// The key of the alert function's dead-letter queue: the pipeline's own, by its alias ARN (SQS keeps and returns
/// the `KmsMasterKeyId` as given), when the pipeline has one.
pub fn alerts_dead_letter_key(n: &Names<'_>, region: &str) -> Option<String> {
    n.spec.bucket.owns_key().then(|| n.kms_alias_arn(region))
}

fn tls_only(queue: &str) -> Value {
    deny_insecure_transport("SQS:*", json!(queue))
}

/// S3 may send the bucket's events (only that bucket's, only from this account); the reader consumes them.
fn queue_policy(n: &Names<'_>, region: &str) -> Value {
    let queue = n.queue_arn(region);
    policy_document(vec![
        service_grant(
            "S3SendMessage",
            "s3.amazonaws.com",
            json!("SQS:SendMessage"),
            json!(queue),
            &n.bucket_arn(region),
            n.account,
        ),
        json!({
            "Sid": "ReaderConsume",
            "Effect": "Allow",
            "Principal": {"AWS": n.role_arn(RoleKind::Reader)},
            "Action": ["SQS:ChangeMessageVisibility", "SQS:DeleteMessage", "SQS:GetQueueAttributes", "SQS:GetQueueUrl", "SQS:ReceiveMessage"],
            "Resource": queue
        }),
        tls_only(&queue),
    ])
}

fn queue_fields(n: &Names<'_>, region: &str, dead_letter: bool) -> BTreeMap<String, Field> {
    let mut fields = BTreeMap::from([
        // SQS-managed keys: S3 can send to the queue without a key policy of the user's.
        ("encryption".to_string(), Field::exact(json!("SSE-SQS"))),
        ("tags".to_string(), Field::tags(&n.spec.resource_tags())),
    ]);
    if dead_letter {
        fields.insert("message_retention_seconds".into(), Field::exact(json!(DEAD_LETTER_RETENTION_SECONDS)));
        fields
            .insert("policy".into(), Field::policy(policy_document(vec![tls_only(&n.dead_letter_queue_arn(region))])));
    } else {
        fields.insert("message_retention_seconds".into(), Field::exact(json!(QUEUE_RETENTION_SECONDS)));
        fields.insert("policy".into(), Field::policy(queue_policy(n, region)));
        fields.insert(
            "redrive_policy".into(),
            Field::exact(json!({"dead_letter_target_arn": n.dead_letter_queue_arn(region), "max_receive_count": MAX_RECEIVE_COUNT})),
        );
    }
    fields
}

pub const OPERATIONS: &[Operation] = &[
    op("sqs", "GetQueueUrl", "sqs:GetQueueUrl"),
    op("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes"),
    op("sqs", "ListQueueTags", "sqs:ListQueueTags"),
    // Tags on create need sqs:TagQueue too.
    op_also("sqs", "CreateQueue", "sqs:CreateQueue", &["sqs:TagQueue"]),
    op("sqs", "SetQueueAttributes", "sqs:SetQueueAttributes"),
    op("sqs", "TagQueue", "sqs:TagQueue"),
    op("sqs", "DeleteQueue", "sqs:DeleteQueue"),
];

/// The queue's policy names the reader role (its redrive policy the dead-letter queue, of the same kind); the
/// alert function's dead-letter queue is encrypted with the pipeline's key.
pub const KIND: Registration =
    Registration { kind: Kind::Queue, depends_on: &[Kind::Role, Kind::KmsKey], operations: OPERATIONS };
