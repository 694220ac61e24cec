//! apply under scripted faults the emulator cannot produce on its own (IAM propagation, CloudWatch Logs' test
//! message, throttling, a stream that fails to create), injected by the recording proxy in front of moto. Each
//! run either converges or fails within its budget with AWS's words and what to do.

use eksaudit_test_support::{Fault, Moto};
use serde_json::Value;

use crate::support::{self, run, Workdir};

/// Every cluster of us-east-1, the generic consumer told by SNS.
fn spec() -> String {
    support::sns_spec(&[("us-east-1", &["*"])])
}

const BUCKET: &str = "eks-audit-123456789012-us-east-1";
const UNABLE_TO_ASSUME: &str =
    "Firehose is unable to assume role arn:aws:iam::123456789012:role/eks-audit-firehose. Please check the role provided.";

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

/// With the faults gone, apply again has nothing left to do.
fn assert_converged(moto: &Moto, w: &Workdir) {
    moto.recorder().clear_faults();
    support::assert_converged(moto, w);
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
    // S3's answer to configuration calls on one bucket that overlap: retried by eksaudit, not the SDK.
    let conflict =
        "A conflicting conditional operation is currently in progress against this resource. Please try again.";
    recorder.inject(Fault::error(&format!("PUT /{BUCKET}/?versioning"), 409, "OperationAborted", conflict).times(2));

    let w = Workdir::with_spec(&spec());
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stderr().contains("Apply complete!"), "{}", out.stderr());
    assert_eq!(recorder.count("CreateDeliveryStream"), 3, "two refusals, then the stream");
    assert_eq!(recorder.count("PutSubscriptionFilter"), 2, "one undelivered test message, then the filter");
    assert_eq!(recorder.count("CreateTopic"), 3, "the SDK retried the throttled calls");
    let ops: Vec<String> = recorder.calls().into_iter().map(|c| c.operation).collect();
    assert_eq!(recorder.count(&format!("PUT /{BUCKET}/?policy")), 3, "{ops:?}");
    assert_eq!(recorder.count(&format!("PUT /{BUCKET}/?versioning")), 3, "{ops:?}");
    let versioning = moto.region("us-east-1").s3.get_bucket_versioning().bucket(BUCKET).send().await.unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
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
    let w = Workdir::with_spec(&spec());
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
    let w = Workdir::with_spec(&spec());
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

/// moto's streams are ACTIVE at once; this one stays CREATING whenever it is described.
fn still_creating(body: &str) -> String {
    let mut doc: Value = serde_json::from_str(body).expect("DescribeDeliveryStream JSON");
    doc["DeliveryStreamDescription"]["DeliveryStreamStatus"] = "CREATING".into();
    doc.to_string()
}

#[tokio::test]
async fn a_stream_that_never_becomes_active_is_waited_for_only_as_long_as_wait_timeout_says() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    moto.recorder().inject(Fault::rewrite("DescribeDeliveryStream", still_creating));
    let w = Workdir::with_spec(&spec());
    let started = std::time::Instant::now();
    let out = run(&moto, &w, &["apply", "--auto-approve", "--wait-timeout", "3"]);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(30), "--wait-timeout 3 bounds the wait: {took:?}");
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    // The whole of --wait-timeout, not the backoffs that fit in it.
    let timed_out = "timed out after 3s waiting for Firehose stream eks-audit to become ACTIVE";
    assert!(err.contains(timed_out), "{err}");
    assert!(err.contains("region.us-east-1.stream"), "{err}");
    assert!(err.contains("region.us-east-1.cluster.prod.filter: skipped: needs region.us-east-1.stream"), "{err}");
    assert!(moto.recorder().count("DescribeDeliveryStream") >= 2, "it polled within the budget");
    assert!(filter_names(&moto).await.is_empty(), "no filter points at a stream that is not ACTIVE");
    // The stream is ACTIVE once the fault is gone: the next apply finishes.
    assert_converged_after_apply(&moto, &w);
}

#[tokio::test]
async fn iam_propagation_that_outlasts_the_budget_fails_with_aws_words_and_resumes_later() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    moto.recorder().inject(Fault::error("CreateDeliveryStream", 400, "InvalidArgumentException", UNABLE_TO_ASSUME));
    let w = Workdir::with_spec(&spec());
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

/// What a converged pipeline looks like in moto, in a form two accounts can be compared by.
async fn fingerprint(moto: &Moto) -> Vec<String> {
    let c = moto.region("us-east-1");
    let mut out = Vec::new();
    let roles = moto.aws().iam().list_roles().send().await.unwrap();
    let mut names: Vec<String> = roles.roles().iter().map(|r| r.role_name().to_string()).collect();
    names.sort();
    out.push(format!("roles {names:?}"));
    for name in &names {
        let policies = moto.aws().iam().list_role_policies().role_name(name).send().await.unwrap();
        out.push(format!("{name} policies {:?}", policies.policy_names()));
    }
    let streams = c.firehose.list_delivery_streams().send().await.unwrap();
    out.push(format!("streams {:?}", streams.delivery_stream_names()));
    out.push(format!("stream status {}", stream_status(moto).await));
    let topics = c.sns.list_topics().send().await.unwrap();
    out.push(format!("topics {}", topics.topics().len()));
    let subs = c.sns.list_subscriptions().send().await.unwrap();
    out.push(format!("subscriptions {}", subs.subscriptions().len()));
    let n = c.s3.get_bucket_notification_configuration().bucket(BUCKET).send().await.unwrap();
    out.push(format!("notifications {}", n.topic_configurations().len()));
    let policy = c.s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap();
    out.push(format!("bucket policy {}", policy.policy().unwrap_or_default().len()));
    let tags = c.s3.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
    out.push(format!("bucket tags {}", tags.tag_set().len()));
    out.push(format!("filters {:?}", filter_names(moto).await));
    out
}

#[tokio::test]
async fn apply_through_a_20_percent_throttle_and_5_percent_5xx_rate_ends_as_a_clean_apply_does() {
    let (clean, faulty) = (Moto::start(), Moto::start());
    for moto in [&clean, &faulty] {
        moto.create_cluster("us-east-1", "prod", true).await;
    }
    let w = Workdir::with_spec(&spec());
    let out = run(&clean, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let clean_calls = clean.recorder().calls().len();

    let recorder = faulty.recorder();
    recorder.seed(7);
    recorder.inject(Fault::throttle("*").rate(0.20));
    recorder.inject(Fault::unavailable("*").rate(0.05));
    recorder.inject(Fault::drop_connection("*").rate(0.02));
    let out = run(&faulty, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    // The faults were real: the SDK retried its way through them.
    let faulty_calls = recorder.calls().len();
    assert!(faulty_calls > clean_calls + 5, "{faulty_calls} calls vs {clean_calls} clean");
    assert_eq!(fingerprint(&faulty).await, fingerprint(&clean).await);
    assert_converged(&faulty, &w);
}

/// Sentinel (the OIDC provider, SQS with its dead-letter queue) with `[alerts]` (Lambda, its permission, the
/// alerts topic and subscription): every service eksaudit calls.
const EVERY_SERVICE: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
preset = "sentinel"
workspace_id = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"

[alerts]
namespaces = ["kube-system"]
email = ["secops@example.com"]

[[region]]
name = "us-east-1"
clusters = ["*"]
enable_audit_logging = true
"#;

/// Everything plan reads, as the saved plan records it, with what differs between two accounts of the same
/// spec by AWS's own making (a KMS key's id, a subscription's id, a function's timestamps and revision) masked.
fn observed(moto: &Moto, w: &Workdir) -> Value {
    let saved = w.path().join("observed.plan");
    let out = run(moto, w, &["plan", "--out", saved.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    fn mask(v: &Value) -> Value {
        match v {
            // The emulator's own address, in a queue's URL.
            Value::String(s) if s.starts_with("http://127.0.0.1:") => {
                Value::String(s.splitn(4, '/').nth(3).map_or_else(String::new, |path| format!("<endpoint>/{path}")))
            }
            Value::String(s) => {
                let uuid = |t: &str| {
                    let parts: Vec<&str> = t.split('-').collect();
                    parts.len() == 5 && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n)
                };
                let masked: Vec<String> =
                    s.split([':', '/']).map(|t| if uuid(t) { "<id>".to_string() } else { t.to_string() }).collect();
                Value::String(if masked.iter().any(|t| t == "<id>") { masked.join("|") } else { s.clone() })
            }
            Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| !["last_modified", "revision_id", "code_size"].contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), mask(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    mask(&doc["observed"])
}

/// What plan reads after a faulty apply is what it reads after a clean one, resource by resource.
fn assert_reads_back_alike(faulty_state: &Value, clean_state: &Value) {
    let differ: Vec<String> = clean_state["resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(address, state)| faulty_state["resources"].get(address.as_str()) != Some(state))
        .map(|(address, state)| {
            format!("{address}: clean {state}\n  faulty {}", faulty_state["resources"][address.as_str()])
        })
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert_eq!(faulty_state, clean_state, "neighbours or stale resources differ");
}

/// Two emulated accounts with the same clusters, every service's spec, and the first applied without faults: the
/// reference a faulty apply of the second is compared with.
async fn clean_apply_beside_an_untouched_twin() -> (Moto, Moto, Workdir) {
    let (clean, faulty) = (Moto::start(), Moto::start());
    for moto in [&clean, &faulty] {
        moto.create_cluster("us-east-1", "prod", true).await;
        moto.create_cluster("us-east-1", "stage", false).await;
    }
    let w = Workdir::with_spec(EVERY_SERVICE);
    let out = run(&clean, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    (clean, faulty, w)
}

#[tokio::test]
async fn apply_of_every_service_through_independent_throttles_500s_503s_and_drops_reads_back_as_a_clean_one() {
    let (clean, faulty, w) = clean_apply_beside_an_untouched_twin().await;

    let recorder = faulty.recorder();
    recorder.seed(23);
    // Each at its own rate, drawn independently for every call; the first that fires answers it, so the rarest
    // comes first (behind the others, a 2 % drop would answer only calls none of them did).
    recorder.inject(Fault::drop_connection("*").rate(0.02));
    recorder.inject(Fault::throttle("*").rate(0.20));
    recorder.inject(Fault::internal_error("*").rate(0.05));
    recorder.inject(Fault::unavailable("*").rate(0.05));
    let out = run(&faulty, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    // The faults were real, of every kind, on the services this spec adds.
    let fired = recorder.faults_fired();
    let calls = recorder.calls().len();
    for kind in ["throttle", "500", "503", "drop"] {
        assert!(fired.get(kind).copied().unwrap_or(0) > 0, "no {kind} among {calls} calls: {fired:?}");
    }
    // Independent draws: the 500s and 503s each come near their own 5 % (not 5 % shared, nor squeezed below it).
    let share = |k: &str| fired[k] as f64 / calls as f64;
    assert!(share("500") > 0.02 && share("503") > 0.02, "{fired:?} of {calls}");
    recorder.clear_faults();
    let clean_state = observed(&clean, &w);
    assert_reads_back_alike(&observed(&faulty, &w), &clean_state);
    assert!(clean_state["resources"].as_object().unwrap().len() > 25, "everything plan reads is compared");
    support::assert_converged(&faulty, &w);
}

#[tokio::test]
async fn drift_under_throttling_reports_not_checked_never_in_sync() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    let w = Workdir::with_spec(&spec());
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());

    // Every read of these throttled half the time, and the SDK allowed a single attempt.
    let recorder = moto.recorder();
    recorder.seed(11);
    for op in ["GetRole", "GetTopicAttributes", "DescribeDeliveryStream", "DescribeSubscriptionFilters"] {
        recorder.inject(Fault::throttle(op).rate(0.5));
    }
    recorder.reset();
    let out = w.run_env(Some(&moto.endpoint()), &["drift", "--json"], &[("AWS_MAX_ATTEMPTS", "1")]);
    out.assert_no_panic();
    assert!(recorder.writes().is_empty());
    assert_eq!(out.code(), 1, "cannot tell: {}", out.stdout());
    let doc = out.json();
    assert_eq!(doc["verdict"], "unknown");
    let not_checked: Vec<&Value> =
        doc["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "not_checked").collect();
    assert!(!not_checked.is_empty());
    for f in &not_checked {
        assert!(f["detail"].as_str().unwrap().contains("throttled"), "{f:#}");
    }
    // The same account without faults is in sync: the unknowns were the throttling's, not drift.
    recorder.clear_faults();
    assert_eq!(run(&moto, &w, &["drift"]).code(), 0);
}

#[tokio::test]
async fn iam_propagation_for_a_few_seconds_after_the_roles_are_created_is_waited_out() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    for fault in Fault::iam_propagation(std::time::Duration::from_secs(3)) {
        moto.recorder().inject(fault);
    }
    let w = Workdir::with_spec(&spec());
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(moto.recorder().count("CreateDeliveryStream") > 1, "it had to wait for the role");
    assert_eq!(stream_status(&moto).await, "ACTIVE");
    assert_eq!(filter_names(&moto).await, ["eks-audit"]);
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn kms_refusing_the_just_created_roles_as_invalid_principals_is_waited_out() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    for fault in Fault::kms_principal_propagation(std::time::Duration::from_secs(3)) {
        moto.recorder().inject(fault);
    }
    let w = Workdir::with_spec(&spec());
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(moto.recorder().count("CreateKey") > 1, "it had to wait for the roles");
    let keys = moto.region("us-east-1").kms.list_aliases().send().await.unwrap();
    let ours: Vec<_> =
        keys.aliases().iter().filter(|a| a.alias_name().is_some_and(|n| n.contains("eks-audit"))).collect();
    assert_eq!(ours.len(), 1, "one key, not one per refusal: {ours:?}");
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn a_create_key_whose_answer_is_lost_leaves_one_key_not_a_second_made_by_the_retry() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    // KMS makes the key; the answer never comes back. A retry of the call as it was would make another.
    moto.recorder().inject(Fault::lose_answer("CreateKey").times(1));
    let w = Workdir::with_spec(&spec());
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert_eq!(moto.recorder().faults_fired().get("lost answer"), Some(&1), "the answer was lost");
    let kms = &moto.region("us-east-1").kms;
    let keys = kms.list_keys().send().await.unwrap();
    let keys: Vec<&str> = keys.keys().iter().filter_map(|k| k.key_id()).collect();
    assert_eq!(keys.len(), 1, "one key, the one the lost call made: {keys:?}");
    assert_eq!(moto.recorder().count("CreateKey"), 1, "found, not made again");
    let aliases = kms.list_aliases().key_id(keys[0]).send().await.unwrap();
    let names: Vec<&str> = aliases.aliases().iter().filter_map(|a| a.alias_name()).collect();
    assert_eq!(names, ["alias/eks-audit"], "the alias points at it");
    let rotation = kms.get_key_rotation_status().key_id(keys[0]).send().await.unwrap();
    assert!(rotation.key_rotation_enabled(), "converged like a key made in one go");
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn apply_of_every_service_with_lost_answers_reads_back_as_a_clean_one_with_nothing_made_twice() {
    let (clean, faulty, w) = clean_apply_beside_an_untouched_twin().await;

    let recorder = faulty.recorder();
    recorder.seed(19);
    // Every call made by AWS a tenth of the time without its answer reaching eksaudit.
    recorder.inject(Fault::lose_answer("*").rate(0.10));
    let out = run(&faulty, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(recorder.faults_fired().get("lost answer").copied().unwrap_or(0) > 5, "{:?}", recorder.faults_fired());
    recorder.clear_faults();
    assert_reads_back_alike(&observed(&faulty, &w), &observed(&clean, &w));
    let keys = faulty.region("us-east-1").kms.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 1, "one key");
    support::assert_converged(&faulty, &w);
}
