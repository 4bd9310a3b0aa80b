//! ICMP (RFC 792, RFC 1812 §4.3.2): errors the router sends and local delivery (echo,
//! Port/Protocol Unreachable, TCP RST).

use std::net::Ipv4Addr;

use nfv_dataplane::wire::ipv4::{
    IP, Ipv4Header as Ip, fix_checksum as fix_ip_checksum, parse as parse_ipv4,
};
use nfv_dataplane::wire::{be16, be32, ip_proto};
use nfv_dataplane::wire::{checksum, icmp as icmp_wire};
use nfv_dataplane::{Context, DropReason, Outputs, PacketBuf};

use super::forward::{is_multicast, martian_source};
use super::*;

// ICMP types, codes and classes: the one definition in the wire layer.
pub(super) use nfv_dataplane::wire::icmp::{
    DEST_UNREACH, ECHO_REPLY, ECHO_REQUEST, FRAG_NEEDED, HOST_UNREACH, NET_UNREACH, PORT_UNREACH,
    PROTO_UNREACH, REDIRECT, REDIRECT_HOST, TIME_EXCEEDED, is_query,
};

impl Ipv4Router {
    /// Send an ICMP error about the packet in frame `orig`, which arrived on `ingress`;
    /// the error's source is that interface's address (what traceroute shows for a hop).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn icmp_error(
        &mut self,
        ctx: &mut Context,
        ingress: u16,
        orig: &PacketBuf,
        l2_broadcast: bool,
        typ: u8,
        code: u8,
        rest: u32,
        out: &mut Outputs,
    ) {
        let src = self.ifaces[ingress as usize].addr;
        self.icmp_error_from(ctx, src, orig, l2_broadcast, typ, code, rest, out);
    }

    /// Send an ICMP error about the packet in frame `orig` from the router's address `src`
    /// (RFC 1812 §4.3.2.4: one of the router's own addresses), unless RFC 1812 §4.3.2.7
    /// forbids it or the rate limit says no.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn icmp_error_from(
        &mut self,
        ctx: &mut Context,
        src: u32,
        orig: &PacketBuf,
        l2_broadcast: bool,
        typ: u8,
        code: u8,
        rest: u32,
        out: &mut Outputs,
    ) {
        let f = orig.data();
        let Ok(ip) = parse_ipv4(f) else {
            return;
        };
        // RFC 1812 §4.3.2.7: never in response to these.
        let about_icmp_error = ip.proto == ip_proto::ICMP
            && ip.frag_off == 0
            && f.get(IP + ip.ihl).is_some_and(|t| !icmp::is_query(*t));
        let dst_broadcast = ip.dst == u32::MAX
            || is_multicast(ip.dst)
            || self
                .ifaces
                .iter()
                .any(|i| i.mask < u32::MAX - 1 && i.broadcast() == ip.dst);
        if about_icmp_error
            || dst_broadcast
            || l2_broadcast
            || ip.frag_off != 0
            || martian_source(ip.src)
        {
            self.c.icmp_errors_suppressed += 1;
            return;
        }
        if !self.icmp_bucket.take(ctx.now) {
            self.c.icmp_errors_rate_limited += 1;
            return;
        }
        let Some(mut p) = ctx.alloc() else {
            self.c.no_buffer += 1;
            return;
        };
        let id = self.next_id();
        let h = icmp_wire::ErrorHeader {
            eth_dst: [0; 6], // send_originated writes the Ethernet header
            eth_src: [0; 6],
            src,
            dst: ip.src,
            id,
            typ,
            code,
            rest,
        };
        if !icmp_wire::build_error(&mut p, &h, &f[IP..IP + ip.total]) {
            out.drop(p, DropReason::NoBuffer);
            return;
        }
        out.note(orig, || {
            format!(
                "icmp error type {typ} code {code} sent to {}",
                Ipv4Addr::from(ip.src)
            )
        });
        out.note(&p, || {
            format!(
                "icmp error type {typ} code {code} from {} to {}",
                Ipv4Addr::from(src),
                Ipv4Addr::from(ip.src)
            )
        });
        if typ == icmp::REDIRECT {
            self.c.redirects_sent += 1;
        } else {
            self.c.icmp_errors_sent += 1;
        }
        self.send_originated(ctx, p, ip.src, out);
    }

    // -------------------------------------------------------------- local

    /// A packet addressed to one of the router's own addresses.
    pub(super) fn local(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        ip: Ip,
        l2b: bool,
        out: &mut Outputs,
    ) {
        self.c.local_delivered += 1;
        if ip.frag_off != 0 || ip.more_frags {
            // No reassembly for the router's own traffic: nothing it serves needs it.
            out.consume(pkt);
            return;
        }
        let l4 = IP + ip.ihl;
        let end = IP + ip.total;
        match ip.proto {
            ip_proto::ICMP => {
                let f = pkt.data();
                if end - l4 < 8 || !checksum::verify(&f[l4..end]) || f[l4] != icmp::ECHO_REQUEST {
                    out.consume(pkt);
                    return;
                }
                // RFC 1812 §4.3.3.6 echo server: the request becomes the reply in place.
                let f = pkt.data_mut();
                f[IP + 12..IP + 16].copy_from_slice(&ip.dst.to_be_bytes());
                f[IP + 16..IP + 20].copy_from_slice(&ip.src.to_be_bytes());
                f[IP + 8] = 64;
                fix_ip_checksum(f, ip.ihl);
                let old = be16(f, l4);
                f[l4] = icmp::ECHO_REPLY;
                let c = checksum::update16(be16(f, l4 + 2), old, be16(f, l4));
                f[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
                self.c.echo_replies += 1;
                self.send_originated(ctx, pkt, ip.src, out);
            }
            ip_proto::UDP => {
                self.icmp_error_from(
                    ctx,
                    ip.dst,
                    &pkt,
                    l2b,
                    icmp::DEST_UNREACH,
                    icmp::PORT_UNREACH,
                    0,
                    out,
                );
                out.consume(pkt);
            }
            ip_proto::TCP => self.tcp_reset(ctx, pkt, ip, out),
            _ => {
                self.icmp_error_from(
                    ctx,
                    ip.dst,
                    &pkt,
                    l2b,
                    icmp::DEST_UNREACH,
                    icmp::PROTO_UNREACH,
                    0,
                    out,
                );
                out.consume(pkt);
            }
        }
    }

    /// RFC 793 "reset generation" for a segment to a closed port, in place.
    pub(super) fn tcp_reset(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        ip: Ip,
        out: &mut Outputs,
    ) {
        let l4 = IP + ip.ihl;
        let f = pkt.data();
        if ip.total < ip.ihl + 20 {
            out.consume(pkt);
            return;
        }
        let flags = f[l4 + 13];
        if flags & 0x04 != 0 {
            out.consume(pkt); // never answer a RST
            return;
        }
        let (sport, dport) = (be16(f, l4), be16(f, l4 + 2));
        let (seq, ack) = (be32(f, l4 + 4), be32(f, l4 + 8));
        let doff = usize::from(f[l4 + 12] >> 4) * 4;
        let seg_len = ip.total.saturating_sub(ip.ihl + doff) as u32
            + u32::from(flags & 0x02 != 0)
            + u32::from(flags & 0x01 != 0);
        let (new_seq, new_ack, new_flags) = if flags & 0x10 != 0 {
            (ack, 0, 0x04)
        } else {
            (0, seq.wrapping_add(seg_len), 0x14)
        };
        let id = self.next_id();
        pkt.truncate(l4 + 20);
        let f = pkt.data_mut();
        f[IP] = 0x45;
        f[IP + 2..IP + 4].copy_from_slice(&40u16.to_be_bytes());
        f[IP + 4..IP + 6].copy_from_slice(&id.to_be_bytes());
        f[IP + 6..IP + 8].copy_from_slice(&[0x40, 0]);
        f[IP + 8] = 64;
        f[IP + 12..IP + 16].copy_from_slice(&ip.dst.to_be_bytes());
        f[IP + 16..IP + 20].copy_from_slice(&ip.src.to_be_bytes());
        // Drop IP options: the reset is a fresh 20-byte header.
        if ip.ihl > 20 {
            f.copy_within(l4..l4 + 20, IP + 20);
        }
        let t = IP + 20;
        f[t..t + 2].copy_from_slice(&dport.to_be_bytes());
        f[t + 2..t + 4].copy_from_slice(&sport.to_be_bytes());
        f[t + 4..t + 8].copy_from_slice(&new_seq.to_be_bytes());
        f[t + 8..t + 12].copy_from_slice(&new_ack.to_be_bytes());
        f[t + 12] = 5 << 4;
        f[t + 13] = new_flags;
        f[t + 14..t + 20].copy_from_slice(&[0; 6]);
        pkt.truncate(t + 20);
        let f = pkt.data_mut();
        fix_ip_checksum(f, 20);
        let ps = checksum::pseudo_header_v4(ip.dst, ip.src, ip_proto::TCP, 20);
        let c = !checksum::fold(checksum::sum(&f[t..t + 20], ps));
        f[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        self.c.tcp_resets_sent += 1;
        self.send_originated(ctx, pkt, ip.src, out);
    }
}
