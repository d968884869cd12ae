//! The `nhsmal` command line: one module per command group. Bad input prints one line on
//! stderr and exits 2 with nothing written; other failures exit 1.

mod client;
mod exception;
mod import;
mod keys;
mod org;
mod policy;
mod report;
mod serve;
mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{CommonArgs, ServeArgs, Settings};
use crate::store::Store;

#[derive(Parser)]
#[command(
    name = "nhsmal",
    version,
    about = "NHSmal Portal: account portal and identity provider"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the portal
    Serve(Box<ServeArgs>),
    /// Manage organisations
    Org {
        #[command(subcommand)]
        action: org::OrgCommand,
    },
    /// Manage accounts
    User {
        #[command(subcommand)]
        action: user::UserCommand,
    },
    /// The MFA policy: the date MFA is required from, allowed methods, reminders
    Policy {
        #[command(subcommand)]
        action: policy::PolicyCommand,
    },
    /// OpenID Connect clients (apps that sign people in through the portal)
    Client {
        #[command(subcommand)]
        action: client::ClientCommand,
    },
    /// OpenID Connect signing keys
    Keys {
        #[command(subcommand)]
        action: keys::KeysCommand,
    },
    /// Reports: MFA enrolment
    Report {
        #[command(subcommand)]
        action: report::ReportCommand,
    },
}

/// How a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The operator's input is wrong: exit 2.
    #[error("{0}")]
    BadInput(String),
    /// Something else failed (the database, the network): exit 1.
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl From<domain::StorageError> for CliError {
    fn from(e: domain::StorageError) -> Self {
        CliError::Failed(e.into())
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    exit_code_of(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&cli.common, &args).await,
            Command::Org { action } => org::run(&cli.common, action).await,
            Command::User { action } => user::run(&cli.common, action).await,
            Command::Policy { action } => policy::run(&cli.common, action).await,
            Command::Client { action } => client::run(&cli.common, action).await,
            Command::Keys { action } => keys::run(&cli.common, action).await,
            Command::Report { action } => report::run(&cli.common, action).await,
        }
    })
}

/// Runs a command on a new runtime and says how it went: one line on stderr and 2 for bad
/// input, 1 for any other failure. The development tool (`nhsmal-dev`) answers the same way.
pub fn exit_code_of(command: impl std::future::Future<Output = Result<(), CliError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::BadInput(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Settings and an open store for an admin command.
pub async fn open_store(common: &CommonArgs) -> Result<(Settings, Store), CliError> {
    let settings = Settings::resolve(common, &ServeArgs::default())
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    // Audit events of admin commands reach the SIEM too, except on standard output, which is
    // the command's own output (a CSV report, a user list).
    let mut siem = settings.siem.clone();
    if siem.file == Some(crate::siem::SiemFile::Stdout) {
        siem.file = None;
    }
    let siem = crate::siem::Siem::start(&siem).map_err(|e| CliError::BadInput(e.to_string()))?;
    let store = Store::open(
        &settings.database_url,
        &settings.data_dir,
        settings.database_max_connections,
    )
    .await?
    .with_siem(siem);
    Ok((settings, store))
}
