//! The plan-at-scale benchmark: moto behind the recording proxy with a fixed latency on every call, for regions ×
//! clusters; wall time and API calls of `plan` (empty account), `apply`, `plan` (in sync), `drift` (with its
//! delivery findings) and `status` (target: within 2× the in-sync plan's time).
//!
//! `bench EKSAUDIT_BINARY [--latency-ms 30] [--regions 1,4,8] [--clusters 1,10,50] [--quotas] [--accounts 20]`;
//! prints a Markdown table. `--quotas` turns on the recorder's quota model (AWS's default quotas,
//! `eksaudit_aws::quotas`) and prints beside each figure the quota bound: the largest, over regions and quota
//! buckets, of the run's calls ÷ the bucket's calls per second, the least time AWS lets the run take; and the ratio
//! of the wall time to it. Then plan across `--accounts` member accounts × 2 regions × 5 clusters against one
//! account of the same shape (`--accounts 0` skips it). `--timeline` prints to standard error, for each run, when
//! each region's operations were first and last called: where a run's time goes.
//! `scripts/bench.sh` builds a release binary, runs this and writes `bench/results.md`.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

use eksaudit_aws::quotas::{self, Bucket, Class};
use eksaudit_test_support::{classify, test_env, Fault, Moto, Request};

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-central-1",
    "eu-west-1",
    "ap-southeast-1",
    "ap-northeast-1",
];

fn spec(regions: usize) -> String {
    let mut s = String::from(
        "[pipeline]\nname = \"eks-audit\"\n\n[consumer]\naccount_id = \"434813966438\"\nexternal_id = \"external-id-1\"\nsqs_queue_arn = \"arn:aws:sqs:us-west-2:434813966438:queue\"\n",
    );
    for r in &REGIONS[..regions] {
        s.push_str(&format!("\n[[region]]\nname = \"{r}\"\nclusters = [\"*\"]\n"));
    }
    s
}

struct Measure {
    seconds: f64,
    calls: usize,
    writes: usize,
    code: i32,
    /// Answers the quota model throttled (counted among `calls`).
    throttled: usize,
    /// The quota bound in seconds, and the bucket that sets it.
    bound: (f64, String),
    /// What the quota bound leaves out of an apply, in seconds, and how it is made up (see `dependency_floor`).
    floor: (f64, String),
}

/// The credential scope's region and service of a SigV4-signed request.
fn scope(r: &Request) -> Option<(String, String)> {
    let credential = r.header("authorization")?.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let parts: Vec<&str> = credential.split('/').collect();
    Some((parts.get(2)?.to_string(), parts.get(3)?.to_string()))
}

/// A request's region, service and quota bucket as the recorder's quota model draws them, the bucket's calls a
/// second, and the operation when it is named (REST calls draw from their service's class bucket).
fn bucket_of(r: &Request) -> Option<(String, String, Bucket, f64, Option<String>)> {
    let (region, service) = scope(r)?;
    let call = classify(&r.method, &r.target, r.header("x-amz-target"), &r.body);
    let class = if call.write { Class::Write } else { Class::Read };
    let named = (!call.operation.contains(' ')).then_some(call.operation.as_str());
    let (bucket, quota) = quotas::quota(&service, named, class);
    let operation = named.map(str::to_string);
    Some((region, service, bucket, quota.per_second, operation))
}

/// The largest, over regions and quota buckets (as the recorder's quota model draws them), of calls ÷ quota.
/// Throttled attempts are calls too, so the bound is, if anything, generous to eksaudit by those.
fn quota_bound(requests: &[Request]) -> (f64, String) {
    let mut counts: HashMap<(String, String, Bucket), (usize, f64)> = HashMap::new();
    for r in requests {
        let Some((region, service, bucket, per_second, _)) = bucket_of(r) else { continue };
        counts.entry((region, service, bucket)).or_insert((0, per_second)).0 += 1;
    }
    counts
        .into_iter()
        .map(|((region, service, bucket), (n, per_second))| {
            (n as f64 / per_second, format!("{service} {bucket} in {region}: {n} calls at {per_second}/s"))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((0.0, String::new()))
}

/// The least time an apply can take given what must come first, which the quota bound (each bucket on its own)
/// leaves out: a plan is read whole before the first write (the largest bucket of the reads made before it), and a
/// region's subscription filters go out only once its stream exists, so after it at least that region's
/// PutSubscriptionFilter calls ÷ their quota. Zero parts for a run that writes no filter.
fn dependency_floor(requests: &[Request]) -> (f64, String) {
    let first_write = requests
        .iter()
        .position(|r| classify(&r.method, &r.target, r.header("x-amz-target"), &r.body).write)
        .unwrap_or(requests.len());
    let (read, read_bucket) = quota_bound(&requests[..first_write]);
    let mut filters: HashMap<String, usize> = HashMap::new();
    for r in requests {
        if let Some((region, _, _, _, Some(operation))) = bucket_of(r) {
            if operation == "PutSubscriptionFilter" {
                *filters.entry(region).or_default() += 1;
            }
        }
    }
    let per_second = quotas::quota("logs", Some("PutSubscriptionFilter"), Class::Write).1.per_second;
    let (region, n) = filters.into_iter().max_by_key(|(_, n)| *n).unwrap_or_default();
    let after = n as f64 / per_second;
    (
        read + after,
        format!(
            "the read before the first write {read:.2} s ({read_bucket}), then {n} PutSubscriptionFilter in {region} at {per_second}/s {after:.2} s"
        ),
    )
}

fn run(bin: &str, moto: &Moto, dir: &std::path::Path, args: &[&str]) -> Measure {
    moto.recorder().reset();
    let start = Instant::now();
    let out = Command::new(bin)
        .current_dir(dir)
        .args(args)
        .arg("--endpoint-url")
        .arg(moto.endpoint())
        .envs(test_env())
        .output()
        .expect("run eksaudit");
    let seconds = start.elapsed().as_secs_f64();
    let code = out.status.code().unwrap_or(-1);
    let calls = moto.recorder().calls();
    let requests = moto.recorder().requests();
    let bound = quota_bound(&requests);
    if std::env::args().any(|a| a == "--timeline") {
        timeline(args, start, &requests);
        eprintln!("  throttled: {:?}", moto.recorder().throttled_by());
    }
    let argv: Vec<String> = std::env::args().collect();
    if let Some(region) = argv.iter().position(|a| a == "--trace").and_then(|i| argv.get(i + 1)) {
        trace(args, start, &requests, region);
    }
    Measure {
        seconds,
        calls: calls.len(),
        writes: calls.iter().filter(|c| c.write).count(),
        code,
        throttled: moto.recorder().throttled(),
        bound,
        floor: dependency_floor(&requests),
    }
}

/// One bucket's calls in a run: how many, the first's and the last's time, and how many of each operation.
#[derive(Default)]
struct Span {
    calls: usize,
    first: f64,
    last: f64,
    operations: BTreeMap<String, usize>,
}

/// Per region and quota bucket (as `quota_bound` counts them): calls, and the first and last call's time since the
/// run started.
fn timeline(args: &[&str], start: Instant, requests: &[Request]) {
    let mut spans: HashMap<(String, String, String), Span> = HashMap::new();
    for r in requests {
        let Some((region, service, bucket, _, operation)) = bucket_of(r) else { continue };
        let at = r.at.saturating_duration_since(start).as_secs_f64();
        let span = spans.entry((region, service, bucket.to_string())).or_insert(Span {
            calls: 0,
            first: at,
            last: at,
            ..Default::default()
        });
        (span.calls, span.first, span.last) = (span.calls + 1, span.first.min(at), span.last.max(at));
        if let Some(operation) = operation {
            *span.operations.entry(operation).or_default() += 1;
        }
    }
    let mut spans: Vec<_> = spans.into_iter().collect();
    spans.sort_by(|a, b| a.1.first.total_cmp(&b.1.first));
    eprintln!("timeline of `{}`:", args.join(" "));
    for ((region, service, bucket), Span { calls: n, first, last, operations }) in spans {
        let operations: Vec<String> = operations.iter().map(|(o, n)| format!("{n} {o}")).collect();
        eprintln!(
            "  {first:6.2} s .. {last:6.2} s  {n:4} × {service} {bucket} in {region} ({})",
            operations.join(", ")
        );
    }
}

/// Every call of a run made in one region (and the global ones, IAM and STS, signed for us-east-1), in the order the
/// proxy received them: what waits for what.
fn trace(args: &[&str], start: Instant, requests: &[Request], region: &str) {
    eprintln!("calls of `{}` in {region}:", args.join(" "));
    for r in requests {
        let Some((at_region, service, bucket, _, _)) = bucket_of(r) else { continue };
        if at_region != region {
            continue;
        }
        let call = classify(&r.method, &r.target, r.header("x-amz-target"), &r.body);
        let at = r.at.saturating_duration_since(start).as_secs_f64();
        let kind = if call.write { "write" } else { "read " };
        eprintln!("  {at:6.2} s  {kind}  {service} {bucket}  {}", call.operation);
    }
}

fn list(arg: Option<&String>, default: &[usize]) -> Vec<usize> {
    arg.map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect()).unwrap_or_else(|| default.to_vec())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(bin) = args.get(1).filter(|a| !a.starts_with("--")) else {
        eprintln!("usage: bench EKSAUDIT_BINARY [--latency-ms 30] [--regions 1,4,8] [--clusters 1,10,50] [--quotas]");
        std::process::exit(1);
    };
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let latency = Duration::from_millis(flag("--latency-ms").and_then(|v| v.parse().ok()).unwrap_or(30));
    let regions = list(flag("--regions"), &[1, 4, 8]);
    let clusters = list(flag("--clusters"), &[1, 10, 50]);
    let with_quotas = args.iter().any(|a| a == "--quotas");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    println!("Latency added to every call: {} ms.\n", latency.as_millis());
    if with_quotas {
        println!(
            "Quota model on: AWS's default quotas per account, region and operation (`crates/aws/src/quotas.rs`)."
        );
        println!("Each figure: wall time (quota bound, ratio), calls, throttled answers.\n");
    }
    println!("| regions × clusters | resources | plan (empty) | apply | plan (in sync) | drift | status | in-sync reads per resource |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut bounds = Vec::new();
    let mut floors = Vec::new();
    let mut baseline = None;
    let mut largest = None;
    for &r in &regions {
        for &c in &clusters {
            let moto = Moto::start();
            runtime.block_on(async {
                for region in &REGIONS[..r] {
                    for i in 0..c {
                        moto.create_cluster(region, &format!("cluster-{i:02}"), true).await;
                    }
                }
            });
            moto.recorder().inject(Fault::latency("*", latency));
            if with_quotas {
                moto.recorder().enable_quotas(1.0);
            }
            let dir = tempfile_dir(r, c);
            std::fs::write(dir.join("eksaudit.toml"), spec(r)).expect("write spec");
            let empty = run(bin, &moto, &dir, &["plan"]);
            let apply = run(bin, &moto, &dir, &["apply", "--auto-approve"]);
            let in_sync = run(bin, &moto, &dir, &["plan", "--detailed-exitcode"]);
            let drift = run(bin, &moto, &dir, &["drift"]);
            let status = run(bin, &moto, &dir, &["status"]);
            assert_eq!(apply.code, 0, "apply failed at {r}×{c}");
            assert_eq!((in_sync.code, in_sync.writes), (0, 0), "not in sync after apply at {r}×{c}");
            assert_eq!(drift.code, 0, "drift at {r}×{c}");
            // Nothing was logged: every cluster idle.
            assert_eq!((status.code, status.writes), (0, 0), "status at {r}×{c}");
            // 3 roles; per region the bucket and its access-log bucket, the KMS key, topic, subscription,
            // notification, Firehose log group, stream; per cluster audit logging, log group, filter.
            let resources = 3 + r * 8 + r * c * 3;
            let cell = |m: &Measure| {
                if with_quotas {
                    format!(
                        "{:.2} s (bound {:.2} s, {:.2}×), {} calls, {} throttled",
                        m.seconds,
                        m.bound.0,
                        m.seconds / m.bound.0.max(1e-9),
                        m.calls,
                        m.throttled
                    )
                } else {
                    format!("{:.2} s, {} calls", m.seconds, m.calls)
                }
            };
            println!(
                "| {r} × {c} | {resources} | {} | {} | {} | {} | {} | {:.2} |",
                cell(&empty),
                cell(&apply),
                cell(&in_sync),
                cell(&drift),
                cell(&status),
                in_sync.calls as f64 / resources as f64
            );
            for (what, m) in [
                ("plan (empty)", &empty),
                ("apply", &apply),
                ("plan (in sync)", &in_sync),
                ("drift", &drift),
                ("status", &status),
            ] {
                bounds.push(format!("- {r} × {c} {what}: {}", m.bound.1));
            }
            floors.push(format!(
                "- {r} × {c}: {:.2} s ({}); apply took {:.2}× that",
                apply.floor.0,
                apply.floor.1,
                apply.seconds / apply.floor.0.max(1e-9)
            ));
            if baseline.is_none() {
                baseline = Some((empty.seconds, in_sync.seconds));
            }
            largest = Some((r, c, empty.seconds, in_sync.seconds, status.seconds));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if let (Some((base_empty, base_sync)), Some((r, c, empty, sync, status))) = (baseline, largest) {
        println!("\nplan at {r} regions × {c} clusters against the first row (no longer a target: paced, each cluster's filter read draws on CloudWatch Logs' 5 calls a second per region; the quota table holds the ratio to that bound):");
        println!("- empty account: {empty:.2} s / {base_empty:.2} s = {:.1}×", empty / base_empty);
        println!("- in sync: {sync:.2} s / {base_sync:.2} s = {:.1}×", sync / base_sync);
        println!("\nstatus at {r} regions × {c} clusters against the in-sync plan there (target: within 2×):");
        println!("- {status:.2} s / {sync:.2} s = {:.1}×", status / sync);
    }
    if with_quotas {
        println!("\nThe bucket that sets each bound:");
        for b in bounds {
            println!("{b}");
        }
        println!("\napply's dependency floor, which the bound leaves out (plan whole before the first write; a region's filters after its stream):");
        for f in floors {
            println!("{f}");
        }
    }
    let accounts = flag("--accounts").and_then(|v| v.parse().ok()).unwrap_or(20usize);
    if accounts > 0 {
        accounts_line(bin, &runtime, latency, accounts);
    }
}

/// `[accounts]` at scale: plan (empty accounts) for `n` member accounts × 2 regions × 5 clusters, against the
/// caller's one account of the same shape. The member accounts are listed by id (moto acts in any account a role
/// is assumed into), at most 10 at once (the default `max_concurrent_accounts`).
fn accounts_line(bin: &str, runtime: &tokio::runtime::Runtime, latency: Duration, n: usize) {
    const CLUSTERS: usize = 5;
    let regions = &REGIONS[..2];
    let ids: Vec<String> = (1..=n).map(|i| format!("{:012}", 100_000_000_000u64 + i as u64)).collect();
    let moto = Moto::start();
    runtime.block_on(async {
        for region in regions {
            for i in 0..CLUSTERS {
                moto.create_cluster(region, &format!("cluster-{i:02}"), true).await;
            }
        }
        for id in &ids {
            for region in regions {
                for i in 0..CLUSTERS {
                    moto.create_cluster_in(id, region, &format!("cluster-{i:02}"), true).await;
                }
            }
        }
    });
    moto.recorder().inject(Fault::latency("*", latency));
    let dir = tempfile_dir(2, 1000 + n);
    std::fs::write(dir.join("eksaudit.toml"), spec(2)).expect("write spec");
    let one = run(bin, &moto, &dir, &["plan"]);
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    let members = format!("{}\n[accounts]\nrole_name = \"eksaudit-member\"\nids = [{}]\n", spec(2), quoted.join(", "));
    std::fs::write(dir.join("eksaudit.toml"), members).expect("write spec");
    let many = run(bin, &moto, &dir, &["plan"]);
    assert_eq!((one.code, many.code), (0, 0), "plan failed");
    println!("\nplan (empty accounts) for {n} accounts × 2 regions × {CLUSTERS} clusters against 1 account × 2 × {CLUSTERS}:");
    println!(
        "- {:.2} s, {} calls / {:.2} s, {} calls = {:.1}× the time for {n}× the accounts",
        many.seconds,
        many.calls,
        one.seconds,
        one.calls,
        many.seconds / one.seconds
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir(regions: usize, clusters: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eksaudit-bench-{}-{regions}x{clusters}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
