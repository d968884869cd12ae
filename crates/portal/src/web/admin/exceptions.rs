//! Rollout exceptions in the admin area (issue 24): a person's exception (grant, renew, end,
//! each after a confirmation page) and, for national administrators, the exceptions about to
//! end and the people renewed more than twice.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminSession;
use super::users::managed_person;
use crate::web::admin::pages::{
    AdminExceptionPage, AdminExceptionsPage, ConfirmExceptionPage, ExceptionRow, ReasonOption,
};
use crate::web::http::extract::CsrfForm;
use crate::web::http::pages::{FieldError, render};
use crate::web::{AppError, AppState};
use domain::accounts::{Account, Role};
use domain::exceptions::{self, ExceptionError, ExceptionRecords, Grantor, Reason};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/exceptions", get(lists))
        .route("/admin/users/{id}/exception", get(person_page).post(grant))
        .route("/admin/users/{id}/exception/end", post(end))
}

fn longest(admin: &AdminSession) -> i64 {
    Grantor {
        admin: Some(&admin.session.account),
    }
    .longest()
}

#[derive(Deserialize, Default)]
struct GrantForm {
    #[serde(default)]
    days: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    /// "yes" once the administrator has seen the confirmation page.
    #[serde(default)]
    confirmed: String,
}

async fn person_page(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "exception.view").await?;
    form_page(
        &app,
        &admin,
        &target,
        &GrantForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn form_page(
    app: &AppState,
    admin: &AdminSession,
    target: &Account,
    form: &GrantForm,
    error: Option<(&'static str, String)>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let now = app.now();
    let live = exceptions::live_exception(&app.store, target, now).await?;
    let past = app.store.exceptions_of(&target.id).await?;
    let errors = error
        .iter()
        .map(|(field, message)| FieldError {
            field,
            message: message.clone(),
        })
        .collect::<Vec<_>>();
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let page = AdminExceptionPage {
        chrome: admin.chrome(app),
        id: target.id.clone(),
        name: target.display_name.clone(),
        email: target.email.clone(),
        administrator: target.role != Role::User,
        live: live.as_ref().map(|e| row(e, now)),
        history: past.iter().map(|e| row(e, now)).collect(),
        longest: longest(admin),
        days: form.days.clone(),
        reason: form.reason.clone(),
        note: form.note.clone(),
        reasons: Reason::ALL
            .iter()
            .map(|r| ReasonOption {
                value: r.as_str(),
                label: r.label(),
            })
            .collect(),
        days_error: error_for("days"),
        reason_error: error_for("reason"),
        note_error: error_for("note"),
        errors,
    };
    Ok(render(status, &page))
}

fn row(e: &exceptions::Exception, now: i64) -> ExceptionRow {
    ExceptionRow {
        reason: e.reason.label(),
        note: e.note.clone(),
        from: domain::clock::human_date(e.starts_at),
        until: domain::clock::human_date(e.ended_at.unwrap_or(e.ends_at)),
        live: e.live_at(now),
        email: String::new(),
        org: String::new(),
        grants: 0,
        id: e.account_id.clone(),
    }
}

/// The field a grant's refusal belongs to.
fn field_of(e: &ExceptionError) -> &'static str {
    match e {
        ExceptionError::BadDays(_) => "days",
        ExceptionError::BadReason => "reason",
        _ => "note",
    }
}

async fn grant(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "exception.grant").await?;
    let days = form.days.trim().parse::<i64>().unwrap_or(0);
    let request = exceptions::Request {
        days,
        reason: &form.reason,
        note: &form.note,
    };
    let grantor = Grantor {
        admin: Some(&admin.session.account),
    };
    let refused = async |e: ExceptionError| match e {
        ExceptionError::Storage(s) => Err(AppError::from(s)),
        e => {
            let field = field_of(&e);
            form_page(
                &app,
                &admin,
                &target,
                &form,
                Some((field, e.to_string())),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    if form.confirmed != "yes" {
        // Checked as the grant checks it, so the confirmation page shows only what will be
        // granted.
        let reason = match exceptions::check(&grantor, &target, &request) {
            Ok(reason) => reason,
            Err(e) => return refused(e).await,
        };
        let page = ConfirmExceptionPage {
            chrome: admin.chrome(&app),
            id: target.id.clone(),
            name: target.display_name.clone(),
            email: target.email.clone(),
            days: days.to_string(),
            until: domain::clock::human_date(app.now() + days * 86_400),
            reason: reason.as_str(),
            reason_label: reason.label(),
            note: form.note.trim().to_string(),
        };
        return Ok(render(StatusCode::OK, &page));
    }
    match exceptions::grant(
        &app.store,
        &grantor,
        &target,
        &request,
        &admin.requester,
        app.now(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/admin/users/{id}?done=exception")).into_response()),
        Err(e) => refused(e).await,
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn end(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "exception.end").await?;
    let grantor = Grantor {
        admin: Some(&admin.session.account),
    };
    match exceptions::end(&app.store, &grantor, &target, &admin.requester, app.now()).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/users/{id}?done=exception_ended")).into_response())
        }
        Err(ExceptionError::Storage(s)) => Err(s.into()),
        Err(e) => {
            form_page(
                &app,
                &admin,
                &target,
                &GrantForm::default(),
                Some(("note", e.to_string())),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// For national administrators: exceptions ending in the next 14 days, and people granted
/// more than twice.
async fn lists(State(app): State<AppState>, admin: AdminSession) -> Result<Response, AppError> {
    admin.require_national(&app, "exception.list").await?;
    let now = app.now();
    let listed = |l: exceptions::ListedException| ExceptionRow {
        email: l.email,
        org: l.org_code,
        grants: l.grants,
        ..row(&l.exception, now)
    };
    let ending = app
        .store
        .exceptions_ending(now, now + 14 * 86_400, 500)
        .await?
        .into_iter()
        .map(listed)
        .collect();
    let renewed = app
        .store
        .exceptions_renewed(exceptions::RENEWALS_SHOWN_AFTER, 500)
        .await?
        .into_iter()
        .map(listed)
        .collect();
    let page = AdminExceptionsPage {
        chrome: admin.chrome(&app),
        ending,
        renewed,
    };
    Ok(render(StatusCode::OK, &page))
}
