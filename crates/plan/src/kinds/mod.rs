//! One module per kind of AWS resource, and the registry of all of them.
//!
//! Each module owns what its kind means: the desired resource(s) it builds from the spec (fields, policy
//! documents, hardened constants), the AWS operations its observe, create, update and delete call (with their
//! IAM actions), and the kinds that must exist before it. [`REGISTRY`] lists every kind once; the operator
//! policy's table ([`operations`], `permissions::OPERATIONS`) and the apply and destroy orders ([`apply_order`],
//! [`destroy_order`]) are derived from it, so a new kind is one module and one line here. [`needs`] narrows a kind's
//! dependencies to the resources one resource really needs, by address: the edges of the reconciler's walk.

use std::collections::BTreeSet;

use eksaudit_spec::address::{ClusterSlot, RegionalSlot, RoleSlot};
use eksaudit_spec::Address;

use crate::model::Kind;
use crate::operation::{op, Operation};

pub mod bucket;
pub mod bucket_notification;
pub mod cluster_logging;
pub mod filter;
pub mod function;
pub mod kms_key;
pub mod log_group;
pub mod oidc_provider;
pub mod permission;
pub mod queue;
pub mod role;
pub mod stream;
pub mod topic;
pub mod topic_subscription;

/// What the registry knows of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    pub kind: Kind,
    /// The kinds whose resources must exist before one of this kind is created (and outlive it on destroy):
    /// what its fields name or what it writes into.
    pub depends_on: &'static [Kind],
    /// Every AWS operation the kind's observe, create, update and delete call.
    pub operations: &'static [Operation],
}

/// Every kind, once. Kinds with no order between them keep this order.
pub const REGISTRY: &[Registration] = &[
    oidc_provider::KIND,
    role::KIND,
    kms_key::KIND,
    bucket::KIND,
    topic::KIND,
    topic_subscription::KIND,
    queue::KIND,
    bucket_notification::KIND,
    log_group::FIREHOSE,
    stream::KIND,
    cluster_logging::KIND,
    log_group::CLUSTER,
    filter::KIND,
    log_group::FUNCTION,
    function::KIND,
    permission::KIND,
];

/// Calls that belong to no resource kind: who the caller is, which clusters exist, drift's notice, the member
/// accounts and their roles.
pub const ACCOUNT_OPERATIONS: &[Operation] = &[
    op("sts", "GetCallerIdentity", "sts:GetCallerIdentity"),
    op("eks", "ListClusters", "eks:ListClusters"),
    // `drift --notify-topic`.
    op("sns", "Publish", "sns:Publish"),
    // `[accounts]`: which member accounts (Organizations, from the caller's account) and into each its role.
    op("organizations", "ListAccounts", "organizations:ListAccounts"),
    op("organizations", "ListAccountsForParent", "organizations:ListAccountsForParent"),
    op("organizations", "ListOrganizationalUnitsForParent", "organizations:ListOrganizationalUnitsForParent"),
    op("sts", "AssumeRole", "sts:AssumeRole"),
];

/// A kind's registration.
pub fn registration(kind: Kind) -> &'static Registration {
    REGISTRY.iter().find(|r| r.kind == kind).unwrap_or_else(|| panic!("{kind:?} is not in kinds::REGISTRY"))
}

/// Every operation eksaudit calls, each once: the account's, then every kind's in registry order, then the
/// delivery health reads (`eksaudit status`). Kinds that
/// share a service's calls (the three log groups) list the same entries; the first is kept.
pub fn operations() -> Vec<Operation> {
    let mut seen = BTreeSet::new();
    ACCOUNT_OPERATIONS
        .iter()
        .chain(REGISTRY.iter().flat_map(|r| r.operations))
        .chain(crate::health::OPERATIONS)
        .filter(|o| seen.insert((o.service, o.name)))
        .copied()
        .collect()
}

/// The order apply creates kinds in: every kind after the kinds it depends on (a topological walk over
/// [`Registration::depends_on`], ties in registry order).
pub fn apply_order() -> Vec<Kind> {
    let mut order: Vec<Kind> = Vec::new();
    while order.len() < REGISTRY.len() {
        let next = REGISTRY
            .iter()
            .find(|r| !order.contains(&r.kind) && r.depends_on.iter().all(|d| order.contains(d)))
            .unwrap_or_else(|| panic!("the kinds' dependencies form a cycle after {order:?}"));
        order.push(next.kind);
    }
    order
}

/// The order destroy deletes kinds in: the reverse of [`apply_order`], so nothing goes while something of ours
/// still names it.
pub fn destroy_order() -> Vec<Kind> {
    let mut order = apply_order();
    order.reverse();
    order
}

/// Whether `dependent` needs `dependency` in place before it is created or changed (and gone only after it, on
/// destroy): the resource-level edges of the walk, each the narrowing of a kind-level [`Registration::depends_on`]
/// to the resources in the dependent's scope (its cluster, its region, or the account's) that its fields name or
/// that it writes into. Resources of the same kind need each other too (the bucket its access-log bucket, the queue
/// its dead-letter queue, the alerts filter the pipeline's). The reconciler walks these; what holds for whole
/// phases (the account's roles before any region, what a removed region left before the roles) is its own.
pub fn needs(dependent: &Address, dependency: &Address) -> bool {
    use ClusterSlot as C;
    use RegionalSlot as R;
    let role = |roles: &[RoleSlot]| matches!(dependency, Address::Role(r) if roles.contains(r));
    let regional = |region: &str, slots: &[RegionalSlot]| matches!(dependency, Address::Regional { region: r, slot } if r == region && slots.contains(slot));
    match dependent {
        // Its trust names the web-identity provider.
        Address::Role(RoleSlot::Reader) => matches!(dependency, Address::OidcProvider { .. }),
        Address::Role(_) | Address::OidcProvider { .. } | Address::Region { .. } | Address::Cluster { .. } => false,
        Address::AlertsSubscription { region, .. } => regional(region, &[R::AlertsTopic]),
        Address::Regional { region, slot } => match slot {
            // The key policy names who may use the key.
            R::KmsKey => role(&[RoleSlot::Firehose, RoleSlot::Reader, RoleSlot::Alerts]),
            // The key's tags are what vouch for a bucket an interrupted apply left untagged: it comes first.
            R::AccessLogBucket => regional(region, &[R::KmsKey]) || role(&[RoleSlot::Firehose, RoleSlot::Reader]),
            R::Bucket => {
                regional(region, &[R::KmsKey, R::AccessLogBucket]) || role(&[RoleSlot::Firehose, RoleSlot::Reader])
            }
            R::Topic | R::AlertsTopic | R::FirehoseLogGroup | R::AlertsLogGroup | R::TransformLogGroup => {
                regional(region, &[R::KmsKey])
            }
            R::DeadLetterQueue | R::AlertsDeadLetterQueue => regional(region, &[R::KmsKey]),
            // Its policy names the reader; its redrive policy the dead-letter queue.
            R::Queue => regional(region, &[R::KmsKey, R::DeadLetterQueue]) || role(&[RoleSlot::Reader]),
            R::TopicSubscription => regional(region, &[R::Topic]),
            R::BucketNotification => regional(region, &[R::Bucket, R::Topic, R::Queue]),
            // No environment: nothing of it is under the key.
            R::TransformFunction => regional(region, &[R::TransformLogGroup]) || role(&[RoleSlot::Transform]),
            R::Stream => {
                regional(region, &[R::KmsKey, R::Bucket, R::FirehoseLogGroup, R::TransformFunction])
                    || role(&[RoleSlot::Firehose])
            }
            // Its environment is under the key.
            R::AlertsFunction => {
                regional(region, &[R::KmsKey, R::AlertsTopic, R::AlertsLogGroup, R::AlertsDeadLetterQueue])
                    || role(&[RoleSlot::Alerts])
            }
            R::AlertsPermission => regional(region, &[R::AlertsFunction]),
            R::Clusters => false,
        },
        Address::ClusterResource { region, cluster, slot } => {
            let own = |slots: &[ClusterSlot]| {
                matches!(dependency, Address::ClusterResource { region: r, cluster: c, slot }
                    if r == region && c == cluster && slots.contains(slot))
            };
            match slot {
                C::AuditLogging => false,
                // Audit logging goes on first: EKS makes the log group then, and ours is the fallback.
                C::LogGroup => own(&[C::AuditLogging]) || regional(region, &[R::KmsKey]),
                // Records flow once the filter is on: into the stream, landing in a bucket that tells the consumer
                // of each object (its notification, the consumer's subscription to the topic).
                C::Filter => {
                    own(&[C::LogGroup])
                        || regional(region, &[R::Stream, R::BucketNotification, R::TopicSubscription])
                        || role(&[RoleSlot::Cloudwatch])
                }
                // After the pipeline's filter, which has the first claim on the log group's two filter slots.
                C::AlertsFilter => own(&[C::LogGroup, C::Filter]) || regional(region, &[R::AlertsPermission]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once() {
        let registered: Vec<Kind> = REGISTRY.iter().map(|r| r.kind).collect();
        for kind in Kind::ALL {
            assert_eq!(registered.iter().filter(|k| **k == kind).count(), 1, "{kind:?}");
        }
        assert_eq!(registered.len(), Kind::ALL.len());
    }

    /// `Kind::ALL` holds every kind: a new variant fails to compile here until it is listed.
    #[test]
    fn kind_all_is_every_kind() {
        let position = |kind: Kind| match kind {
            Kind::OidcProvider => 0,
            Kind::Role => 1,
            Kind::KmsKey => 2,
            Kind::Bucket => 3,
            Kind::Topic => 4,
            Kind::TopicSubscription => 5,
            Kind::Queue => 6,
            Kind::BucketNotification => 7,
            Kind::FirehoseLogGroup => 8,
            Kind::DeliveryStream => 9,
            Kind::ClusterLogging => 10,
            Kind::LogGroup => 11,
            Kind::SubscriptionFilter => 12,
            Kind::FunctionLogGroup => 13,
            Kind::Function => 14,
            Kind::FunctionPermission => 15,
        };
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(position(kind), i, "{kind:?}");
        }
    }

    #[test]
    fn apply_order_is_a_topological_order_of_every_kind() {
        let order = apply_order();
        assert_eq!(order.iter().collect::<BTreeSet<_>>().len(), Kind::ALL.len(), "{order:?}");
        for (i, kind) in order.iter().enumerate() {
            for dep in registration(*kind).depends_on {
                let at = order.iter().position(|k| k == dep).expect("registered");
                assert!(at < i, "{kind:?} comes before {dep:?}, which it depends on: {order:?}");
            }
        }
        let destroy = destroy_order();
        assert_eq!(destroy.first(), order.last());
        assert_eq!(destroy.len(), order.len());
    }

    #[test]
    fn apply_order_is_the_order_apply_walks() {
        // The reconciler's walk (ARCHITECTURE.md): identities, the key, storage and notification, delivery, the
        // alerts, then each cluster.
        let order = apply_order();
        let before = |a: Kind, b: Kind| {
            let (i, j) = (order.iter().position(|k| *k == a), order.iter().position(|k| *k == b));
            assert!(i < j, "{a:?} before {b:?}: {order:?}");
        };
        before(Kind::OidcProvider, Kind::Role);
        before(Kind::Role, Kind::KmsKey);
        before(Kind::KmsKey, Kind::Bucket);
        before(Kind::KmsKey, Kind::Topic);
        before(Kind::Bucket, Kind::BucketNotification);
        before(Kind::Queue, Kind::BucketNotification);
        before(Kind::FirehoseLogGroup, Kind::DeliveryStream);
        before(Kind::FunctionPermission, Kind::SubscriptionFilter);
        before(Kind::DeliveryStream, Kind::SubscriptionFilter);
        before(Kind::ClusterLogging, Kind::LogGroup);
    }

    /// Desired states that hold every kind and every slot between them: SNS with a subscribed queue and
    /// `[alerts]`, and Sentinel (web identity, SQS with its dead-letter queue, the transform).
    fn desired_states() -> Vec<crate::DesiredState> {
        use crate::tests::{desired, spec, ALERTS, SENTINEL, SPEC};
        [format!("{SPEC}{ALERTS}"), SENTINEL.to_string()].map(|src| desired(&spec(&src), &["prod-1"])).to_vec()
    }

    /// Every (dependent, dependency) pair [`needs`] gives among a desired state's resources, with their kinds.
    fn edges(d: &crate::DesiredState) -> Vec<(&crate::DesiredResource, &crate::DesiredResource)> {
        let address = |r: &crate::DesiredResource| r.address.parse::<Address>().unwrap();
        let pairs = d.resources.iter().flat_map(|a| d.resources.iter().map(move |b| (a, b)));
        pairs.filter(|(a, b)| needs(&address(a), &address(b))).collect()
    }

    #[test]
    fn what_a_resource_needs_is_what_its_kind_declares_and_every_declaration_is_needed_by_some_resource() {
        let states = desired_states();
        let mut witnessed = BTreeSet::new();
        for d in &states {
            for (a, b) in edges(d) {
                assert!(
                    a.kind == b.kind || registration(a.kind).depends_on.contains(&b.kind),
                    "{} needs {}, but {:?} does not declare {:?}",
                    a.address,
                    b.address,
                    a.kind,
                    b.kind
                );
                witnessed.insert((a.kind, b.kind));
            }
        }
        for r in REGISTRY {
            for dep in r.depends_on {
                assert!(witnessed.contains(&(r.kind, *dep)), "no {:?} needs a {dep:?}", r.kind);
            }
        }
        let kinds: BTreeSet<Kind> = states.iter().flat_map(|d| d.resources.iter().map(|r| r.kind)).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "the desired states hold every kind: {kinds:?}");
    }

    #[test]
    fn no_resource_needs_itself_or_what_needs_it() {
        for d in desired_states() {
            let edges = edges(&d);
            let mut left: Vec<&str> = d.resources.iter().map(|r| r.address.as_str()).collect();
            // Take out, round after round, what needs nothing left: a cycle would stay.
            while !left.is_empty() {
                let free: Vec<&str> = left
                    .iter()
                    .copied()
                    .filter(|a| !edges.iter().any(|(x, y)| x.address == *a && left.contains(&y.address.as_str())))
                    .collect();
                assert!(!free.is_empty(), "a cycle among {left:?}");
                left.retain(|a| !free.contains(a));
            }
        }
    }

    #[test]
    fn needs_stays_in_scope() {
        let at = |s: &str| s.parse::<Address>().unwrap();
        let filter = at("region.eu-central-1.cluster.prod-1.filter");
        assert!(needs(&filter, &at("region.eu-central-1.cluster.prod-1.log_group")));
        assert!(!needs(&filter, &at("region.eu-central-1.cluster.prod-2.log_group")), "another cluster's");
        assert!(needs(&filter, &at("region.eu-central-1.stream")));
        assert!(!needs(&filter, &at("region.eu-west-1.stream")), "another region's");
        assert!(needs(&filter, &at("role.cloudwatch")));
        assert!(needs(&at("region.eu-central-1.bucket"), &at("region.eu-central-1.access_log_bucket")));
        assert!(!needs(&at("region.eu-central-1.access_log_bucket"), &at("region.eu-central-1.bucket")));
        assert!(needs(&at("role.reader"), &at("oidc_provider.commercial")));
        assert!(!needs(&at("role.firehose"), &at("oidc_provider.commercial")));
    }

    #[test]
    fn a_call_two_kinds_make_needs_the_same_actions_for_both() {
        for a in ACCOUNT_OPERATIONS.iter().chain(REGISTRY.iter().flat_map(|r| r.operations)) {
            for b in REGISTRY.iter().flat_map(|r| r.operations) {
                if (a.service, a.name) == (b.service, b.name) {
                    assert_eq!(a, b, "{}:{} is listed twice with different actions", a.service, a.name);
                }
            }
        }
    }
}
