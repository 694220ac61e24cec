//! CloudWatch Logs filter patterns, offline: what a subscription filter forwards, decided before the pattern
//! reaches AWS.
//!
//! - [`parse`] reads a pattern the way CloudWatch Logs documents it (JSON patterns, unstructured terms,
//!   space-delimited patterns, `%regex%`, the empty pattern) and enforces AWS's limits, or returns a
//!   [`ParseError`] that points at the exact character.
//! - A [`Pattern`] prints (`Display`) as a pattern that parses back to the same tree, and evaluates
//!   ([`Pattern::matches`]) a log event the way AWS decides what to forward.
//! - [`samples`] are realistic EKS audit events; [`dropped_classes`] says which [`Class`]es of events a
//!   consumer needs a pattern would drop entirely.
//!
//! Pure: no AWS, no async.

mod ast;
mod error;
mod eval;
mod parse;
mod print;
mod project;
mod regex;
mod samples;

pub use ast::{
    Cond, Expr, FieldCond, Glob, Number, Op, Pattern, Regex, Selector, Slot, Step, Term, TermKind, TermText, Value,
};
pub use error::{excerpt, ParseError};
pub use eval::{delimited_fields, parse_event, Matcher};
pub use parse::{
    parse, MAX_PATTERN_CHARS, MAX_REGEX_PER_PATTERN, MAX_WILDCARDS_PER_PATTERN, MAX_WILDCARDS_PER_SELECTOR,
};
pub use samples::{dropped_classes, samples, Class, Event, EventInfo, Gap, SAMPLE_EVENTS};
