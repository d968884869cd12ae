//! The JSON API under `/api/v1`, described by `/api/openapi.json`. It uses the browser's
//! session like the pages do, and the same extractors, so the MFA policy and the admin
//! authorization rules are the same ones. Errors are JSON: `{"error": code, "message": text}`.
//!
//! State-changing calls take a JSON body: a browser sends that cross-site only after a CORS
//! preflight, which this API never grants, and SameSite=Lax keeps the session cookie off
//! cross-site POSTs; tower-http's Origin / Sec-Fetch-Site check applies as for forms.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::web::admin::AdminSession;
use crate::web::admin::users::{SearchQuery, managed_person, status_text, user_search};
use crate::web::http::extract::SignedIn;
use crate::web::{AppError, AppState};
use domain::admin::{self, AdminError, AdminRecords};
use domain::mfa::{self, Method};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/admin/users", get(users))
        .route("/api/v1/admin/users/{id}", get(user))
        .route("/api/v1/admin/users/{id}/reset-mfa", post(reset_mfa))
}

/// An `AppError` as the API shows it.
pub struct ApiError(AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<domain::StorageError> for ApiError {
    fn from(e: domain::StorageError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let fault = self.0.fault();
        let (status, code, message): (StatusCode, &str, String) = match self.0 {
            AppError::SignInRequired { .. } | AppError::SecondFactorRequired => (
                StatusCode::UNAUTHORIZED,
                "sign_in_required",
                "Sign in first".into(),
            ),
            AppError::EnrolmentRequired => (
                StatusCode::FORBIDDEN,
                "enrolment_required",
                "Set up multi-factor authentication first".into(),
            ),
            AppError::ReminderDue { .. } => (
                StatusCode::FORBIDDEN,
                "mfa_reminder_due",
                "Multi-factor authentication is due: set it up, or put it off, in the portal"
                    .into(),
            ),
            AppError::Redirect(_) => (
                StatusCode::FORBIDDEN,
                "fresh_second_factor_required",
                "Prove a second factor again in the portal, then retry".into(),
            ),
            AppError::Forbidden(m) | AppError::Refused { message: m, .. } => {
                (StatusCode::FORBIDDEN, "forbidden", m)
            }
            AppError::CrossSiteRequest => (
                StatusCode::FORBIDDEN,
                "cross_site_request",
                "Cross-site request refused".into(),
            ),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found".into()),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            AppError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request is too large".into(),
            ),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send JSON or a form as documented".into(),
            ),
            AppError::TooManyRequests { message, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
            }
            AppError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Try again in a few minutes".into(),
            ),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Try again later".into(),
            ),
        };
        let mut response =
            (status, Json(json!({ "error": code, "message": message }))).into_response();
        if let Some(fault) = fault {
            response.extensions_mut().insert(fault);
        }
        response
    }
}

fn method_json(m: &Method) -> Value {
    json!({
        "id": m.id,
        "type": m.kind.as_str(),
        "name": m.name,
        "detail": m.masked_detail(),
        "added_at": domain::clock::rfc3339(m.created_at),
        "last_used_at": m.last_used_at.map(domain::clock::rfc3339),
        "default": m.is_default,
    })
}

async fn me(
    State(app): State<AppState>,
    signed_in: Result<SignedIn, AppError>,
) -> Result<Json<Value>, ApiError> {
    let session = signed_in?.0;
    let a = &session.account;
    let methods = mfa::methods_of(&app.store, &a.id).await?;
    Ok(Json(json!({
        "email": a.email,
        "name": a.display_name,
        "organisation": a.org_code,
        "role": a.role.as_str(),
        "methods": methods.iter().map(method_json).collect::<Vec<_>>(),
    })))
}

const PAGE_SIZE: i64 = 50;

async fn users(
    State(app): State<AppState>,
    admin: Result<AdminSession, AppError>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let admin = admin?;
    let page = query.page.unwrap_or(1).clamp(1, 10_000);
    let search = user_search(&app, &admin, &query, page, PAGE_SIZE, "api.user.search").await?;
    let found = app.store.search_accounts(&search).await?;
    Ok(Json(json!({
        "page": page,
        "users": found.iter().map(|s| json!({
            "id": s.account.id,
            "email": s.account.email,
            "name": s.account.display_name,
            "organisation": s.account.org_code,
            "role": s.account.role.as_str(),
            "methods": s.methods,
            "status": status_text(&s.account, s.locked_until),
        })).collect::<Vec<_>>(),
    })))
}

async fn user(
    State(app): State<AppState>,
    admin: Result<AdminSession, AppError>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let admin = admin?;
    let target = managed_person(&app, &admin, &id, "api.user.view").await?;
    let methods = mfa::methods_of(&app.store, &target.id).await?;
    Ok(Json(json!({
        "id": target.id,
        "email": target.email,
        "name": target.display_name,
        "organisation": target.org_code,
        "role": target.role.as_str(),
        "state": target.state.as_str(),
        "methods": methods.iter().map(method_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ResetRequest {
    #[serde(default)]
    reason: String,
}

async fn reset_mfa(
    State(app): State<AppState>,
    admin: Result<AdminSession, AppError>,
    Path(id): Path<String>,
    body: Result<Json<ResetRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let admin = admin?;
    let Json(body) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let target = managed_person(&app, &admin, &id, "api.mfa.reset").await?;
    let action = crate::web::admin::users::action(&app, &admin);
    match admin::reset_mfa(&app.store, &action, &target, &body.reason).await {
        Ok(removed) => Ok(Json(json!({ "removed_methods": removed }))),
        Err(e @ AdminError::BadReason) => Err(AppError::BadRequest(e.to_string()).into()),
        Err(e) => Err(AppError::from(e).into()),
    }
}

/// The OpenAPI 3.1 description of this API.
async fn openapi(State(app): State<AppState>) -> Json<Value> {
    let error = json!({
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    });
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "NHSmal Portal API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The signed-in person's account and administration, and the NHSmal Authenticator's device endpoints (/api/v1/push/…, with the device's bearer token). The first use the portal's session cookie; administration needs a local or national administrator who proved a second factor in the last 15 minutes. A person who must set up MFA first gets 403 enrolment_required."
        },
        "servers": [{"url": app.settings.public_url.as_str().trim_end_matches('/')}],
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "nhsmal_session"},
                "device": {"type": "http", "scheme": "bearer", "description": "An NHSmal Authenticator device's token (DEVICE_ID.SECRET) from pairing"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string", "enum": ["sign_in_required", "enrolment_required", "mfa_reminder_due", "fresh_second_factor_required", "forbidden", "cross_site_request", "not_found", "bad_request", "too_many_requests", "unavailable", "internal_error"]},
                    "message": {"type": "string"}}},
                "Method": {"type": "object", "properties": {
                    "id": {"type": "string"}, "type": {"type": "string", "enum": ["totp", "sms", "voice", "fido2", "push"]},
                    "name": {"type": "string"}, "detail": {"type": "string"},
                    "added_at": {"type": "string", "format": "date-time"},
                    "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                    "default": {"type": "boolean"}}}
            }
        },
        "security": [{"session": []}],
        "paths": {
            "/api/v1/me": {"get": {"summary": "The signed-in person and their methods",
                "responses": {"200": {"description": "The person"}, "401": error.clone(), "403": error.clone()}}},
            "/api/v1/admin/users": {"get": {"summary": "Find accounts the administrator may manage",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Part of a name or email"},
                    {"name": "show", "in": "query", "schema": {"type": "string", "enum": ["enrolled", "not-enrolled", "locked"]}},
                    {"name": "org", "in": "query", "schema": {"type": "string"}, "description": "Organisation code (national administrators; a local administrator's own)"},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}],
                "responses": {"200": {"description": "Up to 50 accounts"}, "401": error.clone(), "403": error.clone()}}},
            "/api/v1/admin/users/{id}": {"get": {"summary": "One account and its methods (never secrets)",
                "parameters": [id_param.clone()],
                "responses": {"200": {"description": "The account"}, "403": error.clone(), "404": error.clone()}}},
            "/api/v1/admin/users/{id}/reset-mfa": {"post": {"summary": "Remove every method (lost phone), with a reason",
                "parameters": [id_param],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "maxLength": 500}}}}}},
                "responses": {"200": {"description": "Reset"}, "400": error.clone(), "403": error.clone(), "404": error}}}
        }
    });
    if let (Some(paths), Value::Object(push)) = (
        doc["paths"].as_object_mut(),
        crate::web::push::device_api::openapi_paths(),
    ) {
        paths.extend(push);
    }
    Json(doc)
}
