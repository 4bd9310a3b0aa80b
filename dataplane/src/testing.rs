//! Test doubles and helpers (feature `test-utils`): an in-memory port, a one-call element
//! runner that checks conservation, and Ethernet frame builders.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::element::{Context, DropCounters, Element, InputGate, Outputs};
use crate::packet::{Batch, PacketBuf, PacketPool};
use crate::port::{Port, PortError, PortStats};
use crate::time::Instant;
use crate::wire::ethernet::Ethernet;
use crate::wire::ipv4::Ipv4;

#[derive(Debug, Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    stats: PortStats,
}

/// An in-memory [`Port`]: tests push frames to be "received" and read what was "sent".
/// Cloning gives another handle to the same queues (one goes into the graph).
#[derive(Clone, Debug, Default)]
pub struct QueuePort {
    name: String,
    q: Arc<Mutex<Queues>>,
}

impl QueuePort {
    /// A new port named `name`.
    pub fn new(name: &str) -> QueuePort {
        QueuePort {
            name: name.to_string(),
            q: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.q
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue a frame for the next `rx_burst`.
    pub fn push_rx(&self, frame: &[u8]) {
        self.lock().rx.push_back(frame.to_vec());
    }

    /// Take every frame transmitted so far.
    pub fn take_tx(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.lock().tx)
    }
}

impl Port for QueuePort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        let mut q = self.lock();
        let mut n = 0;
        while !batch.is_full() {
            let Some(frame) = q.rx.pop_front() else { break };
            let Some(mut p) = pool.alloc() else {
                q.rx.push_front(frame);
                q.stats.rx_no_buffer += 1;
                break;
            };
            q.stats.rx_packets += 1;
            q.stats.rx_bytes += frame.len() as u64;
            if !p.extend_from_slice(&frame) {
                q.stats.drops.add(crate::DropReason::RxTruncated, 1);
                continue;
            }
            let _ = batch.push(p);
            n += 1;
        }
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        let mut q = self.lock();
        for p in batch.drain() {
            q.stats.tx_packets += 1;
            q.stats.tx_bytes += p.len() as u64;
            q.tx.push(p.data().to_vec());
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        None
    }

    fn stats(&self) -> PortStats {
        self.lock().stats
    }
}

/// What one `process` call did.
#[derive(Debug, Default)]
pub struct Emitted {
    /// Frames per output gate, in order.
    pub by_gate: Vec<Vec<Vec<u8>>>,
    /// The offload metadata of each of those frames (same shape as `by_gate`).
    pub offload_by_gate: Vec<Vec<Option<crate::Offload>>>,
    /// Drops by reason.
    pub drops: DropCounters,
    /// Packets the element generated.
    pub generated: u64,
    /// Packets delivered to the element itself.
    pub consumed: u64,
    /// Emitted packets whose metadata says their IPv4 header was validated
    /// ([`crate::packet::Parsed`]; every one is checked to really be valid).
    pub ipv4_validated: usize,
}

impl Emitted {
    /// Frames on `gate` (empty if none).
    pub fn gate(&self, gate: usize) -> &[Vec<u8>] {
        self.by_gate.get(gate).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Total frames emitted.
    pub fn total(&self) -> usize {
        self.by_gate.iter().map(Vec::len).sum()
    }
}

/// The [`crate::packet::Parsed`] contract, checked on every packet an element emits in a
/// test: metadata that says the IPv4 header is valid must be true.
fn check_parsed(p: &PacketBuf) -> bool {
    let Some(l3) = p.meta.parsed.ipv4() else {
        return false;
    };
    {
        assert_eq!(
            l3,
            crate::wire::ipv4::IP,
            "IPv4 metadata at the untagged offset"
        );
        assert!(
            crate::wire::ipv4::parse(p.data()).is_ok(),
            "metadata says the IPv4 header is valid, but it is not: {:02x?}",
            p.data()
        );
    }
    true
}

fn collect(out: &mut Outputs, generated: u64) -> Emitted {
    let consumed = out.consumed();
    let mut by_gate = Vec::new();
    let mut offload_by_gate = Vec::new();
    let mut ipv4_validated = 0;
    for g in 0..out.gate_count() as usize {
        let (frames, offloads) = out
            .queue_mut(g)
            .map(|q| {
                q.drain(..)
                    .map(|p| {
                        ipv4_validated += usize::from(check_parsed(&p));
                        (p.data().to_vec(), p.offload())
                    })
                    .unzip()
            })
            .unwrap_or_default();
        by_gate.push(frames);
        offload_by_gate.push(offloads);
    }
    let drops = *out.drops();
    Emitted {
        by_gate,
        offload_by_gate,
        drops,
        generated,
        consumed,
        ipv4_validated,
    }
}

/// Feed `frames` to `elem` on `input` at time `now` in one batch per [`crate::BURST`] frames;
/// return what came out. Panics (it is a test helper) if the element broke conservation:
/// `in + generated == out + dropped + consumed + change in held`.
///
/// # Panics
/// If the pool cannot hold the frames, or packets were lost or invented.
pub fn run(
    elem: &mut dyn Element,
    pool: PacketPool,
    now: Instant,
    input: u16,
    frames: &[&[u8]],
) -> Emitted {
    let pkts = frames
        .iter()
        .map(|f| {
            let mut p = pool.alloc().expect("test pool has room");
            assert!(p.extend_from_slice(f), "test frame fits the pool's buffers");
            p
        })
        .collect();
    run_packets(elem, pool, now, input, pkts)
}

/// As [`run`] with packets already in buffers (e.g. with [`crate::Offload`] metadata, see
/// [`to_gso`]).
///
/// # Panics
/// As [`run`].
pub fn run_packets(
    elem: &mut dyn Element,
    pool: PacketPool,
    now: Instant,
    input: u16,
    pkts: Vec<PacketBuf>,
) -> Emitted {
    let mut out = Outputs::for_element(elem);
    let mut ctx = Context::new(now, pool);
    let held_before = elem.held();
    let n = pkts.len();
    let mut it = pkts.into_iter().peekable();
    while it.peek().is_some() {
        let mut batch = Batch::new();
        for p in it.by_ref().take(crate::BURST) {
            batch.push(p).expect("chunk fits a batch");
        }
        elem.process(&mut ctx, InputGate(input), batch, &mut out);
    }
    let generated = ctx.take_generated();
    let e = collect(&mut out, generated);
    assert_eq!(
        n as u64 + generated + held_before,
        e.total() as u64 + e.drops.total() + e.consumed + elem.held(),
        "conservation: in + generated == out + dropped + consumed + change in held"
    );
    e
}

/// Run `elem.tick` at `now` and return what came out.
pub fn tick(elem: &mut dyn Element, pool: PacketPool, now: Instant) -> Emitted {
    let mut out = Outputs::for_element(elem);
    let mut ctx = Context::new(now, pool);
    let held_before = elem.held();
    elem.tick(&mut ctx, &mut out);
    let generated = ctx.take_generated();
    let e = collect(&mut out, generated);
    assert_eq!(
        generated + held_before,
        e.total() as u64 + e.drops.total() + e.consumed + elem.held(),
        "conservation in tick: generated == out + dropped + consumed + change in held"
    );
    e
}

/// The pool the function tests use: 512 buffers of 2048 bytes.
pub fn pool() -> PacketPool {
    PacketPool::new(512, 2048)
}

/// Feed one `frame` to `elem` on `gate` at `now`, in buffers of a fresh [`pool`].
///
/// # Panics
/// As [`run`].
pub fn send(elem: &mut dyn Element, now: Instant, gate: u16, frame: &[u8]) -> Emitted {
    run(elem, pool(), now, gate, &[frame])
}

/// As [`send`] with buffers from `pool`.
///
/// # Panics
/// As [`run`].
pub fn send_in(
    elem: &mut dyn Element,
    pool: PacketPool,
    now: Instant,
    gate: u16,
    frame: &[u8],
) -> Emitted {
    run(elem, pool, now, gate, &[frame])
}

/// The value of the element's counter `name` ([`Element::counters`]).
///
/// # Panics
/// If the element has no counter of that name.
pub fn counter(elem: &dyn Element, name: &str) -> u64 {
    let mut v = None;
    elem.counters(&mut |k, x| {
        if k == name {
            v = Some(x);
        }
    });
    v.unwrap_or_else(|| panic!("{} has no counter {name}", elem.kind()))
}

/// `n` seconds after [`Instant::ZERO`].
pub fn secs(n: u64) -> Instant {
    Instant::from_secs(n)
}

/// `n` milliseconds after [`Instant::ZERO`].
pub fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// A seeded xorshift64 generator for reproducible random tests (Marsaglia 2003). The seed
/// must not be 0.
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// A random element of the non-empty `xs`.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// A MAC address `02:00:00:00:00:n` (locally administered unicast).
pub const fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// Broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// An untagged Ethernet frame of at least 60 bytes (minimum size without FCS).
pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// An 802.1Q-tagged Ethernet frame (VID `vid`, PCP 0), at least 64 bytes.
pub fn eth_tagged(dst: [u8; 6], src: [u8; 6], vid: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(68);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 64 {
        f.resize(64, 0);
    }
    f
}

// ------------------------------------------------------------------ IPv4 / ARP builders

/// IPv4 header fields for [`ipv4_with`] besides addresses, protocol and payload.
///
/// `Default` is TTL 64, identification 1, TOS 0, DF and MF clear, offset 0, no options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Fields {
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// Type of service / DSCP+ECN byte.
    pub tos: u8,
    /// Don't Fragment flag.
    pub df: bool,
    /// More Fragments flag.
    pub mf: bool,
    /// Fragment offset in 8-byte units (13 bits).
    pub frag_offset: u16,
    /// Raw option bytes; padded with End-of-Option-List (0) to a multiple of 4, at most 40.
    pub options: Vec<u8>,
}

impl Default for Ipv4Fields {
    fn default() -> Self {
        Ipv4Fields {
            ttl: 64,
            id: 1,
            tos: 0,
            df: false,
            mf: false,
            frag_offset: 0,
            options: Vec::new(),
        }
    }
}

/// An IPv4 packet (no Ethernet header) with the header fields of `h`, a correct header
/// checksum and `l4` as its payload.
///
/// # Panics
/// If the options exceed 40 bytes or the packet 65535 bytes (test input errors).
pub fn ipv4_with(src: [u8; 4], dst: [u8; 4], proto: u8, h: &Ipv4Fields, l4: &[u8]) -> Vec<u8> {
    let opt_len = h.options.len().div_ceil(4) * 4;
    assert!(opt_len <= 40, "IPv4 options are at most 40 bytes");
    let hlen = 20 + opt_len;
    let total = u16::try_from(hlen + l4.len()).expect("IPv4 packet fits 65535 bytes");
    let mut p = Vec::with_capacity(usize::from(total));
    p.push(0x40 | (hlen / 4) as u8);
    p.push(h.tos);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&h.id.to_be_bytes());
    let flags = (u16::from(h.df) << 14) | (u16::from(h.mf) << 13) | (h.frag_offset & 0x1fff);
    p.extend_from_slice(&flags.to_be_bytes());
    p.push(h.ttl);
    p.push(proto);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&h.options);
    p.resize(hlen, 0);
    let c = crate::wire::checksum::checksum(&p[..hlen]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(l4);
    p
}

/// An IPv4 packet with a 20-byte header (identification 1, DF clear, not a fragment), a
/// correct header checksum and `l4` as its payload.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    ipv4_with(
        src,
        dst,
        proto,
        &Ipv4Fields {
            ttl,
            ..Ipv4Fields::default()
        },
        l4,
    )
}

/// Recompute the header checksum of the IPv4 packet `ip` (after a test changed a field).
pub fn ipv4_fix_checksum(ip: &mut [u8]) {
    let hlen = usize::from(ip[0] & 0x0f) * 4;
    ip[10..12].copy_from_slice(&[0, 0]);
    let c = crate::wire::checksum::checksum(&ip[..hlen]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// TCP/UDP checksum of `segment` (its checksum field zeroed) for the IPv4 pseudo header.
fn l4_checksum(src: [u8; 4], dst: [u8; 4], proto: u8, segment: &[u8]) -> u16 {
    use crate::wire::checksum::{fold, pseudo_header_v4, sum};
    let len = u16::try_from(segment.len()).expect("segment fits 65535 bytes");
    let ps = pseudo_header_v4(u32::from_be_bytes(src), u32::from_be_bytes(dst), proto, len);
    !fold(sum(segment, ps))
}

/// True when the TCP or UDP `segment` carried from `src` to `dst` has a correct checksum
/// (a UDP checksum of 0 means "none" and is accepted).
pub fn l4_checksum_ok(src: [u8; 4], dst: [u8; 4], proto: u8, segment: &[u8]) -> bool {
    use crate::wire::checksum::{fold, pseudo_header_v4, sum};
    if proto == 17 && segment.len() >= 8 && segment[6..8] == [0, 0] {
        return true;
    }
    let Ok(len) = u16::try_from(segment.len()) else {
        return false;
    };
    let ps = pseudo_header_v4(u32::from_be_bytes(src), u32::from_be_bytes(dst), proto, len);
    fold(sum(segment, ps)) == 0xffff
}

/// A UDP datagram (header + `payload`, no IP header) with a correct checksum over the IPv4
/// pseudo header for `src` → `dst`.
pub fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("UDP datagram fits 65535 bytes");
    let mut s = Vec::with_capacity(usize::from(len));
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let c = match l4_checksum(src, dst, 17, &s) {
        0 => 0xffff, // RFC 768: a computed zero is sent as all ones
        c => c,
    };
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

/// TCP flag bits for [`tcp`] (the wire layer's).
pub use crate::wire::tcp::flags as tcp_flags;

/// A TCP segment (20-byte header, no options, window 65535, + `payload`) with a correct
/// checksum over the IPv4 pseudo header for `src` → `dst`.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut s = Vec::with_capacity(20 + payload.len());
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&ack.to_be_bytes());
    s.push(5 << 4);
    s.push(flags);
    s.extend_from_slice(&u16::MAX.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]);
    s.extend_from_slice(payload);
    let c = l4_checksum(src, dst, 6, &s);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// Turn Ethernet/IPv4/TCP-or-UDP `frame` (complete checksums) into what an offloading TAP
/// hands over: the transport checksum field holds the folded pseudo-header sum
/// (NEEDS_CSUM) and, with `gso_size` > 0, the frame is a GSO super-frame of that segment
/// size. Returns the packet in a buffer of `pool` with its offload metadata.
///
/// # Panics
/// If the frame is not untagged IPv4 TCP/UDP or does not fit the pool.
pub fn to_gso(pool: PacketPool, frame: &[u8], gso_size: u16) -> PacketBuf {
    use crate::wire::checksum::{fold, pseudo_header_v4};
    use crate::wire::gso;
    let mut f = frame.to_vec();
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    f.truncate(14 + total);
    let l4 = 14 + ihl;
    let proto = f[23];
    let (co, gso_type) = match proto {
        6 => (16, gso::GSO_TCPV4),
        17 => (6, gso::GSO_UDP_L4),
        _ => panic!("to_gso: TCP or UDP only"),
    };
    let src = u32::from_be_bytes([f[26], f[27], f[28], f[29]]);
    let dst = u32::from_be_bytes([f[30], f[31], f[32], f[33]]);
    let ps = fold(pseudo_header_v4(src, dst, proto, (f.len() - l4) as u16));
    f[l4 + co..l4 + co + 2].copy_from_slice(&ps.to_be_bytes());
    let o = crate::Offload {
        flags: gso::F_NEEDS_CSUM,
        gso_type: if gso_size > 0 {
            gso_type
        } else {
            gso::GSO_NONE
        },
        gso_size,
        csum_start: l4 as u16,
        csum_offset: co as u16,
    };
    let mut p = pool.alloc().expect("test pool has room");
    assert!(
        p.extend_from_slice(&f),
        "test frame fits the pool's buffers"
    );
    assert!(p.set_offload(Some(o)));
    p
}

/// A TCP SYN (no payload, ack 0) with a correct checksum.
pub fn tcp_syn(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    tcp(src, dst, sport, dport, seq, 0, tcp_flags::SYN, &[])
}

/// An ICMP message: `typ`, `code`, the 4 "rest of header" bytes, then `body`, with a
/// correct ICMP checksum.
pub fn icmp(typ: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + body.len());
    m.extend_from_slice(&[typ, code, 0, 0]);
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = crate::wire::checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An ICMP Echo Request (type 8) with identifier `id`, sequence `seq` and `data`.
pub fn icmp_echo_request(id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let [a, b] = id.to_be_bytes();
    let [c, d] = seq.to_be_bytes();
    icmp(8, 0, [a, b, c, d], data)
}

/// An Ethernet frame carrying the IPv4 packet `ip`, padded to 60 bytes.
pub fn eth_ipv4(dst_mac: [u8; 6], src_mac: [u8; 6], ip: &[u8]) -> Vec<u8> {
    eth(dst_mac, src_mac, 0x0800, ip)
}

/// An Ethernet/IPv4 ARP frame (60 bytes) with the given Ethernet destination and fields.
pub fn arp(
    eth_dst: [u8; 6],
    op: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
) -> Vec<u8> {
    let mut a = Vec::with_capacity(28);
    a.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4]);
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa);
    a.extend_from_slice(&tha);
    a.extend_from_slice(&tpa);
    eth(eth_dst, sha, 0x0806, &a)
}

/// A broadcast ARP request from `sha`/`spa` asking for `tpa`.
pub fn arp_request(sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    arp(BROADCAST, 1, sha, spa, [0; 6], tpa)
}

/// A unicast ARP reply from `sha`/`spa` to `tha`/`tpa`.
pub fn arp_reply(sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    arp(tha, 2, sha, spa, tha, tpa)
}

// ------------------------------------------------------------------ parsers for assertions
//
// These panic on frames that are not what the test expects: that is a test failure.

/// Destination MAC of `frame`.
pub fn eth_dst_of(frame: &[u8]) -> [u8; 6] {
    crate::wire::eth_dst(frame)
}

/// Source MAC of `frame`.
pub fn eth_src_of(frame: &[u8]) -> [u8; 6] {
    crate::wire::eth_src(frame)
}

/// EtherType of `frame`.
pub fn ethertype_of(frame: &[u8]) -> u16 {
    crate::wire::eth_type(frame)
}

/// The checked IPv4 view ([`Ipv4`]) of the packet in an untagged Ethernet `frame`.
///
/// # Panics
/// If the frame is not IPv4 or its header lengths do not fit the frame.
pub fn ip_view(frame: &[u8]) -> Ipv4<&[u8]> {
    let eth = Ethernet::new_checked(frame).expect("frame holds an Ethernet header");
    assert_eq!(eth.ethertype(), 0x0800, "frame is IPv4");
    let l3 = eth.payload_offset();
    Ipv4::new_checked(&frame[l3..]).expect("frame holds a well-formed IPv4 header")
}

/// The IPv4 packet in an untagged Ethernet `frame`, up to its total length (padding cut).
///
/// # Panics
/// As [`ip_view`].
pub fn ip_of(frame: &[u8]) -> &[u8] {
    let total = ip_view(frame).total_len();
    &frame[14..14 + total]
}

/// IPv4 header length in bytes.
pub fn ip_hlen(frame: &[u8]) -> usize {
    ip_view(frame).header_len()
}

/// IPv4 TTL.
pub fn ip_ttl(frame: &[u8]) -> u8 {
    ip_view(frame).ttl()
}

/// IPv4 protocol.
pub fn ip_proto_of(frame: &[u8]) -> u8 {
    ip_view(frame).protocol()
}

/// IPv4 source address.
pub fn ip_src(frame: &[u8]) -> [u8; 4] {
    ip_view(frame).src().to_be_bytes()
}

/// IPv4 destination address.
pub fn ip_dst(frame: &[u8]) -> [u8; 4] {
    ip_view(frame).dst().to_be_bytes()
}

/// IPv4 identification.
pub fn ip_id(frame: &[u8]) -> u16 {
    ip_view(frame).ident()
}

/// IPv4 flags and fragment offset: `(df, mf, offset in bytes)`.
pub fn ip_frag(frame: &[u8]) -> (bool, bool, usize) {
    let ip = ip_view(frame);
    (
        ip.dont_frag(),
        ip.more_frags(),
        usize::from(ip.frag_offset()) * 8,
    )
}

/// True when the IPv4 header checksum of `frame` is correct.
pub fn ip_checksum_ok(frame: &[u8]) -> bool {
    ip_view(frame).verify_checksum()
}

/// The IPv4 payload (after the header, options included) of `frame`.
pub fn l4_of(frame: &[u8]) -> &[u8] {
    let (h, t) = {
        let ip = ip_view(frame);
        (ip.header_len(), ip.total_len())
    };
    &frame[14 + h..14 + t]
}

/// The ICMP message of `frame`.
///
/// # Panics
/// If the packet is not ICMP.
pub fn icmp_of(frame: &[u8]) -> &[u8] {
    assert_eq!(ip_proto_of(frame), 1, "packet is ICMP");
    l4_of(frame)
}

/// The 28-byte ARP payload of `frame`.
///
/// # Panics
/// If the frame is not ARP.
pub fn arp_of(frame: &[u8]) -> &[u8] {
    assert_eq!(ethertype_of(frame), 0x0806, "frame is ARP");
    &frame[14..42]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::verify;

    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];

    #[test]
    fn ipv4_builder_has_valid_checksum_padded_options_and_parsers_read_it_back() {
        let h = Ipv4Fields {
            ttl: 9,
            id: 0xbeef,
            df: true,
            frag_offset: 3,
            options: vec![0x88, 4, 0x12, 0x34, 1],
            ..Ipv4Fields::default()
        };
        let p = ipv4_with(A, B, 17, &h, b"xyz");
        assert_eq!(p.len(), 28 + 3);
        assert!(verify(&p[..28]));
        let f = eth_ipv4(mac(1), mac(2), &p);
        assert_eq!(f.len(), 60);
        assert_eq!(ip_of(&f), &p[..]);
        assert_eq!((ip_ttl(&f), ip_proto_of(&f), ip_id(&f)), (9, 17, 0xbeef));
        assert_eq!((ip_src(&f), ip_dst(&f), ip_hlen(&f)), (A, B, 28));
        assert_eq!(ip_frag(&f), (true, false, 24));
        assert!(ip_checksum_ok(&f));
        assert_eq!(l4_of(&f), b"xyz");
    }

    #[test]
    fn udp_tcp_and_icmp_builders_have_valid_checksums() {
        let u = udp(A, B, 1000, 53, b"query");
        assert_eq!(u.len(), 13);
        assert!(l4_checksum_ok(A, B, 17, &u));
        assert!(!l4_checksum_ok(A, [10, 0, 0, 3], 17, &u));
        let t = tcp_syn(A, B, 40000, 80, 7);
        assert_eq!(t[13], tcp_flags::SYN);
        assert!(l4_checksum_ok(A, B, 6, &t));
        let e = icmp_echo_request(0x1234, 9, b"ping");
        assert_eq!(&e[..2], &[8, 0]);
        assert_eq!(&e[4..8], &[0x12, 0x34, 0, 9]);
        assert!(verify(&e));
    }

    #[test]
    fn arp_builders_lay_out_rfc826_fields() {
        let r = arp_request(mac(1), A, B);
        assert_eq!(r.len(), 60);
        assert_eq!(eth_dst_of(&r), BROADCAST);
        let a = arp_of(&r);
        assert_eq!(&a[6..8], &[0, 1]);
        assert_eq!(&a[24..28], &B);
        let p = arp_reply(mac(2), B, mac(1), A);
        assert_eq!(eth_dst_of(&p), mac(1));
        assert_eq!(eth_src_of(&p), mac(2));
        assert_eq!(&arp_of(&p)[6..8], &[0, 2]);
    }
}
