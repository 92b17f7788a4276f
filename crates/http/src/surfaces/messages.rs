//! The messaging rows of surface `events_messages` (seed 001): REST routes
//! and the WebSocket at `/ws/{token}`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use sesame_kernel::{Page, UserId};
use sesame_messaging::{Message, MessageEvent, MessageNotifier, MessagingError, MessagingService};
use sesame_users::User;
use utoipa::ToSchema;
use validator::Validate;

use super::events_messages::Authenticated;
use super::{page_of, storage_failure, FastApi};
use crate::auth::Authed;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::shape::{Shape, Words};
use crate::time::rfc3339;
use crate::wire::{self, Body, FieldIssue};
use crate::{ApiError, AppState, Hub};

/// The messaging routes of this surface.
pub(super) fn part() -> Part {
    Part::new::<FastApi>("events_messages")
        .route(send)
        .route(received)
        .route(sent)
        .route(unread_count)
        .route(mark_read)
        .route(socket)
}

/// The message object of seed 001.
#[derive(Serialize, ToSchema)]
#[schema(as = events_messages::Message)]
struct MessageOut {
    id: i64,
    content: String,
    #[schema(format = DateTime)]
    created_at: String,
    sender_id: i64,
    receiver_id: i64,
    is_read: bool,
}

impl From<&Message> for MessageOut {
    fn from(message: &Message) -> Self {
        MessageOut {
            id: message.id,
            content: message.content.clone(),
            created_at: rfc3339(message.created_at),
            sender_id: message.sender_id.0,
            receiver_id: message.receiver_id.0,
            is_read: message.is_read,
        }
    }
}

/// A message to send.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = events_messages::MessageInput)]
struct MessageInput {
    /// 1..=5000 characters once trimmed.
    #[schema(min_length = 1, max_length = 5000)]
    content: String,
    #[serde(deserialize_with = "wire::integer")]
    #[schema(value_type = i64)]
    receiver_id: i64,
}

/// How many received messages are unread.
#[derive(Serialize, ToSchema)]
#[schema(as = events_messages::UnreadCount)]
struct UnreadCount {
    count: i64,
}

/// A WebSocket frame of seed 001.
#[derive(Serialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: &'static str,
    message: MessageOut,
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
    let frame = Frame {
        kind,
        message: MessageOut::from(event.message()),
    };
    serde_json::to_string(&frame)
        .expect("a frame serialises")
        .into()
}

impl MessageNotifier for MessageFrames {
    fn notify(&self, event: &MessageEvent) {
        self.hub.send_to(event.audience(), frame(event));
    }
}

impl Words<MessagingError> for FastApi {
    fn word(error: MessagingError) -> ApiError {
        match error {
            MessagingError::InvalidContent(reason) => {
                FastApi::invalid(&[FieldIssue::invalid("content", "invalid", reason)])
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
}

/// A page of the caller's messages, as `list` picks them.
async fn listing(
    caller: Authenticated,
    state: &AppState,
    request: &HttpRequest,
    list: fn(&MessagingService, &User, Page) -> Result<Vec<Message>, MessagingError>,
) -> Result<HttpResponse, ApiError> {
    let page = page_of::<FastApi>(request)?;
    let messages = FastApi::call(&state.messaging, move |m| list(m, &caller.user, page)).await?;
    Ok(HttpResponse::Ok().json(messages.iter().map(MessageOut::from).collect::<Vec<_>>()))
}

/// Send a message; the receiver's open WebSockets get it at once.
#[utoipa::path(
    request_body = MessageInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stored and delivered", body = MessageOut),
        (status = 404, description = "`Receiver not found`", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields, or empty or too long content", body = doc::FastApiValidationError),
        (status = 429, description = "Too many messages from this user", body = doc::FastApiError, headers(
            ("Retry-After" = u64, description = "Seconds to wait")
        )),
    )
)]
#[post("/messages/")]
async fn send(
    Authed(caller, body): Authed<FastApi, Body<MessageInput, FastApi>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let MessageInput {
        content,
        receiver_id,
    } = body.into_inner();
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
    let send = move |m: &MessagingService| m.send(&caller.user, UserId(receiver_id), &content);
    let message = FastApi::call(&state.messaging, send).await?;
    Ok(HttpResponse::Ok().json(MessageOut::from(&message)))
}

/// Messages the caller received, newest first.
#[utoipa::path(
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages", body = [MessageOut]),
    )
)]
#[get("/messages/received")]
async fn received(
    caller: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    listing(caller, &state, &request, MessagingService::received).await
}

/// Messages the caller sent, newest first.
#[utoipa::path(
    params(doc::PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of messages", body = [MessageOut]),
    )
)]
#[get("/messages/sent")]
async fn sent(
    caller: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    listing(caller, &state, &request, MessagingService::sent).await
}

/// How many received messages are unread.
#[utoipa::path(
    security(("bearer" = [])),
    responses((status = 200, description = "The count", body = UnreadCount))
)]
#[get("/messages/unread_count")]
async fn unread_count(
    caller: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let count = FastApi::call(&state.messaging, move |m| m.unread_count(&caller.user)).await?;
    Ok(HttpResponse::Ok().json(UnreadCount { count }))
}

/// Mark a received message read; the sender's WebSockets are told.
#[utoipa::path(
    params(("message_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The message, read", body = MessageOut),
        (status = 404, description = "`Message not found`: unknown, or not received by the caller", body = doc::FastApiError),
    )
)]
#[put("/messages/{message_id}/read")]
async fn mark_read(
    caller: Authenticated,
    state: web::Data<AppState>,
    message_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = message_id
        .parse::<i64>()
        .map_err(|_| FastApi::word(MessagingError::MessageNotFound))?;
    let message = FastApi::call(&state.messaging, move |m| m.mark_read(&caller.user, id)).await?;
    Ok(HttpResponse::Ok().json(MessageOut::from(&message)))
}

/// Accepts the upgrade first, then checks the token exactly as a Bearer
/// token is checked: a bad one closes the socket with 1008 and a reason.
#[utoipa::path(
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
#[get("/ws/{token}")]
async fn socket(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
    token: web::Path<String>,
) -> HttpResponse {
    crate::socket::open(state, request, payload, token.into_inner()).await
}
