//! The signals of each step of a sign-in: what a wrong password, a right one, a second factor,
//! a text or call and a reset step set off, written to the sign-in log once.

use super::*;

/// A wrong password (or an unknown address). Counts towards brute force on the account and a
/// password spray from the source; a spraying source is then refused for every account (429),
/// which spares the people it targets from locks on their own accounts.
pub async fn password_failed<R>(
    records: &R,
    m: &Monitor<'_>,
    email: &str,
    account: Option<&Account>,
    reason: &str,
) -> Result<Assessment, StorageError>
where
    R: Monitored,
{
    let s = m.settings;
    let source = client_source(&m.requester.ip);
    let mut signals = vec![];
    // Counted by address for known and unknown ones alike, so the work (and the time) is the
    // same whichever it is; only an account can be flagged.
    let (others, failures) = failure_counts(records, m, email).await?;
    let failures = failures + 1;
    let spraying = others + 1 >= s.spray_accounts;
    if spraying {
        signals.push(Signal::PasswordSpray);
    }
    if account.is_some() && failures >= s.brute_force_failures {
        signals.push(Signal::BruteForce);
    }
    let assessment = Assessment::of(signals);
    let mut entry = m.entry(account, email, Step::Password, "failure", &assessment);
    entry.method = Some("password");
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;

    if spraying {
        let key = ip_limit_key(&m.requester.ip);
        let until = m.now + s.spray_block_minutes * 60;
        // Checked and set in one step: of a burst of sprayed passwords, one raises the alarm.
        let raised = records
            .reserve(&[&key], move |states| match states {
                [ip] if ip.blocked_until < until - 60 => {
                    ip.blocked_until = until;
                    true
                }
                _ => false,
            })
            .await?;
        if raised {
            records
                .append_audit(
                    &m.audit("client.spray_detected", Outcome::Success)
                        .subject(&source)
                        .reason(&format!(
                            "wrong passwords for {} accounts in {} minutes; refused until {}",
                            others + 1,
                            s.spray_minutes,
                            crate::clock::rfc3339(until)
                        )),
                )
                .await?;
            for admin in records.national_administrators().await? {
                notices::email_person(
                    records,
                    m.notifier,
                    m.requester,
                    m.now,
                    &admin,
                    notices::spray_alert(&admin, &source, others + 1, m.now),
                )
                .await?;
            }
        }
    }
    if let Some(account) = account
        && assessment.signals.contains(&Signal::BruteForce)
        && raise(records, m, account, &assessment).await?
    {
        alert_administrators(records, m, account, "many wrong passwords").await?;
    }
    Ok(assessment)
}

/// A password step refused before the password was checked (`throttled`), or after
/// (`disabled`, `reset_required`).
pub async fn password_refused<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    email: &str,
    account: Option<&Account>,
    reason: &str,
) -> Result<(), StorageError> {
    let none = Assessment::default();
    let mut entry = m.entry(account, email, Step::Password, "blocked", &none);
    entry.method = Some("password");
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;
    Ok(())
}

/// The password was right: the signals of this sign-in against the account's history. When
/// they say the password is known to someone else, it must be changed after the next second
/// factor, and people are told.
pub async fn password_passed<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<Assessment, StorageError>
where
    R: Monitored,
{
    let assessment = assess_password(records, m, account).await?;
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::Password,
        "passed",
        &assessment,
    );
    entry.method = Some("password");
    records.record_sign_in(&entry).await?;
    if assessment.signals.contains(&Signal::PasswordKnown) {
        password_probably_known(records, m, account, &assessment).await?;
    }
    Ok(assessment)
}

/// What the sign-in rules read: the summary of what the account signed in from within the
/// look-back, and its rows of the last day (at least; longer when the brute-force window is),
/// both bounded — a few small rows however busy the account.
async fn familiar_and_recent<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<(Familiar, Vec<PastSignIn>), StorageError> {
    let since = m.now - m.settings.look_back_days * DAY;
    let recent_since = m.now - DAY.max(m.settings.brute_force_minutes * 60);
    // Independent reads, made at once (two connections): the sign-in waits for the slower
    // one instead of both in turn.
    futures_util::try_join!(
        records.familiar(&account.id, since, FAMILIAR_ROWS),
        records.account_history(&account.id, recent_since, LAST_DAY_ROWS),
    )
}

/// The risk of a correct password: what the account signed in from and its recent rows
/// (bounded in time and rows) read and the rules run over them. What the risk assessment adds to a sign-in, apart from the log row
/// (timed on its own by `nhsmal dev time-risk`).
pub async fn assess_password<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<Assessment, StorageError> {
    let (familiar, recent) = familiar_and_recent(records, m, account).await?;
    let network = network_of(&m.requester.ip);
    let attempt = Attempt {
        network: &network,
        ..m.attempt()
    };
    Ok(risk::assess_sign_in(
        &attempt, &familiar, &recent, m.settings,
    ))
}

/// The two counts a wrong password costs: other addresses failing from this source (password
/// spray) and wrong passwords for this address (brute force), as `password_failed` reads them.
pub async fn failure_counts<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    email: &str,
) -> Result<(i64, i64), StorageError> {
    let s = m.settings;
    let source = client_source(&m.requester.ip);
    futures_util::try_join!(
        records.failed_emails_from(&source, m.now - s.spray_minutes * 60, email),
        records.password_failures_of(email, m.now - s.brute_force_minutes * 60),
    )
}

async fn password_probably_known<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    assessment: &Assessment,
) -> Result<(), StorageError>
where
    R: Monitored,
{
    if account.password_action == PasswordAction::None {
        records
            .set_password_action(&account.id, PasswordAction::ChangeAfterSecondFactor)
            .await?;
    }
    raise_and_tell(
        records,
        m,
        account,
        assessment,
        notices::password_may_be_known(account, m.now),
        "their password was used, but the second step failed or was not finished",
    )
    .await?;
    Ok(())
}

/// The person is signed in (every step passed, or a remembered device stood in for the
/// second): logged with the sign-in's risk; medium and above email the person, high also
/// flags the account for administrators.
pub async fn signed_in<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    step: Step,
    method: &str,
    assessment: &Assessment,
) -> Result<(), StorageError>
where
    R: Monitored,
{
    let mut entry = m.entry(Some(account), &account.email, step, "success", assessment);
    entry.method = Some(method);
    records.record_sign_in(&entry).await?;
    if assessment.level >= Level::Medium {
        let device = notices::describe_device(&m.requester.user_agent);
        let place = m.requester.location.as_ref().map(|l| l.place.clone());
        let why: Vec<&str> = assessment.signals.iter().map(|s| s.describe()).collect();
        tell(
            records,
            m,
            account,
            notices::new_sign_in(
                account,
                m.now,
                &device,
                &m.requester.ip,
                place.as_deref(),
                &why,
            ),
        )
        .await?;
    }
    if assessment.level == Level::High && raise(records, m, account, assessment).await? {
        alert_administrators(records, m, account, "a high-risk sign-in").await?;
    }
    Ok(())
}

/// Whether the person holds a method that can finish a high-risk sign-in: an authenticator
/// app or a security key the policy allows them (a text or a call can be intercepted or
/// redirected; that is what high risk guards against).
pub fn has_strong_method(
    policy: &crate::policy::MfaPolicy,
    role: crate::accounts::Role,
    methods: &[crate::methods::Method],
) -> bool {
    methods
        .iter()
        .any(|m| is_strong(m.kind) && policy.counts_as_mfa(role, m.kind))
}

pub fn is_strong(kind: crate::methods::MethodKind) -> bool {
    matches!(
        kind,
        crate::methods::MethodKind::Totp
            | crate::methods::MethodKind::Fido2
            | crate::methods::MethodKind::Push
    )
}

/// A sign-in stopped because of its risk (high, and the policy refuses it or the person has no
/// strong method).
pub async fn sign_in_blocked<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    assessment: &Assessment,
    reason: &str,
) -> Result<(), StorageError>
where
    R: Monitored,
{
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::Password,
        "blocked",
        assessment,
    );
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;
    records
        .append_audit(
            &m.audit("sign_in.blocked_by_risk", Outcome::Failure)
                .account(&account.id)
                .reason(&format!("{reason}: {}", assessment.signal_names())),
        )
        .await?;
    if raise(records, m, account, assessment).await? {
        alert_administrators(records, m, account, "a high-risk sign-in was stopped").await?;
    }
    Ok(())
}

/// A wrong second factor. Several from somewhere the account has not been, after a correct
/// password, say the password is known to someone else.
pub async fn second_factor_failed<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    method: &str,
    reason: &str,
) -> Result<Assessment, StorageError>
where
    R: Monitored,
{
    let (familiar, mut past) = familiar_and_recent(records, m, account).await?;
    let network = network_of(&m.requester.ip);
    past.push(PastSignIn {
        at: m.now,
        step: "second_factor".into(),
        outcome: "failure".into(),
        device: m.requester.device.clone(),
        network: network.clone(),
        country: None,
        latitude: None,
        longitude: None,
    });
    let known =
        risk::second_factor_failures_say_password_known(m.now, &familiar, &past, m.settings);
    let assessment = Assessment::of(if known {
        vec![Signal::PasswordKnown]
    } else {
        vec![]
    });
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SecondFactor,
        "failure",
        &assessment,
    );
    entry.method = Some(method);
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;
    if known {
        password_probably_known(records, m, account, &assessment).await?;
    }
    Ok(assessment)
}

/// Whether another call may be placed: not after several went unanswered (MFA fatigue).
pub async fn calls_allowed<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<bool, StorageError> {
    let past = records
        .account_history(
            &account.id,
            m.now - m.settings.phone_minutes * 60,
            HISTORY_ROWS,
        )
        .await?;
    Ok(!risk::phone_signals(m.now, &past, m.settings).contains(&Signal::MfaFatigue))
}

/// A text or call sent for a second step (`call_placed`, `text_sent`) or a call approved
/// (`call_answered`). Unanswered calls one after another are MFA fatigue, many sends telephony
/// abuse: the person and their administrators are told, once.
pub async fn phone_contact<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    method: &str,
    outcome: &str,
) -> Result<Assessment, StorageError>
where
    R: Monitored,
{
    let mut past = records
        .account_history(
            &account.id,
            m.now - m.settings.phone_minutes * 60,
            HISTORY_ROWS,
        )
        .await?;
    past.push(PastSignIn {
        at: m.now,
        step: "second_factor".into(),
        outcome: outcome.into(),
        device: None,
        network: String::new(),
        country: None,
        latitude: None,
        longitude: None,
    });
    let assessment = Assessment::of(if outcome == "call_answered" {
        vec![]
    } else {
        risk::phone_signals(m.now, &past, m.settings)
    });
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SecondFactor,
        outcome,
        &assessment,
    );
    entry.method = Some(method);
    records.record_sign_in(&entry).await?;
    if !assessment.signals.is_empty() {
        raise_and_tell(
            records,
            m,
            account,
            &assessment,
            notices::many_calls_or_texts(account, m.now),
            "many calls or texts that were not answered",
        )
        .await?;
    }
    Ok(assessment)
}

/// 0# on a call: the person says the sign-in is not theirs.
pub async fn reported_on_call<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
) -> Result<(), StorageError>
where
    R: Monitored,
{
    reported_by_person(records, m, account, "voice", "0# pressed on the call").await
}

/// The person says a sign-in is not theirs (0# on a call, "Deny, and report it" in the app):
/// the high-risk signal, and the administrators alerted.
pub async fn reported_by_person<R>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    method: &'static str,
    reason: &'static str,
) -> Result<(), StorageError>
where
    R: Monitored,
{
    let assessment = Assessment::of(vec![Signal::ReportedByPerson]);
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SecondFactor,
        "reported",
        &assessment,
    );
    entry.method = Some(method);
    entry.reason = Some(reason);
    records.record_sign_in(&entry).await?;
    if raise(records, m, account, &assessment).await? {
        alert_administrators(
            records,
            m,
            account,
            if method == "voice" {
                "they reported a sign-in as not theirs (0#)"
            } else {
                "they reported a sign-in as not theirs in the NHSmal Authenticator"
            },
        )
        .await?;
    }
    Ok(())
}

/// A step of a password reset, for the log (`passed` at the email step, `success` when the new
/// password is saved, `failure` otherwise).
pub async fn reset_step<R: SignInLog>(
    records: &R,
    requester: &Requester,
    now: UnixTime,
    email: &str,
    account: Option<&Account>,
    outcome: &str,
    reason: Option<&str>,
) -> Result<(), StorageError> {
    let step = PlainStep {
        step: Step::Reset,
        method: None,
        outcome,
        reason,
    };
    record_plain(records, requester, now, email, account, step).await
}

/// A sign-in to an app through the portal (an authorization code issued): logged so that the
/// person sees which apps their account was used with.
pub async fn single_sign_on<R: SignInLog>(
    records: &R,
    m: &Monitor<'_>,
    account: &Account,
    app_name: &str,
) -> Result<(), StorageError> {
    let none = Assessment::default();
    let mut entry = m.entry(
        Some(account),
        &account.email,
        Step::SingleSignOn,
        "success",
        &none,
    );
    entry.method = Some("code");
    entry.reason = Some(app_name);
    records.record_sign_in(&entry).await?;
    Ok(())
}

/// A sign-in with a temporary access pass (an administrator's, to set up a new method): logged
/// as a password step with the method `pass`, `success` or `failure`.
pub async fn pass_step<R: SignInLog>(
    records: &R,
    requester: &Requester,
    now: UnixTime,
    email: &str,
    account: Option<&Account>,
    outcome: &str,
) -> Result<(), StorageError> {
    let reason = (outcome == "failure").then_some("wrong_pass_or_email");
    let step = PlainStep {
        step: Step::Password,
        method: Some("pass"),
        outcome,
        reason,
    };
    record_plain(records, requester, now, email, account, step).await
}

/// A row without risk signals (reset and pass steps), from the request and time alone.
struct PlainStep<'a> {
    step: Step,
    method: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
}

async fn record_plain<R: SignInLog>(
    records: &R,
    requester: &Requester,
    now: UnixTime,
    email: &str,
    account: Option<&Account>,
    what: PlainStep<'_>,
) -> Result<(), StorageError> {
    let entry = SignInEntry {
        at: now,
        account_id: account.map(|a| a.id.as_str()),
        email,
        org_code: account.map(|a| a.org_code.as_str()),
        requester,
        step: what.step,
        method: what.method,
        outcome: what.outcome,
        reason: what.reason,
        assessment: &Assessment::default(),
    };
    records.record_sign_in(&entry).await?;
    Ok(())
}
