//! `udpflood DST_IP DST_PORT SECONDS [PAYLOAD_BYTES]`: send minimum-size UDP datagrams as
//! fast as one thread can, 64 per `sendmmsg(2)`, then print how many were sent.
//!
//! `bench/compare.sh` runs it in a namespace to measure small-frame forwarding: iperf3's UDP
//! mode makes one `send` per datagram and runs out of sender before a forwarder does on
//! this 2-vCPU machine. The receiver side is counted by the kernel (`Udp: NoPorts` in the
//! destination namespace: nothing listens on the port).

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const BATCH: usize = 64;

fn usage() -> ! {
    eprintln!(
        "usage: udpflood DST_IP DST_PORT SECONDS [PAYLOAD_BYTES (default 18: 64-byte frames)]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        usage();
    }
    let ip: Ipv4Addr = args[0].parse().unwrap_or_else(|_| usage());
    let port: u16 = args[1].parse().unwrap_or_else(|_| usage());
    let secs: f64 = args[2].parse().unwrap_or_else(|_| usage());
    let payload: usize = args
        .get(3)
        .map_or(18, |s| s.parse().unwrap_or_else(|_| usage()));

    let sock = UdpSocket::bind("0.0.0.0:0").unwrap_or_else(|e| {
        eprintln!("udpflood: bind: {e}");
        std::process::exit(1)
    });
    if let Err(e) = sock.connect(SocketAddrV4::new(ip, port)) {
        eprintln!("udpflood: connect {ip}:{port}: {e}");
        std::process::exit(1);
    }
    let buf = vec![0x5au8; payload];
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: buf.as_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    let fd = sock.as_raw_fd();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut sent: u64 = 0;
    let mut errors: u64 = 0;
    while Instant::now() < end {
        // SAFETY: `msgs` holds BATCH headers whose iovecs point into `buf`, all alive for
        // the call; the socket is connected, so no addresses are needed.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), BATCH as libc::c_uint, 0) };
        if n < 0 {
            // ENOBUFS/ECONNREFUSED (an ICMP port unreachable came back): keep sending.
            errors += 1;
            continue;
        }
        sent += n as u64;
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} datagrams in {took:.2} s = {:.3} Mpps ({errors} failed calls)",
        sent as f64 / took / 1e6
    );
}
