//! Resource addresses: the stable, human-readable names that tie the desired state, what live AWS holds, the
//! plan and drift together (`role.reader`, `region.eu-central-1.bucket`,
//! `region.eu-central-1.cluster.prod-1.filter`). Users see them, adopt them and ignore drift by them, so they are
//! a typed value with one [`Display`](std::fmt::Display) and one [`FromStr`] instead of strings built and taken
//! apart in many places. The spec owns them because `[drift] ignore` is validated here, and the vocabulary it
//! accepts is derived from the slot lists below ([`resource_words`]).

use std::fmt;
use std::str::FromStr;

use crate::naming::RoleKind;

/// Declares a slot enum: its variants with their address words, `ALL`, `name()` and the reverse lookup.
macro_rules! slots {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The word of the address.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)*
                }
            }

            pub fn from_name(word: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|s| s.name() == word)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

slots! {
    /// The account-wide roles: `role.<slot>`.
    RoleSlot {
        /// Assumed by Firehose to write into the buckets.
        Firehose => "firehose",
        /// Assumed by CloudWatch Logs to put records into the streams.
        Cloudwatch => "cloudwatch",
        /// Assumed by the consumer to read the logs.
        Reader => "reader",
        /// The reader role left under another preset's name (Sentinel's `OIDC_` prefix).
        FormerReader => "former_reader",
        /// The role the alert function runs as (`[alerts]`).
        Alerts => "alerts",
        /// The role the Sentinel transform (the Firehose stream's Lambda processor) runs as.
        Transform => "transform",
    }
}

slots! {
    /// What the pipeline has once per region: `region.<r>.<slot>`.
    RegionalSlot {
        KmsKey => "kms_key",
        AccessLogBucket => "access_log_bucket",
        Bucket => "bucket",
        Topic => "topic",
        TopicSubscription => "topic_subscription",
        DeadLetterQueue => "dead_letter_queue",
        Queue => "queue",
        BucketNotification => "bucket_notification",
        FirehoseLogGroup => "firehose_log_group",
        Stream => "stream",
        AlertsTopic => "alerts_topic",
        AlertsLogGroup => "alerts_log_group",
        AlertsFunction => "alerts_function",
        AlertsPermission => "alerts_permission",
        /// Where Lambda puts an alert the function failed to publish after its retries.
        AlertsDeadLetterQueue => "alerts_dead_letter_queue",
        /// The Sentinel transform's log group and function: the stream's Lambda processor (`preset = "sentinel"`).
        TransformLogGroup => "transform_log_group",
        TransformFunction => "transform_function",
        /// Not a resource: the region's cluster list, where a failed read of it (a region removed from the spec)
        /// is reported.
        Clusters => "clusters",
    }
}

slots! {
    /// What the pipeline has once per matched cluster: `region.<r>.cluster.<c>.<slot>`.
    ClusterSlot {
        AuditLogging => "audit_logging",
        LogGroup => "log_group",
        Filter => "filter",
        AlertsFilter => "alerts_filter",
    }
}

impl From<RoleKind> for RoleSlot {
    fn from(kind: RoleKind) -> RoleSlot {
        match kind {
            RoleKind::Firehose => RoleSlot::Firehose,
            RoleKind::Cloudwatch => RoleSlot::Cloudwatch,
            RoleKind::Reader => RoleSlot::Reader,
        }
    }
}

/// The first word of a role's address.
pub const ROLE: &str = "role";
/// The first word of an OIDC provider's address.
pub const OIDC_PROVIDER: &str = "oidc_provider";
/// The word before a region's name.
pub const REGION: &str = "region";
/// The word before a cluster's name, inside a region.
pub const CLUSTER: &str = "cluster";
/// The field word of a delivery finding (`eksaudit drift`): `region.<r>.stream.delivery`,
/// `region.<r>.cluster.<c>.filter.delivery`; what `[drift] ignore` names to accept one.
pub const DELIVERY: &str = "delivery";
/// The word of an alerts topic's email or HTTPS subscription, before its `<protocol>-<index>`.
pub const ALERTS_SUBSCRIPTION: &str = "alerts_subscription";

/// Where something of the pipeline is, as plan, drift and `[drift] ignore` name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    /// `role.<slot>`
    Role(RoleSlot),
    /// `oidc_provider.<cloud>`: the IAM OIDC provider a web-identity reader is trusted through, per Azure cloud.
    OidcProvider { cloud: String },
    /// `region.<r>`: not a resource; where the plan says something about a region (a glob that matches nothing).
    Region { region: String },
    /// `region.<r>.<slot>`
    Regional { region: String, slot: RegionalSlot },
    /// `region.<r>.alerts_subscription.<protocol>-<index>`: the alerts topic's subscriptions, in spec order.
    AlertsSubscription { region: String, protocol: String, index: usize },
    /// `region.<r>.cluster.<c>`: not a resource; where a cluster the spec names but EKS lacks is reported.
    Cluster { region: String, cluster: String },
    /// `region.<r>.cluster.<c>.<slot>`
    ClusterResource { region: String, cluster: String, slot: ClusterSlot },
}

impl Address {
    pub fn regional(region: &str, slot: RegionalSlot) -> Address {
        Address::Regional { region: region.to_string(), slot }
    }

    pub fn cluster(region: &str, cluster: &str, slot: ClusterSlot) -> Address {
        Address::ClusterResource { region: region.to_string(), cluster: cluster.to_string(), slot }
    }

    pub fn oidc_provider(cloud: &str) -> Address {
        Address::OidcProvider { cloud: cloud.to_string() }
    }

    /// The region the address is in; `None` for the account-wide ones.
    pub fn region(&self) -> Option<&str> {
        match self {
            Address::Role(_) | Address::OidcProvider { .. } => None,
            Address::Region { region }
            | Address::Regional { region, .. }
            | Address::AlertsSubscription { region, .. }
            | Address::Cluster { region, .. }
            | Address::ClusterResource { region, .. } => Some(region),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Role(slot) => write!(f, "{ROLE}.{slot}"),
            Address::OidcProvider { cloud } => write!(f, "{OIDC_PROVIDER}.{cloud}"),
            Address::Region { region } => write!(f, "{REGION}.{region}"),
            Address::Regional { region, slot } => write!(f, "{REGION}.{region}.{slot}"),
            Address::AlertsSubscription { region, protocol, index } => {
                write!(f, "{REGION}.{region}.{ALERTS_SUBSCRIPTION}.{protocol}-{index}")
            }
            Address::Cluster { region, cluster } => write!(f, "{REGION}.{region}.{CLUSTER}.{cluster}"),
            Address::ClusterResource { region, cluster, slot } => {
                write!(f, "{REGION}.{region}.{CLUSTER}.{cluster}.{slot}")
            }
        }
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError(pub String);

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a resource address", self.0)
    }
}

impl std::error::Error for AddressError {}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        let err = || AddressError(s.to_string());
        let parts: Vec<&str> = s.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(err());
        }
        let address = match parts.as_slice() {
            [ROLE, slot] => Address::Role(RoleSlot::from_name(slot).ok_or_else(err)?),
            [OIDC_PROVIDER, cloud] => Address::oidc_provider(cloud),
            [REGION, region] => Address::Region { region: region.to_string() },
            [REGION, region, slot] => Address::regional(region, RegionalSlot::from_name(slot).ok_or_else(err)?),
            [REGION, region, ALERTS_SUBSCRIPTION, endpoint] => {
                let (protocol, index) = endpoint.rsplit_once('-').ok_or_else(err)?;
                // Only the canonical spelling of the index, so an address prints back as it was read.
                let canonical = !index.is_empty() && (index == "0" || !index.starts_with('0'));
                let index = index.parse().ok().filter(|_| canonical && !protocol.is_empty()).ok_or_else(err)?;
                Address::AlertsSubscription { region: region.to_string(), protocol: protocol.to_string(), index }
            }
            [REGION, region, CLUSTER, cluster] => {
                Address::Cluster { region: region.to_string(), cluster: cluster.to_string() }
            }
            [REGION, region, CLUSTER, cluster, slot] => {
                Address::cluster(region, cluster, ClusterSlot::from_name(slot).ok_or_else(err)?)
            }
            _ => return Err(err()),
        };
        Ok(address)
    }
}

impl Address {
    /// Whether the address names one resource eksaudit creates and could take over (`[pipeline] adopt`), not a
    /// place the plan reports on: a region, a cluster, a region's cluster list.
    pub fn is_resource(&self) -> bool {
        !matches!(
            self,
            Address::Region { .. } | Address::Cluster { .. } | Address::Regional { slot: RegionalSlot::Clusters, .. }
        )
    }

    /// Whether `[pipeline] adopt` can take the resource over: what carries eksaudit's owner tag (the roles, and
    /// per region the key, buckets, topics, queues, stream, functions and their log groups). Filters,
    /// subscriptions, notification entries and permissions are found by name, a cluster's log group is EKS's, an
    /// OIDC provider is shared: none is adopted. In step with the plan crate's `Kind::owner_tagged` (tested there).
    pub fn is_adoptable(&self) -> bool {
        match self {
            Address::Role(_) => true,
            Address::Regional { slot, .. } => matches!(
                slot,
                RegionalSlot::KmsKey
                    | RegionalSlot::AccessLogBucket
                    | RegionalSlot::Bucket
                    | RegionalSlot::Topic
                    | RegionalSlot::DeadLetterQueue
                    | RegionalSlot::Queue
                    | RegionalSlot::FirehoseLogGroup
                    | RegionalSlot::Stream
                    | RegionalSlot::AlertsTopic
                    | RegionalSlot::AlertsLogGroup
                    | RegionalSlot::AlertsFunction
                    | RegionalSlot::AlertsDeadLetterQueue
                    | RegionalSlot::TransformLogGroup
                    | RegionalSlot::TransformFunction
            ),
            _ => false,
        }
    }

    /// The resource address a mistyped one most likely meant: one word of its shape (the first, or the slot)
    /// replaced by the nearest word that makes it parse. `None` when no single near word does.
    pub fn did_you_mean(text: &str) -> Option<Address> {
        let parts: Vec<&str> = text.split('.').collect();
        let firsts = [ROLE, OIDC_PROVIDER, REGION];
        let slots: Vec<&str> = match parts.as_slice() {
            [_, _] => RoleSlot::ALL.iter().map(|s| s.name()).collect(),
            [_, _, _] => RegionalSlot::ALL.iter().filter(|s| **s != RegionalSlot::Clusters).map(|s| s.name()).collect(),
            [_, _, _, _, _] => ClusterSlot::ALL.iter().map(|s| s.name()).collect(),
            _ => Vec::new(),
        };
        let with = |index: usize, word: &str| {
            let mut fixed = parts.clone();
            fixed[index] = word;
            fixed.join(".").parse::<Address>().ok().filter(Address::is_resource)
        };
        let last = parts.len() - 1;
        let mut candidates = Vec::new();
        if let Some(word) = crate::suggest::closest(parts[last], slots.iter().copied()) {
            candidates.extend(with(last, word));
        }
        if let Some(word) = crate::suggest::closest(parts[0], firsts) {
            candidates.extend(with(0, word));
        }
        if let [_, _, cluster, _, _] = parts.as_slice() {
            if let Some(word) = crate::suggest::closest(cluster, [CLUSTER]) {
                candidates.extend(with(2, word));
            }
        }
        candidates.into_iter().next()
    }
}

/// The words a drift finding path can start with (after an optional `region.<name>.`): every address's first
/// word, derived from the slot lists so that every path plan and drift print is accepted by `[drift] ignore`.
pub fn resource_words() -> Vec<&'static str> {
    let mut words = vec![ROLE, OIDC_PROVIDER];
    words.extend(RegionalSlot::ALL.iter().map(|s| s.name()));
    words.extend([ALERTS_SUBSCRIPTION, CLUSTER]);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(address: Address) {
        let text = address.to_string();
        assert_eq!(text.parse::<Address>(), Ok(address), "{text}");
    }

    #[test]
    fn every_slot_round_trips() {
        for slot in RoleSlot::ALL {
            round_trip(Address::Role(*slot));
        }
        for slot in RegionalSlot::ALL {
            round_trip(Address::regional("eu-central-1", *slot));
        }
        for slot in ClusterSlot::ALL {
            round_trip(Address::cluster("us-gov-west-1", "prod_1-a", *slot));
        }
        round_trip(Address::oidc_provider("commercial"));
        round_trip(Address::Region { region: "eu-central-1".into() });
        round_trip(Address::Cluster { region: "eu-central-1".into(), cluster: "prod-1".into() });
        for (protocol, index) in [("email", 0), ("https", 12)] {
            round_trip(Address::AlertsSubscription { region: "eu-west-1".into(), protocol: protocol.into(), index });
        }
    }

    #[test]
    fn addresses_print_as_plan_and_drift_show_them() {
        assert_eq!(Address::Role(RoleKind::Reader.into()).to_string(), "role.reader");
        assert_eq!(Address::Role(RoleSlot::FormerReader).to_string(), "role.former_reader");
        assert_eq!(Address::regional("eu-central-1", RegionalSlot::KmsKey).to_string(), "region.eu-central-1.kms_key");
        assert_eq!(
            Address::cluster("eu-central-1", "prod-1", ClusterSlot::AlertsFilter).to_string(),
            "region.eu-central-1.cluster.prod-1.alerts_filter"
        );
        let subscription: Address = "region.eu-central-1.alerts_subscription.email-0".parse().unwrap();
        assert_eq!(
            subscription,
            Address::AlertsSubscription { region: "eu-central-1".into(), protocol: "email".into(), index: 0 }
        );
        assert_eq!(subscription.region(), Some("eu-central-1"));
    }

    #[test]
    fn what_is_not_an_address_is_refused() {
        for bad in [
            "",
            "role",
            "role.writer",
            "role.reader.tags",
            "bucket",
            "region.eu-central-1.buckets",
            "region..bucket",
            "region.eu-central-1.cluster.prod-1.filters",
            "region.eu-central-1.alerts_subscription.email",
            "region.eu-central-1.alerts_subscription.-0",
            "region.eu-central-1.alerts_subscription.email-01",
            "region.eu-central-1.cluster.prod-1.filter.extra",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_mistyped_address_is_matched_to_the_resource_it_likely_meant() {
        for (typo, meant) in [
            ("region.eu-central-1.bukcet", "region.eu-central-1.bucket"),
            ("region.eu-central-1.acces_log_bucket", "region.eu-central-1.access_log_bucket"),
            ("regoin.eu-central-1.bucket", "region.eu-central-1.bucket"),
            ("role.readr", "role.reader"),
            ("rol.reader", "role.reader"),
            ("region.eu-central-1.cluster.prod-1.fliter", "region.eu-central-1.cluster.prod-1.filter"),
            ("region.eu-central-1.clustr.prod-1.filter", "region.eu-central-1.cluster.prod-1.filter"),
        ] {
            assert_eq!(Address::did_you_mean(typo).map(|a| a.to_string()).as_deref(), Some(meant), "{typo}");
        }
        for far in ["bucket", "region.eu-central-1.topics_and_queues", "role.writer", "region.eu-central-1.clusterz"] {
            assert_eq!(Address::did_you_mean(far), None, "{far}");
        }
    }

    #[test]
    fn only_resources_are_resources() {
        assert!(Address::regional("r", RegionalSlot::Bucket).is_resource());
        assert!(Address::Role(RoleSlot::Reader).is_resource());
        assert!(Address::cluster("r", "c", ClusterSlot::Filter).is_resource());
        assert!(!Address::Region { region: "r".into() }.is_resource());
        assert!(!Address::Cluster { region: "r".into(), cluster: "c".into() }.is_resource());
        assert!(!Address::regional("r", RegionalSlot::Clusters).is_resource());
    }

    #[test]
    fn slot_words_are_unique_and_lower_snake_case() {
        let words = resource_words();
        let mut sorted = words.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), words.len(), "{words:?}");
        let cluster_words: Vec<&str> = ClusterSlot::ALL.iter().map(|s| s.name()).collect();
        let role_words: Vec<&str> = RoleSlot::ALL.iter().map(|s| s.name()).collect();
        for w in words.iter().chain(&cluster_words).chain(&role_words) {
            assert!(w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{w}");
        }
    }
}
