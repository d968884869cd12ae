use sqlx::FromRow;

use super::accounts::{ACCOUNT_COLUMNS, AccountRow};
use super::{Store, storage_error};
use domain::StorageError;
use domain::accounts::Account;
use domain::admin::{AccountSummary, AdminRecords, EnrolmentFilter, UserSearch};
use domain::clock::UnixTime;
use domain::temporary_access::{PassRecords, StoredPass};

#[derive(FromRow)]
struct SummaryRow {
    #[sqlx(flatten)]
    account: AccountRow,
    method_count: i64,
    locked_until: Option<i64>,
}

#[derive(FromRow)]
struct PassRow {
    id: String,
    account_id: String,
    code_hash: String,
    expires_at: i64,
}

/// `%text%` for LIKE, with LIKE's own wildcards in the text taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(super) const DELETE_METHODS: &str = "DELETE FROM mfa_methods WHERE account_id = $1";
pub(super) const SET_NEEDS_PASS: &str =
    "UPDATE accounts SET enrolment_needs_pass = $1 WHERE id = $2";

/// Voids the account's unused pass and stores `pass`, inside `tx`.
pub(super) async fn write_pass(
    tx: &mut super::connections::WriteTransaction,
    pass: &StoredPass,
    issued_by: &str,
    now: UnixTime,
) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE temporary_access_passes SET used_at = $1 \
         WHERE account_id = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(&pass.account_id)
    .execute(&mut **tx)
    .await
    .map_err(storage_error)?;
    sqlx::query(
        "INSERT INTO temporary_access_passes (id, account_id, code_hash, expires_at, \
         issued_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&pass.id)
    .bind(&pass.account_id)
    .bind(&pass.code_hash)
    .bind(pass.expires_at)
    .bind(issued_by)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(storage_error)?;
    Ok(())
}

impl AdminRecords for Store {
    async fn search_accounts(
        &self,
        search: &UserSearch,
    ) -> Result<Vec<AccountSummary>, StorageError> {
        // The SQL is fixed text; every value the person typed is a bound parameter.
        let has_method = "EXISTS (SELECT 1 FROM mfa_methods m WHERE m.account_id = a.id)";
        let lock = "(SELECT MAX(l.blocked_until) FROM sign_in_limits l \
                    WHERE l.limit_key IN ('signin:email:' || a.email_normalized, 'mfa:account:' || a.id) \
                    AND l.failures >= $4 AND l.blocked_until > $5)";
        let filter = match search.filter {
            None => String::new(),
            Some(EnrolmentFilter::Enrolled) => format!("AND {has_method}"),
            Some(EnrolmentFilter::NotEnrolled) => format!("AND NOT {has_method}"),
            Some(EnrolmentFilter::Locked) => format!("AND {lock} IS NOT NULL"),
        };
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, \
             (SELECT COUNT(*) FROM mfa_methods m WHERE m.account_id = a.id) AS method_count, \
             {lock} AS locked_until \
             FROM accounts a JOIN organisations o ON o.code = a.org_code \
             WHERE ($1 = '' OR a.org_code = $1) \
             AND ($2 = '%%' OR a.email_normalized LIKE $2 ESCAPE '\\' \
                  OR LOWER(a.display_name) LIKE $2 ESCAPE '\\') \
             {filter} \
             ORDER BY a.email_normalized LIMIT $3 OFFSET $6"
        );
        let rows: Vec<SummaryRow> = sqlx::query_as(&sql)
            .bind(search.org.as_deref().unwrap_or(""))
            .bind(like_pattern(&search.text))
            .bind(search.limit)
            .bind(search.lock_after)
            .bind(search.now)
            .bind(search.offset)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(AccountSummary {
                    account: Account::try_from(r.account)?,
                    methods: r.method_count,
                    locked_until: r.locked_until,
                })
            })
            .collect()
    }
}

impl PassRecords for Store {
    async fn live_temporary_access_pass(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> Result<Option<StoredPass>, StorageError> {
        let row: Option<PassRow> = sqlx::query_as(
            "SELECT id, account_id, code_hash, expires_at FROM temporary_access_passes \
             WHERE account_id = $1 AND used_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(account_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(row.map(|r| StoredPass {
            id: r.id,
            account_id: r.account_id,
            code_hash: r.code_hash,
            expires_at: r.expires_at,
        }))
    }

    async fn enrolment_needs_pass(&self, account_id: &str) -> Result<bool, StorageError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT enrolment_needs_pass FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(storage_error)?;
        Ok(row.is_some_and(|(n,)| n != 0))
    }

    async fn set_enrolment_needs_pass(
        &self,
        account_id: &str,
        needs: bool,
    ) -> Result<(), StorageError> {
        sqlx::query(SET_NEEDS_PASS)
            .bind(i64::from(needs))
            .bind(account_id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn spend_temporary_access_pass(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE temporary_access_passes SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }
}
