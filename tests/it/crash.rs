//! Crash and resume: apply killed with SIGKILL right after its k-th mutating call reached AWS (before it heard the
//! answer), for every k of a full apply. A second apply converges with nothing duplicated, and destroy then leaves
//! nothing owned.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

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

const REGION: &str = "us-east-1";
const BUCKET: &str = "eks-audit-123456789012-us-east-1";

async fn clusters(moto: &Moto) {
    moto.create_cluster(REGION, "prod", true).await;
    moto.create_cluster(REGION, "stage", false).await;
}

/// Everything the pipeline owns, counted: what a duplicate or a leak would change.
async fn owned(moto: &Moto) -> Vec<(String, usize)> {
    let c = moto.region(REGION);
    let roles = moto.aws().iam().list_roles().send().await.unwrap();
    let streams = c.firehose.list_delivery_streams().send().await.unwrap();
    let topics = c.sns.list_topics().send().await.unwrap();
    let subs = c.sns.list_subscriptions().send().await.unwrap();
    let mut counts = vec![
        ("roles".to_string(), roles.roles().len()),
        ("streams".to_string(), streams.delivery_stream_names().len()),
        ("topics".to_string(), topics.topics().len()),
        ("subscriptions".to_string(), subs.subscriptions().len()),
    ];
    let buckets = c.s3.list_buckets().send().await.unwrap();
    let bucket = buckets.buckets().iter().any(|b| b.name() == Some(BUCKET));
    let access_logs = format!("{BUCKET}-access-logs");
    let access_logs = buckets.buckets().iter().any(|b| b.name() == Some(access_logs.as_str()));
    counts.push(("buckets".into(), usize::from(bucket) + usize::from(access_logs)));
    if bucket {
        let n = c.s3.get_bucket_notification_configuration().bucket(BUCKET).send().await.unwrap();
        counts.push(("notifications".into(), n.topic_configurations().len()));
    }
    // KMS keys not scheduled for deletion (a destroyed pipeline's key waits out its window, as AWS's does).
    let mut keys = 0;
    for k in c.kms.list_keys().send().await.unwrap().keys() {
        let meta = c.kms.describe_key().key_id(k.key_id().unwrap()).send().await.unwrap().key_metadata.unwrap();
        keys += usize::from(meta.key_state().is_some_and(|s| s.as_str() != "PendingDeletion"));
    }
    counts.push(("keys".into(), keys));
    for cluster in ["prod", "stage"] {
        let group = format!("/aws/eks/{cluster}/cluster");
        let filters = c.logs.describe_subscription_filters().log_group_name(&group).send().await;
        let n = filters.map(|f| f.subscription_filters().len()).unwrap_or(0);
        counts.push((format!("filters on {cluster}"), n));
    }
    counts
}

fn converged() -> Vec<(String, usize)> {
    [
        ("roles", 3),
        ("streams", 1),
        ("topics", 1),
        ("subscriptions", 1),
        ("buckets", 2),
        ("notifications", 1),
        ("keys", 1),
        ("filters on prod", 1),
        ("filters on stage", 1),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), *n))
    .collect()
}

/// One crash at the k-th write, then resume, converge, destroy. Returns whether the k-th write happened at all.
async fn crash_at(k: usize) -> bool {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
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

    let resumed = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(resumed.code(), 0, "k={k}: resume failed\n{}\n{}", resumed.stdout(), resumed.stderr());
    assert_eq!(owned(&moto).await, converged(), "k={k}: duplicated or missing after resume");
    moto.recorder().reset();
    let again = run(&moto, &w, &["apply", "--auto-approve"]);
    assert!(again.stdout().contains("No changes."), "k={k}: {}", again.stdout());
    assert!(moto.recorder().writes().is_empty(), "k={k}: {:?}", moto.recorder().writes());

    let destroyed = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(destroyed.code(), 0, "k={k}: {}", destroyed.stderr());
    let left: Vec<(String, usize)> = owned(&moto).await.into_iter().filter(|(_, n)| *n > 0).collect();
    assert!(left.is_empty(), "k={k}: destroy left {left:?}");
    true
}

#[test]
fn apply_killed_after_any_mutating_call_resumes_without_duplicates_and_destroys_clean() {
    // How many writes a full apply makes.
    let writes = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let moto = Moto::start();
        clusters(&moto).await;
        let w = Workdir::with_spec(SPEC);
        let out = run(&moto, &w, &["apply", "--auto-approve"]);
        assert_eq!(out.code(), 0, "{}", out.stderr());
        moto.recorder().writes().len()
    });
    assert!(writes > 20, "a full apply makes {writes} writes");
    // Every k, three at a time (each with its own moto).
    let ks: Vec<usize> = (1..=writes).collect();
    for chunk in ks.chunks(3) {
        std::thread::scope(|scope| {
            for &k in chunk {
                scope.spawn(move || {
                    let crashed = tokio::runtime::Runtime::new().unwrap().block_on(crash_at(k));
                    assert!(crashed, "k={k} of {writes}: apply finished before its k-th write");
                });
            }
        });
    }
}

#[tokio::test]
async fn two_applies_at_once_both_succeed_and_end_in_the_right_state() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    let spawn = || w.command(Some(&moto.endpoint()), &["apply", "--auto-approve"]).spawn().expect("start apply");
    let (a, b) = (spawn(), spawn());
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(owned(&moto).await, converged());
    moto.recorder().reset();
    let again = run(&moto, &w, &["apply", "--auto-approve"]);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    assert!(moto.recorder().writes().is_empty());
}

/// A second apply that runs from start to end while the first is stopped right after its k-th write: the
/// worst interleaving, made deterministic.
#[tokio::test]
async fn an_apply_that_runs_entirely_inside_another_and_a_lost_answer_leave_both_successful() {
    for k in [2, 6, 10, 16] {
        let moto = Moto::start();
        clusters(&moto).await;
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
        assert_eq!(owned(&moto).await, converged(), "k={k}");
        moto.recorder().reset();
        let again = run(&moto, &w, &["apply", "--auto-approve"]);
        assert!(again.stdout().contains("No changes."), "k={k}: {}", again.stdout());
    }
}
