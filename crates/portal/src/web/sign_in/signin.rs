//! Sign-in and sign-out pages.

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::web::http::extract::{
    AnySession, CsrfForm, MaybeSignedIn, device_cookie_value, removal_of_session_cookie, safe_next,
    session_cookie, session_token, visitor_csrf,
};
use crate::web::http::pages::{Chrome, FieldError, render};
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::pages::{SignInPage, TapSignInPage};
use crate::web::{AppError, AppState};
use domain::audit::{AuditEvent, AuditTrail, Outcome};
use domain::devices;
use domain::monitoring::{self, Step};
use domain::networks::TrustMode;
use domain::password::Password;
use domain::policy::TEMPORARY_ACCESS_AMR;
use domain::risk::HighRiskAction;
use domain::risk::Level;
use domain::sessions::{self, NewSession, SessionStage};
use domain::signin::{self, SignInAttempt, SignInError, SignInStep};
use domain::temporary_access::PassCode;

/// A sign-in stopped because of its risk.
fn blocked_page() -> crate::web::http::pages::MessagePage {
    crate::web::http::pages::MessagePage {
        help: Some(("/help/unexpected-code".into(), "Help: I was asked for a code I didn't expect. What should I do?".into())),
        chrome: Chrome::anonymous(),
        heading: "We have stopped this sign-in".into(),
        paragraphs: vec![
            "This sign-in looked unusual, so we stopped it to protect the account. We have told the account's owner and their local administrator.".into(),
            "If it was you, try again from a device you have used before, or contact your local administrator.".into(),
        ],
        link: None,
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route(
            "/sign-in/temporary-access-pass",
            get(pass_page).post(sign_in_with_pass),
        )
}

async fn home(MaybeSignedIn(session): MaybeSignedIn) -> Redirect {
    match session {
        Some(_) => Redirect::to("/profile"),
        None => Redirect::to("/sign-in"),
    }
}

#[derive(Deserialize)]
struct SignInQuery {
    next: Option<String>,
    signed_out: Option<String>,
    reset: Option<String>,
    /// After "This wasn't me".
    reported: Option<String>,
    /// Back from setting a first password through an invitation.
    password_set: Option<String>,
    /// After "Sign out everywhere".
    everywhere: Option<String>,
}

async fn sign_in_page(
    State(app): State<AppState>,
    MaybeSignedIn(session): MaybeSignedIn,
    jar: CookieJar,
    Query(query): Query<SignInQuery>,
) -> Result<Response, AppError> {
    let next = safe_next(query.next.as_deref());
    if session.is_some() {
        return Ok(Redirect::to(next.as_deref().unwrap_or("/profile")).into_response());
    }
    let notice = if query.reset.is_some() {
        Some("Your password has been reset, and you have been signed out everywhere: apps such as mail apps must sign in again. Sign in with your new password.".to_string())
    } else if query.reported.is_some() {
        Some(
            "We have signed you out everywhere, ended the access of apps such as mail apps, and told your local administrator. Your password no longer works: choose “Forgotten your password?” to set a new one."
                .to_string(),
        )
    } else if query.everywhere.is_some() {
        Some(
            "You have been signed out everywhere. Apps such as mail apps must sign in again."
                .to_string(),
        )
    } else if query.password_set.is_some() {
        Some(
            "Your password has been saved. Sign in with your email address and new password."
                .to_string(),
        )
    } else {
        query.signed_out.map(|_| "You have signed out.".to_string())
    };
    Ok(sign_in_form(
        &app,
        jar,
        StatusCode::OK,
        SignInForm::default(),
        next,
        vec![],
        notice,
    ))
}

#[derive(Deserialize, Default)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

fn sign_in_form(
    app: &AppState,
    jar: CookieJar,
    status: StatusCode,
    form: SignInForm,
    next: Option<String>,
    errors: Vec<FieldError>,
    notice: Option<String>,
) -> Response {
    let (jar, csrf_token) = visitor_csrf(app, jar);
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let page = SignInPage {
        chrome: Chrome {
            signed_in: None,
            csrf_token,
            admin: false,
            time_left: None,
        },
        email_error: error_for("email"),
        password_error: error_for("password"),
        errors,
        email: form.email,
        next: next.unwrap_or_default(),
        notice,
    };
    (jar, render(status, &page)).into_response()
}

async fn sign_in(
    State(app): State<AppState>,
    FromClient(mut requester): FromClient,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<Response, AppError> {
    let jar = crate::web::http::device_id::ensure(&app, jar, &mut requester);
    let next = safe_next(Some(&form.next));
    let mut errors = vec![];
    if form.email.trim().is_empty() {
        errors.push(FieldError {
            field: "email",
            message: "Enter your email address".into(),
        });
    }
    if form.password.is_empty() {
        errors.push(FieldError {
            field: "password",
            message: "Enter your password".into(),
        });
    }
    if !errors.is_empty() {
        return Ok(sign_in_form(
            &app,
            jar,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            next,
            errors,
            None,
        ));
    }

    let attempt = SignInAttempt {
        email: &form.email,
        password: Password::new(&form.password),
        requester: &requester,
    };
    let now = app.now();
    let monitor = app.monitor(&requester);
    let result = signin::sign_in(&app.store, app.password_rules(), attempt, &monitor).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(SignInError::WrongPasswordOrEmail) => "wrong_password_or_email",
        Err(SignInError::Throttled { .. }) => "throttled",
        Err(SignInError::Disabled) => "disabled",
        Err(SignInError::ResetRequired) => "reset_required",
        Err(_) => "error",
    };
    metrics::counter!("nhsmal_sign_ins_total", "step" => "password", "outcome" => outcome)
        .increment(1);

    match result {
        Ok(step) => {
            // A new session id at every sign-in; any session this browser had ends (SE-2).
            if let Some(old) = session_token(&app, &jar) {
                sessions::end_session(&app.store, &old).await?;
            }
            let (account, assessment, mut stage) = match step {
                SignInStep::Done(account, a) => (account, a, SessionStage::SignedIn),
                SignInStep::SecondFactor(account, a) => (account, a, SessionStage::SecondFactor),
            };
            let policy = domain::policy::policy_for(&app.store, &account.org_code).await?;
            let remember_days = policy.remember_days_for(account.role);
            // High risk: refused, or only a strong method may finish it (configuration).
            let high = assessment.level == Level::High;
            if high {
                let methods = domain::mfa::methods_of(&app.store, &account.id).await?;
                let strong = monitoring::has_strong_method(&policy, account.role, &methods);
                let refuse = app.settings.risk.high_action == HighRiskAction::Refuse;
                if refuse || !strong {
                    let reason = if refuse {
                        "high_risk"
                    } else {
                        "high_risk_no_strong_method"
                    };
                    monitoring::sign_in_blocked(
                        &app.store,
                        &monitor,
                        &account,
                        &assessment,
                        reason,
                    )
                    .await?;
                    return Ok(
                        (jar, render(StatusCode::FORBIDDEN, &blocked_page())).into_response()
                    );
                }
            }
            let mut auth_methods = "pwd";
            // A trusted network (issue 24), for people, never administrators, and never for a
            // high-risk sign-in: the address is the TCP peer's, or a trusted proxy's word.
            let trust = (account.role == domain::accounts::Role::User && !high)
                .then(|| policy.networks.trust_at(&requester.ip))
                .flatten();
            // The stricter mode lets "Don't ask again on this device" last twice as long there.
            let remember_window = (remember_days, trust == Some(TrustMode::Remembered));
            if stage == SessionStage::SecondFactor
                && remember_days > 0
                && !high
                && let Some(cookie) = device_cookie_value(&app, &jar)
                && devices::recognise(&app.store, &account, &cookie, remember_window, now).await?
            {
                // This browser proved a second factor before and was remembered: the password
                // is enough, but nothing sensitive without proving a factor again.
                stage = SessionStage::SignedIn;
                auth_methods = "pwd mfa device";
                app.store
                    .append_audit(
                        &AuditEvent::new(
                            "sign_in.remembered_device",
                            Outcome::Success,
                            &requester,
                            now,
                        )
                        .account(&account.id),
                    )
                    .await?;
                monitoring::signed_in(
                    &app.store,
                    &monitor,
                    &account,
                    Step::SecondFactor,
                    "device",
                    &assessment,
                )
                .await?;
            } else if stage == SessionStage::SecondFactor
                && trust == Some(TrustMode::Skip)
                && signin::is_known_device(&app.store, &account, &requester, now).await?
            {
                // On a trusted network from a device the person has used: the password alone,
                // and the session says so (`amr` pwd, `acr` pwd), so an app that needs MFA
                // steps it up and anything sensitive asks for a factor.
                stage = SessionStage::SignedIn;
                auth_methods = "pwd trusted-network";
                app.store
                    .append_audit(
                        &AuditEvent::new(
                            "sign_in.trusted_network",
                            Outcome::Success,
                            &requester,
                            now,
                        )
                        .account(&account.id)
                        .reason(&requester.ip),
                    )
                    .await?;
                monitoring::signed_in(
                    &app.store,
                    &monitor,
                    &account,
                    Step::Password,
                    "trusted_network",
                    &assessment,
                )
                .await?;
            } else if stage == SessionStage::SignedIn {
                monitoring::signed_in(
                    &app.store,
                    &monitor,
                    &account,
                    Step::Password,
                    "password",
                    &assessment,
                )
                .await?;
            }
            let new = NewSession {
                stage,
                auth_methods,
                second_factor_at: None,
            };
            let token = sessions::start_session(&app.store, &account, new, &requester, now).await?;
            let jar = jar.add(session_cookie(&app, &token));
            let target = next.unwrap_or_else(|| "/profile".to_string());
            if stage == SessionStage::SecondFactor {
                let flow = Flow {
                    next: Some(target),
                    // Not offered when the sign-in looked risky.
                    remember_days: (remember_days > 0 && assessment.level < Level::Medium)
                        .then_some(remember_days),
                    risk_signals: Some(assessment.signal_names()),
                    strong_only: high,
                    ..Flow::default()
                };
                flow.save(&app, &token.storage_key()).await?;
                return Ok((jar, Redirect::to("/sign-in/verify")).into_response());
            }
            let target =
                crate::web::sign_in::rollout::after_sign_in(&app, &account, &requester, target)
                    .await?;
            Ok((jar, Redirect::to(&target)).into_response())
        }
        Err(SignInError::WrongPasswordOrEmail) => {
            let errors = vec![FieldError {
                field: "email",
                message: SignInError::WrongPasswordOrEmail.to_string(),
            }];
            let form = SignInForm {
                password: String::new(),
                ..form
            };
            Ok(sign_in_form(
                &app,
                jar,
                StatusCode::UNAUTHORIZED,
                form,
                next,
                errors,
                None,
            ))
        }
        Err(SignInError::Throttled { until }) => Err(AppError::TooManyRequests {
            retry_after: until - now,
            help: "/help/forgot-password",
            message: format!(
                "You have tried to sign in too many times. Wait until {} and try again. If you have forgotten your password, use “Forgotten your password?” on the sign-in page.",
                domain::clock::human(until)
            ),
        }),
        Err(SignInError::ResetRequired) => {
            let page = crate::web::http::pages::MessagePage {
                help: Some(("/help/forgot-password".into(), "Help: I forgot my password. How do I reset it?".into())),
                chrome: Chrome::anonymous(),
                heading: "You need to reset your password".into(),
                paragraphs: vec![
                    "Your password no longer works because a sign-in to your account was reported as not yours, or your administrator found your account may be compromised.".into(),
                    "Choose “Forgotten your password?” to prove it is you with your authentication method and set a new password.".into(),
                ],
                link: Some(("/forgotten-password".into(), "Forgotten your password?".into())),
            };
            Ok((jar, render(StatusCode::FORBIDDEN, &page)).into_response())
        }
        Err(SignInError::Disabled) => {
            let page = crate::web::http::pages::MessagePage {
                help: Some(("/help".into(), "Get help with the NHSmal Portal".into())),
                chrome: Chrome::anonymous(),
                heading: "Your account has been disabled".into(),
                paragraphs: vec![
                    "You cannot sign in to NHSmal at the moment. Contact your local administrator to have your account enabled.".into(),
                ],
                link: None,
            };
            Ok(render(StatusCode::FORBIDDEN, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn sign_out(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    session: Option<AnySession>,
    jar: CookieJar,
    CsrfForm(Empty {}): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    // A session still at the second step ends too.
    if let Some(AnySession(session)) = session {
        sessions::end_session(&app.store, &session.token).await?;
        let event = AuditEvent::new(
            "session.signed_out",
            Outcome::Success,
            &requester,
            app.now(),
        )
        .account(&session.account.id);
        app.store.append_audit(&event).await?;
    }
    let jar = jar.add(removal_of_session_cookie(&app));
    Ok((jar, Redirect::to("/sign-in?signed_out=1")).into_response())
}

#[derive(Deserialize, Default)]
struct PassForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    pass: String,
}

fn pass_form(
    app: &AppState,
    jar: CookieJar,
    status: StatusCode,
    email: String,
    errors: Vec<FieldError>,
) -> Response {
    let (jar, csrf_token) = visitor_csrf(app, jar);
    let error_for = |field: &str| crate::web::http::pages::error_for(&errors, field);
    let page = TapSignInPage {
        chrome: Chrome {
            signed_in: None,
            csrf_token,
            admin: false,
            time_left: None,
        },
        email_error: error_for("email"),
        pass_error: error_for("pass"),
        errors,
        email,
    };
    (jar, render(status, &page)).into_response()
}

async fn pass_page(State(app): State<AppState>, jar: CookieJar) -> Response {
    pass_form(&app, jar, StatusCode::OK, String::new(), vec![])
}

/// A temporary access pass in place of the password and second factor: the session it opens
/// can only set up a new method.
async fn sign_in_with_pass(
    State(app): State<AppState>,
    FromClient(requester): FromClient,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<PassForm>,
) -> Result<Response, AppError> {
    let mut errors = vec![];
    if form.email.trim().is_empty() {
        errors.push(FieldError {
            field: "email",
            message: "Enter your email address".into(),
        });
    }
    if form.pass.trim().is_empty() {
        errors.push(FieldError {
            field: "pass",
            message: "Enter your temporary access pass".into(),
        });
    }
    if !errors.is_empty() {
        return Ok(pass_form(
            &app,
            jar,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.email,
            errors,
        ));
    }
    let now = app.now();
    let code = PassCode::from_input(&form.pass);
    let result = signin::sign_in_with_pass(
        &app.store,
        &app.secrets,
        &app.settings.sign_in_limits,
        &form.email,
        &code,
        &requester,
        now,
    )
    .await;
    match result {
        Ok(account) => {
            if let Some(old) = session_token(&app, &jar) {
                sessions::end_session(&app.store, &old).await?;
            }
            let new = NewSession {
                stage: SessionStage::SignedIn,
                auth_methods: TEMPORARY_ACCESS_AMR,
                // The pass stands in for a proved factor, so enrolling asks for nothing more.
                second_factor_at: Some(now),
            };
            let token = sessions::start_session(&app.store, &account, new, &requester, now).await?;
            let jar = jar.add(session_cookie(&app, &token));
            Ok((jar, Redirect::to("/profile/self-service/enrol")).into_response())
        }
        Err(SignInError::WrongPasswordOrEmail) => Ok(pass_form(
            &app,
            jar,
            StatusCode::UNAUTHORIZED,
            form.email,
            vec![FieldError {
                field: "pass",
                message: "Enter a correct email address and temporary access pass. A pass works once and expires; ask your local administrator for a new one.".into(),
            }],
        )),
        Err(SignInError::Throttled { until }) => Err(AppError::TooManyRequests {
            retry_after: until - now,
            help: "/help/forgot-password",
            message: format!(
                "You have tried to sign in too many times. Wait until {} and try again.",
                domain::clock::human(until)
            ),
        }),
        Err(SignInError::Disabled) => Err(AppError::Forbidden(
            "Your account has been disabled. Contact your local administrator.".into(),
        )),
        Err(SignInError::ResetRequired) => Err(AppError::Forbidden(
            "Your password must be reset: choose “Forgotten your password?” on the sign-in page."
                .into(),
        )),
        Err(e) => Err(e.into()),
    }
}
