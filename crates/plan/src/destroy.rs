//! The destroy plan: what of the spec's resources exists and is ours to delete. Pure.

use std::collections::BTreeSet;

use eksaudit_spec::{Address, RegionalSlot, OWNER_TAG_KEY};
use serde_json::Value;

use crate::desired::DesiredState;
use crate::diff::{creation_intents, DiffOptions, INTERRUPTED_CREATE, INTERRUPTED_REASON};
use crate::model::{DesiredResource, Kind, Management, Observation, ObservedResource, ObservedState};
use crate::report::{Action, FieldChange, Message, Plan, ResourceChange};

pub(crate) fn is_alerts_dead_letter_queue(address: &str) -> bool {
    matches!(address.parse(), Ok(Address::Regional { slot: RegionalSlot::AlertsDeadLetterQueue, .. }))
}

/// Failed alerts are audit events that never reached anyone: the alert function's dead-letter queue is kept
/// with the logs (the note saying so), unless `on_destroy = "delete"`.
fn failed_alerts_kept(retain_bucket: bool, address: &str, name: &str) -> Option<Message> {
    (retain_bucket && is_alerts_dead_letter_queue(address)).then(|| {
        Message::new(
            address,
            format!("SQS queue {name} and the failed alerts in it are kept with the logs"),
            "set [bucket] on_destroy = \"delete\" to delete it with the buckets",
        )
    })
}

/// `retain_bucket`: `[bucket] on_destroy = "retain"` keeps the buckets and the logs in them.
pub fn destroy_plan(
    desired: &DesiredState,
    observed: &ObservedState,
    options: &DiffOptions,
    retain_bucket: bool,
) -> Plan {
    let mut plan = Plan {
        pipeline: options.pipeline.clone(),
        account: observed.account.clone(),
        resources: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        notes: Vec::new(),
    };
    let intents = creation_intents(observed, &options.pipeline);
    for d in &desired.resources {
        if d.management != Management::Owned {
            continue;
        }
        let o = match observed.resources.get(&d.address) {
            Some(Observation::Present(o)) => o,
            Some(Observation::Unknown { reason }) => {
                plan.errors.push(Message::new(
                    &d.address,
                    format!("cannot read {} {}: {reason}", d.kind.label(), d.name),
                    "check the credentials' read permissions, then run destroy again",
                ));
                continue;
            }
            _ => continue,
        };
        if matches!(d.kind, Kind::ClusterLogging | Kind::LogGroup | Kind::FirehoseLogGroup | Kind::FunctionLogGroup) {
            if d.kind != Kind::ClusterLogging {
                plan.notes.push(Message::new(
                    &d.address,
                    format!("log group {} is kept", d.name),
                    "destroy never deletes log data",
                ));
            }
            continue;
        }
        if o.foreign_account {
            continue;
        }
        if d.kind == Kind::OidcProvider {
            if let Some(note) = oidc_provider_kept(d, o, &options.pipeline) {
                plan.notes.push(note);
                continue;
            }
        }
        // What an apply stopped between creating and tagging left: untagged, empty, vouched for by the pipeline's
        // own key or Firehose role, as apply's plan takes it (`diff::creation_intents`).
        let interrupted = o.fields.get(INTERRUPTED_CREATE) == Some(&Value::Bool(true));
        let vouched = interrupted && !o.tags.contains_key(OWNER_TAG_KEY) && intents.contains_key(&d.name);
        if d.kind.owner_tagged() && o.tags.get(OWNER_TAG_KEY) != Some(&options.pipeline) && !vouched {
            plan.warnings.push(Message::new(
                &d.address,
                format!("{} {} is not managed by pipeline {:?}: left alone", d.kind.label(), d.name, options.pipeline),
                "eksaudit deletes only what carries its owner tag",
            ));
            continue;
        }
        if d.kind == Kind::KmsKey && retain_bucket {
            plan.notes.push(Message::new(
                &d.address,
                format!("KMS key {} is kept with the logs it encrypts", d.name),
                "set [bucket] on_destroy = \"delete\" to delete the buckets and schedule the key's deletion",
            ));
            continue;
        }
        if d.kind == Kind::Bucket && retain_bucket {
            plan.notes.push(Message::new(
                &d.address,
                format!("S3 bucket {} and the logs in it are kept", d.name),
                "set [bucket] on_destroy = \"delete\" to empty and delete it",
            ));
            continue;
        }
        if let Some(kept) = failed_alerts_kept(retain_bucket, &d.address, &d.name) {
            plan.notes.push(kept);
            continue;
        }
        plan.resources.push(ResourceChange {
            address: d.address.clone(),
            kind: d.kind,
            region: d.region.clone(),
            name: d.name.clone(),
            action: Action::Delete,
            reason: interrupted.then(|| INTERRUPTED_REASON.to_string()),
            changes: o
                .fields
                .iter()
                .map(|(k, v)| FieldChange { field: k.clone(), old: Some(v.clone()), new: None })
                .collect(),
        });
    }
    keep_keys_of_kept_buckets(desired, observed, &mut plan);
    for s in &observed.stale {
        // A removed `[alerts]`'s too.
        if let Some(kept) = failed_alerts_kept(retain_bucket, &s.address, &s.name) {
            plan.notes.push(kept);
            continue;
        }
        plan.resources.push(ResourceChange {
            address: s.address.clone(),
            kind: s.kind,
            region: s.region.clone(),
            name: s.name.clone(),
            action: Action::Delete,
            reason: Some("no longer implied by the spec".into()),
            changes: s
                .fields
                .iter()
                .map(|(k, v)| FieldChange { field: k.clone(), old: Some(v.clone()), new: None })
                .collect(),
        });
    }
    plan
}

/// Why an OIDC provider stays: it is shared by the account, so it goes only when this pipeline made it (its tag)
/// and no role but this pipeline's reader trusts it.
pub(crate) fn oidc_provider_kept(d: &DesiredResource, o: &ObservedResource, pipeline: &str) -> Option<Message> {
    if o.tags.get(OWNER_TAG_KEY).map(String::as_str) != Some(pipeline) {
        return Some(Message::new(
            &d.address,
            format!("IAM OIDC provider {} is kept: this pipeline did not create it", d.name),
            "it is shared by every role of the account that trusts the issuer",
        ));
    }
    let trusted_by = trusted_by(o);
    if !trusted_by.is_empty() {
        return Some(Message::new(
            &d.address,
            format!(
                "IAM OIDC provider {} is kept: {} still trust{} it",
                d.name,
                trusted_by.join(", "),
                if trusted_by.len() == 1 { "s" } else { "" }
            ),
            "it is deleted by the destroy (or apply) that runs once no other role trusts it",
        ));
    }
    None
}

/// The roles other than this pipeline's reader that trust an OIDC provider (observed).
pub(crate) fn trusted_by(o: &ObservedResource) -> Vec<String> {
    o.fields
        .get("trusted_by")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A region's key is scheduled for deletion only when nothing destroy keeps is encrypted with it: a bucket left in
/// place (not ours, unreadable, or retained) keeps its key, so its objects stay readable; and so does a log group
/// of ours made with the key, which destroy always keeps: CloudWatch Logs needs the key for every event ingested
/// while it was associated (disassociating does not re-encrypt them), and a cluster still logging into its group
/// would stop once the key is gone.
fn keep_keys_of_kept_buckets(desired: &DesiredState, observed: &ObservedState, plan: &mut Plan) {
    let kept_buckets: Vec<String> = desired
        .resources
        .iter()
        .filter(|d| matches!(d.address.parse(), Ok(Address::Regional { slot: RegionalSlot::Bucket, .. })))
        .filter(|d| !matches!(observed.resources.get(&d.address), Some(Observation::Absent) | None))
        .filter(|d| !plan.resources.iter().any(|r| r.address == d.address))
        .filter_map(|d| d.region.clone())
        .collect();
    // The log groups of a region that carry a KMS key: (region, group name, the key): the spec's as observe read
    // them (the pipeline's key as its alias ARN), and every other one destroy's own read found (by key ARN).
    let mut encrypted_groups: Vec<(&str, &str, &str)> = desired
        .resources
        .iter()
        .filter(|d| matches!(d.kind, Kind::LogGroup | Kind::FirehoseLogGroup | Kind::FunctionLogGroup))
        .filter_map(|d| {
            let Some(Observation::Present(o)) = observed.resources.get(&d.address) else { return None };
            let key = o.fields.get("kms_key_id").and_then(Value::as_str).filter(|k| !k.is_empty())?;
            Some((d.region.as_deref()?, d.name.as_str(), key))
        })
        .collect();
    for (region, groups) in &observed.encrypted_log_groups {
        encrypted_groups.extend(groups.iter().map(|(name, key)| (region.as_str(), name.as_str(), key.as_str())));
    }
    let mut notes = Vec::new();
    plan.resources.retain(|r| {
        if r.kind != Kind::KmsKey {
            return true;
        }
        let Some(region) = r.region.as_deref() else { return true };
        if kept_buckets.iter().any(|b| b == region) {
            notes.push(Message::new(
                &r.address,
                format!("KMS key {} is kept: the bucket it encrypts stays", r.name),
                "the key is scheduled for deletion by the destroy that deletes the bucket",
            ));
            return false;
        }
        // A group's key as observe reads it: the pipeline's as its alias ARN (`...:alias/<name>`), another by its
        // ARN (`.../key/<id>`). Without the key's id read, any key on a group of ours keeps it.
        let id = r.old("key_id").and_then(Value::as_str);
        let alias = format!(":{}", r.name);
        let under_this_key = |key: &str| key.ends_with(&alias) || id.is_none_or(|id| key.ends_with(&format!("/{id}")));
        let groups: BTreeSet<&str> = encrypted_groups
            .iter()
            .filter(|(at, _, key)| *at == region && under_this_key(key))
            .map(|(_, name, _)| *name)
            .collect();
        let groups: Vec<&str> = groups.into_iter().collect();
        if groups.is_empty() {
            return true;
        }
        notes.push(Message::new(
            &r.address,
            format!(
                "KMS key {} is kept: log group{} {} {} encrypted with it and stay{} (CloudWatch Logs needs the key to read what is in them)",
                r.name,
                if groups.len() == 1 { "" } else { "s" },
                groups.join(", "),
                if groups.len() == 1 { "is" } else { "are" },
                if groups.len() == 1 { "s" } else { "" },
            ),
            "once those log groups are no longer needed (for a cluster's, its audit logging turned off or moved), delete them, then destroy again to schedule the key's deletion",
        ));
        false
    });
    plan.notes.extend(notes);
}
