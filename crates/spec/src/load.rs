//! From TOML text to a resolved [`Spec`]: walks the parsed document with its spans, so every problem (unknown
//! keys, wrong types, invalid values, cross-field conflicts) is reported at once with a key path and a location.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{Location, Problem, Problems};
use crate::model::*;
use crate::presets::{AwsTrust, ExternalIdRule, Notify, Preset, Trust, WebIdentityTrust};
use crate::rules::{self, Invalid, Rule};
use crate::suggest::closest;

type Span = Range<usize>;

#[path = "load_alerts.rs"]
mod load_alerts;

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
            &["pipeline", "consumer", "bucket", "firehose", "filter", "iam", "drift", "region", "alerts"],
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
        let bucket = self.section(root, "bucket").map(|(t, _)| t);
        let bucket = self.bucket(bucket.unwrap_or(&empty));
        let firehose = self.section(root, "firehose").map(|(t, _)| t);
        let firehose = self.firehose(firehose.unwrap_or(&empty));
        let filter = self.section(root, "filter").map(|(t, _)| t);
        let filter = self.filter(filter.unwrap_or(&empty));
        let iam = self.section(root, "iam").map(|(t, _)| t);
        let iam = self.iam(iam.unwrap_or(&empty));
        let drift = self.section(root, "drift").map(|(t, _)| t);
        let drift = self.drift(drift.unwrap_or(&empty));
        let regions = self.regions(root, root_span);
        let alerts = match self.section(root, "alerts") {
            Some((t, _)) => self.alerts(t).map(Some),
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
            regions: regions?,
            alerts: alerts?,
        };
        self.cross_checks(&spec, root);
        Some(spec)
    }

    fn pipeline(&mut self, t: &DeTable<'_>, span: Span) -> Option<Pipeline> {
        self.check_keys(t, "pipeline", &["name", "account_id", "tags", "adopt"]);
        let name = self.string(t, "pipeline", "name", "name = \"eks-audit\"");
        let name = self.required(name, t.contains_key("name"), "pipeline.name", &span, "add name = \"eks-audit\"");
        let name_ok = name.as_ref().is_some_and(|(n, s)| self.check("pipeline.name", s, rules::pipeline_name(n)));
        let account_id = self.string(t, "pipeline", "account_id", "account_id = \"123456789012\"");
        if let Some((id, s)) = &account_id {
            self.check("pipeline.account_id", s, rules::account_id(id));
        }
        let mut tags = BTreeMap::new();
        if let Some(v) = Self::value(t, "tags") {
            match v.get_ref() {
                DeValue::Table(tt) => {
                    for (k, val) in tt.iter() {
                        let path = format!("pipeline.tags.{}", k.get_ref());
                        match val.get_ref() {
                            DeValue::String(s) => {
                                if self.check(&path, &k.span(), rules::tag(k.get_ref(), s)) {
                                    tags.insert(k.get_ref().to_string(), s.to_string());
                                }
                            }
                            _ => self.wrong_type(&path, val, "a string", "tags = { team = \"security\" }"),
                        }
                    }
                    if tags.len() > 49 {
                        self.push(
                            "pipeline.tags",
                            Some(v.span()),
                            format!("{} tags; AWS allows 50 per resource and eksaudit adds one", tags.len()),
                            Some("keep at most 49 tags".into()),
                        );
                    }
                }
                _ => self.wrong_type("pipeline.tags", v, "a table", "tags = { team = \"security\" }"),
            }
        }
        let adopt = self.adopt(t);
        let name = name.filter(|_| name_ok)?.0;
        Some(Pipeline { name, account_id: account_id.map(|(a, _)| a), tags, adopt: adopt? })
    }

    fn adopt(&mut self, t: &DeTable<'_>) -> Option<Adopt> {
        let hint = "adopt = true takes over every same-named resource; adopt = [\"region.eu-central-1.bucket\", \"role.reader\"] only those (addresses as `eksaudit plan` prints them)";
        let Some(v) = Self::value(t, "adopt") else { return Some(Adopt::Nothing) };
        match v.get_ref() {
            DeValue::Boolean(true) => Some(Adopt::All),
            DeValue::Boolean(false) => Some(Adopt::Nothing),
            DeValue::Array(items) => {
                let mut addresses = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match item.get_ref().as_str() {
                        Some(a) if (a.starts_with("role.") || a.starts_with("region.")) && !a.ends_with('.') => {
                            addresses.push(a.to_string())
                        }
                        _ => {
                            ok = false;
                            self.push(
                                format!("pipeline.adopt[{i}]"),
                                Some(item.span()),
                                "not a resource address",
                                Some(hint.into()),
                            );
                        }
                    }
                }
                ok.then_some(Adopt::Only(addresses))
            }
            _ => {
                self.wrong_type(
                    "pipeline.adopt",
                    v,
                    "true, false or a list of addresses",
                    "adopt = [\"region.eu-central-1.bucket\"]",
                );
                None
            }
        }
    }

    fn consumer(&mut self, t: &DeTable<'_>, span: Span) -> Option<Consumer> {
        self.check_keys(
            t,
            "consumer",
            &[
                "preset",
                "account_id",
                "principal_arn",
                "external_id",
                "generate_external_id",
                "tenant",
                "notify",
                "sqs_queue_arn",
                "workspace_id",
                "azure_cloud",
            ],
        );
        let preset = match self.string(t, "consumer", "preset", "preset = \"generic\"") {
            None => Some(Preset::Generic),
            Some((p, s)) => {
                let parsed = Preset::parse(&p);
                if parsed.is_none() {
                    let names: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
                    self.push(
                        "consumer.preset",
                        Some(s),
                        format!("unknown preset {p:?}"),
                        Some(format!("use one of: {}", names.join(", "))),
                    );
                }
                parsed
            }
        };
        let mut ok = preset.is_some();
        let preset_value = preset.unwrap_or(Preset::Generic);
        let data = preset_value.data();

        let notify = match self.string(t, "consumer", "notify", "notify = \"sns\"") {
            None => Some(data.notify),
            Some((n, s)) => match Notify::parse(&n) {
                Some(n) if data.allowed_notify.contains(&n) => Some(n),
                Some(n) => {
                    let allowed: Vec<&str> = data.allowed_notify.iter().map(|n| n.as_str()).collect();
                    self.push(
                        "consumer.notify",
                        Some(s),
                        format!("preset {preset_value} cannot be notified through {:?}", n.as_str()),
                        Some(format!(
                            "{} reads new objects through {}; use notify = {:?}, or leave notify out",
                            preset_value.vendor(),
                            allowed.join(" or "),
                            data.notify.as_str()
                        )),
                    );
                    None
                }
                None => {
                    let all: Vec<&str> = Notify::ALL.iter().map(|n| n.as_str()).collect();
                    self.push(
                        "consumer.notify",
                        Some(s),
                        format!("unknown value {n:?}"),
                        Some(format!(
                            "use one of: {} (an SNS topic, an SQS queue eksaudit creates, or no notification)",
                            all.join(", ")
                        )),
                    );
                    None
                }
            },
        };
        ok &= notify.is_some();

        let queue =
            self.string(t, "consumer", "sqs_queue_arn", "sqs_queue_arn = \"arn:aws:sqs:us-west-2:434813966438:queue\"");
        if let Some((q, s)) = &queue {
            ok &= self.check("consumer.sqs_queue_arn", s, rules::sqs_queue_arn(q));
            if notify.is_some_and(|n| n != Notify::Sns) {
                ok = false;
                self.push(
                    "consumer.sqs_queue_arn",
                    Some(s.clone()),
                    format!(
                        "the consumer's queue is subscribed to the SNS topic, but notify is {:?}",
                        notify.map_or("", Notify::as_str)
                    ),
                    Some("set notify = \"sns\", or remove sqs_queue_arn (with notify = \"sqs\" eksaudit creates the queue)".into()),
                );
            }
        }

        let reader = match data.trust {
            Trust::Aws(aws) => self.aws_reader(t, &span, preset_value, aws),
            Trust::WebIdentity(web) => self.web_identity_reader(t, &span, preset_value, web),
        };
        ok &= reader.is_some();
        if !ok {
            return None;
        }
        Some(Consumer { preset: preset?, reader: reader?, notify: notify?, sqs_queue_arn: queue.map(|(q, _)| q) })
    }

    /// Keys that only some presets use, set under another: each one reported with what to do.
    fn not_for_preset(&mut self, t: &DeTable<'_>, keys: &[&str], preset: Preset, why: &str) -> bool {
        let mut ok = true;
        for key in keys {
            if let Some((k, _)) = t.get_key_value(*key) {
                ok = false;
                self.push(
                    join("consumer", key),
                    Some(k.span()),
                    format!("{key} does not apply to preset {preset}"),
                    Some(format!("{why}; remove {key}")),
                );
            }
        }
        ok
    }

    fn aws_reader(&mut self, t: &DeTable<'_>, span: &Span, preset: Preset, aws: AwsTrust) -> Option<Reader> {
        let mut ok = self.not_for_preset(
            t,
            &["workspace_id", "azure_cloud"],
            preset,
            "only Microsoft Sentinel (preset = \"sentinel\") reads through a workspace",
        );
        let account = self.string(t, "consumer", "account_id", "account_id = \"434813966438\"");
        if let Some((a, s)) = &account {
            ok &= self.check("consumer.account_id", s, rules::account_id(a));
        }
        let principal = self.string(
            t,
            "consumer",
            "principal_arn",
            "principal_arn = \"arn:aws:iam::434813966438:role/lacework-platform\"",
        );
        let mut principal_account = None;
        if let Some((p, s)) = &principal {
            match rules::principal_arn(p) {
                Ok(acct) => principal_account = Some((acct, s.clone())),
                Err(e) => ok &= self.check("consumer.principal_arn", s, Err(e)),
            }
        }
        let account_id = match (&account, &principal_account) {
            (Some((a, _)), _) => Some(a.clone()),
            (None, Some((pa, _))) => Some(pa.clone()),
            (None, None) => aws.account_id.map(str::to_string),
        };
        if let (Some((a, _)), Some((pa, ps))) = (&account, &principal_account) {
            if a != pa {
                ok = false;
                self.push(
                    "consumer.principal_arn",
                    Some(ps.clone()),
                    format!("the principal is in account {pa}, but consumer.account_id is {a}"),
                    Some("make them agree, or leave account_id out: it is taken from the principal".into()),
                );
            }
        }
        if account_id.is_none() && account.is_none() && !t.contains_key("account_id") {
            ok = false;
            self.push(
                "consumer.account_id",
                Some(span.clone()),
                "required key is missing",
                Some("add the consumer's 12-digit AWS account id, e.g. account_id = \"434813966438\", or choose a vendor preset".into()),
            );
        }
        // A preset's principal applies only when the spec keeps the preset's account.
        let principal_arn = match principal {
            Some((p, _)) => Some(p),
            None => aws.principal_arn.filter(|_| account_id.as_deref() == aws.account_id).map(str::to_string),
        };

        let external = self.string(t, "consumer", "external_id", "external_id = \"the-id-your-vendor-gave-you\"");
        let generate = self.boolean(t, "consumer", "generate_external_id");
        let generate_span = t.get("generate_external_id").map(|v| v.span());
        let tenant = self.string(t, "consumer", "tenant", "tenant = \"acme\"");
        if let Some((name, s)) = &tenant {
            ok &= self.check("consumer.tenant", s, rules::tenant(name));
        }
        let external_id = match (external, generate == Some(true), aws.external_id_format) {
            (Some((e, s)), true, _) => {
                ok = false;
                self.push(
                    "consumer.generate_external_id",
                    generate_span,
                    "generate_external_id = true and external_id are both set",
                    Some(
                        "keep external_id (the one your vendor gave you) or let eksaudit generate one, not both".into(),
                    ),
                );
                let _ = (e, s);
                None
            }
            (Some((e, s)), false, format) => {
                let mut valid = self.check("consumer.external_id", &s, rules::external_id(&e));
                // An id in the vendor's format is checked as one (a typo there breaks the integration); another
                // form is the user's choice.
                if let (true, Some(format)) = (valid, format.filter(|f| e.starts_with(f.prefix))) {
                    valid = self.check("consumer.external_id", &s, rules::vendor_external_id(&e, format.prefix, None));
                }
                if let Some((_, ts)) = &tenant {
                    valid = false;
                    self.push(
                        "consumer.tenant",
                        Some(ts.clone()),
                        "tenant is only used to generate the external id",
                        Some("remove tenant, or remove external_id and set generate_external_id = true".into()),
                    );
                }
                ok &= valid;
                Some(ExternalId::Fixed(e))
            }
            (None, true, Some(format)) => match &tenant {
                Some((name, _)) => Some(ExternalId::Generated {
                    prefix: format.prefix.to_string(),
                    tenant: name.clone(),
                    random_len: format.random_len,
                    alphabet: format.alphabet.to_string(),
                }),
                None => {
                    ok = false;
                    self.push(
                        "consumer.tenant",
                        generate_span,
                        "required key is missing: the generated external id starts with your tenant name",
                        Some(format!(
                            "add tenant = \"acme\" (from https://acme.lacework.net); the id becomes {}acme:<account>:<random>",
                            format.prefix
                        )),
                    );
                    None
                }
            },
            (None, true, None) => {
                ok = false;
                self.push(
                    "consumer.generate_external_id",
                    generate_span,
                    format!("preset {preset} has no vendor format to generate an external id in"),
                    Some("set external_id to the id your consumer gave you; only preset = \"forticnapp\" can generate one".into()),
                );
                None
            }
            (None, false, _) => {
                if let Some((_, ts)) = &tenant {
                    ok = false;
                    self.push(
                        "consumer.tenant",
                        Some(ts.clone()),
                        "tenant is only used to generate the external id",
                        Some("add generate_external_id = true, or remove tenant".into()),
                    );
                }
                if aws.external_id == ExternalIdRule::Required && !t.contains_key("external_id") {
                    ok = false;
                    let hint = match aws.external_id_format {
                        Some(f) => format!(
                            "add the external id FortiCNAPP gave you, e.g. external_id = \"{}acme:123456789012:ABCDE12345\", or generate_external_id = true with tenant = \"acme\"",
                            f.prefix
                        ),
                        None => "add the external id the consumer gave you, e.g. external_id = \"lweid:aws:v2:...\"".into(),
                    };
                    self.push("consumer.external_id", Some(span.clone()), "required key is missing", Some(hint));
                }
                None
            }
        };
        if !ok {
            return None;
        }
        Some(Reader::Aws(AwsReader {
            account_id: account_id?,
            principal_arn,
            actions: aws.actions.iter().map(|a| a.to_string()).collect(),
            external_id,
        }))
    }

    fn web_identity_reader(
        &mut self,
        t: &DeTable<'_>,
        span: &Span,
        preset: Preset,
        web: WebIdentityTrust,
    ) -> Option<Reader> {
        let mut ok = self.not_for_preset(
            t,
            &["account_id", "principal_arn", "external_id", "generate_external_id", "tenant"],
            preset,
            &format!(
                "{} assumes the reader role through the OIDC provider with your workspace id, not an AWS account",
                preset.vendor()
            ),
        );
        let workspace =
            self.string(t, "consumer", "workspace_id", "workspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\"");
        let workspace = self.required(
            workspace,
            t.contains_key("workspace_id"),
            "consumer.workspace_id",
            span,
            "add your Log Analytics workspace id, e.g. workspace_id = \"0b6c8e2a-1f3d-4c5e-9a7b-2d4f6e8a0c1e\" (the connector page shows it as External ID)",
        );
        if let Some((w, s)) = &workspace {
            ok &= self.check("consumer.workspace_id", s, rules::workspace_id(w));
        }
        let cloud = match self.string(t, "consumer", "azure_cloud", "azure_cloud = \"commercial\"") {
            None => web.clouds.first().copied(),
            Some((c, s)) => {
                let found = web.clouds.iter().find(|x| x.name == c).copied();
                if found.is_none() {
                    let names: Vec<&str> = web.clouds.iter().map(|x| x.name).collect();
                    self.push(
                        "consumer.azure_cloud",
                        Some(s),
                        format!("unknown Azure cloud {c:?}"),
                        Some(format!("use one of: {} (the cloud your Sentinel workspace is in)", names.join(", "))),
                    );
                }
                found
            }
        };
        ok &= cloud.is_some();
        if !ok {
            return None;
        }
        let (cloud, workspace_id) = (cloud?, workspace?.0);
        Some(Reader::WebIdentity(WebIdentityReader {
            cloud: cloud.name.to_string(),
            issuer: cloud.issuer.to_string(),
            thumbprint: web.thumbprint.to_string(),
            audience: cloud.audience.to_string(),
            role_session_name: format!("{}{workspace_id}", web.session_name_prefix),
            workspace_id,
        }))
    }

    fn bucket(&mut self, t: &DeTable<'_>) -> Option<Bucket> {
        self.check_keys(
            t,
            "bucket",
            &["name", "retention_days", "versioning", "kms_key_arn", "on_destroy", "encryption", "access_logging"],
        );
        let mut ok = true;
        let name = self.string(t, "bucket", "name", "name = \"acme-eks-audit-{region}\"");
        if let Some((n, s)) = &name {
            ok &= self.check("bucket.name", s, rules::bucket_template(n));
        }
        let retention = self.integer(t, "bucket", "retention_days", "retention_days = 180");
        if let Some((r, s)) = &retention {
            ok &= self.check(
                "bucket.retention_days",
                s,
                rules::int_in_range(*r, 0, 36_500, "retention_days (0 keeps forever)"),
            );
        }
        let versioning = self.boolean(t, "bucket", "versioning");
        let kms =
            self.string(t, "bucket", "kms_key_arn", "kms_key_arn = \"arn:aws:kms:eu-central-1:123456789012:key/...\"");
        if let Some((k, s)) = &kms {
            ok &= self.check("bucket.kms_key_arn", s, rules::kms_key_arn(k).map(|_| ()));
        }
        let on_destroy = match self.string(t, "bucket", "on_destroy", "on_destroy = \"retain\"") {
            None => OnDestroy::Retain,
            Some((v, _)) if v == "retain" => OnDestroy::Retain,
            Some((v, _)) if v == "delete" => OnDestroy::Delete,
            Some((v, s)) => {
                ok = false;
                self.push(
                    "bucket.on_destroy",
                    Some(s),
                    format!("unknown value {v:?}"),
                    Some("use \"retain\" (keep the bucket and its logs) or \"delete\" (empty and delete it)".into()),
                );
                OnDestroy::Retain
            }
        };
        let access_logging = self.boolean(t, "bucket", "access_logging");
        let encryption = self.bucket_encryption(t, kms.is_some(), &mut ok);
        ok.then(|| Bucket {
            name_template: name.map_or_else(|| DEFAULT_BUCKET_NAME.to_string(), |(n, _)| n),
            retention_days: retention.map_or(DEFAULT_RETENTION_DAYS, |(r, _)| r as u32),
            versioning: versioning.unwrap_or(true),
            kms_key_arn: kms.map(|(k, _)| k),
            on_destroy,
            encryption,
            access_logging: access_logging.unwrap_or(true),
        })
    }

    /// `[bucket] encryption`: "sse-kms" (the default) or "sse-s3", which cannot go with a `kms_key_arn`.
    fn bucket_encryption(&mut self, t: &DeTable<'_>, has_key: bool, ok: &mut bool) -> Encryption {
        match self.string(t, "bucket", "encryption", "encryption = \"sse-kms\"") {
            None => Encryption::SseKms,
            Some((v, _)) if v == "sse-kms" => Encryption::SseKms,
            Some((v, s)) if v == "sse-s3" => {
                if has_key {
                    *ok = false;
                    self.push(
                        "bucket.encryption",
                        Some(s),
                        "encryption = \"sse-s3\" uses no KMS key, but kms_key_arn names one".to_string(),
                        Some("leave kms_key_arn out, or use encryption = \"sse-kms\"".into()),
                    );
                }
                Encryption::SseS3
            }
            Some((v, s)) => {
                *ok = false;
                self.push(
                    "bucket.encryption",
                    Some(s),
                    format!("unknown value {v:?}"),
                    Some("use \"sse-kms\" (a customer-managed KMS key, the default) or \"sse-s3\"".into()),
                );
                Encryption::SseKms
            }
        }
    }

    fn firehose(&mut self, t: &DeTable<'_>) -> Option<Firehose> {
        self.check_keys(t, "firehose", &["buffer_size_mb", "buffer_interval_seconds", "prefix", "error_prefix"]);
        let mut ok = true;
        let size = self.integer(t, "firehose", "buffer_size_mb", "buffer_size_mb = 5");
        if let Some((v, s)) = &size {
            ok &= self.check("firehose.buffer_size_mb", s, rules::int_in_range(*v, 1, 128, "buffer_size_mb"));
        }
        let interval = self.integer(t, "firehose", "buffer_interval_seconds", "buffer_interval_seconds = 300");
        if let Some((v, s)) = &interval {
            ok &= self.check(
                "firehose.buffer_interval_seconds",
                s,
                rules::int_in_range(*v, 0, 900, "buffer_interval_seconds"),
            );
        }
        let prefix = self.string(t, "firehose", "prefix", "prefix = \"eks-audit-logs/\"");
        if let Some((p, s)) = &prefix {
            ok &= self.check("firehose.prefix", s, rules::firehose_prefix(p));
        }
        let error_prefix = self.string(t, "firehose", "error_prefix", "error_prefix = \"eks-audit-errors/\"");
        if let Some((p, s)) = &error_prefix {
            ok &= self.check("firehose.error_prefix", s, rules::firehose_prefix(p));
        }
        let prefix_value = prefix.map_or_else(|| DEFAULT_PREFIX.to_string(), |(p, _)| p);
        let error_value = error_prefix.clone().map_or_else(|| DEFAULT_ERROR_PREFIX.to_string(), |(p, _)| p);
        if ok && (error_value.starts_with(&prefix_value) || prefix_value.starts_with(&error_value)) {
            ok = false;
            let span = error_prefix.map(|(_, s)| s).or_else(|| t.get("prefix").map(|v| v.span()));
            self.push(
                "firehose.error_prefix",
                span,
                format!("error prefix {error_value:?} overlaps the data prefix {prefix_value:?}"),
                Some("failed records would be mixed into the consumer's data; use distinct prefixes such as \"eks-audit-logs/\" and \"eks-audit-errors/\"".into()),
            );
        }
        ok.then(|| Firehose {
            buffer_size_mb: size.map_or(DEFAULT_BUFFER_SIZE_MB, |(v, _)| v as u32),
            buffer_interval_seconds: interval.map_or(DEFAULT_BUFFER_INTERVAL_SECONDS, |(v, _)| v as u32),
            prefix: prefix_value,
            error_prefix: error_value,
        })
    }

    fn filter(&mut self, t: &DeTable<'_>) -> Option<Filter> {
        self.check_keys(t, "filter", &["pattern"]);
        match self.string(t, "filter", "pattern", "pattern = \"{ $.stage = \\\"ResponseComplete\\\" }\"") {
            None if t.contains_key("pattern") => None,
            None => Some(Filter { pattern: DEFAULT_FILTER_PATTERN.to_string() }),
            Some((p, s)) => {
                self.check("filter.pattern", &s, rules::filter_pattern(&p)).then_some(Filter { pattern: p })
            }
        }
    }

    fn drift(&mut self, t: &DeTable<'_>) -> Option<Drift> {
        self.check_keys(t, "drift", &["ignore"]);
        let example = "ignore = [\"bucket.tags.cost-center\", \"cluster.*.log_group.retention_days\"]";
        let Some(v) = Self::value(t, "ignore") else { return Some(Drift::default()) };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type("drift.ignore", v, "a list of finding paths", example);
            return None;
        };
        let mut ignore = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("drift.ignore[{i}]");
            match item.get_ref().as_str() {
                Some(rule) => {
                    if self.check(&path, &item.span(), rules::drift_ignore(rule)) {
                        ignore.push(rule.to_string());
                    } else {
                        ok = false;
                    }
                }
                None => {
                    ok = false;
                    self.wrong_type(&path, item, "a string", example);
                }
            }
        }
        ok.then_some(Drift { ignore })
    }

    fn iam(&mut self, t: &DeTable<'_>) -> Option<Iam> {
        self.check_keys(t, "iam", &["firehose_role_arn", "cloudwatch_role_arn", "reader_role_arn"]);
        let mut ok = true;
        let mut arn = |ctx: &mut Self, key: &str| {
            let v =
                ctx.string(t, "iam", key, &format!("{key} = \"arn:aws:iam::123456789012:role/eks-audit-firehose\""));
            if let Some((a, s)) = &v {
                ok &= ctx.check(&join("iam", key), s, rules::role_arn(a));
            }
            v.map(|(a, _)| a)
        };
        let iam = Iam {
            firehose_role_arn: arn(self, "firehose_role_arn"),
            cloudwatch_role_arn: arn(self, "cloudwatch_role_arn"),
            reader_role_arn: arn(self, "reader_role_arn"),
        };
        ok.then_some(iam)
    }

    fn regions(&mut self, root: &DeTable<'_>, root_span: Span) -> Option<Vec<Region>> {
        let Some(v) = Self::value(root, "region") else {
            let _ = root_span;
            self.push(
                "region",
                None,
                "no [[region]] is defined",
                Some("add at least one [[region]] with name = \"eu-central-1\" and clusters = [\"prod-*\"]".into()),
            );
            return None;
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.push(
                "region",
                Some(v.span()),
                "expected an array of tables",
                Some("write each region as [[region]] (double brackets), not [region]".into()),
            );
            return None;
        };
        if items.is_empty() {
            self.push("region", Some(v.span()), "no region is defined", Some("add at least one [[region]]".into()));
            return None;
        }
        let mut regions = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("region[{i}]");
            let DeValue::Table(t) = item.get_ref() else {
                self.wrong_type(&path, item, "a table", "[[region]]");
                ok = false;
                continue;
            };
            match self.region(t, &path, item.span()) {
                Some(r) => {
                    if let Some(first) = seen.insert(r.name.clone(), i) {
                        ok = false;
                        let span = t.get("name").map(|n| n.span());
                        self.push(
                            format!("{path}.name"),
                            span,
                            format!("region {:?} is already defined in region[{first}]", r.name),
                            Some("list each region once; put all its clusters in one clusters list".into()),
                        );
                    }
                    regions.push(r);
                }
                None => ok = false,
            }
        }
        ok.then_some(regions)
    }

    fn region(&mut self, t: &DeTable<'_>, path: &str, span: Span) -> Option<Region> {
        self.check_keys(t, path, &["name", "clusters", "enable_audit_logging", "log_retention_days"]);
        let mut ok = true;
        let name = self.string(t, path, "name", "name = \"eu-central-1\"");
        let name =
            self.required(name, t.contains_key("name"), &join(path, "name"), &span, "add name = \"eu-central-1\"");
        if let Some((n, s)) = &name {
            ok &= self.check(&join(path, "name"), s, rules::region_name(n));
        }
        let clusters_path = join(path, "clusters");
        let mut clusters = Vec::new();
        match Self::value(t, "clusters") {
            None => {
                ok = false;
                self.push(&clusters_path, Some(span.clone()), "required key is missing", Some("list cluster names or globs, e.g. clusters = [\"prod-1\", \"stage-*\"]; \"*\" selects every cluster".into()));
            }
            Some(v) => match v.get_ref() {
                DeValue::Array(items) if items.is_empty() => {
                    ok = false;
                    self.push(
                        &clusters_path,
                        Some(v.span()),
                        "the clusters list is empty",
                        Some("name at least one cluster or glob; \"*\" selects every cluster in the region".into()),
                    );
                }
                DeValue::Array(items) => {
                    for (j, item) in items.iter().enumerate() {
                        let item_path = format!("{clusters_path}[{j}]");
                        match item.get_ref() {
                            DeValue::String(s) => {
                                if !self.check(&item_path, &item.span(), rules::cluster_entry(s)) {
                                    ok = false;
                                } else if clusters.iter().any(|c: &ClusterSelector| c.as_str() == s.as_ref()) {
                                    ok = false;
                                    self.push(
                                        &item_path,
                                        Some(item.span()),
                                        format!("{s:?} is listed twice"),
                                        Some("remove the duplicate".into()),
                                    );
                                } else {
                                    clusters.push(ClusterSelector::parse(s));
                                }
                            }
                            _ => {
                                ok = false;
                                self.wrong_type(&item_path, item, "a string", "clusters = [\"prod-1\"]");
                            }
                        }
                    }
                }
                _ => {
                    ok = false;
                    self.wrong_type(&clusters_path, v, "an array of strings", "clusters = [\"prod-1\", \"stage-*\"]");
                }
            },
        }
        let enable = self.boolean(t, path, "enable_audit_logging");
        let retention = self.integer(t, path, "log_retention_days", "log_retention_days = 90");
        if let Some((d, s)) = &retention {
            ok &= self.check(&join(path, "log_retention_days"), s, rules::log_retention_days(*d));
        }
        if !ok {
            return None;
        }
        Some(Region {
            name: name?.0,
            clusters,
            enable_audit_logging: enable.unwrap_or(false),
            log_retention_days: retention.map(|(d, _)| d as u32),
        })
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
        if spec.regions.len() > 1 && !spec.bucket.name_template.contains("{region}") {
            self.push(
                "bucket.name",
                bucket_name_span.clone(),
                format!(
                    "{:?} gives every region the same bucket name, but bucket names are global",
                    spec.bucket.name_template
                ),
                Some("add {region} to bucket.name".into()),
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
