//! What apply and destroy share: show the plan, confirm, act with live progress, summarise.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;

use eksaudit_aws::{Budgets, Outcome, Progress, Reconciler, StepResult};
use eksaudit_plan::render::{self, Colors};
use eksaudit_plan::Plan;
use eksaudit_spec::Spec;

use crate::cli::RunArgs;
use crate::commands::accounts::{AccountOutcome, AccountReport};
use crate::commands::live::Live;
use crate::exit::ExitStatus;
use crate::interrupt::Interrupt;
use crate::progress::{Lines, Spinner};
use crate::settings::{GlobalSettings, Verbosity};
use crate::style::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Destroy,
}

impl Mode {
    fn verb(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Destroy => "destroy",
        }
    }
}

/// Whether the run still needs the user's yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Ask on a terminal unless --auto-approve; refuse without a terminal.
    Ask,
    /// A saved plan, reviewed when it was made and checked as current.
    Reviewed,
}

fn confirm(mode: Mode, args: &RunArgs, settings: &GlobalSettings) -> Result<(), ExitStatus> {
    if args.auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        super::print_error(
            settings,
            &format!(
                "refusing to {} without confirmation: standard input is not a terminal; run with --auto-approve",
                mode.verb()
            ),
        );
        return Err(ExitStatus::Error);
    }
    eprint!("\nDo you want to {} these changes? Only 'yes' will be accepted: ", mode.verb());
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        Ok(())
    } else {
        eprintln!("{} cancelled; nothing was changed.", mode.verb());
        Err(ExitStatus::Error)
    }
}

pub async fn run(
    mode: Mode,
    spec: &Spec,
    live: &Live,
    plan: &Plan,
    args: &RunArgs,
    approval: Approval,
    settings: &GlobalSettings,
) -> ExitStatus {
    crate::progress::stop_reading();
    let style = Style::new(settings.color_stderr);
    print!("{}", render::text(plan, Colors(settings.color_stdout)));
    if plan.is_blocked() {
        super::print_error(
            settings,
            &format!("{} refused: fix the problems above first; nothing was changed", mode.verb()),
        );
        return ExitStatus::Error;
    }
    if !plan.has_changes() {
        return outputs_after(mode, ExitStatus::Success, spec, live, settings).await;
    }
    if approval == Approval::Ask {
        if let Err(status) = confirm(mode, args, settings) {
            return status;
        }
    }
    let quiet = settings.verbosity == Verbosity::Quiet;
    // A spinner only where a person watches and nothing else writes to the same terminal (-v logs each call).
    let live_terminal = std::io::stderr().is_terminal() && !quiet && settings.verbosity == Verbosity::Normal;
    let (spinner, lines);
    let progress: &dyn Progress = if live_terminal {
        spinner = Spinner::start(style, quiet);
        &spinner
    } else {
        lines = Lines { style, quiet, prefix: String::new() };
        &lines
    };
    let interrupt = Interrupt::install(mode.verb(), style);
    let reconciler = Reconciler {
        aws: &live.aws,
        regions: &live.regions,
        spec,
        account: &live.account,
        desired: &live.desired,
        plan,
        budgets: budgets(args),
        progress,
        interrupted: interrupt.requested(),
    };
    let results = match mode {
        Mode::Apply => reconciler.apply().await,
        Mode::Destroy => reconciler.destroy().await,
    };
    interrupt.finished();
    let status = summarise(mode, &results, &style, "");
    outputs_after(mode, status, spec, live, settings).await
}

/// One member account's read for apply or destroy: its live state and plan, or why it could not be read.
pub type AccountRead = Result<(Live, Plan), String>;

/// apply and destroy across member accounts: every plan shown grouped by account, one confirmation, then each
/// account with changes acted on (at most `max_concurrent_accounts` at once, no new one started once more than
/// `failure_tolerance` failed, as StackSets does), one summary line. An account whose role could not be assumed
/// is `not_checked` and does not count against the tolerance: nothing was tried there.
pub async fn run_accounts(
    mode: Mode,
    spec: &Spec,
    reads: Vec<(String, AccountOutcome<AccountRead>)>,
    args: &RunArgs,
    approval: Approval,
    settings: &GlobalSettings,
) -> ExitStatus {
    crate::progress::stop_reading();
    let style = Style::new(settings.color_stderr);
    let out_style = Style::new(settings.color_stdout);
    for (id, read) in &reads {
        println!("{}", out_style.bold(&format!("== account {id} ==")));
        match read {
            AccountOutcome::Ran(Ok((_, plan))) => print!("{}", render::text(plan, Colors(settings.color_stdout))),
            AccountOutcome::Ran(Err(e)) => println!("{}: {e}", out_style.red("error")),
            AccountOutcome::NotChecked(e) => println!("{}: {e}", out_style.red("not checked")),
            AccountOutcome::NotStarted(_) => {}
        }
        println!();
    }
    let any_changes =
        reads.iter().any(|(_, r)| matches!(r, AccountOutcome::Ran(Ok((_, p)))if p.has_changes() && !p.is_blocked()));
    if any_changes && approval == Approval::Ask {
        if let Err(status) = confirm(mode, args, settings) {
            return status;
        }
    }
    let accounts = spec.accounts.as_ref().expect("run_accounts is for [accounts]");
    let tolerance = accounts.failure_tolerance as usize;
    let failures = AtomicUsize::new(0);
    let failures = &failures;
    let quiet = settings.verbosity == Verbosity::Quiet;
    let interrupt = Interrupt::install(mode.verb(), style);
    let interrupted = interrupt.requested();
    let mut done: Vec<(String, AccountOutcome<AccountReport>)> = futures::stream::iter(reads)
        // Boxed: a reconciler's future is large, and several run at once.
        .map(|(id, read)| {
            Box::pin(async move {
                let outcome = match read {
                    AccountOutcome::Ran(Ok((live, plan))) => {
                        if plan.is_blocked() {
                            failures.fetch_add(1, Ordering::SeqCst);
                            let e =
                                format!("{} refused: fix the problems shown first; nothing was changed", mode.verb());
                            // An error, so shown with -q too: the account's line among the others' progress.
                            eprintln!("[{id}] {}", style.red(&e));
                            AccountOutcome::Ran(AccountReport::failed(e))
                        } else if !plan.has_changes() {
                            AccountOutcome::Ran(AccountReport {
                                text: String::new(),
                                json: serde_json::Value::Null,
                                error: None,
                                changes: false,
                                status: ExitStatus::Success,
                            })
                        } else if interrupted.load(Ordering::SeqCst) {
                            if !quiet {
                                eprintln!(
                                    "[{id}] {}: {INTERRUPTED}; nothing was changed here",
                                    style.red("not started")
                                );
                            }
                            AccountOutcome::NotStarted(INTERRUPTED)
                        } else if mode == Mode::Apply && failures.load(Ordering::SeqCst) > tolerance {
                            if !quiet {
                                eprintln!(
                                    "[{id}] {}: {OVER_TOLERANCE} ({tolerance}); nothing was changed here",
                                    style.red("not started")
                                );
                            }
                            AccountOutcome::NotStarted(OVER_TOLERANCE)
                        } else {
                            let lines = Lines { style, quiet, prefix: format!("[{id}] ") };
                            let reconciler = Reconciler {
                                aws: &live.aws,
                                regions: &live.regions,
                                spec,
                                account: &live.account,
                                desired: &live.desired,
                                plan: &plan,
                                budgets: budgets(args),
                                progress: &lines,
                                interrupted,
                            };
                            let results = match mode {
                                Mode::Apply => reconciler.apply().await,
                                Mode::Destroy => reconciler.destroy().await,
                            };
                            let status = summarise(mode, &results, &style, &format!("[{id}] "));
                            if status == ExitStatus::Error {
                                failures.fetch_add(1, Ordering::SeqCst);
                            }
                            let error = (status == ExitStatus::Error).then(|| format!("{} incomplete", mode.verb()));
                            AccountOutcome::Ran(AccountReport {
                                text: String::new(),
                                json: serde_json::Value::Null,
                                error,
                                changes: true,
                                status,
                            })
                        }
                    }
                    AccountOutcome::Ran(Err(e)) => {
                        failures.fetch_add(1, Ordering::SeqCst);
                        AccountOutcome::Ran(AccountReport::failed(e))
                    }
                    AccountOutcome::NotChecked(e) => AccountOutcome::NotChecked(e),
                    AccountOutcome::NotStarted(why) => AccountOutcome::NotStarted(why),
                };
                (id, outcome)
            })
        })
        .buffer_unordered(accounts.max_concurrent_accounts.max(1) as usize)
        .collect()
        .await;
    interrupt.finished();
    done.sort_by(|a, b| a.0.cmp(&b.0));
    // Apply's summary counts accounts changed as "with changes": what this run changed, not what is left to do.
    eprintln!();
    eprintln!("{}", style.bold(&format!("{}: {}", mode.verb(), super::accounts::summary(&done))));
    super::accounts::aggregate(&done)
}

/// Why an account's changes were not started.
const INTERRUPTED: &str = "interrupted (Ctrl-C) before its changes began";
const OVER_TOLERANCE: &str = "more accounts failed than [accounts] failure_tolerance allows";

fn budgets(args: &RunArgs) -> Budgets {
    match args.wait_timeout {
        Some(secs) => Budgets::default().capped(std::time::Duration::from_secs(secs)),
        None => Budgets::default(),
    }
}

/// A successful apply ends with the outputs: what to paste into the consumer's console.
async fn outputs_after(
    mode: Mode,
    status: ExitStatus,
    spec: &Spec,
    live: &Live,
    settings: &GlobalSettings,
) -> ExitStatus {
    if mode == Mode::Apply && status == ExitStatus::Success {
        let out = super::outputs::read(&live.aws, &live.regions, spec, &live.account).await;
        println!();
        print!("{}", eksaudit_plan::outputs::text(&out, Colors(settings.color_stdout)));
    }
    status
}

fn summarise(mode: Mode, results: &[StepResult], style: &Style, prefix: &str) -> ExitStatus {
    let applied = results.iter().filter(|r| matches!(r.outcome, Outcome::Done { .. })).count();
    let failed: Vec<&StepResult> = results.iter().filter(|r| matches!(r.outcome, Outcome::Failed { .. })).collect();
    let skipped = results.iter().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).count();
    let not_started = results.iter().filter(|r| r.outcome == Outcome::NotStarted).count();
    let verb = match mode {
        Mode::Apply => "Apply",
        Mode::Destroy => "Destroy",
    };
    eprintln!();
    if failed.is_empty() && skipped == 0 && not_started == 0 {
        eprintln!(
            "{prefix}{} {applied} resource{} changed.",
            style.green(&style.bold(&format!("{verb} complete!"))),
            if applied == 1 { "" } else { "s" }
        );
        return ExitStatus::Success;
    }
    let (heading, not_started) = if not_started > 0 {
        ("interrupted:", format!(", {not_started} not started"))
    } else {
        ("incomplete:", String::new())
    };
    eprintln!(
        "{prefix}{} {applied} changed, {} failed, {skipped} skipped{not_started}.",
        style.red(&style.bold(&format!("{verb} {heading}"))),
        failed.len()
    );
    for f in &failed {
        if let Outcome::Failed { error } = &f.outcome {
            eprintln!("{prefix}  ✗ {} ({} {}): {error}", f.address, f.kind.label(), f.name);
        }
    }
    let when = if failed.is_empty() { "" } else { " once the cause is fixed" };
    eprintln!("  Run `eksaudit {}` again{when}: it picks up where this run stopped.", mode.verb());
    ExitStatus::Error
}
