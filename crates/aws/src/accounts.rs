//! `[accounts]`: the member accounts of an AWS Organization, and the clients of each. Organizations is read from
//! the caller's account (the management or a delegated administrator account); each member is reached through
//! `sts:AssumeRole` of the spec's role, whose credentials make every later call act in that account.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use eksaudit_spec::Accounts;

use crate::shared::{Call, Named};
use crate::{Aws, Error};

/// The session name member accounts see in CloudTrail.
const SESSION_NAME: &str = "eksaudit";

/// Renewed this long before the session expires (AssumeRole's default session is an hour; an apply may be longer).
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The accounts `[accounts]` selects, and which of them is the organization's management account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberAccounts {
    /// Sorted.
    pub ids: Vec<String>,
    /// The management account, when it is selected and Organizations was read (`organization = true`, or an OU
    /// it was moved into): service-managed StackSets never deploy there, so the member role is usually missing.
    /// Known from the account ARNs Organizations lists (`arn:aws:organizations::<management>:account/o-…/<id>`),
    /// so it costs no call of its own.
    pub management: Option<String>,
}

/// The accounts `[accounts]` selects, sorted: `ids`, every ACTIVE account of the organization with
/// `organization = true`, the ACTIVE accounts under `organizational_units` (child OUs included), less `exclude`.
pub async fn member_accounts(aws: &Aws, accounts: &Accounts) -> Result<MemberAccounts, Error> {
    let mut selected: BTreeSet<String> = accounts.ids.iter().cloned().collect();
    let mut management = None;
    if accounts.needs_organizations() {
        let organizations = aws.organizations();
        if accounts.organization {
            let mut pages = organizations.list_accounts().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.named("organizations:ListAccounts", "the organization")?;
                management = management.or_else(|| management_account(page.accounts()));
                selected.extend(active(page.accounts()));
            }
        }
        // A breadth-first walk: every OU under the given parents, each listed once.
        let mut parents: Vec<String> = accounts.organizational_units.clone();
        let mut seen: BTreeSet<String> = parents.iter().cloned().collect();
        while let Some(parent) = parents.pop() {
            let (listed, children) =
                futures::join!(accounts_for_parent(&organizations, &parent), child_units(&organizations, &parent));
            let listed = listed?;
            management = management.or_else(|| management_account(&listed));
            selected.extend(active(&listed));
            for child in children? {
                if seen.insert(child.clone()) {
                    parents.push(child);
                }
            }
        }
    }
    for excluded in &accounts.exclude {
        selected.remove(excluded);
    }
    let management = management.filter(|m| selected.contains(m));
    Ok(MemberAccounts { ids: selected.into_iter().collect(), management })
}

/// The management account, from the owner of the account ARNs an organization lists.
fn management_account(accounts: &[aws_sdk_organizations::types::Account]) -> Option<String> {
    accounts.iter().find_map(|a| a.arn()?.split(':').nth(4).filter(|owner| !owner.is_empty()).map(String::from))
}

fn active(accounts: &[aws_sdk_organizations::types::Account]) -> impl Iterator<Item = String> + '_ {
    accounts.iter().filter(|a| is_active(a)).filter_map(|a| a.id().map(String::from))
}

/// Only ACTIVE accounts: a suspended or closing account cannot be worked in. `State` is the current field;
/// `Status`, deprecated (Organizations stops returning it in September 2026), is only the fallback for an answer
/// without `State` (moto 5.1.22 returns both, so the integration tests read `State`; the unit test below covers the
/// fallback). An account with neither is kept: its role assumption says the rest.
fn is_active(account: &aws_sdk_organizations::types::Account) -> bool {
    use aws_sdk_organizations::types::{AccountState, AccountStatus};
    if let Some(state) = account.state() {
        return *state == AccountState::Active;
    }
    #[allow(deprecated)]
    let status = account.status();
    status.is_none_or(|s| *s == AccountStatus::Active)
}

async fn accounts_for_parent(
    organizations: &aws_sdk_organizations::Client,
    parent: &str,
) -> Result<Vec<aws_sdk_organizations::types::Account>, Error> {
    let mut listed = Vec::new();
    let mut pages = organizations.list_accounts_for_parent().parent_id(parent).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.named("organizations:ListAccountsForParent", parent)?;
        listed.extend(page.accounts().iter().cloned());
    }
    Ok(listed)
}

async fn child_units(organizations: &aws_sdk_organizations::Client, parent: &str) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    let mut pages = organizations.list_organizational_units_for_parent().parent_id(parent).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.named("organizations:ListOrganizationalUnitsForParent", parent)?;
        ids.extend(page.organizational_units().iter().filter_map(|u| u.id().map(String::from)));
    }
    Ok(ids)
}

/// The role `role_name` in `account`, in the caller's partition (from its identity ARN).
pub fn member_role_arn(caller_arn: &str, account: &str, role_name: &str) -> String {
    let partition = caller_arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
    format!("arn:{partition}:iam::{account}:role/{role_name}")
}

/// One AssumeRole call; AWS's answer (AccessDenied, a missing role) is the error.
async fn assume(sts: &aws_sdk_sts::Client, role_arn: &str, external_id: Option<&str>) -> Result<Credentials, Error> {
    let out = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(SESSION_NAME)
        .set_external_id(external_id.map(String::from))
        .send()
        .call("sts:AssumeRole", role_arn)
        .await?;
    let c = out
        .credentials()
        .ok_or_else(|| Error::Failed { what: format!("AssumeRole of {role_arn} gave no credentials") })?;
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        "eksaudit-member-role",
    ))
}

/// A member role's credentials, renewed by assuming the role again before they expire.
#[derive(Debug)]
struct MemberRole {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    external_id: Option<String>,
    current: tokio::sync::Mutex<Credentials>,
}

impl ProvideCredentials for MemberRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let mut current = self.current.lock().await;
            let fresh = current.expiry().is_none_or(|at| at > SystemTime::now() + RENEW_BEFORE);
            if !fresh {
                *current = assume(&self.sts, &self.role_arn, self.external_id.as_deref())
                    .await
                    .map_err(CredentialsError::provider_error)?;
            }
            Ok(current.clone())
        })
    }
}

impl Aws {
    /// The clients of member account `account`: its role assumed (with the external id when set) from the
    /// caller's credentials. Fails with AWS's own answer when the role cannot be assumed.
    pub async fn assume_member(&self, account: &str, role_arn: &str, external_id: Option<&str>) -> Result<Aws, Error> {
        let first = assume(self.sts(), role_arn, external_id).await?;
        let role = MemberRole {
            sts: self.sts().clone(),
            role_arn: role_arn.to_string(),
            external_id: external_id.map(String::from),
            current: tokio::sync::Mutex::new(first),
        };
        Ok(self.with_credentials(account, SharedCredentialsProvider::new(role)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_account_is_the_owner_of_the_account_arns() {
        use aws_sdk_organizations::types::Account;
        let listed = [
            Account::builder().id("222222222222").build(),
            Account::builder()
                .id("222222222222")
                .arn("arn:aws:organizations::111111111111:account/o-abcdefghij/222222222222")
                .build(),
        ];
        assert_eq!(management_account(&listed).as_deref(), Some("111111111111"));
        assert_eq!(management_account(&listed[..1]), None);
    }

    #[test]
    fn state_decides_and_the_deprecated_status_is_only_the_fallback() {
        use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};
        #[allow(deprecated)]
        let account = |state: Option<AccountState>, status: Option<AccountStatus>| {
            Account::builder().set_state(state).set_status(status).build()
        };
        assert!(is_active(&account(Some(AccountState::Active), Some(AccountStatus::Suspended))));
        assert!(!is_active(&account(Some(AccountState::Closed), Some(AccountStatus::Active))));
        assert!(!is_active(&account(Some(AccountState::PendingClosure), None)));
        assert!(is_active(&account(None, Some(AccountStatus::Active))));
        assert!(!is_active(&account(None, Some(AccountStatus::Suspended))));
        assert!(is_active(&account(None, None)));
    }

    #[test]
    fn member_roles_are_in_the_callers_partition() {
        assert_eq!(
            member_role_arn("arn:aws-cn:sts::111111111111:assumed-role/ci/x", "222222222222", "m"),
            "arn:aws-cn:iam::222222222222:role/m"
        );
        assert_eq!(member_role_arn("", "222222222222", "m"), "arn:aws:iam::222222222222:role/m");
    }
}
