//! Elements: the packet-processing nodes of the graph (switch, router, NAT …).
//!
//! An [`Element`] has numbered input and output gates ([`GateSpec`]). The graph runner hands
//! it a [`Batch`] that arrived on one input gate; the element must account for **every**
//! packet: each ends in [`Outputs::emit`] on an output gate, in [`Outputs::drop`] with a
//! [`DropReason`], in [`Outputs::consume`] (delivered to the element itself: an ARP reply
//! a router learns from), or is held by the element for later (a packet waiting for ARP;
//! [`Element::held`] reports how many). Packets the element makes itself (flood copies,
//! ICMP replies) come from [`Context::alloc`] / [`Context::clone_packet`], which count them
//! as *generated*, so the runner can check conservation for every node:
//!
//! ```text
//! in + generated == emitted + dropped + consumed + held
//! ```
//!
//! Elements are sans-IO: no syscalls, no clock reads (time is [`Context::now`]), no locks.
//! They are `&mut self` and run on one worker thread at a time.

use std::fmt;
use std::time::Duration;

use crate::packet::{Batch, PacketBuf, PacketPool};
use crate::time::Instant;

/// Why a packet was dropped. The `as_str` names are a stable API (they appear in counters
/// and metrics, like VPP's error strings): never rename one, only add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// Frame too short or a header inconsistent with the frame length.
    Malformed,
    /// Source MAC is multicast/broadcast or all-zero.
    InvalidSourceMac,
    /// IEEE 802.1D reserved group address 01:80:c2:00:00:0x (STP, LACP, pause): never forwarded.
    LinkLocalMulticast,
    /// The frame's VLAN is not allowed on the port it arrived on (or untagged on a trunk
    /// without native VLAN).
    VlanNotAllowed,
    /// The destination was learned on the ingress port: the frame stays on that segment.
    SamePort,
    /// The output gate (or port rx) is connected to nothing.
    NoOutput,
    /// No headroom to push a header (e.g. an 802.1Q tag).
    NoHeadroom,
    /// The device did not accept the frame (queue full / EAGAIN / ENOBUFS).
    TxFull,
    /// The device returned an error writing the frame.
    TxError,
    /// A ring to another worker was full (the consumer worker is behind); counted by the
    /// producing side, never a block.
    RingFull,
    /// The frame was larger than the receive buffer and was cut short by the device.
    RxTruncated,
    /// The frame is larger than the egress MTU allows.
    TooBig,
    /// An element emitted on a gate it does not have (a bug in the element, counted not panicked).
    BadGate,
    /// Unicast frame addressed to another station's MAC (a router port on a shared segment).
    NotForUs,
    /// An Ethernet type the function does not handle (e.g. IPv6 or a VLAN tag at a router).
    UnsupportedEthertype,
    /// ARP packet too short or not Ethernet/IPv4.
    ArpInvalid,
    /// IPv4: fewer than 20 bytes after the Ethernet header (RFC 1812 5.2.2).
    IpTooShort,
    /// IPv4: version field is not 4 (RFC 1812 5.2.2).
    IpBadVersion,
    /// IPv4: IHL under 5 or beyond the packet (RFC 1812 5.2.2).
    IpBadHeaderLength,
    /// IPv4: total length under the header length or over the received length (RFC 1812 5.2.2).
    IpBadTotalLength,
    /// IPv4: header checksum wrong (RFC 1812 5.2.2).
    IpBadChecksum,
    /// IPv4: TTL would reach 0 (RFC 1812 5.3.1); ICMP Time Exceeded sent.
    TtlExceeded,
    /// No route to the destination (RFC 1812 5.2.7.1); ICMP Net Unreachable sent.
    NoRoute,
    /// The next hop did not answer ARP; ICMP Host Unreachable sent.
    HostUnreachable,
    /// Too many packets already waiting for this next hop's ARP reply.
    ArpQueueFull,
    /// Larger than the egress MTU with DF set (RFC 1812 5.2.6); ICMP Fragmentation Needed sent.
    FragmentationNeeded,
    /// Source address 0/8, 127/8, multicast, class E or broadcast (RFC 1812 5.3.7).
    MartianSource,
    /// Destination 0/8, 127/8 or class E (RFC 1812 5.3.7).
    MartianDestination,
    /// 169.254/16 source or destination: never forwarded (RFC 3927 §7).
    LinkLocalAddress,
    /// Received as a link-layer broadcast/multicast but not for an IP broadcast/multicast
    /// destination: not forwarded (RFC 1812 5.3.4).
    L2BroadcastNotForwarded,
    /// Limited (255.255.255.255) or directed broadcast: not forwarded (RFC 1812 5.3.5).
    BroadcastNotForwarded,
    /// IP multicast destination: no multicast routing.
    MulticastNotForwarded,
    /// A packet the element was building could not be completed (packet pool empty).
    NoBuffer,
    /// Firewall: a drop rule or the default drop policy.
    FwRuleDrop,
    /// Firewall: a reject rule (the RST or ICMP error is generated separately).
    FwRejected,
    /// Firewall: a packet in no flow that cannot start one (TCP without a pure SYN, ICMP
    /// reply or error about nothing tracked), not explicitly allowed.
    FwInvalid,
    /// Firewall: the connection table is full; the new flow was not created.
    FwTableFull,
    /// Firewall: a non-initial fragment of no allowed datagram, or an RFC 1858 overlap.
    FwFragment,
    /// NAT: an IPv4 packet from outside not addressed to one of the NAT's external addresses.
    NatNotExternal,
    /// NAT: inbound to an external address and port with no mapping (or an inbound ICMP query
    /// request to a dynamic address).
    NatNoMapping,
    /// NAT: the mapping exists but its filtering (RFC 4787 REQ-8) refuses this remote endpoint.
    NatFiltered,
    /// NAT: no free external port for a new mapping; ICMP code 13 sent (RFC 5508 REQ-8).
    NatPortsExhausted,
    /// NAT: the inside host reached `max_sessions_per_host`; ICMP code 13 sent.
    NatHostQuota,
    /// NAT: `max_sessions` reached; ICMP code 13 sent.
    NatTableFull,
    /// NAT: inbound packet to translate but no inside neighbour MAC has been seen yet.
    NatNoInsideNeighbour,
    /// NAT: a protocol (or ICMP type) that only 1:1 mappings translate.
    NatUnsupportedProtocol,
    /// NAT: ICMP error with a bad ICMP checksum (RFC 5508 REQ-3).
    NatIcmpBadChecksum,
    /// NAT: ICMP error whose quoted packet matches no active mapping (RFC 5508 REQ-3..5).
    NatIcmpNoSession,
    /// NAT: unsolicited inbound SYN, held 6 s then answered with Port Unreachable, or refused
    /// because one is already held for that remote endpoint or the hold is full (RFC 5382 REQ-4).
    NatUnsolicitedSyn,
    /// NAT: held inbound SYN silently dropped because an outbound SYN for the connection was
    /// translated (RFC 5382 REQ-4, simultaneous open).
    NatSynSuperseded,
    /// NAT: a held non-first fragment whose first fragment did not arrive within 2 s.
    NatFragmentTimeout,
    /// NAT: a non-first fragment that could not be held (16 per datagram, 256 in all).
    NatFragmentLimit,
    /// A checksum/segmentation offload header (`virtio_net_hdr`) that does not fit the frame:
    /// checksum start or field beyond the frame, GSO without a segment size or without
    /// NEEDS_CSUM, an unknown GSO type, or headers GSO cannot segment.
    OffloadInvalid,
    /// The port's device is gone (deleted under nfv: EBADFD/ENODEV/ENXIO) or its link is down
    /// (ENETDOWN, or EIO writing to an administratively down TAP): the frame was not sent.
    PortDown,
}

impl DropReason {
    /// Number of reasons (size of counter arrays).
    pub const COUNT: usize = 54;

    /// Every reason, in counter-array order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Malformed,
        DropReason::InvalidSourceMac,
        DropReason::LinkLocalMulticast,
        DropReason::VlanNotAllowed,
        DropReason::SamePort,
        DropReason::NoOutput,
        DropReason::NoHeadroom,
        DropReason::TxFull,
        DropReason::TxError,
        DropReason::RingFull,
        DropReason::RxTruncated,
        DropReason::TooBig,
        DropReason::BadGate,
        DropReason::NotForUs,
        DropReason::UnsupportedEthertype,
        DropReason::ArpInvalid,
        DropReason::IpTooShort,
        DropReason::IpBadVersion,
        DropReason::IpBadHeaderLength,
        DropReason::IpBadTotalLength,
        DropReason::IpBadChecksum,
        DropReason::TtlExceeded,
        DropReason::NoRoute,
        DropReason::HostUnreachable,
        DropReason::ArpQueueFull,
        DropReason::FragmentationNeeded,
        DropReason::MartianSource,
        DropReason::MartianDestination,
        DropReason::LinkLocalAddress,
        DropReason::L2BroadcastNotForwarded,
        DropReason::BroadcastNotForwarded,
        DropReason::MulticastNotForwarded,
        DropReason::NoBuffer,
        DropReason::FwRuleDrop,
        DropReason::FwRejected,
        DropReason::FwInvalid,
        DropReason::FwTableFull,
        DropReason::FwFragment,
        DropReason::NatNotExternal,
        DropReason::NatNoMapping,
        DropReason::NatFiltered,
        DropReason::NatPortsExhausted,
        DropReason::NatHostQuota,
        DropReason::NatTableFull,
        DropReason::NatNoInsideNeighbour,
        DropReason::NatUnsupportedProtocol,
        DropReason::NatIcmpBadChecksum,
        DropReason::NatIcmpNoSession,
        DropReason::NatUnsolicitedSyn,
        DropReason::NatSynSuperseded,
        DropReason::NatFragmentTimeout,
        DropReason::NatFragmentLimit,
        DropReason::OffloadInvalid,
        DropReason::PortDown,
    ];

    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::InvalidSourceMac => "invalid_source_mac",
            DropReason::LinkLocalMulticast => "link_local_multicast",
            DropReason::VlanNotAllowed => "vlan_not_allowed",
            DropReason::SamePort => "same_port",
            DropReason::NoOutput => "no_output",
            DropReason::NoHeadroom => "no_headroom",
            DropReason::TxFull => "tx_full",
            DropReason::TxError => "tx_error",
            DropReason::RingFull => "ring_full",
            DropReason::RxTruncated => "rx_truncated",
            DropReason::TooBig => "too_big",
            DropReason::BadGate => "bad_gate",
            DropReason::NotForUs => "not_for_us",
            DropReason::UnsupportedEthertype => "unsupported_ethertype",
            DropReason::ArpInvalid => "arp_invalid",
            DropReason::IpTooShort => "ip_too_short",
            DropReason::IpBadVersion => "ip_bad_version",
            DropReason::IpBadHeaderLength => "ip_bad_header_length",
            DropReason::IpBadTotalLength => "ip_bad_total_length",
            DropReason::IpBadChecksum => "ip_bad_checksum",
            DropReason::TtlExceeded => "ttl_exceeded",
            DropReason::NoRoute => "no_route",
            DropReason::HostUnreachable => "host_unreachable",
            DropReason::ArpQueueFull => "arp_queue_full",
            DropReason::FragmentationNeeded => "fragmentation_needed",
            DropReason::MartianSource => "martian_source",
            DropReason::MartianDestination => "martian_destination",
            DropReason::LinkLocalAddress => "link_local_address",
            DropReason::L2BroadcastNotForwarded => "l2_broadcast_not_forwarded",
            DropReason::BroadcastNotForwarded => "broadcast_not_forwarded",
            DropReason::MulticastNotForwarded => "multicast_not_forwarded",
            DropReason::NoBuffer => "no_buffer",
            DropReason::FwRuleDrop => "fw_rule_drop",
            DropReason::FwRejected => "fw_rejected",
            DropReason::FwInvalid => "fw_invalid",
            DropReason::FwTableFull => "fw_table_full",
            DropReason::FwFragment => "fw_fragment",
            DropReason::NatNotExternal => "nat_not_external",
            DropReason::NatNoMapping => "nat_no_mapping",
            DropReason::NatFiltered => "nat_filtered",
            DropReason::NatPortsExhausted => "nat_ports_exhausted",
            DropReason::NatHostQuota => "nat_host_quota",
            DropReason::NatTableFull => "nat_table_full",
            DropReason::NatNoInsideNeighbour => "nat_no_inside_neighbour",
            DropReason::NatUnsupportedProtocol => "nat_unsupported_protocol",
            DropReason::NatIcmpBadChecksum => "nat_icmp_bad_checksum",
            DropReason::NatIcmpNoSession => "nat_icmp_no_session",
            DropReason::NatUnsolicitedSyn => "nat_unsolicited_syn",
            DropReason::NatSynSuperseded => "nat_syn_superseded",
            DropReason::NatFragmentTimeout => "nat_fragment_timeout",
            DropReason::NatFragmentLimit => "nat_fragment_limit",
            DropReason::OffloadInvalid => "offload_invalid",
            DropReason::PortDown => "port_down",
        }
    }

    #[inline]
    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Drop counters indexed by reason. Plain integers: owned by one worker, no atomics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropCounters([u64; DropReason::COUNT]);

// Manual: `Default` is derived for arrays of at most 32 elements only.
impl Default for DropCounters {
    fn default() -> Self {
        DropCounters([0; DropReason::COUNT])
    }
}

impl DropCounters {
    /// Count `n` drops for `reason`.
    #[inline]
    pub fn add(&mut self, reason: DropReason, n: u64) {
        self.0[reason.index()] += n;
    }

    /// Drops counted for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason.index()]
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Reasons with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n != 0)
    }

    /// Add another set of counters to this one.
    pub fn merge(&mut self, other: &DropCounters) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

/// Number of input and output gates of an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateSpec {
    /// Input gates `0..inputs`.
    pub inputs: u16,
    /// Output gates `0..outputs`.
    pub outputs: u16,
}

/// An input gate index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InputGate(pub u16);

/// An output gate index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutputGate(pub u16);

/// What an element gets besides its packets: the time, and a way to make new packets.
#[derive(Debug)]
pub struct Context {
    /// The time of this round (read once per round by the worker; a value in tests).
    pub now: Instant,
    pool: PacketPool,
    generated: u64,
    /// Trace id of the (last) traced packet of the batch being processed, 0 if none.
    trace_parent: u16,
    /// Next trace id to give a generated packet (0: none may be given).
    trace_next: u16,
    /// Parents of the packets given trace ids since the runner last looked, in id order.
    trace_generated: Vec<u16>,
}

impl Context {
    /// A context at `now` allocating from `pool`.
    pub fn new(now: Instant, pool: PacketPool) -> Context {
        Context {
            now,
            pool,
            generated: 0,
            trace_parent: 0,
            trace_next: 0,
            trace_generated: Vec::new(),
        }
    }

    /// Trace bookkeeping for the runner: the batch about to be processed contains traced
    /// packet `parent` (0: none), and generated packets get ids from `next`.
    pub(crate) fn set_trace(&mut self, parent: u16, next: u16) {
        self.trace_parent = parent;
        self.trace_next = next;
    }

    /// Parents of the traced packets generated since the last call (for the runner).
    pub(crate) fn take_trace_generated(&mut self) -> Option<std::vec::Drain<'_, u16>> {
        if self.trace_generated.is_empty() {
            None
        } else {
            Some(self.trace_generated.drain(..))
        }
    }

    #[cold]
    fn trace_id_for(&mut self, parent: u16) -> u16 {
        if self.trace_next == 0 || usize::from(self.trace_next) > crate::trace::MAX_PACKETS {
            return 0;
        }
        let id = self.trace_next;
        self.trace_next += 1;
        self.trace_generated.push(parent);
        id
    }

    /// A new empty packet (counted as generated), or `None` if the pool is empty.
    #[inline]
    pub fn alloc(&mut self) -> Option<PacketBuf> {
        let mut p = self.pool.alloc()?;
        self.generated += 1;
        if self.trace_parent != 0 {
            p.meta.trace = self.trace_id_for(self.trace_parent);
        }
        Some(p)
    }

    /// A copy of `pkt` (counted as generated), or `None` if the pool is empty.
    #[inline]
    pub fn clone_packet(&mut self, pkt: &PacketBuf) -> Option<PacketBuf> {
        let mut p = self.pool.try_clone(pkt)?;
        self.generated += 1;
        if pkt.meta.trace != 0 {
            p.meta.trace = self.trace_id_for(pkt.meta.trace);
        }
        Some(p)
    }

    /// Packets generated since the last call; resets the count (used by the runner).
    pub fn take_generated(&mut self) -> u64 {
        std::mem::take(&mut self.generated)
    }
}

/// Where an element puts its packets: one queue per output gate, and drop counters.
///
/// Gate queues are `Vec`s that keep their capacity, so after warm-up emitting allocates
/// nothing; the runner empties them after every `process` call.
#[derive(Debug)]
pub struct Outputs {
    gates: Vec<Vec<PacketBuf>>,
    drops: DropCounters,
    emitted: u64,
    consumed: u64,
    /// What happened to traced packets (notes, drops), for the runner.
    trace: Vec<crate::trace::Event>,
}

impl Outputs {
    /// Queues for `outputs` gates.
    pub fn new(outputs: u16) -> Outputs {
        Outputs {
            gates: (0..outputs)
                .map(|_| Vec::with_capacity(2 * crate::packet::BURST))
                .collect(),
            drops: DropCounters::default(),
            emitted: 0,
            consumed: 0,
            trace: Vec::new(),
        }
    }

    /// Say what the element did with `pkt`, for the packet trace ([`crate::trace`]): `f` is
    /// called only when `pkt` is traced, so this costs one branch otherwise.
    #[inline]
    pub fn note(&mut self, pkt: &PacketBuf, f: impl FnOnce() -> String) {
        if pkt.meta.trace != 0 {
            self.note_traced(pkt.meta.trace, f);
        }
    }

    /// The slow half of [`Outputs::note`], kept out of the elements' packet loops.
    #[cold]
    #[inline(never)]
    fn note_traced(&mut self, id: u16, f: impl FnOnce() -> String) {
        self.trace.push(crate::trace::Event::Note(id, f()));
    }

    /// The trace events recorded since the last call (for the runner and tests).
    pub fn take_trace(&mut self) -> Vec<crate::trace::Event> {
        std::mem::take(&mut self.trace)
    }

    /// True when trace events are waiting for the runner.
    #[inline]
    pub(crate) fn has_trace(&self) -> bool {
        !self.trace.is_empty()
    }

    /// Send `pkt` out of `gate`. A gate the element does not have is a counted
    /// [`DropReason::BadGate`], never a panic.
    #[inline]
    pub fn emit(&mut self, gate: OutputGate, pkt: PacketBuf) {
        match self.gates.get_mut(gate.0 as usize) {
            Some(q) => {
                q.push(pkt);
                self.emitted += 1;
            }
            None => {
                if pkt.meta.trace != 0 {
                    self.trace.push(crate::trace::Event::Drop(
                        pkt.meta.trace,
                        DropReason::BadGate,
                    ));
                }
                self.drops.add(DropReason::BadGate, 1);
            }
        }
    }

    /// Drop `pkt`, counting `reason`.
    #[inline]
    pub fn drop(&mut self, pkt: PacketBuf, reason: DropReason) {
        if pkt.meta.trace != 0 {
            self.trace
                .push(crate::trace::Event::Drop(pkt.meta.trace, reason));
        }
        drop(pkt);
        self.drops.add(reason, 1);
    }

    /// `pkt` was delivered to the element itself (an ARP reply it learned from, an ICMP
    /// message for it): neither forwarded nor dropped.
    #[inline]
    pub fn consume(&mut self, pkt: PacketBuf) {
        if pkt.meta.trace != 0 {
            self.trace
                .push(crate::trace::Event::Consumed(pkt.meta.trace));
        }
        drop(pkt);
        self.consumed += 1;
    }

    /// Packets consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Number of output gates.
    pub fn gate_count(&self) -> u16 {
        self.gates.len() as u16
    }

    /// Packets queued on `gate` (for the runner and tests).
    pub fn queue_mut(&mut self, gate: usize) -> Option<&mut Vec<PacketBuf>> {
        self.gates.get_mut(gate)
    }

    /// Packets queued on `gate`.
    pub fn queued(&self, gate: usize) -> &[PacketBuf] {
        self.gates.get(gate).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Drops counted so far.
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    /// Packets emitted so far (all gates).
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Count drops of packets that were queued but could not be delivered by the runner.
    pub fn count_drops(&mut self, reason: DropReason, n: u64) {
        self.drops.add(reason, n);
    }
}

/// A packet-processing node. See the module docs for the contract.
pub trait Element: Send {
    /// The YAML `kind` of this element (`"switch"`), for reports.
    fn kind(&self) -> &'static str;

    /// Static shape: how many input and output gates.
    fn gates(&self) -> GateSpec;

    /// Consume every packet of `batch`, which arrived on `input`: each ends in
    /// `out.emit(..)` or `out.drop(.., reason)`.
    fn process(&mut self, ctx: &mut Context, input: InputGate, batch: Batch, out: &mut Outputs);

    /// Periodic work (ageing, retries), called about every [`Element::tick_interval`].
    fn tick(&mut self, _ctx: &mut Context, _out: &mut Outputs) {}

    /// How often `tick` wants to run; `None` means never.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Packets the element is holding for later (e.g. waiting for ARP). They count in the
    /// conservation check until they are emitted or dropped.
    fn held(&self) -> u64 {
        0
    }

    /// Report element-specific counters and gauges (`learned`, `fdb_entries` …) as
    /// `(stable_name, value)` pairs.
    fn counters(&self, _f: &mut dyn FnMut(&'static str, u64)) {}

    /// Name of gate `gate` for reports (e.g. a switch port name). Default: the number.
    fn gate_name(&self, gate: u16) -> String {
        gate.to_string()
    }

    /// The element's tables (MAC table, ARP cache, routes, sessions, flows, rules) as text
    /// rows, for the admin API. Called on request by the worker at the end of a round, never
    /// on the packet path. Default: none.
    fn tables(&self, _now: Instant, _out: &mut dyn FnMut(Table)) {}
}

/// Most rows an element puts in one [`Table`]; the rest are only counted in
/// [`Table::total`] (a router with a million routes, a NAT with 64k sessions).
pub const TABLE_ROW_LIMIT: usize = 1000;

/// One table of an element, as text, for display ([`Element::tables`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Stable table name (`fdb`, `arp`, `routes`, `nat`, `flows`, `rules`).
    pub name: &'static str,
    /// Column names.
    pub columns: Vec<&'static str>,
    /// At most [`TABLE_ROW_LIMIT`] rows, each with one value per column.
    pub rows: Vec<Vec<String>>,
    /// Entries in the table; more than `rows.len()` when rows were left out.
    pub total: usize,
}

impl Table {
    /// An empty table.
    pub fn new(name: &'static str, columns: &[&'static str]) -> Table {
        Table {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
            total: 0,
        }
    }

    /// Count an entry and keep its row if fewer than [`TABLE_ROW_LIMIT`] are kept.
    /// `row` is only called for kept rows.
    pub fn push_with(&mut self, row: impl FnOnce() -> Vec<String>) {
        self.total += 1;
        if self.rows.len() < TABLE_ROW_LIMIT {
            self.rows.push(row());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reason_table_is_consistent() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r} is out of order in ALL");
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT, "names are unique");
    }

    #[test]
    fn outputs_bad_gate_is_a_counted_drop() {
        let pool = PacketPool::new(2, 64);
        let mut out = Outputs::new(1);
        out.emit(OutputGate(0), pool.alloc().expect("buf"));
        out.emit(OutputGate(5), pool.alloc().expect("buf"));
        assert_eq!(out.queued(0).len(), 1);
        assert_eq!(out.drops().get(DropReason::BadGate), 1);
        assert_eq!(pool.available(), 1);
    }
}
