//! Running the built binary the way a user does, with a spec in a fresh directory.

use std::path::Path;
use std::process::{Command, Output};

use eksaudit_test_support::{test_env, Moto};

pub const EXAMPLE: &str = include_str!("../../config.example.toml");

/// The generic consumer told by SNS, with its queue subscribed, in each region the clusters given (names or
/// globs).
pub fn sns_spec(regions: &[(&str, &[&str])]) -> String {
    let mut spec = String::from(
        r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"
"#,
    );
    for (region, clusters) in regions {
        let clusters: Vec<String> = clusters.iter().map(|c| format!("\"{c}\"")).collect();
        spec.push_str(&format!("\n[[region]]\nname = \"{region}\"\nclusters = [{}]\n", clusters.join(", ")));
    }
    spec
}

/// A scratch directory holding one spec file.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    /// No spec yet: where `init` starts.
    pub fn empty() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn with_spec(spec: &str) -> Workdir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("eksaudit.toml"), spec).expect("write spec");
        Workdir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `eksaudit` in this directory, offline (no endpoint) unless an endpoint (moto, or a recorder in
    /// front of it) is given.
    pub fn run(&self, endpoint: Option<&str>, args: &[&str]) -> Run {
        Run(self.command(endpoint, args).output().expect("run eksaudit"))
    }

    /// Like [`Workdir::run`], with extra environment variables.
    pub fn run_env(&self, endpoint: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(endpoint, args);
        cmd.envs(env.iter().copied());
        Run(cmd.output().expect("run eksaudit"))
    }

    /// The command `run` runs, for tests that need the process itself (to kill it, to run two at once).
    pub fn command(&self, endpoint: Option<&str>, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_eksaudit"));
        cmd.current_dir(self.path()).args(args).env_remove("NO_COLOR").env_remove("AWS_PROFILE");
        for (k, v) in test_env() {
            cmd.env(k, v);
        }
        if let Some(endpoint) = endpoint {
            cmd.arg("--endpoint-url").arg(endpoint);
        } else {
            // Any AWS call would fail fast instead of leaving the machine.
            cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        }
        cmd
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exit code, not a signal")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// The one JSON document on standard output.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout(), self.stderr()))
    }
    /// No panic ever reaches a user.
    pub fn assert_no_panic(&self) -> &Self {
        assert!(!self.stderr().contains("panicked"), "panic: {}", self.stderr());
        self
    }
}

/// Runs eksaudit against moto, asserting it did not panic.
pub fn run(moto: &Moto, w: &Workdir, args: &[&str]) -> Run {
    let run = w.run(Some(&moto.endpoint()), args);
    run.assert_no_panic();
    run
}

/// `apply --auto-approve`, asserting it succeeded.
pub fn apply(moto: &Moto, w: &Workdir) -> Run {
    let out = run(moto, w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "apply failed:\n{}\n{}", out.stdout(), out.stderr());
    out
}

/// A second apply finds nothing to do and makes no mutating call.
pub fn assert_converged(moto: &Moto, w: &Workdir) {
    moto.recorder().reset();
    let again = run(moto, w, &["apply", "--auto-approve"]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    assert!(moto.recorder().writes().is_empty(), "in-sync apply mutated: {:?}", moto.recorder().writes());
}

/// A running `eksaudit` whose standard error is read line by line as it comes (to act at a given moment, such as
/// interrupting it) while its standard output is drained.
pub struct Watched {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: std::thread::JoinHandle<String>,
}

impl Watched {
    pub fn spawn(mut cmd: Command) -> Watched {
        use std::io::{BufRead, BufReader, Read};
        use std::process::Stdio;
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run eksaudit");
        let mut out = child.stdout.take().expect("piped");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        let (send, lines) = std::sync::mpsc::channel();
        let err = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Watched { child, lines, seen: Vec::new(), stdout }
    }

    /// Waits (two minutes at most) for the first line of standard error `found` says something of.
    pub fn wait_for<T>(&mut self, found: impl Fn(&str) -> Option<T>) -> T {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("not seen in time: {:#?}", self.seen));
            self.seen.push(line);
            if let Some(value) = found(self.seen.last().expect("pushed")) {
                return value;
            }
        }
    }

    /// Sends Ctrl-C's SIGINT, as the terminal does.
    pub fn send_interrupt(&self) {
        let sent = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill");
        assert!(sent.success());
    }

    /// Sends Ctrl-C's SIGINT and waits for the end: the exit code, standard output, and all of standard error.
    pub fn interrupt(mut self) -> (Option<i32>, String, String) {
        self.send_interrupt();
        let status = self.child.wait().expect("wait for eksaudit");
        self.seen.extend(self.lines.iter());
        (status.code(), self.stdout.join().expect("stdout"), self.seen.join("\n"))
    }
}
