use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::{ready, Either, LocalBoxFuture, Ready};
use sesame_tokens::TokensError;
use sesame_users::User;

use crate::blocking::blocking;
use crate::shape::{AuthFailure, Shape};

use crate::{ApiError, AppState};

/// A caller proven by `Authorization: Bearer <token>`, a JWT access token or
/// an opaque token from any surface. `S` words the refusal in the shape of
/// the surface whose route asked.
pub struct Bearer<S> {
    /// The caller's account.
    pub user: User,
    /// The session of the token.
    pub session_id: String,
    shape: PhantomData<S>,
}

/// The token of `Authorization: Bearer <token>`. Read as bytes: a token
/// with bytes no token has is refused by its check, so the header need not
/// be validated byte by byte first.
fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.trim_ascii().split_at_checked(6)?;
    let token = token.strip_prefix(b" ")?.trim_ascii();
    if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// Checks a token against storage, on the blocking pool.
async fn authenticate_stored<S: Shape>(
    state: &web::Data<AppState>,
    token: String,
) -> Result<Bearer<S>, ApiError> {
    let sessions = state.sessions.clone();
    match blocking(move || sessions.authenticate(&token)).await {
        Some(Ok(authenticated)) => Ok(Bearer {
            user: authenticated.user,
            session_id: authenticated.session_id,
            shape: PhantomData,
        }),
        Some(Err(TokensError::Storage(e))) => {
            tracing::error!(error = %e, "authentication failed on storage");
            Err(S::unavailable())
        }
        Some(Err(_)) => Err(S::unauthorized(AuthFailure::Invalid)),
        None => Err(S::unavailable()),
    }
}

impl<S: Shape> FromRequest for Bearer<S> {
    type Error = ApiError;
    /// Ready at once when the answer is known from memory (most requests):
    /// no allocation of a future, no copy of the token.
    type Future =
        Either<Ready<Result<Self, ApiError>>, LocalBoxFuture<'static, Result<Self, ApiError>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(token) = bearer(request) else {
            return Either::Left(ready(Err(S::unauthorized(AuthFailure::Missing))));
        };
        let Some(state) = request.app_data::<web::Data<AppState>>() else {
            return Either::Left(ready(Err(S::unavailable())));
        };
        if let Some(known) = state.sessions.authenticate_cached(token) {
            return Either::Left(ready(Ok(Bearer {
                user: known.user,
                session_id: known.session_id,
                shape: PhantomData,
            })));
        }
        let (state, token) = (state.clone(), token.to_owned());
        Either::Right(Box::pin(
            async move { authenticate_stored(&state, token).await },
        ))
    }
}

/// A protected route's caller, then its request body `B`: the token is
/// checked before the body is read, so that a request without a valid token
/// is refused as such, never told what is wrong with its body; and again
/// once the body is whole, since a client may take up to a minute to send
/// it: a session ended meanwhile (a password reset, say) acts no more, and
/// the handler sees the account as it is then.
pub struct Authed<S, B>(pub Bearer<S>, pub B);

impl<S: Shape, B: FromRequest<Error = ApiError> + 'static> FromRequest for Authed<S, B> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let first_check = Bearer::<S>::from_request(request, payload);
        let body = B::from_request(request, payload);
        let request = request.clone();
        Box::pin(async move {
            first_check.await?;
            let body = body.await?;
            let caller = Bearer::<S>::from_request(&request, &mut Payload::None).await?;
            Ok(Authed(caller, body))
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderValue, AUTHORIZATION};
    use actix_web::test::TestRequest;

    use super::bearer;

    fn token_of(value: &[u8]) -> Option<String> {
        let value = HeaderValue::from_bytes(value).unwrap();
        let request = TestRequest::default()
            .insert_header((AUTHORIZATION, value))
            .to_http_request();
        bearer(&request).map(str::to_owned)
    }

    #[test]
    fn the_token_follows_the_bearer_scheme_in_any_case() {
        assert_eq!(token_of(b"Bearer a.b.c").as_deref(), Some("a.b.c"));
        assert_eq!(token_of(b" bEaReR   a.b.c ").as_deref(), Some("a.b.c"));
        for refused in [
            &b"Basic YTpi"[..],
            b"Bearer",
            b"Bearer  ",
            b"Bearera.b.c",
            b"Bearer\tx",
        ] {
            assert_eq!(token_of(refused), None, "{refused:?}");
        }
        assert_eq!(token_of(b"Bearer \xff\xfe"), None);
    }
}
