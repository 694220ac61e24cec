//! The eksaudit binary: parses the command line, resolves settings, runs one subcommand and maps its outcome to
//! a process exit code. The work happens in the library crates.

mod cli;
mod commands;
mod exit;
mod interrupt;
mod progress;
mod settings;
mod style;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::ExitStatus;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            let status = match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitStatus::Success,
                // clap uses 2 for usage errors; 2 is reserved for "changes present".
                _ => ExitStatus::Error,
            };
            let _ = err.print();
            return status.into();
        }
    };
    let settings = settings::GlobalSettings::resolve(&cli.global);
    settings::init_tracing(&settings);
    progress::set_notice_style(style::Style::new(settings.color_stderr));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitStatus::Error.into();
        }
    };
    let status = runtime.block_on(commands::run(cli.command, &settings));
    status.into()
}
