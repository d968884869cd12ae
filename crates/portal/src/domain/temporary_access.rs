//! Temporary access passes: a one-time code an administrator gives to a person who has lost
//! their second factor (or never had one). It signs them in once, in place of the password
//! and the second factor, to a session that can only enrol a new method.

use zeroize::Zeroizing;

use super::accounts::{Account, AccountRecords, AccountState, normalize_email};
use super::admin::AdminRecords;
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::secrets::SecretBox;
use super::signin::{SignInError, SignInLimitRecords, reserve_password};
use crate::clock::UnixTime;
use crate::config::SignInLimits;

/// No 0/O or 1/I/L: the code is read out over the phone. 31 symbols.
const SYMBOLS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// 16 characters from 31 symbols: about 79 bits.
const LENGTH: usize = 16;

/// A pass code, as shown once to the administrator: `ABCD-EFGH-JKMN-PQRS`.
pub struct PassCode(Zeroizing<String>);

impl PassCode {
    pub fn generate() -> Self {
        let symbols = SYMBOLS;
        let mut code = String::with_capacity(LENGTH);
        while code.len() < LENGTH {
            // Rejection sampling keeps every symbol equally likely.
            for b in super::random_bytes::<32>() {
                let b = usize::from(b & 0x1f);
                if b < symbols.len() && code.len() < LENGTH {
                    code.push(char::from(symbols[b]));
                }
            }
        }
        PassCode(Zeroizing::new(code))
    }

    /// What a person typed: spaces, hyphens and case do not matter.
    pub fn from_input(text: &str) -> Self {
        PassCode(Zeroizing::new(
            text.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        ))
    }

    /// Grouped in fours for reading out.
    pub fn display(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Bound to the account, so a pass cannot be moved to another.
    pub fn keyed_hash(&self, secrets: &SecretBox, account_id: &str) -> String {
        secrets.mac_hex(format!("tap\0{account_id}\0{}", self.0.as_str()).as_bytes())
    }

    fn matches(&self, secrets: &SecretBox, account_id: &str, expected: &str) -> bool {
        secrets.mac_matches(
            format!("tap\0{account_id}\0{}", self.0.as_str()).as_bytes(),
            expected,
        )
    }
}

/// Signs in with an email address and a temporary access pass. Failures count against the
/// same limits as passwords and give the same answer for unknown and known addresses.
pub async fn sign_in_with_pass<R>(
    records: &R,
    secrets: &SecretBox,
    limits: &SignInLimits,
    email: &str,
    code: &PassCode,
    requester: &Requester,
    now: UnixTime,
) -> Result<Account, SignInError>
where
    R: AccountRecords
        + AdminRecords
        + SignInLimitRecords
        + super::monitoring::SignInLog
        + AuditTrail
        + Sync,
{
    let audit = |outcome, reason: &str| {
        AuditEvent::new("sign_in.temporary_access_pass", outcome, requester, now)
            .subject(&normalize_email(email))
            .reason(reason)
    };
    let account = records.account_by_email(&normalize_email(email)).await?;
    let reserved =
        match reserve_password(records, limits, account.as_ref(), email, requester, now).await? {
            Ok(reserved) => reserved,
            Err(until) => {
                records
                    .append_audit(&audit(Outcome::Failure, "throttled"))
                    .await?;
                return Err(SignInError::Throttled { until });
            }
        };
    // The same lookups for unknown addresses, so timing does not tell them apart (TH-3).
    let pass = records
        .live_temporary_access_pass(account.as_ref().map_or("", |a| a.id.as_str()), now)
        .await?;
    let accepted = match (&account, &pass) {
        (Some(a), Some(p)) if code.matches(secrets, &a.id, &p.code_hash) => {
            // Spent once: of two requests racing with the same pass, one wins.
            records.spend_temporary_access_pass(&p.id, now).await?
        }
        _ => {
            // Unknown accounts cost the same keyed hash as known ones.
            let _ = code.matches(secrets, "", "");
            false
        }
    };
    let Some(account) = account.clone().filter(|_| accepted) else {
        // Attached to the account when there is one, so its administrators see the guessing.
        let mut event = audit(Outcome::Failure, "wrong_pass_or_email");
        if let Some(a) = &account {
            event = event.account(&a.id);
        }
        records.append_audit(&event).await?;
        reserved
            .failed(records, limits, account.as_ref(), requester, now)
            .await?;
        let typed = normalize_email(email);
        super::monitoring::pass_step(records, requester, now, &typed, account.as_ref(), "failure")
            .await?;
        return Err(SignInError::WrongPasswordOrEmail);
    };
    reserved.passed(records, limits).await?;
    if account.state == AccountState::Disabled {
        records
            .append_audit(&audit(Outcome::Failure, "disabled").account(&account.id))
            .await?;
        return Err(SignInError::Disabled);
    }
    records.set_enrolment_needs_pass(&account.id, false).await?;
    records
        .append_audit(
            &AuditEvent::new("tap.used", Outcome::Success, requester, now).account(&account.id),
        )
        .await?;
    super::monitoring::pass_step(
        records,
        requester,
        now,
        &account.email,
        Some(&account),
        "success",
    )
    .await?;
    Ok(account)
}

/// Whether `text` could be a pass at all (so an empty field gets its own message).
pub fn looks_like_pass(text: &str) -> bool {
    PassCode::from_input(text).0.len() >= 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_16_unambiguous_characters_read_in_groups_of_four() {
        let code = PassCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert!(
            shown
                .chars()
                .all(|c| c == '-' || (SYMBOLS.contains(&(c as u8))))
        );
        assert!(!shown.contains(['0', 'O', '1', 'I', 'L']));
        assert_ne!(PassCode::generate().display(), shown);
    }

    #[test]
    fn typed_passes_ignore_case_spaces_and_hyphens() {
        let secrets = SecretBox::new(&[7u8; 32]).expect("key");
        let code = PassCode::generate();
        let hash = code.keyed_hash(&secrets, "acct");
        let typed = PassCode::from_input(&format!(" {} ", code.display().to_lowercase()));
        assert!(typed.matches(&secrets, "acct", &hash));
        assert!(!typed.matches(&secrets, "another", &hash));
    }
}
