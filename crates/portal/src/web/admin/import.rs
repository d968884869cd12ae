//! `/admin/import`: national administrators upload a CSV file of accounts; the page shows the
//! same per-line report as `nhsmal user import`.

use axum::Router;
use axum::extract::multipart::Multipart;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;

use super::AdminSession;
use crate::web::admin::pages::{AdminImportPage, ImportLine, ImportOutcome};
use crate::web::http::extract::csrf_valid;
use crate::web::http::pages::{FieldError, render};
use crate::web::{AppError, AppState};
use domain::import::{self, ImportContext, ImportError, LineNote};

pub const PATH: &str = "/admin/import";

/// Largest upload: 100,000 rows of CSV are about 7 MB. The portal's 64 KiB body limit is
/// raised for this path alone (see `web::limit_body`).
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        PATH,
        get(import_page)
            .post(upload)
            // axum's extractors have their own 2 MB default; the file may be larger.
            .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
    )
}

fn page(
    app: &AppState,
    admin: &AdminSession,
    file_error: Option<String>,
    skip_invalid: bool,
    outcome: Option<ImportOutcome>,
) -> AdminImportPage {
    let errors = file_error
        .iter()
        .map(|message| FieldError {
            field: "file",
            message: message.clone(),
        })
        .collect();
    AdminImportPage {
        chrome: admin.chrome(app),
        errors,
        file_error,
        skip_invalid,
        max_megabytes: MAX_UPLOAD_BYTES / (1024 * 1024),
        outcome,
    }
}

async fn import_page(
    State(app): State<AppState>,
    admin: AdminSession,
) -> Result<Response, AppError> {
    admin.require_national(&app, "import").await?;
    Ok(render(
        StatusCode::OK,
        &page(&app, &admin, None, false, None),
    ))
}

/// The fields of the upload form.
#[derive(Default)]
struct Upload {
    csrf_token: String,
    file_name: String,
    file: Vec<u8>,
    skip_invalid: bool,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, StatusCode> {
    let mut upload = Upload::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(e.status()),
        };
        match field.name() {
            Some("csrf_token") => {
                upload.csrf_token = field.text().await.map_err(|e| e.status())?;
            }
            Some("skip_invalid") => {
                upload.skip_invalid = true;
            }
            Some("file") => {
                upload.file_name = field.file_name().unwrap_or_default().to_string();
                upload.file = field.bytes().await.map_err(|e| e.status())?.to_vec();
            }
            _ => {}
        }
    }
    Ok(upload)
}

fn lines(notes: &[LineNote]) -> Vec<ImportLine> {
    notes
        .iter()
        .map(|n| ImportLine {
            line: n.line,
            message: n.message.clone(),
        })
        .collect()
}

async fn upload(
    State(app): State<AppState>,
    admin: AdminSession,
    jar: CookieJar,
    multipart: Multipart,
) -> Result<Response, AppError> {
    admin.require_national(&app, "import").await?;
    let upload = match read_upload(multipart).await {
        Ok(upload) => upload,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            let message = format!(
                "The file must be smaller than {} MB. Split it, or use `nhsmal user import` on the server.",
                MAX_UPLOAD_BYTES / (1024 * 1024)
            );
            let page = page(&app, &admin, Some(message), false, None);
            return Ok(render(StatusCode::PAYLOAD_TOO_LARGE, &page));
        }
        Err(_) => {
            return Err(AppError::BadRequest(
                "The upload could not be read. Go back and try again.".into(),
            ));
        }
    };
    // A file upload is not a form `CsrfForm` can read; the same token check, by hand.
    if !csrf_valid(&app, &jar, &upload.csrf_token) {
        return Err(AppError::CrossSiteRequest);
    }
    if upload.file_name.is_empty() && upload.file.is_empty() {
        let page = page(
            &app,
            &admin,
            Some("Select a CSV file".into()),
            upload.skip_invalid,
            None,
        );
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }

    let plan = import::plan(&app.store, &upload.file).await?;
    let problems = lines(&plan.problems);
    let warnings = lines(&plan.warnings);
    if !plan.may_import(upload.skip_invalid) {
        let message = if plan.unreadable {
            "The file cannot be imported: see the problem below. Nothing was imported.".to_string()
        } else {
            format!(
                "{}. Fix them and upload the file again, or choose “Skip rows with errors”.",
                capitalised(&ImportError::Invalid(plan.problems).to_string())
            )
        };
        let outcome = ImportOutcome {
            imported: false,
            summary: String::new(),
            problems,
            warnings,
        };
        let page = page(
            &app,
            &admin,
            Some(message),
            upload.skip_invalid,
            Some(outcome),
        );
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }

    // In its own task: if the request is cut short (timeout, closed connection), the batches
    // still get their invitations sent rather than stopping between a commit and its emails.
    let task = {
        let app = app.clone();
        let requester = admin.requester.clone();
        let actor = admin.session.account.id.clone();
        let source = upload.file_name.clone();
        let skip_invalid = upload.skip_invalid;
        let now = admin.now;
        tokio::spawn(async move {
            let context = ImportContext {
                requester: &requester,
                actor_id: Some(&actor),
                notifier: app.notifier.as_ref(),
                public_url: &app.settings.public_url,
                source: &source,
                now,
            };
            import::import(&app.store, plan, skip_invalid, &context, |_, _| {}).await
        })
    };
    let report = match task.await {
        Ok(Ok(report)) => report,
        Ok(Err(ImportError::Storage(e))) => return Err(e.into()),
        Ok(Err(e @ ImportError::Invalid(_))) => return Err(AppError::Internal(e.to_string())),
        Err(e) => return Err(AppError::Internal(format!("import task: {e}"))),
    };
    let outcome = ImportOutcome {
        imported: true,
        summary: report.to_string(),
        problems,
        warnings,
    };
    let page = page(&app, &admin, None, upload.skip_invalid, Some(outcome));
    Ok(render(StatusCode::OK, &page))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
