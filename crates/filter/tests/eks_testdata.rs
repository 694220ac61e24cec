//! The default pattern (the Lacework/FortiCNAPP and RAD Security modules') against the project's EKS audit test
//! data and against the built-in samples.

use eksaudit_filter::{dropped_classes, parse, samples, Class, Event};

/// The default pattern, as in `eksaudit_spec::DEFAULT_FILTER_PATTERN` and the reference notes (333 characters).
pub const DEFAULT: &str = r#"{ $.stage = "ResponseComplete" && $.requestURI != "/version" && $.requestURI != "/version?*" && $.requestURI != "/metrics" && $.requestURI != "/metrics?*" && $.requestURI != "/logs" && $.requestURI != "/logs?*" && $.requestURI != "/swagger*" && $.requestURI != "/livez*" && $.requestURI != "/readyz*" && $.requestURI != "/healthz*" }"#;

const TESTDATA: &str = include_str!("../../../tests/data/eks-audit-events.jsonl");

fn verdicts() -> Vec<(String, String, bool)> {
    let p = parse(DEFAULT).unwrap();
    TESTDATA
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let e = Event::new(i + 1, l);
            let info = e.info();
            (info.what(), info.stage.unwrap_or_default(), e.forwarded_by(&p))
        })
        .collect()
}

#[test]
fn default_pattern_forwards_what_a_consumer_needs_from_the_test_data() {
    let v = verdicts();
    let forwarded = |what: &str, stage: &str| {
        v.iter().find(|(w, s, _)| w == what && s == stage).unwrap_or_else(|| panic!("no {what} at {stage}: {v:?}")).2
    };
    assert!(forwarded("create secrets kube-system/db-password", "ResponseComplete"));
    assert!(forwarded("create clusterrolebindings cluster-admin-bob", "ResponseComplete"));
    assert!(forwarded("create pods/exec default/web-0", "ResponseComplete"));
    assert!(forwarded("list secrets", "ResponseComplete"), "the forbidden anonymous list");
}

#[test]
fn default_pattern_drops_the_noise_from_the_test_data() {
    let v = verdicts();
    let dropped = |what: &str, stage: &str| {
        !v.iter().find(|(w, s, _)| w == what && s == stage).unwrap_or_else(|| panic!("no {what}: {v:?}")).2
    };
    assert!(dropped("create clusterrolebindings cluster-admin-bob", "RequestReceived"));
    assert!(dropped("get /healthz", "ResponseComplete"));
    assert!(dropped("get /readyz?verbose", "ResponseComplete"));
    assert!(dropped("get /version?timeout=32s", "ResponseComplete"));
    assert_eq!(v.iter().filter(|x| x.2).count(), 4, "{v:?}");
}

#[test]
fn the_cloudwatch_envelope_carries_events_the_pattern_reads_the_same() {
    let envelope: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/data/cloudwatch-envelope.json")).unwrap();
    let p = parse(DEFAULT).unwrap();
    let got: Vec<bool> =
        envelope["logEvents"].as_array().unwrap().iter().map(|e| p.matches(e["message"].as_str().unwrap())).collect();
    assert_eq!(got, [true, false], "the secret create is forwarded, /healthz is not");
}

#[test]
fn default_pattern_keeps_every_class_of_the_built_in_samples() {
    let p = parse(DEFAULT).unwrap();
    assert_eq!(dropped_classes(&p, &Class::ALL), []);
    let events = samples();
    let noise = ["/healthz", "/readyz?verbose", "/livez", "/version?timeout=32s", "/metrics", "/swagger-2.0.0.pb-v1"];
    for e in &events {
        let info = e.info();
        let uri = info.request_uri.clone().unwrap_or_default();
        let expected = info.stage.as_deref() == Some("ResponseComplete") && !noise.contains(&uri.as_str());
        assert_eq!(e.forwarded_by(&p), expected, "{} at {:?}", info.what(), info.stage);
    }
}

#[test]
fn patterns_that_lose_a_class_are_found() {
    let gaps = |pattern: &str| -> Vec<&'static str> {
        dropped_classes(&parse(pattern).unwrap(), &Class::ALL).iter().map(|g| g.class.name()).collect()
    };
    // Only requests as they arrive: no outcome ever reaches the consumer.
    assert_eq!(gaps(r#"{ $.stage = "RequestReceived" }"#), ["write", "exec", "forbidden", "secret"]);
    // Only reads (an attach over a websocket is a `get`, so execs are still seen).
    assert_eq!(
        gaps(r#"{ $.stage = "ResponseComplete" && ($.verb = "get" || $.verb = "list" || $.verb = "watch") }"#),
        ["write"]
    );
    // No pod subresources at all.
    assert_eq!(gaps(r#"{ $.stage = "ResponseComplete" && $.objectRef.subresource NOT EXISTS }"#), ["exec"]);
    // Successful requests only.
    assert_eq!(gaps(r#"{ $.stage = "ResponseComplete" && $.responseStatus.code < 400 }"#), ["forbidden"]);
    // Everything but secrets.
    assert_eq!(gaps(r#"{ $.stage = "ResponseComplete" && $.objectRef.resource != "secrets" }"#), ["secret"]);
    // A typo that forwards nothing at all.
    assert_eq!(gaps(r#"{ $.stage = "Responsecomplete" }"#).len(), 4);
    // The empty pattern forwards everything.
    assert!(gaps("").is_empty());
}

#[test]
fn patterns_people_write_for_eks_audit_logs() {
    let events: Vec<Event> = TESTDATA.lines().enumerate().map(|(i, l)| Event::new(i + 1, l)).collect();
    let forwarded = |pattern: &str| -> Vec<usize> {
        let p = parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        events.iter().filter(|e| e.forwarded_by(&p)).map(|e| e.line).collect()
    };
    assert_eq!(forwarded(r#"{ $.annotations['authorization.k8s.io/decision'] = "forbid" }"#), [7]);
    assert_eq!(forwarded(r#"{ $.responseStatus.code >= 400 }"#), [7]);
    assert_eq!(forwarded(r#"{ $.user.groups[*] = "system:masters" }"#), [1, 3, 4]);
    assert_eq!(forwarded(r#"{ $.sourceIPs[0] != "10.*" && $.stage = "ResponseComplete" }"#), [1, 4, 6, 7]);
    assert_eq!(forwarded(r#"{ $.objectRef.subresource = "exec" || $.objectRef.resource = %^secrets$% }"#), [1, 6, 7]);
    assert_eq!(forwarded(r#"{ $.objectRef NOT EXISTS }"#), [2, 5, 8]);
    assert_eq!(forwarded(r#"-"kube-probe" "ResponseComplete""#), [1, 4, 5, 6, 7]);
    assert_eq!(forwarded(r#"?"/healthz" ?"/readyz""#), [2, 8]);
}

#[test]
fn printing_normalises_spacing_and_keeps_meaning() {
    let p = parse(r#"{($.a=1&&$.annotations['x/y']!="z*")||$.['k.k'] IS NULL}"#).unwrap();
    assert_eq!(p.to_string(), r#"{ ($.a = 1 && $.annotations['x/y'] != "z*") || $.['k.k'] IS NULL }"#);
    assert_eq!(parse(&p.to_string()).unwrap(), p);
    let p = parse(r#"  ERROR   -"kube probe"  ?x "#).unwrap();
    assert_eq!(p.to_string(), r#"ERROR -"kube probe" ?x"#);
    let p = parse("[ip,...,code=4*||code=%5[0-9]{2}%,bytes>1000,]").unwrap();
    assert_eq!(p.to_string(), r#"[ip, ..., code = "4*" || code = %5[0-9]{2}%, bytes > 1000]"#);
    assert_eq!(parse("   ").unwrap().to_string(), "");
}
