//! Delivery of queued emails: one pass takes the due ones, sends each, and
//! records the outcome, retrying failures later with exponential backoff.

use std::sync::Arc;

use chrono::Duration;
use sesame_kernel::secrets::SecretCipher;
use sesame_kernel::{Clock, Timestamp};

use crate::{MailQueue, Mailer, QueuedEmail, UsersError};

/// When to retry and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure; each further failure doubles it.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// Attempts before giving up on an email.
    pub max_attempts: u32,
    /// How long a claimed email is left to its sender before another one may
    /// try it (longer than one SMTP conversation can last).
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::seconds(2),
            max_backoff: Duration::minutes(10),
            max_attempts: 20,
            lease: Duration::minutes(5),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 or more).
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let wait = self
            .initial_backoff
            .checked_mul(1_i32 << doublings)
            .unwrap_or(self.max_backoff);
        wait.min(self.max_backoff)
    }
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Emails delivered.
    pub sent: usize,
    /// Emails that failed and will be tried again.
    pub retried: usize,
    /// Emails given up on.
    pub failed: usize,
    /// When the next undelivered email is due, if any is left.
    pub next_due: Option<Timestamp>,
}

/// Sends what the queue holds through a [`Mailer`].
#[derive(Clone)]
pub struct MailDelivery {
    queue: Arc<dyn MailQueue>,
    mailer: Arc<dyn Mailer>,
    cipher: Arc<dyn SecretCipher>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
}

impl MailDelivery {
    /// Delivery from `queue` through `mailer`; `cipher` opens what
    /// [`crate::AccountMail::cipher`] sealed.
    pub fn new(
        queue: Arc<dyn MailQueue>,
        mailer: Arc<dyn Mailer>,
        cipher: Arc<dyn SecretCipher>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Self {
        MailDelivery {
            queue,
            mailer,
            cipher,
            clock,
            policy,
        }
    }

    /// One pass: delivers every email due now, and says when the next one
    /// is due. A failed send is retried later, or given up on once it failed
    /// for good or too many times. Each email is claimed just before it is
    /// sent, for one lease: claimed in a batch, the last ones' lease could
    /// run out while a slow relay kept the first ones, and another sender
    /// send them too.
    ///
    /// # Errors
    /// [`UsersError::Storage`] when the queue cannot be read or written.
    pub fn deliver_due(&self) -> Result<DeliveryReport, UsersError> {
        let mut report = DeliveryReport::default();
        loop {
            let now = self.clock.now();
            let claimed = self.queue.claim_due(now, now + self.policy.lease, 1)?;
            let Some(email) = claimed.into_iter().next() else {
                break;
            };
            self.attempt(email, &mut report)?;
        }
        report.next_due = self.queue.next_due()?;
        Ok(report)
    }

    fn attempt(&self, queued: QueuedEmail, report: &mut DeliveryReport) -> Result<(), UsersError> {
        let Some(email) = queued.email.opened(self.cipher.as_ref()) else {
            let attempts = queued.attempts.saturating_add(1);
            let reason =
                "sealed with a key this instance does not have (changed since it was queued)";
            self.queue
                .give_up(queued.id, attempts, self.clock.now(), reason)?;
            tracing::error!(
                email = queued.id,
                attempts,
                error = reason,
                "email given up"
            );
            report.failed += 1;
            return Ok(());
        };
        match self.mailer.send(&email, &queued.key) {
            Ok(()) => {
                self.queue.mark_sent(queued.id, self.clock.now())?;
                tracing::info!(email = queued.id, "email delivered");
                report.sent += 1;
            }
            Err(error) => {
                let attempts = queued.attempts.saturating_add(1);
                let now = self.clock.now();
                if error.permanent || attempts >= self.policy.max_attempts {
                    self.queue
                        .give_up(queued.id, attempts, now, &error.reason)?;
                    tracing::error!(email = queued.id, attempts, error = %error.reason, "email given up");
                    report.failed += 1;
                } else {
                    let next = now + self.policy.backoff(attempts);
                    self.queue
                        .retry_later(queued.id, attempts, next, &error.reason)?;
                    tracing::warn!(email = queued.id, attempts, error = %error.reason, "email delivery failed; will retry");
                    report.retried += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            initial_backoff: Duration::seconds(2),
            max_backoff: Duration::seconds(60),
            ..RetryPolicy::default()
        };
        let waits: Vec<i64> = (1..=7).map(|n| policy.backoff(n).num_seconds()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(policy.backoff(1000).num_seconds(), 60);
    }
}
