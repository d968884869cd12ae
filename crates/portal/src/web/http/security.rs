//! Browser security: response headers on every response and the Origin / Sec-Fetch-Site check
//! on every state-changing request to portal pages (tokens are checked by `CsrfForm`).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::csrf::CsrfLayer;

use crate::config::Settings;
use crate::web::{AppError, AppState};

/// No inline script or style anywhere: the only scripts are files under /assets. The policy's
/// `form-action` is added by `FormTargets`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// Where a form on a portal page may lead: `form-action 'self'` and the origins of the
/// registered apps' redirect and post-logout URIs. Browsers apply `form-action` to every
/// redirect that follows a form submission, and single sign-on ends with one (the sign-in or
/// consent POST → /oauth2/authorize → the app's redirect URI; the sign-out confirmation → the
/// app's post-logout URI), so those origins, and no others, are listed. Loaded from the store
/// at start and every minute (another node or `nhsmal client add` may register an app), and
/// learnt at once from each request an app's registration has just validated.
#[derive(Default)]
pub struct FormTargets {
    origins: std::sync::RwLock<(std::collections::BTreeSet<String>, Option<HeaderValue>)>,
}

impl FormTargets {
    /// The Content-Security-Policy header for this moment.
    pub fn csp(&self) -> HeaderValue {
        if let Ok(guard) = self.origins.read()
            && let Some(value) = &guard.1
        {
            return value.clone();
        }
        policy(std::iter::empty())
    }

    /// Adds the origin of `uri`, a redirect URI an app registered.
    pub fn learn(&self, uri: &str) {
        let Some(origin) = origin_of(uri) else {
            return;
        };
        if let Ok(guard) = self.origins.read()
            && guard.0.contains(&origin)
        {
            return;
        }
        if let Ok(mut guard) = self.origins.write() {
            guard.0.insert(origin);
            guard.1 = Some(policy(guard.0.iter()));
        }
    }

    /// Replaces the list with the origins of `uris` (every registered app's URIs).
    pub fn replace<'a>(&self, uris: impl Iterator<Item = &'a str>) {
        let origins: std::collections::BTreeSet<String> = uris.filter_map(origin_of).collect();
        if let Ok(mut guard) = self.origins.write() {
            guard.1 = Some(policy(origins.iter()));
            guard.0 = origins;
        }
    }
}

/// The origin of a registered URI, as CSP writes it: `https://mail.example` or
/// `http://localhost:8090`. None for anything that is not an http(s) URL with a host.
fn origin_of(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    // A CSP source expression cannot hold these; a registered URI never should.
    (!origin.contains([';', ',', ' ', '\'', '"'])).then_some(origin)
}

fn policy<'a>(origins: impl Iterator<Item = &'a String>) -> HeaderValue {
    let mut text = format!("{CSP}; form-action 'self'");
    for origin in origins {
        text.push(' ');
        text.push_str(origin);
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(CSP))
}

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
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| app.form_targets.csp());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_lists_self_and_each_registered_origin_once() {
        let targets = FormTargets::default();
        assert!(
            targets
                .csp()
                .to_str()
                .expect("text")
                .ends_with("form-action 'self'")
        );
        targets.replace(
            [
                "https://mail.example/callback",
                "https://mail.example/other",
                "http://localhost:8090/auth/callback",
                "com.example.app:/cb",
            ]
            .into_iter(),
        );
        targets.learn("http://127.0.0.1:41234/cb");
        let csp = targets.csp();
        assert!(
            csp.to_str().expect("text").ends_with(
                "form-action 'self' http://127.0.0.1:41234 http://localhost:8090 https://mail.example"
            ),
            "{csp:?}"
        );
    }
}
