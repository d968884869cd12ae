//! The OpenID Provider's pages: authorization (with the portal's sign-in, second factor,
//! policy and consent) and RP-initiated logout. Errors are redirects to a registered URI;
//! anything that cannot be trusted with a redirect is an error page. The endpoints apps call
//! directly are in `tokens`.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::tokens::issuer;
use crate::web::http::extract::{AnySession, CsrfForm, removal_of_session_cookie};
use crate::web::http::pages::{Chrome, MessagePage, render};
use crate::web::oidc::pages::ConsentPage;
use crate::web::sign_in::flow::Flow;
use crate::web::{AppError, AppState};
use domain::StorageError;
use domain::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use domain::monitoring;
use domain::oidc::clients::{Client, ClientRecords};
use domain::oidc::flows::{
    self, Acr, Authentication, AuthorizationRequest, GrantRecords, RequestError, ValidRequest,
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

pub(crate) async fn find_client(app: &AppState, id: &str) -> Result<Option<Client>, StorageError> {
    Ok(app.store.client_with_secret(id).await?.map(|(c, _)| c))
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let page = MessagePage {
        help: Some(("/help".into(), "Get help with the NHSmal Portal".into())),
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
    if let Some(needed) = valid.acr
        && Acr::of_session(&session.record.auth_methods) < needed
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
            // The app's registration demands the level: the person can do nothing here but
            // add a method that reaches it, so the page says which and where.
            if valid.acr_required_by_client {
                return Ok(method_needed(&app, &session, &client, needed));
            }
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
        return Ok(Redirect::to(crate::web::sign_in::second_step::VERIFY).into_response());
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

/// "{app} needs a stronger sign-in": which method to add, and where.
fn method_needed(
    app: &AppState,
    session: &SignedInSession,
    client: &Client,
    needed: Acr,
) -> Response {
    let (what, how) = match needed {
        Acr::PhishingResistant => (
            "a passkey or security key",
            "Add one in Self-Service: choose \u{201c}Self-enroll for MFA\u{201d}, then \u{201c}Passkey\u{201d} or \u{201c}FIDO2 token\u{201d}.",
        ),
        _ => (
            "multi-factor authentication",
            "Set up a method in Self-Service: choose \u{201c}Self-enroll for MFA\u{201d}.",
        ),
    };
    let page = crate::web::http::pages::MessagePage {
        chrome: Chrome::signed_in(app, session),
        heading: format!("{} needs a sign-in with {what}", client.name),
        paragraphs: vec![
            format!(
                "{} only lets people in who signed in with {what}, and you have not set one up yet.",
                client.name
            ),
            how.to_string(),
        ],
        link: Some((
            "/profile/self-service/enrol".into(),
            "Set up a method now".into(),
        )),
        help: Some(match needed {
            Acr::PhishingResistant => ("/help/passkeys".into(), "How to create a passkey".into()),
            _ => (
                "/help/choosing-a-method".into(),
                "Which method to choose".into(),
            ),
        }),
    };
    crate::web::http::pages::render(StatusCode::FORBIDDEN, &page)
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
    let scopes = super::pages::scope_words(&valid.scope);
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
    crate::web::http::extract::SignedIn(session): crate::web::http::extract::SignedIn,
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
            help: None,
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
