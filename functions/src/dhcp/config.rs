//! DHCP server configuration and its checks.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Default lease time (one hour, dnsmasq's default).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(3600);
/// Default time a declined address stays unusable (RFC 2131 §4.3.3 leaves it to the
/// server; dnsmasq and Kea use 10 minutes… 24 hours).
pub const DEFAULT_DECLINE_HOLD: Duration = Duration::from_secs(600);
/// How long an address offered and not yet requested stays reserved for the client
/// (RFC 2131 §4.3.1: "the server ... SHOULD NOT reuse ... until the client responds or
/// times out"; a client retransmits for about a minute).
pub const OFFER_HOLD: Duration = Duration::from_secs(60);
/// Shortest lease accepted (T1 is half of it).
pub const MIN_LEASE: Duration = Duration::from_secs(4);
/// Longest lease accepted (0xffffffff seconds means "infinite" on the wire, not offered).
pub const MAX_LEASE: Duration = Duration::from_secs(0xffff_fffe);
/// Most addresses in `range`.
pub const MAX_RANGE: u32 = 65_536;
/// Most DNS servers (option 6).
pub const MAX_DNS: usize = 8;
/// Longest domain name (option 15), RFC 1035 §2.3.4.
pub const MAX_DOMAIN: usize = 253;

/// A fixed address for one MAC (inside or outside `range`); that address is never given to
/// another client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticLease {
    /// The client's hardware address (`chaddr`).
    pub mac: [u8; 6],
    /// Its address, in the subnet.
    pub address: Ipv4Addr,
}

/// Configuration of a [`super::DhcpServer`]. Build one with [`DhcpConfig::new`] and change
/// the fields; [`DhcpServer::new`](super::DhcpServer::new) checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpConfig {
    /// The server's address (option 54, source of every reply); also the default router.
    pub server: Ipv4Addr,
    /// The server's MAC: source of every reply (and of ARP replies, with `arp`).
    pub mac: [u8; 6],
    /// Prefix length of the subnet the server and its clients are on (option 1).
    pub prefix_len: u8,
    /// Addresses given out dynamically, first..=last, inside the subnet.
    pub range: RangeInclusive<Ipv4Addr>,
    /// Lease time (option 51; T1 = 0.5 and T2 = 0.875 of it, options 58/59).
    pub lease: Duration,
    /// Default gateway (option 3); `None` sends no router option.
    pub router: Option<Ipv4Addr>,
    /// DNS servers (option 6), at most [`MAX_DNS`].
    pub dns: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    pub domain: Option<String>,
    /// Fixed addresses by MAC.
    pub static_leases: Vec<StaticLease>,
    /// Most clients holding an offer or a lease at once (static ones included).
    pub max_leases: u32,
    /// How long an address a client declined (RFC 2131 §4.3.3) stays unusable.
    pub decline_hold: Duration,
    /// Answer ARP requests for `server` from the client side (needed for unicast renewals
    /// when nothing else owns the address; turn off in front of a router interface that
    /// has the address itself).
    pub arp: bool,
}

impl DhcpConfig {
    /// A server at `server`/`prefix_len` with `mac`, giving out `range`, with the defaults:
    /// lease [`DEFAULT_LEASE`], router `server`, no DNS or domain, no static leases,
    /// `max_leases` the size of the range, decline hold [`DEFAULT_DECLINE_HOLD`], ARP on.
    pub fn new(
        server: Ipv4Addr,
        prefix_len: u8,
        mac: [u8; 6],
        range: RangeInclusive<Ipv4Addr>,
    ) -> DhcpConfig {
        let size = u32::from(*range.end())
            .saturating_sub(u32::from(*range.start()))
            .saturating_add(1);
        DhcpConfig {
            server,
            mac,
            prefix_len,
            range,
            lease: DEFAULT_LEASE,
            router: Some(server),
            dns: Vec::new(),
            domain: None,
            static_leases: Vec::new(),
            max_leases: size.min(MAX_RANGE),
            decline_hold: DEFAULT_DECLINE_HOLD,
            arp: true,
        }
    }

    /// The subnet mask.
    pub fn mask(&self) -> u32 {
        match self.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n.min(32))),
        }
    }

    /// True when `a` is a host address of the subnet (not its network or broadcast
    /// address).
    pub fn is_host(&self, a: Ipv4Addr) -> bool {
        let (a, s, m) = (u32::from(a), u32::from(self.server), self.mask());
        a & m == s & m && a & !m != 0 && a & !m != !m
    }

    /// Check the configuration.
    ///
    /// # Errors
    /// The first problem found.
    pub fn check(&self) -> Result<(), DhcpConfigError> {
        use DhcpConfigError as E;
        if !(1..=30).contains(&self.prefix_len) {
            return Err(E::Prefix(self.prefix_len));
        }
        if !self.is_host(self.server) {
            return Err(E::ServerAddress(self.server));
        }
        if self.mac[0] & 1 != 0 || self.mac == [0; 6] {
            return Err(E::ServerMac);
        }
        let (first, last) = (*self.range.start(), *self.range.end());
        for a in [first, last] {
            if !self.is_host(a) {
                return Err(E::OutsideSubnet("range", a));
            }
        }
        if first > last {
            return Err(E::EmptyRange);
        }
        if u32::from(last) - u32::from(first) >= MAX_RANGE {
            return Err(E::RangeTooLarge);
        }
        if !(MIN_LEASE..=MAX_LEASE).contains(&self.lease) {
            return Err(E::Lease);
        }
        if let Some(r) = self.router
            && !self.is_host(r)
        {
            return Err(E::OutsideSubnet("router", r));
        }
        if self.dns.len() > MAX_DNS {
            return Err(E::TooManyDns);
        }
        if let Some(d) = &self.domain
            && !valid_domain(d)
        {
            return Err(E::Domain(d.clone()));
        }
        if self.max_leases == 0 {
            return Err(E::MaxLeases);
        }
        for (i, s) in self.static_leases.iter().enumerate() {
            if s.mac[0] & 1 != 0 || s.mac == [0; 6] {
                return Err(E::StaticMac(s.mac));
            }
            if !self.is_host(s.address) {
                return Err(E::OutsideSubnet("static lease", s.address));
            }
            if s.address == self.server || Some(s.address) == self.router {
                return Err(E::StaticIsServer(s.address));
            }
            for t in &self.static_leases[..i] {
                if t.mac == s.mac {
                    return Err(E::DuplicateStaticMac(s.mac));
                }
                if t.address == s.address {
                    return Err(E::DuplicateStaticAddress(s.address));
                }
            }
        }
        Ok(())
    }
}

/// RFC 1035 §2.3.1 preferred syntax, leniently: labels of letters, digits, `-` and `_`, at
/// most 63 bytes each, at most [`MAX_DOMAIN`] in all.
fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= MAX_DOMAIN
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What is wrong with a [`DhcpConfig`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DhcpConfigError {
    /// The prefix length leaves no room for clients.
    #[error("prefix length /{0} must be 1..=30")]
    Prefix(u8),
    /// The server address is the subnet's network or broadcast address.
    #[error("server address {0} is not a host address of its subnet")]
    ServerAddress(Ipv4Addr),
    /// The server MAC is a group or zero address.
    #[error("server MAC must be a unicast address")]
    ServerMac,
    /// An address that must be a host of the subnet is not.
    #[error("{0} address {1} is not a host address of the server's subnet")]
    OutsideSubnet(&'static str, Ipv4Addr),
    /// `range` first > last.
    #[error("the range is empty (first address after the last)")]
    EmptyRange,
    /// More than [`MAX_RANGE`] addresses.
    #[error("the range has more than {MAX_RANGE} addresses")]
    RangeTooLarge,
    /// Lease outside [`MIN_LEASE`]..=[`MAX_LEASE`].
    #[error("lease time must be from 4s to 4294967294s")]
    Lease,
    /// More than [`MAX_DNS`] DNS servers.
    #[error("at most {MAX_DNS} DNS servers")]
    TooManyDns,
    /// A domain name that is not one.
    #[error(
        "domain {0:?} is not a domain name (labels of letters, digits and '-', at most 253 bytes)"
    )]
    Domain(String),
    /// `max_leases` 0.
    #[error("max-leases must be at least 1")]
    MaxLeases,
    /// A static lease for a group or zero MAC.
    #[error("static lease MAC {0:02x?} is not a unicast address")]
    StaticMac([u8; 6]),
    /// A static lease of the server's or router's own address.
    #[error("static lease address {0} is the server's or the router's")]
    StaticIsServer(Ipv4Addr),
    /// Two static leases for one MAC.
    #[error("two static leases for MAC {0:02x?}")]
    DuplicateStaticMac([u8; 6]),
    /// Two static leases of one address.
    #[error("two static leases of address {0}")]
    DuplicateStaticAddress(Ipv4Addr),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DhcpConfig {
        DhcpConfig::new(
            Ipv4Addr::new(10, 0, 0, 1),
            24,
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(10, 0, 0, 100)..=Ipv4Addr::new(10, 0, 0, 199),
        )
    }

    #[test]
    fn defaults_are_valid_and_each_bad_field_is_named() {
        assert_eq!(cfg().check(), Ok(()));
        assert_eq!(cfg().max_leases, 100);
        assert_eq!(cfg().router, Some(Ipv4Addr::new(10, 0, 0, 1)));
        type Case = (fn(&mut DhcpConfig), DhcpConfigError);
        let bad: Vec<Case> = vec![
            (|c| c.prefix_len = 31, DhcpConfigError::Prefix(31)),
            (
                |c| c.server = Ipv4Addr::new(10, 0, 0, 255),
                DhcpConfigError::ServerAddress(Ipv4Addr::new(10, 0, 0, 255)),
            ),
            (|c| c.mac = [1, 0, 0, 0, 0, 1], DhcpConfigError::ServerMac),
            (
                |c| c.range = Ipv4Addr::new(10, 0, 1, 1)..=Ipv4Addr::new(10, 0, 1, 9),
                DhcpConfigError::OutsideSubnet("range", Ipv4Addr::new(10, 0, 1, 1)),
            ),
            (
                |c| c.range = Ipv4Addr::new(10, 0, 0, 9)..=Ipv4Addr::new(10, 0, 0, 8),
                DhcpConfigError::EmptyRange,
            ),
            (|c| c.lease = Duration::from_secs(1), DhcpConfigError::Lease),
            (
                |c| c.dns = vec![Ipv4Addr::LOCALHOST; 9],
                DhcpConfigError::TooManyDns,
            ),
            (
                |c| c.domain = Some("a..b".into()),
                DhcpConfigError::Domain("a..b".into()),
            ),
            (|c| c.max_leases = 0, DhcpConfigError::MaxLeases),
            (
                |c| {
                    c.static_leases = vec![StaticLease {
                        mac: [2, 0, 0, 0, 0, 9],
                        address: Ipv4Addr::new(10, 0, 0, 1),
                    }]
                },
                DhcpConfigError::StaticIsServer(Ipv4Addr::new(10, 0, 0, 1)),
            ),
            (
                |c| {
                    let s = StaticLease {
                        mac: [2, 0, 0, 0, 0, 9],
                        address: Ipv4Addr::new(10, 0, 0, 5),
                    };
                    c.static_leases = vec![
                        s,
                        StaticLease {
                            address: Ipv4Addr::new(10, 0, 0, 6),
                            ..s
                        },
                    ];
                },
                DhcpConfigError::DuplicateStaticMac([2, 0, 0, 0, 0, 9]),
            ),
        ];
        for (f, want) in bad {
            let mut c = cfg();
            f(&mut c);
            assert_eq!(c.check(), Err(want));
        }
        let mut wide = cfg();
        wide.prefix_len = 8;
        wide.range = Ipv4Addr::new(10, 0, 0, 1)..=Ipv4Addr::new(10, 2, 0, 0);
        assert_eq!(wide.check(), Err(DhcpConfigError::RangeTooLarge));
    }
}
