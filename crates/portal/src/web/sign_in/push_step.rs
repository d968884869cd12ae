//! The second step by push: the request sent to the NHSmal Authenticator as the step opens
//! (unless one is still out for this session and device), with what the app shows about it,
//! and the page's words when the person denied it.

use axum::http::StatusCode;
use axum::response::Response;

use crate::web::http::extract::AnySession;
use crate::web::http::pages::{Chrome, MessagePage, render};
use crate::web::sign_in::flow::Flow;
use crate::web::sign_in::second_step::mfa_context;
use crate::web::{AppError, AppState};
use domain::audit::Requester;
use domain::mfa::approvals::{ApprovalRecords, ApprovalStatus};
use domain::mfa::phone::Purpose;
use domain::mfa::push::{self, PushContext};
use domain::mfa::{Method, MfaError};
use domain::sessions::SessionStage;

/// What the waiting page says when "Continue" comes before the approval, and after the end.
pub(crate) const STILL_WAITING: &str =
    "We are still waiting for you to approve the request in the NHSmal Authenticator";
pub(crate) const ENDED: &str = "The request has ended. Select Send again";

/// What the app is told about this sign-in: the app being signed in to (named when an app
/// sent the person here), the place and address, the browser, the time.
pub(crate) async fn context(
    app: &AppState,
    requester: &Requester,
    flow: &Flow,
    purpose: Purpose,
) -> Result<PushContext, AppError> {
    let action = match purpose {
        Purpose::PasswordReset => "Resetting your password",
        Purpose::Enrol => "Adding this device",
        Purpose::SignIn => "Signing in",
    };
    let mut app_name = "NHSmal Portal".to_string();
    if let Some(next) = flow.next.as_deref()
        && next.starts_with(crate::web::oidc::endpoints::AUTHORIZE)
        && let Some((_, query)) = next.split_once('?')
        && let Some(client_id) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.into_owned())
        && let Some((client, _)) =
            domain::oidc::clients::ClientRecords::client_with_secret(&app.store, &client_id).await?
    {
        app_name = client.name;
    }
    Ok(PushContext {
        action: action.into(),
        app: app_name,
        location: requester
            .location
            .as_ref()
            .map_or_else(|| "Unknown".into(), |l| l.place.clone()),
        ip: requester.ip.clone(),
        browser: domain::notices::describe_device(&requester.user_agent),
        at: app.now(),
    })
}

/// Sends the push for this step, unless one is still out for this session and device (or
/// `force`, "Send again"). Ok: the live request's id; Err: what to tell the person (fatigue,
/// the hourly limit), with its status.
pub(crate) async fn reach(
    app: &AppState,
    requester: &Requester,
    session: &AnySession,
    method: &Method,
    force: bool,
) -> Result<Result<Option<String>, (StatusCode, String)>, AppError> {
    let mut flow = Flow::of(&session.0);
    if flow.use_code {
        return Ok(Ok(None));
    }
    let ctx = mfa_context(app, requester, session);
    if !force
        && let Some(id) = &flow.approval
        && let Some(a) = app.store.approval(id).await?
        && a.channel == "push"
        && a.device_id == method.credential_id
        && matches!(
            a.status_at(ctx.now),
            ApprovalStatus::Pending | ApprovalStatus::Approved
        )
    {
        return Ok(Ok(Some(a.id)));
    }
    let purpose = if session.0.record.stage == SessionStage::PasswordReset {
        Purpose::PasswordReset
    } else {
        Purpose::SignIn
    };
    let context = context(app, requester, &flow, purpose).await?;
    // A risky sign-in is not announced to the app: the person sees it only when they open the
    // app themselves. An unexpected push is what a fatigue attack relies on.
    let silent = flow.strong_only || flow.assessment().level >= domain::risk::Level::Medium;
    let key = session.0.token.storage_key();
    match push::send_push(
        &app.store,
        &ctx,
        &session.0.account,
        method,
        &key,
        purpose,
        &context,
        silent,
    )
    .await
    {
        Ok(approval) => {
            flow.approval = Some(approval.id.clone());
            flow.save(app, &key).await?;
            app.push_bell.ring_for(approval.device_id.clone());
            Ok(Ok(Some(approval.id)))
        }
        Err(e @ (MfaError::PushesSuspended { .. } | MfaError::TooManySends { .. })) => {
            Ok(Err((StatusCode::TOO_MANY_REQUESTS, e.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}

/// The request was denied in the app (or a wrong number was typed there): this sign-in is
/// over, and the page says what to do if it was not the person.
pub(crate) fn refused_page() -> Response {
    let page = MessagePage {
        help: Some((
            "/help/unexpected-code".into(),
            "Help: I was asked to approve a sign-in I didn't expect. What should I do?".into(),
        )),
        chrome: Chrome::anonymous(),
        heading: "Sign-in refused".into(),
        paragraphs: vec![
            "The request was denied in the NHSmal Authenticator, or the number typed there was not the one on this page, so we have stopped this sign-in.".into(),
            "If it was you, sign in again and type the number exactly as this page shows it. If it was not you, someone may know your password: change it as soon as you can.".into(),
        ],
        link: Some(("/sign-in".into(), "Back to sign in".into())),
    };
    render(StatusCode::FORBIDDEN, &page)
}

/// The take-once of an approved push, for the form's "Continue".
pub(crate) async fn verify(
    app: &AppState,
    requester: &Requester,
    session: &AnySession,
) -> Result<Result<Method, domain::mfa::CallOutcome>, AppError> {
    let ctx = mfa_context(app, requester, session);
    let purpose = if session.0.record.stage == SessionStage::PasswordReset {
        Purpose::PasswordReset
    } else {
        Purpose::SignIn
    };
    let approval = Flow::of(&session.0).approval.unwrap_or_default();
    Ok(push::verify_push(
        &app.store,
        &session.0.account,
        &session.0.token.storage_key(),
        purpose,
        &approval,
        &ctx,
    )
    .await)
}
