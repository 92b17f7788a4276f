use sesame_kernel::{Timestamp, UserId};

/// How a session's credentials are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Signed access tokens plus a rotating refresh token.
    Jwt,
    /// One random bearer token with a sliding idle lifetime.
    Opaque,
}

/// Whether a lapsed opaque session comes back when its owner re-authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revival {
    /// Seed 002's tokens, which its registration hands out: re-authenticating
    /// is that client's only way back to a token.
    OnReauthentication,
    /// Sessions a login opens (the pages', JWT sessions): once lapsed, over.
    /// A browser left signed in on a shared computer must not come back to
    /// life when its owner re-authenticates elsewhere.
    Never,
}

impl SessionKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Jwt => "jwt",
            SessionKind::Opaque => "opaque",
        }
    }

    /// The kind from its stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "jwt" => Some(SessionKind::Jwt),
            "opaque" => Some(SessionKind::Opaque),
            _ => None,
        }
    }
}

/// Who opened a session: shown to the user in their session list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client IP address.
    pub ip: Option<String>,
    /// Client `User-Agent`.
    pub user_agent: Option<String>,
}

impl From<&sesame_kernel::Actor> for ClientInfo {
    fn from(actor: &sesame_kernel::Actor) -> Self {
        ClientInfo {
            ip: actor.ip.clone(),
            user_agent: actor.user_agent.clone(),
        }
    }
}

/// One login of one user.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// Random identifier, carried as `sid` in JWTs.
    pub id: String,
    /// Whose session it is.
    pub user_id: UserId,
    /// How its credentials are carried.
    pub kind: SessionKind,
    /// When it was opened.
    pub created_at: Timestamp,
    /// When one of its tokens was last used.
    pub last_used_at: Timestamp,
    /// When it lapses unless used (opaque) or refreshed (JWT).
    pub expires_at: Timestamp,
    /// When it was ended, if it was.
    pub revoked_at: Option<Timestamp>,
    /// The id (`jti`) of the one refresh token that may still be used (JWT sessions).
    pub refresh_jti: Option<String>,
    /// The SHA-256 of the opaque token (opaque sessions).
    pub token_hash: Option<String>,
    /// Who opened it.
    pub client: ClientInfo,
    /// Whether re-authenticating brings it back once lapsed (opaque sessions).
    pub revival: Revival,
}

impl Session {
    /// Whether its tokens may still be used at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    /// Whether it is not over: live, or an opaque session past its idle
    /// time, which seed 002's re-authenticate can bring back.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.is_live(now) || (self.revoked_at.is_none() && self.is_revivable())
    }

    /// Whether re-authenticating brings it back once lapsed.
    pub fn is_revivable(&self) -> bool {
        self.kind == SessionKind::Opaque && self.revival == Revival::OnReauthentication
    }
}

/// Which of a user's sessions [`crate::SessionRepository::list_for_user`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Those not over ([`Session::is_open`]): what the user sees.
    Open,
    /// Those re-authenticating brings back: not ended, and
    /// [`Session::is_revivable`], live or lapsed.
    Revivable,
}

impl Listing {
    /// Whether `session` is one of these at `at`.
    pub fn includes(self, session: &Session, at: Timestamp) -> bool {
        match self {
            Listing::Open => session.is_open(at),
            Listing::Revivable => session.revoked_at.is_none() && session.is_revivable(),
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}
