//! The NHS.UK frontend and our own small CSS/JS, embedded in the binary at build time
//! (build.rs), served with their content types.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::web::{AppError, AppState};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{*path}", get(asset))
}

async fn asset(Path(path): Path<String>) -> Result<impl IntoResponse, AppError> {
    let wanted = format!("/assets/{path}");
    let (_, content_type, bytes) = ASSETS
        .iter()
        .find(|(url, _, _)| *url == wanted)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        *bytes,
    ))
}
