//! Password hashes made by the systems accounts are imported from, and the
//! records an import brings (issue 19, "Moving in").
//!
//! Every format is a framing around a well-kept implementation: RustCrypto's
//! `pbkdf2`, `argon2` (through `password-hash`), `scrypt`, and the `bcrypt`
//! crate. Nothing here is hand-written crypto; the framings are read, and the
//! derived keys compared in constant time.

use std::borrow::Cow;
use std::sync::{Condvar, Mutex, PoisonError};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use password_hash::{PasswordHash, PasswordVerifier};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use sesame_kernel::{is_storable, Timestamp, UserId};

use crate::hashing::{keyed_prehash, salt_of, unkeyed_prehash};
use crate::{Email, NewUser, Username};

/// Sesame's own hashes, passlib's `bcrypt_sha256`: version 2 is bcrypt
/// over the base64 HMAC-SHA256 of the password keyed with the salt
/// (`$bcrypt-sha256$v=2,t=2b,r=12$<salt>$<digest>`), version 1 over its
/// plain SHA-256 (`$bcrypt-sha256$2b,12$<salt>$<digest>`).
pub(crate) const OWN_PREFIX: &str = "$bcrypt-sha256$";

/// Sesame's hashes before they were keyed: bcrypt over the base64 SHA-256
/// of the password. They still verify, and are replaced at the next login.
pub(crate) const UNKEYED_PREFIX: &str = "bcrypt_sha256$";

/// How an imported Django `bcrypt_sha256$` hash is kept: Django's framing is
/// spelled like Sesame's own but hashes the hex SHA-256, so it gets a prefix
/// of its own on the way in (the hash itself is kept as it is).
const DJANGO_BCRYPT_SHA256: &str = "django_bcrypt_sha256$";

/// The stored hash of an account without a usable password (Django's mark).
pub const UNUSABLE_PASSWORD: &str = "!";

// The bounds of the work a stored hash may ask of one password check. A
// hash past them is refused on import and never verifies (the check costs
// what an unknown user's does instead): one login attempt, by anyone who
// knows a username, must not allocate gigabytes or hold a hashing thread for
// minutes. Each leaves room above what the source systems make by default
// (docs/moving-in.md).

/// The highest bcrypt cost, in every bcrypt framing: 12 is the default of
/// Django, passlib, pwdlib and Sesame, and each step doubles the work.
/// Sesame's own hashes are accepted up to the configured cost when it is
/// higher.
pub(crate) const MAX_BCRYPT_COST: u32 = 16;

/// PBKDF2 iterations: Django 6.1 makes 1,500,000 (about a fifth more each
/// release), passlib 29,000; fewer than 1,000 is no protection at all. At
/// the top, one check holds a hashing thread for seconds.
const PBKDF2_ITERATIONS: std::ops::RangeInclusive<u32> = 1_000..=3_000_000;

/// Argon2 memory in KiB (256 MiB): Django uses 102,400, argon2-cffi, pwdlib
/// and passlib 65,536.
const MAX_ARGON2_MEMORY_KIB: u32 = 262_144;

/// Argon2 passes: Django uses 2, argon2-cffi 3.
const MAX_ARGON2_PASSES: u32 = 16;

/// Argon2 lanes: Django uses 8, argon2-cffi 4.
const MAX_ARGON2_LANES: u32 = 16;

/// scrypt memory, `128·r·(N + p)` bytes (256 MiB): Django uses 16 MiB
/// (N = 2^14, r = 8, p = 5), passlib 64 MiB (N = 2^16, r = 8, p = 1).
const MAX_SCRYPT_MEMORY: u128 = 256 << 20;

/// scrypt parallelism (run one after the other here): Django 5, passlib 1.
const MAX_SCRYPT_P: u32 = 16;
/// The largest scrypt block size: its first PBKDF2 pass makes 128·r·p
/// bytes, hashing the salt again for every 32 (Django uses 8).
const MAX_SCRYPT_R: u32 = 32;
/// The longest salt of a PBKDF2 or scrypt hash (Django's are 22
/// characters, passlib's 16 bytes): each block of work hashes it again.
const MAX_SALT_BYTES: u64 = 256;
/// The longest scrypt key (Django's is 64 bytes).
const MAX_SCRYPT_KEY_BYTES: u64 = 256;

/// A password hash format Sesame accepts on import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// Sesame's own, passlib's `bcrypt_sha256` version 2 (see [`BcryptHasher`](crate::BcryptHasher)).
    Sesame,
    /// Sesame's own before they were keyed: `bcrypt_sha256$`, bcrypt over
    /// the base64 SHA-256 of the password.
    SesameUnkeyed,
    /// passlib's `bcrypt_sha256` version 1: `$bcrypt-sha256$2b,12$...`,
    /// bcrypt over the base64 SHA-256 of the password.
    PasslibBcryptSha256V1,
    /// Plain bcrypt: `$2a$`, `$2b$`, `$2y$`.
    Bcrypt,
    /// Django's `pbkdf2_sha256$iterations$salt$hash`.
    DjangoPbkdf2Sha256,
    /// Django's `pbkdf2_sha1$iterations$salt$hash`.
    DjangoPbkdf2Sha1,
    /// Django's `bcrypt_sha256$` (bcrypt over the hex SHA-256), kept as
    /// `django_bcrypt_sha256$`.
    DjangoBcryptSha256,
    /// Django's `bcrypt$` (plain bcrypt).
    DjangoBcrypt,
    /// Django's `argon2$argon2id$...` and `argon2$argon2i$...`.
    DjangoArgon2,
    /// Django's `scrypt$N$salt$r$p$hash`.
    DjangoScrypt,
    /// PHC `$argon2id$` and `$argon2i$` (argon2-cffi, pwdlib, passlib).
    Argon2,
    /// passlib's `$pbkdf2-sha256$rounds$salt$hash` (adapted base64).
    PasslibPbkdf2Sha256,
    /// No usable password (`!...`): the account must reset it.
    Unusable,
}

/// Where a record comes from, for the one ambiguous spelling: a
/// `bcrypt_sha256$` hash is Django's in a Django table and Sesame's own
/// older unkeyed one in a JSONL file (which older versions of `sesame
/// export jsonl` wrote, and this one for accounts that kept it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashOrigin {
    /// A Django `auth_user` table.
    Django,
    /// Anything else (fastapi-users, JSONL).
    Other,
}

impl HashFormat {
    /// A short name for reports and the audit log (never the hash).
    pub fn name(self) -> &'static str {
        match self {
            HashFormat::Sesame => "sesame",
            HashFormat::SesameUnkeyed => "sesame unkeyed",
            HashFormat::PasslibBcryptSha256V1 => "passlib bcrypt-sha256 v1",
            HashFormat::Bcrypt => "bcrypt",
            HashFormat::DjangoPbkdf2Sha256 => "django pbkdf2_sha256",
            HashFormat::DjangoPbkdf2Sha1 => "django pbkdf2_sha1",
            HashFormat::DjangoBcryptSha256 => "django bcrypt_sha256",
            HashFormat::DjangoBcrypt => "django bcrypt",
            HashFormat::DjangoArgon2 => "django argon2",
            HashFormat::DjangoScrypt => "django scrypt",
            HashFormat::Argon2 => "argon2",
            HashFormat::PasslibPbkdf2Sha256 => "passlib pbkdf2-sha256",
            HashFormat::Unusable => "unusable",
        }
    }

    /// How many bytes of a password the format reads (plain bcrypt, the
    /// rest unread), if it reads them all.
    pub fn reads_at_most(self) -> Option<usize> {
        matches!(self, HashFormat::Bcrypt | HashFormat::DjangoBcrypt).then_some(72)
    }

    /// The format of a stored hash, if it is one Sesame knows, well formed
    /// (its parameters read, its salt and key decode) and within the bounds
    /// of work a check may take.
    pub fn of(stored: &str) -> Option<HashFormat> {
        Verifier::parse(stored)
            .filter(|v| v.out_of_bounds(false).is_none())
            .map(|v| v.format())
    }
}

/// Turns a hash as the source system stored it into the hash Sesame keeps,
/// without re-hashing: `None` (no password) becomes the unusable mark, a
/// Django `bcrypt_sha256$` gets its own prefix, everything else is kept as
/// it is.
///
/// # Errors
/// A message (never showing the hash) when the format is unknown or
/// malformed, or its parameters ask for more (or less) work than the bounds.
pub fn accept_hash(raw: Option<&str>, origin: HashOrigin) -> Result<String, String> {
    let Some(raw) = raw else {
        return Ok(UNUSABLE_PASSWORD.to_owned());
    };
    let stored = match (origin, raw.strip_prefix(UNKEYED_PREFIX)) {
        (HashOrigin::Django, Some(rest)) => format!("{DJANGO_BCRYPT_SHA256}{rest}"),
        _ => raw.to_owned(),
    };
    let stored = without_bcrypt_padding_bits(stored);
    let Some(verifier) = Verifier::parse(&stored) else {
        return Err(format!(
            "unknown or malformed password hash format ({})",
            describe(raw)
        ));
    };
    match verifier.out_of_bounds(false) {
        Some(why) => Err(format!("password hash out of bounds: {why}")),
        None => Ok(stored),
    }
}

/// `stored` with the unused low bits of the last character of a bcrypt
/// salt (4 bits) and digest (2 bits) cleared, as passlib repairs them: some
/// implementations left them set, bcrypt never reads them, and the bcrypt
/// crate refuses a hash that has them. Any other hash is kept as it is.
fn without_bcrypt_padding_bits(stored: String) -> String {
    const ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // `$2b$12$`, then 22 characters of salt and 31 of digest.
    let framed = bcrypt_framing(&stored).is_some_and(|(_, hash)| {
        hash.len() == 60
            && matches!(hash.as_bytes()[..7], [b'$', b'2', b'a' | b'b' | b'y', b'$', d1, d2, b'$'] if d1.is_ascii_digit() && d2.is_ascii_digit())
    });
    if !framed {
        return stored;
    }
    let salt = stored.len() - 53;
    let mut bytes = stored.into_bytes();
    for (at, used_bits) in [(salt + 21, 0b11_0000), (salt + 52, 0b11_1100)] {
        if let Some(value) = ALPHABET.iter().position(|c| *c == bytes[at]) {
            bytes[at] = ALPHABET[value & used_bits];
        }
    }
    // Only ASCII letters of the alphabet were replaced by others.
    String::from_utf8(bytes).unwrap_or_default()
}

/// The scheme names a report may show: a hash's leading framing is shown
/// only when it is one of these (anything else may be a password).
const KNOWN_SCHEMES: [&str; 27] = [
    // Django's hashers.
    "pbkdf2_sha256$",
    "pbkdf2_sha1$",
    "argon2$",
    "bcrypt_sha256$",
    "bcrypt$",
    "scrypt$",
    "sha1$",
    "md5$",
    "unsalted_sha1$",
    "unsalted_md5$",
    "crypt$",
    // Modular crypt and PHC identifiers.
    "$2a$",
    "$2b$",
    "$2y$",
    "$2x$",
    "$argon2id$",
    "$argon2i$",
    "$argon2d$",
    "$pbkdf2-sha256$",
    "$pbkdf2-sha512$",
    "$bcrypt-sha256$",
    "$pbkdf2$",
    "$scrypt$",
    "$1$",
    "$5$",
    "$6$",
    "$y$",
];

/// What a hash looks like, without showing it: its scheme, if it is a known one.
fn describe(raw: &str) -> String {
    match KNOWN_SCHEMES
        .iter()
        .find(|scheme| raw.starts_with(**scheme))
    {
        Some(scheme) => format!("starts with {scheme:?}"),
        None => "unrecognised format".to_owned(),
    }
}

/// Whether `candidate` is the password behind `stored`, in any format
/// Sesame knows (its own too). False for no usable password, an unknown or
/// malformed hash, and one past the bounds (nothing is computed then).
/// Waits for the memory an argon2 or scrypt check takes, as logins do.
pub fn verify_imported(candidate: &str, stored: &str) -> bool {
    let _memory = MemoryLease::for_hash(stored);
    verify_stored(candidate, stored, false) == Some(true)
}

/// Whether `candidate` is the password behind `stored`; `None` when
/// `stored` can never match (no usable password, an unknown or malformed
/// hash, or one past the bounds) and nothing was computed, so that the
/// caller can spend the time of a check all the same. With `at_home`, see
/// [`Verifier::out_of_bounds`].
pub(crate) fn verify_stored(candidate: &str, stored: &str, at_home: bool) -> Option<bool> {
    let verifier = Verifier::parse(stored)?;
    if matches!(verifier, Verifier::Unusable) || verifier.out_of_bounds(at_home).is_some() {
        return None;
    }
    verifier.verify(candidate)
}

/// The memory all the password checks under way may take together: two at
/// the bounds above. Each hashing thread holds what its check takes, so
/// without this a burst of logins to accounts imported with argon2 or
/// scrypt would take a hash's memory (up to 256 MiB) once per thread. The
/// caller waits for memory before its check goes to a hashing thread
/// ([`MemoryLease::for_hash`]), so that no hashing thread sits idle holding
/// a place other logins (bcrypt) need.
const CHECKS_MEMORY: u64 = 2 * (MAX_ARGON2_MEMORY_KIB as u64) * 1024;

static MEMORY_IN_USE: Mutex<u64> = Mutex::new(0);
static MEMORY_FREED: Condvar = Condvar::new();

/// Memory one check holds of [`CHECKS_MEMORY`] until it is dropped.
pub(crate) struct MemoryLease(u64);

impl MemoryLease {
    /// Waits until the memory a check of `stored` takes is free, and holds
    /// it: none for a hash that takes little, or that is never computed.
    pub(crate) fn for_hash(stored: &str) -> MemoryLease {
        let bytes = match Verifier::parse(stored) {
            Some(verifier) if verifier.out_of_bounds(true).is_none() => verifier.memory(),
            _ => 0,
        };
        MemoryLease::take(bytes)
    }

    /// Waits until `bytes` are free, and holds them. Bounded hashes never
    /// ask for more than the whole.
    fn take(bytes: u64) -> MemoryLease {
        let bytes = bytes.min(CHECKS_MEMORY);
        if bytes > 0 {
            let mut in_use = MEMORY_IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
            while *in_use + bytes > CHECKS_MEMORY {
                in_use = (MEMORY_FREED.wait(in_use)).unwrap_or_else(PoisonError::into_inner);
            }
            *in_use += bytes;
        }
        MemoryLease(bytes)
    }
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        if self.0 > 0 {
            *MEMORY_IN_USE.lock().unwrap_or_else(PoisonError::into_inner) -= self.0;
            MEMORY_FREED.notify_all();
        }
    }
}

/// The cost of a bcrypt hash (`$2b$12$...`), if it is one the bcrypt
/// crate checks: its salt and digest in bcrypt's base64, a cost from 4 to
/// 31, and not `$2x$` (the variant of a bug).
pub(crate) fn bcrypt_cost(hash: &str) -> Option<u32> {
    let framed = ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p));
    let parts: bcrypt::HashParts = hash.parse().ok().filter(|_| framed)?;
    Some(parts.get_cost()).filter(|cost| (4..=31).contains(cost))
}

/// The bcrypt hash inside `stored` (from `$2`) and what its framing turns
/// the password into first, for every bcrypt framing Sesame reads.
fn bcrypt_framing(stored: &str) -> Option<(HashFormat, &str)> {
    [
        (DJANGO_BCRYPT_SHA256, HashFormat::DjangoBcryptSha256),
        (UNKEYED_PREFIX, HashFormat::SesameUnkeyed),
        ("bcrypt$", HashFormat::DjangoBcrypt),
    ]
    .into_iter()
    .find_map(|(prefix, format)| Some((format, stored.strip_prefix(prefix)?)))
    .or_else(|| {
        stored
            .starts_with("$2")
            .then_some((HashFormat::Bcrypt, stored))
    })
}

/// passlib's `bcrypt_sha256` after its `$bcrypt-sha256$`: version 2's
/// `v=2,t=2b,r=12$<salt>$<digest>` (Sesame's own) or version 1's
/// `2b,12$<salt>$<digest>`, spelled as passlib writes them.
fn passlib_bcrypt_sha256(rest: &str) -> Option<Verifier<'static>> {
    let mut parts = rest.split('$');
    let (settings, salt, digest) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || salt.len() != 22 || digest.len() != 31 {
        return None;
    }
    let (format, variant, rounds) = match settings.strip_prefix("v=2,t=2b,r=") {
        Some(rounds) => (HashFormat::Sesame, "2b", rounds),
        None => match settings.split_once(',')? {
            (variant @ ("2a" | "2b"), rounds) => {
                (HashFormat::PasslibBcryptSha256V1, variant, rounds)
            }
            _ => return None,
        },
    };
    let digits = (1..=2).contains(&rounds.len()) && rounds.bytes().all(|b| b.is_ascii_digit());
    if !digits || rounds.starts_with('0') {
        return None;
    }
    let hash = format!("${variant}${rounds:0>2}${salt}{digest}");
    let cost = bcrypt_cost(&hash)?;
    let hash = Cow::Owned(hash);
    Some(Verifier::Bcrypt { format, hash, cost })
}

/// The format ([`HashFormat::Sesame`] or [`HashFormat::SesameUnkeyed`])
/// and cost of one of Sesame's own hashes; `None` for any other.
pub(crate) fn own_format(stored: &str) -> Option<(HashFormat, u32)> {
    match Verifier::parse(stored)? {
        Verifier::Bcrypt {
            format: format @ (HashFormat::Sesame | HashFormat::SesameUnkeyed),
            cost,
            ..
        } => Some((format, cost)),
        _ => None,
    }
}

/// A parsed hash, ready to check a candidate.
enum Verifier<'a> {
    /// Every bcrypt framing; `format` says what the password is turned into
    /// first (see [`Verifier::verify`]). `hash` is the bcrypt hash itself,
    /// put together from passlib's framing.
    Bcrypt {
        format: HashFormat,
        hash: Cow<'a, str>,
        cost: u32,
    },
    Pbkdf2 {
        format: HashFormat,
        sha1: bool,
        rounds: u32,
        salt: Vec<u8>,
        key: Vec<u8>,
    },
    Argon2 {
        format: HashFormat,
        hash: PasswordHash<'a>,
        /// Its memory (KiB), passes and lanes.
        costs: (u32, u32, u32),
    },
    Scrypt {
        params: scrypt::Params,
        salt: &'a str,
        key: Vec<u8>,
    },
    Unusable,
}

impl<'a> Verifier<'a> {
    fn parse(stored: &'a str) -> Option<Verifier<'a>> {
        if stored.starts_with(UNUSABLE_PASSWORD) {
            return Some(Verifier::Unusable);
        }
        if let Some((format, hash)) = bcrypt_framing(stored) {
            let cost = bcrypt_cost(hash)?;
            let hash = Cow::Borrowed(hash);
            return Some(Verifier::Bcrypt { format, hash, cost });
        }
        if let Some(rest) = stored.strip_prefix(OWN_PREFIX) {
            return passlib_bcrypt_sha256(rest);
        }
        if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
            return django_pbkdf2(rest, HashFormat::DjangoPbkdf2Sha256, false);
        }
        if let Some(rest) = stored.strip_prefix("pbkdf2_sha1$") {
            return django_pbkdf2(rest, HashFormat::DjangoPbkdf2Sha1, true);
        }
        if let Some(rest) = stored.strip_prefix("argon2$") {
            return argon2_phc(
                rest.strip_prefix("argon2")?,
                stored,
                HashFormat::DjangoArgon2,
            );
        }
        if let Some(rest) = stored.strip_prefix("$argon2") {
            return argon2_phc(rest, stored, HashFormat::Argon2);
        }
        if let Some(rest) = stored.strip_prefix("scrypt$") {
            return django_scrypt(rest);
        }
        if let Some(rest) = stored.strip_prefix("$pbkdf2-sha256$") {
            return passlib_pbkdf2(rest);
        }
        None
    }

    fn format(&self) -> HashFormat {
        match self {
            Verifier::Bcrypt { format, .. }
            | Verifier::Pbkdf2 { format, .. }
            | Verifier::Argon2 { format, .. } => *format,
            Verifier::Scrypt { .. } => HashFormat::DjangoScrypt,
            Verifier::Unusable => HashFormat::Unusable,
        }
    }

    /// Why checking a candidate would take more work than the bounds allow
    /// (or, for PBKDF2, too little to protect anything), if it would; the
    /// one place the bounds are applied. Checked `at_home` (at a login, not
    /// an import), Sesame's own hashes are within them at any cost a hasher
    /// may be configured with: only a configuration of this database made
    /// them (imports refuse them past the bound), and a cost lowered since
    /// must rehash them at their next login, not lock their owners out.
    fn out_of_bounds(&self, at_home: bool) -> Option<String> {
        let above = |what: &str, value: u64, max: u64| {
            (value > max).then(|| format!("{what} {value} is above {max}"))
        };
        match self {
            Verifier::Bcrypt { format, cost, .. } => {
                let max = match (format, at_home) {
                    (HashFormat::Sesame | HashFormat::SesameUnkeyed, true) => {
                        *crate::BCRYPT_COSTS.end()
                    }
                    _ => MAX_BCRYPT_COST,
                };
                above("bcrypt cost", (*cost).into(), max.into())
            }
            Verifier::Pbkdf2 { rounds, salt, .. } => (!PBKDF2_ITERATIONS.contains(rounds))
                .then(|| {
                    format!(
                        "{rounds} PBKDF2 iterations, not between {} and {}",
                        PBKDF2_ITERATIONS.start(),
                        PBKDF2_ITERATIONS.end()
                    )
                })
                .or_else(|| above("salt length", salt.len() as u64, MAX_SALT_BYTES)),
            Verifier::Argon2 { costs, .. } => {
                let (m, t, p) = *costs;
                above(
                    "argon2 memory (KiB)",
                    m.into(),
                    MAX_ARGON2_MEMORY_KIB.into(),
                )
                .or_else(|| above("argon2 passes", t.into(), MAX_ARGON2_PASSES.into()))
                .or_else(|| above("argon2 lanes", p.into(), MAX_ARGON2_LANES.into()))
            }
            Verifier::Scrypt { params, salt, key } => {
                above("scrypt parallelism", params.p().into(), MAX_SCRYPT_P.into())
                    .or_else(|| {
                        (scrypt_memory(params) > MAX_SCRYPT_MEMORY).then(|| {
                            format!("scrypt memory is above {} MiB", MAX_SCRYPT_MEMORY >> 20)
                        })
                    })
                    .or_else(|| above("scrypt block size", params.r().into(), MAX_SCRYPT_R.into()))
                    .or_else(|| above("salt length", salt.len() as u64, MAX_SALT_BYTES))
                    .or_else(|| above("scrypt key length", key.len() as u64, MAX_SCRYPT_KEY_BYTES))
            }
            Verifier::Unusable => None,
        }
    }

    /// The memory its check takes, in bytes: what argon2 and scrypt fill.
    fn memory(&self) -> u64 {
        match self {
            Verifier::Argon2 { costs, .. } => u64::from(costs.0) * 1024,
            Verifier::Scrypt { params, .. } => {
                u64::try_from(scrypt_memory(params)).unwrap_or(u64::MAX)
            }
            _ => 0,
        }
    }

    /// Whether `candidate` matches; `None` if the library refuses the hash
    /// (what parsing let through), so that it costs a check all the same.
    fn verify(&self, candidate: &str) -> Option<bool> {
        match self {
            Verifier::Unusable => None,
            Verifier::Bcrypt { format, hash, .. } => {
                let secret = match format {
                    HashFormat::Sesame => keyed_prehash(salt_of(hash), candidate),
                    HashFormat::SesameUnkeyed | HashFormat::PasslibBcryptSha256V1 => {
                        unkeyed_prehash(candidate)
                    }
                    HashFormat::DjangoBcryptSha256 => {
                        sesame_kernel::secrets::hex(&Sha256::digest(candidate.as_bytes()))
                    }
                    _ => candidate.to_owned(),
                };
                bcrypt::verify(secret, hash).ok()
            }
            Verifier::Pbkdf2 {
                sha1,
                rounds,
                salt,
                key,
                ..
            } => {
                let mut derived = vec![0u8; key.len()];
                if *sha1 {
                    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                        candidate.as_bytes(),
                        salt,
                        *rounds,
                        &mut derived,
                    );
                } else {
                    pbkdf2::pbkdf2_hmac::<Sha256>(
                        candidate.as_bytes(),
                        salt,
                        *rounds,
                        &mut derived,
                    );
                }
                Some(derived.ct_eq(key).into())
            }
            Verifier::Argon2 { hash, .. } => {
                match argon2::Argon2::default().verify_password(candidate.as_bytes(), hash) {
                    Ok(()) => Some(true),
                    Err(password_hash::Error::Password) => Some(false),
                    Err(_) => None,
                }
            }
            Verifier::Scrypt { params, salt, key } => {
                let mut derived = vec![0u8; key.len()];
                scrypt::scrypt(candidate.as_bytes(), salt.as_bytes(), params, &mut derived).ok()?;
                Some(derived.ct_eq(key).into())
            }
        }
    }
}

/// What scrypt fills: `128·r·(N + p)` bytes.
fn scrypt_memory(params: &scrypt::Params) -> u128 {
    let (r, p) = (u128::from(params.r()), u128::from(params.p()));
    128 * r * ((1u128 << params.log_n()) + p)
}

/// Django: `iterations$salt$base64(key)`; the salt is used as its UTF-8
/// bytes, the key is as long as the digest.
fn django_pbkdf2(rest: &str, format: HashFormat, sha1: bool) -> Option<Verifier<'_>> {
    let mut parts = rest.split('$');
    let (Some(iterations), Some(salt), Some(key), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let digest_len = if sha1 { 20 } else { 32 };
    let key = STANDARD
        .decode(key)
        .ok()
        .filter(|k| k.len() == digest_len)?;
    (!salt.is_empty()).then_some(())?;
    Some(Verifier::Pbkdf2 {
        format,
        sha1,
        rounds: iterations.parse().ok()?,
        salt: salt.as_bytes().to_vec(),
        key,
    })
}

/// passlib: `rounds$ab64(salt)$ab64(key)`, where "adapted base64" is
/// base64 with `.` for `+` and no padding; the key is 32 bytes.
fn passlib_pbkdf2(rest: &str) -> Option<Verifier<'_>> {
    let ab64 = |s: &str| STANDARD_NO_PAD.decode(s.replace('.', "+")).ok();
    let mut parts = rest.split('$');
    let (Some(iterations), Some(salt), Some(key), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some(Verifier::Pbkdf2 {
        format: HashFormat::PasslibPbkdf2Sha256,
        sha1: false,
        rounds: iterations.parse().ok()?,
        salt: ab64(salt).filter(|s| !s.is_empty())?,
        key: ab64(key).filter(|k| k.len() == 32)?,
    })
}

/// A PHC argon2 string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`);
/// `after_argon2` is what follows `$argon2` (or Django's `argon2$argon2`).
fn argon2_phc<'a>(after_argon2: &str, stored: &'a str, format: HashFormat) -> Option<Verifier<'a>> {
    if !(after_argon2.starts_with("id$") || after_argon2.starts_with("i$")) {
        return None;
    }
    let phc = stored
        .strip_prefix("argon2")
        .filter(|_| format == HashFormat::DjangoArgon2);
    let hash = PasswordHash::new(phc.unwrap_or(stored)).ok()?;
    let params = argon2::Params::try_from(&hash).ok()?;
    hash.hash?;
    // The PHC format allows shorter salts than argon2 computes with.
    let mut salt = [0u8; 64];
    let salt_len = hash.salt?.decode_b64(&mut salt).ok()?.len();
    (salt_len >= argon2::MIN_SALT_LEN).then_some(())?;
    Some(Verifier::Argon2 {
        format,
        hash,
        costs: (params.m_cost(), params.t_cost(), params.p_cost()),
    })
}

/// Django: `N$salt$r$p$base64(key)`; the salt is used as its UTF-8 bytes.
fn django_scrypt(rest: &str) -> Option<Verifier<'_>> {
    let mut parts = rest.split('$');
    let (Some(n), Some(salt), Some(r), Some(p), Some(key), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let n: u64 = n
        .parse()
        .ok()
        .filter(|n: &u64| n.is_power_of_two() && *n > 1)?;
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    let key = STANDARD.decode(key).ok().filter(|k| !k.is_empty())?;
    let params = scrypt::Params::new(log_n, r.parse().ok()?, p.parse().ok()?, key.len()).ok()?;
    (!salt.is_empty()).then_some(())?;
    Some(Verifier::Scrypt { params, salt, key })
}

/// One account as a source reader found it, its fields still raw.
#[derive(Clone, Default)]
pub struct ImportRecord {
    /// Which record this is, for the report: `line 12`, `id 7`, ...
    pub source_ref: String,
    /// The source's integer id, kept with `--keep-ids`.
    pub id: Option<i64>,
    /// Username.
    pub username: String,
    /// Email address (`None` or empty: none).
    pub email: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The source's password hash (`None`: no usable password).
    pub password_hash: Option<String>,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Whether it is an administrator.
    pub is_admin: bool,
    /// When it was created (`None`: now).
    pub date_joined: Option<Timestamp>,
    /// When it last logged in.
    pub last_login: Option<Timestamp>,
    /// Whether the source says an inactive account was turned off, not
    /// awaiting its activation: every inactive one of fastapi-users (its
    /// email verification is `is_verified`, not `is_active`), and a JSONL
    /// record's `deactivated_by_admin`.
    pub inactive_means_deactivated: bool,
    /// Made on a Sesame by a sign-up, not imported there (a JSONL record's
    /// `made_here`, as `sesame export` writes it): a later import of the
    /// same name refuses rather than skips, on the next Sesame too.
    pub made_here: bool,
}

impl std::fmt::Debug for ImportRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportRecord")
            .field("source_ref", &self.source_ref)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A checked record, ready to store.
#[derive(Clone)]
pub struct ImportedAccount {
    /// Which record it came from.
    pub source_ref: String,
    /// The id to keep, with `--keep-ids`.
    pub id: Option<UserId>,
    /// The account (its hash as [`accept_hash`] keeps it).
    pub user: NewUser,
    /// When it last logged in.
    pub last_login: Option<Timestamp>,
    /// Inactive because someone turned it off, not awaiting its activation:
    /// an activation link does not turn it on again (only an admin does).
    pub deactivated_by_admin: bool,
    /// See [`ImportRecord::made_here`].
    pub made_here: bool,
}

impl std::fmt::Debug for ImportedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedAccount")
            .field("source_ref", &self.source_ref)
            .field("username", &self.user.username.as_str())
            .finish_non_exhaustive()
    }
}

impl ImportRecord {
    /// Checks the record by Sesame's rules: a valid username and email, a
    /// known hash format. `now` is the join date of a record without one.
    /// An inactive account that has logged in before was turned off (it
    /// was active then; the `admin_deactivation` migration read stored
    /// accounts the same way), as is every inactive one of a source that
    /// says so; one that never has may be awaiting its activation.
    ///
    /// # Errors
    /// Why the record is refused, in one line that shows no hash.
    pub fn check(self, origin: HashOrigin, now: Timestamp) -> Result<ImportedAccount, String> {
        // What a database cannot store would fail the whole batch's transaction.
        let texts = [
            ("first_name", Some(&self.first_name)),
            ("last_name", Some(&self.last_name)),
            ("password_hash", self.password_hash.as_ref()),
        ];
        if let Some((field, _)) = texts
            .iter()
            .find(|(_, text)| text.is_some_and(|t| t.contains('\0')))
        {
            return Err(format!("invalid {field}: a null character"));
        }
        for (field, time) in [
            ("date_joined", self.date_joined),
            ("last_login", self.last_login),
        ] {
            if time.is_some_and(|time| !is_storable(time)) {
                return Err(format!("invalid {field}: a year outside 1 to 9999"));
            }
        }
        let username = Username::parse(&self.username, "username")
            .map_err(|e| format!("invalid username: {}", e.message))?;
        let email = match self.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                Email::parse(raw, "email").map_err(|e| format!("invalid email: {}", e.message))?,
            ),
        };
        let password_hash = accept_hash(self.password_hash.as_deref(), origin)?;
        let id = match self.id {
            Some(id) if id <= 0 => return Err(format!("invalid id {id}")),
            other => other.map(UserId),
        };
        Ok(ImportedAccount {
            source_ref: self.source_ref,
            id,
            user: NewUser {
                username,
                email,
                first_name: self.first_name.chars().take(150).collect(),
                last_name: self.last_name.chars().take(150).collect(),
                password_hash,
                is_active: self.is_active,
                is_staff: self.is_admin,
                date_joined: self.date_joined.unwrap_or(now),
            },
            // A sign-up awaiting its activation never logged in, and is
            // never an admin.
            deactivated_by_admin: !self.is_active
                && (self.inactive_means_deactivated || self.last_login.is_some() || self.is_admin),
            last_login: self.last_login,
            made_here: self.made_here,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes made by the real libraries (`scripts/make_import_fixtures.py`).
    const FIXTURES: &str = include_str!("../../../tests/fixtures/import/hashes.json");

    /// `(format, hash, password)` of every fixture, read without serde.
    fn fixtures() -> Vec<(String, String, String)> {
        let field = |entry: &str, name: &str| -> String {
            let start = entry.find(&format!("\"{name}\": \"")).expect(name) + name.len() + 5;
            let end = start + entry[start..].find('"').expect("closing quote");
            entry[start..end].to_owned()
        };
        FIXTURES
            .split('}')
            .filter(|e| e.contains("\"hash\""))
            .map(|e| (field(e, "format"), field(e, "hash"), field(e, "password")))
            .collect()
    }

    fn origin(format: &str) -> HashOrigin {
        if format.starts_with("django_") {
            HashOrigin::Django
        } else {
            HashOrigin::Other
        }
    }

    #[test]
    fn every_fixture_hash_verifies_with_its_password_only() {
        let fixtures = fixtures();
        assert!(fixtures.len() >= 20, "{} fixtures", fixtures.len());
        for (format, hash, password) in &fixtures {
            let stored = accept_hash(Some(hash), origin(format)).expect(format);
            assert!(verify_imported(password, &stored), "{format} refused");
            assert!(
                !verify_imported(&format!("{password}x"), &stored),
                "{format} took a wrong password"
            );
        }
    }

    #[test]
    fn a_bcrypt_hash_with_padding_bits_set_is_kept_without_them_and_verifies() {
        // A fixture with the unused bits of its salt's and digest's last
        // characters set, as some implementations wrote them.
        let (_, clean, password) = fixtures()
            .into_iter()
            .find(|(format, ..)| format == "bcrypt")
            .expect("a plain bcrypt fixture");
        let alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let set = |hash: &str, at: usize, bits: usize| {
            let value = alphabet.find(&hash[at..=at]).unwrap() | bits;
            format!(
                "{}{}{}",
                &hash[..at],
                &alphabet[value..=value],
                &hash[at + 1..]
            )
        };
        let salt_end = clean.len() - 53 + 21;
        let padded = set(&set(&clean, salt_end, 0b1111), clean.len() - 1, 0b11);
        assert_ne!(padded, clean);
        assert!(
            HashFormat::of(&padded).is_none(),
            "the bcrypt crate refuses it"
        );

        let stored = accept_hash(Some(&padded), HashOrigin::Other).unwrap();
        assert_eq!(stored, clean);
        assert!(verify_imported(&password, &stored));
        let django = accept_hash(Some(&format!("bcrypt${padded}")), HashOrigin::Django).unwrap();
        assert_eq!(django, format!("bcrypt${clean}"));
        // Nothing else is touched: another scheme, even one whose fields
        // line up with a bcrypt framing, or a near miss of the framing.
        let pbkdf2 = "pbkdf2_sha256$1000$PJG5lOaJB5uCkGXoTogY2q$V1INsf3t7dG8ypJ8g57RV+8Fc22UxJxt1Iqnln3geVU=";
        assert_eq!(without_bcrypt_padding_bits(pbkdf2.to_owned()), pbkdf2);
        let scrypt = format!("scrypt$16384$2b$16$0001${}", "z".repeat(48));
        assert_eq!(without_bcrypt_padding_bits(scrypt.clone()), scrypt);
        let unframed = padded.replacen("$2", "$3", 1);
        assert_eq!(without_bcrypt_padding_bits(unframed.clone()), unframed);
        let foreign = format!("é{padded}");
        assert_eq!(without_bcrypt_padding_bits(foreign.clone()), foreign);
    }

    #[test]
    fn every_listed_format_is_among_the_fixtures() {
        let formats: Vec<HashFormat> = fixtures()
            .iter()
            .map(|(format, hash, _)| {
                HashFormat::of(&accept_hash(Some(hash), origin(format)).unwrap()).unwrap()
            })
            .collect();
        for wanted in [
            HashFormat::Bcrypt,
            HashFormat::DjangoPbkdf2Sha256,
            HashFormat::DjangoPbkdf2Sha1,
            HashFormat::DjangoBcryptSha256,
            HashFormat::DjangoBcrypt,
            HashFormat::DjangoArgon2,
            HashFormat::DjangoScrypt,
            HashFormat::Argon2,
            HashFormat::PasslibPbkdf2Sha256,
            HashFormat::Sesame,
            HashFormat::PasslibBcryptSha256V1,
        ] {
            assert!(formats.contains(&wanted), "no fixture of {wanted:?}");
        }
    }

    #[test]
    fn django_bcrypt_sha256_is_told_apart_from_sesames_own() {
        let (_, hash, password) = fixtures()
            .into_iter()
            .find(|(f, _, _)| f == "django_bcrypt_sha256")
            .unwrap();
        let django = accept_hash(Some(&hash), HashOrigin::Django).unwrap();
        assert!(django.starts_with("django_bcrypt_sha256$$2b$"));
        assert!(verify_imported(&password, &django));
        // In a JSONL file the same spelling is Sesame's own older hash (bcrypt
        // over the base64, not the hex, SHA-256): Django's password does not
        // match it.
        let own = accept_hash(Some(&hash), HashOrigin::Other).unwrap();
        assert_eq!(HashFormat::of(&own), Some(HashFormat::SesameUnkeyed));
        assert!(!verify_imported(&password, &own));
    }

    #[test]
    fn unknown_and_malformed_hashes_are_refused_without_showing_them() {
        for bad in [
            "md5$abc$0123456789abcdef",
            "sha1$salt$deadbeef",
            "pbkdf2_sha256$notanumber$salt$aGFzaA==",
            "pbkdf2_sha256$1000$salt$%%%",
            "$2b$04$short",
            // bcrypt's cost below 4, its base64 broken, a character past ASCII.
            "$2b$03$tSIJZvKnZ46xMUEQCpRrOO9UDXjqgz/FF7Yd98E0RI8JsB36sJugu",
            "$2b$04$tSIJZvKnZ46xMUEQCpRrOO9UDXjqgz/FF7Yd98E0RI8JsB36sJug!",
            "$2b$04$tSIJZvKnZ46xMUEQCpRrOO9UDXjqgz/FF7Yd98E0RI8JsB36sJé",
            // argon2 with a salt of 3 bytes: PHC allows it, argon2 does not.
            "$argon2id$v=19$m=1024,t=1,p=1$u2Y+$M5J1VNI2VOpl3h/p5xDm0ZOMz0dI3w/7xE/mCYMNd3o",
            "scrypt$1000$salt$8$1$aGFzaA==",
            "$argon2id$v=19$m=1024,t=1,p=1$bad",
            // An empty salt (the key is a real passlib one).
            "$pbkdf2-sha256$1$$Vk/D3G/q9gmjHVwMi4HjWArxxlhUgU8ocaXg9K5exX0",
            "$pbkdf2-sha256$1000$$Vk/D3G/q9gmjHVwMi4HjWArxxlhUgU8ocaXg9K5exX0",
            // Keys of another length than the digest: SHA-1's, SHA-256's, 64 bytes.
            "pbkdf2_sha256$1000$salt$YvJOAR0GCD4i1sj/qzcJfWQSot0=",
            "pbkdf2_sha1$1000$salt$p8b4E0VXhs7RY9Lms993Hntfw4IRt+Wbx0xzx+drjG4=",
            "pbkdf2_sha256$1000$salt$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==",
            // passlib's bcrypt_sha256 (the fixture's, spelled otherwise):
            // rounds padded, an unknown version, version 2 of `$2a$`, no
            // digest, a field too many, a salt with its unused bits set.
            "$bcrypt-sha256$v=2,t=2b,r=04$e4JdWox5NnldooTfH83o9.$AixDI1njjH/UwjJ1FVL2GTazpHqnYNa",
            "$bcrypt-sha256$v=3,t=2b,r=4$e4JdWox5NnldooTfH83o9.$AixDI1njjH/UwjJ1FVL2GTazpHqnYNa",
            "$bcrypt-sha256$v=2,t=2a,r=4$e4JdWox5NnldooTfH83o9.$AixDI1njjH/UwjJ1FVL2GTazpHqnYNa",
            "$bcrypt-sha256$v=2,t=2b,r=4$e4JdWox5NnldooTfH83o9.",
            "$bcrypt-sha256$v=2,t=2b,r=4$e4JdWox5NnldooTfH83o9.$AixDI1njjH/UwjJ1FVL2GTazpHqnYNa$",
            "$bcrypt-sha256$v=2,t=2b,r=4$e4JdWox5NnldooTfH83o9/$AixDI1njjH/UwjJ1FVL2GTazpHqnYNa",
            "$bcrypt-sha256$2y,4$lOnFJ6yh0hPCHgVqiYLzku$zgKw6leOhTyL4aolhiyCheDRqFCYecG",
            "plaintext-password",
            "",
        ] {
            let message = accept_hash(Some(bad), HashOrigin::Other).unwrap_err();
            assert!(message.contains("unknown"), "{message}");
            // Stored all the same, it costs the time of a check.
            assert_eq!(verify_stored("a guess", bad, true), None, "{bad}");
            if bad.len() > 12 {
                assert!(!message.contains(bad), "{message} shows the hash");
            }
        }
    }

    #[test]
    fn a_report_shows_a_known_scheme_and_nothing_of_anything_else() {
        let known = accept_hash(Some("md5$salt$0123456789abcdef"), HashOrigin::Django);
        assert!(known.unwrap_err().ends_with("(starts with \"md5$\")"));
        // A plaintext password where a hash should be: none of it is shown.
        for plaintext in ["Summer$2024", "$ecret$Kx9q", "hunter2"] {
            let message = accept_hash(Some(plaintext), HashOrigin::Other).unwrap_err();
            assert!(message.ends_with("(unrecognised format)"), "{message}");
            for part in plaintext.split('$').filter(|p| !p.is_empty()) {
                assert!(!message.contains(part), "{message} shows {part:?}");
            }
        }
    }

    /// The fixture hash of `password` with each `(from, to)` replaced:
    /// hostile input, made by hand.
    fn hostile(password: &str, edits: &[(&str, &str)]) -> String {
        let (_, mut hash, _) = fixtures()
            .into_iter()
            .find(|(_, _, p)| p == password)
            .expect(password);
        for (from, to) in edits {
            assert!(hash.contains(from), "{hash} has no {from}");
            hash = hash.replacen(from, to, 1);
        }
        hash
    }

    #[test]
    fn hashes_past_the_bounds_are_refused_and_never_computed() {
        let argon2 = "Fastapi-argon2-pass";
        let scrypt = "Scrypt-django-pass";
        let pbkdf2 = "Pbkdf2-sha256-pass";
        let cases = [
            // 4 TiB, which would abort the process.
            (
                hostile(argon2, &[("m=1024", "m=4294967295")]),
                "argon2 memory (KiB) 4294967295 is above 262144",
            ),
            (hostile(argon2, &[("m=1024", "m=262145")]), "argon2 memory"),
            (
                hostile("Argon2-django-pass", &[("m=1024", "m=262145")]),
                "argon2 memory",
            ),
            (
                hostile(argon2, &[("t=1", "t=17")]),
                "argon2 passes 17 is above 16",
            ),
            (
                hostile(argon2, &[("p=1", "p=17")]),
                "argon2 lanes 17 is above 16",
            ),
            // N = 2^40: 128 TiB.
            (
                hostile(scrypt, &[("$1024$", "$1099511627776$")]),
                "scrypt memory is above 256 MiB",
            ),
            // N = 2^18, r = 8: 256 MiB for N, and p's blocks on top.
            (hostile(scrypt, &[("$1024$", "$262144$")]), "scrypt memory"),
            // N = 2, r = 2^20: 256 MiB for N, and 2 GiB for p's blocks.
            (
                hostile(scrypt, &[("$1024$", "$2$"), ("$8$5$", "$1048576$16$")]),
                "scrypt memory",
            ),
            (
                hostile(scrypt, &[("$8$5$", "$8$17$")]),
                "scrypt parallelism 17 is above 16",
            ),
            // Within the memory, but each of its blocks hashes a long salt.
            (
                hostile(scrypt, &[("$1024$", "$2$"), ("$8$5$", "$33$5$")]),
                "scrypt block size 33 is above 32",
            ),
            (
                hostile(
                    scrypt,
                    &[(
                        "$c3CVD8lOyfLT7IxLq7zT5x$",
                        &format!("${}$", "s".repeat(257)),
                    )],
                ),
                "salt length 257 is above 256",
            ),
            (
                hostile(
                    pbkdf2,
                    &[(
                        "$WcDUICVa3baj9KkSk23xMC$",
                        &format!("${}$", "s".repeat(257)),
                    )],
                ),
                "salt length 257 is above 256",
            ),
            (
                hostile(pbkdf2, &[("$1000$", "$3000001$")]),
                "3000001 PBKDF2 iterations, not between 1000 and 3000000",
            ),
            (
                hostile(pbkdf2, &[("$1000$", "$999$")]),
                "999 PBKDF2 iterations",
            ),
            (
                hostile("Pbkdf2-sha1-pass!", &[("$1000$", "$4294967295$")]),
                "4294967295 PBKDF2",
            ),
            (
                hostile("Passlib-pbkdf2-pass", &[("$1000$", "$1$")]),
                "1 PBKDF2 iterations",
            ),
            (
                hostile("Bcrypt-2b-pass", &[("$04$", "$31$")]),
                "bcrypt cost 31 is above 16",
            ),
            (
                hostile("Plain-bcrypt-pass", &[("$04$", "$17$")]),
                "bcrypt cost 17 is above 16",
            ),
            // Django's in a Django table, Sesame's own in a JSONL file (at
            // home past any cost a hasher may have been configured with).
            (
                hostile("Bcrypt-sha256-pass", &[("$04$", "$21$")]),
                "bcrypt cost 21 is above 16",
            ),
        ];
        for (hash, bound) in &cases {
            for origin in [HashOrigin::Django, HashOrigin::Other] {
                let message = accept_hash(Some(hash), origin).unwrap_err();
                assert!(
                    message.starts_with("password hash out of bounds: ") && message.contains(bound),
                    "{message}"
                );
            }
            assert_eq!(HashFormat::of(hash), None, "{hash}");
            // Refused before anything is computed (4 TiB would abort).
            assert_eq!(verify_stored("any password", hash, false), None, "{hash}");
            assert_eq!(verify_stored("any password", hash, true), None, "{hash}");
            assert!(!verify_imported("any password", hash));
        }
    }

    #[test]
    fn the_defaults_of_the_source_systems_and_hashes_at_the_bounds_are_accepted() {
        // Made with the defaults of Django 5.2.19 (its Argon2, Scrypt,
        // BCryptSHA256 and PBKDF2 hashers, the last at 1,200,000 iterations
        // as Django 6.0 makes them), argon2-cffi 25.1 and passlib 1.7.4:
        // `make_password("Default-params-pass", hasher=...)`,
        // `argon2.PasswordHasher().hash(...)`, `passlib.hash.argon2.hash(...)`.
        let defaults = [
            "argon2$argon2id$v=19$m=102400,t=2,p=8$WG5rMVBPVjJSaEo4eHRrZGs0VTc3Vw$ZI+LrUxrjEntXQcnglxz7jhl5OyQIkfIzRQoFu4jRGw",
            "scrypt$16384$569NLroAKhw9xNiMdAkmCe$8$5$tsQNv6xFOK7R7n77VFyEIJF5YkNyhzFVPaupQ4T1ZjeWSHjSflvN2mDeQqf6h8lu5xmN3uQXjdTi+nDBf3Q9Qw==",
            "bcrypt_sha256$$2b$12$JKqg9B8N/43HSzb5Fuadx.oPN9yfUZ2EHqudA6xEIaPKPAOz5/dcG",
            "pbkdf2_sha256$1200000$sUqrNcCz8WMfasRrDQppyU$Bgama5neVdnhfBv0n6ggAlrafo050IzaITcCX6/hGW4=",
            "$argon2id$v=19$m=65536,t=3,p=4$eqgD7+5npFifCQ0mx+YUrw$Nm4ZDOW49MLfP4NoQrjbQYi/oqiXr3rDAVvUTxRInwY",
            "$argon2id$v=19$m=65536,t=3,p=4$F2IMQajVek/JWUvpfQ/h/A$UETPnJqZS1qVL/JFYav0k7pEkVe1ZpFR/FXxmtNKXvs",
        ];
        let argon2 = "Fastapi-argon2-pass";
        let at_the_bounds = [
            hostile(argon2, &[("m=1024,t=1,p=1", "m=262144,t=16,p=16")]),
            // 128 · 8 · (2^17 + 16) bytes: 128 MiB and a little.
            hostile(
                "Scrypt-django-pass",
                &[("$1024$", "$131072$"), ("$8$5$", "$8$16$")],
            ),
            hostile("Pbkdf2-sha256-pass", &[("$1000$", "$3000000$")]),
            hostile("Bcrypt-2b-pass", &[("$04$", "$16$")]),
        ];
        for hash in defaults
            .iter()
            .copied()
            .chain(at_the_bounds.iter().map(String::as_str))
        {
            let stored = accept_hash(Some(hash), HashOrigin::Django).expect(hash);
            assert!(HashFormat::of(&stored).is_some(), "{hash}");
        }
    }

    #[test]
    fn sesames_own_hashes_are_within_the_bounds_where_they_were_made() {
        // Hand-made: an instance configured at cost 20 exported these.
        let (salt, digest) = (".".repeat(22), ".".repeat(31));
        let unkeyed = format!("{UNKEYED_PREFIX}$2b$20${salt}{digest}");
        let keyed = format!("{OWN_PREFIX}v=2,t=2b,r=20${salt}${digest}");
        assert_eq!(own_format(&keyed), Some((HashFormat::Sesame, 20)));
        assert_eq!(own_format(&unkeyed), Some((HashFormat::SesameUnkeyed, 20)));
        for own in [&keyed, &unkeyed] {
            assert!(accept_hash(Some(own), HashOrigin::Other)
                .unwrap_err()
                .ends_with("bcrypt cost 20 is above 16"));
            let verifier = Verifier::parse(own).unwrap();
            // At home whatever the cost configured now (it may have been lowered).
            assert_eq!(verifier.out_of_bounds(true), None);
            assert!(verifier.out_of_bounds(false).is_some());
        }
        // Only Sesame's own: plain bcrypt is bounded at home too.
        let plain = Verifier::parse(&unkeyed[UNKEYED_PREFIX.len()..]).unwrap();
        assert!(plain.out_of_bounds(true).is_some());
    }

    #[test]
    fn no_hash_and_djangos_unusable_mark_never_verify() {
        let none = accept_hash(None, HashOrigin::Other).unwrap();
        assert_eq!(HashFormat::of(&none), Some(HashFormat::Unusable));
        let django = accept_hash(Some("!kQ2d7zWuN2bq"), HashOrigin::Django).unwrap();
        assert_eq!(HashFormat::of(&django), Some(HashFormat::Unusable));
        assert!(!verify_imported("", &none));
        assert!(!verify_imported("!kQ2d7zWuN2bq", &django));
    }

    #[test]
    fn records_are_checked_by_sesames_rules() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let good = ImportRecord {
            source_ref: "line 1".into(),
            username: "alice".into(),
            email: Some(" alice@example.com ".into()),
            password_hash: None,
            ..ImportRecord::default()
        };
        let account = good.clone().check(HashOrigin::Other, now).unwrap();
        assert_eq!(account.user.date_joined, now);
        assert_eq!(account.user.password_hash, UNUSABLE_PASSWORD);
        let bad_name = ImportRecord {
            username: "has space".into(),
            ..good.clone()
        };
        assert!(bad_name
            .check(HashOrigin::Other, now)
            .unwrap_err()
            .starts_with("invalid username"));
        let bad_email = ImportRecord {
            email: Some("not-an-email".into()),
            ..good.clone()
        };
        assert!(bad_email
            .check(HashOrigin::Other, now)
            .unwrap_err()
            .starts_with("invalid email"));
        let bad_id = ImportRecord {
            id: Some(0),
            ..good.clone()
        };
        assert!(bad_id.check(HashOrigin::Other, now).is_err());
        // What PostgreSQL cannot store: refused, not left to fail a batch.
        let before_year_one = chrono::NaiveDate::from_ymd_opt(-5000, 1, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|time| time.and_utc());
        let unstorable = [
            ImportRecord {
                first_name: "a\0b".into(),
                ..good.clone()
            },
            ImportRecord {
                password_hash: Some(
                    "pbkdf2_sha256$100000$a\0b$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
                ),
                ..good.clone()
            },
            ImportRecord {
                date_joined: before_year_one,
                ..good.clone()
            },
            ImportRecord {
                last_login: before_year_one,
                ..good
            },
        ];
        for record in unstorable {
            let why = record.check(HashOrigin::Other, now).unwrap_err();
            assert!(why.starts_with("invalid "), "{why}");
        }
    }

    #[test]
    fn an_inactive_account_that_logged_in_is_an_admin_or_whose_source_says_so_was_deactivated() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let record = |is_active, last_login, inactive_means_deactivated| ImportRecord {
            username: "alice".into(),
            is_active,
            last_login,
            inactive_means_deactivated,
            ..ImportRecord::default()
        };
        let deactivated = |record: ImportRecord| {
            let account = record.check(HashOrigin::Other, now).unwrap();
            account.deactivated_by_admin
        };
        // Staff the old system turned off, under simplejwt, which records no
        // logins by default: an activation link must not turn it back on.
        assert!(deactivated(ImportRecord {
            is_admin: true,
            ..record(false, None, false)
        }));
        assert!(deactivated(record(false, Some(now), false)));
        assert!(deactivated(record(false, None, true)));
        assert!(
            !deactivated(record(false, None, false)),
            "may await its activation"
        );
        assert!(!deactivated(record(true, Some(now), true)));
    }
}
