use std::convert::Infallible;
use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use sesame_kernel::audit::Actor;
use sesame_kernel::UserId;
use sesame_tokens::ClientInfo;

use crate::{AppState, HttpSettings};

/// The longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 256;

/// The client's IP: from the configured trusted proxy header when one is
/// set, otherwise the peer address. Of a list, the last address of the
/// last line: the one the proxy added (a client can write the ones before it). Without a
/// trusted header, forwarding headers are ignored: anyone can write them.
pub(crate) fn client_ip(request: &HttpRequest, settings: &HttpSettings) -> Option<IpAddr> {
    if let Some(name) = &settings.trusted_proxy_header {
        let forwarded = request
            .headers()
            .get_all(name.as_str())
            .last()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    request.peer_addr().map(|addr| addr.ip())
}

/// Who is calling: the client address and `User-Agent`, for the session list.
fn client_info(request: &HttpRequest, settings: &HttpSettings) -> ClientInfo {
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

/// The client of a request ([`client_info`]), for the sessions it opens and
/// the audit entries of what it does.
pub(crate) struct Client(pub(crate) ClientInfo);

impl Client {
    /// The audit actor of a request that proves no account (yet).
    pub(crate) fn anonymous(self) -> Actor {
        Actor {
            user: None,
            ip: self.0.ip,
            user_agent: self.0.user_agent,
        }
    }

    /// The audit actor of a request made as `user`.
    pub(crate) fn acting_as(self, user: UserId) -> Actor {
        Actor {
            user: Some(user),
            ..self.anonymous()
        }
    }
}

impl FromRequest for Client {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let info = match request.app_data::<web::Data<AppState>>() {
            Some(state) => client_info(request, &state.settings),
            None => ClientInfo::default(),
        };
        ready(Ok(Client(info)))
    }
}
