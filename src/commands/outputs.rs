//! `eksaudit outputs`: per region, what the consumer's console asks for (reader role ARN, external id, bucket
//! ARN and prefix, topic or queue ARN and URL; for Sentinel the role ARN and queue URL its data connector takes).
//! Read-only: it reads the few resources it names from live AWS (a queue's URL, a generated external id).

use std::collections::BTreeMap;

use eksaudit_aws::{Aws, RegionClients};
use eksaudit_plan::outputs::{self, Outputs};
use eksaudit_plan::render::Colors;
use eksaudit_plan::{DesiredState, Inputs, Kind};
use eksaudit_spec::address::{RegionalSlot, RoleSlot};
use eksaudit_spec::{Address, Spec};

use crate::cli::OutputsArgs;
use crate::commands::accounts::{self, AccountReport, Target};
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &OutputsArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    accounts::run(&spec, settings, "outputs", args.json, |target| account(&spec, target, settings)).await
}

async fn account(spec: &Spec, target: Target, settings: &GlobalSettings) -> AccountReport {
    let (aws, regions) = super::live::connect(spec, &target);
    let identity = match aws.check_account(target.expected_account.as_deref()).await {
        Ok(identity) => identity,
        Err(err) => return AccountReport::failed(err.to_string()),
    };
    // Across member accounts a region without a selected cluster has no regional resources: which clusters
    // exist decides what the outputs name.
    let clusters = if spec.accounts.is_some() {
        match eksaudit_aws::discover(&aws, &regions, Some(&identity.account)).await {
            Ok(d) => d.clusters,
            Err(err) => return AccountReport::failed(err.to_string()),
        }
    } else {
        BTreeMap::new()
    };
    let out = read_with(&aws, &regions, spec, &identity.account, &clusters).await;
    report(&out, settings)
}

/// Reads what the outputs name (the reader role, OIDC provider, buckets, topics, queues) and computes them.
pub(crate) async fn read(aws: &Aws, regions: &BTreeMap<String, RegionClients>, spec: &Spec, account: &str) -> Outputs {
    read_with(aws, regions, spec, account, &BTreeMap::new()).await
}

/// [`read`], with the clusters of each region (what decides a member account's regional resources).
async fn read_with(
    aws: &Aws,
    regions: &BTreeMap<String, RegionClients>,
    spec: &Spec,
    account: &str,
    clusters: &BTreeMap<String, Vec<String>>,
) -> Outputs {
    let none = BTreeMap::new();
    let desired = DesiredState::build(&Inputs { spec, account, clusters });
    let named = DesiredState {
        resources: desired
            .resources
            .iter()
            .filter(|r| {
                let address = r.address.parse::<Address>().ok();
                let regional = |slot| matches!(&address, Some(Address::Regional { slot: s, .. }) if *s == slot);
                match r.kind {
                    // The access-log bucket is nothing a consumer is told about.
                    Kind::Bucket => !regional(RegionalSlot::AccessLogBucket),
                    Kind::OidcProvider | Kind::Topic | Kind::Queue => true,
                    Kind::Role => address == Some(Address::Role(RoleSlot::Reader)),
                    // Sentinel's transform: the outputs name it.
                    Kind::Function => regional(RegionalSlot::TransformFunction),
                    _ => false,
                }
            })
            .cloned()
            .collect(),
        ..Default::default()
    };
    let observed = eksaudit_aws::observe(aws, regions, spec, account, &named, &none).await;
    outputs::outputs(spec, &desired, &observed)
}

/// The outputs (text and one JSON document); exit 1 when something they name does not exist yet.
fn report(out: &Outputs, settings: &GlobalSettings) -> AccountReport {
    let text = outputs::text(out, Colors(settings.color_stdout));
    let json = serde_json::to_value(out).expect("outputs serialise to JSON");
    if out.missing.is_empty() {
        return AccountReport { text, json, error: None, changes: false, status: ExitStatus::Success };
    }
    let error = format!(
        "{} do{} not exist yet: run `eksaudit apply`, then `eksaudit outputs` again",
        out.missing.join(", "),
        if out.missing.len() == 1 { "es" } else { "" }
    );
    AccountReport { text, json, error: Some(error), changes: false, status: ExitStatus::Error }
}
