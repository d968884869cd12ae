//! Apps for single sign-on (OpenID Connect clients), for national administrators: the list,
//! an add form (the secret is shown once, on the page that answers the form) and disabling.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminSession;
use crate::web::http::extract::CsrfForm;
use crate::web::http::pages::{Chrome, FieldError, error_for, render};
use crate::web::{AppError, AppState};
use domain::oidc::clients::{self, Client, ClientError, ClientKind, ClientRecords, NewClient};

pub const PATH: &str = "/admin/clients";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(page).post(add))
        .route("/admin/clients/{id}/disable", post(disable))
}

pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub auth_method: &'static str,
    pub first_party: bool,
    pub disabled: bool,
    pub redirect_uris: Vec<String>,
}

impl From<Client> for ClientRow {
    fn from(c: Client) -> Self {
        Self {
            kind: match c.kind {
                ClientKind::Public => "Public",
                ClientKind::Confidential => "Confidential",
            },
            auth_method: c.auth_method.as_str(),
            id: c.id,
            name: c.name,
            first_party: c.first_party,
            disabled: c.disabled,
            redirect_uris: c.redirect_uris,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_clients.html")]
pub struct AdminClientsPage {
    pub chrome: Chrome,
    pub notice: Option<String>,
    pub rows: Vec<ClientRow>,
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub public: bool,
    pub first_party: bool,
    pub errors: Vec<FieldError>,
    pub name_error: Option<String>,
    pub redirect_error: Option<String>,
    pub post_logout_error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_client_added.html")]
pub struct AdminClientAddedPage {
    pub chrome: Chrome,
    pub name: String,
    pub client_id: String,
    pub secret: Option<String>,
    pub public: bool,
}

#[derive(Deserialize, Default)]
struct ClientsQuery {
    disabled: Option<String>,
}

#[derive(Deserialize, Default)]
struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    /// "confidential" (default) or "public".
    #[serde(default)]
    client_type: String,
    first_party: Option<String>,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

async fn render_page(
    app: &AppState,
    admin: &AdminSession,
    form: Option<&AddForm>,
    errors: Vec<FieldError>,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let rows = app
        .store
        .clients()
        .await?
        .into_iter()
        .map(ClientRow::from)
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AdminClientsPage {
        chrome: admin.chrome(app),
        notice,
        rows,
        name: form.map(|f| f.name.clone()).unwrap_or_default(),
        redirect_uris: form.map(|f| f.redirect_uris.clone()).unwrap_or_default(),
        post_logout_redirect_uris: form
            .map(|f| f.post_logout_redirect_uris.clone())
            .unwrap_or_default(),
        public: form.is_some_and(|f| f.client_type == "public"),
        first_party: form.is_some_and(|f| f.first_party.is_some()),
        name_error: error_for(&errors, "name"),
        redirect_error: error_for(&errors, "redirect_uris"),
        post_logout_error: error_for(&errors, "post_logout_redirect_uris"),
        errors,
    };
    Ok(render(status, &page))
}

async fn page(
    State(app): State<AppState>,
    admin: AdminSession,
    Query(query): Query<ClientsQuery>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "clients.view").await?;
    let notice = query.disabled.map(|_| {
        "The app was disabled: it can no longer sign people in or use its tokens.".to_string()
    });
    render_page(&app, &admin, None, vec![], notice).await
}

async fn add(
    State(app): State<AppState>,
    admin: AdminSession,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "clients.add").await?;
    let new = NewClient {
        name: form.name.clone(),
        redirect_uris: lines(&form.redirect_uris),
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris),
        public: form.client_type == "public",
        first_party: form.first_party.is_some(),
        ..NewClient::default()
    };
    // Every field's problem at once; the domain checks again when adding.
    let mut errors = vec![];
    if clients::check_name(&new.name).is_err() {
        errors.push(FieldError {
            field: "name",
            message: "Enter the app's name (up to 100 characters)".into(),
        });
    }
    let uri_problem = |uris: &[String], none_message: Option<&str>| -> Option<String> {
        if uris.is_empty() {
            return none_message.map(String::from);
        }
        if uris.len() > 20 {
            return Some("Enter at most 20 addresses".into());
        }
        uris.iter()
            .find_map(|u| clients::check_redirect_uri(u).err())
            .map(|e| sentence(&e.to_string()))
    };
    if let Some(message) = uri_problem(
        &new.redirect_uris,
        Some("Enter at least one redirect URI, one per line"),
    ) {
        errors.push(FieldError {
            field: "redirect_uris",
            message,
        });
    }
    if let Some(message) = uri_problem(&new.post_logout_redirect_uris, None) {
        errors.push(FieldError {
            field: "post_logout_redirect_uris",
            message,
        });
    }
    if !errors.is_empty() {
        return render_page(&app, &admin, Some(&form), errors, None).await;
    }
    let registered = clients::add_client(
        &app.store,
        &app.secrets,
        &new,
        Some(&admin.session.account.id),
        &admin.requester,
        admin.now,
    )
    .await;
    match registered {
        Ok(registered) => {
            let page = AdminClientAddedPage {
                chrome: admin.chrome(&app),
                name: registered.client.name,
                client_id: registered.client.id,
                public: registered.client.kind == ClientKind::Public,
                secret: registered.secret,
            };
            // The secret is on this page only: never cached.
            Ok((
                [(header::CACHE_CONTROL, "no-store")],
                render(StatusCode::OK, &page),
            )
                .into_response())
        }
        Err(ClientError::Storage(e)) => Err(e.into()),
        Err(e) => {
            let errors = vec![FieldError {
                field: "name",
                message: sentence(&e.to_string()),
            }];
            render_page(&app, &admin, Some(&form), errors, None).await
        }
    }
}

async fn disable(
    State(app): State<AppState>,
    admin: AdminSession,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<std::collections::HashMap<String, String>>,
) -> Result<Response, AppError> {
    admin.require_national(&app, "clients.disable").await?;
    match clients::set_disabled(
        &app.store,
        &id,
        true,
        Some(&admin.session.account.id),
        &admin.requester,
        admin.now,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/admin/clients?disabled=1").into_response()),
        Err(ClientError::Unknown(_)) => Err(AppError::NotFound),
        Err(ClientError::Storage(e)) => Err(e.into()),
        Err(e) => Err(AppError::BadRequest(e.to_string())),
    }
}

/// Error texts from the domain start in lower case for the command line.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
