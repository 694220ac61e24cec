//! `[accounts]` against moto: an AWS Organization (moto serves Organizations, and calls made with a role's assumed
//! credentials act in the role's account), the commands fanned out over its member accounts.

use std::collections::BTreeSet;

use eksaudit_test_support::{Fault, Moto};
use serde_json::Value;

use crate::support::{run, Watched, Workdir};

/// The organization: A and B under the selected OU (B in a child OU), C there too but SUSPENDED, D in another OU
/// and listed by id but excluded.
struct Org {
    a: String,
    b: String,
    c: String,
    d: String,
    workloads: String,
}

async fn organization(moto: &Moto) -> Org {
    use aws_sdk_organizations::types::OrganizationFeatureSet;
    let org = moto.organizations();
    org.create_organization().feature_set(OrganizationFeatureSet::All).send().await.unwrap();
    let roots = org.list_roots().send().await.unwrap();
    let root = roots.roots()[0].id().unwrap().to_string();
    let ou = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            let out = org.create_organizational_unit().parent_id(parent).name(name).send().await.unwrap();
            out.organizational_unit().unwrap().id().unwrap().to_string()
        }
    };
    let workloads = ou(root.clone(), "workloads").await;
    let team = ou(workloads.clone(), "team-a").await;
    let sandbox = ou(root.clone(), "sandbox").await;
    let mut ids = Vec::new();
    for (name, parent) in [("a", &workloads), ("b", &team), ("c", &workloads), ("d", &sandbox)] {
        let out = org
            .create_account()
            .account_name(format!("member-{name}"))
            .email(format!("{name}@example.com"))
            .send()
            .await
            .unwrap();
        let id = out.create_account_status().unwrap().account_id().unwrap().to_string();
        org.move_account().account_id(&id).source_parent_id(&root).destination_parent_id(parent).send().await.unwrap();
        ids.push(id);
    }
    // moto marks a closed account SUSPENDED, as AWS does at the end of closing it.
    org.close_account().account_id(&ids[2]).send().await.unwrap();
    let [a, b, c, d]: [String; 4] = ids.try_into().unwrap();
    Org { a, b, c, d, workloads }
}

fn spec(org: &Org) -> String {
    format!(
        r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"

[accounts]
role_name = "eksaudit-member"
organizational_units = ["{ou}"]
ids = ["{d}"]
exclude = ["{d}"]
max_concurrent_accounts = 2

[[region]]
name = "eu-central-1"
clusters = ["*"]
enable_audit_logging = true

[[region]]
name = "us-east-1"
clusters = ["*"]
enable_audit_logging = true
"#,
        ou = org.workloads,
        d = org.d
    )
}

/// Clusters: A in both regions, B in eu-central-1 only, D (not selected) in eu-central-1.
async fn clusters(moto: &Moto, org: &Org) {
    moto.create_cluster_in(&org.a, "eu-central-1", "prod-a", true).await;
    moto.create_cluster_in(&org.a, "us-east-1", "prod-a-us", true).await;
    moto.create_cluster_in(&org.b, "eu-central-1", "prod-b", false).await;
    moto.create_cluster_in(&org.d, "eu-central-1", "sandbox", true).await;
}

async fn buckets(moto: &Moto, account: &str) -> Vec<String> {
    let out = moto.account(account).await.region("us-east-1").s3.list_buckets().send().await.unwrap();
    let mut names: Vec<String> = out.buckets().iter().filter_map(|b| b.name().map(String::from)).collect();
    names.sort();
    names
}

async fn streams(moto: &Moto, account: &str, region: &str) -> Vec<String> {
    let out = moto.account(account).await.region(region).firehose.list_delivery_streams().send().await.unwrap();
    out.delivery_stream_names().to_vec()
}

fn accounts_of(doc: &Value) -> Vec<(String, String)> {
    doc["accounts"]
        .as_array()
        .expect("a section per account")
        .iter()
        .map(|a| (a["account"].as_str().unwrap().to_string(), a["result"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn apply_builds_each_members_pipeline_and_drift_and_destroy_work_per_account() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let w = Workdir::with_spec(&spec(&org));

    // The selection: the OU's ACTIVE accounts, child OU included; the suspended one and the excluded one not.
    let plan = run(&moto, &w, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 2, "{}\n{}", plan.stdout(), plan.stderr());
    let doc = plan.json();
    assert_eq!(doc["format_version"], "1");
    let mut expected = vec![(org.a.clone(), "changes".to_string()), (org.b.clone(), "changes".to_string())];
    expected.sort();
    assert_eq!(accounts_of(&doc), expected);
    assert!(!plan.stdout().contains(&org.c) && !plan.stdout().contains(&org.d));
    assert!(moto.recorder().writes().is_empty(), "plan mutated: {:?}", moto.recorder().writes());

    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "apply failed:\n{}\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains(&format!("== account {} ==", org.a)), "{}", out.stdout());
    assert!(out.stderr().contains("2 accounts: 2 with changes"), "{}", out.stderr());

    // Exactly the expected pipelines: A in both regions, B only where it has a cluster, D and C nothing, the
    // management account nothing.
    let (a, b) = (&org.a, &org.b);
    assert_eq!(
        buckets(&moto, a).await,
        [
            format!("eks-audit-{a}-eu-central-1"),
            format!("eks-audit-{a}-eu-central-1-access-logs"),
            format!("eks-audit-{a}-us-east-1"),
            format!("eks-audit-{a}-us-east-1-access-logs"),
        ]
    );
    assert_eq!(
        buckets(&moto, b).await,
        [format!("eks-audit-{b}-eu-central-1"), format!("eks-audit-{b}-eu-central-1-access-logs")]
    );
    assert_eq!(streams(&moto, a, "us-east-1").await, ["eks-audit"]);
    assert!(streams(&moto, b, "us-east-1").await.is_empty(), "B has no cluster in us-east-1");
    assert!(buckets(&moto, &org.d).await.is_empty(), "the excluded account was touched");
    assert!(buckets(&moto, &org.c).await.is_empty(), "the suspended account was touched");
    assert!(buckets(&moto, eksaudit_test_support::MOTO_ACCOUNT).await.is_empty(), "the caller's account was touched");
    let filters = moto
        .account(b)
        .await
        .region("eu-central-1")
        .logs
        .describe_subscription_filters()
        .log_group_name("/aws/eks/prod-b/cluster")
        .send()
        .await
        .unwrap();
    assert_eq!(filters.subscription_filters().len(), 1);

    // outputs per account: what each account's consumer console takes, B's only where it has a pipeline.
    let outputs = run(&moto, &w, &["outputs", "--json"]);
    assert_eq!(outputs.code(), 0, "{}\n{}", outputs.stdout(), outputs.stderr());
    let doc = outputs.json();
    let report = |id: &str| {
        doc["accounts"].as_array().unwrap().iter().find(|s| s["account"] == id).unwrap()["report"].to_string()
    };
    assert!(report(a).contains(&format!("eks-audit-{a}-us-east-1")), "{}", report(a));
    assert!(report(b).contains(&format!("eks-audit-{b}-eu-central-1")), "{}", report(b));
    assert!(!report(b).contains(&format!("eks-audit-{b}-us-east-1")), "{}", report(b));

    // A second plan is empty everywhere, and says why B's us-east-1 has nothing.
    moto.recorder().reset();
    let again = run(&moto, &w, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code(), 0, "{}\n{}", again.stdout(), again.stderr());
    assert!(again.stdout().contains("2 accounts: 2 in sync"), "{}", again.stdout());
    assert!(again.stdout().contains("no clusters"), "{}", again.stdout());
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());

    // A change made in one member account is found there, and named by its account.
    untag_bucket(&moto, a).await;
    let drift = run(&moto, &w, &["drift", "--json"]);
    assert_eq!(drift.code(), 2, "{}\n{}", drift.stdout(), drift.stderr());
    let doc = drift.json();
    let results = accounts_of(&doc);
    assert!(results.contains(&(a.clone(), "changes".into())), "{results:?}");
    assert!(results.contains(&(b.clone(), "in_sync".into())), "{results:?}");
    let section = doc["accounts"].as_array().unwrap().iter().find(|s| s["account"] == a.as_str()).unwrap();
    assert_eq!(section["report"]["account"], a.as_str());
    let text = run(&moto, &w, &["drift"]);
    assert_eq!(text.code(), 2);
    assert!(text.stdout().contains(&format!("== account {a} ==")), "{}", text.stdout());
    assert!(text.stdout().contains("1 with changes"), "{}", text.stdout());

    // Destroy across accounts keeps each account's log buckets.
    let destroy = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(destroy.code(), 0, "{}\n{}", destroy.stdout(), destroy.stderr());
    assert!(buckets(&moto, a).await.contains(&format!("eks-audit-{a}-eu-central-1")));
    assert!(buckets(&moto, b).await.contains(&format!("eks-audit-{b}-eu-central-1")));
    assert!(streams(&moto, a, "eu-central-1").await.is_empty(), "A's stream survived destroy");
    assert!(streams(&moto, b, "eu-central-1").await.is_empty(), "B's stream survived destroy");
}

#[tokio::test]
async fn an_account_whose_role_cannot_be_assumed_is_not_checked_while_the_others_are_applied() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let w = Workdir::with_spec(&spec(&org));
    let message = format!(
        "User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: sts:AssumeRole on resource: \
         arn:aws:iam::{}:role/eksaudit-member",
        org.b
    );
    moto.recorder().inject(Fault::error("AssumeRole", 403, "AccessDenied", &message).matching(&org.b));
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains(&format!("== account {} ==", org.b)), "{}", out.stdout());
    assert!(
        out.stdout().contains("not checked") && out.stdout().contains("is not authorized to perform"),
        "{}",
        out.stdout()
    );
    assert!(out.stderr().contains(&format!("1 not checked ({})", org.b)), "{}", out.stderr());
    assert!(buckets(&moto, &org.a).await.contains(&format!("eks-audit-{}-eu-central-1", org.a)), "A was not applied");
    assert!(buckets(&moto, &org.b).await.is_empty(), "B was changed");

    let plan = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(plan.code(), 1);
    let section =
        plan.json()["accounts"].as_array().unwrap().iter().find(|s| s["account"] == org.b.as_str()).cloned().unwrap();
    assert_eq!(section["result"], "not_checked");
    assert!(section["message"].as_str().unwrap().contains("is not authorized to perform: sts:AssumeRole"), "{section}");

    // A scheduled drift with --notify-topic alerts that B could not be checked (not silence and exit 1 alone),
    // and, when the accounts cannot even be listed, that nothing could be.
    let (topic, sqs, queue) = drift_alerts_queue(&moto).await;
    let alerts = || async {
        let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
        let mut alerts: Vec<(String, String)> = Vec::new();
        for m in received.messages() {
            let m: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            alerts.push((m["Subject"].as_str().unwrap().to_string(), m["Message"].as_str().unwrap().to_string()));
        }
        sqs.purge_queue().queue_url(&queue).send().await.unwrap();
        alerts
    };
    let drift = run(&moto, &w, &["drift", "--notify-topic", &topic]);
    assert_eq!(drift.code(), 1, "{}\n{}", drift.stdout(), drift.stderr());
    let received = alerts().await;
    let not_checked = format!("eksaudit drift: eks-audit could not be checked in {}", org.b);
    let alert = received.iter().find(|(subject, _)| *subject == not_checked).unwrap_or_else(|| panic!("{received:#?}"));
    assert!(alert.1.contains("is not authorized to perform: sts:AssumeRole"), "{}", alert.1);
    assert!(!received.iter().any(|(subject, _)| subject.contains(&org.a)), "A is in sync: {received:#?}");

    for listing in ["ListAccounts", "ListAccountsForParent"] {
        moto.recorder().inject(Fault::error(listing, 403, "AccessDeniedException", "not the management account"));
    }
    let drift = run(&moto, &w, &["drift", "--notify-topic", &topic]);
    assert_eq!(drift.code(), 1, "{}\n{}", drift.stdout(), drift.stderr());
    let received = alerts().await;
    let subjects: Vec<&str> = received.iter().map(|(subject, _)| subject.as_str()).collect();
    assert_eq!(subjects, ["eksaudit drift: eks-audit could not be checked"], "{received:#?}");
    assert!(received[0].1.contains("eksaudit drift could not run for pipeline \"eks-audit\""), "{}", received[0].1);
}

/// The caller's drift alerts topic, with a queue subscribed to it that receives what it publishes: (topic ARN,
/// SQS client, queue URL).
async fn drift_alerts_queue(moto: &Moto) -> (String, aws_sdk_sqs::Client, String) {
    let direct = moto.region("us-west-2");
    let topic =
        direct.sns.create_topic().name("eks-audit-drift").send().await.unwrap().topic_arn().unwrap().to_string();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config("us-west-2"));
    let queue = sqs.create_queue().queue_name("alerts").send().await.unwrap().queue_url().unwrap().to_string();
    let queue_arn = format!("arn:aws:sqs:us-west-2:{}:alerts", eksaudit_test_support::MOTO_ACCOUNT);
    direct.sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
    (topic, sqs, queue)
}

/// The two selected accounts in the order apply starts them (account order): the first, then the second.
fn in_start_order(org: &Org) -> (String, String) {
    if org.a < org.b {
        (org.a.clone(), org.b.clone())
    } else {
        (org.b.clone(), org.a.clone())
    }
}

/// The spec run one account at a time (in account order, so which account runs after a failure is repeatable),
/// with `failure_tolerance`.
fn one_at_a_time(org: &Org, tolerance: u32) -> String {
    spec(org).replace(
        "max_concurrent_accounts = 2",
        &format!("max_concurrent_accounts = 1\nfailure_tolerance = {tolerance}"),
    )
}

#[tokio::test]
async fn an_account_not_checked_does_not_count_against_failure_tolerance() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let (first, second) = in_start_order(&org);
    // One account at a time, none may fail: the first cannot be entered at all (its role), which is not a failure
    // of apply there, so the second is still applied.
    let w = Workdir::with_spec(&one_at_a_time(&org, 0));
    let denied =
        format!("not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{first}:role/eksaudit-member");
    moto.recorder().inject(Fault::error("AssumeRole", 403, "AccessDenied", &denied).matching(&first));
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(err.contains(&format!("1 not checked ({first})")), "{err}");
    assert!(!err.contains("not started"), "{err}");
    assert_eq!(streams(&moto, &second, "eu-central-1").await, ["eks-audit"], "the second account was applied");
    assert!(buckets(&moto, &first).await.is_empty(), "nothing was made in the first");
}

#[tokio::test]
async fn apply_starts_no_account_once_more_than_failure_tolerance_failed() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let (first, second) = in_start_order(&org);
    // The first account's stream cannot be created (its request names the account's bucket): apply fails there.
    // (Not LimitExceededException: the SDK reads that code as throttling, and paces and retries it.)
    let refused = "Access to the KMS key arn:aws:kms:eu-central-1:111111111111:key/x was denied by its key policy.";
    moto.recorder().inject(
        Fault::error("CreateDeliveryStream", 400, "InvalidKMSResourceException", refused)
            .matching(&format!("eks-audit-{first}-eu-central-1")),
    );
    let w = Workdir::with_spec(&one_at_a_time(&org, 0));
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(err.contains(refused), "AWS's words: {err}");
    assert!(
        err.contains(&format!(
            "[{second}] not started: more accounts failed than [accounts] failure_tolerance allows (0)"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("2 accounts: 1 failed ({first}), 1 not started ({second})")), "{err}");
    assert!(streams(&moto, &first, "eu-central-1").await.is_empty(), "the fault did not fire");
    assert!(buckets(&moto, &second).await.is_empty(), "the second account was started");

    // One failure tolerated: the second account is applied, and the run still says the first failed.
    let w = Workdir::with_spec(&one_at_a_time(&org, 1));
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(err.contains(&format!("2 accounts: 1 with changes, 1 failed ({first})")), "{err}");
    assert!(!err.contains("not started"), "{err}");
    assert_eq!(streams(&moto, &second, "eu-central-1").await, ["eks-audit"]);

    // The fault gone, the first account picks up where it stopped; every account is then in sync.
    moto.recorder().clear_faults();
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    let again = run(&moto, &w, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(again.code(), 0, "{}", again.stdout());
    assert!(accounts_of(&again.json()).iter().all(|(_, result)| result == "in_sync"), "{}", again.stdout());
}

/// A metric datapoint in `account`, as AWS would publish it there (moto publishes none); through the recorder,
/// which translates CloudWatch's CBOR protocol for moto.
async fn metric_in(moto: &Moto, account: &str, region: &str, cluster: &str, name: &str, value: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let config = moto.account_config(account, region).await.into_builder().endpoint_url(moto.endpoint()).build();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut datum =
        MetricDatum::builder().metric_name(name).value(value).timestamp(aws_smithy_types::DateTime::from_millis(now));
    for (n, v) in [
        ("LogGroupName", format!("/aws/eks/{cluster}/cluster")),
        ("DestinationType", "Firehose".to_string()),
        ("FilterName", "eks-audit".to_string()),
    ] {
        datum = datum.dimensions(Dimension::builder().name(n).value(v).build());
    }
    aws_sdk_cloudwatch::Client::new(&config)
        .put_metric_data()
        .namespace("AWS/Logs")
        .metric_data(datum.build())
        .send()
        .await
        .unwrap();
}

/// An audit event in `cluster`'s `kube-apiserver-audit-x` stream of `account`, as EKS writes it.
async fn audit_event_in(moto: &Moto, account: &str, region: &str, cluster: &str) {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let logs = moto.account(account).await.region(region).logs;
    let group = format!("/aws/eks/{cluster}/cluster");
    let _ = logs.create_log_stream().log_group_name(&group).log_stream_name("kube-apiserver-audit-x").send().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = include_str!("../data/eks-audit-events.jsonl").lines().next().unwrap();
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("kube-apiserver-audit-x")
        .log_events(InputLogEvent::builder().timestamp(now).message(event).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// A change by hand in a member account: its bucket's tags removed.
async fn untag_bucket(moto: &Moto, account: &str) {
    let s3 = moto.account(account).await.region("eu-central-1").s3;
    s3.delete_bucket_tagging().bucket(format!("eks-audit-{account}-eu-central-1")).send().await.unwrap();
}

#[tokio::test]
async fn a_saved_plan_applies_in_every_account_and_status_and_drift_alerts_are_per_account() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let w = Workdir::with_spec(&spec(&org));
    let (a, b) = (org.a.clone(), org.b.clone());

    // apply FILE: exactly the saved plan in each account, no question asked (it was reviewed when saved).
    let saved = run(&moto, &w, &["plan", "--out", "org.plan", "--detailed-exitcode"]);
    assert_eq!(saved.code(), 2, "{}\n{}", saved.stdout(), saved.stderr());
    assert!(moto.recorder().writes().is_empty(), "plan --out mutated: {:?}", moto.recorder().writes());
    let applied = run(&moto, &w, &["apply", "org.plan"]);
    assert_eq!(applied.code(), 0, "{}\n{}", applied.stdout(), applied.stderr());
    assert!(applied.stderr().contains("2 accounts: 2 with changes"), "{}", applied.stderr());
    assert_eq!(streams(&moto, &a, "eu-central-1").await, ["eks-audit"]);
    assert_eq!(streams(&moto, &a, "us-east-1").await, ["eks-audit"]);
    assert_eq!(streams(&moto, &b, "eu-central-1").await, ["eks-audit"]);
    assert!(streams(&moto, &b, "us-east-1").await.is_empty(), "B has no cluster in us-east-1");
    moto.recorder().reset();
    let again = run(&moto, &w, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code(), 0, "{}\n{}", again.stdout(), again.stderr());
    assert!(again.stdout().contains("2 accounts: 2 in sync"), "{}", again.stdout());
    // And the saved plan, carried out, is stale now: the accounts' plans changed.
    let stale = run(&moto, &w, &["apply", "org.plan"]);
    assert_eq!(stale.code(), 1, "{}", stale.stderr());
    assert!(stale.stderr().contains("is stale and was not applied"), "{}", stale.stderr());
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());

    // status: a section per account; B's us-east-1, without clusters, is "no clusters", not a broken chain; A's
    // eu-central-1 delivers what its own cluster forwards (read in A: the metric is in A only).
    audit_event_in(&moto, &a, "eu-central-1", "prod-a").await;
    metric_in(&moto, &a, "eu-central-1", "prod-a", "ForwardedLogEvents", 1.0).await;
    moto.recorder().reset();
    let status = run(&moto, &w, &["status", "--json"]);
    assert_eq!(status.code(), 0, "{}\n{}", status.stdout(), status.stderr());
    assert!(moto.recorder().writes().is_empty(), "status mutated: {:?}", moto.recorder().writes());
    let doc = status.json();
    assert_eq!(doc["command"], "status");
    let section = |id: &str| doc["accounts"].as_array().unwrap().iter().find(|s| s["account"] == id).unwrap().clone();
    let (sa, sb) = (section(&a), section(&b));
    assert_eq!((sa["result"].as_str(), sb["result"].as_str()), (Some("in_sync"), Some("in_sync")), "{doc:#}");
    let regions = |s: &Value| -> Vec<(String, String)> {
        s["report"]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["region"].as_str().unwrap().to_string(), r["verdict"].as_str().unwrap().to_string()))
            .collect()
    };
    assert_eq!(
        regions(&sa),
        [("eu-central-1".to_string(), "delivering".to_string()), ("us-east-1".to_string(), "idle".to_string())],
        "{sa:#}"
    );
    assert_eq!(regions(&sb), [("eu-central-1".to_string(), "idle".to_string())], "{sb:#}");
    assert_eq!(sb["report"]["no_clusters"], serde_json::json!(["us-east-1"]), "{sb:#}");
    assert!(sa["report"].get("no_clusters").is_none(), "{sa:#}");
    let text = run(&moto, &w, &["status"]);
    assert_eq!(text.code(), 0, "{}", text.stderr());
    let out = text.stdout();
    let b_section = &out[out.find(&format!("== account {b} ==")).unwrap()..];
    assert!(b_section.contains("Region us-east-1: no clusters"), "{out}");
    assert!(out.contains(&format!("== account {a} ==")) && out.contains("Region eu-central-1: delivering"), "{out}");
    assert!(out.contains("2 accounts: 2 in sync"), "{out}");

    // drift --notify-topic: the alert goes to the caller's topic, one for the account that drifted, naming it.
    let (topic, sqs, queue) = drift_alerts_queue(&moto).await;
    untag_bucket(&moto, &b).await;
    let drift = run(&moto, &w, &["drift", "--notify-topic", &topic]);
    assert_eq!(drift.code(), 2, "{}\n{}", drift.stdout(), drift.stderr());
    let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
    let messages: Vec<Value> =
        received.messages().iter().map(|m| serde_json::from_str(m.body().unwrap()).unwrap()).collect();
    assert_eq!(messages.len(), 1, "one alert, for the account that drifted: {messages:#?}");
    let subject = messages[0]["Subject"].as_str().unwrap();
    assert!(subject.starts_with("eksaudit drift: ") && subject.ends_with(&format!("eks-audit in {b}")), "{subject}");
    let body = messages[0]["Message"].as_str().unwrap();
    let json: Value = serde_json::from_str(&body[body.find("--- JSON ---\n").unwrap() + 13..]).unwrap();
    assert_eq!(json["account"], b.as_str());
    assert_eq!(json["verdict"], "drift");
    assert!(!body.contains(&a), "the alert is B's alone: {body}");
}

#[tokio::test]
async fn the_management_account_without_the_member_role_is_not_checked_with_the_fix() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    let management = eksaudit_test_support::MOTO_ACCOUNT;
    let spec = spec(&org).replace(&format!("exclude = [\"{}\"]", org.d), "organization = true");
    let w = Workdir::with_spec(&spec);
    // What AWS answers where service-managed StackSets put no role: AssumeRole of a role that does not exist is
    // AccessDenied. moto assumes any role, so the proxy answers as AWS would, for the management account only.
    let message = format!(
        "User: arn:aws:iam::{management}:user/ci is not authorized to perform: sts:AssumeRole on resource: \
         arn:aws:iam::{management}:role/eksaudit-member"
    );
    moto.recorder().inject(Fault::error("AssumeRole", 403, "AccessDenied", &message).matching(management));
    let plan = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(plan.code(), 1, "{}\n{}", plan.stdout(), plan.stderr());
    let doc = plan.json();
    let results = accounts_of(&doc);
    assert!(results.contains(&(management.to_string(), "not_checked".to_string())), "{results:?}");
    assert!(results.contains(&(org.a.clone(), "changes".to_string())), "the others go on: {results:?}");
    let section = doc["accounts"].as_array().unwrap().iter().find(|s| s["account"] == management).unwrap();
    let text = section["message"].as_str().unwrap();
    assert!(text.contains("is not authorized to perform: sts:AssumeRole"), "AWS's words: {text}");
    assert!(text.contains("is the organization's management account"), "{text}");
    assert!(text.contains("eksaudit policy --for member-role") && text.contains("[accounts] exclude"), "{text}");
    // A member account whose role is missing gets AWS's words, not the management account's advice.
    moto.recorder().clear_faults();
    moto.recorder().inject(Fault::error("AssumeRole", 403, "AccessDenied", "not authorized").matching(&org.a));
    let doc = run(&moto, &w, &["plan", "--json"]).json();
    let section = doc["accounts"].as_array().unwrap().iter().find(|s| s["account"] == org.a.as_str()).unwrap();
    assert_eq!(section["result"], "not_checked");
    assert!(!section["message"].as_str().unwrap().contains("management account"), "{section}");

    // Excluded, it is not selected at all.
    let excluded = spec.replace("organization = true", &format!("organization = true\nexclude = [\"{management}\"]"));
    let w = Workdir::with_spec(&excluded);
    let doc = run(&moto, &w, &["plan", "--json"]).json();
    assert!(!accounts_of(&doc).iter().any(|(id, _)| id == management), "{doc:#}");
}

#[tokio::test]
async fn shards_partition_the_member_accounts_exactly() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    // Every account of the organization: A, B, D (C is suspended), and the management account itself.
    let spec = spec(&org).replace(&format!("exclude = [\"{}\"]", org.d), "organization = true");
    let w = Workdir::with_spec(&spec);
    let all = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(all.code(), 0, "{}", all.stderr());
    let all: BTreeSet<String> = accounts_of(&all.json()).into_iter().map(|(id, _)| id).collect();
    let expected: BTreeSet<String> =
        [org.a.clone(), org.b.clone(), org.d.clone(), eksaudit_test_support::MOTO_ACCOUNT.to_string()].into();
    assert_eq!(all, expected);
    let mut seen = BTreeSet::new();
    for k in 1..=3 {
        let shard = run(&moto, &w, &["plan", "--json", "--shard", &format!("{k}/3")]);
        assert_eq!(shard.code(), 0, "{}", shard.stderr());
        for (id, _) in accounts_of(&shard.json()) {
            assert!(seen.insert(id.clone()), "{id} is in two shards");
        }
    }
    assert_eq!(seen, all, "the shards together are every account");
    // The Indexed Job form: JOB_COMPLETION_INDEX (0-based) and the shard count, no shell.
    let indexed = w.run_env(
        Some(&moto.endpoint()),
        &["plan", "--json"],
        &[("JOB_COMPLETION_INDEX", "0"), ("EKSAUDIT_SHARD_COUNT", "3")],
    );
    let first = run(&moto, &w, &["plan", "--json", "--shard", "1/3"]);
    assert_eq!(accounts_of(&indexed.json()), accounts_of(&first.json()));

    let bad = run(&moto, &w, &["plan", "--shard", "4/3"]);
    assert_eq!(bad.code(), 1);
    assert!(bad.stderr().contains("K/N"), "{}", bad.stderr());
    let single = Workdir::with_spec(crate::plan::SPEC);
    let refused = run(&moto, &single, &["plan", "--shard", "1/2"]);
    assert_eq!(refused.code(), 1);
    assert!(refused.stderr().contains("[accounts]"), "{}", refused.stderr());
}

/// The spec of `[accounts]` with a fixed member role and external id, for the offline policy tests.
fn member_spec() -> String {
    format!(
        "{}\n[accounts]\nrole_name = \"eksaudit-member\"\nexternal_id = \"org-audit\"\norganizational_units = \
         [\"ou-ab12-cdefgh34\"]\n",
        crate::plan::SPEC
    )
}

fn actions(policy: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for st in policy["Statement"].as_array().expect("statements") {
        match &st["Action"] {
            Value::String(a) => {
                out.insert(a.clone());
            }
            Value::Array(list) => out.extend(list.iter().filter_map(|a| a.as_str().map(String::from))),
            _ => {}
        }
    }
    out
}

#[test]
fn the_member_role_trusts_the_caller_and_allows_what_each_command_needs_in_a_member_account() {
    let w = Workdir::with_spec(&member_spec());
    let caller = "arn:aws:sts::111111111111:assumed-role/ci/run-1";
    let run = w.run(None, &["policy", "--for", "member-role", "--principal", caller]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let role = run.json();
    assert_eq!(role["RoleName"], "eksaudit-member");
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    // An assumed role's session is trusted as its role, with the spec's external id.
    assert_eq!(trust["Principal"]["AWS"], "arn:aws:iam::111111111111:role/ci");
    assert_eq!(trust["Action"], "sts:AssumeRole");
    assert_eq!(trust["Condition"]["StringEquals"]["sts:ExternalId"], "org-audit");
    // Exactly the actions the single-account operator policies of the same pipeline grant, and unique Sids.
    let single = Workdir::with_spec(crate::plan::SPEC);
    let mut expected = BTreeSet::new();
    for command in ["plan", "apply", "destroy", "drift", "status"] {
        let out = single.run(None, &["policy", "--for", command, "--json"]);
        assert_eq!(out.code(), 0, "{}", out.stderr());
        expected.extend(actions(&out.json()));
    }
    assert_eq!(actions(&role["PolicyDocument"]), expected);
    let sids: Vec<&str> =
        role["PolicyDocument"]["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids.iter().collect::<BTreeSet<_>>().len(), sids.len(), "Sids repeat: {sids:?}");
    // A drift-only role writes nothing.
    let drift = w.run(None, &["policy", "--for", "member-role", "--principal", caller, "--commands", "drift,plan"]);
    assert_eq!(drift.code(), 0, "{}", drift.stderr());
    let drift_actions = actions(&drift.json()["PolicyDocument"]);
    assert!(drift_actions.contains("s3:GetBucketPolicy"), "{drift_actions:?}");
    assert!(
        !drift_actions.iter().any(|a| a.contains("Create") || a.contains("Put") || a.contains("Delete")),
        "{drift_actions:?}"
    );

    // The caller itself only lists the member accounts and assumes their role.
    let caller_policy = w.run(None, &["policy", "--for", "apply", "--json"]).json();
    assert_eq!(
        actions(&caller_policy),
        [
            "organizations:ListAccounts",
            "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent",
            "sts:AssumeRole",
            "sts:GetCallerIdentity"
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>()
    );
    assert!(caller_policy.to_string().contains("arn:aws:iam::*:role/eksaudit-member"), "{caller_policy}");

    // Refused without [accounts], and a principal that is no principal.
    let none = single.run(None, &["policy", "--for", "member-role", "--principal", caller]);
    assert_eq!(none.code(), 1);
    assert!(none.stderr().contains("[accounts]"), "{}", none.stderr());
    let bad = w.run(None, &["policy", "--for", "member-role", "--principal", "arn:aws:s3:::bucket"]);
    assert_eq!(bad.code(), 1);
    assert!(bad.stderr().contains("--principal"), "{}", bad.stderr());
}

/// cfn-lint from `.venv-cfn-lint` (`scripts/install-cfn-lint.sh`); panics with the fix when it is not installed.
fn cfn_lint() -> std::process::Command {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv =
        std::env::var_os("EKSAUDIT_CFN_LINT_VENV").map(std::path::PathBuf::from).unwrap_or(root.join(".venv-cfn-lint"));
    let bin = venv.join("bin/cfn-lint");
    assert!(bin.exists(), "{} not found: run scripts/install-cfn-lint.sh", bin.display());
    std::process::Command::new(bin)
}

/// `policy --for member-role --format cloudformation` with `extra` arguments: the run and its template.
fn member_role_template(w: &Workdir, extra: &[&str]) -> (crate::support::Run, Value) {
    let principal = "arn:aws:iam::111111111111:role/ci";
    let mut args = vec!["policy", "--for", "member-role", "--principal", principal, "--format", "cloudformation"];
    args.extend(extra);
    let run = w.run(None, &args);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let template = run.json();
    (run, template)
}

/// Writes a template into the work directory and asserts cfn-lint finds nothing in it.
fn assert_clean_under_cfn_lint(w: &Workdir, template: &str) {
    let file = w.path().join("member-role.json");
    std::fs::write(&file, template).unwrap();
    let out = cfn_lint().arg(&file).output().expect("run cfn-lint");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cfn-lint found problems:\n{text}");
}

#[test]
fn the_member_role_stackset_template_is_clean_under_cfn_lint() {
    let w = Workdir::with_spec(&member_spec());
    let (run, template) = member_role_template(&w, &[]);
    let role = &template["Resources"]["MemberRole"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    assert_eq!(role["Properties"]["RoleName"], "eksaudit-member");
    // Within IAM's limit for a role's inline policies: the policy is the role's own, no managed policy.
    assert!(role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].is_array(), "{role}");
    assert_eq!(template["Resources"].as_object().unwrap().len(), 1, "{}", template["Resources"]);
    assert!(run.stderr().is_empty(), "{}", run.stderr());
    assert!(template["Description"].as_str().unwrap().contains("SERVICE_MANAGED"));
    assert_clean_under_cfn_lint(&w, &run.stdout());
    // And cfn-lint is really checking: a template with a typo in a property fails.
    let broken = run.stdout().replace("\"RoleName\"", "\"RoleNmae\"");
    let bad = w.path().join("broken.json");
    std::fs::write(&bad, broken).unwrap();
    let out = cfn_lint().arg(&bad).output().expect("run cfn-lint");
    assert!(!out.status.success(), "cfn-lint accepted a misspelt property");
}

/// With `[alerts]` the member role's policy is past what IAM takes inline in a role (apply's alone is): the
/// template attaches it as managed policies instead, each within IAM's 6,144 characters, together every statement
/// of the role's policy once, and still clean under cfn-lint. The IAM JSON form says where to turn.
#[test]
fn a_member_role_policy_too_large_to_be_inline_is_attached_as_managed_policies() {
    let w = Workdir::with_spec(&format!("{}\n[alerts]\nusers = [\"kubernetes-admin\"]\n", member_spec()));
    let principal = "arn:aws:iam::111111111111:role/ci";
    let json = w.run(None, &["policy", "--for", "member-role", "--principal", principal]);
    assert_eq!(json.code(), 0, "{}", json.stderr());
    let document = json.json()["PolicyDocument"].clone();
    let size = document.to_string().len();
    assert!(size > 10_240, "the case this is for: {size} characters");
    assert!(json.stderr().contains("`--format cloudformation` attaches it as managed policies"), "{}", json.stderr());

    let (run, template) = member_role_template(&w, &["--commands", "apply"]);
    let resources = template["Resources"].as_object().unwrap();
    assert!(resources["MemberRole"]["Properties"].get("Policies").is_none(), "no inline policy past the limit");
    let managed: Vec<&Value> = resources.values().filter(|r| r["Type"] == "AWS::IAM::ManagedPolicy").collect();
    assert!(managed.len() >= 2, "{}", managed.len());
    assert!(
        run.stderr().contains(&format!("the template attaches it as {} managed policies", managed.len())),
        "{}",
        run.stderr()
    );
    let mut statements = Vec::new();
    for policy in &managed {
        assert_eq!(policy["Properties"]["Roles"], serde_json::json!([{"Ref": "MemberRole"}]));
        let part = &policy["Properties"]["PolicyDocument"];
        let counted = serde_json::to_string_pretty(part).unwrap().chars().filter(|c| !c.is_whitespace()).count();
        assert!(counted <= 6_144, "{counted} characters");
        statements.extend(part["Statement"].as_array().unwrap().iter().map(Value::to_string));
    }
    let apply_only = w.run(None, &["policy", "--for", "member-role", "--principal", principal, "--commands", "apply"]);
    let mut expected: Vec<String> =
        apply_only.json()["PolicyDocument"]["Statement"].as_array().unwrap().iter().map(Value::to_string).collect();
    expected.sort();
    statements.sort();
    assert_eq!(statements, expected, "every statement of the role's policy once");
    assert_clean_under_cfn_lint(&w, &run.stdout());
}

/// Ctrl-C while the first of two accounts is applied one at a time: that account's change under way finishes and
/// nothing new starts there, the second account is not started, exit 1; the next apply completes both.
#[tokio::test]
async fn ctrl_c_during_one_account_starts_no_further_account() {
    use std::time::Duration;

    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let (first, second) = in_start_order(&org);
    // The first account's stream takes a few seconds: the interrupt lands while it is being created.
    moto.recorder().inject(
        Fault::latency("CreateDeliveryStream", Duration::from_secs(3)).matching(&format!("eks-audit-{first}-")),
    );
    let w = Workdir::with_spec(&spec(&org).replace("max_concurrent_accounts = 2", "max_concurrent_accounts = 1"));
    let mut apply_run = Watched::spawn(w.command(Some(&moto.endpoint()), &["apply", "--auto-approve"]));
    apply_run.wait_for(|line| {
        (line.starts_with(&format!("[{first}]")) && line.ends_with(".stream: creating…")).then_some(())
    });
    let (code, stdout, stderr) = apply_run.interrupt();
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("Interrupt received:"), "{stderr}");
    assert!(stderr.contains(&format!("[{first}] Apply interrupted:")), "{stderr}");
    assert!(stderr.contains(&format!("not started ({second})")), "{stderr}");
    // Named for the interrupt, not for failure_tolerance.
    assert!(
        stderr.contains(&format!("[{second}] not started: interrupted (Ctrl-C) before its changes began")),
        "{stderr}"
    );
    assert!(!stderr.contains("failure_tolerance"), "{stderr}");
    assert!(buckets(&moto, &second).await.is_empty(), "the second account was started: {stderr}");

    moto.recorder().clear_faults();
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert_eq!(streams(&moto, &second, "eu-central-1").await, ["eks-audit"]);
}

#[tokio::test]
async fn apply_over_the_accounts_asks_once_and_without_a_terminal_or_a_yes_changes_no_account() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let w = Workdir::with_spec(&spec(&org));

    // No terminal, no --auto-approve: every account's plan is shown, then refused, nothing written anywhere.
    moto.recorder().reset();
    let out = run(&moto, &w, &["apply"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    for account in [&org.a, &org.b] {
        assert!(out.stdout().contains(&format!("== account {account} ==")), "{}", out.stdout());
    }
    assert!(out.stderr().contains("refusing to apply without confirmation"), "{}", out.stderr());
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());

    // On a terminal: one question for all the accounts; "no" changes none of them, "yes" applies each.
    let prompt = "Do you want to apply these changes? Only 'yes' will be accepted: ";
    moto.recorder().reset();
    let (code, shown) = crate::terminal::answering(w.command(Some(&moto.endpoint()), &["apply"]), "no");
    assert_eq!(code, 1, "{shown:#?}");
    assert_eq!(shown.iter().filter(|l| l.starts_with(prompt)).count(), 1, "{shown:#?}");
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
    let (code, shown) = crate::terminal::answering(w.command(Some(&moto.endpoint()), &["apply"]), "yes");
    assert_eq!(code, 0, "{shown:#?}");
    assert_eq!(shown.iter().filter(|l| l.starts_with(prompt)).count(), 1, "{shown:#?}");
    assert_eq!(streams(&moto, &org.a, "eu-central-1").await, ["eks-audit"]);
    assert_eq!(streams(&moto, &org.b, "eu-central-1").await, ["eks-audit"]);
}

#[tokio::test]
async fn a_member_region_gets_its_pipeline_once_a_cluster_appears_and_keeps_it_when_the_last_one_goes() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let w = Workdir::with_spec(&spec(&org));
    let applied = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(applied.code(), 0, "{}", applied.stderr());
    let (a, b) = (&org.a, &org.b);
    assert!(streams(&moto, b, "us-east-1").await.is_empty(), "B has no cluster in us-east-1 yet");

    // A cluster appears in B's us-east-1: the next apply builds the region there.
    moto.create_cluster_in(b, "us-east-1", "prod-b-us", true).await;
    let applied = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(applied.code(), 0, "{}", applied.stderr());
    assert_eq!(streams(&moto, b, "us-east-1").await, ["eks-audit"]);
    assert!(buckets(&moto, b).await.contains(&format!("eks-audit-{b}-us-east-1")));

    // A's only cluster in us-east-1 goes: "no clusters", and of the region's resources nothing is removed; only
    // the gone cluster's filter, on the log group it left, as in any region.
    let eks = moto.account(a).await.region("us-east-1").eks;
    eks.delete_cluster().name("prod-a-us").send().await.unwrap();
    let plan = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(plan.code(), 0, "{}", plan.stderr());
    let doc = plan.json();
    let deletes: Vec<&str> = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|account| account["report"]["resources"].as_array().into_iter().flatten())
        .filter(|r| r["action"] == "delete")
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(deletes, ["region.us-east-1.cluster.prod-a-us.filter"], "{doc:#}");
    let text = run(&moto, &w, &["plan"]);
    assert!(text.stdout().contains(&format!("no clusters: account {a} runs no selected cluster in us-east-1")));
    moto.recorder().reset();
    let applied = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(applied.code(), 0, "{}", applied.stderr());
    assert_eq!(streams(&moto, a, "us-east-1").await, ["eks-audit"], "A's stream in us-east-1 stays");
    assert!(buckets(&moto, a).await.contains(&format!("eks-audit-{a}-us-east-1")), "and its bucket");
    let writes = moto.recorder().writes();
    assert!(writes.iter().all(|w| ["DeleteSubscriptionFilter", "UntagResource"].contains(&w.as_str())), "{writes:?}");
}

/// The most accounts worked on at once in the calls the recorder kept: each account's calls, told apart by the
/// assumed role's credentials they are signed with, span from its first request to its last.
fn accounts_at_once(moto: &Moto) -> usize {
    let mut spans: std::collections::BTreeMap<String, (std::time::Instant, std::time::Instant)> = Default::default();
    for request in moto.recorder().requests() {
        let auth = request.header("authorization").unwrap_or_default();
        let key = auth.split("Credential=").nth(1).and_then(|c| c.split('/').next()).unwrap_or_default();
        // The caller's own calls (Organizations, AssumeRole) are not an account's work.
        if key.is_empty() || key == "testing" {
            continue;
        }
        let span = spans.entry(key.to_string()).or_insert((request.at, request.at));
        span.0 = span.0.min(request.at);
        span.1 = span.1.max(request.at);
    }
    let spans: Vec<_> = spans.into_values().collect();
    spans.iter().map(|(start, _)| spans.iter().filter(|(s, e)| s <= start && start <= e).count()).max().unwrap_or(0)
}

#[tokio::test]
async fn at_most_max_concurrent_accounts_are_worked_on_at_once() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    // Three accounts: A, B and D (listed by id, no longer excluded).
    let three = spec(&org).replace(&format!("exclude = [\"{}\"]\n", org.d), "");
    // Each answer takes a while, so that accounts started together overlap.
    moto.recorder().inject(Fault::latency("*", std::time::Duration::from_millis(50)));
    let mut seen = Vec::new();
    for limit in [1, 2, 3] {
        let w = Workdir::with_spec(
            &three.replace("max_concurrent_accounts = 2", &format!("max_concurrent_accounts = {limit}")),
        );
        moto.recorder().reset();
        let plan = run(&moto, &w, &["plan", "--json"]);
        assert_eq!(plan.code(), 0, "{}", plan.stderr());
        assert_eq!(plan.json()["accounts"].as_array().unwrap().len(), 3, "{}", plan.stdout());
        seen.push(accounts_at_once(&moto));
    }
    assert_eq!(seen, [1, 2, 3], "accounts at once with max_concurrent_accounts = 1, 2, 3");
}

#[tokio::test]
async fn the_member_role_trusts_whoever_runs_eksaudit_when_no_principal_is_given() {
    let moto = Moto::start();
    let w = Workdir::with_spec(&member_spec());
    // A CI job's assumed role: its session is trusted as the role, named by STS's GetCallerIdentity.
    let (key, secret, token) = moto.assumed_role("arn:aws:iam::111111111111:role/ci", "run-1").await;
    let env = [("AWS_ACCESS_KEY_ID", key.as_str()), ("AWS_SECRET_ACCESS_KEY", &secret), ("AWS_SESSION_TOKEN", &token)];
    let out = w.run_env(Some(&moto.endpoint()), &["policy", "--for", "member-role"], &env);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let role = out.json();
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111111111111:role/ci"
    );
    assert_eq!(moto.recorder().count("GetCallerIdentity"), 1, "{:?}", moto.recorder().calls());

    // Who runs it cannot be told (no AWS to ask): refused, with the flag that says it.
    let offline = w.run(None, &["policy", "--for", "member-role"]);
    assert_eq!(offline.code(), 1, "{}", offline.stdout());
    assert!(offline.stderr().contains("cannot tell who runs eksaudit: "), "{}", offline.stderr());
    assert!(offline.stderr().contains("; pass the principal to trust with --principal ARN"), "{}", offline.stderr());
    assert!(offline.stdout().is_empty(), "{}", offline.stdout());
}

#[tokio::test]
async fn a_blocked_account_counts_against_failure_tolerance_and_nothing_is_written_there() {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let (first, second) = in_start_order(&org);
    // Someone else's bucket under the first account's pipeline bucket name: its plan is blocked.
    let taken = format!("eks-audit-{first}-eu-central-1");
    let s3 = moto.account(&first).await.region("eu-central-1").s3;
    let location =
        CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuCentral1).build();
    s3.create_bucket().bucket(&taken).create_bucket_configuration(location).send().await.unwrap();
    let w = Workdir::with_spec(&one_at_a_time(&org, 0));
    moto.recorder().reset();
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(out.stdout().contains(&format!("S3 bucket {taken} exists but is not managed")), "{}", out.stdout());
    let refused = format!("[{first}] apply refused: fix the problems shown first; nothing was changed");
    assert!(err.contains(&refused), "{err}");
    assert!(err.contains(&format!("2 accounts: 1 failed ({first}), 1 not started ({second})")), "{err}");
    // Nothing written anywhere: the blocked account refused whole, the other never started.
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());
    assert_eq!(buckets(&moto, &first).await, [taken]);
    assert!(buckets(&moto, &second).await.is_empty());
}

#[tokio::test]
async fn an_account_whose_reads_fail_counts_against_failure_tolerance() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    let (first, second) = in_start_order(&org);
    // The first account's role is assumed, but EKS refuses its first ListClusters: its clusters cannot be found,
    // so nothing can be planned there, which (unlike a role that cannot be assumed) is a failure of apply there.
    // One account at a time, in account order: the first account's discovery makes the run's first EKS call.
    let denied = "User is not authorized to perform: eks:ListClusters";
    let list_clusters = || Fault::error("GET /clusters", 403, "AccessDeniedException", denied).times(1);
    let w = Workdir::with_spec(&one_at_a_time(&org, 0));

    // plan --json: the account's section says it failed, with AWS's words, and the summary says which.
    moto.recorder().inject(list_clusters());
    let out = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let doc = out.json();
    assert_eq!((doc["format_version"].as_str(), doc["command"].as_str()), (Some("1"), Some("plan")), "{doc:#}");
    let results = accounts_of(&doc);
    assert_eq!(results, [(first.clone(), "failed".to_string()), (second.clone(), "changes".to_string())]);
    assert!(doc["accounts"][0]["message"].as_str().unwrap().contains(denied), "{doc:#}");
    assert_eq!(doc["summary"], format!("2 accounts: 1 with changes, 1 failed ({first})"), "{doc:#}");

    moto.recorder().inject(list_clusters());
    moto.recorder().reset();
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stdout().contains(denied), "AWS's words, under the account: {}", out.stdout());
    let err = out.stderr();
    assert!(err.contains(&format!("[{second}] not started")), "{err}");
    assert!(err.contains(&format!("2 accounts: 1 failed ({first}), 1 not started ({second})")), "{err}");
    assert!(moto.recorder().writes().is_empty(), "{:?}", moto.recorder().writes());

    // One failure tolerated: the second account is applied; the first is still a failure, and nothing is made
    // there.
    moto.recorder().inject(list_clusters());
    let w = Workdir::with_spec(&one_at_a_time(&org, 1));
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 1, "{}\n{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(err.contains(&format!("2 accounts: 1 with changes, 1 failed ({first})")), "{err}");
    assert_eq!(streams(&moto, &second, "eu-central-1").await, ["eks-audit"]);
    assert!(buckets(&moto, &first).await.is_empty(), "nothing was made in the first");
}

#[tokio::test]
async fn a_member_region_without_clusters_says_no_clusters_and_is_only_listed() {
    let moto = Moto::start();
    let org = organization(&moto).await;
    clusters(&moto, &org).await;
    // B alone: its us-east-1 has no cluster.
    let only_b =
        spec(&org).replace(&format!("exclude = [\"{}\"]", org.d), &format!("exclude = [\"{}\", \"{}\"]", org.d, org.a));
    let w = Workdir::with_spec(&only_b);
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    // What each command asked of us-east-1 (the credential scope's region; STS, IAM and Organizations, read from
    // the caller's account, are global).
    let us_east_1 = || -> Vec<String> {
        moto.recorder()
            .requests()
            .iter()
            .filter(|r| {
                let scope = r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v);
                let global = |a: &str| ["/sts/", "/iam/", "/organizations/"].iter().any(|s| a.contains(s));
                scope.is_some_and(|a| a.contains("/us-east-1/") && !global(a))
            })
            .map(|r| {
                let target = r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"));
                format!("{} {} {}", r.method, r.target, target.map_or("", |(_, v)| v.as_str()))
            })
            .collect()
    };
    for command in [&["status"][..], &["drift"], &["plan"]] {
        moto.recorder().reset();
        let out = run(&moto, &w, command);
        assert_eq!(out.code(), 0, "{command:?}: {}\n{}", out.stdout(), out.stderr());
        let text = out.stdout();
        assert!(text.contains("no clusters"), "{command:?}: {text}");
        // status asks only for the listing that shows it has none: no read of a pipeline that is not there. (plan
        // and drift also look there for what the pipeline left: marked filters, another notify mode's queues.)
        let asked = us_east_1();
        if command == ["status"] {
            assert!(asked.iter().all(|r| r.starts_with("GET /clusters")), "{asked:?}");
        }
        assert!(asked.iter().any(|r| r.starts_with("GET /clusters")), "{command:?}: {asked:?}");
    }
}
