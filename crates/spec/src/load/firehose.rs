//! Loading `[firehose]` and `[filter]`: the stream's delivery settings and the subscription pattern.

use toml::de::DeTable;

use super::Ctx;
use crate::model::*;
use crate::rules;

impl Ctx<'_> {
    /// `[firehose]`, with the preset's prefix as the default (FortiCNAPP's `eks_audit_logs/{account}/`).
    pub(super) fn firehose(&mut self, t: &DeTable<'_>, preset: crate::Preset) -> Option<Firehose> {
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
        let default_prefix = preset.data().prefix.unwrap_or(DEFAULT_PREFIX);
        let prefix_value = prefix.map_or_else(|| default_prefix.to_string(), |(p, _)| p);
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
            prefix_template: prefix_value,
            error_prefix_template: error_value,
        })
    }

    pub(super) fn filter(&mut self, t: &DeTable<'_>) -> Option<Filter> {
        self.check_keys(t, "filter", &["pattern"]);
        match self.string(t, "filter", "pattern", "pattern = \"{ $.stage = \\\"ResponseComplete\\\" }\"") {
            None if t.contains_key("pattern") => None,
            None => Some(Filter { pattern: DEFAULT_FILTER_PATTERN.to_string() }),
            Some((p, s)) => {
                self.check("filter.pattern", &s, rules::filter_pattern(&p)).then_some(Filter { pattern: p })
            }
        }
    }
}
