//! Remembered devices: "Don't ask again on this device for N days" after a second factor.
//! The browser keeps a random token (in an HttpOnly cookie) bound to one account; the database
//! keeps only its SHA-256. A password change, an MFA reset and "This wasn't me" void them all.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::StorageError;
use super::accounts::Account;
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::secrets::hex;
use crate::clock::UnixTime;

/// The longest the policy may let a device be remembered.
pub const MAX_REMEMBER_DAYS: i64 = 90;

#[derive(Debug, Clone)]
pub struct RememberedDevice {
    pub id: String,
    pub account_id: String,
    pub token_hash: String,
    pub user_agent: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

pub trait DeviceRecords {
    fn insert_device(
        &self,
        device: &RememberedDevice,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn device(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<RememberedDevice>, StorageError>> + Send;
    fn devices_of(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<RememberedDevice>, StorageError>> + Send;
    fn touch_device(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Forgets one device of the account (`Some(id)`) or all of them; returns how many.
    fn forget_devices(
        &self,
        account_id: &str,
        id: Option<&str>,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
}

/// The cookie value for a new remembered device: `id.token`.
pub struct DeviceToken(pub String);

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Remembers this browser for `days` (capped at 90) after a second factor.
pub async fn remember<R>(
    records: &R,
    account: &Account,
    days: i64,
    requester: &Requester,
    now: UnixTime,
) -> Result<(DeviceToken, UnixTime), StorageError>
where
    R: DeviceRecords + AuditTrail + Sync,
{
    let days = days.clamp(1, MAX_REMEMBER_DAYS);
    let token = URL_SAFE_NO_PAD.encode(super::random_bytes::<32>());
    let id = uuid::Uuid::new_v4().to_string();
    let expires_at = now + days * 86_400;
    records
        .insert_device(&RememberedDevice {
            id: id.clone(),
            account_id: account.id.clone(),
            token_hash: token_hash(&token),
            user_agent: super::sessions::truncate(&requester.user_agent, 512),
            created_at: now,
            expires_at,
            last_used_at: None,
        })
        .await?;
    records
        .append_audit(
            &AuditEvent::new("device.remembered", Outcome::Success, requester, now)
                .account(&account.id)
                .reason(&format!("{days} days")),
        )
        .await?;
    Ok((DeviceToken(format!("{id}.{token}")), expires_at))
}

/// True when the cookie names a live remembered device of this account (token compared in
/// constant time through its hash).
pub async fn recognise<R>(
    records: &R,
    account: &Account,
    cookie: &str,
    (policy_days, extend): (i64, bool),
    now: UnixTime,
) -> Result<bool, StorageError>
where
    R: DeviceRecords + Sync,
{
    // On a trusted network in the stricter mode (issue 24), the choice lasts twice as long.
    let (policy_days, grace) = if extend {
        (policy_days * 2, policy_days * 86_400)
    } else {
        (policy_days, 0)
    };
    let Some((id, token)) = cookie.split_once('.') else {
        return Ok(false);
    };
    if id.len() > 64 || token.len() > 64 {
        return Ok(false);
    }
    let Some(device) = records.device(id).await? else {
        return Ok(false);
    };
    let matches: bool = token_hash(token)
        .as_bytes()
        .ct_eq(device.token_hash.as_bytes())
        .into();
    // A policy cut from 90 days to 7 applies to devices already remembered.
    let within_policy = device.created_at + policy_days * 86_400 > now;
    if !matches
        || device.account_id != account.id
        || device.expires_at + grace <= now
        || !within_policy
    {
        return Ok(false);
    }
    records.touch_device(&device.id, now).await?;
    Ok(true)
}

/// Forgets one or all of a person's remembered devices.
pub async fn forget<R>(
    records: &R,
    account: &Account,
    id: Option<&str>,
    requester: &Requester,
    now: UnixTime,
) -> Result<u64, StorageError>
where
    R: DeviceRecords + AuditTrail + Sync,
{
    let n = records.forget_devices(&account.id, id).await?;
    if n > 0 {
        records
            .append_audit(
                &AuditEvent::new("device.forgotten", Outcome::Success, requester, now)
                    .account(&account.id)
                    .reason(&format!("{n} device(s)")),
            )
            .await?;
    }
    Ok(n)
}

/// A short, human description of a browser from its user agent ("Chrome on Windows").
pub fn describe_browser(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Windows", "Windows"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| *name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_string(),
    }
}
