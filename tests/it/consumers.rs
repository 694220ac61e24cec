//! Every consumer in the field against moto: Microsoft Sentinel (OIDC provider, web-identity reader, SQS queue),
//! RAD Security (no notification), FortiCNAPP (generated external id, SNS topic), and a generic consumer switched
//! between SNS and SQS and between presets. Each applies, plans clean (a second apply makes no mutating call),
//! drifts clean and destroys; the trust policy, the notification target and its policy, and the outputs are
//! asserted on the AWS state itself.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use eksaudit_test_support::Moto;
use serde_json::{json, Value};

use crate::support::{self, apply, run, Run, Workdir};

const REGION: &str = "eu-central-1";
const BUCKET: &str = "eks-audit-123456789012-eu-central-1";
const ISSUER: &str = "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/";
const PROVIDER_ARN: &str =
    "arn:aws:iam::123456789012:oidc-provider/sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/";
const AUDIENCE: &str = "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e";
const WORKSPACE: &str = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e";

fn with_consumer(consumer: &str) -> String {
    format!(
        r#"
[pipeline]
name = "eks-audit"
tags = {{ team = "security" }}

[consumer]
{consumer}

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#
    )
}

fn sentinel() -> String {
    with_consumer(&format!("preset = \"sentinel\"\nworkspace_id = \"{WORKSPACE}\""))
}

fn generic(notify: &str) -> String {
    with_consumer(&format!(
        "account_id = \"111122223333\"\nexternal_id = \"generic-external-id\"\nnotify = \"{notify}\""
    ))
}

/// A second apply finds nothing to do and makes no mutating call; drift is clean and makes none either.
fn assert_converged_and_clean(moto: &Moto, w: &Workdir) {
    support::assert_converged(moto, w);
    moto.recorder().reset();
    let drift = run(moto, w, &["drift", "--json"]);
    assert_eq!(drift.code(), 0, "drift: {}\n{}", drift.stdout(), drift.stderr());
    assert_eq!(drift.json()["verdict"], "in_sync");
    assert!(moto.recorder().writes().is_empty(), "drift mutated: {:?}", moto.recorder().writes());
}

fn destroy(moto: &Moto, w: &Workdir) -> Run {
    let out = run(moto, w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "destroy failed:\n{}\n{}", out.stdout(), out.stderr());
    out
}

/// `plan --json`: every resource's action, by address.
fn plan_actions(moto: &Moto, w: &Workdir) -> BTreeMap<String, String> {
    moto.recorder().reset();
    let out = run(moto, w, &["plan", "--json"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(moto.recorder().writes().is_empty(), "plan mutated: {:?}", moto.recorder().writes());
    out.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no-op")
        .map(|r| (r["address"].as_str().unwrap().to_string(), r["action"].as_str().unwrap().to_string()))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn decode(doc: &str) -> Value {
    eksaudit_plan::policy::parse(doc).unwrap_or_else(|| panic!("not a policy: {doc}"))
}

async fn trust_of(moto: &Moto, role: &str) -> Value {
    let out = moto.aws().iam().get_role().role_name(role).send().await.unwrap_or_else(|e| panic!("{role}: {e:?}"));
    decode(out.role().unwrap().assume_role_policy_document().unwrap())
}

async fn permissions_of(moto: &Moto, role: &str) -> Value {
    let out = moto.aws().iam().get_role_policy().role_name(role).policy_name("eks-audit").send().await.unwrap();
    decode(out.policy_document())
}

async fn role_names(moto: &Moto) -> Vec<String> {
    let out = moto.aws().iam().list_roles().send().await.unwrap();
    let mut names: Vec<String> = out.roles().iter().map(|r| r.role_name().to_string()).collect();
    names.sort();
    names
}

fn sqs(moto: &Moto) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto.sdk_config(REGION))
}

async fn queue_url(moto: &Moto, name: &str) -> Option<String> {
    sqs(moto).get_queue_url().queue_name(name).send().await.ok().and_then(|o| o.queue_url)
}

async fn providers(moto: &Moto) -> Vec<String> {
    let out = moto.aws().iam().list_open_id_connect_providers().send().await.unwrap();
    out.open_id_connect_provider_list().iter().filter_map(|p| p.arn().map(str::to_string)).collect()
}

async fn topics(moto: &Moto) -> Vec<String> {
    let out = moto.region(REGION).sns.list_topics().send().await.unwrap();
    out.topics().iter().filter_map(|t| t.topic_arn().map(str::to_string)).collect()
}

/// Our notification entry's target, and the ids of every entry (ours and others').
async fn notification(moto: &Moto) -> (Option<String>, Vec<String>) {
    notification_of(moto, BUCKET).await
}

/// [`notification`] of a bucket by name.
async fn notification_of(moto: &Moto, bucket: &str) -> (Option<String>, Vec<String>) {
    // moto answers a bucket without a configuration with an empty body (the recording proxy smooths that for the
    // product; this client talks to moto directly): that is no entry.
    let Ok(n) = moto.region(REGION).s3.get_bucket_notification_configuration().bucket(bucket).send().await else {
        return (None, Vec::new());
    };
    let mut ids = Vec::new();
    let mut ours = None;
    for t in n.topic_configurations() {
        ids.push(t.id().unwrap_or_default().to_string());
        if t.id() == Some("eks-audit") {
            ours = Some(t.topic_arn().to_string());
        }
    }
    for q in n.queue_configurations() {
        ids.push(q.id().unwrap_or_default().to_string());
        if q.id() == Some("eks-audit") {
            ours = Some(q.queue_arn().to_string());
        }
    }
    ids.sort();
    (ours, ids)
}

fn statement<'a>(doc: &'a Value, sid_or_action: &str) -> &'a Value {
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["Sid"] == sid_or_action || s["Action"].to_string().to_lowercase().contains(&sid_or_action.to_lowercase())
        })
        .unwrap_or_else(|| panic!("no {sid_or_action} in {doc:#}"))
}

fn outputs(moto: &Moto, w: &Workdir) -> Value {
    moto.recorder().reset();
    let out = run(moto, w, &["outputs", "--json"]);
    assert_eq!(out.code(), 0, "outputs: {}\n{}", out.stdout(), out.stderr());
    assert!(moto.recorder().writes().is_empty(), "outputs mutated: {:?}", moto.recorder().writes());
    out.json()
}

#[tokio::test]
async fn sentinel_gets_an_oidc_provider_a_web_identity_role_and_a_queue_s3_notifies() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&sentinel());
    // Before apply, outputs say what does not exist yet.
    let early = run(&moto, &w, &["outputs"]);
    assert_eq!(early.code(), 1);
    assert!(early.stderr().contains("eksaudit apply"), "{}", early.stderr());

    let out = apply(&moto, &w);
    // apply ends with what the Sentinel data connector asks for.
    let queue = "arn:aws:sqs:eu-central-1:123456789012:eks-audit";
    let role_arn = "arn:aws:iam::123456789012:role/OIDC_eks-audit-reader";
    assert!(out.stdout().contains(&format!("Role to add = {role_arn}")), "{}", out.stdout());
    assert!(out.stdout().contains("SQS URL = "), "{}", out.stdout());

    // The OIDC provider: Microsoft's issuer, Sentinel's audience, our tag.
    assert_eq!(providers(&moto).await, [PROVIDER_ARN]);
    let p = moto.aws().iam().get_open_id_connect_provider().open_id_connect_provider_arn(PROVIDER_ARN).send().await;
    let p = p.unwrap();
    assert_eq!(p.client_id_list(), [AUDIENCE]);
    assert!(p.url().unwrap().contains(ISSUER), "{:?}", p.url());

    // The reader: OIDC_-prefixed, trusted through web identity with the audience and the session name.
    let trust = trust_of(&moto, "OIDC_eks-audit-reader").await;
    let s = &trust["Statement"][0];
    assert_eq!(s["Principal"]["Federated"], PROVIDER_ARN);
    assert_eq!(s["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(s["Condition"]["StringEquals"][format!("{ISSUER}:aud")], AUDIENCE);
    assert_eq!(s["Condition"]["StringEquals"]["sts:RoleSessionName"], format!("MicrosoftSentinel_{WORKSPACE}"));
    let permissions = permissions_of(&moto, "OIDC_eks-audit-reader").await;
    assert_eq!(statement(&permissions, "ConsumeQueues")["Resource"], json!([queue]));
    assert!(!permissions.to_string().contains("sns:"), "{permissions}");

    // The queue: SSE, redrive to the dead-letter queue, S3 may send (this bucket, this account), the reader reads.
    let attrs = moto.queue_attributes(REGION, "eks-audit").await;
    assert_eq!(attrs["SqsManagedSseEnabled"], "true");
    let redrive: Value = serde_json::from_str(&attrs["RedrivePolicy"]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], "arn:aws:sqs:eu-central-1:123456789012:eks-audit-dlq");
    let policy = decode(&attrs["Policy"]);
    let send = statement(&policy, "S3SendMessage");
    assert_eq!(send["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(send["Condition"]["ArnLike"]["aws:SourceArn"], format!("arn:aws:s3:::{BUCKET}"));
    assert_eq!(send["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
    let consume = statement(&policy, "ReaderConsume");
    assert_eq!(consume["Principal"]["AWS"], role_arn);
    assert!(queue_url(&moto, "eks-audit-dlq").await.is_some(), "the dead-letter queue exists");
    assert!(topics(&moto).await.is_empty(), "Sentinel reads a queue, not a topic");

    // The bucket notifies the queue; an object under the prefix becomes a message Sentinel reads.
    assert_eq!(notification(&moto).await, (Some(queue.to_string()), vec!["eks-audit".to_string()]));
    let s3 = moto.region(REGION).s3;
    // moto speaks plain HTTP, which the bucket's TLS-only policy refuses: lift it for the upload, apply puts it back.
    s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    s3.put_object().bucket(BUCKET).key("eks-audit-logs/2026/x.json").body(b"{}".to_vec().into()).send().await.unwrap();
    let url = queue_url(&moto, "eks-audit").await.unwrap();
    // S3's own test event when the notification was set, then the object's.
    let mut body = String::new();
    for _ in 0..3 {
        let messages = sqs(&moto).receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
        body.extend(messages.messages().iter().filter_map(|m| m.body()).map(|b| format!("{b}\n")));
    }
    assert!(body.contains("ObjectCreated") && body.contains("eks-audit-logs%2F2026%2Fx.json"), "{body}");
    apply(&moto, &w);

    assert_converged_and_clean(&moto, &w);
    let o = outputs(&moto, &w);
    assert_eq!(o["reader_role_arn"], role_arn);
    assert_eq!(o["workspace_id"], WORKSPACE);
    assert_eq!(o["oidc_provider_arn"], PROVIDER_ARN);
    assert_eq!(o["regions"][0]["queue_arn"], queue);
    // The URL SQS gives (moto builds it from the host it was asked through; AWS answers
    // https://sqs.<region>.amazonaws.com/<account>/<name>).
    let listed = o["regions"][0]["queue_url"].as_str().unwrap();
    assert!(listed.ends_with("/123456789012/eks-audit") && url.ends_with("/123456789012/eks-audit"), "{listed}");
    assert_eq!(o["regions"][0]["bucket_arn"], format!("arn:aws:s3:::{BUCKET}"));
    assert_eq!(o["regions"][0]["prefix"], "eks-audit-logs/");
    assert_eq!(o["regions"][0]["object_format"], "sentinel-awseks-rows");
    assert_eq!(
        o["regions"][0]["transform_function_arn"],
        "arn:aws:lambda:eu-central-1:123456789012:function:eks-audit-transform"
    );

    // Destroy: the queues, the roles, and the provider (ours, trusted by no other role) go; the bucket stays.
    destroy(&moto, &w);
    assert!(queue_url(&moto, "eks-audit").await.is_none() && queue_url(&moto, "eks-audit-dlq").await.is_none());
    assert!(providers(&moto).await.is_empty(), "our provider, trusted by nobody else, is deleted");
    assert!(role_names(&moto).await.is_empty(), "{:?}", role_names(&moto).await);
    assert!(s3.head_bucket().bucket(BUCKET).send().await.is_ok(), "the logs stay");
    let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config(REGION));
    assert!(lambda.get_function().function_name("eks-audit-transform").send().await.is_err(), "the transform is gone");
    moto.recorder().reset();
    destroy(&moto, &w);
    assert!(moto.recorder().writes().is_empty(), "a second destroy mutated: {:?}", moto.recorder().writes());
}

async fn other_role_trusting_the_provider(moto: &Moto, name: &str) {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {format!("{ISSUER}:aud"): AUDIENCE}}}]});
    moto.aws().iam().create_role().role_name(name).assume_role_policy_document(trust.to_string()).send().await.unwrap();
}

#[tokio::test]
async fn the_oidc_provider_is_never_duplicated_and_never_deleted_while_another_role_trusts_it() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let iam = moto.aws().iam().clone();
    // Another team's Sentinel connector made the provider (with the audience) and trusts it.
    iam.create_open_id_connect_provider()
        .url(format!("https://{ISSUER}"))
        .client_id_list(AUDIENCE)
        .thumbprint_list("626d44e704d1ceabe3bf0d53397464ac8080142c")
        .send()
        .await
        .unwrap();
    other_role_trusting_the_provider(&moto, "OIDC_other-team").await;

    let w = Workdir::with_spec(&sentinel());
    let planned = plan_actions(&moto, &w);
    assert!(!planned.contains_key("oidc_provider.commercial"), "reused as it is: {planned:?}");
    apply(&moto, &w);
    assert_eq!(providers(&moto).await, [PROVIDER_ARN], "never a second provider");
    let tags =
        iam.list_open_id_connect_provider_tags().open_id_connect_provider_arn(PROVIDER_ARN).send().await.unwrap();
    assert!(tags.tags().is_empty(), "another's provider is not claimed: {:?}", tags.tags());
    assert_converged_and_clean(&moto, &w);
    let out = destroy(&moto, &w);
    assert!(out.stdout().contains("this pipeline did not create it"), "{}", out.stdout());
    assert_eq!(providers(&moto).await, [PROVIDER_ARN], "another's provider is kept");
    assert_eq!(role_names(&moto).await, ["OIDC_other-team"]);

    // Ours, but trusted by another role meanwhile: kept until that role is gone.
    iam.delete_open_id_connect_provider().open_id_connect_provider_arn(PROVIDER_ARN).send().await.unwrap();
    apply(&moto, &w);
    assert_eq!(providers(&moto).await, [PROVIDER_ARN]);
    let out = destroy(&moto, &w);
    assert!(out.stdout().contains("OIDC_other-team still trusts it"), "{}", out.stdout());
    assert_eq!(providers(&moto).await, [PROVIDER_ARN]);
    iam.delete_role().role_name("OIDC_other-team").send().await.unwrap();
    destroy(&moto, &w);
    assert!(providers(&moto).await.is_empty(), "ours and trusted by nobody: deleted");

    // A provider without Sentinel's audience gets it added, never a second provider (moto has no
    // AddClientIDToOpenIDConnectProvider: the recording proxy emulates it).
    iam.create_open_id_connect_provider()
        .url(format!("https://{ISSUER}"))
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("626d44e704d1ceabe3bf0d53397464ac8080142c")
        .send()
        .await
        .unwrap();
    moto.recorder().reset();
    let out = run(&moto, &w, &["plan", "--json"]);
    let doc = out.json();
    let p = doc["resources"].as_array().unwrap().iter().find(|r| r["address"] == "oidc_provider.commercial").unwrap();
    assert_eq!(p["action"], "update", "{p:#}");
    let fields: Vec<&str> = p["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["client_ids"], "only the audience is added to another's provider");
    assert_eq!(p["changes"][0]["new"], json!(["sts.amazonaws.com", AUDIENCE]));
    moto.recorder().reset();
    apply(&moto, &w);
    assert_eq!(moto.recorder().count("AddClientIDToOpenIDConnectProvider"), 1);
    assert_eq!(moto.recorder().count("CreateOpenIDConnectProvider"), 0, "{:?}", moto.recorder().writes());
    assert_eq!(providers(&moto).await, [PROVIDER_ARN]);
    assert_converged_and_clean(&moto, &w);
    // Not ours: destroy leaves it, with the audiences it had.
    destroy(&moto, &w);
    assert_eq!(providers(&moto).await, [PROVIDER_ARN]);
}

/// The rad bucket's name: `ksoc-eks-` and the stable digest of pipeline, account and region.
fn rad_bucket() -> String {
    format!("ksoc-eks-{}", eksaudit_spec::bucket_hex("eks-audit", "123456789012", REGION))
}

async fn bucket_tags(moto: &Moto, bucket: &str) -> BTreeMap<String, String> {
    let out = moto.region(REGION).s3.get_bucket_tagging().bucket(bucket).send().await.unwrap();
    out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

async fn bucket_exists(moto: &Moto, bucket: &str) -> bool {
    moto.region(REGION).s3.head_bucket().bucket(bucket).send().await.is_ok()
}

#[tokio::test]
async fn rad_reads_the_bucket_through_its_role_with_tag_session_and_needs_no_notification() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&with_consumer("preset = \"rad\""));
    apply(&moto, &w);
    let trust = trust_of(&moto, "ksoc-audit-logs").await;
    let s = &trust["Statement"][0];
    assert_eq!(s["Principal"]["AWS"], "arn:aws:iam::955322216602:role/ksoc-data-pipeline");
    assert_eq!(s["Action"], json!(["sts:AssumeRole", "sts:TagSession"]));
    assert!(s.get("Condition").is_none(), "no external id asked for: {s}");
    let permissions = permissions_of(&moto, "ksoc-audit-logs").await.to_string();
    assert!(permissions.contains("s3:ListBucket") && permissions.contains("s3:GetObject"), "{permissions}");
    assert!(permissions.contains("arn:aws:s3:::ksoc-eks-*"), "scoped as RAD's module scopes it: {permissions}");
    assert!(!permissions.contains("sns:") && !permissions.contains("sqs:"), "{permissions}");
    assert!(topics(&moto).await.is_empty() && queue_url(&moto, "eks-audit").await.is_none());
    let bucket = rad_bucket();
    assert_eq!(bucket_tags(&moto, &bucket).await.get("ksoc-data-type").map(String::as_str), Some("eks-audit-logs"));
    let logs = bucket_tags(&moto, &format!("{bucket}-access-logs")).await;
    assert!(!logs.contains_key("ksoc-data-type"), "RAD must not find the access logs: {logs:?}");
    assert_eq!(notification_of(&moto, &bucket).await, (None, vec![]), "RAD syncs the bucket: no notification");
    assert_converged_and_clean(&moto, &w);
    let o = outputs(&moto, &w);
    assert_eq!(o["reader_role_arn"], "arn:aws:iam::123456789012:role/ksoc-audit-logs");
    assert_eq!(o["regions"][0]["bucket_name"], bucket);
    assert_eq!(o["external_id"], Value::Null);
    assert_eq!(o["regions"][0]["notify"], "none");
    assert_eq!(
        (o["regions"][0]["topic_arn"].clone(), o["regions"][0]["queue_arn"].clone()),
        (Value::Null, Value::Null)
    );
    destroy(&moto, &w);
    assert!(role_names(&moto).await.is_empty());
}

/// A rad pipeline made before the preset followed RAD's module (bucket `{pipeline}-{account}-{region}`, reader
/// `eks-audit-reader`, no `ksoc-data-type` tag) moves to the new defaults by apply: a new bucket under the new
/// name, the reader renamed; the old bucket and its objects stay, untouched.
#[tokio::test]
async fn an_existing_rad_pipeline_moves_to_rads_names_by_apply_and_keeps_the_old_bucket_with_its_data() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let before = with_consumer("preset = \"rad\"\nreader_role_name = \"eks-audit-reader\"")
        + "\n[bucket]\nname = \"{pipeline}-{account}-{region}\"\n";
    let w = Workdir::with_spec(&before);
    apply(&moto, &w);
    // As eksaudit left it before: no RAD tag on the bucket; some delivered data in it.
    let s3 = moto.region(REGION).s3;
    let mut tags = bucket_tags(&moto, BUCKET).await;
    assert!(tags.remove("ksoc-data-type").is_some());
    let set: Vec<_> =
        tags.iter().map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap()).collect();
    let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(set)).build().unwrap();
    s3.put_bucket_tagging().bucket(BUCKET).tagging(tagging).send().await.unwrap();
    let key = "eks-audit-logs/2026/11/30/12/eks-audit-1-2026-11-30-12-00-00-old";
    // moto speaks plain HTTP, which the bucket's TLS-only policy refuses: lifted for the write and put back.
    let policy = s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap().policy().unwrap().to_string();
    s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    s3.put_object().bucket(BUCKET).key(key).body(b"old data".to_vec().into()).send().await.unwrap();
    s3.put_bucket_policy().bucket(BUCKET).policy(&policy).send().await.unwrap();

    std::fs::write(w.path().join("eksaudit.toml"), with_consumer("preset = \"rad\"")).unwrap();
    let plan = run(&moto, &w, &["plan", "--json"]);
    assert!(plan.code() != 1, "{}\n{}", plan.stdout(), plan.stderr());
    let changes = plan.json()["resources"].as_array().unwrap().clone();
    let action = |address: &str| changes.iter().find(|c| c["address"] == address).map(|c| c["action"].clone());
    assert_eq!(action("region.eu-central-1.bucket"), Some(json!("create")), "a new bucket under RAD's name");
    assert_eq!(action("role.reader"), Some(json!("create")));
    assert_eq!(action("role.former_reader"), Some(json!("delete")), "the reader under its old name");
    assert_eq!(action("region.eu-central-1.stream"), Some(json!("update")), "the stream writes into the new bucket");
    assert!(
        changes.iter().all(|c| !(c["action"] == "delete" && c["name"].as_str().is_some_and(|n| n.starts_with(BUCKET)))),
        "the old bucket is never deleted: {changes:#?}"
    );
    apply(&moto, &w);
    let bucket = rad_bucket();
    assert_eq!(bucket_tags(&moto, &bucket).await.get("ksoc-data-type").map(String::as_str), Some("eks-audit-logs"));
    assert!(trust_of(&moto, "ksoc-audit-logs").await["Statement"][0]["Principal"]["AWS"]
        .as_str()
        .is_some_and(|p| p.ends_with(":role/ksoc-data-pipeline")));
    assert!(!role_names(&moto).await.contains(&"eks-audit-reader".to_string()), "the reader under its old name goes");
    // The old bucket and what it holds stay, its policy as it was.
    let kept = s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap().policy().unwrap().to_string();
    assert_eq!(kept, policy);
    s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    let old = s3.get_object().bucket(BUCKET).key(key).send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(old.into_bytes().as_ref(), b"old data");
    s3.put_bucket_policy().bucket(BUCKET).policy(&policy).send().await.unwrap();
    let stream = aws_sdk_firehose::Client::new(&moto.sdk_config(REGION))
        .describe_delivery_stream()
        .delivery_stream_name("eks-audit")
        .send()
        .await
        .unwrap();
    let destination = format!("{:?}", stream.delivery_stream_description().unwrap().destinations());
    assert!(
        destination.contains(&format!("arn:aws:s3:::{bucket}")),
        "the stream writes into the new bucket: {destination}"
    );
    assert_converged_and_clean(&moto, &w);
    // Destroy keeps buckets by default; the old one, no longer the spec's, is not touched either.
    destroy(&moto, &w);
    assert!(bucket_exists(&moto, BUCKET).await && bucket_exists(&moto, &bucket).await);
}

#[tokio::test]
async fn forticnapp_gets_a_generated_external_id_once_and_a_topic_its_platform_may_subscribe_to() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w =
        Workdir::with_spec(&with_consumer("preset = \"forticnapp\"\ngenerate_external_id = true\ntenant = \"acme\""));
    let out = apply(&moto, &w);
    let trust = trust_of(&moto, "eks-audit-reader").await;
    let s = &trust["Statement"][0];
    assert_eq!(s["Principal"]["AWS"], "arn:aws:iam::434813966438:role/lacework-platform");
    let id = s["Condition"]["StringEquals"]["sts:ExternalId"].as_str().unwrap().to_string();
    let random = id.strip_prefix("lweid:aws:v2:acme:123456789012:").unwrap_or_else(|| panic!("{id}"));
    assert!(random.len() == 10 && random.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{id}");
    assert!(out.stdout().contains(&format!("external ID:       {id}")), "{}", out.stdout());
    // The topic: S3 may publish, the vendor's platform role may subscribe its own queue; the bucket notifies it.
    let topic = "arn:aws:sns:eu-central-1:123456789012:eks-audit";
    let attrs = moto.region(REGION).sns.get_topic_attributes().topic_arn(topic).send().await.unwrap();
    let policy = decode(attrs.attributes().unwrap()["Policy"].as_str());
    assert_eq!(
        statement(&policy, "ConsumerSubscribe")["Principal"]["AWS"],
        "arn:aws:iam::434813966438:role/lacework-platform"
    );
    assert_eq!(
        statement(&policy, "S3Publish")["Condition"]["ArnLike"]["aws:SourceArn"],
        format!("arn:aws:s3:::{BUCKET}")
    );
    assert_eq!(notification(&moto).await, (Some(topic.to_string()), vec!["eks-audit".to_string()]));

    // The id is kept: converged, and the same id in the outputs.
    assert_converged_and_clean(&moto, &w);
    assert_eq!(
        trust_of(&moto, "eks-audit-reader").await["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        id
    );
    let o = outputs(&moto, &w);
    assert_eq!(o["external_id"], id);
    assert_eq!(o["regions"][0]["topic_arn"], topic);
    destroy(&moto, &w);
    assert!(topics(&moto).await.is_empty() && role_names(&moto).await.is_empty());
}

#[tokio::test]
async fn outputs_after_a_partial_pipeline_print_what_exists_and_exit_1_naming_what_does_not() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&generic("sqs"));
    let applied = apply(&moto, &w);
    let complete = run(&moto, &w, &["outputs"]);
    assert_eq!(complete.code(), 0, "{}\n{}", complete.stdout(), complete.stderr());
    // A successful apply ends with the same outputs.
    assert!(complete.stdout().contains("reader role ARN:"), "{}", complete.stdout());
    assert!(applied.stdout().ends_with(&complete.stdout()), "{}\n---\n{}", applied.stdout(), complete.stdout());
    // The consumer's queue deleted by hand: what the console needs is partly gone.
    let sqs = moto.region(REGION).sqs;
    let url = sqs.get_queue_url().queue_name("eks-audit").send().await.unwrap().queue_url().unwrap().to_string();
    sqs.delete_queue().queue_url(url).send().await.unwrap();
    let partial = run(&moto, &w, &["outputs"]);
    assert_eq!(partial.code(), 1, "{}\n{}", partial.stdout(), partial.stderr());
    let missing = "region.eu-central-1.queue does not exist yet: run `eksaudit apply`, then `eksaudit outputs` again";
    assert!(partial.stderr().contains(missing), "{}", partial.stderr());
    assert!(partial.stdout().contains("arn:aws:iam::123456789012:role/eks-audit-reader"), "{}", partial.stdout());
    apply(&moto, &w);
    assert_eq!(run(&moto, &w, &["outputs"]).code(), 0, "complete again after apply");
}

#[tokio::test]
async fn destroy_removes_only_our_notification_entry_and_keeps_others_a_lambda_entry_and_eventbridge() {
    use aws_sdk_s3::types::{
        Event, EventBridgeConfiguration, LambdaFunctionConfiguration, NotificationConfiguration, TopicConfiguration,
    };
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&generic("sns"));
    apply(&moto, &w);
    // Beside ours, someone else's topic entry, a Lambda entry and EventBridge delivery on the same bucket, put by
    // hand through the recording proxy (moto keeps no EventBridge delivery; test support does, as S3 does).
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto.sdk_config(REGION))
            .endpoint_url(moto.endpoint())
            .force_path_style(true)
            .build(),
    );
    let theirs =
        moto.region(REGION).sns.create_topic().name("theirs").send().await.unwrap().topic_arn().unwrap().to_string();
    let function = "arn:aws:lambda:eu-central-1:123456789012:function:indexer";
    let config = s3.get_bucket_notification_configuration().bucket(BUCKET).send().await.unwrap();
    let mut topics_now = config.topic_configurations().to_vec();
    topics_now.push(
        TopicConfiguration::builder()
            .id("theirs")
            .topic_arn(&theirs)
            .events(Event::from("s3:ObjectRemoved:*"))
            .build()
            .unwrap(),
    );
    let lambda = LambdaFunctionConfiguration::builder()
        .id("indexer")
        .lambda_function_arn(function)
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .unwrap();
    let put = NotificationConfiguration::builder()
        .set_topic_configurations(Some(topics_now))
        .lambda_function_configurations(lambda)
        .event_bridge_configuration(EventBridgeConfiguration::builder().build())
        .build();
    s3.put_bucket_notification_configuration().bucket(BUCKET).notification_configuration(put).send().await.unwrap();

    destroy(&moto, &w);
    let left = s3.get_bucket_notification_configuration().bucket(BUCKET).send().await.unwrap();
    let topic_ids: Vec<&str> = left.topic_configurations().iter().filter_map(|t| t.id()).collect();
    assert_eq!(topic_ids, ["theirs"], "ours goes, theirs stays: {left:?}");
    assert_eq!(left.topic_configurations()[0].topic_arn(), theirs);
    let functions: Vec<&str> = left.lambda_function_configurations().iter().map(|l| l.lambda_function_arn()).collect();
    assert_eq!(functions, [function], "{left:?}");
    assert!(left.event_bridge_configuration().is_some(), "EventBridge delivery stays: {left:?}");
    assert_eq!(topics(&moto).await, [theirs], "our topic is gone, theirs stays");
}

#[tokio::test]
async fn switching_notify_between_sns_and_sqs_replaces_the_entry_deletes_the_old_target_and_keeps_others_entries() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&generic("sns"));
    apply(&moto, &w);
    let topic = "arn:aws:sns:eu-central-1:123456789012:eks-audit";
    assert_eq!(notification(&moto).await.0.as_deref(), Some(topic));
    // Someone else's entry on the same bucket: it must survive every switch.
    let s3 = moto.region(REGION).s3;
    let theirs =
        moto.region(REGION).sns.create_topic().name("theirs").send().await.unwrap().topic_arn().unwrap().to_string();
    let mut config = s3.get_bucket_notification_configuration().bucket(BUCKET).send().await.unwrap();
    let mut topics_now = config.topic_configurations.take().unwrap_or_default();
    topics_now.push(
        aws_sdk_s3::types::TopicConfiguration::builder()
            .id("theirs")
            .topic_arn(&theirs)
            .events(aws_sdk_s3::types::Event::from("s3:ObjectRemoved:*"))
            .build()
            .unwrap(),
    );
    let put =
        aws_sdk_s3::types::NotificationConfiguration::builder().set_topic_configurations(Some(topics_now)).build();
    s3.put_bucket_notification_configuration().bucket(BUCKET).notification_configuration(put).send().await.unwrap();

    let w = Workdir::with_spec(&generic("sqs"));
    assert_eq!(
        plan_actions(&moto, &w),
        expect(&[
            ("role.reader", "update"),
            // No topic: SNS leaves the key policy.
            ("region.eu-central-1.kms_key", "update"),
            ("region.eu-central-1.dead_letter_queue", "create"),
            ("region.eu-central-1.queue", "create"),
            ("region.eu-central-1.bucket_notification", "replace"),
            ("region.eu-central-1.topic", "delete"),
        ])
    );
    apply(&moto, &w);
    let queue = "arn:aws:sqs:eu-central-1:123456789012:eks-audit";
    assert_eq!(
        notification(&moto).await,
        (Some(queue.to_string()), vec!["eks-audit".to_string(), "theirs".to_string()])
    );
    assert_eq!(topics(&moto).await, std::slice::from_ref(&theirs), "our topic is gone, theirs stays");
    let permissions = permissions_of(&moto, "eks-audit-reader").await;
    assert_eq!(statement(&permissions, "ConsumeQueues")["Resource"], json!([queue]));
    assert_converged_and_clean(&moto, &w);

    // And back: the queues go, the topic comes back.
    let w = Workdir::with_spec(&generic("sns"));
    assert_eq!(
        plan_actions(&moto, &w),
        expect(&[
            ("role.reader", "update"),
            // The topic is back, and SNS with it in the key policy.
            ("region.eu-central-1.kms_key", "update"),
            ("region.eu-central-1.topic", "create"),
            ("region.eu-central-1.bucket_notification", "replace"),
            ("region.eu-central-1.queue", "delete"),
            ("region.eu-central-1.dead_letter_queue", "delete"),
        ])
    );
    apply(&moto, &w);
    assert!(queue_url(&moto, "eks-audit").await.is_none() && queue_url(&moto, "eks-audit-dlq").await.is_none());
    assert_eq!(
        notification(&moto).await,
        (Some(topic.to_string()), vec!["eks-audit".to_string(), "theirs".to_string()])
    );
    assert_converged_and_clean(&moto, &w);

    // No notification at all: our entry goes, theirs stays; the topic goes.
    let w = Workdir::with_spec(&generic("none"));
    apply(&moto, &w);
    assert_eq!(notification(&moto).await, (None, vec!["theirs".to_string()]));
    assert_eq!(topics(&moto).await, [theirs]);
    assert_converged_and_clean(&moto, &w);
}

#[tokio::test]
async fn switching_between_generic_and_sentinel_renames_the_reader_and_cleans_up_after_itself() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&generic("sns"));
    apply(&moto, &w);
    assert_eq!(role_names(&moto).await, ["eks-audit-cloudwatch", "eks-audit-firehose", "eks-audit-reader"]);

    let w = Workdir::with_spec(&sentinel());
    assert_eq!(
        plan_actions(&moto, &w),
        expect(&[
            ("oidc_provider.commercial", "create"),
            ("role.reader", "create"),
            ("role.former_reader", "delete"),
            // The key policy names the renamed reader, and no longer SNS.
            ("region.eu-central-1.kms_key", "update"),
            ("region.eu-central-1.dead_letter_queue", "create"),
            ("region.eu-central-1.queue", "create"),
            ("region.eu-central-1.bucket_notification", "replace"),
            ("region.eu-central-1.topic", "delete"),
            // Sentinel's transform: its role, log group and function, the stream's processor and GZIP, and the
            // Firehose role's leave to invoke it.
            ("role.transform", "create"),
            ("role.firehose", "update"),
            ("region.eu-central-1.transform_log_group", "create"),
            ("region.eu-central-1.transform_function", "create"),
            ("region.eu-central-1.stream", "update"),
        ])
    );
    apply(&moto, &w);
    assert_eq!(
        role_names(&moto).await,
        ["OIDC_eks-audit-reader", "eks-audit-cloudwatch", "eks-audit-firehose", "eks-audit-transform"]
    );
    assert_eq!(providers(&moto).await, [PROVIDER_ARN]);
    assert!(topics(&moto).await.is_empty());
    assert_converged_and_clean(&moto, &w);

    // Back to generic: the provider (ours, trusted by no one else any more) and the OIDC_ role go.
    let w = Workdir::with_spec(&generic("sns"));
    let planned = plan_actions(&moto, &w);
    assert_eq!(planned.get("oidc_provider.commercial").map(String::as_str), Some("delete"), "{planned:?}");
    assert_eq!(planned.get("role.former_reader").map(String::as_str), Some("delete"), "{planned:?}");
    // The transform goes with Sentinel (its log group stays, as log groups do); the stream is plain again.
    for (address, action) in [
        ("role.transform", "delete"),
        ("region.eu-central-1.transform_function", "delete"),
        ("region.eu-central-1.stream", "update"),
    ] {
        assert_eq!(planned.get(address).map(String::as_str), Some(action), "{address}: {planned:?}");
    }
    assert!(!planned.contains_key("region.eu-central-1.transform_log_group"), "{planned:?}");
    apply(&moto, &w);
    assert!(providers(&moto).await.is_empty());
    assert_eq!(role_names(&moto).await, ["eks-audit-cloudwatch", "eks-audit-firehose", "eks-audit-reader"]);
    let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config(REGION));
    assert!(lambda.get_function().function_name("eks-audit-transform").send().await.is_err(), "the transform is gone");
    assert!(queue_url(&moto, "eks-audit").await.is_none());
    assert_converged_and_clean(&moto, &w);
    destroy(&moto, &w);
}

#[tokio::test]
async fn drift_sees_a_hand_edited_queue_policy_and_a_deleted_dead_letter_queue_and_apply_repairs_them() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&sentinel());
    apply(&moto, &w);
    // By hand: S3 may no longer send, and the dead-letter queue is gone.
    let client = sqs(&moto);
    let url = queue_url(&moto, "eks-audit").await.unwrap();
    let narrowed = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/OIDC_eks-audit-reader"}, "Action": "SQS:ReceiveMessage",
        "Resource": "arn:aws:sqs:eu-central-1:123456789012:eks-audit"}]});
    client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::Policy, narrowed.to_string())
        .send()
        .await
        .unwrap();
    let dlq = queue_url(&moto, "eks-audit-dlq").await.unwrap();
    client.delete_queue().queue_url(dlq).send().await.unwrap();

    moto.recorder().reset();
    let drift = run(&moto, &w, &["drift", "--json"]);
    assert_eq!(drift.code(), 2, "{}\n{}", drift.stdout(), drift.stderr());
    assert!(moto.recorder().writes().is_empty());
    let doc = drift.json();
    let findings: Vec<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["path"].as_str().unwrap().to_string()))
        .collect();
    assert!(findings.contains(&("changed".into(), "region.eu-central-1.queue.policy".into())), "{findings:?}");
    assert!(findings.contains(&("missing".into(), "region.eu-central-1.dead_letter_queue".into())), "{findings:?}");
    apply(&moto, &w);
    let policy = decode(&moto.queue_attributes(REGION, "eks-audit").await["Policy"]);
    assert_eq!(statement(&policy, "S3SendMessage")["Principal"]["Service"], "s3.amazonaws.com");
    assert_converged_and_clean(&moto, &w);
}

#[tokio::test]
async fn an_existing_forticnapp_pipeline_moves_its_prefix_and_notification_filter_and_keeps_the_old_objects() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let consumer = "preset = \"forticnapp\"\nexternal_id = \"lweid:aws:v2:acme:123456789012:ABCDE12345\"";
    let before = with_consumer(consumer) + "\n[firehose]\nprefix = \"eks-audit-logs/\"\n";
    let w = Workdir::with_spec(&before);
    apply(&moto, &w);
    let s3 = moto.region(REGION).s3;
    let firehose = aws_sdk_firehose::Client::new(&moto.sdk_config(REGION));
    // Where the stream writes, and which objects the notification announces.
    let prefixes = || async {
        let stream = firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await.unwrap();
        let destination = &stream.delivery_stream_description().unwrap().destinations()[0];
        let written = destination.extended_s3_destination_description().unwrap().prefix().unwrap().to_string();
        let n = s3.get_bucket_notification_configuration().bucket(BUCKET).send().await.unwrap();
        let ours = n.topic_configurations().iter().find(|t| t.id() == Some("eks-audit")).expect("our entry");
        let rules = ours.filter().unwrap().key().unwrap().filter_rules();
        let announced = rules.iter().find(|r| r.name().map(|n| n.as_str()) == Some("prefix")).unwrap();
        (written, announced.value().unwrap().to_string())
    };
    assert_eq!(prefixes().await, ("eks-audit-logs/".to_string(), "eks-audit-logs/".to_string()));
    let key = "eks-audit-logs/2026/11/30/12/eks-audit-1-2026-11-30-12-00-00-old";
    // moto speaks plain HTTP, which the bucket's TLS-only policy refuses: lifted for the write and put back.
    let policy = s3.get_bucket_policy().bucket(BUCKET).send().await.unwrap().policy().unwrap().to_string();
    s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    s3.put_object().bucket(BUCKET).key(key).body(b"old data".to_vec().into()).send().await.unwrap();
    s3.put_bucket_policy().bucket(BUCKET).policy(&policy).send().await.unwrap();

    // The preset's own prefix: the stream, the notification's filter and the roles' object grants (the reader's
    // reads, Firehose's writes) move; nothing is deleted.
    let w = Workdir::with_spec(&with_consumer(consumer));
    assert_eq!(
        plan_actions(&moto, &w),
        expect(&[
            ("region.eu-central-1.bucket_notification", "update"),
            ("region.eu-central-1.stream", "update"),
            ("role.firehose", "update"),
            ("role.reader", "update"),
        ])
    );
    apply(&moto, &w);
    let new_prefix = "eks_audit_logs/123456789012/".to_string();
    assert_eq!(prefixes().await, (new_prefix.clone(), new_prefix.clone()));
    let grants = permissions_of(&moto, "eks-audit-reader").await.to_string();
    assert!(grants.contains(&format!("arn:aws:s3:::{BUCKET}/{new_prefix}*")), "{grants}");
    assert!(!grants.contains(&format!("arn:aws:s3:::{BUCKET}/eks-audit-logs/*")), "{grants}");
    s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    let old = s3.get_object().bucket(BUCKET).key(key).send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(old.into_bytes().as_ref(), b"old data", "the objects written before stay");
    s3.put_bucket_policy().bucket(BUCKET).policy(&policy).send().await.unwrap();
    assert_converged_and_clean(&moto, &w);
}
