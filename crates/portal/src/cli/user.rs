use std::io::Read;

use clap::Subcommand;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use domain::accounts::{self, AccountError, AccountRecords, AccountRequest, AccountState};
use domain::admin;
use domain::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use domain::clock::{Clock, SystemClock};
use domain::limits::{SignInLimitRecords, email_limit_key};
use domain::password::PasswordHashing;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add an account
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Organisation code
        #[arg(long)]
        org: String,
        /// user, local-admin or national-admin
        #[arg(long, default_value = "user")]
        role: String,
        /// Read the password from standard input (one line)
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts
    List,
    /// Stop an account from signing in (its sessions end)
    Disable { email: String },
    /// Let a disabled account sign in again
    Enable { email: String },
    /// Remove every MFA method of an account (a lost phone); its sessions end
    ResetMfa {
        email: String,
        /// Why, for the audit trail
        #[arg(long, default_value = "reset by an operator at the command line")]
        reason: String,
    },
    /// End a sign-in lock early
    Unlock { email: String },
    /// End every session of an account and every app's access to it (the webmail and mail
    /// apps must sign in again)
    SignOutEverywhere { email: String },
    /// Issue a temporary access pass (printed once) that signs the person in once to set up a method
    TemporaryAccessPass {
        email: String,
        /// How long it lasts, 10 to 480 minutes
        #[arg(long, default_value_t = admin::PASS_MINUTES_DEFAULT)]
        minutes: i64,
    },
    /// Add accounts from a CSV file (email,name,organisation,role) and email each new person an
    /// invitation to set their password
    Import(Box<super::import::ImportArgs>),
    /// Rollout exceptions: sign in with the password alone until an end date
    Exception {
        #[command(subcommand)]
        command: super::exception::ExceptionCommand,
    },
}

fn account_error(e: AccountError) -> CliError {
    match e {
        AccountError::Storage(s) => CliError::from(s),
        AccountError::Hashing(h) => CliError::Failed(anyhow::anyhow!(h)),
        other => CliError::BadInput(other.to_string()),
    }
}

fn admin_error(e: admin::AdminError) -> CliError {
    match e {
        admin::AdminError::Storage(s) => CliError::from(s),
        other => CliError::BadInput(other.to_string()),
    }
}

fn read_password() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        CliError::BadInput(format!("cannot read the password from standard input: {e}"))
    })?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\n') {
        return Err(CliError::BadInput(
            "the password on standard input must be one line".into(),
        ));
    }
    Ok(line.to_string())
}

pub async fn run(common: &CommonArgs, command: UserCommand) -> Result<(), CliError> {
    let command = match command {
        UserCommand::Import(args) => return super::import::run(common, *args).await,
        UserCommand::Exception { command } => return super::exception::run(common, command).await,
        other => other,
    };
    let password = match &command {
        UserCommand::Add {
            password_stdin: true,
            ..
        } => Some(read_password()?),
        _ => None,
    };
    let (settings, store) = open_store(common).await?;
    let now = SystemClock.now();
    let requester = Requester::command_line();
    match command {
        UserCommand::Add {
            email,
            name,
            org,
            role,
            ..
        } => {
            let hashing =
                PasswordHashing::new(&settings.argon2).map_err(|e| CliError::Failed(e.into()))?;
            let request = AccountRequest {
                email: &email,
                name: &name,
                org: &org,
                role: &role,
            };
            let account =
                accounts::add_account(&store, &hashing, request, password.as_deref(), now)
                    .await
                    .map_err(account_error)?;
            store
                .append_audit(
                    &AuditEvent::new("account.added", Outcome::Success, &requester, now)
                        .account(&account.id),
                )
                .await?;
            println!(
                "Added {} ({}) to {} as {}",
                account.email, account.display_name, account.org_code, account.role
            );
        }
        UserCommand::List => {
            let all = store.all_accounts().await?;
            println!(
                "{:<40} {:<30} {:<8} {:<15} STATE",
                "EMAIL", "NAME", "ORG", "ROLE"
            );
            for a in all {
                let locked = store
                    .limit_state(&email_limit_key(&a.email))
                    .await?
                    .is_some_and(|l| {
                        l.blocked_until > now && l.failures >= settings.sign_in_limits.lock_after
                    });
                let state = match (a.state, locked) {
                    (AccountState::Disabled, _) => "disabled",
                    (AccountState::Active, true) => "locked",
                    (AccountState::Active, false) => "active",
                };
                println!(
                    "{:<40} {:<30} {:<8} {:<15} {}",
                    a.email, a.display_name, a.org_code, a.role, state
                );
            }
        }
        UserCommand::ResetMfa { email, reason } => {
            let account = accounts::find_by_email(&store, &email)
                .await
                .map_err(account_error)?;
            let notifier = email_queue(&settings, &store)?;
            let action = admin::AdminAction {
                actor_id: None,
                requester: &requester,
                now,
                notifier: &notifier,
            };
            let removed = admin::reset_mfa(&store, &action, &account, &reason)
                .await
                .map_err(admin_error)?;
            println!(
                "Reset MFA for {}: {removed} method(s) removed, sessions ended",
                account.email
            );
        }
        UserCommand::TemporaryAccessPass { email, minutes } => {
            let account = accounts::find_by_email(&store, &email)
                .await
                .map_err(account_error)?;
            let secrets = super::serve::load_master_key(&settings)?;
            let notifier = crate::notify::from_settings(&settings.providers, &settings.data_dir)
                .map_err(|e| CliError::BadInput(format!("message providers: {e}")))?;
            let action = admin::AdminAction {
                actor_id: None,
                requester: &requester,
                now,
                notifier: &notifier,
            };
            let (code, until) =
                admin::issue_temporary_access_pass(&store, &action, &secrets, &account, minutes)
                    .await
                    .map_err(admin_error)?;
            println!(
                "Temporary access pass for {}: {} (works once, until {})",
                account.email,
                code.display(),
                domain::clock::human(until)
            );
        }
        UserCommand::SignOutEverywhere { email } => {
            let account = accounts::find_by_email(&store, &email)
                .await
                .map_err(account_error)?;
            let by = domain::signed_in::Ender::person(&requester, now);
            let ended = domain::signed_in::sign_out_everywhere(&store, &account, &by).await?;
            println!(
                "Signed {} out everywhere: {} sessions ended, {} app grants revoked",
                account.email, ended.sessions, ended.grants
            );
        }
        UserCommand::Unlock { email } => {
            let account = accounts::find_by_email(&store, &email)
                .await
                .map_err(account_error)?;
            let notifier = email_queue(&settings, &store)?;
            let action = admin::AdminAction {
                actor_id: None,
                requester: &requester,
                now,
                notifier: &notifier,
            };
            admin::unlock(&store, &action, &account)
                .await
                .map_err(admin_error)?;
            println!("Unlocked {}", account.email);
        }
        UserCommand::Disable { email } | UserCommand::Enable { email } if email.is_empty() => {
            return Err(CliError::BadInput(
                "give the account's email address".into(),
            ));
        }
        UserCommand::Disable { email } => {
            let account = accounts::find_by_email(&store, &email)
                .await
                .map_err(account_error)?;
            domain::account_changes::set_state(
                &store,
                &account,
                AccountState::Disabled,
                &requester,
                now,
            )
            .await
            .map_err(CliError::from)?;
            println!("Disabled {}", account.email);
        }
        UserCommand::Enable { email } => {
            let account = accounts::find_by_email(&store, &email)
                .await
                .map_err(account_error)?;
            domain::account_changes::set_state(
                &store,
                &account,
                AccountState::Active,
                &requester,
                now,
            )
            .await
            .map_err(CliError::from)?;
            println!("Enabled {}", account.email);
        }
        UserCommand::Import(_) | UserCommand::Exception { .. } => unreachable!("handled above"),
    }
    store.close().await;
    Ok(())
}

/// The configured providers behind the email queue, as the server has them: a notice the
/// relay does not take now stays queued for the server's delivery worker.
fn email_queue(
    settings: &crate::config::Settings,
    store: &crate::store::Store,
) -> Result<domain::email_queue::EmailQueue<crate::store::Store>, CliError> {
    let providers = crate::notify::from_settings(&settings.providers, &settings.data_dir)
        .map_err(|e| CliError::BadInput(format!("message providers: {e}")))?;
    Ok(domain::email_queue::EmailQueue::new(
        store.clone(),
        std::sync::Arc::new(providers),
    ))
}
