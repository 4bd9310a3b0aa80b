//! Answers to rejected packets: TCP RST (RFC 793) and ICMP Destination Unreachable.

use nfv_dataplane::wire::ipv4::{IP, Ipv4Header as Ip, fix_checksum as fix_ip_checksum};
use nfv_dataplane::wire::{ETHERTYPE_IPV4, be16, be32, eth_dst, eth_src, ip_proto, write_eth};
use nfv_dataplane::wire::{checksum, icmp as icmp_wire};
use nfv_dataplane::{Context, DropReason, OutputGate, Outputs, PacketBuf};

use super::*;

impl Firewall {
    pub(super) fn next_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Answer a rejected packet (TCP RST or ICMP error) out of the gate it came in on,
    /// unless RFC 1812 §4.3.2.7 (or RFC 793 for RSTs) forbids it or the rate limit says no.
    pub(super) fn reject(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        out: &mut Outputs,
    ) {
        let f = pkt.data();
        let l4 = IP + ip.ihl;
        let about_icmp_error = p.icmp_type.is_some_and(|t| icmp::query(t).is_none());
        let is_rst = p.proto == ip_proto::TCP && f[l4 + 13] & tcpf::RST != 0;
        if about_icmp_error
            || is_rst
            || eth_dst(f)[0] & 1 != 0
            || ip.dst == u32::MAX
            || is_multicast(ip.dst)
            || martian_source(ip.src)
            || ip.frag_off != 0
        {
            self.c.rejects_suppressed += 1;
            return;
        }
        if !self.bucket.take(ctx.now) {
            self.c.rejects_rate_limited += 1;
            return;
        }
        let Some(mut r) = ctx.alloc() else {
            self.c.no_buffer += 1;
            return;
        };
        let id = self.next_id();
        let built = if p.proto == ip_proto::TCP {
            tcp_reset(f, ip, id, &mut r)
        } else {
            let code = if p.proto == ip_proto::UDP {
                icmp::PORT_UNREACH
            } else {
                icmp::ADMIN_PROHIBITED
            };
            icmp_unreachable(f, ip, id, code, &mut r)
        };
        if !built {
            self.c.no_buffer += 1;
            out.drop(r, DropReason::NoBuffer);
            return;
        }
        if p.proto == ip_proto::TCP {
            self.c.tcp_resets_sent += 1;
        } else {
            self.c.icmp_errors_sent += 1;
        }
        out.emit(OutputGate(gate), r);
    }
}

/// RFC 793 reset generation for the segment in frame `f`, written into `r` with MACs,
/// addresses and ports swapped. False if `r` is too small.
pub(super) fn tcp_reset(f: &[u8], ip: &Ip, id: u16, r: &mut PacketBuf) -> bool {
    let l4 = IP + ip.ihl;
    let flags = f[l4 + 13];
    let (sport, dport) = (be16(f, l4), be16(f, l4 + 2));
    let (seq, ack) = (be32(f, l4 + 4), be32(f, l4 + 8));
    let doff = usize::from(f[l4 + 12] >> 4) * 4;
    let seg_len = ip.total.saturating_sub(ip.ihl + doff) as u32
        + u32::from(flags & tcpf::SYN != 0)
        + u32::from(flags & tcpf::FIN != 0);
    let (new_seq, new_ack, new_flags) = if flags & tcpf::ACK != 0 {
        (ack, 0, tcpf::RST)
    } else {
        (0, seq.wrapping_add(seg_len), tcpf::RST | tcpf::ACK)
    };
    let mut h = [0u8; IP + 40];
    write_eth(&mut h, eth_src(f), eth_dst(f), ETHERTYPE_IPV4);
    h[IP] = 0x45;
    h[IP + 2..IP + 4].copy_from_slice(&40u16.to_be_bytes());
    h[IP + 4..IP + 6].copy_from_slice(&id.to_be_bytes());
    h[IP + 6] = 0x40; // DF
    h[IP + 8] = 64;
    h[IP + 9] = ip_proto::TCP;
    h[IP + 12..IP + 16].copy_from_slice(&ip.dst.to_be_bytes());
    h[IP + 16..IP + 20].copy_from_slice(&ip.src.to_be_bytes());
    let t = IP + 20;
    h[t..t + 2].copy_from_slice(&dport.to_be_bytes());
    h[t + 2..t + 4].copy_from_slice(&sport.to_be_bytes());
    h[t + 4..t + 8].copy_from_slice(&new_seq.to_be_bytes());
    h[t + 8..t + 12].copy_from_slice(&new_ack.to_be_bytes());
    h[t + 12] = 5 << 4;
    h[t + 13] = new_flags;
    fix_ip_checksum(&mut h, 20);
    let ps = checksum::pseudo_header_v4(ip.dst, ip.src, ip_proto::TCP, 20);
    let c = !checksum::fold(checksum::sum(&h[t..t + 20], ps));
    h[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
    r.extend_from_slice(&h)
}

/// ICMP Destination Unreachable `code` about the packet in frame `f`, from its destination
/// back to its source, quoting it up to 576 bytes in all. False if `r` is too small.
pub(super) fn icmp_unreachable(f: &[u8], ip: &Ip, id: u16, code: u8, r: &mut PacketBuf) -> bool {
    let h = icmp_wire::ErrorHeader {
        eth_dst: eth_src(f),
        eth_src: eth_dst(f),
        src: ip.dst,
        dst: ip.src,
        id,
        typ: icmp::DEST_UNREACH,
        code,
        rest: 0,
    };
    icmp_wire::build_error(r, &h, &f[IP..IP + ip.total])
}
