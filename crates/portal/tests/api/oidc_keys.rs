//! ID token signing keys: made at first start, sealed at rest, the same after a restart,
//! rotated by `nhsmal keys rotate` with the old key still published.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use domain::oidc::keys::{
    self, Alg, ID_TOKEN_SECONDS, KeyRecords, KeyState, RETIRED_KEY_PUBLISHED_SECONDS, SigningKeys,
};
use serde_json::Value;

use crate::helpers::{CliEnv, START, TestApp, spawn_app};

async fn jwks_at(address: &str) -> Value {
    let response = reqwest::get(format!("{address}/.well-known/jwks.json"))
        .await
        .expect("JWKS answers");
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    );
    response.json().await.expect("JSON")
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect();
    kids.sort();
    kids
}

/// Another server on the same database and master key: a restart, or a second node.
async fn second_server(app: &TestApp) -> String {
    let store = nhsmal::store::Store::open(
        app.database_url(),
        &app.settings.data_dir,
        app.settings.database_max_connections,
    )
    .await
    .expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let server = nhsmal::web::App::new(
        store,
        app.settings.clone(),
        Arc::new(app.clock.clone()),
        Arc::new(
            nhsmal::notify::from_settings(&app.settings.providers, &app.settings.data_dir)
                .expect("providers"),
        ),
        app.secrets(),
    )
    .await
    .expect("second server starts");
    tokio::spawn(nhsmal::web::serve(server, listener, std::future::pending()));
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_makes_an_rs256_and_an_es256_key_and_keeps_them_across_a_restart() {
    let app = spawn_app().await;
    let jwks = jwks_at(&app.address).await;
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    let mut algs: Vec<&str> = keys
        .iter()
        .map(|k| k["alg"].as_str().expect("alg"))
        .collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "RS256"]);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private part");
        match key["alg"].as_str() {
            Some("RS256") => {
                assert_eq!(key["kty"], "RSA");
                let n = B64
                    .decode(key["n"].as_str().expect("n"))
                    .expect("base64url");
                assert_eq!(n.len() * 8, 2048);
            }
            _ => {
                assert_eq!(key["kty"], "EC");
                assert_eq!(key["crv"], "P-256");
            }
        }
    }
    let restarted = second_server(&app).await;
    assert_eq!(
        kids(&jwks_at(&restarted).await),
        kids(&jwks),
        "the same keys after a restart"
    );
    assert_eq!(
        app.store.signing_keys().await.expect("keys").len(),
        2,
        "made once, at first start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_starting_at_once_make_one_set_of_keys() {
    let env = CliEnv::new().await;
    let settings = nhsmal::config::Settings::with_data_dir(env.data_dir.path());
    let url = env
        .database_url
        .clone()
        .unwrap_or(settings.database_url.clone());
    let open = || nhsmal::store::Store::open(&url, env.data_dir.path(), 4);
    let (a, b) = (open().await.expect("store"), open().await.expect("store"));
    let secrets =
        domain::secrets::SecretBox::from_base64(&domain::secrets::SecretBox::generate_key_base64())
            .expect("key");
    let (one, two) = tokio::join!(
        SigningKeys::load_or_create(&a, &secrets, START),
        SigningKeys::load_or_create(&b, &secrets, START)
    );
    let (one, two) = (one.expect("node one"), two.expect("node two"));
    for alg in Alg::ALL {
        assert_eq!(one.active_kid(alg), two.active_kid(alg));
    }
    assert_eq!(a.signing_keys().await.expect("keys").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_private_key_in_clear() {
    let app = spawn_app().await;
    let jwks = jwks_at(&app.address).await;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(app.database_url())
        .await
        .expect("database");
    let rows: Vec<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT kid, alg, private_key FROM oidc_signing_keys")
            .fetch_all(&mut conn)
            .await
            .expect("rows");
    assert_eq!(rows.len(), 2);
    for (kid, alg, private_key) in rows {
        assert!(!private_key.is_empty());
        // Not PKCS#8 (nor PEM) that a crypto library would take.
        assert!(aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&private_key).is_err());
        assert!(
            aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &private_key
            )
            .is_err()
        );
        assert!(!String::from_utf8_lossy(&private_key).contains("PRIVATE KEY"));
        // A PKCS#8 key holds its public part too: none of it shows through.
        let entry = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("published");
        let public = match alg.as_str() {
            "RS256" => B64.decode(entry["n"].as_str().expect("n")).expect("n"),
            _ => B64.decode(entry["x"].as_str().expect("x")).expect("x"),
        };
        assert!(
            !private_key
                .windows(16)
                .any(|w| public.windows(16).any(|p| p == w))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_makes_new_active_keys_prints_their_kids_and_retires_the_old_ones() {
    let app = spawn_app().await;
    let before = kids(&jwks_at(&app.address).await);
    let out = app.nhsmal(&["keys", "rotate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = app.store.signing_keys().await.expect("keys");
    assert_eq!(stored.len(), 4);
    for key in &stored {
        if before.contains(&key.kid) {
            assert_eq!(key.state(), KeyState::Retired);
            assert!(
                key.sealed_private_key.is_empty(),
                "a retired key's private half is wiped"
            );
            assert_eq!(
                key.publish_until,
                key.retired_at.map(|t| t + RETIRED_KEY_PUBLISHED_SECONDS)
            );
        } else {
            assert_eq!(key.state(), KeyState::Active);
            assert!(
                stdout.contains(&key.kid),
                "the new kid is printed: {stdout}"
            );
        }
    }
    let list = app.nhsmal(&["keys", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert_eq!(
        listed
            .lines()
            .skip(1)
            .filter(|l| l.contains("\tretired\t"))
            .count(),
        2
    );
    assert_eq!(
        listed
            .lines()
            .skip(1)
            .filter(|l| l.contains("\tactive\t"))
            .count(),
        2
    );
    assert!(
        app.audit()
            .await
            .iter()
            .any(|e| e.event == "oidc.keys_rotated")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_the_old_kid_stays_in_the_jwks_and_tokens_are_signed_with_the_new_one() {
    let app = spawn_app().await;
    let before = kids(&jwks_at(&app.address).await);
    let secrets = app.secrets();
    // The rotation as `nhsmal keys rotate` does it, on the server's (fake) clock.
    keys::rotate(
        &app.store,
        &secrets,
        &domain::audit::Requester::command_line(),
        app.clock_now(),
    )
    .await
    .expect("rotated");
    // A server (re)started, or reloading, after the rotation publishes old and new keys.
    let server = second_server(&app).await;
    let jwks = jwks_at(&server).await;
    let after = kids(&jwks);
    assert_eq!(after.len(), 4);
    for kid in &before {
        assert!(after.contains(kid), "the retired key is still published");
    }
    let keys = SigningKeys::load(&app.store, &secrets, app.clock_now())
        .await
        .expect("loads");
    let token = keys
        .sign(Alg::ES256, &serde_json::json!({"sub": "s1", "aud": "c1"}))
        .expect("signs");
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.kid, keys.active_kid(Alg::ES256));
    assert!(
        !before.contains(header.kid.as_ref().expect("kid")),
        "the new key signs"
    );
    let entry = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("published");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(entry.clone()).expect("JWK");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["c1"]);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key"),
        &validation,
    )
    .expect("verifies");
    // An ID token signed just before the rotation still verifies until it expires…
    let reloaded_later =
        SigningKeys::load(&app.store, &secrets, app.clock_now() + ID_TOKEN_SECONDS)
            .await
            .expect("loads");
    assert_eq!(kids(&reloaded_later.jwks()).len(), 4);
    // …and the retired keys leave the JWKS once such tokens have expired.
    let much_later = SigningKeys::load(
        &app.store,
        &secrets,
        app.clock_now() + RETIRED_KEY_PUBLISHED_SECONDS + 10,
    )
    .await
    .expect("loads");
    assert_eq!(kids(&much_later.jwks()).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_with_another_master_key_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let before = kids(&jwks_at(&app.address).await);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal"))
        .args(["keys", "rotate", "--data-dir"])
        .arg(app.data_dir.path())
        .arg("--database-url")
        .arg(app.database_url())
        .env(
            "NHSMAL_MASTER_KEY",
            domain::secrets::SecretBox::generate_key_base64(),
        )
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("master key"));
    let keys = app.store.signing_keys().await.expect("keys");
    let mut stored: Vec<String> = keys.into_iter().map(|k| k.kid).collect();
    stored.sort();
    assert_eq!(stored, before);
}
