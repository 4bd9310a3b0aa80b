//! Root-only tests of `sys::netns` and `sys::netlink` against the real kernel.
//!
//! Each test makes its own namespace (and TAP devices) with a name unique to the test and this
//! process (`nfvt-<tag>-<pid>`, at most 15 bytes), checks the result with the `ip` tool, and
//! removes what it made even when it fails: namespaces through an [`NsGuard`], TAP devices by
//! closing their fd (they are not persistent). Traffic only ever goes to a TAP fd inside a
//! namespace the test created.
//!
//! Without root the tests print "skipped: needs root" and pass, unless
//! `NFV_REQUIRE_PRIVILEGED=1` is set (as CI does), which turns the skip into a failure.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::process::Command;
use std::time::{Duration, Instant};

use nfv_dataplane::sys::netlink::{Netlink, NetlinkError, set_sysctl};
use nfv_dataplane::sys::netns::{NETNS_RUN_DIR, NetNs, NetnsError};

/// Whether to run a privileged test; see the module docs.
fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("NFV_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!(
            "this test needs root (network namespaces, /dev/net/tun) and NFV_REQUIRE_PRIVILEGED=1 forbids skipping it"
        );
    }
    println!("skipped: needs root");
    false
}

/// `nfvt-<tag>-<pid in hex>`: unique per test and process, and a valid interface name too.
fn test_name(tag: &str) -> String {
    let name = format!("nfvt-{tag}-{:x}", std::process::id());
    assert!(name.len() <= 15, "{name} is longer than 15 bytes");
    name
}

/// Deletes the named namespace when dropped, including while unwinding from a failed assert.
struct NsGuard(String);

impl Drop for NsGuard {
    fn drop(&mut self) {
        match NetNs::delete_by_name(&self.0) {
            Ok(()) | Err(NetnsError::NotFound { .. }) => {}
            Err(e) => eprintln!("cleanup of network namespace {} failed: {e}", self.0),
        }
    }
}

/// Creates a namespace for one test and the guard that removes it.
fn create_ns(tag: &str) -> (NetNs, NsGuard) {
    let name = test_name(tag);
    let ns = NetNs::create(&name).unwrap_or_else(|e| panic!("{e}: {:?}", e.source_chain()));
    (ns, NsGuard(name))
}

trait SourceChain {
    fn source_chain(&self) -> Vec<String>;
}

impl<E: std::error::Error> SourceChain for E {
    fn source_chain(&self) -> Vec<String> {
        let mut chain = Vec::new();
        let mut next = self.source();
        while let Some(e) = next {
            chain.push(e.to_string());
            next = e.source();
        }
        chain
    }
}

/// Runs `ip ARGS`, asserts it succeeded, returns its stdout.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("couldn't run the ip tool");
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip_netns_list_has(name: &str) -> bool {
    ip(&["netns", "list"])
        .lines()
        .any(|line| line.split_whitespace().next() == Some(name))
}

/// The inode of the calling thread's network namespace.
fn thread_netns_inode() -> u64 {
    fs::metadata("/proc/thread-self/ns/net")
        .expect("stat /proc/thread-self/ns/net")
        .ino()
}

/// Opens a non-persistent TAP device (`IFF_TAP | IFF_NO_PI`, non-blocking) in the calling
/// thread's network namespace. It disappears when the fd is closed.
fn open_tap(name: &str) -> io::Result<File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    // SAFETY: ifreq is plain data (arrays, integers, a union of such); all zeroes is a valid
    // value, and an empty name.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    assert!(name.len() < ifr.ifr_name.len(), "{name} is too long");
    for (dst, &src) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: the fd is an open /dev/net/tun file; TUNSETIFF reads and writes one struct
    // ifreq, and `ifr` is one, with a NUL-terminated name, alive for the call.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

#[test]
fn namespace_lifecycle_matches_ip_netns() {
    if !privileged() {
        return;
    }
    let (ns, guard) = create_ns("lc");
    let name = guard.0.clone();
    assert_eq!(ns.name(), name);
    assert!(NetNs::exists(&name));
    assert!(NetNs::list().expect("list").contains(&name));
    assert!(
        ip_netns_list_has(&name),
        "ip netns list doesn't show {name}"
    );

    match NetNs::create(&name) {
        Err(NetnsError::AlreadyExists { name: n }) => assert_eq!(n, name),
        other => panic!("second create of {name}: expected AlreadyExists, got {other:?}"),
    }

    // run_in really switches, only the helper thread, and to the namespace behind the fd.
    let host = thread_netns_inode();
    let inside = ns.run_in(thread_netns_inode).expect("run_in");
    assert_ne!(host, inside, "run_in stayed in the host namespace");
    assert_eq!(thread_netns_inode(), host, "the calling thread moved");
    let reopened = NetNs::open(&name).expect("open");
    assert_eq!(reopened.run_in(thread_netns_inode).expect("run_in"), inside);

    // A fresh namespace has lo down; bring it up over netlink and let iproute2 confirm.
    let lo_flags = || ip(&["-n", &name, "-j", "link", "show", "dev", "lo"]);
    assert!(!lo_flags().contains("\"UP\""), "lo is up already");
    ns.run_in(|| -> Result<(), NetlinkError> {
        let mut nl = Netlink::new()?;
        let lo = nl.link_index("lo")?;
        nl.set_up(lo)
    })
    .expect("run_in")
    .expect("set lo up");
    let after = lo_flags();
    assert!(after.contains("\"UP\""), "lo isn't up: {after}");

    // A panic inside run_in reaches the caller.
    let panicked = std::panic::catch_unwind(|| reopened.run_in(|| panic!("inside the namespace")));
    assert!(panicked.is_err());

    drop(reopened);
    ns.delete().expect("delete");
    assert!(!NetNs::exists(&name));
    assert!(!NetNs::list().expect("list").contains(&name));
    assert!(
        !ip_netns_list_has(&name),
        "ip netns list still shows {name}"
    );
    assert!(matches!(
        NetNs::delete_by_name(&name),
        Err(NetnsError::NotFound { .. })
    ));
    assert!(matches!(
        NetNs::open(&name),
        Err(NetnsError::NotFound { .. })
    ));
}

#[test]
fn guard_removes_namespace_when_test_panics() {
    if !privileged() {
        return;
    }
    let name = test_name("pn");
    let outcome = std::panic::catch_unwind(|| {
        let (_ns, _guard) = create_ns("pn");
        assert!(NetNs::exists(&test_name("pn")));
        panic!("deliberate failure while the namespace exists");
    });
    assert!(outcome.is_err());
    assert!(!NetNs::exists(&name), "{name} survived the panic");
    assert!(!ip_netns_list_has(&name));
}

#[test]
fn leftover_file_is_not_a_namespace_and_can_be_deleted() {
    if !privileged() {
        return;
    }
    let name = test_name("lf");
    fs::create_dir_all(NETNS_RUN_DIR).expect("mkdir /run/netns");
    let path = format!("{NETNS_RUN_DIR}/{name}");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .expect("create the leftover file");
    let _guard = NsGuard(name.clone());

    assert!(NetNs::exists(&name));
    match NetNs::open(&name) {
        Err(NetnsError::NotANamespace { name: n, .. }) => assert_eq!(n, name),
        other => panic!("expected NotANamespace, got {other:?}"),
    }
    assert!(matches!(
        NetNs::create(&name),
        Err(NetnsError::AlreadyExists { .. })
    ));
    NetNs::delete_by_name(&name).expect("delete a leftover file");
    assert!(!NetNs::exists(&name));
}

const TAP: &str = "nfvt-tap0";
const TAP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const TAP_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 254);

#[test]
fn tap_in_namespace_is_configured_by_netlink_and_usable_from_main_thread() {
    if !privileged() {
        return;
    }
    let (ns, guard) = create_ns("tp");
    let name = guard.0.clone();

    // The TAP fd and the netlink socket are made inside the namespace and used out here.
    let (mut tap, mut nl) = ns
        .run_in(|| {
            let tap = open_tap(TAP).expect("open TAP in the namespace");
            (tap, Netlink::new().expect("netlink socket"))
        })
        .expect("run_in");
    let idx = nl.link_index(TAP).expect("TAP index");
    assert!(nl.link_exists(TAP).expect("link_exists"));
    assert!(
        !Netlink::new()
            .expect("host netlink")
            .link_exists(TAP)
            .expect("link_exists")
    );

    // disable_ipv6 goes to the namespace's copy of the sysctl: the TAP doesn't exist outside.
    let sysctl = format!("net/ipv6/conf/{TAP}/disable_ipv6");
    ns.run_in(|| set_sysctl(&sysctl, "1"))
        .expect("run_in")
        .expect("disable IPv6 on the TAP");
    let seen = ip(&[
        "netns",
        "exec",
        &name,
        "cat",
        &format!("/proc/sys/{sysctl}"),
    ]);
    assert_eq!(seen.trim(), "1");
    assert!(!fs::exists(format!("/proc/sys/{sysctl}")).expect("stat"));

    // Read-back before the change, so a reader that returns constants can't pass.
    assert_eq!(nl.link_mtu(idx).expect("read MTU"), 1500);
    assert_ne!(nl.link_mac(idx).expect("read MAC"), TAP_MAC);
    nl.set_mtu(idx, 1400).expect("set MTU");
    nl.set_mac(idx, TAP_MAC).expect("set MAC");
    nl.add_ipv4_address(idx, TAP_IP, 24).expect("add address");
    nl.set_up(idx).expect("set up");
    nl.add_ipv4_default_route(PEER_IP)
        .expect("add default route");

    assert_eq!(nl.link_mtu(idx).expect("read MTU"), 1400);
    assert_eq!(nl.link_mac(idx).expect("read MAC"), TAP_MAC);

    let link = ip(&["-n", &name, "-j", "link", "show", "dev", TAP]);
    for want in [
        "\"mtu\":1400",
        "\"address\":\"02:00:00:00:00:01\"",
        "\"UP\"",
    ] {
        assert!(link.contains(want), "{want} missing from {link}");
    }
    let addr = ip(&["-n", &name, "-j", "-4", "addr", "show", "dev", TAP]);
    for want in [
        "\"local\":\"10.99.0.1\"",
        "\"prefixlen\":24",
        "\"broadcast\":\"10.99.0.255\"",
    ] {
        assert!(addr.contains(want), "{want} missing from {addr}");
    }
    let route = ip(&["-n", &name, "-j", "-4", "route", "show", "default"]);
    for want in ["\"gateway\":\"10.99.0.254\"", &format!("\"dev\":\"{TAP}\"")] {
        assert!(route.contains(want), "{want} missing from {route}");
    }

    // Refusals carry the errno and name the operation, the value and the link.
    let dup = nl
        .add_ipv4_address(idx, TAP_IP, 24)
        .expect_err("adding the address twice");
    let msg = dup.to_string();
    assert!(
        msg.starts_with(&format!(
            "couldn't add address 10.99.0.1/24 to {TAP} (index {idx})"
        )),
        "{msg}"
    );
    assert_eq!(errno_of(&dup), Some(libc::EEXIST), "{dup:?}");
    let tiny = nl.set_mtu(idx, 10).expect_err("MTU 10");
    assert!(tiny.to_string().contains("MTU 10"), "{tiny}");
    assert_eq!(errno_of(&tiny), Some(libc::EINVAL), "{tiny:?}");
    println!("kernel refusal reads: {tiny}");
    assert!(matches!(
        nl.link_index("nfvt-none"),
        Err(NetlinkError::NotFound { .. })
    ));
    assert!(!nl.link_exists("nfvt-none").expect("link_exists"));
    assert!(
        nl.link_mtu(999_999)
            .expect_err("no such index")
            .is_not_found()
    );

    // The TAP fd works from this thread: the namespace's stack answers an ARP request.
    drain(&mut tap);
    tap.write_all(&arp_request()).expect("write ARP request");
    let reply = wait_for_arp_reply(&mut tap, Duration::from_secs(3));
    assert_eq!(&reply[0..6], &PEER_MAC, "reply not addressed to the asker");
    assert_eq!(&reply[22..28], &TAP_MAC, "reply from the wrong MAC");
    assert_eq!(&reply[28..32], &TAP_IP.octets(), "reply for the wrong IP");

    nl.set_down(idx).expect("set down");
    let link = ip(&["-n", &name, "-j", "link", "show", "dev", TAP]);
    assert!(!link.contains("\"UP\""), "still up: {link}");
    nl.delete_link(idx).expect("delete TAP");
    assert!(!nl.link_exists(TAP).expect("link_exists"));
}

fn errno_of(e: &NetlinkError) -> Option<i32> {
    std::error::Error::source(e)?
        .downcast_ref::<io::Error>()?
        .raw_os_error()
}

/// Reads whatever the kernel queued so far, up to EAGAIN.
fn drain(tap: &mut File) {
    let mut buf = [0u8; 2048];
    for _ in 0..256 {
        match tap.read(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("reading the TAP: {e}"),
        }
    }
    panic!("the TAP never ran dry");
}

/// Who has 10.99.0.1? Tell 10.99.0.254 (at 02:00:00:00:00:fe).
fn arp_request() -> Vec<u8> {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&[0xff; 6]); // destination: broadcast
    frame.extend_from_slice(&PEER_MAC); // source
    frame.extend_from_slice(&[0x08, 0x06]); // ethertype ARP
    frame.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet/IPv4, request
    frame.extend_from_slice(&PEER_MAC); // sender MAC
    frame.extend_from_slice(&PEER_IP.octets()); // sender IP
    frame.extend_from_slice(&[0; 6]); // target MAC: unknown
    frame.extend_from_slice(&TAP_IP.octets()); // target IP
    frame
}

/// Polls the non-blocking TAP until an ARP reply shows up; other frames are skipped.
fn wait_for_arp_reply(tap: &mut File, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    loop {
        match tap.read(&mut buf) {
            Ok(n) if n >= 42 && buf[12..14] == [0x08, 0x06] && buf[20..22] == [0, 2] => {
                return buf[..n].to_vec();
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no ARP reply within {timeout:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("reading the TAP: {e}"),
        }
    }
}

#[test]
fn tap_moved_from_host_into_namespace() {
    if !privileged() {
        return;
    }
    let (ns, _guard) = create_ns("mv");
    let tap_name = test_name("mt");
    // Closing this fd removes the TAP wherever it is, so a failure below leaks nothing.
    let tap: OwnedFd = open_tap(&tap_name).expect("open TAP in the host").into();

    let mut host = Netlink::new().expect("host netlink");
    let idx = host.link_index(&tap_name).expect("TAP index in the host");
    host.move_to_netns(idx, ns.as_fd()).expect("move TAP");
    assert!(!host.link_exists(&tap_name).expect("link_exists"));

    let mut inside = ns
        .run_in(|| Netlink::new().expect("namespace netlink"))
        .expect("run_in");
    assert!(inside.link_exists(&tap_name).expect("link_exists"));
    let shown = ip(&["-n", ns.name(), "-j", "link", "show", "dev", &tap_name]);
    assert!(
        shown.contains(&format!("\"ifname\":\"{tap_name}\"")),
        "{shown}"
    );

    // The device goes away when the last reference to the open file does. That is usually
    // at close(), but a child that another test thread is forking (to run `ip`) holds a copy
    // of every fd until it execs, so allow a moment.
    drop(tap);
    let deadline = Instant::now() + Duration::from_secs(5);
    while inside.link_exists(&tap_name).expect("link_exists") {
        assert!(
            Instant::now() < deadline,
            "closing the fd didn't remove the TAP"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A broadcast ARP-typed frame to write into a TAP port.
fn port_frame(pool: &nfv_dataplane::PacketPool) -> nfv_dataplane::Batch {
    let mut b = nfv_dataplane::Batch::new();
    let mut p = pool.alloc().expect("buffer");
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    f.resize(60, 0);
    assert!(p.extend_from_slice(&f));
    assert!(b.push(p).is_ok());
    b
}

/// Issue 15 defect 3: a TAP port whose interface is set down counts its tx as `port_down`
/// and comes back when the link does; once the interface is deleted the port is gone —
/// `PortError::Lost` once, then no syscall and every frame a `port_down` drop.
#[test]
fn tap_port_reports_a_down_link_and_a_lost_device() {
    use nfv_dataplane::port::{TapDevice, TapPort};
    use nfv_dataplane::{DropReason, LinkState, Port, PortError};
    if !privileged() {
        return;
    }
    let (ns, guard) = create_ns("pl");
    let name = guard.0.clone();
    let dev = ns
        .run_in(|| TapDevice::create(TAP).expect("TAP"))
        .expect("run_in");
    let mut port = TapPort::new(dev, 1500);
    let pool = nfv_dataplane::PacketPool::new(8, 2048);
    ip(&["-n", &name, "link", "set", TAP, "up"]);
    port.tx_burst(&mut port_frame(&pool));
    assert_eq!(port.stats().tx_packets, 1);
    assert_eq!(port.stats().link, LinkState::Up);

    ip(&["-n", &name, "link", "set", TAP, "down"]);
    port.tx_burst(&mut port_frame(&pool));
    let s = port.stats();
    assert_eq!(
        (s.link, s.drops.get(DropReason::PortDown), s.tx_errors),
        (LinkState::Down, 1, 0)
    );
    ip(&["-n", &name, "link", "set", TAP, "up"]);
    port.tx_burst(&mut port_frame(&pool));
    assert_eq!(port.stats().link, LinkState::Up, "back with the link");
    assert_eq!(port.stats().tx_packets, 2);

    ip(&["-n", &name, "link", "del", TAP]);
    let mut b = nfv_dataplane::Batch::new();
    match port.rx_burst(&pool, &mut b) {
        Err(PortError::Lost { port: p, source }) => {
            assert_eq!(p, TAP);
            assert_eq!(source.raw_os_error(), Some(libc::EBADFD));
        }
        other => panic!("expected Lost, got {other:?}"),
    }
    assert!(
        matches!(port.rx_burst(&pool, &mut b), Ok(0)),
        "reported once"
    );
    assert_eq!(
        port.stats().rx_errors,
        0,
        "a lost device is not a read error"
    );
    port.tx_burst(&mut port_frame(&pool));
    let s = port.stats();
    assert_eq!(
        (s.link, s.drops.get(DropReason::PortDown), s.tx_packets),
        (LinkState::Gone, 2, 2)
    );
    assert_eq!(pool.available(), 8);
}

/// Issue 15 defect 7: frames the namespace sends while nobody reads the TAP are dropped by
/// the kernel (the TAP queue holds `txqueuelen` frames); the port reports them as kernel rx
/// drops, read from the interface's counters at report time.
#[test]
fn tap_port_reports_the_kernels_drops() {
    use nfv_dataplane::Port;
    use nfv_dataplane::port::{TapDevice, TapPort};
    if !privileged() {
        return;
    }
    let (ns, guard) = create_ns("kd");
    let name = guard.0.clone();
    let dev = ns
        .run_in(|| TapDevice::create_with_offload(TAP).expect("TAP"))
        .expect("run_in");
    let port = TapPort::new(dev, 1500);
    ip(&["-n", &name, "link", "set", TAP, "txqueuelen", "100", "up"]);
    let k = port
        .kernel_drops()
        .expect("a namespace TAP reports kernel drops");
    assert_eq!((k.rx, k.tx), (0, 0));
    let send = format!(
        "import socket\n\
         s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
         s.bind(('{TAP}', 0))\n\
         f = b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x01\\x88\\xb5' + bytes(46)\n\
         for _ in range(1000): s.send(f)\n"
    );
    ip(&["netns", "exec", &name, "python3", "-c", &send]);
    let k = port.kernel_drops().expect("kernel drops");
    // 1000 sent, at most 100 queued: the rest dropped in the kernel, nfv never saw them.
    assert!(k.rx >= 800, "{k:?}");
    assert_eq!(k.tx, 0);
}
