//! Under AWS's request-rate quotas (the recorder's quota model: a token bucket per account, region and
//! operation, answering over-quota calls with the service's throttling error), apply, plan and drift finish
//! with every resource checked and nothing failed: eksaudit paces itself by the same table, and what is
//! throttled anyway (a tighter account) is retried, never reported as `not_checked`.

use std::time::{Duration, Instant};

use eksaudit_test_support::Moto;

use crate::calls::spec;
use crate::support::{run, Workdir};

const CLUSTERS: usize = 10;

async fn setup() -> (Moto, Workdir) {
    let moto = Moto::start();
    for region in ["eu-central-1", "us-east-1"] {
        for i in 0..CLUSTERS {
            moto.create_cluster(region, &format!("prod-{i}"), true).await;
        }
    }
    (moto, Workdir::with_spec(&spec()))
}

#[tokio::test]
async fn apply_plan_and_drift_stay_within_aws_quotas() {
    let (moto, w) = setup().await;
    let recorder = moto.recorder();
    recorder.enable_quotas(1.0);

    let start = Instant::now();
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());
    assert!(out.stderr().contains("Apply complete!"), "{}", out.stderr());
    let apply_throttled = recorder.throttled();
    let mut calls = recorder.calls().len();

    recorder.reset();
    let plan = run(&moto, &w, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code(), 0, "in sync: {}\n{}", plan.stdout(), plan.stderr());
    let plan_throttled = recorder.throttled();
    calls += recorder.calls().len();

    recorder.reset();
    let drift = run(&moto, &w, &["drift", "--json"]);
    assert_eq!(drift.code(), 0, "{}\n{}", drift.stdout(), drift.stderr());
    let doc = drift.json();
    assert_eq!(doc["counts"]["not_checked"], 0, "{doc:#}");
    assert!(recorder.writes().is_empty());
    calls += recorder.calls().len();
    // Paced by the same table the model enforces: only stray throttles from timing at a bucket's edge, which a
    // loaded machine makes more of (requests paced apart on the client can reach the proxy bunched): at most 3,
    // plus 1 in 100 calls.
    let total = apply_throttled + plan_throttled + recorder.throttled();
    assert!(
        total <= 3 + calls / 100,
        "throttled {apply_throttled} (apply), {plan_throttled} (plan), {} (drift) of {calls} calls",
        recorder.throttled()
    );
    assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
}

#[tokio::test]
async fn a_drift_under_heavy_throttling_still_ends_with_a_true_verdict() {
    let (moto, w) = setup().await;
    let recorder = moto.recorder();
    let out = run(&moto, &w, &["apply", "--auto-approve"]);
    assert_eq!(out.code(), 0, "{}\n{}", out.stdout(), out.stderr());

    // An account far tighter than AWS's defaults (two fifths of them: other tools share them): eksaudit's
    // own pacing overruns it, is throttled, slows down and retries until every read is answered.
    recorder.enable_quotas(0.4);
    recorder.reset();
    let start = Instant::now();
    // Without -v: a slowed run says so to whoever watches it (standard error; the report is on standard output).
    let drift = run(&moto, &w, &["drift", "--json"]);
    assert!(recorder.throttled() > 0, "the quota model throttled nothing: the test tests nothing");
    assert_eq!(drift.code(), 0, "in sync, not a false alarm:\n{}\n{}", drift.stdout(), drift.stderr());
    let doc = drift.json();
    assert_eq!(doc["counts"]["not_checked"], 0, "{doc:#}");
    assert!(
        drift.stderr().lines().any(|l| l.starts_with("  throttled by ") && l.ends_with(", waiting…")),
        "a slowed run says so: {}",
        drift.stderr()
    );
    // Slowed, not stuck: well inside the ten minutes throttling is retried for (`pace::THROTTLE_BUDGET`). drift
    // also reads delivery health (a DescribeLogStreams per cluster, in CloudWatch Logs' read class, here at two
    // fifths of 5 a second), alongside the configuration reads, whose buckets are others: 56 s on a loaded 2-core
    // machine (debug build), about the configuration reads' own time (45 s), where reading one after the other
    // took 110 s. The bound leaves room for the machine, not for the sum.
    assert!(start.elapsed() < Duration::from_secs(120), "slowed, not stuck: {:?}", start.elapsed());
}

#[tokio::test]
async fn max_concurrency_caps_the_calls_in_flight_and_is_at_least_one() {
    let moto = Moto::start();
    for i in 0..6 {
        moto.create_cluster("eu-central-1", &format!("prod-{i}"), true).await;
    }
    let w = Workdir::with_spec(&crate::support::sns_spec(&[("eu-central-1", &["prod-*"])]));
    // Each answer takes long enough that calls sent together are held by the proxy together.
    moto.recorder().inject(eksaudit_test_support::Fault::latency("*", Duration::from_millis(100)));
    let recorder = moto.recorder();
    let mut plans = Vec::new();
    let mut peaks = Vec::new();
    for limit in [None, Some("1"), Some("3")] {
        recorder.reset();
        let mut args = vec!["plan", "--detailed-exitcode"];
        args.extend(limit.iter().flat_map(|n| ["--max-concurrency", n]));
        let out = run(&moto, &w, &args);
        assert_eq!(out.code(), 2, "{limit:?}: {}\n{}", out.stdout(), out.stderr());
        plans.push(out.stdout());
        peaks.push(recorder.peak_in_flight());
    }
    // The default (16) sends many at once; the limit is never passed, and the plan is the same.
    assert!(peaks[0] >= 6, "default: {peaks:?}");
    assert_eq!(peaks[1], 1, "--max-concurrency 1: {peaks:?}");
    assert!((2..=3).contains(&peaks[2]), "--max-concurrency 3: {peaks:?}");
    assert!(plans.iter().all(|p| *p == plans[0]), "{plans:#?}");

    // None at once would send nothing: refused with what to give, before any call.
    recorder.reset();
    for (bad, problem) in [("0", "must be at least 1"), ("many", "\"many\" is not a whole number of calls")] {
        let out = run(&moto, &w, &["plan", "--max-concurrency", bad]);
        assert_eq!(out.code(), 1, "{bad}: {}", out.stderr());
        let said = format!("invalid value '{bad}' for '--max-concurrency <N>': {problem}");
        assert!(out.stderr().contains(&said), "{bad}: {}", out.stderr());
    }
    assert!(recorder.calls().is_empty(), "{:?}", recorder.calls());
}

#[tokio::test]
async fn the_default_is_16_calls_in_flight_and_a_raised_limit_sends_more() {
    let moto = Moto::start();
    let regions = ["eu-central-1", "us-east-1", "us-west-2", "eu-west-1"];
    for region in regions {
        for i in 0..6 {
            moto.create_cluster(region, &format!("prod-{i}"), true).await;
        }
    }
    let globs: Vec<(&str, &[&str])> = regions.iter().map(|r| (*r, &["prod-*"][..])).collect();
    let w = Workdir::with_spec(&crate::support::sns_spec(&globs));
    // Long answers, so that what eksaudit sends together is held by the proxy together: the regions' reads,
    // each within its own quota buckets, would be far more than 16 at once.
    moto.recorder().inject(eksaudit_test_support::Fault::latency("*", Duration::from_millis(400)));
    let recorder = moto.recorder();
    let mut peaks = Vec::new();
    for limit in [None, Some("40")] {
        recorder.reset();
        let mut args = vec!["plan", "--detailed-exitcode"];
        args.extend(limit.iter().flat_map(|n| ["--max-concurrency", n]));
        let out = run(&moto, &w, &args);
        assert_eq!(out.code(), 2, "{limit:?}: {}\n{}", out.stdout(), out.stderr());
        peaks.push(recorder.peak_in_flight());
    }
    assert_eq!(peaks[0], 16, "default: {peaks:?}");
    assert!(peaks[1] > 16, "--max-concurrency 40: {peaks:?}");
}

#[tokio::test]
async fn a_throttled_run_says_so_on_standard_error_unless_quiet() {
    let moto = Moto::start();
    moto.create_cluster("us-east-1", "prod", true).await;
    let w = Workdir::with_spec(&crate::support::sns_spec(&[("us-east-1", &["prod"])]));
    let mut plans = Vec::new();
    for quiet in [false, true] {
        moto.recorder().inject(eksaudit_test_support::Fault::throttle("DescribeDeliveryStream").times(2));
        let args: &[&str] = if quiet { &["plan", "-q"] } else { &["plan"] };
        let out = run(&moto, &w, args);
        assert_eq!(out.code(), 0, "{quiet}: {}", out.stderr());
        let notice = out.stderr().lines().any(|l| l == "  throttled by Firehose in us-east-1, waiting…");
        assert_eq!(notice, !quiet, "-q {quiet}: {:?}", out.stderr());
        if quiet {
            assert_eq!(out.stderr(), "", "only errors with -q");
        }
        plans.push(out.stdout());
    }
    assert_eq!(plans[0], plans[1], "throttled or not, quiet or not: the same plan");
}
