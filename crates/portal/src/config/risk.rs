//! Thresholds of the sign-in monitoring (issue 6): each signal's own, in the `[risk]` table of
//! the TOML config file. Every key is optional; the defaults are below.

use serde::Deserialize;

use domain::risk::{HighRiskAction, RiskSettings};

use super::{ConfigError, bad};

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
    push_suspend_minutes: Option<i64>,
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

/// The file's table over the defaults, and the retention from flag, env or file; every
/// value checked.
pub fn resolve(
    file: Option<RiskFile>,
    retention_days: Option<i64>,
) -> Result<RiskSettings, ConfigError> {
    let d = RiskSettings::default();
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
    Ok(RiskSettings {
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
        push_suspend_minutes: within(
            "risk.push_suspend_minutes",
            f.push_suspend_minutes.unwrap_or(d.push_suspend_minutes),
            1,
            24 * 60,
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
