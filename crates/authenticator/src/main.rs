//! The NHSmal Authenticator companion app, from a terminal: it pairs with an NHSmal Portal and
//! approves its sign-ins (push, with number matching), and keeps TOTP accounts (any standard
//! `otpauth://` address, NHSmal's included) encrypted under a passphrase and shows their codes.
//! `wait` is the interactive screen; the other commands suit scripts.

mod portal;
mod screen;
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
    /// Pair with an NHSmal Portal: the activation link (or code, with --server) from the
    /// portal's "Receive notifications" page
    Pair {
        activation: String,
        /// The portal's address, when only the code is given
        #[arg(long)]
        server: Option<String>,
        /// What the portal calls this device (default: the computer's name)
        #[arg(long)]
        name: Option<String>,
        /// The number the set-up page shows (asked for when not given)
        #[arg(long)]
        number: Option<String>,
    },
    /// Wait for sign-in requests and answer them (the interactive screen)
    Wait {
        /// Stop after answering one request
        #[arg(long)]
        once: bool,
    },
    /// List the pending sign-in requests of every paired portal
    Requests,
    /// Approve a request, typing the number the sign-in page shows
    Approve {
        id: String,
        #[arg(long)]
        number: String,
    },
    /// Deny a request; with --report, also report it as suspicious
    Deny {
        id: String,
        #[arg(long)]
        report: bool,
    },
}

/// A person's mistake (exit 2) or the machine's (exit 1).
#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Portal(#[from] portal::PortalError),
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
            let accounts = vault::load(&path, &passphrase()?)?;
            for a in accounts.accounts {
                println!("{}", a.label);
            }
            for d in accounts.devices {
                println!(
                    "Notifications: {} at {} (as \"{}\")",
                    d.account, d.server, d.name
                );
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
        Command::Pair {
            activation,
            server,
            name,
            number,
        } => {
            let (server, code) = portal::activation(&activation, server.as_deref()).ok_or_else(|| {
                AppError::Input(
                    "give the activation link from the portal's page, or the code with --server <portal address>".into(),
                )
            })?;
            // The passphrase first: a wrong one must not use up the activation code.
            let pass = passphrase()?;
            let mut accounts = vault::load(&path, &pass)?;
            if pass.chars().count() < 8 {
                return Err(VaultError::WeakPassphrase.into());
            }
            let name = name.unwrap_or_else(screen::device_name);
            let offered = portal::pair(&server, &code, &name)?;
            println!(
                "The portal has this device's key, for {}.",
                offered.device.account
            );
            let number = match number {
                Some(n) => n,
                None => screen::ask("Type the number the set-up page now shows: ")?,
            };
            let (result, message) =
                portal::answer(&offered.device, &offered.request, "approve", number.trim())?;
            if result != "paired" {
                return Err(AppError::Input(format!(
                    "{message} Start again on the portal's page to get a new activation code."
                )));
            }
            let mut label = format!("NHSmal:{}", offered.device.account);
            if accounts.accounts.iter().any(|a| a.label == label) {
                label = format!("{label} ({name})");
            }
            accounts.accounts.retain(|a| a.label != label);
            accounts.accounts.push(Account {
                label,
                uri: offered.totp_uri,
            });
            accounts.devices.push(offered.device);
            vault::save(&path, &pass, &accounts)?;
            println!("{message}");
        }
        Command::Wait { once } => {
            let accounts = vault::load(&path, &passphrase()?)?;
            screen::wait(&accounts.devices, once)?;
        }
        Command::Requests => {
            let accounts = vault::load(&path, &passphrase()?)?;
            let mut any = false;
            for device in &accounts.devices {
                for request in portal::requests(device)? {
                    any = true;
                    println!("{}", request.id);
                    print!("{}", screen::describe(device, &request));
                }
            }
            if !any {
                println!("No requests waiting.");
            }
        }
        Command::Approve { id, number } => {
            let accounts = vault::load(&path, &passphrase()?)?;
            let (device, request) = screen::find(&accounts.devices, &id)?;
            let (_, message) = portal::answer(&device, &request, "approve", number.trim())?;
            println!("{message}");
        }
        Command::Deny { id, report } => {
            let accounts = vault::load(&path, &passphrase()?)?;
            let (device, request) = screen::find(&accounts.devices, &id)?;
            let decision = if report { "report" } else { "deny" };
            let (_, message) = portal::answer(&device, &request, decision, "")?;
            println!("{message}");
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
                // The portal refused (a used code, a late answer): the person can act on it.
                AppError::Portal(portal::PortalError::Refused(_)) => ExitCode::from(2),
                AppError::Portal(_) => ExitCode::from(1),
            }
        }
    }
}
