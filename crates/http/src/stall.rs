//! A request body that stalls is cut off: once a request has a body, each
//! read of it must bring data within the body timeout, and the whole body
//! must arrive within [`WHOLE_BODY_TIMEOUTS`] timeouts (a byte sent now and
//! then would otherwise hold a connection for days), or the request is
//! answered 408 (in the shape of the surface serving the path) and the
//! connection closed. Holds for JSON, form and multipart bodies alike.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, HttpMessage, ResponseError};
use futures_util::Stream;
use tokio::time::{sleep, Instant, Sleep};

use crate::declare::Answers;
use crate::routes::Routes;
use crate::surfaces::FastApi;

/// How many body timeouts a whole body may take to arrive: 60 s by default,
/// time for a 2 MiB avatar at 280 kbit/s.
pub const WHOLE_BODY_TIMEOUTS: u32 = 6;

/// How long a request body may send nothing before it is cut off.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// Wraps the body of each request that has one in the stall timeout; a
/// request whose body stalled gets a 408.
pub async fn body_timeout(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let timeout = request
        .app_data::<web::Data<BodyTimeout>>()
        .map(|t| t.0)
        .filter(|t| !t.is_zero());
    let has_body = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || request.headers().contains_key(TRANSFER_ENCODING);
    let (Some(timeout), true) = (timeout, has_body) else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    let stalled = Rc::new(Cell::new(false));
    let inner = request.take_payload();
    let guarded = Stalling {
        inner,
        timeout,
        whole_by: Instant::now() + timeout * WHOLE_BODY_TIMEOUTS,
        deadline: Box::pin(sleep(timeout)),
        stalled: stalled.clone(),
    };
    request.set_payload(Payload::from(
        Box::pin(guarded) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    let response = next.call(request).await?.map_into_boxed_body();
    if !stalled.get() {
        return Ok(response);
    }
    let answers = response
        .request()
        .app_data::<web::Data<Routes>>()
        // The decoded path, as the router and the other middlewares see it.
        .map_or_else(Answers::of::<FastApi>, |routes| {
            routes.answers(response.request().match_info().as_str())
        });
    tracing::info!(seconds = timeout.as_secs(), "request body stalled; cut off");
    let mut answer = (answers.refusal)(
        StatusCode::REQUEST_TIMEOUT,
        "The request body did not arrive in time.",
        "Le corps de la requête n'est pas arrivé à temps",
        "request_timeout",
    )
    .error_response();
    answer.head_mut().set_connection_type(ConnectionType::Close);
    Ok(response.into_response(answer))
}

/// A body stream that fails once it has been idle for `timeout`, or is
/// still arriving at `whole_by`.
struct Stalling {
    inner: Payload,
    timeout: Duration,
    whole_by: Instant,
    deadline: Pin<Box<Sleep>>,
    stalled: Rc<Cell<bool>>,
}

impl Stream for Stalling {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.stalled.get() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(item) => {
                let next = (Instant::now() + self.timeout).min(self.whole_by);
                self.deadline.as_mut().reset(next);
                Poll::Ready(item)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.stalled.set(true);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body stalled",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
