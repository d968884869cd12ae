//! Text messages and phone calls (NIST "restricted" authenticators, SV-1..SV-3): numbers parsed
//! with libphonenumber's data and kept in E.164; 6-digit codes from the CSPRNG, valid 10
//! minutes, single use, 5 tries each, bound to one session and purpose, stored only as MACs;
//! sends limited per person and per number so nobody can run up a bill or flood a phone.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::{MethodKind, MfaContext, MfaError, record_mfa_failure};
use crate::StorageError;
use crate::accounts::Account;
use crate::audit::Outcome;
use crate::clock::UnixTime;
use crate::delivery::{Channel, Message};

pub const CODE_LIFETIME: i64 = 10 * 60;
pub const TRIES_PER_CODE: i64 = 5;
/// Messages or calls in an hour, per person and per number.
pub const SENDS_PER_HOUR: i64 = 5;

/// A phone number in E.164, such as +447700900123.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct E164(pub String);

impl E164 {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last three digits, for pages and emails.
    pub fn masked(&self) -> String {
        format!("ending {}", &self.0[self.0.len().saturating_sub(3)..])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Enter a phone number")]
    Missing,
    #[error("Enter a phone number in the correct format, like 07700 900 982 or +44 7700 900 982")]
    Invalid,
    #[error("Enter a mobile phone number, like 07700 900 982")]
    NotMobile,
    #[error("Enter a phone number that is not premium rate or shared cost")]
    CostlyNumber,
}

/// Parses a UK or international number (UK by default) for texts (`mobile_only`) or calls.
pub fn parse_phone(text: &str, mobile_only: bool) -> Result<E164, PhoneError> {
    use phonenumber::{Mode, Type, country};
    let text = text.trim();
    if text.is_empty() {
        return Err(PhoneError::Missing);
    }
    if text.len() > 32 {
        return Err(PhoneError::Invalid);
    }
    let number =
        phonenumber::parse(Some(country::Id::GB), text).map_err(|_| PhoneError::Invalid)?;
    // Ofcom keeps 07700 900000–900999 for drama: no real phone has them, so they are safe for
    // tests and demos. libphonenumber calls them invalid; we accept them as mobiles.
    let national = number.national().value().to_string();
    if number.code().value() == 44 && national.len() == 10 && national.starts_with("7700900") {
        return Ok(E164(format!("+44{national}")));
    }
    if !number.is_valid() {
        return Err(PhoneError::Invalid);
    }
    match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::PremiumRate
        | Type::SharedCost
        | Type::Voip
        | Type::Uan
        | Type::Voicemail
        | Type::PersonalNumber
        | Type::Pager => {
            return Err(PhoneError::CostlyNumber);
        }
        Type::Mobile | Type::FixedLineOrMobile => {}
        _ if mobile_only => return Err(PhoneError::NotMobile),
        _ => {}
    }
    Ok(E164(number.format().mode(Mode::E164).to_string()))
}

/// What a code or a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    SignIn,
    Enrol,
    /// A forgotten password being reset: the texts and calls say so.
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Enrol => "enrol",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerificationCode {
    pub id: String,
    pub account_id: String,
    pub session_hash: String,
    pub purpose: String,
    pub phone: String,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    pub created_at: UnixTime,
}

pub trait CodeRecords {
    fn insert_code(
        &self,
        code: &VerificationCode,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// The newest code of this session for this purpose, used or not.
    fn latest_code(
        &self,
        session_hash: &str,
        purpose: &str,
    ) -> impl Future<Output = Result<Option<VerificationCode>, StorageError>> + Send;
    /// Takes one of the code's tries; false when none is left (or it was used).
    fn count_code_attempt(
        &self,
        id: &str,
        limit: i64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Marks the code used; false if it already was (two nodes, one code).
    fn use_code(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    fn delete_codes(
        &self,
        session_hash: &str,
        purpose: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Counts one text or call against each of `keys` unless one of them already has `limit`
    /// since `since`: checked and recorded in one transaction, so a burst sent together gets
    /// exactly what one after another would. Returns the send's id, or `None` when refused.
    fn reserve_sends(
        &self,
        keys: &[&str],
        since: UnixTime,
        limit: i64,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
    /// Gives back a reserved send that was never made (the provider failed).
    fn release_sends(&self, id: &str) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// A uniformly random 6-digit code from the OS CSPRNG (rejection sampling, no modulo bias).
pub fn random_code() -> String {
    loop {
        let n = u32::from_le_bytes(crate::random_bytes::<4>());
        // 4_294_000_000 is the largest multiple of 1_000_000 below 2^32.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn send_keys(kind: MethodKind, account_id: &str, phone: &E164) -> [String; 2] {
    [
        format!("{}:account:{account_id}", kind.as_str()),
        format!("{}:phone:{}", kind.as_str(), phone.as_str()),
    ]
}

/// A text or call counted against the hourly limits before it is made.
#[derive(Debug)]
#[must_use = "a send that was not made is given back with release()"]
pub struct ReservedSend(String);

impl ReservedSend {
    /// The provider failed: the send does not count.
    pub async fn release(self, records: &impl CodeRecords) -> Result<(), StorageError> {
        records.release_sends(&self.0).await
    }
}

/// Counts a text or call to `phone` for this person, refusing it when this person or this
/// number has had `SENDS_PER_HOUR` in the last hour (checked and counted in one step, before
/// the provider is asked).
pub async fn reserve_send(
    records: &impl CodeRecords,
    kind: MethodKind,
    account_id: &str,
    phone: &E164,
    now: UnixTime,
) -> Result<ReservedSend, MfaError> {
    let keys = send_keys(kind, account_id, phone);
    let keys = [keys[0].as_str(), keys[1].as_str()];
    match records
        .reserve_sends(&keys, now - 3600, SENDS_PER_HOUR, now)
        .await?
    {
        Some(id) => Ok(ReservedSend(id)),
        None => Err(MfaError::TooManySends { until: now + 3600 }),
    }
}

fn code_mac_input(id: &str, code: &str) -> Vec<u8> {
    format!("{id}:{code}").into_bytes()
}

/// Texts a new code for this session and purpose (any earlier one stops working). A provider
/// failure uses up nothing: the code is withdrawn and the send not counted.
pub async fn send_code<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    session_hash: &str,
    purpose: Purpose,
    phone: &E164,
) -> Result<(), MfaError>
where
    R: super::MfaRecords,
{
    let reserved = reserve_send(records, MethodKind::Sms, &account.id, phone, ctx.now).await?;
    records.delete_codes(session_hash, purpose.as_str()).await?;
    let code = random_code();
    let id = uuid::Uuid::new_v4().to_string();
    let record = VerificationCode {
        code_hash: ctx.secrets.mac_hex(&code_mac_input(&id, &code)),
        id,
        account_id: account.id.clone(),
        session_hash: session_hash.to_string(),
        purpose: purpose.as_str().to_string(),
        phone: phone.as_str().to_string(),
        attempts: 0,
        expires_at: ctx.now + CODE_LIFETIME,
        used_at: None,
        created_at: ctx.now,
    };
    records.insert_code(&record).await?;
    let message = Message {
        channel: Channel::Sms,
        to: phone.as_str().to_string(),
        subject: None,
        body: match purpose {
            Purpose::PasswordReset => format!(
                "Your NHSmal password reset code is {code}. It expires in 10 minutes. If you did not ask to reset your password, do not share it and tell your local administrator."
            ),
            _ => format!(
                "Your NHSmal verification code is {code}. It expires in 10 minutes. Never share it: NHSmal staff will never ask you for it."
            ),
        },
        code: Some(code),
        keypad_url: None,
        html: None,
    };
    if let Err(e) = ctx.notifier.send(&message, ctx.now).await {
        records.delete_codes(session_hash, purpose.as_str()).await?;
        reserved.release(records).await?;
        return Err(super::delivery_failed(records, ctx, account, "mfa.code_sent", e).await?);
    }
    records
        .append_audit(
            &ctx.audit("mfa.code_sent", Outcome::Success, account)
                .reason(purpose.as_str()),
        )
        .await?;
    crate::monitoring::phone_contact(records, &ctx.monitor(), account, "sms", "text_sent").await?;
    Ok(())
}

/// True if this session has a live code for this purpose sent to `phone` (not used, not
/// expired, tries left).
pub async fn has_live_code(
    records: &impl CodeRecords,
    session_hash: &str,
    purpose: Purpose,
    phone: &E164,
    now: UnixTime,
) -> Result<bool, StorageError> {
    Ok(records
        .latest_code(session_hash, purpose.as_str())
        .await?
        .is_some_and(|c| {
            c.phone == phone.0
                && c.used_at.is_none()
                && c.expires_at > now
                && c.attempts < TRIES_PER_CODE
        }))
}

/// Checks a code typed by the person; returns the number it was sent to. Wrong codes count
/// towards the code's 5 tries and the account's lock.
pub async fn check_code<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    session_hash: &str,
    purpose: Purpose,
    entered: &str,
) -> Result<E164, MfaError>
where
    R: super::MfaRecords,
{
    let entered: String = entered.chars().filter(|c| !c.is_whitespace()).collect();
    if entered.is_empty() {
        return Err(MfaError::CodeMissing);
    }
    let code = records
        .latest_code(session_hash, purpose.as_str())
        .await?
        .filter(|c| c.account_id == account.id)
        .ok_or(MfaError::CodeExpired)?;
    if code.used_at.is_some() || code.expires_at <= ctx.now || code.attempts >= TRIES_PER_CODE {
        return Err(MfaError::CodeExpired);
    }
    let attempt = super::reserve_attempt(records, account, ctx).await?;
    // The try is taken before the comparison, atomically, so parallel guesses share the 5.
    if !records.count_code_attempt(&code.id, TRIES_PER_CODE).await? {
        return Err(MfaError::CodeExpired);
    }
    if !ctx
        .secrets
        .mac_matches(&code_mac_input(&code.id, &entered), &code.code_hash)
    {
        record_mfa_failure(records, account, MethodKind::Sms, attempt, ctx).await?;
        return Err(attempt.wrong_code(ctx));
    }
    records.clear_limit(&ctx.lock_key(&account.id)).await?;
    if !records.use_code(&code.id, ctx.now).await? {
        return Err(MfaError::CodeExpired);
    }
    Ok(E164(code.phone))
}

/// Changes the number of a text-message or phone-call method once the new number is proved
/// (the caller checked the code or the call): the method keeps its place as default, its
/// history and a name the person gave it; a name made from the old number follows the new one.
pub async fn change_number<R>(
    records: &R,
    account: &Account,
    method: &super::Method,
    number: &E164,
    ctx: &MfaContext<'_>,
) -> Result<(), MfaError>
where
    R: super::MethodRecords + crate::audit::AuditTrail + Sync,
{
    let is_phone = matches!(method.kind, MethodKind::Sms | MethodKind::Voice);
    if method.account_id != account.id || !is_phone {
        return Err(MfaError::NoSuchMethod);
    }
    let old_name = method
        .phone
        .as_ref()
        .map(|p| format!("{} {}", method.kind.label(), E164(p.clone()).masked()));
    let name = if old_name.as_deref() == Some(method.name.as_str()) {
        format!("{} {}", method.kind.label(), number.masked())
    } else {
        method.name.clone()
    };
    if !records
        .set_method_phone(&method.id, number.as_str(), &name)
        .await?
    {
        return Err(MfaError::NoSuchMethod);
    }
    records
        .append_audit(
            &ctx.audit("mfa.number_changed", Outcome::Success, account)
                .reason(method.kind.as_str()),
        )
        .await?;
    let notice = crate::notices::method_changed(
        account,
        crate::notices::MethodChange::NumberChanged,
        method.kind.label(),
        &name,
        ctx.now,
    );
    super::send_notice(records, ctx, account, notice).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uk_and_international_numbers_become_e164() {
        assert_eq!(
            parse_phone("07700 900 123", true),
            Ok(E164("+447700900123".into()))
        );
        assert_eq!(
            parse_phone("+44 (0)7700 900123", true),
            Ok(E164("+447700900123".into()))
        );
        assert_eq!(
            parse_phone("+1 415 555 2671", true),
            Ok(E164("+14155552671".into()))
        );
        assert_eq!(
            parse_phone("020 7946 0018", false),
            Ok(E164("+442079460018".into()))
        );
    }

    #[test]
    fn malformed_landline_and_premium_numbers_are_refused_with_a_reason() {
        assert_eq!(parse_phone("", true), Err(PhoneError::Missing));
        assert_eq!(parse_phone("12345", true), Err(PhoneError::Invalid));
        assert_eq!(parse_phone("not a number", true), Err(PhoneError::Invalid));
        assert_eq!(
            parse_phone("020 7946 0018", true),
            Err(PhoneError::NotMobile)
        );
        assert_eq!(
            parse_phone("0909 879 0000", false),
            Err(PhoneError::CostlyNumber)
        );
    }

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..200).map(|_| random_code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 190);
        assert_eq!(E164("+447700900123".into()).masked(), "ending 123");
    }
}
