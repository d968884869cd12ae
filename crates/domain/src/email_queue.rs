//! The persistent email queue. A notice is a row before anyone tries to send it, so it survives
//! a relay that is down and a restart; the person's request never waits on a retry and never
//! fails because of delivery.
//!
//! `EmailQueue` stands in front of the configured providers as the app's `Notifier`: email is
//! queued and tried once at once (the request waits a few seconds at most for that try), texts
//! and calls pass straight through. A worker on every node (`EmailQueue::start_worker`) calls
//! `deliver_due` in a loop. A node takes a message with one conditional UPDATE that moves its
//! next attempt past a lease, so two nodes do not send one message twice in the normal case.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::StorageError;
use super::accounts::AccountRecords;
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::{Clock, UnixTime};
use crate::delivery::{Channel, DeliveryError, DeliveryFuture, Message, Notifier};

/// The first retry comes this long after a failed attempt; each later one waits twice as long…
pub const FIRST_RETRY_SECONDS: i64 = 30;
/// …up to this…
pub const LONGEST_RETRY_SECONDS: i64 = 3600;
/// …and a message still not delivered this long after it was queued is given up.
pub const GIVE_UP_AFTER_SECONDS: i64 = 24 * 3600;
/// How long a node holds a message it is sending; longer than any attempt may take.
pub const LEASE_SECONDS: i64 = 300;
/// An attempt that takes longer than this is abandoned (and retried after the lease).
const ATTEMPT_DEADLINE: Duration = Duration::from_secs(150);
/// How long the request that queued a message waits for its first attempt.
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(3);
/// How often the worker looks for messages due.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Messages one round of the worker takes at most.
const BATCH: i64 = 20;
/// Sent messages are deleted after a week, given-up ones after 30 days.
const KEEP_SENT_SECONDS: i64 = 7 * 24 * 3600;
const KEEP_FAILED_SECONDS: i64 = 30 * 24 * 3600;
/// The longest `last_error` kept; a relay's answer can be long.
const ERROR_CHARS: usize = 300;

/// One email in the queue. Never holds a code or a secret: notices contain none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEmail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// Attempts started so far.
    pub attempts: i64,
    pub next_attempt_at: UnixTime,
    /// Why the last attempt failed, as the provider said it.
    pub last_error: Option<String>,
    pub created_at: UnixTime,
    pub sent_at: Option<UnixTime>,
    /// When it was given up.
    pub failed_at: Option<UnixTime>,
}

impl QueuedEmail {
    fn from_message(message: &Message, now: UnixTime) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            recipient: message.to.clone(),
            subject: message.subject.clone().unwrap_or_default(),
            text_body: message.body.clone(),
            html_body: message.html.clone(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
            failed_at: None,
        }
    }

    fn message(&self) -> Message {
        Message {
            channel: Channel::Email,
            to: self.recipient.clone(),
            subject: Some(self.subject.clone()),
            body: self.text_body.clone(),
            code: None,
            keypad_url: None,
            html: self.html_body.clone(),
        }
    }
}

pub trait EmailQueueRecords {
    fn enqueue_email(
        &self,
        email: &QueuedEmail,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// Messages neither sent nor given up whose next attempt is due at `now`, oldest first.
    fn due_emails(
        &self,
        now: UnixTime,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<QueuedEmail>, StorageError>> + Send;
    /// Takes a due message for one attempt: counts the attempt and moves its next attempt to
    /// `lease_until`, in one statement that only one caller can win. Returns the number of
    /// attempts, or None if it was not due (taken by another node, sent, given up).
    fn claim_email(
        &self,
        id: &str,
        now: UnixTime,
        lease_until: UnixTime,
    ) -> impl Future<Output = Result<Option<i64>, StorageError>> + Send;
    fn email_sent(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn email_retry_at(
        &self,
        id: &str,
        at: UnixTime,
        error: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    fn email_given_up(
        &self,
        id: &str,
        now: UnixTime,
        error: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
    /// The newest messages, any state (for operators and tests).
    fn recent_emails(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<QueuedEmail>, StorageError>> + Send;
    /// Deletes messages sent before `sent_before` and given up before `failed_before`.
    fn purge_emails(
        &self,
        sent_before: UnixTime,
        failed_before: UnixTime,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;
}

/// The wait before the next attempt after `attempts` attempts have failed: 30 s, 1 min, 2 min…
/// doubling up to 1 hour.
pub fn retry_delay(attempts: i64) -> i64 {
    let doublings = (attempts.max(1) - 1).min(12) as u32;
    (FIRST_RETRY_SECONDS << doublings).min(LONGEST_RETRY_SECONDS)
}

/// What becomes of a message whose attempt number `attempts` failed at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(UnixTime),
    GiveUp,
}

/// Every failure is retried (a relay's "permanent" refusal is as often its configuration, such
/// as authentication, which an operator can mend) until the message is a day old.
pub fn after_failure(created_at: UnixTime, attempts: i64, now: UnixTime) -> AfterFailure {
    if now - created_at >= GIVE_UP_AFTER_SECONDS {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryAt(now + retry_delay(attempts))
    }
}

/// What one attempt at one message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    Retrying,
    GivenUp,
    /// Another node (or the first attempt) had it.
    NotOurs,
}

/// What a round of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retrying: usize,
    pub given_up: usize,
}

fn short(error: &str) -> String {
    let one_line = error.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn delivery_requester() -> Requester {
    Requester {
        ip: "local".into(),
        user_agent: "nhsmal email delivery".into(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        ..Requester::default()
    }
}

/// One attempt at `email` through `provider`, if this caller wins it.
pub async fn attempt<R>(
    records: &R,
    provider: &dyn Notifier,
    email: &QueuedEmail,
    now: UnixTime,
) -> Result<Attempt, StorageError>
where
    R: EmailQueueRecords + AccountRecords + AuditTrail + Sync,
{
    let Some(attempts) = records
        .claim_email(&email.id, now, now + LEASE_SECONDS)
        .await?
    else {
        return Ok(Attempt::NotOurs);
    };
    let message = email.message();
    let error = match tokio::time::timeout(ATTEMPT_DEADLINE, provider.send(&message, now)).await {
        Ok(Ok(())) => {
            records.email_sent(&email.id, now).await?;
            metrics::counter!("nhsmal_emails_sent_total").increment(1);
            tracing::info!(email_id = %email.id, attempts, "email delivered");
            return Ok(Attempt::Sent);
        }
        Ok(Err(e)) => short(&e.to_string()),
        Err(_) => format!("no answer within {} seconds", ATTEMPT_DEADLINE.as_secs()),
    };
    match after_failure(email.created_at, attempts, now) {
        AfterFailure::RetryAt(at) => {
            records.email_retry_at(&email.id, at, &error).await?;
            metrics::counter!("nhsmal_email_retries_total").increment(1);
            tracing::warn!(
                email_id = %email.id,
                attempts,
                retry_in_seconds = at - now,
                error = %error,
                "email not delivered; will retry"
            );
            Ok(Attempt::Retrying)
        }
        AfterFailure::GiveUp => {
            records.email_given_up(&email.id, now, &error).await?;
            metrics::counter!("nhsmal_emails_failed_total").increment(1);
            tracing::error!(
                email_id = %email.id,
                attempts,
                error = %error,
                "email given up after a day of failed attempts"
            );
            let mut event = AuditEvent::new(
                "notification.failed",
                Outcome::Failure,
                &delivery_requester(),
                now,
            )
            .reason(&format!(
                "{} (given up after {attempts} attempts)",
                email.subject
            ));
            event = match records
                .account_by_email(&super::accounts::normalize_email(&email.recipient))
                .await?
            {
                Some(account) => event.account(&account.id),
                None => event.subject(&email.recipient),
            };
            records.append_audit(&event).await?;
            Ok(Attempt::GivenUp)
        }
    }
}

/// One round: every message due at `now` (up to a batch), one attempt each.
pub async fn deliver_due<R>(
    records: &R,
    provider: &dyn Notifier,
    now: UnixTime,
) -> Result<Round, StorageError>
where
    R: EmailQueueRecords + AccountRecords + AuditTrail + Sync,
{
    let mut round = Round::default();
    for email in records.due_emails(now, BATCH).await? {
        match attempt(records, provider, &email, now).await? {
            Attempt::Sent => round.sent += 1,
            Attempt::Retrying => round.retrying += 1,
            Attempt::GivenUp => round.given_up += 1,
            Attempt::NotOurs => {}
        }
    }
    Ok(round)
}

/// The app's notifier: queues email, passes texts and calls to `providers`.
pub struct EmailQueue<R> {
    records: R,
    /// The configured providers; email from the queue goes to their email provider.
    providers: Arc<dyn Notifier>,
}

impl<R> EmailQueue<R>
where
    R: EmailQueueRecords + AccountRecords + AuditTrail + Clone + Send + Sync + 'static,
{
    pub fn new(records: R, providers: Arc<dyn Notifier>) -> Self {
        Self { records, providers }
    }

    /// Attempts every message due at `now` once.
    pub async fn deliver_due(&self, now: UnixTime) -> Result<Round, StorageError> {
        deliver_due(&self.records, self.providers.as_ref(), now).await
    }

    async fn queue(&self, message: &Message, now: UnixTime) -> Result<(), DeliveryError> {
        let email = QueuedEmail::from_message(message, now);
        self.records
            .enqueue_email(&email)
            .await
            .map_err(|e| DeliveryError::Unavailable(format!("email queue: {e}")))?;
        // The first attempt runs in its own task so that it is never cut off half-way (which
        // could send twice); the request waits for it only a little.
        let (records, providers) = (self.records.clone(), self.providers.clone());
        let first =
            tokio::spawn(async move { attempt(&records, providers.as_ref(), &email, now).await });
        match tokio::time::timeout(FIRST_ATTEMPT_WAIT, first).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "first email attempt not recorded"),
            Ok(Err(e)) => tracing::error!(error = %e, "first email attempt stopped"),
            Err(_) => tracing::info!("email still being sent; the request goes on"),
        }
        Ok(())
    }

    /// Starts the delivery worker, reading the time from `clock`.
    pub fn start_worker(self: &Arc<Self>, clock: Arc<dyn Clock>) -> EmailWorker {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let queue = self.clone();
        let task = tokio::spawn(async move {
            let mut next_purge = 0;
            loop {
                let now = clock.now();
                let round = queue.deliver_due(now);
                tokio::pin!(round);
                let result = tokio::select! {
                    result = &mut round => result,
                    _ = stopped.changed() => {
                        // Let a send in progress finish for a moment, so that it is recorded.
                        let _ = tokio::time::timeout(Duration::from_secs(10), round).await;
                        break;
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "email queue not readable; trying again");
                }
                if now >= next_purge {
                    match queue
                        .records
                        .purge_emails(now - KEEP_SENT_SECONDS, now - KEEP_FAILED_SECONDS)
                        .await
                    {
                        Ok(_) => next_purge = now + 3600,
                        Err(e) => tracing::warn!(error = %e, "old emails not purged"),
                    }
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
        });
        EmailWorker { stop, task }
    }
}

impl<R> Notifier for EmailQueue<R>
where
    R: EmailQueueRecords + AccountRecords + AuditTrail + Clone + Send + Sync + 'static,
{
    fn send<'a>(&'a self, message: &'a Message, at: UnixTime) -> DeliveryFuture<'a> {
        match message.channel {
            Channel::Email => Box::pin(self.queue(message, at)),
            Channel::Sms | Channel::Voice => self.providers.send(message, at),
        }
    }

    /// Many emails at once (invitations from an import): every one is queued first, already
    /// claimed by this node, then the provider gets the whole batch in one go (the outbox
    /// syncs once) and each row is marked. A crash in between leaves the rows to the worker
    /// once the lease runs out, so nothing is lost.
    fn send_all<'a>(
        &'a self,
        messages: &'a [Message],
        at: UnixTime,
    ) -> crate::delivery::BatchFuture<'a> {
        Box::pin(async move {
            if messages.iter().any(|m| m.channel != Channel::Email) {
                let mut outcomes = Vec::with_capacity(messages.len());
                for m in messages {
                    outcomes.push(self.send(m, at).await);
                }
                return outcomes;
            }
            let mut queued = Vec::with_capacity(messages.len());
            for message in messages {
                let mut email = QueuedEmail::from_message(message, at);
                email.attempts = 1;
                email.next_attempt_at = at + LEASE_SECONDS;
                if let Err(e) = self.records.enqueue_email(&email).await {
                    return messages
                        .iter()
                        .map(|_| Err(DeliveryError::Unavailable(format!("email queue: {e}"))))
                        .collect();
                }
                queued.push(email);
            }
            let outcomes = self.providers.send_all(messages, at).await;
            for (email, outcome) in queued.iter().zip(&outcomes) {
                let marked = match outcome {
                    Ok(()) => self.records.email_sent(&email.id, at).await,
                    Err(e) => {
                        self.records
                            .email_retry_at(&email.id, at + retry_delay(1), &short(&e.to_string()))
                            .await
                    }
                };
                if let Err(e) = marked {
                    // The lease runs out and the worker tries again.
                    tracing::warn!(error = %e, email_id = %email.id, "email state not recorded");
                }
            }
            // Whatever failed is queued: the person's request goes on.
            outcomes.into_iter().map(|_| Ok(())).collect()
        })
    }
}

/// The running delivery worker of one node.
pub struct EmailWorker {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl EmailWorker {
    /// Stops the worker after the round in progress (waiting at most 10 seconds for it).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_30_seconds_then_twice_as_long_each_time_up_to_an_hour() {
        let delays: Vec<i64> = (1..=10).map(retry_delay).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(retry_delay(0), 30, "never less than the first wait");
        assert_eq!(retry_delay(i64::MAX), 3600, "no overflow");
    }

    #[test]
    fn a_message_is_given_up_once_it_is_a_day_old() {
        let created = 1_000_000;
        assert_eq!(
            after_failure(created, 1, created),
            AfterFailure::RetryAt(created + 30)
        );
        assert_eq!(
            after_failure(created, 3, created + 500),
            AfterFailure::RetryAt(created + 500 + 120)
        );
        let almost = created + GIVE_UP_AFTER_SECONDS - 1;
        assert_eq!(
            after_failure(created, 30, almost),
            AfterFailure::RetryAt(almost + 3600)
        );
        assert_eq!(
            after_failure(created, 31, created + GIVE_UP_AFTER_SECONDS),
            AfterFailure::GiveUp
        );
    }

    #[test]
    fn a_day_of_back_off_is_about_thirty_attempts() {
        let created = 0;
        let (mut now, mut attempts) = (created, 1);
        while let AfterFailure::RetryAt(at) = after_failure(created, attempts, now) {
            now = at;
            attempts += 1;
        }
        assert!((25..=35).contains(&attempts), "{attempts}");
    }

    #[test]
    fn errors_are_kept_to_one_short_line() {
        assert_eq!(short("421 busy\r\n  try later"), "421 busy try later");
        let long = "x".repeat(1000);
        assert_eq!(short(&long).chars().count(), ERROR_CHARS + 1);
    }
}
