//! `[alerts]`: the alert function's permission for CloudWatch Logs to invoke it, for this account's EKS log
//! groups in the region only.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, RegionalSlot};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, Operation, LOGS_PRINCIPAL};

pub fn desired(n: &Names<'_>, region: &str) -> DesiredResource {
    resource(
        Address::regional(region, RegionalSlot::AlertsPermission).to_string(),
        Kind::FunctionPermission,
        Some(region),
        n.alerts_statement_id(),
        BTreeMap::from([
            ("function".into(), Field::exact(json!(n.alerts_name())).force_new()),
            ("principal".into(), Field::exact(json!(LOGS_PRINCIPAL)).force_new()),
            ("action".into(), Field::exact(json!("lambda:InvokeFunction")).force_new()),
            ("source_arn".into(), Field::exact(json!(n.alerts_source_arn(region))).force_new()),
            ("source_account".into(), Field::exact(json!(n.account)).force_new()),
        ]),
    )
}

pub const OPERATIONS: &[Operation] = &[
    op("lambda", "GetPolicy", "lambda:GetPolicy"),
    op("lambda", "AddPermission", "lambda:AddPermission"),
    op("lambda", "RemovePermission", "lambda:RemovePermission"),
];

pub const KIND: Registration =
    Registration { kind: Kind::FunctionPermission, depends_on: &[Kind::Function], operations: OPERATIONS };
