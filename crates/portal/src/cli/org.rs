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
            let code = organisations::OrgCode::parse(&code)
                .map_err(|e| CliError::BadInput(e.to_string()))?;
            let contact = organisations::valid_contact(&contact)
                .map_err(|e| CliError::BadInput(e.to_string()))?;
            use domain::organisations::OrganisationRecords;
            if !store
                .set_admin_contact(code.as_str(), contact.as_deref())
                .await?
            {
                return Err(CliError::BadInput(
                    OrganisationError::NotFound(code.as_str().to_string()).to_string(),
                ));
            }
            let event = AuditEvent::new(
                "organisation.contact_changed",
                Outcome::Success,
                &Requester::command_line(),
                now,
            )
            .subject(code.as_str());
            store.append_audit(&event).await?;
            match contact {
                Some(text) => println!("Contact for {} set to \"{text}\"", code.as_str()),
                None => println!("Contact for {} cleared", code.as_str()),
            }
        }
    }
    store.close().await;
    Ok(())
}
