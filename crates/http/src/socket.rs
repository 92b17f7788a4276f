//! WebSockets served straight on the TCP stream.
//!
//! actix-http's HTTP/1 dispatcher keeps an 8 KiB read buffer and an 8 KiB
//! write buffer for the whole life of a connection, and a WebSocket lives
//! long: with 10,000 idle sockets those buffers were most of the server's
//! memory. So upgrade requests take another road. The dispatcher hands every
//! request that asks for a WebSocket (with the TCP stream) to
//! [`WebSocketUpgrade`], which
//!
//! 1. takes the stream back and drops the dispatcher's buffers;
//! 2. passes the request to the very same App as any other request (every
//!    middleware, the access log, metrics, the route table): the
//!    `/ws/{token}` handler checks the handshake and the token, subscribes
//!    to the hub and leaves its `Plan` in the request;
//! 3. writes the App's answer: `101` and the plan is served as a WebSocket;
//!    anything else (a 404 for an unknown path, a 400 for a bad handshake)
//!    is written as a plain response and the connection is closed.
//!
//! A socket is then one task (the connection's), one small boxed future and
//! the hub's bounded queue. Bytes are read into a buffer only when some
//! arrive and it is freed once they are handled; outgoing frames are encoded
//! into a buffer that is freed once written.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use actix_codec::{Encoder, Framed};
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::ws::{CloseCode, CloseReason, OpCode, Parser, ProtocolError};
use actix_http::{h1, ConnectionType, HttpMessage, Request, Response, StatusCode};
use actix_service::{Service, ServiceFactory};
use actix_web::web::{Buf, Bytes, BytesMut};
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use sesame_kernel::UserId;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::hub::Outbound;
use crate::AppState;

/// Largest frame a client may send (its payload, in bytes); bigger closes with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Outgoing bytes a client may leave unread before its socket stops reading.
const MAX_PENDING_BYTES: usize = 64 * 1024;
/// How long a closing socket waits for its close frame to go out and the client to hang up.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// How long writing an HTTP answer to an upgrade request may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest body of a plain answer to an upgrade request.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// What the `/ws/{token}` handler decided, left in the request for
/// [`WebSocketUpgrade`] to carry out once the `101` is written.
pub(crate) enum Plan {
    /// Serve this subscription.
    Serve(Subscription),
    /// Close at once with 1008 and this reason.
    Refuse(&'static str),
}

/// The slot a [`Plan`] goes in; present in the extensions of requests that
/// came through [`WebSocketUpgrade`] (and only of those: a handler that finds
/// none knows it cannot switch protocols).
#[derive(Clone, Default)]
pub(crate) struct Upgrade(Rc<Cell<Option<Plan>>>);

impl Upgrade {
    /// Leaves the plan for the upgrade service.
    pub(crate) fn set(&self, plan: Plan) {
        self.0.set(Some(plan));
    }

    fn take(&self) -> Option<Plan> {
        self.0.take()
    }
}

/// A socket's place in the hub; leaving it (drop) unsubscribes.
pub(crate) struct Subscription {
    state: Arc<AppState>,
    user: UserId,
    session_id: String,
    id: u64,
    inbox: mpsc::Receiver<Outbound>,
}

impl Subscription {
    /// Subscribes a socket of `user` opened with a token of `session_id`;
    /// `None` when the user holds as many sockets as allowed.
    pub(crate) fn new(
        state: Arc<AppState>,
        user: UserId,
        session_id: String,
    ) -> Option<Subscription> {
        let (id, inbox) = state.hub.subscribe(user, session_id.clone())?;
        Some(Subscription {
            state,
            user,
            session_id,
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

/// The App's service, built once per worker and shared by the HTTP/1
/// dispatcher ([`SharedApp`] as its service factory) and by
/// [`WebSocketUpgrade`] (from [`SharedApp::upgrade`]).
pub struct SharedApp<S: 'static> {
    service: Shared<LocalBoxFuture<'static, Result<Rc<S>, ()>>>,
}

impl<S: 'static> Clone for SharedApp<S> {
    fn clone(&self) -> Self {
        SharedApp {
            service: self.service.clone(),
        }
    }
}

impl<S: 'static> SharedApp<S> {
    /// Starts building the App's service from its factory.
    pub fn new<F>(factory: F) -> Self
    where
        F: ServiceFactory<Request, Config = (), Service = S, InitError = ()>,
        F::Future: 'static,
    {
        let building = factory.new_service(());
        SharedApp {
            service: async move { building.await.map(Rc::new) }
                .boxed_local()
                .shared(),
        }
    }

    /// The upgrade service factory that hands upgrade requests to this App.
    pub fn upgrade(&self) -> WebSocketUpgrade<S> {
        WebSocketUpgrade { app: self.clone() }
    }
}

impl<S> ServiceFactory<Request> for SharedApp<S>
where
    S: Service<Request> + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Config = ();
    type Service = AppService<S>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<AppService<S>, ()>>;

    fn new_service(&self, _: ()) -> Self::Future {
        self.service
            .clone()
            .map(|s| s.map(AppService))
            .boxed_local()
    }
}

/// The App's service, shared.
pub struct AppService<S>(Rc<S>);

impl<S> Service<Request> for AppService<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&self, request: Request) -> S::Future {
        self.0.call(request)
    }
}

/// The service factory for `HttpServiceBuilder::upgrade`: see the module docs.
pub struct WebSocketUpgrade<S: 'static> {
    app: SharedApp<S>,
}

impl<S, B> ServiceFactory<(Request, Framed<TcpStream, h1::Codec>)> for WebSocketUpgrade<S>
where
    S: Service<Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>
        + 'static,
    B: MessageBody + 'static,
{
    type Response = ();
    type Error = Infallible;
    type Config = ();
    type Service = UpgradeService<S>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<UpgradeService<S>, ()>>;

    fn new_service(&self, _: ()) -> Self::Future {
        self.app
            .service
            .clone()
            .map(|s| s.map(|app| UpgradeService { app }))
            .boxed_local()
    }
}

/// Serves one upgrade request: see the module docs.
pub struct UpgradeService<S> {
    app: Rc<S>,
}

impl<S, B> Service<(Request, Framed<TcpStream, h1::Codec>)> for UpgradeService<S>
where
    S: Service<Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>
        + 'static,
    B: MessageBody + 'static,
{
    type Response = ();
    type Error = Infallible;
    type Future = Connection;

    actix_service::always_ready!();

    fn call(&self, (request, framed): (Request, Framed<TcpStream, h1::Codec>)) -> Connection {
        let parts = framed.into_parts();
        // Bytes the client sent past the request head (none, normally):
        // copied out, so that the dispatcher's two buffers are freed now.
        let early = BytesMut::from(&parts.read_buf[..]);
        let (stream, codec) = (parts.io, parts.codec);
        let upgrade = Upgrade::default();
        request.extensions_mut().insert(upgrade.clone());
        let app = Rc::clone(&self.app);
        Connection::Answering(
            async move {
                let response: Response<BoxBody> = match app.call(request).await {
                    Ok(response) => Response::from(response).map_into_boxed_body(),
                    Err(error) => error.into(),
                };
                answer(stream, codec, response, upgrade.take(), early).await
            }
            .boxed_local(),
        )
    }
}

/// The life of an upgraded connection: answering the request (with the App's
/// future, large), then, for a WebSocket, serving it (small). Each stage is
/// boxed on its own so the first is freed when the second starts.
pub enum Connection {
    /// The App is answering the request.
    Answering(LocalBoxFuture<'static, Option<LocalBoxFuture<'static, ()>>>),
    /// The WebSocket is open.
    Open(LocalBoxFuture<'static, ()>),
}

impl Future for Connection {
    type Output = Result<(), Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut *self {
                Connection::Answering(answering) => match ready!(answering.as_mut().poll(cx)) {
                    Some(open) => *self = Connection::Open(open),
                    None => return Poll::Ready(Ok(())),
                },
                Connection::Open(open) => {
                    ready!(open.as_mut().poll(cx));
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

/// Writes the App's answer; returns the socket to serve if it switched protocols.
async fn answer(
    mut stream: TcpStream,
    mut codec: h1::Codec,
    response: Response<BoxBody>,
    plan: Option<Plan>,
    early: BytesMut,
) -> Option<LocalBoxFuture<'static, ()>> {
    let (mut head, body) = response.into_parts();
    let mut out = BytesMut::new();
    if let (Some(plan), StatusCode::SWITCHING_PROTOCOLS) = (plan, head.status()) {
        codec
            .encode(h1::Message::Item((head, BodySize::None)), &mut out)
            .ok()?;
        drop(codec);
        let written = tokio::time::timeout(ANSWER_TIMEOUT, write_all(&stream, out)).await;
        if !matches!(written, Ok(Ok(()))) {
            return None;
        }
        return Some(match plan {
            Plan::Serve(subscription) => serve(stream, subscription, early).boxed_local(),
            Plan::Refuse(reason) => close(stream, BytesMut::new(), Some(policy(reason))),
        });
    }
    // Not switching protocols: a plain answer, then the connection ends
    // (what follows an upgrade request on the wire is not HTTP).
    let body = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => actix_http::body::to_bytes_limited(body, MAX_ANSWER_BYTES)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
    };
    head.head_mut().set_connection_type(ConnectionType::Close);
    let size = BodySize::Sized(body.len() as u64);
    codec
        .encode(h1::Message::Item((head, size)), &mut out)
        .ok()?;
    if !body.is_empty() {
        codec
            .encode(h1::Message::Chunk(Some(body)), &mut out)
            .ok()?;
    }
    codec.encode(h1::Message::Chunk(None), &mut out).ok()?;
    if let Ok(Ok(())) = tokio::time::timeout(ANSWER_TIMEOUT, write_all(&stream, out)).await {
        let _ = tokio::time::timeout(CLOSE_LINGER, hang_up(&mut stream)).await;
    }
    None
}

/// A close with 1008 (policy violation) and this reason.
fn policy(reason: &str) -> CloseReason {
    CloseReason {
        code: CloseCode::Policy,
        description: Some(reason.to_owned()),
    }
}

/// Why a socket's loop ended.
enum End {
    /// The client is gone (end of stream or I/O error): nothing to send.
    Gone,
    /// Send this close frame (none: an empty one), then hang up.
    Close(Option<CloseReason>),
}

/// Serves an open WebSocket until it ends, then leaves the hub and closes.
/// Two stages chained (not one `async fn` awaiting the other) so that the
/// state of an open socket is only that of [`pump`].
fn serve(
    stream: TcpStream,
    subscription: Subscription,
    input: BytesMut,
) -> impl Future<Output = ()> {
    pump(stream, subscription, input).then(|(stream, output, end)| match end {
        End::Close(reason) => close(stream, output, reason),
        End::Gone => futures_util::future::ready(()).boxed_local(),
    })
}

/// What woke a socket up.
enum Wake {
    /// The hub has something for it (`None`: the hub dropped it).
    Hub(Option<Outbound>),
    /// The client sent something (or hung up).
    Readable(io::Result<()>),
    /// Queued bytes can be written.
    Writable(io::Result<()>),
    /// Time to check the pongs and the session, and to ping.
    Heartbeat,
}

/// Delivers hub frames, answers pings, pings every interval and checks the
/// session, until something ends the socket; leaves the hub and gives back
/// the stream, what is still to be written, and how it ended. Waits by
/// polling the stream, the queue and the timer directly (no per-wait
/// futures), which keeps the state of an idle socket small.
///
/// A plain function returning an `async` block: the arguments of an
/// `async fn` would be stored twice in its state.
#[allow(clippy::manual_async_fn)]
fn pump(
    stream: TcpStream,
    mut subscription: Subscription,
    mut input: BytesMut,
) -> impl Future<Output = (TcpStream, BytesMut, End)> {
    async move {
        let mut output = BytesMut::new();
        let state = Arc::clone(&subscription.state);
        let interval = state.settings.ws_ping_interval;
        // Each socket pings at its own phase of the interval, so that sockets
        // opened together do not all ping (and check their session) at once.
        let first = tokio::time::Instant::now() + phase(subscription.id, interval);
        let mut heartbeat = tokio::time::interval_at(first, interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_pong = Instant::now();
        // Frames that came with the request head (none, normally) first.
        let mut handled = handle_frames(&mut input, &mut output, &mut last_pong);
        let end = loop {
            if let Err(end) = handled {
                break end;
            }
            if flush(&stream, &mut output).is_err() {
                break End::Gone;
            }
            let wake = poll_fn(|cx| {
                // First, so that a busy socket cannot put its checks off.
                if heartbeat.poll_tick(cx).is_ready() {
                    return Poll::Ready(Wake::Heartbeat);
                }
                // Hub frames are taken only once what came before is written.
                if output.is_empty() {
                    if let Poll::Ready(outbound) = subscription.inbox.poll_recv(cx) {
                        return Poll::Ready(Wake::Hub(outbound));
                    }
                }
                // A client that does not read its pongs is not read either.
                if output.len() < MAX_PENDING_BYTES {
                    if let Poll::Ready(ready) = stream.poll_read_ready(cx) {
                        return Poll::Ready(Wake::Readable(ready));
                    }
                }
                if !output.is_empty() {
                    if let Poll::Ready(ready) = stream.poll_write_ready(cx) {
                        return Poll::Ready(Wake::Writable(ready));
                    }
                }
                Poll::Pending
            })
            .await;
            handled = match wake {
                Wake::Hub(Some(Outbound::Text(text))) => {
                    Parser::write_message(&mut output, text.as_bytes(), OpCode::Text, true, false);
                    Ok(())
                }
                Wake::Hub(Some(Outbound::Close(reason))) => Err(End::Close(Some(policy(reason)))),
                Wake::Hub(Some(Outbound::GoingAway)) => Err(End::Close(Some(CloseReason {
                    code: CloseCode::Away,
                    description: Some("Server shutting down".to_owned()),
                }))),
                Wake::Hub(None) => Err(End::Close(Some(policy(
                    "Too slow: messages were not read in time",
                )))),
                Wake::Readable(ready) => match ready.and_then(|()| receive(&stream, &mut input)) {
                    Ok(true) => handle_frames(&mut input, &mut output, &mut last_pong),
                    Ok(false) | Err(_) => Err(End::Gone),
                },
                Wake::Writable(Ok(())) => Ok(()),
                Wake::Writable(Err(_)) => Err(End::Gone),
                Wake::Heartbeat if last_pong.elapsed() > interval * 2 + interval / 2 => {
                    Err(End::Close(Some(policy("No pong received"))))
                }
                Wake::Heartbeat => {
                    let sessions = state.sessions.clone();
                    let id = subscription.session_id.clone();
                    // Spawned at once on the blocking pool: only its handle is
                    // kept while waiting. A storage hiccup keeps the socket;
                    // only an ended session closes it.
                    let live = actix_web::web::block(move || sessions.session_is_live(&id));
                    if matches!(live.await, Ok(Ok(false))) {
                        Err(End::Close(Some(policy("Session ended"))))
                    } else {
                        Parser::write_message(&mut output, b"", OpCode::Ping, true, false);
                        Ok(())
                    }
                }
            };
        };
        // Out of the hub before the close frame goes.
        drop(subscription);
        (stream, output, end)
    }
}

/// When in the ping interval the socket with this hub id pings first: ids
/// spread over the interval by the golden ratio, so consecutive sockets
/// are far apart and any number of them evenly spaced.
fn phase(id: u64, interval: Duration) -> Duration {
    const GOLDEN: f64 = 0.618_033_988_749_894_9;
    interval.mul_f64((id as f64 * GOLDEN).fract())
}

/// Reads what the client sent into `input`. `Ok(false)`: end of stream.
fn receive(stream: &TcpStream, input: &mut BytesMut) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    match stream.try_read(&mut chunk) {
        Ok(0) => Ok(false),
        Ok(n) => {
            input.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(e),
    }
}

/// The payload length a frame header announces, once enough of it is there.
fn announced_length(header: &[u8]) -> Option<u64> {
    match header.get(1)? & 0x7F {
        126 => header
            .get(2..4)
            .map(|b| u64::from(u16::from_be_bytes([b[0], b[1]]))),
        127 => header
            .get(2..10)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes),
        n => Some(u64::from(n)),
    }
}

/// Handles every complete frame in `input`, queueing answers in `output`;
/// frees `input` once empty. `Err`: the socket must end.
fn handle_frames(
    input: &mut BytesMut,
    output: &mut BytesMut,
    last_pong: &mut Instant,
) -> Result<(), End> {
    loop {
        // Refused from its header, before its payload is buffered.
        if announced_length(input).is_some_and(|n| n > MAX_FRAME_BYTES as u64) {
            return Err(End::Close(Some(CloseReason {
                code: CloseCode::Size,
                description: Some("Message too big".to_owned()),
            })));
        }
        let frame = match Parser::parse(input, true, MAX_FRAME_BYTES) {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(ProtocolError::Overflow) => {
                return Err(End::Close(Some(CloseReason {
                    code: CloseCode::Size,
                    description: Some("Message too big".to_owned()),
                })))
            }
            Err(_) => {
                return Err(End::Close(Some(CloseReason {
                    code: CloseCode::Protocol,
                    description: Some("Protocol error".to_owned()),
                })))
            }
        };
        let (_, opcode, payload) = frame;
        let payload = payload.map(BytesMut::freeze).unwrap_or_else(Bytes::new);
        match opcode {
            OpCode::Ping => {
                Parser::write_message(&mut *output, &payload, OpCode::Pong, true, false)
            }
            OpCode::Pong => *last_pong = Instant::now(),
            OpCode::Close => {
                // Answered with the client's code, as RFC 6455 asks.
                return Err(match Parser::try_parse_close_payload(&payload) {
                    Ok(reason) => End::Close(reason.map(|r| CloseReason::from(r.code))),
                    Err(_) => End::Close(Some(CloseReason {
                        code: CloseCode::Protocol,
                        description: Some("Bad close frame".to_owned()),
                    })),
                });
            }
            // Clients have nothing to say on this socket: other frames are ignored.
            _ => {}
        }
    }
    if input.is_empty() {
        *input = BytesMut::new();
    }
    Ok(())
}

/// Writes what the socket takes now, without waiting; frees `output` once
/// all of it is written. `Err`: the client is gone.
fn flush(stream: &TcpStream, output: &mut BytesMut) -> io::Result<()> {
    while !output.is_empty() {
        match stream.try_write(output) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => output.advance(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    *output = BytesMut::new();
    Ok(())
}

/// Writes all of `bytes`.
async fn write_all(stream: &TcpStream, mut bytes: BytesMut) -> io::Result<()> {
    loop {
        flush(stream, &mut bytes)?;
        if bytes.is_empty() {
            return Ok(());
        }
        stream.writable().await?;
    }
}

/// Sends the close frame after what is still queued, then hangs up. Boxed:
/// its timer and waits are only needed at the very end of a socket.
fn close(
    mut stream: TcpStream,
    mut output: BytesMut,
    reason: Option<CloseReason>,
) -> LocalBoxFuture<'static, ()> {
    Parser::write_close(&mut output, reason, false);
    async move {
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            write_all(&stream, output).await?;
            hang_up(&mut stream).await
        })
        .await;
    }
    .boxed_local()
}

/// Ends the sending side, then reads (and drops) what the client still
/// sends until it hangs up too: closing a socket with unread bytes would
/// reset the connection and could lose what was just written.
async fn hang_up(stream: &mut TcpStream) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_shutdown(cx)).await?;
    loop {
        stream.readable().await?;
        if discard(stream)? {
            return Ok(());
        }
    }
}

/// Reads and drops what is there; `true` at the end of the stream.
fn discard(stream: &TcpStream) -> io::Result<bool> {
    let mut sink = [0u8; 1024];
    loop {
        match stream.try_read(&mut sink) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, payload: &[u8]) -> BytesMut {
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&[0x80 | opcode]);
        if payload.len() < 126 {
            frame.extend_from_slice(&[0x80 | payload.len() as u8]);
        } else {
            frame.extend_from_slice(&[0x80 | 126]);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        let mask = [1, 2, 3, 4];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    #[test]
    fn pings_are_answered_and_pongs_noted() {
        let mut input = masked(0x9, b"hi");
        input.extend_from_slice(&masked(0xA, b""));
        let mut output = BytesMut::new();
        let before = Instant::now() - Duration::from_secs(60);
        let mut last_pong = before;
        assert!(handle_frames(&mut input, &mut output, &mut last_pong).is_ok());
        assert_eq!(&output[..], &[0x8A, 2, b'h', b'i']);
        assert!(last_pong > before);
        assert_eq!(input.capacity(), 0, "the input buffer is freed once empty");
    }

    #[test]
    fn an_oversized_frame_is_refused_from_its_header() {
        let mut input = BytesMut::from(&[0x81, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 1][..]);
        let mut last_pong = Instant::now();
        match handle_frames(&mut input, &mut BytesMut::new(), &mut last_pong) {
            Err(End::Close(Some(reason))) => assert_eq!(reason.code, CloseCode::Size),
            _ => panic!("expected a 1009 close"),
        }
        let mut fits = masked(0x2, &vec![0; 1000]);
        assert!(handle_frames(&mut fits, &mut BytesMut::new(), &mut last_pong).is_ok());
    }

    #[test]
    fn a_client_close_is_echoed() {
        let mut input = masked(0x8, &[0x03, 0xE8, b'b', b'y', b'e']);
        let mut last_pong = Instant::now();
        match handle_frames(&mut input, &mut BytesMut::new(), &mut last_pong) {
            Err(End::Close(Some(reason))) => {
                assert_eq!(reason.code, CloseCode::Normal);
                assert_eq!(reason.description, None);
            }
            _ => panic!("expected the close to be echoed"),
        }
    }

    #[test]
    fn first_pings_spread_over_the_interval() {
        let interval = Duration::from_secs(30);
        let mut phases: Vec<Duration> = (1..=100).map(|id| phase(id, interval)).collect();
        phases.sort();
        assert!(phases.iter().all(|p| *p < interval));
        // No gap between consecutive phases is wider than a tenth of the interval.
        assert!(phases.windows(2).all(|w| w[1] - w[0] < interval / 10));
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
        // 10,000 idle sockets each keep this (measured: about 330 bytes);
        // waiting with per-wait futures or awaiting one `async fn` from
        // another doubled it.
        assert!(state_size(serve) <= 512, "{}", state_size(serve));
        assert!(state_size(close) <= 16, "boxed");
    }
}
