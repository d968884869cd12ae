//! My Profile, Self-Service and Change password.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{CsrfForm, SignedIn, session_cookie};
use crate::web::http::pages::{Chrome, FieldError, PasswordField, render};
use crate::web::profile::pages::{
    ChangePasswordPage, DeviceRow, MethodRow, ProfileMenuPage, ProfilePage, SelfServicePage,
};
use crate::web::{AppError, AppState};
use domain::devices::DeviceRecords;
use domain::mfa;
use domain::password::PasswordRejected;
use domain::password_change::{self, PasswordChange, PasswordChangeError};
use domain::sessions;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/profile", get(my_profile))
        .route("/profile/menu", get(profile_menu))
        .route("/profile/self-service", get(self_service))
        .route(
            "/profile/change-password",
            get(change_password_page).post(change_password),
        )
}

async fn my_profile(
    State(app): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, AppError> {
    let contact =
        crate::web::http::pages::admin_contact(&app, &signed_in.0.account.org_code).await?;
    let (_, standing) =
        domain::policy::standing_of(&app.store, &signed_in.0.account, app.now()).await?;
    let exception_until = match standing {
        domain::policy::Standing::Excepted { until } => Some(domain::clock::human(until)),
        _ => None,
    };
    let page = ProfilePage {
        exception_until,
        contact,
        chrome: Chrome::signed_in(&app, &signed_in.0),
        admin_needs_method: signed_in.0.account.role != domain::accounts::Role::User
            && !signed_in.0.has_methods,
        account: signed_in.0.account,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The Profile menu as a page, for browsers without JavaScript.
async fn profile_menu(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    let page = ProfileMenuPage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct SelfServiceQuery {
    changed: Option<String>,
    added: Option<String>,
    removed: Option<String>,
    renamed: Option<String>,
    number_changed: Option<String>,
    changed_default: Option<String>,
    forgotten: Option<String>,
}

async fn self_service(
    State(app): State<AppState>,
    signed_in: SignedIn,
    axum::extract::Query(query): axum::extract::Query<SelfServiceQuery>,
) -> Result<Response, AppError> {
    let notice = [
        (
            query.changed.is_some(),
            "Your password has been changed. You have been signed out on every other device, and apps such as mail apps must sign in again.",
        ),
        (
            query.added.is_some(),
            "Your new sign-in method has been added. We have emailed you to confirm.",
        ),
        (
            query.removed.is_some(),
            "The sign-in method has been removed. We have emailed you to confirm.",
        ),
        (
            query.renamed.is_some(),
            "The sign-in method has been renamed.",
        ),
        (
            query.number_changed.is_some(),
            "The phone number has been changed. We have emailed you to confirm.",
        ),
        (
            query.changed_default.is_some(),
            "Your default sign-in method has been changed.",
        ),
        (
            query.forgotten.is_some(),
            "The device has been forgotten. It will ask for your second factor next time.",
        ),
    ]
    .into_iter()
    .find(|(shown, _)| *shown)
    .map(|(_, text)| text.to_string());
    let methods = mfa::methods_of(&app.store, &signed_in.0.account.id).await?;
    // One method and no recovery codes: losing that phone or key would lock the person out.
    let needs_backup = methods.len() == 1
        && domain::recovery::RecoveryCodeRecords::unused_recovery_codes(
            &app.store,
            &signed_in.0.account.id,
        )
        .await?
        .is_empty();
    let page = SelfServicePage {
        chrome: Chrome::signed_in(&app, &signed_in.0),
        needs_backup,
        notice,
        methods: methods
            .iter()
            .map(|m| MethodRow {
                id: m.id.clone(),
                kind: m.label().to_string(),
                number_slug: m.phone.is_some().then(|| m.kind.slug()),
                name: m.name.clone(),
                detail: method_detail(&app, m),
                added: domain::clock::human_date(m.created_at),
                last_used: m
                    .last_used_at
                    .map_or_else(|| "Not yet".to_string(), domain::clock::human_date),
                is_default: m.is_default,
            })
            .collect(),
        devices: app
            .store
            .devices_of(&signed_in.0.account.id, app.now())
            .await?
            .into_iter()
            .map(|d| DeviceRow {
                id: d.id,
                browser: domain::devices::describe_browser(&d.user_agent),
                remembered: domain::clock::human_date(d.created_at),
                until: domain::clock::human_date(d.expires_at),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

fn password_fields(errors: &[FieldError]) -> Vec<PasswordField> {
    let error = |id: &str| {
        errors
            .iter()
            .find(|e| e.field == id)
            .map(|e| e.message.clone())
    };
    vec![
        PasswordField {
            id: "current_password",
            label: "Current password",
            autocomplete: "current-password",
            error: error("current_password"),
        },
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
    ]
}

fn change_password_form(
    app: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> Response {
    let page = ChangePasswordPage {
        chrome: Chrome::signed_in(app, &signed_in.0),
        required: signed_in.0.account.password_action
            == domain::accounts::PasswordAction::ChangeAfterSecondFactor,
        fields: password_fields(&errors),
        errors,
    };
    render(status, &page)
}

async fn change_password_page(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    change_password_form(&app, &signed_in, StatusCode::OK, vec![])
}

#[derive(Deserialize)]
struct ChangePasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// The form's own problems, one per field: a missing current password, a new password the
/// rules refuse, a confirmation that is missing or different.
fn form_problems(
    form: &ChangePasswordForm,
    account: &domain::accounts::Account,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if form.current_password.is_empty() {
        errors.push(FieldError {
            field: "current_password",
            message: "Enter your current password".into(),
        });
    }
    // The rules on the new password alone (the confirmation is checked next, on its field).
    if let Err(e) = domain::password::NewPassword::parse(
        &form.new_password,
        &form.new_password,
        &account.personal_words(),
    ) {
        errors.push(FieldError {
            field: "new_password",
            message: e.to_string(),
        });
    }
    if form.confirm_password.is_empty() && !form.new_password.is_empty() {
        errors.push(FieldError {
            field: "confirm_password",
            message: "Confirm your new password".into(),
        });
    } else if domain::password::Password::new(&form.confirm_password).expose()
        != domain::password::Password::new(&form.new_password).expose()
    {
        errors.push(FieldError {
            field: "confirm_password",
            message: PasswordRejected::DoesNotMatch.to_string(),
        });
    }
    errors
}

async fn change_password(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: SignedIn,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<ChangePasswordForm>,
) -> Result<Response, AppError> {
    // Every problem the form shows on its own is reported at once, before the current
    // password is checked (which costs a hash and counts toward the sign-in limit).
    let errors = form_problems(&form, &signed_in.0.account);
    if !errors.is_empty() {
        return Ok(change_password_form(
            &app,
            &signed_in,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        ));
    }
    let now = app.now();
    let change = PasswordChange {
        current: &form.current_password,
        new: &form.new_password,
        confirmation: &form.confirm_password,
    };
    let account = &signed_in.0.account;
    let result = password_change::change_password(
        &app.store,
        app.password_rules(),
        app.notifier.as_ref(),
        account,
        change,
        &requester,
        now,
    )
    .await;
    let field_error = |field: &'static str, message: String| vec![FieldError { field, message }];
    match result {
        Ok(()) => {
            // Every session ended with the change; this browser continues in a new one.
            let token = sessions::start_session(
                &app.store,
                account,
                sessions::NewSession {
                    stage: sessions::SessionStage::SignedIn,
                    auth_methods: &signed_in.0.record.auth_methods,
                    second_factor_at: signed_in.0.record.second_factor_at,
                },
                &requester,
                now,
            )
            .await?;
            let jar = jar.add(session_cookie(&app, &token));
            Ok((jar, Redirect::to("/profile/self-service?changed=1")).into_response())
        }
        Err(PasswordChangeError::WrongCurrentPassword) => Ok(change_password_form(
            &app,
            &signed_in,
            StatusCode::UNPROCESSABLE_ENTITY,
            field_error(
                "current_password",
                PasswordChangeError::WrongCurrentPassword.to_string(),
            ),
        )),
        Err(PasswordChangeError::Rejected(reason)) => {
            let field = match reason {
                PasswordRejected::DoesNotMatch => "confirm_password",
                _ => "new_password",
            };
            Ok(change_password_form(
                &app,
                &signed_in,
                StatusCode::UNPROCESSABLE_ENTITY,
                field_error(field, reason.to_string()),
            ))
        }
        Err(PasswordChangeError::Throttled { until }) => Err(AppError::TooManyRequests {
            retry_after: until - now,
            help: "/help/forgot-password",
            message: format!(
                "There have been too many attempts with a wrong password. Wait until {} and try again.",
                domain::clock::human(until)
            ),
        }),
        Err(e) => Err(e.into()),
    }
}

/// What the list says of a method beyond its name: a passkey's type, and its model where its
/// attestation named one on the allow-list.
pub(crate) fn method_detail(app: &AppState, m: &domain::methods::Method) -> String {
    let detail = m.masked_detail();
    match m
        .passkey
        .as_ref()
        .and_then(|p| p.aaguid.as_deref())
        .and_then(|a| app.security_keys.model_of(a))
    {
        Some(model) => format!("{detail}. {model}"),
        None => detail,
    }
}
