//! Observe: read every resource the desired state names, concurrently, into an [`ObservedState`]. Never mutates:
//! every call here is a Get, List, Describe or Head.

use std::collections::{BTreeMap, BTreeSet};

use eksaudit_plan::{
    policy, DesiredResource, DesiredState, Kind, Management, Observation, ObservedResource, ObservedState,
    StaleResource,
};
use eksaudit_spec::{log_group_name, Notify, Preset, RoleKind, Spec, Trust, OWNER_TAG_KEY};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use aws_sdk_s3::types as s3t;

use crate::{Aws, Error, ErrorKind, RegionClients};

/// Reads in flight at once: enough to hide latency, few enough not to be throttled.
const CONCURRENT_READS: usize = 16;

/// What one read task found: observations by address, neighbours, stale resources.
#[derive(Default)]
struct Found {
    resources: Vec<(String, Observation)>,
    neighbours: Vec<(String, Vec<String>)>,
    stale: Vec<StaleResource>,
}

impl Found {
    fn one(address: &str, observation: Observation) -> Found {
        Found { resources: vec![(address.to_string(), observation)], ..Default::default() }
    }
}

/// `Ok(None)` for "does not exist", the error otherwise.
pub(crate) fn optional<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn unknown(err: &Error) -> Observation {
    let reason = match err.kind() {
        ErrorKind::AccessDenied => format!("access denied ({err})"),
        ErrorKind::Throttled => format!("throttled, retries exhausted ({err})"),
        _ => err.to_string(),
    };
    Observation::Unknown { reason }
}

fn settle(address: &str, result: Result<Observation, Error>) -> Found {
    Found::one(address, result.unwrap_or_else(|e| unknown(&e)))
}

fn tag_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn policy_value(text: Option<&str>) -> Value {
    text.and_then(policy::parse).unwrap_or(Value::Null)
}

/// The whole observation for one plan: every desired resource, and owned resources the spec no longer implies.
pub async fn observe(
    aws: &Aws,
    regions: &BTreeMap<String, RegionClients>,
    spec: &Spec,
    account: &str,
    desired: &DesiredState,
    all_clusters: &BTreeMap<String, Vec<String>>,
) -> ObservedState {
    let pipeline = spec.pipeline.name.as_str();
    let mut tasks: Vec<futures::future::BoxFuture<'_, Found>> = Vec::new();
    let by_address: BTreeMap<&str, &DesiredResource> =
        desired.resources.iter().map(|r| (r.address.as_str(), r)).collect();

    let ours = our_reader_roles(spec);
    for d in &desired.resources {
        let region = d.region.as_deref().and_then(|r| regions.get(r));
        match (d.kind, region) {
            (Kind::OidcProvider, _) => {
                let ours = ours.clone();
                tasks.push(Box::pin(async move {
                    let arn = oidc_provider_arn(spec, account, &d.name);
                    settle(&d.address, oidc_provider(aws, &arn, pipeline, &ours).await)
                }))
            }
            (Kind::Queue, Some(c)) => {
                tasks.push(Box::pin(async move { settle(&d.address, queue(c, &d.name).await.map(|q| q.0)) }))
            }
            (Kind::Role, _) => tasks.push(Box::pin(async move {
                let result = match &d.management {
                    Management::Reused { .. } => reused_role(aws, &d.name).await,
                    _ => owned_role(aws, &d.name, pipeline).await,
                };
                settle(&d.address, result)
            })),
            (Kind::Bucket, Some(c)) if d.address.ends_with(".access_log_bucket") => {
                tasks.push(Box::pin(async move { settle(&d.address, bucket_settings(c, &d.name, pipeline).await) }))
            }
            (Kind::KmsKey, Some(c)) => {
                tasks.push(Box::pin(async move { settle(&d.address, crate::kms::observe_key(c, &d.name).await) }))
            }
            (Kind::Bucket, Some(c)) => {
                let notification = d.address.replace(".bucket", ".bucket_notification");
                let wanted = by_address.contains_key(notification.as_str());
                tasks.push(Box::pin(bucket(c, &d.address, &d.name, notification, wanted, pipeline)));
            }
            (Kind::Topic, Some(c)) => {
                let arn = topic_arn(c, account, &d.name);
                tasks.push(Box::pin(async move { settle(&d.address, topic(c, &arn).await) }));
            }
            // Every alerts subscription of a region: one read of the alerts topic, below.
            (Kind::TopicSubscription, Some(_)) if d.address.contains(".alerts_subscription.") => {}
            (Kind::TopicSubscription, Some(c)) => {
                let arn = topic_arn(c, account, &spec.topic_name());
                tasks.push(Box::pin(async move { settle(&d.address, subscription(c, &arn, &d.name).await) }));
            }
            (Kind::FirehoseLogGroup, Some(c)) => {
                tasks.push(Box::pin(async move { settle(&d.address, firehose_log_group(c, &d.name).await) }))
            }
            (Kind::DeliveryStream, Some(c)) => {
                tasks.push(Box::pin(async move { settle(&d.address, stream(c, &d.name).await) }))
            }
            (Kind::ClusterLogging, Some(c)) => {
                tasks.push(Box::pin(async move { settle(&d.address, cluster_logging(c, &d.name).await) }))
            }
            (Kind::SubscriptionFilter, Some(c)) if !d.address.ends_with(".alerts_filter") => {
                let group_address = d.address.replace(".filter", ".log_group");
                let has_group = by_address.contains_key(group_address.as_str());
                let alerts =
                    by_address.get(format!("{}alerts_filter", d.address.trim_end_matches("filter")).as_str()).copied();
                let alerts_name = spec.alerts_name();
                tasks.push(Box::pin(async move {
                    cluster_filters(c, d, group_address, has_group, alerts, &alerts_name).await
                }));
            }
            (Kind::Function, Some(c)) => {
                let statement = eksaudit_plan::alerts::AlertNames::new(spec, account).statement_id();
                tasks.push(Box::pin(async move {
                    let resources = crate::alerts::observe_function(c, &d.address, &d.name, &statement).await;
                    Found { resources, ..Default::default() }
                }))
            }
            (Kind::FunctionLogGroup, Some(c)) => {
                tasks.push(Box::pin(async move { settle(&d.address, firehose_log_group(c, &d.name).await) }))
            }
            // Read together with the bucket, the filters and the function respectively.
            (Kind::BucketNotification | Kind::LogGroup | Kind::SubscriptionFilter | Kind::FunctionPermission, _) => {}
            (_, None) => {}
        }
    }
    // What another preset or notify left: topics, queues, an OIDC provider, the reader role under another name.
    for region in &spec.regions {
        let Some(c) = regions.get(&region.name) else { continue };
        let prefix = format!("region.{}.alerts_subscription.", region.name);
        let subscriptions: Vec<&DesiredResource> =
            desired.resources.iter().filter(|d| d.address.starts_with(&prefix)).collect();
        if !subscriptions.is_empty() {
            tasks.push(Box::pin(async move {
                Found { resources: crate::alerts::observe_subscriptions(c, &subscriptions).await, ..Default::default() }
            }));
        }
        if spec.consumer.notify != Notify::Sns {
            tasks.push(Box::pin(left_topic(c, spec, account)));
        }
        if spec.consumer.notify != Notify::Sqs {
            tasks.push(Box::pin(left_queues(c, spec)));
        }
    }
    for (cloud, issuer) in web_identity_issuers() {
        if spec.consumer.web_identity().is_some_and(|w| w.issuer == issuer) {
            continue;
        }
        let ours = ours.clone();
        tasks.push(Box::pin(async move {
            let address = eksaudit_plan::desired::oidc_provider_address(cloud);
            let arn = oidc_provider_arn(spec, account, issuer);
            match oidc_provider(aws, &arn, pipeline, &ours).await {
                Ok(Observation::Present(o)) => {
                    let mine = o.tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(pipeline);
                    let trusted = o.fields.get("trusted_by").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
                    if mine && !trusted {
                        Found {
                            stale: vec![StaleResource {
                                address,
                                kind: Kind::OidcProvider,
                                region: None,
                                name: issuer.to_string(),
                                fields: o.fields,
                            }],
                            ..Default::default()
                        }
                    } else {
                        Found::default()
                    }
                }
                Ok(_) => Found::default(),
                Err(e) => Found::one(&address, unknown(&e)),
            }
        }));
    }
    if spec.iam.reader_role_arn.is_none() {
        let current = spec.role_name(RoleKind::Reader);
        for name in spec.reader_role_names().into_iter().filter(|n| *n != current) {
            tasks.push(Box::pin(async move {
                let address = eksaudit_plan::desired::FORMER_READER_ROLE;
                match owned_role(aws, &name, pipeline).await {
                    Ok(Observation::Present(o)) if o.tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(pipeline) => {
                        Found {
                            stale: vec![StaleResource {
                                address: address.to_string(),
                                kind: Kind::Role,
                                region: None,
                                name,
                                fields: o.fields,
                            }],
                            ..Default::default()
                        }
                    }
                    Ok(_) => Found::default(),
                    Err(e) => Found::one(address, unknown(&e)),
                }
            }));
        }
    }
    // Filters of ours on clusters the spec no longer selects.
    for (region, names) in all_clusters {
        let Some(c) = regions.get(region) else { continue };
        let matched = desired.matched_clusters.get(region).cloned().unwrap_or_default();
        for cluster in names.iter().filter(|n| !matched.contains(n)) {
            tasks.push(Box::pin(stale_filter(c, cluster.clone(), pipeline)));
        }
    }

    let found: Vec<Found> = stream::iter(tasks).buffer_unordered(CONCURRENT_READS).collect().await;
    let mut observed = ObservedState { account: account.to_string(), ..Default::default() };
    for f in found {
        observed.resources.extend(f.resources);
        observed.neighbours.extend(f.neighbours);
        observed.stale.extend(f.stale);
    }
    observed.stale.sort_by(|a, b| a.address.cmp(&b.address));
    if spec.alerts.is_none() {
        crate::alerts::observe_leftovers(aws, regions, spec, account, &mut observed).await;
    }
    observed
}

/// Regions the spec no longer names but the pipeline's CloudWatch Logs role still trusts (its trust policy lists
/// `arn:<partition>:logs:<region>:...` for every region it was applied to). What eksaudit left there is stale.
/// Apply narrows the role only after those resources are gone, so the trail is never lost.
pub fn former_regions(observed: &ObservedState, spec: &Spec) -> Vec<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                if parts.len() > 4 && parts[0] == "arn" && parts[2] == "logs" && !parts[3].is_empty() {
                    out.insert(parts[3].to_string());
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(m) => m.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let Some(Observation::Present(role)) = observed.resources.get("role.cloudwatch") else { return Vec::new() };
    let mut regions = BTreeSet::new();
    if let Some(trust) = role.fields.get("trust_policy") {
        walk(trust, &mut regions);
    }
    regions.into_iter().filter(|r| !spec.regions.iter().any(|s| &s.name == r)).collect()
}

/// Reads what the pipeline left in regions the spec no longer names: its stream and topic (by owner tag), its
/// notification entry, its filters on every cluster's log group. The bucket and log groups hold log data and are
/// kept, so they are not listed.
pub async fn observe_former(
    regions: &BTreeMap<String, RegionClients>,
    spec: &Spec,
    account: &str,
    observed: &mut ObservedState,
) {
    let pipeline = spec.pipeline.name.as_str();
    let mut tasks: Vec<futures::future::BoxFuture<'_, Found>> = Vec::new();
    for (region, c) in regions {
        let at = move |what: &str| format!("region.{region}.{what}");
        let owned = move |address: String, kind: Kind, name: String, result: Result<Observation, Error>| match result {
            Ok(Observation::Present(o)) if o.tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(pipeline) => Found {
                stale: vec![StaleResource { address, kind, region: Some(region.clone()), name, fields: o.fields }],
                ..Default::default()
            },
            Ok(_) => Found::default(),
            Err(e) => Found::one(&address, unknown(&e)),
        };
        tasks.push(Box::pin(async move {
            let name = spec.stream_name();
            owned(at("stream"), Kind::DeliveryStream, name.clone(), stream(c, &name).await)
        }));
        tasks.push(Box::pin(async move {
            let arn = topic_arn(c, account, &spec.topic_name());
            owned(at("topic"), Kind::Topic, spec.topic_name(), topic(c, &arn).await)
        }));
        tasks.push(Box::pin(left_queues(c, spec)));
        tasks.push(Box::pin(async move {
            let bucket = spec.bucket_name(account, region);
            let address = at("bucket_notification");
            let found = optional(notification(c, &bucket, pipeline).await);
            match found {
                Ok(Some((Observation::Present(_), _))) => Found {
                    stale: vec![StaleResource {
                        address,
                        kind: Kind::BucketNotification,
                        region: Some(region.clone()),
                        name: bucket,
                        fields: BTreeMap::new(),
                    }],
                    ..Default::default()
                },
                Ok(_) => Found::default(),
                Err(e) => Found::one(&address, unknown(&e)),
            }
        }));
        tasks.push(Box::pin(async move {
            match c.list_clusters().await {
                Ok(clusters) => {
                    let mut found = Found::default();
                    for cluster in clusters {
                        let f = stale_filter(c, cluster, pipeline).await;
                        found.resources.extend(f.resources);
                        found.stale.extend(f.stale);
                    }
                    found
                }
                Err(e) => Found::one(&format!("region.{region}.clusters"), unknown(&e)),
            }
        }));
    }
    let found: Vec<Found> = stream::iter(tasks).buffer_unordered(CONCURRENT_READS).collect().await;
    for f in found {
        observed.resources.extend(f.resources);
        observed.stale.extend(f.stale);
    }
    observed.stale.sort_by(|a, b| a.address.cmp(&b.address));
}

/// The reader role names this pipeline owns (under every preset): roles that trust an OIDC provider besides these
/// are someone else's, and keep it.
fn our_reader_roles(spec: &Spec) -> Vec<String> {
    if spec.iam.reader_role_arn.is_some() {
        return Vec::new();
    }
    spec.reader_role_names()
}

/// Every issuer a web-identity preset trusts, by Azure cloud.
fn web_identity_issuers() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for p in Preset::ALL {
        if let Trust::WebIdentity(w) = p.data().trust {
            out.extend(w.clouds.iter().map(|c| (c.name, c.issuer)));
        }
    }
    out
}

pub(crate) fn oidc_provider_arn(spec: &Spec, account: &str, issuer: &str) -> String {
    let partition = spec.regions.first().map_or("aws", |r| eksaudit_spec::partition(&r.name));
    format!("arn:{partition}:iam::{account}:oidc-provider/{issuer}")
}

/// An IAM OIDC provider: its URL, audiences and tags, and, when it is this pipeline's (its tag), the roles other
/// than `ours` that trust it (it is deleted only when none does; another's is never deleted, so never listed for).
async fn oidc_provider(aws: &Aws, arn: &str, pipeline: &str, ours: &[String]) -> Result<Observation, Error> {
    let iam = aws.iam();
    let out = optional(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(|e| Error::call("iam:GetOpenIDConnectProvider", arn, e)),
    )?;
    let Some(p) = out else { return Ok(Observation::Absent) };
    let mut o = ObservedResource { tags: tag_map(p.tags().iter().map(|t| (t.key(), t.value()))), ..Default::default() };
    let url = p.url().unwrap_or_default();
    let url = if url.starts_with("https://") { url.to_string() } else { format!("https://{url}") };
    o.fields.insert("url".into(), json!(url));
    o.fields.insert("client_ids".into(), json!(p.client_id_list()));
    o.fields.insert("thumbprints".into(), json!(p.thumbprint_list()));
    let mut trusted_by = Vec::new();
    if o.tags.get(OWNER_TAG_KEY).map(String::as_str) != Some(pipeline) {
        return Ok(Observation::Present(o));
    }
    let mut pages = iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::call("iam:ListRoles", arn, e))?;
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

/// A queue by name: its settings, tags and URL (`None` when it does not exist).
async fn queue(c: &RegionClients, name: &str) -> Result<(Observation, Option<String>), Error> {
    let url = optional(
        c.sqs.get_queue_url().queue_name(name).send().await.map_err(|e| Error::call("sqs:GetQueueUrl", name, e)),
    )?;
    let Some(url) = url.and_then(|u| u.queue_url) else { return Ok((Observation::Absent, None)) };
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| Error::call("sqs:GetQueueAttributes", name, e))?;
    let tags =
        c.sqs.list_queue_tags().queue_url(&url).send().await.map_err(|e| Error::call("sqs:ListQueueTags", name, e))?;
    let mut o = ObservedResource {
        tags: tags.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        ..Default::default()
    };
    let get = |k: &str| {
        attrs.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::from(k))).map(String::as_str)
    };
    let encryption = match (get("KmsMasterKeyId").filter(|k| !k.is_empty()), get("SqsManagedSseEnabled")) {
        (Some(_), _) => "SSE-KMS",
        (None, Some(s)) if s.eq_ignore_ascii_case("true") => "SSE-SQS",
        _ => "none",
    };
    o.fields.insert("encryption".into(), json!(encryption));
    o.fields.insert("policy".into(), policy_value(get("Policy")));
    o.fields.insert(
        "message_retention_seconds".into(),
        get("MessageRetentionPeriod").and_then(|v| v.parse::<u64>().ok()).map_or(Value::Null, |v| json!(v)),
    );
    let redrive = get("RedrivePolicy").and_then(|r| serde_json::from_str::<Value>(r).ok()).map(|r| {
        let count = match &r["maxReceiveCount"] {
            Value::String(s) => s.parse::<u64>().ok(),
            other => other.as_u64(),
        };
        json!({"dead_letter_target_arn": r["deadLetterTargetArn"], "max_receive_count": count})
    });
    o.fields.insert("redrive_policy".into(), redrive.unwrap_or(Value::Null));
    o.fields.insert("url".into(), json!(url));
    Ok((Observation::Present(o), Some(url)))
}

/// The region's topic when the spec no longer notifies through SNS: stale if it is ours.
async fn left_topic(c: &RegionClients, spec: &Spec, account: &str) -> Found {
    let address = format!("region.{}.topic", c.region);
    let arn = topic_arn(c, account, &spec.topic_name());
    owned_leftover(c, address, Kind::Topic, spec.topic_name(), &spec.pipeline.name, topic(c, &arn).await)
}

/// The region's queues when the spec no longer notifies through SQS: stale if they are ours.
async fn left_queues(c: &RegionClients, spec: &Spec) -> Found {
    let mut found = Found::default();
    for (what, name) in [("queue", spec.queue_name()), ("dead_letter_queue", spec.dead_letter_queue_name())] {
        let address = format!("region.{}.{what}", c.region);
        let observed = queue(c, &name).await.map(|q| q.0);
        let f = owned_leftover(c, address, Kind::Queue, name, &spec.pipeline.name, observed);
        found.resources.extend(f.resources);
        found.stale.extend(f.stale);
    }
    found
}

fn owned_leftover(
    c: &RegionClients,
    address: String,
    kind: Kind,
    name: String,
    pipeline: &str,
    result: Result<Observation, Error>,
) -> Found {
    match result {
        Ok(Observation::Present(o)) if o.tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(pipeline) => Found {
            stale: vec![StaleResource { address, kind, region: Some(c.region.clone()), name, fields: o.fields }],
            ..Default::default()
        },
        Ok(_) => Found::default(),
        Err(e) => Found::one(&address, unknown(&e)),
    }
}

fn topic_arn(c: &RegionClients, account: &str, name: &str) -> String {
    let partition = eksaudit_spec::partition(&c.region);
    format!("arn:{partition}:sns:{}:{account}:{name}", c.region)
}

fn role_name(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}

pub(crate) async fn owned_role(aws: &Aws, name: &str, pipeline: &str) -> Result<Observation, Error> {
    let iam = aws.iam();
    let role = optional(iam.get_role().role_name(name).send().await.map_err(|e| Error::call("iam:GetRole", name, e)))?;
    let Some(role) = role.and_then(|r| r.role) else { return Ok(Observation::Absent) };
    let inline = optional(
        iam.get_role_policy()
            .role_name(name)
            .policy_name(pipeline)
            .send()
            .await
            .map_err(|e| Error::call("iam:GetRolePolicy", name, e)),
    )?;
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| Error::call("iam:ListAttachedRolePolicies", name, e))?;
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
async fn reused_role(aws: &Aws, arn: &str) -> Result<Observation, Error> {
    let iam = aws.iam();
    let name = role_name(arn);
    let role = optional(iam.get_role().role_name(name).send().await.map_err(|e| Error::call("iam:GetRole", name, e)))?;
    if role.and_then(|r| r.role).is_none() {
        return Ok(Observation::Absent);
    }
    let mut documents = Vec::new();
    let inline = iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| Error::call("iam:ListRolePolicies", name, e))?;
    for policy_name in inline.policy_names() {
        let p = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(|e| Error::call("iam:GetRolePolicy", name, e))?;
        documents.push(policy_value(Some(p.policy_document())));
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| Error::call("iam:ListAttachedRolePolicies", name, e))?;
    for a in attached.attached_policies() {
        let Some(policy_arn) = a.policy_arn() else { continue };
        let p = iam
            .get_policy()
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| Error::call("iam:GetPolicy", policy_arn, e))?;
        let Some(version) = p.policy().and_then(|p| p.default_version_id()) else { continue };
        let v = iam
            .get_policy_version()
            .policy_arn(policy_arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| Error::call("iam:GetPolicyVersion", policy_arn, e))?;
        documents.push(policy_value(v.policy_version().and_then(|v| v.document())));
    }
    let mut o = ObservedResource::default();
    o.fields.insert("policies".into(), Value::Array(documents));
    Ok(Observation::Present(o))
}

/// The bucket and our notification entry on it, which can only be read once the bucket is known to be ours.
/// `wanted`: whether the spec wants a notification entry; when it does not, ours is stale (notify = "none").
async fn bucket(
    c: &RegionClients,
    address: &str,
    name: &str,
    notification_address: String,
    wanted: bool,
    pipeline: &str,
) -> Found {
    let mut found = bucket_and_notification(c, address, name, notification_address.clone(), pipeline).await;
    if !wanted {
        let ours = found.resources.iter().position(|(a, _)| *a == notification_address);
        if let Some(i) = ours {
            let (_, observation) = found.resources.remove(i);
            found.neighbours.retain(|(a, _)| *a != notification_address);
            if let Observation::Present(o) = observation {
                found.stale.push(StaleResource {
                    address: notification_address,
                    kind: Kind::BucketNotification,
                    region: Some(c.region.clone()),
                    name: name.to_string(),
                    fields: o.fields,
                });
            }
        }
    }
    found
}

async fn bucket_and_notification(
    c: &RegionClients,
    address: &str,
    name: &str,
    notification_address: String,
    pipeline: &str,
) -> Found {
    match bucket_settings(c, name, pipeline).await {
        Ok(Observation::Present(o)) if o.foreign_account => {
            let why = Observation::Unknown { reason: format!("bucket {name} belongs to another account") };
            Found {
                resources: vec![(address.into(), Observation::Present(o)), (notification_address, why)],
                ..Default::default()
            }
        }
        Ok(Observation::Absent) => Found {
            resources: vec![(address.into(), Observation::Absent), (notification_address, Observation::Absent)],
            ..Default::default()
        },
        Ok(mut observation) => {
            let (n, logging) = futures::join!(notification(c, name, pipeline), bucket_logging(c, name));
            if let Observation::Present(o) = &mut observation {
                match logging {
                    Ok(logging) => {
                        o.fields.insert("logging".into(), logging);
                    }
                    Err(e) => observation = unknown(&e),
                }
            }
            let mut found = Found { resources: vec![(address.into(), observation)], ..Default::default() };
            match n {
                Ok((n, others)) => {
                    found.resources.push((notification_address.clone(), n));
                    found.neighbours.push((notification_address, others));
                }
                Err(e) => found.resources.push((notification_address, unknown(&e))),
            }
            found
        }
        Err(e) => Found {
            resources: vec![(address.into(), unknown(&e)), (notification_address, unknown(&e))],
            ..Default::default()
        },
    }
}

async fn bucket_settings(c: &RegionClients, name: &str, pipeline: &str) -> Result<Observation, Error> {
    let s3 = &c.s3;
    if let Err(err) = s3.head_bucket().bucket(name).send().await {
        let status = err.raw_response().map(|r| r.status().as_u16());
        return match status {
            Some(404) => Ok(Observation::Absent),
            Some(403) => Ok(Observation::Present(ObservedResource { foreign_account: true, ..Default::default() })),
            Some(301) => Err(Error::Call {
                operation: "s3:HeadBucket",
                target: name.to_string(),
                code: Some("PermanentRedirect".into()),
                message: format!("bucket {name} exists in another region than {}", c.region),
                kind: ErrorKind::Other,
            }),
            _ => Err(Error::call("s3:HeadBucket", name, err)),
        };
    }
    let (tags, pab, ownership, encryption, policy, versioning, lifecycle) = futures::join!(
        async {
            optional(
                s3.get_bucket_tagging()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| Error::call("s3:GetBucketTagging", name, e)),
            )
        },
        async {
            optional(
                s3.get_public_access_block()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| Error::call("s3:GetPublicAccessBlock", name, e)),
            )
        },
        async {
            optional(
                s3.get_bucket_ownership_controls()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| Error::call("s3:GetBucketOwnershipControls", name, e)),
            )
        },
        async {
            optional(
                s3.get_bucket_encryption()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| Error::call("s3:GetBucketEncryption", name, e)),
            )
        },
        async {
            optional(
                s3.get_bucket_policy()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| Error::call("s3:GetBucketPolicy", name, e)),
            )
        },
        async {
            s3.get_bucket_versioning()
                .bucket(name)
                .send()
                .await
                .map_err(|e| Error::call("s3:GetBucketVersioning", name, e))
        },
        async {
            optional(
                s3.get_bucket_lifecycle_configuration()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|e| Error::call("s3:GetBucketLifecycleConfiguration", name, e)),
            )
        },
    );
    let mut o = ObservedResource::default();
    if let Some(t) = tags? {
        o.tags = tag_map(t.tag_set().iter().map(|t| (t.key(), t.value())));
    }
    let pab = pab?.and_then(|p| p.public_access_block_configuration).map(|p| {
        json!({
            "block_public_acls": p.block_public_acls.unwrap_or(false),
            "ignore_public_acls": p.ignore_public_acls.unwrap_or(false),
            "block_public_policy": p.block_public_policy.unwrap_or(false),
            "restrict_public_buckets": p.restrict_public_buckets.unwrap_or(false),
        })
    });
    o.fields.insert("public_access_block".into(), pab.unwrap_or(Value::Null));
    let ownership = ownership?
        .and_then(|o| o.ownership_controls)
        .and_then(|c| c.rules().first().map(|r| json!(r.object_ownership().as_str())));
    o.fields.insert("ownership".into(), ownership.unwrap_or(Value::Null));
    let encryption = encryption?.and_then(|e| e.server_side_encryption_configuration).and_then(|c| {
        c.rules().first().and_then(|rule| {
            rule.apply_server_side_encryption_by_default().map(|d| match d.sse_algorithm().as_str() {
                "AES256" => json!({"algorithm": "AES256"}),
                other => json!({
                    "algorithm": other,
                    "kms_key_id": d.kms_master_key_id(),
                    "bucket_key": rule.bucket_key_enabled().unwrap_or(false),
                }),
            })
        })
    });
    o.fields.insert("encryption".into(), encryption.unwrap_or(Value::Null));
    o.fields.insert("policy".into(), policy_value(policy?.as_ref().and_then(|p| p.policy())));
    let enabled = versioning?.status().is_some_and(|s| s.as_str() == "Enabled");
    o.fields.insert("versioning".into(), json!(if enabled { "Enabled" } else { "Disabled" }));
    let pipeline_rule = lifecycle?.and_then(|l| {
        l.rules().iter().find(|r| r.id() == Some(pipeline)).cloned().or_else(|| l.rules().first().cloned())
    });
    let lifecycle = pipeline_rule.map(|r| {
        json!({
            "expire_current_days": r.expiration().and_then(|e| e.days()),
            "expire_noncurrent_days": r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()),
            "abort_incomplete_multipart_days": r.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()),
        })
    });
    o.fields.insert("lifecycle".into(), lifecycle.unwrap_or(Value::Null));
    // No tags and no policy: either someone else's bucket or one an interrupted apply created and never tagged.
    // Only an empty one is the latter (one more read, only in this rare case).
    if o.tags.is_empty() && o.fields.get("policy").is_none_or(Value::is_null) {
        let versions = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| Error::call("s3:ListObjectVersions", name, e))?;
        let empty = versions.versions().is_empty() && versions.delete_markers().is_empty();
        o.fields.insert(eksaudit_plan::INTERRUPTED_CREATE.into(), json!(empty));
    }
    Ok(Observation::Present(o))
}

/// Where the bucket's server access logs go (`null` when they are off).
async fn bucket_logging(c: &RegionClients, name: &str) -> Result<Value, Error> {
    let out =
        c.s3.get_bucket_logging().bucket(name).send().await.map_err(|e| Error::call("s3:GetBucketLogging", name, e))?;
    Ok(out
        .logging_enabled()
        .map_or(Value::Null, |l| json!({"target_bucket": l.target_bucket(), "target_prefix": l.target_prefix()})))
}

/// Our entry of the bucket's notification configuration, and the ids of everyone else's.
async fn notification(c: &RegionClients, bucket: &str, pipeline: &str) -> Result<(Observation, Vec<String>), Error> {
    let n =
        c.s3.get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| Error::call("s3:GetBucketNotificationConfiguration", bucket, e))?;
    let mut others: Vec<String> = Vec::new();
    let mut ours = None;
    let entry = |kind: &str,
                 arn_field: &str,
                 arn: &str,
                 events: &[s3t::Event],
                 filter: Option<&s3t::NotificationConfigurationFilter>| {
        let mut events: Vec<String> = events.iter().map(|e| e.as_str().to_string()).collect();
        events.sort();
        let prefix = filter
            .and_then(|f| f.key())
            .and_then(|k| {
                k.filter_rules().iter().find(|r| r.name().is_some_and(|n| n.as_str().eq_ignore_ascii_case("prefix")))
            })
            .and_then(|r| r.value())
            .unwrap_or_default();
        let mut o = ObservedResource::default();
        o.fields.insert("id".into(), json!(pipeline));
        o.fields.insert("destination_type".into(), json!(kind));
        o.fields.insert(arn_field.into(), json!(arn));
        o.fields.insert("events".into(), json!(events));
        o.fields.insert("filter_prefix".into(), json!(prefix));
        o
    };
    for t in n.topic_configurations() {
        if t.id() == Some(pipeline) {
            ours = Some(entry("topic", "topic_arn", t.topic_arn(), t.events(), t.filter()));
        } else {
            others.push(t.id().unwrap_or("(topic, no id)").to_string());
        }
    }
    for q in n.queue_configurations() {
        if q.id() == Some(pipeline) {
            ours = Some(entry("queue", "queue_arn", q.queue_arn(), q.events(), q.filter()));
        } else {
            others.push(q.id().unwrap_or("(queue, no id)").to_string());
        }
    }
    others.extend(n.lambda_function_configurations().iter().map(|l| l.id().unwrap_or("(lambda, no id)").to_string()));
    if n.event_bridge_configuration().is_some() {
        others.push("(EventBridge)".into());
    }
    Ok((ours.map_or(Observation::Absent, Observation::Present), others))
}

pub(crate) async fn topic(c: &RegionClients, arn: &str) -> Result<Observation, Error> {
    let attrs = optional(
        c.sns
            .get_topic_attributes()
            .topic_arn(arn)
            .send()
            .await
            .map_err(|e| Error::call("sns:GetTopicAttributes", arn, e)),
    )?;
    let Some(attrs) = attrs else { return Ok(Observation::Absent) };
    let tags = c
        .sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| Error::call("sns:ListTagsForResource", arn, e))?;
    let mut o =
        ObservedResource { tags: tag_map(tags.tags().iter().map(|t| (t.key(), t.value()))), ..Default::default() };
    let policy = attrs.attributes().and_then(|a| a.get("Policy")).map(String::as_str);
    o.fields.insert("policy".into(), policy_value(policy));
    let key = attrs.attributes().and_then(|a| a.get("KmsMasterKeyId")).cloned().unwrap_or_default();
    o.fields.insert("kms_master_key_id".into(), json!(key));
    Ok(Observation::Present(o))
}

async fn subscription(c: &RegionClients, topic_arn: &str, endpoint: &str) -> Result<Observation, Error> {
    let mut pages = c.sns.list_subscriptions_by_topic().topic_arn(topic_arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match optional(page.map_err(|e| Error::call("sns:ListSubscriptionsByTopic", topic_arn, e)))? {
            Some(p) => p,
            None => return Ok(Observation::Absent),
        };
        for s in page.subscriptions() {
            if s.protocol() == Some("sqs") && s.endpoint() == Some(endpoint) {
                let mut o = ObservedResource::default();
                o.fields.insert("topic_arn".into(), json!(topic_arn));
                o.fields.insert("protocol".into(), json!("sqs"));
                o.fields.insert("endpoint".into(), json!(endpoint));
                o.fields.insert("subscription_arn".into(), json!(s.subscription_arn()));
                return Ok(Observation::Present(o));
            }
        }
    }
    Ok(Observation::Absent)
}

async fn firehose_log_group(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let groups = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| Error::call("logs:DescribeLogGroups", name, e))?;
    let Some(group) = groups.log_groups().iter().find(|g| g.log_group_name() == Some(name)) else {
        return Ok(Observation::Absent);
    };
    let arn =
        group.log_group_arn().map(str::to_string).or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()));
    let mut o = ObservedResource::default();
    if let Some(arn) = arn {
        let tags = c
            .logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| Error::call("logs:ListTagsForResource", name, e))?;
        o.tags = tags.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    }
    o.fields.insert("retention_days".into(), group.retention_in_days().map_or(Value::Null, |d| json!(d)));
    Ok(Observation::Present(o))
}

async fn stream(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let out = optional(
        c.firehose
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await
            .map_err(|e| Error::call("firehose:DescribeDeliveryStream", name, e)),
    )?;
    let Some(d) = out.and_then(|o| o.delivery_stream_description) else { return Ok(Observation::Absent) };
    let tags = c
        .firehose
        .list_tags_for_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await
        .map_err(|e| Error::call("firehose:ListTagsForDeliveryStream", name, e))?;
    let mut o = ObservedResource {
        tags: tag_map(tags.tags().iter().map(|t| (t.key(), t.value().unwrap_or_default()))),
        ..Default::default()
    };
    let f = &mut o.fields;
    f.insert("status".into(), json!(d.delivery_stream_status().as_str()));
    if let Some(failure) = d.failure_description() {
        f.insert("failure".into(), json!(format!("{}: {}", failure.r#type().as_str(), failure.details())));
    }
    f.insert("stream_type".into(), json!(d.delivery_stream_type().as_str()));
    // ENABLING is on its way to what is wanted: starting it again would be refused.
    let encryption = d.delivery_stream_encryption_configuration().and_then(|e| e.status()).map(|s| match s.as_str() {
        "ENABLING" => "ENABLED",
        other => other,
    });
    f.insert("encryption".into(), json!(encryption.unwrap_or("DISABLED")));
    if let Some(s3) = d.destinations().first().and_then(|x| x.extended_s3_destination_description()) {
        f.insert("bucket_arn".into(), json!(s3.bucket_arn()));
        f.insert("role_arn".into(), json!(s3.role_arn()));
        f.insert("prefix".into(), json!(s3.prefix().unwrap_or_default()));
        f.insert("error_output_prefix".into(), json!(s3.error_output_prefix().unwrap_or_default()));
        let hints = s3.buffering_hints();
        f.insert("buffer_size_mb".into(), json!(hints.and_then(|h| h.size_in_mbs())));
        f.insert("buffer_interval_seconds".into(), json!(hints.and_then(|h| h.interval_in_seconds())));
        f.insert("compression".into(), json!(s3.compression_format().as_str()));
        let logging = s3.cloud_watch_logging_options().map(|l| {
            json!({
                "enabled": l.enabled().unwrap_or(false),
                "log_group": l.log_group_name().unwrap_or_default(),
                "log_stream": l.log_stream_name().unwrap_or_default(),
            })
        });
        f.insert(
            "error_logging".into(),
            logging.unwrap_or(json!({"enabled": false, "log_group": "", "log_stream": ""})),
        );
    }
    Ok(Observation::Present(o))
}

async fn cluster_logging(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let out = optional(
        c.eks.describe_cluster().name(name).send().await.map_err(|e| Error::call("eks:DescribeCluster", name, e)),
    )?;
    let Some(cluster) = out.and_then(|o| o.cluster) else { return Ok(Observation::Absent) };
    let audit = cluster.logging().is_some_and(|l| {
        l.cluster_logging().iter().any(|s| s.enabled() == Some(true) && s.types().iter().any(|t| t.as_str() == "audit"))
    });
    let mut o = ObservedResource::default();
    o.fields.insert("audit".into(), json!(audit));
    Ok(Observation::Present(o))
}

/// One DescribeSubscriptionFilters answers for the log group (absent when the call says so), our filter and the
/// alerts filter (`{pipeline}-alerts`: observed when the spec wants it, stale otherwise), and names the filters of
/// others that hold the group's slots. The alerts filter's neighbours include the pipeline's filter, which comes
/// first.
async fn cluster_filters(
    c: &RegionClients,
    d: &DesiredResource,
    group_address: String,
    has_group: bool,
    alerts: Option<&DesiredResource>,
    alerts_name: &str,
) -> Found {
    let group = d.fields.get("log_group").and_then(|f| f.value.as_str()).unwrap_or_default().to_string();
    let mut found = Found::default();
    match describe_filters(c, &group).await {
        Ok(None) => {
            found.resources.push((d.address.clone(), Observation::Absent));
            if has_group {
                found.resources.push((group_address, Observation::Absent));
            }
            if let Some(a) = alerts {
                found.resources.push((a.address.clone(), Observation::Absent));
            }
        }
        Ok(Some(filters)) => {
            if has_group {
                found.resources.push((group_address, Observation::Present(ObservedResource::default())));
            }
            let (ours, others): (Vec<_>, Vec<_>) = filters.into_iter().partition(|f| f.0 == d.name);
            let alert = others.iter().find(|f| f.0 == alerts_name).cloned();
            let names: Vec<String> = others.into_iter().map(|f| f.0).collect();
            found.neighbours.push((d.address.clone(), names.clone()));
            let observation = match ours.into_iter().next() {
                Some((_, fields)) => Observation::Present(ObservedResource { fields, ..Default::default() }),
                None => Observation::Absent,
            };
            found.resources.push((d.address.clone(), observation));
            match (alerts, alert) {
                (Some(a), alert) => {
                    let mut neighbours: Vec<String> = names.into_iter().filter(|n| n != alerts_name).collect();
                    neighbours.push(d.name.clone());
                    found.neighbours.push((a.address.clone(), neighbours));
                    let observation = match alert {
                        Some((_, fields)) => Observation::Present(ObservedResource { fields, ..Default::default() }),
                        None => Observation::Absent,
                    };
                    found.resources.push((a.address.clone(), observation));
                }
                (None, Some((name, fields))) => found.stale.push(StaleResource {
                    address: format!("{}alerts_filter", d.address.trim_end_matches("filter")),
                    kind: Kind::SubscriptionFilter,
                    region: Some(c.region.clone()),
                    name,
                    fields,
                }),
                (None, None) => {}
            }
        }
        Err(e) => {
            found.resources.push((d.address.clone(), unknown(&e)));
            if has_group {
                found.resources.push((group_address, unknown(&e)));
            }
            if let Some(a) = alerts {
                found.resources.push((a.address.clone(), unknown(&e)));
            }
        }
    }
    found
}

type FilterFields = (String, BTreeMap<String, Value>);

/// `None` when the log group does not exist.
async fn describe_filters(c: &RegionClients, group: &str) -> Result<Option<Vec<FilterFields>>, Error> {
    let out = optional(
        c.logs
            .describe_subscription_filters()
            .log_group_name(group)
            .send()
            .await
            .map_err(|e| Error::call("logs:DescribeSubscriptionFilters", group, e)),
    )?;
    Ok(out.map(|out| {
        out.subscription_filters()
            .iter()
            .map(|f| {
                let fields = BTreeMap::from([
                    ("log_group".to_string(), json!(group)),
                    ("filter_pattern".to_string(), json!(f.filter_pattern().unwrap_or_default())),
                    ("destination_arn".to_string(), json!(f.destination_arn().unwrap_or_default())),
                    ("role_arn".to_string(), json!(f.role_arn().unwrap_or_default())),
                ]);
                (f.filter_name().unwrap_or_default().to_string(), fields)
            })
            .collect()
    }))
}

async fn stale_filter(c: &RegionClients, cluster: String, pipeline: &str) -> Found {
    let group = log_group_name(&cluster);
    let address = format!("region.{}.cluster.{cluster}.filter", c.region);
    let alerts = format!("{pipeline}-alerts");
    match describe_filters(c, &group).await {
        Ok(Some(filters)) => Found {
            stale: filters
                .into_iter()
                .filter(|f| f.0 == pipeline || f.0 == alerts)
                .map(|(name, fields)| StaleResource {
                    address: if name == alerts {
                        format!("{}alerts_filter", address.trim_end_matches("filter"))
                    } else {
                        address.clone()
                    },
                    kind: Kind::SubscriptionFilter,
                    region: Some(c.region.clone()),
                    name,
                    fields,
                })
                .collect(),
            ..Default::default()
        },
        Ok(None) => Found::default(),
        // An unreadable log group of a cluster the spec does not select cannot hide anything the spec wants;
        // say so rather than guess.
        Err(e) => Found::one(&address, unknown(&e)),
    }
}
