//! "Where you're signed in": the sessions and live app grants of one account.

use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::sessions::{SessionRecord, SessionStage};
use domain::signed_in::{AppAccess, SignedInRecords};

#[derive(FromRow)]
struct SessionRow {
    id_hash: String,
    account_id: String,
    created_at: i64,
    last_seen_at: i64,
    auth_methods: String,
    ip: String,
    user_agent: String,
    stage: String,
    second_factor_at: Option<i64>,
}

#[derive(FromRow)]
struct AppRow {
    client_id: String,
    name: Option<String>,
    native: Option<i64>,
    backchannel_logout_uri: Option<String>,
    granted_at: i64,
    last_used_at: Option<i64>,
}

/// At most this many sessions are listed (an account rarely has more than a handful).
const MOST_SESSIONS: i64 = 200;

impl SignedInRecords for Store {
    async fn sessions_of_account(
        &self,
        account_id: &str,
    ) -> Result<Vec<SessionRecord>, StorageError> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT id_hash, account_id, created_at, last_seen_at, auth_methods, ip, user_agent, \
             stage, second_factor_at FROM sessions WHERE account_id = $1 \
             ORDER BY last_seen_at DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(MOST_SESSIONS)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(SessionRecord {
                    stage: SessionStage::parse(&r.stage).ok_or_else(|| {
                        StorageError::Other(format!("bad session stage {}", r.stage))
                    })?,
                    id_hash: r.id_hash,
                    account_id: r.account_id,
                    created_at: r.created_at,
                    last_seen_at: r.last_seen_at,
                    auth_methods: r.auth_methods,
                    ip: r.ip,
                    user_agent: r.user_agent,
                    flow: None,
                    second_factor_at: r.second_factor_at,
                })
            })
            .collect()
    }

    async fn apps_of_account(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> Result<Vec<AppAccess>, StorageError> {
        let rows: Vec<AppRow> = sqlx::query_as(
            "SELECT g.client_id, MAX(c.name) AS name, MAX(c.native) AS native, \
             MAX(c.backchannel_logout_uri) AS backchannel_logout_uri, \
             MIN(g.created_at) AS granted_at, \
             (SELECT MAX(t.created_at) FROM oidc_tokens t JOIN oidc_grants h ON h.id = t.grant_id \
              WHERE h.account_id = $1 AND h.client_id = g.client_id) AS last_used_at \
             FROM oidc_grants g LEFT JOIN oidc_clients c ON c.id = g.client_id \
             WHERE g.account_id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2 \
             GROUP BY g.client_id ORDER BY MIN(g.created_at) DESC LIMIT 200",
        )
        .bind(account_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|r| AppAccess {
                client_name: r.name.unwrap_or_else(|| r.client_id.clone()),
                native: r.native.unwrap_or(0) != 0,
                backchannel_logout_uri: r.backchannel_logout_uri,
                granted_at: r.granted_at,
                last_used_at: r.last_used_at.unwrap_or(r.granted_at),
                client_id: r.client_id,
            })
            .collect())
    }
}
