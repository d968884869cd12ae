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
