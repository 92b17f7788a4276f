//! Account rules, checked through `AccountService` over the in-memory store
//! and a clock moved by hand.

use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::audit::Actor;
use sesame_kernel::{Clock, Page, UserId};
use sesame_testkit::{ChangedWhileVerifying, FakeClock, InMemoryStore};
use sesame_tokens::{ClientInfo, JwtKeys, Revival, SessionService, TokenSettings, TokensError};
use sesame_users::{
    AccountService, AccountSettings, AvatarChange, BcryptHasher, Email, FieldProblem,
    PasswordHasher, ProfileChanges, ProfileUpdate, Registration, User, UserRepository, UsersError,
};

const PASSWORD: &str = "Zq7!vR2#kLm";
const OTHER_PASSWORD: &str = "Hx4@pW9$tNb";

struct Fixture {
    store: Arc<InMemoryStore>,
    clock: Arc<FakeClock>,
    accounts: AccountService,
}

impl Fixture {
    fn new() -> Self {
        Self::with_settings(AccountSettings::default())
    }

    fn with_settings(settings: AccountSettings) -> Self {
        Self::with_hasher(settings, Arc::new(BcryptHasher::new(4).unwrap()))
    }

    fn with_hasher(settings: AccountSettings, hasher: Arc<dyn PasswordHasher>) -> Self {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(FakeClock::new());
        let accounts = AccountService::new(store.clone(), hasher, clock.clone(), settings);
        Fixture {
            store,
            clock,
            accounts,
        }
    }

    fn sessions(&self) -> SessionService {
        SessionService::new(
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            JwtKeys::from_secret(&[7u8; 32]).unwrap(),
            TokenSettings::default(),
        )
    }

    /// Registers `username` with `<username>@example.com` and [`PASSWORD`].
    fn user(&self, username: &str) -> User {
        self.accounts
            .register(registration(username, Some(&email_of(username)), PASSWORD))
            .expect("a valid registration")
    }

    fn admin(&self, username: &str) -> User {
        self.user(username);
        self.accounts
            .promote(username, &Actor::command_line())
            .unwrap()
    }

    fn reload(&self, user: &User) -> User {
        self.accounts.get(user.id).unwrap()
    }
}

fn email_of(username: &str) -> String {
    format!("{}@example.com", username.to_lowercase())
}

fn registration(username: &str, email: Option<&str>, password: &str) -> Registration {
    Registration {
        username: username.to_owned(),
        email: email.map(str::to_owned),
        password: password.to_owned(),
        first_name: String::new(),
        last_name: String::new(),
    }
}

/// The `(field, problem)` pairs of a validation error, sorted by field.
fn problems(error: &UsersError) -> Vec<(String, FieldProblem)> {
    assert!(
        matches!(error, UsersError::Invalid(_)),
        "expected a validation error, got {error:?}"
    );
    let mut problems: Vec<_> = error
        .field_errors()
        .iter()
        .map(|e| (e.field.clone(), e.problem))
        .collect();
    problems.sort_by(|a, b| a.0.cmp(&b.0));
    problems
}

fn problem(field: &str, problem: FieldProblem) -> (String, FieldProblem) {
    (field.to_owned(), problem)
}

/// The `(field, code)` pairs of a validation error, sorted by field.
fn codes(error: &UsersError) -> Vec<(&str, &'static str)> {
    let mut codes: Vec<_> = error
        .field_errors()
        .iter()
        .map(|e| (e.field.as_str(), e.code))
        .collect();
    codes.sort();
    codes
}

/// The parameters of the error on `field`.
fn params<'a>(error: &'a UsersError, field: &str) -> &'a [(&'static str, String)] {
    let found = error.field_errors().iter().find(|e| e.field == field);
    &found.expect("an error on the field").params
}

fn messages_for(error: &UsersError, field: &str) -> Vec<String> {
    error
        .field_errors()
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.clone())
        .collect()
}

// ---------------------------------------------------------------- registration

#[test]
fn registration_stores_a_valid_account() {
    let fx = Fixture::new();
    let mut form = registration("Alice", Some("Alice@Example.com"), PASSWORD);
    form.first_name = "Alice".into();
    form.last_name = "Liddell".into();
    let user = fx.accounts.register(form).unwrap();

    assert_eq!(user.username, "Alice");
    assert_eq!(user.email.as_deref(), Some("Alice@Example.com"));
    assert_eq!(user.first_name, "Alice");
    assert_eq!(user.last_name, "Liddell");
    assert!(user.is_active);
    assert!(!user.is_staff);
    assert_eq!(user.date_joined, fx.clock.now());
    assert_eq!(user.last_login, None);
    assert!(!user.password_hash.contains(PASSWORD));
    assert_eq!(fx.accounts.get(user.id).unwrap(), user);
}

#[test]
fn registration_reports_every_bad_field_at_once() {
    let fx = Fixture::new();
    let error = fx
        .accounts
        .register(Registration {
            username: String::new(),
            email: Some("not-an-email".into()),
            password: "password".into(),
            first_name: "f".repeat(151),
            last_name: "l".repeat(151),
        })
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![
            problem("email", FieldProblem::Invalid),
            problem("first_name", FieldProblem::Invalid),
            problem("last_name", FieldProblem::Invalid),
            problem("password", FieldProblem::WeakPassword),
            problem("username", FieldProblem::Blank),
        ]
    );
    assert_eq!(
        codes(&error),
        [
            ("email", "invalid_email"),
            ("first_name", "max_length"),
            ("last_name", "max_length"),
            ("password", "password_too_common"),
            ("username", "blank"),
        ]
    );
    assert_eq!(params(&error, "first_name"), [("max", "150".to_owned())]);
    assert_eq!(
        messages_for(&error, "first_name"),
        ["Ensure this field has no more than 150 characters."]
    );
    assert!(!error.is_taken());
    assert_eq!(fx.accounts.directory(Page::default()).unwrap(), vec![]);
}

#[test]
fn registration_refuses_malformed_usernames() {
    let fx = Fixture::new();
    for bad in ["has space", "semi;colon", "slash/", &"a".repeat(151)] {
        let error = fx
            .accounts
            .register(registration(bad, None, PASSWORD))
            .unwrap_err();
        assert_eq!(
            problems(&error),
            vec![problem("username", FieldProblem::Invalid)],
            "{bad:?}"
        );
    }
    // 150 characters is still fine.
    fx.accounts
        .register(registration(&"a".repeat(150), None, PASSWORD))
        .unwrap();
}

#[test]
fn registration_refuses_malformed_emails() {
    let fx = Fixture::new();
    for bad in ["john", "john@", "@example.com", "john@example", "a b@c.de"] {
        let error = fx
            .accounts
            .register(registration("john", Some(bad), PASSWORD))
            .unwrap_err();
        assert_eq!(
            problems(&error),
            vec![problem("email", FieldProblem::Invalid)],
            "{bad:?}"
        );
    }
}

#[test]
fn registration_refuses_weak_and_common_passwords() {
    let fx = Fixture::new();
    for weak in ["short1!", "password", "password1", "12345678", "qwertyuiop"] {
        let error = fx
            .accounts
            .register(registration("alice", Some("alice@example.com"), weak))
            .unwrap_err();
        let found = problems(&error);
        assert!(!found.is_empty(), "{weak:?}");
        assert!(
            found
                .iter()
                .all(|p| *p == problem("password", FieldProblem::WeakPassword)),
            "{weak:?}: {error:?}"
        );
    }
    let error = fx
        .accounts
        .register(registration("alice", None, "password"))
        .unwrap_err();
    assert_eq!(
        messages_for(&error, "password"),
        vec!["This password is too common."]
    );
    assert_eq!(codes(&error), [("password", "password_too_common")]);
    let error = fx
        .accounts
        .register(registration("alice", None, "short1!"))
        .unwrap_err();
    assert_eq!(codes(&error), [("password", "password_too_short")]);
    assert_eq!(params(&error, "password"), [("min", "8".to_owned())]);
}

#[test]
fn registration_refuses_passwords_built_from_the_account() {
    let fx = Fixture::new();
    let error = fx
        .accounts
        .register(registration("marguerite", None, "Marguerite2024!"))
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("password", FieldProblem::WeakPassword)]
    );
    assert_eq!(
        messages_for(&error, "password"),
        vec!["The password is too similar to the username."]
    );

    // The email's local part and the names count too.
    let error = fx
        .accounts
        .register(registration(
            "mx",
            Some("tournesol@example.com"),
            "Tournesol-91!",
        ))
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("password", FieldProblem::WeakPassword)]
    );
    let mut form = registration("mx", None, "Haddock-7!");
    form.last_name = "Haddock".into();
    let error = fx.accounts.register(form).unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("password", FieldProblem::WeakPassword)]
    );
    assert_eq!(
        messages_for(&error, "password"),
        vec!["The password is too similar to the last name."]
    );
    assert_eq!(codes(&error), [("password", "password_too_similar")]);
    assert_eq!(
        params(&error, "password"),
        [("attribute", "last_name".to_owned())]
    );

    // A few letters in common are not similarity.
    fx.accounts
        .register(registration("bob", None, "kabob-stew-2024!"))
        .unwrap();
    fx.accounts
        .register(registration(
            "perf",
            Some("perf@example.com"),
            "perf-123-correct-horse-battery",
        ))
        .unwrap();
}

#[test]
fn names_of_150_characters_are_fine() {
    let fx = Fixture::new();
    let mut form = registration("alice", None, PASSWORD);
    form.first_name = "é".repeat(150);
    form.last_name = "l".repeat(150);
    let user = fx.accounts.register(form).unwrap();
    assert_eq!(user.first_name.chars().count(), 150);
}

#[test]
fn usernames_and_emails_are_unique_ignoring_case() {
    let fx = Fixture::new();
    fx.accounts
        .register(registration("Alice", Some("Alice@Example.com"), PASSWORD))
        .unwrap();

    let error = fx
        .accounts
        .register(registration("aLICE", Some("ALICE@example.COM"), PASSWORD))
        .unwrap_err();
    assert!(error.is_taken());
    assert_eq!(
        problems(&error),
        vec![
            problem("email", FieldProblem::Taken),
            problem("username", FieldProblem::Taken),
        ]
    );
    assert_eq!(codes(&error), [("email", "taken"), ("username", "taken")]);

    let error = fx
        .accounts
        .register(registration("ALICE", Some("bob@example.com"), PASSWORD))
        .unwrap_err();
    assert!(error.is_taken());
    assert_eq!(
        problems(&error),
        vec![problem("username", FieldProblem::Taken)]
    );

    let error = fx
        .accounts
        .register(registration("bob", Some("alice@EXAMPLE.com"), PASSWORD))
        .unwrap_err();
    assert!(error.is_taken());
    assert_eq!(
        problems(&error),
        vec![problem("email", FieldProblem::Taken)]
    );

    // Case folding is not limited to ASCII (a local part is, for delivery).
    fx.accounts
        .register(registration("Élodie", Some("Elodie@Exémple.fr"), PASSWORD))
        .unwrap();
    let error = fx
        .accounts
        .register(registration("éLODIE", Some("elodie@EXÉMPLE.FR"), PASSWORD))
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![
            problem("email", FieldProblem::Taken),
            problem("username", FieldProblem::Taken),
        ]
    );

    // A taken username and a weak password are both reported.
    let error = fx
        .accounts
        .register(registration("alice", None, "password"))
        .unwrap_err();
    assert!(error.is_taken());
    assert_eq!(
        problems(&error),
        vec![
            problem("password", FieldProblem::WeakPassword),
            problem("username", FieldProblem::Taken),
        ]
    );

    assert_eq!(fx.accounts.directory(Page::default()).unwrap().len(), 2);
    fx.accounts
        .register(registration("bob", Some("bob@example.com"), PASSWORD))
        .unwrap();
}

#[test]
fn accounts_without_email_do_not_collide() {
    let fx = Fixture::new();
    fx.accounts
        .register(registration("alice", None, PASSWORD))
        .unwrap();
    let bob = fx
        .accounts
        .register(registration("bob", None, PASSWORD))
        .unwrap();
    assert_eq!(bob.email, None);
}

#[test]
fn with_activation_required_a_registration_needs_an_email() {
    let fx = Fixture::with_settings(AccountSettings {
        require_activation: true,
    });
    // Refused before the fields are judged: nothing else would help.
    assert!(matches!(
        fx.accounts.register(registration("bad name!", None, "1")),
        Err(UsersError::ActivationNeedsEmail)
    ));
    assert!(matches!(
        fx.accounts.get_by_username("bad name!"),
        Err(UsersError::NotFound)
    ));
    assert!(!fx.user("alice").is_active);
}

#[test]
fn create_user_makes_active_accounts_and_admins_on_request() {
    let fx = Fixture::with_settings(AccountSettings {
        require_activation: true,
    });
    let admin = fx
        .accounts
        .create_user(
            registration("root", None, PASSWORD),
            true,
            &Actor::command_line(),
        )
        .unwrap();
    assert!(admin.is_active && admin.is_staff);
    let plain = fx
        .accounts
        .create_user(
            registration("plain", None, PASSWORD),
            false,
            &Actor::command_line(),
        )
        .unwrap();
    assert!(plain.is_active && !plain.is_staff);
}

// ----------------------------------------------------------- authentication

#[test]
fn require_activation_makes_new_accounts_inactive() {
    let fx = Fixture::with_settings(AccountSettings {
        require_activation: true,
    });
    let user = fx.user("alice");
    assert!(!user.is_active);

    assert!(matches!(
        fx.accounts.authenticate("alice", PASSWORD),
        Err(UsersError::AccountInactive)
    ));
    assert!(matches!(
        fx.accounts.authenticate("alice", OTHER_PASSWORD),
        Err(UsersError::InvalidCredentials)
    ));
    assert_eq!(fx.reload(&user).last_login, None);

    fx.store.set_flags(user.id, Some(true), None).unwrap();
    assert_eq!(
        fx.accounts.authenticate("alice", PASSWORD).unwrap().id,
        user.id
    );
}

#[test]
fn without_activation_new_accounts_are_active() {
    let fx = Fixture::new();
    assert!(fx.user("alice").is_active);
    assert!(fx.accounts.authenticate("alice", PASSWORD).is_ok());
}

#[test]
fn login_by_username_or_email_in_any_case() {
    let fx = Fixture::new();
    let user = fx
        .accounts
        .register(registration("Alice", Some("Alice@Example.com"), PASSWORD))
        .unwrap();
    for login in [
        "Alice",
        "alice",
        "ALICE",
        "Alice@Example.com",
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
    ] {
        let found = fx
            .accounts
            .authenticate(login, PASSWORD)
            .unwrap_or_else(|e| panic!("{login}: {e:?}"));
        assert_eq!(found.id, user.id, "{login}");
    }
}

#[test]
fn a_username_that_is_another_accounts_email_is_refused() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    fx.accounts
        .register(registration("carol@example.org", None, PASSWORD))
        .unwrap();
    for (username, email) in [
        ("Alice@Example.com", None),
        ("alice@ｅxample.com", None),
        ("mallory", Some("Carol@Example.org")),
    ] {
        let error = fx
            .accounts
            .register(registration(username, email, OTHER_PASSWORD))
            .unwrap_err();
        assert!(error.is_taken(), "{username} {email:?}: {error:?}");
    }
    let bob = fx.user("bob");
    let error = fx
        .accounts
        .rename(&bob, "alice@example.com", "new_username")
        .unwrap_err();
    assert!(error.is_taken());
    let update = ProfileUpdate {
        email: Some("carol@example.org".into()),
        ..ProfileUpdate::default()
    };
    let error = fx
        .accounts
        .update_profile(&bob, bob.id, update, &Actor::default())
        .unwrap_err();
    assert!(error.is_taken());
    // One's own email as one's username is fine.
    fx.accounts
        .rename(&alice, "alice@example.com", "new_username")
        .unwrap();
}

#[test]
fn a_username_that_looks_like_another_accounts_email_does_not_block_its_login() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    // Stored before such usernames were refused.
    let mallory = fx
        .store
        .insert(&sesame_users::NewUser {
            username: sesame_users::Username::parse("alice@example.com", "username").unwrap(),
            email: None,
            first_name: String::new(),
            last_name: String::new(),
            password_hash: BcryptHasher::new(4)
                .unwrap()
                .hash(&sesame_users::Password::new(OTHER_PASSWORD, &[]).unwrap())
                .unwrap(),
            is_active: true,
            is_staff: false,
            date_joined: fx.clock.now(),
        })
        .unwrap();

    // Each password finds its own account.
    let found = fx
        .accounts
        .authenticate("Alice@Example.com", PASSWORD)
        .unwrap();
    assert_eq!(found.id, alice.id);
    let found = fx
        .accounts
        .authenticate("alice@example.com", OTHER_PASSWORD)
        .unwrap();
    assert_eq!(found.id, mallory.id);
    assert!(matches!(
        fx.accounts
            .authenticate("alice@example.com", "Wr0ng-Passw0rd"),
        Err(UsersError::InvalidCredentials)
    ));
    assert_eq!(fx.reload(&alice).last_login, Some(fx.clock.now()));
}

#[test]
fn wrong_password_and_unknown_users_are_invalid_credentials() {
    let fx = Fixture::new();
    let user = fx.user("alice");
    for (login, password) in [
        ("alice", OTHER_PASSWORD),
        ("alice", ""),
        ("alice@example.com", "zq7!vr2#klm"),
        ("nobody", PASSWORD),
        ("nobody@example.com", PASSWORD),
        ("", PASSWORD),
    ] {
        assert!(
            matches!(
                fx.accounts.authenticate(login, password),
                Err(UsersError::InvalidCredentials)
            ),
            "{login} / {password}"
        );
    }
    assert_eq!(fx.reload(&user).last_login, None);
}

#[test]
fn authenticate_records_the_login() {
    let fx = Fixture::new();
    let user = fx.user("alice");
    assert_eq!(user.last_login, None);

    fx.clock.advance(Duration::minutes(5));
    let first = fx.clock.now();
    let returned = fx.accounts.authenticate("alice", PASSWORD).unwrap();
    assert_eq!(returned.last_login, Some(first));
    assert_eq!(fx.reload(&user).last_login, Some(first));

    fx.clock.advance(Duration::hours(2));
    fx.accounts
        .authenticate("alice@example.com", PASSWORD)
        .unwrap();
    assert_eq!(
        fx.reload(&user).last_login,
        Some(first + Duration::hours(2))
    );
}

#[test]
fn every_byte_of_a_long_password_counts() {
    let fx = Fixture::new();
    let long: String = "Zq7!vR2#kLm-".repeat(9).chars().take(100).collect();
    let first_72: String = long.chars().take(72).collect();
    assert_eq!(long.len(), 100);

    fx.accounts
        .register(registration("alice", None, &long))
        .unwrap();
    assert!(matches!(
        fx.accounts.authenticate("alice", &first_72),
        Err(UsersError::InvalidCredentials)
    ));
    assert!(fx.accounts.authenticate("alice", &long).is_ok());

    fx.accounts
        .register(registration("bob", None, &first_72))
        .unwrap();
    assert!(matches!(
        fx.accounts.authenticate("bob", &long),
        Err(UsersError::InvalidCredentials)
    ));
    assert!(fx.accounts.authenticate("bob", &first_72).is_ok());
}

#[test]
fn passwords_over_128_characters_are_refused() {
    let fx = Fixture::new();
    let too_long = "Zq7!vR2#".repeat(16) + "x";
    let error = fx
        .accounts
        .register(registration("alice", None, &too_long))
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("password", FieldProblem::WeakPassword)]
    );
    assert_eq!(codes(&error), [("password", "password_too_long")]);
    assert_eq!(params(&error, "password"), [("max", "128".to_owned())]);
}

// ------------------------------------------------------------ who sees what

#[test]
fn non_admins_see_only_themselves() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");

    assert_eq!(fx.accounts.get_for(&alice, alice.id).unwrap().id, alice.id);
    assert!(matches!(
        fx.accounts.get_for(&alice, bob.id),
        Err(UsersError::NotFound)
    ));
    assert!(matches!(
        fx.accounts.get_for(&alice, UserId(999)),
        Err(UsersError::NotFound)
    ));

    let listed = fx.accounts.list_for(&alice, Page::default()).unwrap();
    assert_eq!(
        listed.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![alice.id]
    );
    assert_eq!(
        fx.accounts
            .list_for(&alice, Page::new(Some(1), None))
            .unwrap(),
        vec![]
    );
}

#[test]
fn admins_see_everyone() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let root = fx.admin("root");
    assert!(root.is_staff);

    assert_eq!(fx.accounts.get_for(&root, alice.id).unwrap(), alice);
    assert_eq!(fx.accounts.get_for(&root, bob.id).unwrap(), bob);
    assert!(matches!(
        fx.accounts.get_for(&root, UserId(999)),
        Err(UsersError::NotFound)
    ));

    let ids = |page| {
        fx.accounts
            .list_for(&root, page)
            .unwrap()
            .iter()
            .map(|u| u.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(Page::default()), vec![alice.id, bob.id, root.id]);
    assert_eq!(ids(Page::new(Some(1), Some(1))), vec![bob.id]);
}

#[test]
fn promote_makes_an_admin() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    assert!(!alice.is_staff);

    let promoted = fx
        .accounts
        .promote("ALICE", &Actor::command_line())
        .unwrap();
    assert_eq!(promoted.id, alice.id);
    assert!(promoted.is_staff);
    assert!(fx.reload(&alice).is_staff);
    assert!(!fx.reload(&bob).is_staff);
    assert_eq!(fx.accounts.get_for(&promoted, bob.id).unwrap().id, bob.id);

    assert!(matches!(
        fx.accounts.promote("nobody", &Actor::command_line()),
        Err(UsersError::NotFound)
    ));
}

// ------------------------------------------------------------------ profile

#[test]
fn update_profile_changes_the_given_fields_only() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let updated = fx
        .accounts
        .update_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                first_name: Some("Alice".into()),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(updated.first_name, "Alice");
    assert_eq!(updated.last_name, "");
    assert_eq!(updated.email.as_deref(), Some("alice@example.com"));
    assert_eq!(fx.reload(&alice), updated);

    let updated = fx
        .accounts
        .update_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                last_name: Some("Liddell".into()),
                email: Some("  ALICE@example.com ".into()),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(updated.first_name, "Alice");
    assert_eq!(updated.last_name, "Liddell");
    assert_eq!(updated.email.as_deref(), Some("ALICE@example.com"));
}

#[test]
fn a_user_never_changes_their_own_email_in_one_step() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let change = |password: Option<&str>| ProfileUpdate {
        first_name: Some("Alice".into()),
        email: Some("mallory@evil.test".into()),
        current_password: password.map(str::to_owned),
        ..ProfileUpdate::default()
    };
    for (password, code) in [
        (None, "current_password_required"),
        (Some(""), "current_password_required"),
        (Some(OTHER_PASSWORD), "wrong_password"),
    ] {
        let error = fx
            .accounts
            .update_profile(&alice, alice.id, change(password), &Actor::default())
            .unwrap_err();
        assert_eq!(
            problems(&error),
            vec![problem("current_password", FieldProblem::Invalid)]
        );
        assert_eq!(codes(&error), [("current_password", code)], "{password:?}");
        assert_eq!(fx.reload(&alice), alice, "nothing changed");
    }
    // With the password it becomes a confirmed change, which needs email flows.
    let error = fx
        .accounts
        .update_profile(&alice, alice.id, change(Some(PASSWORD)), &Actor::default())
        .unwrap_err();
    assert!(matches!(error, UsersError::Storage(_)), "{error:?}");
    assert_eq!(fx.reload(&alice), alice, "nothing changed");
}

#[test]
fn an_address_that_only_folds_to_the_stored_one_is_another_mailbox() {
    let fx = Fixture::new();
    let carol = fx
        .accounts
        .register(registration("carol", Some("carol@glass.example"), PASSWORD))
        .unwrap();
    // `ß` folds to `ss`, but `glaß.example` is another domain than `glass.example`.
    let error = fx
        .accounts
        .update_profile(
            &carol,
            carol.id,
            ProfileUpdate {
                email: Some("carol@glaß.example".into()),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap_err();
    assert_eq!(
        codes(&error),
        [("current_password", "current_password_required")]
    );
    assert_eq!(fx.reload(&carol), carol, "nothing changed");
}

#[test]
fn an_admin_changes_another_accounts_email_and_flags_at_once_with_their_password() {
    let fx = Fixture::new();
    let root = fx.admin("root");
    let bob = fx.user("bob");
    let update = |current_password: Option<&str>| ProfileUpdate {
        email: Some("bob@new.example.com".into()),
        is_active: Some(false),
        is_staff: Some(false),
        current_password: current_password.map(str::to_owned),
        ..ProfileUpdate::default()
    };
    for (password, code) in [
        (None, "current_password_required"),
        (Some("not the password"), "wrong_password"),
    ] {
        let error = fx
            .accounts
            .update_profile(&root, bob.id, update(password), &Actor::default())
            .unwrap_err();
        assert_eq!(codes(&error), [("current_password", code)]);
        assert_eq!(fx.reload(&bob), bob, "nothing changed");
    }
    let edit = fx
        .accounts
        .edit_profile(
            &root,
            bob.id,
            update(Some(PASSWORD)),
            AvatarChange::Keep,
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(edit.user.email.as_deref(), Some("bob@new.example.com"));
    assert!(!edit.user.is_active);
    assert_eq!(
        edit.changed,
        ["email", "is_active=false"],
        "is_staff was already false"
    );
    assert!(!edit.email_change_started);
    assert!(matches!(
        fx.accounts.authenticate("bob", PASSWORD),
        Err(UsersError::AccountInactive)
    ));

    // Never their own flags; other users' flags are read-only and ignored.
    let error = fx
        .accounts
        .update_profile(
            &root,
            root.id,
            ProfileUpdate {
                is_active: Some(false),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("is_active", FieldProblem::Invalid)]
    );
    assert_eq!(codes(&error), [("is_active", "own_account")]);
    let alice = fx.user("alice");
    let ignored = fx
        .accounts
        .update_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                is_staff: Some(true),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap();
    assert!(!ignored.is_staff);
    assert!(fx.reload(&root).is_active);
}

#[test]
fn making_another_account_an_admin_or_changing_an_admins_flags_needs_the_password() {
    // A stolen admin token alone must not mint a second admin: that one
    // could move the first one's email and reset its password.
    let fx = Fixture::new();
    let root = fx.admin("root");
    let bob = fx.user("bob");
    let promote = |current_password: Option<&str>| ProfileUpdate {
        is_staff: Some(true),
        current_password: current_password.map(str::to_owned),
        ..ProfileUpdate::default()
    };
    let error = fx
        .accounts
        .update_profile(&root, bob.id, promote(None), &Actor::default())
        .unwrap_err();
    assert_eq!(
        codes(&error),
        [("current_password", "current_password_required")]
    );
    assert!(!fx.reload(&bob).is_staff);
    let promoted = fx
        .accounts
        .update_profile(&root, bob.id, promote(Some(PASSWORD)), &Actor::default())
        .unwrap();
    assert!(promoted.is_staff);
    // Changing an admin's flags needs it too: a stolen admin token alone
    // could otherwise lock every other admin out.
    let flags = |is_staff, is_active, current_password: Option<&str>| ProfileUpdate {
        is_staff,
        is_active,
        current_password: current_password.map(str::to_owned),
        ..ProfileUpdate::default()
    };
    let refused_without_password = |is_staff, is_active| {
        let change = flags(is_staff, is_active, None);
        let error = (fx.accounts)
            .update_profile(&root, bob.id, change, &Actor::default())
            .unwrap_err();
        assert_eq!(
            codes(&error),
            [("current_password", "current_password_required")]
        );
    };
    for (is_staff, is_active) in [(Some(false), None), (None, Some(false))] {
        refused_without_password(is_staff, is_active);
        let bob = fx.reload(&bob);
        assert!(bob.is_staff && bob.is_active);
    }
    // Turning a deactivated admin back on too: it makes a working admin.
    let change = flags(None, Some(false), Some(PASSWORD));
    let locked = (fx.accounts)
        .update_profile(&root, bob.id, change, &Actor::default())
        .unwrap();
    assert!(locked.is_staff && !locked.is_active);
    for again in [false, true] {
        refused_without_password(None, Some(again));
    }
    let change = flags(None, Some(true), Some(PASSWORD));
    let unlocked = (fx.accounts)
        .update_profile(&root, bob.id, change, &Actor::default())
        .unwrap();
    assert!(unlocked.is_active);
    let change = flags(Some(false), None, Some(PASSWORD));
    let demoted = (fx.accounts)
        .update_profile(&root, bob.id, change, &Actor::default())
        .unwrap();
    assert!(!demoted.is_staff && demoted.is_active);
    // No longer an admin: deactivating takes the admin's token alone.
    let change = flags(None, Some(false), None);
    let deactivated = (fx.accounts)
        .update_profile(&root, bob.id, change, &Actor::default())
        .unwrap();
    assert!(!deactivated.is_active);
}

#[test]
fn uploads_are_refused_without_avatars() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let error = fx
        .accounts
        .update_profile_with_avatar(
            &alice,
            alice.id,
            ProfileUpdate::default(),
            AvatarChange::Upload(b"\x89PNG\r\n\x1a\n".to_vec()),
            &Actor::default(),
        )
        .unwrap_err();
    assert_eq!(codes(&error), [("avatar", "avatars_disabled")]);
    assert_eq!(messages_for(&error, "avatar"), ["Avatars are not enabled."]);
    assert_eq!(fx.reload(&alice), alice);
}

#[test]
fn update_profile_refuses_an_email_of_another_account() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    fx.user("bob");

    let error = fx
        .accounts
        .update_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                first_name: Some("f".repeat(151)),
                email: Some("BOB@example.com".into()),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap_err();
    assert!(error.is_taken());
    assert_eq!(
        problems(&error),
        vec![
            problem("email", FieldProblem::Taken),
            problem("first_name", FieldProblem::Invalid),
        ]
    );
    assert_eq!(
        codes(&error),
        [("email", "taken"), ("first_name", "max_length")]
    );
    assert_eq!(fx.reload(&alice), alice);

    let error = fx
        .accounts
        .update_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                email: Some("not-an-email".into()),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("email", FieldProblem::Invalid)]
    );
    assert_eq!(codes(&error), [("email", "invalid_email")]);
    assert_eq!(fx.reload(&alice), alice);
}

#[test]
fn update_profile_keeps_or_removes_the_own_email() {
    let fx = Fixture::new();
    let alice = fx.user("alice");

    let kept = fx
        .accounts
        .update_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                email: Some("ALICE@example.com".into()),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(kept.email.as_deref(), Some("ALICE@example.com"));

    let removed = fx
        .accounts
        .update_profile(
            &alice,
            alice.id,
            ProfileUpdate {
                email: Some(String::new()),
                current_password: Some(PASSWORD.into()),
                ..ProfileUpdate::default()
            },
            &Actor::default(),
        )
        .unwrap();
    assert_eq!(removed.email, None);
    assert_eq!(fx.reload(&alice).email, None);

    // The address is free again.
    fx.accounts
        .register(registration("bob", Some("alice@example.com"), PASSWORD))
        .unwrap();
}

#[test]
fn a_respelling_of_an_address_changed_meanwhile_leaves_the_new_one() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    // A request read the account (`alice`); then a confirmed change moved
    // the address, before that request respelled the old one, which needs
    // no password.
    let moved = ProfileChanges {
        email: Some(Some(Email::parse("alice@new.example", "email").unwrap())),
        ..ProfileChanges::default()
    };
    fx.store.update_profile(alice.id, &moved).unwrap();
    let respelled = ProfileUpdate {
        email: Some("ALICE@example.com".into()),
        ..ProfileUpdate::default()
    };
    (fx.accounts)
        .update_profile(&alice, alice.id, respelled, &Actor::default())
        .unwrap();
    assert_eq!(
        fx.reload(&alice).email.as_deref(),
        Some("alice@new.example")
    );
}

#[test]
fn update_profile_of_someone_else_needs_an_admin() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let root = fx.admin("root");
    let rename = || ProfileUpdate {
        first_name: Some("Robert".into()),
        ..ProfileUpdate::default()
    };

    assert!(matches!(
        fx.accounts
            .update_profile(&alice, bob.id, rename(), &Actor::default()),
        Err(UsersError::NotFound)
    ));
    assert_eq!(fx.reload(&bob).first_name, "");

    let updated = fx
        .accounts
        .update_profile(&root, bob.id, rename(), &Actor::default())
        .unwrap();
    assert_eq!(updated.id, bob.id);
    assert_eq!(fx.reload(&bob).first_name, "Robert");
    assert_eq!(fx.reload(&root).first_name, "");
}

// ------------------------------------------------------ confirming a change

/// A throttle that records the failures it is told of, and holds back the
/// accounts it is told to.
#[derive(Default)]
struct RecordingThrottle {
    failures: std::sync::Mutex<Vec<UserId>>,
    held_back: std::sync::Mutex<Vec<UserId>>,
}

impl sesame_users::ConfirmationThrottle for RecordingThrottle {
    fn locked_for(&self, user: UserId) -> Option<u64> {
        self.held_back.lock().unwrap().contains(&user).then_some(42)
    }

    fn record_failure(&self, user: UserId) {
        self.failures.lock().unwrap().push(user);
    }

    fn record_wrong_code(&self, _: UserId) -> u32 {
        0
    }

    fn record_wrong_password(&self, _: UserId) -> u32 {
        0
    }
}

#[test]
fn wrong_current_passwords_are_counted_and_a_held_back_account_confirms_nothing() {
    let fx = Fixture::new();
    let throttle = Arc::new(RecordingThrottle::default());
    let accounts = fx
        .accounts
        .clone()
        .with_confirmation_throttle(throttle.clone());
    let alice = fx.user("alice");
    let bob = fx.user("bob");

    assert!(accounts.confirm_password(&alice, PASSWORD).is_ok());
    assert!(matches!(
        accounts.confirm_password(&alice, OTHER_PASSWORD),
        Err(UsersError::WrongCurrentPassword)
    ));
    // Every route that confirms goes through the same check.
    assert!(matches!(
        accounts.delete_account(&alice, alice.id, OTHER_PASSWORD, &Actor::default()),
        Err(UsersError::WrongCurrentPassword)
    ));
    assert_eq!(*throttle.failures.lock().unwrap(), vec![alice.id, alice.id]);

    throttle.held_back.lock().unwrap().push(alice.id);
    assert!(matches!(
        accounts.confirm_password(&alice, PASSWORD),
        Err(UsersError::ConfirmationThrottled(42))
    ));
    assert!(matches!(
        accounts.delete_account(&alice, alice.id, PASSWORD, &Actor::default()),
        Err(UsersError::ConfirmationThrottled(42))
    ));
    assert!(accounts.get(alice.id).is_ok());
    assert!(accounts.confirm_password(&bob, PASSWORD).is_ok());
    assert_eq!(throttle.failures.lock().unwrap().len(), 2);
}

/// A throttle that holds every account back from its second question on,
/// as when guesses sent at once lock the account while this one is checked.
#[derive(Default)]
struct LocksWhileChecking(std::sync::atomic::AtomicUsize);

impl sesame_users::ConfirmationThrottle for LocksWhileChecking {
    fn locked_for(&self, _: UserId) -> Option<u64> {
        let asked = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (asked > 0).then_some(7)
    }

    fn record_failure(&self, _: UserId) {}

    fn record_wrong_code(&self, _: UserId) -> u32 {
        0
    }

    fn record_wrong_password(&self, _: UserId) -> u32 {
        0
    }
}

#[test]
fn a_right_password_is_not_answered_once_sibling_guesses_locked_the_account() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let accounts = fx
        .accounts
        .clone()
        .with_confirmation_throttle(Arc::new(LocksWhileChecking::default()));
    assert!(matches!(
        accounts.confirm_password(&alice, PASSWORD),
        Err(UsersError::ConfirmationThrottled(7))
    ));
}

// ----------------------------------------------------------------- deletion

#[test]
fn delete_account_needs_the_current_password() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    assert!(matches!(
        fx.accounts
            .delete_account(&alice, alice.id, OTHER_PASSWORD, &Actor::default()),
        Err(UsersError::WrongCurrentPassword)
    ));
    assert!(fx.accounts.get(alice.id).is_ok());

    let deleted = fx
        .accounts
        .delete_account(&alice, alice.id, PASSWORD, &Actor::default())
        .unwrap();
    assert_eq!(deleted.id, alice.id);
    assert!(matches!(
        fx.accounts.get(alice.id),
        Err(UsersError::NotFound)
    ));
    assert!(matches!(
        fx.accounts.authenticate("alice", PASSWORD),
        Err(UsersError::InvalidCredentials)
    ));
    // The username is free again.
    fx.user("alice");
}

#[test]
fn delete_account_of_someone_else() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let root = fx.admin("root");

    assert!(matches!(
        fx.accounts
            .delete_account(&alice, bob.id, PASSWORD, &Actor::default()),
        Err(UsersError::NotFound)
    ));
    assert!(fx.accounts.get(bob.id).is_ok());

    // The admin confirms with their own password, not the target's.
    fx.accounts
        .set_password(&root, PASSWORD, OTHER_PASSWORD, None, &Actor::default())
        .unwrap();
    let root = fx.reload(&root);
    assert!(matches!(
        fx.accounts
            .delete_account(&root, bob.id, PASSWORD, &Actor::default()),
        Err(UsersError::WrongCurrentPassword)
    ));
    assert!(fx.accounts.get(bob.id).is_ok());
    fx.accounts
        .delete_account(&root, bob.id, OTHER_PASSWORD, &Actor::default())
        .unwrap();
    assert!(matches!(fx.accounts.get(bob.id), Err(UsersError::NotFound)));
    assert!(fx.accounts.get(alice.id).is_ok());
}

#[test]
fn an_admin_s_token_alone_deletes_anyone_but_an_admin() {
    // Seed 002's deletion asks no password: an admin's token alone must not
    // delete every admin, its own included.
    let fx = Fixture::new();
    let root = fx.admin("root");
    let second = fx.admin("second");
    let alice = fx.user("alice");
    assert!(matches!(
        fx.accounts.delete_as(&root, second.id, &Actor::default()),
        Err(UsersError::Forbidden)
    ));
    assert!(fx.accounts.get(second.id).is_ok());
    fx.accounts
        .delete_as(&root, alice.id, &Actor::default())
        .unwrap();
    assert!(matches!(
        fx.accounts.delete_as(&root, root.id, &Actor::default()),
        Err(UsersError::Forbidden)
    ));
    // With the password it can.
    fx.accounts
        .delete_account(&root, second.id, PASSWORD, &Actor::default())
        .unwrap();
    fx.accounts
        .delete_account(&root, root.id, PASSWORD, &Actor::default())
        .unwrap();
    assert!(matches!(
        fx.accounts.get(root.id),
        Err(UsersError::NotFound)
    ));
}

// ----------------------------------------------------------------- password

#[test]
fn set_password_checks_the_current_password() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    assert!(matches!(
        fx.accounts.set_password(
            &alice,
            OTHER_PASSWORD,
            OTHER_PASSWORD,
            None,
            &Actor::default()
        ),
        Err(UsersError::WrongCurrentPassword)
    ));
    assert!(fx.accounts.authenticate("alice", PASSWORD).is_ok());
    assert!(fx.accounts.authenticate("alice", OTHER_PASSWORD).is_err());

    fx.accounts
        .set_password(&alice, PASSWORD, OTHER_PASSWORD, None, &Actor::default())
        .unwrap();
    assert!(matches!(
        fx.accounts.authenticate("alice", PASSWORD),
        Err(UsersError::InvalidCredentials)
    ));
    assert!(fx.accounts.authenticate("alice", OTHER_PASSWORD).is_ok());
}

#[test]
fn a_password_replaced_while_it_was_checked_confirms_nothing() {
    // Someone who knows the password changes it; while bcrypt checks it,
    // the owner takes the account back (a reset writes a new hash), or an
    // admin deactivates it.
    type Change = fn(&InMemoryStore, UserId);
    type IsRefusal = fn(&UsersError) -> bool;
    let changes: [(Change, IsRefusal); 2] = [
        (
            |store, id| {
                let now = FakeClock::new().now();
                let current = store.find_by_id(id).unwrap().unwrap().password_hash;
                (store.change_password(id, &current, "reset-hash", None, now)).unwrap();
            },
            |e| matches!(e, UsersError::WrongCurrentPassword),
        ),
        (
            |store, id| store.set_flags(id, Some(false), None).unwrap(),
            |e| matches!(e, UsersError::AccountInactive),
        ),
    ];
    for (change, is_refusal) in changes {
        let hasher = Arc::new(ChangedWhileVerifying::new());
        let fx = Fixture::with_hasher(AccountSettings::default(), hasher.clone());
        let alice = fx.user("alice");
        let (store, id) = (fx.store.clone(), alice.id);
        hasher.during(move || change(&store, id));
        let changed =
            fx.accounts
                .set_password(&alice, PASSWORD, OTHER_PASSWORD, None, &Actor::default());
        let refused = changed.unwrap_err();
        assert!(is_refusal(&refused), "{refused:?}");
        let stored = fx.reload(&alice).password_hash;
        assert!(
            !hasher.verify(OTHER_PASSWORD, &stored),
            "the thief's password was set"
        );
    }
}

#[test]
fn a_password_check_past_the_hashing_places_is_refused_at_once() {
    // One place: a login holds it while bcrypt runs; every check or hash
    // asked for meanwhile is refused, known account or not, rather than
    // wait (and hold a thread) behind it.
    let hasher = Arc::new(ChangedWhileVerifying::new());
    let fx = Fixture::with_hasher(AccountSettings::default(), hasher.clone());
    fx.user("alice");
    let accounts = fx.accounts.clone().with_hashing_places(1);
    let (checking, checked) = std::sync::mpsc::channel();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    hasher.during(move || {
        checking.send(()).unwrap();
        wait.recv().unwrap();
    });
    let first = {
        let accounts = accounts.clone();
        std::thread::spawn(move || accounts.authenticate("alice", PASSWORD).map(drop))
    };
    checked.recv().unwrap();
    let newcomer = Registration {
        username: "newcomer".into(),
        password: OTHER_PASSWORD.into(),
        ..Registration::default()
    };
    for refused in [
        accounts.authenticate("alice", PASSWORD).map(drop),
        accounts.authenticate("nobody", PASSWORD).map(drop),
        accounts.register(newcomer).map(drop),
    ] {
        assert!(
            matches!(refused, Err(UsersError::Storage(_))),
            "{refused:?}"
        );
    }
    go.send(()).unwrap();
    first.join().unwrap().unwrap();
    accounts.authenticate("alice", PASSWORD).unwrap();
}

#[test]
fn a_reset_while_the_new_password_is_hashed_is_not_overwritten() {
    // Someone who knows the password changes it; while bcrypt hashes the new
    // one, the owner takes the account back with a reset.
    let hasher = Arc::new(ChangedWhileVerifying::new());
    let fx = Fixture::with_hasher(AccountSettings::default(), hasher.clone());
    let alice = fx.user("alice");
    let (store, id) = (fx.store.clone(), alice.id);
    let current = alice.password_hash.clone();
    hasher.during_hash(move || {
        let now = FakeClock::new().now();
        (store.change_password(id, &current, "reset-hash", None, now)).unwrap();
    });
    let changed =
        fx.accounts
            .set_password(&alice, PASSWORD, OTHER_PASSWORD, None, &Actor::default());
    assert!(
        matches!(changed, Err(UsersError::WrongCurrentPassword)),
        "{changed:?}"
    );
    assert_eq!(fx.reload(&alice).password_hash, "reset-hash");
}

#[test]
fn set_password_applies_the_policy_to_new_password() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    for weak in ["short", "password1", "Alice2024!", "12345678901"] {
        let error = fx
            .accounts
            .set_password(&alice, PASSWORD, weak, None, &Actor::default())
            .unwrap_err();
        assert!(
            error
                .field_errors()
                .iter()
                .all(|e| e.field == "new_password" && e.problem == FieldProblem::WeakPassword),
            "{weak:?}: {error:?}"
        );
        assert!(!error.field_errors().is_empty(), "{weak:?}");
    }
    let error = fx
        .accounts
        .set_password(&alice, PASSWORD, "Alice2024!", None, &Actor::default())
        .unwrap_err();
    assert_eq!(
        messages_for(&error, "new_password"),
        vec!["The password is too similar to the username."]
    );
    assert_eq!(codes(&error), [("new_password", "password_too_similar")]);
    assert_eq!(
        params(&error, "new_password"),
        [("attribute", "username".to_owned())]
    );
    assert!(fx.accounts.authenticate("alice", PASSWORD).is_ok());
}

#[test]
fn set_password_revokes_every_other_session() {
    let fx = Fixture::new();
    let sessions = fx.sessions();
    let alice = fx.user("alice");
    let bob = fx.user("bob");

    let kept = sessions
        .start_jwt_session(&alice, ClientInfo::default())
        .unwrap();
    let other_jwt = sessions
        .start_jwt_session(&alice, ClientInfo::default())
        .unwrap();
    let other_opaque = sessions
        .start_opaque_session(&alice, ClientInfo::default(), Revival::Never)
        .unwrap();
    let bobs = sessions
        .start_jwt_session(&bob, ClientInfo::default())
        .unwrap();

    fx.clock.advance(Duration::minutes(1));
    fx.accounts
        .set_password(
            &alice,
            PASSWORD,
            OTHER_PASSWORD,
            Some(&kept.session_id),
            &Actor::default(),
        )
        .unwrap();

    let me = sessions.authenticate(&kept.access).unwrap();
    assert_eq!(me.user.id, alice.id);
    assert_eq!(me.session_id, kept.session_id);
    assert!(matches!(
        sessions.authenticate(&other_jwt.access),
        Err(TokensError::SessionRevoked)
    ));
    assert!(matches!(
        sessions.refresh(&other_jwt.refresh),
        Err(TokensError::SessionRevoked)
    ));
    assert!(matches!(
        sessions.authenticate(&other_opaque),
        Err(TokensError::SessionRevoked)
    ));
    assert_eq!(sessions.authenticate(&bobs.access).unwrap().user.id, bob.id);
    let live: Vec<_> = sessions
        .list_sessions(alice.id)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![kept.session_id.clone()]);

    // Without a session to keep, every one ends.
    let alice = fx.reload(&alice);
    fx.accounts
        .set_password(&alice, OTHER_PASSWORD, PASSWORD, None, &Actor::default())
        .unwrap();
    assert!(matches!(
        sessions.authenticate(&kept.access),
        Err(TokensError::SessionRevoked)
    ));
    assert!(sessions.authenticate(&bobs.access).is_ok());
}

#[test]
fn a_refused_password_change_revokes_nothing() {
    let fx = Fixture::new();
    let sessions = fx.sessions();
    let alice = fx.user("alice");
    let pair = sessions
        .start_jwt_session(&alice, ClientInfo::default())
        .unwrap();

    assert!(fx
        .accounts
        .set_password(
            &alice,
            OTHER_PASSWORD,
            OTHER_PASSWORD,
            None,
            &Actor::default()
        )
        .is_err());
    assert!(fx
        .accounts
        .set_password(&alice, PASSWORD, "password", None, &Actor::default())
        .is_err());
    assert!(sessions.authenticate(&pair.access).is_ok());
}

// ----------------------------------------------------------------- username

#[test]
fn set_username_checks_the_current_password() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    assert!(matches!(
        fx.accounts
            .set_username(&alice, OTHER_PASSWORD, "alicia", &Actor::default()),
        Err(UsersError::WrongCurrentPassword)
    ));
    assert_eq!(fx.reload(&alice).username, "alice");

    fx.accounts
        .set_username(&alice, PASSWORD, "Alicia", &Actor::default())
        .unwrap();
    assert_eq!(fx.reload(&alice).username, "Alicia");
    assert!(matches!(
        fx.accounts.authenticate("alice", PASSWORD),
        Err(UsersError::InvalidCredentials)
    ));
    assert_eq!(
        fx.accounts.authenticate("alicia", PASSWORD).unwrap().id,
        alice.id
    );
    // The old name is free again.
    fx.accounts
        .register(registration("alice", None, PASSWORD))
        .unwrap();
}

#[test]
fn set_username_refuses_taken_and_malformed_names() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    fx.user("Bob");

    let error = fx
        .accounts
        .set_username(&alice, PASSWORD, "BOB", &Actor::default())
        .unwrap_err();
    assert!(error.is_taken());
    assert_eq!(
        problems(&error),
        vec![problem("new_username", FieldProblem::Taken)]
    );
    assert_eq!(codes(&error), [("new_username", "taken")]);

    let error = fx
        .accounts
        .set_username(&alice, PASSWORD, "b o b", &Actor::default())
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("new_username", FieldProblem::Invalid)]
    );
    assert_eq!(codes(&error), [("new_username", "invalid_username")]);
    let error = fx
        .accounts
        .set_username(&alice, PASSWORD, "", &Actor::default())
        .unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("new_username", FieldProblem::Blank)]
    );
    assert_eq!(fx.reload(&alice).username, "alice");

    // Changing only the case of one's own name is fine.
    fx.accounts
        .set_username(&alice, PASSWORD, "ALICE", &Actor::default())
        .unwrap();
    assert_eq!(fx.reload(&alice).username, "ALICE");
}

#[test]
fn rename_reports_on_the_given_field() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    fx.user("bob");
    let error = fx.accounts.rename(&alice, "Bob", "username").unwrap_err();
    assert_eq!(
        problems(&error),
        vec![problem("username", FieldProblem::Taken)]
    );
    fx.accounts.rename(&alice, "carol", "username").unwrap();
    assert_eq!(fx.accounts.get_by_username("CAROL").unwrap().id, alice.id);
}

#[test]
fn operator_changes_are_audited_with_their_actor() {
    let fx = Fixture::new();
    let audit = Arc::new(sesame_testkit::InMemoryAudit::new());
    let accounts = fx.accounts.clone().with_audit(audit.clone());
    let cli = Actor::command_line();
    let ops = accounts
        .create_user(registration("ops", None, PASSWORD), false, &cli)
        .unwrap();
    accounts.promote("ops", &cli).unwrap();
    accounts.set_active("ops", false, &cli).unwrap();
    assert!(accounts.promote("nobody", &cli).is_err());

    let events = audit.events();
    let recorded: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.detail.as_deref()))
        .collect();
    let detail = |change: &str| format!("user {}: {change}", ops.id);
    assert_eq!(
        recorded,
        [
            (
                "admin_created_user",
                Some(detail("is_staff=false").as_str())
            ),
            ("admin_changed_user", Some(detail("is_staff=true").as_str())),
            (
                "admin_changed_user",
                Some(detail("is_active=false").as_str())
            ),
        ],
        "a refused change records nothing"
    );
    assert!(events.iter().all(|e| e.user_id == Some(ops.id)
        && e.ip.is_none()
        && e.user_agent.as_deref() == Some("sesame command line")));

    let admin = Actor {
        user: Some(UserId(99)),
        ip: Some("198.51.100.7".into()),
        user_agent: None,
    };
    accounts.set_active("ops", true, &admin).unwrap();
    let last = audit.events().pop().unwrap();
    assert_eq!(
        last.user_id,
        Some(UserId(99)),
        "the acting admin, when there is one"
    );
    assert_eq!(last.ip.as_deref(), Some("198.51.100.7"));
}

#[test]
fn password_and_username_changes_are_audited_once_they_succeed() {
    let fx = Fixture::new();
    let audit = Arc::new(sesame_testkit::InMemoryAudit::new());
    let accounts = fx.accounts.clone().with_audit(audit.clone());
    let alice = fx.user("alice");
    let actor = Actor {
        user: Some(alice.id),
        ip: Some("192.0.2.8".into()),
        user_agent: None,
    };
    assert!(accounts
        .set_password(&alice, OTHER_PASSWORD, OTHER_PASSWORD, None, &actor)
        .is_err());
    accounts
        .set_password(&alice, PASSWORD, OTHER_PASSWORD, None, &actor)
        .unwrap();
    let alice = fx.reload(&alice);
    assert!(accounts
        .set_username(&alice, OTHER_PASSWORD, "bad name!", &actor)
        .is_err());
    accounts
        .set_username(&alice, OTHER_PASSWORD, "alicia", &actor)
        .unwrap();
    assert_eq!(audit.kinds(), ["password_changed", "username_changed"]);
    assert!(audit
        .events()
        .iter()
        .all(|e| e.user_id == Some(alice.id) && e.ip.as_deref() == Some("192.0.2.8")));
}

#[test]
fn admin_edits_and_deletions_are_audited_once_they_succeed() {
    let fx = Fixture::new();
    let audit = Arc::new(sesame_testkit::InMemoryAudit::new());
    let accounts = fx.accounts.clone().with_audit(audit.clone());
    let alice = fx.user("alice");
    let bob = fx.user("bob");
    let carol = fx.user("carol");
    let root = fx.admin("root");
    let by = |user: &User| Actor {
        user: Some(user.id),
        ip: Some("203.0.113.4".into()),
        user_agent: Some("tests".into()),
    };
    let rename = |name: &str| ProfileUpdate {
        first_name: Some(name.into()),
        ..ProfileUpdate::default()
    };

    accounts
        .update_profile(&alice, alice.id, rename("Alice"), &by(&alice))
        .unwrap();
    assert!(accounts
        .update_profile(&alice, bob.id, rename("Robert"), &by(&alice))
        .is_err());
    assert!(accounts
        .update_profile(&root, bob.id, rename(&"x".repeat(151)), &by(&root))
        .is_err());
    assert!(
        audit.kinds().is_empty(),
        "own edits and refusals record nothing"
    );

    accounts
        .update_profile(&root, bob.id, rename("Robert"), &by(&root))
        .unwrap();
    accounts
        .update_profile(&root, bob.id, ProfileUpdate::default(), &by(&root))
        .unwrap();

    assert!(accounts
        .delete_account(&alice, alice.id, OTHER_PASSWORD, &by(&alice))
        .is_err());
    assert!(matches!(
        accounts.delete_as(&alice, carol.id, &by(&alice)),
        Err(UsersError::Forbidden)
    ));
    accounts
        .delete_account(&alice, alice.id, PASSWORD, &by(&alice))
        .unwrap();
    accounts
        .delete_account(&root, bob.id, PASSWORD, &by(&root))
        .unwrap();
    accounts.delete_as(&carol, carol.id, &by(&carol)).unwrap();
    assert!(matches!(
        accounts.delete_as(&root, carol.id, &by(&root)),
        Err(UsersError::NotFound)
    ));

    let events = audit.events();
    let recorded: Vec<(&str, Option<UserId>, Option<&str>)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.user_id, e.detail.as_deref()))
        .collect();
    let on_bob = |change: &str| format!("user {}: {change}", bob.id);
    let (robert, nothing) = (on_bob("first_name"), on_bob("nothing"));
    let (alice_id, bob_id) = (format!("user {}", alice.id), format!("user {}", bob.id));
    assert_eq!(
        recorded,
        [
            ("admin_changed_user", Some(root.id), Some(robert.as_str())),
            ("admin_changed_user", Some(root.id), Some(nothing.as_str())),
            ("account_deleted", Some(alice.id), Some(alice_id.as_str())),
            ("admin_deleted_user", Some(root.id), Some(bob_id.as_str())),
            ("account_deleted", Some(carol.id), Some("user carol")),
        ]
    );
    assert!(events.iter().all(
        |e| e.ip.as_deref() == Some("203.0.113.4") && e.user_agent.as_deref() == Some("tests")
    ));
}

#[test]
fn only_admins_read_the_audit_log() {
    let fx = Fixture::new();
    let alice = fx.user("alice");
    let root = fx.admin("root");
    let page = Page::new(None, None);
    assert!(
        fx.accounts
            .audit_entries(&root, None, None, page)
            .unwrap()
            .is_empty(),
        "no audit log: nothing to read"
    );

    let audit = Arc::new(sesame_testkit::InMemoryAudit::new());
    let accounts = fx.accounts.clone().with_audit(audit.clone());
    let by_root = Actor {
        user: Some(root.id),
        ip: None,
        user_agent: None,
    };
    accounts.set_active("alice", false, &by_root).unwrap();
    accounts.set_active("alice", true, &by_root).unwrap();
    assert!(matches!(
        accounts.audit_entries(&alice, None, None, page),
        Err(UsersError::Forbidden)
    ));
    assert!(matches!(
        accounts.may_read_audit(&alice),
        Err(UsersError::Forbidden)
    ));
    assert!(accounts.may_read_audit(&root).is_ok());
    let entries = accounts
        .audit_entries(&root, Some(root.id), Some("admin_changed_user"), page)
        .unwrap();
    let details: Vec<_> = entries
        .iter()
        .map(|entry| entry.event.detail.clone().unwrap_or_default())
        .collect();
    let detail = |change: &str| format!("user {}: {change}", alice.id);
    assert_eq!(
        details,
        [detail("is_active=true"), detail("is_active=false")],
        "newest first"
    );
}
