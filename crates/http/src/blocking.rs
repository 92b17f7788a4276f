use actix_web::web;

/// Runs blocking work (diesel, bcrypt) on the blocking thread pool, never on
/// an async worker, inside the caller's span (so its lines carry the request
/// id). `None` when the pool is gone (the server is shutting down).
pub(crate) async fn blocking<F, T>(work: F) -> Option<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work)).await.ok()
}
