//! The region's Firehose stream: CloudWatch Logs puts the audit records in, Firehose writes them to the bucket
//! (for `preset = "sentinel"` through the transform, its Lambda processor).

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

/// What the transform is handed per invocation: at most 1 MB of CloudWatch Logs' gzip, which gunzips and maps
/// into rows well under Lambda's 6 MB answer (the transform fails, and Firehose keeps, what would not fit).
pub const TRANSFORM_BUFFER_SIZE_MB: u32 = 1;
/// How long Firehose gathers records for one invocation.
pub const TRANSFORM_BUFFER_INTERVAL_SECONDS: u32 = 60;

/// The stream's Lambda processor: the Sentinel transform for `preset = "sentinel"`, none otherwise (`null`, so a
/// processor left by another preset or added by hand is drift).
pub fn processing(n: &Names<'_>, region: &str) -> serde_json::Value {
    if !n.spec.transforms() {
        return serde_json::Value::Null;
    }
    json!({
        "lambda_arn": n.transform_function_arn(region),
        "buffer_size_mb": TRANSFORM_BUFFER_SIZE_MB,
        "buffer_interval_seconds": TRANSFORM_BUFFER_INTERVAL_SECONDS,
    })
}

pub fn desired(n: &Names<'_>, region: &str) -> DesiredResource {
    let spec = n.spec;
    // CloudWatch Logs already gzips what it sends; consumers of its envelopes read them as they are. The
    // transform gunzips them, so its rows are compressed by Firehose (not gzip in gzip).
    let (compression, extension) = if spec.transforms() { ("GZIP", ".gz") } else { ("UNCOMPRESSED", "") };
    resource(
        Address::regional(region, RegionalSlot::Stream).to_string(),
        Kind::DeliveryStream,
        Some(region),
        spec.stream_name(),
        BTreeMap::from([
            ("stream_type".into(), Field::exact(json!("DirectPut")).force_new()),
            ("bucket_arn".into(), Field::exact(json!(n.bucket_arn(region)))),
            ("role_arn".into(), Field::exact(json!(n.role_arn(RoleKind::Firehose)))),
            ("prefix".into(), Field::exact(json!(n.prefix()))),
            ("error_output_prefix".into(), Field::exact(json!(n.error_prefix()))),
            ("buffer_size_mb".into(), Field::exact(json!(spec.firehose.buffer_size_mb))),
            ("buffer_interval_seconds".into(), Field::exact(json!(spec.firehose.buffer_interval_seconds))),
            ("compression".into(), Field::exact(json!(compression))),
            ("file_extension".into(), Field::exact(json!(extension))),
            ("processing".into(), Field::exact(processing(n, region))),
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

/// Writes into the bucket as the Firehose role, logs errors into its log group, invokes the transform.
pub const KIND: Registration = Registration {
    kind: Kind::DeliveryStream,
    depends_on: &[Kind::KmsKey, Kind::Bucket, Kind::Role, Kind::FirehoseLogGroup, Kind::Function],
    operations: OPERATIONS,
};
