//! Sessions and the credentials that carry them.
//!
//! Every login opens a [`Session`]. A JWT login hands out a short-lived access
//! token and a refresh token that rotates on every use (a replayed refresh
//! token revokes its whole session); an opaque login hands out a random token
//! stored only as a hash, valid for a sliding idle period. Revoking a session
//! makes every token of it fail at once. The [`SessionService`] holds the
//! rules; [`SessionRepository`] is the port to storage.

#![deny(missing_docs)]

mod error;
mod jwt;
mod mfa;
mod ports;
mod service;
mod session;

pub use error::TokensError;
pub use jwt::{Claims, JwtKeys, TokenType};
pub use mfa::{
    totp_code, ChaChaCipher, MfaRepository, MfaService, SecretCipher, TotpRecord, TotpSetup,
    RECOVERY_CODES,
};
pub use ports::SessionRepository;
pub use service::{Authenticated, SessionService, TokenPair, TokenSettings};
pub use session::{ClientInfo, Session, SessionKind};
