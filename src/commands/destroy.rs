//! `eksaudit destroy`: removes what the spec created and eksaudit owns, in reverse order. Keeps the log data
//! (buckets unless `on_destroy = "delete"`, every log group) and never touches what it does not own.

use eksaudit_spec::OnDestroy;

use crate::cli::DestroyArgs;
use crate::commands::live::Live;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &DestroyArgs, settings: &GlobalSettings) -> ExitStatus {
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
    let retain = spec.bucket.on_destroy == OnDestroy::Retain;
    let plan = eksaudit_plan::destroy_plan(&live.desired, &live.observed, &Live::options(&spec), retain);
    super::reconcile::run(
        super::reconcile::Mode::Destroy,
        &spec,
        &live,
        &plan,
        &args.run,
        super::reconcile::Approval::Ask,
        settings,
    )
    .await
}
