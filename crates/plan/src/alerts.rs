//! `[alerts]` in the desired state: per region a Lambda function (its code is in this repository and packaged
//! here, no download), its log group and the permission for CloudWatch Logs to invoke it, an alerts topic; per
//! matched cluster a second subscription filter; one role for the function. Pure.

use std::collections::BTreeMap;

use eksaudit_spec::{log_group_name, partition, Spec};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::desired::{resource, DesiredState, Inputs};
use crate::model::{DesiredResource, Field, Kind};
use crate::report::{Cause, Message};

/// The alert function's source, packaged into its zip at apply time.
pub const HANDLER_SOURCE: &str = include_str!("../../../lambda/alerts/handler.py");
/// The file name inside the zip and the handler Lambda calls.
pub const HANDLER_FILE: &str = "handler.py";
pub const HANDLER: &str = "handler.handler";
pub const RUNTIME: &str = "python3.12";
pub const TIMEOUT_SECONDS: i32 = 60;
pub const MEMORY_MB: i32 = 128;
/// The address of the role the alert function runs as.
pub const ROLE_ADDRESS: &str = "role.alerts";

/// The function's deployment package: a zip holding the handler, stored (not deflated) with a fixed timestamp,
/// so the same source always gives the same bytes and the same `CodeSha256`.
pub fn package() -> Vec<u8> {
    stored_zip(HANDLER_FILE, HANDLER_SOURCE.as_bytes())
}

/// What Lambda reports as the code's `CodeSha256`: base64 of the package's SHA-256.
pub fn code_sha256() -> String {
    base64(&Sha256::digest(package()))
}

fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32fast::hash(data);
    let (size, name_len) = (data.len() as u32, name.len() as u16);
    // 1980-01-01 00:00, the earliest MS-DOS date: a fixed time keeps the package reproducible.
    let (time, date) = (0u16, (1 << 5) | 1);
    let mut out = Vec::new();
    let common = |out: &mut Vec<u8>| {
        out.extend(20u16.to_le_bytes()); // version needed
        out.extend(0u16.to_le_bytes()); // flags
        out.extend(0u16.to_le_bytes()); // method: stored
        out.extend(time.to_le_bytes());
        out.extend((date as u16).to_le_bytes());
        out.extend(crc.to_le_bytes());
        out.extend(size.to_le_bytes());
        out.extend(size.to_le_bytes());
        out.extend(name_len.to_le_bytes());
        out.extend(0u16.to_le_bytes()); // extra length
    };
    out.extend(0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend(name.as_bytes());
    out.extend(data);
    let central = out.len() as u32;
    out.extend(0x0201_4b50u32.to_le_bytes());
    out.extend(0x031eu16.to_le_bytes()); // made by: Unix, 3.0
    common(&mut out);
    out.extend(0u16.to_le_bytes()); // comment length
    out.extend(0u16.to_le_bytes()); // disk number
    out.extend(0u16.to_le_bytes()); // internal attributes
    out.extend((0o100644u32 << 16).to_le_bytes()); // external attributes: a regular file, rw-r--r--
    out.extend(0u32.to_le_bytes()); // local header offset
    out.extend(name.as_bytes());
    let central_size = out.len() as u32 - central;
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(central_size.to_le_bytes());
    out.extend(central.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Names and ARNs of the alerts resources.
pub struct AlertNames<'a> {
    pub spec: &'a Spec,
    pub account: &'a str,
    pub partition: &'static str,
}

impl AlertNames<'_> {
    pub fn new<'a>(spec: &'a Spec, account: &'a str) -> AlertNames<'a> {
        AlertNames { spec, account, partition: spec.regions.first().map_or("aws", |r| partition(&r.name)) }
    }
    pub fn function_arn(&self, region: &str) -> String {
        format!("arn:{}:lambda:{region}:{}:function:{}", self.partition, self.account, self.spec.alerts_name())
    }
    pub fn topic_arn(&self, region: &str) -> String {
        match self.spec.alerts.as_ref().and_then(|a| a.topic_arn.clone()) {
            Some(arn) => arn,
            None => format!("arn:{}:sns:{region}:{}:{}", self.partition, self.account, self.spec.alerts_name()),
        }
    }
    pub fn role_arn(&self) -> String {
        format!("arn:{}:iam::{}:role/{}", self.partition, self.account, self.spec.alerts_name())
    }
    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.spec.alerts_name())
    }
    /// CloudWatch Logs may invoke the function for the EKS control-plane log groups of this account and region.
    pub fn source_arn(&self, region: &str) -> String {
        format!("arn:{}:logs:{region}:{}:log-group:/aws/eks/*/cluster:*", self.partition, self.account)
    }
    /// The permission's statement id.
    pub fn statement_id(&self) -> String {
        format!("{}-logs", self.spec.alerts_name())
    }
}

fn role(n: &AlertNames<'_>) -> DesiredResource {
    let regions: Vec<&str> = n.spec.regions.iter().map(|r| r.name.as_str()).collect();
    let log_streams: Vec<String> = regions
        .iter()
        .map(|r| format!("arn:{}:logs:{r}:{}:log-group:{}:*", n.partition, n.account, n.log_group()))
        .collect();
    let mut topics: Vec<String> = regions.iter().map(|r| n.topic_arn(r)).collect();
    topics.dedup();
    let permissions = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": log_streams},
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": topics},
    ]});
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": n.account}}
    }]});
    resource(
        ROLE_ADDRESS.into(),
        Kind::Role,
        None,
        n.spec.alerts_name(),
        BTreeMap::from([
            ("trust_policy".into(), Field::policy(trust)),
            ("permissions".into(), Field::policy(permissions)),
            ("attached_policies".into(), Field::exact(json!([]))),
            ("tags".into(), Field::tags(&n.spec.resource_tags())),
        ]),
    )
}

/// Adds the alerts resources of `[alerts]` (nothing when it is absent).
pub(crate) fn add(inputs: &Inputs<'_>, out: &mut DesiredState) {
    let spec = inputs.spec;
    let Some(alerts) = &spec.alerts else { return };
    let n = AlertNames::new(spec, inputs.account);
    let tags = spec.resource_tags();
    out.resources.push(role(&n));
    for region in &spec.regions {
        let r = region.name.as_str();
        let at = |what: &str| format!("region.{r}.{what}");
        if alerts.topic_arn.is_none() {
            let topic = n.topic_arn(r);
            let policy = json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "AccountPublishAndSubscribe",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{}:iam::{}:root", n.partition, n.account)},
                "Action": ["SNS:GetTopicAttributes", "SNS:Publish", "SNS:Subscribe"],
                "Resource": topic
            }]});
            out.resources.push(resource(
                at("alerts_topic"),
                Kind::Topic,
                Some(r),
                spec.alerts_name(),
                BTreeMap::from([
                    ("policy".into(), Field::policy(policy)),
                    ("tags".into(), Field::tags(&tags)),
                    // Encrypted at rest like the pipeline's topic (the key policy lets the alerts role use it).
                    (
                        "kms_master_key_id".into(),
                        Field::exact(json!(crate::desired::topic_key(spec, inputs.account, n.partition, r))),
                    ),
                ]),
            ));
            let endpoints = alerts.email.iter().map(|e| ("email", e)).chain(alerts.https.iter().map(|h| ("https", h)));
            for (i, (protocol, endpoint)) in endpoints.enumerate() {
                out.resources.push(resource(
                    at(&format!("alerts_subscription.{protocol}-{i}")),
                    Kind::TopicSubscription,
                    Some(r),
                    endpoint.clone(),
                    BTreeMap::from([
                        ("topic_arn".into(), Field::exact(json!(topic))),
                        ("protocol".into(), Field::exact(json!(protocol))),
                        ("endpoint".into(), Field::exact(json!(endpoint))),
                    ]),
                ));
            }
        }
        out.resources.push(resource(
            at("alerts_log_group"),
            Kind::FunctionLogGroup,
            Some(r),
            n.log_group(),
            BTreeMap::from([
                ("tags".into(), Field::tags(&tags)),
                ("retention_days".into(), Field::exact(json!(alerts.log_retention_days))),
            ]),
        ));
        out.resources.push(resource(
            at("alerts_function"),
            Kind::Function,
            Some(r),
            spec.alerts_name(),
            BTreeMap::from([
                ("runtime".into(), Field::exact(json!(RUNTIME))),
                ("handler".into(), Field::exact(json!(HANDLER))),
                ("role_arn".into(), Field::exact(json!(n.role_arn()))),
                ("code_sha256".into(), Field::exact(json!(code_sha256()))),
                ("timeout_seconds".into(), Field::exact(json!(TIMEOUT_SECONDS))),
                ("memory_mb".into(), Field::exact(json!(MEMORY_MB))),
                ("environment".into(), Field::exact(json!({"TOPIC_ARN": n.topic_arn(r)}))),
                ("tags".into(), Field::tags(&tags)),
            ]),
        ));
        out.resources.push(resource(
            at("alerts_permission"),
            Kind::FunctionPermission,
            Some(r),
            n.statement_id(),
            BTreeMap::from([
                ("function".into(), Field::exact(json!(spec.alerts_name())).force_new()),
                ("principal".into(), Field::exact(json!("logs.amazonaws.com")).force_new()),
                ("action".into(), Field::exact(json!("lambda:InvokeFunction")).force_new()),
                ("source_arn".into(), Field::exact(json!(n.source_arn(r))).force_new()),
                ("source_account".into(), Field::exact(json!(n.account)).force_new()),
            ]),
        ));
        let matched = out.matched_clusters.get(r).cloned().unwrap_or_default();
        for cluster in &matched {
            out.resources.push(resource(
                format!("region.{r}.cluster.{cluster}.alerts_filter"),
                Kind::SubscriptionFilter,
                Some(r),
                spec.alerts_name(),
                BTreeMap::from([
                    ("log_group".into(), Field::exact(json!(log_group_name(cluster))).force_new()),
                    ("filter_pattern".into(), Field::exact(json!(alerts.pattern))),
                    ("destination_arn".into(), Field::exact(json!(n.function_arn(r)))),
                    // A Lambda destination takes no role: its resource policy lets CloudWatch Logs invoke it.
                    ("role_arn".into(), Field::exact(json!(""))),
                ]),
            ));
        }
        if !matched.is_empty() {
            out.warnings.push(
                Message::new(
                    format!("region.{r}"),
                    format!(
                        "alerts use the second subscription filter slot of each selected log group ({}, beside {})",
                        spec.alerts_name(),
                        spec.filter_name()
                    ),
                    "CloudWatch Logs allows 2 filters per log group by default; the pipeline's filter comes first",
                )
                .because(Cause::Info),
            );
        }
    }
}

/// Whether an address is one of the alerts resources (`[alerts]`).
pub fn is_alerts_address(address: &str) -> bool {
    address == ROLE_ADDRESS || address.rsplit('.').next().is_some_and(|last| last.starts_with("alerts_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_is_a_zip_python_reads_and_is_reproducible() {
        let zip = package();
        assert_eq!(&zip[..4], b"PK\x03\x04");
        assert_eq!(zip, package());
        let dir = std::env::temp_dir().join(format!("eksaudit-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.zip");
        std::fs::write(&path, &zip).unwrap();
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; sys.stdout.write(z.read('handler.py').decode())"])
            .arg(&path)
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), HANDLER_SOURCE);
        std::fs::remove_dir_all(dir).ok();
    }

    const SPEC: &str = r#"
[pipeline]
name = "eks-audit"
[consumer]
account_id = "434813966438"
external_id = "external-id"
[[region]]
name = "eu-central-1"
clusters = ["prod-*"]
[alerts]
users = ["kubernetes-admin"]
"#;

    fn desired() -> DesiredState {
        let spec = eksaudit_spec::parse_spec(SPEC).unwrap();
        let clusters = BTreeMap::from([("eu-central-1".to_string(), vec!["prod-1".to_string(), "prod-2".to_string()])]);
        DesiredState::build(&Inputs { spec: &spec, account: "123456789012", clusters: &clusters })
    }

    #[test]
    fn the_alerts_role_may_only_log_and_publish_to_the_alerts_topic() {
        let d = desired();
        let role = d.resources.iter().find(|r| r.address == ROLE_ADDRESS).unwrap();
        let statements = role.fields["permissions"].value["Statement"].as_array().unwrap().clone();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[1]["Action"], json!(["sns:Publish"]));
        assert_eq!(statements[1]["Resource"], json!(["arn:aws:sns:eu-central-1:123456789012:eks-audit-alerts"]));
        assert_eq!(
            statements[0]["Resource"],
            json!(["arn:aws:logs:eu-central-1:123456789012:log-group:/aws/lambda/eks-audit-alerts:*"])
        );
        let filters: Vec<&str> =
            d.resources.iter().filter(|r| r.address.ends_with(".alerts_filter")).map(|r| r.address.as_str()).collect();
        assert_eq!(
            filters,
            ["region.eu-central-1.cluster.prod-1.alerts_filter", "region.eu-central-1.cluster.prod-2.alerts_filter"]
        );
    }

    #[test]
    fn a_full_log_group_warns_and_blocks_only_the_alerts_filter() {
        use crate::{diff, Action, DiffOptions, Observation, ObservedState};
        let d = desired();
        let mut o = ObservedState { account: "123456789012".into(), ..Default::default() };
        for r in &d.resources {
            o.resources.insert(r.address.clone(), Observation::Absent);
        }
        let full = "region.eu-central-1.cluster.prod-2.alerts_filter";
        o.neighbours.insert("region.eu-central-1.cluster.prod-2.filter".into(), vec!["their-siem".into()]);
        o.neighbours.insert(full.into(), vec!["their-siem".into(), "eks-audit".into()]);
        let plan = diff(&d, &o, &DiffOptions { pipeline: "eks-audit".into(), adopt: eksaudit_spec::Adopt::Nothing });
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        let warning = plan.warnings.iter().find(|w| w.address == full).expect("a warning on the full log group");
        assert_eq!(warning.cause, Cause::Blocked);
        let action = |a: &str| plan.resources.iter().find(|r| r.address == a).map(|r| r.action);
        assert_eq!(action(full), None);
        assert_eq!(action("region.eu-central-1.cluster.prod-2.filter"), Some(Action::Create));
        assert_eq!(action("region.eu-central-1.cluster.prod-1.alerts_filter"), Some(Action::Create));
    }

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(code_sha256().len(), 44);
    }
}
