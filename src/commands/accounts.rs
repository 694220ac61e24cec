//! Every command's one way over accounts: without `[accounts]` the caller's own account, as always; with it, each
//! selected member account (Organizations, `--shard`), its role assumed, the command's single-account work run
//! there concurrently (bounded by `max_concurrent_accounts`), and the results printed grouped by account with one
//! summary line, or as one JSON document with a section per account. An account whose role cannot be assumed is
//! `not_checked` with AWS's words; the others go on.

use std::future::Future;

use eksaudit_aws::Aws;
use eksaudit_spec::Spec;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;
use crate::style::Style;

/// The multi-account JSON document's own format version (each account's section keeps its command's).
pub const ACCOUNTS_FORMAT_VERSION: &str = "1";

/// Where one account's work runs: its clients, and the account they must be in.
#[derive(Clone)]
pub struct Target {
    pub aws: Aws,
    /// The member's id, or the spec's `pipeline.account_id` guard for the caller's own account.
    pub expected_account: Option<String>,
}

/// What one account's run produced.
pub struct AccountReport {
    /// What goes to standard output.
    pub text: String,
    pub json: Value,
    /// An error that ended the account's run (standard error in a single-account run).
    pub error: Option<String>,
    /// Changes or drift present (whatever the exit status says of them).
    pub changes: bool,
    pub status: ExitStatus,
}

impl AccountReport {
    pub fn failed(message: String) -> AccountReport {
        AccountReport {
            text: String::new(),
            json: Value::Null,
            error: Some(message),
            changes: false,
            status: ExitStatus::Error,
        }
    }
}

/// How one account came out.
pub enum AccountOutcome<T> {
    Ran(T),
    /// Its role could not be assumed: AWS's message.
    NotChecked(String),
    /// `apply` started nothing here: why (more accounts failed than `failure_tolerance` allows, or Ctrl-C).
    NotStarted(&'static str),
}

/// The member accounts of a run, and the caller's clients their roles are assumed from.
pub struct Members {
    pub caller: Aws,
    caller_arn: String,
    pub accounts: Vec<String>,
    /// The organization's management account, when selected: where service-managed StackSets put no member role.
    management: Option<String>,
}

/// Resolves `[accounts]`: `None` without it (the caller's own account, as always). The caller's account guard
/// (`pipeline.account_id`) applies to the caller; `--shard` keeps its share of the selected accounts.
pub async fn members(spec: &Spec, settings: &GlobalSettings) -> Result<Option<Members>, String> {
    let shard = match settings.shard {
        Some(shard) => Some(shard),
        None => indexed_job_shard()?,
    };
    let Some(accounts) = &spec.accounts else {
        if let Some(shard) = shard {
            return Err(format!(
                "--shard {shard} splits the member accounts of [accounts], but the spec has none; add an [accounts] \
                 section, or run without --shard"
            ));
        }
        return Ok(None);
    };
    let caller = Aws::connect(&settings.connection, &spec.regions[0].name).await;
    let identity = caller.check_account(spec.pipeline.account_id.as_deref()).await.map_err(|e| e.to_string())?;
    let selected = eksaudit_aws::member_accounts(&caller, accounts).await.map_err(|e| {
        format!("the member accounts could not be listed: {e} (Organizations is read from the caller's account)")
    })?;
    let eksaudit_aws::MemberAccounts { ids, management } = selected;
    let ids = match shard {
        Some(shard) => ids.into_iter().filter(|a| shard.contains(a)).collect(),
        None => ids,
    };
    Ok(Some(Members { caller, caller_arn: identity.arn, accounts: ids, management }))
}

/// In a Kubernetes Indexed Job: the shard from the pod's `JOB_COMPLETION_INDEX` (0-based) and the manifest's
/// `EKSAUDIT_SHARD_COUNT`, so the manifest needs no shell to compute `--shard`. `None` unless the count is set.
fn indexed_job_shard() -> Result<Option<eksaudit_spec::Shard>, String> {
    let Some(count) = std::env::var_os("EKSAUDIT_SHARD_COUNT") else { return Ok(None) };
    let count = count.to_string_lossy().into_owned();
    let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
        format!(
            "EKSAUDIT_SHARD_COUNT={count} is set but JOB_COMPLETION_INDEX is not: run in an Indexed Job \
             (completionMode: Indexed), or pass --shard K/N"
        )
    })?;
    let k = index.trim().parse::<u32>().map_err(|_| format!("JOB_COMPLETION_INDEX={index:?} is not a number"))?;
    format!("{}/{count}", k + 1)
        .parse()
        .map(Some)
        .map_err(|e| format!("JOB_COMPLETION_INDEX={index} with EKSAUDIT_SHARD_COUNT={count}: {e}"))
}

impl Members {
    fn role_arn(&self, spec: &Spec, account: &str) -> String {
        let role_name = spec.accounts.as_ref().map_or("", |a| a.role_name.as_str());
        eksaudit_aws::member_role_arn(&self.caller_arn, account, role_name)
    }

    /// Runs `work` in every member account, at most `max_concurrent_accounts` at once; sorted by account.
    /// (apply's failure tolerance is applied after the reads, in `reconcile::run_accounts`.)
    pub async fn each<T, F, Fut>(&self, spec: &Spec, work: F) -> Vec<(String, AccountOutcome<T>)>
    where
        F: Fn(String, Target) -> Fut,
        Fut: Future<Output = T>,
    {
        let accounts = spec.accounts.as_ref().expect("members exist only with [accounts]");
        let work = &work;
        let mut results: Vec<(String, AccountOutcome<T>)> = stream::iter(self.accounts.iter().cloned())
            // Boxed: a command's per-account future is large, and several run at once.
            .map(|id| {
                Box::pin(async move {
                    let arn = self.role_arn(spec, &id);
                    let aws = match self.caller.assume_member(&id, &arn, accounts.external_id.as_deref()).await {
                        Ok(aws) => aws,
                        Err(e) => {
                            let mut message = format!("the role {arn} could not be assumed: {e}");
                            if self.management.as_deref() == Some(id.as_str()) {
                                message.push_str(&management_hint(&id, &accounts.role_name));
                            }
                            return (id, AccountOutcome::NotChecked(message));
                        }
                    };
                    let out = work(id.clone(), Target { aws, expected_account: Some(id.clone()) }).await;
                    (id, AccountOutcome::Ran(out))
                })
            })
            .buffer_unordered(accounts.max_concurrent_accounts.max(1) as usize)
            .collect()
            .await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        results
    }
}

/// Why the management account's role is usually missing, and the two ways out: service-managed StackSets (the
/// member role's usual rollout, `policy --for member-role --format cloudformation`) deploy to every account of the
/// targeted OUs except the management account, as AWS documents; eksaudit still selects it (an EKS cluster there
/// is audited like any other), so where its role is missing it says so rather than skipping it in silence.
fn management_hint(id: &str, role_name: &str) -> String {
    format!(
        ". {id} is the organization's management account, where service-managed StackSets do not deploy the member \
         role: create {role_name} there by hand (`eksaudit policy --for member-role` prints it, or deploy the \
         `--format cloudformation` template there as a stack), or add \"{id}\" to [accounts] exclude"
    )
}

/// The caller's own account, for a run without `[accounts]`.
pub async fn caller(spec: &Spec, settings: &GlobalSettings) -> Target {
    Target {
        aws: Aws::connect(&settings.connection, &spec.regions[0].name).await,
        expected_account: spec.pipeline.account_id.clone(),
    }
}

/// A read-only command (plan, drift, status, outputs) in every account the spec names: `work` is the command's
/// single-account run. Prints and returns the aggregated exit status.
pub async fn run<F, Fut>(spec: &Spec, settings: &GlobalSettings, command: &str, json: bool, work: F) -> ExitStatus
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = AccountReport>,
{
    match members(spec, settings).await {
        Err(message) => {
            super::print_error(settings, &message);
            ExitStatus::Error
        }
        Ok(None) => print_single(work(caller(spec, settings).await).await, json, settings),
        Ok(Some(members)) => {
            let results = members.each(spec, |_, target| work(target)).await;
            print_grouped(command, &results, json, settings)
        }
    }
}

/// One account's report as a single-account run prints it (unchanged from before `[accounts]`).
pub fn print_single(report: AccountReport, json: bool, settings: &GlobalSettings) -> ExitStatus {
    crate::progress::stop_reading();
    if json && !report.json.is_null() {
        println!("{}", serde_json::to_string_pretty(&report.json).expect("a JSON value serialises"));
    } else {
        print!("{}", report.text);
    }
    if let Some(error) = &report.error {
        super::print_error(settings, error);
    }
    report.status
}

fn result_name(outcome: &AccountOutcome<AccountReport>) -> &'static str {
    match outcome {
        AccountOutcome::Ran(r) if r.status == ExitStatus::Error => "failed",
        AccountOutcome::Ran(r) if r.changes => "changes",
        AccountOutcome::Ran(_) => "in_sync",
        AccountOutcome::NotChecked(_) => "not_checked",
        AccountOutcome::NotStarted(_) => "not_started",
    }
}

/// Exit 1 if any account failed or could not be read, else 2 if any has changes or drift (as the command's own
/// exit says them), else 0.
pub fn aggregate(results: &[(String, AccountOutcome<AccountReport>)]) -> ExitStatus {
    let statuses: Vec<ExitStatus> = results
        .iter()
        .map(|(_, o)| match o {
            AccountOutcome::Ran(r) => r.status,
            AccountOutcome::NotChecked(_) | AccountOutcome::NotStarted(_) => ExitStatus::Error,
        })
        .collect();
    if statuses.contains(&ExitStatus::Error) {
        ExitStatus::Error
    } else if statuses.contains(&ExitStatus::Changes) {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    }
}

/// The one summary line: `4 accounts: 2 in sync, 1 with changes, 1 not checked (222222222222)`.
pub fn summary(results: &[(String, AccountOutcome<AccountReport>)]) -> String {
    let names = ["in_sync", "changes", "failed", "not_checked", "not_started"];
    let words = ["in sync", "with changes", "failed", "not checked", "not started"];
    let mut parts = Vec::new();
    for (name, word) in names.iter().zip(words) {
        let ids: Vec<&str> =
            results.iter().filter(|(_, o)| result_name(o) == *name).map(|(id, _)| id.as_str()).collect();
        if ids.is_empty() {
            continue;
        }
        if *name == "in_sync" || *name == "changes" {
            parts.push(format!("{} {word}", ids.len()));
        } else {
            parts.push(format!("{} {word} ({})", ids.len(), ids.join(", ")));
        }
    }
    let n = results.len();
    if n == 0 {
        return "0 accounts: the spec's [accounts] (and --shard) select none".to_string();
    }
    format!("{n} account{}: {}", if n == 1 { "" } else { "s" }, parts.join(", "))
}

/// Every account's report, grouped (text) or as one document with a section per account (JSON).
pub fn print_grouped(
    command: &str,
    results: &[(String, AccountOutcome<AccountReport>)],
    json: bool,
    settings: &GlobalSettings,
) -> ExitStatus {
    crate::progress::stop_reading();
    if json {
        let sections: Vec<Value> = results
            .iter()
            .map(|(id, o)| {
                let mut section = json!({"account": id, "result": result_name(o)});
                match o {
                    AccountOutcome::Ran(r) => {
                        if !r.json.is_null() {
                            section["report"] = r.json.clone();
                        }
                        if let Some(e) = &r.error {
                            section["message"] = json!(e);
                        }
                    }
                    AccountOutcome::NotChecked(e) => section["message"] = json!(e),
                    AccountOutcome::NotStarted(why) => section["message"] = json!(format!("not started: {why}")),
                }
                section
            })
            .collect();
        let doc = json!({
            "format_version": ACCOUNTS_FORMAT_VERSION,
            "command": command,
            "accounts": sections,
            "summary": summary(results),
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("a JSON value serialises"));
    } else {
        let style = Style::new(settings.color_stdout);
        for (id, o) in results {
            let heading = match o {
                AccountOutcome::Ran(_) => format!("== account {id} =="),
                AccountOutcome::NotChecked(_) => format!("== account {id}: not checked =="),
                AccountOutcome::NotStarted(_) => format!("== account {id}: not started =="),
            };
            println!("{}", style.bold(&heading));
            match o {
                AccountOutcome::Ran(r) => {
                    print!("{}", r.text);
                    if let Some(e) = &r.error {
                        println!("{}: {e}", style.red("error"));
                    }
                }
                AccountOutcome::NotChecked(e) => println!("{}: {e}", style.red("not checked")),
                AccountOutcome::NotStarted(why) => println!("not started: {why}"),
            }
            println!();
        }
        println!("{}", style.bold(&summary(results)));
    }
    aggregate(results)
}
