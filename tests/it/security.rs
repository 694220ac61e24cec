//! Security by default against moto: the pipeline's KMS key (rotation on, its policy), the bucket, topic and
//! stream encrypted with it, server access logs into a hardened access-log bucket, the opt-outs, and the key's
//! deletion scheduled by destroy only once what it encrypts is gone; and the kept Prowler report
//! (`scripts/security-scan.out`, both pipelines) against the README's table of checks that do not fit.

use eksaudit_test_support::Moto;
use serde_json::Value;

use crate::support::{Run, Workdir};

const SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"

[[region]]
name = "eu-central-1"
clusters = ["*"]

[[region]]
name = "us-east-1"
clusters = ["*"]
"#;

const ACCOUNT: &str = "123456789012";

fn bucket(region: &str) -> String {
    format!("eks-audit-{ACCOUNT}-{region}")
}

fn run(moto: &Moto, w: &Workdir, args: &[&str]) -> Run {
    let out = w.run(Some(&moto.endpoint()), args);
    out.assert_no_panic();
    out
}

fn apply(moto: &Moto, w: &Workdir) {
    let out = run(moto, w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "apply failed:\n{}\n{}", out.stdout(), out.stderr());
}

fn assert_in_sync(moto: &Moto, w: &Workdir) {
    moto.recorder().reset();
    let plan = run(moto, w, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "not in sync after apply:\n{}\n{}", plan.stdout(), plan.stderr());
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
}

/// The key behind the pipeline's alias: (id, state, rotation, policy).
async fn key(moto: &Moto, region: &str) -> Option<(String, String, bool, Value)> {
    let kms = moto.region(region).kms;
    let meta = kms.describe_key().key_id("alias/eks-audit").send().await.ok()?.key_metadata?;
    let id = meta.key_id().to_string();
    let state = meta.key_state().map(|s| s.as_str().to_string()).unwrap_or_default();
    let rotation = kms.get_key_rotation_status().key_id(&id).send().await.unwrap().key_rotation_enabled();
    let policy = kms.get_key_policy().key_id(&id).policy_name("default").send().await.unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    Some((id, state, rotation, policy))
}

fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid} in {policy:#}"))
}

async fn topic_key(moto: &Moto, region: &str) -> String {
    let arn = format!("arn:aws:sns:{region}:{ACCOUNT}:eks-audit");
    let attrs = moto.region(region).sns.get_topic_attributes().topic_arn(arn).send().await.unwrap();
    attrs.attributes().and_then(|a| a.get("KmsMasterKeyId")).cloned().unwrap_or_default()
}

/// The stream's encryption status as eksaudit reads it (through the recorder, which adds the status moto leaves
/// out for a stream created encrypted).
async fn stream_encryption(moto: &Moto, region: &str) -> Option<String> {
    let config = moto.sdk_config(region).to_builder().endpoint_url(moto.endpoint()).build();
    let firehose = eksaudit_aws::Aws::from_config(config, true).region(region).firehose;
    let out = firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await;
    let d = out.unwrap().delivery_stream_description.unwrap();
    d.delivery_stream_encryption_configuration().and_then(|e| e.status()).map(|s| s.as_str().to_string())
}

async fn bucket_encryption(moto: &Moto, region: &str, name: &str) -> (String, Option<String>, Option<bool>) {
    let out = moto.region(region).s3.get_bucket_encryption().bucket(name).send().await.unwrap();
    let rule = out.server_side_encryption_configuration().unwrap().rules()[0].clone();
    let by_default = rule.apply_server_side_encryption_by_default().unwrap();
    (
        by_default.sse_algorithm().as_str().to_string(),
        by_default.kms_master_key_id().map(str::to_string),
        rule.bucket_key_enabled(),
    )
}

#[tokio::test]
async fn apply_creates_a_rotated_key_per_region_and_encrypts_bucket_topic_and_stream_with_it() {
    let moto = Moto::start();
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    for region in ["eu-central-1", "us-east-1"] {
        let (_, state, rotation, policy) = key(&moto, region).await.expect("the pipeline's key");
        assert_eq!(state, "Enabled");
        assert!(rotation, "rotation is on in {region}");
        let sids: Vec<&str> =
            policy["Statement"].as_array().unwrap().iter().filter_map(|s| s["Sid"].as_str()).collect();
        assert_eq!(
            sids,
            [
                "AccountAdministers",
                "FirehoseWritesObjects",
                "S3Service",
                "SnsService",
                "LogsEncryptsLogGroups",
                "ReaderReadsObjects"
            ],
            "exactly these principals, nothing else"
        );
        let firehose = statement(&policy, "FirehoseWritesObjects");
        assert_eq!(firehose["Principal"]["AWS"], format!("arn:aws:iam::{ACCOUNT}:role/eks-audit-firehose"));
        assert_eq!(firehose["Condition"]["StringEquals"]["kms:ViaService"], format!("s3.{region}.amazonaws.com"));
        let reader = statement(&policy, "ReaderReadsObjects");
        assert_eq!(reader["Action"], serde_json::json!(["kms:Decrypt"]));
        let s3 = statement(&policy, "S3Service");
        assert_eq!(s3["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT);
        assert_eq!(s3["Condition"]["ArnLike"]["aws:SourceArn"], format!("arn:aws:s3:::{}", bucket(region)));
        let tags = moto.region(region).kms.list_resource_tags().key_id("alias/eks-audit").send().await;
        // moto resolves ListResourceTags by key id only: look the key up by its id.
        let tags = match tags {
            Ok(t) => t,
            Err(_) => {
                let (id, ..) = key(&moto, region).await.unwrap();
                moto.region(region).kms.list_resource_tags().key_id(id).send().await.unwrap()
            }
        };
        assert!(
            tags.tags().iter().any(|t| t.tag_key() == "eksaudit:pipeline" && t.tag_value() == "eks-audit"),
            "the key carries the owner tag"
        );

        let alias_arn = format!("arn:aws:kms:{region}:{ACCOUNT}:alias/eks-audit");
        let (algorithm, key_id, bucket_key) = bucket_encryption(&moto, region, &bucket(region)).await;
        assert_eq!(
            (algorithm.as_str(), key_id.as_deref(), bucket_key),
            ("aws:kms", Some(alias_arn.as_str()), Some(true))
        );
        assert_eq!(topic_key(&moto, region).await, alias_arn);
        assert_eq!(stream_encryption(&moto, region).await.as_deref(), Some("ENABLED"));
    }
    assert_in_sync(&moto, &w);
}

#[tokio::test]
async fn the_bucket_logs_into_a_hardened_access_log_bucket_only_s3_logging_may_write_to() {
    let moto = Moto::start();
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let region = "eu-central-1";
    let s3 = moto.region(region).s3;
    let logs = format!("{}-access-logs", bucket(region));
    let logging = s3.get_bucket_logging().bucket(bucket(region)).send().await.unwrap();
    let enabled = logging.logging_enabled().expect("server access logging is on");
    assert_eq!(enabled.target_bucket(), logs);
    assert_eq!(enabled.target_prefix(), "s3-access-logs/");
    // Same hardening as the pipeline's bucket, with S3-managed keys (all S3 delivers access logs into).
    assert_eq!(bucket_encryption(&moto, region, &logs).await.0, "AES256");
    let versioning = s3.get_bucket_versioning().bucket(&logs).send().await.unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    let pab = s3.get_public_access_block().bucket(&logs).send().await.unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (pab.block_public_acls(), pab.ignore_public_acls(), pab.block_public_policy(), pab.restrict_public_buckets()),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let ownership = s3.get_bucket_ownership_controls().bucket(&logs).send().await.unwrap();
    assert_eq!(ownership.ownership_controls().unwrap().rules()[0].object_ownership().as_str(), "BucketOwnerEnforced");
    let policy = s3.get_bucket_policy().bucket(&logs).send().await.unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let allows: Vec<&Value> =
        policy["Statement"].as_array().unwrap().iter().filter(|s| s["Effect"] == "Allow").collect();
    assert_eq!(allows.len(), 1, "only S3's logging service may write: {policy:#}");
    assert_eq!(allows[0]["Principal"], serde_json::json!({"Service": "logging.s3.amazonaws.com"}));
    assert_eq!(allows[0]["Condition"]["StringEquals"]["aws:SourceAccount"], ACCOUNT);
    assert_eq!(allows[0]["Condition"]["ArnLike"]["aws:SourceArn"], format!("arn:aws:s3:::{}", bucket(region)));
    let tags = s3.get_bucket_tagging().bucket(&logs).send().await.unwrap();
    assert!(tags.tag_set().iter().any(|t| t.key() == "eksaudit:pipeline" && t.value() == "eks-audit"));
    // The access-log bucket is not logged itself.
    let own = s3.get_bucket_logging().bucket(&logs).send().await.unwrap();
    assert!(own.logging_enabled().is_none());
}

#[tokio::test]
async fn opting_out_means_no_key_sse_s3_an_unencrypted_topic_and_no_access_log_bucket() {
    let moto = Moto::start();
    let spec = SPEC.replace(
        "[[region]]\nname = \"eu-central-1\"",
        "[bucket]\nencryption = \"sse-s3\"\naccess_logging = false\n\n[[region]]\nname = \"eu-central-1\"",
    );
    let w = Workdir::with_spec(&spec);
    apply(&moto, &w);
    let region = "eu-central-1";
    assert!(key(&moto, region).await.is_none(), "no key is created");
    assert_eq!(bucket_encryption(&moto, region, &bucket(region)).await.0, "AES256");
    assert_eq!(topic_key(&moto, region).await, "");
    // The stream is still encrypted at rest, with a key Firehose owns (no KMS charge).
    assert_eq!(stream_encryption(&moto, region).await.as_deref(), Some("ENABLED"));
    let s3 = moto.region(region).s3;
    assert!(s3.head_bucket().bucket(format!("{}-access-logs", bucket(region))).send().await.is_err());
    assert!(s3.get_bucket_logging().bucket(bucket(region)).send().await.unwrap().logging_enabled().is_none());
    assert_in_sync(&moto, &w);
}

#[tokio::test]
async fn versioning_false_leaves_it_off_and_suspends_it_where_it_was_on() {
    let moto = Moto::start();
    let region = "eu-central-1";
    let with = |versioning: bool| {
        SPEC.replace(
            "[[region]]\nname = \"eu-central-1\"",
            &format!("[bucket]\nversioning = {versioning}\n\n[[region]]\nname = \"eu-central-1\""),
        )
    };
    let names = [bucket(region), format!("{}-access-logs", bucket(region))];
    let status = |name: String| {
        let s3 = moto.region(region).s3;
        async move {
            let out = s3.get_bucket_versioning().bucket(name).send().await.unwrap();
            out.status().map(|s| s.as_str().to_string())
        }
    };
    let off = Workdir::with_spec(&with(false));
    apply(&moto, &off);
    for name in &names {
        assert_ne!(status(name.clone()).await.as_deref(), Some("Enabled"), "{name}");
    }
    assert_in_sync(&moto, &off);

    let on = Workdir::with_spec(&with(true));
    apply(&moto, &on);
    for name in &names {
        assert_eq!(status(name.clone()).await.as_deref(), Some("Enabled"), "{name}");
    }
    assert_in_sync(&moto, &on);

    // Back to false: S3 cannot turn versioning off once on, so apply suspends it (the versions kept stay), and
    // the next plan is in sync.
    let plan = run(&moto, &off, &["plan", "--json"]).json();
    let changed: Vec<&str> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "update")
        .filter(|r| r["changes"].as_array().unwrap().iter().any(|c| c["field"] == "versioning"))
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = ["eu-central-1", "us-east-1"]
        .iter()
        .flat_map(|r| [format!("region.{r}.access_log_bucket"), format!("region.{r}.bucket")])
        .collect();
    assert_eq!(changed, expected, "{plan}");
    apply(&moto, &off);
    for name in &names {
        assert_eq!(status(name.clone()).await.as_deref(), Some("Suspended"), "{name}");
    }
    assert_in_sync(&moto, &off);
}

#[tokio::test]
async fn drift_in_rotation_topic_key_and_stream_encryption_is_planned_and_converged() {
    let moto = Moto::start();
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let region = "eu-central-1";
    let c = moto.region(region);
    let (id, ..) = key(&moto, region).await.unwrap();
    c.kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    let arn = format!("arn:aws:sns:{region}:{ACCOUNT}:eks-audit");
    c.sns
        .set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("KmsMasterKeyId")
        .attribute_value("")
        .send()
        .await
        .unwrap();
    c.firehose.stop_delivery_stream_encryption().delivery_stream_name("eks-audit").send().await.unwrap();

    let plan = run(&moto, &w, &["plan", "--json"]).json();
    let changed: Vec<String> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "no-op")
        .flat_map(|r| {
            let address = r["address"].as_str().unwrap().to_string();
            r["changes"].as_array().unwrap().iter().map(move |c| format!("{address}.{}", c["field"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(
        changed,
        [
            format!("region.{region}.kms_key.rotation"),
            format!("region.{region}.topic.kms_master_key_id"),
            format!("region.{region}.stream.encryption"),
        ],
        "{plan:#}"
    );
    apply(&moto, &w);
    assert!(key(&moto, region).await.unwrap().2);
    assert_eq!(stream_encryption(&moto, region).await.as_deref(), Some("ENABLED"));
    assert_in_sync(&moto, &w);
}

#[tokio::test]
async fn an_edited_key_policy_is_drift_and_apply_puts_it_back() {
    let moto = Moto::start();
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let region = "eu-central-1";
    let (id, _, _, before) = key(&moto, region).await.unwrap();
    // Someone takes the reader's statement out: the consumer could no longer decrypt what it reads.
    let mut edited = before.clone();
    edited["Statement"].as_array_mut().unwrap().retain(|s| s["Sid"] != "ReaderReadsObjects");
    assert_ne!(edited, before, "the key policy has the reader's statement");
    let kms = moto.region(region).kms;
    kms.put_key_policy().key_id(&id).policy_name("default").policy(edited.to_string()).send().await.unwrap();

    let drift = run(&moto, &w, &["drift", "--json", "--config-only"]);
    assert_eq!(drift.code(), 2, "{}\n{}", drift.stdout(), drift.stderr());
    let findings: Vec<(String, String)> = drift.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["address"].as_str().unwrap().to_string(), f["field"].as_str().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(findings, [(format!("region.{region}.kms_key"), "policy".to_string())], "{findings:?}");
    apply(&moto, &w);
    let (_, _, _, after) = key(&moto, region).await.unwrap();
    assert_eq!(statement(&after, "ReaderReadsObjects"), statement(&before, "ReaderReadsObjects"));
    assert_in_sync(&moto, &w);
}

#[tokio::test]
async fn destroy_schedules_the_key_only_when_its_buckets_and_log_groups_under_it_go_and_keeps_it_with_retained_data() {
    let moto = Moto::start();
    // Retained (the default): the key stays, enabled, with the logs it encrypts.
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let out = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains("is kept with the logs it encrypts"), "{}", out.stdout());
    for region in ["eu-central-1", "us-east-1"] {
        assert_eq!(key(&moto, region).await.unwrap().1, "Enabled");
    }

    // Deleted, with log groups of the pipeline's own under the key (the default): the buckets go, the key stays
    // with the log groups destroy keeps (CloudWatch Logs needs it to read them) and says so; once those are
    // deleted, the next destroy schedules it.
    let with = |bucket_keys: &str| {
        SPEC.replace(
            "[[region]]\nname = \"eu-central-1\"",
            &format!("[bucket]\n{bucket_keys}\n\n[[region]]\nname = \"eu-central-1\""),
        )
    };
    let moto = Moto::start();
    // Audit logging on and no log group yet: eksaudit makes the cluster's, under the key.
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    let cluster_group = "/aws/eks/prod-1/cluster";
    let w = Workdir::with_spec(&with("on_destroy = \"delete\""));
    apply(&moto, &w);
    // The cluster is deleted before the pipeline, the usual order of a teardown: EKS keeps its log group, which
    // the spec no longer selects, and which is under the key all the same.
    moto.region("eu-central-1").eks.delete_cluster().name("prod-1").send().await.unwrap();
    let out = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    for region in ["eu-central-1", "us-east-1"] {
        assert_eq!(key(&moto, region).await.unwrap().1, "Enabled", "{region}");
        assert!(moto.region(region).s3.head_bucket().bucket(bucket(region)).send().await.is_err());
        let logs = moto.region(region).logs;
        let groups = logs.describe_log_groups().send().await.unwrap();
        let under_key: Vec<&str> = groups
            .log_groups()
            .iter()
            .filter(|g| g.kms_key_id().is_some())
            .filter_map(|g| g.log_group_name())
            .collect();
        assert!(!under_key.is_empty(), "{region}: {groups:?}");
        for group in &under_key {
            assert!(out.stdout().contains(group), "{region}: the note names {group}: {}", out.stdout());
        }
        assert_eq!(region == "eu-central-1", under_key.contains(&cluster_group), "{region}: {under_key:?}");
        // All but the cluster's: that one alone keeps its key.
        for group in under_key.into_iter().filter(|g| *g != cluster_group) {
            logs.delete_log_group().log_group_name(group).send().await.unwrap();
        }
    }
    assert!(out.stdout().contains("KMS key alias/eks-audit is kept: log group"), "{}", out.stdout());
    let again = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(again.code(), 0, "{}\n{}", again.stdout(), again.stderr());
    assert_eq!(key(&moto, "eu-central-1").await.unwrap().1, "Enabled", "the cluster's log group keeps its key");
    let kept = format!("KMS key alias/eks-audit is kept: log group {cluster_group} is encrypted with it");
    assert!(again.stdout().contains(&kept), "{}", again.stdout());
    assert_eq!(key(&moto, "us-east-1").await.unwrap().1, "PendingDeletion");
    moto.region("eu-central-1").logs.delete_log_group().log_group_name(cluster_group).send().await.unwrap();
    let again = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(again.code(), 0, "{}\n{}", again.stdout(), again.stderr());
    for region in ["eu-central-1", "us-east-1"] {
        assert_eq!(key(&moto, region).await.unwrap().1, "PendingDeletion", "{region}");
    }

    // Deleted, the log groups under CloudWatch Logs' own encryption: both buckets go, then the key is scheduled
    // for deletion with the shortest window.
    let moto = Moto::start();
    let w = Workdir::with_spec(&with("on_destroy = \"delete\"\nencrypt_log_groups = false"));
    apply(&moto, &w);
    moto.recorder().reset();
    let out = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    let region = "eu-central-1";
    assert_eq!(key(&moto, region).await.unwrap().1, "PendingDeletion");
    let s3 = moto.region(region).s3;
    assert!(s3.head_bucket().bucket(bucket(region)).send().await.is_err());
    assert!(s3.head_bucket().bucket(format!("{}-access-logs", bucket(region))).send().await.is_err());
    // Per region (regions are torn down concurrently): its key is scheduled after both its buckets are deleted.
    let writes: Vec<(String, String)> = moto
        .recorder()
        .calls()
        .into_iter()
        .zip(moto.recorder().requests())
        .filter(|(c, _)| c.write)
        .map(|(c, r)| (c.operation, signing_region(&r)))
        .collect();
    for region in ["eu-central-1", "us-east-1"] {
        let schedule = writes
            .iter()
            .position(|(op, r)| op == "ScheduleKeyDeletion" && r == region)
            .unwrap_or_else(|| panic!("key deletion scheduled in {region}: {writes:?}"));
        let prefix = format!("DELETE /{}", bucket(region));
        let deletes = writes.iter().enumerate().filter(|(_, (op, _))| op.starts_with(&prefix)).map(|(i, _)| i);
        assert_eq!(deletes.clone().count(), 2, "the bucket and its access-log bucket: {writes:?}");
        assert!(deletes.into_iter().all(|i| i < schedule), "the key goes after the buckets: {writes:?}");
    }
    let requests = moto.recorder().requests();
    let request = requests
        .iter()
        .find(|r| r.header("x-amz-target").is_some_and(|t| t.ends_with("ScheduleKeyDeletion")))
        .expect("the ScheduleKeyDeletion request");
    let body = String::from_utf8_lossy(&request.body);
    assert!(body.contains("\"PendingWindowInDays\":7"), "{body}");

    // An apply within the window recovers the key: deletion cancelled, enabled, rotation on.
    apply(&moto, &w);
    let (_, state, rotation, _) = key(&moto, region).await.unwrap();
    assert_eq!((state.as_str(), rotation), ("Enabled", true));
    assert_in_sync(&moto, &w);
}

/// The region a request was signed for (its SigV4 credential scope).
fn signing_region(request: &eksaudit_test_support::Request) -> String {
    let auth = request.header("authorization").unwrap_or_default();
    auth.split("Credential=").nth(1).and_then(|c| c.split('/').nth(2)).unwrap_or_default().to_string()
}

/// The key ARN a log group is encrypted with, if any.
async fn log_group_key(moto: &Moto, region: &str, name: &str) -> Option<String> {
    let out = moto.region(region).logs.describe_log_groups().log_group_name_prefix(name).send().await.unwrap();
    let group = out.log_groups().iter().find(|g| g.log_group_name() == Some(name)).expect("the log group");
    group.kms_key_id().map(str::to_string)
}

const ALERTS: &str = "\n[alerts]\nusers = [\"kubernetes-admin\"]\n";

#[tokio::test]
async fn the_pipelines_key_encrypts_the_log_groups_it_creates_and_a_plan_after_is_in_sync() {
    let moto = Moto::start();
    let w = Workdir::with_spec(&format!("{SPEC}{ALERTS}"));
    apply(&moto, &w);
    for region in ["eu-central-1", "us-east-1"] {
        let (id, ..) = key(&moto, region).await.expect("the pipeline's key");
        let arn = format!("arn:aws:kms:{region}:{ACCOUNT}:key/{id}");
        for group in ["/aws/kinesisfirehose/eks-audit", "/aws/lambda/eks-audit-alerts"] {
            assert_eq!(log_group_key(&moto, region, group).await.as_deref(), Some(arn.as_str()), "{group} in {region}");
        }
    }
    // The function's environment too: CreateFunction named the key's ARN (Lambda takes no alias).
    let created: Vec<Value> = moto
        .recorder()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.target.split('?').next() == Some("/2015-03-31/functions"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(created.len(), 2, "one function per region");
    for f in &created {
        let arn = f["KMSKeyArn"].as_str().expect("KMSKeyArn");
        assert!(arn.starts_with("arn:aws:kms:") && arn.contains(":key/"), "{arn}");
    }
    // AWS answers with the key's ARN; the plan names the alias: the same key compares equal.
    assert_in_sync(&moto, &w);
}

#[tokio::test]
async fn encrypt_log_groups_false_leaves_log_groups_to_cloudwatch_logs() {
    let moto = Moto::start();
    let spec = SPEC.replacen("[[region]]", "[bucket]\nencrypt_log_groups = false\n\n[[region]]", 1);
    let w = Workdir::with_spec(&format!("{spec}{ALERTS}"));
    apply(&moto, &w);
    let (.., policy) = key(&moto, "eu-central-1").await.expect("the pipeline's key");
    assert!(!policy.to_string().contains("LogsEncryptsLogGroups"), "{policy}");
    for group in ["/aws/kinesisfirehose/eks-audit", "/aws/lambda/eks-audit-alerts"] {
        assert_eq!(log_group_key(&moto, "eu-central-1", group).await, None, "{group}");
    }
    assert_in_sync(&moto, &w);
}

#[tokio::test]
async fn the_next_apply_associates_the_key_with_log_groups_of_ours_made_without_one_never_with_ekss() {
    let moto = Moto::start();
    // A cluster whose log group EKS made (unencrypted, as EKS makes it) before eksaudit ever ran.
    let region = "eu-central-1";
    let cluster_group = "/aws/eks/prod-1/cluster";
    moto.create_cluster(region, "prod-1", true).await;
    moto.region(region).logs.create_log_group().log_group_name(cluster_group).send().await.unwrap();
    let spec = format!("{}{ALERTS}", SPEC.replace("clusters = [\"*\"]", "clusters = [\"prod-*\"]"));
    // Ours made without the key: what a version before log-group encryption left, here by opting out.
    let unencrypted =
        Workdir::with_spec(&spec.replacen("[[region]]", "[bucket]\nencrypt_log_groups = false\n\n[[region]]", 1));
    apply(&moto, &unencrypted);
    let ours = ["/aws/kinesisfirehose/eks-audit", "/aws/lambda/eks-audit-alerts"];
    for group in ours {
        assert_eq!(log_group_key(&moto, region, group).await, None, "{group}");
    }

    let w = Workdir::with_spec(&spec);
    let plan = run(&moto, &w, &["plan", "--json"]).json();
    let mut changed: Vec<&str> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["changes"].as_array().is_some_and(|c| c.iter().any(|c| c["field"] == "kms_key_id")))
        .filter(|r| r["region"] == region)
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [format!("region.{region}.alerts_log_group"), format!("region.{region}.firehose_log_group")],
        "{plan:#}"
    );
    moto.recorder().reset();
    apply(&moto, &w);
    // One association per log group of ours and region, none for EKS's group, which is created never again.
    assert_eq!(moto.recorder().count("AssociateKmsKey"), 4, "{:?}", moto.recorder().writes());
    assert_eq!(moto.recorder().count("CreateLogGroup"), 0, "{:?}", moto.recorder().writes());
    // The key each association named (moto has no AssociateKmsKey: the recorder answers it, so what eksaudit
    // asked for is read off the requests).
    let (id, ..) = key(&moto, region).await.expect("the pipeline's key");
    let arn = format!("arn:aws:kms:{region}:{ACCOUNT}:key/{id}");
    let mut associated: Vec<(String, String)> = moto
        .recorder()
        .requests()
        .iter()
        .filter(|r| r.header("x-amz-target").is_some_and(|t| t.ends_with(".AssociateKmsKey")))
        .filter(|r| signing_region(r) == region)
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .map(|v| (v["logGroupName"].as_str().unwrap().to_string(), v["kmsKeyId"].as_str().unwrap().to_string()))
        .collect();
    associated.sort();
    // Exactly ours: EKS's log group stays as EKS made it.
    assert_eq!(associated, ours.map(|g| (g.to_string(), arn.clone())), "not {cluster_group}");
    assert_in_sync(&moto, &w);
}

/// `scripts/security-scan`'s kept report (`scripts/security-scan.out`) and the README's table of checks that do
/// not fit: both pipelines were scanned (the two-region one with `[alerts]` and the Sentinel one), each found
/// nothing unexpected, every check that failed on them is one the README's table explains, and every check in the
/// table still fails somewhere (so the table cannot rot). A regenerated report that breaks this fails here.
#[test]
fn the_security_scan_report_covers_both_pipelines_and_every_failure_is_in_the_readme_table() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let report = std::fs::read_to_string(root.join("scripts/security-scan.out")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let table = readme.split("Checks that do not fit an audit-log pipeline").nth(1).expect("the README's table");
    let table: Vec<&str> =
        table.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).collect();
    let explained: std::collections::BTreeSet<&str> =
        table.iter().skip(2).filter_map(|row| row.split('`').nth(1)).collect();
    assert!(explained.len() >= 9, "{table:?}");

    let pipelines: Vec<&str> = report.lines().filter(|l| l.starts_with("## pipeline ")).collect();
    assert_eq!(pipelines.len(), 2, "both pipelines scanned:\n{report}");
    for (line, name) in pipelines.iter().zip(["eks-audit", "eks-sentinel"]) {
        assert!(line.starts_with(&format!("## pipeline {name}: ")), "{line}");
        assert!(line.ends_with("failed and not expected: 0"), "{line}");
        let passed: u32 = line.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!(passed > 0, "Prowler passed checks on {name}'s resources: {line}");
    }
    let failed: Vec<&str> = report.lines().filter(|l| l.starts_with("FAIL ")).collect();
    let mut failing = std::collections::BTreeSet::new();
    for line in &failed {
        let check = line["FAIL ".len()..].split(':').next().unwrap();
        assert!(line.contains(" - expected ("), "{line}");
        assert!(explained.contains(check), "{check} failed but the README's table does not explain it: {line}");
        failing.insert(check);
    }
    let stale: Vec<&&str> = explained.iter().filter(|c| !failing.contains(**c)).collect();
    assert!(stale.is_empty(), "in the README's table but failing nowhere: {stale:?}");
    assert!(
        failed.iter().any(|l| l.contains(":function:eks-sentinel-transform")),
        "the Sentinel transform was scanned:\n{report}"
    );
}
