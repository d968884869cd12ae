//! Passkey sign-in benchmark (issue 23): run with `scripts/bench-passkey` (or `cargo bench
//! --bench passkey`).
//!
//! A passkey sign-in has no Argon2id: it checks an ECDSA signature and writes the session, so it
//! should be several times faster than a password sign-in. For each store (SQLite, and
//! PostgreSQL when it answers), in one run on one machine: BENCH_PEOPLE (64) people with a
//! password and a passkey (a software authenticator, registered through the portal's own
//! functions); then for BENCH_RUN seconds (10) each, BENCH_IN_FLIGHT (16) browsers at once
//!  - the password step as a browser does it (POST the sign-in form: Argon2id);
//!  - a passkey sign-in as the sign-in page's script does it (options with a sealed ticket,
//!    then the signed answer: a session, signed in).
//!
//! It prints sign-ins/s and p50/p99 of each, and passkey ÷ password.
//! Loopback only; bounded by BENCH_SECONDS (120) a store.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time

mod common;

use common::env_number;

use std::sync::{Arc, Mutex};

use domain::accounts::{AccountRecords, Email, NewAccount, Role};
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use nhsmal::config::Settings;
use nhsmal::web;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

const PASSWORD: &str = "correct horse battery staple 1";

fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "NHSmal passkey benchmark: {cores} cores, {} browsers at once, {} s a run",
        env_number("BENCH_IN_FLIGHT", 16),
        env_number("BENCH_RUN", 10)
    );
    common::in_each_store(120, |settings, data_dir, label| {
        Box::pin(run(settings, data_dir, label))
    });
}

/// One person's passkey, as their browser holds it.
struct Person {
    email: String,
    credential_id: String,
    user_handle: Vec<u8>,
}

async fn run(
    settings: &mut Settings,
    data_dir: &std::path::Path,
    label: &str,
) -> anyhow::Result<()> {
    settings.sign_in_limits.ip_max_failures = 1_000_000;
    let (app, store, listener, base) = common::portal_on_loopback(settings, data_dir).await?;
    let origin: url::Url = settings.public_url.clone();
    let requester = Requester::command_line();
    let hashing = domain::password::PasswordHashing::new(&settings.argon2)?;
    // One hash for everyone (made once: a hash each would make the set-up long).
    let hash = hashing.hash(&domain::password::Password::new(PASSWORD))?;
    let in_flight = env_number("BENCH_IN_FLIGHT", 16) as usize;
    let count = (env_number("BENCH_PEOPLE", 64) as usize).max(in_flight);
    // A software authenticator per browser, holding the passkeys of its people.
    let tokens: Vec<Arc<Mutex<SoftToken>>> = (0..in_flight)
        .map(|_| {
            SoftToken::new(true)
                .map(|(t, _)| Arc::new(Mutex::new(t)))
                .map_err(|e| anyhow::anyhow!("{e:?}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut people: Vec<Vec<Person>> = (0..in_flight).map(|_| vec![]).collect();
    let now = SystemClock.now();
    for i in 0..count {
        let new = NewAccount {
            id: uuid::Uuid::new_v4().to_string(),
            email: Email::parse(&format!("passkey{i}@bench.nhs.uk"))
                .map_err(|e| anyhow::anyhow!(e))?,
            display_name: "Bench User".into(),
            org_code: "BENCH1".into(),
            role: Role::User,
            password_hash: Some(hash.clone()),
            now,
        };
        store.insert_account(&new).await?;
        let account = store
            .account_by_id(&new.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("account not stored"))?;
        let (mut options, state) = app
            .security_keys
            .start_passkey_registration(&account, &[])?;
        // The software token keeps no resident keys: it is told which credential to use.
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "discouraged".into();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = false.into();
        let options: CreationChallengeResponse = serde_json::from_value(options)?;
        let user_handle = options.public_key.user.id.to_vec();
        let worker = i % in_flight;
        let credential = {
            let mut token = tokens[worker]
                .lock()
                .map_err(|_| anyhow::anyhow!("token"))?;
            token
                .do_registration(origin.clone(), options)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
        };
        let registered = app
            .security_keys
            .finish_passkey_registration(&state, &serde_json::to_string(&credential)?)?;
        domain::mfa::passkey::add_passkey(&store, &account, &registered, "", &app.mfa(&requester))
            .await?;
        people[worker].push(Person {
            email: new.email.as_str().to_string(),
            credential_id: registered.credential_id,
            user_handle,
        });
    }
    tokio::spawn(web::serve(app.clone(), listener, std::future::pending()));
    let people = Arc::new(people);
    let seconds = env_number("BENCH_RUN", 10);

    // Each browser: its own cookies, and the sign-in page's CSRF token.
    let mut browsers = vec![];
    for _ in 0..in_flight {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = client
            .get(format!("{base}/sign-in"))
            .send()
            .await?
            .text()
            .await?;
        let token = page
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| anyhow::anyhow!("no CSRF token"))?
            .to_string();
        browsers.push((client, token));
    }
    let browsers = Arc::new(browsers);

    let password = {
        let (browsers, people, base) = (browsers.clone(), people.clone(), base.clone());
        common::timed(in_flight, seconds, move |worker, n| {
            let (browsers, people, base) = (browsers.clone(), people.clone(), base.clone());
            async move {
                let (client, token) = &browsers[worker];
                let person = &people[worker][n % people[worker].len()];
                let r = client
                    .post(format!("{base}/sign-in"))
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("email", person.email.as_str()),
                        ("password", PASSWORD),
                    ])
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 303, "password step: {}", r.status());
                Ok(())
            }
        })
        .await?
    };

    let passkey = {
        let (browsers, people, base) = (browsers.clone(), people.clone(), base.clone());
        common::timed(in_flight, seconds, move |worker, n| {
            let (browsers, people, base, origin) = (
                browsers.clone(),
                people.clone(),
                base.clone(),
                origin.clone(),
            );
            let token = tokens[worker].clone();
            async move {
                let (client, csrf) = &browsers[worker];
                let person = &people[worker][n % people[worker].len()];
                let mut options: serde_json::Value = client
                    .post(format!("{base}/sign-in/passkey/options"))
                    .form(&[("csrf_token", csrf.as_str())])
                    .send()
                    .await?
                    .json()
                    .await?;
                let ticket = options["ticket"]
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("no ticket: {options}"))?
                    .to_string();
                options["publicKey"]["allowCredentials"] =
                    serde_json::json!([{ "type": "public-key", "id": person.credential_id }]);
                if let Some(o) = options.as_object_mut() {
                    o.remove("ticket");
                }
                let options: RequestChallengeResponse = serde_json::from_value(options)?;
                let mut assertion = token
                    .lock()
                    .map_err(|_| anyhow::anyhow!("token"))?
                    .do_authentication(origin, options)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                assertion.response.user_handle = Some(person.user_handle.clone());
                let r = client
                    .post(format!("{base}/sign-in/passkey/finish"))
                    .form(&[
                        ("csrf_token", csrf.as_str()),
                        ("ticket", &ticket),
                        ("credential", &serde_json::to_string(&assertion)?),
                    ])
                    .send()
                    .await?;
                let status = r.status();
                let body: serde_json::Value = r.json().await?;
                anyhow::ensure!(status == 200, "passkey sign-in: {status} {body}");
                Ok(())
            }
        })
        .await?
    };

    println!("{label}:");
    for (name, r) in [
        ("password sign-ins (password step)", &password),
        ("passkey sign-ins (options + answer)", &passkey),
    ] {
        println!(
            "  {name}: {:.1}/s, p50 {:.1} ms, p99 {:.1} ms ({} sign-ins)",
            r.rate, r.p50_ms, r.p99_ms, r.count
        );
    }
    println!(
        "  passkey sign-ins/s ÷ password sign-ins/s: {:.2}",
        passkey.rate / password.rate
    );
    Ok(())
}
