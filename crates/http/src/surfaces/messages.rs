//! The messaging rows of surface `events_messages` (seed 001): REST routes
//! and the WebSocket at `/ws/{token}`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use serde_json::{json, Value};
use sesame_messaging::{Message, MessageEvent, MessageNotifier, MessagingError};

use super::events_messages::FastApi;
use super::{body_fields, page_of, run, storage_failure};
use crate::fields::{issue, IssueKind};
use crate::openapi::schemas as doc;
use crate::shape::Shape;
use crate::time::rfc3339;
use crate::{ApiError, AppState, Bearer, Hub};

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

/// The [`MessageNotifier`] of this instance's sockets: each event becomes
/// one frame, serialised once, that the hub hands to every socket of its audience.
pub struct MessageFrames {
    hub: Arc<Hub>,
}

impl MessageFrames {
    /// Frames for the sockets of `hub`.
    pub fn new(hub: Arc<Hub>) -> Self {
        MessageFrames { hub }
    }
}

/// The frame of seed 001 for a message event.
fn frame(event: &MessageEvent) -> ByteString {
    let kind = match event {
        MessageEvent::New(_) => "new_message",
        MessageEvent::Read(_) => "message_read",
    };
    json!({"type": kind, "message": message_json(event.message())})
        .to_string()
        .into()
}

impl MessageNotifier for MessageFrames {
    fn notify(&self, event: &MessageEvent) {
        self.hub.send_to(event.audience(), frame(event));
    }
}

fn messaging_error(error: MessagingError) -> ApiError {
    match error {
        MessagingError::InvalidContent(reason) => {
            FastApi::invalid(&[issue("content", IssueKind::Invalid, &reason)])
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

/// Accepts the upgrade first, then checks the token exactly as a Bearer
/// token is checked: a bad one closes the socket with 1008 and a reason.
#[utoipa::path(
    get,
    path = "/ws/{token}",
    description = "WebSocket. The server sends `{\"type\": \"new_message\", \"message\": {...}}` \
        for each message the user receives and `{\"type\": \"message_read\", \"message\": {...}}` \
        when one they sent is read; it pings, and closes a socket that stops answering. \
        A bad, expired or revoked token is accepted, then closed with 1008 and a reason; \
        so is a socket past the per-user cap (`[http] ws_max_per_user`, 20 by default). \
        Whatever ends the session (logout, a password change or reset, turning TOTP on, \
        deactivation, deletion) closes its sockets with 1008 at once.",
    params(("token" = String, Path, description = "A JWT access token or an opaque token")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request"),
    )
)]
async fn socket(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    token: web::Path<String>,
) -> HttpResponse {
    crate::socket::open(state, request, payload, token.into_inner()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use sesame_kernel::UserId;

    fn message(id: i64, from: i64, to: i64) -> Message {
        Message {
            id,
            content: "hi".into(),
            created_at: Utc::now(),
            sender_id: UserId(from),
            receiver_id: UserId(to),
            is_read: false,
        }
    }

    #[test]
    fn events_become_seed_001_frames_for_their_audience() {
        let hub = Arc::new(Hub::new(8));
        let (_, mut receiver) = hub.subscribe(UserId(2), "r".into()).unwrap();
        let (_, mut sender) = hub.subscribe(UserId(1), "s".into()).unwrap();
        let frames = MessageFrames::new(hub.clone());
        frames.notify(&MessageEvent::New(message(7, 1, 2)));
        match receiver.try_recv() {
            Ok(crate::Outbound::Text(text)) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(frame["type"], "new_message");
                assert_eq!(frame["message"]["id"], 7);
                assert_eq!(frame["message"]["receiver_id"], 2);
            }
            other => panic!("expected a frame, got {other:?}"),
        }
        assert!(sender.try_recv().is_err());
        frames.notify(&MessageEvent::Read(message(7, 1, 2)));
        assert!(
            matches!(sender.try_recv(), Ok(crate::Outbound::Text(t)) if t.contains("message_read"))
        );
    }
}
