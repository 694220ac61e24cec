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
    let mut name = template.replace("{pipeline}", pipeline).replace("{account}", account).replace("{region}", region);
    if name.contains("{hex}") {
        // An account pattern (the operator policy of a spec that pins no account names `*`) has no digest: the
        // hex digits are any.
        let hex = if account.contains(['*', '?']) {
            "?".repeat(BUCKET_HEX_LEN)
        } else {
            bucket_hex(pipeline, account, region)
        };
        name = name.replace("{hex}", &hex);
    }
    name
}

/// How many hex digits `{hex}` is.
pub const BUCKET_HEX_LEN: usize = 16;

/// The `{hex}` of a bucket name: 16 hex digits of SHA-256 over pipeline, account and region. RAD's module names
/// its bucket `ksoc-eks-<random hex>` and keeps the random part in Terraform state; eksaudit has no state, so
/// the part is derived, the same on every run and different for every pipeline, account and region (64 bits:
/// bucket names are global).
pub fn bucket_hex(pipeline: &str, account: &str, region: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(pipeline.as_bytes())
        .chain_update([0])
        .chain_update(account.as_bytes())
        .chain_update([0])
        .chain_update(region.as_bytes())
        .finalize();
    digest[..BUCKET_HEX_LEN / 2].iter().map(|b| format!("{b:02x}")).collect()
}

/// Fills a Firehose prefix template's `{account}` (FortiCNAPP's `eks_audit_logs/{account}/`).
pub fn render_prefix(template: &str, account: &str) -> String {
    template.replace("{account}", account)
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
        match kind {
            RoleKind::Reader => self
                .consumer
                .reader_role_name
                .clone()
                .unwrap_or_else(|| default_reader_role_name(self.consumer.preset.data(), &self.pipeline.name)),
            _ => format!("{}-{}", self.pipeline.name, kind.suffix()),
        }
    }

    /// What the reader role is called under every preset, and under the spec's own `reader_role_name`: a spec
    /// switched to or from one with a name of its own (Sentinel's `OIDC_` prefix, RAD's `ksoc-audit-logs`)
    /// leaves a reader role under the other name. Only one carrying this pipeline's owner tag is ever deleted.
    pub fn reader_role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = crate::Preset::ALL
            .iter()
            .map(|p| default_reader_role_name(p.data(), &self.pipeline.name))
            .chain(self.consumer.reader_role_name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Where objects land in every region's bucket, for an account.
    pub fn prefix(&self, account: &str) -> String {
        render_prefix(&self.firehose.prefix_template, account)
    }

    /// Where records Firehose fails to deliver land, for an account.
    pub fn error_prefix(&self, account: &str) -> String {
        render_prefix(&self.firehose.error_prefix_template, account)
    }

    /// The tags of the pipeline's bucket: the preset's (what its platform finds the bucket by), then
    /// `[pipeline] tags` (a user's value wins), then the owner tag.
    pub fn bucket_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.bucket.tags.clone();
        tags.extend(self.resource_tags());
        tags
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

/// The reader role's name when the spec gives none: the preset's own name, else `{prefix}{pipeline}-reader`.
fn default_reader_role_name(preset: crate::PresetData, pipeline: &str) -> String {
    match preset.reader_role_name {
        Some(name) => name.to_string(),
        None => format!("{}{pipeline}-{}", preset.reader_role_prefix, RoleKind::Reader.suffix()),
    }
}

/// The log group EKS writes a cluster's control-plane logs to.
pub fn log_group_name(cluster: &str) -> String {
    format!("/aws/eks/{cluster}/cluster")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 of "eks-audit\0123456789012\0eu-west-1", its first 8 bytes (computed independently, with Python's
    /// hashlib).
    const PINNED_HEX: &str = "d29879ec11e89a14";

    #[test]
    fn bucket_template_fills_every_placeholder() {
        assert_eq!(
            render_bucket_name("{pipeline}-{account}-{region}", "eks-audit", "123456789012", "eu-west-1"),
            "eks-audit-123456789012-eu-west-1"
        );
        assert_eq!(render_bucket_name("acme-{region}", "p", "1", "us-east-1"), "acme-us-east-1");
    }

    #[test]
    fn the_bucket_hex_is_stable_and_differs_per_pipeline_account_and_region() {
        let name = render_bucket_name("ksoc-eks-{hex}", "eks-audit", "123456789012", "eu-west-1");
        assert_eq!(name, render_bucket_name("ksoc-eks-{hex}", "eks-audit", "123456789012", "eu-west-1"), "stable");
        // Pinned: a change here renames every RAD bucket (a new bucket on the next apply).
        assert_eq!(name, format!("ksoc-eks-{}", bucket_hex("eks-audit", "123456789012", "eu-west-1")));
        assert_eq!(bucket_hex("eks-audit", "123456789012", "eu-west-1"), PINNED_HEX);
        let hex = &name["ksoc-eks-".len()..];
        assert_eq!(hex.len(), 16);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{hex}");
        assert_eq!(name.len(), 25, "well inside S3's 63 characters, the access-log bucket's suffix too");
        let others = [
            bucket_hex("eks-audit", "123456789012", "eu-central-1"),
            bucket_hex("eks-audit", "210987654321", "eu-west-1"),
            bucket_hex("eks-audit-2", "123456789012", "eu-west-1"),
            // The separator keeps the parts apart: no two splits of one string collide.
            bucket_hex("eks-audit1", "23456789012", "eu-west-1"),
        ];
        for other in &others {
            assert_ne!(other, hex);
        }
    }

    #[test]
    fn an_account_pattern_gives_a_hex_pattern() {
        assert_eq!(render_bucket_name("ksoc-eks-{hex}", "eks-audit", "*", "eu-west-1"), "ksoc-eks-????????????????");
    }

    #[test]
    fn a_prefix_template_fills_the_account() {
        assert_eq!(render_prefix("eks_audit_logs/{account}/", "123456789012"), "eks_audit_logs/123456789012/");
        assert_eq!(render_prefix("eks-audit-logs/", "123456789012"), "eks-audit-logs/");
    }

    #[test]
    fn log_group_is_the_eks_one() {
        assert_eq!(log_group_name("prod-1"), "/aws/eks/prod-1/cluster");
    }
}
