//! "I need more time" (`POST /session/extend`): the page's script warns two minutes before the
//! session's time limit and, when the person asks, restarts it (WCAG 2.2.1): the idle time of a
//! signed-in session; in the second step its 10 minutes too, at most ten times.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::web::http::error::json_error;
use crate::web::http::extract::{AnySession, CsrfForm};
use crate::web::sign_in::flow::Flow;
use crate::web::{AppError, AppState};
use domain::sessions::{MAX_SECOND_STEP_EXTENSIONS, SessionRecords, SessionStage, seconds_left};

pub fn router() -> Router<AppState> {
    Router::new().route("/session/extend", post(extend))
}

#[derive(Deserialize)]
struct Empty {}

async fn extend(
    State(app): State<AppState>,
    session: AnySession,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let now = app.now();
    let key = session.0.token.storage_key();
    let mut record = session.0.record.clone();
    match record.stage {
        SessionStage::SignedIn => {
            app.store.touch_session(&key, now).await?;
        }
        SessionStage::SecondFactor => {
            let mut flow = Flow::of(&session.0);
            if flow.extensions >= MAX_SECOND_STEP_EXTENSIONS {
                return Ok(json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "You have asked for more time 10 times. Sign in again to start afresh.",
                ));
            }
            flow.extensions += 1;
            flow.save(&app, &key).await?;
            app.store.restart_second_step(&key, now).await?;
            record.created_at = now;
        }
        // A password reset's pages read as a decoy's do, which has nothing to extend.
        SessionStage::PasswordReset => return Err(AppError::NotFound),
    }
    record.last_seen_at = now;
    let left = seconds_left(&record, &app.settings.sessions, now);
    Ok(Json(serde_json::json!({ "seconds_left": left })).into_response())
}
