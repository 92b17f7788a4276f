use std::sync::Arc;

use sesame_kernel::{Clock, Page, UserId};

use crate::{
    AccountMail, AvatarChange, AvatarName, Avatars, Email, FieldError, FieldProblem, NewUser,
    Password, PasswordHasher, ProfileChanges, User, UserRepository, Username, UsersError,
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

/// Profile fields a user may change on their own account, as raw strings.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New email (`Some("")` removes it).
    pub email: Option<String>,
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
        }
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

    /// Opens an account. It is active at once unless activation is required.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] listing every bad field (taken username or
    /// email included), [`UsersError::Storage`].
    pub fn register(&self, registration: Registration) -> Result<User, UsersError> {
        self.create(registration, !self.settings.require_activation, false)
    }

    /// Creates an account directly (operators, CLI): active, admin if asked.
    ///
    /// # Errors
    /// As [`AccountService::register`].
    pub fn create_user(&self, registration: Registration, admin: bool) -> Result<User, UsersError> {
        self.create(registration, true, admin)
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
                &registration.username,
                registration.email.as_deref().unwrap_or_default(),
                &registration.first_name,
                &registration.last_name,
            ],
        )
        .map_err(|problems| push_all(&mut errors, "password", problems))
        .ok();
        if let Some(username) = &username {
            if self.users.find_by_username(username.as_str())?.is_some() {
                errors.push(FieldError::taken("username"));
            }
        }
        if let Some(email) = &email {
            if self.users.find_by_email(email.as_str())?.is_some() {
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
            password_hash: self.hasher.hash(&password)?,
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
        // A username may be spelled like another account's email address:
        // both are candidates, and the password decides which one is meant.
        let mut candidates: Vec<User> = self.users.find_by_username(login)?.into_iter().collect();
        if login.contains('@') {
            if let Some(user) = self.users.find_by_email(login)? {
                if candidates.iter().all(|c| c.id != user.id) {
                    candidates.push(user);
                }
            }
        }
        if candidates.is_empty() {
            self.hasher.spend_verify_time(password);
            return Err(UsersError::InvalidCredentials);
        }
        let user = candidates
            .into_iter()
            .find(|user| self.hasher.verify(password, &user.password_hash))
            .ok_or(UsersError::InvalidCredentials)?;
        if !user.is_active {
            return Err(UsersError::AccountInactive);
        }
        let now = self.clock.now();
        if self.hasher.needs_rehash(&user.password_hash) {
            // An imported hash: replaced by Sesame's own with this login.
            let old_format = crate::HashFormat::of(&user.password_hash)
                .map_or("unknown", crate::HashFormat::name);
            let password_hash = self.hasher.hash(&Password::accepted(password))?;
            self.users
                .record_login_rehashed(user.id, now, &password_hash, old_format)?;
            return Ok(User {
                last_login: Some(now),
                password_hash,
                ..user
            });
        }
        self.users.record_login(user.id, now)?;
        Ok(User {
            last_login: Some(now),
            ..user
        })
    }

    /// Checks `password` against the account's own, for confirming a change.
    ///
    /// # Errors
    /// [`UsersError::WrongCurrentPassword`].
    pub fn confirm_password(&self, user: &User, password: &str) -> Result<(), UsersError> {
        if self.hasher.verify(password, &user.password_hash) {
            Ok(())
        } else {
            Err(UsersError::WrongCurrentPassword)
        }
    }

    /// The account with this id.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    pub fn get(&self, id: UserId) -> Result<User, UsersError> {
        self.users.find_by_id(id)?.ok_or(UsersError::NotFound)
    }

    /// The account with this username, ignoring case.
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

    /// Changes profile fields of `target` as `actor` (themselves or an admin).
    ///
    /// # Errors
    /// [`UsersError::NotFound`] when the actor may not edit the target,
    /// [`UsersError::Invalid`] for bad fields or a taken email, [`UsersError::Storage`].
    pub fn update_profile(
        &self,
        actor: &User,
        target: UserId,
        update: ProfileUpdate,
    ) -> Result<User, UsersError> {
        self.update_profile_with_avatar(actor, target, update, AvatarChange::Keep)
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
        actor: &User,
        target: UserId,
        update: ProfileUpdate,
        avatar: AvatarChange,
    ) -> Result<User, UsersError> {
        let target = self.get_for(actor, target)?;
        let mut errors = Vec::new();
        let upload = self.check_avatar(&avatar, &mut errors);
        if let Some(name) = &update.first_name {
            check_name(name, "first_name", &mut errors);
        }
        if let Some(name) = &update.last_name {
            check_name(name, "last_name", &mut errors);
        }
        let email = match update.email.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(raw) => match Email::parse(raw, "email") {
                Ok(email) => {
                    let owner = self.users.find_by_email(email.as_str())?;
                    if owner.is_some_and(|owner| owner.id != target.id) {
                        errors.push(FieldError::taken("email"));
                    }
                    Some(Some(email))
                }
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(UsersError::Invalid(errors));
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
        let changes = ProfileChanges {
            first_name: update.first_name,
            last_name: update.last_name,
            email,
            avatar: avatar_change.clone(),
        };
        match self.users.update_profile(target.id, &changes) {
            Ok(user) => {
                if avatar_change.is_some() && target.avatar != user.avatar {
                    self.forget_avatar(target.avatar.as_deref());
                }
                Ok(user)
            }
            Err(error) => {
                self.forget_avatar(new_avatar.as_ref().map(AvatarName::as_str));
                Err(taken_as_field_error(error))
            }
        }
    }

    /// Deletes `target` as `actor` (themselves or an admin), who confirms with
    /// their own current password.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::WrongCurrentPassword`], [`UsersError::Storage`].
    pub fn delete_account(
        &self,
        actor: &User,
        target: UserId,
        current_password: &str,
    ) -> Result<User, UsersError> {
        let target = self.get_for(actor, target)?;
        self.confirm_password(actor, current_password)?;
        self.users.delete(target.id)?;
        self.forget_avatar(target.avatar.as_deref());
        Ok(target)
    }

    /// Deletes an account without a password check (already authorised by the caller).
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    pub fn delete_unchecked(&self, target: UserId) -> Result<(), UsersError> {
        let avatar = match &self.avatars {
            Some(_) => self.users.find_by_id(target)?.and_then(|u| u.avatar),
            None => None,
        };
        self.users.delete(target)?;
        self.forget_avatar(avatar.as_deref());
        Ok(())
    }

    /// Changes the user's password after checking the current one, and
    /// revokes every other session (`keep_session` survives).
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
    ) -> Result<(), UsersError> {
        self.confirm_password(user, current_password)?;
        self.replace_password(user, new_password, "new_password", keep_session)
    }

    /// Sets a new password under the registration policy and revokes every
    /// session of the user but `keep_session`.
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `field`, [`UsersError::Storage`].
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
        let hash = self.hasher.hash(&password)?;
        self.users
            .change_password(user.id, &hash, keep_session, self.clock.now())
    }

    /// Renames the user after checking their current password.
    ///
    /// # Errors
    /// [`UsersError::WrongCurrentPassword`], [`UsersError::Invalid`] on
    /// `new_username` (bad or taken), [`UsersError::Storage`].
    pub fn set_username(
        &self,
        user: &User,
        current_password: &str,
        new_username: &str,
    ) -> Result<(), UsersError> {
        self.confirm_password(user, current_password)?;
        self.rename(user, new_username, "new_username")
    }

    /// Renames the user (already authorised by the caller).
    ///
    /// # Errors
    /// [`UsersError::Invalid`] on `field` for a bad or taken username, [`UsersError::Storage`].
    pub fn rename(&self, user: &User, new_username: &str, field: &str) -> Result<(), UsersError> {
        let username =
            Username::parse(new_username, field).map_err(|e| UsersError::Invalid(vec![e]))?;
        if let Some(owner) = self.users.find_by_username(username.as_str())? {
            if owner.id != user.id {
                return Err(UsersError::Invalid(vec![FieldError::taken(field)]));
            }
        }
        self.users
            .set_username(user.id, &username)
            .map_err(|e| match e {
                UsersError::UsernameTaken => UsersError::Invalid(vec![FieldError::taken(field)]),
                other => other,
            })
    }

    /// Makes the account with this username an administrator.
    ///
    /// # Errors
    /// [`UsersError::NotFound`], [`UsersError::Storage`].
    pub fn promote(&self, username: &str) -> Result<User, UsersError> {
        let user = self.get_by_username(username)?;
        self.users.set_flags(user.id, None, Some(true))?;
        self.get(user.id)
    }
}

pub(crate) fn user_inputs(user: &User) -> [&str; 4] {
    [
        &user.username,
        user.email.as_deref().unwrap_or_default(),
        &user.first_name,
        &user.last_name,
    ]
}

fn check_name(name: &str, field: &str, errors: &mut Vec<FieldError>) {
    if name.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new(
            field,
            "Ensure this field has no more than 150 characters.",
        ));
    }
}

pub(crate) fn push_all(errors: &mut Vec<FieldError>, field: &str, problems: Vec<String>) {
    errors.extend(
        problems
            .into_iter()
            .map(|p| FieldError::with_problem(field, FieldProblem::WeakPassword, p)),
    );
}

/// A uniqueness conflict the store caught after the pre-check passed (a race).
pub(crate) fn taken_as_field_error(error: UsersError) -> UsersError {
    match error {
        UsersError::UsernameTaken => UsersError::Invalid(vec![FieldError::taken("username")]),
        UsersError::EmailTaken => UsersError::Invalid(vec![FieldError::taken("email")]),
        other => other,
    }
}
