//! The API of the NHSmal Authenticator under `/api/v1/push`. The app authenticates with its
//! device token (`Authorization: Bearer DEVICE_ID.SECRET`), never a cookie, so these routes
//! sit outside the browser's CSRF checks; what decides anything is the answer's signature by
//! the device key. Errors are JSON: `{"error": code, "message": text}`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;

use crate::web::AppState;
use crate::web::http::extract::FromClient;
use domain::mfa::MfaError;
use domain::mfa::pairing::{self, DeviceOffer};
use domain::mfa::push::{self, Answered, Device, PushAnswer, PushError};

/// A stream ends after this long; the app reconnects (and so finds a live node after a
/// restart or a deploy).
const STREAM_LIFETIME: Duration = Duration::from_secs(300);
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/push/pair", post(pair))
        .route("/api/v1/push/requests", get(requests))
        .route("/api/v1/push/events", get(events))
        .route("/api/v1/push/requests/{id}/answer", post(answer))
}

/// A push API error as JSON: the domain's, or a body that was not the JSON asked for.
enum DeviceError {
    Push(PushError),
    BadJson(String),
}

impl From<PushError> for DeviceError {
    fn from(e: PushError) -> Self {
        DeviceError::Push(e)
    }
}

impl From<domain::StorageError> for DeviceError {
    fn from(e: domain::StorageError) -> Self {
        DeviceError::Push(PushError::Storage(e))
    }
}

impl IntoResponse for DeviceError {
    fn into_response(self) -> Response {
        let error = match self {
            DeviceError::Push(e) => e,
            DeviceError::BadJson(message) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "bad_request", "message": message})),
                )
                    .into_response();
            }
        };
        let message = error.to_string();
        let (status, code) = match &error {
            PushError::UnknownDevice => (StatusCode::UNAUTHORIZED, "unknown_device"),
            PushError::BadSignature => (StatusCode::FORBIDDEN, "bad_signature"),
            PushError::TooLate => (StatusCode::GONE, "request_ended"),
            PushError::BadAnswer(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad_request"),
            PushError::BadActivationCode => (StatusCode::BAD_REQUEST, "invalid_activation_code"),
            PushError::Mfa(MfaError::TooManyDevices) => (StatusCode::CONFLICT, "too_many_devices"),
            PushError::Mfa(MfaError::BadName) => (StatusCode::UNPROCESSABLE_ENTITY, "bad_name"),
            PushError::Mfa(_) | PushError::Storage(_) => {
                // The layer logs 5xx; the app is told only that it should try again.
                tracing::error!(error = %error, "push API failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"error": "unavailable", "message": "Try again in a moment"})),
                )
                    .into_response();
            }
        };
        let mut response =
            (status, Json(json!({"error": code, "message": message}))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("header"));
        }
        response
    }
}

/// A JSON body the app sent, or a 400 that says what was wrong with it (never a 5xx).
fn body<T: serde::de::DeserializeOwned>(
    parsed: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, DeviceError> {
    parsed
        .map(|Json(v)| v)
        .map_err(|e| DeviceError::BadJson(e.body_text()))
}

async fn device(app: &AppState, headers: &HeaderMap) -> Result<Device, DeviceError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(PushError::UnknownDevice)?;
    Ok(push::device_of(&app.store, bearer.trim()).await?)
}

#[derive(Deserialize)]
struct PairBody {
    activation_code: String,
    alg: String,
    public_key: String,
    #[serde(default)]
    name: String,
}

/// The app presents an activation code and its public key; it receives its device token, the
/// account, a TOTP key for codes, and the test request whose number the set-up page shows.
async fn pair(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    parsed: Result<Json<PairBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, DeviceError> {
    let body = body(parsed)?;
    if body.activation_code.len() > 40 {
        return Err(PushError::BadActivationCode.into());
    }
    let ctx = app.mfa(&requester);
    let offer = DeviceOffer {
        alg: body.alg,
        public_key: body.public_key,
        name: body.name,
    };
    let claimed = pairing::claim(&app.store, &ctx, &body.activation_code, &offer).await?;
    app.push_bell.ring_for([claimed.device_id.as_str()]);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "device_id": claimed.device_id,
            "token": claimed.token,
            "account": claimed.email,
            "issuer": domain::mfa::totp::ISSUER,
            "totp_secret": claimed.totp.base32(),
            "request": claimed.request,
        })),
    )
        .into_response())
}

/// Every pending request of this device, the silent ones (risky sign-ins) included: what the
/// app shows when it is opened.
async fn requests(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DeviceError> {
    let device = device(&app, &headers).await?;
    let pending = push::pending_for(&app.store, &device, app.now()).await?;
    Ok(Json(json!({ "requests": pending })).into_response())
}

/// Server-sent events: each pending request that is not silent, once per connection, as it
/// arrives (`event: request`). Ends after `STREAM_LIFETIME`, when the device is removed, or
/// when the node stops.
async fn events(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, DeviceError> {
    let device = device(&app, &headers).await?;
    let bell = app.push_bell.subscribe();
    let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
    let state = EventStream {
        app,
        bearer: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .trim()
            .to_string(),
        device,
        bell,
        deadline,
        sent: Vec::new(),
        queue: Vec::new(),
        first: true,
        seen: 0,
    };
    let stream = futures_util::stream::unfold(state, next_event);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// What one event stream remembers between events.
struct EventStream {
    app: AppState,
    bearer: String,
    device: Device,
    bell: tokio::sync::watch::Receiver<super::bell::Chime>,
    deadline: tokio::time::Instant,
    /// Requests already sent on this connection.
    sent: Vec<String>,
    /// Found and not yet sent.
    queue: Vec<push::PushRequest>,
    first: bool,
    /// The bell's generation when this stream last looked.
    seen: u64,
}

async fn next_event(mut s: EventStream) -> Option<(Result<Event, Infallible>, EventStream)> {
    loop {
        if let Some(request) = s.queue.pop() {
            s.sent.push(request.id.clone());
            let event = Event::default()
                .event("request")
                .id(request.id.clone())
                .json_data(&request)
                .unwrap_or_else(|_| Event::default().comment("unreadable request"));
            return Some((Ok(event), s));
        }
        if !s.first {
            // Wait for a ring that concerns this device, the deadline, or the node stopping.
            loop {
                tokio::select! {
                    changed = s.bell.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                    () = tokio::time::sleep_until(s.deadline) => return None,
                }
                let chime = s.bell.borrow_and_update().clone();
                if chime.closing {
                    return None;
                }
                let concerns = chime.concerns(&s.device.id, s.seen);
                s.seen = chime.generation;
                if concerns {
                    break;
                }
            }
        } else {
            s.seen = s.bell.borrow_and_update().generation;
        }
        s.first = false;
        if s.bell.borrow().closing {
            return None;
        }
        // A removed device's stream ends at the next look.
        let device = match push::device_of(&s.app.store, &s.bearer).await {
            Ok(device) => device,
            Err(PushError::UnknownDevice) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "push stream could not read its device");
                s.device.clone()
            }
        };
        match push::pending_for(&s.app.store, &device, s.app.now()).await {
            Ok(pending) => {
                let mut new: Vec<_> = pending
                    .into_iter()
                    .filter(|r| !r.silent && !s.sent.contains(&r.id))
                    .collect();
                // Oldest first: the queue pops from the end.
                new.reverse();
                s.queue = new;
            }
            Err(e) => tracing::warn!(error = %e, "push stream could not read its requests"),
        }
        s.device = device;
    }
}

/// The app's answer, signed by its device key.
async fn answer(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    headers: HeaderMap,
    Path(id): Path<String>,
    parsed: Result<Json<PushAnswer>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, DeviceError> {
    let device = device(&app, &headers).await?;
    let body = body(parsed)?;
    if id.len() > 64 {
        return Err(PushError::TooLate.into());
    }
    let ctx = app.mfa(&requester);
    let answered = push::answer(&app.store, &ctx, &device, &id, &body).await?;
    let (result, message) = match answered {
        Answered::Approved => ("approved", "Approved. You can continue in your browser."),
        Answered::WrongNumber => (
            "wrong_number",
            "That was not the number on the sign-in page, so the request has been refused.",
        ),
        Answered::Denied => ("denied", "Denied. Nobody has been signed in."),
        Answered::Reported => (
            "reported",
            "Denied and reported. We have blocked the sign-in and will email you.",
        ),
        Answered::Paired => ("paired", "This device is now set up for NHSmal."),
    };
    Ok(Json(json!({"result": result, "message": message})).into_response())
}

/// The OpenAPI description of these endpoints (merged into `/api/openapi.json`): the
/// companion app's side of the API, authenticated by the device's bearer token.
pub fn openapi_paths() -> serde_json::Value {
    let error = json!({
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    });
    let device = json!([{"device": []}]);
    let request = json!({"type": "object", "required": ["id", "nonce", "expires_at", "action", "app", "location", "ip", "browser", "at"],
        "properties": {
            "id": {"type": "string"}, "nonce": {"type": "string"},
            "expires_at": {"type": "integer", "description": "Unix time"},
            "silent": {"type": "boolean", "description": "From a risky sign-in: not announced, shown when the person opens the app"},
            "action": {"type": "string", "examples": ["Signing in", "Resetting your password", "Adding this device"]},
            "app": {"type": "string"}, "location": {"type": "string"}, "ip": {"type": "string"},
            "browser": {"type": "string"}, "at": {"type": "integer", "description": "Unix time"}}});
    json!({
        "/api/v1/push/pair": {"post": {
            "summary": "Pair a device with an activation code (single use, 10 minutes); the answer carries the device's token (shown once), the account, its TOTP key and the first test request",
            "security": [],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["activation_code", "alg", "public_key", "name"],
                "properties": {
                    "activation_code": {"type": "string"},
                    "alg": {"type": "string", "enum": ["ES256"]},
                    "public_key": {"type": "string", "description": "P-256 public key, SEC1, base64url"},
                    "name": {"type": "string", "maxLength": 100}}}}}},
            "responses": {"201": {"description": "Paired, pending the test request's answer"},
                "400": error.clone(), "409": error.clone(), "422": error.clone()}}},
        "/api/v1/push/requests": {"get": {
            "summary": "The device's pending requests (silent ones included)",
            "security": device.clone(),
            "responses": {"200": {"description": "Pending requests", "content": {"application/json": {"schema": {"type": "array", "items": request}}}},
                "401": error.clone()}}},
        "/api/v1/push/events": {"get": {
            "summary": "Server-sent events: each new request of this device as `event: request` with its JSON; the stream ends after 5 minutes or when the node stops (reconnect)",
            "security": device.clone(),
            "responses": {"200": {"description": "text/event-stream"}, "401": error.clone()}}},
        "/api/v1/push/requests/{id}/answer": {"post": {
            "summary": "Approve, deny or report a request, signed by the device key over `nhsmal-push-v1\\n{id}\\n{number}\\n{nonce}\\n{decision}`",
            "security": device,
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["decision", "signature"],
                "properties": {
                    "decision": {"type": "string", "enum": ["approve", "deny", "report"]},
                    "number": {"type": "string", "pattern": "^[0-9]{2}$", "description": "The number the browser shows (approve)"},
                    "signature": {"type": "string", "description": "ECDSA P-256, base64url"}}}}}},
            "responses": {"200": {"description": "The answer was taken"}, "401": error.clone(),
                "403": error.clone(), "410": error.clone(), "422": error}}}
    })
}
