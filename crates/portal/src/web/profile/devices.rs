//! Forgetting remembered devices from Self-Service.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, SignedIn};
use crate::web::{AppError, AppState};
use domain::devices;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/profile/self-service/devices/{id}/forget",
            post(forget_one),
        )
        .route("/profile/self-service/devices/forget-all", post(forget_all))
}

#[derive(Deserialize)]
struct Empty {}

async fn forget_one(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    // Only this person's devices: another person's id forgets nothing.
    devices::forget(
        &app.store,
        &signed_in.0.account,
        Some(&id),
        &requester,
        app.now(),
    )
    .await?;
    Ok(Redirect::to("/profile/self-service?forgotten=1").into_response())
}

async fn forget_all(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    devices::forget(
        &app.store,
        &signed_in.0.account,
        None,
        &requester,
        app.now(),
    )
    .await?;
    Ok(Redirect::to("/profile/self-service?forgotten=1").into_response())
}
