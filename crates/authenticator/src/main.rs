//! The NHSmal Authenticator companion app, from a terminal: it keeps TOTP accounts (any
//! standard `otpauth://` address, NHSmal's included) encrypted under a passphrase and shows
//! their current codes. Push approval for NHSmal sign-ins comes with the portal's push method.

mod vault;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use totp_rs::Totp;

use vault::{Account, VaultError};

#[derive(Parser)]
#[command(name = "nhsmal-authenticator", version, about)]
struct Cli {
    /// The encrypted file of accounts (default: $XDG_DATA_HOME or ~/.local/share,
    /// nhsmal-authenticator/accounts.json)
    #[arg(long, env = "NHSMAL_AUTHENTICATOR_STORE", global = true)]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add an account from its otpauth:// address (what the QR code holds)
    Add { uri: String },
    /// Show the current code of every account
    Code,
    /// List the accounts
    List,
    /// Remove an account by its label (as `list` shows it)
    Remove { label: String },
}

/// A person's mistake (exit 2) or the machine's (exit 1).
#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

fn default_store() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("nhsmal-authenticator/accounts.json")
}

/// The passphrase: from NHSMAL_AUTHENTICATOR_PASSPHRASE (for scripts), else asked for on the
/// terminal without echo.
fn passphrase() -> Result<zeroize::Zeroizing<String>, AppError> {
    if let Ok(p) = std::env::var("NHSMAL_AUTHENTICATOR_PASSPHRASE") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    rpassword::prompt_password("Passphrase: ")
        .map(zeroize::Zeroizing::new)
        .map_err(|e| AppError::Input(format!("cannot read the passphrase: {e}")))
}

/// An account's TOTP, whatever its key length (other services' keys may be shorter than
/// NHSmal's 160 bits).
fn totp(uri: &str) -> Result<Totp, AppError> {
    Totp::from_url_unchecked(uri).map_err(|e| {
        AppError::Input(format!(
            "that is not an otpauth://totp/ address an authenticator can use ({e:?})"
        ))
    })
}

fn label(t: &Totp) -> String {
    match t.issuer() {
        Some(issuer) if !issuer.is_empty() => format!("{issuer}:{}", t.account_name()),
        _ => t.account_name().to_string(),
    }
}

fn run(cli: Cli) -> Result<(), AppError> {
    let path = cli.store.unwrap_or_else(default_store);
    match cli.command {
        Command::Add { uri } => {
            let t = totp(uri.trim())?;
            let pass = passphrase()?;
            let mut accounts = vault::load(&path, &pass)?;
            let label = label(&t);
            if accounts.accounts.iter().any(|a| a.label == label) {
                return Err(AppError::Input(format!(
                    "{label} is already in the app; remove it first to replace it"
                )));
            }
            accounts.accounts.push(Account {
                label: label.clone(),
                uri: uri.trim().to_string(),
            });
            vault::save(&path, &pass, &accounts)?;
            println!("Added {label}");
        }
        Command::Code => {
            let accounts = vault::load(&path, &passphrase()?)?;
            if accounts.accounts.is_empty() {
                println!(
                    "No accounts yet. Add one with: nhsmal-authenticator add <otpauth address>"
                );
            }
            for a in &accounts.accounts {
                let t = totp(&a.uri)?;
                let code = t.generate_current();
                let left = t.ttl();
                println!("{}  {code}  ({left} s left)", a.label);
            }
        }
        Command::List => {
            for a in vault::load(&path, &passphrase()?)?.accounts {
                println!("{}", a.label);
            }
        }
        Command::Remove { label } => {
            let pass = passphrase()?;
            let mut accounts = vault::load(&path, &pass)?;
            let before = accounts.accounts.len();
            accounts.accounts.retain(|a| a.label != label);
            if accounts.accounts.len() == before {
                return Err(AppError::Input(format!("no account called {label}")));
            }
            vault::save(&path, &pass, &accounts)?;
            println!("Removed {label}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nhsmal-authenticator: {e}");
            match e {
                AppError::Input(_)
                | AppError::Vault(
                    VaultError::CannotOpen(_)
                    | VaultError::NotAVault(_)
                    | VaultError::WeakPassphrase,
                ) => ExitCode::from(2),
                AppError::Vault(VaultError::Io { .. }) => ExitCode::from(1),
            }
        }
    }
}
