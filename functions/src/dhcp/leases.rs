//! The lease table: who holds which address, conflict-free by construction.
//!
//! Every address of the range has a slot naming at most one owner record, and every record
//! names exactly one address (its slot's, or a static address), so no address can be given
//! to two clients. A record whose lease ended (released, expired, offer not taken) keeps its
//! address as the client's *previous* address (RFC 2131 §4.3.1's stickiness) until the
//! address is given to someone else, which deletes the record. So there are never more
//! records than addresses in the range plus static leases.
//!
//! Free addresses are handed out from a FIFO: never-used addresses in order first, then
//! addresses in the order they became free, so a remembered address is reused as late as
//! possible. Addresses that became unavailable while queued are skipped when they reach
//! the front (lazy deletion, each address queued at most once).

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::Instant;

/// No owner.
const NONE: u32 = u32::MAX;

/// State of a lease record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaseState {
    /// Offered, waiting for the client's REQUEST (held for [`super::OFFER_HOLD`]).
    Offered,
    /// Bound (ACKed) until it expires.
    Bound,
    /// Released by the client; the address is free but remembered for it.
    Released,
    /// Expired (or an offer not taken); the address is free but remembered for it.
    Expired,
}

impl LeaseState {
    /// True while the address is the client's (offered or bound).
    pub fn is_active(self) -> bool {
        matches!(self, LeaseState::Offered | LeaseState::Bound)
    }

    /// Stable lower-case name (table column, lease files).
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseState::Offered => "offered",
            LeaseState::Bound => "bound",
            LeaseState::Released => "released",
            LeaseState::Expired => "expired",
        }
    }
}

/// One lease, as exported ([`super::DhcpServer::leases`]) and imported
/// ([`super::DhcpServer::import_leases`]): plain data for a lease file or a reload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The client identifier (option 61, type byte first) the lease is keyed by, or `None`
    /// for a lease keyed by `mac` (clients without option 61, and static leases).
    pub client_id: Option<Vec<u8>>,
    /// The client's hardware address (`chaddr`).
    pub mac: [u8; 6],
    /// The address.
    pub address: Ipv4Addr,
    /// State.
    pub state: LeaseState,
    /// Time left for an offered or bound lease (zero otherwise).
    pub expires_in: Duration,
    /// A static lease from the configuration.
    pub is_static: bool,
}

#[derive(Clone, Debug)]
struct Record {
    key: Box<[u8]>,
    mac: [u8; 6],
    addr: u32,
    state: LeaseState,
    expires: Instant,
    is_static: bool,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Record holding (or remembering) this address.
    owner: u32,
    /// The server's, the router's, a DNS server's or a static lease's address.
    reserved: bool,
    /// In the free FIFO.
    queued: bool,
    /// Declined: unusable until the tick after this time.
    quarantine: Option<Instant>,
}

/// Why no address could be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoLease {
    /// Every address is taken.
    Exhausted,
    /// `max_leases` clients hold offers or leases.
    Limit,
    /// The address asked for cannot be this client's (NAK).
    Wrong,
}

/// Client key bytes: `0` + MAC, or `1` + client identifier, in a stack buffer.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    buf: [u8; 257],
    len: usize,
}

impl Key {
    /// A key by hardware address.
    pub fn mac(mac: [u8; 6]) -> Key {
        let mut buf = [0u8; 257];
        buf[1..7].copy_from_slice(&mac);
        Key { buf, len: 7 }
    }

    /// A key by client identifier (at most 255 bytes).
    pub fn client_id(id: &[u8]) -> Key {
        let mut buf = [0u8; 257];
        let n = id.len().min(255);
        buf[0] = 1;
        buf[1..=n].copy_from_slice(&id[..n]);
        Key { buf, len: n + 1 }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The lease table.
#[derive(Clone, Debug)]
pub struct Leases {
    first: u32,
    slots: Vec<Slot>,
    queue: VecDeque<u32>,
    quarantined: VecDeque<u32>,
    records: Vec<Option<Record>>,
    spare: Vec<u32>,
    by_key: HashMap<Box<[u8]>, u32, RandomState>,
    statics: HashMap<[u8; 6], u32, RandomState>,
    /// Records offered / bound.
    offered: u32,
    bound: u32,
    /// Of those, static ones.
    static_active: u32,
    /// Addresses of the range that are not reserved.
    dynamic: u32,
    max_leases: u32,
}

impl Leases {
    /// A table for `first..=last`, with `reserved` addresses never given out dynamically
    /// and `statics` (MAC, address).
    pub fn new(
        first: u32,
        last: u32,
        reserved: &[u32],
        statics: &[([u8; 6], u32)],
        max_leases: u32,
    ) -> Leases {
        let n = (last - first + 1) as usize;
        let mut slots = vec![
            Slot {
                owner: NONE,
                reserved: false,
                queued: false,
                quarantine: None,
            };
            n
        ];
        for a in reserved.iter().chain(statics.iter().map(|(_, a)| a)) {
            if let Some(s) = a.checked_sub(first).and_then(|i| slots.get_mut(i as usize)) {
                s.reserved = true;
            }
        }
        let mut queue = VecDeque::with_capacity(n);
        for (i, s) in slots.iter_mut().enumerate() {
            if !s.reserved {
                s.queued = true;
                queue.push_back(i as u32);
            }
        }
        let records = n + statics.len();
        Leases {
            first,
            dynamic: queue.len() as u32,
            slots,
            queue,
            quarantined: VecDeque::new(),
            records: Vec::with_capacity(records.min(4096)),
            spare: Vec::new(),
            by_key: HashMap::with_capacity_and_hasher(records.min(4096), RandomState::new()),
            statics: statics.iter().copied().collect::<HashMap<_, _, _>>(),
            offered: 0,
            bound: 0,
            static_active: 0,
            max_leases,
        }
    }

    /// The key a client's record has: its MAC for a static client or one without a client
    /// identifier, else the identifier.
    pub fn key_for(&self, mac: [u8; 6], client_id: Option<&[u8]>) -> Key {
        match client_id {
            Some(id) if !self.statics.contains_key(&mac) => Key::client_id(id),
            _ => Key::mac(mac),
        }
    }

    fn slot_of(&self, addr: u32) -> Option<usize> {
        let i = addr.checked_sub(self.first)? as usize;
        (i < self.slots.len()).then_some(i)
    }

    fn rec(&self, i: u32) -> Option<&Record> {
        self.records.get(i as usize).and_then(Option::as_ref)
    }

    fn find(&self, key: &Key) -> Option<u32> {
        self.by_key.get(key.bytes()).copied()
    }

    /// Change a record's state, keeping the counts.
    fn set_state(&mut self, i: u32, state: LeaseState, expires: Instant) {
        let Some(r) = self.records.get_mut(i as usize).and_then(Option::as_mut) else {
            return;
        };
        let (old, is_static, addr) = (r.state, r.is_static, r.addr);
        r.state = state;
        r.expires = expires;
        for (s, d) in [(old, -1i64), (state, 1)] {
            let c = match s {
                LeaseState::Offered => &mut self.offered,
                LeaseState::Bound => &mut self.bound,
                _ => continue,
            };
            *c = (i64::from(*c) + d) as u32;
            if is_static {
                self.static_active = (i64::from(self.static_active) + d) as u32;
            }
        }
        if old.is_active() && !state.is_active() {
            self.enqueue(addr);
        }
    }

    fn enqueue(&mut self, addr: u32) {
        if let Some(s) = self.slot_of(addr).map(|i| &mut self.slots[i])
            && !s.queued
            && !s.reserved
            && s.quarantine.is_none()
        {
            s.queued = true;
            self.queue.push_back(addr - self.first);
        }
    }

    /// Delete record `i` (inactive), freeing its slot's owner.
    fn remove(&mut self, i: u32) {
        let Some(r) = self.records.get_mut(i as usize).and_then(Option::take) else {
            return;
        };
        debug_assert!(!r.state.is_active());
        self.by_key.remove(&r.key);
        if let Some(s) = self.slot_of(r.addr)
            && self.slots[s].owner == i
        {
            self.slots[s].owner = NONE;
        }
        self.spare.push(i);
    }

    /// True when range address `addr` can be record `me`'s: not reserved or quarantined,
    /// and unowned, owned by `me`, or only remembered by an inactive record.
    fn free_for(&self, addr: u32, me: Option<u32>) -> bool {
        let Some(s) = self.slot_of(addr).map(|i| self.slots[i]) else {
            return false;
        };
        !s.reserved
            && s.quarantine.is_none()
            && (s.owner == NONE
                || Some(s.owner) == me
                || self.rec(s.owner).is_none_or(|r| !r.state.is_active()))
    }

    /// The address client `key` (MAC `mac`) may have if it asks for `want` (`None`: any),
    /// without changing anything: its static address, its record's address, `want` if free,
    /// or a new one (from the front of the FIFO, found in `take`).
    fn choose(&self, key: &Key, mac: [u8; 6], want: Option<u32>) -> Result<Option<u32>, NoLease> {
        if let Some(&a) = self.statics.get(&mac) {
            return match want {
                Some(w) if w != a => Err(NoLease::Wrong),
                _ => Ok(Some(a)),
            };
        }
        let me = self.find(key);
        if let Some(r) = me.and_then(|i| self.rec(i)) {
            match want {
                None => return Ok(Some(r.addr)),
                Some(w) if w == r.addr => return Ok(Some(w)),
                // An active lease of another address: the client is wrong (RFC 2131
                // §4.3.2 INIT-REBOOT/SELECTING with a stale address).
                Some(_) if r.state.is_active() => return Err(NoLease::Wrong),
                Some(_) => {}
            }
        }
        match want {
            Some(w) if self.free_for(w, me) => Ok(Some(w)),
            Some(_) => Err(NoLease::Wrong),
            None => Ok(None),
        }
    }

    /// Pop a free address from the FIFO.
    fn pop_free(&mut self) -> Option<u32> {
        while let Some(i) = self.queue.pop_front() {
            let s = &mut self.slots[i as usize];
            s.queued = false;
            let addr = self.first + i;
            if self.free_for(addr, None) {
                return Some(addr);
            }
        }
        None
    }

    /// Make `addr` record `key`'s in `state` until `expires`, creating or moving the record.
    fn assign(
        &mut self,
        key: &Key,
        mac: [u8; 6],
        addr: u32,
        state: LeaseState,
        expires: Instant,
    ) -> u32 {
        let is_static = self.statics.get(&mac) == Some(&addr);
        // A record remembering this address for another client loses it.
        if let Some(s) = self.slot_of(addr) {
            let o = self.slots[s].owner;
            if o != NONE && Some(o) != self.find(key) {
                self.remove(o);
            }
        }
        let i = match self.find(key) {
            Some(i) => i,
            None => {
                let r = Record {
                    key: key.bytes().into(),
                    mac,
                    addr,
                    state: LeaseState::Expired,
                    expires,
                    is_static,
                };
                let i = match self.spare.pop() {
                    Some(i) => {
                        self.records[i as usize] = Some(r);
                        i
                    }
                    None => {
                        self.records.push(Some(r));
                        (self.records.len() - 1) as u32
                    }
                };
                self.by_key.insert(key.bytes().into(), i);
                i
            }
        };
        // Inactive first, so a moved record's old address goes back to the FIFO.
        self.set_state(i, LeaseState::Expired, expires);
        if let Some(r) = self.records.get_mut(i as usize).and_then(Option::as_mut) {
            let old = r.addr;
            r.addr = addr;
            r.mac = mac;
            r.is_static = is_static;
            if old != addr
                && let Some(s) = self.slot_of(old)
                && self.slots[s].owner == i
            {
                self.slots[s].owner = NONE;
            }
        }
        if let Some(s) = self.slot_of(addr) {
            self.slots[s].owner = i;
        }
        self.set_state(i, state, expires);
        i
    }

    fn active(&self) -> u32 {
        self.offered + self.bound
    }

    fn is_active(&self, key: &Key) -> bool {
        self.find(key)
            .and_then(|i| self.rec(i))
            .is_some_and(|r| r.state.is_active())
    }

    /// DISCOVER: offer client `key` an address (RFC 2131 §4.3.1 order: its current or
    /// previous address, the one it asked for if free, a free one). A client with a bound
    /// lease keeps it (and is offered its address); otherwise the address is held for it
    /// until `hold_until`.
    ///
    /// # Errors
    /// `Exhausted` or `Limit`.
    pub fn offer(
        &mut self,
        key: &Key,
        mac: [u8; 6],
        requested: Option<u32>,
        hold_until: Instant,
    ) -> Result<u32, NoLease> {
        if !self.is_active(key) && self.active() >= self.max_leases {
            return Err(NoLease::Limit);
        }
        let chosen = match self.choose(key, mac, None)? {
            // Its remembered address, unless someone has it now.
            Some(a) if self.statics.get(&mac) == Some(&a) || self.free_for(a, self.find(key)) => {
                Some(a)
            }
            _ => None,
        };
        let chosen = chosen.or_else(|| requested.filter(|&w| self.free_for(w, self.find(key))));
        let addr = match chosen {
            Some(a) => a,
            None => self.pop_free().ok_or(NoLease::Exhausted)?,
        };
        let bound = self
            .find(key)
            .and_then(|i| self.rec(i))
            .filter(|r| r.state == LeaseState::Bound && r.addr == addr)
            .map(|r| r.expires);
        match bound {
            Some(expires) => self.assign(key, mac, addr, LeaseState::Bound, expires),
            None => self.assign(key, mac, addr, LeaseState::Offered, hold_until),
        };
        Ok(addr)
    }

    /// REQUEST: bind `addr` to client `key` until `expires` if it may have it (its offer or
    /// lease, its static address, or a free address of the range: the server is
    /// authoritative for its subnet).
    ///
    /// # Errors
    /// `Wrong` (NAK) or `Limit`.
    pub fn bind(
        &mut self,
        key: &Key,
        mac: [u8; 6],
        addr: u32,
        expires: Instant,
    ) -> Result<(), NoLease> {
        self.choose(key, mac, Some(addr))?;
        if !self.is_active(key) && self.active() >= self.max_leases {
            return Err(NoLease::Limit);
        }
        self.assign(key, mac, addr, LeaseState::Bound, expires);
        Ok(())
    }

    /// The client gave up an offer by choosing another server (RFC 2131 §4.3.2): its
    /// offered address is free again. True if it had one.
    pub fn cancel_offer(&mut self, key: &Key, now: Instant) -> bool {
        match self.find(key) {
            Some(i) if self.rec(i).is_some_and(|r| r.state == LeaseState::Offered) => {
                self.set_state(i, LeaseState::Expired, now);
                true
            }
            _ => false,
        }
    }

    /// RELEASE of `addr` by `key` (RFC 2131 §4.3.4): true if it was the client's.
    pub fn release(&mut self, key: &Key, addr: u32, now: Instant) -> bool {
        match self.find(key) {
            Some(i)
                if self
                    .rec(i)
                    .is_some_and(|r| r.addr == addr && r.state.is_active()) =>
            {
                self.set_state(i, LeaseState::Released, now);
                true
            }
            _ => false,
        }
    }

    /// DECLINE of `addr` by `key` (RFC 2131 §4.3.3): the address is in use by someone else;
    /// it leaves the client's record and is unusable until `until`. True if it was the
    /// client's (offered or bound) address.
    pub fn decline(&mut self, key: &Key, addr: u32, now: Instant, until: Instant) -> bool {
        let Some(i) = self.find(key).filter(|&i| {
            self.rec(i)
                .is_some_and(|r| r.addr == addr && r.state.is_active())
        }) else {
            return false;
        };
        self.set_state(i, LeaseState::Expired, now);
        let is_static = self.rec(i).is_some_and(|r| r.is_static);
        self.remove(i);
        if !is_static && let Some(s) = self.slot_of(addr) {
            self.slots[s].quarantine = Some(until);
            self.quarantined.push_back(s as u32);
        }
        true
    }

    /// Expire offers and leases due by `now` and end quarantines; the number of bound
    /// leases that expired.
    pub fn expire(&mut self, now: Instant) -> u64 {
        let mut expired = 0;
        for i in 0..self.records.len() as u32 {
            let Some(r) = self.rec(i) else { continue };
            if r.state.is_active() && r.expires <= now {
                expired += u64::from(r.state == LeaseState::Bound);
                self.set_state(i, LeaseState::Expired, now);
            }
        }
        while let Some(&s) = self.quarantined.front() {
            let slot = &mut self.slots[s as usize];
            match slot.quarantine {
                Some(t) if t > now => break,
                _ => {
                    slot.quarantine = None;
                    self.quarantined.pop_front();
                    self.enqueue(self.first + s);
                }
            }
        }
        expired
    }

    /// (offered, bound, quarantined, available) counts.
    pub fn counts(&self) -> (u32, u32, u32, u32) {
        let q = self.quarantined.len() as u32;
        let dyn_active = self.active() - self.static_active;
        (
            self.offered,
            self.bound,
            q,
            self.dynamic.saturating_sub(dyn_active + q),
        )
    }

    /// Every record as a [`Lease`].
    pub fn export(&self, now: Instant) -> impl Iterator<Item = Lease> + '_ {
        self.records.iter().flatten().map(move |r| Lease {
            client_id: (r.key[0] == 1).then(|| r.key[1..].to_vec()),
            mac: r.mac,
            address: Ipv4Addr::from(r.addr),
            state: r.state,
            expires_in: if r.state.is_active() {
                r.expires.saturating_since(now)
            } else {
                Duration::ZERO
            },
            is_static: r.is_static,
        })
    }

    /// Take `l` into the table at `now`; false (nothing changed) if it conflicts with the
    /// table or the configuration (an address outside the range or reserved, not the MAC's
    /// static address, held by another client; a client already present; `max_leases`).
    pub fn import(&mut self, l: &Lease, now: Instant) -> bool {
        let addr = u32::from(l.address);
        let key = self.key_for(l.mac, l.client_id.as_deref());
        if self.find(&key).is_some() {
            return false;
        }
        let ok = match self.statics.get(&l.mac) {
            Some(&a) => a == addr,
            None => self.free_for(addr, None),
        };
        if !ok || (l.state.is_active() && self.active() >= self.max_leases) {
            return false;
        }
        let state = if l.state.is_active() && l.expires_in.is_zero() {
            LeaseState::Expired
        } else {
            l.state
        };
        self.assign(&key, l.mac, addr, state, now + l.expires_in);
        true
    }

    /// Rebuild the free FIFO after imports: unused addresses in order first, then the ones
    /// remembered for a client, in record order, so that a remembered address is taken last.
    pub fn requeue(&mut self) {
        self.queue.clear();
        for s in &mut self.slots {
            s.queued = false;
        }
        for i in 0..self.slots.len() {
            if self.slots[i].owner == NONE {
                self.enqueue(self.first + i as u32);
            }
        }
        for i in 0..self.records.len() {
            if let Some(r) = &self.records[i]
                && !r.state.is_active()
            {
                let a = r.addr;
                self.enqueue(a);
            }
        }
    }

    /// Check the table's invariants (tests): every address has at most one record, every
    /// record's address is its slot's owner, the counts match.
    #[cfg(test)]
    pub fn check(&self) {
        let mut seen = std::collections::HashSet::new();
        let (mut offered, mut bound) = (0, 0);
        for (i, r) in self.records.iter().enumerate() {
            let Some(r) = r else { continue };
            assert!(
                seen.insert(r.addr),
                "address {} twice",
                Ipv4Addr::from(r.addr)
            );
            assert_eq!(self.by_key.get(&r.key), Some(&(i as u32)));
            if let Some(s) = self.slot_of(r.addr) {
                assert_eq!(self.slots[s].owner, i as u32, "slot owner");
            }
            offered += u32::from(r.state == LeaseState::Offered);
            bound += u32::from(r.state == LeaseState::Bound);
        }
        assert_eq!((offered, bound), (self.offered, self.bound));
        assert_eq!(self.by_key.len(), seen.len());
        for s in &self.slots {
            if s.owner != NONE {
                assert!(self.rec(s.owner).is_some(), "owner exists");
            }
        }
    }
}
