//! `eksaudit completions SHELL` and `eksaudit man`: generated from the same clap definition that parses the
//! command line, so they can never list a flag the binary does not take.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

pub fn completions(args: &CompletionsArgs, _settings: &GlobalSettings) -> ExitStatus {
    clap_complete::generate(args.shell, &mut Cli::command(), "eksaudit", &mut std::io::stdout());
    ExitStatus::Success
}

pub fn man(settings: &GlobalSettings) -> ExitStatus {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        Ok(()) => ExitStatus::Success,
        Err(e) => {
            super::print_error(settings, &format!("cannot write the manual page: {e}"));
            ExitStatus::Error
        }
    }
}
