//! The drift check: a plan read as findings. Everything apply would change is drift (`missing`, `changed`,
//! `unmanaged`); what apply cannot fix is `blocked`; what could not be read is `not_checked`, never "in sync".
//! Accepted differences (`[drift] ignore`) are counted, not hidden.

use std::fmt::Write;

use serde::Serialize;
use serde_json::{json, Value};

use eksaudit_spec::address::DELIVERY;
use eksaudit_spec::{Address, ClusterSlot, RegionalSlot};

use crate::health::{ConsumerReadings, Health, Link, Verdict as HealthVerdict};
use crate::palette;
use crate::render::{self, Colors};
use crate::report::{Action, Cause, FieldChange, Message, Plan, ResourceChange};

/// Version of the `drift --json` document; bumped on any incompatible change.
pub const DRIFT_FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A resource (or a cluster's filter, including a new cluster's) is not there.
    Missing,
    /// A field differs from what the spec wants.
    Changed,
    /// A resource eksaudit owns that the spec no longer implies.
    Unmanaged,
    /// Apply cannot fix it: it needs a person.
    Blocked,
    /// Audit logs (or alerts) are not flowing: a link of the delivery chain is stale, failing or lagging
    /// (`eksaudit status`'s verdicts, read with the configuration unless `--config-only`).
    Delivery,
    /// Could not be read: unknown, not in sync.
    NotChecked,
}

impl FindingKind {
    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Missing => "missing",
            FindingKind::Changed => "changed",
            FindingKind::Unmanaged => "unmanaged",
            FindingKind::Blocked => "blocked",
            FindingKind::Delivery => "delivery",
            FindingKind::NotChecked => "not_checked",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The address and field, the way `[drift] ignore` names it: `region.eu-central-1.bucket.tags.team`.
    pub path: String,
    pub address: String,
    pub region: Option<String>,
    /// What kind of resource, for people (`S3 bucket`).
    pub resource: String,
    pub name: String,
    pub field: Option<String>,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
    /// Why, in words (AWS's for not_checked).
    pub detail: String,
    /// What to do about it.
    pub fix: String,
    /// Matched a `[drift] ignore` rule: counted, not drift.
    pub ignored: bool,
}

/// The region a message's address is in; `None` for the account-wide ones and what is not an address.
fn region_of(address: &str) -> Option<String> {
    address.parse::<Address>().ok()?.region().map(str::to_string)
}

fn finding(kind: FindingKind, r: &ResourceChange, field: Option<String>, detail: String, fix: &str) -> Finding {
    Finding {
        kind,
        path: match &field {
            Some(f) => format!("{}.{f}", r.address),
            None => r.address.clone(),
        },
        address: r.address.clone(),
        region: r.region.clone(),
        resource: r.kind.label().to_string(),
        name: r.name.clone(),
        field,
        expected: None,
        actual: None,
        detail,
        fix: fix.to_string(),
        ignored: false,
    }
}

const APPLY_FIXES: &str = "run `eksaudit apply` to repair it";

/// One finding per changed field; tags one per key, so a single tag can be ignored.
fn changed(r: &ResourceChange, c: &FieldChange, out: &mut Vec<Finding>) {
    let (old, new) = (c.old.as_ref().and_then(Value::as_object), c.new.as_ref().and_then(Value::as_object));
    if c.field == "tags" {
        if let Some(new) = new {
            for (key, want) in new {
                let have = old.and_then(|o| o.get(key));
                if have != Some(want) {
                    let mut f = finding(
                        FindingKind::Changed,
                        r,
                        Some(format!("tags.{key}")),
                        format!("tag {key} is {}", have.map_or("not set".to_string(), render::short)),
                        APPLY_FIXES,
                    );
                    f.expected = Some(want.clone());
                    f.actual = have.cloned();
                    out.push(f);
                }
            }
            return;
        }
    }
    let mut f = finding(FindingKind::Changed, r, Some(c.field.clone()), format!("{} differs", c.field), APPLY_FIXES);
    f.expected = c.new.clone();
    f.actual = c.old.clone();
    out.push(f);
}

fn from_message(m: &Message, kind: FindingKind) -> Finding {
    Finding {
        kind,
        path: m.address.clone(),
        address: m.address.clone(),
        region: region_of(&m.address),
        resource: String::new(),
        name: String::new(),
        field: None,
        expected: None,
        actual: None,
        detail: m.message.clone(),
        fix: m.hint.clone(),
        ignored: false,
    }
}

/// Every finding of a plan, ignore rules applied.
pub fn findings(plan: &Plan, ignore: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &plan.resources {
        match r.action {
            Action::NoOp => {}
            Action::Create => out.push(finding(
                FindingKind::Missing,
                r,
                None,
                format!("{} {} does not exist", r.kind.label(), r.name),
                APPLY_FIXES,
            )),
            Action::Update | Action::Replace => {
                let before = out.len();
                for c in &r.changes {
                    changed(r, c, &mut out);
                }
                if out.len() == before {
                    let why = r.reason.clone().unwrap_or_else(|| "differs from the spec".into());
                    out.push(finding(FindingKind::Changed, r, None, why, APPLY_FIXES));
                }
            }
            Action::Delete => out.push(finding(
                FindingKind::Unmanaged,
                r,
                None,
                format!("{} {} belongs to this pipeline but the spec no longer implies it", r.kind.label(), r.name),
                "run `eksaudit apply` to remove it, or put it back in the spec",
            )),
        }
    }
    for m in plan.errors.iter().chain(plan.warnings.iter()) {
        match m.cause {
            Cause::Blocked => out.push(from_message(m, FindingKind::Blocked)),
            Cause::Unreadable => out.push(from_message(m, FindingKind::NotChecked)),
            Cause::Info | Cause::Standing => {}
        }
    }
    for f in &mut out {
        f.ignored = ignore.iter().any(|rule| ignores(rule, &f.path));
    }
    out.sort_by(|a, b| (&a.region, &a.address, a.kind, &a.path).cmp(&(&b.region, &b.address, b.kind, &b.path)));
    out
}

/// The link a delivery judgement is about, as an address: a region's own links (its stream, the consumer's queue or
/// topic, the alert function's dead-letter queue), or a cluster's (its log group, its filter into the pipeline,
/// which is also where a cluster's events stop short of the bucket). `None` for a cluster's judgement that is the
/// region's own link, reported once for the region.
fn delivery_address(region: &str, cluster: Option<&str>, link: Link, sqs: bool) -> Option<Address> {
    match (cluster, link) {
        (Some(c), Link::LogGroup) => Some(Address::cluster(region, c, ClusterSlot::LogGroup)),
        (Some(c), Link::Filter | Link::Bucket) => Some(Address::cluster(region, c, ClusterSlot::Filter)),
        (Some(_), Link::Stream | Link::Consumer | Link::Alerts) => None,
        (None, Link::Consumer) if sqs => Some(Address::regional(region, RegionalSlot::Queue)),
        (None, Link::Consumer) => Some(Address::regional(region, RegionalSlot::Topic)),
        (None, Link::Alerts) => Some(Address::regional(region, RegionalSlot::AlertsDeadLetterQueue)),
        (None, _) => Some(Address::regional(region, RegionalSlot::Stream)),
    }
}

/// `eksaudit status`'s verdicts as drift findings: one per link that is stale, failing or lagging (`delivery`) or
/// that could not be read (`not_checked`), with the verdict as `actual`, AWS's words as the detail and status's fix;
/// idle and delivering links are no finding. Ignore rules applied like the others'
/// (`region.<r>.stream.delivery`, `cluster.*.filter.delivery`).
pub fn delivery_findings(health: &Health, ignore: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &health.regions {
        let region = r.links.region.as_str();
        let sqs = matches!(r.links.consumer, ConsumerReadings::Sqs { .. });
        let own = r.own_links.iter().map(|j| (None, j));
        let clusters = r.clusters.iter().map(|c| (Some(c.readings.cluster.as_str()), &c.judgement));
        for (cluster, j) in own.chain(clusters) {
            let kind = match j.verdict {
                v if v.is_broken() => FindingKind::Delivery,
                HealthVerdict::NotChecked => FindingKind::NotChecked,
                _ => continue,
            };
            let Some(link) = j.link else { continue };
            let Some(address) = delivery_address(region, cluster, link, sqs) else { continue };
            let address = address.to_string();
            let path = format!("{address}.{DELIVERY}");
            if out.iter().any(|f: &Finding| f.path == path && f.detail == j.reason) {
                continue;
            }
            out.push(Finding {
                kind,
                ignored: ignore.iter().any(|rule| ignores(rule, &path)),
                path,
                address,
                region: Some(region.to_string()),
                resource: "delivery".into(),
                name: cluster.map_or_else(|| region.to_string(), str::to_string),
                field: Some(DELIVERY.to_string()),
                expected: None,
                actual: Some(json!(j.verdict.as_str())),
                detail: j.reason.clone(),
                fix: j.fix.clone().unwrap_or_default(),
            });
        }
    }
    out
}

/// The plan's standing warnings (about the spec itself, or what it selects in the account): information that is
/// not drift, since apply would change nothing about it.
fn spec_warnings(plan: &Plan) -> Vec<Message> {
    plan.warnings.iter().filter(|m| m.cause == Cause::Standing).cloned().collect()
}

/// Whether `rule` covers `path`: the same parts (`*` matches any one part), or a prefix of them; the
/// `region.<name>.` part may be left out of the rule to cover every region. Never-ignorable: not_checked is
/// matched like the rest, because people accept unreadable resources too (and they stay counted).
pub fn ignores(rule: &str, path: &str) -> bool {
    let rule: Vec<&str> = rule.split('.').collect();
    let path: Vec<&str> = path.split('.').collect();
    let covers = |path: &[&str]| rule.len() <= path.len() && rule.iter().zip(path).all(|(r, p)| *r == "*" || r == p);
    covers(&path) || (path.first() == Some(&"region") && path.len() > 2 && covers(&path[2..]))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub missing: usize,
    pub changed: usize,
    pub unmanaged: usize,
    pub blocked: usize,
    pub delivery: usize,
    pub not_checked: usize,
    pub ignored: usize,
}

/// The outcome of one drift check.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftReport {
    pub pipeline: String,
    pub account: String,
    pub checked_at: String,
    /// Resources compared (in sync ones included).
    pub checked: usize,
    pub findings: Vec<Finding>,
    /// Warnings about the spec itself (its filter pattern): shown, never counted as drift.
    pub warnings: Vec<Message>,
}

/// What the check concluded, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    InSync,
    Drift,
    /// Nothing found, but something could not be read.
    Unknown,
}

impl DriftReport {
    pub fn new(plan: &Plan, ignore: &[String], checked_at: String) -> DriftReport {
        DriftReport {
            pipeline: plan.pipeline.clone(),
            account: plan.account.clone(),
            checked_at,
            checked: plan.resources.len(),
            findings: findings(plan, ignore),
            warnings: spec_warnings(plan),
        }
    }

    /// Adds the delivery findings of `eksaudit status`'s assessment (`drift` without `--config-only`).
    pub fn with_delivery(mut self, health: &Health, ignore: &[String]) -> DriftReport {
        self.findings.extend(delivery_findings(health, ignore));
        self.findings
            .sort_by(|a, b| (&a.region, &a.address, a.kind, &a.path).cmp(&(&b.region, &b.address, b.kind, &b.path)));
        self
    }

    /// The findings counted (not ignored) that are not `not_checked`.
    pub fn counted(&self) -> usize {
        let c = self.counts();
        c.missing + c.changed + c.unmanaged + c.blocked + c.delivery
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.findings {
            if f.ignored {
                c.ignored += 1;
                continue;
            }
            match f.kind {
                FindingKind::Missing => c.missing += 1,
                FindingKind::Changed => c.changed += 1,
                FindingKind::Unmanaged => c.unmanaged += 1,
                FindingKind::Blocked => c.blocked += 1,
                FindingKind::Delivery => c.delivery += 1,
                FindingKind::NotChecked => c.not_checked += 1,
            }
        }
        c
    }

    /// Drift when anything counted is wrong; unknown when the only findings are unreadable resources.
    pub fn verdict(&self) -> Verdict {
        let c = self.counts();
        if self.counted() > 0 {
            Verdict::Drift
        } else if c.not_checked > 0 {
            Verdict::Unknown
        } else {
            Verdict::InSync
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "format_version": DRIFT_FORMAT_VERSION,
            "pipeline": self.pipeline,
            "account": self.account,
            "checked_at": self.checked_at,
            "verdict": self.verdict(),
            "resources_checked": self.checked,
            "counts": self.counts(),
            "findings": self.findings,
            "warnings": self.warnings,
        })
    }

    /// The one summary line a CI log or an alert subject can show.
    pub fn summary(&self) -> String {
        let c = self.counts();
        let ignored = if c.ignored > 0 { format!(", {} ignored", c.ignored) } else { String::new() };
        match self.verdict() {
            Verdict::InSync => format!(
                "No drift: pipeline {:?} in account {} matches the spec ({} resources checked{ignored}).",
                self.pipeline, self.account, self.checked
            ),
            verdict => {
                let n = self.counted() + c.not_checked;
                let lead = if verdict == Verdict::Drift { "Drift" } else { "Cannot tell" };
                format!(
                    "{lead}: {n} finding{} for pipeline {:?} in account {} ({} missing, {} changed, {} unmanaged, {} blocked, {} delivery, {} not checked{ignored}).",
                    if n == 1 { "" } else { "s" },
                    self.pipeline,
                    self.account,
                    c.missing,
                    c.changed,
                    c.unmanaged,
                    c.blocked,
                    c.delivery,
                    c.not_checked
                )
            }
        }
    }

    /// Findings grouped as global and per region, ignored ones last in their group, then the summary line.
    pub fn text(&self, colors: Colors) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "eksaudit drift for pipeline {:?} in account {} at {}",
            self.pipeline, self.account, self.checked_at
        );
        let mut groups: Vec<(Option<&str>, Vec<&Finding>)> = Vec::new();
        for f in &self.findings {
            let key = f.region.as_deref();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, items)) => items.push(f),
                None => groups.push((key, vec![f])),
            }
        }
        for (region, items) in &mut groups {
            items.sort_by_key(|f| f.ignored);
            let title = region.map_or_else(|| "Global".to_string(), |r| format!("Region {r}"));
            let _ = writeln!(out, "\n{}", colors.paint(palette::BOLD, &title));
            for f in items.iter() {
                render_finding(&mut out, f, colors);
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out, "\n{}", colors.paint(palette::BOLD_YELLOW, "Warnings"));
            for w in &self.warnings {
                let _ = writeln!(out, "  ! {}: {}\n    hint: {}", w.address, w.message, w.hint);
            }
        }
        let _ = writeln!(out);
        let summary = self.summary();
        let painted = match self.verdict() {
            Verdict::InSync => colors.paint(palette::GREEN, &summary),
            Verdict::Drift => colors.paint(palette::RED, &summary),
            Verdict::Unknown => colors.paint(palette::YELLOW, &summary),
        };
        let _ = writeln!(out, "{painted}");
        let c = self.counts();
        if c.missing + c.changed + c.unmanaged + c.blocked + c.not_checked > 0 {
            let _ = writeln!(out, "`eksaudit plan` shows the repair, `eksaudit apply` makes it.");
        }
        if c.delivery > 0 {
            let _ = writeln!(out, "`eksaudit status` shows every link of the delivery chain with its time.");
        }
        out
    }
}

fn render_finding(out: &mut String, f: &Finding, colors: Colors) {
    let label = format!("{:<11}", f.kind.label());
    let label = match (f.ignored, f.kind) {
        (true, _) => colors.paint(palette::DIM, &format!("{:<11}", "ignored")),
        (_, FindingKind::Missing | FindingKind::Unmanaged | FindingKind::Delivery) => {
            colors.paint(palette::RED, &label)
        }
        (_, FindingKind::Changed) => colors.paint(palette::YELLOW, &label),
        (_, FindingKind::Blocked | FindingKind::NotChecked) => colors.paint(palette::MAGENTA, &label),
    };
    let what = if f.resource.is_empty() { String::new() } else { format!(" ({} {})", f.resource, f.name) };
    let _ = writeln!(out, "  {label} {}{what}", f.path);
    if f.ignored {
        return;
    }
    match (f.kind, &f.field) {
        (FindingKind::Changed, Some(field)) if f.expected.is_some() || f.actual.is_some() => {
            let change = FieldChange { field: field.clone(), old: f.actual.clone(), new: f.expected.clone() };
            let mut lines = String::new();
            if f.expected.as_ref().is_some_and(Value::is_object) || f.actual.as_ref().is_some_and(Value::is_object) {
                let _ = writeln!(out, "              live differs from the spec (- live, + spec):");
            }
            render::render_field(&mut lines, &change, Action::Update, colors);
            for line in lines.lines() {
                let _ = writeln!(out, "       {line}");
            }
        }
        _ => {
            let _ = writeln!(out, "              {}", f.detail);
            if matches!(f.kind, FindingKind::Blocked | FindingKind::Delivery | FindingKind::NotChecked)
                && !f.fix.is_empty()
            {
                let _ = writeln!(out, "              fix: {}", f.fix);
            }
        }
    }
}

#[cfg(test)]
mod spec_warning_tests {
    use super::*;

    #[test]
    fn standing_warnings_are_shown_but_are_not_drift() {
        let plan = Plan {
            pipeline: "eks-audit".into(),
            account: "123456789012".into(),
            resources: Vec::new(),
            warnings: vec![
                Message::new(
                    "filter.pattern",
                    "the filter pattern drops every built-in sample of class `exec`",
                    "try it",
                )
                .because(Cause::Standing),
                Message::new("region.eu-central-1", "glob \"x-*\" matches no cluster yet", "later")
                    .because(Cause::Info),
                Message::new("region.us-east-1", "no clusters: account 1 runs no selected cluster", "later")
                    .because(Cause::Standing),
            ],
            errors: Vec::new(),
            notes: Vec::new(),
        };
        let report = DriftReport::new(&plan, &[], "2026-11-23T12:00:00Z".into());
        assert_eq!(report.verdict(), Verdict::InSync);
        assert!(report.findings.is_empty());
        assert_eq!(report.warnings.len(), 2);
        let text = report.text(Colors(false));
        assert!(text.contains("Warnings\n  ! filter.pattern: the filter pattern drops every built-in sample of class `exec`\n    hint: try it\n"), "{text}");
        assert!(text.contains("  ! region.us-east-1: no clusters: account 1 runs no selected cluster\n"), "{text}");
        // Drift reports a cluster the glob picks up later; until then the glob is plan's business.
        assert!(!text.contains("matches no cluster"), "{text}");
        let doc = report.json();
        assert_eq!(doc["warnings"][0]["address"], "filter.pattern");
        assert_eq!(doc["verdict"], "in_sync");
    }
}
