//! `nhsmal keys`: the OpenID Connect ID token signing keys.

use clap::Subcommand;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::oidc::keys::{self, KeyError, KeyRecords, SigningKeys};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make new RS256 and ES256 signing keys active; the old ones stay in the JWKS until
    /// the tokens they signed have expired
    Rotate,
    /// List the signing keys: kid, algorithm, state, created, retired
    List,
}

fn failed(e: KeyError) -> CliError {
    match e {
        KeyError::Storage(s) => CliError::from(s),
        KeyError::CannotOpen(_) => CliError::BadInput(
            "the master key does not open the current signing keys: use the server's data folder or NHSMAL_MASTER_KEY".into(),
        ),
        other => CliError::Failed(anyhow::anyhow!(other.to_string())),
    }
}

pub async fn run(common: &CommonArgs, command: KeysCommand) -> Result<(), CliError> {
    let (settings, store) = open_store(common).await?;
    let now = SystemClock.now();
    let result = match command {
        KeysCommand::Rotate => rotate(&settings, &store, now).await,
        KeysCommand::List => list(&store, now).await,
    };
    store.close().await;
    result
}

async fn rotate(
    settings: &crate::config::Settings,
    store: &crate::store::Store,
    now: i64,
) -> Result<(), CliError> {
    let secrets = super::serve::load_master_key(settings)?;
    // New keys sealed with a different master key than the server's would stop it signing.
    SigningKeys::load(store, &secrets, now)
        .await
        .map_err(failed)?;
    let rotated = keys::rotate(store, &secrets, &Requester::command_line(), now)
        .await
        .map_err(failed)?;
    for r in rotated {
        println!(
            "{}: new key {} (retired {}; published until {})",
            r.alg,
            r.kid,
            r.retired_kid.as_deref().unwrap_or("none"),
            domain::clock::rfc3339(now + keys::RETIRED_KEY_PUBLISHED_SECONDS),
        );
    }
    println!(
        "Running servers sign with the new keys within {} seconds.",
        keys::RELOAD_SECONDS
    );
    Ok(())
}

async fn list(store: &crate::store::Store, now: i64) -> Result<(), CliError> {
    let keys = store.signing_keys().await?;
    println!("kid\talg\tstate\tcreated\tretired\tpublished until");
    for k in keys {
        let state = match k.state() {
            keys::KeyState::Retired if !k.is_published(now) => "expired",
            state => state.as_str(),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            k.kid,
            k.alg,
            state,
            domain::clock::rfc3339(k.created_at),
            k.retired_at
                .map(domain::clock::rfc3339)
                .unwrap_or_else(|| "-".into()),
            k.publish_until
                .map(domain::clock::rfc3339)
                .unwrap_or_else(|| "-".into()),
        );
    }
    Ok(())
}
