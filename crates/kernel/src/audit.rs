//! The security audit log: what happened to whom, from where, and when.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;

use crate::secrets::hex;
use crate::{Page, StorageError, Timestamp, UserId};

/// Who does something: the account acting, if any, and where from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The account acting (none for a login not yet proven, or the CLI).
    pub user: Option<UserId>,
    /// The client IP address (none on the command line).
    pub ip: Option<String>,
    /// The client `User-Agent`, or what the program calls itself.
    pub user_agent: Option<String>,
}

/// The longest `User-Agent` an actor keeps.
const MAX_USER_AGENT: usize = 256;

impl Actor {
    /// A client over HTTP that proves no account (yet), from `ip` with
    /// `user_agent`: the agent is cut to 256 characters and made [`printable`].
    pub fn client(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        Actor {
            user: None,
            ip: ip.map(|ip| ip.to_string()),
            user_agent: user_agent
                .map(|ua| printable(&ua.chars().take(MAX_USER_AGENT).collect::<String>())),
        }
    }

    /// The `sesame` command line, run by whoever runs the server.
    pub fn command_line() -> Self {
        Actor {
            user: None,
            ip: None,
            user_agent: Some("sesame command line".to_owned()),
        }
    }

    /// The same client, acting as `user`.
    #[must_use]
    pub fn acting_as(self, user: UserId) -> Self {
        Actor {
            user: Some(user),
            ..self
        }
    }
}

/// A client's address: the last one of `forwarded`, the value of the
/// trusted proxy header when one is configured (the one the proxy added: a
/// client can write those before it), else `peer`'s. Without a trusted
/// header forwarded addresses are ignored: anyone can write them. A port
/// some proxies add (`203.0.113.9:4711`, `[2001:db8::1]:443`) is dropped:
/// were the address refused for it, every client would count as the proxy.
/// The header is read as bytes: what a client wrote before the proxy's
/// address (a non-UTF-8 byte, say) does not spoil it.
///
/// ```
/// use std::net::IpAddr;
/// use sesame_kernel::audit::client_ip;
/// let peer: IpAddr = "10.0.0.1".parse().unwrap();
/// let added: IpAddr = "203.0.113.9".parse().unwrap();
/// let v6: IpAddr = "2001:db8::1".parse().unwrap();
/// assert_eq!(client_ip(Some(b"1.1.1.1, 203.0.113.9"), Some(peer)), Some(added));
/// assert_eq!(client_ip(Some(b"\xff, 203.0.113.9"), Some(peer)), Some(added));
/// assert_eq!(client_ip(Some(b"203.0.113.9:4711"), Some(peer)), Some(added));
/// assert_eq!(client_ip(Some(b"[2001:db8::1]:443"), Some(peer)), Some(v6));
/// assert_eq!(client_ip(Some(b"[2001:db8::1]"), Some(peer)), Some(v6));
/// assert_eq!(client_ip(Some(b"not an address"), Some(peer)), Some(peer));
/// assert_eq!(client_ip(None, Some(peer)), Some(peer));
/// ```
pub fn client_ip(forwarded: Option<&[u8]>, peer: Option<IpAddr>) -> Option<IpAddr> {
    forwarded
        .and_then(|line| line.rsplit(|byte| *byte == b',').next())
        .and_then(|last| std::str::from_utf8(last).ok())
        .and_then(|last| address(last.trim()))
        .or(peer)
}

/// A reverse proxy whose word on the client's address is believed: the
/// header it sets, and the networks its connections come from. The header
/// of any other peer is ignored, since a client that reaches Sesame
/// directly could write any address in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxy {
    /// The header the proxy sets to the client address (`X-Forwarded-For`).
    pub header: String,
    networks: Vec<IpNet>,
}

impl TrustedProxy {
    /// Where the proxy is believed from unless configured: loopback and the
    /// private ranges, where a proxy in front of Sesame runs (the networks
    /// Rails trusts by default).
    pub const PRIVATE_NETWORKS: [&'static str; 6] = [
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    ];

    /// The proxy that sets `header` and connects from `networks`: each an
    /// address (`10.0.0.5`) or a network (`10.0.0.0/8`); IPv4 ones written
    /// as IPv6 (`::ffff:10.0.0.5`) are taken as the IPv4 they are, as peers
    /// are.
    ///
    /// # Errors
    /// The first entry that is neither, or no entry at all, in words.
    pub fn new(header: &str, networks: &[String]) -> Result<Self, String> {
        let networks: Vec<IpNet> = (networks.iter())
            .map(|entry| {
                let entry = entry.trim();
                (entry.parse::<IpAddr>().ok())
                    .map(|address| IpNet::from(address.to_canonical()))
                    .or_else(|| entry.parse::<IpNet>().ok().map(canonical))
                    .ok_or_else(|| {
                        format!("{entry:?} is neither an address nor a network such as 10.0.0.0/8")
                    })
            })
            .collect::<Result<_, _>>()?;
        if networks.is_empty() {
            return Err("no address or network: the header would never be believed \
                 (unset the header instead)"
                .to_owned());
        }
        Ok(TrustedProxy {
            header: header.trim().to_owned(),
            networks,
        })
    }

    /// The address of the client that sent a request from `peer`, whose
    /// last line of [`Self::header`] is `forwarded`: [`client_ip`] of that
    /// line when `peer` is in the proxy's networks, else `peer` itself. A
    /// header from another peer is logged (at most once a minute), as it
    /// may be the proxy's, left out of its networks by mistake.
    ///
    /// ```
    /// use sesame_kernel::audit::TrustedProxy;
    /// let proxy = TrustedProxy::new("X-Forwarded-For", &["10.0.0.0/8".into()]).unwrap();
    /// let behind = |peer: &str| proxy.client_ip(Some(b"203.0.113.9"), peer.parse().ok());
    /// assert_eq!(behind("10.1.2.3").unwrap().to_string(), "203.0.113.9");
    /// assert_eq!(behind("::ffff:10.1.2.3").unwrap().to_string(), "203.0.113.9");
    /// assert_eq!(behind("198.51.100.7").unwrap().to_string(), "198.51.100.7");
    /// let mapped = TrustedProxy::new("X-Real-IP", &["::ffff:10.0.0.5".into()]).unwrap();
    /// let client = mapped.client_ip(Some(b"203.0.113.9"), "10.0.0.5".parse().ok());
    /// assert_eq!(client.unwrap().to_string(), "203.0.113.9");
    /// assert!(TrustedProxy::new("X-Real-IP", &[]).is_err());
    /// ```
    pub fn client_ip(&self, forwarded: Option<&[u8]>, peer: Option<IpAddr>) -> Option<IpAddr> {
        let from_proxy = peer.is_some_and(|peer| {
            let peer = peer.to_canonical();
            self.networks.iter().any(|network| network.contains(&peer))
        });
        if from_proxy {
            return client_ip(forwarded, peer);
        }
        if forwarded.is_some() && due_once_a_minute() {
            tracing::warn!(
                header = %self.header,
                peer = ?peer.map(|peer| peer.to_canonical()),
                "a trusted proxy header came from a peer outside http.trusted_proxies and was \
                 ignored; if that peer is your proxy, add its address (logged once a minute)"
            );
        }
        peer
    }
}

/// An IPv4 network written as IPv6 (`::ffff:10.0.0.0/104`), as IPv4.
fn canonical(network: IpNet) -> IpNet {
    match network {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(network, IpNet::V4),
            None => network,
        },
        other => other,
    }
}

/// Whether a minute has passed since this last said yes (the first call
/// says yes): a warning any client can cause is logged, but not flooded.
fn due_once_a_minute() -> bool {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    (last == 0 || now >= last + 60)
        && LAST
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// Whether a browser says, by the value of its `Sec-Fetch-Site` header,
/// that a request comes from another origin: a sibling subdomain is the
/// same *site*, so SameSite cookies do not keep it out, but not the same
/// origin. Clients that send no such header (not browsers) are not.
///
/// ```
/// use sesame_kernel::audit::from_another_origin;
/// assert!(from_another_origin(Some(b"same-site")));
/// assert!(from_another_origin(Some(b"cross-site")));
/// assert!(!from_another_origin(Some(b"same-origin")));
/// assert!(!from_another_origin(Some(b"none")));
/// assert!(!from_another_origin(None));
/// ```
pub fn from_another_origin(sec_fetch_site: Option<&[u8]>) -> bool {
    sec_fetch_site.is_some_and(|site| !matches!(site, b"same-origin" | b"none"))
}

/// Whether a browser request comes from another origin: by `Sec-Fetch-Site`
/// where the browser sends it ([`from_another_origin`]), else by `Origin`,
/// which a browser without Fetch Metadata still sends with a cross-origin
/// POST (`null` for an opaque one). The service's own origins are
/// `public_origin` and any naming `host`, the host the request was sent to
/// (its `Host`, never a forwarding header any client may send).
///
/// ```
/// use sesame_kernel::audit::cross_origin;
/// let own = Some("https://id.example.com");
/// assert!(cross_origin(Some(b"same-site"), own, own, None));
/// assert!(!cross_origin(None, None, own, None));
/// assert!(!cross_origin(None, own, own, None));
/// assert!(!cross_origin(None, Some("http://127.0.0.1:8080"), own, Some("127.0.0.1:8080")));
/// assert!(cross_origin(None, Some("https://evil.example.com"), own, Some("id.example.com")));
/// assert!(cross_origin(None, Some("null"), own, None));
/// ```
pub fn cross_origin(
    sec_fetch_site: Option<&[u8]>,
    origin: Option<&str>,
    public_origin: Option<&str>,
    host: Option<&str>,
) -> bool {
    let own = |origin: &str| {
        let named = origin.split_once("://").map(|(_, named)| named);
        public_origin == Some(origin)
            || named.is_some_and(|named| host.is_some_and(|host| named.eq_ignore_ascii_case(host)))
    };
    match sec_fetch_site {
        Some(site) => from_another_origin(Some(site)),
        None => origin.is_some_and(|origin| !own(origin)),
    }
}

fn address(text: &str) -> Option<IpAddr> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|at| at.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// A security event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// What happened: `login_success`, `login_failure`, `logout`, ...
    pub kind: String,
    /// The account concerned, when known.
    pub user_id: Option<UserId>,
    /// The client IP address.
    pub ip: Option<String>,
    /// The client `User-Agent`.
    pub user_agent: Option<String>,
    /// When it happened.
    pub at: Timestamp,
    /// A short detail (the login tried, the target of an admin change, ...).
    /// Never a password, a hash or a token.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` about `user`, done by `actor` at `at`. The agent
    /// and the detail are made [`printable`].
    pub fn new(
        kind: &str,
        user: Option<UserId>,
        actor: &Actor,
        at: Timestamp,
        detail: Option<String>,
    ) -> Self {
        AuditEvent {
            kind: kind.to_owned(),
            user_id: user,
            ip: actor.ip.clone(),
            user_agent: actor.user_agent.as_deref().map(printable),
            at,
            detail: detail.as_deref().map(printable),
        }
    }
}

/// `text` with every control character written as its escape (`\u{1b}`),
/// so that nothing stored can move a terminal's cursor or fake a line.
///
/// ```
/// assert_eq!(sesame_kernel::audit::printable("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\u{a}");
/// ```
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The key that logins naming no account are hashed with before they are
/// recorded, so that repeats can be told apart without keeping the text
/// (it may be a password typed in the wrong box).
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    /// The key derived from a server secret (HMAC-SHA256 of a fixed label).
    pub fn derive(secret: &[u8]) -> Self {
        AuditKey(mac(secret, b"sesame audit: unknown logins"))
    }

    /// `hmac:` and the first 16 hex digits of the keyed digest of `text`
    /// (a login already in its normal form).
    pub fn digest(&self, text: &str) -> String {
        format!("hmac:{}", &hex(&mac(&self.0, text.as_bytes()))[..16])
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its id (increasing).
    pub id: i64,
    /// The event.
    pub event: AuditEvent,
}

/// Where audit events are kept.
pub trait AuditLog: Send + Sync {
    /// Appends an event.
    ///
    /// # Errors
    /// [`StorageError`] when it cannot be written.
    fn record(&self, event: &AuditEvent) -> Result<(), StorageError>;

    /// Appends an event; a failed write is logged, never returned: what it
    /// records has already happened.
    fn record_or_warn(&self, event: &AuditEvent) {
        if let Err(e) = self.record(event) {
            tracing::warn!(error = %e, kind = %event.kind, "could not record an audit event");
        }
    }

    /// Events, newest first, of one user and/or one kind if given.
    ///
    /// # Errors
    /// [`StorageError`] when they cannot be read.
    fn entries(
        &self,
        user: Option<UserId>,
        kind: Option<&str>,
        page: Page,
    ) -> Result<Vec<AuditEntry>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            printable("a\u{1b}[31mb\nc\td"),
            "a\\u{1b}[31mb\\u{a}c\\u{9}d"
        );
        assert_eq!(printable("Mozilla/5.0 (é)"), "Mozilla/5.0 (é)");
    }

    #[test]
    fn digests_are_keyed_and_short() {
        let key = AuditKey::derive(b"a server secret of some length....");
        let digest = key.digest("hunter2-secret");
        assert!(
            digest.starts_with("hmac:") && digest.len() == 21,
            "{digest}"
        );
        assert!(!digest.contains("hunter2"));
        assert_eq!(digest, key.digest("hunter2-secret"));
        let other = AuditKey::derive(b"another server secret of a length");
        assert_ne!(digest, other.digest("hunter2-secret"));
        assert_eq!(format!("{key:?}"), "AuditKey(..)");
    }
}
