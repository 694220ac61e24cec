//! IAM roles: the pipeline's own (its trust, its one inline policy, its tags) and reused ones (read only, every
//! policy they have, so the plan can check they grant what is needed).

use std::collections::BTreeMap;

use eksaudit_plan::{DesiredResource, Management, Observation, ObservedResource};
use eksaudit_spec::ExternalId;
use serde_json::{json, Value};

use super::{Context, Found, Reading, Target, Task};
use crate::shared::{build_error, field, gone_ok, is_code, optional, policy_value, tag_map, Call};
use crate::{Aws, Error, ErrorKind};

pub(crate) fn observe<'a>(cx: &'a Reading<'a>, d: &'a DesiredResource) -> Task<'a> {
    Box::pin(async move {
        let result = match &d.management {
            Management::Reused { .. } => reused(cx.aws, &d.name).await,
            _ => owned(cx.aws, &d.name, cx.pipeline).await,
        };
        Found::settle(&d.address, result)
    })
}

/// IAM's tags from a map.
pub(crate) fn iam_tags(tags: &BTreeMap<String, String>) -> Result<Vec<aws_sdk_iam::types::Tag>, Error> {
    tags.iter().map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(build_error)).collect()
}

fn role_name(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}

/// A role of the pipeline's: its trust, the inline policy named after the pipeline, the managed policies attached.
pub(crate) async fn owned(aws: &Aws, name: &str, pipeline: &str) -> Result<Observation, Error> {
    let iam = aws.iam();
    let role = optional(iam.get_role().role_name(name).send().call("iam:GetRole", name).await)?;
    let Some(role) = role.and_then(|r| r.role) else { return Ok(Observation::Absent) };
    let inline = optional(
        iam.get_role_policy().role_name(name).policy_name(pipeline).send().call("iam:GetRolePolicy", name).await,
    )?;
    let attached =
        iam.list_attached_role_policies().role_name(name).send().call("iam:ListAttachedRolePolicies", name).await?;
    let mut attached: Vec<&str> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
    attached.sort();
    let mut o =
        ObservedResource { tags: tag_map(role.tags().iter().map(|t| (t.key(), t.value()))), ..Default::default() };
    o.fields.insert("attached_policies".into(), json!(attached));
    o.fields.insert("trust_policy".into(), policy_value(role.assume_role_policy_document()));
    o.fields.insert("permissions".into(), policy_value(inline.as_ref().map(|p| p.policy_document())));
    Ok(Observation::Present(o))
}

/// A reused role: every policy it has, inline and attached, so the plan can check it grants what is needed.
async fn reused(aws: &Aws, arn: &str) -> Result<Observation, Error> {
    let iam = aws.iam();
    let name = role_name(arn);
    let role = optional(iam.get_role().role_name(name).send().call("iam:GetRole", name).await)?;
    if role.and_then(|r| r.role).is_none() {
        return Ok(Observation::Absent);
    }
    let mut documents = Vec::new();
    let inline = iam.list_role_policies().role_name(name).send().call("iam:ListRolePolicies", name).await?;
    for policy_name in inline.policy_names() {
        let p = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .call("iam:GetRolePolicy", name)
            .await?;
        documents.push(policy_value(Some(p.policy_document())));
    }
    let attached =
        iam.list_attached_role_policies().role_name(name).send().call("iam:ListAttachedRolePolicies", name).await?;
    for a in attached.attached_policies() {
        let Some(policy_arn) = a.policy_arn() else { continue };
        let p = iam.get_policy().policy_arn(policy_arn).send().call("iam:GetPolicy", policy_arn).await?;
        let Some(version) = p.policy().and_then(|p| p.default_version_id()) else { continue };
        let v = iam
            .get_policy_version()
            .policy_arn(policy_arn)
            .version_id(version)
            .send()
            .call("iam:GetPolicyVersion", policy_arn)
            .await?;
        documents.push(policy_value(v.policy_version().and_then(|v| v.document())));
    }
    let mut o = ObservedResource::default();
    o.fields.insert("policies".into(), Value::Array(documents));
    Ok(Observation::Present(o))
}

/// `n` characters of `alphabet`, from the operating system's random source.
fn random_string(n: usize, alphabet: &str) -> String {
    let alphabet: Vec<char> = alphabet.chars().collect();
    let mut bytes = vec![0u8; n * 2];
    if getrandom::getrandom(&mut bytes).is_err() || alphabet.is_empty() {
        // Never silently predictable: without an OS random source, fall back to the clock and a counter.
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = ((seed >> ((i % 16) * 8)) as u8).wrapping_add(i as u8);
        }
    }
    let len = alphabet.len().max(1);
    bytes.chunks(2).map(|c| alphabet[(usize::from(c[0]) << 8 | usize::from(c[1])) % len]).collect()
}

/// Fills a generated external id's placeholder with a fresh random part (the role is being created, or its id
/// no longer matches the spec's tenant).
fn generate_ids(cx: &Context<'_>, doc: &Value) -> Value {
    let mut random = || match cx.spec.consumer.aws().and_then(|a| a.external_id.as_ref()) {
        Some(ExternalId::Generated { random_len, alphabet, .. }) => random_string(*random_len, alphabet),
        _ => random_string(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    };
    eksaudit_plan::desired::fill_generated(doc, &mut random)
}

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let d = t.desired()?;
    let iam = cx.aws.iam();
    let trust = generate_ids(cx, field(d, "trust_policy")).to_string();
    let created = iam
        .create_role()
        .role_name(&d.name)
        .assume_role_policy_document(&trust)
        .description(format!("eksaudit pipeline {}", cx.spec.pipeline.name))
        .set_tags(Some(iam_tags(&cx.tags())?))
        .send()
        .call("iam:CreateRole", &d.name)
        .await;
    match created {
        Ok(_) => {}
        // Left by an interrupted run: bring it in line instead.
        Err(e) if is_code(&e, &["EntityAlreadyExists"]) => {
            iam.update_assume_role_policy()
                .role_name(&d.name)
                .policy_document(&trust)
                .send()
                .call("iam:UpdateAssumeRolePolicy", &d.name)
                .await?;
        }
        Err(e) => return Err(e),
    }
    put_role_policy(cx, d).await
}

async fn put_role_policy(cx: &Context<'_>, d: &DesiredResource) -> Result<(), Error> {
    cx.aws
        .iam()
        .put_role_policy()
        .role_name(&d.name)
        .policy_name(&cx.spec.pipeline.name)
        .policy_document(field(d, "permissions").to_string())
        .send()
        .call("iam:PutRolePolicy", &d.name)
        .await?;
    Ok(())
}

/// Update and replace alike: a role is always changed in place.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let d = t.desired()?;
    let iam = cx.aws.iam();
    for c in &t.change.changes {
        match c.field.as_str() {
            "trust_policy" => {
                // The plan's new value keeps a generated external id the role already has.
                let trust = generate_ids(cx, c.new.as_ref().unwrap_or(field(d, "trust_policy")));
                iam.update_assume_role_policy()
                    .role_name(&d.name)
                    .policy_document(trust.to_string())
                    .send()
                    .call("iam:UpdateAssumeRolePolicy", &d.name)
                    .await?;
            }
            "permissions" => put_role_policy(cx, d).await?,
            "attached_policies" => {
                for arn in c.old.as_ref().and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                    gone_ok(
                        iam.detach_role_policy()
                            .role_name(&d.name)
                            .policy_arn(arn)
                            .send()
                            .call("iam:DetachRolePolicy", &d.name)
                            .await
                            .map(drop),
                    )?;
                }
            }
            // The rest (tags) is written below for every update.
            _ => {}
        }
    }
    // Tags: also the adoption of an untagged role.
    iam.tag_role().role_name(&d.name).set_tags(Some(iam_tags(&cx.tags())?)).send().call("iam:TagRole", &d.name).await?;
    Ok(())
}

/// Its inline policies, its attached policies, then the role. Gone already is done.
pub(crate) async fn delete(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let name = t.name();
    let iam = cx.aws.iam();
    let inline = match iam.list_role_policies().role_name(name).send().call("iam:ListRolePolicies", name).await {
        Ok(out) => out.policy_names().to_vec(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for p in inline {
        gone_ok(
            iam.delete_role_policy()
                .role_name(name)
                .policy_name(&p)
                .send()
                .call("iam:DeleteRolePolicy", name)
                .await
                .map(drop),
        )?;
    }
    let attached =
        iam.list_attached_role_policies().role_name(name).send().call("iam:ListAttachedRolePolicies", name).await?;
    for a in attached.attached_policies() {
        if let Some(arn) = a.policy_arn() {
            gone_ok(
                iam.detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .call("iam:DetachRolePolicy", name)
                    .await
                    .map(drop),
            )?;
        }
    }
    gone_ok(iam.delete_role().role_name(name).send().call("iam:DeleteRole", name).await.map(drop))
}
