//! What a person at a terminal sees: eksaudit run on a pseudo-terminal (`terminal.py`), its bytes read as a
//! terminal shows them (a carriage return starts the line again, erase sequences clear it). The read spinner is
//! drawn while live AWS is read, cleared before the plan is printed, and log lines written meanwhile land above
//! it, whole, never inside it; in a pipe, with `-q` or with `-v` there is no spinner. Colour on a terminal only,
//! unless asked for or against.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use eksaudit_test_support::{Fault, Moto};

use crate::support::{run, sns_spec, Workdir, EXAMPLE};

/// Every cluster of us-east-1.
fn spec() -> String {
    sns_spec(&[("us-east-1", &["*"])])
}

const SPINNER: &str = "reading live AWS: ";

/// A moto whose every answer takes 250 ms, so that the read lasts long enough (over a second) for the spinner
/// to appear (after 400 ms) and draw a few times.
async fn slow_moto() -> Moto {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    moto.recorder().inject(Fault::latency("*", Duration::from_millis(250)));
    moto
}

/// `command` run on a pseudo-terminal: its exit code and every byte it wrote to it (standard output and error).
fn on_a_terminal(command: Command) -> (i32, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut pty = Command::new(root.join(".venv-moto/bin/python"));
    pty.arg(root.join("tests/it/terminal.py")).arg(command.get_program()).args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        pty.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => pty.env(key, value),
            None => pty.env_remove(key),
        };
    }
    pty.env("TERM", "xterm-256color");
    let out = pty.output().expect("run terminal.py");
    let code = out.status.code().expect("an exit code");
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The pseudo-terminal's width (`terminal.py`).
const COLUMNS: usize = 160;

/// The lines a terminal ends up showing, scrollback included: the bytes played on a screen model of a terminal
/// `COLUMNS` wide. A carriage return goes back to column 0 and a line feed to the next line's (the terminal's own
/// output processing, which `terminal.py` turns off to keep the bytes as written); a character past the last
/// column wraps to the next line (indicatif pads a line to the width and lets the next one wrap); ESC `[` `2K` erases
/// the line, `K` to its end, `J` below the cursor; `A`, `B` and `G` move the cursor; colour (`m`) shows nothing.
/// Trailing spaces are trimmed.
fn shown_lines(bytes: &str) -> Vec<String> {
    let mut screen: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = bytes.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => (row, col) = (row + 1, 0),
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut parameter = String::new();
                let command = chars.by_ref().find(|c| {
                    let last = ('@'..='~').contains(c);
                    if !last {
                        parameter.push(*c);
                    }
                    last
                });
                let n = parameter.parse::<usize>().unwrap_or(1);
                let line = &mut screen[row];
                match (command, parameter.as_str()) {
                    (Some('K'), "2") => line.clear(),
                    (Some('K'), "" | "0") => line.truncate(col),
                    (Some('J'), "" | "0") => {
                        line.truncate(col);
                        screen.truncate(row + 1);
                    }
                    (Some('A'), _) => row = row.saturating_sub(n),
                    (Some('B'), _) => row += n,
                    (Some('G'), _) => col = n.saturating_sub(1),
                    _ => {}
                }
            }
            c => {
                if col == COLUMNS {
                    (row, col) = (row + 1, 0);
                }
                if screen.len() <= row {
                    screen.resize(row + 1, Vec::new());
                }
                let line = &mut screen[row];
                if line.len() <= col {
                    line.resize(col + 1, ' ');
                }
                line[col] = c;
                col += 1;
            }
        }
        if screen.len() <= row {
            screen.resize(row + 1, Vec::new());
        }
    }
    screen.iter().map(|line| line.iter().collect::<String>().trim_end().to_string()).collect()
}

#[tokio::test]
async fn the_read_spinner_is_drawn_on_a_terminal_log_lines_go_above_it_whole_and_it_is_cleared_before_the_plan() {
    let moto = slow_moto().await;
    let w = Workdir::with_spec(&spec());
    let mut plan = w.command(Some(&moto.endpoint()), &["plan"]);
    // Log lines while the spinner draws: a debug line per AWS call, at normal verbosity (so the spinner is on).
    plan.env("EKSAUDIT_LOG", "eksaudit_aws=debug");
    let (code, bytes) = on_a_terminal(plan);
    assert_eq!(code, 0, "{bytes}");

    // Drawn, and more than once (its seconds and calls counted up while the read went on).
    let draws = bytes.matches(SPINNER).count();
    assert!(draws >= 3, "the spinner was drawn {draws} times:\n{bytes:?}");

    let shown = shown_lines(&bytes);
    let logged: Vec<&String> = shown.iter().filter(|l| l.contains("AWS call")).collect();
    assert!(logged.len() >= 10, "a debug line per call: {logged:#?}\n{bytes:?}");
    for line in &logged {
        // Whole, on a line of its own: the timestamp first, no spinner before or after it.
        assert!(line.starts_with("20") && !line.contains(SPINNER), "a log line inside the spinner's: {line:?}");
    }
    // Some of them were written while the spinner was on screen, above it: the case this test is about.
    let drawn_at = bytes.find(SPINNER).unwrap();
    let cleared_at = bytes.rfind(SPINNER).unwrap();
    assert!(
        bytes[drawn_at..cleared_at].contains("AWS call"),
        "no log line was written while the spinner drew:\n{bytes:?}"
    );

    // Cleared before the plan: no line shown holds the spinner, and the plan's own lines are whole.
    assert!(!shown.iter().any(|l| l.contains(SPINNER)), "the spinner was left on screen:\n{shown:#?}");
    let summary = shown.iter().find(|l| l.contains("to create")).expect("the plan's summary line");
    assert!(summary.starts_with("Plan:"), "{summary:?}");
    assert!(bytes[cleared_at..].contains("\u{1b}[2K"), "the last spinner line is erased:\n{bytes:?}");
}

#[tokio::test]
async fn every_command_that_reads_live_aws_shows_the_spinner_and_clears_it() {
    let moto = slow_moto().await;
    let w = Workdir::with_spec(&spec());
    // An account without the pipeline: destroy finds nothing to delete (so asks nothing), drift finds it missing.
    for command in ["drift", "status", "outputs", "destroy"] {
        let (code, bytes) = on_a_terminal(w.command(Some(&moto.endpoint()), &[command]));
        assert!((0..=2).contains(&code), "{command}: {code}\n{bytes}");
        assert!(bytes.contains(SPINNER), "{command} drew no spinner:\n{bytes:?}");
        let shown = shown_lines(&bytes);
        assert!(!shown.iter().any(|l| l.contains(SPINNER)), "{command} left the spinner on screen:\n{shown:#?}");
    }
}

#[tokio::test]
async fn no_spinner_in_a_pipe_with_q_or_with_v() {
    let moto = slow_moto().await;
    let w = Workdir::with_spec(&spec());
    let piped = run(&moto, &w, &["plan"]);
    assert_eq!(piped.code(), 0, "{}", piped.stderr());
    assert!(!piped.stderr().contains(SPINNER), "{}", piped.stderr());
    assert!(piped.stdout().contains("to create"), "{}", piped.stdout());
    for flag in ["-q", "-v"] {
        let (code, bytes) = on_a_terminal(w.command(Some(&moto.endpoint()), &[flag, "plan"]));
        assert_eq!(code, 0, "{flag}:\n{bytes}");
        assert!(!bytes.contains(SPINNER), "{flag} drew the spinner:\n{bytes:?}");
        if flag == "-v" {
            // -v's log lines instead, each whole.
            let shown = shown_lines(&bytes);
            assert!(shown.iter().filter(|l| l.contains("AWS call")).count() >= 10, "{shown:#?}");
        }
    }
}

#[test]
fn colour_on_a_terminal_none_with_no_color_or_the_flag_and_clicolor_force_colours_a_pipe() {
    let w = Workdir::with_spec(&EXAMPLE.replacen("name = \"eks-audit\"", "name = \"EKS\"", 1));
    let red_error = "\u{1b}[31m";
    let (code, bytes) = on_a_terminal(w.command(None, &["validate"]));
    assert_eq!(code, 1, "{bytes}");
    assert!(bytes.contains(red_error) && bytes.contains("pipeline.name"), "no colour on a terminal: {bytes:?}");

    let mut no_color = w.command(None, &["validate"]);
    no_color.env("NO_COLOR", "1");
    let (_, bytes) = on_a_terminal(no_color);
    assert!(bytes.contains("pipeline.name") && !bytes.contains('\u{1b}'), "NO_COLOR: {bytes:?}");
    let (_, bytes) = on_a_terminal(w.command(None, &["--no-color", "validate"]));
    assert!(bytes.contains("pipeline.name") && !bytes.contains('\u{1b}'), "--no-color: {bytes:?}");

    let forced = w.run_env(None, &["validate"], &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.stderr().contains(red_error), "CLICOLOR_FORCE in a pipe: {:?}", forced.stderr());
}

#[tokio::test]
async fn apply_on_a_terminal_shows_what_runs_on_one_status_line_with_each_finished_resource_above_it() {
    let moto = slow_moto().await;
    let w = Workdir::with_spec(&spec());
    let (code, bytes) = on_a_terminal(w.command(Some(&moto.endpoint()), &["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{bytes}");
    let status = " running: ";
    // The status line: how many run, each with what it does and its seconds.
    let drawn = bytes.matches(status).count();
    assert!(drawn >= 3, "the status line was drawn {drawn} times:\n{bytes:?}");
    assert!(bytes.contains("region.us-east-1.stream creating ("), "{bytes:?}");

    let shown = shown_lines(&bytes);
    let finished: Vec<&String> = shown.iter().filter(|l| l.contains(": created (")).collect();
    assert!(finished.iter().any(|l| l.contains("region.us-east-1.stream: created")), "{shown:#?}");
    for line in &finished {
        assert!(line.starts_with("✓ ") && !line.contains(status), "a finished line inside the status line: {line:?}");
    }
    // No plain start lines (those are for pipes), and the status line is gone at the end.
    assert!(!shown.iter().any(|l| l.ends_with(": creating…")), "{shown:#?}");
    assert!(!shown.iter().any(|l| l.contains(status)), "the status line was left on screen:\n{shown:#?}");
    assert!(shown.iter().any(|l| l.starts_with("Apply complete!")), "{shown:#?}");
}

/// A throttled call's notice on a terminal: a line of its own above the read spinner, written while the spinner is
/// drawn, never inside its line, and the spinner still cleared before the plan (the README's "says so on standard
/// error, above the progress line").
#[tokio::test]
async fn a_throttle_notice_on_a_terminal_goes_above_the_spinner_on_a_line_of_its_own() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    let w = Workdir::with_spec(&spec());
    crate::support::apply(&moto, &w);
    // Slow answers keep the spinner up; the role's policy is read only after its role (two answers in, past the
    // spinner's 400 ms), so its throttled answer comes while the spinner is drawn.
    moto.recorder().inject(Fault::latency("*", Duration::from_millis(250)));
    moto.recorder().inject(Fault::throttle("GetRolePolicy").times(1));
    let (code, bytes) = on_a_terminal(w.command(Some(&moto.endpoint()), &["plan"]));
    assert_eq!(code, 0, "{bytes}");
    assert_eq!(moto.recorder().faults_fired().get("throttle"), Some(&1), "{bytes:?}");

    // IAM is global: its quota is the account's, and the notice names no region.
    let notice = "  throttled by IAM, waiting…";
    let shown = shown_lines(&bytes);
    assert_eq!(shown.iter().filter(|l| *l == notice).count(), 1, "the notice once, whole:\n{shown:#?}");
    assert!(!shown.iter().any(|l| l.contains("throttled") && *l != notice), "{shown:#?}");
    // Written while the spinner was on screen: after its first draw, before its last.
    let (drawn_at, cleared_at) = (bytes.find(SPINNER).unwrap(), bytes.rfind(SPINNER).unwrap());
    assert!(
        bytes[drawn_at..cleared_at].contains("throttled by IAM, waiting"),
        "the notice came outside the spinner:\n{bytes:?}"
    );
    // Above the spinner, which is drawn again below it and cleared before the plan.
    let notice_row = shown.iter().position(|l| l == notice).unwrap();
    let plan_row = shown.iter().position(|l| l.starts_with("No changes.")).expect("the plan, in sync");
    assert!(notice_row < plan_row, "{shown:#?}");
    assert!(!shown.iter().any(|l| l.contains(SPINNER)), "the spinner was left on screen:\n{shown:#?}");
}

/// `command` on a pseudo-terminal, with `answer` typed at its confirmation prompt.
pub(crate) fn answering(mut command: Command, answer: &str) -> (i32, Vec<String>) {
    command.env("TERMINAL_ANSWER", answer);
    let (code, bytes) = on_a_terminal(command);
    (code, shown_lines(&bytes))
}

#[tokio::test]
async fn apply_and_destroy_on_a_terminal_change_something_only_after_the_answer_yes() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    let w = Workdir::with_spec(&spec());
    let prompt = |verb: &str| format!("Do you want to {verb} these changes? Only 'yes' will be accepted: ");
    let recorder = moto.recorder();

    for (verb, done) in [("apply", "Apply complete!"), ("destroy", "Destroy complete!")] {
        for refusal in ["no", "y", "yes please", ""] {
            recorder.reset();
            let (code, shown) = answering(w.command(Some(&moto.endpoint()), &[verb]), refusal);
            assert_eq!(code, 1, "{verb} answered {refusal:?}:\n{shown:#?}");
            // The plan is shown before the question, the answer is echoed after it.
            assert!(shown.iter().any(|l| l.contains("region.us-east-1.stream")), "{shown:#?}");
            assert!(shown.iter().any(|l| *l == format!("{}{refusal}", prompt(verb)).trim_end()), "{shown:#?}");
            assert!(shown.iter().any(|l| *l == format!("{verb} cancelled; nothing was changed.")), "{shown:#?}");
            assert!(recorder.writes().is_empty(), "{verb} answered {refusal:?} wrote: {:?}", recorder.writes());
        }
        let (code, shown) = answering(w.command(Some(&moto.endpoint()), &[verb]), "yes");
        assert_eq!(code, 0, "{verb} answered yes:\n{shown:#?}");
        assert!(shown.iter().any(|l| l.starts_with(done)), "{shown:#?}");
    }
    // Destroyed: what apply made is gone (the bucket and its logs kept, as `on_destroy` defaults).
    let firehose = &moto.region("us-east-1").firehose;
    let streams = firehose.list_delivery_streams().send().await.unwrap();
    assert!(streams.delivery_stream_names().is_empty(), "{:?}", streams.delivery_stream_names());
}
