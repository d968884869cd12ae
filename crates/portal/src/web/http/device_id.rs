//! The browser's device id: a long-lived random cookie, so that sign-in monitoring can tell a
//! browser the account has used from a new one. It proves nothing (it is not the remembered-
//! device token) and the log keeps only a keyed hash of it, so the log cannot be used to
//! pose as a known device.

use axum_extra::extract::cookie::{Cookie, CookieJar};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::web::AppState;
use crate::web::http::extract::{build_cookie, cookie_name};
use domain::audit::Requester;

const COOKIE: &str = "nhsmal_browser";
/// Browsers cap cookie lifetimes at 400 days.
const MAX_AGE_DAYS: i64 = 400;

fn hash_of(app: &AppState, value: &str) -> String {
    let mut hex = app
        .secrets
        .mac_hex(format!("device-id\0{value}").as_bytes());
    hex.truncate(32);
    hex
}

/// The keyed hash of the browser's device id, when it sent one that looks like ours.
pub fn hash_from(app: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(&cookie_name(app, COOKIE))
        .map(|c| c.value())
        .filter(|v| v.len() == 43 && URL_SAFE_NO_PAD.decode(v).is_ok())
        .map(|v| hash_of(app, v))
}

fn cookie(app: &AppState, value: String) -> Cookie<'static> {
    let mut cookie = build_cookie(app, COOKIE, value);
    cookie.set_max_age(time::Duration::days(MAX_AGE_DAYS));
    cookie
}

/// Gives a browser without a device id a new one, and the requester its hash, so that the
/// attempt being made now is recorded against the id the browser will send next time.
pub fn ensure(app: &AppState, jar: CookieJar, requester: &mut Requester) -> CookieJar {
    if requester.device.is_some() {
        return jar;
    }
    let value = URL_SAFE_NO_PAD.encode(domain::random_bytes::<32>());
    requester.device = Some(hash_of(app, &value));
    jar.add(cookie(app, value))
}
