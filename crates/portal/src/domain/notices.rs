//! Security notices by email (LC-6). A notice that cannot be delivered is logged and audited,
//! never hidden, and never undoes what it reports.

use super::StorageError;
use super::accounts::Account;
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::UnixTime;
use crate::notify::{Channel, Message, Notifier};

pub struct Notice<'a> {
    pub subject: &'a str,
    pub body: String,
}

pub async fn email_person<R>(
    records: &R,
    notifier: &dyn Notifier,
    requester: &Requester,
    now: UnixTime,
    account: &Account,
    notice: Notice<'_>,
) -> Result<(), StorageError>
where
    R: AuditTrail + Sync,
{
    let message = Message {
        channel: Channel::Email,
        to: account.email.clone(),
        subject: Some(notice.subject.to_string()),
        body: notice.body,
        code: None,
        keypad_url: None,
    };
    if let Err(e) = notifier.send(&message, now).await {
        tracing::error!(error = %e, "security notice not delivered");
        records
            .append_audit(
                &AuditEvent::new("notification.failed", Outcome::Failure, requester, now)
                    .account(&account.id)
                    .reason(notice.subject),
            )
            .await?;
    }
    Ok(())
}
