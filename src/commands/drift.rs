//! `eksaudit drift`: the scheduled, read-only check. Reads live AWS exactly as plan does, and (unless
//! `--config-only`) the delivery chain as `eksaudit status` does, reports every finding (missing, changed,
//! unmanaged, blocked, delivery, not checked), and optionally publishes an alert to SNS. Exit 0 in sync, 2 drift
//! found, 1 when it cannot tell (an error, or resources it could not read).

use eksaudit_plan::drift::{DriftReport, Verdict};
use eksaudit_plan::render::Colors;

use eksaudit_spec::Spec;

use crate::cli::DriftArgs;
use crate::commands::accounts::{self, AccountOutcome, AccountReport, Target};
use crate::commands::live::Discovered;
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

/// SNS's limits: subjects up to 100 ASCII characters, messages up to 256 KiB.
const SUBJECT_MAX: usize = 100;
const MESSAGE_MAX: usize = 256 * 1024;

fn subject(text: &str) -> String {
    let ascii: String = text.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect();
    if ascii.len() <= SUBJECT_MAX {
        ascii
    } else {
        format!("{}...", &ascii[..SUBJECT_MAX - 3])
    }
}

/// The alert: the summary line, the human report, then the JSON document for machines.
fn alert_message(report: &DriftReport) -> String {
    let human = report.text(Colors(false));
    let json = serde_json::to_string_pretty(&report.json()).expect("a JSON value serialises");
    let message = format!("{human}\n--- JSON ---\n{json}\n");
    if message.len() <= MESSAGE_MAX {
        return message;
    }
    // Too large for SNS: keep the summary and counts, point at the full report.
    let mut brief = report.json();
    brief["findings"] = serde_json::Value::Array(Vec::new());
    brief["findings_omitted"] = true.into();
    format!(
        "{}\n\nThe full report is too large for SNS; run `eksaudit drift` to see every finding.\n--- JSON ---\n{}\n",
        report.summary(),
        serde_json::to_string_pretty(&brief).expect("a JSON value serialises")
    )
}

async fn publish(
    live_aws: &eksaudit_aws::Aws,
    topic: &(String, String),
    subject_text: &str,
    message: &str,
) -> Result<(), String> {
    let (region, arn) = topic;
    match live_aws.publish(region, arn, &subject(subject_text), message).await {
        Ok(id) => {
            tracing::info!(message_id = %id, topic = %arn, "drift alert published");
            Ok(())
        }
        Err(e) => Err(format!("the drift alert could not be published to {arn}: {e}")),
    }
}

pub async fn run(args: &DriftArgs, settings: &GlobalSettings) -> ExitStatus {
    let spec = match super::load_spec(settings) {
        Ok(spec) => spec,
        Err(status) => return status,
    };
    // A bad topic is a usage error: say so before reading anything.
    let topic = match &args.notify_topic {
        Some(arn) => match eksaudit_spec::rules::sns_topic_arn(arn) {
            Ok(region) => Some((region, arn.clone())),
            Err(e) => {
                super::print_error(
                    settings,
                    &format!("--notify-topic: {} ({})", e.message, e.hint.unwrap_or_default()),
                );
                return ExitStatus::Error;
            }
        },
        None => None,
    };
    let topic = topic.as_ref();
    match accounts::members(&spec, settings).await {
        Err(message) => {
            super::print_error(settings, &message);
            // The scheduled check could not even list the accounts: worth an alert, from the caller's account.
            if let Some(topic) = topic {
                let caller = accounts::caller(&spec, settings).await;
                let text = format!("eksaudit drift could not run for pipeline {:?}: {message}", spec.pipeline.name);
                let subject = format!("eksaudit drift: {} could not be checked", spec.pipeline.name);
                if let Err(e) = publish(&caller.aws, topic, &subject, &text).await {
                    super::print_error(settings, &e);
                }
            }
            ExitStatus::Error
        }
        Ok(None) => {
            let target = accounts::caller(&spec, settings).await;
            let publisher = target.aws.clone();
            let report = account(&spec, target, &publisher, topic, args, settings).await;
            accounts::print_single(report, args.json, settings)
        }
        Ok(Some(members)) => {
            // Alerts go from the caller's account, where the topic is, one per member account that drifted.
            let publisher = &members.caller;
            let results =
                members.each(&spec, |_, target| account(&spec, target, publisher, topic, args, settings)).await;
            // An account whose role could not be assumed was not checked at all: its alert says so.
            if let Some(topic) = topic {
                for (id, outcome) in &results {
                    let AccountOutcome::NotChecked(why) = outcome else { continue };
                    let text = format!(
                        "eksaudit drift could not check account {id} for pipeline {:?}: {why}",
                        spec.pipeline.name
                    );
                    let subject = format!("eksaudit drift: {} could not be checked in {id}", spec.pipeline.name);
                    if let Err(e) = publish(publisher, topic, &subject, &text).await {
                        super::print_error(settings, &format!("[{id}] {e}"));
                    }
                }
            }
            accounts::print_grouped("drift", &results, args.json, settings)
        }
    }
}

/// One account's drift check, and its alert when `--notify-topic` asks.
async fn account(
    spec: &Spec,
    target: Target,
    publisher: &eksaudit_aws::Aws,
    topic: Option<&(String, String)>,
    args: &DriftArgs,
    settings: &GlobalSettings,
) -> AccountReport {
    let account_id = target.expected_account.clone().unwrap_or_default();
    let discovered = match Discovered::new(spec, &target).await {
        Ok(discovered) => discovered,
        Err(err) => {
            let mut failed = AccountReport::failed(format!("drift check could not run: {err}"));
            if let Some(topic) = topic {
                // The scheduled check failing is itself worth an alert: nobody is watching otherwise.
                let text = format!("eksaudit drift could not run for pipeline {:?}: {err}", spec.pipeline.name);
                let subject = format!("eksaudit drift: {} could not be checked", spec.pipeline.name);
                let subject = if account_id.is_empty() { subject } else { format!("{subject} in {account_id}") };
                if let Err(e) = publish(publisher, topic, &subject, &text).await {
                    failed.error = Some(format!("{}; {e}", failed.error.unwrap_or_default()));
                }
            }
            return failed;
        }
    };
    // The same reads as `eksaudit status`, for the clusters the desired state selected, alongside the
    // configuration's: no read of one needs the other's answer, and they draw on different quota buckets
    // (DescribeLogStreams against DescribeSubscriptionFilters), so drift takes the longer of the two, not the sum.
    let delivery = async {
        if args.config_only {
            return None;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let clusters = &discovered.desired.matched_clusters;
        Some(eksaudit_aws::health(&discovered.regions, spec, &discovered.account, clusters, now, args.since).await)
    };
    let (live, readings) = futures::join!(discovered.clone().observe(spec), delivery);
    let plan = live.plan(spec);
    let mut report = DriftReport::new(&plan, &spec.drift.ignore, eksaudit_aws::now_rfc3339());
    if let Some(readings) = readings {
        report = report.with_delivery(&eksaudit_plan::health::assess(readings), &spec.drift.ignore);
    }
    let text = report.text(Colors(settings.color_stdout));
    let verdict = report.verdict();
    let mut error = None;
    if let Some(topic) = topic {
        if verdict != Verdict::InSync || args.notify_in_sync {
            let c = report.counts();
            let n = report.counted() + c.not_checked;
            let subject_text = match verdict {
                Verdict::InSync => format!("eksaudit drift: {} in {} is in sync", report.pipeline, report.account),
                Verdict::Drift => {
                    format!("eksaudit drift: {} finding(s) for {} in {}", n, report.pipeline, report.account)
                }
                Verdict::Unknown => {
                    format!("eksaudit drift: {} in {} could not be fully checked", report.pipeline, report.account)
                }
            };
            if let Err(e) = publish(publisher, topic, &subject_text, &alert_message(&report)).await {
                error = Some(e);
            }
        }
    }
    let status = match verdict {
        _ if error.is_some() => ExitStatus::Error,
        Verdict::InSync => ExitStatus::Success,
        Verdict::Drift => ExitStatus::Changes,
        Verdict::Unknown => ExitStatus::Error,
    };
    AccountReport { text, json: report.json(), error, changes: verdict == Verdict::Drift, status }
}
