//! `eksaudit init`: a first spec from what the account holds, with `--yes` for scripts and through a pseudo
//! terminal as a person answers it; the spec it writes validates, and its plan covers every cluster found.

use std::collections::BTreeSet;

use eksaudit_spec::Preset;
use eksaudit_test_support::{Fault, Moto, MOTO_ACCOUNT};

use crate::support::{run, Run, Workdir};

/// Clusters in three regions; prod-2 has audit logging off.
async fn three_regions(moto: &Moto) {
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    moto.create_cluster("eu-central-1", "prod-2", false).await;
    moto.create_cluster("us-east-1", "web", true).await;
    moto.create_cluster("ap-southeast-2", "data", true).await;
}

/// The filters a plan would create, as (region, cluster).
fn planned_filters(plan: &Run) -> BTreeSet<(String, String)> {
    plan.json()["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| {
            let parts: Vec<&str> = r["address"].as_str()?.split('.').collect();
            match parts[..] {
                ["region", region, "cluster", cluster, "filter"] => Some((region.to_string(), cluster.to_string())),
                _ => None,
            }
        })
        .collect()
}

fn expected(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs.iter().map(|(r, c)| (r.to_string(), c.to_string())).collect()
}

#[tokio::test]
async fn init_yes_writes_a_commented_spec_that_validates_and_plans_every_cluster() {
    let moto = Moto::start();
    three_regions(&moto).await;
    let w = Workdir::empty();
    let init = run(&moto, &w, &["init", "--preset", "rad", "--regions", "all", "--yes"]);
    assert_eq!(init.code(), 0, "{}", init.stderr());
    assert!(
        init.stderr().contains("Wrote eksaudit.toml: preset rad, 3 regions (ap-southeast-2, eu-central-1, us-east-1), 4 cluster entries; audit logging turned on by apply in eu-central-1."),
        "{}",
        init.stderr()
    );
    let text = std::fs::read_to_string(w.path().join("eksaudit.toml")).unwrap();
    // The example's comments come along, the account guard is this account, the example's placeholders are gone.
    assert!(text.contains("# Who reads the logs: \"generic\" | \"forticnapp\" | \"rad\" | \"sentinel\"."), "{text}");
    assert!(text.contains("# Cluster names or globs (* ? [...]);"), "{text}");
    assert!(text.contains(&format!("account_id = \"{MOTO_ACCOUNT}\"")), "{text}");
    let spec: toml::Table = toml::from_str(&text).unwrap();
    let consumer = spec["consumer"].as_table().unwrap();
    assert_eq!(consumer["preset"].as_str(), Some("rad"));
    assert!(!consumer.contains_key("account_id") && !consumer.contains_key("external_id"), "{consumer:?}");
    assert!(!spec["pipeline"].as_table().unwrap().contains_key("tags"), "the example's tags are not the user's");
    // The example sets no name or prefix of its own: the preset's conventions hold (RAD's module's names).
    let resolved = eksaudit_spec::parse_spec(&text).unwrap();
    assert_eq!(resolved.bucket.name_template, "ksoc-eks-{hex}");
    assert_eq!(resolved.role_name(eksaudit_spec::RoleKind::Reader), "ksoc-audit-logs");
    let regions: Vec<(String, Vec<String>, bool)> = spec["region"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let clusters = r["clusters"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
            (r["name"].as_str().unwrap().to_string(), clusters, r["enable_audit_logging"].as_bool().unwrap())
        })
        .collect();
    let owned = |r: &str, c: &[&str], e: bool| (r.to_string(), c.iter().map(|s| s.to_string()).collect(), e);
    assert_eq!(
        regions,
        [
            owned("ap-southeast-2", &["data"], false),
            owned("eu-central-1", &["prod-1", "prod-2"], true),
            owned("us-east-1", &["web"], false),
        ]
    );

    assert_eq!(run(&moto, &w, &["validate"]).code(), 0);
    let plan = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(plan.code(), 0, "{}", plan.stderr());
    assert_eq!(
        planned_filters(&plan),
        expected(&[
            ("ap-southeast-2", "data"),
            ("eu-central-1", "prod-1"),
            ("eu-central-1", "prod-2"),
            ("us-east-1", "web")
        ])
    );
    // init only read: nothing was created.
    assert!(moto.recorder().writes().is_empty(), "init or plan wrote: {:?}", moto.recorder().writes());

    // Never over a file without --force; with it, a glob that keeps picking up new clusters.
    let again = run(&moto, &w, &["init", "--preset", "rad", "--yes"]);
    assert_eq!(again.code(), 1);
    assert!(
        again.stderr().contains("eksaudit.toml already exists; pass --force to overwrite it"),
        "{}",
        again.stderr()
    );
    let glob = run(
        &moto,
        &w,
        &["init", "--preset", "rad", "--regions", "eu-central-1", "--clusters", "prod-*", "--yes", "--force", "--plan"],
    );
    assert_eq!(glob.code(), 0, "{}", glob.stderr());
    assert!(
        glob.stdout().contains("region.eu-central-1.cluster.prod-2.filter"),
        "--plan runs the plan: {}",
        glob.stdout()
    );
    let spec: toml::Table = toml::from_str(&std::fs::read_to_string(w.path().join("eksaudit.toml")).unwrap()).unwrap();
    assert_eq!(spec["region"][0]["clusters"].as_array().unwrap()[0].as_str(), Some("prod-*"));
}

#[tokio::test]
async fn init_writes_where_output_says_with_a_set_region_key_in_every_region() {
    let moto = Moto::start();
    three_regions(&moto).await;
    let w = Workdir::empty();
    let args = [
        "init",
        "--preset",
        "rad",
        "--regions",
        "all",
        "--yes",
        "--set",
        "region.log_retention_days=90",
        "--output",
        "audit.toml",
    ];
    let out = run(&moto, &w, &args);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!w.path().join("eksaudit.toml").exists(), "--output names the file");
    let spec: toml::Table = toml::from_str(&std::fs::read_to_string(w.path().join("audit.toml")).unwrap()).unwrap();
    let regions = spec["region"].as_array().unwrap();
    assert_eq!(regions.len(), 3, "the three regions with clusters: {regions:?}");
    for region in regions {
        assert_eq!(region["log_retention_days"].as_integer(), Some(90), "{region:?}");
    }
}

#[tokio::test]
async fn init_says_what_to_pass_and_writes_nothing_it_cannot_validate() {
    let moto = Moto::start();
    three_regions(&moto).await;
    let w = Workdir::empty();
    let spec = w.path().join("eksaudit.toml");
    let fails = |args: &[&str], says: &str| {
        let r = run(&moto, &w, args);
        assert_eq!(r.code(), 1, "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains(says), "{args:?}: {}", r.stderr());
        assert!(!spec.exists(), "{args:?} wrote a spec");
    };
    fails(&["init"], "init asks its questions on a terminal, and this is none; pass --yes");
    fails(
        &["init", "--preset", "nope", "--yes"],
        "--preset \"nope\" is not a preset; use one of generic, forticnapp, rad, sentinel",
    );
    fails(&["init", "--yes", "--set", "consumer"], "--set \"consumer\" is not KEY=VALUE");
    fails(&["init", "--yes", "--regions", "eu-centrl-1"], "--regions:");
    fails(&["init", "--yes", "--regions", "eu-west-3"], "eu-west-3 has no EKS cluster yet; pass --clusters GLOB");
    // generic needs the consumer's account and an external id: the problems, and how to give them.
    fails(&["init", "--preset", "generic", "--yes"], "consumer.account_id: required key is missing");
    fails(&["init", "--preset", "generic", "--yes"], "hint: nothing was written; give the values with --set KEY=VALUE");
    // Credentials that may not list clusters: AWS's words, and the policy that lets init read.
    moto.recorder().inject(Fault::error(
        "GET /clusters",
        403,
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: eks:ListClusters",
    ));
    fails(
        &["init", "--preset", "rad", "--regions", "eu-central-1", "--yes"],
        "is not authorized to perform: eks:ListClusters; grant the reads `eksaudit policy --for init --regions eu-central-1` prints, then run init again",
    );
    moto.recorder().clear_faults();
    let ok = run(
        &moto,
        &w,
        &[
            "init",
            "--preset",
            "generic",
            "--yes",
            "--regions",
            "us-east-1",
            "--set",
            "consumer.account_id=434813966438",
            "--set",
            "consumer.external_id=team-security-2026",
            "--set",
            "region.log_retention_days=90",
            "--set",
            "bucket.retention_days=365",
        ],
    );
    assert_eq!(ok.code(), 0, "{}", ok.stderr());
    let spec: toml::Table = toml::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
    assert_eq!(spec["consumer"]["external_id"].as_str(), Some("team-security-2026"));
    assert_eq!(spec["consumer"]["account_id"].as_str(), Some("434813966438"));
    assert_eq!(spec["region"][0]["log_retention_days"].as_integer(), Some(90));
    assert_eq!(spec["bucket"]["retention_days"].as_integer(), Some(365));
}

/// Runs `eksaudit init ARGS` on a pseudo terminal (Python's standard `pty`) and answers its questions as a person
/// does: each step waits for its prompt to be shown, then types its keys (arrow keys, text, enter). Argument 3 is
/// the steps as JSON, the rest is init's own arguments.
const DRIVE: &str = r#"
import json, os, pty, sys, time
binary, endpoint, steps, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "--endpoint-url", endpoint, "init"] + args)
seen = b""
deadline = time.time() + 60
def read_some():
    global seen
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    seen += chunk
    return bool(chunk)
for prompt, keys in steps:
    at = len(seen)
    while prompt.encode() not in seen[max(0, at - 200):]:
        if time.time() > deadline or not read_some():
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("never asked: " + prompt)
    time.sleep(0.2)
    os.write(fd, keys.encode())
while read_some():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// The arrow key that moves a selection down one item.
const DOWN: &str = "\x1b[B";

/// `eksaudit init ARGS` in `w`, its questions answered by `steps` (prompt shown, keys typed): what the terminal
/// showed, after asserting init succeeded.
fn init_answering(moto: &Moto, w: &Workdir, steps: &[(&str, String)], args: &[&str]) -> String {
    let steps = serde_json::to_string(steps).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", DRIVE, env!("CARGO_BIN_EXE_eksaudit"), &moto.endpoint(), &steps])
        .args(args)
        .current_dir(w.path())
        .envs(eksaudit_test_support::test_env())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{screen}\n{}", String::from_utf8_lossy(&out.stderr));
    screen
}

/// The consumer question answered with `preset`: as many arrow presses down from the first as init lists before
/// it (`Preset::ALL`, init's order), then enter.
fn pick_consumer(preset: Preset) -> (&'static str, String) {
    let downs = Preset::ALL.iter().position(|p| *p == preset).expect("a preset init lists");
    ("Who reads the logs?", format!("{}\r", DOWN.repeat(downs)))
}

fn step(prompt: &'static str, keys: &str) -> (&'static str, String) {
    (prompt, keys.to_string())
}

/// The spec init wrote in `w`, parsed, and its text.
fn written(w: &Workdir) -> (toml::Table, String) {
    let text = std::fs::read_to_string(w.path().join("eksaudit.toml")).expect("a spec written");
    (toml::from_str(&text).unwrap(), text)
}

#[tokio::test]
async fn init_on_a_terminal_asks_and_writes_what_was_answered() {
    let moto = Moto::start();
    three_regions(&moto).await;
    let w = Workdir::empty();
    // Accept the regions and clusters offered, turn audit logging on, pick Sentinel with the arrow keys, type the
    // workspace id, add alerts for kube-system, decline the plan.
    let steps = [
        step("Regions to cover", "\r"),
        step("Clusters in eu-central-1", "\r"),
        step("turn it on?", "\r"),
        step("Clusters in us-east-1", "\r"),
        pick_consumer(Preset::Sentinel),
        step("workspace id", "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\r"),
        step("[alerts]", "y"),
        step("Namespaces whose", "\r"),
        step("E-mail to subscribe", "\r"),
        step("Run `eksaudit plan` now?", "n"),
    ];
    let screen = init_answering(&moto, &w, &steps, &["--regions", "eu-central-1,us-east-1"]);
    assert!(screen.contains(&format!("Account {MOTO_ACCOUNT}")), "{screen}");
    let (spec, text) = written(&w);
    assert_eq!(spec["consumer"]["preset"].as_str(), Some("sentinel"));
    assert_eq!(spec["consumer"]["workspace_id"].as_str(), Some("0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"));
    assert_eq!(spec["alerts"]["namespaces"].as_array().unwrap()[0].as_str(), Some("kube-system"));
    assert!(text.contains("# Namespaces where writes to roles"), "the alerts keys keep the example's comment: {text}");
    let regions: Vec<(&str, bool)> = spec["region"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["enable_audit_logging"].as_bool().unwrap()))
        .collect();
    assert_eq!(regions, [("eu-central-1", true), ("us-east-1", false)]);
    let plan = run(&moto, &w, &["plan", "--json"]);
    assert_eq!(plan.code(), 0, "{}", plan.stderr());
    assert_eq!(
        planned_filters(&plan),
        expected(&[("eu-central-1", "prod-1"), ("eu-central-1", "prod-2"), ("us-east-1", "web")])
    );
}

/// The questions init asks a person for the consumers whose values identify them: the account id and the external
/// id (a generated one offered) for a generic consumer; the FortiCNAPP tenant, from which eksaudit generates the
/// external id in FortiCNAPP's format, or the external id FortiCNAPP gave when no tenant is typed. Each spec
/// written validates and plans the cluster chosen.
#[tokio::test]
async fn init_on_a_terminal_asks_each_consumer_for_its_own_values() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "web", true).await;
    let region = ["--regions", "us-east-1"];
    let no_alerts_no_plan = [step("[alerts]", "n"), step("Run `eksaudit plan` now?", "n")];
    let answer = |consumer: &[(&'static str, String)]| {
        let mut steps = vec![step("Regions to cover", "\r"), step("Clusters in us-east-1", "\r")];
        steps.extend_from_slice(consumer);
        steps.extend_from_slice(&no_alerts_no_plan);
        steps
    };
    let plans_the_cluster = |w: &Workdir| {
        let plan = run(&moto, w, &["plan", "--json"]);
        assert_eq!(plan.code(), 0, "{}", plan.stderr());
        assert_eq!(planned_filters(&plan), expected(&[("us-east-1", "web")]));
    };

    // Generic: the account typed, the generated external id accepted as offered.
    let w = Workdir::empty();
    let steps = answer(&[
        pick_consumer(Preset::Generic),
        step("12-digit AWS account id", "434813966438\r"),
        step("External id the reader role demands", "\r"),
    ]);
    let screen = init_answering(&moto, &w, &steps, &region);
    let (spec, _) = written(&w);
    assert_eq!(spec["consumer"]["preset"].as_str(), Some("generic"));
    assert_eq!(spec["consumer"]["account_id"].as_str(), Some("434813966438"));
    let external_id = spec["consumer"]["external_id"].as_str().expect("the offered external id kept");
    let suffix = external_id.strip_prefix("eksaudit-").unwrap_or_else(|| panic!("generated: {external_id}"));
    assert!(
        suffix.len() == 20 && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "20 random letters and digits: {external_id}"
    );
    assert!(screen.contains(external_id), "the generated id was offered on screen: {screen}");
    plans_the_cluster(&w);

    // Two runs offer two different external ids: generated, not a constant.
    let again = Workdir::empty();
    init_answering(&moto, &again, &steps, &region);
    let (other, _) = written(&again);
    assert_ne!(other["consumer"]["external_id"].as_str(), Some(external_id), "a new id each run");

    // FortiCNAPP with a tenant: the external id is generated in FortiCNAPP's format at apply, from the tenant.
    let w = Workdir::empty();
    let steps = answer(&[pick_consumer(Preset::Forticnapp), step("FortiCNAPP tenant", "acme\r")]);
    init_answering(&moto, &w, &steps, &region);
    let (spec, _) = written(&w);
    assert_eq!(spec["consumer"]["preset"].as_str(), Some("forticnapp"));
    assert_eq!(spec["consumer"]["tenant"].as_str(), Some("acme"));
    assert_eq!(spec["consumer"]["generate_external_id"].as_bool(), Some(true));
    assert!(spec["consumer"].get("external_id").is_none(), "{spec:#?}");
    plans_the_cluster(&w);

    // FortiCNAPP without a tenant: the external id FortiCNAPP gave, pasted.
    let w = Workdir::empty();
    // It names the account the spec is pinned to, as FortiCNAPP's do.
    let given = format!("lweid:aws:v2:acme:{MOTO_ACCOUNT}:AB12CD34EF");
    let steps = answer(&[
        pick_consumer(Preset::Forticnapp),
        step("FortiCNAPP tenant", "\r"),
        step("The external id FortiCNAPP gave you", &format!("{given}\r")),
    ]);
    init_answering(&moto, &w, &steps, &region);
    let (spec, _) = written(&w);
    assert_eq!(spec["consumer"]["external_id"].as_str(), Some(given.as_str()));
    assert!(spec["consumer"].get("tenant").is_none(), "{spec:#?}");
    plans_the_cluster(&w);
}
