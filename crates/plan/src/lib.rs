//! Desired state, observed state, the diff between them and the plan. Pure: no AWS, no async.
//!
//! The AWS crate fills an [`ObservedState`] keyed by the same resource addresses the [`DesiredState`] uses;
//! [`diff`] compares them field by field (policies by meaning) into a [`Plan`]; [`render`] shows it.

pub mod alerts;
pub mod desired;
mod destroy;
mod diff;
mod document;
pub mod drift;
pub mod health;
pub mod kinds;
mod model;
pub mod names;
mod operation;
pub mod outputs;
pub mod package;
pub mod palette;
pub mod permissions;
pub mod policy;
pub mod render;
mod report;
pub mod saved;
#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod tests;

pub use desired::{DesiredState, Inputs};
pub use destroy::destroy_plan;
pub use diff::{
    diff, DiffOptions, CREATION_INTENT_TAG_PREFIX, INTERRUPTED_CREATE, INTERRUPTED_REASON,
    SUBSCRIPTION_FILTERS_PER_LOG_GROUP,
};
pub use model::*;
pub use names::Names;
pub use report::*;
