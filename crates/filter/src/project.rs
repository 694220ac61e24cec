//! Reading only what a JSON pattern looks at. An EKS audit event is ~700 bytes of nested JSON and the default
//! pattern reads two fields of it: parsing the event into a tree of just the fields the selectors name (the rest
//! is still checked as JSON, never stored) is several times faster than building the whole tree, and gives the
//! same answers.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::ast::{Cond, Expr, Selector, Step};

/// Which parts of an event to keep: named fields (recursively), or everything below.
#[derive(Debug, Default)]
pub(crate) struct Projection {
    all: bool,
    keys: BTreeMap<String, Projection>,
}

impl Projection {
    pub(crate) fn of(expr: &Expr) -> Projection {
        let mut root = Projection::default();
        visit(expr, &mut |s: &Selector| root.add(s));
        root
    }

    fn add(&mut self, selector: &Selector) {
        let mut node = self;
        for step in &selector.steps {
            if node.all {
                return;
            }
            match step {
                Step::Key(k) => node = node.keys.entry(k.clone()).or_default(),
                // Array elements and wildcards: keep the whole subtree.
                Step::Index(_) | Step::AnyKey | Step::AnyIndex => break,
            }
        }
        node.all = true;
        node.keys.clear();
    }

    /// Parses `message` as JSON, keeping only the projected parts. `None` when it is not JSON.
    pub(crate) fn parse(&self, message: &str) -> Option<Json> {
        let first = message.trim_start().chars().next()?;
        if first != '{' && first != '[' {
            return None;
        }
        let mut de = serde_json::Deserializer::from_str(message);
        let value = Seed(self).deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(value)
    }
}

fn visit(expr: &Expr, f: &mut dyn FnMut(&Selector)) {
    match expr {
        Expr::Or(items) | Expr::And(items) => items.iter().for_each(|e| visit(e, f)),
        Expr::Paren(inner) => visit(inner, f),
        Expr::Cond(c) => f(match c {
            Cond::Compare { selector, .. } => selector,
            Cond::IsNull(s) | Cond::IsTrue(s) | Cond::IsFalse(s) | Cond::NotExists(s) => s,
        }),
    }
}

struct Seed<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        if self.0.all {
            Json::deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.0.keys.get(key.as_ref()) {
                Some(child) => {
                    let value = map.next_value_seed(Seed(child))?;
                    out.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Json::Object(out))
    }

    /// An array where fields are wanted: no field of it can be selected, so it is kept empty.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array(Vec::new()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Pattern;

    fn projection(p: &str) -> Projection {
        match crate::parse(p).unwrap() {
            Pattern::Json(e) => Projection::of(&e),
            _ => unreachable!(),
        }
    }

    #[test]
    fn only_the_selected_fields_are_kept() {
        let p = projection(r#"{ $.stage = "x" && $.user.username = "u" && $.objectRef NOT EXISTS }"#);
        let event = r#"{"stage":"ResponseComplete","user":{"username":"alice","groups":["a"]},"big":{"x":[1,2,{"y":"z"}]},"objectRef":null}"#;
        assert_eq!(
            p.parse(event).unwrap(),
            serde_json::json!({"stage": "ResponseComplete", "user": {"username": "alice"}, "objectRef": null})
        );
        // Invalid JSON anywhere is still not JSON.
        assert_eq!(p.parse(r#"{"stage":"x","big":{"x":[1,2,}}"#), None);
        assert_eq!(p.parse("stage=x"), None);
        // Wildcards and indexes keep the subtree.
        let p = projection(r#"{ $.a[0].b = 1 || $.c.* = 2 }"#);
        let event = r#"{"a":[{"b":1}],"c":{"d":2},"e":3}"#;
        assert_eq!(p.parse(event).unwrap(), serde_json::json!({"a": [{"b": 1}], "c": {"d": 2}}));
    }
}
