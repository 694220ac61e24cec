//! The alert function's resource-policy statement that lets CloudWatch Logs invoke it. Read with the function
//! (`function::observe`); a replace removes the old statement first, since Lambda cannot change one.

use eksaudit_plan::{Action, Observation, ObservedResource};
use serde_json::{json, Value};

use super::{Context, Target};
use crate::shared::{gone_ok, optional, string, Call};
use crate::{Error, RegionClients};

/// A condition value under any case of its key (`AWS:SourceArn`, `aws:SourceArn`).
fn condition(statement: &Value, operator: &str, key: &str) -> Value {
    statement
        .get("Condition")
        .and_then(|c| c.get(operator))
        .and_then(Value::as_object)
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone()))
        .unwrap_or(Value::Null)
}

/// The statement `statement_id` of the function's policy.
pub(crate) async fn read(c: &RegionClients, function: &str, statement_id: &str) -> Result<Observation, Error> {
    let out = optional(c.lambda.get_policy().function_name(function).send().call("lambda:GetPolicy", function).await)?;
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

/// Adds the statement; one already there from an interrupted run is what the plan compared.
pub(crate) async fn create(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let function = string(d, "function");
    if t.change.action == Action::Replace {
        remove(c, &function, &d.name).await?;
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
        .call("lambda:AddPermission", &function)
        .await
        .map(drop);
    match added {
        // Created by an earlier, interrupted run: the plan compared it already.
        Err(e) if t.change.action == Action::Create && e.code() == Some("ResourceConflictException") => Ok(()),
        other => other,
    }
}

/// Update and replace alike: added again (a replace removes the old statement first).
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    create(cx, t).await
}

/// From the function the change's old fields name (a delete has no desired resource).
pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let function = t.old("function").and_then(Value::as_str).unwrap_or_default();
    remove(t.clients()?, function, t.name()).await
}

async fn remove(c: &RegionClients, function: &str, statement_id: &str) -> Result<(), Error> {
    gone_ok(
        c.lambda
            .remove_permission()
            .function_name(function)
            .statement_id(statement_id)
            .send()
            .call("lambda:RemovePermission", function)
            .await
            .map(drop),
    )
}
