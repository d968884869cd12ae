//! The endpoints apps and resource servers call directly: discovery, token, userinfo,
//! revocation (RFC 7009) and introspection (RFC 7662). OAuth errors are JSON (RFC 6749 §5.2).

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::web::AppState;
use domain::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use domain::oidc::clients::{self, Client, ClientAuthError, ClientCredentials, ClientKind};
use domain::oidc::device_grant::{self, DeviceError};
use domain::oidc::flows::{self, Acr, Issuer, TokenError};

use super::endpoints::AUTHORIZE;

/// RFC 8628 §3.1: where a mail app or a device without a browser asks for a user code.
pub const DEVICE_AUTHORIZATION: &str = "/oauth2/device_authorization";
/// The grant type of its token requests (§3.4).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Endpoints apps and resource servers call directly: no cookies, no CSRF (their callers
/// authenticate themselves).
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/token", post(token))
        .route(DEVICE_AUTHORIZATION, post(device_authorization))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
}

/// The issuer: the public URL without a trailing slash.
pub fn issuer(app: &AppState) -> String {
    app.settings
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_string()
}

async fn discovery(State(app): State<AppState>) -> Response {
    let iss = issuer(&app);
    let body = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}{AUTHORIZE}"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "introspection_endpoint": format!("{iss}/oauth2/introspect"),
        "end_session_endpoint": format!("{iss}/oauth2/logout"),
        "device_authorization_endpoint": format!("{iss}{DEVICE_AUTHORIZATION}"),
        "scopes_supported": flows::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr",
            "amr", "azp", "at_hash", "email", "email_verified", "name", "organisation"],
        "acr_values_supported": Acr::ALL.map(|a| a.as_str()),
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(body),
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[derive(Deserialize, Default)]
struct TokenForm {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    redirect_uri: String,
    code_verifier: Option<String>,
    #[serde(default)]
    refresh_token: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    device_code: String,
    #[serde(default)]
    scope: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

impl TokenForm {
    fn credentials(&self, headers: &HeaderMap) -> ClientCredentials {
        ClientCredentials {
            basic: basic_credentials(headers),
            post: match (&self.client_id, &self.client_secret) {
                (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
                _ => None,
            },
            assertion: match (&self.client_assertion_type, &self.client_assertion) {
                (Some(t), Some(a)) => Some((t.clone(), a.clone())),
                _ => None,
            },
            client_id: self.client_id.clone(),
        }
    }
}

/// RFC 6749 §2.3.1: Basic with the form-urlencoded id and secret. A malformed header counts
/// as Basic presented with nothing that matches.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    Some(clients::parse_basic(encoded).unwrap_or_default())
}

/// Audits a token-endpoint (or revocation, introspection) outcome: refusals name the client
/// id presented and why; never a code, token, secret or assertion.
async fn audit_oauth(
    app: &AppState,
    requester: &Requester,
    event: &'static str,
    outcome: Outcome,
    client_id: &str,
    reason: &str,
) {
    let event = AuditEvent::new(event, outcome, requester, app.now())
        .subject(&domain::sessions::truncate(client_id, 100))
        .reason(reason);
    if let Err(e) = app.store.append_audit(&event).await {
        tracing::error!(error = %e, "OAuth audit event not written");
    }
}

async fn authenticated_client(
    app: &AppState,
    requester: &Requester,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Client, Response> {
    let credentials = form.credentials(headers);
    let iss = issuer(app);
    let token_endpoint = format!("{iss}/oauth2/token");
    match clients::authenticate_client(
        &app.store,
        &app.store,
        &app.secrets,
        &credentials,
        &[token_endpoint.as_str(), iss.as_str()],
        app.now(),
    )
    .await
    {
        Ok(client) => Ok(client),
        Err(ClientAuthError::Storage(e)) => {
            tracing::error!(error = %e, "client authentication failed");
            Err(oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again later",
            ))
        }
        Err(e) => {
            let presented = credentials
                .basic
                .as_ref()
                .or(credentials.post.as_ref())
                .map(|(id, _)| id.clone())
                .or(credentials.client_id.clone())
                .unwrap_or_default();
            audit_oauth(
                app,
                requester,
                "oidc.client_auth_failed",
                Outcome::Failure,
                &presented,
                &e.to_string(),
            )
            .await;
            let mut response =
                oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &e.to_string());
            if credentials.basic.is_some() {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"nhsmal\""),
                );
            }
            Err(response)
        }
    }
}

async fn token(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let client = match authenticated_client(&app, &requester, &headers, &form).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let keys = app.signing_keys.clone();
    let iss = issuer(&app);
    let issuer = Issuer {
        url: &iss,
        keys: &keys,
        secrets: &app.secrets,
    };
    let now = app.now();
    let result = match form.grant_type.as_str() {
        "authorization_code" => {
            flows::exchange_code(
                &app.store,
                &issuer,
                &client,
                &form.code,
                &form.redirect_uri,
                form.code_verifier.as_deref(),
                now,
            )
            .await
        }
        "refresh_token" => {
            flows::refresh(&app.store, &issuer, &client, &form.refresh_token, now).await
        }
        DEVICE_CODE_GRANT => {
            device_grant::poll(&app.store, &issuer, &client, &form.device_code, now).await
        }
        "" => Err(TokenError::InvalidRequest("grant_type is required")),
        _ => Err(TokenError::UnsupportedGrantType),
    };
    let grant = match form.grant_type.as_str() {
        "refresh_token" => "refresh_token",
        DEVICE_CODE_GRANT => "device_code",
        _ => "authorization_code",
    };
    metrics::counter!("nhsmal_oidc_token_requests_total", "grant" => grant, "outcome" => if result.is_ok() { "success" } else { "failure" }).increment(1);
    match result {
        Ok(tokens) => {
            let mut response = axum::Json(tokens).into_response();
            no_store(&mut response);
            response
        }
        Err(e @ (TokenError::Storage(_) | TokenError::Internal(_))) => {
            tracing::error!(error = %e, "token request failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again later",
            )
        }
        // A device app waiting for its person: the normal course of polling, not an event.
        Err(e @ (TokenError::AuthorizationPending | TokenError::SlowDown)) => {
            oauth_error(StatusCode::BAD_REQUEST, e.code(), &e.to_string())
        }
        Err(e) => {
            // A reused code or refresh token revoked a grant: the security event to look at.
            audit_oauth(
                &app,
                &requester,
                "oidc.token_refused",
                Outcome::Failure,
                &client.id,
                &format!("{}: {}", form.grant_type, e),
            )
            .await;
            oauth_error(StatusCode::BAD_REQUEST, e.code(), &e.to_string())
        }
    }
}

/// RFC 8628 §3.1–3.2: a native app asks for a device code and a user code.
async fn device_authorization(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let client = match authenticated_client(&app, &requester, &headers, &form).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    let place = requester
        .location
        .as_ref()
        .map_or_else(|| "an unknown place".to_string(), |l| l.place.clone());
    let from = format!("{place} (IP address {})", requester.ip);
    let verification_uri = format!("{}{}", issuer(&app), super::device::DEVICE_PAGE);
    match device_grant::start(
        &app.store,
        &client,
        &form.scope,
        (&requester.ip, &from),
        &verification_uri,
        app.now(),
    )
    .await
    {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            no_store(&mut response);
            response
        }
        Err(DeviceError::Storage(e)) => {
            tracing::error!(error = %e, "device authorization failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again later",
            )
        }
        Err(e @ DeviceError::NotNative) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &e.to_string(),
        ),
        Err(e @ DeviceError::NoOpenId) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e.to_string())
        }
        Err(e @ DeviceError::TooMany) => {
            audit_oauth(
                &app,
                &requester,
                "oidc.device_codes_limited",
                Outcome::Failure,
                &client.id,
                &e.to_string(),
            )
            .await;
            oauth_error(StatusCode::TOO_MANY_REQUESTS, "slow_down", &e.to_string())
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

async fn userinfo(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let unauthorised = |error: &str| {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        let value = format!("Bearer realm=\"nhsmal\", error=\"{error}\"");
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        response
    };
    let Some(token) = bearer(&headers) else {
        return unauthorised("invalid_request");
    };
    match flows::live_access_token(&app.store, &app.secrets, token, app.now()).await {
        Ok(Some((grant, account))) => {
            let mut claims = json!({ "sub": account.id });
            flows::add_profile_claims(&mut claims, &grant.scope, &account);
            let mut response = axum::Json(claims).into_response();
            no_store(&mut response);
            response
        }
        Ok(None) => unauthorised("invalid_token"),
        Err(e) => {
            tracing::error!(error = %e, "userinfo failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn revoke(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let client = match authenticated_client(&app, &requester, &headers, &form).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    if form.token.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    }
    match flows::revoke(&app.store, &app.secrets, &client, &form.token, app.now()).await {
        Ok(()) => {
            audit_oauth(
                &app,
                &requester,
                "oidc.token_revoked",
                Outcome::Success,
                &client.id,
                "revocation request",
            )
            .await;
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "revocation failed");
            oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later",
            )
        }
    }
}

async fn introspect(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let client = match authenticated_client(&app, &requester, &headers, &form).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    // Resource servers are confidential clients; a public client cannot prove who asks.
    if client.kind == ClientKind::Public {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "public clients cannot introspect",
        );
    }
    match flows::introspect(
        &app.store,
        &app.secrets,
        &issuer(&app),
        &form.token,
        app.now(),
    )
    .await
    {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "introspection failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "try again later",
            )
        }
    }
}

// ---- RP-initiated logout ------------------------------------------------------------------
