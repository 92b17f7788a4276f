//! The WebSocket hub: which sockets are open for which user. It carries
//! frames already serialised (by the surface that owns their shape), so one
//! frame is shared by every socket it goes to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytestring::ByteString;
use sesame_kernel::UserId;
use tokio::sync::mpsc;

/// What the hub asks a socket task to do.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Send this text frame.
    Text(ByteString),
    /// Close the socket with a policy-violation code and this reason.
    Close(&'static str),
    /// Close the socket with 1001 (going away): the server is shutting down.
    GoingAway,
}

struct Subscriber {
    id: u64,
    session_id: String,
    /// The key that signed the socket's JWT (none for an opaque token).
    kid: Option<Box<str>>,
    outbox: mpsc::Sender<Outbound>,
}

/// Open sockets by user, and how many each session has. Each socket has a
/// bounded queue: a reader too slow to keep up is dropped instead of
/// slowing anyone else down.
pub struct Hub {
    subscribers: Mutex<Subscribers>,
    next_id: AtomicU64,
    queue_size: usize,
    max_per_user: usize,
}

#[derive(Default)]
struct Subscribers {
    by_user: HashMap<UserId, Vec<Subscriber>>,
    /// Open sockets per session id.
    by_session: HashMap<String, usize>,
    /// The server is going away: a socket that subscribes now is told so.
    closing: bool,
}

impl Subscribers {
    /// Keeps the sockets of `user` that `keep` wants.
    fn retain(&mut self, user: UserId, mut keep: impl FnMut(&Subscriber) -> bool) {
        let Some(list) = self.by_user.get_mut(&user) else {
            return;
        };
        let by_session = &mut self.by_session;
        list.retain(|subscriber| {
            let kept = keep(subscriber);
            if !kept {
                if let Some(count) = by_session.get_mut(&subscriber.session_id) {
                    *count -= 1;
                    if *count == 0 {
                        by_session.remove(&subscriber.session_id);
                    }
                }
            }
            kept
        });
        if list.is_empty() {
            self.by_user.remove(&user);
        }
    }
}

/// The close reason of a socket whose JWT's signing key was retired.
pub(crate) const KEY_RETIRED: &str = "Token signed with a retired key";

/// The most sockets one user may hold when no other cap is set.
pub const DEFAULT_MAX_SOCKETS_PER_USER: usize = 20;

impl Hub {
    /// A hub whose sockets each queue at most `queue_size` frames, with at
    /// most [`DEFAULT_MAX_SOCKETS_PER_USER`] sockets per user.
    pub fn new(queue_size: usize) -> Self {
        Hub {
            subscribers: Mutex::new(Subscribers::default()),
            next_id: AtomicU64::new(1),
            queue_size: queue_size.max(1),
            max_per_user: DEFAULT_MAX_SOCKETS_PER_USER,
        }
    }

    /// The same hub, holding at most `max` sockets per user.
    pub fn with_max_per_user(mut self, max: usize) -> Self {
        self.max_per_user = max.max(1);
        self
    }

    fn subscribers(&self) -> MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a socket of `user` opened with a token of `session_id`
    /// (a JWT signed with the key `kid`, if any); `None` when the user
    /// already holds as many sockets as allowed.
    pub fn subscribe(
        &self,
        user: UserId,
        session_id: String,
        kid: Option<String>,
    ) -> Option<(u64, mpsc::Receiver<Outbound>)> {
        let mut subscribers = self.subscribers();
        if subscribers.by_user.get(&user).map_or(0, Vec::len) >= self.max_per_user {
            return None;
        }
        let (outbox, inbox) = mpsc::channel(self.queue_size);
        if subscribers.closing {
            let _ = outbox.try_send(Outbound::GoingAway);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        subscribers
            .by_user
            .entry(user)
            .or_default()
            .push(Subscriber {
                id,
                session_id: session_id.clone(),
                kid: kid.map(String::into_boxed_str),
                outbox,
            });
        *subscribers.by_session.entry(session_id).or_default() += 1;
        Some((id, inbox))
    }

    /// Forgets a socket.
    pub fn unsubscribe(&self, user: UserId, id: u64) {
        self.subscribers().retain(user, |s| s.id != id);
    }

    /// The sessions with sockets open for `user`.
    pub fn sessions_of(&self, user: UserId) -> Vec<String> {
        let subscribers = self.subscribers();
        let mut ids: Vec<String> = subscribers
            .by_user
            .get(&user)
            .map(|list| list.iter().map(|s| s.session_id.clone()).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Whether a socket is open with a token of this session.
    pub fn has_session(&self, session_id: &str) -> bool {
        self.subscribers().by_session.contains_key(session_id)
    }

    /// Every session with a socket open.
    pub fn session_ids(&self) -> Vec<String> {
        self.subscribers().by_session.keys().cloned().collect()
    }

    /// Closes every socket opened with a token of this session.
    pub fn close_session(&self, session_id: &str) {
        if self.has_session(session_id) {
            self.close_where("Session ended", |s| s.session_id == session_id);
        }
    }

    /// Closes every socket opened with a JWT whose signing key no longer
    /// verifies, as `verifies` tells: a retired key's tokens fail at once.
    pub fn close_signed_by_retired_keys(&self, verifies: impl Fn(&str) -> bool) {
        self.close_where(KEY_RETIRED, |s| {
            s.kid.as_deref().is_some_and(|kid| !verifies(kid))
        });
    }

    /// Closes the sockets `chosen` picks with 1008 and `reason`. A socket
    /// whose queue is full is dropped from the hub instead, which closes it too.
    fn close_where(&self, reason: &'static str, chosen: impl Fn(&Subscriber) -> bool) {
        let mut subscribers = self.subscribers();
        let users: Vec<UserId> = subscribers
            .by_user
            .iter()
            .filter(|(_, list)| list.iter().any(&chosen))
            .map(|(user, _)| *user)
            .collect();
        for user in users {
            subscribers.retain(user, |s| {
                !chosen(s) || s.outbox.try_send(Outbound::Close(reason)).is_ok()
            });
        }
    }

    /// Tells every socket the server is going away (close code 1001), and
    /// every socket that subscribes from now on (one upgraded over a
    /// connection kept alive through the shutdown, say).
    pub fn close_all(&self) {
        let mut subscribers = self.subscribers();
        subscribers.closing = true;
        for list in subscribers.by_user.values() {
            for subscriber in list {
                let _ = subscriber.outbox.try_send(Outbound::GoingAway);
            }
        }
    }

    /// How many sockets are open.
    pub fn connection_count(&self) -> usize {
        self.subscribers().by_user.values().map(Vec::len).sum()
    }

    /// Queues `text` on every socket of `user`; drops sockets whose queue is full.
    pub fn send_to(&self, user: UserId, text: ByteString) {
        self.subscribers().retain(user, |subscriber| {
            match subscriber.outbox.try_send(Outbound::Text(text.clone())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(user = %user, "dropping a WebSocket that does not keep up");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &'static str) -> ByteString {
        ByteString::from_static(text)
    }

    #[test]
    fn every_socket_of_the_user_gets_the_same_frame() {
        let hub = Hub::new(8);
        let (_, mut phone) = hub.subscribe(UserId(2), "s1".into(), None).unwrap();
        let (_, mut laptop) = hub.subscribe(UserId(2), "s2".into(), None).unwrap();
        let (_, mut sender) = hub.subscribe(UserId(1), "s3".into(), None).unwrap();
        let sent = ByteString::from(String::from("{\"id\":7}"));
        hub.send_to(UserId(2), sent.clone());
        for inbox in [&mut phone, &mut laptop] {
            match inbox.try_recv() {
                Ok(Outbound::Text(text)) => {
                    assert_eq!(text, sent);
                    // Shared, not copied per socket.
                    assert_eq!(text.as_bytes().as_ptr(), sent.as_bytes().as_ptr());
                }
                other => panic!("expected a frame, got {other:?}"),
            }
        }
        assert!(sender.try_recv().is_err());
    }

    #[test]
    fn a_full_queue_drops_only_that_socket() {
        let hub = Hub::new(2);
        let (_, mut slow) = hub.subscribe(UserId(2), "slow".into(), None).unwrap();
        let (_, mut fast) = hub.subscribe(UserId(2), "fast".into(), None).unwrap();
        for _ in 0..3 {
            hub.send_to(UserId(2), frame("m"));
            while fast.try_recv().is_ok() {}
        }
        assert_eq!(hub.connection_count(), 1);
        assert!(!hub.has_session("slow") && hub.has_session("fast"));
        assert!(slow.try_recv().is_ok());
        assert!(slow.try_recv().is_ok());
        assert!(matches!(
            slow.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn a_socket_that_subscribes_after_close_all_is_told_too() {
        let hub = Hub::new(4);
        let (_, mut before) = hub.subscribe(UserId(1), "a".into(), None).unwrap();
        hub.close_all();
        let (_, mut after) = hub.subscribe(UserId(2), "b".into(), None).unwrap();
        assert!(matches!(before.try_recv(), Ok(Outbound::GoingAway)));
        assert!(matches!(after.try_recv(), Ok(Outbound::GoingAway)));
    }

    #[test]
    fn closing_a_session_reaches_only_its_sockets() {
        let hub = Hub::new(4);
        let (_, mut a) = hub.subscribe(UserId(1), "a".into(), None).unwrap();
        let (_, mut b) = hub.subscribe(UserId(1), "b".into(), None).unwrap();
        hub.close_session("a");
        assert!(matches!(a.try_recv(), Ok(Outbound::Close(_))));
        assert!(b.try_recv().is_err());
    }

    #[test]
    fn a_retired_key_closes_only_the_sockets_of_its_tokens() {
        let hub = Hub::new(4);
        let signed = |kid: &str| Some(kid.to_owned());
        let (_, mut old) = hub.subscribe(UserId(1), "a".into(), signed("old")).unwrap();
        let (_, mut new) = hub.subscribe(UserId(1), "a".into(), signed("new")).unwrap();
        let (_, mut opaque) = hub.subscribe(UserId(2), "b".into(), None).unwrap();
        hub.close_signed_by_retired_keys(|kid| kid == "new");
        assert!(matches!(old.try_recv(), Ok(Outbound::Close(_))));
        assert!(new.try_recv().is_err());
        assert!(opaque.try_recv().is_err());
    }

    #[test]
    fn closing_a_session_drops_a_socket_whose_queue_is_full() {
        let hub = Hub::new(1);
        let (_, mut full) = hub.subscribe(UserId(1), "a".into(), None).unwrap();
        hub.send_to(UserId(1), frame("m"));
        hub.close_session("a");
        assert!(!hub.has_session("a"));
        assert!(matches!(full.try_recv(), Ok(Outbound::Text(_))));
        assert!(matches!(
            full.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn a_user_holds_at_most_the_cap_of_sockets() {
        let hub = Hub::new(4).with_max_per_user(2);
        let (first, _a) = hub.subscribe(UserId(1), "s".into(), None).unwrap();
        let _b = hub.subscribe(UserId(1), "s".into(), None).unwrap();
        assert!(hub.subscribe(UserId(1), "t".into(), None).is_none());
        assert!(
            hub.subscribe(UserId(2), "u".into(), None).is_some(),
            "per user"
        );
        assert_eq!(hub.sessions_of(UserId(1)), ["s"]);
        hub.unsubscribe(UserId(1), first);
        assert!(hub.has_session("s"), "one socket of it is still open");
        assert!(hub.subscribe(UserId(1), "t".into(), None).is_some());
        let mut ids = hub.session_ids();
        ids.sort();
        assert_eq!(ids, ["s", "t", "u"]);
    }
}
