//! Loading `[[region]]`: each region, its cluster selectors and log settings.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::{join, Ctx, Span};
use crate::model::*;
use crate::rules;

impl Ctx<'_> {
    pub(super) fn regions(&mut self, root: &DeTable<'_>, root_span: Span) -> Option<Vec<Region>> {
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

    pub(super) fn region(&mut self, t: &DeTable<'_>, path: &str, span: Span) -> Option<Region> {
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
                                let listed = clusters.iter().map(ClusterSelector::as_str);
                                if self.check(&item_path, &item.span(), rules::cluster_entry(s))
                                    && self.not_listed_before(listed, &item_path, &item.span(), s)
                                {
                                    clusters.push(ClusterSelector::parse(s));
                                } else {
                                    ok = false;
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
}
