//! `eksaudit plan`: reads live AWS and shows what apply would change. Read-only: no mutating call. With
//! `[accounts]`, in every member account (`commands::accounts`).

use eksaudit_plan::render::{self, Colors};
use eksaudit_spec::Spec;

use crate::cli::PlanArgs;
use crate::commands::accounts::{self, AccountOutcome, AccountReport, Target};
use crate::commands::live::Live;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

/// One account's plan, and the saved plan of it when `--out` asks.
struct AccountPlan {
    report: AccountReport,
    saved: Option<serde_json::Value>,
}

async fn account(spec: &Spec, target: Target, args: &PlanArgs, settings: &GlobalSettings) -> AccountPlan {
    let live = match Live::read(spec, &target).await {
        Ok(live) => live,
        Err(err) => return AccountPlan { report: AccountReport::failed(err.to_string()), saved: None },
    };
    let plan = &live.plan(spec);
    let text = render::text(plan, Colors(settings.color_stdout));
    let json = render::json(plan);
    let status = if plan.is_blocked() {
        ExitStatus::Error
    } else if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    };
    let saved = (args.out.is_some() && !plan.is_blocked())
        .then(|| eksaudit_plan::saved::save(plan, &live.desired, &live.observed, env!("CARGO_PKG_VERSION")));
    AccountPlan { report: AccountReport { text, json, error: None, changes: plan.has_changes(), status }, saved }
}

pub async fn run(args: &PlanArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let (status, saved) = match accounts::members(&spec, settings).await {
        Err(message) => {
            super::print_error(settings, &message);
            return ExitStatus::Error;
        }
        Ok(None) => {
            let one = account(&spec, accounts::caller(&spec, settings).await, args, settings).await;
            (accounts::print_single(one.report, args.json, settings), one.saved)
        }
        Ok(Some(members)) => {
            let results = members.each(&spec, |_, target| account(&spec, target, args, settings)).await;
            let mut saved = Vec::new();
            let mut complete = true;
            let reports: Vec<(String, AccountOutcome<AccountReport>)> = results
                .into_iter()
                .map(|(id, o)| match o {
                    AccountOutcome::Ran(one) => {
                        match one.saved {
                            Some(s) => saved.push((id.clone(), s)),
                            None => complete = false,
                        }
                        (id, AccountOutcome::Ran(one.report))
                    }
                    AccountOutcome::NotChecked(e) => {
                        complete = false;
                        (id, AccountOutcome::NotChecked(e))
                    }
                    AccountOutcome::NotStarted(why) => (id, AccountOutcome::NotStarted(why)),
                })
                .collect();
            let status = accounts::print_grouped("plan", &reports, args.json, settings);
            // A saved plan covers every selected account, or it is not saved.
            let saved = complete.then(|| eksaudit_plan::saved::save_accounts(saved, env!("CARGO_PKG_VERSION")));
            (status, saved)
        }
    };
    if status == ExitStatus::Error {
        return status;
    }
    if let (Some(path), Some(saved)) = (&args.out, saved) {
        let text = serde_json::to_string_pretty(&saved).expect("a JSON value serialises");
        if let Err(e) = std::fs::write(path, text + "\n") {
            super::print_error(settings, &format!("cannot write the plan to {}: {e}", path.display()));
            return ExitStatus::Error;
        }
        if settings.verbosity > crate::settings::Verbosity::Quiet {
            eprintln!(
                "Saved the plan to {}: `eksaudit apply {}` carries out exactly this plan.",
                path.display(),
                path.display()
            );
        }
    }
    status
}
