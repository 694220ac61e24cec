//! Desired state, observed state, the diff and the plan. Pure: no AWS, no async.
