//! `eksaudit apply` and `destroy` against moto, each test asserting the AWS state it leaves.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use eksaudit_test_support::{Fault, Moto};

use crate::plan::{moto_stream, BUCKET_EU, SPEC};
use crate::support::{apply, assert_converged, run, Watched, Workdir};

const EVENTS: &str = include_str!("../data/eks-audit-events.jsonl");

async fn filters(moto: &Moto, region: &str, cluster: &str) -> Vec<String> {
    let out = moto
        .region(region)
        .logs
        .describe_subscription_filters()
        .log_group_name(format!("/aws/eks/{cluster}/cluster"))
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> =
        out.subscription_filters().iter().filter_map(|f| f.filter_name().map(str::to_string)).collect();
    names.sort();
    names
}

async fn role_names(moto: &Moto) -> Vec<String> {
    let out = moto.aws().iam().list_roles().send().await.unwrap();
    let mut names: Vec<String> = out.roles().iter().map(|r| r.role_name().to_string()).collect();
    names.sort();
    names
}

async fn setup(moto: &Moto) {
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    moto.create_cluster("eu-central-1", "stage-a", false).await;
    moto.create_cluster("us-east-1", "other", true).await;
    // Someone else's filter on prod-1's log group: it must survive everything eksaudit does.
    let eu = moto.region("eu-central-1");
    eu.logs.create_log_group().log_group_name("/aws/eks/prod-1/cluster").send().await.unwrap();
    let siem = moto_stream(moto, "eu-central-1", "siem").await;
    eu.logs
        .put_subscription_filter()
        .log_group_name("/aws/eks/prod-1/cluster")
        .filter_name("datadog")
        .filter_pattern("")
        .destination_arn(siem)
        .role_arn("arn:aws:iam::123456789012:role/siem")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn apply_builds_the_pipeline_in_two_regions_and_converges() {
    let moto = Moto::start();
    setup(&moto).await;
    let w = Workdir::with_spec(SPEC);
    let out = apply(&moto, &w);
    assert!(out.stderr().contains("Apply complete!"), "{}", out.stderr());

    // Audit logging was turned on where the spec allows it.
    let eu = moto.region("eu-central-1");
    let cluster = eu.eks.describe_cluster().name("stage-a").send().await.unwrap();
    let on = cluster.cluster().and_then(|c| c.logging()).is_some_and(|l| {
        l.cluster_logging().iter().any(|s| s.enabled() == Some(true) && s.types().iter().any(|t| t.as_str() == "audit"))
    });
    assert!(on, "audit logging still off on stage-a");
    // One filter of ours per selected cluster, beside the foreign one.
    assert_eq!(filters(&moto, "eu-central-1", "prod-1").await, ["datadog", "eks-audit"]);
    assert_eq!(filters(&moto, "eu-central-1", "stage-a").await, ["eks-audit"]);
    assert_eq!(filters(&moto, "us-east-1", "other").await, ["eks-audit"]);
    assert_eq!(role_names(&moto).await, ["eks-audit-cloudwatch", "eks-audit-firehose", "eks-audit-reader"]);
    for region in ["eu-central-1", "us-east-1"] {
        let c = moto.region(region);
        let stream = c.firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await.unwrap();
        assert_eq!(stream.delivery_stream_description().unwrap().delivery_stream_status().as_str(), "ACTIVE");
        let subs = c
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(format!("arn:aws:sns:{region}:123456789012:eks-audit"))
            .send()
            .await
            .unwrap();
        assert_eq!(subs.subscriptions().len(), 1, "one consumer subscription in {region}");
        let notification =
            c.s3.get_bucket_notification_configuration()
                .bucket(format!("eks-audit-123456789012-{region}"))
                .send()
                .await
                .unwrap();
        assert_eq!(notification.topic_configurations().len(), 1);
    }

    // A log event in a cluster's audit stream lands in that region's bucket, under the prefix.
    let event = EVENTS.lines().next().unwrap();
    eu.logs
        .create_log_stream()
        .log_group_name("/aws/eks/stage-a/cluster")
        .log_stream_name("kube-apiserver-audit-0123")
        .send()
        .await
        .unwrap();
    eu.logs
        .put_log_events()
        .log_group_name("/aws/eks/stage-a/cluster")
        .log_stream_name("kube-apiserver-audit-0123")
        .log_events(InputLogEvent::builder().timestamp(1_700_000_000_000).message(event).build().unwrap())
        .send()
        .await
        .unwrap();
    let objects = eu.s3.list_objects_v2().bucket(BUCKET_EU).prefix("eks-audit-logs/").send().await.unwrap();
    assert_eq!(objects.contents().len(), 1, "one delivered object");

    assert_converged(&moto, &w);
}

#[tokio::test]
async fn adding_a_region_widens_roles_in_place_and_removing_a_cluster_removes_only_its_filter() {
    let moto = Moto::start();
    setup(&moto).await;
    let eu_only = SPEC.split("\n[[region]]\nname = \"us-east-1\"").next().unwrap().to_string();
    let w = Workdir::with_spec(&eu_only);
    apply(&moto, &w);
    let trust = |doc: &str| doc.contains("us-east-1");
    let iam = moto.aws().iam().clone();
    let before = iam.get_role().role_name("eks-audit-cloudwatch").send().await.unwrap();
    let before_doc = before.role().unwrap().assume_role_policy_document().unwrap().to_string();
    assert!(!trust(&urlencoding_decode(&before_doc)));

    let w = Workdir::with_spec(SPEC);
    let plan = run(&moto, &w, &["plan", "--json"]).json();
    let cwl = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == "role.cloudwatch").unwrap();
    assert_eq!(cwl["action"], "update", "widened in place, not replaced: {cwl:#}");
    apply(&moto, &w);
    let after = iam.get_role().role_name("eks-audit-cloudwatch").send().await.unwrap();
    assert_eq!(after.role().unwrap().role_id(), before.role().unwrap().role_id(), "same role, not a new one");
    assert!(trust(&urlencoding_decode(after.role().unwrap().assume_role_policy_document().unwrap())));
    assert_eq!(role_names(&moto).await.len(), 3, "roles are never duplicated");
    let policy = iam.get_role_policy().role_name("eks-audit-cloudwatch").policy_name("eks-audit").send().await.unwrap();
    assert!(urlencoding_decode(policy.policy_document())
        .contains("arn:aws:firehose:us-east-1:123456789012:deliverystream/eks-audit"));

    // Narrow the eu selection to prod-1: stage-a's filter goes, prod-1's and the foreign one stay.
    let narrowed = SPEC.replace("clusters = [\"prod-1\", \"stage-*\"]", "clusters = [\"prod-1\"]");
    let w = Workdir::with_spec(&narrowed);
    let out = apply(&moto, &w);
    assert!(out.stdout().contains("- region.eu-central-1.cluster.stage-a.filter"), "{}", out.stdout());
    assert_eq!(filters(&moto, "eu-central-1", "stage-a").await, Vec::<String>::new());
    assert_eq!(filters(&moto, "eu-central-1", "prod-1").await, ["datadog", "eks-audit"]);
    assert_converged(&moto, &w);
}

fn urlencoding_decode(s: &str) -> String {
    eksaudit_plan::policy::parse(s).map(|v| v.to_string()).unwrap_or_else(|| s.to_string())
}

#[tokio::test]
async fn destroy_keeps_the_evidence_and_foreign_filters_and_is_idempotent() {
    let moto = Moto::start();
    setup(&moto).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let out = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains(&format!("S3 bucket {BUCKET_EU} and the logs in it are kept")), "{}", out.stdout());
    assert_eq!(role_names(&moto).await, Vec::<String>::new());
    assert_eq!(filters(&moto, "eu-central-1", "prod-1").await, ["datadog"], "the foreign filter survives");
    assert_eq!(filters(&moto, "eu-central-1", "stage-a").await, Vec::<String>::new());
    let eu = moto.region("eu-central-1");
    assert!(eu.s3.head_bucket().bucket(BUCKET_EU).send().await.is_ok(), "retained bucket is still there");
    assert!(eu.firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await.is_err());
    let topics = eu.sns.list_topics().send().await.unwrap();
    assert!(topics.topics().is_empty(), "{:?}", topics.topics());
    // The log groups stay (log data is never deleted).
    let groups = eu.logs.describe_log_groups().log_group_name_prefix("/aws/eks/stage-a").send().await.unwrap();
    assert_eq!(groups.log_groups().len(), 1);

    // A second destroy finds nothing of ours and changes nothing.
    moto.recorder().reset();
    let again = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
}

/// The pipeline applied with `[bucket] on_destroy = "delete"`, its bucket's TLS-only policy lifted so the test can
/// write to it (moto enforces the policy too, and the test's client speaks plain HTTP).
async fn applied_with_on_destroy_delete() -> (Moto, Workdir) {
    let moto = Moto::start();
    setup(&moto).await;
    let spec = SPEC.replace(
        "[[region]]\nname = \"eu-central-1\"",
        "[bucket]\non_destroy = \"delete\"\n\n[[region]]\nname = \"eu-central-1\"",
    );
    let w = Workdir::with_spec(&spec);
    apply(&moto, &w);
    moto.region("eu-central-1").s3.delete_bucket_policy().bucket(BUCKET_EU).send().await.unwrap();
    (moto, w)
}

#[tokio::test]
async fn destroy_with_on_destroy_delete_empties_every_version() {
    let (moto, w) = applied_with_on_destroy_delete().await;
    let eu = moto.region("eu-central-1");
    for body in ["one", "two", "three"] {
        eu.s3
            .put_object()
            .bucket(BUCKET_EU)
            .key("eks-audit-logs/x")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    eu.s3.delete_object().bucket(BUCKET_EU).key("eks-audit-logs/x").send().await.unwrap();
    let versions = eu.s3.list_object_versions().bucket(BUCKET_EU).send().await.unwrap();
    assert_eq!((versions.versions().len(), versions.delete_markers().len()), (3, 1));
    let out = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(eu.s3.head_bucket().bucket(BUCKET_EU).send().await.is_err(), "bucket deleted");
}

/// ListMultipartUploads answers 1,000 uploads a page; moto answers every upload at once (it ignores max-uploads and
/// the markers), so the harness emulates AWS's paging: the first answer keeps one upload and says it is truncated.
/// Moto answers the next request (after the first upload is aborted) with the rest.
fn first_upload_of_a_truncated_page(body: &str) -> String {
    let (Some(start), Some(end)) = (body.find("<Upload>"), body.find("</Upload>")) else { return body.to_string() };
    let first = &body[start..end + "</Upload>".len()];
    let key = first.split("<Key>").nth(1).and_then(|k| k.split("</Key>").next()).unwrap_or_default();
    let id = first.split("<UploadId>").nth(1).and_then(|k| k.split("</UploadId>").next()).unwrap_or_default();
    let head = body[..start].replace(
        "<IsTruncated>false</IsTruncated>",
        &format!("<IsTruncated>true</IsTruncated><NextKeyMarker>{key}</NextKeyMarker><NextUploadIdMarker>{id}</NextUploadIdMarker>"),
    );
    format!("{head}{first}</ListMultipartUploadsResult>")
}

#[tokio::test]
async fn destroy_with_on_destroy_delete_aborts_the_unfinished_uploads_of_every_page() {
    let (moto, w) = applied_with_on_destroy_delete().await;
    let eu = moto.region("eu-central-1");
    for key in ["eks-audit-logs/a", "eks-audit-logs/b", "eks-audit-logs/c"] {
        eu.s3.create_multipart_upload().bucket(BUCKET_EU).key(key).send().await.unwrap();
    }
    moto.recorder()
        .inject(Fault::rewrite(&format!("GET /{BUCKET_EU}/?uploads"), first_upload_of_a_truncated_page).times(1));
    let out = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    let listed: Vec<String> =
        moto.recorder().calls().iter().map(|c| c.operation.clone()).filter(|o| o.contains("uploads")).collect();
    assert_eq!(moto.recorder().faults_fired().values().sum::<usize>(), 1, "the first page was cut: {listed:?}");
    let aborted: Vec<String> = moto
        .recorder()
        .calls()
        .iter()
        .filter(|c| c.operation.starts_with(&format!("DELETE /{BUCKET_EU}/")) && c.operation.contains("uploadId="))
        .map(|c| c.operation.clone())
        .collect();
    assert_eq!(aborted.len(), 3, "every upload of both pages aborted: {aborted:?}");
    assert!(eu.s3.head_bucket().bucket(BUCKET_EU).send().await.is_err(), "bucket deleted");
}

/// The logs bucket's object keys and whether the region's key is still usable, as a reader of the bucket needs.
async fn bucket_keys(moto: &Moto) -> Vec<String> {
    let out = moto.region("eu-central-1").s3.list_objects_v2().bucket(BUCKET_EU).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

#[tokio::test]
async fn destroy_even_with_on_destroy_delete_leaves_what_lacks_our_owner_tag_and_the_key_of_a_bucket_it_leaves() {
    let delete = SPEC.replace(
        "[[region]]\nname = \"eu-central-1\"",
        "[bucket]\non_destroy = \"delete\"\n\n[[region]]\nname = \"eu-central-1\"",
    );
    let left_alone = |out: &str, what: &str| {
        assert!(out.contains(&format!("{what} is not managed by pipeline \"eks-audit\": left alone")), "{what}: {out}")
    };

    // Never applied: same-named resources of someone else's (a bucket with data, a role, a stream) are all left.
    let moto = Moto::start();
    setup(&moto).await;
    let eu = moto.region("eu-central-1");
    eu.s3
        .create_bucket()
        .bucket(BUCKET_EU)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuCentral1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    eu.s3.put_object().bucket(BUCKET_EU).key("theirs.json").body(b"{}".to_vec().into()).send().await.unwrap();
    let iam = moto.aws().iam().clone();
    iam.create_role().role_name("eks-audit-reader").assume_role_policy_document("{}").send().await.unwrap();
    moto_stream(&moto, "eu-central-1", "eks-audit").await;
    let w = Workdir::with_spec(&delete);
    moto.recorder().reset();
    let out = run(&moto, &w, &["destroy", "--auto-approve", "-vv"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    let text = format!("{}{}", out.stdout(), out.stderr());
    for what in [
        format!("S3 bucket {BUCKET_EU}"),
        "IAM role eks-audit-reader".to_string(),
        "Firehose stream eks-audit".to_string(),
    ] {
        left_alone(&text, &what);
    }
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
    assert_eq!(bucket_keys(&moto).await, ["theirs.json"]);
    assert!(iam.get_role().role_name("eks-audit-reader").send().await.is_ok());
    assert!(eu.firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await.is_ok());

    // Applied, then the bucket handed to another owner: destroy deletes the rest of the pipeline, but not that
    // bucket, its objects or the key they are encrypted with.
    let moto = Moto::start();
    setup(&moto).await;
    let eu = moto.region("eu-central-1");
    apply(&moto, &w);
    let other_owner = aws_sdk_s3::types::Tag::builder().key("eksaudit:pipeline").value("other-team").build().unwrap();
    let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(other_owner).build().unwrap();
    eu.s3.put_bucket_tagging().bucket(BUCKET_EU).tagging(tagging).send().await.unwrap();
    // The bucket denies plain-HTTP requests (moto enforces the TLS-only policy too); lift it to write an object.
    eu.s3.delete_bucket_policy().bucket(BUCKET_EU).send().await.unwrap();
    eu.s3.put_object().bucket(BUCKET_EU).key("evidence.json").body(b"{}".to_vec().into()).send().await.unwrap();
    let out = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    left_alone(&format!("{}{}", out.stdout(), out.stderr()), &format!("S3 bucket {BUCKET_EU}"));
    assert!(out.stdout().contains("KMS key alias/eks-audit is kept: the bucket it encrypts stays"), "{}", out.stdout());
    assert_eq!(bucket_keys(&moto).await, ["evidence.json"]);
    let key = eu.kms.describe_key().key_id("alias/eks-audit").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(key.key_state, Some(aws_sdk_kms::types::KeyState::Enabled), "{key:?}");
    assert!(eu.firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await.is_err());
    assert_eq!(role_names(&moto).await, Vec::<String>::new(), "the pipeline's own roles are deleted");
    // us-east-1's bucket went; its key stays with the log groups under it, which destroy keeps.
    let us_key = moto.region("us-east-1").kms.describe_key().key_id("alias/eks-audit").send().await;
    let us_state = us_key.ok().and_then(|k| k.key_metadata).and_then(|m| m.key_state);
    assert_eq!(us_state, Some(aws_sdk_kms::types::KeyState::Enabled));
    assert!(out.stdout().contains("KMS key alias/eks-audit is kept: log group"), "{}", out.stdout());
}

#[tokio::test]
async fn apply_without_a_terminal_needs_auto_approve() {
    let moto = Moto::start();
    setup(&moto).await;
    let w = Workdir::with_spec(SPEC);
    moto.recorder().reset();
    let out = run(&moto, &w, &["apply"]);
    assert_eq!(out.code(), 1);
    assert!(out.stderr().contains("--auto-approve"), "{}", out.stderr());
    assert!(moto.recorder().writes().is_empty());
    let out = run(&moto, &w, &["destroy"]);
    assert_eq!(out.code(), 0, "nothing to destroy yet: no confirmation needed");

    // Once there is something to destroy, destroy asks the same.
    apply(&moto, &w);
    moto.recorder().reset();
    let out = run(&moto, &w, &["destroy"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    assert!(
        out.stderr().contains(
            "refusing to destroy without confirmation: standard input is not a terminal; run with --auto-approve"
        ),
        "{}",
        out.stderr()
    );
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn a_saved_plan_is_applied_as_reviewed_and_refused_once_live_aws_changed() {
    let moto = Moto::start();
    setup(&moto).await;
    let w = Workdir::with_spec(SPEC);
    let saved = run(&moto, &w, &["plan", "--out", "reviewed.plan"]);
    assert_eq!(saved.code(), 0, "{}", saved.stderr());
    assert!(saved.stderr().contains("eksaudit apply reviewed.plan"), "{}", saved.stderr());

    // Someone creates a log group the plan meant to create: the plan no longer describes live AWS.
    moto.region("eu-central-1")
        .logs
        .create_log_group()
        .log_group_name("/aws/eks/stage-a/cluster")
        .send()
        .await
        .unwrap();
    moto.recorder().reset();
    let stale = run(&moto, &w, &["apply", "reviewed.plan"]);
    assert_eq!(stale.code(), 1, "{}", stale.stderr());
    assert!(stale.stderr().contains("is stale"), "{}", stale.stderr());
    assert!(stale.stderr().contains("region.eu-central-1.cluster.stage-a.log_group"), "{}", stale.stderr());
    assert!(moto.recorder().writes().is_empty(), "a stale plan changes nothing: {:?}", moto.recorder().writes());

    // A fresh plan applies without a prompt (it was reviewed), even with no terminal.
    run(&moto, &w, &["plan", "--out", "reviewed.plan"]);
    let applied = run(&moto, &w, &["apply", "reviewed.plan"]);
    assert_eq!(applied.code(), 0, "{}\n{}", applied.stdout(), applied.stderr());
    assert_eq!(filters(&moto, "eu-central-1", "stage-a").await, ["eks-audit"]);
    // Applied once, the plan is history: live AWS is what it was meant to produce, not what it saw.
    let again = run(&moto, &w, &["apply", "reviewed.plan"]);
    assert_eq!(again.code(), 1, "{}", again.stderr());
    assert!(again.stderr().contains("live AWS changed since the plan was made"), "{}", again.stderr());

    let garbage = run(&moto, &w, &["apply", "eksaudit.toml"]);
    assert_eq!(garbage.code(), 1);
    assert!(garbage.stderr().contains("eksaudit.toml is not a saved eksaudit plan"), "{}", garbage.stderr());
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn removing_a_region_is_drift_and_apply_tears_it_down_keeping_the_logs_before_narrowing_the_roles() {
    let moto = Moto::start();
    setup(&moto).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let eu_only = SPEC.split("\n[[region]]\nname = \"us-east-1\"").next().unwrap().to_string();
    let w = Workdir::with_spec(&eu_only);

    // What the pipeline left in us-east-1 is found through its own role's trust, and is drift.
    moto.recorder().reset();
    let drift = run(&moto, &w, &["drift", "--json"]);
    assert_eq!(drift.code(), 2, "{}", drift.stderr());
    assert!(moto.recorder().writes().is_empty());
    let unmanaged: Vec<String> = drift.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "unmanaged")
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        unmanaged,
        [
            "region.us-east-1.bucket_notification",
            "region.us-east-1.cluster.other.filter",
            "region.us-east-1.stream",
            "region.us-east-1.topic"
        ]
    );

    // A teardown that fails leaves the roles as they are: the region's leftovers stay findable through their trust,
    // and the next apply finishes the job.
    let trust = || async {
        let role = moto.aws().iam().get_role().role_name("eks-audit-cloudwatch").send().await.unwrap();
        urlencoding_decode(role.role().unwrap().assume_role_policy_document().unwrap())
    };
    let denied = "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: firehose:DeleteDeliveryStream";
    moto.recorder().inject(eksaudit_test_support::Fault::error(
        "DeleteDeliveryStream",
        400,
        "AccessDeniedException",
        denied,
    ));
    let failed = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(failed.code(), 1, "{}", failed.stderr());
    assert!(failed.stderr().contains(denied), "{}", failed.stderr());
    assert!(trust().await.contains("us-east-1"), "narrowed before the region was torn down: {}", trust().await);
    moto.recorder().clear_faults();

    let out = apply(&moto, &w);
    assert!(out.stdout().contains("- region.us-east-1.stream"), "{}", out.stdout());
    let us = moto.region("us-east-1");
    assert!(us.firehose.describe_delivery_stream().delivery_stream_name("eks-audit").send().await.is_err());
    assert!(us.sns.list_topics().send().await.unwrap().topics().is_empty());
    assert_eq!(filters(&moto, "us-east-1", "other").await, Vec::<String>::new());
    // The logs stay: the bucket and the cluster's log group.
    us.s3.head_bucket().bucket("eks-audit-123456789012-us-east-1").send().await.expect("bucket kept");
    let access_logs = "eks-audit-123456789012-us-east-1-access-logs";
    us.s3.head_bucket().bucket(access_logs).send().await.expect("access-log bucket kept");
    let key = us.kms.describe_key().key_id("alias/eks-audit").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(key.key_state, Some(aws_sdk_kms::types::KeyState::Enabled), "the key stays with the logs: {key:?}");
    let groups = us.logs.describe_log_groups().log_group_name_prefix("/aws/eks/other/").send().await.unwrap();
    assert_eq!(groups.log_groups().len(), 1, "log group kept");
    // Only then are the roles narrowed to the spec's regions.
    let role = moto.aws().iam().get_role().role_name("eks-audit-cloudwatch").send().await.unwrap();
    assert!(!urlencoding_decode(role.role().unwrap().assume_role_policy_document().unwrap()).contains("us-east-1"));
    assert_converged(&moto, &w);
    assert_eq!(run(&moto, &w, &["drift"]).code(), 0);
}

/// Ctrl-C during apply, taken as Terraform takes it: the change under way finishes (the stream whose creation
/// the interrupt lands in is made, not cut off), no new change starts (that region's filters, which need the
/// stream), the summary counts what was not started, exit 1; the next apply picks up where this one stopped.
#[tokio::test]
async fn ctrl_c_lets_the_change_under_way_finish_starts_nothing_new_and_the_next_apply_resumes() {
    use std::time::Duration;

    let moto = Moto::start();
    setup(&moto).await;
    let w = Workdir::with_spec(SPEC);
    // Firehose takes a few seconds over each stream: the interrupt lands while one is being created.
    moto.recorder().inject(eksaudit_test_support::Fault::latency("CreateDeliveryStream", Duration::from_secs(3)));
    let mut apply_run = Watched::spawn(w.command(Some(&moto.endpoint()), &["apply", "--auto-approve"]));
    let region = apply_run.wait_for(|line| {
        line.trim().strip_prefix("region.").and_then(|l| l.strip_suffix(".stream: creating…")).map(str::to_string)
    });
    let (code, stdout, stderr) = apply_run.interrupt();
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("Interrupt received:"), "{stderr}");
    assert!(stderr.contains(&format!("region.{region}.stream: created")), "the stream under way finished: {stderr}");
    assert!(stderr.contains("Apply interrupted:") && stderr.contains("not started."), "{stderr}");
    assert!(stderr.contains("Run `eksaudit apply` again: it picks up where this run stopped."), "{stderr}");
    let cluster = if region == "eu-central-1" { "prod-1" } else { "other" };
    assert!(!filters(&moto, &region, cluster).await.contains(&"eks-audit".to_string()), "a filter started: {stderr}");

    moto.recorder().clear_faults();
    let again = apply(&moto, &w);
    assert!(!again.stderr().contains(&format!("region.{region}.stream: creating")), "{}", again.stderr());
    assert!(filters(&moto, &region, cluster).await.contains(&"eks-audit".to_string()), "{}", again.stderr());
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn ctrl_c_during_destroy_finishes_the_deletion_under_way_and_a_second_ctrl_c_stops_at_once() {
    use std::time::{Duration, Instant};

    let moto = Moto::start();
    setup(&moto).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    // The pipeline's streams in a region (someone else's "siem" stream in eu-central-1 stays).
    let streams = |region: &'static str| {
        let firehose = moto.region(region).firehose;
        async move {
            let names = firehose.list_delivery_streams().send().await.unwrap().delivery_stream_names().to_vec();
            names.iter().filter(|n| *n == "eks-audit").count()
        }
    };
    // Deleting a stream takes Firehose a while: the interrupt lands while one is being deleted.
    let slow = Duration::from_secs(3);
    moto.recorder().inject(eksaudit_test_support::Fault::latency("DeleteDeliveryStream", slow));
    let mut destroy = Watched::spawn(w.command(Some(&moto.endpoint()), &["destroy", "--auto-approve"]));
    let region = destroy.wait_for(|line| {
        line.trim().strip_prefix("region.").and_then(|l| l.strip_suffix(".stream: deleting…")).map(str::to_string)
    });
    let (code, _, stderr) = destroy.interrupt();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("Interrupt received:"), "{stderr}");
    assert!(stderr.contains(&format!("region.{region}.stream: deleted")), "the deletion under way finished: {stderr}");
    assert!(stderr.contains("Destroy interrupted:") && stderr.contains("not started."), "{stderr}");
    // What comes after the stream in destroy's order (the topic, the bucket's notification, the roles) was not
    // started: the roles are all there.
    let iam = moto.aws().iam().clone();
    assert!(iam.get_role().role_name("eks-audit-firehose").send().await.is_ok(), "{stderr}");

    // A second Ctrl-C does not wait for the deletion under way (a role's, the roles left to this run): the process
    // ends at once, exit 1.
    moto.recorder().inject(eksaudit_test_support::Fault::latency("DeleteRole", slow));
    let mut again = Watched::spawn(w.command(Some(&moto.endpoint()), &["destroy", "--auto-approve"]));
    again.wait_for(|line| line.trim().ends_with("role.firehose: deleting…").then_some(()));
    again.send_interrupt();
    again.wait_for(|line| line.contains("Interrupt received:").then_some(()));
    let second = Instant::now();
    let (code, _, stderr) = again.interrupt();
    assert!(second.elapsed() < slow, "waited {:?} for the deletion under way: {stderr}", second.elapsed());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("destroy stopped at once. Run `eksaudit destroy` again: it picks up where this run stopped."),
        "{stderr}"
    );
    assert!(!stderr.contains("Destroy interrupted:"), "no summary after the second Ctrl-C: {stderr}");

    // And the next destroy finishes the job.
    moto.recorder().clear_faults();
    let done = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(done.code(), 0, "{}", done.stderr());
    assert_eq!((streams("eu-central-1").await, streams("us-east-1").await), (0, 0), "{}", done.stderr());
    assert!(iam.get_role().role_name("eks-audit-firehose").send().await.is_err(), "{}", done.stderr());
}
