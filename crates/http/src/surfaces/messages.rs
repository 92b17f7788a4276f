//! The messaging rows of surface `events_messages` (seed 001): REST routes
//! and the WebSocket at `/ws/{token}`.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message as Frame};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sesame_messaging::{Message, MessagingError};

use super::events_messages::FastApi;
use super::{body_fields, page_of, run, storage_failure};
use crate::blocking::blocking;
use crate::fields::{FieldIssue, IssueKind};
use crate::hub::Outbound;
use crate::openapi::schemas as doc;
use crate::shape::Shape;
use crate::time::rfc3339;
use crate::{ApiError, AppState, Bearer};

type Authenticated = Bearer<FastApi>;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/messages/", web::post().to(send))
        .route("/messages/received", web::get().to(received))
        .route("/messages/sent", web::get().to(sent))
        .route("/messages/unread_count", web::get().to(unread_count))
        .route("/messages/{message_id}/read", web::put().to(mark_read))
        .route("/ws/{token}", web::get().to(socket));
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(send, received, sent, unread_count, mark_read, socket))]
pub(super) struct Api;

/// The message object of seed 001.
pub(crate) fn message_json(message: &Message) -> Value {
    json!({
        "id": message.id,
        "content": message.content,
        "created_at": rfc3339(message.created_at),
        "sender_id": message.sender_id.0,
        "receiver_id": message.receiver_id.0,
        "is_read": message.is_read,
    })
}

fn messaging_error(error: MessagingError) -> ApiError {
    match error {
        MessagingError::InvalidContent(reason) => {
            FastApi::invalid(&[FieldIssue::new("content", IssueKind::Invalid, reason)])
        }
        MessagingError::ReceiverNotFound => {
            FastApi::message(StatusCode::NOT_FOUND, "Receiver not found")
        }
        MessagingError::MessageNotFound => {
            FastApi::message(StatusCode::NOT_FOUND, "Message not found")
        }
        MessagingError::Storage(e) => storage_failure::<FastApi>(&e),
    }
}

fn listing(messages: Vec<Message>) -> HttpResponse {
    HttpResponse::Ok().json(messages.iter().map(message_json).collect::<Vec<_>>())
}

/// Send a message; the receiver's open WebSockets get it at once.
#[utoipa::path(
    post,
    path = "/messages/",
    request_body = doc::MessageInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored and delivered", body = doc::Message),
        (status = 404, description = "`Receiver not found`", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields, or empty or too long content", body = doc::FastApiValidationError),
        (status = 429, description = "Too many messages from this user", body = doc::FastApiError, headers(
            ("Retry-After" = u64, description = "Seconds to wait")
        )),
    )
)]
async fn send(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let mut f = body_fields::<FastApi>(&state, &request, payload).await?;
    let content = f.required("content");
    let receiver = f.required_integer("receiver_id");
    f.finish().map_err(|issues| FastApi::invalid(&issues))?;
    state
        .limits
        .check_message(caller.user.id.0)
        .map_err(|wait| {
            FastApi::message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many messages. Try again later.",
            )
            .with_retry_after(wait)
        })?;
    let messaging = state.messaging.clone();
    let message = run::<FastApi, _, _>(move || {
        messaging.send(&caller.user, sesame_kernel::UserId(receiver), &content)
    })
    .await?
    .map_err(messaging_error)?;
    Ok(HttpResponse::Ok().json(message_json(&message)))
}

/// Messages the caller received, newest first.
#[utoipa::path(
    get,
    path = "/messages/received",
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages", body = [doc::Message]),
        (status = 422, description = "Bad `skip` or `limit`", body = doc::FastApiValidationError),
    )
)]
async fn received(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let page = page_of::<FastApi>(&request)?;
    let messaging = state.messaging.clone();
    run::<FastApi, _, _>(move || messaging.received(&caller.user, page))
        .await?
        .map(listing)
        .map_err(messaging_error)
}

/// Messages the caller sent, newest first.
#[utoipa::path(
    get,
    path = "/messages/sent",
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages", body = [doc::Message]),
        (status = 422, description = "Bad `skip` or `limit`", body = doc::FastApiValidationError),
    )
)]
async fn sent(
    state: web::Data<AppState>,
    request: HttpRequest,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let page = page_of::<FastApi>(&request)?;
    let messaging = state.messaging.clone();
    run::<FastApi, _, _>(move || messaging.sent(&caller.user, page))
        .await?
        .map(listing)
        .map_err(messaging_error)
}

/// How many received messages are unread.
#[utoipa::path(
    get,
    path = "/messages/unread_count",
    security(("bearer" = [])),
    responses((status = 200, description = "The count", body = doc::UnreadCount))
)]
async fn unread_count(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let messaging = state.messaging.clone();
    let count = run::<FastApi, _, _>(move || messaging.unread_count(&caller.user))
        .await?
        .map_err(messaging_error)?;
    Ok(HttpResponse::Ok().json(json!({ "count": count })))
}

/// Mark a received message read; the sender's WebSockets are told.
#[utoipa::path(
    put,
    path = "/messages/{message_id}/read",
    params(("message_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message, read", body = doc::Message),
        (status = 404, description = "`Message not found`: unknown, or not received by the caller", body = doc::FastApiError),
    )
)]
async fn mark_read(
    state: web::Data<AppState>,
    caller: Authenticated,
    message_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = message_id
        .parse::<i64>()
        .map_err(|_| FastApi::message(StatusCode::NOT_FOUND, "Message not found"))?;
    let messaging = state.messaging.clone();
    let message = run::<FastApi, _, _>(move || messaging.mark_read(&caller.user, id))
        .await?
        .map_err(messaging_error)?;
    Ok(HttpResponse::Ok().json(message_json(&message)))
}

fn policy_close(reason: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::Policy,
        description: Some(reason.to_owned()),
    })
}

/// Accepts the upgrade first, then checks the token exactly as a Bearer
/// token is checked: a bad one closes the socket with 1008 and a reason.
#[utoipa::path(
    get,
    path = "/ws/{token}",
    description = "WebSocket. The server sends `{\"type\": \"new_message\", \"message\": {...}}` \
        for each message the user receives and `{\"type\": \"message_read\", \"message\": {...}}` \
        when one they sent is read; it pings, and closes a socket that stops answering. \
        A bad, expired or revoked token is accepted, then closed with 1008 and a reason.",
    params(("token" = String, Path, description = "A JWT access token or an opaque token")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request"),
    )
)]
async fn socket(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Payload,
    token: web::Path<String>,
) -> Result<HttpResponse, actix_web::Error> {
    let (response, session, frames) = actix_ws::handle(&request, body)?;
    let token = token.into_inner();
    let sessions = state.sessions.clone();
    match blocking(move || sessions.authenticate(&token)).await {
        Some(Ok(caller)) => {
            // Subscribed before the upgrade is answered, so that nothing sent
            // or ended after the client sees 101 is missed.
            let subscription = state
                .hub
                .subscribe(caller.user.id, caller.session_id.clone());
            actix_web::rt::spawn(serve_socket(
                state.into_inner(),
                caller.user.id,
                caller.session_id,
                subscription,
                session,
                frames,
            ));
        }
        _ => {
            actix_web::rt::spawn(async move {
                let _ = session
                    .close(policy_close("Invalid or expired token"))
                    .await;
            });
        }
    }
    Ok(response)
}

/// Pumps hub frames out, answers pings, pings the client every interval and
/// closes a socket that misses two pongs or whose session ended.
async fn serve_socket(
    state: Arc<AppState>,
    user: sesame_kernel::UserId,
    session_id: String,
    (subscription, mut outbox): (u64, tokio::sync::mpsc::Receiver<Outbound>),
    mut session: actix_ws::Session,
    frames: actix_ws::MessageStream,
) {
    let interval = state.settings.ws_ping_interval;
    let mut heartbeat =
        actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + interval, interval);
    let mut frames = frames.max_frame_size(64 * 1024);
    let mut last_pong = Instant::now();
    let close = loop {
        tokio::select! {
            outbound = outbox.recv() => match outbound {
                Some(Outbound::Text(text)) => {
                    if session.text(text.to_string()).await.is_err() {
                        break None;
                    }
                }
                Some(Outbound::Close(reason)) => break policy_close(reason),
                Some(Outbound::GoingAway) => {
                    break Some(CloseReason {
                        code: CloseCode::Away,
                        description: Some("Server shutting down".to_owned()),
                    })
                }
                None => break policy_close("Too slow: messages were not read in time"),
            },
            incoming = frames.next() => match incoming {
                Some(Ok(Frame::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        break None;
                    }
                }
                Some(Ok(Frame::Pong(_))) => last_pong = Instant::now(),
                Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => break None,
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick() => {
                if last_pong.elapsed() > interval * 2 + interval / 2 {
                    break policy_close("No pong received");
                }
                let sessions = state.sessions.clone();
                let id = session_id.clone();
                // A storage hiccup keeps the socket; only an ended session closes it.
                if matches!(blocking(move || sessions.session_is_live(&id)).await, Some(Ok(false))) {
                    break policy_close("Session ended");
                }
                if session.ping(b"").await.is_err() {
                    break None;
                }
            }
        }
    };
    state.hub.unsubscribe(user, subscription);
    let _ = session.close(close).await;
}
