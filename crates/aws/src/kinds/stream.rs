//! The Firehose stream that delivers to the bucket: created and waited for until ACTIVE (made again once if
//! its creation failed), its destination updated in place, replaced when that cannot be.

use aws_sdk_firehose::types as fh;
use eksaudit_plan::{Action, DesiredResource, Observation, ObservedResource};
use serde_json::{json, Value};

use super::{Context, Found, Target, Task};
use crate::retry::{iam_not_propagated, in_use, retry, wait_for};
use crate::shared::{build_error, exists_ok, field, gone_ok, optional, tag_map, text, Call};
use crate::{Error, ErrorKind, RegionClients};

pub(crate) fn observe<'a>(c: &'a RegionClients, d: &'a DesiredResource) -> Task<'a> {
    Box::pin(async move { Found::settle(&d.address, read(c, &d.name).await) })
}

/// Its status, destination, buffering, encryption and tags.
pub(crate) async fn read(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let out = optional(
        c.firehose
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .call("firehose:DescribeDeliveryStream", name)
            .await,
    )?;
    let Some(d) = out.and_then(|o| o.delivery_stream_description) else { return Ok(Observation::Absent) };
    let tags = c
        .firehose
        .list_tags_for_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .call("firehose:ListTagsForDeliveryStream", name)
        .await?;
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
        f.insert("file_extension".into(), json!(s3.file_extension().unwrap_or_default()));
        f.insert("processing".into(), observed_processing(s3.processing_configuration()));
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

/// The stream's Lambda processor as the plan names it (`lambda_arn`, `buffer_size_mb`, `buffer_interval_seconds`),
/// `null` when processing is off or has no Lambda processor.
fn observed_processing(p: Option<&fh::ProcessingConfiguration>) -> Value {
    let Some(p) = p.filter(|p| p.enabled() == Some(true)) else { return Value::Null };
    let Some(lambda) = p.processors().iter().find(|x| x.r#type() == &fh::ProcessorType::Lambda) else {
        return Value::Null;
    };
    let parameter = |name: fh::ProcessorParameterName| {
        lambda.parameters().iter().find(|x| x.parameter_name() == &name).map(|x| x.parameter_value().to_string())
    };
    let number = |name| parameter(name).and_then(|v| v.parse::<u64>().ok()).map_or(Value::Null, |v| json!(v));
    json!({
        "lambda_arn": parameter(fh::ProcessorParameterName::LambdaArn),
        "buffer_size_mb": number(fh::ProcessorParameterName::BufferSizeInMb),
        "buffer_interval_seconds": number(fh::ProcessorParameterName::BufferIntervalInSeconds),
    })
}

/// The desired processing: a Lambda processor with its buffering, or processing turned off.
fn processing(d: &DesiredResource) -> Result<fh::ProcessingConfiguration, Error> {
    let p = field(d, "processing");
    let Some(arn) = p.get("lambda_arn").and_then(Value::as_str) else {
        return Ok(fh::ProcessingConfiguration::builder().enabled(false).build());
    };
    let parameter = |name: fh::ProcessorParameterName, value: String| {
        fh::ProcessorParameter::builder().parameter_name(name).parameter_value(value).build().map_err(build_error)
    };
    let mut parameters = vec![parameter(fh::ProcessorParameterName::LambdaArn, arn.to_string())?];
    for (key, name) in [
        ("buffer_size_mb", fh::ProcessorParameterName::BufferSizeInMb),
        ("buffer_interval_seconds", fh::ProcessorParameterName::BufferIntervalInSeconds),
    ] {
        if let Some(v) = p.get(key).and_then(Value::as_u64) {
            parameters.push(parameter(name, v.to_string())?);
        }
    }
    let lambda = fh::Processor::builder()
        .r#type(fh::ProcessorType::Lambda)
        .set_parameters(Some(parameters))
        .build()
        .map_err(build_error)?;
    Ok(fh::ProcessingConfiguration::builder().enabled(true).processors(lambda).build())
}

fn destination(d: &DesiredResource) -> Result<fh::ExtendedS3DestinationConfiguration, Error> {
    let logging = field(d, "error_logging");
    fh::ExtendedS3DestinationConfiguration::builder()
        .role_arn(text(field(d, "role_arn")))
        .bucket_arn(text(field(d, "bucket_arn")))
        .prefix(text(field(d, "prefix")))
        .error_output_prefix(text(field(d, "error_output_prefix")))
        .buffering_hints(
            fh::BufferingHints::builder()
                .size_in_mbs(field(d, "buffer_size_mb").as_i64().unwrap_or(5) as i32)
                .interval_in_seconds(field(d, "buffer_interval_seconds").as_i64().unwrap_or(300) as i32)
                .build(),
        )
        .compression_format(fh::CompressionFormat::from(text(field(d, "compression")).as_str()))
        .set_file_extension(Some(text(field(d, "file_extension"))).filter(|e| !e.is_empty()))
        .processing_configuration(processing(d)?)
        .cloud_watch_logging_options(
            fh::CloudWatchLoggingOptions::builder()
                .enabled(logging.get("enabled").and_then(Value::as_bool).unwrap_or(true))
                .log_group_name(logging.get("log_group").map(text).unwrap_or_default())
                .log_stream_name(logging.get("log_stream").map(text).unwrap_or_default())
                .build(),
        )
        .build()
        .map_err(build_error)
}

/// Encryption at rest with a key Firehose owns, when the stream wants it.
fn encryption(d: &DesiredResource) -> Result<Option<fh::DeliveryStreamEncryptionConfigurationInput>, Error> {
    if field(d, "encryption") != eksaudit_plan::desired::STREAM_ENCRYPTION_ENABLED {
        return Ok(None);
    }
    fh::DeliveryStreamEncryptionConfigurationInput::builder()
        .key_type(fh::KeyType::AwsOwnedCmk)
        .build()
        .map(Some)
        .map_err(build_error)
}

fn tags(cx: &Context<'_>) -> Result<Vec<fh::Tag>, Error> {
    cx.tags().into_iter().map(|(k, v)| fh::Tag::builder().key(k).value(v).build().map_err(build_error)).collect()
}

// `make` and `converge` are boxed: their futures hold the SDK's whole destination configuration, too large for
// the stack of a debug build inside the reconciler's walk otherwise.
pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    Box::pin(make(cx, t.clients()?, t.desired()?)).await
}

/// The destination updated in place; a replace (what cannot be changed in place, such as the stream's type)
/// deletes the stream and makes it again.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    if t.change.action == Action::Replace {
        remove(cx, c, &d.name, &d.address).await?;
        return Box::pin(make(cx, c, d)).await;
    }
    Box::pin(converge(cx, c, d, &t.changed())).await
}

pub(crate) async fn delete(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    remove(cx, t.clients()?, t.name(), &t.change.address).await
}

async fn make(cx: &Context<'_>, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let destination = destination(d)?;
        let tags = tags(cx)?;
        let created = retry(cx.budgets.iam_propagation, iam_not_propagated, || async {
            c.firehose
                .create_delivery_stream()
                .delivery_stream_name(&d.name)
                .delivery_stream_type(fh::DeliveryStreamType::DirectPut)
                .extended_s3_destination_configuration(destination.clone())
                .set_delivery_stream_encryption_configuration_input(encryption(d)?)
                .set_tags(Some(tags.clone()))
                .send()
                .call("firehose:CreateDeliveryStream", &d.name)
                .await
                .map(drop)
        })
        .await;
        exists_ok(created)?;
        cx.progress.waiting(&d.address, "the Firehose stream to become ACTIVE");
        match wait_active(cx, c, &d.name).await {
            Ok(()) => return Ok(()),
            Err(Error::Failed { what }) if attempts < 2 => {
                tracing::warn!(stream = %d.name, "{what}; deleting and creating it again");
                remove(cx, c, &d.name, &d.address).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// firehose:DescribeDeliveryStream, as the waits and the update read it.
async fn describe(
    c: &RegionClients,
    name: &str,
) -> Result<aws_sdk_firehose::operation::describe_delivery_stream::DescribeDeliveryStreamOutput, Error> {
    c.firehose
        .describe_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .call("firehose:DescribeDeliveryStream", name)
        .await
}

async fn wait_active(cx: &Context<'_>, c: &RegionClients, name: &str) -> Result<(), Error> {
    wait_for(cx.budgets.stream_active, &format!("Firehose stream {name} to become ACTIVE"), || async {
        let out = describe(c, name).await?;
        let Some(desc) = out.delivery_stream_description() else { return Ok(None) };
        match desc.delivery_stream_status().as_str() {
            "ACTIVE" => Ok(Some(())),
            "CREATING_FAILED" => {
                let why = desc
                    .failure_description()
                    .map(|f| format!("{}: {}", f.r#type().as_str(), f.details()))
                    .unwrap_or_default();
                Err(Error::Failed { what: format!("Firehose stream {name} failed to create ({why})") })
            }
            _ => Ok(None),
        }
    })
    .await
}

async fn converge(cx: &Context<'_>, c: &RegionClients, d: &DesiredResource, fields: &[String]) -> Result<(), Error> {
    let name = d.name.as_str();
    if fields.iter().any(|f| f == "encryption") {
        if let Some(input) = encryption(d)? {
            c.firehose
                .start_delivery_stream_encryption()
                .delivery_stream_name(name)
                .delivery_stream_encryption_configuration_input(input)
                .send()
                .call("firehose:StartDeliveryStreamEncryption", name)
                .await?;
        }
    }
    if fields.iter().any(|f| f != "tags" && f != "encryption") {
        let out = describe(c, name).await?;
        let desc = out
            .delivery_stream_description()
            .ok_or_else(|| Error::Failed { what: format!("Firehose stream {name} has no description") })?;
        let destination_id = desc
            .destinations()
            .first()
            .map(|x| x.destination_id().to_string())
            .unwrap_or_else(|| "destinationId-000000000001".into());
        let full = destination(d)?;
        let update = fh::ExtendedS3DestinationUpdate::builder()
            .set_role_arn(Some(full.role_arn().to_string()))
            .set_bucket_arn(Some(full.bucket_arn().to_string()))
            .set_prefix(full.prefix().map(str::to_string))
            .set_error_output_prefix(full.error_output_prefix().map(str::to_string))
            .set_buffering_hints(full.buffering_hints().cloned())
            .set_compression_format(full.compression_format().cloned())
            // An empty extension removes one another preset set.
            .file_extension(full.file_extension().unwrap_or_default())
            .set_processing_configuration(full.processing_configuration().cloned())
            .set_cloud_watch_logging_options(full.cloud_watch_logging_options().cloned())
            .build();
        c.firehose
            .update_destination()
            .delivery_stream_name(name)
            .current_delivery_stream_version_id(desc.version_id())
            .destination_id(destination_id)
            .extended_s3_destination_update(update)
            .send()
            .call("firehose:UpdateDestination", name)
            .await?;
    }
    c.firehose
        .tag_delivery_stream()
        .delivery_stream_name(name)
        .set_tags(Some(tags(cx)?))
        .send()
        .call("firehose:TagDeliveryStream", name)
        .await?;
    Ok(())
}

/// Deletes the stream and waits until it is gone (so a stream of the same name can be made again).
async fn remove(cx: &Context<'_>, c: &RegionClients, name: &str, address: &str) -> Result<(), Error> {
    // Delete is refused while the stream is CREATING: wait that out first.
    retry(cx.budgets.stream_active, in_use, || async {
        gone_ok(
            c.firehose
                .delete_delivery_stream()
                .delivery_stream_name(name)
                .send()
                .call("firehose:DeleteDeliveryStream", name)
                .await
                .map(drop),
        )
    })
    .await?;
    cx.progress.waiting(address, "the Firehose stream to be deleted");
    wait_for(cx.budgets.stream_active, &format!("Firehose stream {name} to be deleted"), || async {
        match c
            .firehose
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .call("firehose:DescribeDeliveryStream", name)
            .await
        {
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Some(())),
            Err(e) => Err(e),
        }
    })
    .await
}
