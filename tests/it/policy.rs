//! `eksaudit policy --for COMMAND`: the printed policy allows every AWS call the command makes.
//!
//! Two complementary checks:
//! - static: every SDK operation called in `crates/aws/src` is in the operation → IAM action table and allowed by
//!   the policies (reads by the plan policy, everything by apply ∪ destroy);
//! - dynamic: the real binary runs plan, drift, apply and destroy against moto through the recording proxy, and every call it
//!   makes — action, resource (bucket, role, topic, stream, log group, cluster) and the role it passes — is allowed
//!   by the policy `eksaudit policy --for COMMAND --json` printed for the same spec.

use std::collections::{BTreeMap, BTreeSet};

use eksaudit_plan::permissions::{self, iam_actions_for};
use eksaudit_test_support::{Moto, Request, MOTO_ACCOUNT};
use serde_json::Value;

use crate::support::{Run, Workdir};

// --- IAM policy evaluation (Allow statements, the wildcards and conditions eksaudit's policies use) ----------

/// IAM's wildcard match: `*` any run of characters, `?` any one.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Value::Null => Vec::new(),
        other => panic!("unexpected policy value {other}"),
    }
}

fn statements(policy: &Value) -> &Vec<Value> {
    policy["Statement"].as_array().expect("a policy document with statements")
}

fn action_matches(statement: &Value, action: &str) -> bool {
    assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
    assert_eq!(statement["Effect"], "Allow", "eksaudit's policies only allow");
    strings(&statement["Action"]).iter().any(|a| wildcard(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
}

fn conditions_hold(statement: &Value, context: &[(&str, &str)]) -> bool {
    let Some(conditions) = statement.get("Condition").and_then(Value::as_object) else { return true };
    conditions.iter().all(|(operator, keys)| {
        keys.as_object().expect("condition keys").iter().all(|(key, wanted)| {
            let Some((_, value)) = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else { return false };
            let wanted = strings(wanted);
            match operator.as_str() {
                "StringEquals" => wanted.iter().any(|w| w == value),
                "StringLike" => wanted.iter().any(|w| wildcard(w, value)),
                other => panic!("condition operator {other} not evaluated by this test"),
            }
        })
    })
}

/// Whether some statement allows `action` on `resource` in `context`.
fn allows(policy: &Value, action: &str, resource: &str, context: &[(&str, &str)]) -> bool {
    statements(policy).iter().any(|s| {
        action_matches(s, action)
            && strings(&s["Resource"]).iter().any(|r| wildcard(r, resource))
            && conditions_hold(s, context)
    })
}

/// Whether some statement allows `action` on anything.
fn allows_action(policy: &Value, action: &str) -> bool {
    statements(policy).iter().any(|s| action_matches(s, action))
}

fn passes_role_to(policy: &Value, service: &str) -> bool {
    statements(policy)
        .iter()
        .any(|s| action_matches(s, "iam:PassRole") && conditions_hold(s, &[("iam:PassedToService", service)]))
}

#[test]
fn the_evaluator_matches_like_iam() {
    assert!(wildcard("arn:aws:s3:::eks-audit-*-eu-central-1", "arn:aws:s3:::eks-audit-123456789012-eu-central-1"));
    assert!(wildcard(
        "arn:aws:logs:r:*:log-group:/aws/eks/*/cluster:*",
        "arn:aws:logs:r:1:log-group:/aws/eks/a/cluster:*"
    ));
    assert!(!wildcard(
        "arn:aws:logs:r:*:log-group:/aws/eks/*/cluster:*",
        "arn:aws:logs:r:1:log-group:/aws/eks/a/cluster"
    ));
    assert!(wildcard("cluster/stage-?", "cluster/stage-a") && !wildcard("cluster/stage-?", "cluster/stage-ab"));
    assert!(!wildcard("role/eks-audit-reader", "role/eks-audit-reader2"));
    let policy = serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:r",
        "Condition": {"StringEquals": {"iam:PassedToService": "firehose.amazonaws.com"}}}]});
    assert!(allows(&policy, "IAM:passrole", "arn:r", &[("iam:PassedToService", "firehose.amazonaws.com")]));
    assert!(!allows(&policy, "iam:PassRole", "arn:r", &[("iam:PassedToService", "logs.amazonaws.com")]));
    assert!(!allows(&policy, "iam:PassRole", "arn:r", &[]));
}

// --- Running `eksaudit policy` -----------------------------------------------------------------------------

fn policy(w: &Workdir, command: &str) -> Value {
    let run = w.run(None, &["policy", "--for", command, "--json"]);
    run.assert_no_panic();
    assert_eq!(run.code(), 0, "policy --for {command}: {}", run.stderr());
    // The policy alone on stdout; on stderr nothing, or the warning that IAM will refuse it as a managed policy.
    let size = iam_size(&run.stdout());
    if size > MANAGED_POLICY_LIMIT {
        assert!(
            run.stderr().starts_with(&format!("warning: this policy is {size} characters")),
            "policy --for {command} ({size} characters): {}",
            run.stderr()
        );
    } else {
        assert!(run.stderr().is_empty(), "--json prints the policy alone: {}", run.stderr());
    }
    run.json()
}

/// IAM's limit on a managed policy (its quotas page: 6,144 characters, whitespace not counted).
const MANAGED_POLICY_LIMIT: usize = 6_144;

/// A policy's size as IAM counts it: its characters but whitespace, as printed.
fn iam_size(printed: &str) -> usize {
    printed.chars().filter(|c| !c.is_whitespace()).count()
}

/// Every option that widens the policy, with the account pinned to moto's so resources are matched exactly.
const SPEC: &str = r#"
[pipeline]
name = "eks-audit"
account_id = "123456789012"
tags = { team = "security" }

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[bucket]
on_destroy = "delete"

[[region]]
name = "eu-central-1"
clusters = ["prod-1", "stage-*"]
enable_audit_logging = true
log_retention_days = 30

[[region]]
name = "us-east-1"
clusters = ["*"]
"#;

/// `[alerts]` added to a spec.
const ALERTS: &str = r#"
[alerts]
users = ["kubernetes-admin"]
email = ["secops@example.com"]
"#;

const BUCKET_EU: &str = "eks-audit-123456789012-eu-central-1";

fn eu_only(spec: &str) -> String {
    spec.split("\n[[region]]\nname = \"us-east-1\"").next().unwrap().to_string()
}

#[test]
fn prints_a_heading_on_stderr_and_the_policy_on_stdout() {
    let w = Workdir::with_spec(SPEC);
    let run = w.run(None, &["policy", "--for", "apply"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let stderr = run.stderr();
    let stderr: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        stderr[0],
        "# Least-privilege policy for `eksaudit apply` with eksaudit.toml; attach it to the role that runs it"
    );
    // Two regions: past what IAM takes in a managed policy, within a role's inline policies.
    let size = iam_size(&run.stdout());
    assert!((MANAGED_POLICY_LIMIT..10_240).contains(&size), "{size}");
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    assert!(stderr[1].starts_with(&format!("warning: this policy is {size} characters")), "{}", stderr[1]);
    for advice in ["over the 6144 IAM allows in a managed policy", "aws iam put-role-policy", "--split"] {
        assert!(stderr[1].contains(advice), "{advice}: {}", stderr[1]);
    }
    let doc = run.json();
    assert_eq!(doc, policy(&w, "apply"));
    assert!(run.stdout().starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\""));
}

/// With `[alerts]` in two regions apply's policy is past even a role's inline policies: eksaudit says so, and
/// `--split` prints managed policies IAM takes, which together are the policy, statement for statement.
#[test]
fn a_policy_too_large_for_iam_says_so_and_split_prints_managed_policies_that_together_are_it() {
    let w = Workdir::with_spec(&format!("{SPEC}{ALERTS}"));
    let run = w.run(None, &["policy", "--for", "apply"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let size = iam_size(&run.stdout());
    assert!(size > 10_240, "{size}");
    let warning = run.stderr().lines().nth(1).unwrap_or_default().to_string();
    for advice in ["over the 6144 IAM allows in a managed policy and the 10240", "pass --split"] {
        assert!(warning.contains(advice), "{advice}: {warning}");
    }
    assert!(!warning.contains("put-role-policy"), "inline does not fit either: {warning}");
    // Past the inline limit even in one region: `[alerts]` alone takes it there.
    let one_region = Workdir::with_spec(&format!("{}{ALERTS}", eu_only(SPEC)));
    let run = one_region.run(None, &["policy", "--for", "apply"]);
    assert!(iam_size(&run.stdout()) > 10_240, "{}", iam_size(&run.stdout()));
    assert!(run.stderr().contains("pass --split"), "{}", run.stderr());
    let whole = policy(&w, "apply");

    let split = w.run(None, &["policy", "--for", "apply", "--split"]);
    assert_eq!(split.code(), 0, "{}", split.stderr());
    let parts: Vec<Value> = serde_json::from_str(&split.stdout()).expect("a JSON array of policies");
    assert!(parts.len() >= 2, "{}", parts.len());
    assert_eq!(
        split.stderr().trim(),
        format!(
            "# Least-privilege policy for `eksaudit apply` with eksaudit.toml, as {} managed policies of at most \
             6144 characters each; attach every one to the role that runs it",
            parts.len()
        )
    );
    let mut statements = Vec::new();
    for part in &parts {
        let printed = serde_json::to_string_pretty(part).unwrap();
        assert!(iam_size(&printed) <= MANAGED_POLICY_LIMIT, "{} characters", iam_size(&printed));
        assert_eq!(part["Version"], "2012-10-17");
        statements.extend(statements_of(part));
    }
    let mut expected = statements_of(&whole);
    expected.sort();
    statements.sort();
    assert_eq!(statements, expected, "every statement once, unchanged");

    let json = w.run(None, &["policy", "--for", "apply", "--split", "--json"]);
    assert!(json.stderr().is_empty(), "{}", json.stderr());
    assert_eq!(serde_json::from_str::<Vec<Value>>(&json.stdout()).unwrap(), parts);
    let member = w.run(None, &["policy", "--for", "member-role", "--split"]);
    assert_eq!(member.code(), 1);
    assert!(member.stderr().contains("--split is for the operator policies"), "{}", member.stderr());
}

/// A policy's statements, each as compact JSON.
fn statements_of(policy: &Value) -> Vec<String> {
    statements(policy).iter().map(Value::to_string).collect()
}

#[test]
fn notify_topic_is_for_drift_only_and_must_be_a_topic_arn() {
    let w = Workdir::with_spec(SPEC);
    let topic = "arn:aws:sns:eu-central-1:123456789012:security-alerts";
    for command in ["plan", "apply", "destroy"] {
        let run = w.run(None, &["policy", "--for", command, "--notify-topic", topic]);
        assert_eq!(run.code(), 1, "{command}");
        assert!(run.stderr().contains("--notify-topic is only for `--for drift`"), "{}", run.stderr());
        assert!(run.stdout().is_empty());
    }
    for bad in ["security-alerts", "arn:aws:sns:eu-central-1:123456789012:*", "arn:aws:sqs:eu-central-1:123456789012:q"]
    {
        let run = w.run(None, &["policy", "--for", "drift", "--notify-topic", bad]);
        assert_eq!(run.code(), 1, "{bad}");
        assert!(run.stderr().contains("--notify-topic"), "{}", run.stderr());
    }

    // drift: same reads as plan, the delivery reads of status (its delivery findings), plus sns:Publish on
    // exactly the notify topic.
    let plan = policy(&w, "plan");
    let run = w.run(None, &["policy", "--for", "drift", "--notify-topic", topic, "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let drift = run.json();
    for s in statements(&plan) {
        assert!(statements(&drift).contains(s), "drift lacks plan's {}", s["Sid"]);
    }
    let extra: Vec<&Value> = statements(&drift).iter().filter(|s| !statements(&plan).contains(s)).collect();
    let (publish, delivery): (Vec<&Value>, Vec<&Value>) =
        extra.into_iter().partition(|s| s["Sid"] == "PublishDriftNotifications");
    assert_eq!(publish.len(), 1, "{publish:?}");
    assert_eq!(strings(&publish[0]["Action"]), ["sns:Publish"]);
    assert_eq!(publish[0]["Resource"], topic);
    assert_delivery_reads_of_status(&w, &delivery);
    let without_topic = policy(&w, "drift");
    let extra: Vec<&Value> = statements(&without_topic).iter().filter(|s| !statements(&plan).contains(s)).collect();
    assert_delivery_reads_of_status(&w, &extra);
    assert_eq!(statements(&without_topic).len(), statements(&plan).len() + extra.len());
}

/// What drift adds to plan's reads for its delivery findings: exactly status's reads of the delivery chain
/// (CloudWatch metrics, the audit streams, Firehose's error lines, the newest object), no more.
fn assert_delivery_reads_of_status(w: &Workdir, extra: &[&Value]) {
    let status = policy(w, "status");
    let mut actions: Vec<String> = extra.iter().flat_map(|s| strings(&s["Action"])).collect();
    actions.sort();
    assert_eq!(actions, ["cloudwatch:GetMetricData", "logs:DescribeLogStreams", "logs:GetLogEvents", "s3:ListBucket"]);
    for s in extra {
        assert!(statements(&status).contains(s), "{} is not status's", s["Sid"]);
    }
}

#[test]
fn an_invalid_spec_prints_no_policy() {
    let w = Workdir::with_spec("[pipeline]\nname = \"X\"\n");
    let run = w.run(None, &["policy", "--for", "plan"]);
    assert_eq!(run.code(), 1);
    assert!(run.stdout().is_empty());
}

// --- Static: every SDK call in crates/aws ------------------------------------------------------------------

const CLIENTS: [&str; 13] = [
    "eks",
    "s3",
    "sns",
    "sqs",
    "firehose",
    "logs",
    "iam",
    "sts",
    "kms",
    "lambda",
    "cloudwatch",
    "tag",
    "organizations",
];

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// How every AWS API operation name starts (accessors of SDK types, such as a destination's `s3.bucket_arn()`,
/// do not).
const VERBS: [&str; 32] = [
    "abort",
    "add",
    "assume",
    "associate",
    "attach",
    "batch",
    "cancel",
    "complete",
    "copy",
    "create",
    "delete",
    "deregister",
    "describe",
    "detach",
    "disable",
    "disassociate",
    "enable",
    "get",
    "head",
    "list",
    "publish",
    "put",
    "register",
    "remove",
    "schedule",
    "set",
    "start",
    "subscribe",
    "tag",
    "unsubscribe",
    "untag",
    "update",
];

fn is_read(action: &str) -> bool {
    let name = action.split_once(':').map_or(action, |(_, n)| n);
    // sts:AssumeRole (into a member account's role, `[accounts]`) changes nothing: every command makes it.
    ["Get", "List", "Describe"].iter().any(|p| name.starts_with(p)) || action == "sts:AssumeRole"
}

/// `service:Operation` of every SDK operation builder called on a client (`c.s3.put_bucket_policy()`,
/// `iam.get_role()`, `self.aws.iam().put_role_policy()`, chains split over lines included).
fn sdk_operations(source: &str) -> BTreeSet<String> {
    // Comments out: `//` outside a string literal (an even number of quotes before it) to the end of the line.
    let uncommented = |line: &str| {
        let cut = line.match_indices("//").find(|(at, _)| line[..*at].matches('"').count().is_multiple_of(2));
        cut.map_or(line, |(at, _)| &line[..at]).to_string()
    };
    let code: String = source.lines().map(uncommented).collect::<Vec<_>>().join("\n");
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = BTreeSet::new();
    for client in CLIENTS {
        for (at, _) in compact.match_indices(client) {
            if compact[..at].chars().next_back().is_some_and(ident) {
                continue;
            }
            let rest = &compact[at + client.len()..];
            let rest = rest.strip_prefix("()").unwrap_or(rest);
            let Some(rest) = rest.strip_prefix('.') else { continue };
            let name: String = rest.chars().take_while(|c| ident(*c)).collect();
            let verb = name.split('_').next().unwrap_or_default();
            if rest[name.len()..].starts_with('(') && VERBS.contains(&verb) {
                found.insert(format!("{client}:{}", pascal(&name)));
            }
        }
    }
    found
}

/// Every `.rs` file under `crates/aws/src`, folders included (so moving code into a folder cannot quietly shrink
/// what the scan checks), by path relative to it.
fn aws_sources() -> BTreeMap<String, String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("crates/aws/src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(name, std::fs::read_to_string(&path).expect("read source"));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/aws/src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// Reused roles (read with ListRolePolicies, GetPolicy, GetPolicyVersion), no pinned account.
const REUSED: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"

[iam]
firehose_role_arn = "arn:aws:iam::123456789012:role/shared-firehose"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

/// Microsoft Sentinel: an OIDC provider, a web-identity reader, SQS queues.
const SENTINEL: &str = r#"
[pipeline]
name = "eks-audit"
account_id = "123456789012"

[consumer]
preset = "sentinel"
workspace_id = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"

[bucket]
on_destroy = "delete"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

#[test]
fn every_sdk_call_in_the_aws_crate_is_in_the_table_and_allowed() {
    let (full, reused, sentinel) = (Workdir::with_spec(SPEC), Workdir::with_spec(REUSED), Workdir::with_spec(SENTINEL));
    let alerts = Workdir::with_spec(&format!("{SPEC}{ALERTS}"));
    // With [accounts] the caller lists the member accounts and assumes their role: its plan policy allows that.
    let members = Workdir::with_spec(&format!(
        "{SPEC}\n[accounts]\nrole_name = \"eksaudit-member\"\norganizational_units = [\"ou-ab12-cdefgh34\"]\n"
    ));
    let plans = [
        policy(&full, "plan"),
        policy(&reused, "plan"),
        policy(&sentinel, "plan"),
        policy(&alerts, "plan"),
        policy(&members, "plan"),
    ];
    // `eksaudit status`'s reads (health.rs) are the status policy's, and that policy grants no write.
    let statuses = [policy(&full, "status"), policy(&sentinel, "status")];
    let topic = "arn:aws:sns:eu-central-1:123456789012:alerts";
    let run = full.run(None, &["policy", "--for", "drift", "--notify-topic", topic, "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let drift_notify = run.json();
    let changes = [
        policy(&full, "apply"),
        policy(&full, "destroy"),
        policy(&reused, "apply"),
        policy(&reused, "destroy"),
        policy(&sentinel, "apply"),
        policy(&sentinel, "destroy"),
        policy(&alerts, "apply"),
        policy(&alerts, "destroy"),
    ];
    let mut called = BTreeSet::new();
    let mut problems = Vec::new();
    for (file, source) in aws_sources() {
        // Classified by the action, not the file: a kind's module reads and writes. Reads are what plan (and
        // drift) make, so the plan policy allows them; writes are apply's and destroy's, and drift's alert
        // (sns:Publish on exactly the --notify-topic). The plan policy never allows a write, and the generic walk
        // (observe.rs) never writes.
        for name in sdk_operations(&source) {
            called.insert(name.clone());
            let Some(op) = permissions::operation(&name) else {
                problems.push(format!("{file}: {name} has no entry in permissions::OPERATIONS"));
                continue;
            };
            for action in iam_actions_for(&name) {
                // A kind's module also reads while it changes (waiting on an update, the orphaned key search,
                // emptying a bucket): such reads need only the apply or destroy policy. Which reads plan makes
                // is checked call by call in `plan_drift_apply_and_destroy_make_only_calls_their_policies_allow`.
                let in_kind = file.starts_with("kinds/");
                let allowed = if is_read(action) && file == "health.rs" {
                    statuses.iter().any(|p| allows_action(p, action))
                } else if is_read(action) {
                    plans.iter().any(|p| allows_action(p, action))
                        || (in_kind && changes.iter().any(|p| allows_action(p, action)))
                } else {
                    if file == "observe.rs" {
                        problems.push(format!("observe.rs only reads, but calls {name} ({action})"));
                    }
                    if plans.iter().any(|p| allows_action(p, action)) {
                        problems.push(format!("{file}: the plan policy allows {action}"));
                    }
                    if statuses.iter().any(|p| allows_action(p, action)) {
                        problems.push(format!("{file}: the status policy allows {action}"));
                    }
                    changes.iter().any(|p| allows_action(p, action)) || allows(&drift_notify, action, topic, &[])
                };
                if !allowed {
                    let by = match (is_read(action), in_kind) {
                        (true, false) if file == "health.rs" => "status",
                        (true, false) => "plan",
                        (true, true) => "plan, apply or destroy",
                        (false, _) => "apply, destroy or drift --notify-topic",
                    };
                    problems.push(format!("{file}: {name} needs {action}, which no {by} policy allows"));
                }
            }
            if let Some(service) = op.passes_role_to {
                if !changes.iter().any(|p| passes_role_to(p, service)) {
                    problems.push(format!("{file}: {name} passes a role to {service}; no policy allows iam:PassRole"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The scan finds the calls (not silently nothing), and the table holds nothing the code does not call.
    for expected in ["sts:GetCallerIdentity", "s3:HeadBucket", "iam:PutRolePolicy", "logs:PutSubscriptionFilter"] {
        assert!(called.contains(expected), "the scan missed {expected}: {called:?}");
    }
    // The SDK spells some names in another case than the API (`GetOpenIdConnectProvider`).
    let called: BTreeSet<String> = called.iter().map(|c| c.to_ascii_lowercase()).collect();
    let unused: Vec<String> = permissions::OPERATIONS
        .iter()
        .map(|o| format!("{}:{}", o.service, o.name))
        .filter(|o| !called.contains(&o.to_ascii_lowercase()))
        .collect();
    assert!(unused.is_empty(), "in the table but never called: {unused:?}");
}

#[test]
fn the_scan_reads_builder_chains_not_accessors() {
    let source = r#"
        let out = c.s3
            .get_bucket_tagging()   // then c.sns.delete_topic()
            .bucket(name).send().await;
        // c.sns.delete_topic()
        self.aws.iam().put_role_policy().send();
        let iam = self.aws.iam();
        iam.tag_role().send();
        if let Some(s3) = destination.extended_s3() { s3.bucket_arn(); s3.role_arn(); }
        Error::call("logs:CreateLogGroup", name, e);
        let principal = "firehose.amazonaws.com";
    "#;
    let found: Vec<String> = sdk_operations(source).into_iter().collect();
    assert_eq!(found, ["iam:PutRolePolicy", "iam:TagRole", "s3:GetBucketTagging"]);
}

// --- Dynamic: every request the binary makes, whole, as the recording proxy kept it ------------------------

/// What the policy check reads of a recorded request.
trait RequestExt {
    fn scope(&self) -> (String, String);
    fn path_and_query(&self) -> (String, BTreeMap<String, String>);
}

impl RequestExt for Request {
    /// Region and service from the SigV4 credential scope: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
    fn scope(&self) -> (String, String) {
        let auth = self.header("authorization").unwrap_or_else(|| panic!("unsigned request {}", self.target));
        let credential = auth.split("Credential=").nth(1).expect("credential").split(',').next().unwrap();
        let parts: Vec<&str> = credential.split('/').collect();
        (parts[2].to_string(), parts[3].to_string())
    }

    fn path_and_query(&self) -> (String, BTreeMap<String, String>) {
        let (path, query) = self.target.split_once('?').unwrap_or((&self.target, ""));
        (decode(path), form(query))
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

// --- What each call needs --------------------------------------------------------------------------------

/// The API operation of a REST call (S3 path-style, EKS), from method, path and query.
fn rest_operation(service: &str, method: &str, path: &str, query: &BTreeMap<String, String>) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
    let q = |k: &str| query.contains_key(k);
    match service {
        "s3" => {
            let object = segments.len() == 2 && !segments[1].is_empty();
            Some(match (method, object) {
                ("HEAD", false) => "HeadBucket",
                ("GET", false) if q("tagging") => "GetBucketTagging",
                ("GET", false) if q("publicAccessBlock") => "GetPublicAccessBlock",
                ("GET", false) if q("ownershipControls") => "GetBucketOwnershipControls",
                ("GET", false) if q("encryption") => "GetBucketEncryption",
                ("GET", false) if q("policy") => "GetBucketPolicy",
                ("GET", false) if q("versioning") => "GetBucketVersioning",
                ("GET", false) if q("lifecycle") => "GetBucketLifecycleConfiguration",
                ("GET", false) if q("notification") => "GetBucketNotificationConfiguration",
                ("GET", false) if q("versions") => "ListObjectVersions",
                ("GET", false) if q("uploads") => "ListMultipartUploads",
                ("GET", false) if query.get("list-type").is_some_and(|t| t == "2") => "ListObjectsV2",
                ("PUT", false) if q("tagging") => "PutBucketTagging",
                ("PUT", false) if q("publicAccessBlock") => "PutPublicAccessBlock",
                ("PUT", false) if q("ownershipControls") => "PutBucketOwnershipControls",
                ("PUT", false) if q("encryption") => "PutBucketEncryption",
                ("PUT", false) if q("policy") => "PutBucketPolicy",
                ("PUT", false) if q("versioning") => "PutBucketVersioning",
                ("PUT", false) if q("logging") => "PutBucketLogging",
                ("GET", false) if q("logging") => "GetBucketLogging",
                ("PUT", false) if q("lifecycle") => "PutBucketLifecycleConfiguration",
                ("PUT", false) if q("notification") => "PutBucketNotificationConfiguration",
                ("PUT", false) if query.keys().all(|k| k == "x-id") => "CreateBucket",
                ("POST", false) if q("delete") => "DeleteObjects",
                ("DELETE", false) if query.keys().all(|k| k == "x-id") => "DeleteBucket",
                ("DELETE", true) if q("uploadId") => "AbortMultipartUpload",
                _ => return None,
            })
        }
        "lambda" => {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            Some(match (method, parts.as_slice()) {
                ("GET", [_, "functions", _]) => "GetFunction",
                ("GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
                ("GET", [_, "functions", _, "policy"]) => "GetPolicy",
                ("POST", [_, "functions"]) => "CreateFunction",
                ("PUT", [_, "functions", _, "code"]) => "UpdateFunctionCode",
                ("PUT", [_, "functions", _, "configuration"]) => "UpdateFunctionConfiguration",
                ("POST", [_, "functions", _, "policy"]) => "AddPermission",
                ("DELETE", [_, "functions", _, "policy", _]) => "RemovePermission",
                ("DELETE", [_, "functions", _]) => "DeleteFunction",
                ("POST", [_, "tags", ..]) => "TagResource",
                _ => return None,
            })
        }
        "eks" => {
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            Some(match (method, parts.as_slice()) {
                ("GET", ["clusters"]) => "ListClusters",
                ("GET", ["clusters", _]) => "DescribeCluster",
                ("POST", ["clusters", _, "update-config"]) => "UpdateClusterConfig",
                ("GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
                _ => return None,
            })
        }
        _ => None,
    }
}

/// One permission a call needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Need {
    call: String,
    action: String,
    resource: String,
    passed_to: Option<&'static str>,
}

/// `service:Operation` of a captured call, and every permission it needs.
fn needs(r: &Request) -> (String, Vec<Need>) {
    let (region, service) = r.scope();
    // CloudWatch signs as `monitoring`, the Resource Groups Tagging API as `tagging`; IAM names them `cloudwatch`
    // and `tag`.
    let service = match service.as_str() {
        "monitoring" => "cloudwatch".to_string(),
        "tagging" => "tag".to_string(),
        _ => service,
    };
    let (path, query) = r.path_and_query();
    let params = form(&String::from_utf8_lossy(&r.body));
    let json: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let operation = if let Some(target) = r.header("x-amz-target") {
        target.rsplit('.').next().unwrap().to_string()
    } else if let Some(action) = params.get("Action").or(query.get("Action")) {
        action.clone()
    } else if let Some((_, op)) = path.split_once("/operation/") {
        // Smithy RPC v2 CBOR (CloudWatch): `/service/<Service>/operation/<Operation>`.
        op.to_string()
    } else {
        rest_operation(&service, &r.method, &path, &query)
            .unwrap_or_else(|| panic!("no operation known for {service} {} {}", r.method, r.target))
            .to_string()
    };
    let call = format!("{service}:{operation}");
    let op = permissions::operation(&call).unwrap_or_else(|| panic!("{call} is not in permissions::OPERATIONS"));
    let account = MOTO_ACCOUNT;
    let param = |k: &str| params.get(k).cloned().unwrap_or_else(|| panic!("{call}: no {k} in {params:?}"));
    let field = |k: &str| json[k].as_str().map(str::to_string).unwrap_or_else(|| panic!("{call}: no {k} in {json}"));
    let log_group = |name: &str| {
        let group = format!("arn:aws:logs:{region}:{account}:log-group:{name}");
        vec![format!("{group}:*"), group]
    };
    let bucket = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
    let resources: Vec<String> = match (service.as_str(), operation.as_str()) {
        ("sts", _) | ("eks", "ListClusters") | ("logs", "DescribeLogGroups") | ("cloudwatch", _) | ("tag", _) => {
            vec!["*".into()]
        }
        ("iam", "GetPolicy" | "GetPolicyVersion") => vec![param("PolicyArn")],
        ("iam", "ListRoles") => vec![format!("arn:aws:iam::{account}:role/*")],
        ("iam", "CreateOpenIDConnectProvider") => {
            let url = param("Url");
            vec![format!("arn:aws:iam::{account}:oidc-provider/{}", url.trim_start_matches("https://"))]
        }
        ("iam", op) if op.contains("OpenIDConnectProvider") => vec![param("OpenIDConnectProviderArn")],
        ("iam", _) => vec![format!("arn:aws:iam::{account}:role/{}", param("RoleName"))],
        ("sns", "CreateTopic") => vec![format!("arn:aws:sns:{region}:{account}:{}", param("Name"))],
        ("sns", "TagResource" | "ListTagsForResource") => vec![param("ResourceArn")],
        ("sns", "Unsubscribe") => vec![param("SubscriptionArn").rsplit_once(':').unwrap().0.to_string()],
        ("sns", _) => vec![param("TopicArn")],
        ("firehose", _) => {
            vec![format!("arn:aws:firehose:{region}:{account}:deliverystream/{}", field("DeliveryStreamName"))]
        }
        ("logs", "TagResource" | "UntagResource" | "ListTagsForResource") => vec![field("resourceArn")],
        ("sqs", "CreateQueue" | "GetQueueUrl") => {
            vec![format!("arn:aws:sqs:{region}:{account}:{}", field("QueueName"))]
        }
        ("sqs", _) => {
            let url = field("QueueUrl");
            vec![format!("arn:aws:sqs:{region}:{account}:{}", url.rsplit('/').next().unwrap())]
        }
        ("logs", _) => log_group(&field("logGroupName")),
        ("s3", "DeleteObjects") => {
            let xml = String::from_utf8_lossy(&r.body).into_owned();
            let keys: Vec<String> =
                xml.split("<Key>").skip(1).map(|k| k.split("</Key>").next().unwrap().to_string()).collect();
            assert!(!keys.is_empty(), "DeleteObjects without keys: {xml}");
            keys.iter().map(|k| format!("arn:aws:s3:::{bucket}/{k}")).collect()
        }
        ("s3", "AbortMultipartUpload") => vec![format!("arn:aws:s3:::{}", path.trim_start_matches('/'))],
        ("s3", _) => vec![format!("arn:aws:s3:::{bucket}")],
        ("lambda", "CreateFunction") => {
            vec![format!("arn:aws:lambda:{region}:{account}:function:{}", field("FunctionName"))]
        }
        ("lambda", "TagResource") => {
            vec![decode(path.trim_start_matches('/').splitn(3, '/').nth(2).unwrap())]
        }
        ("lambda", _) => {
            let function = path.trim_start_matches('/').split('/').nth(2).unwrap();
            vec![format!("arn:aws:lambda:{region}:{account}:function:{function}")]
        }
        ("eks", _) => {
            let cluster = path.trim_start_matches('/').split('/').nth(1).unwrap();
            vec![format!("arn:aws:eks:{region}:{account}:cluster/{cluster}")]
        }
        // IAM authorises a KMS call on the key, also when the call names it by its alias (the key behind it).
        // CreateKey names no key; ListAliases names one (KeyId) but IAM authorises it on "*" only.
        ("kms", "CreateKey" | "ListKeys" | "ListAliases") => vec!["*".into()],
        ("kms", "CreateAlias") => vec![
            format!("arn:aws:kms:{region}:{account}:{}", field("AliasName")),
            format!("arn:aws:kms:{region}:{account}:key/{}", field("TargetKeyId")),
        ],
        ("kms", _) => {
            let id = field("KeyId");
            vec![format!(
                "arn:aws:kms:{region}:{account}:key/{}",
                if id.starts_with("alias/") { "behind-alias" } else { id.as_str() }
            )]
        }
        (other, _) => panic!("no resource mapping for service {other}"),
    };
    let mut out: Vec<Need> = iam_actions_for(&call)
        .into_iter()
        .flat_map(|action| {
            resources.iter().map(move |resource| Need {
                call: String::new(),
                action: action.to_string(),
                resource: resource.clone(),
                passed_to: None,
            })
        })
        .collect();
    // A subscription filter to a Lambda function (`[alerts]`) passes no role.
    let lambda_filter = operation == "PutSubscriptionFilter" && json["roleArn"].is_null();
    if let Some(to) = op.passes_role_to.filter(|_| !lambda_filter) {
        let role = match operation.as_str() {
            "CreateDeliveryStream" => json["ExtendedS3DestinationConfiguration"]["RoleARN"].as_str(),
            "UpdateDestination" => json["ExtendedS3DestinationUpdate"]["RoleARN"].as_str(),
            "PutSubscriptionFilter" => json["roleArn"].as_str(),
            "CreateFunction" | "UpdateFunctionConfiguration" => json["Role"].as_str(),
            other => panic!("where does {other} name the role it passes?"),
        };
        let role = role.unwrap_or_else(|| panic!("{call} passes no role: {json}"));
        out.push(Need {
            call: String::new(),
            action: "iam:PassRole".into(),
            resource: role.into(),
            passed_to: Some(to),
        });
    }
    for n in &mut out {
        n.call = call.clone();
    }
    (call, out)
}

/// Runs `eksaudit ARGS` through the recording proxy and asserts every call it made is allowed by `policy`.
/// Returns the run and the calls made.
fn run_allowed(moto: &Moto, w: &Workdir, args: &[&str], policy: &Value) -> (Run, BTreeSet<String>) {
    moto.recorder().reset();
    let run = w.run(Some(&moto.endpoint()), args);
    run.assert_no_panic();
    let requests = moto.recorder().requests();
    assert!(!requests.is_empty(), "{args:?} made no AWS call");

    let mut calls = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for r in &requests {
        let (call, needs) = needs(r);
        calls.insert(call);
        for n in needs {
            let context: Vec<(&str, &str)> = n.passed_to.map(|s| vec![("iam:PassedToService", s)]).unwrap_or_default();
            if !allows(policy, &n.action, &n.resource, &context) {
                denied.insert(n);
            }
        }
    }
    let denied: Vec<String> = denied
        .iter()
        .map(|n| {
            let to = n.passed_to.map(|s| format!(" (passed to {s})")).unwrap_or_default();
            format!("{}: {} on {}{to}", n.call, n.action, n.resource)
        })
        .collect();
    assert!(
        denied.is_empty(),
        "`eksaudit {}` made calls its policy does not allow:\n{}\npolicy: {policy:#}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        denied.join("\n"),
        run.stdout(),
        run.stderr()
    );
    (run, calls)
}

async fn setup(moto: &Moto) {
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    moto.create_cluster("eu-central-1", "stage-a", false).await;
    moto.create_cluster("us-east-1", "other", true).await;
}

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code(), 0, "{what} failed:\n{}\n{}", run.stdout(), run.stderr());
}

#[tokio::test]
async fn plan_drift_apply_and_destroy_make_only_calls_their_policies_allow() {
    let moto = Moto::start();
    setup(&moto).await;
    let mut calls: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut record = |command: &'static str, made: BTreeSet<String>| calls.entry(command).or_default().extend(made);

    // An empty account: plan reads what it can, then apply creates one region.
    let w = Workdir::with_spec(&eu_only(SPEC));
    let (_, made) = run_allowed(&moto, &w, &["plan"], &policy(&w, "plan"));
    record("plan", made);
    // Destroy there looks for a key an interrupted apply left without its alias, past someone else's key.
    let theirs = moto.region("eu-central-1").kms.create_key().description("someone else's").send().await.unwrap();
    assert!(theirs.key_metadata().is_some());
    let (run, made) = run_allowed(&moto, &w, &["destroy", "--auto-approve"], &policy(&w, "destroy"));
    ok(&run, "destroy of nothing");
    for read in ["kms:ListKeys", "kms:ListResourceTags"] {
        assert!(made.contains(read), "destroy made no {read}: {made:?}");
    }
    record("destroy", made);
    let (run, made) = run_allowed(&moto, &w, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply");
    record("apply", made);

    // A second region, other tags, another buffer and external id: roles, stream, topic, tags updated in place;
    // and a managed policy attached to the reader by hand is detached.
    let iam = moto.aws().iam().clone();
    let grant = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let extra = iam.create_policy().policy_name("by-hand").policy_document(grant).send().await.unwrap();
    let extra = extra.policy().unwrap().arn().unwrap().to_string();
    iam.attach_role_policy().role_name("eks-audit-reader").policy_arn(&extra).send().await.unwrap();
    let changed = SPEC
        .replace("team = \"security\"", "team = \"secops\"")
        .replace("external_id = \"external-id-1\"", "external_id = \"external-id-2\"")
        .replace("on_destroy = \"delete\"", "on_destroy = \"delete\"\n\n[firehose]\nbuffer_size_mb = 10");
    let w = Workdir::with_spec(&changed);
    let (run, made) = run_allowed(&moto, &w, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply");
    record("apply", made);

    // Everything exists: plan reads every resource.
    let plan = policy(&w, "plan");
    let (run, made) = run_allowed(&moto, &w, &["plan"], &plan);
    ok(&run, "plan");
    assert!(run.stdout().contains("No changes."), "{}", run.stdout());
    record("plan", made);
    // drift: same reads as plan and status's delivery reads, plus sns:Publish on exactly the --notify-topic.
    let drift = policy(&w, "drift");
    let extra: Vec<&Value> = statements(&drift).iter().filter(|s| !statements(&plan).contains(s)).collect();
    assert_delivery_reads_of_status(&w, &extra);
    let topic = moto.region("eu-central-1").sns.create_topic().name("drift-alerts").send().await.unwrap();
    let topic = topic.topic_arn().unwrap().to_string();
    let drift = w.run(None, &["policy", "--for", "drift", "--notify-topic", &topic, "--json"]).json();
    let args = ["drift", "--notify-topic", &topic, "--notify-in-sync"];
    let (run, made) = run_allowed(&moto, &w, &args, &drift);
    ok(&run, "drift");
    assert!(made.contains("sns:Publish"), "{made:?}");
    for read in ["cloudwatch:GetMetricData", "logs:DescribeLogStreams", "logs:GetLogEvents", "s3:ListObjectsV2"] {
        assert!(made.contains(read), "drift made no {read}: {made:?}");
    }
    record("drift", made);
    // --config-only: plan's reads alone.
    let (run, made) = run_allowed(&moto, &w, &["drift", "--config-only"], &plan);
    ok(&run, "drift --config-only");
    assert!(!made.iter().any(|c| c.starts_with("cloudwatch:")), "{made:?}");
    record("drift", made);
    // status: discovery and the delivery reads, under its own policy.
    let (run, made) = run_allowed(&moto, &w, &["status", "--json"], &policy(&w, "status"));
    assert!([0, 2].contains(&run.code()), "status: {}\n{}", run.stdout(), run.stderr());
    for read in ["cloudwatch:GetMetricData", "logs:DescribeLogStreams", "logs:GetLogEvents", "s3:ListObjectsV2"] {
        assert!(made.contains(read), "status made no {read}: {made:?}");
    }
    assert!(moto.recorder().writes().is_empty(), "status mutated: {:?}", moto.recorder().writes());

    // Narrowed: our filter goes from the cluster no longer selected.
    let narrowed = changed.replace("clusters = [\"prod-1\", \"stage-*\"]", "clusters = [\"prod-1\"]");
    let w = Workdir::with_spec(&narrowed);
    let (run, made) = run_allowed(&moto, &w, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply");
    record("apply", made);

    // Evidence in the bucket (every version), then destroy with on_destroy = "delete".
    let eu = moto.region("eu-central-1");
    eu.s3.delete_bucket_policy().bucket(BUCKET_EU).send().await.unwrap();
    for body in ["one", "two"] {
        eu.s3
            .put_object()
            .bucket(BUCKET_EU)
            .key("eks-audit-logs/2024/x.json")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    eu.s3.create_multipart_upload().bucket(BUCKET_EU).key("eks-audit-logs/partial").send().await.unwrap();
    let (run, made) = run_allowed(&moto, &w, &["destroy", "--auto-approve"], &policy(&w, "destroy"));
    ok(&run, "destroy");
    assert!(eu.s3.head_bucket().bucket(BUCKET_EU).send().await.is_err(), "bucket deleted");
    record("destroy", made);

    // The runs exercised the calls that matter, not just the reads.
    let wanted: [(&str, &[&str]); 4] = [
        ("drift", &["sts:GetCallerIdentity", "s3:GetBucketPolicy", "sns:Publish"]),
        ("plan", &["sts:GetCallerIdentity", "s3:GetBucketNotificationConfiguration", "sns:ListSubscriptionsByTopic"]),
        (
            "apply",
            &[
                "iam:CreateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:DetachRolePolicy",
                "s3:PutBucketNotificationConfiguration",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "firehose:CreateDeliveryStream",
                "firehose:UpdateDestination",
                "logs:PutRetentionPolicy",
                "logs:PutSubscriptionFilter",
                "logs:DeleteSubscriptionFilter",
                "eks:UpdateClusterConfig",
                "eks:DescribeUpdate",
            ],
        ),
        (
            "destroy",
            &[
                "logs:DeleteSubscriptionFilter",
                "firehose:DeleteDeliveryStream",
                "sns:Unsubscribe",
                "sns:DeleteTopic",
                "s3:DeleteObjects",
                "s3:ListObjectVersions",
                "s3:ListMultipartUploads",
                "s3:AbortMultipartUpload",
                "s3:DeleteBucket",
                "iam:DeleteRolePolicy",
                "iam:DeleteRole",
            ],
        ),
    ];
    for (command, expected) in wanted {
        let made = &calls[command];
        let missing: Vec<&&str> = expected.iter().filter(|c| !made.contains(**c)).collect();
        assert!(missing.is_empty(), "{command} did not call {missing:?}; it called {made:?}");
    }
}

#[tokio::test]
async fn reused_roles_are_read_and_passed_as_the_policy_allows() {
    let moto = Moto::start();
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    // Another spec's Firehose role, with an inline and a managed policy.
    let iam = moto.aws().iam().clone();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"firehose.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role().role_name("shared-firehose").assume_role_policy_document(trust).send().await.unwrap();
    // Inline: exactly what eksaudit needs the role to grant; managed: something else.
    let spec = eksaudit_spec::parse_spec(REUSED).unwrap();
    let needed = eksaudit_plan::desired::role_statements(&spec, MOTO_ACCOUNT, eksaudit_spec::RoleKind::Firehose);
    let inline = serde_json::json!({"Version": "2012-10-17", "Statement": needed}).to_string();
    iam.put_role_policy()
        .role_name("shared-firehose")
        .policy_name("inline")
        .policy_document(inline)
        .send()
        .await
        .unwrap();
    let other =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    let managed = iam.create_policy().policy_name("shared-list").policy_document(other).send().await.unwrap();
    let managed_arn = managed.policy().unwrap().arn().unwrap().to_string();
    iam.attach_role_policy().role_name("shared-firehose").policy_arn(&managed_arn).send().await.unwrap();

    let w = Workdir::with_spec(REUSED);
    let (run, plan_calls) = run_allowed(&moto, &w, &["plan"], &policy(&w, "plan"));
    ok(&run, "plan");
    for call in ["iam:ListRolePolicies", "iam:GetPolicy", "iam:GetPolicyVersion"] {
        assert!(plan_calls.contains(call), "plan did not call {call}: {plan_calls:?}");
    }
    let (run, apply_calls) = run_allowed(&moto, &w, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply");
    assert!(apply_calls.contains("firehose:CreateDeliveryStream"), "the reused role was passed: {apply_calls:?}");
    let (run, _) = run_allowed(&moto, &w, &["destroy", "--auto-approve"], &policy(&w, "destroy"));
    ok(&run, "destroy");
    let role = iam.get_role().role_name("shared-firehose").send().await;
    assert!(role.is_ok(), "destroy never deletes a reused role");
}

#[tokio::test]
async fn sentinel_calls_are_allowed_by_its_policies() {
    let moto = Moto::start();
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    let w = Workdir::with_spec(SENTINEL);
    let (_, plan_calls) = run_allowed(&moto, &w, &["plan"], &policy(&w, "plan"));
    assert!(plan_calls.contains("iam:GetOpenIDConnectProvider") && plan_calls.contains("sqs:GetQueueUrl"));
    let (run, apply_calls) = run_allowed(&moto, &w, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply");
    for call in ["iam:CreateOpenIDConnectProvider", "sqs:CreateQueue", "s3:PutBucketNotificationConfiguration"] {
        assert!(apply_calls.contains(call), "apply did not call {call}: {apply_calls:?}");
    }
    let (run, _) = run_allowed(&moto, &w, &["drift"], &policy(&w, "drift"));
    ok(&run, "drift");
    let (run, outputs_calls) = run_allowed(&moto, &w, &["outputs"], &policy(&w, "plan"));
    ok(&run, "outputs");
    assert!(outputs_calls.contains("sqs:GetQueueUrl"), "{outputs_calls:?}");
    // Switched to a generic consumer: apply deletes what Sentinel used, within the generic apply policy.
    let generic = SENTINEL.replace(
        "preset = \"sentinel\"\nworkspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\"",
        "account_id = \"434813966438\"\nexternal_id = \"external-id-1\"",
    );
    let g = Workdir::with_spec(&generic);
    let (run, switch_calls) = run_allowed(&moto, &g, &["apply", "--auto-approve"], &policy(&g, "apply"));
    ok(&run, "apply");
    for call in ["iam:DeleteOpenIDConnectProvider", "sqs:DeleteQueue", "iam:DeleteRole", "sns:CreateTopic"] {
        assert!(switch_calls.contains(call), "the switch did not call {call}: {switch_calls:?}");
    }
    // And back, then destroy.
    let (run, _) = run_allowed(&moto, &w, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply");
    let (run, destroy_calls) = run_allowed(&moto, &w, &["destroy", "--auto-approve"], &policy(&w, "destroy"));
    ok(&run, "destroy");
    for call in ["iam:ListRoles", "iam:DeleteOpenIDConnectProvider", "sqs:DeleteQueue", "iam:DeleteRole"] {
        assert!(destroy_calls.contains(call), "destroy did not call {call}: {destroy_calls:?}");
    }
}

#[tokio::test]
async fn alerts_calls_are_allowed_by_their_policies() {
    let moto = Moto::start();
    setup(&moto).await;
    let with_alerts = format!("{}{ALERTS}", eu_only(SPEC));
    let w = Workdir::with_spec(&with_alerts);
    let (run, mut made) = run_allowed(&moto, &w, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply");
    let (run, plan_made) = run_allowed(&moto, &w, &["plan"], &policy(&w, "plan"));
    ok(&run, "plan");
    assert!(run.stdout().contains("No changes."), "{}", run.stdout());
    for read in ["lambda:GetFunction", "lambda:GetPolicy"] {
        assert!(plan_made.contains(read), "{plan_made:?}");
    }
    // [alerts] removed: the run that deletes what it left is made with the policy of the spec that had it, as
    // for a removed region.
    let without = Workdir::with_spec(&eu_only(SPEC));
    let (run, deleted) = run_allowed(&moto, &without, &["apply", "--auto-approve"], &policy(&w, "apply"));
    ok(&run, "apply without [alerts]");
    made.extend(deleted);
    let (run, destroyed) = run_allowed(&moto, &w, &["destroy", "--auto-approve"], &policy(&w, "destroy"));
    ok(&run, "destroy");
    made.extend(destroyed);
    for call in [
        "lambda:CreateFunction",
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:DeleteFunction",
        "sns:Subscribe",
        "iam:DeleteRole",
    ] {
        assert!(made.contains(call), "{call} not called: {made:?}");
    }
}

#[tokio::test]
async fn init_makes_only_calls_its_policy_allows_and_its_regions_narrow_it() {
    let moto = Moto::start();
    setup(&moto).await;
    // Printed before there is a spec, as a first run would.
    let w = Workdir::empty();
    let every = policy(&w, "init");
    let init = ["init", "--preset", "rad", "--regions", "all", "--yes"];
    let (run, made) = run_allowed(&moto, &w, &init, &every);
    ok(&run, "init");
    for call in ["sts:GetCallerIdentity", "eks:ListClusters", "eks:DescribeCluster"] {
        assert!(made.contains(call), "{call} not called: {made:?}");
    }
    assert!(made.iter().all(|c| c.starts_with("sts:") || c.starts_with("eks:")), "init reads only EKS: {made:?}");

    // Given init's --regions, the policy names those regions' clusters only.
    let eu = Workdir::empty();
    let run = eu.run(None, &["policy", "--for", "init", "--regions", "eu-central-1", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let narrow = run.json();
    let cluster = |region: &str, name: &str| format!("arn:aws:eks:{region}:{MOTO_ACCOUNT}:cluster/{name}");
    assert!(allows(&narrow, "eks:DescribeCluster", &cluster("eu-central-1", "prod-1"), &[]));
    assert!(!allows(&narrow, "eks:DescribeCluster", &cluster("us-east-1", "other"), &[]), "{narrow:#}");
    let (run, _) = run_allowed(&moto, &eu, &["init", "--preset", "rad", "--regions", "eu-central-1", "--yes"], &narrow);
    ok(&run, "init --regions eu-central-1");
}

#[test]
fn the_init_policy_takes_only_its_own_flags() {
    let w = Workdir::empty();
    let fails = |args: &[&str], expected: &str| {
        let run = w.run(None, args);
        run.assert_no_panic();
        assert_eq!(run.code(), 1, "{args:?}: {}", run.stdout());
        assert!(run.stderr().contains(expected), "{args:?}: {}", run.stderr());
    };
    fails(&["policy", "--for", "init", "--regions", "eu-centrl-1"], "--regions:");
    fails(&["policy", "--for", "init", "--regions", "eu-central-1,cn-north-1"], "run init once per partition");
    fails(
        &["policy", "--for", "init", "--notify-topic", "arn:aws:sns:eu-central-1:123456789012:t"],
        "only for `--for drift`",
    );
    fails(&["policy", "--for", "plan", "--regions", "eu-central-1"], "--regions is only for `--for init`");
    fails(&["policy", "--for", "member-role", "--commands", "init"], "--commands lists the commands");
    // Text mode names what it is for on stderr; the policy alone is on stdout.
    let run = w.run(None, &["policy", "--for", "init"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stderr().contains("Least-privilege policy for `eksaudit init`"), "{}", run.stderr());
    let printed: Value = serde_json::from_str(&run.stdout()).expect("the policy alone on stdout");
    assert_eq!(printed["Statement"].as_array().map(Vec::len), Some(2), "{printed:#}");
}
