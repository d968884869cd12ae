//! `nhsmal-dev …`: tools for development and benchmarks.
//!
//! `nhsmal-dev seed --accounts 1500000 --organisations 12000 [--enrolled-share 0.7]` fills an
//! empty store with generated data of NHSmal's size (BENCHMARKS.md, "Scale"): organisations
//! `BN000000`…, active users `person{n}@{org}.nhsmal.example` (all with the password
//! `SEED_PASSWORD`, hashed once), and methods for a share of them added over the last year.
//! The data is the same on every run (a fixed pseudo-random sequence), apart from ids.
//!
//! `nhsmal-dev seed-sign-ins` and `nhsmal-dev time-risk`: the sign-in risk benchmark
//! (cli/risk_bench.rs).
//!
//! `nhsmal-dev geoip-db --out FILE --network CIDR=CC[,LAT,LON[,CITY]] …` writes a small GeoIP
//! database in MaxMind DB format, for tests and scripts (real ones cannot be downloaded here).
//!
//! `nhsmal-dev oidc-codes --client ID --email EMAIL --count N --out FILE` issues N authorization
//! codes (each with its grant, as the authorization endpoint does after a sign-in with password
//! and a second factor) for the account and the client's first redirect URI, bound to the PKCE
//! challenge of `BENCH_VERIFIER`, and writes them one a line: the token endpoint benchmark
//! (`scripts/bench-oidc`) exchanges them without driving browsers. Codes still live 60 s, so
//! mint them right before the run.

use std::time::Instant;

use clap::Subcommand;

use crate::generated::draw;
use domain::clock::{Clock, SystemClock, UnixTime};
use domain::organisations::OrganisationRecords;
use domain::password::{Password, PasswordHashing};
use nhsmal::cli::{CliError, open_store};
use nhsmal::store::seed::{SeedAccount, SeedMethod, SeedOrganisation};

/// The password of every generated account.
pub const SEED_PASSWORD: &str = "generated account password 1";
/// Accounts written per transaction.
const BATCH: usize = 5_000;
const DAY: i64 = 86_400;
/// Methods are spread over the year before the seed runs.
const SPREAD: i64 = 365 * DAY;

#[derive(Subcommand)]
pub enum DevCommand {
    /// Fill an empty store with generated organisations, accounts and methods (benchmarks)
    Seed {
        /// How many accounts
        #[arg(long)]
        accounts: u64,
        /// How many organisations; accounts are shared out evenly
        #[arg(long)]
        organisations: u64,
        /// The share of accounts with at least one method, from 0 to 1
        #[arg(long, default_value_t = 0.7)]
        enrolled_share: f64,
    },
    /// Time the admin user search (the query behind /admin/users): prints how many rows the
    /// first page has and the median time of RUNS runs
    Search {
        /// Part of a name or email
        #[arg(long, default_value = "")]
        q: String,
        /// enrolled, not-enrolled or locked
        #[arg(long, default_value = "")]
        show: String,
        /// One organisation (a local administrator's view); empty for every organisation
        #[arg(long, default_value = "")]
        org: String,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Fill the empty sign-in log of a seeded store with generated rows over the look-back
    /// period (benchmarks; see cli/risk_bench.rs for what they look like)
    SeedSignIns {
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
        /// The period the rows are spread over, ending now
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Time the risk work of sign-ins against this store's sign-in log and against an empty
    /// one (the baseline store, a fresh data folder or database): p50, p95, p99 and max
    TimeRisk {
        /// How many sign-ins, picked at random from the log
        #[arg(long, default_value_t = 5_000)]
        samples: usize,
        /// The baseline store's data folder (its SQLite database, unless a URL is given)
        #[arg(long, value_name = "DIR")]
        baseline_data_dir: std::path::PathBuf,
        /// The baseline store's PostgreSQL database
        #[arg(long, value_name = "URL")]
        baseline_database_url: Option<String>,
        /// Print the plans of the sign-in's queries first
        #[arg(long)]
        explain: bool,
    },
    /// Issue authorization codes for a client and an account (token endpoint benchmark); writes
    /// them one a line. They expire after 60 s like any code
    OidcCodes {
        /// The client id
        #[arg(long)]
        client: String,
        /// The signed-in account's email
        #[arg(long)]
        email: String,
        #[arg(long)]
        count: usize,
        /// The file to write (replaced if it exists)
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Write a small GeoIP database (MaxMind DB format, type NHSmal-Test-City) for tests
    GeoipDb {
        /// The file to write (replaced if it exists)
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
        /// A network and its place, such as 81.2.69.0/24=GB,51.5074,-0.1278,London or
        /// 2001:db8::/32=FR; repeat for more
        #[arg(
            long = "network",
            value_name = "CIDR=CC[,LAT,LON[,CITY]]",
            required = true
        )]
        networks: Vec<String>,
    },
}

/// Parses `CIDR=CC[,LAT,LON[,CITY]]`.
fn geoip_entry(text: &str) -> Result<(nhsmal::geo::writer::Network, nhsmal::geo::Place), CliError> {
    let bad = |problem: String| CliError::BadInput(format!("--network {text:?}: {problem}"));
    let (cidr, place) = text
        .split_once('=')
        .ok_or_else(|| bad("expected CIDR=CC[,LAT,LON[,CITY]]".into()))?;
    let network = nhsmal::geo::writer::Network::parse(cidr).map_err(|e| bad(e.to_string()))?;
    let parts: Vec<&str> = place.splitn(4, ',').map(str::trim).collect();
    let coordinate = |name: &str, value: &str| {
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad(format!("the {name} {value:?} is not a number")))
    };
    let (latitude, longitude) = match parts.as_slice() {
        [_] => (None, None),
        [_, lat, lon, ..] => (
            Some(coordinate("latitude", lat)?),
            Some(coordinate("longitude", lon)?),
        ),
        _ => return Err(bad("give both latitude and longitude, or neither".into())),
    };
    Ok((
        network,
        nhsmal::geo::Place {
            country: parts.first().copied().unwrap_or_default().to_string(),
            latitude,
            longitude,
            accuracy_km: None,
            city: parts.get(3).map(|c| c.to_string()),
        },
    ))
}

fn write_geoip_db(out: &std::path::Path, networks: &[String]) -> Result<(), CliError> {
    let entries = networks
        .iter()
        .map(|n| geoip_entry(n))
        .collect::<Result<Vec<_>, _>>()?;
    let build_epoch = u64::try_from(SystemClock.now()).unwrap_or(0);
    let bytes = nhsmal::geo::writer::build_database(&entries, build_epoch)
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    std::fs::write(out, bytes)
        .map_err(|e| CliError::BadInput(format!("cannot write {}: {e}", out.display())))?;
    println!("Wrote {} with {} network(s)", out.display(), entries.len());
    Ok(())
}

/// The PKCE verifier of every code `dev oidc-codes` issues (its S256 challenge is stored).
pub const BENCH_VERIFIER: &str = "nhsmal-benchmark-code-verifier-0123456789-abcdefghijklmnop";

/// Codes issued at once: the store's writer takes one at a time, but several in flight keep
/// it busy.
const CODES_IN_FLIGHT: usize = 8;

async fn oidc_codes(
    common: &nhsmal::config::CommonArgs,
    client_id: &str,
    email: &str,
    count: usize,
    out: &std::path::Path,
) -> Result<(), CliError> {
    use domain::accounts::AccountRecords;
    use domain::oidc::clients::ClientRecords;
    use domain::oidc::flows::{self, Authentication, AuthorizationRequest};
    let (_, store) = open_store(common).await?;
    let Some((client, _)) = store.client_with_secret(client_id).await? else {
        store.close().await;
        return Err(CliError::BadInput(format!("no client {client_id}")));
    };
    let email =
        domain::accounts::Email::parse(email).map_err(|e| CliError::BadInput(e.to_string()))?;
    let Some(account) = store.account_by_email(email.normalized()).await? else {
        store.close().await;
        return Err(CliError::BadInput(format!("no account {}", email.as_str())));
    };
    let request = AuthorizationRequest {
        response_type: "code".into(),
        client_id: client.id.clone(),
        redirect_uri: client.redirect_uris.first().cloned().unwrap_or_default(),
        scope: "openid email profile offline_access".into(),
        nonce: Some("benchmark".into()),
        code_challenge: Some(flows::s256(BENCH_VERIFIER)),
        code_challenge_method: Some("S256".into()),
        ..AuthorizationRequest::default()
    };
    let valid = flows::check_request(Some(&client), &request)
        .map_err(|e| CliError::BadInput(format!("{e:?}")))?;
    let now = SystemClock.now();
    let shared = std::sync::Arc::new((store.clone(), client, request, valid, account));
    let mut tasks = Vec::with_capacity(CODES_IN_FLIGHT);
    for worker in 0..CODES_IN_FLIGHT {
        let shared = std::sync::Arc::clone(&shared);
        let share = count / CODES_IN_FLIGHT + usize::from(worker < count % CODES_IN_FLIGHT);
        tasks.push(tokio::spawn(async move {
            let (store, client, request, valid, account) = &*shared;
            let who = Authentication {
                account,
                auth_methods: "pwd otp mfa",
                auth_time: now,
            };
            let mut codes = Vec::with_capacity(share);
            for _ in 0..share {
                codes.push(flows::issue_code(store, client, request, valid, &who, now).await?);
            }
            Ok::<_, domain::StorageError>(codes)
        }));
    }
    let mut text = String::with_capacity(count * 44);
    for task in tasks {
        let codes = task.await.map_err(|e| CliError::Failed(e.into()))??;
        for code in codes {
            text.push_str(&code);
            text.push('\n');
        }
    }
    store.close().await;
    std::fs::write(out, text)
        .map_err(|e| CliError::BadInput(format!("cannot write {}: {e}", out.display())))?;
    Ok(())
}

/// The admin user search, timed in-process so that only the query is measured.
async fn time_search(
    common: &nhsmal::config::CommonArgs,
    q: String,
    show: String,
    org: String,
    runs: usize,
) -> Result<(), CliError> {
    use domain::admin::{AdminRecords, EnrolmentFilter, UserSearch};
    let (settings, store) = open_store(common).await?;
    let search = UserSearch {
        text: q,
        filter: EnrolmentFilter::parse(&show),
        org: (!org.is_empty()).then_some(org),
        offset: 0,
        limit: 51,
        lock_after: settings.sign_in_limits.lock_after,
        now: SystemClock.now(),
    };
    let mut times = Vec::with_capacity(runs.max(1));
    let mut rows = 0;
    for _ in 0..runs.max(1) {
        #[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time
        let started = Instant::now();
        rows = store.search_accounts(&search).await?.len();
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{rows} rows; median {:.3} s of {} runs (min {:.3} s, max {:.3} s)",
        times[times.len() / 2],
        times.len(),
        times[0],
        times[times.len() - 1]
    );
    store.close().await;
    Ok(())
}

pub async fn run(common: &nhsmal::config::CommonArgs, command: DevCommand) -> Result<(), CliError> {
    let (accounts, organisations, enrolled_share) = match command {
        DevCommand::Seed {
            accounts,
            organisations,
            enrolled_share,
        } => (accounts, organisations, enrolled_share),
        DevCommand::Search { q, show, org, runs } => {
            return time_search(common, q, show, org, runs).await;
        }
        DevCommand::GeoipDb { out, networks } => return write_geoip_db(&out, &networks),
        DevCommand::SeedSignIns { rows, days } => {
            return crate::risk_bench::seed_sign_ins(common, rows, days).await;
        }
        DevCommand::TimeRisk {
            samples,
            baseline_data_dir,
            baseline_database_url,
            explain,
        } => {
            return crate::risk_timing::time_risk(
                common,
                samples,
                baseline_data_dir,
                baseline_database_url,
                explain,
            )
            .await;
        }
        DevCommand::OidcCodes {
            client,
            email,
            count,
            out,
        } => return oidc_codes(common, &client, &email, count, &out).await,
    };
    if !(1..=999_999).contains(&organisations) {
        return Err(CliError::BadInput(
            "--organisations must be from 1 to 999999".into(),
        ));
    }
    if accounts > 100_000_000 {
        return Err(CliError::BadInput(
            "--accounts must be at most 100000000".into(),
        ));
    }
    if !(0.0..=1.0).contains(&enrolled_share) {
        return Err(CliError::BadInput(
            "--enrolled-share must be from 0 to 1".into(),
        ));
    }
    let (settings, store) = open_store(common).await?;
    if store.organisation(&org_code(0)).await?.is_some() {
        store.close().await;
        return Err(CliError::BadInput(format!(
            "this store already has generated data ({} exists); seed a fresh data folder or database",
            org_code(0)
        )));
    }
    let now = SystemClock.now();
    #[allow(clippy::disallowed_methods)] // elapsed time for the progress lines of a benchmark tool
    let started = Instant::now();
    let hashing = PasswordHashing::new(&settings.argon2).map_err(|e| CliError::Failed(e.into()))?;
    // One Argon2id hash for every account: hashing 1.5 million would take hours.
    let hash = hashing
        .hash(&Password::new(SEED_PASSWORD))
        .map_err(|e| CliError::Failed(e.into()))?;

    let orgs: Vec<SeedOrganisation> = (0..organisations)
        .map(|i| SeedOrganisation {
            code: org_code(i),
            name: format!("Generated Pharmacy {i}"),
        })
        .collect();
    for chunk in orgs.chunks(BATCH) {
        store.seed_organisations(chunk, now).await?;
    }
    println!(
        "Added {organisations} organisations ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let mut next_progress = 0;
    let mut methods_added = 0u64;
    let mut first = 0u64;
    while first < accounts {
        let last = (first + BATCH as u64).min(accounts);
        let batch: Vec<SeedAccount> = (first..last)
            .map(|n| {
                let org = org_code(n % organisations);
                SeedAccount {
                    id: uuid::Uuid::new_v4().to_string(),
                    email: format!("person{n}@{}.nhsmal.example", org.to_ascii_lowercase()),
                    display_name: format!("Person {n}"),
                    org_code: org,
                }
            })
            .collect();
        let methods: Vec<SeedMethod> = batch
            .iter()
            .zip(first..last)
            .flat_map(|(account, n)| methods_for(n, &account.id, enrolled_share, now))
            .collect();
        store.seed_accounts(&batch, &hash, now - 2 * SPREAD).await?;
        store.seed_methods(&methods).await?;
        methods_added += methods.len() as u64;
        first = last;
        if first >= next_progress || first == accounts {
            println!(
                "Added {first} of {accounts} accounts ({:.0}%), {methods_added} methods ({:.1} s)",
                first as f64 * 100.0 / accounts as f64,
                started.elapsed().as_secs_f64()
            );
            next_progress = first + 100_000;
        }
    }
    store.analyze().await?;
    store.close().await;
    println!(
        "Done in {:.1} s. Every generated account's password is: {SEED_PASSWORD}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn org_code(i: u64) -> String {
    format!("BN{i:06}")
}

/// About half choose an authenticator app, a quarter a text message, the rest a call or a key.
fn kind_for(u: f64) -> &'static str {
    match u {
        u if u < 0.55 => "totp",
        u if u < 0.80 => "sms",
        u if u < 0.90 => "voice",
        _ => "fido2",
    }
}

fn method_name(kind: &str) -> &'static str {
    match kind {
        "totp" => "Authenticator app",
        "sms" => "Text message",
        "voice" => "Phone call",
        _ => "Security key",
    }
}

/// The methods of account `n`: none, one, or (for about 15 % of the enrolled) two.
fn methods_for(n: u64, account_id: &str, share: f64, now: UnixTime) -> Vec<SeedMethod> {
    if draw(n, 0) >= share {
        return vec![];
    }
    // Enrolments pick up as the year goes on, as they do before a rollout date.
    let added = now - SPREAD + (draw(n, 1).sqrt() * SPREAD as f64) as i64;
    let method = |kind: &'static str, created_at: UnixTime, is_default: bool| SeedMethod {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.to_string(),
        kind,
        name: method_name(kind),
        phone: matches!(kind, "sms" | "voice").then(|| format!("+447700900{:03}", n % 1000)),
        is_default,
        created_at,
    };
    let kind = kind_for(draw(n, 2));
    let mut methods = vec![method(kind, added, true)];
    if draw(n, 3) < 0.15 {
        let second = if kind == "totp" { "sms" } else { "totp" };
        let later = (added + (draw(n, 4) * 30.0) as i64 * DAY).min(now);
        methods.push(method(second, later, false));
    }
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_the_asked_share_of_accounts_gets_methods() {
        let now = 1_800_000_000;
        let enrolled = (0..10_000)
            .filter(|n| !methods_for(*n, "a", 0.7, now).is_empty())
            .count();
        assert!((6_800..=7_200).contains(&enrolled), "{enrolled}");
        for n in 0..1_000 {
            for m in methods_for(n, "a", 1.0, now) {
                assert!(m.created_at > now - SPREAD - 1 && m.created_at <= now);
            }
        }
        assert!(methods_for(1, "a", 0.0, now).is_empty());
    }
}
