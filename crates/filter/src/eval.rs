//! Evaluating a pattern against a log event, the way CloudWatch Logs decides what a subscription forwards.
//!
//! - Terms match the raw message, case-sensitively, as substrings. Optional (`?`) terms count only when the
//!   pattern has no other terms (AWS ignores them otherwise).
//! - JSON patterns match only events that parse as JSON. A comparison needs its selector to reach a value node
//!   (a string or a number): a missing field, `null`, a boolean, an array or an object matches neither `=` nor
//!   `!=` (AWS: "If a property selector points to an array or object, the filter pattern won't match"); use
//!   `NOT EXISTS`, `IS NULL`, `IS TRUE`/`IS FALSE` for those. With a wildcard selector a condition holds when it
//!   holds for any element reached.
//! - Space-delimited patterns split the event at spaces; `"..."` and `[...]` are one field each.

use serde_json::Value as Json;

use crate::ast::*;
use crate::project::Projection;

impl Pattern {
    /// Whether CloudWatch Logs would forward (match) this log event. To test many events, make a
    /// [`Pattern::matcher`] once.
    pub fn matches(&self, message: &str) -> bool {
        self.matcher().matches(message)
    }

    /// A matcher for many events: it reads only the fields a JSON pattern looks at.
    pub fn matcher(&self) -> Matcher<'_> {
        let projection = match self {
            Pattern::Json(expr) => Some(Projection::of(expr)),
            _ => None,
        };
        Matcher { pattern: self, projection }
    }

    /// Like [`Pattern::matches`], for an event already parsed (`None`: the message is not JSON).
    pub fn matches_parsed(&self, message: &str, event: Option<&Json>) -> bool {
        match self {
            Pattern::Json(expr) => event.is_some_and(|e| expr.eval(e)),
            _ => self.matches(message),
        }
    }
}

/// A pattern made ready to test many events.
pub struct Matcher<'p> {
    pattern: &'p Pattern,
    projection: Option<Projection>,
}

impl Matcher<'_> {
    pub fn matches(&self, message: &str) -> bool {
        match (self.pattern, &self.projection) {
            (Pattern::All, _) => true,
            (Pattern::Terms(terms), _) => terms_match(terms, message),
            (Pattern::Json(expr), Some(projection)) => projection.parse(message).is_some_and(|e| expr.eval(&e)),
            (Pattern::Json(expr), None) => parse_event(message).is_some_and(|e| expr.eval(&e)),
            (Pattern::Delimited(slots), _) => delimited_match(slots, message),
        }
    }
}

/// The message as JSON, if it is a JSON object or array (what a JSON pattern can select from).
pub fn parse_event(message: &str) -> Option<Json> {
    let first = message.trim_start().chars().next()?;
    if first != '{' && first != '[' {
        return None;
    }
    serde_json::from_str(message).ok()
}

fn term_found(text: &TermText, message: &str) -> bool {
    match text {
        TermText::Word(w) => message.contains(w.as_str()),
        // AWS: `" "` matches everything.
        TermText::Phrase(p) => p.trim().is_empty() || message.contains(p.as_str()),
        TermText::Regex(r) => r.is_match(message),
    }
}

fn terms_match(terms: &[Term], message: &str) -> bool {
    let plain = terms.iter().any(|t| t.kind != TermKind::Optional);
    if plain {
        terms
            .iter()
            .filter(|t| t.kind != TermKind::Optional)
            .all(|t| term_found(&t.text, message) == (t.kind == TermKind::Required))
    } else {
        terms.iter().any(|t| term_found(&t.text, message))
    }
}

impl Expr {
    pub fn eval(&self, event: &Json) -> bool {
        match self {
            Expr::Or(items) => items.iter().any(|e| e.eval(event)),
            Expr::And(items) => items.iter().all(|e| e.eval(event)),
            Expr::Paren(inner) => inner.eval(event),
            Expr::Cond(c) => c.eval(event),
        }
    }
}

impl Cond {
    pub fn eval(&self, event: &Json) -> bool {
        match self {
            Cond::Compare { selector, op, value } => any_node(event, &selector.steps, &mut |n| compare(n, *op, value)),
            Cond::IsNull(s) => any_node(event, &s.steps, &mut Json::is_null),
            Cond::IsTrue(s) => any_node(event, &s.steps, &mut |n| n.as_bool() == Some(true)),
            Cond::IsFalse(s) => any_node(event, &s.steps, &mut |n| n.as_bool() == Some(false)),
            Cond::NotExists(s) => !any_node(event, &s.steps, &mut |_| true),
        }
    }
}

/// Whether any node the steps reach from `v` satisfies `f`.
fn any_node(v: &Json, steps: &[Step], f: &mut dyn FnMut(&Json) -> bool) -> bool {
    let Some((step, rest)) = steps.split_first() else { return f(v) };
    match step {
        Step::Key(k) => v.as_object().and_then(|o| o.get(k)).is_some_and(|c| any_node(c, rest, f)),
        Step::Index(i) => v.as_array().and_then(|a| a.get(*i)).is_some_and(|c| any_node(c, rest, f)),
        Step::AnyKey | Step::AnyIndex => match v {
            Json::Object(o) => o.values().any(|c| any_node(c, rest, f)),
            Json::Array(a) => a.iter().any(|c| any_node(c, rest, f)),
            _ => false,
        },
    }
}

fn numeric(a: f64, op: Op, b: f64) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

/// Equality (`=`) of a value node's text with a pattern value that is not a number.
fn text_eq(text: &str, value: &Value) -> bool {
    match value {
        Value::Str(g) => g.matches(text),
        Value::Regex(r) => r.is_match(text),
        Value::Num(n) => text == n.text || text.parse::<f64>().is_ok_and(|x| x == n.value),
    }
}

fn compare(node: &Json, op: Op, value: &Value) -> bool {
    match node {
        Json::String(s) => match op {
            Op::Eq => text_eq(s, value),
            Op::Ne => !text_eq(s, value),
            // Relational operators compare numbers; a string field is not one.
            _ => false,
        },
        Json::Number(x) => match value {
            Value::Num(n) => x.as_f64().is_some_and(|x| numeric(x, op, n.value)),
            _ => {
                let text = x.to_string();
                match op {
                    Op::Eq => text_eq(&text, value),
                    Op::Ne => !text_eq(&text, value),
                    _ => false,
                }
            }
        },
        _ => false,
    }
}

// ---- space-delimited ----

/// One field of a space-delimited event: its text (without `"..."` or `[...]`) and where it starts in the
/// message (its delimiter included).
struct Field<'m> {
    text: &'m str,
    start: usize,
}

fn split_fields(message: &str) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let rest = &message[at..];
        let skipped = rest.len() - rest.trim_start().len();
        at += skipped;
        let rest = &message[at..];
        let Some(first) = rest.chars().next() else { break };
        let close = match first {
            '"' => Some('"'),
            '[' => Some(']'),
            _ => None,
        };
        let start = at;
        match close {
            Some(close) => {
                let body = &rest[1..];
                match body.find(close) {
                    Some(end) => {
                        out.push(Field { text: &body[..end], start });
                        at += 1 + end + 1;
                    }
                    None => {
                        out.push(Field { text: body, start });
                        break;
                    }
                }
            }
            None => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                out.push(Field { text: &rest[..end], start });
                at += end;
            }
        }
    }
    out
}

/// The fields of a space-delimited event: `"..."` and `[...]` are one field each, without their delimiters.
pub fn delimited_fields(message: &str) -> Vec<&str> {
    split_fields(message).into_iter().map(|f| f.text).collect()
}

fn field_cond(c: &FieldCond, field: &str) -> bool {
    match (&c.value, field.parse::<f64>()) {
        (Value::Num(n), Ok(x)) if crate::parse::is_number(field) => numeric(x, c.op, n.value),
        (value, _) => match c.op {
            Op::Eq => text_eq(field, value),
            Op::Ne => !text_eq(field, value),
            _ => false,
        },
    }
}

fn slot_ok(slot: &Slot, field: &str) -> bool {
    match slot {
        Slot::Ellipsis => true,
        Slot::Field { conditions, .. } => {
            conditions.is_empty() || conditions.iter().any(|group| group.iter().all(|c| field_cond(c, field)))
        }
    }
}

/// Slots take one field each, `...` any number, and a named last slot takes the rest of the line (AWS's
/// `[timestamp=*Z, request_id="*-*", event]` reads a whole Lambda log line that way).
fn delimited_match(slots: &[Slot], message: &str) -> bool {
    let fields = split_fields(message);
    let n = fields.len();
    // next[j]: the slots after the current one match fields[j..]; computed from the last slot back, O(slots × fields).
    let mut next = vec![false; n + 1];
    next[n] = true;
    for (i, slot) in slots.iter().enumerate().rev() {
        let last = i + 1 == slots.len();
        let mut cur = vec![false; n + 1];
        match slot {
            Slot::Ellipsis => {
                let mut any = false;
                for j in (0..=n).rev() {
                    any |= next[j];
                    cur[j] = any;
                }
            }
            _ if last => {
                for (j, field) in fields.iter().enumerate() {
                    let text = if j + 1 == n { field.text } else { message[field.start..].trim_end() };
                    cur[j] = slot_ok(slot, text);
                }
            }
            _ => {
                for j in 0..n {
                    cur[j] = next[j + 1] && slot_ok(slot, fields[j].text);
                }
            }
        }
        next = cur;
    }
    next[0]
}
