use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;
use sesame_kernel::audit::printable;
use sesame_kernel::Actor;

use crate::PagesSettings;

/// The longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 256;

/// The client address: from the trusted proxy header when one is
/// configured (anyone can write it otherwise), the last address of its last
/// line (the one the proxy added), else the peer's.
pub(crate) fn ip(request: &HttpRequest, settings: &PagesSettings) -> Option<IpAddr> {
    let forwarded = settings.trusted_proxy_header.as_ref().and_then(|name| {
        request
            .headers()
            .get_all(name.as_str())
            .last()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
    });
    forwarded.or_else(|| request.peer_addr().map(|addr| addr.ip()))
}

/// Who is asking: the client address and `User-Agent`, as no account yet.
pub(crate) fn actor(request: &HttpRequest, settings: &PagesSettings) -> Actor {
    Actor {
        user: None,
        ip: ip(request, settings).map(|ip| ip.to_string()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| printable(&ua.chars().take(MAX_USER_AGENT).collect::<String>())),
    }
}
