//! Act: carry out a plan (apply) or a destroy plan against AWS, in dependency order, concurrently where
//! independent. This is the generic reconciler: the order, the concurrency, what a failure blocks, and the
//! progress report. What each change does is its kind's (`kinds/`), reached through one exhaustive `match` on
//! the kind; every kind's operation is idempotent (a create that finds its resource already there goes on, a
//! delete that finds nothing is done), so an interrupted run converges when run again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use eksaudit_plan::kinds::needs;
use eksaudit_plan::{Action, DesiredState, Kind, Plan, ResourceChange};
use eksaudit_spec::{Address, Spec};
use futures::future::{join_all, BoxFuture, FutureExt, Shared};

use crate::kinds::{
    bucket, bucket_notification, cluster_logging, filter, function, kms_key, log_group, oidc_provider, permission,
    queue, role, stream as firehose_stream, topic, topic_subscription, Context, Target,
};
use crate::retry::Budgets;
use crate::{Aws, Error, Outcome, Progress, RegionClients, StepResult};

/// Changes carried out at once, unpaced. Paced, many more (`Aws::task_concurrency`): a change waiting for its
/// bucket's token holds no call slot, and a cap here would queue a region's clusters behind the slowest of their
/// buckets (5 a second for CloudWatch Logs) one wave after another, each paying the others' latency, where the
/// pacer alone keeps every bucket at its quota.
const CONCURRENT_STEPS: usize = 8;

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
    /// Runs one change unless something it needs failed; records what came of it.
    async fn step(
        &self,
        change: &ResourceChange,
        needs: &[&str],
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) {
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
        if !matches!(outcome, Outcome::Done { .. }) {
            failed.lock().expect("lock").insert(change.address.clone());
        }
        let result = StepResult::of(change, outcome);
        self.progress.finished(&result);
        results.lock().expect("lock").push(result);
    }

    /// Regions with clients that the spec no longer names (found through the roles' trust).
    fn former_regions(&self) -> Vec<&str> {
        self.regions.keys().map(String::as_str).filter(|r| !self.spec.regions.iter().any(|s| s.name == *r)).collect()
    }

    /// Apply: every change once what it waits for is done ([`apply_edge`]), all else at once: what a region
    /// removed from the spec left goes first (torn down like destroy, the bucket and log groups kept), then the
    /// roles (narrowed only once that succeeded, so a failed run can find it again), then every region, each
    /// resource as soon as what it needs is in place, and what is no longer wanted last.
    pub async fn apply(&self) -> Vec<StepResult> {
        let former = self.former_regions();
        self.walk(|a, b| apply_edge(a, b, &former)).await
    }

    /// Destroy: the reverse, each resource once everything needing it is gone, the account's roles and providers
    /// after every region's resources ([`destroy_edge`]).
    pub async fn destroy(&self) -> Vec<StepResult> {
        self.walk(destroy_edge).await
    }

    /// The generic walk over the plan's changes: each starts once every change it waits for has finished, and is
    /// skipped when one it needs did not succeed; changes with nothing between them run concurrently (paced, the
    /// pacer keeps each quota bucket at its rate; unpaced, at most `CONCURRENT_STEPS` at once).
    async fn walk(&self, edge: impl Fn(&Node<'_>, &Node<'_>) -> Option<Edge>) -> Vec<StepResult> {
        let nodes: Vec<Node> = self.plan.resources.iter().filter(|r| r.action != Action::NoOp).map(Node::of).collect();
        let waits: Vec<Vec<(usize, Edge)>> = nodes
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let others = nodes.iter().enumerate().filter(|(j, _)| *j != i);
                others.filter_map(|(j, b)| edge(a, b).map(|e| (j, e))).collect()
            })
            .collect();
        let failed = std::sync::Mutex::new(BTreeSet::new());
        let results = std::sync::Mutex::new(Vec::new());
        let slots = tokio::sync::Semaphore::new(self.aws.task_concurrency(CONCURRENT_STEPS));
        let (order, cyclic) = topological(&waits);
        let mut steps: Vec<Option<Shared<BoxFuture<'_, ()>>>> = vec![None; nodes.len()];
        for i in order {
            let before: Vec<_> = waits[i].iter().filter_map(|(j, _)| steps[*j].clone()).collect();
            let needs: Vec<&str> = waits[i]
                .iter()
                .filter(|(_, e)| *e == Edge::Needs)
                .map(|(j, _)| nodes[*j].change.address.as_str())
                .collect();
            let (change, failed, results, slots) = (nodes[i].change, &failed, &results, &slots);
            let step = async move {
                join_all(before).await;
                // Held while the change runs, not while it waits.
                let _slot = slots.acquire().await;
                self.step(change, &needs, failed, results).await;
            };
            steps[i] = Some(step.boxed().shared());
        }
        join_all(steps.into_iter().flatten()).await;
        let mut results = results.into_inner().expect("lock");
        // Unreachable while `kinds::needs` is acyclic (its tests say so) and the walks' own rules only point one way;
        // reported, not run, if that ever breaks.
        results.extend(cyclic.into_iter().map(|i| {
            let error = "waits for itself through the resources it needs: eksaudit's own error, please report it";
            let result = StepResult::of(nodes[i].change, Outcome::Failed { error: error.to_string() });
            self.progress.finished(&result);
            result
        }));
        results
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

/// One change of a walk, with its typed address (`None` for one that does not parse: it then waits for nothing
/// and nothing waits for it).
struct Node<'p> {
    change: &'p ResourceChange,
    address: Option<Address>,
}

impl<'p> Node<'p> {
    fn of(change: &'p ResourceChange) -> Node<'p> {
        Node { change, address: change.address.parse().ok() }
    }

    fn deletes(&self) -> bool {
        self.change.action == Action::Delete
    }

    fn region(&self) -> Option<&str> {
        self.change.region.as_deref()
    }

    /// Whether `self` needs `other` in place ([`needs`], the plan crate's edges).
    fn needs(&self, other: &Node<'_>) -> bool {
        matches!((&self.address, &other.address), (Some(a), Some(b)) if needs(a, b))
    }
}

/// Why one change waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// It needs the other: it is skipped when the other did not succeed.
    Needs,
    /// Only the order: it goes on whatever came of the other.
    After,
}

/// Whether, in an apply, `a` waits for `b`. `former`: the regions removed from the spec.
fn apply_edge(a: &Node<'_>, b: &Node<'_>, former: &[&str]) -> Option<Edge> {
    let removed = |n: &Node<'_>| n.region().is_some_and(|r| former.contains(&r));
    match (a.deletes(), b.deletes()) {
        // Created or changed once what it needs is in place; a region's resources after the account's roles and
        // providers (whose policies and trust they name, and which vouch for an interrupted apply's buckets).
        (false, false) if a.needs(b) => Some(Edge::Needs),
        (false, false) => (a.region().is_some() && b.region().is_none()).then_some(Edge::After),
        // Gone only once what needs it is gone.
        (true, true) => b.needs(a).then_some(Edge::Needs),
        // What a removed region left goes first (below), before anything else changes.
        (true, false) if removed(a) => None,
        // A resource no longer wanted goes once what still points at it has been changed off it (the
        // notification off a queue), after everything else in its region and the account's (an account-wide one
        // after everything).
        (true, false) if b.needs(a) => Some(Edge::Needs),
        (true, false) => {
            (a.region().is_none() || b.region().is_none() || a.region() == b.region()).then_some(Edge::After)
        }
        // The roles change only once what a removed region left is gone: it is found through their trust.
        (false, true) => (a.change.kind == Kind::Role && removed(b)).then_some(Edge::Needs),
    }
}

/// Whether, in a destroy, `a` waits for `b`: each resource once everything needing it is gone, the account's
/// roles and providers after every region's resources (which name them).
fn destroy_edge(a: &Node<'_>, b: &Node<'_>) -> Option<Edge> {
    (b.needs(a) || (a.region().is_none() && b.region().is_some())).then_some(Edge::Needs)
}

/// A topological order of a walk (each node after those it waits for), and the nodes left out because they wait
/// for themselves through others.
fn topological(waits: &[Vec<(usize, Edge)>]) -> (Vec<usize>, Vec<usize>) {
    let mut waiting: Vec<usize> = waits.iter().map(Vec::len).collect();
    let mut waited_by: Vec<Vec<usize>> = vec![Vec::new(); waits.len()];
    for (i, w) in waits.iter().enumerate() {
        for (j, _) in w {
            waited_by[*j].push(i);
        }
    }
    let mut order: Vec<usize> = (0..waits.len()).filter(|i| waiting[*i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        for &i in &waited_by[order[next]] {
            waiting[i] -= 1;
            if waiting[i] == 0 {
                order.push(i);
            }
        }
        next += 1;
    }
    let cyclic = (0..waits.len()).filter(|i| waiting[*i] > 0).collect();
    (order, cyclic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, kind: Kind, action: Action) -> ResourceChange {
        let region = address.parse::<Address>().ok().and_then(|a| a.region().map(str::to_string));
        ResourceChange {
            address: address.to_string(),
            kind,
            region,
            name: address.to_string(),
            action,
            reason: None,
            changes: Vec::new(),
        }
    }

    fn apply(a: &ResourceChange, b: &ResourceChange, former: &[&str]) -> Option<Edge> {
        apply_edge(&Node::of(a), &Node::of(b), former)
    }

    #[test]
    fn apply_creates_each_resource_after_what_it_needs_and_a_region_after_the_account() {
        let role = change("role.firehose", Kind::Role, Action::Create);
        let key = change("region.r.kms_key", Kind::KmsKey, Action::Create);
        let bucket = change("region.r.bucket", Kind::Bucket, Action::Create);
        let topic = change("region.r.topic", Kind::Topic, Action::Create);
        let filter = change("region.r.cluster.c.filter", Kind::SubscriptionFilter, Action::Create);
        let notification = change("region.r.bucket_notification", Kind::BucketNotification, Action::Update);
        let elsewhere = change("region.s.kms_key", Kind::KmsKey, Action::Create);
        assert_eq!(apply(&key, &role, &[]), Some(Edge::Needs));
        assert_eq!(apply(&bucket, &key, &[]), Some(Edge::Needs));
        // The topic names no role: it only comes after the account's.
        assert_eq!(apply(&topic, &role, &[]), Some(Edge::After));
        assert_eq!(apply(&topic, &bucket, &[]), None, "independent: at once");
        assert_eq!(apply(&filter, &notification, &[]), Some(Edge::Needs));
        assert_eq!(apply(&bucket, &elsewhere, &[]), None);
        assert_eq!(apply(&role, &key, &[]), None);
    }

    #[test]
    fn what_is_no_longer_wanted_goes_last_blocked_only_by_what_pointed_at_it() {
        let queue = change("region.r.queue", Kind::Queue, Action::Delete);
        let dead_letter = change("region.r.dead_letter_queue", Kind::Queue, Action::Delete);
        let notification = change("region.r.bucket_notification", Kind::BucketNotification, Action::Update);
        let filter = change("region.r.cluster.c.filter", Kind::SubscriptionFilter, Action::Create);
        let other_region = change("region.s.bucket", Kind::Bucket, Action::Create);
        let role = change("role.reader", Kind::Role, Action::Update);
        let former_reader = change("role.former_reader", Kind::Role, Action::Delete);
        assert_eq!(apply(&queue, &notification, &[]), Some(Edge::Needs));
        assert_eq!(apply(&queue, &filter, &[]), Some(Edge::After));
        assert_eq!(apply(&queue, &role, &[]), Some(Edge::After));
        assert_eq!(apply(&queue, &other_region, &[]), None);
        assert_eq!(apply(&dead_letter, &queue, &[]), Some(Edge::Needs), "the queue's redrive names it");
        assert_eq!(apply(&queue, &dead_letter, &[]), None);
        assert_eq!(apply(&former_reader, &other_region, &[]), Some(Edge::After), "account-wide: after everything");
        assert_eq!(apply(&notification, &queue, &[]), None);
    }

    #[test]
    fn what_a_removed_region_left_goes_before_the_roles_change() {
        let left = change("region.old.stream", Kind::DeliveryStream, Action::Delete);
        let role = change("role.cloudwatch", Kind::Role, Action::Update);
        let key = change("region.r.kms_key", Kind::KmsKey, Action::Update);
        assert_eq!(apply(&role, &left, &["old"]), Some(Edge::Needs));
        assert_eq!(apply(&left, &role, &["old"]), None);
        assert_eq!(apply(&left, &key, &["old"]), None);
        assert_eq!(apply(&role, &left, &[]), None, "a region still in the spec");
    }

    #[test]
    fn destroy_deletes_each_resource_once_what_needs_it_is_gone_and_the_roles_last() {
        let destroy = |a: &ResourceChange, b: &ResourceChange| destroy_edge(&Node::of(a), &Node::of(b));
        let filter = change("region.r.cluster.c.filter", Kind::SubscriptionFilter, Action::Delete);
        let stream = change("region.r.stream", Kind::DeliveryStream, Action::Delete);
        let bucket = change("region.r.bucket", Kind::Bucket, Action::Delete);
        let role = change("role.firehose", Kind::Role, Action::Delete);
        let reader = change("role.reader", Kind::Role, Action::Delete);
        let provider = change("oidc_provider.commercial", Kind::OidcProvider, Action::Delete);
        assert_eq!(destroy(&stream, &filter), Some(Edge::Needs));
        assert_eq!(destroy(&filter, &stream), None);
        assert_eq!(destroy(&bucket, &stream), Some(Edge::Needs));
        assert_eq!(destroy(&role, &filter), Some(Edge::Needs));
        assert_eq!(destroy(&provider, &reader), Some(Edge::Needs));
        assert_eq!(destroy(&reader, &provider), None);
    }

    #[test]
    fn a_walk_is_in_order_and_a_cycle_is_left_out() {
        let (order, cyclic) = topological(&[vec![(1, Edge::Needs)], vec![], vec![(0, Edge::After)]]);
        assert_eq!((order, cyclic), (vec![1, 0, 2], vec![]));
        let (order, cyclic) = topological(&[vec![(1, Edge::Needs)], vec![(0, Edge::Needs)], vec![]]);
        assert_eq!((order, cyclic), (vec![2], vec![0, 1]));
    }
}
