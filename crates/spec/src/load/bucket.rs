//! Loading `[bucket]`: retention, encryption, access logging.

use toml::de::DeTable;

use super::Ctx;
use crate::model::*;
use crate::rules;
use crate::Preset;

impl Ctx<'_> {
    /// `[bucket]`, with the preset's conventions as defaults (RAD's bucket name, tags and reader scope).
    pub(super) fn bucket(&mut self, t: &DeTable<'_>, preset: Preset) -> Option<Bucket> {
        self.check_keys(
            t,
            "bucket",
            &[
                "name",
                "retention_days",
                "versioning",
                "kms_key_arn",
                "on_destroy",
                "encryption",
                "access_logging",
                "encrypt_log_groups",
            ],
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
        let encrypt_log_groups = self.boolean(t, "bucket", "encrypt_log_groups");
        let encryption = self.bucket_encryption(t, kms.is_some(), &mut ok);
        let data = preset.data();
        // The reader's scope is the preset's bucket-name pattern only while the bucket keeps the preset's name.
        let reader_scope = data.reader_bucket_scope.filter(|_| name.is_none()).map(str::to_string);
        ok.then(|| Bucket {
            name_template: name.map_or_else(|| data.bucket_name.unwrap_or(DEFAULT_BUCKET_NAME).to_string(), |(n, _)| n),
            tags: data.bucket_tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            reader_scope,
            retention_days: retention.map_or(DEFAULT_RETENTION_DAYS, |(r, _)| r as u32),
            versioning: versioning.unwrap_or(true),
            kms_key_arn: kms.map(|(k, _)| k),
            on_destroy,
            encryption,
            access_logging: access_logging.unwrap_or(true),
            encrypt_log_groups: encrypt_log_groups.unwrap_or(true),
        })
    }

    /// `[bucket] encryption`: "sse-kms" (the default) or "sse-s3", which cannot go with a `kms_key_arn`.
    pub(super) fn bucket_encryption(&mut self, t: &DeTable<'_>, has_key: bool, ok: &mut bool) -> Encryption {
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
}
