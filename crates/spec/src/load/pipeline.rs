//! Loading `[pipeline]` and its `[pipeline.adopt]`.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::{Ctx, Span};
use crate::model::*;
use crate::rules;

impl Ctx<'_> {
    pub(super) fn pipeline(&mut self, t: &DeTable<'_>, span: Span) -> Option<Pipeline> {
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

    pub(super) fn adopt(&mut self, t: &DeTable<'_>) -> Option<Adopt> {
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
}
