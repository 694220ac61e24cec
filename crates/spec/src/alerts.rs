//! `[alerts]`: real-time alerts on manual changes to what matters in a cluster. The model, its defaults and the
//! default alert pattern, built from the spec's users and namespaces.

/// The write verbs the default pattern alerts on.
pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];
/// Cluster-wide objects whose every write alerts.
pub const CLUSTER_RESOURCES: [&str; 2] = ["clusterroles", "clusterrolebindings"];
/// Namespaced objects whose writes in the spec's namespaces alert (pod exec too, whatever its verb).
pub const NAMESPACED_RESOURCES: [&str; 4] = ["roles", "rolebindings", "secrets", "serviceaccounts"];
pub const DEFAULT_USERS: [&str; 1] = ["kubernetes-admin"];
pub const DEFAULT_NAMESPACES: [&str; 1] = ["kube-system"];
/// Retention of the alert function's own log group.
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerts {
    /// Globs (`*` at the start or end) of the Kubernetes user names whose changes alert.
    pub users: Vec<String>,
    /// Namespaces (or globs) where namespaced objects and pod exec alert.
    pub namespaces: Vec<String>,
    /// The subscription filter's pattern: the user's own, or [`default_pattern`] of users and namespaces.
    pub pattern: String,
    /// An existing topic to publish to instead of the one eksaudit creates per region.
    pub topic_arn: Option<String>,
    /// Email addresses subscribed to each region's alerts topic.
    pub email: Vec<String>,
    /// HTTPS endpoints subscribed to each region's alerts topic.
    pub https: Vec<String>,
    /// Retention of the alert function's log group.
    pub log_retention_days: u32,
}

fn any_of(selector: &str, values: &[impl AsRef<str>]) -> String {
    let terms: Vec<String> = values.iter().map(|v| format!("{selector} = \"{}\"", v.as_ref())).collect();
    format!("({})", terms.join(" || "))
}

/// The default alert pattern: a completed request by one of `users` that writes a cluster role (binding), or
/// writes a role, role binding, secret or service account in one of `namespaces`, or execs into a pod there.
pub fn default_pattern(users: &[String], namespaces: &[String]) -> String {
    let namespaced = any_of("$.objectRef.namespace", namespaces);
    format!(
        "{{ $.stage = \"ResponseComplete\" && {} && (({} && ({} || ({namespaced} && {}))) || ({namespaced} && $.objectRef.subresource = \"exec\")) }}",
        any_of("$.user.username", users),
        any_of("$.verb", &WRITE_VERBS),
        any_of("$.objectRef.resource", &CLUSTER_RESOURCES),
        any_of("$.objectRef.resource", &NAMESPACED_RESOURCES),
    )
}

/// A user or namespace glob as a filter-pattern value takes it: `*` only at the start or the end, no quote.
pub fn glob_value(value: &str) -> Result<(), String> {
    if value.is_empty() || value == "*" {
        return Err("an empty value or a lone `*` would match everyone".into());
    }
    if value.contains(['"', '\\']) || value.chars().any(char::is_control) {
        return Err(format!("{value:?} contains a quote, backslash or control character"));
    }
    let inner = &value[value.starts_with('*') as usize..value.len() - value.ends_with('*') as usize];
    if inner.contains('*') || value.contains(['?', '[']) {
        return Err(format!(
            "{value:?}: CloudWatch Logs matches `*` only at the start or the end of a value, and no `?` or `[...]`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pattern_passes_eksaudits_own_validation() {
        let users = vec!["kubernetes-admin".to_string(), "sso-admin:*".to_string()];
        let namespaces = vec!["kube-system".to_string(), "vault".to_string()];
        let pattern = default_pattern(&users, &namespaces);
        crate::rules::filter_pattern(&pattern).unwrap();
        assert!(pattern.len() < 1024, "{}", pattern.len());
        let single = default_pattern(&DEFAULT_USERS.map(String::from), &DEFAULT_NAMESPACES.map(String::from));
        crate::rules::filter_pattern(&single).unwrap();
    }

    #[test]
    fn the_default_alert_pattern_forwards_the_manual_changes_of_the_testdata() {
        // The same users and namespaces as lambda/alerts/test_handler.py, which alerts on exactly these events.
        let users = vec!["kubernetes-admin".to_string(), "arn:aws:sts::*".to_string()];
        let namespaces = vec!["kube-system".to_string(), "default".to_string()];
        let pattern = eksaudit_filter::parse(&default_pattern(&users, &namespaces)).unwrap();
        let events = include_str!("../../../lambda/alerts/testdata/eks-audit-events.jsonl");
        let forwarded: Vec<usize> =
            events.lines().enumerate().filter(|(_, e)| pattern.matches(e)).map(|(i, _)| i).collect();
        // The secret create, the cluster-role-binding create (ResponseComplete), the pod exec; not the
        // RequestReceived stage, health checks, or the anonymous (forbidden) secret list.
        assert_eq!(forwarded, [0, 3, 5]);
        // Only in the listed namespaces: the same pod exec in another namespace is not an alert.
        let elsewhere = events.lines().nth(5).unwrap().replace("\"namespace\":\"default\"", "\"namespace\":\"apps\"");
        assert!(!pattern.matches(&elsewhere));
    }

    /// What the README promises the default pattern covers, spelled out here (not taken from the constants, so
    /// dropping a verb or a resource from them fails this test).
    #[test]
    fn the_default_alert_pattern_covers_every_write_to_what_matters_by_the_listed_users_only() {
        let pattern = eksaudit_filter::parse(&default_pattern(
            &["kubernetes-admin".to_string(), "arn:aws:sts::*".to_string()],
            &["kube-system".to_string()],
        ))
        .unwrap();
        let event = |user: &str, verb: &str, resource: &str, namespace: Option<&str>| {
            let namespace = namespace.map(|ns| format!(",\"namespace\":\"{ns}\"")).unwrap_or_default();
            format!(
                "{{\"stage\":\"ResponseComplete\",\"verb\":\"{verb}\",\"user\":{{\"username\":\"{user}\"}},\"objectRef\":{{\"resource\":\"{resource}\",\"name\":\"x\"{namespace}}}}}"
            )
        };
        let writes = ["create", "update", "patch", "delete", "deletecollection"];
        for verb in writes {
            for resource in ["clusterroles", "clusterrolebindings"] {
                assert!(pattern.matches(&event("kubernetes-admin", verb, resource, None)), "{verb} {resource}");
            }
            for resource in ["roles", "rolebindings", "secrets", "serviceaccounts"] {
                let admin =
                    event("arn:aws:sts::123456789012:assumed-role/admin/me", verb, resource, Some("kube-system"));
                assert!(pattern.matches(&admin), "{verb} {resource} in kube-system");
                assert!(
                    !pattern.matches(&event("kubernetes-admin", verb, resource, Some("apps"))),
                    "{resource} in apps"
                );
            }
            // Not a listed user: no alert, whatever it changes.
            assert!(!pattern.matches(&event("system:serviceaccount:ci:deployer", verb, "clusterroles", None)));
            // Not an object that matters.
            assert!(!pattern.matches(&event("kubernetes-admin", verb, "configmaps", Some("kube-system"))));
        }
        for verb in ["get", "list", "watch"] {
            assert!(!pattern.matches(&event("kubernetes-admin", verb, "secrets", Some("kube-system"))), "{verb}");
        }
    }

    const PIPELINE: &str = "[pipeline]\nname = \"eks-p\"\n[consumer]\naccount_id = \"434813966438\"\nexternal_id = \"x-id\"\n[[region]]\nname = \"eu-central-1\"\nclusters = [\"*\"]\n";

    #[test]
    fn alerts_are_off_unless_configured_and_default_to_the_built_pattern() {
        assert_eq!(crate::parse_spec(PIPELINE).unwrap().alerts, None);
        let spec = crate::parse_spec(&format!("{PIPELINE}[alerts]\n")).unwrap();
        let alerts = spec.alerts.clone().unwrap();
        assert_eq!(alerts.users, ["kubernetes-admin"]);
        assert_eq!(alerts.namespaces, ["kube-system"]);
        assert_eq!(alerts.pattern, default_pattern(&alerts.users, &alerts.namespaces));
        assert_eq!(alerts.log_retention_days, DEFAULT_LOG_RETENTION_DAYS);
        assert_eq!(spec.alerts_name(), "eks-p-alerts");
    }

    #[test]
    fn a_pattern_too_long_from_many_users_is_located() {
        let users: Vec<String> = (0..60).map(|i| format!("\"user-{i}\"")).collect();
        let problems = crate::parse_spec(&format!("{PIPELINE}[alerts]\nusers = [{}]\n", users.join(", "))).unwrap_err();
        assert!(problems.0.iter().any(|p| p.path == "alerts.users" && p.message.contains("1024")), "{problems:?}");
    }

    #[test]
    fn globs_are_what_a_pattern_value_takes() {
        assert!(glob_value("kubernetes-admin").is_ok());
        assert!(glob_value("sso-*").is_ok());
        assert!(glob_value("*:admin").is_ok());
        assert!(glob_value("a*b").is_err());
        assert!(glob_value("*").is_err());
        assert!(glob_value("say \"hi\"").is_err());
        assert!(glob_value("user?").is_err());
    }
}
