//! The desired state: every resource the spec implies, with the hardened values eksaudit sets, computed by pure
//! code from the spec, the account and the clusters that exist.

use std::collections::BTreeMap;

use eksaudit_spec::{log_group_name, partition, Encryption, ExternalId, Notify, Reader, RoleKind, Spec};
use serde_json::{json, Value};

use crate::model::{DesiredResource, Field, Kind, Management};
use crate::report::Message;

/// The subscription filter's and notification entry's identity, and the inline policy's name, are the pipeline
/// name; this is the Firehose log stream for delivery errors.
pub const FIREHOSE_ERROR_LOG_STREAM: &str = "DestinationDelivery";
/// Incomplete multipart uploads are aborted after this many days.
pub const ABORT_MULTIPART_DAYS: u32 = 7;
/// The Firehose stream's encryption status once it is encrypted at rest.
pub const STREAM_ENCRYPTION_ENABLED: &str = "ENABLED";
/// Stands for the random part of a generated external id until the reader role exists; apply generates it once
/// and every later run reads it back from the role's trust policy (live AWS is the state).
pub const GENERATED: &str = "<generated>";
/// How long the notification queue keeps a message the consumer has not read (SQS's default: 4 days).
pub const QUEUE_RETENTION_SECONDS: u32 = 345_600;
/// How long the dead-letter queue keeps what the consumer failed to process (SQS's maximum: 14 days).
pub const DEAD_LETTER_RETENTION_SECONDS: u32 = 1_209_600;
/// Receives of one message before SQS moves it to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// The address of the IAM OIDC provider a web-identity reader (Sentinel) is trusted through, per Azure cloud:
/// `oidc_provider.commercial`.
pub fn oidc_provider_address(cloud: &str) -> String {
    format!("oidc_provider.{cloud}")
}
/// Where a reader role left under another preset's name (Sentinel's `OIDC_` prefix) shows in a plan.
pub const FORMER_READER_ROLE: &str = "role.former_reader";

/// Everything the desired state is computed from.
pub struct Inputs<'a> {
    pub spec: &'a Spec,
    pub account: &'a str,
    /// The clusters that exist, per region (from eks:ListClusters).
    pub clusters: &'a BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DesiredState {
    pub resources: Vec<DesiredResource>,
    /// The clusters each region's selectors matched.
    pub matched_clusters: BTreeMap<String, Vec<String>>,
    pub errors: Vec<Message>,
    pub warnings: Vec<Message>,
}

/// Names and ARNs derived once from the spec and account.
struct Names<'a> {
    spec: &'a Spec,
    account: &'a str,
    partition: &'static str,
}

impl Names<'_> {
    fn role_arn(&self, kind: RoleKind) -> String {
        let reused = match kind {
            RoleKind::Firehose => &self.spec.iam.firehose_role_arn,
            RoleKind::Cloudwatch => &self.spec.iam.cloudwatch_role_arn,
            RoleKind::Reader => &self.spec.iam.reader_role_arn,
        };
        reused.clone().unwrap_or_else(|| {
            format!("arn:{}:iam::{}:role/{}", self.partition, self.account, self.spec.role_name(kind))
        })
    }
    fn bucket(&self, region: &str) -> String {
        self.spec.bucket_name(self.account, region)
    }
    fn bucket_arn(&self, region: &str) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.bucket(region))
    }
    fn access_log_bucket(&self, region: &str) -> String {
        self.spec.access_log_bucket_name(self.account, region)
    }
    fn access_log_bucket_arn(&self, region: &str) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.access_log_bucket(region))
    }
    /// The key the bucket and topic are encrypted with: the one `kms_key_arn` brings, else the pipeline's own
    /// (by its alias, known before the key exists); `None` with `encryption = "sse-s3"`.
    fn kms_key(&self, region: &str) -> Option<String> {
        match (&self.spec.bucket.encryption, &self.spec.bucket.kms_key_arn) {
            (Encryption::SseS3, _) => None,
            (Encryption::SseKms, Some(key)) => Some(key.clone()),
            (Encryption::SseKms, None) => {
                Some(format!("arn:{}:kms:{region}:{}:{}", self.partition, self.account, self.spec.kms_alias()))
            }
        }
    }
    fn topic_arn(&self, region: &str) -> String {
        format!("arn:{}:sns:{region}:{}:{}", self.partition, self.account, self.spec.topic_name())
    }
    fn stream_arn(&self, region: &str) -> String {
        format!("arn:{}:firehose:{region}:{}:deliverystream/{}", self.partition, self.account, self.spec.stream_name())
    }
    fn firehose_log_group(&self) -> String {
        format!("/aws/kinesisfirehose/{}", self.spec.stream_name())
    }
    fn firehose_log_group_arn(&self, region: &str) -> String {
        format!("arn:{}:logs:{region}:{}:log-group:{}:*", self.partition, self.account, self.firehose_log_group())
    }
    fn queue_arn(&self, region: &str) -> String {
        format!("arn:{}:sqs:{region}:{}:{}", self.partition, self.account, self.spec.queue_name())
    }
    fn dead_letter_queue_arn(&self, region: &str) -> String {
        format!("arn:{}:sqs:{region}:{}:{}", self.partition, self.account, self.spec.dead_letter_queue_name())
    }
    fn oidc_provider_arn(&self, issuer: &str) -> String {
        format!("arn:{}:iam::{}:oidc-provider/{issuer}", self.partition, self.account)
    }
    /// The AWS principal a reader trusted through AWS is assumed by; `None` for a web-identity reader.
    fn consumer_principal(&self) -> Option<String> {
        self.spec.consumer.aws().map(|a| {
            a.principal_arn.clone().unwrap_or_else(|| format!("arn:{}:iam::{}:root", self.partition, a.account_id))
        })
    }
    fn regions(&self) -> impl Iterator<Item = &str> {
        self.spec.regions.iter().map(|r| r.name.as_str())
    }
}

fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})
}

/// Limits a KMS statement to use through S3 in the spec's regions (AWS's `kms:ViaService`).
fn via_s3(mut statement: Value, n: &Names<'_>) -> Value {
    let services: Vec<String> = n.regions().map(|r| format!("s3.{r}.amazonaws.com")).collect();
    statement["Condition"] = json!({"StringEquals": {"kms:ViaService": services}});
    statement
}

fn policy_document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What each role must be allowed to do: the inline policy of an owned role, the check of a reused one.
pub fn role_statements(spec: &Spec, account: &str, kind: RoleKind) -> Vec<Value> {
    let partition = spec.regions.first().map_or("aws", |r| partition(&r.name));
    let n = Names { spec, account, partition };
    // The pipeline's own key grants the roles in its key policy; a key brought along is granted here.
    let kms = spec.bucket.kms_key_arn.clone().filter(|_| spec.bucket.encryption == Encryption::SseKms);
    match kind {
        RoleKind::Firehose => {
            let buckets: Vec<String> = n.regions().map(|r| n.bucket_arn(r)).collect();
            let objects: Vec<String> = n
                .regions()
                .flat_map(|r| {
                    [
                        format!("{}/{}*", n.bucket_arn(r), spec.firehose.prefix),
                        format!("{}/{}*", n.bucket_arn(r), spec.firehose.error_prefix),
                    ]
                })
                .collect();
            let mut s = vec![
                allow(
                    "ListBuckets",
                    &["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    buckets,
                ),
                allow("WriteObjects", &["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], objects),
                allow(
                    "LogDeliveryErrors",
                    &["logs:PutLogEvents"],
                    n.regions().map(|r| n.firehose_log_group_arn(r)).collect(),
                ),
            ];
            if let Some(key) = kms {
                s.push(via_s3(allow("EncryptObjects", &KMS_DATA_KEY_ACTIONS, vec![key]), &n));
            }
            s
        }
        RoleKind::Cloudwatch => {
            vec![allow(
                "PutRecords",
                &["firehose:PutRecord", "firehose:PutRecordBatch"],
                n.regions().map(|r| n.stream_arn(r)).collect(),
            )]
        }
        RoleKind::Reader => {
            let mut s = vec![
                allow(
                    "ListBuckets",
                    &["s3:GetBucketLocation", "s3:ListBucket"],
                    n.regions().map(|r| n.bucket_arn(r)).collect(),
                ),
                allow(
                    "ReadObjects",
                    &["s3:GetObject"],
                    n.regions().map(|r| format!("{}/{}*", n.bucket_arn(r), spec.firehose.prefix)).collect(),
                ),
            ];
            match spec.consumer.notify {
                Notify::Sns => s.push(allow(
                    "SubscribeTopics",
                    &["sns:GetTopicAttributes", "sns:Subscribe"],
                    n.regions().map(|r| n.topic_arn(r)).collect(),
                )),
                Notify::Sqs => s.push(allow(
                    "ConsumeQueues",
                    &[
                        "sqs:ChangeMessageVisibility",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:GetQueueUrl",
                        "sqs:ReceiveMessage",
                    ],
                    n.regions().map(|r| n.queue_arn(r)).collect(),
                )),
                Notify::None => {}
            }
            if let Some(key) = kms {
                s.push(via_s3(allow("DecryptObjects", &["kms:Decrypt"], vec![key]), &n));
            }
            s
        }
    }
}

/// The consumer's side of the reader role's trust: an AWS principal (with its external id) or Sentinel's web
/// identity.
fn reader_trust(n: &Names<'_>) -> Value {
    match &n.spec.consumer.reader {
        Reader::Aws(a) => {
            let mut statement = json!({
                "Effect": "Allow",
                "Principal": {"AWS": n.consumer_principal()},
                "Action": a.actions,
            });
            let external_id = match &a.external_id {
                Some(ExternalId::Fixed(id)) => Some(id.clone()),
                Some(generated) => generated.generated_prefix(n.account).map(|p| format!("{p}{GENERATED}")),
                None => None,
            };
            if let Some(id) = external_id {
                statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": id}});
            }
            statement
        }
        Reader::WebIdentity(w) => json!({
            "Effect": "Allow",
            "Principal": {"Federated": n.oidc_provider_arn(&w.issuer)},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                format!("{}:aud", w.issuer): w.audience,
                "sts:RoleSessionName": w.role_session_name,
            }}
        }),
    }
}

/// Replaces the placeholder of a generated external id with the one live AWS holds (a string in `live` with the
/// same prefix), so a generated id stays what it was once the role exists. Without one it stays a placeholder.
pub fn resolve_generated(desired: &Value, live: Option<&Value>) -> Value {
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(m) => m.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    match desired {
        Value::String(s) if s.ends_with(GENERATED) => {
            let prefix = &s[..s.len() - GENERATED.len()];
            let mut have = Vec::new();
            if let Some(live) = live {
                strings(live, &mut have);
            }
            let found = have.into_iter().find(|h| {
                h.strip_prefix(prefix)
                    .is_some_and(|tail| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_alphanumeric()))
            });
            Value::String(found.unwrap_or(s).to_string())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve_generated(x, live)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve_generated(v, live))).collect()),
        other => other.clone(),
    }
}

/// Fills every placeholder still in `doc` with a fresh value from `random`.
pub fn fill_generated(doc: &Value, random: &mut dyn FnMut() -> String) -> Value {
    match doc {
        Value::String(s) if s.ends_with(GENERATED) => {
            Value::String(format!("{}{}", &s[..s.len() - GENERATED.len()], random()))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_generated(x, random)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), fill_generated(v, random))).collect()),
        other => other.clone(),
    }
}

fn trust_policy(n: &Names<'_>, kind: RoleKind) -> Value {
    let account = n.account;
    let statement = match kind {
        RoleKind::Firehose => json!({
            "Effect": "Allow",
            "Principal": {"Service": "firehose.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }),
        RoleKind::Cloudwatch => json!({
            "Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringLike": {"aws:SourceArn": n.regions().map(|r| format!("arn:{}:logs:{r}:{account}:*", n.partition)).collect::<Vec<_>>()},
                "StringEquals": {"aws:SourceAccount": account}
            }
        }),
        RoleKind::Reader => reader_trust(n),
    };
    policy_document(vec![statement])
}

fn bucket_fields(n: &Names<'_>, region: &str) -> BTreeMap<String, Field> {
    let spec = n.spec;
    let arn = n.bucket_arn(region);
    let encryption = match n.kms_key(region) {
        Some(key) => json!({"algorithm": "aws:kms", "kms_key_id": key, "bucket_key": true}),
        None => json!({"algorithm": "AES256"}),
    };
    let days = spec.bucket.retention_days;
    let lifecycle = json!({
        "expire_current_days": (days > 0).then_some(days),
        "expire_noncurrent_days": (days > 0).then_some(days),
        "abort_incomplete_multipart_days": ABORT_MULTIPART_DAYS,
    });
    let tls_only = policy_document(vec![json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })]);
    let logging = spec
        .bucket
        .access_logging
        .then(|| json!({"target_bucket": n.access_log_bucket(region), "target_prefix": ACCESS_LOG_PREFIX}));
    let mut fields = hardened_bucket_fields(spec, encryption, lifecycle, tls_only);
    fields.insert("logging".into(), Field::exact(logging.unwrap_or(Value::Null)));
    fields
}

/// Where in the access-log bucket S3 writes a bucket's server access logs.
pub const ACCESS_LOG_PREFIX: &str = "s3-access-logs/";

/// What every bucket of the pipeline has: no public access, no ACLs, encryption, a policy, versioning, expiry.
fn hardened_bucket_fields(spec: &Spec, encryption: Value, lifecycle: Value, policy: Value) -> BTreeMap<String, Field> {
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
        ("tags".into(), Field::tags(&spec.resource_tags())),
    ])
}

/// The policy of the access-log bucket: only S3's logging service may write, only the logs of this region's
/// bucket, only from this account; nothing over plain HTTP. The logging grant comes first (S3, and the emulator,
/// look for it).
fn access_log_bucket_policy(n: &Names<'_>, region: &str) -> Value {
    let arn = n.access_log_bucket_arn(region);
    policy_document(vec![
        service_grant(
            "S3ServerAccessLogs",
            "logging.s3.amazonaws.com",
            json!(["s3:PutObject"]),
            json!(format!("{arn}/{ACCESS_LOG_PREFIX}*")),
            &n.bucket_arn(region),
            n.account,
        ),
        json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }),
    ])
}

/// The access-log bucket: hardened like the pipeline's bucket, but SSE-S3 (S3 delivers server access logs only
/// into buckets with S3-managed keys) and not logged itself.
fn access_log_bucket_fields(n: &Names<'_>, region: &str) -> BTreeMap<String, Field> {
    let days = n.spec.bucket.retention_days;
    let lifecycle = json!({
        "expire_current_days": (days > 0).then_some(days),
        "expire_noncurrent_days": (days > 0).then_some(days),
        "abort_incomplete_multipart_days": ABORT_MULTIPART_DAYS,
    });
    hardened_bucket_fields(n.spec, json!({"algorithm": "AES256"}), lifecycle, access_log_bucket_policy(n, region))
}

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

/// The key policy of the pipeline's key in a region: the account administers it; the Firehose role encrypts
/// through S3; S3 (and SNS, when the pipeline notifies through a topic) use it for this account's bucket and topic
/// only; the reader decrypts through S3. Nothing else.
/// The key a topic of the pipeline's in `region` is encrypted with ("" for none): the alerts topic uses it too.
pub(crate) fn topic_key(spec: &Spec, account: &str, partition: &'static str, region: &str) -> String {
    Names { spec, account, partition }.kms_key(region).unwrap_or_default()
}

fn kms_key_policy(n: &Names<'_>, region: &str) -> Value {
    let via_s3 = json!({"StringEquals": {"kms:ViaService": format!("s3.{region}.amazonaws.com")}});
    // A key policy applies to its own key only: AWS writes that "*"; the ARN pattern of the region's keys says the
    // same and names the resource type (as linters ask).
    let this_key = format!("arn:{}:kms:{region}:{}:key/*", n.partition, n.account);
    let mut statements = vec![
        json!({
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{}:iam::{}:root", n.partition, n.account)},
            "Action": KMS_KEY_ADMIN_ACTIONS,
            // The alias actions are also authorised on the alias (linters look for its ARN).
            "Resource": [&this_key, format!("arn:{}:kms:{region}:{}:{}", n.partition, n.account, n.spec.kms_alias())]
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
        let alerts = crate::alerts::AlertNames::new(n.spec, n.account);
        statements.push(json!({
            "Sid": "AlertsFunctionPublishes",
            "Effect": "Allow",
            "Principal": {"AWS": alerts.role_arn()},
            "Action": KMS_DATA_KEY_ACTIONS,
            "Resource": this_key,
            "Condition": {"StringEquals": {"kms:ViaService": format!("sns.{region}.amazonaws.com")}}
        }));
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

/// What a service needs of a key to write what it encrypts and read it back.
const KMS_DATA_KEY_ACTIONS: [&str; 2] = ["kms:Decrypt", "kms:GenerateDataKey"];

/// A grant to an AWS service acting for one resource of this pipeline's (`source`), from this account only: the
/// confused-deputy conditions AWS documents for service principals.
fn service_grant(sid: &str, service: &str, action: Value, resource: Value, source: &str, account: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnLike": {"aws:SourceArn": source}, "StringEquals": {"aws:SourceAccount": account}}
    })
}

fn topic_policy(n: &Names<'_>, region: &str) -> Value {
    let topic = n.topic_arn(region);
    policy_document(vec![
        service_grant(
            "S3Publish",
            "s3.amazonaws.com",
            json!("SNS:Publish"),
            json!(topic),
            &n.bucket_arn(region),
            n.account,
        ),
        json!({
            "Sid": "ConsumerSubscribe",
            "Effect": "Allow",
            // Vendors subscribe their own queue as themselves (a web-identity reader has no AWS principal: its role).
            "Principal": {"AWS": n.consumer_principal().unwrap_or_else(|| n.role_arn(RoleKind::Reader))},
            "Action": ["SNS:GetTopicAttributes", "SNS:Subscribe"],
            "Resource": topic
        }),
    ])
}

fn deny_insecure_transport(resource: &str) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "SQS:*",
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
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
        deny_insecure_transport(&queue),
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
        fields.insert(
            "policy".into(),
            Field::policy(policy_document(vec![deny_insecure_transport(&n.dead_letter_queue_arn(region))])),
        );
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

pub(crate) fn resource(
    address: String,
    kind: Kind,
    region: Option<&str>,
    name: String,
    fields: BTreeMap<String, Field>,
) -> DesiredResource {
    DesiredResource { address, kind, region: region.map(str::to_string), name, management: Management::Owned, fields }
}

impl DesiredState {
    pub fn build(inputs: &Inputs<'_>) -> DesiredState {
        let spec = inputs.spec;
        let partition = spec.regions.first().map_or("aws", |r| partition(&r.name));
        let n = Names { spec, account: inputs.account, partition };
        let mut out = DesiredState::default();
        let tags = spec.resource_tags();

        if let Some(w) = spec.consumer.web_identity() {
            // One per issuer in the account: reused when it exists (the audience added if missing), never a second.
            out.resources.push(resource(
                oidc_provider_address(&w.cloud),
                Kind::OidcProvider,
                None,
                w.issuer.clone(),
                BTreeMap::from([
                    ("url".into(), Field::exact(json!(format!("https://{}", w.issuer))).force_new()),
                    ("client_ids".into(), Field::includes(json!([w.audience]))),
                    ("thumbprints".into(), Field::create_only(json!([w.thumbprint]))),
                    ("tags".into(), Field::tags(&tags)),
                ]),
            ));
        }

        for kind in RoleKind::ALL {
            let address = format!("role.{}", kind.suffix());
            let reused = match kind {
                RoleKind::Firehose => spec.iam.firehose_role_arn.as_ref().map(|a| (a, "iam.firehose_role_arn")),
                RoleKind::Cloudwatch => spec.iam.cloudwatch_role_arn.as_ref().map(|a| (a, "iam.cloudwatch_role_arn")),
                RoleKind::Reader => spec.iam.reader_role_arn.as_ref().map(|a| (a, "iam.reader_role_arn")),
            };
            let statements = role_statements(spec, inputs.account, kind);
            out.resources.push(match reused {
                Some((arn, key)) => DesiredResource {
                    address,
                    kind: Kind::Role,
                    region: None,
                    name: arn.clone(),
                    management: Management::Reused { spec_key: key.to_string() },
                    fields: BTreeMap::from([("grants".to_string(), Field::exact(Value::Array(statements)))]),
                },
                None => resource(
                    address,
                    Kind::Role,
                    None,
                    spec.role_name(kind),
                    BTreeMap::from([
                        ("trust_policy".into(), Field::policy(trust_policy(&n, kind))),
                        ("permissions".into(), Field::policy(policy_document(statements))),
                        // Everything the role may do is in its inline policy; a managed policy attached by
                        // hand widens it and is drift.
                        ("attached_policies".into(), Field::exact(json!([]))),
                        ("tags".into(), Field::tags(&tags)),
                    ]),
                ),
            });
        }

        for (index, region) in spec.regions.iter().enumerate() {
            let r = region.name.as_str();
            let at = |what: &str| format!("region.{r}.{what}");
            if spec.bucket.owns_key() {
                out.resources.push(resource(
                    at("kms_key"),
                    Kind::KmsKey,
                    Some(r),
                    spec.kms_alias(),
                    BTreeMap::from([
                        ("policy".into(), Field::policy(kms_key_policy(&n, r))),
                        ("rotation".into(), Field::exact(json!(true))),
                        ("state".into(), Field::exact(json!("Enabled"))),
                        ("tags".into(), Field::tags(&tags)),
                    ]),
                ));
            }
            if spec.bucket.access_logging {
                out.resources.push(resource(
                    at("access_log_bucket"),
                    Kind::Bucket,
                    Some(r),
                    n.access_log_bucket(r),
                    access_log_bucket_fields(&n, r),
                ));
            }
            out.resources.push(resource(at("bucket"), Kind::Bucket, Some(r), n.bucket(r), bucket_fields(&n, r)));
            let notification_target = match spec.consumer.notify {
                Notify::Sns => {
                    out.resources.push(resource(
                        at("topic"),
                        Kind::Topic,
                        Some(r),
                        spec.topic_name(),
                        BTreeMap::from([
                            ("policy".into(), Field::policy(topic_policy(&n, r))),
                            // "" is SNS's word for no encryption.
                            ("kms_master_key_id".into(), Field::exact(json!(n.kms_key(r).unwrap_or_default()))),
                            ("tags".into(), Field::tags(&tags)),
                        ]),
                    ));
                    if let Some(queue) = &spec.consumer.sqs_queue_arn {
                        out.resources.push(resource(
                            at("topic_subscription"),
                            Kind::TopicSubscription,
                            Some(r),
                            queue.clone(),
                            BTreeMap::from([
                                ("topic_arn".into(), Field::exact(json!(n.topic_arn(r)))),
                                ("protocol".into(), Field::exact(json!("sqs"))),
                                ("endpoint".into(), Field::exact(json!(queue))),
                            ]),
                        ));
                    }
                    Some(("topic", "topic_arn", n.topic_arn(r)))
                }
                Notify::Sqs => {
                    out.resources.push(resource(
                        at("dead_letter_queue"),
                        Kind::Queue,
                        Some(r),
                        spec.dead_letter_queue_name(),
                        queue_fields(&n, r, true),
                    ));
                    out.resources.push(resource(
                        at("queue"),
                        Kind::Queue,
                        Some(r),
                        spec.queue_name(),
                        queue_fields(&n, r, false),
                    ));
                    Some(("queue", "queue_arn", n.queue_arn(r)))
                }
                Notify::None => None,
            };
            if let Some((kind, arn_field, arn)) = notification_target {
                out.resources.push(resource(
                    at("bucket_notification"),
                    Kind::BucketNotification,
                    Some(r),
                    n.bucket(r),
                    BTreeMap::from([
                        ("id".into(), Field::exact(json!(spec.pipeline.name))),
                        // A topic entry and a queue entry are different configurations: switching rewrites ours.
                        ("destination_type".into(), Field::exact(json!(kind)).force_new()),
                        (arn_field.into(), Field::exact(json!(arn))),
                        ("events".into(), Field::exact(json!(["s3:ObjectCreated:*"]))),
                        ("filter_prefix".into(), Field::exact(json!(spec.firehose.prefix))),
                    ]),
                ));
            }
            let mut log_group_fields = BTreeMap::from([("tags".to_string(), Field::tags(&tags))]);
            if let Some(days) = region.log_retention_days {
                log_group_fields.insert("retention_days".into(), Field::exact(json!(days)));
            }
            out.resources.push(resource(
                at("firehose_log_group"),
                Kind::FirehoseLogGroup,
                Some(r),
                n.firehose_log_group(),
                log_group_fields,
            ));
            out.resources.push(resource(
                at("stream"),
                Kind::DeliveryStream,
                Some(r),
                spec.stream_name(),
                BTreeMap::from([
                    ("stream_type".into(), Field::exact(json!("DirectPut")).force_new()),
                    ("bucket_arn".into(), Field::exact(json!(n.bucket_arn(r)))),
                    ("role_arn".into(), Field::exact(json!(n.role_arn(RoleKind::Firehose)))),
                    ("prefix".into(), Field::exact(json!(spec.firehose.prefix))),
                    ("error_output_prefix".into(), Field::exact(json!(spec.firehose.error_prefix))),
                    ("buffer_size_mb".into(), Field::exact(json!(spec.firehose.buffer_size_mb))),
                    ("buffer_interval_seconds".into(), Field::exact(json!(spec.firehose.buffer_interval_seconds))),
                    // CloudWatch Logs already gzips what it sends; consumers read that envelope as is.
                    ("compression".into(), Field::exact(json!("UNCOMPRESSED"))),
                    (
                        "error_logging".into(),
                        Field::exact(json!({"enabled": true, "log_group": n.firehose_log_group(), "log_stream": FIREHOSE_ERROR_LOG_STREAM})),
                    ),
                    // Server-side encryption at rest with a key Firehose owns (no charge, no key policy).
                    ("encryption".into(), Field::exact(json!(STREAM_ENCRYPTION_ENABLED))),
                    ("tags".into(), Field::tags(&tags)),
                ]),
            ));

            let existing = inputs.clusters.get(r).map(Vec::as_slice).unwrap_or_default();
            let mut matched: Vec<String> = Vec::new();
            for selector in &region.clusters {
                let hits: Vec<&String> = existing.iter().filter(|c| selector.matches(c)).collect();
                if hits.is_empty() {
                    let msg = match selector {
                        eksaudit_spec::ClusterSelector::Name(name) => {
                            out.errors.push(Message::new(
                                format!("region.{r}.cluster.{name}"),
                                format!("cluster {name:?} named in region[{index}].clusters does not exist in {r}"),
                                format!("check the name with `aws eks list-clusters --region {r}`, or use a glob such as \"{name}*\""),
                            ));
                            continue;
                        }
                        eksaudit_spec::ClusterSelector::Glob(glob) => glob,
                    };
                    out.warnings.push(
                        Message::new(
                            format!("region.{r}"),
                            format!("glob {msg:?} in region[{index}].clusters matches no cluster in {r} yet"),
                            "clusters created later are picked up by the next apply; drift reports them".to_string(),
                        )
                        .because(crate::Cause::Info),
                    );
                }
                for hit in hits {
                    if !matched.contains(hit) {
                        matched.push(hit.clone());
                    }
                }
            }
            matched.sort();
            for cluster in &matched {
                let at = |what: &str| format!("region.{r}.cluster.{cluster}.{what}");
                let management = if region.enable_audit_logging {
                    Management::Owned
                } else {
                    Management::CheckOnly {
                        fix: format!("set enable_audit_logging = true in region[{index}] to let eksaudit turn it on, or turn it on yourself"),
                    }
                };
                out.resources.push(DesiredResource {
                    address: at("audit_logging"),
                    kind: Kind::ClusterLogging,
                    region: Some(r.to_string()),
                    name: cluster.clone(),
                    management,
                    fields: BTreeMap::from([("audit".to_string(), Field::exact(json!(true)))]),
                });
                let mut group_fields = BTreeMap::from([(
                    "tags".to_string(),
                    Field::create_only(serde_json::to_value(&tags).unwrap_or_default()),
                )]);
                if let Some(days) = region.log_retention_days {
                    group_fields.insert("retention_days".into(), Field::create_only(json!(days)));
                }
                out.resources.push(resource(
                    at("log_group"),
                    Kind::LogGroup,
                    Some(r),
                    log_group_name(cluster),
                    group_fields,
                ));
                out.resources.push(resource(
                    at("filter"),
                    Kind::SubscriptionFilter,
                    Some(r),
                    spec.filter_name(),
                    BTreeMap::from([
                        ("log_group".into(), Field::exact(json!(log_group_name(cluster))).force_new()),
                        ("filter_pattern".into(), Field::exact(json!(spec.filter.pattern))),
                        ("destination_arn".into(), Field::exact(json!(n.stream_arn(r)))),
                        ("role_arn".into(), Field::exact(json!(n.role_arn(RoleKind::Cloudwatch)))),
                    ]),
                ));
            }
            out.matched_clusters.insert(r.to_string(), matched);
        }
        crate::alerts::add(inputs, &mut out);
        out
    }
}
