//! The resolved spec: every default applied, every value validated and typed.

use std::collections::BTreeMap;

use crate::address::Address;
use crate::presets::{Notify, Preset};

/// The CloudWatch Logs filter pattern both the Lacework/FortiCNAPP and RAD Security modules use: every completed
/// request except the API server's health, metrics and discovery noise. 333 characters.
pub const DEFAULT_FILTER_PATTERN: &str = r#"{ $.stage = "ResponseComplete" && $.requestURI != "/version" && $.requestURI != "/version?*" && $.requestURI != "/metrics" && $.requestURI != "/metrics?*" && $.requestURI != "/logs" && $.requestURI != "/logs?*" && $.requestURI != "/swagger*" && $.requestURI != "/livez*" && $.requestURI != "/readyz*" && $.requestURI != "/healthz*" }"#;

pub const DEFAULT_BUCKET_NAME: &str = "{pipeline}-{account}-{region}";
pub const DEFAULT_RETENTION_DAYS: u32 = 180;
pub const DEFAULT_BUFFER_SIZE_MB: u32 = 5;
pub const DEFAULT_BUFFER_INTERVAL_SECONDS: u32 = 300;
pub const DEFAULT_PREFIX: &str = "eks-audit-logs/";
pub const DEFAULT_ERROR_PREFIX: &str = "eks-audit-errors/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub pipeline: Pipeline,
    pub consumer: Consumer,
    pub bucket: Bucket,
    pub firehose: Firehose,
    pub filter: Filter,
    pub iam: Iam,
    pub drift: Drift,
    pub health: Health,
    pub regions: Vec<Region>,
    /// Real-time alerts on manual changes (`[alerts]`); `None`: off.
    pub alerts: Option<crate::alerts::Alerts>,
    /// The member accounts of an AWS Organization (`[accounts]`); `None`: the caller's own account.
    pub accounts: Option<Accounts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub name: String,
    /// When set, eksaudit refuses to run with credentials of any other account.
    pub account_id: Option<String>,
    /// User tags, added to every taggable resource (the owner tag is added on top).
    pub tags: BTreeMap<String, String>,
    /// Same-named resources without our owner tag that eksaudit may take over (by tagging them).
    pub adopt: Adopt,
}

/// Which existing, untagged resources eksaudit may take over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Adopt {
    /// None: a same-named resource without our tag stops plan and apply.
    #[default]
    Nothing,
    /// Every resource the spec implies.
    All,
    /// Only these resources, e.g. `region.eu-central-1.bucket` or `role.reader`.
    Only(Vec<Address>),
}

impl Adopt {
    pub fn covers(&self, address: &Address) -> bool {
        match self {
            Adopt::Nothing => false,
            Adopt::All => true,
            Adopt::Only(addresses) => addresses.contains(address),
        }
    }
}

/// Who reads the logs, how the reader role is trusted, and how the consumer learns of new objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub preset: Preset,
    pub reader: Reader,
    pub notify: Notify,
    /// The consumer's own SQS queue, subscribed to each region's topic (`notify = "sns"` only).
    pub sqs_queue_arn: Option<String>,
    /// The reader role's name: `[consumer] reader_role_name`, else the preset's (RAD's `ksoc-audit-logs`);
    /// `None`: `{preset prefix}{pipeline}-reader` (`Spec::role_name`).
    pub reader_role_name: Option<String>,
}

/// How the reader role is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// An AWS principal assumes it (FortiCNAPP, RAD Security, your own tools).
    Aws(AwsReader),
    /// A web identity through an IAM OIDC provider (Microsoft Sentinel).
    WebIdentity(WebIdentityReader),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsReader {
    pub account_id: String,
    /// The principal the reader role trusts; `None` trusts the whole consumer account.
    pub principal_arn: Option<String>,
    /// `sts:AssumeRole`, and `sts:TagSession` for vendors that tag their sessions.
    pub actions: Vec<String>,
    /// `None`: no `sts:ExternalId` condition (only where the vendor allows it).
    pub external_id: Option<ExternalId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalId {
    /// As the spec gives it.
    Fixed(String),
    /// The vendor's format with a random part eksaudit generates once, when it creates the reader role, and reads
    /// back from the role's trust policy afterwards (live AWS is the state): `{prefix}{tenant}:{account}:`.
    Generated { prefix: String, tenant: String, random_len: usize, alphabet: String },
}

impl ExternalId {
    /// What comes before the random part, for an account.
    pub fn generated_prefix(&self, account: &str) -> Option<String> {
        match self {
            ExternalId::Fixed(_) => None,
            ExternalId::Generated { prefix, tenant, .. } => Some(format!("{prefix}{tenant}:{account}:")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentityReader {
    /// The spec's `azure_cloud`.
    pub cloud: String,
    /// The IAM OIDC provider's URL without the scheme: `sts.windows.net/<tenant>/`.
    pub issuer: String,
    pub thumbprint: String,
    /// The `aud` the tokens carry: the provider's client id and the trust policy's audience condition.
    pub audience: String,
    pub workspace_id: String,
    /// `sts:RoleSessionName` the trust policy demands: `MicrosoftSentinel_<workspace_id>`.
    pub role_session_name: String,
}

impl Consumer {
    /// The AWS account of the consumer, when it is trusted through one.
    pub fn aws(&self) -> Option<&AwsReader> {
        match &self.reader {
            Reader::Aws(a) => Some(a),
            Reader::WebIdentity(_) => None,
        }
    }

    pub fn web_identity(&self) -> Option<&WebIdentityReader> {
        match &self.reader {
            Reader::WebIdentity(w) => Some(w),
            Reader::Aws(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDestroy {
    /// Keep the bucket and the evidence in it.
    Retain,
    /// Empty the bucket (every version) and delete it.
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// A template with `{pipeline}`, `{account}`, `{region}` and `{hex}` placeholders (`naming::render_bucket_name`).
    pub name_template: String,
    /// The preset's tags on the bucket its platform finds it by (RAD's `ksoc-data-type`); `[pipeline] tags`
    /// override a value, the owner tag comes on top (`Spec::bucket_tags`).
    pub tags: BTreeMap<String, String>,
    /// The bucket-name pattern the reader's S3 statements name instead of the exact buckets (RAD's
    /// `ksoc-eks-*`): the preset's, while `[bucket] name` keeps the preset's name.
    pub reader_scope: Option<String>,
    /// Current-version expiry; 0 keeps objects forever.
    pub retention_days: u32,
    pub versioning: bool,
    pub kms_key_arn: Option<String>,
    pub on_destroy: OnDestroy,
    /// How objects, the topic and the stream are encrypted at rest.
    pub encryption: Encryption,
    /// Server access logging into a per-region `{bucket}-access-logs` bucket.
    pub access_logging: bool,
    /// The pipeline's own key (`owns_key`) also encrypts the log groups eksaudit creates: Firehose's error log
    /// groups, the alert function's, and the cluster log groups it creates when EKS has not.
    pub encrypt_log_groups: bool,
}

/// `[bucket] encryption`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// A customer-managed KMS key per region (`alias/{pipeline}`, created by the pipeline unless
    /// `kms_key_arn` brings one): the bucket (with a bucket key) and the topic use it.
    SseKms,
    /// S3-managed keys: no KMS key, no KMS charges; the topic is not encrypted (S3 cannot publish to a topic
    /// under an AWS-managed key).
    SseS3,
}

impl Bucket {
    /// The key the pipeline creates and owns in each region: encryption is KMS and no key was brought.
    pub fn owns_key(&self) -> bool {
        self.encryption == Encryption::SseKms && self.kms_key_arn.is_none()
    }

    /// Whether the log groups eksaudit creates are encrypted with the pipeline's own key.
    pub fn encrypts_log_groups(&self) -> bool {
        self.owns_key() && self.encrypt_log_groups
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firehose {
    pub buffer_size_mb: u32,
    pub buffer_interval_seconds: u32,
    /// Where objects land: a template with an optional `{account}` (FortiCNAPP's `eks_audit_logs/{account}/`),
    /// filled per account by `Spec::prefix` (the plan crate's `Names::prefix`).
    pub prefix_template: String,
    /// Where failed records land, a template like `prefix_template` (`Spec::error_prefix`).
    pub error_prefix_template: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub pattern: String,
}

/// The scheduled drift check's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Accepted differences: finding paths (`bucket.tags.cost-center`, `region.eu-central-1.topic.policy`,
    /// `cluster.*.filter`) that drift counts but does not report as drift.
    pub ignore: Vec<String>,
}

/// What `eksaudit status` (and drift's delivery findings) call late.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// How long an audit event may take from the cluster's log group to an object in the bucket; `None`: the
    /// stream's buffer interval plus [`DELIVERY_LAG_MARGIN_SECONDS`] ([`Spec::max_delivery_lag_seconds`]).
    pub max_delivery_lag_seconds: Option<u32>,
}

/// Which member accounts eksaudit works in and how it reaches them (`[accounts]`), after CloudFormation
/// StackSets: a role of the same name in every account, bounded concurrency, a failure tolerance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    /// The role assumed in each member account.
    pub role_name: String,
    /// Passed on every AssumeRole call when set.
    pub external_id: Option<String>,
    /// Accounts selected by id.
    pub ids: Vec<String>,
    /// Every ACTIVE account of the organization.
    pub organization: bool,
    /// The ACTIVE accounts under these OUs (or roots), child OUs included.
    pub organizational_units: Vec<String>,
    /// Never selected, whatever else selects them.
    pub exclude: Vec<String>,
    /// Accounts worked on at once.
    pub max_concurrent_accounts: u32,
    /// `apply` starts no new account once more than this many failed.
    pub failure_tolerance: u32,
}

impl Accounts {
    /// Whether the Organizations API is needed to know the accounts (ids alone are not looked up).
    pub fn needs_organizations(&self) -> bool {
        self.organization || !self.organizational_units.is_empty()
    }
}

/// What the default delivery lag allows beyond the stream's buffer interval: the subscription's and S3's own time.
pub const DELIVERY_LAG_MARGIN_SECONDS: u32 = 300;

impl Spec {
    /// The delivery lag after which events that reached the log group but not the bucket are stale.
    pub fn max_delivery_lag_seconds(&self) -> u32 {
        self.health
            .max_delivery_lag_seconds
            .unwrap_or(self.firehose.buffer_interval_seconds + DELIVERY_LAG_MARGIN_SECONDS)
    }
}

/// Global roles made elsewhere (by another spec) that this spec reuses untouched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Iam {
    pub firehose_role_arn: Option<String>,
    pub cloudwatch_role_arn: Option<String>,
    pub reader_role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    pub clusters: Vec<ClusterSelector>,
    pub enable_audit_logging: bool,
    /// Retention for the log groups eksaudit creates; `None` keeps the CloudWatch default (never expire).
    pub log_retention_days: Option<u32>,
}

/// One entry of a region's `clusters` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSelector {
    /// An exact cluster name: it must exist.
    Name(String),
    /// A glob (`*`, `?`, `[...]`): matches zero or more clusters.
    Glob(String),
}

impl ClusterSelector {
    pub fn parse(s: &str) -> ClusterSelector {
        if s.contains(['*', '?', '[']) {
            ClusterSelector::Glob(s.to_string())
        } else {
            ClusterSelector::Name(s.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ClusterSelector::Name(s) | ClusterSelector::Glob(s) => s,
        }
    }

    /// Whether a cluster name is selected by this entry. Globs were validated when the spec was loaded.
    pub fn matches(&self, cluster: &str) -> bool {
        match self {
            ClusterSelector::Name(n) => n == cluster,
            ClusterSelector::Glob(g) => {
                globset::Glob::new(g).map(|g| g.compile_matcher().is_match(cluster)).unwrap_or(false)
            }
        }
    }
}

impl Spec {
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pattern_is_the_reference_one() {
        assert_eq!(DEFAULT_FILTER_PATTERN.len(), 333);
    }

    #[test]
    fn selectors_match_names_and_globs() {
        let name = ClusterSelector::parse("prod-1");
        assert_eq!(name, ClusterSelector::Name("prod-1".into()));
        assert!(name.matches("prod-1"));
        assert!(!name.matches("prod-10"));
        let glob = ClusterSelector::parse("stage-*");
        assert!(matches!(glob, ClusterSelector::Glob(_)));
        assert!(glob.matches("stage-a"));
        assert!(!glob.matches("prod-1"));
        assert!(ClusterSelector::parse("*").matches("anything"));
    }
}
