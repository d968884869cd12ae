//! The enrolment report's aggregates. Each reads one range of the covering index
//! `accounts_enrolment` (migration 0006): the per-account method summary in it is kept by
//! triggers on mfa_methods.

use std::collections::HashMap;

use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::report::{FIRST_MONDAY, OrganisationCounts, ReportRecords, WEEK};

#[derive(FromRow)]
struct ActiveRow {
    org_code: String,
    accounts: i64,
    enrolled: i64,
    totp: i64,
    sms: i64,
    voice: i64,
    fido2: i64,
    push: i64,
}

#[derive(FromRow)]
struct DisabledRow {
    org_code: String,
    accounts: i64,
}

#[derive(FromRow)]
struct WeekRow {
    week: i64,
    enrolled: i64,
}

#[derive(FromRow)]
struct NameRow {
    code: String,
    name: String,
}

/// `WHERE`/`AND` clause limiting to one organisation (bound as `$n`), or nothing.
fn org_clause(org: Option<&str>, joiner: &str, n: usize) -> String {
    match org {
        Some(_) => format!(" {joiner} org_code = ${n}"),
        None => String::new(),
    }
}

impl ReportRecords for Store {
    async fn enrolment_counts(
        &self,
        org: Option<&str>,
    ) -> Result<Vec<OrganisationCounts>, StorageError> {
        // Active and disabled accounts are counted apart so that each reads only its own
        // range of the index (nearly all accounts are active). COUNT(CASE …) rather than SUM:
        // it is an integer on both stores.
        let active = format!(
            "SELECT org_code, COUNT(*) AS accounts, \
             COUNT(mfa_first_method_at) AS enrolled, \
             COUNT(CASE WHEN mfa_method_kinds & 1 <> 0 THEN 1 END) AS totp, \
             COUNT(CASE WHEN mfa_method_kinds & 2 <> 0 THEN 1 END) AS sms, \
             COUNT(CASE WHEN mfa_method_kinds & 4 <> 0 THEN 1 END) AS voice, \
             COUNT(CASE WHEN mfa_method_kinds & 8 <> 0 THEN 1 END) AS fido2, \
             COUNT(CASE WHEN mfa_method_kinds & 16 <> 0 THEN 1 END) AS push \
             FROM accounts WHERE state = 'active'{} GROUP BY org_code",
            org_clause(org, "AND", 1)
        );
        let disabled = format!(
            "SELECT org_code, COUNT(*) AS accounts FROM accounts \
             WHERE state = 'disabled'{} GROUP BY org_code",
            org_clause(org, "AND", 1)
        );
        let mut active = sqlx::query_as::<_, ActiveRow>(&active);
        let mut disabled = sqlx::query_as::<_, DisabledRow>(&disabled);
        if let Some(code) = org {
            active = active.bind(code);
            disabled = disabled.bind(code);
        }
        let active = active.fetch_all(&self.pool).await.map_err(storage_error)?;
        let disabled = disabled
            .fetch_all(&self.pool)
            .await
            .map_err(storage_error)?;
        let mut counts: HashMap<String, OrganisationCounts> = active
            .into_iter()
            .map(|r| {
                let counts = OrganisationCounts {
                    code: r.org_code.clone(),
                    active: r.accounts,
                    disabled: 0,
                    enrolled: r.enrolled,
                    with_kind: [r.totp, r.sms, r.voice, r.fido2, r.push],
                };
                (r.org_code, counts)
            })
            .collect();
        for r in disabled {
            counts
                .entry(r.org_code.clone())
                .or_insert_with(|| OrganisationCounts {
                    code: r.org_code,
                    ..OrganisationCounts::default()
                })
                .disabled = r.accounts;
        }
        Ok(counts.into_values().collect())
    }

    async fn enrolments_by_week(
        &self,
        org: Option<&str>,
    ) -> Result<Vec<(UnixTime, i64)>, StorageError> {
        // Integer division truncates towards zero on both stores; every time is after
        // FIRST_MONDAY, so it floors.
        let sql = format!(
            "SELECT (mfa_first_method_at - $1) / $2 AS week, COUNT(*) AS enrolled \
             FROM accounts WHERE state = 'active' AND mfa_first_method_at IS NOT NULL{} \
             GROUP BY (mfa_first_method_at - $1) / $2",
            org_clause(org, "AND", 3)
        );
        let mut query = sqlx::query_as::<_, WeekRow>(&sql)
            .bind(FIRST_MONDAY)
            .bind(WEEK);
        if let Some(code) = org {
            query = query.bind(code);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|r| (FIRST_MONDAY + r.week * WEEK, r.enrolled))
            .collect())
    }

    async fn organisation_names(
        &self,
        org: Option<&str>,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let sql = format!(
            "SELECT code, name FROM organisations{}",
            match org {
                Some(_) => " WHERE code = $1",
                None => "",
            }
        );
        let mut query = sqlx::query_as::<_, NameRow>(&sql);
        if let Some(code) = org {
            query = query.bind(code);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(storage_error)?;
        Ok(rows.into_iter().map(|r| (r.code, r.name)).collect())
    }
}
