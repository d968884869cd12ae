use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::email_queue::{EmailQueueRecords, QueuedEmail};

#[derive(FromRow)]
struct EmailRow {
    id: String,
    recipient: String,
    subject: String,
    text_body: String,
    html_body: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
    failed_at: Option<i64>,
}

impl From<EmailRow> for QueuedEmail {
    fn from(r: EmailRow) -> Self {
        QueuedEmail {
            id: r.id,
            recipient: r.recipient,
            subject: r.subject,
            text_body: r.text_body,
            html_body: r.html_body,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
            failed_at: r.failed_at,
        }
    }
}

const COLUMNS: &str = "id, recipient, subject, text_body, html_body, attempts, next_attempt_at, \
                       last_error, created_at, sent_at, failed_at";

#[derive(FromRow)]
struct Attempts {
    attempts: i64,
}

impl EmailQueueRecords for Store {
    async fn enqueue_email(&self, email: &QueuedEmail) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO email_queue (id, recipient, subject, text_body, html_body, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&email.id)
        .bind(&email.recipient)
        .bind(&email.subject)
        .bind(&email.text_body)
        .bind(&email.html_body)
        .bind(email.attempts)
        .bind(email.next_attempt_at)
        .bind(email.created_at)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn due_emails(
        &self,
        now: UnixTime,
        limit: i64,
    ) -> Result<Vec<QueuedEmail>, StorageError> {
        let rows: Vec<EmailRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM email_queue \
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows.into_iter().map(QueuedEmail::from).collect())
    }

    async fn claim_email(
        &self,
        id: &str,
        now: UnixTime,
        lease_until: UnixTime,
    ) -> Result<Option<i64>, StorageError> {
        // One statement: of two nodes claiming at once, only one sees the row still due.
        let row: Option<Attempts> = sqlx::query_as(
            "UPDATE email_queue SET attempts = attempts + 1, next_attempt_at = $1 \
             WHERE id = $2 AND next_attempt_at <= $3 AND sent_at IS NULL AND failed_at IS NULL \
             RETURNING attempts",
        )
        .bind(lease_until)
        .bind(id)
        .bind(now)
        .fetch_optional(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(row.map(|r| r.attempts))
    }

    async fn email_sent(&self, id: &str, now: UnixTime) -> Result<(), StorageError> {
        sqlx::query("UPDATE email_queue SET sent_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn email_retry_at(
        &self,
        id: &str,
        at: UnixTime,
        error: &str,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE email_queue SET next_attempt_at = $1, last_error = $2 \
             WHERE id = $3 AND sent_at IS NULL",
        )
        .bind(at)
        .bind(error)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn email_given_up(
        &self,
        id: &str,
        now: UnixTime,
        error: &str,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE email_queue SET failed_at = $1, last_error = $2 \
             WHERE id = $3 AND sent_at IS NULL",
        )
        .bind(now)
        .bind(error)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn recent_emails(&self, limit: i64) -> Result<Vec<QueuedEmail>, StorageError> {
        let rows: Vec<EmailRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM email_queue ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(rows.into_iter().map(QueuedEmail::from).collect())
    }

    async fn purge_emails(
        &self,
        sent_before: UnixTime,
        failed_before: UnixTime,
    ) -> Result<u64, StorageError> {
        let done = sqlx::query(
            "DELETE FROM email_queue WHERE (sent_at IS NOT NULL AND sent_at < $1) \
             OR (failed_at IS NOT NULL AND failed_at < $2)",
        )
        .bind(sent_before)
        .bind(failed_before)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected())
    }
}
