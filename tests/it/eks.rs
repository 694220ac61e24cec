//! Turning a cluster's audit logging on, as real EKS answers it: the update stays `InProgress` for a while, may
//! fail or be cancelled, and another update on the same cluster is refused while one runs. moto runs no update,
//! so test support scripts them (`EksUpdateScript`); the waits, the failure messages and `--wait-timeout` are
//! eksaudit's own.

use std::time::Instant;

use eksaudit_test_support::{EksOutcome, EksUpdateScript, Fault, Moto};

use crate::support::{run, Workdir};

const SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
preset = "rad"

[bucket]
encryption = "sse-s3"
access_logging = false

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
enable_audit_logging = true
"#;

async fn setup(script: EksUpdateScript) -> (Moto, Workdir) {
    let moto = Moto::start();
    moto.create_cluster("eu-central-1", "prod-1", false).await;
    moto.recorder().script_eks_updates(script);
    (moto, Workdir::with_spec(SPEC))
}

fn script(polls: usize, outcome: EksOutcome) -> EksUpdateScript {
    EksUpdateScript { in_progress_polls: polls, outcome }
}

#[tokio::test]
async fn apply_waits_while_the_update_is_in_progress_then_goes_on() {
    let (moto, w) = setup(script(3, EksOutcome::Successful)).await;
    let apply = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(apply.code(), 0, "{}\n{}", apply.stdout(), apply.stderr());
    assert!(
        apply
            .stderr()
            .contains("region.eu-central-1.cluster.prod-1.audit_logging: waiting for EKS to turn audit logging on"),
        "{}",
        apply.stderr()
    );
    // Three InProgress answers, then Successful: four polls, and the filter only after it.
    assert_eq!(moto.recorder().count("DescribeUpdate"), 4);
    let calls: Vec<String> = moto.recorder().calls().iter().map(|c| c.operation.clone()).collect();
    let last_poll = calls.iter().rposition(|c| c == "DescribeUpdate").unwrap();
    let filter = calls.iter().position(|c| c == "PutSubscriptionFilter").expect("the filter is put");
    assert!(filter > last_poll, "the filter went on before the update finished: {calls:?}");
}

#[tokio::test]
async fn a_failed_or_cancelled_update_fails_the_step_with_eks_words_and_apply_exits_1() {
    for (outcome, says) in [
        (
            EksOutcome::Failed(vec!["The cluster's IAM role lacks logs:CreateLogGroup".into()]),
            "failed: The cluster's IAM role lacks logs:CreateLogGroup",
        ),
        (EksOutcome::Cancelled, "failed"),
    ] {
        let (moto, w) = setup(script(1, outcome.clone())).await;
        let apply = run(&moto, &w, &["apply", "--auto-approve"]);
        assert_eq!(apply.code(), 1, "{outcome:?}: {}", apply.stderr());
        let out = format!("{}{}", apply.stdout(), apply.stderr());
        assert!(out.contains("region.eu-central-1.cluster.prod-1.audit_logging"), "{out}");
        assert!(out.contains(&format!("on cluster prod-1 {says}")), "{outcome:?}: {out}");
        // The cluster's filter depends on its logging: not put over a failed update.
        assert_eq!(moto.recorder().count("PutSubscriptionFilter"), 0, "{outcome:?}");
    }
}

#[tokio::test]
async fn another_update_in_progress_is_waited_out() {
    // EKS refuses UpdateClusterConfig twice (an update of someone else's is still running), then takes it.
    let (moto, w) = setup(EksUpdateScript::default()).await;
    moto.recorder().inject(
        Fault::error(
            "UpdateClusterConfig",
            409,
            "ResourceInUseException",
            "Cannot LoggingUpdate because cluster prod-1 currently has update in progress",
        )
        .times(2),
    );
    let apply = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(apply.code(), 0, "{}", apply.stderr());
    assert_eq!(moto.recorder().count("UpdateClusterConfig"), 3);
}

#[tokio::test]
async fn the_emulated_eks_refuses_a_second_update_while_one_runs() {
    // The emulation itself, through the real SDK: a second update during the first is ResourceInUse, as in EKS.
    let (moto, _w) = setup(script(50, EksOutcome::Successful)).await;
    let eks = eksaudit_test_support::Moto::region(&moto, "eu-central-1").eks;
    let _ = eks; // moto's own client bypasses the proxy; the proxy's endpoint is what eksaudit uses.
    let proxied = aws_sdk_eks::Client::from_conf(
        aws_sdk_eks::config::Builder::from(&moto.sdk_config("eu-central-1")).endpoint_url(moto.endpoint()).build(),
    );
    use aws_sdk_eks::types::{LogSetup, LogType, Logging};
    let logging =
        Logging::builder().cluster_logging(LogSetup::builder().types(LogType::Audit).enabled(true).build()).build();
    let first = proxied.update_cluster_config().name("prod-1").logging(logging.clone()).send().await.unwrap();
    let id = first.update().and_then(|u| u.id()).unwrap().to_string();
    let second = proxied.update_cluster_config().name("prod-1").logging(logging).send().await;
    let err = second.expect_err("a second update while one runs");
    use aws_sdk_eks::error::ProvideErrorMetadata;
    assert_eq!(err.code(), Some("ResourceInUseException"), "{err:?}");
    let status = proxied.describe_update().name("prod-1").update_id(&id).send().await.unwrap();
    assert_eq!(status.update().and_then(|u| u.status()).map(|s| s.as_str().to_string()).as_deref(), Some("InProgress"));
    let missing = proxied.describe_update().name("prod-1").update_id("no-such-update").send().await;
    assert_eq!(missing.expect_err("unknown update").code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn wait_timeout_bounds_the_wait_and_names_what_it_waited_for() {
    // An update that never finishes: `--wait-timeout 3` gives up after about 3 s, not EKS's 20 minutes.
    let (moto, w) = setup(script(usize::MAX, EksOutcome::Successful)).await;
    let started = Instant::now();
    let apply = run(&moto, &w, &["apply", "--auto-approve", "--wait-timeout", "3"]);
    let took = started.elapsed();
    assert_eq!(apply.code(), 1, "{}", apply.stderr());
    let out = format!("{}{}", apply.stdout(), apply.stderr());
    assert!(out.contains("EKS update") && out.contains("on cluster prod-1"), "{out}");
    assert!(took.as_secs() < 30, "the wait was not bounded: {took:?}");
    assert!(moto.recorder().count("DescribeUpdate") >= 2, "it polled before giving up");
    assert_eq!(moto.recorder().count("PutSubscriptionFilter"), 0);
}
