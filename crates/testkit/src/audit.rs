//! The audit log in memory.

use std::sync::Mutex;

use sesame_kernel::audit::{AuditEntry, AuditEvent, AuditLog};
use sesame_kernel::{Page, StorageError, UserId};

/// Events kept in a vector, in the order they came.
#[derive(Debug, Default)]
pub struct InMemoryAudit(Mutex<Vec<AuditEvent>>);

impl InMemoryAudit {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event recorded, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.0.lock().unwrap().clone()
    }

    /// The kinds of every event recorded, oldest first.
    pub fn kinds(&self) -> Vec<String> {
        self.events().into_iter().map(|e| e.kind).collect()
    }
}

impl AuditLog for InMemoryAudit {
    fn record(&self, event: &AuditEvent) -> Result<(), StorageError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }

    fn entries(
        &self,
        user: Option<UserId>,
        kind: Option<&str>,
        page: Page,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        let events = self.0.lock().unwrap();
        Ok(events
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, e)| user.is_none_or(|u| e.user_id == Some(u)))
            .filter(|(_, e)| kind.is_none_or(|k| e.kind == k))
            .skip(page.skip as usize)
            .take(page.limit as usize)
            .map(|(i, e)| AuditEntry {
                id: i as i64 + 1,
                event: e.clone(),
            })
            .collect())
    }
}
