//! SNS subscriptions: the consumer's SQS subscription to the pipeline's topic, and the alerts topic's email and
//! HTTPS subscriptions (read all at once per region, `observe_alerts`).

use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use serde_json::json;

use super::{topic, Context, Found, Reading, Target, Task};
use crate::address::is_alerts_subscription;
use crate::shared::{field, gone_ok, optional, string, text, unknown, Call, Named};
use crate::{Error, ErrorKind, RegionClients};

/// The consumer's subscription; `None` for an alerts subscription, which `observe_alerts` reads with the others.
pub(crate) fn observe<'a>(cx: &'a Reading<'a>, c: &'a RegionClients, d: &'a DesiredResource) -> Option<Task<'a>> {
    if is_alerts_subscription(&d.address) {
        return None;
    }
    let arn = topic::arn(cx.spec, &c.region, cx.account, &cx.spec.topic_name());
    Some(Box::pin(async move { Found::settle(&d.address, read(c, &arn, &d.name).await) }))
}

fn observed(topic_arn: &str, protocol: &str, endpoint: &str, subscription_arn: Option<&str>) -> Observation {
    let mut o = ObservedResource::default();
    o.fields.insert("topic_arn".into(), json!(topic_arn));
    o.fields.insert("protocol".into(), json!(protocol));
    o.fields.insert("endpoint".into(), json!(endpoint));
    o.fields.insert("subscription_arn".into(), json!(subscription_arn));
    Observation::Present(o)
}

async fn read(c: &RegionClients, topic_arn: &str, endpoint: &str) -> Result<Observation, Error> {
    let mut pages = c.sns.list_subscriptions_by_topic().topic_arn(topic_arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        let Some(page) = optional(page.named("sns:ListSubscriptionsByTopic", topic_arn))? else {
            return Ok(Observation::Absent);
        };
        for s in page.subscriptions() {
            if s.protocol() == Some("sqs") && s.endpoint() == Some(endpoint) {
                return Ok(observed(topic_arn, "sqs", endpoint, s.subscription_arn()));
            }
        }
    }
    Ok(Observation::Absent)
}

/// The alerts topic's email and HTTPS subscriptions the spec asks for: one ListSubscriptionsByTopic for them all.
/// An unconfirmed one counts as present (SNS keeps it pending until the recipient confirms).
pub(crate) async fn observe_alerts(c: &RegionClients, desired: &[&DesiredResource]) -> Found {
    let topic = desired.first().map(|d| string(d, "topic_arn")).unwrap_or_default();
    let mut live: Vec<(String, String, String)> = Vec::new();
    let mut pages = c.sns.list_subscriptions_by_topic().topic_arn(&topic).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page.named("sns:ListSubscriptionsByTopic", &topic) {
            Ok(p) => live.extend(p.subscriptions().iter().map(|s| {
                let text = |v: Option<&str>| v.unwrap_or_default().to_string();
                (text(s.protocol()), text(s.endpoint()), text(s.subscription_arn()))
            })),
            Err(e) if e.kind() == ErrorKind::NotFound => break,
            Err(e) => {
                let resources = desired.iter().map(|d| (d.address.clone(), unknown(&e))).collect();
                return Found { resources, ..Default::default() };
            }
        }
    }
    let resources = desired
        .iter()
        .map(|d| {
            let (protocol, endpoint) = (string(d, "protocol"), string(d, "endpoint"));
            let found = live.iter().find(|(p, e, _)| *p == protocol && *e == endpoint);
            let observation = match found {
                Some((_, _, arn)) => observed(&topic, &protocol, &endpoint, Some(arn)),
                None => Observation::Absent,
            };
            (d.address.clone(), observation)
        })
        .collect();
    Found { resources, ..Default::default() }
}

/// Subscribe answers with the existing subscription when there is one.
pub(crate) async fn create(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let topic = text(field(d, "topic_arn"));
    c.sns
        .subscribe()
        .topic_arn(&topic)
        .protocol(text(field(d, "protocol")))
        .endpoint(text(field(d, "endpoint")))
        .send()
        .call("sns:Subscribe", &topic)
        .await?;
    Ok(())
}

/// Update and replace alike: subscribed again.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    create(cx, t).await
}

/// By the subscription's ARN as read; one still pending confirmation has none to unsubscribe.
pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let c = t.clients()?;
    let arn = t.old("subscription_arn").map(text).unwrap_or_default();
    if arn.is_empty() || arn == "PendingConfirmation" {
        return Ok(());
    }
    gone_ok(c.sns.unsubscribe().subscription_arn(&arn).send().call("sns:Unsubscribe", &arn).await.map(drop))
}
