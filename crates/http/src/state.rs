use sesame_kernel::audit::TrustedProxy;
use sesame_tokens::SessionService;
use sesame_users::AccountService;

/// HTTP behaviour that comes from configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The surfaces to serve.
    pub surfaces: Vec<Surface>,
    /// `/users/` of the events_messages surface answers without a token.
    pub public_directory: bool,
    /// Refresh cookies carry `Secure`.
    pub secure_cookies: bool,
    /// Largest JSON body accepted, in bytes.
    pub max_json_bytes: usize,
    /// How often WebSockets are pinged; two missed pongs close them.
    pub ws_ping_interval: std::time::Duration,
    /// The reverse proxy whose header tells the client address; unset, the
    /// peer address is the client's.
    pub trusted_proxy: Option<TrustedProxy>,
    /// Browser origins allowed to call Sesame with credentials (CORS), as
    /// browsers send them in `Origin` (no trailing slash).
    pub cors_allowed_origins: Vec<String>,
    /// The origin people reach Sesame at (its `public_url`), as browsers
    /// send it in `Origin`: behind a proxy, `Host` may name another.
    pub public_origin: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            surfaces: Surface::ALL.to_vec(),
            public_directory: false,
            secure_cookies: false,
            max_json_bytes: 64 * 1024,
            ws_ping_interval: std::time::Duration::from_secs(30),
            trusted_proxy: None,
            cors_allowed_origins: Vec::new(),
            public_origin: None,
        }
    }
}

/// What every handler can reach: the domain services and the settings.
#[derive(Clone)]
pub struct AppState {
    /// Account use-cases.
    pub accounts: AccountService,
    /// Session and token use-cases.
    pub sessions: SessionService,
    /// The login every login route shares.
    pub login: sesame_tokens::LoginService,
    /// Second-factor use-cases.
    pub mfa: sesame_tokens::MfaService,
    /// Passkey use-cases.
    pub passkeys: sesame_tokens::PasskeyService,
    /// Messaging use-cases.
    pub messaging: sesame_messaging::MessagingService,
    /// Open WebSockets.
    pub hub: std::sync::Arc<crate::Hub>,
    /// Rate limiters.
    pub limits: std::sync::Arc<crate::RateLimits>,
    /// Event use-cases.
    pub events: sesame_events::EventService,
    /// HTTP settings.
    pub settings: HttpSettings,
    /// Prometheus metrics.
    pub metrics: std::sync::Arc<crate::Metrics>,
    /// Database pool usage: (connections, idle), for `/metrics`.
    pub pool_usage: std::sync::Arc<dyn Fn() -> (u32, u32) + Send + Sync>,
    /// Whether the database answers (for `/readyz`).
    pub readiness: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
}

/// A client contract Sesame serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// Accounts and JWT, djoser layout (seed 004).
    Primary,
    /// Events, messages and their auth routes, FastAPI style (seed 001).
    EventsMessages,
    /// OAuth2 password form (seed 000).
    TokenForm,
    /// Opaque sliding tokens (seed 002).
    Opaque,
    /// Access JWT plus refresh cookie (seed 003).
    CookieRefresh,
}

impl Surface {
    /// Every surface, in the order the API document lists them.
    pub const ALL: [Surface; 5] = [
        Surface::Primary,
        Surface::EventsMessages,
        Surface::TokenForm,
        Surface::Opaque,
        Surface::CookieRefresh,
    ];

    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Primary => "primary",
            Surface::EventsMessages => "events_messages",
            Surface::TokenForm => "token_form",
            Surface::Opaque => "opaque",
            Surface::CookieRefresh => "cookie_refresh",
        }
    }

    /// The surface with this configuration name.
    pub fn from_name(name: &str) -> Option<Surface> {
        Self::ALL.into_iter().find(|s| s.name() == name.trim())
    }
}
