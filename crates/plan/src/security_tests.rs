//! The pipeline's KMS key policy, its bucket policies and the key's place in destroy: pure, from a spec.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::*;

const ACCOUNT: &str = "123456789012";

const SPEC: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

fn desired(src: &str) -> DesiredState {
    let spec = eksaudit_spec::parse_spec(src).unwrap();
    let clusters = BTreeMap::from([("eu-central-1".to_string(), vec!["prod-1".to_string()])]);
    DesiredState::build(&Inputs { spec: &spec, account: ACCOUNT, clusters: &clusters })
}

fn field(d: &DesiredState, address: &str, name: &str) -> Value {
    d.resources.iter().find(|r| r.address == address).unwrap_or_else(|| panic!("no {address}")).fields[name]
        .value
        .clone()
}

fn by_sid(policy: &Value) -> BTreeMap<String, Value> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["Sid"].as_str().unwrap().to_string(), s.clone()))
        .collect()
}

/// CloudWatch Logs of the key's region uses it only for this account's log groups of that region (the encryption
/// context AWS binds each use to), and the log groups eksaudit creates name it; `encrypt_log_groups = false` and a
/// brought key leave both out.
#[test]
fn the_key_encrypts_the_log_groups_eksaudit_creates_unless_opted_out() {
    let d = desired(SPEC);
    let s = by_sid(&field(&d, "region.eu-central-1.kms_key", "policy"));
    let logs = &s["LogsEncryptsLogGroups"];
    assert_eq!(logs["Principal"], json!({"Service": "logs.eu-central-1.amazonaws.com"}));
    assert_eq!(
        logs["Condition"],
        json!({"StringLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-central-1:123456789012:log-group:*"}})
    );
    let alias = json!("arn:aws:kms:eu-central-1:123456789012:alias/eks-audit");
    assert_eq!(field(&d, "region.eu-central-1.firehose_log_group", "kms_key_id"), alias);
    let cluster_groups: Vec<&DesiredResource> =
        d.resources.iter().filter(|r| r.address.ends_with(".log_group")).collect();
    assert!(!cluster_groups.is_empty());
    for g in cluster_groups {
        assert_eq!(g.fields["kms_key_id"].value, alias);
        assert_eq!(g.fields["kms_key_id"].compare, crate::Compare::CreateOnly, "EKS's own group is never changed");
    }

    // With [alerts], the function's environment too, and the account may have Lambda use the key (only via Lambda).
    let with_alerts = desired(&format!("{SPEC}\n[alerts]\nusers = [\"kubernetes-admin\"]\n"));
    assert_eq!(field(&with_alerts, "region.eu-central-1.alerts_function", "kms_key_arn"), alias);
    let s = by_sid(&field(&with_alerts, "region.eu-central-1.kms_key", "policy"));
    let lambda = &s["LambdaEncryptsFunctionEnvironment"];
    assert_eq!(lambda["Principal"], json!({"AWS": "arn:aws:iam::123456789012:root"}));
    assert_eq!(lambda["Condition"], json!({"StringEquals": {"kms:ViaService": "lambda.eu-central-1.amazonaws.com"}}));
    assert!(
        !by_sid(&field(&d, "region.eu-central-1.kms_key", "policy")).contains_key("LambdaEncryptsFunctionEnvironment")
    );

    for opted_out in [
        SPEC.replace("[[region]]", "[bucket]\nencrypt_log_groups = false\n\n[[region]]"),
        SPEC.replace(
            "[[region]]",
            "[bucket]\nkms_key_arn = \"arn:aws:kms:eu-central-1:123456789012:key/k\"\n\n[[region]]",
        ),
    ] {
        let d = desired(&opted_out);
        assert!(d.resources.iter().all(|r| !r.fields.contains_key("kms_key_id")), "{opted_out}");
        if let Some(key) = d.resources.iter().find(|r| r.address == "region.eu-central-1.kms_key") {
            assert!(!by_sid(&key.fields["policy"].value).contains_key("LogsEncryptsLogGroups"));
        }
    }
}

#[test]
fn the_key_policy_names_the_account_the_firehose_role_s3_sns_and_the_reader_and_nothing_else() {
    let d = desired(SPEC);
    let policy = field(&d, "region.eu-central-1.kms_key", "policy");
    let s = by_sid(&policy);
    assert_eq!(
        s.keys().collect::<Vec<_>>(),
        [
            "AccountAdministers",
            "FirehoseWritesObjects",
            "LogsEncryptsLogGroups",
            "ReaderReadsObjects",
            "S3Service",
            "SnsService"
        ]
    );
    let this_key = json!("arn:aws:kms:eu-central-1:123456789012:key/*");
    for (sid, statement) in &s {
        assert_eq!(statement["Effect"], "Allow");
        if sid == "AccountAdministers" {
            let alias = json!("arn:aws:kms:eu-central-1:123456789012:alias/eks-audit");
            assert_eq!(statement["Resource"], json!([this_key, alias]));
        } else {
            assert_eq!(statement["Resource"], this_key, "a key policy speaks of its own key only");
        }
        for action in statement["Action"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            assert!(action.starts_with("kms:") && !action.contains('*'), "{action}");
        }
    }
    let admin = &s["AccountAdministers"];
    assert_eq!(admin["Principal"], json!({"AWS": "arn:aws:iam::123456789012:root"}));
    let admin_actions: Vec<&str> = admin["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    // The account keeps the key manageable (no lock-out), but cannot use it on data through IAM.
    assert!(admin_actions.contains(&"kms:PutKeyPolicy"));
    assert!(!admin_actions.iter().any(|a| ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"].contains(a)));

    let firehose = &s["FirehoseWritesObjects"];
    assert_eq!(firehose["Principal"], json!({"AWS": "arn:aws:iam::123456789012:role/eks-audit-firehose"}));
    assert_eq!(firehose["Action"], json!(["kms:Decrypt", "kms:GenerateDataKey"]));
    assert_eq!(firehose["Condition"], json!({"StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}}));
    let reader = &s["ReaderReadsObjects"];
    assert_eq!(reader["Principal"], json!({"AWS": "arn:aws:iam::123456789012:role/eks-audit-reader"}));
    assert_eq!(reader["Action"], json!(["kms:Decrypt"]));
    assert_eq!(reader["Condition"], firehose["Condition"]);
    for (sid, service, source) in [
        ("S3Service", "s3.amazonaws.com", "arn:aws:s3:::eks-audit-123456789012-eu-central-1"),
        ("SnsService", "sns.amazonaws.com", "arn:aws:sns:eu-central-1:123456789012:eks-audit"),
    ] {
        assert_eq!(s[sid]["Principal"], json!({"Service": service}));
        assert_eq!(
            s[sid]["Condition"],
            json!({"ArnLike": {"aws:SourceArn": source}, "StringEquals": {"aws:SourceAccount": ACCOUNT}}),
            "{sid}: confused deputy"
        );
    }
}

#[test]
fn the_key_policy_has_no_sns_statement_without_a_topic_and_a_reused_role_is_named_as_given() {
    let sqs =
        SPEC.replace("external_id = \"external-id\"\n", "external_id = \"external-id\"\nnotify = \"sqs\"\n").replace(
            "[[region]]",
            "[iam]\nfirehose_role_arn = \"arn:aws:iam::123456789012:role/shared-firehose\"\n\n[[region]]",
        );
    let d = desired(&sqs);
    let s = by_sid(&field(&d, "region.eu-central-1.kms_key", "policy"));
    assert!(!s.contains_key("SnsService"));
    assert_eq!(s["FirehoseWritesObjects"]["Principal"]["AWS"], "arn:aws:iam::123456789012:role/shared-firehose");
}

#[test]
fn a_key_brought_along_or_sse_s3_means_no_key_of_the_pipeline() {
    let brought = desired(&SPEC.replace(
        "[[region]]",
        "[bucket]\nkms_key_arn = \"arn:aws:kms:eu-central-1:123456789012:key/k\"\n\n[[region]]",
    ));
    assert!(!brought.resources.iter().any(|r| r.kind == Kind::KmsKey));
    let key = "arn:aws:kms:eu-central-1:123456789012:key/k";
    assert_eq!(field(&brought, "region.eu-central-1.bucket", "encryption")["kms_key_id"], key);
    assert_eq!(field(&brought, "region.eu-central-1.topic", "kms_master_key_id"), key);
    // The roles are granted the brought key themselves, only through S3.
    let firehose = field(&brought, "role.firehose", "permissions").to_string();
    assert!(firehose.contains(key) && firehose.contains("kms:ViaService"), "{firehose}");

    let sse_s3 = desired(&SPEC.replace("[[region]]", "[bucket]\nencryption = \"sse-s3\"\n\n[[region]]"));
    assert!(!sse_s3.resources.iter().any(|r| r.kind == Kind::KmsKey));
    assert_eq!(field(&sse_s3, "region.eu-central-1.bucket", "encryption"), json!({"algorithm": "AES256"}));
    assert_eq!(field(&sse_s3, "region.eu-central-1.topic", "kms_master_key_id"), "");
    assert!(!field(&sse_s3, "role.reader", "permissions").to_string().contains("kms:"));
    assert_eq!(field(&sse_s3, "region.eu-central-1.stream", "encryption"), "ENABLED");
}

#[test]
fn the_bucket_policies_deny_plain_http_and_only_s3_logging_writes_access_logs() {
    let d = desired(SPEC);
    let bucket = field(&d, "region.eu-central-1.bucket", "policy");
    let statements = bucket["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Deny");
    assert_eq!(statements[0]["Condition"], json!({"Bool": {"aws:SecureTransport": "false"}}));

    let logs = field(&d, "region.eu-central-1.access_log_bucket", "policy");
    let s = by_sid(&logs);
    assert_eq!(s.len(), 2);
    let write = &s["S3ServerAccessLogs"];
    assert_eq!(write["Principal"], json!({"Service": "logging.s3.amazonaws.com"}));
    assert_eq!(write["Action"], json!(["s3:PutObject"]));
    assert_eq!(write["Resource"], "arn:aws:s3:::eks-audit-123456789012-eu-central-1-access-logs/s3-access-logs/*");
    assert_eq!(
        write["Condition"],
        json!({
            "ArnLike": {"aws:SourceArn": "arn:aws:s3:::eks-audit-123456789012-eu-central-1"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT}
        })
    );
    assert_eq!(s["DenyInsecureTransport"]["Effect"], "Deny");
    // The access-log bucket is not logged itself (that would log its own log writes).
    assert!(!d
        .resources
        .iter()
        .find(|r| r.address.ends_with(".access_log_bucket"))
        .unwrap()
        .fields
        .contains_key("logging"));

    let off = desired(&SPEC.replace("[[region]]", "[bucket]\naccess_logging = false\n\n[[region]]"));
    assert!(!off.resources.iter().any(|r| r.address.ends_with(".access_log_bucket")));
    assert_eq!(field(&off, "region.eu-central-1.bucket", "logging"), Value::Null);
}

/// Every resource of the pipeline present and ours.
fn all_present(d: &DesiredState) -> ObservedState {
    let mut observed = ObservedState { account: ACCOUNT.into(), ..Default::default() };
    for r in &d.resources {
        let tags = BTreeMap::from([(eksaudit_spec::OWNER_TAG_KEY.to_string(), "eks-audit".to_string())]);
        observed
            .resources
            .insert(r.address.clone(), Observation::Present(ObservedResource { tags, ..Default::default() }));
    }
    observed
}

fn options() -> DiffOptions {
    DiffOptions { pipeline: "eks-audit".into(), adopt: Default::default(), keep_log_data: true }
}

#[test]
fn destroy_schedules_the_key_only_with_its_buckets() {
    let d = desired(SPEC);
    let deleted = |plan: &Plan| -> Vec<String> { plan.resources.iter().map(|r| r.address.clone()).collect() };
    // Retained (the default): the buckets and their key stay.
    let retained = destroy_plan(&d, &all_present(&d), &options(), true);
    assert!(
        !deleted(&retained).iter().any(|a| a.ends_with(".kms_key") || a.ends_with("bucket")),
        "{:?}",
        deleted(&retained)
    );
    assert!(retained.notes.iter().any(|n| n.address == "region.eu-central-1.kms_key"));
    // Deleted: the key goes with them.
    let gone = destroy_plan(&d, &all_present(&d), &options(), false);
    for address in
        ["region.eu-central-1.kms_key", "region.eu-central-1.bucket", "region.eu-central-1.access_log_bucket"]
    {
        assert!(deleted(&gone).iter().any(|a| a == address), "{address}: {:?}", deleted(&gone));
    }
    // A bucket not ours stays, and so does the key it is encrypted with.
    let mut observed = all_present(&d);
    observed.resources.insert("region.eu-central-1.bucket".into(), Observation::Present(ObservedResource::default()));
    let kept = destroy_plan(&d, &observed, &options(), false);
    assert!(!deleted(&kept).iter().any(|a| a.contains("kms_key")), "{:?}", deleted(&kept));
    assert!(kept
        .notes
        .iter()
        .any(|n| n.address == "region.eu-central-1.kms_key" && n.message.contains("bucket it encrypts stays")));
    // A log group of ours made with the key stays (destroy keeps log data), and so does the key: CloudWatch Logs
    // needs it to read what was ingested under it. A group under another key does not hold it.
    let key_arn = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let alias_arn = "arn:aws:kms:eu-central-1:123456789012:alias/eks-audit";
    for (group_key, kept) in
        [(key_arn, true), (alias_arn, true), ("arn:aws:kms:eu-central-1:123456789012:key/another", false)]
    {
        let mut observed = all_present(&d);
        let mut key = ObservedResource::default();
        key.tags.insert(eksaudit_spec::OWNER_TAG_KEY.into(), "eks-audit".into());
        key.fields.insert("key_id".into(), json!("1234abcd-12ab-34cd-56ef-1234567890ab"));
        observed.resources.insert("region.eu-central-1.kms_key".into(), Observation::Present(key));
        let mut group = ObservedResource::default();
        group.fields.insert("kms_key_id".into(), json!(group_key));
        observed.resources.insert("region.eu-central-1.firehose_log_group".into(), Observation::Present(group));
        let plan = destroy_plan(&d, &observed, &options(), false);
        assert_eq!(!deleted(&plan).iter().any(|a| a.contains("kms_key")), kept, "{group_key}: {:?}", deleted(&plan));
        let note = plan.notes.iter().find(|n| n.address == "region.eu-central-1.kms_key");
        assert_eq!(note.is_some_and(|n| n.message.contains("encrypted with it and stays")), kept, "{:?}", plan.notes);
    }
    // A key of another pipeline is never touched.
    let mut observed = all_present(&d);
    observed.resources.insert("region.eu-central-1.kms_key".into(), Observation::Present(ObservedResource::default()));
    let foreign = destroy_plan(&d, &observed, &options(), false);
    assert!(!deleted(&foreign).iter().any(|a| a.contains("kms_key")));
}

#[test]
fn destroy_keeps_a_removed_alerts_dead_letter_queue_unless_on_destroy_deletes_it() {
    let d = desired(SPEC);
    let mut observed = all_present(&d);
    let address = "region.eu-central-1.alerts_dead_letter_queue";
    observed.stale.push(StaleResource {
        address: address.into(),
        kind: Kind::Queue,
        region: Some("eu-central-1".into()),
        name: "eks-audit-alerts-dlq".into(),
        fields: BTreeMap::new(),
    });
    let retained = destroy_plan(&d, &observed, &options(), true);
    assert!(!retained.resources.iter().any(|r| r.address == address), "{:?}", retained.resources);
    assert!(retained.notes.iter().any(|n| n.address == address && n.message.contains("failed alerts in it are kept")));
    let deleted = destroy_plan(&d, &observed, &options(), false);
    assert!(deleted.resources.iter().any(|r| r.address == address && r.action == Action::Delete));
}
