//! Pairing the NHSmal Authenticator with an account: an activation code shown on the set-up
//! page (single use, 10 minutes), the app's device key and a TOTP key for codes when offline,
//! and a first test request that the person answers with the number on the page. Only that
//! answer makes the device one of the person's methods.

use std::future::Future;

use super::push::{self, Device, DeviceCredential, PushContext, PushError};
use super::totp::TotpSecret;
use super::{Method, MethodKind, MfaContext, MfaError};
use crate::StorageError;
use crate::accounts::Account;
use crate::audit::Outcome;
use crate::clock::UnixTime;

/// How long an activation code can be used.
pub const PAIRING_LIFETIME: i64 = 10 * 60;
/// NHSmal Authenticator devices one person may pair (like authenticator apps).
pub const MAX_DEVICES: usize = 5;
/// Letters and digits that cannot be mistaken for one another (no I, L, O, U, 0, 1).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
/// 10 characters of 30: 49 bits, enough for a code that lives 10 minutes and is used once.
const CODE_LENGTH: usize = 10;

#[derive(Debug, Clone)]
pub struct Pairing {
    pub id: String,
    pub account_id: String,
    pub session_hash: String,
    /// Keyed hash of the activation code.
    pub code_hash: String,
    /// waiting (for the app), claimed (the app has sent its key; the test request is out),
    /// done (a method now).
    pub status: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    /// `DeviceCredential` as JSON, once claimed.
    pub credential: Option<String>,
    /// The TOTP key, sealed to this pairing.
    pub secret: Option<Vec<u8>>,
    pub approval_id: Option<String>,
    pub method_id: Option<String>,
    pub expires_at: UnixTime,
    pub created_at: UnixTime,
}

/// What the app sends with the activation code.
#[derive(Debug, Clone)]
pub struct DeviceOffer {
    pub alg: String,
    pub public_key: String,
    pub name: String,
}

pub trait PairingRecords {
    /// Stores a new pairing; any other pairing of the same session is dropped.
    fn start_pairing(
        &self,
        pairing: &Pairing,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Claims a waiting, unexpired pairing by its code hash, once: the device's fields are
    /// written in the same conditional update. None if no such pairing was waiting.
    fn claim_pairing(
        &self,
        code_hash: &str,
        claimed: &Pairing,
        now: UnixTime,
    ) -> impl Future<Output = Result<Option<Pairing>, StorageError>> + Send;
    fn set_pairing_approval(
        &self,
        pairing_id: &str,
        approval_id: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn pairing_of_session(
        &self,
        session_hash: &str,
    ) -> impl Future<Output = Result<Option<Pairing>, StorageError>> + Send;
    fn pairing_by_device(
        &self,
        device_id: &str,
    ) -> impl Future<Output = Result<Option<Pairing>, StorageError>> + Send;
    /// Marks a claimed pairing done with its new method; false if it was not claimed.
    fn finish_pairing(
        &self,
        pairing_id: &str,
        method_id: &str,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

/// A new activation code, such as `K7QMD-4XR2P`.
fn new_code() -> String {
    let bytes = crate::random_bytes::<CODE_LENGTH>();
    let mut code: String = bytes
        .iter()
        // 256 is not a multiple of 30, so the first 16 characters come up 9 times in 256
        // rather than 8: well under a bit of the 49 lost, and no rejection loop to get wrong.
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    code.insert(CODE_LENGTH / 2, '-');
    code
}

/// An activation code as typed or scanned: letters in either case, spaces and dashes ignored.
pub fn normalise_code(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .take(CODE_LENGTH + 1)
        .collect()
}

fn code_hash(ctx: &MfaContext<'_>, code: &str) -> String {
    ctx.secrets
        .mac_hex(format!("push-activation:{}", normalise_code(code)).as_bytes())
}

fn devices_of(methods: &[Method]) -> usize {
    methods
        .iter()
        .filter(|m| m.kind == MethodKind::Push)
        .count()
}

/// Starts pairing for this session: the activation code to show (once; only its keyed hash
/// is stored).
pub async fn start<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    account: &Account,
    session_hash: &str,
) -> Result<(String, Pairing), MfaError>
where
    R: super::MfaRecords,
{
    if devices_of(&records.methods_of(&account.id).await?) >= MAX_DEVICES {
        return Err(MfaError::TooManyDevices);
    }
    let code = new_code();
    let pairing = Pairing {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id.clone(),
        session_hash: session_hash.to_string(),
        code_hash: code_hash(ctx, &code),
        status: "waiting".into(),
        device_id: None,
        device_name: None,
        credential: None,
        secret: None,
        approval_id: None,
        method_id: None,
        expires_at: ctx.now + PAIRING_LIFETIME,
        created_at: ctx.now,
    };
    records.start_pairing(&pairing).await?;
    records
        .append_audit(&ctx.audit("mfa.pairing_started", Outcome::Success, account))
        .await?;
    Ok((code, pairing))
}

/// What the app receives when its activation code is taken.
#[derive(Debug)]
pub struct Claimed {
    pub device_id: String,
    /// The bearer token of this device (shown once; only its hash is stored).
    pub token: String,
    pub email: String,
    pub totp: TotpSecret,
    pub request: push::PushRequest,
}

/// The app presents the activation code with its public key: the code is used up, and the
/// first test request goes out (its number shows on the set-up page).
pub async fn claim<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    code: &str,
    offer: &DeviceOffer,
) -> Result<Claimed, PushError>
where
    R: super::MfaRecords,
{
    if !push::valid_public_key(&offer.alg, &offer.public_key) {
        return Err(PushError::BadAnswer(
            "The device key must be an ES256 (P-256) public key, base64url",
        ));
    }
    let name = super::valid_name(&offer.name, MethodKind::Push)?;
    let device_id = uuid::Uuid::new_v4().to_string();
    let (token, token_hash) = push::new_token(&device_id);
    let credential = DeviceCredential {
        alg: offer.alg.clone(),
        public_key: offer.public_key.clone(),
        token_hash,
    };
    let totp = TotpSecret::generate();
    // Sealed to the device id, which is new and unique: known before the claim is written.
    let sealed = ctx.secrets.seal(totp.bytes(), &binding(&device_id));
    let claimed = Pairing {
        id: String::new(),
        account_id: String::new(),
        session_hash: String::new(),
        code_hash: String::new(),
        status: "claimed".into(),
        device_id: Some(device_id.clone()),
        device_name: Some(name),
        credential: serde_json::to_string(&credential).ok(),
        secret: Some(sealed),
        approval_id: None,
        method_id: None,
        expires_at: 0,
        created_at: 0,
    };
    let Some(pairing) = records
        .claim_pairing(&code_hash(ctx, code), &claimed, ctx.now)
        .await?
    else {
        return Err(PushError::BadActivationCode);
    };
    let Some(account) = records.account_by_id(&pairing.account_id).await? else {
        return Err(PushError::BadActivationCode);
    };
    let context = PushContext {
        action: "Adding this device".into(),
        app: "NHSmal Portal".into(),
        location: ctx
            .requester
            .location
            .as_ref()
            .map_or_else(|| "Unknown".into(), |l| l.place.clone()),
        ip: ctx.requester.ip.clone(),
        browser: crate::notices::describe_device(&ctx.requester.user_agent),
        at: ctx.now,
    };
    let approval = push::new_request(
        &account.id,
        &device_id,
        &pairing.session_hash,
        "pair",
        &context,
        false,
        ctx.now,
    );
    records.insert_approval(&approval).await?;
    records
        .set_pairing_approval(&pairing.id, &approval.id)
        .await?;
    records
        .append_audit(&ctx.audit("mfa.pairing_claimed", Outcome::Success, &account))
        .await?;
    Ok(Claimed {
        device_id,
        token,
        email: account.email.clone(),
        totp,
        request: push::PushRequest {
            id: approval.id.clone(),
            nonce: approval.nonce.clone().unwrap_or_default(),
            expires_at: approval.expires_at,
            silent: false,
            context,
        },
    })
}

fn binding(device_id: &str) -> String {
    format!("push_device:{device_id}")
}

/// The test request was approved with the right number: the device becomes a push method
/// (the default when it is the person's first), with its TOTP key for codes.
pub(crate) async fn complete<R>(
    records: &R,
    ctx: &MfaContext<'_>,
    pairing: &Pairing,
) -> Result<(), PushError>
where
    R: super::MfaRecords,
{
    let Some(account) = records.account_by_id(&pairing.account_id).await? else {
        return Err(PushError::TooLate);
    };
    let existing = records.methods_of(&account.id).await?;
    if devices_of(&existing) >= MAX_DEVICES {
        return Err(MfaError::TooManyDevices.into());
    }
    let sealed = pairing
        .secret
        .as_deref()
        .ok_or_else(|| MfaError::Internal("pairing without a key".into()))?;
    let device_id = pairing.device_id.as_deref().unwrap_or_default();
    let key = ctx
        .secrets
        .open(sealed, &binding(device_id))
        .map_err(|e| MfaError::Internal(e.to_string()))?;
    let id = uuid::Uuid::new_v4().to_string();
    let method = Method {
        secret: Some(ctx.secrets.seal(&key, &Method::secret_binding(&id))),
        id,
        account_id: account.id.clone(),
        kind: MethodKind::Push,
        name: pairing
            .device_name
            .clone()
            .unwrap_or_else(|| MethodKind::Push.label().into()),
        phone: None,
        credential: pairing.credential.clone(),
        credential_id: pairing.device_id.clone(),
        last_totp_step: None,
        passkey: None,
        is_default: existing.is_empty(),
        created_at: ctx.now,
        last_used_at: Some(ctx.now),
    };
    if !records.finish_pairing(&pairing.id, &method.id).await? {
        return Err(PushError::TooLate);
    }
    records.insert_method(&method).await?;
    // An administrator held to the NHSmal Authenticator as their default gets it as such.
    if !method.is_default && account.role != crate::accounts::Role::User {
        let policy = crate::policy::policy_for(records, &account.org_code).await?;
        if policy.admin_push_default {
            records.make_default_method(&account.id, &method.id).await?;
        }
    }
    super::method_added(records, &account, &method, ctx).await?;
    Ok(())
}

/// The state of this session's pairing, for the set-up page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingState {
    /// Waiting for the app to use the activation code.
    Waiting {
        seconds_left: i64,
    },
    /// The app has the code: type this number in it.
    Number {
        number: String,
        seconds_left: i64,
    },
    Done,
    /// Expired, refused or never started: start again.
    Ended,
}

pub async fn state_of<R>(
    records: &R,
    session_hash: &str,
    now: UnixTime,
) -> Result<PairingState, StorageError>
where
    R: super::MfaRecords,
{
    let Some(pairing) = records.pairing_of_session(session_hash).await? else {
        return Ok(PairingState::Ended);
    };
    Ok(match pairing.status.as_str() {
        "done" => PairingState::Done,
        "waiting" if pairing.expires_at > now => PairingState::Waiting {
            seconds_left: pairing.expires_at - now,
        },
        "claimed" => match &pairing.approval_id {
            Some(id) => match records.approval(id).await? {
                Some(a) if a.status_at(now) == super::approvals::ApprovalStatus::Pending => {
                    PairingState::Number {
                        number: a.number.unwrap_or_default(),
                        seconds_left: a.expires_at - now,
                    }
                }
                _ => PairingState::Ended,
            },
            None => PairingState::Ended,
        },
        _ => PairingState::Ended,
    })
}

/// A device found from its token must be paired to use anything but its pairing's request.
pub fn is_paired(device: &Device) -> bool {
    device.method.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activation_code_is_ten_unambiguous_characters_in_two_groups() {
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(code.len(), 11);
            assert_eq!(&code[5..6], "-");
            assert!(
                code.chars()
                    .filter(|c| *c != '-')
                    .all(|c| ALPHABET.contains(&(c as u8)))
            );
        }
    }

    #[test]
    fn a_code_is_read_whatever_its_case_and_spacing() {
        assert_eq!(normalise_code("k7qmd 4xr2p"), "K7QMD4XR2P");
        assert_eq!(normalise_code("K7QMD-4XR2P"), "K7QMD4XR2P");
    }
}
