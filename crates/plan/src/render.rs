//! What people and machines see of a plan: Terraform-like text, and one JSON document.

use std::fmt::Write;

use serde_json::{json, Value};

use crate::report::{Action, FieldChange, Plan, ResourceChange};
use crate::{palette, policy};

/// Version of the `--json` plan document; bumped on any incompatible change.
pub const FORMAT_VERSION: &str = "1";

/// Colour (anstyle's escapes), or none.
#[derive(Debug, Clone, Copy)]
pub struct Colors(pub bool);

impl Colors {
    pub(crate) fn paint(self, style: anstyle::Style, s: &str) -> String {
        palette::paint(self.0, style, s)
    }
    fn action(self, action: Action, s: &str) -> String {
        match action {
            Action::Create => self.paint(palette::GREEN, s),
            Action::Update => self.paint(palette::YELLOW, s),
            Action::Replace => self.paint(palette::MAGENTA, s),
            Action::Delete => self.paint(palette::RED, s),
            Action::NoOp => s.to_string(),
        }
    }
}

fn is_document(v: &Value) -> bool {
    v.get("Statement").is_some()
}

/// One line for scalars and short values; documents and objects get a line diff.
pub(crate) fn short(v: &Value) -> String {
    if is_document(v) {
        let sids: Vec<&str> = v["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("Sid").and_then(Value::as_str))
            .collect();
        let n = v["Statement"].as_array().map_or(0, Vec::len);
        return match (sids.is_empty(), n) {
            (false, _) => format!("<policy: {}>", sids.join(", ")),
            (true, 1) => "<policy, 1 statement>".to_string(),
            (true, n) => format!("<policy, {n} statements>"),
        };
    }
    v.to_string()
}

fn pretty(v: &Value) -> String {
    let v = if is_document(v) { policy::display_form(v) } else { v.clone() };
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

pub(crate) fn render_field(out: &mut String, c: &FieldChange, action: Action, colors: Colors) {
    match (action, &c.old, &c.new) {
        (Action::Create, _, Some(new)) => {
            let _ = writeln!(out, "      {} = {}", c.field, short(new));
        }
        (_, old, None) => {
            let _ = writeln!(out, "      {} = {}", c.field, old.as_ref().map(short).unwrap_or_default());
        }
        (_, Some(old), Some(new)) if old.is_object() || new.is_object() => {
            let _ = writeln!(out, "      {} {}:", colors.paint(palette::YELLOW, "~"), c.field);
            let (old, new) = (pretty(old), pretty(new));
            let diff = similar::TextDiff::from_lines(&old, &new);
            for change in diff.iter_all_changes() {
                let line = change.value().trim_end_matches('\n');
                let text = match change.tag() {
                    similar::ChangeTag::Delete => colors.paint(palette::RED, &format!("- {line}")),
                    similar::ChangeTag::Insert => colors.paint(palette::GREEN, &format!("+ {line}")),
                    similar::ChangeTag::Equal => format!("  {line}"),
                };
                let _ = writeln!(out, "          {text}");
            }
        }
        (_, old, Some(new)) => {
            let old = old.as_ref().map_or_else(|| "(not set)".to_string(), short);
            let _ = writeln!(out, "      {} {}: {} → {}", colors.paint(palette::YELLOW, "~"), c.field, old, short(new));
        }
    }
}

fn render_resource(out: &mut String, r: &ResourceChange, colors: Colors) {
    let symbol = colors.action(r.action, &format!("{:>3}", r.action.symbol()));
    let reason = r.reason.as_ref().map(|why| format!("  # {why}")).unwrap_or_default();
    let _ = writeln!(out, "  {symbol} {} ({} {}){reason}", r.address, r.kind.label(), r.name);
    if r.action != Action::Delete {
        for c in &r.changes {
            render_field(out, c, r.action, colors);
        }
    }
}

/// The human plan: resources grouped as global and per region, then warnings, errors and the summary line.
pub fn text(plan: &Plan, colors: Colors) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "eksaudit plan for pipeline {:?} in account {}", plan.pipeline, plan.account);
    let mut groups: Vec<(Option<&str>, Vec<&ResourceChange>)> = Vec::new();
    for r in plan.resources.iter().filter(|r| r.action != Action::NoOp) {
        let key = r.region.as_deref();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, items)) => items.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    for (region, items) in &groups {
        let title = match region {
            None => "Global".to_string(),
            Some(r) => format!("Region {r}"),
        };
        let _ = writeln!(out, "\n{}", colors.paint(palette::BOLD, &title));
        for r in items {
            render_resource(&mut out, r, colors);
        }
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "\n{}", colors.paint(palette::BOLD, "Kept"));
        for n in &plan.notes {
            let _ = writeln!(out, "  = {}: {} ({})", n.address, n.message, n.hint);
        }
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\n{}", colors.paint(palette::BOLD_YELLOW, "Warnings"));
        for w in &plan.warnings {
            let _ = writeln!(out, "  ! {}: {}\n    hint: {}", w.address, w.message, w.hint);
        }
    }
    if !plan.errors.is_empty() {
        let _ = writeln!(out, "\n{}", colors.paint(palette::BOLD_RED, "Errors (apply would refuse to start)"));
        for e in &plan.errors {
            let _ = writeln!(out, "  ✗ {}: {}\n    hint: {}", e.address, e.message, e.hint);
        }
    }
    let s = plan.summary();
    let _ = writeln!(out);
    if plan.is_blocked() {
        let n = plan.errors.len();
        let _ = writeln!(
            out,
            "{} {n} problem{} must be fixed before apply can run.",
            colors.paint(palette::BOLD_RED, "Plan refused:"),
            if n == 1 { "" } else { "s" }
        );
    } else if !plan.has_changes() {
        let _ = writeln!(out, "No changes. Live AWS matches the spec ({} resources checked).", s.unchanged);
    } else {
        let _ = writeln!(
            out,
            "{} {} to create, {} to update, {} to replace, {} to delete.",
            colors.paint(palette::BOLD, "Plan:"),
            s.create,
            s.update,
            s.replace,
            s.delete
        );
    }
    out
}

/// The machine plan: one document with a format version, every resource, warnings and errors.
pub fn json(plan: &Plan) -> Value {
    json!({
        "format_version": FORMAT_VERSION,
        "pipeline": plan.pipeline,
        "account": plan.account,
        "resources": plan.resources,
        "summary": plan.summary(),
        "has_changes": plan.has_changes(),
        "warnings": plan.warnings,
        "errors": plan.errors,
        "notes": plan.notes,
    })
}
