//! Collated feedback for national administrators: counts by topic and rating over time, the
//! comments, filters, and a CSV export.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AdminSession;
use crate::web::admin::pages::{
    AdminFeedbackPage, FeedbackCommentRow, FeedbackFigures, FeedbackPeriodRow,
};
use crate::web::http::pages::{Choice, FieldError, render};
use crate::web::{AppError, AppState};
use domain::audit::{AuditEvent, AuditTrail, Outcome};
use domain::feedback::{
    self, CSV_HEADER, Collation, FeedbackFilter, FeedbackRecords, FilterInput, FilterProblem,
    Period, RATINGS, Topic,
};

/// Comments per page.
const PAGE_SIZE: i64 = 20;
/// Rows read at a time for the export.
const EXPORT_BATCH: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/feedback", get(overview))
        .route("/admin/feedback.csv", get(export))
}

/// The filter as the page's query string carries it. Every field is text, so a bad value
/// gets a message on the page rather than a bare 400.
#[derive(Deserialize, Default)]
struct FilterQuery {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: String,
}

impl FilterQuery {
    fn input(&self) -> FilterInput<'_> {
        FilterInput {
            topic: &self.topic,
            rating: &self.rating,
            org: &self.org,
            from: &self.from,
            to: &self.to,
        }
    }

    /// The filter's query string, with `extra` pairs, and a leading `?` when not empty.
    fn query_string(&self, extra: &[(&str, &str)]) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        let fields = [
            ("topic", &self.topic),
            ("rating", &self.rating),
            ("org", &self.org),
            ("from", &self.from),
            ("to", &self.to),
        ];
        for (name, value) in fields {
            if !value.trim().is_empty() {
                s.append_pair(name, value.trim());
            }
        }
        for (name, value) in extra {
            s.append_pair(name, value);
        }
        let q = s.finish();
        if q.is_empty() { q } else { format!("?{q}") }
    }
}

fn field_errors(problems: Vec<FilterProblem>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|p| FieldError {
            field: p.field,
            message: p.message.into(),
        })
        .collect()
}

async fn overview(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<FilterQuery>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "feedback.view").await?;
    let mut page = AdminFeedbackPage {
        chrome: admin.chrome(&app),
        errors: vec![],
        topic_options: Topic::ALL
            .iter()
            .map(|t| Choice {
                value: t.as_str().into(),
                label: t.label().into(),
                checked: query.topic.trim() == t.as_str(),
            })
            .collect(),
        rating_options: RATINGS
            .iter()
            .map(|(r, label)| Choice {
                value: r.to_string(),
                label: format!("{r} – {label}"),
                checked: query.rating.trim() == r.to_string(),
            })
            .collect(),
        org: query.org.trim().to_string(),
        from: query.from.trim().to_string(),
        to: query.to.trim().to_string(),
        query: query.query_string(&[]),
        figures: None,
    };
    let filter = match feedback::parse_filter(&query.input()) {
        Ok(filter) => filter,
        Err(problems) => {
            page.errors = field_errors(problems);
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let counts = app.store.feedback_counts(&filter).await?;
    let collation = feedback::collate(&counts, &filter);
    let comments_total = app.store.count_feedback_comments(&filter).await?;
    let pages = ((comments_total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let current = query
        .page
        .trim()
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, pages);
    let comments = app
        .store
        .list_feedback(&filter, true, PAGE_SIZE, (current - 1) * PAGE_SIZE)
        .await?;
    let link = |n: i64| {
        format!(
            "/admin/feedback{}",
            query.query_string(&[("page", &n.to_string())])
        )
    };
    let mut figures = figures(&collation);
    figures.comments = comments
        .into_iter()
        .map(|c| FeedbackCommentRow {
            submitted: domain::clock::human(c.submitted_at),
            topic: c.topic.label().into(),
            rating: format!("{} – {}", c.rating, feedback::rating_label(c.rating)),
            organisation: c.org_code.unwrap_or_else(|| "Signed out".into()),
            comments: c.comments.unwrap_or_default(),
        })
        .collect();
    figures.comments_total = comments_total;
    figures.page = current;
    figures.pages = pages;
    figures.previous = (current > 1).then(|| link(current - 1));
    figures.next = (current < pages).then(|| link(current + 1));
    page.figures = Some(figures);
    Ok(render(StatusCode::OK, &page))
}

/// The collated counts as the page shows them (comments are added by the caller).
fn figures(c: &Collation) -> FeedbackFigures {
    let (period, period_heading) = match c.period {
        Period::Day => ("day", "Day"),
        Period::Week => ("week", "Week beginning"),
    };
    FeedbackFigures {
        total: c.total,
        average: c
            .average
            .map(|a| format!("{a:.1} out of 5"))
            .unwrap_or_else(|| "none yet".into()),
        by_topic: Topic::ALL
            .iter()
            .zip(c.by_topic)
            .map(|(t, n)| (t.label().to_string(), n))
            .collect(),
        by_rating: RATINGS
            .iter()
            .zip(c.by_rating)
            .map(|((r, label), n)| (format!("{r} – {label}"), n))
            .collect(),
        period,
        period_heading,
        topic_labels: Topic::ALL.iter().map(|t| t.label()).collect(),
        periods: c
            .periods
            .iter()
            .map(|p| FeedbackPeriodRow {
                label: domain::clock::human_date(p.start),
                by_topic: p.by_topic.to_vec(),
                by_rating: p.by_rating.to_vec(),
                total: p.total,
            })
            .collect(),
        comments: vec![],
        comments_total: 0,
        page: 1,
        pages: 1,
        previous: None,
        next: None,
    }
}

async fn export(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<FilterQuery>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "feedback.export").await?;
    let filter: FeedbackFilter = feedback::parse_filter(&query.input()).map_err(|problems| {
        let messages: Vec<&str> = problems.iter().map(|p| p.message).collect();
        AppError::BadRequest(messages.join(". "))
    })?;
    let mut body = feedback::csv_row(&CSV_HEADER);
    let mut offset = 0;
    loop {
        let batch = app
            .store
            .list_feedback(&filter, false, EXPORT_BATCH, offset)
            .await?;
        for f in &batch {
            body.push_str(&feedback::csv_record(f));
        }
        if (batch.len() as i64) < EXPORT_BATCH {
            break;
        }
        offset += EXPORT_BATCH;
    }
    let mut event = AuditEvent::new(
        "feedback.exported",
        Outcome::Success,
        &admin.requester,
        admin.now,
    )
    .actor(&admin.session.account.id);
    // The filter used, so the trail says what left the service.
    let filter_used = query.query_string(&[]);
    if let Some(filter_used) = filter_used.strip_prefix('?') {
        event = event.reason(filter_used);
    }
    app.store.append_audit(&event).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"nhsmal-feedback.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
