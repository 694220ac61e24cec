//! Loading `[health]`: what `eksaudit status` calls late.

use toml::de::DeTable;

use super::Ctx;
use crate::model::*;
use crate::rules;

/// A day: a longer lag is no longer a delivery check.
const MAX_DELIVERY_LAG_SECONDS: i64 = 86_400;

impl Ctx<'_> {
    pub(super) fn health(&mut self, t: &DeTable<'_>) -> Option<Health> {
        self.check_keys(t, "health", &["max_delivery_lag_seconds"]);
        let example = "max_delivery_lag_seconds = 600";
        match self.integer(t, "health", "max_delivery_lag_seconds", example) {
            None if t.contains_key("max_delivery_lag_seconds") => None,
            None => Some(Health::default()),
            Some((v, s)) => self
                .check(
                    "health.max_delivery_lag_seconds",
                    &s,
                    rules::int_in_range(v, 60, MAX_DELIVERY_LAG_SECONDS, "max_delivery_lag_seconds"),
                )
                .then_some(Health { max_delivery_lag_seconds: Some(v as u32) }),
        }
    }
}
