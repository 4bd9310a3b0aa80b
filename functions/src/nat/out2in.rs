//! Outside → inside: destination translation with filtering, unsolicited SYNs, and ICMP
//! errors arriving from outside.

use super::NatDrop;
use nfv_dataplane::wire::checksum;
use nfv_dataplane::{DropReason, Instant};

use super::rewrite::{
    Embedded, IP, Ip, L4, Side, fix_icmp_checksum, icmp, parse_embedded, rewrite,
};
use super::{Action, INSIDE, Nat44, NatProto, SynKey, Verdict};

/// What an external destination maps to.
#[derive(Clone, Copy, Debug)]
pub(super) enum Target {
    /// A 1:1 mapping: this internal address.
    OneToOne(u32),
    /// A mapping of the session table.
    Mapping(u32),
}

impl Nat44 {
    /// What the external destination `dst` (with `l4`'s destination port) maps to. Inbound
    /// ICMP query *requests* reach only 1:1 hosts: a dynamic mapping's identifier belongs
    /// to a query its inside host sent.
    pub(super) fn dst_lookup(&mut self, now: Instant, dst: u32, l4: &L4) -> Option<Target> {
        if let Some(&int) = self.one_out.get(&dst) {
            return Some(Target::OneToOne(int));
        }
        let proto = l4.proto?;
        if proto == NatProto::Icmp && !icmp::is_query_reply(l4.icmp_type) {
            return None;
        }
        self.table
            .lookup_out(now, proto, dst, l4.dport)
            .map(Target::Mapping)
    }

    /// Translate the destination of an inbound (or hairpinned) packet coming from
    /// `remote_ip:remote_port`, after filtering (RFC 4787 REQ-8, RFC 5382 REQ-3). Returns
    /// the inside neighbour MAC to send to, if one is known. With `may_hold`, an unsolicited
    /// SYN is to be held (RFC 5382 REQ-4) rather than dropped.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn translate_dst(
        &mut self,
        now: Instant,
        f: &mut [u8],
        ip: &Ip,
        l4: &L4,
        remote_ip: u32,
        remote_port: u16,
        may_hold: bool,
    ) -> Result<Option<[u8; 6]>, Action> {
        let end = IP + ip.total;
        let hold = may_hold && l4.is_syn();
        let syn_key = SynKey {
            ext_ip: ip.dst,
            ext_port: l4.dport,
            remote_ip,
            remote_port,
        };
        match self.dst_lookup(now, ip.dst, l4) {
            Some(Target::OneToOne(int)) => {
                rewrite(f, IP, Some(l4.off), end, ip.proto, Side::Dst, int, None);
                Ok(self.last_inside)
            }
            None if hold => Err(Action::HoldSyn(syn_key)),
            None if l4.proto.is_none() => Err(Action::Drop(NatDrop::UnsupportedProtocol.into())),
            None => Err(Action::Drop(NatDrop::NoMapping.into())),
            Some(Target::Mapping(m)) => {
                let rport = l4.remote_port(remote_port);
                if !self.table.allows(now, m, remote_ip, rport) {
                    return Err(if hold {
                        Action::HoldSyn(syn_key)
                    } else {
                        Action::Drop(NatDrop::Filtered.into())
                    });
                }
                if l4.proto == Some(NatProto::Tcp) {
                    self.table.inbound_tcp(now, m, remote_ip, rport, l4.flags);
                }
                let mp = self.table.mapping(m);
                let (int_ip, int_port, nb) = (mp.int_ip, mp.int_port, mp.neighbour);
                rewrite(
                    f,
                    IP,
                    Some(l4.off),
                    end,
                    ip.proto,
                    Side::Dst,
                    int_ip,
                    Some(int_port),
                );
                Ok(nb.or(self.last_inside))
            }
        }
    }

    /// Outside → inside: translate the destination; Ethernet destination = the inside
    /// neighbour, source = the inside MAC.
    pub(super) fn out2in(&mut self, now: Instant, f: &mut [u8], ip: &Ip, l4: &L4) -> Action {
        self.last_outside = Some(nfv_dataplane::wire::eth_src(f));
        match self.translate_dst(now, f, ip, l4, ip.src, l4.sport, true) {
            Err(a) => a,
            Ok(None) => Action::Drop(NatDrop::NoInsideNeighbour.into()),
            Ok(Some(mac)) => {
                self.c.out2in += 1;
                Action::Emit(Verdict {
                    gate: INSIDE,
                    eth_dst: mac,
                    eth_src: self.inside_mac,
                })
            }
        }
    }

    /// The outside half of an ICMP error's translation. The quoted packet is one we sent
    /// out, so its *source* is our external endpoint: rewrite it (and the outer destination)
    /// to the internal endpoint. Needs an active mapping that admits the quoted packet's
    /// destination (RFC 5508 REQ-5); touches no timer (REQ-6).
    pub(super) fn error_outside_half(
        &mut self,
        now: Instant,
        f: &mut [u8],
        e: &Embedded,
    ) -> Result<Option<[u8; 6]>, Action> {
        let (int_ip, int_port, nb) = if let Some(&int) = self.one_out.get(&e.src) {
            (int, None, self.last_inside)
        } else {
            let proto = e.nat.ok_or(Action::Drop(NatDrop::IcmpNoSession.into()))?;
            let m = self
                .table
                .lookup_out(now, proto, e.src, e.sport)
                .filter(|&m| self.table.allows(now, m, e.dst, e.remote_port(e.dport)))
                .ok_or(Action::Drop(NatDrop::IcmpNoSession.into()))?;
            let mp = self.table.mapping(m);
            (
                mp.int_ip,
                Some(mp.int_port),
                mp.neighbour.or(self.last_inside),
            )
        };
        rewrite(f, IP, None, 0, 0, Side::Dst, int_ip, None);
        rewrite(
            f,
            e.ipo,
            Some(e.l4o),
            e.end,
            e.proto,
            Side::Src,
            int_ip,
            int_port,
        );
        Ok(nb)
    }

    /// An ICMP error from outside about a packet we translated (RFC 5508 REQ-3/5, RFC 5382
    /// REQ-9).
    pub(super) fn icmp_error_from_outside(
        &mut self,
        now: Instant,
        f: &mut [u8],
        ip: &Ip,
        l4: &L4,
    ) -> Action {
        let end = IP + ip.total;
        if !checksum::verify(&f[l4.off..end]) {
            return Action::Drop(NatDrop::IcmpBadChecksum.into());
        }
        let Some(e) = parse_embedded(f, ip) else {
            return Action::Drop(DropReason::Malformed.into());
        };
        match self.error_outside_half(now, f, &e) {
            Err(a) => a,
            Ok(None) => Action::Drop(NatDrop::NoInsideNeighbour.into()),
            Ok(Some(mac)) => {
                fix_icmp_checksum(f, l4.off, end);
                self.c.icmp_errors_translated += 1;
                Action::Emit(Verdict {
                    gate: INSIDE,
                    eth_dst: mac,
                    eth_src: self.inside_mac,
                })
            }
        }
    }
}
