//! apply under scripted faults the emulator cannot produce on its own (IAM propagation, CloudWatch Logs' test
//! message, throttling, a stream that fails to create), injected by the recording proxy in front of moto. Each
//! run either converges or fails within its budget with AWS's words and what to do.

use eksaudit_test_support::{Fault, Moto};
use serde_json::Value;

use crate::support::{Run, Workdir};

const SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[[region]]
name = "us-east-1"
clusters = ["*"]
"#;

const BUCKET: &str = "eks-audit-123456789012-us-east-1";
const UNABLE_TO_ASSUME: &str =
    "Firehose is unable to assume role arn:aws:iam::123456789012:role/eks-audit-firehose. Please check the role provided.";

fn run(moto: &Moto, w: &Workdir, args: &[&str]) -> Run {
    let run = w.run(Some(&moto.endpoint()), args);
    run.assert_no_panic();
    run
}

async fn stream_status(moto: &Moto) -> String {
    let out =
        moto.region("us-east-1").firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await;
    out.map(|o| o.delivery_stream_description().unwrap().delivery_stream_status().as_str().to_string())
        .unwrap_or_else(|_| "absent".into())
}

async fn filter_names(moto: &Moto) -> Vec<String> {
    let out = moto
        .region("us-east-1")
        .logs
        .describe_subscription_filters()
        .log_group_name("/aws/eks/prod/cluster")
        .send()
        .await
        .unwrap();
    out.subscription_filters().iter().filter_map(|f| f.filter_name().map(str::to_string)).collect()
}

/// Runs apply again and asserts it had nothing left to do.
fn assert_converged(moto: &Moto, w: &Workdir) {
    moto.recorder().clear_faults();
    moto.recorder().reset();
    let again = run(moto, w, &["apply", "--auto-approve"]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
}

#[tokio::test]
async fn iam_propagation_test_message_and_throttling_are_retried_until_apply_converges() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    let recorder = moto.recorder();
    recorder.inject(Fault::error("CreateDeliveryStream", 400, "InvalidArgumentException", UNABLE_TO_ASSUME).times(2));
    recorder.inject(
        Fault::error(
            "PutSubscriptionFilter",
            400,
            "InvalidParameterException",
            "Could not deliver test message to specified Firehose stream. Check if the given Firehose stream is in ACTIVE state.",
        )
        .times(1),
    );
    // Throttling in three protocols: query (SNS), JSON (Firehose reads) and S3's 503 SlowDown.
    recorder.inject(Fault::throttle("CreateTopic").times(2));
    recorder.inject(Fault::throttle("DescribeDeliveryStream").times(2));
    recorder.inject(
        Fault::error(&format!("PUT /{BUCKET}/?policy"), 503, "SlowDown", "Please reduce your request rate.").times(2),
    );

    let w = Workdir::with_spec(SPEC);
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stderr().contains("Apply complete!"), "{}", out.stderr());
    assert_eq!(recorder.count("CreateDeliveryStream"), 3, "two refusals, then the stream");
    assert_eq!(recorder.count("PutSubscriptionFilter"), 2, "one undelivered test message, then the filter");
    assert_eq!(recorder.count("CreateTopic"), 3, "the SDK retried the throttled calls");
    let ops: Vec<String> = recorder.calls().into_iter().map(|c| c.operation).collect();
    assert_eq!(recorder.count(&format!("PUT /{BUCKET}/?policy")), 3, "{ops:?}");
    assert_eq!(stream_status(&moto).await, "ACTIVE");
    assert_eq!(filter_names(&moto).await, ["eks-audit"]);
    let policy = moto.region("us-east-1").s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap();
    assert!(policy.policy().unwrap().contains("aws:SecureTransport"));
    assert_converged(&moto, &w);
}

/// moto's streams are ACTIVE at once; this one reports CREATING_FAILED the first time it is described.
fn creating_failed(body: &str) -> String {
    let mut doc: Value = serde_json::from_str(body).expect("DescribeDeliveryStream JSON");
    let desc = &mut doc["DeliveryStreamDescription"];
    desc["DeliveryStreamStatus"] = "CREATING_FAILED".into();
    desc["FailureDescription"] =
        serde_json::json!({"Type": "S3_ACCESS_DENIED", "Details": "Access was denied to bucket eks-audit-test"});
    doc.to_string()
}

#[tokio::test]
async fn a_stream_that_fails_to_create_is_deleted_and_created_again_with_the_reason_shown() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    moto.recorder().inject(Fault::rewrite("DescribeDeliveryStream", creating_failed).times(1));
    let w = Workdir::with_spec(SPEC);
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stderr().contains("S3_ACCESS_DENIED: Access was denied to bucket eks-audit-test"), "{}", out.stderr());
    assert!(out.stderr().contains("deleting and creating it again"), "{}", out.stderr());
    assert_eq!(moto.recorder().count("CreateDeliveryStream"), 2);
    assert_eq!(moto.recorder().count("DeleteDeliveryStream"), 1);
    assert_eq!(stream_status(&moto).await, "ACTIVE");
    assert_eq!(filter_names(&moto).await, ["eks-audit"]);
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn a_stream_that_keeps_failing_stops_only_what_needs_it_and_says_why() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    moto.recorder().inject(Fault::rewrite("DescribeDeliveryStream", creating_failed));
    let w = Workdir::with_spec(SPEC);
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(err.contains("Apply incomplete:"), "{err}");
    assert!(err.contains("region.us-east-1.stream"), "{err}");
    assert!(err.contains("failed to create (S3_ACCESS_DENIED: Access was denied"), "{err}");
    assert!(err.contains("region.us-east-1.cluster.prod.filter: skipped: needs region.us-east-1.stream"), "{err}");
    assert!(err.contains("again once the cause is fixed"), "{err}");
    assert_eq!(moto.recorder().count("CreateDeliveryStream"), 2, "one re-creation, then it gives up");
    // Independent branches went on.
    let topics = moto.region("us-east-1").sns.list_topics().send().await.unwrap();
    assert_eq!(topics.topics().len(), 1);
    assert!(filter_names(&moto).await.is_empty());
    assert_converged_after_apply(&moto, &w);
}

#[tokio::test]
async fn iam_propagation_that_outlasts_the_budget_fails_with_aws_words_and_resumes_later() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    moto.recorder().inject(Fault::error("CreateDeliveryStream", 400, "InvalidArgumentException", UNABLE_TO_ASSUME));
    let w = Workdir::with_spec(SPEC);
    let started = std::time::Instant::now();
    let out = run(&moto, &w, &["apply", "--auto-approve", "--wait-timeout", "3"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the budget bounds the run");
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(err.contains("Firehose is unable to assume role"), "{err}");
    assert!(err.contains("gave up after"), "{err}");
    assert!(moto.recorder().count("CreateDeliveryStream") >= 2, "it retried within the budget");
    assert_eq!(stream_status(&moto).await, "absent");
    // The role has propagated by now: the next apply picks up where this one stopped.
    assert_converged_after_apply(&moto, &w);
}

fn assert_converged_after_apply(moto: &Moto, w: &Workdir) {
    moto.recorder().clear_faults();
    let out = run(moto, w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains("to create"), "only the rest is created: {}", out.stdout());
    assert_converged(moto, w);
}
