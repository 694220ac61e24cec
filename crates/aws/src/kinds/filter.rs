//! CloudWatch Logs subscription filters on a cluster's control-plane log group: the pipeline's (to the stream)
//! and the alerts filter (to the alert function). One read of the group's filters answers for both, for the
//! group itself, and for the filters of others that hold the group's two slots.
//!
//! A filter marks its log group with the pipeline's tag `eksaudit_plan::kinds::filter::log_group_tag`
//! (TagResource before PutSubscriptionFilter), and deleting the pipeline's filter deletes the alerts filter on the
//! group too, then takes the mark off (UntagResource last). So every filter of ours sits on a marked group
//! whatever step a run stopped at, and [`marked`] finds them with one GetResources per region: what the pipeline
//! left on clusters the spec no longer selects costs reads of those groups only, not of every cluster's. A mark
//! without the pipeline's filter (a run stopped between the calls) shows as that filter's leftover, and deleting
//! it clears the group and takes the mark off. The same marks spare the reads of selected clusters' groups that do
//! not exist ([`observe_region`]).

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};

use eksaudit_plan::kinds::filter::log_group_tag;

use eksaudit_plan::{DesiredResource, Kind, Observation, StaleResource};
use eksaudit_spec::log_group_name;
use serde_json::{json, Value};

use super::{present, Context, Found, Reading, Target, Task};
use eksaudit_spec::address::ClusterSlot;

use crate::address::{alerts_filter_of, cluster, is_alerts_filter, log_group_of};
use crate::retry::{retry, test_message_not_delivered};
use crate::shared::{field, gone_ok, optional, string, text, unknown, Call, Named};
use crate::{Error, RegionClients};

/// The pipeline's filter, with its log group and the alerts filter; `None` for the alerts filter itself.
/// `group_absent`: a DescribeLogGroups already said the log group does not exist, so there is nothing to read.
pub(crate) fn observe<'a>(
    cx: &'a Reading<'a>,
    c: &'a RegionClients,
    d: &'a DesiredResource,
    group_absent: bool,
) -> Option<Task<'a>> {
    if is_alerts_filter(&d.address) {
        return None;
    }
    let group_address = log_group_of(&d.address);
    let has_group = cx.desired.contains_key(group_address.as_str());
    let alerts = cx.desired.get(alerts_filter_of(&d.address).as_str()).copied();
    let alerts_name = cx.spec.alerts_name();
    Some(Box::pin(async move {
        with_group_and_alerts(c, d, group_address, has_group, alerts, &alerts_name, group_absent).await
    }))
}

/// The pipeline's filters (with their log groups and alerts filters) of one region's selected clusters, and the
/// region's marks (`None` unless `discovered`: a caller reading a few named resources reads no marks). A log group
/// the pipeline marked holds a filter of ours and is read as soon as the page of marks naming it arrives (the
/// pages come one GetResources at a time, behind the region's other reads). Of the others, one DescribeLogGroups
/// per 50 names says which exist, and only those are read: in a region the pipeline has not reached yet, a
/// cluster whose log group EKS never made costs a fiftieth of a call, not a DescribeSubscriptionFilters of its
/// own (an in-sync region, every group marked, makes no extra call). When that read fails, every group is read:
/// each read then says what it finds or why it cannot. Once the marks are all in, the marked groups of clusters
/// not in `matched` (the spec no longer selects them) are read for what the pipeline left there ([`stale`]).
pub(crate) async fn observe_region<'a>(
    cx: &'a Reading<'a>,
    c: &'a RegionClients,
    filters: Vec<&'a DesiredResource>,
    discovered: bool,
    matched: &[String],
) -> (Option<Result<BTreeSet<String>, Error>>, Vec<Found>) {
    let mut pending: BTreeMap<String, Vec<&'a DesiredResource>> = BTreeMap::new();
    for d in filters.into_iter().filter(|d| !is_alerts_filter(&d.address)) {
        pending.entry(string(d, "log_group")).or_default().push(d);
    }
    // Batches of filters to read, each with whether its log group is known to be absent.
    let (batches, reads) = futures::channel::mpsc::unbounded::<Vec<(&'a DesiredResource, bool)>>();
    let marks = async move {
        let marks = match discovered {
            true => Some(
                marked(c, cx.pipeline, |group| {
                    if let Some(found) = pending.remove(group) {
                        let _ = batches.unbounded_send(found.into_iter().map(|d| (d, false)).collect());
                    }
                })
                .await,
            ),
            false => None,
        };
        let unmarked: BTreeSet<String> = pending.keys().cloned().collect();
        let existing = match super::log_group::existing(c, &unmarked).await {
            Ok(existing) => Some(existing),
            Err(e) => {
                tracing::debug!(region = %c.region, "cannot tell which log groups exist, reading each: {e}");
                None
            }
        };
        for (group, found) in pending {
            let absent = existing.as_ref().is_some_and(|e| !e.contains(&group));
            let _ = batches.unbounded_send(found.into_iter().map(|d| (d, absent)).collect());
        }
        drop(batches);
        let mut left = Found::default();
        let alerts_name = cx.spec.alerts_name();
        for group in marks.iter().flat_map(|m| m.iter().flatten()) {
            let Some(cluster) = cluster_of(group).filter(|c| !matched.iter().any(|m| m == c)) else { continue };
            left.extend(stale(c, cluster.to_string(), cx.pipeline, &alerts_name, true).await);
        }
        (marks, left)
    };
    let concurrency = cx.aws.read_concurrency();
    let found = reads
        .flat_map_unordered(None, |batch| {
            let tasks = batch.into_iter().filter_map(|(d, absent)| observe(cx, c, d, absent));
            stream::iter(tasks).buffer_unordered(concurrency)
        })
        .collect::<Vec<Found>>();
    let ((marks, left), mut found) = futures::join!(marks, found);
    found.push(left);
    (marks, found)
}

/// One DescribeSubscriptionFilters answers for the log group (absent when the call says so), our filter and the
/// alerts filter (`{pipeline}-alerts`: observed when the spec wants it, stale otherwise), and names the filters of
/// others that hold the group's slots. The alerts filter's neighbours include the pipeline's filter, which comes
/// first.
async fn with_group_and_alerts(
    c: &RegionClients,
    d: &DesiredResource,
    group_address: String,
    has_group: bool,
    alerts: Option<&DesiredResource>,
    alerts_name: &str,
    group_absent: bool,
) -> Found {
    let group = string(d, "log_group");
    let mut found = Found::default();
    let filters = if group_absent { Ok(None) } else { read(c, &group).await };
    match filters {
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
                found.resources.push((group_address, present(BTreeMap::new())));
            }
            let (ours, others): (Vec<_>, Vec<_>) = filters.into_iter().partition(|f| f.0 == d.name);
            let alert = others.iter().find(|f| f.0 == alerts_name).cloned();
            let names: Vec<String> = others.into_iter().map(|f| f.0).collect();
            found.neighbours.push((d.address.clone(), names.clone()));
            let observation = match ours.into_iter().next() {
                Some((_, fields)) => present(fields),
                None => Observation::Absent,
            };
            found.resources.push((d.address.clone(), observation));
            match (alerts, alert) {
                (Some(a), alert) => {
                    let mut neighbours: Vec<String> = names.into_iter().filter(|n| n != alerts_name).collect();
                    neighbours.push(d.name.clone());
                    found.neighbours.push((a.address.clone(), neighbours));
                    let observation = match alert {
                        Some((_, fields)) => present(fields),
                        None => Observation::Absent,
                    };
                    found.resources.push((a.address.clone(), observation));
                }
                (None, Some((name, fields))) => found.stale.push(StaleResource {
                    address: alerts_filter_of(&d.address),
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

/// Every filter on the group, by name; `None` when the log group does not exist.
async fn read(c: &RegionClients, group: &str) -> Result<Option<Vec<FilterFields>>, Error> {
    let out = optional(
        c.logs
            .describe_subscription_filters()
            .log_group_name(group)
            .send()
            .call("logs:DescribeSubscriptionFilters", group)
            .await,
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

/// The region's log groups the pipeline's filters marked: one GetResources (pages of 100), whatever the number of
/// log groups. `logs` as the resource type: every CloudWatch Logs resource type, of which only log groups are
/// marked.
/// `on_group` is told of each group as its page arrives.
async fn marked(c: &RegionClients, pipeline: &str, mut on_group: impl FnMut(&str)) -> Result<BTreeSet<String>, Error> {
    let key = log_group_tag(pipeline);
    let mut groups = BTreeSet::new();
    let mut pages = c
        .tag
        .get_resources()
        .tag_filters(aws_sdk_resourcegroupstagging::types::TagFilter::builder().key(&key).build())
        .resource_type_filters("logs")
        .resources_per_page(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.named("tag:GetResources", &key)?;
        for group in page.resource_tag_mapping_list().iter().filter_map(|m| group_of(m.resource_arn()?)) {
            on_group(&group);
            groups.insert(group);
        }
    }
    Ok(groups)
}

/// A log group's name from its ARN (`arn:aws:logs:<region>:<account>:log-group:<name>`, `:*` or not).
fn group_of(arn: &str) -> Option<String> {
    let (_, name) = arn.split_once(":log-group:")?;
    Some(name.strip_suffix(":*").unwrap_or(name).to_string())
}

/// The cluster whose control-plane log group `group` is (`/aws/eks/<cluster>/cluster`).
pub(crate) fn cluster_of(group: &str) -> Option<&str> {
    group.strip_prefix("/aws/eks/")?.strip_suffix("/cluster").filter(|c| !c.is_empty() && !c.contains('/'))
}

/// The filters of ours (`pipeline`, `alerts_name`) on a cluster the spec does not select: stale. `marked`: the
/// group carries the pipeline's mark; without the pipeline's filter the mark is listed as that filter's leftover,
/// so deleting it takes the mark off.
pub(crate) async fn stale(
    c: &RegionClients,
    cluster_name: String,
    pipeline: &str,
    alerts_name: &str,
    marked: bool,
) -> Found {
    let group = log_group_name(&cluster_name);
    let address = cluster(&c.region, &cluster_name, ClusterSlot::Filter);
    let left = |name: String, fields: BTreeMap<String, Value>| StaleResource {
        address: if name == alerts_name { alerts_filter_of(&address) } else { address.clone() },
        kind: Kind::SubscriptionFilter,
        region: Some(c.region.clone()),
        name,
        fields,
    };
    match read(c, &group).await {
        Ok(Some(filters)) => {
            let filters: Vec<FilterFields> =
                filters.into_iter().filter(|f| f.0 == pipeline || f.0 == alerts_name).collect();
            let mut stale = Vec::new();
            if marked && !filters.iter().any(|f| f.0 == pipeline) {
                stale.push(left(pipeline.to_string(), BTreeMap::from([("log_group".to_string(), json!(group))])));
            }
            stale.extend(filters.into_iter().map(|(name, fields)| left(name, fields)));
            Found { stale, ..Default::default() }
        }
        Ok(None) => Found::default(),
        // An unreadable log group of a cluster the spec does not select cannot hide anything the spec wants;
        // say so rather than guess.
        Err(e) => Found::one(&address, unknown(&e)),
    }
}

/// The log group's ARN, as TagResource and UntagResource name it (without `:*`).
fn group_arn(cx: &Context<'_>, region: &str, group: &str) -> String {
    eksaudit_plan::Names::new(cx.spec, cx.account).log_group_arn(region, group)
}

/// PutSubscriptionFilter creates or replaces the filter of that name. CloudWatch Logs sends a test message
/// first, which fails until the destination (and its role or permission) is usable.
pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let group = text(field(d, "log_group"));
    // The mark first: a filter of ours is never on an unmarked group, wherever a run stops.
    c.logs
        .tag_resource()
        .resource_arn(group_arn(cx, &c.region, &group))
        .tags(text(field(d, "log_group_tag")), cx.spec.pipeline.name.clone())
        .send()
        .call("logs:TagResource", &group)
        .await?;
    retry(cx.budgets.filter_test_message, test_message_not_delivered, || async {
        c.logs
            .put_subscription_filter()
            .log_group_name(&group)
            .filter_name(&d.name)
            .filter_pattern(text(field(d, "filter_pattern")))
            .destination_arn(text(field(d, "destination_arn")))
            // A Lambda destination takes no role.
            .set_role_arn(Some(text(field(d, "role_arn"))).filter(|r| !r.is_empty()))
            .send()
            .call("logs:PutSubscriptionFilter", &group)
            .await
            .map(drop)
    })
    .await
}

/// Update and replace alike: the filter put again.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    create(cx, t).await
}

/// On the log group the filter was read on. The pipeline's filter goes last of ours on its group: the alerts
/// filter there first (unless the spec still wants it), then the pipeline's, then the mark (so a run stopped
/// anywhere leaves a marked group); the alerts filter alone leaves the mark to the pipeline's.
pub(crate) async fn delete(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let c = t.clients()?;
    let group = t.old("log_group").map(text).unwrap_or_default();
    let pipeline = cx.spec.pipeline.name.as_str();
    let last = t.name() == pipeline && cx.desired(&alerts_filter_of(&t.change.address)).is_none();
    let mut names = vec![t.name().to_string()];
    if last {
        names.insert(0, cx.spec.alerts_name());
    }
    for name in &names {
        gone_ok(
            c.logs
                .delete_subscription_filter()
                .log_group_name(&group)
                .filter_name(name)
                .send()
                .call("logs:DeleteSubscriptionFilter", &group)
                .await
                .map(drop),
        )?;
    }
    if !last {
        return Ok(());
    }
    gone_ok(
        c.logs
            .untag_resource()
            .resource_arn(group_arn(cx, &c.region, &group))
            .tag_keys(log_group_tag(pipeline))
            .send()
            .call("logs:UntagResource", &group)
            .await
            .map(drop),
    )
}
