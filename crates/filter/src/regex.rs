//! AWS's regex dialect (`%...%`): which characters it allows, and compiling it.
//!
//! AWS documents: letters and digits; the symbols `: _ # = @ / ; , -`; the operators `^ $ ? [ ] { } | \ * + .`;
//! `\d \D \s \S \w \W` (ASCII classes) and `\xhh`. No `(` `)`, no multi-byte characters. Its own examples also
//! contain spaces (`%^shutting down%`), so a space is allowed too.

use crate::ast::Regex;
use crate::error::ParseError;

const SYMBOLS: &str = ":_#=@/;,-";
const OPERATORS: &str = "^$?[]{}|\\*+.";

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || SYMBOLS.contains(c) || OPERATORS.contains(c)
}

/// Checks and compiles the expression between the `%` signs. `at` is the character offset of its first
/// character in the pattern, for errors.
pub(crate) fn compile(source: &str, at: usize) -> Result<Regex, ParseError> {
    if source.is_empty() {
        return Err(ParseError::new(at, "Invalid regex: the expression between the % signs is empty")
            .hint("write what to match between the % signs, e.g. %Forbidden%"));
    }
    for (i, c) in source.chars().enumerate() {
        if allowed(c) {
            continue;
        }
        let err = if c == '(' || c == ')' {
            ParseError::new(at + i, "The ( and ) operators are not supported: a regex cannot use parentheses")
                .hint("list alternatives with | (%get|list%); match a literal parenthesis with \\x28 or \\x29")
        } else if !c.is_ascii() {
            ParseError::new(at + i, format!("Multi-byte characters are not supported in a regex: {c:?}"))
                .hint("match it with . or a class, or write the text as a quoted term instead")
        } else {
            ParseError::new(at + i, format!("Invalid character(s) in regex: {c:?} is not supported")).hint(format!(
                "a regex may use letters, digits, space, the symbols {SYMBOLS} and the operators {OPERATORS}; \
                 write any other ASCII character as \\xhh, e.g. \\x{:02X} for {c:?}",
                c as u32
            ))
        };
        return Err(err);
    }
    let compiled = regex_lite::Regex::new(&translate(source)).map_err(|e| {
        let why = e.to_string();
        let first = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("it does not compile").trim().to_string();
        ParseError::new(at, format!("Invalid regex %{source}%: {first}"))
            .hint("check brackets, braces and escapes; AWS's dialect has ^ $ ? [] {m,n} | \\ * + . \\d \\s \\w \\xhh")
    })?;
    Ok(Regex { source: source.to_string(), compiled })
}

/// AWS's spelling into regex-lite's: `{m, n}` and `{,n}` (either bound may be left out) become `{m,n}` and
/// `{0,n}`. Everything else (`\d`, `\w`, `\s` are ASCII in regex-lite, as in AWS) carries over.
fn translate(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 4);
    let mut chars = source.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` (or `^]`) right after the opening bracket is a member, not the end.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '{' if !in_class => {
                let mut body = String::new();
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == '}' {
                        closed = true;
                        break;
                    }
                    body.push(d);
                }
                let compact: String = body.chars().filter(|c| *c != ' ').collect();
                let counted = !compact.is_empty()
                    && compact.chars().all(|c| c.is_ascii_digit() || c == ',')
                    && compact.matches(',').count() <= 1
                    && compact != ",";
                if closed && counted {
                    let compact = if compact.starts_with(',') { format!("0{compact}") } else { compact };
                    out.push('{');
                    out.push_str(&compact);
                    out.push('}');
                } else {
                    // Not a repetition: the braces are the characters themselves.
                    out.push_str("\\{");
                    for d in body.chars() {
                        if "^$?[]{}|*+.".contains(d) {
                            out.push('\\');
                        }
                        out.push(d);
                    }
                    if closed {
                        out.push_str("\\}");
                    }
                }
            }
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(re: &str, s: &str) -> bool {
        compile(re, 0).unwrap().is_match(s)
    }

    #[test]
    fn the_documented_operators_work() {
        assert!(m("^[hc]at", "hat trick") && !m("^[hc]at", "that"));
        assert!(m("[hc]at$", "the cat") && !m("[hc]at$", "cats"));
        assert!(m("colou?r", "color") && m("colou?r", "colour"));
        assert!(m("a{3,5}", "aaa") && !m("^a{3,5}$", "aa") && !m("^a{3,5}$", "aaaaaa"));
        assert!(m("^a{, 2}$", "aa") && m("^a{2,}$", "aaaa") && m("^a{2, 3}$", "aaa"));
        assert!(m("gra|ey", "gray") && m("gra|ey", "grey"));
        assert!(m("^starting|^initializing|^shutting down", "shutting down now"));
        assert!(!m("^starting|^initializing|^shutting down", "skipping initializing"));
        assert!(m("\\[.\\]", "[a]") && m("\\[.\\]", "[ ]"));
        assert!(m("10\\.10\\.0\\.1", "10.10.0.1") && !m("10\\.10\\.0\\.1", "10010,051"));
        assert!(m("10.10.0.1", "10010,051"));
        assert!(m("ab*c", "ac") && m("ab+c", "abbc") && !m("ab+c", "ac"));
        assert!(m(".at", " at"));
        assert!(m("\\d", "x7") && !m("\\d", "x") && m("\\D", "7x"));
        assert!(m("\\s", "a b") && m("\\S", " x "));
        assert!(m("\\w", "_") && !m("\\w", "é.") && m("\\W", "a."));
        assert!(m("\\x3A", "a:b") && m("\\x28", "f(x)"));
        assert!(m("abcc|ab[^c]$", "aba") && !m("abcc|ab[^c]$", "aac"));
    }

    #[test]
    fn characters_outside_the_dialect_are_rejected_where_they_are() {
        let e = compile("something!", 5).unwrap_err();
        assert_eq!(e.offset, 14);
        assert!(e.message.contains("'!'"), "{e:?}");
        let e = compile("(alpha|beta)", 0).unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("( and ) operators are not supported"));
        assert!(compile("マルチ", 0).unwrap_err().message.contains("Multi-byte"));
        assert!(compile("[unclosed", 3).unwrap_err().message.starts_with("Invalid regex"));
        assert!(compile("", 3).is_err());
    }
}
