//! The worker loop: poll every port, run the graph, run timers, sleep when idle.
//!
//! Polling is adaptive: while packets flow the worker goes round without sleeping; once no
//! packet has arrived for [`SPIN_BEFORE_SLEEP`] it sleeps in `epoll_wait` on every port's rx
//! fd plus a shutdown doorbell, until traffic arrives or the next element timer is due. An
//! idle topology therefore costs (almost) no CPU — on a 2-core machine a spinning worker
//! would steal the core the namespaces' kernel work runs on — while a request/response
//! exchange (ping) usually finds the worker still spinning when the reply comes back:
//! waking a sleeping worker costs ~100 µs on this kind of nested VM.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::graph::Graph;
use crate::sys::poll::{Epoll, EventFd};
use crate::time::Instant;

/// How long the worker keeps polling after the last packet before it sleeps in epoll.
/// Measured with `nfv demo` (UDP echo RTT median, 2-core VM): 16 µs of spinning gave
/// 115 µs, 200 µs gave the numbers in the README.
pub const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(200);

/// Longest sleep when no timer is due (bounds shutdown latency if a doorbell were missed).
pub const MAX_SLEEP: Duration = Duration::from_millis(500);

const SHUTDOWN_TOKEN: u64 = u64::MAX;

/// A flag plus doorbell that stops a worker from another thread (or a signal thread).
#[derive(Debug)]
pub struct Shutdown {
    flag: AtomicBool,
    bell: EventFd,
}

impl Shutdown {
    /// A new, untriggered shutdown signal.
    ///
    /// # Errors
    /// If an eventfd cannot be created.
    pub fn new() -> io::Result<Arc<Shutdown>> {
        Ok(Arc::new(Shutdown {
            flag: AtomicBool::new(false),
            bell: EventFd::new()?,
        }))
    }

    /// Ask the worker to stop; it finishes its current round first.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::Release);
        self.bell.signal();
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

/// Run `graph` until `shutdown` is triggered. Port errors are logged (at most one line per
/// port per second, with a count) and never stop the worker.
///
/// # Errors
/// Only if epoll itself cannot be set up or waited on.
pub fn run(graph: &mut Graph, shutdown: &Shutdown) -> io::Result<()> {
    let epoll = Epoll::new()?;
    for (i, fd) in graph.rx_fds().into_iter().enumerate() {
        if let Some(fd) = fd {
            epoll.add(fd, i as u64)?;
        }
    }
    epoll.add(shutdown.bell.as_raw_fd(), SHUTDOWN_TOKEN)?;

    let mut last_busy = Instant::now();
    let mut err_log = vec![(Instant::ZERO, 0u64); graph.port_count()];
    let mut next_timer = graph.run_timers(Instant::now());
    while !shutdown.is_triggered() {
        let now = Instant::now();
        let res = graph.poll(now);
        for (port, e) in res.errors {
            log_port_error(&mut err_log, port, &e, now);
        }
        if next_timer.is_some_and(|t| now >= t) {
            next_timer = graph.run_timers(now);
        }
        if res.received > 0 || graph.has_pending_work() {
            last_busy = now;
            continue;
        }
        if now.saturating_since(last_busy) < SPIN_BEFORE_SLEEP {
            std::hint::spin_loop();
            continue;
        }
        let sleep = next_timer
            .map(|t| t.saturating_since(Instant::now()))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        epoll.wait(sleep)?;
        shutdown.bell.drain();
        last_busy = Instant::now();
    }
    Ok(())
}

fn log_port_error(
    log: &mut [(Instant, u64)],
    port: usize,
    err: &crate::port::PortError,
    now: Instant,
) {
    let Some(entry) = log.get_mut(port) else {
        return;
    };
    entry.1 += 1;
    if now.saturating_since(entry.0) >= Duration::from_secs(1) {
        tracing::warn!(
            error = %err,
            cause = %std::error::Error::source(err).map(|s| s.to_string()).unwrap_or_default(),
            count = entry.1,
            "port error"
        );
        *entry = (now, 0);
    }
}
