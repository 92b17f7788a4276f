use std::sync::{Arc, RwLock};

use jsonwebtoken::{decode, decode_header, encode, Header};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyRing, SharedRing};
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
    /// The issuer; absent from tokens signed before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// [`REFRESH_AUDIENCE`] on refresh tokens; none on access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// The audience of every refresh token: only Sesame takes them back, and a
/// service that checks Sesame's tokens by the published keys alone with
/// jsonwebtoken or PyJWT refuses, by default, a token naming an audience it
/// did not ask for: a refresh token is not taken there as an access token
/// even where the `typ` check is forgotten.
pub const REFRESH_AUDIENCE: &str = "sesame-refresh";

/// The keys JWTs are signed and verified with: a cheap handle on a key
/// set that [`SigningKeys`](crate::SigningKeys) reloads in place.
#[derive(Clone)]
pub struct JwtKeys {
    ring: SharedRing,
    issuer: Arc<str>,
    listeners: Arc<RwLock<Vec<Listener>>>,
}

/// What [`JwtKeys::on_reload`] keeps.
type Listener = Box<dyn Fn(&JwtKeys) + Send + Sync>;

impl JwtKeys {
    /// One HS256 key from a secret of at least 32 bytes, its `kid` derived
    /// from the secret; issuer `sesame`.
    ///
    /// # Errors
    /// [`TokensError::Signing`] when the secret is shorter.
    pub fn from_secret(secret: &[u8]) -> Result<JwtKeys, TokensError> {
        if secret.len() < 32 {
            return Err(TokensError::Signing(
                "the JWT secret must be at least 32 bytes".into(),
            ));
        }
        Ok(JwtKeys {
            ring: Arc::new(RwLock::new(Arc::new(KeyRing::from_secret(secret)))),
            issuer: Arc::from("sesame"),
            listeners: Arc::default(),
        })
    }

    /// The same keys, naming `issuer` in the `iss` claim.
    pub fn with_issuer(mut self, issuer: &str) -> JwtKeys {
        self.issuer = Arc::from(issuer);
        self
    }

    /// The public keys that still verify, as a JWK Set document (RFC 7517):
    /// `{"keys":[]}` when every key is HS256.
    pub fn jwks(&self) -> Arc<str> {
        self.current().jwks.clone()
    }

    /// The kid of the key that signs.
    pub fn active_kid(&self) -> String {
        self.current().signer.kid.clone()
    }

    /// The key a JWT names in its header: its `kid`, or for one signed
    /// before keys had ids the HS256 secret's. Nothing is verified: ask
    /// this of a token already accepted. `None` for what is not a JWT.
    pub fn kid_of(&self, token: &str) -> Option<String> {
        let header = decode_header(token).ok()?;
        Some(
            header
                .kid
                .unwrap_or_else(|| self.current().legacy_kid.clone()),
        )
    }

    /// Whether tokens signed with the key `kid` still verify: it is in the
    /// set, and not retired.
    pub fn verifies(&self, kid: &str) -> bool {
        self.current().verifiers.contains_key(kid)
    }

    pub(crate) fn current(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether this instance can sign: its active key was not retired
    /// since (by a reload that could not open the set).
    pub fn can_sign(&self) -> bool {
        let ring = self.current();
        ring.verifiers.contains_key(&ring.signer.kid)
    }

    /// Calls `listener` with the keys each time they were read again, on
    /// the thread that read them: whatever the reload answered (a change
    /// reported, a retry once storage is back, a rotation or retirement here).
    pub fn on_reload(&self, listener: impl Fn(&JwtKeys) + Send + Sync + 'static) {
        let mut listeners = self.listeners.write().unwrap_or_else(|e| e.into_inner());
        listeners.push(Box::new(listener));
    }

    pub(crate) fn replace(&self, ring: KeyRing) {
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        for listener in self
            .listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            listener(self);
        }
    }

    /// Signs `claims` with the active key, naming it in `kid`.
    ///
    /// # Errors
    /// [`TokensError::Signing`], also when that key was retired since.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, TokensError> {
        let ring = self.current();
        if !ring.verifiers.contains_key(&ring.signer.kid) {
            // A reload that could not open the set learned it was retired.
            return Err(TokensError::Signing(format!(
                "signing key {} was retired, and the key set cannot be opened here: give this \
                 instance the tokens.jwt_secret the set is sealed with",
                ring.signer.kid
            )));
        }
        let mut header = Header::new(ring.signer.algorithm);
        header.kid = Some(ring.signer.kid.clone());
        let claims = Claims {
            iss: Some(self.issuer.to_string()),
            ..claims.clone()
        };
        encode(&header, &claims, &ring.signer.key).map_err(|e| TokensError::Signing(e.to_string()))
    }

    /// The claims of `token` if it was verified here before (and no key
    /// change has forgotten it): no signature is checked.
    pub(crate) fn remembered(&self, token: &str) -> Option<Arc<Claims>> {
        self.current().remembered(token)
    }

    /// The claims of a token signed with a key of the set that is not
    /// retired (expiry not checked). A token without `kid` is one signed
    /// before keys had ids, with the HS256 secret.
    ///
    /// # Errors
    /// [`TokensError::InvalidToken`] for anything malformed, badly signed,
    /// signed by an unknown or retired key, or from another issuer.
    pub(crate) fn decode(&self, token: &str) -> Result<Arc<Claims>, TokensError> {
        let ring = self.current();
        if let Some(claims) = ring.remembered(token) {
            return Ok(claims);
        }
        let header = decode_header(token).map_err(|_| TokensError::InvalidToken)?;
        let kid = header.kid.as_deref().unwrap_or(&ring.legacy_kid);
        let verifier = ring.verifiers.get(kid).ok_or(TokensError::InvalidToken)?;
        let claims = decode::<Claims>(token, &verifier.key, &verifier.validation)
            .map(|data| data.claims)
            .map_err(|_| TokensError::InvalidToken)?;
        if claims
            .iss
            .as_deref()
            .is_some_and(|iss| iss != &*self.issuer)
        {
            return Err(TokensError::InvalidToken);
        }
        let claims = Arc::new(claims);
        ring.remember(token, claims.clone());
        Ok(claims)
    }
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}
