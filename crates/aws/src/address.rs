//! Every place the aws crate builds or reads an address. `Kind` cannot tell the bucket from the access-log bucket
//! or the queue from the dead-letter queue, and the resources read together (a bucket and its notification, a
//! filter and its log group) find each other by address: all of that string work is here, one function each, to
//! be replaced by the plan crate's typed `Address`.

/// `region.{region}.{what}`.
pub(crate) fn regional(region: &str, what: &str) -> String {
    format!("region.{region}.{what}")
}

/// `region.{region}.cluster.{cluster}.{what}`.
pub(crate) fn cluster(region: &str, cluster: &str, what: &str) -> String {
    format!("region.{region}.cluster.{cluster}.{what}")
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
    if address.ends_with(".access_log_bucket") {
        BucketRole::AccessLogs
    } else {
        BucketRole::Logs
    }
}

/// Which of a region's two queues an address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueRole {
    /// The queue S3 notifies.
    Main,
    /// Where the main queue's failed messages go.
    DeadLetter,
}

pub(crate) fn queue_role(address: &str) -> QueueRole {
    if address.ends_with(".queue") {
        QueueRole::Main
    } else {
        QueueRole::DeadLetter
    }
}

/// An email or HTTPS subscription of the alerts topic (not the consumer's subscription of the pipeline's topic).
pub(crate) fn is_alerts_subscription(address: &str) -> bool {
    address.contains(".alerts_subscription.")
}

/// The prefix of every alerts subscription of a region.
pub(crate) fn alerts_subscriptions(region: &str) -> String {
    format!("region.{region}.alerts_subscription.")
}

/// The alerts filter on a cluster's log group (not the pipeline's own filter).
pub(crate) fn is_alerts_filter(address: &str) -> bool {
    address.ends_with(".alerts_filter")
}

/// The notification entry on the bucket at `bucket`.
pub(crate) fn notification_of(bucket: &str) -> String {
    bucket.replace(".bucket", ".bucket_notification")
}

/// The log group the pipeline's filter at `filter` is on.
pub(crate) fn log_group_of(filter: &str) -> String {
    filter.replace(".filter", ".log_group")
}

/// The alerts filter beside the pipeline's filter at `filter`.
pub(crate) fn alerts_filter_of(filter: &str) -> String {
    format!("{}alerts_filter", filter.trim_end_matches("filter"))
}

/// The permission of the alerts function at `function`.
pub(crate) fn permission_of(function: &str) -> String {
    function.replace("alerts_function", "alerts_permission")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_told_apart_and_related() {
        assert_eq!(bucket_role("region.eu-central-1.bucket"), BucketRole::Logs);
        assert_eq!(bucket_role("region.eu-central-1.access_log_bucket"), BucketRole::AccessLogs);
        assert_eq!(queue_role("region.eu-central-1.queue"), QueueRole::Main);
        assert_eq!(queue_role("region.eu-central-1.dead_letter_queue"), QueueRole::DeadLetter);
        assert_eq!(notification_of("region.r.bucket"), "region.r.bucket_notification");
        let filter = cluster("r", "prod-1", "filter");
        assert_eq!(log_group_of(&filter), "region.r.cluster.prod-1.log_group");
        assert_eq!(alerts_filter_of(&filter), "region.r.cluster.prod-1.alerts_filter");
        assert!(is_alerts_filter(&alerts_filter_of(&filter)) && !is_alerts_filter(&filter));
        assert_eq!(permission_of("region.r.alerts_function"), "region.r.alerts_permission");
        assert!(is_alerts_subscription(&format!("{}email-0", alerts_subscriptions("r"))));
    }
}
