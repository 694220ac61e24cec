//! The README backs its claims with the names of the tests that prove them. A cited test that is renamed or
//! removed would leave a claim standing on nothing, so every cited name must still be defined: a Rust test or
//! helper (`fn name`), a Python test (`def name`, the Lambda handlers' suites), or a name the project itself
//! spells out (a scanner check id the security scan lists, a field the plan shows).

use std::path::{Path, PathBuf};

/// The names the README cites: backquoted snake_case of four words or more (`a::b::name` by its last part).
/// Shorter ones are keys and values (`on_destroy`, `max_delivery_lag_seconds`), which the spec's own tests hold;
/// `aws_…` names are the vendors' Terraform resource types (`aws_s3_bucket_notification`), not ours.
fn cited(readme: &str) -> Vec<String> {
    let mut names: Vec<String> = readme
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| quoted.rsplit("::").next())
        .filter(|name| {
            let words: Vec<&str> = name.split('_').collect();
            words.len() >= 4
                && words[0] != "aws"
                && words
                    .iter()
                    .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        })
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every source file under `dir` with one of `extensions` (the build's output and virtualenvs left out).
fn sources(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                sources(&path, extensions, found);
            }
        } else if extensions.iter().any(|e| name.ends_with(e))
            || (path.extension().is_none() && dir.ends_with("scripts"))
        {
            found.push(path);
        }
    }
}

#[test]
fn every_test_the_readme_cites_exists() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let names = cited(&readme);
    assert!(names.len() >= 50, "the README cites its tests: {names:?}");

    let mut files = Vec::new();
    for dir in ["src", "crates", "tests", "lambda", "scripts"] {
        sources(&root.join(dir), &[".rs", ".py"], &mut files);
    }
    let texts: Vec<String> = files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect();
    let defined = |name: &str| {
        let (rust, python, spelled) = (format!("fn {name}("), format!("def {name}("), format!("\"{name}\""));
        texts.iter().any(|t| t.contains(&rust) || t.contains(&python) || t.contains(&spelled))
    };
    let missing: Vec<&String> = names.iter().filter(|n| !defined(n)).collect();
    assert!(missing.is_empty(), "the README cites names nothing defines (renamed or removed tests?): {missing:#?}");
}

#[test]
fn a_cited_name_is_found_by_its_last_part_and_keys_are_not_names() {
    let names = cited(
        "see `init::init_writes_a_spec_fast` and `on_destroy`, `a_b_c`, `aws_s3_bucket_policy` and `Not_A_Test_Name`.",
    );
    assert_eq!(names, ["init_writes_a_spec_fast"]);
}
