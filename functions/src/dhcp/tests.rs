#![allow(clippy::unwrap_used)]
use std::collections::{HashMap, HashSet};

use super::message::{BOOTP_LEN, MAGIC};
use super::*;
use nfv_dataplane::testing::{
    self, BROADCAST, Emitted, XorShift, eth, eth_ipv4, ipv4, l4_checksum_ok, mac, secs, udp,
};

const SERVER: [u8; 4] = [10, 0, 0, 1];
const SERVER_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
const OTHER_SERVER: [u8; 4] = [10, 0, 0, 2];

fn ip(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

fn cfg() -> DhcpConfig {
    let mut c = DhcpConfig::new(
        ip(SERVER),
        24,
        SERVER_MAC,
        ip([10, 0, 0, 100])..=ip([10, 0, 0, 199]),
    );
    c.dns = vec![ip([10, 0, 0, 53])];
    c.domain = Some("lab.example".into());
    c
}

fn server(c: &DhcpConfig) -> DhcpServer {
    DhcpServer::new(c).unwrap()
}

/// A client message.
#[derive(Clone, Debug)]
struct Msg {
    kind: u8,
    mac: [u8; 6],
    xid: u32,
    flags: u16,
    ciaddr: [u8; 4],
    options: Vec<(u8, Vec<u8>)>,
    /// IP source and destination, destination MAC.
    src: [u8; 4],
    dst: [u8; 4],
    dst_mac: [u8; 6],
}

impl Msg {
    fn new(kind: MessageType, mac: [u8; 6]) -> Msg {
        Msg {
            kind: kind as u8,
            mac,
            xid: u32::from_be_bytes([mac[5], 0x11, 0x22, mac[4]]),
            flags: 0,
            ciaddr: [0; 4],
            options: Vec::new(),
            src: [0; 4],
            dst: [255; 4],
            dst_mac: BROADCAST,
        }
    }

    fn opt(mut self, code: u8, v: &[u8]) -> Msg {
        self.options.push((code, v.to_vec()));
        self
    }

    fn requested(self, a: [u8; 4]) -> Msg {
        self.opt(opt::REQUESTED_ADDRESS, &a)
    }

    fn server_id(self, a: [u8; 4]) -> Msg {
        self.opt(opt::SERVER_ID, &a)
    }

    /// From `ciaddr`, unicast to the server (RENEWING) when `unicast`, else broadcast.
    fn from(mut self, a: [u8; 4], unicast: bool) -> Msg {
        self.ciaddr = a;
        self.src = a;
        if unicast {
            self.dst = SERVER;
            self.dst_mac = SERVER_MAC;
        }
        self
    }

    /// The DHCP message bytes.
    fn dhcp(&self) -> Vec<u8> {
        let mut m = vec![0u8; BOOTP_LEN];
        m[0] = 1;
        m[1] = 1;
        m[2] = 6;
        m[4..8].copy_from_slice(&self.xid.to_be_bytes());
        m[10..12].copy_from_slice(&self.flags.to_be_bytes());
        m[12..16].copy_from_slice(&self.ciaddr);
        m[28..34].copy_from_slice(&self.mac);
        m.extend_from_slice(&MAGIC);
        m.extend_from_slice(&[53, 1, self.kind]);
        for (c, v) in &self.options {
            m.push(*c);
            m.push(v.len() as u8);
            m.extend_from_slice(v);
        }
        m.push(255);
        m
    }

    fn frame(&self) -> Vec<u8> {
        frame_of(self, &self.dhcp())
    }
}

/// `msg`'s addressing around the DHCP bytes `dhcp`.
fn frame_of(msg: &Msg, dhcp: &[u8]) -> Vec<u8> {
    let u = udp(msg.src, msg.dst, 68, 67, dhcp);
    eth_ipv4(msg.dst_mac, msg.mac, &ipv4(msg.src, msg.dst, 17, 64, &u))
}

/// A parsed reply.
#[derive(Clone, Debug)]
struct Got {
    eth_dst: [u8; 6],
    ip_dst: [u8; 4],
    kind: u8,
    xid: u32,
    flags: u16,
    ciaddr: [u8; 4],
    yiaddr: [u8; 4],
    chaddr: [u8; 6],
    options: Vec<(u8, Vec<u8>)>,
    len: usize,
}

impl Got {
    fn opt(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    fn codes(&self) -> Vec<u8> {
        self.options.iter().map(|(c, _)| *c).collect()
    }

    fn u32_opt(&self, code: u8) -> Option<u32> {
        self.opt(code)
            .map(|v| u32::from_be_bytes(v.try_into().unwrap()))
    }
}

/// Check a reply frame from the server completely (Ethernet source, IPv4 and UDP
/// checksums, ports, BOOTREPLY header, options well formed, server id) and parse it.
fn parse_reply(f: &[u8]) -> Got {
    assert_eq!(testing::eth_src_of(f), SERVER_MAC, "from the server's MAC");
    assert_eq!(testing::ethertype_of(f), 0x0800);
    assert!(testing::ip_checksum_ok(f), "IPv4 header checksum");
    assert_eq!(testing::ip_src(f), SERVER);
    assert_eq!(testing::ip_proto_of(f), 17);
    let l4 = testing::l4_of(f);
    let ip_dst = testing::ip_dst(f);
    assert!(l4_checksum_ok(SERVER, ip_dst, 17, l4), "UDP checksum");
    assert_ne!(l4[6..8], [0, 0], "a UDP checksum is present");
    assert_eq!(u16::from_be_bytes([l4[0], l4[1]]), 67);
    assert_eq!(u16::from_be_bytes([l4[2], l4[3]]), 68);
    assert_eq!(usize::from(u16::from_be_bytes([l4[4], l4[5]])), l4.len());
    let m = &l4[8..];
    assert!(m.len() >= 300, "padded to the BOOTP minimum");
    assert_eq!((m[0], m[1], m[2]), (2, 1, 6), "BOOTREPLY, Ethernet");
    assert_eq!(m[BOOTP_LEN..BOOTP_LEN + 4], MAGIC);
    let mut options = Vec::new();
    let mut i = BOOTP_LEN + 4;
    loop {
        match m[i] {
            0 => i += 1,
            255 => break,
            c => {
                let n = usize::from(m[i + 1]);
                options.push((c, m[i + 2..i + 2 + n].to_vec()));
                i += 2 + n;
            }
        }
    }
    let g = Got {
        eth_dst: testing::eth_dst_of(f),
        ip_dst,
        kind: options
            .first()
            .map(|(c, v)| {
                assert_eq!(*c, 53, "message type first");
                v[0]
            })
            .unwrap(),
        xid: u32::from_be_bytes(m[4..8].try_into().unwrap()),
        flags: u16::from_be_bytes([m[10], m[11]]),
        ciaddr: m[12..16].try_into().unwrap(),
        yiaddr: m[16..20].try_into().unwrap(),
        chaddr: m[28..34].try_into().unwrap(),
        options,
        len: m.len(),
    };
    // RFC 2131 table 3: server identifier in every reply.
    assert_eq!(g.opt(opt::SERVER_ID), Some(&SERVER[..]));
    g
}

/// The server and a clock.
struct Rig {
    s: DhcpServer,
    now: Instant,
}

impl Rig {
    fn new(c: &DhcpConfig) -> Rig {
        Rig {
            s: server(c),
            now: secs(1000),
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        testing::tick(&mut self.s, testing::pool(), self.now);
        self.s.leases.check();
    }

    fn send_raw(&mut self, gate: u16, f: &[u8]) -> Emitted {
        let e = testing::send(&mut self.s, self.now, gate, f);
        self.s.leases.check();
        e
    }

    /// Send `m` from the clients; the one reply, if any (checked).
    fn send(&mut self, m: &Msg) -> Option<Got> {
        let e = self.send_raw(GATE_CLIENTS, &m.frame());
        assert!(e.gate(1).is_empty(), "nothing passed on: {e:?}");
        assert!(e.gate(0).len() <= 1);
        e.gate(0).first().map(|f| {
            let g = parse_reply(f);
            assert_eq!(g.xid, m.xid, "xid echoed");
            assert_eq!(g.chaddr, m.mac, "chaddr echoed");
            assert_eq!(g.flags, m.flags, "flags echoed");
            g
        })
    }

    fn counter(&self, name: &str) -> u64 {
        testing::counter(&self.s, name)
    }

    /// DISCOVER, OFFER, REQUEST, ACK for `mac`; the address.
    fn dora(&mut self, mac: [u8; 6]) -> [u8; 4] {
        let offer = self.send(&Msg::new(MessageType::Discover, mac)).unwrap();
        assert_eq!(offer.kind, MessageType::Offer as u8);
        let ack = self
            .send(
                &Msg::new(MessageType::Request, mac)
                    .requested(offer.yiaddr)
                    .server_id(SERVER),
            )
            .unwrap();
        assert_eq!(ack.kind, MessageType::Ack as u8);
        assert_eq!(ack.yiaddr, offer.yiaddr);
        ack.yiaddr
    }

    fn lease_of(&self, a: [u8; 4]) -> Option<Lease> {
        self.s
            .leases(self.now)
            .into_iter()
            .find(|l| l.address == ip(a))
    }
}

#[test]
fn dora_exchange_offers_requests_and_acks_a_lease_rfc2131_3_1() {
    let mut r = Rig::new(&cfg());
    let offer = r.send(&Msg::new(MessageType::Discover, mac(7))).unwrap();
    assert_eq!(offer.kind, MessageType::Offer as u8);
    assert_eq!(offer.yiaddr, [10, 0, 0, 100], "first address of the range");
    // §4.1: no broadcast flag, no ciaddr: unicast to yiaddr at chaddr.
    assert_eq!((offer.eth_dst, offer.ip_dst), (mac(7), [10, 0, 0, 100]));
    assert_eq!(offer.ciaddr, [0; 4]);
    assert_eq!(offer.u32_opt(opt::LEASE_TIME), Some(3600));
    assert_eq!(offer.u32_opt(opt::T1), Some(1800));
    assert_eq!(offer.u32_opt(opt::T2), Some(3150));
    assert_eq!(offer.opt(opt::SUBNET_MASK), Some(&[255, 255, 255, 0][..]));
    assert_eq!(offer.opt(opt::ROUTER), Some(&SERVER[..]));
    assert_eq!(offer.opt(opt::DNS), Some(&[10, 0, 0, 53][..]));
    assert_eq!(offer.opt(opt::DOMAIN), Some(&b"lab.example"[..]));
    assert_eq!(offer.opt(opt::BROADCAST), Some(&[10, 0, 0, 255][..]));
    assert_eq!(r.counter("offers_pending"), 1);
    assert_eq!(r.lease_of(offer.yiaddr).unwrap().state, LeaseState::Offered);

    let ack = r
        .send(
            &Msg::new(MessageType::Request, mac(7))
                .requested(offer.yiaddr)
                .server_id(SERVER),
        )
        .unwrap();
    assert_eq!(ack.kind, MessageType::Ack as u8);
    assert_eq!(ack.yiaddr, [10, 0, 0, 100]);
    assert_eq!(ack.u32_opt(opt::LEASE_TIME), Some(3600));
    let l = r.lease_of(ack.yiaddr).unwrap();
    assert_eq!(
        (l.state, l.mac, l.expires_in),
        (LeaseState::Bound, mac(7), Duration::from_secs(3600))
    );
    for (name, v) in [
        ("discovers", 1),
        ("offers", 1),
        ("requests", 1),
        ("acks", 1),
        ("naks", 0),
        ("leases", 1),
        ("offers_pending", 0),
        ("available", 99), // 100 addresses, one bound
    ] {
        assert_eq!(r.counter(name), v, "{name}");
    }
}

#[test]
fn broadcast_flag_gets_a_broadcast_reply_rfc2131_4_1() {
    let mut r = Rig::new(&cfg());
    let mut d = Msg::new(MessageType::Discover, mac(3));
    d.flags = message::FLAG_BROADCAST;
    let offer = r.send(&d).unwrap();
    assert_eq!((offer.eth_dst, offer.ip_dst), (BROADCAST, [255; 4]));
    assert_eq!(offer.yiaddr, [10, 0, 0, 100]);
}

#[test]
fn parameter_request_list_orders_and_selects_options_rfc2132_9_8() {
    let mut r = Rig::new(&cfg());
    let d = Msg::new(MessageType::Discover, mac(3)).opt(opt::PARAMETER_LIST, &[6, 3, 42, 15]);
    let offer = r.send(&d).unwrap();
    assert_eq!(
        offer.codes(),
        [53, 54, 51, 58, 59, 6, 3, 15, 1],
        "required, then the client's order, then the mask it did not ask for"
    );
}

#[test]
fn client_identifier_keys_the_lease_and_is_echoed_rfc2131_4_2_rfc6842() {
    let mut r = Rig::new(&cfg());
    let id = [1, 2, 0, 0, 0, 0, 9];
    let offer = r
        .send(&Msg::new(MessageType::Discover, mac(9)).opt(opt::CLIENT_ID, &id))
        .unwrap();
    assert_eq!(offer.opt(opt::CLIENT_ID), Some(&id[..]));
    // The same chaddr with another client id is another client.
    let other = r
        .send(&Msg::new(MessageType::Discover, mac(9)).opt(opt::CLIENT_ID, &[0, b'x', b'y']))
        .unwrap();
    assert_ne!(other.yiaddr, offer.yiaddr);
    let l = r.lease_of(offer.yiaddr).unwrap();
    assert_eq!(l.client_id.as_deref(), Some(&id[..]));
}

#[test]
fn renew_unicast_and_rebind_broadcast_extend_the_lease_rfc2131_4_3_2() {
    let mut c = cfg();
    c.lease = Duration::from_secs(100);
    let mut r = Rig::new(&c);
    let a = r.dora(mac(5));
    r.advance(Duration::from_secs(50)); // T1
    let ack = r
        .send(&Msg::new(MessageType::Request, mac(5)).from(a, true))
        .unwrap();
    assert_eq!(ack.kind, MessageType::Ack as u8);
    assert_eq!((ack.yiaddr, ack.ciaddr), (a, a));
    // §4.1: ciaddr set: unicast to ciaddr at chaddr.
    assert_eq!((ack.eth_dst, ack.ip_dst), (mac(5), a));
    assert_eq!(r.lease_of(a).unwrap().expires_in, Duration::from_secs(100));
    r.advance(Duration::from_secs(88)); // T2 of the renewed lease
    let ack = r
        .send(&Msg::new(MessageType::Request, mac(5)).from(a, false))
        .unwrap();
    assert_eq!(ack.kind, MessageType::Ack as u8);
    assert_eq!((ack.ip_dst, ack.yiaddr), (a, a));
    assert_eq!((r.counter("renews"), r.counter("rebinds")), (1, 1));
    // §4.1: ciaddr wins over the broadcast flag.
    let mut m = Msg::new(MessageType::Request, mac(5)).from(a, false);
    m.flags = message::FLAG_BROADCAST;
    let ack = r.send(&m).unwrap();
    assert_eq!((ack.eth_dst, ack.ip_dst), (mac(5), a));
    r.advance(Duration::from_secs(99));
    assert_eq!(
        r.lease_of(a).unwrap().state,
        LeaseState::Bound,
        "still bound after 2 renewals"
    );
    assert_eq!(r.counter("expired"), 0);
}

#[test]
fn nak_for_a_wrong_address_and_another_servers_request_is_passed_on_rfc2131_4_3_2() {
    let mut r = Rig::new(&cfg());
    let a = r.dora(mac(1));
    let b = r.dora(mac(2));
    // INIT-REBOOT asking for another client's address: NAK, broadcast (§4.1).
    let nak = r
        .send(&Msg::new(MessageType::Request, mac(1)).requested(b))
        .unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
    assert_eq!(
        (nak.eth_dst, nak.ip_dst, nak.yiaddr),
        (BROADCAST, [255; 4], [0; 4])
    );
    assert_eq!(nak.opt(opt::LEASE_TIME), None);
    // Off the subnet: NAK.
    let nak = r
        .send(&Msg::new(MessageType::Request, mac(1)).requested([192, 168, 1, 5]))
        .unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
    // Its own address: ACK.
    let ack = r
        .send(&Msg::new(MessageType::Request, mac(1)).requested(a))
        .unwrap();
    assert_eq!((ack.kind, ack.yiaddr), (MessageType::Ack as u8, a));
    assert_eq!(r.counter("init_reboots"), 3);
    assert_eq!(r.counter("naks"), 2);
    // A client choosing another server: our offer is withdrawn and the REQUEST goes on.
    let offer = r.send(&Msg::new(MessageType::Discover, mac(3))).unwrap();
    assert_eq!(r.counter("offers_pending"), 1);
    let req = Msg::new(MessageType::Request, mac(3))
        .requested([10, 0, 0, 77])
        .server_id(OTHER_SERVER);
    let e = r.send_raw(GATE_CLIENTS, &req.frame());
    assert_eq!(e.gate(1), [req.frame()], "passed on unchanged");
    assert!(e.gate(0).is_empty());
    assert_eq!(r.counter("other_server"), 1);
    assert_eq!(r.counter("offers_pending"), 0);
    assert_eq!(r.lease_of(offer.yiaddr).unwrap().state, LeaseState::Expired);
}

#[test]
fn release_frees_the_lease_and_the_client_gets_its_address_back_rfc2131_4_3_4() {
    let mut r = Rig::new(&cfg());
    let a = r.dora(mac(1));
    let e = r.send_raw(
        GATE_CLIENTS,
        &Msg::new(MessageType::Release, mac(1))
            .server_id(SERVER)
            .from(a, true)
            .frame(),
    );
    assert_eq!((e.total(), e.consumed), (0, 1));
    assert_eq!(r.counter("releases"), 1);
    assert_eq!(r.counter("leases"), 0);
    assert_eq!(r.lease_of(a).unwrap().state, LeaseState::Released);
    // Another client gets a never-used address, the first one comes back to its client.
    let b = r.dora(mac(2));
    assert_ne!(a, b);
    assert_eq!(r.dora(mac(1)), a, "address stickiness (§4.3.1)");
}

#[test]
fn decline_quarantines_the_address_for_the_hold_time_rfc2131_4_3_3() {
    let mut c = cfg();
    c.range = ip([10, 0, 0, 100])..=ip([10, 0, 0, 101]);
    let mut r = Rig::new(&c);
    let a = r.dora(mac(1));
    let e = r.send_raw(
        GATE_CLIENTS,
        &Msg::new(MessageType::Decline, mac(1))
            .server_id(SERVER)
            .requested(a)
            .frame(),
    );
    assert_eq!(e.consumed, 1);
    assert_eq!((r.counter("declines"), r.counter("quarantined")), (1, 1));
    assert!(r.lease_of(a).is_none(), "the client's record is gone");
    // The client starts over and gets the other address; nobody gets the declined one.
    let b = r.dora(mac(1));
    assert_ne!(a, b);
    assert!(r.send(&Msg::new(MessageType::Discover, mac(2))).is_none());
    assert_eq!(r.counter("pool_exhausted"), 1);
    r.advance(DEFAULT_DECLINE_HOLD + TICK);
    assert_eq!(r.counter("quarantined"), 0);
    assert_eq!(r.dora(mac(2)), a, "usable again after the hold");
}

#[test]
fn lease_expires_after_the_lease_time_and_the_address_is_freed() {
    let mut c = cfg();
    c.lease = Duration::from_secs(60);
    c.range = ip([10, 0, 0, 100])..=ip([10, 0, 0, 100]);
    let mut r = Rig::new(&c);
    let a = r.dora(mac(1));
    assert!(r.send(&Msg::new(MessageType::Discover, mac(2))).is_none());
    r.advance(Duration::from_secs(59));
    assert_eq!(r.counter("leases"), 1, "not before the lease time");
    r.advance(Duration::from_secs(1));
    assert_eq!((r.counter("leases"), r.counter("expired")), (0, 1));
    assert_eq!(r.lease_of(a).unwrap().state, LeaseState::Expired);
    assert_eq!(r.dora(mac(2)), a, "given to the next client");
    assert_eq!(r.lease_of(a).unwrap().mac, mac(2));
    // The first client's renewal is refused now.
    let nak = r
        .send(&Msg::new(MessageType::Request, mac(1)).from(a, true))
        .unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
}

#[test]
fn an_offer_not_taken_is_freed_after_the_offer_hold() {
    let mut c = cfg();
    c.range = ip([10, 0, 0, 100])..=ip([10, 0, 0, 100]);
    let mut r = Rig::new(&c);
    r.send(&Msg::new(MessageType::Discover, mac(1))).unwrap();
    assert!(r.send(&Msg::new(MessageType::Discover, mac(2))).is_none());
    r.advance(OFFER_HOLD);
    assert_eq!(r.counter("offers_pending"), 0);
    assert_eq!(r.dora(mac(2)), [10, 0, 0, 100]);
}

#[test]
fn static_lease_is_always_that_address_and_never_given_to_others() {
    let mut c = cfg();
    c.range = ip([10, 0, 0, 100])..=ip([10, 0, 0, 102]);
    c.static_leases = vec![
        StaticLease {
            mac: mac(50),
            address: ip([10, 0, 0, 101]), // inside the range
        },
        StaticLease {
            mac: mac(51),
            address: ip([10, 0, 0, 20]), // outside
        },
    ];
    let mut r = Rig::new(&c);
    // Others get the two dynamic addresses, then nothing: never 10.0.0.101.
    assert_eq!(r.dora(mac(1)), [10, 0, 0, 100]);
    assert_eq!(r.dora(mac(2)), [10, 0, 0, 102]);
    assert!(
        r.send(&Msg::new(MessageType::Discover, mac(3)).requested([10, 0, 0, 101]))
            .is_none()
    );
    let nak = r
        .send(&Msg::new(MessageType::Request, mac(3)).requested([10, 0, 0, 20]))
        .unwrap();
    assert_eq!(
        nak.kind,
        MessageType::Nak as u8,
        "another MAC's static address"
    );
    for _ in 0..3 {
        assert_eq!(r.dora(mac(50)), [10, 0, 0, 101]);
        // Even with a client id and a wish for something else.
        let o = r
            .send(
                &Msg::new(MessageType::Discover, mac(51))
                    .opt(opt::CLIENT_ID, &[1, 2, 0, 0, 0, 0, 51])
                    .requested([10, 0, 0, 100]),
            )
            .unwrap();
        assert_eq!(o.yiaddr, [10, 0, 0, 20]);
        assert_eq!(r.dora(mac(51)), [10, 0, 0, 20]);
        let rel = Msg::new(MessageType::Release, mac(50))
            .server_id(SERVER)
            .from([10, 0, 0, 101], true);
        r.send_raw(GATE_CLIENTS, &rel.frame());
    }
    let l = r.lease_of([10, 0, 0, 20]).unwrap();
    assert!(l.is_static);
    assert_eq!(l.client_id, None, "static leases are keyed by MAC");
    assert_eq!(r.counter("available"), 0);
}

#[test]
fn pool_exhaustion_and_the_lease_limit_are_counted_drops() {
    let mut c = cfg();
    c.range = ip([10, 0, 0, 100])..=ip([10, 0, 0, 103]);
    let mut r = Rig::new(&c);
    for i in 0..4 {
        r.dora(mac(i));
    }
    let e = r.send_raw(
        GATE_CLIENTS,
        &Msg::new(MessageType::Discover, mac(9)).frame(),
    );
    assert_eq!(e.total(), 0);
    assert_eq!(e.drops.get(DhcpDrop::PoolExhausted), 1);
    assert_eq!(r.counter("pool_exhausted"), 1);

    c.max_leases = 2;
    let mut r = Rig::new(&c);
    r.dora(mac(1));
    r.send(&Msg::new(MessageType::Discover, mac(2))).unwrap();
    let e = r.send_raw(
        GATE_CLIENTS,
        &Msg::new(MessageType::Discover, mac(3)).frame(),
    );
    assert_eq!(e.drops.get(DhcpDrop::LeaseLimit), 1);
    assert_eq!(r.counter("lease_limit"), 1);
    // A client that has one keeps being served.
    assert!(r.send(&Msg::new(MessageType::Discover, mac(2))).is_some());
}

#[test]
fn many_clients_in_random_order_never_share_an_address() {
    let mut c = cfg();
    c.lease = Duration::from_secs(30);
    c.range = ip([10, 0, 0, 100])..=ip([10, 0, 0, 139]); // 40 addresses, 60 clients
    let mut r = Rig::new(&c);
    let mut rng = XorShift(0x5eed_d1c9_0001);
    // What each client believes it holds.
    let mut held: HashMap<u8, [u8; 4]> = HashMap::new();
    for step in 0..5000 {
        let m = mac(rng.below(60) as u8 + 1);
        let who = m[5];
        match rng.below(10) {
            0..=3 => {
                if let Some(o) = r.send(&Msg::new(MessageType::Discover, m)) {
                    let got = r.send(
                        &Msg::new(MessageType::Request, m)
                            .requested(o.yiaddr)
                            .server_id(SERVER),
                    );
                    if got
                        .as_ref()
                        .is_some_and(|g| g.kind == MessageType::Ack as u8)
                    {
                        held.insert(who, o.yiaddr);
                    }
                }
            }
            4..=5 => {
                if let Some(&a) = held.get(&who) {
                    match r.send(&Msg::new(MessageType::Request, m).from(a, rng.below(2) == 0)) {
                        Some(g) if g.kind == MessageType::Ack as u8 => {}
                        _ => {
                            held.remove(&who);
                        }
                    }
                }
            }
            6 => {
                if let Some(a) = held.remove(&who) {
                    r.send_raw(
                        GATE_CLIENTS,
                        &Msg::new(MessageType::Release, m)
                            .server_id(SERVER)
                            .from(a, true)
                            .frame(),
                    );
                }
            }
            7 => {
                // INIT-REBOOT with a random address of the range.
                let a = [10, 0, 0, 100 + rng.below(40) as u8];
                if let Some(g) = r.send(&Msg::new(MessageType::Request, m).requested(a))
                    && g.kind == MessageType::Ack as u8
                {
                    held.insert(who, a);
                }
            }
            _ => {
                r.advance(Duration::from_secs(rng.below(4)));
                // Leases whose time ran out are no longer the client's.
                let bound: HashSet<(Ipv4Addr, [u8; 6])> =
                    r.s.leases(r.now)
                        .iter()
                        .filter(|l| l.state == LeaseState::Bound)
                        .map(|l| (l.address, l.mac))
                        .collect();
                held.retain(|w, a| bound.contains(&(ip(*a), mac(*w))));
            }
        }
        // Conflict-free: no two clients believe they hold the same address, and the
        // server's table agrees with every belief.
        let mut seen = HashSet::new();
        for (w, a) in &held {
            assert!(seen.insert(*a), "step {step}: {a:?} held twice");
            let l = r.lease_of(*a).unwrap();
            assert_eq!(
                (l.mac, l.state),
                (mac(*w), LeaseState::Bound),
                "step {step}"
            );
        }
    }
    assert!(r.counter("acks") > 500, "the test exercised the server");
    assert!(r.counter("pool_exhausted") > 0, "and its exhaustion");
}

#[test]
fn inform_is_acked_with_options_and_no_lease_rfc2131_4_3_5() {
    let mut r = Rig::new(&cfg());
    let a = [10, 0, 0, 30]; // configured by hand, outside the range
    let ack = r
        .send(&Msg::new(MessageType::Inform, mac(4)).from(a, false))
        .unwrap();
    assert_eq!(ack.kind, MessageType::Ack as u8);
    assert_eq!((ack.yiaddr, ack.ciaddr), ([0; 4], a));
    assert_eq!((ack.eth_dst, ack.ip_dst), (mac(4), a));
    assert_eq!(ack.opt(opt::LEASE_TIME), None);
    assert_eq!(ack.opt(opt::T1), None);
    assert_eq!(ack.opt(opt::DNS), Some(&[10, 0, 0, 53][..]));
    assert_eq!((r.counter("informs"), r.counter("leases")), (1, 0));
}

#[test]
fn other_traffic_passes_both_ways_unchanged() {
    let mut r = Rig::new(&cfg());
    let ping = eth_ipv4(
        mac(2),
        mac(1),
        &ipv4(
            [10, 0, 0, 100],
            [10, 0, 0, 5],
            1,
            64,
            &testing::icmp_echo_request(1, 1, b"x"),
        ),
    );
    let dns = eth_ipv4(
        mac(2),
        mac(1),
        &ipv4(
            [10, 0, 0, 100],
            [10, 0, 0, 53],
            17,
            64,
            &udp([10, 0, 0, 100], [10, 0, 0, 53], 5353, 53, b"q"),
        ),
    );
    // A DHCP message to another server's address (unicast renewal elsewhere), a server's
    // reply from the network side, an ARP for someone else, a tagged DISCOVER.
    let mut elsewhere = Msg::new(MessageType::Request, mac(1)).from([10, 0, 0, 100], false);
    elsewhere.dst = OTHER_SERVER;
    elsewhere.dst_mac = mac(9);
    let reply = {
        let u = udp(OTHER_SERVER, [255; 4], 67, 68, &[2; 300]);
        eth_ipv4(BROADCAST, mac(9), &ipv4(OTHER_SERVER, [255; 4], 17, 64, &u))
    };
    let arp = testing::arp_request(mac(1), [10, 0, 0, 100], [10, 0, 0, 5]);
    let tagged = {
        let f = Msg::new(MessageType::Discover, mac(1)).frame();
        testing::eth_tagged(BROADCAST, mac(1), 10, 0x0800, &f[14..])
    };
    let ipv6 = eth(BROADCAST, mac(1), 0x86dd, &[0x60; 40]);
    for f in [ping, dns, elsewhere.frame(), arp, tagged, ipv6] {
        let e = r.send_raw(GATE_CLIENTS, &f);
        assert_eq!(
            e.gate(1),
            std::slice::from_ref(&f),
            "clients -> network unchanged"
        );
        let e = r.send_raw(GATE_NETWORK, &f);
        assert_eq!(e.gate(0), [f], "network -> clients unchanged");
    }
    let e = r.send_raw(GATE_NETWORK, &reply);
    assert_eq!(e.gate(0), [reply]);
    assert_eq!(r.counter("passed"), 13);
    assert_eq!(r.counter("discovers"), 0);
}

#[test]
fn arp_requests_for_the_server_address_are_answered() {
    let mut r = Rig::new(&cfg());
    let req = testing::arp_request(mac(1), [10, 0, 0, 100], SERVER);
    let e = r.send_raw(GATE_CLIENTS, &req);
    let reply = &e.gate(0)[0];
    assert_eq!(testing::eth_dst_of(reply), mac(1));
    let a = testing::arp_of(reply);
    assert_eq!(u16::from_be_bytes([a[6], a[7]]), 2, "reply");
    assert_eq!((&a[8..14], &a[14..18]), (&SERVER_MAC[..], &SERVER[..]));
    assert_eq!(r.counter("arp_replies"), 1);
    let mut c = cfg();
    c.arp = false;
    let mut r = Rig::new(&c);
    assert_eq!(r.send_raw(GATE_CLIENTS, &req).gate(1), [req]);
}

#[test]
fn malformed_dhcp_is_dropped_with_its_reason() {
    let d = Msg::new(MessageType::Discover, mac(1));
    let good = d.dhcp();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = good.clone();
        f(&mut m);
        frame_of(&d, &m)
    };
    let mut bad_sum = d.frame();
    let n = bad_sum.len();
    bad_sum[n - 1] ^= 0x55;
    let mut bad_ulen = d.frame();
    bad_ulen[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&4000u16.to_be_bytes());
    let bootp = Msg::new(MessageType::Discover, mac(1)); // no option 53
    let cases: Vec<(Vec<u8>, DhcpDrop)> = vec![
        (with(&|m| m.truncate(200)), DhcpDrop::Truncated),
        (with(&|m| m.resize(1500, 0)), DhcpDrop::Oversized),
        (bad_sum, DhcpDrop::BadChecksum),
        (bad_ulen, DhcpDrop::BadUdp),
        (with(&|m| m[0] = 2), DhcpDrop::BadOp),
        (with(&|m| m[2] = 8), DhcpDrop::BadHardware),
        (with(&|m| m[1] = 6), DhcpDrop::BadHardware),
        (with(&|m| m[BOOTP_LEN + 3] = 0), DhcpDrop::BadCookie),
        (
            with(&|m| {
                m.pop();
                m.extend_from_slice(&[61, 30, 1]);
            }),
            DhcpDrop::BadOptions,
        ),
        (
            with(&|m| {
                m.pop();
                m.extend_from_slice(&[52, 1, 3, 255]);
            }),
            DhcpDrop::OptionOverload,
        ),
        (
            with(&|m| {
                m.truncate(BOOTP_LEN + 4);
                m.extend_from_slice(&[12, 1, b'h', 255]);
            }),
            DhcpDrop::NoMessageType,
        ),
        (with(&|m| m[BOOTP_LEN + 6] = 2), DhcpDrop::UnexpectedType),
        (
            Msg::new(MessageType::Request, mac(1)).frame(),
            DhcpDrop::BadRequest,
        ),
        (
            Msg::new(MessageType::Decline, mac(1)).frame(),
            DhcpDrop::BadRequest,
        ),
        (
            Msg::new(MessageType::Release, mac(1)).frame(),
            DhcpDrop::BadRequest,
        ),
        (
            Msg::new(MessageType::Inform, mac(1)).frame(),
            DhcpDrop::BadRequest,
        ),
        (
            frame_of(&bootp, &good[..BOOTP_LEN + 4]),
            DhcpDrop::NoMessageType,
        ),
    ];
    let mut r = Rig::new(&cfg());
    for (f, want) in cases {
        let e = r.send_raw(GATE_CLIENTS, &f);
        assert_eq!(e.total(), 0, "{want}");
        assert_eq!(e.drops.get(want), 1, "{want}: {:?}", e.drops);
        assert_eq!(e.drops.total(), 1, "{want}");
    }
    assert_eq!(r.counter("leases") + r.counter("offers_pending"), 0);
    // A wrong IPv4 header checksum on a message to port 67.
    let mut bad_ip = d.frame();
    bad_ip[14 + 10] ^= 1;
    assert_eq!(
        r.send_raw(GATE_CLIENTS, &bad_ip)
            .drops
            .get(DropReason::IpBadChecksum),
        1
    );
    // An IPv4 fragment to port 67.
    let mut frag = d.frame();
    frag[14 + 6] = 0x20;
    testing::ipv4_fix_checksum(&mut frag[14..]);
    assert_eq!(
        r.send_raw(GATE_CLIENTS, &frag).drops.get(DhcpDrop::BadUdp),
        1
    );
}

#[test]
fn random_bytes_never_panic_and_every_frame_is_accounted_for() {
    let mut r = Rig::new(&cfg());
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let base = Msg::new(MessageType::Request, mac(1))
        .requested([10, 0, 0, 100])
        .dhcp();
    for _ in 0..3000 {
        let mut m = base.clone();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(m.len() as u64) as usize;
            m[i] = rng.byte();
        }
        m.truncate(200 + rng.below(m.len() as u64 - 199) as usize);
        // `send_raw` checks conservation.
        r.send_raw(
            GATE_CLIENTS,
            &frame_of(&Msg::new(MessageType::Discover, mac(1)), &m),
        );
    }
}

#[test]
fn init_reboot_after_a_restart_is_acked_when_the_address_is_free_authoritative() {
    let mut r = Rig::new(&cfg());
    let ack = r
        .send(&Msg::new(MessageType::Request, mac(8)).requested([10, 0, 0, 150]))
        .unwrap();
    assert_eq!(
        (ack.kind, ack.yiaddr),
        (MessageType::Ack as u8, [10, 0, 0, 150])
    );
    assert_eq!(r.counter("leases"), 1);
    // Reserved addresses (the DNS server's is not in this range; the server's) are NAKed.
    let nak = r
        .send(&Msg::new(MessageType::Request, mac(9)).requested(SERVER))
        .unwrap();
    assert_eq!(nak.kind, MessageType::Nak as u8);
}

#[test]
fn leases_export_and_import_across_a_restart() {
    let c = cfg();
    let mut r = Rig::new(&c);
    let a = r.dora(mac(1));
    let b = r.dora(mac(2));
    r.send_raw(
        GATE_CLIENTS,
        &Msg::new(MessageType::Release, mac(2))
            .server_id(SERVER)
            .from(b, true)
            .frame(),
    );
    r.advance(Duration::from_secs(600));
    let saved = r.s.leases(r.now);
    assert_eq!(saved.len(), 2);
    let mut fresh = Rig::new(&c);
    fresh.now = secs(5);
    assert_eq!(fresh.s.import_leases(fresh.now, &saved), 2);
    fresh.s.leases.check();
    assert_eq!(
        fresh.s.leases(fresh.now),
        saved,
        "the same leases, times as durations left"
    );
    assert_eq!(fresh.counter("leases"), 1);
    // The bound client renews; the released one gets its address back; others do not get
    // either.
    let ack = fresh
        .send(&Msg::new(MessageType::Request, mac(1)).from(a, true))
        .unwrap();
    assert_eq!(ack.kind, MessageType::Ack as u8);
    assert_eq!(fresh.dora(mac(3)), [10, 0, 0, 102]);
    assert_eq!(fresh.dora(mac(2)), b);
    // Importing again conflicts with everything.
    assert_eq!(fresh.s.import_leases(fresh.now, &saved), 0);
    // A lease outside the range is refused.
    let mut odd = saved[0].clone();
    odd.address = ip([10, 0, 0, 5]);
    odd.mac = mac(77);
    assert_eq!(Rig::new(&c).s.import_leases(secs(1), &[odd]), 0);
}

#[test]
fn the_leases_table_lists_every_record() {
    let mut r = Rig::new(&cfg());
    r.dora(mac(1));
    r.send(&Msg::new(MessageType::Discover, mac(2)).opt(opt::CLIENT_ID, &[0, b'a']))
        .unwrap();
    let mut tables = Vec::new();
    r.s.tables(r.now, &mut |t| tables.push(t));
    assert_eq!(tables.len(), 1);
    let t = &tables[0];
    assert_eq!(t.name, "leases");
    assert_eq!(
        t.columns,
        [
            "mac",
            "client_id",
            "address",
            "state",
            "static",
            "expires_in_s"
        ]
    );
    assert_eq!(
        t.rows,
        [
            [
                "02:00:00:00:00:01",
                "-",
                "10.0.0.100",
                "bound",
                "no",
                "3600"
            ],
            [
                "02:00:00:00:00:02",
                "0061",
                "10.0.0.101",
                "offered",
                "no",
                "60"
            ],
        ]
    );
}

#[test]
fn counters_are_declared_and_drop_reasons_named() {
    let s = server(&cfg());
    let mut reported = Vec::new();
    s.counters(&mut |n, _| reported.push(n));
    let declared: Vec<&str> = s.counter_info().iter().map(|c| c.name).collect();
    assert_eq!(reported, declared);
    assert!(s.counter_info().iter().all(|c| !c.help.is_empty()));
    assert_eq!(s.drop_reasons(), DhcpDrop::TABLE);
    assert!(CounterInfo::is_gauge(s.counter_info(), "leases"));
    assert!(!CounterInfo::is_gauge(s.counter_info(), "acks"));
    assert_eq!(testing::counter(&s, "available"), 100);
}

#[test]
fn a_long_reply_leaves_out_options_past_the_clients_maximum_rfc2131_2() {
    let mut c = cfg();
    c.dns = (1..=8).map(|i| ip([10, 0, 0, i + 50])).collect();
    c.domain = Some(format!(
        "{}.{}.{}.example",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63)
    ));
    let mut r = Rig::new(&c);
    let id = vec![0xee; 255];
    let d = Msg::new(MessageType::Discover, mac(1)).opt(opt::CLIENT_ID, &id);
    let o = r.send(&d).unwrap();
    assert!(o.len <= 548, "fits the 576-byte default maximum");
    assert_eq!(o.opt(opt::CLIENT_ID), Some(&id[..]));
    assert_eq!(o.opt(opt::DOMAIN), None, "did not fit 548 bytes");
    // With option 57 saying 1500, everything fits.
    let o = r
        .send(&d.clone().opt(opt::MAX_SIZE, &1500u16.to_be_bytes()))
        .unwrap();
    assert!(o.opt(opt::DOMAIN).is_some());
}
