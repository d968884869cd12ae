//! OpenID Connect clients: `nhsmal client …`, the admin page, secrets at rest, and client
//! authentication through the store for each method.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use domain::audit::Requester;
use domain::oidc::clients::{
    self, ClientAuthError, ClientAuthMethod, ClientCredentials, ClientKind, ClientRecords,
    JWT_BEARER, NewClient,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{CliEnv, START, TestApp, location, spawn_app, text_of};

const TOKEN_ENDPOINT: &str = "https://id.nhsmal.example/oauth/token";

fn field<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("{name} printed: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_add_prints_the_id_and_a_secret_once_then_list_and_disable_work() {
    let env = CliEnv::new().await;
    let out = env.run(
        &[
            "client",
            "add",
            "--name",
            "NHSmal Mail",
            "--redirect-uri",
            "https://mail.nhsmal.example/callback",
            "--redirect-uri",
            "http://127.0.0.1:8765/callback",
            "--first-party",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = field(&out.stdout, "client_id").to_string();
    let secret = field(&out.stdout, "client_secret");
    assert!(id.len() >= 22);
    assert!(
        B64.decode(secret).expect("base64url").len() >= 32,
        "256 bits"
    );
    let public = env.run(
        &[
            "client",
            "add",
            "--name",
            "Rota app",
            "--redirect-uri",
            "https://rota.example/cb",
            "--public",
        ],
        "",
    );
    assert_eq!(public.code, 0, "{}", public.stderr);
    assert!(!public.stdout.contains("client_secret"), "no secret");
    let public_id = field(&public.stdout, "client_id").to_string();

    let list = env.run(&["client", "list"], "");
    assert_eq!(list.code, 0);
    assert!(list.stdout.contains(&id) && list.stdout.contains(&public_id));
    assert!(
        !list.stdout.contains(secret),
        "the secret is never shown again"
    );
    assert!(
        list.stdout
            .contains("NHSmal Mail\tconfidential\tclient_secret_basic\tyes\tenabled")
    );

    let disable = env.run(&["client", "disable", &id], "");
    assert_eq!(disable.code, 0, "{}", disable.stderr);
    let list = env.run(&["client", "list"], "");
    assert!(
        list.stdout
            .contains("NHSmal Mail\tconfidential\tclient_secret_basic\tyes\tdisabled")
    );
    let unknown = env.run(&["client", "disable", "no-such-client"], "");
    assert_eq!(unknown.code, 2);
    assert_eq!(unknown.stderr.lines().count(), 1, "{}", unknown.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_add_refuses_bad_input_with_one_line_and_writes_nothing() {
    let env = CliEnv::new().await;
    for (args, expected) in [
        (
            vec!["--name", "Mail", "--redirect-uri", "http://mail.example/cb"],
            "https",
        ),
        (
            vec![
                "--name",
                "Mail",
                "--redirect-uri",
                "https://mail.example/cb#x",
            ],
            "fragment",
        ),
        (
            vec!["--name", "Mail", "--redirect-uri", "/callback"],
            "absolute",
        ),
        (vec!["--redirect-uri", "https://mail.example/cb"], "name"),
        (vec!["--name", "Mail"], "redirect URI"),
        (
            vec![
                "--name",
                "Mail",
                "--redirect-uri",
                "https://mail.example/cb",
                "--public",
                "--auth-method",
                "client_secret_post",
            ],
            "public",
        ),
        (
            vec![
                "--name",
                "Mail",
                "--redirect-uri",
                "https://mail.example/cb",
                "--auth-method",
                "private_key_jwt",
            ],
            "--jwks-file",
        ),
        (
            vec![
                "--name",
                "Mail",
                "--redirect-uri",
                "https://mail.example/cb",
                "--id-token-alg",
                "none",
            ],
            "RS256 or ES256",
        ),
    ] {
        let mut full = vec!["client", "add"];
        full.extend(args.iter());
        let out = env.run(&full, "");
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        assert!(
            out.stderr.contains(expected),
            "{args:?}: {} should mention {expected}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    if env.database_url.is_none() {
        // Checked before the store opened: not even a data folder's database.
        assert_eq!(
            std::fs::read_dir(env.data_dir.path()).expect("dir").count(),
            0,
            "nothing written"
        );
    }
    let list = env.run(&["client", "list"], "");
    assert_eq!(
        list.stdout.lines().count(),
        1,
        "only the header: {}",
        list.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_secret_is_stored_only_as_a_keyed_hash() {
    let app = spawn_app().await;
    let out = app.nhsmal(&[
        "client",
        "add",
        "--name",
        "Mail",
        "--redirect-uri",
        "https://mail.example/cb",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = field(&stdout, "client_id");
    let secret = field(&stdout, "client_secret");
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(app.database_url())
        .await
        .expect("database");
    let (hash, uris): (String, String) =
        sqlx::query_as("SELECT secret_hash, redirect_uris FROM oidc_clients WHERE id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .expect("row");
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!hash.contains(secret) && !uris.contains(secret));
    // Not a plain SHA-256 of the secret either: keyed with the master key.
    use sha2::Digest;
    let plain = sha2::Sha256::digest(secret.as_bytes());
    assert_ne!(
        hash,
        plain.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    // The secret from the command line authenticates the client at the server's store.
    let credentials = ClientCredentials {
        basic: Some((id.to_string(), secret.to_string())),
        ..Default::default()
    };
    let client = clients::authenticate_client(
        &app.store,
        &app.store,
        &app.secrets(),
        &credentials,
        &[TOKEN_ENDPOINT],
        START,
    )
    .await
    .expect("authenticated");
    assert_eq!(client.id, id);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "oidc.client_added" && e.subject.as_deref() == Some(id))
    );
}

fn basic_header(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// An RSA key made by the test: its PKCS#8 PEM for jsonwebtoken and its public JWK.
fn rsa_client_key() -> (jsonwebtoken::EncodingKey, serde_json::Value) {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    use aws_lc_rs::signature::KeyPair;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key");
    let der: Pkcs8V1Der = pair.as_der().expect("der");
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA",
        "kid": "rp-rsa-1",
        "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
        "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
    });
    (
        jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PEM"),
        json!({ "keys": [jwk] }),
    )
}

async fn add(app: &TestApp, new: NewClient) -> clients::Registered {
    clients::add_client(
        &app.store,
        &app.secrets(),
        &new,
        None,
        &Requester::command_line(),
        START,
    )
    .await
    .expect("added")
}

fn new_client(name: &str) -> NewClient {
    NewClient {
        name: name.into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        ..NewClient::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_authentication_method_works_through_the_store_and_only_as_registered() {
    let app = spawn_app().await;
    let secrets = app.secrets();
    let basic = add(&app, new_client("Basic")).await;
    let post = add(
        &app,
        NewClient {
            auth_method: Some("client_secret_post".into()),
            ..new_client("Post")
        },
    )
    .await;
    let public = add(
        &app,
        NewClient {
            public: true,
            ..new_client("Public")
        },
    )
    .await;
    assert_eq!(public.client.kind, ClientKind::Public);
    let (rsa, jwks) = rsa_client_key();
    let jwt_client = add(
        &app,
        NewClient {
            auth_method: Some("private_key_jwt".into()),
            jwks: Some(jwks.to_string()),
            id_token_alg: Some("ES256".into()),
            ..new_client("Key")
        },
    )
    .await;
    assert_eq!(
        jwt_client.client.auth_method,
        ClientAuthMethod::PrivateKeyJwt
    );
    assert!(jwt_client.secret.is_none());
    let stored = app
        .store
        .client_with_secret(&jwt_client.client.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.0, jwt_client.client, "read back as written");

    let now = app.clock_now();
    let auth = |c: ClientCredentials| {
        let (app, secrets) = (&app, &secrets);
        async move {
            clients::authenticate_client(
                &app.store,
                &app.store,
                secrets,
                &c,
                &[TOKEN_ENDPOINT, "https://id.nhsmal.example"],
                now,
            )
            .await
        }
    };
    let from = |authorization: Option<&str>, form: &[(&str, &str)]| {
        let get = |name: &str| form.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        ClientCredentials::from_request(
            authorization,
            get("client_id"),
            get("client_secret"),
            get("client_assertion_type"),
            get("client_assertion"),
        )
        .expect("well formed")
    };
    // client_secret_basic, through the header as a client library sends it.
    let basic_secret = basic.secret.clone().expect("secret");
    let header = basic_header(&basic.client.id, &basic_secret);
    assert_eq!(
        auth(from(Some(&header), &[])).await.expect("basic").id,
        basic.client.id
    );
    let wrong = basic_header(&basic.client.id, "not-the-secret");
    let refused = from(Some(&wrong), &[]);
    assert!(
        refused.tried_basic(),
        "the endpoint answers 401 with WWW-Authenticate: Basic"
    );
    assert_eq!(auth(refused).await, Err(ClientAuthError::WrongSecret));
    assert_eq!(
        auth(from(
            None,
            &[
                ("client_id", &basic.client.id),
                ("client_secret", &basic_secret)
            ]
        ))
        .await,
        Err(ClientAuthError::WrongMethod)
    );
    // client_secret_post.
    let post_secret = post.secret.clone().expect("secret");
    assert_eq!(
        auth(from(
            None,
            &[
                ("client_id", &post.client.id),
                ("client_secret", &post_secret)
            ]
        ))
        .await
        .expect("post")
        .id,
        post.client.id
    );
    // none: a public client presents only its id.
    assert_eq!(
        auth(from(None, &[("client_id", &public.client.id)]))
            .await
            .expect("public")
            .id,
        public.client.id
    );
    assert_eq!(
        auth(from(None, &[("client_id", "unknown-client")])).await,
        Err(ClientAuthError::UnknownClient)
    );
    // private_key_jwt with the test's own RSA key; the same assertion twice is refused.
    let id = jwt_client.client.id.clone();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rp-rsa-1".into());
    let assertion = jsonwebtoken::encode(
        &header,
        &json!({"iss": id, "sub": id, "aud": TOKEN_ENDPOINT, "exp": now + 120, "iat": now,
                "jti": uuid::Uuid::new_v4().to_string()}),
        &rsa,
    )
    .expect("signed");
    let presented = [
        ("client_id", id.as_str()),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    assert_eq!(auth(from(None, &presented)).await.expect("jwt").id, id);
    assert_eq!(
        auth(from(None, &presented)).await,
        Err(ClientAuthError::ReplayedAssertion)
    );
    // A secret client cannot switch to an assertion.
    assert_eq!(
        auth(from(
            None,
            &[
                ("client_id", basic.client.id.as_str()),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion.as_str()),
            ]
        ))
        .await,
        Err(ClientAuthError::ClientIdMismatch)
    );
    // Disabled clients are refused.
    clients::set_disabled(
        &app.store,
        &post.client.id,
        true,
        None,
        &Requester::command_line(),
        now,
    )
    .await
    .expect("disabled");
    assert_eq!(
        auth(from(
            None,
            &[
                ("client_id", &post.client.id),
                ("client_secret", &post_secret)
            ]
        ))
        .await,
        Err(ClientAuthError::Disabled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_administrator_adds_an_app_and_sees_the_secret_once() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("nia@nhsmal.example", "NAT01", "national-admin")
        .await;
    let home = app.page(&client, "/admin").await;
    assert!(
        home.contains("href=\"/admin/clients\""),
        "linked from Admin"
    );
    let page = app.page(&client, "/admin/clients").await;
    assert!(page.contains("No apps are registered yet"));

    // Refusals: every field's problem at once, with what was typed kept.
    let response = app
        .submit(
            &client,
            "/admin/clients",
            "/admin/clients",
            &[
                ("name", ""),
                (
                    "redirect_uris",
                    "https://mail.example/cb\nhttp://mail.example/cb",
                ),
                ("post_logout_redirect_uris", "/signed-out"),
                ("client_type", "confidential"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    let summary = text_of(&html, ".nhsuk-error-summary");
    assert!(summary.contains("Enter the app's name") || summary.contains("Enter the app"));
    assert!(summary.contains("http://mail.example/cb"), "{summary}");
    assert!(summary.contains("absolute"), "{summary}");
    assert!(
        html.contains("https://mail.example/cb\nhttp://mail.example/cb"),
        "kept"
    );
    assert!(
        app.store.clients().await.expect("clients").is_empty(),
        "nothing added"
    );

    let response = app
        .submit(
            &client,
            "/admin/clients",
            "/admin/clients",
            &[
                ("name", "NHSmal Mail"),
                (
                    "redirect_uris",
                    "https://mail.example/cb\r\n\r\nhttp://localhost:8080/cb",
                ),
                ("client_type", "confidential"),
                ("first_party", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let html = response.text().await.expect("body");
    let id = text_of(&html, "#client-id");
    let secret = text_of(&html, "#client-secret");
    assert!(!secret.is_empty());
    let stored = app.store.clients().await.expect("clients");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, id);
    assert!(stored[0].first_party);
    assert_eq!(
        stored[0].redirect_uris,
        ["https://mail.example/cb", "http://localhost:8080/cb"]
    );
    // The list shows the app but never the secret.
    let list = app.page(&client, "/admin/clients").await;
    assert!(list.contains(&id) && list.contains("NHSmal Mail"));
    assert!(!list.contains(&secret));
    let nia = crate::helpers::account(&app, "nia@nhsmal.example").await;
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "oidc.client_added"
                && e.actor_id.as_deref() == Some(nia.id.as_str())
                && e.subject.as_deref() == Some(id.as_str()))
    );

    // A public app has no secret.
    let response = app
        .submit(
            &client,
            "/admin/clients",
            "/admin/clients",
            &[
                ("name", "Rota"),
                ("redirect_uris", "https://rota.example/cb"),
                ("client_type", "public"),
            ],
        )
        .await;
    let html = response.text().await.expect("body");
    assert!(html.contains("client-id") && !html.contains("client-secret"));

    // Disable.
    let path = format!("/admin/clients/{id}/disable");
    let response = app.submit(&client, "/admin/clients", &path, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (found, _) = app
        .store
        .client_with_secret(&id)
        .await
        .expect("read")
        .expect("there");
    assert!(found.disabled);
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "oidc.client_disabled")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_administrator_cannot_see_or_add_apps_and_the_refusal_is_audited() {
    let app = spawn_app().await;
    let (client, _) = app
        .with_fresh_factor("lee@fa123.nhs.uk", "FA123", "local-admin")
        .await;
    let home = app.page(&client, "/admin").await;
    assert!(!home.contains("/admin/clients"));
    let response = app.get_with(&client, "/admin/clients").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .submit(
            &client,
            "/admin",
            "/admin/clients",
            &[
                ("name", "Sneaky"),
                ("redirect_uris", "https://evil.example/cb"),
                ("client_type", "confidential"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(app.store.clients().await.expect("clients").is_empty());
    let denied = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event == "admin.denied")
        .count();
    assert!(denied >= 2, "both refusals audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_registered_to_require_a_security_key_tells_a_person_without_one_what_to_add_and_where()
 {
    let app = spawn_app().await;
    let (client_id, _) = crate::oidc::register(&app, &["--first-party", "--require-acr", "phr"]);
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    // The app asks for nothing in particular, or for less: its registration decides.
    for extra in [&[][..], &[("acr_values", "urn:nhsmal:acr:mfa")][..]] {
        let r = app
            .get_with(&person, &crate::oidc::authorize_url(&client_id, extra))
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let page = r.text().await.expect("text");
        assert_eq!(
            crate::helpers::text_of(&page, "h1"),
            "Webmail needs a sign-in with a passkey or security key"
        );
        assert!(page.contains("Passkey") && page.contains("FIDO2 token"));
        assert!(page.contains("href=\"/profile/self-service/enrol\""));
    }
    // An app without the requirement that asks for the level itself is told, as before.
    let (other, _) = crate::oidc::register(&app, &["--first-party"]);
    let r = app
        .get_with(
            &person,
            &crate::oidc::authorize_url(&other, &[("acr_values", "urn:nhsmal:acr:phr")]),
        )
        .await;
    assert!(location(&r).contains("error=unmet_authentication_requirements"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_requiring_mfa_gets_it_and_an_unknown_level_is_refused_at_registration() {
    let app = spawn_app().await;
    let (client_id, _) = crate::oidc::register(
        &app,
        &["--first-party", "--require-acr", "urn:nhsmal:acr:mfa"],
    );
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let r = app
        .get_with(&person, &crate::oidc::authorize_url(&client_id, &[]))
        .await;
    assert!(
        location(&r).starts_with(crate::oidc::CALLBACK),
        "{}",
        location(&r)
    );
    assert!(location(&r).contains("code="));

    let out = app.nhsmal(&[
        "client",
        "add",
        "--name",
        "Bad",
        "--redirect-uri",
        "https://app.example/cb",
        "--require-acr",
        "strong",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use pwd, mfa or phr"));
}
