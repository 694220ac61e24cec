//! Running the built binary the way a user does, with a spec in a fresh directory.

use std::path::Path;
use std::process::{Command, Output};

use eksaudit_test_support::{test_env, Moto};

pub const EXAMPLE: &str = include_str!("../../config.example.toml");

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
