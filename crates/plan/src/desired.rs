//! The desired state: every resource the spec implies, with the hardened values eksaudit sets, computed by pure
//! code from the spec, the account and the clusters that exist. What each resource is lives in its kind's module
//! (`kinds/`); this is the walk over the spec that asks each of them, in the order plans list resources.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, ClusterSelector, Region, Spec};

use crate::kinds;
use crate::names::Names;
use crate::report::{Cause, Message};

pub use crate::kinds::bucket::{ABORT_MULTIPART_DAYS, ACCESS_LOG_PREFIX};
pub use crate::kinds::kms_key::KMS_KEY_ADMIN_ACTIONS;
pub use crate::kinds::queue::{DEAD_LETTER_RETENTION_SECONDS, MAX_RECEIVE_COUNT, QUEUE_RETENTION_SECONDS};
pub use crate::kinds::role::{fill_generated, resolve_generated, role_statements, FORMER_READER_ROLE, GENERATED};
pub use crate::kinds::stream::{FIREHOSE_ERROR_LOG_STREAM, STREAM_ENCRYPTION_ENABLED};
use crate::model::DesiredResource;

/// The address of the IAM OIDC provider a web-identity reader (Sentinel) is trusted through, per Azure cloud:
/// `oidc_provider.commercial`.
pub fn oidc_provider_address(cloud: &str) -> String {
    kinds::oidc_provider::address(cloud)
}

/// Everything the desired state is computed from.
pub struct Inputs<'a> {
    pub spec: &'a Spec,
    pub account: &'a str,
    /// The clusters that exist, per region (from eks:ListClusters).
    pub clusters: &'a BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DesiredState {
    pub resources: Vec<DesiredResource>,
    /// The clusters each region's selectors matched.
    pub matched_clusters: BTreeMap<String, Vec<String>>,
    pub errors: Vec<Message>,
    pub warnings: Vec<Message>,
}

impl DesiredState {
    pub fn build(inputs: &Inputs<'_>) -> DesiredState {
        let spec = inputs.spec;
        let n = Names::new(spec, inputs.account);
        let mut out = DesiredState::default();
        out.resources.extend(kinds::oidc_provider::desired(&n));
        out.resources.extend(kinds::role::desired(&n));
        if spec.transforms() {
            out.resources.push(kinds::role::transform(&n));
        }
        for (index, region) in spec.regions.iter().enumerate() {
            let r = region.name.as_str();
            let matched = out.match_clusters(inputs, index, region);
            // Across member accounts, a region where the account runs no selected cluster gets nothing: the next
            // apply after a cluster appears builds it, and what exists there already is left as it is.
            if spec.accounts.is_some() && matched.is_empty() {
                out.warnings.push(
                    Message::new(
                        Address::Region { region: r.to_string() }.to_string(),
                        format!(
                            "no clusters: account {} runs no selected cluster in {r}, so it gets no regional resources",
                            inputs.account
                        ),
                        "the next apply after a matching cluster appears builds them; nothing already there is removed"
                            .to_string(),
                    )
                    .because(Cause::Standing),
                );
                out.matched_clusters.insert(r.to_string(), matched);
                continue;
            }
            out.resources.extend(kinds::kms_key::desired(&n, r));
            out.resources.extend(kinds::bucket::desired(&n, r));
            out.resources.extend(kinds::topic::desired(&n, r));
            out.resources.extend(kinds::topic_subscription::desired(&n, r));
            out.resources.extend(kinds::queue::desired(&n, r));
            out.resources.extend(kinds::bucket_notification::desired(&n, r));
            out.resources.push(kinds::log_group::firehose(&n, region));
            if spec.transforms() {
                out.resources.push(kinds::log_group::transform(&n, region));
                out.resources.push(kinds::function::transform(&n, r));
            }
            out.resources.push(kinds::stream::desired(&n, r));
            for cluster in &matched {
                out.resources.push(kinds::cluster_logging::desired(region, index, cluster));
                out.resources.push(kinds::log_group::cluster(&n, region, cluster));
                out.resources.push(kinds::filter::desired(&n, r, cluster));
            }
            out.matched_clusters.insert(r.to_string(), matched);
        }
        crate::alerts::add(&n, &out.matched_clusters, &mut out.resources, &mut out.warnings);
        out.errors.extend(kinds::role::over_iams_limits(&out.resources));
        out
    }

    /// The existing clusters a region's selectors match, sorted; a named cluster that does not exist is an
    /// error, a glob that matches nothing yet a note.
    fn match_clusters(&mut self, inputs: &Inputs<'_>, index: usize, region: &Region) -> Vec<String> {
        let r = region.name.as_str();
        let existing = inputs.clusters.get(r).map(Vec::as_slice).unwrap_or_default();
        let mut matched: Vec<String> = Vec::new();
        for selector in &region.clusters {
            let hits: Vec<&String> = existing.iter().filter(|c| selector.matches(c)).collect();
            if hits.is_empty() {
                match selector {
                    ClusterSelector::Name(name) => {
                        self.errors.push(Message::new(
                            Address::Cluster { region: r.to_string(), cluster: name.clone() }.to_string(),
                            format!("cluster {name:?} named in region[{index}].clusters does not exist in {r}"),
                            format!("check the name with `aws eks list-clusters --region {r}`, or use a glob such as \"{name}*\""),
                        ));
                        continue;
                    }
                    ClusterSelector::Glob(glob) => self.warnings.push(
                        Message::new(
                            Address::Region { region: r.to_string() }.to_string(),
                            format!("glob {glob:?} in region[{index}].clusters matches no cluster in {r} yet"),
                            "clusters created later are picked up by the next apply; drift reports them".to_string(),
                        )
                        .because(Cause::Info),
                    ),
                }
            }
            for hit in hits {
                if !matched.contains(hit) {
                    matched.push(hit.clone());
                }
            }
        }
        matched.sort();
        matched
    }
}
