//! The eksaudit spec: the TOML model, its defaults, its validation and the resource names it implies.
//! Pure: no AWS, no async. Validation reports every problem at once, each with a key path and a location.

pub mod address;
pub mod alerts;
mod error;
#[cfg(test)]
mod hostile;
mod load;
mod model;
mod naming;
mod presets;
mod regions;
pub mod rules;
pub mod shard;
mod suggest;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use address::{Address, AddressError, ClusterSlot, RegionalSlot, RoleSlot};
pub use alerts::Alerts;
pub use error::{Error, Location, Problem, Problems};
pub use load::parse_spec;
pub use model::*;
pub use naming::{bucket_hex, log_group_name, render_bucket_name, render_prefix, RoleKind, OWNER_TAG_KEY};
pub use presets::{AzureCloud, Notify, Preset, PresetData, Trust};
pub use regions::{is_well_formed as is_region_name, partition, KNOWN_REGIONS};
pub use shard::Shard;

/// Reads and validates a spec file.
pub fn load(path: &Path) -> Result<Spec, Error> {
    let src = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    parse_spec(&src).map_err(|problems| Error::Invalid { path: path.to_path_buf(), problems })
}
