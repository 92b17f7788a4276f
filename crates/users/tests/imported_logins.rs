//! Accounts imported with another system's password hash (issue 19): they
//! log in with their old password, and that first login replaces the hash
//! by Sesame's own.

use std::sync::Arc;

use sesame_kernel::{Clock, UserId};
use sesame_testkit::{FakeClock, InMemoryStore};
use sesame_users::{
    accept_hash, AccountService, AccountSettings, BcryptHasher, HashFormat, HashOrigin,
    ImportRecord, Password, PasswordHasher, UserRepository, UsersError,
};

/// `pbkdf2_sha256` at 1,000 iterations by Django's `make_password`
/// (tests/fixtures/import/hashes.json) and its password.
const DJANGO_HASH: &str =
    "pbkdf2_sha256$1000$MjtPTim0OGJs6EOG8dPXU9$p8b4E0VXhs7RY9Lms993Hntfw4IRt+Wbx0xzx+drjG4=";
const DJANGO_PASSWORD: &str = "Pbkdf2-sha256-pass";

fn service() -> (Arc<InMemoryStore>, AccountService, Arc<BcryptHasher>) {
    let store = Arc::new(InMemoryStore::new());
    let hasher = Arc::new(BcryptHasher::new(4).unwrap());
    let accounts = AccountService::new(
        store.clone(),
        hasher.clone(),
        Arc::new(FakeClock::new()),
        AccountSettings::default(),
    );
    (store, accounts, hasher)
}

fn import(store: &InMemoryStore, username: &str, hash: Option<&str>, active: bool) -> UserId {
    import_from(HashOrigin::Django, store, username, hash, active)
}

fn import_from(
    origin: HashOrigin,
    store: &InMemoryStore,
    username: &str,
    hash: Option<&str>,
    active: bool,
) -> UserId {
    let record = ImportRecord {
        source_ref: "line 1".into(),
        username: username.into(),
        password_hash: hash.map(str::to_owned),
        is_active: active,
        ..ImportRecord::default()
    };
    let account = record.check(origin, FakeClock::new().now()).unwrap();
    store.insert(&account.user).unwrap().id
}

#[test]
fn first_login_replaces_the_imported_hash_and_the_second_uses_it() {
    let (store, accounts, hasher) = service();
    let id = import(&store, "ada", Some(DJANGO_HASH), true);
    assert!(hasher.needs_rehash(DJANGO_HASH));

    let first = accounts.authenticate("ada", DJANGO_PASSWORD).unwrap();
    let stored = store.find_by_id(id).unwrap().unwrap().password_hash;
    assert_eq!(first.password_hash, stored);
    assert_eq!(HashFormat::of(&stored), Some(HashFormat::Sesame));
    assert!(!hasher.needs_rehash(&stored));

    let second = accounts.authenticate("ada", DJANGO_PASSWORD).unwrap();
    assert_eq!(second.password_hash, stored, "not re-hashed twice");
    assert!(matches!(
        accounts.authenticate("ada", "Pbkdf2-sha256-pasS"),
        Err(UsersError::InvalidCredentials)
    ));
}

#[test]
fn a_bcrypt_hash_that_read_only_72_bytes_is_not_replaced_by_one_of_all_that_was_typed() {
    // Plain bcrypt reads a password's first 72 bytes: whoever knows them
    // logs in with any ending, and a hash of the whole would then lock out
    // the owner's own ending.
    let (store, accounts, _) = service();
    let first_72 = "correct horse battery staple ".repeat(3)[..72].to_owned();
    let owners = format!("{first_72} and the owner's ending");
    let hash = bcrypt::hash_with_salt(&owners, 4, [7; 16])
        .unwrap()
        .to_string();
    let id = import_from(HashOrigin::Other, &store, "long", Some(&hash), true);
    accounts
        .authenticate("long", &format!("{first_72}-any ending"))
        .unwrap();
    assert_eq!(store.find_by_id(id).unwrap().unwrap().password_hash, hash);
    accounts.authenticate("long", &owners).unwrap();
    assert_eq!(store.find_by_id(id).unwrap().unwrap().password_hash, hash);
    // Typed whole, a shorter password's hash is replaced as any other.
    let short = "correct horse battery staple";
    let hash = bcrypt::hash_with_salt(short, 4, [7; 16])
        .unwrap()
        .to_string();
    let id = import_from(HashOrigin::Other, &store, "short", Some(&hash), true);
    accounts.authenticate("short", short).unwrap();
    let stored = store.find_by_id(id).unwrap().unwrap().password_hash;
    assert_eq!(HashFormat::of(&stored), Some(HashFormat::Sesame));
}

#[test]
fn a_wrong_password_leaves_the_imported_hash_alone() {
    let (store, accounts, _) = service();
    let id = import(&store, "ada", Some(DJANGO_HASH), true);
    assert!(matches!(
        accounts.authenticate("ada", "not the password"),
        Err(UsersError::InvalidCredentials)
    ));
    assert_eq!(
        store.find_by_id(id).unwrap().unwrap().password_hash,
        DJANGO_HASH
    );
}

/// Sesame's hasher, except that the owner resets the password while a
/// login's password is being checked.
struct ResetWhileChecking {
    inner: BcryptHasher,
    store: Arc<InMemoryStore>,
    reset_to: String,
}

impl PasswordHasher for ResetWhileChecking {
    fn hash(&self, password: &sesame_users::Password) -> Result<String, UsersError> {
        self.inner.hash(password)
    }

    fn verify(&self, candidate: &str, stored_hash: &str) -> bool {
        let verified = self.inner.verify(candidate, stored_hash);
        let owner = self.store.find_by_username("ada").unwrap().unwrap();
        let now = FakeClock::new().now();
        self.store
            .change_password(owner.id, &owner.password_hash, &self.reset_to, None, now)
            .unwrap();
        verified
    }

    fn needs_rehash(&self, stored_hash: &str) -> bool {
        self.inner.needs_rehash(stored_hash)
    }

    fn spend_verify_time(&self, candidate: &str) {
        self.inner.spend_verify_time(candidate);
    }
}

#[test]
fn a_login_does_not_write_the_old_password_back_over_a_reset() {
    // The old (imported, perhaps leaked) password passes its check just as
    // the owner resets it: the login is refused and the reset stands.
    let store = Arc::new(InMemoryStore::new());
    let id = import(&store, "ada", Some(DJANGO_HASH), true);
    let inner = BcryptHasher::new(4).unwrap();
    let reset_to = inner
        .hash(&sesame_users::Password::new("The-new-one-42", &[]).unwrap())
        .unwrap();
    let hasher = ResetWhileChecking {
        inner,
        store: store.clone(),
        reset_to: reset_to.clone(),
    };
    let accounts = AccountService::new(
        store.clone(),
        Arc::new(hasher),
        Arc::new(FakeClock::new()),
        AccountSettings::default(),
    );
    assert!(matches!(
        accounts.authenticate("ada", DJANGO_PASSWORD),
        Err(UsersError::InvalidCredentials)
    ));
    let stored = store.find_by_id(id).unwrap().unwrap();
    assert_eq!(stored.password_hash, reset_to);
    assert_eq!(stored.last_login, None);
}

#[test]
fn an_inactive_imported_account_is_not_re_hashed() {
    let (store, accounts, _) = service();
    let id = import(&store, "ada", Some(DJANGO_HASH), false);
    assert!(matches!(
        accounts.authenticate("ada", DJANGO_PASSWORD),
        Err(UsersError::AccountInactive)
    ));
    assert_eq!(
        store.find_by_id(id).unwrap().unwrap().password_hash,
        DJANGO_HASH
    );
}

#[test]
fn an_account_without_a_usable_password_cannot_log_in() {
    let (store, accounts, _) = service();
    import(&store, "ivy", None, true);
    for attempt in [
        "",
        "!",
        accept_hash(None, HashOrigin::Other).unwrap().as_str(),
    ] {
        assert!(accounts.authenticate("ivy", attempt).is_err());
    }
}

#[test]
fn sesames_own_hash_at_another_cost_is_replaced_at_the_configured_one() {
    let (store, accounts, hasher) = service();
    let password = "Exported-at-cost-5!";
    let exported = BcryptHasher::new(5)
        .unwrap()
        .hash(&Password::new(password, &[]).unwrap())
        .unwrap();
    // What the rehash is recorded as coming from.
    assert_eq!(
        HashFormat::of(&exported).map(HashFormat::name),
        Some("sesame")
    );
    let id = import_from(HashOrigin::Other, &store, "ada", Some(&exported), true);

    let user = accounts.authenticate("ada", password).unwrap();
    let stored = store.find_by_id(id).unwrap().unwrap().password_hash;
    assert_eq!(user.password_hash, stored);
    assert!(
        stored.starts_with("$bcrypt-sha256$v=2,t=2b,r=4$"),
        "{stored}"
    );
    assert!(!hasher.needs_rehash(&stored));
    assert!(accounts.authenticate("ada", password).is_ok());
}

#[test]
fn sesames_older_unkeyed_hash_is_replaced_by_a_keyed_one_at_the_next_login() {
    // The fixtures' passlib bcrypt_sha256 version 1 hash, in the framing
    // Sesame wrote before its hashes were keyed: the same construction,
    // bcrypt over the base64 SHA-256 of the password.
    let (unkeyed, password) = (
        "bcrypt_sha256$$2b$04$lOnFJ6yh0hPCHgVqiYLzkuzgKw6leOhTyL4aolhiyCheDRqFCYecG",
        "Passlib-bcrypt-sha256-v1",
    );
    let (store, accounts, hasher) = service();
    assert_eq!(
        HashFormat::of(unkeyed).map(HashFormat::name),
        Some("sesame unkeyed")
    );
    assert!(hasher.needs_rehash(unkeyed));
    let id = import_from(HashOrigin::Other, &store, "ada", Some(unkeyed), true);

    assert!(accounts
        .authenticate("ada", "Passlib-bcrypt-sha256-v2")
        .is_err());
    assert_eq!(
        store.find_by_id(id).unwrap().unwrap().password_hash,
        unkeyed
    );
    accounts.authenticate("ada", password).unwrap();
    let stored = store.find_by_id(id).unwrap().unwrap().password_hash;
    assert_eq!(HashFormat::of(&stored), Some(HashFormat::Sesame));
    assert!(!hasher.needs_rehash(&stored));
    assert!(accounts.authenticate("ada", password).is_ok());
}

#[test]
fn a_stored_hash_past_the_bounds_never_logs_in_and_is_left_alone() {
    let (store, accounts, _) = service();
    // Stored before the bounds existed: an import now refuses it. Asking
    // for 4 TiB, it would abort the process if it were computed.
    let hostile = "$argon2id$v=19$m=4294967295,t=1,p=1$41odSk1X8UcAKWL6C8tceg$ixRUjgUSPxHhSBFFLvKIhzje6gbxYZNqV6LQl4fIoCI";
    let message = accept_hash(Some(hostile), HashOrigin::Other).unwrap_err();
    assert!(
        message.starts_with("password hash out of bounds"),
        "{message}"
    );
    let record = ImportRecord {
        username: "eve".into(),
        is_active: true,
        ..ImportRecord::default()
    };
    let mut account = record
        .check(HashOrigin::Other, FakeClock::new().now())
        .unwrap();
    account.user.password_hash = hostile.to_owned();
    let id = store.insert(&account.user).unwrap().id;

    assert!(matches!(
        accounts.authenticate("eve", "Fastapi-argon2-pass"),
        Err(UsersError::InvalidCredentials)
    ));
    assert_eq!(
        store.find_by_id(id).unwrap().unwrap().password_hash,
        hostile
    );
}
