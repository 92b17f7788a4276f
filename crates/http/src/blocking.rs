use actix_web::web;

/// Runs blocking work (diesel, bcrypt) on the blocking thread pool, never on
/// an async worker. `None` when the pool is gone (the server is shutting down).
pub(crate) async fn blocking<F, T>(work: F) -> Option<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    web::block(work).await.ok()
}
