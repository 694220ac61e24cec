//! `eksaudit drift`: the scheduled, read-only check. Reads live AWS exactly as plan does, and (unless
//! `--config-only`) the delivery chain as `eksaudit status` does, reports every finding (missing, changed,
//! unmanaged, blocked, delivery, not checked), and optionally publishes an alert to SNS. Exit 0 in sync, 2 drift
//! found, 1 when it cannot tell (an error, or resources it could not read).

use eksaudit_plan::drift::{DriftReport, Verdict};
use eksaudit_plan::render::Colors;

use crate::cli::DriftArgs;
use crate::commands::live::Live;
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

async fn publish(live_aws: &eksaudit_aws::Aws, topic: &(String, String), subject_text: &str, message: &str) -> bool {
    let (region, arn) = topic;
    match live_aws.publish(region, arn, &subject(subject_text), message).await {
        Ok(id) => {
            tracing::info!(message_id = %id, topic = %arn, "drift alert published");
            true
        }
        Err(e) => {
            eprintln!("error: the drift alert could not be published to {arn}: {e}");
            false
        }
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
    let live = match Live::read(&spec, settings).await {
        Ok(live) => live,
        Err(err) => {
            super::print_error(settings, &format!("drift check could not run: {err}"));
            if let Some(topic) = &topic {
                // The scheduled check failing is itself worth an alert: nobody is watching otherwise.
                let aws = eksaudit_aws::Aws::connect(&settings.connection, &spec.regions[0].name).await;
                let text = format!("eksaudit drift could not run for pipeline {:?}: {err}", spec.pipeline.name);
                publish(&aws, topic, &format!("eksaudit drift: {} could not be checked", spec.pipeline.name), &text)
                    .await;
            }
            return ExitStatus::Error;
        }
    };
    let plan = live.plan(&spec);
    let mut report = DriftReport::new(&plan, &spec.drift.ignore, eksaudit_aws::now_rfc3339());
    if !args.config_only {
        // The same reads as `eksaudit status`, for the clusters the desired state selected.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let clusters = &live.desired.matched_clusters;
        let readings = eksaudit_aws::health(&live.regions, &spec, &live.account, clusters, now, args.since).await;
        report = report.with_delivery(&eksaudit_plan::health::assess(readings), &spec.drift.ignore);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json()).expect("a JSON value serialises"));
    } else {
        print!("{}", report.text(Colors(settings.color_stdout)));
    }
    let verdict = report.verdict();
    let mut published_ok = true;
    if let Some(topic) = &topic {
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
            published_ok = publish(&live.aws, topic, &subject_text, &alert_message(&report)).await;
        }
    }
    match verdict {
        _ if !published_ok => ExitStatus::Error,
        Verdict::InSync => ExitStatus::Success,
        Verdict::Drift => ExitStatus::Changes,
        Verdict::Unknown => ExitStatus::Error,
    }
}
