//! Built-in EKS audit events, the classes of events a consumer needs, and the check that a pattern does not drop
//! a whole class.

use serde_json::Value as Json;

use crate::ast::Pattern;
use crate::eval::parse_event;

/// Realistic `audit.k8s.io/v1` events as EKS writes them to `/aws/eks/<cluster>/cluster`, one a line: writes,
/// secret access, execs, forbidden requests, reads, and the probe and discovery noise a pattern should drop.
pub const SAMPLE_EVENTS: &str = include_str!("../samples/eks-audit-events.jsonl");

/// A kind of audit event a security consumer needs to see. An event is in a class only at the
/// `ResponseComplete` stage: that record carries the outcome (the response code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Completed writes: create, update, patch, delete, deletecollection.
    Write,
    /// `exec` or `attach` into a pod.
    Exec,
    /// Requests the API server refused with 403.
    Forbidden,
    /// Any access to secrets.
    Secret,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Write, Class::Exec, Class::Forbidden, Class::Secret];

    pub fn name(self) -> &'static str {
        match self {
            Class::Write => "write",
            Class::Exec => "exec",
            Class::Forbidden => "forbidden",
            Class::Secret => "secret",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Class::Write => "completed writes: create, update, patch, delete",
            Class::Exec => "exec or attach into a pod",
            Class::Forbidden => "requests refused with 403 Forbidden",
            Class::Secret => "access to secrets",
        }
    }

    /// The classes an audit event is in.
    pub fn of(event: &Json) -> Vec<Class> {
        let s = |path: &[&str]| path.iter().try_fold(event, |v, k| v.get(k)).and_then(Json::as_str);
        if s(&["stage"]) != Some("ResponseComplete") {
            return Vec::new();
        }
        let verb = s(&["verb"]).unwrap_or_default();
        let resource = s(&["objectRef", "resource"]).unwrap_or_default();
        let subresource = s(&["objectRef", "subresource"]).unwrap_or_default();
        let code = event.get("responseStatus").and_then(|r| r.get("code")).and_then(Json::as_i64);
        let mut out = Vec::new();
        if matches!(verb, "create" | "update" | "patch" | "delete" | "deletecollection") {
            out.push(Class::Write);
        }
        if resource == "pods" && matches!(subresource, "exec" | "attach") {
            out.push(Class::Exec);
        }
        if code == Some(403) {
            out.push(Class::Forbidden);
        }
        if resource == "secrets" {
            out.push(Class::Secret);
        }
        out
    }
}

/// One log event to test a pattern against: its text (what the pattern sees) and, when it is JSON, the parse.
#[derive(Debug, Clone)]
pub struct Event {
    /// 1-based line in its file (or in the built-in set).
    pub line: usize,
    pub text: String,
    pub json: Option<Json>,
}

impl Event {
    pub fn new(line: usize, text: impl Into<String>) -> Event {
        let text = text.into();
        let json = parse_event(&text);
        Event { line, text, json }
    }

    pub fn classes(&self) -> Vec<Class> {
        self.json.as_ref().map(Class::of).unwrap_or_default()
    }

    pub fn info(&self) -> EventInfo {
        self.json.as_ref().map(EventInfo::of).unwrap_or_default()
    }

    pub fn forwarded_by(&self, pattern: &Pattern) -> bool {
        pattern.matches_parsed(&self.text, self.json.as_ref())
    }
}

/// The built-in events.
pub fn samples() -> Vec<Event> {
    SAMPLE_EVENTS.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| Event::new(i + 1, l)).collect()
}

/// What identifies an audit event to people: verb, what it touched, who, which stage, the response code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInfo {
    pub verb: Option<String>,
    /// `secrets payments/stripe-api-key`, `pods/exec default/web-0`, `clusterrolebindings cluster-admin-bob`.
    pub resource: Option<String>,
    pub request_uri: Option<String>,
    pub user: Option<String>,
    pub stage: Option<String>,
    pub code: Option<i64>,
}

impl EventInfo {
    pub fn of(event: &Json) -> EventInfo {
        let s = |path: &[&str]| path.iter().try_fold(event, |v, k| v.get(k)).and_then(Json::as_str).map(str::to_string);
        let resource = s(&["objectRef", "resource"]).map(|r| {
            let r = match s(&["objectRef", "subresource"]) {
                Some(sub) => format!("{r}/{sub}"),
                None => r,
            };
            match (s(&["objectRef", "namespace"]), s(&["objectRef", "name"])) {
                (Some(ns), Some(name)) => format!("{r} {ns}/{name}"),
                (None, Some(name)) => format!("{r} {name}"),
                (Some(ns), None) => format!("{r} in {ns}"),
                (None, None) => r,
            }
        });
        EventInfo {
            verb: s(&["verb"]),
            resource,
            request_uri: s(&["requestURI"]),
            user: s(&["user", "username"]),
            stage: s(&["stage"]),
            code: event.get("responseStatus").and_then(|r| r.get("code")).and_then(Json::as_i64),
        }
    }

    /// `create secrets payments/stripe-api-key`, or `get /healthz` for requests that touch no object.
    pub fn what(&self) -> String {
        let target = self.resource.clone().or_else(|| self.request_uri.clone()).unwrap_or_else(|| "?".into());
        match &self.verb {
            Some(v) => format!("{v} {target}"),
            None => target,
        }
    }
}

/// A class whose every built-in sample a pattern drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub class: Class,
    /// How many built-in samples are in the class (all dropped).
    pub samples: usize,
}

/// The classes among `needed` whose every built-in sample the pattern drops: the consumer would never see such
/// an event.
pub fn dropped_classes(pattern: &Pattern, needed: &[Class]) -> Vec<Gap> {
    let events = samples();
    needed
        .iter()
        .filter_map(|&class| {
            let members: Vec<&Event> = events.iter().filter(|e| e.classes().contains(&class)).collect();
            let dropped = !members.is_empty() && members.iter().all(|e| !e.forwarded_by(pattern));
            dropped.then_some(Gap { class, samples: members.len() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_an_audit_event_and_every_class_has_samples() {
        let events = samples();
        assert!(events.len() >= 20);
        for e in &events {
            let j = e.json.as_ref().unwrap_or_else(|| panic!("line {} is not JSON", e.line));
            assert_eq!(j["kind"], "Event");
            assert!(e.info().verb.is_some() && e.info().user.is_some() && e.info().stage.is_some());
        }
        for class in Class::ALL {
            let n = events.iter().filter(|e| e.classes().contains(&class)).count();
            assert!(n >= 2, "{} has {n} samples", class.name());
        }
    }

    #[test]
    fn events_are_identified_for_people() {
        let e = Event::new(
            1,
            r#"{"verb":"create","stage":"ResponseComplete","objectRef":{"resource":"pods","subresource":"exec","namespace":"default","name":"web-0"},"user":{"username":"carol"},"responseStatus":{"code":101},"requestURI":"/api/v1/namespaces/default/pods/web-0/exec"}"#,
        );
        assert_eq!(e.info().what(), "create pods/exec default/web-0");
        assert_eq!(e.classes(), [Class::Write, Class::Exec]);
        let e = Event::new(
            2,
            r#"{"verb":"get","stage":"ResponseComplete","requestURI":"/healthz","responseStatus":{"code":200}}"#,
        );
        assert_eq!(e.info().what(), "get /healthz");
        assert!(e.classes().is_empty());
    }
}
