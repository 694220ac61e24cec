//! Stable process exit codes.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done; nothing to change, or everything changed as asked.
    Success,
    /// 1: any error, usage errors and invalid specs included.
    Error,
    /// 2: changes present (`plan --detailed-exitcode`) or drift found (`drift`).
    Changes,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::from(0),
            ExitStatus::Error => ExitCode::from(1),
            ExitStatus::Changes => ExitCode::from(2),
        }
    }
}
