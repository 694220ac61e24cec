//! What every kind's module shares: the one call helper, "not found" and "unknown", request building errors,
//! desired fields, tags and policy documents. Kept out of the verb and kind modules so none imports another
//! for a helper.

use std::collections::BTreeMap;
use std::future::Future;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use eksaudit_plan::{policy, DesiredResource, Observation, ObservedResource};
use eksaudit_spec::OWNER_TAG_KEY;
use serde_json::Value;

use crate::{Error, ErrorKind};

/// The one call helper. `client.operation()...send().call("svc:Operation", target).await` sends the request and,
/// when it fails, names the operation and what it was on, keeping the SDK error as the source. The builder chain
/// stays written out at every call site: `tests/it/policy.rs` reads the operations from it.
pub(crate) trait Call<T, E, R>: Future<Output = Result<T, SdkError<E, R>>> + Sized {
    async fn call(self, operation: &'static str, target: impl Into<String>) -> Result<T, Error>;
}

impl<F, T, E, R> Call<T, E, R> for F
where
    F: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: crate::error::RawAnswer,
{
    async fn call(self, operation: &'static str, target: impl Into<String>) -> Result<T, Error> {
        self.await.named(operation, target)
    }
}

/// The same for a result already in hand: a page of a paginator.
pub(crate) trait Named<T> {
    fn named(self, operation: &'static str, target: impl Into<String>) -> Result<T, Error>;
}

impl<T, E, R> Named<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: crate::error::RawAnswer,
{
    fn named(self, operation: &'static str, target: impl Into<String>) -> Result<T, Error> {
        self.map_err(|e| Error::call(operation, target, e))
    }
}

/// `Ok(None)` for "does not exist", the error otherwise.
pub(crate) fn optional<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A read that failed: the resource could not be checked, and why.
pub(crate) fn unknown(err: &Error) -> Observation {
    Observation::Unknown { reason: reason(err) }
}

/// Why a read failed, in the words reports use.
pub(crate) fn reason(err: &Error) -> String {
    match err.kind() {
        ErrorKind::AccessDenied => format!("access denied ({err})"),
        ErrorKind::Throttled => format!("throttled, retries exhausted ({err})"),
        _ => err.to_string(),
    }
}

pub(crate) fn build_error(e: impl std::fmt::Display) -> Error {
    Error::Failed { what: format!("could not build an AWS request: {e}") }
}

pub(crate) fn is_code(e: &Error, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

/// Treats "already exists" as success: the resource is there, which is what a create wants.
pub(crate) fn exists_ok(r: Result<(), Error>) -> Result<(), Error> {
    match r {
        Err(e)
            if is_code(
                &e,
                &[
                    "EntityAlreadyExists",
                    "ResourceAlreadyExistsException",
                    "BucketAlreadyOwnedByYou",
                    "ResourceInUseException",
                ],
            ) && !e.message().contains("is not ACTIVE") =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Treats "not found" as success: a delete wants it gone.
pub(crate) fn gone_ok(r: Result<(), Error>) -> Result<(), Error> {
    match r {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// A desired field's value (`null` when the desired state has no such field).
pub(crate) fn field<'a>(d: &'a DesiredResource, name: &str) -> &'a Value {
    d.fields.get(name).map(|f| &f.value).unwrap_or(&Value::Null)
}

/// A value as the text an SDK setter takes: a JSON string's contents, anything else as JSON.
pub(crate) fn text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

/// A desired string field, empty when missing.
pub(crate) fn string(d: &DesiredResource, name: &str) -> String {
    field(d, name).as_str().unwrap_or_default().to_string()
}

pub(crate) fn tag_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A policy document as read from AWS (`null` when there is none or it does not parse).
pub(crate) fn policy_value(text: Option<&str>) -> Value {
    text.and_then(policy::parse).unwrap_or(Value::Null)
}

/// Whether a resource carries this pipeline's owner tag.
pub(crate) fn owned_by(o: &ObservedResource, pipeline: &str) -> bool {
    o.tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(pipeline)
}

#[cfg(test)]
mod tests {
    /// The clients as the aws crate's sources name them (fields of `RegionClients`, `Aws::iam()`, `Aws::sts()`
    /// and local aliases of the same names), by the IAM service prefix of their operations.
    const CLIENTS: [&str; 11] =
        ["eks", "s3", "sns", "sqs", "firehose", "logs", "iam", "sts", "kms", "lambda", "cloudwatch"];

    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.display().to_string(), std::fs::read_to_string(&path).expect("source")));
            }
        }
    }

    /// Every `.call("svc:Operation", ...)` names the operation of the builder chain it sends, so an error says
    /// which call failed (the operation name is written by hand beside each chain).
    #[test]
    fn every_call_names_the_operation_it_sends() {
        let mut files = Vec::new();
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut checked = 0;
        let mut problems = Vec::new();
        for (file, source) in files {
            // Comments out (they show the helper's use, not a call).
            let code: String = source
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .flat_map(str::chars)
                .filter(|c| !c.is_whitespace())
                .collect();
            for (at, _) in code.match_indices(".send().call(\"") {
                let rest = &code[at + ".send().call(\"".len()..];
                let named = &rest[..rest.find('"').expect("a closing quote")];
                let (service, operation) = named.split_once(':').expect("svc:Operation");
                // The last `client.operation(` before the send: the chain's builder.
                let before = &code[..at];
                let builder = CLIENTS
                    .iter()
                    .flat_map(|client| {
                        [format!("{client}."), format!("{client}().")].into_iter().flat_map(|prefix| {
                            before.match_indices(&prefix).map(|(i, p)| (i + p.len(), *client)).collect::<Vec<_>>()
                        })
                    })
                    .filter(|(i, _)| {
                        let name: String =
                            before[*i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                        let operation_like =
                            name.contains('_') || ["subscribe", "unsubscribe", "publish"].contains(&name.as_str());
                        before[*i + name.len()..].starts_with('(') && operation_like
                    })
                    .max_by_key(|(i, _)| *i);
                let Some((i, client)) = builder else {
                    problems.push(format!("{file}: no builder before .call(\"{named}\")"));
                    continue;
                };
                let name: String = before[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if client != service || name.replace('_', "") != operation.to_ascii_lowercase() {
                    problems.push(format!("{file}: {client}.{name}() sent as \"{named}\""));
                }
                checked += 1;
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        assert!(checked > 100, "the scan found only {checked} calls");
    }
}
