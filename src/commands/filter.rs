//! `eksaudit filter test`: which audit events a filter pattern forwards and which it drops, offline.

use crate::cli::FilterTestArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub fn test(_args: &FilterTestArgs, settings: &GlobalSettings) -> ExitStatus {
    super::print_error(settings, "`eksaudit filter test` is not available in this version yet");
    ExitStatus::Error
}
