use std::sync::Arc;

use sesame_kernel::audit::{Actor, AuditEntry, AuditEvent, AuditLog};
use sesame_kernel::{Clock, Page, UserId};

use crate::places::{KeyedPlaces, Places};
use crate::{
    AccountMail, AvatarChange, AvatarName, Avatars, ConfirmationThrottle, Email, FieldError,
    NewUser, Password, PasswordHasher, PasswordProblem, ProfileChanges, User, UserAttribute,
    UserRepository, Username, UsersError,
};

/// Account rules that come from configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountSettings {
    /// New accounts stay inactive until activated by email.
    pub require_activation: bool,
}

/// What a client sends to open an account, as raw strings.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Wanted username.
    pub username: String,
    /// Email address, if the surface asks for one.
    pub email: Option<String>,
    /// Wanted password.
    pub password: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
}

/// Profile fields a user may change on their own account, as raw strings,
/// and the flags an admin may change on another's.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New email (`Some("")` removes it).
    pub email: Option<String>,
    /// The actor's current password: a user changing their own email must give it.
    pub current_password: Option<String>,
    /// New active flag: admins, of other accounts only (ignored for others).
    pub is_active: Option<bool>,
    /// New admin flag: admins, of other accounts only (ignored for others).
    pub is_staff: Option<bool>,
}

/// What [`AccountService::edit_profile`] did.
#[derive(Debug, Clone)]
pub struct ProfileEdit {
    /// The account as it now is (a confirmed email change has not happened yet).
    pub user: User,
    /// What changed at once, as `field` or `flag=value` (for the audit log).
    pub changed: Vec<String>,
    /// Whether a confirmed email change was started: its link queued to the
    /// new address (not when that address got as many this hour as a flow
    /// may send it).
    pub email_change_started: bool,
}

/// What to do with the email of a profile update.
enum EmailPlan {
    /// Leave it.
    Keep,
    /// Store this at once (`None` removes it).
    Set(Option<Email>),
    /// Mail a confirmation link to this address; it changes once the link is used.
    Confirm(Email),
}

/// The longest first or last name.
const MAX_NAME_CHARS: usize = 150;

/// Account use-cases: registration, login, profile, password and username
/// changes; with [`AccountService::with_mail`], the email flows (activation,
/// password and username resets); with [`AccountService::with_avatars`], avatars.
#[derive(Clone)]
pub struct AccountService {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: AccountSettings,
    pub(crate) mail: Option<AccountMail>,
    pub(crate) avatars: Option<Avatars>,
    pub(crate) audit: Option<Arc<dyn AuditLog>>,
    pub(crate) throttle: Option<Arc<dyn ConfirmationThrottle>>,
    pub(crate) places: Places,
    /// Indexed by [`MailFlow`](crate::MailFlow).
    pub(crate) mail_flows: [KeyedPlaces; crate::MailFlow::COUNT],
}

impl AccountService {
    /// A service over these ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        settings: AccountSettings,
    ) -> Self {
        AccountService {
            users,
            hasher,
            clock,
            settings,
            mail: None,
            avatars: None,
            audit: None,
            throttle: None,
            places: Places::default(),
            mail_flows: std::array::from_fn(|_| {
                KeyedPlaces::new(crate::flows::MAIL_FLOWS_WAITING, "email flows")
            }),
        }
    }

    /// The same service, refusing a password check or hash (as storage
    /// that is unavailable, 503) while `max` are under way: about what the
    /// hasher queues, so that a flood of logins cannot hold every blocking
    /// thread waiting behind it.
    pub fn with_hashing_places(mut self, max: usize) -> Self {
        self.places = Places::new(max, "password checks");
        self
    }

    /// The same service, counting wrong current passwords in `throttle`
    /// and refusing confirmations while it holds an account back.
    pub fn with_confirmation_throttle(mut self, throttle: Arc<dyn ConfirmationThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The same service, recording the changes operators make in `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Whether `viewer` may read the audit log: admins only.
    ///
    /// # Errors
    /// [`UsersError::Forbidden`] for a viewer who is not an admin.
    pub fn may_read_audit(&self, viewer: &User) -> Result<(), UsersError> {
        if viewer.is_staff {
            Ok(())
        } else {
            Err(UsersError::Forbidden)
        }
    }

    /// The audit log, newest first, of one user and/or one kind if given,
    /// for a viewer who [may read it](Self::may_read_audit). Without an
    /// audit log, it is empty.
    ///
    /// # Errors
    /// [`UsersError::Forbidden`] for a viewer who is not an admin;
    /// [`UsersError::Storage`].
    pub fn audit_entries(
        &self,
        viewer: &User,
        user: Option<UserId>,
        kind: Option<&str>,
        page: Page,
    ) -> Result<Vec<AuditEntry>, UsersError> {
        self.may_read_audit(viewer)?;
        let Some(audit) = &self.audit else {
            return Ok(Vec::new());
        };
        Ok(audit.entries(user, kind, page)?)
    }

    /// Records that `actor` did `kind` to `target`, and what changed.
    pub(crate) fn audited(&self, kind: &str, target: &User, actor: &Actor, change: &str) {
        let detail = format!("user {}: {change}", target.id);
        self.record(kind, actor.user.or(Some(target.id)), actor, Some(detail));
    }

    /// Records `kind` about `user`, done by `actor` (a failed write is
    /// logged: what it records already happened).
    pub(crate) fn record(
        &self,
        kind: &str,
        user: Option<UserId>,
        actor: &Actor,
        detail: Option<String>,
    ) {
        let Some(audit) = &self.audit else { return };
        let event = AuditEvent::new(kind, user, actor, self.clock.now(), detail);
        audit.record_or_warn(&event);
    }

    /// The same service, with email flows: one-time tokens and the emails
    /// that carry them. Registration then sends an activation email when
    /// activation is required.
    pub fn with_mail(mut self, mail: AccountMail) -> Self {
        self.mail = Some(mail);
        self
    }

    /// The same service, with avatar uploads.
    pub fn with_avatars(mut self, avatars: Avatars) -> Self {
        self.avatars = Some(avatars);
        self
    }

    /// The configured settings.
    pub fn settings(&self) -> AccountSettings {
        self.settings
    }

    /// Opens an account. It is active at once unless activation is
    /// required; then it needs an email address for the activation link.
    ///
    /// # Errors
    /// [`UsersError::ActivationNeedsEmail`] (before any field is checked),
    /// [`UsersError::Invalid`] listing every bad field (taken username or
    /// email included), [`UsersError::Storage`].
    pub fn register(&self, registration: Registration) -> Result<User, UsersError> {
        let activate_later = self.settings.require_activation;
        if activate_later && registration.email.is_none() {
            return Err(UsersError::ActivationNeedsEmail);
        }
        self.create(registration, !activate_later, false)
    }

    /// Creates an account directly as `actor` (operators, CLI): active,
    /// admin if asked; audited as `admin_created_user`.
    ///
    /// # Errors
    /// As [`AccountService::register`].
    pub fn create_user(
        &self,
        registration: Registration,
        admin: bool,
        actor: &Actor,
    ) -> Result<User, UsersError> {
        let user = self.create(registration, true, admin)?;
        self.audited(
            "admin_created_user",
            &user,
            actor,
            &format!("is_staff={admin}"),
        );
        Ok(user)
    }

    fn create(
        &self,
        registration: Registration,
        is_active: bool,
        is_staff: bool,
    ) -> Result<User, UsersError> {
        let mut errors = Vec::new();
        let username = Username::parse(&registration.username, "username")
            .map_err(|e| errors.push(e))
            .ok();
        let email = match registration.email.as_deref() {
            Some(raw) => Email::parse(raw, "email").map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        check_name(&registration.first_name, "first_name", &mut errors);
        check_name(&registration.last_name, "last_name", &mut errors);
        let password = Password::new(
            &registration.password,
            &[
                (UserAttribute::Username, &registration.username),
                (
                    UserAttribute::Email,
                    registration.email.as_deref().unwrap_or_default(),
                ),
                (UserAttribute::FirstName, &registration.first_name),
                (UserAttribute::LastName, &registration.last_name),
            ],
        )
        .map_err(|problems| push_all(&mut errors, "password", problems))
        .ok();
        if let Some(username) = &username {
            if self.username_in_use(username, None)? {
                errors.push(FieldError::taken("username"));
            }
        }
        if let Some(email) = &email {
            if self.email_in_use(email, None)? {
                errors.push(FieldError::taken("email"));
            }
        }
        let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
            return Err(UsersError::Invalid(errors));
        };
        let new_user = NewUser {
            username,
            email,
            first_name: registration.first_name,
            last_name: registration.last_name,
            password_hash: self.hash_password(&password)?,
            is_active,
            is_staff,
            date_joined: self.clock.now(),
        };
        self.store_new_user(&new_user).map_err(taken_as_field_error)
    }

    /// Checks a login (username or email) and password, records the login and
    /// returns the account as it now is (`last_login` set).
    ///
    /// # Errors
    /// [`UsersError::InvalidCredentials`] for an unknown login or a wrong
    /// password (both cost at least one bcrypt verification);
    /// [`UsersError::AccountInactive`] when the password is right but the
    /// account is inactive; [`UsersError::Storage`].
    pub fn authenticate(&self, login: &str, password: &str) -> Result<User, UsersError> {
        let candidates = self.login_candidates(login)?;
        self.authenticate_among(candidates, password)
    }

    /// Whether `password` is the one behind `stored`. The memory an argon2
    /// or scrypt check takes is waited for here, on the caller's thread,
    /// before the check goes to the hasher (`imported::MemoryLease`).
    ///
    /// # Errors
    /// [`UsersError::Storage`] when every hashing place is taken.
    pub(crate) fn password_matches(
        &self,
        password: &str,
        stored: &str,
    ) -> Result<bool, UsersError> {
        let _place = self.places.take()?;
        let _memory = crate::imported::MemoryLease::for_hash(stored);
        Ok(self.hasher.verify(password, stored))
    }

    /// `password`'s hash, made in a hashing place.
    ///
    /// # Errors
    /// [`UsersError::Storage`], also when every hashing place is taken.
    pub(crate) fn hash_password(&self, password: &Password) -> Result<String, UsersError> {
        let _place = self.places.take()?;
        self.hasher.hash(password)
    }

    /// Checks `password` against the account's own, for confirming a change;
    /// a wrong one is counted by the confirmation throttle, if there is one,
    /// and towards the owner's alert as at login: a stolen token guessing
    /// the password is heard of too.
    /// The account is read again after the check, which takes a bcrypt's
    /// time: a password replaced meanwhile (a reset, say) confirms nothing.
    ///
    /// # Errors
    /// [`UsersError::WrongCurrentPassword`] (also when the password changed
    /// during the check), [`UsersError::AccountInactive`] when the account
    /// was deactivated during it, or [`UsersError::ConfirmationThrottled`]
    /// while the throttle holds the account back, before the check and
    /// after it, right or wrong; [`UsersError::Storage`].
    pub fn confirm_password(&self, user: &User, password: &str) -> Result<(), UsersError> {
        let held_back = || {
            self.throttle
                .as_ref()
                .map_or(Ok(()), |t| t.held_back(user.id))
        };
        held_back()?;
        let right = self.password_matches(password, &user.password_hash)?;
        if let (false, Some(throttle)) = (right, &self.throttle) {
            throttle.record_failure(user.id);
            let wrong = throttle.record_wrong_password(user.id);
            self.report_wrong_passwords(user, wrong);
        }
        // Guesses sent at once all pass the first check before the first of
        // them fails; once the account is held back none is answered (the
        // one that locked it included), so a burst learns no more than the
        // allowance.
        held_back()?;
        if !right {
            return Err(UsersError::WrongCurrentPassword);
        }
        match self.users.find_by_id(user.id)? {
            Some(now) if now.password_hash != user.password_hash => {
                Err(UsersError::WrongCurrentPassword)
            }
            Some(now) if now.is_active => Ok(()),
            _ => Err(UsersError::AccountInactive),
        }
    }

    /// The account with this id.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    pub fn get(&self, id: UserId) -> Result<User, UsersError> {
        self.users.find_by_id(id)?.ok_or(UsersError::NotFound)
    }

    /// The account with this username (by key: case and compatibility forms ignored).
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    pub fn get_by_username(&self, username: &str) -> Result<User, UsersError> {
        self.users
            .find_by_username(username)?
            .ok_or(UsersError::NotFound)
    }

    /// The account `viewer` may act on: any for an admin, only their own otherwise.
    ///
    /// # Errors
    /// [`UsersError::NotFound`] for an unknown id or one the viewer may not
    /// see (the same answer, so ids cannot be probed).
    pub fn get_for(&self, viewer: &User, id: UserId) -> Result<User, UsersError> {
        if viewer.id == id {
            return Ok(viewer.clone());
        }
        if !viewer.is_staff {
            return Err(UsersError::NotFound);
        }
        self.get(id)
    }

    /// Accounts `viewer` may see: all of them for an admin, their own otherwise.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn list_for(&self, viewer: &User, page: Page) -> Result<Vec<User>, UsersError> {
        if viewer.is_staff {
            self.users.list(page)
        } else if page.skip == 0 {
            Ok(vec![viewer.clone()])
        } else {
            Ok(Vec::new())
        }
    }

    /// Every account, for a public or members-only directory.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub fn directory(&self, page: Page) -> Result<Vec<User>, UsersError> {
        self.users.list(page)
    }

    /// Changes profile fields of `target` as `caller` (themselves or an
    /// admin); `actor` is who that is and where from, for the audit log.
    ///
    /// # Errors
    /// [`UsersError::NotFound`] when the actor may not edit the target,
    /// [`UsersError::Invalid`] for bad fields or a taken email, [`UsersError::Storage`].
    pub fn update_profile(
        &self,
        caller: &User,
        target: UserId,
        update: ProfileUpdate,
        actor: &Actor,
    ) -> Result<User, UsersError> {
        self.update_profile_with_avatar(caller, target, update, AvatarChange::Keep, actor)
    }

    /// Like [`AccountService::update_profile`], and changes the avatar too:
    /// an upload must be a PNG, JPEG, WebP or GIF (told by its content)
    /// within the size limit; it is stored under a new random name, and the
    /// file it replaces is removed. A refused upload changes nothing.
    ///
    /// # Errors
    /// As [`AccountService::update_profile`], and [`UsersError::Invalid`] on
    /// `avatar` for a refused upload.
    pub fn update_profile_with_avatar(
        &self,
        caller: &User,
        target: UserId,
        update: ProfileUpdate,
        avatar: AvatarChange,
        actor: &Actor,
    ) -> Result<User, UsersError> {
        self.edit_profile(caller, target, update, avatar, actor)
            .map(|edit| edit.user)
    }

    /// Like [`AccountService::update_profile_with_avatar`], saying what it did.
    ///
    /// A user never changes their own email in one step: a different address
    /// needs `current_password` and starts the confirmed change of
    /// [`AccountService::request_email_change`]; removing it needs the
    /// password too. An admin changing another account's email changes it at
    /// once, given the admin's own `current_password`. The same address
    /// (same key) in another case is stored as given. Admins may set
    /// `is_active` and `is_staff` of other accounts (making one an admin, or
    /// changing an admin's, needs their `current_password` too), never change
    /// their own; others' flags are read-only and ignored.
    ///
    /// An admin's edit of another account is audited as `admin_changed_user`
    /// with what changed; a started email change as `email_change_requested`;
    /// the removal of one's own address as `email_removed`, and the old
    /// address is told, as of a change.
    ///
    /// # Errors
    /// As [`AccountService::update_profile`], and [`UsersError::Invalid`] on
    /// `current_password` (missing or wrong), on `is_active`/`is_staff`
    /// (an admin's own), on `avatar` for a refused upload.
    pub fn edit_profile(
        &self,
        caller: &User,
        target: UserId,
        update: ProfileUpdate,
        avatar: AvatarChange,
        actor: &Actor,
    ) -> Result<ProfileEdit, UsersError> {
        let target = self.get_for(caller, target)?;
        let own = caller.id == target.id;
        let mut errors = Vec::new();
        let upload = self.check_avatar(&avatar, &mut errors);
        if let Some(name) = &update.first_name {
            check_name(name, "first_name", &mut errors);
        }
        if let Some(name) = &update.last_name {
            check_name(name, "last_name", &mut errors);
        }
        let email = self.plan_email(&target, own, update.email.as_deref(), &mut errors)?;
        let moves_email = match &email {
            EmailPlan::Keep => false,
            EmailPlan::Set(new) => !same_address(target.email.as_deref(), new.as_ref()),
            EmailPlan::Confirm(_) => true,
        };
        // An inactive account may be awaiting its activation rather than
        // deactivated: `is_active: false` then still deactivates it, so
        // that no activation link turns it back on.
        let is_active = flag_change(
            caller,
            &target,
            "is_active",
            update.is_active,
            target.is_active.then_some(true),
            &mut errors,
        );
        let is_staff = flag_change(
            caller,
            &target,
            "is_staff",
            update.is_staff,
            Some(target.is_staff),
            &mut errors,
        );
        // Making another account an admin needs the admin's password too:
        // with a stolen admin token alone, a second admin could move the
        // first one's email and reset its password. So does changing another
        // admin's flags: that token alone could lock every other admin out,
        // or turn a deactivated one back on.
        let flags_an_admin = target.is_staff && (is_active.is_some() || is_staff.is_some());
        if moves_email || is_staff == Some(true) || flags_an_admin {
            let required = if own {
                "This field is required to change your email address."
            } else {
                "This field is required to change another account's email address, make it an admin, or change an admin's flags."
            };
            match update.current_password.as_deref() {
                None | Some("") => errors.push(
                    FieldError::new("current_password", required)
                        .coded("current_password_required"),
                ),
                Some(password) => match self.confirm_password(caller, password) {
                    Ok(()) => {}
                    Err(UsersError::WrongCurrentPassword) => errors.push(
                        FieldError::new("current_password", "Invalid password.")
                            .coded("wrong_password"),
                    ),
                    Err(other) => return Err(other),
                },
            }
        }
        if !errors.is_empty() {
            return Err(UsersError::Invalid(errors));
        }
        if matches!(email, EmailPlan::Confirm(_)) {
            self.mail()?;
        }
        let mut changed = Vec::new();
        for (field, value) in [
            ("first_name", &update.first_name),
            ("last_name", &update.last_name),
        ] {
            if value.is_some() {
                changed.push(field.to_owned());
            }
        }
        let new_avatar = match upload {
            Some((bytes, kind)) => Some(self.save_avatar(bytes, kind)?),
            None => None,
        };
        let avatar_change = match (&avatar, &new_avatar) {
            (_, Some(name)) => Some(Some(name.as_str().to_owned())),
            (AvatarChange::Remove, None) => Some(None),
            _ => None,
        };
        if avatar_change.is_some() {
            changed.push("avatar".to_owned());
        }
        let email_respelled = matches!(&email, EmailPlan::Set(new)
            if same_address(target.email.as_deref(), new.as_ref()));
        let own_email_removed =
            own && target.email.is_some() && matches!(email, EmailPlan::Set(None));
        let email_moved_by_admin = !own
            && target.email.is_some()
            && !email_respelled
            && matches!(email, EmailPlan::Set(_));
        let (set_email, confirm) = match email {
            EmailPlan::Keep => (None, None),
            EmailPlan::Set(email) => {
                changed.push("email".to_owned());
                (Some(email), None)
            }
            EmailPlan::Confirm(email) => (None, Some(email)),
        };
        let changes = ProfileChanges {
            first_name: update.first_name,
            last_name: update.last_name,
            email: set_email,
            email_respelled,
            avatar: avatar_change.clone(),
        };
        let mut user = match self.users.update_profile(target.id, &changes) {
            Ok(updated) => {
                if updated.replaced_avatar != updated.user.avatar {
                    self.forget_avatar(updated.replaced_avatar.as_deref());
                }
                updated.user
            }
            Err(error) => {
                self.forget_avatar(new_avatar.as_ref().map(AvatarName::as_str));
                return Err(taken_as_field_error(error));
            }
        };
        if is_active.is_some() || is_staff.is_some() {
            self.users.set_flags(target.id, is_active, is_staff)?;
            for (flag, value) in [("is_active", is_active), ("is_staff", is_staff)] {
                if let Some(value) = value {
                    changed.push(format!("{flag}={value}"));
                }
            }
            user = self.get(target.id)?;
        }
        let email_change_started = match confirm {
            Some(email) => self.start_email_change(&user, &email, actor)?,
            None => false,
        };
        if own_email_removed {
            self.tell_of_removed_email(&target, actor);
        }
        if email_moved_by_admin {
            self.tell_of_email_moved_by_admin(&target);
        }
        if !own {
            let changed = match changed.is_empty() {
                true => "nothing".to_owned(),
                false => changed.join(", "),
            };
            self.audited("admin_changed_user", &user, actor, &changed);
        }
        Ok(ProfileEdit {
            user,
            changed,
            email_change_started,
        })
    }

    /// What a profile update does to the email of `target`; problems go to `errors`.
    fn plan_email(
        &self,
        target: &User,
        own: bool,
        raw: Option<&str>,
        errors: &mut Vec<FieldError>,
    ) -> Result<EmailPlan, UsersError> {
        let raw = match raw.map(str::trim) {
            None => return Ok(EmailPlan::Keep),
            Some("") if target.email.is_none() => return Ok(EmailPlan::Keep),
            Some("") => return Ok(EmailPlan::Set(None)),
            Some(raw) => raw,
        };
        let email = match Email::parse(raw, "email") {
            Ok(email) => email,
            Err(e) => {
                errors.push(e);
                return Ok(EmailPlan::Keep);
            }
        };
        if same_address(target.email.as_deref(), Some(&email)) {
            return Ok(EmailPlan::Set(Some(email)));
        }
        if self.email_in_use(&email, Some(target.id))? {
            errors.push(FieldError::taken("email"));
            return Ok(EmailPlan::Keep);
        }
        Ok(if own {
            EmailPlan::Confirm(email)
        } else {
            EmailPlan::Set(Some(email))
        })
    }

    /// Makes the account with this username active or inactive as `actor`
    /// (operators, CLI); deactivating ends every session of it. Audited as
    /// `admin_changed_user`.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    pub fn set_active(
        &self,
        username: &str,
        active: bool,
        actor: &Actor,
    ) -> Result<User, UsersError> {
        let user = self.get_by_username(username)?;
        self.users.set_flags(user.id, Some(active), None)?;
        self.audited(
            "admin_changed_user",
            &user,
            actor,
            &format!("is_active={active}"),
        );
        self.get(user.id)
    }

    /// Deletes `target` as `caller` (themselves or an admin), who confirms
    /// with their own current password. Audited as `account_deleted` (their
    /// own) or `admin_deleted_user`, done by `actor`.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::WrongCurrentPassword`], [`UsersError::Storage`].
    pub fn delete_account(
        &self,
        caller: &User,
        target: UserId,
        current_password: &str,
        actor: &Actor,
    ) -> Result<User, UsersError> {
        let target = self.get_for(caller, target)?;
        self.confirm_password(caller, current_password)?;
        self.users.delete(target.id)?;
        self.forget_avatar(target.avatar.as_deref());
        self.deleted(&target, actor, format!("user {}", target.id));
        Ok(target)
    }

    /// Deletes `target` as `caller`, who must be that account or an admin,
    /// with no password asked (seed 002's rule, where the caller's token is
    /// the proof). Audited as [`AccountService::delete_account`] is. Never
    /// an admin's account, the caller's own included: an admin's token alone
    /// could otherwise delete every admin ([`AccountService::delete_account`],
    /// with the password, can).
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Forbidden`] for anyone else,
    /// [`UsersError::Storage`].
    pub fn delete_as(
        &self,
        caller: &User,
        target: UserId,
        actor: &Actor,
    ) -> Result<(), UsersError> {
        let target = self.get(target)?;
        if target.is_staff || (caller.id != target.id && !caller.is_staff) {
            return Err(UsersError::Forbidden);
        }
        self.users.delete(target.id)?;
        self.forget_avatar(target.avatar.as_deref());
        self.deleted(&target, actor, format!("user {}", target.username));
        Ok(())
    }

    /// Records that `actor` deleted `target`: their own account, or an admin another's.
    fn deleted(&self, target: &User, actor: &Actor, detail: String) {
        let kind = match actor.user {
            Some(user) if user != target.id => "admin_deleted_user",
            _ => "account_deleted",
        };
        self.record(kind, actor.user.or(Some(target.id)), actor, Some(detail));
    }

    /// Changes the user's password after checking the current one, and
    /// revokes every other session (`keep_session` survives). Audited as
    /// `password_changed`, done by `actor`.
    ///
    /// # Errors
    /// [`UsersError::WrongCurrentPassword`], [`UsersError::Invalid`] on
    /// `new_password` for a weak one, [`UsersError::Storage`].
    pub fn set_password(
        &self,
        user: &User,
        current_password: &str,
        new_password: &str,
        keep_session: Option<&str>,
        actor: &Actor,
    ) -> Result<(), UsersError> {
        self.confirm_password(user, current_password)?;
        self.replace_password(user, new_password, "new_password", keep_session)?;
        if let Some(throttle) = &self.throttle {
            throttle.password_replaced(user.id);
        }
        self.record("password_changed", Some(user.id), actor, None);
        Ok(())
    }

    /// Sets a new password under the registration policy, unless the
    /// password changed since `user` was read, and revokes every session of
    /// the user but `keep_session`.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `field`, [`UsersError::WrongCurrentPassword`]
    /// when the password changed meanwhile, [`UsersError::Storage`].
    pub fn replace_password(
        &self,
        user: &User,
        new_password: &str,
        field: &str,
        keep_session: Option<&str>,
    ) -> Result<(), UsersError> {
        let password = Password::new(new_password, &user_inputs(user)).map_err(|problems| {
            let mut errors = Vec::new();
            push_all(&mut errors, field, problems);
            UsersError::Invalid(errors)
        })?;
        let hash = self.hash_password(&password)?;
        self.users.change_password(
            user.id,
            &user.password_hash,
            &hash,
            keep_session,
            self.clock.now(),
        )
    }

    /// Renames the user after checking their current password. Audited as
    /// `username_changed`, done by `actor`.
    ///
    /// # Errors
    /// [`UsersError::WrongCurrentPassword`], [`UsersError::Invalid`] on
    /// `new_username` (bad or taken), [`UsersError::Storage`].
    pub fn set_username(
        &self,
        user: &User,
        current_password: &str,
        new_username: &str,
        actor: &Actor,
    ) -> Result<(), UsersError> {
        self.confirm_password(user, current_password)?;
        self.rename(user, new_username, "new_username")?;
        self.record("username_changed", Some(user.id), actor, None);
        Ok(())
    }

    /// Renames the user (already authorised by the caller).
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `field` for a bad or taken username, [`UsersError::Storage`].
    pub fn rename(&self, user: &User, new_username: &str, field: &str) -> Result<(), UsersError> {
        let username =
            Username::parse(new_username, field).map_err(|e| UsersError::Invalid(vec![e]))?;
        if self.username_in_use(&username, Some(user.id))? {
            return Err(UsersError::Invalid(vec![FieldError::taken(field)]));
        }
        self.users
            .set_username(user.id, &username)
            .map_err(|e| match e {
                UsersError::UsernameTaken => UsersError::Invalid(vec![FieldError::taken(field)]),
                other => other,
            })
    }

    /// Whether an account other than `me` goes by `username`: as its
    /// username or, since usernames may hold `@`, as its email address.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub(crate) fn username_in_use(
        &self,
        username: &Username,
        me: Option<UserId>,
    ) -> Result<bool, UsersError> {
        let other = |owner: Option<User>| owner.is_some_and(|owner| Some(owner.id) != me);
        Ok(other(self.users.find_by_username(username.as_str())?)
            || (username.as_str().contains('@')
                && other(self.users.find_by_email(username.as_str())?)))
    }

    /// Whether an account other than `me` goes by `email`: as its email
    /// address or as its username.
    ///
    /// # Errors
    /// [`UsersError::Storage`].
    pub(crate) fn email_in_use(
        &self,
        email: &Email,
        me: Option<UserId>,
    ) -> Result<bool, UsersError> {
        let other = |owner: Option<User>| owner.is_some_and(|owner| Some(owner.id) != me);
        Ok(other(self.users.find_by_email(email.as_str())?)
            || other(self.users.find_by_username(email.as_str())?))
    }

    /// Makes the account with this username an administrator, as `actor`.
    /// Audited as `admin_changed_user`.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    pub fn promote(&self, username: &str, actor: &Actor) -> Result<User, UsersError> {
        let user = self.get_by_username(username)?;
        self.users.set_flags(user.id, None, Some(true))?;
        self.audited("admin_changed_user", &user, actor, "is_staff=true");
        self.get(user.id)
    }
}

/// Whether `new` is the mailbox `stored` already is: the same address but
/// for ASCII case. Not [`crate::identity_key`]: its folding makes `ß` and
/// `ss` one, so `bob@straße.de` would pass for `bob@strasse.de`, another
/// domain, and a stolen token could move the address with no password.
fn same_address(stored: Option<&str>, new: Option<&Email>) -> bool {
    match (stored, new) {
        (None, None) => true,
        (Some(stored), Some(new)) => stored.trim().eq_ignore_ascii_case(new.as_str()),
        _ => false,
    }
}

/// The change of an account flag an update asks for, if `actor` may make it:
/// admins set other accounts' flags; their own is refused; for anyone else
/// the flag is read-only and ignored. A value equal to `unchanged_by` is no
/// change.
fn flag_change(
    actor: &User,
    target: &User,
    field: &str,
    wanted: Option<bool>,
    unchanged_by: Option<bool>,
    errors: &mut Vec<FieldError>,
) -> Option<bool> {
    let wanted = wanted.filter(|wanted| Some(*wanted) != unchanged_by && actor.is_staff)?;
    if actor.id == target.id {
        errors.push(
            FieldError::new(field, "You cannot change this on your own account.")
                .coded("own_account"),
        );
        return None;
    }
    Some(wanted)
}

pub(crate) fn user_inputs(user: &User) -> [(UserAttribute, &str); 4] {
    [
        (UserAttribute::Username, &user.username),
        (
            UserAttribute::Email,
            user.email.as_deref().unwrap_or_default(),
        ),
        (UserAttribute::FirstName, &user.first_name),
        (UserAttribute::LastName, &user.last_name),
    ]
}

fn check_name(name: &str, field: &str, errors: &mut Vec<FieldError>) {
    if name.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::max_length(field, MAX_NAME_CHARS));
    }
}

pub(crate) fn push_all(errors: &mut Vec<FieldError>, field: &str, problems: Vec<PasswordProblem>) {
    errors.extend(problems.into_iter().map(|p| p.on(field)));
}

/// A uniqueness conflict the store caught after the pre-check passed (a race).
pub(crate) fn taken_as_field_error(error: UsersError) -> UsersError {
    match error {
        UsersError::UsernameTaken => UsersError::Invalid(vec![FieldError::taken("username")]),
        UsersError::EmailTaken => UsersError::Invalid(vec![FieldError::taken("email")]),
        other => other,
    }
}
