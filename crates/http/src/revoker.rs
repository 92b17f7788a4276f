//! Closes the WebSockets of sessions that ended, whatever ended them: a
//! logout, a password change or reset, TOTP turned on, an account deactivated
//! or deleted, a command-line change, or another instance.
//!
//! Storage reports every write to users and sessions (on PostgreSQL, those of
//! every instance; on SQLite, that another process changed something) to its
//! change observers; the [`SocketRevoker`] is one of
//! them. For a change that concerns a session or user with sockets open here,
//! it has the session re-checked off the async workers, and the hub closes
//! the sockets of every session that is no longer live (1008, at once).
//! Likewise each reload of the key set closes the sockets opened with a
//! JWT whose key was retired, whatever made it (a change reported, or a
//! retry once storage was back after a report it could not read).

use std::collections::HashSet;
use std::sync::Arc;

use sesame_kernel::{ChangeObserver, UserId};
use sesame_tokens::SessionService;
use tokio::sync::mpsc;

use crate::Hub;

/// What to re-check.
enum Check {
    /// These sessions.
    Sessions(Vec<String>),
    /// Every session with a socket open (reports were missed, or another
    /// process changed something without saying what).
    All,
}

/// The [`ChangeObserver`] that closes the sockets of ended sessions.
pub struct SocketRevoker {
    hub: Arc<Hub>,
    checks: mpsc::UnboundedSender<Check>,
}

impl SocketRevoker {
    /// Starts the task that re-checks sessions, on the current actix system
    /// (it ends with the system).
    pub fn start(hub: Arc<Hub>, sessions: SessionService) -> Arc<SocketRevoker> {
        let (checks, mut pending) = mpsc::unbounded_channel();
        let closer = hub.clone();
        sessions.keys().on_reload(move |keys| {
            closer.close_signed_by_retired_keys(|kid| keys.verifies(kid));
        });
        let closer = hub.clone();
        actix_web::rt::spawn(async move {
            while let Some(first) = pending.recv().await {
                // Everything reported meanwhile is checked in one go.
                let mut all = false;
                let mut ids = HashSet::new();
                let mut take = |check| match check {
                    Check::Sessions(list) => ids.extend(list),
                    Check::All => all = true,
                };
                take(first);
                while let Ok(check) = pending.try_recv() {
                    take(check);
                }
                if all {
                    ids.extend(closer.session_ids());
                }
                let sessions = sessions.clone();
                // A storage hiccup keeps the socket: only an ended session closes it.
                let ended = actix_web::web::block(move || {
                    ids.into_iter()
                        .filter(|id| matches!(sessions.session_is_live(id), Ok(false)))
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                for id in ended {
                    closer.close_session(&id);
                }
            }
        });
        Arc::new(SocketRevoker { hub, checks })
    }

    fn check(&self, check: Check) {
        // Fails only once the system has stopped, when no socket is left.
        let _ = self.checks.send(check);
    }
}

impl ChangeObserver for SocketRevoker {
    fn user_changed(&self, user: UserId) {
        let sessions = self.hub.sessions_of(user);
        if !sessions.is_empty() {
            self.check(Check::Sessions(sessions));
        }
    }

    fn session_changed(&self, session_id: &str) {
        if self.hub.has_session(session_id) {
            self.check(Check::Sessions(vec![session_id.to_owned()]));
        }
    }

    fn all_changed(&self) {
        self.check(Check::All);
    }
}
