//! Fragmentation (RFC 791, RFC 1812 §5.2.6) and software segmentation of GSO super-frames.

use nfv_dataplane::wire::ETH_HLEN;
use nfv_dataplane::wire::gso;
use nfv_dataplane::wire::ipv4::{
    IP, Ipv4Header as Ip, fix_checksum as fix_ip_checksum, parse as parse_ipv4,
};
use nfv_dataplane::{Context, DropReason, Outputs, PacketBuf};

use super::*;

impl Ipv4Router {
    /// A GSO super-frame without DF whose segments do not fit the next hop's MTU: cut it
    /// into its segments in software ([`gso::Plan`]), then fragment each that is still too
    /// big (RFC 791), as Linux does for a GSO skb it may fragment (`ip_finish_output_gso`).
    /// Segments are sent in order as they are made; the original becomes the last one (its
    /// last payload chunk moves up behind the headers), so nothing is allocated but the
    /// segments' buffers. If the pool runs dry half-way, the segments already sent stay
    /// sent (for TCP, like a loss of the rest) and the original is a `no_buffer` drop.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn segment(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        plan: &gso::Plan,
        mtu: usize,
        j: u16,
        nh: u32,
        i: u16,
        out: &mut Outputs,
    ) {
        let last = plan.count - 1;
        for k in 0..last {
            let Some(mut p) = ctx.alloc() else {
                out.drop(pkt, DropReason::NoBuffer);
                return;
            };
            match plan.write_segment(pkt.data(), k, p.buffer_mut()) {
                Some(n) => p.set_len(n),
                None => {
                    out.drop(p, DropReason::NoBuffer);
                    out.drop(pkt, DropReason::NoBuffer);
                    return;
                }
            }
            self.c.gso_segments_created += 1;
            self.send_segment(ctx, p, mtu, j, nh, i, out);
        }
        let start = plan.hdr_len + last * plan.mss;
        pkt.data_mut().copy_within(start.., plan.hdr_len);
        pkt.truncate(plan.segment_len(last));
        plan.fix_segment(pkt.data_mut(), last);
        pkt.set_offload(None);
        self.c.gso_segments_created += 1;
        self.send_segment(ctx, pkt, mtu, j, nh, i, out);
    }

    /// Send one software-made segment, fragmenting it if it is still over `mtu`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_segment(
        &mut self,
        ctx: &mut Context,
        p: PacketBuf,
        mtu: usize,
        j: u16,
        nh: u32,
        i: u16,
        out: &mut Outputs,
    ) {
        match parse_ipv4(p.data()) {
            Ok(sip) if sip.total > mtu => self.fragment(ctx, p, sip, mtu, j, nh, i, out),
            Ok(_) => self.send_ip(ctx, p, j, nh, Some(i), out),
            Err(r) => out.drop(p, r),
        }
    }

    /// RFC 791 fragmentation into pieces of at most `mtu` bytes. The original becomes the
    /// first fragment; the others are new packets. Options without the copy flag appear
    /// only in the first fragment.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fragment(
        &mut self,
        ctx: &mut Context,
        mut pkt: PacketBuf,
        ip: Ip,
        mtu: usize,
        j: u16,
        nh: u32,
        i: u16,
        out: &mut Outputs,
    ) {
        // A partial (NEEDS_CSUM) transport checksum cannot be finished by the receiver over
        // fragments: complete it first, as Linux `ip_do_fragment` does (`skb_checksum_help`).
        if let Some(o) = pkt.offload() {
            if o.flags & gso::F_NEEDS_CSUM != 0
                && let Err(r) = gso::complete_csum(pkt.data_mut(), &o)
            {
                out.drop(pkt, r);
                return;
            }
            pkt.set_offload(None);
        }
        let f = pkt.data();
        // Header for the 2nd.. fragments: base header + copied options, padded to 4 bytes.
        let mut rest_hdr = [0u8; 60];
        rest_hdr[..20].copy_from_slice(&f[IP..IP + 20]);
        let mut rl = 20;
        let mut o = IP + 20;
        while o < IP + ip.ihl {
            let t = f[o];
            if t == 0 {
                break;
            }
            if t == 1 {
                o += 1;
                continue;
            }
            let len = f.get(o + 1).map_or(0, |l| usize::from(*l));
            if len < 2 || o + len > IP + ip.ihl {
                break;
            }
            if t & 0x80 != 0 {
                rest_hdr[rl..rl + len].copy_from_slice(&f[o..o + len]);
                rl += len;
            }
            o += len;
        }
        let rl = rl.div_ceil(4) * 4;
        rest_hdr[0] = 0x40 | (rl / 4) as u8;
        let first_data = (mtu - ip.ihl) & !7;
        let rest_data = (mtu - rl) & !7;
        let payload = ip.total - ip.ihl;
        // Allocate every fragment first: a datagram with a missing fragment is worthless.
        let mut frags: Vec<PacketBuf> = Vec::new();
        let mut off = first_data;
        while off < payload {
            let n = rest_data.min(payload - off);
            let Some(mut p) = ctx.alloc() else {
                for p in frags {
                    out.drop(p, DropReason::NoBuffer);
                }
                out.drop(pkt, DropReason::NoBuffer);
                return;
            };
            let last = off + n == payload;
            let fo = ip.frag_off + (off / 8) as u16;
            let mf = !last || ip.more_frags;
            let mut h = rest_hdr;
            h[2..4].copy_from_slice(&((rl + n) as u16).to_be_bytes());
            h[6..8].copy_from_slice(&(fo | if mf { 0x2000 } else { 0 }).to_be_bytes());
            let data = &pkt.data()[IP + ip.ihl + off..IP + ip.ihl + off + n];
            let ok = p.extend_from_slice(&[0u8; ETH_HLEN])
                && p.extend_from_slice(&h[..rl])
                && p.extend_from_slice(data);
            if !ok {
                for p in frags {
                    out.drop(p, DropReason::NoBuffer);
                }
                out.drop(p, DropReason::NoBuffer);
                out.drop(pkt, DropReason::NoBuffer);
                return;
            }
            fix_ip_checksum(p.data_mut(), rl);
            frags.push(p);
            off += n;
        }
        // The original becomes the first fragment.
        pkt.truncate(IP + ip.ihl + first_data);
        let f = pkt.data_mut();
        f[IP + 2..IP + 4].copy_from_slice(&((ip.ihl + first_data) as u16).to_be_bytes());
        f[IP + 6..IP + 8].copy_from_slice(&(ip.frag_off | 0x2000).to_be_bytes());
        fix_ip_checksum(f, ip.ihl);
        self.c.fragments_created += frags.len() as u64 + 1;
        self.send_ip(ctx, pkt, j, nh, Some(i), out);
        for p in frags {
            self.send_ip(ctx, p, j, nh, Some(i), out);
        }
    }
}
