//! The second factor proved: the session gets a new id (SE-2) at its new stage, the sign-in is
//! logged, and the person goes on to where they were going (or, in a password reset, to the
//! next method or the new password). Used by codes, security keys and recovery codes alike.

use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::web::http::extract::{AnySession, session_cookie};
use crate::web::sign_in::flow::{Flow, ResetProof};
use crate::web::sign_in::reset_step;
use crate::web::{AppError, AppState};
use domain::audit::Requester;
use domain::clock::UnixTime;
use domain::mfa::MethodKind;
use domain::policy;
use domain::sessions::{self, NewSession, SessionStage, SessionToken};

/// The second factor is proved: a new session (new id), signed in, recording the methods
/// used (RFC 8176 `amr`) and when; then on to where the person was going.
pub(crate) async fn complete(
    app: &AppState,
    session: &AnySession,
    kind: MethodKind,
    requester: &Requester,
    jar: CookieJar,
) -> Result<Response, AppError> {
    complete_as(app, session, kind, kind.amr(), requester, jar).await
}

/// As `complete`, where the method proved itself another way than its usual one (a push
/// method's TOTP code: `amr` "otp").
pub(crate) async fn complete_as(
    app: &AppState,
    session: &AnySession,
    kind: MethodKind,
    amr_value: &str,
    requester: &Requester,
    jar: CookieJar,
) -> Result<Response, AppError> {
    if session.0.record.stage == SessionStage::PasswordReset {
        let flow = Flow::of(&session.0);
        return reset_progress(app, session, flow, ResetProof::Method(kind), requester, jar).await;
    }
    // A method the policy no longer allows proves who the person is, but does not count as
    // MFA: without "mfa" the session is held to enrolling an allowed method when required.
    let account = &session.0.account;
    let policy = policy::policy_for(&app.store, &account.org_code).await?;
    let counts = policy.counts_as_mfa(account.role, kind);
    complete_with(app, session, amr_value, counts, requester, jar).await
}

/// The second factor (`amr_value`, RFC 8176) is proved: a new session (new id), signed in,
/// recording it and when; `counts` says whether it counts as MFA under the policy.
pub async fn complete_with(
    app: &AppState,
    session: &AnySession,
    amr_value: &str,
    counts: bool,
    requester: &Requester,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let now = app.now();
    let flow = Flow::of(&session.0);
    let account = &session.0.account;
    let mut amr: Vec<&str> = session.0.record.auth_methods.split(' ').collect();
    for value in [amr_value, "mfa"] {
        if !amr.contains(&value) && (value != "mfa" || counts) {
            amr.push(value);
        }
    }
    let new = NewSession {
        stage: SessionStage::SignedIn,
        auth_methods: &amr.join(" "),
        second_factor_at: Some(now),
    };
    let token = rotate(app, session, new, requester, now).await?;
    let jar = jar.add(session_cookie(app, &token));
    // A sign-in (not a step-up of one already signed in) is logged with the risk its password
    // step found; an unusual one emails the person.
    if session.0.record.stage == SessionStage::SecondFactor {
        let monitor = app.monitor(requester);
        domain::monitoring::signed_in(
            &app.store,
            &monitor,
            account,
            domain::monitoring::Step::SecondFactor,
            amr_value,
            &flow.assessment(),
        )
        .await?;
    }
    let mut target = flow.next.unwrap_or_else(|| "/profile".to_string());
    if !counts {
        target =
            crate::web::sign_in::rollout::after_sign_in(app, account, requester, target).await?;
    }
    Ok((jar, Redirect::to(&target)).into_response())
}

/// A method proved during a password reset: on to the next method, or to the new password.
/// Each step gets a new session id, as at sign-in.
pub(crate) async fn reset_progress(
    app: &AppState,
    session: &AnySession,
    mut flow: Flow,
    proof: ResetProof,
    requester: &Requester,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let now = app.now();
    let Some(mut progress) = flow.reset.take() else {
        return Err(AppError::SignInRequired { next: None });
    };
    match proof {
        ResetProof::Method(kind) if !progress.proved.contains(&kind) => progress.proved.push(kind),
        ResetProof::Method(_) => {}
        ResetProof::RecoveryCode => progress.recovery_code = true,
    }
    let done = progress.done();
    let new = NewSession {
        stage: SessionStage::PasswordReset,
        auth_methods: "",
        second_factor_at: Some(now),
    };
    let token = rotate(app, session, new, requester, now).await?;
    flow.reset = Some(progress);
    flow.method = None;
    flow.approval = None;
    flow.reset_kind = None;
    flow.reset_chosen_at = None;
    // A challenge answered is never carried into the next session (WA-1).
    flow.key_authentication = None;
    flow.save(app, &token.storage_key()).await?;
    let jar = jar.add(session_cookie(app, &token));
    let target = if done {
        crate::web::sign_in::reset::NEW_PASSWORD
    } else {
        reset_step::CHOOSE
    };
    Ok((jar, Redirect::to(target)).into_response())
}

/// One write gives the session a new id at its new stage; of two requests racing with the
/// same session, only one gets it and the other must sign in again.
async fn rotate(
    app: &AppState,
    session: &AnySession,
    new: NewSession<'_>,
    requester: &Requester,
    now: UnixTime,
) -> Result<SessionToken, AppError> {
    sessions::rotate_session(
        &app.store,
        &session.0.token,
        &session.0.account,
        new,
        requester,
        now,
    )
    .await?
    .ok_or(AppError::SignInRequired { next: None })
}
