use diesel::prelude::*;
use sesame_kernel::audit::{AuditEntry, AuditEvent, AuditLog};
use sesame_kernel::{Page, StorageError, UserId};

use crate::schema::audit_events;
use crate::time::{from_db, to_db};
use crate::Database;

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct AuditRow {
    id: i64,
    kind: String,
    user_id: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
    at: chrono::NaiveDateTime,
    detail: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            event: AuditEvent {
                kind: row.kind,
                user_id: row.user_id.map(UserId),
                ip: row.ip,
                user_agent: row.user_agent,
                at: from_db(row.at),
                detail: row.detail,
            },
        }
    }
}

impl AuditLog for Database {
    fn record(&self, event: &AuditEvent) -> Result<(), StorageError> {
        let row = (
            audit_events::kind.eq(&event.kind),
            audit_events::user_id.eq(event.user_id.map(|u| u.0)),
            audit_events::ip.eq(event.ip.as_deref()),
            audit_events::user_agent.eq(event.user_agent.as_deref()),
            audit_events::at.eq(to_db(event.at)),
            audit_events::detail.eq(event.detail.as_deref()),
        );
        with_connection!(self, |conn| diesel::insert_into(audit_events::table)
            .values(row)
            .execute(conn))
        .map(|_| ())
        .map_err(StorageError::from)
    }

    fn entries(
        &self,
        user: Option<UserId>,
        kind: Option<&str>,
        page: Page,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        with_connection!(self, |conn| {
            let mut query = audit_events::table.into_boxed();
            if let Some(user) = user {
                query = query.filter(audit_events::user_id.eq(user.0));
            }
            if let Some(kind) = kind {
                query = query.filter(audit_events::kind.eq(kind));
            }
            query
                .order(audit_events::id.desc())
                .offset(page.skip)
                .limit(page.limit)
                .select(AuditRow::as_select())
                .load(conn)
        })
        .map(|rows| rows.into_iter().map(AuditEntry::from).collect())
        .map_err(StorageError::from)
    }
}
