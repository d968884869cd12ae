//! Thresholds of the sign-in monitoring (issue 6): each signal's own, in the `[risk]` table of
//! the TOML config file. Every key is optional; the defaults are below.

use serde::Deserialize;

use super::{ConfigError, bad};

/// What a high-risk sign-in meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HighRiskAction {
    /// Only a phishing-resistant or app-bound factor (FIDO2 token, authenticator app) may
    /// finish it; a person with neither is refused.
    #[default]
    StrongMethod,
    /// Refused outright.
    Refuse,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RiskSettings {
    /// How far back "a device / network / country seen before" looks.
    pub look_back_days: i64,
    /// Successful sign-ins needed before "new device/network/country" mean anything: the first
    /// sign-in of an account has nothing to compare with.
    pub learning_sign_ins: usize,
    /// Faster than this between two sign-ins is impossible travel...
    pub travel_kmh: f64,
    /// ...when the places are at least this far apart (GeoIP is coarse).
    pub travel_min_km: f64,
    /// Wrong passwords on one account in the window that make brute force.
    pub brute_force_failures: i64,
    pub brute_force_minutes: i64,
    /// Distinct accounts failing from one source in the window that make a password spray.
    pub spray_accounts: i64,
    pub spray_minutes: i64,
    /// How long a spraying source is refused for every account.
    pub spray_block_minutes: i64,
    /// Failed second factors after a correct password, from a device or network the account
    /// has not used, that say the password is known to someone else.
    pub second_factor_failures: i64,
    /// A correct password whose second step was not finished within this long is abandoned.
    pub abandoned_minutes: i64,
    /// Calls not answered with # (unanswered, or refused) in the window: MFA fatigue.
    pub unanswered_calls: i64,
    /// Texts and calls sent for one account in the window: telephony abuse.
    pub phone_sends: i64,
    pub phone_minutes: i64,
    /// Successful sign-ins needed before "an hour never used" is a signal.
    pub unusual_hour_history: usize,
    pub high_action: HighRiskAction,
    /// Days the sign-in log keeps its rows.
    pub retention_days: i64,
}

impl Default for RiskSettings {
    fn default() -> Self {
        Self {
            look_back_days: 90,
            learning_sign_ins: 1,
            travel_kmh: 900.0,
            travel_min_km: 500.0,
            brute_force_failures: 10,
            brute_force_minutes: 60,
            spray_accounts: 20,
            spray_minutes: 60,
            spray_block_minutes: 60,
            second_factor_failures: 3,
            abandoned_minutes: 10,
            unanswered_calls: 3,
            phone_sends: 8,
            phone_minutes: 60,
            unusual_hour_history: 20,
            high_action: HighRiskAction::StrongMethod,
            retention_days: 90,
        }
    }
}

/// The `[risk]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskFile {
    look_back_days: Option<i64>,
    learning_sign_ins: Option<usize>,
    travel_kmh: Option<f64>,
    travel_min_km: Option<f64>,
    brute_force_failures: Option<i64>,
    brute_force_minutes: Option<i64>,
    spray_accounts: Option<i64>,
    spray_minutes: Option<i64>,
    spray_block_minutes: Option<i64>,
    second_factor_failures: Option<i64>,
    abandoned_minutes: Option<i64>,
    unanswered_calls: Option<i64>,
    phone_sends: Option<i64>,
    phone_minutes: Option<i64>,
    unusual_hour_history: Option<usize>,
    high_action: Option<HighRiskAction>,
}

fn within(setting: &'static str, value: i64, low: i64, high: i64) -> Result<i64, ConfigError> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(bad(setting, format!("must be from {low} to {high}")))
    }
}

impl RiskSettings {
    /// The file's table over the defaults, and the retention from flag, env or file; every
    /// value checked.
    pub fn resolve(
        file: Option<RiskFile>,
        retention_days: Option<i64>,
    ) -> Result<Self, ConfigError> {
        let d = Self::default();
        let f = file.unwrap_or_default();
        let travel_kmh = f.travel_kmh.unwrap_or(d.travel_kmh);
        if !(100.0..=20_000.0).contains(&travel_kmh) {
            return Err(bad("risk.travel_kmh", "must be from 100 to 20000"));
        }
        let travel_min_km = f.travel_min_km.unwrap_or(d.travel_min_km);
        if !(0.0..=20_000.0).contains(&travel_min_km) {
            return Err(bad("risk.travel_min_km", "must be from 0 to 20000"));
        }
        let learning = f.learning_sign_ins.unwrap_or(d.learning_sign_ins);
        let unusual = f.unusual_hour_history.unwrap_or(d.unusual_hour_history);
        within("risk.learning_sign_ins", learning as i64, 0, 1_000)?;
        within("risk.unusual_hour_history", unusual as i64, 1, 10_000)?;
        Ok(Self {
            look_back_days: within(
                "risk.look_back_days",
                f.look_back_days.unwrap_or(d.look_back_days),
                1,
                365,
            )?,
            learning_sign_ins: learning,
            travel_kmh,
            travel_min_km,
            brute_force_failures: within(
                "risk.brute_force_failures",
                f.brute_force_failures.unwrap_or(d.brute_force_failures),
                2,
                10_000,
            )?,
            brute_force_minutes: within(
                "risk.brute_force_minutes",
                f.brute_force_minutes.unwrap_or(d.brute_force_minutes),
                1,
                7 * 24 * 60,
            )?,
            spray_accounts: within(
                "risk.spray_accounts",
                f.spray_accounts.unwrap_or(d.spray_accounts),
                2,
                100_000,
            )?,
            spray_minutes: within(
                "risk.spray_minutes",
                f.spray_minutes.unwrap_or(d.spray_minutes),
                1,
                24 * 60,
            )?,
            spray_block_minutes: within(
                "risk.spray_block_minutes",
                f.spray_block_minutes.unwrap_or(d.spray_block_minutes),
                1,
                7 * 24 * 60,
            )?,
            second_factor_failures: within(
                "risk.second_factor_failures",
                f.second_factor_failures.unwrap_or(d.second_factor_failures),
                1,
                100,
            )?,
            abandoned_minutes: within(
                "risk.abandoned_minutes",
                f.abandoned_minutes.unwrap_or(d.abandoned_minutes),
                1,
                24 * 60,
            )?,
            unanswered_calls: within(
                "risk.unanswered_calls",
                f.unanswered_calls.unwrap_or(d.unanswered_calls),
                1,
                100,
            )?,
            phone_sends: within(
                "risk.phone_sends",
                f.phone_sends.unwrap_or(d.phone_sends),
                1,
                1_000,
            )?,
            phone_minutes: within(
                "risk.phone_minutes",
                f.phone_minutes.unwrap_or(d.phone_minutes),
                1,
                24 * 60,
            )?,
            unusual_hour_history: unusual,
            high_action: f.high_action.unwrap_or(d.high_action),
            retention_days: within(
                "sign_in_log_retention_days",
                retention_days.unwrap_or(d.retention_days),
                1,
                3_650,
            )?,
        })
    }
}
