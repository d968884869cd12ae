//! The page structs of OpenID Connect (the consent page).

use askama::Template;

use crate::web::http::pages::Chrome;

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub chrome: Chrome,
    pub app_name: String,
    pub scopes: Vec<&'static str>,
}

/// What each scope lets an app do, in the words the consent and device pages use.
pub fn scope_words(scope: &str) -> Vec<&'static str> {
    scope
        .split_whitespace()
        .filter_map(|s| match s {
            "openid" => Some("Know who you are (your NHSmal account)"),
            "email" => Some("Your email address"),
            "profile" => Some("Your name and organisation"),
            "offline_access" => Some("Stay signed in to the app while you are away"),
            "mail.imap" => Some("Read, move and delete your email (IMAP)"),
            "mail.smtp" => Some("Send email as you (SMTP)"),
            _ => None,
        })
        .collect()
}
