//! The consumer contract, end to end, per preset: real EKS audit events (and CloudWatch Logs' control message) go
//! into a cluster's log group with PutLogEvents, moto delivers them through the subscription filter and Firehose,
//! and the objects are read back as each consumer reads them: Sentinel gunzips NDJSON rows and maps them to
//! `AWSEKSLogs_CL`'s columns; FortiCNAPP, RAD and generic consumers split the concatenated gzip members and decode
//! the CloudWatch Logs envelopes. The notification the consumer listens to names the object, and the reader role's
//! policy, the bucket policy and the key policy let the reader read it.
//!
//! moto's Firehose runs no Lambda processor: `Moto::run_firehose_processors` emulates AWS with the deployed
//! function's own code. moto's subscription filters forward every event whatever the pattern (AWS would forward
//! only those the pattern matches), so every event put is expected back.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use eksaudit_test_support::Moto;
use serde_json::{json, Value};

use crate::support::{apply, Workdir};

const REGION: &str = "eu-central-1";
const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "eks-audit-123456789012-eu-central-1";
const CLUSTER: &str = "prod-1";
const EVENTS: &str = include_str!("../../lambda/alerts/testdata/eks-audit-events.jsonl");
const WORKSPACE: &str = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e";

fn spec(consumer: &str) -> String {
    format!(
        "[pipeline]\nname = \"eks-audit\"\n\n[consumer]\n{consumer}\n\n[[region]]\nname = \"{REGION}\"\nclusters = [\"{CLUSTER}\"]\n"
    )
}

fn events() -> Vec<&'static str> {
    EVENTS.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Applies the spec, then writes every test event into the cluster's audit log stream as EKS does, and the
/// control message CloudWatch Logs sends a new destination (as the record it puts into the stream).
async fn deliver(moto: &Moto, consumer: &str) -> Workdir {
    moto.create_cluster(REGION, CLUSTER, true).await;
    let w = Workdir::with_spec(&spec(consumer));
    apply(moto, &w);
    send(moto).await;
    w
}

/// Into an applied pipeline: the control message CloudWatch Logs sends a new destination, then every event.
async fn send(moto: &Moto) {
    let control = json!({
        "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
        "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": now_ms(),
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]
    });
    let firehose = aws_sdk_firehose::Client::new(&moto.sdk_config(REGION));
    let record = aws_sdk_firehose::types::Record::builder()
        .data(aws_smithy_types::Blob::new(gzip(control.to_string().as_bytes())))
        .build()
        .unwrap();
    firehose.put_record().delivery_stream_name("eks-audit").record(record).send().await.unwrap();
    put_events(moto).await;
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every gzip member of an object, decompressed in turn (what a consumer of concatenated members reads).
fn gunzip_all(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

/// The objects under a prefix, with their bodies. The consumer reads over TLS; moto speaks plain HTTP, which the
/// bucket's TLS-only policy refuses: lifted for the reads and put back as it was (`assert_reader_may_read` checks
/// it allows a TLS reader).
async fn objects(moto: &Moto, bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let s3 = moto.region(REGION).s3;
    let policy = s3.get_bucket_policy().bucket(bucket).send().await.unwrap().policy().unwrap().to_string();
    s3.delete_bucket_policy().bucket(bucket).send().await.unwrap();
    let listed = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
    let mut out = Vec::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_string();
        let body = s3.get_object().bucket(bucket).key(&key).send().await.unwrap().body.collect().await.unwrap();
        out.push((key, body.into_bytes().to_vec()));
    }
    s3.put_bucket_policy().bucket(bucket).policy(policy).send().await.unwrap();
    out
}

/// Whether an IAM pattern (`*` and `?`) matches a value.
fn matches(pattern: &str, value: &str) -> bool {
    fn go(p: &[u8], v: &[u8]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], v) || (!v.is_empty() && go(p, &v[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &v[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &v[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), value.as_bytes())
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn allows(doc: &Value, action: &str, resource: &str) -> bool {
    doc["Statement"].as_array().unwrap().iter().any(|s| {
        s["Effect"] == "Allow"
            && list(&s["Action"]).iter().any(|a| matches(&a.to_lowercase(), &action.to_lowercase()))
            && list(&s["Resource"]).iter().any(|r| matches(r, resource))
    })
}

/// The reader may read the object: its role's policy allows s3:GetObject on it and kms:Decrypt through S3, the
/// bucket policy denies nothing a reader on TLS asks, the key policy lets the role decrypt.
async fn assert_reader_may_read(moto: &Moto, bucket: &str, reader_role: &str, key: &str) {
    let aws = moto.aws();
    let role_policy = aws.iam().get_role_policy().role_name(reader_role).policy_name("eks-audit").send().await.unwrap();
    let doc = eksaudit_plan::policy::parse(role_policy.policy_document()).unwrap();
    let object = format!("arn:aws:s3:::{bucket}/{key}");
    assert!(allows(&doc, "s3:GetObject", &object), "the reader role may not read {object}: {doc:#}");
    let listing = format!("arn:aws:s3:::{bucket}");
    assert!(allows(&doc, "s3:ListBucket", &listing), "the reader role may not list {listing}: {doc:#}");
    let s3 = moto.region(REGION).s3;
    let bucket_policy = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    let bucket_doc: Value = serde_json::from_str(bucket_policy.policy().unwrap()).unwrap();
    for s in bucket_doc["Statement"].as_array().unwrap().iter().filter(|s| s["Effect"] == "Deny") {
        let only_plain_http = s["Condition"]["Bool"]["aws:SecureTransport"] == json!("false")
            || s["Condition"]["Bool"]["aws:SecureTransport"] == json!(false);
        let reads = list(&s["Action"]).iter().any(|a| matches(a, "s3:GetObject"));
        assert!(only_plain_http || !reads, "the bucket policy denies the reader: {s:#}");
    }
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(REGION));
    let key_id = kms.describe_key().key_id("alias/eks-audit").send().await.unwrap();
    let key_id = key_id.key_metadata().unwrap().key_id().to_string();
    let key_policy = kms.get_key_policy().key_id(&key_id).policy_name("default").send().await.unwrap();
    let key_doc: Value = serde_json::from_str(key_policy.policy().unwrap()).unwrap();
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{reader_role}");
    let decrypts = key_doc["Statement"].as_array().unwrap().iter().any(|s| {
        s["Effect"] == "Allow"
            && list(&s["Principal"]["AWS"]).contains(&role_arn)
            && list(&s["Action"]).iter().any(|a| matches(a, "kms:Decrypt"))
    });
    assert!(decrypts, "the key policy does not let {role_arn} decrypt: {key_doc:#}");
}

/// The S3 event notifications a queue holds, as the keys they name.
async fn notified_keys(moto: &Moto, queue_url: &str) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config(REGION));
    let mut keys = Vec::new();
    for _ in 0..3 {
        let got = sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await.unwrap();
        for m in got.messages() {
            let body: Value = serde_json::from_str(m.body().unwrap_or("{}")).unwrap_or_default();
            // Through SNS the S3 event is the message's `Message`.
            let event = match body.get("Message").and_then(Value::as_str) {
                Some(inner) => serde_json::from_str(inner).unwrap_or_default(),
                None => body,
            };
            for r in event["Records"].as_array().into_iter().flatten() {
                let key = r["s3"]["object"]["key"].as_str().unwrap_or_default();
                keys.push(percent_encoding::percent_decode_str(key).decode_utf8_lossy().into_owned());
            }
        }
    }
    keys
}

async fn queue_url(moto: &Moto, name: &str) -> String {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config(REGION));
    sqs.get_queue_url().queue_name(name).send().await.unwrap().queue_url().unwrap().to_string()
}

#[tokio::test]
async fn sentinel_reads_one_complete_awseks_row_per_audit_event() {
    let moto = Moto::start();
    let _w = deliver(&moto, &format!("preset = \"sentinel\"\nworkspace_id = \"{WORKSPACE}\"")).await;
    let written = moto.run_firehose_processors(REGION, "eks-audit", "eks-audit-transform");
    let objects = objects(&moto, BUCKET, "eks-audit-logs/").await;
    assert_eq!(objects.len(), 1, "one object of rows; the control message is dropped: {written:?}");
    let (key, body) = &objects[0];
    assert!(key.ends_with(".gz"), "{key}");
    // Sentinel's poller: gunzip, one JSON row a line.
    let text = String::from_utf8(gunzip_all(body)).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events = events();
    assert_eq!(rows.len(), events.len(), "one row per forwarded audit event");
    let columns = [
        "TimeGenerated",
        "AwsAccountId",
        "Region",
        "ClusterName",
        "Verb",
        "User",
        "SourceIPs",
        "UserAgent",
        "ObjectRef",
        "ResponseCode",
        "Stage",
        "AuthDecision",
        "RawEvent",
    ];
    for (row, line) in rows.iter().zip(&events) {
        let event: Value = serde_json::from_str(line).unwrap();
        let names: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = columns.to_vec();
        want.sort();
        let mut have = names.clone();
        have.sort();
        assert_eq!(have, want, "exactly the DCR's columns");
        assert_eq!(row["AwsAccountId"], ACCOUNT);
        assert_eq!(row["Region"], REGION);
        assert_eq!(row["ClusterName"], CLUSTER);
        // A string column holds the event's string, or "" when the event has none.
        let text = |v: &Value| json!(v.as_str().unwrap_or_default());
        assert_eq!(row["TimeGenerated"], event["requestReceivedTimestamp"]);
        assert_eq!(row["Verb"], text(&event["verb"]));
        assert_eq!(row["User"], text(&event["user"]["username"]));
        assert_eq!(row["SourceIPs"], event["sourceIPs"]);
        assert_eq!(row["UserAgent"], text(&event["userAgent"]));
        assert_eq!(row["Stage"], text(&event["stage"]));
        assert_eq!(row["AuthDecision"], text(&event["annotations"]["authorization.k8s.io/decision"]));
        assert_eq!(row["RawEvent"], event, "the whole event");
        match event["responseStatus"]["code"].as_i64() {
            Some(code) => assert_eq!(row["ResponseCode"].as_i64(), Some(code)),
            None => assert!(row["ResponseCode"].is_null()),
        }
        let r = &event["objectRef"];
        let parts: Vec<&str> =
            ["namespace", "resource", "name"].iter().filter_map(|k| r[*k].as_str()).filter(|s| !s.is_empty()).collect();
        assert_eq!(row["ObjectRef"], parts.join("/"));
        assert!(row["TimeGenerated"].as_str().is_some_and(|t| t.ends_with('Z') && t.contains('T')));
    }
    // The queue Sentinel polls names the object; its role may read and decrypt it.
    let keys = notified_keys(&moto, &queue_url(&moto, "eks-audit").await).await;
    assert!(keys.contains(key), "{key} not in {keys:?}");
    assert_reader_may_read(&moto, BUCKET, "OIDC_eks-audit-reader", key).await;
}

/// The envelopes' events, as a consumer of CloudWatch Logs envelopes reads them: every member of every object
/// decompressed, each a JSON envelope; control messages skipped (and asserted to be there: the pipeline passes
/// them on as CloudWatch Logs sent them).
fn envelope_events(objects: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut messages = Vec::new();
    let mut control_messages = 0;
    for (key, body) in objects {
        let text = gunzip_all(body);
        for envelope in serde_json::Deserializer::from_slice(&text).into_iter::<Value>() {
            let envelope = envelope.unwrap_or_else(|e| panic!("{key}: not an envelope: {e}"));
            if envelope["messageType"] == "CONTROL_MESSAGE" {
                control_messages += 1;
                continue;
            }
            assert_eq!(envelope["messageType"], "DATA_MESSAGE");
            assert_eq!(envelope["owner"], ACCOUNT);
            assert_eq!(envelope["logGroup"], format!("/aws/eks/{CLUSTER}/cluster"));
            for e in envelope["logEvents"].as_array().unwrap() {
                messages.push(e["message"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(control_messages, 1, "the control message is delivered as it came, and skipped by the reader");
    messages
}

/// The objects under the prefix give every event back byte for byte, and the reader may read them: the key of
/// one holding events.
async fn assert_envelopes_come_back(moto: &Moto, bucket: &str, reader_role: &str, prefix: &str) -> String {
    let objects = objects(moto, bucket, prefix).await;
    assert_eq!(envelope_events(&objects), events(), "every event byte for byte");
    let (key, _) =
        objects.iter().find(|(_, b)| String::from_utf8_lossy(&gunzip_all(b)).contains("DATA_MESSAGE")).unwrap();
    assert_reader_may_read(moto, bucket, reader_role, key).await;
    key.clone()
}

#[tokio::test]
async fn a_generic_consumer_reads_the_envelopes_back_byte_for_byte_from_the_queue_it_is_told() {
    let consumer = "account_id = \"111122223333\"\nexternal_id = \"generic-external-id\"\nnotify = \"sqs\"";
    let moto = Moto::start();
    let _w = deliver(&moto, consumer).await;
    let key = assert_envelopes_come_back(&moto, BUCKET, "eks-audit-reader", "eks-audit-logs/").await;
    let keys = notified_keys(&moto, &queue_url(&moto, "eks-audit").await).await;
    assert!(keys.contains(&key), "{key} not in {keys:?}");
}

#[tokio::test]
async fn forticnapp_is_notified_of_the_envelopes_under_eks_audit_logs_and_its_account() {
    let moto = Moto::start();
    // The platform subscribes its own queue to the topic: made here before the events flow.
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config(REGION));
    let url = sqs.create_queue().queue_name("lacework").send().await.unwrap().queue_url().unwrap().to_string();
    let consumer = "preset = \"forticnapp\"\nexternal_id = \"lweid:aws:v2:tenant:123456789012:ABCDEFGHIJ\"";
    moto.create_cluster(REGION, CLUSTER, true).await;
    let w = Workdir::with_spec(&spec(consumer));
    apply(&moto, &w);
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config(REGION));
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:eks-audit");
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:lacework");
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
    send(&moto).await;
    // Lacework's module: the stream writes under eks_audit_logs/<account>/, the notification filters on it.
    let prefix = format!("eks_audit_logs/{ACCOUNT}/");
    let key = assert_envelopes_come_back(&moto, BUCKET, "eks-audit-reader", &prefix).await;
    let everything = objects(&moto, BUCKET, "").await;
    let data: Vec<&String> =
        everything.iter().map(|(k, _)| k).filter(|k| !k.starts_with("eks-audit-errors/")).collect();
    assert!(data.iter().all(|k| k.starts_with(&prefix)), "every object under {prefix}: {data:?}");
    let keys = notified_keys(&moto, &url).await;
    assert!(keys.contains(&key), "{key} not in {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(&prefix)), "{keys:?}");
    let n = moto.region(REGION).s3.get_bucket_notification_configuration().bucket(BUCKET).send().await.unwrap();
    let rules: Vec<(String, String)> = n
        .topic_configurations()
        .iter()
        .filter_map(|t| t.filter()?.key()?.filter_rules().first().cloned())
        .map(|r| {
            (r.name().map(|n| n.as_str().to_lowercase()).unwrap_or_default(), r.value().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(rules, [("prefix".to_string(), prefix.clone())], "the topic is told of the objects under {prefix}");
}

/// Writes the events into an applied pipeline's cluster (see [`deliver`]) without applying again.
async fn put_events(moto: &Moto) {
    let c = moto.region(REGION);
    let group = format!("/aws/eks/{CLUSTER}/cluster");
    let stream = "kube-apiserver-audit-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    c.logs.create_log_stream().log_group_name(&group).log_stream_name(stream).send().await.unwrap();
    let start = now_ms();
    let batch: Vec<InputLogEvent> = events()
        .iter()
        .enumerate()
        .map(|(i, e)| InputLogEvent::builder().timestamp(start + i as i64).message(*e).build().unwrap())
        .collect();
    c.logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name(stream)
        .set_log_events(Some(batch))
        .send()
        .await
        .unwrap();
}

/// RAD's platform finds the bucket as its module makes it: by the tag `ksoc-data-type = eks-audit-logs` on a
/// bucket named `ksoc-eks-*`, read with the role `ksoc-audit-logs` trusting its `ksoc-data-pipeline` role.
#[tokio::test]
async fn rad_finds_the_bucket_by_its_tag_and_reads_the_envelopes_back_with_ksoc_audit_logs() {
    let moto = Moto::start();
    let _w = deliver(&moto, "preset = \"rad\"").await;
    let s3 = moto.region(REGION).s3;
    let mut tagged = Vec::new();
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        let name = b.name().unwrap().to_string();
        let Ok(tags) = s3.get_bucket_tagging().bucket(&name).send().await else { continue };
        if tags.tag_set().iter().any(|t| t.key() == "ksoc-data-type" && t.value() == "eks-audit-logs") {
            tagged.push(name);
        }
    }
    assert_eq!(tagged.len(), 1, "one bucket carries RAD's tag (not the access-log bucket): {tagged:?}");
    let bucket = &tagged[0];
    let hex =
        bucket.strip_prefix("ksoc-eks-").unwrap_or_else(|| panic!("{bucket} is not named as RAD's module names it"));
    assert!(hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()), "{bucket}");
    let role = moto.aws().iam().get_role().role_name("ksoc-audit-logs").send().await.unwrap();
    let trust = percent_encoding::percent_decode_str(role.role().unwrap().assume_role_policy_document().unwrap())
        .decode_utf8_lossy()
        .into_owned();
    assert!(trust.contains("arn:aws:iam::955322216602:role/ksoc-data-pipeline"), "{trust}");
    assert_envelopes_come_back(&moto, bucket, "ksoc-audit-logs", "eks-audit-logs/").await;
    // Its read policy covers the buckets RAD's module's does: any ksoc-eks-* bucket's objects (under the prefix).
    let policy = moto.aws().iam().get_role_policy().role_name("ksoc-audit-logs").policy_name("eks-audit").send().await;
    let doc = eksaudit_plan::policy::parse(policy.unwrap().policy_document()).unwrap();
    assert!(allows(&doc, "s3:ListBucket", "arn:aws:s3:::ksoc-eks-0123456789abcdef"), "{doc:#}");
    // RAD syncs the bucket: nothing notifies it.
    let n = s3.get_bucket_notification_configuration().bucket(bucket).send().await;
    assert!(n.map(|n| n.topic_configurations().is_empty() && n.queue_configurations().is_empty()).unwrap_or(true));
}
