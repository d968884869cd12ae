//! The enrolment report: how many accounts have multi-factor authentication, nationally or in
//! one organisation, by method, and week by week against the rollout date.
//!
//! What is counted (docs/DECISIONS.md, "Reporting"):
//! - accounts: active accounts only; disabled ones are left out of every figure and counted
//!   on their own (`disabled`);
//! - enrolled: an active account with at least one current method of any kind (a method the
//!   policy no longer allows still counts: the account has MFA, just not an allowed kind);
//! - by method: active accounts with at least one method of that kind (one account can count
//!   under several kinds);
//! - progress: active enrolled accounts by the week of their earliest current method (weeks
//!   start on Monday 00:00 UTC), cumulated.

use std::future::Future;

use serde_json::json;

use super::StorageError;
use super::admin::AdminScope;
use super::methods::MethodKind;
use super::organisations::{OrgCode, OrganisationRecords};
use super::policy::{self, NATIONAL, PolicyRecords};
use crate::clock::UnixTime;

pub const WEEK: i64 = 7 * 86_400;
/// Monday 5 January 1970, 00:00 UTC: weeks are counted from here.
pub const FIRST_MONDAY: UnixTime = 4 * 86_400;

/// The Monday 00:00 UTC starting the week that contains `t`.
pub fn week_start(t: UnixTime) -> UnixTime {
    FIRST_MONDAY + (t - FIRST_MONDAY).div_euclid(WEEK) * WEEK
}

/// Account counts of one organisation, as the store adds them up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganisationCounts {
    pub code: String,
    /// Active accounts.
    pub active: i64,
    pub disabled: i64,
    /// Active accounts with at least one method.
    pub enrolled: i64,
    /// Active accounts with at least one method of each kind, in `MethodKind::ALL` order.
    pub with_kind: [i64; 5],
}

pub trait ReportRecords {
    /// Counts per organisation that has accounts: every one, or only `org`.
    fn enrolment_counts(
        &self,
        org: Option<&str>,
    ) -> impl Future<Output = Result<Vec<OrganisationCounts>, StorageError>> + Send;
    /// Active accounts by the week (as `week_start`) of their earliest current method, in
    /// any order.
    fn enrolments_by_week(
        &self,
        org: Option<&str>,
    ) -> impl Future<Output = Result<Vec<(UnixTime, i64)>, StorageError>> + Send;
    /// Codes and names of every organisation, or only `org`.
    fn organisation_names(
        &self,
        org: Option<&str>,
    ) -> impl Future<Output = Result<Vec<(String, String)>, StorageError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no organisation with code {0}")]
    UnknownOrganisation(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Accounts and how many of them are enrolled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub accounts: i64,
    pub enrolled: i64,
}

impl Figures {
    pub fn not_enrolled(self) -> i64 {
        self.accounts - self.enrolled
    }

    /// Enrolled as a percentage of accounts; `None` when there are no accounts.
    pub fn share(self) -> Option<f64> {
        percent(self.enrolled, self.accounts)
    }
}

/// `part` as a percentage of `whole` to one decimal place, never rounded up to 100 nor down
/// to 0 when it is not (99.96 % reads 99.9 %, not "everyone").
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    if whole <= 0 {
        return None;
    }
    let exact = part as f64 * 100.0 / whole as f64;
    let rounded = (exact * 10.0).round() / 10.0;
    Some(if part < whole && rounded >= 100.0 {
        99.9
    } else if part > 0 && rounded <= 0.0 {
        0.1
    } else {
        rounded
    })
}

/// 1500000 → "1,500,000".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A percentage as a page or a table shows it: "70.1%", or "–" for no accounts.
pub fn percent_text(share: Option<f64>) -> String {
    share.map_or_else(|| "–".into(), |s| format!("{s:.1}%"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrganisationFigure {
    pub code: String,
    pub name: String,
    pub figures: Figures,
    pub disabled: i64,
    /// People on a live rollout exception (issue 24).
    pub on_exception: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MethodFigure {
    pub kind: MethodKind,
    /// Active accounts with at least one method of this kind.
    pub accounts: i64,
    /// As a percentage of all active accounts.
    pub share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WeekFigure {
    /// Monday 00:00 UTC.
    pub starts: UnixTime,
    /// Accounts whose earliest current method was added this week.
    pub newly_enrolled: i64,
    /// Accounts enrolled by the end of this week.
    pub enrolled: i64,
    /// `enrolled` as a percentage of today's active accounts.
    pub share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnrolmentReport {
    pub scope: AdminScope,
    /// The organisation's name when the scope is one organisation.
    pub organisation_name: Option<String>,
    pub generated_at: UnixTime,
    /// The rollout date: the national one, or the organisation's own when it has one.
    pub required_from: Option<UnixTime>,
    pub totals: Figures,
    /// Disabled accounts: not in any other figure.
    pub disabled: i64,
    /// People on a live rollout exception (issue 24).
    pub on_exception: i64,
    pub by_method: Vec<MethodFigure>,
    /// Every organisation, by code (national scope only).
    pub organisations: Vec<OrganisationFigure>,
    /// From the first week anyone enrolled to the week of `generated_at`, with no gaps.
    pub weeks: Vec<WeekFigure>,
}

/// Builds the report for `scope` as it stands at `now`.
pub async fn enrolment_report<R>(
    records: &R,
    scope: &AdminScope,
    now: UnixTime,
) -> Result<EnrolmentReport, ReportError>
where
    R: ReportRecords
        + PolicyRecords
        + OrganisationRecords
        + crate::exceptions::ExceptionRecords
        + Sync,
{
    let org = match scope {
        AdminScope::National => None,
        AdminScope::Organisation(code) => {
            let parsed =
                OrgCode::parse(code).map_err(|_| ReportError::UnknownOrganisation(code.clone()))?;
            Some(parsed.as_str().to_string())
        }
    };
    let org = org.as_deref();
    // The two big aggregates run side by side, each on its own connection.
    let (counts, weeks, names, excepted) = tokio::try_join!(
        records.enrolment_counts(org),
        records.enrolments_by_week(org),
        records.organisation_names(org),
        records.exceptions_by_organisation(now),
    )?;
    let organisation_name = match org {
        Some(code) => Some(
            names
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, name)| name.clone())
                .ok_or_else(|| ReportError::UnknownOrganisation(code.to_string()))?,
        ),
        None => None,
    };
    let required_from = policy::policy_for(records, org.unwrap_or(NATIONAL))
        .await?
        .required_from;
    let mut report = shape(counts, weeks, names, now);
    for o in &mut report.organisations {
        o.on_exception = excepted
            .iter()
            .find(|(code, _)| *code == o.code)
            .map_or(0, |(_, n)| *n);
    }
    report.on_exception = excepted
        .iter()
        .filter(|(code, _)| org.is_none_or(|o| o == code))
        .map(|(_, n)| n)
        .sum();
    report.scope = match org {
        Some(code) => AdminScope::Organisation(code.to_string()),
        None => AdminScope::National,
    };
    if org.is_some() {
        report.organisations.clear();
    }
    report.organisation_name = organisation_name;
    report.required_from = required_from;
    Ok(report)
}

/// The report's figures from the store's counts (pure, so it is tested without a database).
fn shape(
    counts: Vec<OrganisationCounts>,
    weeks: Vec<(UnixTime, i64)>,
    names: Vec<(String, String)>,
    now: UnixTime,
) -> EnrolmentReport {
    let mut totals = Figures::default();
    let mut disabled = 0;
    let mut with_kind = [0i64; 5];
    let mut by_code: std::collections::HashMap<String, OrganisationCounts> =
        std::collections::HashMap::with_capacity(counts.len());
    for c in counts {
        totals.accounts += c.active;
        totals.enrolled += c.enrolled;
        disabled += c.disabled;
        for (sum, n) in with_kind.iter_mut().zip(c.with_kind) {
            *sum += n;
        }
        by_code.insert(c.code.clone(), c);
    }
    let by_method = MethodKind::ALL
        .iter()
        .zip(with_kind)
        .map(|(kind, accounts)| MethodFigure {
            kind: *kind,
            accounts,
            share: percent(accounts, totals.accounts),
        })
        .collect();
    // Every organisation appears, even one with no accounts yet.
    let mut organisations: Vec<OrganisationFigure> = names
        .into_iter()
        .map(|(code, name)| {
            let c = by_code.remove(&code).unwrap_or_default();
            OrganisationFigure {
                code,
                name,
                figures: Figures {
                    accounts: c.active,
                    enrolled: c.enrolled,
                },
                disabled: c.disabled,
                on_exception: 0,
            }
        })
        .collect();
    organisations.sort_by(|a, b| a.code.cmp(&b.code));
    EnrolmentReport {
        scope: AdminScope::National,
        organisation_name: None,
        generated_at: now,
        required_from: None,
        weeks: cumulative_weeks(weeks, totals.accounts, now),
        totals,
        disabled,
        on_exception: 0,
        by_method,
        organisations,
    }
}

/// Week-by-week enrolments, cumulated, with the weeks nobody enrolled filled in.
fn cumulative_weeks(
    mut weeks: Vec<(UnixTime, i64)>,
    accounts: i64,
    now: UnixTime,
) -> Vec<WeekFigure> {
    weeks.retain(|(_, n)| *n > 0);
    weeks.sort_by_key(|(start, _)| *start);
    let Some(&(first, _)) = weeks.first() else {
        return vec![];
    };
    let last = weeks
        .last()
        .map_or(first, |(start, _)| *start)
        .max(week_start(now));
    let mut out = Vec::with_capacity(((last - first) / WEEK + 1) as usize);
    let mut given = weeks.into_iter().peekable();
    let mut enrolled = 0;
    let mut starts = first;
    while starts <= last {
        let mut newly_enrolled = 0;
        while let Some((_, n)) = given.next_if(|(s, _)| *s == starts) {
            newly_enrolled += n;
        }
        enrolled += newly_enrolled;
        out.push(WeekFigure {
            starts,
            newly_enrolled,
            enrolled,
            share: percent(enrolled, accounts),
        });
        starts += WEEK;
    }
    out
}

/// "2024-08-01".
pub fn iso_date(t: UnixTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}

impl EnrolmentReport {
    /// "national" or the organisation code.
    pub fn scope_key(&self) -> &str {
        match &self.scope {
            AdminScope::National => "national",
            AdminScope::Organisation(code) => code,
        }
    }

    /// "All organisations" or the organisation's name.
    pub fn scope_label(&self) -> String {
        match (&self.scope, &self.organisation_name) {
            (AdminScope::National, _) => "All organisations".into(),
            (AdminScope::Organisation(code), Some(name)) => format!("{name} ({code})"),
            (AdminScope::Organisation(code), None) => code.clone(),
        }
    }

    /// The report as one JSON object (the CLI's `--format json`).
    pub fn to_json(&self) -> serde_json::Value {
        let (scope, organisation) = match &self.scope {
            AdminScope::National => ("national", serde_json::Value::Null),
            AdminScope::Organisation(code) => (
                "organisation",
                json!({"code": code, "name": self.organisation_name}),
            ),
        };
        json!({
            "scope": scope,
            "organisation": organisation,
            "generated_at": crate::clock::rfc3339(self.generated_at),
            "mfa_required_from": self.required_from.map(iso_date),
            "accounts": self.totals.accounts,
            "enrolled": self.totals.enrolled,
            "not_enrolled": self.totals.not_enrolled(),
            "share_percent": self.totals.share(),
            "disabled_accounts": self.disabled,
            "on_exception": self.on_exception,
            "by_method": self.by_method.iter().map(|m| json!({
                "method": m.kind.as_str(),
                "label": m.kind.label(),
                "accounts": m.accounts,
                "share_percent": m.share,
            })).collect::<Vec<_>>(),
            "organisations": self.organisations.iter().map(|o| json!({
                "code": o.code,
                "name": o.name,
                "accounts": o.figures.accounts,
                "enrolled": o.figures.enrolled,
                "not_enrolled": o.figures.not_enrolled(),
                "share_percent": o.figures.share(),
                "disabled_accounts": o.disabled,
                "on_exception": o.on_exception,
            })).collect::<Vec<_>>(),
            "weeks": self.weeks.iter().map(|w| json!({
                "week_starting": iso_date(w.starts),
                "newly_enrolled": w.newly_enrolled,
                "enrolled": w.enrolled,
                "share_percent": w.share,
            })).collect::<Vec<_>>(),
        })
    }

    /// The report as CSV (RFC 4180: a header, CRLF line ends, fields quoted when they hold a
    /// comma, quote or line break). One table for every part, told apart by `section`:
    /// summary, rollout, method, organisation, week.
    pub fn to_csv(&self) -> String {
        let mut csv = Csv::default();
        csv.row(&[
            "section",
            "key",
            "label",
            "accounts",
            "enrolled",
            "not_enrolled",
            "share_percent",
            "disabled_accounts",
            "newly_enrolled",
            "on_exception",
        ]);
        let total = self.totals.accounts;
        let share = |s: Option<f64>| s.map(|s| format!("{s:.1}")).unwrap_or_default();
        csv.row(&[
            "summary",
            self.scope_key(),
            &self.scope_label(),
            &total.to_string(),
            &self.totals.enrolled.to_string(),
            &self.totals.not_enrolled().to_string(),
            &share(self.totals.share()),
            &self.disabled.to_string(),
            "",
            &self.on_exception.to_string(),
        ]);
        if let Some(at) = self.required_from {
            let label = format!("MFA required from {}", crate::clock::human_date(at));
            csv.row(&["rollout", &iso_date(at), &label, "", "", "", "", "", "", ""]);
        }
        for m in &self.by_method {
            csv.row(&[
                "method",
                m.kind.as_str(),
                m.kind.label(),
                &total.to_string(),
                &m.accounts.to_string(),
                &(total - m.accounts).to_string(),
                &share(m.share),
                "",
                "",
                "",
            ]);
        }
        for o in &self.organisations {
            csv.row(&[
                "organisation",
                &o.code,
                &o.name,
                &o.figures.accounts.to_string(),
                &o.figures.enrolled.to_string(),
                &o.figures.not_enrolled().to_string(),
                &share(o.figures.share()),
                &o.disabled.to_string(),
                "",
                &o.on_exception.to_string(),
            ]);
        }
        for w in &self.weeks {
            let label = format!("Week starting {}", crate::clock::human_date(w.starts));
            csv.row(&[
                "week",
                &iso_date(w.starts),
                &label,
                &total.to_string(),
                &w.enrolled.to_string(),
                &(total - w.enrolled).to_string(),
                &share(w.share),
                "",
                &w.newly_enrolled.to_string(),
                "",
            ]);
        }
        csv.0
    }
}

/// RFC 4180 rows.
#[derive(Default)]
struct Csv(String);

impl Csv {
    fn row(&mut self, fields: &[&str]) {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.0.push_str(&csv_field(field));
        }
        self.0.push_str("\r\n");
    }
}

/// One CSV field: quoted when needed, and a leading `=`, `+`, `-`, `@` (which a spreadsheet
/// would run as a formula) defused with a `'`. Only names can start so; figures never do.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY: UnixTime = 1_721_606_400; // Monday 22 July 2024, 00:00 UTC

    fn counts(code: &str, active: i64, enrolled: i64, with_kind: [i64; 4]) -> OrganisationCounts {
        OrganisationCounts {
            code: code.into(),
            active,
            disabled: 1,
            enrolled,
            with_kind: [with_kind[0], with_kind[1], with_kind[2], with_kind[3], 0],
        }
    }

    #[test]
    fn figures_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_500_000), "1,500,000");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn weeks_start_on_monday_at_midnight_utc() {
        assert_eq!(iso_date(MONDAY), "2024-07-22");
        assert_eq!(week_start(MONDAY), MONDAY);
        assert_eq!(week_start(MONDAY + 6 * 86_400 + 86_399), MONDAY);
        assert_eq!(week_start(MONDAY - 1), MONDAY - WEEK);
        assert_eq!(week_start(FIRST_MONDAY - 1), FIRST_MONDAY - WEEK);
    }

    #[test]
    fn shares_are_rounded_but_never_to_all_or_none_when_untrue() {
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(9_999, 10_000), Some(99.9));
        assert_eq!(percent(1, 10_000), Some(0.1));
        assert_eq!(percent(0, 10), Some(0.0));
        assert_eq!(percent(10, 10), Some(100.0));
        assert_eq!(percent(0, 0), None);
        assert_eq!(percent_text(None), "–");
        assert_eq!(percent_text(Some(70.0)), "70.0%");
    }

    #[test]
    fn organisations_are_summed_and_empty_ones_listed() {
        let report = shape(
            vec![
                counts("FB456", 4, 1, [1, 0, 0, 0]),
                counts("FA123", 6, 5, [3, 2, 1, 1]),
            ],
            vec![],
            vec![
                ("FA123".into(), "Riverside".into()),
                ("FB456".into(), "Hilltop".into()),
                ("FC789".into(), "Empty".into()),
            ],
            MONDAY,
        );
        assert_eq!(
            report.totals,
            Figures {
                accounts: 10,
                enrolled: 6
            }
        );
        assert_eq!(report.totals.not_enrolled(), 4);
        assert_eq!(report.totals.share(), Some(60.0));
        assert_eq!(report.disabled, 2);
        let codes: Vec<_> = report.organisations.iter().map(|o| &o.code[..]).collect();
        assert_eq!(codes, ["FA123", "FB456", "FC789"]);
        assert_eq!(report.organisations[2].figures.share(), None);
        let totp = &report.by_method[0];
        assert_eq!(
            (totp.kind, totp.accounts, totp.share),
            (MethodKind::Totp, 4, Some(40.0))
        );
        assert_eq!(report.by_method[3].accounts, 1);
    }

    #[test]
    fn weeks_are_cumulated_without_gaps_up_to_this_week() {
        let report = shape(
            vec![counts("FA123", 10, 4, [4, 0, 0, 0])],
            vec![(MONDAY + 2 * WEEK, 1), (MONDAY, 3)],
            vec![("FA123".into(), "Riverside".into())],
            MONDAY + 3 * WEEK + 100,
        );
        let weeks: Vec<_> = report
            .weeks
            .iter()
            .map(|w| (w.starts, w.newly_enrolled, w.enrolled))
            .collect();
        assert_eq!(
            weeks,
            [
                (MONDAY, 3, 3),
                (MONDAY + WEEK, 0, 3),
                (MONDAY + 2 * WEEK, 1, 4),
                (MONDAY + 3 * WEEK, 0, 4),
            ]
        );
        assert_eq!(report.weeks[0].share, Some(30.0));
        assert!(shape(vec![], vec![], vec![], MONDAY).weeks.is_empty());
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Riverside"), "Riverside");
        assert_eq!(csv_field("Smith, Jones & Co"), "\"Smith, Jones & Co\"");
        assert_eq!(
            csv_field("The \"Best\" Pharmacy"),
            "\"The \"\"Best\"\" Pharmacy\""
        );
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn the_csv_has_one_header_and_rows_of_equal_width() {
        let mut report = shape(
            vec![counts("FA123", 3, 2, [2, 1, 0, 0])],
            vec![(MONDAY, 2)],
            vec![("FA123".into(), "Smith, Jones".into())],
            MONDAY,
        );
        report.required_from = Some(MONDAY + 10 * 86_400);
        let csv = report.to_csv();
        assert!(csv.ends_with("\r\n"));
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(lines[0].starts_with("section,key,label,accounts,enrolled"));
        assert!(lines.contains(&"summary,national,All organisations,3,2,1,66.7,1,,0"));
        assert!(lines.contains(&"rollout,2024-08-01,MFA required from 1 August 2024,,,,,,,"));
        assert!(lines.contains(&"method,sms,Text message,3,1,2,33.3,,,"));
        assert!(lines.contains(&"organisation,FA123,\"Smith, Jones\",3,2,1,66.7,1,,0"));
        assert!(lines.contains(&"week,2024-07-22,Week starting 22 July 2024,3,2,1,66.7,,2,"));
        assert_eq!(lines.len(), 1 + 1 + 1 + 5 + 1 + 1);
    }
}
