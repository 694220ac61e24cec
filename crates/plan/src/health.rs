//! Are the audit logs arriving? The delivery chain of each region and cluster, as read (`eksaudit_aws::health`),
//! judged link by link into a verdict with the broken link named and a one-line fix, and the status report
//! (text and JSON). Pure: the readings come in with the time they were read at.
//!
//! The chain: a cluster's audit events (its log group's `kube-apiserver-audit-*` streams) → the subscription
//! filter (`AWS/Logs` `ForwardedLogEvents`, `DeliveryErrors`, `DeliveryThrottling`) → the region's Firehose stream
//! (`IncomingRecords`, `DeliveryToS3.Success`, `DeliveryToS3.DataFreshness`, its error log group) → the newest
//! object under the prefix → the consumer (SQS: messages waiting, the oldest's age, the dead-letter queue; SNS:
//! failed notifications).

use std::fmt::Write as _;

use serde::Serialize;

use crate::operation::{op, Operation};
use crate::palette;

/// The reads `eksaudit status` makes beyond discovery (the queues' are the queue kind's own reads).
pub const OPERATIONS: &[Operation] = &[
    op("cloudwatch", "GetMetricData", "cloudwatch:GetMetricData"),
    op("logs", "DescribeLogStreams", "logs:DescribeLogStreams"),
    op("logs", "GetLogEvents", "logs:GetLogEvents"),
    op("s3", "ListObjectsV2", "s3:ListBucket"),
];

/// The report's JSON format; bumped when a field changes meaning or goes.
pub const FORMAT_VERSION: &str = "1";

/// What one read gave: the value, or why it could not be read (never taken as healthy).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reading<T> {
    Read(T),
    Failed { error: String },
}

impl<T> Reading<T> {
    pub fn failed(error: impl Into<String>) -> Reading<T> {
        Reading::Failed { error: error.into() }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Reading::Read(_) => None,
            Reading::Failed { error } => Some(error),
        }
    }

    fn value(&self) -> Option<&T> {
        match self {
            Reading::Read(v) => Some(v),
            Reading::Failed { .. } => None,
        }
    }
}

/// A metric over the window: its sum (or maximum, for ages), `None` when CloudWatch has no datapoint.
pub type Metric = Reading<Option<f64>>;

/// One line of the stream's error log group, as Firehose wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorLine {
    /// Seconds since the epoch.
    pub time: i64,
    pub message: String,
}

/// The newest object under the prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewestObject {
    pub key: String,
    /// Seconds since the epoch (its LastModified).
    pub time: i64,
}

/// What the consumer side shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "notify", rename_all = "snake_case")]
pub enum ConsumerReadings {
    Sqs {
        queue: String,
        /// ApproximateNumberOfMessages.
        waiting: Reading<u64>,
        /// `ApproximateAgeOfOldestMessage` (AWS/SQS, maximum over the window), seconds.
        oldest_age_seconds: Metric,
        dead_letter_queue: String,
        /// The dead-letter queue's ApproximateNumberOfMessages.
        dead_letter_depth: Reading<u64>,
    },
    Sns {
        topic: String,
        /// `NumberOfNotificationsFailed` (AWS/SNS, sum over the window).
        failed: Metric,
    },
}

/// `[alerts]`: the alert function's dead-letter queue, where Lambda puts an alert it failed to publish.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedAlerts {
    pub queue: String,
    /// ApproximateNumberOfMessages.
    pub waiting: Reading<u64>,
    /// `ApproximateAgeOfOldestMessage` (AWS/SQS, maximum over the window), seconds: SQS gives no age through
    /// GetQueueAttributes.
    pub oldest_age_seconds: Metric,
}

/// A cluster's links, as read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterReadings {
    pub cluster: String,
    pub log_group: String,
    /// The last audit event ingested (seconds since the epoch) in its `kube-apiserver-audit-*` streams.
    pub last_event: Reading<Option<i64>>,
    pub forwarded: Metric,
    pub delivery_errors: Metric,
    pub throttled: Metric,
}

/// A region's own links, as read: its stream, bucket and consumer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionLinks {
    pub region: String,
    pub stream: String,
    pub incoming_records: Metric,
    /// `DeliveryToS3.Success`: the minimum over the window (1 when every put succeeded).
    pub delivery_success: Metric,
    /// `DeliveryToS3.DataFreshness`: the maximum over the window, seconds.
    pub data_freshness_seconds: Metric,
    pub error_log_group: String,
    /// The stream's error log lines in the window, newest last.
    pub errors: Reading<Vec<ErrorLine>>,
    pub bucket: String,
    pub prefix: String,
    pub newest_object: Reading<Option<NewestObject>>,
    pub consumer: ConsumerReadings,
    /// With `[alerts]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_alerts: Option<FailedAlerts>,
}

/// A region as read: its links and its clusters'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionReadings {
    #[serde(flatten)]
    pub links: RegionLinks,
    pub clusters: Vec<ClusterReadings>,
}

/// Everything `status` read, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readings {
    /// Seconds since the epoch.
    pub now: i64,
    /// The window looked at: metrics and error lines since `now - since_seconds`.
    pub since_seconds: u64,
    pub max_delivery_lag_seconds: u64,
    pub regions: Vec<RegionReadings>,
    /// The regions not read: across member accounts, where the account runs no selected cluster it has no
    /// pipeline (`DesiredState::build`), so there is no chain to read.
    pub without_clusters: Vec<String>,
}

/// How a region or cluster is doing, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No audit events to deliver in the window.
    Idle,
    Delivering,
    /// A read failed: it could not look, so it does not say healthy.
    NotChecked,
    /// Delivered, not being read.
    ConsumerLagging,
    /// Events arrive in the log group, nothing as new reached the bucket.
    Stale,
    /// Errors on a link.
    Failing,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Idle => "idle",
            Verdict::Delivering => "delivering",
            Verdict::NotChecked => "not_checked",
            Verdict::ConsumerLagging => "consumer_lagging",
            Verdict::Stale => "stale",
            Verdict::Failing => "failing",
        }
    }

    /// Whether something is known to be broken.
    pub fn is_broken(self) -> bool {
        matches!(self, Verdict::ConsumerLagging | Verdict::Stale | Verdict::Failing)
    }
}

/// A link of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    LogGroup,
    Filter,
    Stream,
    Bucket,
    Consumer,
    /// The alert function's dead-letter queue (`[alerts]`).
    Alerts,
}

/// A verdict and, unless all is well, the link it is about, why, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Judgement {
    fn new(verdict: Verdict, link: Option<Link>, reason: impl Into<String>, fix: Option<String>) -> Judgement {
        Judgement { verdict, link, reason: reason.into(), fix }
    }

    fn broken(verdict: Verdict, link: Link, reason: impl Into<String>, fix: impl Into<String>) -> Judgement {
        Judgement::new(verdict, Some(link), reason, Some(fix.into()))
    }

    fn not_checked(link: Link, what: &str, error: &str) -> Judgement {
        Judgement::new(
            Verdict::NotChecked,
            Some(link),
            format!("could not read {what}: {error}"),
            Some("grant the reads `eksaudit policy --for status` prints, then run status again".into()),
        )
    }
}

/// A cluster judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterHealth {
    #[serde(flatten)]
    pub readings: ClusterReadings,
    #[serde(flatten)]
    pub judgement: Judgement,
}

/// A region judged: its own links, and its clusters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionHealth {
    #[serde(flatten)]
    pub links: RegionLinks,
    #[serde(flatten)]
    pub judgement: Judgement,
    pub clusters: Vec<ClusterHealth>,
    /// The judgements of the region's own links (stream, consumer, failed alerts) that are not well, each once:
    /// what `drift` reports for the region beside its clusters' own links.
    #[serde(skip)]
    pub own_links: Vec<Judgement>,
}

/// The status report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub format_version: &'static str,
    pub now: i64,
    pub since_seconds: u64,
    pub max_delivery_lag_seconds: u64,
    pub verdict: Verdict,
    pub regions: Vec<RegionHealth>,
    /// The regions with no selected cluster in this member account, and so no pipeline: nothing to deliver.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub no_clusters: Vec<String>,
}

impl Health {
    /// The process exit code: 0 when everything is delivering or idle, 2 when anything is stale, failing or
    /// lagging (a known break outranks a link it could not read), 1 when it could not tell.
    pub fn exit_code(&self) -> i32 {
        match self.verdict {
            v if v.is_broken() => 2,
            Verdict::NotChecked => 1,
            _ => 0,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the health report serialises")
    }
}

/// The region's shared links (stream, bucket, consumer) as they concern a cluster with events to deliver.
struct Chain {
    /// The Firehose stream's judgement, when not well.
    stream: Option<Judgement>,
    consumer: Option<Judgement>,
    /// Alerts waiting in the function's dead-letter queue.
    alerts: Option<Judgement>,
}

fn positive(m: &Metric) -> Option<f64> {
    m.value().copied().flatten().filter(|v| *v > 0.0)
}

fn count(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn judge_stream(r: &RegionLinks, lag: u64) -> Option<Judgement> {
    let stream = &r.stream;
    let fix_access = format!(
        "check that the Firehose role may write to s3://{} (and use its KMS key): the error log {} says why",
        r.bucket, r.error_log_group
    );
    if let Reading::Read(errors) = &r.errors {
        if let Some(last) = errors.last() {
            let reason =
                format!("Firehose stream {stream} logged {} delivery error(s): {}", errors.len(), last.message);
            return Some(Judgement::broken(Verdict::Failing, Link::Stream, reason, fix_access));
        }
    }
    if let Some(Some(success)) = r.delivery_success.value() {
        if *success < 1.0 {
            let reason = format!("Firehose stream {stream}: DeliveryToS3.Success fell to {success:.2}");
            return Some(Judgement::broken(Verdict::Failing, Link::Stream, reason, fix_access));
        }
    }
    if let Some(Some(fresh)) = r.data_freshness_seconds.value() {
        if *fresh > lag as f64 {
            let reason = format!(
                "Firehose stream {stream}: its oldest record waited {}s (DeliveryToS3.DataFreshness), over the {lag}s allowed",
                count(*fresh)
            );
            return Some(Judgement::broken(Verdict::Stale, Link::Stream, reason, fix_access));
        }
    }
    for (what, m) in [
        ("its error log group", r.errors.error()),
        ("IncomingRecords", r.incoming_records.error()),
        ("DeliveryToS3.Success", r.delivery_success.error()),
        ("DeliveryToS3.DataFreshness", r.data_freshness_seconds.error()),
    ] {
        if let Some(e) = m {
            return Some(Judgement::not_checked(Link::Stream, &format!("{stream}'s {what}"), e));
        }
    }
    None
}

fn judge_consumer(c: &ConsumerReadings, lag: u64) -> Option<Judgement> {
    match c {
        ConsumerReadings::Sqs { queue, waiting, oldest_age_seconds, dead_letter_queue, dead_letter_depth } => {
            if let Some(Some(depth)) = dead_letter_depth.value().map(|d| (*d > 0).then_some(*d)) {
                return Some(Judgement::broken(
                    Verdict::ConsumerLagging,
                    Link::Consumer,
                    format!("{depth} message(s) in the dead-letter queue {dead_letter_queue}: the consumer failed to process them"),
                    format!("check the consumer's ingestion errors, then move the messages back with `aws sqs start-message-move-task` from {dead_letter_queue}"),
                ));
            }
            if let Some(age) = positive(oldest_age_seconds).filter(|a| *a > lag as f64) {
                let waiting = waiting.value().map_or(String::new(), |w| format!("{w} message(s) waiting, "));
                return Some(Judgement::broken(
                    Verdict::ConsumerLagging,
                    Link::Consumer,
                    format!("queue {queue}: {waiting}the oldest {}s old, over the {lag}s allowed: the consumer is not reading", count(age)),
                    "check that the consumer's connector is enabled and that its role may receive from the queue",
                ));
            }
            for (what, e) in [
                (format!("queue {queue}"), waiting.error()),
                (format!("queue {queue}'s ApproximateAgeOfOldestMessage"), oldest_age_seconds.error()),
                (format!("dead-letter queue {dead_letter_queue}"), dead_letter_depth.error()),
            ] {
                if let Some(e) = e {
                    return Some(Judgement::not_checked(Link::Consumer, &what, e));
                }
            }
            None
        }
        ConsumerReadings::Sns { topic, failed } => {
            if let Some(n) = positive(failed) {
                return Some(Judgement::broken(
                    Verdict::Failing,
                    Link::Consumer,
                    format!("topic {topic}: {} notification(s) failed (NumberOfNotificationsFailed)", count(n)),
                    "check the consumer's subscription to the topic (its endpoint and the topic policy)",
                ));
            }
            failed.error().map(|e| {
                Judgement::not_checked(Link::Consumer, &format!("topic {topic}'s NumberOfNotificationsFailed"), e)
            })
        }
    }
}

fn judge_failed_alerts(f: &FailedAlerts, now: i64) -> Option<Judgement> {
    let queue = &f.queue;
    match &f.waiting {
        Reading::Read(0) => None,
        Reading::Read(n) => {
            let oldest = match &f.oldest_age_seconds {
                Reading::Read(Some(age_seconds)) => {
                    let seconds = *age_seconds as i64;
                    format!(", the oldest {} old (since {})", age(seconds), rfc3339(now - seconds))
                }
                _ => ", the oldest's age unknown (no ApproximateAgeOfOldestMessage in the window)".into(),
            };
            Some(Judgement::broken(
                Verdict::Failing,
                Link::Alerts,
                format!("{n} alert(s) the alert function failed to publish wait in {queue}{oldest}"),
                format!(
                    "the function's log group says why the publish failed; once fixed, replay them from {queue} (README: \"Replaying failed alerts\")"
                ),
            ))
        }
        Reading::Failed { error } => Some(Judgement::not_checked(Link::Alerts, &format!("queue {queue}"), error)),
    }
}

fn judge_cluster(c: &ClusterReadings, r: &RegionLinks, chain: &Chain, now: i64, since: u64, lag: u64) -> Judgement {
    let filter = format!("the subscription filter on {}", c.log_group);
    if let Some(n) = positive(&c.delivery_errors) {
        return Judgement::broken(
            Verdict::Failing,
            Link::Filter,
            format!("{filter}: {} delivery error(s) to Firehose (DeliveryErrors)", count(n)),
            "check that the CloudWatch Logs role may put records to the stream, and that the stream is ACTIVE; `eksaudit drift` shows a changed role",
        );
    }
    if let Some(n) = positive(&c.throttled) {
        return Judgement::broken(
            Verdict::Failing,
            Link::Filter,
            format!("{filter}: {} delivery(ies) throttled by Firehose (DeliveryThrottling)", count(n)),
            format!(
                "raise the stream's quota or buffer more: Firehose stream {} is throttling the subscription",
                r.stream
            ),
        );
    }
    let last_event = match &c.last_event {
        Reading::Read(t) => *t,
        Reading::Failed { error } => {
            return Judgement::not_checked(Link::LogGroup, &format!("the audit streams of {}", c.log_group), error)
        }
    };
    let window_start = now - since as i64;
    let Some(event) = last_event.filter(|t| *t >= window_start) else {
        let reason = match last_event {
            Some(t) => format!(
                "no audit event in {} since {} (the last at {})",
                c.log_group,
                rfc3339(window_start),
                rfc3339(t)
            ),
            None => format!("no audit event in {} yet", c.log_group),
        };
        return Judgement::new(
            Verdict::Idle,
            Some(Link::LogGroup),
            reason,
            Some(
                "an idle cluster is fine; if it is not idle, check its audit logging (`eksaudit drift` shows it)"
                    .into(),
            ),
        );
    };
    for (what, e) in [
        ("ForwardedLogEvents", c.forwarded.error()),
        ("DeliveryErrors", c.delivery_errors.error()),
        ("DeliveryThrottling", c.throttled.error()),
    ] {
        if let Some(e) = e {
            return Judgement::not_checked(Link::Filter, &format!("{filter}'s {what}"), e);
        }
    }
    if let Some(j) = &chain.stream {
        if j.verdict != Verdict::NotChecked {
            return j.clone();
        }
    }
    let newest = match &r.newest_object {
        Reading::Read(o) => o.as_ref().map(|o| o.time),
        Reading::Failed { error } => {
            return Judgement::not_checked(
                Link::Bucket,
                &format!("the newest object under s3://{}/{}", r.bucket, r.prefix),
                error,
            )
        }
    };
    let overdue = |reason: String| {
        Judgement::broken(
            Verdict::Stale,
            Link::Bucket,
            reason,
            format!(
                "audit events reach {} but not s3://{}/{}: check the filter's destination and the stream's S3 destination (`eksaudit drift`)",
                c.log_group, r.bucket, r.prefix
            ),
        )
    };
    match newest {
        Some(object) if event - object > lag as i64 => {
            return overdue(format!(
                "the last audit event ({}) is {}s newer than the newest object under s3://{}/{} ({}), over the {lag}s allowed",
                rfc3339(event),
                event - object,
                r.bucket,
                r.prefix,
                rfc3339(object)
            ))
        }
        None if now - event > lag as i64 => {
            return overdue(format!(
                "audit events since {} but no object under s3://{}/{} in the window, over the {lag}s allowed",
                rfc3339(event),
                r.bucket,
                r.prefix
            ))
        }
        _ => {}
    }
    if let Some(j) = chain.stream.iter().chain(&chain.consumer).next() {
        return j.clone();
    }
    let forwarded = c.forwarded.value().copied().flatten();
    Judgement::new(
        Verdict::Delivering,
        None,
        match forwarded {
            Some(n) => format!("{} event(s) forwarded, the last audit event at {}", count(n), rfc3339(event)),
            None => format!("the last audit event at {}", rfc3339(event)),
        },
        None,
    )
}

/// Judges every region and cluster.
pub fn assess(readings: Readings) -> Health {
    let (now, since, lag) = (readings.now, readings.since_seconds, readings.max_delivery_lag_seconds);
    let mut regions = Vec::new();
    for r in readings.regions {
        let chain = Chain {
            stream: judge_stream(&r.links, lag),
            consumer: judge_consumer(&r.links.consumer, lag),
            alerts: r.links.failed_alerts.as_ref().and_then(|f| judge_failed_alerts(f, now)),
        };
        let clusters: Vec<ClusterHealth> = r
            .clusters
            .iter()
            .map(|c| ClusterHealth {
                readings: c.clone(),
                judgement: judge_cluster(c, &r.links, &chain, now, since, lag),
            })
            .collect();
        // The region: the worst of its clusters and of its own links (a failing stream or a full dead-letter
        // queue is broken even while every cluster is idle).
        let judgement = clusters
            .iter()
            .map(|c| &c.judgement)
            .chain(chain.stream.iter())
            .chain(chain.consumer.iter())
            .chain(chain.alerts.iter())
            .max_by_key(|j| j.verdict)
            .cloned()
            .map(|j| match j.verdict {
                Verdict::Idle => Judgement::new(Verdict::Idle, None, "no audit events to deliver in the window", None),
                Verdict::Delivering => Judgement::new(Verdict::Delivering, None, "audit events reach the bucket", None),
                _ => j,
            })
            .unwrap_or_else(|| Judgement::new(Verdict::Idle, None, "no cluster selected", None));
        let own_links = chain.stream.into_iter().chain(chain.consumer).chain(chain.alerts).collect();
        regions.push(RegionHealth { links: r.links, judgement, clusters, own_links });
    }
    let verdict = regions.iter().map(|r| r.judgement.verdict).max().unwrap_or(Verdict::Idle);
    Health {
        format_version: FORMAT_VERSION,
        now,
        since_seconds: since,
        max_delivery_lag_seconds: lag,
        verdict,
        regions,
        no_clusters: readings.without_clusters,
    }
}

/// Seconds since the epoch as RFC 3339 in UTC (`2026-11-23T12:00:00Z`).
pub fn rfc3339(t: i64) -> String {
    // Howard Hinnant's civil-from-days.
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// An age as people read it: `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn metric(m: &Metric) -> String {
    match m {
        Reading::Read(Some(v)) => count(*v),
        Reading::Read(None) => "-".into(),
        Reading::Failed { .. } => "?".into(),
    }
}

fn verdict_text(v: Verdict, color: bool) -> String {
    let style = match v {
        Verdict::Delivering => palette::GREEN,
        Verdict::Idle => palette::DIM,
        Verdict::NotChecked | Verdict::ConsumerLagging | Verdict::Stale => palette::BOLD_YELLOW,
        Verdict::Failing => palette::BOLD_RED,
    };
    palette::paint(color, style, v.as_str())
}

fn judgement_lines(out: &mut String, j: &Judgement, indent: &str, color: bool) {
    if j.verdict.is_broken() || j.verdict == Verdict::NotChecked {
        let _ = writeln!(out, "{indent}  {}", j.reason);
        if let Some(fix) = &j.fix {
            let _ = writeln!(out, "{indent}  {} {fix}", palette::paint(color, palette::CYAN, "fix:"));
        }
    }
}

/// The text report: per region its links, then per cluster its own, each with a time, and a summary line.
pub fn render_text(h: &Health, color: bool) -> String {
    let mut out = String::new();
    let now = h.now;
    let _ = writeln!(
        out,
        "Delivery status at {} (window {}, lag allowed {}s)",
        rfc3339(now),
        age(h.since_seconds as i64),
        h.max_delivery_lag_seconds
    );
    for r in &h.regions {
        let _ = writeln!(out, "\nRegion {}: {}", r.links.region, verdict_text(r.judgement.verdict, color));
        judgement_lines(&mut out, &r.judgement, "", color);
        let _ = writeln!(
            out,
            "  stream {:<28} in {}, DeliveryToS3.Success {}, freshness {}",
            r.links.stream,
            metric(&r.links.incoming_records),
            metric(&r.links.delivery_success),
            match &r.links.data_freshness_seconds {
                Reading::Read(Some(v)) => format!("{}s", count(*v)),
                other => metric(other),
            }
        );
        match &r.links.errors {
            Reading::Read(lines) if lines.is_empty() => {
                let _ = writeln!(out, "    error log {}: nothing in the window", r.links.error_log_group);
            }
            Reading::Read(lines) => {
                let _ = writeln!(out, "    error log {}:", r.links.error_log_group);
                for l in lines.iter().rev().take(3).rev() {
                    let _ = writeln!(out, "      {}  {}", rfc3339(l.time), l.message);
                }
            }
            Reading::Failed { error } => {
                let _ = writeln!(out, "    error log {}: not read ({error})", r.links.error_log_group);
            }
        }
        let newest = match &r.links.newest_object {
            Reading::Read(Some(o)) => format!("newest {} at {} ({} ago)", o.key, rfc3339(o.time), age(now - o.time)),
            Reading::Read(None) => format!("no object under {} in the window", r.links.prefix),
            Reading::Failed { error } => format!("not read ({error})"),
        };
        let _ = writeln!(out, "  bucket {:<28} {newest}", r.links.bucket);
        let consumer = match &r.links.consumer {
            ConsumerReadings::Sqs { queue, waiting, oldest_age_seconds, dead_letter_depth, .. } => format!(
                "queue  {queue:<28} {} waiting, oldest {}, dead-letter {}",
                waiting.value().map_or("?".into(), u64::to_string),
                match oldest_age_seconds {
                    Reading::Read(Some(v)) => age(*v as i64),
                    other => metric(other),
                },
                dead_letter_depth.value().map_or("?".into(), u64::to_string),
            ),
            ConsumerReadings::Sns { topic, failed } => {
                format!("topic  {topic:<28} {} failed notification(s)", metric(failed))
            }
        };
        let _ = writeln!(out, "  {consumer}");
        if let Some(f) = &r.links.failed_alerts {
            let _ = writeln!(
                out,
                "  alerts {:<28} {} failed alert(s) waiting, oldest {}",
                f.queue,
                f.waiting.value().map_or("?".into(), u64::to_string),
                match &f.oldest_age_seconds {
                    Reading::Read(Some(v)) => age(*v as i64),
                    other => metric(other),
                }
            );
        }
        for c in &r.clusters {
            let _ = writeln!(out, "  cluster {}: {}", c.readings.cluster, verdict_text(c.judgement.verdict, color));
            let last = match &c.readings.last_event {
                Reading::Read(Some(t)) => format!("last audit event {} ({} ago)", rfc3339(*t), age(now - t)),
                Reading::Read(None) => "no audit event yet".into(),
                Reading::Failed { error } => format!("not read ({error})"),
            };
            let _ = writeln!(out, "    log group {:<30} {last}", c.readings.log_group);
            let _ = writeln!(
                out,
                "    filter    forwarded {}, delivery errors {}, throttled {}",
                metric(&c.readings.forwarded),
                metric(&c.readings.delivery_errors),
                metric(&c.readings.throttled)
            );
            judgement_lines(&mut out, &c.judgement, "  ", color);
        }
    }
    for r in &h.no_clusters {
        let _ = writeln!(out, "\nRegion {r}: no clusters");
        let _ = writeln!(out, "  the account runs no selected cluster here, so it has no pipeline to read");
    }
    let mut counts: Vec<(Verdict, usize)> = Vec::new();
    for c in h.regions.iter().flat_map(|r| &r.clusters) {
        match counts.iter_mut().find(|(v, _)| *v == c.judgement.verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.judgement.verdict, 1)),
        }
    }
    counts.sort();
    let clusters: Vec<String> = counts.iter().map(|(v, n)| format!("{n} {}", v.as_str())).collect();
    let no_clusters =
        if h.no_clusters.is_empty() { String::new() } else { format!("; no clusters in {}", h.no_clusters.join(", ")) };
    let _ = writeln!(
        out,
        "\nStatus: {} ({} region(s); clusters: {}{no_clusters})",
        verdict_text(h.verdict, color),
        h.regions.len(),
        if clusters.is_empty() { "none".to_string() } else { clusters.join(", ") }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_420_800; // 2026-11-23T08:00:00Z
    const LAG: u64 = 600;

    fn cluster(name: &str, last_event: Option<i64>) -> ClusterReadings {
        ClusterReadings {
            cluster: name.into(),
            log_group: format!("/aws/eks/{name}/cluster"),
            last_event: Reading::Read(last_event),
            forwarded: Reading::Read(last_event.map(|_| 120.0)),
            delivery_errors: Reading::Read(None),
            throttled: Reading::Read(None),
        }
    }

    fn region(clusters: Vec<ClusterReadings>) -> RegionReadings {
        RegionReadings {
            links: RegionLinks {
                region: "eu-central-1".into(),
                stream: "eks-audit".into(),
                incoming_records: Reading::Read(Some(120.0)),
                delivery_success: Reading::Read(Some(1.0)),
                data_freshness_seconds: Reading::Read(Some(95.0)),
                error_log_group: "/aws/kinesisfirehose/eks-audit".into(),
                errors: Reading::Read(Vec::new()),
                bucket: "eks-audit-123456789012-eu-central-1".into(),
                prefix: "eks-audit-logs/".into(),
                newest_object: Reading::Read(Some(NewestObject {
                    key: "eks-audit-logs/2026/11/23/07/eks-audit-1-2026-11-23-07-55-00-abc".into(),
                    time: NOW - 300,
                })),
                consumer: ConsumerReadings::Sqs {
                    queue: "eks-audit".into(),
                    waiting: Reading::Read(2),
                    oldest_age_seconds: Reading::Read(Some(40.0)),
                    dead_letter_queue: "eks-audit-dlq".into(),
                    dead_letter_depth: Reading::Read(0),
                },
                failed_alerts: None,
            },
            clusters,
        }
    }

    fn assess_one(r: RegionReadings) -> Health {
        assess(Readings {
            now: NOW,
            since_seconds: 3600,
            max_delivery_lag_seconds: LAG,
            regions: vec![r],
            without_clusters: Vec::new(),
        })
    }

    fn healthy() -> RegionReadings {
        region(vec![cluster("prod-1", Some(NOW - 120)), cluster("stage-a", None)])
    }

    #[test]
    fn delivering_and_idle_exit_0() {
        let h = assess_one(healthy());
        assert_eq!(h.regions[0].clusters[0].judgement.verdict, Verdict::Delivering);
        assert_eq!(h.regions[0].clusters[1].judgement.verdict, Verdict::Idle);
        assert_eq!(
            (h.regions[0].judgement.verdict, h.verdict, h.exit_code()),
            (Verdict::Delivering, Verdict::Delivering, 0)
        );
        let idle = assess_one(region(vec![cluster("a", Some(NOW - 7200)), cluster("b", None)]));
        assert_eq!((idle.verdict, idle.exit_code()), (Verdict::Idle, 0));
        assert!(idle.regions[0].clusters[0].judgement.reason.contains("the last at 2026-11-23T06:00:00Z"));
    }

    #[test]
    fn events_newer_than_the_newest_object_by_more_than_the_lag_are_stale() {
        let mut r = healthy();
        r.clusters[0].last_event = Reading::Read(Some(NOW - 10));
        r.links.newest_object = Reading::Read(Some(NewestObject { key: "k".into(), time: NOW - 900 }));
        let h = assess_one(r);
        let c = &h.regions[0].clusters[0].judgement;
        assert_eq!((c.verdict, c.link), (Verdict::Stale, Some(Link::Bucket)));
        assert!(c.reason.contains("890s newer"), "{}", c.reason);
        assert_eq!((h.verdict, h.exit_code()), (Verdict::Stale, 2));

        // Within the lag: still in flight.
        let mut r = healthy();
        r.links.newest_object = Reading::Read(Some(NewestObject { key: "k".into(), time: NOW - 700 }));
        assert_eq!(assess_one(r).verdict, Verdict::Delivering);
        // No object at all: stale once the event is older than the lag, in flight before.
        let mut r = healthy();
        r.links.newest_object = Reading::Read(None);
        assert_eq!(assess_one(r.clone()).verdict, Verdict::Delivering);
        r.clusters[0].last_event = Reading::Read(Some(NOW - 1000));
        assert_eq!(assess_one(r).verdict, Verdict::Stale);
        // Firehose's own freshness over the lag.
        let mut r = healthy();
        r.links.data_freshness_seconds = Reading::Read(Some(1800.0));
        let h = assess_one(r);
        assert_eq!((h.verdict, h.regions[0].judgement.link), (Verdict::Stale, Some(Link::Stream)));
    }

    #[test]
    fn failed_alerts_waiting_are_failing_with_their_count_and_age() {
        let failed = |waiting: Reading<u64>, age: Metric| FailedAlerts {
            queue: "eks-audit-alerts-dlq".into(),
            waiting,
            oldest_age_seconds: age,
        };
        let mut r = healthy();
        r.links.failed_alerts = Some(failed(Reading::Read(0), Reading::Read(None)));
        assert_eq!(assess_one(r.clone()).verdict, Verdict::Delivering);

        r.links.failed_alerts = Some(failed(Reading::Read(3), Reading::Read(Some(7260.0))));
        let h = assess_one(r.clone());
        let j = &h.regions[0].judgement;
        assert_eq!((j.verdict, j.link, h.exit_code()), (Verdict::Failing, Some(Link::Alerts), 2));
        assert_eq!(
            j.reason,
            "3 alert(s) the alert function failed to publish wait in eks-audit-alerts-dlq, the oldest 2h 1m old (since 2026-11-23T05:59:00Z)"
        );
        assert!(j.fix.as_deref().unwrap().contains("Replaying failed alerts"));
        // The clusters' delivery is not the alerts': they keep their own verdicts.
        assert_eq!(h.regions[0].clusters[0].judgement.verdict, Verdict::Delivering);
        assert!(render_text(&h, false).contains("alerts eks-audit-alerts-dlq"));

        r.links.failed_alerts = Some(failed(Reading::failed("AccessDenied: not allowed"), Reading::Read(None)));
        let h = assess_one(r);
        assert_eq!((h.verdict, h.regions[0].judgement.link), (Verdict::NotChecked, Some(Link::Alerts)));
    }

    #[test]
    fn drift_reports_each_broken_link_once_as_a_delivery_finding() {
        use crate::drift::{delivery_findings, FindingKind};
        assert!(delivery_findings(&assess_one(healthy()), &[]).is_empty(), "delivering and idle: no finding");

        // A failing stream breaks the region and its cluster with events: one finding, on the stream.
        let mut r = healthy();
        let message = "Access was denied. Ensure that the access policy allows access to the S3 bucket.";
        r.links.errors = Reading::Read(vec![ErrorLine { time: NOW - 60, message: message.into() }]);
        r.clusters[1].delivery_errors = Reading::Read(Some(2.0));
        r.links.failed_alerts = Some(FailedAlerts {
            queue: "eks-audit-alerts-dlq".into(),
            waiting: Reading::Read(1),
            oldest_age_seconds: Reading::Read(Some(90.0)),
        });
        let findings = delivery_findings(&assess_one(r.clone()), &[]);
        let paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "region.eu-central-1.stream.delivery",
                "region.eu-central-1.alerts_dead_letter_queue.delivery",
                "region.eu-central-1.cluster.stage-a.filter.delivery"
            ]
        );
        assert!(findings.iter().all(|f| f.kind == FindingKind::Delivery && !f.fix.is_empty()));
        assert!(findings[0].detail.ends_with(message), "AWS's words: {}", findings[0].detail);
        assert_eq!(findings[0].actual, Some(serde_json::json!("failing")));
        assert!(findings[1].detail.starts_with("1 alert(s)"), "{}", findings[1].detail);

        // `[drift] ignore` applies, by the same paths.
        let ignored = delivery_findings(&assess_one(r), &["cluster.*.filter.delivery".into()]);
        assert_eq!(ignored.iter().filter(|f| f.ignored).count(), 1);

        // A read that failed: not_checked, never delivery.
        let mut r = healthy();
        r.clusters[0].forwarded = Reading::failed("AccessDenied");
        let findings = delivery_findings(&assess_one(r), &[]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, FindingKind::NotChecked);
    }

    #[test]
    fn errors_on_a_link_are_failing_with_aws_words_and_a_fix() {
        let mut r = healthy();
        let message = "Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose to assume the role, and the access policy allows access to the S3 bucket.";
        r.links.errors = Reading::Read(vec![ErrorLine { time: NOW - 60, message: message.into() }]);
        let h = assess_one(r);
        let j = &h.regions[0].judgement;
        assert_eq!((j.verdict, j.link), (Verdict::Failing, Some(Link::Stream)));
        assert!(j.reason.ends_with(message), "{}", j.reason);
        assert!(j.fix.as_deref().unwrap().contains("Firehose role"));
        assert_eq!(h.regions[0].clusters[0].judgement.verdict, Verdict::Failing);
        assert_eq!(h.regions[0].clusters[1].judgement.verdict, Verdict::Idle, "an idle cluster has nothing failing");
        assert_eq!(h.exit_code(), 2);

        let mut r = healthy();
        r.clusters[0].delivery_errors = Reading::Read(Some(3.0));
        let h = assess_one(r);
        let j = &h.regions[0].clusters[0].judgement;
        assert_eq!((j.verdict, j.link), (Verdict::Failing, Some(Link::Filter)));
        assert!(j.reason.contains("3 delivery error(s)"), "{}", j.reason);

        let mut r = healthy();
        r.clusters[0].throttled = Reading::Read(Some(2.0));
        assert_eq!(assess_one(r).regions[0].clusters[0].judgement.link, Some(Link::Filter));
        let mut r = healthy();
        r.links.delivery_success = Reading::Read(Some(0.5));
        assert_eq!(assess_one(r).verdict, Verdict::Failing);
        let mut r = healthy();
        r.links.consumer = ConsumerReadings::Sns { topic: "eks-audit".into(), failed: Reading::Read(Some(4.0)) };
        let h = assess_one(r);
        assert_eq!((h.verdict, h.regions[0].judgement.link), (Verdict::Failing, Some(Link::Consumer)));
    }

    #[test]
    fn an_unread_queue_or_a_dead_letter_is_consumer_lagging() {
        let mut r = healthy();
        if let ConsumerReadings::Sqs { oldest_age_seconds, .. } = &mut r.links.consumer {
            *oldest_age_seconds = Reading::Read(Some(3600.0));
        }
        let h = assess_one(r);
        assert_eq!(
            (h.verdict, h.regions[0].judgement.link, h.exit_code()),
            (Verdict::ConsumerLagging, Some(Link::Consumer), 2)
        );
        assert!(h.regions[0].judgement.reason.contains("2 message(s) waiting"), "{}", h.regions[0].judgement.reason);

        // A dead letter is broken even when every cluster is idle.
        let mut r = region(vec![cluster("a", None)]);
        if let ConsumerReadings::Sqs { dead_letter_depth, .. } = &mut r.links.consumer {
            *dead_letter_depth = Reading::Read(7);
        }
        let h = assess_one(r);
        assert_eq!(h.regions[0].clusters[0].judgement.verdict, Verdict::Idle);
        assert_eq!(h.verdict, Verdict::ConsumerLagging);
        assert!(h.regions[0].judgement.reason.starts_with("7 message(s) in the dead-letter queue eks-audit-dlq"));
    }

    #[test]
    fn a_failed_read_is_not_checked_never_healthy() {
        let denied = "access denied (cloudwatch:GetMetricData on eu-central-1: AccessDenied: not authorized)";
        let mut r = healthy();
        r.clusters[0].forwarded = Reading::failed(denied);
        r.links.incoming_records = Reading::failed(denied);
        let h = assess_one(r);
        let j = &h.regions[0].clusters[0].judgement;
        assert_eq!(j.verdict, Verdict::NotChecked);
        assert!(j.reason.contains(denied) && j.fix.as_deref().unwrap().contains("policy --for status"));
        assert_eq!((h.verdict, h.exit_code()), (Verdict::NotChecked, 1));

        let mut r = healthy();
        r.clusters[0].last_event = Reading::failed(denied);
        assert_eq!(assess_one(r).exit_code(), 1);
        let mut r = region(vec![cluster("a", None)]);
        r.links.newest_object = Reading::failed(denied);
        assert_eq!(assess_one(r).exit_code(), 0, "an idle cluster needs no bucket read");
        let mut r = healthy();
        r.links.newest_object = Reading::failed(denied);
        assert_eq!(assess_one(r).exit_code(), 1);

        // A known break outranks what could not be read.
        let mut r = healthy();
        r.clusters[1] = cluster("stage-a", Some(NOW - 60));
        r.clusters[1].delivery_errors = Reading::Read(Some(1.0));
        r.clusters[0].last_event = Reading::failed(denied);
        assert_eq!(assess_one(r).exit_code(), 2);
    }

    #[test]
    fn times_and_ages() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(NOW), "2026-11-23T08:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(
            (age(45), age(720), age(11_100), age(190_000)),
            ("45s".into(), "12m".into(), "3h 5m".into(), "2d 4h".into())
        );
    }

    #[test]
    fn text_report() {
        let mut broken = healthy();
        broken.links.region = "us-east-1".into();
        broken.links.bucket = "eks-audit-123456789012-us-east-1".into();
        broken.links.errors = Reading::Read(vec![ErrorLine {
            time: NOW - 60,
            message: "Access was denied. Ensure that the access policy allows access to the S3 bucket.".into(),
        }]);
        broken.links.delivery_success = Reading::Read(Some(0.0));
        broken.links.consumer = ConsumerReadings::Sns { topic: "eks-audit".into(), failed: Reading::Read(None) };
        let h = assess(Readings {
            now: NOW,
            since_seconds: 3600,
            max_delivery_lag_seconds: LAG,
            regions: vec![healthy(), broken],
            without_clusters: Vec::new(),
        });
        insta::assert_snapshot!(render_text(&h, false));
        let json: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
        assert_eq!(json["format_version"], "1");
        assert_eq!(json["regions"][1]["verdict"], "failing");
        assert_eq!(json["regions"][1]["link"], "stream");
        assert_eq!(json["regions"][0]["clusters"][0]["verdict"], "delivering");
        assert_eq!(json["regions"][0]["consumer"]["notify"], "sqs");
        assert!(json.get("no_clusters").is_none(), "a single account's report is unchanged: {json}");
    }

    #[test]
    fn a_member_region_without_clusters_is_reported_as_such_and_judged_by_nothing() {
        let h = assess(Readings {
            now: NOW,
            since_seconds: 3600,
            max_delivery_lag_seconds: LAG,
            regions: vec![healthy()],
            without_clusters: vec!["us-east-1".into()],
        });
        assert_eq!((h.verdict, h.exit_code()), (Verdict::Delivering, 0));
        let text = render_text(&h, false);
        assert!(text.contains("Region us-east-1: no clusters"), "{text}");
        assert!(text.contains("; no clusters in us-east-1)"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap();
        assert_eq!(json["no_clusters"], serde_json::json!(["us-east-1"]));
        assert_eq!(json["regions"].as_array().unwrap().len(), 1);
        // Nothing but the region without clusters: idle, exit 0.
        let none = assess(Readings {
            now: NOW,
            since_seconds: 3600,
            max_delivery_lag_seconds: LAG,
            regions: Vec::new(),
            without_clusters: vec!["us-east-1".into()],
        });
        assert_eq!((none.verdict, none.exit_code()), (Verdict::Idle, 0));
    }
}
