//! SNS subscriptions: the consumer's queue on the region's topic (`sqs_queue_arn`), and the email and HTTPS
//! endpoints of the alerts topic.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, Notify, RegionalSlot};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, Operation};

fn subscription(address: String, region: &str, topic: String, protocol: &str, endpoint: &str) -> DesiredResource {
    resource(
        address,
        Kind::TopicSubscription,
        Some(region),
        endpoint.to_string(),
        BTreeMap::from([
            ("topic_arn".into(), Field::exact(json!(topic))),
            ("protocol".into(), Field::exact(json!(protocol))),
            ("endpoint".into(), Field::exact(json!(endpoint))),
        ]),
    )
}

/// The consumer's queue subscribed to the region's topic (when the spec names one).
pub fn desired(n: &Names<'_>, region: &str) -> Option<DesiredResource> {
    let queue = n.spec.consumer.sqs_queue_arn.as_ref().filter(|_| n.spec.consumer.notify == Notify::Sns)?;
    let address = Address::regional(region, RegionalSlot::TopicSubscription).to_string();
    Some(subscription(address, region, n.topic_arn(region), "sqs", queue))
}

/// `[alerts]`: the alerts topic's email, then HTTPS endpoints (only on a topic of ours).
pub fn alerts(n: &Names<'_>, region: &str) -> Vec<DesiredResource> {
    let Some(alerts) = n.spec.alerts.as_ref().filter(|a| a.topic_arn.is_none()) else { return Vec::new() };
    let endpoints = alerts.email.iter().map(|e| ("email", e)).chain(alerts.https.iter().map(|h| ("https", h)));
    endpoints
        .enumerate()
        .map(|(index, (protocol, endpoint))| {
            let address =
                Address::AlertsSubscription { region: region.to_string(), protocol: protocol.to_string(), index };
            subscription(address.to_string(), region, n.own_alerts_topic_arn(region), protocol, endpoint)
        })
        .collect()
}

pub const OPERATIONS: &[Operation] = &[
    op("sns", "ListSubscriptionsByTopic", "sns:ListSubscriptionsByTopic"),
    op("sns", "Subscribe", "sns:Subscribe"),
    op("sns", "Unsubscribe", "sns:Unsubscribe"),
];

pub const KIND: Registration =
    Registration { kind: Kind::TopicSubscription, depends_on: &[Kind::Topic], operations: OPERATIONS };
