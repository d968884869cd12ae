//! Feedback: what people tell us about the portal, and the figures national administrators
//! read from it.
//!
//! A submission keeps what it is about, how easy it was (1 to 5), the comments, the
//! organisation of the person (none when signed out) and the time; never the account, so
//! feedback can be read and exported without being about a named person. Submissions are
//! limited per client address so that the form cannot flood the table.

use std::future::Future;

use super::StorageError;
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::limits::{SignInLimitRecords, client_source};
use super::organisations::OrgCode;
use crate::clock::UnixTime;

/// The longest comment, in Unicode code points after trimming.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Submissions one client address may make in an hour.
pub const SUBMISSIONS_PER_HOUR: i64 = 10;
/// Date ranges up to this many days are counted per day; longer ones per week.
pub const DAILY_UP_TO_DAYS: i64 = 31;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// What a submission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    SettingUpMfa,
    SigningIn,
    PasswordReset,
    Other,
    /// "Was this helpful?" at the foot of a help page.
    HelpPages,
}

/// How many topics there are (the collation's columns).
pub const TOPICS: usize = 5;

impl Topic {
    /// Every topic, in the order the collation shows them.
    pub const ALL: [Topic; TOPICS] = [
        Topic::SettingUpMfa,
        Topic::SigningIn,
        Topic::PasswordReset,
        Topic::Other,
        Topic::HelpPages,
    ];
    /// The topics the feedback form offers (help pages have their own question).
    pub const OFFERED: [Topic; 4] = [
        Topic::SettingUpMfa,
        Topic::SigningIn,
        Topic::PasswordReset,
        Topic::Other,
    ];

    /// The value in forms, links and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::SettingUpMfa => "setting-up-mfa",
            Topic::SigningIn => "signing-in",
            Topic::PasswordReset => "password-reset",
            Topic::Other => "other",
            Topic::HelpPages => "help-pages",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Topic::SettingUpMfa => "Setting up MFA",
            Topic::SigningIn => "Signing in",
            Topic::PasswordReset => "Password reset",
            Topic::Other => "Other",
            Topic::HelpPages => "Help pages",
        }
    }

    pub fn parse(text: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == text.trim())
    }

    fn index(self) -> usize {
        match self {
            Topic::SettingUpMfa => 0,
            Topic::SigningIn => 1,
            Topic::PasswordReset => 2,
            Topic::Other => 3,
            Topic::HelpPages => 4,
        }
    }
}

/// How easy it was: 1 (very difficult) to 5 (very easy), with the words the form shows.
pub const RATINGS: [(i64, &str); 5] = [
    (1, "Very difficult"),
    (2, "Difficult"),
    (3, "Neither easy nor difficult"),
    (4, "Easy"),
    (5, "Very easy"),
];

pub fn rating_label(rating: i64) -> &'static str {
    RATINGS
        .iter()
        .find(|(r, _)| *r == rating)
        .map(|(_, label)| *label)
        .unwrap_or("")
}

fn parse_rating(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    // Only the five digits the radios send: no signs, spaces inside or leading zeros.
    (trimmed.len() == 1)
        .then(|| trimmed.parse::<i64>().ok())
        .flatten()
        .filter(|r| (1..=5).contains(r))
}

/// The form as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeedbackInput<'a> {
    pub topic: &'a str,
    pub rating: &'a str,
    pub comments: &'a str,
}

/// One field's mistake, with the words the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub message: &'static str,
}

pub const SELECT_TOPIC: &str = "Select what your feedback is about";
pub const SELECT_RATING: &str = "Select how easy it was";
pub const COMMENTS_TOO_LONG: &str = "Your comments must be 2,000 characters or fewer";

/// A submission as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub id: String,
    pub submitted_at: UnixTime,
    pub topic: Topic,
    pub rating: i64,
    pub comments: Option<String>,
    pub org_code: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("the feedback form has mistakes")]
    Invalid(Vec<Problem>),
    #[error("too many feedback submissions from this address")]
    TooMany { until: UnixTime },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Comments as they are kept: line breaks as `\n` (browsers send CRLF, but the page counts
/// each break as one character), no control characters but line breaks and tabs (PostgreSQL
/// cannot store NUL), trimmed; `None` when nothing is left.
pub fn normalise_comments(text: &str) -> Option<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Checks every field and reports every mistake at once.
pub fn validate(input: &FeedbackInput<'_>) -> Result<(Topic, i64, Option<String>), Vec<Problem>> {
    let topic = Topic::parse(input.topic);
    let rating = parse_rating(input.rating);
    let comments = normalise_comments(input.comments);
    let mut problems = vec![];
    if topic.is_none() {
        problems.push(Problem {
            field: "topic",
            message: SELECT_TOPIC,
        });
    }
    if rating.is_none() {
        problems.push(Problem {
            field: "rating",
            message: SELECT_RATING,
        });
    }
    if comments
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        problems.push(Problem {
            field: "comments",
            message: COMMENTS_TOO_LONG,
        });
    }
    match (topic, rating) {
        (Some(topic), Some(rating)) if problems.is_empty() => Ok((topic, rating, comments)),
        _ => Err(problems),
    }
}

/// What the feedback pages need from storage.
pub trait FeedbackRecords {
    fn insert_feedback(
        &self,
        feedback: &Feedback,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Submissions matching `filter`, counted per day (days since 1970-01-01, UTC), topic and
    /// rating.
    fn feedback_counts(
        &self,
        filter: &FeedbackFilter,
    ) -> impl Future<Output = Result<Vec<DailyCount>, StorageError>> + Send;
    /// Submissions matching `filter` (only those with comments when `comments_only`), newest
    /// first.
    fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        comments_only: bool,
        limit: i64,
        offset: i64,
    ) -> impl Future<Output = Result<Vec<Feedback>, StorageError>> + Send;
    /// How many submissions matching `filter` have comments.
    fn count_feedback_comments(
        &self,
        filter: &FeedbackFilter,
    ) -> impl Future<Output = Result<i64, StorageError>> + Send;
}

fn limit_key(requester: &Requester) -> String {
    format!("feedback:{}", client_source(&requester.ip))
}

/// Validates a submission, takes one of this address's submissions for the hour, stores it
/// with the organisation (if any) and the time, and audits `feedback.submitted`. Nothing is
/// stored or counted when the form has mistakes.
pub async fn submit<R>(
    records: &R,
    input: &FeedbackInput<'_>,
    org_code: Option<&str>,
    requester: &Requester,
    now: UnixTime,
) -> Result<Feedback, FeedbackError>
where
    R: FeedbackRecords + SignInLimitRecords + AuditTrail,
{
    let (topic, rating, comments) = validate(input).map_err(FeedbackError::Invalid)?;
    // Counted before storing, in one statement, so parallel posts cannot pass the limit.
    let count = records
        .count_failure(&limit_key(requester), now, now - HOUR)
        .await?;
    if count.failures > SUBMISSIONS_PER_HOUR {
        return Err(FeedbackError::TooMany {
            until: count.window_start + HOUR,
        });
    }
    let feedback = Feedback {
        id: uuid::Uuid::new_v4().to_string(),
        submitted_at: now,
        topic,
        rating,
        comments,
        org_code: org_code.map(str::to_string),
    };
    records.insert_feedback(&feedback).await?;
    // Neither the account nor the comments: the trail records that feedback came in.
    let mut event = AuditEvent::new("feedback.submitted", Outcome::Success, requester, now);
    if let Some(org) = org_code {
        event = event.subject(org);
    }
    records.append_audit(&event).await?;
    Ok(feedback)
}

/// Which submissions an administrator looks at. `from` and `until` are a half-open range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackFilter {
    pub topic: Option<Topic>,
    pub rating: Option<i64>,
    pub org_code: Option<String>,
    pub from: Option<UnixTime>,
    pub until: Option<UnixTime>,
}

/// The filter as typed in the page's query string (dates as YYYY-MM-DD, both days included).
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterInput<'a> {
    pub topic: &'a str,
    pub rating: &'a str,
    pub org: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

/// Reads a filter; blank fields filter nothing.
pub fn parse_filter(input: &FilterInput<'_>) -> Result<FeedbackFilter, Vec<FilterProblem>> {
    let mut problems = vec![];
    let mut filter = FeedbackFilter::default();
    if !input.topic.trim().is_empty() {
        match Topic::parse(input.topic) {
            Some(t) => filter.topic = Some(t),
            None => problems.push(FilterProblem::new("topic", "Select a topic from the list")),
        }
    }
    if !input.rating.trim().is_empty() {
        match parse_rating(input.rating) {
            Some(r) => filter.rating = Some(r),
            None => problems.push(FilterProblem::new(
                "rating",
                "Select a rating from the list",
            )),
        }
    }
    if !input.org.trim().is_empty() {
        match OrgCode::parse(input.org) {
            Ok(code) => filter.org_code = Some(code.as_str().to_string()),
            Err(_) => problems.push(FilterProblem::new(
                "org",
                "Enter an organisation code of 3 to 10 letters and digits, such as FA123",
            )),
        }
    }
    let date = |text: &str, field: &'static str, problems: &mut Vec<FilterProblem>| {
        if text.trim().is_empty() {
            return None;
        }
        match super::policy::parse_date(text) {
            Ok(t) => Some(t),
            Err(_) => {
                let message = if field == "from" {
                    "Enter the ‘from’ date as a real date, such as 01/08/2026"
                } else {
                    "Enter the ‘to’ date as a real date, such as 31/08/2026"
                };
                problems.push(FilterProblem::new(field, message));
                None
            }
        }
    };
    filter.from = date(input.from, "from", &mut problems);
    // The ‘to’ day is included: the range ends at the start of the next day.
    filter.until = date(input.to, "to", &mut problems).map(|t| t + DAY);
    if let (Some(from), Some(until)) = (filter.from, filter.until)
        && from >= until
    {
        problems.push(FilterProblem::new(
            "to",
            "The ‘to’ date must be the same as or after the ‘from’ date",
        ));
    }
    if problems.is_empty() {
        Ok(filter)
    } else {
        Err(problems)
    }
}

/// A mistake in the filter, for the error summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterProblem {
    pub field: &'static str,
    pub message: &'static str,
}

impl FilterProblem {
    fn new(field: &'static str, message: &'static str) -> Self {
        Self { field, message }
    }
}

/// Submissions on one day with one topic and rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyCount {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub topic: Topic,
    pub rating: i64,
    pub count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
}

/// The counts of one day or week (weeks begin on Monday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodCounts {
    pub start: UnixTime,
    /// In the order of `Topic::ALL`.
    pub by_topic: [i64; TOPICS],
    /// Ratings 1 to 5.
    pub by_rating: [i64; 5],
    pub total: i64,
}

/// The collated figures for a filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Collation {
    pub total: i64,
    /// The mean rating, when there is any submission.
    pub average: Option<f64>,
    pub by_topic: [i64; TOPICS],
    pub by_rating: [i64; 5],
    pub period: Period,
    /// Every day or week from the first with a submission to the last (or every day of a
    /// short filtered range), gaps included, oldest first.
    pub periods: Vec<PeriodCounts>,
}

/// The Monday (as a day number) of the week a day number falls in; 1970-01-01 was a Thursday.
fn week_start(day: i64) -> i64 {
    (day + 3).div_euclid(7) * 7 - 3
}

/// Counts by topic and rating, overall and per day (short ranges) or week (long ones).
pub fn collate(counts: &[DailyCount], filter: &FeedbackFilter) -> Collation {
    let mut total = 0;
    let mut rating_sum = 0;
    let mut by_topic = [0; TOPICS];
    let mut by_rating = [0; 5];
    for c in counts {
        total += c.count;
        rating_sum += c.rating * c.count;
        by_topic[c.topic.index()] += c.count;
        if let Some(slot) = usize::try_from(c.rating - 1)
            .ok()
            .and_then(|i| by_rating.get_mut(i))
        {
            *slot += c.count;
        }
    }
    let first = counts.iter().map(|c| c.day).min();
    let last = counts.iter().map(|c| c.day).max();
    let range_start = filter.from.map(|t| t.div_euclid(DAY)).or(first);
    let range_end = filter.until.map(|t| (t - 1).div_euclid(DAY)).or(last);
    let period = match (range_start, range_end) {
        (Some(a), Some(b)) if b - a + 1 > DAILY_UP_TO_DAYS => Period::Week,
        _ => Period::Day,
    };
    // A short range given in full shows every day of it; otherwise the span of the data.
    let span = match (period, filter.from, filter.until) {
        (Period::Day, Some(_), Some(_)) => range_start.zip(range_end),
        _ => first.zip(last),
    };
    let bucket = |day: i64| match period {
        Period::Day => day,
        Period::Week => week_start(day),
    };
    let step = match period {
        Period::Day => 1,
        Period::Week => 7,
    };
    let mut periods = vec![];
    if let Some((a, b)) = span {
        let mut day = bucket(a);
        while day <= b {
            periods.push(PeriodCounts {
                start: day * DAY,
                by_topic: [0; TOPICS],
                by_rating: [0; 5],
                total: 0,
            });
            day += step;
        }
        let origin = bucket(a);
        for c in counts {
            let index = (bucket(c.day) - origin) / step;
            let Some(p) = usize::try_from(index).ok().and_then(|i| periods.get_mut(i)) else {
                continue;
            };
            p.total += c.count;
            p.by_topic[c.topic.index()] += c.count;
            if let Some(slot) = usize::try_from(c.rating - 1)
                .ok()
                .and_then(|i| p.by_rating.get_mut(i))
            {
                *slot += c.count;
            }
        }
    }
    Collation {
        total,
        average: (total > 0).then(|| rating_sum as f64 / total as f64),
        by_topic,
        by_rating,
        period,
        periods,
    }
}

/// One cell of a CSV file: RFC 4180 quoting, and a cell that a spreadsheet would read as a
/// formula (starting with = + - @, a tab or a carriage return) starts with a single quote.
pub fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// One CSV record, ended by CRLF as RFC 4180 says.
pub fn csv_row(cells: &[&str]) -> String {
    let mut row = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    row.push_str("\r\n");
    row
}

pub const CSV_HEADER: [&str; 5] = ["submitted", "topic", "rating", "organisation", "comments"];

/// A submission as a CSV record, in the order of `CSV_HEADER`.
pub fn csv_record(f: &Feedback) -> String {
    let rating = f.rating.to_string();
    csv_row(&[
        &crate::clock::rfc3339(f.submitted_at),
        f.topic.label(),
        &rating,
        f.org_code.as_deref().unwrap_or(""),
        f.comments.as_deref().unwrap_or(""),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(topic: &'a str, rating: &'a str, comments: &'a str) -> FeedbackInput<'a> {
        FeedbackInput {
            topic,
            rating,
            comments,
        }
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let problems = validate(&input("", "", &"a".repeat(2001))).expect_err("invalid");
        let messages: Vec<_> = problems.iter().map(|p| p.message).collect();
        assert_eq!(messages, [SELECT_TOPIC, SELECT_RATING, COMMENTS_TOO_LONG]);
    }

    #[test]
    fn ratings_are_one_to_five_and_nothing_else() {
        for good in ["1", "5", " 3 "] {
            assert!(validate(&input("other", good, "")).is_ok(), "{good:?}");
        }
        for bad in ["0", "6", "x", "", "-1", "01", "1.0", "+1"] {
            assert!(validate(&input("other", bad, "")).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn comments_are_counted_in_code_points_after_trimming() {
        let at_limit = format!("  {}  ", "é".repeat(MAX_COMMENT_CHARS));
        let (_, _, comments) = validate(&input("signing-in", "4", &at_limit)).expect("valid");
        assert_eq!(comments.map(|c| c.chars().count()), Some(MAX_COMMENT_CHARS));
        let emoji = "🙂".repeat(MAX_COMMENT_CHARS + 1);
        assert!(validate(&input("signing-in", "4", &emoji)).is_err());
        // Browsers send line breaks as CRLF; each counts once, as on the page.
        let lines = "a\r\n".repeat(1000);
        assert!(validate(&input("signing-in", "4", &lines)).is_ok());
        let (_, _, blank) = validate(&input("other", "2", " \r\n\t ")).expect("valid");
        assert_eq!(blank, None);
        assert_eq!(normalise_comments("a\0b").as_deref(), Some("ab"));
    }

    #[test]
    fn cells_that_spreadsheets_would_run_are_defused_and_quoted() {
        assert_eq!(csv_cell("=1+2"), "'=1+2");
        assert_eq!(csv_cell("+44"), "'+44");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_row(&["a", "b"]), "a,b\r\n");
    }

    #[test]
    fn weeks_begin_on_monday() {
        // 1970-01-01 (day 0) was a Thursday; Monday 29 December 1969 is day -3.
        assert_eq!(week_start(0), -3);
        assert_eq!(week_start(3), -3);
        assert_eq!(week_start(4), 4);
        // 3 August 2026 is a Monday.
        let monday = 1_785_715_200 / DAY;
        assert_eq!(week_start(monday), monday);
        assert_eq!(week_start(monday + 6), monday);
    }

    fn count(day: i64, topic: Topic, rating: i64, n: i64) -> DailyCount {
        DailyCount {
            day,
            topic,
            rating,
            count: n,
        }
    }

    #[test]
    fn short_ranges_are_counted_per_day_and_long_ones_per_week() {
        let monday = 1_785_715_200 / DAY;
        let counts = [
            count(monday, Topic::SigningIn, 5, 2),
            count(monday + 2, Topic::Other, 1, 1),
        ];
        let short = collate(&counts, &FeedbackFilter::default());
        assert_eq!(short.period, Period::Day);
        assert_eq!(short.periods.len(), 3, "gaps included");
        assert_eq!(short.periods[1].total, 0);
        assert_eq!(short.total, 3);
        assert_eq!(short.by_topic, [0, 2, 0, 1, 0]);
        assert_eq!(short.by_rating, [1, 0, 0, 0, 2]);
        assert_eq!(short.average, Some(11.0 / 3.0));

        let long = [
            count(monday + 1, Topic::SigningIn, 5, 2),
            count(monday + 40, Topic::Other, 1, 1),
        ];
        let weekly = collate(&long, &FeedbackFilter::default());
        assert_eq!(weekly.period, Period::Week);
        assert_eq!(weekly.periods[0].start, monday * DAY);
        assert_eq!(weekly.periods.len(), 6);
        assert_eq!(weekly.periods[0].by_topic, [0, 2, 0, 0, 0]);
        assert_eq!(weekly.periods[5].by_rating, [1, 0, 0, 0, 0]);

        let filtered = FeedbackFilter {
            from: Some((monday - 1) * DAY),
            until: Some((monday + 6) * DAY),
            ..FeedbackFilter::default()
        };
        let days = collate(&counts, &filtered);
        assert_eq!(days.period, Period::Day);
        assert_eq!(days.periods.len(), 7, "every day of the range");

        let none = collate(&[], &FeedbackFilter::default());
        assert_eq!((none.total, none.average, none.periods.len()), (0, None, 0));
    }

    #[test]
    fn filters_are_read_with_both_days_included() {
        let filter = parse_filter(&FilterInput {
            topic: "signing-in",
            rating: "4",
            org: "fa123",
            from: "2026-08-01",
            to: "2026-08-01",
        })
        .expect("valid");
        assert_eq!(filter.topic, Some(Topic::SigningIn));
        assert_eq!(filter.rating, Some(4));
        assert_eq!(filter.org_code.as_deref(), Some("FA123"));
        assert_eq!(filter.until.zip(filter.from).map(|(u, f)| u - f), Some(DAY));
        let bad = parse_filter(&FilterInput {
            topic: "x",
            rating: "9",
            org: "!",
            from: "2026-13-01",
            to: "soon",
        })
        .expect_err("invalid");
        assert_eq!(bad.len(), 5);
        let backwards = parse_filter(&FilterInput {
            from: "2026-08-02",
            to: "2026-08-01",
            ..FilterInput::default()
        })
        .expect_err("invalid");
        assert_eq!(backwards[0].field, "to");
    }
}
