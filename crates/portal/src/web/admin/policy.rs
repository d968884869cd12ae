//! The MFA policy page for national administrators: the national policy and any
//! organisation's overrides. The form shows the scope's own settings; an empty field (or, for
//! an organisation, no method ticked) follows the national policy or the default, so saving an
//! organisation never freezes national values into it.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AdminSession;
use crate::web::admin::pages::{AdminPolicyPage, PolicyMethodBox};
use crate::web::http::extract::CsrfForm;
use crate::web::http::pages::{FieldError, render};
use crate::web::{AppError, AppState};
use domain::mfa::MethodKind;
use domain::organisations::OrganisationRecords;
use domain::policy::{
    self, MethodSet, MfaPolicy, NATIONAL, PolicyChange, PolicyError, PolicyRecords, PolicySettings,
};

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
    #[serde(default)]
    remember_days_user: String,
    #[serde(default)]
    remember_days_admin: String,
    /// "yes", "no", or empty to follow the national policy (or the default).
    #[serde(default)]
    recovery_codes_for_reset: String,
    user_totp: Option<String>,
    user_sms: Option<String>,
    user_voice: Option<String>,
    user_fido2: Option<String>,
    admin_totp: Option<String>,
    admin_sms: Option<String>,
    admin_voice: Option<String>,
    admin_fido2: Option<String>,
    user_push: Option<String>,
    admin_push: Option<String>,
}

impl PolicyForm {
    fn ticked(&self, admin: bool) -> [bool; 5] {
        let ticks = if admin {
            [
                &self.admin_totp,
                &self.admin_sms,
                &self.admin_voice,
                &self.admin_fido2,
                &self.admin_push,
            ]
        } else {
            [
                &self.user_totp,
                &self.user_sms,
                &self.user_voice,
                &self.user_fido2,
                &self.user_push,
            ]
        };
        ticks.map(Option::is_some)
    }

    fn list(&self, admin: bool) -> String {
        MethodKind::ALL
            .iter()
            .zip(self.ticked(admin))
            .filter(|(_, t)| *t)
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn box_name(admin: bool, kind: MethodKind) -> &'static str {
    match (admin, kind) {
        (false, MethodKind::Totp) => "user_totp",
        (false, MethodKind::Sms) => "user_sms",
        (false, MethodKind::Voice) => "user_voice",
        (false, MethodKind::Fido2) => "user_fido2",
        (true, MethodKind::Totp) => "admin_totp",
        (true, MethodKind::Sms) => "admin_sms",
        (true, MethodKind::Voice) => "admin_voice",
        (true, MethodKind::Fido2) => "admin_fido2",
        (false, MethodKind::Push) => "user_push",
        (true, MethodKind::Push) => "admin_push",
    }
}

fn boxes(admin: bool, ticked: [bool; 5]) -> Vec<PolicyMethodBox> {
    MethodKind::ALL
        .iter()
        .zip(ticked)
        .map(|(k, checked)| PolicyMethodBox {
            name: box_name(admin, *k),
            label: k.label(),
            checked,
        })
        .collect()
}

fn ticked_in(set: Option<MethodSet>) -> [bool; 5] {
    let mut out = [false; 5];
    if let Some(set) = set {
        for (i, k) in MethodKind::ALL.iter().enumerate() {
            out[i] = set.contains(*k);
        }
    }
    out
}

fn number(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The page for a scope: its own settings in the form (or what was typed), and what applies.
async fn render_page(
    app: &AppState,
    admin: &AdminSession,
    org: &str,
    form: Option<&PolicyForm>,
    errors: Vec<FieldError>,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let national_scope = org.is_empty();
    let known_org = national_scope || app.store.organisation(org).await?.is_some();
    let mut errors = errors;
    if !known_org && errors.is_empty() {
        errors.push(FieldError {
            field: "show-org",
            message: format!("No organisation with code {org}"),
        });
    }
    let scope = if national_scope { NATIONAL } else { org };
    let (national, own) = app.store.policy_settings(scope).await?;
    let (effective, mine) = if national_scope {
        (
            MfaPolicy::effective(national.as_ref(), None),
            national.clone().unwrap_or_default(),
        )
    } else {
        (
            MfaPolicy::effective(national.as_ref(), own.as_ref()),
            own.clone().unwrap_or_default(),
        )
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let typed = |f: fn(&PolicyForm) -> &String, current: String| match form {
        Some(form) => f(form).clone(),
        None => current,
    };
    let date = |s: &PolicySettings| {
        s.required_from
            .map(domain::clock::rfc3339)
            .map(|d| d[..10].to_string())
            .unwrap_or_default()
    };
    let page = AdminPolicyPage {
        chrome: admin.chrome(app),
        org: org.to_string(),
        national: national_scope,
        can_save: known_org,
        notice,
        current: format!(
            "MFA {}; users may use {}; administrators may use {}; reminders from {} days before; {} snoozes of {} days; devices remembered for {} days (administrators {}); recovery codes {} for a password reset.",
            effective
                .required_from
                .map(|d| format!("required from {}", domain::clock::human_date(d)))
                .unwrap_or_else(|| "not yet required (no date set)".into()),
            effective.user_methods.labels(),
            effective.admin_methods.labels(),
            effective.reminder_days,
            effective.max_snoozes,
            effective.snooze_days,
            effective.remember_days_user,
            effective.remember_days_admin,
            if effective.recovery_codes_for_reset {
                "count"
            } else {
                "do not count"
            },
        ),
        required_from: typed(|f| &f.required_from, date(&mine)),
        reminder_days: typed(|f| &f.reminder_days, number(mine.reminder_days)),
        max_snoozes: typed(|f| &f.max_snoozes, number(mine.max_snoozes)),
        snooze_days: typed(|f| &f.snooze_days, number(mine.snooze_days)),
        remember_days_user: typed(|f| &f.remember_days_user, number(mine.remember_days_user)),
        remember_days_admin: typed(|f| &f.remember_days_admin, number(mine.remember_days_admin)),
        recovery_codes_for_reset: typed(
            |f| &f.recovery_codes_for_reset,
            match mine.recovery_codes_for_reset {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => String::new(),
            },
        ),
        user_methods: boxes(
            false,
            form.map(|f| f.ticked(false))
                .unwrap_or_else(|| ticked_in(mine.user_methods)),
        ),
        admin_methods: boxes(
            true,
            form.map(|f| f.ticked(true))
                .unwrap_or_else(|| ticked_in(mine.admin_methods)),
        ),
        date_error: error_for("required_from"),
        user_methods_error: error_for("user_totp"),
        admin_methods_error: error_for("admin_totp"),
        reminder_error: error_for("reminder_days"),
        snoozes_error: error_for("max_snoozes"),
        snooze_days_error: error_for("snooze_days"),
        remember_user_error: error_for("remember_days_user"),
        remember_admin_error: error_for("remember_days_admin"),
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
    let mut errors = vec![];
    let mut number = |text: &str, field: &'static str, what: &str| -> Option<i64> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match text.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError {
                    field,
                    message: format!("Enter {what} as a whole number, or leave it empty"),
                });
                None
            }
        }
    };
    let reminder_days = number(&form.reminder_days, "reminder_days", "the reminder period");
    let max_snoozes = number(&form.max_snoozes, "max_snoozes", "the number of snoozes");
    let snooze_days = number(&form.snooze_days, "snooze_days", "the snooze length");
    let remember_days_user = number(
        &form.remember_days_user,
        "remember_days_user",
        "the days a device is remembered",
    );
    let remember_days_admin = number(
        &form.remember_days_admin,
        "remember_days_admin",
        "the days an administrator's device is remembered",
    );
    let user_list = form.list(false);
    let admin_list = form.list(true);
    // Nationally at least one method each; an organisation with none ticked follows the nation.
    if org.is_empty() {
        for (list, field) in [(&user_list, "user_totp"), (&admin_list, "admin_totp")] {
            if list.is_empty() {
                errors.push(FieldError {
                    field,
                    message: "Select at least one method".into(),
                });
            }
        }
    }
    if !errors.is_empty() {
        return render_page(&app, &admin, &org, Some(&form), errors, None).await;
    }
    let change = PolicyChange {
        org: (!org.is_empty()).then_some(org.as_str()),
        required_from: (!form.required_from.trim().is_empty())
            .then_some(form.required_from.as_str()),
        user_methods: (!user_list.is_empty()).then_some(user_list.as_str()),
        admin_methods: (!admin_list.is_empty()).then_some(admin_list.as_str()),
        reminder_days,
        max_snoozes,
        snooze_days,
        remember_days_user,
        remember_days_admin,
        recovery_codes_for_reset: match form.recovery_codes_for_reset.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        admin_push_default: None,
        admin_phishing_resistant: None,
        strength: Default::default(),
        networks: Default::default(),
        replace: true,
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
        PolicyError::OutOfRange(what, ..) if what.contains("administrator") => {
            "remember_days_admin"
        }
        PolicyError::OutOfRange(what, ..) if what.contains("device") => "remember_days_user",
        PolicyError::OutOfRange(what, ..) if what.contains("reminder") => "reminder_days",
        PolicyError::OutOfRange(what, ..) if what.contains("number") => "max_snoozes",
        PolicyError::OutOfRange(..) => "snooze_days",
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
        Err(e) => {
            let errors = vec![FieldError {
                field: field(&e),
                message: sentence(&e.to_string()),
            }];
            render_page(&app, &admin, &org, Some(&form), errors, None).await
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
