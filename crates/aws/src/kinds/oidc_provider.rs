//! The IAM OIDC provider a web-identity consumer (Microsoft Sentinel) federates through: one per issuer in the
//! account, possibly shared with others, so ours is deleted only when no other role trusts it.

use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use eksaudit_spec::{Preset, Spec, Trust};
use serde_json::{json, Value};

use super::role::iam_tags;
use super::{Context, Found, Reading, Target, Task};
use crate::shared::{field, gone_ok, is_code, optional, owned_by, policy_value, tag_map, text, Call, Named};
use crate::{Aws, Error};

/// The provider's ARN, as the plan crate's `Names` makes it.
pub(crate) fn arn(spec: &Spec, account: &str, issuer: &str) -> String {
    eksaudit_plan::Names::new(spec, account).oidc_provider_arn(issuer)
}

/// Every issuer a web-identity preset trusts, by Azure cloud.
pub(crate) fn issuers() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for p in Preset::ALL {
        if let Trust::WebIdentity(w) = p.data().trust {
            out.extend(w.clouds.iter().map(|c| (c.name, c.issuer)));
        }
    }
    out
}

pub(crate) fn observe<'a>(cx: &'a Reading<'a>, d: &'a DesiredResource) -> Task<'a> {
    Box::pin(async move {
        let arn = arn(cx.spec, cx.account, &d.name);
        Found::settle(&d.address, read(cx.aws, &arn, cx.pipeline, &cx.our_reader_roles).await)
    })
}

/// An IAM OIDC provider: its URL, audiences and tags, and, when it is this pipeline's (its tag), the roles other
/// than `ours` that trust it (it is deleted only when none does; another's is never deleted, so never listed for).
pub(crate) async fn read(aws: &Aws, arn: &str, pipeline: &str, ours: &[String]) -> Result<Observation, Error> {
    let iam = aws.iam();
    let out = optional(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .call("iam:GetOpenIDConnectProvider", arn)
            .await,
    )?;
    let Some(p) = out else { return Ok(Observation::Absent) };
    let mut o = ObservedResource { tags: tag_map(p.tags().iter().map(|t| (t.key(), t.value()))), ..Default::default() };
    let url = p.url().unwrap_or_default();
    let url = if url.starts_with("https://") { url.to_string() } else { format!("https://{url}") };
    o.fields.insert("url".into(), json!(url));
    o.fields.insert("client_ids".into(), json!(p.client_id_list()));
    o.fields.insert("thumbprints".into(), json!(p.thumbprint_list()));
    let mut trusted_by = Vec::new();
    if !owned_by(&o, pipeline) {
        return Ok(Observation::Present(o));
    }
    let mut pages = iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.named("iam:ListRoles", arn)?;
        for role in page.roles() {
            if ours.iter().any(|n| n == role.role_name()) {
                continue;
            }
            let trust = policy_value(role.assume_role_policy_document());
            if trust.to_string().contains(arn) {
                trusted_by.push(role.role_name().to_string());
            }
        }
    }
    trusted_by.sort();
    o.fields.insert("trusted_by".into(), json!(trusted_by));
    Ok(Observation::Present(o))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().map(text).collect()
}

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let d = t.desired()?;
    let created = cx
        .aws
        .iam()
        .create_open_id_connect_provider()
        .url(text(field(d, "url")))
        .set_client_id_list(Some(strings(field(d, "client_ids"))))
        .set_thumbprint_list(Some(strings(field(d, "thumbprints"))))
        .set_tags(Some(iam_tags(&cx.tags())?))
        .send()
        .call("iam:CreateOpenIDConnectProvider", &d.name)
        .await;
    match created {
        Ok(_) => Ok(()),
        // There is one per issuer: made meanwhile (or by an interrupted run), it is used, with our audience.
        Err(e) if is_code(&e, &["EntityAlreadyExists"]) => {
            add_client_ids(cx, &d.name, &strings(field(d, "client_ids"))).await
        }
        Err(e) => Err(e),
    }
}

/// Update and replace alike: our audience added, the tags of a provider of ours set.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let d = t.desired()?;
    for c in &t.change.changes {
        match c.field.as_str() {
            "client_ids" => {
                let have: Vec<&Value> = c.old.as_ref().and_then(Value::as_array).into_iter().flatten().collect();
                let add: Vec<String> = field(d, "client_ids")
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|v| !have.contains(v))
                    .map(text)
                    .collect();
                add_client_ids(cx, &d.name, &add).await?;
            }
            // Only a provider of ours is tagged (the diff leaves a shared one's tags alone).
            "tags" => {
                let arn = arn(cx.spec, cx.account, &d.name);
                cx.aws
                    .iam()
                    .tag_open_id_connect_provider()
                    .open_id_connect_provider_arn(&arn)
                    .set_tags(Some(iam_tags(&cx.tags())?))
                    .send()
                    .call("iam:TagOpenIDConnectProvider", &arn)
                    .await?;
            }
            // Others' audiences and the thumbprints are left as they are.
            _ => {}
        }
    }
    Ok(())
}

async fn add_client_ids(cx: &Context<'_>, issuer: &str, ids: &[String]) -> Result<(), Error> {
    let arn = arn(cx.spec, cx.account, issuer);
    for id in ids {
        cx.aws
            .iam()
            .add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .client_id(id)
            .send()
            .call("iam:AddClientIDToOpenIDConnectProvider", &arn)
            .await?;
    }
    Ok(())
}

/// Only ever reached for a provider of ours that no other role trusts (the plan decides).
pub(crate) async fn delete(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let arn = arn(cx.spec, cx.account, t.name());
    gone_ok(
        cx.aws
            .iam()
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .send()
            .call("iam:DeleteOpenIDConnectProvider", &arn)
            .await
            .map(drop),
    )
}
