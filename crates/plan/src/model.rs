//! The shared vocabulary: resources by address, their fields, what was observed of them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// What kind of AWS thing a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    OidcProvider,
    Role,
    KmsKey,
    Bucket,
    Topic,
    TopicSubscription,
    Queue,
    BucketNotification,
    FirehoseLogGroup,
    DeliveryStream,
    ClusterLogging,
    LogGroup,
    SubscriptionFilter,
    FunctionLogGroup,
    Function,
    FunctionPermission,
}

impl Kind {
    /// Every kind, in declaration order (`kinds::REGISTRY` registers each once).
    pub const ALL: [Kind; 16] = [
        Kind::OidcProvider,
        Kind::Role,
        Kind::KmsKey,
        Kind::Bucket,
        Kind::Topic,
        Kind::TopicSubscription,
        Kind::Queue,
        Kind::BucketNotification,
        Kind::FirehoseLogGroup,
        Kind::DeliveryStream,
        Kind::ClusterLogging,
        Kind::LogGroup,
        Kind::SubscriptionFilter,
        Kind::FunctionLogGroup,
        Kind::Function,
        Kind::FunctionPermission,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::OidcProvider => "IAM OIDC provider",
            Kind::Role => "IAM role",
            Kind::KmsKey => "KMS key",
            Kind::Bucket => "S3 bucket",
            Kind::Topic => "SNS topic",
            Kind::TopicSubscription => "SNS subscription",
            Kind::Queue => "SQS queue",
            Kind::BucketNotification => "bucket notification",
            Kind::FirehoseLogGroup => "Firehose error log group",
            Kind::DeliveryStream => "Firehose stream",
            Kind::ClusterLogging => "EKS audit logging",
            Kind::LogGroup => "log group",
            Kind::SubscriptionFilter => "subscription filter",
            Kind::FunctionLogGroup => "Lambda log group",
            Kind::Function => "Lambda function",
            Kind::FunctionPermission => "Lambda permission",
        }
    }

    /// Whether ownership of this kind is proven by the `eksaudit:pipeline` tag. Filters and notification entries
    /// are ours by name; cluster settings and EKS log groups are never ours. An OIDC provider is one per issuer
    /// in the account and may be shared: it is reused whoever made it, and deleted only when it carries our tag.
    pub fn owner_tagged(self) -> bool {
        matches!(
            self,
            Kind::Role
                | Kind::KmsKey
                | Kind::Bucket
                | Kind::Topic
                | Kind::Queue
                | Kind::DeliveryStream
                | Kind::FirehoseLogGroup
                | Kind::FunctionLogGroup
                | Kind::Function
        )
    }
}

/// How a field is compared with what is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Equal JSON values.
    Exact,
    /// Policy documents, by meaning (see [`crate::policy`]).
    Policy,
    /// Every desired tag present with its value; other tags are the user's and stay.
    Tags,
    /// Set when the resource is created, not compared afterwards (e.g. retention of an EKS-made log group).
    CreateOnly,
    /// A list: every desired item present; other items are someone else's and stay (an OIDC provider's
    /// audiences).
    Includes,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub value: Value,
    pub compare: Compare,
    /// Changing it means deleting and re-creating the resource.
    pub force_new: bool,
}

impl Field {
    pub fn exact(value: Value) -> Field {
        Field { value, compare: Compare::Exact, force_new: false }
    }
    pub fn policy(value: Value) -> Field {
        Field { value, compare: Compare::Policy, force_new: false }
    }
    pub fn tags(tags: &BTreeMap<String, String>) -> Field {
        Field { value: serde_json::to_value(tags).unwrap_or_default(), compare: Compare::Tags, force_new: false }
    }
    pub fn create_only(value: Value) -> Field {
        Field { value, compare: Compare::CreateOnly, force_new: false }
    }
    pub fn includes(value: Value) -> Field {
        Field { value, compare: Compare::Includes, force_new: false }
    }
    pub fn force_new(mut self) -> Field {
        self.force_new = true;
        self
    }
}

/// How eksaudit relates to a desired resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Management {
    /// Created, updated and deleted by eksaudit.
    Owned,
    /// Not eksaudit's to change: a difference is a blocking problem with this fix.
    CheckOnly { fix: String },
    /// A role named in `[iam]`: must exist and grant what the spec needs; never changed.
    Reused { spec_key: String },
}

/// One resource the spec implies, with every field eksaudit sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredResource {
    /// Stable, human-readable identity, e.g. `region.eu-central-1.bucket` or `role.firehose`.
    pub address: String,
    pub kind: Kind,
    pub region: Option<String>,
    /// The AWS name (or ARN for reused roles).
    pub name: String,
    pub management: Management,
    pub fields: BTreeMap<String, Field>,
}

/// What reading a resource found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Observation {
    Absent,
    Present(ObservedResource),
    /// Could not be read (access denied, throttled out, unreachable): never treated as in sync.
    Unknown {
        reason: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObservedResource {
    /// The resource's tags, for kinds that have them.
    pub tags: BTreeMap<String, String>,
    /// Live values under the same field names as the desired resource.
    pub fields: BTreeMap<String, Value>,
    /// Set when the name is taken by something eksaudit can never own (a bucket of another account).
    pub foreign_account: bool,
}

/// A resource eksaudit owns that the spec no longer implies (e.g. the filter of a cluster no longer matched).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaleResource {
    pub address: String,
    pub kind: Kind,
    pub region: Option<String>,
    pub name: String,
    pub fields: BTreeMap<String, Value>,
}

/// Everything read from live AWS for one plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObservedState {
    pub account: String,
    pub resources: BTreeMap<String, Observation>,
    /// Things of others beside ours in the same place, by our resource's address: the other subscription
    /// filters on a log group (they hold its limited slots), the other entries of a bucket's notification.
    pub neighbours: BTreeMap<String, Vec<String>>,
    pub stale: Vec<StaleResource>,
    /// Destroy's read (`on_destroy = "delete"`): per region, every log group encrypted with a KMS key, with the
    /// key's ARN, whoever made it and whether or not the spec still names it (a deleted cluster's, a removed
    /// `[alerts]`'s): destroy keeps log groups, so it keeps the key under any of them.
    pub encrypted_log_groups: BTreeMap<String, Vec<(String, String)>>,
}
