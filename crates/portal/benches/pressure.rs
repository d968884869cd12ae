//! Load and faults (issue 18): run with `scripts/pressure` (or `cargo bench --bench pressure`).
//!
//! Against the real `nhsmal serve` binary, on SQLite and (when it answers) PostgreSQL:
//!  (1) load: CLIENTS clients signing in with password and an authenticator app, then opening
//!      signed-in pages and signing out, for PRESSURE_SECONDS (default 120): counts of 5xx and
//!      panics, the server's RSS at start and end, p50/p99 of each step;
//!  (2) kill -9: clients change their passwords, reset them with their app's code and add
//!      authenticator apps while the server is killed at a random moment, three times; after
//!      each restart every change the server acknowledged must hold, every acknowledged app must
//!      be there and every acknowledged session must still open My Profile; a bulk import
//!      killed half-way leaves whole batches, and the same file run again finishes it;
//!  (3) PostgreSQL only: every connection of the portal's database terminated
//!      (`pg_terminate_backend`) every 2 s under load: answers are the page or 503, never
//!      another 5xx; the portal recovers by itself; nothing acknowledged is lost.
//!  (4) SQLite only, where the user may mount a small tmpfs (root): the data folder's disk
//!      filled up under sign-ins: answers are pages or 503, never another 5xx; once there is
//!      room again everything works and the database passes `PRAGMA integrity_check`; then the
//!      server started on the same folder read-only stops at once with one clear line.
//!  (5) PostgreSQL only: two `nhsmal serve` processes on the one database: a session made on
//!      one opens My Profile on the other and signing out on the other ends it; 50 wrong
//!      passwords for one account split across both get 5 checked; a code spent on one is
//!      refused on the other; `nhsmal keys rotate` reaches both within a minute.
//! Every phase is bounded in time and stops by itself; only loopback is used.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ScratchDatabase;
use domain::clock::{Clock, SystemClock};
use domain::mfa::totp::TotpSecret;
use nhsmal::config::Settings;
use nhsmal::store::Store;

const PASSWORD: &str = "correct horse battery staple 1";
const CLIENTS: usize = 500;
const CRASH_CLIENTS: usize = 40;

fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("PRESSURE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    // PRESSURE_ONLY=disk runs phase (4) alone.
    if std::env::var("PRESSURE_ONLY").is_ok_and(|p| p == "disk") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        match rt.block_on(disk_trouble()) {
            Ok(line) => println!("sqlite (4) {line}"),
            Err(e) => println!("sqlite (4) disk full and read-only: not run ({e})"),
        }
        return Ok(());
    }
    let admin = std::env::var("NHSMAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    run_store("sqlite", None, seconds)?;
    if postgres_answers(&admin) {
        run_store("postgres", Some(&admin), seconds)?;
    } else {
        println!("postgres: no server at {admin}; skipped");
    }
    Ok(())
}

fn postgres_answers(admin: &str) -> bool {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(_) => return false,
    };
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        tokio::time::timeout(
            Duration::from_secs(3),
            <sqlx::AnyConnection as sqlx::Connection>::connect(admin),
        )
        .await
        .is_ok_and(|c| c.is_ok())
    })
}

/// One person of the run: their address, app key and current password.
#[derive(Clone)]
struct Person {
    email: String,
    secret: Arc<TotpSecret>,
}

fn run_store(name: &str, admin: Option<&str>, seconds: u64) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::with_data_dir(dir.path());
    let database = match admin {
        Some(admin) => Some(ScratchDatabase::create(&rt, admin, &mut settings)?),
        None => None,
    };
    let people = rt.block_on(seed(&settings, CLIENTS + CRASH_CLIENTS))?;
    let (load_people, crash_people) = people.split_at(CLIENTS);

    let mut server = Server::start(&settings)?;
    let rss_start = server.rss_kib();
    let report = rt.block_on(load(
        &server.base,
        load_people,
        Duration::from_secs(seconds),
    ))?;
    let rss_end = server.rss_kib();
    println!(
        "{name} (1) load: {} clients for {seconds} s: {} sign-ins, {} pages; 5xx: {}, other refusals: {}, transport errors: {}",
        CLIENTS,
        report.sign_ins,
        report.pages,
        report.server_errors,
        report.refused,
        report.transport
    );
    println!("{name}     RSS at start {rss_start} KiB, at end {rss_end} KiB");
    for (step, mut times) in report.times {
        times.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{name}     {step:<12} n={:<7} p50 {:>8.1} ms   p99 {:>8.1} ms",
            times.len(),
            at(0.50),
            at(0.99)
        );
    }
    let panics = server.stop_and_count_panics()?;
    println!("{name}     panics in the server's log: {panics}");

    // (2) kill -9 while acknowledged work is under way.
    let mut acknowledged_changes = 0;
    let mut lost = 0;
    let mut apps_acked: HashMap<String, usize> = HashMap::new();
    let pending: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let current: Arc<Mutex<HashMap<String, String>>> = Arc::new(Mutex::new(
        crash_people
            .iter()
            .map(|p| (p.email.clone(), PASSWORD.to_string()))
            .collect(),
    ));
    for round in 0..3 {
        // Each person signs in once a round: a new time step, so their code is not spent.
        let now = SystemClock.now();
        std::thread::sleep(Duration::from_secs((30 - now % 30) as u64 + 1));
        let mut server = Server::start(&settings)?;
        let kill_after = Duration::from_millis(3_000 + rand_below(5_000));
        let base = server.base.clone();
        let acks = rt.block_on(changes_until_killed(
            &base,
            crash_people,
            Arc::clone(&current),
            Arc::clone(&pending),
            round,
            kill_after,
            &mut server,
        ))?;
        acknowledged_changes += acks.changes;
        let server = Server::start(&settings)?;
        let found = rt.block_on(check_after_restart(
            &server.base,
            &current,
            &pending,
            &acks.sessions,
        ))?;
        for (email, n) in &acks.apps {
            *apps_acked.entry(email.clone()).or_default() += n;
        }
        let apps_lost = rt.block_on(apps_missing(&settings, &apps_acked))?;
        lost += found.missing + found.gone + apps_lost;
        println!(
            "{name} (2) kill -9 after {:.1} s (round {}): {} password changes ({} of them resets), {} apps added and {} sessions acknowledged before; after restart {} changes missing, {} apps missing, {} sessions gone ({} changes committed whose answer the kill stopped)",
            kill_after.as_secs_f64(),
            round + 1,
            acks.changes,
            acks.resets,
            acks.apps.values().sum::<usize>(),
            acks.sessions.len(),
            found.missing,
            apps_lost,
            found.gone,
            found.committed_unanswered
        );
        drop(server);
    }
    let half_written = rt.block_on(half_written(&settings))?;
    println!(
        "{name}     in all {acknowledged_changes} acknowledged changes, {lost} lost; methods without their key: {half_written}"
    );
    let (imported, of, after_rerun) = import_killed_half_way(&settings)?;
    println!(
        "{name}     an import of {of} accounts killed half-way left {imported} (whole batches of 1,000: {}); the same file run again: {after_rerun}",
        imported % 1000 == 0
    );

    // (3) PostgreSQL's connections cut under load.
    if let Some(admin) = admin {
        let now = SystemClock.now();
        std::thread::sleep(Duration::from_secs((30 - now % 30) as u64 + 1));
        let server = Server::start(&settings)?;
        let outcome = rt.block_on(connections_cut(
            &server.base,
            crash_people,
            &current,
            admin,
            &settings.database_url,
        ))?;
        println!(
            "{name} (3) pg_terminate_backend every 2 s for 20 s under load: {} answers, {} were 503, other 5xx: {}, recovered within {:.1} s after, acknowledged changes lost: {}",
            outcome.answers,
            outcome.unavailable,
            outcome.other_server_errors,
            outcome.recovered_after.as_secs_f64(),
            outcome.lost
        );
        drop(server);
    }
    if admin.is_some() {
        let line = rt.block_on(two_nodes(&settings, crash_people, &current))?;
        println!("{name} (5) {line}");
    }
    if admin.is_none() {
        match rt.block_on(disk_trouble()) {
            Ok(line) => println!("{name} (4) {line}"),
            Err(e) => println!("{name} (4) disk full and read-only: not run ({e})"),
        }
    }
    drop(rt);
    if let Some(database) = database {
        database.remove()?;
    }
    Ok(())
}

/// The kids a node publishes in its JWKS.
async fn published_kids(base: &str) -> anyhow::Result<Vec<String>> {
    let jwks: serde_json::Value = client()
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;
    Ok(jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Phase (5): two processes on one PostgreSQL database.
async fn two_nodes(
    settings: &Settings,
    people: &[Person],
    current: &Arc<Mutex<HashMap<String, String>>>,
) -> anyhow::Result<String> {
    let password_of = |p: &Person| {
        current
            .lock()
            .map(|m| m.get(&p.email).cloned().unwrap_or_default())
            .unwrap_or_default()
    };
    // A fresh time step, so the people below can sign in with a code.
    let now = SystemClock.now();
    tokio::time::sleep(Duration::from_secs((30 - now % 30) as u64 + 1)).await;
    let (a, b) = (Server::start(settings)?, Server::start(settings)?);
    let mut lines = vec![];
    // A session made on A works on B; signing out on B ends it on A.
    let shared = match signed_in(&a.base, &people[0], &password_of(&people[0])).await {
        Some(c) => {
            let on_b = c.get(format!("{}/profile", b.base)).send().await?;
            let opened = on_b.status() == reqwest::StatusCode::OK;
            let page = on_b.text().await?;
            c.post(format!("{}/sign-out", b.base))
                .form(&[("csrf_token", token_of(&page).as_str())])
                .send()
                .await?;
            let after = c.get(format!("{}/profile", a.base)).send().await?;
            opened && after.status() == reqwest::StatusCode::SEE_OTHER
        }
        None => false,
    };
    lines.push(format!(
        "a session made on A opened on B, signed out on B and gone on A: {shared}"
    ));
    // A code spent on A is refused on B (the same person, the same step).
    let spent = match signed_in(&a.base, &people[2], &password_of(&people[2])).await {
        Some(_) => signed_in(&b.base, &people[2], &password_of(&people[2]))
            .await
            .is_none(),
        None => false,
    };
    lines.push(format!("a code spent on A refused on B: {spent}"));
    // 50 wrong passwords for one account, split across the two, at once.
    let target = people[1].email.clone();
    let mut forms = vec![];
    for i in 0..50 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let c = client();
        let page = page_text(&c, format!("{base}/sign-in")).await?;
        forms.push((c, base.clone(), token_of(&page)));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(forms.len()));
    let tasks: Vec<_> = forms
        .into_iter()
        .map(|(c, base, token)| {
            let (barrier, target) = (Arc::clone(&barrier), target.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                c.post(format!("{base}/sign-in"))
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("email", target.as_str()),
                        ("password", "wrong password 42"),
                    ])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let (mut checked, mut refused) = (0, 0);
    for t in tasks {
        match t.await? {
            401 => checked += 1,
            429 => refused += 1,
            _ => {}
        }
    }
    lines.push(format!(
        "50 wrong passwords split across both at once: {checked} checked, {refused} refused"
    ));
    // Key rotation reaches both.
    let before = published_kids(&a.base).await?;
    let out = Command::new(env!("CARGO_BIN_EXE_nhsmal"))
        .args(["keys", "rotate"])
        .arg("--data-dir")
        .arg(&settings.data_dir)
        .arg("--database-url")
        .arg(&settings.database_url)
        .output()?;
    anyhow::ensure!(out.status.success(), "keys rotate failed");
    let started = Instant::now();
    let mut reached = None;
    while started.elapsed() < Duration::from_secs(75) {
        let (on_a, on_b) = (
            published_kids(&a.base).await?,
            published_kids(&b.base).await?,
        );
        let new_on = |kids: &[String]| kids.iter().any(|k| !before.contains(k));
        if new_on(&on_a) && new_on(&on_b) {
            reached = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    lines.push(match reached {
        Some(t) => format!("new keys published by both within {:.0} s", t.as_secs_f64()),
        None => "new keys NOT published by both within 75 s".into(),
    });
    drop((a, b));
    Ok(lines.join("; "))
}

/// Runs `mount`/`umount` (the tmpfs of phase 4).
fn mount(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(args[0]).args(&args[1..]).status()?;
    anyhow::ensure!(status.success(), "{} failed: {status}", args.join(" "));
    Ok(())
}

/// The sign-in form posted `n` times (wrong passwords, so each writes its limits and a log
/// row); returns (answers by status class: 2xx/3xx/4xx, 503, other 5xx, transport errors).
async fn sign_in_writes(base: &str, n: usize) -> (usize, usize, usize, usize) {
    let (mut fine, mut unavailable, mut other, mut transport) = (0, 0, 0, 0);
    for i in 0..n {
        let c = client();
        let page = match c.get(format!("{base}/sign-in")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => {
                transport += 1;
                continue;
            }
        };
        let r = c
            .post(format!("{base}/sign-in"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("email", format!("nobody{i}@load1.nhs.uk").as_str()),
                ("password", "not the password 1"),
            ])
            .send()
            .await;
        match r.map(|r| r.status().as_u16()) {
            Ok(503) => unavailable += 1,
            Ok(500..=599) => other += 1,
            Ok(_) => fine += 1,
            Err(_) => transport += 1,
        }
    }
    (fine, unavailable, other, transport)
}

async fn disk_trouble() -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let place = dir.path().join("small-disk");
    let read_only = dir.path().join("read-only-view");
    std::fs::create_dir_all(&place)?;
    std::fs::create_dir_all(&read_only)?;
    let (place_text, read_only_text) =
        (place.display().to_string(), read_only.display().to_string());
    mount(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=24m",
        "tmpfs",
        &place_text,
    ])?;
    let result = async {
        let settings = Settings::with_data_dir(&place);
        seed(&settings, 2).await?;
        let server = Server::start(&settings)?;
        // Fill the disk to the last byte.
        let filler = place.join("filler");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&filler)?;
            let block = vec![0u8; 64 * 1024];
            while f.write_all(&block).is_ok() {}
            let small = [0u8; 512];
            while f.write_all(&small).is_ok() {}
            let _ = f.sync_all();
        }
        let full = sign_in_writes(&server.base, 30).await;
        std::fs::remove_file(&filler)?;
        let after_full = sign_in_writes(&server.base, 5).await;
        drop(server);
        let mut conn =
            <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await?;
        drop(conn);
        // The same data folder, read-only (a bind mount: root writes through file modes).
        mount(&["mount", "--bind", &place_text, &read_only_text])?;
        mount(&["mount", "-o", "remount,bind,ro", &read_only_text])?;
        let ro_settings = Settings::with_data_dir(&read_only);
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_nhsmal"))
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&ro_settings.data_dir)
            .arg("--database-url")
            .arg(&ro_settings.database_url)
            .output()?;
        let said = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_string();
        let _ = mount(&["umount", &read_only_text]);
        anyhow::Ok(format!(
            "disk full, 30 sign-ins: {} answered, {} were 503, other 5xx {}, no answer {}; room again: {} of 5 answered without a 5xx; integrity_check: {check}; \
             started on the folder read-only: exit status {:?} after {:.1} s, last line \"{said}\"",
            full.0,
            full.1,
            full.2,
            full.3,
            after_full.0,
            out.status.code(),
            started.elapsed().as_secs_f64()
        ))
    }
    .await;
    let _ = mount(&["umount", "-l", &read_only_text]);
    let _ = mount(&["umount", "-l", &place_text]);
    result
}

/// A few random bits from the OS, for where to kill (no rand dependency for one number).
fn rand_below(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom_fill(&mut bytes);
    u64::from_le_bytes(bytes) % n.max(1)
}

fn getrandom_fill(bytes: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(bytes)
}

/// People with a password and an authenticator app, written straight into the store.
async fn seed(settings: &Settings, n: usize) -> anyhow::Result<Vec<Person>> {
    let key = domain::secrets::SecretBox::generate_key_base64();
    if let Some(parent) = settings.master_key_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&settings.master_key_file, format!("{key}\n"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            &settings.master_key_file,
            std::fs::Permissions::from_mode(0o600),
        )?;
    }
    let secrets = domain::secrets::SecretBox::from_base64(&key)?;
    let store = Store::open(&settings.database_url, &settings.data_dir, 8).await?;
    domain::organisations::add_organisation(&store, "LOAD1", "Load Pharmacy", 0)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = nhsmal::web::App::new(
        store.clone(),
        settings.clone(),
        Arc::new(SystemClock),
        Arc::new(nhsmal::notify::Outbox::in_data_dir(&settings.data_dir)),
        secrets,
    )
    .await?;
    let hashing = domain::password::PasswordHashing::new(&settings.argon2)?;
    let shared_hash = hashing.hash(&domain::password::Password::new(PASSWORD))?;
    let people = common::people_with_an_app(&store, &app, "LOAD1", &shared_hash, n, |i| {
        format!("load{i}@load1.nhs.uk")
    })
    .await?;
    Ok(people
        .into_iter()
        .map(|(email, secret)| Person {
            email,
            secret: Arc::new(secret),
        })
        .collect())
}

/// The real binary, serving the store in `settings` on a free loopback port.
struct Server {
    child: Option<Child>,
    base: String,
    log: std::path::PathBuf,
}

impl Server {
    fn start(settings: &Settings) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = settings
            .data_dir
            .join(format!("serve-{}.log", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(env!("CARGO_BIN_EXE_nhsmal"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--public-url")
            .arg(format!("http://localhost:{port}"))
            .arg("--data-dir")
            .arg(&settings.data_dir)
            .arg("--database-url")
            .arg(&settings.database_url)
            // Every client of the run is 127.0.0.1: the per-address ceiling would count them
            // as one source (docs/DECISIONS.md, "Controls under pressure").
            .arg("--signin-ip-max-failures")
            .arg("1000000")
            .env_remove("NHSMAL_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self {
                    child: Some(child),
                    base,
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!(
            "nhsmal serve did not start within 30 s (see {})",
            log.display()
        )
    }

    fn rss_kib(&self) -> u64 {
        let Some(child) = &self.child else { return 0 };
        std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    fn stop_and_count_panics(&mut self) -> anyhow::Result<usize> {
        self.kill9();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Ok(log.matches("panicked").count())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The body of a page.
async fn page_text(c: &reqwest::Client, url: String) -> Result<String, reqwest::Error> {
    c.get(url).send().await?.text().await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn token_of(page: &str) -> String {
    page.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

fn method_of(page: &str) -> String {
    page.split("name=\"method\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string()
}

#[derive(Default)]
struct LoadReport {
    sign_ins: u64,
    pages: u64,
    server_errors: u64,
    refused: u64,
    transport: u64,
    times: Vec<(&'static str, Vec<f64>)>,
}

#[derive(Default)]
struct Tally {
    sign_ins: u64,
    pages: u64,
    server_errors: u64,
    refused: u64,
    transport: u64,
    times: HashMap<&'static str, Vec<f64>>,
}

impl Tally {
    fn saw(&mut self, step: &'static str, started: Instant, status: reqwest::StatusCode) {
        self.times
            .entry(step)
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1000.0);
        if status.is_server_error() {
            self.server_errors += 1;
        } else if status.is_client_error() {
            self.refused += 1;
        }
    }
}

/// One client's loop: sign in (password, then the app's code for a time step not yet used),
/// three signed-in pages, sign out; again until the deadline.
async fn one_client(base: String, person: Person, deadline: Instant) -> Tally {
    let mut t = Tally::default();
    let mut last_step = 0i64;
    while Instant::now() < deadline {
        let c = client();
        let result: Result<(), reqwest::Error> = async {
            let started = Instant::now();
            let r = c.get(format!("{base}/sign-in")).send().await?;
            t.saw("sign-in page", started, r.status());
            let token = token_of(&r.text().await?);
            let started = Instant::now();
            let r = c
                .post(format!("{base}/sign-in"))
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("email", person.email.as_str()),
                    ("password", PASSWORD),
                ])
                .send()
                .await?;
            t.saw("password", started, r.status());
            if r.status() != reqwest::StatusCode::SEE_OTHER {
                return Ok(());
            }
            // A code is good once: wait for a step this person has not used.
            let mut now = SystemClock.now();
            while now / 30 <= last_step {
                tokio::time::sleep(Duration::from_millis(500)).await;
                now = SystemClock.now();
            }
            last_step = now / 30;
            let page = c.get(format!("{base}/sign-in/verify")).send().await?;
            let page = page.text().await?;
            let started = Instant::now();
            let r = c
                .post(format!("{base}/sign-in/verify"))
                .form(&[
                    ("csrf_token", token_of(&page).as_str()),
                    ("method", method_of(&page).as_str()),
                    ("code", person.secret.code_at(now).as_str()),
                ])
                .send()
                .await?;
            t.saw("second step", started, r.status());
            if r.status() != reqwest::StatusCode::SEE_OTHER {
                return Ok(());
            }
            t.sign_ins += 1;
            let mut profile = String::new();
            for path in ["/profile", "/profile/self-service", "/profile"] {
                let started = Instant::now();
                let r = c.get(format!("{base}{path}")).send().await?;
                t.saw("page", started, r.status());
                profile = r.text().await?;
                t.pages += 1;
            }
            let started = Instant::now();
            let r = c
                .post(format!("{base}/sign-out"))
                .form(&[("csrf_token", token_of(&profile).as_str())])
                .send()
                .await?;
            t.saw("sign out", started, r.status());
            Ok(())
        }
        .await;
        if result.is_err() {
            t.transport += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    t
}

async fn load(base: &str, people: &[Person], length: Duration) -> anyhow::Result<LoadReport> {
    let deadline = Instant::now() + length;
    let tasks: Vec<_> = people
        .iter()
        .cloned()
        .map(|p| tokio::spawn(one_client(base.to_string(), p, deadline)))
        .collect();
    let mut report = LoadReport::default();
    let mut times: HashMap<&'static str, Vec<f64>> = HashMap::new();
    for task in tasks {
        let t = task.await?;
        report.sign_ins += t.sign_ins;
        report.pages += t.pages;
        report.server_errors += t.server_errors;
        report.refused += t.refused;
        report.transport += t.transport;
        for (k, v) in t.times {
            times.entry(k).or_default().extend(v);
        }
    }
    let mut steps: Vec<_> = times.into_iter().collect();
    steps.sort_by_key(|(k, _)| *k);
    report.times = steps;
    Ok(report)
}

/// What the server acknowledged before it was killed.
struct Acknowledged {
    changes: usize,
    /// Authenticator apps added, by person.
    apps: HashMap<String, usize>,
    /// Passwords reset (with the app's code), counted in `changes` too.
    resets: usize,
    /// Each person's latest acknowledged session (its cookie header).
    sessions: HashMap<String, String>,
}

/// Signs in with password and code; returns the client if My Profile opened.
async fn signed_in(base: &str, person: &Person, password: &str) -> Option<reqwest::Client> {
    let c = client();
    let page = c
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let r = c
        .post(format!("{base}/sign-in"))
        .form(&[
            ("csrf_token", token_of(&page).as_str()),
            ("email", person.email.as_str()),
            ("password", password),
        ])
        .send()
        .await
        .ok()?;
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        return None;
    }
    let page = c
        .get(format!("{base}/sign-in/verify"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    // The current step's code (the caller waits for a step not used before).
    {
        let code = person.secret.code_at(SystemClock.now());
        let r = c
            .post(format!("{base}/sign-in/verify"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("method", method_of(&page).as_str()),
                ("code", code.as_str()),
            ])
            .send()
            .await
            .ok()?;
        if r.status() == reqwest::StatusCode::SEE_OTHER {
            return Some(c);
        }
    }
    None
}

async fn changes_until_killed(
    base: &str,
    people: &[Person],
    current: Arc<Mutex<HashMap<String, String>>>,
    pending: Arc<Mutex<HashMap<String, String>>>,
    round: usize,
    kill_after: Duration,
    server: &mut Server,
) -> anyhow::Result<Acknowledged> {
    let acknowledged = Arc::new(Mutex::new(Acknowledged {
        changes: 0,
        apps: HashMap::new(),
        resets: 0,
        sessions: HashMap::new(),
    }));
    let mut tasks = vec![];
    for (i, person) in people.iter().cloned().enumerate() {
        let (base, current, pending, acknowledged) = (
            base.to_string(),
            Arc::clone(&current),
            Arc::clone(&pending),
            Arc::clone(&acknowledged),
        );
        tasks.push(tokio::spawn(async move {
            let password = current
                .lock()
                .map(|m| m.get(&person.email).cloned().unwrap_or_default())
                .unwrap_or_default();
            // A quarter reset their password, a quarter add authenticator apps, half change
            // their password again and again.
            if i % 4 == 3 {
                reset_password(&base, &person, round, i, &current, &pending, &acknowledged).await;
                return;
            }
            let Some(c) = signed_in(&base, &person, &password).await else {
                return;
            };
            if i % 4 == 1 {
                add_apps(&base, &c, &person, &acknowledged).await;
                return;
            }
            let profile = match c.get(format!("{base}/profile")).send().await {
                Ok(r) if r.status() == 200 => r,
                _ => return,
            };
            let _ = profile.text().await;
            // Change the password again and again until the server is gone: the kill lands
            // between and inside changes.
            let mut password = password;
            for n in 0.. {
                let page = match c
                    .get(format!("{base}/profile/change-password"))
                    .send()
                    .await
                {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(_) => return,
                };
                let new = format!("pressure passphrase round {round} number {i} try {n} z");
                // Sent but not yet acknowledged: if the kill lands after the commit and before
                // the answer, this is the password the database holds.
                if let Ok(mut p) = pending.lock() {
                    p.insert(person.email.clone(), new.clone());
                }
                let r = c
                    .post(format!("{base}/profile/change-password"))
                    .form(&[
                        ("csrf_token", token_of(&page).as_str()),
                        ("current_password", password.as_str()),
                        ("new_password", new.as_str()),
                        ("confirm_password", new.as_str()),
                    ])
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status() != reqwest::StatusCode::SEE_OTHER {
                    return;
                }
                // Acknowledged: from now on the new password is the person's, and the new
                // session (the change ends every other) the one that must survive.
                if let Ok(mut m) = current.lock() {
                    m.insert(person.email.clone(), new.clone());
                }
                if let Ok(mut p) = pending.lock() {
                    p.remove(&person.email);
                }
                password = new;
                let cookie = r
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join("; ");
                if let Ok(mut a) = acknowledged.lock() {
                    a.changes += 1;
                    if !cookie.is_empty() {
                        a.sessions.insert(person.email.clone(), cookie);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(kill_after).await;
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let a = Arc::try_unwrap(acknowledged)
        .map_err(|_| anyhow::anyhow!("tasks still hold the tally"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    Ok(a)
}

/// What a restart found.
#[derive(Default)]
struct AfterRestart {
    /// Acknowledged password changes that do not sign in (nor does a later, unacknowledged one).
    missing: usize,
    /// Acknowledged sessions that no longer open My Profile (a later change ends them).
    gone: usize,
    /// Changes that committed but whose answer the kill stopped: the database holds the
    /// password sent last. Not a loss: the person was never told it was done.
    committed_unanswered: usize,
}

/// Whether `password` passes the password step for `email`.
async fn password_signs_in(base: &str, email: &str, password: &str) -> anyhow::Result<bool> {
    let c = client();
    let page = page_text(&c, format!("{base}/sign-in")).await?;
    let r = c
        .post(format!("{base}/sign-in"))
        .form(&[
            ("csrf_token", token_of(&page).as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await?;
    Ok(r.status() == reqwest::StatusCode::SEE_OTHER)
}

/// Adds authenticator apps (up to the five a person may have) until the server is gone.
async fn add_apps(
    base: &str,
    c: &reqwest::Client,
    person: &Person,
    acknowledged: &Arc<Mutex<Acknowledged>>,
) {
    let page_path = format!("{base}/profile/self-service/enrol/authenticator-app");
    for n in 0..4 {
        let Ok(page) = c.get(&page_path).send().await else {
            return;
        };
        let page = page.text().await.unwrap_or_default();
        let Some(key) = page
            .split("id=\"totp-secret\"")
            .nth(1)
            .and_then(|s| s.split('>').nth(1))
            .and_then(|s| s.split('<').next())
            .map(|k| k.replace(' ', ""))
        else {
            return;
        };
        let Some(secret) = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &key)
        else {
            return;
        };
        let code = TotpSecret::from_bytes(&secret).code_at(SystemClock.now());
        let r = c
            .post(&page_path)
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("code", code.as_str()),
                ("name", format!("Pressure phone {n}").as_str()),
            ])
            .send()
            .await;
        let added = r.is_ok_and(|r| {
            r.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .is_some_and(|l| l.ends_with("added=1"))
        });
        if !added {
            return;
        }
        if let Ok(mut a) = acknowledged.lock() {
            *a.apps.entry(person.email.clone()).or_default() += 1;
        }
    }
}

/// "Forgotten your password?" with the app's code, to a new password.
async fn reset_password(
    base: &str,
    person: &Person,
    round: usize,
    i: usize,
    current: &Arc<Mutex<HashMap<String, String>>>,
    pending: &Arc<Mutex<HashMap<String, String>>>,
    acknowledged: &Arc<Mutex<Acknowledged>>,
) {
    let c = client();
    let step = async {
        let page = page_text(&c, format!("{base}/forgotten-password")).await?;
        c.post(format!("{base}/forgotten-password"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("email", person.email.as_str()),
            ])
            .send()
            .await?;
        let page = page_text(&c, format!("{base}/forgotten-password/choose")).await?;
        c.post(format!("{base}/forgotten-password/choose"))
            .form(&[("csrf_token", token_of(&page).as_str()), ("kind", "totp")])
            .send()
            .await?;
        let page = page_text(&c, format!("{base}/sign-in/verify")).await?;
        c.post(format!("{base}/sign-in/verify"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("method", "totp"),
                ("code", person.secret.code_at(SystemClock.now()).as_str()),
            ])
            .send()
            .await?;
        let page = page_text(&c, format!("{base}/forgotten-password/new-password")).await?;
        let new = format!("pressure reset passphrase round {round} number {i} z");
        if let Ok(mut p) = pending.lock() {
            p.insert(person.email.clone(), new.clone());
        }
        let r = c
            .post(format!("{base}/forgotten-password/new-password"))
            .form(&[
                ("csrf_token", token_of(&page).as_str()),
                ("new_password", new.as_str()),
                ("confirm_password", new.as_str()),
            ])
            .send()
            .await?;
        Ok::<_, reqwest::Error>((r, new))
    };
    let Ok((r, new)) = step.await else { return };
    let done = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l == "/sign-in?reset=1");
    if done {
        if let Ok(mut m) = current.lock() {
            m.insert(person.email.clone(), new);
        }
        if let Ok(mut p) = pending.lock() {
            p.remove(&person.email);
        }
        if let Ok(mut a) = acknowledged.lock() {
            a.changes += 1;
            a.resets += 1;
        }
    }
}

/// Acknowledged authenticator apps not in the database: each person should have their first
/// app and every one added since.
async fn apps_missing(
    settings: &Settings,
    acked: &HashMap<String, usize>,
) -> anyhow::Result<usize> {
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
    let mut missing = 0;
    for (email, added) in acked {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM mfa_methods m JOIN accounts a ON a.id = m.account_id \
             WHERE a.email_normalized = $1 AND m.kind = 'totp'",
        )
        .bind(email)
        .fetch_one(&mut conn)
        .await?;
        missing += (1 + *added).saturating_sub(usize::try_from(n).unwrap_or(0));
    }
    Ok(missing)
}

/// After a restart: every acknowledged password signs in (or the one sent after it, which the
/// database may hold though nobody was told), and every acknowledged session still opens My
/// Profile unless such a later change ended it.
async fn check_after_restart(
    base: &str,
    current: &Arc<Mutex<HashMap<String, String>>>,
    pending: &Arc<Mutex<HashMap<String, String>>>,
    sessions: &HashMap<String, String>,
) -> anyhow::Result<AfterRestart> {
    let passwords: Vec<(String, String)> = current
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let sent: HashMap<String, String> = pending
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .drain()
        .collect();
    let mut found = AfterRestart::default();
    let mut moved_on = std::collections::HashSet::new();
    for (email, password) in passwords {
        if password_signs_in(base, &email, &password).await? {
            continue;
        }
        match sent.get(&email) {
            Some(later) if password_signs_in(base, &email, later).await? => {
                found.committed_unanswered += 1;
                moved_on.insert(email.clone());
                if let Ok(mut m) = current.lock() {
                    m.insert(email, later.clone());
                }
            }
            _ => found.missing += 1,
        }
    }
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for (email, cookie) in sessions {
        if moved_on.contains(email) {
            continue;
        }
        let r = plain
            .get(format!("{base}/profile"))
            .header("cookie", cookie)
            .send()
            .await?;
        if r.status() != reqwest::StatusCode::OK {
            found.gone += 1;
        }
    }
    Ok(found)
}

/// Methods written without their key (a half-written enrolment).
async fn half_written(settings: &Settings) -> anyhow::Result<i64> {
    sqlx::any::install_default_drivers();
    let mut conn =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM mfa_methods WHERE kind = 'totp' AND (secret IS NULL OR length(secret) = 0)",
    )
    .fetch_one(&mut conn)
    .await?;
    Ok(n)
}

/// `nhsmal user import` of 20,000 rows, killed half-way through; returns how many of its
/// accounts exist afterwards, how many the file had, and how many after running it again.
fn import_killed_half_way(settings: &Settings) -> anyhow::Result<(i64, usize, i64)> {
    let rows = 20_000;
    let file = settings.data_dir.join("pressure-import.csv");
    let mut text = String::from("email,name,organisation,role\n");
    for i in 0..rows {
        text.push_str(&format!(
            "import{i}@load1.nhs.uk,Imported Person {i},LOAD1,user\n"
        ));
    }
    std::fs::write(&file, text)?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_nhsmal"))
        .args(["user", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&settings.data_dir)
        .arg("--database-url")
        .arg(&settings.database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(200 + rand_below(1_000)));
    let _ = child.kill();
    let _ = child.wait();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = || {
        rt.block_on(async {
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&settings.database_url).await?;
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM accounts WHERE email LIKE 'import%'")
                    .fetch_one(&mut conn)
                    .await?;
            anyhow::Ok(n)
        })
    };
    let n = count()?;
    let status = Command::new(env!("CARGO_BIN_EXE_nhsmal"))
        .args(["user", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&settings.data_dir)
        .arg("--database-url")
        .arg(&settings.database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "the import run again failed: {status}");
    Ok((n, rows, count()?))
}

struct CutOutcome {
    answers: u64,
    unavailable: u64,
    other_server_errors: u64,
    recovered_after: Duration,
    lost: usize,
}

async fn connections_cut(
    base: &str,
    people: &[Person],
    current: &Arc<Mutex<HashMap<String, String>>>,
    admin: &str,
    database_url: &str,
) -> anyhow::Result<CutOutcome> {
    let database = database_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    // Load: signed-in pages of a few people, again and again.
    let mut tasks = vec![];
    for person in people.iter().take(8).cloned() {
        let (base, current) = (base.to_string(), Arc::clone(current));
        tasks.push(tokio::spawn(async move {
            let (mut answers, mut unavailable, mut other) = (0u64, 0u64, 0u64);
            let password = current
                .lock()
                .map(|m| m.get(&person.email).cloned().unwrap_or_default())
                .unwrap_or_default();
            let mut session = signed_in(&base, &person, &password).await;
            while Instant::now() < deadline {
                let Some(c) = &session else {
                    session = signed_in(&base, &person, &password).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                match c.get(format!("{base}/profile")).send().await {
                    Ok(r) => {
                        answers += 1;
                        match r.status().as_u16() {
                            503 => unavailable += 1,
                            500..=599 => other += 1,
                            _ => {}
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            (answers, unavailable, other)
        }));
    }
    let cutter = {
        let (admin, database) = (admin.to_string(), database.clone());
        tokio::spawn(async move {
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if let Ok(mut conn) =
                    <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await
                {
                    let _ = sqlx::query(&format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
                    ))
                    .execute(&mut conn)
                    .await;
                }
            }
        })
    };
    let mut outcome = CutOutcome {
        answers: 0,
        unavailable: 0,
        other_server_errors: 0,
        recovered_after: Duration::ZERO,
        lost: 0,
    };
    for t in tasks {
        let (a, u, o) = t.await?;
        outcome.answers += a;
        outcome.unavailable += u;
        outcome.other_server_errors += o;
    }
    cutter.await?;
    // Recovery: a full sign-in succeeds again.
    let started = Instant::now();
    let person = &people[people.len() - 1];
    loop {
        let password = current
            .lock()
            .map(|m| m.get(&person.email).cloned().unwrap_or_default())
            .unwrap_or_default();
        if signed_in(base, person, &password).await.is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("the portal did not recover within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outcome.recovered_after = started.elapsed();
    let found = check_after_restart(base, current, &Arc::default(), &HashMap::new()).await?;
    outcome.lost = found.missing;
    Ok(outcome)
}
