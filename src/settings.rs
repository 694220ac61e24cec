//! Settings resolved from the command line and the environment, between the CLI and the work.

use std::path::PathBuf;

use eksaudit_aws::ConnectionSettings;

use crate::cli::GlobalArgs;

#[derive(Debug, Clone)]
pub struct GlobalSettings {
    pub config: PathBuf,
    pub connection: ConnectionSettings,
    pub verbosity: Verbosity,
    /// Colour on standard output.
    pub color_stdout: bool,
    /// Colour on standard error.
    pub color_stderr: bool,
    /// `--shard K/N`: the member accounts this run covers.
    pub shard: Option<eksaudit_spec::Shard>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Debug,
}

impl GlobalSettings {
    pub fn resolve(args: &GlobalArgs) -> GlobalSettings {
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Debug,
        };
        GlobalSettings {
            config: args.config.clone(),
            connection: ConnectionSettings {
                endpoint_url: args.endpoint_url.clone(),
                profile: args.profile.clone(),
                s3_path_style: args.s3_path_style,
                max_concurrency: args.max_concurrency,
                // A run AWS slows says so, but for --quiet.
                notice: (verbosity != Verbosity::Quiet).then_some(crate::progress::notice as eksaudit_aws::Notice),
            },
            verbosity,
            color_stdout: !args.no_color && colour(&std::io::stdout()),
            color_stderr: !args.no_color && colour(&std::io::stderr()),
            shard: args.shard,
        }
    }
}

/// Whether a stream gets colour: anstream's reading of the conventions (a terminal, `NO_COLOR`, `CLICOLOR=0`,
/// `CLICOLOR_FORCE`, `TERM=dumb`, Windows consoles).
fn colour<S: anstream::stream::RawStream>(stream: &S) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

/// Logs go to standard error; `-v` shows eksaudit's own events (each AWS call), `-vv` the SDK's. Below `-vv` the
/// SDK's own log lines stay off: what went wrong reaches the user as eksaudit's error, with the fix, not as the
/// credential chain's or the instance-metadata client's internals.
pub fn init_tracing(settings: &GlobalSettings) {
    let filter = match settings.verbosity {
        Verbosity::Quiet => "off,eksaudit=error,eksaudit_aws=error,eksaudit_plan=error",
        Verbosity::Normal => "off,eksaudit=warn,eksaudit_aws=warn,eksaudit_plan=warn",
        Verbosity::Verbose => "off,eksaudit=debug,eksaudit_aws=debug,eksaudit_plan=debug",
        Verbosity::Debug => "debug,hyper=info,h2=info,rustls=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("EKSAUDIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::progress::log_writer)
        .with_ansi(settings.color_stderr)
        .with_target(settings.verbosity >= Verbosity::Debug)
        .try_init();
}
