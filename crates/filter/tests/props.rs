//! Properties: the parser never panics, whatever the input; every error points inside the pattern (or just past
//! its end); printing a parsed pattern and parsing it again gives the same tree; evaluation never panics.

use eksaudit_filter::parse;
use proptest::prelude::*;

/// Pieces of filter pattern syntax, right and wrong, so random input reaches deep into the parser.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "$.",
    "$",
    ".",
    "$.a",
    "$.stage",
    "$.user.username",
    "$.b[0]",
    "$.c[*]",
    "$.*",
    "$.['k.k']",
    "['x']",
    "[*]",
    "[12]",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "&&",
    "||",
    "&",
    "|",
    "!",
    "\"x y\"",
    "\"q\\\"\"",
    "\"\\\\\"",
    "\"",
    "'",
    "%a.b%",
    "%[0-9]+%",
    "%",
    "%(x)%",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "NOT",
    "EXISTS",
    "is",
    "1e3",
    "+5",
    "-2.5",
    "400",
    "4*",
    "*x*",
    "abc",
    "-",
    "?",
    "ERROR",
    "\"A B\"",
    "...",
    ",",
    "é",
    "\\",
    "\t",
    "\n",
    " ",
    "  ",
    "ResponseComplete",
    "/healthz",
    "*",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.join(""))
}

fn spaced_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..24).prop_map(|t| t.join(" "))
}

// ---- a generator of valid patterns ----

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        // The fields of an audit event, so evaluation meets real values.
        prop::sample::select(vec![
            "stage",
            "verb",
            "user",
            "username",
            "groups",
            "objectRef",
            "resource",
            "subresource",
            "namespace",
            "responseStatus",
            "code",
            "requestURI",
            "sourceIPs",
            "annotations",
            "level",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_][a-zA-Z0-9_-]{0,8}",
    ]
}

fn selector() -> impl Strategy<Value = String> {
    let step = prop_oneof![
        4 => name().prop_map(|n| format!(".{n}")),
        1 => (0usize..20).prop_map(|i| format!("[{i}]")),
        1 => "[a-z./ -]{1,10}".prop_map(|k| format!(".['{k}']")),
    ];
    (name(), prop::collection::vec(step, 0..3), prop::option::of(prop_oneof![Just("[*]"), Just(".*")])).prop_map(
        |(first, steps, wildcard)| {
            let mut s = format!("$.{first}{}", steps.concat());
            if let Some(w) = wildcard {
                s.push_str(w);
            }
            s
        },
    )
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Quoted text with quotes, backslashes, spaces, wildcards, unicode.
        "[a-zA-Z0-9 *\"\\\\/?:é_.-]{0,12}"
            .prop_map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))),
        "\\*?[a-zA-Z][a-zA-Z0-9_.-]{0,8}\\*?",
        "[+-]?[0-9]{1,4}(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
        prop::sample::select(vec!["%Trail%", "%^/api/v1/.+secrets%", "%[0-9]{3}%", "%a|b%"]).prop_map(str::to_string),
    ]
}

fn cond() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (selector(), prop::sample::select(vec!["=", "!="]), value()).prop_map(|(s, o, v)| format!("{s} {o} {v}")),
        2 => (selector(), prop::sample::select(vec!["<", "<=", ">", ">=", "=", "!="]), "[+-]?[0-9]{1,4}(\\.[0-9]{1,2})?")
            .prop_map(|(s, o, v)| format!("{s} {o} {v}")),
        1 => (selector(), prop::sample::select(vec!["IS NULL", "IS TRUE", "IS FALSE", "NOT EXISTS"]))
            .prop_map(|(s, k)| format!("{s} {k}")),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    cond().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" && ")),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" || ")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

fn term() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "-", "?"]),
        prop_oneof![
            "[a-zA-Z0-9_]{1,8}",
            "[a-zA-Z0-9 :/\"\\\\-]{0,10}".prop_map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))),
            Just("%AUTH[A-Z]+%".to_string()),
        ],
    )
        .prop_map(|(k, t)| format!("{k}{t}"))
}

fn slot() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("...".to_string()),
        3 => "[a-z][a-z0-9_]{0,6}",
        2 => ("[a-z][a-z0-9_]{0,6}", prop::sample::select(vec!["=", "!=", ">"]), "[0-9]{1,3}", prop::option::of("[0-9]{1,3}"))
            .prop_map(|(n, o, v, w)| match w {
                Some(w) => format!("{n} {o} {v} || {n} = {w}"),
                None => format!("{n}{o}{v}"),
            }),
    ]
}

fn valid_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => expr().prop_map(|e| format!("{{ {e} }}")),
        2 => prop::collection::vec(term(), 1..5).prop_map(|t| t.join(" ")),
        1 => prop::collection::vec(slot(), 1..6).prop_map(|s| format!("[{}]", s.join(", "))),
        1 => Just(String::new()),
    ]
}

fn check_round_trip(p: &str) -> Result<(), TestCaseError> {
    match parse(p) {
        Ok(tree) => {
            let printed = tree.to_string();
            let again =
                parse(&printed).map_err(|e| TestCaseError::fail(format!("{p:?} printed as {printed:?}: {e}")))?;
            prop_assert_eq!(&again, &tree, "{:?} printed as {:?}", p, printed);
            prop_assert_eq!(again.to_string(), printed);
        }
        Err(e) => prop_assert!(e.offset <= p.chars().count(), "{:?}: offset {} past the end", p, e.offset),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_parser_never_panics_on_any_string(p in any::<String>()) {
        check_round_trip(&p)?;
    }

    #[test]
    fn the_parser_never_panics_on_pattern_like_input(p in prop_oneof![soup(), spaced_soup()]) {
        check_round_trip(&p)?;
    }

    #[test]
    fn printing_a_parsed_pattern_and_parsing_it_again_gives_the_same_tree(p in valid_pattern()) {
        let tree = parse(&p);
        // The generator stays within AWS's limits except, rarely, the wildcard and regex counts.
        if let Err(e) = &tree {
            prop_assert!(e.message.contains("at most"), "{}", format!("{p:?} did not parse: {e}"));
            return Ok(());
        }
        check_round_trip(&p)?;
    }

    #[test]
    fn evaluation_never_panics(p in valid_pattern(), event in prop_oneof![
        any::<String>(),
        Just(r#"{"stage":"ResponseComplete","a":[1,{"b":null}],"k.k":"x","user":{"username":"u"}}"#.to_string()),
        "[a-z0-9 \\[\\]\"]{0,40}",
    ]) {
        if let Ok(tree) = parse(&p) {
            // Reading only the selected fields answers like reading the whole event.
            let whole = eksaudit_filter::parse_event(&event);
            prop_assert_eq!(tree.matcher().matches(&event), tree.matches_parsed(&event, whole.as_ref()));
        }
    }

    #[test]
    fn reading_only_the_selected_fields_answers_like_reading_all(p in expr(), line in prop::sample::select(
        eksaudit_filter::SAMPLE_EVENTS.lines().collect::<Vec<_>>()
    )) {
        let tree = parse(&format!("{{ {p} }}"));
        if let Ok(tree) = tree {
            let whole = eksaudit_filter::parse_event(line);
            prop_assert_eq!(tree.matcher().matches(line), tree.matches_parsed(line, whole.as_ref()));
        }
    }
}
