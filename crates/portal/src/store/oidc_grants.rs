use sqlx::FromRow;

use super::{Store, storage_error};
use crate::clock::UnixTime;
use crate::domain::StorageError;
use crate::domain::oidc::flows::{CodeTaken, Grant, GrantRecords, StoredCode, StoredToken};

#[derive(FromRow)]
struct GrantRow {
    id: String,
    client_id: String,
    account_id: String,
    scope: String,
    auth_time: i64,
    amr: String,
    acr: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl From<GrantRow> for Grant {
    fn from(r: GrantRow) -> Self {
        Grant {
            id: r.id,
            client_id: r.client_id,
            account_id: r.account_id,
            scope: r.scope,
            auth_time: r.auth_time,
            amr: r.amr,
            acr: r.acr,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

const GRANT_COLUMNS: &str = "g.id, g.client_id, g.account_id, g.scope, g.auth_time, g.amr, \
     g.acr, g.created_at, g.expires_at, g.revoked_at";

#[derive(FromRow)]
struct CodeRow {
    code_hash: String,
    grant_id: String,
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    expires_at: i64,
    used_at: Option<i64>,
}

#[derive(FromRow)]
struct TokenRow {
    token_hash: String,
    kind: String,
    grant_id: String,
    expires_at: i64,
    used_at: Option<i64>,
    created_at: i64,
    #[sqlx(flatten)]
    grant: GrantRow,
}

impl Store {
    async fn grant_by_id(&self, id: &str) -> Result<Option<Grant>, StorageError> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM oidc_grants g WHERE g.id = $1");
        let row: Option<GrantRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(row.map(Grant::from))
    }
}

impl GrantRecords for Store {
    async fn insert_grant_with_code(&self, g: &Grant, c: &StoredCode) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        sqlx::query(
            "INSERT INTO oidc_grants (id, client_id, account_id, scope, auth_time, amr, acr, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&g.id)
        .bind(&g.client_id)
        .bind(&g.account_id)
        .bind(&g.scope)
        .bind(g.auth_time)
        .bind(&g.amr)
        .bind(&g.acr)
        .bind(g.created_at)
        .bind(g.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, grant_id, client_id, redirect_uri, nonce, \
             code_challenge, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.code_hash)
        .bind(&c.grant_id)
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(c.nonce.as_deref())
        .bind(c.code_challenge.as_deref())
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        tx.commit().await.map_err(storage_error)
    }

    async fn take_code(&self, code_hash: &str, now: UnixTime) -> Result<CodeTaken, StorageError> {
        // One statement marks the code used, once (of two requests racing, one gets the row),
        // and returns it: a round trip fewer on the writer than an UPDATE and a SELECT.
        let taken: Option<CodeRow> = sqlx::query_as(
            "UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
             RETURNING code_hash, grant_id, client_id, redirect_uri, nonce, code_challenge, \
             expires_at, used_at",
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(&self.writer)
        .await
        .map_err(storage_error)?;
        let Some(r) = taken else {
            // Read from the writer: the row may have just been changed, and a replica may lag.
            let used: Option<(String,)> =
                sqlx::query_as("SELECT grant_id FROM oidc_codes WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&self.writer)
                    .await
                    .map_err(storage_error)?;
            return Ok(match used {
                Some((grant_id,)) => CodeTaken::Reused(grant_id),
                None => CodeTaken::Unknown,
            });
        };
        let Some(grant) = self.grant_by_id(&r.grant_id).await? else {
            return Ok(CodeTaken::Unknown);
        };
        Ok(CodeTaken::Fresh(Box::new((
            StoredCode {
                code_hash: r.code_hash,
                grant_id: r.grant_id,
                client_id: r.client_id,
                redirect_uri: r.redirect_uri,
                nonce: r.nonce,
                code_challenge: r.code_challenge,
                expires_at: r.expires_at,
                used_at: r.used_at,
            },
            grant,
        ))))
    }

    async fn insert_tokens(&self, tokens: &[StoredToken]) -> Result<(), StorageError> {
        if tokens.is_empty() {
            return Ok(());
        }
        // One multi-row INSERT: atomic on its own, so no transaction (BEGIN and COMMIT were two
        // more round trips on the one writer).
        let mut sql = String::from(
            "INSERT INTO oidc_tokens (token_hash, kind, grant_id, expires_at, created_at) VALUES ",
        );
        for i in 0..tokens.len() {
            let p = i * 5;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5
            ));
        }
        let mut query = sqlx::query(&sql);
        for t in tokens {
            query = query
                .bind(&t.token_hash)
                .bind(&t.kind)
                .bind(&t.grant_id)
                .bind(t.expires_at)
                .bind(t.created_at);
        }
        query.execute(&self.writer).await.map_err(storage_error)?;
        Ok(())
    }

    async fn token(&self, token_hash: &str) -> Result<Option<(StoredToken, Grant)>, StorageError> {
        let sql = format!(
            "SELECT t.token_hash, t.kind, t.grant_id, t.expires_at, t.used_at, t.created_at, \
             {GRANT_COLUMNS} FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
             WHERE t.token_hash = $1"
        );
        let row: Option<TokenRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(row.map(|r| {
            (
                StoredToken {
                    token_hash: r.token_hash,
                    kind: r.kind,
                    grant_id: r.grant_id,
                    expires_at: r.expires_at,
                    used_at: r.used_at,
                    created_at: r.created_at,
                },
                Grant::from(r.grant),
            )
        }))
    }

    async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE oidc_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND kind = 'refresh' AND used_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> Result<(), StorageError> {
        sqlx::query("UPDATE oidc_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn revoke_grants_of_account(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> Result<u64, StorageError> {
        let done = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(account_id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected())
    }

    async fn consented_scope(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> Result<Option<String>, StorageError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT scope FROM oidc_consents WHERE account_id = $1 AND client_id = $2",
        )
        .bind(account_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(row.map(|(s,)| s))
    }

    async fn save_consent(
        &self,
        account_id: &str,
        client_id: &str,
        scope: &str,
        now: UnixTime,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO oidc_consents (account_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, client_id) \
             DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(account_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }
}
