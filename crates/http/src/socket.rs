//! One WebSocket, served by actix-ws: the hub's frames out, the client's
//! pings and closes in, a ping each interval, and a close with a code and a
//! reason whenever Sesame ends it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message, MessageStream, ProtocolError, Session};
use futures_util::future::LocalBoxFuture;
use sesame_kernel::{Timestamp, UserId};
use sesame_tokens::{Authenticated, TokensError};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::blocking::blocking;
use crate::hub::{Outbound, KEY_RETIRED};
use crate::AppState;

/// Largest frame a client may send (its payload, in bytes); bigger closes with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// How long a frame may wait for room in the connection's send buffer: a
/// client that reads slower than this is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a close frame may wait for room to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A socket's place in the hub; leaving it (drop) unsubscribes.
struct Subscription {
    state: Arc<AppState>,
    user: UserId,
    session_id: String,
    /// When the access token that opened the socket expires, and the socket with it.
    expires_at: Option<Timestamp>,
    id: u64,
    inbox: mpsc::Receiver<Outbound>,
}

impl Subscription {
    /// `None` when the user holds as many sockets as allowed.
    fn new(
        state: Arc<AppState>,
        caller: Authenticated,
        kid: Option<String>,
        expires_at: Option<Timestamp>,
    ) -> Option<Subscription> {
        let (user, session_id) = (caller.user.id, caller.session_id);
        let (id, inbox) = state.hub.subscribe(user, session_id.clone(), kid)?;
        Some(Subscription {
            state,
            user,
            session_id,
            expires_at,
            id,
            inbox,
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.state.hub.unsubscribe(self.user, self.id);
    }
}

/// Answers a WebSocket handshake for `token`. The upgrade is accepted
/// first, then the token checked exactly as a Bearer token is: a bad one,
/// or a user past the socket cap, gets a 1008 close with a reason.
pub(crate) async fn open(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    token: String,
) -> HttpResponse {
    let (response, session, stream) = match actix_ws::handle(&request, payload) {
        Ok(handled) => handled,
        Err(refused) => return HttpResponse::from_error(refused),
    };
    let stream = stream.max_frame_size(MAX_FRAME_BYTES);
    let sessions = state.sessions.clone();
    // Subscribed before the 101 goes out, so that nothing sent or ended
    // after the client sees it is missed.
    let checked = blocking(move || {
        let caller = sessions.authenticate(&token)?;
        let (kid, expires_at) = (
            sessions.keys().kid_of(&token),
            sessions.access_expiry(&token),
        );
        Ok::<_, TokensError>((caller, kid, expires_at))
    });
    let (subscription, kid) = match checked.await {
        Some(Ok((caller, kid, expires_at))) => (
            Subscription::new(state.into_inner(), caller, kid.clone(), expires_at)
                .ok_or("Too many open sockets for this user"),
            kid,
        ),
        _ => (Err("Invalid or expired token"), None),
    };
    // A session ended, or a key retired, between the check and the
    // subscription was reported while the hub did not know the socket yet:
    // look once more, now that it does.
    let subscription = match subscription {
        Ok(subscribed) if session_ended(&subscribed.state, &subscribed.session_id).await => {
            Err("Session ended")
        }
        Ok(subscribed)
            if kid.is_some_and(|kid| !subscribed.state.sessions.keys().verifies(&kid)) =>
        {
            Err(KEY_RETIRED)
        }
        checked => checked,
    };
    match subscription {
        Ok(subscription) => actix_web::rt::spawn(serve(session, stream, subscription)),
        Err(reason) => actix_web::rt::spawn(close(session, Some(policy(reason)))),
    };
    response
}

/// A close with 1008 (policy violation) and this reason.
fn policy(reason: &str) -> CloseReason {
    (CloseCode::Policy, reason).into()
}

/// Why a socket ended.
enum End {
    /// The client is gone: nothing to send.
    Gone,
    /// Send this close frame (none: an empty one).
    Close(Option<CloseReason>),
}

/// Serves an open socket until it ends; leaves the hub before the close goes.
async fn serve(mut session: Session, mut stream: MessageStream, mut subscription: Subscription) {
    let state = Arc::clone(&subscription.state);
    let interval = state.settings.ws_ping_interval;
    // Each socket pings at its own phase of the interval, so that sockets
    // opened together do not all ping (and check their session) at once.
    let first = tokio::time::Instant::now() + phase(subscription.id, interval);
    let mut heartbeat = tokio::time::interval_at(first, interval);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_pong = Instant::now();
    // Boxed: one small allocation, not a timer in every idle socket's state.
    let expires = subscription.expires_at.is_some();
    let until =
        (subscription.expires_at).map_or(Duration::ZERO, |at| state.sessions.time_until(at));
    let mut expiry = Box::pin(tokio::time::sleep(until));
    let end = loop {
        let step = tokio::select! {
            // First, so that a busy socket cannot put its checks off.
            biased;
            _ = heartbeat.tick() => {
                if last_pong.elapsed() > interval * 2 + interval / 2 {
                    Err(End::Close(Some(policy("No pong received"))))
                } else if Box::pin(session_ended(&state, &subscription.session_id)).await {
                    Err(End::Close(Some(policy("Session ended"))))
                } else {
                    send(session.ping(b"")).await
                }
            }
            // At once: no frame goes out after the token expired.
            () = &mut expiry, if expires => Err(End::Close(Some(policy("Token expired")))),
            outbound = subscription.inbox.recv() => match outbound {
                Some(Outbound::Text(text)) => send(session.text(text)).await,
                Some(Outbound::Close(reason)) => Err(End::Close(Some(policy(reason)))),
                Some(Outbound::GoingAway) => Err(End::Close(Some((CloseCode::Away, "Server shutting down").into()))),
                None => Err(End::Close(Some(policy("Too slow: messages were not read in time")))),
            },
            received = stream.recv() => match received {
                Some(Ok(Message::Ping(payload))) => send(session.pong(&payload)).await,
                Some(Ok(Message::Pong(_))) => {
                    last_pong = Instant::now();
                    Ok(())
                }
                // Answered with the client's code, as RFC 6455 asks.
                Some(Ok(Message::Close(reason))) => {
                    Err(End::Close(reason.map(|r| CloseReason::from(r.code))))
                }
                // Clients have nothing to say on this socket: other frames are ignored.
                Some(Ok(_)) => Ok(()),
                Some(Err(error)) => Err(End::Close(Some(refusal(&error)))),
                None => Err(End::Gone),
            },
        };
        if let Err(end) = step {
            break end;
        }
    };
    drop(subscription);
    if let End::Close(reason) = end {
        Box::pin(close(session, reason)).await;
    }
}

/// Whether the socket's session has ended. A storage hiccup keeps the
/// socket: only an ended session closes it.
async fn session_ended(state: &AppState, session_id: &str) -> bool {
    let sessions = state.sessions.clone();
    let id = session_id.to_owned();
    matches!(
        blocking(move || sessions.session_is_live(&id)).await,
        Some(Ok(false))
    )
}

/// Waits for a frame to be queued; a client that leaves it unread too long,
/// or is gone, ends the socket. Boxed, like every wait but the socket's main
/// one, so that an idle socket's state stays small.
fn send<'a>(
    sending: impl Future<Output = Result<(), actix_ws::Closed>> + 'a,
) -> LocalBoxFuture<'a, Result<(), End>> {
    Box::pin(async move {
        match tokio::time::timeout(SEND_TIMEOUT, sending).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(Some(policy(
                "Too slow: messages were not read in time",
            )))),
        }
    })
}

/// The close for a frame Sesame refuses.
fn refusal(error: &ProtocolError) -> CloseReason {
    match error {
        ProtocolError::Overflow => (CloseCode::Size, "Message too big").into(),
        _ => (CloseCode::Protocol, "Protocol error").into(),
    }
}

/// Sends the close frame. Once it is written the connection lingers
/// (actix-web's `client_disconnect_timeout`), reading what the client
/// still sends, instead of being reset under it.
async fn close(session: Session, reason: Option<CloseReason>) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close(reason)).await;
}

/// When in the ping interval the socket with this hub id pings first: ids
/// spread over the interval by the golden ratio, so consecutive sockets
/// are far apart and any number of them evenly spaced.
fn phase(id: u64, interval: Duration) -> Duration {
    const GOLDEN: f64 = 0.618_033_988_749_894_9;
    interval.mul_f64((id as f64 * GOLDEN).fract())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_pings_spread_over_the_interval() {
        let interval = Duration::from_secs(30);
        let mut phases: Vec<Duration> = (1..=100).map(|id| phase(id, interval)).collect();
        phases.sort();
        assert!(phases.iter().all(|p| *p < interval));
        // No gap between consecutive phases is wider than a tenth of the interval.
        assert!(phases.windows(2).all(|w| w[1] - w[0] < interval / 10));
    }

    #[test]
    fn oversized_frames_close_with_1009_and_bad_ones_with_1002() {
        assert_eq!(refusal(&ProtocolError::Overflow).code, CloseCode::Size);
        assert_eq!(
            refusal(&ProtocolError::UnmaskedFrame).code,
            CloseCode::Protocol
        );
    }

    /// The size of the state a function's future keeps.
    fn state_size<F, Fut, A, B, C>(_: F) -> usize
    where
        F: FnOnce(A, B, C) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    #[test]
    fn an_open_socket_keeps_a_small_state() {
        // 10,000 idle sockets each keep this (measured: 680 bytes, 1,168
        // before the waits other than the main one were boxed).
        assert!(state_size(serve) <= 768, "{}", state_size(serve));
    }
}
