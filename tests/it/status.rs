//! `eksaudit status` against moto: a working pipeline told from a silently broken one, by exit code, verdict and
//! the broken link in AWS's own words; and status never mutates anything.
//!
//! moto delivers Firehose records to S3 (a log event in a cluster's audit stream becomes an object under the
//! prefix), but it publishes no CloudWatch metrics and keeps no queue ages: the tests put the metrics AWS would
//! publish (PutMetricData through `Moto::cloudwatch`, before the recorder is reset) and leave messages in the queues.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use eksaudit_test_support::{Fault, Moto};
use serde_json::Value;

use crate::support::{apply, run, Workdir};

const EVENTS: &str = include_str!("../data/eks-audit-events.jsonl");

/// One region, two clusters, the generic consumer over SQS (a queue and its dead-letter queue).
const SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "111122223333"
external_id = "generic-external-id"
notify = "sqs"

[[region]]
name = "eu-central-1"
clusters = ["prod-1", "stage-a"]
"#;

const REGION: &str = "eu-central-1";
const BUCKET: &str = "eks-audit-123456789012-eu-central-1";

async fn pipeline() -> (Moto, Workdir) {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    moto.create_cluster(REGION, "stage-a", true).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    (moto, w)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// An audit event in the cluster's `kube-apiserver-audit-x` stream, as EKS writes it; moto forwards it through
/// the subscription filter and Firehose into the bucket.
async fn audit_event(moto: &Moto, cluster: &str) {
    let logs = moto.region(REGION).logs;
    let group = format!("/aws/eks/{cluster}/cluster");
    let _ = logs.create_log_stream().log_group_name(&group).log_stream_name("kube-apiserver-audit-x").send().await;
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("kube-apiserver-audit-x")
        .log_events(
            InputLogEvent::builder().timestamp(now_ms()).message(EVENTS.lines().next().unwrap()).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A metric datapoint as AWS would publish it (moto publishes none).
async fn metric(moto: &Moto, namespace: &str, name: &str, dimensions: &[(&str, &str)], value: f64) {
    let mut datum = MetricDatum::builder()
        .metric_name(name)
        .value(value)
        .timestamp(aws_smithy_types::DateTime::from_millis(now_ms()));
    for (n, v) in dimensions {
        datum = datum.dimensions(Dimension::builder().name(*n).value(*v).build());
    }
    moto.cloudwatch(REGION).put_metric_data().namespace(namespace).metric_data(datum.build()).send().await.unwrap();
}

fn filter_dimensions(cluster: &str) -> Vec<(&'static str, String)> {
    vec![
        ("LogGroupName", format!("/aws/eks/{cluster}/cluster")),
        ("DestinationType", "Firehose".into()),
        ("FilterName", "eks-audit".into()),
    ]
}

async fn filter_metric(moto: &Moto, cluster: &str, name: &str, value: f64) {
    let dims = filter_dimensions(cluster);
    let dims: Vec<(&str, &str)> = dims.iter().map(|(k, v)| (*k, v.as_str())).collect();
    metric(moto, "AWS/Logs", name, &dims, value).await;
}

/// Runs `status` (JSON unless text is asked for), asserting it made no mutating call.
fn status(moto: &Moto, w: &Workdir, args: &[&str]) -> (i32, String, String) {
    moto.recorder().reset();
    let out = run(moto, w, &[&["status"], args].concat());
    out.assert_no_panic();
    assert!(moto.recorder().writes().is_empty(), "status mutated: {:?}", moto.recorder().writes());
    assert!(moto.recorder().count("GetMetricData") >= 1, "one batched metrics read per region");
    (out.code(), out.stdout(), out.stderr())
}

fn status_json(moto: &Moto, w: &Workdir) -> (i32, Value) {
    let (code, stdout, stderr) = status(moto, w, &["--json"]);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(doc["format_version"], "1");
    (code, doc)
}

fn cluster<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["regions"][0]["clusters"].as_array().unwrap().iter().find(|c| c["cluster"] == name).unwrap()
}

#[tokio::test]
async fn a_working_pipeline_is_delivering_and_an_idle_cluster_idle() {
    let (moto, w) = pipeline().await;
    audit_event(&moto, "prod-1").await;
    filter_metric(&moto, "prod-1", "ForwardedLogEvents", 1.0).await;
    let (code, doc) = status_json(&moto, &w);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["verdict"], "delivering", "{doc:#}");
    assert_eq!(cluster(&doc, "prod-1")["verdict"], "delivering");
    assert_eq!(cluster(&doc, "prod-1")["forwarded"], 1.0, "{doc:#}");
    assert!(cluster(&doc, "prod-1")["last_event"].is_i64(), "{doc:#}");
    assert_eq!(cluster(&doc, "stage-a")["verdict"], "idle");
    let newest = &doc["regions"][0]["newest_object"];
    assert!(newest["key"].as_str().unwrap().starts_with("eks-audit-logs/"), "{doc:#}");
    assert_eq!(doc["regions"][0]["bucket"], BUCKET);
    assert_eq!(doc["max_delivery_lag_seconds"], 600);

    let (code, text, _) = status(&moto, &w, &[]);
    assert_eq!(code, 0);
    assert!(text.contains("Region eu-central-1: delivering"), "{text}");
    assert!(text.contains("cluster prod-1: delivering") && text.contains("cluster stage-a: idle"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("Status: delivering")), "{text}");
}

#[tokio::test]
async fn nothing_to_deliver_is_idle_exit_0() {
    let (moto, w) = pipeline().await;
    let (code, doc) = status_json(&moto, &w);
    assert_eq!((code, doc["verdict"].as_str()), (0, Some("idle")), "{doc:#}");
}

#[tokio::test]
async fn records_waiting_in_firehose_past_the_lag_are_stale() {
    let (moto, w) = pipeline().await;
    audit_event(&moto, "prod-1").await;
    metric(&moto, "AWS/Firehose", "DeliveryToS3.DataFreshness", &[("DeliveryStreamName", "eks-audit")], 1800.0).await;
    let (code, doc) = status_json(&moto, &w);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["verdict"], "stale");
    assert_eq!(cluster(&doc, "prod-1")["verdict"], "stale");
    assert_eq!(doc["regions"][0]["link"], "stream");
}

#[tokio::test]
async fn delivery_errors_and_firehose_error_lines_are_failing_in_aws_words() {
    let (moto, w) = pipeline().await;
    audit_event(&moto, "prod-1").await;
    audit_event(&moto, "stage-a").await;
    filter_metric(&moto, "stage-a", "DeliveryErrors", 4.0).await;
    // What Firehose writes to its error log group when it cannot reach the bucket.
    let message = "Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose to assume the role, and the access policy allows access to the S3 bucket.";
    let logs = moto.region(REGION).logs;
    let group = "/aws/kinesisfirehose/eks-audit";
    let _ = logs.create_log_stream().log_group_name(group).log_stream_name("DestinationDelivery").send().await;
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("DestinationDelivery")
        .log_events(InputLogEvent::builder().timestamp(now_ms()).message(message).build().unwrap())
        .send()
        .await
        .unwrap();

    let (code, doc) = status_json(&moto, &w);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["verdict"], "failing");
    let stage = cluster(&doc, "stage-a");
    assert_eq!((stage["verdict"].as_str(), stage["link"].as_str()), (Some("failing"), Some("filter")), "{doc:#}");
    assert!(stage["reason"].as_str().unwrap().contains("4 delivery error(s)"), "{stage:#}");
    let prod = cluster(&doc, "prod-1");
    assert_eq!((prod["verdict"].as_str(), prod["link"].as_str()), (Some("failing"), Some("stream")), "{doc:#}");
    assert!(prod["reason"].as_str().unwrap().ends_with(message), "{prod:#}");
    assert_eq!(doc["regions"][0]["errors"][0]["message"], message);

    let (_, text, _) = status(&moto, &w, &[]);
    assert!(text.contains(message), "verbatim: {text}");
    assert!(text.contains("fix: "), "{text}");
}

#[tokio::test]
async fn an_unread_queue_and_a_dead_letter_are_consumer_lagging() {
    let (moto, w) = pipeline().await;
    audit_event(&moto, "prod-1").await;
    // Left in the queues: what S3 sent and nobody read, and what the consumer failed on.
    let sqs = moto.region(REGION).sqs;
    for queue in ["eks-audit", "eks-audit-dlq"] {
        let url = sqs.get_queue_url().queue_name(queue).send().await.unwrap().queue_url.unwrap();
        sqs.send_message().queue_url(url).message_body("{\"Records\":[]}").send().await.unwrap();
    }
    let (code, doc) = status_json(&moto, &w);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["verdict"], "consumer_lagging");
    assert_eq!(doc["regions"][0]["link"], "consumer");
    assert!(doc["regions"][0]["reason"].as_str().unwrap().contains("dead-letter queue eks-audit-dlq"), "{doc:#}");
    assert_eq!(doc["regions"][0]["consumer"]["dead_letter_depth"], 1);

    // The dead letter gone, the queue's oldest message past the lag (the age AWS would publish).
    let url = sqs.get_queue_url().queue_name("eks-audit-dlq").send().await.unwrap().queue_url.unwrap();
    sqs.purge_queue().queue_url(url).send().await.unwrap();
    metric(&moto, "AWS/SQS", "ApproximateAgeOfOldestMessage", &[("QueueName", "eks-audit")], 7200.0).await;
    let (code, doc) = status_json(&moto, &w);
    assert_eq!((code, doc["verdict"].as_str()), (2, Some("consumer_lagging")), "{doc:#}");
    assert!(doc["regions"][0]["reason"].as_str().unwrap().contains("the consumer is not reading"), "{doc:#}");
}

#[tokio::test]
async fn metrics_it_cannot_read_are_not_checked_exit_1_never_healthy() {
    let (moto, w) = pipeline().await;
    audit_event(&moto, "prod-1").await;
    moto.recorder().inject(Fault::error(
        "GetMetricData",
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: cloudwatch:GetMetricData",
    ));
    let (code, doc) = status_json(&moto, &w);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["verdict"], "not_checked");
    let prod = cluster(&doc, "prod-1");
    assert_eq!(prod["verdict"], "not_checked");
    assert!(
        prod["reason"].as_str().unwrap().contains("not authorized to perform: cloudwatch:GetMetricData"),
        "{prod:#}"
    );
    assert!(prod["forwarded"]["error"].is_string(), "{prod:#}");
}

#[test]
fn since_takes_a_duration() {
    let w = Workdir::with_spec(SPEC);
    for bad in ["10", "1w", "5s", "30d"] {
        let out = w.run(Some("http://127.0.0.1:9"), &["status", "--since", bad]);
        assert_eq!(out.code(), 1, "a usage error for {bad}: {}", out.stderr());
        assert!(out.stderr().contains("--since"), "{}", out.stderr());
    }
}
