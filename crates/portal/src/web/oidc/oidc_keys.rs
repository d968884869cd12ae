//! The JWKS endpoint: the public keys that verify our ID tokens (discovery's `jwks_uri`).
//! Served from memory, serialised once per key load.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::web::AppState;

pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub fn router() -> Router<AppState> {
    Router::new().route(JWKS_PATH, get(jwks))
}

async fn jwks(State(app): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            // Short: a rotation's new key must reach relying parties soon.
            (header::CACHE_CONTROL, "public, max-age=60"),
            // Public keys; browser-based relying parties may fetch them.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        app.signing_keys.jwks_body().to_string(),
    )
}
