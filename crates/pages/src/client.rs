use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;
use sesame_kernel::Actor;

use crate::PagesSettings;

/// The client address: the peer address, or what the trusted proxy's
/// header says when the peer is that proxy ([`sesame_kernel::audit::TrustedProxy::client_ip`]).
pub(crate) fn ip(request: &HttpRequest, settings: &PagesSettings) -> Option<IpAddr> {
    let peer = request.peer_addr().map(|addr| addr.ip());
    let Some(proxy) = &settings.trusted_proxy else {
        return peer;
    };
    let last_line = request.headers().get_all(proxy.header.as_str()).last();
    proxy.client_ip(last_line.map(|line| line.as_bytes()), peer)
}

/// The host the request was sent to: its `Host` (or HTTP/2's authority),
/// never a forwarding header any client may send.
pub(crate) fn host(request: &HttpRequest) -> Option<&str> {
    (request.headers().get(header::HOST))
        .and_then(|host| host.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
}

/// Who is asking: the client address and `User-Agent`, as no account yet.
pub(crate) fn actor(request: &HttpRequest, settings: &PagesSettings) -> Actor {
    let user_agent = request.headers().get(header::USER_AGENT);
    Actor::client(
        ip(request, settings),
        user_agent.and_then(|v| v.to_str().ok()),
    )
}
