//! `nhsmal user import FILE.csv [--skip-invalid]`: accounts from a CSV file, each new person
//! invited by email to set their password.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::config::{CommonArgs, ProviderArgs, ServeArgs, Settings};
use crate::store::Store;
use domain::audit::Requester;
use domain::clock::{Clock, SystemClock};
use domain::import::{self, ImportContext, ImportError};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file with the header email,name,organisation,role
    pub file: PathBuf,
    /// Import the good rows even when some rows have errors (those are reported and left out)
    #[arg(long)]
    pub skip_invalid: bool,
    /// The address people use, for the links in invitations [default: http://localhost:8080]
    #[arg(long, env = "NHSMAL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How invitations are emailed (the outbox in the data folder by default)
    #[command(flatten)]
    pub providers: ProviderArgs,
}

/// Plain progress lines this often when output is not a terminal.
const PROGRESS_EVERY: usize = 10_000;

pub async fn run(common: &CommonArgs, args: ImportArgs) -> Result<(), CliError> {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| CliError::BadInput(format!("cannot read {}: {e}", args.file.display())))?;
    let serve = ServeArgs {
        public_url: args.public_url.clone(),
        providers: args.providers.clone(),
        ..ServeArgs::default()
    };
    let settings =
        Settings::resolve(common, &serve).map_err(|e| CliError::BadInput(e.to_string()))?;
    let notifier = crate::notify::from_settings(&settings.providers, &settings.data_dir)
        .map_err(|e| CliError::BadInput(format!("message providers: {e}")))?;
    let store = Store::open(
        &settings.database_url,
        &settings.data_dir,
        settings.database_max_connections,
    )
    .await?;

    let plan = import::plan(&store, &bytes).await?;
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    for problem in &plan.problems {
        eprintln!("{problem}");
    }
    if !plan.may_import(args.skip_invalid) {
        store.close().await;
        let message = if plan.unreadable {
            "the file cannot be imported; nothing was imported".to_string()
        } else {
            format!(
                "{}; rerun with --skip-invalid to import the other rows",
                ImportError::Invalid(plan.problems)
            )
        };
        return Err(CliError::BadInput(message));
    }

    let total = plan.new.len();
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total as u64),
            indicatif::ProgressDrawTarget::stdout(),
        );
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{wide_bar} {pos}/{len} accounts, {eta} left")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut done = 0;
    let progress = |n: usize, total: usize| {
        done = n;
        match &bar {
            Some(bar) => bar.set_position(n as u64),
            None if n.is_multiple_of(PROGRESS_EVERY) || n == total => {
                println!("imported {n} of {total}");
            }
            None => {}
        }
    };
    let source = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let requester = Requester::command_line();
    let context = ImportContext {
        requester: &requester,
        actor_id: None,
        notifier: &notifier,
        public_url: &settings.public_url,
        source: &source,
        now: SystemClock.now(),
    };
    let result = import::import(&store, plan, args.skip_invalid, &context, progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    store.close().await;
    match result {
        Ok(report) => {
            println!("{report}");
            Ok(())
        }
        Err(ImportError::Storage(e)) => Err(CliError::Failed(anyhow::anyhow!(
            "{e}; {done} accounts were added before it failed; importing the same file again \
             adds the rest"
        ))),
        Err(e @ ImportError::Invalid(_)) => Err(CliError::BadInput(e.to_string())),
    }
}
