//! NHSmal Webmail (demo): a small web app standing in for the NHSmal mail service. It signs
//! people in through the NHSmal Portal with OpenID Connect (the authorization code flow with
//! PKCE S256 and a nonce, the ID token checked by the `openidconnect` crate against the
//! portal's JWKS) and shows who they are and how they authenticated (`amr`, `acr`,
//! `auth_time`). It can ask for a phishing-resistant sign-in (`acr_values`) and signs out
//! through RP-initiated logout.
//!
//! Settings, from the environment (or `KEY=VALUE` lines in a file named as the only argument,
//! such as the `webmail-demo.env` that `nhsmal serve --demo` writes; the environment wins):
//! `WEBMAIL_ISSUER` (default `http://localhost:8080`), `WEBMAIL_CLIENT_ID`,
//! `WEBMAIL_CLIENT_SECRET`, `WEBMAIL_LISTEN` (default `127.0.0.1:8090`), `WEBMAIL_PUBLIC_URL`
//! (default `http://localhost:8090`).

mod backchannel;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdToken, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthenticationContextClass, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};

/// The level that makes the portal ask for a FIDO2 security key.
const PHISHING_RESISTANT: &str = "urn:nhsmal:acr:phr";
const COOKIE: &str = "webmail_session";
/// Sessions older than this are forgotten (the demo keeps them in memory only).
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Clone)]
struct Settings {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    listen: SocketAddr,
    public_url: String,
}

/// A sign-in on its way through the portal.
struct Pending {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    asked_for: Option<String>,
}

/// Who is signed in, and how, as the ID token (and userinfo, for the organisation) said.
#[derive(Clone)]
struct Person {
    /// The portal's subject, which a back-channel logout names.
    sub: String,
    name: String,
    email: String,
    organisation: String,
    amr: Vec<String>,
    acr: String,
    auth_time: String,
    /// For RP-initiated logout's `id_token_hint`.
    id_token: CoreIdToken,
    /// The level asked for and not reached, if so.
    shortfall: Option<String>,
}

struct Session {
    created: Instant,
    pending: Option<Pending>,
    person: Option<Person>,
}

#[derive(Clone)]
struct AppState {
    settings: Arc<Settings>,
    http: openidconnect::reqwest::Client,
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

/// The organisation claim of the `profile` scope, from the userinfo endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OrganisationClaims {
    organisation: Option<Organisation>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Organisation {
    code: Option<String>,
    name: Option<String>,
}

impl AdditionalClaims for OrganisationClaims {}

fn setting(file: &HashMap<String, String>, key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .or_else(|| file.get(key).cloned())
        .filter(|v| !v.trim().is_empty())
}

fn load_settings() -> Result<Settings, String> {
    let mut file = HashMap::new();
    if let Some(path) = std::env::args().nth(1) {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                file.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    let issuer = setting(&file, "WEBMAIL_ISSUER").unwrap_or_else(|| "http://localhost:8080".into());
    let issuer = IssuerUrl::new(issuer.trim_end_matches('/').to_string())
        .map_err(|e| format!("WEBMAIL_ISSUER: {e}"))?;
    let client_id = setting(&file, "WEBMAIL_CLIENT_ID")
        .ok_or("WEBMAIL_CLIENT_ID is not set (nhsmal serve --demo prints it)")?;
    let client_secret = setting(&file, "WEBMAIL_CLIENT_SECRET").map(ClientSecret::new);
    let listen = setting(&file, "WEBMAIL_LISTEN")
        .unwrap_or_else(|| "127.0.0.1:8090".into())
        .parse()
        .map_err(|e| format!("WEBMAIL_LISTEN: {e}"))?;
    let public_url = setting(&file, "WEBMAIL_PUBLIC_URL")
        .unwrap_or_else(|| "http://localhost:8090".into())
        .trim_end_matches('/')
        .to_string();
    url::Url::parse(&public_url).map_err(|e| format!("WEBMAIL_PUBLIC_URL: {e}"))?;
    Ok(Settings {
        issuer,
        client_id: ClientId::new(client_id),
        client_secret,
        listen,
        public_url,
    })
}

#[tokio::main]
async fn main() {
    let settings = match load_settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nhsmal-webmail: {e}");
            std::process::exit(2);
        }
    };
    // reqwest's rustls comes without a provider: aws-lc-rs, as in the portal.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let http = match openidconnect::reqwest::Client::builder()
        // Following redirects would let a provider's answer send us elsewhere (SSRF).
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("nhsmal-webmail: HTTP client: {e}");
            std::process::exit(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("nhsmal-webmail: cannot listen on {}: {e}", settings.listen);
            std::process::exit(2);
        }
    };
    println!(
        "NHSmal Webmail (demo) listening on {}, open {}/ (signs in at {})",
        settings.listen,
        settings.public_url,
        settings.issuer.as_str()
    );
    let state = AppState {
        settings: Arc::new(settings),
        http,
        sessions: Arc::default(),
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/sign-in", post(start_sign_in))
        .route("/callback", get(callback))
        .route("/sign-out", post(sign_out))
        .route("/backchannel-logout", post(backchannel::logout))
        .with_state(state);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    {
        eprintln!("nhsmal-webmail: {e}");
        std::process::exit(1);
    }
}

// --------------------------------------------------------------------------
// Sessions
// --------------------------------------------------------------------------

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

impl AppState {
    /// Ends every session of the portal's subject `sub`; how many.
    fn end_sessions_of(&self, sub: &str) -> usize {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let before = sessions.len();
        sessions.retain(|_, s| s.person.as_ref().is_none_or(|p| p.sub != sub));
        before - sessions.len()
    }

    fn with_session<T>(&self, id: &str, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.get_mut(id).map(f)
    }

    fn person(&self, headers: &HeaderMap) -> Option<Person> {
        let id = session_id(headers)?;
        self.with_session(&id, |s| s.person.clone()).flatten()
    }

    /// A new session holding `pending`; its id for the cookie.
    // The workspace bans clock reads for the portal's domain rules (time is a parameter there);
    // this demo's in-memory sessions just age by the real clock.
    #[allow(clippy::disallowed_methods)]
    fn new_session(&self, pending: Pending) -> String {
        let id = CsrfToken::new_random_len(32).secret().clone();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.created.elapsed() < SESSION_LIFETIME);
        sessions.insert(
            id.clone(),
            Session {
                created: Instant::now(),
                pending: Some(pending),
                person: None,
            },
        );
        id
    }

    fn end_session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = session_id(headers)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(&id)
    }

    fn cookie(&self, value: &str, max_age: Option<u64>) -> HeaderValue {
        let secure = if self.settings.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let age = max_age
            .map(|a| format!("; Max-Age={a}"))
            .unwrap_or_default();
        // SameSite=Lax: sent on the portal's redirect back (a top-level GET), not with a
        // cross-site POST, which keeps "Sign out" and "Sign in" safe from other sites.
        HeaderValue::from_str(&format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("webmail_session=; Path=/"))
    }

    /// The portal's metadata and keys, fetched afresh for each sign-in so that a key rotation
    /// at the portal is picked up (two requests; fine for a demo).
    async fn discover(&self) -> Result<(Oidc, ProviderMetadataWithLogout), String> {
        let metadata =
            ProviderMetadataWithLogout::discover_async(self.settings.issuer.clone(), &self.http)
                .await
                .map_err(|e| format!("cannot reach the portal's discovery document: {e}"))?;
        let redirect = RedirectUrl::new(format!("{}/callback", self.settings.public_url))
            .map_err(|e| e.to_string())?;
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            self.settings.client_id.clone(),
            self.settings.client_secret.clone(),
        )
        .set_redirect_uri(redirect);
        Ok((client, metadata))
    }
}

// --------------------------------------------------------------------------
// Pages
// --------------------------------------------------------------------------

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – NHSmal Webmail (demo)</title>
<style>
body {{ font-family: system-ui, Arial, sans-serif; margin: 0; color: #212b32; background: #f0f4f5; line-height: 1.5; }}
header {{ background: #005eb8; color: #fff; padding: 0.75rem 1.5rem; }}
header p {{ margin: 0; font-weight: bold; font-size: 1.25rem; }}
main {{ max-width: 48rem; margin: 1.5rem auto; background: #fff; padding: 1.5rem; }}
dt {{ font-weight: bold; }}
dd {{ margin: 0 0 0.75rem 0; }}
button {{ font: inherit; font-weight: bold; padding: 0.5rem 1rem; margin: 0.25rem 0; background: #007f3b; color: #fff; border: 0; border-bottom: 3px solid #00401e; cursor: pointer; }}
button.secondary {{ background: #4c6272; border-bottom-color: #263139; }}
button:focus, a:focus {{ outline: 4px solid #ffeb3b; }}
.notice {{ border-left: 8px solid #d5281b; padding-left: 1rem; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }}
th, td {{ text-align: left; border-bottom: 1px solid #d8dde0; padding: 0.5rem; }}
</style>
</head>
<body>
<header><p>NHSmal Webmail <span>(demo)</span></p></header>
<main>
{body}
</main>
</body>
</html>"#
    ))
}

async fn home(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(person) = app.person(&headers) else {
        return page(
            "Sign in",
            r#"<h1>NHSmal Mail</h1>
<p>Your NHSmal email, for health and care staff. Sign in with your NHSmal account.</p>
<form method="post" action="/sign-in"><button type="submit">Sign in with NHSmal</button></form>
<p>For mail with patient data, sign in with a passkey or security key:</p>
<form method="post" action="/sign-in"><input type="hidden" name="level" value="phr"><button type="submit" class="secondary">Sign in (phishing-resistant)</button></form>"#,
        )
        .into_response();
    };
    let shortfall = person
        .shortfall
        .as_deref()
        .map(|asked| {
            format!(
                r#"<div class="notice" role="alert"><p>You asked for the level {} but signed in at {}.</p></div>"#,
                escape(asked),
                escape(&person.acr)
            )
        })
        .unwrap_or_default();
    let amr = person
        .amr
        .iter()
        .map(|m| format!("<li>{}</li>", escape(m)))
        .collect::<String>();
    let body = format!(
        r#"<h1>Inbox</h1>
{shortfall}
<p>Signed in as <strong>{name}</strong> ({email})</p>
<table>
<caption>Messages</caption>
<thead><tr><th scope="col">From</th><th scope="col">Subject</th></tr></thead>
<tbody>
<tr><td>NHSmal Service Desk</td><td>Welcome to your NHSmal mailbox</td></tr>
<tr><td>Demo Pharmacy</td><td>Rota for next week</td></tr>
</tbody>
</table>
<h2>Who you are and how you signed in</h2>
<dl>
<dt>Name</dt><dd id="name">{name}</dd>
<dt>Email address</dt><dd id="email">{email}</dd>
<dt>Organisation</dt><dd id="organisation">{organisation}</dd>
<dt>Authentication methods (amr)</dt><dd><ul id="amr">{amr}</ul></dd>
<dt>Authentication level (acr)</dt><dd id="acr">{acr}</dd>
<dt>Signed in at (auth_time)</dt><dd id="auth-time">{auth_time}</dd>
</dl>
<form method="post" action="/sign-in">
<input type="hidden" name="level" value="phr">
<button type="submit" class="secondary">Sign in with a security key</button>
</form>
<form method="post" action="/sign-out"><button type="submit">Sign out</button></form>"#,
        name = escape(&person.name),
        email = escape(&person.email),
        organisation = escape(&person.organisation),
        acr = escape(&person.acr),
        auth_time = escape(&person.auth_time),
    );
    page("Inbox", &body).into_response()
}

fn failure(status: StatusCode, problem: &str) -> Response {
    let body = format!(
        r#"<h1>Sign-in failed</h1>
<div class="notice" role="alert"><p>{}</p></div>
<p><a href="/">Back to NHSmal Webmail</a></p>"#,
        escape(problem)
    );
    (status, page("Sign-in failed", &body)).into_response()
}

#[derive(Deserialize)]
struct SignInForm {
    level: Option<String>,
}

/// Off to the portal: a fresh state, nonce and PKCE verifier, kept in a new session.
async fn start_sign_in(State(app): State<AppState>, Form(form): Form<SignInForm>) -> Response {
    let (client, _) = match app.discover().await {
        Ok(c) => c,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, &e),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let asked_for = (form.level.as_deref() == Some("phr")).then(|| PHISHING_RESISTANT.to_string());
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    if let Some(level) = &asked_for {
        request = request.add_auth_context_value(AuthenticationContextClass::new(level.clone()));
    }
    let (url, state, nonce) = request.url();
    let id = app.new_session(Pending {
        state,
        nonce,
        verifier,
        asked_for,
    });
    let mut response = Redirect::to(url.as_str()).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, app.cookie(&id, None));
    response
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(id) = session_id(&headers) else {
        return failure(StatusCode::BAD_REQUEST, "No sign-in was in progress.");
    };
    // Taken out of the session: a callback is used once.
    let Some(pending) = app.with_session(&id, |s| s.pending.take()).flatten() else {
        return failure(StatusCode::BAD_REQUEST, "No sign-in was in progress.");
    };
    if query.state.as_deref() != Some(pending.state.secret().as_str()) {
        return failure(
            StatusCode::BAD_REQUEST,
            "The sign-in response did not match (state).",
        );
    }
    // RFC 9207: the response must come from the issuer we sent the person to.
    if let Some(iss) = &query.iss
        && iss.trim_end_matches('/') != app.settings.issuer.as_str().trim_end_matches('/')
    {
        return failure(
            StatusCode::BAD_REQUEST,
            "The sign-in response came from another issuer.",
        );
    }
    if let Some(error) = &query.error {
        let detail = query.error_description.as_deref().unwrap_or("");
        return failure(
            StatusCode::BAD_REQUEST,
            &format!("The portal said: {error} {detail}"),
        );
    }
    let Some(code) = query.code else {
        return failure(StatusCode::BAD_REQUEST, "The portal sent no code.");
    };
    match finish_sign_in(&app, pending, code).await {
        Ok(person) => {
            app.with_session(&id, |s| s.person = Some(person));
            Redirect::to("/").into_response()
        }
        Err(problem) => failure(StatusCode::BAD_GATEWAY, &problem),
    }
}

/// The code exchange (with the PKCE verifier), the ID token's checks by the library
/// (signature against the JWKS, issuer, audience, expiry, nonce) and its `at_hash`, then the
/// organisation from userinfo.
async fn finish_sign_in(app: &AppState, pending: Pending, code: String) -> Result<Person, String> {
    let (client, _) = app.discover().await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| e.to_string())?
        .set_pkce_verifier(pending.verifier)
        .request_async(&app.http)
        .await
        .map_err(|e| format!("the code exchange failed: {e}"))?;
    let id_token = tokens
        .id_token()
        .ok_or("the portal sent no ID token")?
        .clone();
    // openidconnect accepts only RS256 unless told; the portal signs the mail service's ID
    // tokens with ES256 and other apps' with RS256.
    let verifier = client.id_token_verifier().set_allowed_algs([
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    ]);
    let claims = id_token
        .claims(&verifier, &pending.nonce)
        .map_err(|e| format!("the ID token was refused: {e}"))?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token.signing_alg().map_err(|e| e.to_string())?;
        let key = id_token.signing_key(&verifier).map_err(|e| e.to_string())?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .map_err(|e| e.to_string())?;
        if actual != *expected {
            return Err("the ID token does not belong to the access token (at_hash)".into());
        }
    }
    let info: UserInfoClaims<OrganisationClaims, CoreGenderClaim> = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .map_err(|e| e.to_string())?
        .request_async(&app.http)
        .await
        .map_err(|e| format!("userinfo failed: {e}"))?;
    let organisation = info
        .additional_claims()
        .organisation
        .as_ref()
        .map(|o| match (&o.name, &o.code) {
            (Some(name), Some(code)) => format!("{name} ({code})"),
            (Some(name), None) => name.clone(),
            (None, Some(code)) => code.clone(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    let acr = claims
        .auth_context_ref()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let shortfall = pending.asked_for.filter(|asked| *asked != acr);
    Ok(Person {
        sub: claims.subject().as_str().to_string(),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        email: claims
            .email()
            .map(|e| e.as_str().to_string())
            .unwrap_or_default(),
        organisation,
        amr: claims
            .auth_method_refs()
            .map(|v| v.iter().map(|m| m.as_str().to_string()).collect())
            .unwrap_or_default(),
        acr,
        auth_time: claims
            .auth_time()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        id_token,
        shortfall,
    })
}

/// Forget the person here, then end their portal session too (RP-initiated logout), which
/// sends them back to our home page.
async fn sign_out(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let person = app.end_session(&headers).and_then(|s| s.person);
    let clear = app.cookie("", Some(0));
    let target = match person {
        Some(person) => match app.discover().await {
            Ok((_, metadata)) => match &metadata.additional_metadata().end_session_endpoint {
                Some(endpoint) => {
                    let mut request =
                        LogoutRequest::from(endpoint.clone()).set_id_token_hint(&person.id_token);
                    if let Ok(back) =
                        PostLogoutRedirectUrl::new(format!("{}/", app.settings.public_url))
                    {
                        request = request.set_post_logout_redirect_uri(back);
                    }
                    request.http_get_url().to_string()
                }
                None => "/".to_string(),
            },
            Err(e) => return failure(StatusCode::BAD_GATEWAY, &e),
        },
        None => "/".to_string(),
    };
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().insert(header::SET_COOKIE, clear);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_escaped_in_pages() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; webmail_session=abc; x=2"),
        );
        assert_eq!(session_id(&headers).as_deref(), Some("abc"));
    }
}
