//! `[alerts]`: the region's alert function (its code is in this repository, packaged by `crate::package`).

use std::collections::BTreeMap;

use eksaudit_spec::{Address, RegionalSlot};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_also, op_passing, Operation, LAMBDA_PRINCIPAL};

/// The handler Lambda calls.
pub const HANDLER: &str = "handler.handler";
pub const RUNTIME: &str = "python3.12";
pub const TIMEOUT_SECONDS: i32 = 60;
pub const MEMORY_MB: i32 = 128;

pub fn desired(n: &Names<'_>, region: &str) -> DesiredResource {
    resource(
        Address::regional(region, RegionalSlot::AlertsFunction).to_string(),
        Kind::Function,
        Some(region),
        n.alerts_name(),
        BTreeMap::from([
            ("runtime".into(), Field::exact(json!(RUNTIME))),
            ("handler".into(), Field::exact(json!(HANDLER))),
            ("role_arn".into(), Field::exact(json!(n.alerts_role_arn()))),
            ("code_sha256".into(), Field::exact(json!(crate::package::code_sha256()))),
            ("timeout_seconds".into(), Field::exact(json!(TIMEOUT_SECONDS))),
            ("memory_mb".into(), Field::exact(json!(MEMORY_MB))),
            ("environment".into(), Field::exact(json!({"TOPIC_ARN": n.alerts_topic_arn(region)}))),
            ("tags".into(), Field::tags(&n.spec.resource_tags())),
        ]),
    )
}

pub const OPERATIONS: &[Operation] = &[
    // GetFunction returns the function's tags (which prove it is ours) only when the caller may lambda:ListTags.
    op_also("lambda", "GetFunction", "lambda:GetFunction", &["lambda:ListTags"]),
    op("lambda", "GetFunctionConfiguration", "lambda:GetFunctionConfiguration"),
    // Tags on create need lambda:TagResource too.
    op_passing("lambda", "CreateFunction", "lambda:CreateFunction", &["lambda:TagResource"], LAMBDA_PRINCIPAL),
    op("lambda", "UpdateFunctionCode", "lambda:UpdateFunctionCode"),
    op_passing("lambda", "UpdateFunctionConfiguration", "lambda:UpdateFunctionConfiguration", &[], LAMBDA_PRINCIPAL),
    op("lambda", "TagResource", "lambda:TagResource"),
    op("lambda", "DeleteFunction", "lambda:DeleteFunction"),
];

/// Runs as the alerts role, publishes to the alerts topic, logs into its log group.
pub const KIND: Registration = Registration {
    kind: Kind::Function,
    depends_on: &[Kind::Role, Kind::Topic, Kind::FunctionLogGroup],
    operations: OPERATIONS,
};
