use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use sesame_kernel::audit::Actor;
use sesame_kernel::UserId;

use crate::{AppState, HttpSettings};

/// The client's IP: the peer address, or what the trusted proxy's header
/// says when the peer is that proxy ([`sesame_kernel::audit::TrustedProxy::client_ip`]).
pub(crate) fn client_ip(request: &HttpRequest, settings: &HttpSettings) -> Option<IpAddr> {
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

/// The client of a request: its address ([`client_ip`]) and `User-Agent`,
/// as no account yet; for the sessions it opens and the audit entries of
/// what it does.
pub(crate) struct Client(pub(crate) Actor);

impl Client {
    /// The audit actor of a request that proves no account (yet).
    pub(crate) fn anonymous(self) -> Actor {
        self.0
    }

    /// The audit actor of a request made as `user`.
    pub(crate) fn acting_as(self, user: UserId) -> Actor {
        self.0.acting_as(user)
    }
}

impl FromRequest for Client {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = request
            .app_data::<web::Data<AppState>>()
            .and_then(|state| client_ip(request, &state.settings));
        let user_agent = request.headers().get(header::USER_AGENT);
        let actor = Actor::client(ip, user_agent.and_then(|v| v.to_str().ok()));
        ready(Ok(Client(actor)))
    }
}
