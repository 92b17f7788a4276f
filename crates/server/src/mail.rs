//! Outgoing mail wiring: the adapter the configuration asks for, the email
//! flows of the account service, and the background sender that delivers the
//! queue (kept in the database) with retries.

use std::sync::Arc;
use std::time::Duration;

use actix_rt::{task, time, Arbiter};
use sesame_kernel::secrets::SecretCipher;
use sesame_kernel::Clock;
use sesame_mail::MailSettings;
use sesame_persistence::Database;
use sesame_users::{AccountMail, MailDelivery, RetryPolicy, TokenLifetimes};
use tokio::sync::Notify;

use crate::app::StartError;
use crate::Config;

/// How long the sender sleeps when nothing is due (emails queued by another
/// instance or by the CLI are found at the latest then).
const IDLE: Duration = Duration::from_secs(5);
/// The pause after the queue itself failed (database down).
const AFTER_ERROR: Duration = Duration::from_secs(5);

/// The background sender, ready to start.
pub(crate) struct MailSender {
    delivery: MailDelivery,
    wake: Arc<Notify>,
}

/// The email flows of the account service, and the sender of their emails.
pub(crate) fn mail_services(
    config: &Config,
    database: &Database,
    cipher: Arc<dyn SecretCipher>,
    clock: Arc<dyn Clock>,
) -> Result<(AccountMail, MailSender), StartError> {
    let settings = MailSettings {
        from: config.mail.from.clone(),
        smtp_url: config.mail.smtp_url.clone(),
        outbox_dir: config.outbox_dir(),
        timeout: Duration::from_secs(config.mail.timeout_seconds),
    };
    let mailer = sesame_mail::mailer(&settings).map_err(StartError::setting)?;
    let store = Arc::new(database.clone());
    let millis = |ms: u64| chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX));
    let policy = RetryPolicy {
        initial_backoff: millis(config.mail.retry_initial_ms),
        max_backoff: millis(config.mail.retry_max_ms.max(config.mail.retry_initial_ms)),
        max_attempts: config.mail.max_attempts,
        // Longer than one SMTP conversation can take.
        lease: chrono::Duration::seconds(
            i64::try_from(config.mail.timeout_seconds.saturating_mul(6)).unwrap_or(i64::MAX),
        )
        .max(chrono::Duration::minutes(1)),
    };
    let delivery = MailDelivery::new(store.clone(), mailer, cipher.clone(), clock, policy);
    let wake = Arc::new(Notify::new());
    let waker = wake.clone();
    let seconds = chrono::Duration::seconds;
    let mail = AccountMail {
        store,
        links: config.link_templates(),
        lifetimes: TokenLifetimes {
            activation: seconds(config.accounts.activation_ttl_seconds),
            password_reset: seconds(config.accounts.password_reset_ttl_seconds),
            username_reset: seconds(config.accounts.username_reset_ttl_seconds),
            email_change: seconds(config.accounts.email_change_ttl_seconds),
        },
        queued: Arc::new(move || waker.notify_one()),
        cipher,
    };
    Ok((mail, MailSender { delivery, wake }))
}

impl MailSender {
    /// Starts delivering on a thread of its own (an actix arbiter, which
    /// stops with the actix system). Each pass runs on the blocking pool;
    /// between passes it sleeps until the next email is due, or until a new
    /// one is queued.
    pub(crate) fn start(self) -> Arbiter {
        let arbiter = Arbiter::new();
        let MailSender { delivery, wake } = self;
        arbiter.spawn(async move {
            loop {
                let pass = delivery.clone();
                let pause = match task::spawn_blocking(move || pass.deliver_due()).await {
                    Ok(Ok(report)) => report.next_due.map_or(IDLE, |due| {
                        (due - chrono::Utc::now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .clamp(Duration::from_millis(10), IDLE)
                    }),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "the email queue is unavailable");
                        AFTER_ERROR
                    }
                    Err(_) => AFTER_ERROR,
                };
                let _ = time::timeout(pause, wake.notified()).await;
            }
        });
        arbiter
    }
}
