//! "Where you're signed in" (issue 22): a person's browser sessions and the apps that hold
//! tokens for them (the webmail, mail apps, device-code devices), each of which they, or an
//! administrator of their organisation, can end; and "Sign out everywhere".

use std::future::Future;

use crate::StorageError;
use crate::account_changes::{AccountChanges, Change};
use crate::accounts::Account;
use crate::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::UnixTime;
use crate::secrets::SecretBox;
use crate::sessions::{SessionRecord, SessionRecords, SessionSettings, SessionStage};

/// An app with live tokens for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccess {
    pub client_id: String,
    pub client_name: String,
    pub native: bool,
    /// When the first of its live grants was made.
    pub granted_at: UnixTime,
    /// When it last had tokens issued (a sign-in or a refresh).
    pub last_used_at: UnixTime,
    /// Where it wants to hear of a sign-out (OpenID Connect Back-Channel Logout).
    pub backchannel_logout_uri: Option<String>,
}

pub trait SignedInRecords: SessionRecords + AccountChanges + AuditTrail + Sync {
    fn sessions_of_account(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StorageError>> + Send;
    /// The apps with a live (unrevoked, unexpired) grant, one row an app.
    fn apps_of_account(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<Vec<AppAccess>, StorageError>> + Send;
}

/// A browser session as the list shows it. `reference` names it in forms without giving away
/// its id (a keyed hash of the stored hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub reference: String,
    pub user_agent: String,
    pub ip: String,
    pub signed_in_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub this_device: bool,
}

/// Everything the page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInList {
    pub sessions: Vec<BrowserSession>,
    pub apps: Vec<AppAccess>,
}

fn reference(secrets: &SecretBox, id_hash: &str) -> String {
    let mac = secrets.mac_hex(format!("session-reference\n{id_hash}").as_bytes());
    mac.get(..32).unwrap_or(&mac).to_string()
}

/// The person's live, signed-in sessions (newest first) and apps. `current` is the id hash of
/// the session asking, when the person asks (an administrator's view has none).
pub async fn list<R: SignedInRecords>(
    records: &R,
    secrets: &SecretBox,
    settings: &SessionSettings,
    account: &Account,
    current: Option<&str>,
    now: UnixTime,
) -> Result<SignedInList, StorageError> {
    let mut sessions: Vec<BrowserSession> = records
        .sessions_of_account(&account.id)
        .await?
        .into_iter()
        .filter(|s| s.stage == SessionStage::SignedIn)
        .filter(|s| {
            crate::sessions::check_session(s, settings, now)
                != crate::sessions::SessionCheck::Expired
        })
        .map(|s| BrowserSession {
            reference: reference(secrets, &s.id_hash),
            this_device: current == Some(s.id_hash.as_str()),
            user_agent: s.user_agent,
            ip: s.ip,
            signed_in_at: s.created_at,
            last_seen_at: s.last_seen_at,
        })
        .collect();
    sessions.sort_by(|a, b| {
        b.this_device
            .cmp(&a.this_device)
            .then(b.last_seen_at.cmp(&a.last_seen_at))
    });
    let apps = records.apps_of_account(&account.id, now).await?;
    Ok(SignedInList { sessions, apps })
}

/// Who ends something, for the audit log: the person, or an administrator.
pub struct Ender<'a> {
    pub requester: &'a Requester,
    /// The administrator's account id, when it is not the person.
    pub admin: Option<&'a str>,
    pub now: UnixTime,
}

impl<'a> Ender<'a> {
    /// The person themselves.
    pub fn person(requester: &'a Requester, now: UnixTime) -> Self {
        Ender {
            requester,
            admin: None,
            now,
        }
    }

    fn event(&self, name: &'static str, account: &Account) -> AuditEvent {
        let mut event =
            AuditEvent::new(name, Outcome::Success, self.requester, self.now).account(&account.id);
        if let Some(admin) = self.admin {
            event = event.actor(admin);
        }
        event
    }
}

/// Ends one session of the person, found by its reference; false when there is none (another
/// person's reference finds nothing).
pub async fn end_session<R: SignedInRecords>(
    records: &R,
    secrets: &SecretBox,
    account: &Account,
    session_reference: &str,
    by: &Ender<'_>,
) -> Result<bool, StorageError> {
    let found = records
        .sessions_of_account(&account.id)
        .await?
        .into_iter()
        .find(|s| {
            let r = reference(secrets, &s.id_hash);
            bool::from(subtle::ConstantTimeEq::ct_eq(
                r.as_bytes(),
                session_reference.as_bytes(),
            ))
        });
    let Some(session) = found else {
        return Ok(false);
    };
    // The session ends with its audit event, in one transaction.
    let event = by
        .event("session.ended", account)
        .reason(&crate::sessions::truncate(&session.user_agent, 200));
    let applied = records
        .apply_changes(
            &account.id,
            by.now,
            &[Change::EndSession(&session.id_hash), Change::Audit(&event)],
        )
        .await?;
    Ok(applied.sessions_ended == 1)
}

/// Removes one app's access: its grants are revoked (refresh and access tokens stop working).
/// Returns the app when it had access.
pub async fn remove_app<R: SignedInRecords>(
    records: &R,
    account: &Account,
    client_id: &str,
    by: &Ender<'_>,
) -> Result<Option<AppAccess>, StorageError> {
    let Some(app) = records
        .apps_of_account(&account.id, by.now)
        .await?
        .into_iter()
        .find(|a| a.client_id == client_id)
    else {
        return Ok(None);
    };
    // The grants end with the audit event, in one transaction.
    let event = by
        .event("oidc.access_removed", account)
        .subject(client_id)
        .reason(&app.client_name);
    records
        .apply_changes(
            &account.id,
            by.now,
            &[
                Change::RevokeGrantsOfClient(client_id),
                Change::Audit(&event),
            ],
        )
        .await?;
    Ok(Some(app))
}

/// What "Sign out everywhere" ended, and the apps to tell (back-channel logout).
#[derive(Debug, Default)]
pub struct Ended {
    pub sessions: u64,
    pub grants: u64,
    pub logout_targets: Vec<AppAccess>,
}

/// "Sign out everywhere": every session (this one too) and every app's tokens.
pub async fn sign_out_everywhere<R: SignedInRecords>(
    records: &R,
    account: &Account,
    by: &Ender<'_>,
) -> Result<Ended, StorageError> {
    let apps = records.apps_of_account(&account.id, by.now).await?;
    // Every session and every grant end with the audit event, in one transaction.
    let event = by
        .event("account.signed_out_everywhere", account)
        .reason("every session and every app's access");
    let applied = records
        .apply_changes(
            &account.id,
            by.now,
            &[
                Change::EndSessions,
                Change::RevokeGrants,
                Change::Audit(&event),
            ],
        )
        .await?;
    Ok(Ended {
        sessions: applied.sessions_ended,
        grants: applied.grants_revoked,
        logout_targets: apps
            .into_iter()
            .filter(|a| a.backchannel_logout_uri.is_some())
            .collect(),
    })
}
