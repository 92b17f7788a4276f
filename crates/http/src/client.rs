use actix_web::http::header;
use actix_web::HttpRequest;
use sesame_tokens::ClientInfo;

/// The longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 256;

/// Who is calling: the peer address and `User-Agent`, for the session list.
pub(crate) fn client_info(request: &HttpRequest) -> ClientInfo {
    ClientInfo {
        ip: request.peer_addr().map(|addr| addr.ip().to_string()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
    }
}
