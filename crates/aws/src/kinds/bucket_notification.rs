//! The pipeline's entry in the bucket's notification configuration (to the topic or the queue), beside the
//! entries of others, which are written back as they were. Read together with the bucket (`bucket::observe`).

use aws_sdk_s3::types as s3t;
use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use serde_json::{json, Value};

use super::{Context, Target};
use crate::retry::{policy_not_propagated, retry, s3_conflict};
use crate::shared::{build_error, field, text, Call};
use crate::{Error, ErrorKind, RegionClients};

/// Our entry of the bucket's notification configuration, and the ids of everyone else's.
pub(crate) async fn read(c: &RegionClients, bucket: &str, pipeline: &str) -> Result<(Observation, Vec<String>), Error> {
    let n =
        c.s3.get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .call("s3:GetBucketNotificationConfiguration", bucket)
            .await?;
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

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    write(cx, t.clients()?, t.name(), Some(t.desired()?)).await
}

/// Update and replace alike: our entry written anew.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    create(cx, t).await
}

pub(crate) async fn delete(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    write(cx, t.clients()?, t.name(), None).await
}

/// Read, merge ours, write: PutBucketNotificationConfiguration replaces the whole configuration, so every
/// entry of others is written back as it was. `desired: None` removes ours.
async fn write(
    cx: &Context<'_>,
    c: &RegionClients,
    bucket: &str,
    desired: Option<&DesiredResource>,
) -> Result<(), Error> {
    let current = match c
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .call("s3:GetBucketNotificationConfiguration", bucket)
        .await
    {
        Ok(out) => out,
        Err(e) if desired.is_none() && e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let id = cx.spec.pipeline.name.as_str();
    let mut topics: Vec<s3t::TopicConfiguration> =
        current.topic_configurations().iter().filter(|t| t.id() != Some(id)).cloned().collect();
    let mut queues: Vec<s3t::QueueConfiguration> =
        current.queue_configurations().iter().filter(|q| q.id() != Some(id)).cloned().collect();
    let ours_there =
        topics.len() < current.topic_configurations().len() || queues.len() < current.queue_configurations().len();
    if desired.is_none() && !ours_there {
        return Ok(()); // ours is not there: nothing to remove
    }
    if let Some(d) = desired {
        let events: Vec<s3t::Event> = field(d, "events")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(s3t::Event::from)
            .collect();
        let prefix =
            s3t::FilterRule::builder().name(s3t::FilterRuleName::Prefix).value(text(field(d, "filter_prefix"))).build();
        let filter = s3t::NotificationConfigurationFilter::builder()
            .key(s3t::S3KeyFilter::builder().filter_rules(prefix).build())
            .build();
        if field(d, "destination_type") == "queue" {
            queues.push(
                s3t::QueueConfiguration::builder()
                    .id(id)
                    .queue_arn(text(field(d, "queue_arn")))
                    .set_events(Some(events))
                    .filter(filter)
                    .build()
                    .map_err(build_error)?,
            );
        } else {
            topics.push(
                s3t::TopicConfiguration::builder()
                    .id(id)
                    .topic_arn(text(field(d, "topic_arn")))
                    .set_events(Some(events))
                    .filter(filter)
                    .build()
                    .map_err(build_error)?,
            );
        }
    }
    let config = s3t::NotificationConfiguration::builder()
        .set_topic_configurations(Some(topics))
        .set_queue_configurations(Some(queues))
        .set_lambda_function_configurations(Some(current.lambda_function_configurations().to_vec()))
        .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
        .build();
    // S3 validates the destination with a test message: a queue or topic policy set moments ago may not let it
    // in yet.
    retry(
        cx.budgets.iam_propagation,
        |e| s3_conflict(e) || policy_not_propagated(e),
        || async {
            c.s3.put_bucket_notification_configuration()
                .bucket(bucket)
                .notification_configuration(config.clone())
                .send()
                .call("s3:PutBucketNotificationConfiguration", bucket)
                .await
                .map(drop)
        },
    )
    .await
}
