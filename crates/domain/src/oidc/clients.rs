//! Registered relying parties (OpenID Connect clients): the registration rules shared by the
//! command line and the admin page, and client authentication at the token, revocation and
//! introspection endpoints (RFC 6749 §2.3, RFC 7523 `private_key_jwt`).
//!
//! Client secrets are 256 random bits, shown once and stored only as a keyed hash; an unknown
//! client id costs the same MAC as a wrong secret.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use serde_json::Value;

use super::keys::Alg;
pub use super::redirect_uri::{check_redirect_uri, is_loopback_ip, redirect_uri_registered};
use crate::StorageError;
use crate::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::UnixTime;
use crate::secrets::SecretBox;

/// `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The furthest in the future a client assertion's `exp` may be.
pub const ASSERTION_MAX_SECONDS: i64 = 300;
const MAX_NAME: usize = 100;
const MAX_URIS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Public,
    Confidential,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Public => "public",
            ClientKind::Confidential => "confidential",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "public" => Some(ClientKind::Public),
            "confidential" => Some(ClientKind::Confidential),
            _ => None,
        }
    }
}

/// How a client proves itself at the token endpoint (the discovery names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// A public client: only its client_id (PKCE protects its codes).
    None,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    pub const CONFIDENTIAL: [ClientAuthMethod; 3] = [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
        ClientAuthMethod::PrivateKeyJwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::None => "none",
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(ClientAuthMethod::None),
            "client_secret_basic" => Some(ClientAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(ClientAuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(ClientAuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }

    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// Exactly as registered: matching is character for character (OI-3).
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub kind: ClientKind,
    pub auth_method: ClientAuthMethod,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// The client's public keys, for `private_key_jwt`.
    pub jwks: Option<Value>,
    pub id_token_alg: Alg,
    pub created_at: UnixTime,
    pub disabled: bool,
    /// A native app (a mail app on a computer or phone; RFC 8252): public, PKCE, loopback
    /// redirects on any port, the device grant, and refresh chains that last for weeks.
    pub native: bool,
    /// Where the portal posts a logout token when the person signs out everywhere
    /// (OpenID Connect Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// The strength every sign-in to this app must reach, whatever the request asks.
    pub require_acr: Option<super::request::Acr>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("a client needs a name (up to {MAX_NAME} characters)")]
    BadName,
    #[error(
        "a client needs at least one redirect URI (a native app may have none and use the device grant)"
    )]
    NoRedirectUri,
    #[error("a native app is public: leave out --auth-method")]
    NativeWithAuthMethod,
    #[error(
        "redirect URI {0:?}: a native app receives codes on http://127.0.0.1 or http://[::1] (any port), or on https"
    )]
    NativeRedirect(String),
    #[error("at most {MAX_URIS} redirect URIs")]
    TooManyUris,
    #[error("{0}")]
    BadUri(String),
    #[error("a public client authenticates with no secret: leave out --auth-method")]
    PublicWithAuthMethod,
    #[error(
        "unknown client authentication method {0:?}: use client_secret_basic, client_secret_post or private_key_jwt"
    )]
    UnknownAuthMethod(String),
    #[error("private_key_jwt needs the client's public keys (--jwks-file)")]
    NoJwks,
    #[error("public keys are only for private_key_jwt")]
    JwksWithoutPrivateKeyJwt,
    #[error("{0}")]
    BadJwks(String),
    #[error("unknown ID token algorithm {0:?}: use RS256 or ES256")]
    UnknownAlg(String),
    #[error(
        "unknown authentication level {0:?}: use pwd, mfa or phr (or their urn:nhsmal:acr: names)"
    )]
    UnknownAcr(String),
    #[error("no client with id {0}")]
    Unknown(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a registration asks for, before any checking.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    /// `client_secret_basic` (the default for a confidential client), `client_secret_post` or
    /// `private_key_jwt`.
    pub auth_method: Option<String>,
    /// The client's JWKS (JSON text), for `private_key_jwt`.
    pub jwks: Option<String>,
    /// RS256 (default) or ES256.
    pub id_token_alg: Option<String>,
    /// A native app (RFC 8252): public, with PKCE.
    pub native: bool,
    pub backchannel_logout_uri: Option<String>,
    /// `pwd`, `mfa` or `phr` (or the full `urn:nhsmal:acr:` names).
    pub require_acr: Option<String>,
}

/// A registration that passed the rules.
#[derive(Debug, Clone)]
pub struct CheckedClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub kind: ClientKind,
    pub auth_method: ClientAuthMethod,
    pub first_party: bool,
    pub jwks: Option<Value>,
    pub id_token_alg: Alg,
    pub native: bool,
    pub backchannel_logout_uri: Option<String>,
    pub require_acr: Option<super::request::Acr>,
}

/// A client's name: 1 to 100 characters, no control characters.
pub fn check_name(name: &str) -> Result<(), ClientError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ClientError::BadName);
    }
    Ok(())
}

/// The registration rules, used by the command line (before it opens the store) and the
/// admin page.
pub fn check_registration(new: &NewClient) -> Result<CheckedClient, ClientError> {
    let name = new.name.trim();
    check_name(name)?;
    if new.redirect_uris.is_empty() && !new.native {
        return Err(ClientError::NoRedirectUri);
    }
    if new.native {
        if new.auth_method.is_some() {
            return Err(ClientError::NativeWithAuthMethod);
        }
        // RFC 8252 §7.3 and §8.3: loopback IP literals, not "localhost" (which a local resolver
        // or firewall could send elsewhere); or a claimed https address (§7.2).
        for uri in &new.redirect_uris {
            let loopback_ip = url::Url::parse(uri).is_ok_and(|u| {
                (u.scheme() == "http" && is_loopback_ip(u.host())) || u.scheme() == "https"
            });
            if !loopback_ip {
                return Err(ClientError::NativeRedirect(uri.clone()));
            }
        }
    }
    if new.redirect_uris.len() > MAX_URIS || new.post_logout_redirect_uris.len() > MAX_URIS {
        return Err(ClientError::TooManyUris);
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
        .chain(&new.backchannel_logout_uri)
    {
        check_redirect_uri(uri)?;
    }
    let (kind, auth_method) = if new.public || new.native {
        if new.auth_method.is_some() {
            return Err(ClientError::PublicWithAuthMethod);
        }
        (ClientKind::Public, ClientAuthMethod::None)
    } else {
        let method = match new.auth_method.as_deref() {
            None => ClientAuthMethod::ClientSecretBasic,
            Some(text) => ClientAuthMethod::parse(text)
                .filter(|m| *m != ClientAuthMethod::None)
                .ok_or_else(|| ClientError::UnknownAuthMethod(text.to_string()))?,
        };
        (ClientKind::Confidential, method)
    };
    let jwks = match (&new.jwks, auth_method) {
        (Some(text), ClientAuthMethod::PrivateKeyJwt) => Some(check_jwks(text)?),
        (None, ClientAuthMethod::PrivateKeyJwt) => return Err(ClientError::NoJwks),
        (Some(_), _) => return Err(ClientError::JwksWithoutPrivateKeyJwt),
        (None, _) => None,
    };
    let id_token_alg = match new.id_token_alg.as_deref() {
        None => Alg::RS256,
        Some(text) => Alg::parse(text).map_err(|_| ClientError::UnknownAlg(text.to_string()))?,
    };
    let require_acr = match new.require_acr.as_deref() {
        None => None,
        Some(text) => Some(
            super::request::Acr::parse_short(text)
                .ok_or_else(|| ClientError::UnknownAcr(text.to_string()))?,
        ),
    };
    let dedup = |uris: &[String]| {
        let mut out: Vec<String> = Vec::new();
        for uri in uris {
            if !out.contains(uri) {
                out.push(uri.clone());
            }
        }
        out
    };
    Ok(CheckedClient {
        name: name.to_string(),
        redirect_uris: dedup(&new.redirect_uris),
        post_logout_redirect_uris: dedup(&new.post_logout_redirect_uris),
        kind,
        auth_method,
        first_party: new.first_party,
        jwks,
        id_token_alg,
        native: new.native,
        backchannel_logout_uri: new.backchannel_logout_uri.clone(),
        require_acr,
    })
}

/// A client's JWKS for `private_key_jwt`: public RSA or P-256 keys only.
fn check_jwks(text: &str) -> Result<Value, ClientError> {
    let bad = |why: &str| Err(ClientError::BadJwks(format!("the client's JWKS {why}")));
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return bad("is not JSON");
    };
    let Some(keys) = value.get("keys").and_then(Value::as_array) else {
        return bad("needs a \"keys\" array");
    };
    if keys.is_empty() {
        return bad("has no keys");
    }
    for key in keys {
        if ["d", "p", "q", "k"].iter().any(|m| key.get(m).is_some()) {
            return bad("contains a private key: register only the public keys");
        }
        let usable = match key.get("kty").and_then(Value::as_str) {
            Some("RSA") => key.get("n").is_some() && key.get("e").is_some(),
            Some("EC") => {
                key.get("crv").and_then(Value::as_str) == Some("P-256")
                    && key.get("x").is_some()
                    && key.get("y").is_some()
            }
            _ => false,
        };
        if !usable || serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.clone()).is_err() {
            return bad("may hold only RSA keys and P-256 (EC) keys, for RS256 and ES256");
        }
    }
    Ok(value)
}

pub trait ClientRecords: Send + Sync {
    fn add_client(
        &self,
        client: &Client,
        secret_hash: Option<&str>,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// The client and its secret hash.
    fn client_with_secret(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<(Client, Option<String>)>, StorageError>> + Send;
    /// Every client, oldest first.
    fn clients(&self) -> impl Future<Output = Result<Vec<Client>, StorageError>> + Send;
    /// False when there is no such client.
    fn set_client_disabled(
        &self,
        id: &str,
        disabled: bool,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

/// Client assertions already used (RFC 7523 §3 item 7: `jti` single use).
pub trait AssertionReplay: Send + Sync {
    /// Remembers (`client_id`, `jti`) until `expires_at`; false if it was already there.
    /// Forgets assertions that expired before `now`.
    fn remember_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;
}

/// A new client; `secret` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
}

/// A random base64url text that does not start with "-" or "_": an id or secret beginning with
/// "-" is taken for an option by command lines (`nhsmal client disable ID`, a mail server's
/// `--client-secret`), which made one registration in 64 unusable there. Drawn again, not
/// altered, so every accepted value is as random as before (less well under one bit).
fn command_line_safe(draw: impl Fn() -> String) -> String {
    loop {
        let text = draw();
        if !text.starts_with(['-', '_']) {
            return text;
        }
    }
}

fn secret_mac_input(client_id: &str, secret: &str) -> Vec<u8> {
    format!("oidc-client-secret\0{client_id}\0{secret}").into_bytes()
}

/// Registers a client after checking it; audited as `oidc.client_added` (by `actor`, the
/// administrator, when from the admin page).
pub async fn add_client<R: ClientRecords + AuditTrail>(
    records: &R,
    secrets: &SecretBox,
    new: &NewClient,
    actor: Option<&str>,
    requester: &Requester,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    let checked = check_registration(new)?;
    let client = Client {
        id: command_line_safe(|| B64.encode(crate::random_bytes::<16>())),
        name: checked.name,
        redirect_uris: checked.redirect_uris,
        post_logout_redirect_uris: checked.post_logout_redirect_uris,
        kind: checked.kind,
        auth_method: checked.auth_method,
        first_party: checked.first_party,
        jwks: checked.jwks,
        id_token_alg: checked.id_token_alg,
        created_at: now,
        disabled: false,
        native: checked.native,
        backchannel_logout_uri: checked.backchannel_logout_uri,
        require_acr: checked.require_acr,
    };
    let secret = client
        .auth_method
        .uses_secret()
        .then(|| command_line_safe(|| B64.encode(crate::random_bytes::<32>())));
    let hash = secret
        .as_deref()
        .map(|s| secrets.mac_hex(&secret_mac_input(&client.id, s)));
    records.add_client(&client, hash.as_deref()).await?;
    let mut event = AuditEvent::new("oidc.client_added", Outcome::Success, requester, now)
        .subject(&client.id)
        .reason(&format!(
            "{} ({}, {}{}{})",
            client.name,
            client.kind.as_str(),
            client.auth_method.as_str(),
            if client.first_party {
                ", first party"
            } else {
                ""
            },
            if client.native { ", native" } else { "" }
        ));
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    records.append_audit(&event).await?;
    Ok(Registered { client, secret })
}

/// Disables (or enables again) a client: a disabled client cannot authenticate or start a
/// sign-in. Audited as `oidc.client_disabled` / `oidc.client_enabled`.
pub async fn set_disabled<R: ClientRecords + AuditTrail>(
    records: &R,
    id: &str,
    disabled: bool,
    actor: Option<&str>,
    requester: &Requester,
    now: UnixTime,
) -> Result<(), ClientError> {
    if !records.set_client_disabled(id, disabled).await? {
        return Err(ClientError::Unknown(id.to_string()));
    }
    let name = if disabled {
        "oidc.client_disabled"
    } else {
        "oidc.client_enabled"
    };
    let mut event = AuditEvent::new(name, Outcome::Success, requester, now).subject(id);
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    records.append_audit(&event).await?;
    Ok(())
}

/// What a request to the token (revocation, introspection) endpoint presented.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// From `Authorization: Basic`, already decoded (see `parse_basic`).
    pub basic: Option<(String, String)>,
    /// `client_id` and `client_secret` form fields.
    pub post: Option<(String, String)>,
    /// `client_assertion_type` and `client_assertion` form fields.
    pub assertion: Option<(String, String)>,
    /// The form's `client_id` (also present with `post`, optional with the others).
    pub client_id: Option<String>,
}

impl ClientCredentials {
    /// From the `Authorization` header (if any) and the form fields. A header that is not
    /// Basic is ignored (bearer tokens are not client credentials); a malformed Basic one is
    /// an error.
    pub fn from_request(
        authorization: Option<&str>,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        client_assertion_type: Option<&str>,
        client_assertion: Option<&str>,
    ) -> Result<Self, ClientAuthError> {
        let basic = match authorization {
            Some(value) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => {
                Some(parse_basic(&value[6..])?)
            }
            _ => None,
        };
        let client_id = client_id.filter(|s| !s.is_empty()).map(String::from);
        let post = match (&client_id, client_secret) {
            (Some(id), Some(secret)) => Some((id.clone(), secret.to_string())),
            (None, Some(_)) => return Err(ClientAuthError::Malformed),
            _ => None,
        };
        let assertion = match (client_assertion_type, client_assertion) {
            (Some(t), Some(a)) => Some((t.to_string(), a.to_string())),
            (None, None) => None,
            _ => return Err(ClientAuthError::Malformed),
        };
        Ok(Self {
            basic,
            post,
            assertion,
            client_id,
        })
    }

    /// Whether `Authorization: Basic` was tried: a refusal then answers 401 with
    /// `WWW-Authenticate: Basic`.
    pub fn tried_basic(&self) -> bool {
        self.basic.is_some()
    }
}

/// `Authorization: Basic` credentials (the part after "Basic "): base64 of
/// `urlencoded(client_id):urlencoded(secret)` (RFC 6749 §2.3.1).
pub fn parse_basic(encoded: &str) -> Result<(String, String), ClientAuthError> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| ClientAuthError::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| ClientAuthError::Malformed)?;
    let (id, secret) = text.split_once(':').ok_or(ClientAuthError::Malformed)?;
    let decode = |part: &str| -> Result<String, ClientAuthError> {
        let plus = part.replace('+', " ");
        percent_encoding::percent_decode_str(&plus)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| ClientAuthError::Malformed)
    };
    let id = decode(id)?;
    if id.is_empty() {
        return Err(ClientAuthError::Malformed);
    }
    Ok((id, decode(secret)?))
}

/// Why a client was not authenticated. Every one is OAuth `invalid_client` (except
/// `Storage`): the response does not say which.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientAuthError {
    #[error("no client authentication")]
    NoCredentials,
    #[error("malformed client credentials")]
    Malformed,
    #[error("more than one client authentication method")]
    SeveralMethods,
    #[error("the client_id fields disagree")]
    ClientIdMismatch,
    #[error("unknown client")]
    UnknownClient,
    #[error("the client is disabled")]
    Disabled,
    #[error("not the client's registered authentication method")]
    WrongMethod,
    #[error("wrong client secret")]
    WrongSecret,
    #[error("bad client assertion: {0}")]
    BadAssertion(&'static str),
    #[error("the client assertion was used before")]
    ReplayedAssertion,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ClientAuthError {
    /// The OAuth error code (RFC 6749 §5.2).
    pub fn oauth_error(&self) -> &'static str {
        match self {
            ClientAuthError::Storage(_) => "server_error",
            _ => "invalid_client",
        }
    }
}

/// The presented secret is checked against this when the client is unknown or has no
/// secret, so that every failure costs one MAC.
const NO_SECRET_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Authenticates the client of a token, revocation or introspection request. Exactly one
/// method, and it must be the client's registered one; a public client presents only its
/// client_id. `audiences` are the values a client assertion's `aud` may name (the token
/// endpoint URL, the issuer).
pub async fn authenticate_client<R: ClientRecords, P: AssertionReplay>(
    records: &R,
    replay: &P,
    secrets: &SecretBox,
    credentials: &ClientCredentials,
    audiences: &[&str],
    now: UnixTime,
) -> Result<Client, ClientAuthError> {
    let methods = usize::from(credentials.basic.is_some())
        + usize::from(credentials.post.is_some())
        + usize::from(credentials.assertion.is_some());
    if methods > 1 {
        return Err(ClientAuthError::SeveralMethods);
    }
    if let Some((id, secret)) = credentials.basic.as_ref().or(credentials.post.as_ref()) {
        if credentials.client_id.as_ref().is_some_and(|c| c != id) {
            return Err(ClientAuthError::ClientIdMismatch);
        }
        let presented = if credentials.basic.is_some() {
            ClientAuthMethod::ClientSecretBasic
        } else {
            ClientAuthMethod::ClientSecretPost
        };
        let found = records.client_with_secret(id).await?;
        let hash = found
            .as_ref()
            .and_then(|(_, h)| h.as_deref())
            .unwrap_or(NO_SECRET_HASH);
        let secret_ok = secrets.mac_matches(&secret_mac_input(id, secret), hash);
        let Some((client, _)) = found else {
            return Err(ClientAuthError::UnknownClient);
        };
        if client.auth_method != presented {
            return Err(ClientAuthError::WrongMethod);
        }
        if !secret_ok {
            return Err(ClientAuthError::WrongSecret);
        }
        return usable(client);
    }
    if let Some((assertion_type, jwt)) = &credentials.assertion {
        return check_assertion(
            records,
            replay,
            credentials.client_id.as_deref(),
            assertion_type,
            jwt,
            audiences,
            now,
        )
        .await;
    }
    let Some(id) = &credentials.client_id else {
        return Err(ClientAuthError::NoCredentials);
    };
    let Some((client, _)) = records.client_with_secret(id).await? else {
        return Err(ClientAuthError::UnknownClient);
    };
    if client.auth_method != ClientAuthMethod::None {
        return Err(ClientAuthError::WrongMethod);
    }
    usable(client)
}

fn usable(client: Client) -> Result<Client, ClientAuthError> {
    if client.disabled {
        Err(ClientAuthError::Disabled)
    } else {
        Ok(client)
    }
}

/// RFC 7523 §3: `iss` = `sub` = client_id, `aud` names us, `exp` in the future and at most
/// five minutes away, `jti` single use, signed (RS256/ES256) by a key of the client's JWKS.
async fn check_assertion<R: ClientRecords, P: AssertionReplay>(
    records: &R,
    replay: &P,
    form_client_id: Option<&str>,
    assertion_type: &str,
    jwt: &str,
    audiences: &[&str],
    now: UnixTime,
) -> Result<Client, ClientAuthError> {
    use ClientAuthError::BadAssertion;
    if assertion_type != JWT_BEARER {
        return Err(BadAssertion("client_assertion_type"));
    }
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| BadAssertion("not a JWT"))?;
    let alg = match header.alg {
        jsonwebtoken::Algorithm::RS256 => Alg::RS256,
        jsonwebtoken::Algorithm::ES256 => Alg::ES256,
        _ => return Err(BadAssertion("algorithm not RS256 or ES256")),
    };
    // Who it claims to be, before the signature is checked: only to find the keys.
    let unverified: Value = jsonwebtoken::dangerous::insecure_decode(jwt)
        .map(|d| d.claims)
        .map_err(|_| BadAssertion("not a JWT"))?;
    let iss = unverified
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(BadAssertion("no iss"))?;
    if form_client_id.is_some_and(|c| c != iss) {
        return Err(ClientAuthError::ClientIdMismatch);
    }
    let Some((client, _)) = records.client_with_secret(iss).await? else {
        return Err(ClientAuthError::UnknownClient);
    };
    if client.auth_method != ClientAuthMethod::PrivateKeyJwt {
        return Err(ClientAuthError::WrongMethod);
    }
    let keys = client
        .jwks
        .as_ref()
        .and_then(|j| j.get("keys"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let kty = match alg {
        Alg::RS256 => "RSA",
        Alg::ES256 => "EC",
    };
    let candidates = keys.iter().filter(|k| {
        k.get("kty").and_then(Value::as_str) == Some(kty)
            && match (&header.kid, k.get("kid").and_then(Value::as_str)) {
                (Some(wanted), Some(kid)) => wanted == kid,
                (Some(_), None) => false,
                (None, _) => true,
            }
    });
    let mut validation = jsonwebtoken::Validation::new(alg.jwt());
    // Times are checked below against `now` (the injected clock), not the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut claims = None;
    for key in candidates {
        let Ok(jwk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.clone()) else {
            continue;
        };
        let Ok(decoding) = jsonwebtoken::DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        if let Ok(data) = jsonwebtoken::decode::<Value>(jwt, &decoding, &validation) {
            claims = Some(data.claims);
            break;
        }
    }
    let claims = claims.ok_or(BadAssertion("signature"))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.id.as_str()) || text("sub") != Some(client.id.as_str()) {
        return Err(BadAssertion("iss and sub must be the client_id"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.contains(&a)),
        _ => false,
    };
    if !aud_ok {
        return Err(BadAssertion("aud"));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(BadAssertion("no exp"))?;
    if exp <= now {
        return Err(BadAssertion("expired"));
    }
    if exp > now + ASSERTION_MAX_SECONDS {
        return Err(BadAssertion("exp too far in the future"));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + 30)
    {
        return Err(BadAssertion("not yet valid"));
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty())
        .ok_or(BadAssertion("no jti"))?;
    if !replay.remember_assertion(&client.id, jti, exp, now).await? {
        return Err(ClientAuthError::ReplayedAssertion);
    }
    usable(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_never_start_with_a_hyphen_or_underscore() {
        let mut drawn = ["-abc", "_abc", "Xabc"].into_iter().map(String::from);
        let next = std::cell::RefCell::new(move || drawn.next().unwrap_or_default());
        assert_eq!(command_line_safe(|| (next.borrow_mut())()), "Xabc");
        for _ in 0..2_000 {
            let id = command_line_safe(|| B64.encode(crate::random_bytes::<16>()));
            assert!(!id.starts_with(['-', '_']), "{id}");
        }
    }
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[test]
    fn redirect_uris_must_be_absolute_https_or_loopback_http_without_fragment() {
        for good in [
            "https://mail.nhsmal.example/callback",
            "https://mail.nhsmal.example:8443/cb?x=1",
            "http://localhost:3000/callback",
            "http://127.0.0.1:49152/callback",
            "http://[::1]/cb",
        ] {
            assert_eq!(check_redirect_uri(good), Ok(()), "{good}");
        }
        for bad in [
            "http://mail.nhsmal.example/callback",
            "https://mail.nhsmal.example/callback#frag",
            "/callback",
            "mail.nhsmal.example/callback",
            "https://user:pw@mail.nhsmal.example/cb",
            "javascript:alert(1)",
            "com.example.app:/callback",
            "https://mail.nhsmal.example/call back",
            "",
            "http://localhost.evil.example/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    fn new_client() -> NewClient {
        NewClient {
            name: "Webmail".into(),
            redirect_uris: vec!["https://mail.example/cb".into()],
            ..NewClient::default()
        }
    }

    #[test]
    fn registration_rules() {
        let c = check_registration(&new_client()).expect("fine");
        assert_eq!(c.kind, ClientKind::Confidential);
        assert_eq!(c.auth_method, ClientAuthMethod::ClientSecretBasic);
        assert_eq!(c.id_token_alg, Alg::RS256);
        let public = check_registration(&NewClient {
            public: true,
            ..new_client()
        })
        .expect("public");
        assert_eq!(public.auth_method, ClientAuthMethod::None);
        let err = |n: NewClient| check_registration(&n).unwrap_err();
        assert_eq!(
            err(NewClient {
                name: " ".into(),
                ..new_client()
            }),
            ClientError::BadName
        );
        assert_eq!(
            err(NewClient {
                redirect_uris: vec![],
                ..new_client()
            }),
            ClientError::NoRedirectUri
        );
        assert_eq!(
            err(NewClient {
                public: true,
                auth_method: Some("client_secret_post".into()),
                ..new_client()
            }),
            ClientError::PublicWithAuthMethod
        );
        assert_eq!(
            err(NewClient {
                auth_method: Some("private_key_jwt".into()),
                ..new_client()
            }),
            ClientError::NoJwks
        );
        assert_eq!(
            err(NewClient {
                auth_method: Some("none".into()),
                ..new_client()
            }),
            ClientError::UnknownAuthMethod("none".into())
        );
        assert!(matches!(
            err(NewClient {
                auth_method: Some("private_key_jwt".into()),
                jwks: Some(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.into()),
                ..new_client()
            }),
            ClientError::BadJwks(_)
        ));
        assert_eq!(
            err(NewClient {
                id_token_alg: Some("none".into()),
                ..new_client()
            }),
            ClientError::UnknownAlg("none".into())
        );
        assert!(matches!(
            err(NewClient {
                post_logout_redirect_uris: vec!["http://app.example/bye".into()],
                ..new_client()
            }),
            ClientError::BadUri(_)
        ));
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_then_base64() {
        let header = STANDARD.encode("my%3Aclient:s%2Bcr%25et+x");
        assert_eq!(
            parse_basic(&header),
            Ok(("my:client".to_string(), "s+cr%et x".to_string()))
        );
        assert_eq!(parse_basic("!!!"), Err(ClientAuthError::Malformed));
        assert_eq!(
            parse_basic(&STANDARD.encode("no-colon")),
            Err(ClientAuthError::Malformed)
        );
        let c = ClientCredentials::from_request(
            Some(&format!("basic {header}")),
            None,
            None,
            None,
            None,
        )
        .expect("parsed");
        assert!(c.tried_basic());
        let bearer =
            ClientCredentials::from_request(Some("Bearer abc"), Some("c1"), None, None, None)
                .expect("parsed");
        assert!(!bearer.tried_basic());
        assert_eq!(
            ClientCredentials::from_request(None, None, Some("s"), None, None).unwrap_err(),
            ClientAuthError::Malformed
        );
    }

    /// Records in memory, counting MACs is not possible here; counting lookups is.
    #[derive(Default)]
    struct Memory {
        clients: Mutex<HashMap<String, (Client, Option<String>)>>,
        jtis: Mutex<Vec<(String, String)>>,
    }

    impl ClientRecords for Memory {
        async fn add_client(&self, c: &Client, h: Option<&str>) -> Result<(), StorageError> {
            self.clients
                .lock()
                .expect("lock")
                .insert(c.id.clone(), (c.clone(), h.map(String::from)));
            Ok(())
        }
        async fn client_with_secret(
            &self,
            id: &str,
        ) -> Result<Option<(Client, Option<String>)>, StorageError> {
            Ok(self.clients.lock().expect("lock").get(id).cloned())
        }
        async fn clients(&self) -> Result<Vec<Client>, StorageError> {
            Ok(vec![])
        }
        async fn set_client_disabled(&self, id: &str, d: bool) -> Result<bool, StorageError> {
            Ok(match self.clients.lock().expect("lock").get_mut(id) {
                Some((c, _)) => {
                    c.disabled = d;
                    true
                }
                None => false,
            })
        }
    }

    impl AssertionReplay for Memory {
        async fn remember_assertion(
            &self,
            client_id: &str,
            jti: &str,
            _expires_at: UnixTime,
            _now: UnixTime,
        ) -> Result<bool, StorageError> {
            let mut jtis = self.jtis.lock().expect("lock");
            let key = (client_id.to_string(), jti.to_string());
            if jtis.contains(&key) {
                return Ok(false);
            }
            jtis.push(key);
            Ok(true)
        }
    }

    fn secrets() -> SecretBox {
        SecretBox::from_base64(&SecretBox::generate_key_base64()).expect("key")
    }

    async fn register(
        memory: &Memory,
        secrets: &SecretBox,
        new: NewClient,
    ) -> (Client, Option<String>) {
        let checked = check_registration(&new).expect("valid");
        let client = Client {
            id: B64.encode(crate::random_bytes::<16>()),
            name: checked.name,
            redirect_uris: checked.redirect_uris,
            post_logout_redirect_uris: checked.post_logout_redirect_uris,
            kind: checked.kind,
            auth_method: checked.auth_method,
            first_party: checked.first_party,
            jwks: checked.jwks,
            id_token_alg: checked.id_token_alg,
            created_at: 0,
            disabled: false,
            native: false,
            backchannel_logout_uri: None,
            require_acr: None,
        };
        let secret = client
            .auth_method
            .uses_secret()
            .then(|| B64.encode(crate::random_bytes::<32>()));
        let hash = secret
            .as_deref()
            .map(|s| secrets.mac_hex(&secret_mac_input(&client.id, s)));
        memory
            .add_client(&client, hash.as_deref())
            .await
            .expect("added");
        (client, secret)
    }

    const NOW: UnixTime = 1_800_000_000;
    const TOKEN: &str = "https://id.example/oauth/token";

    #[tokio::test]
    async fn secret_clients_authenticate_only_with_their_registered_method() {
        let m = Memory::default();
        let s = secrets();
        let (basic, basic_secret) = register(&m, &s, new_client()).await;
        let basic_secret = basic_secret.expect("secret shown once");
        assert!(B64.decode(&basic_secret).expect("base64url").len() >= 32);
        let (post, post_secret) = register(
            &m,
            &s,
            NewClient {
                auth_method: Some("client_secret_post".into()),
                ..new_client()
            },
        )
        .await;
        let post_secret = post_secret.expect("secret");
        let (public, none) = register(
            &m,
            &s,
            NewClient {
                public: true,
                ..new_client()
            },
        )
        .await;
        assert!(none.is_none());
        let auth = |c: ClientCredentials| {
            let (m, s) = (&m, &s);
            async move { authenticate_client(m, m, s, &c, &[TOKEN], NOW).await }
        };
        let basic_creds = |id: &str, secret: &str| ClientCredentials {
            basic: Some((id.into(), secret.into())),
            ..Default::default()
        };
        let post_creds = |id: &str, secret: &str| ClientCredentials {
            post: Some((id.into(), secret.into())),
            client_id: Some(id.into()),
            ..Default::default()
        };
        assert_eq!(
            auth(basic_creds(&basic.id, &basic_secret)).await,
            Ok(basic.clone())
        );
        assert_eq!(
            auth(basic_creds(&basic.id, "wrong")).await,
            Err(ClientAuthError::WrongSecret)
        );
        assert_eq!(
            auth(post_creds(&basic.id, &basic_secret)).await,
            Err(ClientAuthError::WrongMethod),
            "a basic client cannot use post"
        );
        assert_eq!(
            auth(post_creds(&post.id, &post_secret)).await,
            Ok(post.clone())
        );
        assert_eq!(
            auth(basic_creds(&post.id, &post_secret)).await,
            Err(ClientAuthError::WrongMethod)
        );
        // A secret belongs to its client only.
        assert_eq!(
            auth(post_creds(&post.id, &basic_secret)).await,
            Err(ClientAuthError::WrongSecret)
        );
        assert_eq!(
            auth(basic_creds("unknown", &basic_secret)).await,
            Err(ClientAuthError::UnknownClient)
        );
        // Two methods at once.
        let mut both = basic_creds(&basic.id, &basic_secret);
        both.post = Some((basic.id.clone(), basic_secret.clone()));
        assert_eq!(auth(both).await, Err(ClientAuthError::SeveralMethods));
        // A form client_id that disagrees with Basic.
        let mut mismatch = basic_creds(&basic.id, &basic_secret);
        mismatch.client_id = Some(post.id.clone());
        assert_eq!(auth(mismatch).await, Err(ClientAuthError::ClientIdMismatch));
        // A public client: only the client_id; with a secret it is refused.
        let only_id = |id: &str| ClientCredentials {
            client_id: Some(id.into()),
            ..Default::default()
        };
        assert_eq!(auth(only_id(&public.id)).await, Ok(public.clone()));
        assert_eq!(
            auth(post_creds(&public.id, "anything")).await,
            Err(ClientAuthError::WrongMethod)
        );
        assert_eq!(
            auth(only_id(&basic.id)).await,
            Err(ClientAuthError::WrongMethod),
            "a confidential client must authenticate"
        );
        assert_eq!(
            auth(ClientCredentials::default()).await,
            Err(ClientAuthError::NoCredentials)
        );
        // Disabled.
        m.set_client_disabled(&basic.id, true).await.expect("set");
        assert_eq!(
            auth(basic_creds(&basic.id, &basic_secret)).await,
            Err(ClientAuthError::Disabled)
        );
        assert_eq!(ClientAuthError::Disabled.oauth_error(), "invalid_client");
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // measures work, not the time of day
    fn an_unknown_client_costs_the_same_mac_as_a_wrong_secret() {
        // Both paths compute one MAC over the presented secret (the unknown one against a
        // fixed hash); timing them here would be noise, so check the shape of the work: the
        // fixed hash is a well-formed MAC length and never matches.
        let s = secrets();
        assert_eq!(NO_SECRET_HASH.len(), s.mac_hex(b"x").len());
        assert!(!s.mac_matches(&secret_mac_input("unknown", "x"), NO_SECRET_HASH));
        let start = std::time::Instant::now();
        for i in 0..2_000 {
            let _ = s.mac_matches(&secret_mac_input("unknown", &i.to_string()), NO_SECRET_HASH);
        }
        let unknown = start.elapsed();
        let hash = s.mac_hex(&secret_mac_input("known", "right"));
        let start = std::time::Instant::now();
        for i in 0..2_000 {
            let _ = s.mac_matches(&secret_mac_input("known", &i.to_string()), &hash);
        }
        let wrong = start.elapsed();
        let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
        assert!((0.5..2.0).contains(&ratio), "similar work: {ratio}");
    }

    fn es256_client_key() -> (jsonwebtoken::EncodingKey, Value) {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let doc = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
            .expect("parse");
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "rp-1",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])});
        (
            jsonwebtoken::EncodingKey::from_ec_der(doc.as_ref()),
            serde_json::json!({ "keys": [jwk] }),
        )
    }

    proptest::proptest! {
        #![proptest_config(crate::hostile_input::config())]
        /// Hostile input (issue 18): client assertions of any shape, and JWT-shaped ones with
        /// any header and claims, signed by nobody, are refused and never panic.
        #[test]
        fn forged_client_assertions_are_refused(
            text in ".{0,400}",
            header in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
            claims in "\\{[a-z\":, 0-9\\[\\]{}.-]{0,200}\\}",
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..90),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            rt.block_on(async {
                let m = Memory::default();
                let s = secrets();
                let (_, jwks) = es256_client_key();
                let (client, _) = register(
                    &m,
                    &s,
                    NewClient {
                        auth_method: Some("private_key_jwt".into()),
                        jwks: Some(jwks.to_string()),
                        ..new_client()
                    },
                )
                .await;
                let jwt = format!(
                    "{}.{}.{}",
                    B64.encode(&header),
                    B64.encode(claims.as_bytes()),
                    B64.encode(&signature)
                );
                for assertion in [text.clone(), jwt] {
                    let c = ClientCredentials {
                        assertion: Some((JWT_BEARER.into(), assertion)),
                        client_id: Some(client.id.clone()),
                        ..Default::default()
                    };
                    let result = authenticate_client(&m, &m, &s, &c, &[TOKEN], NOW).await;
                    assert!(result.is_err());
                }
            });
        }
    }

    #[tokio::test]
    async fn private_key_jwt_follows_rfc_7523() {
        let m = Memory::default();
        let s = secrets();
        let (key, jwks) = es256_client_key();
        let (client, secret) = register(
            &m,
            &s,
            NewClient {
                auth_method: Some("private_key_jwt".into()),
                jwks: Some(jwks.to_string()),
                ..new_client()
            },
        )
        .await;
        assert!(secret.is_none());
        let id = client.id.clone();
        let sign = |claims: Value| {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some("rp-1".into());
            jsonwebtoken::encode(&header, &claims, &key).expect("signed")
        };
        let claims = |jti: &str, aud: Value, exp: i64| serde_json::json!({"iss": id, "sub": id, "aud": aud, "exp": exp, "jti": jti});
        let auth = |jwt: String| {
            let (m, s) = (&m, &s);
            async move {
                let c = ClientCredentials {
                    assertion: Some((JWT_BEARER.into(), jwt)),
                    ..Default::default()
                };
                authenticate_client(m, m, s, &c, &[TOKEN, "https://id.example"], NOW).await
            }
        };
        assert_eq!(
            auth(sign(claims("j1", TOKEN.into(), NOW + 60))).await,
            Ok(client.clone())
        );
        assert_eq!(
            auth(sign(claims("j1", TOKEN.into(), NOW + 60))).await,
            Err(ClientAuthError::ReplayedAssertion)
        );
        assert_eq!(
            auth(sign(claims(
                "j2",
                serde_json::json!(["x", "https://id.example"]),
                NOW + 60
            )))
            .await,
            Ok(client.clone()),
            "the issuer in an aud array"
        );
        assert_eq!(
            auth(sign(claims("j3", "https://elsewhere".into(), NOW + 60))).await,
            Err(ClientAuthError::BadAssertion("aud"))
        );
        assert_eq!(
            auth(sign(claims("j4", TOKEN.into(), NOW))).await,
            Err(ClientAuthError::BadAssertion("expired"))
        );
        assert_eq!(
            auth(sign(claims("j5", TOKEN.into(), NOW + 301))).await,
            Err(ClientAuthError::BadAssertion("exp too far in the future"))
        );
        assert_eq!(
            auth(sign(serde_json::json!({"iss": id, "sub": "someone", "aud": TOKEN, "exp": NOW + 60, "jti": "j6"}))).await,
            Err(ClientAuthError::BadAssertion("iss and sub must be the client_id"))
        );
        assert_eq!(
            auth(sign(
                serde_json::json!({"iss": id, "sub": id, "aud": TOKEN, "exp": NOW + 60})
            ))
            .await,
            Err(ClientAuthError::BadAssertion("no jti"))
        );
        // Signed by a key the client did not register.
        let (other, _) = es256_client_key();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("rp-1".into());
        let forged = jsonwebtoken::encode(&header, &claims("j7", TOKEN.into(), NOW + 60), &other)
            .expect("signed");
        assert_eq!(
            auth(forged).await,
            Err(ClientAuthError::BadAssertion("signature"))
        );
        // HS256 with the public key as a secret (algorithm confusion) is refused.
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims("j8", TOKEN.into(), NOW + 60),
            &jsonwebtoken::EncodingKey::from_secret(jwks.to_string().as_bytes()),
        )
        .expect("signed");
        assert_eq!(
            auth(hs).await,
            Err(ClientAuthError::BadAssertion(
                "algorithm not RS256 or ES256"
            ))
        );
        // The wrong assertion type.
        let c = ClientCredentials {
            assertion: Some((
                "urn:other".into(),
                sign(claims("j9", TOKEN.into(), NOW + 60)),
            )),
            ..Default::default()
        };
        assert_eq!(
            authenticate_client(&m, &m, &s, &c, &[TOKEN], NOW).await,
            Err(ClientAuthError::BadAssertion("client_assertion_type"))
        );
    }

    fn native(uris: &[&str]) -> NewClient {
        NewClient {
            name: "Thunderbird".into(),
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            native: true,
            ..NewClient::default()
        }
    }

    #[test]
    fn a_native_app_is_public_and_receives_codes_on_a_loopback_ip_or_https() {
        let checked = check_registration(&native(&["http://127.0.0.1/callback"])).expect("ok");
        assert_eq!(checked.kind, ClientKind::Public);
        assert_eq!(checked.auth_method, ClientAuthMethod::None);
        assert!(
            check_registration(&native(&[])).is_ok(),
            "device grant only"
        );
        assert!(check_registration(&native(&["http://[::1]:8080/cb"])).is_ok());
        assert!(check_registration(&native(&["https://app.example/cb"])).is_ok());
        assert!(matches!(
            check_registration(&native(&["http://localhost/cb"])),
            Err(ClientError::NativeRedirect(_))
        ));
        let mut with_secret = native(&[]);
        with_secret.auth_method = Some("client_secret_basic".into());
        assert_eq!(
            check_registration(&with_secret).unwrap_err(),
            ClientError::NativeWithAuthMethod
        );
        // A web app still needs a redirect URI.
        let mut web = native(&[]);
        web.native = false;
        assert_eq!(
            check_registration(&web).unwrap_err(),
            ClientError::NoRedirectUri
        );
    }

    #[test]
    fn only_a_native_apps_loopback_redirect_matches_on_any_port() {
        let mut client = Client {
            id: "c".into(),
            name: "Mail".into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            post_logout_redirect_uris: vec![],
            kind: ClientKind::Public,
            auth_method: ClientAuthMethod::None,
            first_party: false,
            jwks: None,
            id_token_alg: Alg::RS256,
            created_at: 0,
            disabled: false,
            native: true,
            backchannel_logout_uri: None,
            require_acr: None,
        };
        assert!(redirect_uri_registered(
            &client,
            "http://127.0.0.1/callback"
        ));
        assert!(redirect_uri_registered(
            &client,
            "http://127.0.0.1:53211/callback"
        ));
        assert!(!redirect_uri_registered(
            &client,
            "http://127.0.0.1:53211/callbackx"
        ));
        assert!(!redirect_uri_registered(
            &client,
            "http://127.0.0.2:53211/callback"
        ));
        assert!(!redirect_uri_registered(
            &client,
            "http://localhost:53211/callback"
        ));
        assert!(!redirect_uri_registered(
            &client,
            "https://127.0.0.1:53211/callback"
        ));
        client.native = false;
        assert!(!redirect_uri_registered(
            &client,
            "http://127.0.0.1:53211/callback"
        ));
    }
}
