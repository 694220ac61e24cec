//! The small builders every kind's desired resources use: a desired resource, policy documents and their common
//! statements. Kept apart from any one kind so the kind modules (and `alerts.rs`) depend on it, not on each other.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::model::{DesiredResource, Field, Kind, Management};

/// A resource eksaudit owns (creates, updates, deletes).
pub(crate) fn resource(
    address: String,
    kind: Kind,
    region: Option<&str>,
    name: String,
    fields: BTreeMap<String, Field>,
) -> DesiredResource {
    DesiredResource { address, kind, region: region.map(str::to_string), name, management: Management::Owned, fields }
}

pub(crate) fn policy_document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// An identity-policy statement: these actions on these resources.
pub(crate) fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})
}

/// A grant to an AWS service acting for one resource of this pipeline's (`source`), from this account only: the
/// confused-deputy conditions AWS documents for service principals.
pub(crate) fn service_grant(
    sid: &str,
    service: &str,
    action: Value,
    resource: Value,
    source: &str,
    account: &str,
) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnLike": {"aws:SourceArn": source}, "StringEquals": {"aws:SourceAccount": account}}
    })
}

/// Refuses every call over plain HTTP (`actions`: the service's wildcard, `s3:*`, `SQS:*`).
pub(crate) fn deny_insecure_transport(actions: &str, resource: Value) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// The trust of a role a service assumes for this account only.
pub(crate) fn service_trust(service: &str, account: &str) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}}
    })
}
