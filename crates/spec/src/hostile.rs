//! Hostile input: whatever a user (or a fuzzer) feeds the spec parser, it answers with problems that say where,
//! never a panic. Property tests over arbitrary text, over the example spec with any value swapped in at any key,
//! and the edge cases people actually hit (over-long filter patterns, `:` and `*` in names, unicode).

use proptest::prelude::*;

use crate::tests::MINIMAL;
use crate::*;

const EXAMPLE: &str = include_str!("../../../config.example.toml");

/// Every problem says where: a key path, or for syntax errors a line and column; and what to do.
fn assert_located(problems: &Problems) {
    assert!(!problems.0.is_empty());
    for p in &problems.0 {
        assert!(!p.message.is_empty(), "{p:?}");
        assert!(!p.path.is_empty() || p.location.is_some(), "problem without a place: {p:?}");
    }
}

/// TOML values of every shape, hostile strings included.
fn any_value() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        any::<String>(),
        "[a-z*?:/\\[\\]{}-]{0,80}",
        Just("x".repeat(5000)),
        Just("ünïcødé-☃-集群".to_string()),
        Just("arn:aws:iam::*:role/*".to_string()),
        Just(String::new()),
    ];
    prop_oneof![
        text.prop_map(|s| format!("{s:?}").replace("\\u{", "\\u{").replace('\'', "")),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| if f.is_finite() { format!("{f:?}") } else { "nan".into() }),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("[]".to_string()),
        Just("[1, \"a\", true]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("2026-11-23T12:00:00Z".to_string()),
    ]
}

/// The `key = value` lines of the example (commented-out ones included, uncommented).
fn example_keys() -> Vec<(usize, String)> {
    EXAMPLE
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim_start_matches("# ").trim();
            let (key, _) = line.split_once(" = ")?;
            (!key.contains(' ') && !key.is_empty()).then(|| (i, key.to_string()))
        })
        .collect()
}

/// The full key path of the example's key at line `at`, as problems name it: `pipeline.name`, `region[0].clusters`.
/// The section is the real one above it (a key uncommented under a commented-out `# [alerts]` is in the table
/// before it).
fn key_path(at: usize, key: &str) -> String {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let section = lines[..at].iter().rev().find_map(|l| {
        let l = l.trim();
        if let Some(array) = l.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
            Some(format!("{array}[0]"))
        } else {
            l.strip_prefix('[').and_then(|l| l.strip_suffix(']')).map(str::to_string)
        }
    });
    match section {
        Some(section) => format!("{section}.{key}"),
        None => key.to_string(),
    }
}

/// The example with the value at line `at` replaced (uncommenting it if needed).
fn with_value(at: usize, key: &str, value: &str) -> String {
    EXAMPLE
        .lines()
        .enumerate()
        .map(|(i, line)| if i == at { format!("{key} = {value}") } else { line.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        if let Err(problems) = parse_spec(&src) {
            assert_located(&problems);
        }
    }

    #[test]
    fn toml_like_text_never_panics(src in "(\\[\\[?[a-z_]{0,10}\\]\\]?\n|[a-z_.]{1,12} = (\"[^\"\n]{0,20}\"|[0-9-]{1,5}|\\[\\]|true)\n){0,12}") {
        if let Err(problems) = parse_spec(&src) {
            assert_located(&problems);
        }
    }

    #[test]
    fn any_value_at_any_key_of_the_example_is_accepted_or_located(
        pick in any::<prop::sample::Index>(),
        value in any_value(),
    ) {
        let keys = example_keys();
        let (at, key) = &keys[pick.index(keys.len())];
        let src = with_value(*at, key, &value);
        if let Err(problems) = parse_spec(&src) {
            assert_located(&problems);
            // A bad value is reported on its own line and column, under its own key path (or inside it: a list
            // item, a table's key), or, for a conflict between two keys, under the other key's path with this
            // line: the key path, line and column the README promises.
            if toml::from_str::<toml::Table>(&src).is_ok() {
                let path = key_path(*at, key);
                assert!(
                    problems.0.iter().any(|p| {
                        let at_key = p.path == path
                            || p.path.starts_with(&format!("{path}."))
                            || p.path.starts_with(&format!("{path}["));
                        let on_line = p.location.is_some_and(|l| l.line == at + 1 && l.column > 0);
                        on_line && (at_key || !p.path.is_empty())
                    }),
                    "{path} = {value} (line {}): {problems}",
                    at + 1
                );
            }
        }
    }
}

#[test]
fn filter_patterns_longer_than_1024_characters_are_refused_at_their_key() {
    let long = format!("{MINIMAL}\n[filter]\npattern = \"{}\"\n", "a".repeat(1025));
    let problems = parse_spec(&long).unwrap_err();
    assert!(problems.0.iter().any(|p| p.path == "filter.pattern" && p.location.is_some()), "{problems}");
}

#[test]
fn cluster_names_with_colons_stars_and_unicode_are_judged_not_crashed_on() {
    for (entry, ok) in [
        ("prod:1", false),
        ("prod*", true),
        ("*", true),
        ("集群", false),
        ("prod-ü", false),
        ("a".repeat(101).as_str(), false),
        ("[", false),
    ] {
        let src = MINIMAL.replace("clusters = [\"prod-1\"]", &format!("clusters = [{entry:?}]"));
        match parse_spec(&src) {
            Ok(_) => assert!(ok, "{entry:?} should be refused"),
            Err(problems) => {
                assert!(!ok, "{entry:?} should be accepted: {problems}");
                assert!(
                    problems.0.iter().any(|p| p.path == "region[0].clusters[0]" && p.hint.is_some()),
                    "{entry:?}: {problems}"
                );
            }
        }
    }
}

#[test]
fn names_with_colons_and_stars_elsewhere_are_refused_at_their_key() {
    for (from, to, path) in [
        ("name = \"eks-audit\"", "name = \"eks:audit\"", "pipeline.name"),
        ("name = \"eks-audit\"", "name = \"eks-*\"", "pipeline.name"),
        ("name = \"eu-central-1\"", "name = \"eu-*\"", "region[0].name"),
        ("account_id = \"434813966438\"", "account_id = \"4348*\"", "consumer.account_id"),
    ] {
        let problems = parse_spec(&MINIMAL.replacen(from, to, 1)).unwrap_err();
        assert!(problems.0.iter().any(|p| p.path == path), "{to}: {problems}");
    }
}
