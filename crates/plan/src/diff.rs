//! The diff: desired state against observed state, field by field, into a plan. Pure.

use std::collections::BTreeMap;

use eksaudit_spec::address::{Address, RegionalSlot, RoleSlot};
use eksaudit_spec::{Adopt, OWNER_TAG_KEY};
use serde_json::{json, Value};

use crate::desired::{resolve_generated, DesiredState};
use crate::kinds::kms_key;
use crate::model::{Compare, DesiredResource, Field, Kind, Management, Observation, ObservedResource, ObservedState};
use crate::policy;
use crate::report::{Action, Cause, FieldChange, Message, Plan, ResourceChange};

/// CloudWatch Logs' default quota of subscription filters per log group. A raised quota shows up as an error at
/// apply time, which is reported as AWS words it.
pub const SUBSCRIPTION_FILTERS_PER_LOG_GROUP: usize = 2;

/// Options that change how differences are treated.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    pub pipeline: String,
    pub adopt: Adopt,
    /// `[bucket] on_destroy = "retain"`: what holds log data stays when the spec stops implying it, as on destroy
    /// (the failed alerts in a removed `[alerts]`'s dead-letter queue).
    pub keep_log_data: bool,
}

fn field_equal(desired: &Field, observed: Option<&Value>) -> bool {
    match desired.compare {
        Compare::CreateOnly => true,
        Compare::Exact => observed == Some(&desired.value),
        Compare::Policy => observed
            .is_some_and(|o| policy::normalize(o) == policy::normalize(&resolve_generated(&desired.value, Some(o)))),
        Compare::Includes => {
            let have: Vec<&Value> = observed.and_then(Value::as_array).into_iter().flatten().collect();
            desired.value.as_array().into_iter().flatten().all(|want| have.contains(&want))
        }
        Compare::Tags => {
            let have = observed.and_then(Value::as_object);
            desired.value.as_object().into_iter().flatten().all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
        }
    }
}

fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    serde_json::to_value(tags).unwrap_or_default()
}

/// Field values as apply would set them on a resource that does not exist.
fn creation_changes(d: &DesiredResource) -> Vec<FieldChange> {
    d.fields.iter().map(|(k, f)| FieldChange { field: k.clone(), old: None, new: Some(f.value.clone()) }).collect()
}

pub fn diff(desired: &DesiredState, observed: &ObservedState, options: &DiffOptions) -> Plan {
    let mut plan = Plan {
        pipeline: options.pipeline.clone(),
        account: observed.account.clone(),
        resources: Vec::new(),
        warnings: desired.warnings.clone(),
        errors: desired.errors.clone(),
        notes: Vec::new(),
    };
    let intents = creation_intents(observed, &options.pipeline);
    for d in &desired.resources {
        let observation =
            observed.resources.get(&d.address).cloned().unwrap_or(Observation::Unknown { reason: "not read".into() });
        let neighbours = observed.neighbours.get(&d.address).map(Vec::as_slice).unwrap_or_default();
        if let Some(change) = diff_resource(d, &observation, neighbours, options, &intents, &mut plan) {
            plan.resources.push(change);
        }
    }
    // Things read outside the desired set (log groups of clusters the spec does not select) that could not be
    // read: they may hide a resource of ours, so say so.
    for (address, observation) in &observed.resources {
        if let Observation::Unknown { reason } = observation {
            if !desired.resources.iter().any(|d| &d.address == address) {
                plan.errors.push(
                    Message::new(
                        address,
                        format!("cannot read {address}: {reason}"),
                        "check the credentials' read permissions, then plan again",
                    )
                    .because(Cause::Unreadable),
                );
            }
        }
    }
    for s in &observed.stale {
        // Failed alerts are audit events that never reached anyone: removing `[alerts]` keeps them as destroy does.
        if options.keep_log_data && crate::destroy::is_alerts_dead_letter_queue(&s.address) {
            plan.notes.push(Message::new(
                &s.address,
                format!("SQS queue {} and the failed alerts in it are kept with the logs", s.name),
                "read them, then delete the queue; with [bucket] on_destroy = \"delete\" it goes with [alerts]",
            ));
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

fn change(d: &DesiredResource, action: Action, reason: Option<String>, changes: Vec<FieldChange>) -> ResourceChange {
    ResourceChange {
        address: d.address.clone(),
        kind: d.kind,
        region: d.region.clone(),
        name: d.name.clone(),
        action,
        reason,
        changes,
    }
}

fn diff_resource(
    d: &DesiredResource,
    observation: &Observation,
    neighbours: &[String],
    options: &DiffOptions,
    intents: &BTreeMap<String, String>,
    plan: &mut Plan,
) -> Option<ResourceChange> {
    let live = match observation {
        Observation::Unknown { reason } => {
            plan.errors.push(Message::new(
                &d.address,
                format!("cannot read {} {}: {reason}", d.kind.label(), d.name),
                "check the credentials' read permissions (`eksaudit` needs read access to every resource it plans), then plan again",
            ).because(Cause::Unreadable));
            return None;
        }
        Observation::Absent => None,
        Observation::Present(o) => Some(o),
    };
    match &d.management {
        Management::Reused { spec_key } => {
            reused_role(d, spec_key, live, plan);
            None
        }
        Management::CheckOnly { fix } => {
            if let Some(o) = live {
                for (name, field) in &d.fields {
                    if !field_equal(field, o.fields.get(name)) {
                        plan.errors.push(Message::new(
                            &d.address,
                            format!(
                                "{} is off on cluster {} ({name} is {})",
                                d.kind.label(),
                                d.name,
                                o.fields.get(name).unwrap_or(&Value::Null)
                            ),
                            fix.clone(),
                        ));
                    }
                }
            }
            Some(change(d, Action::NoOp, None, Vec::new()))
        }
        Management::Owned => {
            let Some(o) = live else {
                return absent_owned(d, neighbours, plan);
            };
            owned(d, o, options, intents, plan)
        }
    }
}

/// A resource of ours that does not exist yet: create it, unless its place is full.
fn absent_owned(d: &DesiredResource, neighbours: &[String], plan: &mut Plan) -> Option<ResourceChange> {
    if d.kind == Kind::SubscriptionFilter
        && crate::alerts::is_alerts_address(&d.address)
        && neighbours.len() >= SUBSCRIPTION_FILTERS_PER_LOG_GROUP
    {
        // The pipeline's own filter comes first: a full log group blocks only this cluster's alerts.
        plan.warnings.push(Message::new(
            &d.address,
            format!(
                "no subscription filter slot is free on log group {} for the alerts filter ({} hold both): this cluster's alerts are off",
                d.fields.get("log_group").and_then(|f| f.value.as_str()).unwrap_or_default(),
                neighbours.join(", ")
            ),
            "CloudWatch Logs allows 2 per log group by default: remove another filter, or ask AWS to raise the quota",
        ));
        return None;
    }
    if d.kind == Kind::SubscriptionFilter && neighbours.len() >= SUBSCRIPTION_FILTERS_PER_LOG_GROUP {
        plan.errors.push(Message::new(
            &d.address,
            format!(
                "log group {} already holds {} subscription filters ({}) and none is eksaudit's",
                d.fields.get("log_group").and_then(|f| f.value.as_str()).unwrap_or_default(),
                neighbours.len(),
                neighbours.join(", ")
            ),
            "CloudWatch Logs allows 2 per log group by default: remove one of them, or ask AWS to raise the quota",
        ));
        return None;
    }
    Some(change(d, Action::Create, None, creation_changes(d)))
}

/// Set by observation on a bucket with eksaudit's name that has no tags, no policy and no object (or version) at
/// all: what an apply interrupted between CreateBucket and PutBucketTagging leaves.
pub const INTERRUPTED_CREATE: &str = "interrupted_create";

/// S3 cannot tag a bucket as it creates it. The pipeline's own key records its region's buckets
/// (`kinds::kms_key::BUCKET_TAG`); without a key of its own, apply writes its intent before CreateBucket as a tag
/// on the pipeline's own Firehose role (`eksaudit:creating:<region> = <bucket>`), and removes it once the bucket
/// carries the owner tag. Either proves an untagged empty bucket of that name, what a run stopped in between
/// leaves, is ours.
pub const CREATION_INTENT_TAG_PREFIX: &str = "eksaudit:creating:";

/// How a plan explains taking over such a bucket (apply then removes the intent).
pub const INTERRUPTED_REASON: &str = "created by an interrupted apply";

/// The bucket names the pipeline's own resources vouch for, with the address that does: the Firehose role's
/// creation intents, and each region's key's record of its buckets.
pub(crate) fn creation_intents(observed: &ObservedState, pipeline: &str) -> BTreeMap<String, String> {
    let mut intents = BTreeMap::new();
    for (address, o) in &observed.resources {
        // Only the pipeline's own role and key vouch.
        let Observation::Present(o) = o else { continue };
        if o.tags.get(OWNER_TAG_KEY).map(String::as_str) != Some(pipeline) {
            continue;
        }
        let vouches: fn(&str) -> bool = match address.parse::<Address>() {
            Ok(Address::Role(RoleSlot::Firehose)) => |k| k.starts_with(CREATION_INTENT_TAG_PREFIX),
            Ok(Address::Regional { slot: RegionalSlot::KmsKey, .. }) => {
                |k| [kms_key::BUCKET_TAG, kms_key::ACCESS_LOG_BUCKET_TAG].contains(&k)
            }
            _ => continue,
        };
        for (_, bucket) in o.tags.iter().filter(|(k, _)| vouches(k)) {
            intents.insert(bucket.clone(), address.clone());
        }
    }
    intents
}

fn owned(
    d: &DesiredResource,
    o: &ObservedResource,
    options: &DiffOptions,
    intents: &BTreeMap<String, String>,
    plan: &mut Plan,
) -> Option<ResourceChange> {
    if o.foreign_account {
        plan.errors.push(Message::new(
            &d.address,
            // S3 answers HEAD with a bare 403 both for another account's bucket and for one of this account that
            // the caller may not read: the message names both.
            format!("{} {} is taken by another AWS account, or this identity may not read it", d.kind.label(), d.name),
            "if it is another account's, set bucket.name to a template that gives a name of your own (bucket names are global), e.g. \"acme-eks-audit-{region}\"; if it is yours, allow s3:ListBucket on it (`eksaudit policy --for plan` prints what plan needs)",
        ));
        return None;
    }
    let mut reason = None;
    // A shared resource someone else made (an OIDC provider): used as it is, only what we need added to it.
    let shared = d.kind == Kind::OidcProvider && o.tags.get(OWNER_TAG_KEY) != Some(&options.pipeline);
    if d.kind.owner_tagged() {
        let owner = o.tags.get(OWNER_TAG_KEY);
        if owner != Some(&options.pipeline) {
            if d.address.parse::<Address>().is_ok_and(|a| options.adopt.covers(&a)) {
                reason = Some(format!("adopt: {OWNER_TAG_KEY} = {} is added", options.pipeline));
            } else if owner.is_none()
                && o.fields.get(INTERRUPTED_CREATE) == Some(&Value::Bool(true))
                && intents.contains_key(&d.name)
            {
                reason = Some(format!(
                    "{INTERRUPTED_REASON} ({} vouches for it; the bucket is empty): {OWNER_TAG_KEY} = {} is added",
                    intents[&d.name], options.pipeline
                ));
            } else {
                let whose = match owner {
                    Some(other) => format!("it belongs to pipeline {other:?}"),
                    None => format!("it has no {OWNER_TAG_KEY} tag"),
                };
                plan.errors.push(Message::new(
                    &d.address,
                    format!("{} {} exists but is not managed by pipeline {:?}: {whose}", d.kind.label(), d.name, options.pipeline),
                    format!(
                        "eksaudit never changes what it does not own. If this one is yours to manage, add adopt = [\"{}\"] (or adopt = true) to [pipeline] and plan again; otherwise rename the pipeline",
                        d.address
                    ),
                ));
                return None;
            }
        }
    }
    let mut changes = Vec::new();
    let mut replace_reason = None;
    for (name, field) in &d.fields {
        if shared && field.compare == Compare::Tags {
            continue;
        }
        let live = o.fields.get(name);
        let live = if field.compare == Compare::Tags { Some(tags_value(&o.tags)) } else { live.cloned() };
        if field_equal(field, live.as_ref()) {
            continue;
        }
        let new = match field.compare {
            Compare::Tags => {
                let mut merged = o.tags.clone();
                for (k, v) in field.value.as_object().into_iter().flatten() {
                    merged.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
                }
                tags_value(&merged)
            }
            Compare::Includes => {
                let mut all: Vec<Value> = live.as_ref().and_then(Value::as_array).cloned().unwrap_or_default();
                for want in field.value.as_array().into_iter().flatten() {
                    if !all.contains(want) {
                        all.push(want.clone());
                    }
                }
                Value::Array(all)
            }
            Compare::Policy => resolve_generated(&field.value, live.as_ref()),
            _ => field.value.clone(),
        };
        if field.force_new {
            replace_reason = Some(format!("{name} cannot be changed in place"));
        }
        changes.push(FieldChange { field: name.clone(), old: live, new: Some(new) });
    }
    if shared && !changes.is_empty() {
        reason =
            Some("shared: made outside this pipeline; only what it needs is added, and it is never deleted".into());
    }
    if d.kind == Kind::Bucket {
        plan.warnings.extend(crate::kinds::bucket::early_expiry(d, o));
    }
    if d.kind == Kind::DeliveryStream {
        match o.fields.get("status").and_then(Value::as_str) {
            Some("CREATING_FAILED") => {
                let why = o.fields.get("failure").and_then(Value::as_str).unwrap_or("no reason given");
                replace_reason = Some(format!("the stream failed to create: {why}"));
            }
            Some("CREATING") => plan.warnings.push(
                Message::new(
                    &d.address,
                    format!("Firehose stream {} is still being created", d.name),
                    "apply waits until it is ACTIVE",
                )
                .because(Cause::Info),
            ),
            _ => {}
        }
    }
    let action = match (&replace_reason, changes.is_empty(), &reason) {
        (Some(_), _, _) => Action::Replace,
        (None, false, _) | (None, true, Some(_)) => Action::Update,
        (None, true, None) => Action::NoOp,
    };
    Some(change(d, action, replace_reason.or(reason), changes))
}

fn reused_role(d: &DesiredResource, spec_key: &str, live: Option<&ObservedResource>, plan: &mut Plan) {
    let Some(o) = live else {
        plan.errors.push(Message::new(
            &d.address,
            format!("role {} named in {spec_key} does not exist", d.name),
            format!("create it first (for example with the spec that owns it), or remove {spec_key} so eksaudit creates its own"),
        ));
        return;
    };
    let policies: Vec<Value> = o.fields.get("policies").and_then(Value::as_array).cloned().unwrap_or_default();
    let grants = d.fields.get("grants").and_then(|f| f.value.as_array()).cloned().unwrap_or_default();
    for statement in grants {
        let strings = |key: &str| -> Vec<String> {
            statement
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        let (actions, resources) = (strings("Action"), strings("Resource"));
        let missing = actions.iter().any(|a| resources.iter().any(|r| !policy::allows(&policies, a, r)));
        if missing {
            let sid = statement.get("Sid").and_then(Value::as_str).unwrap_or("statement");
            plan.warnings.push(Message::new(
                &d.address,
                format!("reused role {} ({spec_key}) does not grant everything in {sid}", d.name),
                format!(
                    "add this statement to one of its policies: {}",
                    json!({"Effect": "Allow", "Action": actions, "Resource": resources})
                ),
            ));
        }
    }
}

#[cfg(test)]
mod interrupted_create_tests {
    use super::*;
    use crate::desired::Inputs;

    const SPEC: &str = r#"
[pipeline]
name = "eks-audit"
[consumer]
account_id = "434813966438"
external_id = "external-id"
[[region]]
name = "us-east-1"
clusters = ["prod"]
"#;

    /// A plan where the bucket is untagged (empty or not) and `vouching` (the tag and the resource it is on),
    /// if any, names it.
    fn plan_with(vouching: Option<(&str, &str)>, empty: bool) -> Plan {
        let (d, o) = state_with(vouching, empty);
        diff(&d, &o, &DiffOptions { pipeline: "eks-audit".into(), adopt: Adopt::Nothing, keep_log_data: true })
    }

    fn state_with(vouching: Option<(&str, &str)>, empty: bool) -> (DesiredState, ObservedState) {
        let spec = eksaudit_spec::parse_spec(SPEC).unwrap();
        let clusters = BTreeMap::from([("us-east-1".to_string(), vec!["prod".to_string()])]);
        let d = DesiredState::build(&Inputs { spec: &spec, account: "123456789012", clusters: &clusters });
        let mut o = ObservedState { account: "123456789012".into(), ..Default::default() };
        for r in &d.resources {
            o.resources.insert(r.address.clone(), Observation::Absent);
        }
        for holder in ["role.firehose", "region.us-east-1.kms_key", "region.us-east-1.topic"] {
            let mut owned = ObservedResource::default();
            owned.tags.insert(OWNER_TAG_KEY.into(), "eks-audit".into());
            if let Some((tag, _)) = vouching.filter(|(_, on)| *on == holder) {
                owned.tags.insert(tag.to_string(), "eks-audit-123456789012-us-east-1".into());
            }
            o.resources.insert(holder.into(), Observation::Present(owned));
        }
        let mut bucket = ObservedResource::default();
        bucket.fields.insert(INTERRUPTED_CREATE.into(), json!(empty));
        o.resources.insert("region.us-east-1.bucket".into(), Observation::Present(bucket));
        (d, o)
    }

    #[test]
    fn destroy_takes_the_bucket_an_interrupted_apply_left_as_apply_does_and_nothing_else_untagged() {
        let options = DiffOptions { pipeline: "eks-audit".into(), adopt: Adopt::Nothing, keep_log_data: false };
        let bucket = |plan: &Plan| plan.resources.iter().find(|r| r.address == "region.us-east-1.bucket").cloned();
        let vouched = Some((kms_key::BUCKET_TAG, "region.us-east-1.kms_key"));
        let (d, o) = state_with(vouched, true);
        let deleting = crate::destroy_plan(&d, &o, &options, false);
        let deleted = bucket(&deleting).expect("the interrupted apply's bucket is deleted");
        assert_eq!((deleted.action, deleted.reason.as_deref()), (Action::Delete, Some(INTERRUPTED_REASON)));
        let retaining = crate::destroy_plan(&d, &o, &options, true);
        assert!(bucket(&retaining).is_none(), "{retaining:?}");
        assert!(retaining.notes.iter().any(|n| n.address == "region.us-east-1.bucket"), "{:?}", retaining.notes);
        // Nothing vouches, or the bucket holds something: someone else's, left alone even by "delete".
        for (vouching, empty) in [(None, true), (vouched, false)] {
            let (d, o) = state_with(vouching, empty);
            let plan = crate::destroy_plan(&d, &o, &options, false);
            assert!(bucket(&plan).is_none(), "{vouching:?}, empty={empty}: {plan:?}");
            assert!(plan
                .warnings
                .iter()
                .any(|w| w.address == "region.us-east-1.bucket" && w.message.contains("left alone")));
        }
    }

    #[test]
    fn an_untagged_empty_bucket_is_ours_only_when_the_pipeline_vouches_for_it() {
        let intent = format!("{CREATION_INTENT_TAG_PREFIX}us-east-1");
        // The Firehose role's creation intent (no key of its own, or an earlier eksaudit), or the key's record.
        for (tag, holder) in [(intent.as_str(), "role.firehose"), (kms_key::BUCKET_TAG, "region.us-east-1.kms_key")] {
            let plan = plan_with(Some((tag, holder)), true);
            let bucket = plan.resources.iter().find(|r| r.address == "region.us-east-1.bucket").unwrap();
            assert_eq!(bucket.action, Action::Update);
            let reason = bucket.reason.as_deref().unwrap();
            assert!(reason.starts_with(INTERRUPTED_REASON), "{reason}");
            assert!(reason.contains(&format!("{holder} vouches for it")), "{reason}");
            assert!(plan.errors.iter().all(|e| e.address != "region.us-east-1.bucket"));
        }
        // Nothing vouches; a bucket with data; the record's tag on a resource that never vouches; the intent's
        // tag on the key, which records buckets under its own tags.
        for (vouching, empty) in [
            (None, true),
            (Some((kms_key::BUCKET_TAG, "region.us-east-1.kms_key")), false),
            (Some((kms_key::BUCKET_TAG, "region.us-east-1.topic")), true),
            (Some((intent.as_str(), "region.us-east-1.kms_key")), true),
        ] {
            let plan = plan_with(vouching, empty);
            assert!(
                plan.errors.iter().any(|e| e.address == "region.us-east-1.bucket"),
                "{vouching:?}, empty={empty}: someone else's bucket"
            );
        }
    }
}
