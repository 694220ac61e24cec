//! Loading `[drift]`: ignore rules.

use toml::de::{DeTable, DeValue};

use super::Ctx;
use crate::model::*;
use crate::rules;

impl Ctx<'_> {
    pub(super) fn drift(&mut self, t: &DeTable<'_>) -> Option<Drift> {
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
}
