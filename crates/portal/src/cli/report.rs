//! `nhsmal report enrollment`: the enrolment report (the same figures as the admin page) as a
//! table for people, CSV or JSON.

use clap::Subcommand;

use super::{CliError, open_store};
use crate::config::CommonArgs;
use domain::admin::AdminScope;
use domain::clock::{Clock, SystemClock, human, human_date};
use domain::organisations::OrgCode;
use domain::report::{self, EnrolmentReport, ReportError, percent_text, thousands};

#[derive(Subcommand)]
pub enum ReportCommand {
    /// MFA enrolment: accounts with MFA, by method, per organisation and week by week
    #[command(alias = "enrolment")]
    Enrollment {
        /// table (for people), csv or json
        #[arg(long, default_value = "table")]
        format: String,
        /// One organisation's report instead of the national one
        #[arg(long, value_name = "CODE")]
        org: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Csv,
    Json,
}

fn parse_format(text: &str) -> Result<Format, CliError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "table" => Ok(Format::Table),
        "csv" => Ok(Format::Csv),
        "json" => Ok(Format::Json),
        _ => Err(CliError::BadInput(format!(
            "unknown format {text:?} (use table, csv or json)"
        ))),
    }
}

pub async fn run(common: &CommonArgs, command: ReportCommand) -> Result<(), CliError> {
    let ReportCommand::Enrollment { format, org } = command;
    // Everything the operator typed is checked before the store is opened.
    let format = parse_format(&format)?;
    let scope = match org.as_deref() {
        None => AdminScope::National,
        Some(code) => AdminScope::Organisation(
            OrgCode::parse(code)
                .map_err(|e| CliError::BadInput(e.to_string()))?
                .as_str()
                .to_string(),
        ),
    };
    let (_, store) = open_store(common).await?;
    let report = report::enrolment_report(&store, &scope, SystemClock.now())
        .await
        .map_err(|e| match e {
            e @ ReportError::UnknownOrganisation(_) => CliError::BadInput(e.to_string()),
            ReportError::Storage(s) => CliError::from(s),
        });
    store.close().await;
    let report = report?;
    let text = match format {
        Format::Table => table(&report),
        Format::Csv => report.to_csv(),
        Format::Json => format!("{:#}\n", report.to_json()),
    };
    print!("{text}");
    Ok(())
}

/// Columns padded to their widest cell: text to the left, figures to the right.
fn columns(out: &mut String, header: &[&str], rows: &[Vec<String>], left: usize) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i < left {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(out, header.to_vec());
    for row in rows {
        line(out, row.iter().map(String::as_str).collect());
    }
}

/// A name cut to `max` characters for a table column.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

fn table(r: &EnrolmentReport) -> String {
    let mut out = String::new();
    out.push_str(&format!("MFA enrolment report: {}\n", r.scope_label()));
    out.push_str(&format!("Generated {}\n", human(r.generated_at)));
    match r.required_from {
        Some(at) => out.push_str(&format!("MFA required from {}\n", human_date(at))),
        None => out.push_str("MFA required from: no date set\n"),
    }
    out.push('\n');
    let summary = vec![
        vec![
            "Accounts (active)".into(),
            thousands(r.totals.accounts),
            String::new(),
        ],
        vec![
            "Enrolled (at least one method)".into(),
            thousands(r.totals.enrolled),
            percent_text(r.totals.share()),
        ],
        vec![
            "Without MFA".into(),
            thousands(r.totals.not_enrolled()),
            String::new(),
        ],
        vec![
            "Disabled (not counted above)".into(),
            thousands(r.disabled),
            String::new(),
        ],
    ];
    columns(&mut out, &["FIGURE", "ACCOUNTS", "SHARE"], &summary, 1);
    out.push('\n');
    let methods: Vec<Vec<String>> = r
        .by_method
        .iter()
        .map(|m| {
            vec![
                m.kind.label().into(),
                thousands(m.accounts),
                percent_text(m.share),
            ]
        })
        .collect();
    columns(&mut out, &["METHOD", "ACCOUNTS", "SHARE"], &methods, 1);
    if !r.organisations.is_empty() {
        out.push('\n');
        let orgs: Vec<Vec<String>> = r
            .organisations
            .iter()
            .map(|o| {
                vec![
                    o.code.clone(),
                    clip(&o.name, 40),
                    thousands(o.figures.accounts),
                    thousands(o.figures.enrolled),
                    thousands(o.figures.not_enrolled()),
                    percent_text(o.figures.share()),
                ]
            })
            .collect();
        columns(
            &mut out,
            &[
                "ORGANISATION",
                "NAME",
                "ACCOUNTS",
                "ENROLLED",
                "WITHOUT MFA",
                "SHARE",
            ],
            &orgs,
            2,
        );
    }
    out.push('\n');
    if r.weeks.is_empty() {
        out.push_str("Nobody has enrolled yet.\n");
    } else {
        let weeks: Vec<Vec<String>> = r
            .weeks
            .iter()
            .map(|w| {
                vec![
                    report::iso_date(w.starts),
                    thousands(w.newly_enrolled),
                    thousands(w.enrolled),
                    percent_text(w.share),
                ]
            })
            .collect();
        columns(
            &mut out,
            &["WEEK STARTING", "NEWLY ENROLLED", "ENROLLED", "SHARE"],
            &weeks,
            1,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut out = String::new();
        columns(
            &mut out,
            &["NAME", "N"],
            &[
                vec!["a".into(), "1".into()],
                vec!["longer".into(), "1,000".into()],
            ],
            1,
        );
        assert_eq!(out, "NAME        N\na           1\nlonger  1,000\n");
    }

    #[test]
    fn formats_are_checked() {
        assert_eq!(parse_format("JSON").ok(), Some(Format::Json));
        assert!(matches!(parse_format("xml"), Err(CliError::BadInput(_))));
        assert_eq!(clip("Riverside Pharmacy", 10), "Riverside…");
    }
}
