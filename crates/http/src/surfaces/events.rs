//! Surface `events_messages`, its events rows: events, attendance and
//! attendees, in FastAPI's shapes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::SecondsFormat;
use serde_json::{json, Map, Value};
use sesame_events::{
    parse_date, Actor, Attendee, Event, EventDraft, EventError, EventFilter, EventId, EventPatch,
};

use super::FastApi;
use super::{page_of, run, storage_failure};
use crate::body::read_object;
use crate::fields::{integer_of, issue, Fields, IssueKind};
use crate::openapi::{schemas as doc, OptionalBodies};
use crate::query::query_map;
use crate::shape::Shape;
use crate::wire::FieldIssue;
use crate::{ApiError, AppState, Bearer};

type Authenticated = Bearer<FastApi>;

pub(super) fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/events/")
                .route(web::get().to(list_events))
                .route(web::post().to(create_event)),
        )
        .service(
            web::resource("/events/{event_id}")
                .route(web::get().to(get_event))
                .route(web::put().to(replace_event))
                .route(web::patch().to(update_event))
                .route(web::delete().to(delete_event)),
        )
        .service(
            web::resource("/events/{event_id}/attendance")
                .route(web::post().to(attend))
                .route(web::delete().to(leave)),
        )
        .service(web::resource("/events/{event_id}/attendees").route(web::get().to(attendees)));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    modifiers(&OPTIONAL_BODIES),
    paths(
        create_event,
        list_events,
        get_event,
        replace_event,
        update_event,
        delete_event,
        attend,
        leave,
        attendees
    )
)]
pub(super) struct Api;

/// A PATCH without a body changes nothing.
const OPTIONAL_BODIES: OptionalBodies = OptionalBodies(&[("patch", "/events/{event_id}")]);

/// An event as this surface shows it.
fn event_json(event: &Event) -> Value {
    json!({
        "id": event.id.0,
        "title": event.title,
        "description": event.description,
        // RFC 3339 in UTC; a fraction of a second only when there is one.
        "date": event.date.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "location": event.location,
        "organizer_id": event.organizer_id.0,
        "capacity": event.capacity,
        "attendees_count": event.attendees_count,
    })
}

fn attendee_json(attendee: &Attendee) -> Value {
    json!({"id": attendee.user_id.0, "username": attendee.username})
}

/// Words an event error in this surface's shape.
fn events_error(error: EventError) -> ApiError {
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

fn actor(caller: &Authenticated) -> Actor {
    Actor {
        user_id: caller.user.id,
        is_admin: caller.user.is_staff,
    }
}

/// The `{event_id}` of the path, or FastAPI's 422 for a non-integer.
fn event_id(raw: &str) -> Result<EventId, ApiError> {
    raw.parse::<i64>().map(EventId).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{
                "type": "int_parsing",
                "loc": ["path", "event_id"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
            }]}),
        )
    })
}

/// The body's fields, with `capacity` (a nullable integer) taken out:
/// absent gives `None`, `null` gives `Some(None)`.
struct EventBody {
    fields: Fields,
    capacity: Option<Option<i64>>,
}

impl EventBody {
    async fn read(
        state: &AppState,
        request: &HttpRequest,
        payload: web::Payload,
    ) -> Result<EventBody, ApiError> {
        let mut map: Map<String, Value> =
            read_object(request, payload, state.settings.max_json_bytes)
                .await
                .map_err(FastApi::body_error)?;
        let raw_capacity = map.remove("capacity");
        let mut fields = Fields::new(map);
        let capacity = raw_capacity.and_then(|value| match value {
            Value::Null => Some(None),
            Value::Number(n) if integer_of(&n).is_some() => Some(integer_of(&n)),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => Some(s.trim().parse().ok()),
            _ => {
                fields.issue(
                    "capacity",
                    IssueKind::NotInteger,
                    "A valid integer is required.",
                );
                None
            }
        });
        Ok(EventBody { fields, capacity })
    }

    /// A whole event (POST, PUT): title and date are required; description
    /// and location default to empty, capacity to unlimited.
    fn draft(mut self) -> Result<EventDraft, ApiError> {
        let draft = EventDraft {
            title: self.fields.required("title"),
            description: self.fields.optional("description").unwrap_or_default(),
            date: self.fields.required("date"),
            location: self.fields.optional("location").unwrap_or_default(),
            capacity: self.capacity.flatten(),
        };
        self.fields
            .finish()
            .map_err(|issues| FastApi::invalid(&issues))?;
        Ok(draft)
    }

    /// Some fields of an event (PATCH).
    fn patch(mut self) -> Result<EventPatch, ApiError> {
        let patch = EventPatch {
            title: self.fields.optional("title"),
            description: self.fields.optional("description"),
            date: self.fields.optional("date"),
            location: self.fields.optional("location"),
            capacity: self.capacity,
        };
        self.fields
            .finish()
            .map_err(|issues| FastApi::invalid(&issues))?;
        Ok(patch)
    }
}

/// `from`, `to` and `q` of the query string.
fn filter_of(request: &HttpRequest) -> Result<EventFilter, ApiError> {
    let query = query_map(request);
    let mut issues = Vec::new();
    let mut bound = |name: &str| {
        let raw = query
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())?;
        let date = parse_date(raw);
        if date.is_none() {
            issues.push(
                issue(
                    name,
                    IssueKind::Invalid,
                    "Expected a date in ISO 8601, e.g. 2024-03-14T12:00:00 or 2024-03-14.",
                )
                .in_query(),
            );
        }
        date
    };
    let from = bound("from");
    let to = bound("to");
    if !issues.is_empty() {
        return Err(FastApi::invalid(&issues));
    }
    Ok(EventFilter::new(
        from,
        to,
        query.get("q").map(String::as_str),
    ))
}

/// Create an event; the caller organizes it.
#[utoipa::path(
    post,
    path = "/events/",
    request_body = doc::EventInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Created", body = doc::Event),
        (status = 400, description = "`An event with this title already exists`", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields", body = doc::FastApiValidationError),
    )
)]
async fn create_event(
    caller: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let draft = EventBody::read(&state, &request, payload).await?.draft()?;
    let actor = actor(&caller);
    let events = state.events.clone();
    let event = run::<FastApi, _, _>(move || events.create(actor, draft))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::Ok().json(event_json(&event)))
}

/// Events by date, filtered.
#[utoipa::path(
    get,
    path = "/events/",
    params(doc::PageParams, doc::EventFilterParams),
    responses(
        (status = 200, description = "A page of events, by date", body = [doc::Event]),
        (status = 422, description = "Bad `skip`, `limit`, `from` or `to`", body = doc::FastApiValidationError),
    )
)]
async fn list_events(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = page_of::<FastApi>(&request)?;
    let filter = filter_of(&request)?;
    let events = state.events.clone();
    let listed = run::<FastApi, _, _>(move || events.list(page, &filter))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::Ok().json(listed.iter().map(event_json).collect::<Vec<_>>()))
}

/// One event.
#[utoipa::path(
    get,
    path = "/events/{event_id}",
    params(("event_id" = i64, Path)),
    responses(
        (status = 200, description = "The event", body = doc::Event),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn get_event(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let events = state.events.clone();
    let event = run::<FastApi, _, _>(move || events.get(id))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::Ok().json(event_json(&event)))
}

/// Replace an event (its organizer or an admin).
#[utoipa::path(
    put,
    path = "/events/{event_id}",
    params(("event_id" = i64, Path)),
    request_body = doc::EventInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event", body = doc::Event),
        (status = 400, description = "`An event with this title already exists`", body = doc::FastApiError),
        (status = 403, description = "Neither the organizer nor an admin", body = doc::FastApiError),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "Missing or bad fields, or `event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn replace_event(
    caller: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let draft = EventBody::read(&state, &request, payload).await?.draft()?;
    let actor = actor(&caller);
    let events = state.events.clone();
    let event = run::<FastApi, _, _>(move || events.replace(actor, id, draft))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::Ok().json(event_json(&event)))
}

/// Change some fields of an event (its organizer or an admin).
#[utoipa::path(
    patch,
    path = "/events/{event_id}",
    params(("event_id" = i64, Path)),
    request_body = doc::EventPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event", body = doc::Event),
        (status = 400, description = "`An event with this title already exists`", body = doc::FastApiError),
        (status = 403, description = "Neither the organizer nor an admin", body = doc::FastApiError),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "Bad fields, or `event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn update_event(
    caller: Authenticated,
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let patch = EventBody::read(&state, &request, payload).await?.patch()?;
    let actor = actor(&caller);
    let events = state.events.clone();
    let event = run::<FastApi, _, _>(move || events.update(actor, id, patch))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::Ok().json(event_json(&event)))
}

/// Delete an event (its organizer or an admin).
#[utoipa::path(
    delete,
    path = "/events/{event_id}",
    params(("event_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Neither the organizer nor an admin", body = doc::FastApiError),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn delete_event(
    caller: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let actor = actor(&caller);
    let events = state.events.clone();
    run::<FastApi, _, _>(move || events.delete(actor, id))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Attend an event (idempotent).
#[utoipa::path(
    post,
    path = "/events/{event_id}/attendance",
    params(("event_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event", body = doc::Event),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 409, description = "`Event is full`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn attend(
    caller: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let actor = actor(&caller);
    let events = state.events.clone();
    let event = run::<FastApi, _, _>(move || events.attend(actor, id))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::Ok().json(event_json(&event)))
}

/// Stop attending an event (idempotent).
#[utoipa::path(
    delete,
    path = "/events/{event_id}/attendance",
    params(("event_id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Not attending"),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "`event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn leave(
    caller: Authenticated,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let actor = actor(&caller);
    let events = state.events.clone();
    run::<FastApi, _, _>(move || events.leave(actor, id))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who attends an event.
#[utoipa::path(
    get,
    path = "/events/{event_id}/attendees",
    params(("event_id" = i64, Path), doc::PageParams),
    responses(
        (status = 200, description = "A page of attendees", body = [doc::Attendee]),
        (status = 404, description = "`Event not found`", body = doc::FastApiError),
        (status = 422, description = "Bad `skip` or `limit`, or `event_id` is not an integer", body = doc::FastApiValidationError),
    )
)]
async fn attendees(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = event_id(&path)?;
    let page = page_of::<FastApi>(&request)?;
    let events = state.events.clone();
    let attendees = run::<FastApi, _, _>(move || events.attendees(id, page))
        .await?
        .map_err(events_error)?;
    Ok(HttpResponse::Ok().json(attendees.iter().map(attendee_json).collect::<Vec<_>>()))
}
