//! My Profile › Recent activity: the person's sign-ins of the last 30 days, each with "This
//! wasn't me", which (once confirmed) signs them out everywhere and makes the password be reset.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, SignedIn, removal_of_session_cookie};
use crate::web::http::pages::{Chrome, render};
use crate::web::profile::pages::{ActivityPage, ActivityRow, NotMeConfirmPage};
use crate::web::{AppError, AppState};
use domain::monitoring::{self, NotMeError};
use domain::risk::Level;

pub const PAGE: &str = "/profile/activity";

pub fn router() -> Router<AppState> {
    Router::new().route(PAGE, get(page)).route(
        "/profile/activity/{id}/not-me",
        get(confirm_not_me).post(not_me),
    )
}

/// The rows of the page, as the person reads them.
async fn rows(app: &AppState, signed_in: &SignedIn) -> Result<Vec<ActivityRow>, AppError> {
    let session = &signed_in.0;
    let rows =
        monitoring::recent_activity(&app.store, &session.account, &session.record, app.now())
            .await?;
    Ok(rows
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
            // Reporting the sign-in one is using now would only lock oneself out.
            can_report: a.can_report && !a.this_session,
            this_session: a.this_session,
        })
        .collect())
}

async fn page(State(app): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    let page = ActivityPage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        rows: rows(&app, &signed_in).await?,
        days: monitoring::RECENT_DAYS,
    };
    Ok(render(StatusCode::OK, &page))
}

/// "This wasn't me" asks first: it signs the person out everywhere and stops their password,
/// which a misclick must not do to a clinician in the middle of a shift.
async fn confirm_not_me(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let row = rows(&app, &signed_in)
        .await?
        .into_iter()
        .find(|r| r.id == id && r.can_report)
        .ok_or(AppError::NotFound)?;
    let page = NotMeConfirmPage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        row,
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
