//! One module per kind of AWS resource, and the registry of all of them.
//!
//! Each module owns what its kind means: the desired resource(s) it builds from the spec (fields, policy
//! documents, hardened constants), the AWS operations its observe, create, update and delete call (with their
//! IAM actions), and the kinds that must exist before it. [`REGISTRY`] lists every kind once; the operator
//! policy's table ([`operations`], `permissions::OPERATIONS`) and the apply and destroy orders ([`apply_order`],
//! [`destroy_order`]) are derived from it, so a new kind is one module and one line here.

use std::collections::BTreeSet;

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
