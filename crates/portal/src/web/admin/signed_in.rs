//! A person's "Where they're signed in", for an administrator who may manage them: the same
//! list the person sees, with the same actions, each audited with the administrator as actor.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminSession;
use super::users::managed_person;
use crate::web::http::extract::CsrfForm;
use crate::web::http::pages::render;
use crate::web::profile::signed_in::{Done, SignedInPage, rows};
use crate::web::{AppError, AppState};
use domain::signed_in::{self, Ender};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{id}/signed-in", get(page))
        .route(
            "/admin/users/{id}/signed-in/sessions/{reference}/sign-out",
            post(end_session),
        )
        .route(
            "/admin/users/{id}/signed-in/apps/{client_id}/remove",
            post(remove_app),
        )
        .route(
            "/admin/users/{id}/signed-in/sign-out-everywhere",
            post(everywhere),
        )
}

fn base(id: &str) -> String {
    format!("/admin/users/{id}/signed-in")
}

async fn page(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "user.view").await?;
    let list = signed_in::list(
        &app.store,
        &app.secrets,
        &app.settings.sessions,
        &target,
        None,
        admin.now,
    )
    .await?;
    let (sessions, apps) = rows(&app, list);
    let notice = match done.notice() {
        Some(n) => Some(n),
        None => (admin_everywhere(&done)).then(|| {
            "They have been signed out everywhere, and every app's access has ended.".to_string()
        }),
    };
    let page = SignedInPage {
        chrome: admin.chrome(&app),
        heading: format!("Where {} is signed in", target.display_name),
        base: base(&target.id),
        by_admin: true,
        notice,
        sessions,
        apps,
        back: (
            format!("/admin/users/{}", target.id),
            format!("Back to {}", target.display_name),
        ),
    };
    Ok(render(StatusCode::OK, &page))
}

fn admin_everywhere(done: &Done) -> bool {
    done.everywhere.is_some()
}

#[derive(Deserialize)]
struct Empty {}

fn ender<'a>(admin: &'a AdminSession) -> Ender<'a> {
    Ender {
        requester: &admin.requester,
        admin: Some(&admin.session.account.id),
        now: admin.now,
    }
}

async fn end_session(
    State(app): State<AppState>,
    admin: AdminSession,
    Path((id, reference)): Path<(String, String)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "session.end").await?;
    if !signed_in::end_session(
        &app.store,
        &app.secrets,
        &target,
        &reference,
        &ender(&admin),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("{}?ended=1", base(&target.id))).into_response())
}

async fn remove_app(
    State(app): State<AppState>,
    admin: AdminSession,
    Path((id, client_id)): Path<(String, String)>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "oidc.access_remove").await?;
    let Some(access) =
        signed_in::remove_app(&app.store, &target, &client_id, &ender(&admin)).await?
    else {
        return Err(AppError::NotFound);
    };
    crate::web::oidc::backchannel::tell_apps(&app, &admin.requester, &target.id, vec![access]);
    Ok(Redirect::to(&format!("{}?removed=1", base(&target.id))).into_response())
}

async fn everywhere(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "account.sign_out_everywhere").await?;
    let ended = signed_in::sign_out_everywhere(&app.store, &target, &ender(&admin)).await?;
    crate::web::oidc::backchannel::tell_apps(
        &app,
        &admin.requester,
        &target.id,
        ended.logout_targets,
    );
    Ok(Redirect::to(&format!("{}?everywhere=1", base(&target.id))).into_response())
}
