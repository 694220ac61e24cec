//! `eksaudit destroy`: removes what the spec created and eksaudit owns, in reverse order. Keeps the log data
//! (buckets unless `on_destroy = "delete"`, every log group) and never touches what it does not own.

use eksaudit_spec::OnDestroy;

use crate::cli::DestroyArgs;
use crate::commands::accounts;
use crate::commands::live::Live;
use crate::commands::reconcile::{Approval, Mode};
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &DestroyArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let retain = spec.bucket.on_destroy == OnDestroy::Retain;
    let members = match accounts::members(&spec, settings).await {
        Ok(members) => members,
        Err(message) => {
            super::print_error(settings, &message);
            return ExitStatus::Error;
        }
    };
    if let Some(members) = members {
        let spec_ref = &spec;
        let reads = members
            .each(&spec, |_, target| async move {
                let spec = spec_ref;
                let live = Live::read_for_destroy(spec, &target).await.map_err(|e| e.to_string())?;
                let plan = eksaudit_plan::destroy_plan(&live.desired, &live.observed, &Live::options(spec), retain);
                Ok((live, plan))
            })
            .await;
        return super::reconcile::run_accounts(Mode::Destroy, &spec, reads, &args.run, Approval::Ask, settings).await;
    }
    let live = match Live::read_for_destroy(&spec, &accounts::caller(&spec, settings).await).await {
        Ok(live) => live,
        Err(err) => {
            super::print_error(settings, &err.to_string());
            return ExitStatus::Error;
        }
    };
    let plan = eksaudit_plan::destroy_plan(&live.desired, &live.observed, &Live::options(&spec), retain);
    super::reconcile::run(Mode::Destroy, &spec, &live, &plan, &args.run, Approval::Ask, settings).await
}
