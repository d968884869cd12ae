//! My Profile › "Where you're signed in": browser sessions and apps, each of which can be
//! ended, and "Sign out everywhere". The page struct and rows are shared with the admin area,
//! which shows the same for a person of the administrator's organisation.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{
    CsrfForm, FromClient, SignedIn, locate, removal_of_session_cookie,
};
use crate::web::http::pages::{Chrome, render};
use crate::web::{AppError, AppState};
use domain::clock::human;
use domain::signed_in::{self, Ender, SignedInList};

pub const PAGE: &str = "/profile/signed-in";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route(
            "/profile/signed-in/sessions/{reference}/sign-out",
            post(end_session),
        )
        .route(
            "/profile/signed-in/apps/{client_id}/remove",
            post(remove_app),
        )
        .route("/profile/signed-in/sign-out-everywhere", post(everywhere))
}

pub struct SessionRow {
    pub reference: String,
    pub device: String,
    pub place: String,
    pub signed_in: String,
    pub last_seen: String,
    pub this_device: bool,
}

pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub native: bool,
    pub granted: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
pub struct SignedInPage {
    pub chrome: Chrome,
    pub heading: String,
    /// Where the page's forms post: this page, or the admin's page of the person.
    pub base: String,
    pub by_admin: bool,
    pub notice: Option<String>,
    pub sessions: Vec<SessionRow>,
    pub apps: Vec<AppRow>,
    pub back: (String, String),
}

/// The rows of a list, as people read them.
pub fn rows(app: &AppState, list: SignedInList) -> (Vec<SessionRow>, Vec<AppRow>) {
    let sessions = list
        .sessions
        .into_iter()
        .map(|s| SessionRow {
            device: domain::notices::describe_device(&s.user_agent),
            place: match locate(app, &s.ip) {
                Some(l) => format!("{} ({})", l.place, s.ip),
                None => s.ip,
            },
            signed_in: human(s.signed_in_at),
            last_seen: human(s.last_seen_at),
            this_device: s.this_device,
            reference: s.reference,
        })
        .collect();
    let apps = list
        .apps
        .into_iter()
        .map(|a| AppRow {
            // Only what a URL path segment can hold: client ids are base64url.
            client_id: a
                .client_id
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                .collect(),
            name: a.client_name,
            native: a.native,
            granted: human(a.granted_at),
            last_used: human(a.last_used_at),
        })
        .collect();
    (sessions, apps)
}

#[derive(Deserialize, Default)]
pub struct Done {
    ended: Option<String>,
    removed: Option<String>,
    pub everywhere: Option<String>,
}

impl Done {
    /// What the page says after an action.
    pub fn notice(&self) -> Option<String> {
        if self.ended.is_some() {
            Some("That browser has been signed out.".to_string())
        } else {
            self.removed.is_some().then(|| {
                "The app's access has been removed: it must sign in again to use the account."
                    .to_string()
            })
        }
    }
}

async fn page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, AppError> {
    let session = &signed_in.0;
    let list = signed_in::list(
        &app.store,
        &app.secrets,
        &app.settings.sessions,
        &session.account,
        Some(&session.record.id_hash),
        app.now(),
    )
    .await?;
    let (sessions, apps) = rows(&app, list);
    let notice = done.notice();
    let page = SignedInPage {
        chrome: Chrome::signed_in(&app, session),
        heading: "Where you're signed in".into(),
        base: PAGE.into(),
        by_admin: false,
        notice,
        sessions,
        apps,
        back: ("/profile".into(), "Back to My Profile".into()),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct Empty {}

async fn end_session(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    Path(reference): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let by = Ender::person(&requester, app.now());
    let ended = signed_in::end_session(
        &app.store,
        &app.secrets,
        &signed_in.0.account,
        &reference,
        &by,
    )
    .await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to(&format!("{PAGE}?ended=1")).into_response())
}

async fn remove_app(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    Path(client_id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let by = Ender::person(&requester, app.now());
    let removed = signed_in::remove_app(&app.store, &signed_in.0.account, &client_id, &by).await?;
    match removed {
        Some(access) => {
            crate::web::oidc::backchannel::tell_apps(
                &app,
                &requester,
                &signed_in.0.account.id,
                vec![access],
            );
            Ok(Redirect::to(&format!("{PAGE}?removed=1")).into_response())
        }
        None => Err(AppError::NotFound),
    }
}

async fn everywhere(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    jar: CookieJar,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let by = Ender::person(&requester, app.now());
    let ended = signed_in::sign_out_everywhere(&app.store, &signed_in.0.account, &by).await?;
    crate::web::oidc::backchannel::tell_apps(
        &app,
        &requester,
        &signed_in.0.account.id,
        ended.logout_targets,
    );
    // This session ended with the others.
    let jar = jar.add(removal_of_session_cookie(&app));
    Ok((jar, Redirect::to("/sign-in?everywhere=1")).into_response())
}
