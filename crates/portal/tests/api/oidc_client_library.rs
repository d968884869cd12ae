//! The OpenID Provider through a relying-party library nobody here wrote: the `openidconnect`
//! crate (the one examples/webmail uses) discovers the portal, runs the code flow with PKCE
//! S256 and a nonce, and checks the ID token against the JWKS; then it must refuse a
//! tampered ID token, an expired one, a wrong nonce and a wrong audience.
//!
//! The portal's tokens carry the test's fake clock times, so each verifier is given that
//! clock (`set_time_fn`); "expired" is the same token checked two hours later.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};

use crate::helpers::{TestApp, location, spawn_app};
use crate::oidc::{CALLBACK, register};

fn http_client() -> openidconnect::reqwest::Client {
    // reqwest 0.12's rustls comes without a provider: aws-lc-rs, as everywhere here.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// The fake clock's time now plus `later` seconds, as the library's time function.
fn at(app: &TestApp, later: i64) -> impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync {
    let t = app.clock_now() + later;
    move || chrono::DateTime::from_timestamp(t, 0).expect("a time")
}

struct SignedIn {
    metadata: ProviderMetadataWithLogout,
    client_id: String,
    id_token: CoreIdToken,
    nonce: Nonce,
}

/// A person signs in with password + authenticator app; the library discovers the portal,
/// sends them to authorize and exchanges the code with the PKCE verifier.
async fn sign_in_through_the_library(app: &TestApp) -> SignedIn {
    let (client_id, secret) = register(app, &["--first-party"]);
    let secret = secret.expect("a confidential client's secret");
    let (person, _) = app
        .with_fresh_factor("ann@fa123.nhs.uk", "FA123", "user")
        .await;
    let http = http_client();
    let issuer = app.settings.public_url.as_str().trim_end_matches('/');
    let metadata = ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(issuer.into()).expect("url"),
        &http,
    )
    .await
    .expect("discovery, checked by the library against the issuer");
    assert!(
        metadata
            .additional_metadata()
            .end_session_endpoint
            .is_some()
    );
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).expect("url"));

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert_eq!(
        url.query_pairs()
            .find(|(k, _)| k == "code_challenge_method")
            .map(|(_, v)| v.into_owned())
            .as_deref(),
        Some("S256")
    );
    // The person's cookies are for the address the helpers use; the path is what matters.
    let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    let response = app.get_with(&person, &path).await;
    let back = url::Url::parse(&location(&response)).expect("a redirect to the app");
    assert!(back.as_str().starts_with(CALLBACK), "sent to {back}");
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param("iss").as_deref(), Some(issuer));
    let code = param("code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchange");
    let id_token = tokens.id_token().expect("an ID token").clone();
    SignedIn {
        metadata,
        client_id,
        id_token,
        nonce,
    }
}

/// A client of `client_id` that knows the portal's issuer and keys (from discovery).
fn verifier_for(signed_in: &SignedIn, client_id: &str) -> CoreClient {
    CoreClient::new(
        ClientId::new(client_id.to_string()),
        signed_in.metadata.issuer().clone(),
        signed_in.metadata.jwks().clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openidconnect_crate_signs_a_person_in_and_verifies_the_id_token_against_the_jwks() {
    let app = spawn_app().await;
    let signed_in = sign_in_through_the_library(&app).await;
    let client = verifier_for(&signed_in, &signed_in.client_id);
    let verifier = client.id_token_verifier().set_time_fn(at(&app, 0));
    let claims = signed_in
        .id_token
        .claims(&verifier, &signed_in.nonce)
        .expect("the library accepts the ID token");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ann@fa123.nhs.uk"));
    let amr: Vec<String> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|m| m.as_str().to_string())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:nhsmal:acr:mfa")
    );
    assert_eq!(
        claims.auth_time().map(|t| t.timestamp()),
        Some(app.clock_now())
    );
    let account = crate::helpers::account(&app, "ann@fa123.nhs.uk").await;
    assert_eq!(claims.subject().as_str(), account.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_refuses_a_tampered_an_expired_a_wrong_nonce_and_a_wrong_audience_id_token() {
    let app = spawn_app().await;
    let signed_in = sign_in_through_the_library(&app).await;
    let client = verifier_for(&signed_in, &signed_in.client_id);
    let now = client.id_token_verifier().set_time_fn(at(&app, 0));
    let text = signed_in.id_token.to_string();
    let parts: Vec<&str> = text.split('.').collect();
    assert_eq!(parts.len(), 3);

    // One character of the signature changed (one in the middle: every bit of it counts).
    let mut signature: Vec<char> = parts[2].chars().collect();
    let i = signature.len() / 2;
    signature[i] = if signature[i] == 'A' { 'B' } else { 'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        signature.into_iter().collect::<String>()
    );
    let tampered: CoreIdToken = tampered.parse().expect("still a JWT");
    assert!(
        matches!(
            tampered.claims(&now, &signed_in.nonce),
            Err(ClaimsVerificationError::SignatureVerification(_))
        ),
        "a changed signature is refused"
    );

    // One character of the claims changed (the email's first letter), signature kept.
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url");
    let payload = String::from_utf8(payload)
        .expect("utf-8")
        .replacen("\"ann@", "\"bnn@", 1);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload),
        parts[2]
    );
    let forged: CoreIdToken = forged.parse().expect("still a JWT");
    assert!(
        matches!(
            forged.claims(&now, &signed_in.nonce),
            Err(ClaimsVerificationError::SignatureVerification(_))
        ),
        "changed claims are refused"
    );

    // The same token two hours on (ID tokens live for minutes).
    let later = client.id_token_verifier().set_time_fn(at(&app, 2 * 3600));
    assert!(
        matches!(
            signed_in.id_token.claims(&later, &signed_in.nonce),
            Err(ClaimsVerificationError::Expired(_))
        ),
        "an expired ID token is refused"
    );

    assert!(
        matches!(
            signed_in
                .id_token
                .claims(&now, &Nonce::new("another sign-in".into())),
            Err(ClaimsVerificationError::InvalidNonce(_))
        ),
        "a wrong nonce is refused"
    );

    let other_app = verifier_for(&signed_in, "another-app");
    let other = other_app.id_token_verifier().set_time_fn(at(&app, 0));
    assert!(
        matches!(
            signed_in.id_token.claims(&other, &signed_in.nonce),
            Err(ClaimsVerificationError::InvalidAudience(_))
        ),
        "a token for another app is refused"
    );

    // And the untouched token still passes, so each refusal above is for its own reason.
    assert!(signed_in.id_token.claims(&now, &signed_in.nonce).is_ok());
}
