//! Browser security: response headers on every response and the Origin / Sec-Fetch-Site check
//! on every state-changing request to portal pages (tokens are checked by `CsrfForm`).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::csrf::CsrfLayer;

use super::{AppError, AppState};
use crate::config::Settings;

/// No inline script or style anywhere: the only scripts are files under /assets.
/// No `form-action`: browsers apply it to every redirect that follows a form submission, and
/// single sign-on ends with one (the sign-in or consent POST → /oauth2/authorize → the app's
/// registered redirect URI, another origin), which `form-action 'self'` blocks.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

pub async fn security_headers(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    // no-referrer: links out of the portal never carry a path that might hold state.
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    // Pages may show personal data: never cache them. /assets sets its own.
    set(headers, header::CACHE_CONTROL, "no-store");
    if app.settings.is_https() {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}

/// Refuses cross-site POSTs by their Origin / Sec-Fetch-Site headers (SE-6), with our page.
pub fn csrf_layer(
    settings: &Settings,
) -> CsrfLayer<impl Fn(tower_http::csrf::ProtectionError) -> Response + Clone + use<>> {
    let layer = CsrfLayer::new();
    let layer = match layer.clone().add_trusted_origin(settings.public_origin()) {
        Ok(with_origin) => with_origin,
        Err(_) => layer,
    };
    layer.with_rejection_response(|_error| AppError::CrossSiteRequest.into_response())
}
