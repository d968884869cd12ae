//! Passkeys (issue 23): FIDO2 credentials registered as discoverable, with user verification
//! required, on a security key, the device or a phone's password manager. A passkey signs in
//! alone (the authenticator proves possession and verifies the person: two factors), and is
//! also a security key at the second step after a password. Which passkeys are accepted
//! (synced or device-bound, which models) is the policy's (`crate::strength`).
//!
//! `amr` of a passkey sign-in (RFC 8176, docs/DECISIONS.md): `hwk` for a device-bound passkey
//! (the key cannot leave its hardware), `swk` for a synced one (a password manager holds and
//! copies it), `user` for the user verification, `mfa`; no `pwd`. Both reach `acr`
//! `urn:nhsmal:acr:phr`: a passkey is bound to the portal's origin, so a phishing site cannot
//! use it, synced or not.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest;
use webauthn_rs::prelude::{
    AttestedPasskeyRegistration, AuthenticationResult, DiscoverableAuthentication, Passkey,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid, WebauthnError,
};

use super::security_key::{SecurityKeys, aaguid_of, clone_signal, possible_clone};
use super::{
    Method, MethodKind, MfaContext, MfaError, MfaRecords, method_added, record_mfa_failure,
    succeeded,
};
use crate::accounts::{Account, AccountState, PasswordAction};
use crate::audit::Outcome;
use crate::methods::PasskeyFacts;
use crate::risk::Assessment;
use crate::strength::KeyRefusal;

/// The session's methods after a passkey sign-in; "passkey" is the portal's own word (not
/// sent to apps) that the level is phishing-resistant however the key is held.
pub fn auth_methods(synced: bool) -> &'static str {
    if synced {
        "swk user mfa passkey"
    } else {
        "hwk user mfa passkey"
    }
}

/// A passkey the browser has just created, checked, ready to save.
pub struct RegisteredPasskey {
    /// The credential as stored (webauthn-rs's JSON).
    pub credential: String,
    pub credential_id: String,
    pub synced: bool,
    pub aaguid: Option<Uuid>,
}

/// Why a passkey did not sign anyone in.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(
        "That passkey was not accepted. Try again, or sign in with your email address and password"
    )]
    Refused,
    #[error(
        "Your organisation uses passkeys only after your password. Sign in with your email address and password, then use your passkey"
    )]
    PasswordFirst,
    #[error("{0}")]
    NotAllowed(KeyRefusal),
    #[error("Your account has been disabled. Contact your local administrator")]
    Disabled,
    #[error(
        "Your password must be reset before you sign in: choose “Forgotten your password?” on the sign-in page"
    )]
    ResetRequired,
    #[error(transparent)]
    Mfa(#[from] MfaError),
    #[error(transparent)]
    Storage(#[from] crate::StorageError),
}

/// The state kept between the options and the answer: which kind of registration it was.
#[derive(serde::Serialize, serde::Deserialize)]
enum RegistrationState {
    Plain(PasskeyRegistration),
    /// With the allow-list file: attestation checked against the listed vendors' CAs.
    Attested(AttestedPasskeyRegistration),
}

impl SecurityKeys {
    /// Options that ask for a discoverable credential with user verification (any kind of
    /// authenticator), and the state to keep until the browser answers.
    pub fn start_passkey_registration(
        &self,
        account: &Account,
        existing: &[Method],
    ) -> Result<(serde_json::Value, serde_json::Value), MfaError> {
        let internal = |e: WebauthnError| MfaError::Internal(e.to_string());
        let user_id =
            Uuid::parse_str(&account.id).map_err(|e| MfaError::Internal(e.to_string()))?;
        let exclude: Vec<_> = existing
            .iter()
            .filter_map(|m| m.credential_id.as_deref())
            .filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok())
            .collect();
        let (options, state) = match &self.allowed {
            Some(ca_list) => {
                let (options, state) = self
                    .webauthn
                    .start_attested_passkey_registration(
                        user_id,
                        &account.email,
                        &account.display_name,
                        Some(exclude),
                        ca_list.clone(),
                        None,
                    )
                    .map_err(internal)?;
                (options, RegistrationState::Attested(state))
            }
            None => {
                let (options, state) = self
                    .webauthn
                    .start_passkey_registration(
                        user_id,
                        &account.email,
                        &account.display_name,
                        Some(exclude),
                    )
                    .map_err(internal)?;
                (options, RegistrationState::Plain(state))
            }
        };
        let mut options =
            serde_json::to_value(&options).map_err(|e| MfaError::Internal(e.to_string()))?;
        // webauthn-rs leaves residence to the authenticator ("may"); a passkey must be
        // discoverable to sign in without an email address, so it is required here.
        if let Some(selection) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
            selection.insert("userVerification".into(), "required".into());
        }
        let state = serde_json::to_value(&state).map_err(|e| MfaError::Internal(e.to_string()))?;
        Ok((options, state))
    }

    pub fn finish_passkey_registration(
        &self,
        state: &serde_json::Value,
        response: &str,
    ) -> Result<RegisteredPasskey, MfaError> {
        let state: RegistrationState =
            serde_json::from_value(state.clone()).map_err(|e| MfaError::Internal(e.to_string()))?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(|_| MfaError::KeyRefused)?;
        // The browser says whether the authenticator stored it as discoverable; one that says
        // it did not made a credential that cannot sign in alone.
        if response.extensions.cred_props.as_ref().and_then(|p| p.rk) == Some(false) {
            return Err(MfaError::NotDiscoverable);
        }
        let credential = match state {
            RegistrationState::Plain(state) => self
                .webauthn
                .finish_passkey_registration(&response, &state)
                .map_err(|_| MfaError::KeyRefused)
                .and_then(|k| to_json(&k))?,
            RegistrationState::Attested(state) => self
                .webauthn
                .finish_attested_passkey_registration(&response, &state)
                .map_err(|_| MfaError::KeyRefused)
                .and_then(|k| to_json(&k))?,
        };
        let value: serde_json::Value =
            serde_json::from_str(&credential).map_err(|e| MfaError::Internal(e.to_string()))?;
        Ok(RegisteredPasskey {
            synced: value["cred"]["backup_eligible"].as_bool().unwrap_or(false),
            credential,
            credential_id: URL_SAFE_NO_PAD.encode(&response.raw_id),
            aaguid: aaguid_of(&response.response.attestation_object),
        })
    }

    /// Options for "Sign in with a passkey" and autofill: no credentials listed (the browser
    /// offers the passkeys it has for the portal), user verification required.
    pub fn start_passkey_sign_in(
        &self,
    ) -> Result<(serde_json::Value, serde_json::Value), MfaError> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| MfaError::Internal(e.to_string()))?;
        let mut options =
            serde_json::to_value(&options).map_err(|e| MfaError::Internal(e.to_string()))?;
        // The page chooses the mediation: "conditional" for autofill, none for the button.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let state = serde_json::to_value(&state).map_err(|e| MfaError::Internal(e.to_string()))?;
        Ok((options, state))
    }
}

/// How long a passkey sign-in's challenge may be answered (webauthn-rs's own timeout).
const CHALLENGE_SECONDS: i64 = 300;

/// A passkey sign-in's challenge before anyone is signed in: its state sealed (encrypted and
/// authenticated) and bound to the visitor's browser, so that the portal keeps nothing for a
/// visitor who only asks; `redeem` records it as used, on any node, before any signature is
/// checked, so that an answer is taken once.
#[derive(serde::Serialize, serde::Deserialize)]
struct Ticket {
    state: serde_json::Value,
    issued_at: crate::clock::UnixTime,
}

pub fn issue_ticket(
    secrets: &crate::secrets::SecretBox,
    visitor: &str,
    state: serde_json::Value,
    now: crate::clock::UnixTime,
) -> Result<String, MfaError> {
    let plain = serde_json::to_vec(&Ticket {
        state,
        issued_at: now,
    })
    .map_err(|e| MfaError::Internal(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(secrets.seal(&plain, &ticket_binding(visitor))))
}

/// The state a ticket holds, if it was issued to this visitor, is still fresh and has not been
/// answered before.
pub async fn redeem_ticket<R>(
    records: &R,
    secrets: &crate::secrets::SecretBox,
    visitor: &str,
    ticket: &str,
    now: crate::clock::UnixTime,
) -> Result<Option<serde_json::Value>, crate::StorageError>
where
    R: crate::limits::SignInLimitRecords + Sync,
{
    let Some(ticket) = URL_SAFE_NO_PAD
        .decode(ticket.trim())
        .ok()
        .and_then(|sealed| secrets.open(&sealed, &ticket_binding(visitor)).ok())
        .and_then(|plain| serde_json::from_slice::<Ticket>(&plain).ok())
    else {
        return Ok(None);
    };
    if !(0..=CHALLENGE_SECONDS).contains(&(now - ticket.issued_at)) {
        return Ok(None);
    }
    let challenge = ticket.state.to_string();
    let key = format!(
        "passkey-challenge:{}",
        crate::secrets::hex(&sha2::Sha256::digest(challenge.as_bytes())[..16])
    );
    let first =
        crate::monitoring::first_in_window(records, &key, now, CHALLENGE_SECONDS + 60).await?;
    Ok(first.then_some(ticket.state))
}

fn ticket_binding(visitor: &str) -> String {
    format!("passkey-sign-in:{visitor}")
}

fn to_json<T: serde::Serialize>(key: &T) -> Result<String, MfaError> {
    serde_json::to_string(key).map_err(|e| MfaError::Internal(e.to_string()))
}

/// Saves a registered passkey as a method, if the policy accepts it (synced or not, its
/// model).
pub async fn add_passkey<R>(
    records: &R,
    account: &Account,
    passkey: &RegisteredPasskey,
    name: &str,
    ctx: &MfaContext<'_>,
) -> Result<Method, MfaError>
where
    R: MfaRecords + Sync,
{
    let name = name.trim();
    let name = super::valid_name(
        if name.is_empty() { "Passkey" } else { name },
        MethodKind::Fido2,
    )?;
    let policy = crate::policy::policy_for(records, &account.org_code).await?;
    policy
        .strength
        .check_key(account.role, passkey.synced, passkey.aaguid)
        .map_err(MfaError::KeyNotAllowed)?;
    let existing = records.methods_of(&account.id).await?;
    let method = Method {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id.clone(),
        kind: MethodKind::Fido2,
        name,
        phone: None,
        secret: None,
        credential: Some(passkey.credential.clone()),
        credential_id: Some(passkey.credential_id.clone()),
        last_totp_step: None,
        passkey: Some(PasskeyFacts {
            aaguid: passkey.aaguid.map(|a| a.to_string()),
        }),
        is_default: existing.is_empty(),
        created_at: ctx.now,
        last_used_at: None,
    };
    records.insert_method(&method).await?;
    method_added(records, account, &method, ctx).await?;
    Ok(method)
}

/// Who a passkey signed in, with the risk the sign-in's context carries.
pub struct PasskeySignIn {
    pub account: Account,
    pub method: Method,
    pub synced: bool,
    pub assessment: Assessment,
}

/// Checks a passkey's answer to `state` (from `start_passkey_sign_in`): the account its user
/// handle names, the passkey among that account's, the account's standing and the policy,
/// then the signature, user verification and counter. Every refusal is audited; wrong answers
/// count toward the account's lock as wrong codes do.
pub async fn sign_in_with_passkey<R>(
    records: &R,
    keys: &SecurityKeys,
    state: &serde_json::Value,
    response: &str,
    ctx: &MfaContext<'_>,
) -> Result<PasskeySignIn, PasskeyError>
where
    R: MfaRecords + Sync,
{
    let refused = |reason: &str| {
        crate::audit::AuditEvent::new("sign_in.passkey", Outcome::Failure, ctx.requester, ctx.now)
            .reason(reason)
    };
    let (credential, account_id, credential_id) = match identify(keys, response) {
        Some(found) => found,
        None => {
            records.append_audit(&refused("unreadable")).await?;
            return Err(PasskeyError::Refused);
        }
    };
    let account = records.account_by_id(&account_id).await?;
    let method = match &account {
        Some(a) => records.methods_of(&a.id).await?.into_iter().find(|m| {
            m.kind == MethodKind::Fido2
                && m.passkey.is_some()
                && m.credential_id.as_deref() == Some(credential_id.as_str())
        }),
        None => None,
    };
    let (Some(account), Some(method)) = (account, method) else {
        // A passkey the portal no longer knows (removed, or of a deleted account).
        records.append_audit(&refused("unknown_passkey")).await?;
        return Err(PasskeyError::Refused);
    };
    let refuse = async |reason: &str, error: PasskeyError| {
        records
            .append_audit(&refused(reason).account(&account.id))
            .await?;
        Err::<PasskeySignIn, _>(error)
    };
    if account.state == AccountState::Disabled {
        return refuse("disabled", PasskeyError::Disabled).await;
    }
    if account.password_action == PasswordAction::ResetRequired {
        return refuse("reset_required", PasskeyError::ResetRequired).await;
    }
    let policy = crate::policy::policy_for(records, &account.org_code).await?;
    if !policy.strength.passkey_sign_in || !policy.counts_as_mfa(account.role, MethodKind::Fido2) {
        return refuse("passkey_sign_in_off", PasskeyError::PasswordFirst).await;
    }
    let synced = method.synced();
    let aaguid = method
        .passkey
        .as_ref()
        .and_then(|p| p.aaguid.as_deref())
        .and_then(|a| Uuid::parse_str(a).ok());
    if let Err(refusal) = policy.strength.check_key(account.role, synced, aaguid) {
        return refuse("passkey_not_allowed", PasskeyError::NotAllowed(refusal)).await;
    }
    let attempt = super::reserve_attempt(records, &account, ctx).await?;
    let result = match finish(keys, state, &credential, &method) {
        Ok(result) if result.user_verified() => result,
        Ok(_) => {
            record_mfa_failure(records, &account, MethodKind::Fido2, attempt, ctx).await?;
            return refuse("no_user_verification", PasskeyError::Refused).await;
        }
        Err(e) => {
            if let Some(reason) = clone_signal(&e) {
                possible_clone(records, &account, reason, ctx).await?;
            }
            record_mfa_failure(records, &account, MethodKind::Fido2, attempt, ctx).await?;
            return refuse("wrong_signature", PasskeyError::Refused).await;
        }
    };
    if result.needs_update()
        && let Some(text) = &method.credential
        && let Ok(mut key) = serde_json::from_str::<Passkey>(text)
        && key.update_credential(&result) == Some(true)
    {
        records
            .update_credential(&method.id, &to_json(&key)?)
            .await?;
    }
    succeeded(records, &account, &method, ctx).await?;
    let assessment = crate::monitoring::assess_password(records, &ctx.monitor(), &account).await?;
    Ok(PasskeySignIn {
        account,
        method,
        synced,
        assessment,
    })
}

/// The answer, and the account (user handle) and credential it names.
fn identify(keys: &SecurityKeys, response: &str) -> Option<(PublicKeyCredential, String, String)> {
    let credential: PublicKeyCredential = serde_json::from_str(response).ok()?;
    let (user, id) = keys
        .webauthn
        .identify_discoverable_authentication(&credential)
        .ok()?;
    let id = URL_SAFE_NO_PAD.encode(id);
    Some((credential, user.to_string(), id))
}

fn finish(
    keys: &SecurityKeys,
    state: &serde_json::Value,
    credential: &PublicKeyCredential,
    method: &Method,
) -> Result<AuthenticationResult, WebauthnError> {
    let state: DiscoverableAuthentication =
        serde_json::from_value(state.clone()).map_err(|_| WebauthnError::ChallengeNotFound)?;
    let key: Passkey = method
        .credential
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or(WebauthnError::CredentialNotFound)?;
    keys.webauthn
        .finish_discoverable_authentication_v2(credential, state, &key)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(crate::hostile_input::config())]
        /// Hostile input: whatever a browser sends as a passkey's answer is unreadable or
        /// refused, never a panic.
        #[test]
        fn any_answer_to_a_passkey_sign_in_is_refused_without_a_panic(text in ".{0,300}") {
            let url: url::Url = "http://localhost:8080".parse().expect("url");
            let keys = SecurityKeys::new(&url, &[]).expect("relying party");
            let (_, state) = keys.start_passkey_sign_in().expect("start");
            if let Some((credential, _, _)) = identify(&keys, &text) {
                let method = Method {
                    id: "m".into(), account_id: "a".into(), kind: MethodKind::Fido2,
                    name: "Passkey".into(), phone: None, secret: None, credential: None,
                    credential_id: None, last_totp_step: None, passkey: None,
                    is_default: true, created_at: 0, last_used_at: None,
                };
                proptest::prop_assert!(finish(&keys, &state, &credential, &method).is_err());
            }
            proptest::prop_assert!(keys.finish_passkey_registration(&state, &text).is_err());
        }
    }

    #[test]
    fn a_passkey_sign_in_is_phishing_resistant_and_passwordless_in_amr() {
        use crate::oidc::request::{Acr, amr_of};
        for synced in [false, true] {
            let methods = auth_methods(synced);
            let amr = amr_of(methods);
            assert!(!amr.contains(&"pwd".to_string()));
            assert!(amr.contains(&"user".to_string()) && amr.contains(&"mfa".to_string()));
            assert_eq!(Acr::of_session(methods), Acr::PhishingResistant);
        }
        assert_eq!(amr_of(auth_methods(true))[0], "swk");
        assert_eq!(amr_of(auth_methods(false))[0], "hwk");
    }
}
