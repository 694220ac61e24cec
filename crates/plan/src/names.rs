//! Every name and ARN of the pipeline's resources, in one place: the desired state, the alerts, the operator
//! policy and the outputs all ask here, so no ARN format is written twice. Names themselves (bucket, topic, role
//! names) are the spec's (`eksaudit_spec::naming`); this adds the account and partition.

use eksaudit_spec::{log_group_name, partition, Encryption, RoleKind, Spec};

/// Names and ARNs derived from the spec and an account (`*` in the policy of a spec that pins none).
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub spec: &'a Spec,
    pub account: &'a str,
    /// The partition of the account-wide (IAM) ARNs: the first region's.
    pub partition: &'static str,
}

impl<'a> Names<'a> {
    pub fn new(spec: &'a Spec, account: &'a str) -> Names<'a> {
        Names { spec, account, partition: spec.regions.first().map_or("aws", |r| partition(&r.name)) }
    }

    /// The spec's region names, in spec order.
    pub fn regions(&self) -> impl Iterator<Item = &'a str> {
        self.spec.regions.iter().map(|r| r.name.as_str())
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, the region's own partition.
    fn regional(&self, service: &str, region: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{region}:{}:{resource}", partition(region), self.account)
    }

    /// An account-wide IAM ARN of this account: `role/NAME`, `oidc-provider/ISSUER`, `root`, `policy/*`.
    pub fn iam_arn(&self, resource: &str) -> String {
        self.iam_arn_of(self.account, resource)
    }

    /// An IAM ARN of any account (the consumer's root, AWS's own managed policies).
    pub fn iam_arn_of(&self, account: &str, resource: &str) -> String {
        format!("arn:{}:iam::{account}:{resource}", self.partition)
    }

    // IAM

    /// A role of this account by name.
    pub fn role_arn_named(&self, name: &str) -> String {
        self.iam_arn(&format!("role/{name}"))
    }

    /// The role named in `[iam]` (reused), if any.
    pub fn reused_role(&self, kind: RoleKind) -> Option<&'a String> {
        let iam = &self.spec.iam;
        match kind {
            RoleKind::Firehose => iam.firehose_role_arn.as_ref(),
            RoleKind::Cloudwatch => iam.cloudwatch_role_arn.as_ref(),
            RoleKind::Reader => iam.reader_role_arn.as_ref(),
        }
    }

    /// A pipeline role's ARN: the reused one, else the one eksaudit creates.
    pub fn role_arn(&self, kind: RoleKind) -> String {
        self.reused_role(kind).cloned().unwrap_or_else(|| self.role_arn_named(&self.spec.role_name(kind)))
    }

    pub fn account_root(&self) -> String {
        self.iam_arn("root")
    }

    /// The AWS principal a reader trusted through AWS is assumed by; `None` for a web-identity reader.
    pub fn consumer_principal(&self) -> Option<String> {
        self.spec
            .consumer
            .aws()
            .map(|a| a.principal_arn.clone().unwrap_or_else(|| self.iam_arn_of(&a.account_id, "root")))
    }

    /// The IAM OIDC provider of an issuer (`sts.windows.net/<tenant>/`; a pattern such as `sts.windows.net/*`
    /// in a policy).
    pub fn oidc_provider_arn(&self, issuer: &str) -> String {
        self.iam_arn(&format!("oidc-provider/{issuer}"))
    }

    // S3

    pub fn s3_arn(&self, region: &str, bucket: &str) -> String {
        format!("arn:{}:s3:::{bucket}", partition(region))
    }

    pub fn bucket(&self, region: &str) -> String {
        self.spec.bucket_name(self.account, region)
    }

    pub fn bucket_arn(&self, region: &str) -> String {
        self.s3_arn(region, &self.bucket(region))
    }

    /// Where the stream writes objects in every bucket, for this account (FortiCNAPP's `eks_audit_logs/<account>/`).
    pub fn prefix(&self) -> String {
        self.spec.prefix(self.account)
    }

    /// Where the stream writes the records it failed to deliver, for this account.
    pub fn error_prefix(&self) -> String {
        self.spec.error_prefix(self.account)
    }

    /// The buckets the reader's S3 statements name: the preset's bucket-name pattern (RAD's `ksoc-eks-*`, as its
    /// module's reader policy has it) while the bucket keeps the preset's name and the reader role is the
    /// pipeline's own, else each region's bucket (what a reused role must be granted, and all it needs).
    pub fn reader_bucket_arns(&self) -> Vec<String> {
        let scope = self.spec.bucket.reader_scope.as_ref().filter(|_| self.reused_role(RoleKind::Reader).is_none());
        let mut arns: Vec<String> = match scope {
            Some(scope) => self.regions().map(|r| self.s3_arn(r, scope)).collect(),
            None => self.regions().map(|r| self.bucket_arn(r)).collect(),
        };
        arns.dedup();
        arns
    }

    pub fn access_log_bucket(&self, region: &str) -> String {
        self.spec.access_log_bucket_name(self.account, region)
    }

    pub fn access_log_bucket_arn(&self, region: &str) -> String {
        self.s3_arn(region, &self.access_log_bucket(region))
    }

    // KMS

    /// The region's keys (`key/*`): a key's id is not known before it exists, and a key policy names its own key.
    pub fn kms_keys_arn(&self, region: &str) -> String {
        self.regional("kms", region, "key/*")
    }

    /// The pipeline's key by its alias (known before the key exists).
    pub fn kms_alias_arn(&self, region: &str) -> String {
        self.regional("kms", region, &self.spec.kms_alias())
    }

    /// The key the bucket and topics are encrypted with: the one `kms_key_arn` brings, else the pipeline's own;
    /// `None` with `encryption = "sse-s3"`.
    pub fn kms_key(&self, region: &str) -> Option<String> {
        match (&self.spec.bucket.encryption, &self.spec.bucket.kms_key_arn) {
            (Encryption::SseS3, _) => None,
            (Encryption::SseKms, Some(key)) => Some(key.clone()),
            (Encryption::SseKms, None) => Some(self.kms_alias_arn(region)),
        }
    }

    // SNS and SQS

    /// The key that encrypts the log groups eksaudit creates and the alert function's environment: the pipeline's
    /// own (by its alias; the aws crate resolves it to the key's ARN, which CloudWatch Logs wants), unless the spec
    /// opts out (`[bucket] encrypt_log_groups = false`) or brings its own key.
    pub fn log_group_key(&self, region: &str) -> Option<String> {
        self.spec.bucket.encrypts_log_groups().then(|| self.kms_alias_arn(region))
    }

    pub fn sns_arn(&self, region: &str, topic: &str) -> String {
        self.regional("sns", region, topic)
    }

    pub fn topic_arn(&self, region: &str) -> String {
        self.sns_arn(region, &self.spec.topic_name())
    }

    pub fn sqs_arn(&self, region: &str, queue: &str) -> String {
        self.regional("sqs", region, queue)
    }

    pub fn queue_arn(&self, region: &str) -> String {
        self.sqs_arn(region, &self.spec.queue_name())
    }

    pub fn dead_letter_queue_arn(&self, region: &str) -> String {
        self.sqs_arn(region, &self.spec.dead_letter_queue_name())
    }

    // Firehose and CloudWatch Logs

    pub fn stream_arn(&self, region: &str) -> String {
        self.regional("firehose", region, &format!("deliverystream/{}", self.spec.stream_name()))
    }

    /// Anything of CloudWatch Logs in the region (the CloudWatch Logs role's trust).
    pub fn logs_any_arn(&self, region: &str) -> String {
        self.regional("logs", region, "*")
    }

    /// A log group by name (the tagging APIs name it so).
    pub fn log_group_arn(&self, region: &str, name: &str) -> String {
        self.regional("logs", region, &format!("log-group:{name}"))
    }

    /// Everything in a log group: its streams (the classic log APIs name it so).
    pub fn log_group_streams_arn(&self, region: &str, name: &str) -> String {
        format!("{}:*", self.log_group_arn(region, name))
    }

    /// Where Firehose logs delivery errors.
    pub fn firehose_log_group(&self) -> String {
        format!("/aws/kinesisfirehose/{}", self.spec.stream_name())
    }

    pub fn firehose_log_group_arn(&self, region: &str) -> String {
        self.log_group_streams_arn(region, &self.firehose_log_group())
    }

    // EKS

    /// A cluster by name or IAM pattern.
    pub fn cluster_arn(&self, region: &str, cluster: &str) -> String {
        self.regional("eks", region, &format!("cluster/{cluster}"))
    }

    // `[alerts]`

    /// The alerts' subscription filter, function, role and topic.
    pub fn alerts_name(&self) -> String {
        self.spec.alerts_name()
    }

    pub fn alerts_function_arn(&self, region: &str) -> String {
        self.function_arn(region, &self.alerts_name())
    }

    /// The topic the alert function publishes to: the one `[alerts] topic_arn` names, else the pipeline's own.
    pub fn alerts_topic_arn(&self, region: &str) -> String {
        match self.spec.alerts.as_ref().and_then(|a| a.topic_arn.clone()) {
            Some(arn) => arn,
            None => self.own_alerts_topic_arn(region),
        }
    }

    /// The alerts topic the pipeline makes (when `[alerts]` names none).
    pub fn own_alerts_topic_arn(&self, region: &str) -> String {
        self.sns_arn(region, &self.alerts_name())
    }

    /// The alert function's dead-letter queue.
    pub fn alerts_dead_letter_queue_arn(&self, region: &str) -> String {
        self.sqs_arn(region, &self.spec.alerts_dead_letter_queue_name())
    }

    pub fn alerts_role_arn(&self) -> String {
        self.role_arn_named(&self.alerts_name())
    }

    pub fn alerts_log_group(&self) -> String {
        format!("/aws/lambda/{}", self.alerts_name())
    }

    /// CloudWatch Logs may invoke the function for the EKS control-plane log groups of this account and region.
    pub fn alerts_source_arn(&self, region: &str) -> String {
        self.log_group_streams_arn(region, &log_group_name("*"))
    }

    /// The function permission's statement id.
    pub fn alerts_statement_id(&self) -> String {
        format!("{}-logs", self.alerts_name())
    }

    // The Sentinel transform (the stream's Lambda processor, `preset = "sentinel"`)

    /// A Lambda function of this account in a region, by name.
    pub fn function_arn(&self, region: &str, name: &str) -> String {
        self.regional("lambda", region, &format!("function:{name}"))
    }

    pub fn transform_function_arn(&self, region: &str) -> String {
        self.function_arn(region, &self.spec.transform_name())
    }

    pub fn transform_role_arn(&self) -> String {
        self.role_arn_named(&self.spec.transform_name())
    }

    pub fn transform_log_group(&self) -> String {
        format!("/aws/lambda/{}", self.spec.transform_name())
    }
}
