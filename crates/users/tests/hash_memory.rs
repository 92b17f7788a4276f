//! Checks of memory-hard imported hashes share one memory budget: a burst of
//! logins to an account imported with argon2 takes at most two checks'
//! worth of memory, however many threads run them.
//!
//! The allocator below counts every allocation of this test binary: keep
//! this its only test, or another one's allocations would count too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sesame_kernel::Clock;
use sesame_testkit::{FakeClock, InMemoryStore};
use sesame_users::{
    AccountService, AccountSettings, BcryptHasher, HashOrigin, ImportRecord, UserRepository,
    UsersError,
};

/// The system allocator, counting the bytes live and the most ever live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = System.alloc(layout);
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(live, Ordering::SeqCst);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        System.dealloc(pointer, layout);
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1 << 20;

#[test]
fn a_burst_of_logins_to_an_argon2_account_takes_at_most_two_checks_worth_of_memory() {
    // 200 MiB, one pass: within the import bounds (256 MiB).
    let params = Params::new(200 * 1024, 1, 1, None).unwrap();
    let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(b"moved-in", &salt)
        .unwrap()
        .to_string();
    let store = Arc::new(InMemoryStore::new());
    let record = ImportRecord {
        source_ref: "line 1".into(),
        username: "ada".into(),
        password_hash: Some(hash),
        is_active: true,
        ..ImportRecord::default()
    };
    let account = record
        .check(HashOrigin::Other, FakeClock::new().now())
        .unwrap();
    store.insert(&account.user).unwrap();
    let accounts = AccountService::new(
        store,
        Arc::new(BcryptHasher::new(4).unwrap()),
        Arc::new(FakeClock::new()),
        AccountSettings::default(),
    );
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let refused = accounts.authenticate("ada", "a guess");
                assert!(matches!(refused, Err(UsersError::InvalidCredentials)));
            });
        }
    });
    let peak = PEAK.load(Ordering::SeqCst) - before;
    // Two checks of 200 MiB fit the budget of 512 MiB; a third waits.
    assert!(
        peak > 350 * MIB,
        "the checks ran one at a time: {} MiB",
        peak / MIB
    );
    assert!(
        peak < 450 * MIB,
        "four checks held {} MiB at once",
        peak / MIB
    );
}
