//! The parser: one pass over the characters, errors at the exact character.
//!
//! ```text
//! pattern   := ws* ( json | delimited | terms | ε )
//! json      := '{' or '}'
//! or        := and ( '||' and )*            && binds tighter than ||; parentheses first
//! and       := unary ( '&&' unary )*
//! unary     := '(' or ')' | cond
//! cond      := selector ( op value | 'IS' ('NULL'|'TRUE'|'FALSE') | 'NOT' 'EXISTS' )
//! selector  := '$' ( '.' name | '.*' | '.'? '[' ( index | '*' | "'" key "'" ) ']' )+
//! value     := '"' text '"' | '%' regex '%' | number | bare   (bare: letters, digits, _ - . * +)
//! delimited := '[' slot ( ',' slot )* ','? ']'
//! slot      := '...' | name ( op value ( ('&&'|'||') name op value )* )?
//! terms     := ( ('-'|'?')? ( word | '"' phrase '"' | '%' regex '%' ) )+
//! ```

use crate::ast::*;
use crate::error::ParseError;
use crate::regex;

/// CloudWatch Logs' limit on the length of a filter pattern (`filterPattern`, 0-1024 characters).
pub const MAX_PATTERN_CHARS: usize = 1024;
/// "You can only use up to one wildcard selector in a property selector".
pub const MAX_WILDCARDS_PER_SELECTOR: usize = 1;
/// "... and up to three wildcard selectors in a filter pattern with compound expressions".
pub const MAX_WILDCARDS_PER_PATTERN: usize = 3;
/// "There is a limit of 2 regex for each filter pattern when creating a delimited or JSON filter pattern".
pub const MAX_REGEX_PER_PATTERN: usize = 2;

/// Parses a filter pattern the way CloudWatch Logs reads it, enforcing its limits.
pub fn parse(pattern: &str) -> Result<Pattern, ParseError> {
    let len = pattern.chars().count();
    if len > MAX_PATTERN_CHARS {
        return Err(ParseError::new(
            MAX_PATTERN_CHARS,
            format!(
                "the pattern is {len} characters; CloudWatch Logs allows at most {MAX_PATTERN_CHARS} \
                 (Member must have length less than or equal to {MAX_PATTERN_CHARS})"
            ),
        )
        .hint("shorten it, e.g. by combining exclusions with wildcards such as \"/readyz*\""));
    }
    let mut p = Parser { s: pattern.chars().collect(), i: 0, regexes: 0, wildcards: 0 };
    p.skip_ws();
    match p.peek() {
        None => Ok(Pattern::All),
        Some('{') => p.json(),
        Some('[') => p.delimited(),
        Some(_) => p.terms(),
    }
}

struct Parser {
    s: Vec<char>,
    i: usize,
    regexes: usize,
    wildcards: usize,
}

fn err(at: usize, message: impl Into<String>) -> ParseError {
    ParseError::new(at, message)
}

const INVALID: &str = "Invalid filter pattern";

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_bare_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.*+".contains(c)
}

/// `[+-]? (digits ('.' digits?)? | '.' digits) ([eE] [+-]? digits)?`
pub(crate) fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int = digits(&mut i);
    let mut frac = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac = digits(&mut i);
    }
    if int + frac == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn starts_with(&self, lit: &str) -> bool {
        lit.chars().enumerate().all(|(k, c)| self.s.get(self.i + k) == Some(&c))
    }

    /// The run of ASCII letters at the cursor (not consumed).
    fn peek_word(&self) -> String {
        self.s[self.i.min(self.s.len())..].iter().take_while(|c| c.is_ascii_alphabetic()).collect()
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.s[from..to].iter().collect()
    }

    // ---- shared pieces ----

    /// A double-quoted string; `\"` and `\\` are escapes, any other backslash is itself.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let open = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(err(open, format!("{INVALID}: the string that starts here is never closed"))
                        .hint("close it with \"; write a quote inside a string as \\\""))
                }
                Some('"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some('\\') if matches!(self.peek_at(1), Some('"' | '\\')) => {
                    out.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `%...%`.
    fn regex(&mut self) -> Result<Regex, ParseError> {
        let open = self.i;
        self.i += 1;
        let start = self.i;
        while self.peek().is_some_and(|c| c != '%') {
            self.i += 1;
        }
        if self.eof() {
            return Err(err(open, format!("{INVALID}: the regex that starts here is never closed"))
                .hint("end a regex with another %, e.g. %Forbidden|Unauthorized%"));
        }
        let source = self.text(start, self.i);
        self.i += 1;
        regex::compile(&source, start)
    }

    fn op(&mut self) -> Result<Op, ParseError> {
        let at = self.i;
        let (op, n) = if self.starts_with("!=") {
            (Op::Ne, 2)
        } else if self.starts_with("<=") {
            (Op::Le, 2)
        } else if self.starts_with(">=") {
            (Op::Ge, 2)
        } else if self.starts_with("==") {
            return Err(err(at, format!("{INVALID}: `==` is not an operator")).hint("test equality with a single ="));
        } else if self.starts_with("=") {
            (Op::Eq, 1)
        } else if self.starts_with("<") {
            (Op::Lt, 1)
        } else if self.starts_with(">") {
            (Op::Gt, 1)
        } else {
            let found = self.peek().map_or("the end of the pattern".to_string(), |c| format!("{c:?}"));
            return Err(err(at, format!("{INVALID}: expected an operator (=, !=, <, <=, >, >=), found {found}")));
        };
        self.i += n;
        Ok(op)
    }

    /// The value after an operator. `stop` ends a bare value besides whitespace, `&&` and `||`.
    fn value(&mut self, op: Op, stop: &[char]) -> Result<Value, ParseError> {
        self.skip_ws();
        let at = self.i;
        let value = match self.peek() {
            Some('"') => Value::Str(Glob::new(&self.quoted()?)),
            Some('%') => {
                self.regexes += 1;
                if self.regexes > MAX_REGEX_PER_PATTERN {
                    return Err(err(
                        at,
                        format!(
                            "{INVALID}: a JSON or space-delimited pattern can contain at most {MAX_REGEX_PER_PATTERN} regular expressions"
                        ),
                    )
                    .hint("combine alternatives into one regex with |, or use wildcards (\"/api/*\") instead"));
                }
                Value::Regex(self.regex()?)
            }
            Some('\'') => {
                return Err(err(at, format!("{INVALID}: values are quoted with double quotes, not single quotes"))
                    .hint("write \"value\""))
            }
            Some(c) if !stop.contains(&c) && !self.starts_with("&&") && !self.starts_with("||") => {
                while self.peek().is_some_and(|c| !c.is_whitespace() && !stop.contains(&c))
                    && !self.starts_with("&&")
                    && !self.starts_with("||")
                {
                    self.i += 1;
                }
                let token = self.text(at, self.i);
                if let Some(bad) = token.chars().position(|c| !is_bare_value_char(c)) {
                    return Err(err(at + bad, format!("Invalid character(s) in term '{token}'")).hint(format!(
                        "quote values with characters other than letters, digits, _ - . * +: \"{}\"",
                        token.replace('\\', "\\\\").replace('"', "\\\"")
                    )));
                }
                if is_number(&token) {
                    let value = token.parse::<f64>().unwrap_or(f64::NAN);
                    Value::Num(Number { text: token, value })
                } else {
                    Value::Str(Glob::new(&token))
                }
            }
            _ => {
                return Err(err(at, format!("{INVALID}: expected a value after `{}`", op.as_str()))
                    .hint("for example \"ResponseComplete\", 403, \"/api/*\" or %regex%"))
            }
        };
        if op.is_relational() && !matches!(value, Value::Num(_)) {
            return Err(err(
                at,
                format!("{INVALID}: `{}` compares numbers, and this value is not a number", op.as_str()),
            )
            .hint("write a number such as 400, -1.5 or 1e3; compare text with = or !="));
        }
        Ok(value)
    }

    // ---- unstructured terms ----

    fn terms(&mut self) -> Result<Pattern, ParseError> {
        let mut terms = Vec::new();
        loop {
            self.skip_ws();
            let Some(c) = self.peek() else { break };
            let start = self.i;
            let kind = match c {
                '-' => TermKind::Excluded,
                '?' => TermKind::Optional,
                _ => TermKind::Required,
            };
            if kind != TermKind::Required {
                self.i += 1;
                // AWS's own example writes `"ERROR" - "Exiting"`.
                self.skip_ws();
            }
            let text = match self.peek() {
                None => {
                    return Err(err(start, format!("{INVALID}: expected a term after `{c}`"))
                        .hint("write it right before the term: -DEBUG, ?WARN, -\"health check\""))
                }
                Some('"') => TermText::Phrase(self.quoted()?),
                Some('%') => TermText::Regex(self.regex()?),
                Some(_) => {
                    let at = self.i;
                    while self.peek().is_some_and(|c| !c.is_whitespace()) {
                        self.i += 1;
                    }
                    let word = self.text(at, self.i);
                    if let Some(bad) = word.chars().position(|c| !(c.is_alphanumeric() || c == '_')) {
                        return Err(err(at + bad, format!("Invalid character(s) in term '{word}'")).hint(format!(
                            "terms with characters other than letters, digits and _ must be quoted: \"{}\"",
                            word.replace('\\', "\\\\").replace('"', "\\\"")
                        )));
                    }
                    TermText::Word(word)
                }
            };
            if let Some(next) = self.peek() {
                if !next.is_whitespace() {
                    return Err(err(
                        self.i,
                        format!("{INVALID}: expected a space before the next term, found {next:?}"),
                    )
                    .hint("separate terms with spaces; a quote inside a phrase is written \\\""));
                }
            }
            terms.push(Term { kind, text });
        }
        Ok(Pattern::Terms(terms))
    }

    // ---- JSON ----

    fn json(&mut self) -> Result<Pattern, ParseError> {
        let open = self.i;
        self.i += 1;
        self.skip_ws();
        if self.peek() == Some('}') {
            return Err(err(self.i, format!("{INVALID}: the JSON pattern has no condition"))
                .hint("write a condition between the braces, e.g. { $.stage = \"ResponseComplete\" }"));
        }
        let expr = self.or()?;
        self.skip_ws();
        match self.peek() {
            Some('}') => self.i += 1,
            None => {
                return Err(err(self.i, format!("{INVALID}: the JSON pattern is not closed: expected `}}`"))
                    .hint(format!("add `}}` at the end; the pattern opens with `{{` at character {}", open + 1)))
            }
            Some(')') => return Err(err(self.i, format!("{INVALID}: `)` without a matching `(`"))),
            Some(c) => {
                return Err(err(self.i, format!("{INVALID}: expected `&&`, `||` or `}}`, found {c:?}"))
                    .hint("join conditions with && or ||; quote values that contain spaces"))
            }
        }
        self.skip_ws();
        if let Some(c) = self.peek() {
            return Err(err(self.i, format!("{INVALID}: unexpected {c:?} after the closing `}}`"))
                .hint("a JSON pattern is one { ... }; combine conditions inside it with && and ||"));
        }
        Ok(Pattern::Json(expr))
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and()?];
        loop {
            self.skip_ws();
            if !self.starts_with("||") {
                break;
            }
            self.i += 2;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.unary()?];
        loop {
            self.skip_ws();
            if !self.starts_with("&&") {
                break;
            }
            self.i += 2;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                let open = self.i;
                self.i += 1;
                let inner = self.or()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(err(self.i, format!("{INVALID}: expected `)`"))
                        .hint(format!("close the parenthesis opened at character {}", open + 1)));
                }
                self.i += 1;
                Ok(Expr::Paren(Box::new(inner)))
            }
            Some('$') => Ok(Expr::Cond(self.cond()?)),
            Some('!') => Err(err(self.i, format!("{INVALID}: `!` cannot negate a condition"))
                .hint("use != to exclude a value and NOT EXISTS for a missing field; !(a && b) is written a' || b'")),
            None | Some('}') | Some(')') | Some('&') | Some('|') => {
                Err(err(self.i, format!("{INVALID}: expected a condition")).hint(
                    "a condition is a selector, an operator and a value, e.g. $.verb = \"create\"; && and || join two of them",
                ))
            }
            Some(c) => Err(err(self.i, format!("{INVALID}: expected a property selector starting with `$.`, found {c:?}"))
                .hint("select a field with $. and its name, e.g. $.verb = \"create\"")),
        }
    }

    fn cond(&mut self) -> Result<Cond, ParseError> {
        let at = self.i;
        let selector = self.selector()?;
        self.wildcards += selector.wildcards();
        if self.wildcards > MAX_WILDCARDS_PER_PATTERN {
            return Err(err(
                at,
                format!("{INVALID}: a filter pattern can use at most {MAX_WILDCARDS_PER_PATTERN} wildcard selectors"),
            )
            .hint("name the fields or array elements instead of `*` where you can"));
        }
        self.skip_ws();
        let kw_at = self.i;
        let word = self.peek_word();
        if !word.is_empty() {
            let cond = match word.as_str() {
                "IS" => {
                    self.i += 2;
                    self.skip_ws();
                    let what_at = self.i;
                    let what = self.peek_word();
                    let cond = match what.as_str() {
                        "NULL" => Cond::IsNull(selector),
                        "TRUE" => Cond::IsTrue(selector),
                        "FALSE" => Cond::IsFalse(selector),
                        "NOT" => {
                            return Err(err(kw_at, format!("{INVALID}: IS NOT is not supported"))
                                .hint("CloudWatch Logs has IS NULL, IS TRUE, IS FALSE and NOT EXISTS; test a value with !="))
                        }
                        _ => {
                            return Err(err(what_at, format!("{INVALID}: expected NULL, TRUE or FALSE after IS"))
                                .hint("keywords are written in capitals: IS NULL, IS TRUE, IS FALSE"))
                        }
                    };
                    self.i += what.len();
                    cond
                }
                "NOT" => {
                    self.i += 3;
                    self.skip_ws();
                    if self.peek_word() != "EXISTS" {
                        return Err(err(self.i, format!("{INVALID}: expected EXISTS after NOT"))
                            .hint("NOT EXISTS matches events without the field"));
                    }
                    self.i += 6;
                    Cond::NotExists(selector)
                }
                "EXISTS" => {
                    return Err(err(kw_at, format!("{INVALID}: EXISTS is not supported"))
                        .hint("`$.field = *` matches events where the field is a string or number; NOT EXISTS matches events without it"))
                }
                other if matches!(other.to_ascii_uppercase().as_str(), "IS" | "NOT" | "EXISTS") => {
                    return Err(err(kw_at, format!("{INVALID}: keywords are written in capitals: {}", other.to_ascii_uppercase()))
                        .hint("IS NULL, IS TRUE, IS FALSE, NOT EXISTS"))
                }
                _ => {
                    return Err(err(kw_at, format!("{INVALID}: expected an operator (=, !=, <, <=, >, >=), IS NULL, IS TRUE, IS FALSE or NOT EXISTS after the selector"))
                        .hint("for example $.verb = \"create\", $.responseStatus.code >= 400 or $.objectRef NOT EXISTS"))
                }
            };
            return Ok(cond);
        }
        let op = self.op()?;
        let value = self.value(op, &[')', '}'])?;
        Ok(Cond::Compare { selector, op, value })
    }

    fn selector(&mut self) -> Result<Selector, ParseError> {
        self.i += 1; // '$'
        if self.peek() != Some('.') {
            return Err(err(self.i, format!("{INVALID}: a property selector starts with `$.`"))
                .hint("for example $.verb, $.user.username, $.sourceIPs[0] or $.['dotted.key']"));
        }
        let mut steps = Vec::new();
        let mut wildcards = 0;
        loop {
            let step_at = self.i;
            let step = match self.peek() {
                Some('.') => {
                    self.i += 1;
                    match self.peek() {
                        Some('*') => {
                            self.i += 1;
                            Step::AnyKey
                        }
                        Some('[') => self.bracket()?,
                        Some(c) if is_name_char(c) => {
                            let start = self.i;
                            while self.peek().is_some_and(is_name_char) {
                                self.i += 1;
                            }
                            Step::Key(self.text(start, self.i))
                        }
                        _ => {
                            return Err(err(self.i, format!("{INVALID}: expected a property name after `.`")).hint(
                                "names are letters, digits, - and _; write other names in brackets: $.annotations['authorization.k8s.io/decision']",
                            ))
                        }
                    }
                }
                Some('[') => self.bracket()?,
                _ => break,
            };
            if matches!(step, Step::AnyKey | Step::AnyIndex) {
                wildcards += 1;
                if wildcards > MAX_WILDCARDS_PER_SELECTOR {
                    return Err(err(
                        step_at,
                        format!("{INVALID}: a property selector can use only {MAX_WILDCARDS_PER_SELECTOR} wildcard selector"),
                    )
                    .hint("name all but one of the fields or array elements"));
                }
            }
            steps.push(step);
        }
        if let Some(c) = self.peek() {
            if !(c.is_whitespace() || "=!<>)}".contains(c)) {
                return Err(err(self.i, format!("{INVALID}: {c:?} cannot appear in a property name")).hint(
                    "write names with other characters in brackets: $.annotations['authorization.k8s.io/decision']",
                ));
            }
        }
        Ok(Selector { steps })
    }

    /// `[0]`, `[*]`, `['name']`.
    fn bracket(&mut self) -> Result<Step, ParseError> {
        let open = self.i;
        self.i += 1;
        let step = match self.peek() {
            Some('*') => {
                self.i += 1;
                Step::AnyIndex
            }
            Some('\'') => {
                self.i += 1;
                let start = self.i;
                while self.peek().is_some_and(|c| c != '\'') {
                    self.i += 1;
                }
                if self.eof() {
                    return Err(err(open, format!("{INVALID}: the bracket that starts here is never closed"))
                        .hint("write a quoted name as ['name']"));
                }
                let key = self.text(start, self.i);
                self.i += 1;
                if key.is_empty() {
                    return Err(err(start, format!("{INVALID}: the property name in brackets is empty")));
                }
                Step::Key(key)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                let digits = self.text(start, self.i);
                match digits.parse::<usize>() {
                    Ok(n) => Step::Index(n),
                    Err(_) => return Err(err(start, format!("{INVALID}: array index {digits} is too large"))),
                }
            }
            Some('"') => {
                return Err(err(self.i, format!("{INVALID}: names in brackets are quoted with single quotes"))
                    .hint("write ['name']"))
            }
            _ => {
                return Err(err(self.i, format!("{INVALID}: expected an array index, * or a quoted 'name' after `[`"))
                    .hint("for example $.sourceIPs[0], $.users[*] or $.['dotted.key']"))
            }
        };
        if self.peek() != Some(']') {
            return Err(err(self.i, format!("{INVALID}: expected `]`")));
        }
        self.i += 1;
        Ok(step)
    }

    // ---- space-delimited ----

    fn delimited(&mut self) -> Result<Pattern, ParseError> {
        self.i += 1; // '['
        let mut slots = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => {
                    return Err(err(
                        self.i,
                        format!("{INVALID}: the space-delimited pattern is not closed: expected `]`"),
                    ))
                }
                // AWS's own example ends in `,]`.
                Some(']') if !slots.is_empty() => {
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            slots.push(self.slot()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some(']') => {
                    self.i += 1;
                    break;
                }
                None => {
                    return Err(err(
                        self.i,
                        format!("{INVALID}: the space-delimited pattern is not closed: expected `]`"),
                    ))
                }
                Some(c) => {
                    return Err(err(self.i, format!("{INVALID}: expected `,` or `]`, found {c:?}"))
                        .hint("separate fields with commas, e.g. [ip, user, ..., status_code = 403, bytes]"))
                }
            }
        }
        self.skip_ws();
        if let Some(c) = self.peek() {
            return Err(err(self.i, format!("{INVALID}: unexpected {c:?} after the closing `]`")));
        }
        Ok(Pattern::Delimited(slots))
    }

    fn field_name(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.i += 1;
        }
        if self.i == start {
            let found = self.peek().map_or("the end of the pattern".to_string(), |c| format!("{c:?}"));
            return Err(err(start, format!("{INVALID}: expected a field name or `...`, found {found}"))
                .hint("name each field with letters, digits and _, e.g. [ip, user, ..., status_code = 403, bytes]"));
        }
        Ok(self.text(start, self.i))
    }

    fn slot(&mut self) -> Result<Slot, ParseError> {
        if self.starts_with("...") {
            self.i += 3;
            return Ok(Slot::Ellipsis);
        }
        let name = self.field_name()?;
        self.skip_ws();
        if !matches!(self.peek(), Some('=' | '!' | '<' | '>')) {
            return Ok(Slot::Field { name, conditions: Vec::new() });
        }
        let mut conditions: Vec<Vec<FieldCond>> = vec![Vec::new()];
        loop {
            let op = self.op()?;
            let value = self.value(op, &[',', ']'])?;
            if let Some(group) = conditions.last_mut() {
                group.push(FieldCond { op, value });
            }
            self.skip_ws();
            let or = if self.starts_with("&&") {
                false
            } else if self.starts_with("||") {
                true
            } else {
                break;
            };
            self.i += 2;
            self.skip_ws();
            let at = self.i;
            let other = self.field_name()?;
            if other != name {
                return Err(err(
                    at,
                    format!("{INVALID}: a condition in field `{name}` can only test `{name}`, not `{other}`"),
                )
                .hint(format!("write each field's conditions in its own place, e.g. {name} = 403 || {name} = 404")));
            }
            self.skip_ws();
            if or {
                conditions.push(Vec::new());
            }
        }
        Ok(Slot::Field { name, conditions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_what_aws_calls_numbers() {
        for n in ["0", "400", "+1000", "-5", "55.5", "10e3", "10e-3", "1e+3", ".5", "5."] {
            assert!(is_number(n), "{n}");
        }
        for s in ["", "+", ".", "e3", "1e", "4*", "123.123.*", "1.2.3", "0x10", "1_000"] {
            assert!(!is_number(s), "{s}");
        }
    }
}
