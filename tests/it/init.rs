//! `eksaudit init`: a first spec from what the account holds, with `--yes` for scripts and through a pseudo
//! terminal as a person answers it; the spec it writes validates, and its plan covers every cluster found.

use std::collections::BTreeSet;

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

/// The questions as a person answers them, through a pseudo terminal (Python's standard `pty`): accept the
/// regions and clusters offered, turn audit logging on, pick Sentinel with the arrow keys, type the workspace id,
/// add alerts for kube-system, decline the plan.
const DRIVE: &str = r#"
import os, pty, sys, time
binary, endpoint = sys.argv[1], sys.argv[2]
steps = [
    ("Regions to cover", "\r"),
    ("Clusters in eu-central-1", "\r"),
    ("turn it on?", "\r"),
    ("Clusters in us-east-1", "\r"),
    ("Who reads the logs?", "\x1b[B\x1b[B\x1b[B\r"),
    ("workspace id", "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\r"),
    ("[alerts]", "y"),
    ("Namespaces whose", "\r"),
    ("E-mail to subscribe", "\r"),
    ("Run `eksaudit plan` now?", "n"),
]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "--endpoint-url", endpoint, "init", "--regions", "eu-central-1,us-east-1"])
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

#[tokio::test]
async fn init_on_a_terminal_asks_and_writes_what_was_answered() {
    let moto = Moto::start();
    three_regions(&moto).await;
    let w = Workdir::empty();
    let out = std::process::Command::new("python3")
        .args(["-c", DRIVE, env!("CARGO_BIN_EXE_eksaudit"), &moto.endpoint()])
        .current_dir(w.path())
        .envs(eksaudit_test_support::test_env())
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(screen.contains(&format!("Account {MOTO_ACCOUNT}")), "{screen}");
    let text = std::fs::read_to_string(w.path().join("eksaudit.toml")).expect("a spec written");
    let spec: toml::Table = toml::from_str(&text).unwrap();
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
