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

#[path = "../common/mod.rs"]
mod common;
mod crash;
mod faults;
mod load;

use crash::*;
use faults::*;
use load::*;

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
