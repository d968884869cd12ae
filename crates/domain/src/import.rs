//! Bulk import of accounts from a CSV file (`email,name,organisation,role`). The whole file is
//! read and checked first; each bad row is reported with its line number. With any bad row
//! nothing is imported, unless the caller chose to skip bad rows. A row whose email already
//! has an account changes nothing, so importing the same file again changes nothing. Each new
//! account gets an invitation to set its password (no passwords in CSV files).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;

use super::StorageError;
use super::accounts::{Email, NewAccount, Role};
use super::audit::{AuditEvent, AuditTrail, Outcome, Requester};
use super::invitations::{self, InvitationToken, NewInvitation};
use super::organisations::OrgCode;
use crate::clock::UnixTime;
use crate::delivery::{Channel, Message, Notifier};

/// The header a file must start with (case and surrounding spaces aside).
pub const HEADER: [&str; 4] = ["email", "name", "organisation", "role"];

/// Accounts written in one transaction: big enough that 100,000 rows take a few seconds on
/// SQLite, small enough that the one writer is never held for long.
pub const BATCH_SIZE: usize = 1_000;

/// Longest display name, as for `nhsmal user add`.
const MAX_NAME_CHARS: usize = 200;

/// Emails looked up per query when checking which accounts exist.
const LOOKUP_CHUNK: usize = 1_000;

/// A row that passed every check.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub email: Email,
    pub name: String,
    pub org_code: String,
    pub role: Role,
}

/// A problem or warning about one line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineNote {
    pub line: u64,
    pub message: String,
}

impl fmt::Display for LineNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// What importing a file would do, worked out before anything is written.
#[derive(Debug, Default)]
pub struct ImportPlan {
    /// Data rows read (the header and blank lines aside).
    pub rows: usize,
    /// Rows for new accounts.
    pub new: Vec<ImportRow>,
    /// Rows whose email already has an account.
    pub unchanged: usize,
    /// Bad rows (and a bad header), in line order.
    pub problems: Vec<LineNote>,
    /// Rows left alone that the operator should look at.
    pub warnings: Vec<LineNote>,
    /// The file as a whole cannot be read (no header, wrong header, not CSV): nothing can be
    /// imported from it, even skipping bad rows.
    pub unreadable: bool,
}

impl ImportPlan {
    /// Whether the import may go ahead.
    pub fn may_import(&self, skip_invalid: bool) -> bool {
        !self.unreadable && (self.problems.is_empty() || skip_invalid)
    }
}

/// An account that already exists, as the import compares it with a row.
#[derive(Debug, Clone)]
pub struct ExistingAccount {
    pub email_normalized: String,
    pub display_name: String,
    pub org_code: String,
    pub role: String,
}

/// A new account with its invitation and the audit events that record its creation.
#[derive(Debug, Clone)]
pub struct InvitedAccount {
    pub account: NewAccount,
    pub invitation: NewInvitation,
    pub events: Vec<AuditEvent>,
}

pub trait ImportRecords {
    /// Which of these organisation codes exist.
    fn existing_organisations(
        &self,
        codes: &[String],
    ) -> impl Future<Output = Result<HashSet<String>, StorageError>> + Send;
    /// The accounts that have one of these (normalised) emails.
    fn existing_accounts(
        &self,
        normalized_emails: &[String],
    ) -> impl Future<Output = Result<Vec<ExistingAccount>, StorageError>> + Send;
    /// Adds the accounts in one transaction, with the invitation and events of each one that
    /// was added. An email taken meanwhile is skipped, not an error. Returns the ids added.
    fn add_invited_accounts(
        &self,
        batch: &[InvitedAccount],
    ) -> impl Future<Output = Result<HashSet<String>, StorageError>> + Send;
    /// Appends audit events in one transaction.
    fn append_audit_events(
        &self,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// One data row as read, with what is wrong with it.
struct RowCheck {
    line: u64,
    email: Option<Email>,
    name: String,
    org: Option<OrgCode>,
    role: Option<Role>,
    reasons: Vec<String>,
}

/// Reads the file and checks what can be checked without the database.
fn read_rows(bytes: &[u8], plan: &mut ImportPlan) -> Vec<RowCheck> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut lines = LineCounter::new(bytes);
    let mut records = reader.byte_records();
    let header = loop {
        match records.next() {
            None => {
                fatal(
                    plan,
                    1,
                    format!(
                        "the file is empty; the first line must be {}",
                        HEADER.join(",")
                    ),
                );
                return vec![];
            }
            Some(Err(e)) => {
                fatal(
                    plan,
                    line_of_error(&e),
                    format!("cannot read the file: {e}"),
                );
                return vec![];
            }
            Some(Ok(record)) if is_blank(&record) => continue,
            Some(Ok(record)) => break record,
        }
    };
    let header_line = lines.line_of(&header);
    let names: Vec<String> = header
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_lowercase())
        .collect();
    if names != HEADER {
        fatal(
            plan,
            header_line,
            format!(
                "the header must be {} (found {})",
                HEADER.join(","),
                names.join(",")
            ),
        );
        return vec![];
    }

    let mut rows = vec![];
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                // A broken file (not a bad row): stop rather than guess where rows start.
                fatal(
                    plan,
                    line_of_error(&e),
                    format!("cannot read the file: {e}"),
                );
                return vec![];
            }
        };
        if is_blank(&record) {
            continue;
        }
        plan.rows += 1;
        let line = lines.line_of(&record);
        let mut check = RowCheck {
            line,
            email: None,
            name: String::new(),
            org: None,
            role: None,
            reasons: vec![],
        };
        if record.len() != HEADER.len() {
            check.reasons.push(format!(
                "expected {} columns ({}), found {}",
                HEADER.len(),
                HEADER.join(","),
                record.len()
            ));
            rows.push(check);
            continue;
        }
        let fields: Vec<&str> = match record
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
        {
            Ok(f) => f,
            Err(_) => {
                check.reasons.push("the row is not valid UTF-8 text".into());
                rows.push(check);
                continue;
            }
        };
        let email_text = fields[0].trim();
        match Email::parse(email_text) {
            Ok(email) => {
                match first_line_of.get(email.normalized()) {
                    Some(first) => check.reasons.push(format!(
                        "email address {} is already on line {first}",
                        email.as_str()
                    )),
                    None => {
                        first_line_of.insert(email.normalized().to_string(), line);
                    }
                }
                check.email = Some(email);
            }
            Err(_) if email_text.is_empty() => check.reasons.push("email address is empty".into()),
            Err(_) => check
                .reasons
                .push(format!("\"{email_text}\" is not a valid email address")),
        }
        let name = fields[1].trim();
        if name.is_empty() {
            check.reasons.push("name is empty".into());
        } else if name.chars().count() > MAX_NAME_CHARS {
            check
                .reasons
                .push(format!("name is longer than {MAX_NAME_CHARS} characters"));
        } else if name.chars().any(char::is_control) {
            check
                .reasons
                .push("name must not contain control characters".into());
        }
        check.name = name.to_string();
        let org_text = fields[2].trim();
        match OrgCode::parse(org_text) {
            Ok(code) => check.org = Some(code),
            Err(_) if org_text.is_empty() => {
                check.reasons.push("organisation code is empty".into())
            }
            Err(_) => check.reasons.push(format!(
                "organisation code \"{org_text}\" is not valid (3 to 10 letters and digits, such as FA123)"
            )),
        }
        let role_text = fields[3].trim();
        match role_text.to_ascii_lowercase().parse::<Role>() {
            Ok(role) => check.role = Some(role),
            Err(_) => check.reasons.push(format!(
                "role must be user, local-admin or national-admin (found \"{role_text}\")"
            )),
        }
        rows.push(check);
    }
    rows
}

/// Line numbers as an editor shows them. The csv crate's own line count is off after CRLF
/// endings and blank lines; its byte offsets are right, give or take the line ends before a
/// record.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line a record starts on. Records come in order, so counting goes on from the last.
    fn line_of(&mut self, record: &csv::ByteRecord) -> u64 {
        let mut start = record
            .position()
            .map_or(self.offset, |p| p.byte() as usize)
            .clamp(self.offset, self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let newlines = self.bytes[self.offset..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line += newlines as u64;
        self.offset = start;
        self.line
    }
}

/// A problem with the file as a whole.
fn fatal(plan: &mut ImportPlan, line: u64, message: String) {
    plan.problems.push(LineNote { line, message });
    plan.unreadable = true;
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

fn line_of_error(e: &csv::Error) -> u64 {
    e.position().map_or(1, |p| p.line())
}

/// Reads and checks the whole file against the database; writes nothing.
pub async fn plan(records: &impl ImportRecords, bytes: &[u8]) -> Result<ImportPlan, StorageError> {
    let mut plan = ImportPlan::default();
    let mut rows = read_rows(bytes, &mut plan);

    let mut codes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.org.as_ref().map(|c| c.as_str().to_string()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    codes.sort();
    let known = records.existing_organisations(&codes).await?;
    for row in &mut rows {
        if let Some(code) = &row.org
            && !known.contains(code.as_str())
        {
            row.reasons
                .push(format!("no organisation with code {}", code.as_str()));
        }
    }

    let emails: Vec<String> = rows
        .iter()
        .filter(|r| r.reasons.is_empty())
        .filter_map(|r| r.email.as_ref().map(|e| e.normalized().to_string()))
        .collect();
    let mut existing: HashMap<String, ExistingAccount> = HashMap::new();
    for chunk in emails.chunks(LOOKUP_CHUNK) {
        for account in records.existing_accounts(chunk).await? {
            existing.insert(account.email_normalized.clone(), account);
        }
    }

    for row in rows {
        let (line, email, name, org, role) = match row {
            RowCheck {
                line,
                email: Some(email),
                name,
                org: Some(org),
                role: Some(role),
                reasons,
            } if reasons.is_empty() => (line, email, name, org, role),
            bad => {
                plan.problems.push(LineNote {
                    line: bad.line,
                    message: bad.reasons.join("; "),
                });
                continue;
            }
        };
        match existing.get(email.normalized()) {
            Some(account) => {
                plan.unchanged += 1;
                let mut differences = vec![];
                if account.display_name != name {
                    differences.push("name");
                }
                if account.org_code != org.as_str() {
                    differences.push("organisation");
                }
                if account.role != role.as_str() {
                    differences.push("role");
                }
                if !differences.is_empty() {
                    plan.warnings.push(LineNote {
                        line,
                        message: format!(
                            "an account with email address {} exists with different details ({}); not changed",
                            email.as_str(),
                            differences.join(", ")
                        ),
                    });
                }
            }
            None => plan.new.push(ImportRow {
                line,
                email,
                name,
                org_code: org.as_str().to_string(),
                role,
            }),
        }
    }
    plan.problems.sort_by_key(|p| p.line);
    Ok(plan)
}

/// Who is importing, from where, and how to reach the people invited.
pub struct ImportContext<'a> {
    pub requester: &'a Requester,
    /// The administrator importing through the admin pages; `None` on the command line.
    pub actor_id: Option<&'a str>,
    pub notifier: &'a dyn Notifier,
    pub public_url: &'a url::Url,
    /// The file's name, for the audit trail.
    pub source: &'a str,
    pub now: UnixTime,
}

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub added: usize,
    pub unchanged: usize,
    /// Bad rows left out (with `skip_invalid`).
    pub skipped: usize,
    /// Invitations that could not be delivered (logged and audited).
    pub undelivered: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "added {}, unchanged {}", self.added, self.unchanged)?;
        if self.skipped > 0 {
            write!(f, ", skipped {} with errors", self.skipped)?;
        }
        if self.undelivered > 0 {
            write!(f, ", {} invitations not delivered", self.undelivered)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Bad rows, and the caller did not ask to skip them (or the file cannot be read at all).
    #[error("{} with errors; nothing was imported", rows_with_errors(.0.len()))]
    Invalid(Vec<LineNote>),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn rows_with_errors(n: usize) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

/// Imports a checked file: new accounts in batches of `BATCH_SIZE`, one transaction each, and
/// each batch's invitations emailed once it is committed. `progress(done, total)` is called
/// after each batch. Audits `account.added` and `invitation.sent` for each new account, and
/// `import.completed` once.
pub async fn import<R>(
    records: &R,
    plan: ImportPlan,
    skip_invalid: bool,
    ctx: &ImportContext<'_>,
    mut progress: impl FnMut(usize, usize) + Send,
) -> Result<ImportReport, ImportError>
where
    R: ImportRecords + AuditTrail + Sync,
{
    if !plan.may_import(skip_invalid) {
        return Err(ImportError::Invalid(plan.problems));
    }
    let mut report = ImportReport {
        unchanged: plan.unchanged,
        skipped: plan.problems.len(),
        ..ImportReport::default()
    };
    let total = plan.new.len();
    let mut done = 0;
    for chunk in plan.new.chunks(BATCH_SIZE) {
        let (batch, tokens): (Vec<InvitedAccount>, Vec<InvitationToken>) =
            chunk.iter().map(|row| invited(row, ctx)).unzip();
        let added = records.add_invited_accounts(&batch).await?;
        report.unchanged += chunk.len() - added.len();
        report.added += added.len();

        let sent: Vec<(&InvitedAccount, Message)> = batch
            .iter()
            .zip(&tokens)
            .filter(|(invited, _)| added.contains(&invited.account.id))
            .map(|(invited, token)| {
                let notice = invitations::notice(
                    &invited.account.display_name,
                    &token.link(ctx.public_url),
                    invited.invitation.expires_at,
                );
                let message = Message {
                    channel: Channel::Email,
                    to: invited.account.email.as_str().to_string(),
                    subject: Some(notice.subject.to_string()),
                    body: notice.body,
                    code: None,
                    keypad_url: None,
                    html: None,
                };
                (invited, message)
            })
            .collect();
        let messages: Vec<Message> = sent.iter().map(|(_, m)| m.clone()).collect();
        let outcomes = ctx.notifier.send_all(&messages, ctx.now).await;
        let mut events = Vec::with_capacity(sent.len());
        for ((invited, _), outcome) in sent.iter().zip(outcomes) {
            let event = match outcome {
                Ok(()) => {
                    AuditEvent::new("invitation.sent", Outcome::Success, ctx.requester, ctx.now)
                }
                Err(e) => {
                    report.undelivered += 1;
                    tracing::error!(error = %e, "invitation not delivered");
                    AuditEvent::new(
                        "notification.failed",
                        Outcome::Failure,
                        ctx.requester,
                        ctx.now,
                    )
                    .reason(invitations::SUBJECT)
                }
            };
            events.push(with_actor(event.account(&invited.account.id), ctx.actor_id));
        }
        records.append_audit_events(&events).await?;
        done += chunk.len();
        progress(done, total);
    }
    let completed = AuditEvent::new("import.completed", Outcome::Success, ctx.requester, ctx.now)
        .subject(ctx.source)
        .reason(&report.to_string());
    records
        .append_audit(&with_actor(completed, ctx.actor_id))
        .await?;
    Ok(report)
}

fn with_actor(event: AuditEvent, actor_id: Option<&str>) -> AuditEvent {
    match actor_id {
        Some(id) => event.actor(id),
        None => event,
    }
}

/// The account, invitation and events for a new row, and the token for its link.
fn invited(row: &ImportRow, ctx: &ImportContext<'_>) -> (InvitedAccount, InvitationToken) {
    let id = uuid::Uuid::new_v4().to_string();
    let token = InvitationToken::generate();
    let added = AuditEvent::new("account.added", Outcome::Success, ctx.requester, ctx.now)
        .account(&id)
        .reason("import");
    let invited = InvitedAccount {
        invitation: NewInvitation::new(&token, &id, ctx.actor_id, ctx.now),
        account: NewAccount {
            id,
            email: row.email.clone(),
            display_name: row.name.clone(),
            org_code: row.org_code.clone(),
            role: row.role,
            password_hash: None,
            now: ctx.now,
        },
        events: vec![with_actor(added, ctx.actor_id)],
    };
    (invited, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any bytes as an import file (hostile input, issue 18): read, or refused line by
        /// line, never a panic; every problem names a line of the file.
        #[test]
        fn any_file_is_read_or_its_bad_lines_named(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            text in "(email,name,organisation,role\n)?([a-z@.,\"\n -]{0,40}\n){0,20}",
        ) {
            for input in [bytes.as_slice(), text.as_bytes()] {
                let mut plan = ImportPlan::default();
                let _ = read_rows(input, &mut plan);
                let lines = input.iter().filter(|b| **b == b'\n').count() as u64 + 1;
                for p in &plan.problems {
                    proptest::prop_assert!(p.line <= lines + 1, "line {} of {}", p.line, lines);
                }
            }
        }
    }

    fn read(text: &str) -> (ImportPlan, Vec<RowCheck>) {
        let mut plan = ImportPlan::default();
        let rows = read_rows(text.as_bytes(), &mut plan);
        (plan, rows)
    }

    fn reasons(rows: &[RowCheck]) -> Vec<(u64, String)> {
        rows.iter()
            .filter(|r| !r.reasons.is_empty())
            .map(|r| (r.line, r.reasons.join("; ")))
            .collect()
    }

    #[test]
    fn the_header_is_checked_without_case_spaces_or_a_byte_order_mark() {
        let (plan, rows) = read(
            "\u{feff} Email , NAME,Organisation,role\r\nann@example.nhs.uk,Ann,FA123,user\r\n",
        );
        assert!(!plan.unreadable, "{:?}", plan.problems);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].reasons.is_empty());
        assert_eq!(rows[0].line, 2);

        let (plan, _) = read("email,name,org,role\nann@example.nhs.uk,Ann,FA123,user\n");
        assert!(plan.unreadable);
        assert_eq!(plan.problems[0].line, 1);
        assert!(plan.problems[0].message.contains("header must be"));

        let (plan, _) = read("");
        assert!(plan.unreadable);
        assert!(!plan.may_import(true));
    }

    #[test]
    fn each_bad_row_is_reported_with_its_line_number() {
        let text = "email,name,organisation,role\n\
                    ann@example.nhs.uk,Ann Example,FA123,user\n\
                    not-an-email,Bob,FA123,user\n\
                    \n\
                    cat@example.nhs.uk,,FA123,user\n\
                    dan@example.nhs.uk,Dan,F!,user\n\
                    eve@example.nhs.uk,Eve,FA123,boss\n\
                    ANN@example.nhs.uk,Ann Again,FA123,user\n\
                    fay@example.nhs.uk,Fay,FA123\n\
                    \"gus@example.nhs.uk\",\"Gus, the second\",fa123, Local-Admin \n";
        let (plan, rows) = read(text);
        assert!(!plan.unreadable);
        assert_eq!(plan.rows, 8);
        let bad = reasons(&rows);
        let lines: Vec<u64> = bad.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 5, 6, 7, 8, 9]);
        assert!(bad[0].1.contains("not a valid email address"), "{bad:?}");
        assert!(bad[1].1.contains("name is empty"));
        assert!(bad[2].1.contains("organisation code"));
        assert!(bad[3].1.contains("role must be"));
        assert!(bad[4].1.contains("already on line 2"));
        assert!(bad[5].1.contains("expected 4 columns"));
        let gus = rows.last().expect("gus");
        assert_eq!(gus.name, "Gus, the second");
        assert_eq!(gus.role, Some(Role::LocalAdmin));
        assert_eq!(gus.org.as_ref().map(OrgCode::as_str), Some("FA123"));
    }

    #[test]
    fn line_numbers_count_crlf_blank_and_quoted_lines() {
        let text = "email,name,organisation,role\r\n\r\nbad,A,FA123,user\r\n\"b@x.nhs.uk\",\"Two\r\nlines\",FA123,user\r\n\r\n\r\nc@x.nhs.uk,C,FA123,boss\r\n";
        let (_, rows) = read(text);
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 8]);
        let (_, rows) = read("\n\nemail,name,organisation,role\nbad,A,FA123,user\n");
        assert_eq!(rows[0].line, 4);
    }

    #[test]
    fn a_long_name_is_refused() {
        let text = format!(
            "email,name,organisation,role\nann@example.nhs.uk,{},FA123,user\n",
            "a".repeat(201)
        );
        let (_, rows) = read(&text);
        assert!(rows[0].reasons[0].contains("longer than 200"));
    }

    #[test]
    fn the_report_reads_as_counts() {
        let report = ImportReport {
            added: 3,
            unchanged: 2,
            skipped: 1,
            undelivered: 0,
        };
        assert_eq!(
            report.to_string(),
            "added 3, unchanged 2, skipped 1 with errors"
        );
        let note = LineNote {
            line: 4,
            message: "name is empty".into(),
        };
        assert_eq!(note.to_string(), "line 4: name is empty");
    }
}
