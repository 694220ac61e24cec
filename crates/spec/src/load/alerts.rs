//! Loading `[alerts]`, with key paths like the rest of the spec.

use toml::de::{DeTable, DeValue};

use super::Ctx;
use crate::alerts::{self, Alerts};
use crate::rules;

impl Ctx<'_> {
    /// A list of strings, each checked by `rule`; `None` (reported) when any is wrong.
    fn string_list(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        example: &str,
        rule: impl Fn(&str) -> Result<(), String>,
        hint: &str,
    ) -> Option<Option<Vec<String>>> {
        let path = format!("alerts.{key}");
        let Some(v) = Self::value(t, key) else { return Some(None) };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(&path, v, "a list of strings", example);
            return None;
        };
        if items.is_empty() {
            self.push(
                &path,
                Some(v.span()),
                "the list is empty",
                Some(format!("for example: {example}; or leave {key} out")),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match item.get_ref().as_str() {
                Some(s) => match rule(s) {
                    Ok(()) if !self.not_listed_before(out.iter().map(String::as_str), &item_path, &item.span(), s) => {
                        ok = false;
                    }
                    Ok(()) => out.push(s.to_string()),
                    Err(message) => {
                        ok = false;
                        self.push(&item_path, Some(item.span()), message, Some(hint.to_string()));
                    }
                },
                None => {
                    ok = false;
                    self.wrong_type(&item_path, item, "a string", example);
                }
            }
        }
        ok.then_some(Some(out))
    }

    pub(super) fn alerts(&mut self, t: &DeTable<'_>) -> Option<Alerts> {
        self.check_keys(
            t,
            "alerts",
            &["users", "namespaces", "pattern", "topic_arn", "email", "https", "log_retention_days"],
        );
        let mut ok = true;
        let glob_hint =
            "write an exact name or put `*` only at the start or end, e.g. \"kubernetes-admin\" or \"sso-admin:*\"";
        let users = self.string_list(
            t,
            "users",
            "users = [\"kubernetes-admin\", \"sso-admin:*\"]",
            alerts::glob_value,
            glob_hint,
        );
        let namespaces = self.string_list(
            t,
            "namespaces",
            "namespaces = [\"kube-system\", \"vault\"]",
            alerts::glob_value,
            glob_hint,
        );
        let email = self.string_list(
            t,
            "email",
            "email = [\"secops@example.com\"]",
            |s| match s.split_once('@') {
                Some((user, host)) if !user.is_empty() && host.contains('.') && !s.contains(char::is_whitespace) => {
                    Ok(())
                }
                _ => Err(format!("{s:?} is not an email address")),
            },
            "SNS sends a confirmation to each address: write it as name@example.com",
        );
        let https = self.string_list(
            t,
            "https",
            "https = [\"https://events.pagerduty.com/integration/KEY/enqueue\"]",
            |s| match s.strip_prefix("https://") {
                Some(rest) if !rest.is_empty() && !s.contains(char::is_whitespace) => Ok(()),
                _ => Err(format!("{s:?} is not an https:// URL")),
            },
            "SNS delivers alerts over HTTPS only: start the endpoint with https://",
        );
        ok &= users.is_some() && namespaces.is_some() && email.is_some() && https.is_some();
        let topic_arn =
            self.string(t, "alerts", "topic_arn", "topic_arn = \"arn:aws:sns:eu-central-1:123456789012:eks-alerts\"");
        if let Some((arn, span)) = &topic_arn {
            ok &= self.check("alerts.topic_arn", span, rules::sns_topic_arn(arn).map(|_| ()));
            let subscribers = ["email", "https"].into_iter().filter(|k| t.contains_key(*k)).collect::<Vec<_>>();
            if !subscribers.is_empty() {
                ok = false;
                self.push(
                    "alerts.topic_arn",
                    Some(span.clone()),
                    format!(
                        "{} subscribe to the topic eksaudit creates, but topic_arn names your own",
                        subscribers.join(" and ")
                    ),
                    Some(
                        "subscribe them to your topic yourself, or remove topic_arn so eksaudit creates one per region"
                            .into(),
                    ),
                );
            }
        }
        let retention = self.integer(t, "alerts", "log_retention_days", "log_retention_days = 30");
        if let Some((d, s)) = &retention {
            ok &= self.check("alerts.log_retention_days", s, rules::log_retention_days(*d));
        }
        let pattern = match self.string(t, "alerts", "pattern", "pattern = \"{ $.verb = \\\"delete\\\" }\"") {
            None if t.contains_key("pattern") => None,
            Some((p, s)) => {
                for key in ["users", "namespaces"] {
                    if let Some((k, _)) = t.get_key_value(key) {
                        ok = false;
                        self.push(
                            format!("alerts.{key}"),
                            Some(k.span()),
                            format!("{key} shapes the default pattern, but pattern is set"),
                            Some(format!("remove {key}, or remove pattern to use the default one built from users and namespaces")),
                        );
                    }
                }
                self.check("alerts.pattern", &s, rules::filter_pattern(&p)).then_some(p)
            }
            None => {
                let users = users.clone().flatten().unwrap_or_else(|| alerts::DEFAULT_USERS.map(String::from).to_vec());
                let namespaces = namespaces
                    .clone()
                    .flatten()
                    .unwrap_or_else(|| alerts::DEFAULT_NAMESPACES.map(String::from).to_vec());
                let p = alerts::default_pattern(&users, &namespaces);
                if ok {
                    let span = t.get("users").or_else(|| t.get("namespaces")).map(|v| v.span());
                    if let Err(rules::Invalid { message, .. }) = rules::filter_pattern(&p) {
                        ok = false;
                        self.push(
                            "alerts.users",
                            span,
                            format!("the alert pattern built from users and namespaces is invalid: {message}"),
                            Some("list fewer users or namespaces (use globs such as \"sso-*\"), or write your own pattern".into()),
                        );
                    }
                }
                Some(p)
            }
        };
        ok &= pattern.is_some();
        if !ok {
            return None;
        }
        Some(Alerts {
            users: users.flatten().unwrap_or_else(|| alerts::DEFAULT_USERS.map(String::from).to_vec()),
            namespaces: namespaces.flatten().unwrap_or_else(|| alerts::DEFAULT_NAMESPACES.map(String::from).to_vec()),
            pattern: pattern?,
            topic_arn: topic_arn.map(|(a, _)| a),
            email: email.flatten().unwrap_or_default(),
            https: https.flatten().unwrap_or_default(),
            log_retention_days: retention.map_or(alerts::DEFAULT_LOG_RETENTION_DAYS, |(d, _)| d as u32),
        })
    }
}
