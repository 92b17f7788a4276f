//! The `sesame` command line: `serve` (the default), `migrate`, `user create`,
//! `user promote`, `user deactivate`, `user activate`, `audit`.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sesame_kernel::audit::{Actor, AuditLog};
use sesame_kernel::Page;
use sesame_tokens::SecretsCheck;
use sesame_users::{Registration, UsersError};

use crate::app::{Services, StartError};
use crate::{logging, Application, Config};

#[derive(Debug, Parser)]
#[command(
    name = "sesame",
    version,
    about = "User accounts, authentication, events and messaging"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Print the security audit log, newest first.
    Audit {
        /// Only the events of this username.
        #[arg(long)]
        user: Option<String>,
        /// Only events of this kind (e.g. login_failure).
        #[arg(long)]
        kind: Option<String>,
        /// How many events at most (1..=100).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Import accounts with their password hashes (Django, fastapi-users, JSONL).
    #[command(subcommand)]
    Import(crate::import::ImportCommand),
    /// Export every account with its password hash.
    #[command(subcommand)]
    Export(crate::import::ExportCommand),
    /// Manage the JWT signing keys: list, rotate, retire.
    #[command(subcommand)]
    Keys(crate::keys::KeysCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an active account; the password is read from standard input.
    Create {
        /// Username.
        #[arg(long)]
        username: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Make an existing account an administrator.
    Promote {
        /// Username.
        username: String,
    },
    /// Lock an account: it cannot log in, and every session of it ends.
    Deactivate {
        /// Username.
        username: String,
    },
    /// Unlock an account locked with `deactivate`.
    Activate {
        /// Username.
        username: String,
    },
    /// Turn TOTP off for an owner who lost both the device and the recovery
    /// codes (check who is asking first); every session of the account ends.
    TotpOff {
        /// Username.
        #[arg(required_unless_present_any = ["every_account", "unreadable"])]
        username: Option<String>,
        /// Every account with TOTP on or being set up: when the MFA key
        /// that sealed their secrets is lost.
        #[arg(long, conflicts_with_all = ["username", "unreadable"])]
        every_account: bool,
        /// Every account whose TOTP secret the configured MFA key does not
        /// open: sealed with another key, which is lost.
        #[arg(long, conflicts_with = "username")]
        unreadable: bool,
    },
}

/// Runs the command line and returns the process exit code. Failures are
/// one line on stderr, never a panic trace.
pub fn main() -> ExitCode {
    // The working directory's `.env` only: `dotenvy::dotenv` would also take
    // one from any directory above, which may be someone else's.
    let _ = dotenvy::from_path(".env");
    let cli = Cli::parse();
    let config = match Config::load(Path::new("config")) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    let _log_writer = logging::init(&config);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => Services::build(&config).map(|services| {
            println!("migrations applied ({})", services.database.backend_name());
        }),
        Command::User(command) => user(&config, command),
        Command::Audit { user, kind, limit } => audit(&config, user, kind, limit),
        Command::Keys(command) => crate::keys::keys(&config, command),
        Command::Import(command) => {
            return crate::import::import(&config, command).unwrap_or_else(|e| fail(&e))
        }
        Command::Export(command) => {
            return crate::import::export(&config, command).unwrap_or_else(|e| fail(&e))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn serve(config: Config) -> Result<(), StartError> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&config)?;
        app.run_until_stopped()
            .await
            .map_err(|source| StartError::Bind {
                address: config.http.bind.clone(),
                source,
            })
    })
}

fn user(config: &Config, command: UserCommand) -> Result<(), StartError> {
    let services = Services::build(config)?;
    match command {
        UserCommand::Create {
            username,
            email,
            admin,
            password_stdin: _,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| StartError::Setting(format!("cannot read the password: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let registration = Registration {
                username,
                email,
                password,
                ..Registration::default()
            };
            let user = services
                .accounts
                .create_user(registration, admin, &Actor::command_line())
                .map_err(account_error)?;
            println!(
                "created user {} (id {}){}",
                user.username,
                user.id,
                if user.is_staff { ", administrator" } else { "" }
            );
        }
        UserCommand::Promote { username } => {
            let user = services
                .accounts
                .promote(&username, &Actor::command_line())
                .map_err(account_error)?;
            println!("{} (id {}) is now an administrator", user.username, user.id);
        }
        UserCommand::Deactivate { username } => set_active(&services, &username, false)?,
        UserCommand::Activate { username } => set_active(&services, &username, true)?,
        UserCommand::TotpOff {
            username: None,
            unreadable,
            ..
        } => {
            let (actor, mut turned_off) = (Actor::command_line(), 0);
            // The key this runs with becomes the recorded one when it is
            // shown to be right (it opens a secret) or every other is lost.
            let (users, adopt) = if unreadable {
                let check = unreadable_secrets(&services)?;
                let opens_some = check.stored > check.unreadable.len();
                (check.unreadable, opens_some)
            } else {
                let users = services.mfa.users_with_totp();
                (users.map_err(StartError::setting)?, true)
            };
            for id in users {
                let user = services.accounts.get(id).map_err(account_error)?;
                if services
                    .mfa
                    .reset(&user, &actor)
                    .map_err(StartError::setting)?
                {
                    turned_off += 1;
                }
            }
            println!(
                "TOTP is off for {turned_off} account(s), whose recovery codes are void and \
                 sessions ended; unfinished setups are dropped"
            );
            if adopt {
                services.adopt_mfa_key()?;
                println!("every instance now needs the MFA key this ran with");
            } else {
                println!("the MFA key this ran with opens no stored secret: it was not recorded");
            }
        }
        UserCommand::TotpOff {
            username: Some(username),
            ..
        } => {
            let user = services
                .accounts
                .get_by_username(&username)
                .map_err(account_error)?;
            let was_on = services
                .mfa
                .reset(&user, &Actor::command_line())
                .map_err(StartError::setting)?;
            if was_on {
                println!(
                    "{} (id {}): TOTP is off, its recovery codes are void and every session ended",
                    user.username, user.id
                );
            } else {
                println!("{} (id {}) had TOTP off", user.username, user.id);
            }
            let passkeys = services
                .passkeys
                .list(user.id)
                .map_err(StartError::setting)?;
            for passkey in passkeys {
                println!(
                    "passkey {:?} still signs in to it: if it was on the lost device, the owner \
                     removes it at /account/",
                    passkey.name
                );
            }
        }
    }
    Ok(())
}

/// Which TOTP secrets the configured MFA key does not open. When it opens
/// none of them, the key is more likely the wrong one (this shell's
/// settings are not the server's) than every key lost: refused, so that a
/// mistake does not turn TOTP off for everyone.
fn unreadable_secrets(services: &Services) -> Result<SecretsCheck, StartError> {
    let check = services
        .mfa
        .check_stored_secrets()
        .map_err(StartError::setting)?;
    if !check.unreadable.is_empty() && check.unreadable.len() == check.stored {
        return Err(StartError::Setting(format!(
            "the MFA key opens none of the {} TOTP secrets: it is not the one the server \
             uses (SESAME__MFA__ENCRYPTION_KEY, or <data_dir>/mfa_key when none is set); \
             run this with the server's settings, or, if every key that sealed them is \
             lost, use --every-account",
            check.stored
        )));
    }
    Ok(check)
}

/// Activates or deactivates an account (the service audits it).
fn set_active(services: &Services, username: &str, active: bool) -> Result<(), StartError> {
    let user = services
        .accounts
        .set_active(username, active, &Actor::command_line())
        .map_err(account_error)?;
    let state = if active {
        "active"
    } else {
        "deactivated; every session ended"
    };
    println!("{} (id {}) is {state}", user.username, user.id);
    Ok(())
}

fn audit(
    config: &Config,
    username: Option<String>,
    kind: Option<String>,
    limit: i64,
) -> Result<(), StartError> {
    let services = Services::build(config)?;
    let user = match username {
        Some(name) => Some(
            services
                .accounts
                .get_by_username(&name)
                .map_err(account_error)?
                .id,
        ),
        None => None,
    };
    let entries = services
        .database
        .entries(user, kind.as_deref(), Page::new(None, Some(limit)))
        .map_err(StartError::setting)?;
    for entry in entries {
        let event = entry.event;
        println!(
            "{}  {:<24} user={} ip={} agent={:?} {}",
            event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            event.kind,
            event.user_id.map_or("-".to_owned(), |id| id.to_string()),
            event.ip.as_deref().unwrap_or("-"),
            event.user_agent.as_deref().unwrap_or("-"),
            event.detail.as_deref().unwrap_or(""),
        );
    }
    Ok(())
}

fn account_error(error: UsersError) -> StartError {
    match error {
        UsersError::Invalid(errors) => StartError::Setting(
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        UsersError::NotFound => StartError::Setting("no such user".into()),
        other => StartError::setting(other),
    }
}
