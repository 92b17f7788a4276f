//! The email flows of [`AccountService`]: activation, password reset,
//! username reset and email change, each through a one-time token mailed as
//! a link; and the avatar rules.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sesame_kernel::audit::Actor;
use sesame_kernel::secrets::{random_token, token_hash, SecretCipher};
use sesame_kernel::Timestamp;

use crate::avatar::check_image;
use crate::service::{push_all, user_inputs};
use crate::{
    decode_uid, encode_uid, fill_link, AccountService, AccountToken, AccountTokenStore,
    AvatarChange, AvatarName, AvatarStore, Email, FieldError, ImageKind, LinkTemplates, MailCap,
    NewEmail, NewUser, OutgoingEmail, Password, TokenEffect, TokenGrant, TokenLifetimes,
    TokenPurpose, User, Username, UsersError, MAIL_CAP_WINDOW,
};

/// Random bytes in a one-time token (43 URL-safe characters).
const TOKEN_BYTES: usize = 32;

/// The most emails of one flow that anyone may start (activation resend,
/// resets, an email change's link) an address gets in [`MAIL_CAP_WINDOW`]
/// before that flow stops mailing it. Each flow counts its own: requests
/// for one cannot crowd out the owner's password reset.
const FLOW_EMAILS_PER_ADDRESS: u64 = 3;

/// How many email flows of one kind started from an address may wait to run
/// at once (see [`AccountService::mail_flow_place`]).
pub(crate) const MAIL_FLOWS_WAITING: usize = 32;

/// An email flow anyone may start from an address, answered before it runs
/// so that neither the answer nor its timing tells whether the address is
/// an account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailFlow {
    /// [`AccountService::resend_activation`].
    Activation,
    /// [`AccountService::request_password_reset`].
    PasswordReset,
    /// [`AccountService::request_username_reset`].
    UsernameReset,
}

impl MailFlow {
    /// How many kinds there are: each has its own waiting places, indexed
    /// by `flow as usize`. The match fails to compile when a kind is added,
    /// until this count is made to hold it.
    pub(crate) const COUNT: usize = match MailFlow::Activation {
        MailFlow::Activation | MailFlow::PasswordReset | MailFlow::UsernameReset => 3,
    };

    /// Runs this flow for `email`.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn run(self, accounts: &AccountService, email: &str) -> Result<(), UsersError> {
        match self {
            MailFlow::Activation => accounts.resend_activation(email),
            MailFlow::PasswordReset => accounts.request_password_reset(email),
            MailFlow::UsernameReset => accounts.request_username_reset(email),
        }
    }
}

/// The cap of `email`'s flow to its recipient, as of `now`.
fn flow_cap(email: &OutgoingEmail, now: Timestamp) -> MailCap {
    MailCap {
        recipient: email.to.clone(),
        subject: Some(email.subject.clone()),
        since: now - MAIL_CAP_WINDOW,
        max: FLOW_EMAILS_PER_ADDRESS,
    }
}

/// What the email flows need: where tokens and queued emails are kept, the
/// links to send, how long tokens live, and who to wake when an email is queued.
#[derive(Clone)]
pub struct AccountMail {
    /// Tokens and the email queue.
    pub store: Arc<dyn AccountTokenStore>,
    /// Link templates with `{uid}` and `{token}`.
    pub links: LinkTemplates,
    /// Token lifetimes.
    pub lifetimes: TokenLifetimes,
    /// Called after an email was queued (and committed), to wake the sender.
    pub queued: Arc<dyn Fn() + Send + Sync>,
    /// Seals each email while it waits in the queue (see
    /// [`OutgoingEmail::sealed`]); [`crate::MailDelivery`] opens it with the same key.
    pub cipher: Arc<dyn SecretCipher>,
}

impl AccountMail {
    /// `email` as a queue entry, its text sealed.
    pub(crate) fn entry(&self, email: OutgoingEmail, now: Timestamp) -> NewEmail {
        NewEmail::new(email.sealed(self.cipher.as_ref()), now)
    }
}

/// Where avatars go and how large they may be.
#[derive(Clone)]
pub struct Avatars {
    /// The files.
    pub store: Arc<dyn AvatarStore>,
    /// The largest upload accepted, in bytes.
    pub max_bytes: usize,
}

/// What an activation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The account is now active.
    Activated,
    /// The token is this account's, but the account was already active
    /// (djoser's "stale token").
    AlreadyActive,
}

fn invalid_uid() -> UsersError {
    UsersError::Invalid(vec![FieldError::new(
        "uid",
        "Invalid user id or user doesn't exist.",
    )
    .coded("invalid_uid")])
}

fn invalid_token() -> UsersError {
    UsersError::Invalid(vec![FieldError::new(
        "token",
        "Invalid token for given user.",
    )
    .coded("invalid_token")])
}

fn mail_unavailable() -> UsersError {
    UsersError::Storage(sesame_kernel::StorageError(
        "outgoing mail is not configured".into(),
    ))
}

impl AccountService {
    pub(crate) fn mail(&self) -> Result<&AccountMail, UsersError> {
        self.mail.as_ref().ok_or_else(mail_unavailable)
    }

    /// Stores a new account; an inactive one with an email address gets its
    /// activation email in the same transaction, when email flows are on.
    pub(crate) fn store_new_user(&self, new_user: &NewUser) -> Result<User, UsersError> {
        let mail = match (&self.mail, &new_user.email) {
            (Some(mail), Some(_)) if !new_user.is_active && self.settings.require_activation => {
                mail
            }
            _ => return self.users.insert(new_user),
        };
        let (token, grant) = self.new_token(mail, TokenPurpose::Activation);
        let now = grant.created_at;
        let compose =
            |user: &User| mail.entry(compose(mail, TokenPurpose::Activation, user, &token), now);
        let user = mail.store.insert_with_token(new_user, &grant, &compose)?;
        (mail.queued)();
        Ok(user)
    }

    fn new_token(&self, mail: &AccountMail, purpose: TokenPurpose) -> (String, TokenGrant) {
        let token = random_token(TOKEN_BYTES);
        let now = self.clock.now();
        let grant = TokenGrant {
            purpose,
            token_hash: token_hash(&token),
            created_at: now,
            expires_at: now + mail.lifetimes.of(purpose),
        };
        (token, grant)
    }

    /// The account with this email address that `accept` wants, if any,
    /// unless the address already got [`FLOW_EMAILS_PER_ADDRESS`] emails
    /// lately (whoever asked: the caller is told nothing either way).
    /// Costs the same work whether or not there is one: the token is made
    /// either way, only the store write differs.
    fn mail_to(
        &self,
        email: &str,
        purpose: TokenPurpose,
        accept: impl Fn(&User) -> bool,
    ) -> Result<(), UsersError> {
        let mail = self.mail()?;
        let user = match crate::Email::parse(email, "email") {
            Ok(email) => self.users.find_by_email(email.as_str())?,
            Err(_) => None,
        };
        match user.filter(|user| accept(user)) {
            Some(user) => self.send_capped_token(mail, &user, purpose),
            _ => {
                // The same token work as for a real account, then nothing.
                let _ = self.new_token(mail, purpose);
                Ok(())
            }
        }
    }

    /// Mails `user` a fresh token for `purpose`, unless their address got
    /// its share of emails in the last window.
    fn send_capped_token(
        &self,
        mail: &AccountMail,
        user: &User,
        purpose: TokenPurpose,
    ) -> Result<(), UsersError> {
        if user.email.is_none() {
            return Ok(());
        }
        let (token, grant) = self.new_token(mail, purpose);
        issue_capped(mail, user, &grant, compose(mail, purpose, user, &token))?;
        Ok(())
    }

    /// A place for one `flow` started from `email`, held while it waits to
    /// run after the answer: at most 32 of each flow wait at once, so a
    /// flood of them from many addresses cannot queue without end ahead of
    /// other work, nor one flow's flood take the places of another (as each
    /// flow has its own cap); and one of each flow for each address, whose
    /// flows take turns on its locks.
    ///
    /// # Errors
    /// [`UsersError::Storage`] when every place of this flow is taken, or
    /// this address's: drop the flow.
    pub fn mail_flow_place(&self, flow: MailFlow, email: &str) -> Result<crate::Place, UsersError> {
        if email.chars().count() > Email::MAX_CHARS {
            // No account has it: nothing to wait for, nor to key.
            let too_long = FieldError::max_length("email", Email::MAX_CHARS);
            return Err(UsersError::Invalid(vec![too_long]));
        }
        self.mail_flows[flow as usize].take(crate::identity_key(email))
    }

    /// Sends the activation email again to the inactive account with this
    /// address. Does nothing (and says nothing) when there is no such
    /// account, it is active, or activation is not required.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn resend_activation(&self, email: &str) -> Result<(), UsersError> {
        let required = self.settings.require_activation;
        self.mail_to(email, TokenPurpose::Activation, |user| {
            required && !user.is_active
        })
    }

    /// Mails a password reset link to the active account with this address.
    /// Does nothing (and says nothing) when there is none.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn request_password_reset(&self, email: &str) -> Result<(), UsersError> {
        self.mail_to(email, TokenPurpose::PasswordReset, |user| user.is_active)
    }

    /// Mails a username reset link to the active account with this address.
    /// Does nothing (and says nothing) when there is none.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn request_username_reset(&self, email: &str) -> Result<(), UsersError> {
        self.mail_to(email, TokenPurpose::UsernameReset, |user| user.is_active)
    }

    /// The account `uid` names and its token for `purpose`, used or not.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `uid` or `token`, [`UsersError::Storage`].
    fn token_of(
        &self,
        uid: &str,
        token: &str,
        purpose: TokenPurpose,
    ) -> Result<(User, AccountToken), UsersError> {
        let mail = self.mail()?;
        let user = match decode_uid(uid) {
            Some(id) => self.users.find_by_id(id)?,
            None => None,
        }
        .ok_or_else(invalid_uid)?;
        let found = mail
            .store
            .find_token(&token_hash(token))?
            .filter(|t| t.user_id == user.id && t.purpose == purpose)
            .ok_or_else(invalid_token)?;
        Ok((user, found))
    }

    /// Uses `token`, or says it is invalid (used, expired, or used by a racing request).
    fn consume(&self, token: &AccountToken, effect: &TokenEffect) -> Result<(), UsersError> {
        let now = self.clock.now();
        if !token.is_usable(now) {
            return Err(invalid_token());
        }
        if self.mail()?.store.use_token(token, effect, now)? {
            Ok(())
        } else {
            Err(invalid_token())
        }
    }

    /// Activates the account `uid` names with its emailed token, as `actor`.
    /// Audited as `account_activated`.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `uid` (unknown) or `token` (wrong, used,
    /// expired), [`UsersError::Storage`].
    pub fn activate(
        &self,
        uid: &str,
        token: &str,
        actor: &Actor,
    ) -> Result<Activation, UsersError> {
        let (user, found) = self.token_of(uid, token, TokenPurpose::Activation)?;
        if user.is_active {
            return Ok(Activation::AlreadyActive);
        }
        match self.consume(&found, &TokenEffect::Activate) {
            Ok(()) => {
                self.record("account_activated", Some(user.id), actor, None);
                Ok(Activation::Activated)
            }
            // A racing request with the same token may have just won.
            Err(UsersError::Invalid(errors)) => match self.users.find_by_id(user.id)? {
                Some(user) if user.is_active => Ok(Activation::AlreadyActive),
                _ => Err(UsersError::Invalid(errors)),
            },
            Err(other) => Err(other),
        }
    }

    /// Sets a new password with an emailed reset token, under the
    /// registration policy; every session of the account is revoked, and
    /// every one-time token and passkey of it is deleted
    /// ([`TokenEffect::SetPassword`]). Audited as `password_reset`, done by `actor`.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `uid`, `token` or `new_password`, [`UsersError::Storage`].
    pub fn reset_password(
        &self,
        uid: &str,
        token: &str,
        new_password: &str,
        actor: &Actor,
    ) -> Result<(), UsersError> {
        let (user, found) = self.token_of(uid, token, TokenPurpose::PasswordReset)?;
        if !found.is_usable(self.clock.now()) {
            return Err(invalid_token());
        }
        let password = Password::new(new_password, &user_inputs(&user)).map_err(|problems| {
            let mut errors = Vec::new();
            push_all(&mut errors, "new_password", problems);
            UsersError::Invalid(errors)
        })?;
        let password_hash = self.hash_password(&password)?;
        self.consume(&found, &TokenEffect::SetPassword { password_hash })?;
        if let Some(throttle) = &self.throttle {
            throttle.password_replaced(user.id);
        }
        self.record("password_reset", Some(user.id), actor, None);
        Ok(())
    }

    /// Sets a new username with an emailed reset token. Audited as
    /// `username_reset`, done by `actor`.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `uid`, `token` or `new_username` (bad or
    /// taken), [`UsersError::Storage`].
    pub fn reset_username(
        &self,
        uid: &str,
        token: &str,
        new_username: &str,
        actor: &Actor,
    ) -> Result<(), UsersError> {
        let field = "new_username";
        let (user, found) = self.token_of(uid, token, TokenPurpose::UsernameReset)?;
        if !found.is_usable(self.clock.now()) {
            return Err(invalid_token());
        }
        let username =
            Username::parse(new_username, field).map_err(|e| UsersError::Invalid(vec![e]))?;
        if self.username_in_use(&username, Some(user.id))? {
            return Err(UsersError::Invalid(vec![FieldError::taken(field)]));
        }
        self.consume(&found, &TokenEffect::SetUsername(username))
            .map_err(|e| match e {
                UsersError::UsernameTaken => UsersError::Invalid(vec![FieldError::taken(field)]),
                other => other,
            })?;
        self.record("username_reset", Some(user.id), actor, None);
        Ok(())
    }

    /// Starts an email change: after checking the password, mails a link to
    /// the new address and a notice to the old one (token and both emails in
    /// one transaction). The address changes only when the link is used.
    /// Audited as `email_change_requested`, done by `actor`.
    ///
    /// # Errors
    /// [`UsersError::WrongCurrentPassword`], [`UsersError::Invalid`] on
    /// `new_email` (malformed, taken, already the user's, or sent as many
    /// links this hour as a flow may send it: `link_not_sent`; or the
    /// account changed since `user` was read: `account_changed`),
    /// [`UsersError::Storage`].
    pub fn request_email_change(
        &self,
        user: &User,
        current_password: &str,
        new_email: &str,
        actor: &Actor,
    ) -> Result<(), UsersError> {
        const FIELD: &str = "new_email";
        self.confirm_password(user, current_password)?;
        let email = Email::parse(new_email, FIELD).map_err(|e| UsersError::Invalid(vec![e]))?;
        if let Some(owner) = self.users.find_by_email(email.as_str())? {
            if owner.id == user.id {
                return Err(UsersError::Invalid(vec![FieldError::new(
                    FIELD,
                    "This is already your email address.",
                )
                .coded("same_email")]));
            }
        }
        if self.email_in_use(&email, Some(user.id))? {
            return Err(UsersError::Invalid(vec![FieldError::taken(FIELD)]));
        }
        if self.start_email_change(user, &email, actor)? {
            return Ok(());
        }
        // Its owner, who just gave the password, learns why no link comes:
        // the account changed since it was read (a login's rehash, say), or
        // someone else asked for as many this hour.
        let now = self.get(user.id)?;
        let changed = now.password_hash != user.password_hash
            || now.email != user.email
            || now.is_active != user.is_active;
        Err(UsersError::Invalid(vec![if changed {
            FieldError::new(
                FIELD,
                "Your account changed during this request. Try again.",
            )
            .coded("account_changed")
        } else {
            FieldError::new(
                FIELD,
                "No link can be sent to this address now. Try again in an hour.",
            )
            .coded("link_not_sent")
        }]))
    }

    /// Mails the link that changes `user`'s address to `email` to that
    /// address (token and email in one transaction), unless the new address
    /// got as many of them this hour as a flow may send it, then a notice to
    /// the old one (at most three an hour); and records that `actor` asked
    /// for it. The caller has checked the password and the address. Returns
    /// whether the link was queued.
    pub(crate) fn start_email_change(
        &self,
        user: &User,
        email: &Email,
        actor: &Actor,
    ) -> Result<bool, UsersError> {
        let mail = self.mail()?;
        let (random, mut grant) = self.new_token(mail, TokenPurpose::EmailChange);
        // The new address rides in the token itself; the stored hash covers
        // it, so it cannot be changed without making the token invalid.
        let token = format!("{random}.{}", URL_SAFE_NO_PAD.encode(email.as_str()));
        grant.token_hash = token_hash(&token);
        let recipient = User {
            email: Some(email.as_str().to_owned()),
            ..user.clone()
        };
        let link = compose(mail, TokenPurpose::EmailChange, &recipient, &token);
        // The new address may be anyone's: it gets no more emails than an
        // address that asks for resets does.
        let queued = issue_capped(mail, user, &grant, link)?;
        if queued {
            // So may the old one (an account registered with it proved
            // nothing): its notices are capped too.
            let notice = email_change_notice(user);
            let per_hour = EMAIL_CHANGE_NOTICES_PER_HOUR;
            if let Err(e) = self.tell_owner(user, EMAIL_CHANGE_SUBJECT, notice, per_hour) {
                tracing::error!(error = %e, user = user.id.0, "could not queue the email change notice");
            }
        }
        let detail =
            (!queued).then(|| "no link sent: the address had its links this hour".to_owned());
        self.record("email_change_requested", Some(user.id), actor, detail);
        Ok(queued)
    }

    /// Tells the address `before` had that the owner (or whoever knows the
    /// password) removed it, as a change is told, and audits it as
    /// `email_removed`: a later change to another address is told to no one.
    pub(crate) fn tell_of_removed_email(&self, before: &User, actor: &Actor) {
        let notice = format!(
            "Hello {},\n\nThe email address of your account was removed: password resets can no longer reach you here.\nIf this was not you, change your password now.\n",
            before.username
        );
        self.tell_old_address(before, notice);
        self.record("email_removed", Some(before.id), actor, None);
    }

    /// Tells the address `before` had that an admin changed or removed it:
    /// a stolen admin token and password would otherwise move an account
    /// without a word to its owner.
    pub(crate) fn tell_of_email_moved_by_admin(&self, before: &User) {
        let notice = format!(
            "Hello {},\n\nAn admin changed the email address of your account: password resets can no longer reach you here.\nIf you did not ask for this, tell the people who run this service.\n",
            before.username
        );
        self.tell_old_address(before, notice);
    }

    fn tell_old_address(&self, before: &User, notice: String) {
        let per_hour = EMAIL_CHANGE_NOTICES_PER_HOUR;
        if let Err(e) = self.tell_owner(before, EMAIL_CHANGE_SUBJECT, notice, per_hour) {
            tracing::error!(error = %e, user = before.id.0, "could not queue the notice to the old address");
        }
    }

    /// Changes the email address with the token mailed to the new address,
    /// if that address is still free. Audited as `email_changed`, done by `actor`.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `uid`, `token` (wrong, used, expired) or
    /// `new_email` (taken meanwhile), [`UsersError::Storage`].
    pub fn confirm_email_change(
        &self,
        uid: &str,
        token: &str,
        actor: &Actor,
    ) -> Result<(), UsersError> {
        let (user, found) = self.token_of(uid, token, TokenPurpose::EmailChange)?;
        let email = token
            .rsplit_once('.')
            .and_then(|(_, encoded)| URL_SAFE_NO_PAD.decode(encoded).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|raw| Email::parse(&raw, "new_email").ok())
            .ok_or_else(invalid_token)?;
        if found.is_usable(self.clock.now()) && self.email_in_use(&email, Some(user.id))? {
            return Err(UsersError::Invalid(vec![FieldError::taken("new_email")]));
        }
        self.consume(&found, &TokenEffect::SetEmail(email))
            .map_err(|e| match e {
                UsersError::EmailTaken => UsersError::Invalid(vec![FieldError::taken("new_email")]),
                other => other,
            })?;
        self.record("email_changed", Some(user.id), actor, None);
        Ok(())
    }

    // ------------------------------------------------------------ avatars

    /// The largest avatar upload accepted, in bytes (0 without avatars).
    pub fn max_avatar_bytes(&self) -> usize {
        self.avatars.as_ref().map_or(0, |a| a.max_bytes)
    }

    /// The avatar file called `name`, with its format; `None` for a name
    /// that is not an avatar's or a file that is gone.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn avatar_file(&self, name: &str) -> Result<Option<(Vec<u8>, ImageKind)>, UsersError> {
        let (Some(avatars), Some(name)) = (&self.avatars, AvatarName::parse(name)) else {
            return Ok(None);
        };
        Ok(avatars.store.load(&name)?.map(|bytes| (bytes, name.kind())))
    }

    /// The upload in `change`, if it passes the rules; a problem goes to `errors`.
    pub(crate) fn check_avatar<'a>(
        &self,
        change: &'a AvatarChange,
        errors: &mut Vec<FieldError>,
    ) -> Option<(&'a [u8], ImageKind)> {
        let AvatarChange::Upload(bytes) = change else {
            return None;
        };
        let Some(avatars) = &self.avatars else {
            errors.push(
                FieldError::new("avatar", "Avatars are not enabled.").coded("avatars_disabled"),
            );
            return None;
        };
        match check_image(bytes, avatars.max_bytes) {
            Ok(kind) => Some((bytes, kind)),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    }

    /// Stores checked avatar bytes under a fresh random name.
    pub(crate) fn save_avatar(
        &self,
        bytes: &[u8],
        kind: ImageKind,
    ) -> Result<AvatarName, UsersError> {
        let avatars = self.avatars.as_ref().ok_or_else(mail_unavailable)?;
        let name = AvatarName::random(kind);
        avatars.store.save(&name, bytes)?;
        Ok(name)
    }

    /// Removes an avatar file that nothing points at any more. A failure
    /// only leaves an orphan file behind, so it is logged, not returned.
    pub(crate) fn forget_avatar(&self, name: Option<&str>) {
        let (Some(avatars), Some(name)) = (&self.avatars, name.and_then(AvatarName::parse)) else {
            return;
        };
        if let Err(e) = avatars.store.remove(&name) {
            tracing::warn!(error = %e, file = name.as_str(), "could not remove an old avatar");
        }
    }
}

/// Stores `grant` for account `user` and queues `email`, its link, unless
/// the recipient got its flow's share of emails lately or the account changed
/// since it was read ([`AccountTokenStore::issue_token_capped`]); wakes the
/// sender. Returns whether it was queued.
fn issue_capped(
    mail: &AccountMail,
    user: &User,
    grant: &TokenGrant,
    email: OutgoingEmail,
) -> Result<bool, UsersError> {
    let cap = flow_cap(&email, grant.created_at);
    let email = mail.entry(email, grant.created_at);
    let queued = mail.store.issue_token_capped(user, grant, &[email], &cap)?;
    if queued {
        (mail.queued)();
    }
    Ok(queued)
}

/// The email of a flow, with the link that carries `token`.
fn compose(mail: &AccountMail, purpose: TokenPurpose, user: &User, token: &str) -> OutgoingEmail {
    let uid = encode_uid(user.id);
    let (template, subject, action) = match purpose {
        TokenPurpose::Activation => (
            &mail.links.activation,
            "Activate your Sesame account",
            "To activate your account, open this link",
        ),
        TokenPurpose::PasswordReset => (
            &mail.links.password_reset,
            "Reset your Sesame password",
            "Someone (hopefully you) asked to reset your password. To choose a new one, open this link",
        ),
        TokenPurpose::UsernameReset => (
            &mail.links.username_reset,
            "Reset your Sesame username",
            "Someone (hopefully you) asked to reset your username. To choose a new one, open this link",
        ),
        TokenPurpose::EmailChange => (
            &mail.links.email_confirm,
            "Confirm your new email address",
            "To confirm this address for your account, open this link",
        ),
    };
    let link = fill_link(template, &uid, token);
    let lifetime = describe(mail.lifetimes.of(purpose));
    let text = format!(
        "Hello {username},\n\n{action}:\n\n{link}\n\nThe link works once and expires in {lifetime}.\nIf you did not ask for this, ignore this email.\n",
        username = user.username,
    );
    OutgoingEmail {
        to: user.email.clone().unwrap_or_default(),
        subject: subject.to_owned(),
        text,
    }
}

/// The subject of the notice to the old address that an email change was asked for.
const EMAIL_CHANGE_SUBJECT: &str = "Your Sesame email address is changing";
/// The most of those notices an address gets in an hour.
const EMAIL_CHANGE_NOTICES_PER_HOUR: u64 = 3;

/// The text of that notice.
fn email_change_notice(user: &User) -> String {
    format!(
        "Hello {},\n\nSomeone (hopefully you) asked to change the email address of your account.\nThe change happens only when the link sent to the new address is used.\nIf this was not you, change your password now.\n",
        user.username
    )
}

/// A lifetime in words: "3 days", "1 hour", "90 minutes".
fn describe(lifetime: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let minutes = lifetime.num_minutes();
    if minutes >= 1440 && minutes % 1440 == 0 {
        plural(minutes / 1440, "day")
    } else if minutes >= 60 && minutes % 60 == 0 {
        plural(minutes / 60, "hour")
    } else if minutes >= 1 {
        plural(minutes, "minute")
    } else {
        plural(lifetime.num_seconds(), "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_in_words() {
        assert_eq!(describe(chrono::Duration::days(3)), "3 days");
        assert_eq!(describe(chrono::Duration::hours(1)), "1 hour");
        assert_eq!(describe(chrono::Duration::minutes(90)), "90 minutes");
        assert_eq!(describe(chrono::Duration::seconds(5)), "5 seconds");
    }
}
