//! `eksaudit apply`: computes the plan, shows it, asks, and makes live AWS match the spec. With a plan saved by
//! `plan --out`, it reads live AWS again and carries the plan out only if nothing it was computed from changed.

use std::path::Path;

use eksaudit_plan::saved;

use crate::cli::ApplyArgs;
use crate::commands::live::Live;
use crate::commands::reconcile::{Approval, Mode};
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
    let live = match Live::read(&spec, settings).await {
        Ok(live) => live,
        Err(err) => {
            super::print_error(settings, &err.to_string());
            return ExitStatus::Error;
        }
    };
    let approval = match (&saved_plan, &args.plan_file) {
        (Some(saved_plan), Some(path)) => {
            if let Err(stale) = saved::check(saved_plan, &live.desired, &live.observed, env!("CARGO_PKG_VERSION")) {
                super::print_error(
                    settings,
                    &format!(
                        "the saved plan {} is stale and was not applied: {stale}. Run `eksaudit plan --out {}` again \
                         and review it; nothing was changed",
                        path.display(),
                        path.display()
                    ),
                );
                return ExitStatus::Error;
            }
            // The plan was reviewed when it was saved, and it still describes live AWS exactly.
            Approval::Reviewed
        }
        _ => Approval::Ask,
    };
    let plan = live.plan(&spec);
    super::reconcile::run(Mode::Apply, &spec, &live, &plan, &args.run, approval, settings).await
}
