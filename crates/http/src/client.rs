use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use sesame_kernel::audit::{self, Actor};
use sesame_kernel::UserId;

use crate::{AppState, HttpSettings};

/// The client's IP: [`sesame_kernel::audit::client_ip`] of the configured
/// trusted proxy header's last line, if any, and the peer address.
pub(crate) fn client_ip(request: &HttpRequest, settings: &HttpSettings) -> Option<IpAddr> {
    let forwarded = settings.trusted_proxy_header.as_ref().and_then(|name| {
        let last_line = request.headers().get_all(name.as_str()).last()?;
        Some(last_line.as_bytes())
    });
    audit::client_ip(forwarded, request.peer_addr().map(|addr| addr.ip()))
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
        Actor {
            user: Some(user),
            ..self.0
        }
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
