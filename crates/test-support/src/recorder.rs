//! A recording proxy in front of moto on loopback: every request the product makes is classified by operation
//! and as a read or a write, so tests can assert, for example, that plan makes zero mutating calls.
//!
//! One request per connection: the proxy asks moto to close after each answer and tells the client the same, so
//! request boundaries never depend on parsing a response body.
//!
//! Tests can also inject faults ([`Fault`]): answer an operation with an AWS error (in the protocol the service
//! speaks) for its first N calls, or rewrite its successful answers, to produce what moto cannot: throttling, IAM
//! propagation delays, a Firehose stream that fails to create.
//!
//! With [`Recorder::enable_quotas`] it also enforces AWS's request-rate quotas: a token bucket per account,
//! region and operation (or operation class), from `eksaudit_aws::quotas`' table, answering an over-quota call
//! with the service's own throttling error. This emulates AWS; product code only paces itself by the table.
//!
//! It also papers over the places where moto answers differently from AWS, so product code never has to:
//! - GetBucketNotificationConfiguration on a bucket without one: moto answers an empty body, AWS an empty
//!   `<NotificationConfiguration/>` document (the Rust SDK rejects the empty body).
//! - EKS UpdateClusterConfig: moto answers with the cluster, AWS with an update id to wait on; and moto has
//!   no DescribeUpdate, which the proxy answers itself, as scripted (`EksUpdateScript`: InProgress for some polls,
//!   then Successful, Failed or Cancelled; ResourceInUse while one runs).
//! - CloudWatch Logs' AssociateKmsKey, which moto lacks: answered here, the key shown in DescribeLogGroups.
//! - CloudWatch Logs' DescribeLogGroups by name (`logGroupIdentifiers`), which moto ignores: answered with the
//!   groups of those names only (`log_groups_by_name`).
//! - moto's PutBucketLogging fails on a target bucket policy whose `"Principal": "*"` statement comes before the
//!   logging grant: the target's statements are reordered in moto first (`logging_grant_first`).
//! - moto's SetQueueAttributes without a `Policy` deletes the queue's policy, where SQS keeps it; and moto does not
//!   turn SSE-SQS off when a queue gets a KMS key (nor back on when the key is taken off), as SQS does
//!   (`as_sqs_sets`).
//! - Lambda's KMSKeyArn (the key of a function's environment) and DeadLetterConfig (where a failed asynchronous
//!   invocation goes): moto drops both; the proxy remembers them and shows them in GetFunction and
//!   GetFunctionConfiguration, as Lambda does.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use eksaudit_aws::quotas;

/// One call the product made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `Action=` of query APIs, the `X-Amz-Target` operation of JSON APIs, or `METHOD path?subresource` for REST.
    pub operation: String,
    pub write: bool,
}

/// A request as the product sent it, whole: for tests that look into it (which resource, which role passed).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the proxy received it: for the benchmark's timeline of where a run's time goes.
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Rewrites a successful response body.
pub type Rewrite = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Called once, when the product's N-th mutating call has reached moto (before it hears the answer).
pub type WriteHook = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
enum FaultKind {
    /// Answer with an AWS error instead of forwarding.
    Error { status: u16, code: String, message: String },
    /// Answer with the service's own throttling error (S3: 503 SlowDown) instead of forwarding.
    Throttle,
    /// Close the connection without an answer (the request never reaches moto).
    Drop,
    /// Forward (the change is made), then close the connection without an answer: the answer lost on the way
    /// back, which the SDK retries as it would a call that never arrived.
    LoseAnswer,
    /// Forward, then rewrite a 200 answer's body.
    Rewrite(Rewrite),
    /// Wait this long before forwarding (adds to every other fault).
    Latency(Duration),
}

/// A fault injected into the calls of one operation (or of every operation, `"*"`): by count, by rate, or for a
/// while after another call succeeded.
#[derive(Clone)]
pub struct Fault {
    operation: String,
    remaining: Option<usize>,
    rate: Option<f64>,
    /// Active only within this long after the last successful call of the operation named.
    after: Option<(String, Duration)>,
    /// Active only for requests whose body holds this text (one role of several, one resource).
    body_contains: Option<String>,
    kind: FaultKind,
}

impl Fault {
    fn new(operation: &str, kind: FaultKind) -> Fault {
        Fault { operation: operation.to_string(), remaining: None, rate: None, after: None, body_contains: None, kind }
    }

    /// Answers `operation` (an API name such as `CreateDeliveryStream`, a `METHOD /path` prefix for REST, or `*`)
    /// with the AWS error `code` and `message`, shaped the way the service's protocol shapes errors.
    pub fn error(operation: &str, status: u16, code: &str, message: &str) -> Fault {
        Fault::new(operation, FaultKind::Error { status, code: code.to_string(), message: message.to_string() })
    }

    /// AWS's throttling answer, in the service's words (`ThrottlingException`, `Throttling`, S3's 503 `SlowDown`).
    pub fn throttle(operation: &str) -> Fault {
        Fault::new(operation, FaultKind::Throttle)
    }

    /// A 503 from the service.
    /// AWS's 500: the service failed (retried by the SDK like a 503).
    pub fn internal_error(operation: &str) -> Fault {
        Fault::error(operation, 500, "InternalFailure", "We encountered an internal error. Please try again.")
    }

    pub fn unavailable(operation: &str) -> Fault {
        Fault::error(operation, 503, "ServiceUnavailable", "Service is unavailable, please try again")
    }

    /// The connection is closed without an answer.
    pub fn drop_connection(operation: &str) -> Fault {
        Fault::new(operation, FaultKind::Drop)
    }

    /// The call is made, and its answer is lost: the connection closes before it comes back.
    pub fn lose_answer(operation: &str) -> Fault {
        Fault::new(operation, FaultKind::LoseAnswer)
    }

    /// Every call waits `latency` before it is forwarded.
    pub fn latency(operation: &str, latency: Duration) -> Fault {
        Fault::new(operation, FaultKind::Latency(latency))
    }

    /// Rewrites the body of `operation`'s successful answers.
    pub fn rewrite(operation: &str, f: impl Fn(&str) -> String + Send + Sync + 'static) -> Fault {
        Fault::new(operation, FaultKind::Rewrite(Arc::new(f)))
    }

    /// IAM propagation as Firehose and CloudWatch Logs see it: for `window` after a role is created,
    /// CreateDeliveryStream cannot assume it and PutSubscriptionFilter cannot deliver its test message.
    pub fn iam_propagation(window: Duration) -> Vec<Fault> {
        vec![
            Fault::error(
                "CreateDeliveryStream",
                400,
                "InvalidArgumentException",
                "Firehose is unable to assume role. Please check the role provided.",
            )
            .within(window, "CreateRole"),
            Fault::error(
                "PutSubscriptionFilter",
                400,
                "InvalidParameterException",
                "Could not deliver test message to specified Firehose stream. Check if the given Firehose stream is in ACTIVE state.",
            )
            .within(window, "CreateRole"),
        ]
    }

    /// IAM propagation as KMS sees it: for `window` after a role is created, a key policy naming it is refused.
    pub fn kms_principal_propagation(window: Duration) -> Vec<Fault> {
        let refuse = |operation: &str| {
            Fault::error(
                operation,
                400,
                "MalformedPolicyDocumentException",
                "Policy contains a statement with one or more invalid principals.",
            )
            .within(window, "CreateRole")
        };
        vec![refuse("CreateKey"), refuse("PutKeyPolicy")]
    }

    /// Only the first `n` matching calls (every call when not set).
    pub fn times(mut self, n: usize) -> Fault {
        self.remaining = Some(n);
        self
    }

    /// Only this share of matching calls, chosen by the recorder's seeded generator (repeatable).
    pub fn rate(mut self, rate: f64) -> Fault {
        self.rate = Some(rate);
        self
    }

    /// Only within `window` after the last successful call of `operation`.
    pub fn within(mut self, window: Duration, operation: &str) -> Fault {
        self.after = Some((operation.to_string(), window));
        self
    }

    /// Only for requests whose body contains `text` (URL-encoded as a query-protocol body has it, for example
    /// `sts:AssumeRole` of one role ARN).
    pub fn matching(mut self, text: &str) -> Fault {
        self.body_contains = Some(text.to_string());
        self
    }

    fn names(&self, operation: &str) -> bool {
        self.operation == "*"
            || operation == self.operation
            || (self.operation.contains(' ') && operation.starts_with(&self.operation))
    }
}

/// What the proxy threads share.
#[derive(Default)]
struct Shared {
    calls: Vec<(Call, Request)>,
    faults: Vec<Fault>,
    /// When each operation last succeeded (for `Fault::within`).
    succeeded: HashMap<String, Instant>,
    /// Mutating calls that reached moto, and the hook for the N-th.
    writes_forwarded: usize,
    write_hook: Option<(usize, WriteHook)>,
    rng: u64,
    /// Audiences added to OIDC providers, by provider ARN: moto has no AddClientIDToOpenIDConnectProvider.
    oidc_client_ids: HashMap<String, Vec<String>>,
    /// EKS cluster updates, which moto neither runs nor reports: how the next ones go, and each one started.
    eks_script: EksUpdateScript,
    eks_updates: HashMap<String, EksUpdate>,
    /// The buckets whose notification configuration turned EventBridge delivery on: moto keeps no
    /// EventBridgeConfiguration (it never answers it back), S3 does.
    event_bridge_buckets: std::collections::HashSet<String>,
    /// The settings of each Lambda function moto drops ([`FUNCTION_SETTINGS`]: its environment's KMS key, its
    /// dead-letter queue), by `<region>/<function name>`.
    function_settings: HashMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The deployment package each Lambda function was last given (base64, as the request carried it), by
    /// `<region>/<function name>`: what the Firehose processor emulation runs (`Moto::run_firehose_processors`).
    function_code: HashMap<String, String>,
    /// Keys associated with log groups, by `<region>/<log group>`: moto has no AssociateKmsKey.
    log_group_keys: HashMap<String, String>,
    /// How many calls each kind of fault answered: its HTTP status, `throttle`, `drop`, `rewrite`.
    fired: HashMap<String, usize>,
    /// The quota model, when enabled: the scale applied to the table, and the buckets by key.
    quota_scale: Option<f64>,
    buckets: HashMap<QuotaKey, TokenBucket>,
    throttled: usize,
    /// The throttled answers by `<service> <bucket> in <region>`.
    throttled_by: BTreeMap<String, usize>,
    /// Requests received and not yet answered, and the most there were at once since the last reset.
    in_flight: usize,
    peak_in_flight: usize,
}

/// One request in flight at the proxy, from its head read until its answer starts to be written (or the
/// connection is given up): counted in [`Recorder::peak_in_flight`]. It ends before the answer is written, so the
/// count never holds a call the client has already heard back from (and may have sent the next call for): the
/// proxy's window lies inside the client's, and its peak never overstates the client's calls in flight.
struct InFlight<'a> {
    shared: &'a Mutex<Shared>,
    ended: std::cell::Cell<bool>,
}

impl<'a> InFlight<'a> {
    fn start(shared: &'a Mutex<Shared>) -> InFlight<'a> {
        let mut state = shared.lock().expect("recorder state");
        state.in_flight += 1;
        state.peak_in_flight = state.peak_in_flight.max(state.in_flight);
        InFlight { shared, ended: std::cell::Cell::new(false) }
    }

    fn end(&self) {
        if !self.ended.replace(true) {
            self.shared.lock().expect("recorder state").in_flight -= 1;
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

/// One quota bucket: account (access key), region, service and bucket (operation or class).
type QuotaKey = (String, String, String, quotas::Bucket);

/// A token bucket: `capacity` tokens, refilled at `rate` per second; each call takes one.
#[derive(Debug, Clone)]
struct TokenBucket {
    tokens: f64,
    capacity: f64,
    rate: f64,
    at: Instant,
}

impl TokenBucket {
    fn new(rate: f64, capacity: f64, now: Instant) -> TokenBucket {
        TokenBucket { tokens: capacity, capacity, rate, at: now }
    }

    /// Takes a token if there is one.
    fn take(&mut self, now: Instant) -> bool {
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The credential scope of a SigV4 `Authorization` header: access key, region, service.
fn credential_scope(authorization: &str) -> Option<(String, String, String)> {
    let credential = authorization.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let mut parts = credential.split('/');
    let key = parts.next()?.to_string();
    let _date = parts.next()?;
    Some((key, parts.next()?.to_string(), parts.next()?.to_string()))
}

/// How an EKS update ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EksOutcome {
    Successful,
    /// `Failed`, with the update's error messages.
    Failed(Vec<String>),
    Cancelled,
}

/// How the EKS updates started from now on behave, as real EKS does: `InProgress` for a number of DescribeUpdate
/// polls, then the outcome; while one is `InProgress`, another UpdateClusterConfig on the same cluster is refused
/// with `ResourceInUseException`. The default: finished at once, `Successful`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksUpdateScript {
    pub in_progress_polls: usize,
    pub outcome: EksOutcome,
}

impl Default for EksUpdateScript {
    fn default() -> EksUpdateScript {
        EksUpdateScript { in_progress_polls: 0, outcome: EksOutcome::Successful }
    }
}

#[derive(Debug, Clone)]
struct EksUpdate {
    cluster: String,
    polls_left: usize,
    outcome: EksOutcome,
}

impl EksUpdate {
    fn in_progress(&self) -> bool {
        self.polls_left > 0
    }
}

impl Shared {
    /// xorshift64*: repeatable, so a faulty run can be replayed.
    fn next_unit(&mut self) -> f64 {
        let mut x = if self.rng == 0 { 0x9E37_79B9_7F4A_7C15 } else { self.rng };
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The latency to add, and the one fault (if any) that answers this call, using it up.
    #[cfg(test)]
    fn faults_for(&mut self, operation: &str) -> (Duration, Option<FaultKind>) {
        self.faults_for_request(operation, b"")
    }

    /// [`Shared::faults_for`], with the request's body for faults that match on it.
    fn faults_for_request(&mut self, operation: &str, body: &[u8]) -> (Duration, Option<FaultKind>) {
        let now = Instant::now();
        let body = String::from_utf8_lossy(body);
        let mut latency = Duration::ZERO;
        let mut chosen = None;
        for i in 0..self.faults.len() {
            let f = &self.faults[i];
            if !f.names(operation) || f.remaining == Some(0) {
                continue;
            }
            if f.body_contains.as_ref().is_some_and(|text| !body.contains(text.as_str())) {
                continue;
            }
            if let Some((after, window)) = &f.after {
                match self.succeeded.get(after) {
                    Some(at) if now.duration_since(*at) < *window => {}
                    _ => continue,
                }
            }
            if let FaultKind::Latency(d) = f.kind {
                latency += d;
                continue;
            }
            // Every rated fault draws for every call it names, whether or not another fault already answers it:
            // each fires at its own rate, independently (a 5 % 500 beside a 20 % throttle stays 5 % of calls).
            if let Some(rate) = f.rate {
                if self.next_unit() >= rate {
                    continue;
                }
            }
            if chosen.is_some() {
                continue;
            }
            let f = &mut self.faults[i];
            // A rewrite is used up only when it rewrites (see `use_rewrite`).
            if !matches!(f.kind, FaultKind::Rewrite(_)) {
                if let Some(n) = f.remaining.as_mut() {
                    *n -= 1;
                }
            }
            let what = match &f.kind {
                FaultKind::Error { status, .. } => status.to_string(),
                FaultKind::Throttle => "throttle".to_string(),
                FaultKind::Drop => "drop".to_string(),
                FaultKind::LoseAnswer => "lost answer".to_string(),
                FaultKind::Rewrite(_) => "rewrite".to_string(),
                FaultKind::Latency(_) => "latency".to_string(),
            };
            chosen = Some(f.kind.clone());
            *self.fired.entry(what).or_default() += 1;
        }
        (latency, chosen)
    }

    /// Whether the quota model lets this call through (always, when it is off). REST calls (S3, EKS, Lambda) are
    /// named by method and path here, so they draw from their service's class bucket.
    fn within_quota(&mut self, authorization: Option<&str>, call: &Call) -> bool {
        let Some(scale) = self.quota_scale else { return true };
        let Some((account, region, service)) = authorization.and_then(credential_scope) else { return true };
        let class = if call.write { quotas::Class::Write } else { quotas::Class::Read };
        let named = (!call.operation.contains(' ')).then_some(call.operation.as_str());
        let (bucket, quota) = quotas::quota(&service, named, class);
        let now = Instant::now();
        let rate = quota.per_second * scale;
        let capacity = (quota.burst * scale).max(1.0);
        let ok = self
            .buckets
            .entry((account, region.clone(), service.clone(), bucket.clone()))
            .or_insert_with(|| TokenBucket::new(rate, capacity, now))
            .take(now);
        if !ok {
            self.throttled += 1;
            *self.throttled_by.entry(format!("{service} {bucket} in {region}")).or_default() += 1;
        }
        ok
    }

    /// Counts a mutating call that reached AWS (moto, or this proxy answering for it) and hands out the write hook
    /// when this is its write.
    fn write_made(&mut self) -> Option<WriteHook> {
        self.writes_forwarded += 1;
        let n = self.writes_forwarded;
        match self.write_hook.take() {
            Some((at, hook)) if at == n => Some(hook),
            other => {
                self.write_hook = other;
                None
            }
        }
    }

    fn use_rewrite(&mut self, operation: &str) {
        let rewrite = self.faults.iter_mut().find(|f| f.names(operation) && matches!(f.kind, FaultKind::Rewrite(_)));
        if let Some(n) = rewrite.and_then(|f| f.remaining.as_mut()) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Held while an IAM write is with moto (see `forward`).
static IAM_WRITES: Mutex<()> = Mutex::new(());

/// Held for writing while a full log group's filter is updated (see `update_full_log_group_filter`), for reading by
/// every other subscription-filter call while it is with moto.
static FILTER_UPDATES: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A proxy that forwards to `upstream` and records every call, stopped when dropped.
pub struct Recorder {
    port: u16,
    shared: Arc<Mutex<Shared>>,
    listener: TcpListener,
}

impl Recorder {
    pub fn start(upstream_port: u16) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Mutex::new(Shared { rng: 0x5EED_1234_ABCD_0001, ..Default::default() }));
        let accept = listener.try_clone().expect("clone listener");
        let state = Arc::clone(&shared);
        thread::spawn(move || {
            for conn in accept.incoming() {
                let Ok(conn) = conn else { break };
                let state = Arc::clone(&state);
                thread::spawn(move || {
                    let _ = forward(conn, upstream_port, &state);
                });
            }
        });
        Recorder { port, shared, listener }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().expect("recorder state")
    }

    /// Adds a fault. Latencies add up; of the other faults, the first that matches answers the call.
    /// How many calls each kind of fault answered since the start: by HTTP status (`"500"`, `"503"`), or
    /// `"throttle"`, `"drop"`, `"rewrite"`.
    pub fn faults_fired(&self) -> std::collections::BTreeMap<String, usize> {
        self.shared.lock().expect("recorder state").fired.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// How the EKS updates started from now on go (see [`EksUpdateScript`]).
    pub fn script_eks_updates(&self, script: EksUpdateScript) {
        self.shared.lock().expect("recorder state").eks_script = script;
    }

    /// Turns on the quota model: every call draws from its bucket (account, region, operation or class) of
    /// `eksaudit_aws::quotas`, at `scale` × AWS's default (1.0: the real quotas; below 1, a tighter account, for
    /// heavy throttling in a short test). An over-quota call is answered with the service's throttling error.
    pub fn enable_quotas(&self, scale: f64) {
        let mut state = self.state();
        state.quota_scale = Some(scale);
        state.buckets.clear();
    }

    /// How many calls the quota model has throttled since it was enabled or reset.
    pub fn throttled(&self) -> usize {
        self.state().throttled
    }

    /// The same answers by `<service> <bucket> in <region>`: which quota a run went over.
    pub fn throttled_by(&self) -> BTreeMap<String, usize> {
        self.state().throttled_by.clone()
    }

    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Seeds the generator behind `Fault::rate`.
    pub fn seed(&self, seed: u64) {
        self.state().rng = seed.max(1);
    }

    /// Calls `hook` once, when the product's `n`-th mutating call (counted from now) has reached moto and before
    /// the product hears the answer: where a crash hurts most.
    pub fn on_write(&self, n: usize, hook: WriteHook) {
        let mut state = self.state();
        state.writes_forwarded = 0;
        state.write_hook = Some((n, hook));
    }

    /// How many calls of `operation` were made (faulted ones included).
    pub fn count(&self, operation: &str) -> usize {
        self.calls().iter().filter(|c| c.operation == operation).count()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.iter().map(|(c, _)| c.clone()).collect()
    }

    /// Every request since the last reset, whole.
    pub fn requests(&self) -> Vec<Request> {
        self.state().calls.iter().map(|(_, r)| r.clone()).collect()
    }

    pub fn writes(&self) -> Vec<String> {
        self.calls().into_iter().filter(|c| c.write).map(|c| c.operation).collect()
    }

    pub fn reads(&self) -> Vec<String> {
        self.calls().into_iter().filter(|c| !c.write).map(|c| c.operation).collect()
    }

    /// The deployment package (base64 zip) the product last uploaded for a function, by region and name.
    pub fn function_code(&self, region: &str, name: &str) -> Option<String> {
        self.state().function_code.get(&format!("{region}/{name}")).cloned()
    }

    pub fn reset(&self) {
        let mut state = self.state();
        state.calls.clear();
        state.throttled = 0;
        state.throttled_by.clear();
        state.peak_in_flight = state.in_flight;
    }

    /// The most requests the proxy held unanswered at once since the last reset: a lower bound of the calls the
    /// product had in flight (a call is in flight to the product a little longer, from send to answer).
    pub fn peak_in_flight(&self) -> usize {
        self.state().peak_in_flight
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Unblock the accept loop so its thread ends.
        let _ = self.listener.set_nonblocking(true);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line);
    }
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The body as sent, chunked encoding included.
fn read_body(reader: &mut impl BufRead, head: &[String]) -> std::io::Result<Vec<u8>> {
    if let Some(len) = header(head, "content-length").and_then(|l| l.parse::<usize>().ok()) {
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if header(head, "transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    }
    Ok(body)
}

/// Writes a response with a correct length and `Connection: close`.
fn write_response(client: &mut TcpStream, head: &[String], body: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for (i, line) in head.iter().enumerate() {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if i > 0 && matches!(name.as_str(), "connection" | "content-length" | "transfer-encoding") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    client.write_all(&out)
}

/// The cluster of an EKS `/clusters/{name}/...` path, and what follows it.
fn eks_path(target: &str) -> Option<(String, Vec<String>)> {
    let path = target.split('?').next().unwrap_or(target);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    (parts.len() >= 3 && parts[0] == "clusters")
        .then(|| (parts[1].to_string(), parts[2..].iter().map(|p| p.to_string()).collect()))
}

/// EKS's DescribeUpdate, which moto lacks: each update as its script says (`InProgress` for its polls, then its
/// outcome); an update this proxy never started is answered as AWS does, `ResourceNotFoundException`.
fn describe_update(method: &str, target: &str, shared: &Mutex<Shared>) -> Option<(u16, String)> {
    let (_, rest) = eks_path(target)?;
    if method != "GET" || rest.len() != 2 || rest[0] != "updates" {
        return None;
    }
    let id = &rest[1];
    let mut state = shared.lock().expect("recorder state");
    let Some(update) = state.eks_updates.get_mut(id) else {
        return Some((404, format!("No update found for ID: {id}")));
    };
    let (status, errors) = if update.polls_left > 0 {
        update.polls_left -= 1;
        ("InProgress", Vec::new())
    } else {
        match &update.outcome {
            EksOutcome::Successful => ("Successful", Vec::new()),
            EksOutcome::Failed(errors) => ("Failed", errors.clone()),
            EksOutcome::Cancelled => ("Cancelled", Vec::new()),
        }
    };
    let errors: Vec<serde_json::Value> = errors
        .iter()
        .map(|m| serde_json::json!({"errorCode": "Unknown", "errorMessage": m, "resourceIds": [update.cluster]}))
        .collect();
    let doc = serde_json::json!({"update": {"id": id, "status": status, "type": "LoggingUpdate", "params": [], "errors": errors}});
    Some((200, doc.to_string()))
}

/// An UpdateClusterConfig on a cluster with an update still `InProgress`: EKS refuses it.
fn update_in_use(method: &str, target: &str, shared: &Mutex<Shared>) -> Option<String> {
    let (cluster, rest) = eks_path(target)?;
    if method != "POST" || rest != ["update-config"] {
        return None;
    }
    let state = shared.lock().expect("recorder state");
    state
        .eks_updates
        .values()
        .any(|u| u.cluster == cluster && u.in_progress())
        .then(|| format!("Cannot LoggingUpdate because cluster {cluster} currently has update in progress"))
}

/// An UpdateClusterConfig scripted to fail or be cancelled changes nothing, as in EKS: it is not forwarded (moto
/// would apply it at once), only recorded and answered with the update to wait on.
fn unsuccessful_update(method: &str, target: &str, shared: &Mutex<Shared>) -> Option<String> {
    let (cluster, rest) = eks_path(target)?;
    if method != "POST" || rest != ["update-config"] {
        return None;
    }
    let mut state = shared.lock().expect("recorder state");
    if state.eks_script.outcome == EksOutcome::Successful {
        return None;
    }
    let id = format!("unsuccessful-{}", state.eks_updates.len() + 1);
    let script = state.eks_script.clone();
    state
        .eks_updates
        .insert(id.clone(), EksUpdate { cluster, polls_left: script.in_progress_polls, outcome: script.outcome });
    Some(format!(
        r#"{{"update":{{"id":"{id}","status":"InProgress","type":"LoggingUpdate","params":[],"errors":[]}}}}"#
    ))
}

/// Records the update an UpdateClusterConfig answer (as `emulate` shaped it) started, to run as scripted.
fn start_eks_update(method: &str, target: &str, body: &[u8], shared: &Mutex<Shared>) {
    let Some((cluster, rest)) = eks_path(target) else { return };
    if method != "POST" || rest != ["update-config"] {
        return;
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) else { return };
    let Some(id) = doc.pointer("/update/id").and_then(serde_json::Value::as_str) else { return };
    let mut state = shared.lock().expect("recorder state");
    let script = state.eks_script.clone();
    state
        .eks_updates
        .insert(id.to_string(), EksUpdate { cluster, polls_left: script.in_progress_polls, outcome: script.outcome });
}

/// IAM's AddClientIDToOpenIDConnectProvider, which moto lacks: the audience is remembered here (and forgotten when
/// the provider is deleted) and shown in GetOpenIDConnectProvider's answers. As in IAM, a provider that does not
/// exist (asked of moto) is refused with NoSuchEntity (`Err`, its message) and nothing is remembered.
fn emulate_oidc_audience(
    upstream_port: u16,
    operation: &str,
    head: &[String],
    body: &[u8],
    shared: &Mutex<Shared>,
) -> std::io::Result<Option<Result<String, String>>> {
    let Some(arn) = form_param(body, "OpenIDConnectProviderArn") else { return Ok(None) };
    match operation {
        "AddClientIDToOpenIDConnectProvider" => {
            let Some(id) = form_param(body, "ClientID") else { return Ok(None) };
            let get: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("Action", "GetOpenIDConnectProvider")
                .append_pair("OpenIDConnectProviderArn", &arn)
                .append_pair("Version", "2010-05-08")
                .finish();
            let (found, provider) = send_upstream(upstream_port, head, get.as_bytes())?;
            if !found.first().is_some_and(|l| l.contains(" 200 ")) {
                return Ok(Some(Err(format!("OpenIDConnect Provider not found for arn {arn}"))));
            }
            // IAM adds a client id the provider already has as a no-op (the call is idempotent), also one it was
            // created with.
            let created_with = String::from_utf8_lossy(&provider).contains(&format!("<member>{id}</member>"));
            let mut state = shared.lock().expect("recorder state");
            let added = state.oidc_client_ids.entry(arn).or_default();
            if !created_with && !added.contains(&id) {
                added.push(id);
            }
            Ok(Some(Ok(r#"<AddClientIDToOpenIDConnectProviderResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata></AddClientIDToOpenIDConnectProviderResponse>"#.to_string())))
        }
        "DeleteOpenIDConnectProvider" => {
            shared.lock().expect("recorder state").oidc_client_ids.remove(&arn);
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Adds audiences to a GetOpenIDConnectProvider answer's ClientIDList.
fn with_client_ids(xml: &str, added: &[String]) -> String {
    let members: String = added.iter().map(|id| format!("<member>{id}</member>")).collect();
    if xml.contains("</ClientIDList>") {
        xml.replacen("</ClientIDList>", &format!("{members}</ClientIDList>"), 1)
    } else if xml.contains("<ClientIDList/>") {
        xml.replacen("<ClientIDList/>", &format!("<ClientIDList>{members}</ClientIDList>"), 1)
    } else {
        xml.replacen(
            "<GetOpenIDConnectProviderResult>",
            &format!("<GetOpenIDConnectProviderResult><ClientIDList>{members}</ClientIDList>"),
            1,
        )
    }
}

/// A parameter of a form-encoded (query protocol) request body, decoded.
fn form_param(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// moto judges a bucket policy's Deny whose condition it cannot evaluate (`aws:SecureTransport`) as denying, so
/// in moto the TLS-only policy every pipeline bucket has forbids deleting objects; in AWS, where the SDK speaks
/// HTTPS, it does not. A DeleteObjects is forwarded with the bucket's policy lifted for that one call (the caller
/// puts it back): the bucket and its policy, as returned.
fn lift_bucket_policy(method: &str, target: &str, port: u16) -> Option<(String, Vec<u8>)> {
    let (path, query) = target.split_once('?')?;
    if method != "POST" || !query.split('&').any(|q| q == "delete" || q == "delete=") {
        return None;
    }
    let bucket = path.trim_matches('/').split('/').next().filter(|b| !b.is_empty())?.to_string();
    let (status, policy) = moto_call(port, "GET", &format!("/{bucket}?policy"), b"").ok()?;
    if status != 200 {
        return None;
    }
    moto_call(port, "DELETE", &format!("/{bucket}?policy"), b"").ok()?;
    Some((bucket, policy))
}

/// moto's PutBucketLogging looks for the logging service's grant in the target bucket's policy reading every
/// statement's `Principal` as an object, and fails (500) on a `"Principal": "*"` met before the grant, where S3
/// reads statements in no order. The target's policy is put back to moto with statements of an object principal
/// first (the same policy to S3, and to eksaudit, which compares policies by meaning).
fn logging_grant_first(request: &[u8], port: u16) {
    let text = String::from_utf8_lossy(request);
    let Some(bucket) = text.split("<TargetBucket>").nth(1).and_then(|t| t.split("</TargetBucket>").next()) else {
        return;
    };
    let Ok((200, policy)) = moto_call(port, "GET", &format!("/{bucket}?policy"), b"") else { return };
    let Ok(mut policy) = serde_json::from_slice::<serde_json::Value>(&policy) else { return };
    let Some(statements) = policy.get_mut("Statement").and_then(|s| s.as_array_mut()) else { return };
    let before = statements.clone();
    statements.sort_by_key(|s| !s["Principal"].is_object());
    if *statements != before {
        let _ = moto_call(port, "PUT", &format!("/{bucket}?policy"), policy.to_string().as_bytes());
    }
}

/// One plain request to moto (S3, path style): its status and body.
fn moto_call(port: u16, method: &str, target: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut upstream = TcpStream::connect(("127.0.0.1", port))?;
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    upstream.write_all(request.as_bytes())?;
    upstream.write_all(body)?;
    let mut response = BufReader::new(upstream);
    let head = read_head(&mut response)?;
    let mut out = Vec::new();
    response.read_to_end(&mut out)?;
    let status = head.first().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, out))
}

/// Sends one request to moto as it is (same signature headers), with `body`, and reads the whole answer.
fn send_upstream(upstream_port: u16, head: &[String], body: &[u8]) -> std::io::Result<(Vec<String>, Vec<u8>)> {
    let mut upstream = TcpStream::connect(("127.0.0.1", upstream_port))?;
    let mut out = Vec::new();
    out.extend_from_slice(head[0].as_bytes());
    out.extend_from_slice(b"\r\n");
    for line in head.iter().skip(1) {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if ["connection", "expect", "content-length", "transfer-encoding"].contains(&name.as_str()) {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    upstream.write_all(&out)?;
    let mut response = BufReader::new(upstream);
    let head = read_head(&mut response)?;
    let mut body = Vec::new();
    response.read_to_end(&mut body)?;
    Ok((head, body))
}

/// moto refuses PutSubscriptionFilter with LimitExceededException whenever a log group holds 2 filters, even to
/// update one of them in place, which CloudWatch Logs allows. When that filter exists, the update is made as
/// delete and put again, and that answer given. CloudWatch Logs' update is in place: nobody sees the filter
/// missing, and a refused update leaves the old filter. So the delete and put hold `FILTER_UPDATES` for writing
/// (every subscription-filter call forwarded holds it for reading: none sees or changes the group in between),
/// and when the put is refused the old filter is put back before the refusal is answered.
fn update_full_log_group_filter(
    upstream_port: u16,
    request_head: &[String],
    request_body: &[u8],
    head: &[String],
    body: &[u8],
) -> std::io::Result<Option<(Vec<String>, Vec<u8>)>> {
    if head.first().is_some_and(|l| l.contains(" 200 ")) || !String::from_utf8_lossy(body).contains("LimitExceeded") {
        return Ok(None);
    }
    let _alone = FILTER_UPDATES.write().unwrap_or_else(|e| e.into_inner());
    let request: serde_json::Value = serde_json::from_slice(request_body).unwrap_or_default();
    let (group, name) = (&request["logGroupName"], &request["filterName"]);
    let logs = |operation: &str, body: &serde_json::Value| {
        let head: Vec<String> = request_head
            .iter()
            .map(|l| {
                if l.to_ascii_lowercase().starts_with("x-amz-target:") {
                    format!("X-Amz-Target: Logs_20140328.{operation}")
                } else {
                    l.clone()
                }
            })
            .collect();
        send_upstream(upstream_port, &head, body.to_string().as_bytes())
    };
    let (_, found) =
        logs("DescribeSubscriptionFilters", &serde_json::json!({"logGroupName": group, "filterNamePrefix": name}))?;
    let found: serde_json::Value = serde_json::from_slice(&found).unwrap_or_default();
    let Some(old) =
        found["subscriptionFilters"].as_array().into_iter().flatten().find(|f| &f["filterName"] == name).cloned()
    else {
        // Not an update: the group is full, as CloudWatch Logs says.
        return Ok(None);
    };
    let (deleted, _) =
        logs("DeleteSubscriptionFilter", &serde_json::json!({"logGroupName": group, "filterName": name}))?;
    if !deleted.first().is_some_and(|l| l.contains(" 200 ")) {
        return Ok(None);
    }
    let (head, body) = send_upstream(upstream_port, request_head, request_body)?;
    if !head.first().is_some_and(|l| l.contains(" 200 ")) {
        let mut restore = serde_json::json!({
            "logGroupName": group,
            "filterName": name,
            "filterPattern": old["filterPattern"],
            "destinationArn": old["destinationArn"],
        });
        for key in ["roleArn", "distribution"] {
            if let Some(v) = old.get(key) {
                restore[key] = v.clone();
            }
        }
        logs("PutSubscriptionFilter", &restore)?;
    }
    Ok(Some((head, body)))
}

/// An HTTP answer: its head (status line and headers) and body.
type Answer = (Vec<String>, Vec<u8>);

/// CloudWatch Logs' DescribeLogGroups by name (`logGroupIdentifiers`, 1 to 50 names, no other filter beside it),
/// which moto 5.1.22 ignores, answering every log group: the proxy reads each name from moto as a prefix and
/// answers the groups of exactly those names, sorted by name, as CloudWatch Logs does (a name with no group is
/// left out, not an error). `Err`: CloudWatch Logs' refusal of the request.
fn log_groups_by_name(
    upstream_port: u16,
    head: &[String],
    body: &[u8],
) -> std::io::Result<Option<Result<Answer, String>>> {
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(names) = request.get("logGroupIdentifiers").and_then(|n| n.as_array()) else { return Ok(None) };
    if names.is_empty() || names.len() > 50 {
        return Ok(Some(Err(format!(
            "1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: Member must have length between 1 and 50 (got {})",
            names.len()
        ))));
    }
    if request.get("logGroupNamePrefix").is_some() || request.get("logGroupNamePattern").is_some() {
        return Ok(Some(Err("logGroupIdentifiers cannot be combined with another filter".to_string())));
    }
    let mut groups = Vec::new();
    let mut last = None;
    for name in names.iter().filter_map(|n| n.as_str()) {
        let mut token = None::<String>;
        loop {
            let mut read = serde_json::json!({"logGroupNamePrefix": name});
            if let Some(t) = &token {
                read["nextToken"] = serde_json::json!(t);
            }
            let (answer, found) = send_upstream(upstream_port, head, read.to_string().as_bytes())?;
            if !answer.first().is_some_and(|l| l.contains(" 200 ")) {
                return Ok(Some(Ok((answer, found))));
            }
            let found: serde_json::Value = serde_json::from_slice(&found).unwrap_or_default();
            groups.extend(
                found["logGroups"].as_array().into_iter().flatten().filter(|g| g["logGroupName"] == name).cloned(),
            );
            last = Some(answer);
            token = found["nextToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    groups.sort_by(|a, b| a["logGroupName"].as_str().cmp(&b["logGroupName"].as_str()));
    groups.dedup_by(|a, b| a["logGroupName"] == b["logGroupName"]);
    let head = last.unwrap_or_else(|| vec!["HTTP/1.1 200 OK".to_string()]);
    Ok(Some(Ok((head, serde_json::json!({ "logGroups": groups }).to_string().into_bytes()))))
}

/// SQS's CreateQueue and SetQueueAttributes as SQS makes them, where moto differs:
/// - moto's SetQueueAttributes sets the queue's policy to the request's `Policy`, so a call without one (changing
///   only the encryption, say) deletes the policy, where SQS changes only the attributes named: a request without
///   `Policy` is sent on with the queue's current policy (read from moto first), which leaves it as it was;
/// - SQS's two kinds of encryption exclude each other: a key (`KmsMasterKeyId`) turns `SqsManagedSseEnabled` off,
///   and taking the key off (an empty one) turns it back on. moto keeps whatever it had, so the request says it.
fn as_sqs_sets(operation: &str, upstream_port: u16, head: &[String], body: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(attributes) = request.get_mut("Attributes").and_then(|a| a.as_object_mut()) else { return Ok(None) };
    let before = attributes.clone();
    if !attributes.contains_key("SqsManagedSseEnabled") {
        match attributes.get("KmsMasterKeyId").and_then(|k| k.as_str()) {
            Some("") => attributes.insert("SqsManagedSseEnabled".into(), "true".into()),
            Some(_) => attributes.insert("SqsManagedSseEnabled".into(), "false".into()),
            None => None,
        };
    }
    if operation == "SetQueueAttributes" && !attributes.contains_key("Policy") {
        let head: Vec<String> = head
            .iter()
            .map(|l| {
                if l.to_ascii_lowercase().starts_with("x-amz-target:") {
                    "X-Amz-Target: AmazonSQS.GetQueueAttributes".to_string()
                } else {
                    l.clone()
                }
            })
            .collect();
        let read = serde_json::json!({"QueueUrl": request["QueueUrl"], "AttributeNames": ["Policy"]});
        let (answer, found) = send_upstream(upstream_port, &head, read.to_string().as_bytes())?;
        let found: serde_json::Value = serde_json::from_slice(&found).unwrap_or_default();
        if let Some(policy) =
            found["Attributes"]["Policy"].as_str().filter(|_| answer.first().is_some_and(|l| l.contains(" 200 ")))
        {
            request["Attributes"]["Policy"] = serde_json::json!(policy);
        }
    }
    Ok((request["Attributes"].as_object() != Some(&before)).then(|| request.to_string().into_bytes()))
}

/// Rewrites moto's answers where they differ from AWS's.
fn emulate(method: &str, target: &str, head: &mut Vec<String>, body: &mut Vec<u8>) {
    let ok = head.first().is_some_and(|l| l.contains(" 200 "));
    if method == "GET" && target.ends_with("?notification") && ok && body.is_empty() {
        *body = br#"<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#.to_vec();
        set_content_type(head, "application/xml");
    }
    // moto answers UpdateClusterConfig with the cluster; EKS with an update to wait on.
    let path = target.split('?').next().unwrap_or(target);
    if method == "POST" && path.starts_with("/clusters/") && path.ends_with("/update-config") && ok {
        let id = format!(
            "{:032x}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
        );
        *body = format!(
            r#"{{"update":{{"id":"{id}","status":"InProgress","type":"LoggingUpdate","params":[],"errors":[]}}}}"#
        )
        .into_bytes();
        set_content_type(head, "application/json");
    }
}

/// The region a request is signed for (`Credential=<key>/<date>/<region>/<service>/aws4_request`).
fn signed_region(head: &[String]) -> String {
    header(head, "authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or_default()
        .to_string()
}

/// CloudWatch Logs' AssociateKmsKey, which moto lacks: the key is remembered for the log group (and answered
/// here), then shown as `kmsKeyId` in DescribeLogGroups where moto has none.
fn emulate_log_group_key(operation: &str, head: &[String], request: &[u8], shared: &Mutex<Shared>) -> Option<String> {
    if operation != "AssociateKmsKey" {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(request).ok()?;
    let (group, key) = (v["logGroupName"].as_str()?, v["kmsKeyId"].as_str()?);
    let mut state = shared.lock().expect("recorder state");
    state.log_group_keys.insert(format!("{}/{group}", signed_region(head)), key.to_string());
    Some("{}".to_string())
}

fn with_log_group_keys(head: &[String], body: &mut Vec<u8>, shared: &Mutex<Shared>) {
    let region = signed_region(head);
    let state = shared.lock().expect("recorder state");
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else { return };
    let Some(groups) = v.get_mut("logGroups").and_then(|g| g.as_array_mut()) else { return };
    for g in groups {
        let name = g["logGroupName"].as_str().unwrap_or_default().to_string();
        if let (Some(key), Some(g)) = (state.log_group_keys.get(&format!("{region}/{name}")), g.as_object_mut()) {
            g.entry("kmsKeyId").or_insert_with(|| key.clone().into());
        }
    }
    *body = v.to_string().into_bytes();
}

/// The function a Lambda REST path names (`/2015-03-31/functions/{name}[/configuration]`), and whether it is the
/// configuration's path.
fn lambda_function(target: &str) -> Option<(String, bool)> {
    let path = target.split('?').next().unwrap_or(target);
    let rest = path.strip_prefix("/2015-03-31/functions/")?;
    let mut parts = rest.split('/');
    let name = parts.next().filter(|n| !n.is_empty())?.to_string();
    match parts.next() {
        None => Some((name, false)),
        Some("configuration") if parts.next().is_none() => Some((name, true)),
        Some(_) => None,
    }
}

/// The zip a successful CreateFunction (`Code.ZipFile`) or UpdateFunctionCode (`ZipFile`) uploaded, kept past
/// `reset` (the code is what was deployed, not a call of the test's).
fn remember_function_code((method, target, head): (&str, &str, &[String]), request: &[u8], shared: &Mutex<Shared>) {
    let path = target.split('?').next().unwrap_or(target);
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(request) else { return };
    let (name, zip) = if method == "POST" && path == "/2015-03-31/functions" {
        (v["FunctionName"].as_str().map(str::to_string), v["Code"]["ZipFile"].as_str())
    } else if method == "PUT" {
        let name = path.strip_prefix("/2015-03-31/functions/").and_then(|r| r.strip_suffix("/code"));
        (name.map(str::to_string), v["ZipFile"].as_str())
    } else {
        return;
    };
    if let (Some(name), Some(zip)) = (name, zip) {
        let key = format!("{}/{name}", signed_region(head));
        shared.lock().expect("recorder state").function_code.insert(key, zip.to_string());
    }
}

/// The function settings moto takes on CreateFunction and UpdateFunctionConfiguration but neither keeps nor
/// returns: KMSKeyArn (the key of the environment) and DeadLetterConfig (where Lambda sends an asynchronous
/// invocation that failed its retries). Each is remembered with the value AWS would return, and an empty one (an
/// empty KMSKeyArn, a DeadLetterConfig with an empty TargetArn) removes it, as in Lambda.
const FUNCTION_SETTINGS: &[&str] = &["KMSKeyArn", "DeadLetterConfig"];

fn is_empty_setting(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Object(o) => o.get("TargetArn").and_then(|t| t.as_str()).is_none_or(str::is_empty),
        serde_json::Value::Null => true,
        _ => false,
    }
}

/// A bucket's EventBridge delivery (`<EventBridgeConfiguration/>` in its notification configuration), which moto
/// drops: remembered from a successful PutBucketNotificationConfiguration (on or off, as the request says), shown
/// in GetBucketNotificationConfiguration as S3 shows it.
fn emulate_event_bridge(method: &str, target: &str, request: &[u8], body: &mut Vec<u8>, shared: &Mutex<Shared>) {
    let mut state = shared.lock().expect("recorder state");
    let Some(bucket) = target.strip_suffix("?notification").map(|path| path.trim_start_matches('/').to_string()) else {
        // A bucket deleted takes its configuration with it.
        if method == "DELETE" && !target.contains('?') {
            state.event_bridge_buckets.remove(target.trim_start_matches('/'));
        }
        return;
    };
    match method {
        "PUT" => {
            if String::from_utf8_lossy(request).contains("<EventBridgeConfiguration") {
                state.event_bridge_buckets.insert(bucket);
            } else {
                state.event_bridge_buckets.remove(&bucket);
            }
        }
        "GET" if state.event_bridge_buckets.contains(&bucket) => {
            let text = String::from_utf8_lossy(body).into_owned();
            if text.contains("<EventBridgeConfiguration") {
                return;
            }
            let with = if let Some(open) = text.strip_suffix("/>") {
                // An empty configuration: `<NotificationConfiguration xmlns="..."/>`.
                format!("{open}><EventBridgeConfiguration/></NotificationConfiguration>")
            } else {
                text.replacen(
                    "</NotificationConfiguration>",
                    "<EventBridgeConfiguration/></NotificationConfiguration>",
                    1,
                )
            };
            *body = with.into_bytes();
        }
        _ => {}
    }
}

/// Lambda's KMSKeyArn and DeadLetterConfig ([`FUNCTION_SETTINGS`]), which moto drops: remembered from a
/// successful CreateFunction or UpdateFunctionConfiguration, forgotten with the function, shown in GetFunction
/// (`Configuration`), GetFunctionConfiguration and ListFunctions.
fn emulate_function_settings(
    (method, target, head): (&str, &str, &[String]),
    request: &[u8],
    body: &mut Vec<u8>,
    shared: &Mutex<Shared>,
) {
    // Functions of the same name in two regions: the region is the signature's.
    let region = signed_region(head);
    let mut state = shared.lock().expect("recorder state");
    let requested = || serde_json::from_slice::<serde_json::Value>(request).ok();
    let remember = |state: &mut Shared, name: String, v: &serde_json::Value| {
        let settings = state.function_settings.entry(name).or_default();
        for setting in FUNCTION_SETTINGS {
            match v.get(*setting) {
                Some(value) if !is_empty_setting(value) => {
                    settings.insert(setting.to_string(), value.clone());
                }
                Some(_) => {
                    settings.remove(*setting);
                }
                None => {}
            }
        }
    };
    let path = target.split('?').next().unwrap_or(target);
    // ListFunctions (what scanners such as Prowler read): each function's configuration, as in GetFunction.
    if method == "GET" && path.trim_end_matches('/') == "/2015-03-31/functions" {
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else { return };
        let Some(functions) = v.get_mut("Functions").and_then(|f| f.as_array_mut()) else { return };
        for config in functions.iter_mut() {
            let name = format!("{region}/{}", config["FunctionName"].as_str().unwrap_or_default());
            if let (Some(settings), serde_json::Value::Object(config)) = (state.function_settings.get(&name), config) {
                for (setting, value) in settings {
                    config.insert(setting.clone(), value.clone());
                }
            }
        }
        *body = v.to_string().into_bytes();
        return;
    }
    if method == "POST" && path == "/2015-03-31/functions" {
        if let Some(v) = requested() {
            let name = format!("{region}/{}", v["FunctionName"].as_str().unwrap_or_default());
            state.function_settings.remove(&name);
            remember(&mut state, name, &v);
        }
        return;
    }
    let Some((name, configuration)) = lambda_function(target) else { return };
    let name = format!("{region}/{name}");
    match method {
        "PUT" if configuration => {
            if let Some(v) = requested() {
                remember(&mut state, name, &v);
            }
        }
        "DELETE" if !configuration => {
            state.function_settings.remove(&name);
        }
        "GET" => {
            let Some(settings) = state.function_settings.get(&name).filter(|s| !s.is_empty()) else { return };
            let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else { return };
            let config = if configuration { Some(&mut v) } else { v.get_mut("Configuration") };
            if let Some(serde_json::Value::Object(config)) = config {
                for (setting, value) in settings {
                    config.insert(setting.clone(), value.clone());
                }
                *body = v.to_string().into_bytes();
            }
        }
        _ => {}
    }
}

/// moto keeps the encryption a stream was created with as given, without the status AWS reports (ENABLED once
/// the stream is ACTIVE); StartDeliveryStreamEncryption sets it.
fn emulate_operation(operation: &str, body: &mut Vec<u8>) {
    if operation != "DescribeDeliveryStream" {
        return;
    }
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else { return };
    let Some(config) = v.pointer_mut("/DeliveryStreamDescription/DeliveryStreamEncryptionConfiguration") else {
        return;
    };
    if let Some(config) = config.as_object_mut() {
        if config.contains_key("KeyType") && !config.contains_key("Status") {
            config.insert("Status".into(), "ENABLED".into());
            *body = v.to_string().into_bytes();
        }
    }
}

fn set_content_type(head: &mut Vec<String>, value: &str) {
    head.retain(|l| !l.to_ascii_lowercase().starts_with("content-type:"));
    head.push(format!("Content-Type: {value}"));
}

/// Names the operation and whether it changes anything.
pub fn classify(method: &str, target: &str, amz_target: Option<&str>, body: &[u8]) -> Call {
    // AssumeRole changes nothing in any account: it hands out a session, as reading does.
    let read_name =
        |op: &str| ["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p)) || op == "AssumeRole";
    if let Some(t) = amz_target {
        let op = t.rsplit('.').next().unwrap_or(t).to_string();
        return Call { write: !read_name(&op), operation: op };
    }
    // Smithy RPC v2 CBOR (CloudWatch): `POST /service/<Service>/operation/<Operation>`.
    if let Some(op) = rpc_v2_operation(target) {
        return Call { write: !read_name(op), operation: op.to_string() };
    }
    let text = String::from_utf8_lossy(body);
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    for part in text.split('&').chain(query.split('&')) {
        if let Some(action) = part.strip_prefix("Action=") {
            return Call { write: !read_name(action), operation: action.to_string() };
        }
    }
    // REST APIs (S3, EKS): the method says it.
    let write = !matches!(method, "GET" | "HEAD");
    Call { operation: format!("{method} {target}"), write }
}

/// An AWS error in the shape of the request's protocol: JSON 1.1 (`X-Amz-Target`), query (`Action=`), REST-JSON
/// (EKS) or REST-XML (S3).
fn error_response(
    target: &str,
    amz_target: Option<&str>,
    query_api: bool,
    status: u16,
    code: &str,
    message: &str,
) -> (Vec<String>, Vec<u8>) {
    let status_line =
        format!("HTTP/1.1 {status} {}", if status >= 500 { "Service Unavailable" } else { "Bad Request" });
    let xml_escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    if amz_target.is_some() {
        let body = serde_json::json!({"__type": code, "message": message}).to_string();
        return (vec![status_line, "Content-Type: application/x-amz-json-1.1".into()], body.into_bytes());
    }
    if query_api {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fault</RequestId></ErrorResponse>",
            xml_escape(message)
        );
        return (vec![status_line, "Content-Type: text/xml".into()], body.into_bytes());
    }
    if rpc_v2_operation(target).is_some() {
        let mut body = vec![0xa2];
        for text in ["__type", code, "message", message] {
            cbor_text(&mut body, text);
        }
        return (
            vec![status_line, "Content-Type: application/cbor".into(), "smithy-protocol: rpc-v2-cbor".into()],
            body,
        );
    }
    if rest_json(target) {
        let body = serde_json::json!({"message": message}).to_string();
        return (
            vec![status_line, "Content-Type: application/json".into(), format!("x-amzn-ErrorType: {code}")],
            body.into_bytes(),
        );
    }
    let body = format!("<Error><Code>{code}</Code><Message>{}</Message></Error>", xml_escape(message));
    (vec![status_line, "Content-Type: application/xml".into()], body.into_bytes())
}

/// The operation of a Smithy RPC v2 CBOR request (CloudWatch's protocol): `/service/<Service>/operation/<Op>`.
fn rpc_v2_operation(target: &str) -> Option<&str> {
    target.strip_prefix("/service/")?.split_once("/operation/").map(|(_, op)| op.split('?').next().unwrap_or(op))
}

/// An RPC v2 CBOR call made to moto in CloudWatch's JSON 1.0 protocol, and its answer turned back into CBOR.
fn cbor_call(port: u16, head: &[String], body: &[u8], operation: &str) -> std::io::Result<(Vec<String>, Vec<u8>)> {
    let json = crate::cbor::to_json(body).unwrap_or_default();
    let mut request: Vec<String> = vec![head[0].replacen(head[0].split(' ').nth(1).unwrap_or("/"), "/", 1)];
    request.extend(
        head.iter()
            .skip(1)
            .filter(|l| {
                let name = l.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
                !["content-type", "smithy-protocol", "accept"].contains(&name.as_str())
            })
            .cloned(),
    );
    request.push("Content-Type: application/x-amz-json-1.0".into());
    request.push(format!("X-Amz-Target: GraniteServiceVersion20100801.{operation}"));
    let (mut answer, body) = send_upstream(port, &request, json.to_string().as_bytes())?;
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|_| serde_json::json!({}));
    answer.retain(|l| {
        !l.to_ascii_lowercase().starts_with("content-type:") && !l.to_ascii_lowercase().starts_with("content-length:")
    });
    answer.push("Content-Type: application/cbor".into());
    answer.push("smithy-protocol: rpc-v2-cbor".into());
    Ok((answer, crate::cbor::from_json(&value)))
}

/// A CBOR text string (major type 3), as an RPC v2 error body holds its `__type` and `message`.
fn cbor_text(out: &mut Vec<u8>, text: &str) {
    let len = text.len();
    match len {
        0..=23 => out.push(0x60 | len as u8),
        24..=255 => out.extend([0x78, len as u8]),
        _ => out.extend([0x79, (len >> 8) as u8, len as u8]),
    }
    out.extend(text.as_bytes());
}

/// REST-JSON services (EKS, Lambda): errors name their type in `x-amzn-ErrorType`.
fn rest_json(target: &str) -> bool {
    ["/clusters", "/2015-03-31/", "/2017-03-31/"].iter().any(|p| target.starts_with(p))
}

/// The service's throttling answer: S3 says 503 SlowDown, query APIs `Throttling`, the rest `ThrottlingException`.
fn throttle_response(target: &str, amz_target: Option<&str>, query_api: bool) -> (Vec<String>, Vec<u8>) {
    let rest_s3 = amz_target.is_none() && !query_api && !rest_json(target);
    match (rest_s3, query_api) {
        (true, _) => error_response(target, amz_target, query_api, 503, "SlowDown", "Please reduce your request rate."),
        (false, true) => error_response(target, amz_target, query_api, 400, "Throttling", "Rate exceeded"),
        (false, false) => error_response(target, amz_target, query_api, 400, "ThrottlingException", "Rate exceeded"),
    }
}

fn forward(client: TcpStream, upstream_port: u16, shared: &Mutex<Shared>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let head = read_head(&mut reader)?;
    let in_flight = InFlight::start(shared);
    let mut parts = head.first().map(|l| l.split(' ')).into_iter().flatten();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut client_w = client.try_clone()?;
    if header(&head, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        client_w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(&mut reader, &head)?;
    let request_body = body.clone();
    let call = classify(&method, &target, header(&head, "x-amz-target"), &body);
    let amz_target = header(&head, "x-amz-target");
    let query_api = String::from_utf8_lossy(&body).contains("Action=") || target.contains("Action=");
    let (operation, write) = (call.operation.clone(), call.write);
    let request = Request {
        method: method.clone(),
        target: target.clone(),
        headers: head
            .iter()
            .skip(1)
            .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .collect(),
        body: body.clone(),
        at: Instant::now(),
    };
    let (latency, fault, within_quota) = {
        let mut state = shared.lock().expect("recorder state");
        let within_quota = state.within_quota(header(&head, "authorization"), &call);
        state.calls.push((call, request));
        let (latency, fault) = state.faults_for_request(&operation, &request_body);
        (latency, fault, within_quota)
    };
    if !latency.is_zero() {
        thread::sleep(latency);
    }
    let answer = |client_w: &mut TcpStream, (head, body): (Vec<String>, Vec<u8>)| -> std::io::Result<()> {
        in_flight.end();
        write_response(client_w, &head, &body)?;
        let _ = client_w.shutdown(std::net::Shutdown::Both);
        Ok(())
    };
    if !within_quota {
        return answer(&mut client_w, throttle_response(&target, amz_target, query_api));
    }
    let mut rewrite = None;
    let mut lose_answer = false;
    match fault {
        Some(FaultKind::Error { status, code, message }) => {
            return answer(&mut client_w, error_response(&target, amz_target, query_api, status, &code, &message));
        }
        Some(FaultKind::Throttle) => return answer(&mut client_w, throttle_response(&target, amz_target, query_api)),
        Some(FaultKind::Drop) => {
            let _ = client_w.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        Some(FaultKind::Rewrite(f)) => rewrite = Some(f),
        Some(FaultKind::LoseAnswer) => lose_answer = true,
        Some(FaultKind::Latency(_)) | None => {}
    }
    // A write this proxy answers itself is a write AWS made: counted, and the crash hook fires on it as on any.
    let answer_write = |client_w: &mut TcpStream, response: (Vec<String>, Vec<u8>)| -> std::io::Result<()> {
        let hook = if write { shared.lock().expect("recorder state").write_made() } else { None };
        match hook {
            Some(hook) => {
                hook();
                Ok(())
            }
            None => answer(client_w, response),
        }
    };
    if let Some(local) = emulate_oidc_audience(upstream_port, &operation, &head, &body, shared)? {
        return match local {
            Ok(xml) => {
                let head = vec!["HTTP/1.1 200 OK".to_string(), "Content-Type: text/xml".to_string()];
                answer_write(&mut client_w, (head, xml.into_bytes()))
            }
            Err(message) => {
                answer(&mut client_w, error_response(&target, amz_target, query_api, 404, "NoSuchEntity", &message))
            }
        };
    }
    if let Some(local) = emulate_log_group_key(&operation, &head, &body, shared) {
        let head = vec!["HTTP/1.1 200 OK".to_string(), "Content-Type: application/x-amz-json-1.1".to_string()];
        return answer_write(&mut client_w, (head, local.into_bytes()));
    }
    if let Some((status, local)) = describe_update(&method, &target, shared) {
        if status != 200 {
            let error = error_response(&target, amz_target, query_api, status, "ResourceNotFoundException", &local);
            return answer(&mut client_w, error);
        }
        let head = vec!["HTTP/1.1 200 OK".to_string(), "Content-Type: application/json".to_string()];
        return answer(&mut client_w, (head, local.into_bytes()));
    }
    if let Some(message) = update_in_use(&method, &target, shared) {
        return answer(
            &mut client_w,
            error_response(&target, amz_target, query_api, 409, "ResourceInUseException", &message),
        );
    }
    if let Some(local) = unsuccessful_update(&method, &target, shared) {
        let head = vec!["HTTP/1.1 200 OK".to_string(), "Content-Type: application/json".to_string()];
        return answer_write(&mut client_w, (head, local.into_bytes()));
    }

    if method == "PUT" && target.split_once('?').is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("logging"))) {
        logging_grant_first(&body, upstream_port);
    }
    let lifted = lift_bucket_policy(&method, &target, upstream_port);
    let request_head = head.clone();
    // moto's IAM checks a name is free and then stores the entity without a lock: two CreateRole calls of the same
    // name at once both succeed there (and a delete racing a read loses the role mid-lookup), where IAM answers
    // EntityAlreadyExists. IAM's writes are made one at a time, as IAM makes each entity's.
    let iam_write = write && header(&head, "authorization").is_some_and(|a| a.contains("/iam/aws4_request"));
    let serialized = iam_write.then(|| IAM_WRITES.lock().unwrap_or_else(|e| e.into_inner()));
    let filters = ["PutSubscriptionFilter", "DeleteSubscriptionFilter", "DescribeSubscriptionFilters"]
        .contains(&operation.as_str())
        .then(|| FILTER_UPDATES.read().unwrap_or_else(|e| e.into_inner()));
    let mut body = body;
    if ["CreateQueue", "SetQueueAttributes"].contains(&operation.as_str()) && amz_target.is_some() {
        if let Some(as_sqs) = as_sqs_sets(&operation, upstream_port, &head, &body)? {
            body = as_sqs;
        }
    }
    let rpc_v2 = rpc_v2_operation(&target).map(str::to_string);
    let by_name = match operation.as_str() {
        "DescribeLogGroups" => log_groups_by_name(upstream_port, &head, &body)?,
        _ => None,
    };
    let (mut head, mut body) = match (by_name, &rpc_v2) {
        (Some(Ok(answer)), _) => answer,
        (Some(Err(message)), _) => {
            let refused = error_response(&target, amz_target, query_api, 400, "InvalidParameterException", &message);
            return answer(&mut client_w, refused);
        }
        (None, Some(op)) => cbor_call(upstream_port, &head, &body, op)?,
        (None, None) => send_upstream(upstream_port, &head, &body)?,
    };
    drop(filters);
    drop(serialized);
    if let Some((bucket, policy)) = lifted {
        moto_call(upstream_port, "PUT", &format!("/{bucket}?policy"), &policy)?;
    }
    if operation == "PutSubscriptionFilter" {
        if let Some(updated) = update_full_log_group_filter(upstream_port, &request_head, &request_body, &head, &body)?
        {
            (head, body) = updated;
        }
    }
    let ok = head.first().is_some_and(|l| l.contains(" 200 ") || l.contains(" 204 "));
    let hook = {
        let mut state = shared.lock().expect("recorder state");
        if ok {
            state.succeeded.insert(operation.clone(), Instant::now());
        }
        if write {
            state.write_made()
        } else {
            None
        }
    };
    if let Some(hook) = hook {
        // The change is made in moto; the product never hears of it.
        hook();
        return Ok(());
    }
    emulate(&method, &target, &mut head, &mut body);
    start_eks_update(&method, &target, &body, shared);
    emulate_operation(&operation, &mut body);
    if operation == "DescribeLogGroups" && ok {
        with_log_group_keys(&request_head, &mut body, shared);
    }
    if ok {
        emulate_event_bridge(&method, &target, &request_body, &mut body, shared);
    }
    // CreateFunction answers 201.
    if head.first().and_then(|l| l.split(' ').nth(1)).is_some_and(|status| status.starts_with('2')) {
        emulate_function_settings((&method, &target, &request_head), &request_body, &mut body, shared);
        remember_function_code((&method, &target, &request_head), &request_body, shared);
    }
    if operation == "GetOpenIDConnectProvider" && ok {
        let state = shared.lock().expect("recorder state");
        let added =
            form_param(&request_body, "OpenIDConnectProviderArn").and_then(|arn| state.oidc_client_ids.get(&arn));
        if let Some(added) = added {
            body = with_client_ids(&String::from_utf8_lossy(&body), added).into_bytes();
        }
    }
    if let Some(f) = rewrite.filter(|_| head.first().is_some_and(|l| l.contains(" 200 "))) {
        shared.lock().expect("recorder state").use_rewrite(&operation);
        body = f(&String::from_utf8_lossy(&body)).into_bytes();
    }
    // What AWS does with the call is done (the emulated parts above included); only the answer goes missing.
    if lose_answer {
        let _ = client_w.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }
    in_flight.end();
    write_response(&mut client_w, &head, &body)?;
    client_w.flush()?;
    let _ = client_w.shutdown(std::net::Shutdown::Both);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_by_count_rate_window_and_latency() {
        let mut state = Shared { rng: 42, ..Default::default() };
        state.faults.push(Fault::latency("*", Duration::from_millis(30)));
        state.faults.push(Fault::throttle("GetRole").times(2));
        state.faults.push(Fault::unavailable("*").rate(0.25));
        let (latency, first) = state.faults_for("GetRole");
        assert_eq!(latency, Duration::from_millis(30));
        assert!(matches!(first, Some(FaultKind::Throttle)));
        state.faults_for("GetRole");
        // Used up: from now on only the 25 % rate answers, about a quarter of the time.
        let hits = (0..4000).filter(|_| state.faults_for("GetRole").1.is_some()).count();
        assert!((800..1200).contains(&hits), "{hits} of 4000");

        let mut state = Shared::default();
        state.faults.extend(Fault::iam_propagation(Duration::from_secs(60)));
        assert!(state.faults_for("CreateDeliveryStream").1.is_none(), "no role created yet");
        state.succeeded.insert("CreateRole".into(), Instant::now());
        assert!(state.faults_for("CreateDeliveryStream").1.is_some());
        assert!(state.faults_for("PutSubscriptionFilter").1.is_some());
        state.succeeded.insert("CreateRole".into(), Instant::now() - Duration::from_secs(61));
        assert!(state.faults_for("CreateDeliveryStream").1.is_none(), "propagated");
    }

    #[test]
    fn quotas_are_token_buckets_per_account_region_and_operation() {
        let auth = |region: &str, service: &str| {
            format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host")
        };
        let describe = Call { operation: "DescribeSubscriptionFilters".into(), write: false };
        let mut state = Shared::default();
        assert!((0..100).all(|_| state.within_quota(Some(&auth("eu-west-1", "logs")), &describe)), "off");
        state.quota_scale = Some(1.0);
        // 5 per second with a burst of 5: the sixth call at once is throttled, in this region only.
        let passed = (0..6).filter(|_| state.within_quota(Some(&auth("eu-west-1", "logs")), &describe)).count();
        assert_eq!(passed, 5);
        assert!(state.within_quota(Some(&auth("us-east-1", "logs")), &describe));
        let other = Call { operation: "DescribeLogGroups".into(), write: false };
        assert!(state.within_quota(Some(&auth("eu-west-1", "logs")), &other), "another operation's bucket");
        assert_eq!(state.throttled, 1);
        // REST calls share their class's bucket: EKS writes at 2 per second.
        let update = Call { operation: "POST /clusters/a/update-config".into(), write: true };
        let passed = (0..3).filter(|_| state.within_quota(Some(&auth("eu-west-1", "eks")), &update)).count();
        assert_eq!(passed, 2);
        std::thread::sleep(Duration::from_millis(550));
        assert!(state.within_quota(Some(&auth("eu-west-1", "eks")), &update), "refilled");
        assert_eq!(
            credential_scope(&auth("eu-west-1", "logs")),
            Some(("testing".into(), "eu-west-1".into(), "logs".into()))
        );
    }

    #[test]
    fn oidc_audiences_are_decoded_and_shown() {
        let body = b"Action=AddClientIDToOpenIDConnectProvider&ClientID=api%3A%2F%2F1462&OpenIDConnectProviderArn=arn%3Aaws%3Aiam%3A%3A1%3Aoidc-provider%2Fsts.windows.net%2Ft%2F&Version=2010-05-08";
        assert_eq!(form_param(body, "ClientID").as_deref(), Some("api://1462"));
        assert_eq!(
            form_param(body, "OpenIDConnectProviderArn").as_deref(),
            Some("arn:aws:iam::1:oidc-provider/sts.windows.net/t/")
        );
        assert_eq!(form_param(b"A=%zz&B=1", "A").as_deref(), Some("%zz"));
        let ids = ["api://1462".to_string()];
        assert_eq!(
            with_client_ids("<R><ClientIDList><member>sts</member></ClientIDList></R>", &ids),
            "<R><ClientIDList><member>sts</member><member>api://1462</member></ClientIDList></R>"
        );
        assert_eq!(
            with_client_ids("<R><ClientIDList/></R>", &ids),
            "<R><ClientIDList><member>api://1462</member></ClientIDList></R>"
        );
    }

    #[test]
    fn classifies_every_protocol() {
        assert_eq!(
            classify("POST", "/", None, b"Action=GetRole&RoleName=x"),
            Call { operation: "GetRole".into(), write: false }
        );
        assert!(classify("POST", "/", None, b"Action=CreateRole&RoleName=x").write);
        assert!(!classify("POST", "/", Some("Firehose_20150804.DescribeDeliveryStream"), b"{}").write);
        assert!(classify("POST", "/", Some("Logs_20140328.PutSubscriptionFilter"), b"{}").write);
        assert!(!classify("GET", "/bucket?tagging", None, b"").write);
        assert!(!classify("HEAD", "/bucket", None, b"").write);
        assert!(classify("PUT", "/bucket?policy", None, b"{}").write);
        assert!(classify("POST", "/clusters/x/update-config", None, b"{}").write);
    }
}
