//! IAM-style policy documents compared by meaning, not text: statement order, key order, `Sid`s, string-vs-list
//! forms, action case and URL-encoding do not make a policy different.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// A canonical form: two documents that grant the same thing normalise to equal values.
pub fn normalize(doc: &Value) -> Value {
    canonical(doc, true)
}

/// The canonical order and shape for showing a document to people: statements and keys sorted, lists as
/// lists, `Sid`s gone, but actions and condition keys in the case they were written.
pub fn display_form(doc: &Value) -> Value {
    canonical(doc, false)
}

fn canonical(doc: &Value, fold_case: bool) -> Value {
    let mut out = Map::new();
    if let Some(v) = doc.get("Version") {
        out.insert("Version".into(), v.clone());
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let mut normalized: Vec<Value> = statements.iter().map(|s| normalize_statement(s, fold_case)).collect();
    normalized.sort_by_key(|s| s.to_string());
    normalized.dedup();
    out.insert("Statement".into(), Value::Array(normalized));
    Value::Object(out)
}

/// Parses a document as AWS returns it (IAM URL-encodes trust policies) and normalises it.
pub fn parse(text: &str) -> Option<Value> {
    let decoded;
    let text = if text.trim_start().starts_with('%') || text.contains("%7B") || text.contains("%22") {
        decoded = percent_decode(text);
        decoded.as_str()
    } else {
        text
    };
    serde_json::from_str::<Value>(text).ok()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            // Two hex digits, checked as bytes: a `%` before a multi-byte character is text (slicing there would panic).
            if bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() {
                if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn string_list(v: &Value, lowercase: bool) -> Value {
    let mut items: Vec<String> = match v {
        Value::Array(a) => a.iter().map(scalar_string).collect(),
        other => vec![scalar_string(other)],
    };
    if lowercase {
        items.iter_mut().for_each(|s| *s = s.to_ascii_lowercase());
    }
    items.sort();
    items.dedup();
    Value::Array(items.into_iter().map(Value::String).collect())
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A bare account id as an AWS principal means that account's root.
fn principal_value(kind: &str, v: &Value) -> Value {
    let list = string_list(v, false);
    if kind != "AWS" {
        return list;
    }
    let mut items: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .map(|s| {
            if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
                format!("arn:aws:iam::{s}:root")
            } else {
                s.to_string()
            }
        })
        .collect();
    items.sort();
    Value::Array(items.into_iter().map(Value::String).collect())
}

fn normalize_statement(stmt: &Value, fold_case: bool) -> Value {
    let Some(obj) = stmt.as_object() else { return stmt.clone() };
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "Sid" => {}
            "Action" | "NotAction" => {
                out.insert(key.clone(), string_list(value, fold_case));
            }
            "Resource" | "NotResource" => {
                out.insert(key.clone(), string_list(value, false));
            }
            "Principal" | "NotPrincipal" => {
                let v = match value {
                    Value::Object(p) => {
                        let m: Map<String, Value> = p.iter().map(|(k, v)| (k.clone(), principal_value(k, v))).collect();
                        Value::Object(m)
                    }
                    Value::String(s) if s == "*" => json!({"AWS": ["*"]}),
                    other => other.clone(),
                };
                out.insert(key.clone(), v);
            }
            "Condition" => {
                let mut ops = Map::new();
                for (op, clauses) in value.as_object().into_iter().flatten() {
                    let mut keys: BTreeMap<String, Value> = BTreeMap::new();
                    for (k, v) in clauses.as_object().into_iter().flatten() {
                        // Condition keys are case-insensitive.
                        let k = if fold_case { k.to_ascii_lowercase() } else { k.clone() };
                        keys.insert(k, string_list(v, false));
                    }
                    ops.insert(op.clone(), Value::Object(keys.into_iter().collect()));
                }
                out.insert(key.clone(), Value::Object(ops));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// Whether a pattern with `*` and `?` wildcards (IAM's) matches a value. Case-sensitive unless asked.
pub fn wildcard_match(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = if case_insensitive {
        (pattern.to_ascii_lowercase().chars().collect(), value.to_ascii_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), value.chars().collect())
    };
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether a set of identity policies allows `action` on `resource` through some Allow statement (explicit
/// denies and conditions are not evaluated: this is a plan-time check that a reused role was given what eksaudit
/// needs, not an authorisation engine).
pub fn allows(policies: &[Value], action: &str, resource: &str) -> bool {
    policies.iter().any(|doc| {
        let doc = normalize(doc);
        doc["Statement"].as_array().into_iter().flatten().any(|s| {
            s.get("Effect").and_then(Value::as_str) == Some("Allow")
                && s["Action"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|a| wildcard_match(a, action, true))
                && s["Resource"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|r| wildcard_match(r, resource, false))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy AWS returns may hold any text (a foreign bucket's, read before ownership is known): a `%` before a
    /// multi-byte character is kept as it is, not a panic.
    #[test]
    fn a_percent_before_a_multi_byte_character_is_text() {
        assert_eq!(percent_decode("%22 %aé %é %"), "\" %aé %é %");
        assert_eq!(parse(r#"%7B"Sid": "%aé"}"#), Some(json!({"Sid": "%aé"})));
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), r#"{"a":1}"#);
    }

    #[test]
    fn order_case_sid_and_list_forms_do_not_matter() {
        let a = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Principal": "*", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
             "Condition": {"Bool": {"aws:SecureTransport": false}}}
        ]});
        let b = json!({"Statement": [
            {"Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"], "Action": "S3:*", "Effect": "Deny", "Principal": {"AWS": "*"},
             "Condition": {"Bool": {"AWS:SecureTransport": "false"}}},
            {"Effect": "Allow", "Action": ["S3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}
        ], "Version": "2012-10-17"});
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn a_real_difference_stays_different() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        assert_ne!(normalize(&a), normalize(&b));
    }

    #[test]
    fn account_principals_mean_root() {
        let a = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "434813966438"}, "Action": "sts:AssumeRole"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::434813966438:root"]}, "Action": "sts:AssumeRole"}]});
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn url_encoded_documents_parse() {
        let doc = parse("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D").unwrap();
        assert_eq!(doc, json!({"Version": "2012-10-17", "Statement": []}));
        assert!(parse("{not json").is_none());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("s3:*", "s3:PutObject", true));
        assert!(wildcard_match("S3:put*", "s3:PutObject", true));
        assert!(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/eks/x", false));
        assert!(!wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::c/x", false));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("a?c", "ac", false));
    }

    #[test]
    fn allow_checks_find_grants() {
        let p = vec![
            json!({"Statement": [{"Effect": "Allow", "Action": ["firehose:Put*"], "Resource": "arn:aws:firehose:*:1:deliverystream/x"}]}),
        ];
        assert!(allows(&p, "firehose:PutRecordBatch", "arn:aws:firehose:eu-west-1:1:deliverystream/x"));
        assert!(!allows(&p, "firehose:DeleteDeliveryStream", "arn:aws:firehose:eu-west-1:1:deliverystream/x"));
        assert!(!allows(&p, "firehose:PutRecord", "arn:aws:firehose:eu-west-1:1:deliverystream/y"));
    }
}
