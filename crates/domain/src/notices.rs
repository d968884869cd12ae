//! Security notices by email (LC-6): what each one says, in plain text and in HTML, and handing
//! it to the email queue. A notice never undoes what it reports: if it cannot even be queued,
//! that is logged and audited, and the person's request goes on.
//!
//! The messages contain no links. A phisher can copy an email; they cannot copy the habit of
//! going to the portal oneself, so the messages say where to go and what to choose there.

use super::StorageError;
use super::accounts::Account;
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use crate::clock::{UnixTime, human};
use crate::delivery::{Channel, Message, Notifier};

pub struct Notice<'a> {
    pub subject: &'a str,
    /// Plain text: paragraphs separated by a blank line. The HTML alternative is made from it.
    pub body: String,
}

/// Under every notice, in both forms.
pub const FOOTER: &str = "This is an automatic email from NHSmal: do not reply to it. NHSmal \
     will never ask for your password, a code or a temporary access pass by email, and our \
     security emails never contain links.";

/// Queues `notice` for the person. The email provider of the app (`web::App::notifier`) puts it
/// in the persistent email queue and tries it at once; delivery failures are retried there and
/// never reach the caller.
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
        body: format!("{}\n\n{FOOTER}", notice.body.trim_end()),
        code: None,
        keypad_url: None,
        html: Some(html(notice.subject, &notice.body)),
    };
    if let Err(e) = notifier.send(&message, now).await {
        tracing::error!(error = %e, "security notice not queued");
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

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const FONT: &str = "font-family:Arial,Helvetica,sans-serif;";

/// The HTML form of a notice in the NHS style: the blue header, dark text on white, every style
/// inline (mail clients drop style sheets), no images and no links.
pub fn html(subject: &str, body: &str) -> String {
    let paragraphs: String = body
        .trim()
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            format!(
                "<p style=\"margin:0 0 16px 0;\">{}</p>\n",
                escape(p.trim()).replace('\n', "<br>")
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n\
         <body style=\"margin:0;padding:0;background-color:#f0f4f5;\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"background-color:#f0f4f5;\"><tr><td style=\"padding:16px;\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         style=\"max-width:600px;margin:0 auto;background-color:#ffffff;\">\n\
         <tr><td style=\"background-color:#005eb8;padding:16px 24px;color:#ffffff;{FONT}\
         font-size:24px;font-weight:bold;\">NHSmal</td></tr>\n\
         <tr><td style=\"padding:24px;{FONT}font-size:16px;line-height:1.5;color:#212b32;\">\n\
         <h1 style=\"margin:0 0 16px 0;{FONT}font-size:24px;line-height:1.25;color:#212b32;\">\
         {title}</h1>\n{paragraphs}</td></tr>\n\
         <tr><td style=\"padding:16px 24px;border-top:4px solid #005eb8;{FONT}font-size:14px;\
         line-height:1.5;color:#4c6272;\">{footer}</td></tr>\n\
         </table>\n</td></tr></table>\n</body>\n</html>\n",
        title = escape(subject),
        footer = escape(FOOTER),
    )
}

// ---- The messages -------------------------------------------------------------------------

const IF_NOT_YOU: &str = "If this wasn't you, contact your local administrator straight away: someone else may know \
     your password.";

const CONTACT: &str = "If you did not expect this, contact your local administrator straight away.";

/// How to change the password without a link.
const CHANGE_PASSWORD: &str = "go to the NHSmal Portal yourself (not through a link in an \
     email), sign in and choose \"Change password\" under Self-Service";

fn notice(subject: &'static str, name: &str, paragraphs: &[&str]) -> Notice<'static> {
    let mut body = format!("Dear {name},");
    for p in paragraphs {
        body.push_str("\n\n");
        body.push_str(p);
    }
    body.push_str("\n\nNHSmal");
    Notice { subject, body }
}

pub fn password_changed(account: &Account, at: UnixTime) -> Notice<'static> {
    notice(
        "Your NHSmal password has been changed",
        &account.display_name,
        &[
            &format!(
                "The password of your NHSmal account was changed on {}. You have been signed out \
                 everywhere else, and apps such as mail apps must sign in again.",
                human(at)
            ),
            IF_NOT_YOU,
        ],
    )
}

/// After the self-service reset ("Forgotten your password?").
pub fn password_reset(account: &Account, at: UnixTime) -> Notice<'static> {
    notice(
        "Your NHSmal password has been reset",
        &account.display_name,
        &[
            &format!(
                "The password of your NHSmal account was reset on {} by someone who used \
                 \"Forgotten your password?\" and proved it was you with your sign-in methods. \
                 You have been signed out everywhere else, and apps such as mail apps must sign \
                 in again.",
                human(at)
            ),
            "If this wasn't you, contact your local administrator straight away: someone may \
             have your phone or security key as well as access to your account.",
        ],
    )
}

/// Whether a sign-in method was added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodChange {
    Added,
    Removed,
    NumberChanged,
}

/// `kind` as people read it ("Authenticator app"), `name` as the person named it.
pub fn method_changed(
    account: &Account,
    change: MethodChange,
    kind: &str,
    name: &str,
    at: UnixTime,
) -> Notice<'static> {
    let (subject, what, advice) = match change {
        MethodChange::Added => (
            "A sign-in method was added to your NHSmal account",
            "A new way to prove it's you was added to",
            "someone else may be able to sign in as you",
        ),
        MethodChange::Removed => (
            "A sign-in method was removed from your NHSmal account",
            "A way to prove it's you was removed from",
            "someone else may have changed your security info",
        ),
        MethodChange::NumberChanged => (
            "The phone number you sign in with was changed",
            "The phone number of a way to prove it's you was changed on",
            "someone else may be able to sign in as you",
        ),
    };
    notice(
        subject,
        &account.display_name,
        &[
            &format!(
                "{what} your NHSmal account on {}: {kind} (\"{name}\").",
                human(at)
            ),
            &format!(
                "If this wasn't you, contact your local administrator straight away: {advice}."
            ),
        ],
    )
}

/// A recovery code was used to sign in; `remaining` unused codes are left.
pub fn recovery_code_used(account: &Account, remaining: usize, at: UnixTime) -> Notice<'static> {
    let left = match remaining {
        0 => "You have no recovery codes left. To make a new set, go to the NHSmal Portal, sign \
              in and choose \"Recovery codes\" under Self-Service."
            .to_string(),
        1 => "You have 1 recovery code left.".to_string(),
        n => format!("You have {n} recovery codes left."),
    };
    notice(
        "A recovery code was used to sign in to your NHSmal account",
        &account.display_name,
        &[
            &format!(
                "One of your recovery codes was used to sign in to your NHSmal account on {}. \
                 Each code works only once.",
                human(at)
            ),
            &left,
            &format!(
                "If this wasn't you, someone has your password and one of your codes: \
                 {CHANGE_PASSWORD}, make a new set of recovery codes there, and tell your local \
                 administrator."
            ),
        ],
    )
}

/// Why an account was locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockCause {
    /// Wrong passwords, one after another.
    WrongPasswords,
    /// The right password, then failed second steps.
    FailedSecondSteps,
}

pub fn account_locked(
    account: &Account,
    cause: LockCause,
    failures: i64,
    until: UnixTime,
) -> Notice<'static> {
    let (what, advice) = match cause {
        LockCause::WrongPasswords => (
            format!(
                "Someone tried to sign in to your NHSmal account with the wrong password \
                 {failures} times, so your account is locked until {}.",
                human(until)
            ),
            "If this was you, wait until then and try again. If you have forgotten your \
             password, go to the NHSmal Portal and choose \"Forgotten your password?\" on the \
             sign-in page. If it wasn't you, tell your local administrator.",
        ),
        LockCause::FailedSecondSteps => (
            format!(
                "Someone entered your password correctly but then failed the second step of \
                 signing in to NHSmal {failures} times, so your account is locked until {}.",
                human(until)
            ),
            "If this wasn't you, someone may know your password: change it as soon as you can, \
             and tell your local administrator.",
        ),
    };
    notice(
        "Your NHSmal account has been locked",
        &account.display_name,
        &[&what, advice],
    )
}

pub fn mfa_reset_by_admin(account: &Account) -> Notice<'static> {
    notice(
        "Your NHSmal multi-factor authentication was reset",
        &account.display_name,
        &[
            &format!(
                "An administrator removed the multi-factor authentication methods from your \
                 NHSmal account ({}) and signed you out everywhere (apps such as mail apps must \
                 sign in again). To set up a new method, ask \
                 your local administrator for a temporary access pass and choose \u{201c}Sign in \
                 with a temporary access pass\u{201d} on the sign-in page.",
                account.email
            ),
            CONTACT,
        ],
    )
}

pub fn temporary_access_pass_issued(account: &Account, expires_at: UnixTime) -> Notice<'static> {
    notice(
        "A temporary access pass was issued for your NHSmal account",
        &account.display_name,
        &[
            &format!(
                "An administrator issued a temporary access pass for your NHSmal account ({}). \
                 It works once, until {}, and only to set up a new multi-factor authentication \
                 method.",
                account.email,
                human(expires_at)
            ),
            "Your administrator will give it to you; NHSmal never sends it by email.",
            CONTACT,
        ],
    )
}

/// "Firefox on Windows" from a User-Agent: enough for a person to recognise their device,
/// never the whole header.
pub fn describe_device(user_agent: &str) -> String {
    let ua = user_agent.to_ascii_lowercase();
    let browser = [
        ("edg/", "Edge"),
        ("firefox/", "Firefox"),
        ("chrome/", "Chrome"),
        ("safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("windows", "Windows"),
        ("android", "Android"),
        ("iphone", "iPhone"),
        ("ipad", "iPad"),
        ("mac os", "macOS"),
        ("cros", "ChromeOS"),
        ("linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "An unknown browser".to_string(),
    }
}

/// A sign-in that sign-in monitoring found unusual (medium risk or above).
pub fn new_sign_in(
    account: &Account,
    at: UnixTime,
    device: &str,
    address: &str,
    place: Option<&str>,
    why: &[&str],
) -> Notice<'static> {
    let place = place
        .map(|p| format!("\nApproximate location: {p}"))
        .unwrap_or_default();
    notice(
        "New sign-in to your NHSmal account",
        &account.display_name,
        &[
            &format!(
                "Your NHSmal account was signed in to on {}.\nDevice: {device}\nInternet \
                 address: {address}{place}\nWhy we are telling you: {}.",
                human(at),
                why.join("; ")
            ),
            "If this was you, you do not need to do anything.",
            &format!(
                "If this wasn't you, someone knows your password and got past the second step: \
                 go to the NHSmal Portal yourself (not through a link in an email), sign in, open \
                 My Profile, then \"Recent activity\", and choose \"This wasn't me\" beside this \
                 sign-in. That signs you out everywhere. Then {CHANGE_PASSWORD} and tell your \
                 local administrator."
            ),
        ],
    )
}

/// Someone typed the password right but did not get past the second step.
pub fn password_may_be_known(account: &Account, at: UnixTime) -> Notice<'static> {
    notice(
        "Someone may know your NHSmal password",
        &account.display_name,
        &[
            &format!(
                "Up to {}, your NHSmal password was typed correctly from a device and network \
                 your account has not used, but the second step (your code, call or security \
                 key) failed or was not finished.",
                human(at)
            ),
            "If that was you, you need to do nothing now, but you will be asked to choose a new \
             password the next time you sign in.",
            "If it wasn't you, someone else knows your password. Your second step stopped them. \
             You will be asked to choose a new password the next time you sign in; your local \
             administrator has been told.",
        ],
    )
}

/// "This wasn't me": what happened next.
pub fn not_me_reported(account: &Account) -> Notice<'static> {
    notice(
        "You reported a sign-in to your NHSmal account",
        &account.display_name,
        &[
            "You told us that a sign-in to your NHSmal account was not you. We have signed your \
             account out everywhere and forgotten every device that did not need a code.",
            "Your password no longer works. To sign in again, go to the NHSmal Portal yourself \
             and choose \"Forgotten your password?\" on the sign-in page: you will prove it is \
             you with your authentication method and choose a new password.",
            "Your local administrator has been told.",
        ],
    )
}

/// An administrator confirmed the account compromised.
pub fn compromise_confirmed(account: &Account) -> Notice<'static> {
    notice(
        "Your NHSmal account was secured by an administrator",
        &account.display_name,
        &[
            "An administrator reviewed unusual activity on your NHSmal account and decided that \
             someone else may know your password. We have signed your account out everywhere \
             and forgotten every device that did not need a code.",
            "Your password no longer works. To sign in again, go to the NHSmal Portal yourself \
             and choose \"Forgotten your password?\" on the sign-in page: you will prove it is \
             you with your authentication method and choose a new password.",
            CONTACT,
        ],
    )
}

/// Calls or texts one after another that were not answered.
pub fn many_calls_or_texts(account: &Account, at: UnixTime) -> Notice<'static> {
    notice(
        "Unusual calls or texts for your NHSmal account",
        &account.display_name,
        &[
            &format!(
                "Up to {}, NHSmal called or texted you several times for sign-ins that were not \
                 finished. Someone who knows your password may be trying to get you to approve \
                 their sign-in. We have stopped calling you for now.",
                human(at)
            ),
            "Never press # on a call, or give a code to anyone, unless you are signing in \
             yourself at that moment.",
            IF_NOT_YOU,
        ],
    )
}

/// To a local administrator: a person in their organisation is at risk.
pub fn admin_risk_alert(
    admin: &Account,
    person: &Account,
    what: &str,
    at: UnixTime,
) -> Notice<'static> {
    notice(
        "NHSmal sign-in alert for a person in your organisation",
        &admin.display_name,
        &[
            &format!(
                "NHSmal sign-in monitoring flagged the account of {} ({}) in {} on {}: {what}.",
                person.display_name,
                person.email,
                person.org_code,
                human(at)
            ),
            "Review it in the NHSmal Portal's admin area under \"Risky accounts\", where you can \
             see the sign-ins behind it, and dismiss it or confirm the account is compromised. \
             Go to the portal yourself; this email has no links.",
        ],
    )
}

/// To national administrators: one source failing against many accounts.
pub fn spray_alert(admin: &Account, source: &str, accounts: i64, at: UnixTime) -> Notice<'static> {
    notice(
        "NHSmal: password spray detected",
        &admin.display_name,
        &[
            &format!(
                "On {}, the address {source} tried wrong passwords for {accounts} different NHSmal \
                 accounts. Sign-ins from it are refused for every account for now; the people it \
                 tried are not locked out.",
                human(at)
            ),
            "The sign-in log in the admin area lists the attempts.",
        ],
    )
}

pub fn account_unlocked(account: &Account) -> Notice<'static> {
    notice(
        "Your NHSmal account was unlocked",
        &account.display_name,
        &[
            &format!(
                "An administrator unlocked your NHSmal account ({}). You can sign in again now.",
                account.email
            ),
            CONTACT,
        ],
    )
}

pub fn account_disabled(account: &Account) -> Notice<'static> {
    notice(
        "Your NHSmal account was disabled",
        &account.display_name,
        &[
            &format!(
                "An administrator disabled your NHSmal account ({}); you cannot sign in until \
                 it is enabled again.",
                account.email
            ),
            CONTACT,
        ],
    )
}

pub fn account_enabled(account: &Account) -> Notice<'static> {
    notice(
        "Your NHSmal account was enabled",
        &account.display_name,
        &[
            &format!(
                "An administrator enabled your NHSmal account ({}); you can sign in again.",
                account.email
            ),
            CONTACT,
        ],
    )
}

/// The person pressed 0# on a sign-in call.
pub fn sign_in_blocked(account: &Account, at: UnixTime) -> Notice<'static> {
    notice(
        "We blocked a sign-in to your NHSmal account",
        &account.display_name,
        &[
            &format!(
                "On {} you pressed 0# on our call to say the sign-in to your NHSmal account was \
                 not you. We blocked it.",
                human(at)
            ),
            &format!(
                "Someone may know your password: {CHANGE_PASSWORD}, and tell your local \
                 administrator."
            ),
        ],
    )
}

/// A security key's signature counter went backwards.
pub fn security_key_may_be_copied(account: &Account) -> Notice<'static> {
    notice(
        "A security key on your NHSmal account may have been copied",
        &account.display_name,
        &[
            "A sign-in to your NHSmal account used one of your security keys, but the key's \
             counter showed it may have been copied. We refused it.",
            "If you still have your key, tell your local administrator: the key may need \
             replacing.",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{AccountState, Role};

    fn ann() -> Account {
        Account {
            id: "a1".into(),
            email: "ann@example.nhs.uk".into(),
            display_name: "Ann <Example>".into(),
            org_code: "FA123".into(),
            org_name: "Riverside Pharmacy".into(),
            role: Role::User,
            state: AccountState::Active,
            password_hash: None,
            password_changed_at: None,
            created_at: 0,
            updated_at: 0,
            password_action: Default::default(),
        }
    }

    const AT: UnixTime = 1_722_470_400;

    fn every_notice() -> Vec<Notice<'static>> {
        let a = ann();
        vec![
            password_changed(&a, AT),
            password_reset(&a, AT),
            method_changed(
                &a,
                MethodChange::Added,
                "Authenticator app",
                "Work phone",
                AT,
            ),
            method_changed(&a, MethodChange::Removed, "Text message", "Mobile", AT),
            recovery_code_used(&a, 0, AT),
            recovery_code_used(&a, 1, AT),
            recovery_code_used(&a, 7, AT),
            account_locked(&a, LockCause::WrongPasswords, 10, AT + 900),
            account_locked(&a, LockCause::FailedSecondSteps, 10, AT + 900),
            mfa_reset_by_admin(&a),
            temporary_access_pass_issued(&a, AT + 3600),
            new_sign_in(
                &a,
                AT,
                "Firefox on Windows",
                "203.0.113.7",
                Some("Leeds, GB"),
                &["a device not used before"],
            ),
            password_may_be_known(&a, AT),
            not_me_reported(&a),
            many_calls_or_texts(&a, AT),
            admin_risk_alert(&a, &a, "many wrong passwords", AT),
            spray_alert(&a, "203.0.113.7", 20, AT),
            account_unlocked(&a),
            account_disabled(&a),
            account_enabled(&a),
            sign_in_blocked(&a, AT),
            security_key_may_be_copied(&a),
        ]
    }

    #[test]
    fn every_notice_greets_the_person_and_signs_off_without_links() {
        for n in every_notice() {
            assert!(n.subject.contains("NHSmal"), "{}", n.subject);
            assert!(n.body.starts_with("Dear Ann <Example>,\n\n"), "{}", n.body);
            assert!(n.body.ends_with("\n\nNHSmal"), "{}", n.body);
            for link in ["http:", "https:", "www.", "href"] {
                assert!(!n.body.contains(link), "{}: {link}", n.subject);
                assert!(!html(n.subject, &n.body).contains(link), "{}", n.subject);
            }
        }
    }

    #[test]
    fn notices_say_what_happened_when_and_what_to_do() {
        let a = ann();
        let n = password_changed(&a, AT);
        assert!(
            n.body.contains("1 August 2024 at 1:00am (UK time)"),
            "{}",
            n.body
        );
        assert!(n.body.contains("local administrator"));
        let n = method_changed(
            &a,
            MethodChange::Added,
            "Authenticator app",
            "Work phone",
            AT,
        );
        assert!(
            n.body.contains("Authenticator app (\"Work phone\")"),
            "{}",
            n.body
        );
        assert!(
            recovery_code_used(&a, 1, AT)
                .body
                .contains("1 recovery code left.")
        );
        assert!(
            recovery_code_used(&a, 7, AT)
                .body
                .contains("7 recovery codes left.")
        );
        assert!(
            recovery_code_used(&a, 0, AT)
                .body
                .contains("no recovery codes left")
        );
        let n = new_sign_in(
            &a,
            AT,
            "Firefox on Windows",
            "203.0.113.7",
            Some("Leeds, GB"),
            &["a device not used before"],
        );
        assert!(n.body.contains("Firefox on Windows"));
        assert!(n.body.contains("203.0.113.7"));
        assert!(n.body.contains("Leeds, GB"));
        assert!(n.body.contains("This wasn't me"), "{}", n.body);
        assert!(n.body.contains("Change password"), "{}", n.body);
        assert_eq!(
            describe_device(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
            ),
            "Chrome on Windows"
        );
        assert_eq!(describe_device(""), "An unknown browser");
        let n = temporary_access_pass_issued(&a, AT + 3600);
        assert!(n.body.contains("never sends it by email"));
        assert!(n.body.contains("1 August 2024 at 2:00am (UK time)"));
        let n = account_locked(&a, LockCause::WrongPasswords, 10, AT + 900);
        assert!(n.body.contains("Forgotten your password?"), "{}", n.body);
    }

    #[test]
    fn the_html_form_escapes_the_text_and_keeps_every_style_inline() {
        let n = password_changed(&ann(), AT);
        let page = html(n.subject, &n.body);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<html lang=\"en\">"));
        assert!(page.contains("Dear Ann &lt;Example&gt;,"), "{page}");
        assert!(!page.contains("<Example>"));
        assert!(page.contains("<h1 style="));
        assert!(page.contains(">Your NHSmal password has been changed</h1>"));
        assert!(page.contains("#005eb8"), "the NHS blue header");
        assert_eq!(page.matches("<p ").count(), 4, "{page}");
        for outside in ["<style", "<img", "<link", "<script", "class=", "<a "] {
            assert!(!page.contains(outside), "{outside}");
        }
        assert!(page.contains(&escape(FOOTER)));
        // A line break inside a paragraph stays one.
        let page = html("S", "one\ntwo\n\nthree");
        assert!(page.contains("one<br>two</p>"), "{page}");
    }
}
