//! The bucket's notification entry (ours by its id, the pipeline name; others' entries stay): new objects are
//! announced on the region's topic or sent to its queue.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, Notify, RegionalSlot};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, Operation};

pub fn desired(n: &Names<'_>, region: &str) -> Option<DesiredResource> {
    let spec = n.spec;
    let (destination, arn_field, arn) = match spec.consumer.notify {
        Notify::Sns => ("topic", "topic_arn", n.topic_arn(region)),
        Notify::Sqs => ("queue", "queue_arn", n.queue_arn(region)),
        Notify::None => return None,
    };
    Some(resource(
        Address::regional(region, RegionalSlot::BucketNotification).to_string(),
        Kind::BucketNotification,
        Some(region),
        n.bucket(region),
        BTreeMap::from([
            ("id".into(), Field::exact(json!(spec.pipeline.name))),
            // A topic entry and a queue entry are different configurations: switching rewrites ours.
            ("destination_type".into(), Field::exact(json!(destination)).force_new()),
            (arn_field.into(), Field::exact(json!(arn))),
            ("events".into(), Field::exact(json!(["s3:ObjectCreated:*"]))),
            // The objects the stream writes, under this account's prefix (FortiCNAPP's module filters so).
            ("filter_prefix".into(), Field::exact(json!(n.prefix()))),
        ]),
    ))
}

pub const OPERATIONS: &[Operation] = &[
    op("s3", "GetBucketNotificationConfiguration", "s3:GetBucketNotification"),
    op("s3", "PutBucketNotificationConfiguration", "s3:PutBucketNotification"),
];

/// The entry is on the bucket and names the topic or queue, whose policies let S3 send.
pub const KIND: Registration = Registration {
    kind: Kind::BucketNotification,
    depends_on: &[Kind::Bucket, Kind::Topic, Kind::Queue],
    operations: OPERATIONS,
};
