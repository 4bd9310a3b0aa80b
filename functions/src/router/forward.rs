//! IPv4 input and forwarding (RFC 1812 §5.2, §5.3): header checks, martian filters,
//! route lookup, TTL, and sending to a next hop.

use std::net::Ipv4Addr;
use std::time::Duration;

use arrayvec::ArrayVec;
use nfv_dataplane::wire::ipv4::{self, IP, Ipv4Header as Ip};
use nfv_dataplane::wire::{ETHERTYPE_IPV4, be16, write_eth};
use nfv_dataplane::wire::{checksum, gso};
use nfv_dataplane::{Context, OutputGate, Outputs, PacketBuf};

use super::*;

/// RFC 1812 §5.3.7 / §4.2.2.11: a source that is not a unique host address.
pub(super) fn martian_source(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || first >= 224
}

/// RFC 1812 §5.3.7: destinations never forwarded (multicast and limited broadcast are
/// handled separately).
pub(super) fn martian_destination(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || (240..255).contains(&first) || (first == 255 && a != u32::MAX)
}

pub(super) fn is_multicast(a: u32) -> bool {
    a >> 28 == 0xe
}

/// True if the IPv4 options carry a loose or strict source route (RFC 791 types 0x83,
/// 0x89): RFC 1812 §5.2.7.2 forbids redirects for such packets.
pub(super) fn source_routed(f: &[u8], ihl: usize) -> bool {
    let end = (IP + ihl).min(f.len());
    let mut o = IP + 20;
    while o < end {
        match f[o] {
            0 => return false,
            1 => o += 1,
            t => {
                if t == 0x83 || t == 0x89 {
                    return true;
                }
                let len = f.get(o + 1).map_or(0, |l| usize::from(*l));
                if len < 2 {
                    return false;
                }
                o += len;
            }
        }
    }
    false
}

pub(super) fn is_link_local(a: u32) -> bool {
    a >> 16 == 0xa9fe
}

impl Ipv4Router {
    pub(super) fn handle_ipv4(
        &mut self,
        ctx: &mut Context,
        i: u16,
        mut pkt: PacketBuf,
        l2b: bool,
        out: &mut Outputs,
    ) {
        // Ethernet padding trimmed; forwarding keeps the header valid (TTL with an RFC 1624
        // update; fragments and segments change lengths, which clears the mark): the next
        // element may reuse the validation.
        let ip = match ipv4::input(&mut pkt) {
            Ok(ip) => ip,
            Err(r) => {
                out.drop(pkt, r); // RFC 1812 §5.2.2: silently discarded, counted
                return;
            }
        };
        // A connected subnet's directed broadcast (or its {network, 0} form, §4.2.3.1) is no
        // valid source either (RFC 1812 §5.3.7 via §4.2.2.11 (d)), and a packet from outside
        // claiming one of the router's own addresses is spoofed (Linux drops it as martian).
        let src_bad = self.ifaces.iter().any(|f| {
            f.addr == ip.src
                || (f.mask < u32::MAX - 1 && (f.broadcast() == ip.src || f.net() == ip.src))
        });
        if martian_source(ip.src) || src_bad {
            out.drop(pkt, RouterDrop::MartianSource);
            return;
        }
        if ip.dst == u32::MAX {
            out.drop(pkt, RouterDrop::BroadcastNotForwarded); // RFC 1812 §5.3.5
            return;
        }
        if is_multicast(ip.dst) {
            out.drop(pkt, RouterDrop::MulticastNotForwarded);
            return;
        }
        if martian_destination(ip.dst) {
            out.drop(pkt, RouterDrop::MartianDestination);
            return;
        }
        let route = self.route(ip.dst);
        if is_link_local(ip.dst) && route != Some(NextHop::Local) {
            out.drop(pkt, RouterDrop::LinkLocalAddress); // RFC 3927 §7
            return;
        }
        out.note(&pkt, || self.describe_route(ip.dst, route));
        match route {
            Some(NextHop::Local) => self.local(ctx, pkt, ip, l2b, out),
            Some(NextHop::Broadcast) => out.drop(pkt, RouterDrop::BroadcastNotForwarded),
            Some(_) if l2b => out.drop(pkt, RouterDrop::L2BroadcastNotForwarded), // §5.3.4
            Some(NextHop::Connected(j)) => self.forward(ctx, i, pkt, ip, j, ip.dst, out),
            Some(NextHop::Gateway(j, gw)) => self.forward(ctx, i, pkt, ip, j, gw, out),
            None => {
                // RFC 1812 §5.2.7.1: Destination Unreachable, Network Unreachable.
                self.icmp_error(
                    ctx,
                    i,
                    &pkt,
                    l2b,
                    icmp::DEST_UNREACH,
                    icmp::NET_UNREACH,
                    0,
                    out,
                );
                out.drop(pkt, RouterDrop::NoRoute);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward(
        &mut self,
        ctx: &mut Context,
        i: u16,
        mut pkt: PacketBuf,
        ip: Ip,
        j: u16,
        nh: u32,
        out: &mut Outputs,
    ) {
        if is_link_local(ip.src) || is_link_local(ip.dst) {
            out.drop(pkt, RouterDrop::LinkLocalAddress); // RFC 3927 §7
            return;
        }
        // RFC 1812 §5.3.1: TTL expiry → Time Exceeded, code 0.
        if ip.ttl <= 1 {
            self.icmp_error(ctx, i, &pkt, false, icmp::TIME_EXCEEDED, 0, 0, out);
            out.drop(pkt, RouterDrop::TtlExceeded);
            return;
        }
        let mtu = usize::from(self.ifaces[j as usize].mtu);
        // A GSO super-frame's IP total length is the whole super-frame's (up to 64 KB): what
        // must fit the next hop is each segment (Linux `ip_forward` checks GSO skbs with
        // `skb_gso_validate_network_len` the same way).
        let gso = match pkt.offload().map(|o| gso::check(pkt.data(), &o)) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(plan))) => Some(plan),
            Some(Err(r)) => {
                out.drop(pkt, r);
                return;
            }
        };
        let too_big = match &gso {
            Some(plan) => plan.ip_segment_len() > mtu,
            None => ip.total > mtu,
        };
        if too_big && ip.dont_frag {
            // RFC 1812 §5.2.6 / RFC 1191: Fragmentation Needed with the next-hop MTU.
            self.icmp_error(
                ctx,
                i,
                &pkt,
                false,
                icmp::DEST_UNREACH,
                icmp::FRAG_NEEDED,
                mtu as u32,
                out,
            );
            out.drop(pkt, RouterDrop::FragmentationNeeded);
            return;
        }
        // RFC 1812 §5.2.7.2: redirect a sender on this subnet to a better next hop on it.
        let ingress = &self.ifaces[i as usize];
        if self.redirects
            && j == i
            && !source_routed(pkt.data(), ip.ihl)
            && ingress.contains(ip.src)
            && ingress.contains(nh)
            && nh != ip.src
        {
            self.icmp_error(
                ctx,
                i,
                &pkt,
                false,
                icmp::REDIRECT,
                icmp::REDIRECT_HOST,
                nh,
                out,
            );
        }
        // TTL decrement with an RFC 1624 incremental checksum update.
        let f = pkt.data_mut();
        let old = be16(f, IP + 8);
        f[IP + 8] = ip.ttl - 1;
        let c = checksum::update16(be16(f, IP + 10), old, be16(f, IP + 8));
        f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
        out.note(&pkt, || format!("ttl {} -> {}", ip.ttl, ip.ttl - 1));
        self.c.forwarded += 1;
        if let (true, Some(plan)) = (too_big, gso) {
            self.segment(ctx, pkt, &plan, mtu, j, nh, i, out);
        } else if too_big {
            self.fragment(ctx, pkt, ip, mtu, j, nh, i, out);
        } else {
            self.send_ip(ctx, pkt, j, nh, Some(i), out);
        }
    }

    /// Send an IP packet (Ethernet header space at the front) out of `iface` to next hop
    /// `nh`, resolving its MAC if needed. `ingress` is where the packet entered (for an
    /// ICMP Host Unreachable), `None` for packets the router made.
    pub(super) fn send_ip(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        iface: u16,
        nh: u32,
        ingress: Option<u16>,
        out: &mut Outputs,
    ) {
        let now = ctx.now;
        let timeout = self.arp_timeout;
        let src_mac = self.ifaces[iface as usize].mac;
        let mut probe = false;
        if let Some(e) = self.arp.get_mut(&nh) {
            match &mut e.state {
                ArpState::Resolved {
                    mac,
                    confirmed,
                    last_probe,
                } if now.saturating_since(*confirmed) <= timeout => {
                    // Refresh in the last quarter of the entry's life, at most 1/s.
                    if now.saturating_since(*confirmed) > self.arp_refresh_after
                        && now.saturating_since(*last_probe) >= Duration::from_secs(1)
                    {
                        *last_probe = now;
                        probe = true;
                    }
                    let mac = *mac;
                    out.note(&pkt, || {
                        format!(
                            "arp hit: {} is {}",
                            Ipv4Addr::from(nh),
                            crate::show::mac(&mac)
                        )
                    });
                    write_eth(pkt.data_mut(), mac, src_mac, ETHERTYPE_IPV4);
                    out.emit(OutputGate(iface), pkt);
                    if probe {
                        self.send_arp_request(ctx, iface, nh, out);
                    }
                    return;
                }
                ArpState::Incomplete { queue, .. } => {
                    out.note(&pkt, || {
                        format!("arp pending for {}: queued", Ipv4Addr::from(nh))
                    });
                    match queue.try_push(pkt) {
                        Ok(()) => self.held += 1,
                        Err(e) => out.drop(e.element(), RouterDrop::ArpQueueFull),
                    }
                    return;
                }
                ArpState::Failed { until } if now < *until => {
                    out.note(&pkt, || format!("arp failed for {}", Ipv4Addr::from(nh)));
                    if let Some(ingress) = ingress {
                        self.icmp_error(
                            ctx,
                            ingress,
                            &pkt,
                            false,
                            icmp::DEST_UNREACH,
                            icmp::HOST_UNREACH,
                            0,
                            out,
                        );
                    }
                    out.drop(pkt, RouterDrop::HostUnreachable);
                    return;
                }
                _ => {}
            }
        }
        // Unknown, expired or failed-and-expired: start resolving.
        if !self.arp.contains_key(&nh) && self.arp.len() >= ARP_MAX_ENTRIES {
            out.drop(pkt, RouterDrop::ArpQueueFull);
            return;
        }
        out.note(&pkt, || {
            format!(
                "arp miss for {}: queued, arp request sent",
                Ipv4Addr::from(nh)
            )
        });
        let mut queue = Box::new(ArrayVec::new());
        let _ = queue.try_push(pkt);
        self.held += 1;
        self.arp.insert(
            nh,
            ArpEntry {
                iface,
                state: ArpState::Incomplete {
                    tries: 1,
                    last_request: now,
                    queue,
                },
            },
        );
        self.send_arp_request(ctx, iface, nh, out);
    }

    /// Route a packet the router made (ICMP) towards `dst`.
    pub(super) fn send_originated(
        &mut self,
        ctx: &mut Context,
        pkt: PacketBuf,
        dst: u32,
        out: &mut Outputs,
    ) {
        match self.route(dst) {
            Some(NextHop::Connected(j)) => self.send_ip(ctx, pkt, j, dst, None, out),
            Some(NextHop::Gateway(j, gw)) => self.send_ip(ctx, pkt, j, gw, None, out),
            _ => out.drop(pkt, RouterDrop::NoRoute),
        }
    }
}
