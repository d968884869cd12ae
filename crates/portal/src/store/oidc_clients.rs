use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::oidc::clients::{AssertionReplay, Client, ClientAuthMethod, ClientKind, ClientRecords};
use domain::oidc::keys::Alg;
use domain::oidc::request::Acr;

#[derive(FromRow)]
struct ClientRow {
    id: String,
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    kind: String,
    auth_method: String,
    secret_hash: Option<String>,
    first_party: i64,
    jwks: Option<String>,
    id_token_alg: String,
    created_at: i64,
    disabled: i64,
    native: i64,
    backchannel_logout_uri: Option<String>,
    require_acr: Option<String>,
}

const COLUMNS: &str = "id, name, redirect_uris, post_logout_redirect_uris, kind, auth_method, \
     secret_hash, first_party, jwks, id_token_alg, created_at, disabled, native, \
     backchannel_logout_uri, require_acr";

/// How long a client read from the database is used again without reading it anew.
///
/// Every token request reads its client, and under load that read was a third of the token
/// endpoint's store round trips (BENCHMARKS.md, "OpenID Connect token endpoint"). A change made
/// by this process (the admin page) is seen at once, since the writes below forget the client;
/// one made elsewhere (`nhsmal client disable`, another node) reaches this process within a
/// second (docs/DECISIONS.md).
const CLIENT_READ_LIFETIME: Duration = Duration::from_secs(1);

/// At most this many clients are kept; beyond it the whole set is dropped (registered clients
/// are few, and unknown ids are never kept, so only a flood of real ids gets there).
const MOST_CLIENTS_KEPT: usize = 10_000;

/// A client as read, with its secret hash and when it was read.
#[derive(Debug)]
struct ClientRead {
    at: Instant,
    client: Client,
    secret_hash: Option<String>,
}

/// Registered clients read within the last `CLIENT_READ_LIFETIME`, with their secret hashes.
#[derive(Debug, Default)]
pub(crate) struct RecentClients {
    read: Mutex<HashMap<String, ClientRead>>,
}

impl RecentClients {
    fn get(&self, id: &str) -> Option<(Client, Option<String>)> {
        let read = self.read.lock().ok()?;
        let kept = read.get(id)?;
        // The age of a copy is this process's own time, not the domain's `now`: a test that
        // moves the clock forward must not be served an old copy.
        #[allow(clippy::disallowed_methods)]
        let fresh = kept.at.elapsed() < CLIENT_READ_LIFETIME;
        fresh.then(|| (kept.client.clone(), kept.secret_hash.clone()))
    }

    fn keep(&self, client: &Client, hash: Option<&str>) {
        if let Ok(mut read) = self.read.lock() {
            if read.len() >= MOST_CLIENTS_KEPT {
                read.clear();
            }
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now();
            read.insert(
                client.id.clone(),
                ClientRead {
                    at: now,
                    client: client.clone(),
                    secret_hash: hash.map(str::to_string),
                },
            );
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut read) = self.read.lock() {
            read.remove(id);
        }
    }
}

fn bad(what: &str, id: &str) -> StorageError {
    StorageError::Other(format!("client {id}: bad {what}"))
}

impl ClientRow {
    fn into_client(self) -> Result<(Client, Option<String>), StorageError> {
        let id = self.id;
        let list = |text: &str, what: &str| {
            serde_json::from_str::<Vec<String>>(text).map_err(|_| bad(what, &id))
        };
        let client = Client {
            name: self.name,
            redirect_uris: list(&self.redirect_uris, "redirect URIs")?,
            post_logout_redirect_uris: list(
                &self.post_logout_redirect_uris,
                "post-logout redirect URIs",
            )?,
            kind: ClientKind::parse(&self.kind).ok_or_else(|| bad("kind", &id))?,
            auth_method: ClientAuthMethod::parse(&self.auth_method)
                .ok_or_else(|| bad("authentication method", &id))?,
            first_party: self.first_party != 0,
            jwks: match self.jwks {
                Some(text) => Some(serde_json::from_str(&text).map_err(|_| bad("JWKS", &id))?),
                None => None,
            },
            id_token_alg: Alg::parse(&self.id_token_alg).map_err(|_| bad("ID token alg", &id))?,
            created_at: self.created_at,
            disabled: self.disabled != 0,
            native: self.native != 0,
            backchannel_logout_uri: self.backchannel_logout_uri,
            require_acr: match self.require_acr {
                Some(text) => Some(Acr::parse(&text).ok_or_else(|| bad("required level", &id))?),
                None => None,
            },
            id,
        };
        Ok((client, self.secret_hash))
    }
}

fn json_list(uris: &[String]) -> String {
    serde_json::Value::from(uris.to_vec()).to_string()
}

impl ClientRecords for Store {
    async fn add_client(
        &self,
        client: &Client,
        secret_hash: Option<&str>,
    ) -> Result<(), StorageError> {
        sqlx::query(&format!(
            "INSERT INTO oidc_clients ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&client.id)
        .bind(&client.name)
        .bind(json_list(&client.redirect_uris))
        .bind(json_list(&client.post_logout_redirect_uris))
        .bind(client.kind.as_str())
        .bind(client.auth_method.as_str())
        .bind(secret_hash)
        .bind(i64::from(client.first_party))
        .bind(client.jwks.as_ref().map(|j| j.to_string()))
        .bind(client.id_token_alg.as_str())
        .bind(client.created_at)
        .bind(i64::from(client.disabled))
        .bind(i64::from(client.native))
        .bind(client.backchannel_logout_uri.as_deref())
        .bind(client.require_acr.map(Acr::as_str))
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        self.recent_clients.forget(&client.id);
        Ok(())
    }

    async fn client_with_secret(
        &self,
        id: &str,
    ) -> Result<Option<(Client, Option<String>)>, StorageError> {
        if let Some(kept) = self.recent_clients.get(id) {
            return Ok(Some(kept));
        }
        let row: Option<ClientRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(storage_error)?;
        let found = row.map(ClientRow::into_client).transpose()?;
        if let Some((client, hash)) = &found {
            self.recent_clients.keep(client, hash.as_deref());
        }
        Ok(found)
    }

    async fn clients(&self) -> Result<Vec<Client>, StorageError> {
        let rows: Vec<ClientRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM oidc_clients ORDER BY created_at, name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        rows.into_iter()
            .map(|r| r.into_client().map(|(c, _)| c))
            .collect()
    }

    async fn set_client_disabled(&self, id: &str, disabled: bool) -> Result<bool, StorageError> {
        let done = sqlx::query("UPDATE oidc_clients SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        self.recent_clients.forget(id);
        Ok(done.rows_affected() == 1)
    }
}

impl AssertionReplay for Store {
    async fn remember_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        sqlx::query("DELETE FROM oidc_client_assertions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        // The primary key decides between two nodes seeing the same assertion at once.
        let done = sqlx::query(
            "INSERT INTO oidc_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }
}
