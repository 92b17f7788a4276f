//! Direct messages in memory, delivered live to the console:
//! `sesame-messaging` with adapters of your own.
//!
//! Three small adapters: `MemoryMessages` implements every method of the
//! `MessageRepository` port; `ConsoleNotifier` is the `MessageNotifier`
//! port, printing each event where Sesame would push it to the user's open
//! WebSockets, in the shape of that frame (with fewer fields); `People` is
//! a read-only `UserRepository` over the accounts the program already has
//! (messaging only checks that a receiver exists).
//!
//! Run it with `cargo run -p sesame-messaging --example console_messages`.

use std::sync::{Arc, Mutex};

use sesame_kernel::{Clock, Page, StorageError, SystemClock, Timestamp, UserId};
use sesame_messaging::{
    Message, MessageEvent, MessageNotifier, MessageRepository, MessagingError, MessagingService,
    NewMessage,
};
use sesame_users::{
    NewUser, ProfileChanges, ProfileUpdated, User, UserRepository, Username, UsersError,
};

// ------------------------------------------------------------ messages

/// Messages in memory, in the order they were sent.
#[derive(Default)]
struct MemoryMessages(Mutex<Vec<Message>>);

impl MemoryMessages {
    /// One page of the messages that pass `keep`, newest first.
    fn newest(&self, page: Page, keep: impl Fn(&Message) -> bool) -> Vec<Message> {
        let skip = usize::try_from(page.skip).unwrap_or(0);
        let limit = usize::try_from(page.limit).unwrap_or(0);
        let messages = self.0.lock().unwrap();
        let matching = messages.iter().rev().filter(|m| keep(m));
        matching.skip(skip).take(limit).cloned().collect()
    }
}

impl MessageRepository for MemoryMessages {
    fn insert(&self, new: &NewMessage) -> Result<Message, MessagingError> {
        let mut messages = self.0.lock().unwrap();
        let message = Message {
            id: i64::try_from(messages.len()).unwrap_or(i64::MAX) + 1,
            content: new.content.clone(),
            created_at: new.created_at,
            sender_id: new.sender_id,
            receiver_id: new.receiver_id,
            is_read: false,
        };
        messages.push(message.clone());
        Ok(message)
    }

    fn find(&self, id: i64) -> Result<Option<Message>, MessagingError> {
        Ok(self.0.lock().unwrap().iter().find(|m| m.id == id).cloned())
    }

    fn received(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
        Ok(self.newest(page, |m| m.receiver_id == user))
    }

    fn sent(&self, user: UserId, page: Page) -> Result<Vec<Message>, MessagingError> {
        Ok(self.newest(page, |m| m.sender_id == user))
    }

    fn mark_read(
        &self,
        id: i64,
        receiver: UserId,
        _at: Timestamp,
    ) -> Result<Option<(Message, bool)>, MessagingError> {
        let mut messages = self.0.lock().unwrap();
        let mine = messages
            .iter_mut()
            .find(|m| m.id == id && m.receiver_id == receiver);
        Ok(mine.map(|message| {
            let first_read = !message.is_read;
            message.is_read = true;
            (message.clone(), first_read)
        }))
    }

    fn unread_count(&self, user: UserId) -> Result<i64, MessagingError> {
        let messages = self.0.lock().unwrap();
        let unread = messages
            .iter()
            .filter(|m| m.receiver_id == user && !m.is_read)
            .count();
        Ok(i64::try_from(unread).unwrap_or(i64::MAX))
    }
}

// ------------------------------------------------------------ live delivery

/// Prints each event where the user's live connections would get it.
struct ConsoleNotifier {
    people: Arc<People>,
}

impl MessageNotifier for ConsoleNotifier {
    fn notify(&self, event: &MessageEvent) {
        let (kind, message) = match event {
            MessageEvent::New(message) => ("new_message", message),
            MessageEvent::Read(message) => ("message_read", message),
        };
        println!(
            "  -> {}'s sockets: {{\"type\": \"{kind}\", \"message\": {{\"id\": {}, \"sender\": \"{}\", \"content\": {:?}}}}}",
            self.people.name(event.audience()),
            message.id,
            self.people.name(message.sender_id),
            message.content,
        );
    }
}

// ------------------------------------------------------------ people

/// The accounts this program already has, read-only.
struct People(Vec<User>);

impl People {
    fn new(names: &[&str]) -> Self {
        let now = SystemClock.now();
        People(
            (1..)
                .zip(names)
                .map(|(id, name)| User {
                    id: UserId(id),
                    username: (*name).to_owned(),
                    email: None,
                    first_name: String::new(),
                    last_name: String::new(),
                    avatar: None,
                    is_active: true,
                    is_staff: false,
                    date_joined: now,
                    last_login: None,
                    password_hash: String::new(), // no login here
                })
                .collect(),
        )
    }

    fn named(&self, name: &str) -> &User {
        self.0
            .iter()
            .find(|u| u.username == name)
            .expect("a known name")
    }

    fn name(&self, id: UserId) -> &str {
        self.0
            .iter()
            .find(|u| u.id == id)
            .map_or("?", |u| u.username.as_str())
    }
}

fn read_only() -> UsersError {
    UsersError::Storage(StorageError("accounts are managed elsewhere".into()))
}

impl UserRepository for People {
    fn find_by_id(&self, id: UserId) -> Result<Option<User>, UsersError> {
        Ok(self.0.iter().find(|u| u.id == id).cloned())
    }

    fn find_by_username(&self, username: &str) -> Result<Option<User>, UsersError> {
        let username = username.to_lowercase();
        Ok(self
            .0
            .iter()
            .find(|u| u.username.to_lowercase() == username)
            .cloned())
    }

    fn find_by_email(&self, _email: &str) -> Result<Option<User>, UsersError> {
        Ok(None) // nobody has an email address here
    }

    fn list(&self, page: Page) -> Result<Vec<User>, UsersError> {
        let skip = usize::try_from(page.skip).unwrap_or(0);
        let limit = usize::try_from(page.limit).unwrap_or(0);
        Ok(self.0.iter().skip(skip).take(limit).cloned().collect())
    }

    fn insert(&self, _user: &NewUser) -> Result<User, UsersError> {
        Err(read_only())
    }

    fn update_profile(
        &self,
        _id: UserId,
        _changes: &ProfileChanges,
    ) -> Result<ProfileUpdated, UsersError> {
        Err(read_only())
    }

    fn set_username(&self, _id: UserId, _username: &Username) -> Result<(), UsersError> {
        Err(read_only())
    }

    fn change_password(
        &self,
        _id: UserId,
        _replaced_hash: &str,
        _password_hash: &str,
        _keep_session: Option<&str>,
        _now: Timestamp,
    ) -> Result<(), UsersError> {
        Err(read_only())
    }

    fn set_flags(
        &self,
        _id: UserId,
        _is_active: Option<bool>,
        _is_staff: Option<bool>,
    ) -> Result<(), UsersError> {
        Err(read_only())
    }

    fn record_login(&self, _id: UserId, _at: Timestamp) -> Result<(), UsersError> {
        Err(read_only())
    }

    fn delete(&self, _id: UserId) -> Result<(), UsersError> {
        Err(read_only())
    }
}

// ------------------------------------------------------------ the program

fn main() -> Result<(), MessagingError> {
    let people = Arc::new(People::new(&["alice", "bob"]));
    let messaging = MessagingService::new(
        Arc::new(MemoryMessages::default()),
        people.clone(),
        Arc::new(ConsoleNotifier {
            people: people.clone(),
        }),
        Arc::new(SystemClock),
    );
    let (alice, bob) = (people.named("alice"), people.named("bob"));

    println!("bob sends two messages to alice:");
    let lunch = messaging.send(bob, alice.id, "Lunch at noon?")?;
    messaging.send(bob, alice.id, "  (the usual place)  ")?;
    println!("alice has {} unread", messaging.unread_count(alice)?);

    println!("alice reads the first one (twice; bob hears once):");
    messaging.mark_read(alice, lunch.id)?;
    messaging.mark_read(alice, lunch.id)?;
    println!("alice has {} unread", messaging.unread_count(alice)?);

    println!("alice answers:");
    messaging.send(alice, bob.id, "Yes!")?;

    for (who, result) in [
        ("a blank message", messaging.send(bob, alice.id, "   ")),
        ("to nobody", messaging.send(bob, UserId(99), "hello?")),
    ] {
        if let Err(e) = result {
            println!("{who}: refused, {e}");
        }
    }
    if let Err(e) = messaging.mark_read(bob, lunch.id) {
        println!("bob marks alice's message read: {e}");
    }

    println!("alice's inbox, newest first:");
    for message in messaging.received(alice, Page::default())? {
        let state = if message.is_read { "read" } else { "unread" };
        println!(
            "  #{} from {} ({state}): {}",
            message.id,
            people.name(message.sender_id),
            message.content
        );
    }
    Ok(())
}
