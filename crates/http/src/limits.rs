//! Rate limits: per client IP (and IPv6 /48) on every credential route, per user on
//! sending messages and creating events. (Failed logins lock accounts in the domain:
//! [`sesame_tokens::Lockout`].) Both maps are keyed by something a client
//! chooses, so they are pruned as they go.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Checks between two prunings of the maps.
const HOUSEKEEPING_EVERY: u64 = 4096;

/// How many clients' budgets an IPv6 /48 shares: one site, or what a free
/// tunnel broker hands out, which counted by its /64s alone would get 65,536.
const CLIENTS_PER_NETWORK: u32 = 16;

/// Limits from configuration.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitSettings {
    /// Whether any limit applies.
    pub enabled: bool,
    /// Credential requests one IP may make per minute, sustained.
    pub per_ip_per_minute: u32,
    /// Credential requests one IP may make in a burst.
    pub per_ip_burst: u32,
    /// Messages one user may send per minute, sustained (bursts of the same size).
    pub messages_per_minute: u32,
    /// Events one user may create per minute, sustained (bursts of the same size).
    pub events_per_minute: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            per_ip_per_minute: 300,
            per_ip_burst: 100,
            messages_per_minute: 600,
            events_per_minute: 60,
        }
    }
}

/// The limiters, shared by every worker.
pub struct RateLimits {
    settings: RateLimitSettings,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_network: DefaultKeyedRateLimiter<IpAddr>,
    messages: DefaultKeyedRateLimiter<i64>,
    events: DefaultKeyedRateLimiter<i64>,
    checks: AtomicU64,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Whole seconds, rounded up, until the limiter lets the key through again
/// (for `Retry-After`).
fn seconds(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The key an address is counted under: an IPv4 address (mapped into IPv6
/// or not) is its own, an IPv6 address counts by its /64, the block one
/// subscriber usually gets.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// The IPv6 /48 an address is also counted under; `None` for IPv4.
fn network_key(ip: IpAddr) -> Option<IpAddr> {
    match ip_key(ip) {
        IpAddr::V6(v6) => Some(IpAddr::V6(Ipv6Addr::from(
            u128::from(v6) & !(u128::MAX >> 48),
        ))),
        IpAddr::V4(_) => None,
    }
}

impl RateLimits {
    /// Limiters with these settings.
    pub fn new(settings: RateLimitSettings) -> Self {
        let per_ip = |clients: u32| {
            Quota::per_minute(at_least_one(
                settings.per_ip_per_minute.saturating_mul(clients),
            ))
            .allow_burst(at_least_one(settings.per_ip_burst.saturating_mul(clients)))
        };
        let per_user = |per_minute| RateLimiter::keyed(Quota::per_minute(at_least_one(per_minute)));
        RateLimits {
            settings,
            per_ip: RateLimiter::keyed(per_ip(1)),
            per_network: RateLimiter::keyed(per_ip(CLIENTS_PER_NETWORK)),
            messages: per_user(settings.messages_per_minute),
            events: per_user(settings.events_per_minute),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one check; every [`HOUSEKEEPING_EVERY`] checks, drops the keys
    /// back at a full burst.
    fn tick(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY
            == HOUSEKEEPING_EVERY - 1
        {
            self.prune();
        }
    }

    fn prune(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_network.retain_recent();
        self.per_network.shrink_to_fit();
        self.messages.retain_recent();
        self.messages.shrink_to_fit();
        self.events.retain_recent();
        self.events.shrink_to_fit();
    }

    /// Counts one credential request from `ip`, and from its IPv6 /48.
    /// `Err(seconds)` to wait when over the limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), u64> {
        self.check(&self.per_ip, ip_key(ip))?;
        match network_key(ip) {
            Some(network) => self.check(&self.per_network, network),
            None => Ok(()),
        }
    }

    /// Counts one message sent by `user`. `Err(seconds)` to wait when over the limit.
    pub fn check_message(&self, user: i64) -> Result<(), u64> {
        self.check(&self.messages, user)
    }

    /// Counts one event created by `user`. `Err(seconds)` to wait when over the limit.
    pub fn check_event(&self, user: i64) -> Result<(), u64> {
        self.check(&self.events, user)
    }

    fn check<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: K,
    ) -> Result<(), u64> {
        if !self.settings.enabled {
            return Ok(());
        }
        self.tick();
        limiter.check_key(&key).map_err(seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(change: impl FnOnce(&mut RateLimitSettings)) -> RateLimits {
        let mut settings = RateLimitSettings::default();
        change(&mut settings);
        RateLimits::new(settings)
    }

    #[test]
    fn an_ip_gets_its_burst_then_waits() {
        let limits = limits(|s| {
            s.per_ip_burst = 3;
            s.per_ip_per_minute = 1;
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.check_ip(ip).is_ok());
        }
        let wait = limits.check_ip(ip).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limits.check_ip("10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn an_ipv6_block_counts_as_one_client() {
        let limits = limits(|s| {
            s.per_ip_burst = 2;
            s.per_ip_per_minute = 1;
        });
        assert!(limits.check_ip("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(limits
            .check_ip("2001:db8:1:2:ffff::9".parse().unwrap())
            .is_ok());
        assert!(limits
            .check_ip("2001:db8:1:2::abcd".parse().unwrap())
            .is_err());
        assert!(limits.check_ip("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert_eq!(
            ip_key("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_ipv6_48_shares_a_few_clients_budgets() {
        let limits = limits(|s| {
            s.per_ip_burst = 2;
            s.per_ip_per_minute = 1;
        });
        let in_48 = |n: u16| IpAddr::from([0x2001, 0xdb8, 7, n, 0, 0, 0, 1]);
        for block in 0..CLIENTS_PER_NETWORK as u16 {
            for _ in 0..2 {
                assert!(limits.check_ip(in_48(block)).is_ok(), "/64 number {block}");
            }
        }
        let wait = limits.check_ip(in_48(1000)).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            limits.check_ip("2001:db8:8::1".parse().unwrap()).is_ok(),
            "another /48"
        );
        assert_eq!(network_key("10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn checks_prune_idle_keys_every_so_often() {
        let limits = limits(|s| {
            s.per_ip_burst = 100;
            s.per_ip_per_minute = 6_000_000;
        });
        for i in 0..50u8 {
            limits.check_ip(IpAddr::from([10, 0, 1, i])).unwrap();
        }
        assert_eq!(limits.per_ip.len(), 50);
        std::thread::sleep(Duration::from_millis(5));
        let busy = IpAddr::from([10, 0, 2, 1]);
        for _ in 0..HOUSEKEEPING_EVERY {
            let _ = limits.check_ip(busy);
        }
        assert_eq!(limits.per_ip.len(), 1, "only the busy client is left");
    }

    #[test]
    fn disabled_limits_never_refuse() {
        let limits = limits(|s| {
            s.enabled = false;
            s.per_ip_burst = 1;
            s.messages_per_minute = 1;
            s.events_per_minute = 1;
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..5 {
            assert!(limits.check_ip(ip).is_ok());
            assert!(limits.check_message(1).is_ok());
            assert!(limits.check_event(1).is_ok());
        }
    }

    #[test]
    fn messages_are_limited_per_user() {
        let limits = limits(|s| s.messages_per_minute = 2);
        assert!(limits.check_message(1).is_ok());
        assert!(limits.check_message(1).is_ok());
        assert!(limits.check_message(1).is_err());
        assert!(limits.check_message(2).is_ok());
    }

    #[test]
    fn events_are_limited_per_user_apart_from_messages() {
        let limits = limits(|s| s.events_per_minute = 1);
        assert!(limits.check_event(1).is_ok());
        assert!(limits.check_event(1).is_err());
        assert!(limits.check_message(1).is_ok());
        assert!(limits.check_event(2).is_ok());
    }
}
