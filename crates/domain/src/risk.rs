//! The risk of a sign-in: small rules ("signals"), each with its own thresholds
//! (`RiskSettings`, below), read the account's and the source's recent sign-in history and
//! combine into a level — none, low, medium or high — that decides what happens next
//! (`domain::monitoring`). Pure functions: the history is read by the caller.

use std::collections::HashSet;

use crate::clock::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::None, Level::Low, Level::Medium, Level::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A browser this account has not completed a sign-in from in the look-back period.
    NewDevice,
    /// An IPv4 /24 or IPv6 /48 not seen for this account in the look-back period.
    NewNetwork,
    /// A country not seen for this account (needs a GeoIP database).
    NewCountry,
    /// Faster than any flight from the last sign-in's place (needs a GeoIP database).
    ImpossibleTravel,
    /// Many wrong passwords for this account.
    BruteForce,
    /// The source is failing against many accounts.
    PasswordSpray,
    /// A correct password followed by failed or abandoned second factors from somewhere the
    /// account has not been: the password is probably known to someone else.
    PasswordKnown,
    /// Calls not answered with #, one after another.
    MfaFatigue,
    /// Many texts and calls for one account.
    TelephonyAbuse,
    /// The person said it was not them: 0# on a call, or "This wasn't me".
    ReportedByPerson,
    /// An hour of the day this account has never signed in at.
    UnusualHour,
}

impl Signal {
    pub const ALL: [Signal; 11] = [
        Signal::NewDevice,
        Signal::NewNetwork,
        Signal::NewCountry,
        Signal::ImpossibleTravel,
        Signal::BruteForce,
        Signal::PasswordSpray,
        Signal::PasswordKnown,
        Signal::MfaFatigue,
        Signal::TelephonyAbuse,
        Signal::ReportedByPerson,
        Signal::UnusualHour,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::NewDevice => "new_device",
            Signal::NewNetwork => "new_network",
            Signal::NewCountry => "new_country",
            Signal::ImpossibleTravel => "impossible_travel",
            Signal::BruteForce => "brute_force",
            Signal::PasswordSpray => "password_spray",
            Signal::PasswordKnown => "password_known",
            Signal::MfaFatigue => "mfa_fatigue",
            Signal::TelephonyAbuse => "telephony_abuse",
            Signal::ReportedByPerson => "reported_by_person",
            Signal::UnusualHour => "unusual_hour",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Why a sign-in was flagged, as the person and administrators read it.
    pub fn describe(self) -> &'static str {
        match self {
            Signal::NewDevice => "a device not used before",
            Signal::NewNetwork => "a network not used before",
            Signal::NewCountry => "a country not signed in from before",
            Signal::ImpossibleTravel => "too far from the last sign-in to have travelled",
            Signal::BruteForce => "many wrong passwords",
            Signal::PasswordSpray => "one source trying many accounts",
            Signal::PasswordKnown => {
                "correct password, then the second step failed or was not finished"
            }
            Signal::MfaFatigue => "calls not answered one after another",
            Signal::TelephonyAbuse => "many texts or calls",
            Signal::ReportedByPerson => "reported as not you",
            Signal::UnusualHour => "an unusual time of day",
        }
    }

    /// Points towards the level: 1–2 low, 3–5 medium, 6 and more high. A new device alone is
    /// low; with a new network too it is medium (the person is emailed); anything that says the
    /// password is in someone else's hands is high on its own.
    fn weight(self) -> u32 {
        match self {
            Signal::UnusualHour | Signal::NewNetwork => 1,
            Signal::NewDevice => 2,
            Signal::NewCountry
            | Signal::BruteForce
            | Signal::MfaFatigue
            | Signal::TelephonyAbuse => 3,
            Signal::ImpossibleTravel
            | Signal::PasswordSpray
            | Signal::PasswordKnown
            | Signal::ReportedByPerson => 6,
        }
    }
}

/// Signals found and the level they make.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assessment {
    pub signals: Vec<Signal>,
    pub level: Level,
}

impl Assessment {
    pub fn of(mut signals: Vec<Signal>) -> Self {
        signals.dedup();
        let score: u32 = signals.iter().map(|s| s.weight()).sum();
        let level = match score {
            0 => Level::None,
            1..=2 => Level::Low,
            3..=5 => Level::Medium,
            _ => Level::High,
        };
        Self { signals, level }
    }

    /// Space-separated names, as stored.
    pub fn signal_names(&self) -> String {
        names(&self.signals)
    }

    pub fn with(&self, more: &[Signal]) -> Self {
        let mut signals = self.signals.clone();
        for s in more {
            if !signals.contains(s) {
                signals.push(*s);
            }
        }
        Self::of(signals)
    }
}

pub fn names(signals: &[Signal]) -> String {
    signals
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses stored names, skipping any this version does not know.
pub fn parse_names(text: &str) -> Vec<Signal> {
    text.split_whitespace().filter_map(Signal::parse).collect()
}

/// Roughly where a client is, from a GeoIP database.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// "Leeds, GB" or "GB": what pages and emails show.
    pub place: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// What the risk rules know about one attempt.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub at: UnixTime,
    pub network: &'a str,
    /// Keyed hash of the browser's device cookie; None for a browser without one.
    pub device: Option<&'a str>,
    pub location: Option<&'a Location>,
}

/// One earlier row of the account's sign-in log, as the rules need it.
#[derive(Debug, Clone)]
pub struct PastSignIn {
    pub at: UnixTime,
    pub step: String,
    pub outcome: String,
    pub device: Option<String>,
    pub network: String,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl PastSignIn {
    /// A finished sign-in (every step passed).
    fn signed_in(&self) -> bool {
        self.outcome == "success"
    }
}

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Kinds of what an account has finished sign-ins from, as the summary stores them.
pub const DEVICE: &str = "device";
pub const NETWORK: &str = "network";
pub const COUNTRY: &str = "country";
/// Hour of the day (0–23, UTC).
pub const HOUR_OF_DAY: &str = "hour";
/// Day number since 1970: its row counts the finished sign-ins of that day.
pub const DAY_NUMBER: &str = "day";
/// The last finished sign-in with a place (value empty; latitude and longitude on the row).
pub const PLACE: &str = "place";

fn hour_of(t: UnixTime) -> i64 {
    t.rem_euclid(DAY) / HOUR
}

/// The summary rows (kind, value) a finished sign-in touches, the place aside.
pub fn familiar_values(
    at: UnixTime,
    device: Option<&str>,
    network: &str,
    country: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut values = vec![];
    if let Some(d) = device {
        values.push((DEVICE, d.to_string()));
    }
    values.push((NETWORK, network.to_string()));
    if let Some(c) = country {
        values.push((COUNTRY, c.to_string()));
    }
    values.push((HOUR_OF_DAY, hour_of(at).to_string()));
    values.push((DAY_NUMBER, at.div_euclid(DAY).to_string()));
    values
}

/// One row of the summary, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct FamiliarRow {
    pub kind: String,
    pub value: String,
    pub last_at: UnixTime,
    /// Finished sign-ins counted on the row (day rows).
    pub sign_ins: i64,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Where the last finished sign-in with a place was.
#[derive(Debug, Clone, PartialEq)]
pub struct LastPlace {
    pub at: UnixTime,
    pub latitude: f64,
    pub longitude: f64,
}

/// What the account has finished sign-ins from within the look-back: all the rules need of
/// its older history, read from a summary of a few small rows (kept up to date as sign-ins
/// finish) instead of hundreds of rows of the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Familiar {
    pub devices: HashSet<String>,
    pub networks: HashSet<String>,
    pub countries: HashSet<String>,
    pub hours: HashSet<i64>,
    /// Finished sign-ins in the look-back (counted by day, so a day at its edge counts whole).
    pub sign_ins: usize,
    pub last_place: Option<LastPlace>,
}

impl Familiar {
    /// From the summary's rows: those last seen before `since` are forgotten.
    pub fn from_rows(rows: &[FamiliarRow], since: UnixTime) -> Self {
        let mut f = Familiar::default();
        for r in rows.iter().filter(|r| r.last_at >= since) {
            match r.kind.as_str() {
                DEVICE => {
                    f.devices.insert(r.value.clone());
                }
                NETWORK => {
                    f.networks.insert(r.value.clone());
                }
                COUNTRY => {
                    f.countries.insert(r.value.clone());
                }
                HOUR_OF_DAY => {
                    if let Ok(h) = r.value.parse() {
                        f.hours.insert(h);
                    }
                }
                DAY_NUMBER => f.sign_ins += usize::try_from(r.sign_ins).unwrap_or(0),
                PLACE => {
                    if let (Some(latitude), Some(longitude)) = (r.latitude, r.longitude) {
                        f.last_place = Some(LastPlace {
                            at: r.last_at,
                            latitude,
                            longitude,
                        });
                    }
                }
                _ => {}
            }
        }
        f
    }

    /// The same from raw rows of the log: what the summary stands for (tests compare the two).
    pub fn from_history(at: UnixTime, history: &[PastSignIn], look_back_days: i64) -> Self {
        let since = at - look_back_days * DAY;
        let mut f = Familiar::default();
        for p in history
            .iter()
            .filter(|p| p.signed_in() && p.at >= since && p.at <= at)
        {
            if let Some(d) = &p.device {
                f.devices.insert(d.clone());
            }
            f.networks.insert(p.network.clone());
            if let Some(c) = &p.country {
                f.countries.insert(c.clone());
            }
            f.hours.insert(hour_of(p.at));
            f.sign_ins += 1;
            if let (Some(latitude), Some(longitude)) = (p.latitude, p.longitude)
                && f.last_place.as_ref().is_none_or(|l| l.at < p.at)
            {
                f.last_place = Some(LastPlace {
                    at: p.at,
                    latitude,
                    longitude,
                });
            }
        }
        f
    }

    fn knows_device(&self, device: Option<&str>) -> bool {
        device.is_some_and(|d| self.devices.contains(d))
    }
}

/// The signals of a correct password (or a remembered device) against what the account has
/// signed in from (`familiar`) and its recent rows (`recent`: the last day at least, newest
/// first or in any order).
pub fn assess_sign_in(
    attempt: &Attempt<'_>,
    familiar: &Familiar,
    recent: &[PastSignIn],
    settings: &RiskSettings,
) -> Assessment {
    let mut signals = vec![];
    let device_known = familiar.knows_device(attempt.device);
    // Nothing to compare with before the account has signed in a few times.
    if familiar.sign_ins >= settings.learning_sign_ins.max(1) {
        if !device_known {
            signals.push(Signal::NewDevice);
        }
        if !familiar.networks.contains(attempt.network) {
            signals.push(Signal::NewNetwork);
        }
        if let Some(here) = attempt.location {
            if !familiar.countries.is_empty() && !familiar.countries.contains(&here.country) {
                signals.push(Signal::NewCountry);
            }
            if impossible_travel(attempt, familiar, settings) {
                signals.push(Signal::ImpossibleTravel);
            }
        }
        if familiar.sign_ins >= settings.unusual_hour_history
            && !familiar.hours.contains(&hour_of(attempt.at))
        {
            signals.push(Signal::UnusualHour);
        }
    }
    if brute_force(attempt.at, recent, settings) {
        signals.push(Signal::BruteForce);
    }
    if password_known(attempt.at, recent, familiar, settings) {
        signals.push(Signal::PasswordKnown);
    }
    // After the person said a sign-in was not theirs, a sign-in from a browser they have not
    // used is suspect; from their own it is them.
    if !device_known
        && recent
            .iter()
            .any(|p| p.outcome == "reported" && p.at >= attempt.at - DAY && p.at <= attempt.at)
    {
        signals.push(Signal::ReportedByPerson);
    }
    Assessment::of(signals)
}

/// The last finished sign-in with a place, and this one, too far apart for the time between.
fn impossible_travel(attempt: &Attempt<'_>, familiar: &Familiar, settings: &RiskSettings) -> bool {
    let Some(here) = attempt.location else {
        return false;
    };
    let (Some(lat), Some(lon)) = (here.latitude, here.longitude) else {
        return false;
    };
    let Some(last) = &familiar.last_place else {
        return false;
    };
    let km = distance_km(lat, lon, last.latitude, last.longitude);
    if km < settings.travel_min_km {
        return false;
    }
    let hours = ((attempt.at - last.at).max(1) as f64) / HOUR as f64;
    km / hours > settings.travel_kmh
}

/// Great-circle distance (haversine, mean Earth radius).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    // min: rounding can push `a` a hair above 1 for antipodal points, and asin(>1) is NaN.
    2.0 * 6_371.0 * a.sqrt().min(1.0).asin()
}

/// Wrong passwords for the account within the window.
pub fn brute_force(at: UnixTime, history: &[PastSignIn], settings: &RiskSettings) -> bool {
    let since = at - settings.brute_force_minutes * 60;
    let failures = history
        .iter()
        .filter(|p| p.step == "password" && p.outcome == "failure" && p.at >= since && p.at <= at)
        .count() as i64;
    failures >= settings.brute_force_failures
}

/// In the last day, from a device and network the account had not used: a correct password
/// whose second step failed repeatedly, or was never finished.
fn password_known(
    at: UnixTime,
    history: &[PastSignIn],
    familiar: &Familiar,
    settings: &RiskSettings,
) -> bool {
    let since = at - DAY;
    let stranger = |p: &PastSignIn| {
        let device_known = familiar.knows_device(p.device.as_deref());
        let network_known = familiar.networks.contains(&p.network);
        // Every finished sign-in leaves its network: none means nothing to compare with.
        !device_known && !network_known && !familiar.networks.is_empty()
    };
    let recent: Vec<&PastSignIn> = history
        .iter()
        .filter(|p| p.at >= since && p.at <= at)
        .collect();
    let failed = recent
        .iter()
        .filter(|p| p.step == "second_factor" && p.outcome == "failure" && stranger(p))
        .count() as i64;
    if failed >= settings.second_factor_failures {
        return true;
    }
    let window = settings.abandoned_minutes * 60;
    recent.iter().any(|p| {
        p.step == "password"
            && p.outcome == "passed"
            && p.at + window <= at
            && stranger(p)
            && !recent.iter().any(|q| {
                q.signed_in() && q.at >= p.at && q.at <= p.at + window && q.device == p.device
            })
    })
}

/// Failed second factors from a stranger's device after a correct password, counted so far
/// in this day (the current failure included in `recent`).
pub fn second_factor_failures_say_password_known(
    at: UnixTime,
    familiar: &Familiar,
    recent: &[PastSignIn],
    settings: &RiskSettings,
) -> bool {
    password_known(at, recent, familiar, settings)
}

/// Calls not answered with # in the window (calls placed minus calls approved), and texts
/// and calls sent.
pub fn phone_signals(at: UnixTime, history: &[PastSignIn], settings: &RiskSettings) -> Vec<Signal> {
    let since = at - settings.phone_minutes * 60;
    let recent = history
        .iter()
        .filter(|p| p.step == "second_factor" && p.at >= since && p.at <= at);
    let (mut calls, mut answered, mut sends) = (0i64, 0i64, 0i64);
    for p in recent {
        match p.outcome.as_str() {
            "call_placed" => {
                calls += 1;
                sends += 1;
            }
            "text_sent" => sends += 1,
            "call_answered" => answered += 1,
            _ => {}
        }
    }
    let mut signals = vec![];
    if calls - answered >= settings.unanswered_calls {
        signals.push(Signal::MfaFatigue);
    }
    if sends >= settings.phone_sends {
        signals.push(Signal::TelephonyAbuse);
    }
    signals
}

/// What a high-risk sign-in meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
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
    /// How long push notifications to a person stop after `push::FATIGUE_LIMIT` went
    /// unanswered or were denied within 10 minutes (MFA fatigue).
    pub push_suspend_minutes: i64,
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
            push_suspend_minutes: 30,
            phone_sends: 8,
            phone_minutes: 60,
            unusual_hour_history: 20,
            high_action: HighRiskAction::StrongMethod,
            retention_days: 90,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000;

    fn past(at: i64, outcome: &str, device: &str, network: &str) -> PastSignIn {
        PastSignIn {
            at,
            step: if outcome == "success" {
                "second_factor".into()
            } else {
                "password".into()
            },
            outcome: outcome.into(),
            device: Some(device.into()),
            network: network.into(),
            country: None,
            latitude: None,
            longitude: None,
        }
    }

    fn attempt<'a>(device: &'a str, network: &'a str) -> Attempt<'a> {
        Attempt {
            at: T,
            network,
            device: Some(device),
            location: None,
        }
    }

    fn settings() -> RiskSettings {
        RiskSettings::default()
    }

    /// The rules over raw rows: the summary made from them, and the rows as the recent ones.
    fn assess(attempt: &Attempt<'_>, history: &[PastSignIn]) -> Assessment {
        let s = settings();
        let familiar = Familiar::from_history(attempt.at, history, s.look_back_days);
        assess_sign_in(attempt, &familiar, history, &s)
    }

    #[test]
    fn a_routine_sign_in_from_a_known_device_and_network_raises_nothing() {
        let history = vec![past(T - DAY, "success", "d1", "192.0.2.0/24")];
        let a = assess(&attempt("d1", "192.0.2.0/24"), &history);
        assert_eq!(a, Assessment::default());
    }

    #[test]
    fn the_first_sign_in_of_an_account_has_nothing_to_compare_with() {
        let a = assess(&attempt("d1", "192.0.2.0/24"), &[]);
        assert_eq!(a.level, Level::None);
    }

    #[test]
    fn a_new_device_is_low_and_with_a_new_network_medium() {
        let history = vec![past(T - DAY, "success", "d1", "192.0.2.0/24")];
        let a = assess(&attempt("d2", "192.0.2.0/24"), &history);
        assert_eq!(
            (a.signals.clone(), a.level),
            (vec![Signal::NewDevice], Level::Low)
        );
        let a = assess(&attempt("d2", "198.51.100.0/24"), &history);
        assert_eq!(a.signals, vec![Signal::NewDevice, Signal::NewNetwork]);
        assert_eq!(a.level, Level::Medium);
    }

    #[test]
    fn what_was_seen_before_the_look_back_is_forgotten() {
        let history = vec![past(T - 91 * DAY, "success", "d1", "192.0.2.0/24")];
        let a = assess(&attempt("d1", "192.0.2.0/24"), &history);
        assert_eq!(
            a.level,
            Level::None,
            "nothing to compare with: learning again"
        );
        let history = vec![
            past(T - 91 * DAY, "success", "d1", "192.0.2.0/24"),
            past(T - DAY, "success", "d2", "198.51.100.0/24"),
        ];
        let a = assess(&attempt("d1", "192.0.2.0/24"), &history);
        assert_eq!(a.signals, vec![Signal::NewDevice, Signal::NewNetwork]);
    }

    #[test]
    fn ten_wrong_passwords_in_an_hour_are_brute_force() {
        let mut history: Vec<PastSignIn> = (0..9)
            .map(|i| past(T - 60 * i, "failure", "x", "203.0.113.0/24"))
            .collect();
        assert!(!brute_force(T, &history, &settings()));
        history.push(past(T - 600, "failure", "x", "203.0.113.0/24"));
        assert!(brute_force(T, &history, &settings()));
        assert!(
            !brute_force(T + 2 * HOUR, &history, &settings()),
            "the window passes"
        );
    }

    #[test]
    fn failed_second_factors_from_a_stranger_say_the_password_is_known() {
        let mut history = vec![past(T - DAY, "success", "d1", "192.0.2.0/24")];
        for i in 0..3 {
            let mut p = past(T - 10 * i, "failure", "evil", "203.0.113.0/24");
            p.step = "second_factor".into();
            history.push(p);
        }
        assert!(second_factor_failures_say_password_known(
            T,
            &Familiar::from_history(T, &history, 90),
            &history,
            &settings()
        ));
        // The same failures from the person's own device are the person mistyping.
        for p in history.iter_mut().skip(1) {
            p.device = Some("d1".into());
            p.network = "192.0.2.0/24".into();
        }
        assert!(!second_factor_failures_say_password_known(
            T,
            &Familiar::from_history(T, &history, 90),
            &history,
            &settings()
        ));
    }

    #[test]
    fn an_abandoned_second_step_from_a_stranger_is_high_at_the_next_sign_in() {
        let history = vec![
            past(T - DAY, "success", "d1", "192.0.2.0/24"),
            past(T - HOUR, "passed", "evil", "203.0.113.0/24"),
        ];
        let a = assess(&attempt("d1", "192.0.2.0/24"), &history);
        assert_eq!(a.signals, vec![Signal::PasswordKnown]);
        assert_eq!(a.level, Level::High);
        // Finished within the window: it was the person.
        let mut finished = history.clone();
        finished.push(past(T - HOUR + 30, "success", "evil", "203.0.113.0/24"));
        let a = assess(&attempt("d1", "192.0.2.0/24"), &finished);
        assert!(!a.signals.contains(&Signal::PasswordKnown));
    }

    #[test]
    fn travel_faster_than_a_plane_is_impossible() {
        let london = Location {
            country: "GB".into(),
            place: "London, GB".into(),
            latitude: Some(51.5),
            longitude: Some(-0.12),
        };
        let sydney = Location {
            country: "AU".into(),
            place: "Sydney, AU".into(),
            latitude: Some(-33.87),
            longitude: Some(151.21),
        };
        let mut before = past(T - HOUR, "success", "d1", "192.0.2.0/24");
        before.country = Some("GB".into());
        before.latitude = london.latitude;
        before.longitude = london.longitude;
        let history = vec![before];
        let a = Attempt {
            at: T,
            network: "192.0.2.0/24",
            device: Some("d1"),
            location: Some(&sydney),
        };
        let found = assess(&a, &history);
        assert!(found.signals.contains(&Signal::ImpossibleTravel));
        assert!(found.signals.contains(&Signal::NewCountry));
        assert_eq!(found.level, Level::High);
        // A day later the same journey is possible.
        let a = Attempt {
            at: T + 2 * DAY,
            ..a
        };
        let found = assess(&a, &history);
        assert!(!found.signals.contains(&Signal::ImpossibleTravel));
        let km = distance_km(51.5074, -0.1278, -33.8688, 151.2093);
        assert!((km - 16_990.0).abs() < 60.0, "{km}");
    }

    #[test]
    fn an_hour_never_used_is_low_once_there_is_enough_history() {
        let history: Vec<PastSignIn> = (1..=20)
            .map(|d| past(T - d * DAY - 6 * HOUR, "success", "d1", "192.0.2.0/24"))
            .collect();
        let a = assess(&attempt("d1", "192.0.2.0/24"), &history);
        assert_eq!(a.signals, vec![Signal::UnusualHour]);
        assert_eq!(a.level, Level::Low);
    }

    #[test]
    fn unanswered_calls_are_fatigue_and_many_sends_are_abuse() {
        let mut history = vec![];
        for i in 0..3 {
            let mut p = past(T - 60 * i, "call_placed", "x", "n");
            p.step = "second_factor".into();
            history.push(p);
        }
        assert_eq!(
            phone_signals(T, &history, &settings()),
            vec![Signal::MfaFatigue]
        );
        let mut answered = past(T - 10, "call_answered", "x", "n");
        answered.step = "second_factor".into();
        history.push(answered);
        assert!(phone_signals(T, &history, &settings()).is_empty());
        for i in 0..5 {
            let mut p = past(T - 5 * i, "text_sent", "x", "n");
            p.step = "second_factor".into();
            history.push(p);
        }
        assert_eq!(
            phone_signals(T, &history, &settings()),
            vec![Signal::TelephonyAbuse]
        );
    }

    /// The summary as the store keeps it: each finished sign-in, in order, upserts its rows.
    fn summarise(history: &[PastSignIn]) -> Vec<FamiliarRow> {
        let mut rows: Vec<FamiliarRow> = vec![];
        let mut finished: Vec<&PastSignIn> = history.iter().filter(|p| p.signed_in()).collect();
        finished.sort_by_key(|p| p.at);
        for p in finished {
            let mut touched =
                familiar_values(p.at, p.device.as_deref(), &p.network, p.country.as_deref());
            if p.latitude.is_some() && p.longitude.is_some() {
                touched.push((PLACE, String::new()));
            }
            for (kind, value) in touched {
                match rows.iter_mut().find(|r| r.kind == kind && r.value == value) {
                    Some(r) => {
                        r.last_at = p.at;
                        r.sign_ins += 1;
                        if kind == PLACE {
                            (r.latitude, r.longitude) = (p.latitude, p.longitude);
                        }
                    }
                    None => rows.push(FamiliarRow {
                        kind: kind.into(),
                        value,
                        last_at: p.at,
                        sign_ins: 1,
                        latitude: if kind == PLACE { p.latitude } else { None },
                        longitude: if kind == PLACE { p.longitude } else { None },
                    }),
                }
            }
        }
        rows
    }

    #[test]
    fn the_summary_gives_the_same_answers_as_the_raw_history() {
        let mut history = vec![
            past(T - 100 * DAY, "success", "old", "10.0.0.0/24"),
            past(T - 3 * HOUR, "failure", "evil", "203.0.113.0/24"),
            past(T - 2 * HOUR, "passed", "evil", "203.0.113.0/24"),
        ];
        for d in 1..=30 {
            let mut p = past(
                T - d * DAY - (d % 3) * HOUR,
                "success",
                if d % 2 == 0 { "d1" } else { "d2" },
                if d % 5 == 0 {
                    "198.51.100.0/24"
                } else {
                    "192.0.2.0/24"
                },
            );
            p.country = Some(if d == 7 { "FR" } else { "GB" }.into());
            if d % 4 == 0 {
                (p.latitude, p.longitude) = (Some(51.5), Some(-0.12 - d as f64));
            }
            history.push(p);
        }
        let s = settings();
        let since = T - s.look_back_days * DAY;
        let summary = Familiar::from_rows(&summarise(&history), since);
        let raw = Familiar::from_history(T, &history, s.look_back_days);
        assert_eq!(summary, raw);
        assert_eq!(summary.sign_ins, 30);
        assert!(
            !summary.devices.contains("old"),
            "forgotten after the look-back"
        );
        assert_eq!(
            summary.last_place.as_ref().map(|l| l.at),
            Some(T - 4 * DAY - HOUR)
        );
        let sydney = Location {
            country: "AU".into(),
            place: "Sydney, AU".into(),
            latitude: Some(-33.87),
            longitude: Some(151.21),
        };
        for (device, network, location, at) in [
            ("d1", "192.0.2.0/24", None, T),
            ("d3", "192.0.2.0/24", None, T),
            ("d3", "203.0.113.0/24", Some(&sydney), T),
            ("old", "10.0.0.0/24", None, T + 5 * HOUR),
        ] {
            let a = Attempt {
                at,
                network,
                device: Some(device),
                location,
            };
            assert_eq!(
                assess_sign_in(&a, &summary, &history, &s),
                assess(&a, &history),
                "{device} {network}"
            );
        }
    }

    #[test]
    fn signals_are_stored_as_names_and_read_back() {
        let a = Assessment::of(vec![Signal::NewDevice, Signal::PasswordSpray]);
        assert_eq!(a.signal_names(), "new_device password_spray");
        assert_eq!(parse_names("new_device password_spray unknown"), a.signals);
        assert_eq!(a.level, Level::High);
    }
}
