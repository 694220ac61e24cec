//! eksaudit's functions (their code is in this repository, packaged by `crate::package`): `[alerts]`' alert
//! function, and for `preset = "sentinel"` the transform the Firehose stream runs as its Lambda processor.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, RegionalSlot};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_also, op_passing, Operation, LAMBDA_PRINCIPAL};
use crate::package::Code;

/// The transform's time for one invocation: Firehose hands it at most a few MB, gunzipped and mapped in seconds.
pub const TRANSFORM_TIMEOUT_SECONDS: i32 = 60;
/// Room for a batch of envelopes and their rows in memory (the answer alone may be close to 6 MB).
pub const TRANSFORM_MEMORY_MB: i32 = 256;

/// The handler Lambda calls.
pub const HANDLER: &str = "handler.handler";
pub const RUNTIME: &str = "python3.12";
pub const TIMEOUT_SECONDS: i32 = 60;
pub const MEMORY_MB: i32 = 128;

pub fn desired(n: &Names<'_>, region: &str) -> DesiredResource {
    let mut fields = BTreeMap::from([
        ("runtime".to_string(), Field::exact(json!(RUNTIME))),
        ("handler".into(), Field::exact(json!(HANDLER))),
        ("role_arn".into(), Field::exact(json!(n.alerts_role_arn()))),
        ("code_sha256".into(), Field::exact(json!(Code::Alerts.code_sha256()))),
        ("timeout_seconds".into(), Field::exact(json!(TIMEOUT_SECONDS))),
        ("memory_mb".into(), Field::exact(json!(MEMORY_MB))),
        ("environment".into(), Field::exact(json!({"TOPIC_ARN": n.alerts_topic_arn(region)}))),
        // CloudWatch Logs invokes the function asynchronously: an alert it fails to publish (after Lambda's two
        // retries) goes to this queue instead of being dropped.
        ("dead_letter_target_arn".into(), Field::exact(json!(n.alerts_dead_letter_queue_arn(region)))),
        ("tags".into(), Field::tags(&n.spec.resource_tags())),
    ]);
    // Its environment at rest under the pipeline's key (Lambda's own key otherwise). Lambda decrypts it through
    // the grant it makes at CreateFunction with the caller's kms:CreateGrant: the execution role needs no key.
    if let Some(key) = n.log_group_key(region) {
        fields.insert("kms_key_arn".into(), Field::exact(json!(key)));
    }
    resource(
        Address::regional(region, RegionalSlot::AlertsFunction).to_string(),
        Kind::Function,
        Some(region),
        n.alerts_name(),
        fields,
    )
}

/// `preset = "sentinel"`: the region's transform. No environment (it reads the region from Lambda's own
/// `AWS_REGION`), so nothing of it needs the pipeline's key.
pub fn transform(n: &Names<'_>, region: &str) -> DesiredResource {
    resource(
        Address::regional(region, RegionalSlot::TransformFunction).to_string(),
        Kind::Function,
        Some(region),
        n.spec.transform_name(),
        BTreeMap::from([
            ("runtime".to_string(), Field::exact(json!(RUNTIME))),
            ("handler".into(), Field::exact(json!(HANDLER))),
            ("role_arn".into(), Field::exact(json!(n.transform_role_arn()))),
            ("code_sha256".into(), Field::exact(json!(Code::SentinelTransform.code_sha256()))),
            ("timeout_seconds".into(), Field::exact(json!(TRANSFORM_TIMEOUT_SECONDS))),
            ("memory_mb".into(), Field::exact(json!(TRANSFORM_MEMORY_MB))),
            ("environment".into(), Field::exact(json!({}))),
            ("tags".into(), Field::tags(&n.spec.resource_tags())),
        ]),
    )
}

/// What Lambda checks against the caller when the environment is under the pipeline's key: GetFunction decrypts
/// it (kms:Decrypt), CreateFunction and UpdateFunctionConfiguration encrypt it and grant Lambda the key's use
/// (kms:Encrypt, kms:CreateGrant). No SDK call of eksaudit names them; the key policy allows them through Lambda
/// only, and the operator policy grants them on the pipeline's keys.
pub const ON_THE_CALLERS_BEHALF: &[&str] = &["kms:CreateGrant", "kms:Decrypt", "kms:Encrypt"];

pub const OPERATIONS: &[Operation] = &[
    // GetFunction returns the function's tags (which prove it is ours) only when the caller may lambda:ListTags.
    // Its environment, under the pipeline's key, only when the caller may kms:Decrypt with it (granted on the key,
    // another service's resource, by `permissions`).
    op_also("lambda", "GetFunction", "lambda:GetFunction", &["lambda:ListTags"]),
    op("lambda", "GetFunctionConfiguration", "lambda:GetFunctionConfiguration"),
    // Tags on create need lambda:TagResource too.
    // The pipeline's key on its environment: Lambda encrypts with it and makes a grant as the caller, which needs
    // kms:CreateGrant and kms:Encrypt on the key (granted by `permissions`).
    op_passing("lambda", "CreateFunction", "lambda:CreateFunction", &["lambda:TagResource"], LAMBDA_PRINCIPAL),
    op("lambda", "UpdateFunctionCode", "lambda:UpdateFunctionCode"),
    op_passing("lambda", "UpdateFunctionConfiguration", "lambda:UpdateFunctionConfiguration", &[], LAMBDA_PRINCIPAL),
    op("lambda", "TagResource", "lambda:TagResource"),
    op("lambda", "DeleteFunction", "lambda:DeleteFunction"),
];

/// Runs as the alerts role, publishes to the alerts topic, logs into its log group, sends what it failed to its
/// dead-letter queue.
pub const KIND: Registration = Registration {
    kind: Kind::Function,
    depends_on: &[Kind::Role, Kind::KmsKey, Kind::Topic, Kind::Queue, Kind::FunctionLogGroup],
    operations: OPERATIONS,
};
