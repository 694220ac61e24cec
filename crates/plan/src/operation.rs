//! One AWS API operation eksaudit calls and the IAM actions it needs. Each kind's module (`kinds/`) lists the
//! operations its observe, create, update and delete call; `permissions::OPERATIONS` is derived from those lists.

/// One AWS API operation eksaudit calls, and what IAM must allow for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The service's IAM prefix, which is also how eksaudit names the service in its errors (`s3`, `logs`).
    pub service: &'static str,
    /// The API operation, as the SDK and the service's API reference name it.
    pub name: &'static str,
    /// The IAM action that authorises it.
    pub action: &'static str,
    /// Further actions the call needs on the same resource, the way eksaudit makes it (tags on create, every
    /// version of an object deleted).
    pub also: &'static [&'static str],
    /// The call hands a role to this service principal, so it also needs `iam:PassRole` on that role.
    pub passes_role_to: Option<&'static str>,
}

pub(crate) const fn op(service: &'static str, name: &'static str, action: &'static str) -> Operation {
    Operation { service, name, action, also: &[], passes_role_to: None }
}

pub(crate) const fn op_also(
    service: &'static str,
    name: &'static str,
    action: &'static str,
    also: &'static [&'static str],
) -> Operation {
    Operation { service, name, action, also, passes_role_to: None }
}

pub(crate) const fn op_passing(
    service: &'static str,
    name: &'static str,
    action: &'static str,
    also: &'static [&'static str],
    to: &'static str,
) -> Operation {
    Operation { service, name, action, also, passes_role_to: Some(to) }
}

pub const FIREHOSE_PRINCIPAL: &str = "firehose.amazonaws.com";
pub const LOGS_PRINCIPAL: &str = "logs.amazonaws.com";
pub const LAMBDA_PRINCIPAL: &str = "lambda.amazonaws.com";
