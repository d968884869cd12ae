use sqlx::FromRow;

use super::accounts::{ACCOUNT_COLUMNS, AccountRow};
use super::{Store, storage_error};
use domain::StorageError;
use domain::accounts::{Account, Role};
use domain::clock::UnixTime;
use domain::limits::client_source;
use domain::monitoring::{
    RiskRecords, RiskyAccount, SignInEntry, SignInFilter, SignInLog, SignInRecord, network_of,
};
use domain::risk::{self, Familiar, FamiliarRow, Level, PastSignIn, parse_names};

#[derive(FromRow)]
struct PastRow {
    at: i64,
    step: String,
    outcome: String,
    device: Option<String>,
    network: String,
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(FromRow)]
struct FamiliarDbRow {
    kind: String,
    value: String,
    last_at: i64,
    sign_ins: i64,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(FromRow)]
struct RecordRow {
    id: i64,
    at: i64,
    account_id: Option<String>,
    email: String,
    org_code: Option<String>,
    ip: String,
    user_agent: String,
    step: String,
    method: Option<String>,
    outcome: String,
    reason: Option<String>,
    risk: String,
    signals: String,
    country: Option<String>,
    place: Option<String>,
    reported_at: Option<i64>,
    correlation_id: String,
}

impl From<RecordRow> for SignInRecord {
    fn from(r: RecordRow) -> Self {
        SignInRecord {
            id: r.id,
            at: r.at,
            account_id: r.account_id,
            email: r.email,
            org_code: r.org_code,
            ip: r.ip,
            user_agent: r.user_agent,
            step: r.step,
            method: r.method,
            outcome: r.outcome,
            reason: r.reason,
            risk: r.risk,
            signals: r.signals,
            country: r.country,
            place: r.place,
            reported_at: r.reported_at,
            correlation_id: r.correlation_id,
        }
    }
}

const RECORD_COLUMNS: &str = "id, at, account_id, email, org_code, ip, user_agent, step, method, \
     outcome, reason, risk, signals, country, place, reported_at, correlation_id";

/// The queries every sign-in runs against the log (the cost in BENCHMARKS.md, "Sign-in risk";
/// `nhsmal dev time-risk --explain` shows their plans).
/// The account's history: $1 account id, $2 since, $3 at most.
pub const ACCOUNT_HISTORY_SQL: &str = "SELECT at, step, outcome, device, network, country, latitude, longitude \
     FROM sign_in_events WHERE account_id = $1 AND at >= $2 ORDER BY at DESC LIMIT $3";
/// What the account finished sign-ins from: $1 account id, $2 since, $3 at most. The day rows
/// (up to one a day of the look-back, most of a busy account's rows) come back as one row with
/// their sum, the only thing the rules take from them.
pub const FAMILIAR_SQL: &str = "SELECT kind, value, last_at, sign_ins, latitude, longitude \
     FROM (SELECT kind, value, last_at, sign_ins, latitude, longitude FROM sign_in_familiar \
     WHERE account_id = $1 AND kind <> 'day' AND last_at >= $2 \
     UNION ALL SELECT 'day', '', MAX(last_at), CAST(SUM(sign_ins) AS BIGINT), NULL, NULL \
     FROM sign_in_familiar WHERE account_id = $1 AND kind = 'day' AND last_at >= $2 \
     GROUP BY account_id) f ORDER BY last_at DESC LIMIT $3";
/// Wrong passwords for an address: $1 email, $2 since.
pub const PASSWORD_FAILURES_SQL: &str = "SELECT COUNT(*) FROM sign_in_events \
     WHERE email = $1 AND at >= $2 AND step = 'password' AND outcome = 'failure'";
/// Other addresses with a wrong password from a source: $1 source, $2 since, $3 email.
pub const FAILED_EMAILS_SQL: &str = "SELECT COUNT(DISTINCT email) FROM sign_in_events \
     WHERE source = $1 AND at >= $2 AND step = 'password' AND outcome = 'failure' \
     AND email <> $3";

/// A value bound to a filter built from optional parts.
enum Bound {
    Text(String),
    Int(i64),
}

impl SignInLog for Store {
    async fn record_sign_in(&self, e: &SignInEntry<'_>) -> Result<i64, StorageError> {
        let r = e.requester;
        let location = r.location.as_ref();
        // A finished sign-in also updates what its account signed in from, in the same
        // transaction: the summary never says more or less than the log.
        let finished = e.outcome == "success";
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO sign_in_events (at, account_id, email, org_code, ip, source, network, \
             user_agent, device, step, method, outcome, reason, risk, signals, country, place, \
             latitude, longitude, correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id",
        )
        .bind(e.at)
        .bind(e.account_id)
        .bind(e.email)
        .bind(e.org_code)
        .bind(&r.ip)
        .bind(client_source(&r.ip))
        .bind(network_of(&r.ip))
        .bind(&r.user_agent)
        .bind(r.device.as_deref())
        .bind(e.step.as_str())
        .bind(e.method)
        .bind(e.outcome)
        .bind(e.reason)
        .bind(e.assessment.level.as_str())
        .bind(e.assessment.signal_names())
        .bind(location.map(|l| l.country.as_str()))
        .bind(location.map(|l| l.place.as_str()))
        .bind(location.and_then(|l| l.latitude))
        .bind(location.and_then(|l| l.longitude))
        .bind(&r.correlation_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(storage_error)?;
        if let (true, Some(account_id)) = (finished, e.account_id) {
            let network = network_of(&r.ip);
            let touched = risk::familiar_values(
                e.at,
                r.device.as_deref(),
                &network,
                location.map(|l| l.country.as_str()),
            );
            let mut values = vec![];
            for i in 0..touched.len() {
                let n = 3 + i * 2;
                values.push(format!("($1, ${n}, ${}, $2, $2, 1, NULL, NULL)", n + 1));
            }
            // The place row takes the coordinates (bound only when there are some: PostgreSQL
            // cannot type a parameter the statement does not use).
            let place = location.and_then(|l| l.latitude.zip(l.longitude));
            if place.is_some() {
                let n = 3 + touched.len() * 2;
                values.push(format!(
                    "($1, '{}', '', $2, $2, 1, ${n}, ${})",
                    risk::PLACE,
                    n + 1
                ));
            }
            let sql = format!(
                "INSERT INTO sign_in_familiar (account_id, kind, value, first_at, last_at, \
                 sign_ins, latitude, longitude) VALUES {} \
                 ON CONFLICT (account_id, kind, value) DO UPDATE SET \
                 last_at = CASE WHEN excluded.last_at > sign_in_familiar.last_at \
                 THEN excluded.last_at ELSE sign_in_familiar.last_at END, \
                 sign_ins = sign_in_familiar.sign_ins + 1, \
                 latitude = CASE WHEN excluded.last_at >= sign_in_familiar.last_at \
                 THEN excluded.latitude ELSE sign_in_familiar.latitude END, \
                 longitude = CASE WHEN excluded.last_at >= sign_in_familiar.last_at \
                 THEN excluded.longitude ELSE sign_in_familiar.longitude END",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(account_id).bind(e.at);
            for (kind, value) in &touched {
                query = query.bind(*kind).bind(value.as_str());
            }
            if let Some((latitude, longitude)) = place {
                query = query.bind(latitude).bind(longitude);
            }
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)?;
        if let Some(siem) = self.siem() {
            siem.send(crate::siem::SiemEvent::from_sign_in(e));
        }
        Ok(id)
    }

    async fn account_history(
        &self,
        account_id: &str,
        since: UnixTime,
        limit: i64,
    ) -> Result<Vec<PastSignIn>, StorageError> {
        let rows: Vec<PastRow> = sqlx::query_as(ACCOUNT_HISTORY_SQL)
            .bind(account_id)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|r| PastSignIn {
                at: r.at,
                step: r.step,
                outcome: r.outcome,
                device: r.device,
                network: r.network,
                country: r.country,
                latitude: r.latitude,
                longitude: r.longitude,
            })
            .collect())
    }

    async fn familiar(
        &self,
        account_id: &str,
        since: UnixTime,
        limit: i64,
    ) -> Result<Familiar, StorageError> {
        let rows: Vec<FamiliarDbRow> = sqlx::query_as(FAMILIAR_SQL)
            .bind(account_id)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        let rows: Vec<FamiliarRow> = rows
            .into_iter()
            .map(|r| FamiliarRow {
                kind: r.kind,
                value: r.value,
                last_at: r.last_at,
                sign_ins: r.sign_ins,
                latitude: r.latitude,
                longitude: r.longitude,
            })
            .collect();
        Ok(Familiar::from_rows(&rows, since))
    }

    async fn prune_familiar(&self, before: UnixTime) -> Result<u64, StorageError> {
        let done = sqlx::query("DELETE FROM sign_in_familiar WHERE last_at < $1")
            .bind(before)
            .execute(&self.writer)
            .await
            .map_err(storage_error)?;
        Ok(done.rows_affected())
    }

    async fn password_failures_of(
        &self,
        email: &str,
        since: UnixTime,
    ) -> Result<i64, StorageError> {
        let (count,): (i64,) = sqlx::query_as(PASSWORD_FAILURES_SQL)
            .bind(email)
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(count)
    }

    async fn knows_device(
        &self,
        account_id: &str,
        device: &str,
        since: UnixTime,
    ) -> Result<bool, StorageError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT last_at FROM sign_in_familiar \
             WHERE account_id = $1 AND kind = 'device' AND value = $2 AND last_at >= $3",
        )
        .bind(account_id)
        .bind(device)
        .bind(since)
        .fetch_optional(&self.pool)
        .await
        .map_err(storage_error)?;
        Ok(row.is_some())
    }

    async fn failed_emails_from(
        &self,
        source: &str,
        since: UnixTime,
        email: &str,
    ) -> Result<i64, StorageError> {
        let (count,): (i64,) = sqlx::query_as(FAILED_EMAILS_SQL)
            .bind(source)
            .bind(since)
            .bind(email)
            .fetch_one(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(count)
    }

    async fn sign_ins(&self, f: &SignInFilter) -> Result<Vec<SignInRecord>, StorageError> {
        // Fixed SQL fragments, only for the filters given, so that each query can use its
        // index; every value is a bound parameter.
        let mut conditions: Vec<String> = vec![];
        let mut values: Vec<Bound> = vec![];
        let mut add = |sql: &str, value: Bound| {
            values.push(value);
            conditions.push(sql.replace('?', &format!("${}", values.len())));
        };
        if let Some(org) = &f.org_code {
            add("org_code = ?", Bound::Text(org.clone()));
        }
        if let Some(email) = &f.email {
            add("email = ?", Bound::Text(email.clone()));
        }
        if let Some(outcome) = &f.outcome {
            add("outcome = ?", Bound::Text(outcome.clone()));
        }
        if let Some(risk) = &f.risk {
            add("risk = ?", Bound::Text(risk.clone()));
        }
        if let Some(from) = f.from {
            add("at >= ?", Bound::Int(from));
        }
        if let Some(to) = f.to {
            add("at < ?", Bound::Int(to));
        }
        if let Some(before) = f.before_id {
            add("id < ?", Bound::Int(before));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM sign_in_events {filter} ORDER BY id DESC LIMIT ${}",
            values.len() + 1
        );
        let mut query = sqlx::query_as::<_, RecordRow>(&sql);
        for value in values {
            query = match value {
                Bound::Text(t) => query.bind(t),
                Bound::Int(i) => query.bind(i),
            };
        }
        let rows = query
            .bind(f.limit)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(SignInRecord::from).collect())
    }

    async fn sign_ins_of_account(
        &self,
        account_id: &str,
        since: UnixTime,
        limit: i64,
    ) -> Result<Vec<SignInRecord>, StorageError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM sign_in_events WHERE account_id = $1 AND at >= $2 \
             ORDER BY at DESC, id DESC LIMIT $3"
        );
        let rows: Vec<RecordRow> = sqlx::query_as(&sql)
            .bind(account_id)
            .bind(since)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(SignInRecord::from).collect())
    }

    async fn mark_reported(
        &self,
        id: i64,
        account_id: &str,
        at: UnixTime,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE sign_in_events SET reported_at = $1 \
             WHERE id = $2 AND account_id = $3 AND reported_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .bind(account_id)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune_sign_ins(&self, before: UnixTime, batch: i64) -> Result<u64, StorageError> {
        let done = sqlx::query(
            "DELETE FROM sign_in_events WHERE id IN \
             (SELECT id FROM sign_in_events WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(before)
        .bind(batch)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected())
    }
}

#[derive(FromRow)]
struct RiskRow {
    account_id: String,
    email: String,
    display_name: String,
    org_code: String,
    role: String,
    level: String,
    signals: String,
    state: String,
    first_at: i64,
    last_at: i64,
    updated_by: Option<String>,
}

impl From<RiskRow> for RiskyAccount {
    fn from(r: RiskRow) -> Self {
        RiskyAccount {
            account_id: r.account_id,
            email: r.email,
            display_name: r.display_name,
            org_code: r.org_code,
            // A role this version cannot read is shown as the most protected one.
            role: r.role.parse().unwrap_or(Role::NationalAdmin),
            level: Level::parse(&r.level).unwrap_or(Level::High),
            signals: parse_names(&r.signals),
            state: r.state,
            first_at: r.first_at,
            last_at: r.last_at,
            updated_by: r.updated_by,
        }
    }
}

const RISK_COLUMNS: &str = "r.account_id, a.email, a.display_name, a.org_code, a.role, r.level, \
     r.signals, r.state, r.first_at, r.last_at, r.updated_by";

impl RiskRecords for Store {
    async fn risk_of(&self, account_id: &str) -> Result<Option<RiskyAccount>, StorageError> {
        let sql = format!(
            "SELECT {RISK_COLUMNS} FROM risky_accounts r JOIN accounts a ON a.id = r.account_id \
             WHERE r.account_id = $1"
        );
        let row: Option<RiskRow> = sqlx::query_as(&sql)
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(row.map(RiskyAccount::from))
    }

    async fn save_risk(
        &self,
        account_id: &str,
        level: Level,
        signals: &str,
        state: &str,
        first_at: UnixTime,
        last_at: UnixTime,
        updated_by: Option<&str>,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO risky_accounts (account_id, level, signals, state, first_at, last_at, \
             updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $6) \
             ON CONFLICT (account_id) DO UPDATE SET level = excluded.level, \
             signals = excluded.signals, state = excluded.state, first_at = excluded.first_at, \
             last_at = excluded.last_at, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(level.as_str())
        .bind(signals)
        .bind(state)
        .bind(first_at)
        .bind(last_at)
        .bind(updated_by)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn risky_accounts(
        &self,
        org_code: Option<&str>,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RiskyAccount>, StorageError> {
        let sql = format!(
            "SELECT {RISK_COLUMNS} FROM risky_accounts r JOIN accounts a ON a.id = r.account_id \
             WHERE ($1 = '' OR a.org_code = $1) AND ($2 = '' OR r.state = $2) \
             ORDER BY r.last_at DESC LIMIT $3"
        );
        let rows: Vec<RiskRow> = sqlx::query_as(&sql)
            .bind(org_code.unwrap_or(""))
            .bind(state.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(RiskyAccount::from).collect())
    }

    async fn local_administrators(&self, org_code: &str) -> Result<Vec<Account>, StorageError> {
        self.administrators("a.org_code = $1 AND a.role = 'local-admin'", org_code)
            .await
    }

    async fn national_administrators(&self) -> Result<Vec<Account>, StorageError> {
        self.administrators("a.role = $1", "national-admin").await
    }
}

impl Store {
    async fn administrators(
        &self,
        condition: &str,
        value: &str,
    ) -> Result<Vec<Account>, StorageError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN organisations o ON o.code = a.org_code \
             WHERE {condition} AND a.state = 'active' ORDER BY a.email_normalized LIMIT 100"
        );
        let rows: Vec<AccountRow> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        rows.into_iter().map(Account::try_from).collect()
    }
}
