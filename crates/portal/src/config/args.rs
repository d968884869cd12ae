//! The command line: flags every command takes and those of `nhsmal serve`, each with its
//! environment variable. Apart from the TOML file (`file`) and from validation (`Settings`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::notify::{EmailProvider, Secret, SmsProvider, VoiceProvider};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Flags every command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// TOML file with settings (keys as the long flags, with underscores)
    #[arg(long, global = true, env = "NHSMAL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder: the SQLite database, key files and the outbox [default: ./nhsmal-data]
    #[arg(long, global = true, env = "NHSMAL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… for PostgreSQL; without it the store is SQLite in the data folder
    #[arg(long, global = true, env = "NHSMAL_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format [default: human]
    #[arg(long, global = true, env = "NHSMAL_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// Message providers: the outbox by default; GOV.UK Notify, Twilio and SMTP in production.
/// Secrets come from the environment or the config file (never put them in flags: they show
/// in the process list).
#[derive(Debug, Clone, Default, Args)]
pub struct ProviderArgs {
    /// Text messages: outbox, notify or twilio [default: outbox]
    #[arg(long, env = "NHSMAL_SMS_PROVIDER", value_enum)]
    pub sms_provider: Option<SmsProvider>,
    /// Phone calls: outbox or twilio [default: outbox]
    #[arg(long, env = "NHSMAL_VOICE_PROVIDER", value_enum)]
    pub voice_provider: Option<VoiceProvider>,
    /// Email: outbox or smtp [default: outbox]
    #[arg(long, env = "NHSMAL_EMAIL_PROVIDER", value_enum)]
    pub email_provider: Option<EmailProvider>,
    #[arg(long, env = "NHSMAL_NOTIFY_API_KEY", hide_env_values = true)]
    pub notify_api_key: Option<Secret>,
    #[arg(long, env = "NHSMAL_NOTIFY_SMS_TEMPLATE_ID")]
    pub notify_sms_template_id: Option<String>,
    #[arg(long, env = "NHSMAL_NOTIFY_BASE_URL")]
    pub notify_base_url: Option<String>,
    #[arg(long, env = "NHSMAL_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    #[arg(long, env = "NHSMAL_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<Secret>,
    /// The number (E.164) texts and calls come from
    #[arg(long, env = "NHSMAL_TWILIO_FROM")]
    pub twilio_from: Option<String>,
    #[arg(long, env = "NHSMAL_TWILIO_BASE_URL")]
    pub twilio_base_url: Option<String>,
    /// smtps://user:password@host:465 (implicit TLS), smtp://user:password@host:587 (STARTTLS
    /// required), or smtp://127.0.0.1:PORT for a loopback relay (no TLS)
    #[arg(long, env = "NHSMAL_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    /// The sender of email, such as `NHSmal <no-reply@nhsmal.net>`
    #[arg(long, env = "NHSMAL_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Seconds to wait for the SMTP relay to answer a connection; a whole message must be sent
    /// within four times this [default: 10]
    #[arg(long, env = "NHSMAL_SMTP_TIMEOUT_SECONDS")]
    pub smtp_timeout_seconds: Option<u64>,
}

/// Flags of `nhsmal serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "NHSMAL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The address people use [default: http://localhost:PORT]
    #[arg(long, env = "NHSMAL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Create the demo organisation and user if absent, and print how to sign in
    #[arg(long, env = "NHSMAL_DEMO")]
    pub demo: bool,
    /// Argon2id memory in KiB [default: 19456]
    #[arg(long, env = "NHSMAL_ARGON2_MEMORY_KIB")]
    pub argon2_memory_kib: Option<u32>,
    /// Argon2id iterations [default: 2]
    #[arg(long, env = "NHSMAL_ARGON2_ITERATIONS")]
    pub argon2_iterations: Option<u32>,
    /// Argon2id lanes [default: 1]
    #[arg(long, env = "NHSMAL_ARGON2_PARALLELISM")]
    pub argon2_parallelism: Option<u32>,
    /// Minutes of inactivity that end a session [default: 30]
    #[arg(long, env = "NHSMAL_SESSION_IDLE_MINUTES")]
    pub session_idle_minutes: Option<i64>,
    /// Hours after sign-in that end a session whatever happens [default: 12]
    #[arg(long, env = "NHSMAL_SESSION_ABSOLUTE_HOURS")]
    pub session_absolute_hours: Option<i64>,
    /// Consecutive failed sign-ins that lock an account for a while [default: 10]
    #[arg(long, env = "NHSMAL_SIGNIN_LOCK_AFTER")]
    pub signin_lock_after: Option<i64>,
    /// Minutes an account stays locked [default: 15]
    #[arg(long, env = "NHSMAL_SIGNIN_LOCK_MINUTES")]
    pub signin_lock_minutes: Option<i64>,
    /// Different kinds of MFA method an administrator proves to reset a forgotten password [default: 2]
    #[arg(long, env = "NHSMAL_PASSWORD_RESET_ADMIN_METHODS")]
    pub password_reset_admin_methods: Option<usize>,
    /// Days the sign-in log keeps its rows (1–3650) [default: 90]
    #[arg(long, env = "NHSMAL_SIGN_IN_LOG_RETENTION_DAYS")]
    pub sign_in_log_retention_days: Option<i64>,
    /// Failed sign-ins from one client address within the window before it is refused [default: 50]
    #[arg(long, env = "NHSMAL_SIGNIN_IP_MAX_FAILURES")]
    pub signin_ip_max_failures: Option<i64>,
    /// Length of the client-address window in minutes [default: 15]
    #[arg(long, env = "NHSMAL_SIGNIN_IP_WINDOW_MINUTES")]
    pub signin_ip_window_minutes: Option<i64>,
    /// Most database connections [default: 16]
    #[arg(long, env = "NHSMAL_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// File holding the master key that encrypts TOTP keys (base64 of 32 bytes); created with
    /// mode 0600 if absent. NHSMAL_MASTER_KEY (the key itself) takes precedence
    /// [default: DATA_DIR/master.key]
    #[arg(long, env = "NHSMAL_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// TOML file of the FIDO2 authenticators allowed to register (`[[authenticator]]` with
    /// `aaguid`, `description`, `ca_pem`); without it any security key may register
    #[arg(long, env = "NHSMAL_FIDO2_ALLOW_LIST")]
    pub fido2_allow_list: Option<PathBuf>,
    /// Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated); without
    /// them the client address is the TCP peer
    #[arg(long, env = "NHSMAL_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// MaxMind DB file (GeoIP2 or GeoLite2 City or Country) that places client addresses;
    /// without it the new-country and impossible-travel signals are off
    #[arg(long, env = "NHSMAL_GEOIP_DATABASE", value_name = "FILE")]
    pub geoip_database: Option<PathBuf>,
    /// Every audit event as one JSON line appended to this file (`-` for standard output)
    #[arg(long, env = "NHSMAL_SIEM_FILE", value_name = "FILE")]
    pub siem_file: Option<PathBuf>,
    /// Every audit event also as RFC 5424 syslog over TCP to this collector
    #[arg(long, env = "NHSMAL_SIEM_SYSLOG", value_name = "HOST:PORT")]
    pub siem_syslog: Option<String>,
    #[command(flatten)]
    pub providers: ProviderArgs,
}
