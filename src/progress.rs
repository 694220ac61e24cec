//! Live progress for apply and destroy. On a terminal: one line per finished resource above a status line that
//! spins and counts the seconds of everything still running (Firehose and EKS waits take minutes). Otherwise:
//! plain log lines, one per start, wait and end, for CI logs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eksaudit_aws::{Outcome, Progress, StepResult};
use eksaudit_plan::{Action, ResourceChange};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::style::Style;

pub fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::NoOp => "checking",
    }
}

fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::NoOp => "checked",
    }
}

/// The line printed when a resource is finished, or `None` when quiet hides it.
fn finished_line(r: &StepResult, s: Style, quiet: bool) -> Option<String> {
    match &r.outcome {
        Outcome::Done { elapsed } if !quiet => {
            Some(format!("{} {}: {} ({:.1}s)", s.green("✓"), r.address, done(r.action), elapsed.as_secs_f64()))
        }
        Outcome::Failed { error } => Some(format!("{} {}: {} failed: {error}", s.red("✗"), r.address, doing(r.action))),
        Outcome::Skipped { reason } if !quiet => Some(format!("{} {}: skipped: {reason}", s.dim("-"), r.address)),
        _ => None,
    }
}

/// Plain lines on standard error.
pub struct Lines {
    pub style: Style,
    pub quiet: bool,
    /// Put before every line: `[111111111111] ` when several accounts are worked on at once.
    pub prefix: String,
}

impl Progress for Lines {
    fn started(&self, change: &ResourceChange) {
        if !self.quiet {
            eprintln!("{}  {}: {}…", self.prefix, change.address, doing(change.action));
        }
    }
    fn waiting(&self, address: &str, what: &str) {
        if !self.quiet {
            eprintln!("{}  {address}: waiting for {what}…", self.prefix);
        }
    }
    fn finished(&self, r: &StepResult) {
        if let Some(line) = finished_line(r, self.style, self.quiet) {
            eprintln!("{}{line}", self.prefix);
        }
    }
}

/// The spinner drawing now, if any: notices are printed above it.
static DRAWING: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// A lock of the progress state, also after a panic elsewhere held it (what it guards stays usable).
fn locked<T>(state: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A spinner line on standard error whose text `line(tick)` computes at each draw (so counted seconds keep
/// counting; `tick` is the frame, one per 100 ms), registered as the one notices print above.
fn drawing(line: impl Fn(usize) -> String + Send + Sync + 'static) -> ProgressBar {
    // indicatif clones the key's function: shared, not copied.
    let line = Arc::new(line);
    let style = ProgressStyle::with_template("{line}").expect("a valid template").with_key(
        "line",
        move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = out.write_str(&line((state.elapsed().as_millis() / 100) as usize));
        },
    );
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    *locked(&DRAWING) = Some(bar.clone());
    bar
}

/// How notices are coloured (standard error's colour choice), set once by `main`.
static NOTICE_STYLE: std::sync::OnceLock<Style> = std::sync::OnceLock::new();

pub fn set_notice_style(style: Style) {
    let _ = NOTICE_STYLE.set(style);
}

/// Says something to the person watching the run (the AWS crate's notices: "throttled by CloudWatch Logs in
/// eu-west-1, waiting"): above the spinner's line while one draws, else a line on standard error.
pub fn notice(text: &str) {
    let style = NOTICE_STYLE.get().copied().unwrap_or(Style::new(false));
    let line = format!("  {}", style.dim(&format!("{text}…")));
    match locked(&DRAWING).as_ref() {
        Some(bar) => bar.println(line),
        None => eprintln!("{line}"),
    }
}

/// Where log lines (warnings at normal verbosity) go: standard error, with the spinner's line taken down while one
/// is written and drawn again below it, so a warning never lands in the middle of the line being redrawn.
pub fn log_writer() -> LogLine {
    LogLine(Vec::new())
}

/// One log event's text, held until the event is whole (tracing drops its writer after each event) and then
/// written in one piece.
pub struct LogLine(Vec<u8>);

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        use std::io::Write;
        if self.0.is_empty() {
            return;
        }
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.0);
        };
        match locked(&DRAWING).as_ref() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

/// While a command reads live AWS, on a terminal: one spinner line with the calls made and the seconds. Shown
/// only after a moment (a quick run never flashes it), and cleared before anything is printed.
enum Reading {
    Off,
    /// Started, not drawn yet.
    Pending,
    Drawing(ProgressBar),
}

static READING: Mutex<Reading> = Mutex::new(Reading::Off);

/// How long a read goes on before its spinner appears.
const READING_SHOWN_AFTER: Duration = Duration::from_millis(400);

/// Starts the read spinner where a person watches a terminal (not with -q, nor with -v's log lines).
pub fn start_reading(settings: &crate::settings::GlobalSettings) {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || settings.verbosity != crate::settings::Verbosity::Normal {
        return;
    }
    *locked(&READING) = Reading::Pending;
    let (started, base) = (Instant::now(), eksaudit_aws::calls_started());
    tokio::spawn(async move {
        tokio::time::sleep(READING_SHOWN_AFTER).await;
        let mut reading = locked(&READING);
        if !matches!(*reading, Reading::Pending) {
            return;
        }
        *reading = Reading::Drawing(drawing(move |tick| {
            reading_line(eksaudit_aws::calls_started().saturating_sub(base), started.elapsed(), tick)
        }));
    });
}

/// Clears the read spinner (before the command prints anything); nothing when there is none.
pub fn stop_reading() {
    let mut reading = locked(&READING);
    if let Reading::Drawing(bar) = std::mem::replace(&mut *reading, Reading::Off) {
        locked(&DRAWING).take();
        bar.finish_and_clear();
    }
}

/// The read spinner's line.
pub fn reading_line(calls: usize, elapsed: Duration, tick: usize) -> String {
    let plural = if calls == 1 { "" } else { "s" };
    format!("{} reading live AWS: {calls} call{plural}, {}s", SPINNER[tick % SPINNER.len()], elapsed.as_secs())
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// What is running: address → (what it is doing, since when).
type Running = BTreeMap<String, (String, Instant)>;

/// The status line: the spinner, how many are running, and the longest-running ones with their seconds.
pub fn status_line(running: &Running, tick: usize, now: Instant, width: usize) -> String {
    if running.is_empty() {
        return String::new();
    }
    let mut items: Vec<(&String, &(String, Instant))> = running.iter().collect();
    items.sort_by_key(|(_, (_, since))| *since);
    let parts: Vec<String> = items
        .iter()
        .map(|(address, (what, since))| format!("{address} {what} ({}s)", now.duration_since(*since).as_secs()))
        .collect();
    let line = format!("{} {} running: {}", SPINNER[tick % SPINNER.len()], running.len(), parts.join(", "));
    if line.chars().count() > width {
        let cut: String = line.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// A spinner line on a terminal (indicatif's, which redraws it and clears it), with each finished resource printed
/// above it.
pub struct Spinner {
    style: Style,
    quiet: bool,
    running: Arc<Mutex<Running>>,
    bar: ProgressBar,
}

impl Spinner {
    pub fn start(style: Style, quiet: bool) -> Spinner {
        let running: Arc<Mutex<Running>> = Arc::default();
        let r = Arc::clone(&running);
        let bar =
            drawing(move |tick| status_line(&r.lock().expect("progress lock"), tick, Instant::now(), console_width()));
        Spinner { style, quiet, running, bar }
    }

    fn set(&self, address: &str, what: String) {
        self.running.lock().expect("progress lock").insert(address.to_string(), (what, Instant::now()));
        self.bar.tick();
    }
}

/// The width the status line fits in: `COLUMNS` where the shell exports it, else 100.
fn console_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100usize)
}

impl Progress for Spinner {
    fn started(&self, change: &ResourceChange) {
        self.set(&change.address, doing(change.action).to_string());
    }
    fn waiting(&self, address: &str, what: &str) {
        let mut running = self.running.lock().expect("progress lock");
        let since = running.get(address).map_or_else(Instant::now, |(_, since)| *since);
        running.insert(address.to_string(), (format!("waiting for {what}"), since));
    }
    fn finished(&self, r: &StepResult) {
        self.running.lock().expect("progress lock").remove(&r.address);
        if let Some(line) = finished_line(r, self.style, self.quiet) {
            // Printed above the status line, which indicatif redraws below it.
            self.bar.println(line);
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        locked(&DRAWING).take();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_spinner_counts_the_calls_and_the_seconds() {
        assert_eq!(reading_line(734, Duration::from_millis(6400), 1), "⠙ reading live AWS: 734 calls, 6s");
        assert_eq!(reading_line(1, Duration::from_millis(900), 10), "⠋ reading live AWS: 1 call, 0s");
    }

    #[test]
    fn status_line_shows_the_longest_running_first_with_seconds_and_fits_the_terminal() {
        let now = Instant::now();
        let mut running = Running::new();
        assert_eq!(status_line(&running, 0, now, 80), "");
        running.insert(
            "region.us-east-1.stream".into(),
            ("waiting for the Firehose stream to become ACTIVE".into(), now - Duration::from_secs(42)),
        );
        running.insert("region.us-east-1.topic".into(), ("creating".into(), now - Duration::from_secs(1)));
        let line = status_line(&running, 1, now, 200);
        assert_eq!(
            line,
            "⠙ 2 running: region.us-east-1.stream waiting for the Firehose stream to become ACTIVE (42s), region.us-east-1.topic creating (1s)"
        );
        let short = status_line(&running, 0, now, 40);
        assert_eq!(short.chars().count(), 40);
        assert!(short.ends_with('…'));
    }
}
