//! How fast the default pattern decides 100,000 EKS audit events: `cargo bench -p eksaudit-filter`.
//!
//! Each event is a line of text, as CloudWatch Logs sees it; the time includes parsing it as JSON.

use std::hint::black_box;
use std::time::{Duration, Instant};

use eksaudit_filter::{parse, SAMPLE_EVENTS};

const DEFAULT: &str = r#"{ $.stage = "ResponseComplete" && $.requestURI != "/version" && $.requestURI != "/version?*" && $.requestURI != "/metrics" && $.requestURI != "/metrics?*" && $.requestURI != "/logs" && $.requestURI != "/logs?*" && $.requestURI != "/swagger*" && $.requestURI != "/livez*" && $.requestURI != "/readyz*" && $.requestURI != "/healthz*" }"#;

const EVENTS: usize = 100_000;

fn run(pattern: &str, events: &[String]) -> (Duration, usize) {
    let p = parse(pattern).expect("the pattern parses");
    let start = Instant::now();
    let m = p.matcher();
    let forwarded = events.iter().filter(|e| m.matches(black_box(e))).count();
    (start.elapsed(), forwarded)
}

fn main() {
    let samples: Vec<&str> = SAMPLE_EVENTS.lines().filter(|l| !l.trim().is_empty()).collect();
    // Distinct strings (a counter in the audit id), so nothing is cached between events.
    let events: Vec<String> =
        (0..EVENTS).map(|i| samples[i % samples.len()].replacen("5a3e7c10-", &format!("{i:08x}-"), 1)).collect();
    let bytes: usize = events.iter().map(String::len).sum();
    let _ = run(DEFAULT, &events[..1000]); // warm-up
    let mut best = Duration::MAX;
    let mut forwarded = 0;
    for _ in 0..5 {
        let (t, f) = run(DEFAULT, &events);
        best = best.min(t);
        forwarded = f;
    }
    let per_sec = EVENTS as f64 / best.as_secs_f64();
    println!(
        "default pattern: {EVENTS} events ({:.1} MB) in {:.1} ms, best of 5: {:.0} events/s ({forwarded} forwarded)",
        bytes as f64 / 1e6,
        best.as_secs_f64() * 1e3,
        per_sec
    );
    let terms = r#"-"/healthz" -"/readyz" -"/livez" "ResponseComplete""#;
    let (t, f) = run(terms, &events);
    println!("term pattern {terms}: {:.0} events/s ({f} forwarded)", EVENTS as f64 / t.as_secs_f64());
}
