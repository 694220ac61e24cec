//! `eksaudit policy --for COMMAND`: the least-privilege IAM policy an operator needs to run COMMAND with this spec.
//! Offline: computed from the spec alone (init's from init's --regions, before there is a spec), no AWS call.

use std::collections::BTreeSet;

use eksaudit_plan::permissions::{self, Command};

use crate::cli::{PolicyArgs, PolicyFor, PolicyFormat};
use crate::exit::ExitStatus;
use crate::settings::{GlobalSettings, Verbosity};

/// The command of a spec's operator policy; `None` for what is not one (the member role, init's).
fn command(f: PolicyFor) -> Option<Command> {
    match f {
        PolicyFor::MemberRole | PolicyFor::Init => None,
        PolicyFor::Drift => Some(Command::Drift),
        PolicyFor::Plan => Some(Command::Plan),
        PolicyFor::Apply => Some(Command::Apply),
        PolicyFor::Destroy => Some(Command::Destroy),
        PolicyFor::Status => Some(Command::Status),
    }
}

pub async fn run(args: &PolicyArgs, settings: &GlobalSettings) -> ExitStatus {
    if args.regions.is_some() && args.command != PolicyFor::Init {
        super::print_error(
            settings,
            "--regions is only for `--for init`; the other policies take their regions from the spec",
        );
        return ExitStatus::Error;
    }
    if args.command == PolicyFor::MemberRole {
        if args.split {
            super::print_error(
                settings,
                "--split is for the operator policies; past IAM's limit for a role's inline policies, \
                 `--format cloudformation` attaches the member role's policy as managed policies",
            );
            return ExitStatus::Error;
        }
        return member_role(args, settings).await;
    }
    if args.principal.is_some() || !args.commands.is_empty() || args.format != PolicyFormat::Json {
        super::print_error(settings, "--principal, --commands and --format are only for `--for member-role`");
        return ExitStatus::Error;
    }
    // The member role is handled above: what has no operator command is init's.
    let Some(cmd) = command(args.command) else { return init(args, settings) };
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
    print_policy(args, settings, &policy, &format!("`eksaudit {}` with {}", cmd.name(), settings.config.display()));
    ExitStatus::Success
}

/// Prints an operator policy: one document, or with `--split` the managed policies it packs into; a heading on
/// stderr unless `--json` or `--quiet`, and what to do when it is too large for IAM.
fn print_policy(args: &PolicyArgs, settings: &GlobalSettings, policy: &serde_json::Value, what: &str) {
    let limit = permissions::MANAGED_POLICY_LIMIT;
    let heading = !args.json && settings.verbosity > Verbosity::Quiet;
    if args.split {
        let parts = permissions::split(policy, limit);
        if heading {
            eprintln!(
                "# Least-privilege policy for {what}, as {} managed polic{} of at most {limit} characters each; \
                 attach every one to the role that runs it",
                parts.len(),
                if parts.len() == 1 { "y" } else { "ies" }
            );
        }
        println!("{}", permissions::to_pretty_json_array(&parts));
        return;
    }
    if heading {
        eprintln!("# Least-privilege policy for {what}; attach it to the role that runs it");
    }
    println!("{}", permissions::to_pretty_json(policy));
    if let Some(warning) = size_warning(permissions::policy_size(policy)) {
        eprintln!("{warning}");
    }
}

/// Where an operator policy too large for a managed policy can go instead: IAM refuses it at `create-policy` with
/// a bare LimitExceeded, long after eksaudit printed it. Printed with `--json` too (on stderr, the policy alone on
/// stdout): a script that feeds it to IAM is the one that meets the refusal.
fn size_warning(size: usize) -> Option<String> {
    let (managed, inline) = (permissions::MANAGED_POLICY_LIMIT, permissions::INLINE_POLICY_LIMIT);
    if size <= managed {
        None
    } else if size <= inline {
        Some(format!(
            "warning: this policy is {size} characters (IAM counts them without whitespace), over the {managed} IAM \
             allows in a managed policy, so `aws iam create-policy` refuses it: attach it to the role inline with \
             `aws iam put-role-policy` ({inline} over all of a role's inline policies), as deploy/README.md does, \
             or pass --split to print it as managed policies within {managed} each"
        ))
    } else {
        Some(format!(
            "warning: this policy is {size} characters (IAM counts them without whitespace), over the {managed} IAM \
             allows in a managed policy and the {inline} over all of a role's inline policies: pass --split to print \
             it as managed policies within {managed} each, and attach them all (IAM attaches up to {} to a role by \
             default)",
            permissions::MANAGED_POLICIES_PER_ROLE
        ))
    }
}

/// `policy --for init`: offline and without a spec, for the regions init will be given.
fn init(args: &PolicyArgs, settings: &GlobalSettings) -> ExitStatus {
    if args.notify_topic.is_some() {
        super::print_error(settings, "--notify-topic is only for `--for drift`; `eksaudit init` publishes nothing");
        return ExitStatus::Error;
    }
    let (partition, regions) = match super::init::candidate_regions(args.regions.as_deref()) {
        // init's default: every region of the commercial partition, which one wildcard names.
        Ok((_, explicit)) if explicit.is_empty() => ("aws", Vec::new()),
        Ok((_, explicit)) => {
            let partitions: BTreeSet<&str> = explicit.iter().map(|r| eksaudit_spec::partition(r)).collect();
            if partitions.len() > 1 {
                let listed: Vec<&str> = partitions.into_iter().collect();
                super::print_error(
                    settings,
                    &format!(
                        "--regions names regions of {} partitions ({}); one set of credentials reaches one \
                         partition: run init once per partition",
                        listed.len(),
                        listed.join(", ")
                    ),
                );
                return ExitStatus::Error;
            }
            (eksaudit_spec::partition(&explicit[0]), explicit)
        }
        Err(super::init::Stop(message)) => {
            super::print_error(settings, &message);
            return ExitStatus::Error;
        }
    };
    print_policy(
        args,
        settings,
        &permissions::init_policy(partition, &regions),
        "`eksaudit init` (it reads only; with `init --plan`, add the plan's: `eksaudit policy --for plan`, once the \
         spec is written)",
    );
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
    let commands: Vec<Command> = if args.commands.is_empty() {
        vec![Command::Plan, Command::Apply, Command::Destroy, Command::Drift, Command::Status]
    } else {
        match args.commands.iter().map(|c| command(*c)).collect::<Option<Vec<_>>>() {
            Some(commands) => commands,
            None => {
                super::print_error(
                    settings,
                    "--commands lists the commands the member role allows: plan, apply, destroy, drift, status",
                );
                return ExitStatus::Error;
            }
        }
    };
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
    let size = permissions::policy_size(&role["PolicyDocument"]);
    let inline = permissions::INLINE_POLICY_LIMIT;
    let out = match args.format {
        PolicyFormat::Json => {
            if size > inline {
                eprintln!(
                    "warning: the member role's policy is {size} characters, over IAM's {inline} for a role's inline \
                     policies; `--format cloudformation` attaches it as managed policies instead, or pass fewer \
                     --commands (e.g. one role for drift and plan, another for apply and destroy)"
                );
            }
            role
        }
        PolicyFormat::Cloudformation => {
            let template = permissions::member_role_template(&role);
            let managed = template["Resources"]
                .as_object()
                .map_or(0, |r| r.values().filter(|r| r["Type"] == "AWS::IAM::ManagedPolicy").count());
            if managed > permissions::MANAGED_POLICIES_PER_ROLE {
                eprintln!(
                    "warning: the member role's policy takes {managed} managed policies, over the {} IAM attaches \
                     to a role by default; ask AWS to raise the quota, or pass fewer --commands",
                    permissions::MANAGED_POLICIES_PER_ROLE
                );
            } else if managed > 0 && settings.verbosity > Verbosity::Quiet {
                eprintln!(
                    "# The member role's policy is {size} characters, over IAM's {inline} for a role's inline \
                     policies: the template attaches it as {managed} managed policies"
                );
            }
            template
        }
    };
    println!("{}", serde_json::to_string_pretty(&out).expect("a JSON value serialises"));
    ExitStatus::Success
}
