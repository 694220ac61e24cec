//! `eksaudit outputs`: per region, what the consumer's console asks for.

use crate::cli::OutputsArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(_args: &OutputsArgs, settings: &GlobalSettings) -> ExitStatus {
    if let Err(status) = super::load_spec(settings) {
        return status;
    }
    super::print_error(settings, "`eksaudit outputs` is not available in this version yet");
    ExitStatus::Error
}
