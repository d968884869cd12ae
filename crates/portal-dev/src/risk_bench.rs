//! `nhsmal-dev seed-sign-ins` and `nhsmal-dev time-risk`: the sign-in risk benchmark
//! (BENCHMARKS.md, "Sign-in risk"; issue 6: "under 1 ms at p99 with 10 million rows").
//!
//! The generated log belongs to the accounts `nhsmal-dev seed` made. Most accounts sign in a
//! few times in the look-back period, a few (0.2 %) hundreds of times, so that their history
//! is longer than the rows the rules read (`HISTORY_ROWS`); a sign-in is a password step and a
//! second step, with texts sent, wrong passwords, wrong codes and abandoned sign-ins mixed in.
//! One in ten accounts comes through one of 50 shared gateways; 3 % of the rows are password
//! sprays from other sources, one of them still going on when the log ends.

use std::time::Instant;

use domain::clock::{Clock, SystemClock, UnixTime};
use domain::limits::client_source;
use domain::monitoring::network_of;
use nhsmal::cli::{CliError, open_store};
use nhsmal::config::CommonArgs;
use nhsmal::store::seed::{SeedPerson, SeedSignIn};

pub(crate) const DAY: i64 = 86_400;
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

use crate::generated::{draw, mix};

/// Where and on what an account signs in: its first place is home for most sign-ins.
pub(crate) struct Place {
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
pub(crate) fn row(
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

/// `nhsmal-dev seed-sign-ins`: `rows` rows over the `days` before now.
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
            "no accounts to sign in: run `nhsmal-dev seed` first".into(),
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
