//! Subscription filters on a matched cluster's log group: the pipeline's (to the stream, first claim on the
//! group's two slots) and, with `[alerts]`, the alerts filter (to the alert function). Ours by name.
//!
//! Each filter also marks its log group with the pipeline's tag ([`log_group_tag`], put before the filter and
//! taken off after the last filter of ours is gone), so what the pipeline left on clusters the spec no longer
//! selects is found with one Resource Groups Tagging API read per region, instead of a read of every cluster's
//! log group.

use std::collections::BTreeMap;

use eksaudit_spec::{log_group_name, Address, ClusterSlot, RoleKind};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_passing, Operation, LOGS_PRINCIPAL};

/// The tag key the pipeline's filters (its own and the alerts filter) mark their log group with, the value being
/// the pipeline's name: one key per pipeline, so two pipelines filtering one group never share a mark.
pub fn log_group_tag(pipeline: &str) -> String {
    format!("eksaudit:filter:{pipeline}")
}

fn filter(
    address: Address,
    region: &str,
    name: String,
    cluster: &str,
    pattern: &str,
    destination: String,
    role: String,
) -> DesiredResource {
    resource(
        address.to_string(),
        Kind::SubscriptionFilter,
        Some(region),
        name,
        BTreeMap::from([
            ("log_group".into(), Field::exact(json!(log_group_name(cluster))).force_new()),
            ("filter_pattern".into(), Field::exact(json!(pattern))),
            ("destination_arn".into(), Field::exact(json!(destination))),
            ("role_arn".into(), Field::exact(json!(role))),
        ]),
    )
}

/// The filter with the mark it puts on its log group.
fn marking(n: &Names<'_>, mut filter: DesiredResource) -> DesiredResource {
    filter.fields.insert("log_group_tag".into(), Field::exact(json!(log_group_tag(&n.spec.pipeline.name))));
    filter
}

/// The pipeline's filter: the spec's pattern into the stream, as the CloudWatch Logs role.
pub fn desired(n: &Names<'_>, region: &str, cluster: &str) -> DesiredResource {
    marking(
        n,
        filter(
            Address::cluster(region, cluster, ClusterSlot::Filter),
            region,
            n.spec.filter_name(),
            cluster,
            &n.spec.filter.pattern,
            n.stream_arn(region),
            n.role_arn(RoleKind::Cloudwatch),
        ),
    )
}

/// `[alerts]`: the alerts pattern into the alert function.
pub fn alerts(n: &Names<'_>, region: &str, cluster: &str, pattern: &str) -> DesiredResource {
    marking(
        n,
        filter(
            Address::cluster(region, cluster, ClusterSlot::AlertsFilter),
            region,
            n.alerts_name(),
            cluster,
            pattern,
            n.alerts_function_arn(region),
            // A Lambda destination takes no role: its resource policy lets CloudWatch Logs invoke it.
            String::new(),
        ),
    )
}

pub const OPERATIONS: &[Operation] = &[
    op("logs", "DescribeSubscriptionFilters", "logs:DescribeSubscriptionFilters"),
    // Which unmarked log groups of selected clusters exist, 50 names a call: the others' filters are not read.
    op("logs", "DescribeLogGroups", "logs:DescribeLogGroups"),
    op_passing("logs", "PutSubscriptionFilter", "logs:PutSubscriptionFilter", &[], LOGS_PRINCIPAL),
    op("logs", "DeleteSubscriptionFilter", "logs:DeleteSubscriptionFilter"),
    // The log group's mark: put before the filter, taken off after it, found per region by its key.
    op("logs", "TagResource", "logs:TagResource"),
    op("logs", "UntagResource", "logs:UntagResource"),
    op("tag", "GetResources", "tag:GetResources"),
];

/// On the cluster's log group, into the stream as the CloudWatch Logs role, or into the alert function once its
/// permission lets CloudWatch Logs invoke it.
pub const KIND: Registration = Registration {
    kind: Kind::SubscriptionFilter,
    depends_on: &[
        Kind::DeliveryStream,
        Kind::Role,
        Kind::LogGroup,
        Kind::FunctionPermission,
        Kind::BucketNotification,
        Kind::TopicSubscription,
    ],
    operations: OPERATIONS,
};
