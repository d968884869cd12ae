use clap::Subcommand;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::networks::NetworkSettings;
use domain::policy::{self, MfaPolicy, NATIONAL, PolicyChange, PolicyError, PolicyRecords};
use domain::strength::StrengthSettings;

/// What `nhsmal policy set` takes (boxed: it is much larger than the other commands).
#[derive(clap::Args)]
pub struct SetArgs {
    /// The date from which MFA is required (YYYY-MM-DD, UTC)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub mfa_required_from: Option<String>,
    /// Organisation code; without it, the national policy
    #[arg(long)]
    pub org: Option<String>,
    /// Methods users may use, such as totp,sms,voice,fido2
    #[arg(long, value_name = "LIST")]
    pub user_methods: Option<String>,
    /// Methods administrators may use, such as totp,fido2
    #[arg(long, value_name = "LIST")]
    pub admin_methods: Option<String>,
    /// Days before the date that reminders start
    #[arg(long, value_name = "DAYS")]
    pub reminder_days: Option<i64>,
    /// How many times a person may choose "Remind me later"
    #[arg(long, value_name = "N")]
    pub snoozes: Option<i64>,
    /// How long each "Remind me later" lasts
    #[arg(long, value_name = "DAYS")]
    pub snooze_days: Option<i64>,
    /// Days a user's device may be remembered after a second factor (0: never)
    #[arg(long, value_name = "DAYS")]
    pub remember_days: Option<i64>,
    /// Days an administrator's device may be remembered (0: never)
    #[arg(long, value_name = "DAYS")]
    pub admin_remember_days: Option<i64>,
    /// Whether a recovery code counts as one of the methods a password reset needs: yes or no
    #[arg(long, value_name = "yes|no")]
    pub recovery_codes_for_reset: Option<String>,
    /// Whether administrators must use the NHSmal Authenticator (push) as their default
    /// method: yes or no
    #[arg(long, value_name = "yes|no")]
    pub admin_push_default: Option<String>,
    /// Whether the admin area needs a phishing-resistant sign-in (a security key): yes or no
    #[arg(long, value_name = "yes|no")]
    pub admin_phishing_resistant: Option<String>,
    /// Whether a passkey alone signs in (its user verification is the second factor), or is
    /// used only as a second factor after the password: yes or no (default yes)
    #[arg(long, value_name = "yes|no")]
    pub passkey_sign_in: Option<String>,
    /// Whether synced passkeys (kept and copied by a password manager) are accepted: yes or no
    /// (default yes)
    #[arg(long, value_name = "yes|no")]
    pub synced_passkeys: Option<String>,
    /// Whether administrators' passkeys must be device-bound: yes or no (default no)
    #[arg(long, value_name = "yes|no")]
    pub admin_device_bound: Option<String>,
    /// Only these authenticator models (AAGUIDs, comma-separated; "none" for any) may register
    /// a security key or passkey
    #[arg(long, value_name = "LIST")]
    pub aaguid_allow: Option<String>,
    /// These authenticator models (AAGUIDs, comma-separated; "none" to clear) may not
    #[arg(long, value_name = "LIST")]
    pub aaguid_deny: Option<String>,
    /// Whether the second step offers the strongest method a person has (security key or
    /// passkey, then push, app code, call, text) instead of their default: yes or no
    #[arg(long, value_name = "yes|no")]
    pub system_preferred: Option<String>,
    /// Trusted networks (CIDR, IPv4 and IPv6, comma-separated; "none" to clear) where a known
    /// device of a person (never an administrator) is not asked for the second factor
    #[arg(long, value_name = "LIST")]
    pub trusted_networks: Option<String>,
    /// What a trusted network does: skip (a known device skips the second factor) or
    /// remembered (stricter: only "Don't ask again on this device" devices, for twice as long)
    #[arg(long, value_name = "skip|remembered")]
    pub trusted_network_mode: Option<String>,
}

/// The trusted networks a `policy set` changes, checked.
fn networks_change(args: &SetArgs) -> Result<NetworkSettings, PolicyError> {
    Ok(NetworkSettings {
        trusted: args
            .trusted_networks
            .as_deref()
            .map(domain::networks::parse_networks)
            .transpose()?,
        mode: args
            .trusted_network_mode
            .as_deref()
            .map(domain::networks::parse_mode)
            .transpose()?,
    })
}

/// The strength rules a `policy set` changes, checked.
fn strength_change(args: &SetArgs) -> Result<StrengthSettings, PolicyError> {
    let yes_no = |switch: &'static str, text: &Option<String>| {
        text.as_deref()
            .map(|t| policy::parse_yes_no(switch, t))
            .transpose()
    };
    let list = |text: &Option<String>| {
        text.as_deref()
            .map(domain::strength::parse_aaguids)
            .transpose()
            .map_err(PolicyError::from)
    };
    Ok(StrengthSettings {
        passkey_sign_in: yes_no("--passkey-sign-in", &args.passkey_sign_in)?,
        synced_passkeys: yes_no("--synced-passkeys", &args.synced_passkeys)?,
        admin_device_bound: yes_no("--admin-device-bound", &args.admin_device_bound)?,
        aaguid_allow: list(&args.aaguid_allow)?,
        aaguid_deny: list(&args.aaguid_deny)?,
        system_preferred: yes_no("--system-preferred", &args.system_preferred)?,
    })
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Set the national MFA policy, or an organisation's overrides with --org
    Set(Box<SetArgs>),
    /// Show the policy that applies (nationally, or to an organisation)
    Show {
        #[arg(long)]
        org: Option<String>,
    },
}

const RECOVERY_SWITCH: &str = "--recovery-codes-for-reset";
const PUSH_DEFAULT_SWITCH: &str = "--admin-push-default";
const ADMIN_PHR_SWITCH: &str = "--admin-phishing-resistant";

pub async fn run(common: &CommonArgs, command: PolicyCommand) -> Result<(), CliError> {
    // Checked before the store opens, so bad input writes nothing (not even a data folder).
    if let PolicyCommand::Set(args) = &command {
        let SetArgs {
            mfa_required_from,
            user_methods,
            admin_methods,
            reminder_days,
            snoozes,
            snooze_days,
            remember_days,
            admin_remember_days,
            recovery_codes_for_reset,
            admin_push_default,
            admin_phishing_resistant,
            ..
        } = args.as_ref();
        let bad = |e: PolicyError| CliError::BadInput(e.to_string());
        if let Some(date) = mfa_required_from {
            policy::parse_date(date).map_err(bad)?;
        }
        for list in [user_methods, admin_methods].into_iter().flatten() {
            policy::MethodSet::parse(list).map_err(bad)?;
        }
        policy::check_ranges(*reminder_days, *snoozes, *snooze_days).map_err(bad)?;
        policy::check_remember_days(*remember_days, *admin_remember_days).map_err(bad)?;
        if let Some(text) = recovery_codes_for_reset {
            policy::parse_yes_no(RECOVERY_SWITCH, text).map_err(bad)?;
        }
        if let Some(text) = admin_push_default {
            policy::parse_yes_no(PUSH_DEFAULT_SWITCH, text).map_err(bad)?;
        }
        if let Some(text) = admin_phishing_resistant {
            policy::parse_yes_no(ADMIN_PHR_SWITCH, text).map_err(bad)?;
        }
        strength_change(args).map_err(bad)?;
        networks_change(args).map_err(bad)?;
    }
    let (_, store) = open_store(common).await?;
    let now = SystemClock.now();
    let result = match command {
        PolicyCommand::Set(args) => {
            let strength = strength_change(&args).unwrap_or_default();
            let networks = networks_change(&args).unwrap_or_default();
            let SetArgs {
                mfa_required_from,
                org,
                user_methods,
                admin_methods,
                reminder_days,
                snoozes,
                snooze_days,
                remember_days,
                admin_remember_days,
                recovery_codes_for_reset,
                admin_push_default,
                admin_phishing_resistant,
                ..
            } = *args;
            let recovery_codes_for_reset = recovery_codes_for_reset
                .map(|t| policy::parse_yes_no(RECOVERY_SWITCH, &t).unwrap_or(false));
            let admin_push_default = admin_push_default
                .map(|t| policy::parse_yes_no(PUSH_DEFAULT_SWITCH, &t).unwrap_or(false));
            let admin_phishing_resistant = admin_phishing_resistant
                .map(|t| policy::parse_yes_no(ADMIN_PHR_SWITCH, &t).unwrap_or(false));
            let change = PolicyChange {
                org: org.as_deref(),
                required_from: mfa_required_from.as_deref(),
                user_methods: user_methods.as_deref(),
                admin_methods: admin_methods.as_deref(),
                reminder_days,
                max_snoozes: snoozes,
                snooze_days,
                remember_days_user: remember_days,
                remember_days_admin: admin_remember_days,
                recovery_codes_for_reset,
                admin_push_default,
                admin_phishing_resistant,
                strength,
                networks,
                replace: false,
            };
            policy::change_policy(&store, change, None, &Requester::command_line(), now)
                .await
                .map(|settings| {
                    println!(
                        "Policy for {}: {}",
                        org.as_deref().unwrap_or("all organisations (national)"),
                        policy::describe(&settings)
                    );
                })
        }
        PolicyCommand::Show { org } => {
            let scope = org.as_deref().unwrap_or(NATIONAL).to_uppercase();
            match store.policy_settings(&scope).await {
                Ok((national, own)) => {
                    let p = if scope == NATIONAL {
                        MfaPolicy::effective(national.as_ref(), None)
                    } else {
                        MfaPolicy::effective(national.as_ref(), own.as_ref())
                    };
                    println!(
                        "required from: {}",
                        p.required_from
                            .map(domain::clock::human_date)
                            .unwrap_or_else(|| "not set".into())
                    );
                    println!("user methods: {}", p.user_methods.to_list());
                    println!("admin methods: {}", p.admin_methods.to_list());
                    println!("reminder days: {}", p.reminder_days);
                    println!("snoozes: {} of {} days", p.max_snoozes, p.snooze_days);
                    println!(
                        "devices remembered: {} days for users, {} for administrators",
                        p.remember_days_user, p.remember_days_admin
                    );
                    println!(
                        "recovery codes count for a password reset: {}",
                        if p.recovery_codes_for_reset {
                            "yes"
                        } else {
                            "no"
                        }
                    );
                    println!(
                        "administrators' default must be the NHSmal Authenticator: {}",
                        if p.admin_push_default { "yes" } else { "no" }
                    );
                    let yes = |b: bool| if b { "yes" } else { "no" };
                    let any = |ids: &[uuid::Uuid]| {
                        if ids.is_empty() {
                            "any".to_string()
                        } else {
                            domain::strength::aaguid_list(ids)
                        }
                    };
                    let s = &p.strength;
                    println!("a passkey alone signs in: {}", yes(s.passkey_sign_in));
                    println!("synced passkeys accepted: {}", yes(s.synced_passkeys));
                    println!(
                        "administrators' passkeys device-bound: {}",
                        yes(s.admin_device_bound)
                    );
                    println!("models allowed: {}", any(&s.aaguid_allow));
                    println!("models refused: {}", any(&s.aaguid_deny));
                    println!(
                        "the strongest method offered first: {}",
                        yes(s.system_preferred)
                    );
                    println!(
                        "trusted networks: {}",
                        match p.networks.mode {
                            Some(mode) => format!(
                                "{} ({})",
                                domain::networks::network_list(&p.networks.trusted),
                                mode.as_str()
                            ),
                            None => "none".into(),
                        }
                    );
                    println!(
                        "the admin area needs a security key: {}",
                        if p.admin_phishing_resistant {
                            "yes"
                        } else {
                            "no"
                        }
                    );
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    store.close().await;
    result.map_err(|e| match e {
        PolicyError::Storage(s) => CliError::from(s),
        other => CliError::BadInput(other.to_string()),
    })
}
