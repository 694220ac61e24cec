//! `eksaudit policy --for COMMAND`: the least-privilege IAM policy an operator needs to run COMMAND with this spec.
//! Offline: computed from the spec alone, no AWS call.

use eksaudit_plan::permissions::{self, Command};

use crate::cli::{PolicyArgs, PolicyFor};
use crate::exit::ExitStatus;
use crate::settings::{GlobalSettings, Verbosity};

fn command(f: PolicyFor) -> Command {
    match f {
        PolicyFor::Drift => Command::Drift,
        PolicyFor::Plan => Command::Plan,
        PolicyFor::Apply => Command::Apply,
        PolicyFor::Destroy => Command::Destroy,
        PolicyFor::Status => Command::Status,
    }
}

pub async fn run(args: &PolicyArgs, settings: &GlobalSettings) -> ExitStatus {
    let cmd = command(args.command);
    if let Some(topic) = &args.notify_topic {
        if cmd != Command::Drift {
            super::print_error(
                settings,
                &format!(
                    "--notify-topic is only for `--for drift` (the topic `eksaudit drift --notify-topic` publishes to); \
                     `eksaudit {}` publishes nothing",
                    cmd.name()
                ),
            );
            return ExitStatus::Error;
        }
        // What `drift --notify-topic` accepts, and one topic exactly: a wildcard would widen sns:Publish.
        let checked = eksaudit_spec::rules::sns_topic_arn(topic)
            .map_err(|e| format!("{} ({})", e.message, e.hint.unwrap_or_default()))
            .and_then(|_| permissions::check_topic_arn(topic));
        if let Err(why) = checked {
            super::print_error(settings, &format!("--notify-topic: {why}"));
            return ExitStatus::Error;
        }
    }
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    let policy = permissions::operator_policy(&spec, cmd, args.notify_topic.as_deref());
    if !args.json && settings.verbosity > Verbosity::Quiet {
        eprintln!(
            "# Least-privilege policy for `eksaudit {}` with {}; attach it to the role that runs it",
            cmd.name(),
            settings.config.display()
        );
    }
    println!("{}", permissions::to_pretty_json(&policy));
    ExitStatus::Success
}
