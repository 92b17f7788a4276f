use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::audit::{Actor, AuditEvent, AuditLog};
use sesame_kernel::secrets::{random_token, token_hash};
use sesame_kernel::{ChangeObserver, Clock, Timestamp, UserId};
use sesame_users::{User, UserRepository};

use crate::{
    AuthCache, Claims, ClientInfo, JwtKeys, Listing, NewSession, Revival, Session, SessionKind,
    SessionRepository, TokenType, TokensError, REFRESH_AUDIENCE,
};

/// Lifetimes, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct TokenSettings {
    /// Lifetime of an access JWT.
    pub access_ttl: Duration,
    /// Lifetime of a refresh JWT (and of a JWT session that is not refreshed).
    pub refresh_ttl: Duration,
    /// Idle lifetime of an opaque token, restarted by every use.
    pub opaque_idle: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            access_ttl: Duration::seconds(900),
            refresh_ttl: Duration::seconds(604_800),
            opaque_idle: Duration::seconds(3600),
        }
    }
}

/// An access token and the refresh token that renews it.
#[derive(Clone)]
pub struct TokenPair {
    /// Short-lived access JWT.
    pub access: String,
    /// Single-use refresh JWT.
    pub refresh: String,
    /// The session both belong to.
    pub session_id: String,
}

/// A caller proven by a bearer token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The account.
    pub user: User,
    /// The session the token belongs to.
    pub session_id: String,
}

/// Bytes of randomness in an opaque token (256 bits).
const OPAQUE_TOKEN_BYTES: usize = 32;
/// The most sessions of a user that are listed, or revived at once: logins
/// are cheap to repeat, so a user may hold many more.
pub const MAX_LISTED_SESSIONS: usize = 100;
/// Bytes of randomness in a session id or a JWT id.
const ID_BYTES: usize = 16;

/// Session use-cases: log in, refresh, verify, authenticate a bearer token, log out.
#[derive(Clone)]
pub struct SessionService {
    sessions: Arc<dyn SessionRepository>,
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    keys: JwtKeys,
    settings: TokenSettings,
    audit: Option<Arc<dyn AuditLog>>,
    cache: Option<Arc<AuthCache>>,
}

impl SessionService {
    /// A service over these ports.
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        users: Arc<dyn UserRepository>,
        clock: Arc<dyn Clock>,
        keys: JwtKeys,
        settings: TokenSettings,
    ) -> Self {
        SessionService {
            sessions,
            users,
            clock,
            keys,
            settings,
            audit: None,
            cache: None,
        }
    }

    /// Keeps recently checked sessions and accounts in `cache`, so that most
    /// requests authenticate without reading storage. The storage adapter
    /// must report its writes to the same cache (it is a
    /// [`ChangeObserver`]); this service reports its own.
    pub fn with_cache(mut self, cache: Arc<AuthCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    fn session_changed(&self, session_id: &str) {
        if let Some(cache) = &self.cache {
            cache.session_changed(session_id);
        }
    }

    fn user_sessions_changed(&self, user_id: UserId) {
        if let Some(cache) = &self.cache {
            cache.user_changed(user_id);
        }
    }

    /// Records security events (a replayed refresh token) in `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    fn reuse_detected(
        &self,
        session: &Session,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<(), TokensError> {
        self.sessions.revoke(&session.id, now)?;
        self.session_changed(&session.id);
        self.audited(
            "refresh_reuse_detected",
            Some(session.user_id),
            actor,
            Some(format!("session {} revoked", session.id)),
        );
        Ok(())
    }

    /// Records `kind` about `user`, done by `actor`, if there is an audit
    /// log. A failed write is logged, never returned: what it records
    /// already happened.
    fn audited(&self, kind: &str, user: Option<UserId>, actor: &Actor, detail: Option<String>) {
        let Some(audit) = &self.audit else { return };
        let event = AuditEvent::new(kind, user, actor, self.clock.now(), detail);
        audit.record_or_warn(&event);
    }

    /// The keys tokens are signed and verified with (their JWK Set).
    pub fn keys(&self) -> &JwtKeys {
        &self.keys
    }

    /// The configured lifetimes.
    pub fn settings(&self) -> TokenSettings {
        self.settings
    }

    /// Opens a JWT session for an authenticated user.
    ///
    /// # Errors
    /// [`TokensError::Storage`], [`TokensError::Signing`].
    pub fn start_jwt_session(
        &self,
        user: &User,
        client: ClientInfo,
    ) -> Result<TokenPair, TokensError> {
        let now = self.clock.now();
        let refresh_jti = random_token(ID_BYTES);
        let session = Session {
            id: random_token(ID_BYTES),
            user_id: user.id,
            kind: SessionKind::Jwt,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.refresh_ttl,
            revoked_at: None,
            refresh_jti: Some(refresh_jti.clone()),
            token_hash: None,
            client,
            revival: Revival::Never,
        };
        // Signed first: a key that cannot sign leaves no session behind.
        let pair = self.sign_pair(user.id, &session.id, refresh_jti, now)?;
        self.sessions.create(&session)?;
        Ok(pair)
    }

    /// Opens an opaque-token session, brought back by re-authenticating
    /// once lapsed or not as `revival` says. Returns the token; only its
    /// hash is stored.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn start_opaque_session(
        &self,
        user: &User,
        client: ClientInfo,
        revival: Revival,
    ) -> Result<String, TokensError> {
        let now = self.clock.now();
        let token = random_token(OPAQUE_TOKEN_BYTES);
        let session = Session {
            id: random_token(ID_BYTES),
            user_id: user.id,
            kind: SessionKind::Opaque,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.opaque_idle,
            revoked_at: None,
            refresh_jti: None,
            token_hash: Some(token_hash(&token)),
            client,
            revival,
        };
        self.sessions.create(&session)?;
        Ok(token)
    }

    /// Exchanges a refresh token for a new pair; the old refresh token dies.
    /// Presenting a refresh token that was already exchanged revokes the session.
    ///
    /// # Errors
    /// [`TokensError::InvalidToken`], [`TokensError::TokenExpired`],
    /// [`TokensError::SessionRevoked`], [`TokensError::RefreshReused`],
    /// [`TokensError::AccountInactive`], [`TokensError::Storage`].
    pub fn refresh(&self, refresh_token: &str) -> Result<TokenPair, TokensError> {
        let now = self.clock.now();
        let claims = self.decode_checked(refresh_token, TokenType::Refresh, now)?;
        let session = self.live_session(&claims.sid, now)?;
        if session.refresh_jti.as_deref() != Some(claims.jti.as_str()) {
            self.reuse_detected(&session, now, &Actor::default())?;
            return Err(TokensError::RefreshReused);
        }
        let user = self.active_user(session.user_id)?;
        let new_jti = random_token(ID_BYTES);
        let expires_at = now + self.settings.refresh_ttl;
        // Signed first: a key that cannot sign uses up no refresh token,
        // which the client may then take to another instance.
        let pair = self.sign_pair(user.id, &session.id, new_jti.clone(), now)?;
        if !self
            .sessions
            .rotate_refresh(&session.id, &claims.jti, &new_jti, expires_at, now)?
        {
            // Another request exchanged the same token first: that is a replay.
            self.reuse_detected(&session, now, &Actor::default())?;
            return Err(TokensError::RefreshReused);
        }
        self.session_changed(&session.id);
        Ok(pair)
    }

    /// Checks a JWT (access or refresh) without using it up.
    ///
    /// # Errors
    /// [`TokensError::InvalidToken`], [`TokensError::TokenExpired`],
    /// [`TokensError::SessionRevoked`], [`TokensError::Storage`].
    pub fn verify(&self, token: &str) -> Result<(), TokensError> {
        let now = self.clock.now();
        let claims = self.keys.decode(token)?;
        if claims.exp <= now.timestamp() {
            return Err(TokensError::TokenExpired);
        }
        let session = self.live_session(&claims.sid, now)?;
        if claims.typ == TokenType::Refresh
            && session.refresh_jti.as_deref() != Some(claims.jti.as_str())
        {
            return Err(TokensError::InvalidToken);
        }
        self.active_user(session.user_id)?;
        Ok(())
    }

    /// Proves a bearer token of either kind: a JWT access token or an opaque
    /// token. Using an opaque token restarts its idle clock.
    ///
    /// # Errors
    /// [`TokensError::InvalidToken`], [`TokensError::TokenExpired`],
    /// [`TokensError::SessionRevoked`], [`TokensError::AccountInactive`],
    /// [`TokensError::Storage`].
    pub fn authenticate(&self, bearer: &str) -> Result<Authenticated, TokensError> {
        if !looks_like_jwt(bearer) {
            return self.validate_opaque(bearer);
        }
        if let Some(known) = self.authenticate_cached(bearer) {
            return Ok(known);
        }
        let generation = self.cache.as_ref().map(|cache| cache.generation());
        let now = self.clock.now();
        let claims = self.decode_checked(bearer, TokenType::Access, now)?;
        let session = self.live_session(&claims.sid, now)?;
        self.accept(session, generation, now)
    }

    /// [`SessionService::authenticate`] from memory alone: `Some` when the
    /// token is good and its session and account were read from storage
    /// less than the cache's lifetime ago, with no change since, and no use
    /// needs recording; `None` when storage must be asked (or no cache was
    /// given). Never refuses: a doubtful token gets `None`. A JWT not
    /// verified here before gets `None` too: its signature is checked where
    /// storage is asked (an asymmetric check costs too much for the caller's
    /// async worker, and a forged token would cost it every time).
    pub fn authenticate_cached(&self, bearer: &str) -> Option<Authenticated> {
        let cache = self.cache.as_ref()?;
        let now = self.clock.now();
        let entry = if looks_like_jwt(bearer) {
            let claims = self.keys.remembered(bearer)?;
            let claims = checked(claims, TokenType::Access, now).ok()?;
            cache.by_session(&claims.sid, now)?
        } else {
            cache
                .by_token_hash(&token_hash(bearer), now)
                .filter(|entry| entry.session.kind == SessionKind::Opaque)?
        };
        let usable = check_live(&entry.session, now).is_ok()
            && entry.user.is_active
            && !self.use_due(&entry.session, now);
        usable.then(|| Authenticated {
            user: entry.user.clone(),
            session_id: entry.session.id.clone(),
        })
    }

    /// The session's account, if active; records the use and keeps both in
    /// the cache when nothing changed since `generation`.
    fn accept(
        &self,
        session: Session,
        generation: Option<u64>,
        now: Timestamp,
    ) -> Result<Authenticated, TokensError> {
        let user = self.active_user(session.user_id)?;
        let session = self.record_use(session, now)?;
        let session_id = session.id.clone();
        if let (Some(cache), Some(generation)) = (&self.cache, generation) {
            cache.store(session, user.clone(), generation, now);
        }
        Ok(Authenticated { user, session_id })
    }

    /// The opaque session of `token` and its user, restarting its idle clock
    /// (the seed's "validate").
    ///
    /// # Errors
    /// [`TokensError::InvalidToken`] for an unknown token,
    /// [`TokensError::TokenExpired`] for an idle one,
    /// [`TokensError::SessionRevoked`], [`TokensError::AccountInactive`],
    /// [`TokensError::Storage`].
    pub fn validate_opaque(&self, token: &str) -> Result<Authenticated, TokensError> {
        if let Some(known) = self
            .authenticate_cached(token)
            .filter(|_| !looks_like_jwt(token))
        {
            return Ok(known);
        }
        let generation = self.cache.as_ref().map(|cache| cache.generation());
        let now = self.clock.now();
        let session = self.live_opaque_session(token, now)?;
        self.accept(session, generation, now)
    }

    /// Restarts the idle clock of the user's [`MAX_LISTED_SESSIONS`]
    /// sessions last used that re-authenticating brings back
    /// ([`Listing::Revivable`]: [`Revival::OnReauthentication`], lapsed ones
    /// included; the seed's "re-authenticate", its only way back to a
    /// token). A session that was ended (logout, signing out of the pages,
    /// [`SessionService::end_opaque`]) stays ended, and a login's (the
    /// pages') is never touched. Returns how many.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn revive_opaque_sessions(&self, user_id: UserId) -> Result<usize, TokensError> {
        let now = self.clock.now();
        let sessions =
            (self.sessions).list_for_user(user_id, Listing::Revivable, now, MAX_LISTED_SESSIONS)?;
        for session in &sessions {
            self.sessions
                .touch(&session.id, now, Some(now + self.settings.opaque_idle))?;
        }
        self.user_sessions_changed(user_id);
        Ok(sessions.len())
    }

    /// When the access JWT `bearer` stops being accepted: long-lived
    /// connections opened with it end then. `None` for an opaque token,
    /// which lives as long as its session. Ask this of a token already
    /// accepted.
    pub fn access_expiry(&self, bearer: &str) -> Option<Timestamp> {
        if !looks_like_jwt(bearer) {
            return None;
        }
        let claims = self.keys.decode(bearer).ok()?;
        Timestamp::from_timestamp(claims.exp, 0)
    }

    /// How long until `at` comes, by this service's clock: zero once it has.
    pub fn time_until(&self, at: Timestamp) -> std::time::Duration {
        (at - self.clock.now()).to_std().unwrap_or_default()
    }

    /// Whether the session exists, has not been revoked and has not expired
    /// (its idle clock is not restarted): for long-lived connections that
    /// re-check the session they were opened with.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn session_is_live(&self, session_id: &str) -> Result<bool, TokensError> {
        let now = self.clock.now();
        Ok(self
            .sessions
            .find(session_id)?
            .is_some_and(|s| s.is_live(now)))
    }

    /// Ends one session as `actor`: every token of it fails from now on.
    /// Audited as `logout`.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn logout(&self, session_id: &str, actor: &Actor) -> Result<(), TokensError> {
        let now = self.clock.now();
        self.sessions.revoke(session_id, now)?;
        self.session_changed(session_id);
        self.audited("logout", actor.user, actor, None);
        Ok(())
    }

    /// Ends the opaque session of `token` as `actor` (acting as its user),
    /// whether or not it has lapsed: a browser signing out after its idle
    /// period leaves nothing that re-authenticate could bring back. `false`
    /// when there was no such session left to end.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn end_opaque(&self, token: &str, actor: &Actor) -> Result<bool, TokensError> {
        let session = self
            .sessions
            .find_by_token_hash(&token_hash(token))?
            .filter(|s| s.kind == SessionKind::Opaque && s.revoked_at.is_none());
        let Some(session) = session else {
            return Ok(false);
        };
        self.end_as_owner(&session, actor)?;
        Ok(true)
    }

    /// Ends the JWT session of `refresh_token` as `actor` (acting as its
    /// user), audited as `logout`: the logout of a client that holds only
    /// that token (seed 003's cookie). One the session has rotated past ends
    /// it as using it to refresh would, audited as `refresh_reuse_detected`.
    /// `false` when it proves no live session.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn end_refreshable(&self, refresh_token: &str, actor: &Actor) -> Result<bool, TokensError> {
        let now = self.clock.now();
        let found = self
            .decode_checked(refresh_token, TokenType::Refresh, now)
            .and_then(|claims| Ok((self.live_session(&claims.sid, now)?, claims)));
        let (session, claims) = match found {
            Ok(found) => found,
            Err(TokensError::Storage(e)) => return Err(TokensError::Storage(e)),
            Err(_) => return Ok(false),
        };
        if session.refresh_jti.as_deref() != Some(claims.jti.as_str()) {
            self.reuse_detected(&session, now, actor)?;
            return Ok(true);
        }
        self.end_as_owner(&session, actor)?;
        Ok(true)
    }

    /// Ends `session` as `actor` acting as its user. Audited as `logout`.
    fn end_as_owner(&self, session: &Session, actor: &Actor) -> Result<(), TokensError> {
        self.logout(&session.id, &actor.clone().acting_as(session.user_id))
    }

    /// Ends a session a login just opened, as `actor`, when the login must
    /// not stand after all. Audited as `logout`.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub(crate) fn end_new(&self, session: &NewSession, actor: &Actor) -> Result<(), TokensError> {
        match session {
            NewSession::Jwt(pair) => self.logout(&pair.session_id, actor),
            NewSession::Opaque(token) => self.end_opaque(token, actor).map(|_| ()),
        }
    }

    /// Ends every session of the user but `except`, as `actor`. Audited as
    /// `logout_all`.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn logout_all(
        &self,
        user_id: UserId,
        except: Option<&str>,
        actor: &Actor,
    ) -> Result<usize, TokensError> {
        let ended = self
            .sessions
            .revoke_all(user_id, except, self.clock.now())?;
        self.user_sessions_changed(user_id);
        self.audited("logout_all", Some(user_id), actor, None);
        Ok(ended)
    }

    /// The user's sessions that are not over ([`Session::is_open`]: lapsed
    /// ones that re-authenticating may revive included, so that they can be
    /// ended), newest use first,
    /// among the [`MAX_LISTED_SESSIONS`] last used.
    ///
    /// # Errors
    /// [`TokensError::Storage`].
    pub fn list_sessions(&self, user_id: UserId) -> Result<Vec<Session>, TokensError> {
        let now = self.clock.now();
        self.sessions
            .list_for_user(user_id, Listing::Open, now, MAX_LISTED_SESSIONS)
    }

    /// Ends one of the user's own sessions, as `actor`. Audited as
    /// `session_ended`.
    ///
    /// # Errors
    /// [`TokensError::SessionNotFound`] when it is not theirs or is over
    /// ([`Session::is_open`]), [`TokensError::Storage`].
    pub fn end_session(
        &self,
        user_id: UserId,
        session_id: &str,
        actor: &Actor,
    ) -> Result<(), TokensError> {
        let now = self.clock.now();
        match self.sessions.find(session_id)? {
            Some(session) if session.user_id == user_id && session.is_open(now) => {
                self.sessions.revoke(session_id, now)?;
                self.session_changed(session_id);
                self.audited("session_ended", Some(user_id), actor, None);
                Ok(())
            }
            _ => Err(TokensError::SessionNotFound),
        }
    }

    /// Records a use of the session (and restarts an opaque one's idle
    /// clock), coalesced: at most one write per session per
    /// [`SessionService::use_granularity`], not one per request.
    /// Returns the session as it now is.
    fn record_use(&self, mut session: Session, now: Timestamp) -> Result<Session, TokensError> {
        if !self.use_due(&session, now) {
            return Ok(session);
        }
        let expires_at = match session.kind {
            SessionKind::Opaque => Some(now + self.settings.opaque_idle),
            SessionKind::Jwt => None,
        };
        self.sessions.touch(&session.id, now, expires_at)?;
        self.session_changed(&session.id);
        session.last_used_at = now;
        if let Some(expires_at) = expires_at {
            session.expires_at = expires_at;
        }
        Ok(session)
    }

    fn use_due(&self, session: &Session, now: Timestamp) -> bool {
        now - session.last_used_at >= self.use_granularity()
    }

    /// How stale a session's last use may get before a request records a new
    /// one: a minute, or a twentieth of the opaque idle time if that is shorter.
    fn use_granularity(&self) -> Duration {
        (self.settings.opaque_idle / 20).min(Duration::seconds(60))
    }

    fn sign_pair(
        &self,
        user_id: UserId,
        session_id: &str,
        refresh_jti: String,
        now: Timestamp,
    ) -> Result<TokenPair, TokensError> {
        let claims = |typ, jti, ttl: Duration| Claims {
            sub: user_id.to_string(),
            sid: session_id.to_owned(),
            jti,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            aud: (typ == TokenType::Refresh).then(|| REFRESH_AUDIENCE.to_owned()),
            typ,
            iss: None,
        };
        let access = self.keys.sign(&claims(
            TokenType::Access,
            random_token(ID_BYTES),
            self.settings.access_ttl,
        ))?;
        let refresh = self.keys.sign(&claims(
            TokenType::Refresh,
            refresh_jti,
            self.settings.refresh_ttl,
        ))?;
        Ok(TokenPair {
            access,
            refresh,
            session_id: session_id.to_owned(),
        })
    }

    fn decode_checked(
        &self,
        token: &str,
        expected: TokenType,
        now: Timestamp,
    ) -> Result<Arc<Claims>, TokensError> {
        checked(self.keys.decode(token)?, expected, now)
    }

    fn live_session(&self, id: &str, now: Timestamp) -> Result<Session, TokensError> {
        let session = self.sessions.find(id)?.ok_or(TokensError::InvalidToken)?;
        check_live(&session, now)?;
        Ok(session)
    }

    fn live_opaque_session(&self, token: &str, now: Timestamp) -> Result<Session, TokensError> {
        let session = self
            .sessions
            .find_by_token_hash(&token_hash(token))?
            .filter(|s| s.kind == SessionKind::Opaque)
            .ok_or(TokensError::InvalidToken)?;
        check_live(&session, now)?;
        Ok(session)
    }

    fn active_user(&self, id: UserId) -> Result<User, TokensError> {
        match self.users.find_by_id(id)? {
            Some(user) if user.is_active => Ok(user),
            _ => Err(TokensError::AccountInactive),
        }
    }
}

fn check_live(session: &Session, now: Timestamp) -> Result<(), TokensError> {
    if session.revoked_at.is_some() {
        Err(TokensError::SessionRevoked)
    } else if session.expires_at <= now {
        Err(TokensError::TokenExpired)
    } else {
        Ok(())
    }
}

/// `claims`, if they are of the `expected` type and not expired.
fn checked(
    claims: Arc<Claims>,
    expected: TokenType,
    now: Timestamp,
) -> Result<Arc<Claims>, TokensError> {
    if claims.typ != expected {
        return Err(TokensError::InvalidToken);
    }
    if claims.exp <= now.timestamp() {
        return Err(TokensError::TokenExpired);
    }
    Ok(claims)
}

fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}
