use sqlx::FromRow;

use super::accounts::{ACCOUNT_COLUMNS, AccountRow};
use super::{Store, storage_error};
use domain::StorageError;
use domain::accounts::Account;
use domain::clock::UnixTime;
use domain::invitations::{Invitation, InvitationRecords};

#[derive(FromRow)]
struct InvitationRow {
    expires_at: i64,
    used_at: Option<i64>,
    #[sqlx(flatten)]
    account: AccountRow,
}

impl InvitationRecords for Store {
    async fn invitation(&self, token_hash: &str) -> Result<Option<Invitation>, StorageError> {
        let sql = format!(
            "SELECT i.expires_at, i.used_at, {ACCOUNT_COLUMNS} FROM invitations i \
             JOIN accounts a ON a.id = i.account_id \
             JOIN organisations o ON o.code = a.org_code WHERE i.token_hash = $1"
        );
        let row: Option<InvitationRow> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        row.map(|r| {
            Ok(Invitation {
                account: Account::try_from(r.account)?,
                expires_at: r.expires_at,
                used_at: r.used_at,
            })
        })
        .transpose()
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        account_id: &str,
        password_hash: &str,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        let used = sqlx::query(
            "UPDATE invitations SET used_at = $1 \
             WHERE token_hash = $2 AND account_id = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .bind(account_id)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        if used.rows_affected() != 1 {
            tx.rollback().await.map_err(storage_error)?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, password_changed_at = $2, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(password_hash)
        .bind(now)
        .bind(account_id)
        .execute(&mut *tx)
        .await
        .map_err(storage_error)?;
        tx.commit().await.map_err(storage_error)?;
        Ok(true)
    }
}
