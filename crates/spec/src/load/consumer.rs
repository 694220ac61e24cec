//! Loading `[consumer]`: the preset, the reader trust (an AWS principal with its external id, or a web identity).

use toml::de::DeTable;

use super::{join, Ctx, Span};
use crate::model::*;
use crate::presets::{AwsTrust, ExternalIdRule, Notify, Preset, Trust, WebIdentityTrust};
use crate::rules;

impl Ctx<'_> {
    pub(super) fn consumer(&mut self, t: &DeTable<'_>, span: Span) -> Option<Consumer> {
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
                "reader_role_name",
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

        let role_name = self.string(t, "consumer", "reader_role_name", "reader_role_name = \"ksoc-audit-logs\"");
        if let Some((name, s)) = &role_name {
            ok &= self.check("consumer.reader_role_name", s, rules::role_name(name));
            // The Sentinel connector refuses a role whose name lacks its prefix.
            let prefix = data.reader_role_prefix;
            if !name.starts_with(prefix) {
                ok = false;
                self.push(
                    "consumer.reader_role_name",
                    Some(s.clone()),
                    format!("{} only assumes a role whose name starts with {prefix:?}", preset_value.vendor()),
                    Some(format!("name it {prefix}{name}, or leave reader_role_name out")),
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
        Some(Consumer {
            preset: preset?,
            reader: reader?,
            notify: notify?,
            sqs_queue_arn: queue.map(|(q, _)| q),
            reader_role_name: role_name.map(|(n, _)| n).or_else(|| data.reader_role_name.map(str::to_string)),
        })
    }

    /// Keys that only some presets use, set under another: each one reported with what to do.
    pub(super) fn not_for_preset(&mut self, t: &DeTable<'_>, keys: &[&str], preset: Preset, why: &str) -> bool {
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

    pub(super) fn aws_reader(&mut self, t: &DeTable<'_>, span: &Span, preset: Preset, aws: AwsTrust) -> Option<Reader> {
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

    pub(super) fn web_identity_reader(
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
}
