//! What the benchmarks share: a scratch PostgreSQL database for one store's run, made beside
//! the admin URL's database and dropped at the end.

use nhsmal::config::Settings;

pub struct ScratchDatabase {
    admin: String,
    name: String,
}

impl ScratchDatabase {
    /// Creates a fresh database and points `settings` at it.
    pub fn create(
        rt: &tokio::runtime::Runtime,
        admin: &str,
        settings: &mut Settings,
    ) -> anyhow::Result<Self> {
        let name = format!("nhsmal_bench_{}", uuid::Uuid::new_v4().simple());
        rt.block_on(admin_sql(admin, &format!("CREATE DATABASE {name}")))?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
        settings.database_url = format!("{base}/{name}");
        Ok(Self {
            admin: admin.to_string(),
            name,
        })
    }

    /// Drops it, whoever is still connected (run after the server's runtime has stopped).
    pub fn remove(self) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(admin_sql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ))
    }
}

/// A benchmark setting from the environment (BENCH_RUN, BENCH_IN_FLIGHT, …), or `default`.
#[allow(dead_code)] // each benchmark uses what it needs of this module
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn admin_sql(admin: &str, sql: &str) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::query(sql).execute(&mut conn).await?;
    Ok(())
}

/// `count` people in organisation `org`, the i-th with the address `email(i)`, all with the
/// password whose hash is `password_hash` (made once: a hash each would make the set-up long),
/// and each with an authenticator app enrolled a time step ago, so the current step is free.
/// Returns their addresses and app keys.
#[allow(dead_code)] // each benchmark uses what it needs of this module
pub async fn people_with_an_app(
    store: &nhsmal::store::Store,
    app: &nhsmal::web::AppState,
    org: &str,
    password_hash: &str,
    count: usize,
    email: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<(String, domain::mfa::totp::TotpSecret)>> {
    use domain::accounts::{AccountRecords, Email, NewAccount, Role};
    use domain::clock::Clock;
    let requester = domain::audit::Requester::command_line();
    let mut people = Vec::with_capacity(count);
    for i in 0..count {
        let address = email(i);
        let new = NewAccount {
            id: uuid::Uuid::new_v4().to_string(),
            email: Email::parse(&address).map_err(|e| anyhow::anyhow!(e))?,
            display_name: "Bench User".into(),
            org_code: org.into(),
            role: Role::User,
            password_hash: Some(password_hash.to_string()),
            now: 0,
        };
        store.insert_account(&new).await?;
        let account = store
            .account_by_id(&new.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("account"))?;
        let secret = domain::mfa::totp::TotpSecret::generate();
        let now = domain::clock::SystemClock.now();
        domain::mfa::finish_totp_enrolment(
            store,
            &account,
            &secret,
            &secret.code_at(now - 30),
            "Bench app",
            &app.mfa(&requester),
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
        people.push((address, secret));
    }
    Ok(people)
}

/// The product binary a benchmark drives (`nhsmal serve`, `nhsmal user import`): `NHSMAL_BIN`,
/// or `nhsmal` beside this benchmark's own build, which the scripts under `scripts/` build
/// first (a benchmark of this crate cannot ask cargo for another package's binary).
#[allow(dead_code)] // each benchmark uses what it needs of this module
pub fn nhsmal_bin() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("NHSMAL_BIN") {
        return path.into();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("nhsmal")))
        .unwrap_or_else(|| "nhsmal".into())
}

/// A portal app on a loopback port with organisation BENCH1, and its listener: the caller adds
/// what it needs to the store, then serves with `nhsmal::web::serve(app, listener, …)`.
#[allow(dead_code)] // each benchmark uses what it needs of this module
pub async fn portal_on_loopback(
    settings: &mut Settings,
    data_dir: &std::path::Path,
) -> anyhow::Result<(
    nhsmal::web::AppState,
    nhsmal::store::Store,
    tokio::net::TcpListener,
    String,
)> {
    use std::sync::Arc;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    settings.listen = ([127, 0, 0, 1], port).into();
    settings.public_url = format!("http://localhost:{port}").parse()?;
    let store = nhsmal::store::Store::open(
        &settings.database_url,
        &settings.data_dir,
        settings.database_max_connections,
    )
    .await?;
    domain::organisations::add_organisation(&store, "BENCH1", "Benchmark Pharmacy", 0).await?;
    let key = domain::secrets::SecretBox::generate_key_base64();
    let app = nhsmal::web::App::new(
        store.clone(),
        settings.clone(),
        Arc::new(domain::clock::SystemClock),
        Arc::new(nhsmal::notify::Outbox::in_data_dir(data_dir)),
        domain::secrets::SecretBox::from_base64(&key)?,
    )
    .await?;
    Ok((app, store, listener, format!("http://127.0.0.1:{port}")))
}

/// Runs `run` once for each store named in STORES (default both): SQLite, then PostgreSQL on
/// a scratch database when it answers. Each run is bounded by BENCH_SECONDS (`limit` default).
#[allow(dead_code)]
pub fn in_each_store<F>(limit: u64, run: F)
where
    F: for<'a> Fn(
        &'a mut Settings,
        &'a std::path::Path,
        &'static str,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + 'a>>,
{
    let only = std::env::var("STORES").unwrap_or_else(|_| "sqlite,postgres".into());
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(limit);
    for store in ["sqlite", "postgres"] {
        if !only.contains(store) {
            continue;
        }
        let admin = (store == "postgres").then(|| {
            std::env::var("NHSMAL_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
        });
        let label = if admin.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        let outcome = (|| -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let data_dir = tempfile::tempdir()?;
            let mut settings = Settings::with_data_dir(data_dir.path());
            let database = admin
                .as_deref()
                .map(|a| ScratchDatabase::create(&rt, a, &mut settings))
                .transpose()?;
            let result = rt.block_on(async {
                tokio::time::timeout(
                    std::time::Duration::from_secs(seconds),
                    run(&mut settings, data_dir.path(), label),
                )
                .await
                .map_err(|_| anyhow::anyhow!("did not finish within BENCH_SECONDS"))?
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            if let Some(database) = database {
                database.remove()?;
            }
            result
        })();
        if let Err(e) = outcome {
            println!("{label}: skipped ({e})");
        }
    }
}

/// What `timed` measured.
#[allow(dead_code)]
pub struct Run {
    pub count: usize,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// `in_flight` workers each doing `work(worker, n)` back to back for `seconds`; every request
/// must succeed.
#[allow(dead_code)]
pub async fn timed<F, Fut>(in_flight: usize, seconds: u64, work: F) -> anyhow::Result<Run>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let work = std::sync::Arc::new(work);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = std::time::Instant::now();
    let mut workers = Vec::with_capacity(in_flight);
    for worker in 0..in_flight {
        let (work, stop) = (work.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = vec![];
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = std::time::Instant::now();
                work(worker, n).await?;
                latencies.push(t.elapsed());
                n += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all = vec![];
    for w in workers {
        all.extend(w.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    anyhow::ensure!(!all.is_empty(), "no request finished");
    let at = |q: f64| {
        all[((all.len() as f64 * q).ceil() as usize).saturating_sub(1)].as_secs_f64() * 1000.0
    };
    Ok(Run {
        count: all.len(),
        rate: all.len() as f64 / elapsed,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    })
}
