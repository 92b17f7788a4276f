//! Logging in, split in two so that a caller can count failures against
//! the accounts a login names before the password is checked; and the
//! notices an owner gets: someone is guessing the password, someone who
//! knows it is guessing codes, or a passkey (a way in without password or
//! code) was added.

use crate::{AccountService, MailCap, OutgoingEmail, User, UsersError, MAIL_CAP_WINDOW};

/// An account whose password was checked, its login not yet recorded
/// (see [`AccountService::check_password_among`]).
pub struct PasswordChecked {
    user: User,
    /// A new hash at the configured cost, and the name of the old one's format.
    rehash: Option<(String, &'static str)>,
}

impl PasswordChecked {
    /// The account, as it was before this login.
    pub fn user(&self) -> &User {
        &self.user
    }
}

/// The subject of the code-guessing alert.
const ALERT_SUBJECT: &str = "Someone is trying to sign in to your Sesame account";
/// At most this many code-guessing alerts per account an hour.
const ALERTS_PER_HOUR: u64 = 1;
/// Wrong passwords (since the last good login) after which the owner is
/// alerted, and again each time their count doubles.
pub const PASSWORD_ALERT_AFTER: u32 = 50;
/// The subject of the password-guessing alert.
const PASSWORD_ALERT_SUBJECT: &str = "Someone is trying passwords on your Sesame account";
/// The subject of the notice of a new passkey.
const PASSKEY_SUBJECT: &str = "A passkey was added to your Sesame account";
/// At most this many passkey notices per account an hour.
const PASSKEY_NOTICES_PER_HOUR: u64 = 10;

impl AccountService {
    /// The accounts `login` may name: the one with that username and, for a
    /// login with `@`, the one with that email (a username may be spelled
    /// like another account's email; the password decides which is meant).
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn login_candidates(&self, login: &str) -> Result<Vec<User>, UsersError> {
        if login.contains('\0') {
            // No username or email holds U+0000 (PostgreSQL cannot even
            // compare text with it): the login names no account.
            return Ok(Vec::new());
        }
        let mut candidates: Vec<User> = self.users.find_by_username(login)?.into_iter().collect();
        if login.contains('@') {
            if let Some(user) = self.users.find_by_email(login)? {
                if candidates.iter().all(|c| c.id != user.id) {
                    candidates.push(user);
                }
            }
        }
        Ok(candidates)
    }

    /// The account among `candidates` (from [`AccountService::login_candidates`])
    /// whose password is `password`, if it is active; records the login.
    /// With no candidate, costs a password check all the same.
    ///
    /// # Errors
    /// As [`AccountService::check_password_among`] and
    /// [`AccountService::record_login`].
    pub fn authenticate_among(
        &self,
        candidates: Vec<User>,
        password: &str,
    ) -> Result<User, UsersError> {
        let checked = self.check_password_among(candidates, password)?;
        self.record_login(checked)
    }

    /// The account among `candidates` whose password is `password`, if it is
    /// active, without recording a login: a caller that still has a lockout
    /// or a second factor to check records it with
    /// [`AccountService::record_login`] once they pass. With no candidate,
    /// costs a password check all the same.
    ///
    /// # Errors
    /// [`UsersError::InvalidCredentials`], [`UsersError::AccountInactive`],
    /// [`UsersError::Storage`].
    pub fn check_password_among(
        &self,
        candidates: Vec<User>,
        password: &str,
    ) -> Result<PasswordChecked, UsersError> {
        if candidates.is_empty() {
            let _place = self.places.take()?;
            self.hasher.spend_verify_time(password);
            return Err(UsersError::InvalidCredentials);
        }
        let mut matching = None;
        for user in candidates {
            if self.password_matches(password, &user.password_hash)? {
                matching = Some(user);
                break;
            }
        }
        let user = matching.ok_or(UsersError::InvalidCredentials)?;
        if !user.is_active {
            return Err(UsersError::AccountInactive);
        }
        // An imported hash, or one of Sesame's own at another cost: replaced
        // by one at the configured cost when the login is recorded (at a
        // later login when every hashing place is taken). Not where the hash
        // read only the password's first bytes: whoever knows them logs in
        // with any ending, which a hash of all that was typed would then
        // make the only one.
        let format = || crate::HashFormat::of(&user.password_hash);
        let read_whole = || {
            (format().and_then(crate::HashFormat::reads_at_most))
                .is_none_or(|read| password.len() <= read)
        };
        let place = (self.hasher.needs_rehash(&user.password_hash) && read_whole())
            .then(|| self.places.take().ok())
            .flatten();
        let rehash = match place {
            Some(_place) => {
                let hash = self.hasher.hash(&crate::Password::accepted(password))?;
                Some((hash, format().map_or("unknown", crate::HashFormat::name)))
            }
            None => None,
        };
        Ok(PasswordChecked { user, rehash })
    }

    /// Records the login of an account whose password was checked: its
    /// `last_login`, and its new hash if it needs one. Returns the account
    /// as it now is.
    ///
    /// # Errors
    /// [`UsersError::InvalidCredentials`] when the password changed since it
    /// was checked; [`UsersError::Storage`].
    pub fn record_login(&self, checked: PasswordChecked) -> Result<User, UsersError> {
        let PasswordChecked { user, rehash } = checked;
        let now = self.clock.now();
        let Some((password_hash, old_format)) = rehash else {
            self.users.record_login(user.id, now)?;
            return Ok(User {
                last_login: Some(now),
                ..user
            });
        };
        let replaced = self.users.record_login_rehashed(
            user.id,
            now,
            &user.password_hash,
            &password_hash,
            old_format,
        )?;
        if !replaced {
            // The password changed while this one was checked.
            return Err(UsersError::InvalidCredentials);
        }
        Ok(User {
            last_login: Some(now),
            password_hash,
            ..user
        })
    }

    /// Mails the owner of `user` that wrong one-time codes keep coming with
    /// the right password, at most once an hour (across instances: the
    /// queue is counted). Nothing without email flows or an address.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn alert_code_guessing(&self, user: &User) -> Result<(), UsersError> {
        let text = format!(
            "Hello {},\n\nSomeone who knows your password keeps entering wrong one-time codes for your account.\nChange your password now. If this was you, you can ignore this email.\n",
            user.username
        );
        self.tell_owner(user, ALERT_SUBJECT, text, ALERTS_PER_HOUR)
    }

    /// Mails the owner of `user` that `wrong` passwords were tried on the
    /// account since its last good login, when `wrong` is
    /// [`PASSWORD_ALERT_AFTER`] or a doubling of it: a guesser paced under
    /// the lockout is heard of within its first minutes, and a few times a
    /// day at most after that. At most once an hour (across instances: the
    /// queue is counted); nothing without email flows or an address. A
    /// failure to queue is logged: the refusal being answered matters more.
    pub fn report_wrong_passwords(&self, user: &User, wrong: u32) {
        let doubled = wrong.is_multiple_of(PASSWORD_ALERT_AFTER)
            && (wrong / PASSWORD_ALERT_AFTER).is_power_of_two();
        if !doubled {
            return;
        }
        tracing::warn!(
            user = user.id.0,
            wrong,
            "repeated wrong passwords: alerting the owner"
        );
        let text = format!(
            "Hello {},

Someone has tried {wrong} wrong passwords on your account since you last signed in.
Your account is not locked. If your password is short, common or used on another site, change it now; a second factor (a one-time code app or a passkey) keeps a guessed password from being enough.
If this was you, you can ignore this email.
",
            user.username
        );
        if let Err(e) = self.tell_owner(user, PASSWORD_ALERT_SUBJECT, text, ALERTS_PER_HOUR) {
            tracing::error!(error = %e, user = user.id.0, "could not queue the password-guessing alert");
        }
    }

    /// Mails the owner of `user` that the passkey `name` was added: it signs
    /// in without password or code, and outlives a password change, so an
    /// owner who did not add it must hear of it. At most ten an hour;
    /// nothing without email flows or an address.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn tell_owner_of_new_passkey(&self, user: &User, name: &str) -> Result<(), UsersError> {
        let text = format!(
            "Hello {},\n\nThe passkey {name:?} was added to your account: it can sign in to it without your password.\nIf this was not you, remove it from your account page and change your password now.\n",
            user.username
        );
        self.tell_owner(user, PASSKEY_SUBJECT, text, PASSKEY_NOTICES_PER_HOUR)
    }

    /// Queues `text` to the owner of `user`, at most `per_hour` times an
    /// hour with this `subject` (across instances: the queue is counted).
    pub(crate) fn tell_owner(
        &self,
        user: &User,
        subject: &str,
        text: String,
        per_hour: u64,
    ) -> Result<(), UsersError> {
        let (Some(mail), Some(address)) = (&self.mail, &user.email) else {
            return Ok(());
        };
        let now = self.clock.now();
        let cap = MailCap {
            recipient: address.clone(),
            subject: Some(subject.to_owned()),
            since: now - MAIL_CAP_WINDOW,
            max: per_hour,
        };
        let email = OutgoingEmail {
            to: address.clone(),
            subject: subject.to_owned(),
            text,
        };
        if mail
            .store
            .queue_emails_capped(user.id, &[mail.entry(email, now)], &cap)?
        {
            (mail.queued)();
        }
        Ok(())
    }
}
