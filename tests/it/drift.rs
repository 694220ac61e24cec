//! `eksaudit drift` against moto: every kind of out-of-band change is reported with exit 2 and its kind, apply
//! repairs it, and the check itself never mutates anything (unless asked to publish an alert).

use std::collections::BTreeSet;

use aws_sdk_s3::types as s3t;
use eksaudit_test_support::{Fault, Moto};
use serde_json::Value;

use crate::plan::{BUCKET_EU, SPEC};
use crate::support::{apply, run, Workdir};

/// Runs `drift --json`, asserting it made no mutating call and said when it checked (RFC 3339, during the run).
fn drift(moto: &Moto, w: &Workdir) -> (i32, Value) {
    use aws_smithy_types::{date_time::Format, DateTime};
    let now = || DateTime::from(std::time::SystemTime::now()).secs();
    moto.recorder().reset();
    let started = now();
    let out = run(moto, w, &["drift", "--json"]);
    let ended = now();
    assert!(moto.recorder().writes().is_empty(), "drift mutated: {:?}", moto.recorder().writes());
    assert!(!moto.recorder().reads().is_empty());
    let doc = out.json();
    let checked_at = doc["checked_at"].as_str().unwrap_or_else(|| panic!("no checked_at: {doc:#}"));
    let at = DateTime::from_str(checked_at, Format::DateTime).unwrap_or_else(|e| panic!("{checked_at}: {e}"));
    assert!((started..=ended).contains(&at.secs()), "checked_at {checked_at} is not during the run");
    (out.code(), doc)
}

fn findings(doc: &Value) -> BTreeSet<(String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ignored"] == false)
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["path"].as_str().unwrap().to_string()))
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items.iter().map(|(k, p)| (k.to_string(), p.to_string())).collect()
}

async fn clusters(moto: &Moto) {
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    moto.create_cluster("eu-central-1", "stage-a", true).await;
    moto.create_cluster("us-east-1", "other", true).await;
}

/// A trust policy that lets any AWS principal assume the role: what a careless hand edit looks like.
const WIDE_TRUST: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

#[tokio::test]
async fn each_out_of_band_change_is_reported_with_its_kind_and_apply_repairs_it() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let (code, doc) = drift(&moto, &w);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["verdict"], "in_sync");
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["account"], "123456789012");
    assert_eq!(doc["pipeline"], "eks-audit");

    let eu = moto.region("eu-central-1");
    eu.logs
        .delete_subscription_filter()
        .log_group_name("/aws/eks/prod-1/cluster")
        .filter_name("eks-audit")
        .send()
        .await
        .unwrap();
    let topic = "arn:aws:sns:eu-central-1:123456789012:eks-audit";
    eu.sns
        .set_topic_attributes()
        .topic_arn(topic)
        .attribute_name("Policy")
        .attribute_value(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"SNS:Subscribe","Resource":"{topic}"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    // Our own rule, edited by hand (someone else's rules are kept: see `others_lifecycle_rules_...`).
    let short = s3t::LifecycleRule::builder()
        .id("eks-audit")
        .status(s3t::ExpirationStatus::Enabled)
        .filter(s3t::LifecycleRuleFilter::builder().prefix("").build())
        .expiration(s3t::LifecycleExpiration::builder().days(7).build())
        .build()
        .unwrap();
    eu.s3
        .put_bucket_lifecycle_configuration()
        .bucket(BUCKET_EU)
        .lifecycle_configuration(s3t::BucketLifecycleConfiguration::builder().rules(short).build().unwrap())
        .send()
        .await
        .unwrap();
    moto.create_cluster("eu-central-1", "stage-b", true).await;
    moto.aws()
        .iam()
        .update_assume_role_policy()
        .role_name("eks-audit-reader")
        .policy_document(WIDE_TRUST)
        .send()
        .await
        .unwrap();
    let (code, doc) = drift(&moto, &w);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(doc["verdict"], "drift");
    assert_eq!(
        findings(&doc),
        set(&[
            ("changed", "role.reader.trust_policy"),
            ("changed", "region.eu-central-1.bucket.lifecycle"),
            ("changed", "region.eu-central-1.topic.policy"),
            ("missing", "region.eu-central-1.cluster.prod-1.filter"),
            ("missing", "region.eu-central-1.cluster.stage-b.log_group"),
            ("missing", "region.eu-central-1.cluster.stage-b.filter"),
        ])
    );
    let trust = doc["findings"].as_array().unwrap().iter().find(|f| f["path"] == "role.reader.trust_policy").unwrap();
    assert_eq!(trust["actual"]["Statement"][0]["Principal"]["AWS"], "*", "{trust:#}");
    assert_eq!(trust["region"], Value::Null);
    assert_eq!(trust["expected"]["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"], "external-id-1");
    // The same in text, for a CI log: grouped per region, one summary line.
    let text = run(&moto, &w, &["drift"]);
    assert_eq!(text.code(), 2);
    let out = text.stdout();
    assert!(out.contains("\nGlobal\n") && out.contains("\nRegion eu-central-1\n"), "{out}");
    assert!(out.contains("missing     region.eu-central-1.cluster.stage-b.filter"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("Drift: ") && l.contains("3 changed")), "{out}");

    apply(&moto, &w);
    let (code, doc) = drift(&moto, &w);
    assert_eq!(code, 0, "apply repaired everything: {doc:#}");
}

/// A lifecycle rule of someone's own, filtered on `prefix` and expiring after `days` (none: a move to Glacier).
fn rule(id: &str, prefix: &str, days: Option<i32>) -> s3t::LifecycleRule {
    let rule = s3t::LifecycleRule::builder()
        .id(id)
        .status(s3t::ExpirationStatus::Enabled)
        .filter(s3t::LifecycleRuleFilter::builder().prefix(prefix).build());
    let rule = match days {
        Some(days) => rule.expiration(s3t::LifecycleExpiration::builder().days(days).build()),
        None => rule.transitions(
            s3t::Transition::builder().days(30).storage_class(s3t::TransitionStorageClass::Glacier).build(),
        ),
    };
    rule.build().unwrap()
}

async fn lifecycle_rules(moto: &Moto) -> Vec<s3t::LifecycleRule> {
    let s3 = &moto.region("eu-central-1").s3;
    s3.get_bucket_lifecycle_configuration().bucket(BUCKET_EU).send().await.unwrap().rules().to_vec()
}

/// S3 takes a bucket's lifecycle rules as one configuration: apply writes ours back beside everyone else's, and
/// those that expire the pipeline's objects before `retention_days` are drift that apply leaves to a person.
#[tokio::test]
async fn others_lifecycle_rules_survive_apply_and_those_expiring_evidence_early_are_drift() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let mut rules = lifecycle_rules(&moto).await;
    assert_eq!(rules.len(), 1, "{rules:?}");
    rules.extend([
        rule("to-glacier", "", None),
        rule("scratch", "scratch/", Some(1)),
        rule("tidy", "eks-audit-logs/", Some(30)),
    ]);
    let config = s3t::BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().unwrap();
    let s3 = &moto.region("eu-central-1").s3;
    s3.put_bucket_lifecycle_configuration().bucket(BUCKET_EU).lifecycle_configuration(config).send().await.unwrap();

    // Only "tidy" expires the pipeline's objects (under eks-audit-logs/), after 30 of the 180 days.
    let (code, doc) = drift(&moto, &w);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(findings(&doc), set(&[("blocked", "region.eu-central-1.bucket")]));
    let detail = doc["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("lifecycle rule \"tidy\" of bucket eks-audit-123456789012-eu-central-1 expires the pipeline's objects after 30 days, sooner than the 180 days"), "{detail}");

    // A longer retention rewrites our rule and keeps the three others as they were.
    let longer = Workdir::with_spec(&SPEC.replacen("[[region]]", "[bucket]\nretention_days = 400\n\n[[region]]", 1));
    let plan = run(&moto, &longer, &["plan", "--json"]).json();
    let bucket = plan["resources"].as_array().unwrap().iter().find(|r| r["address"] == "region.eu-central-1.bucket");
    assert_eq!(bucket.unwrap()["changes"][0]["field"], "lifecycle", "{plan:#}");
    apply(&moto, &longer);
    let mut after: Vec<(String, Option<i32>)> = lifecycle_rules(&moto)
        .await
        .iter()
        .map(|r| (r.id().unwrap().to_string(), r.expiration().and_then(|e| e.days())))
        .collect();
    after.sort();
    assert_eq!(
        after,
        [
            ("eks-audit".to_string(), Some(400)),
            ("scratch".to_string(), Some(1)),
            ("tidy".to_string(), Some(30)),
            ("to-glacier".to_string(), None),
        ]
    );
    let (code, doc) = drift(&moto, &longer);
    assert_eq!(code, 2, "{doc:#}");
    assert_eq!(findings(&doc), set(&[("blocked", "region.eu-central-1.bucket")]));
}

#[tokio::test]
async fn removed_team_tag_is_changed_unless_ignored_and_ignored_findings_are_counted() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    let us = moto.region("us-east-1");
    us.s3
        .put_bucket_tagging()
        .bucket("eks-audit-123456789012-us-east-1")
        .tagging(
            s3t::Tagging::builder()
                .tag_set(s3t::Tag::builder().key("eksaudit:pipeline").value("eks-audit").build().unwrap())
                .tag_set(s3t::Tag::builder().key("team").value("platform").build().unwrap())
                .tag_set(s3t::Tag::builder().key("cost-center").value("cc-1234").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (code, doc) = drift(&moto, &w);
    assert_eq!(code, 2);
    assert_eq!(findings(&doc), set(&[("changed", "region.us-east-1.bucket.tags.team")]));
    let f = &doc["findings"][0];
    assert_eq!((f["expected"].as_str(), f["actual"].as_str()), (Some("security"), Some("platform")));

    let ignoring = Workdir::with_spec(&format!("{SPEC}\n[drift]\nignore = [\"bucket.tags.team\"]\n"));
    let (code, doc) = drift(&moto, &ignoring);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["counts"]["ignored"], 1);
    assert_eq!(doc["findings"][0]["ignored"], true);
    let text = run(&moto, &ignoring, &["drift"]);
    assert!(text.stdout().contains("1 ignored"), "{}", text.stdout());

    // Apply puts the team tag back and keeps the tag of someone's own (S3 replaces a bucket's whole tag set).
    apply(&moto, &w);
    let tags = us.s3.get_bucket_tagging().bucket("eks-audit-123456789012-us-east-1").send().await.unwrap();
    let tags: BTreeSet<(&str, &str)> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    for tag in [("team", "security"), ("cost-center", "cc-1234"), ("eksaudit:pipeline", "eks-audit")] {
        assert!(tags.contains(&tag), "{tag:?} not in {tags:?}");
    }
    let (code, doc) = drift(&moto, &w);
    assert_eq!(code, 0, "{doc:#}");
}

#[tokio::test]
async fn unreadable_resources_are_not_checked_never_in_sync() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    apply(&moto, &w);
    moto.recorder().inject(Fault::error(
        "GetTopicAttributes",
        403,
        "AuthorizationError",
        "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: SNS:GetTopicAttributes",
    ));
    let (code, doc) = drift(&moto, &w);
    assert_eq!(code, 1, "cannot tell: {doc:#}");
    assert_eq!(doc["verdict"], "unknown");
    let not_checked = findings(&doc);
    assert!(not_checked.contains(&("not_checked".into(), "region.eu-central-1.topic".into())), "{not_checked:?}");
    let f = doc["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "not_checked").unwrap();
    assert!(f["detail"].as_str().unwrap().contains("not authorized"), "{f:#}");
}

#[tokio::test]
async fn notify_topic_delivers_the_summary_and_the_json_to_a_subscribed_queue() {
    let moto = Moto::start();
    clusters(&moto).await;
    let w = Workdir::with_spec(SPEC);
    let direct = moto.region("us-west-2");
    let topic =
        direct.sns.create_topic().name("eks-audit-drift").send().await.unwrap().topic_arn().unwrap().to_string();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config("us-west-2"));
    let queue = sqs.create_queue().queue_name("alerts").send().await.unwrap().queue_url().unwrap().to_string();
    let queue_arn = "arn:aws:sqs:us-west-2:123456789012:alerts";
    direct.sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
    let receive = || async {
        let out = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
        out.messages().iter().map(|m| serde_json::from_str::<Value>(m.body().unwrap()).unwrap()).collect::<Vec<_>>()
    };

    // Nothing applied yet: drift, and an alert.
    let out = run(&moto, &w, &["drift", "--notify-topic", &topic]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let messages = receive().await;
    assert_eq!(messages.len(), 1);
    let subject = messages[0]["Subject"].as_str().unwrap();
    assert!(subject.starts_with("eksaudit drift: ") && subject.contains("eks-audit in 123456789012"), "{subject}");
    let body = messages[0]["Message"].as_str().unwrap();
    assert!(body.lines().any(|l| l.starts_with("Drift: ")), "{body}");
    let json = &body[body.find("--- JSON ---\n").unwrap() + 13..];
    let doc: Value = serde_json::from_str(json).unwrap();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["verdict"], "drift");
    assert!(doc["counts"]["missing"].as_u64().unwrap() > 0);

    // In sync: silent, unless asked to say so (to resolve an open alert).
    apply(&moto, &w);
    let out = run(&moto, &w, &["drift", "--notify-topic", &topic]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(receive().await.is_empty());
    let out = run(&moto, &w, &["drift", "--notify-topic", &topic, "--notify-in-sync"]);
    assert_eq!(out.code(), 0);
    let messages = receive().await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0]["Subject"].as_str().unwrap().ends_with("is in sync"));

    // A resource it cannot read: the check cannot tell, and says so to the topic (exit 1), never silence.
    let denied = "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: SNS:GetTopicAttributes";
    moto.recorder().inject(Fault::error("GetTopicAttributes", 403, "AuthorizationError", denied));
    let out = run(&moto, &w, &["drift", "--notify-topic", &topic]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let messages = receive().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(
        messages[0]["Subject"].as_str().unwrap(),
        "eksaudit drift: eks-audit in 123456789012 could not be fully checked"
    );
    let body = messages[0]["Message"].as_str().unwrap();
    let doc: Value = serde_json::from_str(&body[body.find("--- JSON ---\n").unwrap() + 13..]).unwrap();
    assert_eq!(doc["verdict"], "unknown");
    assert!(body.contains(denied), "AWS's reason reaches the alert: {body}");

    // The check cannot run at all (the clusters cannot be listed): that too is an alert, with the reason.
    moto.recorder().clear_faults();
    let denied = "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: eks:ListClusters";
    moto.recorder().inject(Fault::error("GET /clusters", 403, "AccessDeniedException", denied));
    let out = run(&moto, &w, &["drift", "--notify-topic", &topic]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let messages = receive().await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["Subject"].as_str().unwrap(), "eksaudit drift: eks-audit could not be checked");
    let body = messages[0]["Message"].as_str().unwrap();
    assert!(body.starts_with("eksaudit drift could not run for pipeline \"eks-audit\": "), "{body}");
    assert!(body.contains(denied), "{body}");
    moto.recorder().clear_faults();

    // A malformed topic is refused before any AWS call.
    moto.recorder().reset();
    let bad = run(&moto, &w, &["drift", "--notify-topic", "arn:aws:sqs:us-west-2:123456789012:alerts"]);
    assert_eq!(bad.code(), 1);
    assert!(bad.stderr().contains("--notify-topic"), "{}", bad.stderr());
    assert!(moto.recorder().calls().is_empty());
}
