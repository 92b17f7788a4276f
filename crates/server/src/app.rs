use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN};
use actix_web::middleware::Next;
use actix_web::{middleware, web, App, HttpServer};
use chrono::Duration;
use percent_encoding::percent_decode_str;
use sesame_events::EventService;
use sesame_http::{AppState, HttpSettings, Metrics, RateLimitSettings, RateLimits};
use sesame_http::{BodyTimeout, Hub, MessageFrames, Routes, SocketRevoker};
use sesame_kernel::audit::AuditKey;
use sesame_kernel::secrets::derived_key;
use sesame_kernel::{ChangeObserver, Clock, SystemClock, UserId};
use sesame_messaging::{MessageNotifier, MessagingService};
use sesame_pages::{Pages, PagesSettings};
use sesame_persistence::{listen_for_notices, Database, PgMessageNotifier};
use sesame_tokens::{
    AuthCache, ChaChaCipher, ConfirmationsAsLogins, Lockout, LockoutSettings, LoginKey,
    LoginService, LoginThrottle, MfaService, PasskeyPorts, PasskeyService, PasskeySettings,
    SessionService, SigningKeys, TokenSettings,
};
use sesame_users::{AccountService, AccountSettings, BcryptHasher};
use sha2::{Digest, Sha256};

use crate::hashing::HashingPool;
use crate::logging::{self, access_log};
use crate::mail::{mail_services, MailSender};
use crate::private::{make_private, restrict_new_files};
use crate::purge::Purge;
use crate::secrets::load_or_generate;
use crate::Config;
use sesame_persistence::FileAvatarStore;
use sesame_users::Avatars;

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
    /// A signing key command was refused (`sesame keys`).
    #[error("{0}")]
    Keys(String),
}

impl StartError {
    /// A [`StartError::Setting`] saying `message`.
    pub(crate) fn setting(message: impl std::fmt::Display) -> StartError {
        StartError::Setting(message.to_string())
    }
}

/// The signing key set of the database, loaded (made on first start), its
/// private keys sealed with a key derived from the JWT secret, and reloaded
/// whenever another process changes it.
fn signing_keys(
    config: &Config,
    database: &Database,
    secret: &[u8],
) -> Result<Arc<SigningKeys>, StartError> {
    let keys = key_set(config, database, secret)?;
    keys.start().map_err(StartError::setting)?;
    let keys = Arc::new(keys);
    // The database keeps its observers, and the keys keep the database: the
    // relay holds the keys weakly, so that neither outlives the services.
    database.observe_changes(Arc::new(KeyRelay(Arc::downgrade(&keys))));
    database.watch_signing_keys();
    Ok(keys)
}

/// Reads the key set again every minute, whatever the notices said: one
/// lost (a change file another user could not touch, a listener connection
/// dropped unseen) leaves a retired key accepted for a minute at most.
fn reload_keys_every_minute(keys: &Arc<SigningKeys>) {
    let keys = Arc::downgrade(keys);
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(keys) = keys.upgrade() else { return };
            match actix_web::rt::task::spawn_blocking(move || keys.reload_if_changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "could not reload the signing keys"),
                Err(error) if error.is_panic() => {
                    tracing::error!(%error, "reloading the signing keys panicked")
                }
                Err(_) => return,
            }
        }
    });
}

/// The signing key set of the database, not loaded, its private keys sealed
/// with [`sealing_cipher`] of `secret`.
pub(crate) fn key_set(
    config: &Config,
    database: &Database,
    secret: &[u8],
) -> Result<SigningKeys, StartError> {
    let keys = SigningKeys::new(
        Arc::new(database.clone()),
        Arc::new(sealing_cipher(secret)?),
        Arc::new(SystemClock),
        config
            .tokens
            .algorithm
            .parse()
            .map_err(StartError::setting)?,
        secret,
        &config.tokens.issuer,
    )
    .map_err(StartError::setting)?;
    Ok(keys.with_audit(Arc::new(database.clone())))
}

/// The cipher the signing keys' private halves are sealed with: its key
/// derived from the JWT secret.
pub(crate) fn sealing_cipher(secret: &[u8]) -> Result<ChaChaCipher, StartError> {
    derived_cipher("sesame signing keys", secret)
}

/// The cipher queued emails are sealed with, its key derived from the JWT
/// secret: every instance has the same one, since the signing keys need it.
fn mail_cipher(secret: &[u8]) -> Result<ChaChaCipher, StartError> {
    derived_cipher("sesame queued emails", secret)
}

/// The secret the pages derive their own keys from (CSRF, sealed sign-ins).
fn pages_key(mfa_key: &[u8]) -> [u8; 32] {
    derived_key("sesame pages", mfa_key)
}

/// The key of the fake credential ids answered for unknown names, from the
/// MFA key: the same on every instance and across upgrades, or comparing
/// answers would tell which names have no account.
fn fake_credential_key(mfa_key: &[u8]) -> [u8; 32] {
    derived_key("sesame passkeys: fake credential ids", mfa_key)
}

/// A digest of the MFA key that tells whether two instances have the same
/// one, and nothing of the key.
fn mfa_key_check(mfa_key: &[u8]) -> String {
    sesame_kernel::secrets::hex(&derived_key("sesame mfa key check", mfa_key))
}

/// The name the MFA key's digest is recorded under.
const MFA_KEY_CHECK: &str = "mfa_key";

fn derived_cipher(purpose: &str, secret: &[u8]) -> Result<ChaChaCipher, StartError> {
    ChaChaCipher::new(&derived_key(purpose, secret)).map_err(StartError::setting)
}

/// Hands reports of a changed key set to the keys while they exist.
struct KeyRelay(std::sync::Weak<SigningKeys>);

impl ChangeObserver for KeyRelay {
    fn user_changed(&self, _: sesame_kernel::UserId) {}

    fn session_changed(&self, _: &str) {}

    fn all_changed(&self) {
        self.signing_keys_changed();
    }

    fn signing_keys_changed(&self) {
        if let Some(keys) = self.0.upgrade() {
            keys.signing_keys_changed();
        }
    }
}

/// The domain services over the configured database.
pub(crate) struct Services {
    pub(crate) database: Database,
    pub(crate) accounts: AccountService,
    pub(crate) sessions: SessionService,
    pub(crate) events: EventService,
    pub(crate) messaging: MessagingService,
    pub(crate) mfa: MfaService,
    pub(crate) passkeys: PasskeyService,
    pub(crate) hub: Arc<Hub>,
    /// Turns message events into frames for this instance's sockets.
    pub(crate) frames: Arc<dyn MessageNotifier>,
    /// The JWT signing key set (issue 20).
    pub(crate) signing_keys: Arc<SigningKeys>,
    /// The key of unknown logins' digests in the audit log (from the MFA key).
    pub(crate) audit_key: AuditKey,
    /// Delivers the email queue once started.
    pub(crate) mail_sender: MailSender,
    /// What the database records of the MFA key: every instance must have
    /// the same (see [`Services::check_mfa_key`]).
    pub(crate) mfa_key_check: String,
    /// The key of the pages' CSRF tokens and sealed sign-ins (from the MFA key).
    pub(crate) pages_key: [u8; 32],
    /// Failed logins, and wrong passwords confirming changes, per account.
    pub(crate) lockout: Arc<Lockout>,
}

/// Makes the data dir (and the outbox, if it exists yet, and a SQLite
/// database kept elsewhere) private, and what the process creates from now
/// on: every command that opens the database does this first.
pub(crate) fn prepare_data_dir(config: &Config) -> Result<(), StartError> {
    restrict_new_files();
    let data_dir_error = |dir: &std::path::Path| {
        let path = dir.display().to_string();
        move |source| StartError::DataDir { path, source }
    };
    std::fs::create_dir_all(&config.data_dir).map_err(data_dir_error(&config.data_dir))?;
    for dir in [config.data_dir.clone(), config.outbox_dir()] {
        make_private(&dir).map_err(data_dir_error(&dir))?;
    }
    for file in Database::sqlite_files(&config.database_url()) {
        make_private(&file).map_err(data_dir_error(&file))?;
    }
    Ok(())
}

/// The configured JWT secret, or the data dir's (made on first start).
pub(crate) fn jwt_secret(config: &Config) -> Result<String, StartError> {
    if let Some(secret) = &config.tokens.jwt_secret {
        return Ok(secret.clone());
    }
    let path = config.data_dir.join("jwt_secret");
    load_or_generate(&path).map_err(|source| StartError::DataDir {
        path: path.display().to_string(),
        source,
    })
}

impl Services {
    /// Refuses an MFA key other than the one the database records (the key
    /// of the first instance that started), before any TOTP secret shows it:
    /// the keys of the pages, the passkeys' fake credential ids and the
    /// audit's digests derive from it, and must be the same everywhere.
    pub(crate) fn check_mfa_key(&self) -> Result<(), StartError> {
        let same = (self.database)
            .key_check(MFA_KEY_CHECK, &self.mfa_key_check)
            .map_err(StartError::setting)?;
        if same {
            return Ok(());
        }
        Err(StartError::Setting(
            "mfa.encryption_key: it is not the key the database records, which another \
             instance started with; give every instance that one (`<data_dir>/mfa_key` when \
             none is set), or, if it is lost, `sesame user totp-off --every-account` with \
             this one"
                .to_owned(),
        ))
    }

    /// Records this MFA key as the one every instance must have, in place of
    /// a lost one.
    pub(crate) fn adopt_mfa_key(&self) -> Result<(), StartError> {
        (self.database)
            .replace_key_check(MFA_KEY_CHECK, &self.mfa_key_check)
            .map_err(StartError::setting)
    }

    /// Opens the database, runs its migrations and builds the services.
    pub(crate) fn build(config: &Config) -> Result<Services, StartError> {
        prepare_data_dir(config)?;
        let database = Database::connect(&config.database_url(), config.database.pool_size)?;
        database.migrate()?;
        let secret = jwt_secret(config)?;
        let mfa_key = match &config.mfa.encryption_key {
            Some(key) => key.clone(),
            None => {
                let path = config.data_dir.join("mfa_key");
                load_or_generate(&path).map_err(|source| StartError::DataDir {
                    path: path.display().to_string(),
                    source,
                })?
            }
        };
        let cipher =
            ChaChaCipher::new(&Sha256::digest(mfa_key.as_bytes())).map_err(StartError::setting)?;
        let signing_keys = signing_keys(config, &database, secret.as_bytes())?;
        let keys = signing_keys.keys();
        let mut bcrypt =
            BcryptHasher::new(config.passwords.bcrypt_cost).map_err(StartError::setting)?;
        if config.passwords.unkeyed_hashes {
            bcrypt = bcrypt.writing_unkeyed();
        }
        let hash_threads = match config.passwords.hash_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let hasher = HashingPool::start(Arc::new(bcrypt), hash_threads).map_err(|source| {
            StartError::Setting(format!(
                "cannot start the password hashing threads: {source}"
            ))
        })?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(database.clone());
        let sealed_mail = Arc::new(mail_cipher(secret.as_bytes())?);
        let (account_mail, mail_sender) =
            mail_services(config, &database, sealed_mail, clock.clone())?;
        let avatar_dir = config.data_dir.join("avatars");
        let avatars = FileAvatarStore::open(&avatar_dir).map_err(|source| StartError::DataDir {
            path: avatar_dir.display().to_string(),
            source,
        })?;
        // Accounts are counted in the database: every instance adds to one count.
        let lockout = Lockout::new(LockoutSettings {
            enabled: config.rate_limit.enabled,
            failures: config.rate_limit.failed_logins_per_account,
            window: std::time::Duration::from_secs(config.rate_limit.failed_login_window_seconds),
        });
        let lockout = Arc::new(lockout.with_account_locks(store.clone()));
        let confirmations = Arc::new(ConfirmationsAsLogins(lockout.clone()));
        let places = hasher.places();
        let accounts = AccountService::new(
            store.clone(),
            Arc::new(hasher),
            clock.clone(),
            AccountSettings {
                require_activation: config.accounts.require_activation,
            },
        )
        .with_hashing_places(places)
        .with_mail(account_mail)
        .with_audit(store.clone())
        .with_confirmation_throttle(confirmations.clone())
        .with_avatars(Avatars {
            store: Arc::new(avatars),
            max_bytes: config.http.max_avatar_bytes,
        });
        let mfa = MfaService::new(store.clone(), Arc::new(cipher), clock.clone())
            .with_sessions(store.clone())
            .with_audit(store.clone())
            .with_throttle(confirmations)
            .with_alerts(accounts.clone());
        let hub = Arc::new(
            Hub::new(config.http.ws_queue_size).with_max_per_user(config.http.ws_max_per_user),
        );
        // On PostgreSQL, events travel through NOTIFY to every instance's hub
        // (this one's too); on SQLite, straight to this instance's hub.
        let frames: Arc<dyn MessageNotifier> = Arc::new(MessageFrames::new(hub.clone()));
        let notifier: Arc<dyn MessageNotifier> = match PgMessageNotifier::new(&database) {
            Some(pg) => Arc::new(pg),
            None => frames.clone(),
        };
        let messaging =
            MessagingService::new(store.clone(), store.clone(), notifier, clock.clone());
        let events = EventService::new(store.clone(), clock.clone());
        let cache_lifetime = config.tokens.cache_seconds;
        let sessions = SessionService::new(
            store.clone(),
            store.clone(),
            clock,
            keys,
            TokenSettings {
                access_ttl: Duration::seconds(config.tokens.access_ttl_seconds),
                refresh_ttl: Duration::seconds(config.tokens.refresh_ttl_seconds),
                opaque_idle: Duration::seconds(config.tokens.opaque_idle_seconds),
            },
        )
        .with_audit(store);
        let sessions = if cache_lifetime > 0 {
            let mut cache = AuthCache::new(
                Duration::seconds(cache_lifetime as i64),
                config.tokens.cache_capacity,
            );
            if let Some(outside) = database.outside_changes() {
                cache = cache.with_outside_changes(outside);
            }
            let cache = Arc::new(cache);
            database.observe_changes(cache.clone());
            sessions.with_cache(cache)
        } else {
            sessions
        };
        let passkeys = passkey_service(
            config,
            &database,
            &accounts,
            &sessions,
            &mfa,
            mfa_key.as_bytes(),
        )?;
        Ok(Services {
            signing_keys,
            database,
            accounts,
            sessions,
            events,
            messaging,
            mfa,
            passkeys,
            hub,
            frames,
            audit_key: AuditKey::derive(mfa_key.as_bytes()),
            mfa_key_check: mfa_key_check(mfa_key.as_bytes()),
            mail_sender,
            pages_key: pages_key(mfa_key.as_bytes()),
            lockout,
        })
    }
}

/// Passkeys for the configured relying party.
fn passkey_service(
    config: &Config,
    database: &Database,
    accounts: &AccountService,
    sessions: &SessionService,
    mfa: &MfaService,
    mfa_key: &[u8],
) -> Result<PasskeyService, StartError> {
    let store = Arc::new(database.clone());
    let settings = PasskeySettings {
        rp_id: config.webauthn.rp_id.clone(),
        rp_name: config.webauthn.rp_name.clone(),
        origin: config.webauthn.origin.clone(),
        fake_credential_key: fake_credential_key(mfa_key).to_vec(),
    };
    let ports = PasskeyPorts {
        passkeys: store.clone(),
        challenges: store.clone(),
        users: store.clone(),
        accounts: accounts.clone(),
        sessions: sessions.clone(),
        mfa: mfa.clone(),
        clock: Arc::new(SystemClock),
    };
    let passkeys = PasskeyService::new(&settings, ports)
        .map_err(|e| StartError::Setting(format!("webauthn: {e}")))?;
    Ok(passkeys.with_audit(store))
}

/// The running HTTP service.
pub struct Application {
    port: u16,
    server: Server,
    mail_sender: actix_rt::Arbiter,
    hub: Arc<Hub>,
    purge: Option<Purge>,
    /// Held while the server runs: key set changes reach it (weakly) to reload it.
    _signing_keys: Arc<SigningKeys>,
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
        // Checked before the signing keys follow the configured algorithm,
        // so that a refused start rotates nothing.
        let secrets = (services.mfa.check_stored_secrets()).map_err(StartError::setting)?;
        if !secrets.unreadable.is_empty() {
            return Err(StartError::setting(format!(
                "mfa.encryption_key: it does not open {} of the {} TOTP secrets in the \
                 database; give every instance the key they were sealed with \
                 (`<data_dir>/mfa_key` when none is set); for those sealed with a lost \
                 key, `sesame user totp-off --unreadable`",
                secrets.unreadable.len(),
                secrets.stored,
            )));
        }
        services.check_mfa_key()?;
        services
            .signing_keys
            .use_configured_algorithm()
            .map_err(StartError::setting)?;
        let listener = TcpListener::bind(&config.http.bind).map_err(|source| StartError::Bind {
            address: config.http.bind.clone(),
            source,
        })?;
        let bind_error = |source| StartError::Bind {
            address: config.http.bind.clone(),
            source,
        };
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let port = local_addr.port();
        if config.believes_every_private_address() {
            tracing::warn!(
                "http.trusted_proxy_header is believed from every loopback and private address \
                 (http.trusted_proxies is unset): a machine on those networks that reaches Sesame \
                 directly chooses its address for the rate limits and the audit log; set \
                 SESAME__HTTP__TRUSTED_PROXIES to your proxy's address"
            );
        }
        // As browsers send them in `Origin`: no trailing slash.
        let cors_origins: Vec<String> = (config.http.cors_allowed_origins.iter())
            .map(|origin| origin.trim_end_matches('/').to_owned())
            .collect();
        let settings = HttpSettings {
            surfaces: config.surfaces()?,
            public_directory: config.users.public_directory,
            secure_cookies: config.secure_cookies(),
            max_json_bytes: config.http.max_json_bytes,
            ws_ping_interval: std::time::Duration::from_secs(config.http.ws_ping_interval_seconds),
            trusted_proxy: config.trusted_proxy()?,
            cors_allowed_origins: cors_origins.clone(),
            public_origin: Some(config.public_origin().to_owned()),
        };
        let limits = Arc::new(RateLimits::new(RateLimitSettings {
            enabled: config.rate_limit.enabled,
            per_ip_per_minute: config.rate_limit.per_ip_per_minute,
            per_ip_burst: config.rate_limit.per_ip_burst,
            messages_per_minute: config.rate_limit.messages_per_minute,
            events_per_minute: config.rate_limit.events_per_minute,
        }));
        let metrics = Arc::new(Metrics::new().counting_dropped_log_lines(logging::dropped_lines));
        let login = login_service(&services, metrics.clone());
        listen_for_notices(&services.database, services.frames.clone());
        // Whatever ends a session closes its sockets at once.
        let revoker = SocketRevoker::start(services.hub.clone(), services.sessions.clone());
        services.database.observe_changes(revoker);
        let purge = Purge::configured(config, &services.database);
        let routes = web::Data::new(Routes::new(&settings));
        let body_timeout = web::Data::new(BodyTimeout(std::time::Duration::from_secs(
            config.http.body_timeout_seconds,
        )));
        let pages = pages(config, &services, login.clone(), limits.clone())?;
        let mail_sender = services.mail_sender.start();
        let database = services.database.clone();
        let pool = services.database.clone();
        let hub = services.hub.clone();
        let state = web::Data::new(AppState {
            accounts: services.accounts,
            sessions: services.sessions,
            login,
            events: services.events,
            messaging: services.messaging,
            mfa: services.mfa,
            passkeys: services.passkeys,
            hub: services.hub,
            limits,
            settings,
            readiness: Arc::new(move || database.is_reachable()),
            metrics,
            pool_usage: Arc::new(move || pool.pool_usage()),
        });
        let hsts_seconds = config.http.hsts_seconds;
        let workers = match config.http.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let apps_built = Arc::new(AtomicUsize::new(0));
        let app = move || {
            let settings = state.settings.clone();
            let app = App::new()
                .app_data(state.clone())
                .app_data(routes.clone())
                .app_data(body_timeout.clone())
                .wrap(middleware::from_fn(sesame_http::routes::unserved))
                .wrap(middleware::from_fn(sesame_http::credential_guard))
                .wrap(middleware::from_fn(sesame_http::stall::body_timeout))
                // Outside every check of what a route is, inside the log.
                .wrap(middleware::from_fn(sesame_http::routes::head_as_get))
                .wrap(cors(&cors_origins))
                // Outside CORS: its own answers (preflights) carry them too.
                .wrap(security_headers(hsts_seconds))
                .wrap(middleware::from_fn(credentials_only_for_allowed_origins))
                .wrap(middleware::from_fn(sesame_http::metrics::track))
                .wrap(middleware::from_fn(access_log))
                .configure(|config| sesame_http::configure(config, &settings))
                .configure(|config| sesame_pages::configure(config, pages.clone()))
                .default_service(web::to(sesame_http::surfaces::not_found));
            if apps_built.fetch_add(1, Ordering::AcqRel) + 1 == workers {
                release_startup_memory();
            }
            app
        };
        // Signals are handled by `run_until_stopped`, which closes the
        // WebSockets (1001) before the graceful stop.
        let server = HttpServer::new(app)
            .disable_signals()
            .shutdown_timeout(10)
            .client_request_timeout(std::time::Duration::from_secs(5))
            // How long a connection lingers after its last answer (a
            // WebSocket's close frame) reading what the client still sends.
            .client_disconnect_timeout(std::time::Duration::from_secs(2))
            .h1_allow_half_closed(true)
            .workers(workers)
            .worker_max_blocking_threads(crate::hashing::BLOCKING_THREADS_PER_WORKER);
        let server = server.listen(listener).map_err(bind_error)?.run();
        tracing::info!(
            address = %format!("http://{}:{port}", host_of(&config.http.bind)),
            database = services.database.backend_name(),
            "Sesame is listening"
        );
        Ok(Application {
            port,
            server,
            mail_sender,
            hub,
            purge,
            _signing_keys: services.signing_keys,
        })
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
        let handle = self.server.handle();
        let hub = self.hub.clone();
        if let Some(purge) = self.purge {
            purge.start();
        }
        reload_keys_every_minute(&self._signing_keys);
        actix_web::rt::spawn(async move {
            shutdown_requested().await;
            tracing::info!("shutting down: closing WebSockets, finishing requests");
            hub.close_all();
            handle.stop(true).await;
        });
        let outcome = self.server.await;
        self.mail_sender.stop();
        outcome
    }
}

/// The one login every route and page shares, locking out by the
/// configured limits.
fn login_service(services: &Services, metrics: Arc<Metrics>) -> LoginService {
    let lockout = services.lockout.clone();
    LoginService::new(
        services.accounts.clone(),
        services.sessions.clone(),
        services.mfa.clone(),
        Arc::new(CountedLockout { lockout, metrics }),
        Arc::new(services.database.clone()),
        services.audit_key.clone(),
        Arc::new(SystemClock),
    )
}

/// The lockout, with each failed login counted in the metrics too.
struct CountedLockout {
    lockout: Arc<Lockout>,
    metrics: Arc<Metrics>,
}

impl LoginThrottle for CountedLockout {
    fn locked_for(&self, keys: &[LoginKey]) -> Option<u64> {
        self.lockout.locked_for(keys)
    }

    fn record_failure(&self, keys: &[LoginKey]) {
        self.metrics.login_failed();
        self.lockout.record_failure(keys);
    }

    fn record_success(&self, keys: &[LoginKey]) {
        self.lockout.record_success(keys);
    }

    fn record_wrong_code(&self, user: UserId) -> u32 {
        self.lockout.record_wrong_code(user)
    }

    fn record_wrong_password(&self, user: UserId) -> u32 {
        self.lockout.record_wrong_password(user)
    }
}

/// The pages under `/account/`, logging in through the same use case,
/// lockout and audit log as every login route; their forms count against
/// the per-address limit of the API's credential routes.
fn pages(
    config: &Config,
    services: &Services,
    login: LoginService,
    limits: Arc<RateLimits>,
) -> Result<Pages, StartError> {
    let settings = PagesSettings {
        secure_cookies: config.secure_cookies(),
        trusted_proxy: config.trusted_proxy()?,
        ip_limit: Some(Arc::new(move |ip| limits.check_ip(ip))),
        public_origin: Some(config.public_origin().to_owned()),
    };
    Pages::new(
        login,
        services.accounts.clone(),
        services.sessions.clone(),
        services.passkeys.clone(),
        &services.pages_key,
        settings,
    )
    .map_err(StartError::setting)
}

/// Gives the allocator's free memory back to the system once every worker
/// has mounted its routes: the start leaves megabytes of freed blocks
/// (configuration, the OpenAPI document, the routes' patterns) in the
/// threads' arenas, where an idle server would keep them.
fn release_startup_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims glibc's own arenas, under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resolves on SIGTERM or SIGINT (never, if signals cannot be watched).
async fn shutdown_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut terminate), Ok(mut interrupt)) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// CORS for the configured origins only; with none, no CORS headers at all.
fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(["authorization", "content-type"])
        .supports_credentials()
        .max_age(3600)
}

/// CORS is for the API only: the pages are posted by their own forms, and
/// a script of an allowed origin must not read the account page (its
/// sessions, its CSRF token) with the browser's cookie. And `actix-cors`
/// says `Access-Control-Allow-Credentials: true` on every answer; it belongs
/// only on answers to an allowed origin (those with
/// `Access-Control-Allow-Origin`).
async fn credentials_only_for_allowed_origins(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    let for_pages = response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN)
        && sesame_pages::serves(&percent_decode_str(response.request().path()).decode_utf8_lossy());
    let headers = response.headers_mut();
    if for_pages {
        headers.remove(ACCESS_CONTROL_ALLOW_ORIGIN);
    }
    if !headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
    Ok(response)
}

/// Headers every response carries: no MIME sniffing, no path in a
/// referrer, no framing.
fn security_headers(hsts_seconds: u64) -> middleware::DefaultHeaders {
    let headers = middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        // The origin alone, never a path (a link page's holds its token,
        // and its stylesheet's request would pass it to the proxy's log).
        // Not `no-referrer`: under it a browser sends `Origin: null` with a
        // page's own form posts, which the pages then refuse as another
        // origin's where the browser sends no `Sec-Fetch-Site`.
        .add(("Referrer-Policy", "strict-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", "frame-ancestors 'none'"))
        // Tokens and accounts are in the answers: no cache keeps them
        // (RFC 6749 §5.1). Answers that may be kept say so themselves.
        .add(("Cache-Control", "no-store"));
    if hsts_seconds > 0 {
        headers.add((
            "Strict-Transport-Security",
            format!("max-age={hsts_seconds}; includeSubDomains"),
        ))
    } else {
        headers
    }
}

fn host_of(bind: &str) -> &str {
    bind.rsplit_once(':').map(|(host, _)| host).unwrap_or(bind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_tokens::SecretCipher;

    const SECRET: &[u8] = b"a pinned secret of some length";

    // Sealed by Python's `cryptography` under SHA-256 of the label, a zero
    // byte and the secret: what sealed stores hold must keep opening.
    #[test]
    fn the_derived_ciphers_open_what_was_sealed_under_their_keys() {
        let signing = sealing_cipher(SECRET).unwrap();
        let sealed_key = "AAECAwQFBgcICQoL7RNZ0xGOvzhvStct3SIUcDMa20C2Mz16eegH0uI";
        assert_eq!(signing.decrypt(sealed_key).unwrap(), b"a signing key");
        let mail = mail_cipher(SECRET).unwrap();
        let sealed_email = "AAECAwQFBgcICQoLEleAA79D-Pt-q8asUclyzVf_zHMCd0SP";
        assert_eq!(mail.decrypt(sealed_email).unwrap(), b"an email");
        assert_eq!(signing.decrypt(sealed_email), None);
    }

    // Python: hashlib.sha256(label + b"\0" + secret).hexdigest()
    #[test]
    fn the_derived_keys_stay_what_they_were() {
        let hex = sesame_kernel::secrets::hex;
        assert_eq!(
            hex(&pages_key(SECRET)),
            "1b244352c6b9ad5ba03a50616ce97ce9c3625a318c64314b887f8caea1ab6326"
        );
        assert_eq!(
            hex(&fake_credential_key(SECRET)),
            "1b357b0aac1c4f82f923f2f5a85d753c145f4e1d04b541a5a598cb77a764b5a1"
        );
    }
}
