//! `eksaudit outputs`: per region, what the consumer's console asks for (reader role ARN, external id, bucket
//! ARN and prefix, topic or queue ARN and URL; for Sentinel the role ARN and queue URL its data connector takes).
//! Read-only: it reads the few resources it names from live AWS (a queue's URL, a generated external id).

use std::collections::BTreeMap;

use eksaudit_aws::{Aws, RegionClients};
use eksaudit_plan::outputs::{self, Outputs};
use eksaudit_plan::render::Colors;
use eksaudit_plan::{DesiredState, Inputs, Kind};
use eksaudit_spec::Spec;

use crate::cli::OutputsArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(args: &OutputsArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let (aws, regions) = super::live::connect(&spec, settings).await;
    let identity = match aws.check_account(spec.pipeline.account_id.as_deref()).await {
        Ok(identity) => identity,
        Err(err) => {
            super::print_error(settings, &err.to_string());
            return ExitStatus::Error;
        }
    };
    let out = read(&aws, &regions, &spec, &identity.account).await;
    print(&out, args.json, settings)
}

/// Reads what the outputs name (the reader role, OIDC provider, buckets, topics, queues) and computes them.
pub(crate) async fn read(aws: &Aws, regions: &BTreeMap<String, RegionClients>, spec: &Spec, account: &str) -> Outputs {
    let none = BTreeMap::new();
    let desired = DesiredState::build(&Inputs { spec, account, clusters: &none });
    let named = DesiredState {
        resources: desired
            .resources
            .iter()
            .filter(|r| match r.kind {
                // The access-log bucket is nothing a consumer is told about.
                Kind::Bucket => !r.address.ends_with(".access_log_bucket"),
                Kind::OidcProvider | Kind::Topic | Kind::Queue => true,
                Kind::Role => r.address == "role.reader",
                // Sentinel's transform: the outputs name it.
                Kind::Function => r.address.ends_with(".transform_function"),
                _ => false,
            })
            .cloned()
            .collect(),
        ..Default::default()
    };
    let observed = eksaudit_aws::observe(aws, regions, spec, account, &named, &none).await;
    outputs::outputs(spec, &desired, &observed)
}

/// Prints the outputs (text or one JSON document) on standard output; exit 1 when something they name does not
/// exist yet.
pub(crate) fn print(out: &Outputs, json: bool, settings: &GlobalSettings) -> ExitStatus {
    if json {
        println!("{}", serde_json::to_string_pretty(out).expect("outputs serialise to JSON"));
    } else {
        print!("{}", outputs::text(out, Colors(settings.color_stdout)));
    }
    if out.missing.is_empty() {
        ExitStatus::Success
    } else {
        super::print_error(
            settings,
            &format!(
                "{} do{} not exist yet: run `eksaudit apply`, then `eksaudit outputs` again",
                out.missing.join(", "),
                if out.missing.len() == 1 { "es" } else { "" }
            ),
        );
        ExitStatus::Error
    }
}
