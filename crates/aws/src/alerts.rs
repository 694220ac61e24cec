//! The SDK calls of `[alerts]`: the Lambda function and its permission (read, created, updated, deleted), and
//! what an `[alerts]` section removed from the spec left behind, found cheaply through the alerts filters the
//! pipeline's own filter reads already see.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types as lt;
use eksaudit_plan::{
    alerts as plan_alerts, Action, DesiredResource, Kind, Observation, ObservedResource, ObservedState, ResourceChange,
    StaleResource,
};
use eksaudit_spec::{Spec, OWNER_TAG_KEY};
use serde_json::{json, Value};

use crate::observe::{optional, unknown};
use crate::retry::{retry, wait_for};
use crate::{Aws, Error, ErrorKind, Reconciler, RegionClients};

/// The function (one GetFunction: configuration and tags) and its permission for CloudWatch Logs (GetPolicy,
/// only when the function exists), by address.
pub(crate) async fn observe_function(
    c: &RegionClients,
    function_address: &str,
    name: &str,
    statement_id: &str,
) -> Vec<(String, Observation)> {
    let permission_address = function_address.replace("alerts_function", "alerts_permission");
    let function = match read_function(c, name).await {
        Ok(o) => o,
        Err(e) => return vec![(function_address.to_string(), unknown(&e)), (permission_address, unknown(&e))],
    };
    let permission = match &function {
        Observation::Present(_) => read_permission(c, name, statement_id).await.unwrap_or_else(|e| unknown(&e)),
        _ => Observation::Absent,
    };
    vec![(function_address.to_string(), function), (permission_address, permission)]
}

async fn read_function(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let out = optional(
        c.lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(|e| Error::call("lambda:GetFunction", name, e)),
    )?;
    let Some(out) = out else { return Ok(Observation::Absent) };
    let mut o = ObservedResource {
        tags: out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        ..Default::default()
    };
    if let Some(f) = out.configuration() {
        let env: BTreeMap<String, String> = f
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        o.fields.insert("runtime".into(), json!(f.runtime().map(|r| r.as_str())));
        o.fields.insert("handler".into(), json!(f.handler()));
        o.fields.insert("role_arn".into(), json!(f.role()));
        o.fields.insert("code_sha256".into(), json!(f.code_sha256()));
        o.fields.insert("timeout_seconds".into(), json!(f.timeout()));
        o.fields.insert("memory_mb".into(), json!(f.memory_size()));
        o.fields.insert("environment".into(), json!(env));
    }
    Ok(Observation::Present(o))
}

/// A condition value under any case of its key (`AWS:SourceArn`, `aws:SourceArn`).
fn condition(statement: &Value, operator: &str, key: &str) -> Value {
    statement
        .get("Condition")
        .and_then(|c| c.get(operator))
        .and_then(Value::as_object)
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone()))
        .unwrap_or(Value::Null)
}

async fn read_permission(c: &RegionClients, function: &str, statement_id: &str) -> Result<Observation, Error> {
    let out = optional(
        c.lambda
            .get_policy()
            .function_name(function)
            .send()
            .await
            .map_err(|e| Error::call("lambda:GetPolicy", function, e)),
    )?;
    let policy: Value = out.and_then(|o| o.policy().and_then(|p| serde_json::from_str(p).ok())).unwrap_or(Value::Null);
    let statements = policy.get("Statement").and_then(Value::as_array).cloned().unwrap_or_default();
    let Some(s) = statements.iter().find(|s| s.get("Sid").and_then(Value::as_str) == Some(statement_id)) else {
        return Ok(Observation::Absent);
    };
    let principal =
        s.get("Principal").map(|p| p.get("Service").cloned().unwrap_or_else(|| p.clone())).unwrap_or(Value::Null);
    let action = match s.get("Action") {
        Some(Value::Array(a)) if a.len() == 1 => a[0].clone(),
        Some(a) => a.clone(),
        None => Value::Null,
    };
    let mut o = ObservedResource::default();
    o.fields.insert("function".into(), json!(function));
    o.fields.insert("principal".into(), principal);
    o.fields.insert("action".into(), action);
    o.fields.insert("source_arn".into(), condition(s, "ArnLike", "aws:SourceArn"));
    o.fields.insert("source_account".into(), condition(s, "StringEquals", "aws:SourceAccount"));
    Ok(Observation::Present(o))
}

/// The alerts topic's email and HTTPS subscriptions the spec asks for: one ListSubscriptionsByTopic for them all.
/// An unconfirmed one counts as present (SNS keeps it pending until the recipient confirms).
pub(crate) async fn observe_subscriptions(
    c: &RegionClients,
    desired: &[&DesiredResource],
) -> Vec<(String, Observation)> {
    let topic = desired.first().map(|d| string(d, "topic_arn")).unwrap_or_default();
    let mut live: Vec<(String, String, String)> = Vec::new();
    let mut pages = c.sns.list_subscriptions_by_topic().topic_arn(&topic).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page.map_err(|e| Error::call("sns:ListSubscriptionsByTopic", &topic, e)) {
            Ok(p) => live.extend(p.subscriptions().iter().map(|s| {
                let text = |v: Option<&str>| v.unwrap_or_default().to_string();
                (text(s.protocol()), text(s.endpoint()), text(s.subscription_arn()))
            })),
            Err(e) if e.kind() == ErrorKind::NotFound => break,
            Err(e) => return desired.iter().map(|d| (d.address.clone(), unknown(&e))).collect(),
        }
    }
    desired
        .iter()
        .map(|d| {
            let (protocol, endpoint) = (string(d, "protocol"), string(d, "endpoint"));
            let found = live.iter().find(|(p, e, _)| *p == protocol && *e == endpoint);
            let observation = match found {
                Some((_, _, arn)) => {
                    let mut o = ObservedResource::default();
                    o.fields.insert("topic_arn".into(), json!(topic));
                    o.fields.insert("protocol".into(), json!(protocol));
                    o.fields.insert("endpoint".into(), json!(endpoint));
                    o.fields.insert("subscription_arn".into(), json!(arn));
                    Observation::Present(o)
                }
                None => Observation::Absent,
            };
            (d.address.clone(), observation)
        })
        .collect()
}

/// `[alerts]` is off but a region shows an alerts filter of ours (stale): read the function, its permission and
/// the alerts topic there, and the alerts role, and list those this pipeline owns as stale. Costs nothing while
/// no alerts filter is left, so a pipeline that never had alerts makes no extra call.
pub(crate) async fn observe_leftovers(
    aws: &Aws,
    regions: &BTreeMap<String, RegionClients>,
    spec: &Spec,
    account: &str,
    observed: &mut ObservedState,
) {
    let pipeline = spec.pipeline.name.as_str();
    let name = spec.alerts_name();
    let left: BTreeSet<String> = observed
        .stale
        .iter()
        .filter(|s| s.address.ends_with(".alerts_filter"))
        .filter_map(|s| s.region.clone())
        .collect();
    if left.is_empty() {
        return;
    }
    let n = plan_alerts::AlertNames::new(spec, account);
    let ours = |o: &ObservedResource| o.tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(pipeline);
    let tasks = left.iter().filter_map(|r| regions.get(r).map(|c| (r, c))).map(|(r, c)| {
        let (name, n) = (&name, &n);
        async move {
            let at = |what: &str| format!("region.{r}.{what}");
            let mut stale = Vec::new();
            let mut unknowns = Vec::new();
            let stale_of = |address: String, kind: Kind, name: String, o: ObservedResource| StaleResource {
                address,
                kind,
                region: Some(r.clone()),
                name,
                fields: o.fields,
            };
            match read_function(c, name).await {
                Ok(Observation::Present(o)) if ours(&o) => {
                    match read_permission(c, name, &n.statement_id()).await {
                        Ok(Observation::Present(p)) => {
                            stale.push(stale_of(at("alerts_permission"), Kind::FunctionPermission, n.statement_id(), p))
                        }
                        Ok(_) => {}
                        Err(e) => unknowns.push((at("alerts_permission"), unknown(&e))),
                    }
                    stale.push(stale_of(at("alerts_function"), Kind::Function, name.clone(), o));
                }
                Ok(_) => {}
                Err(e) => unknowns.push((at("alerts_function"), unknown(&e))),
            }
            let topic = format!("arn:{}:sns:{r}:{account}:{name}", n.partition);
            match crate::observe::topic(c, &topic).await {
                Ok(Observation::Present(o)) if ours(&o) => {
                    stale.push(stale_of(at("alerts_topic"), Kind::Topic, name.clone(), o))
                }
                Ok(_) => {}
                Err(e) => unknowns.push((at("alerts_topic"), unknown(&e))),
            }
            (stale, unknowns)
        }
    });
    let (found, role) =
        futures::join!(futures::future::join_all(tasks), crate::observe::owned_role(aws, &name, pipeline));
    for (stale, unknowns) in found {
        observed.stale.extend(stale);
        observed.resources.extend(unknowns);
    }
    match role {
        Ok(Observation::Present(o)) if ours(&o) => observed.stale.push(StaleResource {
            address: plan_alerts::ROLE_ADDRESS.into(),
            kind: Kind::Role,
            region: None,
            name,
            fields: o.fields,
        }),
        Ok(_) => {}
        Err(e) => {
            observed.resources.insert(plan_alerts::ROLE_ADDRESS.into(), unknown(&e));
        }
    }
    observed.stale.sort_by(|a, b| a.address.cmp(&b.address));
}

fn value<'a>(d: &'a DesiredResource, name: &str) -> &'a Value {
    d.fields.get(name).map(|f| &f.value).unwrap_or(&Value::Null)
}

fn string(d: &DesiredResource, name: &str) -> String {
    value(d, name).as_str().unwrap_or_default().to_string()
}

fn environment(d: &DesiredResource) -> lt::Environment {
    let vars = value(d, "environment")
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect());
    lt::Environment::builder().set_variables(vars).build()
}

/// Lambda's words while the role just created cannot be assumed yet.
fn role_not_propagated(e: &Error) -> bool {
    e.message().contains("cannot be assumed by Lambda")
}

impl Reconciler<'_> {
    pub(crate) async fn create_function(&self, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
        let runtime = lt::Runtime::from(string(d, "runtime").as_str());
        let created = retry(self.budgets.iam_propagation, role_not_propagated, || async {
            c.lambda
                .create_function()
                .function_name(&d.name)
                .runtime(runtime.clone())
                .handler(string(d, "handler"))
                .role(string(d, "role_arn"))
                .code(lt::FunctionCode::builder().zip_file(Blob::new(plan_alerts::package())).build())
                .timeout(value(d, "timeout_seconds").as_i64().unwrap_or(60) as i32)
                .memory_size(value(d, "memory_mb").as_i64().unwrap_or(128) as i32)
                .environment(environment(d))
                .description(format!("eksaudit pipeline {}: alerts on manual changes", self.spec.pipeline.name))
                .set_tags(Some(self.spec.resource_tags().into_iter().collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::call("lambda:CreateFunction", &d.name, e))
        })
        .await;
        match created {
            Err(e) if e.code() == Some("ResourceConflictException") => {}
            other => other?,
        }
        self.wait_function_ready(c, &d.name).await
    }

    /// Until the function is Active and no update runs (Lambda refuses a change while one is in progress).
    async fn wait_function_ready(&self, c: &RegionClients, name: &str) -> Result<(), Error> {
        self.progress.waiting(name, "Lambda function to be ready");
        wait_for(self.budgets.stream_active, &format!("Lambda function {name} to be ready"), || async {
            let f = c
                .lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .map_err(|e| Error::call("lambda:GetFunctionConfiguration", name, e))?;
            let state = f.state().map(|s| s.as_str().to_string());
            if state.as_deref() == Some("Failed") {
                return Err(Error::Failed {
                    what: format!("Lambda function {name} failed: {}", f.state_reason().unwrap_or("no reason given")),
                });
            }
            let updating = f.last_update_status().is_some_and(|s| s.as_str() == "InProgress");
            Ok((state.as_deref().is_none_or(|s| s == "Active") && !updating).then_some(()))
        })
        .await
    }

    pub(crate) async fn update_function(
        &self,
        c: &RegionClients,
        d: &DesiredResource,
        fields: &[String],
    ) -> Result<(), Error> {
        let name = d.name.as_str();
        if fields.iter().any(|f| f == "code_sha256") {
            c.lambda
                .update_function_code()
                .function_name(name)
                .zip_file(Blob::new(plan_alerts::package()))
                .send()
                .await
                .map_err(|e| Error::call("lambda:UpdateFunctionCode", name, e))?;
            self.wait_function_ready(c, name).await?;
        }
        let config = ["runtime", "handler", "role_arn", "timeout_seconds", "memory_mb", "environment"];
        if fields.iter().any(|f| config.contains(&f.as_str())) {
            retry(self.budgets.iam_propagation, role_not_propagated, || async {
                c.lambda
                    .update_function_configuration()
                    .function_name(name)
                    .runtime(lt::Runtime::from(string(d, "runtime").as_str()))
                    .handler(string(d, "handler"))
                    .role(string(d, "role_arn"))
                    .timeout(value(d, "timeout_seconds").as_i64().unwrap_or(60) as i32)
                    .memory_size(value(d, "memory_mb").as_i64().unwrap_or(128) as i32)
                    .environment(environment(d))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("lambda:UpdateFunctionConfiguration", name, e))
            })
            .await?;
            self.wait_function_ready(c, name).await?;
        }
        if fields.iter().any(|f| f == "tags") {
            let arn = plan_alerts::AlertNames::new(self.spec, self.account).function_arn(&c.region);
            c.lambda
                .tag_resource()
                .resource(&arn)
                .set_tags(Some(self.spec.resource_tags().into_iter().collect()))
                .send()
                .await
                .map_err(|e| Error::call("lambda:TagResource", name, e))?;
        }
        Ok(())
    }

    /// Adds the permission; a replace removes the old statement first.
    pub(crate) async fn put_permission(
        &self,
        c: &RegionClients,
        d: &DesiredResource,
        action: Action,
    ) -> Result<(), Error> {
        let function = string(d, "function");
        if action == Action::Replace {
            remove_permission(c, &function, &d.name).await?;
        }
        let added = c
            .lambda
            .add_permission()
            .function_name(&function)
            .statement_id(&d.name)
            .action(string(d, "action"))
            .principal(string(d, "principal"))
            .source_arn(string(d, "source_arn"))
            .source_account(string(d, "source_account"))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::call("lambda:AddPermission", &function, e));
        match added {
            // Created by an earlier, interrupted run: the plan compared it already.
            Err(e) if action == Action::Create && e.code() == Some("ResourceConflictException") => Ok(()),
            other => other,
        }
    }
}

pub(crate) async fn remove_permission(c: &RegionClients, function: &str, statement_id: &str) -> Result<(), Error> {
    match c.lambda.remove_permission().function_name(function).statement_id(statement_id).send().await {
        Ok(_) => Ok(()),
        Err(e) => match Error::call("lambda:RemovePermission", function, e) {
            e if e.kind() == ErrorKind::NotFound => Ok(()),
            e => Err(e),
        },
    }
}

/// The function a permission belongs to, from the change's old fields (a delete has no desired resource).
pub(crate) fn permission_function(change: &ResourceChange) -> String {
    change
        .changes
        .iter()
        .find(|f| f.field == "function")
        .and_then(|f| f.old.as_ref())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(crate) async fn delete_function(c: &RegionClients, name: &str) -> Result<(), Error> {
    match c.lambda.delete_function().function_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) => match Error::call("lambda:DeleteFunction", name, e) {
            e if e.kind() == ErrorKind::NotFound => Ok(()),
            e => Err(e),
        },
    }
}
