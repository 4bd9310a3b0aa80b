//! Compiled rules: the first-match scan, hit counting and what an action does.

use std::net::Ipv4Addr;

use nfv_dataplane::wire::ipv4::Ipv4Header as Ip;
use nfv_dataplane::{Context, Outputs, PacketBuf};

use super::*;

// ------------------------------------------------------------------ compiled rules

pub(super) const S_NEW: u8 = 1;
pub(super) const S_ESTABLISHED: u8 = 2;
pub(super) const S_RELATED: u8 = 4;
/// A packet state no rule `states` set can name.
pub(super) const S_INVALID: u8 = 8;

#[derive(Clone, Copy, Debug)]
pub(super) struct CompiledRule {
    pub(super) action: Action,
    pub(super) direction: Option<Direction>,
    pub(super) src: (u32, u32),
    pub(super) dst: (u32, u32),
    pub(super) proto: Option<u8>,
    pub(super) src_ports: Option<(u16, u16)>,
    pub(super) dst_ports: Option<(u16, u16)>,
    pub(super) icmp_type: Option<u8>,
    pub(super) states: u8,
}

pub(super) fn prefix(p: Option<(Ipv4Addr, u8)>) -> (u32, u32) {
    match p {
        None => (0, 0),
        Some((a, len)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            (u32::from(a) & mask, mask)
        }
    }
}

impl CompiledRule {
    pub(super) fn new(r: &Rule) -> CompiledRule {
        let states = match &r.states {
            None => 0xff,
            Some(v) => v.iter().fold(0, |m, s| {
                m | match s {
                    ConnState::New => S_NEW,
                    ConnState::Established => S_ESTABLISHED,
                    ConnState::Related => S_RELATED,
                }
            }),
        };
        CompiledRule {
            action: r.action,
            direction: r.direction,
            src: prefix(r.src),
            dst: prefix(r.dst),
            proto: r.proto,
            src_ports: r.src_ports,
            dst_ports: r.dst_ports,
            icmp_type: r.icmp_type,
            states,
        }
    }

    pub(super) fn matches(&self, p: &Pkt, dir: Direction, state: u8) -> bool {
        let in_range = |r: Option<(u16, u16)>, v: Option<u16>| match (r, v) {
            (None, _) => true,
            (Some((lo, hi)), Some(v)) => lo <= v && v <= hi,
            (Some(_), None) => false,
        };
        self.states & state != 0
            && self.direction.is_none_or(|d| d == dir)
            && p.src & self.src.1 == self.src.0
            && p.dst & self.dst.1 == self.dst.0
            && self.proto.is_none_or(|x| x == p.proto)
            && in_range(self.src_ports, p.ports.map(|x| x.0))
            && in_range(self.dst_ports, p.ports.map(|x| x.1))
            && match (self.icmp_type, p.icmp_type) {
                (None, _) => true,
                (Some(t), Some(u)) => t == u,
                (Some(_), None) => false,
            }
    }
}

impl Firewall {
    /// Scan the rules for a packet in `state` (one of the `S_*` bits).
    pub(super) fn scan(&mut self, p: &Pkt, dir: Direction, state: u8) -> Hit {
        self.c.rule_evaluations += 1;
        self.rules.iter().position(|r| r.matches(p, dir, state))
    }

    /// Count the hit and return its action.
    #[inline]
    pub(super) fn decide(&mut self, hit: Hit, p: &Pkt) -> Action {
        match hit {
            Some(i) => {
                self.c.rules_matched += 1;
                self.hits[i] += 1;
                self.bytes[i] += p.len;
                self.rules[i].action
            }
            None => {
                self.c.default_policy += 1;
                self.default
            }
        }
    }

    /// Apply `action`: `Ok` to forward; otherwise the drop reason, after answering a reject.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn enforce(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        hit: Hit,
        action: Action,
        state: u8,
        out: &mut Outputs,
    ) -> Result<(), Reason> {
        // The common case without the call: allowed, and no packet trace to write.
        if matches!(action, Action::Allow) && pkt.meta.trace == 0 {
            return Ok(());
        }
        self.enforce_slow(ctx, gate, pkt, ip, p, hit, action, state, out)
    }

    /// [`Firewall::enforce`] with its trace note, drops and rejects.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn enforce_slow(
        &mut self,
        ctx: &mut Context,
        gate: u16,
        pkt: &PacketBuf,
        ip: &Ip,
        p: &Pkt,
        hit: Hit,
        action: Action,
        state: u8,
        out: &mut Outputs,
    ) -> Result<(), Reason> {
        out.note(pkt, || {
            let dir = if gate == GATE_IN { "out" } else { "in" };
            let state = match state {
                S_NEW => "new",
                S_ESTABLISHED => "established",
                S_RELATED => "related",
                S_INVALID => "invalid",
                _ => "?",
            };
            let by = match hit {
                Some(i) => format!(
                    "rule {} ({})",
                    i + 1,
                    self.summaries.get(i).map_or("", String::as_str)
                ),
                None => "default policy".into(),
            };
            let action = match action {
                Action::Allow => "allow",
                Action::Drop => "drop",
                Action::Reject => "reject",
            };
            format!("direction {dir}, state {state}: {by} -> {action}")
        });
        match action {
            Action::Allow => Ok(()),
            Action::Drop if state == S_INVALID => Err(FwDrop::Invalid.into()),
            Action::Drop => Err(FwDrop::RuleDrop.into()),
            Action::Reject => {
                self.reject(ctx, gate, pkt, ip, p, out);
                Err(FwDrop::Rejected.into())
            }
        }
    }
}
