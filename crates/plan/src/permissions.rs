//! The least-privilege IAM policy an operator (the person or CI role running eksaudit) needs for one command with
//! one spec. Pure: no AWS, no async.
//!
//! [`OPERATIONS`] says which IAM actions authorise each AWS API operation eksaudit calls; it is derived from the
//! kinds' registry (`crate::kinds`), each kind's module listing its own calls. [`operator_policy`] grants
//! operations (never raw actions) on the resources the spec names, so the policy can only grant what the table
//! says the calls need. The integration tests check the table against the SDK calls in `crates/aws` and the
//! policy against every call the binary makes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use eksaudit_spec::{log_group_name, ClusterSelector, Notify, OnDestroy, Preset, Region, RoleKind, Spec, Trust};
use serde_json::{json, Value};

use crate::names::Names;

/// The commands an operator policy can be printed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Drift,
    Plan,
    Apply,
    Destroy,
    /// `eksaudit status`: discovery and the delivery health reads, nothing else.
    Status,
}

impl Command {
    pub fn name(self) -> &'static str {
        match self {
            Command::Drift => "drift",
            Command::Plan => "plan",
            Command::Apply => "apply",
            Command::Destroy => "destroy",
            Command::Status => "status",
        }
    }
}

pub use crate::operation::{Operation, FIREHOSE_PRINCIPAL, LAMBDA_PRINCIPAL, LOGS_PRINCIPAL};

/// Every AWS API operation eksaudit calls, with the IAM action(s) it needs: derived from the kinds' registry
/// (`crate::kinds`), each kind's module listing the calls its observe, create, update and delete make. Where the
/// IAM name differs from the API name, the Service Authorization Reference is the authority.
pub static OPERATIONS: LazyLock<Vec<Operation>> = LazyLock::new(crate::kinds::operations);

/// The table entry of an operation: `"service:Operation"` (`"s3:GetBucketNotificationConfiguration"`, the form
/// eksaudit's errors use), or the bare operation name when only one service has it (`"CreateDeliveryStream"`;
/// `"TagResource"` is both SNS's and CloudWatch Logs', so it must be qualified). Names match without regard to
/// case: the SDK spells `GetOpenIdConnectProvider` what the API calls `GetOpenIDConnectProvider`.
pub fn operation(name: &str) -> Option<&'static Operation> {
    match name.split_once(':') {
        Some((service, op)) => OPERATIONS.iter().find(|o| o.service == service && o.name.eq_ignore_ascii_case(op)),
        None => {
            let mut hits = OPERATIONS.iter().filter(|o| o.name.eq_ignore_ascii_case(name));
            match (hits.next(), hits.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        }
    }
}

/// The IAM action that authorises an AWS API operation (see [`operation`] for the accepted names).
pub fn iam_action_for(operation_name: &str) -> Option<&'static str> {
    operation(operation_name).map(|o| o.action)
}

/// Every IAM action an operation needs on its own resource: its action and the ones it also needs.
/// (`iam:PassRole`, needed on another resource, is [`Operation::passes_role_to`].)
pub fn iam_actions_for(operation_name: &str) -> Vec<&'static str> {
    operation(operation_name)
        .map(|o| std::iter::once(o.action).chain(o.also.iter().copied()).collect())
        .unwrap_or_default()
}

/// Checks that `arn` names one SNS topic: `arn:PARTITION:sns:REGION:ACCOUNT:NAME`, no wildcards.
pub fn check_topic_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let lower_dash =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let [prefix, partition, service, region, account, name] = parts.as_slice() else {
        return Err(format!("{arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)"));
    };
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if *prefix != "arn" || !lower_dash(partition) || *service != "sns" {
        return Err(format!("{arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)"));
    }
    if !lower_dash(region) || !region.contains('-') {
        return Err(format!("{arn:?}: {region:?} is not an AWS region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{arn:?}: {account:?} is not a 12-digit AWS account id"));
    }
    if base.is_empty() || name.len() > 256 || !base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "{arn:?}: {name:?} is not a topic name (1-256 letters, digits, '-' and '_', no wildcards)"
        ));
    }
    Ok(())
}

// Reads every command makes: discovery (identity, cluster lists) and the observation of every resource.
/// tag:GetResources: the log groups the pipeline's filters marked (IAM authorises it on "*" only).
const DISCOVER: &[&str] = &["sts:GetCallerIdentity", "eks:ListClusters", "logs:DescribeLogGroups", "tag:GetResources"];
const READ_OWNED_ROLES: &[&str] = &["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies"];
const READ_REUSED_ROLES: &[&str] =
    &["iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies"];
const READ_MANAGED_POLICIES: &[&str] = &["iam:GetPolicy", "iam:GetPolicyVersion"];
const READ_BUCKETS: &[&str] = &[
    "s3:HeadBucket",
    "s3:GetBucketTagging",
    "s3:GetPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketEncryption",
    "s3:GetBucketPolicy",
    "s3:GetBucketVersioning",
    "s3:GetBucketLifecycleConfiguration",
    "s3:GetBucketNotificationConfiguration",
    "s3:GetBucketLogging",
    // Only for a bucket with no tags and no policy: is it an interrupted create?
    "s3:ListObjectVersions",
];
const READ_TOPICS: &[&str] = &["sns:GetTopicAttributes", "sns:ListTagsForResource"];
const READ_SUBSCRIPTIONS: &[&str] = &["sns:ListSubscriptionsByTopic"];
/// Queues are read whatever the spec's notify: a pipeline switched away from "sqs" leaves them to delete.
const READ_QUEUES: &[&str] = &["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags"];
/// The OIDC provider is read whatever the preset (one switched away from Sentinel leaves it).
const READ_OIDC_PROVIDERS: &[&str] = &["iam:GetOpenIDConnectProvider"];
/// Which roles trust an OIDC provider, before it is ever deleted. IAM authorises ListRoles on the path prefix
/// (`role/` and a path), never on a role, so it cannot be narrowed to the pipeline's roles.
const LIST_ROLES: &[&str] = &["iam:ListRoles"];
const READ_STREAMS: &[&str] = &["firehose:DescribeDeliveryStream", "firehose:ListTagsForDeliveryStream"];
const READ_FIREHOSE_LOG_GROUPS: &[&str] = &["logs:ListTagsForResource"];
const READ_CLUSTER_LOG_GROUPS: &[&str] = &["logs:DescribeSubscriptionFilters"];
const READ_CLUSTERS: &[&str] = &["eks:DescribeCluster"];
// `eksaudit status`: the delivery chain's reads.
const READ_DELIVERY_METRICS: &[&str] = &["cloudwatch:GetMetricData"];
const READ_AUDIT_STREAMS: &[&str] = &["logs:DescribeLogStreams"];
const READ_DELIVERY_ERRORS: &[&str] = &["logs:GetLogEvents"];
const LIST_DELIVERED_OBJECTS: &[&str] = &["s3:ListObjectsV2"];
const READ_QUEUE_DEPTHS: &[&str] = &["sqs:GetQueueUrl", "sqs:GetQueueAttributes"];

// What apply changes.
const MANAGE_ROLES: &[&str] = &[
    "iam:CreateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:DetachRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
];
const MANAGE_BUCKETS: &[&str] = &[
    "s3:CreateBucket",
    "s3:PutBucketTagging",
    "s3:PutPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketEncryption",
    "s3:PutBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutBucketLifecycleConfiguration",
    "s3:PutBucketNotificationConfiguration",
    "s3:PutBucketLogging",
];
const MANAGE_TOPICS: &[&str] = &["sns:CreateTopic", "sns:SetTopicAttributes", "sns:TagResource"];
const MANAGE_QUEUES: &[&str] = &["sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:TagQueue"];
const MANAGE_OIDC_PROVIDERS: &[&str] =
    &["iam:CreateOpenIDConnectProvider", "iam:AddClientIDToOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"];
const SUBSCRIBE: &[&str] = &["sns:Subscribe"];
/// DeleteDeliveryStream: a stream is replaced when its type changed, and recreated when it failed to create.
const MANAGE_STREAMS: &[&str] = &[
    "firehose:CreateDeliveryStream",
    "firehose:UpdateDestination",
    "firehose:TagDeliveryStream",
    "firehose:DeleteDeliveryStream",
    "firehose:StartDeliveryStreamEncryption",
];
const MANAGE_FIREHOSE_LOG_GROUPS: &[&str] = &["logs:CreateLogGroup", "logs:TagResource", "logs:CreateLogStream"];
/// DeleteSubscriptionFilter: apply removes our filter from clusters the spec no longer selects. TagResource and
/// UntagResource: the mark a filter puts on its log group (`kinds::filter::log_group_tag`).
const MANAGE_CLUSTER_LOG_GROUPS: &[&str] = &[
    "logs:CreateLogGroup",
    "logs:PutSubscriptionFilter",
    "logs:DeleteSubscriptionFilter",
    "logs:TagResource",
    "logs:UntagResource",
];
const SET_RETENTION: &[&str] = &["logs:PutRetentionPolicy"];
/// The pipeline's key on a log group eksaudit made before it encrypted them.
const ENCRYPT_LOG_GROUPS: &[&str] = &["logs:AssociateKmsKey"];
/// The alert function's environment under the pipeline's key: Lambda decrypts it for GetFunction's caller, and
/// encrypts it and makes its grant as the caller of CreateFunction and UpdateFunctionConfiguration (the key
/// policy allows these through Lambda only).
const READ_FUNCTION_ENVIRONMENTS: &[&str] = &["kms:Decrypt"];
const ENCRYPT_FUNCTION_ENVIRONMENTS: &[&str] = &["kms:CreateGrant", "kms:Encrypt"];
const ENABLE_AUDIT_LOGGING: &[&str] = &["eks:UpdateClusterConfig", "eks:DescribeUpdate"];
/// `[alerts]`: the function (and its permission for CloudWatch Logs) read by every command.
const READ_FUNCTIONS: &[&str] = &["lambda:GetFunction", "lambda:GetPolicy"];
const MANAGE_FUNCTIONS: &[&str] = &[
    "lambda:CreateFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:TagResource",
    "lambda:AddPermission",
    "lambda:RemovePermission",
];
const DELETE_FUNCTIONS: &[&str] = &["lambda:RemovePermission", "lambda:DeleteFunction"];
/// Sentinel's transform has no permission to remove or add (Firehose invokes it through its role) and no
/// environment under the pipeline's key.
const DELETE_TRANSFORMS: &[&str] = &["lambda:DeleteFunction"];
const READ_TRANSFORM_FUNCTIONS: &[&str] = &["lambda:GetFunction"];
const MANAGE_TRANSFORM_FUNCTIONS: &[&str] = &[
    "lambda:CreateFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:TagResource",
];
const MANAGE_FUNCTION_LOG_GROUPS: &[&str] = &["logs:CreateLogGroup", "logs:TagResource", "logs:PutRetentionPolicy"];

// What destroy deletes. It also reads, with every command's reads: ListAttachedRolePolicies before detaching,
// DescribeDeliveryStream to wait for a deletion, GetBucketNotificationConfiguration to keep others' entries.
const DELETE_ROLES: &[&str] =
    &["iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRole"];
const DELETE_FILTERS: &[&str] = &["logs:DeleteSubscriptionFilter", "logs:UntagResource"];
const DELETE_STREAMS: &[&str] = &["firehose:DeleteDeliveryStream"];
const REMOVE_NOTIFICATIONS: &[&str] = &["s3:PutBucketNotificationConfiguration"];
const UNSUBSCRIBE: &[&str] = &["sns:Unsubscribe"];
const DELETE_TOPICS: &[&str] = &["sns:DeleteTopic"];
const DELETE_QUEUES: &[&str] = &["sqs:DeleteQueue"];
const DELETE_OIDC_PROVIDERS: &[&str] = &["iam:DeleteOpenIDConnectProvider"];
const DELETE_BUCKETS: &[&str] = &["s3:ListObjectVersions", "s3:ListMultipartUploads", "s3:DeleteBucket"];
const DELETE_OBJECTS: &[&str] = &["s3:DeleteObjects", "s3:AbortMultipartUpload"];
/// The pipeline's keys, found through their alias (IAM authorises the key itself).
const READ_KEYS: &[&str] = &["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"];
/// CreateKey names no key yet, and ListKeys and ListAliases (the search for a key an interrupted run made but did
/// not alias) list the region's: IAM authorises them on "*" only.
const CREATE_KEYS: &[&str] = &["kms:CreateKey", "kms:ListKeys", "kms:ListAliases"];
/// Destroy's search for the same key (`kms:ListResourceTags` and `kms:DescribeKey` are in `READ_KEYS`).
const FIND_KEYS: &[&str] = &["kms:ListKeys", "kms:ListAliases"];
/// CreateAlias is authorised on the key and on the alias.
const ALIAS_KEYS: &[&str] = &["kms:CreateAlias"];
const MANAGE_KEYS: &[&str] = &[
    "kms:EnableKeyRotation",
    "kms:PutKeyPolicy",
    "kms:TagResource",
    "kms:CancelKeyDeletion",
    "kms:EnableKey",
    // A key made by an apply that lost the race for the alias to another apply of the same spec.
    "kms:ScheduleKeyDeletion",
];
const DELETE_KEYS: &[&str] = &["kms:ScheduleKeyDeletion"];

/// The ARNs of what the spec names, with `*` for the account when the spec does not pin it.
struct Scope<'a> {
    spec: &'a Spec,
    account: String,
}

impl Scope<'_> {
    fn names(&self) -> Names<'_> {
        Names::new(self.spec, &self.account)
    }

    fn reused(&self, kind: RoleKind) -> Option<&String> {
        self.names().reused_role(kind)
    }

    fn role_arn(&self, kind: RoleKind) -> String {
        self.names().role_arn(kind)
    }

    /// The roles eksaudit creates and manages.
    fn owned_roles(&self) -> Vec<String> {
        let mut roles: Vec<String> =
            RoleKind::ALL.into_iter().filter(|k| self.reused(*k).is_none()).map(|k| self.role_arn(k)).collect();
        roles.extend(self.alerts_role());
        if self.spec.transforms() {
            roles.push(self.transform_role());
        }
        roles
    }

    /// The Sentinel transform's role: the spec's (Sentinel), or what a switch from Sentinel left (read and
    /// deleted then).
    fn transform_role(&self) -> String {
        self.names().transform_role_arn()
    }

    /// Each region's Sentinel transform: the spec's, or what a switch from Sentinel left.
    fn transform_functions(&self) -> Vec<String> {
        self.per_region(|_| true, |r| vec![self.names().transform_function_arn(&r.name)])
    }

    /// Each region's Sentinel transform and its log group (`preset = "sentinel"`), the log group as one pattern
    /// for the group and its streams (`NAME*`, one ARN instead of two: apply's policy must fit a role's inline
    /// limit in the largest spec).
    fn transforms(&self) -> Vec<String> {
        let n = self.names();
        let name = n.transform_log_group();
        self.per_region(
            |_| self.spec.transforms(),
            |r| vec![n.transform_function_arn(&r.name), format!("{}*", n.log_group_arn(&r.name, &name))],
        )
    }

    /// `[alerts]`: the role the alert functions run as.
    fn alerts_role(&self) -> Option<String> {
        self.spec.alerts.as_ref().map(|_| self.names().alerts_role_arn())
    }

    /// `[alerts]`: each region's alert function.
    fn alert_functions(&self) -> Vec<String> {
        self.per_region(|_| self.spec.alerts.is_some(), |r| vec![self.names().alerts_function_arn(&r.name)])
    }

    /// `[alerts]`: each region's alerts topic, unless the spec names its own.
    fn alert_topics(&self) -> Vec<String> {
        let ours = self.spec.alerts.as_ref().is_some_and(|a| a.topic_arn.is_none());
        self.per_region(|_| ours, |r| vec![self.names().own_alerts_topic_arn(&r.name)])
    }

    /// `[alerts]`: each region's alert function dead-letter queue.
    fn alert_dead_letter_queues(&self) -> Vec<String> {
        self.per_region(|_| self.spec.alerts.is_some(), |r| vec![self.names().alerts_dead_letter_queue_arn(&r.name)])
    }

    /// `[alerts]`: each region's alert function log group.
    fn alert_log_groups(&self) -> Vec<String> {
        let name = self.names().alerts_log_group();
        self.per_region(|_| self.spec.alerts.is_some(), |r| self.log_group(&r.name, &name))
    }

    /// The reader role under the name another preset gives it: left behind by a switch of preset, deleted then.
    fn former_reader_roles(&self) -> Vec<String> {
        if self.reused(RoleKind::Reader).is_some() {
            return Vec::new();
        }
        let current = self.spec.role_name(RoleKind::Reader);
        self.spec
            .reader_role_names()
            .into_iter()
            .filter(|n| *n != current)
            .map(|n| self.names().role_arn_named(&n))
            .collect()
    }

    /// The spec's own OIDC provider (Sentinel's issuer in its Azure cloud).
    fn oidc_provider(&self) -> Vec<String> {
        self.spec.consumer.web_identity().map(|w| self.names().oidc_provider_arn(&w.issuer)).into_iter().collect()
    }

    /// Every OIDC provider a web-identity preset could have made (Microsoft's issuers, in every Azure cloud):
    /// read whatever the preset, since one switched away from Sentinel leaves it.
    fn any_oidc_provider(&self) -> Vec<String> {
        let mut hosts: Vec<&str> = Vec::new();
        for preset in Preset::ALL {
            if let Trust::WebIdentity(w) = preset.data().trust {
                for cloud in w.clouds {
                    let host = cloud.issuer.split('/').next().unwrap_or(cloud.issuer);
                    if !hosts.contains(&host) {
                        hosts.push(host);
                    }
                }
            }
        }
        hosts.iter().map(|h| self.names().oidc_provider_arn(&format!("{h}/*"))).collect()
    }

    /// The roles another spec made, which this one reads and passes but never changes.
    fn reused_roles(&self) -> Vec<String> {
        RoleKind::ALL.into_iter().filter_map(|k| self.reused(k).cloned()).collect()
    }

    /// The managed policies attached to a reused role: AWS's and the account's own.
    fn managed_policies(&self) -> Vec<String> {
        if self.reused_roles().is_empty() {
            return Vec::new();
        }
        let n = self.names();
        vec![n.iam_arn_of("aws", "policy/*"), n.iam_arn("policy/*")]
    }

    fn per_region(&self, keep: impl Fn(&Region) -> bool, arns: impl Fn(&Region) -> Vec<String>) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.spec.regions.iter().filter(|r| keep(r)).flat_map(arns).filter(|a| seen.insert(a.clone())).collect()
    }

    /// Each region's bucket and, with access logging, its access-log bucket.
    fn buckets(&self) -> Vec<String> {
        self.per_region(|_| true, |r| self.bucket_arns(&r.name))
    }

    fn bucket_objects(&self) -> Vec<String> {
        self.per_region(|_| true, |r| self.bucket_arns(&r.name).iter().map(|b| format!("{b}/*")).collect())
    }

    fn bucket_arns(&self, region: &str) -> Vec<String> {
        let n = self.names();
        let mut arns = vec![n.bucket_arn(region)];
        if self.spec.bucket.access_logging {
            arns.push(n.access_log_bucket_arn(region));
        }
        arns
    }

    /// The keys of the spec's regions (a key's id is not known before it exists), when the pipeline owns one.
    fn keys(&self) -> Vec<String> {
        if !self.spec.bucket.owns_key() {
            return Vec::new();
        }
        self.per_region(|_| true, |r| vec![self.names().kms_keys_arn(&r.name)])
    }

    fn key_aliases(&self) -> Vec<String> {
        if !self.spec.bucket.owns_key() {
            return Vec::new();
        }
        self.per_region(|_| true, |r| vec![self.names().kms_alias_arn(&r.name)])
    }

    fn topics(&self) -> Vec<String> {
        self.per_region(|_| true, |r| vec![self.names().topic_arn(&r.name)])
    }

    /// Each region's notification queue and its dead-letter queue.
    fn queues(&self) -> Vec<String> {
        let n = self.names();
        self.per_region(|_| true, |r| vec![n.queue_arn(&r.name), n.dead_letter_queue_arn(&r.name)])
    }

    fn streams(&self) -> Vec<String> {
        self.per_region(|_| true, |r| vec![self.names().stream_arn(&r.name)])
    }

    /// A log group by name: everything in it (the classic log APIs) and the group itself (tagging APIs).
    fn log_group(&self, region: &str, name: &str) -> Vec<String> {
        let n = self.names();
        vec![n.log_group_streams_arn(region, name), n.log_group_arn(region, name)]
    }

    /// Where Firehose logs delivery errors (the stream's `error_logging`, see `kinds/stream.rs`).
    fn firehose_log_groups(&self, keep: impl Fn(&Region) -> bool) -> Vec<String> {
        let name = self.names().firehose_log_group();
        self.per_region(keep, |r| self.log_group(&r.name, &name))
    }

    /// Every EKS cluster's log group in the spec's regions: filters are also read and removed on clusters the spec
    /// no longer selects.
    fn cluster_log_groups(&self, keep: impl Fn(&Region) -> bool) -> Vec<String> {
        self.per_region(keep, |r| self.log_group(&r.name, &log_group_name("*")))
    }

    /// The selected clusters: names as they are, globs as IAM wildcards (`*` and `?` mean the same; a `[...]`
    /// class widens to `*` from where it starts).
    fn clusters(&self, keep: impl Fn(&Region) -> bool) -> Vec<String> {
        self.per_region(keep, |r| {
            r.clusters
                .iter()
                .map(|c| {
                    let pattern = match c {
                        ClusterSelector::Name(name) => name.clone(),
                        ClusterSelector::Glob(glob) => match glob.split_once('[') {
                            Some((before, _)) => format!("{before}*"),
                            None => glob.clone(),
                        },
                    };
                    self.names().cluster_arn(&r.name, &pattern)
                })
                .collect()
        })
    }
}

/// With `[accounts]` the caller works in no resource itself: it lists the member accounts (when Organizations
/// selects them) and assumes the member role in each; the member role ([`member_role`]) holds the rest.
fn caller_policy(
    spec: &Spec,
    accounts: &eksaudit_spec::Accounts,
    command: Command,
    notify_topic: Option<&str>,
) -> Value {
    let mut p = Policy::default();
    p.grant("IdentifyTheCaller", &[&["sts:GetCallerIdentity"]], vec!["*".to_string()]);
    if accounts.needs_organizations() {
        // Organizations authorises its List calls on no narrower resource than the organization's.
        p.grant(
            "ListMemberAccounts",
            &[&[
                "organizations:ListAccounts",
                "organizations:ListAccountsForParent",
                "organizations:ListOrganizationalUnitsForParent",
            ]],
            vec!["*".to_string()],
        );
    }
    let partition = eksaudit_spec::partition(&spec.regions[0].name);
    p.grant(
        "AssumeMemberRoles",
        &[&["sts:AssumeRole"]],
        vec![format!("arn:{partition}:iam::*:role/{}", accounts.role_name)],
    );
    if let (Command::Drift, Some(topic)) = (command, notify_topic) {
        p.grant("PublishDriftNotifications", &[&["sns:Publish"]], vec![topic.to_string()]);
    }
    json!({"Version": "2012-10-17", "Statement": p.statements})
}

/// What `eksaudit init` needs (`eksaudit policy --for init`): who the caller is, and in each of `regions` (every
/// region of `partition` when empty, as init's default) each EKS cluster with its audit logging. init runs before
/// there is a spec, so no cluster name narrows it; it only reads, and only STS and EKS. The account is the
/// caller's own (EKS describes no other account's cluster), so it is not named.
pub fn init_policy(partition: &str, regions: &[String]) -> Value {
    let mut p = Policy::default();
    // STS's GetCallerIdentity and EKS's ListClusters are authorised on no resource.
    p.grant("DiscoverAccountAndClusters", &[&["sts:GetCallerIdentity", "eks:ListClusters"]], vec!["*".to_string()]);
    let clusters = |region: &str| format!("arn:{partition}:eks:{region}:*:cluster/*");
    let clusters = if regions.is_empty() { vec![clusters("*")] } else { regions.iter().map(|r| clusters(r)).collect() };
    p.grant("ReadClusterAuditLogging", &[READ_CLUSTERS], clusters);
    json!({"Version": "2012-10-17", "Statement": p.statements})
}

/// The role eksaudit assumes in every member account (`eksaudit policy --for member-role`): trusted by
/// `trusted` (the principal that runs eksaudit, with the spec's external id when set), allowed what `commands`
/// need there: each command's operator policy for the member's own account, merged (one statement per Sid; a
/// Sid two commands grant differently is kept for each, named after the command).
pub fn member_role(spec: &Spec, commands: &[Command], trusted: &str) -> Value {
    let mut member = spec.clone();
    let accounts = member.accounts.take();
    // In the member account, whichever it is: the account guard is the caller's.
    member.pipeline.account_id = None;
    let mut statements: Vec<Value> = Vec::new();
    for &command in commands {
        let policy = operator_policy(&member, command, None);
        for st in policy["Statement"].as_array().into_iter().flatten() {
            let sid = st["Sid"].as_str().unwrap_or_default().to_string();
            match statements.iter().find(|s| s["Sid"] == sid.as_str()) {
                Some(same) if same == st => {}
                Some(_) => {
                    let mut renamed = st.clone();
                    let name = command.name();
                    renamed["Sid"] = json!(format!("{sid}For{}{}", name[..1].to_uppercase(), &name[1..]));
                    if !statements.contains(&renamed) {
                        statements.push(renamed);
                    }
                }
                None => statements.push(st.clone()),
            }
        }
    }
    let mut trust = json!({"Sid": "TrustTheEksauditCaller", "Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"});
    if let Some(id) = accounts.as_ref().and_then(|a| a.external_id.as_ref()) {
        trust["Condition"] = json!({"StringEquals": {"sts:ExternalId": id}});
    }
    json!({
        "RoleName": accounts.as_ref().map_or("eksaudit-member", |a| a.role_name.as_str()),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]},
        "PolicyName": "eksaudit",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
    })
}

/// IAM's limit on a role's inline policies, counted without whitespace.
pub const INLINE_POLICY_LIMIT: usize = 10_240;

/// IAM's limit on a managed policy, counted without whitespace.
pub const MANAGED_POLICY_LIMIT: usize = 6_144;

/// Managed policies IAM attaches to one role by default.
pub const MANAGED_POLICIES_PER_ROLE: usize = 10;

/// A policy's size as IAM counts it against those limits: its characters without whitespace, which is its compact
/// JSON (eksaudit's policies hold no whitespace inside their strings).
pub fn policy_size(policy: &Value) -> usize {
    policy.to_string().len()
}

/// [`member_role`] as a CloudFormation template for a service-managed StackSet: one stack per member account,
/// deployed by Organizations to the target OUs (and to accounts added to them later). The policy is the role's
/// inline policy while it fits IAM's limit for those; past it (apply's alone is, with `[alerts]` in two regions),
/// managed policies attached to the role, each within IAM's limit for a managed policy ([`split`]).
pub fn member_role_template(role: &Value) -> Value {
    let document = &role["PolicyDocument"];
    let mut properties = json!({
        "RoleName": role["RoleName"],
        "Description": "Assumed by eksaudit to keep the EKS audit-log pipeline of this account",
        "AssumeRolePolicyDocument": role["AssumeRolePolicyDocument"],
        "Tags": [{"Key": "eksaudit:pipeline", "Value": "member-role"}]
    });
    let mut resources = serde_json::Map::new();
    if policy_size(document) <= INLINE_POLICY_LIMIT {
        properties["Policies"] = json!([{"PolicyName": role["PolicyName"], "PolicyDocument": document}]);
    } else {
        let parts = split(document, MANAGED_POLICY_LIMIT);
        let count = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            resources.insert(
                format!("MemberPolicy{}", i + 1),
                json!({
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "Description": format!("eksaudit's member-account role, part {} of {count} of its policy", i + 1),
                        "PolicyDocument": part,
                        "Roles": [{"Ref": "MemberRole"}]
                    }
                }),
            );
        }
    }
    resources.insert("MemberRole".into(), json!({"Type": "AWS::IAM::Role", "Properties": properties}));
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "eksaudit's member-account role. Deploy as a service-managed StackSet: aws cloudformation create-stack-set --permission-model SERVICE_MANAGED --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false --capabilities CAPABILITY_NAMED_IAM --template-body file://member-role.json",
        "Resources": resources,
        "Outputs": {
            "MemberRoleArn": {"Description": "The role eksaudit assumes", "Value": {"Fn::GetAtt": ["MemberRole", "Arn"]}}
        }
    })
}

/// Collects statements, each granting operations (through [`OPERATIONS`]) on resources.
#[derive(Default)]
struct Policy {
    statements: Vec<Value>,
    /// Service principals the granted operations hand roles to.
    passes_to: BTreeSet<&'static str>,
}

impl Policy {
    fn grant(&mut self, sid: &str, operations: &[&[&str]], resources: Vec<String>) {
        if resources.is_empty() {
            return;
        }
        let mut actions = BTreeSet::new();
        for name in operations.iter().flat_map(|ops| ops.iter()) {
            let op = operation(name).unwrap_or_else(|| panic!("{name} is not in permissions::OPERATIONS"));
            actions.insert(op.action);
            actions.extend(op.also.iter().copied());
            self.passes_to.extend(op.passes_role_to);
        }
        if actions.is_empty() {
            return;
        }
        let resource = if resources.len() == 1 { json!(resources[0]) } else { json!(resources) };
        self.statements.push(json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}));
    }

    /// Actions no call of eksaudit names, which a service checks against the caller when it uses a key on the
    /// caller's behalf (Lambda with a function's environment key): listed with the operation that needs them
    /// ([`crate::kinds::function::ON_THE_CALLERS_BEHALF`]), granted here.
    fn grant_on_behalf(&mut self, sid: &str, actions: &[&str], resources: Vec<String>) {
        assert!(actions.iter().all(|a| crate::kinds::function::ON_THE_CALLERS_BEHALF.contains(a)), "{actions:?}");
        if resources.is_empty() {
            return;
        }
        let resource = if resources.len() == 1 { json!(resources[0]) } else { json!(resources) };
        self.statements.push(json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}));
    }

    fn pass_role(&mut self, sid: &str, role: String, service: &str) {
        self.statements.push(json!({
            "Sid": sid,
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": service}}
        }));
    }
}

/// The complete IAM policy document the operator needs to run `command` with `spec`. `notify_topic`: the topic
/// `drift --notify-topic` publishes to (drift only; validate it with [`check_topic_arn`]).
pub fn operator_policy(spec: &Spec, command: Command, notify_topic: Option<&str>) -> Value {
    if let Some(accounts) = &spec.accounts {
        return caller_policy(spec, accounts, command, notify_topic);
    }
    let s = Scope { spec, account: spec.pipeline.account_id.clone().unwrap_or_else(|| "*".to_string()) };
    let all = |_: &Region| true;
    let subscription = spec.consumer.sqs_queue_arn.is_some();
    let (topics, queues) = (spec.consumer.notify == Notify::Sns, spec.consumer.notify == Notify::Sqs);
    let web_identity = spec.consumer.web_identity().is_some();
    let optional = |on: bool, ops: &'static [&'static str]| if on { ops } else { &[] };
    let mut p = Policy::default();

    // The delivery chain's reads: `status`, and `drift` with its delivery findings. (Drift's observation reads the
    // queues already.)
    let delivery_reads = |p: &mut Policy| {
        // IAM authorises GetMetricData on no resource.
        p.grant("ReadDeliveryMetrics", &[READ_DELIVERY_METRICS], vec!["*".to_string()]);
        p.grant("ReadClusterAuditStreams", &[READ_AUDIT_STREAMS], s.cluster_log_groups(all));
        p.grant("ReadFirehoseDeliveryErrors", &[READ_DELIVERY_ERRORS], s.firehose_log_groups(all));
        p.grant(
            "ListDeliveredObjects",
            &[LIST_DELIVERED_OBJECTS],
            s.per_region(all, |r| vec![s.names().bucket_arn(&r.name)]),
        );
    };
    if command == Command::Status {
        p.grant("DiscoverAccountAndClusters", &[&["sts:GetCallerIdentity", "eks:ListClusters"]], vec!["*".to_string()]);
        delivery_reads(&mut p);
        if queues {
            p.grant("ReadQueueDepths", &[READ_QUEUE_DEPTHS], s.queues());
        }
        p.grant("ReadFailedAlertDepths", &[READ_QUEUE_DEPTHS], s.alert_dead_letter_queues());
        return json!({"Version": "2012-10-17", "Statement": p.statements});
    }

    // Every command first discovers and observes: read-only calls.
    p.grant("DiscoverAccountAndClusters", &[DISCOVER, LIST_ROLES], vec!["*".to_string()]);
    let mut identities = s.owned_roles();
    identities.extend(s.former_reader_roles());
    if !spec.transforms() {
        identities.push(s.transform_role());
    }
    identities.extend(s.any_oidc_provider());
    p.grant("ReadPipelineRoles", &[READ_OWNED_ROLES, READ_OIDC_PROVIDERS], identities);
    p.grant("ReadReusedRoles", &[READ_REUSED_ROLES], s.reused_roles());
    p.grant("ReadReusedRolePolicies", &[READ_MANAGED_POLICIES], s.managed_policies());
    p.grant("ReadBuckets", &[READ_BUCKETS], s.buckets());
    let mut targets = s.topics();
    targets.extend(s.queues());
    p.grant("ReadTopicsAndQueues", &[READ_TOPICS, optional(subscription, READ_SUBSCRIPTIONS), READ_QUEUES], targets);
    let alert_subscribers = spec.alerts.as_ref().is_some_and(|a| !a.email.is_empty() || !a.https.is_empty());
    p.grant("ReadAlertTopics", &[READ_TOPICS, optional(alert_subscribers, READ_SUBSCRIPTIONS)], s.alert_topics());
    p.grant("ReadAlertFunctions", &[READ_FUNCTIONS], s.alert_functions());
    p.grant("ReadAlertDeadLetterQueues", &[READ_QUEUES], s.alert_dead_letter_queues());
    let encrypted_environments = spec.alerts.is_some() && spec.bucket.encrypts_log_groups();
    if encrypted_environments {
        p.grant_on_behalf("ReadAlertFunctionEnvironments", READ_FUNCTION_ENVIRONMENTS, s.keys());
    }
    p.grant("ReadAlertFunctionLogGroups", &[READ_FIREHOSE_LOG_GROUPS], s.alert_log_groups());
    // Sentinel's transforms and their log groups, in one statement (apply's grants them with their changes).
    // A transform a switch of preset left is found through the stream naming it, with no read of its own.
    if spec.transforms() && command != Command::Apply {
        p.grant("ReadTransforms", &[READ_TRANSFORM_FUNCTIONS, READ_FIREHOSE_LOG_GROUPS], s.transforms());
    }
    p.grant("ReadDeliveryStreams", &[READ_STREAMS], s.streams());
    p.grant("ReadPipelineKeys", &[READ_KEYS], s.keys());
    p.grant("ReadFirehoseErrorLogGroups", &[READ_FIREHOSE_LOG_GROUPS], s.firehose_log_groups(all));
    p.grant("ReadClusterLogGroupFilters", &[READ_CLUSTER_LOG_GROUPS], s.cluster_log_groups(all));
    p.grant("ReadSelectedClusters", &[READ_CLUSTERS], s.clusters(all));

    match command {
        Command::Plan | Command::Status => {}
        Command::Drift => {
            delivery_reads(&mut p);
            if let Some(topic) = notify_topic {
                p.grant("PublishDriftNotifications", &[&["sns:Publish"]], vec![topic.to_string()]);
            }
        }
        Command::Apply => {
            let retention = |r: &Region| r.log_retention_days.is_some();
            let audit = |r: &Region| r.enable_audit_logging;
            if web_identity {
                p.grant("CreateOrExtendOidcProvider", &[MANAGE_OIDC_PROVIDERS], s.oidc_provider());
            }
            p.grant("ManagePipelineRoles", &[MANAGE_ROLES], s.owned_roles());
            p.grant("ManageBuckets", &[MANAGE_BUCKETS], s.buckets());
            if topics {
                p.grant("ManageTopics", &[MANAGE_TOPICS, optional(subscription, SUBSCRIBE)], s.topics());
            }
            if queues {
                p.grant("ManageQueues", &[MANAGE_QUEUES], s.queues());
            }
            leftovers_of_another_consumer(&mut p, &s, spec);
            p.grant("ManageDeliveryStreams", &[MANAGE_STREAMS], s.streams());
            if spec.bucket.owns_key() {
                p.grant("CreatePipelineKeys", &[CREATE_KEYS], vec!["*".to_string()]);
                p.grant("ManagePipelineKeys", &[MANAGE_KEYS], s.keys());
                let mut aliased = s.keys();
                aliased.extend(s.key_aliases());
                p.grant("AliasPipelineKeys", &[ALIAS_KEYS], aliased);
            }
            p.grant("ManageFirehoseLogGroups", &[MANAGE_FIREHOSE_LOG_GROUPS], s.firehose_log_groups(all));
            p.grant("ManageClusterLogGroups", &[MANAGE_CLUSTER_LOG_GROUPS], s.cluster_log_groups(all));
            let mut retained = s.firehose_log_groups(retention);
            retained.extend(s.cluster_log_groups(retention));
            p.grant("SetLogGroupRetention", &[SET_RETENTION], retained);
            if spec.bucket.encrypts_log_groups() {
                let mut ours = s.firehose_log_groups(all);
                ours.extend(s.alert_log_groups());
                p.grant("EncryptPipelineLogGroups", &[ENCRYPT_LOG_GROUPS], ours);
            }
            p.grant("EnableClusterAuditLogging", &[ENABLE_AUDIT_LOGGING], s.clusters(audit));
            p.grant("ManageAlertTopics", &[MANAGE_TOPICS, optional(alert_subscribers, SUBSCRIBE)], s.alert_topics());
            p.grant("CreateAlertFunctionLogGroups", &[MANAGE_FUNCTION_LOG_GROUPS], s.alert_log_groups());
            p.grant("ManageAlertDeadLetterQueues", &[MANAGE_QUEUES], s.alert_dead_letter_queues());
            p.grant("ManageAlertFunctions", &[MANAGE_FUNCTIONS], s.alert_functions());
            if spec.transforms() {
                // Read, made and changed: the transforms and their log groups (made with the pipeline's key).
                let operations = [
                    READ_TRANSFORM_FUNCTIONS,
                    MANAGE_TRANSFORM_FUNCTIONS,
                    READ_FIREHOSE_LOG_GROUPS,
                    MANAGE_FUNCTION_LOG_GROUPS,
                    ENCRYPT_LOG_GROUPS,
                ];
                p.grant("ManageTransforms", &operations, s.transforms());
            }
            if encrypted_environments {
                p.grant_on_behalf("EncryptAlertFunctionEnvironments", ENCRYPT_FUNCTION_ENVIRONMENTS, s.keys());
            }
            // The run that removes [alerts] is made with the policy of the spec that still has it (as for a
            // removed region): it deletes the function, the topic and the role.
            p.grant("DeleteAlertsWhenRemoved", &[DELETE_FUNCTIONS], s.alert_functions());
            p.grant("DeleteAlertTopicsWhenRemoved", &[DELETE_TOPICS], s.alert_topics());
            p.grant("DeleteAlertDeadLetterQueuesWhenRemoved", &[DELETE_QUEUES], s.alert_dead_letter_queues());
            // IAM authorises sns:Unsubscribe on no resource: a grant naming the topic would never match.
            if alert_subscribers && !s.alert_topics().is_empty() {
                p.grant("UnsubscribeAlertsWhenRemoved", &[UNSUBSCRIBE], vec!["*".to_string()]);
            }
            p.grant("DeleteAlertsRoleWhenRemoved", &[DELETE_ROLES], s.alerts_role().into_iter().collect());
        }
        Command::Destroy => {
            p.grant("DeleteClusterLogGroupFilters", &[DELETE_FILTERS], s.cluster_log_groups(all));
            p.grant("DeleteDeliveryStreams", &[DELETE_STREAMS], s.streams());
            p.grant("RemoveBucketNotifications", &[REMOVE_NOTIFICATIONS], s.buckets());
            if topics {
                p.grant("DeleteTopics", &[DELETE_TOPICS], s.topics());
                // IAM authorises sns:Unsubscribe on no resource (the subscription is named by its own ARN).
                if subscription {
                    p.grant("UnsubscribeConsumer", &[UNSUBSCRIBE], vec!["*".to_string()]);
                }
            }
            if queues {
                p.grant("DeleteQueues", &[DELETE_QUEUES], s.queues());
            }
            if web_identity {
                p.grant("DeleteOidcProviderNoOtherRoleTrusts", &[DELETE_OIDC_PROVIDERS], s.oidc_provider());
            }
            leftovers_of_another_consumer(&mut p, &s, spec);
            if spec.bucket.on_destroy == OnDestroy::Delete {
                p.grant("EmptyAndDeleteBuckets", &[DELETE_BUCKETS], s.buckets());
                p.grant("DeleteBucketObjectVersions", &[DELETE_OBJECTS], s.bucket_objects());
                // Only once the buckets it encrypts are gone; retained buckets keep their key.
                p.grant("ScheduleDeletionOfPipelineKeys", &[DELETE_KEYS], s.keys());
                // Where a key's alias is missing, the key an interrupted apply made but did not alias.
                if !s.keys().is_empty() {
                    p.grant("FindInterruptedPipelineKeys", &[FIND_KEYS], vec!["*".to_string()]);
                }
                // The failed alerts are audit events: kept with the logs, deleted with them.
                p.grant("DeleteAlertDeadLetterQueues", &[DELETE_QUEUES], s.alert_dead_letter_queues());
            }
            p.grant("DeleteAlertFunctions", &[DELETE_FUNCTIONS], s.alert_functions());
            if spec.transforms() {
                p.grant("DeleteTransformFunctions", &[DELETE_TRANSFORMS], s.transform_functions());
            }
            p.grant("DeleteAlertTopics", &[DELETE_TOPICS], s.alert_topics());
            if alert_subscribers && !s.alert_topics().is_empty() {
                p.grant("UnsubscribeAlerts", &[UNSUBSCRIBE], vec!["*".to_string()]);
            }
            p.grant("DeletePipelineRoles", &[DELETE_ROLES], s.owned_roles());
        }
    }

    let passes: Vec<&'static str> = p.passes_to.iter().copied().collect();
    // Short Sids: they count towards IAM's 6,144 characters for a managed policy (the condition names the service).
    for service in passes {
        match service {
            FIREHOSE_PRINCIPAL => p.pass_role("PassFirehoseRole", s.role_arn(RoleKind::Firehose), FIREHOSE_PRINCIPAL),
            LOGS_PRINCIPAL => p.pass_role("PassCloudwatchRole", s.role_arn(RoleKind::Cloudwatch), LOGS_PRINCIPAL),
            LAMBDA_PRINCIPAL => {
                if let Some(role) = s.alerts_role() {
                    p.pass_role("PassAlertsRoleToLambda", role, LAMBDA_PRINCIPAL)
                }
                if spec.transforms() {
                    p.pass_role("PassTransformRoleToLambda", s.transform_role(), LAMBDA_PRINCIPAL)
                }
            }
            other => panic!("no pipeline role is passed to {other}"),
        }
    }
    json!({"Version": "2012-10-17", "Statement": p.statements})
}

/// What a switch of preset or notify leaves behind, which apply (and destroy) deletes: the topics when the spec
/// no longer notifies through SNS, the queues when not through SQS, the OIDC provider and the transform (function
/// and role) when no longer Sentinel, the reader role under the name another preset gives it.
fn leftovers_of_another_consumer(p: &mut Policy, s: &Scope<'_>, spec: &Spec) {
    let (mut operations, mut resources): (Vec<&[&str]>, Vec<String>) = (Vec::new(), Vec::new());
    if spec.consumer.notify != Notify::Sns {
        operations.push(DELETE_TOPICS);
        resources.extend(s.topics());
    }
    if spec.consumer.notify != Notify::Sqs {
        operations.push(DELETE_QUEUES);
        resources.extend(s.queues());
    }
    if spec.consumer.web_identity().is_none() {
        operations.push(DELETE_OIDC_PROVIDERS);
        resources.extend(s.any_oidc_provider());
    }
    let mut former = s.former_reader_roles();
    // Sentinel's transform, once the spec no longer transforms (its log group stays).
    if !spec.transforms() {
        operations.push(DELETE_TRANSFORMS);
        resources.extend(s.transform_functions());
        former.push(s.transform_role());
    }
    if !former.is_empty() {
        operations.push(DELETE_ROLES);
        resources.extend(former);
    }
    p.grant("DeleteConsumerLeftovers", &operations, resources);
}

/// A policy document as pretty JSON in IAM's conventional key order (`Version`, `Statement`; `Sid`, `Effect`,
/// `Action`, `Resource`, `Condition`), which `serde_json`'s sorted maps would otherwise scramble.
pub fn to_pretty_json(policy: &Value) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Document<'a> {
        version: &'a Value,
        statement: Vec<Statement<'a>>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Statement<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        sid: Option<&'a Value>,
        effect: &'a Value,
        action: &'a Value,
        resource: &'a Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        condition: Option<&'a Value>,
    }
    let document = Document {
        version: &policy["Version"],
        statement: policy["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| Statement {
                sid: s.get("Sid"),
                effect: &s["Effect"],
                action: &s["Action"],
                resource: &s["Resource"],
                condition: s.get("Condition"),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| policy.to_string())
}

/// The policy as managed policies, each within `limit` characters as IAM counts them ([`policy_size`]): its
/// statements whole, each in the first part with room for it, in order. A statement larger than the limit goes in
/// a part of its own, which IAM will refuse (none of eksaudit's comes near: they are a few hundred characters).
pub fn split(policy: &Value, limit: usize) -> Vec<Value> {
    let version = &policy["Version"];
    let overhead = policy_size(&json!({ "Version": version, "Statement": [] }));
    // Per part: its size so far and its statements (a comma between two).
    let mut parts: Vec<(usize, Vec<Value>)> = Vec::new();
    for statement in policy["Statement"].as_array().into_iter().flatten() {
        let size = policy_size(statement);
        let room = parts.iter_mut().find(|(used, _)| used + 1 + size <= limit);
        match room {
            Some((used, statements)) => {
                *used += 1 + size;
                statements.push(statement.clone());
            }
            None => parts.push((overhead + size, vec![statement.clone()])),
        }
    }
    parts.into_iter().map(|(_, statements)| json!({ "Version": version, "Statement": statements })).collect()
}

/// Several policy documents as one pretty JSON array, each as [`to_pretty_json`] prints it.
pub fn to_pretty_json_array(policies: &[Value]) -> String {
    let documents: Vec<String> = policies
        .iter()
        .map(|p| to_pretty_json(p).lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"))
        .collect();
    format!("[\n{}\n]", documents.join(",\n"))
}

/// The actions of a policy document by statement `Sid` (for tests and callers comparing policies).
pub fn actions_by_sid(policy: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for s in policy["Statement"].as_array().into_iter().flatten() {
        let actions = match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        out.insert(s["Sid"].as_str().unwrap_or_default().to_string(), actions);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../config.example.toml");

    fn spec(src: &str) -> Spec {
        eksaudit_spec::parse_spec(src).unwrap_or_else(|p| panic!("invalid test spec: {p:?}"))
    }

    /// Every option that widens the policy: two regions, a pinned account, a consumer queue, retention, audit
    /// logging turned on, buckets deleted on destroy.
    const EVERYTHING: &str = r#"
[pipeline]
name = "eks-audit"
account_id = "123456789012"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[bucket]
on_destroy = "delete"

[[region]]
name = "eu-central-1"
clusters = ["prod-1", "stage-*", "dev-[ab]-x"]
enable_audit_logging = true
log_retention_days = 90

[[region]]
name = "us-east-1"
clusters = ["*"]
"#;

    const REUSED: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id-1"

[iam]
firehose_role_arn = "arn:aws:iam::123456789012:role/shared/eks-audit-firehose"
cloudwatch_role_arn = "arn:aws:iam::123456789012:role/eks-audit-cloudwatch"

[[region]]
name = "eu-west-1"
clusters = ["*"]
"#;

    const ALL: [Command; 4] = [Command::Drift, Command::Plan, Command::Apply, Command::Destroy];

    fn statements(policy: &Value) -> &Vec<Value> {
        policy["Statement"].as_array().expect("statements")
    }

    fn list(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|x| x.as_str().expect("string").to_string()).collect(),
            other => panic!("not a string or list: {other}"),
        }
    }

    fn all_actions(policy: &Value) -> BTreeSet<String> {
        statements(policy).iter().flat_map(|s| list(&s["Action"])).collect()
    }

    fn specs() -> Vec<Spec> {
        vec![spec(EXAMPLE), spec(EVERYTHING), spec(REUSED)]
    }

    const MUTATING: [&str; 10] =
        ["Create", "Put", "Delete", "Update", "Tag", "Untag", "Set", "Subscribe", "Unsubscribe", "Publish"];

    fn mutating(action: &str) -> bool {
        let name = action.split_once(':').map_or(action, |(_, n)| n);
        MUTATING.iter().any(|p| name.starts_with(p)) || name == "PassRole"
    }

    #[test]
    fn plan_and_drift_only_read() {
        let topic = "arn:aws:sns:eu-central-1:123456789012:alerts";
        for spec in specs() {
            for (command, notify) in [(Command::Plan, None), (Command::Drift, None), (Command::Drift, Some(topic))] {
                let policy = operator_policy(&spec, command, notify);
                for s in statements(&policy) {
                    for action in list(&s["Action"]) {
                        if action == "sns:Publish" && notify.is_some() {
                            assert_eq!(s["Resource"], json!(topic), "Publish only on the notify topic");
                            continue;
                        }
                        assert!(!mutating(&action), "{} allows {action}", command.name());
                        let name = action.split_once(':').unwrap().1;
                        assert!(
                            ["Get", "List", "Describe"].iter().any(|p| name.starts_with(p)),
                            "{action} is not a read"
                        );
                    }
                }
                let publishes = all_actions(&policy).contains("sns:Publish");
                assert_eq!(publishes, notify.is_some(), "sns:Publish only when a notify topic is given");
            }
        }
    }

    #[test]
    fn drift_without_a_topic_is_the_plan_policy_and_the_delivery_reads_of_status() {
        const DELIVERY: [&str; 4] =
            ["ReadDeliveryMetrics", "ReadClusterAuditStreams", "ReadFirehoseDeliveryErrors", "ListDeliveredObjects"];
        for spec in specs() {
            let drift = statements(&operator_policy(&spec, Command::Drift, None)).clone();
            let (delivery, rest): (Vec<Value>, Vec<Value>) =
                drift.into_iter().partition(|s| DELIVERY.contains(&s["Sid"].as_str().unwrap()));
            assert_eq!(&rest, statements(&operator_policy(&spec, Command::Plan, None)));
            // The same statements status has, nothing else.
            let status = statements(&operator_policy(&spec, Command::Status, None)).clone();
            assert_eq!(delivery.len(), DELIVERY.len());
            for s in &delivery {
                assert!(status.contains(s), "{s} is not status's");
            }
        }
    }

    #[test]
    fn apply_and_destroy_add_to_the_reads() {
        for spec in specs() {
            let plan = statements(&operator_policy(&spec, Command::Plan, None)).clone();
            for command in [Command::Apply, Command::Destroy] {
                let policy = operator_policy(&spec, command, None);
                for s in &plan {
                    assert!(statements(&policy).contains(s), "{} lacks {}", command.name(), s["Sid"]);
                }
            }
        }
    }

    #[test]
    fn statements_are_well_formed_with_unique_sids() {
        for spec in specs() {
            for command in ALL {
                let policy = operator_policy(&spec, command, Some("arn:aws:sns:us-east-1:123456789012:t"));
                assert_eq!(policy["Version"], "2012-10-17");
                let mut sids = BTreeSet::new();
                for s in statements(&policy) {
                    let sid = s["Sid"].as_str().expect("Sid");
                    assert!(!sid.is_empty() && sid.bytes().all(|b| b.is_ascii_alphanumeric()), "Sid {sid:?}");
                    assert!(sids.insert(sid.to_string()), "duplicate Sid {sid}");
                    assert_eq!(s["Effect"], "Allow");
                    for action in list(&s["Action"]) {
                        assert!(
                            OPERATIONS.iter().any(|o| o.action == action || o.also.contains(&action.as_str()))
                                || action == "iam:PassRole",
                            "{action} comes from no operation in the table"
                        );
                    }
                    assert!(!list(&s["Resource"]).is_empty());
                }
            }
        }
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, with the shape each service's resources have.
    fn check_arn(arn: &str, spec: &Spec, statement: &str) {
        if arn == "*" {
            return;
        }
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, part, service, region, account, resource] = parts.as_slice() else {
            panic!("{statement}: {arn} is not an ARN");
        };
        assert_eq!(*prefix, "arn", "{arn}");
        assert!(["aws", "aws-cn", "aws-us-gov"].contains(part), "{arn}: partition");
        let regions: Vec<&str> = spec.regions.iter().map(|r| r.name.as_str()).collect();
        let account_ok = |a: &str| a == "*" || (a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
        assert!(!resource.is_empty(), "{arn}: resource");
        match *service {
            "iam" => {
                assert!(region.is_empty(), "{arn}: IAM ARNs have no region");
                assert!(account_ok(account) || (*account == "aws" && resource.starts_with("policy/")), "{arn}");
                assert!(
                    resource.starts_with("role/")
                        || resource.starts_with("policy/")
                        || resource.starts_with("oidc-provider/sts.windows.net/"),
                    "{arn}"
                );
            }
            "s3" => {
                assert!(region.is_empty() && account.is_empty(), "{arn}: S3 ARNs have no region or account");
                let bucket = resource.split('/').next().unwrap();
                assert!((3..=63).contains(&bucket.len()), "{arn}: bucket name length");
                assert!(
                    bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.*".contains(&b)),
                    "{arn}: bucket name"
                );
            }
            other => {
                assert!(regions.contains(region) || other == "sns", "{arn}: region not in the spec");
                assert!(account_ok(account), "{arn}: account");
                let ok = match other {
                    "sns" | "sqs" => !resource.contains(['/', ':']),
                    "firehose" => resource.starts_with("deliverystream/"),
                    "logs" => resource.starts_with("log-group:/aws/"),
                    "eks" => resource.starts_with("cluster/"),
                    "kms" => resource == &"key/*" || resource.starts_with("alias/"),
                    "lambda" => resource.starts_with("function:") && !resource.contains('/'),
                    _ => false,
                };
                assert!(ok, "{statement}: {arn} is not a {other} resource ARN");
            }
        }
    }

    #[test]
    fn every_resource_arn_is_well_formed() {
        for spec in specs() {
            for command in ALL {
                let policy = operator_policy(&spec, command, Some("arn:aws:sns:eu-west-1:123456789012:alerts"));
                for s in statements(&policy) {
                    let sid = s["Sid"].as_str().unwrap();
                    let resources = list(&s["Resource"]);
                    // Actions without resource-level permissions: discovery, and creating a key.
                    let unscoped = [
                        "DiscoverAccountAndClusters",
                        "ReadDeliveryMetrics",
                        "CreatePipelineKeys",
                        "FindInterruptedPipelineKeys",
                        "UnsubscribeConsumer",
                        "UnsubscribeAlerts",
                        "UnsubscribeAlertsWhenRemoved",
                    ]
                    .contains(&sid);
                    if unscoped {
                        assert_eq!(resources, ["*"], "only actions without resource-level permissions use *");
                    }
                    for arn in resources {
                        assert!(arn == "*" || unscoped || arn.starts_with("arn:"));
                        if !unscoped {
                            assert_ne!(arn, "*", "{sid} must be scoped");
                        }
                        check_arn(&arn, &spec, sid);
                    }
                }
            }
        }
    }

    #[test]
    fn pinned_account_and_resource_names_scope_the_arns() {
        let everything = spec(EVERYTHING);
        let policy = operator_policy(&everything, Command::Apply, None);
        let text = policy.to_string();
        assert!(!text.contains(":*:"), "the pinned account replaces every wildcard account: {text}");
        let by_sid: BTreeMap<&str, &Value> =
            statements(&policy).iter().map(|s| (s["Sid"].as_str().unwrap(), s)).collect();
        assert_eq!(
            list(&by_sid["ReadBuckets"]["Resource"]),
            [
                "arn:aws:s3:::eks-audit-123456789012-eu-central-1",
                "arn:aws:s3:::eks-audit-123456789012-eu-central-1-access-logs",
                "arn:aws:s3:::eks-audit-123456789012-us-east-1",
                "arn:aws:s3:::eks-audit-123456789012-us-east-1-access-logs"
            ]
        );
        assert_eq!(
            list(&by_sid["ManagePipelineKeys"]["Resource"]),
            ["arn:aws:kms:eu-central-1:123456789012:key/*", "arn:aws:kms:us-east-1:123456789012:key/*"]
        );
        assert_eq!(
            list(&by_sid["AliasPipelineKeys"]["Resource"]),
            [
                "arn:aws:kms:eu-central-1:123456789012:key/*",
                "arn:aws:kms:us-east-1:123456789012:key/*",
                "arn:aws:kms:eu-central-1:123456789012:alias/eks-audit",
                "arn:aws:kms:us-east-1:123456789012:alias/eks-audit"
            ]
        );
        assert_eq!(
            list(&by_sid["ManagePipelineRoles"]["Resource"]),
            [
                "arn:aws:iam::123456789012:role/eks-audit-firehose",
                "arn:aws:iam::123456789012:role/eks-audit-cloudwatch",
                "arn:aws:iam::123456789012:role/eks-audit-reader"
            ]
        );
        assert_eq!(
            list(&by_sid["EnableClusterAuditLogging"]["Resource"]),
            [
                "arn:aws:eks:eu-central-1:123456789012:cluster/prod-1",
                "arn:aws:eks:eu-central-1:123456789012:cluster/stage-*",
                "arn:aws:eks:eu-central-1:123456789012:cluster/dev-*",
            ],
            "only the regions that turn audit logging on"
        );
        assert_eq!(
            list(&by_sid["SetLogGroupRetention"]["Resource"]),
            [
                "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/kinesisfirehose/eks-audit:*",
                "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/kinesisfirehose/eks-audit",
                "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/eks/*/cluster:*",
                "arn:aws:logs:eu-central-1:123456789012:log-group:/aws/eks/*/cluster",
            ],
            "only the regions that set a retention"
        );
        assert_eq!(
            by_sid["PassFirehoseRole"]["Condition"],
            json!({"StringEquals": {"iam:PassedToService": "firehose.amazonaws.com"}})
        );
        assert_eq!(by_sid["PassFirehoseRole"]["Resource"], "arn:aws:iam::123456789012:role/eks-audit-firehose");
        assert_eq!(by_sid["PassCloudwatchRole"]["Resource"], "arn:aws:iam::123456789012:role/eks-audit-cloudwatch");

        // Unpinned: `*` in the account position, in the bucket name too.
        let example = operator_policy(&spec(EXAMPLE), Command::Plan, None);
        let by_sid: BTreeMap<&str, &Value> =
            statements(&example).iter().map(|s| (s["Sid"].as_str().unwrap(), s)).collect();
        assert_eq!(
            list(&by_sid["ReadBuckets"]["Resource"]),
            ["arn:aws:s3:::eks-audit-*-eu-central-1", "arn:aws:s3:::eks-audit-*-eu-central-1-access-logs"]
        );
        assert_eq!(
            list(&by_sid["ReadTopicsAndQueues"]["Resource"]),
            [
                "arn:aws:sns:eu-central-1:*:eks-audit",
                "arn:aws:sqs:eu-central-1:*:eks-audit",
                "arn:aws:sqs:eu-central-1:*:eks-audit-dlq"
            ]
        );
    }

    const SENTINEL: &str = r#"
[pipeline]
name = "eks-audit"
account_id = "123456789012"

[consumer]
preset = "sentinel"
workspace_id = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

    #[test]
    fn each_consumer_gets_what_it_creates_and_deletes_what_another_left() {
        let by_sid = |policy: &Value| -> BTreeMap<String, Value> {
            statements(policy).iter().map(|s| (s["Sid"].as_str().unwrap().to_string(), s.clone())).collect()
        };
        let provider = "arn:aws:iam::123456789012:oidc-provider/sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/";
        let sentinel = spec(SENTINEL);
        let apply = by_sid(&operator_policy(&sentinel, Command::Apply, None));
        assert_eq!(apply["CreateOrExtendOidcProvider"]["Resource"], provider);
        assert_eq!(
            list(&apply["CreateOrExtendOidcProvider"]["Action"]),
            [
                "iam:AddClientIDToOpenIDConnectProvider",
                "iam:CreateOpenIDConnectProvider",
                "iam:TagOpenIDConnectProvider"
            ]
        );
        assert_eq!(
            list(&apply["ManageQueues"]["Resource"]),
            ["arn:aws:sqs:eu-central-1:123456789012:eks-audit", "arn:aws:sqs:eu-central-1:123456789012:eks-audit-dlq"]
        );
        assert!(!apply.contains_key("ManageTopics"), "Sentinel has no topic");
        assert!(
            list(&apply["ManagePipelineRoles"]["Resource"])
                .contains(&"arn:aws:iam::123456789012:role/OIDC_eks-audit-reader".to_string()),
            "the reader role carries the prefix the connector needs"
        );
        // What a generic pipeline left: its topics and its reader role under the other names (RAD's own).
        let left = &apply["DeleteConsumerLeftovers"];
        assert_eq!(
            list(&left["Action"]),
            [
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:ListRolePolicies",
                "sns:DeleteTopic"
            ]
        );
        assert_eq!(
            list(&left["Resource"]),
            [
                "arn:aws:sns:eu-central-1:123456789012:eks-audit",
                "arn:aws:iam::123456789012:role/eks-audit-reader",
                "arn:aws:iam::123456789012:role/ksoc-audit-logs"
            ]
        );
        let destroy = by_sid(&operator_policy(&sentinel, Command::Destroy, None));
        assert_eq!(destroy["DeleteOidcProviderNoOtherRoleTrusts"]["Resource"], provider);
        assert_eq!(list(&destroy["DeleteQueues"]["Action"]), ["sqs:DeleteQueue"]);

        // A generic pipeline deletes what Sentinel or an SQS notify left, never creates it.
        let generic = by_sid(&operator_policy(&spec(EVERYTHING), Command::Apply, None));
        assert!(!generic.contains_key("CreateOrExtendOidcProvider") && !generic.contains_key("ManageQueues"));
        let left = list(&generic["DeleteConsumerLeftovers"]["Resource"]);
        assert!(left.contains(&"arn:aws:iam::123456789012:oidc-provider/sts.windows.net/*".to_string()), "{left:?}");
        assert!(left.contains(&"arn:aws:iam::123456789012:role/OIDC_eks-audit-reader".to_string()), "{left:?}");
        assert!(left.contains(&"arn:aws:iam::123456789012:role/ksoc-audit-logs".to_string()), "{left:?}");
        assert!(left.contains(&"arn:aws:sqs:us-east-1:123456789012:eks-audit-dlq".to_string()), "{left:?}");
        // Reads: the OIDC provider and the roles trusting it, whatever the preset.
        let plan = by_sid(&operator_policy(&spec(EVERYTHING), Command::Plan, None));
        assert!(list(&plan["DiscoverAccountAndClusters"]["Action"]).contains(&"iam:ListRoles".to_string()));
        assert!(list(&plan["ReadPipelineRoles"]["Action"]).contains(&"iam:GetOpenIDConnectProvider".to_string()));
    }

    #[test]
    fn reused_roles_are_read_and_passed_never_changed() {
        let reused = spec(REUSED);
        for command in ALL {
            let policy = operator_policy(&reused, command, None);
            for s in statements(&policy) {
                let resources = list(&s["Resource"]);
                let touches_reused = resources.iter().any(|r| r.contains("role/shared/") || r.ends_with("-cloudwatch"));
                if touches_reused {
                    for action in list(&s["Action"]) {
                        assert!(!mutating(&action) || action == "iam:PassRole", "{action} on a reused role");
                    }
                }
            }
        }
        let apply = operator_policy(&reused, Command::Apply, None);
        let by_sid: BTreeMap<&str, &Value> =
            statements(&apply).iter().map(|s| (s["Sid"].as_str().unwrap(), s)).collect();
        assert_eq!(by_sid["PassFirehoseRole"]["Resource"], "arn:aws:iam::123456789012:role/shared/eks-audit-firehose");
        assert_eq!(by_sid["ManagePipelineRoles"]["Resource"], "arn:aws:iam::*:role/eks-audit-reader");
        assert_eq!(
            list(&by_sid["ReadReusedRolePolicies"]["Resource"]),
            ["arn:aws:iam::aws:policy/*", "arn:aws:iam::*:policy/*"]
        );
        let example = all_actions(&operator_policy(&spec(EXAMPLE), Command::Plan, None));
        assert!(!example.contains("iam:GetPolicy"), "no managed policy is read when no role is reused");
    }

    #[test]
    fn destroy_deletes_buckets_only_when_the_spec_says_so() {
        let retain = all_actions(&operator_policy(&spec(EXAMPLE), Command::Destroy, None));
        let delete = all_actions(&operator_policy(&spec(EVERYTHING), Command::Destroy, None));
        // (s3:ListBucketVersions is a read: observation uses it on an untagged bucket.)
        for action in ["s3:DeleteBucket", "s3:DeleteObject", "s3:DeleteObjectVersion"] {
            assert!(!retain.contains(action), "retain: {action}");
            assert!(delete.contains(action), "delete: {action}");
        }
        for action in
            ["firehose:DeleteDeliveryStream", "sns:DeleteTopic", "iam:DeleteRole", "logs:DeleteSubscriptionFilter"]
        {
            assert!(retain.contains(action), "{action}");
        }
        // Destroy never creates, and never deletes log groups.
        assert!(!retain.iter().any(|a| a.contains(":Create") || a == "logs:DeleteLogGroup"), "{retain:?}");
    }

    #[test]
    fn the_table_maps_api_names_to_iam_names() {
        for (api, iam) in [
            ("CreateDeliveryStream", "firehose:CreateDeliveryStream"),
            ("PutBucketPolicy", "s3:PutBucketPolicy"),
            ("GetBucketNotificationConfiguration", "s3:GetBucketNotification"),
            ("PutBucketNotificationConfiguration", "s3:PutBucketNotification"),
            ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
            ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
            ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
            ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
            ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
            ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
            ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
            ("ListObjectVersions", "s3:ListBucketVersions"),
            ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
            ("HeadBucket", "s3:ListBucket"),
            ("DeleteObjects", "s3:DeleteObject"),
            ("UpdateClusterConfig", "eks:UpdateClusterConfig"),
            ("DescribeUpdate", "eks:DescribeUpdate"),
            ("s3:HeadBucket", "s3:ListBucket"),
            ("sns:TagResource", "sns:TagResource"),
            ("logs:TagResource", "logs:TagResource"),
            ("logs:ListTagsForResource", "logs:ListTagsForResource"),
        ] {
            assert_eq!(iam_action_for(api), Some(iam), "{api}");
        }
        assert_eq!(iam_actions_for("DeleteObjects"), ["s3:DeleteObject", "s3:DeleteObjectVersion"]);
        assert_eq!(iam_actions_for("CreateRole"), ["iam:CreateRole", "iam:TagRole"]);
        assert_eq!(iam_actions_for("GetFunction"), ["lambda:GetFunction", "lambda:ListTags"]);
        // Two services have it: the caller must say which.
        assert_eq!(iam_action_for("TagResource"), None);
        assert_eq!(iam_action_for("ListTagsForResource"), None);
        assert_eq!(iam_action_for("GetObject"), None, "eksaudit never calls it");
        assert_eq!(iam_action_for("s3:CreateDeliveryStream"), None, "wrong service");
    }

    #[test]
    fn the_table_is_consistent() {
        let mut seen = BTreeSet::new();
        for o in OPERATIONS.iter() {
            assert!(seen.insert((o.service, o.name)), "{}:{} twice", o.service, o.name);
            assert_eq!(o.action.split_once(':').map(|(s, _)| s), Some(o.service), "{}", o.name);
            for a in o.also {
                assert!(a.starts_with(&format!("{}:", o.service)), "{}: {a} is on another service", o.name);
            }
            assert!(o.name.bytes().all(|b| b.is_ascii_alphanumeric()) && o.name.as_bytes()[0].is_ascii_uppercase());
        }
    }

    /// Without lambda:ListTags, GetFunction answers without the tags, and the alert function would read as
    /// someone else's.
    #[test]
    fn every_command_may_read_the_alert_functions_tags() {
        let alerts = spec(&format!("{EVERYTHING}\n[alerts]\nusers = [\"kubernetes-admin\"]\n"));
        for command in ALL {
            let by_sid = actions_by_sid(&operator_policy(&alerts, command, None));
            assert_eq!(
                by_sid["ReadAlertFunctions"],
                ["lambda:GetFunction", "lambda:GetPolicy", "lambda:ListTags"],
                "{}",
                command.name()
            );
        }
    }

    #[test]
    fn topic_arns_are_checked() {
        assert!(check_topic_arn("arn:aws:sns:eu-central-1:123456789012:alerts").is_ok());
        assert!(check_topic_arn("arn:aws-us-gov:sns:us-gov-west-1:123456789012:a_b-c.fifo").is_ok());
        for bad in [
            "alerts",
            "arn:aws:sqs:eu-central-1:123456789012:alerts",
            "arn:aws:sns:eu-central-1:12345:alerts",
            "arn:aws:sns:eu-central-1:123456789012:*",
            "arn:aws:sns:eu-central-1:123456789012:",
            "arn:aws:sns:*:123456789012:alerts",
            "arn:aws:sns:eu-central-1:123456789012:alerts:extra",
        ] {
            assert!(check_topic_arn(bad).is_err(), "{bad}");
        }
    }

    /// IAM's limits, counted without whitespace: 6,144 characters for a managed policy, 10,240 for a role's inline
    /// policies. Every policy fits in a managed one except apply's and destroy's for a spec with every option on
    /// in two regions (they also delete what a switch of consumer leaves, and the pipeline's keys and access-log
    /// buckets): those fit inline (`put-role-policy`).
    #[test]
    fn the_example_policies_fit_in_a_managed_policy() {
        for (i, spec) in specs().into_iter().enumerate() {
            for command in ALL {
                let size = operator_policy(&spec, command, None).to_string().len();
                let limit = if i == 1 && matches!(command, Command::Apply | Command::Destroy) { 10_240 } else { 6_144 };
                assert!(size < limit, "spec {i}, {}: {size} characters", command.name());
            }
        }
        let sentinel = spec(&EVERYTHING.replace(
            "account_id = \"434813966438\"\nexternal_id = \"external-id-1\"\nsqs_queue_arn = \"arn:aws:sqs:us-west-2:434813966438:queue\"",
            "preset = \"sentinel\"\nworkspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\"",
        ));
        for command in ALL {
            let size = operator_policy(&sentinel, command, None).to_string().len();
            assert!(size < 10_240, "sentinel {}: {size} characters", command.name());
        }
    }

    /// `split` keeps every statement whole, once, and each part within the limit IAM counts, whitespace aside.
    #[test]
    fn a_policy_split_for_managed_policies_keeps_every_statement_once_and_each_part_within_the_limit() {
        let with_alerts = spec(&format!("{EVERYTHING}\n[alerts]\nusers = [\"kubernetes-admin\"]\n"));
        let policy = operator_policy(&with_alerts, Command::Apply, None);
        assert!(policy_size(&policy) > INLINE_POLICY_LIMIT, "the case this is for: {}", policy_size(&policy));
        let parts = split(&policy, MANAGED_POLICY_LIMIT);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        let mut statements = Vec::new();
        for part in &parts {
            let printed = to_pretty_json(part);
            let counted = printed.chars().filter(|c| !c.is_whitespace()).count();
            assert!(counted <= MANAGED_POLICY_LIMIT, "{counted} characters");
            assert_eq!(part["Version"], policy["Version"]);
            statements.extend(part["Statement"].as_array().unwrap().iter().cloned());
        }
        let key = |s: &Value| s.to_string();
        let mut original: Vec<Value> = policy["Statement"].as_array().unwrap().clone();
        original.sort_by_key(key);
        statements.sort_by_key(key);
        assert_eq!(statements, original);
        // A policy that fits is one part, itself.
        let small = operator_policy(&spec(EXAMPLE), Command::Status, None);
        assert_eq!(split(&small, MANAGED_POLICY_LIMIT), vec![small.clone()]);
        let array: Vec<Value> = serde_json::from_str(&to_pretty_json_array(&parts)).unwrap();
        assert_eq!(array, parts);
    }

    #[test]
    fn apply_policy_for_the_example_spec() {
        let policy = operator_policy(&spec(EXAMPLE), Command::Apply, None);
        let text = to_pretty_json(&policy);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), policy, "the rendering is the same document");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn init_reads_only_who_the_caller_is_and_the_clusters_of_the_regions_it_is_given() {
        let every = init_policy("aws", &[]);
        let expected = ["eks:DescribeCluster", "eks:ListClusters", "sts:GetCallerIdentity"];
        assert_eq!(all_actions(&every), expected.iter().map(|a| a.to_string()).collect());
        let resources =
            |p: &Value, sid: &str| list(&statements(p).iter().find(|s| s["Sid"] == sid).expect(sid)["Resource"]);
        assert_eq!(resources(&every, "ReadClusterAuditLogging"), ["arn:aws:eks:*:*:cluster/*"]);
        let china = init_policy("aws-cn", &["cn-north-1".to_string(), "cn-northwest-1".to_string()]);
        assert_eq!(
            resources(&china, "ReadClusterAuditLogging"),
            ["arn:aws-cn:eks:cn-north-1:*:cluster/*", "arn:aws-cn:eks:cn-northwest-1:*:cluster/*"]
        );
        assert_eq!(resources(&china, "DiscoverAccountAndClusters"), ["*"]);
    }
}
