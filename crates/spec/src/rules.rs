//! Validation rules for single values, as pure functions. Each returns what is wrong and how to fix it; the
//! loader attaches the key path and location.

use crate::regions::{self, KNOWN_REGIONS};
use crate::suggest::closest;

/// What is wrong with a value, and a hint to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub hint: Option<String>,
}

pub type Rule = Result<(), Invalid>;

fn invalid(message: impl Into<String>, hint: impl Into<String>) -> Invalid {
    Invalid { message: message.into(), hint: Some(hint.into()) }
}

pub fn pipeline_name(name: &str) -> Rule {
    let len = name.chars().count();
    let chars_ok = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let starts_ok = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if (3..=32).contains(&len) && chars_ok && starts_ok {
        return Ok(());
    }
    Err(invalid(
        format!("{name:?} is not a valid pipeline name: it must be 3-32 characters of a-z, 0-9 and '-', starting with a letter"),
        "it prefixes every resource name; for example name = \"eks-audit\"",
    ))
}

pub fn account_id(id: &str) -> Rule {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    Err(invalid(
        format!("{id:?} is not an AWS account id: it must be exactly 12 digits"),
        "write it as a quoted string of 12 digits, leading zeros included, e.g. \"123456789012\"",
    ))
}

/// An IAM role name (no path): 1-64 characters of letters, digits and `+=,.@_-`.
pub fn role_name(name: &str) -> Rule {
    let len = name.chars().count();
    if (1..=64).contains(&len) && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) {
        return Ok(());
    }
    Err(invalid(
        format!("{name:?} is not an IAM role name: it must be 1-64 characters of letters, digits and + = , . @ _ -"),
        "give the role's name only, without a path or ARN, e.g. \"eksaudit-member\"",
    ))
}

/// An organizational unit id (`ou-ab12-cdefgh34`) or an organization root id (`r-ab12`).
pub fn ou_id(id: &str) -> Rule {
    let lower_alnum = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let ok = match id.split('-').collect::<Vec<_>>().as_slice() {
        ["ou", root, unit] => lower_alnum(root, 4, 32) && lower_alnum(unit, 8, 32),
        ["r", root] => lower_alnum(root, 4, 32),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(invalid(
        format!("{id:?} is not an organizational unit id"),
        "use the id Organizations shows, such as \"ou-ab12-cdefgh34\" (or a root, \"r-ab12\"): \
         `aws organizations list-organizational-units-for-parent`",
    ))
}

pub fn external_id(id: &str) -> Rule {
    let len = id.chars().count();
    let bad: Vec<char> = id.chars().filter(|c| !(c.is_ascii_alphanumeric() || "+=,.@:/_-".contains(*c))).collect();
    if !bad.is_empty() {
        return Err(invalid(
            format!("external id contains characters AWS does not allow: {:?}", bad.iter().collect::<String>()),
            "use only letters, digits and + = , . @ : / _ -",
        ));
    }
    if !(2..=1224).contains(&len) {
        return Err(invalid(
            format!("external id is {len} characters; AWS requires 2 to 1224"),
            "use the external id the consumer gave you; it guards the role against the confused-deputy problem",
        ));
    }
    Ok(())
}

/// A Log Analytics workspace id: a GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits).
pub fn workspace_id(id: &str) -> Rule {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    if lengths_ok && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Ok(());
    }
    Err(invalid(
        format!("{id:?} is not a workspace id: it must be a GUID such as \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\""),
        "copy the Workspace ID from the Log Analytics workspace's overview (the Sentinel connector page shows it as the External ID)",
    ))
}

/// A vendor tenant name that becomes part of a generated external id (FortiCNAPP's `<tenant>.lacework.net`).
pub fn tenant(name: &str) -> Rule {
    let ok = (1..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        return Ok(());
    }
    Err(invalid(
        format!("{name:?} is not a tenant name: 1-63 letters, digits, '-' and '_', starting with a letter or digit"),
        "use the tenant name from your FortiCNAPP URL: acme for https://acme.lacework.net",
    ))
}

/// An external id in a vendor's format: `{prefix}<tenant>:<12-digit account>:<random>`, where the account, when
/// known, must be the pipeline's.
pub fn vendor_external_id(id: &str, prefix: &str, account: Option<&str>) -> Rule {
    let example = format!("{prefix}acme:123456789012:ABCDE12345");
    let hint = format!(
        "the vendor's format is {prefix}<tenant>:<your AWS account id>:<random>, e.g. {example:?}; or set generate_external_id = true and tenant = \"acme\" to let eksaudit generate it"
    );
    let Some(rest) = id.strip_prefix(prefix) else {
        return Err(invalid(format!("external id {id:?} does not start with {prefix:?}"), hint));
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let [tenant_part, acct, random] = parts.as_slice() else {
        return Err(invalid(
            format!("external id {id:?} does not have the vendor's three parts after {prefix:?}"),
            hint,
        ));
    };
    if tenant(tenant_part).is_err() || account_id(acct).is_err() || random.is_empty() {
        return Err(invalid(format!("external id {id:?} is not in the vendor's format"), hint));
    }
    if let Some(account) = account.filter(|a| a != acct) {
        return Err(invalid(
            format!("external id {id:?} names account {acct}, but pipeline.account_id is {account}"),
            "the vendor builds the id from the account the role is in: use the id it gave for this account",
        ));
    }
    Ok(())
}

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut it = arn.splitn(6, ':');
    let (prefix, partition, service, region, account, resource) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    let partition_ok = matches!(partition, "aws" | "aws-cn" | "aws-us-gov");
    (prefix == "arn" && partition_ok && !service.is_empty() && !resource.is_empty()).then_some(Arn {
        partition,
        service,
        region,
        account,
        resource,
    })
}

fn arn_of<'a>(arn: &'a str, service: &str, example: &str) -> Result<Arn<'a>, Invalid> {
    let hint = format!("expected an ARN like {example}");
    let parsed = parse_arn(arn).ok_or_else(|| invalid(format!("{arn:?} is not a valid ARN"), hint.clone()))?;
    if parsed.service != service {
        return Err(invalid(format!("{arn:?} is a {} ARN, not {service}", parsed.service), hint));
    }
    if account_id(parsed.account).is_err() {
        return Err(invalid(format!("{arn:?} has no 12-digit account id"), hint));
    }
    Ok(parsed)
}

/// An IAM role ARN (for reused roles).
pub fn role_arn(arn: &str) -> Rule {
    let example = "arn:aws:iam::123456789012:role/eks-audit-firehose";
    let parsed = arn_of(arn, "iam", example)?;
    if !parsed.region.is_empty() || !parsed.resource.starts_with("role/") || parsed.resource.len() <= 5 {
        return Err(invalid(format!("{arn:?} is not an IAM role ARN"), format!("expected an ARN like {example}")));
    }
    Ok(())
}

/// A principal a role trust policy can name: a role, a user or an account root.
pub fn principal_arn(arn: &str) -> Result<String, Invalid> {
    let example = "arn:aws:iam::434813966438:role/lacework-platform";
    let parsed = arn_of(arn, "iam", example)?;
    let ok = parsed.region.is_empty()
        && (parsed.resource == "root"
            || (parsed.resource.starts_with("role/") && parsed.resource.len() > 5)
            || (parsed.resource.starts_with("user/") && parsed.resource.len() > 5));
    if !ok {
        return Err(invalid(
            format!("{arn:?} is not a role, user or account-root principal"),
            format!("expected an ARN like {example}"),
        ));
    }
    Ok(parsed.account.to_string())
}

pub fn sqs_queue_arn(arn: &str) -> Rule {
    let example = "arn:aws:sqs:us-west-2:434813966438:eks-audit-queue";
    let parsed = arn_of(arn, "sqs", example)?;
    if !regions::is_well_formed(parsed.region) || parsed.resource.contains(['/', ':']) {
        return Err(invalid(format!("{arn:?} is not an SQS queue ARN"), format!("expected an ARN like {example}")));
    }
    Ok(())
}

/// A KMS key ARN; returns its region.
pub fn kms_key_arn(arn: &str) -> Result<String, Invalid> {
    let example = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let parsed = arn_of(arn, "kms", example)?;
    if !regions::is_well_formed(parsed.region)
        || !(parsed.resource.starts_with("key/") || parsed.resource.starts_with("alias/"))
    {
        return Err(invalid(format!("{arn:?} is not a KMS key ARN"), format!("expected an ARN like {example}")));
    }
    Ok(parsed.region.to_string())
}

pub fn region_name(name: &str) -> Rule {
    if KNOWN_REGIONS.contains(&name) {
        return Ok(());
    }
    if let Some(near) = closest(name, KNOWN_REGIONS.iter().copied()) {
        return Err(invalid(format!("{name:?} is not an AWS region"), format!("did you mean \"{near}\"?")));
    }
    if regions::is_well_formed(name) {
        // A region newer than this release: accept it rather than block the user.
        return Ok(());
    }
    Err(invalid(
        format!("{name:?} is not an AWS region"),
        "use a region code such as \"eu-central-1\" or \"us-east-1\"",
    ))
}

const CLUSTER_NAME_HINT: &str =
    "cluster names are 1-100 characters of letters, digits, '-' and '_', starting with a letter or digit; globs may use * ? and [...]";

/// A `clusters` entry: an EKS cluster name, or a glob over cluster names.
pub fn cluster_entry(entry: &str) -> Rule {
    let is_glob = entry.contains(['*', '?', '[']);
    let len = entry.chars().count();
    if entry.is_empty() || len > 100 {
        return Err(invalid(format!("{entry:?} is not a cluster name or glob"), CLUSTER_NAME_HINT));
    }
    if is_glob {
        let ok_chars = entry.chars().all(|c| c.is_ascii_alphanumeric() || "-_*?[]!".contains(c));
        if !ok_chars {
            return Err(invalid(format!("{entry:?} can never match a cluster name"), CLUSTER_NAME_HINT));
        }
        return globset::Glob::new(entry)
            .map(|_| ())
            .map_err(|e| invalid(format!("{entry:?} is not a valid glob: {}", e.kind()), CLUSTER_NAME_HINT));
    }
    let first_ok = entry.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(invalid(format!("{entry:?} is not a valid EKS cluster name"), CLUSTER_NAME_HINT))
    }
}

/// Retention values CloudWatch Logs accepts for PutRetentionPolicy.
pub const LOG_RETENTION_DAYS: &[u32] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

pub fn log_retention_days(days: i64) -> Rule {
    if LOG_RETENTION_DAYS.iter().any(|d| i64::from(*d) == days) {
        return Ok(());
    }
    let nearest = LOG_RETENTION_DAYS.iter().min_by_key(|d| (i64::from(**d) - days).abs()).copied().unwrap_or(90);
    Err(invalid(
        format!("{days} is not a retention CloudWatch Logs accepts"),
        format!(
            "use one of {} (nearest: {nearest}); leave it out to keep logs forever",
            LOG_RETENTION_DAYS.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ),
    ))
}

pub fn int_in_range(value: i64, min: i64, max: i64, what: &str) -> Rule {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(format!("{value} is out of range for {what}"), format!("use a value from {min} to {max}")))
    }
}

/// Tag keys and values as S3, IAM, SNS and Firehose all accept them.
pub fn tag(key: &str, value: &str) -> Rule {
    let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
    let key_len = key.chars().count();
    if !(1..=128).contains(&key_len) || !key.chars().all(allowed) {
        return Err(invalid(
            format!("tag key {key:?} is not valid"),
            "tag keys are 1-128 characters of letters, digits, spaces and _ . : / = + - @",
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(invalid(format!("tag key {key:?} uses the reserved prefix aws:"), "rename the tag"));
    }
    if key.starts_with("eksaudit:") {
        return Err(invalid(
            format!("tag key {key:?} uses the prefix eksaudit:, which eksaudit sets itself"),
            "rename the tag; eksaudit:pipeline is added to every resource automatically",
        ));
    }
    if value.chars().count() > 256 || !value.chars().all(allowed) {
        return Err(invalid(
            format!("tag value {value:?} is not valid"),
            "tag values are 0-256 characters of letters, digits, spaces and _ . : / = + - @",
        ));
    }
    Ok(())
}

/// Placeholders a bucket name template may use.
pub const BUCKET_PLACEHOLDERS: &[&str] = &["{pipeline}", "{account}", "{region}", "{hex}"];

pub fn bucket_template(template: &str) -> Rule {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e + 1);
        let Some(end) = end else {
            return Err(invalid(
                format!("{template:?} has an unclosed '{{'"),
                "placeholders are {pipeline}, {account}, {region} and {hex} (a stable digest of the three)",
            ));
        };
        let placeholder = &rest[start..end];
        if !BUCKET_PLACEHOLDERS.contains(&placeholder) {
            return Err(invalid(
                format!("{template:?} uses the unknown placeholder {placeholder}"),
                "placeholders are {pipeline}, {account}, {region} and {hex} (a stable digest of the three)",
            ));
        }
        rest = &rest[end..];
    }
    Ok(())
}

/// A rendered bucket name, against S3's naming rules.
pub fn bucket_name(name: &str) -> Rule {
    let hint = "set bucket.name to a template that comes out 3-63 characters of a-z, 0-9, '-' and '.', e.g. name = \"acme-eks-audit-{region}\"";
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(invalid(format!("bucket name {name:?} would be {len} characters; S3 allows 3 to 63"), hint));
    }
    let chars_ok = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !chars_ok || !ends_ok(name.bytes().next()) || !ends_ok(name.bytes().last()) || name.contains("..") {
        return Err(invalid(format!("bucket name {name:?} is not a valid S3 bucket name"), hint));
    }
    let reserved_prefix = ["xn--", "sthree-", "amzn-s3-demo-"].iter().find(|p| name.starts_with(**p));
    let reserved_suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().find(|s| name.ends_with(**s));
    if let Some(r) = reserved_prefix.or(reserved_suffix) {
        return Err(invalid(format!("bucket name {name:?} uses {r:?}, which S3 reserves"), hint));
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err(invalid(format!("bucket name {name:?} looks like an IP address"), hint));
    }
    Ok(())
}

pub fn firehose_prefix(prefix: &str) -> Rule {
    if prefix.starts_with('/') {
        return Err(invalid(
            format!("{prefix:?} starts with '/', which makes an empty first path segment in S3"),
            "drop the leading slash, e.g. prefix = \"eks-audit-logs/\"",
        ));
    }
    if prefix.chars().count() > 1024 {
        return Err(invalid("prefix is longer than Firehose's 1024 characters", "use a shorter prefix"));
    }
    // `{account}` is eksaudit's. Firehose's own `!{...}` expressions are refused: the prefix is also the literal
    // start of the Firehose role's and the reader's object grants, the bucket notification's filter and the status
    // listing, none of which would match the keys Firehose makes of an expression.
    let mut rest = prefix;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        let placeholder = &rest[start..end];
        if rest[..start].ends_with('!') {
            return Err(invalid(
                format!("{prefix:?} uses the Firehose expression !{placeholder}, which eksaudit does not support"),
                "use a fixed prefix (Firehose already adds YYYY/MM/DD/HH/ after it), e.g. prefix = \"eks-audit-logs/\"; {account} is allowed",
            ));
        }
        if placeholder != "{account}" {
            return Err(invalid(
                format!("{prefix:?} uses the unknown placeholder {placeholder}"),
                "the placeholder is {account} (the account the pipeline is in), e.g. prefix = \"eks_audit_logs/{account}/\"",
            ));
        }
        rest = &rest[end..];
    }
    Ok(())
}

/// CloudWatch Logs' limit on a filter pattern.
pub const FILTER_PATTERN_MAX: usize = eksaudit_filter::MAX_PATTERN_CHARS;

/// The pattern's length, then its syntax and AWS's limits as `eksaudit-filter` reads them. A syntax error's
/// message names the character; the lines after the first show the pattern with a caret under it.
pub fn filter_pattern(pattern: &str) -> Rule {
    let len = pattern.chars().count();
    if len > FILTER_PATTERN_MAX {
        return Err(invalid(
            format!("the pattern is {len} characters; CloudWatch Logs allows at most {FILTER_PATTERN_MAX}"),
            "shorten it, e.g. by combining exclusions with wildcards such as \"/readyz*\"",
        ));
    }
    eksaudit_filter::parse(pattern).map(|_| ()).map_err(|e| Invalid {
        message: format!("{} (character {} of the pattern)\n{}", e.message, e.column(), e.excerpt(pattern, "    ")),
        hint: Some(e.hint.unwrap_or_else(|| "`eksaudit filter test --pattern '...'` tries a pattern offline".into())),
    })
}

/// A `[drift] ignore` rule: a finding path, `*` matching any part. It must start (after an optional
/// `region.<name>.`) with a word an address starts with ([`crate::address::resource_words`]).
pub fn drift_ignore(rule: &str) -> Rule {
    let hint = "a finding path as `eksaudit drift` prints it, e.g. \"bucket.tags.cost-center\", \"role.reader.tags\", \"region.us-east-1.topic.policy\" or \"cluster.*.log_group.retention_days\"";
    if rule.is_empty() || rule.split('.').any(str::is_empty) {
        return Err(invalid(format!("{rule:?} is not a finding path (empty part)"), hint));
    }
    let mut parts = rule.split('.');
    let mut first = parts.next().unwrap_or_default();
    if first == "region" {
        let _region = parts.next();
        first = parts.next().unwrap_or_default();
        if first.is_empty() {
            return Err(invalid(format!("{rule:?} names a region but no resource in it"), hint));
        }
    }
    let words = crate::address::resource_words();
    if first != "*" && !words.contains(&first) {
        let known = words.join(", ");
        return Err(invalid(format!("{rule:?} does not start with a resource ({known})"), hint));
    }
    Ok(())
}

/// An SNS topic ARN (where `drift --notify-topic` publishes); gives back its region.
pub fn sns_topic_arn(arn: &str) -> Result<String, Invalid> {
    let parsed = arn_of(arn, "sns", "arn:aws:sns:eu-central-1:123456789012:eks-audit-drift")?;
    if parsed.region.is_empty() || account_id(parsed.account).is_err() || parsed.resource.contains(':') {
        return Err(invalid(
            format!("{arn:?} is not an SNS topic ARN"),
            "use the topic's ARN, e.g. arn:aws:sns:eu-central-1:123456789012:eks-audit-drift",
        ));
    }
    Ok(parsed.region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_names() {
        assert!(pipeline_name("eks-audit").is_ok());
        assert!(pipeline_name("a1-").is_ok());
        for bad in ["ab", "1abc", "Eks-audit", "eks_audit", "a234567890123456789012345678901234", "-abc", ""] {
            let err = pipeline_name(bad).unwrap_err();
            assert!(err.message.contains("3-32"), "{bad}: {err:?}");
            assert!(err.hint.is_some());
        }
        assert!(pipeline_name(&"a".repeat(32)).is_ok());
        assert!(pipeline_name(&"a".repeat(33)).is_err());
    }

    #[test]
    fn role_names_and_ou_ids() {
        assert!(role_name("eksaudit-member").is_ok());
        for bad in ["", "a/b", "arn:aws:iam::111111111111:role/x", &"r".repeat(65)] {
            assert!(role_name(bad).is_err(), "{bad}");
        }
        for good in ["ou-ab12-cdefgh34", "r-ab12"] {
            assert!(ou_id(good).is_ok(), "{good}");
        }
        for bad in ["ou-ab12", "ou-AB12-cdefgh34", "ou-ab12-cdefg", "111111111111", "r-"] {
            assert!(ou_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn account_ids() {
        assert!(account_id("012345678901").is_ok());
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert!(account_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn external_ids() {
        assert!(external_id("ab").is_ok());
        assert!(external_id("lweid:aws:v2:tenant:123456789012:AbC+=,.@/_-").is_ok());
        assert!(external_id(&"x".repeat(1224)).is_ok());
        assert!(external_id("a").unwrap_err().message.contains("2 to 1224"));
        assert!(external_id(&"x".repeat(1225)).is_err());
        assert!(external_id("has space").unwrap_err().message.contains("\" \""));
        assert!(external_id("quote'").is_err());
    }

    #[test]
    fn workspace_ids_tenants_and_vendor_external_ids() {
        assert!(workspace_id("0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e").is_ok());
        assert!(workspace_id("0B6C8E2A-1F3D-4C5E-9A7B-2D4F6E8A0C1E").is_ok());
        for bad in [
            "",
            "0b6c8e2a1f3d4c5e9a7b2d4f6e8a0c1e",
            "0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1",
            "zb6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e",
        ] {
            assert!(workspace_id(bad).unwrap_err().message.contains("GUID"), "{bad}");
        }
        assert!(tenant("acme").is_ok() && tenant("acme-eu_2").is_ok());
        assert!(tenant("").is_err() && tenant("-acme").is_err() && tenant("ac:me").is_err());
        let p = "lweid:aws:v2:";
        assert!(vendor_external_id("lweid:aws:v2:acme:123456789012:AB12CD34EF", p, None).is_ok());
        assert!(vendor_external_id("lweid:aws:v2:acme:123456789012:AB12CD34EF", p, Some("123456789012")).is_ok());
        let other = vendor_external_id("lweid:aws:v2:acme:123456789012:AB12CD34EF", p, Some("210987654321"));
        assert!(other.unwrap_err().message.contains("names account 123456789012"));
        assert!(vendor_external_id("external-id", p, None).unwrap_err().hint.unwrap().contains("generate_external_id"));
        assert!(vendor_external_id("lweid:aws:v2:acme:1234:X", p, None).is_err());
        assert!(vendor_external_id("lweid:aws:v2:acme:123456789012:", p, None).is_err());
    }

    #[test]
    fn arns() {
        assert!(role_arn("arn:aws:iam::123456789012:role/eks-audit-firehose").is_ok());
        assert!(role_arn("arn:aws:iam::123456789012:role/path/name").is_ok());
        assert!(role_arn("arn:aws:iam::123456789012:user/alice").is_err());
        assert!(role_arn("arn:aws:s3:::bucket").is_err());
        assert!(role_arn("arn:aws:iam::12345:role/x").is_err());
        assert!(role_arn("not-an-arn").is_err());
        assert!(role_arn("arn:aws:iam::123456789012:role/").is_err());
        assert_eq!(principal_arn("arn:aws:iam::434813966438:role/lacework-platform").unwrap(), "434813966438");
        assert!(principal_arn("arn:aws:iam::434813966438:root").is_ok());
        assert!(principal_arn("arn:aws:iam::434813966438:user/bob").is_ok());
        assert!(principal_arn("arn:aws:iam::434813966438:group/g").is_err());
        assert!(sqs_queue_arn("arn:aws:sqs:us-west-2:434813966438:queue").is_ok());
        assert!(sqs_queue_arn("arn:aws:sqs::434813966438:queue").is_err());
        assert!(sqs_queue_arn("arn:aws:sns:us-west-2:434813966438:queue").is_err());
        assert_eq!(
            kms_key_arn("arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab").unwrap(),
            "eu-central-1"
        );
        assert!(kms_key_arn("arn:aws:kms:eu-central-1:123456789012:bogus/x").is_err());
        assert!(parse_arn("arn:aws-cn:iam::123456789012:role/x").is_some());
        assert!(parse_arn("arn:azure:iam::123456789012:role/x").is_none());
    }

    #[test]
    fn regions() {
        assert!(region_name("eu-central-1").is_ok());
        assert!(region_name("xx-future-9").is_ok(), "well-formed new regions are accepted");
        let typo = region_name("eu-centrl-1").unwrap_err();
        assert_eq!(typo.hint.as_deref(), Some("did you mean \"eu-central-1\"?"));
        assert!(region_name("europe").is_err());
        assert!(region_name("EU-CENTRAL-1").is_err());
    }

    #[test]
    fn cluster_entries() {
        for ok in ["prod-1", "stage-*", "*", "a_b", "prod-[0-9]", "p?"] {
            assert!(cluster_entry(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-prod", "prod 1", "prod/1", "prod-[", &"a".repeat(101), "stage-*/x"] {
            assert!(cluster_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retention() {
        assert!(log_retention_days(90).is_ok());
        let err = log_retention_days(100).unwrap_err();
        assert!(err.hint.unwrap().contains("nearest: 90"));
    }

    #[test]
    fn ranges() {
        assert!(int_in_range(1, 1, 128, "x").is_ok());
        assert!(int_in_range(128, 1, 128, "x").is_ok());
        assert!(int_in_range(0, 1, 128, "x").is_err());
        assert!(int_in_range(129, 1, 128, "x").is_err());
    }

    #[test]
    fn tags() {
        assert!(tag("team", "security").is_ok());
        assert!(tag("cost center", "").is_ok());
        assert!(tag("", "x").is_err());
        assert!(tag("aws:foo", "x").is_err());
        assert!(tag("eksaudit:pipeline", "x").is_err());
        assert!(tag("k", &"v".repeat(257)).is_err());
        assert!(tag("k\"", "v").is_err());
        assert!(tag(&"k".repeat(129), "v").is_err());
    }

    #[test]
    fn bucket_names() {
        assert!(bucket_template("{pipeline}-{account}-{region}").is_ok());
        assert!(bucket_template("acme-logs").is_ok());
        assert!(bucket_template("{pipline}-x").unwrap_err().message.contains("{pipline}"));
        assert!(bucket_template("x-{region").is_err());
        assert!(bucket_name("eks-audit-123456789012-eu-central-1").is_ok());
        let long = bucket_name(&"a".repeat(64)).unwrap_err();
        assert!(long.message.contains("64 characters"));
        assert!(long.hint.unwrap().contains("bucket.name"));
        for bad in
            ["ab", "Upper-case", "-start", "end-", "two..dots", "192.168.1.1", "xn--x", "logs-s3alias", "under_score"]
        {
            assert!(bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_and_patterns() {
        assert!(firehose_prefix("eks-audit-logs/").is_ok());
        assert!(firehose_prefix("/logs").is_err());
        assert!(firehose_prefix(&"p".repeat(1025)).is_err());
        assert!(firehose_prefix("eks_audit_logs/{account}/").is_ok());
        // A Firehose expression would leave the grants and the notification on a literal prefix no key has.
        let expression = firehose_prefix("logs/!{timestamp:yyyy}/").unwrap_err();
        assert!(expression.message.contains("!{timestamp:yyyy}"), "{expression:?}");
        assert!(firehose_prefix("logs/{region}/").is_err());
        assert!(firehose_prefix("logs/{account").is_err());
        assert!(filter_pattern("").is_ok());
        assert!(filter_pattern(&"x".repeat(1024)).is_ok());
        assert!(filter_pattern(&"x".repeat(1025)).unwrap_err().message.contains("1025"));
        assert!(filter_pattern(crate::DEFAULT_FILTER_PATTERN).is_ok());
        let e = filter_pattern(r#"{ $.stage = "ResponseComplete" && $.verb = }"#).unwrap_err();
        let lines: Vec<&str> = e.message.lines().collect();
        assert_eq!(lines[0], "Invalid filter pattern: expected a value after `=` (character 44 of the pattern)");
        assert_eq!(lines[1], r#"    { $.stage = "ResponseComplete" && $.verb = }"#);
        assert_eq!(lines[2], format!("    {}^", " ".repeat(43)));
    }
}
