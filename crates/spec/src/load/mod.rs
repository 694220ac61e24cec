//! From TOML text to a resolved [`Spec`]: walks the parsed document with its spans, so every problem (unknown
//! keys, wrong types, invalid values, cross-field conflicts) is reported at once with a key path and a location.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{Location, Problem, Problems};
use crate::model::*;
use crate::presets::{AwsTrust, Trust};
use crate::rules::{self, Invalid, Rule};
use crate::suggest::closest;

type Span = Range<usize>;

mod accounts;
mod alerts;
mod bucket;
mod consumer;
mod drift;
mod firehose;
mod health;
mod iam;
mod pipeline;
mod region;

/// Parses and validates spec text. Makes no AWS call.
pub fn parse_spec(src: &str) -> Result<Spec, Problems> {
    let mut ctx = Ctx { src, problems: Vec::new() };
    let root = match DeTable::parse(src) {
        Ok(root) => root,
        Err(e) => {
            let location = e.span().map(|s| ctx.location(s.start));
            ctx.problems.push(Problem {
                path: String::new(),
                message: format!("TOML syntax error: {}", e.message().trim_end()),
                hint: Some("fix the syntax at that line and column; see config.example.toml for every key".into()),
                location,
            });
            return Err(Problems(ctx.problems));
        }
    };
    let spec = ctx.spec(root.get_ref(), root.span());
    ctx.problems.sort_by_key(|p| p.location.unwrap_or(Location { line: usize::MAX, column: 0 }));
    match spec {
        Some(spec) if ctx.problems.is_empty() => Ok(spec),
        _ => Err(Problems(ctx.problems)),
    }
}

struct Ctx<'s> {
    src: &'s str,
    problems: Vec<Problem>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl Ctx<'_> {
    fn location(&self, offset: usize) -> Location {
        let before = &self.src[..offset.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location { line, column: before[line_start..].chars().count() + 1 }
    }

    fn push(&mut self, path: impl Into<String>, span: Option<Span>, message: impl Into<String>, hint: Option<String>) {
        let location = span.map(|s| self.location(s.start));
        self.problems.push(Problem { path: path.into(), message: message.into(), hint, location });
    }

    fn check(&mut self, path: &str, span: &Span, rule: Rule) -> bool {
        match rule {
            Ok(()) => true,
            Err(Invalid { message, hint }) => {
                self.push(path, Some(span.clone()), message, hint);
                false
            }
        }
    }

    /// A list's duplicate entries refused, one rule for every list of the spec: `false` (reported at the entry)
    /// when `s` is already in `listed`.
    fn not_listed_before<'a>(
        &mut self,
        listed: impl IntoIterator<Item = &'a str>,
        path: &str,
        span: &Span,
        s: &str,
    ) -> bool {
        if listed.into_iter().any(|o| o == s) {
            self.push(path, Some(span.clone()), format!("{s:?} is listed twice"), Some("remove the duplicate".into()));
            return false;
        }
        true
    }

    /// Reports keys that are not in `allowed` (typos), with the closest allowed key as a hint.
    fn check_keys(&mut self, table: &DeTable<'_>, path: &str, allowed: &[&str]) {
        for (key, _) in table.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let hint = match closest(name, allowed.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("keys allowed here: {}", allowed.join(", ")),
            };
            self.push(join(path, name), Some(key.span()), format!("unknown key `{name}`"), Some(hint));
        }
    }

    fn value<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        table.get(key)
    }

    fn wrong_type(&mut self, path: &str, v: &Spanned<DeValue<'_>>, expected: &str, example: &str) {
        self.push(
            path,
            Some(v.span()),
            format!("expected {expected}, found {}", type_name(v.get_ref())),
            Some(format!("for example: {example}")),
        );
    }

    fn string(&mut self, table: &DeTable<'_>, prefix: &str, key: &str, example: &str) -> Option<(String, Span)> {
        let v = Self::value(table, key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span())),
            _ => {
                self.wrong_type(&join(prefix, key), v, "a string", example);
                None
            }
        }
    }

    fn integer(&mut self, table: &DeTable<'_>, prefix: &str, key: &str, example: &str) -> Option<(i64, Span)> {
        let v = Self::value(table, key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some((n, v.span())),
                Err(_) => {
                    self.push(
                        join(prefix, key),
                        Some(v.span()),
                        "integer is too large",
                        Some(format!("for example: {example}")),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(&join(prefix, key), v, "an integer", example);
                None
            }
        }
    }

    fn boolean(&mut self, table: &DeTable<'_>, prefix: &str, key: &str) -> Option<bool> {
        let v = Self::value(table, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(&join(prefix, key), v, "true or false", &format!("{key} = true"));
                None
            }
        }
    }

    /// A section (`[name]`); `None` when absent or not a table (reported).
    fn section<'t, 'i>(&mut self, root: &'t DeTable<'i>, key: &str) -> Option<(&'t DeTable<'i>, Span)> {
        let v = Self::value(root, key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span())),
            _ => {
                self.wrong_type(key, v, "a table", &format!("[{key}]"));
                None
            }
        }
    }

    fn required<T>(&mut self, value: Option<T>, present: bool, path: &str, span: &Span, hint: &str) -> Option<T> {
        if value.is_none() && !present {
            self.push(path, Some(span.clone()), "required key is missing", Some(hint.to_string()));
        }
        value
    }

    fn spec(&mut self, root: &DeTable<'_>, root_span: Span) -> Option<Spec> {
        self.check_keys(
            root,
            "",
            &[
                "pipeline", "consumer", "bucket", "firehose", "filter", "iam", "drift", "health", "region", "alerts",
                "accounts",
            ],
        );
        let empty = DeTable::new();
        let pipeline = match self.section(root, "pipeline") {
            Some((t, span)) => self.pipeline(t, span),
            None => {
                if Self::value(root, "pipeline").is_none() {
                    self.push(
                        "pipeline",
                        None,
                        "required section is missing",
                        Some("add a [pipeline] section with name = \"eks-audit\"".into()),
                    );
                }
                None
            }
        };
        let consumer = match self.section(root, "consumer") {
            Some((t, span)) => self.consumer(t, span),
            None => {
                if Self::value(root, "consumer").is_none() {
                    self.push(
                        "consumer",
                        None,
                        "required section is missing",
                        Some("add a [consumer] section naming who reads the logs (account_id, external_id)".into()),
                    );
                }
                None
            }
        };
        // The preset's conventions are the defaults of `[bucket]` and `[firehose]`.
        let preset = consumer.as_ref().map_or(crate::Preset::Generic, |c| c.preset);
        let bucket = self.section(root, "bucket").map(|(t, _)| t);
        let bucket = self.bucket(bucket.unwrap_or(&empty), preset);
        let firehose = self.section(root, "firehose").map(|(t, _)| t);
        let firehose = self.firehose(firehose.unwrap_or(&empty), preset);
        let filter = self.section(root, "filter").map(|(t, _)| t);
        let filter = self.filter(filter.unwrap_or(&empty));
        let iam = self.section(root, "iam").map(|(t, _)| t);
        let iam = self.iam(iam.unwrap_or(&empty));
        let drift = self.section(root, "drift").map(|(t, _)| t);
        let drift = self.drift(drift.unwrap_or(&empty));
        let health = self.section(root, "health").map(|(t, _)| t);
        let health = self.health(health.unwrap_or(&empty));
        let regions = self.regions(root, root_span);
        let alerts = match self.section(root, "alerts") {
            Some((t, _)) => self.alerts(t).map(Some),
            None => Some(None),
        };
        let accounts = match self.section(root, "accounts") {
            Some((t, span)) => self.accounts(t, span).map(Some),
            None => Some(None),
        };

        let spec = Spec {
            pipeline: pipeline?,
            consumer: consumer?,
            bucket: bucket?,
            firehose: firehose?,
            filter: filter?,
            iam: iam?,
            drift: drift?,
            health: health?,
            regions: regions?,
            alerts: alerts?,
            accounts: accounts?,
        };
        self.cross_checks(&spec, root);
        Some(spec)
    }

    /// Rules that span sections: only run once every section parsed cleanly.
    fn cross_checks(&mut self, spec: &Spec, root: &DeTable<'_>) {
        let bucket_name_span =
            root.get("bucket").and_then(|b| b.get_ref().as_table()).and_then(|t| t.get("name")).map(|v| v.span());
        let region_name_span = |i: usize| {
            root.get("region")
                .and_then(|r| r.get_ref().as_array())
                .and_then(|a| a.get(i))
                .and_then(|r| r.get_ref().as_table())
                .and_then(|t| t.get("name"))
                .map(|v| v.span())
        };
        // The account is only known at run time unless the guard is set; every account id has 12 digits, so
        // a stand-in gives the exact length and character set.
        let account = spec.pipeline.account_id.clone().unwrap_or_else(|| "000000000000".to_string());
        for (i, region) in spec.regions.iter().enumerate() {
            let name = spec.bucket_name(&account, &region.name);
            if let Err(Invalid { message, hint }) = rules::bucket_name(&name) {
                let span = bucket_name_span.clone().or_else(|| region_name_span(i));
                self.push("bucket.name", span, format!("{message} (region {})", region.name), hint);
            } else if spec.bucket.access_logging {
                let logs = spec.access_log_bucket_name(&account, &region.name);
                if let Err(Invalid { message, .. }) = rules::bucket_name(&logs) {
                    let span = bucket_name_span.clone().or_else(|| region_name_span(i));
                    self.push(
                        "bucket.name",
                        span,
                        format!("{message} (the access-log bucket of region {})", region.name),
                        Some("shorten bucket.name by the 12 characters of \"-access-logs\", or set [bucket] access_logging = false"
                            .to_string()),
                    );
                }
            }
        }
        // Bucket names are global: across member accounts only the account keeps them apart (or `{hex}`, a digest
        // of it).
        let has = |placeholder: &str| {
            spec.bucket.name_template.contains(placeholder) || spec.bucket.name_template.contains("{hex}")
        };
        if spec.accounts.is_some() && !has("{account}") {
            self.push(
                "bucket.name",
                bucket_name_span.clone(),
                format!(
                    "{:?} gives every member account the same bucket name, but bucket names are global",
                    spec.bucket.name_template
                ),
                Some("add {account} (or {hex}) to bucket.name, or leave it out for the default".into()),
            );
        }
        if spec.regions.len() > 1 && !has("{region}") {
            self.push(
                "bucket.name",
                bucket_name_span.clone(),
                format!(
                    "{:?} gives every region the same bucket name, but bucket names are global",
                    spec.bucket.name_template
                ),
                Some("add {region} (or {hex}) to bucket.name".into()),
            );
        }
        // A vendor-format external id names the account the role is in: when the guard pins it, they must agree.
        if let (Some(account), Some(AwsReader { external_id: Some(ExternalId::Fixed(id)), .. })) =
            (&spec.pipeline.account_id, spec.consumer.aws())
        {
            let format = match spec.consumer.preset.data().trust {
                Trust::Aws(AwsTrust { external_id_format: Some(format), .. }) => Some(format),
                _ => None,
            };
            if let Some(format) = format.filter(|f| id.starts_with(f.prefix)) {
                if let Err(Invalid { message, hint }) = rules::vendor_external_id(id, format.prefix, Some(account)) {
                    let span = root
                        .get("consumer")
                        .and_then(|c| c.get_ref().as_table())
                        .and_then(|t| t.get("external_id"))
                        .map(|v| v.span());
                    self.push("consumer.external_id", span, message, hint);
                }
            }
        }
        // The Sentinel connector refuses a role whose name lacks its prefix, a reused one included.
        let prefix = spec.consumer.preset.data().reader_role_prefix;
        if let Some(arn) = spec.iam.reader_role_arn.as_ref().filter(|_| !prefix.is_empty()) {
            let name = arn.rsplit('/').next().unwrap_or(arn);
            if !name.starts_with(prefix) {
                let span = root
                    .get("iam")
                    .and_then(|c| c.get_ref().as_table())
                    .and_then(|t| t.get("reader_role_arn"))
                    .map(|v| v.span());
                self.push(
                    "iam.reader_role_arn",
                    span,
                    format!(
                        "{} only assumes a role whose name starts with {prefix:?}; {name:?} does not",
                        spec.consumer.preset.vendor()
                    ),
                    Some(format!(
                        "reuse a role named {prefix}..., or leave reader_role_arn out so eksaudit creates {}",
                        spec.role_name(crate::RoleKind::Reader)
                    )),
                );
            }
        }
        // An adopted resource in a region the spec does not list would never be planned: a typo of a region.
        if let Adopt::Only(addresses) = &spec.pipeline.adopt {
            let regions: Vec<&str> = spec.regions.iter().map(|r| r.name.as_str()).collect();
            for (i, address) in addresses.iter().enumerate() {
                let Some(region) = address.region().filter(|r| !regions.contains(r)) else { continue };
                let span = root
                    .get("pipeline")
                    .and_then(|p| p.get_ref().as_table())
                    .and_then(|t| t.get("adopt"))
                    .and_then(|a| a.get_ref().as_array())
                    .and_then(|a| a.get(i))
                    .map(|v| v.span());
                self.push(
                    format!("pipeline.adopt[{i}]"),
                    span,
                    format!("\"{address}\" is in region {region}, which the spec does not list"),
                    Some(format!("the spec's regions are {}; fix the address or add the region", regions.join(", "))),
                );
            }
        }
        if let Some(key) = &spec.bucket.kms_key_arn {
            let key_region = rules::kms_key_arn(key).unwrap_or_default();
            let others: Vec<&str> = spec.regions.iter().map(|r| r.name.as_str()).filter(|r| *r != key_region).collect();
            if !others.is_empty() {
                let span = root
                    .get("bucket")
                    .and_then(|b| b.get_ref().as_table())
                    .and_then(|t| t.get("kms_key_arn"))
                    .map(|v| v.span());
                self.push(
                    "bucket.kms_key_arn",
                    span,
                    format!(
                        "the key is in {key_region}, but a bucket in {} cannot use a key from another region",
                        others.join(", ")
                    ),
                    Some("use one spec per region when bringing your own key, or leave kms_key_arn out".into()),
                );
            }
        }
    }
}
