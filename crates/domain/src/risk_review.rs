//! An administrator's review of an account the monitoring flagged: dismiss the flag as a false
//! alarm, or confirm the account compromised. Above `monitoring` (which raises the flags) and
//! `admin` (which says who may act on whom).

use crate::StorageError;
use crate::accounts::{Account, PasswordAction};
use crate::admin::{Admin, AdminError, audit_denial};
use crate::audit::{AuditEvent, AuditTrail, Outcome};
use crate::delivery::Notifier;
use crate::monitoring::{RiskRecords, RiskyAccount};
use crate::notices;
use crate::risk;

#[derive(Debug, thiserror::Error)]
pub enum RiskReviewError {
    #[error("That account is not on the list of risky accounts")]
    NotFlagged,
    #[error(
        "That account was confirmed compromised: it stays so until the person resets their password"
    )]
    AlreadyCompromised,
    #[error("You cannot review the risk on your own account. Ask another administrator.")]
    OwnAccount,
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The flag on `target`, after checking that this administrator may act on them (a refusal is
/// audited as `admin.denied`, like every other admin action) and not on themselves: a flagged
/// administrator clearing their own flag is what an intruder in their account would do.
async fn flag_to_review<R>(
    records: &R,
    admin: &Admin<'_>,
    target: &Account,
    action: &str,
) -> Result<RiskyAccount, RiskReviewError>
where
    R: RiskRecords + AuditTrail + Sync,
{
    admin.authorize(records, target, action).await?;
    if target.id == admin.account.id {
        let event = AuditEvent::new("admin.denied", Outcome::Failure, admin.requester, admin.now)
            .actor(&admin.account.id)
            .account(&target.id)
            .reason(action);
        audit_denial(records, &event).await?;
        return Err(RiskReviewError::OwnAccount);
    }
    records
        .risk_of(&target.id)
        .await?
        .ok_or(RiskReviewError::NotFlagged)
}

async fn save_state<R: RiskRecords>(
    records: &R,
    admin: &Admin<'_>,
    flag: &RiskyAccount,
    state: &str,
) -> Result<(), StorageError> {
    records
        .save_risk(
            &flag.account_id,
            flag.level,
            &risk::names(&flag.signals),
            state,
            flag.first_at,
            flag.last_at,
            Some(&admin.account.id),
        )
        .await
}

/// "Dismiss": the administrator judged the flag a false alarm. The account leaves the list of
/// those at risk, and a password change the monitoring asked for after the next second factor
/// is no longer asked for. A password that must be reset stays so: that came from the person
/// ("This wasn't me") or from an earlier confirmation, not from the flag alone.
pub async fn dismiss_risk<R>(
    records: &R,
    admin: &Admin<'_>,
    target: &Account,
) -> Result<(), RiskReviewError>
where
    R: crate::monitoring::Monitored,
{
    let flag = flag_to_review(records, admin, target, "risk.dismiss").await?;
    match flag.state.as_str() {
        "compromised" => return Err(RiskReviewError::AlreadyCompromised),
        "dismissed" => return Ok(()),
        _ => {}
    }
    save_state(records, admin, &flag, "dismissed").await?;
    if target.password_action == PasswordAction::ChangeAfterSecondFactor {
        records
            .set_password_action(&target.id, PasswordAction::None)
            .await?;
    }
    records
        .append_audit(&admin.event("risk.dismissed", target).reason(&format!(
            "{}: {}",
            flag.level.as_str(),
            risk::names(&flag.signals)
        )))
        .await?;
    Ok(())
}

/// "Confirm compromised": what "This wasn't me" does, on an administrator's word. Every
/// session ends, remembered devices are forgotten, the password no longer signs in until the
/// person resets it (with their own methods), and they are emailed.
pub async fn confirm_compromised<R>(
    records: &R,
    admin: &Admin<'_>,
    notifier: &dyn Notifier,
    target: &Account,
) -> Result<(), RiskReviewError>
where
    R: crate::monitoring::Monitored,
{
    let flag = flag_to_review(records, admin, target, "risk.confirm_compromised").await?;
    save_state(records, admin, &flag, "compromised").await?;
    let sessions = records.delete_sessions_of_account(&target.id, None).await?;
    let devices = records.forget_devices(&target.id, None).await?;
    records
        .revoke_grants_of_account(&target.id, admin.now)
        .await?;
    records
        .set_password_action(&target.id, PasswordAction::ResetRequired)
        .await?;
    records
        .append_audit(
            &admin
                .event("risk.confirmed_compromised", target)
                .reason(&format!(
                    "{}: {}; {sessions} sessions ended, {devices} remembered devices forgotten",
                    flag.level.as_str(),
                    risk::names(&flag.signals)
                )),
        )
        .await?;
    notices::email_person(
        records,
        notifier,
        admin.requester,
        admin.now,
        target,
        notices::compromise_confirmed(target),
    )
    .await?;
    Ok(())
}
