//! Connection tracking of allowed packets: flow lookup and creation, TCP state.

use nfv_dataplane::wire::ip_proto;
use nfv_dataplane::wire::ipv4::Ipv4Header as Ip;
use nfv_dataplane::{Context, Outputs, PacketBuf};

use super::*;

impl Firewall {
    /// A TCP, UDP, ICMP query or other-protocol packet. `Ok` to forward it.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn tracked(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        dir: Direction,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        sport: u32,
        dport: u32,
        starts: bool,
        tcp_flags: u8,
        out: &mut Outputs,
    ) -> Result<(), Reason> {
        let now = ctx.now;
        let (key, from_a) = FlowKey::of(p.proto, p.src, sport, p.dst, dport);
        let mut found = self.flows.lookup(&key, now);
        if let Some(i) = found {
            let f = self.flows.get(i);
            // Port reuse: a fresh SYN replaces a connection that is over.
            if p.proto == ip_proto::TCP
                && starts
                && matches!(f.tcp, TcpState::TimeWait | TcpState::Closed)
            {
                self.flows.remove(i);
                found = None;
            }
        }
        let Some(i) = found else {
            let state = if starts {
                S_NEW
            } else {
                self.c.invalid += 1;
                S_INVALID
            };
            let hit = self.scan(p, dir, state);
            let action = self.decide(hit, p);
            self.enforce(ctx, gate, pkt, ip, p, hit, action, state, out)?;
            if state == S_NEW {
                let (tcp, class) = match p.proto {
                    ip_proto::TCP => (TcpState::SynSent, Class::TcpTransitory),
                    ip_proto::UDP => (TcpState::Closed, Class::Udp),
                    ip_proto::ICMP => (TcpState::Closed, Class::Icmp),
                    _ => (TcpState::Closed, Class::Other),
                };
                let i = match self.flows.insert(key, from_a, dir, tcp, class, now) {
                    Ok(i) => i,
                    Err(InsertError::Full) => return Err(FwDrop::TableFull.into()),
                    Err(InsertError::HostQuota) => return Err(FwDrop::HostQuota.into()),
                };
                self.c.flows_created += 1;
                let f = self.flows.get_mut(i);
                f.packets[0] += 1;
                f.bytes[0] += p.len;
            }
            return Ok(());
        };
        // Established: the cached verdict for this (original/reply, in/out) if there is one.
        self.c.established += 1;
        let f = self.flows.get(i);
        let reply = from_a != f.orig_is_a;
        let slot = usize::from(reply) * 2 + usize::from(dir == Direction::In);
        let hit = match f.verdicts[slot] {
            VERDICT_UNKNOWN => {
                let hit = self.scan(p, dir, S_ESTABLISHED);
                self.flows.get_mut(i).verdicts[slot] = hit.map_or(VERDICT_DEFAULT, |x| x as u32);
                hit
            }
            VERDICT_DEFAULT => None,
            x => Some(x as usize),
        };
        let action = self.decide(hit, p);
        self.enforce(ctx, gate, pkt, ip, p, hit, action, S_ESTABLISHED, out)?;
        let f = self.flows.get_mut(i);
        let side = usize::from(reply);
        f.packets[side] += 1;
        f.bytes[side] += p.len;
        let class = if p.proto == ip_proto::TCP {
            tcp_transition(f, reply, tcp_flags);
            f.tcp.class()
        } else {
            f.class
        };
        self.flows.touch(i, class, now);
        Ok(())
    }
}

/// TCP state after an allowed segment with `flags` from the responder (`reply`) or the
/// originator.
pub(super) fn tcp_transition(f: &mut conntrack::Flow, reply: bool, flags: u8) {
    if flags & tcpf::RST != 0 {
        f.tcp = TcpState::Closed;
        return;
    }
    if flags & tcpf::FIN != 0 && f.tcp != TcpState::Closed {
        f.fin[usize::from(reply)] = true;
        f.tcp = if f.fin[0] && f.fin[1] {
            TcpState::TimeWait
        } else {
            TcpState::FinWait
        };
        return;
    }
    f.tcp = match f.tcp {
        // SYN-ACK, or the peer's SYN of a simultaneous open.
        TcpState::SynSent if reply && flags & tcpf::SYN != 0 => TcpState::SynReceived,
        TcpState::SynReceived if flags & (tcpf::SYN | tcpf::ACK) == tcpf::ACK => {
            TcpState::Established
        }
        s => s,
    };
}
