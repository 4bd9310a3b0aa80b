//! Router configuration and build errors.

use std::net::Ipv4Addr;
use std::time::Duration;

/// One router interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterInterfaceConfig {
    /// Interface (gate) name.
    pub name: String,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its address.
    pub addr: Ipv4Addr,
    /// Prefix length of the connected subnet.
    pub prefix_len: u8,
    /// MTU (IP packet size limit).
    pub mtu: u16,
}

/// A static route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    /// Network address.
    pub prefix: Ipv4Addr,
    /// Prefix length.
    pub len: u8,
    /// Next hop, on a connected subnet.
    pub via: Ipv4Addr,
}

/// Router configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// Interfaces in gate order.
    pub interfaces: Vec<RouterInterfaceConfig>,
    /// Static routes.
    pub routes: Vec<StaticRoute>,
    /// ICMP errors per second (0 disables ICMP errors).
    pub icmp_rate_limit: u32,
    /// Token-bucket depth.
    pub icmp_burst: u32,
    /// ARP entry lifetime.
    pub arp_timeout: Duration,
    /// Send ICMP redirects.
    pub redirects: bool,
}

/// Why a router could not be built (config validation normally catches these first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterError {
    /// A static route's next hop is on no connected subnet.
    NextHopNotConnected(StaticRoute),
    /// A route could not be added to the FIB.
    Fib(String),
    /// More than 65535 interfaces.
    TooManyInterfaces,
}

impl std::fmt::Display for RouterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouterError::NextHopNotConnected(r) => write!(
                f,
                "route {}/{} via {}: the next hop is on no connected subnet",
                r.prefix, r.len, r.via
            ),
            RouterError::Fib(e) => write!(f, "forwarding table: {e}"),
            RouterError::TooManyInterfaces => f.write_str("too many interfaces"),
        }
    }
}

impl std::error::Error for RouterError {}
