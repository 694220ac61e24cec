//! `eksaudit plan`: reads live AWS and shows what apply would change. Read-only: no mutating call.

use eksaudit_plan::render::{self, Colors};

use crate::cli::PlanArgs;
use crate::commands::live::Live;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &PlanArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let live = match Live::read(&spec, settings).await {
        Ok(live) => live,
        Err(err) => {
            super::print_error(settings, &err.to_string());
            return ExitStatus::Error;
        }
    };
    let plan = &live.plan(&spec);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&render::json(plan)).expect("a JSON value serialises"));
    } else {
        print!("{}", render::text(plan, Colors(settings.color_stdout)));
    }
    if plan.is_blocked() {
        return ExitStatus::Error;
    }
    if let Some(path) = &args.out {
        let saved = eksaudit_plan::saved::save(plan, &live.desired, &live.observed, env!("CARGO_PKG_VERSION"));
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
    if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    }
}
