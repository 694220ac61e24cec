//! Resource names and tags: what users grep their consoles for. Pure functions of the spec.

use std::collections::BTreeMap;

use crate::model::Spec;

/// The tag that marks a resource as owned by a pipeline: its value is the pipeline name.
pub const OWNER_TAG_KEY: &str = "eksaudit:pipeline";

/// The three account-wide roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    /// Assumed by Firehose to write into the buckets.
    Firehose,
    /// Assumed by CloudWatch Logs to put records into the streams.
    Cloudwatch,
    /// Assumed by the consumer to read the logs.
    Reader,
}

impl RoleKind {
    pub const ALL: [RoleKind; 3] = [RoleKind::Firehose, RoleKind::Cloudwatch, RoleKind::Reader];

    pub fn suffix(self) -> &'static str {
        match self {
            RoleKind::Firehose => "firehose",
            RoleKind::Cloudwatch => "cloudwatch",
            RoleKind::Reader => "reader",
        }
    }
}

/// Fills a bucket name template. Unknown placeholders were rejected when the spec was loaded.
pub fn render_bucket_name(template: &str, pipeline: &str, account: &str, region: &str) -> String {
    template.replace("{pipeline}", pipeline).replace("{account}", account).replace("{region}", region)
}

impl Spec {
    pub fn bucket_name(&self, account: &str, region: &str) -> String {
        render_bucket_name(&self.bucket.name_template, &self.pipeline.name, account, region)
    }

    /// The bucket each region's bucket writes its server access logs into.
    pub fn access_log_bucket_name(&self, account: &str, region: &str) -> String {
        format!("{}-access-logs", self.bucket_name(account, region))
    }

    /// The alias of the KMS key the pipeline creates in each region.
    pub fn kms_alias(&self) -> String {
        format!("alias/{}", self.pipeline.name)
    }

    /// The SNS topic in each region.
    pub fn topic_name(&self) -> String {
        self.pipeline.name.clone()
    }

    /// The Firehose stream in each region.
    pub fn stream_name(&self) -> String {
        self.pipeline.name.clone()
    }

    /// The subscription filter on each cluster's log group.
    pub fn filter_name(&self) -> String {
        self.pipeline.name.clone()
    }

    pub fn role_name(&self, kind: RoleKind) -> String {
        let prefix = match kind {
            RoleKind::Reader => self.consumer.preset.data().reader_role_prefix,
            _ => "",
        };
        format!("{prefix}{}-{}", self.pipeline.name, kind.suffix())
    }

    /// What the reader role is called under every preset: a spec switched to or from one with a name prefix
    /// (Sentinel's `OIDC_`) leaves a reader role under the other name.
    pub fn reader_role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = crate::Preset::ALL
            .iter()
            .map(|p| format!("{}{}-{}", p.data().reader_role_prefix, self.pipeline.name, RoleKind::Reader.suffix()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Each region's SQS queue (`notify = "sqs"`), named like the topic.
    pub fn queue_name(&self) -> String {
        self.pipeline.name.clone()
    }

    /// The queue's dead-letter queue.
    pub fn dead_letter_queue_name(&self) -> String {
        format!("{}-dlq", self.pipeline.name)
    }

    /// The alerts' subscription filter, Lambda function, role and topic (`[alerts]`).
    pub fn alerts_name(&self) -> String {
        format!("{}-alerts", self.pipeline.name)
    }

    /// The alert function's dead-letter queue (`[alerts]`): the invocations it failed after Lambda's retries.
    pub fn alerts_dead_letter_queue_name(&self) -> String {
        format!("{}-alerts-dlq", self.pipeline.name)
    }

    /// The Sentinel transform's function and role (the Firehose stream's Lambda processor).
    pub fn transform_name(&self) -> String {
        format!("{}-transform", self.pipeline.name)
    }

    /// Whether the stream transforms what it delivers into the consumer's rows: Sentinel's connector reads
    /// `AWSEKSLogs_CL` rows, not CloudWatch Logs envelopes.
    pub fn transforms(&self) -> bool {
        self.consumer.preset == crate::Preset::Sentinel
    }

    /// Every tag a resource created by this pipeline carries.
    pub fn resource_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.pipeline.tags.clone();
        tags.insert(OWNER_TAG_KEY.to_string(), self.pipeline.name.clone());
        tags
    }
}

/// The log group EKS writes a cluster's control-plane logs to.
pub fn log_group_name(cluster: &str) -> String {
    format!("/aws/eks/{cluster}/cluster")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_template_fills_every_placeholder() {
        assert_eq!(
            render_bucket_name("{pipeline}-{account}-{region}", "eks-audit", "123456789012", "eu-west-1"),
            "eks-audit-123456789012-eu-west-1"
        );
        assert_eq!(render_bucket_name("acme-{region}", "p", "1", "us-east-1"), "acme-us-east-1");
    }

    #[test]
    fn log_group_is_the_eks_one() {
        assert_eq!(log_group_name("prod-1"), "/aws/eks/prod-1/cluster");
    }
}
