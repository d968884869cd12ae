//! `nhsmal dev seed-sign-ins` and `nhsmal dev time-risk`: the sign-in risk benchmark
//! (BENCHMARKS.md, "Sign-in risk"; issue 6: "under 1 ms at p99 with 10 million rows").
//!
//! The generated log belongs to the accounts `nhsmal dev seed` made. Most accounts sign in a
//! few times in the look-back period, a few (0.2 %) hundreds of times, so that their history
//! is longer than the rows the rules read (`HISTORY_ROWS`); a sign-in is a password step and a
//! second step, with texts sent, wrong passwords, wrong codes and abandoned sign-ins mixed in.
//! One in ten accounts comes through one of 50 shared gateways; 3 % of the rows are password
//! sprays from other sources, one of them still going on when the log ends.

use std::time::Instant;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use crate::store::Store;
use crate::store::seed::{ExplainValue, SeedPerson, SeedSignIn};
use domain::accounts::{Account, AccountRecords};
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock, UnixTime};
use domain::limits::client_source;
use domain::monitoring::{self, Monitor, SignInLog, network_of};
use domain::risk::Location;

const DAY: i64 = 86_400;
/// Rows written per transaction.
const BATCH: usize = 50_000;
/// Accounts with hundreds of sign-ins in the period (shared logins, daily users).
const BUSY_SHARE: f64 = 0.002;
/// Share of the rows that are password sprays.
const ATTACK_SHARE: f64 = 0.03;
/// The source of the spray still going on when the log ends.
pub const SPRAY_SOURCE: &str = "203.0.113.66";
/// Rows of that spray, over the last 45 minutes of the log.
const SPRAY_ROWS: u64 = 2_000;
/// A wrong password before the right one, a text or call sent, a wrong code, the sign-in
/// finished: the chances of each row of a sign-in after the password step.
const WRONG_PASSWORD: f64 = 0.04;
const TEXT_SENT: f64 = 0.15;
const WRONG_CODE: f64 = 0.03;
const FINISHED: f64 = 0.96;

const USER_AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
];

const PLACES: [(&str, f64, f64); 8] = [
    ("London, GB", 51.5074, -0.1278),
    ("Leeds, GB", 53.8008, -1.5491),
    ("Manchester, GB", 53.4808, -2.2426),
    ("Birmingham, GB", 52.4862, -1.8904),
    ("Bristol, GB", 51.4545, -2.5879),
    ("Newcastle upon Tyne, GB", 54.9783, -1.6178),
    ("Norwich, GB", 52.6309, 1.2974),
    ("Plymouth, GB", 50.3755, -4.1427),
];

use super::dev::{draw, mix};

/// Where and on what an account signs in: its first place is home for most sign-ins.
struct Place {
    ip: String,
    device: String,
    user_agent: &'static str,
    city: usize,
}

fn place_of(n: u64, i: u64) -> Place {
    let h = mix(n.wrapping_mul(4).wrapping_add(i) ^ 0x5151);
    let ip = if i == 0 && draw(n, 30) < 0.10 {
        // Behind a shared gateway (an HSCN or a company's NAT): many accounts, one address.
        format!("194.72.9.{}", 10 + mix(n) % 50)
    } else {
        const FIRST: [u64; 10] = [81, 86, 2, 5, 31, 51, 78, 90, 109, 151];
        format!(
            "{}.{}.{}.{}",
            FIRST[(h % 10) as usize],
            (h >> 8) % 256,
            (h >> 16) % 256,
            1 + (h >> 24) % 254
        )
    };
    Place {
        ip,
        device: format!("{:016x}{:016x}", mix(h ^ 1), mix(h ^ 2)),
        user_agent: USER_AGENTS[((h >> 32) % 5) as usize],
        city: ((h >> 40) % 8) as usize,
    }
}

/// How many sign-ins account `n` has in the period; `mean` for the ordinary accounts.
fn sign_ins_of(n: u64, mean: f64) -> u64 {
    if draw(n, 20) < BUSY_SHARE {
        return 200 + (draw(n, 21) * 200.0) as u64;
    }
    if mean <= 0.0 {
        return 0;
    }
    // Geometric: many accounts sign in once or twice, some never.
    let p = 1.0 / (1.0 + mean);
    ((1.0 - draw(n, 22)).ln() / (1.0 - p).ln()).floor() as u64
}

/// A number in [0, 1) for sign-in `k` of account `n` and purpose `salt`.
fn chance(n: u64, k: u64, salt: u64) -> f64 {
    draw(n.wrapping_mul(1 << 20).wrapping_add(k), 100 + salt)
}

/// One sign-in of one account, planned: rows are made from it when written.
#[derive(Clone, Copy)]
struct Planned {
    at: UnixTime,
    person: u32,
    k: u32,
}

fn rows_of(n: u64, k: u64) -> u64 {
    1 + u64::from(chance(n, k, 1) < WRONG_PASSWORD)
        + u64::from(chance(n, k, 2) < TEXT_SENT)
        + u64::from(chance(n, k, 3) < WRONG_CODE)
        + u64::from(chance(n, k, 4) < FINISHED)
}

#[allow(clippy::too_many_arguments)]
fn row(
    at: UnixTime,
    person: Option<&SeedPerson>,
    email: &str,
    place: &Place,
    step: &'static str,
    method: Option<&'static str>,
    outcome: &'static str,
    reason: Option<&'static str>,
) -> SeedSignIn {
    let (city, latitude, longitude) = PLACES[place.city];
    SeedSignIn {
        at,
        account_id: person.map(|p| p.id.clone()),
        email: email.to_string(),
        org_code: person.map(|p| p.org_code.clone()),
        ip: place.ip.clone(),
        source: client_source(&place.ip),
        network: network_of(&place.ip),
        user_agent: place.user_agent,
        device: Some(place.device.clone()),
        step,
        method,
        outcome,
        reason,
        country: Some("GB"),
        place: Some(city),
        latitude: Some(latitude),
        longitude: Some(longitude),
        correlation_id: uuid::Uuid::new_v4().to_string(),
    }
}

fn expand(plan: Planned, people: &[SeedPerson], out: &mut Vec<SeedSignIn>) {
    let n = u64::from(plan.person);
    let k = u64::from(plan.k);
    let person = &people[plan.person as usize];
    let which = chance(n, k, 5);
    let place = place_of(
        n,
        if which < 0.80 {
            0
        } else if which < 0.95 {
            1
        } else {
            2
        },
    );
    let at = plan.at;
    let p = Some(person);
    let email = person.email.as_str();
    if chance(n, k, 1) < WRONG_PASSWORD {
        let reason = Some("wrong_password");
        out.push(row(
            at - 30,
            p,
            email,
            &place,
            "password",
            Some("password"),
            "failure",
            reason,
        ));
    }
    out.push(row(
        at,
        p,
        email,
        &place,
        "password",
        Some("password"),
        "passed",
        None,
    ));
    let texts = chance(n, k, 2) < TEXT_SENT;
    if texts {
        out.push(row(
            at + 2,
            p,
            email,
            &place,
            "second_factor",
            Some("sms"),
            "text_sent",
            None,
        ));
    }
    let method = if texts { "sms" } else { "totp" };
    if chance(n, k, 3) < WRONG_CODE {
        let reason = Some("wrong_code");
        out.push(row(
            at + 25,
            p,
            email,
            &place,
            "second_factor",
            Some(method),
            "failure",
            reason,
        ));
    }
    if chance(n, k, 4) < FINISHED {
        out.push(row(
            at + 40,
            p,
            email,
            &place,
            "second_factor",
            Some(method),
            "success",
            None,
        ));
    }
}

/// Password sprays: `rows` rows, the one still going on at `end` among them. A fast spray is
/// refused after 20 addresses (the rest of its rows are `blocked`); a slow one stays under the
/// threshold and every row is a failure. Half the addresses tried are not accounts.
fn sprays(rows: u64, start: UnixTime, end: UnixTime, people: &[SeedPerson]) -> Vec<SeedSignIn> {
    let mut out = Vec::with_capacity(rows as usize);
    let mut campaign = 0u64;
    while (out.len() as u64) < rows {
        let left = rows - out.len() as u64;
        let (ip, size, from, spacing, fast) = if campaign == 0 {
            let size = SPRAY_ROWS.min(left);
            (
                SPRAY_SOURCE.to_string(),
                size,
                end - 45 * 60,
                45 * 60 / size.max(1) as i64,
                true,
            )
        } else {
            let size = (500 + mix(campaign) % 3_000).min(left);
            let fast = campaign.is_multiple_of(2);
            let spacing = if fast { 2 } else { 240 };
            let span = (end - start - size as i64 * spacing - 3_600).max(1);
            let from = start + (draw(campaign, 40) * span as f64) as i64;
            (
                format!("198.51.100.{}", campaign % 250),
                size,
                from,
                spacing,
                fast,
            )
        };
        let place = Place {
            ip,
            device: format!("{:016x}", mix(campaign ^ 0xbad)),
            user_agent: "python-requests/2.31.0",
            city: 0,
        };
        for i in 0..size {
            let target = mix(campaign.wrapping_mul(1 << 24).wrapping_add(i));
            let person = (target.is_multiple_of(2) && !people.is_empty())
                .then(|| &people[((target >> 1) % people.len() as u64) as usize]);
            let unknown = format!("nobody{}@nhs.net", target % 1_000_000);
            let email = person.map_or(unknown.as_str(), |p| p.email.as_str());
            let (outcome, reason) = if fast && i >= 20 {
                ("blocked", Some("throttled"))
            } else {
                ("failure", Some("wrong_password"))
            };
            let at = from + i as i64 * spacing;
            // Coordinates on every row: a NULL among floats in one multi-row INSERT made
            // PostgreSQL (through sqlx Any) refuse a later batch ("incorrect binary data
            // format in bind parameter").
            let mut r = row(
                at,
                person,
                email,
                &place,
                "password",
                Some("password"),
                outcome,
                reason,
            );
            (r.country, r.place, r.latitude, r.longitude) = (
                Some("NL"),
                Some("Amsterdam, NL"),
                Some(52.3676),
                Some(4.9041),
            );
            out.push(r);
        }
        campaign += 1;
    }
    out.sort_by_key(|r| r.at);
    out
}

/// `nhsmal dev seed-sign-ins`: `rows` rows over the `days` before now.
pub async fn seed_sign_ins(common: &CommonArgs, rows: u64, days: i64) -> Result<(), CliError> {
    if !(1..=1_000_000_000).contains(&rows) || !(1..=3_650).contains(&days) {
        return Err(CliError::BadInput(
            "--rows must be from 1 to 1000000000 and --days from 1 to 3650".into(),
        ));
    }
    let (_settings, store) = open_store(common).await?;
    if store.sign_in_rows().await? > 0 {
        store.close().await;
        return Err(CliError::BadInput(
            "the sign-in log is not empty; seed a fresh data folder or database".into(),
        ));
    }
    #[allow(clippy::disallowed_methods)] // elapsed time for the progress lines of a benchmark tool
    let started = Instant::now();
    let people = store.seed_people().await?;
    if people.is_empty() || people.len() > u32::MAX as usize {
        store.close().await;
        return Err(CliError::BadInput(
            "no accounts to sign in: run `nhsmal dev seed` first".into(),
        ));
    }
    let now = SystemClock.now();
    let start = now - days * DAY;
    let span = (days * DAY - 3_600) as f64;

    // Sign-ins planned for every account, so that they add up to the rows asked for.
    let accounts = people.len() as u64;
    let attack_rows = ((rows as f64 * ATTACK_SHARE) as u64).max(SPRAY_ROWS.min(rows));
    let per_sign_in = 1.0 + WRONG_PASSWORD + TEXT_SENT + WRONG_CODE + FINISHED;
    let wanted = rows.saturating_sub(attack_rows);
    let busy = BUSY_SHARE * accounts as f64 * 300.0;
    let mean = ((wanted as f64 / per_sign_in - busy) / (accounts as f64 * (1.0 - BUSY_SHARE)))
        .max(0.0)
        * 1.02;
    let mut plans: Vec<Planned> = vec![];
    let mut planned_rows = 0u64;
    for n in 0..accounts {
        for k in 0..sign_ins_of(n, mean) {
            let at = start + (chance(n, k, 0) * span) as i64;
            plans.push(Planned {
                at,
                person: n as u32,
                k: k as u32,
            });
            planned_rows += rows_of(n, k);
        }
    }
    // Too many: leave out the oldest sign-ins, whose rows count least.
    plans.sort_by_key(|p| p.at);
    let mut skip = 0;
    while planned_rows > wanted && skip < plans.len() {
        planned_rows -= rows_of(u64::from(plans[skip].person), u64::from(plans[skip].k));
        skip += 1;
    }
    let plans = &plans[skip..];
    let mut attacks = sprays(rows - planned_rows, start, now, &people)
        .into_iter()
        .peekable();
    println!(
        "Planned {} sign-ins of {accounts} accounts ({planned_rows} rows) and {} spray rows ({:.1} s)",
        plans.len(),
        rows - planned_rows,
        started.elapsed().as_secs_f64()
    );

    // The indexes go while the rows are written and come back from their own definitions.
    let indexes = store.sign_in_indexes().await?;
    for (name, _) in &indexes {
        store
            .seed_index_statement(&format!("DROP INDEX {name}"))
            .await?;
    }
    let mut batch = Vec::with_capacity(BATCH + 8);
    let mut written = 0u64;
    let mut next_progress = 1_000_000;
    let mut plans = plans.iter().peekable();
    while plans.peek().is_some() || attacks.peek().is_some() {
        let next_plan = plans.peek().map(|p| p.at);
        match (next_plan, attacks.peek().map(|a| a.at)) {
            (Some(p), Some(a)) if a < p => batch.extend(attacks.next()),
            (None, Some(_)) => batch.extend(attacks.next()),
            _ => {
                if let Some(plan) = plans.next() {
                    expand(*plan, &people, &mut batch);
                }
            }
        }
        if batch.len() >= BATCH || (plans.peek().is_none() && attacks.peek().is_none()) {
            store.seed_sign_ins(&batch).await?;
            written += batch.len() as u64;
            batch.clear();
            if written >= next_progress {
                println!(
                    "Wrote {written} of {rows} rows ({:.1} s)",
                    started.elapsed().as_secs_f64()
                );
                next_progress += 1_000_000;
            }
        }
    }
    println!(
        "Wrote {written} rows ({:.1} s); making {} indexes",
        started.elapsed().as_secs_f64(),
        indexes.len()
    );
    for (name, sql) in &indexes {
        store.seed_index_statement(sql).await?;
        println!("  {name} ({:.1} s)", started.elapsed().as_secs_f64());
    }
    // What each account signed in from, as record_sign_in would have kept it.
    store.seed_familiar().await?;
    println!(
        "  summary of what each account signed in from ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    store.analyze().await?;
    store.close().await;
    println!("Done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A sign-in to replay: an account and where it signs in from.
struct Sample {
    account: Account,
    requester: Requester,
}

/// Milliseconds of each run of one measure.
struct Timings {
    name: &'static str,
    ms: Vec<f64>,
}

impl Timings {
    fn named(name: &'static str) -> Self {
        Self { name, ms: vec![] }
    }

    fn percentile(sorted: &[f64], q: f64) -> f64 {
        let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[i - 1]
    }

    /// `name | p50 | p95 | p99 | max | runs`, milliseconds.
    fn line(&self, log: &str) -> String {
        let mut sorted = self.ms.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return format!("{} | {log} | - | - | - | - | 0", self.name);
        }
        format!(
            "{} | {log} | {:.3} | {:.3} | {:.3} | {:.3} | {}",
            self.name,
            Self::percentile(&sorted, 0.50),
            Self::percentile(&sorted, 0.95),
            Self::percentile(&sorted, 0.99),
            sorted[sorted.len() - 1],
            sorted.len()
        )
    }
}

fn london() -> Location {
    Location {
        country: "GB".into(),
        place: "London, GB".into(),
        latitude: Some(51.5074),
        longitude: Some(-0.1278),
    }
}

/// Times the risk work of `samples` sign-ins against `store`: the assessment of a correct
/// password, the whole `password_passed` with its row, the counts of a wrong password, and
/// those counts from the spraying source.
async fn time_store(
    store: &Store,
    settings: &crate::config::Settings,
    samples: &[Sample],
) -> Result<Vec<Timings>, CliError> {
    let notifier = crate::notify::Outbox::in_data_dir(&settings.data_dir);
    fn monitor_of<'a>(
        settings: &'a crate::config::Settings,
        notifier: &'a crate::notify::Outbox,
        requester: &'a Requester,
    ) -> Monitor<'a> {
        Monitor {
            settings: &settings.risk,
            notifier,
            requester,
            now: SystemClock.now(),
        }
    }
    // Warm-up, not counted: the first queries prepare their statements on each connection.
    for s in samples.iter().take(200) {
        monitoring::assess_password(
            store,
            &monitor_of(settings, &notifier, &s.requester),
            &s.account,
        )
        .await?;
    }
    let now = SystemClock.now();
    let look_back = now - settings.risk.look_back_days * DAY;
    let assess = async |s: &Sample| {
        let m = monitor_of(settings, &notifier, &s.requester);
        monitoring::assess_password(store, &m, &s.account)
            .await
            .map(drop)
    };
    let assessed = time_each("assess (summary + last day + rules)", samples, assess).await?;
    // The same sign-ins assessed a second time: their pages have been read once already, as
    // the pages of accounts that sign in often are in a live server.
    let again = time_each("assess again, same sign-ins", samples, assess).await?;
    // The read the assessment made before the summary (migration 0016), timed in the same run
    // so that the two compare under the same load.
    let old_read = time_each(
        "assess before 0016: 90-day history read alone",
        samples,
        async |s: &Sample| {
            SignInLog::account_history(store, &s.account.id, look_back, monitoring::HISTORY_ROWS)
                .await
                .map(drop)
        },
    )
    .await?;
    // The assessment's two reads, each alone: which of them makes its tail.
    let summary_read = time_each(
        "assess, its summary read alone",
        samples,
        async |s: &Sample| {
            SignInLog::familiar(store, &s.account.id, look_back, monitoring::FAMILIAR_ROWS)
                .await
                .map(drop)
        },
    )
    .await?;
    let last_day_since = now - DAY.max(settings.risk.brute_force_minutes * 60);
    let last_day_read = time_each(
        "assess, its last day's read alone",
        samples,
        async |s: &Sample| {
            SignInLog::account_history(
                store,
                &s.account.id,
                last_day_since,
                monitoring::LAST_DAY_ROWS,
            )
            .await
            .map(drop)
        },
    )
    .await?;
    let passed = time_each(
        "password_passed (assess + log row)",
        samples,
        async |s: &Sample| {
            let m = monitor_of(settings, &notifier, &s.requester);
            monitoring::password_passed(store, &m, &s.account)
                .await
                .map(drop)
        },
    )
    .await?;
    let none = domain::risk::Assessment::default();
    let finished = time_each(
        "signed_in (success row + summary upserts)",
        samples,
        async |s: &Sample| {
            let m = monitor_of(settings, &notifier, &s.requester);
            let step = monitoring::Step::SecondFactor;
            monitoring::signed_in(store, &m, &s.account, step, "sms", &none)
                .await
                .map(drop)
        },
    )
    .await?;
    let failed = time_each("wrong password counts", samples, async |s: &Sample| {
        let m = monitor_of(settings, &notifier, &s.requester);
        monitoring::failure_counts(store, &m, &s.account.email)
            .await
            .map(drop)
    })
    .await?;
    let sprayer = Requester {
        ip: SPRAY_SOURCE.into(),
        user_agent: "python-requests/2.31.0".into(),
        ..Requester::default()
    };
    let first = &samples[..samples.len().min(1_000)];
    let spray = time_each(
        "wrong password counts, spraying source",
        first,
        async |s: &Sample| {
            let m = monitor_of(settings, &notifier, &sprayer);
            monitoring::failure_counts(store, &m, &s.account.email)
                .await
                .map(drop)
        },
    )
    .await?;
    Ok(vec![
        assessed,
        again,
        summary_read,
        last_day_read,
        old_read,
        passed,
        finished,
        failed,
        spray,
    ])
}

/// Times `work` once for each sample, one after another.
async fn time_each(
    name: &'static str,
    samples: &[Sample],
    work: impl AsyncFn(&Sample) -> Result<(), domain::StorageError>,
) -> Result<Timings, CliError> {
    #[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time
    let clock = Instant::now;
    let mut timings = Timings::named(name);
    for s in samples {
        let t = clock();
        work(s).await?;
        timings.ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(timings)
}

/// Prints the plans of the three queries of a sign-in, for the sample with the longest history.
async fn explain(
    store: &Store,
    settings: &crate::config::Settings,
    s: &Sample,
) -> Result<(), CliError> {
    let now = SystemClock.now();
    let r = &settings.risk;
    let source = client_source(&s.requester.ip);
    let queries: [(&str, &str, Vec<ExplainValue<'_>>); 5] = [
        (
            "what the account signed in from",
            crate::store::FAMILIAR_SQL,
            vec![
                ExplainValue::Text(&s.account.id),
                ExplainValue::Int(now - r.look_back_days * DAY),
                ExplainValue::Int(monitoring::FAMILIAR_ROWS),
            ],
        ),
        (
            "account history of the last day",
            crate::store::ACCOUNT_HISTORY_SQL,
            vec![
                ExplainValue::Text(&s.account.id),
                ExplainValue::Int(now - DAY),
                ExplainValue::Int(monitoring::LAST_DAY_ROWS),
            ],
        ),
        (
            "wrong passwords for the address",
            crate::store::PASSWORD_FAILURES_SQL,
            vec![
                ExplainValue::Text(&s.account.email),
                ExplainValue::Int(now - r.brute_force_minutes * 60),
            ],
        ),
        (
            "addresses failing from the source",
            crate::store::FAILED_EMAILS_SQL,
            vec![
                ExplainValue::Text(&source),
                ExplainValue::Int(now - r.spray_minutes * 60),
                ExplainValue::Text(&s.account.email),
            ],
        ),
        (
            "addresses failing from the spraying source",
            crate::store::FAILED_EMAILS_SQL,
            vec![
                ExplainValue::Text(SPRAY_SOURCE),
                ExplainValue::Int(now - r.spray_minutes * 60),
                ExplainValue::Text(&s.account.email),
            ],
        ),
    ];
    for (name, sql, values) in &queries {
        println!("plan: {name}");
        for line in store.explain(sql, values).await? {
            println!("    {line}");
        }
    }
    Ok(())
}

fn human_bytes(bytes: i64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// `nhsmal dev time-risk`: the risk work of `samples` sign-ins against this store's log and
/// against an empty one (the baseline store), one after the other in one run.
pub async fn time_risk(
    common: &CommonArgs,
    samples: usize,
    baseline_data_dir: std::path::PathBuf,
    baseline_database_url: Option<String>,
    show_plans: bool,
) -> Result<(), CliError> {
    let (settings, store) = open_store(common).await?;
    let rows = store.sign_in_rows().await?;
    let (size, log_size) = store.database_size().await?;
    let (low, high) = store.sign_in_id_range().await?;
    if rows == 0 {
        store.close().await;
        return Err(CliError::BadInput(
            "the sign-in log is empty: run `nhsmal dev seed-sign-ins` first".into(),
        ));
    }
    // Finished sign-ins picked at random: busy accounts come up as often as they sign in.
    let mut picked: Vec<Sample> = Vec::with_capacity(samples);
    let mut tries = 0u64;
    while picked.len() < samples && tries < samples as u64 * 50 {
        let id = low + (mix(tries ^ 0x7157) % (high - low + 1) as u64) as i64;
        tries += 1;
        let Some(row) = store.sampled_sign_in(id).await? else {
            continue;
        };
        let Some(account) = store.account_by_id(&row.account_id).await? else {
            continue;
        };
        picked.push(Sample {
            account,
            requester: Requester {
                ip: row.ip,
                user_agent: row.user_agent,
                correlation_id: uuid::Uuid::new_v4().to_string(),
                device: row.device,
                location: Some(london()),
            },
        });
    }
    // How many rows the rules read: the full history as it was read before the summary
    // (its length, to compare), and the last day's rows read now.
    let now = SystemClock.now();
    let mut lengths = vec![];
    let mut last_day = vec![];
    for s in &picked {
        let past = domain::monitoring::SignInLog::account_history(
            &store,
            &s.account.id,
            now - settings.risk.look_back_days * DAY,
            monitoring::HISTORY_ROWS,
        )
        .await?;
        lengths.push(past.len());
        last_day.push(past.iter().filter(|p| p.at >= now - DAY).count());
    }
    last_day.sort_unstable();
    let longest = lengths
        .iter()
        .enumerate()
        .max_by_key(|(_, l)| **l)
        .map(|(i, _)| i)
        .unwrap_or(0);
    lengths.sort_unstable();
    let at_bound = lengths
        .iter()
        .filter(|l| **l as i64 >= monitoring::HISTORY_ROWS)
        .count();
    println!(
        "store: {:?}; sign-in log: {rows} rows; database: {}{}",
        store.backend(),
        human_bytes(size),
        log_size.map_or(String::new(), |l| format!(
            " (sign-in log with its indexes {})",
            human_bytes(l)
        ))
    );
    if let (Some(median), Some(max)) = (lengths.get(lengths.len() / 2), lengths.last()) {
        println!(
            "samples: {} sign-ins; 90-day history rows (read before the summary): median {median}, max {max}; {at_bound} at the bound of {}; last day's rows read now: median {}, max {}",
            picked.len(),
            monitoring::HISTORY_ROWS,
            last_day[last_day.len() / 2],
            last_day[last_day.len() - 1]
        );
    }
    if show_plans && let Some(s) = picked.get(longest) {
        explain(&store, &settings, s).await?;
    }
    let full = time_store(&store, &settings, &picked).await?;
    store.close().await;

    let baseline_args = CommonArgs {
        data_dir: Some(baseline_data_dir),
        database_url: baseline_database_url,
        ..common.clone()
    };
    let (baseline_settings, baseline) = open_store(&baseline_args).await?;
    if baseline.sign_in_rows().await? > 0 {
        baseline.close().await;
        return Err(CliError::BadInput(
            "the baseline store's sign-in log is not empty".into(),
        ));
    }
    let empty = time_store(&baseline, &baseline_settings, &picked).await?;
    baseline.close().await;

    println!("measure | sign-in log | p50 ms | p95 ms | p99 ms | max ms | runs");
    for (f, e) in full.iter().zip(&empty) {
        println!("{}", f.line(&format!("{rows} rows")));
        println!("{}", e.line("empty"));
    }
    Ok(())
}
