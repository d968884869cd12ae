//! Push approval from the NHSmal Authenticator: a request bound to one sign-in, shown in the
//! browser with a two-digit number that the person types in the app (PU-1), answered with a
//! signature by the device key made at pairing (PU-2, PU-3), single use and 2 minutes long.
//! A request is an approval (`approvals`) on the channel "push", so the waiting browser, the
//! take-once and the multi-node behaviour are those of a phone call.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::approvals::{APPROVAL_LIFETIME, Approval, ApprovalStatus};
use super::phone::Purpose;
use super::{Method, MethodKind, MfaContext, MfaError};
use crate::StorageError;
use crate::accounts::Account;
use crate::audit::{AuditEvent, Outcome};
use crate::clock::UnixTime;
use crate::secrets::hex;

/// Push requests to one person are suspended after this many went unanswered or were denied...
pub const FATIGUE_LIMIT: usize = 3;
/// ...within this long (seconds).
pub const FATIGUE_WINDOW: i64 = 10 * 60;
/// Push requests one person may be sent in an hour, whatever happens to them (PU-2).
pub const PUSHES_PER_HOUR: i64 = 10;

/// The signature algorithm of device keys: ECDSA on P-256 with SHA-256, the key an app keeps
/// in a phone's secure element on every platform.
pub const DEVICE_KEY_ALG: &str = "ES256";

/// What a push method keeps in `Method::credential`: the device's public key and the hash of
/// the token its app authenticates with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCredential {
    pub alg: String,
    /// SEC1 point, base64url.
    pub public_key: String,
    /// SHA-256 of the device token (256 random bits, so a fast hash is enough).
    pub token_hash: String,
}

impl DeviceCredential {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    fn key(&self) -> Option<VerifyingKey> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.public_key).ok()?;
        VerifyingKey::from_sec1_bytes(&bytes).ok()
    }
}

/// Checks a public key sent at pairing: a P-256 point, base64url.
pub fn valid_public_key(alg: &str, public_key: &str) -> bool {
    alg == DEVICE_KEY_ALG
        && public_key.len() <= 200
        && URL_SAFE_NO_PAD
            .decode(public_key)
            .ok()
            .is_some_and(|b| VerifyingKey::from_sec1_bytes(&b).is_ok())
}

pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new device token: `DEVICE_ID.SECRET`, what the app sends as its bearer token.
pub fn new_token(device_id: &str) -> (String, String) {
    let secret = URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>());
    (format!("{device_id}.{secret}"), token_hash(&secret))
}

/// What an app is told about a request: never the number (the person types it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PushContext {
    /// "Signing in", "Resetting your password", "Adding this device".
    pub action: String,
    /// The app being signed in to.
    pub app: String,
    /// Approximate place of the sign-in ("Leeds, GB"), or "Unknown".
    pub location: String,
    pub ip: String,
    pub browser: String,
    pub at: UnixTime,
}

/// A pending request as the app sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PushRequest {
    pub id: String,
    pub nonce: String,
    pub expires_at: UnixTime,
    /// Not announced to the app (a risky sign-in): shown only when the person opens it.
    pub silent: bool,
    #[serde(flatten)]
    pub context: PushContext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
    /// Deny, and report it as suspicious.
    Report,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
            Decision::Report => "report",
        }
    }
}

/// What the device signs: every part of the answer and the server's nonce, so that nothing
/// can be changed or replayed onto another request.
pub fn signed_message(request_id: &str, number: &str, nonce: &str, decision: Decision) -> String {
    format!(
        "nhsmal-push-v1\n{request_id}\n{number}\n{nonce}\n{}",
        decision.as_str()
    )
}

/// An app's answer to a request.
#[derive(Debug, Clone, Deserialize)]
pub struct PushAnswer {
    pub decision: Decision,
    /// The number the person typed (empty when denying).
    #[serde(default)]
    pub number: String,
    /// ECDSA P-256 signature (r‖s, 64 bytes) over `signed_message`, base64url.
    pub signature: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Answered {
    Approved,
    /// The typed number was not the one on the sign-in page: the request is refused.
    WrongNumber,
    Denied,
    Reported,
    /// The first test request of a pairing was answered: the device is the person's now.
    Paired,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("The device is not known, or has been removed")]
    UnknownDevice,
    #[error("The answer's signature is not valid")]
    BadSignature,
    #[error("This request has ended")]
    TooLate,
    #[error("{0}")]
    BadAnswer(&'static str),
    #[error("The activation code is not valid, or has expired or been used")]
    BadActivationCode,
    #[error(transparent)]
    Mfa(#[from] MfaError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A paired device (or one being paired), found from its token.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub account_id: String,
    pub credential: DeviceCredential,
    /// The push method, once paired.
    pub method: Option<Method>,
    /// The pairing, while it is under way.
    pub pairing: Option<super::pairing::Pairing>,
}

/// The records push needs besides the approvals.
pub trait PushRecords {
    /// The push method of this device id, if it is still registered.
    fn push_method(
        &self,
        device_id: &str,
    ) -> impl Future<Output = Result<Option<Method>, StorageError>> + Send;
    /// Pending, unexpired push requests for this device, oldest first.
    fn push_requests(
        &self,
        device_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<Approval>, StorageError>> + Send;
    /// Push requests to this account created since `since` (any state still stored).
    fn push_history(
        &self,
        account_id: &str,
        since: UnixTime,
    ) -> impl Future<Output = Result<Vec<Approval>, StorageError>> + Send;
    /// The pending push requests of every account (id and device), newest first and at most
    /// a few thousand: a node that sees a new one wakes that device's stream (requests made on
    /// other nodes).
    fn pending_pushes(
        &self,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<(String, String)>, StorageError>> + Send;
}

/// Finds the device a bearer token (`DEVICE_ID.SECRET`) belongs to; the secret is compared
/// in constant time. A removed device's token finds nothing.
pub async fn device_of<R>(records: &R, bearer: &str) -> Result<Device, PushError>
where
    R: PushRecords + super::pairing::PairingRecords,
{
    let Some((device_id, secret)) = bearer.split_once('.') else {
        return Err(PushError::UnknownDevice);
    };
    if device_id.len() > 64 || secret.len() > 100 {
        return Err(PushError::UnknownDevice);
    }
    let given = token_hash(secret);
    let matches =
        |c: &DeviceCredential| bool::from(c.token_hash.as_bytes().ct_eq(given.as_bytes()));
    if let Some(method) = records.push_method(device_id).await? {
        let credential = method
            .credential
            .as_deref()
            .and_then(DeviceCredential::parse)
            .ok_or(PushError::UnknownDevice)?;
        if !matches(&credential) {
            return Err(PushError::UnknownDevice);
        }
        return Ok(Device {
            id: device_id.to_string(),
            account_id: method.account_id.clone(),
            credential,
            method: Some(method),
            pairing: None,
        });
    }
    if let Some(pairing) = records.pairing_by_device(device_id).await?
        && pairing.status == "claimed"
        && let Some(credential) = pairing
            .credential
            .as_deref()
            .and_then(DeviceCredential::parse)
        && matches(&credential)
    {
        return Ok(Device {
            id: device_id.to_string(),
            account_id: pairing.account_id.clone(),
            credential,
            method: None,
            pairing: Some(pairing),
        });
    }
    Err(PushError::UnknownDevice)
}

fn request_of(a: &Approval) -> Option<PushRequest> {
    let context = serde_json::from_str(a.context.as_deref()?).ok()?;
    Some(PushRequest {
        id: a.id.clone(),
        nonce: a.nonce.clone()?,
        expires_at: a.expires_at,
        silent: a.silent,
        context,
    })
}

/// The pending requests of this device.
pub async fn pending_for(
    records: &impl PushRecords,
    device: &Device,
    now: UnixTime,
) -> Result<Vec<PushRequest>, StorageError> {
    Ok(records
        .push_requests(&device.id, now)
        .await?
        .iter()
        .filter(|a| a.account_id == device.account_id)
        .filter_map(request_of)
        .collect())
}

/// Until when pushes to this person are suspended, if they are: `FATIGUE_LIMIT` requests
/// unanswered or denied within `FATIGUE_WINDOW`, then `suspend` seconds from the last of them.
pub fn suspended_until(history: &[Approval], suspend: i64, now: UnixTime) -> Option<UnixTime> {
    let mut failures: Vec<UnixTime> = history
        .iter()
        .filter(|a| a.purpose != "pair")
        .filter_map(|a| match a.status_at(now) {
            ApprovalStatus::Denied => Some(a.decided_at.unwrap_or(a.created_at)),
            ApprovalStatus::Expired => Some(a.expires_at),
            _ => None,
        })
        .collect();
    failures.sort_unstable();
    let mut until = None;
    for window in failures.windows(FATIGUE_LIMIT) {
        let (first, last) = (window[0], window[FATIGUE_LIMIT - 1]);
        if last - first <= FATIGUE_WINDOW {
            until = Some(last + suspend);
        }
    }
    until.filter(|u| *u > now)
}

/// Whether pushes to this person are suspended now (MFA fatigue), and until when.
pub async fn pushes_suspended(
    records: &impl PushRecords,
    ctx: &MfaContext<'_>,
    account_id: &str,
) -> Result<Option<UnixTime>, StorageError> {
    let suspend = ctx.risk.push_suspend_minutes * 60;
    let history = records
        .push_history(
            account_id,
            ctx.now - FATIGUE_WINDOW - suspend - APPROVAL_LIFETIME,
        )
        .await?;
    Ok(suspended_until(&history, suspend, ctx.now))
}

/// A two-digit number, 10 to 99, from the CSPRNG.
fn random_number() -> String {
    let [a, b] = crate::random_bytes::<2>();
    let n = u16::from_le_bytes([a, b]) % 90 + 10;
    n.to_string()
}

/// A new request, stored: its id and the number the browser shows.
pub(crate) fn new_request(
    account_id: &str,
    device_id: &str,
    session_hash: &str,
    purpose: &str,
    context: &PushContext,
    silent: bool,
    now: UnixTime,
) -> Approval {
    let nonce = URL_SAFE_NO_PAD.encode(crate::random_bytes::<16>());
    Approval {
        // Time-ordered, so that a new request changes the greatest id nodes poll for.
        id: uuid::Uuid::now_v7().to_string(),
        account_id: account_id.to_string(),
        session_hash: session_hash.to_string(),
        purpose: purpose.to_string(),
        channel: "push".into(),
        phone: None,
        // Unused by push; the column is unique, so it holds the nonce's hash.
        keypad_hash: hex(&Sha256::digest(nonce.as_bytes())),
        status: "pending".into(),
        expires_at: now + APPROVAL_LIFETIME,
        created_at: now,
        decided_at: None,
        device_id: Some(device_id.to_string()),
        number: Some(random_number()),
        nonce: Some(nonce),
        context: serde_json::to_string(context).ok(),
        silent,
    }
}

/// Sends a push to the device of `method` for this session: refused while pushes to the
/// person are suspended (MFA fatigue) and past `PUSHES_PER_HOUR`, both checked before
/// anything is stored. `silent` (a risky sign-in) is not announced to the app.
#[allow(clippy::too_many_arguments)]
pub async fn send_push<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    method: &Method,
    session_hash: &str,
    purpose: Purpose,
    context: &PushContext,
    silent: bool,
) -> Result<Approval, MfaError>
where
    R: super::MfaRecords,
{
    send_push_numbered(
        records,
        ctx,
        account,
        method,
        session_hash,
        purpose,
        context,
        silent,
        None,
    )
    .await
}

/// As `send_push`, with the number the page shows when the page chose it (a password reset's
/// step shows its number whether or not anything was sent: see the portal's reset step).
#[allow(clippy::too_many_arguments)]
pub async fn send_push_numbered<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    method: &Method,
    session_hash: &str,
    purpose: Purpose,
    context: &PushContext,
    silent: bool,
    number: Option<String>,
) -> Result<Approval, MfaError>
where
    R: super::MfaRecords,
{
    let device_id = match (&method.kind, &method.credential_id) {
        (MethodKind::Push, Some(id)) => id.clone(),
        _ => return Err(MfaError::NoSuchMethod),
    };
    if let Some(until) = pushes_suspended(records, ctx, &account.id).await? {
        return Err(MfaError::PushesSuspended { until });
    }
    // The hourly count is reserved atomically, like texts and calls.
    let keys = [format!("push:account:{}", account.id)];
    if records
        .reserve_sends(
            &[keys[0].as_str()],
            ctx.now - 3600,
            PUSHES_PER_HOUR,
            ctx.now,
        )
        .await?
        .is_none()
    {
        return Err(MfaError::TooManySends {
            until: ctx.now + 3600,
        });
    }
    let mut approval = new_request(
        &account.id,
        &device_id,
        session_hash,
        purpose.as_str(),
        context,
        silent,
        ctx.now,
    );
    if let Some(n) = number.filter(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit())) {
        approval.number = Some(n);
    }
    records.insert_approval(&approval).await?;
    records
        .append_audit(
            &ctx.audit("mfa.push_sent", Outcome::Success, account)
                .reason(&format!("{} to {}", purpose.as_str(), method.name)),
        )
        .await?;
    Ok(approval)
}

/// An app's answer to one of its requests. The signature is checked first: a forged answer
/// changes nothing. Then the request is decided once (the store's conditional update), and a
/// wrong number refuses it.
pub async fn answer<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    device: &Device,
    request_id: &str,
    answer: &PushAnswer,
) -> Result<Answered, PushError>
where
    R: super::MfaRecords,
{
    if answer.number.len() > 8 || answer.signature.len() > 200 {
        return Err(PushError::BadAnswer("The answer is too long"));
    }
    let Some(approval) = records.approval(request_id).await? else {
        return Err(PushError::TooLate);
    };
    if approval.channel != "push"
        || approval.account_id != device.account_id
        || approval.device_id.as_deref() != Some(device.id.as_str())
    {
        return Err(PushError::TooLate);
    }
    let nonce = approval.nonce.clone().unwrap_or_default();
    let message = signed_message(request_id, &answer.number, &nonce, answer.decision);
    let signature = URL_SAFE_NO_PAD
        .decode(&answer.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok());
    let valid = match (device.credential.key(), signature) {
        (Some(key), Some(sig)) => key.verify(message.as_bytes(), &sig).is_ok(),
        _ => false,
    };
    let account = records.account_by_id(&approval.account_id).await?;
    if !valid {
        let mut event =
            AuditEvent::new("mfa.push_answer", Outcome::Failure, ctx.requester, ctx.now)
                .reason("bad_signature");
        event = event.account(&approval.account_id);
        records.append_audit(&event).await?;
        return Err(PushError::BadSignature);
    }
    if approval.status_at(ctx.now) != ApprovalStatus::Pending {
        return Err(PushError::TooLate);
    }
    let right_number = approval.number.as_deref().unwrap_or_default();
    let (status, outcome) = match answer.decision {
        Decision::Approve
            if bool::from(
                answer
                    .number
                    .trim()
                    .as_bytes()
                    .ct_eq(right_number.as_bytes()),
            ) =>
        {
            ("approved", Answered::Approved)
        }
        Decision::Approve => ("denied", Answered::WrongNumber),
        Decision::Deny => ("denied", Answered::Denied),
        Decision::Report => ("denied", Answered::Reported),
    };
    if !records
        .decide_approval(&approval.id, status, ctx.now)
        .await?
    {
        return Err(PushError::TooLate);
    }
    let reason = match outcome {
        Answered::Approved => "approved",
        Answered::WrongNumber => "wrong_number",
        Answered::Denied => "denied",
        _ => "reported",
    };
    let event = AuditEvent::new(
        "mfa.push_answer",
        if outcome == Answered::Approved {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        ctx.requester,
        ctx.now,
    )
    .account(&approval.account_id)
    .reason(&format!("{reason} ({})", approval.purpose));
    records.append_audit(&event).await?;
    if approval.purpose == "pair" {
        return match (outcome, &device.pairing) {
            (Answered::Approved, Some(pairing)) => {
                super::pairing::complete(records, ctx, pairing).await?;
                Ok(Answered::Paired)
            }
            (other, _) => Ok(other),
        };
    }
    if let Some(method) = &device.method {
        records.mark_method_used(&method.id, ctx.now).await?;
    }
    if outcome == Answered::Reported
        && let Some(account) = account
    {
        records
            .append_audit(
                &AuditEvent::new(
                    "mfa.fraud_reported",
                    Outcome::Failure,
                    ctx.requester,
                    ctx.now,
                )
                .account(&account.id)
                .reason(&format!(
                    "reported in the NHSmal Authenticator ({})",
                    approval.purpose
                )),
            )
            .await?;
        let notice = crate::notices::sign_in_blocked(&account, ctx.now);
        super::send_notice(records, ctx, &account, notice).await?;
        crate::monitoring::reported_by_person(
            records,
            &ctx.monitor(),
            &account,
            "push",
            "reported in the NHSmal Authenticator",
        )
        .await?;
    }
    Ok(outcome)
}

/// Takes an approved push of this session for `purpose` (once): returns the device id that
/// approved it.
pub async fn take_approved(
    records: &impl super::approvals::ApprovalRecords,
    approval_id: &str,
    session_hash: &str,
    purpose: Purpose,
    now: UnixTime,
) -> Result<Result<String, ApprovalStatus>, StorageError> {
    let Some(a) = records.approval(approval_id).await? else {
        return Ok(Err(ApprovalStatus::Expired));
    };
    if a.session_hash != session_hash || a.purpose != purpose.as_str() || a.channel != "push" {
        return Ok(Err(ApprovalStatus::Expired));
    }
    match a.status_at(now) {
        ApprovalStatus::Approved => {
            if !records.delete_approval(&a.id).await? {
                return Ok(Err(ApprovalStatus::Expired));
            }
            Ok(a.device_id.ok_or(ApprovalStatus::Expired))
        }
        other => Ok(Err(other)),
    }
}

/// The second step by push: the approved request of this session, taken once, proves the
/// device that answered it. Returns that device's method.
pub async fn verify_push<R>(
    records: &R,
    account: &Account,
    session_hash: &str,
    purpose: Purpose,
    approval_id: &str,
    ctx: &MfaContext<'_>,
) -> Result<Method, super::CallOutcome>
where
    R: super::MfaRecords,
{
    use super::CallOutcome;
    if let Some(until) = super::locked_until(records, &ctx.lock_key(&account.id), ctx.now)
        .await
        .map_err(CallOutcome::Storage)?
    {
        return Err(CallOutcome::Locked { until });
    }
    let device = match take_approved(records, approval_id, session_hash, purpose, ctx.now)
        .await
        .map_err(CallOutcome::Storage)?
    {
        Ok(device) => device,
        Err(status) => return Err(CallOutcome::Waiting(status)),
    };
    let methods = records
        .methods_of(&account.id)
        .await
        .map_err(CallOutcome::Storage)?;
    // A device removed between its answer and now proves nothing.
    let Some(method) = methods
        .into_iter()
        .find(|m| m.kind == MethodKind::Push && m.credential_id.as_deref() == Some(&device))
    else {
        return Err(CallOutcome::Waiting(ApprovalStatus::Expired));
    };
    super::succeeded(records, account, &method, ctx)
        .await
        .map_err(CallOutcome::Storage)?;
    Ok(method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;

    fn approval(status: &str, created: i64, decided: Option<i64>) -> Approval {
        let mut a = new_request("a", "d", "s", "sign_in", &context(), false, created);
        a.status = status.into();
        a.decided_at = decided;
        a
    }

    fn context() -> PushContext {
        PushContext {
            action: "Signing in".into(),
            app: "NHSmal Portal".into(),
            location: "Unknown".into(),
            ip: "127.0.0.1".into(),
            browser: "Firefox".into(),
            at: 0,
        }
    }

    #[test]
    fn three_refusals_within_ten_minutes_suspend_pushes_from_the_last() {
        let history = vec![
            approval("denied", 0, Some(10)),
            approval("denied", 100, Some(110)),
            approval("denied", 200, Some(210)),
        ];
        assert_eq!(suspended_until(&history, 1800, 300), Some(2010));
        assert_eq!(suspended_until(&history, 1800, 2011), None);
    }

    #[test]
    fn unanswered_requests_count_once_expired_and_approved_ones_never() {
        let history = vec![
            approval("pending", 0, None),
            approval("pending", 10, None),
            approval("approved", 20, Some(25)),
        ];
        // Two expired at 120 and 130: not yet three.
        assert_eq!(suspended_until(&history, 1800, 200), None);
        let mut more = history.clone();
        more.push(approval("denied", 150, Some(160)));
        assert_eq!(suspended_until(&more, 1800, 200), Some(1960));
    }

    #[test]
    fn refusals_further_apart_than_the_window_do_not_suspend() {
        let history = vec![
            approval("denied", 0, Some(0)),
            approval("denied", 400, Some(400)),
            approval("denied", 700, Some(700)),
        ];
        assert_eq!(suspended_until(&history, 1800, 800), None);
    }

    #[test]
    fn the_number_is_two_digits() {
        for _ in 0..200 {
            let n: u32 = random_number().parse().expect("number");
            assert!((10..=99).contains(&n));
        }
    }

    #[test]
    fn a_signature_covers_every_part_of_the_answer() {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("key");
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_sec1_bytes());
        assert!(valid_public_key("ES256", &public));
        assert!(!valid_public_key("EdDSA", &public));
        assert!(!valid_public_key("ES256", "AAAA"));
        let credential = DeviceCredential {
            alg: "ES256".into(),
            public_key: public,
            token_hash: String::new(),
        };
        let message = signed_message("r1", "42", "n1", Decision::Approve);
        let sig: Signature = key.sign(message.as_bytes());
        let verifying = credential.key().expect("key");
        assert!(verifying.verify(message.as_bytes(), &sig).is_ok());
        for other in [
            signed_message("r2", "42", "n1", Decision::Approve),
            signed_message("r1", "43", "n1", Decision::Approve),
            signed_message("r1", "42", "n2", Decision::Approve),
            signed_message("r1", "42", "n1", Decision::Deny),
        ] {
            assert!(verifying.verify(other.as_bytes(), &sig).is_err());
        }
    }
}
