//! `eksaudit filter test`: which audit events a filter pattern forwards and which it drops, offline.

use std::path::Path;

use eksaudit_filter::{Class, Event, ParseError, Pattern};
use serde_json::{json, Value};

use crate::cli::FilterTestArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;
use crate::style::Style;

/// Version of the `--json` document; bumped on any incompatible change.
const FORMAT_VERSION: &str = "1";

pub fn test(args: &FilterTestArgs, settings: &GlobalSettings) -> ExitStatus {
    // With --pattern the spec is not needed; without it, the spec's pattern (validated with the rest of it).
    let (text, source) = match &args.pattern {
        Some(p) => (p.clone(), "--pattern".to_string()),
        None => match super::load_spec(settings) {
            Ok(spec) => (spec.filter.pattern, format!("{} [filter] pattern", settings.config.display())),
            Err(status) => return status,
        },
    };
    let pattern = match eksaudit_filter::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            if args.json {
                let doc = json!({
                    "format_version": FORMAT_VERSION,
                    "pattern": text,
                    "pattern_source": source,
                    "valid": false,
                    "error": { "offset": e.offset, "column": e.column(), "message": e.message, "hint": e.hint },
                });
                println!("{}", serde_json::to_string_pretty(&doc).expect("a JSON value serialises"));
            }
            print_pattern_error(settings, &text, &e);
            return ExitStatus::Error;
        }
    };
    let (events, events_source) = match &args.events {
        None => (eksaudit_filter::samples(), "built-in EKS audit samples".to_string()),
        Some(path) => match read_events(path) {
            Ok(read) => read,
            Err(message) => {
                super::print_error(settings, &message);
                return ExitStatus::Error;
            }
        },
    };
    let verdicts: Vec<bool> = events.iter().map(|e| e.forwarded_by(&pattern)).collect();
    let report = Report { pattern: &pattern, text: &text, source: &source, events_source: &events_source };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json(&events, &verdicts)).expect("a JSON value serialises")
        );
    } else {
        print!("{}", report.text(&events, &verdicts, Style::new(settings.color_stdout)));
    }
    ExitStatus::Success
}

/// The error, the pattern with a caret under the offending character, and the hint.
fn print_pattern_error(settings: &GlobalSettings, pattern: &str, e: &ParseError) {
    let style = Style::new(settings.color_stderr);
    eprintln!(
        "{}: the filter pattern is not valid: {} (character {} of the pattern)",
        style.red(&style.bold("error")),
        e.message,
        e.column()
    );
    eprintln!("{}", e.excerpt(pattern, "    "));
    if let Some(hint) = &e.hint {
        eprintln!("    {} {hint}", style.cyan("hint:"));
    }
}

/// What `--events` names: a file, or `-` for standard input.
fn read_source(path: &Path) -> Result<(String, String), String> {
    if path == Path::new("-") {
        let mut content = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut content)
            .map_err(|e| format!("cannot read events from standard input: {e}"))?;
        return Ok((content, "standard input".to_string()));
    }
    let content =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read events file {}: {e}", path.display()))?;
    Ok((content, path.display().to_string()))
}

/// The events of a document, in the shapes people have at hand: what CloudWatch Logs hands a subscription
/// destination (`logEvents[].message`), or what `aws logs filter-log-events` and `aws logs get-log-events` print
/// (`events[].message`). `None` when the text is no such document.
fn document_events(content: &str, source: &str) -> Option<Result<Vec<Event>, String>> {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(content) else { return None };
    let (key, items) = ["logEvents", "events"]
        .into_iter()
        .find_map(|key| doc.get(key).and_then(Value::as_array).map(|items| (key, items)))?;
    Some(
        items
            .iter()
            .enumerate()
            .map(|(i, e)| match e.get("message").and_then(Value::as_str) {
                Some(m) => Ok(Event::new(i + 1, m)),
                None => Err(format!("{source}: {key}[{i}] has no message")),
            })
            .collect(),
    )
}

/// One log event per line (blank lines skipped), as the cluster's log group holds them: JSON audit events beside
/// the text lines of the API server and the authenticator. A text line is an event like any other (a JSON pattern
/// never forwards it, a term pattern may). A line that opens like JSON but does not parse is refused: EKS writes
/// whole JSON events, so such a line means a cut or mangled file, which would otherwise be read silently as text.
fn line_events(content: &str, source: &str) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let opens_like_json = matches!(line.trim_start().chars().next(), Some('{' | '['));
        if opens_like_json {
            if let Err(e) = serde_json::from_str::<Value>(line) {
                return Err(format!(
                    "{source}:{}: not a JSON event: {e}\n  hint: one log event per line, as EKS writes them to CloudWatch Logs (JSON audit events or text lines), or the JSON `aws logs filter-log-events` prints",
                    i + 1
                ));
            }
        }
        events.push(Event::new(i + 1, line));
    }
    Ok(events)
}

/// The events to test and where they came from.
fn read_events(path: &Path) -> Result<(Vec<Event>, String), String> {
    let (content, source) = read_source(path)?;
    let events = match document_events(&content, &source) {
        Some(events) => events?,
        None => line_events(&content, &source)?,
    };
    Ok((events, source))
}

struct Report<'a> {
    pattern: &'a Pattern,
    text: &'a str,
    source: &'a str,
    events_source: &'a str,
}

/// Per class: how many of the events are in it, and how many of those are forwarded.
fn class_counts(events: &[Event], verdicts: &[bool]) -> Vec<(Class, usize, usize)> {
    Class::ALL
        .iter()
        .map(|&class| {
            let members: Vec<bool> =
                events.iter().zip(verdicts).filter(|(e, _)| e.classes().contains(&class)).map(|(_, v)| *v).collect();
            (class, members.len(), members.iter().filter(|v| **v).count())
        })
        .collect()
}

fn warning(class: Class, n: usize) -> String {
    let which = if n == 1 { "the one".to_string() } else { format!("all {n}") };
    format!(
        "the pattern drops {which} `{}` event{} here ({}): the consumer would never see one",
        class.name(),
        if n == 1 { "" } else { "s" },
        class.description()
    )
}

/// A short identification of an event: what was done, by whom, at which stage.
fn describe(e: &Event) -> String {
    if e.json.is_none() {
        let one_line: String = e.text.chars().take(72).map(|c| if c.is_control() { ' ' } else { c }).collect();
        return if e.text.chars().count() > 72 { format!("{one_line}…") } else { one_line };
    }
    let info = e.info();
    let mut parts = vec![info.what()];
    if let Some(user) = &info.user {
        parts.push(user.clone());
    }
    match (&info.stage, info.code) {
        (Some(stage), Some(code)) => parts.push(format!("{stage} {code}")),
        (Some(stage), None) => parts.push(stage.clone()),
        (None, Some(code)) => parts.push(code.to_string()),
        (None, None) => {}
    }
    let classes: Vec<&str> = e.classes().iter().map(|c| c.name()).collect();
    if !classes.is_empty() {
        parts.push(format!("[{}]", classes.join(", ")));
    }
    parts.join(" · ")
}

impl Report<'_> {
    fn text(&self, events: &[Event], verdicts: &[bool], style: Style) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let shown = if self.text.is_empty() { "(empty: every event)".to_string() } else { self.text.to_string() };
        let _ = writeln!(out, "Pattern ({}): {shown}", self.source);
        let _ = writeln!(out, "Events: {} ({})", self.events_source, events.len());
        if let Pattern::Terms(terms) = self.pattern {
            let optional = terms.iter().filter(|t| t.kind == eksaudit_filter::TermKind::Optional).count();
            if optional > 0 && optional < terms.len() {
                let _ = writeln!(
                    out,
                    "{} the ?terms are ignored: CloudWatch Logs ignores ?terms when a pattern has other terms too",
                    style.dim("note:")
                );
            }
        }
        let _ = writeln!(out);
        let width = events.iter().map(|e| e.line).max().unwrap_or(0).to_string().len();
        for (e, forwarded) in events.iter().zip(verdicts) {
            let verdict = if *forwarded { style.green("forwarded") } else { style.dim("dropped  ") };
            let _ = writeln!(out, "  {:>width$}  {verdict}  {}", e.line, describe(e));
        }
        let n = events.len();
        let f = verdicts.iter().filter(|v| **v).count();
        let _ = writeln!(out, "\nForwarded {f} of {n} event{}, dropped {}.", if n == 1 { "" } else { "s" }, n - f);
        let counts = class_counts(events, verdicts);
        let seen: Vec<String> = counts
            .iter()
            .filter(|(_, members, _)| *members > 0)
            .map(|(c, members, fwd)| format!("{} {fwd}/{members}", c.name()))
            .collect();
        if !seen.is_empty() {
            let _ = writeln!(out, "Forwarded per class a consumer needs: {}.", seen.join(", "));
        }
        for (class, members, fwd) in counts {
            if members > 0 && fwd == 0 {
                let _ = writeln!(out, "{}: {}", style.red(&style.bold("warning")), warning(class, members));
            }
        }
        out
    }

    fn json(&self, events: &[Event], verdicts: &[bool]) -> Value {
        let items: Vec<Value> = events
            .iter()
            .zip(verdicts)
            .map(|(e, forwarded)| {
                let info = e.info();
                json!({
                    "line": e.line,
                    "forwarded": forwarded,
                    "json": e.json.is_some(),
                    "verb": info.verb,
                    "resource": info.resource,
                    "request_uri": info.request_uri,
                    "user": info.user,
                    "stage": info.stage,
                    "code": info.code,
                    "classes": e.classes().iter().map(|c| c.name()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let counts = class_counts(events, verdicts);
        let forwarded = verdicts.iter().filter(|v| **v).count();
        json!({
            "format_version": FORMAT_VERSION,
            "pattern": self.text,
            "pattern_source": self.source,
            "valid": true,
            "events_source": self.events_source,
            "events": items,
            "summary": { "events": events.len(), "forwarded": forwarded, "dropped": events.len() - forwarded },
            "classes": counts.iter().map(|(c, members, fwd)| json!({
                "class": c.name(),
                "description": c.description(),
                "events": members,
                "forwarded": fwd,
            })).collect::<Vec<_>>(),
            "warnings": counts.iter().filter(|(_, m, f)| *m > 0 && *f == 0).map(|(c, m, _)| json!({
                "class": c.name(),
                "message": warning(*c, *m),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Plan (and drift, and validate) warnings: each class of events a consumer needs whose every built-in sample the
/// spec's pattern drops. Information, not a blocking problem: the pattern is valid, it just forwards nothing of
/// that class.
pub(crate) fn pattern_warnings(spec: &eksaudit_spec::Spec) -> Vec<eksaudit_plan::Message> {
    let Ok(pattern) = eksaudit_filter::parse(&spec.filter.pattern) else { return Vec::new() };
    eksaudit_filter::dropped_classes(&pattern, &Class::ALL)
        .into_iter()
        .map(|gap| {
            eksaudit_plan::Message::new(
                "filter.pattern",
                format!(
                    "the filter pattern drops all {} built-in `{}` samples ({}): the consumer would never see such an event",
                    gap.samples,
                    gap.class.name(),
                    gap.class.description(),
                ),
                "see what it forwards with `eksaudit filter test`; the default pattern forwards every completed request except health, metrics and discovery noise",
            )
            .because(eksaudit_plan::Cause::Standing)
        })
        .collect()
}
