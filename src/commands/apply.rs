//! `eksaudit apply`: computes the plan, shows it, asks, and makes live AWS match the spec. With a plan saved by
//! `plan --out`, it reads live AWS again and carries the plan out only if nothing it was computed from changed.

use std::path::Path;

use eksaudit_plan::saved;

use eksaudit_spec::Spec;

use crate::cli::ApplyArgs;
use crate::commands::accounts::{self, AccountOutcome, Target};
use crate::commands::live::Live;
use crate::commands::reconcile::{AccountRead, Approval, Mode};
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

/// Reads a saved plan file: any problem is the user's to fix, named with the path.
fn read_saved(path: &Path) -> Result<serde_json::Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read the saved plan {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!("{} is not a saved eksaudit plan ({e}); make one with `eksaudit plan --out FILE`", path.display())
    })
}

pub async fn run(args: &ApplyArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let saved_plan = match args.plan_file.as_deref().map(read_saved).transpose() {
        Ok(saved) => saved,
        Err(message) => {
            super::print_error(settings, &message);
            return ExitStatus::Error;
        }
    };
    let members = match accounts::members(&spec, settings).await {
        Ok(members) => members,
        Err(message) => {
            super::print_error(settings, &message);
            return ExitStatus::Error;
        }
    };
    if let Some(members) = members {
        let reads = members.each(&spec, |_, target| read_account(&spec, target)).await;
        let approval = match (&saved_plan, &args.plan_file) {
            (Some(saved_plan), Some(path)) => {
                let mut now = Vec::new();
                let mut unread = Vec::new();
                for (id, read) in &reads {
                    match read {
                        AccountOutcome::Ran(Ok((live, _))) => now.push((id.clone(), &live.desired, &live.observed)),
                        _ => unread.push(id.as_str()),
                    }
                }
                let checked = if unread.is_empty() {
                    saved::check_accounts(saved_plan, &now, env!("CARGO_PKG_VERSION"))
                } else {
                    Err(saved::Stale::OtherTarget(format!("accounts {} could not be read", unread.join(", "))))
                };
                if let Err(stale) = checked {
                    return refuse_stale(path, &stale, settings);
                }
                Approval::Reviewed
            }
            _ => Approval::Ask,
        };
        return super::reconcile::run_accounts(Mode::Apply, &spec, reads, &args.run, approval, settings).await;
    }
    let live = match Live::read(&spec, &accounts::caller(&spec, settings).await).await {
        Ok(live) => live,
        Err(err) => {
            super::print_error(settings, &err.to_string());
            return ExitStatus::Error;
        }
    };
    let approval = match (&saved_plan, &args.plan_file) {
        (Some(saved_plan), Some(path)) => {
            if let Err(stale) = saved::check(saved_plan, &live.desired, &live.observed, env!("CARGO_PKG_VERSION")) {
                return refuse_stale(path, &stale, settings);
            }
            // The plan was reviewed when it was saved, and it still describes live AWS exactly.
            Approval::Reviewed
        }
        _ => Approval::Ask,
    };
    let plan = live.plan(&spec);
    super::reconcile::run(Mode::Apply, &spec, &live, &plan, &args.run, approval, settings).await
}

fn refuse_stale(path: &Path, stale: &saved::Stale, settings: &GlobalSettings) -> ExitStatus {
    super::print_error(
        settings,
        &format!(
            "the saved plan {} is stale and was not applied: {stale}. Run `eksaudit plan --out {}` again \
             and review it; nothing was changed",
            path.display(),
            path.display()
        ),
    );
    ExitStatus::Error
}

/// One member account's read and plan, for apply.
pub(crate) async fn read_account(spec: &Spec, target: Target) -> AccountRead {
    let live = Live::read(spec, &target).await.map_err(|e| e.to_string())?;
    let plan = live.plan(spec);
    Ok((live, plan))
}
