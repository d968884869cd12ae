//! The device authorization grant (RFC 8628), for mail apps and devices without a browser: the
//! app asks for a device code and a short user code, the person types the user code at
//! `/device` while signed in and allows or denies the app, and the app polls the token
//! endpoint until then.
//!
//! Every state change is one conditional write, so that of requests racing each other exactly
//! one wins: a decision moves a pending authorization only; a poll sooner than the interval is
//! told to slow down, and the interval grows; the tokens are issued once, since issuing spends
//! the device code as an exchange spends a code.

use std::future::Future;

use sha2::{Digest, Sha256};

use super::clients::Client;
use super::flows::{
    Authentication, Grant, GrantRecords, Issuer, Spending, TokenError, TokenResponse, issue_tokens,
    new_secret,
};
use super::request::SCOPES;
use crate::StorageError;
use crate::clock::UnixTime;
use crate::limits::{LimitState, SignInLimitRecords, client_source};

/// A device code and its user code live 10 minutes (RFC 8628 §3.2 `expires_in`).
pub const DEVICE_CODE_SECONDS: i64 = 600;
/// The app polls no more often than this (§3.2 `interval`); each "slow_down" adds 5 (§3.5).
pub const POLL_INTERVAL_SECONDS: i64 = 5;
const SLOW_DOWN_STEP: i64 = 5;
/// User codes: 8 letters with no vowels (no words) and none that look alike (§6.1): 20^8,
/// about 34 bits, typed as `WDJB-MJHT`.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH: usize = 8;
/// Wrong user codes allowed per client address, and per signed-in account, in a window:
/// with 20^8 codes and a handful pending, a few guesses find nothing (§5.1).
pub const USER_CODE_GUESSES: i64 = 5;
pub const USER_CODE_WINDOW_SECONDS: i64 = 15 * 60;
/// Device codes one client address may ask for in a window: a mail app asks once a setup, and
/// a flood would fill the table and the pool of pending codes a guess could hit.
pub const STARTS_PER_ADDRESS: i64 = 20;
pub const STARTS_WINDOW_SECONDS: i64 = 10 * 60;

/// Where an authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Allowed,
    Denied,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Allowed => "allowed",
            DeviceStatus::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Allowed, Self::Denied]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One app's request, as stored: the codes only as hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceAuthorization {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scope: String,
    /// The address the app asked from, shown to the person who allows it.
    pub requested_from: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub interval: i64,
    pub last_polled_at: Option<UnixTime>,
    pub status: DeviceStatus,
    /// The grant made when the person allowed it.
    pub grant_id: Option<String>,
}

pub trait DeviceGrantRecords {
    fn insert_device_authorization(
        &self,
        authorization: &DeviceAuthorization,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn device_authorization_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> impl Future<Output = Result<Option<DeviceAuthorization>, StorageError>> + Send;
    fn device_authorization(
        &self,
        device_code_hash: &str,
    ) -> impl Future<Output = Result<Option<DeviceAuthorization>, StorageError>> + Send;
    /// Allows a pending, unexpired authorization: the grant is inserted and the authorization
    /// moved to allowed in one transaction; false (and nothing written) when it was no longer
    /// pending.
    fn allow_device_authorization(
        &self,
        user_code_hash: &str,
        grant: &Grant,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Denies a pending, unexpired authorization; false when it was no longer pending.
    fn deny_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
    /// Records a poll at `now` when the last was at least the interval ago (true); otherwise
    /// adds `slow_down` seconds to the interval, records the poll, and returns false.
    fn record_device_poll(
        &self,
        device_code_hash: &str,
        now: UnixTime,
        slow_down: i64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

/// What the app is given (§3.2).
#[derive(Debug, serde::Serialize)]
pub struct DeviceCodeResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("the device grant is for native apps (registered with --native)")]
    NotNative,
    #[error("the openid scope is required")]
    NoOpenId,
    #[error("too many device codes asked for from this address: wait 10 minutes")]
    TooMany,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The hash a user code is stored and found by: its letters only, upper case, so that
/// `wdjb mjht`, `WDJB-MJHT` and `WDJBMJHT` are one code.
pub fn user_code_key(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = letters.len() == USER_CODE_LENGTH
        && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then(|| crate::secrets::hex(&Sha256::digest(format!("nhsmal-user-code\n{letters}"))))
}

/// A new user code from the OS random source, as `WDJB-MJHT`. Each letter is drawn by
/// rejection sampling, so every letter is equally likely.
fn new_user_code() -> String {
    let mut letters = String::with_capacity(USER_CODE_LENGTH + 1);
    while letters.len() < USER_CODE_LENGTH + 1 {
        for b in crate::random_bytes::<16>() {
            // 240 = 12 × 20: bytes at or above it would favour the first letters.
            if b < 240 && letters.len() < USER_CODE_LENGTH + 1 {
                if letters.len() == USER_CODE_LENGTH / 2 {
                    letters.push('-');
                }
                letters.push(USER_CODE_ALPHABET[usize::from(b % 20)] as char);
            }
        }
    }
    letters
}

/// The app's request (§3.1): a device code, a user code and where to type it.
pub async fn start<R: DeviceGrantRecords + SignInLimitRecords + Sync>(
    records: &R,
    client: &Client,
    scope: &str,
    (requested_ip, requested_from): (&str, &str),
    verification_uri: &str,
    now: UnixTime,
) -> Result<DeviceCodeResponse, DeviceError> {
    if !client.native {
        return Err(DeviceError::NotNative);
    }
    let asked: Vec<&str> = scope.split_whitespace().collect();
    if !asked.contains(&"openid") {
        return Err(DeviceError::NoOpenId);
    }
    let granted: Vec<&str> = SCOPES.into_iter().filter(|s| asked.contains(s)).collect();
    let key = format!("device:start:ip:{}", client_source(requested_ip));
    let allowed = records
        .reserve(&[key.as_str()], |states: &mut [LimitState]| {
            let state = &mut states[0];
            if state.window_start < now - STARTS_WINDOW_SECONDS {
                *state = LimitState {
                    failures: 0,
                    window_start: now,
                    blocked_until: 0,
                };
            }
            if state.failures >= STARTS_PER_ADDRESS {
                return false;
            }
            state.failures += 1;
            true
        })
        .await?;
    if !allowed {
        return Err(DeviceError::TooMany);
    }
    let device_code = new_secret();
    let user_code = new_user_code();
    let authorization = DeviceAuthorization {
        device_code_hash: super::flows::key_of(&device_code),
        user_code_hash: user_code_key(&user_code).unwrap_or_default(),
        client_id: client.id.clone(),
        scope: granted.join(" "),
        requested_from: requested_from.to_string(),
        created_at: now,
        expires_at: now + DEVICE_CODE_SECONDS,
        interval: POLL_INTERVAL_SECONDS,
        last_polled_at: None,
        status: DeviceStatus::Pending,
        grant_id: None,
    };
    records.insert_device_authorization(&authorization).await?;
    Ok(DeviceCodeResponse {
        verification_uri_complete: format!("{verification_uri}?user_code={user_code}"),
        verification_uri: verification_uri.to_string(),
        device_code,
        user_code,
        expires_in: DEVICE_CODE_SECONDS,
        interval: POLL_INTERVAL_SECONDS,
    })
}

/// Why a typed user code found nothing to decide.
#[derive(Debug, thiserror::Error)]
pub enum UserCodeError {
    #[error("Enter the code exactly as your app or device shows it, such as WDJB-MJHT")]
    Malformed,
    #[error("The code is not correct, or it has expired. Check it and try again")]
    NotFound,
    #[error("Too many wrong codes. Wait 15 minutes and try again")]
    TooManyGuesses,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The limit keys a user code guess is counted under: the client address and the account.
fn guess_keys(ip: &str, account_id: &str) -> [String; 2] {
    [
        format!("device:user-code:ip:{}", client_source(ip)),
        format!("device:user-code:account:{account_id}"),
    ]
}

/// Finds the pending authorization a signed-in person typed the user code of. Each try is
/// counted before the lookup (check and record in one step), and a right one is taken back,
/// so that 50 guesses at once get exactly `USER_CODE_GUESSES` lookups.
pub async fn find_for_person<R>(
    records: &R,
    typed: &str,
    ip: &str,
    account_id: &str,
    now: UnixTime,
) -> Result<DeviceAuthorization, UserCodeError>
where
    R: DeviceGrantRecords + SignInLimitRecords + Sync,
{
    let keys = guess_keys(ip, account_id);
    let refs = [keys[0].as_str(), keys[1].as_str()];
    let allowed = records
        .reserve(&refs, |states: &mut [LimitState]| {
            let floor = now - USER_CODE_WINDOW_SECONDS;
            for state in states.iter_mut() {
                if state.window_start < floor {
                    *state = LimitState {
                        failures: 0,
                        window_start: now,
                        blocked_until: 0,
                    };
                }
            }
            if states.iter().any(|s| s.failures >= USER_CODE_GUESSES) {
                return false;
            }
            for state in states.iter_mut() {
                state.failures += 1;
            }
            true
        })
        .await?;
    if !allowed {
        return Err(UserCodeError::TooManyGuesses);
    }
    let Some(key) = user_code_key(typed) else {
        return Err(UserCodeError::Malformed);
    };
    let found = records
        .device_authorization_by_user_code(&key)
        .await?
        .filter(|a| a.status == DeviceStatus::Pending && a.expires_at > now);
    match found {
        Some(authorization) => {
            for key in &refs {
                records.uncount_failure(key).await?;
            }
            Ok(authorization)
        }
        None => Err(UserCodeError::NotFound),
    }
}

/// The person allows the app: a grant with how they signed in, as a code would carry.
/// False when the authorization was decided (or expired) meanwhile.
pub async fn allow<R: DeviceGrantRecords>(
    records: &R,
    authorization: &DeviceAuthorization,
    client: &Client,
    who: &Authentication<'_>,
    now: UnixTime,
) -> Result<bool, StorageError> {
    let grant = Grant::new(client, who, &authorization.scope, now);
    records
        .allow_device_authorization(&authorization.user_code_hash, &grant, now)
        .await
}

pub async fn deny<R: DeviceGrantRecords>(
    records: &R,
    authorization: &DeviceAuthorization,
    now: UnixTime,
) -> Result<bool, StorageError> {
    records
        .deny_device_authorization(&authorization.user_code_hash, now)
        .await
}

/// The app's poll (§3.4, §3.5): `authorization_pending`, `slow_down`, `expired_token`,
/// `access_denied`, or the tokens, once.
pub async fn poll<R>(
    records: &R,
    issuer: &Issuer<'_>,
    client: &Client,
    device_code: &str,
    now: UnixTime,
) -> Result<TokenResponse, TokenError>
where
    R: DeviceGrantRecords + GrantRecords + Sync,
{
    if device_code.is_empty() {
        return Err(TokenError::InvalidRequest("device_code is required"));
    }
    let hash = super::flows::key_of(device_code);
    let Some(authorization) = records.device_authorization(&hash).await? else {
        return Err(TokenError::InvalidGrant("unknown device code"));
    };
    if authorization.client_id != client.id {
        return Err(TokenError::InvalidGrant(
            "the device code was issued to another client",
        ));
    }
    if authorization.expires_at <= now && authorization.status == DeviceStatus::Pending {
        return Err(TokenError::ExpiredToken);
    }
    if !records
        .record_device_poll(&hash, now, SLOW_DOWN_STEP)
        .await?
    {
        return Err(TokenError::SlowDown);
    }
    match authorization.status {
        DeviceStatus::Pending => Err(TokenError::AuthorizationPending),
        DeviceStatus::Denied => Err(TokenError::AccessDenied),
        DeviceStatus::Allowed => {
            let grant_id = authorization.grant_id.as_deref().unwrap_or_default();
            let Some((grant, account)) = records.grant(grant_id).await? else {
                return Err(TokenError::InvalidGrant("unknown device code"));
            };
            if grant.revoked_at.is_some() {
                return Err(TokenError::InvalidGrant("the grant has been revoked"));
            }
            issue_tokens(
                records,
                issuer,
                client,
                (&grant, account),
                (Spending::DeviceCode, &hash),
                None,
                now,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_eight_unambiguous_letters_and_typed_any_way_they_match() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), 9, "{code}");
            assert_eq!(&code[4..5], "-");
            assert!(
                code.bytes()
                    .filter(|b| *b != b'-')
                    .all(|b| USER_CODE_ALPHABET.contains(&b))
            );
            let key = user_code_key(&code).expect("valid");
            assert_eq!(user_code_key(&code.to_lowercase()), Some(key.clone()));
            assert_eq!(user_code_key(&code.replace('-', " ")), Some(key.clone()));
            assert_eq!(user_code_key(&code.replace('-', "")), Some(key));
        }
        assert_eq!(user_code_key("WDJB-MJH"), None);
        assert_eq!(user_code_key("WDJB-MJHA"), None, "vowels are not used");
        assert_eq!(user_code_key("WDJB-MJH1"), None);
        assert_eq!(user_code_key(""), None);
    }

    #[test]
    fn every_letter_of_a_user_code_is_about_equally_likely() {
        let mut counts = [0u32; 20];
        for _ in 0..2_000 {
            for b in new_user_code().bytes().filter(|b| *b != b'-') {
                let at = USER_CODE_ALPHABET
                    .iter()
                    .position(|l| *l == b)
                    .expect("letter");
                counts[at] += 1;
            }
        }
        // 16,000 letters: 800 each expected; a biased draw would be far off.
        assert!(counts.iter().all(|c| (650..950).contains(c)), "{counts:?}");
    }
}
