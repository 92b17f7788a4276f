//! The one login flow every surface's login route goes through: check the
//! credentials, then open a session of the kind the surface hands out.

use sesame_tokens::{ClientInfo, TokenPair, TokensError};
use sesame_users::{User, UsersError};

use crate::AppState;

/// Why a login failed.
#[derive(Debug)]
pub(crate) enum LoginError {
    /// Unknown login, wrong password or inactive account (each surface words
    /// them alike, so nothing tells them apart).
    Refused,
    /// Storage or signing failed.
    Unavailable(String),
}

impl From<UsersError> for LoginError {
    fn from(error: UsersError) -> Self {
        match error {
            UsersError::Storage(e) => LoginError::Unavailable(e.to_string()),
            _ => LoginError::Refused,
        }
    }
}

impl From<TokensError> for LoginError {
    fn from(error: TokensError) -> Self {
        LoginError::Unavailable(error.to_string())
    }
}

impl LoginError {
    /// Logs an outage (never the credentials) and gives the error back.
    pub(crate) fn logged(self) -> Self {
        if let LoginError::Unavailable(reason) = &self {
            tracing::error!(error = %reason, "login failed on storage");
        }
        self
    }
}

/// Checks the credentials (`login` is a username or an email).
pub(crate) fn check_credentials(
    state: &AppState,
    login: &str,
    password: &str,
) -> Result<User, LoginError> {
    state
        .accounts
        .authenticate(login, password)
        .map_err(|e| LoginError::from(e).logged())
}

/// Logs in and opens a JWT session.
pub(crate) fn jwt_login(
    state: &AppState,
    login: &str,
    password: &str,
    client: ClientInfo,
) -> Result<TokenPair, LoginError> {
    let user = check_credentials(state, login, password)?;
    state
        .sessions
        .start_jwt_session(&user, client)
        .map_err(|e| LoginError::from(e).logged())
}
