//! The region's Firehose stream: CloudWatch Logs puts the audit records in, Firehose writes them to the bucket.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, RegionalSlot, RoleKind};
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_passing, Operation, FIREHOSE_PRINCIPAL};

/// The log stream of the Firehose error log group that delivery errors go to.
pub const FIREHOSE_ERROR_LOG_STREAM: &str = "DestinationDelivery";
/// The Firehose stream's encryption status once it is encrypted at rest.
pub const STREAM_ENCRYPTION_ENABLED: &str = "ENABLED";

pub fn desired(n: &Names<'_>, region: &str) -> DesiredResource {
    let spec = n.spec;
    resource(
        Address::regional(region, RegionalSlot::Stream).to_string(),
        Kind::DeliveryStream,
        Some(region),
        spec.stream_name(),
        BTreeMap::from([
            ("stream_type".into(), Field::exact(json!("DirectPut")).force_new()),
            ("bucket_arn".into(), Field::exact(json!(n.bucket_arn(region)))),
            ("role_arn".into(), Field::exact(json!(n.role_arn(RoleKind::Firehose)))),
            ("prefix".into(), Field::exact(json!(spec.firehose.prefix))),
            ("error_output_prefix".into(), Field::exact(json!(spec.firehose.error_prefix))),
            ("buffer_size_mb".into(), Field::exact(json!(spec.firehose.buffer_size_mb))),
            ("buffer_interval_seconds".into(), Field::exact(json!(spec.firehose.buffer_interval_seconds))),
            // CloudWatch Logs already gzips what it sends; consumers read that envelope as is.
            ("compression".into(), Field::exact(json!("UNCOMPRESSED"))),
            (
                "error_logging".into(),
                Field::exact(
                    json!({"enabled": true, "log_group": n.firehose_log_group(), "log_stream": FIREHOSE_ERROR_LOG_STREAM}),
                ),
            ),
            // Server-side encryption at rest with a key Firehose owns (no charge, no key policy).
            ("encryption".into(), Field::exact(json!(STREAM_ENCRYPTION_ENABLED))),
            ("tags".into(), Field::tags(&spec.resource_tags())),
        ]),
    )
}

pub const OPERATIONS: &[Operation] = &[
    op("firehose", "DescribeDeliveryStream", "firehose:DescribeDeliveryStream"),
    op("firehose", "ListTagsForDeliveryStream", "firehose:ListTagsForDeliveryStream"),
    // Tags on create are authorised as firehose:TagDeliveryStream too.
    op_passing(
        "firehose",
        "CreateDeliveryStream",
        "firehose:CreateDeliveryStream",
        &["firehose:TagDeliveryStream"],
        FIREHOSE_PRINCIPAL,
    ),
    op_passing("firehose", "UpdateDestination", "firehose:UpdateDestination", &[], FIREHOSE_PRINCIPAL),
    op("firehose", "TagDeliveryStream", "firehose:TagDeliveryStream"),
    op("firehose", "DeleteDeliveryStream", "firehose:DeleteDeliveryStream"),
    op("firehose", "StartDeliveryStreamEncryption", "firehose:StartDeliveryStreamEncryption"),
];

/// Writes into the bucket as the Firehose role, logs errors into its log group.
pub const KIND: Registration = Registration {
    kind: Kind::DeliveryStream,
    depends_on: &[Kind::Bucket, Kind::Role, Kind::FirehoseLogGroup],
    operations: OPERATIONS,
};
