//! NAT44 (NAPT) with the behaviour of RFC 4787 (UDP), RFC 5382 (TCP) and RFC 5508 (ICMP),
//! plus static port forwards and 1:1 address mappings. REQ numbers below are those of
//! `RFC-CHECKLIST.md` §4b and are cited again at the code that meets them.
//!
//! # Gates
//! Gate 0 `inside`, gate 1 `outside` (input and output numbers are equal). The NAT is a
//! bump in the wire between the inside router and the internet:
//!
//! ```text
//!  router wan ──► nat.inside  [Nat44]  nat.outside ──► internet
//!             ◄──                                 ◄──
//! ```
//!
//! Frames are Ethernet. The NAT owns its external addresses and one MAC per side:
//! * ARP requests for an external address (pool or 1:1) are answered on either side with
//!   that side's MAC (the internet resolves it; the router resolves it to hairpin). Every
//!   other ARP frame passes to the other side unchanged, so the router and the outside next
//!   hop resolve each other through the NAT.
//! * inside → outside IPv4: source translated; Ethernet source = outside MAC, destination
//!   kept. The frame's source MAC is remembered on the mapping and as the "last inside
//!   neighbour".
//! * outside → inside IPv4 to an external address: destination translated; Ethernet
//!   destination = the mapping's inside neighbour (the last inside neighbour for a static
//!   mapping not yet used outbound; `nat_no_inside_neighbour` if none was ever seen), source =
//!   inside MAC. To any other address: `nat_not_external`.
//! * inside → external address: hairpinned (RFC 4787 REQ-9, RFC 5382 REQ-8, RFC 5508
//!   REQ-7): the source is translated as if leaving and the destination as if arriving, so the
//!   target sees the sender's *external* address and port (REQ-9a); filtering applies as if
//!   the packet came from that external source. Emitted back on `inside` to the frame's
//!   source MAC.
//! * Other EtherTypes: `unsupported_ethertype`. IPv4 headers are validated as by the router
//!   (RFC 1812 §5.2.2: `ip_too_short`, `ip_bad_version`, `ip_bad_header_length`,
//!   `ip_bad_total_length`, `ip_bad_checksum`). The NAT does not decrement TTL.
//!
//! # Configuration
//! [`NatConfig`]. YAML (kind `nat`): `inside-mac`, `outside-mac`, `external` (≥ 1
//! address), `port-range` (default `1024-65535`), `filtering`
//! (`endpoint-independent` | `address-dependent` (default) | `address-and-port-dependent`),
//! `timeouts` (`udp` 300 s, `tcp-established` 7440 s, `tcp-transitory` 240 s, `icmp` 60 s,
//! `syn-hold` 6 s — the RFC floors; lower positive values are accepted and `nfv check` warns,
//! except the 6 s SYN hold), `max-sessions`
//! (65536), `max-sessions-per-host` (4096), `forwards` (`proto`, `external`, `port`, `to`),
//! `one-to-one` (`inside`, `outside`), `icmp-rate-limit` (100/s), `icmp-burst` (50).
//!
//! **Why address-dependent filtering by default.** REQ-8 recommends endpoint-independent
//! filtering for transparency and address-dependent filtering when more security is wanted.
//! This NAT sits in front of a router's inside network where it is the only barrier: with
//! EIF, once an inside endpoint has sent one packet anywhere, every host on the internet can
//! reach it. ADF still lets STUN/ICE-style traversal work whenever the peer answers from the
//! address it was sent to (the common case), which is what makes it the usual CPE default.
//! Static forwards and 1:1 mappings are endpoint-independent regardless.
//!
//! # Behaviour
//! * **Mapping** (REQ-1, 5382 REQ-1): endpoint-independent for UDP, TCP and ICMP queries
//!   (the ICMP identifier is the "port"). An external `(address, protocol, port)` belongs
//!   to exactly one internal endpoint (REQ-3 / 5382 REQ-7, no port overloading). The internal
//!   port is kept when free and in `port-range` (a port below 1024 only if the range
//!   includes it); otherwise a port of the same parity (REQ-4), else any port, scanning
//!   upwards from the internal port. **Paired pooling** (REQ-2): a host's first mapping picks
//!   an external address by a fixed hash of its inside address (the next address with free
//!   ports if that one has none); while the host has mappings, every new mapping uses that
//!   same address — also when it has no port left (then the mapping fails: pairing is never
//!   broken). Ports are not randomised (RFC 6056); allocation is a pure function of the
//!   table's state, which keeps behaviour deterministic (REQ-11).
//! * **Sessions and filtering** (REQ-8, 5382 REQ-3): one session per remote endpoint a
//!   mapping sent to. Inbound is allowed when the mapping exists (EIF), when it has a live
//!   session to the remote address (ADF), or to the remote address and port (APDF). Inbound
//!   packets never create state.
//! * **Timers** (REQ-5, 5382 REQ-5, 5508 REQ-2), refreshed by outbound packets only
//!   (REQ-6). TCP is tracked per session (5382 REQ-2, simultaneous open included): established
//!   once SYNs went both ways (an outbound SYN-ACK implies the inbound SYN), transitory before
//!   that, after FINs both ways, or after a RST; a new outbound SYN on a closed session starts
//!   over. A session created by a non-SYN outbound segment (mid-stream pick-up after a restart)
//!   is taken as established. Changing timeout class restarts the timer in the new class.
//! * **Unsolicited inbound SYN** (5382 REQ-4): with no mapping, or one whose filter refuses
//!   the remote, the SYN is held (one per external endpoint + remote endpoint, at most
//!   [`SYN_HOLD_MAX`]). An outbound SYN of that connection (simultaneous open) drops it
//!   silently (`nat_syn_superseded`); otherwise after `syn-hold` an ICMP Port Unreachable
//!   goes back and it is dropped (`nat_unsolicited_syn`). Hairpinned SYNs are not held.
//! * **ICMP errors** (5508 REQ-3..5, 5382 REQ-9) in both directions and hairpinned (5508
//!   REQ-7): the session is found from the quoted packet; outer address, quoted addresses
//!   and ports/identifier are rewritten with their checksums (outer IP, quoted IP and quoted
//!   UDP/TCP incrementally, ICMP in full). Bad ICMP checksum → `nat_icmp_bad_checksum`; no
//!   active mapping → `nat_icmp_no_session`. ICMP never creates, refreshes or deletes a
//!   mapping (REQ-12, 5382 REQ-10, 5508 REQ-6). The outer source of an error from inside
//!   becomes the mapping's external address (an inside router's address must not leak).
//! * **No mapping possible** (ports exhausted, per-host quota, table full): ICMP Destination
//!   Unreachable code 13 to the sender from the host's external address, token-bucket rate
//!   limited, and a counted drop (5508 REQ-8).
//! * **Static forwards**: `port` on an external address (default the first) → internal
//!   `ip:port` for TCP or UDP; permanent, endpoint-independent inbound, and used for outbound
//!   from that internal endpoint (EIM consistency). The forward's address becomes its internal
//!   host's paired address (the first forward wins if a host has several).
//! * **1:1 mappings**: internal address ↔ external address for every protocol, address only,
//!   stateless (no sessions, filtering or timers). Their external addresses are not in the
//!   pool.
//! * **Fragments** (REQ-14): a first fragment is translated with its ports and the
//!   translation is remembered for 2 s under (side, source, destination, protocol, IP id);
//!   later fragments reuse it. Non-first fragments that come before the first are held (16
//!   per datagram, 256 in all, 2 s) and released behind it, else dropped
//!   (`nat_fragment_timeout`, `nat_fragment_limit`). REQ-13 (DF and too big → Fragmentation
//!   Needed) is the router's job: the NAT never changes a packet's size, so it has no MTU.
//! * **Deterministic** (REQ-11): there is no "under pressure" mode; limits fail the same
//!   way at any load, and expiry decisions use each entry's own deadline, not the reaper's
//!   progress.
//! * Not done: ALGs (REQ-10, 5382 REQ-6: off by default, so none), answering pings to the
//!   external address, RFC 6056 port randomisation, REQ-7 (the external addresses are
//!   static).
//!
//! # Memory per session
//! Measured by `nat_memory_per_session_is_measured` (`std::mem::size_of` on x86-64) with
//! hashbrown's layout (one control byte per bucket, load factor ≤ 7/8):
//!
//! | item | bytes |
//! |---|---|
//! | `Session` slab entry | 40 |
//! | `flows` entry `(FlowKey, u32)` (inside ip, remote ip, inside port, remote port; one map per protocol) 16 + 1 control, ÷ 7/8 | ~19.5 |
//! | `by_addr` entry `(u64, AddrRef)` (mapping and remote address in one word) 24 + 1 control, ÷ 7/8 (≤ one per session) | ~28.6 |
//! | **per session** | **~88** |
//! | per mapping: `Mapping` 40 + `in2out` and `out2in` entries 2 × (16 + 1) ÷ 7/8 | ~70 |
//! | per inside host: `hosts` entry (16 + 1) ÷ 7/8 | ~19.5 |
//! | per external address: 3 × 8 KiB port bitmaps | 24 576 |
//!
//! So a full default table (65 536 sessions, one mapping each) is about 10.3 MB; hash maps
//! round their capacity up to a power of two, so the worst case is about twice the map part.
//!
//! # Counters
//! Gauges `sessions`, `mappings`, `hosts`, `held_syns`, `held_fragments`; totals
//! `sessions_created`, `sessions_expired`, `mappings_created`, `in2out`, `out2in`,
//! `hairpinned`, `icmp_errors_translated`, `filtered`, `no_mapping`, `port_alloc_failed`,
//! `host_quota_exceeded`, `table_full`, `icmp_prohibited_sent` (code 13),
//! `syn_port_unreachable_sent`, `icmp_errors_rate_limited`, `icmp_errors_suppressed`,
//! `fragments_translated`, `fragments_held`, `syn_held`, `syn_superseded`, `arp_replies`,
//! `arp_passed`, `no_buffer`. Drop reasons: `nat_*` (see [`DropReason`]).
//!
//! # Notes
//! Sans-IO like every element: time is `ctx.now`, state lives in the element. Expiry is
//! amortised O(1): [`EXPIRE_PER_BATCH`] sessions per `process` call and
//! [`EXPIRE_PER_TICK`] per `tick` (every 100 ms), plus an exact check of the entry's own
//! deadline on every lookup. A refresh moves a session in its expiry list at most once per
//! `min(1 s, timeout / 8)` (lazy refresh, see `table.rs`), so the reaper may free a session
//! (and count it in `sessions_expired`, release its port) up to that long after its
//! deadline; no packet sees the difference. An established packet costs one hash probe
//! (the flow table gives session and mapping together).
//!
//! # See also
//! RFC 4787, RFC 5382, RFC 5508, RFC 7857, RFC 6146 §3.5.2 (TCP state machine); VPP
//! `nat44-ei` / `nat44-ed` (`in2out`, `out2in` split); Linux `nf_nat`.

mod frag;
mod in2out;
mod out2in;
mod rewrite;
mod table;

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::wire::{
    ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, be16, be32, eth_src, eth_type, ip_proto, write_eth,
};
use nfv_dataplane::wire::{arp, icmp as icmp_wire};
use nfv_dataplane::{
    Batch, Context, CounterInfo, DropReason, Element, GateSpec, InputGate, Instant, OutputGate,
    Outputs, PacketBuf, Reason, ReasonInfo, Table,
};

use crate::rate_limit::TokenBucket;
use frag::{FragKey, FragRec};
use rewrite::{IP, Ip, Kind, icmp, parse_ipv4, parse_l4};
use table::{AllocError, SessionTable};

/// Gate of the inside network.
pub const INSIDE: u16 = 0;
/// Gate of the outside network.
pub const OUTSIDE: u16 = 1;
/// Most unsolicited SYNs held at once (RFC 5382 REQ-4).
pub const SYN_HOLD_MAX: usize = 1024;
/// Sessions reaped at most per `process` call.
pub const EXPIRE_PER_BATCH: usize = 64;
/// Sessions reaped at most per `tick`.
pub const EXPIRE_PER_TICK: usize = 4096;
const TICK: Duration = Duration::from_millis(100);

/// A translated protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NatProto {
    /// TCP (ports).
    Tcp,
    /// UDP (ports).
    Udp,
    /// ICMP queries (the identifier is the "port"); not valid in a [`PortForward`].
    Icmp,
}

/// Inbound filtering behaviour (RFC 4787 REQ-8, RFC 5382 REQ-3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Filtering {
    /// Anyone may send to an existing mapping.
    EndpointIndependent,
    /// Only addresses the mapping has sent to (any port). The default: see the module doc.
    #[default]
    AddressDependent,
    /// Only address and port pairs the mapping has sent to.
    AddressAndPortDependent,
}

/// Idle timeouts. `Default` gives the RFC floors, which are also the least [`Nat44::new`]
/// accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatTimeouts {
    /// UDP (RFC 4787 REQ-5: ≥ 2 min, 5 min recommended). Default 300 s.
    pub udp: Duration,
    /// TCP established (RFC 5382 REQ-5: ≥ 2 h 4 min). Default 7440 s.
    pub tcp_established: Duration,
    /// TCP opening or closing (RFC 5382 REQ-5: ≥ 4 min). Default 240 s.
    pub tcp_transitory: Duration,
    /// ICMP query (RFC 5508 REQ-2: ≥ 60 s). Default 60 s.
    pub icmp: Duration,
    /// How long an unsolicited inbound SYN is held (RFC 5382 REQ-4: ≥ 6 s). Default 6 s.
    pub syn_hold: Duration,
}

impl Default for NatTimeouts {
    fn default() -> Self {
        NatTimeouts {
            udp: Duration::from_secs(300),
            tcp_established: Duration::from_secs(7440),
            tcp_transitory: Duration::from_secs(240),
            icmp: Duration::from_secs(60),
            syn_hold: Duration::from_secs(6),
        }
    }
}

/// A static port forward (DNAT): `external:port` → `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortForward {
    /// [`NatProto::Tcp`] or [`NatProto::Udp`].
    pub proto: NatProto,
    /// External address; `None` = the first of [`NatConfig::external`].
    pub external: Option<Ipv4Addr>,
    /// External port.
    pub port: u16,
    /// Internal endpoint.
    pub to: SocketAddrV4,
}

/// NAT configuration. See the module documentation for the YAML keys and defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatConfig {
    /// MAC of the inside side.
    pub inside_mac: [u8; 6],
    /// MAC of the outside side.
    pub outside_mac: [u8; 6],
    /// External address pool (at least one).
    pub external: Vec<Ipv4Addr>,
    /// Inclusive port range for dynamic mappings. Default `(1024, 65535)`.
    pub port_range: (u16, u16),
    /// Inbound filtering. Default [`Filtering::AddressDependent`].
    pub filtering: Filtering,
    /// Idle timeouts. Default: RFC floors.
    pub timeouts: NatTimeouts,
    /// Most sessions in all. Default 65536.
    pub max_sessions: u32,
    /// Most sessions per inside host. Default 4096.
    pub max_sessions_per_host: u32,
    /// Static port forwards.
    pub forwards: Vec<PortForward>,
    /// 1:1 mappings `(inside, outside)`.
    pub one_to_one: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// Generated ICMP errors per second (code 13, Port Unreachable); 0 disables them.
    pub icmp_rate_limit: u32,
    /// Token-bucket depth for generated ICMP.
    pub icmp_burst: u32,
    /// MTU of both sides (default 1500): a non-GSO frame longer than this plus its Ethernet
    /// header cannot have arrived whole and is dropped `too_big`.
    pub mtu: u16,
}

impl Default for NatConfig {
    /// Every default of the module doc; `external` is empty and the MACs are
    /// `02:00:00:00:00:00` / `02:00:00:00:00:01`: set them.
    fn default() -> Self {
        NatConfig {
            inside_mac: [2, 0, 0, 0, 0, 0],
            outside_mac: [2, 0, 0, 0, 0, 1],
            external: Vec::new(),
            port_range: (1024, 65535),
            filtering: Filtering::default(),
            timeouts: NatTimeouts::default(),
            max_sessions: 65536,
            max_sessions_per_host: 4096,
            forwards: Vec::new(),
            one_to_one: Vec::new(),
            icmp_rate_limit: 100,
            icmp_burst: 50,
            mtu: 1500,
        }
    }
}

/// Why a NAT could not be built (config validation normally reports these first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatError {
    /// `external` is empty.
    #[error("external: at least one external address is needed")]
    NoExternalAddress,
    /// An external address is listed twice, or is also a 1:1 outside address.
    #[error("external address {0} is listed twice (in `external` or `one_to_one`)")]
    DuplicateExternal(Ipv4Addr),
    /// More external addresses than the table indexes.
    #[error("external: {0} addresses, at most 65535 are supported")]
    TooManyExternal(usize),
    /// `port_range` is empty.
    #[error("port_range {0}-{1}: the first port must not be above the last")]
    BadPortRange(u16, u16),
    /// A timeout of zero, or a SYN hold under RFC 5382 REQ-4's 6 s.
    #[error("timeouts.{name}: {value:?} is below the {floor:?} floor of {rfc}")]
    TimeoutBelowFloor {
        /// Field name.
        name: &'static str,
        /// Configured value.
        value: Duration,
        /// Least allowed value.
        floor: Duration,
        /// Where the floor comes from.
        rfc: &'static str,
    },
    /// `max_sessions` or `max_sessions_per_host` is 0.
    #[error("{0}: must be at least 1")]
    ZeroLimit(&'static str),
    /// A forward for ICMP.
    #[error("forward of port {0}: only TCP and UDP ports can be forwarded")]
    ForwardProto(u16),
    /// A forward on an address not in `external`.
    #[error("forward of port {port}: external address {addr} is not in `external`")]
    ForwardAddress {
        /// The port.
        port: u16,
        /// The address.
        addr: Ipv4Addr,
    },
    /// Two forwards of one external port, or of one internal endpoint.
    #[error(
        "forward of {proto:?} port {port} to {to}: the external port or the internal endpoint is already forwarded"
    )]
    DuplicateForward {
        /// Protocol.
        proto: NatProto,
        /// External port.
        port: u16,
        /// Internal endpoint.
        to: SocketAddrV4,
    },
    /// A 1:1 inside address used twice or also a forward target.
    #[error("one_to_one: inside address {0} is mapped twice or is also a forward target")]
    OneToOneConflict(Ipv4Addr),
}

/// A TCP session's state as shown by [`Nat44::sessions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// UDP.
    Udp,
    /// ICMP query.
    Icmp,
    /// TCP, SYNs not yet seen both ways (transitory timer).
    TcpOpening,
    /// TCP, established (established timer).
    TcpEstablished,
    /// TCP, FINs both ways or a RST (transitory timer).
    TcpClosing,
}

/// One session, for the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// Protocol.
    pub proto: NatProto,
    /// Internal endpoint (for ICMP the port is the identifier).
    pub internal: SocketAddrV4,
    /// External endpoint.
    pub external: SocketAddrV4,
    /// Remote endpoint (port 0 for ICMP).
    pub remote: SocketAddrV4,
    /// State.
    pub state: SessionState,
    /// The mapping is a static forward.
    pub is_static: bool,
    /// Time left before the session expires unless refreshed.
    pub expires_in: Duration,
}

/// Where a translated packet goes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Verdict {
    gate: u16,
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
}

/// Key of a held unsolicited SYN: external endpoint and remote endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct SynKey {
    ext_ip: u32,
    ext_port: u16,
    remote_ip: u32,
    remote_port: u16,
}

#[derive(Debug)]
struct HeldSyn {
    pkt: PacketBuf,
    until: Instant,
}

/// What to do with a packet after looking at it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Action {
    Emit(Verdict),
    Drop(Reason),
    /// No mapping could be made: ICMP code 13 to the sender, then drop (RFC 5508 REQ-8).
    Prohibit(Reason),
    /// Unsolicited inbound SYN (RFC 5382 REQ-4).
    HoldSyn(SynKey),
}

impl From<AllocError> for Action {
    fn from(e: AllocError) -> Action {
        Action::Prohibit(
            match e {
                AllocError::TableFull => NatDrop::TableFull,
                AllocError::HostQuota => NatDrop::HostQuota,
                AllocError::PortsExhausted => NatDrop::PortsExhausted,
            }
            .into(),
        )
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    in2out: u64,
    out2in: u64,
    hairpinned: u64,
    icmp_errors_translated: u64,
    filtered: u64,
    no_mapping: u64,
    icmp_prohibited_sent: u64,
    syn_port_unreachable_sent: u64,
    icmp_errors_rate_limited: u64,
    icmp_errors_suppressed: u64,
    fragments_translated: u64,
    fragments_held: u64,
    syn_held: u64,
    syn_superseded: u64,
    arp_replies: u64,
    arp_passed: u64,
    no_buffer: u64,
}

nfv_dataplane::drop_reasons! {
    /// Why the NAT drops a packet (besides the core [`DropReason`]s).
    pub enum NatDrop: element {
        /// An IPv4 packet from outside not addressed to one of the NAT's external addresses.
        NotExternal = "nat_not_external",
        /// Inbound to an external address and port with no mapping (or an inbound ICMP query
        /// request to a dynamic address).
        NoMapping = "nat_no_mapping",
        /// The mapping exists but its filtering refuses this remote endpoint (RFC 4787 REQ-8).
        Filtered = "nat_filtered",
        /// No free external port for a new mapping; ICMP code 13 sent (RFC 5508 REQ-8).
        PortsExhausted = "nat_ports_exhausted",
        /// The inside host reached `max_sessions_per_host`; ICMP code 13 sent.
        HostQuota = "nat_host_quota",
        /// `max_sessions` reached; ICMP code 13 sent.
        TableFull = "nat_table_full",
        /// Inbound packet to translate before the NAT has seen its inside neighbour's MAC.
        NoInsideNeighbour = "nat_no_inside_neighbour",
        /// A protocol (or ICMP type) without ports that only 1:1 mappings translate.
        UnsupportedProtocol = "nat_unsupported_protocol",
        /// ICMP error with a bad ICMP checksum: not translated (RFC 5508 REQ-3).
        IcmpBadChecksum = "nat_icmp_bad_checksum",
        /// ICMP error whose quoted packet matches no active mapping (RFC 5508 REQ-3..5).
        IcmpNoSession = "nat_icmp_no_session",
        /// Unsolicited inbound SYN, held 6 s then answered with Port Unreachable, or refused
        /// because one is already held for that remote endpoint or the hold is full (RFC 5382
        /// REQ-4).
        UnsolicitedSyn = "nat_unsolicited_syn",
        /// Held inbound SYN dropped because an outbound SYN for the connection was translated
        /// (RFC 5382 REQ-4, simultaneous open).
        SynSuperseded = "nat_syn_superseded",
        /// A held non-first fragment whose first fragment did not arrive within 2 s.
        FragmentTimeout = "nat_fragment_timeout",
        /// A non-first fragment that could not be held (16 per datagram, 256 in all).
        FragmentLimit = "nat_fragment_limit",
    }
}

/// The NAT44 element. See the module documentation.
#[derive(Debug)]
pub struct Nat44 {
    inside_mac: [u8; 6],
    outside_mac: [u8; 6],
    table: SessionTable,
    /// 1:1 inside → outside and back.
    one_in: HashMap<u32, u32, RandomState>,
    one_out: HashMap<u32, u32, RandomState>,
    last_inside: Option<[u8; 6]>,
    /// Source MAC of the last frame translated from the outside (the upstream neighbour).
    last_outside: Option<[u8; 6]>,
    syn_hold: Duration,
    syns: HashMap<SynKey, HeldSyn, RandomState>,
    /// Held SYNs in arrival order (all have the same hold time, so this is deadline order).
    syn_fifo: VecDeque<(SynKey, Instant)>,
    frags: HashMap<FragKey, FragRec, RandomState>,
    frag_fifo: VecDeque<(FragKey, Instant)>,
    frags_held: usize,
    bucket: TokenBucket,
    /// MTU of both sides ([`NatConfig::mtu`]).
    mtu: u16,
    ip_id: u16,
    c: Counters,
}

/// Timeouts must be positive. The RFC floors are defaults, and `nfv check` warns about a
/// configured value below one (naming the REQ), but an operator may knowingly go lower (as
/// Linux's 30 s UDP default does): the function enforces only what it needs to work.
/// RFC 5382 REQ-4's 6 s SYN hold is not configurable in the topology and stays a floor.
fn check_floor(
    name: &'static str,
    value: Duration,
    floor: u64,
    rfc: &'static str,
) -> Result<(), NatError> {
    let floor = if name == "syn_hold" {
        Duration::from_secs(floor)
    } else {
        Duration::from_nanos(1)
    };
    if value < floor {
        return Err(NatError::TimeoutBelowFloor {
            name,
            value,
            floor,
            rfc,
        });
    }
    Ok(())
}

impl Nat44 {
    /// Build the NAT: address pool, port bitmaps, static forwards and 1:1 mappings.
    ///
    /// # Errors
    /// [`NatError`] for an empty pool, an empty port range, a timeout below its RFC floor,
    /// a zero limit, or a forward / 1:1 mapping that conflicts with another.
    pub fn new(cfg: &NatConfig) -> Result<Nat44, NatError> {
        if cfg.external.is_empty() {
            return Err(NatError::NoExternalAddress);
        }
        if cfg.external.len() > usize::from(u16::MAX) {
            return Err(NatError::TooManyExternal(cfg.external.len()));
        }
        let (lo, hi) = cfg.port_range;
        if lo > hi {
            return Err(NatError::BadPortRange(lo, hi));
        }
        let t = &cfg.timeouts;
        check_floor("udp", t.udp, 120, "RFC 4787 REQ-5")?;
        check_floor("tcp_established", t.tcp_established, 7440, "RFC 5382 REQ-5")?;
        check_floor("tcp_transitory", t.tcp_transitory, 240, "RFC 5382 REQ-5")?;
        check_floor("icmp", t.icmp, 60, "RFC 5508 REQ-2")?;
        check_floor("syn_hold", t.syn_hold, 6, "RFC 5382 REQ-4")?;
        if cfg.max_sessions == 0 {
            return Err(NatError::ZeroLimit("max_sessions"));
        }
        if cfg.max_sessions_per_host == 0 {
            return Err(NatError::ZeroLimit("max_sessions_per_host"));
        }
        let ext: Vec<u32> = cfg.external.iter().map(|a| u32::from(*a)).collect();
        for (i, a) in ext.iter().enumerate() {
            if ext[..i].contains(a) {
                return Err(NatError::DuplicateExternal(Ipv4Addr::from(*a)));
            }
        }
        let mut table = SessionTable::new(
            &ext,
            cfg.port_range,
            cfg.filtering,
            t,
            cfg.max_sessions.min(u32::MAX - 1),
            cfg.max_sessions_per_host,
        );
        for fw in &cfg.forwards {
            if fw.proto == NatProto::Icmp {
                return Err(NatError::ForwardProto(fw.port));
            }
            let addr = fw.external.unwrap_or(cfg.external[0]);
            let Some(idx) = table.ext_index(u32::from(addr)) else {
                return Err(NatError::ForwardAddress {
                    port: fw.port,
                    addr,
                });
            };
            if !table.add_static(fw.proto, idx, fw.port, u32::from(*fw.to.ip()), fw.to.port()) {
                return Err(NatError::DuplicateForward {
                    proto: fw.proto,
                    port: fw.port,
                    to: fw.to,
                });
            }
        }
        let mut one_in = HashMap::with_hasher(RandomState::new());
        let mut one_out = HashMap::with_hasher(RandomState::new());
        for (inside, outside) in &cfg.one_to_one {
            let (i, o) = (u32::from(*inside), u32::from(*outside));
            if ext.contains(&o) || one_out.contains_key(&o) {
                return Err(NatError::DuplicateExternal(*outside));
            }
            let forwarded = cfg.forwards.iter().any(|f| f.to.ip() == inside);
            if one_in.contains_key(&i) || forwarded {
                return Err(NatError::OneToOneConflict(*inside));
            }
            one_in.insert(i, o);
            one_out.insert(o, i);
        }
        Ok(Nat44 {
            inside_mac: cfg.inside_mac,
            outside_mac: cfg.outside_mac,
            table,
            one_in,
            one_out,
            last_inside: None,
            last_outside: None,
            syn_hold: t.syn_hold,
            syns: HashMap::with_hasher(RandomState::new()),
            syn_fifo: VecDeque::new(),
            frags: HashMap::with_hasher(RandomState::new()),
            frag_fifo: VecDeque::new(),
            frags_held: 0,
            bucket: TokenBucket::new(cfg.icmp_rate_limit, cfg.icmp_burst),
            mtu: cfg.mtu,
            ip_id: 0,
            c: Counters::default(),
        })
    }

    /// Live sessions at `now`, for the admin API (order unspecified but deterministic).
    pub fn sessions(&self, now: Instant) -> impl Iterator<Item = SessionView> + '_ {
        self.table.views(now)
    }

    /// Mappings in the table, static forwards included.
    pub fn mapping_count(&self) -> usize {
        self.table.mapping_count()
    }

    /// True when `ip` is one of the NAT's own external addresses (pool or 1:1).
    fn is_external(&self, ip: u32) -> bool {
        self.table.ext_index(ip).is_some() || self.one_out.contains_key(&ip)
    }

    // ------------------------------------------------------------ ARP

    /// Answer ARP requests for an external address with this side's MAC; pass every other
    /// ARP frame to the other side unchanged.
    fn arp(&mut self, gate: u16, mut pkt: PacketBuf, out: &mut Outputs) {
        let Some(req) = arp::parse(pkt.data()) else {
            out.drop(pkt, DropReason::ArpInvalid);
            return;
        };
        if req.op != arp::OP_REQUEST || !self.is_external(req.tpa) || req.spa == req.tpa {
            self.c.arp_passed += 1;
            out.emit(OutputGate(1 - gate), pkt);
            return;
        }
        if !req.sender_is_unicast() {
            out.drop(pkt, DropReason::ArpInvalid); // RFC 1812 §3.3.2
            return;
        }
        let my = if gate == INSIDE {
            self.inside_mac
        } else {
            self.outside_mac
        };
        pkt.truncate(60);
        arp::reply_in_place(pkt.data_mut(), &req, my, req.tpa);
        self.c.arp_replies += 1;
        out.emit(OutputGate(gate), pkt);
    }

    // ------------------------------------------------------------ IPv4

    fn ipv4(&mut self, ctx: &mut Context, gate: u16, mut pkt: PacketBuf, out: &mut Outputs) {
        let ip = match nfv_dataplane::wire::ipv4::parse_pkt(&pkt) {
            Ok(ip) => ip,
            Err(r) => {
                out.drop(pkt, r); // RFC 1812 §5.2.2
                return;
            }
        };
        pkt.truncate(IP + ip.total); // Ethernet padding
        // The translation keeps the header valid (RFC 1624 incremental checksums, same
        // lengths): the next element may reuse the validation.
        nfv_dataplane::wire::ipv4::mark_valid(&mut pkt);
        let now = ctx.now;
        if ip.frag_off != 0 {
            self.later_fragment(now, gate, pkt, &ip, out);
            return;
        }
        // Packet trace only: the endpoints before translation.
        let before = (pkt.meta.trace != 0).then(|| trace_endpoints(pkt.data(), &ip));
        let offload = pkt.offload();
        let partial = match rewrite::partial_begin(pkt.data_mut(), &ip, offload) {
            Ok(p) => p,
            Err(r) => {
                out.drop(pkt, r);
                return;
            }
        };
        let action = self.translate(now, gate, pkt.data_mut(), &ip);
        if let Some(p) = &partial {
            rewrite::partial_end(pkt.data_mut(), p);
        }
        match action {
            Action::Emit(v) => {
                if let Some(b) = &before {
                    let what = match (gate, v.gate) {
                        (INSIDE, INSIDE) => "hairpin",
                        (INSIDE, _) => "in2out",
                        _ => "out2in",
                    };
                    out.note(&pkt, || {
                        format!("{what}: {b} => {}", trace_endpoints(pkt.data(), &ip))
                    });
                }
                if ip.more_frags {
                    self.first_fragment(now, gate, &ip, pkt.data(), v, out);
                }
                if v.gate == OUTSIDE && ip.proto == ip_proto::TCP {
                    self.release_syn(pkt.data(), &ip, out);
                }
                write_eth(pkt.data_mut(), v.eth_dst, v.eth_src, ETHERTYPE_IPV4);
                out.emit(OutputGate(v.gate), pkt);
            }
            Action::Drop(r) => {
                if let Some(b) = &before {
                    out.note(&pkt, || format!("not translated: {b}"));
                }
                if r == NatDrop::Filtered.into() {
                    self.c.filtered += 1;
                } else if r == NatDrop::NoMapping.into() {
                    self.c.no_mapping += 1;
                }
                out.drop(pkt, r);
            }
            Action::Prohibit(r) => {
                // RFC 5508 REQ-8: Destination Unreachable, administratively prohibited.
                let src = self.table.host_ext(ip.src);
                let dst_mac = eth_src(pkt.data());
                if self.icmp_error(ctx, &pkt, src, icmp::ADMIN_PROHIBITED, INSIDE, dst_mac, out) {
                    self.c.icmp_prohibited_sent += 1;
                }
                out.drop(pkt, r);
            }
            Action::HoldSyn(key) => self.hold_syn(now, key, pkt, out),
        }
    }

    /// Decide and rewrite (everything but the Ethernet header) for an unfragmented packet
    /// or a first fragment.
    fn translate(&mut self, now: Instant, gate: u16, f: &mut [u8], ip: &Ip) -> Action {
        let l4 = match parse_l4(f, ip) {
            Ok(l4) => l4,
            Err(r) => return Action::Drop(r),
        };
        if gate == INSIDE {
            let hairpin = self.is_external(ip.dst);
            if l4.kind == Kind::IcmpError {
                return self.icmp_error_from_inside(now, f, ip, &l4, hairpin);
            }
            if hairpin {
                self.hairpin(now, f, ip, &l4)
            } else {
                self.in2out(now, f, ip, &l4)
            }
        } else {
            if !self.is_external(ip.dst) {
                return Action::Drop(NatDrop::NotExternal.into());
            }
            if l4.kind == Kind::IcmpError {
                return self.icmp_error_from_outside(now, f, ip, &l4);
            }
            self.out2in(now, f, ip, &l4)
        }
    }

    // ------------------------------------------------------------ SYN hold

    /// RFC 5382 REQ-4: keep an unsolicited inbound SYN (at least `syn_hold`, one per
    /// connection, bounded).
    fn hold_syn(&mut self, now: Instant, key: SynKey, pkt: PacketBuf, out: &mut Outputs) {
        if self.syns.contains_key(&key) || self.syns.len() >= SYN_HOLD_MAX {
            out.drop(pkt, NatDrop::UnsolicitedSyn);
            return;
        }
        let until = now + self.syn_hold;
        self.syns.insert(key, HeldSyn { pkt, until });
        self.syn_fifo.push_back((key, until));
        self.c.syn_held += 1;
    }

    /// An outbound TCP segment was translated: if it is a SYN of a connection whose inbound
    /// SYN is held, drop that one silently (RFC 5382 REQ-4).
    fn release_syn(&mut self, f: &[u8], ip: &Ip, out: &mut Outputs) {
        let l4 = IP + ip.ihl;
        if self.syns.is_empty() || f.len() < l4 + 14 || f[l4 + 13] & table::tcp_flag::SYN == 0 {
            return;
        }
        let key = SynKey {
            ext_ip: be32(f, IP + 12),
            ext_port: be16(f, l4),
            remote_ip: be32(f, IP + 16),
            remote_port: be16(f, l4 + 2),
        };
        if let Some(h) = self.syns.remove(&key) {
            self.c.syn_superseded += 1;
            out.drop(h.pkt, NatDrop::SynSuperseded);
        }
    }

    fn expire_syns(&mut self, ctx: &mut Context, out: &mut Outputs) {
        let now = ctx.now;
        while let Some(&(key, until)) = self.syn_fifo.front() {
            if until > now {
                break;
            }
            self.syn_fifo.pop_front();
            if self.syns.get(&key).is_none_or(|h| h.until != until) {
                continue;
            }
            let Some(h) = self.syns.remove(&key) else {
                continue;
            };
            // Port Unreachable from the external address the SYN was sent to.
            let mac = eth_src(h.pkt.data());
            if self.icmp_error(
                ctx,
                &h.pkt,
                key.ext_ip,
                icmp::PORT_UNREACH,
                OUTSIDE,
                mac,
                out,
            ) {
                self.c.syn_port_unreachable_sent += 1;
            }
            out.drop(h.pkt, NatDrop::UnsolicitedSyn);
        }
    }

    // ------------------------------------------------------------ generated ICMP

    /// Send an ICMP Destination Unreachable (`code`) about frame `orig` from `src` out of
    /// `gate` to `dst_mac`, unless RFC 1812 §4.3.2.7 forbids it or the rate limit says no.
    /// True when one was sent.
    #[allow(clippy::too_many_arguments)]
    fn icmp_error(
        &mut self,
        ctx: &mut Context,
        orig: &PacketBuf,
        src: u32,
        code: u8,
        gate: u16,
        dst_mac: [u8; 6],
        out: &mut Outputs,
    ) -> bool {
        let f = orig.data();
        let Ok(ip) = parse_ipv4(f) else {
            return false;
        };
        let about_error =
            ip.proto == ip_proto::ICMP && f.get(IP + ip.ihl).is_some_and(|t| icmp::is_error(*t));
        let group = ip.dst == u32::MAX || ip.dst >> 28 == 0xe || ip.src >> 28 >= 0xe;
        if about_error || group || ip.frag_off != 0 || ip.src == 0 {
            self.c.icmp_errors_suppressed += 1;
            return false;
        }
        if !self.bucket.take(ctx.now) {
            self.c.icmp_errors_rate_limited += 1;
            return false;
        }
        let Some(mut p) = ctx.alloc() else {
            self.c.no_buffer += 1;
            return false;
        };
        self.ip_id = self.ip_id.wrapping_add(1);
        let my_mac = if gate == INSIDE {
            self.inside_mac
        } else {
            self.outside_mac
        };
        let h = icmp_wire::ErrorHeader {
            eth_dst: dst_mac,
            eth_src: my_mac,
            src,
            dst: ip.src,
            id: self.ip_id,
            typ: icmp::DEST_UNREACH,
            code,
            rest: 0,
        };
        if !icmp_wire::build_error(&mut p, &h, &f[IP..IP + ip.total]) {
            self.c.no_buffer += 1;
            out.drop(p, DropReason::NoBuffer);
            return false;
        }
        out.emit(OutputGate(gate), p);
        true
    }
}

/// The counters of [`Element::counters`], in order, with their type and help.
pub const NAT_COUNTERS: &[CounterInfo] = &[
    CounterInfo::gauge("sessions", "Sessions (5-tuple translations) now."),
    CounterInfo::gauge(
        "mappings",
        "Endpoint mappings (inside endpoint to external endpoint) now.",
    ),
    CounterInfo::gauge("hosts", "Inside hosts with at least one session now."),
    CounterInfo::gauge(
        "held_syns",
        "Unsolicited inbound SYNs held now (RFC 5382 REQ-4).",
    ),
    CounterInfo::gauge(
        "held_fragments",
        "Non-first fragments held for their first fragment now.",
    ),
    CounterInfo::counter("sessions_created", "Sessions created."),
    CounterInfo::counter(
        "sessions_expired",
        "Sessions removed after their idle timeout.",
    ),
    CounterInfo::counter("mappings_created", "Endpoint mappings created."),
    CounterInfo::counter(
        "port_alloc_failed",
        "New mappings refused: no free external port.",
    ),
    CounterInfo::counter(
        "host_quota_exceeded",
        "New sessions refused: the inside host had max-sessions-per-host.",
    ),
    CounterInfo::counter("table_full", "New sessions refused: max-sessions reached."),
    CounterInfo::counter("in2out", "Packets translated inside to outside."),
    CounterInfo::counter("out2in", "Packets translated outside to inside."),
    CounterInfo::counter(
        "hairpinned",
        "Packets from inside to an external address of the NAT, translated back in (RFC 4787 REQ-9).",
    ),
    CounterInfo::counter(
        "icmp_errors_translated",
        "ICMP errors translated with their quoted packet (RFC 5508).",
    ),
    CounterInfo::counter(
        "filtered",
        "Inbound packets refused by the mapping's filtering (RFC 4787 REQ-8).",
    ),
    CounterInfo::counter(
        "no_mapping",
        "Inbound packets to an external endpoint with no mapping.",
    ),
    CounterInfo::counter(
        "icmp_prohibited_sent",
        "ICMP administratively prohibited (code 13) sent for refused new sessions.",
    ),
    CounterInfo::counter(
        "syn_port_unreachable_sent",
        "ICMP port unreachable sent for unsolicited SYNs held 6 s (RFC 5382 REQ-4).",
    ),
    CounterInfo::counter(
        "icmp_errors_rate_limited",
        "ICMP errors not sent: the token bucket was empty.",
    ),
    CounterInfo::counter(
        "icmp_errors_suppressed",
        "ICMP errors never sent by rule (about an ICMP error, a broadcast …).",
    ),
    CounterInfo::counter("fragments_translated", "Fragments translated."),
    CounterInfo::counter(
        "fragments_held",
        "Non-first fragments held until their first fragment came.",
    ),
    CounterInfo::counter(
        "syn_held",
        "Unsolicited inbound SYNs held (RFC 5382 REQ-4).",
    ),
    CounterInfo::counter(
        "syn_superseded",
        "Held SYNs dropped because the inside host opened the connection.",
    ),
    CounterInfo::counter(
        "arp_replies",
        "ARP replies sent for the external addresses.",
    ),
    CounterInfo::counter("arp_passed", "ARP frames passed between the sides."),
    CounterInfo::counter(
        "no_buffer",
        "Packets not made (ICMP, ARP): the packet pool was empty.",
    ),
];

impl Element for Nat44 {
    fn kind(&self) -> &'static str {
        "nat"
    }

    fn drop_reasons(&self) -> &'static [ReasonInfo] {
        NatDrop::TABLE
    }

    fn gates(&self) -> GateSpec {
        GateSpec {
            inputs: 2,
            outputs: 2,
        }
    }

    fn process(&mut self, ctx: &mut Context, input: InputGate, batch: Batch, out: &mut Outputs) {
        let gate = input.0;
        if gate > OUTSIDE {
            for p in batch {
                out.drop(p, DropReason::BadGate);
            }
            return;
        }
        self.table.expire(ctx.now, EXPIRE_PER_BATCH);
        for pkt in batch {
            let f = pkt.data();
            if f.len() < ETH_HLEN {
                out.drop(pkt, DropReason::Malformed);
                continue;
            }
            if eth_src(f)[0] & 1 != 0 || eth_src(f) == [0; 6] {
                out.drop(pkt, DropReason::InvalidSourceMac);
                continue;
            }
            if crate::over_ingress_mtu(&pkt, self.mtu) {
                out.drop(pkt, DropReason::TooBig);
                continue;
            }
            let f = pkt.data();
            match eth_type(f) {
                ETHERTYPE_IPV4 => self.ipv4(ctx, gate, pkt, out),
                ETHERTYPE_ARP => self.arp(gate, pkt, out),
                _ => out.drop(pkt, DropReason::UnsupportedEthertype),
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context, out: &mut Outputs) {
        self.table.expire(ctx.now, EXPIRE_PER_TICK);
        self.expire_syns(ctx, out);
        self.expire_fragments(ctx.now, out);
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(TICK)
    }

    fn held(&self) -> u64 {
        (self.syns.len() + self.frags_held) as u64
    }

    fn counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        let t = &self.table.c;
        let c = &self.c;
        f("sessions", u64::from(self.table.session_count()));
        f("mappings", self.table.mapping_count() as u64);
        f("hosts", self.table.host_count() as u64);
        f("held_syns", self.syns.len() as u64);
        f("held_fragments", self.frags_held as u64);
        f("sessions_created", t.sessions_created);
        f("sessions_expired", t.sessions_expired);
        f("mappings_created", t.mappings_created);
        f("port_alloc_failed", t.port_alloc_failed);
        f("host_quota_exceeded", t.host_quota_exceeded);
        f("table_full", t.table_full);
        f("in2out", c.in2out);
        f("out2in", c.out2in);
        f("hairpinned", c.hairpinned);
        f("icmp_errors_translated", c.icmp_errors_translated);
        f("filtered", c.filtered);
        f("no_mapping", c.no_mapping);
        f("icmp_prohibited_sent", c.icmp_prohibited_sent);
        f("syn_port_unreachable_sent", c.syn_port_unreachable_sent);
        f("icmp_errors_rate_limited", c.icmp_errors_rate_limited);
        f("icmp_errors_suppressed", c.icmp_errors_suppressed);
        f("fragments_translated", c.fragments_translated);
        f("fragments_held", c.fragments_held);
        f("syn_held", c.syn_held);
        f("syn_superseded", c.syn_superseded);
        f("arp_replies", c.arp_replies);
        f("arp_passed", c.arp_passed);
        f("no_buffer", c.no_buffer);
    }

    fn counter_info(&self) -> &'static [CounterInfo] {
        NAT_COUNTERS
    }

    /// `nat`: the live sessions, sorted by internal then remote endpoint.
    fn tables(&self, now: Instant, out: &mut dyn FnMut(Table)) {
        let mut v: Vec<SessionView> = self.sessions(now).collect();
        v.sort_unstable_by_key(|s| {
            (
                *s.internal.ip(),
                s.internal.port(),
                *s.remote.ip(),
                s.remote.port(),
            )
        });
        let mut t = Table::new(
            "nat",
            &[
                "proto",
                "internal",
                "external",
                "remote",
                "state",
                "expires_in_s",
            ],
        );
        for s in v {
            t.push_with(|| {
                let state = match s.state {
                    SessionState::Udp => "udp",
                    SessionState::Icmp => "icmp",
                    SessionState::TcpOpening => "opening",
                    SessionState::TcpEstablished => "established",
                    SessionState::TcpClosing => "closing",
                };
                let proto = match s.proto {
                    NatProto::Tcp => "tcp",
                    NatProto::Udp => "udp",
                    NatProto::Icmp => "icmp",
                };
                vec![
                    proto.into(),
                    s.internal.to_string(),
                    s.external.to_string(),
                    s.remote.to_string(),
                    if s.is_static {
                        format!("{state} (static)")
                    } else {
                        state.into()
                    },
                    crate::show::secs(s.expires_in),
                ]
            });
        }
        out(t);
    }

    fn gate_name(&self, gate: u16) -> String {
        match gate {
            INSIDE => "inside".into(),
            OUTSIDE => "outside".into(),
            g => g.to_string(),
        }
    }
}

/// `proto src[:port] -> dst[:port]` (ICMP: `id N`) of an IPv4 frame, for the packet trace.
#[cold]
fn trace_endpoints(f: &[u8], ip: &Ip) -> String {
    let (src, dst) = (
        Ipv4Addr::from(be32(f, IP + 12)),
        Ipv4Addr::from(be32(f, IP + 16)),
    );
    let l4 = IP + ip.ihl;
    let ported = ip.frag_off == 0 && f.len() >= l4 + 4;
    match ip.proto {
        ip_proto::TCP | ip_proto::UDP if ported => format!(
            "{} {src}:{} -> {dst}:{}",
            if ip.proto == ip_proto::TCP {
                "tcp"
            } else {
                "udp"
            },
            be16(f, l4),
            be16(f, l4 + 2)
        ),
        ip_proto::ICMP if ip.frag_off == 0 && f.len() >= l4 + 8 => {
            format!("icmp {src} -> {dst} id {}", be16(f, l4 + 4))
        }
        p => format!("proto {p} {src} -> {dst}"),
    }
}

#[cfg(test)]
mod tests;
