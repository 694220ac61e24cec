//! Filter patterns: `eksaudit filter test` offline (text and JSON, built-in samples and files), syntax errors
//! pointed at by `validate` with a caret, and the plan and drift warning for a pattern that drops a class of
//! events the consumer needs.

use eksaudit_test_support::Moto;
use serde_json::Value;

use crate::support::{Workdir, EXAMPLE};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eks-audit-events.jsonl");
const ENVELOPE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cloudwatch-envelope.json");

/// A directory with no spec at all: `filter test --pattern` must not need one.
fn empty_dir() -> Workdir {
    Workdir { dir: tempfile::tempdir().expect("temp dir") }
}

/// The example spec with `[filter] pattern` set (the example leaves it commented out).
fn spec_with_pattern(pattern: &str) -> String {
    let with = EXAMPLE.replacen("[filter]\n", &format!("[filter]\npattern = '{pattern}'\n"), 1);
    assert_ne!(with, EXAMPLE, "the example has a [filter] table");
    with
}

#[test]
fn filter_test_shows_each_built_in_event_forwarded_or_dropped_with_a_summary() {
    let w = Workdir::with_spec(EXAMPLE);
    let run = w.run(None, &["filter", "test"]);
    run.assert_no_panic();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(out.contains("Pattern (eksaudit.toml [filter] pattern): { $.stage = \"ResponseComplete\""), "{out}");
    assert!(out.contains("Events: built-in EKS audit samples (28)"), "{out}");
    assert!(
        out.contains("forwarded  create secrets payments/stripe-api-key · kubernetes-admin · ResponseComplete 201 · [write, secret]"),
        "{out}"
    );
    assert!(out.contains("dropped    get /healthz · system:anonymous · ResponseComplete 200"), "{out}");
    assert!(
        out.contains("dropped    create clusterrolebindings cluster-admin-bob · kubernetes-admin · RequestReceived"),
        "{out}"
    );
    assert!(out.contains("Forwarded 18 of 28 events, dropped 10."), "{out}");
    assert!(
        out.contains("Forwarded per class a consumer needs: write 10/10, exec 2/2, forbidden 3/3, secret 5/5."),
        "{out}"
    );
    assert!(!out.contains("warning"), "{out}");
    assert!(!out.contains('\x1b'), "no colour when piped");
}

#[test]
fn filter_test_with_a_pattern_needs_no_spec_and_warns_about_a_class_it_drops() {
    let w = empty_dir();
    let run = w.run(
        None,
        &["filter", "test", "--pattern", r#"{ $.stage = "ResponseComplete" && $.responseStatus.code < 400 }"#],
    );
    run.assert_no_panic();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(out.contains("Pattern (--pattern): { $.stage"), "{out}");
    assert!(
        out.contains("dropped    list secrets · system:anonymous · ResponseComplete 403 · [forbidden, secret]"),
        "{out}"
    );
    assert!(
        out.contains("warning: the pattern drops all 3 `forbidden` events here (requests refused with 403 Forbidden)"),
        "{out}"
    );
}

#[test]
fn filter_test_json_is_one_document_with_a_format_version() {
    let w = empty_dir();
    let run = w.run(None, &["filter", "test", "--pattern", r#"{ $.stage = "RequestReceived" }"#, "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["pattern_source"], "--pattern");
    assert_eq!(doc["events_source"], "built-in EKS audit samples");
    assert_eq!(doc["summary"], serde_json::json!({"events": 28, "forwarded": 4, "dropped": 24}));
    let first = &doc["events"][0];
    assert_eq!(first["line"], 1);
    assert_eq!(first["forwarded"], true);
    assert_eq!(first["verb"], "create");
    assert_eq!(first["stage"], "RequestReceived");
    assert_eq!(first["user"], "kubernetes-admin");
    let second = &doc["events"][1];
    assert_eq!((second["forwarded"].clone(), second["code"].clone()), (Value::Bool(false), Value::from(201)));
    assert_eq!(second["classes"], serde_json::json!(["write", "secret"]));
    let warned: Vec<&str> = doc["warnings"].as_array().unwrap().iter().map(|w| w["class"].as_str().unwrap()).collect();
    assert_eq!(warned, ["write", "exec", "forbidden", "secret"]);
}

#[test]
fn filter_test_reads_an_events_file_or_a_cloudwatch_envelope() {
    let w = Workdir::with_spec(EXAMPLE);
    // The default pattern against the project's test data: the secret create, the cluster-role-binding create,
    // the exec and the forbidden list go through; RequestReceived, /healthz, /readyz and /version do not.
    let run = w.run(None, &["filter", "test", "--events", TESTDATA, "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    let verdicts: Vec<(String, bool)> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let what = e["resource"].as_str().or(e["request_uri"].as_str()).unwrap().to_string();
            (format!("{} {what} {}", e["verb"].as_str().unwrap(), e["stage"].as_str().unwrap()), e["forwarded"] == true)
        })
        .collect();
    let expect = |s: &str, f: bool| (s.to_string(), f);
    assert_eq!(
        verdicts,
        [
            expect("create secrets kube-system/db-password ResponseComplete", true),
            expect("get /healthz ResponseComplete", false),
            expect("create clusterrolebindings cluster-admin-bob RequestReceived", false),
            expect("create clusterrolebindings cluster-admin-bob ResponseComplete", true),
            expect("get /version?timeout=32s ResponseComplete", false),
            expect("create pods/exec default/web-0 ResponseComplete", true),
            expect("list secrets ResponseComplete", true),
            expect("get /readyz?verbose ResponseComplete", false),
        ]
    );
    assert_eq!(doc["events_source"], TESTDATA);
    // What CloudWatch Logs hands a subscription destination: its logEvents' messages.
    let run = w.run(None, &["filter", "test", "--events", ENVELOPE]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stdout().contains("Forwarded 1 of 2 events, dropped 1."), "{}", run.stdout());
}

#[test]
fn filter_test_refuses_a_bad_pattern_with_a_caret_and_a_bad_events_file_with_its_line() {
    let w = empty_dir();
    let pattern = r#"{ $.stage = "ResponseComplete" && $.user.username = system:anonymous }"#;
    let run = w.run(None, &["filter", "test", "--pattern", pattern]);
    run.assert_no_panic();
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    assert!(err.contains("error: the filter pattern is not valid: Invalid character(s) in term 'system:anonymous' (character 59 of the pattern)"), "{err}");
    assert!(err.contains(&format!("    {pattern}\n    {}^\n", " ".repeat(58))), "{err}");
    assert!(err.contains("hint: quote values"), "{err}");
    assert!(run.stdout().is_empty());
    // With --json, scripts get the error as a document too.
    let run = w.run(None, &["filter", "test", "--pattern", pattern, "--json"]);
    assert_eq!(run.code(), 1);
    let doc = run.json();
    assert_eq!((doc["valid"].clone(), doc["error"]["offset"].clone()), (Value::Bool(false), Value::from(58)));

    let bad = w.path().join("events.jsonl");
    std::fs::write(&bad, "{\"stage\":\"ResponseComplete\"}\n\n{\"stage\": \n").unwrap();
    let run = w.run(None, &["filter", "test", "--pattern", "", "--events", bad.to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains(&format!("{}:3: not a JSON event", bad.display())), "{}", run.stderr());
    let run = w.run(None, &["filter", "test", "--pattern", "", "--events", "missing.jsonl"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("cannot read events file missing.jsonl"), "{}", run.stderr());
    // Without --pattern the spec is required, and its problems are reported as usual.
    let run = w.run(None, &["filter", "test"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("cannot read spec file eksaudit.toml"), "{}", run.stderr());
}

#[test]
fn validate_points_at_the_character_of_a_syntax_error_in_the_spec() {
    let pattern = r#"{ $.stage = "ResponseComplete" && ($.verb = "create" || $.verb = "delete" }"#;
    let spec = spec_with_pattern(pattern);
    let line = spec.lines().position(|l| l.starts_with("pattern = ")).unwrap() + 1;
    let w = Workdir::with_spec(&spec);
    let run = w.run(None, &["validate"]);
    run.assert_no_panic();
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    assert!(
        err.contains(&format!(
            "eksaudit.toml:{line}:11: filter.pattern: Invalid filter pattern: expected `)` (character 75 of the pattern)"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("\n    {pattern}\n    {}^\n", " ".repeat(74))), "{err}");
    assert!(err.contains("hint: close the parenthesis opened at character 35"), "{err}");

    let doc = w.run(None, &["validate", "--json"]).json();
    let problem = &doc["problems"][0];
    assert_eq!(problem["path"], "filter.pattern");
    assert_eq!((problem["line"].as_u64(), problem["column"].as_u64()), (Some(line as u64), Some(11)));
    assert_eq!(problem["message"], "Invalid filter pattern: expected `)` (character 75 of the pattern)");
    assert_eq!(problem["excerpt"], format!("    {pattern}\n    {}^", " ".repeat(74)));

    // Every command loads the spec the same way: plan refuses before any AWS call.
    let run = w.run(None, &["plan"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("filter.pattern: Invalid filter pattern: expected `)`"), "{}", run.stderr());
}

#[test]
fn validate_warns_about_a_valid_pattern_that_drops_a_class() {
    let w = Workdir::with_spec(&spec_with_pattern(
        r#"{ $.stage = "ResponseComplete" && $.objectRef.resource != "secrets" }"#,
    ));
    let run = w.run(None, &["validate"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "warning: filter.pattern: the filter pattern drops all 5 built-in `secret` samples (access to secrets)"
        ),
        "{}",
        run.stderr()
    );
    let doc = w.run(None, &["validate", "--json"]).json();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["warnings"][0]["path"], "filter.pattern");
}

const PLAN_SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"

[filter]
pattern = '{ $.stage = "ResponseComplete" && $.verb != "create" && $.verb != "update" && $.verb != "patch" && $.verb != "delete" }'

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

#[tokio::test]
async fn plan_and_drift_warn_when_the_pattern_drops_every_write() {
    let moto = Moto::start();
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    let w = Workdir::with_spec(PLAN_SPEC);
    let run = w.run(Some(&moto.endpoint()), &["plan", "--json"]);
    run.assert_no_panic();
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    let warnings: Vec<&Value> =
        doc["warnings"].as_array().unwrap().iter().filter(|w| w["address"] == "filter.pattern").collect();
    assert_eq!(warnings.len(), 1, "{doc}");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("the filter pattern drops all 10 built-in `write` samples"),
        "{}",
        warnings[0]
    );
    assert_eq!(doc["errors"], serde_json::json!([]), "a warning, not a blocking problem");

    let text = w.run(Some(&moto.endpoint()), &["plan"]).stdout();
    assert!(
        text.contains("! filter.pattern: the filter pattern drops all 10 built-in `write` samples (completed writes"),
        "{text}"
    );

    // drift shows it too, without counting it as drift.
    let run = w.run(Some(&moto.endpoint()), &["drift", "--json"]);
    let doc = run.json();
    assert_eq!(doc["warnings"][0]["address"], "filter.pattern", "{doc}");
    assert!(doc["findings"].as_array().unwrap().iter().all(|f| f["path"] != "filter.pattern"));
    let text = w.run(Some(&moto.endpoint()), &["drift"]).stdout();
    assert!(
        text.contains("Warnings\n  ! filter.pattern: the filter pattern drops all 10 built-in `write` samples"),
        "{text}"
    );
}

/// What `/aws/eks/<cluster>/cluster` really holds: JSON audit events beside the API server's and the
/// authenticator's text lines. The text lines are log events: a JSON pattern drops them, a term pattern may
/// forward them; neither is an error.
#[test]
fn filter_test_reads_a_log_group_with_text_lines_the_cli_json_and_standard_input() {
    let w = empty_dir();
    let audit = std::fs::read_to_string(TESTDATA).unwrap();
    let first_two: Vec<&str> = audit.lines().take(2).collect();
    let text_lines = [
        r#"I1201 10:00:00.123456      10 trace.go:236] Trace[1234]: "List" url:/api/v1/secrets (01-Dec-2026 10:00:00.000) (total time: 612ms)"#,
        r#"time="2026-12-01T10:00:01Z" level=info msg="access granted" arn="arn:aws:iam::123456789012:role/admin" client="127.0.0.1:44332" method=POST path=/authenticate"#,
    ];
    let mixed = format!("{}\n{}\n{}\n{}\n", text_lines[0], first_two[0], text_lines[1], first_two[1]);
    let file = w.path().join("log-group.txt");
    std::fs::write(&file, &mixed).unwrap();
    let file = file.to_str().unwrap();

    // The default (JSON) pattern: the secret create is forwarded, /healthz and both text lines dropped.
    let run = w.run(
        None,
        &[
            "filter",
            "test",
            "--pattern",
            r#"{ $.stage = "ResponseComplete" && $.requestURI != "/healthz" }"#,
            "--events",
            file,
            "--json",
        ],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    let seen: Vec<(u64, bool, bool)> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["json"] == true, e["forwarded"] == true))
        .collect();
    assert_eq!(seen, [(1, false, false), (2, true, true), (3, false, false), (4, true, false)]);

    // A term pattern reads the text lines too.
    let run = w.run(None, &["filter", "test", "--pattern", r#""access granted""#, "--events", file]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let out = run.stdout();
    assert!(out.contains("Forwarded 1 of 4 events, dropped 3."), "{out}");
    assert!(out.contains("forwarded  time=\"2026-12-01T10:00:01Z\" level=info msg=\"access granted\""), "{out}");

    // What `aws logs filter-log-events` prints (and `get-log-events`, the same `events[].message`).
    let cli = serde_json::json!({
        "events": [
            {"logStreamName": "kube-apiserver-audit-abc", "timestamp": 1764583200000_u64, "message": first_two[0], "ingestionTime": 1764583201000_u64, "eventId": "1"},
            {"logStreamName": "authenticator-abc", "timestamp": 1764583201000_u64, "message": text_lines[1], "ingestionTime": 1764583202000_u64, "eventId": "2"},
        ],
        "searchedLogStreams": [],
    });
    let cli_file = w.path().join("filter-log-events.json");
    std::fs::write(&cli_file, serde_json::to_string_pretty(&cli).unwrap()).unwrap();
    let run = w.run(
        None,
        &["filter", "test", "--pattern", r#"{ $.verb = "create" }"#, "--events", cli_file.to_str().unwrap(), "--json"],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    assert_eq!((doc["summary"]["events"].as_u64(), doc["summary"]["forwarded"].as_u64()), (Some(2), Some(1)));
    assert_eq!(doc["events"][0]["resource"], "secrets kube-system/db-password");

    // A CLI document whose event lacks its message is named, not skipped.
    std::fs::write(&cli_file, r#"{"events": [{"message": "x"}, {"timestamp": 1}]}"#).unwrap();
    let run = w.run(None, &["filter", "test", "--pattern", "", "--events", cli_file.to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("filter-log-events.json: events[1] has no message"), "{}", run.stderr());

    // `--events -`: standard input, as piped from the CLI.
    let mut cmd = w.command(None, &["filter", "test", "--pattern", "", "--events", "-", "--json"]);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), mixed.as_bytes()).unwrap();
    let run = crate::support::Run(child.wait_with_output().unwrap());
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let doc = run.json();
    assert_eq!(doc["events_source"], "standard input");
    assert_eq!((doc["summary"]["events"].as_u64(), doc["summary"]["forwarded"].as_u64()), (Some(4), Some(4)));
}
