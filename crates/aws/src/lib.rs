//! Every AWS SDK call eksaudit makes lives in this crate: client construction, identity, and the observation of
//! live resources. The domain crates never see an SDK type.

mod accounts;
mod address;
mod calls;
mod clients;
mod error;
mod health;
mod inventory;
mod kinds;
mod observe;
mod pace;
mod progress;
pub mod quotas;
mod reconcile;
mod retry;
mod shared;

use std::collections::BTreeMap;

use futures::future::join_all;

use crate::shared::{Call, Named};

pub use accounts::{member_accounts, member_role_arn, MemberAccounts};
pub use calls::calls_started;
pub use clients::{Aws, ConnectionSettings, RegionClients};
pub use error::{Error, ErrorKind, SdkSource};
pub use health::health;
pub use inventory::{inventory, ClusterInventory, Inventory, RegionInventory};
pub use observe::{former_regions, observe, observe_for_destroy, observe_former};
pub use pace::{Notice, DEFAULT_MAX_CONCURRENCY, THROTTLE_BUDGET};
pub use progress::{Outcome, Progress, StepResult};
pub use reconcile::Reconciler;
pub use retry::{Budget, Budgets};

/// What must be known before the desired state can be computed: whose account, and which clusters exist.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub identity: Identity,
    /// Every cluster of each spec region, sorted.
    pub clusters: BTreeMap<String, Vec<String>>,
}

/// Identity (and the account guard) and every region's cluster list, concurrently.
pub async fn discover(
    aws: &Aws,
    regions: &BTreeMap<String, RegionClients>,
    expected_account: Option<&str>,
) -> Result<Discovery, Error> {
    let lists = join_all(regions.iter().map(|(name, c)| async move { (name.clone(), c.list_clusters().await) }));
    let (identity, lists) = futures::join!(aws.check_account(expected_account), lists);
    let identity = identity?;
    let mut clusters = BTreeMap::new();
    for (region, list) in lists {
        clusters.insert(region, list?);
    }
    Ok(Discovery { identity, clusters })
}

/// Who the credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

impl Aws {
    /// STS GetCallerIdentity: the account everything runs against.
    pub async fn identity(&self) -> Result<Identity, Error> {
        let out = self.sts().get_caller_identity().send().call("sts:GetCallerIdentity", "caller identity").await?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// Refuses to go on when the spec pins an account and the credentials belong to another.
    pub async fn check_account(&self, expected: Option<&str>) -> Result<Identity, Error> {
        let identity = self.identity().await?;
        match expected {
            Some(expected) if expected != identity.account => Err(Error::AccountMismatch {
                expected: expected.to_string(),
                actual: identity.account,
                arn: identity.arn,
            }),
            _ => Ok(identity),
        }
    }
}

/// Now, as RFC 3339 in UTC (`2026-11-23T12:00:00Z`), for reports.
pub fn now_rfc3339() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

impl Aws {
    /// sns:Publish to a topic in `region`: the drift check's alert. Returns the message id.
    pub async fn publish(&self, region: &str, topic_arn: &str, subject: &str, message: &str) -> Result<String, Error> {
        let out = self
            .region(region)
            .sns
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .call("sns:Publish", topic_arn)
            .await?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

impl RegionClients {
    /// eks:ListClusters, every page.
    pub async fn list_clusters(&self) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        let mut pages = self.eks.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.named("eks:ListClusters", &self.region)?;
            names.extend(page.clusters().iter().cloned());
        }
        names.sort();
        Ok(names)
    }
}
