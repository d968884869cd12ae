use sqlx::FromRow;

use super::accounts::{ACCOUNT_COLUMNS, AccountRow};
use super::{Store, storage_error};
use domain::StorageError;
use domain::accounts::Account;
use domain::clock::UnixTime;
use domain::sessions::{SessionRecord, SessionRecords, SessionStage};

#[derive(FromRow)]
struct SessionRow {
    s_id_hash: String,
    s_account_id: String,
    s_created_at: i64,
    s_last_seen_at: i64,
    s_auth_methods: String,
    s_ip: String,
    s_user_agent: String,
    s_stage: String,
    s_flow: Option<String>,
    s_second_factor_at: Option<i64>,
    s_method_count: i64,
    #[sqlx(flatten)]
    account: AccountRow,
}

/// Every session of the account ($1) but one ($2, or none when empty).
pub(super) const END_SESSIONS: &str =
    "DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2";
/// One session ($2) of the account ($1).
pub(super) const END_SESSION_OF_ACCOUNT: &str =
    "DELETE FROM sessions WHERE account_id = $1 AND id_hash = $2";

impl SessionRecords for Store {
    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, created_at, last_seen_at, auth_methods, \
             ip, user_agent, stage, flow, second_factor_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&s.id_hash)
        .bind(&s.account_id)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(&s.auth_methods)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.stage.as_str())
        .bind(&s.flow)
        .bind(s.second_factor_at)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn session_with_account(
        &self,
        id_hash: &str,
    ) -> Result<Option<(SessionRecord, Account, bool)>, StorageError> {
        let sql = format!(
            "SELECT s.id_hash AS s_id_hash, s.account_id AS s_account_id, \
             s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, \
             s.auth_methods AS s_auth_methods, s.ip AS s_ip, s.user_agent AS s_user_agent, \
             s.stage AS s_stage, s.flow AS s_flow, s.second_factor_at AS s_second_factor_at, \
             (SELECT COUNT(*) FROM mfa_methods m WHERE m.account_id = a.id) AS s_method_count, \
             {ACCOUNT_COLUMNS} FROM sessions s JOIN accounts a ON a.id = s.account_id \
             JOIN organisations o ON o.code = a.org_code WHERE s.id_hash = $1"
        );
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        let Some(row) = row else { return Ok(None) };
        let record = SessionRecord {
            id_hash: row.s_id_hash,
            account_id: row.s_account_id,
            created_at: row.s_created_at,
            last_seen_at: row.s_last_seen_at,
            auth_methods: row.s_auth_methods,
            ip: row.s_ip,
            user_agent: row.s_user_agent,
            stage: SessionStage::parse(&row.s_stage)
                .ok_or_else(|| StorageError::Other(format!("bad session stage {}", row.s_stage)))?,
            flow: row.s_flow,
            second_factor_at: row.s_second_factor_at,
        };
        Ok(Some((
            record,
            Account::try_from(row.account)?,
            row.s_method_count > 0,
        )))
    }

    async fn set_session_flow(
        &self,
        id_hash: &str,
        flow: Option<&str>,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE sessions SET flow = $1 WHERE id_hash = $2")
            .bind(flow)
            .bind(id_hash)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn restart_second_step(&self, id_hash: &str, now: UnixTime) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE sessions SET created_at = $1, last_seen_at = $1 \
             WHERE id_hash = $2 AND stage = 'second_factor'",
        )
        .bind(now)
        .bind(id_hash)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn touch_session(&self, id_hash: &str, now: UnixTime) -> Result<(), StorageError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn replace_session(
        &self,
        old_hash: &str,
        s: &SessionRecord,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE sessions SET id_hash = $1, created_at = $2, last_seen_at = $3, \
             auth_methods = $4, ip = $5, user_agent = $6, stage = $7, flow = $8, \
             second_factor_at = $9 WHERE id_hash = $10 AND account_id = $11",
        )
        .bind(&s.id_hash)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(&s.auth_methods)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .bind(s.stage.as_str())
        .bind(&s.flow)
        .bind(s.second_factor_at)
        .bind(old_hash)
        .bind(&s.account_id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StorageError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_sessions_of_account(
        &self,
        account_id: &str,
        keep: Option<&str>,
    ) -> Result<u64, StorageError> {
        let done = sqlx::query(END_SESSIONS)
            .bind(account_id)
            .bind(keep.unwrap_or(""))
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected())
    }
}
