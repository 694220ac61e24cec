//! Staying under AWS's request-rate quotas by ourselves: every call eksaudit sends waits for a token of its
//! bucket (region, service, operation or class, from `quotas.rs`' table) before it goes out, retries included;
//! a throttled answer halves that bucket's rate for a while (it recovers by a twentieth of the quota on each
//! success), and throttling is retried for as long as [`THROTTLE_BUDGET`], not for the SDK's few attempts.
//!
//! Three pieces, all SDK extension points: an interceptor ([`Paced`]) names each request's bucket (as a request
//! extension), sees throttled answers and lets the SDK's standard retry go on past its attempts while the budget
//! lasts; an HTTP client wrapper ([`PacedHttpClient`]) takes a slot among `--max-concurrency` calls in flight and
//! then, holding it, the bucket's token (see [`Pacer::admit`]); the [`Pacer`] holds the buckets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime::client::retries::classifiers::run_classifiers_on_ctx;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::classifiers::{RetryAction, RetryReason};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::{ErrorKind, RetryConfig};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::quotas::{self, Bucket, Class};

/// How long one call keeps retrying throttled answers (each retry waits its backoff and its token first).
pub const THROTTLE_BUDGET: Duration = Duration::from_secs(600);

/// How long a call waits for AWS's answer to one attempt once it is sent (the wait for its token and slot not
/// counted): AWS's control-plane calls answer in a second or two, and the AWS CLI and boto3 wait 60 s for a read.
/// Without it, an endpoint or proxy that takes the connection and never answers would hang a scheduled drift
/// for ever; past it, the attempt fails as a timeout, which the SDK retries and `retry::ConnectAttempts` counts.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Calls in flight at once, unless `--max-concurrency` says otherwise.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// The share of a quota eksaudit uses: a margin for clocks and for the order calls arrive in.
const MARGIN: f64 = 0.9;

/// How often the same service and region are reported throttled.
const NOTICE_EVERY: Duration = Duration::from_secs(5);

/// The region of global services' buckets (IAM, STS).
pub(crate) const GLOBAL: &str = "global";

type Key = (String, &'static str, Bucket);

#[derive(Debug)]
struct Slot {
    tokens: f64,
    capacity: f64,
    quota: f64,
    /// The share of the quota used now: 1 until AWS throttles, then halved, recovering on success.
    factor: f64,
    at: Instant,
    /// When AWS's throttling last halved the rate.
    slowed: Option<Instant>,
}

/// At most one halving of a bucket's rate in this time: a bucket holds a second of its quota, and the calls sent
/// before AWS's first throttled answer came back come back throttled too, answers to the same overrun; halving
/// for each of them would take the rate to a twentieth for one burst.
const SLOW_DOWN_EVERY: Duration = Duration::from_secs(1);

impl Slot {
    fn rate(&self) -> f64 {
        self.quota * self.factor
    }

    /// AWS throttled a call of this bucket: its bucket is empty (another run, or another tool, drew on the same
    /// quota), so ours is emptied too and refills from now, and the rate is halved, once per burst.
    fn throttled(&mut self, now: Instant) {
        (self.tokens, self.at) = (0.0, now);
        if self.slowed.is_none_or(|at| now.duration_since(at) >= SLOW_DOWN_EVERY) {
            self.factor = (self.factor * 0.5).max(0.05);
            self.slowed = Some(now);
        }
    }

    /// Takes a token if the bucket holds one; else how long until it will.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let rate = self.rate();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// The buckets of one run, shared by every client.
#[derive(Debug)]
pub struct Pacer {
    slots: Mutex<HashMap<Key, Slot>>,
    in_flight: Semaphore,
    /// Retry throttling past the SDK's attempts (off when the user set `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE`:
    /// theirs win, as everywhere in the SDK).
    retry_throttling: bool,
    noticed: Mutex<HashMap<(String, &'static str), Instant>>,
    /// Where "throttled by CloudWatch Logs in eu-west-1, waiting" goes (`ConnectionSettings::notice`); without
    /// one, to the `-v` log.
    notice: Option<Notice>,
    /// [`ANSWER_TIMEOUT`], shorter in tests.
    answer_timeout: Duration,
    /// A member account's pacer: its id, before its notices (`[111111111111] throttled by …`).
    account: Option<String>,
}

/// Says something to the person watching the run (the binary prints it above its progress line).
pub type Notice = fn(&str);

impl Pacer {
    /// Whether throttled calls are retried past the SDK's attempts (see `retry_throttling`).
    pub fn retries_throttling(&self) -> bool {
        self.retry_throttling
    }

    pub fn new(max_concurrency: usize, retry_throttling: bool) -> Pacer {
        Pacer {
            slots: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(max_concurrency.max(1)),
            retry_throttling,
            noticed: Mutex::new(HashMap::new()),
            notice: None,
            answer_timeout: ANSWER_TIMEOUT,
            account: None,
        }
    }

    /// The same, for a member account (quotas are per account): its notices name it.
    pub fn for_account(self, account: &str) -> Pacer {
        Pacer { account: Some(account.to_string()), ..self }
    }

    /// The same, saying when a run is slowed through `notice`.
    pub fn with_notice(self, notice: Option<Notice>) -> Pacer {
        Pacer { notice, ..self }
    }

    /// The same, giving up on an answer sooner than [`ANSWER_TIMEOUT`].
    #[cfg(test)]
    fn with_answer_timeout(self, answer_timeout: Duration) -> Pacer {
        Pacer { answer_timeout, ..self }
    }

    /// Where this run's notices go.
    pub fn notice(&self) -> Option<Notice> {
        self.notice
    }

    fn with_slot<T>(&self, ticket: &Ticket, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let key = (ticket.region.clone(), ticket.service, ticket.bucket.clone());
        let slot = slots.entry(key).or_insert_with(|| Slot {
            tokens: (ticket.quota.burst * MARGIN).max(1.0),
            capacity: (ticket.quota.burst * MARGIN).max(1.0),
            quota: ticket.quota.per_second * MARGIN,
            factor: 1.0,
            at: Instant::now(),
            slowed: None,
        });
        f(slot)
    }

    /// Waits until the call may go out: a slot among the calls in flight, then its bucket's token, taken only
    /// while holding the slot, and the call is sent at once. A call never waits for its token holding a slot (the
    /// slots would fill with the calls of one region's slowest bucket while the other buckets go unused), nor takes
    /// its token and then waits for a slot (calls whose tokens were spread out would leave together once slots
    /// free up: a burst AWS throttles, though each token was on time).
    async fn admit(&self, ticket: Option<&Ticket>) -> Option<SemaphorePermit<'_>> {
        loop {
            let permit = self.in_flight.acquire().await.ok();
            let Some(ticket) = ticket else { return permit };
            match self.with_slot(ticket, |s| s.take(Instant::now())) {
                Ok(()) => return permit,
                Err(wait) => {
                    drop(permit);
                    tracing::trace!(service = ticket.service, region = %ticket.region, wait_ms = wait.as_millis() as u64, "pacing");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn throttled(&self, ticket: &Ticket) {
        let now = Instant::now();
        self.with_slot(ticket, |s| s.throttled(now));
        let mut noticed = self.noticed.lock().unwrap_or_else(|e| e.into_inner());
        let last = noticed.entry((ticket.region.clone(), ticket.service)).or_insert(now - NOTICE_EVERY);
        if now.duration_since(*last) >= NOTICE_EVERY {
            *last = now;
            let account = self.account.as_ref().map(|a| format!("[{a}] ")).unwrap_or_default();
            let text = format!("{account}{}", throttled_text(ticket.service, &ticket.region));
            match self.notice {
                Some(notice) => notice(&text),
                None => tracing::info!("{text}"),
            }
        }
    }

    fn succeeded(&self, ticket: &Ticket) {
        self.with_slot(ticket, |s| s.factor = (s.factor + 0.05).min(1.0));
    }
}

/// What a throttled run says: the service and, for a regional one, the region. A global service (IAM, STS) has no
/// region to name: its quota is the account's.
fn throttled_text(service: &str, region: &str) -> String {
    let title = quotas::service_title(service);
    match region {
        GLOBAL => format!("throttled by {title}, waiting"),
        region => format!("throttled by {title} in {region}, waiting"),
    }
}

/// A request's bucket, carried from the interceptor to the HTTP client as a request extension.
#[derive(Debug, Clone)]
struct Ticket {
    region: String,
    service: &'static str,
    bucket: Bucket,
    quota: quotas::Quota,
}

/// When the call (all its attempts) started.
#[derive(Debug, Clone, Copy)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// The interceptor of one client: its region and service (the signing name, as the quota table keys it).
#[derive(Debug, Clone)]
pub(crate) struct Paced {
    pub pacer: Arc<Pacer>,
    pub region: String,
    pub service: &'static str,
}

impl Paced {
    fn ticket(&self, cfg: &ConfigBag) -> Ticket {
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_string()).unwrap_or_default();
        let (bucket, quota) = quotas::quota(self.service, Some(&operation), Class::of(&operation));
        Ticket { region: self.region.clone(), service: self.service, bucket, quota }
    }
}

impl Intercept for Paced {
    fn name(&self) -> &'static str {
        "eksaudit-pacing"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context.request_mut().add_extension(self.ticket(cfg));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let ticket = self.ticket(cfg);
        let action = run_classifiers_on_ctx(components.retry_classifiers(), context.inner());
        let throttled = matches!(
            action,
            RetryAction::RetryIndicated(RetryReason::RetryableError { kind: ErrorKind::ThrottlingError, .. })
        );
        if !throttled {
            if !context.inner().is_failed() {
                self.pacer.succeeded(&ticket);
            }
            return Ok(());
        }
        self.pacer.throttled(&ticket);
        // Throttling is AWS asking to slow down, not a failure: while the budget lasts, a throttled attempt adds
        // one to the SDK's attempts, so the standard retry (its backoff, then our token) goes on, and throttles
        // never use up the attempts a 5xx answer or a dropped connection gets.
        let within =
            self.pacer.retry_throttling && cfg.load::<Started>().is_some_and(|s| s.0.elapsed() < THROTTLE_BUDGET);
        if let Some(retry) = cfg.load::<RetryConfig>().cloned().filter(|_| within) {
            let more = retry.max_attempts().saturating_add(1);
            cfg.interceptor_state().store_put(retry.with_max_attempts(more));
        }
        Ok(())
    }
}

/// The HTTP client every paced SDK client sends through: it waits for the request's token and a slot among the
/// calls in flight, then sends with the wrapped client.
#[derive(Debug, Clone)]
pub(crate) struct PacedHttpClient {
    pub inner: SharedHttpClient,
    pub pacer: Arc<Pacer>,
}

impl HttpClient for PacedHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pacer: Arc::clone(&self.pacer),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let ticket = request.extension::<Ticket>().cloned();
        let (inner, pacer) = (self.inner.clone(), Arc::clone(&self.pacer));
        HttpConnectorFuture::new(async move {
            let _slot = pacer.admit(ticket.as_ref()).await;
            match tokio::time::timeout(pacer.answer_timeout, inner.call(request)).await {
                Ok(answer) => answer,
                Err(_) => Err(ConnectorError::timeout(
                    format!("no answer within {:?} of sending the request", pacer.answer_timeout).into(),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Call;

    fn ticket(operation: &str) -> Ticket {
        let (bucket, quota) = quotas::quota("logs", Some(operation), Class::of(operation));
        Ticket { region: "eu-west-1".into(), service: "logs", bucket, quota }
    }

    #[tokio::test]
    async fn calls_are_paced_to_the_quota_and_slow_down_when_throttled() {
        let pacer = Pacer::new(4, true);
        let t = ticket("DescribeSubscriptionFilters");
        // 5 per second with a burst of 5, used at 90 %: ten calls take (10 - 4.5) / 4.5 s.
        let start = Instant::now();
        for _ in 0..10 {
            pacer.admit(Some(&t)).await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1150) && took < Duration::from_millis(1700), "{took:?}");
        pacer.throttled(&t);
        assert!((pacer.with_slot(&t, |s| s.rate()) - 2.25).abs() < 1e-9);
        for _ in 0..20 {
            pacer.succeeded(&t);
        }
        assert!((pacer.with_slot(&t, |s| s.rate()) - 4.5).abs() < 1e-9, "recovered, never above the quota");
        // Another operation has its own bucket.
        let start = Instant::now();
        pacer.admit(Some(&ticket("DescribeLogGroups"))).await;
        assert!(start.elapsed() < Duration::from_millis(50));
    }

    /// A burst that overran AWS's bucket (drained by a run just before) comes back throttled call after call:
    /// the rate is halved once, not once per answer, and the bucket paces from empty.
    #[tokio::test]
    async fn a_burst_of_throttled_answers_halves_the_rate_once_and_empties_the_bucket() {
        let pacer = Pacer::new(4, true);
        let t = ticket("DescribeSubscriptionFilters");
        for _ in 0..4 {
            pacer.throttled(&t);
        }
        assert!((pacer.with_slot(&t, |s| s.rate()) - 2.25).abs() < 1e-9, "halved once");
        // Empty: the next call waits for a token at the halved rate, 1 / 2.25 s.
        let start = Instant::now();
        pacer.admit(Some(&t)).await;
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(400) && took < Duration::from_millis(700), "{took:?}");
        // A throttle a second later is another overrun: halved again.
        tokio::time::sleep(SLOW_DOWN_EVERY).await;
        pacer.throttled(&t);
        assert!((pacer.with_slot(&t, |s| s.rate()) - 1.125).abs() < 1e-9);
    }

    /// What AWS sees of a slow bucket's calls when they share the slots with a fast bucket's: never more, in any
    /// window, than the bucket AWS keeps allows (its quota and burst), although they waited for slots.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_that_waited_for_a_slot_do_not_leave_in_a_burst() {
        let pacer = Arc::new(Pacer::new(2, true));
        let slow = ticket("DescribeSubscriptionFilters");
        let (bucket, fast_quota) = quotas::quota("kms", Some("DescribeKey"), Class::Read);
        let fast = Ticket { region: "eu-west-1".into(), service: "kms", bucket, quota: fast_quota };
        let sent = Arc::new(Mutex::new(Vec::new()));
        let call = |t: Ticket| {
            let (pacer, sent) = (Arc::clone(&pacer), Arc::clone(&sent));
            tokio::spawn(async move {
                let _slot = pacer.admit(Some(&t)).await;
                if t.service == "logs" {
                    sent.lock().unwrap().push(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            })
        };
        // The fast bucket's calls come first and hold both slots for two seconds, while the slow bucket's tokens
        // come due one after another.
        let mut calls: Vec<_> = (0..40).map(|_| call(fast.clone())).collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        calls.extend((0..16).map(|_| call(slow.clone())));
        for c in calls {
            c.await.unwrap();
        }
        let sent = sent.lock().unwrap();
        let quota = slow.quota;
        for (i, a) in sent.iter().enumerate() {
            for (j, b) in sent.iter().enumerate().skip(i) {
                let allowed = quota.burst + quota.per_second * b.duration_since(*a).as_secs_f64();
                assert!((j - i + 1) as f64 <= allowed, "calls {i}..={j} left within {:?}", b.duration_since(*a));
            }
        }
    }

    /// Canned answers, one per attempt, counted: what AWS said to each of a call's attempts.
    #[derive(Debug, Clone)]
    struct Canned {
        answers: Arc<Mutex<std::collections::VecDeque<(u16, &'static str)>>>,
        sent: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl HttpClient for Canned {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    impl HttpConnector for Canned {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (status, body) = self.answers.lock().unwrap().pop_front().expect("an answer for every attempt");
            let status = aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap();
            let response = aws_smithy_runtime_api::http::Response::new(status, body.into());
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    const THROTTLED: (u16, &str) = (
        400,
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>",
    );
    const FAILED: (u16, &str) = (
        500,
        "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>try again</Message></Error><RequestId>2</RequestId></ErrorResponse>",
    );
    const ANSWERED: (u16, &str) = (
        200,
        "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/u</Arn><UserId>U</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>3</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
    );

    /// One GetCallerIdentity through the SDK's standard retry (4 attempts, backoff shortened) with the pacing
    /// interceptor on: whether it succeeded, and how many attempts it made.
    async fn caller_identity(answers: &[(u16, &'static str)]) -> (bool, usize) {
        use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
        let canned = Canned { answers: Arc::new(Mutex::new(answers.iter().copied().collect())), sent: Arc::default() };
        let paced = Paced { pacer: Arc::new(Pacer::new(4, true)), region: "eu-west-1".into(), service: "sts" };
        let config = crate::retry::sts_config(4)
            .http_client(canned.clone())
            .retry_partition(RetryPartition::custom("pace-test").token_bucket(TokenBucket::unlimited()).build())
            .interceptor(paced)
            .build();
        let ok = aws_sdk_sts::Client::from_conf(config).get_caller_identity().send().await.is_ok();
        (ok, canned.sent.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Throttled attempts do not count: a call throttled twice still has its four attempts for a 5xx answer, and
    /// no more.
    #[tokio::test]
    async fn throttled_attempts_leave_every_attempt_to_other_errors() {
        assert_eq!(caller_identity(&[THROTTLED, THROTTLED, FAILED, FAILED, FAILED, ANSWERED]).await, (true, 6));
        assert_eq!(caller_identity(&[THROTTLED, FAILED, FAILED, FAILED, FAILED, ANSWERED]).await, (false, 5));
        assert_eq!(caller_identity(&[FAILED, FAILED, FAILED, FAILED, ANSWERED]).await, (false, 4));
    }

    /// An endpoint that takes every connection and never answers (a hung proxy): each attempt gives up after the
    /// answer timeout, and the call after three of them, as one that cannot reach AWS, naming the wait.
    #[tokio::test]
    async fn an_endpoint_that_never_answers_ends_the_call_after_three_timed_out_attempts() {
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", hung.local_addr().unwrap());
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = hung.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(stream);
            }
        });
        let pacer = Arc::new(Pacer::new(4, true).with_answer_timeout(Duration::from_millis(300)));
        let http = PacedHttpClient { inner: crate::clients::default_https_client(), pacer: Arc::clone(&pacer) };
        let config = crate::retry::sts_config(8)
            .endpoint_url(endpoint)
            .http_client(http)
            .interceptor(Paced { pacer, region: "eu-west-1".into(), service: "sts" })
            .interceptor(crate::retry::ConnectAttempts)
            .build();
        let sts = aws_sdk_sts::Client::from_conf(config);
        let started = Instant::now();
        let err = sts.get_caller_identity().send().call("sts:GetCallerIdentity", "caller").await.unwrap_err();
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3, "{err}");
        assert_eq!(err.kind(), crate::ErrorKind::Unreachable, "{err}");
        assert!(err.to_string().contains("cannot reach AWS: no answer within"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    static HEARD: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn heard(text: &str) {
        HEARD.lock().unwrap().push(text.to_string());
    }

    /// A throttled run says so through its notice, once every few seconds per service and region, naming the
    /// member account whose quota it is.
    #[test]
    fn a_throttled_member_account_says_so_once_naming_the_account() {
        let pacer = Pacer::new(1, true).with_notice(Some(heard)).for_account("111111111111");
        pacer.throttled(&ticket("DescribeLogGroups"));
        pacer.throttled(&ticket("DescribeSubscriptionFilters"));
        assert_eq!(*HEARD.lock().unwrap(), ["[111111111111] throttled by CloudWatch Logs in eu-west-1, waiting"]);
    }

    /// A global service's quota is the account's: its notice names no region (there is none to name).
    #[test]
    fn a_global_service_is_named_without_a_region() {
        assert_eq!(throttled_text("iam", GLOBAL), "throttled by IAM, waiting");
        assert_eq!(throttled_text("logs", "eu-west-1"), "throttled by CloudWatch Logs in eu-west-1, waiting");
    }
}
