use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::accounts::{ACCOUNT_COLUMNS, AccountRow};
use super::connections::Connections;
use super::grant_reads::padded;
use super::{Store, storage_error};
use domain::StorageError;
use domain::accounts::Account;
use domain::clock::UnixTime;
use domain::oidc::flows::{Grant, GrantRecords, StoredCode, StoredToken};

/// A grant's columns carry a `g_` alias: read beside a token and an account, the names
/// `id`, `created_at` and `expires_at` would otherwise be taken from whichever came first.
#[derive(FromRow)]
struct GrantRow {
    #[sqlx(rename = "g_id")]
    id: String,
    #[sqlx(rename = "g_client_id")]
    client_id: String,
    #[sqlx(rename = "g_account_id")]
    account_id: String,
    #[sqlx(rename = "g_scope")]
    scope: String,
    #[sqlx(rename = "g_auth_time")]
    auth_time: i64,
    #[sqlx(rename = "g_amr")]
    amr: String,
    #[sqlx(rename = "g_acr")]
    acr: String,
    #[sqlx(rename = "g_created_at")]
    created_at: i64,
    #[sqlx(rename = "g_expires_at")]
    expires_at: i64,
    #[sqlx(rename = "g_revoked_at")]
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

const GRANT_COLUMNS: &str = "g.id AS g_id, g.client_id AS g_client_id, \
     g.account_id AS g_account_id, g.scope AS g_scope, g.auth_time AS g_auth_time, g.amr AS g_amr, \
     g.acr AS g_acr, g.created_at AS g_created_at, g.expires_at AS g_expires_at, \
     g.revoked_at AS g_revoked_at";

/// A grant with the account it was issued to (and the account's organisation), in one read:
/// every use of a code or token needs both.
const ACCOUNT_OF_GRANT: &str =
    "JOIN accounts a ON a.id = g.account_id JOIN organisations o ON o.code = a.org_code";

#[derive(FromRow)]
struct HeldGrantRow {
    #[sqlx(flatten)]
    grant: GrantRow,
    #[sqlx(flatten)]
    account: AccountRow,
}

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
    #[sqlx(flatten)]
    held: HeldGrantRow,
}

/// When a code or refresh token (`{of}` names its hash column) was spent: when the tokens
/// issued from it were made (migration 0017), or the used_at written before that.
fn spent_at(of: &str, used_at: &str) -> String {
    format!(
        "COALESCE({used_at}, (SELECT MIN(n.created_at) FROM oidc_tokens n \
         WHERE n.issued_from = {of}))"
    )
}

#[derive(FromRow)]
struct TokenRow {
    #[sqlx(rename = "t_token_hash")]
    token_hash: String,
    #[sqlx(rename = "t_kind")]
    kind: String,
    #[sqlx(rename = "t_grant_id")]
    grant_id: String,
    #[sqlx(rename = "t_expires_at")]
    expires_at: i64,
    #[sqlx(rename = "t_used_at")]
    used_at: Option<i64>,
    #[sqlx(rename = "t_created_at")]
    created_at: i64,
    #[sqlx(rename = "t_issued_from")]
    issued_from: Option<String>,
    #[sqlx(flatten)]
    held: HeldGrantRow,
}

impl HeldGrantRow {
    fn into_parts(self) -> Result<(Grant, Account), StorageError> {
        Ok((Grant::from(self.grant), Account::try_from(self.account)?))
    }
}

/// Inserts a grant in a transaction under way (with its code, or with the device
/// authorization that it answers).
pub(super) async fn insert_grant(
    tx: &mut super::connections::WriteTransaction,
    g: &Grant,
) -> Result<(), StorageError> {
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
    .execute(&mut **tx)
    .await
    .map_err(storage_error)?;
    Ok(())
}

/// What a code finds: the code, its grant and the grant's account.
pub(super) type HeldCode = (StoredCode, Grant, Account);
/// What a token finds: the token, its grant and the grant's account.
pub(super) type HeldToken = (StoredToken, Grant, Account);

/// The rows of the query `select` makes from a key list ("($1, $2, …)"), for `keys` (the list
/// padded to a power of two: `grant_reads::padded`).
async fn rows_with_keys<R>(
    pool: &Connections,
    keys: Vec<String>,
    select: impl FnOnce(&str) -> String,
) -> Result<Vec<R>, StorageError>
where
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let (list, keys) = padded(keys);
    let sql = select(&list);
    let mut query = sqlx::query_as::<_, R>(&sql);
    for key in &keys {
        query = query.bind(key);
    }
    query.fetch_all(pool).await.map_err(storage_error)
}

/// The codes of `code_hashes` that exist, each with its grant and account, in one query
/// (`grant_reads`: the lookups of every exchange waiting at the moment).
pub(super) async fn codes(
    pool: Connections,
    code_hashes: Vec<String>,
) -> Result<Vec<(String, HeldCode)>, StorageError> {
    let rows: Vec<CodeRow> = rows_with_keys(&pool, code_hashes, |list| {
        format!(
            "SELECT c.code_hash, c.grant_id, c.client_id, c.redirect_uri, c.nonce, \
             c.code_challenge, c.expires_at, {} AS used_at, {GRANT_COLUMNS}, {ACCOUNT_COLUMNS} \
             FROM oidc_codes c JOIN oidc_grants g ON g.id = c.grant_id {ACCOUNT_OF_GRANT} \
             WHERE c.code_hash IN {list}",
            spent_at("c.code_hash", "c.used_at")
        )
    })
    .await?;
    rows.into_iter()
        .map(|r| {
            let (grant, account) = r.held.into_parts()?;
            let code = StoredCode {
                code_hash: r.code_hash,
                grant_id: r.grant_id,
                client_id: r.client_id,
                redirect_uri: r.redirect_uri,
                nonce: r.nonce,
                code_challenge: r.code_challenge,
                expires_at: r.expires_at,
                used_at: r.used_at,
            };
            Ok((code.code_hash.clone(), (code, grant, account)))
        })
        .collect()
}

/// The tokens of `token_hashes` that exist, each with its grant and account, in one query.
pub(super) async fn tokens(
    pool: Connections,
    token_hashes: Vec<String>,
) -> Result<Vec<(String, HeldToken)>, StorageError> {
    let rows: Vec<TokenRow> = rows_with_keys(&pool, token_hashes, |list| {
        format!(
            "SELECT t.token_hash AS t_token_hash, t.kind AS t_kind, t.grant_id AS t_grant_id, \
             t.expires_at AS t_expires_at, {} AS t_used_at, t.created_at AS t_created_at, \
             t.issued_from AS t_issued_from, {GRANT_COLUMNS}, {ACCOUNT_COLUMNS} \
             FROM oidc_tokens t JOIN oidc_grants g ON g.id = t.grant_id {ACCOUNT_OF_GRANT} \
             WHERE t.token_hash IN {list}",
            spent_at("t.token_hash", "t.used_at")
        )
    })
    .await?;
    rows.into_iter()
        .map(|r| {
            let (grant, account) = r.held.into_parts()?;
            let token = StoredToken {
                token_hash: r.token_hash,
                kind: r.kind,
                grant_id: r.grant_id,
                expires_at: r.expires_at,
                used_at: r.used_at,
                created_at: r.created_at,
                issued_from: r.issued_from,
            };
            Ok((token.token_hash.clone(), (token, grant, account)))
        })
        .collect()
}

pub(super) const REVOKE_GRANTS_OF_ACCOUNT: &str =
    "UPDATE oidc_grants SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL";
/// The account's ($2) grants to one app ($3).
pub(super) const REVOKE_GRANTS_OF_CLIENT: &str = "UPDATE oidc_grants SET revoked_at = $1 \
     WHERE account_id = $2 AND client_id = $3 AND revoked_at IS NULL";

impl GrantRecords for Store {
    async fn insert_grant_with_code(&self, g: &Grant, c: &StoredCode) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        insert_grant(&mut tx, g).await?;
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

    async fn code(
        &self,
        code_hash: &str,
    ) -> Result<Option<(StoredCode, Grant, Account)>, StorageError> {
        self.code_reads.get(code_hash).await
    }

    async fn insert_token(&self, token: StoredToken) -> Result<(), StorageError> {
        // Written together with the tokens of other exchanges waiting at the same moment (one
        // statement, one commit). A second token issued from the same code or refresh token is
        // refused by the unique index on issued_from: StorageError::Conflict.
        self.token_writes.insert(token).await
    }

    async fn token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(StoredToken, Grant, Account)>, StorageError> {
        self.token_reads.get(token_hash).await
    }

    async fn grant(&self, grant_id: &str) -> Result<Option<(Grant, Account)>, StorageError> {
        let row: Option<HeldGrantRow> = sqlx::query_as(&format!(
            "SELECT {GRANT_COLUMNS}, {ACCOUNT_COLUMNS} FROM oidc_grants g {ACCOUNT_OF_GRANT} \
             WHERE g.id = $1"
        ))
        .bind(grant_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        row.map(HeldGrantRow::into_parts).transpose()
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
        let done = sqlx::query(REVOKE_GRANTS_OF_ACCOUNT)
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
