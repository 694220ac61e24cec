//! Consumer presets: the vendor facts in one place, so a vendor changing an account id is a one-line change.
//! Values come from the vendors' public modules and templates (see the project reference):
//! - FortiCNAPP (Lacework): `terraform-aws-eks-audit-log` (role `lacework-platform`, external id
//!   `lweid:aws:v2:<tenant>:<account>:<10 random A-Z0-9>`, SNS topic the platform subscribes its own queue to;
//!   `main.tf`: the stream writes under `eks_audit_logs/<account>/` and the notification filters on it);
//! - RAD Security: `terraform-aws-rad-security-connect` (role `ksoc-data-pipeline`, AssumeRole and TagSession,
//!   the platform syncs the bucket: no notification; `eks_audit_logs.tf` names and tags what the platform finds:
//!   the bucket `ksoc-eks-<hex>` tagged `ksoc-data-type = eks-audit-logs`, the reader role `ksoc-audit-logs`
//!   reading `ksoc-eks-*`);
//! - Microsoft Sentinel: the AWS S3 / AWS EKS connector templates and the connector's manual setup (an OIDC
//!   provider for Microsoft's tenant, a role named `OIDC_*` trusted through web identity with the audience and
//!   `sts:RoleSessionName = MicrosoftSentinel_<workspace id>`, an SQS queue S3 notifies).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Generic,
    Forticnapp,
    Rad,
    Sentinel,
}

/// How the consumer learns of new objects in the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// An SNS topic per region; the consumer subscribes its own queue (or eksaudit subscribes `sqs_queue_arn`).
    Sns,
    /// An SQS queue per region that eksaudit creates, with a dead-letter queue; the reader consumes it.
    Sqs,
    /// No notification: the consumer lists the bucket.
    None,
}

impl Notify {
    pub const ALL: &'static [Notify] = &[Notify::Sns, Notify::Sqs, Notify::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Notify::Sns => "sns",
            Notify::Sqs => "sqs",
            Notify::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Notify> {
        Notify::ALL.iter().copied().find(|n| n.as_str() == s)
    }
}

/// Whether the spec must, may or must not give `external_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalIdRule {
    /// Required (or generated, when the preset has a vendor format).
    Required,
    Optional,
}

/// The vendor format of a generated external id: `{prefix}{tenant}:{account}:{random}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalIdFormat {
    pub prefix: &'static str,
    /// Length of the random part, characters from `alphabet`.
    pub random_len: usize,
    pub alphabet: &'static str,
}

/// A reader trusted through an AWS principal (`sts:AssumeRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTrust {
    pub account_id: Option<&'static str>,
    pub principal_arn: Option<&'static str>,
    /// What the principal may do on the role (`sts:AssumeRole`, plus `sts:TagSession` for vendors that tag
    /// their sessions).
    pub actions: &'static [&'static str],
    pub external_id: ExternalIdRule,
    /// Set when the vendor has its own external id format, which eksaudit can generate.
    pub external_id_format: Option<ExternalIdFormat>,
}

/// One Azure cloud's OIDC issuer and the audience Sentinel's tokens carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AzureCloud {
    /// The spec value (`azure_cloud = "commercial"`).
    pub name: &'static str,
    /// Issuer URL without the scheme, as IAM names the provider: `sts.windows.net/<tenant>/`.
    pub issuer: &'static str,
    pub audience: &'static str,
}

/// A reader trusted through an OIDC web identity (`sts:AssumeRoleWithWebIdentity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebIdentityTrust {
    pub clouds: &'static [AzureCloud],
    /// The thumbprint of the issuer's certificate chain, as the vendor's template gives it (IAM no longer relies
    /// on it for well-known issuers, but CreateOpenIDConnectProvider takes one).
    pub thumbprint: &'static str,
    /// `sts:RoleSessionName` is this followed by the workspace id.
    pub session_name_prefix: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Aws(AwsTrust),
    WebIdentity(WebIdentityTrust),
}

/// What a preset fills in when the spec leaves it out, and what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetData {
    pub trust: Trust,
    pub notify: Notify,
    /// The notify values the consumer can work with.
    pub allowed_notify: &'static [Notify],
    /// Prefix of the reader role's name (`{prefix}{pipeline}-reader`).
    pub reader_role_prefix: &'static str,
    /// The reader role's name, when the vendor's platform assumes a role of a fixed name (instead of
    /// `{reader_role_prefix}{pipeline}-reader`); `[consumer] reader_role_name` overrides it.
    pub reader_role_name: Option<&'static str>,
    /// The default `[bucket] name` template, when the vendor's platform finds the bucket by its name.
    pub bucket_name: Option<&'static str>,
    /// Tags on the pipeline's bucket (not the access-log bucket) the vendor's platform finds it by; a key of
    /// `[pipeline] tags` overrides the value.
    pub bucket_tags: &'static [(&'static str, &'static str)],
    /// The bucket-name pattern the vendor's reader role reads (`ksoc-eks-*`): the reader's S3 statements name
    /// it instead of the exact buckets while the bucket keeps the preset's name.
    pub reader_bucket_scope: Option<&'static str>,
    /// The default `[firehose] prefix` template (with `{account}`), where the vendor's platform expects one.
    pub prefix: Option<&'static str>,
}

const ASSUME: &[&str] = &["sts:AssumeRole"];

const GENERIC: PresetData = PresetData {
    trust: Trust::Aws(AwsTrust {
        account_id: None,
        principal_arn: None,
        actions: ASSUME,
        external_id: ExternalIdRule::Required,
        external_id_format: None,
    }),
    notify: Notify::Sns,
    allowed_notify: &[Notify::Sns, Notify::Sqs, Notify::None],
    reader_role_prefix: "",
    reader_role_name: None,
    bucket_name: None,
    bucket_tags: &[],
    reader_bucket_scope: None,
    prefix: None,
};

const FORTICNAPP: PresetData = PresetData {
    trust: Trust::Aws(AwsTrust {
        account_id: Some("434813966438"),
        principal_arn: Some("arn:aws:iam::434813966438:role/lacework-platform"),
        actions: ASSUME,
        external_id: ExternalIdRule::Required,
        external_id_format: Some(ExternalIdFormat {
            prefix: "lweid:aws:v2:",
            random_len: 10,
            alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        }),
    }),
    notify: Notify::Sns,
    allowed_notify: &[Notify::Sns, Notify::Sqs],
    reader_role_prefix: "",
    reader_role_name: None,
    bucket_name: None,
    bucket_tags: &[],
    reader_bucket_scope: None,
    // lacework/terraform-aws-eks-audit-log, main.tf: the stream's `prefix = "eks_audit_logs/${account_id}/"`
    // and the bucket notification's `filter_prefix = "eks_audit_logs/${account_id}"`.
    prefix: Some("eks_audit_logs/{account}/"),
};

const RAD: PresetData = PresetData {
    trust: Trust::Aws(AwsTrust {
        account_id: Some("955322216602"),
        principal_arn: Some("arn:aws:iam::955322216602:role/ksoc-data-pipeline"),
        actions: &["sts:AssumeRole", "sts:TagSession"],
        external_id: ExternalIdRule::Optional,
        external_id_format: None,
    }),
    notify: Notify::None,
    allowed_notify: &[Notify::None, Notify::Sns, Notify::Sqs],
    reader_role_prefix: "",
    // rad-security/terraform-aws-rad-security-connect, eks_audit_logs.tf: `aws_iam_role.ksoc_s3_access`
    // is named "ksoc-audit-logs".
    reader_role_name: Some("ksoc-audit-logs"),
    // eks_audit_logs.tf: `bucket_name = "ksoc-eks-${random_id.uniq.hex}"`; eksaudit keeps no state for a random
    // id, so `{hex}` is a stable digest of pipeline, account and region (`naming::bucket_hex`).
    bucket_name: Some("ksoc-eks-{hex}"),
    // eks_audit_logs.tf: `aws_s3_bucket.audit_logs` tags `ksoc-data-type = "eks-audit-logs"`.
    bucket_tags: &[("ksoc-data-type", "eks-audit-logs")],
    // eks_audit_logs.tf: `ksoc_s3_access` allows s3:GetObject and s3:ListBucket on "arn:aws:s3:::ksoc-eks-*"
    // and "arn:aws:s3:::ksoc-eks-*/*".
    reader_bucket_scope: Some("ksoc-eks-*"),
    prefix: None,
};

const SENTINEL: PresetData = PresetData {
    trust: Trust::WebIdentity(WebIdentityTrust {
        clouds: &[
            AzureCloud {
                name: "commercial",
                issuer: "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/",
                audience: "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e",
            },
            AzureCloud {
                name: "government",
                issuer: "sts.windows.net/cab8a31a-1906-4287-a0d8-4eef66b95f6e/",
                audience: "api://d4230588-5f84-4281-a9c7-2c15194b28f7",
            },
        ],
        thumbprint: "626d44e704d1ceabe3bf0d53397464ac8080142c",
        session_name_prefix: "MicrosoftSentinel_",
    }),
    notify: Notify::Sqs,
    allowed_notify: &[Notify::Sqs],
    // The connector only works with a role whose name starts with OIDC_.
    reader_role_prefix: "OIDC_",
    reader_role_name: None,
    bucket_name: None,
    bucket_tags: &[],
    reader_bucket_scope: None,
    prefix: None,
};

impl Preset {
    pub const ALL: &'static [Preset] = &[Preset::Generic, Preset::Forticnapp, Preset::Rad, Preset::Sentinel];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Generic => "generic",
            Preset::Forticnapp => "forticnapp",
            Preset::Rad => "rad",
            Preset::Sentinel => "sentinel",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    /// The vendor's facts.
    pub fn data(self) -> PresetData {
        match self {
            Preset::Generic => GENERIC,
            Preset::Forticnapp => FORTICNAPP,
            Preset::Rad => RAD,
            Preset::Sentinel => SENTINEL,
        }
    }

    /// Who reads, for people: the vendor's product name.
    pub fn vendor(self) -> &'static str {
        match self {
            Preset::Generic => "your own tools",
            Preset::Forticnapp => "FortiCNAPP (Lacework)",
            Preset::Rad => "RAD Security",
            Preset::Sentinel => "Microsoft Sentinel",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_allows_its_default_notify_and_aws_vendors_name_a_principal_in_their_account() {
        for p in Preset::ALL {
            let d = p.data();
            assert!(d.allowed_notify.contains(&d.notify), "{p}");
            assert_eq!(Preset::parse(p.as_str()), Some(*p));
            if let Trust::Aws(aws) = d.trust {
                if let (Some(account), Some(principal)) = (aws.account_id, aws.principal_arn) {
                    assert!(principal.starts_with(&format!("arn:aws:iam::{account}:")), "{p}");
                }
                assert!(aws.actions.contains(&"sts:AssumeRole"));
            }
        }
        let Trust::WebIdentity(w) = Preset::Sentinel.data().trust else { panic!("sentinel trusts a web identity") };
        assert_eq!(w.clouds[0].name, "commercial", "the first cloud is the default");
        assert!(w.clouds.iter().all(|c| c.issuer.ends_with('/') && !c.issuer.starts_with("https://")));
        assert_eq!(w.thumbprint.len(), 40);
    }
}
