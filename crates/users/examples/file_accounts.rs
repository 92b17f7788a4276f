//! Accounts kept in a plain text file: `sesame-users` over storage of your own.
//!
//! `FileAccounts` implements every method of the `UserRepository` port over
//! one tab-separated file (one account per line), rewritten whole on each
//! change, through a temporary file and a rename so that a crash never
//! leaves half a file. It is the only adapter this program writes: password
//! hashing is the crate's `BcryptHasher`, time the kernel's `SystemClock`.
//!
//! Run it with `cargo run -p sesame-users --example file_accounts [FILE]`
//! (without FILE, a file in the temporary directory, removed at the end).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::DateTime;
use sesame_kernel::audit::Actor;
use sesame_kernel::{Page, StorageError, SystemClock, Timestamp, UserId};
use sesame_users::{
    AccountService, AccountSettings, BcryptHasher, NewUser, ProfileChanges, ProfileUpdate,
    ProfileUpdated, Registration, User, UserRepository, Username, UsersError,
};

/// The first line of the file: its format, and the next id to hand out
/// (ids are never reused, even after a deletion).
const HEADER: &str = "sesame-accounts v1 next-id";

/// Accounts in a text file.
struct FileAccounts {
    path: PathBuf,
    /// Serialises read-modify-write cycles within this process.
    lock: Mutex<()>,
}

/// The whole file, in memory.
struct Table {
    next_id: i64,
    users: Vec<User>,
}

impl FileAccounts {
    /// Accounts in `path`, which is created empty if it does not exist.
    fn open(path: &Path) -> Result<Self, UsersError> {
        if !path.exists() {
            write_table(
                path,
                &Table {
                    next_id: 1,
                    users: Vec::new(),
                },
            )?;
        }
        Ok(FileAccounts {
            path: path.to_owned(),
            lock: Mutex::new(()),
        })
    }

    /// Reads the file.
    fn read(&self) -> Result<Table, UsersError> {
        let _guard = self.lock.lock().unwrap();
        read_table(&self.path)
    }

    /// Reads the file, lets `change` edit it, and writes it back if `change`
    /// succeeded: one read-modify-write under the lock.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut Table) -> Result<T, UsersError>,
    ) -> Result<T, UsersError> {
        let _guard = self.lock.lock().unwrap();
        let mut table = read_table(&self.path)?;
        let result = change(&mut table)?;
        write_table(&self.path, &table)?;
        Ok(result)
    }
}

impl Table {
    fn get_mut(&mut self, id: UserId) -> Result<&mut User, UsersError> {
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(UsersError::NotFound)
    }

    /// Whether another account than `except` has this username, ignoring case.
    fn username_taken(&self, username: &str, except: Option<UserId>) -> bool {
        self.users
            .iter()
            .any(|u| Some(u.id) != except && same(&u.username, username))
    }

    /// Whether another account than `except` has this email, ignoring case.
    fn email_taken(&self, email: &str, except: Option<UserId>) -> bool {
        self.users.iter().any(|u| {
            Some(u.id) != except && u.email.as_deref().is_some_and(|mine| same(mine, email))
        })
    }
}

/// Usernames and emails are compared by their key (NFKC, case folded).
fn same(a: &str, b: &str) -> bool {
    sesame_users::identity_key(a) == sesame_users::identity_key(b)
}

impl UserRepository for FileAccounts {
    fn insert(&self, new: &NewUser) -> Result<User, UsersError> {
        self.update(|table| {
            // The store checks uniqueness itself: the service's own check
            // may race with another writer.
            if table.username_taken(new.username.as_str(), None) {
                return Err(UsersError::UsernameTaken);
            }
            if let Some(email) = &new.email {
                if table.email_taken(email.as_str(), None) {
                    return Err(UsersError::EmailTaken);
                }
            }
            let user = User {
                id: UserId(table.next_id),
                username: new.username.as_str().to_owned(),
                email: new.email.as_ref().map(|e| e.as_str().to_owned()),
                first_name: new.first_name.clone(),
                last_name: new.last_name.clone(),
                avatar: None,
                is_active: new.is_active,
                is_staff: new.is_staff,
                date_joined: new.date_joined,
                last_login: None,
                password_hash: new.password_hash.clone(),
            };
            table.next_id += 1;
            table.users.push(user.clone());
            Ok(user)
        })
    }

    fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
        Ok(self.read()?.users.into_iter().find(|u| u.id == id))
    }

    fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
        let users = self.read()?.users;
        Ok(users.into_iter().find(|u| same(&u.username, username)))
    }

    fn find_by_email(&self, email: &str) -> Result<Option<User>, UsersError> {
        let email = email.trim();
        let users = self.read()?.users;
        Ok(users
            .into_iter()
            .find(|u| u.email.as_deref().is_some_and(|mine| same(mine, email))))
    }

    fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
        let mut users = self.read()?.users;
        users.sort_by_key(|u| u.id);
        let skip = usize::try_from(page.skip).unwrap_or(0);
        let limit = usize::try_from(page.limit).unwrap_or(0);
        Ok(users.into_iter().skip(skip).take(limit).collect())
    }

    fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
    ) -> Result<ProfileUpdated, UsersError> {
        self.update(|table| {
            if let Some(Some(email)) = &changes.email {
                if table.email_taken(email.as_str(), Some(id)) {
                    return Err(UsersError::EmailTaken);
                }
            }
            let user = table.get_mut(id)?;
            if let Some(first_name) = &changes.first_name {
                user.first_name.clone_from(first_name);
            }
            if let Some(last_name) = &changes.last_name {
                user.last_name.clone_from(last_name);
            }
            if let Some(email) = &changes.email {
                user.email = email.as_ref().map(|e| e.as_str().to_owned());
            }
            let mut replaced_avatar = None;
            if let Some(avatar) = &changes.avatar {
                replaced_avatar = std::mem::replace(&mut user.avatar, avatar.clone());
            }
            Ok(ProfileUpdated {
                user: user.clone(),
                replaced_avatar,
            })
        })
    }

    fn set_username(&self, id: UserId, username: &Username) -> Result<(), UsersError> {
        self.update(|table| {
            if table.username_taken(username.as_str(), Some(id)) {
                return Err(UsersError::UsernameTaken);
            }
            table.get_mut(id)?.username = username.as_str().to_owned();
            Ok(())
        })
    }

    fn change_password(
        &self,
        id: UserId,
        replaced_hash: &str,
        password_hash: &str,
        _keep_session: Option<&str>,
        _now: Timestamp,
    ) -> Result<(), UsersError> {
        // This program keeps no sessions and no one-time tokens (those would
        // be revoked and deleted here, in the same write): only the hash changes.
        self.update(|table| {
            let user = table.get_mut(id)?;
            if user.password_hash != replaced_hash {
                return Err(UsersError::WrongCurrentPassword);
            }
            user.password_hash = password_hash.to_owned();
            Ok(())
        })
    }

    fn set_flags(
        &self,
        id: UserId,
        is_active: Option<bool>,
        is_staff: Option<bool>,
    ) -> Result<(), UsersError> {
        self.update(|table| {
            let user = table.get_mut(id)?;
            user.is_active = is_active.unwrap_or(user.is_active);
            user.is_staff = is_staff.unwrap_or(user.is_staff);
            Ok(())
        })
    }

    fn record_login(&self, id: UserId, at: Timestamp) -> Result<(), UsersError> {
        self.update(|table| {
            table.get_mut(id)?.last_login = Some(at);
            Ok(())
        })
    }

    fn delete(&self, id: UserId) -> Result<(), UsersError> {
        self.update(|table| {
            let before = table.users.len();
            table.users.retain(|u| u.id != id);
            if table.users.len() == before {
                return Err(UsersError::NotFound);
            }
            Ok(())
        })
    }
}

// ------------------------------------------------------------ the file format

fn storage(what: &str, error: impl std::fmt::Display) -> UsersError {
    UsersError::Storage(StorageError(format!("{what}: {error}")))
}

fn read_table(path: &Path) -> Result<Table, UsersError> {
    let text = fs::read_to_string(path).map_err(|e| storage("reading the accounts file", e))?;
    let mut lines = text.lines();
    let next_id = lines
        .next()
        .and_then(|header| header.strip_prefix(HEADER))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| storage("reading the accounts file", "not an accounts file"))?;
    let users = lines
        .enumerate()
        .map(|(n, line)| parse_user(line).ok_or_else(|| storage("bad line", n + 2)))
        .collect::<Result<_, _>>()?;
    Ok(Table { next_id, users })
}

fn write_table(path: &Path, table: &Table) -> Result<(), UsersError> {
    let mut text = format!("{HEADER} {}\n", table.next_id);
    for user in &table.users {
        text.push_str(&format_user(user));
        text.push('\n');
    }
    let temporary = path.with_extension("tmp");
    fs::write(&temporary, text).map_err(|e| storage("writing the accounts file", e))?;
    fs::rename(&temporary, path).map_err(|e| storage("replacing the accounts file", e))
}

/// One account per line, fields separated by tabs; free text is escaped.
fn format_user(user: &User) -> String {
    let optional = |value: &Option<String>| value.as_deref().map(escape).unwrap_or_default();
    let time = |at: Timestamp| at.to_rfc3339();
    [
        user.id.to_string(),
        escape(&user.username),
        optional(&user.email),
        escape(&user.first_name),
        escape(&user.last_name),
        optional(&user.avatar),
        u8::from(user.is_active).to_string(),
        u8::from(user.is_staff).to_string(),
        time(user.date_joined),
        user.last_login.map(time).unwrap_or_default(),
        escape(&user.password_hash),
    ]
    .join("\t")
}

fn parse_user(line: &str) -> Option<User> {
    let fields: Vec<String> = line.split('\t').map(unescape).collect();
    let [id, username, email, first_name, last_name, avatar, active, staff, joined, login, hash] =
        <[String; 11]>::try_from(fields).ok()?;
    let optional = |value: String| (!value.is_empty()).then_some(value);
    let time = |value: &str| DateTime::parse_from_rfc3339(value).ok().map(|t| t.to_utc());
    Some(User {
        id: UserId(id.parse().ok()?),
        username,
        email: optional(email),
        first_name,
        last_name,
        avatar: optional(avatar),
        is_active: active == "1",
        is_staff: staff == "1",
        date_joined: time(&joined)?,
        last_login: match login.as_str() {
            "" => None,
            at => Some(time(at)?),
        },
        password_hash: hash,
    })
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

// ------------------------------------------------------------ the program

fn service(file: &Path) -> Result<AccountService, UsersError> {
    Ok(AccountService::new(
        Arc::new(FileAccounts::open(file)?),
        // Cost 4 keeps the example quick; Sesame's default is 12.
        Arc::new(BcryptHasher::new(4)?),
        Arc::new(SystemClock),
        AccountSettings::default(),
    ))
}

fn register(accounts: &AccountService, username: &str, email: &str) -> Result<User, UsersError> {
    accounts.register(Registration {
        username: username.into(),
        email: Some(email.into()),
        password: "Xk92!dumbo-lamp".into(),
        first_name: String::new(),
        last_name: String::new(),
    })
}

fn main() -> Result<(), UsersError> {
    let given = std::env::args_os().nth(1).map(PathBuf::from);
    let file = given.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sesame-accounts-{}.tsv", std::process::id()))
    });
    println!("accounts file: {}", file.display());

    let accounts = service(&file)?;
    let alice = register(&accounts, "alice", "alice@example.com")?;
    let bob = register(&accounts, "bob", "bob@example.com")?;
    println!(
        "registered {} (id {}) and {} (id {})",
        alice.username, alice.id, bob.username, bob.id
    );

    match register(&accounts, "ALICE", "someone@example.com") {
        Err(UsersError::Invalid(problems)) => {
            for problem in problems {
                println!("refused: {}: {}", problem.field, problem.message);
            }
        }
        other => println!("unexpected: {other:?}"),
    }

    let logged_in = accounts.authenticate("Alice@Example.com", "Xk92!dumbo-lamp")?;
    if let Some(at) = logged_in.last_login {
        println!(
            "{} logged in by email at {}",
            logged_in.username,
            at.format("%H:%M:%S")
        );
    }
    if let Err(refused) = accounts.authenticate("alice", "not her password") {
        println!("wrong password: {refused}");
    }

    let update = ProfileUpdate {
        first_name: Some("Alice".into()),
        last_name: Some("Liddell".into()),
        ..ProfileUpdate::default()
    };
    accounts.update_profile(&alice, alice.id, update, &Actor::default())?;
    accounts.set_password(
        &alice,
        "Xk92!dumbo-lamp",
        "Fr0g-violin-88?",
        None,
        &Actor::default(),
    )?;
    accounts.rename(&bob, "robert", "username")?;
    println!("alice changed her name and password; bob is now robert");

    // Another service over the same file: what a restart would see.
    let reopened = service(&file)?;
    let alice = reopened.authenticate("alice", "Fr0g-violin-88?")?;
    println!(
        "after reopening, {} {} logs in with her new password",
        alice.first_name, alice.last_name
    );
    let names: Vec<String> = reopened
        .directory(Page::default())?
        .into_iter()
        .map(|u| u.username)
        .collect();
    println!("directory: {}", names.join(", "));

    println!("--- {}", file.display());
    let text = fs::read_to_string(&file).map_err(|e| storage("reading", e))?;
    for line in text.lines() {
        // The hash is long and says nothing to a reader: shorten it.
        let shown = match line.rsplit_once('\t') {
            Some((rest, hash)) if hash.len() > 24 => format!("{rest}\t{}...", &hash[..24]),
            _ => line.to_owned(),
        };
        println!("{shown}");
    }
    if given.is_none() {
        fs::remove_file(&file).map_err(|e| storage("removing the example file", e))?;
    }
    Ok(())
}
