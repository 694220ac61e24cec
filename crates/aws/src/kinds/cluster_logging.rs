//! A cluster's audit logging (EKS control-plane logging of type `audit`): turned on and waited for. The plan
//! never turns it off: the cluster is not the pipeline's.

use aws_sdk_eks::types::{LogSetup, LogType, Logging, UpdateStatus};
use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use serde_json::json;

use super::{Context, Found, Target, Task};
use crate::retry::{in_use, retry, wait_for};
use crate::shared::{is_code, optional, Call};
use crate::{Error, RegionClients};

pub(crate) fn observe<'a>(c: &'a RegionClients, d: &'a DesiredResource) -> Task<'a> {
    Box::pin(async move { Found::settle(&d.address, read(c, &d.name).await) })
}

/// Whether audit logging is on.
async fn read(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let Some(audit) = audit_logging(c, name).await? else { return Ok(Observation::Absent) };
    let mut o = ObservedResource::default();
    o.fields.insert("audit".into(), json!(audit));
    Ok(Observation::Present(o))
}

/// eks:DescribeCluster: whether the `audit` log type is on; `None` when the cluster does not exist.
pub(crate) async fn audit_logging(c: &RegionClients, name: &str) -> Result<Option<bool>, Error> {
    let out = optional(c.eks.describe_cluster().name(name).send().call("eks:DescribeCluster", name).await)?;
    let Some(cluster) = out.and_then(|o| o.cluster) else { return Ok(None) };
    Ok(Some(cluster.logging().is_some_and(|l| {
        l.cluster_logging().iter().any(|s| s.enabled() == Some(true) && s.types().iter().any(|t| t.as_str() == "audit"))
    })))
}

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    enable(cx, t.clients()?, t.desired()?).await
}

/// Update and replace alike: audit logging turned on.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    create(cx, t).await
}

/// Never planned: a cluster's logging is left as it is when the pipeline goes.
pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    Err(t.cannot())
}

async fn enable(cx: &Context<'_>, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
    let name = d.name.as_str();
    let logging =
        Logging::builder().cluster_logging(LogSetup::builder().types(LogType::Audit).enabled(true).build()).build();
    let started = retry(cx.budgets.cluster_update, in_use, || async {
        c.eks
            .update_cluster_config()
            .name(name)
            .logging(logging.clone())
            .send()
            .call("eks:UpdateClusterConfig", name)
            .await
    })
    .await;
    let update_id = match started {
        Ok(out) => out.update().and_then(|u| u.id()).map(str::to_string),
        // EKS says so when audit logging is already on.
        Err(e)
            if is_code(&e, &["InvalidParameterException"])
                && e.message().to_ascii_lowercase().contains("no changes") =>
        {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    let Some(id) = update_id else {
        return Err(Error::Failed {
            what: format!("eks:UpdateClusterConfig on {name} returned no update id to wait on"),
        });
    };
    cx.progress.waiting(&d.address, "EKS to turn audit logging on");
    wait_for(cx.budgets.cluster_update, &format!("EKS update {id} on cluster {name}"), || async {
        let out = c.eks.describe_update().name(name).update_id(&id).send().call("eks:DescribeUpdate", name).await?;
        match out.update().and_then(|u| u.status()) {
            Some(UpdateStatus::Successful) => Ok(Some(())),
            Some(UpdateStatus::Failed | UpdateStatus::Cancelled) => {
                let errors: Vec<String> = out
                    .update()
                    .map(|u| u.errors().iter().map(|e| e.error_message().unwrap_or_default().to_string()).collect())
                    .unwrap_or_default();
                Err(Error::Failed { what: format!("EKS update {id} on cluster {name} failed: {}", errors.join("; ")) })
            }
            _ => Ok(None),
        }
    })
    .await
}
