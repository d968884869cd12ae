//! A signed-in person changing their password: the current one checked against the sign-in
//! limits, the new one against the rules, then every session ended and the person told.

use crate::StorageError;
use crate::accounts::Account;
use crate::accounts::PasswordAction;
use crate::clock::UnixTime;
use crate::password::{NewPassword, PasswordRejected};

/// A password change asked for by the signed-in person.
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub confirmation: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("Your current password is not correct")]
    WrongCurrentPassword,
    #[error(transparent)]
    Rejected(#[from] PasswordRejected),
    #[error("Too many attempts")]
    Throttled { until: UnixTime },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

/// Changes the password after checking the current one (PW-4). Wrong current passwords count
/// towards the same limits as sign-in, so this page is no way around them. On success every
/// session of the account ends (the caller starts a fresh one) and the person is told by email.
pub async fn change_password<R>(
    records: &R,
    rules: crate::signin::PasswordRules<'_>,
    notifier: &dyn crate::delivery::Notifier,
    account: &Account,
    change: PasswordChange<'_>,
    requester: &crate::audit::Requester,
    now: UnixTime,
) -> Result<(), PasswordChangeError>
where
    R: crate::monitoring::Monitored,
{
    use crate::audit::{AuditEvent, Outcome};
    use crate::password::{Password, PasswordCheck};

    let reserved = match crate::signin::reserve_password(
        records,
        rules.limits,
        Some(account),
        &account.email,
        requester,
        now,
    )
    .await?
    {
        Ok(reserved) => reserved,
        Err(until) => return Err(PasswordChangeError::Throttled { until }),
    };
    let audit = |outcome, reason: &str| {
        AuditEvent::new("password.change", outcome, requester, now)
            .account(&account.id)
            .reason(reason)
    };
    let current = Password::new(change.current);
    let stored = account.password_hash.clone();
    let (check, current) = rules
        .hashing
        .run(move |h| (h.check(&current, stored.as_deref()), current))
        .await
        .map_err(|e| PasswordChangeError::Internal(e.to_string()))?;
    if check == PasswordCheck::Wrong {
        records
            .append_audit(&audit(Outcome::Failure, "wrong_current_password"))
            .await?;
        reserved
            .failed(records, rules.limits, Some(account), requester, now)
            .await?;
        return Err(PasswordChangeError::WrongCurrentPassword);
    }
    reserved.passed(records, rules.limits).await?;
    let new = NewPassword::parse(change.new, change.confirmation, &account.personal_words())?;
    if new.password().expose() == current.expose() {
        return Err(PasswordRejected::SameAsCurrent.into());
    }
    let hash = rules
        .hashing
        .run(move |h| h.hash(new.password()))
        .await
        .and_then(|r| r)
        .map_err(|e| PasswordChangeError::Internal(e.to_string()))?;
    records
        .update_password_hash(&account.id, &hash, now)
        .await?;
    records
        .set_password_action(&account.id, PasswordAction::None)
        .await?;
    records
        .delete_sessions_of_account(&account.id, None)
        .await?;
    // Apps signed in with the old password (mail apps, the webmail) sign in again.
    records.revoke_grants_of_account(&account.id, now).await?;
    // A new password voids every remembered device.
    records.forget_devices(&account.id, None).await?;
    records
        .append_audit(&audit(Outcome::Success, "password_changed"))
        .await?;
    let notice = crate::notices::password_changed(account, now);
    crate::notices::email_person(records, notifier, requester, now, account, notice).await?;
    Ok(())
}
