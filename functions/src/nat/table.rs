//! NAT44 state: mappings, sessions, inside hosts and external port allocation, with O(1)
//! expiry. No packets here: [`super::in2out`] and [`super::out2in`] ask this table and
//! rewrite headers.
//!
//! # Layout
//! * A **mapping** is one internal endpoint `(proto, ip, port)` bound to one external
//!   endpoint (RFC 4787 REQ-1 endpoint-independent mapping). `in2out` and `out2in` hash maps
//!   point at it in both directions, so an external endpoint names exactly one internal one
//!   (REQ-3, no port overloading). Mappings live in a slab (`Vec<Mapping>` + free list).
//! * A **session** is one remote endpoint a mapping has sent to: it carries the filtering
//!   evidence (REQ-8), the TCP state (RFC 5382 REQ-2) and the timer. Sessions live in a slab
//!   of `u32`-indexed entries that are threaded on two intrusive doubly linked lists: the LRU
//!   list of their timeout class and their mapping's list. A mapping lives while it has
//!   sessions (or forever if static).
//! * Sessions are found by their flow `(proto; inside ip, port; remote ip, port)` in one
//!   hash map per protocol, so an established outbound packet costs one probe (the mapping
//!   is the session's); inbound packets find the mapping through `out2in`, then the session
//!   by the same key.
//! * Expiry is O(1) per packet: each timeout class has one list, and every refresh sets
//!   `expires = now + timeout(class)`. The session moves to its list's tail only if its last
//!   move is at least `min(1 s, timeout / 8)` old (lazy refresh, as VPP `nat44-ed` does
//!   once a second): each list is sorted by the expiry a session had when it last moved,
//!   which is at most that much below its real `expires`. [`SessionTable::expire`] pops
//!   heads while `expires <= now`, a bounded number per call, so a session is reaped at
//!   most that lag after it expired. Exact-session lookups (APDF, TCP state) and mapping
//!   lookups check `expires` themselves, so they never depend on how far the reaper has got
//!   (REQ-11), and a lazy refresh is invisible to packets (REQ-6).
//!   One approximation: a mapping's and an address entry's `expires` are the *latest* of
//!   their sessions', so after a TCP session drops from the established to the transitory
//!   class, ADF/EIF may admit its remote until that session is reaped (the per-batch reaper
//!   normally does that before the next packet is looked up). An address entry's `expires`
//!   is updated when a session moves; when it has passed, ADF walks the mapping's sessions
//!   for the exact answer.
//! * Address-dependent filtering needs "has this mapping sent to this address (any port)":
//!   a `(mapping, remote ip) -> {count, latest expiry}` map answers it in O(1).
//! * Ports: one 65 536-bit bitmap (8 KiB) per external address and protocol, plus a count of
//!   free ports in the configured range to fail fast when exhausted.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::Instant;

use super::{Filtering, NatProto, NatTimeouts, SessionState, SessionView};

/// Largest span (highest − lowest + 1) of external addresses indexed by a direct table
/// (8 KiB at most) rather than a binary search.
const EXT_DENSE_SPAN: u32 = 4096;

/// "No entry" in the intrusive lists.
pub(super) const NIL: u32 = u32::MAX;

/// Timeout class: one LRU list each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Class {
    Udp = 0,
    TcpEstablished = 1,
    TcpTransitory = 2,
    Icmp = 3,
}

/// TCP state bits of a session (RFC 6146-style tracking, RFC 7857 §3.2).
pub(super) mod tcp_state {
    pub const SYN_OUT: u8 = 1;
    pub const SYN_IN: u8 = 2;
    pub const FIN_OUT: u8 = 4;
    pub const FIN_IN: u8 = 8;
    pub const RST: u8 = 16;
}

/// TCP header flag bits.
pub(super) use nfv_dataplane::wire::tcp::flags as tcp_flag;

/// Why no mapping could be made (RFC 5508 REQ-8: the caller answers with ICMP code 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AllocError {
    /// `max_sessions` reached.
    TableFull,
    /// `max_sessions_per_host` reached for this inside host.
    HostQuota,
    /// No free port (in range) on the host's external address for this protocol.
    PortsExhausted,
}

/// One remote endpoint of a mapping. 40 bytes (see the module doc of [`super`]).
#[derive(Clone, Debug)]
pub(super) struct Session {
    /// Class LRU links; `next` is the free-list link of a free slot.
    prev: u32,
    next: u32,
    /// Links in the mapping's session list.
    m_prev: u32,
    m_next: u32,
    /// Owning mapping, `NIL` for a free slot.
    pub mapping: u32,
    pub remote_ip: u32,
    pub remote_port: u16,
    class: Class,
    /// [`tcp_state`] bits.
    pub tcp: u8,
    /// Nanoseconds between `expires` and the session's sort key in its class list (the
    /// expiry it had when last moved to the tail): refreshes within [`lazy_refresh`] of the
    /// last move only update `expires`. Fits the padding before `expires`.
    lag: u32,
    pub expires: Instant,
}

/// Key of the per-protocol session maps: one established packet is one probe, in both
/// directions (outbound knows the 4-tuple; inbound knows it once the mapping is found).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FlowKey {
    int_ip: u32,
    remote_ip: u32,
    int_port: u16,
    remote_port: u16,
}

impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Two words instead of four: half the hashing rounds.
        h.write_u64(u64::from(self.int_ip) << 32 | u64::from(self.remote_ip));
        h.write_u32(u32::from(self.int_port) << 16 | u32::from(self.remote_port));
    }
}

/// How long after its last move in the LRU list a refreshed session stays where it is:
/// `min(1 s, timeout / 8)`. Moving on every packet costs two random neighbour writes per
/// packet; this way a busy session moves at most once per second. The list stays sorted by
/// each session's key (its expiry at its last move), which is at most this much below its
/// real expiry, so the reaper (which stops at the first head that has not expired) frees a
/// session at most this late. Lookups check the real expiry, so no packet sees the
/// difference (REQ-6 stays exact).
fn lazy_refresh(timeout: Duration) -> u64 {
    (timeout.as_nanos() / 8).min(1_000_000_000) as u64
}

/// One internal endpoint bound to one external endpoint.
#[derive(Clone, Debug)]
pub(super) struct Mapping {
    pub int_ip: u32,
    pub ext_ip: u32,
    /// Latest `expires` of any of its sessions (an upper bound: a TCP session moving to the
    /// transitory class may end earlier). A non-static mapping with `expires <= now` has
    /// only expired sessions.
    pub expires: Instant,
    /// First session, or the free-list link of a free slot.
    head: u32,
    pub sessions: u32,
    pub int_port: u16,
    pub ext_port: u16,
    pub ext_idx: u16,
    pub proto: NatProto,
    pub is_static: bool,
    /// MAC of the inside neighbour (router) that last sent for this endpoint.
    pub neighbour: Option<[u8; 6]>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Host {
    ext_idx: u16,
    mappings: u32,
    sessions: u32,
}

#[derive(Clone, Copy, Debug)]
struct AddrRef {
    count: u32,
    expires: Instant,
}

/// Allocation bitmap of one (external address, protocol): bit `p` set = port `p` in use.
#[derive(Debug)]
struct PortSet {
    bits: Box<[u64; 1024]>,
    free_in_range: u32,
}

impl PortSet {
    fn new(lo: u16, hi: u16) -> PortSet {
        PortSet {
            bits: Box::new([0; 1024]),
            free_in_range: u32::from(hi) - u32::from(lo) + 1,
        }
    }

    fn used(&self, p: u16) -> bool {
        self.bits[usize::from(p) / 64] & (1 << (p % 64)) != 0
    }

    fn set(&mut self, p: u16, used: bool, lo: u16, hi: u16) {
        let (w, b) = (usize::from(p) / 64, 1u64 << (p % 64));
        if self.used(p) == used {
            return;
        }
        if used {
            self.bits[w] |= b;
        } else {
            self.bits[w] &= !b;
        }
        if (lo..=hi).contains(&p) {
            if used {
                self.free_in_range -= 1;
            } else {
                self.free_in_range += 1;
            }
        }
    }

    /// First free port in `lo..=hi` at or after `start` (wrapping), with the parity of
    /// `parity` if given. Scans 64 ports per step: at most 1025 word reads.
    fn find(&self, lo: u16, hi: u16, start: u16, parity: Option<u16>) -> Option<u16> {
        let pm: u64 = match parity.map(|p| p & 1) {
            None => !0,
            Some(0) => 0x5555_5555_5555_5555,
            Some(_) => 0xaaaa_aaaa_aaaa_aaaa,
        };
        let (lo, hi) = (u32::from(lo), u32::from(hi));
        let start = u32::from(start).clamp(lo, hi);
        let (wlo, whi, sw) = (lo / 64, hi / 64, start / 64);
        let n = whi - wlo + 1;
        for k in 0..=n {
            let w = wlo + (sw - wlo + k) % n;
            let base = w * 64;
            let lo_bit = lo.saturating_sub(base);
            let hi_bit = (hi - base).min(63);
            let range = (!0u64 << lo_bit) & (!0u64 >> (63 - hi_bit));
            let mut m = !self.bits[w as usize] & pm & range;
            if k == 0 {
                m &= !0u64 << (start % 64);
            }
            if m != 0 {
                return u16::try_from(base + m.trailing_zeros()).ok();
            }
        }
        None
    }
}

/// Counters kept by the table (reported by [`super::Nat44`]).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TableCounters {
    pub sessions_created: u64,
    pub sessions_expired: u64,
    pub mappings_created: u64,
    pub port_alloc_failed: u64,
    pub host_quota_exceeded: u64,
    pub table_full: u64,
}

/// An endpoint `(proto, ip, port)`: the key of `in2out` and `out2in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct EpKey {
    ip: u32,
    port: u16,
    proto: NatProto,
}

impl Hash for EpKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        // One word instead of three fields.
        h.write_u64(
            u64::from(self.ip) << 32 | u64::from(self.port) << 8 | proto_idx(self.proto) as u64,
        );
    }
}

#[inline]
fn ep(proto: NatProto, ip: u32, port: u16) -> EpKey {
    EpKey { ip, port, proto }
}

/// Key of `by_addr`: mapping and remote address in one word (one hashing round).
#[inline]
fn addr_key(m: u32, ip: u32) -> u64 {
    u64::from(m) << 32 | u64::from(ip)
}

/// Mappings, sessions, hosts and ports. See the module docs.
#[derive(Debug)]
pub(super) struct SessionTable {
    sess: Vec<Session>,
    sess_free: u32,
    maps: Vec<Mapping>,
    map_free: u32,
    in2out: HashMap<EpKey, u32, RandomState>,
    out2in: HashMap<EpKey, u32, RandomState>,
    /// Sessions by [`FlowKey`], one map per [`proto_idx`].
    flows: [HashMap<FlowKey, u32, RandomState>; 3],
    by_addr: HashMap<u64, AddrRef, RandomState>,
    hosts: HashMap<u32, Host, RandomState>,
    heads: [u32; 4],
    tails: [u32; 4],
    timeouts: [Duration; 4],
    /// [`lazy_refresh`] of each class, in nanoseconds.
    lazy: [u64; 4],
    ext: Vec<u32>,
    /// `(address, index in ext)` sorted by address, and the smallest and largest address:
    /// [`SessionTable::ext_index`] runs on every packet (is the destination ours?), and most
    /// destinations are rejected by the range check alone.
    ext_sorted: Vec<(u32, u16)>,
    ext_min: u32,
    ext_max: u32,
    /// When the pool spans at most [`EXT_DENSE_SPAN`] addresses (the usual block):
    /// `ext_dense[ip - ext_min]` is the index of `ip` in `ext`, or `u16::MAX`. Empty
    /// otherwise (binary search in `ext_sorted`).
    ext_dense: Vec<u16>,
    ports: Vec<[PortSet; 3]>,
    lo: u16,
    hi: u16,
    filtering: Filtering,
    max_sessions: u32,
    max_per_host: u32,
    live: u32,
    pub c: TableCounters,
}

fn proto_idx(p: NatProto) -> usize {
    match p {
        NatProto::Tcp => 0,
        NatProto::Udp => 1,
        NatProto::Icmp => 2,
    }
}

/// A fixed (not per-process) hash of an inside address, so that the paired external address
/// of a host is the same on every run (REQ-2, REQ-11).
fn host_hash(ip: u32) -> u32 {
    let x = ip.wrapping_mul(0x9e37_79b1);
    x ^ (x >> 16)
}

impl SessionTable {
    pub fn new(
        ext: &[u32],
        port_range: (u16, u16),
        filtering: Filtering,
        t: &NatTimeouts,
        max_sessions: u32,
        max_per_host: u32,
    ) -> SessionTable {
        let (lo, hi) = port_range;
        SessionTable {
            sess: Vec::new(),
            sess_free: NIL,
            maps: Vec::new(),
            map_free: NIL,
            in2out: HashMap::with_hasher(RandomState::new()),
            out2in: HashMap::with_hasher(RandomState::new()),
            flows: std::array::from_fn(|_| HashMap::with_hasher(RandomState::new())),
            by_addr: HashMap::with_hasher(RandomState::new()),
            hosts: HashMap::with_hasher(RandomState::new()),
            heads: [NIL; 4],
            tails: [NIL; 4],
            timeouts: [t.udp, t.tcp_established, t.tcp_transitory, t.icmp],
            lazy: [t.udp, t.tcp_established, t.tcp_transitory, t.icmp].map(lazy_refresh),
            ext: ext.to_vec(),
            ext_sorted: {
                let mut v: Vec<(u32, u16)> = ext
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &a)| Some((a, u16::try_from(i).ok()?)))
                    .collect();
                v.sort_unstable();
                v.dedup_by_key(|e| e.0); // a repeated address keeps its first index
                v
            },
            ext_min: ext.iter().copied().min().unwrap_or(u32::MAX),
            ext_max: ext.iter().copied().max().unwrap_or(0),
            ext_dense: {
                let lo = ext.iter().copied().min().unwrap_or(0);
                let span = ext
                    .iter()
                    .copied()
                    .max()
                    .map_or(0, |hi| u64::from(hi - lo) + 1);
                let mut d = Vec::new();
                if span <= u64::from(EXT_DENSE_SPAN) {
                    d = vec![u16::MAX; span as usize];
                    for (i, &a) in ext.iter().enumerate().rev() {
                        // In reverse: a repeated address keeps its first index.
                        d[(a - lo) as usize] = u16::try_from(i).unwrap_or(u16::MAX);
                    }
                }
                d
            },
            ports: ext
                .iter()
                .map(|_| {
                    [
                        PortSet::new(lo, hi),
                        PortSet::new(lo, hi),
                        PortSet::new(lo, hi),
                    ]
                })
                .collect(),
            lo,
            hi,
            filtering,
            max_sessions,
            max_per_host,
            live: 0,
            c: TableCounters::default(),
        }
    }

    /// Live sessions (reaped or not yet).
    pub fn session_count(&self) -> u32 {
        self.live
    }

    /// Mappings in the table (static ones included).
    pub fn mapping_count(&self) -> usize {
        self.in2out.len()
    }

    /// Inside hosts with at least one mapping.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    pub fn mapping(&self, m: u32) -> &Mapping {
        &self.maps[m as usize]
    }

    /// Index of `ip` among the external pool addresses.
    #[inline]
    pub fn ext_index(&self, ip: u32) -> Option<u16> {
        if ip < self.ext_min || ip > self.ext_max {
            return None;
        }
        if !self.ext_dense.is_empty() {
            let i = *self.ext_dense.get((ip - self.ext_min) as usize)?;
            return (i != u16::MAX).then_some(i);
        }
        self.ext_sorted
            .binary_search_by_key(&ip, |&(a, _)| a)
            .ok()
            .map(|i| self.ext_sorted[i].1)
    }

    /// The external address of inside host `ip` (its paired address if it has mappings,
    /// else the one it would get).
    pub fn host_ext(&self, ip: u32) -> u32 {
        let i = self
            .hosts
            .get(&ip)
            .map_or(host_hash(ip) as usize % self.ext.len(), |h| {
                usize::from(h.ext_idx)
            });
        self.ext[i]
    }

    fn class_of(proto: NatProto, tcp: u8) -> Class {
        use tcp_state::*;
        match proto {
            NatProto::Udp => Class::Udp,
            NatProto::Icmp => Class::Icmp,
            NatProto::Tcp => {
                let both_syn = tcp & (SYN_IN | SYN_OUT) == SYN_IN | SYN_OUT;
                let both_fin = tcp & (FIN_IN | FIN_OUT) == FIN_IN | FIN_OUT;
                // RFC 5382 REQ-5: "established" until both FINs or a RST (RFC 6146 §3.5.2
                // keeps a half-closed connection on the established timer).
                if both_syn && !both_fin && tcp & RST == 0 {
                    Class::TcpEstablished
                } else {
                    Class::TcpTransitory
                }
            }
        }
    }

    // ------------------------------------------------------------ lists

    fn lru_push_tail(&mut self, s: u32) {
        let c = self.sess[s as usize].class as usize;
        let t = self.tails[c];
        let e = &mut self.sess[s as usize];
        e.prev = t;
        e.next = NIL;
        if t == NIL {
            self.heads[c] = s;
        } else {
            self.sess[t as usize].next = s;
        }
        self.tails[c] = s;
    }

    fn lru_unlink(&mut self, s: u32) {
        let e = &self.sess[s as usize];
        let (p, n, c) = (e.prev, e.next, e.class as usize);
        if p == NIL {
            self.heads[c] = n;
        } else {
            self.sess[p as usize].next = n;
        }
        if n == NIL {
            self.tails[c] = p;
        } else {
            self.sess[n as usize].prev = p;
        }
    }

    fn map_list_unlink(&mut self, s: u32) {
        let e = &self.sess[s as usize];
        let (p, n, m) = (e.m_prev, e.m_next, e.mapping);
        if p == NIL {
            self.maps[m as usize].head = n;
        } else {
            self.sess[p as usize].m_next = n;
        }
        if n != NIL {
            self.sess[n as usize].m_prev = p;
        }
    }

    /// Set the session's expiry from its class; move it to its list's tail unless it moved
    /// less than [`lazy_refresh`] ago (`force`: it must move, e.g. it changed class).
    #[inline]
    fn touch(&mut self, s: u32, now: Instant, force: bool) {
        let e = &mut self.sess[s as usize];
        let c = e.class as usize;
        let exp = now + self.timeouts[c];
        let key = e.expires.as_nanos().saturating_sub(u64::from(e.lag));
        let lag = exp.as_nanos().saturating_sub(key);
        let m = e.mapping;
        if !force && lag < self.lazy[c] {
            // Lazy: the list position (and the address entry) stay as they are.
            e.expires = exp;
            e.lag = lag as u32; // < 1 s in nanoseconds
            let mp = &mut self.maps[m as usize];
            mp.expires = mp.expires.max(exp);
            return;
        }
        let ip = e.remote_ip;
        e.expires = exp;
        e.lag = 0;
        self.lru_unlink(s);
        self.lru_push_tail(s);
        let mp = &mut self.maps[m as usize];
        mp.expires = mp.expires.max(exp);
        if let Some(a) = self.by_addr.get_mut(&addr_key(m, ip)) {
            a.expires = a.expires.max(exp);
        }
    }

    /// Has mapping `m` a live session to `remote_ip`? The exact answer behind an address
    /// entry whose `expires` (updated only when a session moves, see [`lazy_refresh`]) has
    /// passed: walks the mapping's sessions, which happens only in the last second of the
    /// address's life or after it expired and before it is reaped.
    fn addr_live(&self, m: u32, remote_ip: u32, now: Instant) -> bool {
        let mut s = self.maps[m as usize].head;
        while s != NIL {
            let e = &self.sess[s as usize];
            if e.remote_ip == remote_ip && e.expires > now {
                return true;
            }
            s = e.m_next;
        }
        false
    }

    fn flow_key(mp: &Mapping, remote_ip: u32, remote_port: u16) -> FlowKey {
        FlowKey {
            int_ip: mp.int_ip,
            remote_ip,
            int_port: mp.int_port,
            remote_port,
        }
    }

    /// The session of mapping `m` with remote `(remote_ip, remote_port)`, expired or not.
    fn session_of(&self, m: u32, remote_ip: u32, remote_port: u16) -> Option<u32> {
        let mp = &self.maps[m as usize];
        self.flows[proto_idx(mp.proto)]
            .get(&Self::flow_key(mp, remote_ip, remote_port))
            .copied()
    }

    // ------------------------------------------------------------ lookups

    /// A non-static mapping whose sessions all expired: reap it now, so the answer never
    /// depends on how far the background reaper has got.
    fn drop_if_dead(&mut self, m: u32, now: Instant) -> Option<u32> {
        let mp = &self.maps[m as usize];
        if !mp.is_static && mp.expires <= now {
            self.reap_mapping(m);
            None
        } else {
            Some(m)
        }
    }

    /// The live mapping of internal endpoint `(proto, ip, port)`.
    pub fn lookup_in(&mut self, now: Instant, proto: NatProto, ip: u32, port: u16) -> Option<u32> {
        let m = *self.in2out.get(&ep(proto, ip, port))?;
        self.drop_if_dead(m, now)
    }

    /// The live mapping of external endpoint `(proto, ip, port)`.
    pub fn lookup_out(&mut self, now: Instant, proto: NatProto, ip: u32, port: u16) -> Option<u32> {
        let m = *self.out2in.get(&ep(proto, ip, port))?;
        self.drop_if_dead(m, now)
    }

    /// Filtering (RFC 4787 REQ-8, RFC 5382 REQ-3): may `remote` send to mapping `m`?
    /// Static forwards are endpoint-independent. `remote_port` is 0 for ICMP.
    pub fn allows(&self, now: Instant, m: u32, remote_ip: u32, remote_port: u16) -> bool {
        let mp = &self.maps[m as usize];
        if mp.is_static {
            return true;
        }
        if mp.expires <= now {
            return false;
        }
        match self.filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => {
                self.by_addr.get(&addr_key(m, remote_ip)).is_some_and(|a| {
                    a.count > 0 && (a.expires > now || self.addr_live(m, remote_ip, now))
                })
            }
            Filtering::AddressAndPortDependent => self
                .session_of(m, remote_ip, remote_port)
                .is_some_and(|s| self.sess[s as usize].expires > now),
        }
    }

    // ------------------------------------------------------------ creation

    /// Register a static forward (permanent mapping; its port is reserved).
    pub fn add_static(
        &mut self,
        proto: NatProto,
        ext_idx: u16,
        ext_port: u16,
        int_ip: u32,
        int_port: u16,
    ) -> bool {
        let ext_ip = self.ext[usize::from(ext_idx)];
        if self.out2in.contains_key(&ep(proto, ext_ip, ext_port))
            || self.in2out.contains_key(&ep(proto, int_ip, int_port))
        {
            return false;
        }
        let (lo, hi) = (self.lo, self.hi);
        self.ports[usize::from(ext_idx)][proto_idx(proto)].set(ext_port, true, lo, hi);
        let m = self.alloc_mapping(Mapping {
            int_ip,
            ext_ip,
            expires: Instant::ZERO,
            head: NIL,
            sessions: 0,
            int_port,
            ext_port,
            ext_idx,
            proto,
            is_static: true,
            neighbour: None,
        });
        self.in2out.insert(ep(proto, int_ip, int_port), m);
        self.out2in.insert(ep(proto, ext_ip, ext_port), m);
        // The forward's address becomes the host's paired address (first forward wins).
        let h = self.hosts.entry(int_ip).or_insert(Host {
            ext_idx,
            ..Host::default()
        });
        h.mappings += 1;
        true
    }

    fn alloc_mapping(&mut self, mp: Mapping) -> u32 {
        if self.map_free != NIL {
            let m = self.map_free;
            self.map_free = self.maps[m as usize].head;
            self.maps[m as usize] = mp;
            m
        } else {
            self.maps.push(mp);
            (self.maps.len() - 1) as u32
        }
    }

    fn check_limits(&mut self, int_ip: u32) -> Result<(), AllocError> {
        if self.live >= self.max_sessions {
            self.c.table_full += 1;
            return Err(AllocError::TableFull);
        }
        if self
            .hosts
            .get(&int_ip)
            .is_some_and(|h| h.sessions >= self.max_per_host)
        {
            self.c.host_quota_exceeded += 1;
            return Err(AllocError::HostQuota);
        }
        Ok(())
    }

    /// A new dynamic mapping for `(proto, int_ip, int_port)`: paired address (REQ-2), port
    /// preservation then parity (REQ-4), never overloaded (REQ-3).
    fn new_mapping(
        &mut self,
        proto: NatProto,
        int_ip: u32,
        int_port: u16,
    ) -> Result<u32, AllocError> {
        self.check_limits(int_ip)?;
        let pi = proto_idx(proto);
        let ext_idx = match self.hosts.get(&int_ip) {
            // Paired pooling: a host with mappings keeps its address, even when that
            // address has no ports left for this protocol.
            Some(h) => usize::from(h.ext_idx),
            // A host's first mapping: its hashed address, or the next one with free ports.
            None => {
                let n = self.ext.len();
                let first = host_hash(int_ip) as usize % n;
                (0..n)
                    .map(|k| (first + k) % n)
                    .find(|&i| self.ports[i][pi].free_in_range > 0)
                    .unwrap_or(first)
            }
        };
        let (lo, hi) = (self.lo, self.hi);
        let ps = &mut self.ports[ext_idx][pi];
        let port = if (lo..=hi).contains(&int_port) && !ps.used(int_port) {
            Some(int_port) // port preservation
        } else if ps.free_in_range == 0 {
            None
        } else {
            ps.find(lo, hi, int_port, Some(int_port))
                .or_else(|| ps.find(lo, hi, int_port, None))
        };
        let Some(ext_port) = port else {
            self.c.port_alloc_failed += 1;
            return Err(AllocError::PortsExhausted);
        };
        ps.set(ext_port, true, lo, hi);
        let ext_ip = self.ext[ext_idx];
        let m = self.alloc_mapping(Mapping {
            int_ip,
            ext_ip,
            expires: Instant::ZERO,
            head: NIL,
            sessions: 0,
            int_port,
            ext_port,
            ext_idx: ext_idx as u16,
            proto,
            is_static: false,
            neighbour: None,
        });
        self.in2out.insert(ep(proto, int_ip, int_port), m);
        self.out2in.insert(ep(proto, ext_ip, ext_port), m);
        let h = self.hosts.entry(int_ip).or_insert(Host {
            ext_idx: ext_idx as u16,
            ..Host::default()
        });
        h.mappings += 1;
        self.c.mappings_created += 1;
        Ok(m)
    }

    fn new_session(&mut self, m: u32, remote_ip: u32, remote_port: u16, class: Class) -> u32 {
        let head = self.maps[m as usize].head;
        let e = Session {
            prev: NIL,
            next: NIL,
            m_prev: NIL,
            m_next: head,
            mapping: m,
            remote_ip,
            remote_port,
            class,
            tcp: 0,
            lag: 0,
            expires: Instant::ZERO,
        };
        let s = if self.sess_free != NIL {
            let s = self.sess_free;
            self.sess_free = self.sess[s as usize].next;
            self.sess[s as usize] = e;
            s
        } else {
            self.sess.push(e);
            (self.sess.len() - 1) as u32
        };
        if head != NIL {
            self.sess[head as usize].m_prev = s;
        }
        let mp = &mut self.maps[m as usize];
        mp.head = s;
        mp.sessions += 1;
        let (int_ip, pi) = (mp.int_ip, proto_idx(mp.proto));
        let key = Self::flow_key(mp, remote_ip, remote_port);
        self.lru_push_tail(s);
        self.flows[pi].insert(key, s);
        self.by_addr
            .entry(addr_key(m, remote_ip))
            .or_insert(AddrRef {
                count: 0,
                expires: Instant::ZERO,
            })
            .count += 1;
        if let Some(h) = self.hosts.get_mut(&int_ip) {
            h.sessions += 1;
        }
        self.live += 1;
        self.c.sessions_created += 1;
        s
    }

    /// An outbound packet from `(proto, int_ip, int_port)` to `(remote_ip, remote_port)`
    /// (port 0 for ICMP): find or make the mapping (EIM, REQ-1) and the session, update the
    /// TCP state with `flags`, refresh the timer (REQ-6: outbound refresh) and remember the
    /// inside neighbour `mac`. Returns the mapping.
    #[allow(clippy::too_many_arguments)]
    pub fn outbound(
        &mut self,
        now: Instant,
        proto: NatProto,
        int_ip: u32,
        int_port: u16,
        remote_ip: u32,
        remote_port: u16,
        flags: u8,
        mac: [u8; 6],
    ) -> Result<u32, AllocError> {
        // Established flows: one probe finds the session, and through it the mapping.
        let key = FlowKey {
            int_ip,
            remote_ip,
            int_port,
            remote_port,
        };
        let hit = match self.flows[proto_idx(proto)].get(&key) {
            Some(&s) => {
                let m = self.sess[s as usize].mapping;
                self.drop_if_dead(m, now).map(|m| (m, s))
            }
            None => None,
        };
        let (m, known) = match hit {
            Some((m, s)) => (m, Some(s)),
            None => {
                let m = match self.lookup_in(now, proto, int_ip, int_port) {
                    Some(m) => m,
                    None => self.new_mapping(proto, int_ip, int_port)?,
                };
                (m, self.session_of(m, remote_ip, remote_port))
            }
        };
        let mut fresh = false;
        let s = match known {
            Some(s) => {
                if self.sess[s as usize].expires <= now {
                    // Expired but not yet reaped: it starts again as a new session.
                    self.c.sessions_expired += 1;
                    self.c.sessions_created += 1;
                    self.sess[s as usize].tcp = 0;
                    fresh = true;
                }
                s
            }
            None => {
                self.check_limits(int_ip)?;
                fresh = true;
                self.new_session(m, remote_ip, remote_port, Self::class_of(proto, 0))
            }
        };
        if proto == NatProto::Tcp {
            use tcp_state::*;
            let st = &mut self.sess[s as usize].tcp;
            let closed = *st & RST != 0 || *st & (FIN_IN | FIN_OUT) == FIN_IN | FIN_OUT;
            if flags & tcp_flag::SYN != 0 && closed {
                *st = 0; // a new connection reusing the 4-tuple
            }
            if flags & tcp_flag::SYN != 0 {
                *st |= SYN_OUT;
                if flags & tcp_flag::ACK != 0 {
                    *st |= SYN_IN; // answering the peer's SYN (externally initiated)
                }
            }
            if flags & tcp_flag::FIN != 0 {
                *st |= FIN_OUT;
            }
            if flags & tcp_flag::RST != 0 {
                *st |= RST;
            }
            if fresh && flags & (tcp_flag::SYN | tcp_flag::RST) == 0 {
                // Mid-stream pick-up (e.g. after a restart): assume established.
                *st |= SYN_OUT | SYN_IN;
            }
        }
        // Only TCP sessions change class (UDP and ICMP have one each).
        let moved = proto == NatProto::Tcp && self.reclass(s);
        self.touch(s, now, moved || fresh);
        self.maps[m as usize].neighbour = Some(mac);
        Ok(m)
    }

    /// Put the session in the list of its TCP state's class; true if it changed class.
    fn reclass(&mut self, s: u32) -> bool {
        let e = &self.sess[s as usize];
        let proto = self.maps[e.mapping as usize].proto;
        let c = Self::class_of(proto, e.tcp);
        if c != e.class {
            self.lru_unlink(s);
            self.sess[s as usize].class = c;
            self.lru_push_tail(s);
            true
        } else {
            false
        }
    }

    /// Inbound TCP flags on mapping `m` from a remote: track SYN/FIN/RST. Never refreshes
    /// the timer (REQ-6), except that a change of timeout class restarts it in the new class.
    pub fn inbound_tcp(
        &mut self,
        now: Instant,
        m: u32,
        remote_ip: u32,
        remote_port: u16,
        flags: u8,
    ) {
        use tcp_state::*;
        let Some(s) = self.session_of(m, remote_ip, remote_port) else {
            return;
        };
        if self.sess[s as usize].expires <= now {
            return;
        }
        let e = &mut self.sess[s as usize];
        let before = e.class;
        if flags & tcp_flag::SYN != 0 {
            e.tcp |= SYN_IN;
        }
        if flags & tcp_flag::FIN != 0 {
            e.tcp |= FIN_IN;
        }
        if flags & tcp_flag::RST != 0 {
            e.tcp |= RST;
        }
        if self.reclass(s) && self.sess[s as usize].class != before {
            self.touch(s, now, true);
        }
    }

    // ------------------------------------------------------------ removal

    fn reap_session(&mut self, s: u32) {
        self.lru_unlink(s);
        self.map_list_unlink(s);
        let e = &self.sess[s as usize];
        let (m, ip, port) = (e.mapping, e.remote_ip, e.remote_port);
        let mp = &self.maps[m as usize];
        let key = Self::flow_key(mp, ip, port);
        self.flows[proto_idx(mp.proto)].remove(&key);
        if let Some(a) = self.by_addr.get_mut(&addr_key(m, ip)) {
            a.count -= 1;
            if a.count == 0 {
                self.by_addr.remove(&addr_key(m, ip));
            }
        }
        let mp = &mut self.maps[m as usize];
        mp.sessions -= 1;
        let (int_ip, empty) = (mp.int_ip, mp.sessions == 0 && !mp.is_static);
        if let Some(h) = self.hosts.get_mut(&int_ip) {
            h.sessions -= 1;
        }
        let e = &mut self.sess[s as usize];
        e.mapping = NIL;
        e.next = self.sess_free;
        self.sess_free = s;
        self.live -= 1;
        self.c.sessions_expired += 1;
        if empty {
            self.free_mapping(m);
        }
    }

    fn free_mapping(&mut self, m: u32) {
        let mp = &self.maps[m as usize];
        let (proto, int_ip, int_port, ext_ip, ext_port, ext_idx) = (
            mp.proto,
            mp.int_ip,
            mp.int_port,
            mp.ext_ip,
            mp.ext_port,
            mp.ext_idx,
        );
        self.in2out.remove(&ep(proto, int_ip, int_port));
        self.out2in.remove(&ep(proto, ext_ip, ext_port));
        let (lo, hi) = (self.lo, self.hi);
        self.ports[usize::from(ext_idx)][proto_idx(proto)].set(ext_port, false, lo, hi);
        if let Some(h) = self.hosts.get_mut(&int_ip) {
            h.mappings -= 1;
            if h.mappings == 0 {
                self.hosts.remove(&int_ip);
            }
        }
        self.maps[m as usize].head = self.map_free;
        self.map_free = m;
    }

    /// Reap every session of `m` (all expired); the mapping goes with the last one.
    fn reap_mapping(&mut self, m: u32) {
        while self.maps[m as usize].sessions > 0 {
            let s = self.maps[m as usize].head;
            self.reap_session(s);
        }
    }

    /// Reap up to `budget` sessions whose timer ran out; returns how many.
    pub fn expire(&mut self, now: Instant, budget: usize) -> usize {
        let mut n = 0;
        for c in 0..4 {
            while n < budget {
                let h = self.heads[c];
                if h == NIL || self.sess[h as usize].expires > now {
                    break;
                }
                self.reap_session(h);
                n += 1;
            }
        }
        n
    }

    // ------------------------------------------------------------ inspection

    /// Live sessions as views (slab order).
    pub fn views(&self, now: Instant) -> impl Iterator<Item = SessionView> + '_ {
        self.sess
            .iter()
            .filter(move |e| e.mapping != NIL && e.expires > now)
            .map(move |e| {
                let mp = &self.maps[e.mapping as usize];
                let state = match (mp.proto, e.class) {
                    (NatProto::Udp, _) => SessionState::Udp,
                    (NatProto::Icmp, _) => SessionState::Icmp,
                    (NatProto::Tcp, Class::TcpEstablished) => SessionState::TcpEstablished,
                    (NatProto::Tcp, _)
                        if e.tcp & (tcp_state::SYN_IN | tcp_state::SYN_OUT)
                            != tcp_state::SYN_IN | tcp_state::SYN_OUT =>
                    {
                        SessionState::TcpOpening
                    }
                    (NatProto::Tcp, _) => SessionState::TcpClosing,
                };
                SessionView {
                    proto: mp.proto,
                    internal: SocketAddrV4::new(Ipv4Addr::from(mp.int_ip), mp.int_port),
                    external: SocketAddrV4::new(Ipv4Addr::from(mp.ext_ip), mp.ext_port),
                    remote: SocketAddrV4::new(Ipv4Addr::from(e.remote_ip), e.remote_port),
                    state,
                    is_static: mp.is_static,
                    expires_in: e.expires.saturating_since(now),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_set_find_respects_range_start_parity_and_wraps() {
        let mut p = PortSet::new(1024, 1100);
        assert_eq!(p.find(1024, 1100, 1050, None), Some(1050));
        assert_eq!(p.find(1024, 1100, 1051, Some(0)), Some(1052));
        assert_eq!(p.find(1024, 1100, 5, Some(1)), Some(1025));
        for q in 1090..=1100 {
            p.set(q, true, 1024, 1100);
        }
        assert_eq!(
            p.find(1024, 1100, 1095, None),
            Some(1024),
            "wraps to the range start"
        );
        for q in 1024..=1100 {
            p.set(q, true, 1024, 1100);
        }
        assert_eq!(p.free_in_range, 0);
        assert_eq!(p.find(1024, 1100, 1095, None), None);
        p.set(1063, false, 1024, 1100);
        assert_eq!(p.find(1024, 1100, 1095, Some(0)), None, "no even port left");
        assert_eq!(p.find(1024, 1100, 1095, Some(1)), Some(1063));
    }

    #[test]
    fn ext_index_finds_every_pool_address_dense_or_sparse() {
        let base = 0xc612_0000u32;
        for pool in [
            vec![base + 10, base + 12, base + 11, base + 40],
            vec![base + 5, base + 5 + EXT_DENSE_SPAN, base + 77, 0x0a00_0001],
            vec![u32::MAX, 0],
            vec![base + 1, base + 2, base + 1],
            vec![base + 1, 0x0a00_0001, base + 1],
        ] {
            let t = SessionTable::new(
                &pool,
                (1024, 65535),
                Filtering::AddressDependent,
                &NatTimeouts::default(),
                16,
                16,
            );
            for &a in &pool {
                let first = pool.iter().position(|&x| x == a).map(|i| i as u16);
                assert_eq!(t.ext_index(a), first, "{a:#x} in {pool:x?}");
            }
            for a in [
                base + 13,
                base + 6,
                base,
                base + 4096,
                0x0a00_0002,
                1,
                u32::MAX - 1,
            ] {
                if !pool.contains(&a) {
                    assert_eq!(t.ext_index(a), None, "{a:#x} in {pool:x?}");
                }
            }
        }
    }

    #[test]
    fn port_set_full_range_edges() {
        let mut p = PortSet::new(0, 65535);
        assert_eq!(p.find(0, 65535, 65535, None), Some(65535));
        p.set(65535, true, 0, 65535);
        assert_eq!(p.find(0, 65535, 65535, None), Some(0));
        assert_eq!(p.free_in_range, 65535);
    }
}
