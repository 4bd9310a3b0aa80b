//! The firewall's connection table: flows in a slab, found through a hash map of canonical
//! (direction-free) keys, kept in one LRU list per timeout class so that expiry is O(1) per
//! flow: each list is ordered by last use, and since a class has one timeout, only its head
//! can be the next to expire.
//!
//! Refreshes are lazy: a flow used again less than [`lazy_refresh`] after it last moved to
//! its list's tail stays where it is (only `last_seen` changes), so a busy flow moves at
//! most once per second instead of on every packet. Lists stay sorted by the time each flow
//! last moved, which is at most that lag before its `last_seen`; [`FlowTable::expire`] stops
//! at the first head that has not expired, so a flow behind a lazily refreshed head is
//! reclaimed at most that lag late. [`FlowTable::lookup`] checks `last_seen` itself, so no
//! packet sees the difference.
//!
//! Nothing is allocated up front: the slab and the map grow to `max_flows` as flows are
//! created, and freed slots are reused (free list).
//!
//! # Per-host limit and early drop
//! Each flow counts against its originator's address; a host at `max_per_host` flows opens
//! no more ([`InsertError::HostQuota`]), so one host cannot fill the table for everyone.
//! When the table is full (after reclaiming expired flows), a new flow takes the place of
//! the oldest flow that never got an answer, as Linux conntrack's `early_drop` evicts a
//! non-assured entry: UDP, ICMP or other flows without a reply packet, TCP that never got
//! past the handshake (SYN-SENT, SYN-RECEIVED) or is over (TIME-WAIT, closed). Only flows
//! idle for at least [`EARLY_DROP_MIN_IDLE`] qualify, so a burst of new flows cannot evict
//! each other before a reply could come back, and the scan is bounded: the first
//! [`EARLY_DROP_SCAN`] flows of each non-established list (as Linux scans a few buckets).
//! Answered flows are never evicted for a new one.

use std::collections::HashMap;
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::Instant;

use super::Direction;

const NIL: u32 = u32::MAX;

/// Flows looked at from the head (oldest) of each list for one early drop.
pub(crate) const EARLY_DROP_SCAN: usize = 8;
/// A flow idle for less than this is never evicted by early drop.
pub(crate) const EARLY_DROP_MIN_IDLE: Duration = Duration::from_secs(1);

/// Why [`FlowTable::insert`] made no flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// Full, and no flow could be reclaimed or evicted.
    Full,
    /// The originator already holds `max_per_host` flows.
    HostQuota,
}

/// Verdict-cache slot not computed yet.
pub(crate) const VERDICT_UNKNOWN: u32 = u32::MAX;
/// Verdict-cache value "no rule matched: default policy".
pub(crate) const VERDICT_DEFAULT: u32 = u32::MAX - 1;

/// Canonical bidirectional key: endpoint `a` is the smaller `(address, port)` pair, so both
/// directions of a flow give the same key. Ports are `u32` so that ICMP queries can put the
/// request type (`0x1_0000 | type`) where a port goes without colliding with an identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    pub proto: u8,
    pub a: u32,
    pub pa: u32,
    pub b: u32,
    pub pb: u32,
}

impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // Two words instead of five fields. Ports are below 2^17 (ICMP types are
        // `0x1_0000 | type`), so `pb` and `proto << 24` never overlap.
        h.write_u64(u64::from(self.a) << 32 | u64::from(self.b));
        h.write_u64(u64::from(self.pa) << 32 | u64::from(self.proto) << 24 | u64::from(self.pb));
    }
}

/// How long after its last move a used flow stays in place: `min(1 s, timeout / 8)`.
fn lazy_refresh(timeout: Duration) -> u64 {
    (timeout.as_nanos() / 8).min(1_000_000_000) as u64
}

impl FlowKey {
    /// The key of a packet `src:sport → dst:dport`, and whether its sender is endpoint `a`.
    pub fn of(proto: u8, src: u32, sport: u32, dst: u32, dport: u32) -> (FlowKey, bool) {
        if (src, sport) <= (dst, dport) {
            let k = FlowKey {
                proto,
                a: src,
                pa: sport,
                b: dst,
                pb: dport,
            };
            (k, true)
        } else {
            let k = FlowKey {
                proto,
                a: dst,
                pa: dport,
                b: src,
                pb: sport,
            };
            (k, false)
        }
    }
}

/// Timeout classes; each has one LRU list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    TcpEstablished = 0,
    TcpTransitory = 1,
    TcpClosed = 2,
    Udp = 3,
    Icmp = 4,
    Other = 5,
}

pub(crate) const CLASSES: usize = 6;

/// TCP connection state (no sequence-window tracking).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// The originator's SYN was seen.
    SynSent,
    /// The responder's SYN (SYN-ACK) was seen.
    SynReceived,
    /// The handshake completed.
    Established,
    /// One side sent FIN.
    FinWait,
    /// Both sides sent FIN.
    TimeWait,
    /// A RST was seen.
    Closed,
}

impl TcpState {
    pub(crate) fn class(self) -> Class {
        match self {
            TcpState::Established => Class::TcpEstablished,
            TcpState::Closed => Class::TcpClosed,
            _ => Class::TcpTransitory,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Flow {
    pub key: FlowKey,
    /// The originator (sender of the first packet) is endpoint `a`.
    pub orig_is_a: bool,
    /// Gate direction of the first packet.
    pub orig_dir: Direction,
    pub tcp: TcpState,
    /// FIN seen from [originator, responder].
    pub fin: [bool; 2],
    pub class: Class,
    pub last_seen: Instant,
    /// Packets and IP bytes allowed [original, reply].
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// Cached rule index for state `established`, per `(reply as usize) * 2 + (dir == In)`.
    pub verdicts: [u32; 4],
    /// Nanoseconds from the flow's last move to its list's tail to `last_seen` (below
    /// [`lazy_refresh`], so it fits a `u32`; it uses padding, the flow stays 96 bytes).
    lag: u32,
    live: bool,
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// The table. Indices handed out stay valid until [`FlowTable::remove`] or expiry.
#[derive(Debug)]
pub(crate) struct FlowTable {
    slab: Vec<Flow>,
    free: Vec<u32>,
    map: HashMap<FlowKey, u32, RandomState>,
    lists: [List; CLASSES],
    timeouts: [Duration; CLASSES],
    /// [`lazy_refresh`] per class, in nanoseconds.
    lazy: [u64; CLASSES],
    max: usize,
    /// Flows per originator address, and the most one may hold.
    hosts: HashMap<u32, u32, RandomState>,
    max_per_host: u32,
    /// Flows removed because they timed out (by tick, lookup or a full-table insert).
    pub expired: u64,
    /// Unanswered flows evicted to make room for a new one.
    pub early_drops: u64,
    /// New flows refused because their originator was at its limit.
    pub host_quota_exceeded: u64,
}

impl FlowTable {
    pub fn new(max: u32, max_per_host: u32, timeouts: [Duration; CLASSES]) -> FlowTable {
        FlowTable {
            slab: Vec::new(),
            free: Vec::new(),
            map: HashMap::with_hasher(RandomState::new()),
            lists: [EMPTY; CLASSES],
            timeouts,
            lazy: timeouts.map(lazy_refresh),
            max: max as usize,
            hosts: HashMap::with_hasher(RandomState::new()),
            max_per_host,
            expired: 0,
            early_drops: 0,
            host_quota_exceeded: 0,
        }
    }

    /// Originator addresses holding flows now.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn get(&self, i: u32) -> &Flow {
        &self.slab[i as usize]
    }

    pub fn get_mut(&mut self, i: u32) -> &mut Flow {
        &mut self.slab[i as usize]
    }

    fn is_expired(&self, f: &Flow, now: Instant) -> bool {
        now.saturating_since(f.last_seen) >= self.timeouts[f.class as usize]
    }

    /// Time left before flow `f` expires.
    pub fn remaining(&self, f: &Flow, now: Instant) -> Duration {
        self.timeouts[f.class as usize].saturating_sub(now.saturating_since(f.last_seen))
    }

    /// The live flow for `key`; an expired one (tick not run yet) is removed and not found.
    pub fn lookup(&mut self, key: &FlowKey, now: Instant) -> Option<u32> {
        let i = *self.map.get(key)?;
        if self.is_expired(&self.slab[i as usize], now) {
            self.remove(i);
            self.expired += 1;
            return None;
        }
        Some(i)
    }

    /// Add a flow (the key must not be present): refused when its originator is at its
    /// limit, or when the table is full even after reclaiming expired flows and evicting an
    /// unanswered one (see the module docs).
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        key: FlowKey,
        orig_is_a: bool,
        orig_dir: Direction,
        tcp: TcpState,
        class: Class,
        now: Instant,
    ) -> Result<u32, InsertError> {
        let host = if orig_is_a { key.a } else { key.b };
        if self
            .hosts
            .get(&host)
            .is_some_and(|&n| n >= self.max_per_host)
        {
            self.host_quota_exceeded += 1;
            return Err(InsertError::HostQuota);
        }
        if self.map.len() >= self.max && self.expire(now, 64) == 0 {
            let victim = self.early_drop_victim(now).ok_or(InsertError::Full)?;
            self.remove(victim);
            self.early_drops += 1;
        }
        *self.hosts.entry(host).or_insert(0) += 1;
        let flow = Flow {
            key,
            orig_is_a,
            orig_dir,
            tcp,
            fin: [false; 2],
            class,
            last_seen: now,
            packets: [0; 2],
            bytes: [0; 2],
            verdicts: [VERDICT_UNKNOWN; 4],
            lag: 0,
            live: true,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = flow;
                i
            }
            None => {
                self.slab.push(flow);
                (self.slab.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.push_back(i);
        Ok(i)
    }

    /// The oldest unanswered flow idle for [`EARLY_DROP_MIN_IDLE`] among the first
    /// [`EARLY_DROP_SCAN`] of each list but established TCP's.
    fn early_drop_victim(&self, now: Instant) -> Option<u32> {
        let mut best: Option<(Instant, u32)> = None;
        for c in [
            Class::TcpTransitory,
            Class::TcpClosed,
            Class::Udp,
            Class::Icmp,
            Class::Other,
        ] {
            let mut i = self.lists[c as usize].head;
            for _ in 0..EARLY_DROP_SCAN {
                if i == NIL {
                    break;
                }
                let f = &self.slab[i as usize];
                let unanswered = match c {
                    Class::TcpTransitory | Class::TcpClosed => matches!(
                        f.tcp,
                        TcpState::SynSent
                            | TcpState::SynReceived
                            | TcpState::TimeWait
                            | TcpState::Closed
                    ),
                    _ => f.packets[1] == 0,
                };
                if unanswered
                    && now.saturating_since(f.last_seen) >= EARLY_DROP_MIN_IDLE
                    && best.is_none_or(|(t, _)| f.last_seen < t)
                {
                    best = Some((f.last_seen, i));
                }
                i = f.next;
            }
        }
        best.map(|(_, i)| i)
    }

    /// Mark flow `i` used at `now` in timeout class `class`: moves it to its list's tail,
    /// unless it stays in its class and moved less than [`lazy_refresh`] ago.
    #[inline]
    pub fn touch(&mut self, i: u32, class: Class, now: Instant) {
        let f = &mut self.slab[i as usize];
        if f.class == class {
            let moved = f.last_seen.as_nanos().saturating_sub(u64::from(f.lag));
            let lag = now.as_nanos().saturating_sub(moved);
            if lag < self.lazy[class as usize] {
                f.last_seen = now;
                f.lag = lag as u32; // < 1 s in nanoseconds
                return;
            }
        }
        self.unlink(i);
        let f = &mut self.slab[i as usize];
        f.class = class;
        f.last_seen = now;
        f.lag = 0;
        self.push_back(i);
    }

    pub fn remove(&mut self, i: u32) {
        let f = &self.slab[i as usize];
        let (key, host) = (f.key, if f.orig_is_a { f.key.a } else { f.key.b });
        if let Some(n) = self.hosts.get_mut(&host) {
            *n -= 1;
            if *n == 0 {
                self.hosts.remove(&host);
            }
        }
        self.unlink(i);
        self.slab[i as usize].live = false;
        self.map.remove(&key);
        self.free.push(i);
    }

    /// Remove up to `budget` expired flows; returns how many.
    pub fn expire(&mut self, now: Instant, budget: usize) -> usize {
        let mut n = 0;
        for c in 0..CLASSES {
            while n < budget {
                let h = self.lists[c].head;
                if h == NIL || !self.is_expired(&self.slab[h as usize], now) {
                    break;
                }
                self.remove(h);
                n += 1;
                self.expired += 1;
            }
        }
        n
    }

    /// Every live flow (expired ones not yet reclaimed included).
    pub fn iter(&self) -> impl Iterator<Item = &Flow> + '_ {
        self.slab.iter().filter(|f| f.live)
    }

    fn push_back(&mut self, i: u32) {
        let c = self.slab[i as usize].class as usize;
        let tail = self.lists[c].tail;
        {
            let f = &mut self.slab[i as usize];
            f.prev = tail;
            f.next = NIL;
        }
        if tail == NIL {
            self.lists[c].head = i;
        } else {
            self.slab[tail as usize].next = i;
        }
        self.lists[c].tail = i;
    }

    fn unlink(&mut self, i: u32) {
        let (c, prev, next) = {
            let f = &self.slab[i as usize];
            (f.class as usize, f.prev, f.next)
        };
        if prev == NIL {
            self.lists[c].head = next;
        } else {
            self.slab[prev as usize].next = next;
        }
        if next == NIL {
            self.lists[c].tail = prev;
        } else {
            self.slab[next as usize].prev = prev;
        }
        let f = &mut self.slab[i as usize];
        f.prev = NIL;
        f.next = NIL;
    }

    /// Length of every list summed, and the live count (tests: lists and map agree).
    #[cfg(test)]
    pub fn check_lists(&self) -> (usize, usize) {
        let mut n = 0;
        for l in &self.lists {
            let mut i = l.head;
            let mut prev = NIL;
            while i != NIL {
                assert_eq!(self.slab[i as usize].prev, prev, "list back link");
                assert!(self.slab[i as usize].live, "listed flow is live");
                prev = i;
                i = self.slab[i as usize].next;
                n += 1;
            }
            assert_eq!(l.tail, prev, "list tail");
        }
        (n, self.map.len())
    }
}
