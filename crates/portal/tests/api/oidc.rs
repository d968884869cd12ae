//! The OpenID Provider from a relying party's side: discovery and keys, the code flow with
//! PKCE, tokens and what the ID token says, and every refusal the specifications name.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestApp, browser, location, spawn_app, totp_code};

pub(crate) const CALLBACK: &str = "http://localhost:9999/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Registers an app with `nhsmal client add`; returns its id and secret (if confidential).
pub(crate) fn register(app: &TestApp, extra: &[&str]) -> (String, Option<String>) {
    let mut args = vec![
        "client",
        "add",
        "--name",
        "Webmail",
        "--redirect-uri",
        CALLBACK,
        "--post-logout-redirect-uri",
        "http://localhost:9999/signed-out",
    ];
    args.extend_from_slice(extra);
    let out = app.nhsmal(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(|v| v.trim().to_string())
    };
    (
        field("client_id").expect("client id printed"),
        field("client_secret"),
    )
}

pub(crate) fn authorize_url(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid email profile")
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", query.finish())
}

/// The query parameters of a redirect to the app.
fn params(response: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let target = location(response);
    assert!(target.starts_with(CALLBACK), "sent to {target}");
    url::Url::parse(&target)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

async fn exchange(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(app.url("/oauth2/token"));
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    match secret {
        Some(secret) => request = request.basic_auth(client_id, Some(secret)),
        None => fields.push(("client_id", client_id)),
    }
    let response = request.form(&fields).send().await.expect("POST");
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-store")
    );
    (status, response.json().await.expect("json"))
}

/// A refresh grant with `refresh_token`.
async fn refresh_with(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    refresh_token: &str,
) -> (StatusCode, Value) {
    exchange(
        app,
        client_id,
        secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// What userinfo answers to an access token.
async fn userinfo_status(app: &TestApp, access: &str) -> StatusCode {
    reqwest::Client::new()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .expect("GET")
        .status()
}

/// What introspection tells `resource_server` about `token`.
async fn introspected(
    app: &TestApp,
    resource_server: &str,
    secret: Option<&str>,
    token: &str,
) -> Value {
    reqwest::Client::new()
        .post(app.url("/oauth2/introspect"))
        .basic_auth(resource_server, secret)
        .form(&[("token", token)])
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json")
}

pub(crate) async fn code_for(app: &TestApp, person: &reqwest::Client, client_id: &str) -> String {
    let response = app.get_with(person, &authorize_url(client_id, &[])).await;
    let p = params(&response);
    assert_eq!(p.get("state").map(String::as_str), Some("st-123"));
    p.get("code").expect("a code").clone()
}

pub(crate) async fn tokens_for(
    app: &TestApp,
    person: &reqwest::Client,
    client_id: &str,
    secret: Option<&str>,
) -> Value {
    let code = code_for(app, person, client_id).await;
    let (status, body) = exchange(
        app,
        client_id,
        secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The ID token's claims, checked against the JWKS with jsonwebtoken (signature, alg, aud, iss).
pub(crate) async fn verified_claims(app: &TestApp, id_token: &str, client_id: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).expect("header");
    let kid = header.kid.clone().expect("kid");
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(app.url("/.well-known/jwks.json"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let jwk = jwks.find(&kid).expect("the kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[app.settings.public_url.as_str().trim_end_matches('/')]);
    validation.validate_exp = false; // the fake clock is not the wall clock
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("a valid signature")
        .claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_keys_describe_a_code_flow_provider_that_never_signs_with_none() {
    let app = spawn_app().await;
    let config: Value = reqwest::get(app.url("/.well-known/openid-configuration"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let issuer = app.settings.public_url.as_str().trim_end_matches('/');
    assert_eq!(config["issuer"], issuer);
    assert_eq!(
        config["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        config["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"])
    );
    assert_eq!(
        config["authorization_response_iss_parameter_supported"],
        true
    );
    let jwks: Value = reqwest::get(app.url("/.well-known/jwks.json"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    assert!(
        algs.contains(&"RS256") && algs.contains(&"ES256"),
        "{algs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_person_is_sent_back_with_a_code_that_buys_tokens_saying_how_they_signed_in() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let response = app.get_with(&person, &authorize_url(&client_id, &[])).await;
    let p = params(&response);
    assert_eq!(p["state"], "st-123");
    assert_eq!(
        p["iss"],
        app.settings.public_url.as_str().trim_end_matches('/')
    );
    let code = p["code"].clone();
    let (status, tokens) = exchange(
        &app,
        &client_id,
        secret.as_deref(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = verified_claims(
        &app,
        tokens["id_token"].as_str().expect("id_token"),
        &client_id,
    )
    .await;
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["email"], "ann@fa123.nhs.uk");
    assert_eq!(claims["organisation"]["code"], "FA123");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "urn:nhsmal:acr:mfa");
    assert!(claims["auth_time"].as_i64().is_some());
    let account = crate::helpers::account(&app, "ann@fa123.nhs.uk").await;
    assert_eq!(claims["sub"], account.id.as_str());

    let info: Value = reqwest::Client::new()
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], account.id.as_str());
    assert_eq!(info["email"], "ann@fa123.nhs.uk");
    // The sign-in log says which app the account was used with.
    let page = app.page(&person, "/profile/activity").await;
    assert!(page.contains("Webmail") || page.contains("Signed in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_works_once_within_sixty_seconds_and_its_reuse_revokes_what_it_bought() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let code = code_for(&app, &person, &client_id).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ];
    let (status, tokens) = exchange(&app, &client_id, secret.as_deref(), &form).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = exchange(&app, &client_id, secret.as_deref(), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let audit = app.audit().await;
    let refused = audit
        .iter()
        .find(|e| e.event == "oidc.token_refused")
        .expect("audited");
    assert_eq!(refused.subject.as_deref(), Some(client_id.as_str()));
    assert!(
        !refused
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(&code),
        "no code in the audit"
    );
    assert_eq!(
        userinfo_status(&app, tokens["access_token"].as_str().expect("token")).await,
        StatusCode::UNAUTHORIZED
    );
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let (_, body) = refresh_with(&app, &client_id, secret.as_deref(), refresh).await;
    assert_eq!(body["error"], "invalid_grant");

    // A code not used within 60 seconds is dead.
    let code = code_for(&app, &person, &client_id).await;
    app.clock.advance(61);
    let (_, body) = exchange(
        &app,
        &client_id,
        secret.as_deref(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_or_refresh_token_sent_many_times_at_once_buys_tokens_once_and_then_none() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let at_once = |form: Vec<(&'static str, String)>| {
        let (app, client_id, secret) = (&app, &client_id, secret.clone());
        async move {
            let sends = (0..8).map(|_| {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let secret = secret.clone();
                async move { exchange(app, client_id, secret.as_deref(), &form).await }
            });
            futures::future::join_all(sends).await
        }
    };
    let live = |access: String| {
        let app = &app;
        async move {
            reqwest::Client::new()
                .get(app.url("/oauth2/userinfo"))
                .bearer_auth(access)
                .send()
                .await
                .expect("GET")
                .status()
        }
    };

    let code = code_for(&app, &person, &client_id).await;
    let answers = at_once(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", CALLBACK.into()),
        ("code_verifier", VERIFIER.into()),
    ])
    .await;
    let bought: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(bought.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status != StatusCode::OK)
            .all(|(status, body)| *status == StatusCode::BAD_REQUEST
                && body["error"] == "invalid_grant"),
        "{answers:?}"
    );
    // The code was used again: what it bought is revoked.
    let access = bought[0]["access_token"].as_str().expect("access");
    assert_eq!(live(access.into()).await, StatusCode::UNAUTHORIZED);

    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let answers = at_once(vec![
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            tokens["refresh_token"].as_str().expect("refresh").into(),
        ),
    ])
    .await;
    let refreshed: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(refreshed.len(), 1, "{answers:?}");
    let access = refreshed[0]["access_token"].as_str().expect("access");
    assert_eq!(live(access.into()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_that_differs_by_one_character_gets_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let (client_id, _) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    for bad in [
        format!("{CALLBACK}/"),
        format!("{CALLBACK}x"),
        CALLBACK.replace("localhost", "127.0.0.1"),
    ] {
        let url = authorize_url(&client_id, &[]).replace(
            &url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>(),
            &url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>(),
        );
        let response = app.get_with(&person, &url).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(response.headers().get("location").is_none());
    }
    let response = app
        .get_with(&person, &authorize_url("no-such-client", &[]))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_clients_need_pkce_with_s256_and_the_right_verifier() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--public", "--first-party"]);
    assert!(secret.is_none(), "a public client has no secret");
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let without = authorize_url(&client_id, &[]).replace(
        &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
        "",
    );
    let p = params(&app.get_with(&person, &without).await);
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "st-123");
    let plain = authorize_url(&client_id, &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let p = params(&app.get_with(&person, &plain).await);
    assert_eq!(p["error"], "invalid_request");

    for verifier in [
        None,
        Some("wrong-verifier-wrong-verifier-wrong-verifier-00"),
    ] {
        let code = code_for(&app, &person, &client_id).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let (status, body) = exchange(&app, &client_id, None, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    let tokens = tokens_for(&app, &person, &client_id, None).await;
    assert!(tokens["id_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_chain() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let refresh = |token: String| {
        let (app, client_id, secret) = (&app, &client_id, secret.clone());
        async move { refresh_with(app, client_id, secret.as_deref(), &token).await }
    };
    let (status, second) = refresh(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_token = second["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_string();
    assert_ne!(second_token, first);
    // The first again: stolen. Everything in the chain dies, the newest too.
    let (_, body) = refresh(first).await;
    assert_eq!(body["error"], "invalid_grant");
    let (_, body) = refresh(second_token).await;
    assert_eq!(body["error"], "invalid_grant");

    // And a chain ends after its absolute lifetime however often it is used.
    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    app.clock.advance(12 * 3_600 + 1);
    let (_, body) = refresh(tokens["refresh_token"].as_str().expect("r").to_string()).await;
    assert_eq!(body["error"], "invalid_grant");
}

/// SHA-256 in lowercase hex, as the store keys codes and tokens behind their stamp.
fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_are_stored_by_stamp_and_hash_access_tokens_not_at_all_and_older_ones_still_work()
 {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(
        refresh.len(),
        55,
        "a 12-digit stamp and 43 characters: {refresh}"
    );
    assert!(refresh[..12].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(access.starts_with("at1."), "sealed: {access}");
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(app.database_url())
        .await
        .expect("database");
    let stored: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT token_hash, kind, grant_id, created_at FROM oidc_tokens")
            .fetch_all(&mut conn)
            .await
            .expect("rows");
    let refresh_key = format!("{}{}", &refresh[..12], sha256_hex(refresh));
    assert_eq!(stored.len(), 1, "one row, the refresh token's: {stored:?}");
    let (key, kind, grant_id, issued_at) = stored[0].clone();
    assert_eq!(
        (key.as_str(), kind.as_str()),
        (refresh_key.as_str(), "refresh")
    );
    assert!(
        !key.contains(&refresh[12..]) && !key.contains(&access[4..]),
        "no token is stored as itself"
    );
    assert_eq!(userinfo_status(&app, access).await, StatusCode::OK);

    // An access token from before sealing: stored by its SHA-256, and still honoured.
    let old_access = "q4s0WrAM1oX5dU9yZc3nL7tK2eG6hI8kB1fS4uV0jPl";
    sqlx::query(
        "INSERT INTO oidc_tokens (token_hash, kind, grant_id, expires_at, created_at) \
         VALUES ($1, 'access', $2, $3, $4)",
    )
    .bind(sha256_hex(old_access))
    .bind(&grant_id)
    .bind(issued_at + 900)
    .bind(issued_at)
    .execute(&mut conn)
    .await
    .expect("an old access token");
    assert_eq!(userinfo_status(&app, old_access).await, StatusCode::OK);

    // A refresh token from before stamps: 43 characters, stored by its SHA-256 alone.
    let old = "p3r9VqzL0nW4cT8xYb2mK6sJ1dF5gH7jA0eR3tU9iOk";
    sqlx::query("UPDATE oidc_tokens SET token_hash = $1 WHERE token_hash = $2")
        .bind(sha256_hex(old))
        .bind(&refresh_key)
        .execute(&mut conn)
        .await
        .expect("rewritten");
    let (status, body) = refresh_with(&app, &client_id, secret.as_deref(), old).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = refresh_with(&app, &client_id, secret.as_deref(), old).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant", "spent, as before");
    // Its reuse revoked the grant: the old access token dies with the sealed ones.
    assert_eq!(
        userinfo_status(&app, old_access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo_status(&app, access).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_altered_expired_or_of_a_revoked_grant_is_refused_everywhere() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (resource_server, rs_secret) = register(&app, &[]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let introspect = |token: String| {
        let (app, resource_server, rs_secret) = (&app, &resource_server, rs_secret.clone());
        async move { introspected(app, resource_server, rs_secret.as_deref(), &token).await }
    };
    let inactive = serde_json::json!({ "active": false });
    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let access = tokens["access_token"].as_str().expect("access").to_string();
    let live = introspect(access.clone()).await;
    assert_eq!(live["active"], true, "{live}");
    assert_eq!(live["token_type"], "Bearer");
    assert_eq!(live["client_id"], client_id.as_str());
    assert_eq!(live["scope"], "openid profile email");
    assert_eq!(
        live["exp"].as_i64().expect("exp") - live["iat"].as_i64().expect("iat"),
        15 * 60
    );

    // One character changed anywhere: not ours.
    for at in [4, access.len() / 2, access.len() - 1] {
        let mut altered = access.clone().into_bytes();
        altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("ascii");
        assert_eq!(
            userinfo_status(&app, &altered).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(introspect(altered).await, inactive);
    }
    // Sealed under another portal's master key: not ours either.
    let other =
        domain::secrets::SecretBox::from_base64(&domain::secrets::SecretBox::generate_key_base64())
            .expect("a key");
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(app.database_url())
        .await
        .expect("database");
    let (grant_id,): (String,) = sqlx::query_as("SELECT grant_id FROM oidc_tokens")
        .fetch_one(&mut conn)
        .await
        .expect("the grant");
    let foreign = domain::oidc::access_token::AccessToken {
        grant_id,
        issued_at: live["iat"].as_i64().expect("iat"),
        expires_at: live["exp"].as_i64().expect("exp"),
    }
    .seal(&other);
    assert_eq!(
        userinfo_status(&app, &foreign).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(introspect(foreign).await, inactive);

    // Fifteen minutes on, it has expired, though its refresh token still works.
    app.clock.advance(15 * 60);
    assert_eq!(
        userinfo_status(&app, &access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(introspect(access.clone()).await, inactive);
    let refresh = tokens["refresh_token"].as_str().expect("r");
    let (status, refreshed) = refresh_with(&app, &client_id, secret.as_deref(), refresh).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let fresh = refreshed["access_token"]
        .as_str()
        .expect("access")
        .to_string();
    assert_eq!(userinfo_status(&app, &fresh).await, StatusCode::OK);

    // Revoking the access token (RFC 7009) revokes its grant: the new refresh token with it.
    let revoked = reqwest::Client::new()
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&client_id, secret.as_deref())
        .form(&[("token", fresh.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        userinfo_status(&app, &fresh).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(introspect(fresh).await, inactive);
    let refresh = refreshed["refresh_token"].as_str().expect("r");
    let (_, body) = refresh_with(&app, &client_id, secret.as_deref(), refresh).await;
    assert_eq!(body["error"], "invalid_grant");
    let audit = app.audit().await;
    assert!(
        audit
            .iter()
            .all(|e| !format!("{e:?}").contains(&access[4..20])),
        "no access token in the audit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_clients_and_wrong_secrets_are_invalid_client() {
    let app = spawn_app().await;
    let (client_id, _) = register(&app, &["--first-party"]);
    let (status, body) = exchange(
        &app,
        &client_id,
        Some("not-the-secret"),
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, body) = exchange(
        &app,
        "no-such-client",
        Some("whatever"),
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "oidc.client_auth_failed"
                && e.subject.as_deref() == Some(client_id.as_str()))
    );
    // No password grant (nor any other).
    let (id, secret) = register(&app, &["--first-party"]);
    let (status, body) = exchange(
        &app,
        &id,
        secret.as_deref(),
        &[
            ("grant_type", "password"),
            ("username", "ann@fa123.nhs.uk"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disabled_by_another_process_is_refused_within_a_second() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let try_it = || {
        exchange(
            &app,
            &client_id,
            secret.as_deref(),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "not-a-token"),
            ],
        )
    };
    // The client authenticates (the grant itself is refused), so the server has read it.
    let (status, body) = try_it().await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // `nhsmal client disable` is another process: the server's copy of the client is at most a
    // second old (docs/DECISIONS.md).
    let out = app.nhsmal(&["client", "disable", &client_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, body) = try_it().await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none_without_a_session_says_login_required_to_the_app() {
    let app = spawn_app().await;
    let (client_id, _) = register(&app, &["--first-party"]);
    let response = app
        .get_with(
            &browser(),
            &authorize_url(&client_id, &[("prompt", "none")]),
        )
        .await;
    let p = params(&response);
    assert_eq!(p["error"], "login_required");
    assert_eq!(p["state"], "st-123");
    assert!(p.contains_key("iss"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_zero_and_prompt_login_make_the_person_sign_in_again() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    for extra in [("max_age", "0"), ("prompt", "login")] {
        app.clock.advance(60);
        let response = app
            .get_with(&person, &authorize_url(&client_id, &[extra]))
            .await;
        let target = location(&response);
        assert!(target.starts_with("/sign-in?next="), "{target}");
        // Signed in again, with both factors, the person goes back to the app.
        let next: String = url::Url::parse(&format!("http://x{target}"))
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
            .expect("next");
        let r = app
            .submit(
                &person,
                &target,
                "/sign-in",
                &[
                    ("email", "ann@fa123.nhs.uk"),
                    ("password", PASSWORD),
                    ("next", &next),
                ],
            )
            .await;
        assert_eq!(location(&r), "/sign-in/verify");
        let r = app
            .second_step(&person, &totp_code(&key, app.clock_now()))
            .await;
        let back = location(&r);
        assert!(back.starts_with("/oauth2/authorize?"), "{back}");
        let response = app.get_with(&person, &back).await;
        let code = params(&response)["code"].clone();
        let (status, tokens) = exchange(
            &app,
            &client_id,
            secret.as_deref(),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let claims =
            verified_claims(&app, tokens["id_token"].as_str().expect("id"), &client_id).await;
        assert_eq!(
            claims["auth_time"].as_i64(),
            Some(app.clock_now()),
            "{extra:?}"
        );
        app.clock.advance(30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phishing_resistant_level_is_refused_to_a_person_without_a_security_key() {
    let app = spawn_app().await;
    let (client_id, _) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let response = app
        .get_with(
            &person,
            &authorize_url(&client_id, &[("acr_values", "urn:nhsmal:acr:phr")]),
        )
        .await;
    assert_eq!(
        params(&response)["error"],
        "unmet_authentication_requirements"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_introspection_tell_resource_servers_the_truth() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (resource_server, rs_secret) = register(&app, &[]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let access = tokens["access_token"].as_str().expect("access").to_string();
    let introspect = || introspected(&app, &resource_server, rs_secret.as_deref(), &access);
    let live = introspect().await;
    assert_eq!(live["active"], true);
    assert_eq!(live["client_id"], client_id.as_str());
    let revoked = reqwest::Client::new()
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&client_id, secret.as_deref())
        .form(&[("token", tokens["refresh_token"].as_str().expect("r"))])
        .send()
        .await
        .expect("POST");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(introspect().await, serde_json::json!({ "active": false }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_revokes_every_refresh_token_of_the_person() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, key) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    app.clock.advance(30);
    let reset = browser();
    app.submit(
        &reset,
        "/forgotten-password",
        "/forgotten-password",
        &[("email", "ann@fa123.nhs.uk")],
    )
    .await;
    app.reset_choose(&reset, "totp").await;
    app.second_step(&reset, &totp_code(&key, app.clock_now()))
        .await;
    let new = "a brand new passphrase for the ward 12";
    let r = app
        .submit(
            &reset,
            "/forgotten-password/new-password",
            "/forgotten-password/new-password",
            &[("new_password", new), ("confirm_password", new)],
        )
        .await;
    assert_eq!(location(&r), "/sign-in?reset=1");
    let (_, body) = exchange(
        &app,
        &client_id,
        secret.as_deref(),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("r"),
            ),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_apps_ask_for_consent_once_and_a_refusal_is_access_denied() {
    let app = spawn_app().await;
    let (client_id, _) = register(&app, &[]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let url = authorize_url(&client_id, &[]);
    let page = app.page(&person, &url).await;
    assert!(page.contains("Share your details with Webmail?"));
    let r = app
        .submit(&person, &url, "/oauth2/consent", &[("decision", "deny")])
        .await;
    assert_eq!(params(&r)["error"], "access_denied");
    let r = app
        .submit(&person, &url, "/oauth2/consent", &[("decision", "allow")])
        .await;
    assert!(params(&r).contains_key("code"));
    // Asked once: the next sign-in goes straight back with a code.
    let r = app.get_with(&person, &url).await;
    assert!(params(&r).contains_key("code"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_initiated_logout_ends_the_session_and_returns_to_a_registered_address() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let tokens = tokens_for(&app, &person, &client_id, secret.as_deref()).await;
    let hint = tokens["id_token"].as_str().expect("id");
    let bad = format!(
        "/oauth2/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
        url::form_urlencoded::byte_serialize(b"https://evil.example/").collect::<String>()
    );
    let r = app.get_with(&person, &bad).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    let good = format!(
        "/oauth2/logout?id_token_hint={hint}&state=bye&post_logout_redirect_uri={}",
        url::form_urlencoded::byte_serialize(b"http://localhost:9999/signed-out")
            .collect::<String>()
    );
    let r = app.get_with(&person, &good).await;
    assert_eq!(location(&r), "http://localhost:9999/signed-out?state=bye");
    assert_eq!(
        location(&app.get_with(&person, "/profile").await),
        "/sign-in?next=%2Fprofile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_must_enrol_first_enrols_and_then_returns_to_the_app() {
    let app = spawn_app().await;
    let (client_id, _) = register(&app, &["--first-party"]);
    assert!(
        app.nhsmal(&["policy", "set", "--mfa-required-from", "2020-01-01"])
            .status
            .success()
    );
    app.add_person("ann@fa123.nhs.uk", "FA123", "user").await;
    let person = browser();
    let r = app
        .sign_in_with(&person, "ann@fa123.nhs.uk", PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let url = authorize_url(&client_id, &[]);
    let r = app.get_with(&person, &url).await;
    assert_eq!(location(&r), "/profile/self-service/enrol");
    let page = app
        .page(&person, "/profile/self-service/enrol/authenticator-app")
        .await;
    let secret = crate::helpers::text_of(&page, "#totp-secret").replace(' ', "");
    let key = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &secret).expect("key");
    let token = crate::helpers::csrf_token(&page);
    let code = totp_code(&key, app.clock_now());
    let r = person
        .post(app.url("/profile/self-service/enrol/authenticator-app"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("code", &code),
            ("name", "Phone"),
        ])
        .send()
        .await
        .expect("POST");
    let back = location(&r);
    assert!(back.starts_with("/oauth2/authorize?"), "{back}");
    let r = app.get_with(&person, &back).await;
    assert!(params(&r).contains_key("code"));
}

/// The origins a page's forms may lead to, from its Content-Security-Policy.
fn form_action(response: &reqwest::Response) -> String {
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("text")
        .to_string();
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("form-action "))
        .unwrap_or_else(|| panic!("no form-action in {csp}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_may_lead_only_to_the_portal_and_the_registered_apps_on_every_single_sign_on_page() {
    let app = spawn_app().await;
    // Before any app is registered, forms lead to the portal alone.
    assert_eq!(form_action(&app.get("/sign-in").await), "'self'");
    let (client_id, _) = register(&app, &[]);
    let url = authorize_url(&client_id, &[]);
    // The sign-in page an app sent the person to: its POST ends at the app's redirect URI.
    let person = browser();
    let r = app.get_with(&person, &url).await;
    let sign_in = location(&r);
    let r = app.get_with(&person, &sign_in).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(form_action(&r), "'self' http://localhost:9999");
    // The second step and the consent page on the way.
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let other = browser();
    let r = app.get_with(&other, &url).await;
    let sign_in = location(&r);
    let next = url::Url::parse(&format!("http://x{sign_in}"))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .expect("next");
    let r = app
        .submit(
            &other,
            &sign_in,
            "/sign-in",
            &[
                ("email", "ann@fa123.nhs.uk"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let r = app.get_with(&other, "/sign-in/verify").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(form_action(&r), "'self' http://localhost:9999");
    let r = app.get_with(&person, &url).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(form_action(&r), "'self' http://localhost:9999");
    let r = app
        .submit(&person, &url, "/oauth2/consent", &[("decision", "allow")])
        .await;
    assert!(params(&r).contains_key("code"));
    // Any other origin stays out, even one a request names.
    let evil = url.replace("localhost%3A9999", "evil.example");
    let r = app.get_with(&browser(), &evil).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        form_action(&app.get("/sign-in").await),
        "'self' http://localhost:9999"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_registered_by_another_process_is_a_form_target_as_soon_as_it_sends_someone() {
    let app = spawn_app().await;
    // Registered after the server started: this node learns it from the app's first request.
    let out = app.nhsmal(&[
        "client",
        "add",
        "--name",
        "Rota",
        "--redirect-uri",
        "https://rota.example/callback",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .expect("client id")
        .trim()
        .to_string();
    let url = authorize_url(&id, &[]).replace(
        &url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>(),
        &url::form_urlencoded::byte_serialize(b"https://rota.example/callback").collect::<String>(),
    );
    let person = browser();
    let r = app.get_with(&person, &url).await;
    let r = app.get_with(&person, &location(&r)).await;
    assert_eq!(form_action(&r), "'self' https://rota.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_approved_in_the_nhsmal_authenticator_says_swk_and_mfa_in_the_id_token() {
    let app = spawn_app().await;
    let (client_id, secret) = register(&app, &["--first-party"]);
    let setup = app.ann_signed_in().await;
    let device = crate::push::pair(&app, &setup).await;
    let url = authorize_url(&client_id, &[]);
    let person = browser();
    let sign_in = location(&app.get_with(&person, &url).await);
    let next = url::Url::parse(&format!("http://x{sign_in}"))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .expect("next");
    let r = app
        .submit(
            &person,
            &sign_in,
            "/sign-in",
            &[
                ("email", "ann@example.nhs.uk"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(location(&r), "/sign-in/verify");
    let page = app.page(&person, "/sign-in/verify").await;
    let number: String = crate::helpers::text_of(&page, "#push-number")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let request = device.pending().await;
    // The app names the app being signed in to.
    assert_eq!(request["app"], "Webmail");
    device.answer(&request, "approve", &number).await;
    let r = app.post_second_step(&person, &page, &[]).await;
    let back = location(&r);
    assert!(back.starts_with("/oauth2/authorize"), "{back}");
    let p = params(&app.get_with(&person, &back).await);
    let (status, tokens) = exchange(
        &app,
        &client_id,
        secret.as_deref(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verified_claims(
        &app,
        tokens["id_token"].as_str().expect("id_token"),
        &client_id,
    )
    .await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "swk", "mfa"]));
    assert_eq!(claims["acr"], "urn:nhsmal:acr:mfa");
}
