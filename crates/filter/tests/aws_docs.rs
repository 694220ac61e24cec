//! Test vectors from AWS's documentation of filter pattern syntax ("Filter pattern syntax for metric filters,
//! subscription filters, filter log events, and Live Tail", its JSON, unstructured, space-delimited and regex
//! sections, and the earlier "Filter and Pattern Syntax" page): each example pattern with the events the
//! documentation says it matches, and events it does not match (the documentation's own where it gives them).

use eksaudit_filter::parse;

/// `pattern` parses, matches every event in `yes` and none in `no`.
fn check(pattern: &str, yes: &[&str], no: &[&str]) {
    let p = parse(pattern).unwrap_or_else(|e| panic!("{pattern:?} does not parse: {e} {:?}", e.hint));
    for event in yes {
        assert!(p.matches(event), "{pattern:?} should match {event:?}");
    }
    for event in no {
        assert!(!p.matches(event), "{pattern:?} should not match {event:?}");
    }
    // The printed pattern means the same.
    let again = parse(&p.to_string()).unwrap_or_else(|e| panic!("{} (printed) does not parse: {e}", p));
    assert_eq!(again, p, "{pattern:?} printed as {p}");
}

// ---- unstructured terms ----

#[test]
fn empty_pattern_and_blank_phrase_match_everything() {
    check("", &["anything", "", "{\"a\":1}"], &[]);
    check("\" \"", &["anything", "ERROR"], &[]);
}

#[test]
fn single_term_is_a_case_sensitive_substring() {
    check(
        "ERROR",
        &[
            "[ERROR] A fatal exception has occurred",
            "Exiting with ERRORCODE: -1",
            "[ERROR 400] BAD REQUEST",
            "[ERROR 401] UNAUTHORIZED REQUEST",
            "[ERROR 419] MISSING ARGUMENTS",
            "[ERROR 420] INVALID ARGUMENTS",
        ],
        &["[error] lower case", "[WARN] all good"],
    );
}

#[test]
fn include_and_exclude_terms() {
    // The earlier page writes it with a space after the minus.
    check("\"ERROR\" - \"Exiting\"", &["[ERROR] A fatal exception has occurred"], &["Exiting with ERRORCODE: -1"]);
    check(
        "ERROR -ARGUMENTS",
        &["[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST"],
        &["[ERROR 419] MISSING ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS"],
    );
}

#[test]
fn multiple_terms_must_all_appear() {
    check(
        "ERROR Exception",
        &["[ERROR] Caught IllegalArgumentException", "[ERROR] Unhandled Exception"],
        &["[ERROR] A fatal exception has occurred"],
    );
    check(
        "Failed to process the request",
        &["[WARN] Failed to process the request", "[ERROR] Unable to continue: Failed to process the request"],
        &["[WARN] Failed to process"],
    );
    check(
        "ERROR ARGUMENTS",
        &["[ERROR 419] MISSING ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS"],
        &["[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST"],
    );
}

#[test]
fn or_pattern_matching_with_question_marks() {
    let (one, two, three) = ("ERROR WARN message", "ERROR message", "WARN message");
    check("ERROR", &[one, two], &[three]);
    check("?ERROR ?WARN", &[one, two, three], &["INFO message"]);
    check("ERROR WARN", &[one], &[two, three]);
    check("ERROR -WARN", &[two], &[one, three]);
    check(
        "?ERROR ?ARGUMENTS",
        &["[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST", "[ERROR 419] MISSING ARGUMENTS"],
        &["[INFO] all good"],
    );
}

#[test]
fn question_mark_terms_are_ignored_next_to_other_terms() {
    check(
        "?ERROR ?ARGUMENTS REQUEST",
        &["[INFO] REQUEST FAILED", "[WARN] UNAUTHORIZED REQUEST", "[ERROR] 400 BAD REQUEST"],
        &["[ERROR 419] MISSING ARGUMENTS"],
    );
}

#[test]
fn exact_phrases() {
    check(
        "\"INTERNAL SERVER ERROR\"",
        &["[ERROR 500] INTERNAL SERVER ERROR"],
        &["[ERROR 400] BAD REQUEST", "[ERROR 500] INTERNAL ERROR OF THE SERVER"],
    );
}

#[test]
fn standalone_regex() {
    check(
        "%AUTHORIZED%",
        &["[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST"],
        &["[SUCCESS 200] authorized request"],
    );
    check("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", &["from 10.0.12.31 port 22"], &["from localhost"]);
    check("%[Ee]rror|[Ff]ail%", &["Error: x", "error: x", "Failed", "will fail"], &["ERROR", "FAIL"]);
}

// ---- JSON ----

const TRAIL: &str = r#"{"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111", "arrayKey": ["value", "another value"], "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": null, "ThisFlag": true, "cluster.name": "c"}"#;

#[test]
fn json_string_values() {
    check("{ $.eventType = \"UpdateTrail\" }", &[TRAIL], &[r#"{"eventType": "CreateTrail"}"#, "UpdateTrail"]);
    check("{ $.eventType = %Trail% }", &[TRAIL], &[r#"{"eventType": "UpdateBucket"}"#]);
    check("{ $.['cluster.name'] = \"c\" }", &[TRAIL], &[r#"{"cluster": {"name": "c"}}"#]);
}

#[test]
fn json_wildcard_values() {
    check(
        "{ $.sourceIPAddress != 123.123.* }",
        &[TRAIL],
        &[r#"{"sourceIPAddress": "123.123.4.5"}"#, r#"{"other": 1}"#],
    );
    // "*Event will match PutEvent and GetEvent. Event* will match EventId and EventName. Ev*ent will only match
    // the actual string Ev*ent."
    check("{ $.name = *Event }", &[r#"{"name": "PutEvent"}"#, r#"{"name": "GetEvent"}"#], &[r#"{"name": "EventId"}"#]);
    check("{ $.name = Event* }", &[r#"{"name": "EventId"}"#, r#"{"name": "EventName"}"#], &[r#"{"name": "PutEvent"}"#]);
    check("{ $.name = \"Ev*ent\" }", &[r#"{"name": "Ev*ent"}"#], &[r#"{"name": "Event"}"#, r#"{"name": "EvXent"}"#]);
    // "metricFilter: { $.latency = * }": any string or number.
    check(
        "{ $.latency = * }",
        &[r#"{"latency": 42}"#, r#"{"latency": "high"}"#],
        &[r#"{"other": 1}"#, r#"{"latency": null}"#],
    );
}

#[test]
fn json_arrays() {
    check(
        "{ $.arrayKey[0] = \"value\" }",
        &[TRAIL],
        // "If arrayKey is not an array this will be false."
        &[r#"{"arrayKey": "value"}"#, r#"{"arrayKey": ["another value", "value"]}"#],
    );
    check(
        "{ $.objectList[1].id = 2 }",
        &[TRAIL],
        // "If the items in objectList are not objects or do not have an id property, this will be false."
        &[
            r#"{"objectList": [{"id": 2}]}"#,
            r#"{"objectList": [1, 2]}"#,
            r#"{"objectList": [{"id": 1}, {"name": "b"}]}"#,
        ],
    );
    check("{ $.arrayKey[*] = %val.{2}% }", &[TRAIL], &[r#"{"arrayKey": ["another", "vase"]}"#]);
    check("{ $.* = %111\\.111\\.111\\.1[0-9]{1,2}% }", &[TRAIL], &[r#"{"sourceIPAddress": "111.111.111.2"}"#]);
}

#[test]
fn json_selector_on_an_array_or_object_matches_neither_equal_nor_unequal() {
    let users = r#"{"users": [1, 2, 3]}"#;
    check("{ $.users = 1 }", &[], &[users]);
    check("{ $.users != 1 }", &[], &[users]);
}

#[test]
fn json_is_null_not_exists_is_true_false() {
    check("{ $.SomeObject IS NULL }", &[TRAIL], &[r#"{"SomeObject": {}}"#, r#"{"other": null}"#]);
    check("{ $.SomeOtherObject NOT EXISTS }", &[TRAIL], &[r#"{"SomeOtherObject": null}"#, "not json"]);
    check("{ $.ThisFlag IS TRUE }", &[TRAIL], &[r#"{"ThisFlag": false}"#, r#"{"ThisFlag": "true"}"#]);
    check("{ $.ThisFlag IS FALSE }", &[r#"{"ThisFlag": false}"#], &[TRAIL]);
}

#[test]
fn json_or_between_values() {
    let (bar, baz) = (r#"{"foo": "bar"}"#, r#"{"foo": "baz"}"#);
    check("{$.foo = bar}", &[bar], &[baz]);
    check("{$.foo = baz }", &[baz], &[bar]);
    check("{$.foo = bar || $.foo = baz }", &[bar, baz], &[r#"{"foo": "qux"}"#]);
}

const USERS: &str = r#"{"user": {"id": 1, "email": "John.Stiles@example.com"}, "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}], "actions": ["GET", "PUT", "DELETE"], "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]}"#;

#[test]
fn compound_conditions_follow_parentheses_then_and_then_or() {
    check("{ ($.user.id = 1) && ($.users[0].email = \"John.Doe@example.com\") }", &[USERS], &[]);
    check("{ ($.user.id = 2 && $.users[0].email = \"nonmatch\") || $.actions[2] = \"GET\" }", &[], &[USERS]);
    check(
        "{ $.user.email = \"John.Stiles@example.com\" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }",
        &[USERS],
        &[],
    );
    check(
        "{ ($.user.email = \"John.Stiles@example.com\" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }",
        &[],
        &[USERS],
    );
    check("{ $.coordinates[0][1] = 1 && $.coordinates[2][0] = 7 }", &[USERS], &[]);
}

#[test]
fn numeric_comparisons() {
    check(
        "{ $.latency >= 500 }",
        &[r#"{"latency": 500}"#, r#"{"latency": 501.5}"#],
        &[r#"{"latency": 499}"#, r#"{"latency": "600"}"#],
    );
    check("{ $.numbers[0] < 10e3 }", &[r#"{"numbers": [9999]}"#], &[r#"{"numbers": [10000]}"#]);
    check("{ $.numbers[0] < 10e-3 }", &[r#"{"numbers": [0.009]}"#], &[r#"{"numbers": [0.01]}"#]);
    check(
        "{ $.processes[4].averageRuntime <= 55.5 }",
        &[r#"{"processes": [0, 0, 0, 0, {"averageRuntime": 55.5}]}"#],
        &[r#"{"processes": [0, 0, 0, 0, {"averageRuntime": 55.6}]}"#],
    );
    check("{ $.errorCode = 400 }", &[r#"{"errorCode": 400}"#, r#"{"errorCode": 400.0}"#], &[r#"{"errorCode": 401}"#]);
    check("{ $.errorCode != 500 }", &[r#"{"errorCode": 400}"#], &[r#"{"errorCode": 500}"#, r#"{"other": 1}"#]);
    check("{ $.latency > +1000 }", &[r#"{"latency": 1001}"#], &[r#"{"latency": 1000}"#]);
    check("{ $.bandwidth > 75 }", &[r#"{"bandwidth": 80}"#], &[r#"{"bandwidth": 75}"#]);
    check("{ $.latency < 50 }", &[r#"{"latency": 49}"#], &[r#"{"latency": 50}"#]);
    check("{ $.refreshRate >= 60 }", &[r#"{"refreshRate": 60}"#], &[r#"{"refreshRate": 59}"#]);
    check("{ $.responseTime <= 5 }", &[r#"{"responseTime": 5}"#], &[r#"{"responseTime": 6}"#]);
    check("{ $.errorCode = 400}", &[r#"{"errorCode": 400}"#], &[r#"{"errorCode": 500}"#]);
    check("{ $.number[0] = 1e+3 }", &[r#"{"number": [1000]}"#], &[r#"{"number": [100]}"#]);
    check("{ $.number[0] != 1e-3 }", &[r#"{"number": [1]}"#], &[r#"{"number": [0.001]}"#]);
    // "Use the asterisk as a wild card to match numbers."
    check("{ $.code = 4* }", &[r#"{"code": 403}"#], &[r#"{"code": 503}"#]);
}

// ---- space-delimited ----

const APACHE: [&str; 3] = [
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355"#,
];

#[test]
fn space_delimited_fields_and_ellipsis() {
    for p in [
        "[ip, user, username, timestamp, request, status_code, bytes]",
        "[..., status_code, bytes]",
        "[ip, user, ..., status_code, bytes]",
        "[ip, user, ...]",
        "[ip, user, username, timestamp, request, status_code, bytes > 1000]",
    ] {
        check(p, &APACHE, &["one"]);
    }
    check("[ip, user, username, timestamp, request, status_code = 200, bytes]", &[APACHE[0], APACHE[2]], &[APACHE[1]]);
    check("[ip, user, username, timestamp, request, status_code = 4*, bytes]", &[], &APACHE);
    let html = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
    check("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", &[html], &APACHE);
    check("[..., request=*.html*, status_code=4*,]", &[html], &APACHE);
    check("[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]", &[html], &APACHE);
    check("[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]", &[html], &APACHE);
}

#[test]
fn space_delimited_with_regex_and_alternatives() {
    let event = r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
    check(
        "[ip=%127\\.0\\.0\\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        &[event],
        &[&event.replace("127.0.0.1", "10.0.0.1")],
    );
    check("[..., request =*.html*, status_code = 4*, bytes]", &[event], &[]);
    check(
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        &[event, &event.replace(" 404 ", " 410 ")],
        &[&event.replace(" 404 ", " 403 ")],
    );
}

const SERVICE: [&str; 4] = [
    "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
    "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
    "WARNING 09/25/2014 12:00:02 Invalid user request",
    "ERROR 09/25/2014 12:00:02 Failed to process request",
];

#[test]
fn space_delimited_terms_in_order() {
    check("[w1=ERROR, w2]", &[SERVICE[3]], &[SERVICE[0], SERVICE[1], SERVICE[2]]);
    check("[w1=ERROR || w1=WARNING, w2]", &[SERVICE[2], SERVICE[3]], &[SERVICE[0], SERVICE[1]]);
    check("[w1!=ERROR && w1!=WARNING, w2]", &[SERVICE[0], SERVICE[1]], &[SERVICE[2], SERVICE[3]]);
    check(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
        &[SERVICE[0]],
        &[SERVICE[1], SERVICE[2], SERVICE[3]],
    );
    check(
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
        &[SERVICE[1]],
        &[SERVICE[0], SERVICE[2], SERVICE[3]],
    );
    // The Lambda log pattern: the last field takes the rest of the line.
    check(
        "[timestamp=*Z, request_id=\"*-*\", event]",
        &["2026-11-20T10:00:00.000Z 6f1c-22aa {\"level\": \"info\", \"msg\": \"hello world\"}"],
        &["2026-11-20T10:00:00.000Z 6f1c22aa hello"],
    );
}
