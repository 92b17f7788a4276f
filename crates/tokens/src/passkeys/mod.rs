//! Passkeys (WebAuthn): registered by a signed-in user, listed, removed with
//! the password, and used to log in, with or without a username. The
//! ceremonies themselves (challenges, CBOR, COSE keys, attestation,
//! signatures, counters) are webauthn-rs's; this module keeps their state
//! between the two requests of each ([`ChallengeStore`]: single use, five
//! minutes) and the passkeys ([`PasskeyRepository`]), and makes a passkey
//! login a session like any other.

mod ports;
mod service;

pub use ports::{Ceremony, CeremonyKind, ChallengeStore, PasskeyRepository, StoredPasskey};
pub use service::{
    PasskeyPorts, PasskeyService, PasskeySettings, CEREMONY_LIFETIME, DEFAULT_PASSKEY_NAME,
    MAX_PASSKEYS_PER_ACCOUNT, MAX_PASSKEY_NAME_CHARS,
};
