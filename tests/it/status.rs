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

use crate::support::{apply, assert_converged, run, Workdir};

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
    metric_at(moto, namespace, name, dimensions, value, now_ms()).await;
}

/// [`metric`], published for the time `at_ms` (milliseconds since the epoch).
async fn metric_at(moto: &Moto, namespace: &str, name: &str, dimensions: &[(&str, &str)], value: f64, at_ms: i64) {
    let mut datum =
        MetricDatum::builder().metric_name(name).value(value).timestamp(aws_smithy_types::DateTime::from_millis(at_ms));
    for (n, v) in dimensions {
        datum = datum.dimensions(Dimension::builder().name(*n).value(*v).build());
    }
    moto.cloudwatch(REGION).put_metric_data().namespace(namespace).metric_data(datum.build()).send().await.unwrap();
}

/// A line in the stream's error log group, as Firehose writes it when it cannot deliver.
async fn firehose_error(moto: &Moto, message: &str) {
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
    firehose_error(&moto, message).await;

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

#[tokio::test]
async fn since_is_the_window_looked_at_an_hour_unless_told() {
    let (moto, w) = pipeline().await;
    audit_event(&moto, "prod-1").await;
    // Delivery errors 45 minutes ago: inside the default hour, outside `--since 30m`.
    let dims = filter_dimensions("prod-1");
    let dims: Vec<(&str, &str)> = dims.iter().map(|(k, v)| (*k, v.as_str())).collect();
    metric_at(&moto, "AWS/Logs", "DeliveryErrors", &dims, 4.0, now_ms() - 45 * 60 * 1000).await;

    let (code, doc) = status_json(&moto, &w);
    assert_eq!((code, doc["since_seconds"].as_u64()), (2, Some(3600)), "{doc:#}");
    assert_eq!(cluster(&doc, "prod-1")["verdict"], "failing", "{doc:#}");

    let (_, stdout, stderr) = status(&moto, &w, &["--json", "--since", "30m"]);
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(doc["since_seconds"], 1800, "{doc:#}");
    assert_ne!(cluster(&doc, "prod-1")["verdict"], "failing", "errors before the window: {doc:#}");
}

#[tokio::test]
async fn only_the_kube_apiserver_audit_streams_say_when_the_last_audit_event_came() {
    let (moto, w) = pipeline().await;
    // EKS writes its other control-plane logs to the same group, in streams of their own: not audit events.
    let logs = moto.region(REGION).logs;
    let group = "/aws/eks/prod-1/cluster";
    for stream in ["authenticator-x", "kube-apiserver-x"] {
        logs.create_log_stream().log_group_name(group).log_stream_name(stream).send().await.unwrap();
        let event = InputLogEvent::builder().timestamp(now_ms()).message("time=\"...\" level=info").build().unwrap();
        logs.put_log_events().log_group_name(group).log_stream_name(stream).log_events(event).send().await.unwrap();
    }
    let (_, doc) = status_json(&moto, &w);
    let prod = cluster(&doc, "prod-1");
    assert!(prod["last_event"].is_null(), "{prod:#}");
    assert_eq!(prod["verdict"], "idle", "{prod:#}");
    assert!(prod["reason"].as_str().unwrap().contains("no audit event in /aws/eks/prod-1/cluster yet"), "{prod:#}");

    audit_event(&moto, "prod-1").await;
    let (_, doc) = status_json(&moto, &w);
    assert!(cluster(&doc, "prod-1")["last_event"].is_i64(), "{doc:#}");
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

/// `[alerts]` on the same pipeline: the alert function and its dead-letter queue.
const ALERTS: &str = "\n[alerts]\nusers = [\"kubernetes-admin\"]\n";
const FAILED_ALERTS: &str = "eks-audit-alerts-dlq";

/// What Lambda puts in the function's dead-letter queue once an invocation failed its retries: the invocation
/// itself (CloudWatch Logs' `awslogs` envelope), with the error as message attributes. moto runs no function, so
/// the test puts it there, and the age AWS would publish for it.
async fn failed_alert(moto: &Moto, age_seconds: f64) {
    use aws_sdk_sqs::types::MessageAttributeValue;
    let sqs = moto.region(REGION).sqs;
    let url = sqs.get_queue_url().queue_name(FAILED_ALERTS).send().await.unwrap().queue_url.unwrap();
    let text = |v: &str| MessageAttributeValue::builder().data_type("String").string_value(v).build().unwrap();
    sqs.send_message()
        .queue_url(url)
        .message_body(r#"{"awslogs":{"data":"H4sIAAAAAAAA/6tWKkktLlGyUkjOzytJzSvRUcrPS1WyUgIA2/PvWxgAAAA="}}"#)
        .message_attributes("ErrorCode", text("200"))
        .message_attributes("ErrorMessage", text("An error occurred (NotFound) when calling the Publish operation"))
        .send()
        .await
        .unwrap();
    metric(moto, "AWS/SQS", "ApproximateAgeOfOldestMessage", &[("QueueName", FAILED_ALERTS)], age_seconds).await;
}

#[tokio::test]
async fn the_alert_function_names_its_encrypted_dead_letter_queue_and_a_failed_alert_there_is_a_finding() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    moto.create_cluster(REGION, "stage-a", true).await;
    let w = Workdir::with_spec(&format!("{SPEC}{ALERTS}"));
    apply(&moto, &w);
    // Read as Lambda answers it (through the proxy, which keeps the DeadLetterConfig moto drops).
    let lambda =
        aws_sdk_lambda::Client::new(&moto.sdk_config(REGION).into_builder().endpoint_url(moto.endpoint()).build());
    let f = lambda.get_function_configuration().function_name("eks-audit-alerts").send().await.unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:123456789012:{FAILED_ALERTS}");
    assert_eq!(f.dead_letter_config().and_then(|d| d.target_arn()), Some(queue_arn.as_str()));
    // The queue: the pipeline's key, 14 days, owned by the pipeline.
    let attrs = moto.queue_attributes(REGION, FAILED_ALERTS).await;
    let get = |k: &str| attrs.get(k).cloned().unwrap_or_default();
    assert_eq!(get("KmsMasterKeyId"), format!("arn:aws:kms:{REGION}:123456789012:alias/eks-audit"));
    assert_eq!(get("MessageRetentionPeriod"), "1209600");
    let sqs = moto.region(REGION).sqs;
    let url = sqs.get_queue_url().queue_name(FAILED_ALERTS).send().await.unwrap().queue_url.unwrap();
    let tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().get("eksaudit:pipeline").map(String::as_str), Some("eks-audit"));
    // The function's role may send there, and only there.
    let aws = moto.aws();
    let iam = aws.iam();
    let policy = iam.get_role_policy().role_name("eks-audit-alerts").policy_name("eks-audit").send().await.unwrap();
    let doc = percent_encoding::percent_decode_str(policy.policy_document()).decode_utf8().unwrap().to_string();
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let send = doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "SendFailedAlerts").unwrap();
    assert_eq!(
        (&send["Action"], &send["Resource"]),
        (&serde_json::json!(["sqs:SendMessage"]), &serde_json::json!([queue_arn]))
    );
    assert_converged(&moto, &w);

    // Nothing waiting: no finding.
    let (code, doc) = status_json(&moto, &w);
    assert_eq!(doc["regions"][0]["failed_alerts"]["waiting"], 0, "{doc:#}");
    assert_eq!(code, 0, "{doc:#}");

    failed_alert(&moto, 5400.0).await;
    let (code, doc) = status_json(&moto, &w);
    assert_eq!(code, 2, "{doc:#}");
    let region = &doc["regions"][0];
    assert_eq!((region["verdict"].as_str(), region["link"].as_str()), (Some("failing"), Some("alerts")), "{doc:#}");
    let reason = region["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "1 alert(s) the alert function failed to publish wait in eks-audit-alerts-dlq, the oldest 1h 30m old"
        ),
        "{reason}"
    );
    assert_eq!(region["failed_alerts"]["oldest_age_seconds"], 5400.0);
    let (_, text, _) = status(&moto, &w, &[]);
    assert!(
        text.contains("alerts eks-audit-alerts-dlq") && text.contains("1 failed alert(s) waiting, oldest 1h 30m"),
        "{text}"
    );

    // drift reports it too, as a delivery finding on the queue (the configuration is in sync).
    let (code, doc) = drift_json(&moto, &w, &[]);
    assert_eq!(code, 2, "{doc:#}");
    let f = delivery(&doc);
    assert_eq!(f.len(), 1, "{doc:#}");
    assert_eq!(f[0]["path"], "region.eu-central-1.alerts_dead_letter_queue.delivery");
    let detail = f[0]["detail"].as_str().unwrap();
    assert!(detail.contains("1 alert(s)") && detail.contains("1h 30m"), "{doc:#}");
    assert_eq!(doc["counts"]["delivery"], 1);
    assert_eq!((doc["counts"]["missing"].as_u64(), doc["counts"]["changed"].as_u64()), (Some(0), Some(0)), "{doc:#}");
}

/// `drift --json` (and `args`), asserting it mutated nothing.
fn drift_json(moto: &Moto, w: &Workdir, args: &[&str]) -> (i32, Value) {
    moto.recorder().reset();
    let out = run(moto, w, &[&["drift", "--json"], args].concat());
    assert!(moto.recorder().writes().is_empty(), "drift mutated: {:?}", moto.recorder().writes());
    let doc: Value =
        serde_json::from_str(&out.stdout()).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout(), out.stderr()));
    (out.code(), doc)
}

fn delivery(doc: &Value) -> Vec<Value> {
    doc["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "delivery").cloned().collect()
}

#[tokio::test]
async fn drift_reports_delivery_as_findings_and_config_only_skips_them() {
    let (moto, w) = pipeline().await;
    audit_event(&moto, "prod-1").await;
    filter_metric(&moto, "prod-1", "ForwardedLogEvents", 1.0).await;
    // Healthy: no delivery finding, in sync; the delivery chain was read.
    let (code, doc) = drift_json(&moto, &w, &[]);
    assert_eq!((code, doc["verdict"].as_str()), (0, Some("in_sync")), "{doc:#}");
    assert!(delivery(&doc).is_empty(), "{doc:#}");
    assert_eq!(doc["counts"]["delivery"], 0);
    assert_eq!(moto.recorder().count("GetMetricData"), 1, "one batched metrics read for the region");
    // The newest object under the prefix: S3's ListObjectsV2 (`GET /bucket/?list-type=2...`).
    let object_listings = || {
        let calls = moto.recorder().calls();
        calls.iter().filter(|c| c.operation.starts_with("GET /") && c.operation.contains("list-type=2")).count()
    };
    assert!(object_listings() > 0, "{:?}", moto.recorder().calls().iter().map(|c| &c.operation).collect::<Vec<_>>());

    // Failing: Firehose cannot write to the bucket; drift names the stream with AWS's words, and the cluster
    // whose filter fails beside it.
    let message = "Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose to assume the role, and the access policy allows access to the S3 bucket.";
    firehose_error(&moto, message).await;
    audit_event(&moto, "stage-a").await;
    filter_metric(&moto, "stage-a", "DeliveryErrors", 4.0).await;
    let (code, doc) = drift_json(&moto, &w, &[]);
    assert_eq!((code, doc["verdict"].as_str()), (2, Some("drift")), "{doc:#}");
    let found = delivery(&doc);
    let paths: Vec<&str> = found.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["region.eu-central-1.cluster.stage-a.filter.delivery", "region.eu-central-1.stream.delivery"],
        "{doc:#}"
    );
    let stream = &found[1];
    assert!(stream["detail"].as_str().unwrap().ends_with(message), "AWS's words: {stream:#}");
    assert_eq!((stream["actual"].as_str(), stream["field"].as_str()), (Some("failing"), Some("delivery")));
    assert!(found[0]["detail"].as_str().unwrap().contains("4 delivery error(s)"), "{doc:#}");
    assert_eq!(doc["counts"]["delivery"], 2);
    let out = run(&moto, &w, &["drift"]);
    assert_eq!(out.code(), 2);
    let text = out.stdout();
    assert!(text.contains("delivery    region.eu-central-1.stream.delivery") && text.contains(message), "{text}");
    assert!(text.contains("2 delivery"), "{text}");

    // `[drift] ignore` accepts one, counted.
    let w2 = Workdir::with_spec(&format!("{SPEC}\n[drift]\nignore = [\"cluster.stage-a.filter.delivery\"]\n"));
    let (code, doc) = drift_json(&moto, &w2, &[]);
    let counts = (doc["counts"]["delivery"].as_u64(), doc["counts"]["ignored"].as_u64());
    assert_eq!((code, counts), (2, (Some(1), Some(1))), "{doc:#}");

    // --config-only: no delivery finding, and no read of the delivery chain.
    let (code, doc) = drift_json(&moto, &w, &["--config-only"]);
    assert_eq!((code, doc["verdict"].as_str()), (0, Some("in_sync")), "{doc:#}");
    assert!(delivery(&doc).is_empty(), "{doc:#}");
    for operation in ["GetMetricData", "DescribeLogStreams", "GetLogEvents"] {
        assert_eq!(moto.recorder().count(operation), 0, "{operation} with --config-only");
    }
    assert_eq!(object_listings(), 0, "object listings with --config-only");
}
