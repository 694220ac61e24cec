//! One module per subcommand. Each takes resolved settings and returns an [`ExitStatus`].

mod accounts;
mod apply;
mod completions;
mod destroy;
mod drift;
mod filter;
mod init;
mod live;
mod outputs;
mod plan;
mod policy;
mod reconcile;
mod status;
mod validate;

use eksaudit_spec::{Error as SpecError, Spec};

use crate::cli::Command;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;
use crate::style::Style;

pub async fn run(command: Command, settings: &GlobalSettings) -> ExitStatus {
    match command {
        Command::Init(args) => init::run(&args, settings).await,
        Command::Validate(args) => validate::run(&args, settings),
        Command::Plan(args) => reading(settings, plan::run(&args, settings)).await,
        Command::Apply(args) => reading(settings, apply::run(&args, settings)).await,
        Command::Destroy(args) => reading(settings, destroy::run(&args, settings)).await,
        Command::Drift(args) => reading(settings, drift::run(&args, settings)).await,
        Command::Status(args) => reading(settings, status::run(&args, settings)).await,
        Command::Policy(args) => policy::run(&args, settings).await,
        Command::Filter(crate::cli::FilterCommand::Test(args)) => filter::test(&args, settings),
        Command::Outputs(args) => reading(settings, outputs::run(&args, settings)).await,
        Command::Completions(args) => completions::completions(&args, settings),
        Command::Man => completions::man(settings),
    }
}

/// A command that reads live AWS before it prints: the read spinner runs until its first output (each print
/// point stops it) or its end.
async fn reading(settings: &GlobalSettings, command: impl std::future::Future<Output = ExitStatus>) -> ExitStatus {
    crate::progress::start_reading(settings);
    let status = command.await;
    crate::progress::stop_reading();
    status
}

/// Loads and validates the spec, printing every problem to standard error when it is not valid.
pub(crate) fn load_spec(settings: &GlobalSettings) -> Result<Spec, ExitStatus> {
    eksaudit_spec::load(&settings.config).map_err(|err| {
        print_spec_error(&err, settings);
        ExitStatus::Error
    })
}

pub(crate) fn print_spec_error(err: &SpecError, settings: &GlobalSettings) {
    crate::progress::stop_reading();
    let style = Style::new(settings.color_stderr);
    let error = style.red(&style.bold("error"));
    match err {
        SpecError::Read { path, source } => {
            eprintln!("{error}: cannot read spec file {}: {source}", path.display());
            eprintln!("  hint: create one from config.example.toml, or pass --config FILE");
        }
        SpecError::Invalid { path, problems } => {
            let n = problems.0.len();
            eprintln!("{error}: {} has {n} problem{}:", path.display(), if n == 1 { "" } else { "s" });
            for p in &problems.0 {
                let at = match p.location {
                    Some(l) => format!("{}:{}:{}", path.display(), l.line, l.column),
                    None => path.display().to_string(),
                };
                let key = if p.path.is_empty() { String::new() } else { format!("{}: ", style.bold(&p.path)) };
                eprintln!("  {}: {key}{}", style.dim(&at), p.message);
                if let Some(hint) = &p.hint {
                    eprintln!("    {} {hint}", style.cyan("hint:"));
                }
            }
        }
    }
}

/// Prints an error that ends a command, with AWS's own words.
pub(crate) fn print_error(settings: &GlobalSettings, message: &str) {
    crate::progress::stop_reading();
    let style = Style::new(settings.color_stderr);
    eprintln!("{}: {message}", style.red(&style.bold("error")));
}
