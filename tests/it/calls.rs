//! The call budget of an in-sync plan: which reads plan makes, by operation and by the resource each reads. Fails
//! when a read is added, made twice for one resource or skipped for another, so speed regressions (and reads
//! that went missing) show up in review, not in production.
//! `scripts/bench.sh` measures the same at scale.

use std::collections::BTreeMap;

use eksaudit_test_support::Moto;

use crate::support::Workdir;

/// Every cluster of two regions (shared with `quotas.rs`).
pub(crate) fn spec() -> String {
    crate::support::sns_spec(&[("eu-central-1", &["*"]), ("us-east-1", &["*"])])
}

/// The regions of `spec()`, and the clusters each has in this test: 2 regions × 3 clusters, 6 in all.
const REGIONS: [&str; 2] = ["eu-central-1", "us-east-1"];
const CLUSTERS: [&str; 3] = ["prod", "stage", "other"];

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

/// What a read names, as `<region> <identifiers>`: an S3 bucket or EKS path, a query API's parameters, or a
/// JSON API's string fields (in key order); IAM and STS are `global`.
fn resource(request: &eksaudit_test_support::Request) -> String {
    let scope: Vec<&str> = request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .map(|c| c.split('/').collect())
        .unwrap_or_default();
    let region = match scope.get(3) {
        Some(&"iam") | Some(&"sts") => "global",
        _ => scope.get(2).copied().unwrap_or("?"),
    };
    let body = String::from_utf8_lossy(&request.body);
    let names: Vec<String> = if body.contains("Action=") {
        form_urlencoded::parse(&request.body)
            .filter(|(k, _)| k != "Action" && k != "Version")
            .map(|(_, v)| v.into_owned())
            .collect()
    } else if request.header("x-amz-target").is_some() {
        let doc: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&request.body).unwrap_or_default();
        doc.values().filter_map(|v| v.as_str().map(str::to_string)).collect()
    } else {
        let path = request.target.split('?').next().unwrap_or_default().trim_matches('/');
        vec![path.to_string()]
    };
    // The KMS key's id is AWS's making (one key per region): named as `{key}`.
    let uuid = |t: &str| t.len() == 36 && t.split('-').map(str::len).eq([8, 4, 4, 4, 12]);
    let names: Vec<String> = names.into_iter().map(|n| if uuid(&n) { "{key}".to_string() } else { n }).collect();
    format!("{region} {}", names.join(" "))
}

/// Every read of the in-sync plan, by operation and what it reads, written out: once each.
fn expected_reads() -> Vec<(String, String)> {
    let mut reads: Vec<(&str, String)> = vec![("GetCallerIdentity", "global ".into())];
    for role in ["eks-audit-cloudwatch", "eks-audit-firehose", "eks-audit-reader"] {
        reads.push(("GetRole", format!("global {role}")));
        reads.push(("GetRolePolicy", format!("global {role} eks-audit")));
        reads.push(("ListAttachedRolePolicies", format!("global {role}")));
    }
    // Leftovers of another preset: the reader role under Sentinel's name and under RAD's, and the OIDC provider of
    // each Azure cloud.
    reads.push(("GetRole", "global OIDC_eks-audit-reader".into()));
    reads.push(("GetRole", "global ksoc-audit-logs".into()));
    for tenant in ["33e01921-4d64-4f8c-a055-5bdaffd5e33d", "cab8a31a-1906-4287-a0d8-4eef66b95f6e"] {
        reads.push((
            "GetOpenIDConnectProvider",
            format!("global arn:aws:iam::123456789012:oidc-provider/sts.windows.net/{tenant}/"),
        ));
    }
    for r in REGIONS {
        let bucket = format!("eks-audit-123456789012-{r}");
        for b in [bucket.clone(), format!("{bucket}-access-logs")] {
            for op in [
                "HEAD bucket",
                "GET bucket?tagging",
                "GET bucket?publicAccessBlock",
                "GET bucket?ownershipControls",
                "GET bucket?encryption",
                "GET bucket?policy",
                "GET bucket?versioning",
                "GET bucket?lifecycle",
            ] {
                reads.push((op, format!("{r} {b}")));
            }
        }
        reads.push(("GET bucket?notification", format!("{r} {bucket}")));
        reads.push(("GET bucket?logging", format!("{r} {bucket}")));
        reads.push(("DescribeKey", format!("{r} alias/eks-audit")));
        reads.push(("GetKeyPolicy", format!("{r} {{key}} default")));
        reads.push(("GetKeyRotationStatus", format!("{r} {{key}}")));
        reads.push(("ListResourceTags", format!("{r} {{key}}")));
        let topic = format!("arn:aws:sns:{r}:123456789012:eks-audit");
        reads.push(("GetTopicAttributes", format!("{r} {topic}")));
        reads.push(("ListSubscriptionsByTopic", format!("{r} {topic}")));
        reads.push(("ListTagsForResource", format!("{r} {topic}")));
        reads.push(("DescribeDeliveryStream", format!("{r} eks-audit")));
        reads.push(("ListTagsForDeliveryStream", format!("{r} eks-audit")));
        reads.push(("DescribeLogGroups", format!("{r} /aws/kinesisfirehose/eks-audit")));
        let group = format!("arn:aws:logs:{r}:123456789012:log-group:/aws/kinesisfirehose/eks-audit");
        reads.push(("ListTagsForResource", format!("{r} {group}")));
        // Sentinel's queue and its dead-letter queue, left over from another preset.
        reads.push(("GetQueueUrl", format!("{r} eks-audit")));
        reads.push(("GetQueueUrl", format!("{r} eks-audit-dlq")));
        // The log groups our filters mark (the tag each filter puts on its group): leftovers on clusters the spec
        // no longer selects, found in one call whatever the unrelated clusters.
        reads.push(("GetResources", format!("{r} ")));
        reads.push(("GET clusters", format!("{r} clusters")));
        for c in CLUSTERS {
            reads.push(("GET clusters/{name}", format!("{r} clusters/{c}")));
            reads.push(("DescribeSubscriptionFilters", format!("{r} /aws/eks/{c}/cluster")));
        }
    }
    let mut reads: Vec<(String, String)> = reads.into_iter().map(|(op, what)| (op.to_string(), what)).collect();
    reads.sort();
    reads
}

/// moto with `CLUSTERS` in each of `REGIONS`, audit logging on.
async fn with_clusters() -> Moto {
    let moto = Moto::start();
    for region in REGIONS {
        for cluster in CLUSTERS {
            moto.create_cluster(region, cluster, true).await;
        }
    }
    moto
}

#[tokio::test]
async fn an_in_sync_plan_reads_each_thing_once() {
    let moto = with_clusters().await;
    let w = Workdir::with_spec(&spec());
    let out = w.run(Some(&moto.endpoint()), &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    // Every log group apply creates takes the key's ARN (CloudWatch Logs takes no alias): the key's own step made
    // the key and knows it, so none is looked up by the alias's ARN (not once per log group, 4 per region here).
    let by_alias = |region: &str| {
        let calls = moto.recorder().calls();
        let requests = moto.recorder().requests();
        calls
            .iter()
            .zip(requests)
            .filter(|(c, r)| {
                by_operation(std::slice::from_ref(*c)).contains_key("DescribeKey")
                    && resource(r) == format!("{region} arn:aws:kms:{region}:123456789012:alias/eks-audit")
            })
            .count()
    };
    for region in REGIONS {
        assert_eq!(by_alias(region), 0, "the key's ARN looked up by its alias in {region}");
    }
    // The pipeline's key records its region's buckets from its CreateKey on: creating them writes nothing to IAM
    // (a creation intent on the Firehose role would, two writes a bucket, on a quota every region shares).
    let calls = moto.recorder().calls();
    let intents: Vec<&str> =
        calls.iter().map(|c| c.operation.as_str()).filter(|o| ["TagRole", "UntagRole"].contains(o)).collect();
    assert!(
        intents.is_empty(),
        "roles are tagged as they are created, and nothing else is written to them: {intents:?}"
    );
    moto.recorder().reset();
    let plan = w.run(Some(&moto.endpoint()), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "{}", plan.stdout());
    let calls = moto.recorder().calls();
    assert!(calls.iter().all(|c| !c.write));
    let counts = by_operation(&calls);
    let mut reads: Vec<(String, String)> = calls
        .iter()
        .zip(moto.recorder().requests())
        .map(|(c, r)| (by_operation(std::slice::from_ref(c)).into_keys().next().unwrap(), resource(&r)))
        .collect();
    reads.sort();
    assert_eq!(reads, expected_reads(), "each resource read once by each operation, none skipped");

    // One identity call; per region: the cluster list, the bucket (head, tags, six settings, notification),
    // topic (attributes, tags, subscriptions), Firehose (stream, tags, error log group and its tags); per
    // cluster: the cluster and its log group's filters (which also say whether the group exists). Roles: one
    // GetRole, GetRolePolicy and ListAttachedRolePolicies each. Leftovers another consumer preset would have
    // made (so switching presets deletes them): per region the notification queue and its dead-letter queue,
    // the OIDC provider of each Azure cloud, and the reader role under Sentinel's and RAD's names. (Sentinel's transform is
    // found through the stream naming it, with no read of its own.)
    // Security by default (the pipeline's KMS key, access logging) adds per region: the key behind its alias
    // (DescribeKey) with its policy, rotation and tags; the access-log bucket (head, tags, six settings: no
    // notification, no logging of its own); and where the pipeline's bucket logs to (GET bucket?logging).
    let (regions, clusters) = (REGIONS.len(), REGIONS.len() * CLUSTERS.len());
    let expected: BTreeMap<String, usize> = [
        ("GetCallerIdentity", 1),
        ("GET clusters", regions),
        ("GET clusters/{name}", clusters),
        ("GetRole", 3 + 2),
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
        // The log groups the pipeline's filters marked (what it left on clusters it no longer selects).
        ("GetResources", regions),
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
    // region has two now, hence under 3 rather than 2.5; besides, one read per region of the marked log groups,
    // which stands for a read per cluster the spec does not select (`unselected.rs`).
    let resources = 3 + 8 * regions + 3 * clusters;
    let per_resource = (total - regions) as f64 / resources as f64;
    assert!(per_resource < 3.0, "{total} calls for {resources} resources");
}

/// In an account the pipeline has not reached, a selected cluster whose log group EKS never made costs no filter
/// read of its own: per region, DescribeLogGroups by name (50 names a call) says which selected clusters' groups
/// exist, and only those groups' filters are read. What is on them is still seen.
#[tokio::test]
async fn a_first_plan_reads_the_filters_of_existing_log_groups_only() {
    let moto = with_clusters().await;
    // 51 clusters in us-east-1: two calls by name there (50 names, then 1).
    for i in 0..48 {
        moto.create_cluster("us-east-1", &format!("more-{i:02}"), true).await;
    }
    // EKS made prod's log group in eu-central-1, and someone else's filter is on it.
    let eu = moto.region("eu-central-1").logs;
    for group in ["/aws/eks/prod/cluster", "/siem"] {
        eu.create_log_group().log_group_name(group).send().await.unwrap();
    }
    eu.put_subscription_filter()
        .log_group_name("/aws/eks/prod/cluster")
        .filter_name("datadog")
        .filter_pattern("")
        .destination_arn("arn:aws:logs:eu-central-1:123456789012:log-group:/siem:*")
        .send()
        .await
        .unwrap();
    let w = Workdir::with_spec(&spec());
    let plan = w.run(Some(&moto.endpoint()), &["plan", "--json"]);
    assert_eq!(plan.code(), 0, "{}", plan.stderr());

    let requests = moto.recorder().requests();
    let filter_reads: Vec<String> = moto
        .recorder()
        .calls()
        .iter()
        .zip(&requests)
        .filter(|(c, _)| c.operation == "DescribeSubscriptionFilters")
        .map(|(_, r)| resource(r))
        .collect();
    assert_eq!(filter_reads, ["eu-central-1 /aws/eks/prod/cluster"], "only the group that exists is read");
    let by_name = |region: &str| -> Vec<Vec<String>> {
        requests
            .iter()
            .filter(|r| resource(r).starts_with(region))
            .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .filter_map(|b| b["logGroupIdentifiers"].as_array().cloned())
            .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
            .collect()
    };
    let eu_calls = by_name("eu-central-1");
    assert_eq!(eu_calls.len(), 1, "{eu_calls:?}");
    let mut eu_names = eu_calls.concat();
    eu_names.sort();
    assert_eq!(eu_names, ["/aws/eks/other/cluster", "/aws/eks/prod/cluster", "/aws/eks/stage/cluster"]);
    let us_calls = by_name("us-east-1");
    let mut sizes: Vec<usize> = us_calls.iter().map(Vec::len).collect();
    sizes.sort();
    assert_eq!(sizes, [1, 50], "51 names in two calls");

    let doc = plan.json();
    let action = |address: &str| {
        doc["resources"].as_array().unwrap().iter().find(|r| r["address"] == address).map(|r| r["action"].clone())
    };
    assert_ne!(action("region.eu-central-1.cluster.prod.log_group"), Some(serde_json::json!("create")), "{doc:#}");
    assert_eq!(action("region.eu-central-1.cluster.stage.log_group"), Some(serde_json::json!("create")));
    assert_eq!(action("region.us-east-1.cluster.more-47.log_group"), Some(serde_json::json!("create")));
    assert_eq!(action("region.eu-central-1.cluster.prod.filter"), Some(serde_json::json!("create")));
}
