//! The optional TOML config file, as written: every key optional, unknown keys refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, LogFormat, RiskFile, bad};
use crate::notify::{EmailProvider, Secret, SmsProvider, VoiceProvider};

/// The optional TOML file: the same settings, unknown keys refused so that a typo is noticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSettings {
    pub(super) data_dir: Option<PathBuf>,
    pub(super) database_url: Option<String>,
    pub(super) log_format: Option<LogFormat>,
    pub(super) listen: Option<SocketAddr>,
    pub(super) public_url: Option<String>,
    pub(super) demo: Option<bool>,
    pub(super) argon2_memory_kib: Option<u32>,
    pub(super) argon2_iterations: Option<u32>,
    pub(super) argon2_parallelism: Option<u32>,
    pub(super) session_idle_minutes: Option<i64>,
    pub(super) session_absolute_hours: Option<i64>,
    pub(super) signin_lock_after: Option<i64>,
    pub(super) signin_lock_minutes: Option<i64>,
    pub(super) signin_ip_max_failures: Option<i64>,
    pub(super) signin_ip_window_minutes: Option<i64>,
    pub(super) password_reset_admin_methods: Option<usize>,
    pub(super) database_max_connections: Option<u32>,
    pub(super) master_key_file: Option<PathBuf>,
    pub(super) fido2_allow_list: Option<PathBuf>,
    pub(super) trusted_proxies: Option<Vec<std::net::IpAddr>>,
    pub(super) geoip_database: Option<PathBuf>,
    pub(super) siem_file: Option<PathBuf>,
    pub(super) siem_syslog: Option<String>,
    pub(super) sms_provider: Option<SmsProvider>,
    pub(super) voice_provider: Option<VoiceProvider>,
    pub(super) email_provider: Option<EmailProvider>,
    pub(super) notify_api_key: Option<Secret>,
    pub(super) notify_sms_template_id: Option<String>,
    pub(super) notify_base_url: Option<String>,
    pub(super) twilio_account_sid: Option<String>,
    pub(super) twilio_auth_token: Option<Secret>,
    pub(super) twilio_from: Option<String>,
    pub(super) twilio_base_url: Option<String>,
    pub(super) smtp_url: Option<Secret>,
    pub(super) smtp_from: Option<String>,
    pub(super) smtp_timeout_seconds: Option<u64>,
    pub(super) sign_in_log_retention_days: Option<i64>,
    pub(super) risk: Option<RiskFile>,
}

pub(super) fn read_file_settings(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad("config", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        // toml's message spans several lines; one line is what an operator reads.
        let first = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_string();
        bad("config", format!("{}: {first}", path.display()))
    })
}
