//! Waiting on AWS: jittered exponential backoff within a time budget, for the errors AWS's eventual consistency
//! produces (which the SDK's standard retry, made for throttling and 5xx, does not cover); and how many of the
//! SDK's attempts a call that cannot connect at all gets ([`ConnectAttempts`]).

use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::RetryConfig;

use crate::shared::is_code;
use crate::{Error, ErrorKind};

/// Attempts a call makes at reaching AWS before it gives up. A request that could not reach AWS at all three
/// times running (connection refused, no DNS answer, no route, connect timeout, or no answer within
/// `pace::ANSWER_TIMEOUT`) meets a wrong endpoint, no network or a hung proxy, not a blip: the user hears "cannot reach AWS" after a few seconds of backoff, not after the eight
/// attempts and some forty seconds that AWS's 5xx answers and dropped connections get.
pub const CONNECT_ATTEMPTS: u32 = 3;

/// Connection failures in a row of one call, kept across its attempts.
#[derive(Debug, Clone, Copy)]
struct ConnectFailures(u32);

impl Storable for ConnectFailures {
    type Storer = StoreReplace<Self>;
}

/// An SDK interceptor ending a call's retries after [`CONNECT_ATTEMPTS`] attempts in a row that could not
/// connect or were not answered in time; every other error keeps the SDK's attempts. On only where eksaudit sets the attempts (the user's
/// `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE` win, as everywhere in the SDK).
#[derive(Debug)]
pub(crate) struct ConnectAttempts;

impl Intercept for ConnectAttempts {
    fn name(&self) -> &'static str {
        "eksaudit-connect-attempts"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let refused = matches!(
            context.inner().output_or_error(),
            Some(Err(e)) if e.as_connector_error().is_some_and(|e| could_not_connect(e) || e.is_timeout())
        );
        let failures = if refused { cfg.load::<ConnectFailures>().map_or(0, |f| f.0) + 1 } else { 0 };
        cfg.interceptor_state().store_put(ConnectFailures(failures));
        if failures >= CONNECT_ATTEMPTS {
            if let Some(retry) = cfg.load::<RetryConfig>().cloned() {
                let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
                cfg.interceptor_state().store_put(retry.with_max_attempts(attempts));
            }
        }
        Ok(())
    }
}

/// Whether the attempt failed before a connection was open: hyper's client says so of its connect phase (DNS,
/// TCP, TLS handshake, connect timeout). A connection AWS (or a proxy) dropped mid-request is not one.
fn could_not_connect(error: &ConnectorError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<hyper_util::client::legacy::Error>().is_some_and(|h| h.is_connect()) {
            return true;
        }
        next = e.source();
    }
    false
}

/// How long one kind of wait may take, and how often it looks.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub total: Duration,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Budget {
    pub const fn new(total_secs: u64) -> Budget {
        Budget {
            total: Duration::from_secs(total_secs),
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// The budgets of apply and destroy. Terraform uses 2 minutes for IAM propagation to Firehose and 5 for
/// CloudWatch Logs' test message; EKS logging updates take minutes.
#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    pub iam_propagation: Budget,
    pub stream_active: Budget,
    pub filter_test_message: Budget,
    pub cluster_update: Budget,
    pub s3_conflict: Budget,
}

impl Budgets {
    /// Every budget at most `limit` (the CLI's `--wait-timeout`).
    pub fn capped(self, limit: Duration) -> Budgets {
        let cap = |b: Budget| Budget { total: b.total.min(limit), ..b };
        Budgets {
            iam_propagation: cap(self.iam_propagation),
            stream_active: cap(self.stream_active),
            filter_test_message: cap(self.filter_test_message),
            cluster_update: cap(self.cluster_update),
            s3_conflict: cap(self.s3_conflict),
        }
    }
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets {
            iam_propagation: Budget::new(120),
            stream_active: Budget::new(600),
            filter_test_message: Budget::new(300),
            cluster_update: Budget::new(1200),
            s3_conflict: Budget::new(60),
        }
    }
}

/// A delay in [d/2, d], so concurrent waiters do not retry in step.
pub(crate) fn jittered(d: Duration) -> Duration {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.subsec_nanos()).unwrap_or(0);
    let fraction = 0.5 + f64::from(nanos % 1000) / 2000.0;
    d.mul_f64(fraction)
}

/// Calls `op` until it succeeds, fails with an error `retryable` rejects, or the budget is spent (then the last
/// error is returned, saying how long it was tried).
pub async fn retry<T, F, Fut>(budget: Budget, retryable: impl Fn(&Error) -> bool, mut op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    let mut delay = budget.first_delay;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) => {
                let Some(pause) = pause_within(budget, start, delay) else {
                    return Err(e.gave_up_after(start.elapsed()));
                };
                tracing::debug!(error = %e, delay_ms = pause.as_millis() as u64, "retrying");
                tokio::time::sleep(pause).await;
                delay = (delay * 2).min(budget.max_delay);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The pause before the next attempt: the jittered backoff, shortened to what is left of the budget so that the
/// last attempt comes at its end (a budget is the whole time given, not the backoffs that fit in it); `None` once
/// it is spent.
fn pause_within(budget: Budget, start: Instant, delay: Duration) -> Option<Duration> {
    let left = budget.total.checked_sub(start.elapsed()).filter(|left| !left.is_zero())?;
    Some(jittered(delay).min(left))
}

/// Polls `check` until it returns `Some`, within the budget.
pub async fn wait_for<T, F, Fut>(budget: Budget, what: &str, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, Error>>,
{
    let start = Instant::now();
    let mut delay = budget.first_delay;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        let Some(pause) = pause_within(budget, start, delay) else {
            return Err(Error::Timeout { what: what.to_string(), after: start.elapsed() });
        };
        tokio::time::sleep(pause).await;
        delay = (delay * 2).min(budget.max_delay);
    }
}

// --- The error policy: what AWS says while it is not consistent yet ---------------------------------------
// Each kind's actions retry exactly these, each around the one call AWS answers them to; kept here, apart from
// the actions, so the policy is read in one place.

/// Firehose's words while the role it was given has not propagated yet.
pub(crate) fn iam_not_propagated(e: &Error) -> bool {
    let m = e.message().to_ascii_lowercase();
    [
        "unable to assume role",
        "is not authorized to",
        "access was denied",
        "the security token included in the request is invalid",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// SQS and S3's words while a principal or destination named in a policy is not known everywhere yet (a reader
/// role just created, a queue policy just set).
pub(crate) fn policy_not_propagated(e: &Error) -> bool {
    let m = e.message();
    (is_code(e, &["InvalidAttributeValue", "InvalidParameterValue"]) && m.contains("Policy"))
        || m.contains("Unable to validate the following destination configurations")
}

/// Whether a failed call may still have been made: no answer came back (or none the SDK could read), or AWS
/// answered with its own internal failure. A refusal with a reason (a 4xx code) made nothing.
pub(crate) fn answer_may_be_lost(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Unreachable => true,
        // Throttled: AWS turned it away before making anything.
        ErrorKind::Throttled | ErrorKind::AccessDenied | ErrorKind::NotFound => false,
        ErrorKind::Other => matches!(
            e.code(),
            None | Some(
                "KMSInternalException" | "DependencyTimeoutException" | "InternalFailure" | "ServiceUnavailable"
            )
        ),
    }
}

/// KMS's words while a principal its key policy names (a role just created) has not propagated yet; Terraform's
/// AWS provider retries the same for its IAM propagation timeout.
pub(crate) fn kms_principal_not_propagated(e: &Error) -> bool {
    is_code(e, &["MalformedPolicyDocumentException"]) && e.message().contains("invalid principals")
}

/// CloudWatch Logs' words until the stream is ACTIVE and the role has propagated.
pub(crate) fn test_message_not_delivered(e: &Error) -> bool {
    // A Lambda destination: its permission for CloudWatch Logs is not visible everywhere yet.
    e.message().contains("Could not deliver test message")
        || e.message().contains("Could not execute the lambda function")
}

/// Lambda's words while the role just created cannot be assumed yet, or while its new grant to send to the
/// dead-letter queue has not reached Lambda ("The provided execution role does not have permissions to call
/// SendMessage on SQS"): CreateFunction and UpdateFunctionConfiguration check the role against DeadLetterConfig.
pub(crate) fn role_not_propagated(e: &Error) -> bool {
    let m = e.message();
    m.contains("cannot be assumed by Lambda") || m.contains("does not have permissions to call SendMessage on SQS")
}

/// S3's answer to concurrent configuration calls on one bucket.
pub(crate) fn s3_conflict(e: &Error) -> bool {
    is_code(e, &["OperationAborted"])
}

/// Refused while the resource is busy (a Firehose stream CREATING, an EKS update in progress).
pub(crate) fn in_use(e: &Error) -> bool {
    is_code(e, &["ResourceInUseException"])
}

/// An STS client's configuration for tests of the retry policy: static credentials, one region, the SDK's
/// standard retry at `max_attempts` with its backoff shortened to milliseconds.
#[cfg(test)]
pub(crate) fn sts_config(max_attempts: u32) -> aws_sdk_sts::config::Builder {
    use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
    let retry = RetryConfig::standard()
        .with_max_attempts(max_attempts)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5));
    aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .retry_config(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn err(code: &str) -> Error {
        Error::Call {
            operation: "x:Y",
            target: "t".into(),
            code: Some(code.into()),
            message: "m".into(),
            kind: ErrorKind::Other,
            source: None,
        }
    }

    fn quick() -> Budget {
        Budget {
            total: Duration::from_millis(300),
            first_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        }
    }

    #[test]
    fn lambda_waits_out_the_role_and_its_dead_letter_grant() {
        let with = |message: &str| Error::Call {
            operation: "lambda:CreateFunction",
            target: "f".into(),
            code: Some("InvalidParameterValueException".into()),
            message: message.into(),
            kind: ErrorKind::Other,
            source: None,
        };
        assert!(role_not_propagated(&with("The role defined for the function cannot be assumed by Lambda.")));
        assert!(role_not_propagated(&with(
            "The provided execution role does not have permissions to call SendMessage on SQS"
        )));
        assert!(!role_not_propagated(&with("Unzipped size must be smaller than 262144000 bytes")));
        assert!(!role_not_propagated(&err("InvalidParameterValueException")));
    }

    #[tokio::test]
    async fn retries_until_success() {
        let mut calls = 0;
        let out = retry(
            quick(),
            |e| e.code() == Some("Later"),
            || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(err("Later"))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(out.unwrap(), 3);
    }

    #[tokio::test]
    async fn stops_on_other_errors_and_when_the_budget_is_spent() {
        let mut calls = 0;
        let out: Result<(), Error> = retry(
            quick(),
            |e| e.code() == Some("Later"),
            || {
                calls += 1;
                async { Err(err("Fatal")) }
            },
        )
        .await;
        assert_eq!(out.unwrap_err().code(), Some("Fatal"));
        assert_eq!(calls, 1);
        let out: Result<(), Error> = retry(quick(), |_| true, || async { Err(err("Later")) }).await;
        assert!(out.unwrap_err().to_string().contains("gave up after"));
        let waited: Result<(), Error> = wait_for(quick(), "the thing", || async { Ok(None) }).await;
        assert!(waited.unwrap_err().to_string().contains("the thing"));
    }

    #[tokio::test]
    async fn a_budget_is_used_to_its_end_with_a_last_attempt_there() {
        // Backoffs of 250 ms doubling: within 1 s, a check at about 0, 0.25, 0.75 s, then one at the end, not
        // a stop at 0.75 s because the next backoff (1 s) would not fit.
        let budget = Budget { total: Duration::from_secs(1), ..Budget::new(1) };
        for which in ["wait_for", "retry"] {
            let checks = std::sync::atomic::AtomicUsize::new(0);
            let started = Instant::now();
            let outcome: Result<(), Error> = if which == "wait_for" {
                wait_for(budget, "the thing", || async {
                    checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(None)
                })
                .await
            } else {
                retry(
                    budget,
                    |_| true,
                    || async {
                        checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        Err(err("Later"))
                    },
                )
                .await
            };
            let took = started.elapsed();
            assert!(outcome.is_err(), "{which}");
            assert!(took >= Duration::from_millis(990) && took < Duration::from_millis(1500), "{which}: {took:?}");
            assert!(checks.into_inner() >= 3, "{which}");
        }
    }

    /// Counts a call's attempts.
    #[derive(Debug, Clone, Default)]
    struct Attempts(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Intercept for Attempts {
        fn name(&self) -> &'static str {
            "count-attempts"
        }

        fn read_before_attempt(
            &self,
            _: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    /// One GetCallerIdentity against `endpoint` with the SDK's standard retry at eight attempts (backoff
    /// shortened) and [`ConnectAttempts`]: how many attempts it made, and the error.
    async fn attempts_against(endpoint: &str) -> (usize, Error) {
        use crate::shared::Call;
        let attempts = Attempts::default();
        let config = sts_config(8)
            .endpoint_url(endpoint)
            .http_client(crate::clients::default_https_client())
            .interceptor(ConnectAttempts)
            .interceptor(attempts.clone())
            .build();
        let sts = aws_sdk_sts::Client::from_conf(config);
        let err = sts.get_caller_identity().send().call("sts:GetCallerIdentity", "caller").await.unwrap_err();
        (attempts.0.load(std::sync::atomic::Ordering::SeqCst), err)
    }

    /// Nothing listens: three attempts, then "cannot reach AWS". A server that takes the connection and drops it
    /// mid-request is a blip the SDK's attempts are for: all eight.
    #[tokio::test]
    async fn a_call_that_cannot_connect_gives_up_after_three_attempts_and_a_dropped_one_after_all() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let (attempts, err) = attempts_against(&refused).await;
        assert_eq!((attempts, err.kind()), (CONNECT_ATTEMPTS as usize, ErrorKind::Unreachable), "{err}");
        assert!(err.to_string().contains("cannot reach AWS"), "{err}");

        let dropping = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dropped = format!("http://{}", dropping.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = dropping.accept().await {
                let mut request = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut request).await;
            }
        });
        let (attempts, _) = attempts_against(&dropped).await;
        assert_eq!(attempts, 8);
    }
}
