//! The one error type of the AWS edge: which call failed, on what, and AWS's own words.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// How a failed call should be treated by callers deciding between retry, "not checked" and failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    AccessDenied,
    Throttled,
    NotFound,
    /// No answer: connection refused, timeout, DNS.
    Unreachable,
    Other,
}

/// The SDK's own error behind a failed call, kept for `source()` (its request id, raw response, retry history).
pub type SdkSource = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{operation} on {target} failed: {message}")]
    Call {
        operation: &'static str,
        target: String,
        code: Option<String>,
        message: String,
        kind: ErrorKind,
        /// `None` only for errors made in tests.
        #[source]
        source: Option<SdkSource>,
    },
    #[error(
        "the credentials belong to account {actual} ({arn}), but pipeline.account_id is {expected}; \
         switch credentials (--profile or AWS_PROFILE) or fix pipeline.account_id"
    )]
    AccountMismatch { expected: String, actual: String, arn: String },
    #[error("timed out after {}s waiting for {what}", after.as_secs())]
    Timeout { what: String, after: std::time::Duration },
    #[error("{what}")]
    Failed { what: String },
    /// The credentials could not be found, loaded or used: what is wrong, and what to run.
    #[error("{problem}; {fix}")]
    Credentials {
        problem: String,
        fix: String,
        #[source]
        source: Option<SdkSource>,
    },
}

/// What to do when no credentials, or stale ones, are what stops the run.
const SIGN_IN: &str = "sign in with `aws sso login --profile P` and pass --profile P (or set AWS_PROFILE=P), or set \
                       AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/// The SDK's raw answer, for its HTTP status (implemented for the SDK's one response type).
pub trait RawAnswer: std::fmt::Debug + Send + Sync + 'static {
    fn http_status(&self) -> u16;
}

impl RawAnswer for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// What the SDK says of an answer it could not read as AWS's (which parser failed on what), for `-vv`: the
/// screen's line says only that the answer was not AWS's.
fn sdk_account(operation: &str, err: &dyn std::error::Error) {
    tracing::debug!("{operation}: the SDK could not read the answer: {}", DisplayErrorContext(err));
}

/// An answer with no AWS error in it (no code, no message, or no answer the SDK could read): what a web server
/// or a proxy that is not AWS sends. The SDK's own account of it (which parser failed on what) is for `-vv`.
fn not_an_aws_answer(status: u16) -> String {
    format!(
        "the endpoint answered HTTP {status} with no AWS error in it, which is what a server or proxy that is not \
         AWS sends; check --endpoint-url, AWS_ENDPOINT_URL and HTTPS_PROXY"
    )
}

/// A credentials problem behind a failed call, worded for the person who has to fix it: the chain found nothing,
/// the profile does not exist, the SSO session expired, or AWS refused the credentials. `None` for anything else.
fn credentials_problem<E, R>(err: &SdkError<E, R>) -> Option<(String, String)>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_credential_types::provider::error::CredentialsError;
    if let SdkError::ServiceError(service) = err {
        return match service.err().code() {
            Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired") => Some((
                "the AWS session has expired (its temporary credentials are no longer valid)".into(),
                format!("get new ones and run again: {SIGN_IN}"),
            )),
            Some("InvalidClientTokenId" | "UnrecognizedClientException" | "SignatureDoesNotMatch") => Some((
                "AWS does not recognise these credentials (a wrong, deleted or mistyped access key, or one of \
                 another partition)"
                    .into(),
                "check which credentials are in use with `aws sts get-caller-identity`, then fix the profile or \
                 the AWS_* variables"
                    .into(),
            )),
            _ => None,
        };
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(c) = cause {
        if let Some(credentials) = c.downcast_ref::<CredentialsError>() {
            let text = DisplayErrorContext(credentials).to_string();
            if let Some(profile) = text.split("profile `").nth(1).and_then(|t| t.split('`').next()) {
                if text.contains("was not defined") {
                    return Some((
                        format!("the AWS profile {profile:?} is not defined in ~/.aws/config or ~/.aws/credentials"),
                        "list the profiles with `aws configure list-profiles` and pass one with --profile (or \
                         AWS_PROFILE), or create it with `aws configure sso --profile NAME`"
                            .into(),
                    ));
                }
            }
            if text.to_ascii_lowercase().contains("sso token") {
                return Some((
                    "the AWS SSO session is expired or was never signed in on this machine".into(),
                    "run `aws sso login --profile P` for the profile in use, then run again".into(),
                ));
            }
            return Some(match credentials {
                CredentialsError::CredentialsNotLoaded(_) => (
                    "no AWS credentials found (tried the environment, the AWS config and credentials files, web \
                     identity, and the ECS and EC2 instance metadata)"
                        .into(),
                    SIGN_IN.into(),
                ),
                _ => (format!("the AWS credentials could not be loaded: {text}"), SIGN_IN.into()),
            });
        }
        cause = c.source();
    }
    None
}

impl Error {
    /// A failed SDK call, named by its operation (`s3:PutBucketPolicy`) and what it was on, AWS's code and
    /// message read out, the SDK error kept as the source. Called through [`crate::shared::Call`].
    pub fn call<E, R>(operation: &'static str, target: impl Into<String>, err: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: RawAnswer,
    {
        if let Some((problem, fix)) = credentials_problem(&err) {
            return Error::Credentials { problem, fix, source: Some(Box::new(err)) };
        }
        let (code, message, kind) = match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().map(str::to_string);
                let message = match (&code, e.message().filter(|m| !m.trim().is_empty())) {
                    (_, Some(message)) => message.to_string(),
                    (None, None) => {
                        sdk_account(operation, &err);
                        not_an_aws_answer(service.raw().http_status())
                    }
                    // The code is all AWS said: the SDK's own rendering of the error is its structs, for -vv.
                    (Some(code), None) => format!("{code} (HTTP {}, no message)", service.raw().http_status()),
                };
                let kind = classify(code.as_deref());
                (code, message, kind)
            }
            SdkError::ResponseError(response) => {
                sdk_account(operation, &err);
                (None, not_an_aws_answer(response.raw().http_status()), ErrorKind::Other)
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                // The innermost cause ("Connection refused", "dns error") says what a person can act on.
                let mut cause: &dyn std::error::Error = &err;
                while let Some(next) = cause.source() {
                    cause = next;
                }
                (
                    None,
                    format!("cannot reach AWS: {cause}; check the network, --endpoint-url and AWS_ENDPOINT_URL"),
                    ErrorKind::Unreachable,
                )
            }
            _ => (None, DisplayErrorContext(&err).to_string(), ErrorKind::Other),
        };
        Error::Call { operation, target: target.into(), code, message, kind, source: Some(Box::new(err)) }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Call { kind, .. } => *kind,
            _ => ErrorKind::Other,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// AWS's own message, for matching the eventual-consistency errors AWS documents only by their words.
    pub fn message(&self) -> String {
        match self {
            Error::Call { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    pub(crate) fn gave_up_after(self, elapsed: std::time::Duration) -> Error {
        match self {
            Error::Call { operation, target, code, message, kind, source } => Error::Call {
                operation,
                target,
                code,
                message: format!("{message} (gave up after {}s of retries)", elapsed.as_secs()),
                kind,
                source,
            },
            other => other,
        }
    }
}

fn classify(code: Option<&str>) -> ErrorKind {
    match code {
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError") => {
            ErrorKind::AccessDenied
        }
        Some(
            "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "SlowDown" | "RequestLimitExceeded",
        ) => ErrorKind::Throttled,
        Some(
            "NoSuchEntity"
            | "NoSuchBucket"
            | "NotFound"
            | "NotFoundException"
            | "ResourceNotFoundException"
            | "NoSuchBucketPolicy"
            | "NoSuchLifecycleConfiguration"
            | "NoSuchTagSet"
            | "NoSuchTagSetError"
            | "ServerSideEncryptionConfigurationNotFoundError"
            | "NoSuchPublicAccessBlockConfiguration"
            | "OwnershipControlsNotFoundError"
            | "QueueDoesNotExist"
            | "AWS.SimpleQueueService.NonExistentQueue",
        ) => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(classify(Some("AccessDenied")), ErrorKind::AccessDenied);
        assert_eq!(classify(Some("ThrottlingException")), ErrorKind::Throttled);
        assert_eq!(classify(Some("NoSuchEntity")), ErrorKind::NotFound);
        assert_eq!(classify(Some("AWS.SimpleQueueService.NonExistentQueue")), ErrorKind::NotFound);
        assert_eq!(classify(Some("QueueDoesNotExist")), ErrorKind::NotFound);
        assert_eq!(classify(Some("ValidationError")), ErrorKind::Other);
        assert_eq!(classify(None), ErrorKind::Other);
    }
}
