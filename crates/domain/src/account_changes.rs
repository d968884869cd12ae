//! Changes to one account that must happen together or not at all (issue 18): an
//! administrator's action with its audit event, a password reset's writes. The domain lists
//! them; the store applies the list in one transaction, so a crash part-way leaves either every
//! change with its audit event or none.

use std::future::Future;

use super::StorageError;
use super::accounts::{AccountState, PasswordAction};
use super::audit::AuditEvent;
use super::temporary_access::StoredPass;
use crate::clock::UnixTime;

/// One change, in the order the list gives.
#[derive(Debug)]
pub enum Change<'a> {
    /// Every MFA method of the account (a lost phone); counted in `Applied::methods_removed`.
    RemoveMethods,
    /// Setting up a method needs a temporary access pass (after an MFA reset) or not.
    NeedPassToEnrol(bool),
    /// Every remembered device.
    ForgetDevices,
    /// Every app's grant (refresh and access tokens stop working); counted in
    /// `Applied::grants_revoked`.
    RevokeGrants,
    /// The account's grants to one app (by client id); counted in `Applied::grants_revoked`.
    RevokeGrantsOfClient(&'a str),
    /// Every recovery code.
    RemoveRecoveryCodes,
    /// Every session of the account; counted in `Applied::sessions_ended`.
    EndSessions,
    /// One session of the account (by its stored id hash); counted in `Applied::sessions_ended`.
    EndSession(&'a str),
    SetState(AccountState),
    SetPasswordHash(&'a str),
    SetPasswordAction(PasswordAction),
    /// A new temporary access pass (an earlier unused one is voided), issued by `issued_by`.
    ReplacePass {
        pass: &'a StoredPass,
        issued_by: &'a str,
    },
    /// A limit's count, by key.
    ClearLimit(&'a str),
    /// A limit's count and every count whose key starts with the prefix.
    ClearLimitsLike {
        key: &'a str,
        prefix: &'a str,
    },
    /// The audit event, written in the same transaction.
    Audit(&'a AuditEvent),
}

/// What applying the changes did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub methods_removed: u64,
    pub sessions_ended: u64,
    pub grants_revoked: u64,
}

pub trait AccountChanges {
    /// Applies `changes` to the account `account_id` in one transaction.
    fn apply_changes(
        &self,
        account_id: &str,
        now: UnixTime,
        changes: &[Change<'_>],
    ) -> impl Future<Output = Result<Applied, StorageError>> + Send;
}

/// Disables or enables an account from the server's command line. Disabling ends every session
/// in the same transaction; the person is not emailed (the operator acts on a request from
/// outside the portal, which tells them).
pub async fn set_state<R>(
    records: &R,
    account: &super::accounts::Account,
    state: AccountState,
    requester: &super::audit::Requester,
    now: UnixTime,
) -> Result<(), StorageError>
where
    R: AccountChanges + Sync,
{
    use super::audit::Outcome;
    let event = match state {
        AccountState::Disabled => "account.disabled",
        AccountState::Active => "account.enabled",
    };
    let event = AuditEvent::new(event, Outcome::Success, requester, now).account(&account.id);
    let mut changes = vec![Change::SetState(state)];
    if state == AccountState::Disabled {
        changes.push(Change::EndSessions);
    }
    changes.push(Change::Audit(&event));
    records.apply_changes(&account.id, now, &changes).await?;
    Ok(())
}
