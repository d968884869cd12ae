//! `nhsmal user exception`: rollout exceptions from the command line (a national
//! administrator's tool: up to a year).

use clap::Subcommand;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use domain::accounts;
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::exceptions::{self, ExceptionError, ExceptionRecords, Grantor, Reason};

#[derive(Subcommand)]
pub enum ExceptionCommand {
    /// Let a person sign in with the password alone, where the rollout would require a method,
    /// for N days (1 to 365)
    Add {
        email: String,
        #[arg(long)]
        days: i64,
        /// no-work-device, shared-device, leave, accessibility or other
        #[arg(long)]
        reason: String,
        /// Why, in a few words (needed with --reason other)
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List a person's exceptions, or those ending in the next 14 days and those renewed more
    /// than twice
    List { email: Option<String> },
    /// End a person's exception now
    End { email: String },
}

fn exception_error(e: ExceptionError) -> CliError {
    match e {
        ExceptionError::Storage(s) => CliError::from(s),
        other => CliError::BadInput(other.to_string()),
    }
}

pub async fn run(common: &CommonArgs, command: ExceptionCommand) -> Result<(), CliError> {
    // Checked before the store opens, so bad input writes nothing.
    if let ExceptionCommand::Add { days, reason, .. } = &command {
        if !(1..=exceptions::LONG_TERM_DAYS).contains(days) {
            return Err(exception_error(ExceptionError::BadDays(
                exceptions::LONG_TERM_DAYS,
            )));
        }
        if Reason::parse(reason).is_none() {
            let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
            return Err(CliError::BadInput(format!(
                "unknown reason {reason:?}: use {}",
                names.join(", ")
            )));
        }
    }
    let (_, store) = open_store(common).await?;
    let now = SystemClock.now();
    let requester = Requester::command_line();
    let grantor = Grantor { admin: None };
    let find = async |email: &str| {
        accounts::find_by_email(&store, email)
            .await
            .map_err(|e| CliError::BadInput(e.to_string()))
    };
    let result = match command {
        ExceptionCommand::Add {
            email,
            days,
            reason,
            note,
        } => {
            let person = find(&email).await?;
            let request = exceptions::Request {
                days,
                reason: &reason,
                note: &note,
            };
            exceptions::grant(&store, &grantor, &person, &request, &requester, now)
                .await
                .map_err(exception_error)
                .map(|e| {
                    println!(
                        "Exception for {} until {} ({})",
                        person.email,
                        domain::clock::human(e.ends_at),
                        e.reason.label()
                    );
                })
        }
        ExceptionCommand::End { email } => {
            let person = find(&email).await?;
            exceptions::end(&store, &grantor, &person, &requester, now)
                .await
                .map_err(exception_error)
                .map(|_| println!("Ended the exception of {}", person.email))
        }
        ExceptionCommand::List { email: Some(email) } => {
            let person = find(&email).await?;
            let list = store.exceptions_of(&person.id).await?;
            if list.is_empty() {
                println!("{} has no exceptions", person.email);
            }
            for e in list {
                let state = if e.live_at(now) { "live" } else { "ended" };
                println!(
                    "{state}\t{}\tto {}\t{}\t{}",
                    domain::clock::human_date(e.starts_at),
                    domain::clock::human_date(e.ended_at.unwrap_or(e.ends_at)),
                    e.reason.as_str(),
                    e.note
                );
            }
            Ok(())
        }
        ExceptionCommand::List { email: None } => {
            let ending = store
                .exceptions_ending(now, now + 14 * 86_400, 1_000)
                .await?;
            println!("Ending in the next 14 days: {}", ending.len());
            for l in ending {
                println!(
                    "{}\t{}\tuntil {}\t{} grants",
                    l.email,
                    l.org_code,
                    domain::clock::human_date(l.exception.ends_at),
                    l.grants
                );
            }
            let renewed = store
                .exceptions_renewed(exceptions::RENEWALS_SHOWN_AFTER, 1_000)
                .await?;
            println!("Renewed more than twice: {}", renewed.len());
            for l in renewed {
                println!("{}\t{}\t{} grants", l.email, l.org_code, l.grants);
            }
            Ok(())
        }
    };
    store.close().await;
    result
}
