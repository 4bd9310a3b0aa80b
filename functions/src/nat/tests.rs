//! No-OS unit tests of [`Nat44`]: frames in, frames and counters out, time advanced by
//! value. Names say the scenario, the outcome and the requirement (`RFC-CHECKLIST.md` §4b).
//!
//! Topology used throughout:
//!
//! ```text
//!  H1 10.0.0.1 ┐                                                    ┌ R1 198.51.100.1
//!  H2 10.0.0.2 ├─ ROUTER ── inside (gate 0) [NAT] outside (gate 1) ── PEER ┤
//!  H3 10.0.0.3 ┘  (mac 01)  NAT_IN        EXT 203.0.113.1  NAT_OUT  (mac 02) └ R2 198.51.100.2
//! ```
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use nfv_dataplane::testing::{
    self, Emitted, Ipv4Fields, arp_of, arp_reply, arp_request, counter, eth, eth_dst_of, eth_ipv4,
    eth_src_of, icmp, icmp_echo_request, icmp_of, ip_checksum_ok, ip_dst, ip_frag, ip_of,
    ip_proto_of, ip_src, ipv4, ipv4_with, l4_checksum_ok, l4_of, mac, ms, pool, secs, send, tcp,
    tcp_flags, udp,
};
use nfv_dataplane::wire::checksum::verify;
use nfv_dataplane::{DropReason, Element, Instant, PacketPool, Reason};

use super::{
    Filtering, INSIDE, Nat44, NatConfig, NatDrop, NatError, NatProto, NatTimeouts, OUTSIDE,
    PortForward, SessionState,
};

// ------------------------------------------------------------------ fixtures

const NAT_IN: [u8; 6] = mac(0xa0);
const NAT_OUT: [u8; 6] = mac(0xb0);
const ROUTER: [u8; 6] = mac(0x01);
const PEER: [u8; 6] = mac(0x02);
const EXT: [u8; 4] = [203, 0, 113, 1];
const EXT2: [u8; 4] = [203, 0, 113, 2];
const EXT3: [u8; 4] = [203, 0, 113, 3];
const H1: [u8; 4] = [10, 0, 0, 1];
const H2: [u8; 4] = [10, 0, 0, 2];
const H3: [u8; 4] = [10, 0, 0, 3];
const R1: [u8; 4] = [198, 51, 100, 1];
const R2: [u8; 4] = [198, 51, 100, 2];

const UDP: u8 = 17;
const TCP: u8 = 6;
const ICMP: u8 = 1;
const SYN: u8 = tcp_flags::SYN;
const ACK: u8 = tcp_flags::ACK;
const FIN: u8 = tcp_flags::FIN;
const RST: u8 = tcp_flags::RST;

fn cfg() -> NatConfig {
    NatConfig {
        inside_mac: NAT_IN,
        outside_mac: NAT_OUT,
        external: vec![Ipv4Addr::from(EXT)],
        icmp_rate_limit: 1_000_000,
        icmp_burst: 1_000_000,
        ..NatConfig::default()
    }
}

fn nat_with(f: impl FnOnce(&mut NatConfig)) -> Nat44 {
    let mut c = cfg();
    f(&mut c);
    Nat44::new(&c).unwrap()
}

/// The single frame that came out, which must be on `gate`.
fn only(e: &Emitted, gate: u16) -> Vec<u8> {
    assert_eq!(e.total(), 1, "exactly one frame out, drops {:?}", e.drops);
    assert_eq!(
        e.gate(gate as usize).len(),
        1,
        "the frame is on gate {gate}"
    );
    e.gate(gate as usize)[0].clone()
}

fn dropped(e: &Emitted, r: impl Into<Reason>) {
    let r = r.into();
    let name = e.drops.info(r);
    assert_eq!(e.total(), 0, "nothing out");
    assert_eq!(e.drops.get(r), 1, "dropped as {name}, got {:?}", e.drops);
}

/// Inside frame as the router sends it: to the outside next hop's MAC.
fn inside_frame(ip: &[u8]) -> Vec<u8> {
    eth_ipv4(PEER, ROUTER, ip)
}

/// Outside frame as the internet next hop sends it: to the NAT's outside MAC.
fn outside_frame(ip: &[u8]) -> Vec<u8> {
    eth_ipv4(NAT_OUT, PEER, ip)
}

fn udp_ip(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    ipv4(src, dst, UDP, 64, &udp(src, dst, sport, dport, b"payload"))
}

fn tcp_ip(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, flags: u8) -> Vec<u8> {
    ipv4(
        src,
        dst,
        TCP,
        64,
        &tcp(src, dst, sport, dport, 1000, 0, flags, b""),
    )
}

fn echo_ip(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    ipv4(src, dst, ICMP, 64, &icmp_echo_request(id, 1, b"ping"))
}

fn echo_reply_ip(src: [u8; 4], dst: [u8; 4], id: u16) -> Vec<u8> {
    let [a, b] = id.to_be_bytes();
    ipv4(src, dst, ICMP, 64, &icmp(0, 0, [a, b, 0, 1], b"ping"))
}

fn ports(f: &[u8]) -> (u16, u16) {
    let l = l4_of(f);
    (
        u16::from_be_bytes([l[0], l[1]]),
        u16::from_be_bytes([l[2], l[3]]),
    )
}

fn icmp_id(f: &[u8]) -> u16 {
    let l = icmp_of(f);
    u16::from_be_bytes([l[4], l[5]])
}

/// IP and transport checksums of `f` are right.
fn checksums_ok(f: &[u8]) {
    assert!(ip_checksum_ok(f), "IP header checksum");
    match ip_proto_of(f) {
        ICMP => assert!(verify(icmp_of(f)), "ICMP checksum"),
        p => assert!(
            l4_checksum_ok(ip_src(f), ip_dst(f), p, l4_of(f)),
            "transport checksum"
        ),
    }
}

/// Send UDP from `h:sport` to `r:dport` and return the translated (external) source.
fn out_udp(
    n: &mut Nat44,
    now: Instant,
    h: [u8; 4],
    sport: u16,
    r: [u8; 4],
    dport: u16,
) -> ([u8; 4], u16) {
    let e = send(n, now, INSIDE, &inside_frame(&udp_ip(h, sport, r, dport)));
    let f = only(&e, OUTSIDE);
    checksums_ok(&f);
    assert_eq!(ip_dst(&f), r);
    assert_eq!(ports(&f).1, dport);
    (ip_src(&f), ports(&f).0)
}

fn in_udp(n: &mut Nat44, now: Instant, r: [u8; 4], sport: u16, ext: [u8; 4], port: u16) -> Emitted {
    send(
        n,
        now,
        OUTSIDE,
        &outside_frame(&udp_ip(r, sport, ext, port)),
    )
}

/// Inbound UDP must reach `h:hport` from `r:rport`.
fn in_udp_ok(
    n: &mut Nat44,
    now: Instant,
    r: [u8; 4],
    rport: u16,
    port: u16,
    h: [u8; 4],
    hport: u16,
) {
    let e = in_udp(n, now, r, rport, EXT, port);
    let f = only(&e, INSIDE);
    checksums_ok(&f);
    assert_eq!((ip_src(&f), ports(&f).0), (r, rport));
    assert_eq!((ip_dst(&f), ports(&f).1), (h, hport));
}

fn sa(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ip), port)
}

// ------------------------------------------------------------------ mapping

#[test]
fn nat_udp_mapping_is_endpoint_independent_rfc4787_req1() {
    let mut n = nat_with(|_| {});
    let a = out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    let b = out_udp(&mut n, secs(1), H1, 5000, R2, 53);
    let c = out_udp(&mut n, secs(2), H1, 5000, R1, 54);
    assert_eq!(a, (EXT, 5000));
    assert_eq!((a, a), (b, c), "same external endpoint for every remote");
    assert_eq!(n.mapping_count(), 1);
    assert_eq!(counter(&n, "sessions"), 3);
    assert_eq!(counter(&n, "in2out"), 3);
}

#[test]
fn nat_tcp_mapping_is_endpoint_independent_rfc5382_req1() {
    let mut n = nat_with(|_| {});
    let mut ext = Vec::new();
    for (r, p) in [(R1, 80), (R2, 443), (R1, 8080)] {
        let e = send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&tcp_ip(H1, 40000, r, p, SYN)),
        );
        let f = only(&e, OUTSIDE);
        checksums_ok(&f);
        ext.push((ip_src(&f), ports(&f).0));
    }
    assert!(ext.iter().all(|e| *e == (EXT, 40000)), "{ext:?}");
}

#[test]
fn nat_icmp_query_mapping_is_endpoint_independent_and_replies_return_rfc5508_req1() {
    let mut n = nat_with(|_| {});
    // Force a non-preserved identifier: H2 takes id 700 first.
    only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&echo_ip(H2, R1, 700)),
        ),
        OUTSIDE,
    );
    let e1 = send(
        &mut n,
        secs(0),
        INSIDE,
        &inside_frame(&echo_ip(H1, R1, 700)),
    );
    let e2 = send(
        &mut n,
        secs(0),
        INSIDE,
        &inside_frame(&echo_ip(H1, R2, 700)),
    );
    let (f1, f2) = (only(&e1, OUTSIDE), only(&e2, OUTSIDE));
    checksums_ok(&f1);
    checksums_ok(&f2);
    let id = icmp_id(&f1);
    assert_ne!(id, 700, "id taken by H2");
    assert_eq!(
        (ip_src(&f1), id),
        (ip_src(&f2), icmp_id(&f2)),
        "EIM for ICMP ids"
    );
    // Replies from both remotes come back with the original id.
    for r in [R1, R2] {
        let e = send(
            &mut n,
            secs(1),
            OUTSIDE,
            &outside_frame(&echo_reply_ip(r, EXT, id)),
        );
        let f = only(&e, INSIDE);
        checksums_ok(&f);
        assert_eq!((ip_src(&f), ip_dst(&f), icmp_id(&f)), (r, H1, 700));
    }
    // An inbound echo *request* to a dynamic mapping's id is not for the inside host.
    let e = send(
        &mut n,
        secs(1),
        OUTSIDE,
        &outside_frame(&echo_ip(R1, EXT, id)),
    );
    dropped(&e, NatDrop::NoMapping);
}

#[test]
fn nat_in2out_and_out2in_rewrite_addresses_ports_checksums_and_macs() {
    let mut n = nat_with(|_| {});
    let e = send(
        &mut n,
        secs(0),
        INSIDE,
        &inside_frame(&udp_ip(H1, 5000, R1, 53)),
    );
    // The translation keeps the IPv4 header valid and says so for the next element.
    assert_eq!(e.ipv4_validated, 1);
    let f = only(&e, OUTSIDE);
    assert_eq!(
        eth_src_of(&f),
        NAT_OUT,
        "source MAC is the NAT's outside MAC"
    );
    assert_eq!(eth_dst_of(&f), PEER, "destination MAC kept");
    assert_eq!(&l4_of(&f)[8..], b"payload");
    let e = in_udp(&mut n, secs(1), R1, 53, EXT, 5000);
    let f = only(&e, INSIDE);
    checksums_ok(&f);
    assert_eq!(eth_dst_of(&f), ROUTER, "to the inside neighbour");
    assert_eq!(eth_src_of(&f), NAT_IN);
    assert_eq!((ip_dst(&f), ports(&f)), (H1, (53, 5000)));
    assert_eq!(counter(&n, "out2in"), 1);
}

#[test]
fn nat_udp_zero_checksum_stays_zero_rfc768() {
    let mut n = nat_with(|_| {});
    let mut ip = udp_ip(H2, 5000, R1, 53);
    ip[26..28].copy_from_slice(&[0, 0]);
    let e = send(&mut n, secs(0), INSIDE, &inside_frame(&ip));
    let f = only(&e, OUTSIDE);
    assert_eq!(&l4_of(&f)[6..8], &[0, 0]);
    assert!(ip_checksum_ok(&f));
}

#[test]
fn nat_no_port_overloading_two_hosts_same_port_get_different_external_ports_rfc4787_req3() {
    let mut n = nat_with(|c| c.filtering = Filtering::EndpointIndependent);
    let a = out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    let b = out_udp(&mut n, secs(0), H2, 5000, R1, 53);
    assert_ne!(a, b, "one external endpoint per internal endpoint");
    in_udp_ok(&mut n, secs(1), R1, 53, a.1, H1, 5000);
    in_udp_ok(&mut n, secs(1), R1, 53, b.1, H2, 5000);
    // Same for TCP: the port space is per protocol, but never shared within one.
    let e = send(
        &mut n,
        secs(1),
        INSIDE,
        &inside_frame(&tcp_ip(H1, 5000, R1, 80, SYN)),
    );
    let t1 = ports(&only(&e, OUTSIDE)).0;
    let e = send(
        &mut n,
        secs(1),
        INSIDE,
        &inside_frame(&tcp_ip(H2, 5000, R1, 80, SYN)),
    );
    let t2 = ports(&only(&e, OUTSIDE)).0;
    assert_ne!(t1, t2);
}

#[test]
fn nat_port_preserved_when_free_else_parity_kept_rfc4787_req4() {
    let mut n = nat_with(|_| {});
    assert_eq!(
        out_udp(&mut n, secs(0), H1, 5000, R1, 53).1,
        5000,
        "preserved"
    );
    assert_eq!(
        out_udp(&mut n, secs(0), H1, 5001, R1, 53).1,
        5001,
        "preserved"
    );
    let even = out_udp(&mut n, secs(0), H2, 5000, R1, 53).1;
    let odd = out_udp(&mut n, secs(0), H2, 5001, R1, 53).1;
    assert_eq!((even % 2, odd % 2), (0, 1), "parity kept: {even} {odd}");
    assert!(even >= 1024 && odd >= 1024);
    // A port below the range is not preserved, but its parity is.
    let p = out_udp(&mut n, secs(0), H3, 53, R1, 53).1;
    assert!(p >= 1024 && p % 2 == 1, "{p}");
    // ... unless the range includes it.
    let mut n = nat_with(|c| c.port_range = (1, 65535));
    assert_eq!(out_udp(&mut n, secs(0), H3, 53, R1, 53).1, 53);
}

#[test]
fn nat_paired_pooling_keeps_one_external_address_per_host_rfc4787_req2() {
    let mut n = nat_with(|c| c.external = vec![EXT.into(), EXT2.into()]);
    let mut per_ext = [0usize; 2];
    for h in 1..=64u8 {
        let host = [10, 0, 1, h];
        let (a, _) = out_udp(&mut n, secs(0), host, 1000 + u16::from(h), R1, 53);
        let (b, _) = out_udp(&mut n, secs(0), host, 2000, R2, 53);
        let e = send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&tcp_ip(host, 3000, R1, 80, SYN)),
        );
        let c = ip_src(&only(&e, OUTSIDE));
        let e = send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&echo_ip(host, R2, 9)),
        );
        let d = ip_src(&only(&e, OUTSIDE));
        assert!(
            a == b && b == c && c == d,
            "host {host:?}: {a:?} {b:?} {c:?} {d:?}"
        );
        per_ext[usize::from(a == EXT2)] += 1;
    }
    assert!(
        per_ext[0] > 8 && per_ext[1] > 8,
        "both addresses used: {per_ext:?}"
    );
}

// ------------------------------------------------------------------ filtering

#[test]
fn nat_filtering_endpoint_independent_admits_any_remote_rfc4787_req8() {
    let mut n = nat_with(|c| c.filtering = Filtering::EndpointIndependent);
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    in_udp_ok(&mut n, secs(1), R1, 53, 5000, H1, 5000);
    in_udp_ok(&mut n, secs(1), R1, 9999, 5000, H1, 5000);
    in_udp_ok(&mut n, secs(1), R2, 9999, 5000, H1, 5000);
}

#[test]
fn nat_filtering_address_dependent_is_default_admits_new_port_blocks_new_address_rfc4787_req8() {
    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    in_udp_ok(&mut n, secs(1), R1, 53, 5000, H1, 5000);
    in_udp_ok(&mut n, secs(1), R1, 9999, 5000, H1, 5000);
    dropped(
        &in_udp(&mut n, secs(1), R2, 53, EXT, 5000),
        NatDrop::Filtered,
    );
    assert_eq!(counter(&n, "filtered"), 1);
}

#[test]
fn nat_filtering_address_and_port_dependent_blocks_new_port_rfc5382_req3() {
    let mut n = nat_with(|c| c.filtering = Filtering::AddressAndPortDependent);
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    in_udp_ok(&mut n, secs(1), R1, 53, 5000, H1, 5000);
    dropped(
        &in_udp(&mut n, secs(1), R1, 9999, EXT, 5000),
        NatDrop::Filtered,
    );
    dropped(
        &in_udp(&mut n, secs(1), R2, 53, EXT, 5000),
        NatDrop::Filtered,
    );
}

#[test]
fn nat_inbound_without_mapping_or_to_other_address_is_dropped() {
    let mut n = nat_with(|_| {});
    dropped(
        &in_udp(&mut n, secs(0), R1, 53, EXT, 5000),
        NatDrop::NoMapping,
    );
    dropped(
        &in_udp(&mut n, secs(0), R1, 53, [203, 0, 113, 9], 5000),
        NatDrop::NotExternal,
    );
    let gre = ipv4(R1, EXT, 47, 64, &[0; 8]);
    dropped(
        &send(&mut n, secs(0), OUTSIDE, &outside_frame(&gre)),
        NatDrop::UnsupportedProtocol,
    );
    assert_eq!(counter(&n, "sessions"), 0, "inbound never creates state");
}

// ------------------------------------------------------------------ hairpinning

#[test]
fn nat_hairpin_udp_target_sees_external_source_and_filtering_applies_rfc4787_req9() {
    let mut n = nat_with(|_| {}); // address-dependent filtering
    let (_, p1) = out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    let (_, p2) = out_udp(&mut n, secs(0), H2, 6000, R1, 53);
    // H1 → EXT:p2: H2's mapping never sent to EXT, so the first try is filtered (but makes
    // H1's session to EXT, as a real hole-punching exchange would).
    let to_h2 = eth_ipv4(NAT_IN, ROUTER, &udp_ip(H1, 5000, EXT, p2));
    dropped(&send(&mut n, secs(1), INSIDE, &to_h2), NatDrop::Filtered);
    // H2 → EXT:p1 passes (H1 sent to EXT) and H1 sees H2's *external* endpoint (REQ-9a).
    let to_h1 = eth_ipv4(NAT_IN, ROUTER, &udp_ip(H2, 6000, EXT, p1));
    let f = only(&send(&mut n, secs(2), INSIDE, &to_h1), INSIDE);
    checksums_ok(&f);
    assert_eq!((ip_src(&f), ports(&f).0), (EXT, p2), "external source");
    assert_eq!((ip_dst(&f), ports(&f).1), (H1, 5000));
    assert_eq!((eth_dst_of(&f), eth_src_of(&f)), (ROUTER, NAT_IN));
    // Now H1 → H2 passes too.
    let f = only(&send(&mut n, secs(3), INSIDE, &to_h2), INSIDE);
    assert_eq!((ip_src(&f), ports(&f)), (EXT, (p1, 6000)));
    assert_eq!(ip_dst(&f), H2);
    assert_eq!(counter(&n, "hairpinned"), 2);
}

fn forward_nat() -> Nat44 {
    nat_with(|c| {
        c.forwards = vec![PortForward {
            proto: NatProto::Tcp,
            external: None,
            port: 8080,
            to: sa(H2, 80),
        }];
    })
}

#[test]
fn nat_hairpin_tcp_to_forward_both_ways_with_external_endpoints_rfc5382_req8() {
    let mut n = forward_nat();
    let syn = eth_ipv4(NAT_IN, ROUTER, &tcp_ip(H1, 40000, EXT, 8080, SYN));
    let f = only(&send(&mut n, secs(0), INSIDE, &syn), INSIDE);
    checksums_ok(&f);
    assert_eq!(
        (ip_src(&f), ports(&f).0),
        (EXT, 40000),
        "H2 sees H1's external endpoint"
    );
    assert_eq!((ip_dst(&f), ports(&f).1), (H2, 80));
    assert_eq!(eth_dst_of(&f), ROUTER);
    let synack = eth_ipv4(NAT_IN, ROUTER, &tcp_ip(H2, 80, EXT, 40000, SYN | ACK));
    let f = only(&send(&mut n, secs(0), INSIDE, &synack), INSIDE);
    checksums_ok(&f);
    assert_eq!(
        (ip_src(&f), ports(&f).0),
        (EXT, 8080),
        "H1 sees the forward's endpoint"
    );
    assert_eq!((ip_dst(&f), ports(&f).1), (H1, 40000));
}

#[test]
fn nat_hairpin_icmp_echo_to_one_to_one_host_uses_external_addresses_rfc5508_req7() {
    let mut n = nat_with(|c| c.one_to_one = vec![(H3.into(), EXT3.into())]);
    let req = eth_ipv4(NAT_IN, ROUTER, &echo_ip(H1, EXT3, 42));
    let f = only(&send(&mut n, secs(0), INSIDE, &req), INSIDE);
    checksums_ok(&f);
    assert_eq!((ip_src(&f), ip_dst(&f)), (EXT, H3));
    let id = icmp_id(&f);
    let rep = eth_ipv4(NAT_IN, ROUTER, &echo_reply_ip(H3, EXT, id));
    let f = only(&send(&mut n, secs(0), INSIDE, &rep), INSIDE);
    checksums_ok(&f);
    assert_eq!((ip_src(&f), ip_dst(&f), icmp_id(&f)), (EXT3, H1, 42));
    // Echo to a dynamic external address has nobody to go to.
    let req = eth_ipv4(NAT_IN, ROUTER, &echo_ip(H1, EXT, 43));
    dropped(&send(&mut n, secs(0), INSIDE, &req), NatDrop::NoMapping);
}

// ------------------------------------------------------------------ timers

#[test]
fn nat_udp_mapping_expires_at_300s_not_before_rfc4787_req5() {
    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    in_udp_ok(&mut n, ms(299_999), R1, 53, 5000, H1, 5000);
    dropped(
        &in_udp(&mut n, secs(300), R1, 53, EXT, 5000),
        NatDrop::NoMapping,
    );
    assert_eq!(counter(&n, "mappings"), 0, "reaped on lookup");
    assert_eq!(counter(&n, "sessions_expired"), 1);
}

#[test]
fn nat_outbound_refreshes_inbound_does_not_rfc4787_req6() {
    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    in_udp_ok(&mut n, secs(200), R1, 53, 5000, H1, 5000);
    in_udp_ok(&mut n, secs(299), R1, 53, 5000, H1, 5000);
    dropped(
        &in_udp(&mut n, secs(300), R1, 53, EXT, 5000),
        NatDrop::NoMapping,
    );

    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    out_udp(&mut n, secs(200), H1, 5000, R1, 53);
    in_udp_ok(&mut n, secs(499), R1, 53, 5000, H1, 5000);
    dropped(
        &in_udp(&mut n, secs(500), R1, 53, EXT, 5000),
        NatDrop::NoMapping,
    );
}

#[test]
fn nat_lazy_refresh_keeps_exact_expiry_and_adf_rfc4787_req6() {
    // The second outbound packet comes 0.5 s after the first, inside the lazy-refresh
    // window: the session does not move in its list, but its deadline is exactly 300.5 s.
    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    out_udp(&mut n, ms(500), H1, 5000, R1, 53);
    // Address-dependent filtering: another port of R1 is admitted until 300.5 s (its
    // address entry was last updated at 0 s; the exact answer comes from the sessions).
    in_udp_ok(&mut n, ms(300_200), R1, 54, 5000, H1, 5000);
    in_udp_ok(&mut n, ms(300_499), R1, 53, 5000, H1, 5000);
    let e = testing::tick(&mut n, pool(), ms(300_499));
    assert_eq!(e.total(), 0);
    assert_eq!(counter(&n, "sessions"), 1, "not reaped before it expires");
    dropped(
        &in_udp(&mut n, ms(300_500), R1, 54, EXT, 5000),
        NatDrop::NoMapping,
    );
    assert_eq!(counter(&n, "mappings"), 0);
}

#[test]
fn nat_lazily_refreshed_head_delays_reaping_at_most_the_lag() {
    // H1's session moves to its list at 0 s, H2's at 0.2 s; H1's is refreshed lazily at
    // 0.9 s (deadline 300.9 s, still first in the list). At 300.2 s H2's session has
    // expired: every view and lookup says so at once, but the reaper stops at the live head,
    // so it is freed at most the lag (< 1 s) late, with the head.
    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    out_udp(&mut n, ms(200), H2, 6000, R1, 53);
    out_udp(&mut n, ms(900), H1, 5000, R1, 53);
    testing::tick(&mut n, pool(), ms(300_200));
    let live: Vec<_> = n.sessions(ms(300_200)).collect();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].expires_in, Duration::from_millis(700));
    testing::tick(&mut n, pool(), ms(300_900));
    assert_eq!(
        (counter(&n, "sessions"), counter(&n, "mappings")),
        (0, 0),
        "both reaped once the head expired"
    );
    assert_eq!(counter(&n, "sessions_expired"), 2);
}

#[test]
fn nat_expiry_in_tick_frees_the_port_for_another_host() {
    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    let e = testing::tick(&mut n, pool(), secs(299));
    assert_eq!(e.total(), 0);
    assert_eq!(counter(&n, "sessions"), 1);
    testing::tick(&mut n, pool(), secs(300));
    assert_eq!(
        (
            counter(&n, "sessions"),
            counter(&n, "mappings"),
            counter(&n, "hosts")
        ),
        (0, 0, 0)
    );
    assert_eq!(
        out_udp(&mut n, secs(301), H2, 5000, R1, 53).1,
        5000,
        "port free again"
    );
}

fn session_state(n: &Nat44, now: Instant) -> (SessionState, Duration) {
    let v: Vec<_> = n.sessions(now).collect();
    assert_eq!(v.len(), 1, "{v:?}");
    (v[0].state, v[0].expires_in)
}

fn tcp_out(n: &mut Nat44, now: Instant, flags: u8) {
    let f = inside_frame(&tcp_ip(H1, 40000, R1, 80, flags));
    only(&send(n, now, INSIDE, &f), OUTSIDE);
}

fn tcp_in(n: &mut Nat44, now: Instant, flags: u8) -> Emitted {
    send(
        n,
        now,
        OUTSIDE,
        &outside_frame(&tcp_ip(R1, 80, EXT, 40000, flags)),
    )
}

#[test]
fn nat_tcp_established_uses_7440s_and_fins_both_ways_move_to_240s_rfc5382_req5() {
    let mut n = nat_with(|_| {});
    tcp_out(&mut n, secs(0), SYN);
    assert_eq!(
        session_state(&n, secs(0)),
        (SessionState::TcpOpening, Duration::from_secs(240))
    );
    only(&tcp_in(&mut n, secs(1), SYN | ACK), INSIDE);
    assert_eq!(session_state(&n, secs(1)).0, SessionState::TcpEstablished);
    tcp_out(&mut n, secs(2), ACK);
    assert_eq!(
        session_state(&n, secs(2)),
        (SessionState::TcpEstablished, Duration::from_secs(7440))
    );
    // Inbound does not refresh: alive at 7441 s, gone at 7442 s.
    only(&tcp_in(&mut n, secs(7441), ACK), INSIDE);
    dropped(&tcp_in(&mut n, secs(7442), ACK), NatDrop::NoMapping);

    let mut n = nat_with(|_| {});
    tcp_out(&mut n, secs(0), SYN);
    only(&tcp_in(&mut n, secs(0), SYN | ACK), INSIDE);
    tcp_out(&mut n, secs(0), ACK);
    tcp_out(&mut n, secs(10), FIN | ACK);
    assert_eq!(
        session_state(&n, secs(10)).0,
        SessionState::TcpEstablished,
        "half-closed"
    );
    only(&tcp_in(&mut n, secs(20), FIN | ACK), INSIDE);
    assert_eq!(
        session_state(&n, secs(20)),
        (SessionState::TcpClosing, Duration::from_secs(240))
    );
    only(&tcp_in(&mut n, secs(259), ACK), INSIDE);
    dropped(&tcp_in(&mut n, secs(260), ACK), NatDrop::NoMapping);
}

#[test]
fn nat_tcp_rst_moves_to_transitory_and_new_syn_reopens_rfc5382_req5() {
    let mut n = nat_with(|_| {});
    tcp_out(&mut n, secs(0), SYN);
    only(&tcp_in(&mut n, secs(0), SYN | ACK), INSIDE);
    tcp_out(&mut n, secs(0), ACK);
    only(&tcp_in(&mut n, secs(100), RST), INSIDE);
    assert_eq!(
        session_state(&n, secs(100)),
        (SessionState::TcpClosing, Duration::from_secs(240))
    );
    tcp_out(&mut n, secs(110), SYN);
    assert_eq!(session_state(&n, secs(110)).0, SessionState::TcpOpening);
}

#[test]
fn nat_tcp_simultaneous_open_is_established_rfc5382_req2() {
    let mut n = nat_with(|_| {});
    tcp_out(&mut n, secs(0), SYN);
    // The peer's own SYN (no ACK) crosses ours: admitted, and both SYNs seen.
    let f = only(&tcp_in(&mut n, secs(0), SYN), INSIDE);
    checksums_ok(&f);
    assert_eq!(session_state(&n, secs(0)).0, SessionState::TcpEstablished);
    tcp_out(&mut n, secs(1), SYN | ACK);
    only(&tcp_in(&mut n, secs(1), SYN | ACK), INSIDE);
    assert_eq!(
        session_state(&n, secs(1)),
        (SessionState::TcpEstablished, Duration::from_secs(7440))
    );
}

#[test]
fn nat_unsolicited_syn_held_then_silently_dropped_when_outbound_syn_follows_rfc5382_req4() {
    let mut n = nat_with(|_| {});
    // Mapping exists (H1:40000 talked to R2) but ADF refuses R1: the SYN is unsolicited.
    let f = inside_frame(&tcp_ip(H1, 40000, R2, 80, SYN));
    only(&send(&mut n, secs(0), INSIDE, &f), OUTSIDE);
    let e = tcp_in(&mut n, secs(1), SYN);
    assert_eq!((e.total(), e.drops.total()), (0, 0), "held, not answered");
    assert_eq!(n.held(), 1);
    // H1 opens towards R1 (simultaneous open): the held SYN goes silently.
    let f = inside_frame(&tcp_ip(H1, 40000, R1, 80, SYN));
    let e = send(&mut n, secs(3), INSIDE, &f);
    only(&e, OUTSIDE);
    assert_eq!(e.drops.get(NatDrop::SynSuperseded), 1);
    assert_eq!(n.held(), 0);
    assert_eq!(
        testing::tick(&mut n, pool(), secs(10)).total(),
        0,
        "no Port Unreachable"
    );
}

#[test]
fn nat_unsolicited_syn_held_6s_then_port_unreachable_rfc5382_req4() {
    let mut n = nat_with(|_| {});
    let syn = tcp_ip(R1, 5555, EXT, 22, SYN);
    let e = send(&mut n, secs(0), OUTSIDE, &outside_frame(&syn));
    assert_eq!((e.total(), e.drops.total(), n.held()), (0, 0, 1));
    // A retransmission of the same SYN is not held twice.
    dropped(
        &send(&mut n, secs(1), OUTSIDE, &outside_frame(&syn)),
        NatDrop::UnsolicitedSyn,
    );
    let e = testing::tick(&mut n, pool(), ms(5_999));
    assert_eq!((e.total(), n.held()), (0, 1), "nothing before 6 s");
    let e = testing::tick(&mut n, pool(), secs(6));
    let f = only(&e, OUTSIDE);
    assert_eq!(e.drops.get(NatDrop::UnsolicitedSyn), 1);
    assert_eq!((eth_dst_of(&f), eth_src_of(&f)), (PEER, NAT_OUT));
    assert_eq!((ip_src(&f), ip_dst(&f)), (EXT, R1));
    checksums_ok(&f);
    let m = icmp_of(&f);
    assert_eq!((m[0], m[1]), (3, 3), "Port Unreachable");
    assert_eq!(&m[8..], &syn[..], "quotes the SYN");
    assert_eq!(counter(&n, "syn_port_unreachable_sent"), 1);
}

// ------------------------------------------------------------------ ICMP errors

/// ICMP Destination Unreachable (3/3) quoting all of `orig`.
fn unreach(src: [u8; 4], dst: [u8; 4], orig: &[u8]) -> Vec<u8> {
    ipv4(src, dst, ICMP, 64, &icmp(3, 3, [0; 4], orig))
}

/// Outer IP, ICMP, quoted IP and quoted transport checksums of an ICMP error frame.
fn error_checksums_ok(f: &[u8]) -> Vec<u8> {
    assert!(ip_checksum_ok(f), "outer IP checksum");
    let m = icmp_of(f);
    assert!(verify(m), "ICMP checksum");
    let q = m[8..].to_vec();
    assert!(verify(&q[..20]), "quoted IP checksum");
    let (s, d) = ([q[12], q[13], q[14], q[15]], [q[16], q[17], q[18], q[19]]);
    if q[9] == UDP || q[9] == TCP {
        assert!(
            l4_checksum_ok(s, d, q[9], &q[20..]),
            "quoted transport checksum"
        );
    } else if q[9] == ICMP {
        assert!(verify(&q[20..]), "quoted ICMP checksum");
    }
    q
}

#[test]
fn nat_icmp_error_from_outside_is_translated_with_every_checksum_rfc5508_req5() {
    let mut n = nat_with(|_| {});
    only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&udp_ip(H2, 5000, R1, 53)),
        ),
        OUTSIDE,
    );
    let e = send(
        &mut n,
        secs(0),
        INSIDE,
        &inside_frame(&udp_ip(H1, 5000, R1, 53)),
    );
    let sent = only(&e, OUTSIDE);
    let p = ports(&sent).0;
    assert_ne!(
        p, 5000,
        "port changed, so the quote's checksum must be fixed"
    );
    let err = unreach([192, 0, 2, 1], EXT, ip_of(&sent));
    let f = only(
        &send(&mut n, secs(1), OUTSIDE, &outside_frame(&err)),
        INSIDE,
    );
    let q = error_checksums_ok(&f);
    assert_eq!((ip_src(&f), ip_dst(&f)), ([192, 0, 2, 1], H1));
    assert_eq!((eth_dst_of(&f), eth_src_of(&f)), (ROUTER, NAT_IN));
    assert_eq!(
        &q[..],
        &udp_ip(H1, 5000, R1, 53)[..],
        "the quote is what H1 sent"
    );
    assert_eq!(counter(&n, "icmp_errors_translated"), 1);
}

#[test]
fn nat_icmp_error_from_inside_is_translated_with_every_checksum_rfc5508_req4() {
    let mut n = nat_with(|c| c.filtering = Filtering::EndpointIndependent);
    out_udp(&mut n, secs(0), H2, 5000, R2, 53);
    out_udp(&mut n, secs(0), H1, 5000, R2, 53);
    let p = counter(&n, "sessions");
    assert_eq!(p, 2);
    let ext_port = n
        .sessions(secs(0))
        .find(|s| s.internal == sa(H1, 5000))
        .unwrap()
        .external
        .port();
    let f = only(&in_udp(&mut n, secs(1), R1, 999, EXT, ext_port), INSIDE);
    // H1 answers with Port Unreachable quoting what it received.
    let err = unreach(H1, R1, ip_of(&f));
    let f = only(&send(&mut n, secs(1), INSIDE, &inside_frame(&err)), OUTSIDE);
    let q = error_checksums_ok(&f);
    assert_eq!((ip_src(&f), ip_dst(&f)), (EXT, R1));
    assert_eq!(eth_src_of(&f), NAT_OUT);
    assert_eq!(
        &q[..],
        &udp_ip(R1, 999, EXT, ext_port)[..],
        "the quote is what R1 sent"
    );
}

#[test]
fn nat_icmp_error_about_tcp_and_echo_are_translated_rfc5382_req9() {
    let mut n = nat_with(|_| {});
    only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&tcp_ip(H2, 40000, R1, 80, SYN)),
        ),
        OUTSIDE,
    );
    let sent = only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&tcp_ip(H1, 40000, R1, 80, SYN)),
        ),
        OUTSIDE,
    );
    // Routers usually quote only 8 bytes of the transport header (no TCP checksum).
    let err = unreach(R1, EXT, &ip_of(&sent)[..28]);
    let f = only(
        &send(&mut n, secs(0), OUTSIDE, &outside_frame(&err)),
        INSIDE,
    );
    assert!(ip_checksum_ok(&f) && verify(icmp_of(&f)));
    let q = &icmp_of(&f)[8..];
    assert!(verify(&q[..20]));
    assert_eq!(&q[..28], &tcp_ip(H1, 40000, R1, 80, SYN)[..28]);
    // An error about an echo request we sent (quote = the request).
    only(
        &send(&mut n, secs(0), INSIDE, &inside_frame(&echo_ip(H2, R2, 7))),
        OUTSIDE,
    );
    let sent = only(
        &send(&mut n, secs(0), INSIDE, &inside_frame(&echo_ip(H1, R2, 7))),
        OUTSIDE,
    );
    let err = ipv4(R2, EXT, ICMP, 64, &icmp(11, 0, [0; 4], ip_of(&sent)));
    let f = only(
        &send(&mut n, secs(0), OUTSIDE, &outside_frame(&err)),
        INSIDE,
    );
    let q = error_checksums_ok(&f);
    assert_eq!(&q[..], &echo_ip(H1, R2, 7)[..]);
}

#[test]
fn nat_icmp_error_with_bad_checksum_or_no_session_is_dropped_rfc5508_req3() {
    let mut n = nat_with(|_| {});
    let sent = only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&udp_ip(H1, 5000, R1, 53)),
        ),
        OUTSIDE,
    );
    let mut err = unreach(R1, EXT, ip_of(&sent));
    err[22] ^= 0xff; // ICMP checksum
    dropped(
        &send(&mut n, secs(0), OUTSIDE, &outside_frame(&err)),
        NatDrop::IcmpBadChecksum,
    );
    // A quote of a packet to a remote the mapping never sent to (ADF refuses it).
    let bogus = udp_ip(EXT, 5000, R2, 53);
    let err = unreach(R2, EXT, &bogus);
    dropped(
        &send(&mut n, secs(0), OUTSIDE, &outside_frame(&err)),
        NatDrop::IcmpNoSession,
    );
    let bogus = udp_ip(EXT, 7777, R1, 53);
    let err = unreach(R1, EXT, &bogus);
    dropped(
        &send(&mut n, secs(0), OUTSIDE, &outside_frame(&err)),
        NatDrop::IcmpNoSession,
    );
}

#[test]
fn nat_icmp_errors_never_refresh_or_delete_a_mapping_rfc4787_req12_rfc5508_req6() {
    let mut n = nat_with(|_| {});
    let sent = only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&udp_ip(H1, 5000, R1, 53)),
        ),
        OUTSIDE,
    );
    let err = unreach(R1, EXT, ip_of(&sent));
    for t in [100, 200, 299] {
        only(
            &send(&mut n, secs(t), OUTSIDE, &outside_frame(&err)),
            INSIDE,
        );
        assert_eq!(
            session_state(&n, secs(t)).1,
            Duration::from_secs(300 - t),
            "not refreshed"
        );
        assert_eq!(counter(&n, "mappings"), 1, "not deleted");
    }
    dropped(
        &send(&mut n, secs(300), OUTSIDE, &outside_frame(&err)),
        NatDrop::IcmpNoSession,
    );
}

// ------------------------------------------------------------------ no mapping → code 13

fn assert_code13(e: &Emitted, from: [u8; 4], to: [u8; 4], reason: NatDrop) {
    let f = only(e, INSIDE);
    assert_eq!(e.drops.get(reason), 1, "{:?}", e.drops);
    assert_eq!((eth_dst_of(&f), eth_src_of(&f)), (ROUTER, NAT_IN));
    assert_eq!((ip_src(&f), ip_dst(&f)), (from, to));
    checksums_ok(&f);
    assert_eq!(&icmp_of(&f)[..2], &[3, 13], "administratively prohibited");
}

#[test]
fn nat_code13_when_per_host_quota_is_reached_rfc5508_req8() {
    let mut n = nat_with(|c| c.max_sessions_per_host = 2);
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    out_udp(&mut n, secs(0), H1, 5001, R1, 53);
    let e = send(
        &mut n,
        secs(0),
        INSIDE,
        &inside_frame(&udp_ip(H1, 5000, R2, 53)),
    );
    assert_code13(&e, EXT, H1, NatDrop::HostQuota);
    out_udp(&mut n, secs(0), H2, 5000, R1, 53); // other hosts unaffected
    assert_eq!(counter(&n, "icmp_prohibited_sent"), 1);
}

#[test]
fn nat_code13_when_table_is_full_rfc5508_req8() {
    let mut n = nat_with(|c| c.max_sessions = 2);
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    out_udp(&mut n, secs(0), H2, 5000, R1, 53);
    let e = send(&mut n, secs(0), INSIDE, &inside_frame(&echo_ip(H3, R1, 1)));
    assert_code13(&e, EXT, H3, NatDrop::TableFull);
    // Existing sessions keep working.
    out_udp(&mut n, secs(1), H1, 5000, R1, 53);
}

#[test]
fn nat_code13_when_ports_are_exhausted_rfc5508_req8() {
    let mut n = nat_with(|c| c.port_range = (2000, 2001));
    assert_eq!(out_udp(&mut n, secs(0), H1, 5000, R1, 53).1, 2000);
    assert_eq!(
        out_udp(&mut n, secs(0), H2, 5000, R1, 53).1,
        2001,
        "parity falls back to any"
    );
    let e = send(
        &mut n,
        secs(0),
        INSIDE,
        &inside_frame(&udp_ip(H3, 5000, R1, 53)),
    );
    assert_code13(&e, EXT, H3, NatDrop::PortsExhausted);
    assert_eq!(counter(&n, "port_alloc_failed"), 1);
    // TCP has its own port space.
    only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&tcp_ip(H3, 5000, R1, 80, SYN)),
        ),
        OUTSIDE,
    );
}

#[test]
fn nat_code13_is_rate_limited() {
    let mut n = nat_with(|c| {
        c.max_sessions = 1;
        c.icmp_rate_limit = 1;
        c.icmp_burst = 1;
    });
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    let f = inside_frame(&udp_ip(H2, 5000, R1, 53));
    assert_eq!(send(&mut n, secs(0), INSIDE, &f).total(), 1);
    let e = send(&mut n, secs(0), INSIDE, &f);
    dropped(&e, NatDrop::TableFull);
    assert_eq!(counter(&n, "icmp_errors_rate_limited"), 1);
}

// ------------------------------------------------------------------ forwards and 1:1

#[test]
fn nat_static_forward_admits_anyone_and_its_outbound_uses_the_forwarded_port() {
    let mut n = forward_nat();
    // No inside neighbour seen yet: nowhere to send it.
    let syn = outside_frame(&tcp_ip(R1, 5555, EXT, 8080, SYN));
    dropped(
        &send(&mut n, secs(0), OUTSIDE, &syn),
        NatDrop::NoInsideNeighbour,
    );
    out_udp(&mut n, secs(0), H1, 5000, R1, 53); // teaches the router's MAC
    for r in [R1, R2] {
        let syn = outside_frame(&tcp_ip(r, 5555, EXT, 8080, SYN));
        let f = only(&send(&mut n, secs(1), OUTSIDE, &syn), INSIDE);
        checksums_ok(&f);
        assert_eq!((ip_dst(&f), ports(&f).1, eth_dst_of(&f)), (H2, 80, ROUTER));
    }
    let synack = inside_frame(&tcp_ip(H2, 80, R1, 5555, SYN | ACK));
    let f = only(&send(&mut n, secs(1), INSIDE, &synack), OUTSIDE);
    assert_eq!(
        (ip_src(&f), ports(&f).0),
        (EXT, 8080),
        "EIM with the forward"
    );
    let tcp: Vec<_> = n
        .sessions(secs(1))
        .filter(|s| s.proto == NatProto::Tcp)
        .collect();
    assert_eq!(tcp.len(), 1);
    assert_eq!(tcp[0].state, SessionState::TcpEstablished);
    assert!(tcp[0].is_static && tcp[0].external == sa(EXT, 8080));
    // The forward survives its sessions.
    testing::tick(&mut n, pool(), secs(100_000));
    let syn = outside_frame(&tcp_ip(R2, 1, EXT, 8080, SYN));
    only(&send(&mut n, secs(100_000), OUTSIDE, &syn), INSIDE);
    // Its port is never handed out dynamically.
    assert_ne!(
        {
            let f = inside_frame(&tcp_ip(H1, 8080, R1, 80, SYN));
            ports(&only(&send(&mut n, secs(100_000), INSIDE, &f), OUTSIDE)).0
        },
        8080
    );
}

#[test]
fn nat_one_to_one_translates_addresses_only_for_every_protocol() {
    let mut n = nat_with(|c| c.one_to_one = vec![(H3.into(), EXT3.into())]);
    let f = only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&udp_ip(H3, 5000, R1, 53)),
        ),
        OUTSIDE,
    );
    checksums_ok(&f);
    assert_eq!((ip_src(&f), ports(&f)), (EXT3, (5000, 53)));
    let gre = ipv4(H3, R1, 47, 64, &[0; 8]);
    let f = only(&send(&mut n, secs(0), INSIDE, &inside_frame(&gre)), OUTSIDE);
    assert_eq!(ip_src(&f), EXT3);
    assert!(ip_checksum_ok(&f));
    // Inbound from anyone, to any port, any protocol.
    for ip in [
        udp_ip(R2, 1, EXT3, 7),
        echo_ip(R2, EXT3, 5),
        ipv4(R2, EXT3, 47, 64, &[0; 8]),
    ] {
        let f = only(&send(&mut n, secs(0), OUTSIDE, &outside_frame(&ip)), INSIDE);
        checksums_ok_any(&f);
        assert_eq!(ip_dst(&f), H3);
    }
    assert_eq!(counter(&n, "sessions"), 0, "1:1 is stateless");
}

fn checksums_ok_any(f: &[u8]) {
    if matches!(ip_proto_of(f), ICMP | UDP | TCP) {
        checksums_ok(f);
    } else {
        assert!(ip_checksum_ok(f));
    }
}

#[test]
fn nat_config_rejects_bad_values() {
    let bad = |f: &dyn Fn(&mut NatConfig)| {
        let mut c = cfg();
        f(&mut c);
        Nat44::new(&c).unwrap_err()
    };
    assert_eq!(bad(&|c| c.external.clear()), NatError::NoExternalAddress);
    assert_eq!(
        bad(&|c| c.port_range = (2000, 1999)),
        NatError::BadPortRange(2000, 1999)
    );
    let e = bad(&|c| c.timeouts.udp = Duration::ZERO);
    assert!(e.to_string().contains("udp"), "{e}");
    // Below the RFC floor but positive is the operator's call (config warns).
    let mut low = cfg();
    low.timeouts.udp = Duration::from_secs(30);
    assert!(Nat44::new(&low).is_ok());
    assert!(matches!(
        bad(&|c| c.timeouts = NatTimeouts {
            syn_hold: Duration::from_secs(5),
            ..NatTimeouts::default()
        }),
        NatError::TimeoutBelowFloor {
            name: "syn_hold",
            ..
        }
    ));
    let fw = |proto, port, to| PortForward {
        proto,
        external: None,
        port,
        to,
    };
    assert!(matches!(
        bad(&|c| c.forwards = vec![fw(NatProto::Icmp, 1, sa(H1, 1))]),
        NatError::ForwardProto(1)
    ));
    assert!(matches!(
        bad(&|c| c.forwards = vec![
            fw(NatProto::Tcp, 80, sa(H1, 80)),
            fw(NatProto::Tcp, 80, sa(H2, 80))
        ]),
        NatError::DuplicateForward { .. }
    ));
    assert!(matches!(
        bad(&|c| c.forwards = vec![PortForward {
            external: Some(EXT2.into()),
            ..fw(NatProto::Udp, 1, sa(H1, 1))
        }]),
        NatError::ForwardAddress { .. }
    ));
    assert!(matches!(
        bad(&|c| c.one_to_one = vec![(H3.into(), EXT.into())]),
        NatError::DuplicateExternal(_)
    ));
    assert!(matches!(
        bad(&|c| c.max_sessions = 0),
        NatError::ZeroLimit("max_sessions")
    ));
}

// ------------------------------------------------------------------ fragments

/// A UDP datagram H1:5000 → R1:53 with 40 payload bytes, in three fragments.
fn udp_fragments(id: u16) -> Vec<Vec<u8>> {
    let seg = udp(H1, R1, 5000, 53, &[7u8; 40]); // 48 bytes
    let h = |off: u16, mf: bool| Ipv4Fields {
        id,
        mf,
        frag_offset: off,
        ..Ipv4Fields::default()
    };
    vec![
        inside_frame(&ipv4_with(H1, R1, UDP, &h(0, true), &seg[..16])),
        inside_frame(&ipv4_with(H1, R1, UDP, &h(2, true), &seg[16..32])),
        inside_frame(&ipv4_with(H1, R1, UDP, &h(4, false), &seg[32..])),
    ]
}

fn check_reassembled(frames: &[Vec<u8>]) {
    let mut data = Vec::new();
    for f in frames {
        assert!(ip_checksum_ok(f));
        assert_eq!((ip_src(f), ip_dst(f), eth_src_of(f)), (EXT, R1, NAT_OUT));
        data.extend_from_slice(l4_of(f));
    }
    assert!(
        l4_checksum_ok(EXT, R1, UDP, &data),
        "UDP checksum over the whole datagram"
    );
}

#[test]
fn nat_fragments_in_order_are_translated_like_the_first_rfc4787_req14() {
    let mut n = nat_with(|_| {});
    only(
        &send(
            &mut n,
            secs(0),
            INSIDE,
            &inside_frame(&udp_ip(H2, 5000, R1, 53)),
        ),
        OUTSIDE,
    );
    let fr = udp_fragments(99);
    let refs: Vec<&[u8]> = fr.iter().map(Vec::as_slice).collect();
    let e = testing::run(&mut n, pool(), secs(0), INSIDE, &refs);
    let out = e.gate(OUTSIDE as usize);
    assert_eq!(out.len(), 3);
    assert_ne!(ports(&out[0]).0, 5000, "translated port");
    assert_eq!(ip_frag(&out[1]), (false, true, 16));
    check_reassembled(out);
    assert_eq!(counter(&n, "fragments_translated"), 2);
}

#[test]
fn nat_fragments_out_of_order_are_held_until_the_first_rfc4787_req14() {
    let mut n = nat_with(|_| {});
    let fr = udp_fragments(100);
    let e = testing::run(&mut n, pool(), secs(0), INSIDE, &[&fr[2], &fr[1]]);
    assert_eq!((e.total(), n.held()), (0, 2));
    let e = send(&mut n, ms(1500), INSIDE, &fr[0]);
    let out = e.gate(OUTSIDE as usize);
    assert_eq!((out.len(), n.held()), (3, 0));
    let mut sorted = out.to_vec();
    sorted.sort_by_key(|f| ip_frag(f).2);
    check_reassembled(&sorted);
}

#[test]
fn nat_held_fragments_without_a_first_are_dropped_after_2s_rfc4787_req14() {
    let mut n = nat_with(|_| {});
    let fr = udp_fragments(101);
    send(&mut n, secs(0), INSIDE, &fr[1]);
    assert_eq!(testing::tick(&mut n, pool(), ms(1999)).total(), 0);
    let e = testing::tick(&mut n, pool(), secs(2));
    assert_eq!((e.drops.get(NatDrop::FragmentTimeout), n.held()), (1, 0));
    // The per-datagram bound.
    let mut n = nat_with(|_| {});
    let many: Vec<Vec<u8>> = (1..=17u16)
        .map(|k| {
            let h = Ipv4Fields {
                id: 5,
                mf: true,
                frag_offset: k,
                ..Ipv4Fields::default()
            };
            inside_frame(&ipv4_with(H1, R1, UDP, &h, &[0; 8]))
        })
        .collect();
    let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let e = testing::run(&mut n, pool(), secs(0), INSIDE, &refs);
    assert_eq!((n.held(), e.drops.get(NatDrop::FragmentLimit)), (16, 1));
}

// ------------------------------------------------------------------ L2

#[test]
fn nat_answers_arp_for_external_addresses_on_both_sides_and_passes_other_arp() {
    let mut n = nat_with(|c| c.one_to_one = vec![(H3.into(), EXT3.into())]);
    for (gate, my, asker) in [(OUTSIDE, NAT_OUT, PEER), (INSIDE, NAT_IN, ROUTER)] {
        for target in [EXT, EXT3] {
            let e = send(
                &mut n,
                secs(0),
                gate,
                &arp_request(asker, [192, 0, 2, 9], target),
            );
            let f = only(&e, gate);
            assert_eq!((eth_dst_of(&f), eth_src_of(&f)), (asker, my));
            let a = arp_of(&f);
            assert_eq!(&a[6..8], &[0, 2]);
            assert_eq!((&a[8..14], &a[14..18]), (&my[..], &target[..]));
            assert_eq!((&a[18..24], &a[24..28]), (&asker[..], &[192, 0, 2, 9][..]));
        }
    }
    // The router resolving the outside host, and the answer, pass through unchanged.
    let req = arp_request(ROUTER, [192, 0, 2, 2], [192, 0, 2, 1]);
    assert_eq!(only(&send(&mut n, secs(0), INSIDE, &req), OUTSIDE), req);
    let rep = arp_reply(PEER, [192, 0, 2, 1], ROUTER, [192, 0, 2, 2]);
    assert_eq!(only(&send(&mut n, secs(0), OUTSIDE, &rep), INSIDE), rep);
    assert_eq!(counter(&n, "arp_replies"), 4);
}

#[test]
fn nat_drops_other_ethertypes_and_invalid_ipv4_with_router_reasons() {
    let mut n = nat_with(|_| {});
    let v6 = eth(NAT_OUT, PEER, 0x86dd, &[0; 40]);
    dropped(
        &send(&mut n, secs(0), OUTSIDE, &v6),
        DropReason::UnsupportedEthertype,
    );
    let mut ip = udp_ip(H1, 1, R1, 2);
    ip[10] ^= 1;
    dropped(
        &send(&mut n, secs(0), INSIDE, &inside_frame(&ip)),
        DropReason::IpBadChecksum,
    );
    let short = eth(PEER, ROUTER, 0x0800, &[0x45]);
    dropped(
        &send(&mut n, secs(0), INSIDE, &short[..15]),
        DropReason::IpTooShort,
    );
    let tiny_tcp = ipv4(H1, R1, TCP, 64, &[0; 10]);
    dropped(
        &send(&mut n, secs(0), INSIDE, &inside_frame(&tiny_tcp)),
        DropReason::Malformed,
    );
}

// ------------------------------------------------------------------ inspection

#[test]
fn nat_sessions_iterator_shows_endpoints_state_and_expiry() {
    let mut n = nat_with(|_| {});
    out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    tcp_out(&mut n, secs(10), SYN);
    let mut v: Vec<_> = n.sessions(secs(20)).collect();
    v.sort_by_key(|s| s.proto);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (
            v[0].proto,
            v[0].internal,
            v[0].external,
            v[0].remote,
            v[0].state,
            v[0].expires_in
        ),
        (
            NatProto::Tcp,
            sa(H1, 40000),
            sa(EXT, 40000),
            sa(R1, 80),
            SessionState::TcpOpening,
            Duration::from_secs(230)
        )
    );
    assert_eq!(
        (
            v[1].proto,
            v[1].internal,
            v[1].external,
            v[1].remote,
            v[1].state,
            v[1].expires_in
        ),
        (
            NatProto::Udp,
            sa(H1, 5000),
            sa(EXT, 5000),
            sa(R1, 53),
            SessionState::Udp,
            Duration::from_secs(280)
        )
    );
    assert_eq!(n.sessions(secs(300)).count(), 0);
    assert_eq!(n.kind(), "nat");
    assert_eq!(
        (n.gate_name(0), n.gate_name(1)),
        ("inside".to_string(), "outside".to_string())
    );
}

#[test]
fn nat_memory_per_session_is_measured() {
    use std::mem::size_of;
    let session = size_of::<super::table::Session>();
    let mapping = size_of::<super::table::Mapping>();
    // hashbrown: one control byte per bucket, at most 7/8 full.
    let entry = |bytes: usize| (bytes + 1) as f64 * 8.0 / 7.0;
    let flows = entry(size_of::<(super::table::FlowKey, u32)>());
    let by_addr = entry(size_of::<(u64, (u32, Instant))>());
    let per_session = session as f64 + flows + by_addr;
    let per_mapping = mapping as f64 + 2.0 * entry(size_of::<(super::table::EpKey, u32)>());
    println!(
        "session {session} B, mapping {mapping} B, per session ~{per_session:.1} B, per mapping ~{per_mapping:.1} B"
    );
    assert_eq!(session, 40);
    assert!(mapping <= 48, "{mapping}");
    assert!(per_session < 90.0, "{per_session}");
}

// ------------------------------------------------------------------ properties and fuzz

/// splitmix64: a seeded generator, so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn port(&mut self) -> u16 {
        self.next() as u16
    }
}

#[test]
fn nat_in2out_then_out2in_gives_back_the_original_tuple_property() {
    let mut rng = Rng(7);
    let mut n = nat_with(|c| c.external = vec![EXT.into(), EXT2.into()]);
    for k in 0..2000u64 {
        let h = [
            10,
            rng.below(4) as u8,
            rng.below(256) as u8,
            1 + rng.below(254) as u8,
        ];
        let r = [198, 51, 100, 1 + rng.below(254) as u8];
        let (sp, dp) = (rng.port().max(1), rng.port().max(1));
        let now = Instant::from_millis(k);
        let (ip, rep) = match rng.below(3) {
            0 => (udp_ip(h, sp, r, dp), None),
            1 => (tcp_ip(h, sp, r, dp, SYN), None),
            _ => (echo_ip(h, r, sp), Some(())),
        };
        let f = only(&send(&mut n, now, INSIDE, &inside_frame(&ip)), OUTSIDE);
        checksums_ok(&f);
        let back = match (rep, ip_proto_of(&f)) {
            (Some(()), _) => echo_reply_ip(r, ip_src(&f), icmp_id(&f)),
            (None, UDP) => udp_ip(r, dp, ip_src(&f), ports(&f).0),
            (None, _) => tcp_ip(r, dp, ip_src(&f), ports(&f).0, SYN | ACK),
        };
        let g = only(&send(&mut n, now, OUTSIDE, &outside_frame(&back)), INSIDE);
        checksums_ok(&g);
        assert_eq!((ip_src(&g), ip_dst(&g)), (r, h), "case {k}");
        if ip_proto_of(&g) == ICMP {
            assert_eq!(icmp_id(&g), sp, "case {k}");
        } else {
            assert_eq!(ports(&g), (dp, sp), "case {k}");
        }
    }
}

#[test]
fn nat_seeded_fuzz_never_panics_conserves_packets_and_leaks_no_buffers() {
    let pool = PacketPool::new(4096, 2048);
    let mut rng = Rng(0x5eed);
    let mut n = nat_with(|c| {
        c.external = vec![EXT.into(), EXT2.into()];
        c.port_range = (1024, 1100);
        c.max_sessions = 300;
        c.max_sessions_per_host = 40;
        c.forwards = vec![PortForward {
            proto: NatProto::Udp,
            external: None,
            port: 53,
            to: sa(H2, 53),
        }];
        c.one_to_one = vec![(H3.into(), EXT3.into())];
        c.icmp_rate_limit = 10;
    });
    let hosts = [H1, H2, H3, [10, 0, 0, 4]];
    let remotes = [R1, R2, EXT, EXT2, EXT3];
    let mut now = Instant::ZERO;
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for _ in 0..3000 {
        now += Duration::from_millis(rng.below(20_000));
        let gate = rng.below(2) as u16;
        let mut frames = Vec::new();
        for _ in 0..1 + rng.below(40) {
            let (a, b) = if gate == INSIDE {
                (hosts[rng.below(4) as usize], remotes[rng.below(5) as usize])
            } else {
                (
                    remotes[rng.below(2) as usize],
                    remotes[2 + rng.below(3) as usize],
                )
            };
            let (sp, dp) = (
                1020 + rng.below(90) as u16,
                [53, 80, 1024, 1030][rng.below(4) as usize],
            );
            let flags = [SYN, SYN | ACK, ACK, FIN | ACK, RST][rng.below(5) as usize];
            let h = Ipv4Fields {
                id: rng.below(4) as u16,
                mf: rng.below(6) == 0,
                frag_offset: if rng.below(6) == 0 {
                    1 + rng.below(3) as u16
                } else {
                    0
                },
                ..Ipv4Fields::default()
            };
            let ip = match rng.below(6) {
                0 => ipv4_with(a, b, UDP, &h, &udp(a, b, sp, dp, b"x")),
                1 => ipv4_with(a, b, TCP, &h, &tcp(a, b, sp, dp, 1, 1, flags, b"")),
                2 => ipv4_with(a, b, ICMP, &h, &icmp_echo_request(sp, 1, b"p")),
                3 if !seen.is_empty() => {
                    let q = &seen[rng.below(seen.len() as u64) as usize];
                    ipv4(a, b, ICMP, 64, &icmp(3, rng.below(14) as u8, [0; 4], q))
                }
                4 => ipv4_with(a, b, 47, &h, &[0; 12]),
                _ => {
                    let mut ip = udp_ip(a, sp, b, dp);
                    let k = rng.below(ip.len() as u64) as usize;
                    ip[k] ^= 1 << rng.below(8);
                    ip
                }
            };
            let mut f = if gate == INSIDE {
                inside_frame(&ip)
            } else {
                outside_frame(&ip)
            };
            match rng.below(40) {
                0 => f.truncate(rng.below(f.len() as u64) as usize),
                1 => f = arp_request(ROUTER, H1, [EXT, R1][rng.below(2) as usize]),
                _ => {}
            }
            frames.push(f);
        }
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let e = testing::run(&mut n, pool, now, gate, &refs);
        for g in &e.by_gate {
            for f in g {
                if f.len() > 34 && f[12..14] == [8, 0] && seen.len() < 64 {
                    seen.push(ip_of(f).to_vec());
                }
            }
        }
        if rng.below(4) == 0 {
            testing::tick(&mut n, pool, now);
        }
        assert!(n.sessions(now).count() <= 300);
    }
    let mut all = Vec::new();
    n.counters(&mut |k, v| all.push(format!("{k}={v}")));
    println!("fuzz counters: {}", all.join(" "));
    for (name, least) in [
        ("in2out", 100),
        ("out2in", 10),
        ("hairpinned", 1),
        ("icmp_errors_translated", 1),
        ("fragments_translated", 1),
        ("fragments_held", 1),
        ("syn_held", 1),
        ("sessions_expired", 10),
        ("icmp_prohibited_sent", 1),
    ] {
        assert!(counter(&n, name) >= least, "the fuzz reaches {name}");
    }
    drop(n);
    assert_eq!(pool.available(), pool.count(), "no buffer leaked");
}

#[test]
fn nat_answer_addressed_to_its_inside_mac_goes_to_the_outside_neighbour() {
    // A transparent box between router and NAT (a firewall rejecting an inbound forward)
    // answers with the MACs of the frame it got swapped: destination = the NAT's inside
    // MAC. The NAT must send it on to the outside neighbour, not out with its own MAC.
    let mut n = forward_nat();
    out_udp(&mut n, secs(0), H1, 5000, R1, 53); // teaches the router's MAC
    let outside_peer = mac(0x77);
    let syn = eth_ipv4(NAT_OUT, outside_peer, &tcp_ip(R1, 5555, EXT, 8080, SYN));
    only(&send(&mut n, secs(1), OUTSIDE, &syn), INSIDE);
    let rst = eth_ipv4(NAT_IN, ROUTER, &tcp_ip(H2, 80, R1, 5555, RST | ACK));
    let f = only(&send(&mut n, secs(1), INSIDE, &rst), OUTSIDE);
    assert_eq!((eth_dst_of(&f), eth_src_of(&f)), (outside_peer, NAT_OUT));
    assert_eq!((ip_src(&f), ports(&f).0), (EXT, 8080));
}

#[test]
fn nat_fills_the_default_table_of_65536_sessions_then_answers_code_13_rfc5508_req8() {
    // The default maximum, filled for real: 16 hosts x 1024 source ports x 4 remotes =
    // 16 384 endpoint-independent mappings (they fit one external address's 64 512 ports)
    // and 65 536 sessions, each host exactly at its 4096-session quota. Then one more
    // session is refused with ICMP 3/13.
    let mut n = nat_with(|c| {
        c.max_sessions = 65_536;
        c.max_sessions_per_host = 4096;
    });
    let pool = PacketPool::new(2048, 256);
    let mut frames = Vec::with_capacity(1024);
    for h in 0..16u8 {
        for r in 1..=4u8 {
            frames.clear();
            for p in 0..1024u16 {
                let host = [10, 0, 1, h];
                frames.push(inside_frame(&udp_ip(
                    host,
                    10_000 + p,
                    [198, 51, 100, r],
                    53,
                )));
            }
            let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let e = testing::run(&mut n, pool, secs(1), INSIDE, &refs);
            assert_eq!(e.gate(OUTSIDE as usize).len(), 1024, "host {h} remote {r}");
        }
    }
    assert_eq!(counter(&n, "sessions"), 65_536);
    let e = send(
        &mut n,
        secs(1),
        INSIDE,
        &inside_frame(&udp_ip([10, 0, 2, 1], 40_000, R1, 53)),
    );
    assert_eq!(e.drops.get(NatDrop::TableFull), 1);
    let err = only(&e, INSIDE);
    assert_eq!(
        icmp_of(&err)[..2],
        [3, 13],
        "Communication administratively prohibited"
    );
}

#[test]
fn nat_table_lists_sessions_with_their_external_endpoint() {
    let mut n = nat_with(|_| {});
    let (_, port) = out_udp(&mut n, secs(0), H1, 5000, R1, 53);
    let mut t = Vec::new();
    n.tables(secs(100), &mut |x| t.push(x));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].name, "nat");
    assert_eq!(
        t[0].columns,
        [
            "proto",
            "internal",
            "external",
            "remote",
            "state",
            "expires_in_s"
        ]
    );
    assert_eq!(
        t[0].rows,
        [[
            "udp".to_string(),
            "10.0.0.1:5000".into(),
            format!("203.0.113.1:{port}"),
            "198.51.100.1:53".into(),
            "udp".into(),
            "200".into(),
        ]]
    );
    assert_eq!(t[0].total, 1);
}

// ------------------------------------------------------------------ offloaded frames

/// Cut an emitted GSO frame into its wire segments (what the receiving kernel sees).
fn wire_segments(frame: &[u8], o: &nfv_dataplane::Offload) -> Vec<Vec<u8>> {
    let mut f = frame.to_vec();
    let mut out = Vec::new();
    let mut scratch = vec![0u8; 2048];
    nfv_dataplane::wire::gso::for_each_wire_frame(&mut f, o, &mut scratch, 1518, |s| {
        out.push(s.to_vec())
    })
    .unwrap();
    out
}

#[test]
fn nat_translates_gso_super_frames_with_partial_checksums_both_ways() {
    let pool = PacketPool::new(16, 70_000);
    let mut n = nat_with(|_| {});
    let syn = eth_ipv4(
        NAT_IN,
        ROUTER,
        &ipv4(H1, R1, TCP, 64, &tcp(H1, R1, 40000, 80, 1, 0, SYN, &[])),
    );
    let out = only(&send(&mut n, secs(1), INSIDE, &syn), OUTSIDE);
    let ext_port = u16::from_be_bytes([l4_of(&out)[0], l4_of(&out)[1]]);
    let synack = tcp(R1, EXT, 80, ext_port, 9, 2, SYN | ACK, &[]);
    let back = eth_ipv4(NAT_OUT, PEER, &ipv4(R1, EXT, TCP, 64, &synack));
    only(&send(&mut n, secs(1), OUTSIDE, &back), INSIDE);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
    for (gate, frame, src, dst) in [
        (
            INSIDE,
            eth_ipv4(
                NAT_IN,
                ROUTER,
                &ipv4(H1, R1, TCP, 64, &tcp(H1, R1, 40000, 80, 2, 10, ACK, &data)),
            ),
            EXT,
            R1,
        ),
        (
            OUTSIDE,
            eth_ipv4(
                NAT_OUT,
                PEER,
                &ipv4(
                    R1,
                    EXT,
                    TCP,
                    64,
                    &tcp(R1, EXT, 80, ext_port, 10, 2, ACK, &data),
                ),
            ),
            R1,
            H1,
        ),
    ] {
        let p = testing::to_gso(pool, &frame, 1448);
        let e = testing::run_packets(&mut n, pool, secs(2), gate, vec![p]);
        let to = if gate == INSIDE { OUTSIDE } else { INSIDE };
        let f = only(&e, to);
        assert!(ip_checksum_ok(&f));
        assert_eq!((ip_src(&f), ip_dst(&f)), (src, dst));
        let o = e.offload_by_gate[to as usize][0].expect("still a GSO frame");
        let segs = wire_segments(&f, &o);
        assert_eq!(segs.len(), 20_000usize.div_ceil(1448));
        let mut got = Vec::new();
        for s in &segs {
            assert!(l4_checksum_ok(src, dst, TCP, l4_of(s)), "gate {gate}");
            got.extend_from_slice(&l4_of(s)[20..]);
        }
        assert_eq!(got, data);
    }
}

// ------------------------------------------------------------------ parsed-header metadata

#[test]
fn nat_reuses_an_earlier_elements_ipv4_validation_with_identical_results() {
    let pool = pool();
    let frame = inside_frame(&udp_ip(H1, 5000, R1, 53));
    let run = |marked: bool| {
        let mut n = nat_with(|_| {});
        let mut p = pool.alloc().unwrap();
        assert!(p.extend_from_slice(&frame));
        if marked {
            nfv_dataplane::wire::ipv4::mark_valid(&mut p);
        }
        testing::run_packets(&mut n, pool, secs(0), INSIDE, vec![p])
    };
    let (a, b) = (run(true), run(false));
    assert_eq!(a.by_gate, b.by_gate);
    assert_eq!((a.ipv4_validated, b.ipv4_validated), (1, 1));
}

/// Issue 15 defect 5: a non-GSO frame over the NAT's MTU (default 1500) + Ethernet header
/// was translated and forwarded; now it is `too_big` on either side. GSO super-frames are
/// exempt.
#[test]
fn nat_drops_non_gso_frames_over_its_mtu_as_too_big() {
    let mut n = nat_with(|_| {});
    let payload = vec![1u8; 1501 - 28];
    let big = ipv4(H1, R1, UDP, 64, &udp(H1, R1, 4000, 53, &payload));
    dropped(
        &send(&mut n, secs(0), INSIDE, &inside_frame(&big)),
        DropReason::TooBig,
    );
    let big_in = ipv4(R1, EXT, UDP, 64, &udp(R1, EXT, 53, 4000, &payload));
    dropped(
        &send(&mut n, secs(0), OUTSIDE, &outside_frame(&big_in)),
        DropReason::TooBig,
    );
    let fits = ipv4(H1, R1, UDP, 64, &udp(H1, R1, 4000, 53, &payload[1..]));
    only(
        &send(&mut n, secs(0), INSIDE, &inside_frame(&fits)),
        OUTSIDE,
    );
    let mut jumbo = nat_with(|c| c.mtu = 9000);
    only(
        &send(&mut jumbo, secs(0), INSIDE, &inside_frame(&big)),
        OUTSIDE,
    );
    // GSO: 3000 bytes with a 1400-byte segment size passes.
    let large = PacketPool::new(8, 8192);
    let t = ipv4(H1, R1, TCP, 64, &tcp(H1, R1, 4001, 80, 1, 0, SYN, b""));
    only(&send(&mut n, secs(0), INSIDE, &inside_frame(&t)), OUTSIDE);
    let data = ipv4(
        H1,
        R1,
        TCP,
        64,
        &tcp(H1, R1, 4001, 80, 2, 1, ACK, &[9; 2960]),
    );
    let gso = testing::to_gso(large, &inside_frame(&data), 1400);
    let e = testing::run_packets(&mut n, large, secs(0), INSIDE, vec![gso]);
    assert_eq!(
        e.drops.get(Reason::from(DropReason::TooBig)),
        0,
        "{:?}",
        e.drops
    );
}
