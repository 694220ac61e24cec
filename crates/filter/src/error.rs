//! Syntax errors that point at the exact character, and a caret excerpt to show them.

use std::fmt;

/// A pattern CloudWatch Logs would reject, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 0-based index of the offending character (in characters, not bytes) within the pattern. Equal to the
    /// pattern's length when something is missing at its end.
    pub offset: usize,
    /// What is wrong, worded like AWS's `InvalidParameterException` where AWS has words for it.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl ParseError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> ParseError {
        ParseError { offset, message: message.into(), hint: None }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> ParseError {
        self.hint = Some(hint.into());
        self
    }

    /// The 1-based column people count in.
    pub fn column(&self) -> usize {
        self.offset + 1
    }

    /// Two lines: the pattern (a window of it around the error when it is long) and a caret under the offending
    /// character, each prefixed with `indent`.
    pub fn excerpt(&self, pattern: &str, indent: &str) -> String {
        excerpt(pattern, self.offset, indent)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {} of the pattern)", self.message, self.column())
    }
}

impl std::error::Error for ParseError {}

/// How many characters of a long pattern are shown on each side of the caret.
const HALF_WINDOW: usize = 38;

/// The pattern on one line (control characters shown as spaces, long patterns cut to a window with `…`) and a
/// caret under character `offset`.
pub fn excerpt(pattern: &str, offset: usize, indent: &str) -> String {
    let chars: Vec<char> = pattern.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let offset = offset.min(chars.len());
    let (start, end) = if chars.len() <= 2 * HALF_WINDOW + 4 {
        (0, chars.len())
    } else {
        let start = offset.saturating_sub(HALF_WINDOW);
        let end = (offset + HALF_WINDOW).min(chars.len());
        let start = if end - start < 2 * HALF_WINDOW { end.saturating_sub(2 * HALF_WINDOW) } else { start };
        (start, end)
    };
    let mut line: String = String::new();
    let mut caret_at = offset - start;
    if start > 0 {
        line.push('…');
        caret_at += 1;
    }
    line.extend(&chars[start..end]);
    if end < chars.len() {
        line.push('…');
    }
    format!("{indent}{line}\n{indent}{}^", " ".repeat(caret_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caret_sits_under_the_character() {
        assert_eq!(excerpt("{ $.a = }", 8, "  "), "  { $.a = }\n          ^");
        // At the end: one past the last character.
        assert_eq!(excerpt("{ $.a", 5, ""), "{ $.a\n     ^");
    }

    #[test]
    fn long_patterns_show_a_window() {
        let p = format!("{}X{}", "a".repeat(200), "b".repeat(200));
        let e = excerpt(&p, 200, "");
        let (line, caret) = e.split_once('\n').unwrap();
        assert!(line.starts_with('…') && line.ends_with('…'), "{line}");
        assert_eq!(line.chars().nth(caret.chars().count() - 1), Some('X'));
        let e = excerpt(&p, 3, "");
        let (line, caret) = e.split_once('\n').unwrap();
        assert!(!line.starts_with('…') && line.ends_with('…'));
        assert_eq!(caret, "   ^");
    }
}
