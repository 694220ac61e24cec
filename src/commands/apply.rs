//! `eksaudit apply`: not built yet (see the apply and destroy issue). Validates the spec first, so a bad spec
//! still fails with its problems, then says plainly that the command is not available.

use crate::cli::ApplyArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(_args: &ApplyArgs, settings: &GlobalSettings) -> ExitStatus {
    if let Err(status) = super::load_spec(settings) {
        return status;
    }
    super::print_error(
        settings,
        "`eksaudit apply` is not available in this version yet; `eksaudit plan` shows what it would do",
    );
    ExitStatus::Error
}
