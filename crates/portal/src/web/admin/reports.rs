//! The enrolment report (`/admin/reports/enrolment`) and its CSV export. A local administrator
//! sees their own organisation; a national administrator sees every organisation, or one with
//! `?org=CODE`. A local administrator asking for another organisation gets 403, audited as
//! `admin.denied`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AdminSession;
use super::charts::{self, Bar, Progress};
use crate::web::admin::pages::{
    EnrolmentReportPage, ReportMethodRow, ReportOrganisationRow, ReportWeekRow,
};
use crate::web::http::pages::{FieldError, render};
use crate::web::{AppError, AppState};
use domain::admin::{AdminError, AdminScope};
use domain::clock::{UnixTime, human, human_date};
use domain::report::{self, EnrolmentReport, ReportError, WEEK, iso_date, percent_text, thousands};

/// Organisations listed on the national page (all of them are in the CSV).
const ORGANISATIONS_SHOWN: usize = 100;
/// What the audit trail calls a refused look at another organisation's report.
const ACTION: &str = "view enrolment report";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/reports/enrolment", get(enrolment))
        .route("/admin/reports/enrolment.csv", get(enrolment_csv))
}

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    org: Option<String>,
}

/// The scope to report on: the administrator's own, or the organisation asked for if they
/// may see it (refusals are audited).
async fn chosen_scope(
    app: &AppState,
    admin: &AdminSession,
    asked: Option<&str>,
) -> Result<AdminScope, AppError> {
    let Some(asked) = asked.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(admin.scope.clone());
    };
    let code = asked.to_ascii_uppercase();
    admin
        .admin()
        .authorize_org(&app.store, &code, ACTION)
        .await
        .map_err(|e| match e {
            AdminError::Denied => AppError::Forbidden(
                "You can only see the enrolment report of your own organisation.".into(),
            ),
            other => other.into(),
        })?;
    Ok(AdminScope::Organisation(code))
}

/// An organisation that does not exist is a 404; storage failures are the usual 503/500.
fn report_error(e: ReportError) -> AppError {
    match e {
        ReportError::UnknownOrganisation(_) => AppError::NotFound,
        ReportError::Storage(s) => s.into(),
    }
}

async fn enrolment(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let scope = chosen_scope(&app, &admin, query.org.as_deref()).await?;
    let now = app.now();
    match report::enrolment_report(&app.store, &scope, now).await {
        Ok(report) => Ok(render(
            StatusCode::OK,
            &page(&app, &admin, &report, String::new(), None),
        )),
        // Only a national administrator can name an organisation that does not exist (a
        // local one is refused first): show the national report with the field in error.
        Err(ReportError::UnknownOrganisation(_)) => {
            let report = report::enrolment_report(&app.store, &AdminScope::National, now)
                .await
                .map_err(report_error)?;
            let asked = query.org.unwrap_or_default();
            let message = format!(
                "There is no organisation with code {}. Enter a code such as FA123",
                asked.trim()
            );
            Ok(render(
                StatusCode::NOT_FOUND,
                &page(&app, &admin, &report, asked, Some(message)),
            ))
        }
        Err(e) => Err(report_error(e)),
    }
}

async fn enrolment_csv(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let scope = chosen_scope(&app, &admin, query.org.as_deref()).await?;
    let now = app.now();
    let report = report::enrolment_report(&app.store, &scope, now)
        .await
        .map_err(report_error)?;
    let filename = format!(
        "nhsmal-enrolment-{}-{}.csv",
        report.scope_key().to_ascii_lowercase(),
        iso_date(now)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        report.to_csv(),
    )
        .into_response())
}

/// "1 Aug 2024", short enough for a chart's axis.
fn short_date(t: UnixTime) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:short] [year]");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}

fn page(
    app: &AppState,
    admin: &AdminSession,
    report: &EnrolmentReport,
    org_value: String,
    org_error: Option<String>,
) -> EnrolmentReportPage {
    let totals = report.totals;
    let required_from = report.required_from.map(human_date);
    let summary = vec![
        ("Accounts".to_string(), thousands(totals.accounts)),
        (
            "Enrolled".to_string(),
            format!(
                "{} ({})",
                thousands(totals.enrolled),
                percent_text(totals.share())
            ),
        ),
        ("Without MFA".to_string(), thousands(totals.not_enrolled())),
        (
            "Disabled accounts (not counted above)".to_string(),
            thousands(report.disabled),
        ),
        (
            "On a rollout exception".to_string(),
            thousands(report.on_exception),
        ),
        (
            "MFA required from".to_string(),
            required_from
                .clone()
                .unwrap_or_else(|| "No date set".into()),
        ),
    ];
    let bars: Vec<Bar> = report
        .by_method
        .iter()
        .map(|m| Bar {
            label: m.kind.label().to_string(),
            percent: m.share.unwrap_or(0.0),
        })
        .collect();
    let method_chart = charts::bar_chart(
        "chart-methods",
        &format!(
            "Share of accounts with each method: {}",
            report.scope_label()
        ),
        &bars,
    );
    let progress_chart = report.weeks.first().map(|first| {
        // Each week's total stands at its end; the line starts from nobody at the first week.
        let mut points = vec![(first.starts, 0)];
        points.extend(report.weeks.iter().map(|w| (w.starts + WEEK, w.enrolled)));
        let last = report.weeks.last().unwrap_or(first);
        let description = format!(
            "{} of {} accounts enrolled by the week starting {} ({}), from the week starting {}{}.",
            thousands(last.enrolled),
            thousands(totals.accounts),
            human_date(last.starts),
            percent_text(last.share),
            human_date(first.starts),
            required_from
                .as_ref()
                .map(|d| format!("; MFA required from {d}"))
                .unwrap_or_default()
        );
        charts::progress_chart(
            "chart-progress",
            &format!("Accounts enrolled over time: {}", report.scope_label()),
            &description,
            &Progress {
                points: &points,
                ceiling: totals.accounts,
                marker: report
                    .required_from
                    .map(|t| (t, format!("MFA required from {}", human_date(t)))),
                date: &short_date,
                count: &thousands,
            },
        )
    });
    let mut organisations: Vec<_> = report.organisations.iter().collect();
    // Furthest behind first; organisations without accounts last.
    organisations.sort_by(|a, b| {
        let share = |o: &&report::OrganisationFigure| o.figures.share().unwrap_or(f64::INFINITY);
        share(a)
            .total_cmp(&share(b))
            .then_with(|| a.code.cmp(&b.code))
    });
    let csv_href = match &report.scope {
        AdminScope::National => "/admin/reports/enrolment.csv".to_string(),
        AdminScope::Organisation(code) => format!("/admin/reports/enrolment.csv?org={code}"),
    };
    EnrolmentReportPage {
        chrome: admin.chrome(app),
        errors: FieldError::on("org", &org_error),
        scope_label: report.scope_label(),
        national: report.scope.is_national(),
        can_choose: admin.scope.is_national(),
        org_value,
        org_error,
        generated: human(report.generated_at),
        required_from,
        summary,
        csv_href,
        method_chart,
        methods: report
            .by_method
            .iter()
            .map(|m| ReportMethodRow {
                label: m.kind.label(),
                accounts: thousands(m.accounts),
                share: percent_text(m.share),
            })
            .collect(),
        progress_chart,
        weeks: report
            .weeks
            .iter()
            .map(|w| ReportWeekRow {
                starting: human_date(w.starts),
                newly_enrolled: thousands(w.newly_enrolled),
                enrolled: thousands(w.enrolled),
                share: percent_text(w.share),
            })
            .collect(),
        organisations_total: organisations.len(),
        organisations: organisations
            .into_iter()
            .take(ORGANISATIONS_SHOWN)
            .map(|o| ReportOrganisationRow {
                href: format!("/admin/reports/enrolment?org={}", o.code),
                code: o.code.clone(),
                name: o.name.clone(),
                accounts: thousands(o.figures.accounts),
                enrolled: thousands(o.figures.enrolled),
                not_enrolled: thousands(o.figures.not_enrolled()),
                share: percent_text(o.figures.share()),
            })
            .collect(),
    }
}
