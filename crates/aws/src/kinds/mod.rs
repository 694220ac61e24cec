//! One module per resource kind, after Crossplane's managed-resource contract: each holds its kind's `observe`
//! (reads only, never a write), `create`, `update` and `delete` (each idempotent: a create that finds the
//! resource goes on, a delete that finds nothing is done). The generic walk (`observe.rs`) and the generic
//! reconciler (`reconcile.rs`) dispatch to them with an exhaustive `match` on [`Kind`], so a new kind that lacks
//! one of them does not compile.
//!
//! The modules carry the names the plan crate uses for its kinds; one module serves each of the kinds that share
//! their AWS calls: `bucket` the logs and the access-log bucket, `queue` the queue and the dead-letter queue,
//! `log_group` the Firehose error, cluster and function log groups.

pub(crate) mod bucket;
pub(crate) mod bucket_notification;
pub(crate) mod cluster_logging;
pub(crate) mod filter;
pub(crate) mod function;
pub(crate) mod kms_key;
pub(crate) mod log_group;
pub(crate) mod oidc_provider;
pub(crate) mod permission;
pub(crate) mod queue;
pub(crate) mod role;
pub(crate) mod stream;
pub(crate) mod topic;
pub(crate) mod topic_subscription;

use std::collections::BTreeMap;

use eksaudit_plan::{
    DesiredResource, DesiredState, Kind, Observation, ObservedResource, ResourceChange, StaleResource,
};
use eksaudit_spec::Spec;
use futures::future::BoxFuture;

use crate::retry::Budgets;
use crate::shared::{owned_by, unknown};
use crate::{Aws, Error, Progress, RegionClients};

// --- Observe -----------------------------------------------------------------------------------------------

/// What one read task found: observations by address, neighbours, stale resources.
#[derive(Default)]
pub(crate) struct Found {
    pub resources: Vec<(String, Observation)>,
    pub neighbours: Vec<(String, Vec<String>)>,
    pub stale: Vec<StaleResource>,
}

impl Found {
    pub fn one(address: &str, observation: Observation) -> Found {
        Found { resources: vec![(address.to_string(), observation)], ..Default::default() }
    }

    /// One read's observation, or why it could not be made.
    pub fn settle(address: &str, result: Result<Observation, Error>) -> Found {
        Found::one(address, result.unwrap_or_else(|e| unknown(&e)))
    }

    /// A resource the spec no longer implies: stale when it carries this pipeline's owner tag, nothing when it is
    /// absent or someone else's, unknown when it could not be read.
    pub fn owned_leftover(stale: StaleResource, pipeline: &str, result: Result<Observation, Error>) -> Found {
        match result {
            Ok(Observation::Present(o)) if owned_by(&o, pipeline) => {
                Found { stale: vec![StaleResource { fields: o.fields, ..stale }], ..Default::default() }
            }
            Ok(_) => Found::default(),
            Err(e) => Found::one(&stale.address, unknown(&e)),
        }
    }

    pub fn extend(&mut self, other: Found) {
        self.resources.extend(other.resources);
        self.neighbours.extend(other.neighbours);
        self.stale.extend(other.stale);
    }
}

/// A stale resource before its fields are read.
pub(crate) fn stale(address: String, kind: Kind, region: Option<String>, name: String) -> StaleResource {
    StaleResource { address, kind, region, name, fields: BTreeMap::new() }
}

/// A present observation with only fields.
pub(crate) fn present(fields: BTreeMap<String, serde_json::Value>) -> Observation {
    Observation::Present(ObservedResource { fields, ..Default::default() })
}

/// One read task of the walk.
pub(crate) type Task<'a> = BoxFuture<'a, Found>;

/// What a kind's `observe` may look at besides its own desired resource.
pub(crate) struct Reading<'a> {
    pub aws: &'a Aws,
    pub spec: &'a Spec,
    pub account: &'a str,
    pub pipeline: &'a str,
    /// Every desired resource by address: resources read together find each other here.
    pub desired: BTreeMap<&'a str, &'a DesiredResource>,
    /// The reader role names this pipeline owns (under every preset): roles that trust an OIDC provider besides
    /// these are someone else's, and keep it.
    pub our_reader_roles: Vec<String>,
}

// --- Create, update, delete --------------------------------------------------------------------------------

/// What a kind's `create`, `update` and `delete` may use besides the change: the clients, the spec, the wait
/// budgets and the progress report.
pub(crate) struct Context<'a> {
    pub aws: &'a Aws,
    pub spec: &'a Spec,
    pub account: &'a str,
    pub desired: &'a DesiredState,
    pub budgets: Budgets,
    pub progress: &'a dyn Progress,
}

impl Context<'_> {
    /// The tags every resource of the pipeline carries.
    pub fn tags(&self) -> BTreeMap<String, String> {
        self.spec.resource_tags()
    }

    pub fn desired(&self, address: &str) -> Option<&DesiredResource> {
        self.desired.resources.iter().find(|r| r.address == address)
    }
}

/// The change a kind's action carries out: the plan's change, the desired resource (none for a delete), and the
/// region's clients (none for a global resource).
pub(crate) struct Target<'a> {
    pub change: &'a ResourceChange,
    pub desired: Option<&'a DesiredResource>,
    pub clients: Option<&'a RegionClients>,
}

impl<'a> Target<'a> {
    /// The desired resource; a change without one cannot be carried out.
    pub fn desired(&self) -> Result<&'a DesiredResource, Error> {
        self.desired.ok_or_else(|| self.cannot())
    }

    /// The region's clients; a regional change without them cannot be carried out.
    pub fn clients(&self) -> Result<&'a RegionClients, Error> {
        self.clients.ok_or_else(|| self.cannot())
    }

    pub fn name(&self) -> &'a str {
        &self.change.name
    }

    /// The refusal of a change no kind carries out (a log group is never deleted, for one).
    pub fn cannot(&self) -> Error {
        let c = self.change;
        Error::Failed { what: format!("eksaudit cannot {:?} a {} ({})", c.action, c.kind.label(), c.address) }
    }

    /// A field's value before the change: what a delete knows of the resource.
    pub fn old(&self, field: &str) -> Option<&'a serde_json::Value> {
        self.change.old(field)
    }

    /// The fields the change sets. Adopting a resource means tagging it, even when nothing else differs.
    pub fn changed(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.change.changes.iter().map(|c| c.field.clone()).collect();
        if self.change.reason.as_deref().is_some_and(|r| r.starts_with("adopt")) && !fields.iter().any(|f| f == "tags")
        {
            fields.push("tags".into());
        }
        fields
    }
}
