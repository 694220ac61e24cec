//! Saved plans (`plan --out FILE`, `apply FILE`): what was observed and wanted when the plan was made, so apply
//! can refuse a plan that no longer describes live AWS. There is no state file: staleness is decided by reading
//! live AWS again and comparing, resource by resource.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::{render, DesiredState, ObservedState, Plan};

/// The saved plan file's own format version.
pub const SAVED_FORMAT_VERSION: &str = "1";

/// The document `plan --out` writes: the plan people reviewed, plus what it was computed from.
pub fn save(plan: &Plan, desired: &DesiredState, observed: &ObservedState, tool_version: &str) -> Value {
    json!({
        "format_version": SAVED_FORMAT_VERSION,
        "eksaudit_version": tool_version,
        "pipeline": plan.pipeline,
        "account": plan.account,
        "plan": render::json(plan),
        "desired": to_value(desired),
        "observed": to_value(observed),
    })
}

fn to_value(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("plan types serialise to JSON")
}

/// Why a saved plan cannot be applied as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Not a saved plan of this format, or made by another version of eksaudit.
    Unusable(String),
    /// Made for another account or pipeline.
    OtherTarget(String),
    /// The spec (or the set of clusters it matches) changed: these addresses are wanted differently.
    SpecChanged(Vec<String>),
    /// Live AWS changed: these addresses were observed differently.
    LiveChanged(Vec<String>),
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::Unusable(why) => write!(f, "{why}"),
            Stale::OtherTarget(why) => write!(f, "{why}"),
            Stale::SpecChanged(addrs) => {
                write!(f, "the spec or its matched clusters changed since the plan was made: {}", addrs.join(", "))
            }
            Stale::LiveChanged(addrs) => {
                write!(f, "live AWS changed since the plan was made: {}", addrs.join(", "))
            }
        }
    }
}

/// The addresses whose entries differ between two address-keyed lists or maps.
fn changed_addresses(saved: &Value, now: &Value) -> Vec<String> {
    let entries = |v: &Value| -> Vec<(String, Value)> {
        match v {
            Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Value::Array(items) => items
                .iter()
                .map(|i| (i.get("address").and_then(Value::as_str).unwrap_or_default().to_string(), i.clone()))
                .collect(),
            _ => Vec::new(),
        }
    };
    let (a, b) = (entries(saved), entries(now));
    let keys: BTreeSet<&String> = a.iter().chain(b.iter()).map(|(k, _)| k).collect();
    keys.into_iter()
        .filter(|k| {
            let find = |list: &[(String, Value)]| list.iter().find(|(x, _)| x == *k).map(|(_, v)| v.clone());
            find(&a) != find(&b)
        })
        .cloned()
        .collect()
}

/// Checks a saved plan against what was just read. `Ok` means applying it now does exactly what it says.
pub fn check(saved: &Value, desired: &DesiredState, observed: &ObservedState, tool_version: &str) -> Result<(), Stale> {
    if saved.get("format_version").and_then(Value::as_str) != Some(SAVED_FORMAT_VERSION) {
        return Err(Stale::Unusable(format!(
            "not a saved eksaudit plan of format version {SAVED_FORMAT_VERSION}; make one with `eksaudit plan --out FILE`"
        )));
    }
    let made_by = saved.get("eksaudit_version").and_then(Value::as_str).unwrap_or("unknown");
    if made_by != tool_version {
        return Err(Stale::Unusable(format!(
            "the plan was made by eksaudit {made_by} and this is {tool_version}; make it again with this version"
        )));
    }
    let saved_account = saved.get("account").and_then(Value::as_str).unwrap_or_default();
    if saved_account != observed.account {
        return Err(Stale::OtherTarget(format!(
            "the plan was made for account {saved_account}, but the credentials are for account {}",
            observed.account
        )));
    }
    let saved_desired = saved.get("desired").cloned().unwrap_or(Value::Null);
    let now_desired = to_value(desired);
    if saved_desired != now_desired {
        let mut changed = changed_addresses(&saved_desired["resources"], &now_desired["resources"]);
        if changed.is_empty() {
            changed.push("(errors and warnings of the spec)".into());
        }
        return Err(Stale::SpecChanged(changed));
    }
    let saved_observed = saved.get("observed").cloned().unwrap_or(Value::Null);
    let now_observed = to_value(observed);
    if saved_observed != now_observed {
        let mut changed = changed_addresses(&saved_observed["resources"], &now_observed["resources"]);
        for part in ["neighbours", "stale"] {
            for address in changed_addresses(&saved_observed[part], &now_observed[part]) {
                if !changed.contains(&address) {
                    changed.push(address);
                }
            }
        }
        return Err(Stale::LiveChanged(changed));
    }
    Ok(())
}

/// The document `plan --out` writes with `[accounts]`: one saved plan per member account, by account id.
pub fn save_accounts(per_account: Vec<(String, Value)>, tool_version: &str) -> Value {
    let accounts: serde_json::Map<String, Value> = per_account.into_iter().collect();
    json!({
        "format_version": SAVED_FORMAT_VERSION,
        "eksaudit_version": tool_version,
        "accounts": accounts,
    })
}

/// The member accounts a saved plan covers; `None` for a single-account plan.
pub fn saved_accounts(saved: &Value) -> Option<Vec<String>> {
    saved.get("accounts").and_then(Value::as_object).map(|m| m.keys().cloned().collect())
}

/// Checks a saved plan of every member account against what was just read: stale when the selected accounts
/// differ, or when any account's plan is ([`check`]). `now`: each account's fresh desired and observed state.
pub fn check_accounts(
    saved: &Value,
    now: &[(String, &DesiredState, &ObservedState)],
    tool_version: &str,
) -> Result<(), Stale> {
    let Some(saved_ids) = saved_accounts(saved) else {
        return Err(Stale::OtherTarget(
            "the plan was made for one account, but the spec now selects member accounts ([accounts])".into(),
        ));
    };
    let now_ids: BTreeSet<&str> = now.iter().map(|(id, _, _)| id.as_str()).collect();
    let saved_set: BTreeSet<&str> = saved_ids.iter().map(String::as_str).collect();
    if now_ids != saved_set {
        let gone: Vec<&str> = saved_set.difference(&now_ids).copied().collect();
        let new: Vec<&str> = now_ids.difference(&saved_set).copied().collect();
        return Err(Stale::OtherTarget(format!(
            "the selected accounts changed since the plan was made (no longer selected or readable: [{}]; newly \
             selected: [{}])",
            gone.join(", "),
            new.join(", ")
        )));
    }
    for (id, desired, observed) in now {
        let mut one = saved["accounts"][id.as_str()].clone();
        if let Value::Object(m) = &mut one {
            m.insert("format_version".into(), saved["format_version"].clone());
            m.insert("eksaudit_version".into(), saved["eksaudit_version"].clone());
        }
        check(&one, desired, observed, tool_version).map_err(|stale| match stale {
            Stale::SpecChanged(a) => Stale::SpecChanged(a.into_iter().map(|x| format!("{id}:{x}")).collect()),
            Stale::LiveChanged(a) => Stale::LiveChanged(a.into_iter().map(|x| format!("{id}:{x}")).collect()),
            Stale::Unusable(why) => Stale::Unusable(why),
            Stale::OtherTarget(why) => Stale::OtherTarget(format!("account {id}: {why}")),
        })?;
    }
    Ok(())
}
