//! `[alerts]` against moto: apply creates the alert function (its code packaged by eksaudit), its permission for
//! CloudWatch Logs, the topic with its subscriptions and a second filter per cluster; plan is clean after and an
//! in-sync apply makes no mutating call; drift sees the alerts resources; a full log group blocks only the
//! cluster's alerts; removing `[alerts]` deletes what it made but the failed alerts in its dead-letter queue (kept
//! with the logs unless `on_destroy = "delete"`) and leaves the pipeline's filter alone; destroy removes it all; the function's dead-letter queue moves between the pipeline's key and SQS's own in place.
//! (moto cannot run the function: `lambda/alerts/test_handler.py` covers its behaviour.)

use eksaudit_test_support::{Fault, Moto};
use serde_json::Value;

use crate::support::{apply, assert_converged, run, Run, Workdir};

const REGION: &str = "eu-central-1";
const ACCOUNT: &str = "123456789012";
const FUNCTION: &str = "eks-audit-alerts";
const GROUP: &str = "/aws/eks/prod-1/cluster";

const PIPELINE: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"

[[region]]
name = "eu-central-1"
clusters = ["prod-*"]
"#;

const ALERTS: &str = r#"
[alerts]
users = ["kubernetes-admin", "arn:aws:sts::*"]
namespaces = ["kube-system", "default"]
email = ["secops@example.com"]
log_retention_days = 14
"#;

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code(), 0, "{what} failed:\n{}\n{}", run.stdout(), run.stderr());
}

/// Filter name → destination, on a log group.
async fn filters(moto: &Moto, group: &str) -> Vec<(String, String)> {
    let out = moto.region(REGION).logs.describe_subscription_filters().log_group_name(group).send().await.unwrap();
    out.subscription_filters()
        .iter()
        .map(|f| (f.filter_name().unwrap().to_string(), f.destination_arn().unwrap().to_string()))
        .collect()
}

async fn function_exists(moto: &Moto) -> bool {
    moto.region(REGION).lambda.get_function().function_name(FUNCTION).send().await.is_ok()
}

#[tokio::test]
async fn apply_creates_the_alerts_plan_is_clean_and_removing_them_keeps_the_pipeline() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    // An email and an https subscriber (a webhook), numbered in the order the spec lists them.
    let hook = "https://hooks.example.com/eks-alerts";
    let alerts = ALERTS.replace("log_retention_days", &format!("https = [\"{hook}\"]\nlog_retention_days"));
    let w = Workdir::with_spec(&format!("{PIPELINE}{alerts}"));

    let plan = run(&moto, &w, &["plan", "--json"]);
    ok(&plan, "plan");
    let doc = plan.json();
    let created: Vec<&str> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "create")
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    for address in [
        "role.alerts",
        "region.eu-central-1.alerts_topic",
        "region.eu-central-1.alerts_subscription.email-0",
        "region.eu-central-1.alerts_subscription.https-1",
        "region.eu-central-1.alerts_log_group",
        "region.eu-central-1.alerts_function",
        "region.eu-central-1.alerts_permission",
        "region.eu-central-1.cluster.prod-1.alerts_filter",
    ] {
        assert!(created.contains(&address), "{address} not planned: {created:?}");
    }
    assert!(plan.stdout().contains("second subscription filter slot"), "plan says so: {}", plan.stdout());

    apply(&moto, &w);
    let eu = moto.region(REGION);
    // The function runs the packaged handler as the alerts role, publishing to the alerts topic.
    let f = eu.lambda.get_function().function_name(FUNCTION).send().await.unwrap();
    let config = f.configuration().unwrap();
    assert_eq!(config.handler(), Some("handler.handler"));
    assert_eq!(config.role(), Some(format!("arn:aws:iam::{ACCOUNT}:role/eks-audit-alerts").as_str()));
    assert_eq!(config.code_sha256(), Some(eksaudit_plan::alerts::code_sha256().as_str()));
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:eks-audit-alerts");
    let env = config.environment().unwrap().variables().unwrap();
    assert_eq!(env.get("TOPIC_ARN"), Some(&topic));
    // CloudWatch Logs may invoke it, only for this account's EKS log groups in the region.
    let policy = eu.lambda.get_policy().function_name(FUNCTION).send().await.unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "logs.amazonaws.com");
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/eks/*/cluster:*")
    );
    assert_eq!(statement["Condition"]["StringEquals"]["AWS:SourceAccount"], ACCOUNT);
    // Two filters on the log group: the pipeline's to Firehose, the alerts' to the function.
    let mut on_group = filters(&moto, GROUP).await;
    on_group.sort();
    assert_eq!(on_group.len(), 2, "{on_group:?}");
    assert_eq!(on_group[0].0, "eks-audit");
    assert!(on_group[0].1.contains(":firehose:"), "{on_group:?}");
    assert_eq!(
        on_group[1],
        ("eks-audit-alerts".to_string(), format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"))
    );
    // The alerts topic is encrypted with the pipeline's key, whose policy lets the alerts role (only through SNS)
    // encrypt what it publishes.
    let attrs = eu.sns.get_topic_attributes().topic_arn(&topic).send().await.unwrap();
    let key_id = attrs.attributes().unwrap().get("KmsMasterKeyId").cloned();
    assert_eq!(key_id, Some(format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/eks-audit")));
    let key = eu.kms.describe_key().key_id("alias/eks-audit").send().await.unwrap().key_metadata.unwrap().key_id;
    let key = eu.kms.get_key_policy().key_id(key).policy_name("default").send().await.unwrap();
    let key_policy: Value = serde_json::from_str(key.policy().unwrap()).unwrap();
    let alerts = key_policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "AlertsFunctionPublishes");
    let alerts = alerts.unwrap_or_else(|| panic!("{key_policy:#}"));
    assert_eq!(alerts["Principal"]["AWS"], format!("arn:aws:iam::{ACCOUNT}:role/eks-audit-alerts"));
    assert_eq!(alerts["Condition"]["StringEquals"]["kms:ViaService"], format!("sns.{REGION}.amazonaws.com"));
    let subs = eu.sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
    let mut subs: Vec<(&str, &str)> =
        subs.subscriptions().iter().map(|s| (s.protocol().unwrap(), s.endpoint().unwrap())).collect();
    subs.sort();
    assert_eq!(subs, [("email", "secops@example.com"), ("https", hook)]);
    let groups =
        eu.logs.describe_log_groups().log_group_name_prefix("/aws/lambda/eks-audit-alerts").send().await.unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));

    // In sync: plan clean, apply makes no mutating call, drift clean.
    let again = run(&moto, &w, &["plan"]);
    ok(&again, "plan");
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    assert_converged(&moto, &w);
    assert_eq!(moto.recorder().count("GET /2015-03-31/functions/eks-audit-alerts"), 1, "the function is read once");
    let drift = run(&moto, &w, &["drift", "--json"]);
    assert_eq!(drift.json()["verdict"], "in_sync", "{}", drift.stdout());

    // Drift sees the alerts resources: the alerts filter deleted by hand is missing.
    eu.logs.delete_subscription_filter().log_group_name(GROUP).filter_name("eks-audit-alerts").send().await.unwrap();
    let drift = run(&moto, &w, &["drift", "--json"]);
    assert_eq!(drift.code(), 2, "{}", drift.stdout());
    let findings = drift.json()["findings"].as_array().unwrap().clone();
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "missing" && f["address"] == "region.eu-central-1.cluster.prod-1.alerts_filter"),
        "{findings:?}"
    );
    apply(&moto, &w);
    assert_eq!(filters(&moto, GROUP).await.len(), 2);

    // The pipeline's pattern changed: its filter is updated in place beside the alerts filter (CloudWatch Logs
    // allows it on a full log group; the recorder makes moto do the same).
    let narrower =
        format!("{}\n[filter]\npattern = '{{ $.stage = \"ResponseComplete\" }}'\n{ALERTS}", PIPELINE.trim_end());
    let w2 = Workdir::with_spec(&narrower);
    apply(&moto, &w2);
    let group = eu.logs.describe_subscription_filters().log_group_name(GROUP).send().await.unwrap();
    let patterns: Vec<(&str, &str)> =
        group.subscription_filters().iter().map(|f| (f.filter_name().unwrap(), f.filter_pattern().unwrap())).collect();
    assert!(patterns.contains(&("eks-audit", r#"{ $.stage = "ResponseComplete" }"#)), "{patterns:?}");
    assert_eq!(patterns.len(), 2, "{patterns:?}");
    assert_converged(&moto, &w2);
    apply(&moto, &w);

    // [alerts] removed: found through the alerts filter, everything it made goes but the failed alerts in the
    // dead-letter queue, kept with the logs as destroy keeps them; the pipeline's filter stays.
    let pipeline_filter_before = filters(&moto, GROUP).await.into_iter().find(|f| f.0 == "eks-audit").unwrap();
    let dead_letters =
        eu.sqs.get_queue_url().queue_name("eks-audit-alerts-dlq").send().await.unwrap().queue_url.unwrap();
    let failed_alert = r#"{"verb": "patch", "user": {"username": "kubernetes-admin"}}"#;
    eu.sqs.send_message().queue_url(&dead_letters).message_body(failed_alert).send().await.unwrap();
    let without = Workdir::with_spec(PIPELINE);
    let text = run(&moto, &without, &["plan"]);
    let kept = "SQS queue eks-audit-alerts-dlq and the failed alerts in it are kept with the logs";
    assert!(text.stdout().contains(kept), "{}", text.stdout());
    let plan = run(&moto, &without, &["plan", "--json"]);
    let deleted: Vec<String> = plan.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "delete")
        .map(|r| r["address"].as_str().unwrap().to_string())
        .collect();
    for address in [
        "role.alerts",
        "region.eu-central-1.alerts_function",
        "region.eu-central-1.alerts_permission",
        "region.eu-central-1.alerts_topic",
        "region.eu-central-1.cluster.prod-1.alerts_filter",
    ] {
        assert!(deleted.iter().any(|d| d == address), "{address} not deleted: {deleted:?}");
    }
    for kept in ["region.eu-central-1.alerts_log_group", "region.eu-central-1.alerts_dead_letter_queue"] {
        assert!(!deleted.iter().any(|d| d == kept), "{kept} deleted: {deleted:?}");
    }
    let notes = plan.json()["notes"].to_string();
    assert!(notes.contains("region.eu-central-1.alerts_dead_letter_queue"), "{notes}");
    apply(&moto, &without);
    assert_eq!(filters(&moto, GROUP).await, [pipeline_filter_before]);
    let messages = eu.sqs.receive_message().queue_url(&dead_letters).send().await.unwrap();
    assert_eq!(messages.messages().iter().filter_map(|m| m.body()).collect::<Vec<_>>(), [failed_alert]);
    let log_groups = eu.logs.describe_log_groups().log_group_name_prefix("/aws/lambda/eks-audit-alerts").send().await;
    assert_eq!(log_groups.unwrap().log_groups().len(), 1, "the function's log group is kept like every log group");
    assert!(!function_exists(&moto).await, "function deleted");
    assert!(eu.sns.get_topic_attributes().topic_arn(&topic).send().await.is_err(), "topic deleted");
    assert!(moto.aws().iam().get_role().role_name("eks-audit-alerts").send().await.is_err(), "role deleted");
    let clean = run(&moto, &without, &["plan"]);
    assert!(clean.stdout().contains("No changes."), "{}", clean.stdout());

    // Back on, then destroy removes everything of the alerts (and the pipeline, as always).
    apply(&moto, &w);
    let destroy = run(&moto, &w, &["destroy", "--auto-approve"]);
    ok(&destroy, "destroy");
    assert!(destroy.stdout().contains("log group /aws/lambda/eks-audit-alerts is kept"), "{}", destroy.stdout());
    assert!(filters(&moto, GROUP).await.is_empty());
    assert!(!function_exists(&moto).await, "function deleted");
    assert!(eu.sns.get_topic_attributes().topic_arn(&topic).send().await.is_err(), "topic deleted");
    moto.recorder().reset();
    ok(&run(&moto, &w, &["destroy", "--auto-approve"]), "destroy again");
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
}

#[tokio::test]
async fn a_topic_of_yours_named_by_topic_arn_is_never_changed_by_apply_removal_or_destroy() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let sns = moto.region(REGION).sns;
    let tag = aws_sdk_sns::types::Tag::builder().key("team").value("soc").build().unwrap();
    let mine = sns.create_topic().name("mine").tags(tag).send().await.unwrap().topic_arn().unwrap().to_string();
    let attributes = || async {
        let attrs = sns.get_topic_attributes().topic_arn(&mine).send().await.expect("the topic is there");
        let mut attrs = attrs.attributes().cloned().unwrap_or_default();
        // Counts SNS keeps itself, not settings.
        attrs.retain(|k, _| !k.starts_with("Subscriptions"));
        let tags = sns.list_tags_for_resource().resource_arn(&mine).send().await.unwrap();
        let tags: Vec<(String, String)> =
            tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        (attrs, tags)
    };
    let before = attributes().await;
    // No SNS write eksaudit sends names the topic (query bodies carry it URL-encoded).
    let sns_writes_on_mine = |moto: &Moto| -> Vec<String> {
        let requests = moto.recorder().requests();
        moto.recorder()
            .calls()
            .into_iter()
            .zip(requests)
            .filter(|(c, r)| c.write && crate::cli::signed_service(r) == "sns")
            .filter(|(_, r)| {
                let body = String::from_utf8_lossy(&r.body);
                body.contains("%3Amine") || body.contains(":mine")
            })
            .map(|(c, _)| c.operation)
            .collect()
    };
    let yours = format!("{PIPELINE}\n[alerts]\nusers = [\"kubernetes-admin\"]\ntopic_arn = \"{mine}\"\n");
    let w = Workdir::with_spec(&yours);
    moto.recorder().reset();
    apply(&moto, &w);
    assert!(function_exists(&moto).await, "the alert function publishes to the topic of yours");
    assert_eq!(sns_writes_on_mine(&moto), Vec::<String>::new());
    assert_eq!(attributes().await, before, "apply changed nothing of the topic");
    assert_converged(&moto, &w);

    // [alerts] removed, then back and destroyed: the topic stays as it was.
    moto.recorder().reset();
    apply(&moto, &Workdir::with_spec(PIPELINE));
    assert!(!function_exists(&moto).await, "the alert function went with [alerts]");
    apply(&moto, &w);
    ok(&run(&moto, &w, &["destroy", "--auto-approve"]), "destroy");
    assert_eq!(sns_writes_on_mine(&moto), Vec::<String>::new());
    assert_eq!(attributes().await, before, "removal and destroy left the topic as it was");
}

#[tokio::test]
async fn destroy_and_removing_alerts_keep_the_failed_alerts_with_the_logs_unless_on_destroy_deletes_them() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let sqs = moto.region(REGION).sqs;
    let dead_letters = "eks-audit-alerts-dlq";
    let url = || async { sqs.get_queue_url().queue_name(dead_letters).send().await.map(|o| o.queue_url.unwrap()) };

    // The default, on_destroy = "retain": the queue stays with the alert that failed in it, and destroy says so.
    let w = Workdir::with_spec(&format!("{PIPELINE}{ALERTS}"));
    apply(&moto, &w);
    let failed_alert = r#"{"verb": "delete", "user": {"username": "kubernetes-admin"}}"#;
    sqs.send_message().queue_url(url().await.unwrap()).message_body(failed_alert).send().await.unwrap();
    let destroy = run(&moto, &w, &["destroy", "--auto-approve"]);
    ok(&destroy, "destroy");
    let kept = format!("SQS queue {dead_letters} and the failed alerts in it are kept with the logs");
    assert!(destroy.stdout().contains(&kept), "{}", destroy.stdout());
    let deleted = "- region.eu-central-1.alerts_dead_letter_queue (";
    assert!(!destroy.stdout().contains(deleted), "{}", destroy.stdout());
    let kept_url = url().await.expect("the dead-letter queue is kept");
    let messages = sqs.receive_message().queue_url(&kept_url).send().await.unwrap();
    assert_eq!(messages.messages().iter().filter_map(|m| m.body()).collect::<Vec<_>>(), [failed_alert]);

    // on_destroy = "delete": the queue goes with the buckets, and the plan shows it deleted.
    let deleting = Workdir::with_spec(&format!("{PIPELINE}\n[bucket]\non_destroy = \"delete\"\n{ALERTS}"));
    apply(&moto, &deleting);
    let removing_alerts = Workdir::with_spec(&format!("{PIPELINE}\n[bucket]\non_destroy = \"delete\"\n"));
    let plan = run(&moto, &removing_alerts, &["plan"]);
    assert!(plan.stdout().contains(deleted), "removing [alerts] deletes the queue too: {}", plan.stdout());
    assert!(!plan.stdout().contains(&kept), "{}", plan.stdout());
    let plan = run(&moto, &deleting, &["destroy", "--auto-approve"]);
    ok(&plan, "destroy, deleting");
    assert!(!plan.stdout().contains(&kept), "{}", plan.stdout());
    assert!(plan.stdout().contains(deleted), "{}", plan.stdout());
    assert!(url().await.is_err(), "the dead-letter queue is deleted");
}

#[tokio::test]
async fn a_full_log_group_blocks_that_clusters_alerts_not_its_pipeline() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    moto.create_cluster(REGION, "prod-2", true).await;
    let eu = moto.region(REGION);
    // Someone else's filter holds one slot of prod-2's log group.
    for group in ["/aws/eks/prod-2/cluster", "elsewhere"] {
        eu.logs.create_log_group().log_group_name(group).send().await.unwrap();
    }
    eu.logs
        .put_subscription_filter()
        .log_group_name("/aws/eks/prod-2/cluster")
        .filter_name("their-siem")
        .filter_pattern("")
        .destination_arn(format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:elsewhere:*"))
        .send()
        .await
        .unwrap();
    let w = Workdir::with_spec(&format!("{PIPELINE}{ALERTS}"));
    let plan = run(&moto, &w, &["plan"]);
    ok(&plan, "plan");
    let out = plan.stdout();
    assert!(out.contains("no subscription filter slot is free on log group /aws/eks/prod-2/cluster"), "{out}");
    apply(&moto, &w);
    let mut prod2: Vec<String> = filters(&moto, "/aws/eks/prod-2/cluster").await.into_iter().map(|f| f.0).collect();
    prod2.sort();
    assert_eq!(prod2, ["eks-audit", "their-siem"], "the pipeline's filter got the slot");
    assert_eq!(filters(&moto, GROUP).await.len(), 2, "prod-1 has its alerts");
    let drift = run(&moto, &w, &["drift", "--json"]);
    let findings = drift.json()["findings"].as_array().unwrap().clone();
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "blocked" && f["address"] == "region.eu-central-1.cluster.prod-2.alerts_filter"),
        "{findings:?}"
    );
}

#[tokio::test]
async fn apply_waits_out_iam_propagation_to_lambda_and_cloudwatch_logs() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    // Lambda cannot assume the role just created, then CloudWatch Logs cannot invoke the function yet.
    moto.recorder().inject(
        Fault::error(
            "POST /2015-03-31/functions",
            400,
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        )
        .times(2),
    );
    moto.recorder().inject(
        Fault::error(
            "PutSubscriptionFilter",
            400,
            "InvalidParameterException",
            "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.",
        )
        .times(1),
    );
    let w = Workdir::with_spec(&format!("{PIPELINE}{ALERTS}"));
    apply(&moto, &w);
    assert_eq!(moto.recorder().count("POST /2015-03-31/functions"), 3, "created on the third try");
    assert!(function_exists(&moto).await);
    assert_eq!(filters(&moto, GROUP).await.len(), 2);
    let again = run(&moto, &w, &["plan"]);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
}

#[test]
fn validate_locates_every_bad_alerts_key() {
    let w = Workdir::with_spec(&format!(
        "{PIPELINE}{}",
        r#"
[alerts]
userz = ["kubernetes-admin"]
namespaces = ["kube*system"]
email = ["not-an-address"]
https = ["http://insecure.example.com"]
log_retention_days = 8
"#
    ));
    let out = w.run(None, &["validate"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 1, "{}", out.stdout());
    let text = format!("{}{}", out.stdout(), out.stderr());
    for path in
        ["alerts.userz", "alerts.namespaces[0]", "alerts.email[0]", "alerts.https[0]", "alerts.log_retention_days"]
    {
        assert!(text.contains(path), "{path} not reported:\n{text}");
    }
    assert!(text.contains("did you mean `users`?"), "{text}");

    let w = Workdir::with_spec(&format!(
        "{PIPELINE}\n[alerts]\npattern = \"{{ $.verb = \"\n users = [\"x\"]\ntopic_arn = \"arn:aws:sns:eu-central-1:123456789012:mine\"\nemail = [\"a@example.com\"]\n"
    ));
    let out = w.run(None, &["validate"]);
    out.assert_no_panic();
    assert_eq!(out.code(), 1);
    let text = format!("{}{}", out.stdout(), out.stderr());
    for path in ["alerts.pattern", "alerts.users", "alerts.topic_arn"] {
        assert!(text.contains(path), "{path} not reported:\n{text}");
    }
    // A good one is accepted.
    let w = Workdir::with_spec(&format!("{PIPELINE}{ALERTS}"));
    let out = w.run(None, &["validate"]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout(), out.stderr());
}

/// The alert function's dead-letter queue as SQS answers: (KmsMasterKeyId, SqsManagedSseEnabled), empty when absent.
async fn dead_letter_encryption(moto: &Moto) -> (String, String) {
    let attrs = moto.queue_attributes(REGION, "eks-audit-alerts-dlq").await;
    let get = |k: &str| attrs.get(k).cloned().unwrap_or_default();
    (get("KmsMasterKeyId"), get("SqsManagedSseEnabled"))
}

/// The plan's change of one field of one resource, `(action, old, new)`, from `plan --json`.
fn planned_change(plan: &Value, address: &str, field: &str) -> (String, Value, Value) {
    let resources = plan["resources"].as_array().unwrap();
    let r = resources.iter().find(|r| r["address"] == address).unwrap_or_else(|| panic!("{address}: {plan:#}"));
    let changes = r["changes"].as_array().unwrap_or_else(|| panic!("no changes on {address}: {r:#}"));
    let c = changes.iter().find(|c| c["field"] == field).unwrap_or_else(|| panic!("no {field} change: {r:#}"));
    (r["action"].as_str().unwrap().to_string(), c["old"].clone(), c["new"].clone())
}

#[tokio::test]
async fn the_dead_letter_queue_moves_between_the_pipelines_key_and_sqs_own_in_place() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let own_key = format!("{PIPELINE}{ALERTS}");
    // The opt-out (`[bucket] encryption = "sse-s3"`): no pipeline key, so the queue is under SQS's own.
    let sqs_key = own_key.replace("[[region]]", "[bucket]\nencryption = \"sse-s3\"\n\n[[region]]");
    let (w_kms, w_sqs) = (Workdir::with_spec(&own_key), Workdir::with_spec(&sqs_key));
    let address = "region.eu-central-1.alerts_dead_letter_queue";
    let alias = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/eks-audit");
    apply(&moto, &w_kms);
    assert_eq!(dead_letter_encryption(&moto).await.0, alias);

    for (w, encryption, old_key, new_key) in [
        (&w_sqs, "SSE-SQS", Value::from(alias.clone()), Value::Null),
        (&w_kms, "SSE-KMS", Value::Null, Value::from(alias.clone())),
    ] {
        let plan = run(&moto, w, &["plan", "--json"]);
        assert_eq!(plan.code(), 0, "{}\n{}", plan.stdout(), plan.stderr());
        let plan = plan.json();
        let (action, old, new) = planned_change(&plan, address, "encryption");
        let other = if encryption == "SSE-SQS" { "SSE-KMS" } else { "SSE-SQS" };
        assert_eq!((action.as_str(), old, new), ("update", Value::from(other), Value::from(encryption)), "{plan:#}");
        let (action, old, new) = planned_change(&plan, address, "kms_key");
        assert_eq!((action.as_str(), &old, &new), ("update", &old_key, &new_key), "{plan:#}");
        let text = run(&moto, w, &["plan"]);
        assert!(text.stdout().contains(&format!("~ {address}")), "an in-place update: {}", text.stdout());

        apply(&moto, w);
        let (key, sse) = dead_letter_encryption(&moto).await;
        match encryption {
            "SSE-SQS" => assert_eq!((key.as_str(), sse.as_str()), ("", "true"), "SQS's own key"),
            _ => assert_eq!((key.as_str(), sse.as_str()), (alias.as_str(), "false"), "the pipeline's key"),
        }
        let again = run(&moto, w, &["plan", "--detailed-exitcode"]);
        assert_eq!(again.code(), 0, "in sync after the move:\n{}\n{}", again.stdout(), again.stderr());
        assert_converged(&moto, w);
    }
}

#[tokio::test]
async fn the_alert_functions_key_and_dead_letter_queue_taken_off_by_hand_are_drift_and_apply_puts_them_back() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&format!("{PIPELINE}{ALERTS}"));
    apply(&moto, &w);
    // By hand, through the recording proxy: moto drops both settings, test support keeps them as Lambda does
    // (an empty KMSKeyArn and an empty TargetArn remove them).
    let config = aws_sdk_lambda::config::Builder::from(&moto.sdk_config(REGION)).endpoint_url(moto.endpoint()).build();
    let lambda = aws_sdk_lambda::Client::from_conf(config);
    lambda
        .update_function_configuration()
        .function_name(FUNCTION)
        .kms_key_arn("")
        .dead_letter_config(aws_sdk_lambda::types::DeadLetterConfig::builder().target_arn("").build())
        .send()
        .await
        .unwrap();
    let settings = || async {
        let f = lambda.get_function_configuration().function_name(FUNCTION).send().await.unwrap();
        (f.kms_key_arn().map(str::to_string), f.dead_letter_config().and_then(|d| d.target_arn()).map(str::to_string))
    };
    assert_eq!(settings().await, (None, None), "taken off");

    let drift = run(&moto, &w, &["drift", "--json", "--config-only"]);
    assert_eq!(drift.code(), 2, "{}\n{}", drift.stdout(), drift.stderr());
    let mut fields: Vec<String> = drift.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["address"] == format!("region.{REGION}.alerts_function"))
        .map(|f| f["field"].as_str().unwrap_or_default().to_string())
        .collect();
    fields.sort();
    assert_eq!(fields, ["dead_letter_target_arn", "kms_key_arn"], "{:#}", drift.json()["findings"]);
    apply(&moto, &w);
    let (key, dead_letters) = settings().await;
    assert!(key.is_some_and(|k| k.contains(":kms:")), "the environment's key is back");
    assert_eq!(dead_letters.as_deref(), Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:eks-audit-alerts-dlq").as_str()));
    assert_converged(&moto, &w);
}

#[tokio::test]
async fn subscriptions_the_spec_no_longer_lists_are_left_alone_and_go_with_the_topic() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let two =
        ALERTS.replace(r#"email = ["secops@example.com"]"#, r#"email = ["secops@example.com", "oncall@example.com"]"#);
    apply(&moto, &Workdir::with_spec(&format!("{PIPELINE}{two}")));
    let eu = moto.region(REGION);
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:eks-audit-alerts");
    let subscribers = || async {
        let subs = eu.sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
        let mut subs: Vec<String> = subs.subscriptions().iter().map(|s| s.endpoint().unwrap().to_string()).collect();
        subs.sort();
        subs
    };
    // Someone else's subscriber, made by hand.
    eu.sns.subscribe().topic_arn(&topic).protocol("email").endpoint("soc@example.com").send().await.unwrap();
    assert_eq!(subscribers().await, ["oncall@example.com", "secops@example.com", "soc@example.com"]);

    // oncall@ dropped from the spec: nothing to change, nothing unsubscribed, in sync.
    let w = Workdir::with_spec(&format!("{PIPELINE}{ALERTS}"));
    let plan = run(&moto, &w, &["plan", "--json"]).json();
    let changes: Vec<&Value> =
        plan["resources"].as_array().unwrap().iter().filter(|r| r["action"] != "no-op").collect();
    assert!(changes.is_empty(), "{changes:#?}");
    assert_converged(&moto, &w);
    assert_eq!(subscribers().await, ["oncall@example.com", "secops@example.com", "soc@example.com"]);
    let drift = run(&moto, &w, &["drift", "--config-only"]);
    assert_eq!(drift.code(), 0, "not drift either: {}", drift.stdout());

    // Destroy deletes the topic, and with it every subscription to it.
    ok(&run(&moto, &w, &["destroy", "--auto-approve"]), "destroy");
    let left = eu.sns.list_subscriptions().send().await.unwrap();
    let left: Vec<&str> = left.subscriptions().iter().filter_map(|s| s.topic_arn()).filter(|t| *t == topic).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_replaced_alert_handler_is_drift_and_apply_puts_eksaudits_code_back() {
    use eksaudit_plan::package::Code;

    let moto = Moto::start();
    moto.create_cluster(REGION, "prod-1", true).await;
    let w = Workdir::with_spec(&format!("{PIPELINE}{ALERTS}"));
    apply(&moto, &w);
    let lambda = moto.region(REGION).lambda;
    let deployed = || async {
        let f = lambda.get_function().function_name(FUNCTION).send().await.unwrap();
        f.configuration().unwrap().code_sha256().unwrap().to_string()
    };
    assert_eq!(deployed().await, Code::Alerts.code_sha256());

    // Someone uploads other code (here another valid handler: eksaudit's Sentinel transform), which publishes no
    // alert.
    let other = Code::SentinelTransform.package();
    lambda.update_function_code().function_name(FUNCTION).zip_file(other.into()).send().await.unwrap();
    assert_eq!(deployed().await, Code::SentinelTransform.code_sha256());
    moto.recorder().reset();
    let drift = run(&moto, &w, &["drift", "--json", "--config-only"]);
    assert_eq!(drift.code(), 2, "{}", drift.stderr());
    let doc = drift.json();
    let finding = doc["findings"].as_array().unwrap().iter().find(|f| f["field"] == "code_sha256");
    let finding = finding.unwrap_or_else(|| panic!("no code_sha256 finding: {doc:#}"));
    assert_eq!(finding["kind"], "changed");
    assert_eq!(finding["address"], format!("region.{REGION}.alerts_function"));
    assert_eq!(finding["expected"], Code::Alerts.code_sha256());
    assert_eq!(finding["actual"], Code::SentinelTransform.code_sha256());

    // Apply uploads eksaudit's handler again, once, and nothing else about the function changes.
    moto.recorder().reset();
    apply(&moto, &w);
    let writes = moto.recorder().writes();
    assert_eq!(writes.iter().filter(|w| w.contains("/code")).count(), 1, "{writes:?}");
    assert_eq!(deployed().await, Code::Alerts.code_sha256());
    assert_converged(&moto, &w);
}
