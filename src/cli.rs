//! The command-line contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "eksaudit",
    version,
    about = "Provision, reconcile and drift-check the pipeline that ships Amazon EKS audit logs to a security platform",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The spec file
    #[arg(short = 'c', long = "config", global = true, default_value = "eksaudit.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Send every AWS call to this endpoint (a local emulator); AWS_ENDPOINT_URL works too
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS profile to use; AWS_PROFILE works too
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// More output: -v shows each AWS call, -vv the SDK's own logs
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No colour, even on a terminal (NO_COLOR works too)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec without calling AWS
    Validate(ValidateArgs),
    /// Read live AWS and show what apply would change
    Plan(PlanArgs),
    /// Make live AWS match the spec
    Apply(ApplyArgs),
    /// Remove what the spec created (keeps the log bucket unless the spec says otherwise)
    Destroy(ApplyArgs),
    /// Read-only check that live AWS still matches the spec (exit 2 on drift)
    Drift(DriftArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
    /// Exit 0 with no changes, 2 with changes, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
}
