//! `nfv demo`: a built-in topology with real traffic, needing nothing but nfv itself.
//!
//! Two namespace hosts on a learning switch. Kernel sockets opened inside the namespaces
//! (no ping, no iperf3) exchange UDP echoes and a TCP bulk transfer through nfv; then the
//! results and nfv's counters are printed and everything is removed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use nfv_dataplane::sys::netns::NetNs;
use nfv_dataplane::worker::{self, Shutdown};

use crate::report;
use nfv_runtime as runtime;

/// The demo topology (documented in the README).
pub const DEMO_TOPOLOGY: &str = "\
name: nfvdemo
nodes:
  h1:  { kind: host, address: 10.200.0.1/24 }
  h2:  { kind: host, address: 10.200.0.2/24 }
  sw1: { kind: switch }
links:
  - endpoints: [h1, sw1:p1]
  - endpoints: [h2, sw1:p2]
";

const UDP_ROUNDS: usize = 1000;
const TCP_SECONDS: f64 = 2.0;

struct Results {
    udp_replies: usize,
    rtt_us: Vec<f64>,
    tcp_bytes: u64,
    tcp_secs: f64,
}

fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> std::io::Result<T> + Send) -> Result<T> {
    let ns = NetNs::open(ns).with_context(|| format!("couldn't open namespace {ns}"))?;
    Ok(ns.run_in(f)??)
}

fn traffic() -> Result<Results> {
    let h1: SocketAddr = "10.200.0.1:0".parse()?;
    let h2_udp: SocketAddr = "10.200.0.2:7".parse()?;
    let h2_tcp: SocketAddr = "10.200.0.2:5001".parse()?;

    // Sockets belong to the namespace they were created in, whichever thread uses them.
    let server = in_ns("nfvdemo-h2", move || UdpSocket::bind(h2_udp))?;
    let client = in_ns("nfvdemo-h1", move || UdpSocket::bind(h1))?;
    let listener = in_ns("nfvdemo-h2", move || TcpListener::bind(h2_tcp))?;

    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    server.set_read_timeout(Some(Duration::from_millis(100)))?;
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok((n, from)) = server.recv_from(&mut buf) {
                let _ = server.send_to(&buf[..n], from);
            }
        }
    });

    client.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut rtt_us = Vec::with_capacity(UDP_ROUNDS);
    let mut buf = [0u8; 64];
    for i in 0..UDP_ROUNDS {
        let msg = (i as u64).to_be_bytes();
        let t = Instant::now();
        client.send_to(&msg, h2_udp)?;
        // Skip stale replies to earlier (timed-out) rounds.
        loop {
            match client.recv_from(&mut buf) {
                Ok((8, _)) if buf[..8] == msg => {
                    rtt_us.push(t.elapsed().as_secs_f64() * 1e6);
                    break;
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();

    let sink = std::thread::spawn(move || -> std::io::Result<(u64, f64)> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        let t = Instant::now();
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        Ok((total, t.elapsed().as_secs_f64()))
    });
    let mut stream = in_ns("nfvdemo-h1", move || {
        TcpStream::connect_timeout(&h2_tcp, Duration::from_secs(5))
    })?;
    let chunk = vec![0x5au8; 128 * 1024];
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < TCP_SECONDS {
        stream.write_all(&chunk)?;
    }
    drop(stream);
    let (tcp_bytes, tcp_secs) = match sink.join() {
        Ok(r) => r?,
        Err(_) => bail!("TCP receiver thread panicked"),
    };
    Ok(Results {
        udp_replies: rtt_us.len(),
        rtt_us,
        tcp_bytes,
        tcp_secs,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Run the demo. Exit code 1 if traffic did not get through.
pub fn run() -> Result<ExitCode> {
    let topo = nfv_config::load_str("<demo>", DEMO_TOPOLOGY)
        .map_err(|e| anyhow::anyhow!("built-in demo topology is invalid: {e}"))?
        .topology;
    runtime::require_privileges()?;
    let _lock = match runtime::instance::lock(&topo.name)? {
        Ok(l) => l,
        Err(held) => bail!("{held}: one demo at a time"),
    };
    let clashes = runtime::preflight(&topo)?;
    if !clashes.is_empty() {
        for c in clashes {
            eprintln!("error: {c}");
        }
        bail!("a previous demo left namespaces behind; nothing was created");
    }
    println!("nfv demo: two namespace hosts on a learning switch\n");
    println!("{}", DEMO_TOPOLOGY.trim_end());
    println!();
    let shutdown = Shutdown::new()?;
    let net = runtime::bring_up(&topo, &|| false)?;
    let runtime::Network {
        pipeline,
        resources,
        summary,
    } = net;
    for l in &summary {
        println!("created {l}");
    }
    let (running, _ctl) =
        nfv_runtime::workers::start(pipeline, &shutdown, worker::PollMode::Adaptive)?;

    let results = traffic();
    shutdown.trigger();
    let stopped = running.join()?;
    let (report, conservation) = (stopped.report, stopped.conservation);
    drop(stopped.graphs);
    drop(resources);
    let r = results?;

    let mut rtt = r.rtt_us.clone();
    rtt.sort_by(f64::total_cmp);
    println!();
    println!(
        "UDP echo h1 -> h2 -> h1: {}/{} replies, RTT median {:.0} us, p99 {:.0} us",
        r.udp_replies,
        UDP_ROUNDS,
        percentile(&rtt, 0.5),
        percentile(&rtt, 0.99)
    );
    let gbps = r.tcp_bytes as f64 * 8.0 / r.tcp_secs / 1e9;
    println!(
        "TCP h1 -> h2: {:.1} MB in {:.2} s = {:.2} Gbit/s",
        r.tcp_bytes as f64 / 1e6,
        r.tcp_secs,
        gbps
    );
    println!("\ncounters:");
    print!("{}", report::format(&report));
    if conservation.is_empty() {
        println!("packet accounting: every packet forwarded or dropped with a reason");
    } else {
        for e in &conservation {
            println!("packet accounting ERROR: {e}");
        }
    }
    println!("removed namespaces nfvdemo-h1, nfvdemo-h2");
    if r.udp_replies == 0 || r.tcp_bytes == 0 || !conservation.is_empty() {
        println!("demo FAILED: traffic did not get through");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
