use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::accounts::{Account, AccountRecords, AccountState, NewAccount};
use domain::clock::UnixTime;

/// Columns of an account joined with its organisation's name.
pub(super) const ACCOUNT_COLUMNS: &str = "a.id, a.email, a.display_name, a.org_code, \
     o.name AS org_name, a.role, a.state, a.password_hash, a.password_changed_at, \
     a.created_at, a.updated_at, a.password_action";

#[derive(FromRow)]
pub(super) struct AccountRow {
    id: String,
    email: String,
    display_name: String,
    org_code: String,
    org_name: String,
    role: String,
    state: String,
    password_hash: Option<String>,
    password_changed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    password_action: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StorageError;
    fn try_from(r: AccountRow) -> Result<Self, StorageError> {
        let bad = |what: &str| StorageError::Other(format!("account {}: bad {what}", r.id));
        Ok(Account {
            role: r.role.parse().map_err(|_| bad("role"))?,
            state: r.state.parse().map_err(|_| bad("state"))?,
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            org_code: r.org_code,
            org_name: r.org_name,
            password_hash: r.password_hash,
            password_changed_at: r.password_changed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            password_action: domain::accounts::PasswordAction::from_i64(r.password_action),
        })
    }
}

impl Store {
    async fn account_where(
        &self,
        condition: &str,
        value: &str,
    ) -> Result<Option<Account>, StorageError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a \
             JOIN organisations o ON o.code = a.org_code WHERE {condition} = $1"
        );
        let row: Option<AccountRow> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        row.map(Account::try_from).transpose()
    }
}

pub(super) const SET_STATE: &str = "UPDATE accounts SET state = $1, updated_at = $2 WHERE id = $3";
pub(super) const SET_PASSWORD_ACTION: &str =
    "UPDATE accounts SET password_action = $1 WHERE id = $2";
pub(super) const SET_PASSWORD_HASH: &str = "UPDATE accounts SET password_hash = $1, \
     password_changed_at = $2, updated_at = $2 WHERE id = $3";

impl AccountRecords for Store {
    async fn insert_account(&self, account: &NewAccount) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO accounts (id, email, email_normalized, display_name, org_code, role, \
             state, password_hash, password_changed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $9)",
        )
        .bind(&account.id)
        .bind(account.email.as_str())
        .bind(account.email.normalized())
        .bind(&account.display_name)
        .bind(&account.org_code)
        .bind(account.role.as_str())
        .bind(&account.password_hash)
        .bind(account.password_hash.as_ref().map(|_| account.now))
        .bind(account.now)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn account_by_email(&self, normalized: &str) -> Result<Option<Account>, StorageError> {
        self.account_where("a.email_normalized", normalized).await
    }

    async fn account_by_id(&self, id: &str) -> Result<Option<Account>, StorageError> {
        self.account_where("a.id", id).await
    }

    async fn all_accounts(&self) -> Result<Vec<Account>, StorageError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a \
             JOIN organisations o ON o.code = a.org_code ORDER BY a.org_code, a.email_normalized"
        );
        let rows: Vec<AccountRow> = sqlx::query_as(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        rows.into_iter().map(Account::try_from).collect()
    }

    async fn update_account_state(
        &self,
        id: &str,
        state: AccountState,
        now: UnixTime,
    ) -> Result<(), StorageError> {
        sqlx::query(SET_STATE)
            .bind(state.as_str())
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn set_password_action(
        &self,
        id: &str,
        action: domain::accounts::PasswordAction,
    ) -> Result<(), StorageError> {
        sqlx::query(SET_PASSWORD_ACTION)
            .bind(action.as_i64())
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn update_password_hash(
        &self,
        id: &str,
        hash: &str,
        now: UnixTime,
    ) -> Result<(), StorageError> {
        sqlx::query(SET_PASSWORD_HASH)
            .bind(hash)
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}
