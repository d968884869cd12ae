//! My Profile › Recent activity: the person's sign-ins of the last 30 days, each with "This
//! wasn't me", which signs them out everywhere and makes the password be reset.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, SignedIn, removal_of_session_cookie};
use crate::web::http::pages::{Chrome, render};
use crate::web::profile::pages::{ActivityPage, ActivityRow};
use crate::web::{AppError, AppState};
use domain::monitoring::{self, NotMeError};
use domain::risk::Level;

pub const PAGE: &str = "/profile/activity";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(page))
        .route("/profile/activity/{id}/not-me", post(not_me))
}

async fn page(State(app): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    let rows = monitoring::recent_activity(&app.store, &signed_in.0.account, app.now()).await?;
    let page = ActivityPage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        rows: rows
            .into_iter()
            .map(|a| ActivityRow {
                id: a.id,
                when: domain::clock::human(a.at),
                what: a.what,
                failed: a.failed,
                device: a.device,
                place: match a.place {
                    Some(place) => format!("{place} ({})", a.ip),
                    None => a.ip,
                },
                flagged: (a.level > Level::None)
                    .then(|| format!("{} risk: {}", a.level.label(), a.why.join("; "))),
                reported: a.reported,
                can_report: a.can_report,
            })
            .collect(),
        days: monitoring::RECENT_DAYS,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct Empty {}

async fn not_me(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    jar: CookieJar,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let monitor = app.monitor(&requester);
    match monitoring::report_not_me(&app.store, &monitor, &signed_in.0.account, id).await {
        // Every session has ended, this one too.
        Ok(()) => {
            let jar = jar.add(removal_of_session_cookie(&app));
            Ok((jar, Redirect::to("/sign-in?reported=1")).into_response())
        }
        Err(NotMeError::NotFound) => Err(AppError::NotFound),
        Err(NotMeError::Storage(e)) => Err(e.into()),
    }
}
