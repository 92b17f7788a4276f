use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::TokensError;

/// What a JWT is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenType {
    /// Presented on every request.
    Access,
    /// Exchanged for a new pair.
    Refresh,
}

/// The claims of every JWT Sesame signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user id, as a string.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// This token's own id.
    pub jti: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Access or refresh.
    pub typ: TokenType,
}

/// The HS256 key pair made from one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    /// Keys from a secret of at least 32 bytes.
    ///
    /// # Errors
    /// [`TokensError::Signing`] when the secret is shorter.
    pub fn from_secret(secret: &[u8]) -> Result<JwtKeys, TokensError> {
        if secret.len() < 32 {
            return Err(TokensError::Signing(
                "the JWT secret must be at least 32 bytes".into(),
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the domain clock, not the system one.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        Ok(JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// Signs `claims`.
    ///
    /// # Errors
    /// [`TokensError::Signing`].
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, TokensError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| TokensError::Signing(e.to_string()))
    }

    /// The claims of a token signed with these keys (expiry not checked).
    ///
    /// # Errors
    /// [`TokensError::InvalidToken`] for anything malformed or badly signed.
    pub(crate) fn decode(&self, token: &str) -> Result<Claims, TokensError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokensError::InvalidToken)
    }
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}
