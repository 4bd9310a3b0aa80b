//! ARP (RFC 826, RFC 1122 §2.3.2): the neighbour cache, requests, replies and the packets
//! held while a next hop resolves.

use arrayvec::ArrayVec;
use nfv_dataplane::wire::arp;
use nfv_dataplane::wire::{ETHERTYPE_ARP, ETHERTYPE_IPV4, MAC_BROADCAST, write_eth};
use nfv_dataplane::{Context, DropReason, Instant, OutputGate, Outputs, PacketBuf};

use super::*;

#[derive(Debug)]
pub(super) enum ArpState {
    Resolved {
        mac: [u8; 6],
        confirmed: Instant,
        last_probe: Instant,
    },
    Incomplete {
        tries: u8,
        last_request: Instant,
        /// Boxed: resolved entries (the common case) stay small; one allocation per next hop
        /// being resolved, not per packet.
        queue: Box<ArrayVec<PacketBuf, ARP_QUEUE_PER_NEXT_HOP>>,
    },
    Failed {
        until: Instant,
    },
}

#[derive(Debug)]
pub(super) struct ArpEntry {
    pub(super) iface: u16,
    pub(super) state: ArpState,
}

impl Ipv4Router {
    /// Build an ARP packet in a new buffer. A buffer too small for it (a pool with tiny
    /// buffers) is dropped as `no_buffer`, so the generated packet is still accounted for.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn arp_packet(
        ctx: &mut Context,
        out: &mut Outputs,
        eth_dst: [u8; 6],
        op: u16,
        sha: [u8; 6],
        spa: u32,
        tha: [u8; 6],
        tpa: u32,
    ) -> Option<PacketBuf> {
        let mut p = ctx.alloc()?;
        let mut f = [0u8; 60];
        write_eth(&mut f, eth_dst, sha, ETHERTYPE_ARP);
        f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 0]);
        f[20..22].copy_from_slice(&op.to_be_bytes());
        f[22..28].copy_from_slice(&sha);
        f[28..32].copy_from_slice(&spa.to_be_bytes());
        f[32..38].copy_from_slice(&tha);
        f[38..42].copy_from_slice(&tpa.to_be_bytes());
        if p.extend_from_slice(&f) {
            Some(p)
        } else {
            out.drop(p, DropReason::NoBuffer);
            None
        }
    }

    pub(super) fn send_arp_request(
        &mut self,
        ctx: &mut Context,
        iface: u16,
        target: u32,
        out: &mut Outputs,
    ) {
        let Some(ifc) = self.ifaces.get(iface as usize) else {
            return;
        };
        match Self::arp_packet(
            ctx,
            out,
            MAC_BROADCAST,
            1,
            ifc.mac,
            ifc.addr,
            [0; 6],
            target,
        ) {
            Some(p) => {
                self.c.arp_requests_sent += 1;
                out.emit(OutputGate(iface), p);
            }
            None => self.c.no_buffer += 1,
        }
    }

    /// Record `mac` for `ip` and send everything that waited for it.
    pub(super) fn arp_resolved(&mut self, ip: u32, mac: [u8; 6], now: Instant, out: &mut Outputs) {
        let Some(e) = self.arp.get_mut(&ip) else {
            return;
        };
        let iface = e.iface;
        let old = std::mem::replace(
            &mut e.state,
            ArpState::Resolved {
                mac,
                confirmed: now,
                last_probe: now,
            },
        );
        if let ArpState::Incomplete { queue, .. } = old {
            self.c.arp_resolved += 1;
            let src = self.ifaces[iface as usize].mac;
            for mut p in *queue {
                self.held -= 1;
                write_eth(p.data_mut(), mac, src, ETHERTYPE_IPV4);
                out.emit(OutputGate(iface), p);
            }
        }
    }

    pub(super) fn handle_arp(
        &mut self,
        ctx: &mut Context,
        i: u16,
        mut pkt: PacketBuf,
        out: &mut Outputs,
    ) {
        let Some(req) = arp::parse(pkt.data()) else {
            out.drop(pkt, DropReason::ArpInvalid);
            return;
        };
        // A group or zero sender hardware address is never believed or answered
        // (RFC 1812 §3.3.2).
        if !req.sender_is_unicast() {
            out.drop(pkt, DropReason::ArpInvalid);
            return;
        }
        let (op, sha, spa, tpa) = (req.op, req.sha, req.spa, req.tpa);
        let ifc = &self.ifaces[i as usize];
        let (my_mac, my_addr) = (ifc.mac, ifc.addr);
        let sender_ok = spa != 0 && ifc.contains(spa);
        // RFC 826 merge: refresh an entry we already have, from any ARP on this interface.
        if sender_ok && self.arp.get(&spa).is_some_and(|e| e.iface == i) {
            self.arp_resolved(spa, sha, ctx.now, out);
        }
        if tpa != my_addr || spa == my_addr {
            self.c.local_delivered += 1;
            out.consume(pkt);
            return;
        }
        // We are the target: learn the sender (RFC 826), then answer a request.
        if sender_ok && !self.arp.contains_key(&spa) && self.arp.len() < ARP_MAX_ENTRIES {
            self.arp.insert(
                spa,
                ArpEntry {
                    iface: i,
                    state: ArpState::Resolved {
                        mac: sha,
                        confirmed: ctx.now,
                        last_probe: ctx.now,
                    },
                },
            );
        }
        if op != arp::OP_REQUEST {
            self.c.local_delivered += 1;
            out.consume(pkt);
            return;
        }
        // Turn the request into the reply in place.
        pkt.truncate(60);
        arp::reply_in_place(pkt.data_mut(), &req, my_mac, my_addr);
        self.c.arp_replies_sent += 1;
        out.emit(OutputGate(i), pkt);
    }
}
