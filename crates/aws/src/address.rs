//! How the aws crate relates addresses, through the spec crate's typed `Address`: `Kind` cannot tell the bucket
//! from the access-log bucket or the queue from the dead-letter queue, and the resources read together (a bucket
//! and its notification, a filter and its log group) find each other by address. No string surgery here: each
//! function parses or builds an `Address`.

use std::sync::LazyLock;

use eksaudit_spec::address::{ClusterSlot, RegionalSlot, RoleSlot};
use eksaudit_spec::Address;

/// `role.{slot}`, made once: the reconciler names the roles as dependencies of most steps.
pub(crate) fn role(slot: RoleSlot) -> &'static str {
    static ROLES: LazyLock<Vec<(RoleSlot, String)>> =
        LazyLock::new(|| RoleSlot::ALL.iter().map(|s| (*s, Address::Role(*s).to_string())).collect());
    ROLES.iter().find(|(s, _)| *s == slot).map_or("", |(_, a)| a.as_str())
}

/// `region.{region}.{slot}`.
pub(crate) fn regional(region: &str, slot: RegionalSlot) -> String {
    Address::regional(region, slot).to_string()
}

/// `region.{region}.cluster.{cluster}.{slot}`.
pub(crate) fn cluster(region: &str, cluster: &str, slot: ClusterSlot) -> String {
    Address::cluster(region, cluster, slot).to_string()
}

/// The typed form of an address the plan crate made (every one parses; see the spec crate's tests).
fn parse(address: &str) -> Option<Address> {
    address.parse().ok()
}

/// The same place with another regional slot: the bucket's notification, the function's permission.
fn sibling(address: &str, slot: RegionalSlot) -> String {
    match parse(address) {
        Some(Address::Regional { region, .. }) => regional(&region, slot),
        _ => address.to_string(),
    }
}

/// The same cluster with another slot: the filter's log group, the alerts filter beside it.
fn cluster_sibling(address: &str, slot: ClusterSlot) -> String {
    match parse(address) {
        Some(Address::ClusterResource { region, cluster: c, .. }) => cluster(&region, &c, slot),
        _ => address.to_string(),
    }
}

fn regional_slot(address: &str) -> Option<RegionalSlot> {
    match parse(address)? {
        Address::Regional { slot, .. } => Some(slot),
        _ => None,
    }
}

/// Which of a region's two buckets an address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BucketRole {
    /// The bucket the logs are delivered to.
    Logs,
    /// The bucket its server access logs go to.
    AccessLogs,
}

pub(crate) fn bucket_role(address: &str) -> BucketRole {
    match regional_slot(address) {
        Some(RegionalSlot::AccessLogBucket) => BucketRole::AccessLogs,
        _ => BucketRole::Logs,
    }
}

/// An email or HTTPS subscription of the alerts topic (not the consumer's subscription of the pipeline's topic).
pub(crate) fn is_alerts_subscription(address: &str) -> bool {
    matches!(parse(address), Some(Address::AlertsSubscription { .. }))
}

/// The prefix every alerts subscription of a region's address starts with.
pub(crate) fn alerts_subscriptions(region: &str) -> String {
    format!("{}.{}.", Address::Region { region: region.to_string() }, eksaudit_spec::address::ALERTS_SUBSCRIPTION)
}

/// The alerts filter on a cluster's log group (not the pipeline's own filter).
pub(crate) fn is_alerts_filter(address: &str) -> bool {
    matches!(parse(address), Some(Address::ClusterResource { slot: ClusterSlot::AlertsFilter, .. }))
}

/// The notification entry on the bucket at `bucket`.
pub(crate) fn notification_of(bucket: &str) -> String {
    sibling(bucket, RegionalSlot::BucketNotification)
}

/// The log group the pipeline's filter at `filter` is on.
pub(crate) fn log_group_of(filter: &str) -> String {
    cluster_sibling(filter, ClusterSlot::LogGroup)
}

/// The alerts filter beside the pipeline's filter at `filter`.
pub(crate) fn alerts_filter_of(filter: &str) -> String {
    cluster_sibling(filter, ClusterSlot::AlertsFilter)
}

/// The permission of the alerts function at `function`.
pub(crate) fn permission_of(function: &str) -> String {
    sibling(function, RegionalSlot::AlertsPermission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_told_apart_and_related() {
        assert_eq!(bucket_role("region.eu-central-1.bucket"), BucketRole::Logs);
        assert_eq!(regional("r", RegionalSlot::Topic), "region.r.topic");
        assert_eq!((role(RoleSlot::Firehose), role(RoleSlot::Alerts)), ("role.firehose", "role.alerts"));
        assert_eq!(bucket_role("region.eu-central-1.access_log_bucket"), BucketRole::AccessLogs);
        assert_eq!(notification_of("region.r.bucket"), "region.r.bucket_notification");
        let filter = cluster("r", "prod-1", ClusterSlot::Filter);
        assert_eq!(log_group_of(&filter), "region.r.cluster.prod-1.log_group");
        assert_eq!(alerts_filter_of(&filter), "region.r.cluster.prod-1.alerts_filter");
        assert!(is_alerts_filter(&alerts_filter_of(&filter)) && !is_alerts_filter(&filter));
        assert_eq!(permission_of("region.r.alerts_function"), "region.r.alerts_permission");
        assert!(is_alerts_subscription(&format!("{}email-0", alerts_subscriptions("r"))));
        assert!(!is_alerts_subscription("region.r.topic_subscription"));
    }
}
