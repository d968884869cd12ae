//! Temporary access passes: a one-time code an administrator gives to a person who has lost
//! their second factor (or never had one). It signs them in once, in place of the password
//! and the second factor, to a session that can only enrol a new method.

use zeroize::Zeroizing;

use crate::StorageError;
use crate::clock::UnixTime;
use crate::secrets::SecretBox;

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

    pub(crate) fn matches(&self, secrets: &SecretBox, account_id: &str, expected: &str) -> bool {
        secrets.mac_matches(
            format!("tap\0{account_id}\0{}", self.0.as_str()).as_bytes(),
            expected,
        )
    }
}

/// A temporary access pass as stored: only a keyed hash of the code.
#[derive(Debug, Clone)]
pub struct StoredPass {
    pub id: String,
    pub account_id: String,
    pub code_hash: String,
    pub expires_at: UnixTime,
}

/// Where passes are kept: issued by `admin`, spent by `signin::sign_in_with_pass`.
pub trait PassRecords {
    fn live_temporary_access_pass(
        &self,
        account_id: &str,
        now: UnixTime,
    ) -> impl std::future::Future<Output = Result<Option<StoredPass>, StorageError>> + Send;
    /// Whether setting up a method needs a temporary access pass (after an MFA reset).
    fn enrolment_needs_pass(
        &self,
        account_id: &str,
    ) -> impl std::future::Future<Output = Result<bool, StorageError>> + Send;
    fn set_enrolment_needs_pass(
        &self,
        account_id: &str,
        needs: bool,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send;
    /// Marks the pass used; false if it was already used (one conditional UPDATE).
    fn spend_temporary_access_pass(
        &self,
        id: &str,
        now: UnixTime,
    ) -> impl std::future::Future<Output = Result<bool, StorageError>> + Send;
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
