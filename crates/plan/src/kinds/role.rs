//! IAM roles: the three account-wide roles of the pipeline (Firehose writes, CloudWatch Logs delivers, the
//! consumer reads), a role reused from `[iam]` (checked, never changed), and the alert function's role. Each has
//! one inline policy with everything it may do.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, Encryption, ExternalId, Notify, Reader, RoleKind, Spec};
use serde_json::{json, Value};

use super::kms_key::KMS_DATA_KEY_ACTIONS;
use super::Registration;
use crate::document::{allow, policy_document, resource, service_trust};
use crate::model::{DesiredResource, Field, Kind, Management};
use crate::names::Names;
use crate::operation::{op, op_also, Operation, FIREHOSE_PRINCIPAL, LAMBDA_PRINCIPAL, LOGS_PRINCIPAL};
use crate::report::Message;

/// Stands for the random part of a generated external id until the reader role exists; apply generates it once
/// and every later run reads it back from the role's trust policy (live AWS is the state).
pub const GENERATED: &str = "<generated>";
/// Where a reader role left under another preset's name (Sentinel's `OIDC_` prefix) shows in a plan.
pub const FORMER_READER_ROLE: &str = "role.former_reader";
/// The address of the role the alert function runs as (`Address::Role(RoleSlot::Alerts)`, a constant for `match`
/// and the aws crate).
pub const ALERTS_ROLE: &str = "role.alerts";

/// The three pipeline roles, each owned or reused.
pub fn desired(n: &Names<'_>) -> Vec<DesiredResource> {
    let spec = n.spec;
    RoleKind::ALL
        .into_iter()
        .map(|kind| {
            let address = Address::Role(kind.into()).to_string();
            let statements = role_statements(spec, n.account, kind);
            match n.reused_role(kind) {
                Some(arn) => DesiredResource {
                    address,
                    kind: Kind::Role,
                    region: None,
                    name: arn.clone(),
                    management: Management::Reused { spec_key: reused_key(kind).to_string() },
                    fields: BTreeMap::from([("grants".to_string(), Field::exact(Value::Array(statements)))]),
                },
                None => resource(
                    address,
                    Kind::Role,
                    None,
                    spec.role_name(kind),
                    role_fields(trust_policy(n, kind), policy_document(statements), spec),
                ),
            }
        })
        .collect()
}

/// The `[iam]` key that names a reused role.
fn reused_key(kind: RoleKind) -> &'static str {
    match kind {
        RoleKind::Firehose => "iam.firehose_role_arn",
        RoleKind::Cloudwatch => "iam.cloudwatch_role_arn",
        RoleKind::Reader => "iam.reader_role_arn",
    }
}

fn role_fields(trust: Value, permissions: Value, spec: &Spec) -> BTreeMap<String, Field> {
    BTreeMap::from([
        ("trust_policy".into(), Field::policy(trust)),
        ("permissions".into(), Field::policy(permissions)),
        // Everything the role may do is in its inline policy; a managed policy attached by hand widens it and is
        // drift.
        ("attached_policies".into(), Field::exact(json!([]))),
        ("tags".into(), Field::tags(&spec.resource_tags())),
    ])
}

/// `[alerts]`: the role the alert function runs as; it may only write its own logs, publish alerts, and hand
/// Lambda what it failed to its own dead-letter queue (Lambda sends to it as the function's role).
pub fn alerts(n: &Names<'_>) -> DesiredResource {
    let log_streams: Vec<String> = n.regions().map(|r| n.log_group_streams_arn(r, &n.alerts_log_group())).collect();
    let mut topics: Vec<String> = n.regions().map(|r| n.alerts_topic_arn(r)).collect();
    topics.dedup();
    let dead_letter: Vec<String> = n.regions().map(|r| n.alerts_dead_letter_queue_arn(r)).collect();
    let permissions = policy_document(vec![
        allow("WriteOwnLogs", &["logs:CreateLogStream", "logs:PutLogEvents"], log_streams),
        allow("PublishAlerts", &["sns:Publish"], topics),
        allow("SendFailedAlerts", &["sqs:SendMessage"], dead_letter),
    ]);
    let trust = policy_document(vec![service_trust(LAMBDA_PRINCIPAL, n.account)]);
    resource(ALERTS_ROLE.into(), Kind::Role, None, n.alerts_name(), role_fields(trust, permissions, n.spec))
}

/// The address of the role the Sentinel transform runs as (`Address::Role(RoleSlot::Transform)`).
pub const TRANSFORM_ROLE: &str = "role.transform";

/// `preset = "sentinel"`: the role the transform runs as; it may only write its own logs (it reads nothing and
/// writes nothing else: Firehose hands it the records and takes its answer).
pub fn transform(n: &Names<'_>) -> DesiredResource {
    let log_streams: Vec<String> = n.regions().map(|r| n.log_group_streams_arn(r, &n.transform_log_group())).collect();
    let permissions =
        policy_document(vec![allow("WriteOwnLogs", &["logs:CreateLogStream", "logs:PutLogEvents"], log_streams)]);
    let trust = policy_document(vec![service_trust(LAMBDA_PRINCIPAL, n.account)]);
    resource(TRANSFORM_ROLE.into(), Kind::Role, None, n.spec.transform_name(), role_fields(trust, permissions, n.spec))
}

/// IAM's default limit on a role's trust policy (quota L-C07B4B0D; AWS raises it to 4,096 on request).
pub const TRUST_POLICY_LIMIT: usize = 2_048;

/// The pipeline's roles name resources in every region of the spec, so a spec of very many regions can make one
/// larger than IAM takes (Sentinel's Firehose role passes a role's 10,240 inline characters at about 29 regions).
/// Refused at plan, with the fix, instead of at PutRolePolicy half way through an apply.
pub fn over_iams_limits(resources: &[DesiredResource]) -> Vec<Message> {
    let mut errors = Vec::new();
    for r in resources.iter().filter(|r| r.kind == Kind::Role && r.management == Management::Owned) {
        for (field, what, limit) in [
            ("permissions", "inline policy", crate::permissions::INLINE_POLICY_LIMIT),
            ("trust_policy", "trust policy", TRUST_POLICY_LIMIT),
        ] {
            let size = r.fields.get(field).map_or(0, |f| crate::permissions::policy_size(&f.value));
            if size > limit {
                errors.push(Message::new(
                    &r.address,
                    format!(
                        "role {}'s {what} would be {size} characters, over the {limit} IAM allows (it names resources \
                         in each of the spec's regions)",
                        r.name
                    ),
                    "split the regions over two specs with pipeline names of their own, so each pipeline has its \
                     own roles",
                ));
            }
        }
    }
    errors
}

/// Limits a KMS statement to use through S3 in the spec's regions (AWS's `kms:ViaService`).
fn via_s3(mut statement: Value, n: &Names<'_>) -> Value {
    let services: Vec<String> = n.regions().map(|r| format!("s3.{r}.amazonaws.com")).collect();
    statement["Condition"] = json!({"StringEquals": {"kms:ViaService": services}});
    statement
}

/// What each role must be allowed to do: the inline policy of an owned role, the check of a reused one.
pub fn role_statements(spec: &Spec, account: &str, kind: RoleKind) -> Vec<Value> {
    let n = Names::new(spec, account);
    // The pipeline's own key grants the roles in its key policy; a key brought along is granted here.
    let kms = spec.bucket.kms_key_arn.clone().filter(|_| spec.bucket.encryption == Encryption::SseKms);
    match kind {
        RoleKind::Firehose => {
            let buckets: Vec<String> = n.regions().map(|r| n.bucket_arn(r)).collect();
            let written: Vec<String> = n
                .regions()
                .flat_map(|r| {
                    [
                        format!("{}/{}*", n.bucket_arn(r), n.prefix()),
                        format!("{}/{}*", n.bucket_arn(r), n.error_prefix()),
                    ]
                })
                .collect();
            let mut s = vec![
                allow(
                    "ListBuckets",
                    &["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    buckets,
                ),
                allow("WriteObjects", &["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], written),
                allow(
                    "LogDeliveryErrors",
                    &["logs:PutLogEvents"],
                    n.regions().map(|r| n.firehose_log_group_arn(r)).collect(),
                ),
            ];
            // The stream's Lambda processor: Firehose reads its configuration and invokes exactly it.
            if spec.transforms() {
                s.push(allow(
                    "InvokeTransform",
                    &["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
                    n.regions().map(|r| n.transform_function_arn(r)).collect(),
                ));
            }
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
                allow("ListBuckets", &["s3:GetBucketLocation", "s3:ListBucket"], n.reader_bucket_arns()),
                allow(
                    "ReadObjects",
                    &["s3:GetObject"],
                    n.reader_bucket_arns().iter().map(|b| format!("{b}/{}*", n.prefix())).collect(),
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

fn trust_policy(n: &Names<'_>, kind: RoleKind) -> Value {
    let account = n.account;
    let statement = match kind {
        RoleKind::Firehose => service_trust(FIREHOSE_PRINCIPAL, account),
        RoleKind::Cloudwatch => json!({
            "Effect": "Allow",
            "Principal": {"Service": LOGS_PRINCIPAL},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringLike": {"aws:SourceArn": n.regions().map(|r| n.logs_any_arn(r)).collect::<Vec<_>>()},
                "StringEquals": {"aws:SourceAccount": account}
            }
        }),
        RoleKind::Reader => reader_trust(n),
    };
    policy_document(vec![statement])
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

pub const OPERATIONS: &[Operation] = &[
    op("iam", "GetRole", "iam:GetRole"),
    op("iam", "GetRolePolicy", "iam:GetRolePolicy"),
    op("iam", "ListRolePolicies", "iam:ListRolePolicies"),
    op("iam", "ListAttachedRolePolicies", "iam:ListAttachedRolePolicies"),
    // The managed policies attached to a reused role.
    op("iam", "GetPolicy", "iam:GetPolicy"),
    op("iam", "GetPolicyVersion", "iam:GetPolicyVersion"),
    // Tags on create need iam:TagRole too.
    op_also("iam", "CreateRole", "iam:CreateRole", &["iam:TagRole"]),
    op("iam", "UpdateAssumeRolePolicy", "iam:UpdateAssumeRolePolicy"),
    op("iam", "PutRolePolicy", "iam:PutRolePolicy"),
    op("iam", "DetachRolePolicy", "iam:DetachRolePolicy"),
    op("iam", "TagRole", "iam:TagRole"),
    op("iam", "UntagRole", "iam:UntagRole"),
    op("iam", "DeleteRolePolicy", "iam:DeleteRolePolicy"),
    op("iam", "DeleteRole", "iam:DeleteRole"),
];

/// The reader role's trust names the OIDC provider.
pub const KIND: Registration =
    Registration { kind: Kind::Role, depends_on: &[Kind::OidcProvider], operations: OPERATIONS };
