//! OpenID Connect Back-Channel Logout 1.0, the relying party's side: the portal posts a logout
//! token when the person signs out everywhere (or removes the webmail's access), and every
//! webmail session of that person ends. The token is checked as §2.6 says: signed by a key of
//! the portal's JWKS (RS256 or ES256), our issuer and audience, not expired, the logout event,
//! a `sub`, and no `nonce`.

use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    logout_token: String,
}

pub async fn logout(State(app): State<AppState>, Form(form): Form<LogoutForm>) -> Response {
    let answer = |status: StatusCode, body: &str| {
        (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            body.to_string(),
        )
            .into_response()
    };
    match subject_of(&app, &form.logout_token).await {
        Ok(sub) => {
            let ended = app.end_sessions_of(&sub);
            println!("back-channel logout: {ended} session(s) ended");
            answer(StatusCode::OK, "")
        }
        Err(why) => {
            eprintln!("back-channel logout refused: {why}");
            answer(StatusCode::BAD_REQUEST, "invalid_request")
        }
    }
}

/// The `sub` of a valid logout token.
async fn subject_of(app: &AppState, token: &str) -> Result<String, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    if !matches!(
        header.alg,
        jsonwebtoken::Algorithm::RS256 | jsonwebtoken::Algorithm::ES256
    ) {
        return Err(format!("algorithm {:?} not accepted", header.alg));
    }
    let (_, metadata) = app.discover().await?;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(serde_json::to_value(metadata.jwks()).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let kid = header.kid.as_deref().ok_or("no kid")?;
    let jwk = jwks.find(kid).ok_or("unknown kid")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[app.settings.client_id.as_str()]);
    validation.set_issuer(&[app.settings.issuer.as_str().trim_end_matches('/')]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .map_err(|e| e.to_string())?
        .claims;
    if !claims["events"][EVENT].is_object() {
        return Err("not a logout token (events)".into());
    }
    if claims.get("nonce").is_some() {
        return Err("a logout token has no nonce".into());
    }
    claims["sub"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no sub".into())
}
