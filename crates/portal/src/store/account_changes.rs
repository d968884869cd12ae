//! An account's changes applied together (see `domain::account_changes`): one transaction on
//! the writer, with the same statements the single-purpose methods use.

use super::{Store, storage_error};
use domain::StorageError;
use domain::account_changes::{AccountChanges, Applied, Change};
use domain::clock::UnixTime;

impl AccountChanges for Store {
    async fn apply_changes(
        &self,
        account_id: &str,
        now: UnixTime,
        changes: &[Change<'_>],
    ) -> Result<Applied, StorageError> {
        let mut applied = Applied::default();
        let mut audited = vec![];
        let mut tx = self.writer.begin().await.map_err(storage_error)?;
        for change in changes {
            let query = match change {
                Change::RemoveMethods => {
                    let done = sqlx::query(super::admin::DELETE_METHODS)
                        .bind(account_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(storage_error)?;
                    applied.methods_removed = done.rows_affected();
                    continue;
                }
                Change::ReplacePass { pass, issued_by } => {
                    super::admin::write_pass(&mut tx, pass, issued_by, now).await?;
                    continue;
                }
                Change::Audit(event) => {
                    audited.push(*event);
                    super::audit::bind_event(sqlx::query(super::audit::INSERT_EVENT), event)
                }
                Change::NeedPassToEnrol(needs) => sqlx::query(super::admin::SET_NEEDS_PASS)
                    .bind(i64::from(*needs))
                    .bind(account_id),
                Change::ForgetDevices => sqlx::query(super::devices::FORGET_DEVICES)
                    .bind(account_id)
                    .bind(""),
                Change::RevokeGrants | Change::RevokeGrantsOfClient(_) => {
                    let query = match change {
                        Change::RevokeGrantsOfClient(client_id) => {
                            sqlx::query(super::oidc_grants::REVOKE_GRANTS_OF_CLIENT)
                                .bind(now)
                                .bind(account_id)
                                .bind(*client_id)
                        }
                        _ => sqlx::query(super::oidc_grants::REVOKE_GRANTS_OF_ACCOUNT)
                            .bind(now)
                            .bind(account_id),
                    };
                    let done = query.execute(&mut *tx).await.map_err(storage_error)?;
                    applied.grants_revoked += done.rows_affected();
                    continue;
                }
                Change::RemoveRecoveryCodes => {
                    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(account_id)
                }
                Change::EndSessions | Change::EndSession(_) => {
                    let query = match change {
                        Change::EndSession(id_hash) => {
                            sqlx::query(super::sessions::END_SESSION_OF_ACCOUNT)
                                .bind(account_id)
                                .bind(*id_hash)
                        }
                        _ => sqlx::query(super::sessions::END_SESSIONS)
                            .bind(account_id)
                            .bind(""),
                    };
                    let done = query.execute(&mut *tx).await.map_err(storage_error)?;
                    applied.sessions_ended += done.rows_affected();
                    continue;
                }
                Change::SetState(state) => sqlx::query(super::accounts::SET_STATE)
                    .bind(state.as_str())
                    .bind(now)
                    .bind(account_id),
                Change::SetPasswordHash(hash) => sqlx::query(super::accounts::SET_PASSWORD_HASH)
                    .bind(*hash)
                    .bind(now)
                    .bind(account_id),
                Change::SetPasswordAction(action) => {
                    sqlx::query(super::accounts::SET_PASSWORD_ACTION)
                        .bind(action.as_i64())
                        .bind(account_id)
                }
                Change::ClearLimit(key) => sqlx::query(super::limits::CLEAR_LIMIT).bind(*key),
                Change::ClearLimitsLike { key, prefix } => {
                    sqlx::query(super::limits::CLEAR_LIMITS_LIKE)
                        .bind(*key)
                        .bind(*prefix)
                }
            };
            query.execute(&mut *tx).await.map_err(storage_error)?;
        }
        tx.commit().await.map_err(storage_error)?;
        self.forward_audit(audited);
        Ok(applied)
    }
}
