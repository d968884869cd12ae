//! The MFA policy page for national administrators: the national policy and any
//! organisation's overrides.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AdminSession;
use crate::domain::mfa::MethodKind;
use crate::domain::policy::{
    self, MethodSet, MfaPolicy, NATIONAL, PolicyChange, PolicyError, PolicyRecords,
};
use crate::web::extract::CsrfForm;
use crate::web::pages::{AdminPolicyPage, FieldError, PolicyMethodBox, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/policy", get(page).post(save))
}

#[derive(Deserialize, Default)]
struct PolicyQuery {
    #[serde(default)]
    org: String,
    saved: Option<String>,
}

#[derive(Deserialize, Default)]
struct PolicyForm {
    #[serde(default)]
    org: String,
    #[serde(default)]
    required_from: String,
    #[serde(default)]
    reminder_days: String,
    #[serde(default)]
    max_snoozes: String,
    #[serde(default)]
    snooze_days: String,
    user_totp: Option<String>,
    user_sms: Option<String>,
    user_voice: Option<String>,
    user_fido2: Option<String>,
    admin_totp: Option<String>,
    admin_sms: Option<String>,
    admin_voice: Option<String>,
    admin_fido2: Option<String>,
}

impl PolicyForm {
    fn list(&self, admin: bool) -> String {
        let ticks = if admin {
            [
                &self.admin_totp,
                &self.admin_sms,
                &self.admin_voice,
                &self.admin_fido2,
            ]
        } else {
            [
                &self.user_totp,
                &self.user_sms,
                &self.user_voice,
                &self.user_fido2,
            ]
        };
        MethodKind::ALL
            .iter()
            .zip(ticks)
            .filter(|(_, t)| t.is_some())
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn boxes(prefix: &'static str, set: MethodSet) -> Vec<PolicyMethodBox> {
    MethodKind::ALL
        .iter()
        .map(|k| PolicyMethodBox {
            name: match (prefix, k) {
                ("user", MethodKind::Totp) => "user_totp",
                ("user", MethodKind::Sms) => "user_sms",
                ("user", MethodKind::Voice) => "user_voice",
                ("user", MethodKind::Fido2) => "user_fido2",
                (_, MethodKind::Totp) => "admin_totp",
                (_, MethodKind::Sms) => "admin_sms",
                (_, MethodKind::Voice) => "admin_voice",
                (_, MethodKind::Fido2) => "admin_fido2",
            },
            label: k.label(),
            checked: set.contains(*k),
        })
        .collect()
}

async fn render_page(
    app: &AppState,
    admin: &AdminSession,
    org: &str,
    form: Option<&PolicyForm>,
    errors: Vec<FieldError>,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let scope = if org.is_empty() { NATIONAL } else { org };
    let (national, own) = app.store.policy_settings(scope).await?;
    let effective = if scope == NATIONAL {
        MfaPolicy::effective(national.as_ref(), None)
    } else {
        MfaPolicy::effective(national.as_ref(), own.as_ref())
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let error_for = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let value = |typed: Option<&String>, current: String| match typed {
        Some(t) => t.clone(),
        None => current,
    };
    let page = AdminPolicyPage {
        chrome: admin.chrome(app),
        org: org.to_string(),
        notice,
        required_from: value(
            form.map(|f| &f.required_from),
            effective
                .required_from
                .map(crate::clock::rfc3339)
                .map(|d| d[..10].to_string())
                .unwrap_or_default(),
        ),
        current: format!(
            "MFA {}; users may use {}; administrators may use {}; reminders from {} days before; {} snoozes of {} days.",
            effective
                .required_from
                .map(|d| format!("required from {}", crate::clock::human_date(d)))
                .unwrap_or_else(|| "not yet required (no date set)".into()),
            effective.user_methods.labels(),
            effective.admin_methods.labels(),
            effective.reminder_days,
            effective.max_snoozes,
            effective.snooze_days,
        ),
        reminder_days: value(
            form.map(|f| &f.reminder_days),
            effective.reminder_days.to_string(),
        ),
        max_snoozes: value(
            form.map(|f| &f.max_snoozes),
            effective.max_snoozes.to_string(),
        ),
        snooze_days: value(
            form.map(|f| &f.snooze_days),
            effective.snooze_days.to_string(),
        ),
        user_methods: boxes("user", effective.user_methods),
        admin_methods: boxes("admin", effective.admin_methods),
        date_error: error_for("required_from"),
        user_methods_error: error_for("user_totp"),
        admin_methods_error: error_for("admin_totp"),
        numbers_error: error_for("reminder_days"),
        org_error: error_for("show-org"),
        errors,
    };
    Ok(render(status, &page))
}

async fn page(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<PolicyQuery>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "policy.view").await?;
    let notice = query
        .saved
        .map(|_| "The policy was saved. It applies from each person's next sign-in.".to_string());
    let org = query.org.trim().to_uppercase();
    render_page(&app, &admin, &org, None, vec![], notice).await
}

async fn save(
    State(app): State<AppState>,
    admin: AdminSession,
    CsrfForm(form): CsrfForm<PolicyForm>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "policy.change").await?;
    let org = form.org.trim().to_uppercase();
    let number = |text: &str| text.trim().parse::<i64>().map_err(|_| ());
    let numbers = (
        number(&form.reminder_days),
        number(&form.max_snoozes),
        number(&form.snooze_days),
    );
    let (Ok(reminder_days), Ok(max_snoozes), Ok(snooze_days)) = numbers else {
        let errors = vec![FieldError {
            field: "reminder_days",
            message: "Enter whole numbers for the reminder period and the snoozes".into(),
        }];
        return render_page(&app, &admin, &org, Some(&form), errors, None).await;
    };
    let user_list = form.list(false);
    let admin_list = form.list(true);
    let change = PolicyChange {
        org: (!org.is_empty()).then_some(org.as_str()),
        required_from: (!form.required_from.trim().is_empty())
            .then_some(form.required_from.as_str()),
        user_methods: Some(&user_list),
        admin_methods: Some(&admin_list),
        reminder_days: Some(reminder_days),
        max_snoozes: Some(max_snoozes),
        snooze_days: Some(snooze_days),
    };
    let saved = policy::change_policy(
        &app.store,
        change,
        Some(&admin.session.account),
        &admin.requester,
        admin.now,
    )
    .await;
    let field = |e: &PolicyError| match e {
        PolicyError::BadDate(_) => "required_from",
        PolicyError::UnknownOrganisation(_) => "show-org",
        PolicyError::OutOfRange(..) => "reminder_days",
        _ => "user_totp",
    };
    match saved {
        Ok(_) => {
            let target = if org.is_empty() {
                "/admin/policy?saved=1".to_string()
            } else {
                format!("/admin/policy?org={org}&saved=1")
            };
            Ok(Redirect::to(&target).into_response())
        }
        Err(PolicyError::Storage(e)) => Err(e.into()),
        Err(PolicyError::NoMethods) => {
            // Which list was empty decides where the message goes.
            let field = if user_list.is_empty() {
                "user_totp"
            } else {
                "admin_totp"
            };
            let errors = vec![FieldError {
                field,
                message: "Select at least one method".into(),
            }];
            render_page(&app, &admin, &org, Some(&form), errors, None).await
        }
        Err(e) => {
            let errors = vec![FieldError {
                field: field(&e),
                message: sentence(&e.to_string()),
            }];
            let org_shown = if matches!(e, PolicyError::UnknownOrganisation(_)) {
                ""
            } else {
                &org
            };
            render_page(&app, &admin, org_shown, Some(&form), errors, None).await
        }
    }
}

/// Error texts from the domain start in lower case for the command line.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
