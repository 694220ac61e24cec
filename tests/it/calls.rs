//! The call budget of an in-sync plan: how many reads plan makes per resource, by operation. Fails when it grows
//! (a read made twice, a read that could be skipped), so speed regressions show up in review, not in production.
//! `scripts/bench.sh` measures the same at scale.

use std::collections::BTreeMap;

use eksaudit_test_support::Moto;

use crate::support::Workdir;

/// Every cluster of two regions (shared with `quotas.rs`).
pub(crate) const SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[[region]]
name = "eu-central-1"
clusters = ["*"]

[[region]]
name = "us-east-1"
clusters = ["*"]
"#;

/// Reads of one in-sync plan, by operation (REST calls by method and resource kind, not by name).
fn by_operation(calls: &[eksaudit_test_support::Call]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in calls {
        let op = match c.operation.split_once(' ') {
            // `GET /bucket-name/?tagging` → `GET bucket?tagging`; `GET /clusters/prod` → `GET clusters/{name}`.
            Some((method, path)) if path.starts_with("/clusters") => {
                let parts = path.trim_start_matches('/').split('/').count();
                format!("{method} clusters{}", if parts > 1 { "/{name}" } else { "" })
            }
            Some((method, path)) => format!("{method} bucket{}", path.find('?').map_or("", |i| &path[i..])),
            None => c.operation.clone(),
        };
        *out.entry(op).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn an_in_sync_plan_reads_each_thing_once() {
    let moto = Moto::start();
    for (region, cluster) in [("eu-central-1", "prod"), ("eu-central-1", "stage"), ("us-east-1", "other")] {
        moto.create_cluster(region, cluster, true).await;
    }
    let w = Workdir::with_spec(SPEC);
    let out = w.run(Some(&moto.endpoint()), &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    moto.recorder().reset();
    let plan = w.run(Some(&moto.endpoint()), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "{}", plan.stdout());
    let calls = moto.recorder().calls();
    assert!(calls.iter().all(|c| !c.write));
    let counts = by_operation(&calls);

    // One identity call; per region: the cluster list, the bucket (head, tags, six settings, notification),
    // topic (attributes, tags, subscriptions), Firehose (stream, tags, error log group and its tags); per
    // cluster: the cluster and its log group's filters (which also say whether the group exists). Roles: one
    // GetRole, GetRolePolicy and ListAttachedRolePolicies each. Leftovers another consumer preset would have
    // made (so switching presets deletes them): per region the notification queue and its dead-letter queue,
    // the OIDC provider of each Azure cloud, and the reader role under Sentinel's name. (Sentinel's transform is
    // found through the stream naming it, with no read of its own.)
    // Security by default (the pipeline's KMS key, access logging) adds per region: the key behind its alias
    // (DescribeKey) with its policy, rotation and tags; the access-log bucket (head, tags, six settings: no
    // notification, no logging of its own); and where the pipeline's bucket logs to (GET bucket?logging).
    let (regions, clusters) = (2, 3);
    let expected: BTreeMap<String, usize> = [
        ("GetCallerIdentity", 1),
        ("GET clusters", regions),
        ("GET clusters/{name}", clusters),
        ("GetRole", 3 + 1),
        ("GetRolePolicy", 3),
        ("ListAttachedRolePolicies", 3),
        ("HEAD bucket", 2 * regions),
        ("GET bucket?tagging", 2 * regions),
        ("GET bucket?publicAccessBlock", 2 * regions),
        ("GET bucket?ownershipControls", 2 * regions),
        ("GET bucket?encryption", 2 * regions),
        ("GET bucket?policy", 2 * regions),
        ("GET bucket?versioning", 2 * regions),
        ("GET bucket?lifecycle", 2 * regions),
        ("GET bucket?notification", regions),
        ("GET bucket?logging", regions),
        ("DescribeKey", regions),
        ("GetKeyPolicy", regions),
        ("GetKeyRotationStatus", regions),
        ("ListResourceTags", regions),
        ("GetTopicAttributes", regions),
        // SNS's (topic) and CloudWatch Logs' (Firehose error log group) operations share the name.
        ("ListTagsForResource", 2 * regions),
        ("ListSubscriptionsByTopic", regions),
        ("DescribeDeliveryStream", regions),
        ("ListTagsForDeliveryStream", regions),
        ("DescribeLogGroups", regions),
        ("DescribeSubscriptionFilters", clusters),
        ("GetQueueUrl", 2 * regions),
        ("GetOpenIDConnectProvider", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let total: usize = counts.values().sum();
    let budget: usize = expected.values().sum();
    assert!(
        total <= budget,
        "an in-sync plan now makes {total} calls, the budget is {budget}:\nmade     {counts:#?}\nexpected {expected:#?}"
    );
    assert_eq!(counts, expected, "the reads changed (if you removed some, lower the budget here)");
    // 3 roles + 8 per region + 3 per cluster. A bucket takes 8 reads (one per setting S3 keeps apart), and each
    // region has two now, hence under 3 rather than 2.5.
    let resources = 3 + 8 * regions + 3 * clusters;
    assert!((total as f64) / (resources as f64) < 3.0, "{total} calls for {resources} resources");
}
