//! Invitation links: `/invitation/{token}` takes the token out of the address bar at once (into
//! a short-lived HttpOnly cookie) and sends the browser to `/invitation`, where the person sets
//! their first password.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, build_cookie, cookie_name, visitor_csrf};
use crate::web::http::pages::{Chrome, FieldError, MessagePage, PasswordField, render};
use crate::web::sign_in::pages::InvitationPage;
use crate::web::{AppError, AppState};
use domain::accounts::Account;
use domain::invitations::{self, Acceptance, InvitationError, InvitationToken};
use domain::password::PasswordRejected;

const INVITATION_COOKIE: &str = "nhsmal_invitation";

/// Long enough to choose a password; the invitation's own expiry is checked on every request.
const COOKIE_MINUTES: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invitation/{token}", get(open_link))
        .route("/invitation", get(password_page).post(save_password))
}

fn invitation_cookie(app: &AppState, token: &InvitationToken) -> Cookie<'static> {
    let mut cookie = build_cookie(app, INVITATION_COOKIE, token.as_str().to_string());
    cookie.set_max_age(time::Duration::minutes(COOKIE_MINUTES));
    cookie
}

fn removal_of_invitation_cookie(app: &AppState) -> Cookie<'static> {
    let mut cookie = build_cookie(app, INVITATION_COOKIE, String::new());
    cookie.make_removal();
    cookie
}

fn token_in(app: &AppState, jar: &CookieJar) -> Option<InvitationToken> {
    jar.get(&cookie_name(app, INVITATION_COOKIE))
        .and_then(|c| InvitationToken::parse(c.value()))
}

/// One page, one status, for unknown, expired and used links alike.
fn not_usable(app: &AppState, jar: CookieJar) -> Response {
    let page = MessagePage {
        help: Some(("/help".into(), "Get help with the NHSmal Portal".into())),
        chrome: Chrome::anonymous(),
        heading: "This link cannot be used".into(),
        paragraphs: vec![InvitationError::NotUsable.to_string()],
        link: Some(("/sign-in".into(), "Go to the sign-in page".into())),
    };
    (
        jar.add(removal_of_invitation_cookie(app)),
        render(StatusCode::GONE, &page),
    )
        .into_response()
}

async fn open_link(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Some(token) = InvitationToken::parse(&token) else {
        return Ok(not_usable(&app, jar));
    };
    match invitations::check(&app.store, &token, app.now()).await {
        Ok(_) => {
            let jar = jar.add(invitation_cookie(&app, &token));
            Ok((jar, Redirect::to("/invitation")).into_response())
        }
        Err(InvitationError::NotUsable) => Ok(not_usable(&app, jar)),
        Err(e) => Err(e.into()),
    }
}

fn password_form(
    app: &AppState,
    jar: CookieJar,
    account: &Account,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> Response {
    let (jar, csrf_token) = visitor_csrf(app, jar);
    let error = |id: &str| {
        errors
            .iter()
            .find(|e| e.field == id)
            .map(|e| e.message.clone())
    };
    let page = InvitationPage {
        chrome: Chrome {
            signed_in: None,
            csrf_token,
            admin: false,
            time_left: None,
        },
        name: account.display_name.clone(),
        email: account.email.clone(),
        fields: vec![
            PasswordField {
                id: "new_password",
                label: "New password",
                autocomplete: "new-password",
                error: error("new_password"),
            },
            PasswordField {
                id: "confirm_password",
                label: "Confirm new password",
                autocomplete: "new-password",
                error: error("confirm_password"),
            },
        ],
        errors,
    };
    (jar, render(status, &page)).into_response()
}

async fn password_page(State(app): State<AppState>, jar: CookieJar) -> Result<Response, AppError> {
    let Some(token) = token_in(&app, &jar) else {
        return Ok(not_usable(&app, jar));
    };
    match invitations::check(&app.store, &token, app.now()).await {
        Ok(account) => Ok(password_form(&app, jar, &account, StatusCode::OK, vec![])),
        Err(InvitationError::NotUsable) => Ok(not_usable(&app, jar)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn save_password(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let Some(token) = token_in(&app, &jar) else {
        return Ok(not_usable(&app, jar));
    };
    let acceptance = Acceptance {
        new: &form.new_password,
        confirmation: &form.confirm_password,
    };
    let now = app.now();
    match invitations::accept(
        &app.store,
        &app.hashing,
        &token,
        acceptance,
        &requester,
        now,
    )
    .await
    {
        Ok(_) => {
            let jar = jar.add(removal_of_invitation_cookie(&app));
            Ok((jar, Redirect::to("/sign-in?password_set=1")).into_response())
        }
        Err(InvitationError::Rejected(reason)) => {
            let account = invitations::check(&app.store, &token, now).await;
            let Ok(account) = account else {
                return Ok(not_usable(&app, jar));
            };
            let field = match reason {
                PasswordRejected::DoesNotMatch => "confirm_password",
                _ => "new_password",
            };
            let errors = vec![FieldError {
                field,
                message: reason.to_string(),
            }];
            Ok(password_form(
                &app,
                jar,
                &account,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            ))
        }
        Err(InvitationError::NotUsable) => Ok(not_usable(&app, jar)),
        Err(e) => Err(e.into()),
    }
}
