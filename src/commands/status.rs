//! `eksaudit status`: are the audit logs arriving? Read-only: discovery, the desired state's selected clusters,
//! then every link of each region's delivery chain (`eksaudit_aws::health`), judged by the plan crate
//! (`eksaudit_plan::health`). Exit 0 when everything is delivering or idle, 2 when anything is stale, failing or
//! lagging, 1 when it cannot tell.

use eksaudit_plan::{health, DesiredState, Inputs};

use crate::cli::StatusArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &StatusArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let (aws, regions) = super::live::connect(&spec, settings).await;
    let discovery = match eksaudit_aws::discover(&aws, &regions, spec.pipeline.account_id.as_deref()).await {
        Ok(d) => d,
        Err(err) => {
            super::print_error(settings, &format!("status could not run: {err}"));
            return ExitStatus::Error;
        }
    };
    let account = discovery.identity.account.clone();
    let desired = DesiredState::build(&Inputs { spec: &spec, account: &account, clusters: &discovery.clusters });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let readings = eksaudit_aws::health(&regions, &spec, &account, &desired.matched_clusters, now, args.since).await;
    let report = health::assess(readings);
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", health::render_text(&report, settings.color_stdout));
    }
    match report.exit_code() {
        0 => ExitStatus::Success,
        2 => ExitStatus::Changes,
        _ => ExitStatus::Error,
    }
}
