use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;
use sesame_kernel::audit;
use sesame_kernel::Actor;

use crate::PagesSettings;

/// The client address: [`sesame_kernel::audit::client_ip`] of the configured
/// trusted proxy header's last line, if any, and the peer address.
pub(crate) fn ip(request: &HttpRequest, settings: &PagesSettings) -> Option<IpAddr> {
    let forwarded = settings.trusted_proxy_header.as_ref().and_then(|name| {
        let last_line = request.headers().get_all(name.as_str()).last()?;
        Some(last_line.as_bytes())
    });
    audit::client_ip(forwarded, request.peer_addr().map(|addr| addr.ip()))
}

/// Who is asking: the client address and `User-Agent`, as no account yet.
pub(crate) fn actor(request: &HttpRequest, settings: &PagesSettings) -> Actor {
    let user_agent = request.headers().get(header::USER_AGENT);
    Actor::client(
        ip(request, settings),
        user_agent.and_then(|v| v.to_str().ok()),
    )
}
