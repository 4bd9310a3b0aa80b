//! No-OS unit tests of [`Ipv4Router`]: frames in, frames and counters out, time advanced by
//! value. Test names say the scenario, the outcome and the RFC section.
//!
//! Topology used throughout (unless a test says otherwise):
//!
//! ```text
//!  H1 10.1.0.2 ── lan-a (gate 0) 10.1.0.1/24 mtu 1500 ─┐
//!  GW_A 10.1.0.254                                      ├─ router
//!  H2 10.2.0.2 ── lan-b (gate 1) 10.2.0.1/24 mtu 1400 ─┘
//!  GW_B 10.2.0.254
//! ```
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::time::Duration;

use nfv_dataplane::testing::{
    self, BROADCAST, Ipv4Fields, XorShift, arp_of, arp_reply, arp_request, counter, eth,
    eth_dst_of, eth_ipv4, eth_src_of, ethertype_of, icmp, icmp_echo_request, icmp_of,
    ip_checksum_ok, ip_dst, ip_frag, ip_hlen, ip_id, ip_of, ip_proto_of, ip_src, ip_ttl, ipv4,
    ipv4_fix_checksum, ipv4_with, l4_checksum_ok, l4_of, mac, ms, pool, secs, send_in, tcp,
    tcp_flags, tcp_syn, udp,
};
use nfv_dataplane::wire::checksum::{checksum, verify};
use nfv_dataplane::{DropReason, Element, Instant, PacketPool, Reason};

use super::{
    ARP_FAILED_HOLD, ARP_QUEUE_PER_NEXT_HOP, ARP_TRIES, Ipv4Router, RouterConfig, RouterDrop,
    RouterInterfaceConfig, StaticRoute,
};

// ------------------------------------------------------------------ fixtures

const LAN_A: u16 = 0;
const LAN_B: u16 = 1;
const RA: [u8; 6] = mac(0xa1);
const RB: [u8; 6] = mac(0xb1);
const A_ADDR: [u8; 4] = [10, 1, 0, 1];
const B_ADDR: [u8; 4] = [10, 2, 0, 1];
const H1: [u8; 6] = mac(1);
const H1_IP: [u8; 4] = [10, 1, 0, 2];
const H2: [u8; 6] = mac(2);
const H2_IP: [u8; 4] = [10, 2, 0, 2];
const GW_A: [u8; 6] = mac(0x54);
const GW_A_IP: [u8; 4] = [10, 1, 0, 254];
const GW_B: [u8; 6] = mac(0x55);
const GW_B_IP: [u8; 4] = [10, 2, 0, 254];
/// TEST-NET-2: no route unless a test adds one.
const UNROUTED: [u8; 4] = [198, 51, 100, 7];
const T0: Instant = Instant::ZERO;

const UDP: u8 = 17;
const TCP: u8 = 6;
const ICMP: u8 = 1;

fn iface(name: &str, mac: [u8; 6], addr: [u8; 4], mtu: u16) -> RouterInterfaceConfig {
    RouterInterfaceConfig {
        name: name.into(),
        mac,
        addr: Ipv4Addr::from(addr),
        prefix_len: 24,
        mtu,
    }
}

/// lan-a and lan-b, the given static routes `(prefix, len, via)`, ICMP rate limit out of
/// the way, 300 s ARP timeout, redirects on.
fn config(routes: &[([u8; 4], u8, [u8; 4])]) -> RouterConfig {
    RouterConfig {
        interfaces: vec![
            iface("lan-a", RA, A_ADDR, 1500),
            iface("lan-b", RB, B_ADDR, 1400),
        ],
        routes: routes
            .iter()
            .map(|(p, l, v)| StaticRoute {
                prefix: Ipv4Addr::from(*p),
                len: *l,
                via: Ipv4Addr::from(*v),
            })
            .collect(),
        icmp_rate_limit: 1_000_000,
        icmp_burst: 1_000_000,
        arp_timeout: Duration::from_secs(300),
        redirects: true,
    }
}

/// [`config`] with lan-a at MTU 9000, for packets that must arrive whole to be fragmented.
fn jumbo_lan_a() -> RouterConfig {
    let mut c = config(&[]);
    c.interfaces[0].mtu = 9000;
    c
}

fn router(cfg: &RouterConfig) -> Ipv4Router {
    Ipv4Router::new(cfg).unwrap()
}

fn router_ip(gate: u16) -> [u8; 4] {
    if gate == LAN_A { A_ADDR } else { B_ADDR }
}

fn router_mac(gate: u16) -> [u8; 6] {
    if gate == LAN_A { RA } else { RB }
}

/// Teach the router `ip` is at `hw` on `gate` with an ARP reply addressed to it (RFC 826:
/// the target learns the sender). Nothing comes out.
fn learn(r: &mut Ipv4Router, pool: PacketPool, now: Instant, gate: u16, hw: [u8; 6], ip: [u8; 4]) {
    let f = arp_reply(hw, ip, router_mac(gate), router_ip(gate));
    let e = send_in(r, pool, now, gate, &f);
    assert_eq!(
        (e.total(), e.consumed),
        (0, 1),
        "ARP reply to the router is consumed"
    );
    assert_eq!(
        r.arp_lookup(Ipv4Addr::from(ip)),
        Some(hw),
        "router learned {ip:?}"
    );
}

/// Run the first tick (gratuitous ARPs) so that later ticks only show ARP retries.
fn start(r: &mut Ipv4Router, pool: PacketPool) {
    let e = testing::tick(r, pool, T0);
    assert_eq!(e.total(), 2, "one gratuitous ARP per interface");
}

/// A UDP packet (IP, no Ethernet) of `payload_len` bytes of a counting pattern.
fn udp_packet(src: [u8; 4], dst: [u8; 4], ttl: u8, payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
    ipv4(src, dst, UDP, ttl, &udp(src, dst, 40000, 33434, &payload))
}

/// A UDP packet with explicit header fields.
fn udp_packet_with(src: [u8; 4], dst: [u8; 4], h: &Ipv4Fields, payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
    ipv4_with(src, dst, UDP, h, &udp(src, dst, 40000, 33434, &payload))
}

/// `ip` as the router forwards it: TTL one less, header checksum recomputed.
fn decremented(ip: &[u8]) -> Vec<u8> {
    let mut d = ip.to_vec();
    d[8] -= 1;
    ipv4_fix_checksum(&mut d);
    d
}

/// Check an ICMP error frame from the router: Ethernet and IP header, ICMP type/code,
/// checksums, and that it quotes `quoted` (the offending IP packet) up to 576 bytes in all.
/// Returns the ICMP message.
#[allow(clippy::too_many_arguments)]
fn assert_icmp_error<'a>(
    f: &'a [u8],
    eth_to: [u8; 6],
    eth_from: [u8; 6],
    from: [u8; 4],
    to: [u8; 4],
    typ: u8,
    code: u8,
    quoted: &[u8],
) -> &'a [u8] {
    assert_eq!(eth_dst_of(f), eth_to, "ICMP error: Ethernet destination");
    assert_eq!(eth_src_of(f), eth_from, "ICMP error: Ethernet source");
    assert_eq!(ethertype_of(f), 0x0800);
    assert_eq!(f.len(), 14 + ip_of(f).len(), "no trailing bytes");
    assert!(ip_checksum_ok(f), "ICMP error: IP header checksum");
    assert_eq!(ip_src(f), from, "ICMP error source (RFC 1812 4.3.2.4)");
    assert_eq!(ip_dst(f), to, "ICMP error goes back to the sender");
    assert_eq!(ip_proto_of(f), ICMP);
    assert!(ip_ttl(f) > 0, "never originate TTL 0 (RFC 1812 5.3.1)");
    assert_eq!(
        ip_of(f)[1],
        0xc0,
        "precedence 6, internetwork control (RFC 1812 4.3.2.5)"
    );
    let (_, mf, off) = ip_frag(f);
    assert!(!mf && off == 0, "not a fragment");
    let m = icmp_of(f);
    assert!(verify(m), "ICMP checksum");
    assert_eq!((m[0], m[1]), (typ, code), "ICMP type/code");
    let q = quoted.len().min(576 - 28);
    assert!(
        ip_of(f).len() <= 576,
        "at most 576 bytes (RFC 1812 4.3.2.3)"
    );
    assert_eq!(
        &m[8..],
        &quoted[..q],
        "quotes the original IP header and data"
    );
    m
}

/// Check a frame is an ARP request from the router on `gate` for `target`.
fn assert_arp_request(f: &[u8], gate: u16, target: [u8; 4]) {
    assert_eq!(eth_dst_of(f), BROADCAST);
    assert_eq!(eth_src_of(f), router_mac(gate));
    let a = arp_of(f);
    assert_eq!(&a[..8], &[0, 1, 8, 0, 6, 4, 0, 1], "Ethernet/IPv4 request");
    assert_eq!(&a[8..14], &router_mac(gate), "sha");
    assert_eq!(&a[14..18], &router_ip(gate), "spa");
    assert_eq!(&a[18..24], &[0; 6], "tha");
    assert_eq!(&a[24..28], &target, "tpa");
}

fn is_arp(f: &[u8]) -> bool {
    ethertype_of(f) == 0x0806
}

// ------------------------------------------------------------------ 1. ARP (RFC 826)

#[test]
fn router_arp_request_for_its_address_gets_exact_reply_and_requester_is_learned_rfc826() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let e = send_in(&mut r, pool, T0, LAN_A, &arp_request(H1, H1_IP, A_ADDR));
    assert!(e.gate(1).is_empty());
    assert_eq!(e.gate(0).len(), 1);
    assert_eq!(
        (e.generated, e.consumed, e.drops.total()),
        (0, 0, 0),
        "reply built in place"
    );
    let f = &e.gate(0)[0];
    assert_eq!(f.len(), 60);
    assert_eq!(eth_dst_of(f), H1, "reply is unicast to the requester");
    assert_eq!(eth_src_of(f), RA);
    assert_eq!(ethertype_of(f), 0x0806);
    let a = arp_of(f);
    assert_eq!(
        &a[..8],
        &[0, 1, 8, 0, 6, 4, 0, 2],
        "htype 1, ptype IPv4, 6, 4, op reply"
    );
    assert_eq!(&a[8..14], &RA, "sha = the interface MAC");
    assert_eq!(&a[14..18], &A_ADDR, "spa = the address asked for");
    assert_eq!(&a[18..24], &H1, "tha = the requester");
    assert_eq!(&a[24..28], &H1_IP, "tpa = the requester");
    assert_eq!(counter(&r, "arp_replies_sent"), 1);
    // RFC 826: the target of a request learns the requester.
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H1_IP)), Some(H1));
    assert_eq!(counter(&r, "arp_entries"), 1);
}

#[test]
fn router_arp_request_for_another_address_is_consumed_unanswered_and_not_learned_rfc826() {
    let pool = pool();
    let mut r = router(&config(&[]));
    // Another host on lan-a, and lan-b's address asked on lan-a (answered only on lan-b).
    for tpa in [[10, 1, 0, 3], B_ADDR] {
        let e = send_in(&mut r, pool, T0, LAN_A, &arp_request(H1, H1_IP, tpa));
        assert_eq!(
            (e.total(), e.consumed, e.generated),
            (0, 1, 0),
            "asking for {tpa:?}"
        );
    }
    assert_eq!(counter(&r, "arp_replies_sent"), 0);
    // RFC 826: without an existing entry, only the target learns the sender.
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H1_IP)), None);
    assert_eq!(counter(&r, "arp_entries"), 0);
}

#[test]
fn router_arp_merge_updates_an_existing_entry_from_any_arp_on_its_interface_rfc826() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    // H1 changed its NIC and asks for somebody else: merge flag set, entry updated.
    let e = send_in(
        &mut r,
        pool,
        ms(10),
        LAN_A,
        &arp_request(mac(9), H1_IP, [10, 1, 0, 3]),
    );
    assert_eq!((e.total(), e.consumed), (0, 1));
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H1_IP)), Some(mac(9)));
    // A gratuitous ARP (spa == tpa) moves it back.
    let e = send_in(&mut r, pool, ms(20), LAN_A, &arp_request(H1, H1_IP, H1_IP));
    assert_eq!((e.total(), e.consumed), (0, 1));
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H1_IP)), Some(H1));
    // The same address claimed on the other interface changes nothing.
    let e = send_in(
        &mut r,
        pool,
        ms(30),
        LAN_B,
        &arp_request(mac(7), H1_IP, B_ADDR),
    );
    assert_eq!(e.drops.total(), 0);
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H1_IP)), Some(H1));
    assert_eq!(counter(&r, "arp_entries"), 1);
}

#[test]
fn router_arp_never_learns_a_sender_outside_the_interface_subnet_rfc826() {
    let pool = pool();
    let mut r = router(&config(&[]));
    // lan-b's host claimed on lan-a (spoofing), an off-subnet sender, an RFC 5227 probe.
    for spa in [H2_IP, [192, 0, 2, 9], [0, 0, 0, 0]] {
        let e = send_in(&mut r, pool, T0, LAN_A, &arp_request(mac(7), spa, A_ADDR));
        assert_eq!(e.drops.total(), 0, "sender {spa:?}");
        assert_eq!(
            r.arp_lookup(Ipv4Addr::from(spa)),
            None,
            "sender {spa:?} not learned"
        );
        let e = send_in(&mut r, pool, T0, LAN_A, &arp_reply(mac(7), spa, RA, A_ADDR));
        assert_eq!((e.total(), e.consumed), (0, 1));
        assert_eq!(
            r.arp_lookup(Ipv4Addr::from(spa)),
            None,
            "sender {spa:?} not learned"
        );
    }
    assert_eq!(counter(&r, "arp_entries"), 0);
}

#[test]
fn router_arp_never_believes_a_broadcast_or_multicast_sender_hardware_address_rfc1812_3_3_2() {
    let pool = pool();
    let mut r = router(&config(&[]));
    for sha in [BROADCAST, [0x01, 0x00, 0x5e, 0, 0, 1]] {
        // A well-formed frame from H1's MAC whose ARP payload claims a group address.
        let mut f = arp_request(sha, H1_IP, A_ADDR);
        f[6..12].copy_from_slice(&H1);
        send_in(&mut r, pool, T0, LAN_A, &f);
        let mut f = arp_reply(sha, H1_IP, RA, A_ADDR);
        f[6..12].copy_from_slice(&H1);
        send_in(&mut r, pool, T0, LAN_A, &f);
        assert_eq!(r.arp_lookup(Ipv4Addr::from(H1_IP)), None, "{sha:x?}");
    }
    // Nor does a known entry get overwritten by one.
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let mut f = arp_request(BROADCAST, H1_IP, [10, 1, 0, 3]);
    f[6..12].copy_from_slice(&H1);
    send_in(&mut r, pool, T0, LAN_A, &f);
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H1_IP)), Some(H1));
}

#[test]
fn router_arp_with_bad_hardware_or_protocol_type_is_dropped_arp_invalid_rfc826() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let mut bad_htype = arp_request(H1, H1_IP, A_ADDR);
    bad_htype[15] = 6; // IEEE 802 instead of Ethernet
    let mut bad_ptype = arp_request(H1, H1_IP, A_ADDR);
    bad_ptype[16..18].copy_from_slice(&0x86ddu16.to_be_bytes());
    let short = arp_request(H1, H1_IP, A_ADDR)[..41].to_vec();
    for f in [bad_htype, bad_ptype, short] {
        let e = send_in(&mut r, pool, T0, LAN_A, &f);
        assert_eq!((e.total(), e.drops.get(DropReason::ArpInvalid)), (0, 1));
    }
    assert_eq!(counter(&r, "arp_entries"), 0);
}

// ------------------------------------------------------------------ 2. Echo server

/// An echo request frame from H1 (lan-a) to `dst`.
fn ping_frame(dst: [u8; 4], ttl: u8, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let ip = ipv4(H1_IP, dst, ICMP, ttl, &icmp_echo_request(0x4242, 7, data));
    (eth_ipv4(RA, H1, &ip), ip)
}

fn assert_echo_reply(f: &[u8], from: [u8; 4], data: &[u8]) {
    assert_eq!(eth_dst_of(f), H1);
    assert_eq!(eth_src_of(f), RA);
    assert_eq!(f.len(), 14 + 28 + data.len(), "Ethernet padding trimmed");
    assert!(ip_checksum_ok(f), "IP header checksum");
    assert_eq!(
        ip_src(f),
        from,
        "source = the address pinged (RFC 1122 3.2.2.6)"
    );
    assert_eq!(ip_dst(f), H1_IP);
    assert!(ip_ttl(f) > 1);
    let m = icmp_of(f);
    assert!(verify(m), "ICMP checksum");
    assert_eq!((m[0], m[1]), (0, 0), "Echo Reply");
    assert_eq!(
        &m[4..8],
        &[0x42, 0x42, 0, 7],
        "same identifier and sequence"
    );
    assert_eq!(&m[8..], data, "same data");
}

#[test]
fn router_echo_request_gets_reply_with_same_id_seq_data_from_pinged_address_rfc1812_4_3_3_6() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let before = counter(&r, "local_delivered");
    let (f, _) = ping_frame(A_ADDR, 64, b"0123456789abcdef");
    let e = send_in(&mut r, pool, T0, LAN_A, &f);
    assert!(e.gate(1).is_empty());
    assert_eq!(e.gate(0).len(), 1);
    assert_eq!(
        (e.generated, e.drops.total()),
        (0, 0),
        "reply built in place"
    );
    assert_echo_reply(&e.gate(0)[0], A_ADDR, b"0123456789abcdef");
    // Odd-length data exercises the checksum's last byte.
    let (f, _) = ping_frame(A_ADDR, 64, b"odd");
    let e = send_in(&mut r, pool, T0, LAN_A, &f);
    assert_echo_reply(&e.gate(0)[0], A_ADDR, b"odd");
    assert_eq!(counter(&r, "echo_replies"), 2);
    assert_eq!(counter(&r, "local_delivered") - before, 2);
}

#[test]
fn router_echo_request_with_ttl_1_or_0_to_router_is_answered_not_expired_rfc1812_5_3_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    for ttl in [1, 0] {
        let (f, _) = ping_frame(A_ADDR, ttl, b"ttl");
        let e = send_in(&mut r, pool, T0, LAN_A, &f);
        assert_eq!(e.drops.get(RouterDrop::TtlExceeded), 0, "TTL {ttl}");
        assert_eq!(e.gate(0).len(), 1, "TTL {ttl}");
        assert_echo_reply(&e.gate(0)[0], A_ADDR, b"ttl");
    }
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
}

#[test]
fn router_echo_to_other_interface_address_is_answered_from_that_address_rfc1812_4_3_3_6() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let (f, _) = ping_frame(B_ADDR, 64, b"far side");
    let e = send_in(&mut r, pool, T0, LAN_A, &f);
    assert!(e.gate(1).is_empty(), "the reply goes back out lan-a");
    assert_eq!(e.gate(0).len(), 1);
    assert_echo_reply(&e.gate(0)[0], B_ADDR, b"far side");
}

#[test]
fn router_echo_reply_to_unresolved_host_waits_for_arp_rfc1122_2_3_2_2() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let (f, _) = ping_frame(A_ADDR, 64, b"who are you");
    let e = send_in(&mut r, pool, T0, LAN_A, &f);
    assert_eq!(r.held(), 1, "the reply waits for H1's MAC");
    assert_eq!(e.gate(0).len(), 1);
    assert_arp_request(&e.gate(0)[0], LAN_A, H1_IP);
    let e = send_in(
        &mut r,
        pool,
        ms(5),
        LAN_A,
        &arp_reply(H1, H1_IP, RA, A_ADDR),
    );
    assert_eq!(r.held(), 0);
    assert_eq!(e.gate(0).len(), 1);
    assert_echo_reply(&e.gate(0)[0], A_ADDR, b"who are you");
}

#[test]
fn router_echo_request_with_bad_icmp_checksum_is_consumed_without_reply_rfc1122_3_2_2() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let mut m = icmp_echo_request(1, 1, b"x");
    m[2] ^= 0x55;
    let f = eth_ipv4(RA, H1, &ipv4(H1_IP, A_ADDR, ICMP, 64, &m));
    let e = send_in(&mut r, pool, T0, LAN_A, &f);
    assert_eq!((e.total(), e.consumed, e.generated), (0, 1, 0));
    assert_eq!(counter(&r, "echo_replies"), 0);
}

// ------------------------------------------------------------------ 3. Forwarding

#[test]
fn router_forwards_with_ttl_decremented_by_one_valid_checksum_and_egress_macs_rfc1812_5_3_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let ip = udp_packet(H1_IP, H2_IP, 64, 10);
    let frame = eth_ipv4(RA, H1, &ip);
    assert_eq!(frame.len(), 60, "padded input");
    let e = send_in(&mut r, pool, T0, LAN_A, &frame);
    assert!(e.gate(0).is_empty(), "no redirect, nothing back");
    assert_eq!(e.gate(1).len(), 1);
    assert_eq!((e.generated, e.drops.total()), (0, 0));
    let f = &e.gate(1)[0];
    assert_eq!(f.len(), 14 + ip.len(), "Ethernet padding trimmed");
    assert_eq!(eth_dst_of(f), H2, "dst MAC = the resolved next hop");
    assert_eq!(eth_src_of(f), RB, "src MAC = the egress interface");
    assert_eq!(ethertype_of(f), 0x0800);
    let out = ip_of(f);
    assert_eq!(out[8], 63, "TTL decremented by exactly one");
    assert!(ip_checksum_ok(f));
    let mut recomputed = out[..20].to_vec();
    recomputed[10..12].copy_from_slice(&[0, 0]);
    assert_eq!(
        u16::from_be_bytes([out[10], out[11]]),
        checksum(&recomputed),
        "incremental update equals a full recompute"
    );
    assert_eq!(out, &decremented(&ip)[..], "nothing else changed");
    assert_eq!(counter(&r, "forwarded"), 1);
}

// ------------------------------------------------------------------ 4. ARP resolution

#[test]
fn router_holds_first_packet_to_unknown_next_hop_and_arps_then_sends_it_rfc1122_2_3_2_2() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let ip = udp_packet(H1_IP, H2_IP, 64, 30);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(r.held(), 1);
    assert!(e.gate(0).is_empty());
    assert_eq!(e.gate(1).len(), 1);
    assert_eq!(e.generated, 1);
    assert_arp_request(&e.gate(1)[0], LAN_B, H2_IP);
    assert_eq!(counter(&r, "arp_requests_sent"), 1);
    let e = send_in(
        &mut r,
        pool,
        ms(200),
        LAN_B,
        &arp_reply(H2, H2_IP, RB, B_ADDR),
    );
    assert_eq!(r.held(), 0);
    assert_eq!(e.consumed, 1, "the ARP reply");
    assert_eq!(e.gate(1).len(), 1);
    let f = &e.gate(1)[0];
    assert_eq!((eth_dst_of(f), eth_src_of(f)), (H2, RB));
    assert_eq!(ip_of(f), &decremented(&ip)[..]);
    assert_eq!(counter(&r, "arp_resolved"), 1);
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H2_IP)), Some(H2));
}

#[test]
fn router_pending_resolution_completes_from_the_next_hops_own_arp_request_rfc826() {
    // RFC 826 merge: an ARP request from the awaited host resolves it as well as a reply.
    let pool = pool();
    let mut r = router(&config(&[]));
    let ip = udp_packet(H1_IP, H2_IP, 64, 8);
    send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(r.held(), 1);
    let e = send_in(&mut r, pool, ms(50), LAN_B, &arp_request(H2, H2_IP, B_ADDR));
    assert_eq!(r.held(), 0);
    assert_eq!(e.gate(1).len(), 2, "the held packet and the ARP reply");
    let (arp, ipf): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) = e.gate(1).iter().partition(|f| is_arp(f));
    assert_eq!(&arp_of(arp[0])[6..8], &[0, 2]);
    assert_eq!(eth_dst_of(ipf[0]), H2);
    assert_eq!(ip_of(ipf[0]), &decremented(&ip)[..]);
}

#[test]
fn router_arp_queue_is_bounded_per_next_hop_and_extra_packets_dropped_arp_queue_full_rfc1122_2_3_2_2()
 {
    let pool = pool();
    let mut r = router(&config(&[]));
    let n = ARP_QUEUE_PER_NEXT_HOP + 2;
    let ips: Vec<Vec<u8>> = (0..n)
        .map(|k| {
            let h = Ipv4Fields {
                id: k as u16,
                ..Ipv4Fields::default()
            };
            udp_packet_with(H1_IP, H2_IP, &h, 20)
        })
        .collect();
    let frames: Vec<Vec<u8>> = ips.iter().map(|ip| eth_ipv4(RA, H1, ip)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let e = testing::run(&mut r, pool, T0, LAN_A, &refs);
    assert_eq!(r.held(), ARP_QUEUE_PER_NEXT_HOP as u64);
    assert_eq!(e.drops.get(RouterDrop::ArpQueueFull), 2);
    assert_eq!(e.gate(1).len(), 1, "one ARP request for the lot");
    let e = send_in(
        &mut r,
        pool,
        ms(100),
        LAN_B,
        &arp_reply(H2, H2_IP, RB, B_ADDR),
    );
    assert_eq!(r.held(), 0);
    let ids: Vec<u16> = e.gate(1).iter().map(|f| ip_id(f)).collect();
    assert_eq!(
        ids,
        (0..ARP_QUEUE_PER_NEXT_HOP as u16).collect::<Vec<_>>(),
        "in order"
    );
}

#[test]
fn router_sends_at_most_one_arp_request_per_second_per_destination_rfc1122_2_3_2_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    start(&mut r, pool);
    let base = counter(&r, "arp_requests_sent");
    let to_h2 = eth_ipv4(RA, H1, &udp_packet(H1_IP, H2_IP, 64, 8));
    let e = testing::run(&mut r, pool, T0, LAN_A, &[&to_h2, &to_h2]);
    assert_eq!(e.gate(1).len(), 1, "two packets within 1 s: one request");
    let e = send_in(&mut r, pool, ms(500), LAN_A, &to_h2);
    assert!(
        e.gate(1).is_empty(),
        "a third packet within 1 s: no request"
    );
    // Another destination gets its own request.
    let to_h3 = eth_ipv4(RA, H1, &udp_packet(H1_IP, [10, 2, 0, 3], 64, 8));
    let e = send_in(&mut r, pool, ms(500), LAN_A, &to_h3);
    assert_eq!(e.gate(1).len(), 1);
    assert_arp_request(&e.gate(1)[0], LAN_B, [10, 2, 0, 3]);
    for t in [500, 700, 999] {
        let e = testing::tick(&mut r, pool, ms(t));
        assert_eq!(e.total(), 0, "no retry before 1 s (tick at {t} ms)");
    }
    let e = testing::tick(&mut r, pool, ms(1000));
    assert_eq!(e.gate(1).len(), 1, "retry for H2 at +1 s");
    assert_arp_request(&e.gate(1)[0], LAN_B, H2_IP);
    let e = testing::tick(&mut r, pool, ms(1500));
    assert_eq!(e.gate(1).len(), 1, "retry for 10.2.0.3 at its own +1 s");
    assert_arp_request(&e.gate(1)[0], LAN_B, [10, 2, 0, 3]);
    let e = testing::tick(&mut r, pool, ms(1900));
    assert_eq!(e.total(), 0);
    assert_eq!(counter(&r, "arp_requests_sent") - base, 4);
    assert_eq!(r.held(), 4);
}

#[test]
fn router_gives_up_after_arp_tries_and_sends_host_unreachable_to_sender_rfc1812_5_2_7_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    start(&mut r, pool);
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let base = counter(&r, "arp_requests_sent");
    let ip = udp_packet(H1_IP, H2_IP, 64, 40);
    let f = eth_ipv4(RA, H1, &ip);
    let e = testing::run(&mut r, pool, T0, LAN_A, &[&f, &f]);
    assert_eq!((e.gate(1).len(), r.held()), (1, 2));
    for k in 1..u64::from(ARP_TRIES) {
        let e = testing::tick(&mut r, pool, secs(k));
        assert_eq!(e.gate(1).len(), 1, "request {} at {k} s", k + 1);
        assert_arp_request(&e.gate(1)[0], LAN_B, H2_IP);
        assert!(e.gate(0).is_empty());
    }
    assert_eq!(
        counter(&r, "arp_requests_sent") - base,
        u64::from(ARP_TRIES)
    );
    let failed_at = secs(u64::from(ARP_TRIES));
    let e = testing::tick(&mut r, pool, failed_at);
    assert!(e.gate(1).is_empty(), "no further request");
    assert_eq!(r.held(), 0);
    assert_eq!(e.drops.get(RouterDrop::HostUnreachable), 2);
    assert_eq!(e.gate(0).len(), 2, "one Host Unreachable per held packet");
    // The held packet had already been through TTL decrement.
    let quoted = decremented(&ip);
    for f in e.gate(0) {
        assert_icmp_error(f, H1, RA, A_ADDR, H1_IP, 3, 1, &quoted);
    }
    assert_eq!(counter(&r, "arp_failed"), 1);
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H2_IP)), None);

    // Within ARP_FAILED_HOLD: Host Unreachable at once, no new request, nothing held.
    let e = send_in(&mut r, pool, failed_at + ARP_FAILED_HOLD / 2, LAN_A, &f);
    assert!(e.gate(1).is_empty());
    assert_eq!(r.held(), 0);
    assert_eq!(e.drops.get(RouterDrop::HostUnreachable), 1);
    assert_eq!(e.gate(0).len(), 1);
    assert_icmp_error(
        &e.gate(0)[0],
        H1,
        RA,
        A_ADDR,
        H1_IP,
        3,
        1,
        &decremented(&ip),
    );

    // After the hold, resolution starts again.
    let later = failed_at + ARP_FAILED_HOLD;
    testing::tick(&mut r, pool, later);
    let e = send_in(&mut r, pool, later, LAN_A, &f);
    assert_eq!(r.held(), 1);
    assert_eq!(e.gate(1).len(), 1);
    assert_arp_request(&e.gate(1)[0], LAN_B, H2_IP);
}

#[test]
fn router_arp_failure_for_two_next_hops_in_one_tick_counts_two_failures() {
    let pool = pool();
    let mut r = router(&config(&[]));
    start(&mut r, pool);
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let a = eth_ipv4(RA, H1, &udp_packet(H1_IP, H2_IP, 64, 8));
    let b = eth_ipv4(RA, H1, &udp_packet(H1_IP, [10, 2, 0, 3], 64, 8));
    testing::run(&mut r, pool, T0, LAN_A, &[&a, &b]);
    for k in 1..=u64::from(ARP_TRIES) {
        testing::tick(&mut r, pool, secs(k));
    }
    assert_eq!(r.held(), 0);
    assert_eq!(
        counter(&r, "arp_failed"),
        2,
        "one per next hop that did not answer"
    );
}

#[test]
fn router_arp_entry_ages_out_after_arp_timeout_rfc1122_2_3_2_1() {
    let pool = pool();
    let mut cfg = config(&[]);
    cfg.arp_timeout = Duration::from_secs(10);
    let mut r = router(&cfg);
    start(&mut r, pool);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    testing::tick(&mut r, pool, secs(10));
    assert_eq!(
        r.arp_lookup(Ipv4Addr::from(H2_IP)),
        Some(H2),
        "alive at exactly the timeout"
    );
    testing::tick(&mut r, pool, ms(10_100));
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H2_IP)), None, "aged out");
    assert_eq!(counter(&r, "arp_entries"), 0);
    let e = send_in(
        &mut r,
        pool,
        ms(10_200),
        LAN_A,
        &eth_ipv4(RA, H1, &udp_packet(H1_IP, H2_IP, 64, 8)),
    );
    assert_eq!(r.held(), 1, "resolved again before use");
    assert_arp_request(&e.gate(1)[0], LAN_B, H2_IP);
}

#[test]
fn router_arp_entry_in_use_is_reprobed_in_last_quarter_of_its_life_and_refreshed_by_reply() {
    let pool = pool();
    let mut cfg = config(&[]);
    cfg.arp_timeout = Duration::from_secs(8);
    let mut r = router(&cfg);
    start(&mut r, pool);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let f = eth_ipv4(RA, H1, &udp_packet(H1_IP, H2_IP, 64, 8));
    let e = send_in(&mut r, pool, secs(5), LAN_A, &f);
    assert_eq!(
        e.gate(1).len(),
        1,
        "forwarded, no probe before 3/4 of the lifetime"
    );
    let e = send_in(&mut r, pool, ms(6_500), LAN_A, &f);
    assert_eq!(e.gate(1).len(), 2, "forwarded and probed");
    assert!(!is_arp(&e.gate(1)[0]));
    assert_arp_request(&e.gate(1)[1], LAN_B, H2_IP);
    let e = send_in(&mut r, pool, ms(7_000), LAN_A, &f);
    assert_eq!(e.gate(1).len(), 1, "at most one probe per second");
    send_in(
        &mut r,
        pool,
        ms(7_200),
        LAN_B,
        &arp_reply(H2, H2_IP, RB, B_ADDR),
    );
    testing::tick(&mut r, pool, secs(9));
    assert_eq!(
        r.arp_lookup(Ipv4Addr::from(H2_IP)),
        Some(H2),
        "refreshed by the reply"
    );
    testing::tick(&mut r, pool, ms(15_300));
    assert_eq!(r.arp_lookup(Ipv4Addr::from(H2_IP)), None);
}

// ------------------------------------------------------------------ 5, 6. TTL and no route

#[test]
fn router_ttl_expiry_sends_time_exceeded_from_ingress_address_rfc1812_5_3_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    for ttl in [1, 0] {
        // A traceroute probe.
        let ip = udp_packet(H1_IP, H2_IP, ttl, 24);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert!(e.gate(1).is_empty(), "TTL {ttl}: not forwarded");
        assert_eq!(e.drops.get(RouterDrop::TtlExceeded), 1);
        assert_eq!((e.gate(0).len(), e.generated), (1, 1));
        let m = assert_icmp_error(&e.gate(0)[0], H1, RA, A_ADDR, H1_IP, 11, 0, &ip);
        assert_eq!(&m[4..8], &[0; 4], "unused");
    }
    assert_eq!(counter(&r, "icmp_errors_sent"), 2);
    assert_eq!(counter(&r, "forwarded"), 0);
}

#[test]
fn router_ttl_expiry_of_echo_request_sends_time_exceeded_rfc1812_4_3_2_7() {
    // ICMP queries are not errors: traceroute -I relies on Time Exceeded for them.
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let ip = ipv4(H1_IP, H2_IP, ICMP, 1, &icmp_echo_request(9, 1, b"probe"));
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(0).len(), 1);
    assert_icmp_error(&e.gate(0)[0], H1, RA, A_ADDR, H1_IP, 11, 0, &ip);
}

#[test]
fn router_ttl_expiry_time_exceeded_comes_from_the_ingress_interface_on_lan_b_rfc1812_4_3_2_4() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let ip = udp_packet(H2_IP, H1_IP, 1, 4);
    let e = send_in(&mut r, pool, T0, LAN_B, &eth_ipv4(RB, H2, &ip));
    assert_eq!(e.gate(1).len(), 1);
    assert_icmp_error(&e.gate(1)[0], H2, RB, B_ADDR, H2_IP, 11, 0, &ip);
}

#[test]
fn router_no_route_sends_net_unreachable_rfc1812_5_2_7_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let ip = udp_packet(H1_IP, UNROUTED, 64, 16);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.drops.get(RouterDrop::NoRoute), 1);
    assert!(e.gate(1).is_empty());
    assert_eq!(e.gate(0).len(), 1);
    assert_icmp_error(&e.gate(0)[0], H1, RA, A_ADDR, H1_IP, 3, 0, &ip);
    assert_eq!(counter(&r, "icmp_errors_sent"), 1);
}

// ------------------------------------------------------------------ 7. MTU and fragmentation

/// Check `frags` (frames out of lan-b, in order) are fragments of `orig` (an IP packet)
/// starting at byte offset `base`, the last one with MF = `last_mf`, and return their
/// reassembled payload.
fn check_fragments(frags: &[Vec<u8>], orig: &[u8], base: usize, last_mf: bool) -> Vec<u8> {
    let mut payload = Vec::new();
    let mut next = base;
    for (k, f) in frags.iter().enumerate() {
        let last = k + 1 == frags.len();
        assert_eq!((eth_dst_of(f), eth_src_of(f)), (H2, RB));
        assert_eq!(f.len(), 14 + ip_of(f).len());
        assert!(
            ip_of(f).len() <= 1400,
            "fragment {k} fits the 1400-byte MTU"
        );
        assert!(ip_checksum_ok(f), "fragment {k} header checksum");
        assert_eq!(ip_ttl(f), orig[8] - 1);
        assert_eq!(
            ip_id(f),
            u16::from_be_bytes([orig[4], orig[5]]),
            "same identification"
        );
        assert_eq!(ip_proto_of(f), orig[9]);
        assert_eq!((&ip_of(f)[12..20], ip_of(f)[1]), (&orig[12..20], orig[1]));
        let (df, mf, off) = ip_frag(f);
        assert!(!df);
        assert_eq!(off, next, "fragment {k} offset");
        assert_eq!(off % 8, 0);
        assert_eq!(mf, !last || last_mf, "fragment {k} MF");
        let data = l4_of(f);
        if !last {
            assert_eq!(
                data.len() % 8,
                0,
                "non-last fragment data is a multiple of 8"
            );
        }
        next += data.len();
        payload.extend_from_slice(data);
    }
    payload
}

#[test]
fn router_df_packet_over_egress_mtu_gets_frag_needed_with_next_hop_mtu_rfc1812_5_2_6() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let h = Ipv4Fields {
        df: true,
        ..Ipv4Fields::default()
    };
    let ip = udp_packet_with(H1_IP, H2_IP, &h, 1472);
    assert_eq!(ip.len(), 1500);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert!(e.gate(1).is_empty());
    assert_eq!(e.drops.get(RouterDrop::FragmentationNeeded), 1);
    assert_eq!(e.gate(0).len(), 1);
    let m = assert_icmp_error(&e.gate(0)[0], H1, RA, A_ADDR, H1_IP, 3, 4, &ip);
    assert_eq!(&m[4..6], &[0, 0], "unused");
    assert_eq!(&m[6..8], &1400u16.to_be_bytes(), "next-hop MTU (RFC 1191)");
    // Exactly the MTU passes.
    let ip = udp_packet_with(H1_IP, H2_IP, &h, 1372);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(1).len(), 1);
    assert_eq!(ip_of(&e.gate(1)[0]).len(), 1400);
}

#[test]
fn router_fragments_packet_over_egress_mtu_without_df_rfc1812_5_2_6_rfc791() {
    let pool = PacketPool::new(64, 4096);
    // A 3000-byte packet arrives whole only on a jumbo link (issue 15: over the ingress MTU
    // it is too_big): lan-a at 9000, lan-b at 1400.
    let mut r = router(&jumbo_lan_a());
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let h = Ipv4Fields {
        id: 0x7777,
        ..Ipv4Fields::default()
    };
    let ip = udp_packet_with(H1_IP, H2_IP, &h, 2972);
    assert_eq!(ip.len(), 3000);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert!(e.gate(0).is_empty());
    assert_eq!(e.drops.total(), 0);
    let frags = e.gate(1);
    assert_eq!(frags.len(), 3, "1376 + 1376 + 228 data bytes");
    assert_eq!(e.generated, 2, "the original becomes the first fragment");
    let payload = check_fragments(frags, &ip, 0, false);
    assert_eq!(
        payload,
        &ip[20..],
        "fragments reassemble to the original payload"
    );
    assert_eq!(counter(&r, "fragments_created"), 3);
    assert_eq!(counter(&r, "forwarded"), 1);
}

#[test]
fn router_fragmenting_a_fragment_keeps_its_offset_base_and_mf_on_the_last_piece_rfc791() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    for mf in [true, false] {
        let h = Ipv4Fields {
            mf,
            frag_offset: 100,
            ..Ipv4Fields::default()
        };
        // A middle (mf) or last (!mf) fragment of 1480 data bytes at byte offset 800.
        let data: Vec<u8> = (0..1480).map(|i| (i * 7 % 256) as u8).collect();
        let ip = ipv4_with(H1_IP, H2_IP, UDP, &h, &data);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert_eq!(e.gate(1).len(), 2, "mf={mf}");
        let payload = check_fragments(e.gate(1), &ip, 800, mf);
        assert_eq!(payload, data, "mf={mf}");
    }
}

#[test]
fn router_fragmentation_copies_only_options_with_the_copy_flag_rfc791_3_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    #[rustfmt::skip]
    let options = vec![
        7, 7, 4, 0, 0, 0, 0,    // Record Route (copy flag clear): first fragment only
        0x88, 4, 0x12, 0x34,    // Stream ID (copy flag set): every fragment
        // padded with one End of Option List byte to 12 bytes: IHL 8
    ];
    let h = Ipv4Fields {
        options: options.clone(),
        ..Ipv4Fields::default()
    };
    let data: Vec<u8> = (0..1468).map(|i| (i % 253) as u8).collect();
    let ip = ipv4_with(H1_IP, H2_IP, UDP, &h, &data);
    assert_eq!((ip.len(), ip[0]), (1500, 0x48));
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    let frags = e.gate(1);
    assert_eq!(frags.len(), 2);
    assert_eq!(ip_hlen(&frags[0]), 32, "first fragment keeps all options");
    assert_eq!(&ip_of(&frags[0])[20..32], &ip[20..32]);
    assert_eq!(
        l4_of(&frags[0]).len(),
        1368,
        "(1400 - 32) rounded down to 8"
    );
    assert_eq!(
        ip_hlen(&frags[1]),
        24,
        "later fragments: copied options only"
    );
    assert_eq!(&ip_of(&frags[1])[20..24], &[0x88, 4, 0x12, 0x34]);
    let payload = check_fragments(frags, &ip, 0, false);
    assert_eq!(payload, data);
}

// ------------------------------------------------------------------ 8. Header validation

#[test]
fn router_invalid_ipv4_headers_are_silently_dropped_with_exact_reason_rfc1812_5_2_2() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    // Unrouted and TTL 1: if it got past validation it would cause an ICMP error.
    let good = udp_packet(H1_IP, UNROUTED, 1, 4);
    let frame = |ip: &[u8]| eth_ipv4(RA, H1, ip);
    let edit = |f: &dyn Fn(&mut Vec<u8>), fix: bool| {
        let mut ip = good.clone();
        f(&mut ip);
        if fix {
            ipv4_fix_checksum(&mut ip);
        }
        frame(&ip)
    };
    let mut too_short = frame(&good);
    too_short.truncate(14 + 19);
    let cases: Vec<(&str, Vec<u8>, DropReason)> = vec![
        ("19 bytes of IP", too_short, DropReason::IpTooShort),
        (
            "no IP bytes at all",
            frame(&good)[..14].to_vec(),
            DropReason::IpTooShort,
        ),
        (
            "version 6",
            edit(&|ip| ip[0] = 0x65, true),
            DropReason::IpBadVersion,
        ),
        (
            "IHL 4",
            edit(&|ip| ip[0] = 0x44, true),
            DropReason::IpBadHeaderLength,
        ),
        (
            "IHL 0",
            edit(&|ip| ip[0] = 0x40, true),
            DropReason::IpBadHeaderLength,
        ),
        // 60-byte header; the padded frame holds only 46 bytes of IP.
        (
            "IHL beyond packet",
            edit(&|ip| ip[0] = 0x4f, false),
            DropReason::IpBadHeaderLength,
        ),
        (
            "total length < IHL*4",
            edit(&|ip| ip[2..4].copy_from_slice(&19u16.to_be_bytes()), true),
            DropReason::IpBadTotalLength,
        ),
        (
            "total length > received",
            edit(&|ip| ip[2..4].copy_from_slice(&200u16.to_be_bytes()), true),
            DropReason::IpBadTotalLength,
        ),
        (
            "bad checksum",
            edit(&|ip| ip[10] ^= 0xff, false),
            DropReason::IpBadChecksum,
        ),
        (
            "bad checksum (TTL changed)",
            edit(&|ip| ip[8] = 9, false),
            DropReason::IpBadChecksum,
        ),
    ];
    for (what, f, reason) in &cases {
        let e = send_in(&mut r, pool, T0, LAN_A, f);
        assert_eq!(e.total(), 0, "{what}: nothing sent");
        assert_eq!(e.generated, 0, "{what}: no ICMP (RFC 1812 4.3.2.7)");
        assert_eq!(e.drops.get(*reason), 1, "{what}: dropped as {reason}");
        assert_eq!(e.drops.total(), 1, "{what}");
    }
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
    // Control: the unmodified packet does produce an error.
    let e = send_in(&mut r, pool, T0, LAN_A, &frame(&good));
    assert_eq!(e.generated, 1);
}

#[test]
fn router_frames_not_for_it_or_of_other_ethertypes_are_dropped_by_reason() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let ip = udp_packet(H1_IP, H2_IP, 64, 4);
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (eth_ipv4(RB, H1, &ip), RouterDrop::NotForUs.into()), // lan-b's MAC seen on lan-a
        (eth_ipv4(mac(77), H1, &ip), RouterDrop::NotForUs.into()),
        (
            eth_ipv4(RA, BROADCAST, &ip),
            DropReason::InvalidSourceMac.into(),
        ),
        (
            eth(RA, H1, 0x86dd, &ip),
            DropReason::UnsupportedEthertype.into(),
        ),
        (
            eth(RA, H1, 0x8100, &ip),
            DropReason::UnsupportedEthertype.into(),
        ),
        (vec![0; 13], DropReason::Malformed.into()),
    ];
    for (f, reason) in &cases {
        let e = send_in(&mut r, pool, T0, LAN_A, f);
        assert_eq!((e.total(), e.generated), (0, 0));
        assert_eq!(e.drops.get(*reason), 1, "{}", e.drops.info(*reason));
    }
}

/// Issue 15 defect 4: the router routed frames with an all-zero source MAC (the switch
/// drops them, and the README says both do). IEEE 802 addresses: 00:00:00:00:00:00 is no
/// station, a group address is never a source.
#[test]
fn router_drops_frames_from_an_all_zero_or_group_source_mac_as_invalid_source_mac() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let ip = udp_packet(H1_IP, H2_IP, 64, 4);
    for src in [
        [0u8; 6],
        BROADCAST,
        [0x01, 0, 0x5e, 0, 0, 1],
        [0x03, 0, 0, 0, 0, 1],
    ] {
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, src, &ip));
        assert_eq!((e.total(), e.generated), (0, 0), "{src:02x?}");
        assert_eq!(
            e.drops.get(Reason::from(DropReason::InvalidSourceMac)),
            1,
            "{src:02x?}"
        );
        let arp = send_in(&mut r, pool, T0, LAN_A, &arp_request(src, H1_IP, A_ADDR));
        assert_eq!(arp.total(), 0, "no ARP reply to {src:02x?}");
    }
    assert_eq!(counter(&r, "forwarded"), 0);
}

/// Issue 15 defect 5: a non-GSO frame over the ingress interface's MTU + Ethernet header
/// was accepted (and a 65 014-byte one fragmented into 44: an amplifier). Now it is
/// `too_big`, as a NIC drops what its MTU cannot carry; GSO super-frames are exempt (the
/// kernel made them, they leave as segments).
#[test]
fn router_drops_non_gso_frames_over_the_ingress_mtu_as_too_big() {
    let pool = pool();
    let mut r = router(&config(&[]));
    // lan-b has MTU 1400: an IP packet of 1401 bytes cannot have arrived on it whole.
    let big = udp_packet(H2_IP, H1_IP, 64, 1401 - 28);
    let e = send_in(&mut r, pool, T0, LAN_B, &eth_ipv4(RB, H2, &big));
    assert_eq!((e.total(), e.generated), (0, 0));
    assert_eq!(e.drops.get(Reason::from(DropReason::TooBig)), 1);
    // 1400 is fine (the router resolves lan-a's host: one ARP request generated, held).
    let fits = udp_packet(H2_IP, H1_IP, 64, 1400 - 28);
    let e = send_in(&mut r, pool, T0, LAN_B, &eth_ipv4(RB, H2, &fits));
    assert_eq!(e.drops.get(Reason::from(DropReason::TooBig)), 0);
    assert_eq!(e.generated, 1);
    // A GSO super-frame of 3000 bytes on lan-a is not held to the MTU.
    let large = PacketPool::new(8, 8192);
    let tcp_ip = ipv4(
        H1_IP,
        H2_IP,
        6,
        64,
        &tcp(H1_IP, H2_IP, 40000, 80, 1, 1, 0x10, &[7; 2960]),
    );
    let gso = testing::to_gso(large, &eth_ipv4(RA, H1, &tcp_ip), 1400);
    let e = testing::run_packets(&mut r, large, T0, LAN_A, vec![gso]);
    assert_eq!(
        e.drops.get(Reason::from(DropReason::TooBig)),
        0,
        "{:?}",
        e.drops
    );
}

#[test]
fn router_frames_on_an_input_gate_it_does_not_have_are_dropped_bad_gate() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let e = send_in(&mut r, pool, T0, 2, &arp_request(H1, H1_IP, A_ADDR));
    assert_eq!((e.total(), e.drops.get(DropReason::BadGate)), (0, 1));
}

// ------------------------------------------------------------------ 9. When not to send ICMP errors

fn suppressed(r: &Ipv4Router) -> u64 {
    counter(r, "icmp_errors_suppressed")
}

#[test]
fn router_sends_no_icmp_error_about_an_icmp_error_rfc1812_4_3_2_7() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let inner = udp_packet(H2_IP, [10, 1, 0, 9], 64, 8);
    for (typ, code) in [(3, 1), (11, 0), (12, 0), (5, 1), (4, 0)] {
        let before = suppressed(&r);
        let m = icmp(typ, code, [0; 4], &inner);
        // TTL expiry on the way to H2, and no route.
        for (dst, reason) in [
            (H2_IP, RouterDrop::TtlExceeded),
            (UNROUTED, RouterDrop::NoRoute),
        ] {
            let ip = ipv4(H1_IP, dst, ICMP, 1, &m);
            let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
            assert_eq!(
                (e.total(), e.generated),
                (0, 0),
                "ICMP {typ}/{code} to {dst:?}"
            );
            assert_eq!(e.drops.get(reason), 1);
        }
        assert_eq!(suppressed(&r) - before, 2, "ICMP {typ}/{code}");
    }
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
}

#[test]
fn router_sends_no_icmp_error_about_a_packet_to_a_broadcast_or_multicast_address_rfc1812_4_3_2_7() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    for dst in [
        [10, 2, 0, 255],
        [10, 1, 0, 255],
        [255; 4],
        [224, 0, 0, 9],
        [239, 1, 2, 3],
    ] {
        let ip = udp_packet(H1_IP, dst, 1, 8);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert_eq!((e.total(), e.generated), (0, 0), "to {dst:?}");
        assert_eq!(e.drops.total(), 1);
    }
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
}

#[test]
fn router_sends_no_icmp_error_about_a_link_layer_broadcast_frame_rfc1812_4_3_2_7() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    // UDP to the router's closed port and to an unrouted address, in broadcast frames.
    let to_me = udp_packet(H1_IP, A_ADDR, 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(BROADCAST, H1, &to_me));
    assert_eq!((e.total(), e.generated, e.consumed), (0, 0, 1));
    assert_eq!(suppressed(&r), 1);
    let unrouted = udp_packet(H1_IP, UNROUTED, 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(BROADCAST, H1, &unrouted));
    assert_eq!((e.total(), e.generated), (0, 0));
    assert_eq!(e.drops.get(RouterDrop::NoRoute), 1);
    assert_eq!(suppressed(&r), 2);
    // Link-layer multicast counts too.
    let mcast = [0x01, 0x00, 0x5e, 0, 0, 1];
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(mcast, H1, &to_me));
    assert_eq!((e.total(), e.generated), (0, 0));
    assert_eq!(suppressed(&r), 3);
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
}

#[test]
fn router_sends_no_icmp_error_about_a_non_initial_fragment_rfc1812_4_3_2_7() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let later = Ipv4Fields {
        ttl: 1,
        frag_offset: 185,
        ..Ipv4Fields::default()
    };
    let ip = ipv4_with(H1_IP, H2_IP, UDP, &later, &[0xab; 16]);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!((e.total(), e.generated), (0, 0));
    assert_eq!(e.drops.get(RouterDrop::TtlExceeded), 1);
    assert_eq!(suppressed(&r), 1);
    // The first fragment (offset 0, MF) does get its Time Exceeded.
    let first = Ipv4Fields {
        ttl: 1,
        mf: true,
        ..Ipv4Fields::default()
    };
    let ip = udp_packet_with(H1_IP, H2_IP, &first, 32);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(0).len(), 1);
    assert_icmp_error(&e.gate(0)[0], H1, RA, A_ADDR, H1_IP, 11, 0, &ip);
}

#[test]
fn router_sends_no_icmp_error_about_a_martian_source_rfc1812_4_3_2_7() {
    let pool = pool();
    let mut r = router(&config(&[]));
    for src in [
        [0, 0, 0, 0],
        [127, 0, 0, 1],
        [224, 0, 0, 1],
        [240, 0, 0, 1],
        [255; 4],
    ] {
        // To the router's closed UDP port and with an expired TTL: both would be errors.
        for (dst, ttl) in [(A_ADDR, 64), (H2_IP, 1)] {
            let ip = udp_packet(src, dst, ttl, 8);
            let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
            assert_eq!((e.total(), e.generated), (0, 0), "from {src:?}");
            assert_eq!(e.drops.get(RouterDrop::MartianSource), 1);
        }
    }
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
}

// ------------------------------------------------------------------ 10, 11. ICMP error size and rate

#[test]
fn router_icmp_error_datagram_is_at_most_576_bytes_for_a_large_original_rfc1812_4_3_2_3() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let ip = udp_packet(H1_IP, UNROUTED, 64, 1472);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    let f = &e.gate(0)[0];
    assert_eq!(
        ip_of(f).len(),
        576,
        "as much of the original as fits in 576 bytes"
    );
    assert_icmp_error(f, H1, RA, A_ADDR, H1_IP, 3, 0, &ip);
    assert_eq!(&icmp_of(f)[8..], &ip[..548]);
}

#[test]
fn router_icmp_errors_are_token_bucket_rate_limited_but_echo_replies_are_not_rfc1812_4_3_2_8() {
    let pool = pool();
    let mut cfg = config(&[]);
    cfg.icmp_rate_limit = 1;
    cfg.icmp_burst = 2;
    let mut r = router(&cfg);
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let f = eth_ipv4(RA, H1, &udp_packet(H1_IP, UNROUTED, 64, 8));
    let five = [&f[..]; 5];
    let e = testing::run(&mut r, pool, T0, LAN_A, &five);
    assert_eq!(e.drops.get(RouterDrop::NoRoute), 5);
    assert_eq!(e.gate(0).len(), 2, "the burst");
    assert_eq!(counter(&r, "icmp_errors_sent"), 2);
    assert_eq!(counter(&r, "icmp_errors_rate_limited"), 3);
    // Echo replies are not errors: still answered with the bucket empty.
    let (ping, _) = ping_frame(A_ADDR, 64, b"still here");
    let e = send_in(&mut r, pool, ms(500), LAN_A, &ping);
    assert_eq!(e.gate(0).len(), 1);
    assert_echo_reply(&e.gate(0)[0], A_ADDR, b"still here");
    let e = testing::run(&mut r, pool, ms(999), LAN_A, &[&f]);
    assert_eq!(e.gate(0).len(), 0, "no token before 1 s");
    let e = testing::run(&mut r, pool, secs(1), LAN_A, &[&f, &f]);
    assert_eq!(e.gate(0).len(), 1, "one token per second");
    assert_eq!(counter(&r, "icmp_errors_sent"), 3);
    assert_eq!(counter(&r, "icmp_errors_rate_limited"), 5);
    // A long pause refills to the burst, not beyond.
    let e = testing::run(&mut r, pool, secs(100), LAN_A, &[&f, &f, &f]);
    assert_eq!(e.gate(0).len(), 2);
}

#[test]
fn router_icmp_rate_limit_zero_disables_icmp_errors_rfc1812_4_3_2_8() {
    let pool = pool();
    let mut cfg = config(&[]);
    cfg.icmp_rate_limit = 0;
    let mut r = router(&cfg);
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let f = eth_ipv4(RA, H1, &udp_packet(H1_IP, UNROUTED, 64, 8));
    let e = send_in(&mut r, pool, T0, LAN_A, &f);
    assert_eq!((e.total(), e.generated), (0, 0));
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
}

// ------------------------------------------------------------------ 12. Not forwarded

#[test]
fn router_unicast_ip_in_link_layer_broadcast_frame_is_not_forwarded_rfc1812_5_3_4() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let ip = udp_packet(H1_IP, H2_IP, 64, 8);
    for dst_mac in [
        BROADCAST,
        [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03],
        [0x33, 0x33, 0, 0, 0, 1],
    ] {
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(dst_mac, H1, &ip));
        assert_eq!((e.total(), e.generated), (0, 0));
        assert_eq!(e.drops.get(RouterDrop::L2BroadcastNotForwarded), 1);
    }
    assert_eq!(counter(&r, "forwarded"), 0);
}

#[test]
fn router_limited_and_directed_broadcasts_are_not_forwarded_rfc1812_5_3_5() {
    let pool = pool();
    let mut r = router(&config(&[]));
    for dst in [[255; 4], [10, 2, 0, 255], [10, 1, 0, 255]] {
        for dst_mac in [RA, BROADCAST] {
            let ip = udp_packet(H1_IP, dst, 64, 8);
            let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(dst_mac, H1, &ip));
            assert_eq!((e.total(), e.generated), (0, 0), "to {dst:?}");
            assert_eq!(
                e.drops.get(RouterDrop::BroadcastNotForwarded),
                1,
                "to {dst:?}"
            );
        }
    }
}

#[test]
fn router_multicast_destination_is_not_forwarded() {
    let pool = pool();
    let mut r = router(&config(&[([0, 0, 0, 0], 0, GW_B_IP)]));
    let ip = udp_packet(H1_IP, [224, 0, 0, 251], 64, 8);
    let mcast_mac = [0x01, 0x00, 0x5e, 0, 0, 0xfb];
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(mcast_mac, H1, &ip));
    assert_eq!((e.total(), e.generated), (0, 0));
    assert_eq!(e.drops.get(RouterDrop::MulticastNotForwarded), 1);
}

#[test]
fn router_martian_sources_and_destinations_are_dropped_rfc1812_5_3_7() {
    let pool = pool();
    // A default route, so nothing is dropped for want of a route.
    let mut r = router(&config(&[([0, 0, 0, 0], 0, GW_B_IP)]));
    learn(&mut r, pool, T0, LAN_B, GW_B, GW_B_IP);
    let sources = [
        [0, 0, 0, 0],
        [0, 1, 2, 3],
        [127, 0, 0, 1],
        [224, 0, 0, 1],
        [240, 0, 0, 1],
        [255; 4],
    ];
    for src in sources {
        let ip = udp_packet(src, [192, 0, 2, 1], 64, 8);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert_eq!(e.total(), 0, "from {src:?}");
        assert_eq!(e.drops.get(RouterDrop::MartianSource), 1, "from {src:?}");
    }
    let dests = [
        [0, 0, 0, 0],
        [0, 1, 2, 3],
        [127, 0, 0, 1],
        [240, 0, 0, 1],
        [255, 255, 255, 254],
    ];
    for dst in dests {
        let ip = udp_packet(H1_IP, dst, 64, 8);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert_eq!((e.total(), e.generated), (0, 0), "to {dst:?}");
        assert_eq!(e.drops.get(RouterDrop::MartianDestination), 1, "to {dst:?}");
    }
    // Control: an ordinary destination goes to the default gateway.
    let e = send_in(
        &mut r,
        pool,
        T0,
        LAN_A,
        &eth_ipv4(RA, H1, &udp_packet(H1_IP, [192, 0, 2, 1], 64, 8)),
    );
    assert_eq!(e.gate(1).len(), 1);
    assert_eq!(eth_dst_of(&e.gate(1)[0]), GW_B);
}

#[test]
fn router_connected_subnet_broadcast_source_is_martian_and_gets_no_icmp_error_rfc1812_5_3_7() {
    // RFC 1812 5.3.7 via 4.2.2.11 (d): {<Network-prefix>, -1} is never a valid source, and
    // 4.3.2.7: no ICMP error about a datagram whose source is a broadcast address.
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    for (src, ttl) in [
        ([10, 1, 0, 255], 64),
        ([10, 1, 0, 255], 1),
        ([10, 2, 0, 255], 64),
    ] {
        let ip = udp_packet(src, H2_IP, ttl, 8);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert_eq!((e.total(), e.generated), (0, 0), "from {src:?} TTL {ttl}");
        assert_eq!(
            e.drops.get(RouterDrop::MartianSource),
            1,
            "from {src:?} TTL {ttl}"
        );
    }
    assert_eq!(counter(&r, "forwarded"), 0);
    assert_eq!(counter(&r, "icmp_errors_sent"), 0);
}

#[test]
fn router_link_local_169_254_source_or_destination_is_never_forwarded_rfc3927_7() {
    let pool = pool();
    let mut r = router(&config(&[([0, 0, 0, 0], 0, GW_B_IP)]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    learn(&mut r, pool, T0, LAN_B, GW_B, GW_B_IP);
    for (src, dst) in [(H1_IP, [169, 254, 1, 1]), ([169, 254, 9, 9], H2_IP)] {
        let ip = udp_packet(src, dst, 64, 8);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert_eq!((e.total(), e.generated), (0, 0), "{src:?} -> {dst:?}");
        assert_eq!(e.drops.get(RouterDrop::LinkLocalAddress), 1);
    }
    // A link-local host may still ping the router on its own link.
    let ip = ipv4(
        [169, 254, 9, 9],
        A_ADDR,
        ICMP,
        64,
        &icmp_echo_request(1, 1, b"ll"),
    );
    learn(&mut r, pool, T0, LAN_A, mac(0x69), [10, 1, 0, 69]);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, mac(0x69), &ip));
    assert_eq!(e.drops.get(RouterDrop::LinkLocalAddress), 0);
    assert_eq!(counter(&r, "echo_replies"), 1);
}

// ------------------------------------------------------------------ 13. Longest prefix match

#[test]
fn router_longest_prefix_match_chooses_the_most_specific_route_rfc1812_5_2_4_3() {
    let pool = pool();
    let mut r = router(&config(&[
        ([0, 0, 0, 0], 0, GW_A_IP),
        ([192, 0, 0, 0], 8, GW_B_IP),
        ([192, 0, 2, 0], 24, GW_A_IP),
        ([10, 2, 0, 128], 25, GW_A_IP), // more specific than connected lan-b
    ]));
    learn(&mut r, pool, T0, LAN_A, GW_A, GW_A_IP);
    learn(&mut r, pool, T0, LAN_B, GW_B, GW_B_IP);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    // From lan-b's side towards lan-a next hops and vice versa, so no redirect interferes.
    let cases: [([u8; 4], u16, [u8; 6]); 5] = [
        ([192, 0, 2, 5], LAN_A, GW_A),   // /24 beats /8
        ([192, 0, 3, 5], LAN_B, GW_B),   // /8
        ([203, 0, 113, 9], LAN_A, GW_A), // default
        ([10, 2, 0, 2], LAN_B, H2),      // connected /24
        ([10, 2, 0, 200], LAN_A, GW_A),  // static /25 beats connected /24
    ];
    for (dst, gate, next_mac) in cases {
        let (in_gate, src, src_mac, in_mac) = if gate == LAN_A {
            (LAN_B, [10, 2, 0, 9], mac(9), RB)
        } else {
            (LAN_A, H1_IP, H1, RA)
        };
        let ip = udp_packet(src, dst, 64, 8);
        let e = send_in(&mut r, pool, T0, in_gate, &eth_ipv4(in_mac, src_mac, &ip));
        assert_eq!(e.gate(gate as usize).len(), 1, "{dst:?} leaves gate {gate}");
        assert_eq!(e.total(), 1, "{dst:?}");
        let f = &e.gate(gate as usize)[0];
        assert_eq!(
            (eth_dst_of(f), eth_src_of(f)),
            (next_mac, router_mac(gate)),
            "{dst:?}"
        );
        assert_eq!(ip_of(f), &decremented(&ip)[..]);
    }
    // The router's own addresses win over every route.
    let e = send_in(
        &mut r,
        pool,
        T0,
        LAN_A,
        &eth_ipv4(RA, H1, &udp_packet(H1_IP, B_ADDR, 64, 8)),
    );
    assert_eq!(e.consumed, 1, "delivered locally, not forwarded");
    assert!(e.gate(1).is_empty());
    // The Port Unreachable waits for H1's MAC: only the ARP request is out.
    assert_eq!((e.gate(0).len(), r.held()), (1, 1));
    assert_arp_request(&e.gate(0)[0], LAN_A, H1_IP);
}

// ------------------------------------------------------------------ 14. Redirects

fn redirect_setup(redirects: bool) -> (Ipv4Router, PacketPool) {
    let pool = pool();
    let mut cfg = config(&[([192, 0, 2, 0], 24, GW_A_IP)]);
    cfg.redirects = redirects;
    let mut r = router(&cfg);
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    learn(&mut r, pool, T0, LAN_A, GW_A, GW_A_IP);
    (r, pool)
}

#[test]
fn router_sends_host_redirect_to_sender_and_still_forwards_when_next_hop_is_on_its_subnet_rfc1812_5_2_7_2()
 {
    let (mut r, pool) = redirect_setup(true);
    let ip = udp_packet(H1_IP, [192, 0, 2, 5], 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert!(e.gate(1).is_empty());
    assert_eq!(e.gate(0).len(), 2);
    let (redirect, fwd): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
        e.gate(0).iter().partition(|f| eth_dst_of(f) == H1);
    let m = assert_icmp_error(redirect[0], H1, RA, A_ADDR, H1_IP, 5, 1, &ip);
    assert_eq!(&m[4..8], &GW_A_IP, "the better first hop");
    assert_eq!(eth_dst_of(fwd[0]), GW_A);
    assert_eq!(ip_of(fwd[0]), &decremented(&ip)[..], "still forwarded");
    assert_eq!(counter(&r, "redirects_sent"), 1);
    assert_eq!(counter(&r, "forwarded"), 1);
    assert_eq!(
        counter(&r, "icmp_errors_sent"),
        0,
        "redirects are counted apart"
    );
}

#[test]
fn router_sends_host_redirect_naming_the_destination_itself_when_it_is_on_the_senders_subnet_rfc1812_5_2_7_2()
 {
    let (mut r, pool) = redirect_setup(true);
    learn(&mut r, pool, T0, LAN_A, mac(3), [10, 1, 0, 3]);
    let ip = udp_packet(H1_IP, [10, 1, 0, 3], 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(0).len(), 2);
    let (redirect, fwd): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
        e.gate(0).iter().partition(|f| eth_dst_of(f) == H1);
    let m = assert_icmp_error(redirect[0], H1, RA, A_ADDR, H1_IP, 5, 1, &ip);
    assert_eq!(&m[4..8], &[10, 1, 0, 3], "talk to it directly");
    assert_eq!(eth_dst_of(fwd[0]), mac(3));
}

#[test]
fn router_sends_no_redirect_when_redirects_are_disabled_rfc1812_5_2_7_2() {
    let (mut r, pool) = redirect_setup(false);
    let ip = udp_packet(H1_IP, [192, 0, 2, 5], 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(0).len(), 1);
    assert_eq!(eth_dst_of(&e.gate(0)[0]), GW_A);
    assert_eq!(counter(&r, "redirects_sent"), 0);
}

#[test]
fn router_sends_no_redirect_when_the_sender_is_not_on_the_ingress_subnet_rfc1812_5_2_7_2() {
    let (mut r, pool) = redirect_setup(true);
    // 10.9.9.9 is behind GW_A: its packets arrive from GW_A's MAC.
    let ip = udp_packet([10, 9, 9, 9], [192, 0, 2, 5], 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, GW_A, &ip));
    assert_eq!(e.gate(0).len(), 1);
    assert_eq!(eth_dst_of(&e.gate(0)[0]), GW_A);
    assert_eq!(counter(&r, "redirects_sent"), 0);
}

// ------------------------------------------------------------------ 15. Local delivery

#[test]
fn router_udp_to_its_address_gets_port_unreachable_ending_traceroute_rfc1122_3_2_2_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let ip = udp_packet(H1_IP, A_ADDR, 1, 12);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!((e.consumed, e.generated), (1, 1));
    assert_eq!(e.gate(0).len(), 1);
    assert_icmp_error(&e.gate(0)[0], H1, RA, A_ADDR, H1_IP, 3, 3, &ip);
    assert_eq!(counter(&r, "icmp_errors_sent"), 1);
}

#[test]
fn router_tcp_syn_to_its_address_gets_rst_ack_with_ack_seq_plus_1_rfc793_3_4() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let seq = 0xfffffff0; // wraps: ack = seq + 1
    let ip = ipv4(
        H1_IP,
        A_ADDR,
        TCP,
        64,
        &tcp_syn(H1_IP, A_ADDR, 40001, 22, seq),
    );
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(0).len(), 1);
    assert_eq!(
        (e.generated, e.drops.total()),
        (0, 0),
        "reset built in place"
    );
    let f = &e.gate(0)[0];
    assert_eq!((eth_dst_of(f), eth_src_of(f)), (H1, RA));
    assert!(ip_checksum_ok(f));
    assert_eq!((ip_src(f), ip_dst(f), ip_proto_of(f)), (A_ADDR, H1_IP, TCP));
    assert_eq!((ip_of(f).len(), ip_hlen(f)), (40, 20));
    assert!(ip_ttl(f) > 1);
    let t = l4_of(f);
    assert!(l4_checksum_ok(A_ADDR, H1_IP, TCP, t), "TCP checksum");
    assert_eq!(&t[0..4], &[0, 22, 0x9c, 0x41], "ports swapped");
    assert_eq!(&t[4..8], &[0; 4], "seq 0");
    assert_eq!(
        &t[8..12],
        &seq.wrapping_add(1).to_be_bytes(),
        "ack = seq + 1 (SYN)"
    );
    assert_eq!(t[12] >> 4, 5);
    assert_eq!(t[13], tcp_flags::RST | tcp_flags::ACK);
    assert_eq!(counter(&r, "tcp_resets_sent"), 1);
}

#[test]
fn router_tcp_segment_with_ack_to_its_address_gets_rst_with_seq_equal_to_ack_rfc793_3_4() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let seg = tcp(
        H1_IP,
        A_ADDR,
        40001,
        80,
        1000,
        0xdead_beef,
        tcp_flags::ACK | tcp_flags::PSH,
        b"GET /",
    );
    // With an option, to check the reset has a fresh 20-byte header.
    let h = Ipv4Fields {
        options: vec![0x88, 4, 0, 1],
        ..Ipv4Fields::default()
    };
    let ip = ipv4_with(H1_IP, A_ADDR, TCP, &h, &seg);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    let f = &e.gate(0)[0];
    assert!(ip_checksum_ok(f));
    assert_eq!((ip_of(f).len(), ip_hlen(f)), (40, 20));
    let t = l4_of(f);
    assert!(l4_checksum_ok(A_ADDR, H1_IP, TCP, t));
    assert_eq!(&t[0..4], &[0, 80, 0x9c, 0x41]);
    assert_eq!(
        &t[4..8],
        &0xdead_beefu32.to_be_bytes(),
        "seq = the segment's ack"
    );
    assert_eq!(t[13], tcp_flags::RST);
    // A reset is never answered.
    let rst = tcp(H1_IP, A_ADDR, 40001, 80, 5, 0, tcp_flags::RST, b"");
    let e = send_in(
        &mut r,
        pool,
        T0,
        LAN_A,
        &eth_ipv4(RA, H1, &ipv4(H1_IP, A_ADDR, TCP, 64, &rst)),
    );
    assert_eq!((e.total(), e.consumed, e.generated), (0, 1, 0));
    assert_eq!(counter(&r, "tcp_resets_sent"), 1);
}

#[test]
fn router_other_protocol_to_its_address_gets_protocol_unreachable_rfc1122_3_2_2_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let ip = ipv4(H1_IP, A_ADDR, 47, 64, &[0, 0, 0x08, 0x00, 1, 2, 3, 4]); // GRE
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!((e.consumed, e.gate(0).len()), (1, 1));
    assert_icmp_error(&e.gate(0)[0], H1, RA, A_ADDR, H1_IP, 3, 2, &ip);
}

#[test]
fn router_fragment_addressed_to_it_is_consumed_without_reply() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let h = Ipv4Fields {
        mf: true,
        ..Ipv4Fields::default()
    };
    let ip = ipv4_with(H1_IP, A_ADDR, ICMP, &h, &icmp_echo_request(1, 1, &[0; 64]));
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!((e.total(), e.consumed, e.generated), (0, 1, 0));
}

// ------------------------------------------------------------------ 16. Gratuitous ARP

#[test]
fn router_sends_one_gratuitous_arp_per_interface_on_first_tick_only_rfc5227_3() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let e = testing::tick(&mut r, pool, T0);
    for gate in [LAN_A, LAN_B] {
        let frames = e.gate(gate as usize);
        assert_eq!(frames.len(), 1, "gate {gate}");
        let f = &frames[0];
        assert_eq!(
            (eth_dst_of(f), eth_src_of(f)),
            (BROADCAST, router_mac(gate))
        );
        let a = arp_of(f);
        assert_eq!(&a[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&a[8..14], &router_mac(gate));
        assert_eq!(&a[14..18], &router_ip(gate), "spa = own address");
        assert_eq!(&a[24..28], &router_ip(gate), "tpa = spa: gratuitous");
    }
    assert_eq!(e.generated, 2);
    for t in [100, 200, 5_000] {
        assert_eq!(
            testing::tick(&mut r, pool, ms(t)).total(),
            0,
            "tick at {t} ms"
        );
    }
    assert_eq!(counter(&r, "arp_entries"), 0);
}

// ------------------------------------------------------------------ 17. Robustness

fn fuzz_frame(rng: &mut XorShift) -> Vec<u8> {
    let macs = [RA, RB, BROADCAST, H1, H2, GW_B, [0x01, 0, 0x5e, 0, 0, 1]];
    let addrs = [
        A_ADDR,
        B_ADDR,
        H1_IP,
        H2_IP,
        GW_A_IP,
        GW_B_IP,
        UNROUTED,
        [10, 2, 0, 255],
        [255; 4],
        [127, 0, 0, 1],
        [169, 254, 0, 1],
        [224, 0, 0, 1],
        [0, 0, 0, 0],
        [10, 2, 0, 77],
    ];
    let addr = |rng: &mut XorShift| {
        if rng.below(4) == 0 {
            [rng.byte(), rng.byte(), rng.byte(), rng.byte()]
        } else {
            rng.pick(&addrs)
        }
    };
    let src_mac = if rng.below(16) == 0 {
        [rng.byte() | 1, 0, 0, 0, 0, 1]
    } else {
        rng.pick(&[H1, H2, GW_B])
    };
    let mut f = match rng.below(5) {
        // Random bytes.
        0 => {
            let n = rng.below(200) as usize;
            rng.bytes(n)
        }
        // A plausible IPv4 header with random fields and options, random payload.
        1 => {
            let ihl = 5 + rng.below(11) as usize;
            let extra = rng.below(120) as usize;
            let mut ip = rng.bytes(ihl * 4 + extra);
            ip[0] = if rng.below(8) == 0 {
                rng.byte()
            } else {
                0x40 | ihl as u8
            };
            let total = if rng.below(4) == 0 {
                rng.below(300) as u16
            } else {
                ip.len() as u16
            };
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[8] = rng.below(4) as u8;
            ip[12..16].copy_from_slice(&addr(rng));
            ip[16..20].copy_from_slice(&addr(rng));
            if rng.below(4) != 0 && ihl * 4 <= ip.len() {
                ip[10..12].copy_from_slice(&[0, 0]);
                let c = checksum(&ip[..ihl * 4]);
                ip[10..12].copy_from_slice(&c.to_be_bytes());
            }
            eth_ipv4(rng.pick(&macs), src_mac, &ip)
        }
        // ARP with random operation and addresses.
        2 => {
            let op = rng.pick(&[1u16, 2, 3]);
            let sha = rng.pick(&[H1, H2, GW_A, GW_B]);
            let mut fr = testing::arp(
                rng.pick(&macs),
                op,
                sha,
                addr(rng),
                rng.pick(&macs),
                addr(rng),
            );
            if rng.below(8) == 0 {
                let k = 14 + rng.below(28) as usize;
                fr[k] = rng.byte();
            }
            fr
        }
        // A well-formed UDP/TCP/ICMP packet, sometimes with a flipped byte.
        3 => {
            let (src, dst) = (addr(rng), addr(rng));
            let body = {
                let n = rng.below(150) as usize;
                rng.bytes(n)
            };
            let (proto, l4) = match rng.below(4) {
                0 => (UDP, udp(src, dst, 1, 2, &body)),
                1 => (
                    TCP,
                    tcp(
                        src,
                        dst,
                        1,
                        2,
                        rng.next() as u32,
                        rng.next() as u32,
                        rng.byte(),
                        &body,
                    ),
                ),
                2 => (ICMP, icmp_echo_request(1, 2, &body)),
                _ => (ICMP, icmp(rng.byte() % 20, rng.byte() % 6, [0; 4], &body)),
            };
            let h = Ipv4Fields {
                ttl: rng.below(4) as u8,
                df: rng.below(2) == 0,
                mf: rng.below(8) == 0,
                frag_offset: if rng.below(8) == 0 {
                    rng.below(8192) as u16
                } else {
                    0
                },
                ..Ipv4Fields::default()
            };
            let ip = ipv4_with(src, dst, proto, &h, &l4);
            let mut fr = eth_ipv4(rng.pick(&macs), src_mac, &ip);
            if rng.below(8) == 0 {
                let k = rng.below(fr.len() as u64) as usize;
                fr[k] = rng.byte();
            }
            fr
        }
        // A large packet with random options, to be fragmented (or refused with DF).
        _ => {
            let n_opt = rng.below(41) as usize;
            let mut options = rng.bytes(n_opt);
            if let Some(o) = options.first_mut() {
                *o = rng.pick(&[7, 0x88, 0x83, 0x44, 1, 0]);
            }
            let h = Ipv4Fields {
                ttl: 2 + rng.below(3) as u8,
                df: rng.below(4) == 0,
                mf: rng.below(4) == 0,
                frag_offset: rng.below(64) as u16,
                options,
                ..Ipv4Fields::default()
            };
            let n = 1300 + rng.below(300) as usize;
            let body = rng.bytes(n);
            let ip = ipv4_with(
                H1_IP,
                rng.pick(&[H2_IP, [10, 2, 0, 77], [192, 0, 2, 1]]),
                UDP,
                &h,
                &body,
            );
            eth_ipv4(RA, H1, &ip)
        }
    };
    if rng.below(32) == 0 {
        let n = rng.below(f.len() as u64 + 1) as usize;
        f.truncate(n);
    }
    f
}

#[test]
fn router_survives_10000_seeded_random_frames_conserving_packets_and_buffers() {
    let pool = PacketPool::new(512, 2048);
    let mut cfg = config(&[([0, 0, 0, 0], 0, GW_B_IP), ([172, 16, 0, 0], 12, GW_A_IP)]);
    cfg.arp_timeout = Duration::from_secs(5);
    cfg.icmp_burst = 20;
    cfg.icmp_rate_limit = 50;
    let mut r = router(&cfg);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut now_ms = 0u64;
    let mut sent = 0usize;
    let mut out = 0usize;
    while sent < 10_000 {
        let burst = 1 + rng.below(8) as usize;
        let frames: Vec<Vec<u8>> = (0..burst).map(|_| fuzz_frame(&mut rng)).collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let gate = rng.below(2) as u16;
        // testing::run asserts conservation for every call.
        let e = testing::run(&mut r, pool, ms(now_ms), gate, &refs);
        out += e.total();
        sent += burst;
        now_ms += rng.below(60);
        if rng.below(3) == 0 {
            out += testing::tick(&mut r, pool, ms(now_ms)).total();
        }
        assert_eq!(
            pool.available() + r.held() as usize,
            pool.count(),
            "every buffer is free or held by the router"
        );
    }
    // Let every pending resolution fail or finish.
    for k in 1..=10 {
        testing::tick(&mut r, pool, ms(now_ms + k * 1000));
    }
    assert_eq!(r.held(), 0, "nothing held after ARP gave up");
    assert_eq!(pool.available(), pool.count(), "no buffer leaked");
    assert!(out > 0);
    assert!(counter(&r, "forwarded") > 0, "the fuzz reached forwarding");
    assert!(
        counter(&r, "icmp_errors_sent") > 0,
        "the fuzz reached ICMP errors"
    );
    assert!(
        counter(&r, "fragments_created") > 0,
        "the fuzz reached fragmentation"
    );
}

// ------------------------------------------------------------- lead's additions

#[test]
fn router_sends_no_redirect_for_a_source_routed_packet_rfc1812_5_2_7_2() {
    let (mut r, pool) = redirect_setup(true);
    // Loose source route option (type 0x83, length 7, pointer 4, one address), padded.
    let h = Ipv4Fields {
        options: vec![0x83, 7, 4, 192, 0, 2, 5],
        ..Ipv4Fields::default()
    };
    let ip = udp_packet_with(H1_IP, [192, 0, 2, 5], &h, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(0).len(), 1, "forwarded, no redirect");
    assert_eq!(eth_dst_of(&e.gate(0)[0]), GW_A);
    assert_eq!(counter(&r, "redirects_sent"), 0);
}

#[test]
fn router_drops_packets_spoofing_its_own_address_or_a_subnet_network_address_rfc1812_5_3_7() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    for src in [A_ADDR, B_ADDR, [10, 2, 0, 0]] {
        let ip = udp_packet(src, H2_IP, 64, 8);
        let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
        assert_eq!((e.total(), e.generated), (0, 0), "from {src:?}");
        assert_eq!(e.drops.get(RouterDrop::MartianSource), 1, "from {src:?}");
    }
}

#[test]
fn router_does_not_forward_to_a_subnet_network_address_rfc1812_4_2_3_1() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let ip = udp_packet(H1_IP, [10, 2, 0, 0], 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!((e.total(), e.generated), (0, 0));
    assert_eq!(e.drops.get(RouterDrop::BroadcastNotForwarded), 1);
}

#[test]
fn router_link_local_destination_is_not_routed_even_without_a_route_rfc3927_7() {
    let pool = pool();
    let mut r = router(&config(&[]));
    let ip = udp_packet(H1_IP, [169, 254, 1, 1], 64, 8);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(
        (e.total(), e.generated),
        (0, 0),
        "no Net Unreachable either"
    );
    assert_eq!(e.drops.get(RouterDrop::LinkLocalAddress), 1);
}

#[test]
fn router_port_unreachable_comes_from_the_probed_address_rfc1812_4_3_2_4() {
    let pool = pool();
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    // A UDP probe to lan-b's address arriving on lan-a: the answer comes from the address
    // that was probed, as Linux does, so traceroute to the router shows that address.
    let ip = udp_packet(H1_IP, B_ADDR, 64, 12);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(0).len(), 1);
    assert_icmp_error(&e.gate(0)[0], H1, RA, B_ADDR, H1_IP, 3, 3, &ip);
}

#[test]
fn router_jumbo_datagram_fragmented_into_seven_pieces_survives_first_packet_arp_rfc1122_2_3_2_2() {
    // lan-a MTU 9000 towards lan-b MTU 1400: 7 fragments, all held while ARP resolves.
    let pool = PacketPool::new(256, 9100);
    let mut cfg = config(&[]);
    cfg.interfaces[0].mtu = 9000;
    let mut r = router(&cfg);
    let ip = udp_packet(H1_IP, H2_IP, 64, 8900); // 8928-byte datagram, 7 fragments
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &ip));
    assert_eq!(e.gate(1).len(), 1, "only the ARP request goes out");
    assert_eq!(r.held(), 7);
    let e = send_in(
        &mut r,
        pool,
        ms(5),
        LAN_B,
        &arp_reply(H2, H2_IP, RB, B_ADDR),
    );
    assert_eq!(e.gate(1).len(), 7, "every fragment sent after the reply");
    assert_eq!(r.held(), 0);
}

// ------------------------------------------------------------------ admin tables

fn tables(r: &Ipv4Router, now: Instant) -> Vec<nfv_dataplane::Table> {
    let mut v = Vec::new();
    r.tables(now, &mut |t| v.push(t));
    v
}

#[test]
fn router_tables_list_the_arp_cache_and_every_configured_route() {
    let pool = pool();
    let mut r = router(&config(&[([192, 0, 2, 0], 24, GW_B_IP)]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    let t = tables(&r, secs(5));
    assert_eq!(t[0].name, "arp");
    assert_eq!(t[0].columns, ["ip", "mac", "interface", "state", "age_s"]);
    assert_eq!(
        t[0].rows,
        [["10.1.0.2", "02:00:00:00:00:01", "lan-a", "reachable", "5"]]
    );
    assert_eq!(t[1].name, "routes");
    assert_eq!(t[1].columns, ["prefix", "next_hop", "interface", "kind"]);
    assert_eq!(
        t[1].rows,
        [
            ["10.1.0.0/24", "-", "lan-a", "connected"],
            ["10.2.0.0/24", "-", "lan-b", "connected"],
            ["10.1.0.1/32", "-", "lan-a", "local"],
            ["10.2.0.1/32", "-", "lan-b", "local"],
            ["192.0.2.0/24", "10.2.0.254", "lan-b", "static"],
        ]
    );
    assert_eq!(t[1].total, 5);
}

#[test]
fn router_routes_table_is_capped_but_counts_every_route() {
    let routes: Vec<_> = (0..3000u32)
        .map(|i| {
            let p = (0xC000_0000u32 | (i << 8)).to_be_bytes();
            (p, 24u8, GW_B_IP)
        })
        .collect();
    let r = router(&config(&routes));
    let t = tables(&r, T0);
    assert_eq!(t[1].rows.len(), nfv_dataplane::TABLE_ROW_LIMIT);
    assert_eq!(t[1].total, 4 + 3000);
}

// ------------------------------------------------------------------ GSO super-frames

/// A TCP GSO super-frame (NEEDS_CSUM, segment size 1448) from `src` to `dst`: 4000 bytes
/// of payload = segments of 1448 + 1448 + 1104.
fn gso_tcp(
    pool: PacketPool,
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    df: bool,
) -> nfv_dataplane::PacketBuf {
    let payload: Vec<u8> = (0..4000u32).map(|i| (i * 13) as u8).collect();
    let seg = tcp(H1_IP, H2_IP, 40000, 80, 1000, 1, 0x18, &payload);
    let h = Ipv4Fields {
        df,
        id: 0x100,
        ..Ipv4Fields::default()
    };
    let ip = ipv4_with(H1_IP, H2_IP, TCP, &h, &seg);
    testing::to_gso(pool, &eth_ipv4(dst_mac, src_mac, &ip), 1448)
}

/// Segments of an emitted GSO frame as the receiving kernel would deliver them.
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
fn router_forwards_a_gso_frame_whole_when_its_segments_fit_the_egress_mtu() {
    let pool = PacketPool::new(64, 8192);
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    // lan-b (1400) → lan-a (1500): 20 + 20 + 1448 = 1488 fits; the super-frame is 4040.
    let mut p = gso_tcp(pool, RB, H2, true);
    let o = p.offload().unwrap();
    // Swap the addresses' roles: H2 sends to H1 (the frame's IPs are only checked by routing).
    let f = p.data_mut();
    f[26..30].copy_from_slice(&H2_IP);
    f[30..34].copy_from_slice(&H1_IP);
    ipv4_fix_checksum(&mut f[14..34]);
    // The pseudo-header sum covers the addresses: recompute for the new ones.
    let l4_len = (f.len() - 34) as u16;
    let ps = nfv_dataplane::wire::checksum::fold(nfv_dataplane::wire::checksum::pseudo_header_v4(
        u32::from_be_bytes(H2_IP),
        u32::from_be_bytes(H1_IP),
        6,
        l4_len,
    ));
    f[50..52].copy_from_slice(&ps.to_be_bytes());
    let e = testing::run_packets(&mut r, pool, T0, LAN_B, vec![p]);
    assert_eq!(e.drops.total(), 0);
    assert_eq!(e.gate(0).len(), 1, "one super-frame out");
    let out = &e.gate(0)[0];
    assert_eq!(out.len(), 14 + 40 + 4000);
    assert_eq!(ip_ttl(out), 63);
    assert!(ip_checksum_ok(out));
    let oo = e.offload_by_gate[0][0].expect("offload metadata kept");
    assert_eq!(oo, o);
    let segs = wire_segments(out, &oo);
    assert_eq!(segs.len(), 3);
    for s in &segs {
        assert!(ip_checksum_ok(s));
        assert!(l4_checksum_ok(H2_IP, H1_IP, TCP, l4_of(s)));
        assert_eq!(ip_ttl(s), 63);
    }
    assert_eq!(counter(&r, "gso_segments_created"), 0);
}

#[test]
fn router_sends_frag_needed_for_a_df_gso_frame_whose_segments_exceed_the_mtu_rfc1191() {
    let pool = PacketPool::new(64, 8192);
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_A, H1, H1_IP);
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    // lan-a → lan-b (1400): 1488-byte segments do not fit.
    let e = testing::run_packets(&mut r, pool, T0, LAN_A, vec![gso_tcp(pool, RA, H1, true)]);
    assert!(e.gate(1).is_empty());
    assert_eq!(e.drops.get(RouterDrop::FragmentationNeeded), 1);
    assert_eq!(e.gate(0).len(), 1);
    let icmp_msg = l4_of(&e.gate(0)[0]);
    assert_eq!((icmp_msg[0], icmp_msg[1]), (3, 4));
    assert_eq!(&icmp_msg[6..8], &1400u16.to_be_bytes(), "next-hop MTU");
    // A smaller segment size fits: forwarded as one GSO frame.
    let mut p = gso_tcp(pool, RA, H1, true);
    let mut o = p.offload().unwrap();
    o.gso_size = 1360;
    assert!(p.set_offload(Some(o)));
    let e = testing::run_packets(&mut r, pool, T0, LAN_A, vec![p]);
    assert_eq!((e.gate(1).len(), e.drops.total()), (1, 0));
}

#[test]
fn router_segments_then_fragments_a_gso_frame_without_df_over_the_mtu_rfc791() {
    let pool = PacketPool::new(64, 8192);
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let e = testing::run_packets(&mut r, pool, T0, LAN_A, vec![gso_tcp(pool, RA, H1, false)]);
    assert_eq!(e.drops.total(), 0);
    let out = e.gate(1);
    // Segments of 1488, 1488 and 1144 IP bytes: the first two become 2 fragments each.
    assert_eq!(out.len(), 5);
    assert!(
        e.offload_by_gate[1].iter().all(Option::is_none),
        "wire frames"
    );
    for f in out {
        assert!(ip_checksum_ok(f));
        assert!(ip_of(f).len() <= 1400);
        assert_eq!(ip_ttl(f), 63);
    }
    // Reassemble each segment from its fragments and check its TCP checksum and data.
    let mut data = Vec::new();
    let mut i = 0;
    let mut ids = Vec::new();
    while i < out.len() {
        let id = ip_id(&out[i]);
        ids.push(id);
        let mut l4 = Vec::new();
        while i < out.len() && ip_id(&out[i]) == id {
            l4.extend_from_slice(l4_of(&out[i]));
            i += 1;
        }
        assert!(l4_checksum_ok(H1_IP, H2_IP, TCP, &l4), "segment {id:#x}");
        data.extend_from_slice(&l4[20..]);
    }
    assert_eq!(ids, vec![0x100, 0x101, 0x102], "one IP id per segment");
    let want: Vec<u8> = (0..4000u32).map(|i| (i * 13) as u8).collect();
    assert_eq!(data, want);
    assert_eq!(counter(&r, "gso_segments_created"), 3);
    assert_eq!(counter(&r, "fragments_created"), 4);
}

#[test]
fn router_drops_a_gso_frame_with_invalid_offload_state() {
    let pool = PacketPool::new(64, 8192);
    let mut r = router(&config(&[]));
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let mut p = gso_tcp(pool, RA, H1, false);
    let mut o = p.offload().unwrap();
    o.gso_size = 0;
    assert!(p.set_offload(Some(o)));
    let e = testing::run_packets(&mut r, pool, T0, LAN_A, vec![p]);
    assert_eq!(e.total(), 0);
    assert_eq!(e.drops.get(DropReason::OffloadInvalid), 1);
}

#[test]
fn router_completes_a_partial_checksum_before_fragmenting_rfc791() {
    let pool = PacketPool::new(64, 8192);
    let mut r = router(&jumbo_lan_a());
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    // NEEDS_CSUM without GSO (gso_size 0), 3000 bytes of payload, no DF: fragmented.
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 5) as u8).collect();
    let seg = tcp(H1_IP, H2_IP, 40000, 80, 1, 1, 0x18, &payload);
    let ip = ipv4_with(H1_IP, H2_IP, TCP, &Ipv4Fields::default(), &seg);
    let p = testing::to_gso(pool, &eth_ipv4(RA, H1, &ip), 0);
    let e = testing::run_packets(&mut r, pool, T0, LAN_A, vec![p]);
    assert_eq!(e.drops.total(), 0);
    assert_eq!(e.gate(1).len(), 3);
    assert!(e.offload_by_gate[1].iter().all(Option::is_none));
    let l4: Vec<u8> = e.gate(1).iter().flat_map(|f| l4_of(f).to_vec()).collect();
    assert!(
        l4_checksum_ok(H1_IP, H2_IP, TCP, &l4),
        "reassembled TCP checksum"
    );
}

// ------------------------------------------------------------------ parsed-header metadata

#[test]
fn router_forwarded_packets_carry_their_validated_ipv4_header_and_fragments_do_not() {
    let pool = PacketPool::new(64, 4096);
    // lan-a at 9000 so the big packet arrives whole (issue 15: over the ingress MTU is
    // too_big) and is fragmented for lan-b's 1400.
    let mut r = router(&jumbo_lan_a());
    learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
    let e = send_in(
        &mut r,
        pool,
        T0,
        LAN_A,
        &eth_ipv4(RA, H1, &udp_packet(H1_IP, H2_IP, 64, 10)),
    );
    assert_eq!((e.gate(1).len(), e.ipv4_validated), (1, 1));
    // Fragmenting changes lengths: the metadata is cleared, never left stale.
    let big = udp_packet(H1_IP, H2_IP, 64, 2972);
    let e = send_in(&mut r, pool, T0, LAN_A, &eth_ipv4(RA, H1, &big));
    assert_eq!((e.gate(1).len(), e.ipv4_validated), (3, 0));
}

#[test]
fn router_reuses_an_earlier_elements_ipv4_validation_with_identical_results() {
    let pool = pool();
    let frame = eth_ipv4(RA, H1, &udp_packet(H1_IP, H2_IP, 64, 10));
    let run = |marked: bool| {
        let mut r = router(&config(&[]));
        learn(&mut r, pool, T0, LAN_B, H2, H2_IP);
        let mut p = pool.alloc().unwrap();
        assert!(p.extend_from_slice(&frame));
        if marked {
            nfv_dataplane::wire::ipv4::mark_valid(&mut p);
        }
        testing::run_packets(&mut r, pool, T0, LAN_A, vec![p])
    };
    assert_eq!(run(true).by_gate, run(false).by_gate);
}
