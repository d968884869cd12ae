//! The rollout kit (`/admin/rollout-kit`): for one organisation, who has not set up MFA yet, a
//! ready email to send them (editable before it is copied), and a one-page guide to print.
//! A local administrator sees their own organisation; a national one any (`?org=CODE`).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::AdminSession;
use crate::web::http::pages::{Chrome, render};
use crate::web::{AppError, AppState};
use domain::admin::{AdminRecords, EnrolmentFilter, UserSearch};

/// The most people the page lists; the enrolment report's CSV has them all.
const LISTED: i64 = 1000;
const ACTION: &str = "view rollout kit";
const EMAIL: &str = include_str!("../../../help/kit/email.txt");
const GUIDE: &str = include_str!("../../../help/kit/guide.md");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/rollout-kit", get(kit))
        .route("/admin/rollout-kit/guide", get(guide))
}

#[derive(Deserialize, Default)]
struct KitQuery {
    #[serde(default)]
    org: String,
}

pub struct PersonRow {
    pub name: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "admin_rollout_kit.html")]
struct KitPage {
    chrome: Chrome,
    org: String,
    org_name: String,
    people: Vec<PersonRow>,
    /// Everyone listed, for pasting into an email's "Bcc".
    addresses: String,
    more: bool,
    subject: String,
    body: String,
    guide_href: String,
    report_href: String,
}

#[derive(Template)]
#[template(path = "rollout_guide.html")]
struct GuidePage {
    chrome: Chrome,
    title: String,
    html: String,
}

/// What the kit's texts say for an organisation, filled into their `{placeholders}`.
struct Facts {
    code: String,
    name: String,
    required_from: String,
    portal_url: String,
    admin_contact: String,
    help_url: String,
}

impl Facts {
    fn fill(&self, text: &str) -> String {
        text.replace("{organisation}", &self.name)
            .replace("{required_from}", &self.required_from)
            .replace("{portal_url}", &self.portal_url)
            .replace("{admin_contact}", &self.admin_contact)
            .replace("{help_url}", &self.help_url)
    }
}

/// The organisation asked for, if this administrator may see it (refusals are audited), else
/// their own; and what the kit says about it.
async fn facts(app: &AppState, admin: &AdminSession, asked: &str) -> Result<Facts, AppError> {
    let asked = asked.trim().to_ascii_uppercase();
    let code = if asked.is_empty() {
        admin.session.account.org_code.clone()
    } else {
        admin
            .admin()
            .authorize_org(&app.store, &asked, ACTION)
            .await?;
        asked
    };
    let org = domain::organisations::OrganisationRecords::organisation(&app.store, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let policy = domain::policy::policy_for(&app.store, &code).await?;
    let public = app
        .settings
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    Ok(Facts {
        required_from: policy.required_from.map_or_else(
            || "the date your organisation sets".to_string(),
            domain::clock::human_date,
        ),
        admin_contact: org
            .admin_contact
            .unwrap_or_else(|| admin.session.account.email.clone()),
        help_url: format!("{public}/help/set-up-authenticator-app"),
        portal_url: public,
        name: org.name,
        code,
    })
}

async fn kit(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<KitQuery>,
) -> Result<Response, AppError> {
    let facts = facts(&app, &admin, &query.org).await?;
    let found = app
        .store
        .search_accounts(&UserSearch {
            text: String::new(),
            filter: Some(EnrolmentFilter::NotEnrolled),
            org: Some(facts.code.clone()),
            offset: 0,
            limit: LISTED + 1,
            lock_after: app.settings.sign_in_limits.lock_after,
            now: admin.now,
        })
        .await?;
    let more = found.len() as i64 > LISTED;
    let people: Vec<PersonRow> = found
        .into_iter()
        .take(LISTED as usize)
        .map(|s| PersonRow {
            name: s.account.display_name,
            email: s.account.email,
        })
        .collect();
    let email = facts.fill(EMAIL);
    let (subject, body) = match email.split_once("\n\n") {
        Some((first, rest)) => (
            first.trim_start_matches("Subject:").trim().to_string(),
            rest.trim().to_string(),
        ),
        None => (String::new(), email),
    };
    let page = KitPage {
        chrome: admin.chrome(&app),
        addresses: people
            .iter()
            .map(|p| p.email.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        people,
        more,
        subject,
        body,
        guide_href: format!("/admin/rollout-kit/guide?org={}", facts.code),
        report_href: format!("/admin/reports/enrolment?org={}", facts.code),
        org: facts.code,
        org_name: facts.name,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The one-page guide for staff, ready to print.
async fn guide(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<KitQuery>,
) -> Result<Response, AppError> {
    let facts = facts(&app, &admin, &query.org).await?;
    let text = facts.fill(GUIDE);
    let (title, body) = text.split_once('\n').unwrap_or((&text, ""));
    let page = GuidePage {
        chrome: admin.chrome(&app),
        title: title.trim_start_matches('#').trim().to_string(),
        html: crate::web::help::markdown(body),
    };
    Ok(render(StatusCode::OK, &page))
}
