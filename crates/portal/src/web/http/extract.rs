//! Extractors: the client (address, user agent, correlation id), the session, and forms
//! checked against their CSRF token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::web::http::observe::CorrelationId;
use crate::web::{AppError, AppState};
use domain::accounts::PasswordAction;
use domain::audit::Requester;
use domain::policy::{self, Access};
use domain::sessions::{self, SessionStage, SessionToken, SignedInSession};

const SESSION_COOKIE: &str = "nhsmal_session";
const CHANGE_PASSWORD: &str = "/profile/change-password";
const VISITOR_COOKIE: &str = "nhsmal_visitor";

/// Cookie names: `__Host-` on https so no subdomain can set or shadow them (SE-3).
pub fn cookie_name(app: &AppState, base: &'static str) -> String {
    if app.settings.is_https() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// HttpOnly, SameSite=Lax, Path=/, no Domain; Secure on https.
pub(crate) fn build_cookie(app: &AppState, base: &'static str, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::new(cookie_name(app, base), value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_path("/");
    cookie.set_secure(app.settings.is_https());
    cookie
}

const DEVICE_COOKIE: &str = "nhsmal_device";

/// The remembered-device cookie: unlike the session's, it outlives the browser session.
pub fn device_cookie(app: &AppState, value: String, max_age_seconds: i64) -> Cookie<'static> {
    let mut cookie = build_cookie(app, DEVICE_COOKIE, value);
    cookie.set_max_age(time::Duration::seconds(max_age_seconds));
    cookie
}

pub fn device_cookie_value(app: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(&cookie_name(app, DEVICE_COOKIE))
        .map(|c| c.value().to_string())
}

pub fn session_cookie(app: &AppState, token: &SessionToken) -> Cookie<'static> {
    build_cookie(app, SESSION_COOKIE, token.cookie_value().to_string())
}

pub fn removal_of_session_cookie(app: &AppState) -> Cookie<'static> {
    let mut cookie = build_cookie(app, SESSION_COOKIE, String::new());
    cookie.make_removal();
    cookie
}

pub fn session_token(app: &AppState, jar: &CookieJar) -> Option<SessionToken> {
    jar.get(&cookie_name(app, SESSION_COOKIE))
        .and_then(|c| SessionToken::from_cookie(c.value()))
}

/// A signed-out browser's form binding: a random value in a cookie, so that the sign-in form's
/// CSRF token is tied to this browser. Returns the jar (with the cookie added if new) and
/// the CSRF token for forms.
/// The visitor cookie's value, when the browser has one (it gets one with any form).
pub fn visitor_id(app: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(&cookie_name(app, VISITOR_COOKIE))
        .and_then(|c| SessionToken::from_cookie(c.value()))
        .map(|v| v.cookie_value().to_string())
}

pub fn visitor_csrf(app: &AppState, jar: CookieJar) -> (CookieJar, String) {
    let existing = jar
        .get(&cookie_name(app, VISITOR_COOKIE))
        .and_then(|c| SessionToken::from_cookie(c.value()));
    match existing {
        Some(v) => {
            let token = csrf_token(app, "visitor", v.cookie_value());
            (jar, token)
        }
        None => {
            let v = SessionToken::generate();
            let token = csrf_token(app, "visitor", v.cookie_value());
            let jar = jar.add(build_cookie(
                app,
                VISITOR_COOKIE,
                v.cookie_value().to_string(),
            ));
            (jar, token)
        }
    }
}

fn mac(app: &AppState, purpose: &str, binding: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; the key is 32 bytes.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&app.csrf_key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(binding.as_bytes());
    mac
}

/// The CSRF token for forms in a browser bound by `binding` (a session or visitor id).
pub fn csrf_token(app: &AppState, purpose: &str, binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(app, purpose, binding).finalize().into_bytes())
}

fn csrf_token_matches(app: &AppState, purpose: &str, binding: &str, token: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    // verify_slice compares in constant time.
    mac(app, purpose, binding).verify_slice(&bytes).is_ok()
}

/// The `Requester` of a request (address, browser, device, place), as an extractor: the
/// domain type is foreign to this crate, so it travels in this wrapper.
pub struct FromClient(pub Requester);

impl<S> FromRequestParts<S> for FromClient
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = match peer {
            Some(peer) => {
                client_address(peer, &parts.headers, &app.settings.trusted_proxies).to_string()
            }
            None => "unknown".into(),
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| sessions::truncate(ua, 512))
            .unwrap_or_default();
        let correlation_id = parts
            .extensions
            .get::<CorrelationId>()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        let jar = CookieJar::from_headers(&parts.headers);
        Ok(FromClient(Requester {
            user_agent,
            correlation_id,
            device: crate::web::http::device_id::hash_from(&app, &jar),
            location: locate(&app, &ip),
            ip,
        }))
    }
}

/// Roughly where a client address is, from the configured GeoIP database.
pub(crate) fn locate(app: &AppState, ip: &str) -> Option<domain::risk::Location> {
    let place = app.geo.as_ref()?.place_of(ip.parse().ok()?)?;
    Some(domain::risk::Location {
        place: match &place.city {
            Some(city) => format!("{city}, {}", place.country),
            None => place.country.clone(),
        },
        country: place.country,
        latitude: place.latitude,
        longitude: place.longitude,
    })
}

async fn any_session(parts: &Parts, app: &AppState) -> Result<Option<SignedInSession>, AppError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(token) = session_token(app, &jar) else {
        return Ok(None);
    };
    Ok(sessions::resume_session(&app.store, token, &app.settings.sessions, app.now()).await?)
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the
/// right-most address in X-Forwarded-For that is not itself a trusted proxy (the left-most
/// entries are whatever the client chose to send).
pub fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|hop| !trusted.contains(hop))
        .unwrap_or(peer)
}

/// The signed-in session, if any (a session still at the second step is not signed in).
pub struct MaybeSignedIn(pub Option<SignedInSession>);

impl<S> FromRequestParts<S> for MaybeSignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let session = any_session(parts, &app)
            .await?
            .filter(|s| s.record.stage == SessionStage::SignedIn);
        Ok(MaybeSignedIn(session))
    }
}

/// A session at either stage: the second-step pages serve both a sign-in under way and a
/// signed-in person asked to prove it is them again.
pub struct AnySession(pub SignedInSession);

impl AnySession {
    pub fn csrf_token(&self, app: &AppState) -> String {
        csrf_token(app, "session", self.0.token.cookie_value())
    }
}

impl<S> FromRequestParts<S> for AnySession
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        match any_session(parts, &app).await? {
            Some(session) => Ok(AnySession(session)),
            None => Err(AppError::SignInRequired { next: None }),
        }
    }
}

impl<S> axum::extract::OptionalFromRequestParts<S> for AnySession
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let app = AppState::from_ref(state);
        Ok(any_session(parts, &app).await?.map(AnySession))
    }
}

/// A signed-in session; without one, a GET is sent to sign in and brought back afterwards.
pub struct SignedIn(pub SignedInSession);

impl<S> FromRequestParts<S> for SignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        match any_session(parts, &app).await? {
            Some(session) if session.record.stage == SessionStage::SignedIn => {
                let access = policy::access(
                    &app.store,
                    &session.account,
                    &session.record.auth_methods,
                    app.now(),
                )
                .await?;
                match access {
                    // Evidence that someone else knows the password: a new one comes first.
                    Access::Full
                        if session.account.password_action
                            == PasswordAction::ChangeAfterSecondFactor
                            && parts.uri.path() != CHANGE_PASSWORD =>
                    {
                        Err(AppError::Redirect(format!("{CHANGE_PASSWORD}?required=1")))
                    }
                    Access::Full => Ok(SignedIn(session)),
                    Access::EnrolOnly => Err(AppError::EnrolmentRequired),
                    Access::Remind => {
                        let next = (parts.method == Method::GET)
                            .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_string()))
                            .flatten();
                        Err(AppError::ReminderDue { next })
                    }
                }
            }
            // Password done, second factor not yet: back to the second step.
            Some(_) => Err(AppError::SecondFactorRequired),
            // A decoy reset answers as a real one would.
            None if crate::web::sign_in::reset::holds_decoy(
                &app,
                &CookieJar::from_headers(&parts.headers),
            ) =>
            {
                Err(AppError::SecondFactorRequired)
            }
            None => {
                let next = (parts.method == Method::GET)
                    .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_string()))
                    .flatten();
                Err(AppError::SignInRequired { next })
            }
        }
    }
}

/// A signed-in session that may be limited to enrolment (by the MFA policy, or because it was
/// opened with a temporary access pass): for the enrolment pages only.
pub struct Enrolling(pub SignedInSession);

impl<S> FromRequestParts<S> for Enrolling
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        match any_session(parts, &app).await? {
            Some(session) if session.record.stage == SessionStage::SignedIn => {
                Ok(Enrolling(session))
            }
            Some(_) => Err(AppError::SecondFactorRequired),
            None => Err(AppError::SignInRequired { next: None }),
        }
    }
}

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    form: T,
}

/// A form whose `csrf_token` matched the browser's session or visitor cookie; otherwise 403.
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let jar = CookieJar::from_headers(req.headers());
        let Form(with) = Form::<WithCsrf<T>>::from_request(req, state)
            .await
            .map_err(form_rejection)?;
        if csrf_valid(&app, &jar, &with.csrf_token) {
            Ok(CsrfForm(with.form))
        } else {
            Err(AppError::CrossSiteRequest)
        }
    }
}

/// What a form that cannot be read gets: 413 when too large, 400 when its body did not arrive
/// whole or is not a form, 415 for another content type; a form that is read but lacks its
/// fields (the token among them) is refused as a cross-site request, as before.
fn form_rejection(rejection: axum::extract::rejection::FormRejection) -> AppError {
    use axum::extract::rejection::FormRejection;
    match rejection {
        FormRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge
        }
        FormRejection::BytesRejection(_) => {
            AppError::BadRequest("The request did not arrive whole. Try again.".into())
        }
        FormRejection::InvalidFormContentType(_) => AppError::UnsupportedMediaType,
        _ => AppError::CrossSiteRequest,
    }
}

/// Whether `token` is the CSRF token of this browser's session or visitor cookie. For forms
/// that `CsrfForm` cannot read (file uploads).
pub fn csrf_valid(app: &AppState, jar: &CookieJar, token: &str) -> bool {
    let bindings = [("session", SESSION_COOKIE), ("visitor", VISITOR_COOKIE)];
    bindings.iter().any(|(purpose, cookie)| {
        jar.get(&cookie_name(app, cookie))
            .is_some_and(|c| csrf_token_matches(app, purpose, c.value(), token))
    })
}

/// Only paths on this site, so a crafted link cannot send people elsewhere after sign-in.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then(|| next.to_string())
}

#[cfg(test)]
mod tests {
    use super::{client_address, safe_next};
    use proptest::prelude::*;

    proptest! {
    #[test]
    fn where_to_go_after_sign_in_is_always_a_path_on_this_site(text in ".{0,300}|[\\x00-\\x7f/\\\\]{0,80}") {
        if let Some(next) = safe_next(Some(&text)) {
            prop_assert!(next.starts_with('/'));
            prop_assert!(!next.starts_with("//") && !next.starts_with("/\\"));
            prop_assert!(!next.chars().any(|c| c.is_control() || c == '\\'));
        }
    }

    #[test]
    fn forwarded_addresses_never_outrank_an_untrusted_peer(
        forwarded in "[0-9a-f.:, ]{0,120}",
        trusted_peer in any::<bool>(),
    ) {
        let peer: std::net::IpAddr = "203.0.113.9".parse().expect("ip");
        let proxy: std::net::IpAddr = "10.0.0.5".parse().expect("ip");
        let mut headers = axum::http::HeaderMap::new();
        if let Ok(value) = forwarded.parse() {
            headers.insert("x-forwarded-for", value);
        }
        let from = if trusted_peer { proxy } else { peer };
        let found = client_address(from, &headers, &[proxy]);
        if !trusted_peer {
            prop_assert_eq!(found, peer);
        }
    }

    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy: std::net::IpAddr = "10.0.0.5".parse().expect("ip");
        let client: std::net::IpAddr = "203.0.113.9".parse().expect("ip");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.9".parse().expect("header"),
        );
        assert_eq!(
            client_address(proxy, &headers, &[proxy]),
            client,
            "right-most untrusted hop"
        );
        let mut spoofed = axum::http::HeaderMap::new();
        spoofed.insert("x-forwarded-for", "198.51.100.1".parse().expect("header"));
        assert_eq!(
            client_address(client, &spoofed, &[proxy]),
            client,
            "a direct client's header is ignored"
        );
        assert_eq!(
            client_address(proxy, &axum::http::HeaderMap::new(), &[proxy]),
            proxy
        );
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/profile/self-service")).as_deref(),
            Some("/profile/self-service")
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "profile",
            "/pro\nfile",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
    }
}
