use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use chrono::Duration;
use sesame_http::{AppState, HttpSettings};
use sesame_kernel::{Clock, SystemClock};
use sesame_persistence::Database;
use sesame_tokens::{JwtKeys, SessionService, TokenSettings};
use sesame_users::{AccountService, AccountSettings, BcryptHasher};

use crate::logging::access_log;
use crate::secrets::load_or_generate;
use crate::Config;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// The data dir or a secret file could not be prepared.
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] sesame_persistence::PersistenceError),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A domain component refused its settings.
    #[error("invalid setting: {0}")]
    Setting(String),
}

/// The domain services over the configured database.
pub(crate) struct Services {
    pub(crate) database: Database,
    pub(crate) accounts: AccountService,
    pub(crate) sessions: SessionService,
}

impl Services {
    /// Opens the database, runs its migrations and builds the services.
    pub(crate) fn build(config: &Config) -> Result<Services, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let database = Database::connect(&config.database_url(), config.database.pool_size)?;
        database.migrate()?;
        let secret = match &config.tokens.jwt_secret {
            Some(secret) => secret.clone(),
            None => {
                let path = config.data_dir.join("jwt_secret");
                load_or_generate(&path).map_err(|source| StartError::DataDir {
                    path: path.display().to_string(),
                    source,
                })?
            }
        };
        let keys = JwtKeys::from_secret(secret.as_bytes())
            .map_err(|e| StartError::Setting(e.to_string()))?;
        let hasher = BcryptHasher::new(config.passwords.bcrypt_cost)
            .map_err(|e| StartError::Setting(e.to_string()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(database.clone());
        let accounts = AccountService::new(
            store.clone(),
            Arc::new(hasher),
            clock.clone(),
            AccountSettings {
                require_activation: config.accounts.require_activation,
            },
        );
        let sessions = SessionService::new(
            store.clone(),
            store,
            clock,
            keys,
            TokenSettings {
                access_ttl: Duration::seconds(config.tokens.access_ttl_seconds),
                refresh_ttl: Duration::seconds(config.tokens.refresh_ttl_seconds),
                opaque_idle: Duration::seconds(config.tokens.opaque_idle_seconds),
            },
        );
        Ok(Services {
            database,
            accounts,
            sessions,
        })
    }
}

/// The running HTTP service.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Opens the database, migrates it, binds the listen address (port 0
    /// picks a free one) and prepares the server. Must be called inside an
    /// actix system; the server runs once [`Application::run_until_stopped`] is awaited.
    ///
    /// # Errors
    /// [`StartError`] saying what stopped it.
    pub fn build(config: &Config) -> Result<Application, StartError> {
        config.validate()?;
        let services = Services::build(config)?;
        let listener = TcpListener::bind(&config.http.bind).map_err(|source| StartError::Bind {
            address: config.http.bind.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                address: config.http.bind.clone(),
                source,
            })?
            .port();
        let settings = HttpSettings {
            surfaces: config.surfaces()?,
            public_directory: config.users.public_directory,
            secure_cookies: config.http.secure_cookies,
            max_json_bytes: config.http.max_json_bytes,
        };
        let database = services.database.clone();
        let state = web::Data::new(AppState {
            accounts: services.accounts,
            sessions: services.sessions,
            settings,
            readiness: Arc::new(move || database.is_reachable()),
        });
        let mut server = HttpServer::new(move || {
            let settings = state.settings.clone();
            App::new()
                .app_data(state.clone())
                .wrap(middleware::from_fn(access_log))
                .configure(|config| sesame_http::configure(config, &settings))
                .default_service(web::to(sesame_http::surfaces::not_found))
        });
        if config.http.workers > 0 {
            server = server.workers(config.http.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartError::Bind {
                address: config.http.bind.clone(),
                source,
            })?
            .run();
        tracing::info!(
            address = %format!("http://{}:{port}", host_of(&config.http.bind)),
            database = services.database.backend_name(),
            "Sesame is listening"
        );
        Ok(Application { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the process is told to stop.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn host_of(bind: &str) -> &str {
    bind.rsplit_once(':').map(|(host, _)| host).unwrap_or(bind)
}
