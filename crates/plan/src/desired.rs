//! The desired state: every resource the spec implies, with the hardened values eksaudit sets, computed by pure
//! code from the spec, the account and the clusters that exist.

use std::collections::BTreeMap;

use eksaudit_spec::{log_group_name, partition, RoleKind, Spec};
use serde_json::{json, Value};

use crate::model::{DesiredResource, Field, Kind, Management};
use crate::report::Message;

/// The subscription filter's and notification entry's identity, and the inline policy's name, are the pipeline
/// name; this is the Firehose log stream for delivery errors.
pub const FIREHOSE_ERROR_LOG_STREAM: &str = "DestinationDelivery";
/// Incomplete multipart uploads are aborted after this many days.
pub const ABORT_MULTIPART_DAYS: u32 = 7;

/// Everything the desired state is computed from.
pub struct Inputs<'a> {
    pub spec: &'a Spec,
    pub account: &'a str,
    /// The clusters that exist, per region (from eks:ListClusters).
    pub clusters: &'a BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DesiredState {
    pub resources: Vec<DesiredResource>,
    /// The clusters each region's selectors matched.
    pub matched_clusters: BTreeMap<String, Vec<String>>,
    pub errors: Vec<Message>,
    pub warnings: Vec<Message>,
}

/// Names and ARNs derived once from the spec and account.
struct Names<'a> {
    spec: &'a Spec,
    account: &'a str,
    partition: &'static str,
}

impl Names<'_> {
    fn role_arn(&self, kind: RoleKind) -> String {
        let reused = match kind {
            RoleKind::Firehose => &self.spec.iam.firehose_role_arn,
            RoleKind::Cloudwatch => &self.spec.iam.cloudwatch_role_arn,
            RoleKind::Reader => &self.spec.iam.reader_role_arn,
        };
        reused.clone().unwrap_or_else(|| {
            format!("arn:{}:iam::{}:role/{}", self.partition, self.account, self.spec.role_name(kind))
        })
    }
    fn bucket(&self, region: &str) -> String {
        self.spec.bucket_name(self.account, region)
    }
    fn bucket_arn(&self, region: &str) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.bucket(region))
    }
    fn topic_arn(&self, region: &str) -> String {
        format!("arn:{}:sns:{region}:{}:{}", self.partition, self.account, self.spec.topic_name())
    }
    fn stream_arn(&self, region: &str) -> String {
        format!("arn:{}:firehose:{region}:{}:deliverystream/{}", self.partition, self.account, self.spec.stream_name())
    }
    fn firehose_log_group(&self) -> String {
        format!("/aws/kinesisfirehose/{}", self.spec.stream_name())
    }
    fn firehose_log_group_arn(&self, region: &str) -> String {
        format!("arn:{}:logs:{region}:{}:log-group:{}:*", self.partition, self.account, self.firehose_log_group())
    }
    fn consumer_principal(&self) -> String {
        self.spec
            .consumer
            .principal_arn
            .clone()
            .unwrap_or_else(|| format!("arn:{}:iam::{}:root", self.partition, self.spec.consumer.account_id))
    }
    fn regions(&self) -> impl Iterator<Item = &str> {
        self.spec.regions.iter().map(|r| r.name.as_str())
    }
}

fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources})
}

fn policy_document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What each role must be allowed to do: the inline policy of an owned role, the check of a reused one.
pub fn role_statements(spec: &Spec, account: &str, kind: RoleKind) -> Vec<Value> {
    let partition = spec.regions.first().map_or("aws", |r| partition(&r.name));
    let n = Names { spec, account, partition };
    let kms = spec.bucket.kms_key_arn.clone();
    match kind {
        RoleKind::Firehose => {
            let buckets: Vec<String> = n.regions().map(|r| n.bucket_arn(r)).collect();
            let objects: Vec<String> = n
                .regions()
                .flat_map(|r| {
                    [
                        format!("{}/{}*", n.bucket_arn(r), spec.firehose.prefix),
                        format!("{}/{}*", n.bucket_arn(r), spec.firehose.error_prefix),
                    ]
                })
                .collect();
            let mut s = vec![
                allow(
                    "ListBuckets",
                    &["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    buckets,
                ),
                allow("WriteObjects", &["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], objects),
                allow(
                    "LogDeliveryErrors",
                    &["logs:PutLogEvents"],
                    n.regions().map(|r| n.firehose_log_group_arn(r)).collect(),
                ),
            ];
            if let Some(key) = kms {
                s.push(allow("EncryptObjects", &["kms:Decrypt", "kms:GenerateDataKey"], vec![key]));
            }
            s
        }
        RoleKind::Cloudwatch => {
            vec![allow(
                "PutRecords",
                &["firehose:PutRecord", "firehose:PutRecordBatch"],
                n.regions().map(|r| n.stream_arn(r)).collect(),
            )]
        }
        RoleKind::Reader => {
            let mut s = vec![
                allow(
                    "ListBuckets",
                    &["s3:GetBucketLocation", "s3:ListBucket"],
                    n.regions().map(|r| n.bucket_arn(r)).collect(),
                ),
                allow(
                    "ReadObjects",
                    &["s3:GetObject"],
                    n.regions().map(|r| format!("{}/{}*", n.bucket_arn(r), spec.firehose.prefix)).collect(),
                ),
                allow(
                    "SubscribeTopics",
                    &["sns:GetTopicAttributes", "sns:Subscribe"],
                    n.regions().map(|r| n.topic_arn(r)).collect(),
                ),
            ];
            if let Some(key) = kms {
                s.push(allow("DecryptObjects", &["kms:Decrypt"], vec![key]));
            }
            s
        }
    }
}

fn trust_policy(n: &Names<'_>, kind: RoleKind) -> Value {
    let account = n.account;
    let statement = match kind {
        RoleKind::Firehose => json!({
            "Effect": "Allow",
            "Principal": {"Service": "firehose.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }),
        RoleKind::Cloudwatch => json!({
            "Effect": "Allow",
            "Principal": {"Service": "logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringLike": {"aws:SourceArn": n.regions().map(|r| format!("arn:{}:logs:{r}:{account}:*", n.partition)).collect::<Vec<_>>()},
                "StringEquals": {"aws:SourceAccount": account}
            }
        }),
        RoleKind::Reader => json!({
            "Effect": "Allow",
            "Principal": {"AWS": n.consumer_principal()},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": n.spec.consumer.external_id}}
        }),
    };
    policy_document(vec![statement])
}

fn bucket_fields(n: &Names<'_>, region: &str) -> BTreeMap<String, Field> {
    let spec = n.spec;
    let arn = n.bucket_arn(region);
    let encryption = match &spec.bucket.kms_key_arn {
        Some(key) => json!({"algorithm": "aws:kms", "kms_key_id": key, "bucket_key": true}),
        None => json!({"algorithm": "AES256"}),
    };
    let days = spec.bucket.retention_days;
    let lifecycle = json!({
        "expire_current_days": (days > 0).then_some(days),
        "expire_noncurrent_days": (days > 0).then_some(days),
        "abort_incomplete_multipart_days": ABORT_MULTIPART_DAYS,
    });
    let tls_only = policy_document(vec![json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })]);
    BTreeMap::from([
        (
            "public_access_block".into(),
            Field::exact(
                json!({"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true}),
            ),
        ),
        ("ownership".into(), Field::exact(json!("BucketOwnerEnforced"))),
        ("encryption".into(), Field::exact(encryption)),
        ("policy".into(), Field::policy(tls_only)),
        ("versioning".into(), Field::exact(json!(if spec.bucket.versioning { "Enabled" } else { "Disabled" }))),
        ("lifecycle".into(), Field::exact(lifecycle)),
        ("tags".into(), Field::tags(&spec.resource_tags())),
    ])
}

fn topic_policy(n: &Names<'_>, region: &str) -> Value {
    let topic = n.topic_arn(region);
    policy_document(vec![
        json!({
            "Sid": "S3Publish",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": topic,
            "Condition": {"ArnLike": {"aws:SourceArn": n.bucket_arn(region)}, "StringEquals": {"aws:SourceAccount": n.account}}
        }),
        json!({
            "Sid": "ConsumerSubscribe",
            "Effect": "Allow",
            "Principal": {"AWS": n.consumer_principal()},
            "Action": ["SNS:GetTopicAttributes", "SNS:Subscribe"],
            "Resource": topic
        }),
    ])
}

fn resource(
    address: String,
    kind: Kind,
    region: Option<&str>,
    name: String,
    fields: BTreeMap<String, Field>,
) -> DesiredResource {
    DesiredResource { address, kind, region: region.map(str::to_string), name, management: Management::Owned, fields }
}

impl DesiredState {
    pub fn build(inputs: &Inputs<'_>) -> DesiredState {
        let spec = inputs.spec;
        let partition = spec.regions.first().map_or("aws", |r| partition(&r.name));
        let n = Names { spec, account: inputs.account, partition };
        let mut out = DesiredState::default();
        let tags = spec.resource_tags();

        for kind in RoleKind::ALL {
            let address = format!("role.{}", kind.suffix());
            let reused = match kind {
                RoleKind::Firehose => spec.iam.firehose_role_arn.as_ref().map(|a| (a, "iam.firehose_role_arn")),
                RoleKind::Cloudwatch => spec.iam.cloudwatch_role_arn.as_ref().map(|a| (a, "iam.cloudwatch_role_arn")),
                RoleKind::Reader => spec.iam.reader_role_arn.as_ref().map(|a| (a, "iam.reader_role_arn")),
            };
            let statements = role_statements(spec, inputs.account, kind);
            out.resources.push(match reused {
                Some((arn, key)) => DesiredResource {
                    address,
                    kind: Kind::Role,
                    region: None,
                    name: arn.clone(),
                    management: Management::Reused { spec_key: key.to_string() },
                    fields: BTreeMap::from([("grants".to_string(), Field::exact(Value::Array(statements)))]),
                },
                None => resource(
                    address,
                    Kind::Role,
                    None,
                    spec.role_name(kind),
                    BTreeMap::from([
                        ("trust_policy".into(), Field::policy(trust_policy(&n, kind))),
                        ("permissions".into(), Field::policy(policy_document(statements))),
                        // Everything the role may do is in its inline policy; a managed policy attached by
                        // hand widens it and is drift.
                        ("attached_policies".into(), Field::exact(json!([]))),
                        ("tags".into(), Field::tags(&tags)),
                    ]),
                ),
            });
        }

        for (index, region) in spec.regions.iter().enumerate() {
            let r = region.name.as_str();
            let at = |what: &str| format!("region.{r}.{what}");
            out.resources.push(resource(at("bucket"), Kind::Bucket, Some(r), n.bucket(r), bucket_fields(&n, r)));
            out.resources.push(resource(
                at("topic"),
                Kind::Topic,
                Some(r),
                spec.topic_name(),
                BTreeMap::from([
                    ("policy".into(), Field::policy(topic_policy(&n, r))),
                    ("tags".into(), Field::tags(&tags)),
                ]),
            ));
            if let Some(queue) = &spec.consumer.sqs_queue_arn {
                out.resources.push(resource(
                    at("topic_subscription"),
                    Kind::TopicSubscription,
                    Some(r),
                    queue.clone(),
                    BTreeMap::from([
                        ("topic_arn".into(), Field::exact(json!(n.topic_arn(r)))),
                        ("protocol".into(), Field::exact(json!("sqs"))),
                        ("endpoint".into(), Field::exact(json!(queue))),
                    ]),
                ));
            }
            out.resources.push(resource(
                at("bucket_notification"),
                Kind::BucketNotification,
                Some(r),
                n.bucket(r),
                BTreeMap::from([
                    ("id".into(), Field::exact(json!(spec.pipeline.name))),
                    ("topic_arn".into(), Field::exact(json!(n.topic_arn(r)))),
                    ("events".into(), Field::exact(json!(["s3:ObjectCreated:*"]))),
                    ("filter_prefix".into(), Field::exact(json!(spec.firehose.prefix))),
                ]),
            ));
            let mut log_group_fields = BTreeMap::from([("tags".to_string(), Field::tags(&tags))]);
            if let Some(days) = region.log_retention_days {
                log_group_fields.insert("retention_days".into(), Field::exact(json!(days)));
            }
            out.resources.push(resource(
                at("firehose_log_group"),
                Kind::FirehoseLogGroup,
                Some(r),
                n.firehose_log_group(),
                log_group_fields,
            ));
            out.resources.push(resource(
                at("stream"),
                Kind::DeliveryStream,
                Some(r),
                spec.stream_name(),
                BTreeMap::from([
                    ("stream_type".into(), Field::exact(json!("DirectPut")).force_new()),
                    ("bucket_arn".into(), Field::exact(json!(n.bucket_arn(r)))),
                    ("role_arn".into(), Field::exact(json!(n.role_arn(RoleKind::Firehose)))),
                    ("prefix".into(), Field::exact(json!(spec.firehose.prefix))),
                    ("error_output_prefix".into(), Field::exact(json!(spec.firehose.error_prefix))),
                    ("buffer_size_mb".into(), Field::exact(json!(spec.firehose.buffer_size_mb))),
                    ("buffer_interval_seconds".into(), Field::exact(json!(spec.firehose.buffer_interval_seconds))),
                    // CloudWatch Logs already gzips what it sends; consumers read that envelope as is.
                    ("compression".into(), Field::exact(json!("UNCOMPRESSED"))),
                    (
                        "error_logging".into(),
                        Field::exact(json!({"enabled": true, "log_group": n.firehose_log_group(), "log_stream": FIREHOSE_ERROR_LOG_STREAM})),
                    ),
                    ("tags".into(), Field::tags(&tags)),
                ]),
            ));

            let existing = inputs.clusters.get(r).map(Vec::as_slice).unwrap_or_default();
            let mut matched: Vec<String> = Vec::new();
            for selector in &region.clusters {
                let hits: Vec<&String> = existing.iter().filter(|c| selector.matches(c)).collect();
                if hits.is_empty() {
                    let msg = match selector {
                        eksaudit_spec::ClusterSelector::Name(name) => {
                            out.errors.push(Message::new(
                                format!("region.{r}.cluster.{name}"),
                                format!("cluster {name:?} named in region[{index}].clusters does not exist in {r}"),
                                format!("check the name with `aws eks list-clusters --region {r}`, or use a glob such as \"{name}*\""),
                            ));
                            continue;
                        }
                        eksaudit_spec::ClusterSelector::Glob(glob) => glob,
                    };
                    out.warnings.push(
                        Message::new(
                            format!("region.{r}"),
                            format!("glob {msg:?} in region[{index}].clusters matches no cluster in {r} yet"),
                            "clusters created later are picked up by the next apply; drift reports them".to_string(),
                        )
                        .because(crate::Cause::Info),
                    );
                }
                for hit in hits {
                    if !matched.contains(hit) {
                        matched.push(hit.clone());
                    }
                }
            }
            matched.sort();
            for cluster in &matched {
                let at = |what: &str| format!("region.{r}.cluster.{cluster}.{what}");
                let management = if region.enable_audit_logging {
                    Management::Owned
                } else {
                    Management::CheckOnly {
                        fix: format!("set enable_audit_logging = true in region[{index}] to let eksaudit turn it on, or turn it on yourself"),
                    }
                };
                out.resources.push(DesiredResource {
                    address: at("audit_logging"),
                    kind: Kind::ClusterLogging,
                    region: Some(r.to_string()),
                    name: cluster.clone(),
                    management,
                    fields: BTreeMap::from([("audit".to_string(), Field::exact(json!(true)))]),
                });
                let mut group_fields = BTreeMap::from([(
                    "tags".to_string(),
                    Field::create_only(serde_json::to_value(&tags).unwrap_or_default()),
                )]);
                if let Some(days) = region.log_retention_days {
                    group_fields.insert("retention_days".into(), Field::create_only(json!(days)));
                }
                out.resources.push(resource(
                    at("log_group"),
                    Kind::LogGroup,
                    Some(r),
                    log_group_name(cluster),
                    group_fields,
                ));
                out.resources.push(resource(
                    at("filter"),
                    Kind::SubscriptionFilter,
                    Some(r),
                    spec.filter_name(),
                    BTreeMap::from([
                        ("log_group".into(), Field::exact(json!(log_group_name(cluster))).force_new()),
                        ("filter_pattern".into(), Field::exact(json!(spec.filter.pattern))),
                        ("destination_arn".into(), Field::exact(json!(n.stream_arn(r)))),
                        ("role_arn".into(), Field::exact(json!(n.role_arn(RoleKind::Cloudwatch)))),
                    ]),
                ));
            }
            out.matched_clusters.insert(r.to_string(), matched);
        }
        out
    }
}
