//! Printing a tree as a pattern. `parse(p.to_string())` gives back an equal tree for every tree the parser
//! makes; spacing is normalised (`{ $.a = 1 && ($.b = "x" || $.c IS NULL) }`).

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;
use crate::parse::is_number;

fn quote(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::All => Ok(()),
            Pattern::Terms(terms) => {
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_char(' ')?;
                    }
                    write!(f, "{t}")?;
                }
                Ok(())
            }
            Pattern::Json(expr) => write!(f, "{{ {expr} }}"),
            Pattern::Delimited(slots) => {
                f.write_char('[')?;
                for (i, s) in slots.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{s}")?;
                }
                f.write_char(']')
            }
        }
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.kind {
            TermKind::Required => {}
            TermKind::Excluded => f.write_char('-')?,
            TermKind::Optional => f.write_char('?')?,
        }
        match &self.text {
            TermText::Word(w) => f.write_str(w),
            TermText::Phrase(p) => quote(f, p),
            TermText::Regex(r) => write!(f, "{r}"),
        }
    }
}

impl Display for Regex {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "%{}%", self.source)
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // Trees the parser makes never nest Or in And or And in And without Paren; built by hand they might, and
        // are printed with the parentheses their meaning needs.
        let item = |f: &mut Formatter<'_>, e: &Expr, in_and: bool| match e {
            Expr::Or(_) | Expr::And(_) if in_and => write!(f, "({e})"),
            Expr::Or(_) => write!(f, "({e})"),
            _ => write!(f, "{e}"),
        };
        match self {
            Expr::Or(items) | Expr::And(items) => {
                let (sep, in_and) = if matches!(self, Expr::Or(_)) { (" || ", false) } else { (" && ", true) };
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    item(f, e, in_and)?;
                }
                Ok(())
            }
            Expr::Paren(inner) => write!(f, "({inner})"),
            Expr::Cond(c) => write!(f, "{c}"),
        }
    }
}

impl Display for Cond {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Compare { selector, op, value } => write!(f, "{selector} {} {value}", op.as_str()),
            Cond::IsNull(s) => write!(f, "{s} IS NULL"),
            Cond::IsTrue(s) => write!(f, "{s} IS TRUE"),
            Cond::IsFalse(s) => write!(f, "{s} IS FALSE"),
            Cond::NotExists(s) => write!(f, "{s} NOT EXISTS"),
        }
    }
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('$')?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Key(k)
                    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
                {
                    write!(f, ".{k}")?
                }
                // AWS documents `$.['cluster.name']` at the root; below it, the usual `$.annotations['a/b']`.
                Step::Key(k) if i == 0 => write!(f, ".['{k}']")?,
                Step::Key(k) => write!(f, "['{k}']")?,
                Step::Index(i) => write!(f, "[{i}]")?,
                Step::AnyKey => f.write_str(".*")?,
                Step::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(g) => {
                // AWS: "Strings that consist entirely of alphanumeric characters do not need to be quoted"; the
                // rest is printed quoted, which AWS always accepts.
                let bare = !g.text.is_empty()
                    && g.text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !is_number(&g.text);
                if bare {
                    f.write_str(&g.text)
                } else {
                    quote(f, &g.text)
                }
            }
            Value::Num(n) => f.write_str(&n.text),
            Value::Regex(r) => write!(f, "{r}"),
        }
    }
}

impl Display for Slot {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Ellipsis => f.write_str("..."),
            Slot::Field { name, conditions } => {
                f.write_str(name)?;
                let mut first = true;
                for (g, group) in conditions.iter().enumerate() {
                    for (c, cond) in group.iter().enumerate() {
                        let sep = if c > 0 {
                            " && "
                        } else if g > 0 {
                            " || "
                        } else {
                            ""
                        };
                        if first {
                            write!(f, " {} {}", cond.op.as_str(), cond.value)?;
                            first = false;
                        } else {
                            write!(f, "{sep}{name} {} {}", cond.op.as_str(), cond.value)?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}
