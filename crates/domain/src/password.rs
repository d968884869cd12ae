//! Passwords: the rules for a new one (SECURITY-CHECKLIST PW-1..PW-3) and Argon2id hashing
//! (PW-5). Hashes carry their parameters, so raising them later rehashes at the next sign-in.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;

/// Why a new password is refused; the text is shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("Enter a password")]
    Missing,
    #[error("Password must be {MIN_CHARS} characters or more")]
    TooShort,
    #[error("Password must be {MAX_CHARS} characters or fewer")]
    TooLong,
    #[error("Passwords do not match")]
    DoesNotMatch,
    #[error("Password must not be based on your name, your email address or NHSmal")]
    PersonalOrServiceWord,
    #[error("This password is too easy to guess: {0}")]
    TooEasyToGuess(String),
    #[error("Your new password must be different from your current password")]
    SameAsCurrent,
}

/// A candidate password, NFC-normalised so that the same characters typed on different
/// keyboards hash the same (PW-1). Never logged: Debug prints nothing of it.
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(raw: &str) -> Self {
        Self(Zeroizing::new(raw.nfc().collect()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// A password that passed the rules for a new password.
#[derive(Debug)]
pub struct NewPassword(Password);

/// The service's own names: a password containing one is among the first an attacker tries.
const SERVICE_WORDS: &[&str] = &["nhsmal", "nhsmail"];
/// Parts of a name or address this long or longer are refused anywhere inside a password;
/// shorter ones (a first name such as "Ann") only as a whole word or the whole password, or
/// they would refuse half the dictionary.
const CONTAINED_PART_CHARS: usize = 4;

/// The words a password must not be built on: the service's names, and the person's name and
/// email address, whole and in parts (lower case, letters and digits only).
fn context_words(personal_words: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = SERVICE_WORDS.iter().map(|w| w.to_string()).collect();
    words.push("nhs".into());
    for w in personal_words {
        let lower = w.to_lowercase();
        let (local, _) = lower.split_once('@').unwrap_or((&lower, ""));
        words.push(compact(local));
        words.extend(
            lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|part| part.chars().count() >= 3)
                .map(str::to_string),
        );
    }
    words.retain(|w| w.chars().count() >= 3);
    words.sort();
    words.dedup();
    words
}

/// Lower case, letters and digits only: "NHSmail-Portal" → "nhsmailportal".
fn compact(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Whether `password` is built on one of `words` (from `context_words`), case-insensitively
/// and whatever separates its parts: a long word anywhere inside it, a short one as a whole
/// word, or the password's letters alone spelling one.
fn built_on(password: &str, words: &[String]) -> bool {
    let lower = password.to_lowercase();
    let whole = compact(&lower);
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    words.iter().any(|w| {
        *w == letters
            || *w == whole
            || tokens.contains(&w.as_str())
            || tokens
                .iter()
                .any(|t| t.trim_end_matches(|c: char| c.is_ascii_digit()) == w)
            || (w.chars().count() >= CONTAINED_PART_CHARS && whole.contains(w.as_str()))
            || SERVICE_WORDS.contains(&w.as_str()) && whole.contains(w.as_str())
    })
}

impl NewPassword {
    /// Checks a new password: length in code points, not built on the person's own name or
    /// email or the service's name, not common (zxcvbn's lists come from breached passwords),
    /// and strong enough by zxcvbn's estimate (score 3 of 4 or better). No composition rules.
    pub fn parse(
        raw: &str,
        confirmation: &str,
        personal_words: &[&str],
    ) -> Result<Self, PasswordRejected> {
        let password = Password::new(raw);
        let text = password.expose();
        if text.is_empty() {
            return Err(PasswordRejected::Missing);
        }
        let chars = text.chars().count();
        if chars < MIN_CHARS {
            return Err(PasswordRejected::TooShort);
        }
        if chars > MAX_CHARS {
            return Err(PasswordRejected::TooLong);
        }
        if Password::new(confirmation).expose() != text {
            return Err(PasswordRejected::DoesNotMatch);
        }
        let words = context_words(personal_words);
        if built_on(text, &words) {
            return Err(PasswordRejected::PersonalOrServiceWord);
        }
        let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(text, &inputs);
        if (estimate.score() as u8) < 3 {
            let reason = estimate
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| w.to_string())
                .unwrap_or_else(|| "add more words or characters".to_string());
            return Err(PasswordRejected::TooEasyToGuess(
                reason.trim_end_matches('.').to_string(),
            ));
        }
        Ok(Self(password))
    }

    pub fn password(&self) -> &Password {
        &self.0
    }
}

/// Argon2id with the configured parameters, and a dummy hash so that an unknown email costs
/// the same hash as a known one (TH-3).
pub struct PasswordHashing {
    params: Params,
    dummy_hash: String,
    /// One permit a core: Argon2id is CPU- and memory-bound, so running more at once only
    /// thrashes caches, and a burst of sign-ins must not starve the rest of the server.
    workers: tokio::sync::Semaphore,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    Correct { needs_rehash: bool },
    Wrong,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashingError(String);

impl PasswordHashing {
    pub fn new(settings: &Argon2Settings) -> Result<Self, HashingError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| HashingError(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut hashing = Self {
            params,
            dummy_hash: String::new(),
            workers: tokio::sync::Semaphore::new(cores),
        };
        let dummy = Password::new(&super::secrets::hex(&super::random_bytes::<16>()));
        hashing.dummy_hash = hashing.hash(&dummy)?;
        Ok(hashing)
    }

    /// Runs `work` on a blocking thread when a core is free for it.
    pub async fn run<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        work: impl FnOnce(&PasswordHashing) -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let _permit = self
            .workers
            .acquire()
            .await
            .map_err(|e| HashingError(e.to_string()))?;
        let hashing = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&hashing))
            .await
            .map_err(|e| HashingError(e.to_string()))
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash` with a 128-bit salt from the OS.
    pub fn hash(&self, password: &Password) -> Result<String, HashingError> {
        let salt = super::random_bytes::<16>();
        self.argon2()
            .hash_password_with_salt(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashingError(e.to_string()))
    }

    /// Checks a password against a stored hash, or against the dummy hash when there is no
    /// account (so both cost one Argon2id hash). Comparison is constant-time in the crate.
    pub fn check(&self, password: &Password, stored: Option<&str>) -> PasswordCheck {
        let (hash_text, real) = match stored {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash_text) else {
            return PasswordCheck::Wrong;
        };
        let verified = self
            .argon2()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        if !(verified && real) {
            return PasswordCheck::Wrong;
        }
        let needs_rehash = parsed.algorithm.as_str() != "argon2id"
            || Params::try_from(&parsed).map_or(true, |p| {
                p.m_cost() < self.params.m_cost()
                    || p.t_cost() < self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            });
        PasswordCheck::Correct { needs_rehash }
    }
}

/// How hard a password hash is to compute; the `[argon2]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's first Argon2id configuration, also the floor we accept (SECURITY-CHECKLIST PW-5).
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "correct horse battery staple 1";

    #[test]
    fn length_counts_code_points_not_bytes() {
        // 8 code points, 16 bytes: long enough.
        assert!(!matches!(
            NewPassword::parse("ééééééé1", "ééééééé1", &[]),
            Err(PasswordRejected::TooShort)
        ));
        assert_eq!(
            NewPassword::parse("abc12", "abc12", &[]).unwrap_err(),
            PasswordRejected::TooShort
        );
        let long = "a".repeat(257);
        assert_eq!(
            NewPassword::parse(&long, &long, &[]).unwrap_err(),
            PasswordRejected::TooLong
        );
    }

    #[test]
    fn composed_and_decomposed_forms_are_the_same_password() {
        // "é" as one code point and as e + combining acute accent.
        let composed = Password::new("caf\u{e9} au lait 1989");
        let decomposed = Password::new("cafe\u{301} au lait 1989");
        assert_eq!(composed.expose(), decomposed.expose());
    }

    #[test]
    fn common_and_personal_passwords_are_refused_with_a_reason() {
        assert!(matches!(
            NewPassword::parse("password1", "password1", &[]),
            Err(PasswordRejected::TooEasyToGuess(_))
        ));
        assert!(matches!(
            NewPassword::parse("qwertyuiop", "qwertyuiop", &[]),
            Err(PasswordRejected::TooEasyToGuess(_))
        ));
        assert_eq!(
            NewPassword::parse("nhsmal2024!", "nhsmal2024!", &[]).unwrap_err(),
            PasswordRejected::PersonalOrServiceWord
        );
        assert_eq!(
            NewPassword::parse("bartholomew", "bartholomew", &["Bartholomew Smith"]).unwrap_err(),
            PasswordRejected::PersonalOrServiceWord
        );
        assert!(NewPassword::parse(GOOD, GOOD, &["Ann Example", "ann@example.nhs.uk"]).is_ok());
    }

    #[test]
    fn the_service_name_and_the_persons_name_are_refused_anywhere_inside_a_password() {
        let ann = ["Ann Example", "ann.example@riverside.nhs.uk"];
        for bad in [
            "NHSmail-Portal-2026",
            "nhsmal is my ward 77",
            "my NHSMAL password 2026!",
            "ExampleAnn#2026",
            "ann example 1990 ward",
            "Riverside Pharmacy 2026!",
            "ann1234 river boat lamp",
        ] {
            assert_eq!(
                NewPassword::parse(bad, bad, &ann).unwrap_err(),
                PasswordRejected::PersonalOrServiceWord,
                "{bad}"
            );
        }
        // A short name is refused as a word, not as letters inside another word.
        for good in ["planning banner seventy cobalt", GOOD] {
            assert!(NewPassword::parse(good, good, &ann).is_ok(), "{good}");
        }
    }

    #[test]
    fn no_composition_rules_any_characters_allowed() {
        let pass = "лошадь батарея скоба ✓";
        assert!(NewPassword::parse(pass, pass, &[]).is_ok());
    }

    #[test]
    fn confirmation_must_match() {
        assert_eq!(
            NewPassword::parse(GOOD, "something else", &[]).unwrap_err(),
            PasswordRejected::DoesNotMatch
        );
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_with_the_configured_parameters() {
        let hashing = PasswordHashing::new(&Argon2Settings::default()).expect("params valid");
        let hash = hashing.hash(&Password::new(GOOD)).expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let salt_b64 = hash.split('$').nth(4).expect("salt part");
        assert_eq!(salt_b64.len(), 22, "a 128-bit salt is 22 base64 characters");
        assert_eq!(
            hashing.check(&Password::new(GOOD), Some(&hash)),
            PasswordCheck::Correct {
                needs_rehash: false
            }
        );
        assert_eq!(
            hashing.check(&Password::new("wrong"), Some(&hash)),
            PasswordCheck::Wrong
        );
        assert_eq!(
            hashing.check(&Password::new(GOOD), None),
            PasswordCheck::Wrong
        );
    }

    #[test]
    fn a_hash_with_weaker_parameters_is_marked_for_rehash() {
        let old = PasswordHashing::new(&Argon2Settings::default()).expect("params");
        let hash = old.hash(&Password::new(GOOD)).expect("hash");
        let stronger = PasswordHashing::new(&Argon2Settings {
            memory_kib: 32 * 1024,
            ..Argon2Settings::default()
        })
        .expect("params");
        assert_eq!(
            stronger.check(&Password::new(GOOD), Some(&hash)),
            PasswordCheck::Correct { needs_rehash: true }
        );
    }
}
