//! Loading `[pipeline]` and its `[pipeline.adopt]`.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::{Ctx, Span};
use crate::address::{Address, ClusterSlot, RegionalSlot};
use crate::model::*;
use crate::rules;

/// A resource at `place` (a region or a cluster), for the hint that `[pipeline] adopt` takes resources only.
fn example_in(place: &Address) -> Address {
    match place {
        Address::Cluster { region, cluster } => Address::cluster(region, cluster, ClusterSlot::LogGroup),
        other => Address::regional(other.region().unwrap_or("eu-central-1"), RegionalSlot::Bucket),
    }
}

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
                let mut addresses: Vec<Address> = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let path = format!("pipeline.adopt[{i}]");
                    let Some(text) = item.get_ref().as_str() else {
                        self.wrong_type(&path, item, "an address", "\"region.eu-central-1.bucket\"");
                        ok = false;
                        continue;
                    };
                    let problem = match text.parse::<Address>() {
                        Ok(address) if address.is_adoptable() => {
                            let listed: Vec<String> = addresses.iter().map(Address::to_string).collect();
                            if self.not_listed_before(listed.iter().map(String::as_str), &path, &item.span(), text) {
                                addresses.push(address);
                            } else {
                                ok = false;
                            }
                            continue;
                        }
                        Ok(resource) if resource.is_resource() => (
                            format!("{text:?} is not something adopt takes over"),
                            "adopt takes over what carries eksaudit's owner tag: the roles, and per region the key, buckets, topics, queues, stream, functions and their log groups; filters, subscriptions and notification entries are found by name, and a cluster's log group is EKS's".to_string(),
                        ),
                        Ok(place) => (
                            format!("{text:?} names a place, not a resource"),
                            format!(
                                "adopt the resources there one by one, such as \"{}\" (addresses as `eksaudit plan` prints them)",
                                example_in(&place)
                            ),
                        ),
                        Err(_) => (
                            format!("{text:?} is not a resource address"),
                            match Address::did_you_mean(text) {
                                Some(meant) => format!("did you mean \"{meant}\"?"),
                                None => hint.to_string(),
                            },
                        ),
                    };
                    ok = false;
                    self.push(path, Some(item.span()), problem.0, Some(problem.1));
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
