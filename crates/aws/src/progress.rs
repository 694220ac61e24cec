//! What the reconciler reports: one result per resource, and live progress for people (the binary prints it).

use std::time::Duration;

use eksaudit_plan::{Action, Kind, ResourceChange};

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done {
        elapsed: Duration,
    },
    Failed {
        error: String,
    },
    Skipped {
        reason: String,
    },
    /// The run was interrupted (Ctrl-C) before this change started.
    NotStarted,
}

#[derive(Debug, Clone)]
pub struct StepResult {
    pub address: String,
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    pub outcome: Outcome,
}

impl StepResult {
    /// What came of one change.
    pub fn of(change: &ResourceChange, outcome: Outcome) -> StepResult {
        StepResult {
            address: change.address.clone(),
            kind: change.kind,
            name: change.name.clone(),
            action: change.action,
            outcome,
        }
    }
}

/// Live progress for people: the binary prints these.
pub trait Progress: Sync {
    fn started(&self, change: &ResourceChange);
    fn waiting(&self, address: &str, what: &str);
    fn finished(&self, result: &StepResult);
}
