//! `nhsmal-dev`: generated data for benchmarks, benchmark fixtures and test files, run against
//! a portal's store with the same flags as `nhsmal` (`--data-dir`, `--database-url`). Bad input
//! prints one line and exits 2; other failures exit 1.

mod commands;
mod generated;
mod risk_bench;
mod risk_timing;

use std::process::ExitCode;

use clap::Parser;
use nhsmal::config::CommonArgs;

#[derive(Parser)]
#[command(
    name = "nhsmal-dev",
    version,
    about = "NHSmal Portal development tools: generated data, benchmark fixtures"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: commands::DevCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    nhsmal::cli::exit_code_of(commands::run(&cli.common, cli.command))
}
