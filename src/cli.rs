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
    /// Address S3 by path (endpoint/bucket) instead of by virtual host (bucket.endpoint): for an endpoint without
    /// wildcard DNS, such as a local emulator
    #[arg(long, global = true, env = "EKSAUDIT_S3_PATH_STYLE")]
    pub s3_path_style: bool,
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
    /// AWS calls in flight at once (default 16), for accounts with raised API quotas; each operation's rate
    /// stays paced by AWS's default quotas
    #[arg(long, global = true, value_name = "N", value_parser = parse_max_concurrency)]
    pub max_concurrency: Option<usize>,
    /// With [accounts]: only the member accounts in shard K of N (a stable hash of the account id; every account
    /// is in exactly one shard), for a scheduled check split over N jobs
    #[arg(long, global = true, value_name = "K/N", env = "EKSAUDIT_SHARD", value_parser = parse_shard)]
    pub shard: Option<eksaudit_spec::Shard>,
}

fn parse_shard(text: &str) -> Result<eksaudit_spec::Shard, String> {
    text.parse()
}

/// A whole number of calls, at least one: with none in flight nothing would ever be sent.
fn parse_max_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1 (1 makes one call at a time)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number of calls; give one of 1 or more")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a spec for this account: finds the regions and EKS clusters, asks which to cover and who reads
    Init(InitArgs),
    /// Check the spec without calling AWS
    Validate(ValidateArgs),
    /// Read live AWS and show what apply would change
    Plan(PlanArgs),
    /// Make live AWS match the spec (or carry out a plan saved with `plan --out`)
    Apply(ApplyArgs),
    /// Remove what the spec created (keeps the log bucket unless the spec says otherwise)
    Destroy(DestroyArgs),
    /// Read-only check that live AWS still matches the spec (exit 2 on drift)
    Drift(DriftArgs),
    /// Read-only check that audit logs are arriving: each link of each region's and cluster's delivery chain
    /// (exit 2 when stale, failing or lagging, 1 when it cannot tell)
    Status(StatusArgs),
    /// Print the least-privilege IAM policy the operator needs to run a command with this spec
    Policy(PolicyArgs),
    /// Work with CloudWatch Logs filter patterns offline
    #[command(subcommand)]
    Filter(FilterCommand),
    /// Print, per region, what to paste into the consumer's console (role ARN, external id, bucket, topic or queue)
    Outputs(OutputsArgs),
    /// Print a shell completion script (e.g. `eksaudit completions bash > /etc/bash_completion.d/eksaudit`)
    Completions(CompletionsArgs),
    /// Print the manual page in roff (e.g. `eksaudit man > /usr/local/share/man/man1/eksaudit.1`)
    Man,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Who reads the logs: generic, forticnapp, rad or sentinel (asked on a terminal when not given)
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    /// Regions to cover: `all` (every region with a cluster) or a list such as `eu-central-1,us-east-1`
    #[arg(long, value_name = "all|R1,R2")]
    pub regions: Option<String>,
    /// The clusters to select in each region, as a glob the spec keeps (new matching clusters are picked up);
    /// default: the clusters found, by name
    #[arg(long, value_name = "GLOB")]
    pub clusters: Option<String>,
    /// Set any spec key, e.g. `--set consumer.external_id=abc` or `--set region.log_retention_days=90` (every
    /// region); values are TOML (true, 90, ["a"]) or plain text. Repeatable
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Ask nothing: take the flags and the defaults (audit logging turned on where it is off, no [alerts])
    #[arg(long)]
    pub yes: bool,
    /// Where to write the spec (default: --config, eksaudit.toml)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the file if it exists
    #[arg(long)]
    pub force: bool,
    /// Run `eksaudit plan` on the new spec (asked on a terminal)
    #[arg(long)]
    pub plan: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum FilterCommand {
    /// Show which audit events a pattern forwards and which it drops
    Test(FilterTestArgs),
}

#[derive(Debug, Args)]
pub struct FilterTestArgs {
    /// The pattern to test (default: the spec's [filter] pattern)
    #[arg(long, value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// Events to test (`-` for standard input): one log event per line as the cluster's log group holds them
    /// (JSON audit events and text lines), a subscription envelope, or the JSON `aws logs filter-log-events` or
    /// `get-log-events` prints (default: a built-in set of realistic EKS audit events)
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
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
    /// Also save the plan to FILE, for `eksaudit apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out`: apply exactly it, refused if live AWS or the spec changed since
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

/// What apply and destroy share.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Cap every wait on AWS (IAM propagation, Firehose becoming ACTIVE, EKS updates) at SECONDS
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub wait_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
    /// Publish a summary and the JSON report to this SNS topic when drift is found
    #[arg(long, value_name = "ARN")]
    pub notify_topic: Option<String>,
    /// With --notify-topic: also publish when everything is in sync, so an open alert can be resolved
    #[arg(long, requires = "notify_topic")]
    pub notify_in_sync: bool,
    /// Check the configuration only: no delivery findings, no CloudWatch, log or object reads
    #[arg(long)]
    pub config_only: bool,
    /// With delivery findings: how far back to look, as `eksaudit status --since` (`90s`, `30m`, `1h`, `2d`)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration, conflicts_with = "config_only")]
    pub since: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
    /// How far back to look: metrics, error lines and audit events since then (`90s`, `30m`, `1h`, `2d`)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub since: u64,
}

/// A duration as `--since` takes it: a number and a unit (`s`, `m`, `h`, `d`), in seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let hint = "a number and a unit: 90s, 30m, 1h or 2d";
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration ({hint})"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?} is not a duration ({hint})")),
    };
    // CloudWatch keeps one-minute datapoints for 15 days.
    if !(60..=15 * 86_400).contains(&seconds) {
        return Err(format!("{text:?}: use a duration from 1m to 15d"));
    }
    Ok(seconds)
}

/// The commands `policy` can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyFor {
    Drift,
    Plan,
    Apply,
    Destroy,
    Status,
    /// The role eksaudit assumes in each member account of [accounts]
    MemberRole,
    /// `eksaudit init`, which runs before there is a spec (give it init's --regions)
    Init,
}

/// How `policy --for member-role` prints the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyFormat {
    /// The role as IAM JSON: its name, trust policy and permissions policy
    Json,
    /// A CloudFormation template for a service-managed StackSet
    Cloudformation,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The command the policy is for
    #[arg(long = "for", value_enum, value_name = "COMMAND")]
    pub command: PolicyFor,
    /// With `--for drift`: the topic `drift --notify-topic` publishes to
    #[arg(long, value_name = "ARN")]
    pub notify_topic: Option<String>,
    /// Print one JSON document (the policy alone) instead of text with a heading
    #[arg(long)]
    pub json: bool,
    /// Print the policy as a JSON array of managed policies, each within IAM's 6,144 characters (attach them all):
    /// for a policy too large for one
    #[arg(long)]
    pub split: bool,
    /// With `--for member-role`: IAM JSON, or a StackSet-ready CloudFormation template
    #[arg(long, value_enum, default_value = "json")]
    pub format: PolicyFormat,
    /// With `--for member-role`: the principal the role trusts (default: the caller's, from STS
    /// GetCallerIdentity; an assumed role's session is trusted as its role)
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// With `--for member-role`: the commands the role allows (default: all of them)
    #[arg(long, value_name = "CMD,...", value_delimiter = ',', value_enum)]
    pub commands: Vec<PolicyFor>,
    /// With `--for init`: the regions init reads, as init's own --regions (default: every region)
    #[arg(long, value_name = "all|R1,R2")]
    pub regions: Option<String>,
}
