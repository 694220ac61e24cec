//! `eksaudit apply`: computes the plan, shows it, asks, and makes live AWS match the spec.

use crate::cli::ApplyArgs;
use crate::commands::plan::Live;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &ApplyArgs, settings: &GlobalSettings) -> ExitStatus {
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
    let plan = live.plan(&spec);
    super::reconcile::run(super::reconcile::Mode::Apply, &spec, &live, &plan, &args.run, settings).await
}
