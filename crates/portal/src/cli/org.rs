use clap::Subcommand;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use domain::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use domain::clock::{Clock, SystemClock};
use domain::organisations::{self, OrganisationError};

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Add an organisation
    Add {
        /// ODS-style code, such as FA123
        #[arg(long)]
        code: String,
        /// Name, such as "Riverside Pharmacy"
        #[arg(long)]
        name: String,
    },
    /// Set how the organisation's staff reach their local administrators (shown on the pages
    /// that tell people to contact them); an empty text clears it
    SetContact {
        #[arg(long)]
        code: String,
        /// Such as "IT service desk, 0161 496 0000, it@riverside.nhs.uk"
        #[arg(long)]
        contact: String,
    },
}

pub async fn run(common: &CommonArgs, command: OrgCommand) -> Result<(), CliError> {
    let (_, store) = open_store(common).await?;
    let now = SystemClock.now();
    match command {
        OrgCommand::Add { code, name } => {
            let org = organisations::add_organisation(&store, &code, &name, now)
                .await
                .map_err(|e| match e {
                    OrganisationError::Storage(s) => CliError::from(s),
                    other => CliError::BadInput(other.to_string()),
                })?;
            let event = AuditEvent::new(
                "organisation.added",
                Outcome::Success,
                &Requester::command_line(),
                now,
            )
            .subject(&org.code);
            store.append_audit(&event).await?;
            println!("Added organisation {} \"{}\"", org.code, org.name);
        }
        OrgCommand::SetContact { code, contact } => {
            let set = organisations::set_admin_contact(
                &store,
                &code,
                &contact,
                &Requester::command_line(),
                None,
                now,
            )
            .await
            .map_err(|e| match e {
                OrganisationError::Storage(s) => CliError::from(s),
                other => CliError::BadInput(other.to_string()),
            })?;
            let code = code.trim().to_uppercase();
            match set {
                Some(text) => println!("Contact for {code} set to \"{text}\""),
                None => println!("Contact for {code} cleared"),
            }
        }
    }
    store.close().await;
    Ok(())
}
