//! Crash and resume: apply killed with SIGKILL right after its k-th mutating call reached AWS (before it heard the
//! answer), for every k of a full apply, over several specs (the crash matrix: one line per spec at the end of
//! this section). A second apply converges with nothing duplicated, and destroy then leaves nothing owned. Writes
//! test support answers itself (an OIDC provider's audience, a log group's key) count as the k-th write too.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Condvar, Mutex};

use eksaudit_test_support::Moto;

use crate::support::{run, Workdir};

const SPEC: &str = r#"
[pipeline]
name = "eks-audit"
tags = { team = "security" }

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[bucket]
on_destroy = "delete"

[[region]]
name = "us-east-1"
clusters = ["prod", "stage"]
enable_audit_logging = true
log_retention_days = 30
"#;

/// The first matrix spec: SNS with everything the generic consumer can have (the pipeline's tags, a consumer queue
/// subscribed to the topic, a retention on the clusters' log groups) in two regions, so that the shared roles are
/// made for both and each region has its key, buckets, topic and stream. Every write of a one-region apply is one
/// of its writes, with the other region's made or not beside it.
const SNS_TWO_REGIONS_SPEC: &str = r#"
[pipeline]
name = "eks-audit"
tags = { team = "security" }

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[bucket]
on_destroy = "delete"

[[region]]
name = "us-east-1"
clusters = ["prod", "stage"]
enable_audit_logging = true
log_retention_days = 30

[[region]]
name = "eu-west-1"
clusters = ["prod"]
enable_audit_logging = true
"#;

/// The second: Sentinel as the preset is today (the OIDC provider of each Azure cloud with its audience, answered
/// by test support, the reader role trusting it, an SQS queue with its dead-letter queue) with `[alerts]` (the
/// alert function, its permission and log group, the alerts topic, its email subscription and a second filter per
/// cluster).
const SENTINEL_ALERTS_SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
preset = "sentinel"
workspace_id = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"

[bucket]
on_destroy = "delete"

[alerts]
namespaces = ["kube-system"]
email = ["secops@example.com"]

[[region]]
name = "us-east-1"
clusters = ["prod", "stage"]
enable_audit_logging = true
"#;

/// A spec of the crash matrix and the account it meets: its clusters (region, name, audit logging on) and, when
/// set, an OIDC provider of someone else's for this issuer (its audience `sts.amazonaws.com`), to which apply adds
/// its own audience (AddClientIDToOpenIDConnectProvider, answered by test support) instead of creating one.
struct Case {
    spec: &'static str,
    clusters: &'static [(&'static str, &'static str, bool)],
    others_oidc_provider: Option<&'static str>,
}

const ONE_REGION: &[(&str, &str, bool)] = &[("us-east-1", "prod", true), ("us-east-1", "stage", false)];

#[test]
fn crash_matrix_sns_two_regions() {
    let clusters = &[("us-east-1", "prod", true), ("us-east-1", "stage", false), ("eu-west-1", "prod", false)];
    let case = Case { spec: SNS_TWO_REGIONS_SPEC, clusters, others_oidc_provider: None };
    crash_matrix(&case, Some(converged_two_regions()));
}

#[test]
fn crash_matrix_sentinel_with_alerts_and_someone_elses_oidc_provider() {
    let issuer = Some("sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/");
    crash_matrix(&Case { spec: SENTINEL_ALERTS_SPEC, clusters: ONE_REGION, others_oidc_provider: issuer }, None);
}

/// Crashed applies running at once, over every matrix test (each with its own moto): what two cores bear.
const AT_ONCE: usize = 3;

/// Which resumed applies are also destroyed: every fourth k, and the last; and which crashed ones are destroyed
/// without resuming: every fourth from the third.
const DESTROY_EVERY: usize = 4;
static RUNNING: Mutex<usize> = Mutex::new(0);
static SLOT_FREED: Condvar = Condvar::new();

fn with_slot<T>(f: impl FnOnce() -> T) -> T {
    let mut running = SLOT_FREED.wait_while(RUNNING.lock().unwrap(), |n| *n >= AT_ONCE).unwrap();
    *running += 1;
    drop(running);
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            SLOT_FREED.notify_one();
        }
    }
    let _release = Release;
    f()
}

/// The account as the case's user has it before eksaudit runs.
async fn clusters(moto: &Moto, case: &Case) {
    for (region, name, audit) in case.clusters {
        moto.create_cluster(region, name, *audit).await;
    }
    if let Some(issuer) = case.others_oidc_provider {
        moto.aws()
            .iam()
            .create_open_id_connect_provider()
            .url(format!("https://{issuer}"))
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("626d44e704d1ceabe3bf0d53397464ac8080142c")
            .send()
            .await
            .unwrap();
    }
}

/// Everything a pipeline can own, counted over the case's regions: what a duplicate or a leak would change.
async fn owned(moto: &Moto, case: &Case) -> BTreeMap<String, usize> {
    let iam = moto.aws().iam().clone();
    let mut counts = BTreeMap::new();
    counts.insert("roles".to_string(), iam.list_roles().send().await.unwrap().roles().len());
    let providers = iam.list_open_id_connect_providers().send().await.unwrap();
    counts.insert("oidc providers".into(), providers.open_id_connect_provider_list().len());
    let mut regions: Vec<&str> = case.clusters.iter().map(|(r, _, _)| *r).collect();
    regions.dedup();
    let s3 = moto.region(regions[0]).s3;
    let buckets = s3.list_buckets().send().await.unwrap();
    counts.insert("buckets".into(), buckets.buckets().len());
    let mut notifications = 0;
    for b in buckets.buckets() {
        // moto answers an empty body for a bucket without notifications (smoothed by the proxy, not here).
        let n = s3.get_bucket_notification_configuration().bucket(b.name().unwrap()).send().await;
        notifications += n.map(|n| n.topic_configurations().len() + n.queue_configurations().len()).unwrap_or(0);
    }
    counts.insert("bucket notifications".into(), notifications);
    for region in regions {
        let c = moto.region(region);
        let mut count = |what: &str, n: usize| counts.insert(format!("{region} {what}"), n);
        count("streams", c.firehose.list_delivery_streams().send().await.unwrap().delivery_stream_names().len());
        count("topics", c.sns.list_topics().send().await.unwrap().topics().len());
        count("subscriptions", c.sns.list_subscriptions().send().await.unwrap().subscriptions().len());
        count("queues", c.sqs.list_queues().send().await.unwrap().queue_urls().len());
        count("functions", c.lambda.list_functions().send().await.unwrap().functions().len());
        // KMS keys not scheduled for deletion (a destroyed pipeline's key waits out its window, as AWS's does).
        let mut keys = 0;
        for k in c.kms.list_keys().send().await.unwrap().keys() {
            let meta = c.kms.describe_key().key_id(k.key_id().unwrap()).send().await.unwrap().key_metadata.unwrap();
            keys += usize::from(meta.key_state().is_some_and(|s| s.as_str() != "PendingDeletion"));
        }
        count("keys", keys);
        for (_, cluster, _) in case.clusters.iter().filter(|(r, _, _)| *r == region) {
            let group = format!("/aws/eks/{cluster}/cluster");
            let filters = c.logs.describe_subscription_filters().log_group_name(&group).send().await;
            count(&format!("filters on {cluster}"), filters.map(|f| f.subscription_filters().len()).unwrap_or(0));
        }
    }
    counts
}

/// What destroy leaves of an account that had `before`: the same, but for each region's key, kept (enabled) where
/// a log group of the region is encrypted with a key (destroy keeps log groups, and CloudWatch Logs needs the key
/// to read them), read off the log groups themselves.
async fn after_destroy(moto: &Moto, case: &Case, before: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    let mut expected = before.clone();
    let mut regions: Vec<&str> = case.clusters.iter().map(|(r, _, _)| *r).collect();
    regions.dedup();
    for region in regions {
        let groups = moto.region(region).logs.describe_log_groups().send().await.unwrap();
        let under_a_key = groups.log_groups().iter().any(|g| g.kms_key_id().is_some());
        expected.insert(format!("{region} keys"), usize::from(under_a_key));
    }
    expected
}

fn counts(by_hand: &[(&str, usize)]) -> BTreeMap<String, usize> {
    by_hand.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// The one-region SNS spec, converged, as counted by hand.
fn converged() -> BTreeMap<String, usize> {
    counts(&[
        ("roles", 3),
        ("oidc providers", 0),
        ("buckets", 2),
        ("bucket notifications", 1),
        ("us-east-1 streams", 1),
        ("us-east-1 topics", 1),
        ("us-east-1 subscriptions", 1),
        ("us-east-1 queues", 0),
        ("us-east-1 functions", 0),
        ("us-east-1 keys", 1),
        ("us-east-1 filters on prod", 1),
        ("us-east-1 filters on stage", 1),
    ])
}

/// The two-region SNS spec of the first matrix, converged, as counted by hand: the one-region spec's, the roles
/// shared and the rest once more in the second region (a bucket and its access-log bucket, the bucket's
/// notification, a stream, a topic with the consumer's queue subscribed, a key, a filter per cluster).
fn converged_two_regions() -> BTreeMap<String, usize> {
    let mut converged = converged();
    converged.extend(counts(&[
        ("buckets", 4),
        ("bucket notifications", 2),
        ("eu-west-1 streams", 1),
        ("eu-west-1 topics", 1),
        ("eu-west-1 subscriptions", 1),
        ("eu-west-1 queues", 0),
        ("eu-west-1 functions", 0),
        ("eu-west-1 keys", 1),
        ("eu-west-1 filters on prod", 1),
    ]));
    converged
}

/// What a matrix's every k is checked against: what the account holds before the first apply, and after a clean
/// one.
struct Expected {
    before: BTreeMap<String, usize>,
    converged: BTreeMap<String, usize>,
}

/// One crash at the k-th write, then resume, converge to what a clean apply owns, destroy. Returns whether the
/// k-th write happened at all.
async fn crash_at(case: &Case, k: usize, last: usize, expected: &Expected) -> bool {
    let moto = Moto::start();
    clusters(&moto, case).await;
    let w = Workdir::with_spec(case.spec);
    let mut child = w
        .command(Some(&moto.endpoint()), &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start apply");
    let pid = child.id().to_string();
    moto.recorder().on_write(
        k,
        Box::new(move || {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        }),
    );
    let status = child.wait().expect("apply ends");
    if status.success() {
        // A full apply has fewer than k writes.
        return false;
    }
    assert_eq!(status.signal(), Some(9), "k={k}: apply should have been killed, ended with {status}");

    // Destroy straight after the crash, for every fourth k from the third (3, 7, 11, ...): what the killed apply
    // made is the pipeline's, half-made or not, and goes; what the account had before stays.
    if k % DESTROY_EVERY == 3 {
        let destroyed = run(&moto, &w, &["destroy", "--auto-approve"]);
        assert_eq!(
            destroyed.code(),
            0,
            "k={k}: destroy after the crash\n{}\n{}",
            destroyed.stdout(),
            destroyed.stderr()
        );
        let left = after_destroy(&moto, case, &expected.before).await;
        assert_eq!(owned(&moto, case).await, left, "k={k}: destroy after the crash left some of the pipeline");
        return true;
    }

    let resumed = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(resumed.code(), 0, "k={k}: resume failed\n{}\n{}", resumed.stdout(), resumed.stderr());
    assert_eq!(owned(&moto, case).await, expected.converged, "k={k}: duplicated or missing after resume");
    moto.recorder().reset();
    let again = run(&moto, &w, &["apply", "--auto-approve"]);
    assert!(again.stdout().contains("No changes."), "k={k}: {}", again.stdout());
    assert!(moto.recorder().writes().is_empty(), "k={k}: {:?}", moto.recorder().writes());

    // Destroy from the resumed state, for every fourth k (1, 5, 9, ...) and the last: the state is already shown
    // equal to a clean apply's, and a destroy at every k of both specs would push the suite past CI's time.
    if k % DESTROY_EVERY != 1 && k != last {
        return true;
    }
    let destroyed = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(destroyed.code(), 0, "k={k}: {}", destroyed.stderr());
    // What the account had before (someone else's provider) stays; nothing of the pipeline's does, but the keys
    // of the log groups destroy keeps.
    let left = after_destroy(&moto, case, &expected.before).await;
    assert_eq!(owned(&moto, case).await, left, "k={k}: destroy left more than the account had");
    true
}

/// Every k of a full apply of `case`: converged to what a clean apply owns (and to `by_hand` when given).
fn crash_matrix(case: &Case, by_hand: Option<BTreeMap<String, usize>>) {
    let started = std::time::Instant::now();
    // How many writes a full apply makes, and what it owns.
    let (writes, expected) = with_slot(|| {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let moto = Moto::start();
            clusters(&moto, case).await;
            // The same for every k, which starts from the same account.
            let before = owned(&moto, case).await;
            let w = Workdir::with_spec(case.spec);
            let out = run(&moto, &w, &["apply", "--auto-approve"]);
            assert_eq!(out.code(), 0, "{}", out.stderr());
            let writes = moto.recorder().writes();
            if case.others_oidc_provider.is_some() {
                // Answered by test support, and so one of the k.
                assert!(writes.iter().any(|w| w == "AddClientIDToOpenIDConnectProvider"), "{writes:?}");
            }
            (writes.len(), Expected { before, converged: owned(&moto, case).await })
        })
    });
    if let Some(by_hand) = by_hand {
        assert_eq!(expected.converged, by_hand, "a clean apply owns what was counted by hand");
    }
    assert!(writes > 20, "a full apply makes {writes} writes");
    // Every k, on as many threads as there are slots (each k with its own moto).
    let next = std::sync::atomic::AtomicUsize::new(1);
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k > writes {
                    break;
                }
                let crashed = with_slot(|| {
                    tokio::runtime::Runtime::new().unwrap().block_on(crash_at(case, k, writes, &expected))
                });
                assert!(crashed, "k={k} of {writes}: apply finished before its k-th write");
            });
        }
    });
    eprintln!("crash matrix: {writes} writes, every k in {:.0?}", started.elapsed());
}

#[tokio::test]
async fn two_applies_at_once_both_succeed_and_end_in_the_right_state() {
    let case = Case { spec: SPEC, clusters: ONE_REGION, others_oidc_provider: None };
    let moto = Moto::start();
    clusters(&moto, &case).await;
    let w = Workdir::with_spec(SPEC);
    let spawn = || w.command(Some(&moto.endpoint()), &["apply", "--auto-approve"]).spawn().expect("start apply");
    let (a, b) = (spawn(), spawn());
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(owned(&moto, &case).await, converged());
    moto.recorder().reset();
    let again = run(&moto, &w, &["apply", "--auto-approve"]);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    assert!(moto.recorder().writes().is_empty());
}

/// A second apply that runs from start to end while the first is stopped right after its k-th write: the
/// worst interleaving, made deterministic.
#[tokio::test]
async fn an_apply_that_runs_entirely_inside_another_and_a_lost_answer_leave_both_successful() {
    let case = Case { spec: SPEC, clusters: ONE_REGION, others_oidc_provider: None };
    for k in [2, 6, 10, 16] {
        let moto = Moto::start();
        clusters(&moto, &case).await;
        let w = Workdir::with_spec(SPEC);
        let inner_out = std::sync::Arc::new(std::sync::Mutex::new(None));
        let mut inner = w.command(Some(&moto.endpoint()), &["apply", "--auto-approve"]);
        let slot = std::sync::Arc::clone(&inner_out);
        moto.recorder().on_write(
            k,
            Box::new(move || {
                *slot.lock().unwrap() = Some(inner.output().expect("inner apply"));
            }),
        );
        let outer = run(&moto, &w, &["apply", "--auto-approve"]);
        let inner = inner_out.lock().unwrap().take().expect("the inner apply ran");
        assert!(inner.status.success(), "k={k} inner: {}", String::from_utf8_lossy(&inner.stderr));
        // The outer apply's k-th call never got its answer (the connection closed under it): the SDK sent it
        // again, the create found the inner apply's resource there, and the outer apply went on.
        assert_eq!(outer.code(), 0, "k={k} outer: {}", outer.stderr());
        assert_eq!(owned(&moto, &case).await, converged(), "k={k}");
        moto.recorder().reset();
        let again = run(&moto, &w, &["apply", "--auto-approve"]);
        assert!(again.stdout().contains("No changes."), "k={k}: {}", again.stdout());
    }
}
