//! AWS's default API rate quotas, per account and region, for every operation eksaudit calls: the one table.
//! eksaudit paces its own calls by it (`pace.rs`); the test harness's quota model (`eksaudit-test-support`'s
//! recorder) throttles by the same table, so a test shows eksaudit stays under it by itself.
//!
//! Keys are the service's signing name (as in a request's credential scope: `logs`, `firehose`, `eks`...) and
//! either one operation (services that quota each operation apart) or the operation class (`Read`: Get, List,
//! Describe, Head; `Write`: the rest) for services whose quota is shared by a class (or whose REST operations a
//! proxy cannot tell apart by name).
//!
//! `Source::Documented` figures are the defaults AWS publishes in the service's quota page; `Source::Conservative`
//! ones are chosen where AWS publishes no per-operation figure, below what accounts see in practice, so pacing by
//! them never overruns the real quota. Sources (issue 19: the pages were found with the docs search, their quota
//! tables mostly not readable from it; each line says what was confirmed):
//! - Firehose: 5 TPS per control-plane API, per account and region (<https://docs.aws.amazon.com/general/latest/gr/fh.html>
//!   and the Firehose developer guide's "Quotas" page); unconfirmed (the table was not in reach).
//! - Lambda: GetFunction 100 requests per second, not adjustable (confirmed, through a transcription of
//!   <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>, "Lambda API requests"); the other
//!   control-plane requests 15 per second (unconfirmed). Paced as one class of 15, GetFunction included: under
//!   both.
//! - KMS: per-operation request quotas (<https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html>,
//!   "Request quotas for each AWS KMS API operation"). The page was found but its table was not readable from
//!   here: the per-operation figures below (5 for key and alias writes, 10 for tags, 1,000/2,000 for reads) are
//!   from memory of it and unconfirmed; all are at or below the page's figures as remembered.
//! - CloudWatch Logs: per-operation TPS in the Service Quotas console and
//!   <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html>; the 5 TPS used for
//!   the describe and put APIs is the lowest of those remembered, unconfirmed against the page (not readable
//!   from here). GetMetricData (CloudWatch): 50 TPS, same status
//!   (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html>).
//! - EKS, IAM, STS, SNS and SQS control planes, S3's bucket configuration APIs (S3 publishes 3,500 writes and 5,500
//!   reads per second per prefix, for objects: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html>),
//!   the Resource Groups Tagging API: no per-operation figure published; conservative.

/// Whether an operation reads (Get, List, Describe, Head) or changes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Read,
    Write,
}

impl Class {
    pub fn of(operation: &str) -> Class {
        if ["Get", "List", "Describe", "Head"].iter().any(|p| operation.starts_with(p)) {
            Class::Read
        } else {
            Class::Write
        }
    }
}

/// Where a figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// AWS's published default.
    Documented,
    /// AWS publishes none: a conservative figure.
    Conservative,
}

/// Which calls share one bucket of a quota.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    Operation(String),
    Class(Class),
}

/// As reports name it: the operation, or the class (`Read`, `Write`).
impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bucket::Operation(op) => f.write_str(op),
            Bucket::Class(c) => write!(f, "{c:?}"),
        }
    }
}

/// One quota: calls per second, sustained, and the burst the bucket holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub per_second: f64,
    pub burst: f64,
    pub source: Source,
}

const fn q(per_second: f64, source: Source) -> Quota {
    Quota { per_second, burst: per_second, source }
}

use Source::{Conservative as C, Documented as D};

/// Per-operation quotas: (signing name, operation, quota).
const OPERATIONS: &[(&str, &str, Quota)] = &[
    // CloudWatch Logs: 5 TPS per operation, per account and region.
    ("monitoring", "GetMetricData", q(50.0, D)),
    ("logs", "DescribeLogGroups", q(5.0, D)),
    ("logs", "DescribeSubscriptionFilters", q(5.0, D)),
    ("logs", "PutSubscriptionFilter", q(5.0, D)),
    ("logs", "DeleteSubscriptionFilter", q(5.0, D)),
    ("logs", "CreateLogGroup", q(5.0, D)),
    ("logs", "DeleteLogGroup", q(5.0, D)),
    ("logs", "PutRetentionPolicy", q(5.0, D)),
    ("logs", "ListTagsForResource", q(5.0, D)),
    ("logs", "TagResource", q(5.0, D)),
    ("logs", "UntagResource", q(5.0, D)),
    ("logs", "AssociateKmsKey", q(5.0, D)),
    ("logs", "CreateLogStream", q(50.0, D)),
    // KMS: per-operation request quotas.
    ("kms", "CreateKey", q(5.0, D)),
    ("kms", "PutKeyPolicy", q(5.0, D)),
    ("kms", "CreateAlias", q(5.0, D)),
    ("kms", "UpdateAlias", q(5.0, D)),
    ("kms", "DeleteAlias", q(5.0, D)),
    ("kms", "EnableKeyRotation", q(5.0, D)),
    ("kms", "ScheduleKeyDeletion", q(5.0, D)),
    ("kms", "TagResource", q(10.0, D)),
    ("kms", "UntagResource", q(10.0, D)),
    ("kms", "DescribeKey", q(2000.0, D)),
    ("kms", "GetKeyPolicy", q(1000.0, D)),
    ("kms", "GetKeyRotationStatus", q(1000.0, D)),
    ("kms", "ListResourceTags", q(2000.0, D)),
    ("kms", "ListAliases", q(100.0, D)),
];

/// Class quotas: (signing name, class, quota), for every operation of the service without its own line above.
const CLASSES: &[(&str, Class, Quota)] = &[
    ("logs", Class::Read, q(5.0, D)),
    ("logs", Class::Write, q(5.0, D)),
    // Firehose: 5 TPS for each control-plane API.
    ("firehose", Class::Read, q(5.0, D)),
    ("firehose", Class::Write, q(5.0, D)),
    ("kms", Class::Read, q(100.0, C)),
    ("kms", Class::Write, q(5.0, C)),
    ("lambda", Class::Read, q(15.0, D)),
    ("lambda", Class::Write, q(15.0, D)),
    // EKS publishes no per-operation rates.
    ("eks", Class::Read, q(10.0, C)),
    ("eks", Class::Write, q(2.0, C)),
    // IAM is global; its rates are not published.
    ("iam", Class::Read, q(20.0, C)),
    ("iam", Class::Write, q(5.0, C)),
    ("sts", Class::Read, q(50.0, C)),
    ("sts", Class::Write, q(50.0, C)),
    // Organizations throttles per account without a published rate; `[accounts]` lists a few pages at start.
    ("organizations", Class::Read, q(10.0, C)),
    ("organizations", Class::Write, q(5.0, C)),
    // S3's published 3,500/5,500 per prefix are for objects; bucket configuration is far lower, unpublished.
    ("s3", Class::Read, q(50.0, C)),
    ("s3", Class::Write, q(10.0, C)),
    ("sns", Class::Read, q(30.0, C)),
    ("sns", Class::Write, q(10.0, C)),
    ("sqs", Class::Read, q(50.0, C)),
    ("sqs", Class::Write, q(10.0, C)),
    // The Resource Groups Tagging API (GetResources: the log groups the pipeline's filters marked).
    ("tagging", Class::Read, q(5.0, C)),
    ("tagging", Class::Write, q(5.0, C)),
];

/// For a service this table does not know.
const FALLBACK: Quota = q(5.0, C);

/// The bucket a call draws from and its quota. For services that quota per operation, `operation` is the API
/// name; for REST services (S3, EKS, Lambda) callers that cannot name it pass `None` and get the class quota.
pub fn quota(service: &str, operation: Option<&str>, class: Class) -> (Bucket, Quota) {
    if let Some(op) = operation {
        if let Some((_, _, quota)) = OPERATIONS.iter().find(|(s, o, _)| *s == service && *o == op) {
            return (Bucket::Operation(op.to_string()), *quota);
        }
    }
    let quota = CLASSES.iter().find(|(s, c, _)| *s == service && *c == class).map(|(_, _, q)| *q);
    (Bucket::Class(class), quota.unwrap_or(FALLBACK))
}

/// The service's name as people know it, for the progress line.
pub fn service_title(service: &str) -> &str {
    match service {
        "logs" => "CloudWatch Logs",
        "monitoring" => "CloudWatch",
        "firehose" => "Firehose",
        "kms" => "KMS",
        "lambda" => "Lambda",
        "eks" => "EKS",
        "iam" => "IAM",
        "sts" => "STS",
        "s3" => "S3",
        "sns" => "SNS",
        "sqs" => "SQS",
        "tagging" => "the Resource Groups Tagging API",
        "organizations" => "Organizations",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_quota_and_lines_are_unique() {
        assert_eq!(quota("logs", Some("DescribeSubscriptionFilters"), Class::Read).1.per_second, 5.0);
        assert_eq!(quota("eks", None, Class::Write).1.per_second, 2.0);
        assert_eq!(quota("kms", Some("CreateKey"), Class::Write).0, Bucket::Operation("CreateKey".into()));
        assert_eq!(quota("s3", Some("GetBucketTagging"), Class::Read).0, Bucket::Class(Class::Read));
        assert_eq!(Class::of("HeadBucket"), Class::Read);
        assert_eq!(Class::of("PutSubscriptionFilter"), Class::Write);
        for (i, (s, o, _)) in OPERATIONS.iter().enumerate() {
            assert!(!OPERATIONS[..i].iter().any(|(s2, o2, _)| s2 == s && o2 == o), "{s}:{o} twice");
        }
        for service in ["logs", "firehose", "kms", "lambda", "eks", "iam", "sts", "s3", "sns", "sqs", "tagging"] {
            for class in [Class::Read, Class::Write] {
                assert!(CLASSES.iter().any(|(s, c, _)| *s == service && *c == class), "{service} {class:?}");
            }
        }
    }
}
