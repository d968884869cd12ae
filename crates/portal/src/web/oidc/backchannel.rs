//! OpenID Connect Back-Channel Logout 1.0: after "Sign out everywhere", each app that
//! registered a `backchannel_logout_uri` is sent a logout token (a JWT signed like an ID token)
//! naming the person, so it ends its own sessions. Sent in the background with a short timeout:
//! the person's sign-out does not wait on an app, and an app that cannot be reached is logged
//! and audited (its tokens are revoked anyway).

use std::time::Duration;

use serde_json::json;

use crate::web::AppState;
use domain::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use domain::oidc::clients::ClientRecords;
use domain::signed_in::AppAccess;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const TIMEOUT: Duration = Duration::from_secs(5);

pub fn tell_apps(app: &AppState, requester: &Requester, account_id: &str, targets: Vec<AppAccess>) {
    if targets.is_empty() {
        return;
    }
    let (app, requester, account_id) = (app.clone(), requester.clone(), account_id.to_string());
    tokio::spawn(async move {
        for target in targets {
            let outcome = tell(&app, &account_id, &target).await;
            let (result, reason) = match &outcome {
                Ok(()) => (Outcome::Success, target.client_name.clone()),
                Err(e) => {
                    tracing::warn!(client = %target.client_id, error = %e, "back-channel logout not delivered");
                    (Outcome::Failure, format!("{}: {e}", target.client_name))
                }
            };
            let event = AuditEvent::new("oidc.backchannel_logout", result, &requester, app.now())
                .account(&account_id)
                .subject(&target.client_id)
                .reason(&reason);
            if let Err(e) = app.store.append_audit(&event).await {
                tracing::error!(error = %e, "back-channel logout audit event not written");
            }
        }
    });
}

async fn tell(app: &AppState, account_id: &str, target: &AppAccess) -> Result<(), String> {
    let uri = target.backchannel_logout_uri.as_deref().unwrap_or_default();
    let Some((client, _)) = app
        .store
        .client_with_secret(&target.client_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err("the app is no longer registered".into());
    };
    let now = app.now();
    let claims = json!({
        "iss": super::tokens::issuer(app),
        "aud": client.id,
        "sub": account_id,
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
        "events": { EVENT: {} },
    });
    let token = app
        .signing_keys
        .sign(client.id_token_alg, &claims)
        .map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let response = http
        .post(uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the app answered {}", response.status()))
    }
}
