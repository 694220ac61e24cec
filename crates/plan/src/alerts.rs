//! `[alerts]` in the desired state: per region a Lambda function (its code is in this repository and packaged
//! by [`crate::package`], no download), its log group and the permission for CloudWatch Logs to invoke it, an
//! alerts topic; per matched cluster a second subscription filter; one role for the function. What each of them
//! is lives in its kind's module (`kinds/`); this is the walk that adds them. Pure.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, Spec};

use crate::kinds;
use crate::model::DesiredResource;
use crate::names::Names;
use crate::report::{Cause, Message};

pub use crate::kinds::function::{HANDLER, MEMORY_MB, RUNTIME, TIMEOUT_SECONDS};
/// The address of the role the alert function runs as.
pub use crate::kinds::role::ALERTS_ROLE as ROLE_ADDRESS;
pub use crate::package::{code_sha256, package, HANDLER_FILE, HANDLER_SOURCE};

/// Names and ARNs of the alerts resources (a view of [`Names`], which holds the formats).
pub struct AlertNames<'a> {
    pub spec: &'a Spec,
    pub account: &'a str,
    pub partition: &'static str,
}

impl AlertNames<'_> {
    pub fn new<'a>(spec: &'a Spec, account: &'a str) -> AlertNames<'a> {
        let n = Names::new(spec, account);
        AlertNames { spec, account, partition: n.partition }
    }
    fn names(&self) -> Names<'_> {
        Names { spec: self.spec, account: self.account, partition: self.partition }
    }
    pub fn function_arn(&self, region: &str) -> String {
        self.names().alerts_function_arn(region)
    }
    pub fn topic_arn(&self, region: &str) -> String {
        self.names().alerts_topic_arn(region)
    }
    pub fn role_arn(&self) -> String {
        self.names().alerts_role_arn()
    }
    pub fn log_group(&self) -> String {
        self.names().alerts_log_group()
    }
    /// CloudWatch Logs may invoke the function for the EKS control-plane log groups of this account and region.
    pub fn source_arn(&self, region: &str) -> String {
        self.names().alerts_source_arn(region)
    }
    /// The permission's statement id.
    pub fn statement_id(&self) -> String {
        self.names().alerts_statement_id()
    }
}

/// Adds the alerts resources of `[alerts]` (nothing when it is absent), after the pipeline's, once the clusters
/// each region matched are known.
pub(crate) fn add(
    n: &Names<'_>,
    matched_clusters: &BTreeMap<String, Vec<String>>,
    resources: &mut Vec<DesiredResource>,
    warnings: &mut Vec<Message>,
) {
    let spec = n.spec;
    let Some(alerts) = &spec.alerts else { return };
    resources.push(kinds::role::alerts(n));
    for region in &spec.regions {
        let r = region.name.as_str();
        resources.extend(kinds::topic::alerts(n, r));
        resources.extend(kinds::topic_subscription::alerts(n, r));
        resources.push(kinds::log_group::function(n, r, alerts.log_retention_days));
        resources.push(kinds::queue::alerts_dead_letter(n, r));
        resources.push(kinds::function::desired(n, r));
        resources.push(kinds::permission::desired(n, r));
        let matched = matched_clusters.get(r).map(Vec::as_slice).unwrap_or_default();
        for cluster in matched {
            resources.push(kinds::filter::alerts(n, r, cluster, &alerts.pattern));
        }
        if !matched.is_empty() {
            warnings.push(
                Message::new(
                    eksaudit_spec::Address::Region { region: r.to_string() }.to_string(),
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
    use eksaudit_spec::address::{ClusterSlot, RegionalSlot, RoleSlot};
    match address.parse::<Address>() {
        Ok(Address::Role(slot)) => slot == RoleSlot::Alerts,
        Ok(Address::Regional { slot, .. }) => matches!(
            slot,
            RegionalSlot::AlertsTopic
                | RegionalSlot::AlertsLogGroup
                | RegionalSlot::AlertsFunction
                | RegionalSlot::AlertsPermission
                | RegionalSlot::AlertsDeadLetterQueue
        ),
        Ok(Address::AlertsSubscription { .. }) => true,
        Ok(Address::ClusterResource { slot, .. }) => slot == ClusterSlot::AlertsFilter,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{DesiredState, Inputs};

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
    fn the_alerts_addresses_are_exactly_what_alerts_adds() {
        let build = |src: &str| {
            let spec = eksaudit_spec::parse_spec(src).unwrap();
            let clusters = BTreeMap::from([("eu-central-1".to_string(), vec!["prod-1".to_string()])]);
            let d = DesiredState::build(&Inputs { spec: &spec, account: "123456789012", clusters: &clusters });
            d.resources.into_iter().map(|r| r.address).collect::<std::collections::BTreeSet<_>>()
        };
        let with = build(&SPEC.replace("users = [", "email = [\"sec@example.com\"]\nusers = ["));
        let without = build(&SPEC[..SPEC.find("[alerts]").unwrap()]);
        let added: Vec<&String> = with.difference(&without).collect();
        assert!(added.iter().any(|a| a.contains("alerts_subscription")), "{added:?}");
        let marked: Vec<&String> = with.iter().filter(|a| is_alerts_address(a)).collect();
        assert_eq!(marked, added);
    }

    #[test]
    fn the_alerts_role_may_only_log_publish_and_send_failed_alerts_to_its_dead_letter_queue() {
        let d = desired();
        let role = d.resources.iter().find(|r| r.address == ROLE_ADDRESS).unwrap();
        let statements = role.fields["permissions"].value["Statement"].as_array().unwrap().clone();
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[2]["Action"], json!(["sqs:SendMessage"]));
        assert_eq!(statements[2]["Resource"], json!(["arn:aws:sqs:eu-central-1:123456789012:eks-audit-alerts-dlq"]));
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
    fn the_function_names_its_encrypted_long_kept_dead_letter_queue() {
        let d = desired();
        let find = |a: &str| d.resources.iter().find(|r| r.address == a).unwrap();
        let function = find("region.eu-central-1.alerts_function");
        assert_eq!(
            function.fields["dead_letter_target_arn"].value,
            json!("arn:aws:sqs:eu-central-1:123456789012:eks-audit-alerts-dlq")
        );
        let queue = find("region.eu-central-1.alerts_dead_letter_queue");
        assert_eq!((queue.kind, queue.name.as_str()), (crate::Kind::Queue, "eks-audit-alerts-dlq"));
        assert_eq!(queue.fields["encryption"].value, json!("SSE-KMS"));
        assert_eq!(queue.fields["kms_key"].value, json!("arn:aws:kms:eu-central-1:123456789012:alias/eks-audit"));
        assert_eq!(queue.fields["message_retention_seconds"].value, json!(1_209_600));
        assert!(queue.fields.contains_key("tags"));
        // The key lets the function's role use it for this queue only, through SQS.
        let key = find("region.eu-central-1.kms_key");
        let statements = key.fields["policy"].value["Statement"].as_array().unwrap();
        let sends = statements.iter().find(|s| s["Sid"] == "AlertsFunctionSendsFailedAlerts").unwrap();
        assert_eq!(sends["Principal"]["AWS"], json!("arn:aws:iam::123456789012:role/eks-audit-alerts"));
        assert_eq!(
            sends["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sqs:arn"],
            json!("arn:aws:sqs:eu-central-1:123456789012:eks-audit-alerts-dlq")
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
        let plan = diff(
            &d,
            &o,
            &DiffOptions { pipeline: "eks-audit".into(), adopt: eksaudit_spec::Adopt::Nothing, keep_log_data: true },
        );
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        let warning = plan.warnings.iter().find(|w| w.address == full).expect("a warning on the full log group");
        assert_eq!(warning.cause, Cause::Blocked);
        let action = |a: &str| plan.resources.iter().find(|r| r.address == a).map(|r| r.action);
        assert_eq!(action(full), None);
        assert_eq!(action("region.eu-central-1.cluster.prod-2.filter"), Some(Action::Create));
        assert_eq!(action("region.eu-central-1.cluster.prod-1.alerts_filter"), Some(Action::Create));
    }
}
