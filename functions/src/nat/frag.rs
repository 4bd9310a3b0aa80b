//! Fragments (RFC 4787 REQ-14): only the first fragment carries ports, so its translation
//! is remembered for [`FRAG_TIMEOUT`] and applied to the others; fragments that overtake
//! their first are held (bounded) until it arrives.
//!
//! All records live for the same time, so a FIFO of `(key, deadline)` is in deadline order
//! and expiry is O(1) amortised; a record re-armed by a later first fragment keeps its old
//! FIFO item, which is skipped because its deadline no longer matches.

use std::time::Duration;

use super::NatDrop;
use arrayvec::ArrayVec;
use nfv_dataplane::wire::{ETHERTYPE_IPV4, be32, write_eth};
use nfv_dataplane::{Instant, OutputGate, Outputs, PacketBuf};

use super::rewrite::{IP, Ip, Side, rewrite};
use super::{Nat44, Verdict};

/// How long a first fragment's translation is kept, and a held fragment waits.
pub const FRAG_TIMEOUT: Duration = Duration::from_secs(2);
/// Non-first fragments held per datagram.
pub const FRAG_HOLD_PER_DATAGRAM: usize = 16;
/// Non-first fragments held in all.
pub const FRAG_HOLD_TOTAL: usize = 256;
/// Datagrams tracked at once.
pub const FRAG_MAX_RECORDS: usize = 4096;

/// A datagram as it arrived: side, addresses, protocol and IP identification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct FragKey {
    gate: u16,
    src: u32,
    dst: u32,
    id: u16,
    proto: u8,
}

impl FragKey {
    fn new(gate: u16, ip: &Ip) -> FragKey {
        FragKey {
            gate,
            src: ip.src,
            dst: ip.dst,
            id: ip.id,
            proto: ip.proto,
        }
    }
}

/// The translation of one datagram (once its first fragment is through) and the fragments
/// waiting for it.
#[derive(Debug)]
pub(super) struct FragRec {
    done: Option<(Verdict, u32, u32)>,
    held: ArrayVec<PacketBuf, FRAG_HOLD_PER_DATAGRAM>,
    until: Instant,
}

impl Nat44 {
    /// A first fragment was translated to `f` (addresses `new src/dst`) with verdict `v`:
    /// remember it and release the fragments that came before it.
    pub(super) fn first_fragment(
        &mut self,
        now: Instant,
        gate: u16,
        ip: &Ip,
        f: &[u8],
        v: Verdict,
        out: &mut Outputs,
    ) {
        let key = FragKey::new(gate, ip);
        if !self.frags.contains_key(&key) && self.frags.len() >= FRAG_MAX_RECORDS {
            return; // later fragments will be held or dropped, counted there
        }
        let done = (v, be32(f, IP + 12), be32(f, IP + 16));
        let until = now + FRAG_TIMEOUT;
        let rec = self.frags.entry(key).or_insert_with(|| FragRec {
            done: None,
            held: ArrayVec::new(),
            until,
        });
        rec.done = Some(done);
        rec.until = until;
        let held: ArrayVec<PacketBuf, FRAG_HOLD_PER_DATAGRAM> = rec.held.drain(..).collect();
        self.frag_fifo.push_back((key, until));
        for p in held {
            self.frags_held -= 1;
            self.emit_fragment(p, done, out);
        }
    }

    fn emit_fragment(&mut self, mut p: PacketBuf, done: (Verdict, u32, u32), out: &mut Outputs) {
        let (v, src, dst) = done;
        let f = p.data_mut();
        rewrite(f, IP, None, 0, 0, Side::Src, src, None);
        rewrite(f, IP, None, 0, 0, Side::Dst, dst, None);
        write_eth(f, v.eth_dst, v.eth_src, ETHERTYPE_IPV4);
        self.c.fragments_translated += 1;
        out.emit(OutputGate(v.gate), p);
    }

    /// A non-first fragment: translate it like its first fragment, or hold it.
    pub(super) fn later_fragment(
        &mut self,
        now: Instant,
        gate: u16,
        pkt: PacketBuf,
        ip: &Ip,
        out: &mut Outputs,
    ) {
        let key = FragKey::new(gate, ip);
        if self.frags.get(&key).is_some_and(|r| r.until <= now) {
            self.drop_record(&key, out); // expired, not yet reaped
        }
        match self.frags.get_mut(&key) {
            Some(FragRec {
                done: Some(done), ..
            }) => {
                let done = *done;
                self.emit_fragment(pkt, done, out);
            }
            Some(rec) => {
                if self.frags_held >= FRAG_HOLD_TOTAL || rec.held.is_full() {
                    out.drop(pkt, NatDrop::FragmentLimit);
                } else {
                    rec.held.push(pkt);
                    self.frags_held += 1;
                    self.c.fragments_held += 1;
                }
            }
            None => {
                if self.frags_held >= FRAG_HOLD_TOTAL || self.frags.len() >= FRAG_MAX_RECORDS {
                    out.drop(pkt, NatDrop::FragmentLimit);
                    return;
                }
                let until = now + FRAG_TIMEOUT;
                let mut held = ArrayVec::new();
                held.push(pkt);
                self.frags.insert(
                    key,
                    FragRec {
                        done: None,
                        held,
                        until,
                    },
                );
                self.frag_fifo.push_back((key, until));
                self.frags_held += 1;
                self.c.fragments_held += 1;
            }
        }
    }

    fn drop_record(&mut self, key: &FragKey, out: &mut Outputs) {
        if let Some(rec) = self.frags.remove(key) {
            for p in rec.held {
                self.frags_held -= 1;
                out.drop(p, NatDrop::FragmentTimeout);
            }
        }
    }

    /// Forget translations and drop held fragments older than [`FRAG_TIMEOUT`].
    pub(super) fn expire_fragments(&mut self, now: Instant, out: &mut Outputs) {
        while let Some(&(key, until)) = self.frag_fifo.front() {
            if until > now {
                break;
            }
            self.frag_fifo.pop_front();
            if self.frags.get(&key).is_some_and(|r| r.until == until) {
                self.drop_record(&key, out);
            }
        }
    }
}
