//! `eksaudit policy --for COMMAND`: the least-privilege IAM policy an operator needs to run COMMAND with this spec.

use crate::cli::PolicyArgs;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub async fn run(_args: &PolicyArgs, settings: &GlobalSettings) -> ExitStatus {
    if let Err(status) = super::load_spec(settings) {
        return status;
    }
    super::print_error(settings, "`eksaudit policy` is not available in this version yet");
    ExitStatus::Error
}
