//! `nhsmal-dev time-risk`: times the risk work of sign-ins (the domain functions themselves)
//! against a store filled by `seed-sign-ins` and against an empty one, and with `--explain`
//! shows the plans of the queries behind it (BENCHMARKS.md, "Sign-in risk").

use std::time::Instant;

use domain::accounts::{Account, AccountRecords};
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::limits::client_source;
use domain::monitoring::{self, Monitor, SignInLog};
use domain::risk::Location;
use nhsmal::cli::{CliError, open_store};
use nhsmal::config::CommonArgs;
use nhsmal::store::Store;
use nhsmal::store::seed::ExplainValue;

use crate::generated::mix;
use crate::risk_bench::{DAY, SPRAY_SOURCE};

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
    settings: &nhsmal::config::Settings,
    samples: &[Sample],
) -> Result<Vec<Timings>, CliError> {
    let notifier = nhsmal::notify::Outbox::in_data_dir(&settings.data_dir);
    fn monitor_of<'a>(
        settings: &'a nhsmal::config::Settings,
        notifier: &'a nhsmal::notify::Outbox,
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
    settings: &nhsmal::config::Settings,
    s: &Sample,
) -> Result<(), CliError> {
    let now = SystemClock.now();
    let r = &settings.risk;
    let source = client_source(&s.requester.ip);
    let queries: [(&str, &str, Vec<ExplainValue<'_>>); 5] = [
        (
            "what the account signed in from",
            nhsmal::store::seed::FAMILIAR_SQL,
            vec![
                ExplainValue::Text(&s.account.id),
                ExplainValue::Int(now - r.look_back_days * DAY),
                ExplainValue::Int(monitoring::FAMILIAR_ROWS),
            ],
        ),
        (
            "account history of the last day",
            nhsmal::store::seed::ACCOUNT_HISTORY_SQL,
            vec![
                ExplainValue::Text(&s.account.id),
                ExplainValue::Int(now - DAY),
                ExplainValue::Int(monitoring::LAST_DAY_ROWS),
            ],
        ),
        (
            "wrong passwords for the address",
            nhsmal::store::seed::PASSWORD_FAILURES_SQL,
            vec![
                ExplainValue::Text(&s.account.email),
                ExplainValue::Int(now - r.brute_force_minutes * 60),
            ],
        ),
        (
            "addresses failing from the source",
            nhsmal::store::seed::FAILED_EMAILS_SQL,
            vec![
                ExplainValue::Text(&source),
                ExplainValue::Int(now - r.spray_minutes * 60),
                ExplainValue::Text(&s.account.email),
            ],
        ),
        (
            "addresses failing from the spraying source",
            nhsmal::store::seed::FAILED_EMAILS_SQL,
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

/// `nhsmal-dev time-risk`: the risk work of `samples` sign-ins against this store's log and
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
            "the sign-in log is empty: run `nhsmal-dev seed-sign-ins` first".into(),
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
