//! Loading `[accounts]`: the member accounts of an AWS Organization eksaudit works in, and how it reaches them.

use toml::de::{DeTable, DeValue};

use super::Ctx;
use crate::model::*;
use crate::rules::{self, Rule};

/// StackSets' own ceiling for concurrent accounts is a percentage of the targets; eksaudit bounds it plainly.
const MAX_CONCURRENT_ACCOUNTS: i64 = 100;

impl Ctx<'_> {
    pub(super) fn accounts(&mut self, t: &DeTable<'_>, span: super::Span) -> Option<Accounts> {
        self.check_keys(
            t,
            "accounts",
            &[
                "role_name",
                "external_id",
                "ids",
                "organization",
                "organizational_units",
                "exclude",
                "max_concurrent_accounts",
                "failure_tolerance",
            ],
        );
        let mut ok = true;
        let role_name = self.string(t, "accounts", "role_name", "role_name = \"eksaudit-member\"");
        let role_name = self.required(
            role_name,
            t.contains_key("role_name"),
            "accounts.role_name",
            &span,
            "name the role eksaudit assumes in each member account, e.g. role_name = \"eksaudit-member\" \
             (`eksaudit policy --for member-role` prints it)",
        );
        let role_name = match role_name {
            Some((name, s)) => self.check("accounts.role_name", &s, rules::role_name(&name)).then_some(name),
            None => None,
        };
        let external_id = match self.string(t, "accounts", "external_id", "external_id = \"org-audit\"") {
            Some((id, s)) => {
                ok &= self.check("accounts.external_id", &s, rules::external_id(&id));
                Some(id)
            }
            None => {
                ok &= !t.contains_key("external_id");
                None
            }
        };
        let ids = self.account_list(t, "ids", "ids = [\"111111111111\"]", rules::account_id);
        let organizational_units =
            self.account_list(t, "organizational_units", "organizational_units = [\"ou-ab12-cdefgh34\"]", rules::ou_id);
        let exclude = self.account_list(t, "exclude", "exclude = [\"333333333333\"]", rules::account_id);
        let organization = match self.boolean(t, "accounts", "organization") {
            Some(b) => b,
            None => {
                ok &= !t.contains_key("organization");
                false
            }
        };
        let (ids, organizational_units, exclude) = (ids?, organizational_units?, exclude?);
        if ids.is_empty() && organizational_units.is_empty() && !organization {
            self.push(
                "accounts",
                Some(span.clone()),
                "no account is selected",
                Some(
                    "list accounts with ids = [\"111111111111\"], OUs with organizational_units = [\"ou-...\"], or \
                     every account with organization = true"
                        .into(),
                ),
            );
            ok = false;
        }
        let max_concurrent_accounts = self.bounded(t, "max_concurrent_accounts", 1, MAX_CONCURRENT_ACCOUNTS, 10)?;
        let failure_tolerance = self.bounded(t, "failure_tolerance", 0, 10_000, 0)?;
        let accounts = Accounts {
            role_name: role_name?,
            external_id,
            ids,
            organization,
            organizational_units,
            exclude,
            max_concurrent_accounts,
            failure_tolerance,
        };
        ok.then_some(accounts)
    }

    /// An optional integer of `[accounts]` in `min..=max`, `default` when absent; `None` (reported) when wrong.
    fn bounded(&mut self, t: &DeTable<'_>, key: &str, min: i64, max: i64, default: u32) -> Option<u32> {
        let path = format!("accounts.{key}");
        match self.integer(t, "accounts", key, &format!("{key} = {default}")) {
            None if t.contains_key(key) => None,
            None => Some(default),
            Some((v, s)) => self.check(&path, &s, rules::int_in_range(v, min, max, key)).then_some(v as u32),
        }
    }

    /// A list of ids of `[accounts]`, each checked by `rule`, duplicates refused; empty when absent, `None`
    /// (reported) when any entry is wrong.
    fn account_list(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        example: &str,
        rule: impl Fn(&str) -> Rule,
    ) -> Option<Vec<String>> {
        let path = format!("accounts.{key}");
        let Some(v) = Self::value(t, key) else { return Some(Vec::new()) };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(&path, v, "a list of strings", example);
            return None;
        };
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(s) = item.get_ref().as_str() else {
                ok = false;
                self.wrong_type(&item_path, item, "a string", example);
                continue;
            };
            if self.check(&item_path, &item.span(), rule(s))
                && self.not_listed_before(out.iter().map(String::as_str), &item_path, &item.span(), s)
            {
                out.push(s.to_string());
            } else {
                ok = false;
            }
        }
        ok.then_some(out)
    }
}
