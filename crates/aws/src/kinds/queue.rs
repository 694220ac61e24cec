//! SQS queues: the queue S3 notifies (for a consumer that reads from SQS) and its dead-letter queue. Both are
//! addressed by name; SQS wants the URL, asked for each time.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use serde_json::{json, Value};

use super::{Context, Found, Target, Task};
use crate::retry::{policy_not_propagated, retry};
use crate::shared::{field, gone_ok, is_code, optional, policy_value, text, Call};
use crate::{Error, ErrorKind, RegionClients};

pub(crate) fn observe<'a>(c: &'a RegionClients, d: &'a DesiredResource) -> Task<'a> {
    Box::pin(async move { Found::settle(&d.address, read(c, &d.name).await) })
}

/// A queue by name: its settings, tags and URL.
pub(crate) async fn read(c: &RegionClients, name: &str) -> Result<Observation, Error> {
    let url = optional(c.sqs.get_queue_url().queue_name(name).send().call("sqs:GetQueueUrl", name).await)?;
    let Some(url) = url.and_then(|u| u.queue_url) else { return Ok(Observation::Absent) };
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .call("sqs:GetQueueAttributes", name)
        .await?;
    let tags = c.sqs.list_queue_tags().queue_url(&url).send().call("sqs:ListQueueTags", name).await?;
    let mut o = ObservedResource {
        tags: tags.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        ..Default::default()
    };
    let get = |k: &str| attrs.attributes().and_then(|a| a.get(&QueueAttributeName::from(k))).map(String::as_str);
    let encryption = match (get("KmsMasterKeyId").filter(|k| !k.is_empty()), get("SqsManagedSseEnabled")) {
        (Some(_), _) => "SSE-KMS",
        (None, Some(s)) if s.eq_ignore_ascii_case("true") => "SSE-SQS",
        _ => "none",
    };
    o.fields.insert("encryption".into(), json!(encryption));
    // As set (SQS keeps the alias or ARN it was given); only the alert function's dead-letter queue names one.
    o.fields
        .insert("kms_key".into(), get("KmsMasterKeyId").filter(|k| !k.is_empty()).map_or(Value::Null, |k| json!(k)));
    o.fields.insert("policy".into(), policy_value(get("Policy")));
    o.fields.insert(
        "message_retention_seconds".into(),
        get("MessageRetentionPeriod").and_then(|v| v.parse::<u64>().ok()).map_or(Value::Null, |v| json!(v)),
    );
    let redrive = get("RedrivePolicy").and_then(|r| serde_json::from_str::<Value>(r).ok()).map(|r| {
        let count = match &r["maxReceiveCount"] {
            Value::String(s) => s.parse::<u64>().ok(),
            other => other.as_u64(),
        };
        json!({"dead_letter_target_arn": r["deadLetterTargetArn"], "max_receive_count": count})
    });
    o.fields.insert("redrive_policy".into(), redrive.unwrap_or(Value::Null));
    o.fields.insert("url".into(), json!(url));
    Ok(Observation::Present(o))
}

async fn url(c: &RegionClients, name: &str) -> Result<String, Error> {
    let out = c.sqs.get_queue_url().queue_name(name).send().call("sqs:GetQueueUrl", name).await?;
    out.queue_url.ok_or_else(|| Error::Failed { what: format!("sqs:GetQueueUrl gave no URL for queue {name}") })
}

/// The queue's attributes as SQS takes them, for the given fields.
fn attributes(d: &DesiredResource, fields: &[String]) -> HashMap<QueueAttributeName, String> {
    use QueueAttributeName as A;
    let mut attrs = HashMap::new();
    for f in fields {
        let v = field(d, f);
        match f.as_str() {
            // SSE-KMS is the key's (`kms_key`); SQS refuses both kinds at once.
            "encryption" if v == "SSE-KMS" => {}
            "encryption" => {
                attrs.insert(A::SqsManagedSseEnabled, (v == "SSE-SQS").to_string());
            }
            // No key (null): nothing to set on create; `converge` takes an existing one off.
            "kms_key" if v.is_null() => {}
            "kms_key" => {
                attrs.insert(A::KmsMasterKeyId, text(v));
            }
            "policy" => {
                attrs.insert(A::Policy, v.to_string());
            }
            "message_retention_seconds" => {
                attrs.insert(A::MessageRetentionPeriod, text(v));
            }
            "redrive_policy" => {
                let redrive = json!({
                    "deadLetterTargetArn": v["dead_letter_target_arn"],
                    "maxReceiveCount": v["max_receive_count"],
                });
                attrs.insert(A::RedrivePolicy, redrive.to_string());
            }
            // Tags are no attribute; the URL is SQS's.
            _ => {}
        }
    }
    attrs
}

pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    let name = d.name.as_str();
    let all: Vec<String> = d.fields.keys().cloned().collect();
    let attributes = attributes(d, &all);
    let tags: HashMap<String, String> = cx.tags().into_iter().collect();
    let created = retry(cx.budgets.iam_propagation, policy_not_propagated, || async {
        c.sqs
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(attributes.clone()))
            .set_tags(Some(tags.clone()))
            .send()
            .call("sqs:CreateQueue", name)
            .await
            .map(drop)
    })
    .await;
    match created {
        Ok(()) => Ok(()),
        // Left by an interrupted run with other settings: bring it in line.
        Err(e) if is_code(&e, &["QueueAlreadyExists", "QueueNameExists"]) => converge(cx, c, d, &all).await,
        Err(e) => Err(e),
    }
}

/// Update and replace alike: the changed attributes set in place.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    converge(cx, t.clients()?, t.desired()?, &t.changed()).await
}

async fn converge(cx: &Context<'_>, c: &RegionClients, d: &DesiredResource, fields: &[String]) -> Result<(), Error> {
    let name = d.name.as_str();
    let url = url(c, name).await?;
    let mut attributes = attributes(d, fields);
    // Back from the pipeline's key to SQS's own: the key goes first (an empty KmsMasterKeyId removes it).
    let no_key = d.fields.get("kms_key").is_none_or(|k| k.value.is_null());
    if no_key && fields.iter().any(|f| f == "encryption" || f == "kms_key") {
        attributes.insert(QueueAttributeName::KmsMasterKeyId, String::new());
    }
    if !attributes.is_empty() {
        retry(cx.budgets.iam_propagation, policy_not_propagated, || async {
            c.sqs
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes.clone()))
                .send()
                .call("sqs:SetQueueAttributes", name)
                .await
                .map(drop)
        })
        .await?;
    }
    if fields.iter().any(|f| f == "tags") {
        let tags: HashMap<String, String> = cx.tags().into_iter().collect();
        c.sqs.tag_queue().queue_url(&url).set_tags(Some(tags)).send().call("sqs:TagQueue", name).await?;
    }
    Ok(())
}

pub(crate) async fn delete(_: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, name) = (t.clients()?, t.name());
    let url = match url(c, name).await {
        Ok(url) => url,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    gone_ok(c.sqs.delete_queue().queue_url(&url).send().call("sqs:DeleteQueue", name).await.map(drop))
}
