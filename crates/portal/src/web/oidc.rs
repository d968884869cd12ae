//! The OpenID Provider's endpoints: discovery, authorization (with the portal's sign-in,
//! second factor, policy and consent), token, userinfo, revocation (RFC 7009), introspection
//! (RFC 7662) and RP-initiated logout. OAuth errors are JSON (RFC 6749 §5.2) or redirects to a
//! registered URI; anything that cannot be trusted with a redirect is an error page.

use crate::web::extract::FromClient;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::web::extract::{AnySession, CsrfForm, removal_of_session_cookie};
use crate::web::flow::Flow;
use crate::web::pages::{Chrome, ConsentPage, MessagePage, render};
use crate::web::{AppError, AppState};
use domain::StorageError;
use domain::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use domain::monitoring;
use domain::oidc::clients::{
    self, Client, ClientAuthError, ClientCredentials, ClientKind, ClientRecords,
};
use domain::oidc::flows::{
    self, Acr, Authentication, AuthorizationRequest, GrantRecords, Issuer, RequestError,
    TokenError, ValidRequest,
};
use domain::policy::{self, Access};
use domain::sessions::{self, SessionStage, SignedInSession};

pub const AUTHORIZE: &str = "/oauth2/authorize";
const CONSENT: &str = "/oauth2/consent";

/// Endpoints browsers reach as pages (behind the portal's CSRF and session layers).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(AUTHORIZE, get(authorize).post(authorize_form))
        .route(CONSENT, post(consent))
        .route("/oauth2/logout", get(logout))
}

/// Endpoints apps and resource servers call directly: no cookies, no CSRF (their callers
/// authenticate themselves).
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
}

async fn find_client(app: &AppState, id: &str) -> Result<Option<Client>, StorageError> {
    Ok(app.store.client_with_secret(id).await?.map(|(c, _)| c))
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
        "scopes_supported": flows::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
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

fn error_page(status: StatusCode, message: &str) -> Response {
    let page = MessagePage {
        chrome: Chrome::anonymous(),
        heading: "We cannot sign you in to this app".into(),
        paragraphs: vec![
            message.to_string(),
            "Go back to the app and try again. If it keeps happening, tell the app's support team."
                .into(),
        ],
        link: None,
    };
    render(status, &page)
}

/// `redirect_uri` with the response's parameters (and `iss`, RFC 9207) added to its query.
fn redirect_with(
    app: &AppState,
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The app's return address is not valid.",
            );
        }
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &issuer(app));
    }
    Redirect::to(url.as_str()).into_response()
}

fn error_redirect(
    app: &AppState,
    req: &AuthorizationRequest,
    error: &str,
    description: &str,
) -> Response {
    redirect_with(
        app,
        &req.redirect_uri,
        &[("error", error), ("error_description", description)],
        req.state.as_deref(),
    )
}

/// This authorization request again, as a local path (where sign-in and step-up come back to).
fn here(req: &AuthorizationRequest) -> String {
    let query = serde_urlencoded::to_string(req).unwrap_or_default();
    format!("{AUTHORIZE}?{query}")
}

#[derive(Deserialize)]
struct FormRequest {
    #[serde(flatten)]
    req: AuthorizationRequest,
}

/// The request's client and the request checked against it, or the answer that refuses it
/// (an error page, or an error sent back to the registered redirect URI).
async fn checked(
    app: &AppState,
    req: &AuthorizationRequest,
) -> Result<Result<(Client, ValidRequest), Response>, AppError> {
    let client = find_client(app, &req.client_id).await?;
    let checked = flows::check_request(client.as_ref(), req);
    if matches!(checked, Ok(_) | Err(RequestError::Redirect { .. })) {
        // The app's registration vouched for this URI: the pages of its sign-in may lead there.
        app.form_targets.learn(&req.redirect_uri);
    }
    Ok(match (checked, client) {
        (Ok(valid), Some(client)) => Ok((client, valid)),
        (Err(RequestError::Redirect { error, description }), _) => {
            Err(error_redirect(app, req, error, description))
        }
        (Err(RequestError::Page(message)), _) => Err(error_page(StatusCode::BAD_REQUEST, message)),
        (Ok(_), None) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "The app is not registered.",
        )),
    })
}

async fn authorize_form(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    Form(form): Form<FormRequest>,
) -> Result<Response, AppError> {
    authorize(State(app), FromClient(requester), session, Query(form.req)).await
}

async fn authorize(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    Query(mut req): Query<AuthorizationRequest>,
) -> Result<Response, AppError> {
    let (client, valid) = match checked(&app, &req).await? {
        Ok(checked) => checked,
        Err(refusal) => return Ok(refusal),
    };
    let now = app.now();
    let session = session
        .map(|s| s.0)
        .filter(|s| s.record.stage == SessionStage::SignedIn);
    let fresh_enough =
        |s: &SignedInSession| req.login_after.is_some_and(|t| s.record.created_at >= t);
    // prompt=login and max_age: the person authenticates again (OI-7).
    let must_log_in = match &session {
        None => true,
        Some(s) => {
            !fresh_enough(s)
                && (valid.prompt_login
                    || valid.max_age.is_some_and(|m| now - s.record.created_at > m))
        }
    };
    if must_log_in {
        if valid.prompt_none {
            return Ok(error_redirect(
                &app,
                &req,
                "login_required",
                "the person is not signed in",
            ));
        }
        let mut jar = axum_extra::extract::cookie::CookieJar::new();
        if let Some(s) = &session {
            sessions::end_session(&app.store, &s.token).await?;
            jar = jar.add(removal_of_session_cookie(&app));
        }
        if session.is_some() {
            req.login_after = Some(now);
        }
        req.prompt = req
            .prompt
            .as_deref()
            .map(|p| p.replace("login", "").trim().to_string())
            .filter(|p| !p.is_empty());
        let target = format!(
            "/sign-in?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &here(&req))
                .finish()
        );
        return Ok((jar, Redirect::to(&target)).into_response());
    }
    let Some(session) = session else {
        return Ok(error_page(StatusCode::BAD_REQUEST, "Sign in first."));
    };
    // The MFA policy holds for every app: enrol or be reminded first, then come back.
    match policy::access(
        &app.store,
        &session.account,
        &session.record.auth_methods,
        now,
    )
    .await?
    {
        Access::Full => {}
        _ if valid.prompt_none => {
            return Ok(error_redirect(
                &app,
                &req,
                "interaction_required",
                "the person must set up multi-factor authentication first",
            ));
        }
        Access::EnrolOnly => {
            let mut flow = Flow::of(&session);
            flow.next = Some(here(&req));
            flow.save(&app, &session.token.storage_key()).await?;
            return Err(AppError::EnrolmentRequired);
        }
        Access::Remind => {
            return Err(AppError::ReminderDue {
                next: Some(here(&req)),
            });
        }
    }
    // acr_values: a level not reached yet is a step-up (a security key for phishing-resistant).
    let amr = flows::amr_of(&session.record.auth_methods);
    if let Some(needed) = valid.acr
        && Acr::of(&amr) < needed
    {
        if valid.prompt_none {
            return Ok(error_redirect(
                &app,
                &req,
                "interaction_required",
                "a stronger sign-in is needed",
            ));
        }
        let methods = domain::mfa::methods_of(&app.store, &session.account.id).await?;
        let kinds_ok = |k: domain::mfa::MethodKind| match needed {
            Acr::PhishingResistant => k == domain::mfa::MethodKind::Fido2,
            _ => true,
        };
        if !methods.iter().any(|m| kinds_ok(m.kind)) {
            return Ok(error_redirect(
                &app,
                &req,
                "unmet_authentication_requirements",
                "the person has no method that reaches the requested level",
            ));
        }
        let mut flow = Flow::of(&session);
        flow.next = Some(here(&req));
        flow.method = None;
        flow.security_key_only = needed == Acr::PhishingResistant;
        flow.save(&app, &session.token.storage_key()).await?;
        return Ok(Redirect::to(crate::web::second_step::VERIFY).into_response());
    }
    // Consent: first-party apps skip it; others once per scope set, or when asked again.
    if !client.first_party {
        let consented = app
            .store
            .consented_scope(&session.account.id, &client.id)
            .await?;
        let covered = consented.as_deref().is_some_and(|c| {
            let have: Vec<&str> = c.split_whitespace().collect();
            valid.scope.split_whitespace().all(|s| have.contains(&s))
        });
        if !covered || valid.prompt_consent {
            if valid.prompt_none {
                return Ok(error_redirect(
                    &app,
                    &req,
                    "consent_required",
                    "the person has not agreed to share this with the app",
                ));
            }
            let mut flow = Flow::of(&session);
            flow.next = Some(here(&req));
            flow.save(&app, &session.token.storage_key()).await?;
            return Ok(consent_page(&app, &session, &client, &valid));
        }
    }
    finish(&app, &requester, &session, &client, &req, &valid).await
}

/// Issues the code and sends the person back to the app.
async fn finish(
    app: &AppState,
    requester: &Requester,
    session: &SignedInSession,
    client: &Client,
    req: &AuthorizationRequest,
    valid: &ValidRequest,
) -> Result<Response, AppError> {
    let now = app.now();
    let who = Authentication {
        account: &session.account,
        auth_methods: &session.record.auth_methods,
        auth_time: session.record.created_at,
    };
    let code = flows::issue_code(&app.store, client, req, valid, &who, now).await?;
    let monitor = app.monitor(requester);
    monitoring::single_sign_on(&app.store, &monitor, &session.account, &client.name).await?;
    Ok(redirect_with(
        app,
        &req.redirect_uri,
        &[("code", &code)],
        req.state.as_deref(),
    ))
}

fn consent_page(
    app: &AppState,
    session: &SignedInSession,
    client: &Client,
    valid: &ValidRequest,
) -> Response {
    let scopes = valid
        .scope
        .split_whitespace()
        .filter_map(|s| match s {
            "openid" => Some("Know who you are (your NHSmal account)"),
            "email" => Some("Your email address"),
            "profile" => Some("Your name and organisation"),
            "offline_access" => Some("Stay signed in to the app while you are away"),
            _ => None,
        })
        .collect();
    let page = ConsentPage {
        chrome: Chrome::signed_in(app, session),
        app_name: client.name.clone(),
        scopes,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(default)]
    decision: String,
}

async fn consent(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    crate::web::extract::SignedIn(session): crate::web::extract::SignedIn,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> Result<Response, AppError> {
    let flow = Flow::of(&session);
    let Some(next) = flow.next.filter(|n| n.starts_with(AUTHORIZE)) else {
        return Ok(Redirect::to("/profile").into_response());
    };
    let query = next.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let req: AuthorizationRequest = serde_urlencoded::from_str(query).unwrap_or_default();
    let (client, valid) = match checked(&app, &req).await? {
        Ok(checked) => checked,
        Err(refusal) => return Ok(refusal),
    };
    let mut flow = Flow::of(&session);
    flow.next = None;
    flow.save(&app, &session.token.storage_key()).await?;
    if form.decision != "allow" {
        return Ok(error_redirect(
            &app,
            &req,
            "access_denied",
            "the person did not agree",
        ));
    }
    app.store
        .save_consent(&session.account.id, &client.id, &valid.scope, app.now())
        .await?;
    app.store
        .append_audit(
            &AuditEvent::new(
                "oidc.consent_given",
                Outcome::Success,
                &requester,
                app.now(),
            )
            .account(&session.account.id)
            .subject(&client.id)
            .reason(&valid.scope),
        )
        .await?;
    finish(&app, &requester, &session, &client, &req, &valid).await
}

// ---- Token, userinfo, revocation, introspection -------------------------------------------

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
        .subject(&sessions::truncate(client_id, 100))
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
        "" => Err(TokenError::InvalidRequest("grant_type is required")),
        _ => Err(TokenError::UnsupportedGrantType),
    };
    metrics::counter!("nhsmal_oidc_token_requests_total", "grant" => if form.grant_type == "refresh_token" { "refresh_token" } else { "authorization_code" }, "outcome" => if result.is_ok() { "success" } else { "failure" }).increment(1);
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

#[derive(Deserialize, Default)]
struct LogoutQuery {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

/// OpenID Connect RP-Initiated Logout 1.0: with a valid `id_token_hint` (our signature; an
/// expired one is fine) the portal session ends and the person returns to a registered
/// post-logout URI; without one, the person is asked on our own page.
async fn logout(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    Query(q): Query<LogoutQuery>,
) -> Result<Response, AppError> {
    let hint = q
        .id_token_hint
        .as_deref()
        .and_then(|t| app.signing_keys.verify(t).ok())
        .filter(|claims| claims["iss"] == issuer(&app));
    let client_id = hint
        .as_ref()
        .and_then(|c| match &c["aud"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        })
        .or(q.client_id.clone());
    if q.client_id.is_some() && client_id != q.client_id {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "The sign-out request does not match its app.",
        ));
    }
    let client = match &client_id {
        Some(id) => find_client(&app, id).await?,
        None => None,
    };
    let return_to = match (&q.post_logout_redirect_uri, &client) {
        (Some(uri), Some(c)) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => {
            app.form_targets.learn(uri);
            Some(uri.clone())
        }
        (Some(_), _) => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "The app asked to send you to an address after signing out that is not registered with NHSmal.",
            ));
        }
        (None, _) => None,
    };
    let session = session.map(|s| s.0);
    let subject_matches = match (&hint, &session) {
        (Some(claims), Some(s)) => claims["sub"] == s.account.id.as_str(),
        (Some(_), None) => true,
        _ => false,
    };
    if !subject_matches {
        // No proof the app speaks for this person: ask them.
        let page = MessagePage {
            chrome: match &session {
                Some(s) => Chrome::signed_in(&app, s),
                None => Chrome::anonymous(),
            },
            heading: "Sign out of NHSmal?".into(),
            paragraphs: vec![
                "An app asked to sign you out of NHSmal. Use “Sign out” in the Profile menu if you want to.".into(),
            ],
            link: Some(("/profile".into(), "Go to My Profile".into())),
        };
        return Ok(render(StatusCode::OK, &page));
    }
    let mut jar = axum_extra::extract::cookie::CookieJar::new();
    if let Some(s) = &session {
        sessions::end_session(&app.store, &s.token).await?;
        app.store
            .append_audit(
                &AuditEvent::new(
                    "session.signed_out",
                    Outcome::Success,
                    &requester,
                    app.now(),
                )
                .account(&s.account.id)
                .reason(&format!("by app {}", client_id.as_deref().unwrap_or("-"))),
            )
            .await?;
        jar = jar.add(removal_of_session_cookie(&app));
    }
    let target = match return_to {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(|e| AppError::Internal(e.to_string()))?;
            if let Some(state) = &q.state {
                url.query_pairs_mut().append_pair("state", state);
            }
            url.to_string()
        }
        None => "/sign-in?signed_out=1".to_string(),
    };
    Ok((jar, Redirect::to(&target)).into_response())
}
