//! Setting up a text message or a phone call (Self-enroll for MFA › Text message or Phone
//! call), and "Change number" on one: the number is proved (a code typed back, or a call
//! answered with #) before it is saved.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::enrol::{CHOICE, after_enrolment, fresh_factor_check};
use crate::web::http::extract::{CsrfForm, Enrolling, FromClient};
use crate::web::http::pages::{Chrome, FieldError, render};
use crate::web::profile::pages::EnrolPhonePage;
use crate::web::sign_in::flow::Flow;
use crate::web::{AppError, AppState};
use domain::mfa::{self, MethodKind, MfaError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/profile/self-service/enrol/text-message",
            get(phone_page).post(phone_step),
        )
        .route(
            "/profile/self-service/enrol/phone-call",
            get(phone_page).post(phone_step),
        )
}

fn phone_kind(uri: &axum::http::Uri) -> MethodKind {
    if uri.path().ends_with("/phone-call") {
        MethodKind::Voice
    } else {
        MethodKind::Sms
    }
}

struct PhoneView<'a> {
    kind: MethodKind,
    stage: &'static str,
    phone: &'a str,
    masked: String,
    /// "Change number" rather than a new method.
    changing: bool,
}

fn phone_form(
    app: &AppState,
    signed_in: &Enrolling,
    view: PhoneView<'_>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let kind = view.kind;
    let field = if view.stage == "number" {
        "phone"
    } else {
        "code"
    };
    let page = EnrolPhonePage {
        chrome: Chrome::signed_in(app, &signed_in.0),
        heading: match (kind, view.stage) {
            (_, "number") if view.changing => "Change your phone number".into(),
            (MethodKind::Voice, "call") => "Answer the call".into(),
            (_, "code") => "Enter the code we sent you".into(),
            (MethodKind::Voice, _) => "Set up phone calls".into(),
            _ => "Set up text messages".into(),
        },
        intro: match kind {
            MethodKind::Voice => "When you sign in, we will call this number and you press # to approve. We call it now to check it is yours.".into(),
            _ => "When you sign in, we will text a code to this number. We send one now to check it is yours.".into(),
        },
        action: format!("{CHOICE}/{}", kind.slug()),
        stage: view.stage,
        phone_label: if kind == MethodKind::Voice { "Phone number" } else { "Mobile phone number" },
        send_label: if kind == MethodKind::Voice { "Call me" } else { "Send code" },
        phone: view.phone.to_string(),
        masked: view.masked,
        errors: FieldError::on(field, &error),
        field_error: error,
        help: if kind == MethodKind::Voice {
            ("/help/set-up-phone-call", "Help with setting up phone calls")
        } else {
            ("/help/set-up-text-message", "Help with setting up text messages")
        },
    };
    render(status, &page)
}

#[derive(Deserialize)]
struct PhoneQuery {
    restart: Option<String>,
    /// "Change number": the id of the method whose number this set-up replaces.
    change: Option<String>,
}

async fn phone_page(
    State(app): State<AppState>,
    signed_in: Enrolling,
    uri: axum::http::Uri,
    Query(query): Query<PhoneQuery>,
) -> Result<Response, AppError> {
    let kind = phone_kind(&uri);
    let here = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    if let Some(redirect) = fresh_factor_check(&app, &signed_in, kind, here).await? {
        return Ok(redirect);
    }
    let mut flow = Flow::of(&signed_in.0);
    if let Some(id) = &query.change {
        // Only the person's own method of this kind; the number is asked for afresh.
        let methods = mfa::methods_of(&app.store, &signed_in.0.account.id).await?;
        if !methods.iter().any(|m| &m.id == id && m.kind == kind) {
            return Err(AppError::NotFound);
        }
        flow.replacing = Some(id.clone());
        flow.pending_phone = None;
        flow.save(&app, &signed_in.0.token.storage_key()).await?;
    }
    let changing = flow.replacing.is_some();
    let pending = flow.pending_phone.clone().filter(|p| p.kind == kind);
    if query.restart.is_some() || pending.is_none() {
        // A set-up started from "Self-enroll for MFA" adds a method, whatever came before.
        // ("Use a different number" restarts the same change.)
        let stale =
            query.change.is_none() && query.restart.is_none() && flow.replacing.take().is_some();
        if flow.pending_phone.take().is_some() || stale {
            flow.save(&app, &signed_in.0.token.storage_key()).await?;
        }
        let view = PhoneView {
            kind,
            changing: changing && !stale,
            stage: "number",
            phone: "",
            masked: String::new(),
        };
        return Ok(phone_form(&app, &signed_in, view, StatusCode::OK, None));
    }
    let pending = pending.unwrap_or_else(|| unreachable!("checked above"));
    let stage = if kind == MethodKind::Voice {
        "call"
    } else {
        "code"
    };
    let view = PhoneView {
        kind,
        changing,
        stage,
        phone: pending.phone.as_str(),
        masked: pending.phone.masked(),
    };
    Ok(phone_form(&app, &signed_in, view, StatusCode::OK, None))
}

#[derive(Deserialize)]
struct PhoneForm {
    #[serde(default)]
    step: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    code: String,
}

/// Send (or call), send again, verify the code, or continue after the call.
async fn phone_step(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    signed_in: Enrolling,
    uri: axum::http::Uri,
    CsrfForm(form): CsrfForm<PhoneForm>,
) -> Result<Response, AppError> {
    use domain::mfa::approvals::{self, ApprovalStatus};
    use domain::mfa::phone::{self, Purpose};
    let kind = phone_kind(&uri);
    let here = format!("{CHOICE}/{}", kind.slug());
    if let Some(redirect) = fresh_factor_check(&app, &signed_in, kind, &here).await? {
        return Ok(redirect);
    }
    let key = signed_in.0.token.storage_key();
    let mut flow = Flow::of(&signed_in.0);
    let account = &signed_in.0.account;
    let ctx = app.mfa(&requester);
    let changing = flow.replacing.is_some();
    let pending = flow.pending_phone.clone().filter(|p| p.kind == kind);
    let stage = if kind == MethodKind::Voice {
        "call"
    } else {
        "code"
    };

    let number = match (form.step.as_str(), &pending) {
        ("send", _) => match phone::parse_phone(&form.phone, kind == MethodKind::Sms) {
            Ok(n) => n,
            Err(e) => {
                let view = PhoneView {
                    kind,
                    changing,
                    stage: "number",
                    phone: &form.phone,
                    masked: String::new(),
                };
                return Ok(phone_form(
                    &app,
                    &signed_in,
                    view,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(e.to_string()),
                ));
            }
        },
        (_, Some(p)) => p.phone.clone(),
        (_, None) => return Ok(Redirect::to(&here).into_response()),
    };
    let error_view = |stage: &'static str| PhoneView {
        kind,
        changing,
        stage,
        phone: number.as_str(),
        masked: number.masked(),
    };

    let sending = form.step == "send" || form.step == "resend";
    if sending {
        let sent = match kind {
            MethodKind::Voice => approvals::place_call(
                &app.store,
                &ctx,
                account,
                &key,
                Purpose::Enrol,
                &number,
                &crate::web::sign_in::telephony::keypad_base(&app),
            )
            .await
            .map(Some),
            _ => phone::send_code(&app.store, &ctx, account, &key, Purpose::Enrol, &number)
                .await
                .map(|()| None),
        };
        match sent {
            Ok(approval) => {
                flow.pending_phone = Some(crate::web::sign_in::flow::PendingPhone {
                    kind,
                    phone: number.clone(),
                    approval,
                });
                flow.save(&app, &key).await?;
                return Ok(Redirect::to(&here).into_response());
            }
            Err(e @ (MfaError::TooManySends { .. } | MfaError::CallsStopped)) => {
                let shown = if form.step == "send" { "number" } else { stage };
                return Ok(phone_form(
                    &app,
                    &signed_in,
                    error_view(shown),
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(e.to_string()),
                ));
            }
            Err(e @ MfaError::ProviderFailed(_)) => {
                let shown = if form.step == "send" { "number" } else { stage };
                return Ok(phone_form(
                    &app,
                    &signed_in,
                    error_view(shown),
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(e.to_string()),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }

    // Proving the number: the code typed back, or the call answered with #.
    let proved = match kind {
        MethodKind::Voice => {
            let id = pending
                .as_ref()
                .and_then(|p| p.approval.clone())
                .unwrap_or_default();
            match approvals::take_approved(&app.store, &id, &key, Purpose::Enrol, ctx.now).await? {
                Ok(n) if n == number => Ok(n),
                Ok(_) => Err(MfaError::CodeExpired),
                Err(ApprovalStatus::Pending) => {
                    return Ok(phone_form(
                        &app,
                        &signed_in,
                        error_view("call"),
                        StatusCode::ACCEPTED,
                        Some("We are still waiting for you to answer the call and press #".into()),
                    ));
                }
                Err(ApprovalStatus::Denied) => {
                    flow.pending_phone = None;
                    flow.save(&app, &key).await?;
                    let view = PhoneView {
                        kind,
                        changing,
                        stage: "number",
                        phone: "",
                        masked: String::new(),
                    };
                    return Ok(phone_form(
                        &app,
                        &signed_in,
                        view,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("You pressed 0# on the call, so the number was not added".into()),
                    ));
                }
                Err(_) => {
                    return Ok(phone_form(
                        &app,
                        &signed_in,
                        error_view("call"),
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("The call has ended. Select Call again".into()),
                    ));
                }
            }
        }
        _ => phone::check_code(&app.store, &ctx, account, &key, Purpose::Enrol, &form.code).await,
    };
    match proved {
        Ok(n) if n == number => {
            let replaced = match flow.replacing.take() {
                Some(id) => mfa::methods_of(&app.store, &account.id)
                    .await?
                    .into_iter()
                    .find(|m| m.id == id && m.kind == kind),
                None => None,
            };
            match &replaced {
                Some(old) => {
                    mfa::phone::change_number(&app.store, account, old, &number, &ctx).await?
                }
                None => {
                    mfa::add_phone_method(&app.store, account, kind, &number, &ctx).await?;
                }
            }
            flow.pending_phone = None;
            let target = if replaced.is_some() {
                "/profile/self-service?number_changed=1".to_string()
            } else {
                after_enrolment(&mut flow)
            };
            flow.save(&app, &key).await?;
            Ok(Redirect::to(&target).into_response())
        }
        Ok(_) => Ok(phone_form(
            &app,
            &signed_in,
            error_view(stage),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(MfaError::CodeExpired.to_string()),
        )),
        Err(MfaError::Locked { until }) => Err(AppError::TooManyRequests {
            retry_after: until - ctx.now,
            help: "/help/code-not-accepted",
            message: format!(
                "There have been too many wrong codes. Try again after {}.",
                domain::clock::human(until)
            ),
        }),
        Err(e @ (MfaError::WrongCode { .. } | MfaError::CodeMissing | MfaError::CodeExpired)) => {
            Ok(phone_form(
                &app,
                &signed_in,
                error_view(stage),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(e.to_string()),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
