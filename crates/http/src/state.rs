use sesame_tokens::SessionService;
use sesame_users::AccountService;

use crate::Surface;

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
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            surfaces: Surface::ALL.to_vec(),
            public_directory: false,
            secure_cookies: false,
            max_json_bytes: 64 * 1024,
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
    /// HTTP settings.
    pub settings: HttpSettings,
    /// Whether the database answers (for `/readyz`).
    pub readiness: std::sync::Arc<dyn Fn() -> bool + Send + Sync>,
}
