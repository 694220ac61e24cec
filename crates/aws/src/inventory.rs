//! What `eksaudit init` shows before there is a spec: the account, the regions the credentials can use, and each
//! region's EKS clusters with their audit-logging state. Read-only, concurrent.

use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::kinds::cluster_logging;
use crate::{Aws, Error, Identity};

/// One EKS cluster as init offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInventory {
    pub name: String,
    /// The `audit` log type is on; `None` when the cluster could not be described.
    pub audit_logging: Option<bool>,
}

/// One region as init offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInventory {
    pub region: String,
    pub clusters: Vec<ClusterInventory>,
}

/// The account and, per region the credentials may use, its clusters.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub identity: Identity,
    /// Regions that answered, in the order asked, with or without clusters.
    pub regions: Vec<RegionInventory>,
    /// Regions that are not enabled for the account (an opt-in region never opted into answers as if the
    /// credentials were unknown there).
    pub not_enabled: Vec<String>,
}

/// DescribeCluster calls in flight per region.
const DESCRIBES_AT_ONCE: usize = 8;

/// Codes a region answers with when the account has not opted into it: the credentials are not known there.
fn region_not_enabled(e: &Error) -> bool {
    matches!(e.code(), Some("UnrecognizedClientException" | "InvalidClientTokenId" | "AuthFailure"))
}

/// Identity, then every region's clusters and each cluster's audit logging, all regions at once. An error other
/// than a region not enabled ends it: init cannot offer a region it could not read.
pub async fn inventory(aws: &Aws, regions: &[String]) -> Result<Inventory, Error> {
    let identity = aws.identity().await?;
    let reads = join_all(regions.iter().map(|region| async move {
        let c = aws.region(region);
        let names = match c.list_clusters().await {
            Ok(names) => names,
            Err(e) if region_not_enabled(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        // EKS's describe calls are rate-limited per account and region: a few at a time, in order.
        let states: Vec<_> = stream::iter(names.iter())
            .map(|n| cluster_logging::audit_logging(&c, n))
            .buffered(DESCRIBES_AT_ONCE)
            .collect()
            .await;
        let clusters = names
            .into_iter()
            .zip(states)
            .map(|(name, state)| ClusterInventory { name, audit_logging: state.ok().flatten() })
            .collect();
        Ok(Some(RegionInventory { region: region.clone(), clusters }))
    }))
    .await;
    let (mut found, mut not_enabled) = (Vec::new(), Vec::new());
    for (region, read) in regions.iter().zip(reads) {
        match read? {
            Some(r) => found.push(r),
            None => not_enabled.push(region.clone()),
        }
    }
    Ok(Inventory { identity, regions: found, not_enabled })
}
