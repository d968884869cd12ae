//! Token endpoint benchmark (issue 7): run with `scripts/bench-oidc` (or
//! `cargo bench --bench oidc`).
//!
//! In one run on one machine it measures
//!  - the bare signing rate of RS256 and ES256 (`SigningKeys::sign` of an ID token's claims in
//!    a loop, on one thread and on one thread a core);
//!  - for each store (SQLite, and PostgreSQL when it answers): code exchanges/s at the token
//!    endpoint (client_secret_basic, PKCE verifier) for an RS256 and an ES256 client, with codes
//!    minted by `nhsmal-dev oidc-codes` right before each timed run; refresh grants/s (each
//!    refresh token used once: every worker refreshes the token it got last); JWKS GETs/s; and
//!    the foundation benchmark's bare handler behind the portal's layers;
//!  - the same exchanges and refreshes against npm `oidc-provider` (benchmarks/oidc-provider,
//!    in-memory adapter), with the same load generator.
//!
//! Then it prints the ratios. The load generator keeps IN_FLIGHT requests in flight over keep-alive
//! connections on one thread. Every run is bounded in time; only loopback is used.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time

mod common;

use common::env_number;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;

use common::ScratchDatabase;
use domain::accounts::{self, AccountRequest};
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::oidc::clients::{self, NewClient};
use domain::oidc::keys::{Alg, SigningKeys};
use domain::organisations;
use domain::password::PasswordHashing;
use domain::secrets::SecretBox;
use nhsmal::config::Settings;
use nhsmal::notify::Outbox;
use nhsmal::store::Store;
use nhsmal::web::{self, App};

const VERIFIER: &str = "nhsmal-benchmark-code-verifier-0123456789-abcdefghijklmnop";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const EMAIL: &str = "bench@bench.nhs.uk";
const NODE_SECRET: &str = "nhsmal-benchmark-client-secret-0123456789";
const NODE_REDIRECT: &str = "http://127.0.0.1:1/callback";

fn seconds() -> u64 {
    env_number("BENCH_SECONDS", 10)
}

fn in_flight() -> usize {
    env_number("BENCH_IN_FLIGHT", 32) as usize
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "NHSmal token endpoint benchmark: {cores} cores, {} s a run, {} requests in flight; load average {}",
        seconds(),
        in_flight(),
        load_average()
    );
    let mut rows: Vec<(String, f64)> = vec![];
    match signing_rates(cores) {
        Ok(r) => rows.extend(r),
        Err(e) => println!("signing: skipped ({e})"),
    }
    for (name, value) in &rows {
        println!("{name}: {value:.0}/s");
    }
    let only = std::env::var("STORES").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut ours: Vec<(String, Results)> = vec![];
    if only.contains("sqlite") {
        match run_store(None) {
            Ok(r) => ours.push(("SQLite".into(), r)),
            Err(e) => println!("SQLite: failed ({e:#})"),
        }
    }
    if only.contains("postgres") {
        let pg = std::env::var("NHSMAL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        match run_store(Some(&pg)) {
            Ok(r) => ours.push(("PostgreSQL".into(), r)),
            Err(e) => println!("PostgreSQL: skipped ({e:#})"),
        }
    }
    let node = if std::env::var("BENCH_NODE").as_deref() == Ok("0") {
        None
    } else {
        match run_node() {
            Ok(r) => Some(r),
            Err(e) => {
                println!("oidc-provider: skipped ({e:#})");
                None
            }
        }
    };

    println!();
    println!("load average at the end: {}", load_average());
    println!(
        "| server | store | exchanges/s RS256 | exchanges/s ES256 | refreshes/s RS256 | refreshes/s ES256 | JWKS GETs/s | bare handler/s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (store, r) in &ours {
        println!(
            "| NHSmal | {store} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.exchange_rs, r.exchange_es, r.refresh_rs, r.refresh_es, r.jwks, r.bare
        );
    }
    if let Some(n) = &node {
        println!(
            "| oidc-provider {} | in-memory | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | |",
            n.version, n.exchange_rs, n.exchange_es, n.refresh_rs, n.refresh_es, n.jwks
        );
    }
    for (name, value) in &rows {
        println!("bare signing, {name}: {value:.0}/s");
    }
    if let Some(n) = &node {
        for (store, r) in &ours {
            println!(
                "{store}: exchanges/s ours ÷ oidc-provider's: RS256 {:.2}, ES256 {:.2}, ours with ES256 ÷ theirs with RS256 {:.2} (target >= 2); refreshes: RS256 {:.2}, ES256 {:.2}",
                r.exchange_rs / n.exchange_rs,
                r.exchange_es / n.exchange_es,
                r.exchange_es / n.exchange_rs,
                r.refresh_rs / n.refresh_rs,
                r.refresh_es / n.refresh_es,
            );
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// What an ID token of ours says, for signing alone.
fn sample_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "http://localhost:8080", "sub": uuid::Uuid::new_v4().to_string(),
        "aud": "bench-client-id-0000000000", "azp": "bench-client-id-0000000000",
        "exp": 1_800_000_000i64, "iat": 1_799_996_400i64, "auth_time": 1_799_996_000i64,
        "amr": ["pwd", "otp", "mfa"], "acr": "urn:nhsmal:acr:mfa",
        "at_hash": "abcdefghijklmnopqrstuv", "nonce": "benchmark",
        "email": EMAIL, "email_verified": true, "name": "Bench User",
        "organisation": { "code": "BENCH1", "name": "Benchmark Pharmacy" },
    })
}

fn signing_rates(cores: usize) -> anyhow::Result<Vec<(String, f64)>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let settings = Settings::with_data_dir(dir.path());
    let keys = rt.block_on(async {
        let store = Store::open(&settings.database_url, &settings.data_dir, 2).await?;
        let secrets = SecretBox::from_base64(&SecretBox::generate_key_base64())?;
        let keys = SigningKeys::load_or_create(&store, &secrets, SystemClock.now()).await?;
        store.close().await;
        anyhow::Ok(keys)
    })?;
    let claims = sample_claims();
    let mut out = vec![];
    for alg in [Alg::RS256, Alg::ES256] {
        for threads in [1, cores] {
            let count = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs(3);
            let started = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let (count, keys, claims) = (Arc::clone(&count), keys.clone(), &claims);
                    s.spawn(move || {
                        while Instant::now() < deadline {
                            if keys.sign(alg, claims).is_ok() {
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            out.push((
                format!("{} on {threads} thread(s)", alg.as_str()),
                count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
            ));
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Results {
    exchange_rs: f64,
    exchange_es: f64,
    refresh_rs: f64,
    refresh_es: f64,
    jwks: f64,
    bare: f64,
}

struct NodeResults {
    version: String,
    exchange_rs: f64,
    exchange_es: f64,
    refresh_rs: f64,
    refresh_es: f64,
    jwks: f64,
}

/// A client of the token endpoint under test.
#[derive(Clone)]
struct TokenClient {
    token_url: String,
    id: String,
    secret: String,
    redirect: String,
}

/// What one timed run did.
struct Run {
    ok: u64,
    failed: u64,
    seconds: f64,
    first_failure: Option<String>,
    refresh_tokens: Vec<String>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    fn report(&self, what: &str) {
        println!(
            "  {what}: {:.0}/s ({} in {:.1} s{})",
            self.rate(),
            self.ok,
            self.seconds,
            if self.failed > 0 {
                format!(
                    "; {} failed, first: {}",
                    self.failed,
                    self.first_failure.as_deref().unwrap_or("?")
                )
            } else {
                String::new()
            }
        );
    }
}

fn load_thread<T: Send>(work: impl FnOnce(&tokio::runtime::Runtime) -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            work(&rt)
        })
        .join()
        .expect("load thread")
    })
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn refresh_token_of(body: &str) -> Option<String> {
    body.split("\"refresh_token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
}

enum Work {
    /// Exchange each code once.
    Exchange(Arc<Vec<String>>),
    /// Each worker starts from one token and refreshes the one it got last.
    Refresh(Arc<Vec<String>>),
}

/// IN_FLIGHT workers POST to the token endpoint until `seconds` pass or the codes run out.
async fn token_run(client: &TokenClient, work: Work, seconds: f64) -> Run {
    let http = http();
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    let workers = match &work {
        Work::Exchange(_) => in_flight(),
        Work::Refresh(tokens) => in_flight().min(tokens.len()),
    };
    for worker in 0..workers {
        let (http, client, next) = (http.clone(), client.clone(), Arc::clone(&next));
        let work = match &work {
            Work::Exchange(c) => Work::Exchange(Arc::clone(c)),
            Work::Refresh(t) => Work::Refresh(Arc::clone(t)),
        };
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut first_failure, mut tokens) = (0u64, 0u64, None, vec![]);
            let mut current = match &work {
                Work::Refresh(t) => t.get(worker).cloned(),
                Work::Exchange(_) => None,
            };
            while Instant::now() < deadline {
                let form: Vec<(&str, &str)> = match &work {
                    Work::Exchange(codes) => {
                        let Some(code) = codes.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            break;
                        };
                        vec![
                            ("grant_type", "authorization_code"),
                            ("code", code.as_str()),
                            ("redirect_uri", client.redirect.as_str()),
                            ("code_verifier", VERIFIER),
                        ]
                    }
                    Work::Refresh(_) => {
                        let Some(token) = current.as_deref() else {
                            break;
                        };
                        vec![("grant_type", "refresh_token"), ("refresh_token", token)]
                    }
                };
                let sent = http
                    .post(&client.token_url)
                    .basic_auth(&client.id, Some(&client.secret))
                    .form(&form)
                    .send()
                    .await;
                let outcome = match sent {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.text().await.unwrap_or_default();
                        if status == 200 {
                            Ok(refresh_token_of(&body))
                        } else {
                            Err(format!("{status} {body}"))
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(refresh) => {
                        ok += 1;
                        match &work {
                            Work::Exchange(_) => tokens.extend(refresh),
                            Work::Refresh(_) => current = refresh,
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        first_failure.get_or_insert(e);
                        if matches!(work, Work::Refresh(_)) {
                            break;
                        }
                    }
                }
            }
            (ok, failed, first_failure, tokens)
        }));
    }
    let mut run = Run {
        ok: 0,
        failed: 0,
        seconds: 0.0,
        first_failure: None,
        refresh_tokens: vec![],
    };
    for t in tasks {
        if let Ok((ok, failed, first, tokens)) = t.await {
            run.ok += ok;
            run.failed += failed;
            if run.first_failure.is_none() {
                run.first_failure = first;
            }
            run.refresh_tokens.extend(tokens);
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    run
}

/// IN_FLIGHT workers GET `url` for `seconds`.
async fn get_run(url: &str, seconds: f64) -> Run {
    let http = http();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..in_flight() {
        let (http, url) = (http.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            while Instant::now() < deadline {
                let answered = match http.get(&url).send().await {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if answered {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        if let Ok((o, f)) = t.await {
            ok += o;
            failed += f;
        }
    }
    Run {
        ok,
        failed,
        seconds: started.elapsed().as_secs_f64(),
        first_failure: (failed > 0).then(|| "non-200".to_string()),
        refresh_tokens: vec![],
    }
}

/// Codes for a run of `seconds` at about `rate` exchanges/s, with a margin; never more than
/// can be minted and used within their 60 seconds.
fn codes_for(rate: f64, seconds: f64) -> usize {
    ((rate * seconds * 1.3) as usize + 500).min(150_000)
}

/// Exchanges for one client: a warm-up, a short run to learn the rate, then codes minted for
/// the timed run, then the timed run; then refreshes of the tokens it got. The warm-up is
/// there for oidc-provider: Node.js compiles its hot code during the first seconds, and a rate
/// learnt then was half its timed rate, so its codes ran out before the time did.
fn exchange_and_refresh(
    label: &str,
    client: &TokenClient,
    mint: &dyn Fn(usize) -> anyhow::Result<Vec<String>>,
) -> anyhow::Result<(f64, f64)> {
    let secs = seconds() as f64;
    let warm = mint(2_000)?;
    load_thread(|rt| rt.block_on(token_run(client, Work::Exchange(Arc::new(warm)), 1.5)));
    let trial = mint(2_000)?;
    let first =
        load_thread(|rt| rt.block_on(token_run(client, Work::Exchange(Arc::new(trial)), 2.0)));
    anyhow::ensure!(
        first.ok > 0,
        "{label}: no exchange succeeded: {}",
        first.first_failure.unwrap_or_default()
    );
    let n = codes_for(first.rate(), secs);
    let minting = Instant::now();
    let codes = mint(n)?;
    println!(
        "  {label}: minted {n} codes in {:.1} s",
        minting.elapsed().as_secs_f64()
    );
    let run =
        load_thread(|rt| rt.block_on(token_run(client, Work::Exchange(Arc::new(codes)), secs)));
    run.report(&format!("{label} code exchanges"));
    if run.ok as usize >= n {
        println!(
            "  {label}: the codes ran out before the time did; the rate is still exchanges / elapsed"
        );
    }
    let tokens = Arc::new(run.refresh_tokens.clone());
    let refresh = load_thread(|rt| rt.block_on(token_run(client, Work::Refresh(tokens), secs)));
    refresh.report(&format!("{label} refresh grants"));
    Ok((run.rate(), refresh.rate()))
}

fn run_store(admin_url: Option<&str>) -> anyhow::Result<Results> {
    let name = if admin_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("{name}:");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let data_dir = tempfile::tempdir()?;
    let mut settings = Settings::with_data_dir(data_dir.path());
    let database = admin_url
        .map(|admin| ScratchDatabase::create(&server_rt, admin, &mut settings))
        .transpose()?;
    let result = run_store_on(&server_rt, &mut settings, data_dir.path());
    server_rt.shutdown_timeout(Duration::from_secs(1));
    if let Some(database) = database {
        database.remove()?;
    }
    result
}

fn run_store_on(
    server_rt: &tokio::runtime::Runtime,
    settings: &mut Settings,
    data_dir: &Path,
) -> anyhow::Result<Results> {
    // BENCH_DB_CONNECTIONS tries another pool size than the configured default.
    if let Ok(n) = std::env::var("BENCH_DB_CONNECTIONS") {
        settings.database_max_connections = n.parse()?;
    }
    let key = SecretBox::generate_key_base64();
    let (port, bare_port, rs, es) = server_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        settings.listen = ([127, 0, 0, 1], port).into();
        settings.public_url = format!("http://localhost:{port}").parse()?;
        let store = Store::open(
            &settings.database_url,
            &settings.data_dir,
            settings.database_max_connections,
        )
        .await?;
        organisations::add_organisation(&store, "BENCH1", "Benchmark Pharmacy", 0).await?;
        let hashing = PasswordHashing::new(&settings.argon2)?;
        let request = AccountRequest {
            email: EMAIL,
            name: "Bench User",
            org: "BENCH1",
            role: "user",
        };
        accounts::add_account(
            &store,
            &hashing,
            request,
            Some("correct horse battery staple 1"),
            0,
        )
        .await?;
        let secrets = SecretBox::from_base64(&key)?;
        let mut registered = vec![];
        for alg in ["RS256", "ES256"] {
            let new = NewClient {
                name: format!("Benchmark {alg}"),
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                public: false,
                first_party: true,
                auth_method: Some("client_secret_basic".into()),
                jwks: None,
                id_token_alg: Some(alg.into()),
                ..NewClient::default()
            };
            let r = clients::add_client(
                &store,
                &secrets,
                &new,
                None,
                &Requester::command_line(),
                SystemClock.now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            registered.push((r.client.id, r.secret.unwrap_or_default()));
        }
        let app = App::new(
            store.clone(),
            settings.clone(),
            Arc::new(SystemClock),
            Arc::new(Outbox::in_data_dir(data_dir)),
            SecretBox::from_base64(&key)?,
        )
        .await?;
        tokio::spawn(web::serve(app.clone(), listener, std::future::pending()));
        // The foundation benchmark's bare handler: a fixed page behind the same layers.
        let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let bare_port = bare.local_addr()?.port();
        let fixed = axum::Router::new().route(
            "/",
            axum::routing::get(|| async { axum::response::Html(FIXED_PAGE) }),
        );
        let layered = web::with_layers(fixed, app);
        tokio::spawn(async move {
            let service = layered.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(bare, service).await;
        });
        let mut registered = registered.into_iter();
        let rs = registered.next().unwrap_or_default();
        let es = registered.next().unwrap_or_default();
        anyhow::Ok((port, bare_port, rs, es))
    })?;
    let base = format!("http://127.0.0.1:{port}");
    let client = |(id, secret): &(String, String)| TokenClient {
        token_url: format!("{base}/oauth2/token"),
        id: id.clone(),
        secret: secret.clone(),
        redirect: REDIRECT.into(),
    };
    let mut results = Results::default();
    for (alg, registered) in [("RS256", &rs), ("ES256", &es)] {
        let mint = |n: usize| mint_ours(settings, data_dir, &registered.0, n);
        let (exchange, refresh) = exchange_and_refresh(alg, &client(registered), &mint)?;
        if alg == "RS256" {
            (results.exchange_rs, results.refresh_rs) = (exchange, refresh);
        } else {
            (results.exchange_es, results.refresh_es) = (exchange, refresh);
        }
    }
    let secs = seconds() as f64;
    let jwks =
        load_thread(|rt| rt.block_on(get_run(&format!("{base}/.well-known/jwks.json"), secs)));
    jwks.report("JWKS GETs");
    let bare =
        load_thread(|rt| rt.block_on(get_run(&format!("http://127.0.0.1:{bare_port}/"), secs)));
    bare.report("bare handler behind the portal's layers");
    results.jwks = jwks.rate();
    results.bare = bare.rate();
    Ok(results)
}

/// `nhsmal-dev oidc-codes` against the store under test: the codes, one a line.
fn mint_ours(
    settings: &Settings,
    data_dir: &Path,
    client_id: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let out = data_dir.join("codes.txt");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_nhsmal-dev"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--database-url", &settings.database_url])
        // `--client=` keeps an id that begins with '-' (base64url) from reading as an option.
        .args([
            "oidc-codes",
            &format!("--client={client_id}"),
            "--email",
            EMAIL,
        ])
        .args(["--count", &n.to_string()])
        .arg("--out")
        .arg(&out)
        .status()?;
    anyhow::ensure!(status.success(), "nhsmal-dev oidc-codes failed: {status}");
    if settings.database_url.starts_with("postgres") {
        analyse_minted(&settings.database_url)?;
    }
    Ok(std::fs::read_to_string(&out)?
        .lines()
        .map(str::to_string)
        .collect())
}

/// `ANALYZE` of the tables the minting filled, as autovacuum would have done by the time a
/// live server had issued as many codes. This machine's PostgreSQL runs with autovacuum off, so
/// the bench database's tables are never analysed: the code lookup's plan, prepared while
/// `oidc_grants` held the trial run's 2,000 grants, read the whole table for every batch of
/// codes (a hash join on a sequential scan) however large it grew, and halved the exchange
/// rate. Statistics make PostgreSQL plan the lookup again, by its indexes.
fn analyse_minted(database_url: &str) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut connection = sqlx::AnyConnection::connect(database_url).await?;
            sqlx::query("ANALYZE oidc_grants, oidc_codes, oidc_tokens")
                .execute(&mut connection)
                .await?;
            anyhow::Ok(())
        })
}

/// Stops the Node.js server when the run ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_node() -> anyhow::Result<NodeResults> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benchmarks/oidc-provider");
    anyhow::ensure!(
        dir.join("node_modules/oidc-provider").exists(),
        "run `npm ci` in {} first (scripts/bench-oidc does)",
        dir.display()
    );
    let version = std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
        .ok()
        .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        .and_then(|p| p["version"].as_str().map(str::to_string))
        .unwrap_or_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _server = Child(
        std::process::Command::new("node")
            .arg("server.js")
            .arg(port.to_string())
            .current_dir(&dir)
            .env("NODE_ENV", "production")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "oidc-provider did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("oidc-provider {version} (Node.js, in-memory adapter):");
    let mut results = NodeResults {
        version,
        exchange_rs: 0.0,
        exchange_es: 0.0,
        refresh_rs: 0.0,
        refresh_es: 0.0,
        jwks: 0.0,
    };
    for (alg, id) in [("RS256", "bench-rs256"), ("ES256", "bench-es256")] {
        let client = TokenClient {
            token_url: format!("{base}/token"),
            id: id.into(),
            secret: NODE_SECRET.into(),
            redirect: NODE_REDIRECT.into(),
        };
        let mint = |n: usize| {
            load_thread(|rt| {
                rt.block_on(async {
                    let text = reqwest::Client::new()
                        .post(format!("{base}/bench/mint?client={id}&n={n}"))
                        .timeout(Duration::from_secs(60))
                        .send()
                        .await?
                        .error_for_status()?
                        .text()
                        .await?;
                    anyhow::Ok(text.lines().map(str::to_string).collect())
                })
            })
        };
        let (exchange, refresh) = exchange_and_refresh(alg, &client, &mint)?;
        if alg == "RS256" {
            (results.exchange_rs, results.refresh_rs) = (exchange, refresh);
        } else {
            (results.exchange_es, results.refresh_es) = (exchange, refresh);
        }
    }
    let jwks = load_thread(|rt| rt.block_on(get_run(&format!("{base}/jwks"), seconds() as f64)));
    jwks.report("JWKS GETs");
    results.jwks = jwks.rate();
    Ok(results)
}

const FIXED_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><title>Fixed page</title></head><body><main><h1>My Profile</h1><p>A fixed page of about the same size as a small portal page.</p></main></body></html>";
