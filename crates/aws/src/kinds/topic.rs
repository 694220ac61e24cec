//! SNS topics: the pipeline's (S3 notifies it, the consumer subscribes) and the alerts topic. Both are named
//! by their resource's name; their ARN is made here only.

use eksaudit_plan::{DesiredResource, Observation, ObservedResource};
use serde_json::json;

use super::{Context, Found, Reading, Target, Task};
use crate::shared::{build_error, field, gone_ok, optional, policy_value, tag_map, text, Call};
use crate::{Error, RegionClients};

/// A topic's ARN (the pipeline's, or the alerts topic of the region), as the plan crate's `Names` makes it.
pub(crate) fn arn(spec: &eksaudit_spec::Spec, region: &str, account: &str, name: &str) -> String {
    eksaudit_plan::Names::new(spec, account).sns_arn(region, name)
}

pub(crate) fn observe<'a>(cx: &'a Reading<'a>, c: &'a RegionClients, d: &'a DesiredResource) -> Task<'a> {
    let arn = arn(cx.spec, &c.region, cx.account, &d.name);
    Box::pin(async move { Found::settle(&d.address, read(c, &arn).await) })
}

/// Its policy, its encryption key and its tags.
pub(crate) async fn read(c: &RegionClients, arn: &str) -> Result<Observation, Error> {
    let attrs = optional(c.sns.get_topic_attributes().topic_arn(arn).send().call("sns:GetTopicAttributes", arn).await)?;
    let Some(attrs) = attrs else { return Ok(Observation::Absent) };
    let tags = c.sns.list_tags_for_resource().resource_arn(arn).send().call("sns:ListTagsForResource", arn).await?;
    let mut o =
        ObservedResource { tags: tag_map(tags.tags().iter().map(|t| (t.key(), t.value()))), ..Default::default() };
    let policy = attrs.attributes().and_then(|a| a.get("Policy")).map(String::as_str);
    o.fields.insert("policy".into(), policy_value(policy));
    let key = attrs.attributes().and_then(|a| a.get("KmsMasterKeyId")).cloned().unwrap_or_default();
    o.fields.insert("kms_master_key_id".into(), json!(key));
    Ok(Observation::Present(o))
}

fn sns_tags(cx: &Context<'_>) -> Result<Vec<aws_sdk_sns::types::Tag>, Error> {
    cx.tags()
        .into_iter()
        .map(|(k, v)| aws_sdk_sns::types::Tag::builder().key(k).value(v).build().map_err(build_error))
        .collect()
}

/// CreateTopic (with the tags; it answers with the existing topic when there is one), then its policy and key.
pub(crate) async fn create(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let (c, d) = (t.clients()?, t.desired()?);
    c.sns.create_topic().name(&d.name).set_tags(Some(sns_tags(cx)?)).send().call("sns:CreateTopic", &d.name).await?;
    let mut settings = vec!["policy".to_string()];
    if field(d, "kms_master_key_id").as_str().is_some_and(|k| !k.is_empty()) {
        settings.push("kms_master_key_id".into());
    }
    converge(cx, c, d, &settings).await
}

/// Update and replace alike: the changed attributes set in place.
pub(crate) async fn update(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    converge(cx, t.clients()?, t.desired()?, &t.changed()).await
}

async fn converge(cx: &Context<'_>, c: &RegionClients, d: &DesiredResource, fields: &[String]) -> Result<(), Error> {
    let arn = arn(cx.spec, &c.region, cx.account, &d.name);
    if fields.iter().any(|f| f == "policy") {
        c.sns
            .set_topic_attributes()
            .topic_arn(&arn)
            .attribute_name("Policy")
            .attribute_value(field(d, "policy").to_string())
            .send()
            .call("sns:SetTopicAttributes", &arn)
            .await?;
    }
    if fields.iter().any(|f| f == "kms_master_key_id") {
        c.sns
            .set_topic_attributes()
            .topic_arn(&arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(text(field(d, "kms_master_key_id")))
            .send()
            .call("sns:SetTopicAttributes", &arn)
            .await?;
    }
    if fields.iter().any(|f| f == "tags") {
        c.sns
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(sns_tags(cx)?))
            .send()
            .call("sns:TagResource", &arn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn delete(cx: &Context<'_>, t: &Target<'_>) -> Result<(), Error> {
    let c = t.clients()?;
    let arn = arn(cx.spec, &c.region, cx.account, t.name());
    gone_ok(c.sns.delete_topic().topic_arn(&arn).send().call("sns:DeleteTopic", &arn).await.map(drop))
}
