//! `eksaudit drift`: not built yet (see the drift issue). Validates the spec first, then says plainly that the
//! command is not available.

use crate::cli::DriftArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(_args: &DriftArgs, settings: &GlobalSettings) -> ExitStatus {
    if let Err(status) = super::load_spec(settings) {
        return status;
    }
    super::print_error(
        settings,
        "`eksaudit drift` is not available in this version yet; `eksaudit plan` shows every difference",
    );
    ExitStatus::Error
}
