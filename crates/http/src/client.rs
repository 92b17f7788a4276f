use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;
use sesame_tokens::ClientInfo;

use crate::HttpSettings;

/// The longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 256;

/// The client's IP: from the configured trusted proxy header (its first
/// address) when one is set, otherwise the peer address. Without a trusted
/// header, forwarding headers are ignored: anyone can write them.
pub(crate) fn client_ip(request: &HttpRequest, settings: &HttpSettings) -> Option<IpAddr> {
    if let Some(name) = &settings.trusted_proxy_header {
        let forwarded = request
            .headers()
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|first| first.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    request.peer_addr().map(|addr| addr.ip())
}

/// Who is calling: the client address and `User-Agent`, for the session list.
pub(crate) fn client_info(request: &HttpRequest, settings: &HttpSettings) -> ClientInfo {
    ClientInfo {
        ip: client_ip(request, settings).map(|ip| ip.to_string()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                sesame_kernel::audit::printable(
                    &ua.chars().take(MAX_USER_AGENT).collect::<String>(),
                )
            }),
    }
}
