//! Patterns CloudWatch Logs would reject: each error points at the exact character.

use eksaudit_filter::{parse, MAX_PATTERN_CHARS};

/// Parses `pattern`, expects an error at the character marked by `^` in `caret`, and a message containing `says`.
fn rejects(pattern: &str, caret: &str, says: &str) {
    let e = parse(pattern).expect_err(pattern);
    let want = caret.find('^').expect("a caret");
    assert_eq!(e.offset, want, "{pattern:?}: {e} (wanted the error under ^ at {want})\n{}", e.excerpt(pattern, ""));
    assert!(e.message.contains(says), "{pattern:?}: {:?} does not say {says:?}", e.message);
    assert_eq!(e.excerpt(pattern, ""), format!("{pattern}\n{}^", " ".repeat(want)));
}

#[test]
fn json_syntax_errors_point_at_the_character() {
    rejects(r#"{ $.stage = "ResponseComplete" "#, "                               ^", "not closed");
    rejects(r#"{ $.stage = "ResponseComplete }"#, "            ^", "never closed");
    rejects(r#"{ $.stage = }"#, "            ^", "expected a value after `=`");
    rejects(r#"{ stage = "x" }"#, "  ^", "starting with `$.`");
    rejects(r#"{ $stage = "x" }"#, "   ^", "starts with `$.`");
    rejects(r#"{ $.stage == "x" }"#, "          ^", "`==`");
    rejects(r#"{ $.a = 1 && }"#, "             ^", "expected a condition");
    rejects(r#"{ $.a = 1 & $.b = 2 }"#, "          ^", "expected `&&`, `||` or `}`");
    rejects(r#"{ ($.a = 1 || $.b = 2 }"#, "                      ^", "expected `)`");
    rejects(r#"{ $.a = 1 ) }"#, "          ^", "`)` without a matching `(`");
    rejects(r#"{ $.a = 1 } x"#, "            ^", "after the closing");
    rejects(r#"{ }"#, "  ^", "no condition");
    rejects(
        r#"{ $.user.username = system:anonymous }"#,
        "                          ^",
        "Invalid character(s) in term 'system:anonymous'",
    );
    rejects(r#"{ $.a/b = 1 }"#, "     ^", "cannot appear in a property name");
    rejects(r#"{ $.code > "400" }"#, "           ^", "compares numbers");
    rejects(r#"{ $.code > abc }"#, "           ^", "compares numbers");
    rejects(r#"{ $.a IS NOT NULL }"#, "      ^", "IS NOT is not supported");
    rejects(r#"{ $.a EXISTS }"#, "      ^", "EXISTS is not supported");
    rejects(r#"{ $.a is null }"#, "      ^", "capitals");
    rejects(r#"{ $.a IS MISSING }"#, "         ^", "NULL, TRUE or FALSE");
    rejects(r#"{ $.a NOT THERE }"#, "          ^", "EXISTS after NOT");
    rejects(r#"{ !($.a = 1) }"#, "  ^", "cannot negate");
    rejects(r#"{ $.a = 'x' }"#, "        ^", "double quotes");
    rejects(r#"{ $.a["k"] = 1 }"#, "      ^", "single quotes");
    rejects(r#"{ $.a[-1] = 1 }"#, "      ^", "array index");
    rejects(r#"{ $.a[0 = 1 }"#, "       ^", "expected `]`");
    rejects(r#"{ $.['k = 1 }"#, "    ^", "never closed");
    rejects(r#"{ $. = 1 }"#, "    ^", "property name after `.`");
}

#[test]
fn aws_limits_are_enforced() {
    // One wildcard selector per property selector, three per pattern.
    rejects(r#"{ $.a[*].b[*] = 1 }"#, "          ^", "only 1 wildcard selector");
    rejects(r#"{ $.*[*] = 1 }"#, "     ^", "only 1 wildcard selector");
    rejects(
        r#"{ $.a[*] = 1 || $.b[*] = 2 || $.c[*] = 3 || $.d[*] = 4 }"#,
        "                                            ^",
        "at most 3 wildcard selectors",
    );
    assert!(parse(r#"{ $.a[*] = 1 || $.b[*] = 2 || $.c.* = 3 }"#).is_ok());
    // Two regexes in a JSON or space-delimited pattern.
    rejects(
        r#"{ $.a = %x% && $.b = %y% && $.c = %z% }"#,
        "                                  ^",
        "at most 2 regular expressions",
    );
    rejects(r#"[a = %x%, b = %y%, c = %z%]"#, "                       ^", "at most 2 regular expressions");
    assert!(parse(r#"{ $.a = %x% && $.b != %y% }"#).is_ok());
    // The regex dialect.
    rejects(r#"%something!%"#, "          ^", "'!' is not supported");
    rejects(r#"{ $.a = %(get|list)% }"#, "         ^", "( and ) operators are not supported");
    rejects(r#"%ü%"#, " ^", "Multi-byte");
    rejects(r#"%[a-%"#, " ^", "Invalid regex");
    rejects(r#"%abc"#, "^", "never closed");
    // 1024 characters.
    let long = format!("\"{}\"", "x".repeat(MAX_PATTERN_CHARS - 2));
    assert!(parse(&long).is_ok());
    let too_long = format!("\"{}\"", "x".repeat(MAX_PATTERN_CHARS - 1));
    let e = parse(&too_long).unwrap_err();
    assert_eq!(e.offset, MAX_PATTERN_CHARS);
    assert!(e.message.contains("1025 characters") && e.message.contains("length less than or equal to 1024"), "{e}");
}

#[test]
fn term_errors_point_at_the_character() {
    rejects("ERROR kube-probe", "          ^", "Invalid character(s) in term 'kube-probe'");
    rejects("\"unterminated", "^", "never closed");
    rejects("\"a\"b", "   ^", "space before the next term");
    rejects("ERROR -", "      ^", "expected a term after `-`");
    rejects("?", "^", "expected a term after `?`");
}

#[test]
fn delimited_errors_point_at_the_character() {
    rejects("[ip, user", "         ^", "not closed");
    rejects("[]", " ^", "field name");
    rejects("[ip user]", "    ^", "expected `,` or `]`");
    rejects("[a = 4* && b > 1000]", "           ^", "can only test `a`");
    rejects("[a] b", "    ^", "after the closing `]`");
}

#[test]
fn hints_say_how_to_fix_it() {
    let e = parse(r#"{ $.user.username = system:anonymous }"#).unwrap_err();
    assert!(e.hint.as_deref().unwrap().contains("\"system:anonymous\""), "{e:?}");
    let e = parse(r#"{ $.annotations.authorization.k8s.io/decision = "forbid" }"#).unwrap_err();
    assert!(e.hint.as_deref().unwrap().contains("$.annotations['authorization.k8s.io/decision']"), "{e:?}");
}
