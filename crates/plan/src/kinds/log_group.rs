//! CloudWatch Logs log groups, three kinds with the same calls: where Firehose logs delivery errors (ours), the
//! log group EKS writes a cluster's audit log to (EKS's: created only if missing, never changed after), and the
//! alert function's own log group (ours). The pipeline's own key encrypts those eksaudit creates
//! (`kms_key_id`, unless `[bucket] encrypt_log_groups = false`).

use std::collections::BTreeMap;

use eksaudit_spec::{log_group_name, Address, ClusterSlot, Region, RegionalSlot};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_also, Operation};

/// Where the region's Firehose stream logs delivery errors.
pub fn firehose(n: &Names<'_>, region: &Region) -> DesiredResource {
    let r = region.name.as_str();
    let mut fields = BTreeMap::from([("tags".to_string(), Field::tags(&n.spec.resource_tags()))]);
    if let Some(days) = region.log_retention_days {
        fields.insert("retention_days".into(), Field::exact(json!(days)));
    }
    if let Some(key) = n.log_group_key(r) {
        fields.insert("kms_key_id".into(), Field::exact(json!(key)));
    }
    resource(
        Address::regional(r, RegionalSlot::FirehoseLogGroup).to_string(),
        Kind::FirehoseLogGroup,
        Some(r),
        n.firehose_log_group(),
        fields,
    )
}

/// A matched cluster's log group: EKS makes it; eksaudit only creates it if missing, with its tags and retention.
pub fn cluster(n: &Names<'_>, region: &Region, cluster: &str) -> DesiredResource {
    let r = region.name.as_str();
    let mut fields = BTreeMap::from([(
        "tags".to_string(),
        Field::create_only(serde_json::to_value(n.spec.resource_tags()).unwrap_or_default()),
    )]);
    if let Some(days) = region.log_retention_days {
        fields.insert("retention_days".into(), Field::create_only(json!(days)));
    }
    // Like its tags and retention: set when eksaudit creates the group, never on EKS's.
    if let Some(key) = n.log_group_key(r) {
        fields.insert("kms_key_id".into(), Field::create_only(json!(key)));
    }
    resource(
        Address::cluster(r, cluster, ClusterSlot::LogGroup).to_string(),
        Kind::LogGroup,
        Some(r),
        log_group_name(cluster),
        fields,
    )
}

/// `[alerts]`: the alert function's log group in a region.
pub fn function(n: &Names<'_>, region: &str, retention_days: u32) -> DesiredResource {
    let mut fields = BTreeMap::from([
        ("tags".to_string(), Field::tags(&n.spec.resource_tags())),
        ("retention_days".to_string(), Field::exact(json!(retention_days))),
    ]);
    if let Some(key) = n.log_group_key(region) {
        fields.insert("kms_key_id".into(), Field::exact(json!(key)));
    }
    resource(
        Address::regional(region, RegionalSlot::AlertsLogGroup).to_string(),
        Kind::FunctionLogGroup,
        Some(region),
        n.alerts_log_group(),
        fields,
    )
}

/// How long the transform's log group keeps its lines when the region sets no retention: its lines are counts
/// and the reasons records failed, useful for as long as the error prefix keeps those records.
pub const TRANSFORM_LOG_RETENTION_DAYS: u32 = 30;

/// `preset = "sentinel"`: the transform's log group in a region, with the region's retention (else
/// [`TRANSFORM_LOG_RETENTION_DAYS`]).
pub fn transform(n: &Names<'_>, region: &Region) -> DesiredResource {
    let r = region.name.as_str();
    let days = region.log_retention_days.unwrap_or(TRANSFORM_LOG_RETENTION_DAYS);
    let mut fields = BTreeMap::from([
        ("tags".to_string(), Field::tags(&n.spec.resource_tags())),
        ("retention_days".to_string(), Field::exact(json!(days))),
    ]);
    if let Some(key) = n.log_group_key(r) {
        fields.insert("kms_key_id".into(), Field::exact(json!(key)));
    }
    resource(
        Address::regional(r, RegionalSlot::TransformLogGroup).to_string(),
        Kind::FunctionLogGroup,
        Some(r),
        n.transform_log_group(),
        fields,
    )
}

pub const OPERATIONS: &[Operation] = &[
    op("logs", "DescribeLogGroups", "logs:DescribeLogGroups"),
    op("logs", "ListTagsForResource", "logs:ListTagsForResource"),
    // Tags on create need logs:TagResource too.
    op_also("logs", "CreateLogGroup", "logs:CreateLogGroup", &["logs:TagResource"]),
    op("logs", "TagResource", "logs:TagResource"),
    op("logs", "PutRetentionPolicy", "logs:PutRetentionPolicy"),
    // The pipeline's key on a log group eksaudit made before it encrypted them (CreateLogGroup takes it at once).
    op("logs", "AssociateKmsKey", "logs:AssociateKmsKey"),
    // Firehose's error log stream.
    op("logs", "CreateLogStream", "logs:CreateLogStream"),
];

/// The pipeline's key encrypts them: it exists first.
pub const FIREHOSE: Registration =
    Registration { kind: Kind::FirehoseLogGroup, depends_on: &[Kind::KmsKey], operations: OPERATIONS };
/// Audit logging goes on first: EKS makes the log group itself then, and ours is only the fallback.
pub const CLUSTER: Registration =
    Registration { kind: Kind::LogGroup, depends_on: &[Kind::ClusterLogging, Kind::KmsKey], operations: OPERATIONS };
pub const FUNCTION: Registration =
    Registration { kind: Kind::FunctionLogGroup, depends_on: &[Kind::KmsKey], operations: OPERATIONS };
