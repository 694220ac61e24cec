//! Reads that grow with what the spec selects (issue 19): the filters the pipeline left on clusters the spec no
//! longer selects are found through the mark each filter puts on its log group (one Resource Groups Tagging API
//! read per region), not by reading every cluster's log group. Clusters the spec never named cost
//! nothing; a cluster taken out of the spec loses our filter and our mark and keeps everything else; a run stopped
//! between the mark and the filter, and a filter made before filters marked their groups, both converge.

use std::collections::BTreeMap;

use eksaudit_test_support::Moto;

use crate::plan::moto_stream;
use crate::support::{apply, assert_converged, run, Workdir};

const REGION: &str = "eu-central-1";

fn spec(clusters: &[&str]) -> String {
    crate::support::sns_spec(&[(REGION, clusters)])
}

fn group(cluster: &str) -> String {
    format!("/aws/eks/{cluster}/cluster")
}

fn group_arn(cluster: &str) -> String {
    format!("arn:aws:logs:{REGION}:{}:log-group:{}", eksaudit_test_support::MOTO_ACCOUNT, group(cluster))
}

/// A cluster of someone else's with its control-plane log group, as EKS makes it when logging is on.
async fn unrelated(moto: &Moto, name: &str) {
    moto.create_cluster(REGION, name, true).await;
    let logs = moto.region(REGION).logs;
    logs.create_log_group().log_group_name(group(name)).send().await.unwrap();
}

async fn filters(moto: &Moto, cluster: &str) -> Vec<String> {
    let out =
        moto.region(REGION).logs.describe_subscription_filters().log_group_name(group(cluster)).send().await.unwrap();
    let mut names: Vec<String> =
        out.subscription_filters().iter().filter_map(|f| f.filter_name().map(str::to_string)).collect();
    names.sort();
    names
}

async fn tags(moto: &Moto, cluster: &str) -> BTreeMap<String, String> {
    let out = moto.region(REGION).logs.list_tags_for_resource().resource_arn(group_arn(cluster)).send().await.unwrap();
    out.tags().cloned().unwrap_or_default().into_iter().collect()
}

const MARK: &str = "eksaudit:filter:eks-audit";

/// Calls of an in-sync plan of the spec selecting `prod`, in a region with `others` unrelated clusters.
async fn in_sync_plan_calls(others: usize) -> (usize, BTreeMap<String, usize>) {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod", true).await;
    for i in 0..others {
        unrelated(&moto, &format!("team-{i:03}")).await;
    }
    let w = Workdir::with_spec(&spec(&["prod"]));
    apply(&moto, &w);
    moto.recorder().reset();
    let plan = run(&moto, &w, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "{others} others: not in sync\n{}\n{}", plan.stdout(), plan.stderr());
    let calls = moto.recorder().calls();
    assert!(calls.iter().all(|c| !c.write), "an in-sync plan wrote: {calls:?}");
    let mut by = BTreeMap::new();
    for c in &calls {
        *by.entry(c.operation.clone()).or_default() += 1;
    }
    (calls.len(), by)
}

/// The target: at most 50 calls with 50 unrelated clusters, the same count with none. 500 clusters make
/// moto slow to set up in CI; 99 and 101 stand in for them (EKS lists clusters 100 to a page, so up to 100
/// clusters the cluster list is one call; each further 100 add one ListClusters page and nothing else).
#[tokio::test]
async fn an_in_sync_plan_costs_the_same_whatever_the_unrelated_clusters() {
    let (none, by_none) = in_sync_plan_calls(0).await;
    let (fifty, by_fifty) = in_sync_plan_calls(50).await;
    let (many, by_many) = in_sync_plan_calls(99).await;
    assert!(fifty <= 50, "{fifty} calls with 50 unrelated clusters: {by_fifty:?}");
    assert_eq!(by_fifty, by_none, "50 unrelated clusters changed the reads");
    assert_eq!(by_many, by_none, "99 unrelated clusters changed the reads");
    assert_eq!((none, fifty, many), (none, none, none));
    // 102 clusters in all: a second page of the cluster list, and nothing else.
    let (past_a_page, by_past_a_page) = in_sync_plan_calls(101).await;
    assert_eq!(past_a_page, none + 1, "{by_past_a_page:?}");
    let but_eks = |by: &BTreeMap<String, usize>| {
        let mut by = by.clone();
        by.retain(|op, _| !op.starts_with("GET /clusters"));
        by
    };
    assert_eq!(but_eks(&by_past_a_page), but_eks(&by_none), "101 unrelated clusters changed other reads");
    // The marks are read once per region; the one selected cluster's filters once.
    assert_eq!(by_none.get("GetResources"), Some(&1), "{by_none:?}");
    assert_eq!(by_none.get("DescribeSubscriptionFilters"), Some(&1), "{by_none:?}");
}

#[tokio::test]
async fn a_cluster_taken_out_of_the_spec_or_destroyed_loses_our_filter_and_mark_and_keeps_everything_else() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod", true).await;
    unrelated(&moto, "stage").await;
    unrelated(&moto, "other").await;
    // Someone else's filter and tag on stage's log group: they must survive.
    let logs = moto.region(REGION).logs;
    let siem = moto_stream(&moto, REGION, "siem").await;
    logs.put_subscription_filter()
        .log_group_name(group("stage"))
        .filter_name("datadog")
        .filter_pattern("")
        .destination_arn(siem)
        .role_arn("arn:aws:iam::123456789012:role/siem")
        .send()
        .await
        .unwrap();
    logs.tag_resource().resource_arn(group_arn("stage")).tags("team", "platform").send().await.unwrap();

    let w = Workdir::with_spec(&spec(&["prod", "stage"]));
    apply(&moto, &w);
    assert_eq!(filters(&moto, "stage").await, ["datadog", "eks-audit"]);
    assert_eq!(tags(&moto, "stage").await.get(MARK).map(String::as_str), Some("eks-audit"));
    assert_eq!(tags(&moto, "prod").await.get(MARK).map(String::as_str), Some("eks-audit"));
    assert!(tags(&moto, "other").await.is_empty(), "a cluster never selected was marked");

    let w = Workdir::with_spec(&spec(&["prod"]));
    let plan = run(&moto, &w, &["plan", "--json"]);
    let changes = plan.json()["resources"].clone();
    let stage: Vec<&serde_json::Value> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"].as_str().is_some_and(|a| a.contains("stage")) && c["action"] != "no-op")
        .collect();
    assert_eq!(stage.len(), 1, "{changes:#}");
    assert_eq!(stage[0]["action"], "delete", "{changes:#}");
    apply(&moto, &w);
    assert_eq!(filters(&moto, "stage").await, ["datadog"]);
    assert_eq!(tags(&moto, "stage").await, BTreeMap::from([("team".to_string(), "platform".to_string())]));
    assert_eq!(filters(&moto, "prod").await, ["eks-audit"]);
    assert_converged(&moto, &w);

    // Destroy takes the last filter and its mark off; the log group and its other tags stay.
    let destroyed = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(destroyed.code(), 0, "{}\n{}", destroyed.stdout(), destroyed.stderr());
    assert!(filters(&moto, "prod").await.is_empty());
    assert!(!tags(&moto, "prod").await.contains_key(MARK), "destroy left the mark: {:?}", tags(&moto, "prod").await);
    assert_eq!(tags(&moto, "stage").await, BTreeMap::from([("team".to_string(), "platform".to_string())]));
}

/// A run stopped after the mark and before the filter, then the cluster taken out of the spec: the mark alone is
/// the filter's leftover, and apply takes it off. (Every k-th write of a full apply killed, then resumed, is
/// `crash.rs`.)
#[tokio::test]
async fn a_mark_left_without_its_filter_is_taken_off() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod", true).await;
    unrelated(&moto, "stage").await;
    let logs = moto.region(REGION).logs;
    logs.tag_resource().resource_arn(group_arn("stage")).tags(MARK, "eks-audit").send().await.unwrap();
    let w = Workdir::with_spec(&spec(&["prod"]));
    apply(&moto, &w);
    assert!(!tags(&moto, "stage").await.contains_key(MARK), "the mark stayed");
    assert!(filters(&moto, "stage").await.is_empty());
    assert_converged(&moto, &w);
}

/// A filter made before filters marked their groups (or whose mark someone took off): plan shows the mark to
/// put, apply puts it, and then the filter is found again once its cluster leaves the spec.
#[tokio::test]
async fn a_filter_on_an_unmarked_group_is_marked_by_the_next_apply() {
    let moto = Moto::start();
    moto.create_cluster(REGION, "prod", true).await;
    let w = Workdir::with_spec(&spec(&["prod"]));
    apply(&moto, &w);
    let logs = moto.region(REGION).logs;
    logs.untag_resource().resource_arn(group_arn("prod")).tag_keys(MARK).send().await.unwrap();
    let plan = run(&moto, &w, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 2, "{}\n{}", plan.stdout(), plan.stderr());
    assert!(plan.stdout().contains("log_group_tag"), "{}", plan.stdout());
    apply(&moto, &w);
    assert_eq!(tags(&moto, "prod").await.get(MARK).map(String::as_str), Some("eks-audit"));
    assert_converged(&moto, &w);
}
