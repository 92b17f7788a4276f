use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};
use sesame_http::Surface;
use sesame_kernel::audit::TrustedProxy;
use sesame_persistence::Database;

/// Everything Sesame can be told, from `config/default.toml`, then
/// `DATABASE_URL`, then `SESAME__SECTION__KEY` environment variables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite file, the generated secrets, the outbox and avatars live.
    pub data_dir: PathBuf,
    /// HTTP server.
    pub http: HttpConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Token lifetimes and the JWT key.
    pub tokens: TokensConfig,
    /// Password hashing.
    pub passwords: PasswordsConfig,
    /// Account rules.
    pub accounts: AccountsConfig,
    /// User directory.
    pub users: UsersConfig,
    /// Outgoing email.
    pub mail: MailConfig,
    /// Rate limits.
    pub rate_limit: RateLimitConfig,
    /// Logging.
    pub log: LogConfig,
    /// Second factors.
    pub mfa: MfaConfig,
    /// Removal of expired and used rows.
    pub purge: PurgeConfig,
    /// Passkeys: the WebAuthn relying party.
    pub webauthn: WebauthnConfig,
}

/// The longest timeout, interval or retention a setting may ask for.
const MAX_PERIOD_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// The most frames `http.ws_queue_size` may let one socket queue.
const MOST_QUEUED_FRAMES: usize = 65_536;

/// A period setting for [`Config::validate`]: its key, its value in its
/// unit, the least and the most it may be.
type Period = (&'static str, i128, i128, i128);

/// A setting in seconds, at least `least` and at most ten years.
fn period(key: &'static str, seconds: impl Into<i128>, least: i128) -> Period {
    (key, seconds.into(), least, MAX_PERIOD_SECONDS.into())
}

/// A setting in milliseconds, at least `least` and at most ten years.
fn period_ms(key: &'static str, millis: u64, least: i128) -> Period {
    (
        key,
        millis.into(),
        least,
        i128::from(MAX_PERIOD_SECONDS) * 1000,
    )
}

/// `[purge]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PurgeConfig {
    /// How often expired sessions and tokens, used or expired one-time
    /// tokens and delivered emails are removed; 0: never.
    pub interval_seconds: u64,
    /// How long such rows are kept after they expired, were used or
    /// delivered (an email, at least an hour after it was queued: the
    /// caps on emails to an address count it); 0: never removed.
    pub retention_seconds: u64,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        PurgeConfig {
            interval_seconds: 300,
            retention_seconds: 7 * 24 * 3600,
        }
    }
}

/// `[webauthn]`: the relying party passkeys are registered for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebauthnConfig {
    /// The relying party id: the site's domain (the origin's host or a parent of it).
    pub rp_id: String,
    /// The name an authenticator shows.
    pub rp_name: String,
    /// The origin browsers report (`https://id.example.com`); others are refused.
    pub origin: String,
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        WebauthnConfig {
            rp_id: "localhost".to_owned(),
            rp_name: "Sesame".to_owned(),
            origin: "http://localhost:8080".to_owned(),
        }
    }
}

/// `[mfa]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaConfig {
    /// The key TOTP secrets are encrypted with at rest (any string of at
    /// least 32 characters; it is hashed into a 256-bit key); default:
    /// generated once into `<data_dir>/mfa_key`.
    pub encryption_key: Option<String>,
}

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address.
    pub bind: String,
    /// Surfaces to serve: a list, or one comma-separated string.
    #[serde(deserialize_with = "comma_separated")]
    pub surfaces: Vec<String>,
    /// Mark cookies (the refresh cookie, the pages') `Secure`; they are
    /// whenever `public_url` is `https://` too (see [`Config::secure_cookies`]).
    pub secure_cookies: bool,
    /// Largest JSON body, in bytes.
    pub max_json_bytes: usize,
    /// Largest avatar upload, in bytes (the multipart body may be a little larger).
    pub max_avatar_bytes: usize,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Seconds between WebSocket pings; a socket that misses two pongs is closed.
    pub ws_ping_interval_seconds: u64,
    /// Frames queued per WebSocket before a slow reader is dropped (1 to 65,536).
    pub ws_queue_size: usize,
    /// WebSockets one user may hold open; past it a new one is closed with 1008.
    pub ws_max_per_user: usize,
    /// The header a trusted reverse proxy sets to the client address, a
    /// list of bare addresses (e.g. `X-Forwarded-For`, not RFC 7239's
    /// `Forwarded`); unset, forwarding headers are ignored.
    pub trusted_proxy_header: Option<String>,
    /// Where that header is believed from: the proxy's addresses or
    /// networks (`10.0.0.0/8`); by default loopback and the private ranges.
    #[serde(deserialize_with = "comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// `Strict-Transport-Security` max-age in seconds; 0 sends none (set it behind TLS).
    pub hsts_seconds: u64,
    /// Origins (`https://app.example.com`) whose browser pages may call
    /// Sesame, cookies included; empty: none (no CORS headers at all).
    #[serde(deserialize_with = "comma_separated")]
    pub cors_allowed_origins: Vec<String>,
    /// A request body that sends nothing for this long, or is not whole after
    /// six times as long, is cut off (408); 0: never.
    pub body_timeout_seconds: u64,
    /// The origin people reach Sesame at (`https://auth.example.com`): the
    /// default email links point at its pages under `/account/`.
    pub public_url: String,
}

/// `[database]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`; default: `sqlite://<data_dir>/sesame.db`.
    pub url: Option<String>,
    /// The most connections the pool opens (two stay open while idle).
    pub pool_size: u32,
}

/// `[tokens]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// HS256 key; default: generated once into the data dir.
    pub jwt_secret: Option<String>,
    /// Access JWT lifetime.
    pub access_ttl_seconds: i64,
    /// Refresh lifetime.
    pub refresh_ttl_seconds: i64,
    /// Sliding lifetime of opaque tokens.
    pub opaque_idle_seconds: i64,
    /// How long a checked session and its account are trusted from memory
    /// (every change to them drops the copy at once); 0 turns the cache off.
    pub cache_seconds: u64,
    /// How many sessions the cache holds at most.
    pub cache_capacity: usize,
    /// `HS256`, `ES256`, `RS256` or `EdDSA`: how every JWT is signed.
    pub algorithm: String,
    /// The `iss` claim of every JWT.
    pub issuer: String,
}

/// `[passwords]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordsConfig {
    /// bcrypt cost (4..=20).
    pub bcrypt_cost: u32,
    /// Threads that hash passwords, apart from those serving requests;
    /// 0: one per core.
    pub hash_threads: usize,
    /// Write the older unkeyed hashes, which versions before the keyed ones
    /// read, while such instances run beside this one (docs/operations.md).
    pub unkeyed_hashes: bool,
}

/// `[accounts]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// New accounts need the emailed activation link.
    pub require_activation: bool,
    /// Lifetime of activation links.
    pub activation_ttl_seconds: i64,
    /// Lifetime of password reset links.
    pub password_reset_ttl_seconds: i64,
    /// Lifetime of username reset links.
    pub username_reset_ttl_seconds: i64,
    /// Lifetime of email change links.
    pub email_change_ttl_seconds: i64,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            require_activation: false,
            activation_ttl_seconds: 3 * 24 * 3600,
            password_reset_ttl_seconds: 3600,
            username_reset_ttl_seconds: 3600,
            email_change_ttl_seconds: 3600,
        }
    }
}

/// `[users]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsersConfig {
    /// `/users/` answers without a token.
    pub public_directory: bool,
}

/// `[mail]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Where emails go without SMTP; default: `<data_dir>/outbox`.
    pub outbox_dir: Option<PathBuf>,
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS) or
    /// `smtps://host:port` (implicit TLS); unset: the outbox.
    pub smtp_url: Option<String>,
    /// The `From:` of every email.
    pub from: String,
    /// Seconds one SMTP conversation may take (connect, each read and write).
    pub timeout_seconds: u64,
    /// Wait after a failed delivery, doubled on each further failure.
    pub retry_initial_ms: u64,
    /// The longest wait between two delivery attempts.
    pub retry_max_ms: u64,
    /// Attempts before an email is given up.
    pub max_attempts: u32,
    /// Activation link, with `{uid}` and `{token}`; unset: Sesame's own
    /// page, `{public_url}/account/activate/{uid}/{token}`.
    pub activation_url: Option<String>,
    /// Password reset link, with `{uid}` and `{token}`; unset:
    /// `{public_url}/account/password/reset/confirm/{uid}/{token}`.
    pub password_reset_url: Option<String>,
    /// Username reset link, with `{uid}` and `{token}`; unset:
    /// `{public_url}/account/username/reset/confirm/{uid}/{token}`.
    pub username_reset_url: Option<String>,
    /// Email change confirmation link, with `{uid}` and `{token}`; unset:
    /// `{public_url}/account/email/confirm/{uid}/{token}`.
    pub email_confirm_url: Option<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            outbox_dir: None,
            smtp_url: None,
            from: "Sesame <noreply@localhost>".into(),
            timeout_seconds: 10,
            retry_initial_ms: 2000,
            retry_max_ms: 600_000,
            max_attempts: 20,
            activation_url: None,
            password_reset_url: None,
            username_reset_url: None,
            email_confirm_url: None,
        }
    }
}

/// `[rate_limit]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Per-IP and per-account limits on credential routes.
    pub enabled: bool,
    /// Credential requests per minute per client IP, sustained.
    pub per_ip_per_minute: u32,
    /// Credential requests per client IP in a burst.
    pub per_ip_burst: u32,
    /// Failed logins an account takes before it is locked for a while.
    pub failed_logins_per_account: u32,
    /// Seconds one failed login stays counted against its account.
    pub failed_login_window_seconds: u64,
    /// Messages per minute per user.
    pub messages_per_minute: u32,
    /// Events created per minute per user.
    pub events_per_minute: u32,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `sesame=debug,info`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            http: HttpConfig::default(),
            database: DatabaseConfig {
                url: None,
                pool_size: 16,
            },
            tokens: TokensConfig::default(),
            passwords: PasswordsConfig::default(),
            accounts: AccountsConfig::default(),
            users: UsersConfig::default(),
            mail: MailConfig::default(),
            rate_limit: RateLimitConfig::default(),
            log: LogConfig::default(),
            mfa: MfaConfig::default(),
            purge: PurgeConfig::default(),
            webauthn: WebauthnConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: "127.0.0.1:8080".into(),
            surfaces: Surface::ALL.iter().map(|s| s.name().to_owned()).collect(),
            secure_cookies: false,
            max_json_bytes: 64 * 1024,
            max_avatar_bytes: 2 * 1024 * 1024,
            workers: 0,
            ws_ping_interval_seconds: 30,
            ws_queue_size: 256,
            ws_max_per_user: sesame_http::DEFAULT_MAX_SOCKETS_PER_USER,
            trusted_proxy_header: None,
            trusted_proxies: TrustedProxy::PRIVATE_NETWORKS.map(String::from).to_vec(),
            hsts_seconds: 0,
            cors_allowed_origins: Vec::new(),
            body_timeout_seconds: 10,
            public_url: "http://localhost:8080".into(),
        }
    }
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            jwt_secret: None,
            access_ttl_seconds: 900,
            refresh_ttl_seconds: 604_800,
            opaque_idle_seconds: 3600,
            cache_seconds: 10,
            cache_capacity: 100_000,
            algorithm: "HS256".into(),
            issuer: "sesame".into(),
        }
    }
}

impl Default for PasswordsConfig {
    fn default() -> Self {
        PasswordsConfig {
            bcrypt_cost: 12,
            hash_threads: 0,
            unkeyed_hashes: false,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            per_ip_per_minute: 300,
            per_ip_burst: 100,
            failed_logins_per_account: 10,
            failed_login_window_seconds: 60,
            messages_per_minute: 600,
            events_per_minute: 60,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// A configuration Sesame cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or variable could not be read into the configuration.
    #[error("invalid configuration: {0}")]
    Load(String),
    /// A value is out of its allowed range or malformed.
    #[error("invalid configuration: {key}: {problem}")]
    Invalid {
        /// The key, as `section.key`.
        key: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// A list, or one comma-separated string (what an environment variable holds).
fn comma_separated<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Names::deserialize(deserializer)? {
        Names::One(list) => list
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Names::Many(names) => names,
    })
}

impl Config {
    /// Reads `config/default.toml` (if present) under `config_dir`, then the
    /// environment, over the built-in defaults, and checks the result.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad value, or a key Sesame does not
    /// have (a misspelt one would otherwise leave its default in force).
    pub fn load(config_dir: &Path) -> Result<Config, ConfigError> {
        // `SESAME__DATABASE__URL`, the more particular, wins over `DATABASE_URL`.
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(config_dir.join("default.toml")))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::prefixed("SESAME__").split("__"));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that could stop the service later.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for the first bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| Err(ConfigError::Invalid { key, problem });
        let costs = sesame_users::BCRYPT_COSTS;
        if !costs.contains(&self.passwords.bcrypt_cost) {
            let (low, high) = (costs.start(), costs.end());
            return invalid(
                "passwords.bcrypt_cost",
                format!(
                    "must be between {low} and {high}, not {}",
                    self.passwords.bcrypt_cost
                ),
            );
        }
        if self.http.bind.parse::<SocketAddr>().is_err() {
            return invalid(
                "http.bind",
                format!(
                    "{:?} is not an address such as 127.0.0.1:8080",
                    self.http.bind
                ),
            );
        }
        if let Err(e) = Database::check_url(&self.database_url()) {
            return invalid("database.url", e.to_string());
        }
        if self.database.pool_size == 0 {
            return invalid("database.pool_size", "must be at least 1".into());
        }
        self.trusted_proxy()?;
        // Every period at most ten years: longer ones overflow the date
        // arithmetic they feed (`now + ttl`), at start or at every login.
        let (http, tokens, accounts) = (&self.http, &self.tokens, &self.accounts);
        let login_window = self.rate_limit.failed_login_window_seconds;
        for (key, value, least, most) in [
            period(
                "http.ws_ping_interval_seconds",
                http.ws_ping_interval_seconds,
                1,
            ),
            period("http.body_timeout_seconds", http.body_timeout_seconds, 0),
            period("purge.interval_seconds", self.purge.interval_seconds, 0),
            period("purge.retention_seconds", self.purge.retention_seconds, 0),
            period("tokens.access_ttl_seconds", tokens.access_ttl_seconds, 1),
            period("tokens.refresh_ttl_seconds", tokens.refresh_ttl_seconds, 1),
            period("tokens.opaque_idle_seconds", tokens.opaque_idle_seconds, 1),
            period("tokens.cache_seconds", tokens.cache_seconds, 0),
            period(
                "accounts.activation_ttl_seconds",
                accounts.activation_ttl_seconds,
                1,
            ),
            period(
                "accounts.password_reset_ttl_seconds",
                accounts.password_reset_ttl_seconds,
                1,
            ),
            period(
                "accounts.username_reset_ttl_seconds",
                accounts.username_reset_ttl_seconds,
                1,
            ),
            period(
                "accounts.email_change_ttl_seconds",
                accounts.email_change_ttl_seconds,
                1,
            ),
            period("rate_limit.failed_login_window_seconds", login_window, 0),
            period("mail.timeout_seconds", self.mail.timeout_seconds, 1),
            period_ms("mail.retry_initial_ms", self.mail.retry_initial_ms, 1),
            period_ms("mail.retry_max_ms", self.mail.retry_max_ms, 0),
        ] {
            if !(least..=most).contains(&value) {
                return invalid(
                    key,
                    format!("must be between {least} and {most} (ten years), not {value}"),
                );
            }
        }
        if let Some(secret) = &self.tokens.jwt_secret {
            if secret.len() < 32 {
                return invalid("tokens.jwt_secret", "must be at least 32 bytes long".into());
            }
        }
        if let Err(e) = self
            .tokens
            .algorithm
            .parse::<sesame_tokens::SigningAlgorithm>()
        {
            return invalid("tokens.algorithm", e.to_string());
        }
        if self.tokens.issuer.trim().is_empty() {
            return invalid("tokens.issuer", "must not be empty".into());
        }
        let public_url = &self.http.public_url;
        let scheme_ok = public_url.starts_with("https://") || public_url.starts_with("http://");
        if !scheme_ok || public_url.trim_end_matches('/').matches('/').count() != 2 {
            return invalid(
                "http.public_url",
                format!("{public_url:?} is not an origin such as https://auth.example.com"),
            );
        }
        let links = self.link_templates();
        for (key, template) in [
            ("mail.activation_url", &links.activation),
            ("mail.password_reset_url", &links.password_reset),
            ("mail.username_reset_url", &links.username_reset),
            ("mail.email_confirm_url", &links.email_confirm),
        ] {
            if !(template.contains("{uid}") && template.contains("{token}")) {
                return invalid(
                    key,
                    format!("{template:?} must contain {{uid}} and {{token}}"),
                );
            }
        }
        if self.mail.max_attempts == 0 {
            return invalid("mail.max_attempts", "must be at least 1".into());
        }
        if self.http.max_avatar_bytes == 0 {
            return invalid("http.max_avatar_bytes", "must be at least 1".into());
        }
        // Past this a slow reader's backlog is all but unbounded, and far
        // past it the queue cannot be made at all: every socket would fail.
        let queue = self.http.ws_queue_size;
        if !(1..=MOST_QUEUED_FRAMES).contains(&queue) {
            return invalid(
                "http.ws_queue_size",
                format!("must be between 1 and {MOST_QUEUED_FRAMES}, not {queue}"),
            );
        }
        if let Some(key) = &self.mfa.encryption_key {
            if key.len() < 32 {
                return invalid(
                    "mfa.encryption_key",
                    "must be at least 32 characters long".into(),
                );
            }
        }
        for origin in &self.http.cors_allowed_origins {
            let scheme_ok = origin.starts_with("https://") || origin.starts_with("http://");
            if !scheme_ok || origin.trim_end_matches('/').matches('/').count() != 2 {
                return invalid(
                    "http.cors_allowed_origins",
                    format!("{origin:?} is not an origin such as https://app.example.com"),
                );
            }
        }
        self.surfaces()?;
        Ok(())
    }

    /// The enabled surfaces.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for an unknown name.
    pub fn surfaces(&self) -> Result<Vec<Surface>, ConfigError> {
        self.http
            .surfaces
            .iter()
            .map(|name| {
                Surface::from_name(name).ok_or_else(|| ConfigError::Invalid {
                    key: "http.surfaces",
                    problem: format!(
                        "unknown surface {name:?}; known: primary, events_messages, token_form, opaque, cookie_refresh"
                    ),
                })
            })
            .collect()
    }

    /// The reverse proxy whose header tells the client address, if one is
    /// configured.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for RFC 7239's `Forwarded` header (its
    /// `for=` pairs would not parse, and every client would count as the
    /// proxy), or a proxy address that is not one.
    pub fn trusted_proxy(&self) -> Result<Option<TrustedProxy>, ConfigError> {
        let Some(header) = &self.http.trusted_proxy_header else {
            return Ok(None);
        };
        if header.trim().eq_ignore_ascii_case("forwarded") {
            return Err(ConfigError::Invalid {
                key: "http.trusted_proxy_header",
                problem: "must name a header holding bare addresses, such as X-Forwarded-For, not Forwarded".into(),
            });
        }
        TrustedProxy::new(header, &self.http.trusted_proxies)
            .map(Some)
            .map_err(|problem| ConfigError::Invalid {
                key: "http.trusted_proxies",
                problem,
            })
    }

    /// Whether the trusted proxy header is set and believed from the
    /// default networks, every loopback and private address.
    pub fn believes_every_private_address(&self) -> bool {
        let defaults = HttpConfig::default().trusted_proxies;
        self.http.trusted_proxy_header.is_some() && self.http.trusted_proxies == defaults
    }

    /// The database URL, defaulting to a SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("sesame.db").display()))
    }

    /// Whether cookies are marked `Secure`: when configured, or when people
    /// reach Sesame over HTTPS (`public_url`), so that a deployment behind
    /// TLS never sends its session cookies in clear by default.
    pub fn secure_cookies(&self) -> bool {
        self.http.secure_cookies || self.http.public_url.starts_with("https://")
    }

    /// The origin people reach Sesame at: `public_url` without its slash.
    pub fn public_origin(&self) -> &str {
        self.http.public_url.trim_end_matches('/')
    }

    /// The links the emails carry: the configured templates, or else
    /// Sesame's own pages under `{public_url}/account/`.
    pub fn link_templates(&self) -> sesame_users::LinkTemplates {
        let origin = self.public_origin();
        let or_page = |configured: &Option<String>, path: &str| {
            configured
                .clone()
                .unwrap_or_else(|| format!("{origin}/account/{path}/{{uid}}/{{token}}"))
        };
        sesame_users::LinkTemplates {
            activation: or_page(&self.mail.activation_url, "activate"),
            password_reset: or_page(&self.mail.password_reset_url, "password/reset/confirm"),
            username_reset: or_page(&self.mail.username_reset_url, "username/reset/confirm"),
            email_confirm: or_page(&self.mail.email_confirm_url, "email/confirm"),
        }
    }

    /// The outbox folder, defaulting to `outbox` in the data dir.
    pub fn outbox_dir(&self) -> PathBuf {
        self.mail
            .outbox_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(change: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
        let mut config = Config::default();
        change(&mut config);
        config.validate()
    }

    #[test]
    fn defaults_are_valid() {
        assert!(with(|_| {}).is_ok());
        assert_eq!(
            Config::default().database_url(),
            "sqlite://./data/sesame.db"
        );
    }

    #[test]
    fn a_trusted_header_believed_from_every_private_address_is_told() {
        let mut config = Config::default();
        assert!(
            !config.believes_every_private_address(),
            "no header, nothing believed"
        );
        config.http.trusted_proxy_header = Some("X-Real-IP".into());
        assert!(config.believes_every_private_address());
        config.http.trusted_proxies = vec!["10.0.0.5".into()];
        assert!(!config.believes_every_private_address());
    }

    #[test]
    fn bad_values_name_their_key() {
        type Change = fn(&mut Config);
        let bad: [(Change, &str); 21] = [
            (|c| c.passwords.bcrypt_cost = 21, "passwords.bcrypt_cost"),
            (|c| c.http.bind = "nowhere".into(), "http.bind"),
            (
                |c| c.database.url = Some("mysql://x".into()),
                "database.url",
            ),
            (
                |c| c.http.surfaces = vec!["primary".into(), "soap".into()],
                "http.surfaces",
            ),
            (
                |c| c.tokens.access_ttl_seconds = 0,
                "tokens.access_ttl_seconds",
            ),
            (
                |c| c.http.body_timeout_seconds = u64::MAX,
                "http.body_timeout_seconds",
            ),
            (
                |c| c.purge.retention_seconds = u64::MAX,
                "purge.retention_seconds",
            ),
            // Each of these overflowed date arithmetic at start or at every login.
            (
                |c| c.tokens.access_ttl_seconds = i64::MAX,
                "tokens.access_ttl_seconds",
            ),
            (
                |c| c.accounts.password_reset_ttl_seconds = 1 << 45,
                "accounts.password_reset_ttl_seconds",
            ),
            (
                |c| c.tokens.cache_seconds = u64::MAX,
                "tokens.cache_seconds",
            ),
            (
                |c| c.http.trusted_proxy_header = Some("Forwarded".into()),
                "http.trusted_proxy_header",
            ),
            (
                |c| {
                    c.http.trusted_proxy_header = Some("X-Real-IP".into());
                    c.http.trusted_proxies = vec!["10.0.0.0/8".into(), "proxy.internal".into()];
                },
                "http.trusted_proxies",
            ),
            (
                |c| {
                    c.http.trusted_proxy_header = Some("X-Real-IP".into());
                    c.http.trusted_proxies = Vec::new();
                },
                "http.trusted_proxies",
            ),
            (
                |c| c.http.ws_ping_interval_seconds = u64::MAX / 2,
                "http.ws_ping_interval_seconds",
            ),
            (
                |c| c.rate_limit.failed_login_window_seconds = u64::MAX,
                "rate_limit.failed_login_window_seconds",
            ),
            (
                |c| c.mail.timeout_seconds = u64::MAX,
                "mail.timeout_seconds",
            ),
            (|c| c.mail.retry_initial_ms = 0, "mail.retry_initial_ms"),
            (|c| c.mail.retry_max_ms = u64::MAX, "mail.retry_max_ms"),
            (|c| c.mail.max_attempts = 0, "mail.max_attempts"),
            (|c| c.http.ws_queue_size = 0, "http.ws_queue_size"),
            (|c| c.http.ws_queue_size = usize::MAX, "http.ws_queue_size"),
        ];
        for (change, expected) in bad {
            match with(change) {
                Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, expected),
                other => panic!("{expected}: expected an invalid key, got {other:?}"),
            }
        }
        assert!(with(|c| c.tokens.refresh_ttl_seconds = 10 * 365 * 24 * 3600).is_ok());
        assert!(with(|c| c.http.ws_queue_size = MOST_QUEUED_FRAMES).is_ok());
    }

    #[test]
    fn surfaces_from_one_comma_separated_string() {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(("http.surfaces", "primary, opaque"))
            .extract()
            .unwrap();
        assert_eq!(
            config.surfaces().unwrap(),
            vec![Surface::Primary, Surface::Opaque]
        );
    }

    #[test]
    fn the_proxy_header_is_believed_from_the_listed_networks_alone() {
        let proxy = |proxies: Option<&str>| {
            let mut figment = Figment::from(Serialized::defaults(Config::default()))
                .merge(("http.trusted_proxy_header", "X-Real-IP"));
            if let Some(proxies) = proxies {
                figment = figment.merge(("http.trusted_proxies", proxies));
            }
            let config: Config = figment.extract().unwrap();
            config.trusted_proxy().unwrap().unwrap()
        };
        let client = |proxy: &TrustedProxy, peer: &str| {
            let ip = proxy.client_ip(Some(b"203.0.113.9"), peer.parse().ok());
            ip.unwrap().to_string()
        };
        let listed = proxy(Some("10.0.0.5, 192.168.0.0/16"));
        assert_eq!(client(&listed, "10.0.0.5"), "203.0.113.9");
        assert_eq!(client(&listed, "192.168.7.1"), "203.0.113.9");
        assert_eq!(client(&listed, "10.0.0.6"), "10.0.0.6");
        assert_eq!(client(&listed, "127.0.0.1"), "127.0.0.1");
        let default = proxy(None);
        for peer in [
            "127.0.0.1",
            "::1",
            "10.1.1.1",
            "172.31.0.2",
            "192.168.1.1",
            "fd00::1",
        ] {
            assert_eq!(client(&default, peer), "203.0.113.9", "{peer}");
        }
        for peer in ["172.32.0.1", "198.51.100.7", "2001:db8::1"] {
            assert_eq!(client(&default, peer), peer, "{peer}");
        }
    }

    #[test]
    fn shipped_email_flow_keys_are_the_defaults() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let shipped: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(dir.join("default.toml")))
            .extract()
            .unwrap();
        let defaults = Config::default();
        assert_eq!(
            format!("{:?}", shipped.mail),
            format!("{:?}", defaults.mail)
        );
        assert_eq!(
            format!("{:?}", shipped.accounts),
            format!("{:?}", defaults.accounts)
        );
        assert_eq!(
            shipped.http.max_avatar_bytes,
            defaults.http.max_avatar_bytes
        );
    }

    #[test]
    fn shipped_webauthn_keys_are_the_defaults_of_api_md() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let shipped: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(dir.join("default.toml")))
            .extract()
            .unwrap();
        for webauthn in [shipped.webauthn, Config::default().webauthn] {
            assert_eq!(webauthn.rp_id, "localhost");
            assert_eq!(webauthn.rp_name, "Sesame");
            assert_eq!(webauthn.origin, "http://localhost:8080");
        }
        let set: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(("webauthn.rp_id", "id.example.com"))
            .merge(("webauthn.origin", "https://id.example.com"))
            .extract()
            .unwrap();
        assert_eq!(set.webauthn.rp_id, "id.example.com");
        assert_eq!(set.webauthn.origin, "https://id.example.com");
    }

    #[test]
    fn default_links_open_the_pages_and_configured_ones_win() {
        let mut config = Config::default();
        config.http.public_url = "https://auth.example.com/".into();
        let links = config.link_templates();
        assert_eq!(
            links.activation,
            "https://auth.example.com/account/activate/{uid}/{token}"
        );
        assert_eq!(
            links.password_reset,
            "https://auth.example.com/account/password/reset/confirm/{uid}/{token}"
        );
        assert_eq!(
            links.username_reset,
            "https://auth.example.com/account/username/reset/confirm/{uid}/{token}"
        );
        assert_eq!(
            links.email_confirm,
            "https://auth.example.com/account/email/confirm/{uid}/{token}"
        );
        assert_eq!(
            Config::default().link_templates().activation,
            "http://localhost:8080/account/activate/{uid}/{token}"
        );
        config.mail.activation_url = Some("https://app.example.com/activate/{uid}/{token}".into());
        assert_eq!(
            config.link_templates().activation,
            "https://app.example.com/activate/{uid}/{token}"
        );
    }

    #[test]
    fn email_flow_keys_are_checked() {
        let key_of = |r: Result<(), ConfigError>| match r {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid key, got {other:?}"),
        };
        assert_eq!(Config::default().accounts.activation_ttl_seconds, 259_200);
        assert_eq!(Config::default().accounts.password_reset_ttl_seconds, 3600);
        assert_eq!(Config::default().http.max_avatar_bytes, 2 * 1024 * 1024);
        assert_eq!(
            key_of(with(|c| c.accounts.password_reset_ttl_seconds = 0)),
            "accounts.password_reset_ttl_seconds"
        );
        assert_eq!(
            key_of(with(
                |c| c.mail.activation_url = Some("https://x/activate/{token}".into())
            )),
            "mail.activation_url"
        );
        assert_eq!(
            key_of(with(|c| c.http.public_url = "localhost:8080".into())),
            "http.public_url"
        );
        assert_eq!(
            key_of(with(|c| c.mail.max_attempts = 0)),
            "mail.max_attempts"
        );
        assert_eq!(
            key_of(with(|c| c.http.max_avatar_bytes = 0)),
            "http.max_avatar_bytes"
        );
    }
}
