//! SNS topics: each region's topic S3 announces new objects on (`notify = "sns"`), and the alerts topic the
//! alert function publishes to (`[alerts]` without a `topic_arn`). Both encrypted with the pipeline's key.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, Notify, RegionalSlot, RoleKind};
use serde_json::{json, Value};

use super::Registration;
use crate::document::{policy_document, resource, service_grant};
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_also, Operation};

pub fn desired(n: &Names<'_>, region: &str) -> Option<DesiredResource> {
    (n.spec.consumer.notify == Notify::Sns).then(|| {
        resource(
            Address::regional(region, RegionalSlot::Topic).to_string(),
            Kind::Topic,
            Some(region),
            n.spec.topic_name(),
            BTreeMap::from([
                ("policy".into(), Field::policy(topic_policy(n, region))),
                // "" is SNS's word for no encryption.
                ("kms_master_key_id".into(), Field::exact(json!(n.kms_key(region).unwrap_or_default()))),
                ("tags".into(), Field::tags(&n.spec.resource_tags())),
            ]),
        )
    })
}

/// S3 may publish the bucket's events (only that bucket's, only from this account); the consumer subscribes.
fn topic_policy(n: &Names<'_>, region: &str) -> Value {
    let topic = n.topic_arn(region);
    policy_document(vec![
        service_grant(
            "S3Publish",
            "s3.amazonaws.com",
            json!("SNS:Publish"),
            json!(topic),
            &n.bucket_arn(region),
            n.account,
        ),
        json!({
            "Sid": "ConsumerSubscribe",
            "Effect": "Allow",
            // Vendors subscribe their own queue as themselves (a web-identity reader has no AWS principal: its role).
            "Principal": {"AWS": n.consumer_principal().unwrap_or_else(|| n.role_arn(RoleKind::Reader))},
            "Action": ["SNS:GetTopicAttributes", "SNS:Subscribe"],
            "Resource": topic
        }),
    ])
}

/// `[alerts]`: the region's alerts topic, unless `[alerts]` names its own. The account may publish and subscribe.
pub fn alerts(n: &Names<'_>, region: &str) -> Option<DesiredResource> {
    n.spec.alerts.as_ref().filter(|a| a.topic_arn.is_none())?;
    let topic = n.own_alerts_topic_arn(region);
    let policy = policy_document(vec![json!({
        "Sid": "AccountPublishAndSubscribe",
        "Effect": "Allow",
        "Principal": {"AWS": n.account_root()},
        "Action": ["SNS:GetTopicAttributes", "SNS:Publish", "SNS:Subscribe"],
        "Resource": topic
    })]);
    Some(resource(
        Address::regional(region, RegionalSlot::AlertsTopic).to_string(),
        Kind::Topic,
        Some(region),
        n.alerts_name(),
        BTreeMap::from([
            ("policy".into(), Field::policy(policy)),
            ("tags".into(), Field::tags(&n.spec.resource_tags())),
            // Encrypted at rest like the pipeline's topic (the key policy lets the alerts role use it).
            ("kms_master_key_id".into(), Field::exact(json!(n.kms_key(region).unwrap_or_default()))),
        ]),
    ))
}

pub const OPERATIONS: &[Operation] = &[
    op("sns", "GetTopicAttributes", "sns:GetTopicAttributes"),
    op("sns", "ListTagsForResource", "sns:ListTagsForResource"),
    // Tags on create need sns:TagResource too.
    op_also("sns", "CreateTopic", "sns:CreateTopic", &["sns:TagResource"]),
    op("sns", "SetTopicAttributes", "sns:SetTopicAttributes"),
    op("sns", "TagResource", "sns:TagResource"),
    op("sns", "DeleteTopic", "sns:DeleteTopic"),
];

/// Encrypted with the pipeline's key.
pub const KIND: Registration = Registration { kind: Kind::Topic, depends_on: &[Kind::KmsKey], operations: OPERATIONS };
