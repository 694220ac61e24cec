//! `eksaudit status`: are the audit logs arriving? Read-only: discovery, the desired state's selected clusters,
//! then every link of each region's delivery chain (`eksaudit_aws::health`), judged by the plan crate
//! (`eksaudit_plan::health`). Exit 0 when everything is delivering or idle, 2 when anything is stale, failing or
//! lagging, 1 when it cannot tell.

use eksaudit_plan::{health, DesiredState, Inputs};

use eksaudit_spec::Spec;

use crate::cli::StatusArgs;
use crate::commands::accounts::{self, AccountReport, Target};
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &StatusArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    accounts::run(&spec, settings, "status", args.json, |target| account(&spec, target, args, settings)).await
}

async fn account(spec: &Spec, target: Target, args: &StatusArgs, settings: &GlobalSettings) -> AccountReport {
    let (aws, regions) = super::live::connect(spec, &target);
    let discovery = match eksaudit_aws::discover(&aws, &regions, target.expected_account.as_deref()).await {
        Ok(d) => d,
        Err(err) => return AccountReport::failed(format!("status could not run: {err}")),
    };
    let account = discovery.identity.account.clone();
    let desired = DesiredState::build(&Inputs { spec, account: &account, clusters: &discovery.clusters });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let readings = eksaudit_aws::health(&regions, spec, &account, &desired.matched_clusters, now, args.since).await;
    let report = health::assess(readings);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("the status report is JSON");
    let status = match report.exit_code() {
        0 => ExitStatus::Success,
        2 => ExitStatus::Changes,
        _ => ExitStatus::Error,
    };
    AccountReport {
        text: health::render_text(&report, settings.color_stdout),
        json,
        error: None,
        changes: status == ExitStatus::Changes,
        status,
    }
}
