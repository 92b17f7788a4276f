use std::sync::Arc;
use std::thread;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use sesame_kernel::{Page, StorageError, Timestamp, UserId};
use sesame_messaging::{
    Message, MessageEvent, MessageNotifier, MessageRepository, MessagingError, NewMessage,
};

use crate::database::{checkout, connect_postgres, Returned};
use crate::schema::messages;
use crate::time::{from_db, to_db};
use crate::{Backend, Database, PersistenceError};

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
struct MessageRow {
    id: i64,
    sender_id: i64,
    receiver_id: i64,
    content: String,
    created_at: chrono::NaiveDateTime,
    is_read: bool,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            content: row.content,
            created_at: from_db(row.created_at),
            sender_id: UserId(row.sender_id),
            receiver_id: UserId(row.receiver_id),
            is_read: row.is_read,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = messages)]
struct NewMessageRow<'a> {
    sender_id: i64,
    receiver_id: i64,
    content: &'a str,
    created_at: chrono::NaiveDateTime,
}

fn storage(error: PersistenceError) -> MessagingError {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        PersistenceError::Query(Error::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => MessagingError::ReceiverNotFound,
        other => MessagingError::Storage(StorageError::from(other)),
    }
}

fn loaded(rows: Vec<MessageRow>) -> Vec<Message> {
    rows.into_iter().map(Message::from).collect()
}

impl MessageRepository for Database {
    fn insert(&self, message: &NewMessage) -> Result<Message, MessagingError> {
        let row = NewMessageRow {
            sender_id: message.sender_id.0,
            receiver_id: message.receiver_id.0,
            content: &message.content,
            created_at: to_db(message.created_at),
        };
        with_connection!(self, |conn| diesel::insert_into(messages::table)
            .values(&row)
            .returning(MessageRow::as_returning())
            .get_returned(conn))
        .map(Message::from)
        .map_err(storage)
    }

    fn find(&self, id: i64) -> Result<Option<Message>, MessagingError> {
        with_connection!(self, |conn| messages::table
            .find(id)
            .select(MessageRow::as_select())
            .get_result(conn)
            .optional())
        .map(|row| row.map(Message::from))
        .map_err(storage)
    }

    fn received(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
        with_connection!(self, |conn| messages::table
            .filter(messages::receiver_id.eq(user.0))
            .order(messages::id.desc())
            .offset(page.skip)
            .limit(page.limit)
            .select(MessageRow::as_select())
            .load(conn))
        .map(loaded)
        .map_err(storage)
    }

    fn sent(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
        with_connection!(self, |conn| messages::table
            .filter(messages::sender_id.eq(user.0))
            .order(messages::id.desc())
            .offset(page.skip)
            .limit(page.limit)
            .select(MessageRow::as_select())
            .load(conn))
        .map(loaded)
        .map_err(storage)
    }

    fn mark_read(
        &self,
        id: i64,
        receiver: UserId,
        at: Timestamp,
    ) -> Result<Option<(Message, bool)>, MessagingError> {
        in_transaction!(self, |conn| {
            let changed = diesel::update(
                messages::table
                    .find(id)
                    .filter(messages::receiver_id.eq(receiver.0))
                    .filter(messages::is_read.eq(false)),
            )
            .set((
                messages::is_read.eq(true),
                messages::read_at.eq(Some(to_db(at))),
            ))
            .execute(conn)?;
            let row = messages::table
                .find(id)
                .filter(messages::receiver_id.eq(receiver.0))
                .select(MessageRow::as_select())
                .get_result(conn)
                .optional()?;
            Ok::<_, diesel::result::Error>(row.map(|row| (Message::from(row), changed == 1)))
        })
        .map_err(storage)
    }

    fn unread_count(&self, user: UserId) -> Result<i64, MessagingError> {
        with_connection!(self, |conn| messages::table
            .filter(messages::receiver_id.eq(user.0))
            .filter(messages::is_read.eq(false))
            .count()
            .get_result(conn))
        .map_err(storage)
    }
}

/// The PostgreSQL channel that carries message events between instances.
const CHANNEL: &str = "sesame_messages";

/// Publishes message events with PostgreSQL `NOTIFY`, so that every Sesame
/// instance on the database (this one included) hears them through
/// [`listen_for_notices`]. Only the kind and the id travel: a NOTIFY payload
/// is limited to 8,000 bytes, a message is not.
#[derive(Clone)]
pub struct PgMessageNotifier {
    database: Database,
}

impl PgMessageNotifier {
    /// A notifier over this database; `None` unless it is PostgreSQL.
    pub fn new(database: &Database) -> Option<Self> {
        matches!(database.backend, Backend::Postgres(_)).then(|| PgMessageNotifier {
            database: database.clone(),
        })
    }
}

fn payload(event: &MessageEvent) -> String {
    match event {
        MessageEvent::New(message) => format!("new:{}", message.id),
        MessageEvent::Read(message) => format!("read:{}", message.id),
    }
}

impl MessageNotifier for PgMessageNotifier {
    fn notify(&self, event: &MessageEvent) {
        let Backend::Postgres(pool) = &self.database.backend else {
            return;
        };
        let sent = checkout(pool)
            .map_err(PersistenceError::from)
            .and_then(|mut conn| {
                diesel::sql_query("SELECT pg_notify($1, $2)")
                    .bind::<Text, _>(CHANNEL)
                    .bind::<Text, _>(payload(event))
                    .execute(&mut conn)
                    .map_err(PersistenceError::from)
            });
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not publish a message event");
        }
    }
}

/// How often the listener looks for notifications that have arrived.
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// How long the listener waits before reconnecting after an error.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// The channel of the `users` and `sessions` triggers (migration
/// `change_notices`): `u:<user id>` or `s:<session id>`; `k:` from the
/// `signing_keys` trigger.
const CHANGES_CHANNEL: &str = "sesame_changes";

/// On PostgreSQL, starts a thread that `LISTEN`s for what every instance
/// publishes: message events, handed with their message loaded to `local`
/// (this instance's live connections), and changes to users and sessions,
/// handed to the database's change observers (the token cache, the sockets).
/// On SQLite, starts a thread that tells the observers when another process
/// on the same file (the command line) announces a change.
pub fn listen_for_notices(database: &Database, local: Arc<dyn MessageNotifier>) {
    let Some(url) = database.postgres_url.clone() else {
        database.watch_other_processes();
        return;
    };
    let database = database.clone();
    let spawned = thread::Builder::new()
        .name("sesame-listen".into())
        .spawn(move || loop {
            // A connection of its own, outside the pool: held for as long as
            // it listens, it would otherwise count as a pooled connection in
            // use, and requests would wait for it through an outage.
            let outcome: Result<(), PersistenceError> = connect_postgres(&with_keepalives(&url))
                .and_then(|mut conn| {
                    conn.batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {CHANGES_CHANNEL};"))
                        .map_err(PersistenceError::from)?;
                    // Changes made while nobody listened are unknown.
                    if let Some(observer) = database.change_observer() {
                        observer.all_changed();
                    }
                    loop {
                        // On a lost connection the iterator repeats its
                        // error forever: stop at the first one.
                        let notes: Vec<_> = conn.notifications_iter().collect::<Result<_, _>>()?;
                        for note in notes {
                            if note.channel == CHANGES_CHANNEL {
                                report_change(&database, &note.payload);
                            } else if let Some(event) = load_event(&database, &note.payload) {
                                local.notify(&event);
                            }
                        }
                        thread::sleep(POLL_INTERVAL);
                    }
                });
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "notice listener lost its connection; reconnecting");
            }
            thread::sleep(RECONNECT_DELAY);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the notice listener");
    }
}

/// `url` asking libpq to notice a peer gone silent within half a minute.
/// The listening connection only ever reads: without keepalives a network
/// path dropped without a reset (a failover, a NAT forgetting the flow)
/// would look like a quiet channel for the two hours of the system default.
fn with_keepalives(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3"
    )
}

fn report_change(database: &Database, payload: &str) {
    let Some(observer) = database.change_observer() else {
        return;
    };
    match payload.split_once(':') {
        Some(("u", id)) => match id.parse() {
            Ok(id) => observer.user_changed(UserId(id)),
            Err(_) => observer.all_changed(),
        },
        Some(("s", id)) => observer.session_changed(id),
        Some(("k", _)) => observer.signing_keys_changed(),
        _ => observer.all_changed(),
    }
}

fn load_event(database: &Database, payload: &str) -> Option<MessageEvent> {
    let (kind, id) = payload.split_once(':')?;
    let message = database.find(id.parse().ok()?).ok()??;
    match kind {
        "new" => Some(MessageEvent::New(message)),
        "read" => Some(MessageEvent::Read(message)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::with_keepalives;

    #[test]
    fn the_listening_url_asks_for_keepalives_after_any_parameters_of_its_own() {
        let asked = "keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3";
        assert_eq!(
            with_keepalives("postgres://sesame@db/sesame"),
            format!("postgres://sesame@db/sesame?{asked}")
        );
        assert_eq!(
            with_keepalives("postgresql://db/sesame?sslmode=require"),
            format!("postgresql://db/sesame?sslmode=require&{asked}")
        );
    }
}
