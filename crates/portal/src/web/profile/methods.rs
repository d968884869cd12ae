//! Managing methods on Self-Service: make default, rename, remove (a fresh second factor first).

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, SignedIn};
use crate::web::http::pages::{Chrome, FieldError, render};
use crate::web::profile::pages::MethodActionPage;
use crate::web::sign_in::step_up::{ask_for_fresh_factor, needs_fresh_factor};
use crate::web::{AppError, AppState};
use domain::mfa::{self, Method, MfaError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/profile/self-service/methods/{id}/default",
            post(make_default),
        )
        .route(
            "/profile/self-service/methods/{id}/rename",
            get(rename_page).post(rename),
        )
        .route(
            "/profile/self-service/methods/{id}/remove",
            get(remove_page).post(remove),
        )
}

/// The person's own method; another person's id is simply not found.
async fn own_method(
    app: &AppState,
    signed_in: &SignedIn,
    id: &str,
) -> Result<(Vec<Method>, Method), AppError> {
    let methods = mfa::methods_of(&app.store, &signed_in.0.account.id).await?;
    let method = methods
        .iter()
        .find(|m| m.id == id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    Ok((methods, method))
}

fn mfa_error(e: MfaError) -> AppError {
    match e {
        MfaError::NoSuchMethod => AppError::NotFound,
        e @ MfaError::LastMethodRequired => AppError::Refused {
            message: e.to_string(),
            help: "/help/choosing-a-method",
        },
        MfaError::Storage(s) => s.into(),
        other => other.into(),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn make_default(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    own_method(&app, &signed_in, &id).await?;
    mfa::make_default(&app.store, &signed_in.0.account, &id, &app.mfa(&requester))
        .await
        .map_err(mfa_error)?;
    Ok(Redirect::to("/profile/self-service?changed_default=1").into_response())
}

fn action_page(
    app: &AppState,
    signed_in: &SignedIn,
    (method, only_method): (&Method, bool),
    remove: bool,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let page = MethodActionPage {
        chrome: Chrome::signed_in(app, &signed_in.0),
        remove,
        only_method,
        method_id: method.id.clone(),
        kind: method.label().to_string(),
        name: method.name.clone(),
        errors: FieldError::on("name", &error),
        name_error: error,
    };
    render(status, &page)
}

async fn rename_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (_, method) = own_method(&app, &signed_in, &id).await?;
    Ok(action_page(
        &app,
        &signed_in,
        (&method, false),
        false,
        StatusCode::OK,
        None,
    ))
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    name: String,
}

async fn rename(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RenameForm>,
) -> Result<Response, AppError> {
    let (_, method) = own_method(&app, &signed_in, &id).await?;
    match mfa::rename_method(
        &app.store,
        &signed_in.0.account,
        &id,
        &form.name,
        &app.mfa(&requester),
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/profile/self-service?renamed=1").into_response()),
        Err(e @ MfaError::BadName) => Ok(action_page(
            &app,
            &signed_in,
            (&method, false),
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(e.to_string()),
        )),
        Err(e) => Err(mfa_error(e)),
    }
}

async fn remove_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let (methods, method) = own_method(&app, &signed_in, &id).await?;
    let back = format!("/profile/self-service/methods/{id}/remove");
    if needs_fresh_factor(&signed_in.0, true, app.now()) {
        return ask_for_fresh_factor(&app, &signed_in.0, &back).await;
    }
    Ok(action_page(
        &app,
        &signed_in,
        (&method, methods.len() == 1),
        true,
        StatusCode::OK,
        None,
    ))
}

async fn remove(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    own_method(&app, &signed_in, &id).await?;
    let back = format!("/profile/self-service/methods/{id}/remove");
    if needs_fresh_factor(&signed_in.0, true, app.now()) {
        return ask_for_fresh_factor(&app, &signed_in.0, &back).await;
    }
    mfa::remove_method(&app.store, &signed_in.0.account, &id, &app.mfa(&requester))
        .await
        .map_err(mfa_error)?;
    Ok(Redirect::to("/profile/self-service?removed=1").into_response())
}
