//! `sesame import` and `sesame export` (issue 19, "Moving in"): accounts
//! of a Django project, a fastapi-users app or a JSONL file come over with
//! their password hashes, untouched.
//!
//! Each source has a reader that only turns rows into [`ImportRecord`]s;
//! the users crate checks them ([`ImportRecord::check`]) and the persistence
//! crate stores them in batches, each batch in one transaction. Everything
//! streams: a page of rows or a batch of lines at a time.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Timelike, Utc};
use clap::Subcommand;
use serde_json::{Map, Value};
use sesame_kernel::audit::{Actor, AuditEvent, AuditLog};
use sesame_kernel::{Page, Timestamp, UserId};
use sesame_persistence::{Database, ExportedAccount, Holder, ImportOutcome, SourceTable};
use sesame_users::{HashOrigin, ImportRecord, ImportedAccount, UNUSABLE_PASSWORD};

use crate::app::StartError;
use crate::Config;

/// Accounts written per transaction.
const BATCH: usize = 1000;

/// Where accounts come from.
#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// A Django project's user table (`auth_user`).
    Django {
        /// `sqlite:///path/db.sqlite3` or `postgres://...`.
        #[arg(long = "from")]
        from: String,
        /// The table.
        #[arg(long, default_value = "auth_user")]
        table: String,
        /// Keep the source's ids (refused where one is taken).
        #[arg(long)]
        keep_ids: bool,
        /// Report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A fastapi-users table (`user`): the email is also the username.
    #[command(name = "fastapi-users")]
    FastApiUsers {
        /// `sqlite:///path/db.sqlite3` or `postgres://...`.
        #[arg(long = "from")]
        from: String,
        /// The table.
        #[arg(long, default_value = "user")]
        table: String,
        /// Report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// One JSON object per line (the format `sesame export jsonl` writes).
    Jsonl {
        /// The file, or `-` for standard input.
        file: String,
        /// Keep the records' `id`s (refused where one is taken).
        #[arg(long)]
        keep_ids: bool,
        /// Report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Where accounts go.
#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Every account as one JSON object per line, hashes included.
    Jsonl {
        /// The file (made 0600); standard output without one.
        file: Option<String>,
    },
}

fn open_database(config: &Config) -> Result<Database, StartError> {
    crate::app::prepare_data_dir(config)?;
    let database = Database::connect(&config.database_url(), 2)?;
    database.migrate()?;
    Ok(database)
}

/// Runs `sesame import ...`: exit 0 when nothing was refused, 1 otherwise.
///
/// # Errors
/// When the database or the source cannot be opened or read.
pub(crate) fn import(config: &Config, command: ImportCommand) -> Result<ExitCode, StartError> {
    let database = open_database(config)?;
    let (keep_ids, dry_run) = match &command {
        ImportCommand::Django {
            keep_ids, dry_run, ..
        }
        | ImportCommand::Jsonl {
            keep_ids, dry_run, ..
        } => (*keep_ids, *dry_run),
        ImportCommand::FastApiUsers { dry_run, .. } => (false, *dry_run),
    };
    if !dry_run {
        // Before the first batch: an import cut short (Ctrl-C, a kill)
        // writes no closing entry, and its accounts are there all the same.
        let source = match &command {
            ImportCommand::Django { .. } => "from django",
            ImportCommand::FastApiUsers { .. } => "from fastapi-users",
            ImportCommand::Jsonl { .. } => "from jsonl",
        };
        let ids = if keep_ids { ", keeping ids" } else { "" };
        audited(&database, "users_import_started", format!("{source}{ids}"));
    }
    let mut run = Run::new(&database, keep_ids, dry_run);
    // Batches are written as they fill, and what was checked before a
    // source fails is written too: those accounts still move the id
    // sequence and are audited before the failure is reported.
    let read = read_source(config, command, &mut run);
    let read = read.and(run.flush());
    if keep_ids && !dry_run && run.imported > 0 {
        database.move_id_sequence().map_err(StartError::setting)?;
    }
    if dry_run {
        println!("dry run: nothing was written");
    } else if read.is_ok() || run.imported > 0 {
        let stopped = match &read {
            Ok(()) => String::new(),
            Err(e) => format!(", then stopped: {e}"),
        };
        let what = format!(
            "imported {} ({} admins), skipped {}, refused {}{stopped}",
            run.imported, run.admins, run.skipped, run.refused
        );
        audited(&database, "users_imported", what);
    }
    read?;
    println!(
        "imported {}, skipped {}, refused {}",
        run.imported, run.skipped, run.refused
    );
    Ok(if run.refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads the records of the source `command` names into `run`.
///
/// # Errors
/// When the source cannot be opened or read, or a batch not written.
fn read_source(config: &Config, command: ImportCommand, run: &mut Run) -> Result<(), StartError> {
    match command {
        ImportCommand::Django { from, table, .. } => {
            let mut source = SourceTable::open(&from, &table).map_err(StartError::setting)?;
            let mut after = 0;
            loop {
                let rows = source
                    .django_page(after, BATCH as i64)
                    .map_err(StartError::setting)?;
                let Some(last) = rows.last() else { break };
                after = last.id;
                for row in rows {
                    let record = django_record(row);
                    run.add(record, HashOrigin::Django)?;
                }
            }
        }
        ImportCommand::FastApiUsers { from, table, .. } => {
            let mut source = SourceTable::open(&from, &table).map_err(StartError::setting)?;
            let mut after = None;
            loop {
                let rows = source
                    .fastapi_users_page(after.as_deref(), BATCH as i64)
                    .map_err(StartError::setting)?;
                let Some(last) = rows.last() else { break };
                after = Some(last.email.clone());
                for row in rows {
                    // An address its owner never proved waits for its
                    // activation, when Sesame asks every sign-up for one.
                    let awaiting = row.is_verified == 0 && config.accounts.require_activation;
                    let record = ImportRecord {
                        source_ref: format!("id {}", row.id),
                        username: row.email.clone(),
                        email: Some(row.email),
                        password_hash: Some(row.hashed_password),
                        is_active: row.is_active != 0 && !awaiting,
                        is_admin: row.is_superuser != 0,
                        // fastapi-users verifies addresses with `is_verified`:
                        // an account it keeps inactive was turned off by hand.
                        inactive_means_deactivated: row.is_active == 0,
                        ..ImportRecord::default()
                    };
                    run.add(Ok(record), HashOrigin::Other)?;
                }
            }
        }
        ImportCommand::Jsonl { file, .. } => {
            let mut reader: Box<dyn BufRead> = if file == "-" {
                Box::new(BufReader::new(std::io::stdin().lock()))
            } else {
                let opened =
                    File::open(&file).map_err(|e| StartError::setting(format!("{file}: {e}")))?;
                Box::new(BufReader::with_capacity(64 * 1024, opened))
            };
            for index in 1.. {
                let source_ref = format!("line {index}");
                let line = match next_line(&mut reader) {
                    Ok(Some(Ok(line))) => line,
                    Ok(Some(Err(TooLong))) => {
                        let why = format!("longer than {} KiB", MAX_LINE_BYTES >> 10);
                        run.add(Err((source_ref, why)), HashOrigin::Other)?;
                        continue;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(StartError::setting(format!("{file}, {source_ref}: {e}")));
                    }
                };
                let Ok(line) = String::from_utf8(line) else {
                    run.add(
                        Err((source_ref, "not UTF-8 text".to_owned())),
                        HashOrigin::Other,
                    )?;
                    continue;
                };
                if line.trim().is_empty() {
                    continue;
                }
                run.add(jsonl_record(&line, source_ref), HashOrigin::Other)?;
            }
        }
    }
    Ok(())
}

/// One import under way: records checked, batched and stored, and counted.
struct Run<'a> {
    database: &'a Database,
    keep_ids: bool,
    dry_run: bool,
    now: Timestamp,
    batch: Vec<ImportedAccount>,
    /// With `--dry-run`, the username and email keys "imported" so far, and
    /// the account holding each: nothing is written, so a later duplicate is
    /// found here.
    seen: HashMap<String, Holder>,
    imported: u64,
    /// Of them, admins.
    admins: u64,
    skipped: u64,
    refused: u64,
}

impl<'a> Run<'a> {
    fn new(database: &'a Database, keep_ids: bool, dry_run: bool) -> Self {
        Run {
            database,
            keep_ids,
            dry_run,
            now: Utc::now(),
            batch: Vec::with_capacity(BATCH),
            seen: HashMap::new(),
            imported: 0,
            admins: 0,
            skipped: 0,
            refused: 0,
        }
    }

    /// Takes one record (or a reader's reason to refuse it).
    fn add(
        &mut self,
        record: Result<ImportRecord, (String, String)>,
        origin: HashOrigin,
    ) -> Result<(), StartError> {
        let record = match record {
            Ok(record) => record,
            Err((source_ref, why)) => {
                self.refuse(&source_ref, &why);
                return Ok(());
            }
        };
        let source_ref = record.source_ref.clone();
        match record.check(origin, self.now) {
            Ok(account) => self.batch.push(account),
            Err(why) => self.refuse(&source_ref, &why),
        }
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn refuse(&mut self, source_ref: &str, why: &str) {
        self.refused += 1;
        println!("refused {source_ref}: {why}");
    }

    /// With `--dry-run`, what the database would say of an account an
    /// earlier batch "imported" under the same username or email.
    fn met_before(&self, account: &ImportedAccount) -> Option<ImportOutcome> {
        let name_key = format!("u:{}", account.user.username.key());
        if let Some(holder) = self.seen.get(&name_key) {
            return Some(ImportOutcome::username_found(account, holder));
        }
        let email_key = format!("e:{}", account.user.email.as_ref()?.key());
        let holder = self.seen.get(&email_key)?;
        Some(ImportOutcome::email_found(&holder.username))
    }

    /// With `--dry-run`, keeps what an account "imported" takes.
    fn remember(&mut self, account: &ImportedAccount) {
        let holder = Holder::of(account);
        if let Some(email) = &account.user.email {
            (self.seen).insert(format!("e:{}", email.key()), holder.clone());
        }
        (self.seen).insert(format!("u:{}", account.user.username.key()), holder);
    }

    /// Stores the batch in one transaction and reports on it.
    fn flush(&mut self) -> Result<(), StartError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.batch);
        if self.dry_run {
            let mut fresh = Vec::with_capacity(batch.len());
            for account in batch {
                match self.met_before(&account) {
                    Some(outcome) => self.report(&account, outcome),
                    None => fresh.push(account),
                }
            }
            batch = fresh;
        }
        let outcomes = self
            .database
            .import_batch(&batch, self.keep_ids, self.dry_run)
            .map_err(StartError::setting)?;
        for (account, outcome) in batch.iter().zip(outcomes) {
            self.report(account, outcome);
        }
        self.batch = batch;
        self.batch.clear();
        Ok(())
    }

    fn report(&mut self, account: &ImportedAccount, outcome: ImportOutcome) {
        match outcome {
            ImportOutcome::Imported(_) => {
                self.imported += 1;
                if account.user.is_staff {
                    // Django's `is_staff` may have been a content editor's.
                    self.admins += 1;
                    let name = account.user.username.as_str();
                    println!("admin {} ({name}): an admin of Sesame", account.source_ref);
                }
                if self.dry_run {
                    self.remember(account);
                }
            }
            ImportOutcome::Skipped(why) => {
                self.skipped += 1;
                println!(
                    "skipped {} ({}): {why}",
                    account.source_ref,
                    account.user.username.as_str()
                );
            }
            ImportOutcome::Refused(why) => self.refuse(&account.source_ref, &why),
        }
    }
}

/// A Django `auth_user` row as a record.
fn django_record(row: sesame_persistence::DjangoRow) -> Result<ImportRecord, (String, String)> {
    let source_ref = format!("id {}", row.id);
    let date_joined = parse_time(&row.date_joined)
        .ok_or_else(|| (source_ref.clone(), "invalid date_joined".to_owned()))?;
    let last_login = match row.last_login.as_deref() {
        None => None,
        Some(text) => Some(
            parse_time(text)
                .ok_or_else(|| (source_ref.clone(), "invalid last_login".to_owned()))?,
        ),
    };
    Ok(ImportRecord {
        source_ref,
        id: Some(row.id),
        username: row.username,
        email: Some(row.email),
        first_name: row.first_name,
        last_name: row.last_name,
        password_hash: Some(row.password),
        is_active: row.is_active != 0,
        is_admin: row.is_admin != 0,
        date_joined: Some(date_joined),
        last_login,
        inactive_means_deactivated: false,
        made_here: false,
    })
}

/// A time as a database or a JSON file writes it: RFC 3339, or
/// `YYYY-MM-DD HH:MM:SS[.ffffff][+hh[:mm]]` (no offset: UTC).
fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let with_offset = |format| DateTime::parse_from_str(text, format).ok();
    let time = DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| with_offset("%Y-%m-%d %H:%M:%S%.f%#z"))
        .or_else(|| with_offset("%Y-%m-%dT%H:%M:%S%.f%#z"))
        .map(|time| time.with_timezone(&Utc))
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
                .map(|naive| naive.and_utc())
        })?;
    // A leap second (second 60) is stored as written by SQLite and as the
    // next minute by PostgreSQL: neither is what the source meant.
    (time.nanosecond() < 1_000_000_000).then_some(time)
}

/// The longest JSONL line read: an account is a few hundred bytes, and a
/// line is held whole, then parsed, before it can be refused.
const MAX_LINE_BYTES: u64 = 64 << 10;

/// A line past [`MAX_LINE_BYTES`], skipped unread.
struct TooLong;

/// The next line of `reader` without its `\n`, or [`TooLong`]; `None` at the end.
fn next_line(reader: &mut dyn BufRead) -> std::io::Result<Option<Result<Vec<u8>, TooLong>>> {
    let mut line = Vec::new();
    Read::take(&mut *reader, MAX_LINE_BYTES + 1).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(Some(Ok(line)));
    }
    if line.len() as u64 <= MAX_LINE_BYTES {
        return Ok(Some(Ok(line)));
    }
    // The rest of the line, a buffer at a time.
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        let (used, ended) = match buffer.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (buffer.len(), false),
        };
        reader.consume(used);
        if ended {
            break;
        }
    }
    Ok(Some(Err(TooLong)))
}

/// One JSONL line as a record.
fn jsonl_record(line: &str, source_ref: String) -> Result<ImportRecord, (String, String)> {
    let refuse = |why: &str| (source_ref.clone(), why.to_owned());
    let object: Map<String, Value> = match serde_json::from_str(line) {
        Ok(Value::Object(object)) => object,
        _ => return Err(refuse("not a JSON object")),
    };
    let text = |key: &str| -> Result<Option<String>, (String, String)> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(refuse(&format!("{key} is not a string"))),
        }
    };
    let flag = |key: &str, default: bool| -> Result<bool, (String, String)> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(refuse(&format!("{key} is not true or false"))),
        }
    };
    let time = |key: &str| -> Result<Option<Timestamp>, (String, String)> {
        match text(key)? {
            None => Ok(None),
            Some(s) => parse_time(&s)
                .map(Some)
                .ok_or_else(|| refuse(&format!("invalid {key}"))),
        }
    };
    if !object.contains_key("password_hash") {
        return Err(refuse("no password_hash (null for no usable password)"));
    }
    let id = match object.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| refuse("invalid id"))?),
        Some(_) => return Err(refuse("invalid id")),
    };
    let password_hash = text("password_hash")?;
    // Its TOTP secret or passkeys stay behind: its password alone must not open it here.
    if flag("second_factor", false)? && password_hash.is_some() {
        return Err(refuse(
            "second_factor is true but a password_hash is given: its password alone would \
             open the account here; set password_hash to null (its owner sets a new one by email)",
        ));
    }
    Ok(ImportRecord {
        source_ref: source_ref.clone(),
        id,
        username: text("username")?.ok_or_else(|| refuse("no username"))?,
        email: text("email")?,
        first_name: text("first_name")?.unwrap_or_default(),
        last_name: text("last_name")?.unwrap_or_default(),
        password_hash,
        is_active: flag("is_active", true)?,
        is_admin: flag("is_admin", false)?,
        date_joined: time("date_joined")?,
        last_login: time("last_login")?,
        inactive_means_deactivated: flag("deactivated_by_admin", false)?,
        made_here: flag("made_here", false)?,
    })
}

/// One account as a JSONL line (what `import jsonl` reads back). An account
/// with a second factor goes without its password: TOTP secrets and
/// passkeys stay behind, and the password alone must not open it elsewhere.
fn jsonl_line(account: &ExportedAccount) -> String {
    let user = &account.user;
    let time = |t: &Timestamp| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let usable = !user.password_hash.starts_with(UNUSABLE_PASSWORD) && !account.second_factor;
    let hash = usable.then_some(user.password_hash.as_str());
    serde_json::json!({
        "id": user.id.0,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "password_hash": hash,
        "is_active": user.is_active,
        "is_admin": user.is_staff,
        "date_joined": time(&user.date_joined),
        "last_login": user.last_login.as_ref().map(time),
        "deactivated_by_admin": account.deactivated_by_admin,
        "second_factor": account.second_factor,
        "made_here": account.made_here,
    })
    .to_string()
}

/// Warns when standard output is a file group or others may read: the
/// shell made it (`> dump.jsonl` under a 022 umask), and every hash goes
/// into it.
fn warn_if_others_may_read_stdout() {
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;
    let Ok(stdout) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return;
    };
    let Ok(metadata) = std::fs::File::from(stdout).metadata() else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if metadata.is_file() && mode & 0o077 != 0 {
        eprintln!(
            "warning: the export goes to a file others may read (mode {mode:o}), with every \
             password hash: `sesame export jsonl FILE` makes FILE readable by its owner alone"
        );
    }
}

/// Runs `sesame export jsonl [FILE]`.
///
/// # Errors
/// When the database cannot be read or the file written.
pub(crate) fn export(config: &Config, command: ExportCommand) -> Result<ExitCode, StartError> {
    let ExportCommand::Jsonl { file } = command;
    let database = open_database(config)?;
    let (export_file, out): (_, Box<dyn Write>) = match &file {
        None => {
            warn_if_others_may_read_stdout();
            (None, Box::new(std::io::stdout().lock()))
        }
        Some(path) => {
            let (export_file, file) = ExportFile::open(path)?;
            (Some(export_file), Box::new(file))
        }
    };
    // Before the first hash is written: an export cut short writes no
    // closing entry, and what it wrote is out all the same.
    let destination = file.as_deref().unwrap_or("standard output");
    audited(
        &database,
        "users_export_started",
        format!("to {destination}"),
    );
    let mut out = BufWriter::new(out);
    let write_error =
        |e: std::io::Error| StartError::setting(format!("cannot write the export: {e}"));
    let mut after = UserId(0);
    let (mut count, mut without_password) = (0u64, 0u64);
    loop {
        let page = database
            .export_page(after, Page::MAX_LIMIT)
            .map_err(StartError::setting)?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.user.id;
        for account in &page {
            writeln!(out, "{}", jsonl_line(account)).map_err(write_error)?;
            count += 1;
            without_password += u64::from(account.second_factor);
        }
    }
    drop(out.into_inner().map_err(|e| write_error(e.into_error()))?);
    if let Some(export_file) = export_file {
        export_file.place()?;
    }
    let report = format!(
        "exported {count} ({without_password} with TOTP or a passkey, without their password: \
         they set a new one by email where they are imported)"
    );
    audited(&database, "users_exported", report.clone());
    if file.is_some() {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// An export to a file, which holds every password hash: written to a new
/// 0600 file beside its path, then put in its place once whole. A reader who
/// opened the file that was there before (someone else may have) never sees
/// the hashes, and an export that fails leaves the earlier file as it was.
struct ExportFile {
    /// The file beside, to be synced before it takes the path.
    file: File,
    aside: PathBuf,
    path: PathBuf,
    placed: bool,
}

impl ExportFile {
    /// Refuses a path that is a symbolic link, or a file someone else owns
    /// or with another name linked to it (an export there would not be
    /// ours alone), then opens the file beside it.
    fn open(path: &str) -> Result<(ExportFile, std::fs::File), StartError> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let refused = |e: &dyn std::fmt::Display| StartError::setting(format!("{path}: {e}"));
        match std::fs::symlink_metadata(path) {
            Ok(there) => {
                // SAFETY: geteuid has no preconditions and cannot fail.
                let me = unsafe { libc::geteuid() };
                if there.file_type().is_symlink() || there.nlink() > 1 || there.uid() != me {
                    return Err(refused(
                        &"it is a link, another name links to this file, or someone else owns \
                          it: remove it first",
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(refused(&e)),
        }
        let path = PathBuf::from(path);
        let name = path
            .file_name()
            .ok_or_else(|| refused(&"not a file name"))?;
        let aside = path.with_file_name(format!(
            ".{}.{}.part",
            name.to_string_lossy(),
            sesame_kernel::secrets::hex(&sesame_kernel::secrets::random_bytes(8))
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&aside)
            .map_err(|e| refused(&e))?;
        let export = ExportFile {
            file: file.try_clone().map_err(|e| refused(&e))?,
            aside,
            path,
            placed: false,
        };
        Ok((export, file))
    }

    /// Puts the whole export in its place.
    fn place(mut self) -> Result<(), StartError> {
        let failed =
            |e: std::io::Error| StartError::setting(format!("{}: {e}", self.path.display()));
        self.file.sync_all().map_err(failed)?;
        std::fs::rename(&self.aside, &self.path).map_err(failed)?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for ExportFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.aside);
        }
    }
}

/// Records what a command did to the accounts, done from the command line.
fn audited(database: &Database, kind: &str, detail: String) {
    let event = AuditEvent::new(kind, None, &Actor::command_line(), Utc::now(), Some(detail));
    database.record_or_warn(&event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_lines_past_the_limit_are_skipped_unread() {
        let long = "x".repeat(MAX_LINE_BYTES as usize + 10);
        let text = format!("first\n{long}\nthird\n\nlast");
        let mut reader = std::io::BufReader::with_capacity(1024, text.as_bytes());
        let mut lines = Vec::new();
        while let Some(line) = next_line(&mut reader).unwrap() {
            lines.push(
                line.map(|l| String::from_utf8(l).unwrap())
                    .map_err(|TooLong| ()),
            );
        }
        let want: [Result<&str, ()>; 5] = [Ok("first"), Err(()), Ok("third"), Ok(""), Ok("last")];
        assert_eq!(lines, want.map(|line| line.map(str::to_owned)));
    }

    #[test]
    fn times_of_every_source_read() {
        let want = DateTime::parse_from_rfc3339("2021-01-11T08:30:01.123456Z").unwrap();
        for text in [
            "2021-01-11T08:30:01.123456Z",
            "2021-01-11 08:30:01.123456",
            "2021-01-11 08:30:01.123456+00",
            "2021-01-11 10:30:01.123456+02:00",
        ] {
            assert_eq!(parse_time(text), Some(want.with_timezone(&Utc)), "{text}");
        }
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2024-03-14T12:34:60Z"), None, "a leap second");
        assert_eq!(parse_time("2024-03-14 12:34:60"), None, "a leap second");
    }

    #[test]
    fn jsonl_records_read_their_fields_and_refuse_bad_ones() {
        let record = jsonl_record(
            r#"{"username":"a","password_hash":null,"is_admin":true,"id":7}"#,
            "line 1".into(),
        )
        .unwrap();
        assert_eq!(record.id, Some(7));
        assert!(record.is_active && record.is_admin && record.password_hash.is_none());
        for bad in [
            "not json",
            r#"{"username":"a"}"#,
            r#"{"username":"a","password_hash":null,"is_active":"yes"}"#,
            r#"{"password_hash":null}"#,
        ] {
            let (source, _) = jsonl_record(bad, "line 9".into()).unwrap_err();
            assert_eq!(source, "line 9");
        }
    }
}
