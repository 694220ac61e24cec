//! The ready-to-run deployments in `deploy/`: the Kubernetes manifests against the real Kubernetes JSON schemas
//! (strict: unknown fields rejected), the GitHub workflow against GitHub's workflow schema, and what they must
//! say: hourly, one run at a time, non-root, bounded, the spec `eksaudit validate` accepts, exit 2 and exit 1
//! failing with their own messages. Offline: the validators ship their schemas (`scripts/install-validators.sh`
//! installs them into `.venv-validators/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::Workdir;

const CRONJOB: &str = "deploy/kubernetes/cronjob.yaml";
const WORKFLOW: &str = "deploy/github-actions/eksaudit-drift.yml";
const DOCKERFILE: &str = "deploy/Dockerfile";
/// Kubernetes versions the manifests must be valid for: an old one still in EKS extended support, and the
/// newest the validator ships.
const KUBERNETES_VERSIONS: &[&str] = &["1.29", "1.37"];
/// The command the deployments schedule, as the image's ENTRYPOINT + CMD.
const ENTRYPOINT: &str = "/usr/local/bin/eksaudit";
const CONFIG_PATH: &str = "/etc/eksaudit/eksaudit.toml";

/// YAML (every document, duplicate keys rejected, YAML 1.2 so `on:` stays a string) or TOML to JSON, with the
/// parsers the validators bring.
const TO_JSON: &str = r#"
import json, sys, tomllib
from ruamel.yaml import YAML
kind, path = sys.argv[1], sys.argv[2]
if kind == "toml":
    with open(path, "rb") as f:
        data = tomllib.load(f)
else:
    with open(path) as f:
        data = [d for d in YAML(typ="safe", pure=True).load_all(f) if d is not None]
json.dump(data, sys.stdout, default=str)
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// A tool from the validators' virtualenv; panics with the fix when it is not installed.
fn tool(name: &str) -> Command {
    let venv = std::env::var_os("EKSAUDIT_VALIDATORS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-validators"));
    let path = venv.join("bin").join(name);
    assert!(
        path.exists(),
        "{} not found: run scripts/install-validators.sh (it installs the pinned schema validators into \
         .venv-validators/)",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.current_dir(repo());
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn to_json(kind: &str, path: &Path) -> Value {
    let out = output(tool("python").args(["-c", TO_JSON, kind]).arg(path));
    assert!(out.status.success(), "{} does not parse as {kind}:\n{}", path.display(), text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON from the converter")
}

fn yaml_docs(rel: &str) -> Vec<Value> {
    match to_json("yaml", &repo().join(rel)) {
        Value::Array(docs) => docs,
        other => panic!("{rel}: expected a list of documents, got {other}"),
    }
}

fn doc<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} in {CRONJOB}");
    found[0]
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|s| s.as_str().expect("a string")).collect()
}

/// `kubernetes-validate --strict` for one file and version. It exits 0 on a kind it has no schema for (a typo in
/// `kind` or `apiVersion`), so every document must also be reported as passed, none warned about.
fn kubernetes_validate(file: &Path, version: &str) -> Result<String, String> {
    let docs = match to_json("yaml", file) {
        Value::Array(docs) => docs.len(),
        _ => 0,
    };
    let out = output(tool("kubernetes-validate").args(["--strict", "-k", version]).arg(file));
    let log = text(&out);
    let passed = log.lines().filter(|l| l.starts_with("INFO ") && l.contains(" passed for resource ")).count();
    let other = log.lines().filter(|l| !l.starts_with("INFO ")).count();
    if out.status.success() && docs > 0 && passed == docs && other == 0 {
        Ok(log)
    } else {
        Err(format!("{docs} documents, {passed} passed, exit {:?}:\n{log}", out.status.code()))
    }
}

fn check_workflow(file: &Path) -> Result<String, String> {
    let mut log = String::new();
    for schema in ["vendor.github-workflows", "custom.github-workflows-require-timeout"] {
        let out = output(tool("check-jsonschema").args(["--builtin-schema", schema]).arg(file));
        log.push_str(&text(&out));
        if !out.status.success() {
            return Err(format!("{schema}:\n{log}"));
        }
    }
    Ok(log)
}

/// A copy of a deploy file with one edit, for the checks that must reject it.
fn mutated(rel: &str, from: &str, to: &str) -> (tempfile::TempDir, PathBuf) {
    let original = read(rel);
    assert!(original.contains(from), "{rel} lacks {from:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let name = Path::new(rel).file_name().expect("file name");
    let path = dir.path().join(name);
    std::fs::write(&path, original.replacen(from, to, 1)).expect("write copy");
    (dir, path)
}

#[test]
fn kubernetes_manifests_pass_the_strict_kubernetes_schemas() {
    for version in KUBERNETES_VERSIONS {
        if let Err(e) = kubernetes_validate(&repo().join(CRONJOB), version) {
            panic!("{CRONJOB} against Kubernetes {version}: {e}");
        }
    }
    // The checks reject what they must: an unknown field, and a kind no schema knows.
    let (_dir, typo) = mutated(
        CRONJOB,
        "imagePullPolicy: IfNotPresent",
        "imagePullPolicy: IfNotPresent\n              imagePolicy: x",
    );
    let err = kubernetes_validate(&typo, "1.37").expect_err("unknown field accepted");
    assert!(err.contains("'imagePolicy' was unexpected"), "{err}");
    let (_dir, kind) = mutated(CRONJOB, "kind: CronJob", "kind: CronJobs");
    kubernetes_validate(&kind, "1.37").expect_err("unknown kind accepted");
    let (_dir, dup) = mutated(CRONJOB, "restartPolicy: Never", "restartPolicy: Never\n          restartPolicy: Always");
    let out = output(tool("python").args(["-c", TO_JSON, "yaml"]).arg(&dup));
    assert!(!out.status.success() && text(&out).contains("duplicate key"), "duplicate key accepted");
}

#[test]
fn cronjob_runs_drift_hourly_once_at_a_time_as_non_root_with_limits() {
    let docs = yaml_docs(CRONJOB);
    let sa = doc(&docs, "ServiceAccount");
    let cm = doc(&docs, "ConfigMap");
    let cron = doc(&docs, "CronJob");
    let ns = str_at(cron, "/metadata/namespace");
    for d in [sa, cm] {
        assert_eq!(str_at(d, "/metadata/namespace"), ns, "{} in another namespace", d["kind"]);
    }
    if let Some(namespace) = docs.iter().find(|d| d["kind"] == "Namespace") {
        assert_eq!(str_at(namespace, "/metadata/name"), ns);
    }
    let role = str_at(sa, "/metadata/annotations/eks.amazonaws.com~1role-arn");
    assert!(role.starts_with("arn:aws:iam::") && role.contains(":role/"), "IRSA annotation: {role}");

    let spec = &cron["spec"];
    assert_eq!(spec["schedule"], "17 * * * *");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    for key in ["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        assert!(spec[key].as_u64().is_some_and(|n| n > 0), "CronJob spec.{key} not set");
    }
    let job = &spec["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 0, "a drift report must not be retried");
    let deadline = job["activeDeadlineSeconds"].as_u64().expect("activeDeadlineSeconds");
    assert!(deadline > 0 && deadline < 3600, "activeDeadlineSeconds must end a run before the next hourly one");
    let pod = &job["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"].as_u64().is_some_and(|u| u > 0), "runAsUser must be non-zero");
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert_ne!(pod["hostNetwork"], true);

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let image = str_at(c, "/image");
    let tag = image.rsplit('/').next().unwrap_or(image);
    assert!(
        image.contains('@') || (tag.contains(':') && !tag.ends_with(":latest")),
        "pin the image to a tag or digest: {image}"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert!(sc.get("privileged").is_none_or(|p| p == false));
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(!c["resources"][kind][resource].is_null(), "resources.{kind}.{resource} missing");
        }
    }
    let env = c["env"].as_array().expect("env");
    let region = env.iter().find(|e| e["name"] == "AWS_REGION").expect("env AWS_REGION");
    assert!(str_at(region, "/value").split('-').count() == 3, "AWS_REGION: {region}");

    // The spec is the ConfigMap's key, mounted where the command reads it.
    assert!(c.get("command").is_none(), "keep the image's ENTRYPOINT ({ENTRYPOINT})");
    let args = strings(&c["args"]);
    assert_eq!(args[0], "drift");
    let config = args.windows(2).find(|w| w[0] == "-c" || w[0] == "--config").map(|w| w[1]).expect("-c FILE");
    assert_eq!(config, CONFIG_PATH);
    let topic = args.windows(2).find(|w| w[0] == "--notify-topic").map(|w| w[1]).expect("--notify-topic ARN");
    assert!(topic.starts_with("arn:aws:sns:"), "{topic}");
    let mount = c["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == "/etc/eksaudit")
        .expect("a volume mounted at /etc/eksaudit");
    assert_eq!(mount["readOnly"], true);
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert_eq!(volume["configMap"]["name"], cm["metadata"]["name"]);
    if let Some(items) = volume["configMap"]["items"].as_array() {
        assert!(items.iter().any(|i| i["key"] == "eksaudit.toml" && i["path"] == "eksaudit.toml"), "{items:?}");
    }
    assert!(cm["data"]["eksaudit.toml"].is_string(), "the ConfigMap holds no eksaudit.toml");
}

#[test]
fn cronjob_spec_passes_eksaudit_validate_and_its_args_parse() {
    let docs = yaml_docs(CRONJOB);
    let toml = str_at(doc(&docs, "ConfigMap"), "/data/eksaudit.toml");
    let w = Workdir::with_spec(toml);
    let run = w.run(None, &["-c", "eksaudit.toml", "validate"]);
    assert_eq!(run.code(), 0, "the ConfigMap's spec is invalid:\n{}{}", run.stdout(), run.stderr());

    // pipeline.account_id refuses credentials of any other account: the role the job runs as must be in it.
    let spec = to_json("toml", &w.path().join("eksaudit.toml"));
    if let Some(account) = spec["pipeline"]["account_id"].as_str() {
        let role = str_at(doc(&docs, "ServiceAccount"), "/metadata/annotations/eks.amazonaws.com~1role-arn");
        assert!(role.starts_with(&format!("arn:aws:iam::{account}:role/")), "{role} not in account {account}");
    }
    let cron = doc(&docs, "CronJob");
    let c = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    let args = strings(&c["args"]);
    let topic = args.windows(2).find(|w| w[0] == "--notify-topic").map(|w| w[1]).expect("--notify-topic");
    let parts: Vec<&str> = topic.split(':').collect();
    assert!(
        parts.len() == 6 && parts[2] == "sns" && parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit()),
        "not an SNS topic ARN: {topic}"
    );

    // The real CLI accepts the container's arguments: it gets past parsing to reading the (absent) spec.
    let run = w.run(None, &args);
    run.assert_no_panic();
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(!run.stderr().contains("Usage:"), "the CLI rejects the CronJob's args {args:?}:\n{}", run.stderr());
    if !Path::new(CONFIG_PATH).exists() {
        assert!(run.stderr().contains(&format!("cannot read spec file {CONFIG_PATH}")), "{}", run.stderr());
    }
}

#[test]
fn dockerfile_builds_the_release_binary_and_runs_drift_as_the_cronjobs_user() {
    let dockerfile = read(DOCKERFILE);
    let lines: Vec<&str> = dockerfile.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    assert!(dockerfile.contains("cargo build --release --locked --bin eksaudit"));
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).expect("a FROM");
    assert!(lines.iter().filter(|l| l.starts_with("FROM ")).count() >= 2, "multi-stage build expected");
    let runtime = &lines[last_from..];
    let user = runtime.iter().rev().find_map(|l| l.strip_prefix("USER ")).expect("USER in the final stage");
    let uid: u64 = user.split(':').next().unwrap().parse().unwrap_or_else(|_| panic!("USER {user} is not numeric"));
    assert_ne!(uid, 0, "the image must not run as root");
    let exec_form = |directive: &str| -> Vec<String> {
        let json = runtime.iter().find_map(|l| l.strip_prefix(directive)).unwrap_or_else(|| panic!("no {directive}"));
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{directive} is not the JSON exec form ({e}): {json}"))
    };
    assert_eq!(exec_form("ENTRYPOINT "), [ENTRYPOINT]);
    assert_eq!(exec_form("CMD "), ["drift", "-c", CONFIG_PATH]);
    assert!(runtime.iter().any(|l| l.starts_with("COPY --from=") && l.ends_with(ENTRYPOINT)), "binary not copied");

    let docs = yaml_docs(CRONJOB);
    let pod = &doc(&docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], uid, "the CronJob runs as another user than the image's");

    let ignore = read(".dockerignore");
    let ignored: Vec<&str> = ignore.lines().map(|l| l.trim().trim_start_matches('/').trim_end_matches('/')).collect();
    for dir in ["target", ".git", ".venv-moto", ".venv-validators"] {
        assert!(ignored.contains(&dir), ".dockerignore does not exclude {dir}");
    }
}

#[test]
fn workflow_passes_the_github_workflow_schema() {
    if let Err(e) = check_workflow(&repo().join(WORKFLOW)) {
        panic!("{WORKFLOW}: {e}");
    }
    let (_dir, typo) = mutated(WORKFLOW, "timeout-minutes: 45", "timeout-minutes: 45\n    timeout: 45");
    let err = check_workflow(&typo).expect_err("unknown job key accepted");
    assert!(err.contains("'timeout' was unexpected"), "{err}");
    let (_dir, no_timeout) = mutated(WORKFLOW, "timeout-minutes: 45", "");
    check_workflow(&no_timeout).expect_err("a job without timeout-minutes accepted");
}

/// The workflow's steps, and the index of the first one matching `pred`.
fn step_index(steps: &[Value], what: &str, pred: impl Fn(&Value) -> bool) -> usize {
    steps.iter().position(pred).unwrap_or_else(|| panic!("{WORKFLOW} has no step that {what}"))
}

#[test]
fn workflow_runs_hourly_with_oidc_and_always_uploads_the_report() {
    let docs = yaml_docs(WORKFLOW);
    assert_eq!(docs.len(), 1);
    let wf = &docs[0];
    let cron = str_at(wf, "/on/schedule/0/cron");
    let fields: Vec<&str> = cron.split_whitespace().collect();
    assert!(fields.len() == 5 && fields[0].parse::<u8>().is_ok_and(|m| m < 60) && fields[1..] == ["*"; 4], "{cron}");
    assert!(wf["on"].get("workflow_dispatch").is_some(), "no workflow_dispatch");
    assert_eq!(wf["permissions"], serde_json::json!({"id-token": "write", "contents": "read"}));

    let jobs = wf["jobs"].as_object().expect("jobs");
    assert_eq!(jobs.len(), 1);
    let steps = jobs.values().next().unwrap()["steps"].as_array().expect("steps");
    let uses = |prefix: &'static str| move |s: &Value| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix));
    let creds = step_index(steps, "configures AWS credentials", uses("aws-actions/configure-aws-credentials@"));
    let role = str_at(&steps[creds], "/with/role-to-assume");
    assert!(role.starts_with("arn:aws:iam::") && role.contains(":role/"), "{role}");
    assert!(steps[creds]["with"].get("aws-access-key-id").is_none(), "use OIDC, not long-lived keys");
    let drift =
        step_index(steps, "runs eksaudit drift", |s| s["run"].as_str().is_some_and(|r| r.contains("eksaudit drift")));
    let script = str_at(&steps[drift], "/run");
    assert!(script.contains("--json > drift.json"), "{script}");
    let upload = step_index(steps, "uploads the report", uses("actions/upload-artifact@"));
    assert!(creds < drift && drift < upload, "steps out of order: credentials, drift, upload");
    assert_eq!(steps[upload]["if"], "always()", "the report must be uploaded when the check fails too");
    assert_eq!(str_at(&steps[upload], "/with/path"), "drift.json");
    let build = step_index(steps, "builds the binary", |s| {
        s["run"].as_str().is_some_and(|r| r.contains("cargo build --release --locked --bin eksaudit"))
    });
    assert!(build < drift);
}

/// Runs the workflow's drift step the way GitHub runs a `shell: bash` step, with a stand-in `eksaudit` on PATH
/// that prints a report and exits with `code`. Checks what the step wrote; returns its exit code and output.
fn run_drift_step(code: i32) -> (i32, String) {
    let docs = yaml_docs(WORKFLOW);
    let wf = &docs[0];
    let steps = wf["jobs"].as_object().unwrap().values().next().unwrap()["steps"].as_array().unwrap();
    let step = &steps[step_index(steps, "has id drift", |s| s["id"] == "drift")];
    assert_eq!(step["shell"], "bash", "the drift step's shell must be bash (-eo pipefail)");
    let script = str_at(step, "/run");
    assert!(!script.contains("${{"), "expressions in the script: pass them through env instead");

    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("eksaudit");
    std::fs::write(&fake, "#!/bin/sh\necho \"$*\" > \"$FAKE_ARGS\"\necho '{\"fake\": true}'\nexit \"$FAKE_EXIT\"\n")
        .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script_path = dir.path().join("step.sh");
    std::fs::write(&script_path, script).unwrap();
    let (output_file, summary_file, args_file) =
        (dir.path().join("output"), dir.path().join("summary"), dir.path().join("args"));

    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&script_path).current_dir(dir.path());
    for scope in [&wf["env"], &step["env"]] {
        for (k, v) in scope.as_object().into_iter().flatten() {
            cmd.env(k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
        }
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path)
        .env("FAKE_EXIT", code.to_string())
        .env("FAKE_ARGS", &args_file)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file);
    let out = output(&mut cmd);
    let report = std::fs::read_to_string(dir.path().join("drift.json")).unwrap_or_default();
    assert_eq!(report.trim(), "{\"fake\": true}", "drift.json must hold eksaudit's stdout (exit {code})");
    let args = std::fs::read_to_string(&args_file).expect("eksaudit was not run");
    let config = wf["env"]["EKSAUDIT_CONFIG"].as_str().unwrap_or("eksaudit.toml");
    assert_eq!(args.trim(), format!("drift -c {config} --json"));
    let outputs = std::fs::read_to_string(&output_file).unwrap_or_default();
    assert!(outputs.contains(&format!("exit-code={code}")), "step output: {outputs}");
    (out.status.code().expect("exit code"), text(&out))
}

#[test]
fn workflow_drift_step_fails_on_drift_and_on_error_with_distinct_messages() {
    let (code, log) = run_drift_step(0);
    assert_eq!(code, 0, "in sync must pass:\n{log}");
    assert!(!log.contains("::error"), "{log}");

    let (code, drift_log) = run_drift_step(2);
    assert_ne!(code, 0, "drift (exit 2) must fail the job:\n{drift_log}");
    let drift_error = drift_log.lines().find(|l| l.starts_with("::error")).expect("an ::error:: for drift");
    assert!(drift_error.to_lowercase().contains("drift found"), "{drift_error}");

    for failure in [1, 3] {
        let (code, log) = run_drift_step(failure);
        assert_ne!(code, 0, "exit {failure} must fail the job:\n{log}");
        let error = log.lines().find(|l| l.starts_with("::error")).expect("an ::error:: for an error");
        assert!(!error.to_lowercase().contains("drift found"), "an error must not read like drift: {error}");
        assert!(error.contains(&format!("exit {failure}")), "{error}");
    }
}

/// A linter from `.venv-linters` (`scripts/install-linters.sh`); panics with the fix when it is not installed.
fn linter(name: &str) -> Command {
    let venv =
        std::env::var_os("EKSAUDIT_LINTERS_VENV").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv-linters"));
    let path = venv.join("bin").join(name);
    assert!(path.exists(), "{} not found: run scripts/install-linters.sh", path.display());
    let mut cmd = Command::new(path);
    cmd.current_dir(repo());
    cmd
}

/// checkov's Kubernetes checks over one manifest, offline (`--skip-download`: no Prisma Cloud look-ups): the ids
/// of the failed checks, and the skipped ones with the reason the manifest gives.
fn checkov(file: &Path) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    let out =
        output(linter("checkov").args(["--framework", "kubernetes", "--skip-download", "-o", "json", "-f"]).arg(file));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checkov printed no JSON report ({e}):\n{}", text(&out)));
    assert_eq!(report["summary"]["parsing_errors"], 0, "{report}");
    assert_eq!(report["summary"]["resource_count"], 4, "checkov did not read every document: {}", report["summary"]);
    let ids = |key: &str| -> Vec<String> {
        report["results"][key]
            .as_array()
            .map_or(Vec::new(), |a| a.iter().map(|c| c["check_id"].as_str().expect("check_id").to_string()).collect())
    };
    let skipped = report["results"]["skipped_checks"].as_array().map_or(Vec::new(), |a| {
        a.iter()
            .map(|c| {
                let id = c["check_id"].as_str().expect("check_id").to_string();
                (id, c["check_result"]["suppress_comment"].as_str().unwrap_or_default().to_string())
            })
            .collect()
    });
    (ids("failed_checks"), skipped, ids("passed_checks"))
}

/// zizmor's findings over one workflow, offline, as (audit, severity).
fn zizmor(file: &Path) -> Vec<(String, String)> {
    let out = output(linter("zizmor").args(["--offline", "--format", "json"]).arg(file));
    let findings: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("zizmor printed no JSON ({e}):\n{}", text(&out)));
    findings
        .as_array()
        .expect("a list of findings")
        .iter()
        .map(|f| (f["ident"].as_str().unwrap_or_default().to_string(), f["determinations"]["severity"].to_string()))
        .collect()
}

/// What security teams run over deployment files finds nothing: checkov over the CronJob (two checks skipped in
/// the manifest itself, each with its reason), zizmor over the workflow (every action pinned to a commit).
#[test]
fn the_deploy_files_are_clean_under_checkov_and_zizmor() {
    let (failed, skipped, passed) = checkov(&repo().join(CRONJOB));
    assert!(failed.is_empty(), "checkov fails {failed:?} on {CRONJOB}");
    let skipped_ids: Vec<&str> = skipped.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(skipped_ids, ["CKV_K8S_43", "CKV_K8S_15"], "only the two explained skips: {skipped:?}");
    assert!(skipped.iter().all(|(_, why)| why.len() > 40), "each skip says why: {skipped:?}");
    for check in ["CKV_K8S_38", "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_28", "CKV_K8S_40"] {
        assert!(passed.contains(&check.to_string()), "{check} not passed: {passed:?}");
    }
    // The control: mounting the API token again fails CKV_K8S_38.
    let (_dir, token) = mutated(CRONJOB, "automountServiceAccountToken: false", "automountServiceAccountToken: true");
    let (failed, _, _) = checkov(&token);
    assert_eq!(failed, ["CKV_K8S_38"], "{failed:?}");

    let findings = zizmor(&repo().join(WORKFLOW));
    assert!(findings.is_empty(), "zizmor finds {findings:?} in {WORKFLOW}");
    // The control: one action back on its tag is an unpinned use.
    let (_dir, tag) =
        mutated(WORKFLOW, "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "actions/checkout@v4");
    let findings = zizmor(&tag);
    assert!(findings.iter().any(|(audit, _)| audit == "unpinned-uses"), "{findings:?}");
    // Every `uses:` names a full 40-hex commit with its version beside it.
    for line in read(WORKFLOW).lines().filter(|l| l.trim_start().starts_with("uses:")) {
        let (_, target) = line.split_once('@').unwrap_or_else(|| panic!("{line}"));
        let (sha, version) = target.split_once(" # v").unwrap_or_else(|| panic!("no version comment: {line}"));
        assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "not a commit SHA: {line}");
        assert!(version.split('.').all(|p| p.parse::<u32>().is_ok()), "{line}");
    }
}

const SHARDED_CRONJOB: &str = "deploy/kubernetes/cronjob-sharded.yaml";
const SHARDED_WORKFLOW: &str = "deploy/github-actions/eksaudit-drift-sharded.yml";

/// The sharded variants: an Indexed Job per run whose pods take their shard from `JOB_COMPLETION_INDEX`, and a
/// matrix of `--shard K/N` jobs; as clean under the schemas, checkov and zizmor as the single-account files, and
/// their spec and shard counts agree.
#[test]
fn the_sharded_cronjob_and_workflow_split_the_accounts_and_are_clean() {
    for version in KUBERNETES_VERSIONS {
        if let Err(e) = kubernetes_validate(&repo().join(SHARDED_CRONJOB), version) {
            panic!("{SHARDED_CRONJOB} against Kubernetes {version}: {e}");
        }
    }
    let (failed, skipped, _) = checkov(&repo().join(SHARDED_CRONJOB));
    assert!(failed.is_empty(), "checkov fails {failed:?} on {SHARDED_CRONJOB}");
    let skipped_ids: Vec<&str> = skipped.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(skipped_ids, ["CKV_K8S_43", "CKV_K8S_15"], "only the two explained skips: {skipped:?}");
    let docs = yaml_docs(SHARDED_CRONJOB);
    let job = &doc(&docs, "CronJob")["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    assert_eq!(job["completions"], job["parallelism"]);
    let container = &job["template"]["spec"]["containers"][0];
    let count = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "EKSAUDIT_SHARD_COUNT")
        .map(|e| e["value"].as_str().unwrap().parse::<u64>().unwrap())
        .expect("EKSAUDIT_SHARD_COUNT");
    assert_eq!(Some(count), job["completions"].as_u64(), "the shard count is the number of indexes");
    // Its spec is a valid [accounts] spec, and each index's shard parses (the binary reads both variables).
    let spec = str_at(doc(&docs, "ConfigMap"), "/data/eksaudit.toml");
    let w = crate::support::Workdir::with_spec(spec);
    let validate = w.run(None, &["validate"]);
    assert_eq!(validate.code(), 0, "{}", validate.stderr());
    assert!(spec.contains("[accounts]"));

    if let Err(e) = check_workflow(&repo().join(SHARDED_WORKFLOW)) {
        panic!("{SHARDED_WORKFLOW}: {e}");
    }
    let findings = zizmor(&repo().join(SHARDED_WORKFLOW));
    assert!(findings.is_empty(), "zizmor finds {findings:?} in {SHARDED_WORKFLOW}");
    let workflow = to_json("yaml", &repo().join(SHARDED_WORKFLOW));
    let workflow = match workflow {
        Value::Array(mut docs) => docs.remove(0),
        other => other,
    };
    let shards = workflow["jobs"]["drift"]["strategy"]["matrix"]["shard"].as_array().expect("a shard matrix").clone();
    let n = workflow["env"]["SHARD_COUNT"].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(shards, (1..=n).map(Value::from).collect::<Vec<_>>(), "shards 1..=SHARD_COUNT");
    assert_eq!(workflow["jobs"]["drift"]["strategy"]["fail-fast"], false);
    assert!(read(SHARDED_WORKFLOW).contains(r#"--shard "$SHARD/$SHARD_COUNT""#));
}
