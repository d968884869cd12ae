//! FIDO2 security keys through webauthn-rs (challenge, origin, RP id hash, user presence and
//! signature are checked by the crate: WA-1). User verification is preferred, not required:
//! the key is a second factor after a password (WA-2 applies where the key is the only one).
//! A signature counter that fails to increase is refused and recorded (WA-3).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;
use webauthn_rs::prelude::{
    AttestationCaList, AttestationCaListBuilder, AuthenticationResult, CreationChallengeResponse,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Uuid, Webauthn, WebauthnBuilder,
    WebauthnError,
};

use super::{
    Method, MethodKind, MethodRecords, MfaContext, MfaError, method_added, record_mfa_failure,
    succeeded,
};
use crate::accounts::Account;
use crate::audit::{AuditTrail, Outcome};

/// The relying party: NHSmal at the configured public URL (its host is the RP id).
pub struct SecurityKeys {
    pub(super) webauthn: Webauthn,
    rp_id: String,
    /// When set, only these authenticators may register (direct attestation, checked against
    /// each vendor's CA and AAGUID); otherwise attestation is not asked for (WA-4).
    pub(super) allowed: Option<AttestationCaList>,
    /// The allowed models' names by AAGUID, for the Self-Service list.
    models: Vec<(Uuid, String)>,
}

/// One allowed model of authenticator, as the allow-list file lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedAuthenticator {
    pub aaguid: Uuid,
    pub description: String,
    /// The vendor's attestation root certificate, PEM.
    pub ca_pem: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowListFile {
    authenticator: Vec<AllowedAuthenticator>,
}

/// Reads an allow-list file (TOML: `[[authenticator]]` with `aaguid`, `description`, `ca_pem`).
pub fn read_allow_list(text: &str) -> Result<Vec<AllowedAuthenticator>, String> {
    let file: AllowListFile = toml::from_str(text).map_err(|e| {
        e.message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_string()
    })?;
    if file.authenticator.is_empty() {
        return Err("lists no authenticator".into());
    }
    Ok(file.authenticator)
}

impl SecurityKeys {
    pub fn new(public_url: &Url, allowed_list: &[AllowedAuthenticator]) -> Result<Self, String> {
        let rp_id = public_url.host_str().ok_or("the public URL has no host")?;
        // WebAuthn names the site by a domain (its relying party id), never by an address:
        // say what to use instead of the library's "the configuration was invalid".
        if matches!(
            public_url.host(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))
        ) {
            return Err(format!(
                "the public URL {public_url} uses an IP address, but security keys need a host \
                 name. Use a name such as http://localhost:{port} on this machine, or the \
                 service's own domain (https://portal.example.nhs.uk)",
                port = public_url.port_or_known_default().unwrap_or(80)
            ));
        }
        let webauthn = WebauthnBuilder::new(rp_id, public_url)
            .and_then(|b| b.rp_name("NHSmal").build())
            .map_err(|e| format!("WebAuthn set-up for {public_url}: {e}"))?;
        let allowed = if allowed_list.is_empty() {
            None
        } else {
            let mut builder = AttestationCaListBuilder::new();
            for a in allowed_list {
                builder
                    .insert_device_pem(
                        a.ca_pem.as_bytes(),
                        a.aaguid,
                        a.description.clone(),
                        Default::default(),
                    )
                    .map_err(|e| {
                        format!("authenticator {}: bad CA certificate ({e:?})", a.aaguid)
                    })?;
            }
            Some(builder.build())
        };
        Ok(Self {
            webauthn,
            rp_id: rp_id.to_string(),
            allowed,
            models: allowed_list
                .iter()
                .map(|a| (a.aaguid, a.description.clone()))
                .collect(),
        })
    }

    /// The model's name where the allow-list file names it (its attestation was checked at
    /// registration against the vendor's CA).
    pub fn model_of(&self, aaguid: &str) -> Option<&str> {
        let aaguid = Uuid::parse_str(aaguid).ok()?;
        self.models
            .iter()
            .find(|(a, _)| *a == aaguid)
            .map(|(_, name)| name.as_str())
    }

    /// Options for the browser and the state to keep server-side (JSON) until it answers.
    pub fn start_registration(
        &self,
        account: &Account,
        existing: &[Method],
    ) -> Result<(serde_json::Value, serde_json::Value), MfaError> {
        let user_id =
            Uuid::parse_str(&account.id).map_err(|e| MfaError::Internal(e.to_string()))?;
        let exclude: Vec<_> = existing
            .iter()
            .filter_map(|m| m.credential_id.as_deref())
            .filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok())
            .collect();
        let (options, state) = self
            .webauthn
            .start_securitykey_registration(
                user_id,
                &account.email,
                &account.display_name,
                Some(exclude),
                self.allowed.clone(),
                None,
            )
            .map_err(|e| MfaError::Internal(e.to_string()))?;
        let state = serde_json::to_value(&state).map_err(|e| MfaError::Internal(e.to_string()))?;
        Ok((browser_options(&options)?, state))
    }

    pub fn finish_registration(
        &self,
        state: &serde_json::Value,
        response: &str,
    ) -> Result<(SecurityKey, Option<Uuid>), MfaError> {
        let state: SecurityKeyRegistration =
            serde_json::from_value(state.clone()).map_err(|e| MfaError::Internal(e.to_string()))?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(|_| MfaError::KeyRefused)?;
        let key = self
            .webauthn
            .finish_securitykey_registration(&response, &state)
            .map_err(|_| MfaError::KeyRefused)?;
        Ok((key, aaguid_of(&response.response.attestation_object)))
    }

    pub fn start_authentication(
        &self,
        methods: &[Method],
    ) -> Result<(RequestChallengeResponse, serde_json::Value), MfaError> {
        let keys: Vec<SecurityKey> = methods
            .iter()
            .filter(|m| m.kind == MethodKind::Fido2)
            .filter_map(|m| m.credential.as_deref())
            .filter_map(|c| serde_json::from_str(c).ok())
            .collect();
        if keys.is_empty() {
            return Err(MfaError::NoSuchMethod);
        }
        let (options, state) = self
            .webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|e| MfaError::Internal(e.to_string()))?;
        let state = serde_json::to_value(&state).map_err(|e| MfaError::Internal(e.to_string()))?;
        Ok((options, state))
    }

    /// Authentication options with the shape `start_authentication` gives one registered key
    /// (webauthn-rs 0.6: the default 5-minute timeout, user verification preferred, the
    /// security-key hint) for a made-up credential: what a password reset shows for a kind
    /// the account does not have, so that the answer does not tell. `challenge` and
    /// `credential_id` are base64url.
    pub fn request_options_shaped(
        &self,
        challenge: String,
        credential_id: String,
    ) -> serde_json::Value {
        serde_json::json!({
            "publicKey": {
                "challenge": challenge,
                "timeout": webauthn_rs::DEFAULT_AUTHENTICATOR_TIMEOUT.as_millis() as u64,
                "rpId": self.rp_id,
                "allowCredentials": [{ "type": "public-key", "id": credential_id }],
                "userVerification": "preferred",
                "hints": ["security-key"],
            }
        })
    }

    fn finish_authentication(
        &self,
        state: &serde_json::Value,
        response: &str,
    ) -> Result<AuthenticationResult, WebauthnError> {
        let state: SecurityKeyAuthentication =
            serde_json::from_value(state.clone()).map_err(|_| WebauthnError::ChallengeNotFound)?;
        let response: PublicKeyCredential =
            serde_json::from_str(response).map_err(|_| WebauthnError::ParseNOMFailure)?;
        self.webauthn
            .finish_securitykey_authentication(&response, &state)
    }
}

/// The registration options as the browser gets them. webauthn-rs asks security keys for the
/// credProtect policy "user verification required" while asking for user verification only as
/// "preferred"; Chromium refuses that combination outright ("Requested protection policy is
/// inconsistent…"), so the credProtect request is dropped: user verification stays preferred,
/// which is what a second factor after a password needs (WA-2 is for keys used alone).
fn browser_options(options: &CreationChallengeResponse) -> Result<serde_json::Value, MfaError> {
    let mut value = serde_json::to_value(options).map_err(|e| MfaError::Internal(e.to_string()))?;
    if let Some(extensions) = value
        .get_mut("publicKey")
        .and_then(|pk| pk.get_mut("extensions"))
        .and_then(|e| e.as_object_mut())
    {
        extensions.remove("credentialProtectionPolicy");
        extensions.remove("enforceCredentialProtectionPolicy");
    }
    Ok(value)
}

/// Saves a registered key as a method, if the policy allows its model (`aaguid`).
pub async fn add_security_key<R>(
    records: &R,
    account: &Account,
    (key, aaguid): (&SecurityKey, Option<Uuid>),
    name: &str,
    ctx: &MfaContext<'_>,
) -> Result<Method, MfaError>
where
    R: MethodRecords + AuditTrail + crate::policy::PolicyRecords + Sync,
{
    let name = super::valid_name(name, MethodKind::Fido2)?;
    let policy = crate::policy::policy_for(records, &account.org_code).await?;
    policy
        .strength
        .check_key(account.role, false, aaguid)
        .map_err(MfaError::KeyNotAllowed)?;
    let existing = records.methods_of(&account.id).await?;
    let method = Method {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id.clone(),
        kind: MethodKind::Fido2,
        name,
        phone: None,
        secret: None,
        credential: Some(
            serde_json::to_string(key).map_err(|e| MfaError::Internal(e.to_string()))?,
        ),
        credential_id: Some(URL_SAFE_NO_PAD.encode(key.cred_id())),
        last_totp_step: None,
        passkey: None,
        is_default: existing.is_empty(),
        created_at: ctx.now,
        last_used_at: None,
    };
    records.insert_method(&method).await?;
    method_added(records, account, &method, ctx).await?;
    Ok(method)
}

/// Checks a security-key assertion for this sign-in; returns the method used and whether the
/// key verified the user (PIN or biometric).
pub async fn verify_security_key<R>(
    records: &R,
    keys: &SecurityKeys,
    account: &Account,
    state: &serde_json::Value,
    response: &str,
    ctx: &MfaContext<'_>,
) -> Result<(Method, bool), MfaError>
where
    R: super::MfaRecords,
{
    let attempt = super::reserve_attempt(records, account, ctx).await?;
    let result = match keys.finish_authentication(state, response) {
        Ok(result) => result,
        Err(e) => {
            if let Some(reason) = clone_signal(&e) {
                possible_clone(records, account, reason, ctx).await?;
            }
            record_mfa_failure(records, account, MethodKind::Fido2, attempt, ctx).await?;
            return Err(MfaError::KeyRefused);
        }
    };
    let cred_id = URL_SAFE_NO_PAD.encode(result.cred_id());
    let methods = records.methods_of(&account.id).await?;
    let method = methods
        .into_iter()
        .find(|m| {
            m.kind == MethodKind::Fido2 && m.credential_id.as_deref() == Some(cred_id.as_str())
        })
        .ok_or(MfaError::KeyRefused)?;
    if result.needs_update()
        && let Some(text) = &method.credential
        && let Ok(mut key) = serde_json::from_str::<SecurityKey>(text)
        && key.update_credential(&result) == Some(true)
    {
        let updated = serde_json::to_string(&key).map_err(|e| MfaError::Internal(e.to_string()))?;
        records.update_credential(&method.id, &updated).await?;
    }
    succeeded(records, account, &method, ctx).await?;
    Ok((method, result.user_verified()))
}

/// What a refused assertion says of a copied key, if anything: a signature counter that did
/// not increase (WA-3), or backup flags that changed since registration (a device-bound key
/// now claiming to be synced, or backed up without being backup-eligible).
pub(super) fn clone_signal(e: &WebauthnError) -> Option<&'static str> {
    match e {
        WebauthnError::CredentialPossibleCompromise => {
            Some("security key signature counter did not increase")
        }
        WebauthnError::CredentialBackupEligibilityInconsistent
        | WebauthnError::CredentialMayNotBeHardwareBound => {
            Some("security key backup flags changed since it was registered")
        }
        _ => None,
    }
}

/// A key that may have been copied: audited, and the person told.
pub(super) async fn possible_clone<R>(
    records: &R,
    account: &Account,
    reason: &str,
    ctx: &MfaContext<'_>,
) -> Result<(), MfaError>
where
    R: AuditTrail + Sync,
{
    records
        .append_audit(
            &ctx.audit("mfa.possible_clone", Outcome::Failure, account)
                .reason(reason),
        )
        .await?;
    let notice = crate::notices::security_key_may_be_copied(account);
    super::send_notice(records, ctx, account, notice).await?;
    Ok(())
}

/// The authenticator model (AAGUID) an attestation object names, if it names one: CBOR with
/// `authData` whose attested credential data (flag AT) starts with the 16-byte AAGUID after the
/// RP id hash (32), flags (1) and counter (4). All zeros (a browser hiding the model) is None.
/// Read here because webauthn-rs keeps it only for verified attestations.
pub(super) fn aaguid_of(attestation_object: &[u8]) -> Option<Uuid> {
    let value: serde_cbor_2::Value = serde_cbor_2::from_slice(attestation_object).ok()?;
    let serde_cbor_2::Value::Map(map) = value else {
        return None;
    };
    let serde_cbor_2::Value::Bytes(auth_data) =
        map.get(&serde_cbor_2::Value::Text("authData".into()))?
    else {
        return None;
    };
    const ATTESTED: u8 = 0x40;
    if auth_data.get(32)? & ATTESTED == 0 {
        return None;
    }
    Uuid::from_slice(auth_data.get(37..53)?)
        .ok()
        .filter(|a| !a.is_nil())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(crate::hostile_input::config())]
        /// Hostile input (issue 18): whatever a browser sends as a security key's answer, of
        /// any text or shaped like one with any bytes, it is refused and never panics.
        #[test]
        fn any_answer_a_browser_sends_is_refused_without_a_panic(
            text in ".{0,300}",
            id in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let url: Url = "http://localhost:8080".parse().expect("url");
            let keys = SecurityKeys::new(&url, &[]).expect("relying party");
            let (_, state) = keys
                .webauthn
                .start_securitykey_registration(Uuid::new_v4(), "ann", "Ann", None, None, None)
                .expect("start");
            let state = serde_json::to_value(&state).expect("state");
            let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
            let shaped = serde_json::json!({
                "id": b64(&id), "rawId": b64(&id), "type": "public-key",
                "response": {
                    "attestationObject": b64(&data), "clientDataJSON": b64(&data),
                    "authenticatorData": b64(&data), "signature": b64(&data)
                },
                "extensions": {}
            });
            for answer in [text, shaped.to_string()] {
                proptest::prop_assert!(keys.finish_registration(&state, &answer).is_err());
                proptest::prop_assert!(keys.finish_authentication(&state, &answer).is_err());
            }
        }
    }
}
