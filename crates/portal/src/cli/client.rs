//! `nhsmal client`: OpenID Connect clients (relying parties).

use std::path::PathBuf;

use clap::Subcommand;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::oidc::clients::{self, ClientError, ClientRecords, NewClient};

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its client_id and, for a confidential client with a
    /// secret, the client_secret (shown once)
    Add {
        /// The name people see, such as "NHSmal Mail"
        #[arg(long)]
        name: Option<String>,
        /// Where the client receives codes: https, or http only for localhost/127.0.0.1
        /// (repeat for several)
        #[arg(long = "redirect-uri", value_name = "URL")]
        redirect_uris: Vec<String>,
        /// A public client (a native or browser app): no secret, PKCE required
        #[arg(long)]
        public: bool,
        /// A first-party app: no consent page
        #[arg(long)]
        first_party: bool,
        /// Where the client may send people after signing out (repeat for several)
        #[arg(long = "post-logout-redirect-uri", value_name = "URL")]
        post_logout_redirect_uris: Vec<String>,
        /// client_secret_basic (default), client_secret_post or private_key_jwt
        #[arg(long, value_name = "METHOD")]
        auth_method: Option<String>,
        /// The client's public keys (a JWKS file), for private_key_jwt
        #[arg(long, value_name = "FILE")]
        jwks_file: Option<PathBuf>,
        /// RS256 (default) or ES256
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// A native app, such as a desktop or phone mail app (RFC 8252): public, PKCE,
        /// redirects to http://127.0.0.1 on any port, the device grant, and refresh tokens
        /// that last for weeks
        #[arg(long)]
        native: bool,
        /// Where the portal sends a logout token when the person signs out everywhere
        /// (OpenID Connect Back-Channel Logout)
        #[arg(long, value_name = "URL")]
        backchannel_logout_uri: Option<String>,
        /// The strength every sign-in to this app must reach, whatever it asks: pwd, mfa or
        /// phr (phishing-resistant: a security key)
        #[arg(long, value_name = "LEVEL")]
        require_acr: Option<String>,
    },
    /// List the clients
    List,
    /// Disable a client: it can no longer sign people in or use its tokens' endpoints
    Disable {
        /// The client_id
        id: String,
    },
}

fn failed(e: ClientError) -> CliError {
    match e {
        ClientError::Storage(s) => CliError::from(s),
        other => CliError::BadInput(other.to_string()),
    }
}

pub async fn run(common: &CommonArgs, command: ClientCommand) -> Result<(), CliError> {
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            first_party,
            post_logout_redirect_uris,
            auth_method,
            jwks_file,
            id_token_alg,
            native,
            backchannel_logout_uri,
            require_acr,
        } => {
            let jwks = match &jwks_file {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    CliError::BadInput(format!("cannot read {}: {e}", path.display()))
                })?),
                None => None,
            };
            let new = NewClient {
                name: name.unwrap_or_default(),
                redirect_uris,
                post_logout_redirect_uris,
                public,
                first_party,
                auth_method,
                jwks,
                id_token_alg,
                native,
                backchannel_logout_uri,
                require_acr,
            };
            // Checked before the store opens, so bad input writes nothing.
            clients::check_registration(&new).map_err(failed)?;
            let (settings, store) = open_store(common).await?;
            let result = async {
                let secrets = super::serve::load_master_key(&settings)?;
                let registered = clients::add_client(
                    &store,
                    &secrets,
                    &new,
                    None,
                    &Requester::command_line(),
                    SystemClock.now(),
                )
                .await
                .map_err(failed)?;
                println!("client_id: {}", registered.client.id);
                if let Some(secret) = registered.secret {
                    println!("client_secret: {secret}");
                }
                Ok(())
            }
            .await;
            store.close().await;
            result
        }
        ClientCommand::List => {
            let (_, store) = open_store(common).await?;
            let result = store.clients().await;
            store.close().await;
            println!("client_id\tname\ttype\tauth method\tfirst party\tstate\tredirect URIs");
            for c in result? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    c.id,
                    c.name,
                    if c.native { "native" } else { c.kind.as_str() },
                    c.auth_method.as_str(),
                    if c.first_party { "yes" } else { "no" },
                    if c.disabled { "disabled" } else { "enabled" },
                    c.redirect_uris.join(" "),
                );
            }
            Ok(())
        }
        ClientCommand::Disable { id } => {
            let (_, store) = open_store(common).await?;
            let result = clients::set_disabled(
                &store,
                &id,
                true,
                None,
                &Requester::command_line(),
                SystemClock.now(),
            )
            .await
            .map_err(failed);
            store.close().await;
            result?;
            println!("Disabled client {id}");
            Ok(())
        }
    }
}
