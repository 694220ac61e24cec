//! eksaudit's functions, the alert function (`[alerts]`) and the Sentinel transform (the stream's Lambda
//! processor): their deployment packages are the plan crate's (`Code::at` the address says which); the alert
//! function read with its permission for CloudWatch Logs (`permission`; the transform has none: Firehose invokes
//! it through its role), created and changed once the role can be assumed, and waited for until Lambda has
//! finished each change.

use std::collections::BTreeMap;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types as lt;
use eksaudit_plan::alerts::{self as plan_alerts, AlertNames};
use eksaudit_plan::package::Code;
use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use serde_json::json;

use super::{kms_key, permission, Context, Found, Reading, Target, Task};
use crate::address::permission_of;
use crate::retry::{retry, role_not_propagated, wait_for};
use crate::shared::{field, gone_ok, optional, string, unknown, Call};
use crate::{Error, RegionClients};

/// The function (one GetFunction: configuration and tags) and its permission for CloudWatch Logs (GetPolicy,
/// only when the function exists), by address.
pub(crate) fn observe<'a>(cx: &'a Reading<'a>, c: &'a RegionClients, d: &'a DesiredResource) -> Task<'a> {
    let statement = AlertNames::new(cx.spec, cx.account).statement_id();
    Box::pin(async move {
        if Code::at(&d.address) == Code::SentinelTransform {
            return Found::settle(&d.address, read(c, &d.name).await);
        }
        let permission_address = permission_of(&d.address);
        let function = match read(c, &d.name).await {
            Ok(o) => o,
            Err(e) => {
                let resources = vec![(d.address.clone(), unknown(&e)), (permission_address, unknown(&e))];
                return Found { resources, ..Default::default() };
            }
        };
        let permission = match &function {
            Observation::Present(_) => permission::read(c, &d.name, &statement).await.unwrap_or_else(|e| unknown(&e)),
            _ => Observation::Absent,
        };
        Found { resources: vec![(d.address.clone(), function), (permission_address, permission)], ..Default::default() }
    })
}

/// Its configuration and tags. (Lambda returns the tags only to a caller that may `lambda:ListTags`.)
pub(crate) async fn read(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let out = optional(c.lambda.get_function().function_name(name).send().call("lambda:GetFunction", name).await)?;
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
        // The key's ARN; `observe` reads the pipeline's own key as its alias, as the plan names it.
        o.fields.insert("kms_key_arn".into(), f.kms_key_arn().map_or(serde_json::Value::Null, |k| json!(k)));
        o.fields.insert(
            "dead_letter_target_arn".into(),
            f.dead_letter_config().and_then(|d| d.target_arn()).map_or(serde_json::Value::Null, |t| json!(t)),
        );
    }
    Ok(Observation::Present(o))
}

fn environment(d: &DesiredResource) -> lt::Environment {
    let vars = field(d, "environment")
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect());
    lt::Environment::builder().set_variables(vars).build()
}

/// The key the environment is encrypted with, as Lambda takes it (the key's ARN, not its alias); `None` leaves it
/// to Lambda's own key.
async fn key(c: &RegionClients, d: &DesiredResource) -> Result<Option<String>, Error> {
    match d.fields.get("kms_key_arn").and_then(|f| f.value.as_str()) {
        Some(alias) => Ok(Some(kms_key::arn_of(c, alias).await?)),
        None => Ok(None),
    }
}

/// Where Lambda sends an invocation that failed its retries; an empty target removes it (the spec names none).
fn dead_letter(d: &DesiredResource) -> lt::DeadLetterConfig {
    let target = d.fields.get("dead_letter_target_arn").and_then(|f| f.value.as_str()).unwrap_or_default();
    lt::DeadLetterConfig::builder().target_arn(target).build()
}

fn timeout(d: &DesiredResource) -> i32 {
    field(d, "timeout_seconds").as_i64().map_or(plan_alerts::TIMEOUT_SECONDS, |v| v as i32)
}

fn memory(d: &DesiredResource) -> i32 {
    field(d, "memory_mb").as_i64().map_or(plan_alerts::MEMORY_MB, |v| v as i32)
}

fn description(cx: &Context<'_>, d: &DesiredResource) -> String {
    let what = match Code::at(&d.address) {
        Code::Alerts => "alerts on manual changes",
        Code::SentinelTransform => "the Firehose stream's transform into Microsoft Sentinel's AWSEKSLogs_CL rows",
    };
    format!("eksaudit pipeline {}: {what}", cx.spec.pipeline.name)
}

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let runtime = lt::Runtime::from(string(d, "runtime").as_str());
    let key = key(c, d).await?;
    let created = retry(cx.budgets.iam_propagation, role_not_propagated, || async {
        c.lambda
            .create_function()
            .function_name(&d.name)
            .runtime(runtime.clone())
            .handler(string(d, "handler"))
            .role(string(d, "role_arn"))
            .code(lt::FunctionCode::builder().zip_file(Blob::new(Code::at(&d.address).package())).build())
            .timeout(timeout(d))
            .memory_size(memory(d))
            .environment(environment(d))
            .set_kms_key_arn(key.clone())
            // Only the alert function has one: Firehose invokes the transform synchronously and keeps what fails.
            .set_dead_letter_config(d.fields.contains_key("dead_letter_target_arn").then(|| dead_letter(d)))
            .description(description(cx, d))
            .set_tags(Some(cx.tags().into_iter().collect()))
            .send()
            .call("lambda:CreateFunction", &d.name)
            .await
            .map(drop)
    })
    .await;
    match created {
        // Made by an earlier, interrupted run: the plan compared it already.
        Err(e) if e.code() == Some("ResourceConflictException") => {}
        other => other?,
    }
    wait_ready(cx, c, &d.name).await
}

/// Until the function is Active and no update runs (Lambda refuses a change while one is in progress).
async fn wait_ready(cx: &Context<'_>, c: &RegionClients, name: &str) -> Result<(), Error> {
    cx.progress.waiting(name, "Lambda function to be ready");
    wait_for(cx.budgets.stream_active, &format!("Lambda function {name} to be ready"), || async {
        let f = c
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .call("lambda:GetFunctionConfiguration", name)
            .await?;
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

/// Update and replace alike: the code, then the configuration, then the tags, each waited for.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let fields = t.changed();
    let name = d.name.as_str();
    if fields.iter().any(|f| f == "code_sha256") {
        c.lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(Code::at(&d.address).package()))
            .send()
            .call("lambda:UpdateFunctionCode", name)
            .await?;
        wait_ready(cx, c, name).await?;
    }
    let config = [
        "runtime",
        "handler",
        "role_arn",
        "timeout_seconds",
        "memory_mb",
        "environment",
        "kms_key_arn",
        "dead_letter_target_arn",
    ];
    if fields.iter().any(|f| config.contains(&f.as_str())) {
        // Lambda's own key again when the spec no longer names one (an empty ARN says so).
        let key = key(c, d).await?.unwrap_or_default();
        retry(cx.budgets.iam_propagation, role_not_propagated, || async {
            c.lambda
                .update_function_configuration()
                .function_name(name)
                .runtime(lt::Runtime::from(string(d, "runtime").as_str()))
                .handler(string(d, "handler"))
                .role(string(d, "role_arn"))
                .timeout(timeout(d))
                .memory_size(memory(d))
                .environment(environment(d))
                .kms_key_arn(&key)
                .dead_letter_config(dead_letter(d))
                .send()
                .call("lambda:UpdateFunctionConfiguration", name)
                .await
                .map(drop)
        })
        .await?;
        wait_ready(cx, c, name).await?;
    }
    if fields.iter().any(|f| f == "tags") {
        let arn = eksaudit_plan::Names::new(cx.spec, cx.account).function_arn(&c.region, name);
        c.lambda
            .tag_resource()
            .resource(&arn)
            .set_tags(Some(cx.tags().into_iter().collect()))
            .send()
            .call("lambda:TagResource", name)
            .await?;
    }
    Ok(())
}

pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, name) = (t.clients()?, t.name());
    gone_ok(c.lambda.delete_function().function_name(name).send().call("lambda:DeleteFunction", name).await.map(drop))
}
