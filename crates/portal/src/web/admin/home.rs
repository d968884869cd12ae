//! The admin area's home: what the administrator may do, and how their organisation's staff
//! reach them (the contact shown wherever a page says "contact your local administrator").

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminSession;
use crate::web::admin::pages::AdminHomePage;
use crate::web::http::extract::CsrfForm;
use crate::web::http::pages::{FieldError, admin_contact, render};
use crate::web::{AppError, AppState};
use domain::organisations::{self, OrganisationError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/contact", post(set_contact))
}

#[derive(Deserialize, Default)]
struct HomeQuery {
    contact: Option<String>,
}

async fn home(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<HomeQuery>,
) -> Result<Response, AppError> {
    let contact = admin_contact(&app, &admin.session.account.org_code)
        .await?
        .unwrap_or_default();
    let notice = query
        .contact
        .is_some()
        .then(|| "The contact for your staff has been saved.".to_string());
    Ok(page(&app, &admin, StatusCode::OK, notice, contact, vec![]))
}

fn page(
    app: &AppState,
    admin: &AdminSession,
    status: StatusCode,
    notice: Option<String>,
    contact: String,
    errors: Vec<FieldError>,
) -> Response {
    let page = AdminHomePage {
        chrome: admin.chrome(app),
        national: admin.scope.is_national(),
        org: admin.session.account.org_code.clone(),
        org_name: admin.session.account.org_name.clone(),
        notice,
        contact,
        contact_error: crate::web::http::pages::error_for(&errors, "contact"),
        errors,
    };
    render(status, &page)
}

#[derive(Deserialize)]
struct ContactForm {
    #[serde(default)]
    contact: String,
}

/// "How your staff reach you", for the administrator's own organisation (audited with the
/// change, in one transaction).
async fn set_contact(
    State(app): State<AppState>,
    admin: AdminSession,
    CsrfForm(form): CsrfForm<ContactForm>,
) -> Result<Response, AppError> {
    match organisations::set_admin_contact(
        &app.store,
        &admin.session.account.org_code,
        &form.contact,
        &admin.requester,
        Some(&admin.session.account.id),
        admin.now,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/admin?contact=1").into_response()),
        Err(e @ OrganisationError::InvalidContact) => {
            let errors = vec![FieldError {
                field: "contact",
                message: capitalised(&e.to_string()),
            }];
            Ok(page(
                &app,
                &admin,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form.contact,
                errors,
            ))
        }
        Err(OrganisationError::Storage(s)) => Err(s.into()),
        Err(other) => Err(AppError::Internal(other.to_string())),
    }
}

/// The domain's message starts in lower case (it is also the command line's).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
