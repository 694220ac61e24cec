//! Whole-file tests of loading and validation: every rule reached through real TOML, with its key path.

use crate::*;

const EXAMPLE: &str = include_str!("../../../config.example.toml");

pub(crate) const MINIMAL: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
account_id = "434813966438"
external_id = "external-id"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

fn problems(src: &str) -> Vec<Problem> {
    parse_spec(src).expect_err("spec should be rejected").0
}

/// Asserts exactly one problem at `path` whose message contains `needle`, and that it carries a hint.
fn assert_one(src: &str, path: &str, needle: &str) -> Problem {
    let ps = problems(src);
    let hits: Vec<&Problem> = ps.iter().filter(|p| p.path == path).collect();
    assert_eq!(hits.len(), 1, "expected one problem at {path}, got {ps:#?}");
    assert!(hits[0].message.contains(needle), "{path}: {:?} lacks {needle:?}", hits[0].message);
    assert!(hits[0].hint.is_some(), "{path}: no hint");
    hits[0].clone()
}

fn with(extra_replace: &[(&str, &str)]) -> String {
    let mut s = MINIMAL.to_string();
    for (from, to) in extra_replace {
        assert!(s.contains(from), "{from} not in the minimal spec");
        s = s.replacen(from, to, 1);
    }
    s
}

#[test]
fn example_is_valid_and_resolves_defaults() {
    let spec = parse_spec(EXAMPLE).unwrap();
    assert_eq!(spec.pipeline.name, "eks-audit");
    assert_eq!(spec.pipeline.tags.get("team").map(String::as_str), Some("security"));
    assert_eq!(spec.consumer.preset, Preset::Generic);
    assert_eq!(spec.bucket.name_template, DEFAULT_BUCKET_NAME);
    assert_eq!(spec.bucket.on_destroy, OnDestroy::Retain);
    assert_eq!(spec.firehose.error_prefix_template, DEFAULT_ERROR_PREFIX);
    assert_eq!(spec.filter.pattern, DEFAULT_FILTER_PATTERN);
    assert_eq!(spec.regions.len(), 1);
    assert_eq!(
        spec.regions[0].clusters,
        vec![ClusterSelector::Name("prod-1".into()), ClusterSelector::Glob("stage-*".into())]
    );
}

#[test]
fn minimal_spec_gets_every_default() {
    let spec = parse_spec(MINIMAL).unwrap();
    assert_eq!(spec.bucket.retention_days, 180);
    assert!(spec.bucket.versioning);
    // Secure by default: the pipeline's own KMS key, server access logs.
    assert_eq!(spec.bucket.encryption, Encryption::SseKms);
    assert!(spec.bucket.owns_key());
    assert!(spec.bucket.access_logging);
    assert_eq!(spec.firehose.buffer_size_mb, 5);
    assert_eq!(spec.firehose.buffer_interval_seconds, 300);
    assert_eq!(spec.firehose.prefix_template, "eks-audit-logs/");
    assert!(!spec.regions[0].enable_audit_logging);
    assert_eq!(spec.regions[0].log_retention_days, None);
    assert_eq!(spec.consumer.aws().unwrap().principal_arn, None);
    assert_eq!(spec.consumer.notify, Notify::Sns);
    assert_eq!(spec.bucket_name("123456789012", "eu-central-1"), "eks-audit-123456789012-eu-central-1");
    assert_eq!(spec.role_name(RoleKind::Cloudwatch), "eks-audit-cloudwatch");
    assert_eq!(spec.resource_tags().get(OWNER_TAG_KEY).map(String::as_str), Some("eks-audit"));
}

#[test]
fn syntax_errors_have_line_and_column() {
    let ps = problems("[pipeline]\nname = = \"x\"\n");
    assert_eq!(ps.len(), 1);
    assert!(ps[0].message.starts_with("TOML syntax error"));
    assert_eq!(ps[0].location.map(|l| l.line), Some(2));
}

#[test]
fn unknown_keys_are_typos_with_suggestions() {
    let p = assert_one(
        &with(&[("name = \"eks-audit\"", "name = \"eks-audit\"\nnmae = \"x\"")]),
        "pipeline.nmae",
        "unknown key",
    );
    assert_eq!(p.hint.as_deref(), Some("did you mean `name`?"));
    assert_eq!(p.location, Some(Location { line: 4, column: 1 }));
    assert_one(&format!("{MINIMAL}\n[bucket]\nretension_days = 3\n"), "bucket.retension_days", "unknown key");
    assert_one(&format!("{MINIMAL}\n[colour]\n"), "colour", "unknown key");
    assert_one(
        &with(&[("clusters = [\"prod-1\"]", "clusters = [\"prod-1\"]\nclusterz = []")]),
        "region[0].clusterz",
        "unknown key",
    );
}

#[test]
fn type_errors_name_the_expected_type() {
    let p = assert_one(
        &with(&[("name = \"eks-audit\"", "name = 42")]),
        "pipeline.name",
        "expected a string, found an integer",
    );
    assert_eq!(p.location, Some(Location { line: 3, column: 8 }));
    assert_one(&format!("{MINIMAL}\n[bucket]\nversioning = \"yes\"\n"), "bucket.versioning", "expected true or false");
    assert_one(
        &format!("{MINIMAL}\n[firehose]\nbuffer_size_mb = \"5\"\n"),
        "firehose.buffer_size_mb",
        "expected an integer",
    );
    assert_one(
        &with(&[("clusters = [\"prod-1\"]", "clusters = \"prod-1\"")]),
        "region[0].clusters",
        "expected an array",
    );
    assert_one(&with(&[("clusters = [\"prod-1\"]", "clusters = [1]")]), "region[0].clusters[0]", "expected a string");
}

#[test]
fn pipeline_rules() {
    assert_one(&with(&[("name = \"eks-audit\"", "name = \"EKS\"")]), "pipeline.name", "not a valid pipeline name");
    assert_one(&with(&[("name = \"eks-audit\"", "account_id = \"1234\"")]), "pipeline.name", "required key is missing");
    assert_one(
        &with(&[("name = \"eks-audit\"", "name = \"eks-audit\"\naccount_id = \"12345\"")]),
        "pipeline.account_id",
        "12 digits",
    );
    assert_one(
        &with(&[("name = \"eks-audit\"", "name = \"eks-audit\"\ntags = { \"aws:x\" = \"y\" }")]),
        "pipeline.tags.aws:x",
        "reserved",
    );
    assert_one(
        &with(&[("name = \"eks-audit\"", "name = \"eks-audit\"\ntags = { a = 1 }")]),
        "pipeline.tags.a",
        "expected a string",
    );
}

#[test]
fn adopt_takes_true_or_addresses() {
    let address = |s: &str| s.parse::<Address>().unwrap();
    let all = parse_spec(&with(&[("name = \"eks-audit\"", "name = \"eks-audit\"\nadopt = true")])).unwrap();
    assert!(all.pipeline.adopt.covers(&address("role.reader")));
    let some = parse_spec(&with(&[(
        "name = \"eks-audit\"",
        "name = \"eks-audit\"\nadopt = [\"region.eu-central-1.bucket\"]",
    )]))
    .unwrap();
    assert!(some.pipeline.adopt.covers(&address("region.eu-central-1.bucket")));
    assert!(!some.pipeline.adopt.covers(&address("role.reader")));
    assert!(!parse_spec(MINIMAL).unwrap().pipeline.adopt.covers(&address("role.reader")));
    assert_one(
        &with(&[("name = \"eks-audit\"", "name = \"eks-audit\"\nadopt = [\"bucket\"]")]),
        "pipeline.adopt[0]",
        "not a resource address",
    );
    assert_one(
        &with(&[("name = \"eks-audit\"", "name = \"eks-audit\"\nadopt = \"yes\"")]),
        "pipeline.adopt",
        "expected true, false",
    );
}

#[test]
fn an_adopted_address_is_a_resource_of_a_listed_region_with_a_suggestion_for_a_typo() {
    let adopt = |list: &str| with(&[("name = \"eks-audit\"", &format!("name = \"eks-audit\"\nadopt = [{list}]"))]);
    let problems = parse_spec(&adopt("\"region.eu-central-1.bukcet\"")).unwrap_err().0;
    let problem = problems.iter().find(|p| p.path == "pipeline.adopt[0]").expect("the typo is reported");
    assert!(problem.message.contains("\"region.eu-central-1.bukcet\" is not a resource address"), "{problem:?}");
    assert_eq!(problem.hint.as_deref(), Some("did you mean \"region.eu-central-1.bucket\"?"));
    assert!(problem.location.is_some(), "{problem:?}");

    let problems = parse_spec(&adopt("\"role.reader\", \"region.eu-central-1.cluster.prod-1\"")).unwrap_err().0;
    let problem = problems.iter().find(|p| p.path == "pipeline.adopt[1]").expect("the place is reported");
    assert!(problem.message.contains("names a place, not a resource"), "{problem:?}");
    assert!(problem.hint.as_deref().unwrap_or_default().contains("region.eu-central-1.cluster.prod-1.log_group"));

    assert_one(&adopt("\"role.reader\", \"role.reader\""), "pipeline.adopt[1]", "listed twice");
    for not_tagged in [
        "oidc_provider.commercial",
        "region.eu-central-1.cluster.prod-1.filter",
        "region.eu-central-1.topic_subscription",
    ] {
        assert_one(&adopt(&format!("\"{not_tagged}\"")), "pipeline.adopt[0]", "is not something adopt takes over");
    }
    assert_one(&adopt("1"), "pipeline.adopt[0]", "expected an address");

    let problems = parse_spec(&adopt("\"role.reader\", \"region.eu-west-3.bucket\"")).unwrap_err().0;
    let problem = problems.iter().find(|p| p.path == "pipeline.adopt[1]").expect("the region is reported");
    assert!(problem.message.contains("is in region eu-west-3, which the spec does not list"), "{problem:?}");
    assert!(problem.hint.as_deref().unwrap_or_default().contains("eu-central-1"), "{problem:?}");
    assert!(problem.location.is_some(), "{problem:?}");
}

#[test]
fn consumer_rules() {
    assert_one(&with(&[("external_id = \"external-id\"", "external_id = \"x\"")]), "consumer.external_id", "2 to 1224");
    assert_one(&with(&[("external_id = \"external-id\"\n", "")]), "consumer.external_id", "required key is missing");
    assert_one(&with(&[("account_id = \"434813966438\"\n", "")]), "consumer.account_id", "required key is missing");
    assert_one(
        &with(&[("account_id = \"434813966438\"", "account_id = \"43481396643\"")]),
        "consumer.account_id",
        "12 digits",
    );
    assert_one(&with(&[("[consumer]", "[consumer]\npreset = \"lacework\"")]), "consumer.preset", "unknown preset");
    assert_one(
        &with(&[("[consumer]", "[consumer]\nprincipal_arn = \"arn:aws:iam::111111111111:role/x\"")]),
        "consumer.principal_arn",
        "is in account 111111111111",
    );
    assert_one(
        &with(&[("[consumer]", "[consumer]\nprincipal_arn = \"lacework\"")]),
        "consumer.principal_arn",
        "not a valid ARN",
    );
    assert_one(
        &with(&[("[consumer]", "[consumer]\nsqs_queue_arn = \"arn:aws:sns:us-west-2:434813966438:q\"")]),
        "consumer.sqs_queue_arn",
        "not sqs",
    );
}

const FORTI_ID: &str = "lweid:aws:v2:acme:123456789012:AB12CD34EF";

fn aws(spec: &Spec) -> &AwsReader {
    spec.consumer.aws().expect("an AWS-trusted reader")
}

#[test]
fn presets_fill_the_vendor_principal() {
    let spec = parse_spec(&with(&[
        ("account_id = \"434813966438\"", "preset = \"forticnapp\""),
        ("external_id = \"external-id\"", &format!("external_id = \"{FORTI_ID}\"")),
    ]))
    .unwrap();
    assert_eq!(aws(&spec).account_id, "434813966438");
    assert_eq!(aws(&spec).principal_arn.as_deref(), Some("arn:aws:iam::434813966438:role/lacework-platform"));
    assert_eq!(aws(&spec).actions, ["sts:AssumeRole"]);
    assert_eq!(spec.consumer.notify, Notify::Sns);
    let rad = parse_spec(&with(&[("account_id = \"434813966438\"", "preset = \"rad\"")])).unwrap();
    assert_eq!(aws(&rad).principal_arn.as_deref(), Some("arn:aws:iam::955322216602:role/ksoc-data-pipeline"));
    assert_eq!(aws(&rad).actions, ["sts:AssumeRole", "sts:TagSession"]);
    assert_eq!(rad.consumer.notify, Notify::None, "RAD syncs the bucket: no notification");
    // An explicit account overrides the preset; the preset's principal, in another account, no longer applies.
    let own =
        parse_spec(&with(&[("account_id = \"434813966438\"", "preset = \"rad\"\naccount_id = \"111111111111\"")]))
            .unwrap();
    assert_eq!(aws(&own).account_id, "111111111111");
    assert_eq!(aws(&own).principal_arn, None);
    // Explicit keys override the preset's defaults.
    let notified =
        parse_spec(&with(&[("account_id = \"434813966438\"", "preset = \"rad\"\nnotify = \"sqs\"")])).unwrap();
    assert_eq!(notified.consumer.notify, Notify::Sqs);
    let generic_sqs = parse_spec(&with(&[("[consumer]", "[consumer]\nnotify = \"sqs\"")])).unwrap();
    assert_eq!(generic_sqs.consumer.notify, Notify::Sqs);
    let quiet = parse_spec(&with(&[("[consumer]", "[consumer]\nnotify = \"none\"")])).unwrap();
    assert_eq!(quiet.consumer.notify, Notify::None);
}

#[test]
fn rad_needs_no_external_id_and_keeps_one_given() {
    let rad = with(&[("account_id = \"434813966438\"", "preset = \"rad\""), ("external_id = \"external-id\"\n", "")]);
    assert_eq!(aws(&parse_spec(&rad).unwrap()).external_id, None);
    let with_id = with(&[("account_id = \"434813966438\"", "preset = \"rad\"")]);
    assert_eq!(aws(&parse_spec(&with_id).unwrap()).external_id, Some(ExternalId::Fixed("external-id".into())));
}

#[test]
fn forticnapp_external_ids_are_the_vendors_format_or_generated() {
    let forti = |extra: &str| {
        with(&[
            ("account_id = \"434813966438\"", &format!("preset = \"forticnapp\"\n{extra}")),
            ("external_id = \"external-id\"\n", ""),
        ])
    };
    // Another form is the user's choice; one in the vendor's format must be well formed.
    assert!(parse_spec(&forti("external_id = \"external-id\"")).is_ok());
    let p = assert_one(
        &forti("external_id = \"lweid:aws:v2:acme:1234:X\""),
        "consumer.external_id",
        "not in the vendor's format",
    );
    assert!(p.hint.unwrap().contains("generate_external_id = true"));
    let missing = assert_one(&forti(""), "consumer.external_id", "required key is missing");
    assert!(missing.hint.unwrap().contains("lweid:aws:v2:"));
    let generated = parse_spec(&forti("generate_external_id = true\ntenant = \"acme\"")).unwrap();
    let id = aws(&generated).external_id.clone().unwrap();
    assert_eq!(id.generated_prefix("123456789012").as_deref(), Some("lweid:aws:v2:acme:123456789012:"));
    assert!(matches!(id, ExternalId::Generated { random_len: 10, .. }));
    assert_one(&forti("generate_external_id = true"), "consumer.tenant", "required key is missing");
    assert_one(&forti("generate_external_id = true\ntenant = \"ac:me\""), "consumer.tenant", "not a tenant name");
    assert_one(
        &forti(&format!("generate_external_id = true\ntenant = \"acme\"\nexternal_id = \"{FORTI_ID}\"")),
        "consumer.generate_external_id",
        "both set",
    );
    assert_one(
        &forti(&format!("tenant = \"acme\"\nexternal_id = \"{FORTI_ID}\"")),
        "consumer.tenant",
        "only used to generate",
    );
    assert_one(
        &with(&[
            ("[consumer]", "[consumer]\ngenerate_external_id = true\ntenant = \"acme\""),
            ("external_id = \"external-id\"\n", ""),
        ]),
        "consumer.generate_external_id",
        "no vendor format",
    );
    // With the account pinned, the id's account must be the pipeline's.
    let pinned = forti(&format!("external_id = \"{FORTI_ID}\""))
        .replace("name = \"eks-audit\"", "name = \"eks-audit\"\naccount_id = \"210987654321\"");
    assert_one(&pinned, "consumer.external_id", "names account 123456789012");
}

const SENTINEL: &str = r#"
[pipeline]
name = "eks-audit"

[consumer]
preset = "sentinel"
workspace_id = "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e"

[[region]]
name = "eu-central-1"
clusters = ["prod-1"]
"#;

#[test]
fn sentinel_reads_through_web_identity_and_an_sqs_queue() {
    let spec = parse_spec(SENTINEL).unwrap();
    assert_eq!(spec.consumer.notify, Notify::Sqs);
    let w = spec.consumer.web_identity().unwrap();
    assert_eq!(w.issuer, "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/");
    assert_eq!(w.audience, "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e");
    assert_eq!(w.role_session_name, "MicrosoftSentinel_0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e");
    assert_eq!(spec.role_name(RoleKind::Reader), "OIDC_eks-audit-reader", "the connector needs the OIDC_ prefix");
    assert_eq!(spec.role_name(RoleKind::Firehose), "eks-audit-firehose");
    let gov =
        parse_spec(&SENTINEL.replace("preset = \"sentinel\"", "preset = \"sentinel\"\nazure_cloud = \"government\""))
            .unwrap();
    assert_eq!(gov.consumer.web_identity().unwrap().audience, "api://d4230588-5f84-4281-a9c7-2c15194b28f7");

    let p = assert_one(
        &SENTINEL.replace("workspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\"\n", ""),
        "consumer.workspace_id",
        "required key is missing",
    );
    assert!(p.hint.unwrap().contains("External ID"));
    assert_one(&SENTINEL.replace("0b6c8e2a-1f3d", "0b6c8e2a1f3d"), "consumer.workspace_id", "GUID");
    assert_one(
        &SENTINEL.replace("preset = \"sentinel\"", "preset = \"sentinel\"\nazure_cloud = \"china\""),
        "consumer.azure_cloud",
        "unknown Azure cloud",
    );
    let p = assert_one(
        &SENTINEL.replace("preset = \"sentinel\"", "preset = \"sentinel\"\nnotify = \"sns\""),
        "consumer.notify",
        "cannot be notified through \"sns\"",
    );
    assert!(p.hint.unwrap().contains("notify = \"sqs\""));
    assert_one(
        &SENTINEL.replace("preset = \"sentinel\"", "preset = \"sentinel\"\nexternal_id = \"abc\""),
        "consumer.external_id",
        "does not apply to preset sentinel",
    );
    assert_one(
        &SENTINEL.replace("preset = \"sentinel\"", "preset = \"sentinel\"\naccount_id = \"434813966438\""),
        "consumer.account_id",
        "does not apply",
    );
    let reused = format!("{SENTINEL}\n[iam]\nreader_role_arn = \"arn:aws:iam::123456789012:role/sentinel-reader\"\n");
    assert_one(&reused, "iam.reader_role_arn", "starts with \"OIDC_\"");
    assert!(parse_spec(&reused.replace("role/sentinel-reader", "role/OIDC_sentinel-reader")).is_ok());
    assert_one(
        &with(&[("[consumer]", "[consumer]\nworkspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\"")]),
        "consumer.workspace_id",
        "does not apply to preset generic",
    );
}

#[test]
fn notify_rules() {
    assert_one(&with(&[("[consumer]", "[consumer]\nnotify = \"email\"")]), "consumer.notify", "unknown value");
    let p = assert_one(
        &with(&[(
            "[consumer]",
            "[consumer]\nnotify = \"sqs\"\nsqs_queue_arn = \"arn:aws:sqs:us-west-2:434813966438:q\"",
        )]),
        "consumer.sqs_queue_arn",
        "notify is \"sqs\"",
    );
    assert!(p.hint.unwrap().contains("notify = \"sns\""));
    assert_one(
        &with(&[
            ("account_id = \"434813966438\"", "preset = \"forticnapp\"\nnotify = \"none\""),
            ("external_id = \"external-id\"", &format!("external_id = \"{FORTI_ID}\"")),
        ]),
        "consumer.notify",
        "cannot be notified through \"none\"",
    );
}

#[test]
fn bucket_rules() {
    assert_one(&format!("{MINIMAL}\n[bucket]\nname = \"{{pipelin}}-x\"\n"), "bucket.name", "unknown placeholder");
    let long = assert_one(&format!("{MINIMAL}\n[bucket]\nname = \"{{pipeline}}-{{account}}-{{region}}-archive-of-the-kubernetes-audit-logs\"\n"), "bucket.name", "characters; S3 allows 3 to 63");
    assert!(long.hint.unwrap().contains("set bucket.name"));
    assert_one(
        &format!("{MINIMAL}\n[bucket]\nname = \"Audit_{{region}}\"\n"),
        "bucket.name",
        "not a valid S3 bucket name",
    );
    assert_one(&format!("{MINIMAL}\n[bucket]\nretention_days = -1\n"), "bucket.retention_days", "out of range");
    assert_one(&format!("{MINIMAL}\n[bucket]\non_destroy = \"purge\"\n"), "bucket.on_destroy", "unknown value");
    assert_one(
        &format!("{MINIMAL}\n[bucket]\nkms_key_arn = \"arn:aws:kms:us-east-1:123456789012:key/abc\"\n"),
        "bucket.kms_key_arn",
        "another region",
    );
    assert_one(&format!("{MINIMAL}\n[bucket]\nkms_key_arn = \"key\"\n"), "bucket.kms_key_arn", "not a valid ARN");
    assert_one(&format!("{MINIMAL}\n[bucket]\nencryption = \"aes\"\n"), "bucket.encryption", "unknown value");
    // 60 characters: a valid bucket, but its access-log bucket would be 72.
    let long = format!("{MINIMAL}\n[bucket]\nname = \"{}-{{region}}\"\n", "a".repeat(47));
    assert_one(&long, "bucket.name", "the access-log bucket of region eu-central-1");
    assert!(parse_spec(&format!("{long}access_logging = false\n")).is_ok());
    assert_one(
        &format!("{MINIMAL}\n[bucket]\nencryption = \"sse-s3\"\nkms_key_arn = \"arn:aws:kms:eu-central-1:123456789012:key/abc\"\n"),
        "bucket.encryption",
        "uses no KMS key",
    );
    assert_one(
        &format!("{MINIMAL}\n[bucket]\naccess_logging = \"no\"\n"),
        "bucket.access_logging",
        "expected true or false",
    );
    let two =
        format!("{MINIMAL}\n[bucket]\nname = \"acme-audit\"\n\n[[region]]\nname = \"us-east-1\"\nclusters = [\"*\"]\n");
    assert_one(&two, "bucket.name", "same bucket name");
}

#[test]
fn firehose_rules() {
    assert_one(&format!("{MINIMAL}\n[firehose]\nbuffer_size_mb = 0\n"), "firehose.buffer_size_mb", "out of range");
    assert_one(&format!("{MINIMAL}\n[firehose]\nbuffer_size_mb = 129\n"), "firehose.buffer_size_mb", "out of range");
    assert_one(
        &format!("{MINIMAL}\n[firehose]\nbuffer_interval_seconds = 901\n"),
        "firehose.buffer_interval_seconds",
        "out of range",
    );
    assert_one(&format!("{MINIMAL}\n[firehose]\nprefix = \"/logs/\"\n"), "firehose.prefix", "starts with '/'");
    assert_one(
        &format!("{MINIMAL}\n[firehose]\nprefix = \"logs/\"\nerror_prefix = \"logs/errors/\"\n"),
        "firehose.error_prefix",
        "overlaps",
    );
    let ok =
        parse_spec(&format!("{MINIMAL}\n[firehose]\nbuffer_size_mb = 128\nbuffer_interval_seconds = 0\n")).unwrap();
    assert_eq!((ok.firehose.buffer_size_mb, ok.firehose.buffer_interval_seconds), (128, 0));
}

#[test]
fn filter_and_iam_rules() {
    let long = format!("{MINIMAL}\n[filter]\npattern = \"{}\"\n", "x".repeat(1025));
    assert_one(&long, "filter.pattern", "at most 1024");
    let custom = parse_spec(&format!("{MINIMAL}\n[filter]\npattern = '{{ $.verb = \"create\" }}'\n")).unwrap();
    assert_eq!(custom.filter.pattern, "{ $.verb = \"create\" }");
    assert_one(
        &format!("{MINIMAL}\n[iam]\nfirehose_role_arn = \"arn:aws:iam::123456789012:user/x\"\n"),
        "iam.firehose_role_arn",
        "not an IAM role ARN",
    );
    let reuse =
        parse_spec(&format!("{MINIMAL}\n[iam]\nreader_role_arn = \"arn:aws:iam::123456789012:role/r\"\n")).unwrap();
    assert_eq!(reuse.iam.reader_role_arn.as_deref(), Some("arn:aws:iam::123456789012:role/r"));
}

#[test]
fn region_rules() {
    let p = assert_one(
        &with(&[("name = \"eu-central-1\"", "name = \"eu-centrl-1\"")]),
        "region[0].name",
        "not an AWS region",
    );
    assert_eq!(p.hint.as_deref(), Some("did you mean \"eu-central-1\"?"));
    assert_one(&with(&[("clusters = [\"prod-1\"]", "clusters = []")]), "region[0].clusters", "empty");
    assert_one(
        &with(&[("clusters = [\"prod-1\"]", "enable_audit_logging = true")]),
        "region[0].clusters",
        "required key is missing",
    );
    assert_one(
        &with(&[("clusters = [\"prod-1\"]", "clusters = [\"prod 1\"]")]),
        "region[0].clusters[0]",
        "not a valid EKS cluster name",
    );
    assert_one(
        &with(&[("clusters = [\"prod-1\"]", "clusters = [\"prod-[\"]")]),
        "region[0].clusters[0]",
        "not a valid glob",
    );
    assert_one(
        &with(&[("clusters = [\"prod-1\"]", "clusters = [\"a\", \"a\"]")]),
        "region[0].clusters[1]",
        "listed twice",
    );
    assert_one(
        &with(&[("clusters = [\"prod-1\"]", "clusters = [\"a\"]\nlog_retention_days = 100")]),
        "region[0].log_retention_days",
        "not a retention",
    );
    let dup = format!("{MINIMAL}\n[[region]]\nname = \"eu-central-1\"\nclusters = [\"*\"]\n");
    assert_one(&dup, "region[1].name", "already defined in region[0]");
    assert_one(&MINIMAL.replace("[[region]]", "[region]"), "region", "array of tables");
    let none = MINIMAL.split("[[region]]").next().unwrap().to_string();
    assert_one(&none, "region", "no [[region]]");
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = r#"
[pipeline]
name = "X"
tagz = {}

[consumer]
account_id = "1"
external_id = "e"

[firehose]
buffer_size_mb = 500

[[region]]
name = "mars-1"
clusters = []
"#;
    let ps = problems(src);
    let paths: Vec<&str> = ps.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "pipeline.name",
            "pipeline.tagz",
            "consumer.account_id",
            "consumer.external_id",
            "firehose.buffer_size_mb",
            "region[0].name",
            "region[0].clusters"
        ]
    );
    insta::assert_snapshot!(Problems(ps).to_string());
}

#[test]
fn missing_sections_are_named() {
    let ps = problems("");
    let paths: Vec<&str> = ps.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["pipeline", "consumer", "region"]);
    assert!(ps.iter().all(|p| p.hint.is_some()));
}

#[test]
fn drift_ignore_takes_finding_paths() {
    let ok = format!("{MINIMAL}\n[drift]\nignore = [\"bucket.tags.cost-center\", \"region.eu-central-1.topic.policy\", \"cluster.*.log_group\"]\n");
    let spec = parse_spec(&ok).unwrap();
    assert_eq!(
        spec.drift.ignore,
        ["bucket.tags.cost-center", "region.eu-central-1.topic.policy", "cluster.*.log_group"]
    );
    assert!(parse_spec(MINIMAL).unwrap().drift.ignore.is_empty());
    let bad = format!("{MINIMAL}\n[drift]\nignore = [\"bucket.tags\", \"buckets.tags.x\", \"bucket..x\", 3]\n");
    let ps = problems(&bad);
    let at = |path: &str| ps.iter().find(|p| p.path == path).unwrap_or_else(|| panic!("{path}: {ps:#?}"));
    assert!(at("drift.ignore[1]").message.contains("does not start with a resource"));
    assert!(at("drift.ignore[2]").message.contains("empty part"));
    assert!(at("drift.ignore[3]").message.contains("a string"));
    assert!(at("drift.ignore[1]").location.is_some());
    assert!(!ps.iter().any(|p| p.path == "drift.ignore[0]"));
    assert_one(&format!("{MINIMAL}\n[drift]\nignor = []\n"), "drift.ignor", "unknown key");
}

#[test]
fn drift_ignore_takes_every_path_drift_prints() {
    // The key and the access-log bucket were refused once, though plan and drift print them.
    for rule in [
        "region.eu-central-1.kms_key.rotation",
        "kms_key.policy",
        "region.eu-central-1.access_log_bucket.tags.team",
        "access_log_bucket",
        "region.eu-central-1.clusters",
        "region.eu-central-1.alerts_subscription.email-0",
        "oidc_provider.commercial.client_ids",
        "role.former_reader",
        "cluster.*.alerts_filter.filter_pattern",
    ] {
        assert_eq!(rules::drift_ignore(rule), Ok(()), "{rule}");
    }
    for slot in RegionalSlot::ALL {
        let path = format!("{}.tags.team", Address::regional("eu-central-1", *slot));
        assert_eq!(rules::drift_ignore(&path), Ok(()), "{path}");
    }
    for slot in ClusterSlot::ALL {
        let path = format!("{}.log_group", Address::cluster("eu-central-1", "prod-1", *slot));
        assert_eq!(rules::drift_ignore(&path), Ok(()), "{path}");
    }
    for slot in RoleSlot::ALL {
        let path = format!("{}.permissions", Address::Role(*slot));
        assert_eq!(rules::drift_ignore(&path), Ok(()), "{path}");
    }
    let spec = parse_spec(&format!("{MINIMAL}\n[drift]\nignore = [\"region.eu-central-1.kms_key.rotation\"]\n"));
    assert_eq!(spec.unwrap().drift.ignore, ["region.eu-central-1.kms_key.rotation"]);
}

#[test]
fn health_lag_defaults_to_the_buffer_interval_plus_a_margin_and_is_checked() {
    assert_eq!(parse_spec(MINIMAL).unwrap().max_delivery_lag_seconds(), 600);
    let slow = parse_spec(&format!("{MINIMAL}\n[firehose]\nbuffer_interval_seconds = 900\n")).unwrap();
    assert_eq!(slow.max_delivery_lag_seconds(), 1200);
    let set = parse_spec(&format!("{MINIMAL}\n[health]\nmax_delivery_lag_seconds = 120\n")).unwrap();
    assert_eq!((set.health.max_delivery_lag_seconds, set.max_delivery_lag_seconds()), (Some(120), 120));
    assert_one(
        &format!("{MINIMAL}\n[health]\nmax_delivery_lag_seconds = 5\n"),
        "health.max_delivery_lag_seconds",
        "out of range",
    );
    assert_one(
        &format!("{MINIMAL}\n[health]\nmax_delivery_lag_seconds = \"10m\"\n"),
        "health.max_delivery_lag_seconds",
        "expected an integer",
    );
    assert_one(&format!("{MINIMAL}\n[health]\nmax_lag = 600\n"), "health.max_lag", "unknown");
}

#[test]
fn accounts_section_resolves_defaults() {
    let spec = parse_spec(&format!(
        "{MINIMAL}\n[accounts]\nrole_name = \"eksaudit-member\"\nids = [\"111111111111\"]\norganizational_units = [\"ou-ab12-cdefgh34\"]\nexclude = [\"333333333333\"]\n"
    ))
    .unwrap();
    let accounts = spec.accounts.expect("[accounts] is present");
    assert_eq!(accounts.role_name, "eksaudit-member");
    assert_eq!(accounts.ids, vec!["111111111111".to_string()]);
    assert_eq!(accounts.organizational_units, vec!["ou-ab12-cdefgh34".to_string()]);
    assert_eq!(accounts.exclude, vec!["333333333333".to_string()]);
    assert!(!accounts.organization);
    assert!(accounts.needs_organizations());
    assert_eq!((accounts.max_concurrent_accounts, accounts.failure_tolerance), (10, 0));
    assert_eq!(accounts.external_id, None);
    assert!(parse_spec(MINIMAL).unwrap().accounts.is_none());
}

#[test]
fn accounts_section_problems_name_the_key() {
    let base = format!("{MINIMAL}\n[accounts]\n");
    assert_one(&format!("{base}ids = [\"111111111111\"]\n"), "accounts.role_name", "missing");
    assert_one(&format!("{base}role_name = \"m\"\n"), "accounts", "no account is selected");
    let p = assert_one(&format!("{base}role_name = \"m\"\nids = [\"1111\"]\n"), "accounts.ids[0]", "12 digits");
    assert_eq!(p.location.map(|l| l.line), Some(MINIMAL.lines().count() + 4));
    assert_one(
        &format!("{base}role_name = \"m\"\nids = [\"111111111111\", \"111111111111\"]\n"),
        "accounts.ids[1]",
        "twice",
    );
    assert_one(
        &format!("{base}role_name = \"m\"\norganizational_units = [\"ou-x\"]\n"),
        "accounts.organizational_units[0]",
        "organizational unit",
    );
    assert_one(&format!("{base}role_name = \"a/b\"\norganization = true\n"), "accounts.role_name", "IAM role name");
    assert_one(
        &format!("{base}role_name = \"m\"\norganization = true\nmax_concurrent_accounts = 0\n"),
        "accounts.max_concurrent_accounts",
        "out of range",
    );
    assert_one(
        &format!("{base}role_name = \"m\"\norganization = true\nfailure_tolerance = -1\n"),
        "accounts.failure_tolerance",
        "out of range",
    );
    assert_one(
        &format!("{base}role_name = \"m\"\norganization = true\nexternal_id = \"x\"\n"),
        "accounts.external_id",
        "2 to 1224",
    );
    assert_one(
        &format!("{base}role_name = \"m\"\norganization = true\nrole = \"x\"\n"),
        "accounts.role",
        "unknown key",
    );
    // Bucket names are global: a fixed name would collide across member accounts.
    let fixed = format!("{MINIMAL}\n[bucket]\nname = \"{{pipeline}}-{{region}}-logs\"\n\n[accounts]\nrole_name = \"m\"\norganization = true\n");
    assert_one(&fixed, "bucket.name", "every member account");
}

fn rad(extra: &str) -> String {
    with(&[("account_id = \"434813966438\"", &format!("preset = \"rad\"{extra}"))])
}

#[test]
fn rad_names_and_tags_what_its_platform_finds_as_its_module_does() {
    let spec = parse_spec(&rad("")).unwrap();
    assert_eq!(spec.bucket.name_template, "ksoc-eks-{hex}");
    let name = spec.bucket_name("123456789012", "eu-central-1");
    assert_eq!(name, format!("ksoc-eks-{}", naming::bucket_hex("eks-audit", "123456789012", "eu-central-1")));
    assert_eq!(name, spec.bucket_name("123456789012", "eu-central-1"), "stable across runs");
    assert_ne!(name, spec.bucket_name("123456789012", "eu-west-1"), "unique per region");
    assert_ne!(name, spec.bucket_name("210987654321", "eu-central-1"), "unique per account");
    assert!(
        rules::bucket_name(&name).is_ok()
            && rules::bucket_name(&spec.access_log_bucket_name("123456789012", "eu-central-1")).is_ok()
    );
    assert_eq!(spec.bucket.reader_scope.as_deref(), Some("ksoc-eks-*"));
    assert_eq!(spec.bucket_tags().get("ksoc-data-type").map(String::as_str), Some("eks-audit-logs"));
    assert_eq!(spec.bucket_tags().get(OWNER_TAG_KEY).map(String::as_str), Some("eks-audit"));
    assert!(!spec.resource_tags().contains_key("ksoc-data-type"), "only the bucket carries RAD's tag");
    assert_eq!(spec.role_name(RoleKind::Reader), "ksoc-audit-logs");
    assert!(spec.reader_role_names().contains(&"eks-audit-reader".to_string()), "the name before the preset's");
    // Two regions and member accounts: {hex} keeps the names apart, so the global-name checks pass.
    let wide = rad("").replace(
        "clusters = [\"prod-1\"]\n",
        "clusters = [\"prod-1\"]\n\n[[region]]\nname = \"eu-west-1\"\nclusters = [\"*\"]\n\n[accounts]\nrole_name = \"m\"\norganization = true\n",
    );
    parse_spec(&wide).unwrap();
}

#[test]
fn rad_defaults_give_way_to_the_spec_keys() {
    let spec = parse_spec(&format!(
        "{}\n[bucket]\nname = \"acme-{{account}}-{{region}}\"\n",
        rad("\nreader_role_name = \"acme-rad-reader\"")
            .replace("name = \"eks-audit\"", "name = \"eks-audit\"\ntags = { ksoc-data-type = \"custom\" }")
    ))
    .unwrap();
    assert_eq!(spec.bucket_name("123456789012", "eu-central-1"), "acme-123456789012-eu-central-1");
    assert_eq!(spec.bucket.reader_scope, None, "a bucket of another name is read by its own ARN");
    assert_eq!(spec.role_name(RoleKind::Reader), "acme-rad-reader");
    assert_eq!(spec.bucket_tags().get("ksoc-data-type").map(String::as_str), Some("custom"));
    assert!(spec.reader_role_names().contains(&"ksoc-audit-logs".to_string()));
    assert_one(&rad("\nreader_role_name = \"a/b\""), "consumer.reader_role_name", "not an IAM role name");
    let sentinel = with(&[
        ("account_id = \"434813966438\"", "preset = \"sentinel\"\nworkspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\"\nreader_role_name = \"reader\""),
        ("external_id = \"external-id\"\n", ""),
    ]);
    assert_one(&sentinel, "consumer.reader_role_name", "starts with \"OIDC_\"");
}

#[test]
fn forticnapp_writes_under_its_account_and_the_spec_overrides_it() {
    let forti = |extra: &str| {
        with(&[
            ("account_id = \"434813966438\"", "preset = \"forticnapp\""),
            ("external_id = \"external-id\"", &format!("external_id = \"{FORTI_ID}\"{extra}")),
        ])
    };
    let spec = parse_spec(&forti("")).unwrap();
    assert_eq!(spec.firehose.prefix_template, "eks_audit_logs/{account}/");
    assert_eq!(spec.prefix("123456789012"), "eks_audit_logs/123456789012/");
    assert_eq!(spec.prefix("210987654321"), "eks_audit_logs/210987654321/", "each member account its own");
    assert_eq!(spec.error_prefix("123456789012"), DEFAULT_ERROR_PREFIX);
    assert_eq!(spec.bucket.name_template, DEFAULT_BUCKET_NAME);
    let own = parse_spec(&format!("{}\n[firehose]\nprefix = \"audit/\"\n", forti(""))).unwrap();
    assert_eq!(own.prefix("123456789012"), "audit/");
    assert_one(
        &format!("{}\n[firehose]\nprefix = \"audit/{{region}}/\"\n", forti("")),
        "firehose.prefix",
        "unknown placeholder",
    );
    // Other presets keep eksaudit's prefix.
    assert_eq!(parse_spec(MINIMAL).unwrap().prefix("123456789012"), DEFAULT_PREFIX);
}

#[test]
fn the_example_sets_no_name_or_prefix_so_each_preset_keeps_its_vendors() {
    // `eksaudit init` writes the example with the chosen preset: its conventions must not be overridden there.
    let forti = parse_spec(&EXAMPLE.replace("preset = \"generic\"", "preset = \"forticnapp\"")).unwrap();
    assert_eq!(forti.prefix("123456789012"), "eks_audit_logs/123456789012/");
    let rad = parse_spec(&EXAMPLE.replace("preset = \"generic\"", "preset = \"rad\"")).unwrap();
    assert_eq!(rad.bucket.name_template, "ksoc-eks-{hex}");
    assert_eq!(rad.role_name(RoleKind::Reader), "ksoc-audit-logs");
    assert_eq!(parse_spec(EXAMPLE).unwrap().prefix("123456789012"), DEFAULT_PREFIX);
}
