//! The background purge: every interval, rows that ended longer ago than
//! the retention (see [`Database::purge_before`]) are removed.

use std::time::Duration;

use sesame_persistence::Database;

/// The purge of one service, as configured.
pub(crate) struct Purge {
    database: Database,
    interval: Duration,
    retention: chrono::Duration,
}

impl Purge {
    /// `None` when the configuration turns it off (either setting 0).
    pub(crate) fn configured(config: &crate::Config, database: &Database) -> Option<Purge> {
        let settings = &config.purge;
        if settings.interval_seconds == 0 || settings.retention_seconds == 0 {
            return None;
        }
        Some(Purge {
            database: database.clone(),
            interval: Duration::from_secs(settings.interval_seconds),
            // At most ten years (`Config::validate`): no overflow.
            retention: chrono::Duration::seconds(settings.retention_seconds as i64),
        })
    }

    /// Purges now and then every interval, on the blocking pool, until the
    /// actix system stops.
    pub(crate) fn start(self) {
        actix_web::rt::spawn(async move {
            let mut ticks = actix_web::rt::time::interval(self.interval);
            loop {
                ticks.tick().await;
                let database = self.database.clone();
                let cutoff = chrono::Utc::now() - self.retention;
                let outcome =
                    actix_web::rt::task::spawn_blocking(move || database.purge_before(cutoff))
                        .await;
                match outcome {
                    Ok(Ok(purged)) => tracing::info!(
                        sessions = purged.sessions,
                        account_tokens = purged.account_tokens,
                        emails = purged.emails,
                        "purged ended rows"
                    ),
                    Ok(Err(error)) => tracing::warn!(%error, "purge failed; will retry"),
                    Err(_) => return,
                }
            }
        });
    }
}
