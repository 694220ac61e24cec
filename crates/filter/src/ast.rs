//! The syntax tree of a filter pattern. It holds no positions, so two patterns that differ only in spacing parse
//! to equal trees; printing a tree (`Display`) gives a pattern that parses back to the same tree.

use std::fmt;

/// A parsed CloudWatch Logs filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The empty pattern: every event matches.
    All,
    /// Unstructured terms: `ERROR`, `"quoted phrase"`, `-exclude`, `?optional`, `%regex%`.
    Terms(Vec<Term>),
    /// `{ ... }`: conditions on the fields of a JSON event.
    Json(Expr),
    /// `[a, b = 4*, ...]`: conditions on the space-delimited fields of an event.
    Delimited(Vec<Slot>),
}

/// How a term of an unstructured pattern counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// The event must contain it.
    Required,
    /// `-term`: the event must not contain it.
    Excluded,
    /// `?term`: any one of the optional terms (ignored by AWS when the pattern also has other terms).
    Optional,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub kind: TermKind,
    pub text: TermText,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TermText {
    /// A bare word: letters, digits and `_`.
    Word(String),
    /// A double-quoted phrase, unescaped.
    Phrase(String),
    Regex(Regex),
}

/// A boolean expression of a JSON pattern. `&&` binds tighter than `||`; parentheses are kept as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more alternatives.
    Or(Vec<Expr>),
    /// Two or more conditions that must all hold.
    And(Vec<Expr>),
    Paren(Box<Expr>),
    Cond(Cond),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Compare { selector: Selector, op: Op, value: Value },
    IsNull(Selector),
    IsTrue(Selector),
    IsFalse(Selector),
    NotExists(Selector),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// `<`, `<=`, `>`, `>=`: these compare numbers only.
    pub fn is_relational(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text, quoted or not; `*` at the start and/or end is a wildcard.
    Str(Glob),
    /// A number as written (`400`, `+1000`, `55.5`, `1e-3`).
    Num(Number),
    Regex(Regex),
}

/// A number literal: the text as written (what printing reproduces) and its value.
#[derive(Debug, Clone)]
pub struct Number {
    pub text: String,
    pub value: f64,
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.text == other.text
    }
}

/// A string value with AWS's wildcards: a `*` at the start matches any text before, one at the end any text
/// after. A `*` elsewhere is the character itself (AWS: "`Ev*ent` will only match the actual string `Ev*ent`").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    /// The text as written, unescaped, wildcards included.
    pub text: String,
    pub(crate) leading: bool,
    pub(crate) trailing: bool,
    /// The text between the wildcards.
    pub(crate) literal: String,
}

impl Glob {
    pub fn new(text: &str) -> Glob {
        let leading = text.starts_with('*');
        let rest = if leading { &text[1..] } else { text };
        let trailing = rest.ends_with('*');
        let literal = if trailing { &rest[..rest.len() - 1] } else { rest };
        Glob { text: text.to_string(), leading, trailing, literal: literal.to_string() }
    }

    pub fn matches(&self, s: &str) -> bool {
        let lit = self.literal.as_str();
        match (self.leading, self.trailing) {
            (false, false) => s == lit,
            (true, false) => s.ends_with(lit),
            (false, true) => s.starts_with(lit),
            (true, true) => s.contains(lit),
        }
    }
}

/// A `%regex%` in AWS's dialect, compiled once.
#[derive(Clone)]
pub struct Regex {
    /// The expression between the `%` signs, as written.
    pub source: String,
    pub(crate) compiled: regex_lite::Regex,
}

impl Regex {
    pub fn is_match(&self, s: &str) -> bool {
        self.compiled.is_match(s)
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Regex(%{}%)", self.source)
    }
}

/// A property selector: `$.a.b`, `$.a[0]`, `$.a[*]`, `$.*`, `$.['dotted.key']`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object field.
    Key(String),
    /// An array element.
    Index(usize),
    /// `.*`: every field of an object (or element of an array).
    AnyKey,
    /// `[*]`: every element of an array (or field of an object).
    AnyIndex,
}

impl Selector {
    pub fn wildcards(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s, Step::AnyKey | Step::AnyIndex)).count()
    }
}

/// One field of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    /// `...`: any number of fields.
    Ellipsis,
    /// A named field, with conditions on it: alternatives (`||`) of conjunctions (`&&`).
    Field { name: String, conditions: Vec<Vec<FieldCond>> },
}

/// `op value` on the slot's own field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCond {
    pub op: Op,
    pub value: Value,
}
