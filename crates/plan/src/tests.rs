//! The pure diff, end to end from a spec: every scenario without AWS, with snapshots of what users see.

use std::collections::BTreeMap;

use eksaudit_spec::Address;
use serde_json::{json, Value};

use crate::render::{self, Colors};
use crate::*;

const ACCOUNT: &str = "123456789012";

pub(crate) const SPEC: &str = r#"
[pipeline]
name = "eks-audit"
tags = { team = "security" }

[consumer]
account_id = "434813966438"
external_id = "external-id"
sqs_queue_arn = "arn:aws:sqs:us-west-2:434813966438:queue"

[[region]]
name = "eu-central-1"
clusters = ["prod-1", "stage-*"]
enable_audit_logging = true
log_retention_days = 90
"#;

pub(crate) fn spec(src: &str) -> eksaudit_spec::Spec {
    eksaudit_spec::parse_spec(src).unwrap()
}

/// `SPEC`'s consumer keys, which the tests of other consumers replace.
const CONSUMER: &str = "account_id = \"434813966438\"\nexternal_id = \"external-id\"\nsqs_queue_arn = \"arn:aws:sqs:us-west-2:434813966438:queue\"";

/// `SPEC` with `consumer` (keys of `[consumer]`, and any sections after it) in place of its consumer keys.
fn with_consumer(consumer: &str) -> eksaudit_spec::Spec {
    spec(&SPEC.replace(CONSUMER, consumer))
}

fn clusters(names: &[&str]) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([("eu-central-1".to_string(), names.iter().map(|s| s.to_string()).collect())])
}

pub(crate) fn desired(spec: &eksaudit_spec::Spec, names: &[&str]) -> DesiredState {
    DesiredState::build(&Inputs { spec, account: ACCOUNT, clusters: &clusters(names) })
}

fn options(spec: &eksaudit_spec::Spec) -> DiffOptions {
    DiffOptions {
        pipeline: spec.pipeline.name.clone(),
        adopt: spec.pipeline.adopt.clone(),
        keep_log_data: spec.bucket.on_destroy == eksaudit_spec::OnDestroy::Retain,
    }
}

/// Live AWS exactly as apply would leave it.
fn applied(d: &DesiredState) -> ObservedState {
    let mut observed = ObservedState { account: ACCOUNT.into(), ..Default::default() };
    for r in &d.resources {
        let mut o = ObservedResource::default();
        for (name, field) in &r.fields {
            if field.compare == Compare::Tags {
                o.tags = serde_json::from_value(field.value.clone()).unwrap();
            } else {
                o.fields.insert(name.clone(), field.value.clone());
            }
        }
        if r.kind == Kind::DeliveryStream {
            o.fields.insert("status".into(), json!("ACTIVE"));
        }
        observed.resources.insert(r.address.clone(), Observation::Present(o));
    }
    observed
}

fn empty(d: &DesiredState) -> ObservedState {
    let mut observed = ObservedState { account: ACCOUNT.into(), ..Default::default() };
    for r in &d.resources {
        let o = match r.kind {
            // The cluster exists: its logging is read, here off.
            Kind::ClusterLogging => Observation::Present(ObservedResource {
                fields: BTreeMap::from([("audit".into(), json!(false))]),
                ..Default::default()
            }),
            _ => Observation::Absent,
        };
        observed.resources.insert(r.address.clone(), o);
    }
    observed
}

fn present<'a>(o: &'a mut ObservedState, address: &str) -> &'a mut ObservedResource {
    match o.resources.get_mut(address) {
        Some(Observation::Present(r)) => r,
        other => panic!("{address}: {other:?}"),
    }
}

fn action_of(plan: &Plan, address: &str) -> Action {
    plan.resources.iter().find(|r| r.address == address).unwrap_or_else(|| panic!("{address} not in plan")).action
}

#[test]
fn empty_account_creates_everything() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1", "stage-a", "other"]);
    assert_eq!(d.matched_clusters["eu-central-1"], ["prod-1", "stage-a"]);
    let plan = diff(&d, &empty(&d), &options(&s));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let summary = plan.summary();
    // 3 roles; KMS key, access-log bucket, bucket, topic, subscription, notification, firehose log group,
    // stream; per cluster: logging (update: off → on), log group and filter.
    assert_eq!((summary.create, summary.update, summary.delete), (3 + 8 + 2 * 2, 2, 0));
    insta::assert_snapshot!(render::text(&plan, Colors(false)));
}

/// What AWS hands back for four resources of `SPEC` (cluster prod-1) once applied, written by hand from the
/// README's hardening and AWS's answers, never from the desired state: policies as the services return them (no
/// Sid, single values unwrapped, keys in their order), the spec's tags, the default filter pattern.
fn in_aws(address: &Address) -> ObservedResource {
    use eksaudit_spec::{ClusterSlot as C, RegionalSlot as R, RoleSlot};
    let account = ACCOUNT;
    let bucket = format!("eks-audit-{account}-eu-central-1");
    let tags = BTreeMap::from([
        ("eksaudit:pipeline".to_string(), "eks-audit".to_string()),
        ("team".into(), "security".into()),
    ]);
    let fields = match address {
        Address::Regional { slot: R::Bucket, .. } => json!({
            "public_access_block": {"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true},
            "ownership": "BucketOwnerEnforced",
            "encryption": {"algorithm": "aws:kms", "kms_key_id": format!("arn:aws:kms:eu-central-1:{account}:alias/eks-audit"), "bucket_key": true},
            "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
            "versioning": "Enabled",
            "lifecycle": {"expire_current_days": 180, "expire_noncurrent_days": 180, "abort_incomplete_multipart_days": 7},
            "logging": {"target_bucket": format!("{bucket}-access-logs"), "target_prefix": "s3-access-logs/"},
        }),
        Address::Role(RoleSlot::Reader) => json!({
            "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::434813966438:root"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "external-id"}}}]},
            "permissions": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": format!("arn:aws:s3:::{bucket}")},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/eks-audit-logs/*")},
                {"Effect": "Allow", "Action": ["sns:Subscribe", "sns:GetTopicAttributes"], "Resource": format!("arn:aws:sns:eu-central-1:{account}:eks-audit")}]},
            "attached_policies": [],
        }),
        Address::Regional { slot: R::Topic, .. } => json!({
            "kms_master_key_id": format!("arn:aws:kms:eu-central-1:{account}:alias/eks-audit"),
            "policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SNS:Publish",
                 "Resource": format!("arn:aws:sns:eu-central-1:{account}:eks-audit"),
                 "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{bucket}")}}},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::434813966438:root"}, "Action": ["SNS:Subscribe", "SNS:GetTopicAttributes"],
                 "Resource": format!("arn:aws:sns:eu-central-1:{account}:eks-audit")}]},
        }),
        Address::ClusterResource { cluster, slot: C::Filter, .. } => json!({
            "log_group": format!("/aws/eks/{cluster}/cluster"),
            // The mark on the log group (a tag, read through GetResources), as observe reports it.
            "log_group_tag": "eksaudit:filter:eks-audit",
            "destination_arn": format!("arn:aws:firehose:eu-central-1:{account}:deliverystream/eks-audit"),
            "role_arn": format!("arn:aws:iam::{account}:role/eks-audit-cloudwatch"),
            "filter_pattern": r#"{ $.stage = "ResponseComplete" && $.requestURI != "/version" && $.requestURI != "/version?*" && $.requestURI != "/metrics" && $.requestURI != "/metrics?*" && $.requestURI != "/logs" && $.requestURI != "/logs?*" && $.requestURI != "/swagger*" && $.requestURI != "/livez*" && $.requestURI != "/readyz*" && $.requestURI != "/healthz*" }"#,
        }),
        Address::Regional { slot: R::AccessLogBucket, .. } => json!({
            "public_access_block": {"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true},
            "ownership": "BucketOwnerEnforced",
            "encryption": {"algorithm": "AES256"},
            "policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": [format!("arn:aws:s3:::{bucket}-access-logs"), format!("arn:aws:s3:::{bucket}-access-logs/*")],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
                 "Resource": format!("arn:aws:s3:::{bucket}-access-logs/s3-access-logs/*"),
                 "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{bucket}")}}}]},
            "versioning": "Enabled",
            "lifecycle": {"expire_current_days": 180, "expire_noncurrent_days": 180, "abort_incomplete_multipart_days": 7},
        }),
        Address::Regional { slot: R::BucketNotification, .. } => json!({
            "id": "eks-audit",
            "destination_type": "topic",
            "topic_arn": format!("arn:aws:sns:eu-central-1:{account}:eks-audit"),
            "events": ["s3:ObjectCreated:*"],
            "filter_prefix": "eks-audit-logs/",
        }),
        Address::Regional { slot: R::TopicSubscription, .. } => json!({
            "topic_arn": format!("arn:aws:sns:eu-central-1:{account}:eks-audit"),
            "protocol": "sqs",
            "endpoint": "arn:aws:sqs:us-west-2:434813966438:queue",
        }),
        Address::ClusterResource { slot: C::AuditLogging, .. } => json!({"audit": true}),
        Address::ClusterResource { slot: C::LogGroup, .. } => json!({
            "retention_days": 90,
            "kms_key_id": format!("arn:aws:kms:eu-central-1:{account}:alias/eks-audit"),
            "tags": {"eksaudit:pipeline": "eks-audit", "team": "security"},
        }),
        Address::Regional { slot: R::FirehoseLogGroup, .. } => json!({
            "retention_days": 90,
            "kms_key_id": format!("arn:aws:kms:eu-central-1:{account}:alias/eks-audit"),
        }),
        Address::Regional { slot: R::KmsKey, .. } => {
            let key = format!("arn:aws:kms:eu-central-1:{account}:key/*");
            let via_s3 = json!({"StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}});
            // KMS hands the policy back as it was put, Sids included.
            json!({
                "state": "Enabled",
                "rotation": true,
                "policy": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                     "Action": ["kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
                        "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
                        "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
                        "kms:PutKeyPolicy", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource",
                        "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription"],
                     "Resource": [key, format!("arn:aws:kms:eu-central-1:{account}:alias/eks-audit")]},
                    {"Sid": "FirehoseWritesObjects", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:role/eks-audit-firehose")},
                     "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key, "Condition": via_s3},
                    {"Sid": "S3Service", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                     "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key,
                     "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{bucket}")}}},
                    {"Sid": "SnsService", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                     "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key,
                     "Condition": {"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": format!("arn:aws:sns:eu-central-1:{account}:eks-audit")}}},
                    {"Sid": "LogsEncryptsLogGroups", "Effect": "Allow", "Principal": {"Service": "logs.eu-central-1.amazonaws.com"},
                     "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
                     "Resource": key,
                     "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": format!("arn:aws:logs:eu-central-1:{account}:log-group:*")}}},
                    {"Sid": "ReaderReadsObjects", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:role/eks-audit-reader")},
                     "Action": "kms:Decrypt", "Resource": key, "Condition": via_s3}]},
            })
        }
        Address::Regional { slot: R::Stream, .. } => json!({
            "status": "ACTIVE",
            "stream_type": "DirectPut",
            "bucket_arn": format!("arn:aws:s3:::{bucket}"),
            "role_arn": format!("arn:aws:iam::{account}:role/eks-audit-firehose"),
            "prefix": "eks-audit-logs/",
            "error_output_prefix": "eks-audit-errors/",
            "buffer_interval_seconds": 300,
            "buffer_size_mb": 5,
            "compression": "UNCOMPRESSED",
            "file_extension": "",
            "encryption": "ENABLED",
            "error_logging": {"enabled": true, "log_group": "/aws/kinesisfirehose/eks-audit", "log_stream": "DestinationDelivery"},
            "processing": null,
        }),
        Address::Role(RoleSlot::Firehose) => json!({
            "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]},
            // IAM keeps the document as put (Sids included), single values unwrapped here as a person would write them.
            "permissions": {"Version": "2012-10-17", "Statement": [
                {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                 "Resource": format!("arn:aws:s3:::{bucket}")},
                {"Sid": "WriteObjects", "Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                 "Resource": [format!("arn:aws:s3:::{bucket}/eks-audit-logs/*"), format!("arn:aws:s3:::{bucket}/eks-audit-errors/*")]},
                {"Sid": "LogDeliveryErrors", "Effect": "Allow", "Action": "logs:PutLogEvents",
                 "Resource": format!("arn:aws:logs:eu-central-1:{account}:log-group:/aws/kinesisfirehose/eks-audit:*")}]},
            "attached_policies": [],
        }),
        Address::Role(RoleSlot::Cloudwatch) => json!({
            "trust_policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "logs.amazonaws.com"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}, "StringLike": {"aws:SourceArn": format!("arn:aws:logs:eu-central-1:{account}:*")}}}]},
            "permissions": {"Version": "2012-10-17", "Statement": [{"Sid": "PutRecords", "Effect": "Allow",
                "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                "Resource": format!("arn:aws:firehose:eu-central-1:{account}:deliverystream/eks-audit")}]},
            "attached_policies": [],
        }),
        other => panic!("not written by hand: {other}"),
    };
    let fields: BTreeMap<String, Value> = serde_json::from_value(fields).unwrap();
    // What carries no tags of its own as observe reads them: a subscription, a notification, a cluster's
    // resources (its log group's tags are a field: the group may be EKS's; a filter's mark is a field too).
    let untagged = matches!(
        address,
        Address::Regional { slot: R::TopicSubscription | R::BucketNotification, .. } | Address::ClusterResource { .. }
    );
    let mut tags = if untagged { BTreeMap::new() } else { tags };
    // The key records its region's buckets.
    if matches!(address, Address::Regional { slot: R::KmsKey, .. }) {
        tags.insert("eksaudit:bucket".into(), bucket.clone());
        tags.insert("eksaudit:access-log-bucket".into(), format!("{bucket}-access-logs"));
    }
    ObservedResource { fields, tags, ..Default::default() }
}

/// Every resource of `SPEC`, for each matched cluster: what `in_aws` writes.
fn written_by_hand(clusters: &[&str]) -> Vec<Address> {
    use eksaudit_spec::{ClusterSlot as C, RegionalSlot as R, RoleSlot};
    let region = "eu-central-1";
    let mut all: Vec<Address> = [RoleSlot::Firehose, RoleSlot::Cloudwatch, RoleSlot::Reader].map(Address::Role).into();
    let regional = [
        R::KmsKey,
        R::AccessLogBucket,
        R::Bucket,
        R::Topic,
        R::TopicSubscription,
        R::BucketNotification,
        R::FirehoseLogGroup,
        R::Stream,
    ];
    all.extend(regional.map(|slot| Address::regional(region, slot)));
    for cluster in clusters {
        all.extend([C::AuditLogging, C::LogGroup, C::Filter].map(|slot| Address::cluster(region, cluster, slot)));
    }
    all
}

/// Applied, every resource as AWS shows it, none taken from the desired state (which must hold exactly the
/// resources `in_aws` writes).
fn applied_in_aws(d: &DesiredState) -> ObservedState {
    let clusters: Vec<&str> = d.matched_clusters.values().flatten().map(String::as_str).collect();
    let by_hand = written_by_hand(&clusters);
    let addresses: std::collections::BTreeSet<String> = d.resources.iter().map(|r| r.address.clone()).collect();
    let written: std::collections::BTreeSet<String> = by_hand.iter().map(Address::to_string).collect();
    assert_eq!(addresses, written, "each resource of the spec is written by hand");
    let mut observed = ObservedState { account: ACCOUNT.into(), ..Default::default() };
    for address in &by_hand {
        observed.resources.insert(address.to_string(), Observation::Present(in_aws(address)));
    }
    observed
}

#[test]
fn resources_as_aws_shows_them_are_in_sync_and_each_wrong_value_is_exactly_its_field() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let plan = diff(&d, &applied_in_aws(&d), &options(&s));
    for address in written_by_hand(&["prod-1"]).iter().map(Address::to_string) {
        assert_eq!(
            action_of(&plan, &address),
            Action::NoOp,
            "{address}: {:#?}",
            plan.resources.iter().find(|r| r.address == address)
        );
    }
    // One value a person would get wrong, per resource: that field alone is drift.
    // (A cluster's log group is left out: its retention, key and tags are set only when eksaudit creates it.)
    let wrong: [(&str, &str, Value); 13] = [
        ("role.firehose", "attached_policies", json!(["arn:aws:iam::aws:policy/AmazonS3FullAccess"])),
        (
            "role.cloudwatch",
            "trust_policy",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        ),
        ("region.eu-central-1.kms_key", "rotation", json!(false)),
        ("region.eu-central-1.access_log_bucket", "versioning", json!("Suspended")),
        ("region.eu-central-1.topic_subscription", "endpoint", json!("arn:aws:sqs:us-west-2:434813966438:other")),
        ("region.eu-central-1.bucket_notification", "filter_prefix", json!("")),
        ("region.eu-central-1.firehose_log_group", "retention_days", json!(30)),
        ("region.eu-central-1.stream", "buffer_interval_seconds", json!(60)),
        ("region.eu-central-1.cluster.prod-1.audit_logging", "audit", json!(false)),
        (
            "region.eu-central-1.bucket",
            "lifecycle",
            json!({"expire_current_days": 90, "expire_noncurrent_days": 180, "abort_incomplete_multipart_days": 7}),
        ),
        (
            "role.reader",
            "trust_policy",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::434813966438:root"}, "Action": "sts:AssumeRole"}]}),
        ),
        ("region.eu-central-1.topic", "kms_master_key_id", json!("alias/aws/sns")),
        ("region.eu-central-1.cluster.prod-1.filter", "filter_pattern", json!("")),
    ];
    for (address, field, value) in wrong {
        let mut o = applied_in_aws(&d);
        present(&mut o, address).fields.insert(field.into(), value);
        let plan = diff(&d, &o, &options(&s));
        let changed: Vec<(&str, Vec<&str>)> = plan
            .resources
            .iter()
            .filter(|r| r.action != Action::NoOp)
            .map(|r| (r.address.as_str(), r.changes.iter().map(|c| c.field.as_str()).collect()))
            .collect();
        assert_eq!(changed, [(address, vec![field])], "{address} {field}");
    }
}

#[test]
fn fully_applied_is_no_change() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1", "stage-a"]);
    let plan = diff(&d, &applied_in_aws(&d), &options(&s));
    assert!(
        !plan.has_changes(),
        "{:#?}",
        plan.resources.iter().filter(|r| r.action != Action::NoOp).collect::<Vec<_>>()
    );
    assert!(plan.errors.is_empty());
    assert!(render::text(&plan, Colors(false)).contains("No changes."));
}

#[test]
fn reserialised_policies_and_extra_user_tags_are_not_drift() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    let bucket = present(&mut o, "region.eu-central-1.bucket");
    let policy = bucket.fields["policy"].clone();
    // As S3 returns it: no Sid, single values unwrapped into strings, keys in another order.
    let stmt = &policy["Statement"][0];
    bucket.fields.insert(
        "policy".into(),
        json!({"Statement": [{"Resource": stmt["Resource"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Action": "s3:*", "Effect": "Deny", "Principal": {"AWS": "*"}}], "Version": "2012-10-17"}),
    );
    bucket.tags.insert("cost-center".into(), "42".into());
    let plan = diff(&d, &o, &options(&s));
    assert!(!plan.has_changes(), "{:?}", plan.resources.iter().find(|r| r.action != Action::NoOp));
}

#[test]
fn each_kind_of_drift_shows_exactly_its_field() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    present(&mut o, "region.eu-central-1.bucket").fields.insert(
        "lifecycle".into(),
        json!({"expire_current_days": 7, "expire_noncurrent_days": 180, "abort_incomplete_multipart_days": 7}),
    );
    present(&mut o, "region.eu-central-1.topic").fields.insert(
        "policy".into(),
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "SNS:Subscribe", "Resource": "*"}]}),
    );
    present(&mut o, "region.eu-central-1.cluster.prod-1.filter").fields.insert("filter_pattern".into(), json!(""));
    present(&mut o, "role.reader").tags.remove("team");
    let trust = present(&mut o, "role.cloudwatch");
    trust.fields.get_mut("trust_policy").unwrap()["Statement"][0]["Condition"]["StringLike"]["aws:SourceArn"] =
        json!("*");
    o.resources.insert("region.eu-central-1.topic_subscription".into(), Observation::Absent);
    let plan = diff(&d, &o, &options(&s));
    let changed: Vec<(&str, Vec<&str>)> = plan
        .resources
        .iter()
        .filter(|r| r.action != Action::NoOp)
        .map(|r| (r.address.as_str(), r.changes.iter().map(|c| c.field.as_str()).collect()))
        .collect();
    assert_eq!(
        changed,
        [
            ("role.cloudwatch", vec!["trust_policy"]),
            ("role.reader", vec!["tags"]),
            ("region.eu-central-1.bucket", vec!["lifecycle"]),
            ("region.eu-central-1.topic", vec!["policy"]),
            ("region.eu-central-1.topic_subscription", vec!["endpoint", "protocol", "topic_arn"]),
            ("region.eu-central-1.cluster.prod-1.filter", vec!["filter_pattern"]),
        ]
    );
    insta::assert_snapshot!(render::text(&plan, Colors(false)));
    insta::assert_json_snapshot!(render::json(&plan));
}

#[test]
fn foreign_resources_block_with_their_names_unless_adopted() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    present(&mut o, "region.eu-central-1.bucket").tags.clear();
    present(&mut o, "role.firehose").tags.insert("eksaudit:pipeline".into(), "someone-else".into());
    let plan = diff(&d, &o, &options(&s));
    let blocked: Vec<&str> = plan.errors.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(blocked, ["role.firehose", "region.eu-central-1.bucket"]);
    assert!(plan.errors[0].message.contains("belongs to pipeline \"someone-else\""));
    assert!(plan.errors[1].message.contains("eks-audit-123456789012-eu-central-1"));
    assert!(plan.errors[1].hint.contains("adopt = [\"region.eu-central-1.bucket\"]"));
    insta::assert_snapshot!(render::text(&plan, Colors(false)));

    let adopting =
        spec(&SPEC.replace("name = \"eks-audit\"", "name = \"eks-audit\"\nadopt = [\"region.eu-central-1.bucket\"]"));
    let plan = diff(&d, &o, &options(&adopting));
    assert_eq!(plan.errors.len(), 1, "only the role still blocks");
    assert_eq!(action_of(&plan, "region.eu-central-1.bucket"), Action::Update);
}

#[test]
fn bucket_of_another_account_blocks() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let mut o = empty(&d);
    o.resources.insert(
        "region.eu-central-1.bucket".into(),
        Observation::Present(ObservedResource { foreign_account: true, ..Default::default() }),
    );
    let plan = diff(&d, &o, &options(&s));
    let error = plan.errors.iter().find(|e| e.message.contains("taken by another AWS account")).expect("refused");
    // S3's bare 403 is also what a bucket of this account that the caller may not read answers: both are named.
    assert!(error.message.contains("or this identity may not read it"), "{}", error.message);
    assert!(error.hint.contains("set bucket.name") && error.hint.contains("s3:ListBucket"), "{}", error.hint);
}

#[test]
fn full_filter_slots_block_only_that_cluster() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1", "stage-a"]);
    let mut o = applied(&d);
    o.resources.insert("region.eu-central-1.cluster.stage-a.filter".into(), Observation::Absent);
    o.neighbours.insert("region.eu-central-1.cluster.stage-a.filter".into(), vec!["datadog".into(), "splunk".into()]);
    let plan = diff(&d, &o, &options(&s));
    assert_eq!(plan.errors.len(), 1);
    assert!(plan.errors[0]
        .message
        .contains("/aws/eks/stage-a/cluster already holds 2 subscription filters (datadog, splunk)"));
    // One foreign filter leaves a slot: ours is created beside it.
    o.neighbours.insert("region.eu-central-1.cluster.stage-a.filter".into(), vec!["datadog".into()]);
    let plan = diff(&d, &o, &options(&s));
    assert!(plan.errors.is_empty());
    assert_eq!(action_of(&plan, "region.eu-central-1.cluster.stage-a.filter"), Action::Create);
}

#[test]
fn missing_named_cluster_and_audit_logging_off_block() {
    let s = spec(&SPEC.replace("enable_audit_logging = true", "enable_audit_logging = false"));
    let d = desired(&s, &["stage-a"]);
    let plan = diff(&d, &empty(&d), &options(&s));
    let messages: Vec<&str> = plan.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "cluster \"prod-1\" named in region[0].clusters does not exist in eu-central-1",
            "EKS audit logging is off on cluster stage-a (audit is false)"
        ]
    );
    assert!(plan.errors[1].hint.contains("enable_audit_logging = true"));
    // Neither is for apply to fix: drift calls both blocked, at the cluster they are about.
    let report = crate::drift::DriftReport::new(&plan, &[], "2026-11-23T12:00:00Z".into());
    let blocked: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.kind == crate::drift::FindingKind::Blocked)
        .map(|f| f.address.as_str())
        .collect();
    assert_eq!(
        blocked,
        ["region.eu-central-1.cluster.prod-1", "region.eu-central-1.cluster.stage-a.audit_logging"],
        "{:?}",
        report.findings
    );
    // The log group of a cluster whose logging will be turned on is created, with the spec's retention.
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let plan = diff(&d, &empty(&d), &options(&s));
    let group = plan.resources.iter().find(|r| r.address == "region.eu-central-1.cluster.prod-1.log_group").unwrap();
    assert_eq!(group.action, Action::Create);
    assert!(group.changes.iter().any(|c| c.field == "retention_days" && c.new == Some(json!(90))));
}

#[test]
fn glob_matching_nothing_warns() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    assert_eq!(d.warnings.len(), 1);
    assert!(d.warnings[0].message.contains("\"stage-*\""));
}

#[test]
fn stale_filters_are_deleted_and_unreadable_resources_block() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    o.stale.push(StaleResource {
        address: "region.eu-central-1.cluster.old.filter".into(),
        kind: Kind::SubscriptionFilter,
        region: Some("eu-central-1".into()),
        name: "eks-audit".into(),
        fields: BTreeMap::from([("log_group".into(), json!("/aws/eks/old/cluster"))]),
    });
    o.resources.insert("region.eu-central-1.topic".into(), Observation::Unknown { reason: "AccessDenied".into() });
    let plan = diff(&d, &o, &options(&s));
    assert_eq!(action_of(&plan, "region.eu-central-1.cluster.old.filter"), Action::Delete);
    assert_eq!(plan.errors.len(), 1);
    assert!(plan.errors[0].message.contains("cannot read SNS topic eks-audit: AccessDenied"));
}

#[test]
fn failed_stream_is_replaced_and_force_new_fields_replace() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    let stream = present(&mut o, "region.eu-central-1.stream");
    stream.fields.insert("status".into(), json!("CREATING_FAILED"));
    stream.fields.insert("failure".into(), json!("RETIRE_KMS_GRANT_FAILED"));
    let plan = diff(&d, &o, &options(&s));
    let r = plan.resources.iter().find(|r| r.address == "region.eu-central-1.stream").unwrap();
    assert_eq!(r.action, Action::Replace);
    assert!(r.reason.as_ref().unwrap().contains("RETIRE_KMS_GRANT_FAILED"));
    let mut o = applied(&d);
    present(&mut o, "region.eu-central-1.stream").fields.insert("stream_type".into(), json!("KinesisStreamAsSource"));
    assert_eq!(action_of(&diff(&d, &o, &options(&s)), "region.eu-central-1.stream"), Action::Replace);
}

#[test]
fn reused_roles_are_checked_not_changed() {
    let reuse = SPEC.replace(
        "[[region]]",
        "[iam]\ncloudwatch_role_arn = \"arn:aws:iam::123456789012:role/shared-cwl\"\nreader_role_arn = \"arn:aws:iam::123456789012:role/gone\"\n\n[[region]]",
    );
    let s = spec(&reuse);
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    // The reused CloudWatch role may put records, but only into another stream.
    o.resources.insert(
        "role.cloudwatch".into(),
        Observation::Present(ObservedResource {
            fields: BTreeMap::from([(
                "policies".into(),
                json!([{"Statement": [{"Effect": "Allow", "Action": "firehose:PutRecord*", "Resource": "arn:aws:firehose:eu-central-1:123456789012:deliverystream/other"}]}]),
            )]),
            ..Default::default()
        }),
    );
    o.resources.insert("role.reader".into(), Observation::Absent);
    let plan = diff(&d, &o, &options(&s));
    assert!(
        plan.resources.iter().all(|r| r.address != "role.cloudwatch" && r.address != "role.reader"),
        "reused roles are never changed"
    );
    assert_eq!(plan.errors.len(), 1);
    assert!(plan.errors[0]
        .message
        .contains("role arn:aws:iam::123456789012:role/gone named in iam.reader_role_arn does not exist"));
    let role_warnings: Vec<_> = plan.warnings.iter().filter(|w| w.address.starts_with("role.")).collect();
    assert_eq!(role_warnings.len(), 1);
    assert!(role_warnings[0].hint.contains("deliverystream/eks-audit"), "{}", role_warnings[0].hint);
    // The filter uses the reused role's ARN.
    let filter = d.resources.iter().find(|r| r.address.ends_with("prod-1.filter")).unwrap();
    assert_eq!(filter.fields["role_arn"].value, json!("arn:aws:iam::123456789012:role/shared-cwl"));
    insta::assert_snapshot!(render::text(&plan, Colors(false)));
    // Apply cannot fix either (a reused role is someone else's): drift calls both blocked.
    use crate::drift::{DriftReport, FindingKind};
    let report = DriftReport::new(&plan, &[], "2026-11-23T12:00:00Z".into());
    let blocked: Vec<(FindingKind, &str)> = report
        .findings
        .iter()
        .filter(|f| f.address.starts_with("role."))
        .map(|f| (f.kind, f.address.as_str()))
        .collect();
    assert_eq!(blocked, [(FindingKind::Blocked, "role.cloudwatch"), (FindingKind::Blocked, "role.reader")]);
}

#[test]
fn hardened_defaults() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1"]);
    let get = |addr: &str, field: &str| -> Value {
        d.resources.iter().find(|r| r.address == addr).unwrap().fields[field].value.clone()
    };
    let trust = get("role.cloudwatch", "trust_policy");
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringLike"]["aws:SourceArn"],
        json!(["arn:aws:logs:eu-central-1:123456789012:*"])
    );
    assert_eq!(trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], json!(ACCOUNT));
    let reader = get("role.reader", "trust_policy");
    assert_eq!(reader["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"], json!("external-id"));
    let firehose = get("role.firehose", "trust_policy");
    assert_eq!(firehose["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"], json!(ACCOUNT));
    // Resource-scoped permissions: no `*` action or resource anywhere.
    for role in ["role.firehose", "role.cloudwatch", "role.reader"] {
        for statement in get(role, "permissions")["Statement"].as_array().unwrap() {
            for action in statement["Action"].as_array().unwrap() {
                assert!(!action.as_str().unwrap().contains('*'), "{role}: {action}");
            }
            for resource in statement["Resource"].as_array().unwrap() {
                assert!(resource != "*", "{role}: unscoped resource");
            }
        }
    }
    let topic = get("region.eu-central-1.topic", "policy");
    assert_eq!(
        topic["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
        json!("arn:aws:s3:::eks-audit-123456789012-eu-central-1")
    );
    // SSE-KMS with a bucket key, under the pipeline's own key (by its alias); the topic under the same key; the
    // stream encrypted at rest; access logs into the access-log bucket (SSE-S3: all S3 logs into).
    let alias = "arn:aws:kms:eu-central-1:123456789012:alias/eks-audit";
    assert_eq!(
        get("region.eu-central-1.bucket", "encryption"),
        json!({"algorithm": "aws:kms", "kms_key_id": alias, "bucket_key": true})
    );
    assert_eq!(get("region.eu-central-1.topic", "kms_master_key_id"), json!(alias));
    assert_eq!(get("region.eu-central-1.stream", "encryption"), json!("ENABLED"));
    assert_eq!(get("region.eu-central-1.kms_key", "rotation"), json!(true));
    assert_eq!(
        get("region.eu-central-1.bucket", "logging"),
        json!({"target_bucket": "eks-audit-123456789012-eu-central-1-access-logs", "target_prefix": "s3-access-logs/"})
    );
    assert_eq!(get("region.eu-central-1.access_log_bucket", "encryption"), json!({"algorithm": "AES256"}));
    assert_eq!(get("region.eu-central-1.access_log_bucket", "versioning"), json!("Enabled"));
    assert_eq!(get("region.eu-central-1.access_log_bucket", "ownership"), json!("BucketOwnerEnforced"));
    assert_eq!(get("region.eu-central-1.bucket", "ownership"), json!("BucketOwnerEnforced"));
    assert_eq!(get("region.eu-central-1.stream", "compression"), json!("UNCOMPRESSED"));
    let kms = spec(&SPEC.replace(
        "[[region]]",
        "[bucket]\nkms_key_arn = \"arn:aws:kms:eu-central-1:123456789012:key/k\"\n\n[[region]]",
    ));
    let d = desired(&kms, &["prod-1"]);
    let enc = d.resources.iter().find(|r| r.address == "region.eu-central-1.bucket").unwrap().fields["encryption"]
        .value
        .clone();
    assert_eq!(enc["algorithm"], "aws:kms");
    let reader =
        d.resources.iter().find(|r| r.address == "role.reader").unwrap().fields["permissions"].value.to_string();
    assert!(reader.contains("kms:decrypt") || reader.contains("kms:Decrypt"));
}

#[test]
fn saved_plan_is_accepted_unchanged_and_refused_when_live_or_spec_changed() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1", "stage-a"]);
    let observed = empty(&d);
    let plan = diff(&d, &observed, &options(&s));
    let file = saved::save(&plan, &d, &observed, "0.1.0");
    // Through a file and back, as `plan --out` then `apply FILE` do.
    let file: Value = serde_json::from_str(&serde_json::to_string(&file).unwrap()).unwrap();
    assert_eq!(saved::check(&file, &d, &observed, "0.1.0"), Ok(()));

    let mut live = observed.clone();
    live.resources.insert("region.eu-central-1.topic".into(), Observation::Present(ObservedResource::default()));
    assert_eq!(
        saved::check(&file, &d, &live, "0.1.0"),
        Err(saved::Stale::LiveChanged(vec!["region.eu-central-1.topic".into()]))
    );
    let mut neighbours = observed.clone();
    neighbours.neighbours.insert("region.eu-central-1.cluster.prod-1.filter".into(), vec!["datadog".into()]);
    assert_eq!(
        saved::check(&file, &d, &neighbours, "0.1.0"),
        Err(saved::Stale::LiveChanged(vec!["region.eu-central-1.cluster.prod-1.filter".into()]))
    );

    // A new cluster matching the glob changes what is wanted.
    let more = desired(&s, &["prod-1", "stage-a", "stage-b"]);
    match saved::check(&file, &more, &observed, "0.1.0") {
        Err(saved::Stale::SpecChanged(addrs)) => {
            assert!(addrs.contains(&"region.eu-central-1.cluster.stage-b.filter".to_string()), "{addrs:?}")
        }
        other => panic!("{other:?}"),
    }
    let other_account = ObservedState { account: "999999999999".into(), ..observed.clone() };
    assert!(matches!(saved::check(&file, &d, &other_account, "0.1.0"), Err(saved::Stale::OtherTarget(_))));
    assert!(matches!(saved::check(&file, &d, &observed, "0.2.0"), Err(saved::Stale::Unusable(_))));
    assert!(matches!(saved::check(&json!({"x": 1}), &d, &observed, "0.1.0"), Err(saved::Stale::Unusable(_))));
}

#[test]
fn drift_findings_have_a_kind_a_path_and_both_values_and_ignores_are_counted() {
    use crate::drift::{DriftReport, FindingKind, Verdict};
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1", "stage-a"]);
    let in_sync = DriftReport::new(&diff(&d, &applied_in_aws(&d), &options(&s)), &[], "2026-11-23T12:00:00Z".into());
    assert_eq!(in_sync.verdict(), Verdict::InSync);
    assert!(in_sync.findings.is_empty());
    assert!(in_sync.summary().starts_with("No drift"), "{}", in_sync.summary());

    let mut o = applied(&d);
    o.resources.insert("region.eu-central-1.cluster.prod-1.filter".into(), Observation::Absent);
    present(&mut o, "region.eu-central-1.bucket").tags.insert("team".into(), "platform".into());
    present(&mut o, "region.eu-central-1.topic").fields.insert(
        "policy".into(),
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "SNS:Subscribe", "Resource": "*"}]}),
    );
    o.stale.push(StaleResource {
        address: "region.eu-central-1.cluster.old.filter".into(),
        kind: Kind::SubscriptionFilter,
        region: Some("eu-central-1".into()),
        name: "eks-audit".into(),
        fields: BTreeMap::from([("log_group".into(), json!("/aws/eks/old/cluster"))]),
    });
    o.resources.insert("role.reader".into(), Observation::Unknown { reason: "AccessDenied: not allowed".into() });
    let plan = diff(&d, &o, &options(&s));
    let report = DriftReport::new(&plan, &["bucket.tags.team".to_string()], "2026-11-23T12:00:00Z".into());
    let kinds: Vec<(FindingKind, &str, bool)> =
        report.findings.iter().map(|f| (f.kind, f.path.as_str(), f.ignored)).collect();
    assert_eq!(
        kinds,
        [
            (FindingKind::NotChecked, "role.reader", false),
            (FindingKind::Changed, "region.eu-central-1.bucket.tags.team", true),
            (FindingKind::Unmanaged, "region.eu-central-1.cluster.old.filter", false),
            (FindingKind::Missing, "region.eu-central-1.cluster.prod-1.filter", false),
            (FindingKind::Changed, "region.eu-central-1.topic.policy", false),
        ]
    );
    let tag = report.findings.iter().find(|f| f.path.ends_with("tags.team")).unwrap();
    assert_eq!((tag.expected.clone(), tag.actual.clone()), (Some(json!("security")), Some(json!("platform"))));
    let counts = report.counts();
    assert_eq!((counts.missing, counts.changed, counts.unmanaged, counts.not_checked, counts.ignored), (1, 1, 1, 1, 1));
    assert_eq!(report.verdict(), Verdict::Drift);
    insta::assert_snapshot!(report.text(Colors(false)));
    let doc = report.json();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["verdict"], "drift");
    assert_eq!(doc["counts"]["ignored"], 1);

    // Only unreadable resources: cannot tell, which is not "in sync".
    let mut unknown = applied(&d);
    unknown.resources.insert("role.reader".into(), Observation::Unknown { reason: "Throttling".into() });
    let report = DriftReport::new(&diff(&d, &unknown, &options(&s)), &[], "t".into());
    assert_eq!(report.verdict(), Verdict::Unknown);

    // Audit logging off where eksaudit may not turn it on, and full filter slots: blocked.
    let s = spec(&SPEC.replace("enable_audit_logging = true", "enable_audit_logging = false"));
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    present(&mut o, "region.eu-central-1.cluster.prod-1.audit_logging").fields.insert("audit".into(), json!(false));
    let report = DriftReport::new(&diff(&d, &o, &options(&s)), &[], "t".into());
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].kind, FindingKind::Blocked);
    assert!(report.findings[0].fix.contains("enable_audit_logging = true"), "{:?}", report.findings[0]);
}

#[test]
fn ignore_rules_match_parts_globs_prefixes_and_any_region() {
    use crate::drift::ignores;
    assert!(ignores("bucket.tags.cost-center", "region.eu-central-1.bucket.tags.cost-center"));
    assert!(ignores("region.eu-central-1.bucket", "region.eu-central-1.bucket.tags.cost-center"));
    assert!(ignores("cluster.*.filter", "region.us-east-1.cluster.prod.filter"));
    assert!(ignores("role.reader.tags", "role.reader.tags.team"));
    assert!(!ignores("bucket.tags.team", "region.eu-central-1.bucket.tags.cost-center"));
    assert!(!ignores("region.us-east-1.bucket", "region.eu-central-1.bucket.policy"));
    assert!(!ignores("cluster.*.filter", "region.us-east-1.cluster.prod.log_group"));
    assert!(!ignores("bucket", "region.eu-central-1.bucket_notification"));
}

// --- Consumers: presets, notify, the OIDC provider, outputs ------------------------------------------------

pub(crate) const SENTINEL: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
preset = "sentinel"
workspace_id = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
enable_audit_logging = true
"#;

const PROVIDER: &str = "oidc_provider.commercial";

fn field_of(d: &DesiredState, address: &str, field: &str) -> Value {
    d.resources.iter().find(|r| r.address == address).unwrap_or_else(|| panic!("{address}")).fields[field].value.clone()
}

fn addresses(d: &DesiredState) -> Vec<&str> {
    d.resources.iter().map(|r| r.address.as_str()).filter(|a| !a.contains(".cluster.")).collect()
}

fn changes(plan: &Plan) -> Vec<(&str, Action)> {
    plan.resources.iter().filter(|r| r.action != Action::NoOp).map(|r| (r.address.as_str(), r.action)).collect()
}

#[test]
fn sentinel_is_an_oidc_provider_a_web_identity_reader_and_a_queue_s3_notifies() {
    let s = spec(SENTINEL);
    let d = desired(&s, &["prod-1"]);
    assert_eq!(
        addresses(&d),
        [
            PROVIDER,
            "role.firehose",
            "role.cloudwatch",
            "role.reader",
            "role.transform",
            "region.eu-central-1.kms_key",
            "region.eu-central-1.access_log_bucket",
            "region.eu-central-1.bucket",
            "region.eu-central-1.dead_letter_queue",
            "region.eu-central-1.queue",
            "region.eu-central-1.bucket_notification",
            "region.eu-central-1.firehose_log_group",
            "region.eu-central-1.transform_log_group",
            "region.eu-central-1.transform_function",
            "region.eu-central-1.stream",
        ],
        "no topic: Sentinel reads an SQS queue; the stream's transform, its role and log group"
    );
    let reader = d.resources.iter().find(|r| r.address == "role.reader").unwrap();
    assert_eq!(reader.name, "OIDC_eks-audit-reader");
    let trust = &field_of(&d, "role.reader", "trust_policy")["Statement"][0];
    assert_eq!(
        trust["Principal"]["Federated"],
        "arn:aws:iam::123456789012:oidc-provider/sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/"
    );
    assert_eq!(trust["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(
        trust["Condition"]["StringEquals"],
        json!({
            "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/:aud": "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e",
            "sts:RoleSessionName": "MicrosoftSentinel_0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"
        })
    );
    assert_eq!(field_of(&d, PROVIDER, "url"), "https://sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/");
    assert_eq!(field_of(&d, PROVIDER, "client_ids"), json!(["api://1462b192-27f7-4cb9-8523-0f4ecb54b47e"]));

    // The queue: SSE, a dead-letter queue with redrive, S3 may send (this bucket, this account), the reader reads.
    let q = "region.eu-central-1.queue";
    assert_eq!(field_of(&d, q, "encryption"), "SSE-SQS");
    assert_eq!(
        field_of(&d, q, "redrive_policy"),
        json!({"dead_letter_target_arn": "arn:aws:sqs:eu-central-1:123456789012:eks-audit-dlq", "max_receive_count": 5})
    );
    let policy = field_of(&d, q, "policy");
    let by_sid = |sid: &str| policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap().clone();
    let send = by_sid("S3SendMessage");
    assert_eq!(send["Principal"], json!({"Service": "s3.amazonaws.com"}));
    assert_eq!(send["Action"], "SQS:SendMessage");
    assert_eq!(
        send["Condition"],
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::eks-audit-123456789012-eu-central-1"}, "StringEquals": {"aws:SourceAccount": ACCOUNT}})
    );
    let consume = by_sid("ReaderConsume");
    assert_eq!(consume["Principal"]["AWS"], "arn:aws:iam::123456789012:role/OIDC_eks-audit-reader");
    assert!(consume["Action"].as_array().unwrap().contains(&json!("SQS:ReceiveMessage")));
    assert!(consume["Action"].as_array().unwrap().contains(&json!("SQS:DeleteMessage")));
    assert_eq!(field_of(&d, "region.eu-central-1.dead_letter_queue", "encryption"), "SSE-SQS");
    // The notification goes to the queue, and the reader may consume it and read the objects.
    let n = "region.eu-central-1.bucket_notification";
    assert_eq!(field_of(&d, n, "destination_type"), "queue");
    assert_eq!(field_of(&d, n, "queue_arn"), "arn:aws:sqs:eu-central-1:123456789012:eks-audit");
    let permissions = field_of(&d, "role.reader", "permissions").to_string();
    assert!(permissions.contains("ConsumeQueues") && !permissions.contains("sns:"), "{permissions}");

    let plan = diff(&d, &empty(&d), &options(&s));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert!(changes(&plan).contains(&(PROVIDER, Action::Create)));
    assert!(!diff(&d, &applied(&d), &options(&s)).has_changes(), "fully applied is no change");
    let gov = spec(&SENTINEL.replace("preset = \"sentinel\"", "preset = \"sentinel\"\nazure_cloud = \"government\""));
    let d = desired(&gov, &["prod-1"]);
    assert_eq!(
        field_of(&d, "oidc_provider.government", "client_ids"),
        json!(["api://d4230588-5f84-4281-a9c7-2c15194b28f7"])
    );
}

#[test]
fn an_existing_oidc_provider_is_reused_its_audience_added_and_it_is_deleted_only_when_ours_and_untrusted() {
    let s = spec(SENTINEL);
    let d = desired(&s, &["prod-1"]);
    // Someone else's provider (no tag of ours) without Sentinel's audience: the audience is added, nothing else.
    let mut o = applied(&d);
    let p = present(&mut o, PROVIDER);
    p.tags.clear();
    p.fields.insert("client_ids".into(), json!(["sts.amazonaws.com"]));
    let plan = diff(&d, &o, &options(&s));
    assert!(plan.errors.is_empty(), "a shared provider never blocks: {:?}", plan.errors);
    let r = plan.resources.iter().find(|r| r.address == PROVIDER).unwrap();
    assert_eq!(r.action, Action::Update);
    assert_eq!(r.changes.len(), 1, "only the audience, never the tags of another's provider: {:?}", r.changes);
    assert_eq!(
        r.changes[0].new,
        Some(json!(["sts.amazonaws.com", "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e"])),
        "other audiences stay"
    );
    assert!(r.reason.as_ref().unwrap().contains("shared"));
    // With the audience there, someone else's provider is simply used.
    let p = present(&mut o, PROVIDER);
    p.fields.insert("client_ids".into(), json!(["sts.amazonaws.com", "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e"]));
    assert!(!diff(&d, &o, &options(&s)).has_changes());

    // Destroy: someone else's is kept; ours is kept while another role trusts it; ours and untrusted goes.
    let kept = destroy_plan(&d, &o, &options(&s), true);
    assert!(kept.resources.iter().all(|r| r.address != PROVIDER));
    assert!(kept.notes.iter().any(|n| n.address == PROVIDER && n.message.contains("did not create it")));
    let mut ours = applied(&d);
    present(&mut ours, PROVIDER).fields.insert("trusted_by".into(), json!(["OIDC_other-team"]));
    let kept = destroy_plan(&d, &ours, &options(&s), true);
    assert!(kept.resources.iter().all(|r| r.address != PROVIDER));
    assert!(kept.notes.iter().any(|n| n.message.contains("OIDC_other-team still trusts it")), "{:?}", kept.notes);
    present(&mut ours, PROVIDER).fields.insert("trusted_by".into(), json!([]));
    let gone = destroy_plan(&d, &ours, &options(&s), true);
    assert_eq!(action_of(&gone, PROVIDER), Action::Delete);
}

#[test]
fn rad_trusts_its_role_with_tag_session_and_needs_no_notification() {
    let rad = with_consumer("preset = \"rad\"");
    let d = desired(&rad, &["prod-1"]);
    let a = addresses(&d);
    assert!(
        !a.iter().any(|a| a.ends_with(".topic") || a.ends_with("queue") || a.ends_with("bucket_notification")),
        "{a:?}"
    );
    let trust = &field_of(&d, "role.reader", "trust_policy")["Statement"][0];
    assert_eq!(trust["Principal"]["AWS"], "arn:aws:iam::955322216602:role/ksoc-data-pipeline");
    assert_eq!(trust["Action"], json!(["sts:AssumeRole", "sts:TagSession"]));
    assert!(trust.get("Condition").is_none(), "no external id given: none demanded");
    let permissions = field_of(&d, "role.reader", "permissions").to_string();
    assert!(permissions.contains("s3:ListBucket") && permissions.contains("s3:GetObject"));
    assert!(!permissions.contains("sns:") && !permissions.contains("sqs:"), "{permissions}");
    let with_id = with_consumer("preset = \"rad\"\nexternal_id = \"rad-external-id\"");
    let trust = &field_of(&desired(&with_id, &["prod-1"]), "role.reader", "trust_policy")["Statement"][0];
    assert_eq!(trust["Condition"]["StringEquals"]["sts:ExternalId"], "rad-external-id");
}

#[test]
fn rad_names_tags_and_scopes_as_its_module_and_the_spec_overrides_each() {
    let rad = with_consumer("preset = \"rad\"");
    let d = desired(&rad, &["prod-1"]);
    let n = Names::new(&rad, ACCOUNT);
    let bucket = n.bucket("eu-central-1");
    assert_eq!(bucket, format!("ksoc-eks-{}", eksaudit_spec::bucket_hex("eks-audit", ACCOUNT, "eu-central-1")));
    assert_eq!(bucket, Names::new(&rad, ACCOUNT).bucket("eu-central-1"), "stable");
    assert_ne!(bucket, Names::new(&rad, "210987654321").bucket("eu-central-1"), "per account");
    let bucket_resource = d.resources.iter().find(|r| r.address == "region.eu-central-1.bucket").unwrap();
    assert_eq!(bucket_resource.name, bucket);
    let tags = field_of(&d, "region.eu-central-1.bucket", "tags");
    assert_eq!(tags["ksoc-data-type"], "eks-audit-logs");
    assert_eq!(tags["team"], "security");
    let log_tags = field_of(&d, "region.eu-central-1.access_log_bucket", "tags");
    assert!(log_tags.get("ksoc-data-type").is_none(), "RAD must not find the access logs: {log_tags}");
    let reader = d.resources.iter().find(|r| r.address == "role.reader").unwrap();
    assert_eq!(reader.name, "ksoc-audit-logs");
    let statements = field_of(&d, "role.reader", "permissions")["Statement"].clone();
    let resources =
        |sid: &str| statements.as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap()["Resource"].clone();
    assert_eq!(resources("ListBuckets"), json!(["arn:aws:s3:::ksoc-eks-*"]));
    assert_eq!(resources("ReadObjects"), json!(["arn:aws:s3:::ksoc-eks-*/eks-audit-logs/*"]));
    // Every value the spec's own keys give wins, and a bucket of another name is read by its ARN.
    let own = with_consumer(
        "preset = \"rad\"\nreader_role_name = \"acme-reader\"\n\n[bucket]\nname = \"acme-{account}-{region}\"",
    );
    let d = desired(&own, &["prod-1"]);
    assert_eq!(d.resources.iter().find(|r| r.address == "role.reader").unwrap().name, "acme-reader");
    // A reused reader role must be granted the pipeline's buckets, not RAD's whole pattern.
    let reused =
        with_consumer("preset = \"rad\"\n\n[iam]\nreader_role_arn = \"arn:aws:iam::123456789012:role/rad-reader\"");
    let grants = field_of(&desired(&reused, &["prod-1"]), "role.reader", "grants").to_string();
    assert!(grants.contains(&format!("arn:aws:s3:::{bucket}")) && !grants.contains("ksoc-eks-*"), "{grants}");
    let statements = field_of(&d, "role.reader", "permissions")["Statement"].clone();
    let list = statements.as_array().unwrap().iter().find(|s| s["Sid"] == "ListBuckets").unwrap();
    assert_eq!(list["Resource"], json!([format!("arn:aws:s3:::acme-{ACCOUNT}-eu-central-1")]));
}

#[test]
fn forticnapp_writes_and_notifies_under_eks_audit_logs_and_each_account() {
    let forti = spec(FORTICNAPP);
    for account in [ACCOUNT, "210987654321"] {
        let d = DesiredState::build(&Inputs { spec: &forti, account, clusters: &clusters(&["prod-1"]) });
        let prefix = format!("eks_audit_logs/{account}/");
        assert_eq!(Names::new(&forti, account).prefix(), prefix);
        let field = |address: &str, name: &str| {
            d.resources.iter().find(|r| r.address == address).unwrap().fields[name].value.clone()
        };
        assert_eq!(field("region.eu-central-1.stream", "prefix"), json!(prefix));
        assert_eq!(field("region.eu-central-1.bucket_notification", "filter_prefix"), json!(prefix));
        let permissions = field("role.firehose", "permissions").to_string();
        assert!(permissions.contains(&format!("eu-central-1/{prefix}*")), "{permissions}");
        let reader = field("role.reader", "permissions").to_string();
        assert!(reader.contains(&format!("eu-central-1/{prefix}*")), "{reader}");
    }
}

const FORTICNAPP: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
preset = "forticnapp"
generate_external_id = true
tenant = "acme"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

#[test]
fn a_generated_external_id_is_made_once_and_then_read_back_from_the_role() {
    let s = spec(FORTICNAPP);
    let d = desired(&s, &["prod-1"]);
    let trust = field_of(&d, "role.reader", "trust_policy");
    let placeholder = "lweid:aws:v2:acme:123456789012:<generated>";
    assert_eq!(trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"], placeholder);
    assert_eq!(trust["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::434813966438:role/lacework-platform");
    // The topic lets the vendor's platform role subscribe its own queue.
    let topic = field_of(&d, "region.eu-central-1.topic", "policy");
    assert_eq!(topic["Statement"][1]["Principal"]["AWS"], "arn:aws:iam::434813966438:role/lacework-platform");

    // As apply leaves it: the role holds a generated id. That is in sync, and the outputs show it.
    let mut o = applied(&d);
    let live_id = "lweid:aws:v2:acme:123456789012:Q7ZK2M9D4X";
    let live = serde_json::to_string(&trust).unwrap().replace(placeholder, live_id);
    present(&mut o, "role.reader").fields.insert("trust_policy".into(), serde_json::from_str(&live).unwrap());
    assert!(!diff(&d, &o, &options(&s)).has_changes(), "the generated id is kept, not drift");
    let out = outputs::outputs(&s, &d, &o);
    assert_eq!(out.external_id.as_deref(), Some(live_id));
    assert!(out.missing.is_empty(), "{:?}", out.missing);

    // Another tenant: the id no longer fits, and the update generates a new one.
    let other = spec(&FORTICNAPP.replace("tenant = \"acme\"", "tenant = \"other\""));
    let d2 = desired(&other, &["prod-1"]);
    let plan = diff(&d2, &o, &options(&other));
    let r = plan.resources.iter().find(|r| r.address == "role.reader").unwrap();
    assert_eq!((r.action, r.changes[0].field.as_str()), (Action::Update, "trust_policy"));
    let new = r.changes[0].new.clone().unwrap().to_string();
    assert!(new.contains("lweid:aws:v2:other:123456789012:<generated>"), "{new}");
    // Before apply, outputs say the id does not exist yet.
    let none = outputs::outputs(&s, &d, &empty(&d));
    assert_eq!(none.external_id, None);
    assert!(none.missing.contains(&"role.reader".to_string()));
}

#[test]
fn switching_notify_from_sns_to_sqs_replaces_the_notification_and_deletes_the_topic() {
    let sns = spec(&SPEC.replace("sqs_queue_arn = \"arn:aws:sqs:us-west-2:434813966438:queue\"\n", ""));
    let before = desired(&sns, &["prod-1"]);
    let mut o = applied(&before);
    // Observe finds the topic, no longer implied, tagged ours: stale.
    let Some(Observation::Present(topic)) = o.resources.remove("region.eu-central-1.topic") else { panic!() };
    o.stale.push(StaleResource {
        address: "region.eu-central-1.topic".into(),
        kind: Kind::Topic,
        region: Some("eu-central-1".into()),
        name: "eks-audit".into(),
        fields: topic.fields,
    });
    for q in ["queue", "dead_letter_queue"] {
        o.resources.insert(format!("region.eu-central-1.{q}"), Observation::Absent);
    }
    let sqs = spec(&sns_to(&SPEC.replace("sqs_queue_arn = \"arn:aws:sqs:us-west-2:434813966438:queue\"\n", "")));
    let after = desired(&sqs, &["prod-1"]);
    let plan = diff(&after, &o, &options(&sqs));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(
        changes(&plan),
        [
            ("role.reader", Action::Update),
            // SNS no longer needs the key: its statement leaves the key policy.
            ("region.eu-central-1.kms_key", Action::Update),
            ("region.eu-central-1.dead_letter_queue", Action::Create),
            ("region.eu-central-1.queue", Action::Create),
            ("region.eu-central-1.bucket_notification", Action::Replace),
            ("region.eu-central-1.topic", Action::Delete),
        ]
    );
    let n = plan.resources.iter().find(|r| r.address.ends_with("bucket_notification")).unwrap();
    assert_eq!(n.reason.as_deref(), Some("destination_type cannot be changed in place"));
    insta::assert_snapshot!(render::text(&plan, Colors(false)));
}

fn sns_to(spec: &str) -> String {
    spec.replace("[consumer]", "[consumer]\nnotify = \"sqs\"")
}

#[test]
fn outputs_name_what_the_console_asks_for() {
    let s = spec(SENTINEL);
    let d = desired(&s, &["prod-1"]);
    let mut o = applied(&d);
    present(&mut o, "region.eu-central-1.queue")
        .fields
        .insert("url".into(), json!("https://sqs.eu-central-1.amazonaws.com/123456789012/eks-audit"));
    let out = outputs::outputs(&s, &d, &o);
    assert_eq!(out.reader_role_arn, "arn:aws:iam::123456789012:role/OIDC_eks-audit-reader");
    assert_eq!(out.external_id, None);
    assert_eq!(out.workspace_id.as_deref(), Some("0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"));
    assert_eq!(
        out.regions[0].queue_url.as_deref(),
        Some("https://sqs.eu-central-1.amazonaws.com/123456789012/eks-audit")
    );
    assert_eq!(out.regions[0].bucket_arn, "arn:aws:s3:::eks-audit-123456789012-eu-central-1");
    assert_eq!(out.regions[0].topic_arn, None);
    insta::assert_snapshot!(outputs::text(&out, Colors(false)));
    insta::assert_json_snapshot!(out);
}

// --- Addresses: every one the desired state makes is typed, and every path drift prints can be ignored --------

pub(crate) const ALERTS: &str = r#"
[alerts]
users = ["kubernetes-admin"]
email = ["secops@example.com"]
https = ["https://hooks.example.com/eks"]
"#;

/// Every preset and notify, with `[alerts]`, and every opt-out, in two regions.
fn every_kind_of_spec() -> Vec<(String, eksaudit_spec::Spec)> {
    let consumer = CONSUMER;
    let two_regions = |src: &str| format!("{src}\n[[region]]\nname = \"us-east-1\"\nclusters = [\"*\"]\n");
    let generic = |notify: &str| {
        SPEC.replace(
            consumer,
            &format!("account_id = \"434813966438\"\nexternal_id = \"external-id\"\nnotify = \"{notify}\""),
        )
    };
    let mut sources = vec![
        ("forticnapp".to_string(), FORTICNAPP.to_string()),
        ("rad".to_string(), SPEC.replace(consumer, "preset = \"rad\"")),
        ("sentinel".to_string(), SENTINEL.to_string()),
        ("generic, sns to a queue".to_string(), SPEC.to_string()),
        ("generic, sns".to_string(), generic("sns")),
        ("generic, sqs".to_string(), generic("sqs")),
        ("generic, none".to_string(), generic("none")),
        ("sse-s3, no access logging".to_string(), SPEC.replace("[[region]]", "[bucket]\nencryption = \"sse-s3\"\naccess_logging = false\n\n[[region]]")),
        (
            "a key brought along".to_string(),
            SPEC.replace("[[region]]", "[bucket]\nkms_key_arn = \"arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"\n\n[[region]]"),
        ),
        (
            "reused roles".to_string(),
            SPEC.replace(
                "[[region]]",
                "[iam]\nfirehose_role_arn = \"arn:aws:iam::123456789012:role/shared/fh\"\ncloudwatch_role_arn = \"arn:aws:iam::123456789012:role/shared-cwl\"\nreader_role_arn = \"arn:aws:iam::123456789012:role/reader\"\n\n[[region]]",
            ),
        ),
    ];
    let with_alerts: Vec<(String, String)> =
        sources.iter().map(|(name, src)| (format!("{name}, [alerts]"), format!("{src}{ALERTS}"))).collect();
    sources.extend(with_alerts);
    sources.push((
        "[alerts] to a topic brought along".to_string(),
        format!("{SPEC}\n[alerts]\nusers = [\"kubernetes-admin\"]\ntopic_arn = \"arn:aws:sns:eu-central-1:123456789012:secops\"\n"),
    ));
    sources
        .into_iter()
        .flat_map(|(name, src)| {
            // A key brought along is in one region: such a spec has one region.
            let two = (!name.starts_with("a key")).then(|| (format!("{name}, two regions"), two_regions(&src)));
            std::iter::once((name, src)).chain(two)
        })
        .map(|(name, src)| {
            let s = eksaudit_spec::parse_spec(&src).unwrap_or_else(|p| panic!("{name}: {p:?}"));
            (name, s)
        })
        .collect()
}

fn every_cluster(spec: &eksaudit_spec::Spec) -> BTreeMap<String, Vec<String>> {
    spec.regions.iter().map(|r| (r.name.clone(), vec!["prod-1".to_string(), "stage-a".to_string()])).collect()
}

/// Live AWS where every compared field and every tag but the owner's differs from the spec.
fn drifted(d: &DesiredState) -> ObservedState {
    let mut observed = applied(d);
    for r in &d.resources {
        let o = present(&mut observed, &r.address);
        for (key, value) in o.tags.iter_mut() {
            if key != eksaudit_spec::OWNER_TAG_KEY {
                *value = "drifted".into();
            }
        }
        for value in o.fields.values_mut() {
            *value = json!("drifted");
        }
    }
    observed
}

#[test]
fn every_address_is_typed_and_every_path_drift_prints_can_be_ignored() {
    use eksaudit_spec::rules::drift_ignore;
    let mut kinds = std::collections::BTreeSet::new();
    let mut tag_findings = 0;
    for (name, s) in every_kind_of_spec() {
        let clusters = every_cluster(&s);
        let d = DesiredState::build(&Inputs { spec: &s, account: ACCOUNT, clusters: &clusters });
        assert!(d.errors.is_empty(), "{name}: {:?}", d.errors);
        for r in &d.resources {
            kinds.insert(r.kind);
            let address: eksaudit_spec::Address = r.address.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(address.to_string(), r.address, "{name}");
            assert_eq!(address.region(), r.region.as_deref(), "{name}: {}", r.address);
            assert_eq!(drift_ignore(&r.address), Ok(()), "{name}: {}", r.address);
            for (field, value) in &r.fields {
                let path = format!("{}.{field}", r.address);
                assert_eq!(drift_ignore(&path), Ok(()), "{name}: {path}");
                if field == "tags" {
                    for key in value.value.as_object().expect("tags are a map").keys() {
                        let path = format!("{path}.{key}");
                        assert_eq!(drift_ignore(&path), Ok(()), "{name}: {path}");
                    }
                }
            }
        }
        // What drift prints, from an empty account and from one where everything drifted.
        for observed in [empty(&d), drifted(&d)] {
            let plan = diff(&d, &observed, &options(&s));
            for f in drift::findings(&plan, &[]) {
                assert_eq!(drift_ignore(&f.path), Ok(()), "{name}: {}", f.path);
                assert!(f.address.parse::<eksaudit_spec::Address>().is_ok(), "{name}: {}", f.address);
                tag_findings += usize::from(f.field.as_deref().is_some_and(|f| f.starts_with("tags.")));
            }
        }
    }
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), Kind::ALL, "the specs make every kind");
    assert!(tag_findings > 0, "the drifted account has tag findings");
}

#[test]
fn the_address_constants_are_the_typed_addresses() {
    use eksaudit_spec::{Address, RoleSlot};
    assert_eq!(desired::FORMER_READER_ROLE, Address::Role(RoleSlot::FormerReader).to_string());
    assert_eq!(alerts::ROLE_ADDRESS, Address::Role(RoleSlot::Alerts).to_string());
    assert_eq!(desired::oidc_provider_address("commercial"), PROVIDER);
}

#[test]
fn sentinel_streams_through_its_transform_which_only_firehose_may_invoke() {
    let d = desired(&spec(SENTINEL), &["prod-1"]);
    let stream = "region.eu-central-1.stream";
    let arn = "arn:aws:lambda:eu-central-1:123456789012:function:eks-audit-transform";
    assert_eq!(field_of(&d, stream, "compression"), "GZIP", "the rows, not CloudWatch's gzip: not gzip in gzip");
    assert_eq!(field_of(&d, stream, "file_extension"), ".gz");
    assert_eq!(
        field_of(&d, stream, "processing"),
        json!({"lambda_arn": arn, "buffer_size_mb": 1, "buffer_interval_seconds": 60})
    );
    let firehose = field_of(&d, "role.firehose", "permissions");
    let invoke: Vec<&Value> =
        firehose["Statement"].as_array().unwrap().iter().filter(|s| s["Sid"] == "InvokeTransform").collect();
    assert_eq!(invoke.len(), 1);
    assert_eq!(invoke[0]["Action"], json!(["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"]));
    assert_eq!(invoke[0]["Resource"], json!([arn]));
    // The transform's role may write its own logs and nothing else.
    let role = field_of(&d, "role.transform", "permissions");
    assert_eq!(
        role["Statement"],
        json!([{"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": ["arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/eks-audit-transform:*"]}])
    );
    assert_eq!(
        field_of(&d, "role.transform", "trust_policy")["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    let f = "region.eu-central-1.transform_function";
    assert_eq!(field_of(&d, f, "code_sha256"), json!(crate::package::Code::SentinelTransform.code_sha256()));
    assert_eq!(field_of(&d, f, "role_arn"), "arn:aws:iam::123456789012:role/eks-audit-transform");
    let group = "region.eu-central-1.transform_log_group";
    assert_eq!(field_of(&d, group, "retention_days"), 30);
    assert_eq!(field_of(&d, group, "kms_key_id"), "arn:aws:kms:eu-central-1:123456789012:alias/eks-audit");

    // Another preset: no processor (a processor left behind is drift), CloudWatch's own gzip as it is.
    let g = desired(&spec(SPEC), &["prod-1"]);
    assert_eq!(field_of(&g, stream, "processing"), Value::Null);
    assert_eq!(field_of(&g, stream, "compression"), "UNCOMPRESSED");
    assert_eq!(field_of(&g, stream, "file_extension"), "");
    assert!(!g.resources.iter().any(|r| r.address.contains("transform")));
}

#[test]
fn a_saved_plan_of_member_accounts_goes_stale_when_any_account_or_the_selection_changed() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1", "stage-a"]);
    let observed = empty(&d);
    let plan = diff(&d, &observed, &options(&s));
    let one = saved::save(&plan, &d, &observed, "0.1.0");
    let file = saved::save_accounts(vec![(observed.account.clone(), one)], "0.1.0");
    let file: Value = serde_json::from_str(&serde_json::to_string(&file).unwrap()).unwrap();
    let id = observed.account.clone();
    assert_eq!(saved::saved_accounts(&file), Some(vec![id.clone()]));
    assert_eq!(saved::check_accounts(&file, &[(id.clone(), &d, &observed)], "0.1.0"), Ok(()));
    // One account's live state changed: stale, named with its account.
    let mut live = observed.clone();
    live.resources.insert("region.eu-central-1.topic".into(), Observation::Present(ObservedResource::default()));
    assert_eq!(
        saved::check_accounts(&file, &[(id.clone(), &d, &live)], "0.1.0"),
        Err(saved::Stale::LiveChanged(vec![format!("{id}:region.eu-central-1.topic")]))
    );
    // Another account selected now, or none: stale.
    let other = ObservedState { account: "999999999999".into(), ..observed.clone() };
    let both = [(id.clone(), &d, &observed), ("999999999999".to_string(), &d, &other)];
    assert!(matches!(saved::check_accounts(&file, &both, "0.1.0"), Err(saved::Stale::OtherTarget(_))));
    assert!(matches!(saved::check_accounts(&file, &[], "0.1.0"), Err(saved::Stale::OtherTarget(_))));
    // A single-account plan is no plan of member accounts.
    let single = saved::save(&plan, &d, &observed, "0.1.0");
    assert!(matches!(
        saved::check_accounts(&single, &[(id, &d, &observed)], "0.1.0"),
        Err(saved::Stale::OtherTarget(_))
    ));
}

/// Every region of AWS's commercial partition eksaudit knows: what one spec can name at most.
fn commercial_regions() -> Vec<&'static str> {
    eksaudit_spec::KNOWN_REGIONS.iter().copied().filter(|r| eksaudit_spec::partition(r) == "aws").collect()
}

/// IAM's default limits on what the pipeline's roles carry, whitespace not counted: 2,048 characters of trust
/// policy (quota L-C07B4B0D) and 10,240 over a role's inline policies. The roles name resources in every region of
/// the spec. Every kind of consumer with `[alerts]` fits in 28 regions; with every commercial region, the roles that
/// would not fit are refused at plan, naming the role, its size and the fix, and every role plan does not refuse
/// fits.
#[test]
fn roles_past_iams_limits_are_refused_at_plan_and_the_rest_fit() {
    let mut largest = (0, 0);
    let mut refused = std::collections::BTreeSet::new();
    let every = commercial_regions();
    assert!(every.len() > 30, "{every:?}");
    for regions in [28, every.len()] {
        for (name, s) in every_kind_of_spec().into_iter().filter(|(n, _)| n.ends_with("[alerts], two regions")) {
            let mut s = s;
            let template = s.regions[0].clone();
            s.regions = every[..regions]
                .iter()
                .map(|r| eksaudit_spec::Region { name: r.to_string(), ..template.clone() })
                .collect();
            let d = DesiredState::build(&Inputs { spec: &s, account: ACCOUNT, clusters: &every_cluster(&s) });
            for r in d.resources.iter().filter(|r| r.kind == Kind::Role && r.management == Management::Owned) {
                // Counted as IAM does: the policy as JSON, whitespace left out.
                let size = |field: &str| {
                    r.fields.get(field).map_or(0, |f| {
                        serde_json::to_string_pretty(&f.value).unwrap().chars().filter(|c| !c.is_whitespace()).count()
                    })
                };
                let (trust, inline) = (size("trust_policy"), size("permissions"));
                let errors: Vec<&Message> = d.errors.iter().filter(|e| e.address == r.address).collect();
                if trust <= 2_048 && inline <= 10_240 {
                    assert!(errors.is_empty(), "{name}, {regions} regions, {}: {errors:?}", r.address);
                } else {
                    assert!(regions > 28, "{name}, {regions} regions, {}: {trust}, {inline}", r.address);
                    assert_eq!(errors.len(), 1, "{name}, {}: {errors:?}", r.address);
                    let text = &errors[0].message;
                    assert!(text.contains(&format!("would be {inline} characters, over the 10240")), "{text}");
                    assert!(errors[0].hint.contains("two specs"), "{:?}", errors[0]);
                    refused.insert(format!("{name}: {}", r.address));
                }
                largest = (largest.0.max(trust), largest.1.max(inline));
            }
        }
    }
    assert_eq!(
        refused.into_iter().collect::<Vec<_>>(),
        ["sentinel, [alerts], two regions: role.firehose"],
        "the one role that grows past IAM's limit with every region"
    );
    assert!(largest.0 > 1_000, "{largest:?}");
}

#[test]
fn adopt_takes_exactly_what_carries_the_owner_tag() {
    for (name, spec) in every_kind_of_spec() {
        let d = desired(&spec, &["prod-1"]);
        for r in &d.resources {
            let address: eksaudit_spec::Address = r.address.parse().unwrap();
            assert_eq!(address.is_adoptable(), r.kind.owner_tagged(), "{name}: {} ({:?})", r.address, r.kind);
        }
    }
}

#[test]
fn another_lifecycle_rule_that_expires_evidence_sooner_is_a_warning_drift_reports_and_apply_leaves() {
    let s = spec(SPEC);
    let d = desired(&s, &["prod-1", "stage-a"]);
    let mut o = applied(&d);
    // What observe lists: the others' rules that can expire the pipeline's objects (SPEC keeps them 180 days).
    present(&mut o, "region.eu-central-1.bucket").fields.insert(
        kinds::bucket::OTHER_EXPIRING_RULES.into(),
        json!([
            {"id": "tidy", "expire_current_days": 30, "expire_noncurrent_days": null, "expire_date": null},
            {"id": "old-versions", "expire_current_days": null, "expire_noncurrent_days": 7, "expire_date": null},
            {"id": "cutover", "expire_current_days": null, "expire_noncurrent_days": null, "expire_date": "2027-01-01T00:00:00Z"},
            {"id": "archive", "expire_current_days": 400, "expire_noncurrent_days": 180, "expire_date": null},
        ]),
    );
    let plan = diff(&d, &o, &options(&s));
    // Not ours to change: no change planned, nothing blocked.
    assert!(!plan.has_changes(), "{:?}", plan.resources.iter().find(|r| r.action != Action::NoOp));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let warned: Vec<&str> = plan.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        warned,
        [
            "lifecycle rule \"tidy\" of bucket eks-audit-123456789012-eu-central-1 expires the pipeline's objects after 30 days, sooner than the 180 days [bucket] retention_days keeps them",
            "lifecycle rule \"old-versions\" of bucket eks-audit-123456789012-eu-central-1 removes the pipeline's overwritten or deleted object versions after 7 days, sooner than the 180 days [bucket] retention_days keeps them",
            "lifecycle rule \"cutover\" of bucket eks-audit-123456789012-eu-central-1 expires the pipeline's objects on 2027-01-01T00:00:00Z, sooner than the 180 days [bucket] retention_days keeps them",
        ]
    );
    assert!(plan.warnings.iter().all(|w| w.address == "region.eu-central-1.bucket" && w.hint.contains("\"")));
    // Evidence deleted early is drift a person must settle.
    let found = drift::findings(&plan, &[]);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|f| f.kind == drift::FindingKind::Blocked && f.address == "region.eu-central-1.bucket"));

    // With retention_days = 0 (kept for ever), any expiry is too soon.
    let forever = spec(&SPEC.replace("[[region]]", "[bucket]\nretention_days = 0\n\n[[region]]"));
    let d = desired(&forever, &["prod-1", "stage-a"]);
    let mut o = applied(&d);
    present(&mut o, "region.eu-central-1.bucket").fields.insert(
        kinds::bucket::OTHER_EXPIRING_RULES.into(),
        json!([{"id": "archive", "expire_current_days": 4000, "expire_noncurrent_days": null, "expire_date": null}]),
    );
    let plan = diff(&d, &o, &options(&forever));
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(plan.warnings[0]
        .message
        .ends_with("after 4000 days, while [bucket] retention_days = 0 keeps them for ever"));
}

#[test]
fn a_lifecycle_rule_reaches_the_pipeline_objects_by_prefix_either_way() {
    let s = spec(SPEC);
    let n = Names::new(&s, ACCOUNT);
    let logs = kinds::bucket::evidence_prefixes(&n, &"region.eu-central-1.bucket".parse().unwrap());
    assert_eq!(logs, [n.prefix(), n.error_prefix()]);
    let access = kinds::bucket::evidence_prefixes(&n, &"region.eu-central-1.access_log_bucket".parse().unwrap());
    assert_eq!(access, [kinds::bucket::ACCESS_LOG_PREFIX]);
    let prefix = n.prefix();
    // The whole bucket, a start of the prefix, or a part under it: all reach the pipeline's objects.
    for rule in ["", &prefix[..1], prefix.as_str(), &format!("{prefix}2026/")] {
        assert!(kinds::bucket::reaches(rule, &logs), "{rule:?} {logs:?}");
    }
    // Another prefix does not.
    assert!(!kinds::bucket::reaches("scratch/", &logs));
    assert!(!kinds::bucket::reaches("eks-audit-logs/", &access));
}
