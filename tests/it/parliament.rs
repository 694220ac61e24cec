//! Parliament (duo-labs' IAM linter, pinned in `.venv-parliament/` by `scripts/install-parliament.sh`) on every
//! policy document eksaudit can write: the roles' trust and permissions, the bucket, access-log bucket, topic,
//! queue and KMS key policies, and the operator policy `eksaudit policy` prints for every command. Under every
//! consumer preset, with the pipeline's own KMS key, a key brought along and SSE-S3, in one region and several.
//! Zero findings: no unknown action, no wildcard where a resource ARN fits, no condition an action does not know.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use eksaudit_plan::permissions::{init_policy, member_role, operator_policy, Command as Op};
use eksaudit_plan::{Compare, DesiredState, Inputs};
use serde_json::Value;

const ACCOUNT: &str = "123456789012";

fn parliament() -> PathBuf {
    let venv = std::env::var_os("EKSAUDIT_PARLIAMENT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-parliament"));
    let path = venv.join("bin").join("parliament");
    assert!(
        path.exists(),
        "{} not found: run scripts/install-parliament.sh (it installs the pinned linter into .venv-parliament/)",
        path.display()
    );
    path
}

/// Lints every `.json` file in `dir`: the findings, one JSON document each.
fn lint(dir: &std::path::Path) -> Vec<Value> {
    let out = Command::new(parliament())
        .args(["--json", "--include_policy_extension", "json", "--directory"])
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run parliament");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Traceback"), "parliament crashed: {stderr}");
    stdout.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect(l)).collect()
}

/// What Parliament says that does not apply, by issue, the documents it is about and its detail; and why. Each must
/// still occur (so the list cannot outlive its reason); anything else is a failure.
const NOT_APPLICABLE: &[(&str, &str, &str, &str)] = &[
    (
        "MALFORMED",
        "trust_policy",
        "neither Resource nor NotResource",
        "a role's trust policy has no Resource in AWS's grammar; Parliament reads every document as a permissions policy",
    ),
    (
        "UNKNOWN_FEDERATION_SOURCE",
        "role.reader.trust_policy",
        "oidc-provider/sts.windows.net/",
        "Microsoft Entra ID's issuer (Sentinel's web identity) is not in Parliament's list of federation sources",
    ),
    (
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        "operator.apply",
        "Possible resource policy privilege escalation on arn:aws:s3:::eks-audit-",
        "apply exists to write the pipeline's bucket policies and lifecycle rules (without object permissions): whoever \
         may run it may write them; the grant is scoped to the pipeline's buckets",
    ),    (
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        "operator.apply",
        "Possible resource policy privilege escalation on arn:aws:s3:::ksoc-eks-",
        "the same grant on the rad preset's buckets, named as RAD's module names them (ksoc-eks-<hex>)",
    ),
];

const CONSUMERS: &[(&str, &str)] = &[
    ("forticnapp", "preset = \"forticnapp\"\ngenerate_external_id = true\ntenant = \"acme\""),
    ("rad", "preset = \"rad\""),
    ("sentinel", "preset = \"sentinel\"\nworkspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\""),
    (
        "generic-sns",
        "account_id = \"111122223333\"\nexternal_id = \"x-1\"\nsqs_queue_arn = \"arn:aws:sqs:us-west-2:111122223333:q\"",
    ),
    ("generic-sqs", "account_id = \"111122223333\"\nexternal_id = \"x-1\"\nnotify = \"sqs\""),
];

const BUCKETS: &[(&str, &str)] = &[
    ("own-key", ""),
    ("own-key-deleted", "[bucket]\non_destroy = \"delete\"\n"),
    (
        "brought-key",
        "[bucket]\nkms_key_arn = \"arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"\n",
    ),
    ("sse-s3", "[bucket]\nencryption = \"sse-s3\"\naccess_logging = false\non_destroy = \"delete\"\n"),
];

/// Without `[alerts]`, with it (the alerts role, its topic's policy, the key policy's alerts statement, the
/// operator's alerts grants), and with a topic of the user's own.
const ALERTS: &[(&str, &str)] = &[
    ("no-alerts", ""),
    ("alerts", "[alerts]\nnamespaces = [\"kube-system\"]\nemail = [\"secops@example.com\"]\n"),
    (
        "own-alerts-topic",
        "[alerts]\nusers = [\"kubernetes-admin\"]\ntopic_arn = \"arn:aws:sns:eu-central-1:123456789012:security-alerts\"\n",
    ),
];

const REGIONS: &[(&str, &[&str])] =
    &[("one", &["eu-central-1"]), ("three", &["eu-central-1", "us-east-1", "eu-west-1"])];

fn spec_text(consumer: &str, bucket: &str, alerts: &str, regions: &[&str], pinned: bool) -> String {
    let account = if pinned { format!("account_id = \"{ACCOUNT}\"\n") } else { String::new() };
    let mut s = format!("[pipeline]\nname = \"eks-audit\"\n{account}\n[consumer]\n{consumer}\n\n{bucket}\n{alerts}\n");
    for r in regions {
        s.push_str(&format!(
            "[[region]]\nname = \"{r}\"\nclusters = [\"prod-*\"]\nenable_audit_logging = true\nlog_retention_days = 90\n\n"
        ));
    }
    s
}

/// Every policy document of one spec, by a file name that says where it comes from.
fn documents(name: &str, src: &str) -> BTreeMap<String, Value> {
    let spec = eksaudit_spec::parse_spec(src).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let clusters: BTreeMap<String, Vec<String>> =
        spec.regions.iter().map(|r| (r.name.clone(), vec!["prod-1".to_string()])).collect();
    let desired = DesiredState::build(&Inputs { spec: &spec, account: ACCOUNT, clusters: &clusters });
    let mut out = BTreeMap::new();
    for r in &desired.resources {
        for (field, f) in &r.fields {
            if f.compare == Compare::Policy {
                out.insert(format!("{name}.{}.{field}", r.address), f.value.clone());
            }
        }
    }
    for (command, topic) in [
        (Op::Plan, None),
        (Op::Drift, Some("arn:aws:sns:eu-central-1:123456789012:alerts")),
        (Op::Apply, None),
        (Op::Destroy, None),
        (Op::Status, None),
    ] {
        out.insert(format!("{name}.operator.{}", command.name()), operator_policy(&spec, command, topic));
    }
    out
}

/// How many policy documents the lint covers (the README says so).
const DOCUMENTS: usize = 4_436;

#[test]
fn every_policy_eksaudit_writes_passes_parliament_with_zero_findings() {
    let dir = tempfile::tempdir().unwrap();
    let mut count = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (consumer, consumer_text) in CONSUMERS {
        for (bucket, bucket_text) in BUCKETS {
            for (regions, names) in REGIONS {
                // A key brought along is in one region: a spec with it has that region only.
                if *bucket == "brought-key" && names.len() > 1 {
                    continue;
                }
                for ((alerts, alerts_text), pinned) in ALERTS.iter().flat_map(|a| [(a, true), (a, false)]) {
                    let name =
                        format!("{consumer}.{bucket}.{alerts}.{regions}.{}", if pinned { "pinned" } else { "any" });
                    let src = spec_text(consumer_text, bucket_text, alerts_text, names, pinned);
                    for (file, doc) in documents(&name, &src) {
                        kinds.insert(
                            file.splitn(6, '.').nth(5).unwrap_or_default().replace(|c: char| c.is_ascii_digit(), ""),
                        );
                        std::fs::write(
                            dir.path().join(format!("{file}.json")),
                            serde_json::to_string_pretty(&doc).unwrap(),
                        )
                        .unwrap();
                        count += 1;
                    }
                }
            }
        }
    }
    // init's policy, which needs no spec: every commercial region, and regions of another partition named.
    let china = ["cn-north-1".to_string(), "cn-northwest-1".to_string()];
    for (file, doc) in
        [("init.all.operator.init", init_policy("aws", &[])), ("init.cn.operator.init", init_policy("aws-cn", &china))]
    {
        std::fs::write(dir.path().join(format!("{file}.json")), serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        count += 1;
    }
    // The member-account role of an organization (`policy --for member-role`): every command's policy merged, for
    // a spec with everything in three regions, and the role's trust.
    let organization = format!(
        "{}[accounts]\nrole_name = \"eksaudit-member\"\norganization = true\nexternal_id = \"eksaudit-members\"\n",
        spec_text(CONSUMERS[2].1, BUCKETS[1].1, ALERTS[1].1, REGIONS[1].1, false)
    );
    let spec = eksaudit_spec::parse_spec(&organization).unwrap_or_else(|e| panic!("member role: {e:?}"));
    let commands = [Op::Plan, Op::Drift, Op::Apply, Op::Destroy, Op::Status];
    let role = member_role(&spec, &commands, &format!("arn:aws:iam::{ACCOUNT}:role/eksaudit-ci"));
    for (file, doc) in [
        ("accounts.member-role.operator.member-role", &role["PolicyDocument"]),
        ("accounts.member-role.trust_policy", &role["AssumeRolePolicyDocument"]),
    ] {
        std::fs::write(dir.path().join(format!("{file}.json")), serde_json::to_string_pretty(doc).unwrap()).unwrap();
        count += 1;
    }
    let mut findings = lint(dir.path());
    for (issue, document, detail, why) in NOT_APPLICABLE {
        let before = findings.len();
        findings.retain(|f| {
            let file = f["location"]["filepath"].as_str().unwrap_or_default();
            !(f["issue"] == *issue && file.contains(document) && f["detail"].to_string().contains(detail))
        });
        assert!(findings.len() < before, "{issue} on {document} no longer happens ({why}): take it off the list");
    }
    assert!(
        findings.is_empty(),
        "{} finding(s) in {count} documents:\n{}",
        findings.len(),
        findings.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n")
    );
    // Every kind of document was linted: the key policy, both bucket policies, topic and queue policies, trusts,
    // permissions and the operator's policies, the alerts role's and the alerts topic's; exactly as many as the
    // README states (5 consumers × 4 bucket setups × 3 alerts setups × 2 region sets (a brought key: one) × pinned
    // or not, each with its resource policies and 5 operator policies: plan, drift, apply, destroy and status),
    // init's 2, and the member role's policy and trust.
    assert_eq!(count, DOCUMENTS, "the README's count of linted documents");
    for kind in [
        "kms_key.policy",
        "access_log_bucket.policy",
        "bucket.policy",
        "topic.policy",
        "queue.policy",
        "alerts_topic.policy",
        "alerts_dead_letter_queue.policy",
        "role.alerts.permissions",
        "role.alerts.trust_policy",
    ] {
        assert!(kinds.iter().any(|k| k.ends_with(kind)), "no {kind} among {kinds:?}");
    }
}

#[test]
fn parliament_does_find_what_it_looks_for() {
    // The vendor module's reader policy names an action that does not exist; eksaudit's table maps the call to
    // the action that does (s3:GetBucketNotification).
    let dir = tempfile::tempdir().unwrap();
    let bad = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetBucketNotificationConfiguration", "Resource": "arn:aws:s3:::b"
    }]});
    std::fs::write(dir.path().join("bad.json"), bad.to_string()).unwrap();
    let findings = lint(dir.path());
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["issue"], "UNKNOWN_ACTION");
}
