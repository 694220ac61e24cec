//! `eksaudit policy --for COMMAND`: the least-privilege IAM policy an operator needs to run COMMAND with this spec.
//! Offline: computed from the spec alone, no AWS call.

use eksaudit_plan::permissions::{self, Command};

use crate::cli::{PolicyArgs, PolicyFor, PolicyFormat};
use crate::exit::ExitStatus;
use crate::settings::{GlobalSettings, Verbosity};

fn command(f: PolicyFor) -> Command {
    match f {
        PolicyFor::MemberRole => Command::Plan,
        PolicyFor::Drift => Command::Drift,
        PolicyFor::Plan => Command::Plan,
        PolicyFor::Apply => Command::Apply,
        PolicyFor::Destroy => Command::Destroy,
        PolicyFor::Status => Command::Status,
    }
}

pub async fn run(args: &PolicyArgs, settings: &GlobalSettings) -> ExitStatus {
    if args.command == PolicyFor::MemberRole {
        return member_role(args, settings).await;
    }
    if args.principal.is_some() || !args.commands.is_empty() || args.format != PolicyFormat::Json {
        super::print_error(settings, "--principal, --commands and --format are only for `--for member-role`");
        return ExitStatus::Error;
    }
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

/// An assumed role's session ARN as the role's ARN (what a trust policy names); other ARNs as they are.
fn trusted_principal(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "sts", "", account, resource] if resource.starts_with("assumed-role/") => {
            let role = resource.trim_start_matches("assumed-role/").split('/').next().unwrap_or_default();
            format!("arn:{partition}:iam::{account}:role/{role}")
        }
        _ => arn.to_string(),
    }
}

/// `policy --for member-role`: the member-account role, as IAM JSON or a StackSet template.
async fn member_role(args: &PolicyArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    if spec.accounts.is_none() {
        super::print_error(
            settings,
            "the spec has no [accounts] section: the member role is for running eksaudit across member accounts; \
             add [accounts] with role_name, or use --for plan|apply|destroy|drift|status",
        );
        return ExitStatus::Error;
    }
    let commands: Vec<Command> = if args.commands.is_empty() {
        vec![Command::Plan, Command::Apply, Command::Destroy, Command::Drift, Command::Status]
    } else if args.commands.contains(&PolicyFor::MemberRole) {
        super::print_error(
            settings,
            "--commands lists the commands the member role allows: plan, apply, destroy, drift, status",
        );
        return ExitStatus::Error;
    } else {
        args.commands.iter().map(|c| command(*c)).collect()
    };
    let principal = match &args.principal {
        Some(arn) => {
            let principal = trusted_principal(arn);
            if let Err(e) = eksaudit_spec::rules::principal_arn(&principal) {
                super::print_error(settings, &format!("--principal: {} ({})", e.message, e.hint.unwrap_or_default()));
                return ExitStatus::Error;
            }
            principal
        }
        None => {
            let aws = eksaudit_aws::Aws::connect(&settings.connection, &spec.regions[0].name).await;
            match aws.identity().await {
                Ok(identity) => trusted_principal(&identity.arn),
                Err(e) => {
                    super::print_error(
                        settings,
                        &format!(
                            "cannot tell who runs eksaudit: {e}; pass the principal to trust with --principal ARN"
                        ),
                    );
                    return ExitStatus::Error;
                }
            }
        }
    };
    let role = permissions::member_role(&spec, &commands, &principal);
    let size = serde_json::to_string(&role["PolicyDocument"]).map_or(0, |t| t.len());
    if size > permissions::INLINE_POLICY_LIMIT {
        eprintln!(
            "warning: the member role's policy is {size} characters, over IAM's {} for a role's inline policies; \
             pass fewer --commands (e.g. one role for drift and plan, another for apply and destroy)",
            permissions::INLINE_POLICY_LIMIT
        );
    }
    let out = match args.format {
        PolicyFormat::Json => role,
        PolicyFormat::Cloudformation => permissions::member_role_template(&role),
    };
    println!("{}", serde_json::to_string_pretty(&out).expect("a JSON value serialises"));
    ExitStatus::Success
}
