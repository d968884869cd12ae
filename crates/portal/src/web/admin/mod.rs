//! The admin area (`/admin`): local administrators for their organisation, national
//! administrators for everything. Every page needs a signed-in administrator who proved a
//! second factor in the last 15 minutes; authorization is checked on the server for every
//! page and action, and refusals are audited.

mod charts;
mod clients;
mod event_words;
mod exceptions;
mod export;
mod feedback;
mod home;
pub mod import;
pub(crate) mod pages;
mod reports;
mod risky_accounts;
mod rollout_kit;
mod sign_ins;

use crate::web::http::extract::FromClient;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::Method;
use axum::http::request::Parts;

use super::{AppError, AppState};
use crate::web::http::extract::SignedIn;
use crate::web::http::pages::Chrome;
use crate::web::sign_in::second_step::VERIFY;
use crate::web::sign_in::step_up::{needs_fresh_factor, prepare_fresh_factor};
use domain::admin::{Admin, AdminScope};
use domain::audit::{AuditEvent, Outcome, Requester};
use domain::mfa;
use domain::policy::policy_for;
use domain::sessions::SignedInSession;

mod audit;
mod policy;
pub(crate) mod signed_in;
pub(crate) mod users;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(home::router())
        .merge(users::router())
        .merge(exceptions::router())
        .merge(signed_in::router())
        .merge(audit::router())
        .merge(policy::router())
        .merge(feedback::router())
        .merge(import::router())
        .merge(reports::router())
        .merge(rollout_kit::router())
        .merge(sign_ins::router())
        .merge(risky_accounts::router())
        .merge(clients::router())
}

/// A signed-in administrator with a fresh second factor, and what they may manage.
pub struct AdminSession {
    pub session: SignedInSession,
    pub scope: AdminScope,
    pub requester: Requester,
    pub now: i64,
}

impl AdminSession {
    /// The administrator as the domain sees them.
    pub fn admin(&self) -> Admin<'_> {
        Admin {
            account: &self.session.account,
            scope: self.scope.clone(),
            requester: &self.requester,
            now: self.now,
        }
    }

    pub fn chrome(&self, app: &AppState) -> Chrome {
        Chrome::signed_in(app, &self.session)
    }

    /// Only national administrators: others get 403, and the refusal is audited.
    pub async fn require_national(&self, app: &AppState, action: &str) -> Result<(), AppError> {
        self.admin()
            .require_national(&app.store, action)
            .await
            .map_err(AppError::from)
    }
}

impl<S> FromRequestParts<S> for AdminSession
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let SignedIn(session) = SignedIn::from_request_parts(parts, state).await?;
        let FromClient(requester) = FromClient::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let now = app.now();
        let Some(scope) = AdminScope::of(&session.account) else {
            let event = AuditEvent::new("admin.denied", Outcome::Failure, &requester, now)
                .actor(&session.account.id)
                .reason(parts.uri.path());
            domain::admin::audit_denial(&app.store, &event).await?;
            return Err(AppError::Forbidden(
                "The admin area is for local and national administrators. If you need access, ask your local administrator.".into(),
            ));
        };
        // The admin area needs a method the policy allows administrators, proved in this
        // session (an SMS sign-in by an administrator held to FIDO2 and apps does not count)
        // within the last 15 minutes.
        let account = &session.account;
        let methods = mfa::methods_of(&app.store, &account.id).await?;
        let policy = policy_for(&app.store, &account.org_code).await?;
        let allowed = policy.allowed_for(account.role);
        // Where the policy holds administrators to the NHSmal Authenticator as their default
        // method (the real service does), the admin area waits until it is.
        if policy.admin_push_default
            && methods
                .first()
                .is_none_or(|m| m.kind != mfa::MethodKind::Push)
        {
            return Err(AppError::Refused {
                message: "Your organisation requires administrators to use the NHSmal Authenticator as their default method. Set it up under My Profile › Self-Service (Authenticator app › Receive notifications) and make it your default, then come back.".into(),
                help: "/help/set-up-nhsmal-authenticator",
            });
        }
        if !methods.iter().any(|m| allowed.contains(m.kind)) {
            return Err(AppError::Refused {
                message: format!(
                    "The admin area needs multi-factor authentication with a method your organisation allows for administrators ({}). Set one up under My Profile › Self-Service, then come back.",
                    allowed.labels()
                ),
                help: "/help/choosing-a-method",
            });
        }
        // Where the policy holds the admin area to a phishing-resistant sign-in, a security
        // key it must be: set up, and used in this session.
        let phishing_resistant = policy.admin_phishing_resistant;
        if phishing_resistant && !methods.iter().any(|m| m.kind == mfa::MethodKind::Fido2) {
            return Err(AppError::Refused {
                message: "Your organisation requires administrators to sign in to the admin area with a security key or a passkey. Add one under My Profile › Self-Service (Self-enroll for MFA › Passkey or FIDO2 token), then come back.".into(),
                help: "/help/set-up-security-key",
            });
        }
        // A security key, or a passkey (device-bound or synced), in this session.
        let used_key = domain::oidc::request::Acr::of_session(&session.record.auth_methods)
            == domain::oidc::request::Acr::PhishingResistant;
        let proved_allowed = session.record.auth_methods.split(' ').any(|v| v == "mfa");
        if !proved_allowed
            || (phishing_resistant && !used_key)
            || needs_fresh_factor(&session, true, now)
        {
            // Prove it again, then come back to this page (or the admin home after a form).
            let back_to = match parts.method {
                Method::GET => parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/admin".into()),
                _ => "/admin".into(),
            };
            if phishing_resistant {
                crate::web::sign_in::step_up::prepare_security_key_step(&app, &session, &back_to)
                    .await?;
            } else {
                prepare_fresh_factor(&app, &session, &back_to).await?;
            }
            return Err(AppError::Redirect(VERIFY.into()));
        }
        Ok(AdminSession {
            session,
            scope,
            requester,
            now,
        })
    }
}
