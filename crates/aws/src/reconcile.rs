//! Act: carry out a plan (apply) or a destroy plan against AWS, in dependency order, concurrently where
//! independent. This is the generic reconciler: the order, the concurrency, what a failure blocks, and the
//! progress report. What each change does is its kind's (`kinds/`), reached through one exhaustive `match` on
//! the kind; every kind's operation is idempotent (a create that finds its resource already there goes on, a
//! delete that finds nothing is done), so an interrupted run converges when run again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use eksaudit_plan::{Action, DesiredState, Kind, Plan, ResourceChange};
use eksaudit_spec::Spec;
use futures::future::{join_all, FutureExt};
use futures::stream::{self, StreamExt};

use eksaudit_spec::address::{ClusterSlot, RegionalSlot, RoleSlot};

use crate::address::{self, alerts_subscriptions, queue_role, regional, role, QueueRole};
use crate::kinds::{
    bucket, bucket_notification, cluster_logging, filter, function, kms_key, log_group, oidc_provider, permission,
    queue, role, stream as firehose_stream, topic, topic_subscription, Context, Target,
};
use crate::retry::Budgets;
use crate::{Aws, Error, Outcome, Progress, RegionClients, StepResult};

/// Clusters worked on at once within a region, unpaced. Paced, many more (`Aws::task_concurrency`): a cluster
/// waiting for its bucket's token holds no call slot, and a cap here would queue a region's clusters behind
/// the slowest of their buckets (5 a second for CloudWatch Logs) one wave after another, each paying the
/// others' latency, where the pacer alone keeps every bucket at its quota.
const CONCURRENT_CLUSTERS: usize = 4;

pub struct Reconciler<'a> {
    pub aws: &'a Aws,
    pub regions: &'a BTreeMap<String, RegionClients>,
    pub spec: &'a Spec,
    pub account: &'a str,
    pub desired: &'a DesiredState,
    pub plan: &'a Plan,
    pub budgets: Budgets,
    pub progress: &'a dyn Progress,
    /// Set when the user interrupts the run: no change starts after that, those under way finish.
    pub interrupted: &'a std::sync::atomic::AtomicBool,
}

/// One kind's action for the change: `create`, `update` (also for a replace: the kind knows whether it can
/// change in place) or `delete`. Every kind's module has all three, with the same signature.
macro_rules! act {
    ($kind:ident, $cx:expr, $target:expr) => {
        match $target.change.action {
            Action::Create => $kind::create($cx, $target).await,
            Action::Update | Action::Replace => $kind::update($cx, $target).await,
            Action::Delete => $kind::delete($cx, $target).await,
            Action::NoOp => Ok(()),
        }
    };
}

impl Reconciler<'_> {
    fn change(&self, address: &str) -> Option<&ResourceChange> {
        self.plan.resources.iter().find(|r| r.address == address && r.action != Action::NoOp)
    }

    /// Runs one resource's change unless something it needs failed. `true` when the resource is in place.
    async fn step(
        &self,
        address: &str,
        needs: &[&str],
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) -> bool {
        let Some(change) = self.change(address) else { return !failed.lock().expect("lock").contains(address) };
        let blocked: Vec<String> = {
            let f = failed.lock().expect("lock");
            needs.iter().filter(|n| f.contains(**n)).map(|n| n.to_string()).collect()
        };
        let outcome = if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            Outcome::NotStarted
        } else if !blocked.is_empty() {
            Outcome::Skipped { reason: format!("needs {}, which did not succeed", blocked.join(", ")) }
        } else {
            self.progress.started(change);
            let start = Instant::now();
            match self.execute(change).await {
                Ok(()) => Outcome::Done { elapsed: start.elapsed() },
                Err(e) => Outcome::Failed { error: e.to_string() },
            }
        };
        let ok = matches!(outcome, Outcome::Done { .. });
        if !ok {
            failed.lock().expect("lock").insert(address.to_string());
        }
        let result = StepResult {
            address: address.to_string(),
            kind: change.kind,
            name: change.name.clone(),
            action: change.action,
            outcome,
        };
        self.progress.finished(&result);
        results.lock().expect("lock").push(result);
        ok
    }

    /// The global resources a plan changes, of one kind, deletes or not.
    fn global(&self, kind: Kind, deletes: bool) -> Vec<String> {
        self.plan
            .resources
            .iter()
            .filter(|r| r.kind == kind && r.region.is_none() && r.action != Action::NoOp)
            .filter(|r| (r.action == Action::Delete) == deletes)
            .map(|r| r.address.clone())
            .collect()
    }

    /// Regions with clients that the spec no longer names (found through the roles' trust).
    fn former_regions(&self) -> Vec<&str> {
        self.regions.keys().map(String::as_str).filter(|r| !self.spec.regions.iter().any(|s| s.name == *r)).collect()
    }

    /// Apply: first what is left in regions removed from the spec (torn down like destroy, the bucket and log
    /// groups kept); then the roles (narrowed only once that succeeded, so a failed run can find it again);
    /// then every region in parallel; within a region bucket → topic → notification and subscription → log
    /// group → stream → clusters (in parallel, bounded) → filters no longer wanted.
    pub async fn apply(&self) -> Vec<StepResult> {
        let failed = std::sync::Mutex::new(BTreeSet::new());
        let results = std::sync::Mutex::new(Vec::new());
        let former = self.former_regions();
        join_all(former.iter().map(|r| self.destroy_region(r, &failed, &results))).await;
        let leftovers: Vec<String> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.action == Action::Delete && r.region.as_deref().is_some_and(|x| former.contains(&x)))
            .map(|r| r.address.clone())
            .collect();
        // The reader role's trust names the OIDC provider: it exists (with our audience) first.
        for provider in self.global(Kind::OidcProvider, false) {
            self.step(&provider, &[], &failed, &results).await;
        }
        let mut needs: Vec<&str> = leftovers.iter().map(String::as_str).collect();
        let providers = self.global(Kind::OidcProvider, false);
        let reader_needs: Vec<&str> = needs.iter().copied().chain(providers.iter().map(String::as_str)).collect();
        futures::join!(
            self.step(role(RoleSlot::Firehose), &needs, &failed, &results),
            self.step(role(RoleSlot::Cloudwatch), &needs, &failed, &results),
            self.step(role(RoleSlot::Reader), &reader_needs, &failed, &results),
            self.step(role(RoleSlot::Alerts), &needs, &failed, &results),
            self.step(role(RoleSlot::Transform), &needs, &failed, &results),
        );
        join_all(self.spec.regions.iter().map(|r| self.apply_region(&r.name, &failed, &results))).await;
        // What another preset left globally: an OIDC provider no role of ours trusts any more (once the reader's
        // trust moved off it), the reader role under its other name.
        needs = vec![role(RoleSlot::Reader)];
        for address in self.global(Kind::OidcProvider, true).into_iter().chain(self.global(Kind::Role, true)) {
            self.step(&address, &needs, &failed, &results).await;
        }
        results.into_inner().expect("lock")
    }

    async fn apply_region(
        &self,
        region: &str,
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) {
        let at = |slot: RegionalSlot| regional(region, slot);
        let (bucket, topic, notification, subscription, stream) = (
            at(RegionalSlot::Bucket),
            at(RegionalSlot::Topic),
            at(RegionalSlot::BucketNotification),
            at(RegionalSlot::TopicSubscription),
            at(RegionalSlot::Stream),
        );
        let (queue, dead_letter) = (at(RegionalSlot::Queue), at(RegionalSlot::DeadLetterQueue));
        let (key, access_logs) = (at(RegionalSlot::KmsKey), at(RegionalSlot::AccessLogBucket));
        // The key policy names the roles; the bucket and topic are encrypted with the key; the bucket logs into
        // the access-log bucket.
        self.step(&key, &[role(RoleSlot::Firehose), role(RoleSlot::Reader), role(RoleSlot::Alerts)], failed, results)
            .await;
        // The region's own resources, one after another as they name each other; shared, so that each cluster
        // waits for them only before its filters (which name the stream and the alerts permission): a cluster's
        // audit logging and log group need nothing but the key, and go on alongside (at scale a region's log
        // groups are a quota bucket's worth of calls of their own, 5 a second).
        let regional = Box::pin(async {
            self.step(&access_logs, &[], failed, results).await;
            self.step(&bucket, &[key.as_str(), access_logs.as_str()], failed, results).await;
            self.step(&topic, &[key.as_str()], failed, results).await;
            self.step(&dead_letter, &[], failed, results).await;
            // Its policy names the reader role; its redrive policy the dead-letter queue.
            self.step(&queue, &[dead_letter.as_str(), role(RoleSlot::Reader)], failed, results).await;
            let (notification_needs, subscription_needs) =
                ([bucket.as_str(), topic.as_str(), queue.as_str()], [topic.as_str()]);
            futures::join!(
                self.step(&notification, &notification_needs, failed, results),
                self.step(&subscription, &subscription_needs, failed, results),
                // Boxed: the region's whole walk is one future, too large for the stack of a debug build otherwise.
                Box::pin(self.apply_delivery(region, failed, results)),
            );
            self.apply_alerts(region, failed, results).await
        })
        .shared();
        let clusters = self.desired.matched_clusters.get(region).cloned().unwrap_or_default();
        let clusters =
            stream::iter(clusters).for_each_concurrent(self.aws.task_concurrency(CONCURRENT_CLUSTERS), |cluster| {
                let (regional, stream, key) = (regional.clone(), &stream, &key);
                async move {
                    let at = |slot: ClusterSlot| address::cluster(region, &cluster, slot);
                    let (logging, group, filter) =
                        (at(ClusterSlot::AuditLogging), at(ClusterSlot::LogGroup), at(ClusterSlot::Filter));
                    self.step(&logging, &[], failed, results).await;
                    self.step(&group, &[key], failed, results).await;
                    let permission = regional.await;
                    self.step(&filter, &[stream, role(RoleSlot::Cloudwatch), &group], failed, results).await;
                    // After the pipeline's filter, which has the first claim on the log group's slots.
                    self.step(&at(ClusterSlot::AlertsFilter), &[&permission, &group, &filter], failed, results).await;
                }
            });
        futures::join!(regional.clone(), clusters);
        let mut stale: Vec<&ResourceChange> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.action == Action::Delete && r.region.as_deref() == Some(region))
            .collect();
        // Nothing is deleted while something of ours still points at it: our notification entry before its
        // topic or queue, a queue before its dead-letter queue.
        let rank = |r: &ResourceChange| match r.kind {
            Kind::BucketNotification | Kind::SubscriptionFilter => 0,
            Kind::TopicSubscription | Kind::FunctionPermission => 1,
            Kind::Function => 2,
            Kind::Topic => 3,
            Kind::Queue => match queue_role(&r.address) {
                QueueRole::Main => 4,
                QueueRole::DeadLetter => 5,
            },
            Kind::OidcProvider
            | Kind::Role
            | Kind::KmsKey
            | Kind::Bucket
            | Kind::FirehoseLogGroup
            | Kind::DeliveryStream
            | Kind::ClusterLogging
            | Kind::LogGroup
            | Kind::FunctionLogGroup => 6,
        };
        stale.sort_by_key(|r| rank(r));
        for s in stale {
            self.step(&s.address, &[], failed, results).await;
        }
    }

    /// The region's delivery: Firehose's error log group, Sentinel's transform (its log group, then the function:
    /// it exists before the stream names it), then the stream.
    async fn apply_delivery(
        &self,
        region: &str,
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) {
        let at = |slot: RegionalSlot| regional(region, slot);
        let (key, bucket, log_group) =
            (at(RegionalSlot::KmsKey), at(RegionalSlot::Bucket), at(RegionalSlot::FirehoseLogGroup));
        let (transform_log_group, transform) =
            (at(RegionalSlot::TransformLogGroup), at(RegionalSlot::TransformFunction));
        // Encrypted with the pipeline's key.
        self.step(&log_group, &[&key], failed, results).await;
        self.step(&transform_log_group, &[&key], failed, results).await;
        self.step(&transform, &[role(RoleSlot::Transform), &transform_log_group], failed, results).await;
        let needs = [bucket.as_str(), role(RoleSlot::Firehose), &log_group, &transform];
        self.step(&at(RegionalSlot::Stream), &needs, failed, results).await;
    }

    /// `[alerts]` in a region: topic and log group → function (its role, topic and log group first) → the
    /// permission for CloudWatch Logs. Returns the permission's address, which the alerts filters need.
    async fn apply_alerts(
        &self,
        region: &str,
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) -> String {
        let at = |slot: RegionalSlot| regional(region, slot);
        let (topic, group, function) =
            (at(RegionalSlot::AlertsTopic), at(RegionalSlot::AlertsLogGroup), at(RegionalSlot::AlertsFunction));
        // Encrypted with the pipeline's key, whose policy names the alerts role.
        self.step(&topic, &[&at(RegionalSlot::KmsKey)], failed, results).await;
        for s in self.alerts_subscriptions(region) {
            self.step(&s, &[&topic], failed, results).await;
        }
        self.step(&group, &[&at(RegionalSlot::KmsKey)], failed, results).await;
        // Encrypted with the pipeline's key, whose policy names the alerts role and this queue.
        let dead_letter = at(RegionalSlot::AlertsDeadLetterQueue);
        self.step(&dead_letter, &[&at(RegionalSlot::KmsKey)], failed, results).await;
        self.step(&function, &[role(RoleSlot::Alerts), &topic, &group, &dead_letter], failed, results).await;
        self.step(&at(RegionalSlot::AlertsPermission), &[&function], failed, results).await;
        at(RegionalSlot::AlertsPermission)
    }

    /// The email and HTTPS subscriptions of a region's alerts topic that the plan changes.
    fn alerts_subscriptions(&self, region: &str) -> Vec<String> {
        let prefix = alerts_subscriptions(region);
        self.plan.resources.iter().filter(|r| r.address.starts_with(&prefix)).map(|r| r.address.clone()).collect()
    }

    /// Destroy: the reverse order. Filters first (so nothing sends into a stream being deleted), then stream,
    /// notification entry, subscription, topic, bucket (when asked), and the roles last.
    pub async fn destroy(&self) -> Vec<StepResult> {
        let failed = std::sync::Mutex::new(BTreeSet::new());
        let results = std::sync::Mutex::new(Vec::new());
        // Every region with clients: the spec's and those removed from it.
        join_all(self.regions.keys().map(|r| self.destroy_region(r, &failed, &results))).await;
        let everything: Vec<String> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.region.is_some() && r.action == Action::Delete)
            .map(|r| r.address.clone())
            .collect();
        let needs: Vec<&str> = everything.iter().map(String::as_str).collect();
        let mut roles: Vec<String> = [
            role(RoleSlot::Firehose),
            role(RoleSlot::Cloudwatch),
            role(RoleSlot::Reader),
            role(RoleSlot::Alerts),
            role(RoleSlot::Transform),
        ]
        .map(str::to_string)
        .to_vec();
        for former in self.global(Kind::Role, true) {
            if !roles.contains(&former) {
                roles.push(former);
            }
        }
        join_all(roles.iter().map(|r| self.step(r, &needs, &failed, &results))).await;
        // The OIDC provider last: the reader role trusting it is gone.
        for provider in self.global(Kind::OidcProvider, true) {
            self.step(&provider, &[role(RoleSlot::Reader)], &failed, &results).await;
        }
        results.into_inner().expect("lock")
    }

    async fn destroy_region(
        &self,
        region: &str,
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) {
        let filters: Vec<String> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.kind == Kind::SubscriptionFilter && r.region.as_deref() == Some(region))
            .map(|r| r.address.clone())
            .collect();
        stream::iter(filters.iter())
            .for_each_concurrent(self.aws.task_concurrency(CONCURRENT_CLUSTERS), |f| async move {
                self.step(f, &[], failed, results).await;
            })
            .await;
        let at = |slot: RegionalSlot| regional(region, slot);
        let filter_refs: Vec<&str> = filters.iter().map(String::as_str).collect();
        self.step(&at(RegionalSlot::Stream), &filter_refs, failed, results).await;
        self.step(&at(RegionalSlot::TransformFunction), &[&at(RegionalSlot::Stream)], failed, results).await;
        self.step(&at(RegionalSlot::AlertsPermission), &filter_refs, failed, results).await;
        self.step(&at(RegionalSlot::AlertsFunction), &[&at(RegionalSlot::AlertsPermission)], failed, results).await;
        for s in self.alerts_subscriptions(region) {
            self.step(&s, &[], failed, results).await;
        }
        self.step(&at(RegionalSlot::AlertsTopic), &[&at(RegionalSlot::AlertsFunction)], failed, results).await;
        self.step(&at(RegionalSlot::AlertsDeadLetterQueue), &[&at(RegionalSlot::AlertsFunction)], failed, results)
            .await;
        self.step(&at(RegionalSlot::BucketNotification), &[], failed, results).await;
        self.step(&at(RegionalSlot::TopicSubscription), &[], failed, results).await;
        self.step(
            &at(RegionalSlot::Topic),
            &[&at(RegionalSlot::BucketNotification), &at(RegionalSlot::TopicSubscription)],
            failed,
            results,
        )
        .await;
        self.step(&at(RegionalSlot::Queue), &[&at(RegionalSlot::BucketNotification)], failed, results).await;
        self.step(&at(RegionalSlot::DeadLetterQueue), &[&at(RegionalSlot::Queue)], failed, results).await;
        self.step(
            &at(RegionalSlot::Bucket),
            &[&at(RegionalSlot::Stream), &at(RegionalSlot::BucketNotification)],
            failed,
            results,
        )
        .await;
        self.step(&at(RegionalSlot::AccessLogBucket), &[&at(RegionalSlot::Bucket)], failed, results).await;
        // The key goes last, once nothing it encrypts is left.
        self.step(
            &at(RegionalSlot::KmsKey),
            &[
                &at(RegionalSlot::Bucket),
                &at(RegionalSlot::Topic),
                &at(RegionalSlot::Stream),
                &at(RegionalSlot::AlertsDeadLetterQueue),
            ],
            failed,
            results,
        )
        .await;
    }

    /// Carries out one change through its kind's module. The match is exhaustive: a new kind does not compile
    /// until it says what carries it out.
    async fn execute(&self, change: &ResourceChange) -> Result<(), Error> {
        let cx = Context {
            aws: self.aws,
            spec: self.spec,
            account: self.account,
            desired: self.desired,
            budgets: self.budgets,
            progress: self.progress,
        };
        let t = Target {
            change,
            desired: self.desired.resources.iter().find(|r| r.address == change.address),
            clients: change.region.as_deref().and_then(|r| self.regions.get(r)),
        };
        let (cx, t) = (&cx, &t);
        match change.kind {
            Kind::OidcProvider => act!(oidc_provider, cx, t),
            Kind::Role => act!(role, cx, t),
            Kind::KmsKey => act!(kms_key, cx, t),
            Kind::Bucket => act!(bucket, cx, t),
            Kind::Topic => act!(topic, cx, t),
            Kind::TopicSubscription => act!(topic_subscription, cx, t),
            Kind::Queue => act!(queue, cx, t),
            Kind::BucketNotification => act!(bucket_notification, cx, t),
            Kind::FirehoseLogGroup | Kind::LogGroup | Kind::FunctionLogGroup => act!(log_group, cx, t),
            Kind::DeliveryStream => act!(firehose_stream, cx, t),
            Kind::ClusterLogging => act!(cluster_logging, cx, t),
            Kind::SubscriptionFilter => act!(filter, cx, t),
            Kind::Function => act!(function, cx, t),
            Kind::FunctionPermission => act!(permission, cx, t),
        }
    }
}
