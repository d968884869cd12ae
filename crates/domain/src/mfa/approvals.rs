//! Pending approvals: a phone call now (press # to approve, 0# to report), push approval from
//! the companion app later. The browser waits on a row in the database, so any node can take
//! the keypress and any node can answer the browser. An approval lives 2 minutes and is used
//! once.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::phone::{E164, Purpose, reserve_send};
use super::{MethodKind, MfaContext, MfaError};
use crate::StorageError;
use crate::accounts::Account;
use crate::audit::{AuditEvent, Outcome};
use crate::clock::UnixTime;
use crate::delivery::{Channel, Message};
use crate::secrets::hex;

pub const APPROVAL_LIFETIME: i64 = 2 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Approval {
    pub id: String,
    pub account_id: String,
    pub session_hash: String,
    pub purpose: String,
    pub channel: String,
    pub phone: Option<String>,
    pub keypad_hash: String,
    /// As stored: pending, approved or denied.
    pub status: String,
    pub expires_at: UnixTime,
    pub created_at: UnixTime,
    pub decided_at: Option<UnixTime>,
    /// Push only: the device asked, the number shown in the browser, the nonce the answer
    /// signs, what the app shows (`push::PushContext` as JSON), and whether the app is
    /// not told of it until opened (a risky sign-in).
    pub device_id: Option<String>,
    pub number: Option<String>,
    pub nonce: Option<String>,
    pub context: Option<String>,
    pub silent: bool,
}

impl Approval {
    /// What the browser sees: a pending approval past its time has expired.
    pub fn status_at(&self, now: UnixTime) -> ApprovalStatus {
        match self.status.as_str() {
            "approved" => ApprovalStatus::Approved,
            "denied" => ApprovalStatus::Denied,
            _ if self.expires_at <= now => ApprovalStatus::Expired,
            _ => ApprovalStatus::Pending,
        }
    }
}

pub trait ApprovalRecords {
    fn insert_approval(
        &self,
        approval: &Approval,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn approval(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Approval>, StorageError>> + Send;
    fn approval_by_keypad(
        &self,
        keypad_hash: &str,
    ) -> impl Future<Output = Result<Option<Approval>, StorageError>> + Send;
    /// Decides a pending, unexpired approval; false if it was not (any more).
    fn decide_approval(
        &self,
        id: &str,
        status: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Deletes the approval; false if it was already gone (taken by another request).
    fn delete_approval(&self, id: &str) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

fn keypad_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The words of the call: plain English, says who is calling, said twice.
pub fn call_script(purpose: Purpose) -> String {
    let why = match purpose {
        Purpose::SignIn => "someone is signing in to your NHSmal email account",
        Purpose::Enrol => "someone is adding this phone to your NHSmal email account",
        Purpose::PasswordReset => "someone is resetting the password of your NHSmal email account",
    };
    let once = format!(
        "Hello. This is an automated call from NHSmal, the email service for health and care staff. We are calling because {why}. If this is you, press the hash key now. If this is not you, press zero, then the hash key, and we will stop it and warn your administrators."
    );
    format!("{once} Again: {once} Goodbye.")
}

/// Places a call whose keypress will decide a new approval; returns the approval's id.
/// `keypad_base` is the public URL's keypad path, such as https://portal/telephony/keypad.
pub async fn place_call<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    session_hash: &str,
    purpose: Purpose,
    phone: &E164,
    keypad_base: &str,
) -> Result<String, MfaError>
where
    R: super::MfaRecords,
{
    // Calls one after another that nobody answers are how MFA fatigue works: stop calling.
    if !crate::monitoring::calls_allowed(records, &ctx.monitor(), account).await? {
        return Err(MfaError::CallsStopped);
    }
    let reserved = reserve_send(records, MethodKind::Voice, &account.id, phone, ctx.now).await?;
    let token = URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>());
    let approval = Approval {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id.clone(),
        session_hash: session_hash.to_string(),
        purpose: purpose.as_str().to_string(),
        channel: "voice".into(),
        phone: Some(phone.as_str().to_string()),
        keypad_hash: keypad_hash(&token),
        status: "pending".into(),
        expires_at: ctx.now + APPROVAL_LIFETIME,
        created_at: ctx.now,
        decided_at: None,
        device_id: None,
        number: None,
        nonce: None,
        context: None,
        silent: false,
    };
    records.insert_approval(&approval).await?;
    let message = Message {
        channel: Channel::Voice,
        to: phone.as_str().to_string(),
        subject: None,
        body: call_script(purpose),
        code: None,
        keypad_url: Some(format!("{}/{token}", keypad_base.trim_end_matches('/'))),
        html: None,
    };
    if let Err(e) = ctx.notifier.send(&message, ctx.now).await {
        records.delete_approval(&approval.id).await?;
        reserved.release(records).await?;
        return Err(super::delivery_failed(records, ctx, account, "mfa.call_placed", e).await?);
    }
    records
        .append_audit(
            &ctx.audit("mfa.call_placed", Outcome::Success, account)
                .reason(purpose.as_str()),
        )
        .await?;
    crate::monitoring::phone_contact(records, &ctx.monitor(), account, "voice", "call_placed")
        .await?;
    Ok(approval.id)
}

/// What a keypress did.
#[derive(Debug, PartialEq, Eq)]
pub enum Keypress {
    Approved,
    Reported,
    /// Not # or 0#: ask again.
    NotUnderstood,
    /// Unknown, expired or already decided.
    TooLate,
}

/// A keypress on a call (the provider's webhook or the outbox's keypad URL). 0# blocks the
/// attempt, is audited as fraud and emails the person.
pub async fn keypress<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    token: &str,
    digits: &str,
) -> Result<Keypress, StorageError>
where
    R: super::MfaRecords,
{
    let Some(approval) = records.approval_by_keypad(&keypad_hash(token)).await? else {
        return Ok(Keypress::TooLate);
    };
    let status = match digits.trim() {
        "#" => "approved",
        "0#" => "denied",
        _ => return Ok(Keypress::NotUnderstood),
    };
    if !records
        .decide_approval(&approval.id, status, ctx.now)
        .await?
    {
        return Ok(Keypress::TooLate);
    }
    if status == "approved" {
        records
            .append_audit(
                &AuditEvent::new(
                    "mfa.call_answered",
                    Outcome::Success,
                    ctx.requester,
                    ctx.now,
                )
                .account(&approval.account_id)
                .reason("approved"),
            )
            .await?;
        if let Some(account) = records.account_by_id(&approval.account_id).await? {
            crate::monitoring::phone_contact(
                records,
                &ctx.monitor(),
                &account,
                "voice",
                "call_answered",
            )
            .await?;
        }
        return Ok(Keypress::Approved);
    }
    records
        .append_audit(
            &AuditEvent::new(
                "mfa.fraud_reported",
                Outcome::Failure,
                ctx.requester,
                ctx.now,
            )
            .account(&approval.account_id)
            .reason(&format!("0# pressed on a {} call", approval.purpose)),
        )
        .await?;
    if let Some(account) = records.account_by_id(&approval.account_id).await? {
        let notice = crate::notices::sign_in_blocked(&account, ctx.now);
        super::send_notice(records, ctx, &account, notice).await?;
        crate::monitoring::reported_on_call(records, &ctx.monitor(), &account).await?;
    }
    Ok(Keypress::Reported)
}

/// The state of this session's approval, for the waiting browser.
pub async fn status_for_session(
    records: &impl ApprovalRecords,
    approval_id: &str,
    session_hash: &str,
    now: UnixTime,
) -> Result<ApprovalStatus, StorageError> {
    Ok(match records.approval(approval_id).await? {
        Some(a) if a.session_hash == session_hash => a.status_at(now),
        _ => ApprovalStatus::Expired,
    })
}

/// Takes an approved approval of this session for `purpose` (once): returns the number the
/// call went to.
pub async fn take_approved(
    records: &impl ApprovalRecords,
    approval_id: &str,
    session_hash: &str,
    purpose: Purpose,
    now: UnixTime,
) -> Result<Result<E164, ApprovalStatus>, StorageError> {
    let Some(a) = records.approval(approval_id).await? else {
        return Ok(Err(ApprovalStatus::Expired));
    };
    if a.session_hash != session_hash || a.purpose != purpose.as_str() || a.channel != "voice" {
        return Ok(Err(ApprovalStatus::Expired));
    }
    match a.status_at(now) {
        ApprovalStatus::Approved => {
            if !records.delete_approval(&a.id).await? {
                return Ok(Err(ApprovalStatus::Expired));
            }
            Ok(a.phone.map(E164).ok_or(ApprovalStatus::Expired))
        }
        other => Ok(Err(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_says_who_is_calling_and_repeats_once() {
        let script = call_script(Purpose::SignIn);
        assert!(script.contains("NHSmal"));
        assert_eq!(script.matches("press the hash key").count(), 2);
    }
}
