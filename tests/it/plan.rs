//! `eksaudit plan` against moto: what it lists, what it refuses, and that it never mutates.

use std::collections::BTreeMap;

use aws_sdk_s3::types as s3t;
use eksaudit_test_support::{Fault, Moto};
use serde_json::{json, Value};

use crate::support::Workdir;

pub const SPEC: &str = r#"
[pipeline]
name = "eks-audit"
tags = { team = "security" }

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[[region]]
name = "eu-central-1"
clusters = ["prod-1", "stage-*"]
enable_audit_logging = true

[[region]]
name = "us-east-1"
clusters = ["*"]
"#;

pub const BUCKET_EU: &str = "eks-audit-123456789012-eu-central-1";

async fn clusters(moto: &Moto) {
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    moto.create_cluster("eu-central-1", "stage-a", false).await;
    moto.create_cluster("us-east-1", "other", true).await;
}

/// Runs plan through a recorder and asserts it made no mutating call.
fn plan(moto: &Moto, w: &Workdir, args: &[&str]) -> crate::support::Run {
    let recorder = moto.recorder();
    recorder.reset();
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    let run = w.run(Some(&moto.endpoint()), &all);
    run.assert_no_panic();
    assert!(recorder.writes().is_empty(), "plan made mutating calls: {:?}", recorder.writes());
    assert!(!recorder.reads().is_empty(), "plan read nothing");
    run
}

fn actions(doc: &Value) -> BTreeMap<String, String> {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["address"].as_str().unwrap().to_string(), r["action"].as_str().unwrap().to_string()))
        .collect()
}

fn resource<'a>(doc: &'a Value, address: &str) -> &'a Value {
    doc["resources"].as_array().unwrap().iter().find(|r| r["address"] == address).unwrap_or_else(|| panic!("{address}"))
}

#[tokio::test]
async fn empty_account_lists_every_resource_to_create() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    let run = plan(&moto, &w, &["--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["account"], "123456789012");
    assert_eq!(doc["errors"], json!([]));
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for role in ["firehose", "cloudwatch", "reader"] {
        expected.insert(format!("role.{role}"), "create".into());
    }
    for region in ["eu-central-1", "us-east-1"] {
        for r in [
            "kms_key",
            "access_log_bucket",
            "bucket",
            "topic",
            "topic_subscription",
            "bucket_notification",
            "firehose_log_group",
            "stream",
        ] {
            expected.insert(format!("region.{region}.{r}"), "create".into());
        }
    }
    for (region, cluster, audit) in
        [("eu-central-1", "prod-1", "no-op"), ("eu-central-1", "stage-a", "update"), ("us-east-1", "other", "no-op")]
    {
        expected.insert(format!("region.{region}.cluster.{cluster}.audit_logging"), audit.into());
        expected.insert(format!("region.{region}.cluster.{cluster}.log_group"), "create".into());
        expected.insert(format!("region.{region}.cluster.{cluster}.filter"), "create".into());
    }
    assert_eq!(actions(&doc), expected);
    // With a KMS key and an access-log bucket per region.
    assert_eq!(doc["summary"]["create"], 25);
    assert_eq!(doc["summary"]["update"], 1);

    // The same plan for people, and --detailed-exitcode's 2 for "changes present".
    let text = plan(&moto, &w, &["--detailed-exitcode"]);
    assert_eq!(text.code(), 2, "{}", text.stderr());
    let out = text.stdout();
    assert!(out.contains("+ region.eu-central-1.bucket (S3 bucket eks-audit-123456789012-eu-central-1)"), "{out}");
    assert!(out.contains("~ audit: false → true"), "{out}");
    assert!(out.contains("Plan: 25 to create, 1 to update, 0 to replace, 0 to delete."), "{out}");
    assert!(!out.contains('\x1b'), "no colour when piped");

    // -v shows each AWS call on stderr, with its service and operation.
    let verbose = plan(&moto, &w, &["-v"]);
    assert!(verbose.stderr().contains("operation=\"ListClusters\""), "{}", verbose.stderr());
    assert!(verbose.stderr().contains("operation=\"GetRole\""), "{}", verbose.stderr());
}

/// Builds the bucket by hand through the SDK as the README's hardening describes it (values a person wrote, not
/// plan's), except the lifecycle: current versions kept `retention` days.
async fn hand_made_bucket(moto: &Moto, retention: i32) {
    let s3 = &moto.region("eu-central-1").s3;
    s3.create_bucket()
        .bucket(BUCKET_EU)
        .create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::EuCentral1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tags = hand_written_tags();
    let tag_set: Vec<s3t::Tag> =
        tags.iter().map(|(k, v)| s3t::Tag::builder().key(k).value(v).build().unwrap()).collect();
    s3.put_bucket_tagging()
        .bucket(BUCKET_EU)
        .tagging(s3t::Tagging::builder().set_tag_set(Some(tag_set)).build().unwrap())
        .send()
        .await
        .unwrap();
    s3.put_public_access_block()
        .bucket(BUCKET_EU)
        .public_access_block_configuration(
            s3t::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_ownership_controls()
        .bucket(BUCKET_EU)
        .ownership_controls(
            s3t::OwnershipControls::builder()
                .rules(
                    s3t::OwnershipControlsRule::builder()
                        .object_ownership(s3t::ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_encryption()
        .bucket(BUCKET_EU)
        .server_side_encryption_configuration(
            s3t::ServerSideEncryptionConfiguration::builder()
                .rules(
                    s3t::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            s3t::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(s3t::ServerSideEncryption::Aes256)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Nothing over plain HTTP, as a person would write it: another key order, single values unwrapped, no Sid.
    let arn = format!("arn:aws:s3:::{BUCKET_EU}");
    let rewritten = json!({"Statement": [{"Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Resource": [arn.clone(), format!("{arn}/*")], "Principal": "*", "Action": "s3:*", "Effect": "Deny"}], "Version": "2012-10-17"});
    s3.put_bucket_policy().bucket(BUCKET_EU).policy(rewritten.to_string()).send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket(BUCKET_EU)
        .versioning_configuration(
            s3t::VersioningConfiguration::builder().status(s3t::BucketVersioningStatus::Enabled).build(),
        )
        .send()
        .await
        .unwrap();
    let rule = s3t::LifecycleRule::builder()
        .id("eks-audit")
        .status(s3t::ExpirationStatus::Enabled)
        .filter(s3t::LifecycleRuleFilter::builder().prefix("").build())
        .expiration(s3t::LifecycleExpiration::builder().days(retention).build())
        .noncurrent_version_expiration(s3t::NoncurrentVersionExpiration::builder().noncurrent_days(180).build())
        .abort_incomplete_multipart_upload(
            s3t::AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET_EU)
        .lifecycle_configuration(s3t::BucketLifecycleConfiguration::builder().rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// The tags a person gives what they make for the pipeline: its owner tag and the spec's own.
fn hand_written_tags() -> BTreeMap<String, String> {
    BTreeMap::from([("eksaudit:pipeline".into(), "eks-audit".into()), ("team".into(), "security".into())])
}

/// A role made by hand through the SDK, from documents a person wrote (no Sids, single actions as strings).
async fn hand_made_role(moto: &Moto, name: &str, trust: Value, permissions: Value) {
    let iam = moto.aws().iam().clone();
    let mut create = iam.create_role().role_name(name).assume_role_policy_document(trust.to_string());
    for (k, v) in hand_written_tags() {
        create = create.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap());
    }
    create.send().await.unwrap();
    iam.put_role_policy()
        .role_name(name)
        .policy_name("eks-audit")
        .policy_document(permissions.to_string())
        .send()
        .await
        .unwrap();
}

/// The Firehose role of `SPEC` with S3-managed keys, as the README describes it: Firehose of this account may
/// assume it; it lists and writes the pipeline's buckets' prefixes and logs its delivery errors.
async fn hand_made_firehose_role(moto: &Moto) {
    let b = |r: &str| format!("arn:aws:s3:::eks-audit-123456789012-{r}");
    let errors = |r: &str| format!("arn:aws:logs:{r}:123456789012:log-group:/aws/kinesisfirehose/eks-audit:*");
    let (eu, us) = ("eu-central-1", "us-east-1");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]});
    let permissions = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
         "Resource": [b(eu), b(us)]},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
         "Resource": [format!("{}/eks-audit-logs/*", b(eu)), format!("{}/eks-audit-errors/*", b(eu)),
                      format!("{}/eks-audit-logs/*", b(us)), format!("{}/eks-audit-errors/*", b(us))]},
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": [errors(eu), errors(us)]}
    ]});
    hand_made_role(moto, "eks-audit-firehose", trust, permissions).await;
}

/// The consumer's reader role of `SPEC`: account 434813966438 with its external id; it lists and reads the
/// buckets' log prefix and subscribes to the topics.
async fn hand_made_reader_role(moto: &Moto) {
    let b = |r: &str| format!("arn:aws:s3:::eks-audit-123456789012-{r}");
    let topic = |r: &str| format!("arn:aws:sns:{r}:123456789012:eks-audit");
    let (eu, us) = ("eu-central-1", "us-east-1");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::434813966438:root"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "external-id-1"}}}]});
    let permissions = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": [b(eu), b(us)]},
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [format!("{}/eks-audit-logs/*", b(eu)), format!("{}/eks-audit-logs/*", b(us))]},
        {"Effect": "Allow", "Action": ["sns:Subscribe", "sns:GetTopicAttributes"], "Resource": [topic(eu), topic(us)]}
    ]});
    hand_made_role(moto, "eks-audit-reader", trust, permissions).await;
}

#[tokio::test]
async fn hand_made_resources_with_one_field_wrong_show_exactly_that_field() {
    let moto = Moto::start();
    clusters(&moto).await;
    // A bucket made by hand with S3-managed keys and no access logging, as the spec asks here.
    let spec =
        SPEC.replacen("[[region]]", "[bucket]\nencryption = \"sse-s3\"\naccess_logging = false\n\n[[region]]", 1);
    let w = Workdir::with_spec(&spec);
    hand_made_bucket(&moto, 30).await;
    hand_made_firehose_role(&moto).await;
    hand_made_reader_role(&moto).await;

    let run = plan(&moto, &w, &["--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    let bucket = resource(&doc, "region.eu-central-1.bucket");
    assert_eq!(bucket["action"], "update", "{bucket:#}");
    let fields: Vec<&str> =
        bucket["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["lifecycle"], "{bucket:#}");
    assert_eq!(bucket["changes"][0]["old"]["expire_current_days"], 30);
    assert_eq!(bucket["changes"][0]["new"]["expire_current_days"], 180);
    // Roles made exactly as wanted (IAM hands the documents back URL-encoded) are in sync.
    assert_eq!(resource(&doc, "role.firehose")["action"], "no-op", "{:#}", resource(&doc, "role.firehose"));
    assert_eq!(resource(&doc, "role.reader")["action"], "no-op");
    // The bucket exists, so its notification is read: ours is missing.
    assert_eq!(resource(&doc, "region.eu-central-1.bucket_notification")["action"], "create");

    let text = plan(&moto, &w, &[]).stdout();
    assert!(text.contains("~ region.eu-central-1.bucket (S3 bucket eks-audit-123456789012-eu-central-1)"), "{text}");
    assert!(text.contains("-   \"expire_current_days\": 30,"), "{text}");
    assert!(text.contains("+   \"expire_current_days\": 180,"), "{text}");
}

#[tokio::test]
async fn foreign_bucket_and_role_stop_plan_with_their_names() {
    let moto = Moto::start();
    clusters(&moto).await;
    let s3 = moto.region("eu-central-1").s3;
    s3.create_bucket()
        .bucket(BUCKET_EU)
        .create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::EuCentral1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let iam = moto.aws().iam().clone();
    iam.create_role()
        .role_name("eks-audit-reader")
        .assume_role_policy_document("{\"Statement\": []}")
        .send()
        .await
        .unwrap();
    let w = Workdir::with_spec(SPEC);
    let run = plan(&moto, &w, &[]);
    assert_eq!(run.code(), 1);
    let out = run.stdout();
    assert!(
        out.contains(&format!("S3 bucket {BUCKET_EU} exists but is not managed by pipeline \"eks-audit\"")),
        "{out}"
    );
    assert!(out.contains("IAM role eks-audit-reader exists but is not managed"), "{out}");
    assert!(out.contains("adopt = [\"region.eu-central-1.bucket\"]"), "{out}");
    assert!(out.contains("Plan refused: 2 problems"), "{out}");
    // Apply refuses the same plan before its first write, and drift calls what apply cannot fix blocked.
    moto.recorder().reset();
    let refused = w.run(Some(&moto.endpoint()), &["apply", "--auto-approve"]);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    assert!(refused.stdout().contains("Plan refused: 2 problems"), "{}", refused.stdout());
    assert!(
        refused.stderr().contains("apply refused: fix the problems above first; nothing was changed"),
        "{}",
        refused.stderr()
    );
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
    let drift = w.run(Some(&moto.endpoint()), &["drift", "--json", "--config-only"]);
    assert_eq!(drift.code(), 2, "{}", drift.stderr());
    let blocked: Vec<String> = drift.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "blocked")
        .map(|f| f["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(blocked, ["role.reader", "region.eu-central-1.bucket"], "{blocked:?}");

    // Adopting the bucket (and only it) leaves the role as the one problem.
    let adopt = SPEC.replace(
        "tags = { team = \"security\" }",
        "tags = { team = \"security\" }\nadopt = [\"region.eu-central-1.bucket\"]",
    );
    let w = Workdir::with_spec(&adopt);
    let doc = plan(&moto, &w, &["--json"]).json();
    assert_eq!(doc["errors"].as_array().unwrap().len(), 1, "{:#}", doc["errors"]);
    assert_eq!(resource(&doc, "region.eu-central-1.bucket")["action"], "update");
}

#[tokio::test]
async fn log_group_with_no_free_filter_slot_stops_plan() {
    let moto = Moto::start();
    clusters(&moto).await;
    let eu = moto.region("eu-central-1");
    let group = "/aws/eks/prod-1/cluster";
    eu.logs.create_log_group().log_group_name(group).send().await.unwrap();
    let stream = moto_stream(&moto, "eu-central-1", "siem").await;
    for name in ["datadog", "splunk"] {
        eu.logs
            .put_subscription_filter()
            .log_group_name(group)
            .filter_name(name)
            .filter_pattern("")
            .destination_arn(&stream)
            .role_arn("arn:aws:iam::123456789012:role/siem")
            .send()
            .await
            .unwrap();
    }
    let w = Workdir::with_spec(SPEC);
    let run = plan(&moto, &w, &[]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    let out = run.stdout();
    assert!(
        out.contains("log group /aws/eks/prod-1/cluster already holds 2 subscription filters (datadog, splunk)"),
        "{out}"
    );
    // The log group exists, so it is not created; the other clusters still plan normally.
    assert!(!out.contains("+ region.eu-central-1.cluster.prod-1.log_group"), "{out}");
    assert!(out.contains("+ region.eu-central-1.cluster.stage-a.filter"), "{out}");
    // Apply refuses the whole plan, the other clusters' changes too, before its first write.
    moto.recorder().reset();
    let refused = w.run(Some(&moto.endpoint()), &["apply", "--auto-approve"]);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    assert!(refused.stderr().contains("apply refused: fix the problems above first; nothing was changed"));
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
    // Once applied without that cluster, drift says what apply cannot fix: blocked, on the cluster's filter.
    let without = Workdir::with_spec(&SPEC.replace("\"prod-1\", ", ""));
    crate::support::apply(&moto, &without);
    let drift = w.run(Some(&moto.endpoint()), &["drift", "--json", "--config-only"]);
    assert_eq!(drift.code(), 2, "{}", drift.stderr());
    let findings = drift.json()["findings"].as_array().unwrap().clone();
    let on_prod: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| f["address"].as_str().is_some_and(|a| a.starts_with("region.eu-central-1.cluster.prod-1.")))
        .map(|f| (f["kind"].as_str().unwrap(), f["address"].as_str().unwrap()))
        .collect();
    assert!(on_prod.contains(&("blocked", "region.eu-central-1.cluster.prod-1.filter")), "{findings:#?}");
}

/// A Firehose stream in moto for foreign filters to point at; returns its ARN.
pub async fn moto_stream(moto: &Moto, region: &str, name: &str) -> String {
    use aws_sdk_firehose::types::{
        BufferingHints, CompressionFormat, EncryptionConfiguration, ExtendedS3DestinationConfiguration,
        NoEncryptionConfig,
    };
    let c = moto.region(region);
    let out = c
        .firehose
        .create_delivery_stream()
        .delivery_stream_name(name)
        .extended_s3_destination_configuration(
            ExtendedS3DestinationConfiguration::builder()
                .role_arn("arn:aws:iam::123456789012:role/siem")
                .bucket_arn("arn:aws:s3:::siem-bucket")
                // AWS fills these in when they are left out and its description (which the SDK requires whole)
                // always has them; moto describes only what it was given.
                .buffering_hints(BufferingHints::builder().size_in_mbs(5).interval_in_seconds(300).build())
                .compression_format(CompressionFormat::Uncompressed)
                .encryption_configuration(
                    EncryptionConfiguration::builder().no_encryption_config(NoEncryptionConfig::NoEncryption).build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    out.delivery_stream_arn().unwrap().to_string()
}

#[tokio::test]
async fn credentials_of_another_account_than_pipeline_account_id_stop_plan_and_apply_before_any_write() {
    let moto = Moto::start();
    clusters(&moto).await;
    let pinned = |account: &str| {
        SPEC.replace("name = \"eks-audit\"", &format!("name = \"eks-audit\"\naccount_id = \"{account}\""))
    };

    // moto's credentials are account 123456789012's.
    let w = Workdir::with_spec(&pinned("210987654321"));
    for command in [&["plan"][..], &["apply", "--auto-approve"], &["drift"]] {
        let recorder = moto.recorder();
        recorder.reset();
        let run = w.run(Some(&moto.endpoint()), command);
        run.assert_no_panic();
        assert_eq!(run.code(), 1, "{command:?}: {}\n{}", run.stdout(), run.stderr());
        assert!(
            run.stderr().contains(
                "the credentials belong to account 123456789012 (arn:aws:sts::123456789012:user/moto), \
                 but pipeline.account_id is 210987654321; switch credentials (--profile or AWS_PROFILE) \
                 or fix pipeline.account_id"
            ),
            "{command:?}: {}",
            run.stderr()
        );
        assert!(recorder.writes().is_empty(), "{command:?} wrote: {:?}", recorder.writes());
        assert!(run.stdout().is_empty(), "{command:?} printed a plan: {}", run.stdout());
    }

    // The caller's own account is let through.
    let w = Workdir::with_spec(&pinned("123456789012"));
    let run = plan(&moto, &w, &["--detailed-exitcode"]);
    assert_eq!(run.code(), 2, "{}\n{}", run.stdout(), run.stderr());
}

/// An AWS error with a code and no message reads as the code and its HTTP status, never as the SDK's structs.
#[tokio::test]
async fn an_aws_error_without_a_message_is_named_by_its_code() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    moto.recorder().inject(Fault::error("DescribeDeliveryStream", 400, "InvalidArgumentException", ""));
    let run = plan(&moto, &w, &[]);
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert_eq!(run.code(), 1, "{all}");
    assert!(
        all.contains(
            "firehose:DescribeDeliveryStream on eks-audit failed: InvalidArgumentException (HTTP 400, no message)"
        ),
        "{all}"
    );
    for internal in ["ErrorMetadata", "Unhandled", "source:"] {
        assert!(!all.contains(internal), "{internal} shown: {all}");
    }
}
