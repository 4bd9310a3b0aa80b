//! IEEE 802.1Q learning bridge.
//!
//! # Gates
//! One input gate and one output gate per switch port, with the same number and the port's
//! name (`p1`, `p2` …). A frame that arrives on gate *n* never leaves on gate *n*.
//!
//! # Configuration
//! [`SwitchConfig`]: ports with their VLAN mode, `mac_table_size` (default 65 536) and
//! `ageing` (default 300 s). YAML: `kind: switch`, `mac-table-size`, `ageing`,
//! `ports: { p4: { vlan: 20 } }`, `ports: { t1: { vlans: [10, 20], native-vlan: 1 } }`.
//!
//! * **Access port** (`vlan: N`, default `N = 1`): accepts untagged and priority-tagged
//!   (VID 0) frames into VLAN N; sends untagged. A frame tagged with any non-zero VID is
//!   dropped (`vlan_not_allowed`) — stricter than a Linux bridge, which accepts VID N on
//!   its PVID port; strict access ports close the double-tagging VLAN-hopping hole.
//! * **Trunk port** (`vlans: [..]`): accepts frames tagged with an allowed VID and sends
//!   them tagged (802.1Q tag kept on the wire, PCP preserved). Untagged frames belong to
//!   `native-vlan` if set (and leave untagged in it), otherwise they are dropped.
//!
//! # Forwarding
//! The FDB maps (VLAN, MAC) → port. The source of every accepted frame is learned (or
//! refreshed, or moved to the new port). Broadcast, multicast and unknown unicast are
//! flooded to every other member port of the VLAN; a known unicast goes to its one port.
//! VLANs are isolated completely: learning, lookup and flooding are all per VLAN. When the
//! table holds `mac_table_size` entries new addresses are not learned (`learn_table_full`
//! counts them) and their frames are still forwarded by flooding.
//!
//! Entries older than `ageing` are ignored by lookups at once and removed by the periodic
//! tick (every second; one pass over the table, ~10 ns per entry).
//!
//! The table starts with room for [`FDB_INITIAL`] entries (or `mac_table_size` if smaller)
//! and grows by doubling up to `mac_table_size`: a small population stays dense in cache
//! (reserving 65 536 entries up front spread 1 000 stations over 3 MiB, one cache line
//! each; the dense table was 10–25 % faster). The tick grows it ahead of need once it is
//! half full, so the rehash normally happens there and not on the packet path; a burst of
//! new stations between two ticks can still make one `learn` grow it (amortised O(1), at
//! most log2(`mac_table_size` / 4096) times in the table's life).
//!
//! # Counters
//! `learned`, `moved` (station seen on another port), `learn_table_full`, `aged_out`,
//! `forwarded` (known unicast), `flooded` (frames flooded, once per frame),
//! `flood_no_buffer` (flood copies not made: packet pool empty), `fdb_entries` (gauge). Drops: `malformed` (under 14 bytes, or a truncated tag), `invalid_source_mac`
//! (multicast or zero source), `link_local_multicast` (01:80:c2:00:00:0x: STP, LACP, pause
//! are never forwarded by an 802.1D bridge), `vlan_not_allowed`, `same_port` (destination
//! is on the ingress port, or nowhere else to flood), `no_headroom`.
//!
//! # See also
//! Linux `br_input.c`/`br_forward.c`, OVS `mac-learning.c`, VPP `l2_learn`/`l2_fwd`.

use std::collections::HashMap;
use std::time::Duration;

use ahash::RandomState;
use nfv_dataplane::{
    Batch, Context, CounterInfo, DropReason, Element, GateSpec, InputGate, Instant, OutputGate,
    Outputs, PacketBuf, Reason, ReasonInfo, Table,
};

/// Default FDB size.
pub const DEFAULT_MAC_TABLE_SIZE: u32 = 65_536;
/// Default ageing time (IEEE 802.1D default).
pub const DEFAULT_AGEING: Duration = Duration::from_secs(300);

const TPID_8021Q: u16 = 0x8100;
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Entries the FDB has room for before its first growth (24 KiB of 16-byte buckets after
/// hashbrown's rounding, plus control bytes).
pub const FDB_INITIAL: usize = 4096;

/// VLAN behaviour of one switch port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VlanMode {
    /// Untagged member of one VLAN.
    Access(u16),
    /// Tagged member of `allowed`; untagged frames map to `native` if set.
    Trunk {
        /// VLANs carried tagged.
        allowed: Vec<u16>,
        /// VLAN for untagged frames (sent untagged too).
        native: Option<u16>,
    },
}

/// One switch port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchPortConfig {
    /// Port (gate) name, e.g. `p1`.
    pub name: String,
    /// VLAN mode.
    pub mode: VlanMode,
}

/// Switch configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchConfig {
    /// Ports, in gate order.
    pub ports: Vec<SwitchPortConfig>,
    /// Maximum FDB entries.
    pub mac_table_size: u32,
    /// Idle time after which an entry is forgotten.
    pub ageing: Duration,
}

/// 4096-bit VLAN membership set.
#[derive(Clone, Debug)]
struct VlanSet([u64; 64]);

impl Default for VlanSet {
    fn default() -> VlanSet {
        VlanSet([0; 64])
    }
}

impl VlanSet {
    fn insert(&mut self, v: u16) {
        self.0[(v as usize >> 6) & 63] |= 1 << (v & 63);
    }
    fn contains(&self, v: u16) -> bool {
        self.0[(v as usize >> 6) & 63] & (1 << (v & 63)) != 0
    }
}

#[derive(Clone, Debug)]
struct PortState {
    name: String,
    /// VLAN of untagged ingress frames, which also leaves this port untagged.
    native: Option<u16>,
    /// VLANs accepted and sent tagged.
    tagged: VlanSet,
    /// Access port: tagged frames (VID ≠ 0) are refused.
    access: bool,
}

#[derive(Clone, Copy, Debug)]
struct FdbEntry {
    port: u16,
    last_seen: Instant,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    learned: u64,
    moved: u64,
    learn_table_full: u64,
    aged_out: u64,
    forwarded: u64,
    flooded: u64,
    flood_no_buffer: u64,
}

nfv_dataplane::drop_reasons! {
    /// Why the switch drops a frame (besides the core [`DropReason`]s).
    pub enum SwitchDrop: element {
        /// IEEE 802.1D reserved group address 01:80:c2:00:00:0x (STP, LACP, pause): never
        /// forwarded by a bridge.
        LinkLocalMulticast = "link_local_multicast",
        /// The frame's VLAN is not carried by its ingress port (or untagged on a trunk without
        /// native VLAN).
        VlanNotAllowed = "vlan_not_allowed",
        /// The destination was learned on the ingress port, or no other port is in the VLAN:
        /// the frame stays on its segment.
        SamePort = "same_port",
    }
}

/// The learning switch element. See the module documentation.
#[derive(Debug)]
pub struct L2Switch {
    ports: Vec<PortState>,
    /// Member ports per VLAN id (index 0..4096), for flooding.
    members: Vec<Vec<u16>>,
    fdb: HashMap<u64, FdbEntry, RandomState>,
    limit: usize,
    ageing: Duration,
    c: Counters,
}

/// (VLAN, MAC) packed as `vlan << 48 | mac`.
#[inline]
fn fdb_key(vlan: u16, mac: &[u8; 6]) -> u64 {
    let m = u64::from_be_bytes([0, 0, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]]);
    (u64::from(vlan) << 48) | m
}

impl L2Switch {
    /// Build a switch. VLAN ids outside 1..=4094 are ignored (config validation rejects them).
    pub fn new(cfg: &SwitchConfig) -> L2Switch {
        let mut members = vec![Vec::new(); 4096];
        let ports = cfg
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut st = PortState {
                    name: p.name.clone(),
                    native: None,
                    tagged: VlanSet::default(),
                    access: false,
                };
                let add = |v: u16, members: &mut Vec<Vec<u16>>| {
                    if (1..=4094).contains(&v) && !members[v as usize].contains(&(i as u16)) {
                        members[v as usize].push(i as u16);
                    }
                };
                match &p.mode {
                    VlanMode::Access(v) => {
                        st.native = Some(*v);
                        st.access = true;
                        add(*v, &mut members);
                    }
                    VlanMode::Trunk { allowed, native } => {
                        for v in allowed {
                            if Some(*v) != *native {
                                st.tagged.insert(*v);
                            }
                            add(*v, &mut members);
                        }
                        if let Some(n) = native {
                            st.native = Some(*n);
                            add(*n, &mut members);
                        }
                    }
                }
                st
            })
            .collect();
        let limit = cfg.mac_table_size as usize;
        L2Switch {
            ports,
            members,
            fdb: HashMap::with_capacity_and_hasher(limit.min(FDB_INITIAL), RandomState::new()),
            limit,
            ageing: cfg.ageing,
            c: Counters::default(),
        }
    }

    /// Number of FDB entries (including expired ones not yet swept).
    pub fn fdb_len(&self) -> usize {
        self.fdb.len()
    }

    /// The port (gate) a MAC is currently learned on in `vlan`, if not expired at `now`.
    pub fn lookup(&self, vlan: u16, mac: [u8; 6], now: Instant) -> Option<u16> {
        self.fdb
            .get(&fdb_key(vlan, &mac))
            .filter(|e| now.saturating_since(e.last_seen) <= self.ageing)
            .map(|e| e.port)
    }

    /// Iterate over live FDB entries as (vlan, mac, port name, age).
    pub fn fdb_entries(
        &self,
        now: Instant,
    ) -> impl Iterator<Item = (u16, [u8; 6], &str, Duration)> + '_ {
        self.fdb.iter().filter_map(move |(k, e)| {
            let age = now.saturating_since(e.last_seen);
            if age > self.ageing {
                return None;
            }
            let b = k.to_be_bytes();
            let mac = [b[2], b[3], b[4], b[5], b[6], b[7]];
            let name = self
                .ports
                .get(e.port as usize)
                .map_or("?", |p| p.name.as_str());
            Some(((k >> 48) as u16, mac, name, age))
        })
    }

    fn learn(&mut self, vlan: u16, src: &[u8; 6], port: u16, now: Instant) {
        let key = fdb_key(vlan, src);
        if let Some(e) = self.fdb.get_mut(&key) {
            if e.port != port {
                e.port = port;
                self.c.moved += 1;
            }
            e.last_seen = now;
        } else if self.fdb.len() < self.limit {
            self.fdb.insert(
                key,
                FdbEntry {
                    port,
                    last_seen: now,
                },
            );
            self.c.learned += 1;
        } else {
            self.c.learn_table_full += 1;
        }
    }

    /// Packet trace only: say what the switch is about to do with `pkt` (called before
    /// learning its source, once per traced packet, out of the packet loop).
    #[cold]
    #[inline(never)]
    fn trace_decision(
        &self,
        now: Instant,
        ingress: u16,
        vlan: u16,
        pkt: &PacketBuf,
        out: &mut Outputs,
    ) {
        let d = pkt.data();
        let mut src = [0u8; 6];
        src.copy_from_slice(&d[6..12]);
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&d[0..6]);
        let learned = match self.fdb.get(&fdb_key(vlan, &src)) {
            Some(e) if e.port == ingress => "refreshed",
            Some(_) => "moved",
            None if self.fdb.len() < self.limit => "learned",
            None => "not learned (table full)",
        };
        out.note(pkt, || {
            format!(
                "vlan {vlan}: src {} {learned} on {}, dst {}",
                crate::show::mac(&src),
                self.port_name(ingress),
                crate::show::mac(&dst)
            )
        });
        let known = if dst[0] & 1 != 0 {
            None
        } else {
            self.lookup(vlan, dst, now)
        };
        out.note(pkt, || match known {
            Some(p) if p == ingress => "dst is on the ingress port".into(),
            Some(p) => format!("forwarded to port {}", self.port_name(p)),
            None => {
                let members = &self.members[vlan as usize];
                let n = members.iter().filter(|p| **p != ingress).count();
                format!("vlan {vlan}: flooded to {n} port(s)")
            }
        });
    }

    fn port_name(&self, port: u16) -> &str {
        self.ports
            .get(port as usize)
            .map_or("?", |p| p.name.as_str())
    }

    /// Classify one frame: its VLAN, and whether it carries a tag now.
    /// Err is the drop reason.
    #[inline]
    fn classify(&self, ingress: u16, d: &[u8]) -> Result<(u16, bool), Reason> {
        let Some(port) = self.ports.get(ingress as usize) else {
            return Err(DropReason::BadGate.into());
        };
        if d.len() < 14 {
            return Err(DropReason::Malformed.into());
        }
        if d[6] & 1 != 0 || d[6..12] == [0; 6] {
            return Err(DropReason::InvalidSourceMac.into());
        }
        if d[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && d[5] & 0xf0 == 0 {
            return Err(SwitchDrop::LinkLocalMulticast.into());
        }
        let ethertype = u16::from_be_bytes([d[12], d[13]]);
        if ethertype == TPID_8021Q {
            if d.len() < 18 {
                return Err(DropReason::Malformed.into());
            }
            let vid = u16::from_be_bytes([d[14], d[15]]) & 0x0fff;
            if vid == 0 {
                // Priority-tagged: belongs to the native VLAN.
                return port
                    .native
                    .map(|v| (v, true))
                    .ok_or(SwitchDrop::VlanNotAllowed.into());
            }
            if port.access || !port.tagged.contains(vid) {
                return Err(SwitchDrop::VlanNotAllowed.into());
            }
            Ok((vid, true))
        } else {
            port.native
                .map(|v| (v, false))
                .ok_or(SwitchDrop::VlanNotAllowed.into())
        }
    }

    /// Make `pkt`'s tagging right for leaving `port` in `vlan`, then emit it.
    #[inline]
    fn send(&self, pkt: PacketBuf, tagged: bool, vlan: u16, port: u16, out: &mut Outputs) {
        let Some(egress) = self.ports.get(port as usize) else {
            out.drop(pkt, DropReason::BadGate);
            return;
        };
        let want_tag = egress.native != Some(vlan);
        match (tagged, want_tag) {
            (true, true) => {
                let mut pkt = pkt;
                let d = pkt.data_mut();
                // Keep PCP/DEI; set the VID (a priority tag may carry VID 0).
                let tci = (u16::from_be_bytes([d[14], d[15]]) & 0xf000) | vlan;
                d[14..16].copy_from_slice(&tci.to_be_bytes());
                out.emit(OutputGate(port), pkt);
            }
            (true, false) => {
                let mut pkt = pkt;
                pkt.data_mut().copy_within(0..12, 4);
                pkt.trim_front(4);
                out.emit(OutputGate(port), pkt);
            }
            (false, true) => {
                let mut pkt = pkt;
                match pkt.prepend(4) {
                    Ok(_) => {
                        let d = pkt.data_mut();
                        d.copy_within(4..16, 0);
                        d[12..14].copy_from_slice(&TPID_8021Q.to_be_bytes());
                        d[14..16].copy_from_slice(&vlan.to_be_bytes());
                        out.emit(OutputGate(port), pkt);
                    }
                    Err(_) => out.drop(pkt, DropReason::NoHeadroom),
                }
            }
            (false, false) => out.emit(OutputGate(port), pkt),
        }
    }

    fn flood(
        &mut self,
        ctx: &mut Context,
        pkt: PacketBuf,
        tagged: bool,
        vlan: u16,
        ingress: u16,
        out: &mut Outputs,
    ) {
        let members = &self.members[vlan as usize];
        let last = members.iter().rposition(|p| *p != ingress);
        let Some(last) = last else {
            out.drop(pkt, SwitchDrop::SamePort);
            return;
        };
        self.c.flooded += 1;
        for &p in &members[..last] {
            if p == ingress {
                continue;
            }
            match ctx.clone_packet(&pkt) {
                Some(copy) => self.send(copy, tagged, vlan, p, out),
                // The copy never existed, so it is not a packet drop; count the miss.
                None => self.c.flood_no_buffer += 1,
            }
        }
        self.send(pkt, tagged, vlan, members[last], out);
    }
}

/// The counters of [`Element::counters`], in order, with their type and help.
pub const SWITCH_COUNTERS: &[CounterInfo] = &[
    CounterInfo::counter("learned", "Source MACs learned into the FDB."),
    CounterInfo::counter(
        "moved",
        "Learned MACs that moved to another port (station moves).",
    ),
    CounterInfo::counter(
        "learn_table_full",
        "Source MACs not learned: the FDB was at mac-table-size.",
    ),
    CounterInfo::counter(
        "aged_out",
        "FDB entries removed after ageing without traffic.",
    ),
    CounterInfo::counter(
        "forwarded",
        "Frames sent to the one port their destination was learned on.",
    ),
    CounterInfo::counter(
        "flooded",
        "Frames flooded to every other port of their VLAN (unknown unicast, broadcast, multicast).",
    ),
    CounterInfo::counter(
        "flood_no_buffer",
        "Flood copies not made: the packet pool was empty.",
    ),
    CounterInfo::gauge("fdb_entries", "Entries in the FDB now."),
];

impl Element for L2Switch {
    fn kind(&self) -> &'static str {
        "switch"
    }

    fn drop_reasons(&self) -> &'static [ReasonInfo] {
        SwitchDrop::TABLE
    }

    fn gates(&self) -> GateSpec {
        let n = self.ports.len() as u16;
        GateSpec {
            inputs: n,
            outputs: n,
        }
    }

    fn process(&mut self, ctx: &mut Context, input: InputGate, batch: Batch, out: &mut Outputs) {
        let ingress = input.0;
        let now = ctx.now;
        for pkt in batch {
            let (vlan, tagged) = match self.classify(ingress, pkt.data()) {
                Ok(c) => c,
                Err(reason) => {
                    out.drop(pkt, reason);
                    continue;
                }
            };
            if pkt.meta.trace != 0 {
                self.trace_decision(now, ingress, vlan, &pkt, out);
            }
            let d = pkt.data();
            let mut src = [0u8; 6];
            src.copy_from_slice(&d[6..12]);
            let mut dst = [0u8; 6];
            dst.copy_from_slice(&d[0..6]);
            self.learn(vlan, &src, ingress, now);
            if dst[0] & 1 != 0 {
                self.flood(ctx, pkt, tagged, vlan, ingress, out);
                continue;
            }
            match self.lookup(vlan, dst, now) {
                Some(p) if p == ingress => out.drop(pkt, SwitchDrop::SamePort),
                Some(p) => {
                    self.c.forwarded += 1;
                    self.send(pkt, tagged, vlan, p, out);
                }
                None => self.flood(ctx, pkt, tagged, vlan, ingress, out),
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context, _out: &mut Outputs) {
        let now = ctx.now;
        let ageing = self.ageing;
        let before = self.fdb.len();
        self.fdb
            .retain(|_, e| now.saturating_since(e.last_seen) <= ageing);
        self.c.aged_out += (before - self.fdb.len()) as u64;
        // Grow ahead of need, here rather than in `learn` on the packet path.
        let (len, cap) = (self.fdb.len(), self.fdb.capacity());
        if len * 2 > cap && cap < self.limit {
            self.fdb.reserve(cap.min(self.limit - len));
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(SWEEP_EVERY)
    }

    fn counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("learned", self.c.learned);
        f("moved", self.c.moved);
        f("learn_table_full", self.c.learn_table_full);
        f("aged_out", self.c.aged_out);
        f("forwarded", self.c.forwarded);
        f("flooded", self.c.flooded);
        f("flood_no_buffer", self.c.flood_no_buffer);
        f("fdb_entries", self.fdb.len() as u64);
    }

    fn counter_info(&self) -> &'static [CounterInfo] {
        SWITCH_COUNTERS
    }

    /// `fdb`: the live MAC table, sorted by VLAN and MAC.
    fn tables(&self, now: Instant, out: &mut dyn FnMut(Table)) {
        let mut entries: Vec<_> = self.fdb_entries(now).collect();
        entries.sort_unstable_by_key(|&(vlan, mac, _, _)| (vlan, mac));
        let mut t = Table::new("fdb", &["vlan", "mac", "port", "age_s"]);
        for (vlan, mac, port, age) in entries {
            t.push_with(|| {
                vec![
                    vlan.to_string(),
                    crate::show::mac(&mac),
                    port.to_string(),
                    crate::show::secs(age),
                ]
            });
        }
        out(t);
    }

    fn gate_name(&self, gate: u16) -> String {
        self.ports
            .get(gate as usize)
            .map_or_else(|| gate.to_string(), |p| p.name.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use nfv_dataplane::PacketPool;
    use nfv_dataplane::testing::{self, BROADCAST, counter, eth, eth_tagged, mac};

    use super::*;

    fn access(name: &str, vlan: u16) -> SwitchPortConfig {
        SwitchPortConfig {
            name: name.into(),
            mode: VlanMode::Access(vlan),
        }
    }

    fn trunk(name: &str, allowed: &[u16], native: Option<u16>) -> SwitchPortConfig {
        SwitchPortConfig {
            name: name.into(),
            mode: VlanMode::Trunk {
                allowed: allowed.to_vec(),
                native,
            },
        }
    }

    fn switch(ports: Vec<SwitchPortConfig>) -> L2Switch {
        L2Switch::new(&SwitchConfig {
            ports,
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            ageing: DEFAULT_AGEING,
        })
    }

    fn four_access_ports() -> L2Switch {
        switch(vec![
            access("p1", 1),
            access("p2", 1),
            access("p3", 1),
            access("p4", 1),
        ])
    }

    const IPV4: u16 = 0x0800;
    const T0: Instant = Instant::ZERO;

    #[test]
    fn switch_trace_notes_learning_flooding_and_forwarding_only_for_traced_packets() {
        use nfv_dataplane::trace::Event;
        let pool = PacketPool::new(64, 2048);
        let mut sw = four_access_ports();
        let run = |sw: &mut L2Switch, f: &[u8], gate: u16, trace: u16| {
            let mut p = pool.alloc().unwrap();
            assert!(p.extend_from_slice(f));
            p.meta.trace = trace;
            let mut batch = Batch::new();
            batch.push(p).unwrap();
            let mut ctx = Context::new(T0, pool);
            let mut out = Outputs::new(4);
            sw.process(&mut ctx, InputGate(gate), batch, &mut out);
            out.take_trace()
        };
        // Untraced: nothing recorded.
        assert!(run(&mut sw, &eth(BROADCAST, mac(9), 0x0806, b"x"), 3, 0).is_empty());
        let ev = run(&mut sw, &eth(BROADCAST, mac(1), 0x0806, b"x"), 0, 7);
        assert_eq!(
            ev,
            vec![
                Event::Note(
                    7,
                    "vlan 1: src 02:00:00:00:00:01 learned on p1, dst ff:ff:ff:ff:ff:ff".into()
                ),
                Event::Note(7, "vlan 1: flooded to 3 port(s)".into()),
            ]
        );
        let ev = run(&mut sw, &eth(mac(1), mac(2), IPV4, b"x"), 1, 8);
        assert_eq!(ev[1], Event::Note(8, "forwarded to port p1".into()));
        let ev = run(&mut sw, &eth(mac(2), mac(1), IPV4, b"x"), 1, 9);
        assert_eq!(
            ev.last(),
            Some(&Event::Drop(9, SwitchDrop::SamePort.into())),
            "{ev:?}"
        );
    }

    #[test]
    fn switch_floods_broadcast_to_every_port_but_ingress() {
        let pool = PacketPool::new(64, 2048);
        let mut sw = four_access_ports();
        let f = eth(BROADCAST, mac(1), 0x0806, b"arp");
        let e = testing::run(&mut sw, pool, T0, 0, &[&f]);
        assert!(e.gate(0).is_empty(), "never back out of the ingress port");
        for g in 1..4 {
            assert_eq!(e.gate(g), std::slice::from_ref(&f), "gate {g}");
        }
        assert_eq!(e.generated, 2, "two copies plus the original");
        assert_eq!(counter(&sw, "flooded"), 1);
        assert_eq!(pool.available(), 64, "no buffer leaked");
    }

    #[test]
    fn switch_floods_unknown_unicast_then_forwards_after_learning() {
        let pool = PacketPool::new(64, 2048);
        let mut sw = four_access_ports();
        let to2 = eth(mac(2), mac(1), IPV4, b"x");
        let e = testing::run(&mut sw, pool, T0, 0, &[&to2]);
        assert_eq!(e.total(), 3, "unknown unicast is flooded");
        // mac(2) answers from p2: learned there.
        let to1 = eth(mac(1), mac(2), IPV4, b"y");
        let e = testing::run(&mut sw, pool, T0, 1, &[&to1]);
        assert_eq!(
            e.gate(0),
            std::slice::from_ref(&to1),
            "mac(1) was learned on p1"
        );
        assert_eq!(e.total(), 1);
        let e = testing::run(&mut sw, pool, T0, 0, &[&to2]);
        assert_eq!(
            e.gate(1),
            std::slice::from_ref(&to2),
            "mac(2) now known on p2"
        );
        assert_eq!(e.total(), 1);
        assert_eq!(counter(&sw, "learned"), 2);
        assert_eq!(counter(&sw, "forwarded"), 2);
        assert_eq!(sw.lookup(1, mac(2), T0), Some(1));
    }

    #[test]
    fn switch_never_hairpins_a_frame_whose_destination_is_on_the_ingress_port() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = four_access_ports();
        testing::run(&mut sw, pool, T0, 0, &[&eth(BROADCAST, mac(1), IPV4, b"")]);
        testing::run(&mut sw, pool, T0, 0, &[&eth(BROADCAST, mac(5), IPV4, b"")]);
        // mac(5) → mac(1), both on p1.
        let e = testing::run(&mut sw, pool, T0, 0, &[&eth(mac(1), mac(5), IPV4, b"")]);
        assert_eq!(e.total(), 0);
        assert_eq!(e.drops.get(SwitchDrop::SamePort), 1);
    }

    #[test]
    fn switch_station_move_updates_the_port() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = four_access_ports();
        testing::run(&mut sw, pool, T0, 0, &[&eth(BROADCAST, mac(1), IPV4, b"")]);
        testing::run(&mut sw, pool, T0, 2, &[&eth(BROADCAST, mac(1), IPV4, b"")]);
        assert_eq!(sw.lookup(1, mac(1), T0), Some(2));
        assert_eq!(counter(&sw, "moved"), 1);
        assert_eq!(counter(&sw, "learned"), 1);
    }

    #[test]
    fn switch_ageing_forgets_idle_entries_and_tick_removes_them() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = switch(vec![access("p1", 1), access("p2", 1), access("p3", 1)]);
        sw.ageing = Duration::from_secs(10);
        testing::run(&mut sw, pool, T0, 0, &[&eth(BROADCAST, mac(1), IPV4, b"")]);
        let at = |s| Instant::from_secs(s);
        assert_eq!(
            sw.lookup(1, mac(1), at(10)),
            Some(0),
            "still fresh at exactly 10 s"
        );
        // At 11 s the entry is expired: traffic to mac(1) floods again.
        let e = testing::run(&mut sw, pool, at(11), 1, &[&eth(mac(1), mac(2), IPV4, b"")]);
        assert_eq!(e.total(), 2, "expired entry is ignored: flooded");
        assert_eq!(sw.fdb_len(), 2, "not yet swept");
        testing::tick(&mut sw, pool, at(11));
        assert_eq!(
            sw.fdb_len(),
            1,
            "mac(1) swept, mac(2) (learned at 11 s) kept"
        );
        assert_eq!(counter(&sw, "aged_out"), 1);
        // Refreshing keeps an entry alive.
        testing::run(
            &mut sw,
            pool,
            at(20),
            1,
            &[&eth(BROADCAST, mac(2), IPV4, b"")],
        );
        testing::tick(&mut sw, pool, at(25));
        assert_eq!(sw.lookup(1, mac(2), at(25)), Some(1));
    }

    #[test]
    fn switch_fdb_starts_small_and_the_tick_grows_it_up_to_the_limit() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = L2Switch::new(&SwitchConfig {
            ports: vec![access("p1", 1), access("p2", 1)],
            mac_table_size: DEFAULT_MAC_TABLE_SIZE,
            ageing: DEFAULT_AGEING,
        });
        let initial = sw.fdb.capacity();
        assert!(
            (FDB_INITIAL..2 * FDB_INITIAL).contains(&initial),
            "{initial}"
        );
        let station = |i: u32| {
            let b = i.to_be_bytes();
            [0x02, 0, b[0], b[1], b[2], b[3]]
        };
        let n = initial as u32 / 2 + 1;
        for i in 0..n {
            sw.learn(1, &station(i), 0, T0);
        }
        assert_eq!(sw.fdb.capacity(), initial, "no growth below capacity");
        testing::tick(&mut sw, pool, T0);
        assert!(sw.fdb.capacity() >= 2 * initial, "grown ahead of need");
        assert_eq!(sw.fdb_len(), n as usize);
        assert_eq!(sw.lookup(1, station(n - 1), T0), Some(0));
        // Never reserved beyond what the limit needs.
        let mut small = L2Switch::new(&SwitchConfig {
            ports: vec![access("p1", 1), access("p2", 1)],
            mac_table_size: 100,
            ageing: DEFAULT_AGEING,
        });
        for i in 0..100 {
            small.learn(1, &station(i), 0, T0);
        }
        let cap = small.fdb.capacity();
        testing::tick(&mut small, pool, T0);
        assert_eq!(small.fdb.capacity(), cap, "full to its limit: no growth");
    }

    #[test]
    fn switch_table_full_stops_learning_but_keeps_flooding() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = L2Switch::new(&SwitchConfig {
            ports: vec![access("p1", 1), access("p2", 1)],
            mac_table_size: 2,
            ageing: DEFAULT_AGEING,
        });
        for n in 1..=3 {
            testing::run(&mut sw, pool, T0, 0, &[&eth(BROADCAST, mac(n), IPV4, b"")]);
        }
        assert_eq!(sw.fdb_len(), 2);
        assert_eq!(counter(&sw, "learn_table_full"), 1);
        assert_eq!(sw.lookup(1, mac(3), T0), None);
        // Traffic to the unlearned mac(3) still gets through, by flooding.
        let f = eth(mac(3), mac(9), IPV4, b"");
        let e = testing::run(&mut sw, pool, T0, 1, &[&f]);
        assert_eq!(e.gate(0), &[f]);
        assert_eq!(
            counter(&sw, "learn_table_full"),
            2,
            "mac(9) not learned either"
        );
    }

    #[test]
    fn switch_vlans_isolate_learning_and_flooding() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = switch(vec![
            access("p1", 10),
            access("p2", 10),
            access("p3", 20),
            access("p4", 20),
        ]);
        let b = eth(BROADCAST, mac(1), IPV4, b"");
        let e = testing::run(&mut sw, pool, T0, 0, &[&b]);
        assert_eq!(e.gate(1), std::slice::from_ref(&b));
        assert!(
            e.gate(2).is_empty() && e.gate(3).is_empty(),
            "VLAN 20 sees nothing"
        );
        // mac(1) is known in VLAN 10 only: from VLAN 20 it is unknown and never reaches p1.
        let u = eth(mac(1), mac(3), IPV4, b"");
        let e = testing::run(&mut sw, pool, T0, 2, &[&u]);
        assert_eq!(e.gate(3), &[u]);
        assert_eq!(e.total(), 1);
        assert_eq!(sw.lookup(20, mac(1), T0), None);
        assert_eq!(sw.lookup(10, mac(1), T0), Some(0));
    }

    #[test]
    fn switch_trunk_tags_on_egress_and_access_untags() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = switch(vec![access("p1", 20), trunk("t1", &[10, 20], None)]);
        let untagged = eth(BROADCAST, mac(1), IPV4, b"payload");
        let e = testing::run(&mut sw, pool, T0, 0, &[&untagged]);
        let out = &e.gate(1)[0];
        assert_eq!(&out[12..16], &[0x81, 0x00, 0x00, 20], "802.1Q tag, VID 20");
        assert_eq!(&out[..12], &untagged[..12]);
        assert_eq!(
            &out[16..],
            &untagged[12..],
            "ethertype and payload follow the tag"
        );
        // And back: a VID-20 frame from the trunk leaves p1 untagged.
        let tagged = eth_tagged(mac(1), mac(2), 20, IPV4, b"reply");
        let e = testing::run(&mut sw, pool, T0, 1, &[&tagged]);
        let out = &e.gate(0)[0];
        assert_eq!(&out[12..14], &IPV4.to_be_bytes());
        assert_eq!(out.len(), tagged.len() - 4);
        assert_eq!(&out[14..19], b"reply");
    }

    #[test]
    fn switch_trunk_keeps_tag_and_pcp_between_trunks() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = switch(vec![trunk("t1", &[10], None), trunk("t2", &[10, 20], None)]);
        let mut f = eth_tagged(BROADCAST, mac(1), 10, IPV4, b"");
        f[14] |= 0xa0; // PCP 5
        let e = testing::run(&mut sw, pool, T0, 0, &[&f]);
        assert_eq!(e.gate(1), &[f]);
    }

    #[test]
    fn switch_refuses_vlans_a_port_does_not_carry() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = switch(vec![
            access("p1", 10),
            trunk("t1", &[10], None),
            trunk("t2", &[10], Some(30)),
        ]);
        let cases: [(u16, Vec<u8>); 3] = [
            (0, eth_tagged(BROADCAST, mac(1), 10, IPV4, b"")), // tagged on access port
            (1, eth_tagged(BROADCAST, mac(1), 20, IPV4, b"")), // VID not allowed on trunk
            (1, eth(BROADCAST, mac(1), IPV4, b"")),            // untagged, no native VLAN
        ];
        for (gate, f) in cases {
            let e = testing::run(&mut sw, pool, T0, gate, &[&f]);
            assert_eq!(e.total(), 0);
            assert_eq!(e.drops.get(SwitchDrop::VlanNotAllowed), 1);
        }
        // Native VLAN on t2 accepts untagged frames into VLAN 30 (no other member: stays).
        let e = testing::run(&mut sw, pool, T0, 2, &[&eth(BROADCAST, mac(1), IPV4, b"")]);
        assert_eq!(e.drops.get(SwitchDrop::SamePort), 1);
        assert_eq!(sw.lookup(30, mac(1), T0), Some(2));
    }

    #[test]
    fn switch_priority_tagged_frame_joins_the_access_vlan() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = switch(vec![access("p1", 10), access("p2", 10)]);
        let f = eth_tagged(BROADCAST, mac(1), 0, IPV4, b"prio");
        let e = testing::run(&mut sw, pool, T0, 0, &[&f]);
        let out = &e.gate(1)[0];
        assert_eq!(
            &out[12..14],
            &IPV4.to_be_bytes(),
            "tag removed towards the access port"
        );
    }

    #[test]
    fn switch_drops_malformed_and_invalid_frames_with_reasons() {
        let pool = PacketPool::new(16, 2048);
        let mut sw = switch(vec![access("p1", 1), trunk("t1", &[1, 2], None)]);
        let short = [0u8; 13];
        let mut truncated_tag = eth(BROADCAST, mac(1), 0x8100, b"");
        truncated_tag.truncate(16);
        let mcast_src = eth(BROADCAST, [0x01, 0, 0x5e, 0, 0, 1], IPV4, b"");
        let zero_src = eth(BROADCAST, [0; 6], IPV4, b"");
        let stp = eth([0x01, 0x80, 0xc2, 0, 0, 0], mac(1), 0x0026, b"bpdu");
        let e = testing::run(&mut sw, pool, T0, 1, &[&short, &truncated_tag]);
        assert_eq!(e.drops.get(DropReason::Malformed), 2);
        let e = testing::run(&mut sw, pool, T0, 0, &[&mcast_src, &zero_src, &stp]);
        assert_eq!(e.drops.get(DropReason::InvalidSourceMac), 2);
        assert_eq!(e.drops.get(SwitchDrop::LinkLocalMulticast), 1);
        assert_eq!(e.total(), 0);
        assert_eq!(sw.fdb_len(), 0, "nothing learned from bad frames");
        assert_eq!(pool.available(), 16);
    }

    #[test]
    fn switch_flood_without_buffers_counts_the_missing_copies() {
        // 3 buffers: the frame itself + 1 copy fit; the third port's copy cannot be made.
        let pool = PacketPool::new(2, 2048);
        let mut sw = four_access_ports();
        let f = eth(BROADCAST, mac(1), IPV4, b"");
        let e = testing::run(&mut sw, pool, T0, 0, &[&f]);
        assert_eq!(e.total(), 2);
        assert_eq!(counter(&sw, "flood_no_buffer"), 1);
    }

    #[test]
    fn switch_conserves_packets_under_random_frames() {
        // Deterministic xorshift: random lengths, MACs, tags and gates; testing::run asserts
        // in + generated == out + drops for every batch, and no buffer may leak.
        let pool = PacketPool::new(512, 2048);
        let mut sw = switch(vec![
            access("p1", 1),
            access("p2", 2),
            trunk("t1", &[1, 2, 3], Some(1)),
            trunk("t2", &[3], None),
        ]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..200 {
            let mut frames = Vec::new();
            for _ in 0..BURST_TEST {
                let len = (next() % 80) as usize;
                let mut f: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if len >= 18 && next() % 2 == 0 {
                    f[12] = 0x81;
                    f[13] = 0x00;
                    f[15] = (next() % 5) as u8;
                }
                if len >= 12 && next() % 2 == 0 {
                    f[6] &= 0xfe;
                    f[0] = [0x00, 0xff, 0x01][(next() % 3) as usize];
                }
                frames.push(f);
            }
            let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let gate = (next() % 4) as u16;
            testing::run(&mut sw, pool, Instant::from_secs(round), gate, &refs);
        }
        assert_eq!(pool.available(), 512);
    }

    const BURST_TEST: usize = 32;

    #[test]
    fn fdb_table_lists_learned_macs_sorted_with_port_and_age() {
        let pool = PacketPool::new(64, 2048);
        let mut sw = four_access_ports();
        let _ = testing::run(&mut sw, pool, T0, 2, &[&eth(mac(9), mac(3), IPV4, b"x")]);
        let _ = testing::run(&mut sw, pool, T0, 0, &[&eth(mac(9), mac(1), IPV4, b"x")]);
        let mut tables = Vec::new();
        sw.tables(T0 + Duration::from_secs(7), &mut |t| tables.push(t));
        assert_eq!(tables.len(), 1);
        let t = &tables[0];
        assert_eq!(t.name, "fdb");
        assert_eq!(t.columns, ["vlan", "mac", "port", "age_s"]);
        assert_eq!(t.total, 2);
        assert_eq!(
            t.rows,
            [
                ["1", "02:00:00:00:00:01", "p1", "7"],
                ["1", "02:00:00:00:00:03", "p3", "7"]
            ]
        );
    }
}
