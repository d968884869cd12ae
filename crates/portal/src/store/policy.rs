use sqlx::FromRow;

use super::{Store, storage_error};
use domain::StorageError;
use domain::clock::UnixTime;
use domain::networks::NetworkSettings;
use domain::policy::{MethodSet, NATIONAL, PolicyRecords, PolicySettings, Snoozes};
use domain::strength::{StrengthSettings, aaguid_list};

#[derive(FromRow)]
struct PolicyRow {
    scope: String,
    required_from: Option<i64>,
    user_methods: Option<String>,
    admin_methods: Option<String>,
    reminder_days: Option<i64>,
    max_snoozes: Option<i64>,
    snooze_days: Option<i64>,
    remember_days_user: Option<i64>,
    remember_days_admin: Option<i64>,
    recovery_codes_for_reset: Option<i64>,
    admin_push_default: Option<i64>,
    admin_phishing_resistant: Option<i64>,
    passkey_sign_in: Option<i64>,
    synced_passkeys: Option<i64>,
    admin_device_bound: Option<i64>,
    aaguid_allow: Option<String>,
    aaguid_deny: Option<String>,
    system_preferred: Option<i64>,
    trusted_networks: Option<String>,
    trusted_network_mode: Option<String>,
}

impl TryFrom<PolicyRow> for PolicySettings {
    type Error = StorageError;
    fn try_from(r: PolicyRow) -> Result<Self, StorageError> {
        let set = |text: Option<String>| {
            text.map(|t| MethodSet::parse(&t))
                .transpose()
                .map_err(|e| StorageError::Other(format!("policy {}: {e}", r.scope)))
        };
        let aaguids = |text: Option<String>| {
            text.map(|t| domain::strength::parse_aaguids(&t))
                .transpose()
                .map_err(|e| StorageError::Other(format!("policy {}: {e}", r.scope)))
        };
        let strength = StrengthSettings {
            passkey_sign_in: r.passkey_sign_in.map(|v| v != 0),
            synced_passkeys: r.synced_passkeys.map(|v| v != 0),
            admin_device_bound: r.admin_device_bound.map(|v| v != 0),
            aaguid_allow: aaguids(r.aaguid_allow.clone())?,
            aaguid_deny: aaguids(r.aaguid_deny.clone())?,
            system_preferred: r.system_preferred.map(|v| v != 0),
        };
        let networks = NetworkSettings {
            trusted: r
                .trusted_networks
                .as_deref()
                .map(domain::networks::parse_networks)
                .transpose()
                .map_err(|e| StorageError::Other(format!("policy {}: {e}", r.scope)))?,
            mode: r
                .trusted_network_mode
                .as_deref()
                .map(domain::networks::parse_mode)
                .transpose()
                .map_err(|e| StorageError::Other(format!("policy {}: {e}", r.scope)))?,
        };
        Ok(PolicySettings {
            strength,
            networks,
            required_from: r.required_from,
            user_methods: set(r.user_methods.clone())?,
            admin_methods: set(r.admin_methods.clone())?,
            reminder_days: r.reminder_days,
            max_snoozes: r.max_snoozes,
            snooze_days: r.snooze_days,
            remember_days_user: r.remember_days_user,
            remember_days_admin: r.remember_days_admin,
            recovery_codes_for_reset: r.recovery_codes_for_reset.map(|v| v != 0),
            admin_push_default: r.admin_push_default.map(|v| v != 0),
            admin_phishing_resistant: r.admin_phishing_resistant.map(|v| v != 0),
        })
    }
}

#[derive(FromRow)]
struct SnoozeRow {
    mfa_snoozes: i64,
    mfa_snoozed_until: Option<i64>,
}

impl PolicyRecords for Store {
    async fn policy_settings(
        &self,
        org_code: &str,
    ) -> Result<(Option<PolicySettings>, Option<PolicySettings>), StorageError> {
        let rows: Vec<PolicyRow> = sqlx::query_as(
            "SELECT scope, required_from, user_methods, admin_methods, reminder_days, \
             max_snoozes, snooze_days, remember_days_user, remember_days_admin, \
             recovery_codes_for_reset, admin_push_default, admin_phishing_resistant, \
             passkey_sign_in, synced_passkeys, admin_device_bound, aaguid_allow, aaguid_deny, \
             system_preferred, trusted_networks, trusted_network_mode FROM mfa_policies \
             WHERE scope = $1 OR scope = $2",
        )
        .bind(NATIONAL)
        .bind(org_code)
        .fetch_all(&self.pool)
        .await
        .map_err(storage_error)?;
        let mut national = None;
        let mut org = None;
        for row in rows {
            if row.scope == NATIONAL {
                national = Some(row.try_into()?);
            } else {
                org = Some(row.try_into()?);
            }
        }
        Ok((national, org))
    }

    async fn save_policy_settings(
        &self,
        scope: &str,
        s: &PolicySettings,
        by: Option<&str>,
        now: UnixTime,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO mfa_policies (scope, required_from, user_methods, admin_methods, \
             reminder_days, max_snoozes, snooze_days, updated_at, updated_by, \
             remember_days_user, remember_days_admin, recovery_codes_for_reset, \
             admin_push_default, admin_phishing_resistant, passkey_sign_in, synced_passkeys, \
             admin_device_bound, aaguid_allow, aaguid_deny, system_preferred, trusted_networks, \
             trusted_network_mode) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22) \
             ON CONFLICT (scope) DO UPDATE SET required_from = excluded.required_from, \
             user_methods = excluded.user_methods, admin_methods = excluded.admin_methods, \
             reminder_days = excluded.reminder_days, max_snoozes = excluded.max_snoozes, \
             snooze_days = excluded.snooze_days, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by, remember_days_user = excluded.remember_days_user, \
             remember_days_admin = excluded.remember_days_admin, \
             recovery_codes_for_reset = excluded.recovery_codes_for_reset, \
             admin_push_default = excluded.admin_push_default, \
             admin_phishing_resistant = excluded.admin_phishing_resistant, \
             passkey_sign_in = excluded.passkey_sign_in, \
             synced_passkeys = excluded.synced_passkeys, \
             admin_device_bound = excluded.admin_device_bound, \
             aaguid_allow = excluded.aaguid_allow, aaguid_deny = excluded.aaguid_deny, \
             system_preferred = excluded.system_preferred, \
             trusted_networks = excluded.trusted_networks, \
             trusted_network_mode = excluded.trusted_network_mode",
        )
        .bind(scope)
        .bind(s.required_from)
        .bind(s.user_methods.map(|m| m.to_list()))
        .bind(s.admin_methods.map(|m| m.to_list()))
        .bind(s.reminder_days)
        .bind(s.max_snoozes)
        .bind(s.snooze_days)
        .bind(now)
        .bind(by)
        .bind(s.remember_days_user)
        .bind(s.remember_days_admin)
        .bind(s.recovery_codes_for_reset.map(i64::from))
        .bind(s.admin_push_default.map(i64::from))
        .bind(s.admin_phishing_resistant.map(i64::from))
        .bind(s.strength.passkey_sign_in.map(i64::from))
        .bind(s.strength.synced_passkeys.map(i64::from))
        .bind(s.strength.admin_device_bound.map(i64::from))
        .bind(s.strength.aaguid_allow.as_deref().map(aaguid_list))
        .bind(s.strength.aaguid_deny.as_deref().map(aaguid_list))
        .bind(s.strength.system_preferred.map(i64::from))
        .bind(
            s.networks
                .trusted
                .as_deref()
                .map(domain::networks::network_list),
        )
        .bind(s.networks.mode.map(|m| m.as_str()))
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(())
    }

    async fn snoozes_of(&self, account_id: &str) -> Result<Snoozes, StorageError> {
        let row: Option<SnoozeRow> =
            sqlx::query_as("SELECT mfa_snoozes, mfa_snoozed_until FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(storage_error)?;
        Ok(row
            .map(|r| Snoozes {
                used: r.mfa_snoozes,
                until: r.mfa_snoozed_until,
            })
            .unwrap_or_default())
    }

    async fn take_snooze(
        &self,
        account_id: &str,
        max: i64,
        until: UnixTime,
    ) -> Result<bool, StorageError> {
        // One conditional UPDATE, so two tabs cannot both take the last snooze.
        let done = sqlx::query(
            "UPDATE accounts SET mfa_snoozes = mfa_snoozes + 1, mfa_snoozed_until = $1 \
             WHERE id = $2 AND mfa_snoozes < $3",
        )
        .bind(until)
        .bind(account_id)
        .bind(max)
        .execute(&self.writer)
        .await
        .map_err(storage_error)?;
        Ok(done.rows_affected() == 1)
    }
}
