//! Settings from flags, `NHSMAL_*` environment variables and an optional TOML file, in that
//! order of precedence, validated once at start. A bad value stops start-up with one line
//! that names the setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

mod args;
mod file;
mod risk;
pub use args::{CommonArgs, LogFormat, ProviderArgs, ServeArgs};
pub use risk::RiskFile;

#[cfg(test)]
use crate::notify::Secret;
use crate::notify::{EmailProvider, ProviderSettings, SmsProvider, VoiceProvider};
use crate::siem::{SiemFile, SiemSettings};
use file::read_file_settings;

use domain::limits::SignInLimits;
use domain::password::Argon2Settings;
use domain::risk::RiskSettings;
use domain::sessions::SessionSettings;

#[derive(Debug, thiserror::Error)]
#[error("setting `{setting}`: {problem}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

fn bad(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

/// Everything the server and the admin commands need, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub log_format: LogFormat,
    pub listen: SocketAddr,
    pub public_url: Url,
    pub demo: bool,
    pub argon2: Argon2Settings,
    pub sessions: SessionSettings,
    pub sign_in_limits: SignInLimits,
    pub database_max_connections: u32,
    pub master_key_file: PathBuf,
    pub providers: ProviderSettings,
    /// Reverse proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// FIDO2 authenticators allowed to register; empty means any.
    pub fido2_allowed: Vec<domain::mfa::security_key::AllowedAuthenticator>,
    /// Different kinds of method an administrator proves to reset a forgotten password (1 or 2).
    pub password_reset_admin_methods: usize,
    /// Sign-in monitoring: thresholds, what high risk meets, how long the log keeps.
    pub risk: RiskSettings,
    /// MaxMind DB file that places client addresses; checked at start by opening it.
    pub geoip_database: Option<PathBuf>,
    pub siem: SiemSettings,
}

impl Settings {
    /// Defaults for a data folder: SQLite inside it, loopback on port 8080.
    pub fn with_data_dir(data_dir: &Path) -> Self {
        let listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
        Self {
            data_dir: data_dir.to_path_buf(),
            database_url: sqlite_url(data_dir),
            log_format: LogFormat::Human,
            listen,
            public_url: default_public_url(listen),
            demo: false,
            argon2: Argon2Settings::default(),
            sessions: SessionSettings::default(),
            sign_in_limits: SignInLimits::default(),
            database_max_connections: 16,
            master_key_file: data_dir.join("master.key"),
            fido2_allowed: Vec::new(),
            password_reset_admin_methods: 2,
            risk: RiskSettings::default(),
            trusted_proxies: Vec::new(),
            geoip_database: None,
            siem: SiemSettings::default(),
            providers: ProviderSettings {
                notify_base_url: "https://api.notifications.service.gov.uk".into(),
                twilio_base_url: "https://api.twilio.com".into(),
                smtp_from: "NHSmal <no-reply@nhsmal.example>".into(),
                smtp_timeout_seconds: 10,
                ..ProviderSettings::default()
            },
        }
    }

    /// Cookies get the `__Host-` prefix and `Secure` only on https.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The public URL as a browser writes it in `Origin`: scheme://host[:port], no slash.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    pub fn resolve(common: &CommonArgs, serve: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &common.config {
            Some(path) => read_file_settings(path)?,
            None => file::FileSettings::default(),
        };
        let data_dir = common
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./nhsmal-data"));
        let database_url = match common.database_url.clone().or(file.database_url) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => url,
            Some(url) if url.starts_with("sqlite:") => url,
            Some(_) => {
                return Err(bad(
                    "database_url",
                    "must start with postgres:// (or sqlite:); leave it out for SQLite in the data folder",
                ));
            }
            None => sqlite_url(&data_dir),
        };
        let listen = serve
            .listen
            .or(file.listen)
            .unwrap_or_else(|| ([127, 0, 0, 1], 8080).into());
        let public_url = match serve.public_url.clone().or(file.public_url) {
            Some(text) => parse_public_url(&text)?,
            None => default_public_url(listen),
        };
        let argon2 = Argon2Settings {
            memory_kib: serve
                .argon2_memory_kib
                .or(file.argon2_memory_kib)
                .unwrap_or(19_456),
            iterations: serve
                .argon2_iterations
                .or(file.argon2_iterations)
                .unwrap_or(2),
            parallelism: serve
                .argon2_parallelism
                .or(file.argon2_parallelism)
                .unwrap_or(1),
        };
        at_least("argon2_memory_kib", argon2.memory_kib.into(), 19_456)?;
        at_most(
            "argon2_memory_kib",
            argon2.memory_kib.into(),
            4 * 1024 * 1024,
        )?;
        at_least("argon2_iterations", argon2.iterations.into(), 2)?;
        at_most("argon2_iterations", argon2.iterations.into(), 100)?;
        at_least("argon2_parallelism", argon2.parallelism.into(), 1)?;
        at_most("argon2_parallelism", argon2.parallelism.into(), 64)?;

        let idle_minutes = serve
            .session_idle_minutes
            .or(file.session_idle_minutes)
            .unwrap_or(30);
        let absolute_hours = serve
            .session_absolute_hours
            .or(file.session_absolute_hours)
            .unwrap_or(12);
        // SECURITY-CHECKLIST SE-4: idle at most 1 hour, absolute at most 24 hours.
        at_least("session_idle_minutes", idle_minutes, 1)?;
        at_most("session_idle_minutes", idle_minutes, 60)?;
        at_least("session_absolute_hours", absolute_hours, 1)?;
        at_most("session_absolute_hours", absolute_hours, 24)?;

        let limits = SignInLimits {
            lock_after: serve
                .signin_lock_after
                .or(file.signin_lock_after)
                .unwrap_or(10),
            lock_seconds: serve
                .signin_lock_minutes
                .or(file.signin_lock_minutes)
                .unwrap_or(15)
                * 60,
            ip_max_failures: serve
                .signin_ip_max_failures
                .or(file.signin_ip_max_failures)
                .unwrap_or(50),
            ip_window_seconds: serve
                .signin_ip_window_minutes
                .or(file.signin_ip_window_minutes)
                .unwrap_or(15)
                * 60,
        };
        at_least("signin_lock_after", limits.lock_after, 3)?;
        at_most("signin_lock_after", limits.lock_after, 100)?;
        at_least("signin_lock_minutes", limits.lock_seconds / 60, 1)?;
        at_most("signin_lock_minutes", limits.lock_seconds / 60, 24 * 60)?;
        at_least("signin_ip_max_failures", limits.ip_max_failures, 5)?;
        at_least("signin_ip_window_minutes", limits.ip_window_seconds / 60, 1)?;
        let password_reset_admin_methods = serve
            .password_reset_admin_methods
            .or(file.password_reset_admin_methods)
            .unwrap_or(2);
        if !(1..=2).contains(&password_reset_admin_methods) {
            return Err(bad(
                "password_reset_admin_methods",
                "must be 1 or 2".to_string(),
            ));
        }

        let risk = risk::resolve(
            file.risk,
            serve
                .sign_in_log_retention_days
                .or(file.sign_in_log_retention_days),
        )?;
        let database_max_connections = serve
            .database_max_connections
            .or(file.database_max_connections)
            .unwrap_or(16);
        at_least(
            "database_max_connections",
            database_max_connections.into(),
            2,
        )?;

        let master_key_file = serve
            .master_key_file
            .clone()
            .or(file.master_key_file)
            .unwrap_or_else(|| data_dir.join("master.key"));
        let p = &serve.providers;
        let providers = ProviderSettings {
            sms: p.sms_provider.or(file.sms_provider).unwrap_or_default(),
            voice: p.voice_provider.or(file.voice_provider).unwrap_or_default(),
            email: p.email_provider.or(file.email_provider).unwrap_or_default(),
            notify_api_key: p
                .notify_api_key
                .clone()
                .or(file.notify_api_key)
                .unwrap_or_default(),
            notify_sms_template_id: p
                .notify_sms_template_id
                .clone()
                .or(file.notify_sms_template_id)
                .unwrap_or_default(),
            notify_base_url: p
                .notify_base_url
                .clone()
                .or(file.notify_base_url)
                .unwrap_or_else(|| "https://api.notifications.service.gov.uk".into()),
            twilio_account_sid: p
                .twilio_account_sid
                .clone()
                .or(file.twilio_account_sid)
                .unwrap_or_default(),
            twilio_auth_token: p
                .twilio_auth_token
                .clone()
                .or(file.twilio_auth_token)
                .unwrap_or_default(),
            twilio_from: p
                .twilio_from
                .clone()
                .or(file.twilio_from)
                .unwrap_or_default(),
            twilio_base_url: p
                .twilio_base_url
                .clone()
                .or(file.twilio_base_url)
                .unwrap_or_else(|| "https://api.twilio.com".into()),
            smtp_url: p.smtp_url.clone().or(file.smtp_url).unwrap_or_default(),
            smtp_from: p
                .smtp_from
                .clone()
                .or(file.smtp_from)
                .unwrap_or_else(|| "NHSmal <no-reply@nhsmal.example>".into()),
            smtp_timeout_seconds: p
                .smtp_timeout_seconds
                .or(file.smtp_timeout_seconds)
                .unwrap_or(10),
        };
        let needs = |setting: &'static str, value: &str, because: &str| {
            if value.trim().is_empty() {
                Err(bad(setting, format!("is required when {because}")))
            } else {
                Ok(())
            }
        };
        if providers.sms == SmsProvider::Notify {
            needs(
                "notify_api_key",
                &providers.notify_api_key.0,
                "sms_provider is notify",
            )?;
            needs(
                "notify_sms_template_id",
                &providers.notify_sms_template_id,
                "sms_provider is notify",
            )?;
        }
        if providers.sms == SmsProvider::Twilio || providers.voice == VoiceProvider::Twilio {
            needs(
                "twilio_account_sid",
                &providers.twilio_account_sid,
                "Twilio is a provider",
            )?;
            needs(
                "twilio_auth_token",
                &providers.twilio_auth_token.0,
                "Twilio is a provider",
            )?;
            needs(
                "twilio_from",
                &providers.twilio_from,
                "Twilio is a provider",
            )?;
        }
        if providers.email == EmailProvider::Smtp {
            needs("smtp_url", &providers.smtp_url.0, "email_provider is smtp")?;
        }
        // Checked whenever set, so that a wrong URL is found before the day it is switched on.
        if !providers.smtp_url.0.trim().is_empty() {
            crate::notify::smtp::SmtpEndpoint::parse(&providers.smtp_url.0)
                .map_err(|e| bad("smtp_url", e))?;
        }
        providers
            .smtp_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| {
                bad(
                    "smtp_from",
                    format!("not an email address such as NHSmal <no-reply@nhsmal.net> ({e})"),
                )
            })?;
        at_least(
            "smtp_timeout_seconds",
            providers.smtp_timeout_seconds as i64,
            1,
        )?;
        at_most(
            "smtp_timeout_seconds",
            providers.smtp_timeout_seconds as i64,
            30,
        )?;
        let fido2_allowed = match serve.fido2_allow_list.clone().or(file.fido2_allow_list) {
            None => Vec::new(),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    bad(
                        "fido2_allow_list",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                domain::mfa::security_key::read_allow_list(&text)
                    .map_err(|e| bad("fido2_allow_list", format!("{}: {e}", path.display())))?
            }
        };
        let trusted_proxies = if serve.trusted_proxies.is_empty() {
            file.trusted_proxies.unwrap_or_default()
        } else {
            serve.trusted_proxies.clone()
        };
        let geoip_database = serve.geoip_database.clone().or(file.geoip_database);
        if let Some(path) = &geoip_database {
            // Opened once here so that a wrong file stops start-up, not the first sign-in.
            crate::geo::GeoIpDatabase::open(path)
                .map_err(|e| bad("geoip_database", e.to_string()))?;
        }
        let siem = SiemSettings {
            file: serve
                .siem_file
                .clone()
                .or(file.siem_file)
                .map(|path| check_siem_file(&path))
                .transpose()?,
            syslog: serve
                .siem_syslog
                .clone()
                .or(file.siem_syslog)
                .map(|target| check_siem_syslog(&target))
                .transpose()?,
            ..SiemSettings::default()
        };
        Ok(Self {
            geoip_database,
            siem,
            trusted_proxies,
            fido2_allowed,
            providers,
            master_key_file,
            data_dir,
            database_url,
            log_format: common
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Human),
            listen,
            public_url,
            demo: serve.demo || file.demo.unwrap_or(false),
            argon2,
            sessions: SessionSettings {
                idle_seconds: idle_minutes * 60,
                absolute_seconds: absolute_hours * 3600,
            },
            sign_in_limits: limits,
            database_max_connections,
            password_reset_admin_methods,
            risk,
        })
    }
}

/// `-` is standard output; a file must be one we can append to, or one we can create in an
/// existing folder (it is created at start, not here: admin commands resolve settings too).
fn check_siem_file(path: &Path) -> Result<SiemFile, ConfigError> {
    if path.as_os_str() == "-" {
        return Ok(SiemFile::Stdout);
    }
    let problem = |p: String| bad("siem_file", format!("{}: {p}", path.display()));
    if path.is_dir() {
        return Err(problem("is a folder".into()));
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| problem(format!("cannot append to it ({e})")))?;
    } else {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(problem("its folder does not exist".into()));
        }
    }
    Ok(SiemFile::Path(path.to_path_buf()))
}

/// `HOST:PORT` (an IPv6 address in brackets). The name is not resolved here: a collector that
/// is down or unknown at start is retried, not fatal.
fn check_siem_syslog(target: &str) -> Result<String, ConfigError> {
    let target = target.trim();
    let problem = || {
        bad(
            "siem_syslog",
            format!("{target:?} is not HOST:PORT, such as siem.nhsmal.net:514"),
        )
    };
    let (host, port) = target.rsplit_once(':').ok_or_else(problem)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    if !(port_ok && host_ok) {
        return Err(problem());
    }
    Ok(target.to_string())
}

fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("nhsmal.db").display())
}

fn default_public_url(listen: SocketAddr) -> Url {
    // WebAuthn refuses IP-address origins, so development uses the name localhost.
    Url::parse(&format!("http://localhost:{}", listen.port())).unwrap_or_else(|_| unreachable_url())
}

#[cold]
fn unreachable_url() -> Url {
    // "http://localhost:<u16>" always parses; this keeps the signature free of a panic.
    Url::parse("http://localhost").expect("static URL parses")
}

fn parse_public_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| bad("public_url", format!("not a URL ({e})")))?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "public_url",
            "give only scheme, host and port, such as https://portal.nhsmal.net",
        ));
    }
    // Security keys name the site by its domain (WebAuthn's relying party id) and refuse an
    // address: say so here, not as webauthn-rs's "the configuration was invalid".
    if matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))) {
        return Err(bad(
            "public_url",
            format!(
                "security keys need a host name, not an IP address: use http://localhost:{} on this machine, or the service's domain (https://portal.nhsmal.net)",
                url.port_or_known_default().unwrap_or(80)
            ),
        ));
    }
    let host = url.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host == "[::1]";
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(bad(
            "public_url",
            "must be https unless the host is localhost or a loopback address",
        )),
        other => Err(bad(
            "public_url",
            format!("scheme must be https (got {other})"),
        )),
    }
}

fn at_least(setting: &'static str, value: i64, min: i64) -> Result<(), ConfigError> {
    if value < min {
        return Err(bad(
            setting,
            format!("must be at least {min} (got {value})"),
        ));
    }
    Ok(())
}

fn at_most(setting: &'static str, value: i64, max: i64) -> Result<(), ConfigError> {
    if value > max {
        return Err(bad(setting, format!("must be at most {max} (got {value})")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(serve: ServeArgs) -> Result<Settings, ConfigError> {
        Settings::resolve(&CommonArgs::default(), &serve)
    }

    proptest::proptest! {
        // As many cases as `PROPTEST_CASES` asks (scripts/fuzz), 64 in `cargo test`.
        #![proptest_config(proptest::test_runner::Config::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ))]
        /// Hostile input (issue 18): a config file of any text, or TOML-shaped with any keys
        /// and values, gives settings or one clear line, never a panic.
        #[test]
        fn any_config_file_is_read_or_refused_in_one_line(
            text in ".{0,300}",
            toml in "([a-z_]{1,30} = (\"[^\"\n]{0,40}\"|-?[0-9]{1,12}|true|\\[\\]|\\{\\})\n){0,8}",
        ) {
            let dir = tempfile::tempdir().expect("dir");
            for (i, body) in [text, toml].into_iter().enumerate() {
                let path = dir.path().join(format!("nhsmal-{i}.toml"));
                std::fs::write(&path, &body).expect("write");
                let common = CommonArgs {
                    config: Some(path),
                    data_dir: Some(dir.path().to_path_buf()),
                    ..CommonArgs::default()
                };
                if let Err(e) = Settings::resolve(&common, &ServeArgs::default()) {
                    proptest::prop_assert_eq!(e.to_string().lines().count(), 1, "{}", e);
                }
            }
        }
    }

    #[test]
    fn defaults_are_sqlite_in_the_data_folder_and_localhost() {
        let s = resolve(ServeArgs::default()).expect("defaults are valid");
        assert!(
            s.database_url
                .starts_with("sqlite://./nhsmal-data/nhsmal.db")
        );
        assert_eq!(s.public_url.as_str(), "http://localhost:8080/");
        assert_eq!(s.argon2, Argon2Settings::default());
        assert!(!s.is_https());
    }

    #[test]
    fn weak_argon2_parameters_are_refused_naming_the_setting() {
        let err = resolve(ServeArgs {
            argon2_memory_kib: Some(1024),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting `argon2_memory_kib`: must be at least 19456 (got 1024)"
        );
    }

    #[test]
    fn plain_http_is_refused_for_a_public_host() {
        let err = resolve(ServeArgs {
            public_url: Some("http://portal.nhsmal.net".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.setting, "public_url");
        let ok = resolve(ServeArgs {
            public_url: Some("https://portal.nhsmal.net".into()),
            ..Default::default()
        })
        .expect("https is fine");
        assert!(ok.is_https());
        assert_eq!(ok.public_origin(), "https://portal.nhsmal.net");
    }

    #[test]
    fn sessions_longer_than_the_checklist_allows_are_refused() {
        let err = resolve(ServeArgs {
            session_idle_minutes: Some(61),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.setting, "session_idle_minutes");
    }

    #[test]
    fn smtp_settings_are_checked_at_start_without_printing_the_password() {
        let smtp = |url: &str| ServeArgs {
            providers: ProviderArgs {
                email_provider: Some(EmailProvider::Smtp),
                smtp_url: Some(Secret(url.into())),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = resolve(smtp("http://user:hunter22@relay.nhsmal.net")).unwrap_err();
        assert_eq!(err.setting, "smtp_url");
        assert!(!err.to_string().contains("hunter22"), "{err}");
        let err = resolve(ServeArgs {
            providers: ProviderArgs {
                email_provider: Some(EmailProvider::Smtp),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.setting, "smtp_url");
        let ok = resolve(smtp("smtps://user:hunter22@relay.nhsmal.net")).expect("valid");
        assert_eq!(ok.providers.smtp_timeout_seconds, 10);
        assert!(!format!("{ok:?}").contains("hunter22"));

        let mut args = smtp("smtp://127.0.0.1:2525");
        args.providers.smtp_from = Some("not an address".into());
        assert_eq!(resolve(args).unwrap_err().setting, "smtp_from");
        let mut args = smtp("smtp://127.0.0.1:2525");
        args.providers.smtp_timeout_seconds = Some(0);
        assert_eq!(resolve(args).unwrap_err().setting, "smtp_timeout_seconds");
    }

    #[test]
    fn a_geoip_database_is_opened_at_start_and_a_wrong_file_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = dir.path().join("city.mmdb");
        std::fs::write(
            &good,
            crate::geo::writer::build_database(&[], 0).expect("builds"),
        )
        .expect("write");
        let s = resolve(ServeArgs {
            geoip_database: Some(good.clone()),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(s.geoip_database, Some(good));
        let bad = dir.path().join("notes.txt");
        std::fs::write(&bad, "not a database").expect("write");
        let err = resolve(ServeArgs {
            geoip_database: Some(bad),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.setting, "geoip_database");
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn siem_sinks_are_checked_at_start() {
        let dir = tempfile::tempdir().expect("temp dir");
        let siem = |file: Option<&str>, syslog: Option<&str>| {
            resolve(ServeArgs {
                siem_file: file.map(PathBuf::from),
                siem_syslog: syslog.map(str::to_string),
                ..Default::default()
            })
        };
        let s = siem(None, None).expect("off by default");
        assert!(!s.siem.is_enabled());
        assert_eq!(
            siem(Some("-"), None).expect("stdout").siem.file,
            Some(SiemFile::Stdout)
        );
        let path = dir.path().join("siem.jsonl");
        let s = siem(path.to_str(), Some("siem.nhsmal.net:514")).expect("valid");
        assert_eq!(s.siem.file, Some(SiemFile::Path(path.clone())));
        assert_eq!(s.siem.syslog.as_deref(), Some("siem.nhsmal.net:514"));
        assert!(
            !path.exists(),
            "created when the server starts, not by resolving"
        );
        for target in ["127.0.0.1:601", "[::1]:514"] {
            assert!(siem(None, Some(target)).is_ok(), "{target}");
        }
        for target in [
            "siem.nhsmal.net",
            "siem.nhsmal.net:0",
            ":514",
            "::1:514",
            "a b:514",
        ] {
            assert_eq!(
                siem(None, Some(target)).unwrap_err().setting,
                "siem_syslog",
                "{target}"
            );
        }
        let missing = dir.path().join("absent").join("siem.jsonl");
        assert_eq!(
            siem(missing.to_str(), None).unwrap_err().setting,
            "siem_file"
        );
        assert_eq!(
            siem(dir.path().to_str(), None).unwrap_err().setting,
            "siem_file"
        );
    }

    #[test]
    fn a_config_file_sets_values_and_flags_win_over_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nhsmal.toml");
        std::fs::write(
            &path,
            "session_idle_minutes = 20\nlisten = \"127.0.0.1:9000\"\n",
        )
        .expect("write");
        let common = CommonArgs {
            config: Some(path.clone()),
            ..Default::default()
        };
        let s = Settings::resolve(
            &common,
            &ServeArgs {
                listen: Some("127.0.0.1:9100".parse().expect("addr")),
                ..Default::default()
            },
        )
        .expect("valid");
        assert_eq!(s.sessions.idle_seconds, 20 * 60);
        assert_eq!(s.listen.port(), 9100);

        std::fs::write(&path, "sesion_idle_minutes = 20\n").expect("write");
        let err = Settings::resolve(&common, &ServeArgs::default()).unwrap_err();
        assert_eq!(err.setting, "config");
        assert!(err.to_string().contains("sesion_idle_minutes"), "{err}");
    }
}
