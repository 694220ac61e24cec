//! Observe: read every resource the desired state names, concurrently, into an [`ObservedState`]. Never mutates:
//! the kinds' `observe` make only Get, List, Describe and Head calls. This module holds the generic walk, and the
//! discovery of what the pipeline left behind (another preset's or notify's resources, Sentinel's transform, a region removed from the
//! spec, an `[alerts]` section removed), which reads through the kinds' modules.

use std::collections::{BTreeMap, BTreeSet};

use eksaudit_plan::alerts::{self as plan_alerts, AlertNames};
use eksaudit_plan::{DesiredResource, DesiredState, Kind, Observation, ObservedResource, ObservedState, StaleResource};
use eksaudit_spec::{Notify, RoleKind, Spec};
use futures::stream::{self, StreamExt};
use serde_json::Value;

use eksaudit_spec::address::{RegionalSlot, RoleSlot};

use crate::address::{self, alerts_subscriptions, regional, role};
use crate::kinds::{
    bucket, bucket_notification, cluster_logging, filter, function, kms_key, log_group, oidc_provider, permission,
    queue, role, stale, stream as firehose_stream, topic, topic_subscription, Found, Reading, Task,
};
use crate::shared::{optional, owned_by, unknown};
use crate::{Aws, RegionClients};

/// The read task of one desired resource, by its kind; `None` for a kind read together with another (the
/// notification with its bucket, a cluster's log group and the alerts filter with the pipeline's filter, the
/// permission with its function, the alerts subscriptions all at once per region), for the filters (read per
/// region once its marks are known) and for a regional resource of a region without clients.
fn read<'a>(cx: &'a Reading<'a>, region: Option<&'a RegionClients>, d: &'a DesiredResource) -> Option<Task<'a>> {
    match d.kind {
        Kind::OidcProvider => Some(oidc_provider::observe(cx, d)),
        Kind::Role => Some(role::observe(cx, d)),
        Kind::KmsKey => region.map(|c| kms_key::observe(c, d)),
        Kind::Bucket => region.map(|c| bucket::observe(cx, c, d)),
        Kind::Topic => region.map(|c| topic::observe(cx, c, d)),
        Kind::TopicSubscription => region.and_then(|c| topic_subscription::observe(cx, c, d)),
        Kind::Queue => region.map(|c| queue::observe(c, d)),
        Kind::FirehoseLogGroup | Kind::LogGroup | Kind::FunctionLogGroup => {
            region.and_then(|c| log_group::observe(c, d))
        }
        Kind::DeliveryStream => region.map(|c| firehose_stream::observe(c, d)),
        Kind::ClusterLogging => region.map(|c| cluster_logging::observe(c, d)),
        // Per region, after the region's marks: `filter::observe_region`.
        Kind::SubscriptionFilter => None,
        Kind::Function => region.map(|c| function::observe(cx, c, d)),
        Kind::BucketNotification | Kind::FunctionPermission => None,
    }
}

/// The reader role names this pipeline owns (under every preset).
fn our_reader_roles(spec: &Spec) -> Vec<String> {
    if spec.iam.reader_role_arn.is_some() {
        return Vec::new();
    }
    spec.reader_role_names()
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
    let cx = Reading {
        aws,
        spec,
        account,
        pipeline,
        desired: desired.resources.iter().map(|r| (r.address.as_str(), r)).collect(),
        our_reader_roles: our_reader_roles(spec),
    };
    let cx = &cx;
    let mut tasks: Vec<Task<'_>> = Vec::new();
    for d in &desired.resources {
        let region = d.region.as_deref().and_then(|r| regions.get(r));
        tasks.extend(read(cx, region, d));
    }
    // What another preset or notify left: topics, queues, an OIDC provider, the reader role under another name.
    for region in &spec.regions {
        let Some(c) = regions.get(&region.name) else { continue };
        let prefix = alerts_subscriptions(&region.name);
        let subscriptions: Vec<&DesiredResource> =
            desired.resources.iter().filter(|d| d.address.starts_with(&prefix)).collect();
        if !subscriptions.is_empty() {
            tasks.push(Box::pin(async move { topic_subscription::observe_alerts(c, &subscriptions).await }));
        }
        if spec.consumer.notify != Notify::Sns {
            tasks.push(Box::pin(left_topic(c, spec, account)));
        }
        if spec.consumer.notify != Notify::Sqs {
            tasks.push(Box::pin(left_queues(c, spec)));
        }
    }

    for (cloud, issuer) in oidc_provider::issuers() {
        if spec.consumer.web_identity().is_some_and(|w| w.issuer == issuer) {
            continue;
        }
        tasks.push(Box::pin(async move {
            let address = eksaudit_plan::desired::oidc_provider_address(cloud);
            let arn = oidc_provider::arn(spec, account, issuer);
            match oidc_provider::read(aws, &arn, pipeline, &cx.our_reader_roles).await {
                Ok(Observation::Present(o)) => {
                    let trusted = o.fields.get("trusted_by").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
                    if owned_by(&o, pipeline) && !trusted {
                        let s = stale(address, Kind::OidcProvider, None, issuer.to_string());
                        Found { stale: vec![StaleResource { fields: o.fields, ..s }], ..Default::default() }
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
                let address = eksaudit_plan::desired::FORMER_READER_ROLE.to_string();
                let result = role::owned(aws, &name, pipeline).await;
                Found::owned_leftover(stale(address, Kind::Role, None, name), pipeline, result)
            }));
        }
    }
    // Per region, the marks (GetResources, a page at a time) alongside everything else, the selected clusters'
    // filters read as the marks come in and spared where a log group does not exist, and filters of ours on
    // clusters the spec no longer selects, found through the marks on their log groups (`filter::observe_region`).
    // Marks only in the regions discovered (`all_clusters`): a caller that reads a few named resources passes none.
    let mut filters: BTreeMap<&str, Vec<&DesiredResource>> = BTreeMap::new();
    for d in desired.resources.iter().filter(|d| d.kind == Kind::SubscriptionFilter) {
        if let Some(r) = d.region.as_deref().filter(|r| regions.contains_key(*r)) {
            filters.entry(r).or_default().push(d);
        }
    }
    let region_names: BTreeSet<&str> = all_clusters
        .keys()
        .map(String::as_str)
        .filter(|r| regions.contains_key(*r))
        .chain(filters.keys().copied())
        .collect();
    let marks = region_names.into_iter().filter_map(|r| regions.get(r)).map(|c| {
        let matched = desired.matched_clusters.get(&c.region).cloned().unwrap_or_default();
        let selected = filters.get(c.region.as_str()).cloned().unwrap_or_default();
        let discovered = all_clusters.contains_key(&c.region);
        async move {
            let (marks, read) = filter::observe_region(cx, c, selected, discovered, &matched).await;
            let mut found = Found::default();
            read.into_iter().for_each(|f| found.extend(f));
            (c.region.clone(), marks, found)
        }
    });
    // The marks polled first: their first GetResources queues for the calls in flight ahead of the other reads,
    // since the filters, a region's slowest reads, wait for them.
    let (marks, found): (Vec<_>, Vec<Found>) = futures::join!(
        futures::future::join_all(marks),
        stream::iter(tasks).buffer_unordered(aws.read_concurrency()).collect()
    );
    let mut observed = ObservedState { account: account.to_string(), ..Default::default() };
    for f in found {
        observed.resources.extend(f.resources);
        observed.neighbours.extend(f.neighbours);
        observed.stale.extend(f.stale);
    }
    let mut marked = BTreeMap::new();
    for (region, marks, left) in marks {
        observed.resources.extend(left.resources);
        observed.neighbours.extend(left.neighbours);
        observed.stale.extend(left.stale);
        match marks {
            None => {}
            Some(Ok(m)) => {
                marked.insert(region, m);
            }
            Some(Err(e)) => {
                observed.resources.insert(regional(&region, RegionalSlot::Clusters), unknown(&e));
                marked_unknown(desired, &region, &e, &mut observed);
            }
        }
    }
    observed.stale.sort_by(|a, b| a.address.cmp(&b.address));
    read_marks(desired, &marked, &mut observed);
    read_own_key_as_alias(spec, account, desired, &mut observed);
    left_transforms(spec, account, &mut observed);
    // Its role, read only once a transform is found left (so a pipeline that never had one makes no extra call).
    let transform_left =
        observed.stale.iter().any(|s| s.kind == Kind::Function && s.address.ends_with(".transform_function"));
    if !spec.transforms() && transform_left {
        let name = spec.transform_name();
        let address = eksaudit_plan::kinds::role::TRANSFORM_ROLE.to_string();
        let result = role::owned(aws, &name, pipeline).await;
        let f = Found::owned_leftover(stale(address, Kind::Role, None, name), pipeline, result);
        observed.resources.extend(f.resources);
        observed.stale.extend(f.stale);
    }
    if spec.alerts.is_none() {
        observe_alerts_leftovers(aws, regions, spec, account, &mut observed).await;
    }
    observed
}

/// Each present filter of the desired state shows whether its log group carries its mark (`log_group_tag`, the
/// key, or null), read from the region's marks; a filter on an unmarked group (made before filters marked their
/// groups) plans an update that marks it.
fn read_marks(desired: &DesiredState, marked: &BTreeMap<String, BTreeSet<String>>, observed: &mut ObservedState) {
    for d in desired.resources.iter().filter(|d| d.kind == Kind::SubscriptionFilter) {
        let Some(marks) = d.region.as_ref().and_then(|r| marked.get(r)) else { continue };
        let Some(Observation::Present(o)) = observed.resources.get_mut(&d.address) else { continue };
        let group = d.fields.get("log_group").and_then(|f| f.value.as_str()).unwrap_or_default();
        let on = marks.contains(group);
        let tag = d.fields.get("log_group_tag").map(|f| f.value.clone()).filter(|_| on);
        o.fields.insert("log_group_tag".to_string(), tag.unwrap_or(Value::Null));
    }
}

/// The region's marks could not be read: its present filters cannot be checked either.
fn marked_unknown(desired: &DesiredState, region: &str, e: &crate::Error, observed: &mut ObservedState) {
    for d in desired.resources.iter().filter(|d| d.kind == Kind::SubscriptionFilter) {
        if d.region.as_deref() == Some(region)
            && matches!(observed.resources.get(&d.address), Some(Observation::Present(_)))
        {
            observed.resources.insert(d.address.clone(), unknown(e));
        }
    }
}

/// The fields that name a KMS key by ARN (log groups, the function's environment key).
const KEY_FIELDS: [&str; 2] = ["kms_key_id", "kms_key_arn"];

/// CloudWatch Logs and Lambda answer with the key's ARN; the plan names the pipeline's own key by its alias (its
/// ARN is unknown until it exists). The key observed behind the alias in the same read is shown as the alias, so
/// an in-sync key compares equal without another call; any other key stays as AWS gave it.
fn read_own_key_as_alias(spec: &Spec, account: &str, desired: &DesiredState, observed: &mut ObservedState) {
    if !spec.bucket.owns_key() {
        return;
    }
    let names = eksaudit_plan::Names::new(spec, account);
    for region in &spec.regions {
        let r = region.name.as_str();
        let Some(Observation::Present(key)) = observed.resources.get(&regional(r, RegionalSlot::KmsKey)) else {
            continue;
        };
        let Some(id) = key.fields.get("key_id").and_then(Value::as_str) else { continue };
        let (arn, alias) = (kms_key::arn(r, account, id), names.kms_alias_arn(r));
        for d in desired.resources.iter().filter(|d| d.region.as_deref() == Some(r)) {
            if let Some(Observation::Present(o)) = observed.resources.get_mut(&d.address) {
                for field in KEY_FIELDS {
                    if o.fields.get(field).and_then(Value::as_str) == Some(arn.as_str()) {
                        o.fields.insert(field.to_string(), Value::String(alias.clone()));
                    }
                }
            }
        }
    }
}

/// Regions the spec no longer names but the pipeline's CloudWatch Logs role still trusts (its trust policy lists
/// `arn:<partition>:logs:<region>:<account>:*` for every region it was applied to). What eksaudit left there is
/// stale. Apply narrows the role only after those resources are gone, so the trail is never lost. Only a role
/// carrying the pipeline's owner tag says where eksaudit applied (a reused role's trust is its owner's), and
/// only a logs ARN of this account with a region's name in it names a region: a hand-widened `logs:*` names none.
pub fn former_regions(observed: &ObservedState, spec: &Spec) -> Vec<String> {
    fn walk(v: &Value, account: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                if let Some(arn) = eksaudit_spec::rules::parse_arn(s) {
                    if arn.service == "logs" && arn.account == account && eksaudit_spec::is_region_name(arn.region) {
                        out.insert(arn.region.to_string());
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, account, out)),
            Value::Object(m) => m.values().for_each(|i| walk(i, account, out)),
            _ => {}
        }
    }
    let Some(Observation::Present(role)) = observed.resources.get(role(RoleSlot::Cloudwatch)) else {
        return Vec::new();
    };
    if !owned_by(role, &spec.pipeline.name) {
        return Vec::new();
    }
    let mut regions = BTreeSet::new();
    if let Some(trust) = role.fields.get("trust_policy") {
        walk(trust, &observed.account, &mut regions);
    }
    regions.into_iter().filter(|r| !spec.regions.iter().any(|s| &s.name == r)).collect()
}

/// Destroy's own reads after [`observe`], which a plan does not need, in each region where the pipeline has a
/// key of its own:
/// - every log group of the region encrypted with a key (DescribeLogGroups, 50 a page): destroy keeps log groups,
///   so it keeps the key under any of them, named by the spec or not (a deleted cluster's group, which EKS
///   keeps, or a removed `[alerts]`'s); unread, the region's key is unknown and destroy stops rather than guess;
/// - where the key alias is missing, the key an apply stopped between CreateKey and CreateAlias left, tagged as
///   this pipeline's (`kms_key::observe_interrupted`), so that destroy leaves none of the pipeline behind. A
///   region where the key is there, or scheduled for deletion (its alias stays for the window), pays nothing.
pub async fn observe_for_destroy(
    regions: &BTreeMap<String, RegionClients>,
    desired: &DesiredState,
    spec: &Spec,
    observed: &mut ObservedState,
) {
    let pipeline = spec.pipeline.name.as_str();
    let keys: Vec<(&DesiredResource, &RegionClients)> = desired
        .resources
        .iter()
        .filter(|d| d.kind == Kind::KmsKey && d.management == eksaudit_plan::Management::Owned)
        .filter_map(|d| Some((d, regions.get(d.region.as_deref()?)?)))
        .collect();
    let groups =
        futures::future::join_all(keys.iter().map(|(d, c)| async move { (*d, log_group::encrypted(c).await) }));
    let missing = keys.iter().filter(|(d, _)| matches!(observed.resources.get(&d.address), Some(Observation::Absent)));
    let interrupted = futures::future::join_all(missing.map(|(d, c)| async move {
        let observation = match kms_key::observe_interrupted(c, &d.name, pipeline).await {
            Ok(Some(o)) => Observation::Present(o),
            Ok(None) => Observation::Absent,
            Err(e) => unknown(&e),
        };
        (d.address.clone(), observation)
    }));
    let (groups, interrupted) = futures::join!(groups, interrupted);
    observed.resources.extend(interrupted);
    for (d, groups) in groups {
        match groups {
            Ok(groups) => {
                let region = d.region.clone().unwrap_or_default();
                observed.encrypted_log_groups.insert(region, groups);
            }
            Err(e) => {
                observed.resources.insert(d.address.clone(), unknown(&e));
            }
        }
    }
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
    let alerts_name = spec.alerts_name();
    let alerts_name = alerts_name.as_str();
    let mut tasks: Vec<Task<'_>> = Vec::new();
    for (region, c) in regions {
        let at = move |slot: RegionalSlot| regional(region, slot);
        let left =
            move |slot: RegionalSlot, kind: Kind, name: String| stale(at(slot), kind, Some(region.clone()), name);
        tasks.push(Box::pin(async move {
            let name = spec.stream_name();
            let result = firehose_stream::read(c, &name).await;
            Found::owned_leftover(left(RegionalSlot::Stream, Kind::DeliveryStream, name), pipeline, result)
        }));
        tasks.push(Box::pin(async move {
            let arn = topic::arn(spec, region, account, &spec.topic_name());
            let result = topic::read(c, &arn).await;
            Found::owned_leftover(left(RegionalSlot::Topic, Kind::Topic, spec.topic_name()), pipeline, result)
        }));
        tasks.push(Box::pin(left_queues(c, spec)));
        tasks.push(Box::pin(async move {
            let bucket = spec.bucket_name(account, region);
            let address = at(RegionalSlot::BucketNotification);
            match optional(bucket_notification::read(c, &bucket, pipeline).await) {
                Ok(Some((Observation::Present(_), _))) => Found {
                    stale: vec![stale(address, Kind::BucketNotification, Some(region.clone()), bucket)],
                    ..Default::default()
                },
                Ok(_) => Found::default(),
                Err(e) => Found::one(&address, unknown(&e)),
            }
        }));
        tasks.push(Box::pin(async move {
            match c.list_clusters().await {
                Ok(clusters) => {
                    // Every cluster's group, marked or not: a region removed from the spec is read once, and
                    // its filters may predate the marks.
                    let mut found = Found::default();
                    for cluster in clusters {
                        found.extend(filter::stale(c, cluster, pipeline, alerts_name, false).await);
                    }
                    found
                }
                Err(e) => Found::one(&at(RegionalSlot::Clusters), unknown(&e)),
            }
        }));
    }
    let found: Vec<Found> = stream::iter(tasks).buffer_unordered(crate::pace::DEFAULT_MAX_CONCURRENCY).collect().await;
    for f in found {
        observed.resources.extend(f.resources);
        observed.stale.extend(f.stale);
    }
    left_transforms(spec, account, observed);
}

/// The region's topic when the spec no longer notifies through SNS: stale if it is ours.
async fn left_topic(c: &RegionClients, spec: &Spec, account: &str) -> Found {
    let address = regional(&c.region, RegionalSlot::Topic);
    let arn = topic::arn(spec, &c.region, account, &spec.topic_name());
    let result = topic::read(c, &arn).await;
    Found::owned_leftover(
        stale(address, Kind::Topic, Some(c.region.clone()), spec.topic_name()),
        &spec.pipeline.name,
        result,
    )
}

/// The region's queues when the spec no longer notifies through SQS: stale if they are ours.
async fn left_queues(c: &RegionClients, spec: &Spec) -> Found {
    let mut found = Found::default();
    for (what, name) in
        [(RegionalSlot::Queue, spec.queue_name()), (RegionalSlot::DeadLetterQueue, spec.dead_letter_queue_name())]
    {
        let address = regional(&c.region, what);
        let result = queue::read(c, &name).await;
        let left = stale(address, Kind::Queue, Some(c.region.clone()), name);
        found.extend(Found::owned_leftover(left, &spec.pipeline.name, result));
    }
    found
}

/// The Sentinel transform a stream of ours still names as its processor when the spec no longer transforms
/// (another preset, or a region removed from the spec): stale. It is ours by its name in a stream that carries
/// our owner tag, as a filter is ours by its name, so finding it costs no read of its own. Its log group stays,
/// as every log group does.
fn left_transforms(spec: &Spec, account: &str, observed: &mut ObservedState) {
    let names = eksaudit_plan::Names::new(spec, account);
    let streams: Vec<(String, Option<Value>)> = observed
        .resources
        .iter()
        .filter_map(|(address, o)| match o {
            // Only a stream of ours vouches for the function it names: a same-named stream of someone else's is
            // left alone, and so is whatever it uses.
            Observation::Present(o) if owned_by(o, &spec.pipeline.name) => {
                Some((address.clone(), o.fields.get("processing").cloned()))
            }
            _ => None,
        })
        .chain(observed.stale.iter().map(|s| (s.address.clone(), s.fields.get("processing").cloned())))
        .collect();
    for (address, processing) in streams {
        let Ok(eksaudit_spec::Address::Regional { region, slot: RegionalSlot::Stream }) = address.parse() else {
            continue;
        };
        if spec.transforms() && spec.region(&region).is_some() {
            continue;
        }
        let named = processing.as_ref().and_then(|p| p.get("lambda_arn")).and_then(Value::as_str);
        if named == Some(names.transform_function_arn(&region).as_str()) {
            let at = regional(&region, RegionalSlot::TransformFunction);
            if observed.stale.iter().any(|s| s.address == at) {
                continue;
            }
            observed.stale.push(stale(at, Kind::Function, Some(region), spec.transform_name()));
        }
    }
    observed.stale.sort_by(|a, b| a.address.cmp(&b.address));
}

/// `[alerts]` is off but a region shows an alerts filter of ours (stale): read the function, its permission, its
/// dead-letter queue and the alerts topic there, and the alerts role, and list those this pipeline owns as stale. Costs nothing while
/// no alerts filter is left, so a pipeline that never had alerts makes no extra call.
async fn observe_alerts_leftovers(
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
        .filter(|s| address::is_alerts_filter(&s.address))
        .filter_map(|s| s.region.clone())
        .collect();
    if left.is_empty() {
        return;
    }
    let n = AlertNames::new(spec, account);
    let ours = |o: &ObservedResource| owned_by(o, pipeline);
    let tasks = left.iter().filter_map(|r| regions.get(r).map(|c| (r, c))).map(|(r, c)| {
        let (name, n) = (&name, &n);
        async move {
            let at = |slot: RegionalSlot| regional(r, slot);
            let mut gone = Vec::new();
            let mut unknowns = Vec::new();
            let stale_of = |address: String, kind: Kind, name: String, o: ObservedResource| StaleResource {
                fields: o.fields,
                ..stale(address, kind, Some(r.clone()), name)
            };
            match function::read(c, name).await {
                Ok(Observation::Present(o)) if ours(&o) => {
                    match permission::read(c, name, &n.statement_id()).await {
                        Ok(Observation::Present(p)) => gone.push(stale_of(
                            at(RegionalSlot::AlertsPermission),
                            Kind::FunctionPermission,
                            n.statement_id(),
                            p,
                        )),
                        Ok(_) => {}
                        Err(e) => unknowns.push((at(RegionalSlot::AlertsPermission), unknown(&e))),
                    }
                    gone.push(stale_of(at(RegionalSlot::AlertsFunction), Kind::Function, name.clone(), o));
                }
                Ok(_) => {}
                Err(e) => unknowns.push((at(RegionalSlot::AlertsFunction), unknown(&e))),
            }
            match topic::read(c, &n.topic_arn(r)).await {
                Ok(Observation::Present(o)) if ours(&o) => {
                    gone.push(stale_of(at(RegionalSlot::AlertsTopic), Kind::Topic, name.clone(), o))
                }
                Ok(_) => {}
                Err(e) => unknowns.push((at(RegionalSlot::AlertsTopic), unknown(&e))),
            }
            let dead_letter = spec.alerts_dead_letter_queue_name();
            match queue::read(c, &dead_letter).await {
                Ok(Observation::Present(o)) if ours(&o) => {
                    gone.push(stale_of(at(RegionalSlot::AlertsDeadLetterQueue), Kind::Queue, dead_letter, o))
                }
                Ok(_) => {}
                Err(e) => unknowns.push((at(RegionalSlot::AlertsDeadLetterQueue), unknown(&e))),
            }
            (gone, unknowns)
        }
    });
    let (found, role) = futures::join!(futures::future::join_all(tasks), role::owned(aws, &name, pipeline));
    for (gone, unknowns) in found {
        observed.stale.extend(gone);
        observed.resources.extend(unknowns);
    }
    match role {
        Ok(Observation::Present(o)) if ours(&o) => observed.stale.push(StaleResource {
            fields: o.fields,
            ..stale(plan_alerts::ROLE_ADDRESS.into(), Kind::Role, None, name)
        }),
        Ok(_) => {}
        Err(e) => {
            observed.resources.insert(plan_alerts::ROLE_ADDRESS.into(), unknown(&e));
        }
    }
    observed.stale.sort_by(|a, b| a.address.cmp(&b.address));
}

#[cfg(test)]
mod former_regions_tests {
    use super::*;
    use eksaudit_spec::OWNER_TAG_KEY;
    use serde_json::json;

    fn observed(owner: Option<&str>, source_arns: Value) -> ObservedState {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringLike": {"aws:SourceArn": source_arns}}}]});
        let mut cloudwatch = ObservedResource::default();
        cloudwatch.fields.insert("trust_policy".into(), trust);
        if let Some(owner) = owner {
            cloudwatch.tags.insert(OWNER_TAG_KEY.into(), owner.into());
        }
        let mut o = ObservedState { account: "123456789012".into(), ..Default::default() };
        o.resources.insert(role(RoleSlot::Cloudwatch).to_string(), Observation::Present(cloudwatch));
        o
    }

    #[test]
    fn only_region_names_of_this_account_in_the_pipelines_own_role_are_former_regions() {
        let spec = eksaudit_spec::parse_spec(
            r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:q"

[[region]]
name = "eu-central-1"
clusters = ["*"]
"#,
        )
        .unwrap();
        let arns = json!([
            "arn:aws:logs:eu-central-1:123456789012:*",
            "arn:aws:logs:us-east-1:123456789012:*",
            "arn:aws:logs:*:123456789012:*",
            "arn:aws:logs:eu-*:123456789012:*",
            "arn:aws:logs:ap-south-1:999999999999:*",
            "arn:aws:sns:us-west-2:123456789012:topic",
        ]);
        assert_eq!(former_regions(&observed(Some("eks-audit"), arns.clone()), &spec), ["us-east-1"]);
        // Someone else's role (a reused one, another pipeline's) says nothing of where this pipeline applied.
        assert!(former_regions(&observed(Some("other"), arns.clone()), &spec).is_empty());
        assert!(former_regions(&observed(None, arns), &spec).is_empty());
    }
}
