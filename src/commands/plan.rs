//! `eksaudit plan`: reads live AWS and shows what apply would change. Read-only: no mutating call.

use std::collections::BTreeMap;

use eksaudit_aws::{Aws, RegionClients};
use eksaudit_plan::render::{self, Colors};
use eksaudit_plan::{DesiredState, DiffOptions, Inputs, Plan};
use eksaudit_spec::Spec;

use crate::cli::PlanArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

/// A plan computed against live AWS, with what it was computed from (apply builds on it).
pub struct LivePlan {
    pub plan: Plan,
    #[allow(dead_code)] // kept for apply, which acts on the desired values
    pub desired: DesiredState,
}

/// Observe, compare: discovery (identity, account guard, clusters) first, then every resource concurrently.
pub async fn compute(spec: &Spec, settings: &GlobalSettings) -> Result<LivePlan, eksaudit_aws::Error> {
    let aws = Aws::connect(&settings.connection, &spec.regions[0].name).await;
    let regions: BTreeMap<String, RegionClients> =
        spec.regions.iter().map(|r| (r.name.clone(), aws.region(&r.name))).collect();
    let discovery = eksaudit_aws::discover(&aws, &regions, spec.pipeline.account_id.as_deref()).await?;
    let account = discovery.identity.account.as_str();
    let desired = DesiredState::build(&Inputs { spec, account, clusters: &discovery.clusters });
    let observed = eksaudit_aws::observe(&aws, &regions, spec, account, &desired, &discovery.clusters).await;
    let options = DiffOptions { pipeline: spec.pipeline.name.clone(), adopt: spec.pipeline.adopt.clone() };
    let plan = eksaudit_plan::diff(&desired, &observed, &options);
    Ok(LivePlan { plan, desired })
}

pub async fn run(args: &PlanArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let live = match compute(&spec, settings).await {
        Ok(live) => live,
        Err(err) => {
            super::print_error(settings, &err.to_string());
            return ExitStatus::Error;
        }
    };
    let plan = &live.plan;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&render::json(plan)).expect("a JSON value serialises"));
    } else {
        print!("{}", render::text(plan, Colors(settings.color_stdout)));
    }
    if plan.is_blocked() {
        ExitStatus::Error
    } else if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    }
}
