//! A short-lived in-memory copy of the sessions and accounts that bearer
//! tokens resolve to, so that most authenticated requests read no storage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Duration;
use sesame_kernel::{ChangeObserver, OutsideChanges, Timestamp, UserId};
use sesame_users::User;

use crate::Session;

/// Sessions recently read from storage, with their account, by session id
/// and by opaque-token hash.
///
/// An entry is trusted for at most its lifetime; any change to its session or
/// account drops it at once (the cache is a [`ChangeObserver`]: storage
/// adapters report every write, and [`SessionService`](crate::SessionService)
/// its own). A read that raced with a change is never stored: every change
/// bumps a generation, and an entry read before the bump is refused.
pub struct AuthCache {
    lifetime: Duration,
    capacity: usize,
    state: Mutex<State>,
    outside: Option<Arc<dyn OutsideChanges>>,
}

#[derive(Default)]
struct State {
    generation: u64,
    by_session: HashMap<String, Arc<Entry>>,
    session_by_token_hash: HashMap<String, String>,
    sessions_by_user: HashMap<UserId, Vec<String>>,
}

/// A session and its account as storage last gave them, shared with the
/// requests answered from it (never changed in place: a change replaces or
/// drops it).
pub(crate) struct Entry {
    pub(crate) session: Session,
    pub(crate) user: User,
    stored_at: Timestamp,
}

impl AuthCache {
    /// A cache trusting an entry for `lifetime` and holding at most `capacity`
    /// sessions (when full, it forgets everything and starts over).
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        AuthCache {
            lifetime,
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
            outside: None,
        }
    }

    /// Also asks `outside` before every answer, and forgets everything when
    /// another process changed something.
    pub fn with_outside_changes(mut self, outside: Arc<dyn OutsideChanges>) -> Self {
        self.outside = Some(outside);
        self
    }

    fn forget_outside_changes(&self) {
        if self
            .outside
            .as_ref()
            .is_some_and(|outside| outside.changed_since_last_check())
        {
            self.all_changed();
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many changes have been seen: taken before reading storage and
    /// given back to [`AuthCache::store`].
    pub(crate) fn generation(&self) -> u64 {
        self.state().generation
    }

    /// The entry of session `id`, if it is younger than the lifetime.
    pub(crate) fn by_session(&self, id: &str, now: Timestamp) -> Option<Arc<Entry>> {
        self.forget_outside_changes();
        let state = self.state();
        let entry = state.by_session.get(id)?;
        self.fresh(entry, now).then(|| entry.clone())
    }

    /// The entry of the opaque token whose hash is `token_hash`, if it is
    /// younger than the lifetime.
    pub(crate) fn by_token_hash(&self, token_hash: &str, now: Timestamp) -> Option<Arc<Entry>> {
        self.forget_outside_changes();
        let state = self.state();
        let id = state.session_by_token_hash.get(token_hash)?;
        let entry = state.by_session.get(id)?;
        self.fresh(entry, now).then(|| entry.clone())
    }

    /// Whether `entry` was stored less than the lifetime before `now`; not
    /// when the clock has gone back since, or its age would not grow.
    fn fresh(&self, entry: &Entry, now: Timestamp) -> bool {
        let age = now - entry.stored_at;
        age >= Duration::zero() && age < self.lifetime
    }

    /// Keeps `session` and `user` as read from storage, unless something
    /// changed since `generation` was taken.
    pub(crate) fn store(&self, session: Session, user: User, generation: u64, now: Timestamp) {
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        if state.by_session.len() >= self.capacity && !state.by_session.contains_key(&session.id) {
            let generation = state.generation;
            state.by_session.retain(|_, e| self.fresh(e, now));
            if state.by_session.len() >= self.capacity {
                *state = State {
                    generation,
                    ..State::default()
                };
            } else {
                let State {
                    by_session,
                    session_by_token_hash,
                    sessions_by_user,
                    ..
                } = &mut *state;
                session_by_token_hash.retain(|_, id| by_session.contains_key(id));
                sessions_by_user.retain(|_, ids| {
                    ids.retain(|id| by_session.contains_key(id));
                    !ids.is_empty()
                });
            }
        }
        if let Some(hash) = &session.token_hash {
            state
                .session_by_token_hash
                .insert(hash.clone(), session.id.clone());
        }
        let ids = state.sessions_by_user.entry(user.id).or_default();
        if !ids.contains(&session.id) {
            ids.push(session.id.clone());
        }
        state.by_session.insert(
            session.id.clone(),
            Arc::new(Entry {
                session,
                user,
                stored_at: now,
            }),
        );
    }

    fn forget(state: &mut State, id: &str) {
        if let Some(entry) = state.by_session.remove(id) {
            if let Some(hash) = &entry.session.token_hash {
                state.session_by_token_hash.remove(hash);
            }
            if let Some(ids) = state.sessions_by_user.get_mut(&entry.user.id) {
                ids.retain(|other| other != id);
                if ids.is_empty() {
                    state.sessions_by_user.remove(&entry.user.id);
                }
            }
        }
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.state().by_session.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ChangeObserver for AuthCache {
    fn user_changed(&self, user: UserId) {
        let mut state = self.state();
        state.generation += 1;
        for id in state.sessions_by_user.remove(&user).unwrap_or_default() {
            AuthCache::forget(&mut state, &id);
        }
    }

    fn session_changed(&self, session_id: &str) {
        let mut state = self.state();
        state.generation += 1;
        AuthCache::forget(&mut state, session_id);
    }

    fn all_changed(&self) {
        let mut state = self.state();
        let generation = state.generation + 1;
        *state = State {
            generation,
            ..State::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientInfo, SessionKind};
    use chrono::Utc;

    fn session(id: &str, user: i64, now: Timestamp) -> (Session, User) {
        let session = Session {
            id: id.into(),
            user_id: UserId(user),
            kind: SessionKind::Opaque,
            created_at: now,
            last_used_at: now,
            expires_at: now + Duration::hours(1),
            revoked_at: None,
            refresh_jti: None,
            token_hash: Some(format!("hash-{id}")),
            client: ClientInfo::default(),
            revival: crate::Revival::Never,
        };
        let user = User {
            id: UserId(user),
            username: format!("user{user}"),
            email: None,
            first_name: String::new(),
            last_name: String::new(),
            avatar: None,
            is_active: true,
            is_staff: false,
            date_joined: now,
            last_login: None,
            password_hash: String::new(),
        };
        (session, user)
    }

    #[test]
    fn a_read_that_raced_with_a_change_is_not_kept() {
        let cache = AuthCache::new(Duration::seconds(10), 10);
        let now = Utc::now();
        let before_the_read = cache.generation();
        cache.session_changed("s1");
        let (stale, user) = session("s1", 1, now);
        cache.store(stale, user, before_the_read, now);
        assert!(cache.by_session("s1", now).is_none());
        assert!(cache.by_token_hash("hash-s1", now).is_none());

        let (fresh, user) = session("s1", 1, now);
        cache.store(fresh, user, cache.generation(), now);
        assert!(cache.by_token_hash("hash-s1", now).is_some());
    }

    #[test]
    fn a_change_anywhere_forgets_nothing_else_but_refuses_racing_reads() {
        let cache = AuthCache::new(Duration::seconds(10), 10);
        let now = Utc::now();
        let (one, user) = session("s1", 1, now);
        cache.store(one, user, cache.generation(), now);
        let generation = cache.generation();
        cache.user_changed(UserId(2));
        assert!(cache.by_session("s1", now).is_some());
        let (two, user) = session("s2", 1, now);
        cache.store(two, user, generation, now);
        assert!(cache.by_session("s2", now).is_none());
    }

    #[test]
    fn a_full_cache_first_drops_what_ran_out_then_starts_over() {
        let cache = AuthCache::new(Duration::seconds(10), 2);
        let start = Utc::now();
        for (id, at) in [("old", start), ("new", start + Duration::seconds(8))] {
            let (s, u) = session(id, 1, at);
            cache.store(s, u, cache.generation(), at);
        }
        let later = start + Duration::seconds(12);
        let (s, u) = session("third", 2, later);
        cache.store(s, u, cache.generation(), later);
        assert_eq!(cache.len(), 2);
        assert!(cache.by_session("new", later).is_some());
        assert!(cache.by_token_hash("hash-old", later).is_none());

        let (s, u) = session("fourth", 3, later);
        cache.store(s, u, cache.generation(), later);
        assert_eq!(cache.len(), 1);
        assert!(cache.by_session("fourth", later).is_some());
    }

    #[test]
    fn a_change_made_by_another_process_empties_the_cache_before_the_next_answer() {
        use std::sync::atomic::{AtomicBool, Ordering};
        struct Flag(AtomicBool);
        impl OutsideChanges for Flag {
            fn changed_since_last_check(&self) -> bool {
                self.0.swap(false, Ordering::SeqCst)
            }
        }
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let cache = AuthCache::new(Duration::seconds(10), 10).with_outside_changes(flag.clone());
        let now = Utc::now();
        let (s, u) = session("s1", 1, now);
        cache.store(s, u, cache.generation(), now);
        assert!(cache.by_session("s1", now).is_some());
        flag.0.store(true, Ordering::SeqCst);
        assert!(cache.by_token_hash("hash-s1", now).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn missed_reports_forget_everything() {
        let cache = AuthCache::new(Duration::seconds(10), 10);
        let now = Utc::now();
        let (s, u) = session("s1", 1, now);
        cache.store(s, u, cache.generation(), now);
        cache.all_changed();
        assert!(cache.is_empty());
    }
}
