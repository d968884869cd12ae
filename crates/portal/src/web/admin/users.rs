//! Finding and managing people: search, a person's methods and recent events, and the actions
//! (reset MFA, unlock, disable/enable, temporary access pass). Every page and action loads
//! the person first and checks the administrator may manage them.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminSession;
use crate::web::admin::pages::{
    AdminEventRow, AdminMethodRow, AdminPassPage, AdminUserPage, AdminUserRow, AdminUsersPage,
    ConfirmResetPage,
};
use crate::web::http::extract::CsrfForm;
use crate::web::http::pages::{FieldError, render};
use crate::web::{AppError, AppState};
use domain::accounts::{Account, AccountRecords, AccountState};
use domain::admin::{
    self, AdminAction, AdminError, AdminRecords, EnrolmentFilter, PASS_MINUTES_DEFAULT, UserSearch,
};
use domain::audit::AuditTrail;
use domain::mfa;

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(search))
        .route("/admin/users/{id}", get(person))
        .route("/admin/users/{id}/reset-mfa", post(reset_mfa))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
        .route("/admin/users/{id}/temporary-access-pass", post(issue_pass))
}

/// The search a query asks for, within what this administrator may see (an organisation
/// outside it: 403, audited as `action`). Shared by the page and the JSON API.
pub(crate) async fn user_search(
    app: &AppState,
    admin: &AdminSession,
    query: &SearchQuery,
    page: i64,
    limit: i64,
    action: &str,
) -> Result<UserSearch, AppError> {
    let org = query.org.trim().to_uppercase();
    let org = if org.is_empty() {
        admin.scope.org_filter().map(str::to_string)
    } else {
        admin
            .admin()
            .authorize_org(&app.store, &org, action)
            .await?;
        Some(org)
    };
    Ok(UserSearch {
        text: query.q.chars().take(200).collect(),
        filter: EnrolmentFilter::parse(&query.show),
        org,
        offset: (page - 1) * PAGE_SIZE,
        limit,
        lock_after: app.settings.sign_in_limits.lock_after,
        now: admin.now,
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    show: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    pub(crate) page: Option<i64>,
}

async fn search(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let page = query.page.unwrap_or(1).clamp(1, 10_000);
    // One more than a page tells whether there is a next page.
    let search = user_search(&app, &admin, &query, page, PAGE_SIZE + 1, "user.search").await?;
    let mut found = app.store.search_accounts(&search).await?;
    let has_next = found.len() as i64 > PAGE_SIZE;
    found.truncate(PAGE_SIZE as usize);
    let link = |page: i64| {
        format!(
            "/admin/users?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &query.q)
                .append_pair("show", &query.show)
                .append_pair("org", &query.org)
                .append_pair("page", &page.to_string())
                .finish()
        )
    };
    let page_view = AdminUsersPage {
        chrome: admin.chrome(&app),
        national: admin.scope.is_national(),
        q: query.q.clone(),
        show: search.filter.map(|f| f.as_str()).unwrap_or(""),
        org: query.org.clone(),
        searched: !query.q.is_empty() || !query.show.is_empty() || query.page.is_some(),
        rows: found
            .into_iter()
            .map(|s| AdminUserRow {
                href: format!("/admin/users/{}", s.account.id),
                status: status_text(&s.account, s.locked_until),
                mfa: match s.methods {
                    0 => "Not enrolled".into(),
                    1 => "Enrolled (1 method)".into(),
                    n => format!("Enrolled ({n} methods)"),
                },
                name: s.account.display_name,
                email: s.account.email,
                org: s.account.org_code,
                role: s.account.role.label(),
            })
            .collect(),
        previous: (page > 1).then(|| link(page - 1)),
        next: has_next.then(|| link(page + 1)),
    };
    Ok(render(StatusCode::OK, &page_view))
}

pub(crate) fn status_text(account: &Account, locked_until: Option<i64>) -> String {
    match (account.state, locked_until) {
        (AccountState::Disabled, _) => "Disabled".into(),
        (AccountState::Active, Some(until)) => {
            format!("Locked until {}", domain::clock::human(until))
        }
        (AccountState::Active, None) => "Active".into(),
    }
}

/// The person, if they exist and this administrator may manage them (403 and audited if not).
pub(crate) async fn managed_person(
    app: &AppState,
    admin: &AdminSession,
    id: &str,
    action: &str,
) -> Result<Account, AppError> {
    let target = app
        .store
        .account_by_id(id)
        .await?
        .ok_or(AppError::NotFound)?;
    admin.admin().authorize(&app.store, &target, action).await?;
    Ok(target)
}

#[derive(Deserialize, Default)]
struct PersonQuery {
    done: Option<String>,
}

async fn person(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    Query(query): Query<PersonQuery>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "user.view").await?;
    let notice = match query.done.as_deref() {
        Some("reset") => Some(
            "Their multi-factor authentication was reset. They have been signed out everywhere (apps such as mail apps must sign in again) and emailed.",
        ),
        Some("unlocked") => Some("The account was unlocked. They have been emailed."),
        Some("disabled") => {
            Some("The account was disabled and signed out everywhere. They have been emailed.")
        }
        Some("enabled") => Some("The account was enabled. They have been emailed."),
        Some("exception") => {
            Some("The exception was granted: they sign in with their password alone until it ends.")
        }
        Some("exception_ended") => {
            Some("The exception was ended: the rollout applies to them again from their next page.")
        }
        _ => None,
    };
    person_page(&app, &admin, &target, notice, vec![], StatusCode::OK, "").await
}

async fn person_page(
    app: &AppState,
    admin: &AdminSession,
    target: &Account,
    notice: Option<&str>,
    errors: Vec<FieldError>,
    status: StatusCode,
    reason: &str,
) -> Result<Response, AppError> {
    let methods = mfa::methods_of(&app.store, &target.id).await?;
    let locked_until = admin::locked_until(
        &app.store,
        target,
        app.settings.sign_in_limits.lock_after,
        admin.now,
    )
    .await?;
    let events = app.store.audit_events_of_account(&target.id, 20).await?;
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let page = AdminUserPage {
        chrome: admin.chrome(app),
        id: target.id.clone(),
        name: target.display_name.clone(),
        email: target.email.clone(),
        org: format!("{} ({})", target.org_name, target.org_code),
        role: target.role.label(),
        status: status_text(target, locked_until),
        locked: locked_until.is_some(),
        disabled: target.state == AccountState::Disabled,
        notice: notice.map(str::to_string),
        reason_error: error_for("reason"),
        minutes_error: error_for("minutes"),
        errors,
        reason: reason.to_string(),
        default_minutes: PASS_MINUTES_DEFAULT,
        methods: methods
            .iter()
            .map(|m| AdminMethodRow {
                kind: m.label(),
                name: m.name.clone(),
                detail: crate::web::profile::my_profile::method_detail(app, m),
                added: domain::clock::human_date(m.created_at),
                last_used: m
                    .last_used_at
                    .map(domain::clock::human)
                    .unwrap_or_else(|| "Never".into()),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| AdminEventRow {
                at: domain::clock::human(e.at),
                event: super::event_words::event(&e.event),
                outcome: super::event_words::outcome(&e.outcome),
                from: e.ip.unwrap_or_default(),
            })
            .collect(),
    };
    Ok(render(status, &page))
}

pub(crate) fn action<'a>(app: &'a AppState, admin: &'a AdminSession) -> AdminAction<'a> {
    AdminAction {
        actor_id: Some(&admin.session.account.id),
        requester: &admin.requester,
        now: admin.now,
        notifier: app.notifier.as_ref(),
    }
}

fn done(id: &str, what: &str) -> Response {
    Redirect::to(&format!("/admin/users/{id}?done={what}")).into_response()
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
    /// "yes" once the administrator has seen the confirmation page.
    #[serde(default)]
    confirmed: String,
}

async fn reset_mfa(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<ReasonForm>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "mfa.reset").await?;
    if form.confirmed != "yes" {
        // A reset removes every method and signs the person out: the administrator sees
        // whose, and what goes, before it happens.
        return match admin::valid_reason(&form.reason) {
            Ok(reason) => confirm_reset(&app, &admin, &target, reason).await,
            Err(e) => refused_form(&app, &admin, &target, "reason", &e, &form.reason).await,
        };
    }
    match admin::reset_mfa(&app.store, &action(&app, &admin), &target, &form.reason).await {
        Ok(_) => Ok(done(&id, "reset")),
        Err(e @ AdminError::BadReason) => {
            refused_form(&app, &admin, &target, "reason", &e, &form.reason).await
        }
        Err(e) => Err(e.into()),
    }
}

/// "Reset {name}'s MFA?": the person, the methods that will go, the reason, and the button
/// that does it.
async fn confirm_reset(
    app: &AppState,
    admin: &AdminSession,
    target: &Account,
    reason: &str,
) -> Result<Response, AppError> {
    let methods = mfa::methods_of(&app.store, &target.id).await?;
    let page = ConfirmResetPage {
        chrome: admin.chrome(app),
        id: target.id.clone(),
        name: target.display_name.clone(),
        email: target.email.clone(),
        methods: methods
            .iter()
            .map(|m| format!("{}: {}", m.kind.label(), m.name))
            .collect(),
        reason: reason.to_string(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// The person's page again, with `error` on `field` (what was typed as the reason kept).
async fn refused_form(
    app: &AppState,
    admin: &AdminSession,
    target: &Account,
    field: &'static str,
    error: &AdminError,
    reason: &str,
) -> Result<Response, AppError> {
    let errors = vec![FieldError {
        field,
        message: error.to_string(),
    }];
    person_page(
        app,
        admin,
        target,
        None,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
        reason,
    )
    .await
}

#[derive(Deserialize)]
struct Empty {}

async fn unlock(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "account.unlock").await?;
    admin::unlock(&app.store, &action(&app, &admin), &target).await?;
    Ok(done(&id, "unlocked"))
}

async fn disable(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "account.disable").await?;
    if target.id == admin.session.account.id {
        return Err(AppError::Forbidden(
            "You cannot disable your own account. Ask another administrator.".into(),
        ));
    }
    admin::set_account_state(
        &app.store,
        &action(&app, &admin),
        &target,
        AccountState::Disabled,
    )
    .await?;
    Ok(done(&id, "disabled"))
}

async fn enable(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "account.enable").await?;
    admin::set_account_state(
        &app.store,
        &action(&app, &admin),
        &target,
        AccountState::Active,
    )
    .await?;
    Ok(done(&id, "enabled"))
}

#[derive(Deserialize)]
struct PassForm {
    #[serde(default)]
    minutes: String,
}

async fn issue_pass(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<PassForm>,
) -> Result<Response, AppError> {
    let target = managed_person(&app, &admin, &id, "tap.issue").await?;
    let minutes = form.minutes.trim().parse::<i64>().unwrap_or(-1);
    let issued = admin::issue_temporary_access_pass(
        &app.store,
        &action(&app, &admin),
        &app.secrets,
        &target,
        minutes,
    )
    .await;
    match issued {
        Ok((code, expires_at)) => {
            let page = AdminPassPage {
                chrome: admin.chrome(&app),
                id: target.id.clone(),
                name: target.display_name.clone(),
                email: target.email.clone(),
                code: code.display(),
                until: domain::clock::human(expires_at),
            };
            Ok(render(StatusCode::OK, &page))
        }
        Err(e @ AdminError::BadLifetime) => {
            refused_form(&app, &admin, &target, "minutes", &e, "").await
        }
        Err(e) => Err(e.into()),
    }
}
