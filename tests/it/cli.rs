//! The CLI contract: validate, exit codes, errors a person can act on.

use eksaudit_test_support::{Fault, Moto};

use crate::support::{Workdir, EXAMPLE};

#[test]
fn validate_accepts_the_example() {
    let w = Workdir::with_spec(EXAMPLE);
    let run = w.run(None, &["validate"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stdout().contains("eksaudit.toml is valid: pipeline \"eks-audit\", 1 region (eu-central-1)"),
        "{}",
        run.stdout()
    );
}

#[test]
fn validate_rejects_bad_input_with_path_location_and_hint() {
    let cases: &[(&str, &str, &str)] = &[
        ("name = \"eks-audit\"", "name = \"EKS\"", "pipeline.name"),
        ("external_id = \"eksaudit-example-external-id\"", "external_id = \"x\"", "consumer.external_id"),
        ("account_id = \"434813966438\"", "account_id = \"4348\"", "consumer.account_id"),
        ("name = \"eu-central-1\"", "name = \"eu-centrl-1\"", "region[0].name"),
        ("clusters = [\"prod-1\", \"stage-*\"]", "clusters = []", "region[0].clusters"),
        ("buffer_size_mb = 5", "buffer_size_mb = 500", "firehose.buffer_size_mb"),
        ("buffer_interval_seconds = 300", "buffer_interval_seconds = 901", "firehose.buffer_interval_seconds"),
        ("retention_days = 180", "retention_dayz = 180", "bucket.retention_dayz"),
        (
            "# name = \"{pipeline}-{account}-{region}\"",
            "name = \"{pipeline}-{account}-{region}-and-a-much-much-longer-suffix\"",
            "bucket.name",
        ),
        (
            "# principal_arn = \"arn:aws:iam::434813966438:role/lacework-platform\"",
            "principal_arn = \"arn:aws:iam:role\"",
            "consumer.principal_arn",
        ),
        ("name = \"eks-audit\"", "name = \"eks-audit\"\nadopt = [\"region.eu-central-1.bukcet\"]", "pipeline.adopt[0]"),
        (
            "[[region]]\nname = \"eu-central-1\"",
            "[[region]]\nname = \"eu-central-1\"\nclusters = [\"a\"]\n\n[[region]]\nname = \"eu-central-1\"",
            "region[1].name",
        ),
    ];
    for (from, to, path) in cases {
        assert!(EXAMPLE.contains(from), "example lacks {from}");
        let w = Workdir::with_spec(&EXAMPLE.replacen(from, to, 1));
        let run = w.run(None, &["validate"]);
        run.assert_no_panic();
        assert_eq!(run.code(), 1, "{path}: {}", run.stderr());
        let err = run.stderr();
        assert!(err.contains(&format!(": {path}: ")), "{path} not named in:\n{err}");
        assert!(err.contains("hint:"), "no hint for {path}:\n{err}");
        assert!(err.contains("eksaudit.toml:"), "no location for {path}:\n{err}");
    }
}

#[test]
fn validate_json_lists_every_problem() {
    let spec = EXAMPLE.replacen("name = \"eks-audit\"", "name = \"X\"", 1).replacen(
        "buffer_size_mb = 5",
        "buffer_size_mb = 0",
        1,
    );
    let w = Workdir::with_spec(&spec);
    let run = w.run(None, &["validate", "--json"]);
    assert_eq!(run.code(), 1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout()).expect("one JSON document");
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["valid"], false);
    let paths: Vec<&str> = doc["problems"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["pipeline.name", "firehose.buffer_size_mb"]);
    assert!(doc["problems"][0]["line"].as_u64().is_some());
}

#[test]
fn missing_or_unreadable_spec_is_exit_1_with_its_path() {
    let w = Workdir::with_spec(EXAMPLE);
    let run = w.run(None, &["validate", "--config", "does-not-exist.toml"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("cannot read spec file does-not-exist.toml"), "{}", run.stderr());
    let run = w.run(None, &["plan", "-c", "."]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("cannot read spec file ."), "{}", run.stderr());
    let binary = w.path().join("binary.toml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    let run = w.run(None, &["validate", "-c", "binary.toml"]);
    run.assert_no_panic();
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("binary.toml"));
}

#[test]
fn usage_errors_are_exit_1_and_help_is_exit_0() {
    let w = Workdir::with_spec(EXAMPLE);
    assert_eq!(w.run(None, &["bogus"]).code(), 1);
    assert_eq!(w.run(None, &["plan", "--no-such-flag"]).code(), 1);
    assert_eq!(w.run(None, &[]).code(), 1);
    let help = w.run(None, &["--help"]);
    assert_eq!(help.code(), 0);
    for cmd in ["validate", "plan", "apply", "destroy", "drift"] {
        assert!(help.stdout().contains(cmd), "{cmd} missing from --help");
    }
    assert_eq!(w.run(None, &["--version"]).code(), 0);
}

#[test]
fn every_command_validates_the_spec_before_any_aws_call() {
    let w = Workdir::with_spec(&EXAMPLE.replacen("name = \"eks-audit\"", "name = \"EKS\"", 1));
    for cmd in ["plan", "apply", "destroy", "drift"] {
        let run = w.run(None, &[cmd]);
        assert_eq!(run.code(), 1, "{cmd}");
        assert!(run.stderr().contains("pipeline.name"), "{cmd}: {}", run.stderr());
    }
}

#[test]
fn no_color_when_not_a_terminal() {
    let w = Workdir::with_spec(&EXAMPLE.replacen("name = \"eks-audit\"", "name = \"EKS\"", 1));
    let run = w.run(None, &["validate"]);
    assert!(!run.stderr().contains('\x1b'), "ANSI escape in piped output");
}

/// Completions come from the same clap definition that parses the command line: bash loads the script, and it
/// completes the real subcommands and flags.
#[test]
fn completions_install_in_bash_and_the_man_page_renders() {
    let w = Workdir { dir: tempfile::tempdir().unwrap() };
    let run = w.run(None, &["completions", "bash"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let script = w.path().join("eksaudit.bash");
    std::fs::write(&script, run.stdout()).unwrap();
    // Source it as a bash_completion.d file is sourced, then ask bash what it would complete after `eksaudit `.
    let probe = format!(
        "source {}; complete -p eksaudit; COMP_WORDS=(eksaudit ''); COMP_CWORD=1; COMP_LINE='eksaudit '; COMP_POINT=9; _eksaudit eksaudit '' eksaudit; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = std::process::Command::new("bash").arg("-c").arg(&probe).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("-F _eksaudit eksaudit"), "{stdout}");
    let words: Vec<&str> = stdout.lines().collect();
    for sub in ["validate", "plan", "apply", "destroy", "drift", "policy", "filter", "outputs", "completions"] {
        assert!(words.contains(&sub), "bash does not complete {sub}: {words:?}");
    }
    for shell in ["zsh", "fish"] {
        let run = w.run(None, &["completions", shell]);
        assert_eq!(run.code(), 0, "{}", run.stderr());
        assert!(run.stdout().contains("detailed-exitcode"), "{shell}: {}", run.stdout());
    }
    let run = w.run(None, &["completions", "tcsh"]);
    assert_eq!(run.code(), 1, "an unknown shell is a usage error: {}", run.stderr());

    let run = w.run(None, &["man"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let page = w.path().join("eksaudit.1");
    std::fs::write(&page, run.stdout()).unwrap();
    assert!(run.stdout().contains("\n.TH eksaudit 1 "), "{}", run.stdout());
    // groff renders it without a warning, and the page names the subcommands.
    let out = std::process::Command::new("groff").args(["-man", "-Tutf8", "-ww"]).arg(&page).output();
    if let Ok(out) = out {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        for sub in ["eksaudit-plan(1)", "eksaudit-drift(1)", "eksaudit-completions(1)"] {
            assert!(text.contains(sub), "the page does not name {sub}: {text}");
        }
    }
}

/// Each way the credentials can stop a run is one line naming the problem and what to run, exit 1, and none of
/// the SDK's own log lines (they need -vv).
#[tokio::test]
async fn credential_and_network_problems_are_one_actionable_line() {
    let w = Workdir::with_spec(EXAMPLE);
    let config = w.path().join("aws-config");
    let one_line = |args: &[&str], env: &[(&str, &str)], unset_keys: bool, endpoint: Option<&str>, says: &str| {
        let mut cmd = w.command(endpoint, args);
        // Never the instance-metadata endpoint, whatever the case: test_env() turns it off.
        cmd.env("AWS_EC2_METADATA_DISABLED", "true");
        if unset_keys {
            cmd.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY").env_remove("AWS_SESSION_TOKEN");
        }
        cmd.envs(env.iter().copied());
        let run = crate::support::Run(cmd.output().unwrap());
        run.assert_no_panic();
        assert_eq!(run.code(), 1, "{args:?}: {}", run.stderr());
        let err = run.stderr();
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line:\n{err}");
        assert!(err.starts_with("error: ") && err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("WARN") && !err.contains("Attempted:") && !err.contains("Unhandled"), "{err}");
    };
    let config_path = config.to_str().unwrap();
    one_line(&["plan"], &[], true, None, "no AWS credentials found (tried the environment, the AWS config and credentials files, web identity, and the ECS and EC2 instance metadata); sign in with `aws sso login --profile P`");
    std::fs::write(&config, "[default]\nregion = eu-central-1\n").unwrap();
    one_line(
        &["--profile", "nope", "plan"],
        &[("AWS_CONFIG_FILE", config_path)],
        true,
        None,
        "the AWS profile \"nope\" is not defined in ~/.aws/config or ~/.aws/credentials; list the profiles with `aws configure list-profiles`",
    );
    std::fs::write(
        &config,
        "[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = eu-central-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n",
    )
    .unwrap();
    let home = w.path().to_str().unwrap();
    one_line(
        &["--profile", "corp", "plan"],
        &[("AWS_CONFIG_FILE", config_path), ("HOME", home)],
        true,
        None,
        "the AWS SSO session is expired or was never signed in on this machine; run `aws sso login --profile P`",
    );
    // Nothing listens on the endpoint: the network, named, after three attempts at connecting (a few seconds of
    // backoff), not the eight attempts and some forty seconds AWS's 5xx answers get.
    let started = std::time::Instant::now();
    one_line(&["plan"], &[], false, Some("http://127.0.0.1:9"), "cannot reach AWS: Connection refused");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(15), "`cannot reach AWS` took {took:?}");
    // Something that is not AWS answers (a web server on the port, a proxy): said so, without the SDK's account
    // of which parser failed on what.
    let not_aws = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let not_aws_url = format!("http://{}", not_aws.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in not_aws.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 65536];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    one_line(
        &["plan"],
        &[],
        false,
        Some(&not_aws_url),
        "the endpoint answered HTTP 404 with no AWS error in it, which is what a server or proxy that is not AWS sends; check --endpoint-url",
    );
    // ... which -vv gives, for whoever debugs it.
    let verbose = w.run(Some(&not_aws_url), &["-vv", "plan"]);
    assert_eq!(verbose.code(), 1, "{}", verbose.stderr());
    let account = "sts:GetCallerIdentity: the SDK could not read the answer: ";
    assert!(verbose.stderr().contains(account), "{}", verbose.stderr());

    // What AWS answers to expired or unknown credentials (moto accepts any key: test support answers as AWS).
    let moto = Moto::start();
    for (code, says) in [
        ("ExpiredToken", "the AWS session has expired (its temporary credentials are no longer valid); get new ones"),
        ("InvalidClientTokenId", "AWS does not recognise these credentials"),
    ] {
        moto.recorder().clear_faults();
        moto.recorder().inject(Fault::error(
            "GetCallerIdentity",
            403,
            code,
            "The security token included in the request is invalid",
        ));
        one_line(&["plan"], &[], false, Some(&moto.endpoint()), says);
    }
    // With -vv the SDK's own words are there for whoever debugs it.
    moto.recorder().clear_faults();
    let run = w.run_env(
        None,
        &["-vv", "plan"],
        &[("AWS_EC2_METADATA_DISABLED", "true"), ("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    assert_eq!(run.code(), 1);
    assert!(run.stderr().lines().count() > 1, "-vv shows the SDK's logs: {}", run.stderr());
}

/// S3 by path only when asked (`--s3-path-style` or `EKSAUDIT_S3_PATH_STYLE`), never guessed from the endpoint.
/// The SDK's own endpoint rules already address S3 by path on an IP endpoint; a named endpoint (`localhost`, an
/// S3-compatible store) is addressed by virtual host unless the flag says otherwise.
#[tokio::test]
async fn s3_path_style_is_asked_for_never_guessed_from_the_endpoint() {
    let moto = Moto::start();
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    let w = Workdir::with_spec(EXAMPLE);
    // `flag`: --s3-path-style; `env`: EKSAUDIT_S3_PATH_STYLE=true.
    let by_path = |endpoint: &str, flag: bool, env: bool| {
        let mut args = vec!["plan", "--json"];
        if flag {
            args.insert(0, "--s3-path-style");
        }
        let mut cmd = w.command(Some(endpoint), &args);
        cmd.env_remove("EKSAUDIT_S3_PATH_STYLE");
        if env {
            cmd.env("EKSAUDIT_S3_PATH_STYLE", "true");
        }
        moto.recorder().reset();
        let run = crate::support::Run(cmd.output().unwrap());
        run.assert_no_panic();
        run
    };
    const BUCKET: &str = "eks-audit-123456789012-eu-central-1";
    let bucket_paths =
        || moto.recorder().requests().iter().filter(|r| r.target.starts_with(&format!("/{BUCKET}"))).count();
    // An IP endpoint: the SDK's rules, no flag needed.
    assert_eq!(by_path(&moto.endpoint(), false, false).code(), 0);
    assert!(bucket_paths() > 0, "S3 was addressed by path on an IP endpoint");
    // A named endpoint: the flag, or the variable, makes S3 go by path (by virtual host, `bucket.localhost` would
    // not resolve on most machines).
    let named = moto.endpoint().replace("127.0.0.1", "localhost");
    for (flag, env) in [(true, false), (false, true)] {
        let run = by_path(&named, flag, env);
        assert_eq!(run.code(), 0, "flag {flag}, env {env}: {}", run.stderr());
        assert!(bucket_paths() > 0, "flag {flag}, env {env}: S3 by path");
    }
    // Neither: never guessed from the endpoint. S3 is addressed by virtual host: the bucket in the host name (on a
    // machine where `bucket.localhost` resolves, the proxy sees it; elsewhere the run cannot reach S3), never in
    // the path.
    let run = by_path(&named, false, false);
    let virtual_hosts = moto
        .recorder()
        .requests()
        .iter()
        .filter(|r| r.header("host").is_some_and(|h| h.starts_with(&format!("{BUCKET}.localhost"))))
        .count();
    assert_eq!(bucket_paths(), 0, "S3 by path without being asked: {}", run.stderr());
    assert!(virtual_hosts > 0 || run.code() == 1, "{}\n{}", run.stdout(), run.stderr());
}

/// The service of a signed request (`Credential=<key>/<date>/<region>/<service>/aws4_request`).
pub(crate) fn signed_service(r: &eksaudit_test_support::Request) -> String {
    r.header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn per_service_endpoint_variables_are_honoured_s3_to_its_own_endpoint() {
    // Two accounts: every service in one, S3 in the other (AWS_ENDPOINT_URL_S3, as the SDK documents it).
    let (everything, s3) = (Moto::start(), Moto::start());
    everything.create_cluster("eu-central-1", "prod-1", true).await;
    let w = Workdir::with_spec(EXAMPLE);
    let (general, s3_only) = (everything.endpoint(), s3.endpoint());
    let out = w.run_env(
        None,
        &["plan"],
        &[("AWS_ENDPOINT_URL", general.as_str()), ("AWS_ENDPOINT_URL_S3", s3_only.as_str())],
    );
    out.assert_no_panic();
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    let services = |moto: &Moto| {
        let mut s: Vec<String> = moto.recorder().requests().iter().map(signed_service).collect();
        s.sort();
        s.dedup();
        s
    };
    assert_eq!(services(&s3), ["s3"], "only S3 goes to AWS_ENDPOINT_URL_S3");
    let general_services = services(&everything);
    assert!(!general_services.contains(&"s3".to_string()), "{general_services:?}");
    assert!(general_services.contains(&"eks".to_string()), "the rest goes to AWS_ENDPOINT_URL: {general_services:?}");
}
