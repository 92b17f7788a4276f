//! Surface `events_messages`, its events rows: events, attendance and
//! attendees, in FastAPI's shapes.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::SecondsFormat;
use serde::{Deserialize, Deserializer, Serialize};
use sesame_events::{
    parse_date, Actor, Attendee, Event, EventDraft, EventError, EventFilter, EventId, EventPatch,
    EventService,
};
use utoipa::{IntoParams, IntoResponses, ToSchema};
use validator::{Validate, ValidationError};

use super::events_messages::{path_integer, Authenticated};
use super::{page_of, storage_failure, FastApi};
use crate::auth::Authed;
use crate::declare::Part;
use crate::error_schemas as doc;
use crate::query::Listing;
use crate::shape::{Shape, Words};
use crate::wire::{self, Body, FieldIssue};
use crate::{ApiError, AppState};

/// The events routes of this surface.
pub(super) fn part() -> Part {
    Part::new::<FastApi>("events_messages")
        .route(create_event)
        .route(list_events)
        .route(attend)
        .route(leave)
        .route(attendees)
        .route(get_event)
        .route(replace_event)
        .route(update_event)
        .route(delete_event)
}

/// An event as this surface shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = events_messages::Event)]
struct EventOut {
    id: i64,
    title: String,
    description: String,
    /// RFC 3339 in UTC; a fraction of a second only when there is one.
    #[schema(format = DateTime)]
    date: String,
    location: String,
    organizer_id: i64,
    /// Null: unlimited.
    #[schema(required = true)]
    capacity: Option<i64>,
    attendees_count: i64,
}

impl From<&Event> for EventOut {
    fn from(event: &Event) -> Self {
        EventOut {
            id: event.id.0,
            title: event.title.clone(),
            description: event.description.clone(),
            date: event.date.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            location: event.location.clone(),
            organizer_id: event.organizer_id.0,
            capacity: event.capacity,
            attendees_count: event.attendees_count,
        }
    }
}

/// Someone who attends an event.
#[derive(Serialize, ToSchema)]
#[schema(as = events_messages::Attendee)]
struct AttendeeOut {
    id: i64,
    username: String,
}

impl From<&Attendee> for AttendeeOut {
    fn from(attendee: &Attendee) -> Self {
        AttendeeOut {
            id: attendee.user_id.0,
            username: attendee.username.clone(),
        }
    }
}

/// A whole event (POST, PUT).
#[derive(Deserialize, Validate, ToSchema)]
#[schema(
    as = events_messages::EventInput,
    example = json!({"title": "Rust meetup", "description": "Talks", "date": "2030-03-14T18:00:00Z", "location": "Lyon", "capacity": 40})
)]
struct EventInput {
    /// 1..=200 characters once trimmed, unique (case-insensitive).
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Empty when left out.
    #[schema(max_length = 5000)]
    description: Option<String>,
    /// ISO 8601 (years 1 to 9999); without an offset, UTC.
    #[schema(format = DateTime)]
    date: String,
    /// Empty when left out.
    #[schema(max_length = 300)]
    location: Option<String>,
    /// Null or absent: unlimited.
    #[serde(default, deserialize_with = "wire::optional_integer")]
    #[schema(value_type = Option<i64>, minimum = 1)]
    capacity: Option<i64>,
}

impl From<EventInput> for EventDraft {
    fn from(input: EventInput) -> Self {
        EventDraft {
            title: input.title,
            description: input.description.unwrap_or_default(),
            date: input.date,
            location: input.location.unwrap_or_default(),
            capacity: input.capacity,
        }
    }
}

/// Some fields of an event (PATCH); those left out (or `null`) stay.
#[derive(Deserialize, Validate, ToSchema)]
#[schema(as = events_messages::EventPatch)]
struct EventChanges {
    #[schema(min_length = 1, max_length = 200)]
    title: Option<String>,
    #[schema(max_length = 5000)]
    description: Option<String>,
    #[schema(format = DateTime)]
    date: Option<String>,
    #[schema(max_length = 300)]
    location: Option<String>,
    /// Null: unlimited; left out: unchanged.
    #[serde(default, deserialize_with = "present_integer")]
    #[schema(value_type = Option<i64>, minimum = 1)]
    capacity: Option<Option<i64>>,
}

/// A nullable integer whose absence differs from `null`: present gives `Some`.
fn present_integer<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    wire::optional_integer(deserializer).map(Some)
}

impl From<EventChanges> for EventPatch {
    fn from(changes: EventChanges) -> Self {
        EventPatch {
            title: changes.title,
            description: changes.description,
            date: changes.date,
            location: changes.location,
            capacity: changes.capacity,
        }
    }
}

/// The filters of the event list (blank values are left out).
#[derive(Deserialize, Validate, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventFilterParams {
    /// Events on or after this date (ISO 8601; without an offset, UTC).
    #[param(format = DateTime)]
    #[validate(custom(function = "iso_date"))]
    from: Option<String>,
    /// Events on or before this date.
    #[param(format = DateTime)]
    #[validate(custom(function = "iso_date"))]
    to: Option<String>,
    /// Text the title contains (case-insensitive).
    q: Option<String>,
}

/// A date as [`parse_date`] reads it (worded by `events_messages::value_error`).
fn iso_date(raw: &str) -> Result<(), ValidationError> {
    parse_date(raw.trim())
        .map(|_| ())
        .ok_or_else(|| ValidationError::new("invalid_date"))
}

impl From<EventFilterParams> for EventFilter {
    fn from(params: EventFilterParams) -> Self {
        let bound = |raw: Option<String>| raw.and_then(|raw| parse_date(raw.trim()));
        EventFilter::new(bound(params.from), bound(params.to), params.q.as_deref())
    }
}

impl Words<EventError> for FastApi {
    fn word(error: EventError) -> ApiError {
        match error {
            EventError::Invalid(errors) => {
                FastApi::invalid(&errors.iter().map(FieldIssue::from).collect::<Vec<_>>())
            }
            EventError::TitleTaken => FastApi::message(
                StatusCode::BAD_REQUEST,
                "An event with this title already exists",
            ),
            EventError::NotFound => FastApi::message(StatusCode::NOT_FOUND, "Event not found"),
            EventError::Forbidden => FastApi::message(
                StatusCode::FORBIDDEN,
                "Only the organizer or an admin may change this event",
            ),
            EventError::Full => FastApi::message(StatusCode::CONFLICT, "Event is full"),
            EventError::Storage(e) => storage_failure::<FastApi>(&e),
        }
    }
}

/// The caller, as the events service judges permissions.
fn actor(caller: &Authenticated) -> Actor {
    Actor {
        user_id: caller.user.id,
        is_admin: caller.user.is_staff,
    }
}

/// The `{event_id}` of the path, or FastAPI's 422 for a non-integer.
fn event_id(raw: &str) -> Result<EventId, ApiError> {
    path_integer("event_id", raw).map(EventId)
}

/// Runs `work` as the caller on the event of the path.
async fn as_caller<T: Send + 'static>(
    caller: &Authenticated,
    state: &AppState,
    path: &str,
    work: impl FnOnce(&EventService, Actor, EventId) -> Result<T, EventError> + Send + 'static,
) -> Result<T, ApiError> {
    let (id, actor) = (event_id(path)?, actor(caller));
    FastApi::call(&state.events, move |e| work(e, actor, id)).await
}

fn answer(event: &Event) -> HttpResponse {
    HttpResponse::Ok().json(EventOut::from(event))
}

/// Create an event; the caller organizes it.
#[utoipa::path(
    request_body = EventInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Created", body = EventOut),
        (status = 400, description = "`An event with this title already exists`", body = doc::FastApiError),
        (status = 429, description = "Too many events created by this user", body = doc::FastApiError, headers(
            ("Retry-After" = u64, description = "Seconds to wait")
        )),
    )
)]
#[post("/events/")]
async fn create_event(
    Authed(caller, body): Authed<FastApi, Body<EventInput, FastApi>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.limits.check_event(caller.user.id.0).map_err(|wait| {
        FastApi::message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many events. Try again later.",
        )
        .with_retry_after(wait)
    })?;
    let (actor, draft) = (actor(&caller), body.into_inner().into());
    let event = FastApi::call(&state.events, move |e| e.create(actor, draft)).await?;
    Ok(answer(&event))
}

/// Events by date, filtered.
#[utoipa::path(
    params(doc::PageParams, EventFilterParams),
    responses(
        (status = 200, description = "A page of events, by date", body = [EventOut]),
        (status = 422, description = "Bad `skip`, `limit`, `from` or `to`", body = doc::FastApiValidationError),
    )
)]
#[get("/events/")]
async fn list_events(
    state: web::Data<AppState>,
    listing: Listing<EventFilterParams, FastApi>,
) -> Result<HttpResponse, ApiError> {
    let (page, filter) = (listing.page, EventFilter::from(listing.filter));
    let listed = FastApi::call(&state.events, move |e| e.list(page, &filter)).await?;
    Ok(HttpResponse::Ok().json(listed.iter().map(EventOut::from).collect::<Vec<_>>()))
}

/// One event.
#[utoipa::path(
    params(("event_id" = i64, Path)),
    responses(
        (status = 200, description = "The event", body = EventOut),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[get("/events/{event_id}")]
async fn get_event(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let event = FastApi::call(&state.events, move |e| e.get(id)).await?;
    Ok(answer(&event))
}

/// The answers of a change to an event (PUT, PATCH) but a bad body.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only documented: the handlers answer through `answer` and `ApiError`.
enum EventChanged {
    #[response(status = 200, description = "The event")]
    Changed(EventOut),
    #[response(
        status = 400,
        description = "`An event with this title already exists`"
    )]
    TitleTaken(doc::FastApiError),
    #[response(status = 403, description = "Neither the organizer nor an admin")]
    Forbidden(doc::FastApiError),
    #[response(status = 404, description = "`Event not found`")]
    NotFound(doc::FastApiError),
}

/// Replace an event (its organizer or an admin).
#[utoipa::path(
    params(("event_id" = i64, Path)),
    request_body = EventInput,
    security(("bearer" = [])),
    responses(
        EventChanged,
        (status = 422, description = "Missing or bad fields, or `event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[put("/events/{event_id}")]
async fn replace_event(
    Authed(caller, body): Authed<FastApi, Body<EventInput, FastApi>>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let draft = EventDraft::from(body.into_inner());
    let replace = move |e: &EventService, actor, id| e.replace(actor, id, draft);
    Ok(answer(&as_caller(&caller, &state, &path, replace).await?))
}

/// Change some fields of an event (its organizer or an admin); without a
/// body, nothing changes.
#[utoipa::path(
    params(("event_id" = i64, Path)),
    request_body = Option<EventChanges>,
    security(("bearer" = [])),
    responses(
        EventChanged,
        (status = 422, description = "Bad fields, or `event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[patch("/events/{event_id}")]
async fn update_event(
    Authed(caller, body): Authed<FastApi, Body<EventChanges, FastApi>>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let patch = EventPatch::from(body.into_inner());
    let update = move |e: &EventService, actor, id| e.update(actor, id, patch);
    Ok(answer(&as_caller(&caller, &state, &path, update).await?))
}

/// Delete an event (its organizer or an admin).
#[utoipa::path(
    params(("event_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Neither the organizer nor an admin", body = doc::FastApiError),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[delete("/events/{event_id}")]
async fn delete_event(
    caller: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    as_caller(&caller, &state, &path, EventService::delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Attend an event (idempotent).
#[utoipa::path(
    params(("event_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event", body = EventOut),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 409, description = "`Event is full`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[post("/events/{event_id}/attendance")]
async fn attend(
    caller: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(answer(
        &as_caller(&caller, &state, &path, EventService::attend).await?,
    ))
}

/// Stop attending an event (idempotent).
#[utoipa::path(
    params(("event_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Not attending"),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[delete("/events/{event_id}/attendance")]
async fn leave(
    caller: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    as_caller(&caller, &state, &path, EventService::leave).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who attends an event.
#[utoipa::path(
    params(("event_id" = i64, Path), doc::PageParams),
    responses(
        (status = 200, description = "A page of attendees", body = [AttendeeOut]),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "Bad `skip` or `limit`, or `event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
#[get("/events/{event_id}/attendees")]
async fn attendees(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let page = page_of::<FastApi>(&request)?;
    let listed = FastApi::call(&state.events, move |e| e.attendees(id, page)).await?;
    Ok(HttpResponse::Ok().json(listed.iter().map(AttendeeOut::from).collect::<Vec<_>>()))
}
