//! What the person reads of their own sign-ins (Recent activity), "This wasn't me", and the
//! log's retention.

use super::*;

/// How far back "Recent activity" goes, and how many rows it shows at most.
pub const RECENT_DAYS: i64 = 30;
const RECENT_ROWS: i64 = 200;

/// A row of "Recent activity", as the person reads it.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: i64,
    pub at: UnixTime,
    /// "Signed in", "Wrong password"…
    pub what: &'static str,
    pub failed: bool,
    pub device: String,
    pub ip: String,
    pub place: Option<String>,
    pub level: Level,
    /// Why it was flagged, in words.
    pub why: Vec<&'static str>,
    pub reported: bool,
    /// Whether "This wasn't me" is offered: the password was right here.
    pub can_report: bool,
    /// The sign-in that started the session reading the page ("This is you now").
    pub this_session: bool,
}

/// The person's sign-ins of the last 30 days, newest first. Texts and calls sent are left
/// out, and so is a correct password whose second step was then finished from the same device
/// (that sign-in is shown once, as "Signed in").
pub async fn recent_activity<R: SignInLog>(
    records: &R,
    account: &Account,
    current: &crate::sessions::SessionRecord,
    now: UnixTime,
) -> Result<Vec<Activity>, StorageError> {
    let rows = records
        .sign_ins_of_account(&account.id, now - RECENT_DAYS * DAY, RECENT_ROWS)
        .await?;
    let finished = |r: &SignInRecord| {
        rows.iter().any(|o| {
            o.outcome == "success"
                && o.at >= r.at
                && o.at <= r.at + 15 * 60
                && o.user_agent == r.user_agent
                && o.ip == r.ip
        })
    };
    // The newest sign-in from this browser (its address and user agent) that finished by the
    // time the session began: the session is made by the request that logs the sign-in, so a
    // later sign-in from another browser on the same network is not taken for this one. (Two
    // sign-ins from one address and browser within the same second cannot be told apart.)
    let this_session = rows
        .iter()
        .find(|r| {
            r.outcome == "success"
                && r.ip == current.ip
                && r.user_agent == current.user_agent
                && r.at <= current.created_at
        })
        .map(|r| r.id);
    Ok(rows
        .iter()
        .filter(|r| {
            matches!(
                r.step.as_str(),
                "password" | "second_factor" | "reset" | "single_sign_on"
            )
        })
        .filter(|r| !(r.outcome == "passed" && r.step == "password" && finished(r)))
        .filter_map(|r| {
            let what = match (r.step.as_str(), r.outcome.as_str()) {
                ("reset", "success") => "Password reset",
                ("reset", "passed") => "Password reset started",
                ("reset", _) => "Password reset: wrong code",
                (_, "success") => "Signed in",
                ("password", "passed") => "Password correct, second step not finished",
                ("password", "failure") => "Wrong password",
                ("second_factor", "failure") => "Wrong code or security key",
                (_, "blocked") => "Sign-in stopped",
                (_, "reported") => "Reported on a call as not you",
                _ => return None,
            };
            let signals = risk::parse_names(&r.signals);
            Some(Activity {
                id: r.id,
                at: r.at,
                what,
                failed: matches!(r.outcome.as_str(), "failure" | "blocked" | "reported"),
                device: notices::describe_device(&r.user_agent),
                ip: r.ip.clone(),
                place: r.place.clone(),
                level: Assessment::of(signals.clone()).level,
                why: signals.iter().map(|s| s.describe()).collect(),
                reported: r.reported_at.is_some(),
                can_report: r.reported_at.is_none()
                    && matches!(r.outcome.as_str(), "success" | "passed"),
                this_session: Some(r.id) == this_session,
            })
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum NotMeError {
    #[error("That sign-in is not in your recent activity")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// "This wasn't me" on a row of Recent activity: every session ends (this one too), remembered
/// devices are forgotten, the password stops working until it is reset, the account is flagged
/// and its administrators alerted.
pub async fn report_not_me<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    event_id: i64,
) -> Result<(), NotMeError>
where
    R: Monitored,
{
    if !records.mark_reported(event_id, &account.id, m.now).await? {
        return Err(NotMeError::NotFound);
    }
    records
        .delete_sessions_of_account(&account.id, None)
        .await?;
    records.forget_devices(&account.id, None).await?;
    records.revoke_grants_of_account(&account.id, m.now).await?;
    records
        .set_password_action(&account.id, PasswordAction::ResetRequired)
        .await?;
    let assessment = Assessment::of(vec![Signal::ReportedByPerson]);
    raise(records, m, account, &assessment).await?;
    records
        .append_audit(
            &m.audit("account.reported_not_me", Outcome::Success)
                .account(&account.id)
                .reason(&format!("sign-in log row {event_id}")),
        )
        .await?;
    tell(records, m, account, notices::not_me_reported(account)).await?;
    alert_administrators(records, m, account, "they reported a sign-in as not theirs").await?;
    Ok(())
}

/// Deletes the sign-in log's rows older than the retention period, in batches so that no
/// transaction grows large. Returns how many went.
pub async fn prune<R: SignInLog>(
    records: &R,
    settings: &RiskSettings,
    now: UnixTime,
) -> Result<u64, StorageError> {
    let before = now - settings.retention_days * DAY;
    // What the account signed in from is forgotten after the look-back, as the rules do.
    records
        .prune_familiar(now - settings.look_back_days * DAY)
        .await?;
    let mut total = 0;
    loop {
        let gone = records.prune_sign_ins(before, 5_000).await?;
        total += gone;
        if gone < 5_000 {
            return Ok(total);
        }
    }
}
