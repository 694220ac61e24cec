//! The plan: what apply would do to each resource, and the problems that stop it.

use serde::Serialize;
use serde_json::Value;

use crate::model::Kind;

/// What a problem means for a check of live AWS (drift): apply cannot fix it, it could not be read, or it is
/// only information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Needs a person: the spec and live AWS conflict in a way apply will not resolve.
    #[default]
    Blocked,
    /// Could not be read (access denied, throttled out): unknown, never assumed in sync.
    Unreadable,
    /// Worth knowing, nothing wrong.
    Info,
    /// Worth knowing at every check, nothing wrong, and true whatever apply does (a filter pattern that drops a
    /// class of events, a member region without clusters): drift shows it beside its findings, never as one.
    Standing,
}

/// A warning or blocking problem, tied to a resource address, with a way to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub address: String,
    pub message: String,
    pub hint: String,
    #[serde(skip)]
    pub cause: Cause,
}

impl Message {
    pub fn new(address: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> Message {
        Message { address: address.into(), message: message.into(), hint: hint.into(), cause: Cause::Blocked }
    }

    pub fn because(mut self, cause: Cause) -> Message {
        self.cause = cause;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    /// Delete and create again: the change cannot be made in place.
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    /// `None`: not set live (or the resource does not exist).
    pub old: Option<Value>,
    /// `None`: removed.
    pub new: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceChange {
    pub address: String,
    pub kind: Kind,
    pub region: Option<String>,
    pub name: String,
    pub action: Action,
    /// Why (replace, adopt, delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
}

impl ResourceChange {
    /// A field's value as read before the change (a deletion carries every field it read).
    pub fn old(&self, field: &str) -> Option<&serde_json::Value> {
        self.changes.iter().find(|f| f.field == field).and_then(|f| f.old.as_ref())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub pipeline: String,
    pub account: String,
    pub resources: Vec<ResourceChange>,
    pub warnings: Vec<Message>,
    /// Blocking problems: apply refuses to start while any is present.
    pub errors: Vec<Message>,
    /// What is deliberately left in place (destroy keeps the log data).
    pub notes: Vec<Message>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.resources {
            match r.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.unchanged += 1,
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.resources.iter().any(|r| r.action != Action::NoOp)
    }

    pub fn is_blocked(&self) -> bool {
        !self.errors.is_empty()
    }
}
