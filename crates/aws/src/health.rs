//! `eksaudit status`'s reads: every link of each region's delivery chain, read-only and concurrently (regions in
//! parallel, a region's links in parallel, one batched GetMetricData per 500 metrics). The plan crate judges them
//! (`eksaudit_plan::health`).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_types::DateTime;
use eksaudit_plan::health::{
    ClusterReadings, ConsumerReadings, ErrorLine, FailedAlerts, Metric, NewestObject, Reading, Readings, RegionLinks,
    RegionReadings,
};
use eksaudit_plan::kinds::stream::FIREHOSE_ERROR_LOG_STREAM;
use eksaudit_plan::Names;
use eksaudit_spec::{log_group_name, Notify, Spec};
use futures::future::join_all;

use crate::shared::{optional, reason, Call, Named};
use crate::{Error, RegionClients};

/// GetMetricData's limit of queries per call.
const QUERIES_PER_CALL: usize = 500;
/// Pages of ListObjectsV2 (1,000 keys each) read for the newest object: a bound on a busy bucket.
const OBJECT_PAGES: usize = 20;
/// The audit log streams EKS writes into a cluster's log group.
const AUDIT_STREAM_PREFIX: &str = "kube-apiserver-audit";

/// What one metric query asks for.
struct Query {
    namespace: &'static str,
    name: &'static str,
    dimensions: Vec<(&'static str, String)>,
    stat: &'static str,
}

impl Query {
    fn new(
        namespace: &'static str,
        name: &'static str,
        dimensions: Vec<(&'static str, String)>,
        stat: &'static str,
    ) -> Query {
        Query { namespace, name, dimensions, stat }
    }
}

/// The window's one value of each query (the sum of sums, the least minimum, the greatest maximum), in order;
/// `None` where CloudWatch has no datapoint.
async fn metrics(c: &RegionClients, queries: &[Query], start: i64, end: i64) -> Result<Vec<Option<f64>>, Error> {
    let period = ((end - start).max(60) as i32 + 59) / 60 * 60;
    let mut values: Vec<Option<f64>> = vec![None; queries.len()];
    for (batch, chunk) in queries.chunks(QUERIES_PER_CALL).enumerate() {
        let mut request =
            c.cloudwatch.get_metric_data().start_time(DateTime::from_secs(start)).end_time(DateTime::from_secs(end));
        for (i, q) in chunk.iter().enumerate() {
            let mut metric = CwMetric::builder().namespace(q.namespace).metric_name(q.name);
            for (name, value) in &q.dimensions {
                metric = metric.dimensions(Dimension::builder().name(*name).value(value).build());
            }
            let stat = MetricStat::builder().metric(metric.build()).period(period).stat(q.stat).build();
            request = request.metric_data_queries(
                MetricDataQuery::builder().id(format!("m{}", batch * QUERIES_PER_CALL + i)).metric_stat(stat).build(),
            );
        }
        let mut token: Option<String> = None;
        loop {
            let out = request
                .clone()
                .set_next_token(token.clone())
                .send()
                .call("cloudwatch:GetMetricData", &c.region)
                .await?;
            for result in out.metric_data_results() {
                let Some(index) = result.id().and_then(|id| id.strip_prefix('m')).and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                let Some(q) = queries.get(index) else { continue };
                for v in result.values() {
                    let slot = &mut values[index];
                    *slot = Some(match (q.stat, *slot) {
                        (_, None) => *v,
                        ("Sum", Some(s)) => s + v,
                        ("Minimum", Some(s)) => s.min(*v),
                        (_, Some(s)) => s.max(*v),
                    });
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(values)
}

/// The last ingestion into the cluster's audit streams (`None`: no log group or no audit stream yet).
async fn last_event(c: &RegionClients, log_group: &str) -> Result<Option<i64>, Error> {
    let mut pages = c
        .logs
        .describe_log_streams()
        .log_group_name(log_group)
        .log_stream_name_prefix(AUDIT_STREAM_PREFIX)
        .into_paginator()
        .send();
    let mut last: Option<i64> = None;
    while let Some(page) = pages.next().await {
        let Some(page) = optional(page.named("logs:DescribeLogStreams", log_group))? else { return Ok(None) };
        for s in page.log_streams() {
            if let Some(t) = s.last_ingestion_time().or(s.last_event_timestamp()) {
                last = Some(last.map_or(t / 1000, |l| l.max(t / 1000)));
            }
        }
    }
    Ok(last)
}

/// The stream's delivery errors since `start`, newest last, as Firehose wrote them.
async fn error_lines(c: &RegionClients, log_group: &str, start: i64) -> Result<Vec<ErrorLine>, Error> {
    let out = optional(
        c.logs
            .get_log_events()
            .log_group_name(log_group)
            .log_stream_name(FIREHOSE_ERROR_LOG_STREAM)
            .start_time(start * 1000)
            .start_from_head(false)
            .limit(20)
            .send()
            .call("logs:GetLogEvents", log_group)
            .await,
    )?;
    Ok(out
        .map(|o| {
            o.events()
                .iter()
                .map(|e| ErrorLine {
                    time: e.timestamp().unwrap_or_default() / 1000,
                    message: e.message().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Firehose writes `prefix/YYYY/MM/DD/HH/`: the listing starts at the hour `start` falls in.
fn start_after(prefix: &str, start: i64) -> String {
    let t = eksaudit_plan::health::rfc3339(start);
    format!("{prefix}{}/{}/{}/{}", &t[0..4], &t[5..7], &t[8..10], &t[11..13])
}

/// The newest object under the prefix written since `start` (a bounded listing).
async fn newest_object(
    c: &RegionClients,
    bucket: &str,
    prefix: &str,
    start: i64,
) -> Result<Option<NewestObject>, Error> {
    let mut pages =
        c.s3.list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .start_after(start_after(prefix, start))
            .into_paginator()
            .send();
    let mut newest: Option<NewestObject> = None;
    let mut read = 0;
    while let Some(page) = pages.next().await {
        let page = page.named("s3:ListObjectsV2", bucket)?;
        for o in page.contents() {
            let time = o.last_modified().map_or(0, DateTime::secs);
            if newest.as_ref().is_none_or(|n| time >= n.time) {
                newest = Some(NewestObject { key: o.key().unwrap_or_default().to_string(), time });
            }
        }
        read += 1;
        if read == OBJECT_PAGES {
            break;
        }
    }
    Ok(newest)
}

/// A queue's ApproximateNumberOfMessages.
async fn depth(c: &RegionClients, queue: &str) -> Result<u64, Error> {
    let url = c.sqs.get_queue_url().queue_name(queue).send().call("sqs:GetQueueUrl", queue).await?;
    let out = c
        .sqs
        .get_queue_attributes()
        .queue_url(url.queue_url().unwrap_or_default())
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .call("sqs:GetQueueAttributes", queue)
        .await?;
    Ok(out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default())
}

fn reading<T>(r: Result<T, Error>) -> Reading<T> {
    r.map_or_else(|e| Reading::failed(reason(&e)), Reading::Read)
}

async fn region(
    c: &RegionClients,
    spec: &Spec,
    account: &str,
    clusters: &[String],
    now: i64,
    since: u64,
) -> RegionReadings {
    let n = Names::new(spec, account);
    let start = now - since as i64;
    let stream = spec.stream_name();
    let bucket = n.bucket(&c.region);
    let prefix = n.prefix();
    let error_log_group = n.firehose_log_group();
    let sqs = spec.consumer.notify == Notify::Sqs;
    let (queue, dead_letter_queue, topic) = (spec.queue_name(), spec.dead_letter_queue_name(), spec.topic_name());

    // Every metric of the region in one batch: the stream's, the consumer's, then three per cluster.
    let firehose = |name| Query::new("AWS/Firehose", name, vec![("DeliveryStreamName", stream.clone())], "Sum");
    let mut queries = vec![
        firehose("IncomingRecords"),
        Query { stat: "Minimum", ..firehose("DeliveryToS3.Success") },
        Query { stat: "Maximum", ..firehose("DeliveryToS3.DataFreshness") },
        if sqs {
            Query::new("AWS/SQS", "ApproximateAgeOfOldestMessage", vec![("QueueName", queue.clone())], "Maximum")
        } else {
            Query::new("AWS/SNS", "NumberOfNotificationsFailed", vec![("TopicName", topic.clone())], "Sum")
        },
    ];
    for cluster in clusters {
        for name in ["ForwardedLogEvents", "DeliveryErrors", "DeliveryThrottling"] {
            let dimensions = vec![
                ("LogGroupName", log_group_name(cluster)),
                ("DestinationType", "Firehose".to_string()),
                ("FilterName", spec.filter_name()),
            ];
            queries.push(Query::new("AWS/Logs", name, dimensions, "Sum"));
        }
    }
    // `[alerts]`: the age of the oldest alert the function failed to publish, last.
    let failed_alerts_queue = spec.alerts.as_ref().map(|_| spec.alerts_dead_letter_queue_name());
    let failed_alerts_age = failed_alerts_queue.as_ref().map(|q| {
        queries.push(Query::new("AWS/SQS", "ApproximateAgeOfOldestMessage", vec![("QueueName", q.clone())], "Maximum"));
        queries.len() - 1
    });
    // The window ends a minute ahead: `now` is whole seconds, and a datapoint of this very second counts.
    let metric_reads = metrics(c, &queries, start, now + 60);
    let events = join_all(clusters.iter().map(|cluster| async move { last_event(c, &log_group_name(cluster)).await }));
    let consumer_depths = async {
        if sqs {
            futures::join!(depth(c, &queue), depth(c, &dead_letter_queue))
        } else {
            (Ok(0), Ok(0))
        }
    };
    let failed_alerts_depth = async {
        match &failed_alerts_queue {
            Some(q) => Some(depth(c, q).await),
            None => None,
        }
    };
    let (metric_values, events, errors, newest, (waiting, dead_letter), failed_alerts_waiting) = futures::join!(
        metric_reads,
        events,
        error_lines(c, &error_log_group, start),
        newest_object(c, &bucket, &prefix, start),
        consumer_depths,
        failed_alerts_depth
    );
    let metric = |i: usize| -> Metric {
        match &metric_values {
            Ok(v) => Reading::Read(v[i]),
            Err(e) => Reading::failed(reason(e)),
        }
    };
    let consumer = if sqs {
        ConsumerReadings::Sqs {
            queue,
            waiting: reading(waiting),
            oldest_age_seconds: metric(3),
            dead_letter_queue,
            dead_letter_depth: reading(dead_letter),
        }
    } else {
        ConsumerReadings::Sns { topic, failed: metric(3) }
    };
    let clusters = clusters
        .iter()
        .zip(events)
        .enumerate()
        .map(|(i, (cluster, last))| ClusterReadings {
            cluster: cluster.clone(),
            log_group: log_group_name(cluster),
            last_event: reading(last),
            forwarded: metric(4 + 3 * i),
            delivery_errors: metric(5 + 3 * i),
            throttled: metric(6 + 3 * i),
        })
        .collect();
    RegionReadings {
        links: RegionLinks {
            region: c.region.clone(),
            stream,
            incoming_records: metric(0),
            delivery_success: metric(1),
            data_freshness_seconds: metric(2),
            error_log_group,
            errors: reading(errors),
            bucket,
            prefix,
            newest_object: reading(newest),
            consumer,
            failed_alerts: failed_alerts_queue.zip(failed_alerts_waiting).zip(failed_alerts_age).map(
                |((queue, waiting), age)| FailedAlerts {
                    queue,
                    waiting: reading(waiting),
                    oldest_age_seconds: metric(age),
                },
            ),
        },
        clusters,
    }
}

/// Reads every region's chain for the selected clusters (`clusters`: per region, as the desired state matched
/// them), the window being the `since` seconds before `now`.
pub async fn health(
    regions: &BTreeMap<String, RegionClients>,
    spec: &Spec,
    account: &str,
    clusters: &BTreeMap<String, Vec<String>>,
    now: i64,
    since: u64,
) -> Readings {
    let selected = |r: &str| clusters.get(r).map(Vec::as_slice).unwrap_or_default();
    // Across member accounts a region without a selected cluster has no pipeline (`DesiredState::build`): nothing
    // to read there, and reading would only find it missing.
    let (read, without_clusters): (Vec<_>, Vec<_>) = spec
        .regions
        .iter()
        .filter_map(|r| regions.get(&r.name))
        .partition(|c| spec.accounts.is_none() || !selected(&c.region).is_empty());
    let reads = read.into_iter().map(|c| region(c, spec, account, selected(&c.region), now, since));
    Readings {
        now,
        since_seconds: since,
        max_delivery_lag_seconds: u64::from(spec.max_delivery_lag_seconds()),
        regions: join_all(reads).await,
        without_clusters: without_clusters.into_iter().map(|c| c.region.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listing_starts_at_the_hour_of_the_window() {
        assert_eq!(super::start_after("eks-audit-logs/", 1_795_420_800 - 90), "eks-audit-logs/2026/11/23/07");
    }
}
