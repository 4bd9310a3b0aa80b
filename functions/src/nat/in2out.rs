//! Inside → outside: source translation (with mapping and session creation), hairpinning,
//! and ICMP errors sent by inside hosts.

use super::NatDrop;
use nfv_dataplane::wire::checksum;
use nfv_dataplane::wire::{be16, be32, eth_dst, eth_src};
use nfv_dataplane::{DropReason, Instant};

use super::rewrite::{
    Embedded, IP, Ip, Kind, L4, Side, fix_icmp_checksum, parse_embedded, rewrite,
};
use super::{Action, INSIDE, Nat44, NatProto, OUTSIDE, Verdict};

impl Nat44 {
    /// Ethernet destination for a frame leaving `outside`. Frames from the inside normally
    /// carry the outside next hop's MAC already (the router resolved it through the NAT); a
    /// frame addressed to the NAT's own inside MAC (an answer built by a transparent box
    /// between router and NAT, e.g. a firewall's TCP reset for an inbound forward) goes to
    /// the outside neighbour the NAT last heard from.
    fn outside_next_hop(&self, dst: [u8; 6]) -> [u8; 6] {
        if dst == self.inside_mac {
            self.last_outside.unwrap_or(dst)
        } else {
            dst
        }
    }

    /// Translate the source of an outbound (or hairpinned) packet: 1:1 address, or the
    /// endpoint-independent mapping of `(proto, src, sport)` (RFC 4787 REQ-1, RFC 5382
    /// REQ-1, RFC 5508 REQ-1), refreshed by this outbound packet (REQ-6).
    pub(super) fn translate_src(
        &mut self,
        now: Instant,
        f: &mut [u8],
        ip: &Ip,
        l4: &L4,
    ) -> Result<(), Action> {
        let mac = eth_src(f);
        self.last_inside = Some(mac);
        let end = IP + ip.total;
        if let Some(&ext) = (!self.one_in.is_empty())
            .then(|| self.one_in.get(&ip.src))
            .flatten()
        {
            rewrite(f, IP, Some(l4.off), end, ip.proto, Side::Src, ext, None);
            return Ok(());
        }
        let Some(proto) = l4.proto else {
            return Err(Action::Drop(NatDrop::UnsupportedProtocol.into()));
        };
        let m = self.table.outbound(
            now,
            proto,
            ip.src,
            l4.sport,
            ip.dst,
            l4.remote_port(l4.dport),
            l4.flags,
            mac,
        )?;
        let mp = self.table.mapping(m);
        let (ext_ip, ext_port) = (mp.ext_ip, mp.ext_port);
        rewrite(
            f,
            IP,
            Some(l4.off),
            end,
            ip.proto,
            Side::Src,
            ext_ip,
            Some(ext_port),
        );
        Ok(())
    }

    /// Inside → outside: translate the source; Ethernet source becomes the outside MAC.
    pub(super) fn in2out(&mut self, now: Instant, f: &mut [u8], ip: &Ip, l4: &L4) -> Action {
        if let Err(a) = self.translate_src(now, f, ip, l4) {
            return a;
        }
        self.c.in2out += 1;
        Action::Emit(Verdict {
            gate: OUTSIDE,
            eth_dst: self.outside_next_hop(eth_dst(f)),
            eth_src: self.outside_mac,
        })
    }

    /// Inside → one of our external addresses (RFC 4787 REQ-9, RFC 5382 REQ-8, RFC 5508
    /// REQ-7): translate the source as if leaving, so the target sees the sender's external
    /// address and port (REQ-9a), then the destination as if arriving from that external
    /// source (filtering included); back out of `inside` to the router.
    pub(super) fn hairpin(&mut self, now: Instant, f: &mut [u8], ip: &Ip, l4: &L4) -> Action {
        // Look at the destination first, so that an unmappable one creates no state.
        if self.dst_lookup(now, ip.dst, l4).is_none() {
            self.c.no_mapping += 1;
            return Action::Drop(NatDrop::NoMapping.into());
        }
        let router = eth_src(f);
        if let Err(a) = self.translate_src(now, f, ip, l4) {
            return a;
        }
        let new_src = be32(f, IP + 12);
        let new_sport = if l4.kind == Kind::Ported {
            be16(f, l4.off)
        } else {
            0
        };
        if let Err(a) = self.translate_dst(now, f, ip, l4, new_src, new_sport, false) {
            return a;
        }
        self.c.hairpinned += 1;
        Action::Emit(Verdict {
            gate: INSIDE,
            eth_dst: router,
            eth_src: self.inside_mac,
        })
    }

    /// The inside half of an ICMP error's translation. The quoted packet went from a remote
    /// to an inside endpoint, so its *destination* is the inside endpoint: rewrite it (and
    /// the outer source) to the external endpoint. Needs an active mapping that would admit
    /// the quoted packet (RFC 5508 REQ-4); touches no timer (REQ-6).
    pub(super) fn error_inside_half(
        &mut self,
        now: Instant,
        f: &mut [u8],
        e: &Embedded,
    ) -> Result<(), Action> {
        let (ext_ip, ext_port) = if let Some(&ext) = self.one_in.get(&e.dst) {
            (ext, None)
        } else {
            let proto: NatProto = e.nat.ok_or(Action::Drop(NatDrop::IcmpNoSession.into()))?;
            let m = self
                .table
                .lookup_in(now, proto, e.dst, e.dport)
                .filter(|&m| self.table.allows(now, m, e.src, e.remote_port(e.sport)))
                .ok_or(Action::Drop(NatDrop::IcmpNoSession.into()))?;
            let mp = self.table.mapping(m);
            (mp.ext_ip, Some(mp.ext_port))
        };
        rewrite(f, IP, None, 0, 0, Side::Src, ext_ip, None);
        rewrite(
            f,
            e.ipo,
            Some(e.l4o),
            e.end,
            e.proto,
            Side::Dst,
            ext_ip,
            ext_port,
        );
        Ok(())
    }

    /// An ICMP error from an inside host (RFC 5508 REQ-3/4, RFC 5382 REQ-9), to the outside
    /// or hairpinned to another inside host (RFC 5508 REQ-7).
    pub(super) fn icmp_error_from_inside(
        &mut self,
        now: Instant,
        f: &mut [u8],
        ip: &Ip,
        l4: &L4,
        hairpin: bool,
    ) -> Action {
        let end = IP + ip.total;
        if !checksum::verify(&f[l4.off..end]) {
            return Action::Drop(NatDrop::IcmpBadChecksum.into());
        }
        let Some(e) = parse_embedded(f, ip) else {
            return Action::Drop(DropReason::Malformed.into());
        };
        let router = eth_src(f);
        if let Err(a) = self.error_inside_half(now, f, &e) {
            return a;
        }
        let v = if hairpin {
            // The quote's destination is now external: re-read it for the outside half.
            let Some(e) = parse_embedded(f, ip) else {
                return Action::Drop(DropReason::Malformed.into());
            };
            if let Err(a) = self.error_outside_half(now, f, &e) {
                return a;
            }
            self.c.hairpinned += 1;
            Verdict {
                gate: INSIDE,
                eth_dst: router,
                eth_src: self.inside_mac,
            }
        } else {
            Verdict {
                gate: OUTSIDE,
                eth_dst: self.outside_next_hop(eth_dst(f)),
                eth_src: self.outside_mac,
            }
        };
        fix_icmp_checksum(f, l4.off, end);
        self.c.icmp_errors_translated += 1;
        Action::Emit(v)
    }
}
