//! No-OS unit tests of [`Firewall`]: frames in, frames and counters out, time advanced by
//! value. Test names say the scenario and the outcome.
//!
//! ```text
//!  inside  10.0.0.0/24 ── gate 0 "in" ─[ firewall ]─ gate 1 "out" ── outside
//!  IN_HOST 10.0.0.2 (mac 1)                            OUT_HOST 203.0.113.5 (mac 2)
//! ```
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::time::Duration;

use nfv_dataplane::testing::{
    self, BROADCAST, Ipv4Fields, XorShift, arp_reply, arp_request, counter, eth, eth_dst_of,
    eth_ipv4, eth_src_of, icmp, icmp_echo_request, icmp_of, ip_checksum_ok, ip_dst, ip_of,
    ip_proto_of, ip_src, ipv4, ipv4_with, l4_checksum_ok, l4_of, mac, pool, secs, send, tcp,
    tcp_flags, tcp_syn, udp,
};
use nfv_dataplane::wire::checksum::{checksum, verify};
use nfv_dataplane::{DropReason, Element, Instant, PacketPool};

use super::{
    Action, ConnState, Direction, Firewall, FirewallConfig, FlowState, FwDrop, FwTimeouts, Rule,
    TcpState,
};

// ------------------------------------------------------------------ fixtures

const IN: u16 = 0;
const OUT: u16 = 1;
const IN_MAC: [u8; 6] = mac(1);
const OUT_MAC: [u8; 6] = mac(2);
const IN_HOST: [u8; 4] = [10, 0, 0, 2];
const IN_HOST2: [u8; 4] = [10, 0, 0, 3];
const OUT_HOST: [u8; 4] = [203, 0, 113, 5];
const OUT_HOST2: [u8; 4] = [198, 51, 100, 9];
const T0: Instant = Instant::ZERO;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const GRE: u8 = 47;

fn cfg(rules: Vec<Rule>, default: Action) -> FirewallConfig {
    FirewallConfig {
        rules,
        default,
        icmp_rate_limit: 1_000_000,
        icmp_burst: 1_000_000,
        ..FirewallConfig::default()
    }
}

fn fw(rules: Vec<Rule>, default: Action) -> Firewall {
    Firewall::new(&cfg(rules, default))
}

fn rule(action: Action) -> Rule {
    Rule {
        action,
        ..Rule::default()
    }
}

fn allow() -> Rule {
    rule(Action::Allow)
}

fn states(s: &[ConnState]) -> Option<Vec<ConnState>> {
    Some(s.to_vec())
}

/// `default: drop; [allow direction out; allow state established; allow tcp dst-port 80
/// direction in]`.
fn example_policy() -> Firewall {
    fw(
        vec![
            Rule {
                direction: Some(Direction::Out),
                ..allow()
            },
            Rule {
                states: states(&[ConnState::Established]),
                ..allow()
            },
            Rule {
                proto: Some(TCP),
                dst_ports: Some((80, 80)),
                direction: Some(Direction::In),
                ..allow()
            },
        ],
        Action::Drop,
    )
}

/// The Ethernet frame a host on the side of `gate` sends through the firewall.
fn frame_from(gate: u16, ip: &[u8]) -> Vec<u8> {
    if gate == IN {
        eth_ipv4(OUT_MAC, IN_MAC, ip)
    } else {
        eth_ipv4(IN_MAC, OUT_MAC, ip)
    }
}

fn other(gate: u16) -> usize {
    usize::from(1 - gate)
}

/// Send `ip` from the side of `gate`; true if it came out unchanged on the other side.
/// Panics if it came out changed or anywhere else.
fn passes(f: &mut Firewall, now: Instant, gate: u16, ip: &[u8]) -> bool {
    let fr = frame_from(gate, ip);
    let e = send(f, now, gate, &fr);
    let through = e.gate(other(gate));
    match through.len() {
        0 => false,
        1 => {
            assert_eq!(through[0], fr, "forwarded unchanged");
            true
        }
        n => panic!("{n} frames forwarded for one"),
    }
}

fn udp_ip(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    ipv4(src, dst, UDP, 64, &udp(src, dst, sport, dport, b"data"))
}

fn tcp_ip(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    ipv4(
        src,
        dst,
        TCP,
        64,
        &tcp(src, dst, sport, dport, 1000, 2000, flags, &[]),
    )
}

fn syn_ip(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    ipv4(src, dst, TCP, 64, &tcp_syn(src, dst, sport, dport, 1000))
}

fn echo_ip(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    ipv4(src, dst, ICMP, 64, &icmp_echo_request(id, 1, b"ping"))
}

fn echo_reply_ip(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    let [a, b] = id.to_be_bytes();
    ipv4(src, dst, ICMP, 64, &icmp(0, 0, [a, b, 0, 1], b"ping"))
}

/// ICMP Destination Unreachable `code` from `from` about the packet `quoted`.
fn unreach_ip(from: [u8; 4], to: [u8; 4], code: u8, quoted: &[u8]) -> Vec<u8> {
    let q = &quoted[..quoted.len().min(28)];
    ipv4(from, to, ICMP, 64, &icmp(3, code, [0; 4], q))
}

/// A full TCP handshake from IN_HOST:40000 to OUT_HOST:443, all allowed.
fn handshake(f: &mut Firewall, now: Instant) {
    assert!(passes(f, now, IN, &syn_ip(IN_HOST, OUT_HOST, 40000, 443)));
    let synack = tcp_ip(
        OUT_HOST,
        IN_HOST,
        443,
        40000,
        tcp_flags::SYN | tcp_flags::ACK,
    );
    assert!(passes(f, now, OUT, &synack));
    let ack = tcp_ip(IN_HOST, OUT_HOST, 40000, 443, tcp_flags::ACK);
    assert!(passes(f, now, IN, &ack));
}

fn only_flow_state(f: &Firewall, now: Instant) -> FlowState {
    let v: Vec<_> = f.flows(now).collect();
    assert_eq!(v.len(), 1, "one flow: {v:?}");
    v[0].state
}

// ------------------------------------------------------------------ L2 and IPv4 validation

#[test]
fn firewall_passes_arp_both_ways_even_when_everything_else_is_dropped() {
    let mut f = fw(vec![rule(Action::Drop)], Action::Drop);
    let req = arp_request(IN_MAC, IN_HOST, [10, 0, 0, 1]);
    let e = send(&mut f, T0, IN, &req);
    assert_eq!(e.gate(1), std::slice::from_ref(&req));
    let rep = arp_reply(OUT_MAC, [10, 0, 0, 1], IN_MAC, IN_HOST);
    let e = send(&mut f, T0, OUT, &rep);
    assert_eq!(e.gate(0), std::slice::from_ref(&rep));
    assert_eq!(counter(&f, "arp_passed"), 2);
    assert_eq!(f.rule_hits(), &[0], "ARP never reaches the rules");
}

#[test]
fn firewall_drops_ipv6_and_vlan_frames_by_default_and_passes_them_with_allow_non_ip() {
    let v6 = eth(OUT_MAC, IN_MAC, 0x86dd, &[0x60; 40]);
    let tagged = testing::eth_tagged(OUT_MAC, IN_MAC, 7, 0x0800, &udp_ip(IN_HOST, OUT_HOST, 1, 2));
    let mut f = fw(vec![], Action::Allow);
    let e = testing::run(&mut f, pool(), T0, IN, &[&v6, &tagged]);
    assert_eq!(e.total(), 0);
    assert_eq!(e.drops.get(DropReason::UnsupportedEthertype), 2);

    let mut f = Firewall::new(&FirewallConfig {
        allow_non_ip: true,
        ..cfg(vec![], Action::Drop)
    });
    let e = testing::run(&mut f, pool(), T0, IN, &[&v6, &tagged]);
    assert_eq!(e.gate(1), &[v6, tagged]);
    assert_eq!(counter(&f, "non_ip_passed"), 2);
}

#[test]
fn firewall_drops_bad_ipv4_headers_with_rfc1812_reasons_and_short_frames_as_malformed() {
    let mut f = fw(vec![], Action::Allow);
    let good = udp_ip(IN_HOST, OUT_HOST, 1000, 53);
    let mut bad_sum = good.clone();
    bad_sum[10] ^= 0xff;
    let mut bad_ver = good.clone();
    bad_ver[0] = 0x65;
    let mut bad_ihl = good.clone();
    bad_ihl[0] = 0x44;
    let mut bad_total = good.clone();
    bad_total[2..4].copy_from_slice(&2000u16.to_be_bytes());
    testing::ipv4_fix_checksum(&mut bad_total);
    let mut short = eth(OUT_MAC, IN_MAC, 0x0800, &[0x45; 10]);
    short.truncate(24);
    let mut tiny = eth(OUT_MAC, IN_MAC, 0x0800, &[]);
    tiny.truncate(10);
    let frames: Vec<Vec<u8>> = [bad_sum, bad_ver, bad_ihl, bad_total]
        .iter()
        .map(|ip| frame_from(IN, ip))
        .collect();
    // A UDP header cut short (total length says 24 bytes: 4 of UDP).
    let cut = ipv4(IN_HOST, OUT_HOST, UDP, 64, &[0, 1, 0, 2]);
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let e = testing::run(&mut f, pool(), T0, IN, &refs);
    assert_eq!(e.total(), 0);
    assert_eq!(e.drops.get(DropReason::IpBadChecksum), 1);
    assert_eq!(e.drops.get(DropReason::IpBadVersion), 1);
    assert_eq!(e.drops.get(DropReason::IpBadHeaderLength), 1);
    assert_eq!(e.drops.get(DropReason::IpBadTotalLength), 1);
    let e = send(&mut f, T0, IN, &short);
    assert_eq!(e.drops.get(DropReason::IpTooShort), 1);
    let e = send(&mut f, T0, IN, &tiny);
    assert_eq!(e.drops.get(DropReason::Malformed), 1);
    let e = send(&mut f, T0, IN, &frame_from(IN, &cut));
    assert_eq!(e.drops.get(DropReason::Malformed), 1);
    assert!(passes(&mut f, T0, IN, &good));
}

#[test]
fn firewall_gate_names_kind_and_shape() {
    let f = fw(vec![], Action::Drop);
    assert_eq!(f.kind(), "firewall");
    assert_eq!((f.gates().inputs, f.gates().outputs), (2, 2));
    assert_eq!(
        (f.gate_name(0), f.gate_name(1)),
        ("in".into(), "out".into())
    );
}

// ------------------------------------------------------------------ rule matching

#[test]
fn rule_direction_matches_only_packets_going_that_way() {
    let mut f = fw(
        vec![Rule {
            direction: Some(Direction::In),
            ..allow()
        }],
        Action::Drop,
    );
    assert!(passes(&mut f, T0, OUT, &udp_ip(OUT_HOST, IN_HOST, 5, 6)));
    assert!(!passes(&mut f, T0, IN, &udp_ip(IN_HOST2, OUT_HOST2, 5, 6)));
}

#[test]
fn rule_prefixes_match_source_and_destination_at_their_boundaries() {
    let mut f = fw(
        vec![Rule {
            src: Some((Ipv4Addr::new(10, 0, 0, 0), 25)),
            dst: Some((Ipv4Addr::new(203, 0, 113, 5), 32)),
            ..allow()
        }],
        Action::Drop,
    );
    assert!(passes(
        &mut f,
        T0,
        IN,
        &udp_ip([10, 0, 0, 127], OUT_HOST, 1, 2)
    ));
    assert!(passes(
        &mut f,
        T0,
        IN,
        &udp_ip([10, 0, 0, 0], OUT_HOST, 1, 2)
    ));
    assert!(!passes(
        &mut f,
        T0,
        IN,
        &udp_ip([10, 0, 0, 128], OUT_HOST, 1, 2)
    ));
    assert!(!passes(
        &mut f,
        T0,
        IN,
        &udp_ip(IN_HOST, [203, 0, 113, 4], 1, 2)
    ));
    // /0 matches everything; host bits in the configured network are ignored.
    let mut f = fw(
        vec![Rule {
            src: Some((Ipv4Addr::new(1, 2, 3, 4), 0)),
            dst: Some((Ipv4Addr::new(203, 0, 113, 77), 24)),
            ..allow()
        }],
        Action::Drop,
    );
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 1, 2)));
}

#[test]
fn rule_proto_matches_by_number() {
    let mut f = fw(
        vec![Rule {
            proto: Some(GRE),
            ..allow()
        }],
        Action::Drop,
    );
    assert!(passes(
        &mut f,
        T0,
        IN,
        &ipv4(IN_HOST, OUT_HOST, GRE, 64, &[0; 8])
    ));
    assert!(!passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 1, 2)));
    assert_eq!(
        f.flows(T0).next().map(|v| v.proto),
        Some(GRE),
        "GRE is tracked"
    );
}

#[test]
fn rule_port_ranges_are_inclusive_at_both_edges_and_need_tcp_or_udp() {
    let mut f = fw(
        vec![Rule {
            dst_ports: Some((1000, 2000)),
            src_ports: Some((5, 5)),
            ..allow()
        }],
        Action::Drop,
    );
    for (dport, ok) in [(999, false), (1000, true), (2000, true), (2001, false)] {
        assert_eq!(
            passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5, dport)),
            ok,
            "udp dport {dport}"
        );
        assert_eq!(
            passes(&mut f, T0, IN, &syn_ip(IN_HOST2, OUT_HOST, 5, dport)),
            ok,
            "tcp dport {dport}"
        );
    }
    assert!(
        !passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 6, 1500)),
        "sport 6"
    );
    // ICMP and other protocols have no ports: a port condition never matches them.
    assert!(!passes(&mut f, T0, IN, &echo_ip(IN_HOST, OUT_HOST, 1500)));
    assert!(!passes(
        &mut f,
        T0,
        IN,
        &ipv4(IN_HOST, OUT_HOST, GRE, 64, &[0; 8])
    ));
}

#[test]
fn rule_icmp_type_matches_only_icmp_of_that_type() {
    let mut f = fw(
        vec![Rule {
            icmp_type: Some(8),
            ..allow()
        }],
        Action::Drop,
    );
    assert!(passes(&mut f, T0, IN, &echo_ip(IN_HOST, OUT_HOST, 7)));
    assert!(!passes(
        &mut f,
        T0,
        IN,
        &ipv4(
            IN_HOST,
            OUT_HOST,
            ICMP,
            64,
            &icmp(13, 0, [0, 1, 0, 0], &[0; 12])
        )
    ));
    assert!(!passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 8, 8)));
}

#[test]
fn rule_states_new_and_established_match_only_those_states() {
    let mut f = fw(
        vec![
            Rule {
                states: states(&[ConnState::New]),
                direction: Some(Direction::Out),
                ..allow()
            },
            Rule {
                states: states(&[ConnState::Established]),
                direction: Some(Direction::In),
                ..allow()
            },
        ],
        Action::Drop,
    );
    // An inbound new packet matches neither.
    assert!(!passes(
        &mut f,
        T0,
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 1000)
    ));
    // Outbound new → flow; the reply is established.
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 1000, 53)));
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 1000)
    ));
    // A later outbound packet is established too, which rule 0 (new only) does not allow.
    assert!(!passes(
        &mut f,
        T0,
        IN,
        &udp_ip(IN_HOST, OUT_HOST, 1000, 53)
    ));
    assert_eq!(f.rule_hits(), &[1, 1]);
    assert_eq!(only_flow_state(&f, T0), FlowState::Replied);
}

#[test]
fn first_matching_rule_wins_over_later_ones() {
    let mut f = fw(
        vec![
            Rule {
                proto: Some(UDP),
                dst_ports: Some((53, 53)),
                ..rule(Action::Drop)
            },
            Rule {
                proto: Some(UDP),
                ..allow()
            },
        ],
        Action::Drop,
    );
    let e = send(
        &mut f,
        T0,
        IN,
        &frame_from(IN, &udp_ip(IN_HOST, OUT_HOST, 1, 53)),
    );
    assert_eq!(e.drops.get(FwDrop::RuleDrop), 1);
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 1, 54)));
    assert_eq!(f.rule_hits(), &[1, 1]);
}

#[test]
fn default_policy_allow_drop_and_reject_apply_when_no_rule_matches() {
    let none = || {
        vec![Rule {
            proto: Some(GRE),
            ..rule(Action::Drop)
        }]
    };
    let ip = udp_ip(IN_HOST, OUT_HOST, 1000, 53);
    let mut f = fw(none(), Action::Allow);
    assert!(passes(&mut f, T0, IN, &ip));
    let mut f = fw(none(), Action::Drop);
    let e = send(&mut f, T0, IN, &frame_from(IN, &ip));
    assert_eq!((e.total(), e.drops.get(FwDrop::RuleDrop)), (0, 1));
    let mut f = fw(none(), Action::Reject);
    let e = send(&mut f, T0, IN, &frame_from(IN, &ip));
    assert_eq!(e.drops.get(FwDrop::Rejected), 1);
    assert_eq!(
        (e.gate(0).len(), e.gate(1).len()),
        (1, 0),
        "ICMP error back in"
    );
    assert_eq!(counter(&f, "default_policy_total"), 1);
    assert_eq!(f.flow_count(), 0, "a rejected packet creates no flow");
}

// ------------------------------------------------------------------ the example policy

#[test]
fn example_policy_lets_outbound_tcp_udp_icmp_out_and_their_replies_back() {
    let mut f = example_policy();
    handshake(&mut f, T0);
    let data = ipv4(
        OUT_HOST,
        IN_HOST,
        TCP,
        64,
        &tcp(
            OUT_HOST,
            IN_HOST,
            443,
            40000,
            1,
            1,
            tcp_flags::ACK | tcp_flags::PSH,
            b"hello",
        ),
    );
    assert!(passes(&mut f, T0, OUT, &data));
    assert!(passes(
        &mut f,
        T0,
        IN,
        &udp_ip(IN_HOST, OUT_HOST2, 5353, 53)
    ));
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &udp_ip(OUT_HOST2, IN_HOST, 53, 5353)
    ));
    assert!(passes(&mut f, T0, IN, &echo_ip(IN_HOST, OUT_HOST, 77)));
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &echo_reply_ip(OUT_HOST, IN_HOST, 77)
    ));
    assert_eq!(f.flow_count(), 3);
    assert_eq!(counter(&f, "flows_created"), 3);
}

#[test]
fn example_policy_blocks_unsolicited_inbound_except_tcp_80() {
    let mut f = example_policy();
    let e = send(
        &mut f,
        T0,
        OUT,
        &frame_from(OUT, &udp_ip(OUT_HOST, IN_HOST, 53, 5353)),
    );
    assert_eq!(e.drops.get(FwDrop::RuleDrop), 1);
    assert!(!passes(
        &mut f,
        T0,
        OUT,
        &syn_ip(OUT_HOST, IN_HOST, 1234, 22)
    ));
    assert!(!passes(&mut f, T0, OUT, &echo_ip(OUT_HOST, IN_HOST, 1)));
    // An echo reply nobody asked for is invalid: dropped as such.
    let e = send(
        &mut f,
        T0,
        OUT,
        &frame_from(OUT, &echo_reply_ip(OUT_HOST, IN_HOST, 9)),
    );
    assert_eq!(e.drops.get(FwDrop::Invalid), 1);
    // Replies to a different port than the outbound flow's are not established.
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5353, 53)));
    assert!(!passes(
        &mut f,
        T0,
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 54, 5353)
    ));
    // Inbound web: SYN allowed by rule 2, the server's SYN-ACK out by rule 0, the rest
    // established.
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &syn_ip(OUT_HOST, IN_HOST, 50000, 80)
    ));
    assert!(passes(
        &mut f,
        T0,
        IN,
        &tcp_ip(
            IN_HOST,
            OUT_HOST,
            80,
            50000,
            tcp_flags::SYN | tcp_flags::ACK
        )
    ));
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &tcp_ip(OUT_HOST, IN_HOST, 50000, 80, tcp_flags::ACK)
    ));
    let web = f.flows(T0).find(|v| v.dst_port == 80).expect("web flow");
    assert_eq!(web.direction, Direction::In);
    assert_eq!(web.src, Ipv4Addr::from(OUT_HOST));
    assert_eq!(web.state, FlowState::Tcp(TcpState::Established));
}

// ------------------------------------------------------------------ reject answers

/// A firewall rejecting everything.
fn rejecting() -> Firewall {
    fw(vec![rule(Action::Reject)], Action::Allow)
}

#[test]
fn reject_tcp_syn_answers_rst_ack_acknowledging_it_with_valid_checksums() {
    let mut f = rejecting();
    let seg = tcp(OUT_HOST, IN_HOST, 1234, 22, 5000, 0, tcp_flags::SYN, b"abc");
    let fr = frame_from(OUT, &ipv4(OUT_HOST, IN_HOST, TCP, 64, &seg));
    let e = send(&mut f, T0, OUT, &fr);
    assert_eq!(e.drops.get(FwDrop::Rejected), 1);
    assert!(e.gate(0).is_empty(), "original dropped");
    let [r] = e.gate(1) else {
        panic!("one RST out of the ingress gate")
    };
    assert_eq!(
        (eth_dst_of(r), eth_src_of(r)),
        (OUT_MAC, IN_MAC),
        "MACs swapped"
    );
    assert_eq!(
        (ip_src(r), ip_dst(r)),
        (IN_HOST, OUT_HOST),
        "spoken as the destination"
    );
    assert_eq!(ip_proto_of(r), TCP);
    assert!(ip_checksum_ok(r));
    let t = l4_of(r);
    assert!(l4_checksum_ok(IN_HOST, OUT_HOST, TCP, t), "TCP checksum");
    assert_eq!(
        (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]])
        ),
        (22, 1234)
    );
    assert_eq!(
        u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        0,
        "seq 0 (no ACK in the SYN)"
    );
    assert_eq!(
        u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        5000 + 3 + 1,
        "ack = seq + data + SYN"
    );
    assert_eq!(t[13], tcp_flags::RST | tcp_flags::ACK);
    assert_eq!(counter(&f, "tcp_resets_sent"), 1);
}

#[test]
fn reject_tcp_ack_answers_rst_with_seq_from_its_ack_and_never_answers_a_rst() {
    let mut f = rejecting();
    let seg = tcp(
        IN_HOST,
        OUT_HOST,
        40000,
        80,
        7,
        0xdead_beef,
        tcp_flags::ACK,
        &[],
    );
    let e = send(
        &mut f,
        T0,
        IN,
        &frame_from(IN, &ipv4(IN_HOST, OUT_HOST, TCP, 64, &seg)),
    );
    let [r] = e.gate(0) else {
        panic!("RST back in")
    };
    let t = l4_of(r);
    assert_eq!(u32::from_be_bytes([t[4], t[5], t[6], t[7]]), 0xdead_beef);
    assert_eq!(t[13], tcp_flags::RST);
    assert!(l4_checksum_ok(OUT_HOST, IN_HOST, TCP, t));
    let rst = tcp_ip(IN_HOST, OUT_HOST, 40000, 80, tcp_flags::RST);
    let e = send(&mut f, T0, IN, &frame_from(IN, &rst));
    assert_eq!((e.total(), e.drops.get(FwDrop::Rejected)), (0, 1));
    assert_eq!(counter(&f, "rejects_suppressed"), 1);
}

#[test]
fn reject_udp_answers_icmp_port_unreachable_quoting_the_datagram() {
    let mut f = rejecting();
    let ip = udp_ip(IN_HOST, OUT_HOST, 1000, 53);
    let e = send(&mut f, T0, IN, &frame_from(IN, &ip));
    let [r] = e.gate(0) else {
        panic!("ICMP back in")
    };
    assert_eq!((eth_dst_of(r), eth_src_of(r)), (IN_MAC, OUT_MAC));
    assert_eq!((ip_src(r), ip_dst(r)), (OUT_HOST, IN_HOST));
    assert!(ip_checksum_ok(r));
    let m = icmp_of(r);
    assert!(verify(m), "ICMP checksum");
    assert_eq!((m[0], m[1]), (3, 3));
    assert_eq!(&m[8..], &ip[..], "the whole (short) datagram is quoted");
    assert_eq!(counter(&f, "icmp_errors_sent"), 1);
}

#[test]
fn reject_other_protocols_answers_admin_prohibited_within_576_bytes() {
    let mut f = rejecting();
    let big = ipv4(IN_HOST, OUT_HOST, GRE, 64, &[0x5a; 1000]);
    let e = send(&mut f, T0, IN, &frame_from(IN, &big));
    let [r] = e.gate(0) else {
        panic!("ICMP back in")
    };
    assert_eq!(ip_of(r).len(), 576, "RFC 1812 4.3.2.3 limit");
    let m = icmp_of(r);
    assert_eq!((m[0], m[1]), (3, 13));
    assert!(verify(m));
    assert_eq!(&m[8..], &big[..548]);
    // An echo request is no ICMP error: answered 3/13 too.
    let e = send(
        &mut f,
        T0,
        IN,
        &frame_from(IN, &echo_ip(IN_HOST, OUT_HOST, 3)),
    );
    assert_eq!(icmp_of(&e.gate(0)[0])[..2], [3, 13]);
}

#[test]
fn reject_never_answers_an_icmp_error_a_broadcast_or_a_martian() {
    let mut f = rejecting();
    let err = unreach_ip(IN_HOST, OUT_HOST, 3, &udp_ip(OUT_HOST, IN_HOST, 53, 1));
    let bcast = eth_ipv4(BROADCAST, IN_MAC, &udp_ip(IN_HOST, [10, 0, 0, 255], 1, 2));
    let mcast = frame_from(IN, &udp_ip(IN_HOST, [224, 0, 0, 251], 5353, 5353));
    let martian = frame_from(IN, &udp_ip([127, 0, 0, 1], OUT_HOST, 1, 2));
    let frames = [frame_from(IN, &err), bcast, mcast, martian];
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let e = testing::run(&mut f, pool(), T0, IN, &refs);
    assert_eq!(e.total(), 0, "no answers");
    assert_eq!(e.drops.get(FwDrop::Rejected), 4);
    assert_eq!(counter(&f, "rejects_suppressed"), 4);
}

#[test]
fn reject_answers_are_rate_limited_by_the_token_bucket() {
    let mut f = Firewall::new(&FirewallConfig {
        icmp_rate_limit: 1,
        icmp_burst: 2,
        ..cfg(vec![rule(Action::Reject)], Action::Allow)
    });
    let fr = frame_from(IN, &udp_ip(IN_HOST, OUT_HOST, 1, 2));
    let e = testing::run(&mut f, pool(), T0, IN, &[&fr, &fr, &fr, &fr]);
    assert_eq!(e.gate(0).len(), 2, "the burst");
    assert_eq!(e.drops.get(FwDrop::Rejected), 4);
    assert_eq!(counter(&f, "rejects_rate_limited"), 2);
    let e = send(&mut f, secs(1), IN, &fr);
    assert_eq!(e.gate(0).len(), 1, "one token per second");
}

// ------------------------------------------------------------------ related and invalid

#[test]
fn related_port_unreachable_for_an_allowed_udp_flow_passes_with_state_related() {
    let related_only = || Rule {
        states: states(&[ConnState::Related]),
        ..allow()
    };
    let mut f = fw(
        vec![
            Rule {
                direction: Some(Direction::Out),
                states: states(&[ConnState::New]),
                ..allow()
            },
            related_only(),
        ],
        Action::Drop,
    );
    let query = udp_ip(IN_HOST, OUT_HOST, 5353, 53);
    assert!(passes(&mut f, T0, IN, &query));
    let err = unreach_ip(OUT_HOST, IN_HOST, 3, &query);
    assert!(passes(&mut f, T0, OUT, &err));
    assert_eq!(counter(&f, "related"), 1);
    assert_eq!(f.rule_hits(), &[1, 1]);
    // From a router on the path (another source address) is related too.
    let err = unreach_ip(OUT_HOST2, IN_HOST, 1, &query);
    assert!(passes(&mut f, T0, OUT, &err));
    // About a flow that does not exist, or quoting a packet the destination did not send:
    // invalid.
    let stray = unreach_ip(OUT_HOST, IN_HOST, 3, &udp_ip(IN_HOST, OUT_HOST, 5354, 53));
    let spoof = unreach_ip(OUT_HOST, IN_HOST2, 3, &query);
    for ip in [stray, spoof] {
        let e = send(&mut f, T0, OUT, &frame_from(OUT, &ip));
        assert_eq!(e.drops.get(FwDrop::Invalid), 1);
    }
    assert_eq!(counter(&f, "invalid"), 2);
}

#[test]
fn related_time_exceeded_for_an_outbound_ping_finds_the_icmp_flow() {
    let mut f = example_policy();
    let ping = echo_ip(IN_HOST, OUT_HOST, 4242);
    assert!(passes(&mut f, T0, IN, &ping));
    let mut f2 = fw(
        vec![
            Rule {
                direction: Some(Direction::Out),
                ..allow()
            },
            Rule {
                states: states(&[ConnState::Related]),
                ..allow()
            },
        ],
        Action::Drop,
    );
    assert!(passes(&mut f2, T0, IN, &ping));
    let te = ipv4(OUT_HOST2, IN_HOST, ICMP, 64, &icmp(11, 0, [0; 4], &ping));
    assert!(passes(&mut f2, T0, OUT, &te));
    // The example policy has no `related` rule: the error is dropped there.
    assert!(!passes(&mut f, T0, OUT, &te));
}

#[test]
fn invalid_tcp_without_a_syn_is_dropped_unless_a_stateless_rule_allows_it() {
    let mut f = fw(
        vec![Rule {
            states: states(&[ConnState::New, ConnState::Established]),
            ..allow()
        }],
        Action::Drop,
    );
    let ack = tcp_ip(OUT_HOST, IN_HOST, 443, 40000, tcp_flags::ACK);
    let e = send(&mut f, T0, OUT, &frame_from(OUT, &ack));
    assert_eq!(e.drops.get(FwDrop::Invalid), 1, "states never name invalid");
    for flags in [
        tcp_flags::SYN | tcp_flags::ACK,
        tcp_flags::SYN | tcp_flags::FIN,
        tcp_flags::RST,
        tcp_flags::FIN,
    ] {
        let e = send(
            &mut f,
            T0,
            OUT,
            &frame_from(OUT, &tcp_ip(OUT_HOST, IN_HOST, 1, 2, flags)),
        );
        assert_eq!(e.drops.get(FwDrop::Invalid), 1, "flags {flags:#x}");
    }
    assert_eq!(counter(&f, "invalid"), 5);
    // A rule with no state condition explicitly allows it; no flow is picked up.
    let mut f = fw(
        vec![Rule {
            proto: Some(TCP),
            ..allow()
        }],
        Action::Drop,
    );
    assert!(passes(&mut f, T0, OUT, &ack));
    assert_eq!(f.flow_count(), 0);
}

// ------------------------------------------------------------------ flows: TCP and expiry

#[test]
fn tcp_flow_goes_syn_sent_syn_received_established_then_fin_wait_and_time_wait() {
    let mut f = fw(vec![], Action::Allow);
    assert!(passes(
        &mut f,
        T0,
        IN,
        &syn_ip(IN_HOST, OUT_HOST, 40000, 443)
    ));
    assert_eq!(only_flow_state(&f, T0), FlowState::Tcp(TcpState::SynSent));
    let synack = tcp_ip(
        OUT_HOST,
        IN_HOST,
        443,
        40000,
        tcp_flags::SYN | tcp_flags::ACK,
    );
    assert!(passes(&mut f, T0, OUT, &synack));
    assert_eq!(
        only_flow_state(&f, T0),
        FlowState::Tcp(TcpState::SynReceived)
    );
    assert!(passes(
        &mut f,
        T0,
        IN,
        &tcp_ip(IN_HOST, OUT_HOST, 40000, 443, tcp_flags::ACK)
    ));
    assert_eq!(
        only_flow_state(&f, T0),
        FlowState::Tcp(TcpState::Established)
    );
    let v = f.flows(T0).next().unwrap();
    assert_eq!(v.expires_in, Duration::from_secs(7440));
    assert_eq!((v.packets_orig, v.packets_reply), (2, 1));
    let fin = tcp_flags::FIN | tcp_flags::ACK;
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &tcp_ip(OUT_HOST, IN_HOST, 443, 40000, fin)
    ));
    assert_eq!(only_flow_state(&f, T0), FlowState::Tcp(TcpState::FinWait));
    assert_eq!(
        f.flows(T0).next().unwrap().expires_in,
        Duration::from_secs(240)
    );
    assert!(passes(
        &mut f,
        T0,
        IN,
        &tcp_ip(IN_HOST, OUT_HOST, 40000, 443, fin)
    ));
    assert_eq!(only_flow_state(&f, T0), FlowState::Tcp(TcpState::TimeWait));
    testing::tick(&mut f, pool(), secs(239));
    assert_eq!(f.flow_count(), 1);
    testing::tick(&mut f, pool(), secs(240));
    assert_eq!(f.flow_count(), 0, "transitory timeout");
    assert_eq!(counter(&f, "flows_expired"), 1);
}

#[test]
fn tcp_rst_closes_the_flow_for_10_s_and_a_new_syn_replaces_it() {
    let mut f = example_policy();
    handshake(&mut f, T0);
    let rst = tcp_ip(OUT_HOST, IN_HOST, 443, 40000, tcp_flags::RST);
    assert!(passes(&mut f, T0, OUT, &rst));
    assert_eq!(only_flow_state(&f, T0), FlowState::Tcp(TcpState::Closed));
    // Port reuse: the same tuple opens again at once.
    assert!(passes(
        &mut f,
        secs(1),
        IN,
        &syn_ip(IN_HOST, OUT_HOST, 40000, 443)
    ));
    assert_eq!(
        only_flow_state(&f, secs(1)),
        FlowState::Tcp(TcpState::SynSent)
    );
    assert_eq!(counter(&f, "flows_created"), 2);
    assert!(passes(&mut f, secs(1), OUT, &rst));
    testing::tick(&mut f, pool(), secs(11));
    assert_eq!(f.flow_count(), 0, "closed timeout 10 s");
}

#[test]
fn flows_expire_by_class_udp_icmp_tcp_established_and_replies_are_then_blocked() {
    let mut f = example_policy();
    handshake(&mut f, T0);
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5353, 53)));
    assert!(passes(&mut f, T0, IN, &echo_ip(IN_HOST, OUT_HOST, 5)));
    assert!(passes(
        &mut f,
        T0,
        IN,
        &ipv4(IN_HOST, OUT_HOST, GRE, 64, &[0; 8])
    ));
    assert_eq!(f.flow_count(), 4);
    testing::tick(&mut f, pool(), secs(59));
    assert_eq!(f.flow_count(), 4);
    testing::tick(&mut f, pool(), secs(60));
    assert_eq!(f.flow_count(), 3, "ICMP after 60 s");
    assert!(!passes(
        &mut f,
        secs(60),
        OUT,
        &echo_reply_ip(OUT_HOST, IN_HOST, 5)
    ));
    // A packet refreshes its flow: UDP seen at 200 s lives until 500 s.
    assert!(passes(
        &mut f,
        secs(200),
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 5353)
    ));
    testing::tick(&mut f, pool(), secs(499));
    assert_eq!(f.flow_count(), 3);
    testing::tick(&mut f, pool(), secs(500));
    assert_eq!(f.flow_count(), 2, "UDP 300 s after its last packet");
    testing::tick(&mut f, pool(), secs(600));
    assert_eq!(f.flow_count(), 1, "other protocols after 600 s");
    testing::tick(&mut f, pool(), secs(7439));
    assert_eq!(f.flow_count(), 1);
    testing::tick(&mut f, pool(), secs(7440));
    assert_eq!(f.flow_count(), 0, "TCP established after 7440 s");
    assert_eq!(counter(&f, "flows_expired"), 4);
}

#[test]
fn lazily_refreshed_flow_expires_exactly_300_s_after_its_last_packet() {
    // The reply 0.5 s after the first packet refreshes the flow without moving it in its
    // list (lazy refresh): it still lives exactly until 300.5 s.
    let mut f = example_policy();
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5353, 53)));
    let t = Instant::from_millis; // T0 is 0
    assert!(passes(
        &mut f,
        t(500),
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 5353)
    ));
    assert_eq!(
        f.flows(t(500)).next().unwrap().expires_in,
        Duration::from_secs(300)
    );
    testing::tick(&mut f, pool(), t(300_499));
    assert_eq!(f.flow_count(), 1);
    assert!(passes(
        &mut f,
        t(300_499),
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 5353)
    ));
    // That packet moved it (more than 1 s since its last move): 600.499 s now.
    testing::tick(&mut f, pool(), t(600_498));
    assert_eq!(f.flow_count(), 1);
    testing::tick(&mut f, pool(), t(600_499));
    assert_eq!(f.flow_count(), 0);
}

#[test]
fn flow_entry_stays_96_bytes() {
    assert_eq!(std::mem::size_of::<super::conntrack::Flow>(), 96);
}

#[test]
fn expired_flow_is_not_found_even_before_the_tick() {
    let mut f = Firewall::new(&FirewallConfig {
        timeouts: FwTimeouts {
            udp: Duration::from_secs(5),
            ..FwTimeouts::default()
        },
        ..cfg(example_policy_rules(), Action::Drop)
    });
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5353, 53)));
    assert!(passes(
        &mut f,
        secs(4),
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 5353)
    ));
    assert!(!passes(
        &mut f,
        secs(9),
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 5353)
    ));
    assert_eq!(f.flow_count(), 0);
}

/// The example policy's first two rules (out, established).
fn example_policy_rules() -> Vec<Rule> {
    vec![
        Rule {
            direction: Some(Direction::Out),
            ..allow()
        },
        Rule {
            states: states(&[ConnState::Established]),
            ..allow()
        },
    ]
}

// ------------------------------------------------------------------ flow cache and counters

#[test]
fn established_packets_use_the_flow_cache_and_do_not_rescan_rules() {
    let mut f = example_policy();
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5353, 53)));
    assert_eq!(counter(&f, "rule_evaluations"), 1, "new packet scanned");
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 5353)
    ));
    assert_eq!(
        counter(&f, "rule_evaluations"),
        2,
        "first reply scanned once"
    );
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5353, 53)));
    assert_eq!(
        counter(&f, "rule_evaluations"),
        3,
        "first established outbound scanned"
    );
    for _ in 0..10 {
        assert!(passes(
            &mut f,
            T0,
            OUT,
            &udp_ip(OUT_HOST, IN_HOST, 53, 5353)
        ));
        assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 5353, 53)));
    }
    assert_eq!(counter(&f, "rule_evaluations"), 3, "cached afterwards");
    // Hits are still counted per packet for the cached rule.
    assert_eq!(f.rule_hits(), &[12, 11, 0]);
    assert_eq!(counter(&f, "established"), 22);
}

#[test]
fn cached_drop_verdict_keeps_dropping_established_packets_without_rescans() {
    // Replies are not allowed by any rule: the default drop is cached for them.
    let mut f = fw(
        vec![Rule {
            direction: Some(Direction::Out),
            ..allow()
        }],
        Action::Drop,
    );
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 1, 2)));
    for _ in 0..3 {
        assert!(!passes(&mut f, T0, OUT, &udp_ip(OUT_HOST, IN_HOST, 2, 1)));
    }
    assert_eq!(counter(&f, "rule_evaluations"), 2);
    assert_eq!(counter(&f, "default_policy_total"), 3);
    let v = f.flows(T0).next().unwrap();
    assert_eq!(
        v.packets_reply, 0,
        "dropped packets are not counted on the flow"
    );
}

#[test]
fn per_rule_hit_counters_count_packets_and_ip_bytes() {
    let mut f = fw(
        vec![
            Rule {
                proto: Some(UDP),
                ..allow()
            },
            Rule {
                proto: Some(ICMP),
                ..rule(Action::Drop)
            },
        ],
        Action::Drop,
    );
    let u = udp_ip(IN_HOST, OUT_HOST, 1, 2);
    let p = echo_ip(IN_HOST, OUT_HOST, 1);
    assert!(passes(&mut f, T0, IN, &u));
    assert!(passes(&mut f, T0, IN, &u));
    assert!(!passes(&mut f, T0, IN, &p));
    assert!(!passes(
        &mut f,
        T0,
        IN,
        &ipv4(IN_HOST, OUT_HOST, GRE, 64, &[])
    ));
    assert_eq!(f.rule_hits(), &[2, 1]);
    assert_eq!(f.rule_bytes(), &[2 * u.len() as u64, p.len() as u64]);
    assert_eq!(counter(&f, "rules_matched_total"), 3);
    assert_eq!(counter(&f, "default_policy_total"), 1);
}

#[test]
fn full_table_drops_new_flows_but_not_established_ones_and_recovers_after_expiry() {
    let mut f = Firewall::new(&FirewallConfig {
        max_flows: 2,
        ..cfg(example_policy_rules(), Action::Drop)
    });
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 1, 53)));
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 2, 53)));
    let e = send(
        &mut f,
        T0,
        IN,
        &frame_from(IN, &udp_ip(IN_HOST, OUT_HOST, 3, 53)),
    );
    assert_eq!(e.drops.get(FwDrop::TableFull), 1);
    assert!(passes(
        &mut f,
        secs(100),
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 1)
    ));
    // No tick: the insert reclaims the expired flow (port 2) itself.
    assert!(passes(
        &mut f,
        secs(301),
        IN,
        &udp_ip(IN_HOST, OUT_HOST, 3, 53)
    ));
    assert_eq!(f.flow_count(), 2);
}

/// Issue 15 defect 2: one inside host sending distinct UDP 5-tuples filled the table and
/// every other host's new flows were `fw_table_full` for the UDP timeout. Now a host holds at
/// most `max_flows_per_host` flows (by default max(max_flows / 16, 64): 64 here).
#[test]
fn one_host_cannot_fill_the_table_another_host_still_opens_flows() {
    let mut f = Firewall::new(&FirewallConfig {
        max_flows: 1024,
        ..cfg(example_policy_rules(), Action::Drop)
    });
    let mut passed = 0;
    for port in 1..=2000u16 {
        if passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, port, 53)) {
            passed += 1;
        }
    }
    assert!(passed <= 64, "one host holds {passed} flows");
    assert!(
        passes(&mut f, T0, IN, &udp_ip(IN_HOST2, OUT_HOST, 1, 53)),
        "another host still opens a flow"
    );
    assert!(counter(&f, "host_quota_exceeded") >= 1000);
}

/// Issue 15 defect 2, early drop (as Linux conntrack's `early_drop`): a full table evicts
/// its oldest flow that never saw a reply (idle for at least a second) rather than refusing
/// a new flow; flows that were answered are never evicted for a new one.
#[test]
fn a_full_table_evicts_an_unreplied_flow_for_a_new_one_never_a_replied_one() {
    let mut f = Firewall::new(&FirewallConfig {
        max_flows: 4,
        ..cfg(example_policy_rules(), Action::Drop)
    });
    let hosts = [
        [10, 0, 0, 11],
        [10, 0, 0, 12],
        [10, 0, 0, 13],
        [10, 0, 0, 14],
    ];
    for (i, h) in hosts.iter().enumerate() {
        assert!(
            passes(&mut f, T0, IN, &udp_ip(*h, OUT_HOST, 1000, 53)),
            "{i}"
        );
    }
    // Hosts 13 and 14 got answers: their flows are replied.
    for h in &hosts[2..] {
        assert!(passes(
            &mut f,
            secs(1),
            OUT,
            &udp_ip(OUT_HOST, *h, 53, 1000)
        ));
    }
    // Two new flows at 2 s take the places of the two unreplied ones (oldest first)...
    assert!(passes(
        &mut f,
        secs(2),
        IN,
        &udp_ip(IN_HOST, OUT_HOST, 1, 53)
    ));
    assert!(passes(
        &mut f,
        secs(2),
        IN,
        &udp_ip(IN_HOST, OUT_HOST, 2, 53)
    ));
    assert_eq!(counter(&f, "early_drops"), 2);
    assert_eq!(f.flow_count(), 4);
    // ...which are now the unreplied ones, but too young (0 s) to be evicted; the replied
    // ones are never evicted: the next new flow is refused.
    let e = send(
        &mut f,
        secs(2),
        IN,
        &frame_from(IN, &udp_ip(IN_HOST2, OUT_HOST, 3, 53)),
    );
    assert_eq!(e.drops.get(FwDrop::TableFull), 1);
    // The replied flows still pass both ways; the evicted one is gone (its reply is invalid).
    assert!(passes(
        &mut f,
        secs(2),
        IN,
        &udp_ip(hosts[2], OUT_HOST, 1000, 53)
    ));
    assert!(!passes(
        &mut f,
        secs(2),
        OUT,
        &udp_ip(OUT_HOST, hosts[0], 53, 1000)
    ));
}

/// Issue 15 defect 5: a non-GSO frame over the firewall's MTU (default 1500) + Ethernet
/// header was passed; now it is `too_big`. GSO super-frames are exempt.
#[test]
fn firewall_drops_non_gso_frames_over_its_mtu_as_too_big() {
    let mut f = example_policy();
    let payload = vec![1u8; 1501 - 28];
    let big = ipv4(
        IN_HOST,
        OUT_HOST,
        UDP,
        64,
        &udp(IN_HOST, OUT_HOST, 4000, 53, &payload),
    );
    let e = send(&mut f, T0, IN, &frame_from(IN, &big));
    assert_eq!((e.total(), e.drops.get(DropReason::TooBig)), (0, 1));
    let fits = ipv4(
        IN_HOST,
        OUT_HOST,
        UDP,
        64,
        &udp(IN_HOST, OUT_HOST, 4000, 53, &payload[1..]),
    );
    assert!(passes(&mut f, T0, IN, &fits));
    let large = PacketPool::new(8, 8192);
    let t = ipv4(
        IN_HOST,
        OUT_HOST,
        TCP,
        64,
        &tcp(IN_HOST, OUT_HOST, 4001, 80, 1, 0, tcp_flags::SYN, b""),
    );
    assert!(passes(&mut f, T0, IN, &t));
    let data = ipv4(
        IN_HOST,
        OUT_HOST,
        TCP,
        64,
        &tcp(
            IN_HOST,
            OUT_HOST,
            4001,
            80,
            2,
            1,
            tcp_flags::ACK,
            &[9; 2960],
        ),
    );
    let gso = testing::to_gso(large, &frame_from(IN, &data), 1400);
    let e = testing::run_packets(&mut f, large, T0, IN, vec![gso]);
    assert_eq!(e.drops.get(DropReason::TooBig), 0, "{:?}", e.drops);
}

// ------------------------------------------------------------------ fragments

#[test]
fn later_fragments_follow_an_allowed_first_fragment_and_orphans_are_dropped() {
    let mut f = example_policy();
    let first = Ipv4Fields {
        id: 99,
        mf: true,
        ..Ipv4Fields::default()
    };
    let l4 = udp(IN_HOST, OUT_HOST, 5000, 6000, &[1; 16]);
    let p1 = ipv4_with(OUT_HOST, IN_HOST, UDP, &first, &l4);
    let rest = Ipv4Fields {
        id: 99,
        frag_offset: 3,
        ..Ipv4Fields::default()
    };
    let p2 = ipv4_with(OUT_HOST, IN_HOST, UDP, &rest, &[2; 16]);
    // Unsolicited inbound: first dropped, later fragment an orphan.
    assert!(!passes(&mut f, T0, OUT, &p1));
    let e = send(&mut f, T0, OUT, &frame_from(OUT, &p2));
    assert_eq!(e.drops.get(FwDrop::Fragment), 1);
    // Outbound (allowed): both pass.
    let q1 = ipv4_with(IN_HOST, OUT_HOST, UDP, &first, &l4);
    let q2 = ipv4_with(IN_HOST, OUT_HOST, UDP, &rest, &[2; 16]);
    assert!(passes(&mut f, T0, IN, &q1));
    assert!(passes(&mut f, T0, IN, &q2));
    assert_eq!(counter(&f, "fragments_passed"), 1);
    testing::tick(&mut f, pool(), secs(31));
    assert!(!passes(&mut f, secs(31), IN, &q2), "forgotten after 30 s");
}

#[test]
fn tcp_fragment_at_offset_8_is_dropped_rfc1858() {
    let mut f = fw(vec![], Action::Allow);
    let first = Ipv4Fields {
        id: 5,
        mf: true,
        ..Ipv4Fields::default()
    };
    let syn = tcp_syn(IN_HOST, OUT_HOST, 1, 80, 0);
    assert!(passes(
        &mut f,
        T0,
        IN,
        &ipv4_with(IN_HOST, OUT_HOST, TCP, &first, &syn)
    ));
    let overlap = Ipv4Fields {
        id: 5,
        frag_offset: 1,
        ..Ipv4Fields::default()
    };
    let p = ipv4_with(IN_HOST, OUT_HOST, TCP, &overlap, &[0; 16]);
    let e = send(&mut f, T0, IN, &frame_from(IN, &p));
    assert_eq!(e.drops.get(FwDrop::Fragment), 1);
}

// ------------------------------------------------------------------ robustness

fn fuzz_ip(rng: &mut XorShift) -> Vec<u8> {
    let addrs = [
        IN_HOST,
        IN_HOST2,
        OUT_HOST,
        OUT_HOST2,
        [255; 4],
        [224, 0, 0, 1],
        [127, 0, 0, 1],
    ];
    let (src, dst) = (rng.pick(&addrs), rng.pick(&addrs));
    let ports = [53u16, 80, 443, 1000, 40000];
    let (sp, dp) = (rng.pick(&ports), rng.pick(&ports));
    let body: Vec<u8> = (0..rng.below(64)).map(|_| rng.byte()).collect();
    let (proto, l4) = match rng.below(6) {
        0 => (UDP, udp(src, dst, sp, dp, &body)),
        1 => (
            TCP,
            tcp(
                src,
                dst,
                sp,
                dp,
                rng.next() as u32,
                rng.next() as u32,
                {
                    let any = rng.byte();
                    rng.pick(&[2, 0x12, 0x10, 0x11, 0x04, 0x18, any])
                },
                &body,
            ),
        ),
        2 => (ICMP, icmp_echo_request(rng.pick(&[1, 2, 3]), 1, &body)),
        3 => (
            ICMP,
            echo_reply_ip(src, dst, rng.pick(&[1, 2, 3]))[20..].to_vec(),
        ),
        4 => {
            let inner = if rng.below(2) == 0 {
                udp_ip(dst, src, dp, sp)
            } else {
                syn_ip(dst, src, dp, sp)
            };
            (
                ICMP,
                icmp(rng.pick(&[3, 11, 5, 9]), rng.byte() % 4, [0; 4], &inner),
            )
        }
        _ => (rng.pick(&[GRE, 50, 0]), body),
    };
    let h = Ipv4Fields {
        id: rng.below(4) as u16,
        mf: rng.below(8) == 0,
        frag_offset: if rng.below(8) == 0 {
            rng.below(4) as u16
        } else {
            0
        },
        ..Ipv4Fields::default()
    };
    let mut ip = ipv4_with(src, dst, proto, &h, &l4);
    if rng.below(10) == 0 {
        let k = rng.below(ip.len() as u64) as usize;
        ip[k] = rng.byte();
        if rng.below(2) == 0 {
            ip[10..12].copy_from_slice(&[0, 0]);
            let c = checksum(&ip[..20]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
    }
    if rng.below(20) == 0 {
        let n = rng.below(ip.len() as u64) as usize;
        ip.truncate(n);
    }
    ip
}

#[test]
fn firewall_survives_20000_seeded_random_packets_conserving_packets_and_buffers() {
    let pool = PacketPool::new(512, 2048);
    let mut rules = example_policy_rules();
    rules.push(Rule {
        proto: Some(TCP),
        dst_ports: Some((80, 80)),
        ..rule(Action::Reject)
    });
    rules.push(Rule {
        proto: Some(UDP),
        src_ports: Some((1000, 1000)),
        ..rule(Action::Reject)
    });
    rules.push(Rule {
        states: states(&[ConnState::Related]),
        ..allow()
    });
    let mut f = Firewall::new(&FirewallConfig {
        max_flows: 64,
        icmp_rate_limit: 100,
        icmp_burst: 10,
        timeouts: FwTimeouts {
            udp: Duration::from_secs(3),
            icmp: Duration::from_secs(2),
            tcp_transitory: Duration::from_secs(5),
            ..FwTimeouts::default()
        },
        ..cfg(rules, Action::Reject)
    });
    let mut rng = XorShift(0x5eed_0f1e_c0de_0001);
    let mut now_ms = 0u64;
    let (mut sent, mut out) = (0usize, 0usize);
    while sent < 20_000 {
        let burst = 1 + rng.below(8) as usize;
        let gate = rng.below(2) as u16;
        let frames: Vec<Vec<u8>> = (0..burst)
            .map(|_| match rng.below(20) {
                0 => arp_request(IN_MAC, IN_HOST, OUT_HOST),
                1 => eth(OUT_MAC, IN_MAC, 0x86dd, &[0; 40]),
                2 => {
                    let n = rng.below(30) as usize;
                    (0..n).map(|_| rng.byte()).collect()
                }
                _ => frame_from(gate, &fuzz_ip(&mut rng)),
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        // testing::run asserts conservation for every call.
        out += testing::run(&mut f, pool, Instant::from_millis(now_ms), gate, &refs).total();
        sent += burst;
        now_ms += rng.below(50);
        if rng.below(10) == 0 {
            testing::tick(&mut f, pool, Instant::from_millis(now_ms));
        }
        assert_eq!(pool.available(), pool.count(), "no buffer kept or leaked");
        let (listed, mapped) = f.flows.check_lists();
        assert_eq!(listed, mapped, "LRU lists and map agree");
        assert!(mapped <= 64, "bounded table");
    }
    assert!(out > 0);
    for name in [
        "flows_created",
        "flows_expired",
        "established",
        "related",
        "invalid",
        "tcp_resets_sent",
        "icmp_errors_sent",
    ] {
        assert!(counter(&f, name) > 0, "the fuzz reached {name}");
    }
    testing::tick(&mut f, pool, Instant::from_millis(now_ms + 10_000_000));
    assert_eq!(f.flow_count(), 0, "everything expires");
}

#[test]
fn firewall_tables_list_flows_and_rules_with_hits() {
    let mut f = example_policy();
    assert!(passes(&mut f, T0, IN, &udp_ip(IN_HOST, OUT_HOST, 1000, 53)));
    assert!(passes(
        &mut f,
        T0,
        OUT,
        &udp_ip(OUT_HOST, IN_HOST, 53, 1000)
    ));
    assert!(!passes(&mut f, T0, OUT, &udp_ip(OUT_HOST, IN_HOST, 9, 9)));
    let mut t = Vec::new();
    f.tables(secs(10), &mut |x| t.push(x));
    assert_eq!(t[0].name, "flows");
    assert_eq!(
        t[0].columns,
        [
            "proto",
            "src",
            "dst",
            "state",
            "packets",
            "bytes",
            "expires_in_s"
        ]
    );
    assert_eq!(t[0].rows.len(), 1);
    let row = &t[0].rows[0];
    assert_eq!(
        row[..5],
        ["udp", "10.0.0.2:1000", "203.0.113.5:53", "replied", "2"]
    );
    assert_eq!(t[1].name, "rules");
    let summary: Vec<(&str, &str, &str, &str)> = t[1]
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("1", "allow", "dir out", "1"),
            ("2", "allow", "state established", "1"),
            ("3", "allow", "dir in proto tcp dport 80-80", "0"),
            ("default", "drop", "any", "1"),
        ]
    );
}

#[test]
fn firewall_passes_gso_super_frames_of_an_established_flow_untouched() {
    let pool = PacketPool::new(16, 70_000);
    let mut f = example_policy();
    let syn = frame_from(
        IN,
        &ipv4(
            IN_HOST,
            OUT_HOST,
            TCP,
            64,
            &tcp_syn(IN_HOST, OUT_HOST, 40000, 80, 1),
        ),
    );
    assert_eq!(send(&mut f, T0, IN, &syn).gate(1).len(), 1);
    let synack = tcp(
        OUT_HOST,
        IN_HOST,
        80,
        40000,
        9,
        2,
        tcp_flags::SYN | tcp_flags::ACK,
        &[],
    );
    let e = send(
        &mut f,
        T0,
        OUT,
        &frame_from(OUT, &ipv4(OUT_HOST, IN_HOST, TCP, 64, &synack)),
    );
    assert_eq!(e.gate(0).len(), 1);
    // A 60 000-byte TSO super-frame: IP total length 60 040, far over any MTU.
    let data = vec![0x5a; 60_000];
    let seg = tcp(IN_HOST, OUT_HOST, 40000, 80, 2, 10, tcp_flags::ACK, &data);
    let frame = frame_from(IN, &ipv4(IN_HOST, OUT_HOST, TCP, 64, &seg));
    let p = testing::to_gso(pool, &frame, 1448);
    let before = p.data().to_vec();
    let o = p.offload();
    let e = testing::run_packets(&mut f, pool, T0, IN, vec![p]);
    assert_eq!(e.drops.total(), 0);
    assert_eq!(e.gate(1), &[before][..], "bytes untouched");
    assert_eq!(e.offload_by_gate[1], vec![o], "offload state kept");
}

#[test]
fn firewall_forwarded_packets_carry_their_validated_ipv4_header_for_the_next_element() {
    let mut f = fw(vec![allow()], Action::Drop);
    let e = send(
        &mut f,
        T0,
        IN,
        &frame_from(IN, &udp_ip(IN_HOST, OUT_HOST, 1000, 53)),
    );
    assert_eq!((e.gate(OUT as usize).len(), e.ipv4_validated), (1, 1));
}
