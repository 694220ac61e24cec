//! The reconciler's walk honours the dependencies each kind declares in the plan crate's registry
//! (`eksaudit_plan::kinds`): in a real apply, every resource is created only after each resource it depends on
//! has been created, and in a real destroy deleted only once each resource depending on it is gone. A kind-level
//! declaration ("a notification depends on topics") is narrowed to the resources it really names: those of the
//! declared kind, in its scope (the same cluster, the same region, or account-wide), whose name the dependent
//! resource's plan mentions (a topic's ARN in the notification, a role's in the stream).

use std::collections::BTreeMap;

use eksaudit_plan::{kinds, Kind};
use eksaudit_test_support::Moto;

use crate::support::{run, Workdir};

/// SNS with a consumer queue subscribed, `[alerts]`, two clusters (one with audit logging off), the pipeline's
/// own key and access-log bucket.
const SNS_ALERTS: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:eu-central-1:434813966438:their-queue"

[alerts]
namespaces = ["kube-system"]
email = ["secops@example.com"]

[[region]]
name = "eu-central-1"
clusters = ["prod-*"]
enable_audit_logging = true
"#;

/// Sentinel: the OIDC provider, SQS with its dead-letter queue.
const SENTINEL: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
preset = "sentinel"
workspace_id = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"

[[region]]
name = "eu-central-1"
clusters = ["prod-*"]
enable_audit_logging = true
"#;

/// Where a resource is: its region and, for a cluster's resource, the cluster.
fn scope(address: &str) -> (Option<&str>, Option<&str>) {
    let parts: Vec<&str> = address.split('.').collect();
    match parts[..] {
        ["region", region, "cluster", cluster, ..] => (Some(region), Some(cluster)),
        ["region", region, ..] => (Some(region), None),
        _ => (None, None),
    }
}

/// `b` waits for `a` when `a` is account-wide, or in `b`'s region and (for two cluster resources) its cluster.
fn in_scope(a: &str, b: &str) -> bool {
    match (scope(a), scope(b)) {
        ((None, _), _) => true,
        ((Some(ra), None), (Some(rb), _)) => ra == rb,
        ((Some(ra), Some(ca)), (Some(rb), Some(cb))) => ra == rb && ca == cb,
        _ => false,
    }
}

/// Whether `text` holds `name` as a whole word (not inside a longer name: `eks-audit` in `eks-audit-alerts`),
/// and not as a KMS alias's (`alias/eks-audit` names the key, not the topic or queue of the same name).
fn mentions(text: &str, name: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(name).any(|(at, _)| {
        if text[..at].ends_with("alias/") {
            return false;
        }
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

fn kind_of(name: &str) -> Kind {
    *Kind::ALL.iter().find(|k| serde_json::to_value(k).unwrap() == name).unwrap_or_else(|| panic!("kind {name}"))
}

async fn check(spec: &str) {
    let moto = Moto::start();
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    moto.create_cluster("eu-central-1", "prod-2", false).await;
    let w = Workdir::with_spec(spec);
    let plan = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(plan.code(), 0, "{}", plan.stderr());
    let kinds: Planned = plan.json()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "create")
        .map(|r| {
            let kind = kind_of(r["kind"].as_str().unwrap());
            // Without its tags: they name the pipeline (`eks-audit`), which is also the queue's name.
            let mut named = r.clone();
            named["changes"].as_array_mut().unwrap().retain(|c| c["field"] != "tags");
            (
                r["address"].as_str().unwrap().to_string(),
                (kind, r["name"].as_str().unwrap().to_string(), named.to_string()),
            )
        })
        .collect();
    // Off a terminal, progress is one line per start (`  addr: creating…`) and per end (`✓ addr: created`).
    let apply = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(apply.code(), 0, "{}", apply.stderr());
    let log = apply.stderr();
    let (started, finished) = (lines_of(&log, ": creating…"), finished_lines(&log, ": created"));
    let mut checked = 0;
    for (b, a) in dependencies(&kinds) {
        let start = *started.get(b).unwrap_or_else(|| panic!("{b} never started:\n{log}"));
        let end = *finished.get(a).unwrap_or_else(|| panic!("{a} never finished:\n{log}"));
        assert!(end < start, "{b} started before {a}, which it depends on:\n{log}");
        checked += 1;
    }
    assert!(checked >= 12, "too few dependencies checked ({checked}) among {:?}", kinds.keys().collect::<Vec<_>>());

    // Destroy, deleting everything it may (the bucket and key too): the reverse walk, each resource deleted only
    // once everything that depends on it is gone.
    let w = Workdir::with_spec(&format!("{spec}\n[bucket]\non_destroy = \"delete\"\n"));
    let destroy = run(&moto, &w, &["destroy", "--auto-approve"]);
    assert_eq!(destroy.code(), 0, "{}", destroy.stderr());
    let log = destroy.stderr();
    let (started, finished) = (lines_of(&log, ": deleting…"), finished_lines(&log, ": deleted"));
    let mut checked = 0;
    for (b, a) in dependencies(&kinds) {
        // Only what destroy deletes: a cluster's audit logging and log groups stay.
        let (Some(&end), Some(&start)) = (finished.get(b), started.get(a)) else { continue };
        assert!(end < start, "{a} was deleted before {b}, which depends on it, was gone:\n{log}");
        checked += 1;
    }
    assert!(checked >= 10, "too few dependencies checked on destroy ({checked}):\n{log}");
}

/// Address → (kind, AWS name, the whole planned resource as text), for what the plan creates.
type Planned = BTreeMap<String, (Kind, String, String)>;

/// Every (dependent, dependency) pair among the planned resources: the kind-level declaration narrowed to the
/// resources in scope that the dependent's plan names.
fn dependencies(kinds: &Planned) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for (b, (kind_b, _, planned_b)) in kinds {
        for dep in kinds::registration(*kind_b).depends_on {
            let named =
                kinds.iter().filter(|(a, (k, name, _))| k == dep && in_scope(a, b) && mentions(planned_b, name));
            out.extend(named.map(|(a, _)| (b.as_str(), a.as_str())));
        }
    }
    out
}

/// Progress lines off a terminal: `  addr: deleting…` (a start), by address, with their line number.
fn lines_of(log: &str, suffix: &str) -> BTreeMap<String, usize> {
    let lines = log.lines().enumerate();
    lines.filter_map(|(i, l)| l.trim_start().strip_suffix(suffix).map(|a| (a.to_string(), i))).collect()
}

/// `✓ addr: deleted (0.1s)` (an end), by address, with its line number.
fn finished_lines(log: &str, verb: &str) -> BTreeMap<String, usize> {
    let ends = log.lines().enumerate().filter_map(|(i, l)| Some((l.strip_prefix("✓ ")?, i)));
    ends.filter_map(|(rest, i)| rest.split_once(verb).map(|(a, _)| (a.to_string(), i))).collect()
}

#[tokio::test]
async fn apply_creates_every_resource_after_what_its_kind_depends_on_and_destroy_deletes_it_before() {
    check(SNS_ALERTS).await;
    check(SENTINEL).await;
}
