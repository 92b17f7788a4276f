use sesame_kernel::StorageError;
use sesame_users::UsersError;

/// Everything that can go wrong with tokens and sessions.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// The token is malformed, badly signed, of the wrong type, or unknown.
    #[error("token is invalid")]
    InvalidToken,
    /// The token, or the session behind it, has expired.
    #[error("token has expired")]
    TokenExpired,
    /// The session behind the token was revoked (logout, password change, ...).
    #[error("session has been revoked")]
    SessionRevoked,
    /// A refresh token was used a second time; its session is now revoked.
    #[error("refresh token was reused; the session has been revoked")]
    RefreshReused,
    /// The account behind the token is gone or inactive.
    #[error("account is not active")]
    AccountInactive,
    /// No session with this id belongs to the caller.
    #[error("session not found")]
    SessionNotFound,
    /// Unknown login, wrong password or inactive account (alike, so that
    /// nothing tells them apart).
    #[error("the login or the password is wrong")]
    LoginRefused,
    /// Too many failed logins for this account: seconds to wait.
    #[error("too many failed logins; retry in {0} s")]
    LoginThrottled(u64),
    /// The account has a second factor on and no one-time code was given.
    #[error("a one-time code is required")]
    OtpRequired,
    /// The one-time code is wrong, already used, or out of its time window.
    #[error("the one-time code is invalid")]
    OtpInvalid,
    /// TOTP is already on for this account.
    #[error("two-factor authentication is already on")]
    MfaAlreadyEnabled,
    /// TOTP is not on (or no setup is pending) for this account.
    #[error("two-factor authentication is not set up")]
    MfaNotEnabled,
    /// No signing key has this kid.
    #[error("no signing key {0}")]
    UnknownKey(String),
    /// The active signing key cannot be retired; rotate first.
    #[error("{0} is the active signing key; rotate first")]
    ActiveKey(String),
    /// Signing a token failed.
    #[error("could not sign token: {0}")]
    Signing(String),
    /// A passkey response was refused: malformed, answering no pending
    /// ceremony of the caller's (unknown, lapsed or already used), from
    /// another origin or for another relying party, or failing webauthn-rs's
    /// checks. Says why, for the client's developer.
    #[error("the passkey response was refused: {0}")]
    PasskeyRejected(String),
    /// The account holds this many passkeys, the most it may: one must be
    /// removed before another is added.
    #[error("an account holds at most {0} passkeys")]
    TooManyPasskeys(usize),
    /// This authenticator's credential is already registered.
    #[error("this passkey is already registered")]
    PasskeyExists,
    /// The caller has no passkey with this id.
    #[error("passkey not found")]
    PasskeyNotFound,
    /// A passkey name is too long or holds control characters.
    #[error("a passkey name has at most 64 characters, none of them control characters")]
    PasskeyNameInvalid,
    /// The relying party settings are unusable, or webauthn-rs could not
    /// make a challenge.
    #[error("passkeys: {0}")]
    PasskeySetup(String),
    /// An account operation failed.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// The storage behind a port failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
