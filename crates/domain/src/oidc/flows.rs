//! The OpenID Connect authorization code flow (issue 7): the authorization request's rules,
//! single-use 60-second codes bound to PKCE, ID tokens that say how the person authenticated
//! (`amr`, `acr`), opaque access tokens sealed with the master key (`access_token`), refresh
//! tokens stored only as hashes that rotate with reuse detection and an absolute lifetime,
//! revocation and introspection.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::access_token::{AccessToken, Presented};
use super::clients::Client;
use super::keys::SigningKeys;
use super::request::valid_verifier;
pub use super::request::{
    Acr, AuthorizationRequest, RequestError, SCOPES, ValidRequest, acr_needed, amr_of,
    check_request, s256,
};
use crate::StorageError;
use crate::accounts::{Account, AccountState, PasswordAction};
use crate::clock::UnixTime;
use crate::secrets::SecretBox;

/// An authorization code lives 60 seconds (OI-4).
pub const CODE_SECONDS: i64 = 60;
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
/// ID tokens: an hour, as long as retired signing keys stay published for.
pub const ID_TOKEN_SECONDS: i64 = 3_600;
/// A refresh chain ends this long after the sign-in, however often it is used: no longer than
/// a portal session may last.
pub const REFRESH_ABSOLUTE_SECONDS: i64 = 12 * 3_600;
/// A native app's (a mail app's) chain lasts 90 days from the sign-in, and each of its refresh
/// tokens 30 days from its issue: a mail app in daily use signs in again once a quarter, one
/// left unused for a month at once (docs/DECISIONS.md, "Mail apps").
pub const NATIVE_REFRESH_ABSOLUTE_SECONDS: i64 = 90 * 86_400;
pub const NATIVE_REFRESH_IDLE_SECONDS: i64 = 30 * 86_400;

/// How long a new grant's refresh chain may last for this client.
fn refresh_lifetime(client: &Client) -> i64 {
    if client.native {
        NATIVE_REFRESH_ABSOLUTE_SECONDS
    } else {
        REFRESH_ABSOLUTE_SECONDS
    }
}

/// Codes and tokens: a stamp (when it was issued, to the millisecond, 12 hex digits) and 256
/// random bits, base64url. The stamp carries no secret and makes no guess easier; it puts
/// each new code and token at the end of the store's indexes instead of at a random place,
/// so that a batch of new tokens writes a few index pages rather than one page a row in each
/// index (BENCHMARKS.md, "OpenID Connect token endpoint"). It tells the holder when the token
/// was issued, which the ID token's `iat` tells already. Only the key (`key_of`) is stored.
pub fn new_secret() -> String {
    let millis = crate::clock::ordering_millis();
    let random = URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>());
    format!("{millis:0STAMP_DIGITS$x}{random}")
}

/// Hex digits of a code's or token's stamp (milliseconds: enough until the year 10889).
const STAMP_DIGITS: usize = 12;
/// Length of a stamped code or token: the stamp and 43 base64url characters.
const STAMPED_LENGTH: usize = STAMP_DIGITS + 43;

/// What a code or token is stored and found by: its SHA-256 in hex, behind its stamp when it
/// has one (codes and tokens issued before stamps were added are 43 characters and have none,
/// and their keys are the hash alone).
pub fn key_of(secret: &str) -> String {
    let stamp = secret
        .get(..STAMP_DIGITS)
        .filter(|stamp| {
            secret.len() == STAMPED_LENGTH
                && stamp
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
        .unwrap_or_default();
    format!(
        "{stamp}{}",
        crate::secrets::hex(&Sha256::digest(secret.as_bytes()))
    )
}

/// One sign-in at one app: the code, and every token issued from it, belong to a grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    pub account_id: String,
    pub scope: String,
    pub auth_time: UnixTime,
    pub amr: String,
    pub acr: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

#[derive(Debug, Clone)]
pub struct StoredCode {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [TokenKind::Access, TokenKind::Refresh]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone)]
pub struct StoredToken {
    pub token_hash: String,
    pub kind: String,
    pub grant_id: String,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    pub created_at: UnixTime,
    /// The hash of the code or refresh token this token was issued for: issuing from it spends
    /// it, and only one refresh token can be issued from each.
    pub issued_from: Option<String>,
}

pub trait GrantRecords {
    /// The grant and its code, in one transaction.
    fn insert_grant_with_code(
        &self,
        grant: &Grant,
        code: &StoredCode,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// A code with its grant and the grant's account, in one read; `used_at` says whether
    /// tokens were issued from it already.
    fn code(
        &self,
        code_hash: &str,
    ) -> impl Future<Output = Result<Option<(StoredCode, Grant, Account)>, StorageError>> + Send;
    /// The one stored token of an exchange or refresh, its refresh token (access tokens are
    /// sealed, not stored). `Conflict` when a token was issued from the same code or refresh
    /// token already.
    fn insert_token(
        &self,
        token: StoredToken,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// A token with its grant and the grant's account, in one read.
    fn token(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<(StoredToken, Grant, Account)>, StorageError>> + Send;
    /// A grant and its account, in one read: what a sealed access token leads to.
    fn grant(
        &self,
        grant_id: &str,
    ) -> impl Future<Output = Result<Option<(Grant, Account)>, StorageError>> + Send;
    fn revoke_grant(
        &self,
        grant_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Every grant of the account (password reset, "This wasn't me", compromise, MFA reset).
    fn revoke_grants_of_account(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
    fn consented_scope(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;
    fn save_consent(
        &self,
        account_id: &str,
        client_id: &str,
        scope: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// What the portal knows about the signed-in person when it issues a code.
pub struct Authentication<'a> {
    pub account: &'a Account,
    /// The session's methods ("pwd otp mfa").
    pub auth_methods: &'a str,
    pub auth_time: UnixTime,
}

impl Grant {
    /// A new grant of `scope` to `client`, saying how the person signed in (as a code or a
    /// device authorization carries it).
    pub fn new(client: &Client, who: &Authentication<'_>, scope: &str, now: UnixTime) -> Self {
        let amr = amr_of(who.auth_methods);
        Grant {
            // Version 7: ordered by time, so that new grants (and the tokens indexed by their
            // grant) go at the end of the store's indexes, as stamped codes and tokens do.
            id: uuid::Uuid::now_v7().to_string(),
            client_id: client.id.clone(),
            account_id: who.account.id.clone(),
            scope: scope.to_string(),
            auth_time: who.auth_time,
            acr: Acr::of_session(who.auth_methods).as_str().to_string(),
            amr: amr.join(" "),
            created_at: now,
            expires_at: now + refresh_lifetime(client),
            revoked_at: None,
        }
    }
}

/// Issues a code for a checked request: a new grant and its single-use code. Returns the code.
pub async fn issue_code<R: GrantRecords>(
    records: &R,
    client: &Client,
    req: &AuthorizationRequest,
    valid: &ValidRequest,
    who: &Authentication<'_>,
    now: UnixTime,
) -> Result<String, StorageError> {
    let grant = Grant::new(client, who, &valid.scope, now);
    let code = new_secret();
    let stored = StoredCode {
        code_hash: key_of(&code),
        grant_id: grant.id.clone(),
        client_id: client.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        expires_at: now + CODE_SECONDS,
        used_at: None,
    };
    records.insert_grant_with_code(&grant, &stored).await?;
    Ok(code)
}

/// An OAuth error of the token endpoint (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("{0}")]
    InvalidRequest(&'static str),
    #[error(
        "only the authorization_code, refresh_token and device_code (urn:ietf:params:oauth:grant-type:device_code) grants are supported"
    )]
    UnsupportedGrantType,
    /// RFC 8628 §3.5: the person has not decided yet.
    #[error("the person has not allowed or denied the app yet")]
    AuthorizationPending,
    #[error("polling too often: wait the interval, now 5 seconds longer")]
    SlowDown,
    #[error("the device code has expired: start again")]
    ExpiredToken,
    #[error("the person denied the app")]
    AccessDenied,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::AuthorizationPending => "authorization_pending",
            TokenError::SlowDown => "slow_down",
            TokenError::ExpiredToken => "expired_token",
            TokenError::AccessDenied => "access_denied",
            TokenError::Storage(_) | TokenError::Internal(_) => "server_error",
        }
    }
}

/// The token endpoint's answer.
#[derive(Debug, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
}

/// Where tokens are signed and sealed, and what they say about the issuer.
pub struct Issuer<'a> {
    pub url: &'a str,
    pub keys: &'a SigningKeys,
    pub secrets: &'a SecretBox,
}

/// The code's exchange: the client that got it, the same redirect URI, the PKCE verifier,
/// within 60 seconds, once. A second use revokes everything issued from the code (OI-4).
pub async fn exchange_code<R>(
    records: &R,
    issuer: &Issuer<'_>,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, TokenError>
where
    R: GrantRecords + Sync,
{
    if code.is_empty() {
        return Err(TokenError::InvalidRequest("code is required"));
    }
    let Some((stored, grant, account)) = records.code(&key_of(code)).await? else {
        return Err(TokenError::InvalidGrant("unknown code"));
    };
    if stored.used_at.is_some() {
        return Err(reused(records, Spending::Code, &grant, now).await);
    }
    if stored.client_id != client.id {
        return Err(TokenError::InvalidGrant(
            "the code was issued to another client",
        ));
    }
    if stored.expires_at <= now {
        return Err(TokenError::InvalidGrant("the code has expired"));
    }
    if stored.redirect_uri != redirect_uri {
        return Err(TokenError::InvalidGrant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (stored.code_challenge.as_deref(), verifier) {
        (Some(challenge), Some(v)) => {
            if !valid_verifier(v) {
                return Err(TokenError::InvalidRequest("the code verifier is malformed"));
            }
            let matches: bool =
                subtle::ConstantTimeEq::ct_eq(s256(v).as_bytes(), challenge.as_bytes()).into();
            if !matches {
                return Err(TokenError::InvalidGrant("the code verifier does not match"));
            }
        }
        (Some(_), None) => return Err(TokenError::InvalidGrant("code_verifier is required")),
        // A verifier for a code issued without a challenge is a downgrade attempt (OI-2).
        (None, Some(_)) => {
            return Err(TokenError::InvalidGrant(
                "the authorization request had no code challenge",
            ));
        }
        (None, None) => {}
    }
    if grant.revoked_at.is_some() {
        return Err(TokenError::InvalidGrant("the grant has been revoked"));
    }
    let spending = Spending::Code;
    issue_tokens(
        records,
        issuer,
        client,
        (&grant, account),
        (spending, &stored.code_hash),
        stored.nonce.as_deref(),
        now,
    )
    .await
}

/// A refresh: the token is spent and a new one issued in the same chain. Using a spent one
/// again means it was stolen (or replayed): the whole chain is revoked (OI-8).
pub async fn refresh<R>(
    records: &R,
    issuer: &Issuer<'_>,
    client: &Client,
    refresh_token: &str,
    now: UnixTime,
) -> Result<TokenResponse, TokenError>
where
    R: GrantRecords + Sync,
{
    if refresh_token.is_empty() {
        return Err(TokenError::InvalidRequest("refresh_token is required"));
    }
    let hash = key_of(refresh_token);
    let Some((token, grant, account)) = records.token(&hash).await? else {
        return Err(TokenError::InvalidGrant("unknown refresh token"));
    };
    if token.kind != TokenKind::Refresh.as_str() || grant.client_id != client.id {
        return Err(TokenError::InvalidGrant("unknown refresh token"));
    }
    if grant.revoked_at.is_some() {
        return Err(TokenError::InvalidGrant(
            "the refresh token has been revoked",
        ));
    }
    if token.used_at.is_some() {
        return Err(reused(records, Spending::RefreshToken, &grant, now).await);
    }
    if token.expires_at <= now || grant.expires_at <= now {
        return Err(TokenError::InvalidGrant("the refresh token has expired"));
    }
    let spending = (Spending::RefreshToken, hash.as_str());
    issue_tokens(
        records,
        issuer,
        client,
        (&grant, account),
        spending,
        None,
        now,
    )
    .await
}

/// What an exchange or refresh spends: tokens are issued from it once.
#[derive(Debug, Clone, Copy)]
pub(super) enum Spending {
    Code,
    RefreshToken,
    DeviceCode,
}

/// A code or refresh token used again: everything issued in its grant is revoked (OI-4, OI-8).
pub(super) async fn reused<R: GrantRecords + Sync>(
    records: &R,
    spending: Spending,
    grant: &Grant,
    now: UnixTime,
) -> TokenError {
    if let Err(e) = records.revoke_grant(&grant.id, now).await {
        return e.into();
    }
    TokenError::InvalidGrant(match spending {
        Spending::Code => "the code has been used already; tokens issued from it are revoked",
        Spending::RefreshToken => "the refresh token has been used already; the chain is revoked",
        Spending::DeviceCode => {
            "the device code has been used already; tokens issued from it are revoked"
        }
    })
}

pub(super) async fn issue_tokens<R>(
    records: &R,
    issuer: &Issuer<'_>,
    client: &Client,
    (grant, account): (&Grant, Account),
    (spending, spent_hash): (Spending, &str),
    nonce: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, TokenError>
where
    R: GrantRecords + Sync,
{
    if account.state != AccountState::Active
        || account.password_action == PasswordAction::ResetRequired
    {
        return Err(TokenError::InvalidGrant(
            "the account can no longer sign in",
        ));
    }
    let access = AccessToken {
        grant_id: grant.id.clone(),
        issued_at: now,
        expires_at: now + ACCESS_TOKEN_SECONDS,
    }
    .seal(issuer.secrets);
    let refresh = new_secret();
    // The refresh token's row is the one write, and it spends the code or refresh token
    // (`issued_from` is unique): the access token needs no row.
    let issued = records
        .insert_token(StoredToken {
            token_hash: key_of(&refresh),
            kind: TokenKind::Refresh.as_str().into(),
            grant_id: grant.id.clone(),
            expires_at: if client.native {
                grant.expires_at.min(now + NATIVE_REFRESH_IDLE_SECONDS)
            } else {
                grant.expires_at
            },
            used_at: None,
            created_at: now,
            issued_from: Some(spent_hash.to_string()),
        })
        .await;
    match issued {
        Ok(()) => {}
        // Spent a moment ago by a request racing this one: a reuse like any other.
        Err(StorageError::Conflict) => return Err(reused(records, spending, grant, now).await),
        Err(e) => return Err(e.into()),
    }
    let claims = id_token_claims(issuer.url, client, grant, &account, nonce, &access, now);
    let id_token = issuer
        .keys
        .sign(client.id_token_alg, &claims)
        .map_err(|e| TokenError::Internal(e.to_string()))?;
    Ok(TokenResponse {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECONDS,
        refresh_token: refresh,
        id_token,
        scope: grant.scope.clone(),
    })
}

/// OpenID Connect Core §2 and §3.1.3.6: who, for whom, when and how.
fn id_token_claims(
    issuer: &str,
    client: &Client,
    grant: &Grant,
    account: &Account,
    nonce: Option<&str>,
    access_token: &str,
    now: UnixTime,
) -> serde_json::Value {
    let mut claims = json!({
        "iss": issuer,
        "sub": account.id,
        "aud": client.id,
        "azp": client.id,
        "exp": now + ID_TOKEN_SECONDS,
        "iat": now,
        "auth_time": grant.auth_time,
        "amr": grant.amr.split_whitespace().collect::<Vec<_>>(),
        "acr": grant.acr,
        "at_hash": half_hash(access_token),
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    add_profile_claims(&mut claims, &grant.scope, account);
    claims
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url (both our
/// algorithms use SHA-256).
fn half_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The claims the scopes ask for: `email` (and `email_verified`: the address is the
/// account's NHSmal mailbox), `profile` (`name` and the organisation).
pub fn add_profile_claims(claims: &mut serde_json::Value, scope: &str, account: &Account) {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.contains(&"email") {
        claims["email"] = json!(account.email);
        claims["email_verified"] = json!(true);
    }
    if scopes.contains(&"profile") {
        claims["name"] = json!(account.display_name);
        claims["organisation"] = json!({
            "code": account.org_code,
            "name": account.org_name,
        });
    }
}

/// A token shown to userinfo, introspection or revocation, with its grant and the grant's
/// account: a sealed access token leads to its grant, anything else is looked up by key (a
/// refresh token, or an access token issued before sealing).
struct Shown {
    kind: TokenKind,
    issued_at: UnixTime,
    expires_at: UnixTime,
    spent: bool,
    grant: Grant,
    account: Account,
}

async fn shown<R>(
    records: &R,
    secrets: &SecretBox,
    token: &str,
) -> Result<Option<Shown>, StorageError>
where
    R: GrantRecords + Sync,
{
    match AccessToken::open(token, secrets) {
        Presented::Sealed(sealed) => {
            Ok(records
                .grant(&sealed.grant_id)
                .await?
                .map(|(grant, account)| Shown {
                    kind: TokenKind::Access,
                    issued_at: sealed.issued_at,
                    expires_at: sealed.expires_at,
                    spent: false,
                    grant,
                    account,
                }))
        }
        Presented::Unreadable => Ok(None),
        Presented::Stored => {
            let Some((stored, grant, account)) = records.token(&key_of(token)).await? else {
                return Ok(None);
            };
            Ok(TokenKind::parse(&stored.kind).map(|kind| Shown {
                kind,
                issued_at: stored.created_at,
                expires_at: stored.expires_at,
                spent: stored.used_at.is_some(),
                grant,
                account,
            }))
        }
    }
}

/// An access token presented to userinfo: live, of a live grant and an active account.
pub async fn live_access_token<R>(
    records: &R,
    secrets: &SecretBox,
    token: &str,
    now: UnixTime,
) -> Result<Option<(Grant, Account)>, StorageError>
where
    R: GrantRecords + Sync,
{
    let Some(shown) = shown(records, secrets, token).await? else {
        return Ok(None);
    };
    if shown.kind != TokenKind::Access
        || shown.expires_at <= now
        || shown.grant.revoked_at.is_some()
        || shown.account.state != AccountState::Active
    {
        return Ok(None);
    }
    Ok(Some((shown.grant, shown.account)))
}

/// RFC 7662: what a resource server learns about a token. Inactive for anything unknown,
/// expired, spent or revoked, with nothing else said.
pub async fn introspect<R>(
    records: &R,
    secrets: &SecretBox,
    issuer: &str,
    token: &str,
    now: UnixTime,
) -> Result<serde_json::Value, StorageError>
where
    R: GrantRecords + Sync,
{
    let Some(Shown {
        kind,
        issued_at,
        expires_at,
        spent,
        grant,
        account,
    }) = shown(records, secrets, token).await?
    else {
        return Ok(json!({ "active": false }));
    };
    let live = expires_at > now
        && grant.revoked_at.is_none()
        && grant.expires_at > now
        && !spent
        && account.state == AccountState::Active;
    if !live {
        return Ok(json!({ "active": false }));
    }
    Ok(json!({
            "active": true,
            "scope": grant.scope,
            "client_id": grant.client_id,
            "username": account.email,
            "token_type": match kind {
                TokenKind::Access => "Bearer",
                TokenKind::Refresh => "refresh_token",
            },
            "exp": expires_at,
            "iat": issued_at,
            "sub": account.id,
            "aud": grant.client_id,
            "iss": issuer,
            "auth_time": grant.auth_time,
            "acr": grant.acr,
            "amr": grant.amr.split_whitespace().collect::<Vec<_>>(),
    }))
}

/// RFC 7009: revoking a refresh token revokes its grant (every token of the chain); revoking an
/// access token revokes that grant too (we cannot tell a stolen one from a finished one). A
/// token of another client, or unknown, changes nothing; the answer is the same.
pub async fn revoke<R: GrantRecords + Sync>(
    records: &R,
    secrets: &SecretBox,
    client: &Client,
    token: &str,
    now: UnixTime,
) -> Result<(), StorageError> {
    if let Some(shown) = shown(records, secrets, token).await?
        && shown.grant.client_id == client.id
    {
        records.revoke_grant(&shown.grant.id, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::request::valid_challenge;

    #[test]
    fn amr_keeps_only_rfc_8176_values_and_acr_follows_from_them() {
        assert_eq!(amr_of("pwd otp mfa"), vec!["pwd", "otp", "mfa"]);
        assert_eq!(amr_of("pwd mfa device"), vec!["pwd", "mfa"]);
        assert_eq!(amr_of("pwd swk mfa"), vec!["pwd", "swk", "mfa"]);
        assert_eq!(Acr::parse_short("phr"), Some(Acr::PhishingResistant));
        assert_eq!(Acr::parse_short(" mfa "), Some(Acr::Mfa));
        assert_eq!(Acr::parse_short("urn:nhsmal:acr:pwd"), Some(Acr::Password));
        assert_eq!(Acr::parse_short("strong"), None);
        assert_eq!(Acr::parse_short("urn:other:phr"), None);
        assert_eq!(Acr::of(&amr_of("pwd swk mfa")), Acr::Mfa);
        assert_eq!(amr_of("pwd sms mfa tel"), vec!["pwd", "sms", "mfa", "tel"]);
        assert_eq!(Acr::of(&amr_of("pwd")), Acr::Password);
        assert_eq!(Acr::of(&amr_of("pwd otp mfa")), Acr::Mfa);
        assert_eq!(Acr::of(&amr_of("pwd hwk mfa")), Acr::PhishingResistant);
        // A key proved without "mfa" (a method the policy no longer counts) is not MFA.
        assert_eq!(Acr::of(&amr_of("pwd hwk")), Acr::Password);
    }

    #[test]
    fn acr_values_ask_for_the_weakest_level_listed() {
        assert_eq!(
            acr_needed("urn:nhsmal:acr:phr"),
            Some(Acr::PhishingResistant)
        );
        assert_eq!(
            acr_needed("urn:nhsmal:acr:phr urn:nhsmal:acr:mfa"),
            Some(Acr::Mfa)
        );
        assert_eq!(acr_needed("something-else"), None);
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(valid_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!valid_verifier("short"));
        assert!(valid_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn a_new_code_or_token_is_a_stamp_and_256_random_bits_and_later_ones_sort_after() {
        let first = new_secret();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_secret();
        assert_eq!(first.len(), 55);
        let random = URL_SAFE_NO_PAD
            .decode(&first[12..])
            .expect("base64url after the stamp");
        assert_eq!(random.len(), 32);
        assert_ne!(first[12..], second[12..]);
        let (a, b) = (key_of(&first), key_of(&second));
        assert_eq!(a.len(), 12 + 64);
        assert_eq!(a[..12], first[..12], "the key keeps the stamp in front");
        assert!(a < b, "{a} then {b}");
    }

    #[test]
    fn the_key_of_an_unstamped_code_or_token_is_its_sha256_alone() {
        // A 43-character token, as issued before stamps: the key it was stored under.
        let old = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let hash: String = Sha256::digest(old.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(key_of(old), hash);
        // Hex at the front of a token of another length is no stamp.
        assert_eq!(key_of("0123456789abcdef").len(), 64);
    }
}
