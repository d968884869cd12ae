//! Bulk inserts for `nhsmal dev seed` (generated data for benchmarks at NHSmal's size): one
//! transaction per call, multi-row INSERTs of `ROWS_PER_INSERT` rows.

use super::{Backend, Store, placeholders, storage_error};

/// The sign-in risk queries, for `nhsmal-dev time-risk --explain`.
pub use super::monitoring::{
    ACCOUNT_HISTORY_SQL, FAILED_EMAILS_SQL, FAMILIAR_SQL, PASSWORD_FAILURES_SQL,
};
use domain::StorageError;
use domain::clock::UnixTime;

/// Rows per INSERT statement: 500 accounts × 11 values stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 parameters.
pub const ROWS_PER_INSERT: usize = 500;

pub struct SeedOrganisation {
    pub code: String,
    pub name: String,
}

pub struct SeedAccount {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub org_code: String,
}

pub struct SeedMethod {
    pub id: String,
    pub account_id: String,
    pub kind: &'static str,
    pub name: &'static str,
    pub phone: Option<String>,
    pub is_default: bool,
    pub created_at: UnixTime,
}

impl Store {
    pub async fn seed_organisations(
        &self,
        orgs: &[SeedOrganisation],
        now: UnixTime,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for chunk in orgs.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO organisations (code, name, created_at) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for o in chunk {
                query = query.bind(&o.code).bind(&o.name).bind(now);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    /// Active users with the same password hash (computed once by the caller).
    pub async fn seed_accounts(
        &self,
        accounts: &[SeedAccount],
        password_hash: &str,
        created_at: UnixTime,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for chunk in accounts.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO accounts (id, email, email_normalized, display_name, org_code, role, \
                 state, password_hash, password_changed_at, created_at, updated_at) VALUES {}",
                placeholders(chunk.len(), 11)
            );
            let mut query = sqlx::query(&sql);
            for a in chunk {
                query = query
                    .bind(&a.id)
                    .bind(&a.email)
                    .bind(a.email.to_lowercase())
                    .bind(&a.display_name)
                    .bind(&a.org_code)
                    .bind("user")
                    .bind("active")
                    .bind(password_hash)
                    .bind(created_at)
                    .bind(created_at)
                    .bind(created_at);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    /// Methods without secrets: enough for reports and searches, not for signing in with them.
    pub async fn seed_methods(&self, methods: &[SeedMethod]) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for chunk in methods.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO mfa_methods (id, account_id, kind, name, phone, is_default, \
                 created_at) VALUES {}",
                placeholders(chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql);
            for m in chunk {
                query = query
                    .bind(&m.id)
                    .bind(&m.account_id)
                    .bind(m.kind)
                    .bind(m.name)
                    .bind(&m.phone)
                    .bind(i64::from(m.is_default))
                    .bind(m.created_at);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    /// Refreshes the planner's statistics after a bulk load (the same statement on both).
    pub async fn analyze(&self) -> Result<(), StorageError> {
        sqlx::query("ANALYZE")
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}

/// A generated row of the sign-in log (`nhsmal dev seed-sign-ins`).
pub struct SeedSignIn {
    pub at: UnixTime,
    pub account_id: Option<String>,
    pub email: String,
    pub org_code: Option<String>,
    pub ip: String,
    pub source: String,
    pub network: String,
    pub user_agent: &'static str,
    pub device: Option<String>,
    pub step: &'static str,
    pub method: Option<&'static str>,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub country: Option<&'static str>,
    pub place: Option<&'static str>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub correlation_id: String,
}

/// A person the sign-in log is generated for.
#[derive(sqlx::FromRow)]
pub struct SeedPerson {
    pub id: String,
    pub email: String,
    pub org_code: String,
}

/// A row of the sign-in log picked at random, to replay as the next sign-in of its account.
#[derive(sqlx::FromRow)]
pub struct SampledSignIn {
    pub account_id: String,
    pub email: String,
    pub ip: String,
    pub user_agent: String,
    pub device: Option<String>,
}

impl Store {
    /// Every active account, the population of the generated sign-in log.
    pub async fn seed_people(&self) -> Result<Vec<SeedPerson>, StorageError> {
        sqlx::query_as(
            "SELECT id, email_normalized AS email, org_code FROM accounts \
             WHERE state = 'active' ORDER BY email_normalized",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)
    }

    pub async fn sign_in_rows(&self) -> Result<i64, StorageError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sign_in_events")
            .fetch_one(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(n)
    }

    /// The sign-in log's secondary indexes as the migrations made them (name, CREATE INDEX
    /// statement): dropped for a bulk load and made again after it, which is several times
    /// faster than keeping five indexes up to date row by row.
    pub async fn sign_in_indexes(&self) -> Result<Vec<(String, String)>, StorageError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'sign_in_events' AND sql IS NOT NULL ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT indexname::TEXT, indexdef FROM pg_indexes WHERE tablename = 'sign_in_events' \
                 AND indexname <> 'sign_in_events_pkey' ORDER BY indexname"
            }
        };
        sqlx::query_as(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)
    }

    /// Runs one statement read from the catalogue by `sign_in_indexes` (or a DROP INDEX of
    /// one of its names).
    pub async fn seed_index_statement(&self, sql: &str) -> Result<(), StorageError> {
        sqlx::query(sql)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Rows of the sign-in log, in one transaction.
    pub async fn seed_sign_ins(&self, rows: &[SeedSignIn]) -> Result<(), StorageError> {
        // sqlx looks each SQLite parameter up by name, a cost that grows with their number:
        // 200 a statement there (a 500-row INSERT of 20 columns wrote 4,000 rows/s).
        let per_insert = match self.backend {
            Backend::Sqlite => 10,
            Backend::Postgres => ROWS_PER_INSERT,
        };
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for chunk in rows.chunks(per_insert) {
            let sql = format!(
                "INSERT INTO sign_in_events (at, account_id, email, org_code, ip, source, \
                 network, user_agent, device, step, method, outcome, reason, risk, signals, \
                 country, place, latitude, longitude, correlation_id) VALUES {}",
                placeholders(chunk.len(), 20)
            );
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(r.at)
                    .bind(&r.account_id)
                    .bind(&r.email)
                    .bind(&r.org_code)
                    .bind(&r.ip)
                    .bind(&r.source)
                    .bind(&r.network)
                    .bind(r.user_agent)
                    .bind(&r.device)
                    .bind(r.step)
                    .bind(r.method)
                    .bind(r.outcome)
                    .bind(r.reason)
                    .bind("none")
                    .bind("")
                    .bind(r.country)
                    .bind(r.place)
                    .bind(r.latitude)
                    .bind(r.longitude)
                    .bind(&r.correlation_id);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)
    }

    /// Fills the summary of what each account signed in from (`sign_in_familiar`, which
    /// `record_sign_in` keeps row by row) from the finished sign-ins of a bulk-loaded log, set
    /// by set: one statement a kind, the same SQL on both stores.
    pub async fn seed_familiar(&self) -> Result<(), StorageError> {
        const FINISHED: &str = "FROM sign_in_events WHERE outcome = 'success' \
             AND account_id IS NOT NULL";
        let kinds = [
            ("device", "device", "AND device IS NOT NULL"),
            ("network", "network", ""),
            ("country", "country", "AND country IS NOT NULL"),
            ("hour", "CAST((at % 86400) / 3600 AS TEXT)", ""),
            ("day", "CAST(at / 86400 AS TEXT)", ""),
        ];
        for (kind, value, condition) in kinds {
            let sql = format!(
                "INSERT INTO sign_in_familiar (account_id, kind, value, first_at, last_at, \
                 sign_ins) SELECT account_id, '{kind}', {value}, MIN(at), MAX(at), COUNT(*) \
                 {FINISHED} {condition} GROUP BY account_id, {value}"
            );
            sqlx::query(&sql)
                .execute(&self.writer)
                .await
                .map_err(storage_error)?;
        }
        // The last finished sign-in with a place (either of two at the same second).
        let sql = format!(
            "INSERT INTO sign_in_familiar (account_id, kind, value, first_at, last_at, \
             sign_ins, latitude, longitude) SELECT e.account_id, 'place', '', e.at, e.at, 1, \
             e.latitude, e.longitude FROM sign_in_events e JOIN (SELECT account_id, MAX(at) AS at \
             {FINISHED} AND latitude IS NOT NULL AND longitude IS NOT NULL GROUP BY account_id) \
             l ON l.account_id = e.account_id AND l.at = e.at WHERE e.outcome = 'success' \
             AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL \
             ON CONFLICT (account_id, kind, value) DO NOTHING"
        );
        sqlx::query(&sql)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// The sign-in log's smallest and largest ids (0, 0 when empty).
    pub async fn sign_in_id_range(&self) -> Result<(i64, i64), StorageError> {
        let (low, high): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT MIN(id), MAX(id) FROM sign_in_events")
                .fetch_one(&self.pool)
                .await
                .map_err(storage_error)?;
        Ok((low.unwrap_or(0), high.unwrap_or(0)))
    }

    /// The row `id` when it is a finished sign-in of an account.
    pub async fn sampled_sign_in(&self, id: i64) -> Result<Option<SampledSignIn>, StorageError> {
        sqlx::query_as(
            "SELECT account_id, email, ip, user_agent, device FROM sign_in_events \
             WHERE id = $1 AND outcome = 'success' AND account_id IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)
    }

    /// Bytes the database takes (SQLite: the file's pages, WAL aside; PostgreSQL: the
    /// database), and the sign-in log's share with its indexes where the store can tell.
    pub async fn database_size(&self) -> Result<(i64, Option<i64>), StorageError> {
        match self.backend {
            Backend::Sqlite => {
                let (bytes,): (i64,) = sqlx::query_as(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(&self.pool)
                .await
                .map_err(storage_error)?;
                Ok((bytes, None))
            }
            Backend::Postgres => {
                let (bytes, log): (i64, i64) = sqlx::query_as(
                    "SELECT pg_database_size(current_database())::BIGINT, \
                     pg_total_relation_size('sign_in_events')::BIGINT",
                )
                .fetch_one(&self.pool)
                .await
                .map_err(storage_error)?;
                Ok((bytes, Some(log)))
            }
        }
    }

    /// The plan of `sql` with its values (EXPLAIN QUERY PLAN on SQLite; EXPLAIN ANALYZE with
    /// buffers on PostgreSQL), one line a step.
    pub async fn explain(
        &self,
        sql: &str,
        values: &[ExplainValue<'_>],
    ) -> Result<Vec<String>, StorageError> {
        use sqlx::Row;
        let text = match self.backend {
            Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            Backend::Postgres => format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"),
        };
        let mut query = sqlx::query(&text);
        for v in values {
            query = match v {
                ExplainValue::Text(t) => query.bind(*t),
                ExplainValue::Int(i) => query.bind(*i),
            };
        }
        let rows = query.fetch_all(&self.pool).await.map_err(storage_error)?;
        rows.iter()
            .map(|r| match self.backend {
                Backend::Sqlite => r.try_get::<String, _>("detail"),
                Backend::Postgres => r.try_get::<String, _>(0),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage_error)
    }
}

/// A value for `Store::explain`.
pub enum ExplainValue<'a> {
    Text(&'a str),
    Int(i64),
}
