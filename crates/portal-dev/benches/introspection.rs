//! Token introspection benchmark (issue 22): run with `scripts/bench-introspection` (or
//! `cargo bench --bench introspection`).
//!
//! A mail server asks the portal about the token of every IMAP or SMTP connection (RFC 7662),
//! so introspection must be far cheaper than issuing tokens. For each store (SQLite, and
//! PostgreSQL when it answers), in one run on one machine: BENCH_TOKENS (200) mail apps'
//! tokens made with the device grant; then for BENCH_RUN seconds (10) each, BENCH_IN_FLIGHT
//! (32) clients at once
//!  - introspect those access tokens as the mail gateway does (its client's Basic credentials);
//!  - refresh at the token endpoint, each client using the refresh token it got last (a new
//!    access and refresh token each time).
//!
//! It prints requests/s and p50/p99 of each, and introspections/s ÷ refreshes/s.
//! Loopback only; bounded by BENCH_SECONDS (120) a store.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time

mod common;

use common::env_number;

use std::sync::Arc;

use domain::accounts::{AccountRecords, Email, NewAccount, Role};
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::oidc::clients::{self, NewClient};
use domain::oidc::device_grant;
use domain::oidc::flows::{Authentication, Issuer};
use nhsmal::config::Settings;
use nhsmal::web;

fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "NHSmal introspection benchmark: {cores} cores, {} clients at once, {} s a run",
        env_number("BENCH_IN_FLIGHT", 32),
        env_number("BENCH_RUN", 10)
    );
    common::in_each_store(120, |settings, data_dir, label| {
        Box::pin(run(settings, data_dir, label))
    });
}

/// A mail app's tokens.
struct Tokens {
    access: String,
    refresh: String,
}

async fn run(
    settings: &mut Settings,
    data_dir: &std::path::Path,
    label: &str,
) -> anyhow::Result<()> {
    let (app, store, listener, base) = common::portal_on_loopback(settings, data_dir).await?;
    let requester = Requester::command_line();
    let now = SystemClock.now();
    let new = |name: &str, native: bool| NewClient {
        name: name.into(),
        redirect_uris: if native {
            vec![]
        } else {
            vec!["https://mail.nhsmal.example/unused".into()]
        },
        native,
        ..NewClient::default()
    };
    let mail_app = clients::add_client(
        &store,
        &app.secrets,
        &new("Thunderbird", true),
        None,
        &requester,
        now,
    )
    .await?
    .client;
    let gateway = clients::add_client(
        &store,
        &app.secrets,
        &new("Mail gateway", false),
        None,
        &requester,
        now,
    )
    .await?;
    let gateway_secret = gateway.secret.clone().unwrap_or_default();

    // The mail apps' tokens, made as the device grant makes them (without the waiting).
    let count = env_number("BENCH_TOKENS", 200) as usize;
    let issuer_url = settings
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let issuer = Issuer {
        url: &issuer_url,
        keys: &app.signing_keys,
        secrets: &app.secrets,
    };
    let mut tokens = Vec::with_capacity(count);
    for i in 0..count {
        let account = NewAccount {
            id: uuid::Uuid::new_v4().to_string(),
            email: Email::parse(&format!("mail{i}@bench.nhs.uk"))
                .map_err(|e| anyhow::anyhow!(e))?,
            display_name: "Bench User".into(),
            org_code: "BENCH1".into(),
            role: Role::User,
            password_hash: None,
            now,
        };
        store.insert_account(&account).await?;
        let account = store
            .account_by_id(&account.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("account not stored"))?;
        let ip = format!("10.0.{}.{}", i / 250, i % 250);
        let started = device_grant::start(
            &store,
            &mail_app,
            "openid email offline_access mail.imap mail.smtp",
            (&ip, "bench"),
            "http://localhost/device",
            now,
        )
        .await?;
        let authorization =
            device_grant::find_for_person(&store, &started.user_code, &ip, &account.id, now)
                .await?;
        let who = Authentication {
            account: &account,
            auth_methods: "pwd otp mfa",
            auth_time: now,
        };
        anyhow::ensure!(device_grant::allow(&store, &authorization, &mail_app, &who, now).await?);
        let issued = device_grant::poll(&store, &issuer, &mail_app, &started.device_code, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tokens.push(Tokens {
            access: issued.access_token,
            refresh: issued.refresh_token,
        });
    }
    tokio::spawn(web::serve(app.clone(), listener, std::future::pending()));

    let in_flight = env_number("BENCH_IN_FLIGHT", 32) as usize;
    let seconds = env_number("BENCH_RUN", 10);
    let http = reqwest::Client::builder().build()?;
    let accesses: Arc<Vec<String>> = Arc::new(tokens.iter().map(|t| t.access.clone()).collect());

    // Introspection, as the gateway asks.
    let introspect = {
        let (http, base, id, secret, accesses) = (
            http.clone(),
            base.clone(),
            gateway.client.id.clone(),
            gateway_secret.clone(),
            accesses.clone(),
        );
        common::timed(in_flight, seconds, move |worker, n| {
            let (http, base, id, secret, accesses) = (
                http.clone(),
                base.clone(),
                id.clone(),
                secret.clone(),
                accesses.clone(),
            );
            async move {
                let token = &accesses[(worker * 7919 + n) % accesses.len()];
                let r = http
                    .post(format!("{base}/oauth2/introspect"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await?;
                let body: serde_json::Value = r.json().await?;
                anyhow::ensure!(body["active"] == true, "inactive: {body}");
                Ok(())
            }
        })
        .await?
    };

    // Refreshes: each client follows its own chain.
    let chains: Arc<Vec<tokio::sync::Mutex<String>>> = Arc::new(
        tokens
            .iter()
            .take(in_flight)
            .map(|t| tokio::sync::Mutex::new(t.refresh.clone()))
            .collect(),
    );
    anyhow::ensure!(
        chains.len() == in_flight,
        "BENCH_TOKENS must be at least BENCH_IN_FLIGHT"
    );
    let refresh = {
        let (http, base, client_id) = (http.clone(), base.clone(), mail_app.id.clone());
        common::timed(in_flight, seconds, move |worker, _| {
            let (http, base, client_id, chains) = (
                http.clone(),
                base.clone(),
                client_id.clone(),
                chains.clone(),
            );
            async move {
                let mut current = chains[worker].lock().await;
                let r = http
                    .post(format!("{base}/oauth2/token"))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", current.as_str()),
                        ("client_id", client_id.as_str()),
                    ])
                    .send()
                    .await?;
                let body: serde_json::Value = r.json().await?;
                *current = body["refresh_token"]
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("refresh refused: {body}"))?
                    .to_string();
                Ok(())
            }
        })
        .await?
    };

    println!("{label}:");
    for (name, r) in [("introspections", &introspect), ("refreshes", &refresh)] {
        println!(
            "  {name}: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms ({} requests)",
            r.rate, r.p50_ms, r.p99_ms, r.count
        );
    }
    println!(
        "  introspections/s ÷ refreshes/s: {:.2}",
        introspect.rate / refresh.rate
    );
    Ok(())
}
