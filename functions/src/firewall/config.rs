//! Firewall configuration: rules, timeouts, the default policy.

use std::net::Ipv4Addr;
use std::time::Duration;

/// What a rule (or the default policy) does with a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Forward it (and track its flow if it is *new*).
    Allow,
    /// Discard it silently.
    #[default]
    Drop,
    /// Discard it and answer with a TCP RST or an ICMP Destination Unreachable.
    Reject,
}

/// Direction of a packet through the firewall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the outside (gate 1) towards the protected side (gate 0).
    In,
    /// From the protected side (gate 0) to the outside (gate 1).
    Out,
}

/// Connection state a rule can require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// No flow yet; the packet may start one.
    New,
    /// The packet belongs to an existing flow (either direction).
    Established,
    /// An ICMP error about an existing flow.
    Related,
}

/// One rule. Every condition is optional; a rule with none matches every packet (invalid
/// ones included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// What to do with a matching packet.
    pub action: Action,
    /// Only packets going this way.
    pub direction: Option<Direction>,
    /// Source address prefix `(network, length)`.
    pub src: Option<(Ipv4Addr, u8)>,
    /// Destination address prefix.
    pub dst: Option<(Ipv4Addr, u8)>,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP …).
    pub proto: Option<u8>,
    /// Inclusive source port range; only TCP and UDP packets (with ports) can match.
    pub src_ports: Option<(u16, u16)>,
    /// Inclusive destination port range; only TCP and UDP packets (with ports) can match.
    pub dst_ports: Option<(u16, u16)>,
    /// ICMP type; only ICMP packets can match.
    pub icmp_type: Option<u8>,
    /// Connection states; `None` is any state, invalid included.
    pub states: Option<Vec<ConnState>>,
}

impl Rule {
    /// What the rule matches, in the configuration's words (`dir out proto tcp dst
    /// 10.0.0.0/8 dport 80-80 state new`); `any` for a rule that matches everything.
    pub fn summary(&self) -> String {
        let mut p: Vec<String> = Vec::new();
        if let Some(d) = self.direction {
            p.push(format!(
                "dir {}",
                if d == Direction::In { "in" } else { "out" }
            ));
        }
        if let Some(n) = self.proto {
            p.push(format!("proto {}", crate::show::proto(n)));
        }
        if let Some((a, l)) = self.src {
            p.push(format!("src {a}/{l}"));
        }
        if let Some((lo, hi)) = self.src_ports {
            p.push(format!("sport {lo}-{hi}"));
        }
        if let Some((a, l)) = self.dst {
            p.push(format!("dst {a}/{l}"));
        }
        if let Some((lo, hi)) = self.dst_ports {
            p.push(format!("dport {lo}-{hi}"));
        }
        if let Some(t) = self.icmp_type {
            p.push(format!("icmp-type {t}"));
        }
        if let Some(st) = &self.states {
            let names: Vec<&str> = st
                .iter()
                .map(|s| match s {
                    ConnState::New => "new",
                    ConnState::Established => "established",
                    ConnState::Related => "related",
                })
                .collect();
            p.push(format!("state {}", names.join(",")));
        }
        if p.is_empty() {
            "any".into()
        } else {
            p.join(" ")
        }
    }
}

/// Flow idle timeouts per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FwTimeouts {
    /// TCP after the handshake (default 7440 s, Linux/RFC 5382).
    pub tcp_established: Duration,
    /// TCP during handshake and close (default 240 s).
    pub tcp_transitory: Duration,
    /// TCP after a RST (default 10 s).
    pub tcp_closed: Duration,
    /// UDP (default 300 s).
    pub udp: Duration,
    /// ICMP queries (default 60 s).
    pub icmp: Duration,
    /// Other protocols (default 600 s).
    pub other: Duration,
}

impl Default for FwTimeouts {
    fn default() -> Self {
        FwTimeouts {
            tcp_established: Duration::from_secs(7440),
            tcp_transitory: Duration::from_secs(240),
            tcp_closed: Duration::from_secs(10),
            udp: Duration::from_secs(300),
            icmp: Duration::from_secs(60),
            other: Duration::from_secs(600),
        }
    }
}

/// The per-host flow limit when none is configured: a sixteenth of the table (as the NAT's
/// 4096 of 65536 sessions), 16384 with the default 262144 flows, but at least 64 so a small
/// table is not cut into unusable slices.
pub fn default_max_flows_per_host(max_flows: u32) -> u32 {
    (max_flows / 16).max(64)
}

/// Firewall configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallConfig {
    /// Rules, first match wins.
    pub rules: Vec<Rule>,
    /// Action when no rule matches.
    pub default: Action,
    /// Flow timeouts.
    pub timeouts: FwTimeouts,
    /// Most flows tracked at once.
    pub max_flows: u32,
    /// Most flows one originator address may hold (`None`: [`default_max_flows_per_host`]
    /// of `max_flows`).
    pub max_flows_per_host: Option<u32>,
    /// RSTs and ICMP errors per second (0: never answer a reject).
    pub icmp_rate_limit: u32,
    /// Token-bucket depth.
    pub icmp_burst: u32,
    /// Pass non-IPv4, non-ARP frames unfiltered (default false: dropped).
    pub allow_non_ip: bool,
    /// MTU of both sides (default 1500): a non-GSO frame longer than this plus its Ethernet
    /// header cannot have arrived whole and is dropped `too_big`.
    pub mtu: u16,
}

impl Default for FirewallConfig {
    fn default() -> Self {
        FirewallConfig {
            rules: Vec::new(),
            default: Action::Drop,
            timeouts: FwTimeouts::default(),
            max_flows: 262_144,
            max_flows_per_host: None,
            icmp_rate_limit: 100,
            icmp_burst: 50,
            allow_non_ip: false,
            mtu: 1500,
        }
    }
}
