//! The live read that plan, apply, destroy, drift and outputs share: discovery, the desired state computed
//! against it, and every resource observed, including what the pipeline left in regions removed from the spec.

use std::collections::BTreeMap;

use eksaudit_aws::{Aws, RegionClients};
use eksaudit_plan::{DesiredState, DiffOptions, Inputs, ObservedState, Plan};
use eksaudit_spec::{OnDestroy, Spec};

use crate::commands::accounts::Target;

/// The clients of one account: account-wide, and one set per spec region.
pub fn connect(spec: &Spec, target: &Target) -> (Aws, BTreeMap<String, RegionClients>) {
    let aws = target.aws.clone();
    let regions = spec.regions.iter().map(|r| (r.name.clone(), aws.region(&r.name))).collect();
    (aws, regions)
}

/// Live AWS as read for one run, and the desired state computed against it (apply and destroy act on both).
pub struct Live {
    pub aws: Aws,
    pub regions: BTreeMap<String, RegionClients>,
    pub account: String,
    pub desired: DesiredState,
    pub observed: ObservedState,
}

/// What discovery found (identity, account guard, clusters) and the desired state computed against it: what
/// every resource's read needs, and what drift's delivery reads need, which run alongside them.
#[derive(Clone)]
pub struct Discovered {
    pub aws: Aws,
    pub regions: BTreeMap<String, RegionClients>,
    pub account: String,
    pub desired: DesiredState,
    clusters: BTreeMap<String, Vec<String>>,
}

impl Discovered {
    pub async fn new(spec: &Spec, target: &Target) -> Result<Discovered, eksaudit_aws::Error> {
        let (aws, regions) = connect(spec, target);
        let discovery = eksaudit_aws::discover(&aws, &regions, target.expected_account.as_deref()).await?;
        let account = discovery.identity.account.clone();
        let desired = DesiredState::build(&Inputs { spec, account: &account, clusters: &discovery.clusters });
        Ok(Discovered { aws, regions, account, desired, clusters: discovery.clusters })
    }

    /// Every resource read concurrently.
    pub async fn observe(self, spec: &Spec) -> Live {
        let Discovered { aws, regions, account, desired, clusters } = self;
        let mut observed = eksaudit_aws::observe(&aws, &regions, spec, &account, &desired, &clusters).await;
        // Regions removed from the spec: what the pipeline left there is found through its own role's trust.
        let former: BTreeMap<String, RegionClients> =
            eksaudit_aws::former_regions(&observed, spec).into_iter().map(|r| (r.clone(), aws.region(&r))).collect();
        let mut regions = regions;
        if !former.is_empty() {
            eksaudit_aws::observe_former(&former, spec, &account, &mut observed).await;
            regions.extend(former);
        }
        Live { aws, regions, account, desired, observed }
    }
}

impl Live {
    /// Observe: discovery (identity, account guard, clusters) first, then every resource concurrently.
    pub async fn read(spec: &Spec, target: &Target) -> Result<Live, eksaudit_aws::Error> {
        Ok(Discovered::new(spec, target).await?.observe(spec).await)
    }

    /// Destroy's read: the same, and with `on_destroy = "delete"` (the destroy that schedules keys: a retained
    /// bucket keeps its key) what decides whether a key goes: the keys of the clusters' log groups, and the keys
    /// an interrupted apply left without their alias.
    pub async fn read_for_destroy(spec: &Spec, target: &Target) -> Result<Live, eksaudit_aws::Error> {
        let mut live = Live::read(spec, target).await?;
        if spec.bucket.on_destroy == OnDestroy::Delete {
            eksaudit_aws::observe_for_destroy(&live.regions, &live.desired, spec, &mut live.observed).await;
        }
        Ok(live)
    }

    pub fn options(spec: &Spec) -> DiffOptions {
        DiffOptions {
            pipeline: spec.pipeline.name.clone(),
            adopt: spec.pipeline.adopt.clone(),
            keep_log_data: spec.bucket.on_destroy == OnDestroy::Retain,
        }
    }

    /// Compare: what apply would do, with a warning for each class of events the consumer needs that the filter
    /// pattern would never forward.
    pub fn plan(&self, spec: &Spec) -> Plan {
        let mut plan = eksaudit_plan::diff(&self.desired, &self.observed, &Self::options(spec));
        plan.warnings.extend(super::filter::pattern_warnings(spec));
        plan
    }
}
