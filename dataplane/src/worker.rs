//! The worker loop: poll every port, run the graph, run timers, sleep when idle.
//!
//! Polling is adaptive: while packets flow the worker goes round without sleeping; once no
//! packet has arrived for [`SPIN_BEFORE_SLEEP`] it sleeps in `epoll_wait` on every port's rx
//! fd plus a shutdown doorbell, until traffic arrives or the next element timer is due. An
//! idle topology therefore costs (almost) no CPU — on a 2-core machine a spinning worker
//! would steal the core the namespaces' kernel work runs on — while a request/response
//! exchange (ping) usually finds the worker still spinning when the reply comes back:
//! waking a sleeping worker costs ~100 µs on this kind of nested VM.
//!
//! # Statistics and snapshots
//! The worker counts its own rounds, busy rounds, packets, rx batches and busy time in a
//! plain [`WorkerStats`] it alone writes. Another thread gets an exact [`Snapshot`] (every
//! graph counter plus these) through a [`Controller`]: it queues a request on an mpsc
//! channel and rings the [`Shutdown`] doorbell (which also wakes a sleeping worker); the
//! worker checks the channel with one `try_recv` at the end of each round — never per packet
//! — and answers from its own thread, so the packet path takes no lock and shares no
//! counter cache line.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::graph::{ElementTables, Graph, GraphReport};
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
    /// Shutdowns of the workers started under this one ([`Shutdown::child`]): triggering
    /// this one triggers them.
    children: std::sync::Mutex<Vec<Arc<Shutdown>>>,
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
            children: std::sync::Mutex::new(Vec::new()),
        }))
    }

    /// A shutdown for one worker (its own doorbell, so a controller wakes only that worker)
    /// that is triggered with this one. Already triggered if this one is.
    ///
    /// # Errors
    /// If an eventfd cannot be created.
    pub fn child(&self) -> io::Result<Arc<Shutdown>> {
        let c = Shutdown::new()?;
        self.children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::clone(&c));
        if self.is_triggered() {
            c.trigger();
        }
        Ok(c)
    }

    /// Ask the worker to stop; it finishes its current round first.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::Release);
        self.bell.signal();
        // Not from a signal handler: nfv's signal thread is an ordinary thread.
        for c in self
            .children
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            c.trigger();
        }
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Wake a sleeping worker without stopping it (it runs one round, answering any
    /// [`Request`] waiting, and sleeps again).
    pub fn wake(&self) {
        self.bell.signal();
    }
}

/// Counters a worker keeps about its own loop. Only the worker writes them (plain integers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Rounds of the loop (one `Graph::poll` each), busy or not.
    pub rounds: u64,
    /// Rounds in which at least one packet was received.
    pub busy_rounds: u64,
    /// Packets received from all ports.
    pub rx_packets: u64,
    /// Non-empty rx bursts (one per port per round that had packets);
    /// `rx_packets / rx_batches` is the average batch size (VPP's vectors per call).
    pub rx_batches: u64,
    /// Sum of the durations of busy rounds, in nanoseconds (a round lasts from its clock
    /// read to the next round's).
    pub busy_nanos: u64,
    /// Early wake-ups planned for a predicted burst ([`crate::wake`]).
    pub wake_plans: u64,
    /// Planned wake-ups whose poll window saw the burst arrive.
    pub wake_hits: u64,
}

impl WorkerStats {
    /// [`WorkerStats::busy_nanos`] as a `Duration`.
    pub fn busy_time(&self) -> Duration {
        Duration::from_nanos(self.busy_nanos)
    }
}

/// Everything a worker counts, taken at the end of one round.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every port and element counter of the worker's graph.
    pub graph: GraphReport,
    /// The worker's own counters.
    pub worker: WorkerStats,
}

/// A request to the worker, sent by a [`Controller`]: a [`Snapshot`], or element tables.
#[derive(Debug)]
pub struct Request(RequestKind);

#[derive(Debug)]
enum RequestKind {
    Snapshot(Sender<Snapshot>),
    Tables {
        node: Option<String>,
        reply: Sender<Vec<ElementTables>>,
    },
    /// Arm a packet trace (`count` 0: only read the log); answered with the log.
    Trace {
        arm: Option<(crate::trace::Filter, u32)>,
        reply: Sender<crate::trace::TraceLog>,
    },
    Capture {
        port: String,
        tap: crate::capture::CaptureTap,
        reply: Sender<bool>,
    },
}

/// Why [`Controller::snapshot`] got no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    /// The worker has stopped (or was never started with this channel).
    #[error("the worker is not running")]
    Stopped,
    /// The worker did not answer in time.
    #[error("the worker did not answer within {0:?}")]
    Timeout(Duration),
}

/// The asking side of a worker's control channel. Cheap to clone; usable from any thread.
#[derive(Clone, Debug)]
pub struct Controller {
    tx: Sender<Request>,
    bell: Arc<Shutdown>,
}

/// A control channel for one worker: give the receiver to [`run`], keep the controller.
/// `bell` must be the `Shutdown` the worker runs with (its doorbell wakes the worker).
pub fn control(bell: Arc<Shutdown>) -> (Controller, Receiver<Request>) {
    let (tx, rx) = mpsc::channel();
    (Controller { tx, bell }, rx)
}

impl Controller {
    /// Ask the worker for a snapshot and wait up to `timeout` for it.
    ///
    /// # Errors
    /// [`SnapshotError::Stopped`] if the worker is gone, [`SnapshotError::Timeout`] if it did
    /// not answer in time.
    pub fn snapshot(&self, timeout: Duration) -> Result<Snapshot, SnapshotError> {
        let (reply, answer) = mpsc::channel();
        self.ask(Request(RequestKind::Snapshot(reply)), &answer, timeout)
    }

    /// Ask the worker for the tables of every element (or only of the element called
    /// `node`; empty if there is none) and wait up to `timeout` for them. The worker builds
    /// them at the end of a round, like a snapshot.
    ///
    /// # Errors
    /// As [`Controller::snapshot`].
    pub fn tables(
        &self,
        node: Option<String>,
        timeout: Duration,
    ) -> Result<Vec<ElementTables>, SnapshotError> {
        let (reply, answer) = mpsc::channel();
        self.ask(
            Request(RequestKind::Tables { node, reply }),
            &answer,
            timeout,
        )
    }

    /// Arm a packet capture on the port named `port` (replacing any capture there); false
    /// if there is no such port. The worker arms it at the end of a round; dropping the
    /// tap's receiver disarms it (see [`crate::capture`]).
    ///
    /// # Errors
    /// As [`Controller::snapshot`].
    pub fn capture(
        &self,
        port: String,
        tap: crate::capture::CaptureTap,
        timeout: Duration,
    ) -> Result<bool, SnapshotError> {
        let (reply, answer) = mpsc::channel();
        self.ask(
            Request(RequestKind::Capture { port, tap, reply }),
            &answer,
            timeout,
        )
    }

    /// Arm a packet trace of the next `count` received packets matching `filter`
    /// ([`crate::trace`]), forgetting the previous one; `None` only reads the trace so far.
    /// Answered at the end of a round with the log.
    ///
    /// # Errors
    /// As [`Controller::snapshot`].
    pub fn trace(
        &self,
        arm: Option<(crate::trace::Filter, u32)>,
        timeout: Duration,
    ) -> Result<crate::trace::TraceLog, SnapshotError> {
        let (reply, answer) = mpsc::channel();
        self.ask(Request(RequestKind::Trace { arm, reply }), &answer, timeout)
    }

    fn ask<T>(
        &self,
        req: Request,
        answer: &Receiver<T>,
        timeout: Duration,
    ) -> Result<T, SnapshotError> {
        self.send(req)?;
        recv(answer, timeout)
    }

    fn send(&self, req: Request) -> Result<(), SnapshotError> {
        self.tx.send(req).map_err(|_| SnapshotError::Stopped)?;
        self.bell.wake();
        Ok(())
    }
}

/// The controllers of every worker of a pipeline, asked together: snapshots per worker,
/// tables and traces merged, a capture sent to the worker that owns the port.
#[derive(Clone, Debug)]
pub struct Controllers {
    ctls: Vec<Controller>,
    /// Port name → worker.
    port_worker: std::collections::HashMap<String, usize>,
}

impl Controllers {
    /// `ctls[i]` controls worker `i`; `ports` maps each port name to its worker.
    pub fn new(
        ctls: Vec<Controller>,
        ports: impl IntoIterator<Item = (String, usize)>,
    ) -> Controllers {
        Controllers {
            ctls,
            port_worker: ports.into_iter().collect(),
        }
    }

    /// One controller, every port on it (a single-worker data plane).
    pub fn single(ctl: Controller) -> Controllers {
        Controllers {
            ctls: vec![ctl],
            port_worker: std::collections::HashMap::new(),
        }
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.ctls.len()
    }

    /// True when there are no workers.
    pub fn is_empty(&self) -> bool {
        self.ctls.is_empty()
    }

    /// A snapshot of every worker (index = worker number). All requests are sent first, so
    /// the snapshots are taken at about the same time.
    ///
    /// # Errors
    /// The first worker's error (stopped, or no answer within `timeout`).
    pub fn snapshots(&self, timeout: Duration) -> Result<Vec<Snapshot>, SnapshotError> {
        let answers: Vec<_> = self
            .ctls
            .iter()
            .map(|c| {
                let (reply, answer) = mpsc::channel();
                c.send(Request(RequestKind::Snapshot(reply)))
                    .map(|()| answer)
            })
            .collect();
        answers
            .into_iter()
            .map(|a| a.and_then(|a| recv(&a, timeout)))
            .collect()
    }

    /// Tables of every element of every worker (or of the one called `node`).
    ///
    /// # Errors
    /// As [`Controllers::snapshots`].
    pub fn tables(
        &self,
        node: Option<String>,
        timeout: Duration,
    ) -> Result<Vec<ElementTables>, SnapshotError> {
        let mut all = Vec::new();
        for c in &self.ctls {
            all.extend(c.tables(node.clone(), timeout)?);
        }
        Ok(all)
    }

    /// Arm a capture on the worker that owns `port` (false if no worker has it).
    ///
    /// # Errors
    /// As [`Controllers::snapshots`].
    pub fn capture(
        &self,
        port: String,
        tap: crate::capture::CaptureTap,
        timeout: Duration,
    ) -> Result<bool, SnapshotError> {
        let w = match (self.ctls.len(), self.port_worker.get(&port)) {
            (1, _) => 0,
            (_, Some(&w)) => w,
            (_, None) => return Ok(false),
        };
        match self.ctls.get(w) {
            Some(c) => c.capture(port, tap, timeout),
            None => Ok(false),
        }
    }

    /// Arm (or read) a trace on every worker and merge the logs: packets of worker 0 first,
    /// ids renumbered. A packet that crosses a ring to another worker is traced there anew
    /// from the ring (each worker's tracer numbers its own packets); `remaining` is the
    /// smallest of the workers', so the trace is complete once one worker has its count and
    /// every traced packet has finished.
    ///
    /// # Errors
    /// As [`Controllers::snapshots`].
    pub fn trace(
        &self,
        arm: Option<(crate::trace::Filter, u32)>,
        timeout: Duration,
    ) -> Result<crate::trace::TraceLog, SnapshotError> {
        let mut merged = crate::trace::TraceLog::default();
        let mut remaining = u32::MAX;
        for c in &self.ctls {
            let log = c.trace(arm.clone(), timeout)?;
            let base = merged.packets.len() as u16;
            merged.filter = log.filter;
            remaining = remaining.min(log.remaining);
            for mut p in log.packets {
                p.id += base;
                if let Some((_, parent)) = &mut p.generated_by {
                    *parent += base;
                }
                merged.packets.push(p);
            }
        }
        merged.remaining = if self.ctls.is_empty() { 0 } else { remaining };
        Ok(merged)
    }
}

fn recv<T>(answer: &Receiver<T>, timeout: Duration) -> Result<T, SnapshotError> {
    match answer.recv_timeout(timeout) {
        Ok(s) => Ok(s),
        Err(RecvTimeoutError::Timeout) => Err(SnapshotError::Timeout(timeout)),
        Err(RecvTimeoutError::Disconnected) => Err(SnapshotError::Stopped),
    }
}

/// How the worker waits when no packets come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PollMode {
    /// Poll while packets flow, sleep in epoll [`SPIN_BEFORE_SLEEP`] after the last one: an
    /// idle topology costs no CPU, but the first packet after a pause pays a wake-up (~100 µs
    /// on a nested VM).
    #[default]
    Adaptive,
    /// Never sleep: one core stays at 100 %, and no packet waits for a wake-up. For
    /// latency-critical users (YAML `poll: busy`).
    Busy,
    /// Adaptive with another spin window than [`SPIN_BEFORE_SLEEP`] (YAML `spin:`): longer
    /// keeps sparse traffic (a request every few ms) from paying a wake-up each time, at
    /// the price of up to that long of a core after every packet; an idle topology still
    /// sleeps.
    AdaptiveSpin(Duration),
    /// Adaptive with a spin window and a budget for predicted wake-ups (YAML `spin:` and
    /// `cpu-budget:`): parts per million of a core ([`crate::wake`]; 0 turns prediction
    /// off).
    AdaptiveTuned {
        /// The spin window after the last packet.
        spin: Duration,
        /// The share of a core for polling through predicted arrivals, in ppm.
        wake_budget_ppm: u32,
    },
}

impl PollMode {
    /// Share of a core (parts per million) the worker may spend polling for predicted
    /// bursts ([`crate::wake`]); 0 for busy polling, which never sleeps.
    pub fn wake_budget(self) -> u32 {
        match self {
            PollMode::Adaptive | PollMode::AdaptiveSpin(_) => crate::wake::DEFAULT_BUDGET_PPM,
            PollMode::AdaptiveTuned {
                wake_budget_ppm, ..
            } => wake_budget_ppm,
            PollMode::Busy => 0,
        }
    }

    /// How long the worker polls after the last packet before it sleeps (`None`: never).
    pub fn spin(self) -> Option<Duration> {
        match self {
            PollMode::Adaptive => Some(SPIN_BEFORE_SLEEP),
            PollMode::AdaptiveSpin(d) => Some(d),
            PollMode::AdaptiveTuned { spin, .. } => Some(spin),
            PollMode::Busy => None,
        }
    }
}

/// Run `graph` until `shutdown` is triggered. Port errors are logged (at most one line per
/// port per second, with a count) and never stop the worker. With `control`, snapshot
/// requests are answered at the end of each round (see the module docs). Returns the
/// worker's counters.
///
/// # Errors
/// Only if epoll itself cannot be set up or waited on.
pub fn run(
    graph: &mut Graph,
    shutdown: &Shutdown,
    control: Option<&Receiver<Request>>,
    mode: PollMode,
) -> io::Result<WorkerStats> {
    let epoll = Epoll::new()?;
    let fds = graph.rx_fds();
    for (i, fd) in fds.iter().enumerate() {
        if let Some(fd) = *fd {
            epoll.add(fd, i as u64)?;
        }
    }
    epoll.add(shutdown.bell.as_raw_fd(), SHUTDOWN_TOKEN)?;

    let spin = mode.spin();
    let mut predictor = crate::wake::WakePredictor::new(mode.wake_budget());
    if spin.is_some()
        && let Err(e) = crate::sys::cpu::set_timer_slack(1000)
    {
        tracing::debug!("couldn't set the worker's timer slack: {e}");
    }
    // Poll without sleeping until this instant: `spin` after the last packet, but at most
    // SPIN_BEFORE_SLEEP after a wake-up that brought none (an element timer, a control
    // request), so a long `spin` costs CPU only where packets flow.
    let after_wake = spin.map_or(Duration::ZERO, |d| d.min(SPIN_BEFORE_SLEEP));
    let mut spin_until = Instant::now() + after_wake;
    let mut err_log = vec![(Instant::ZERO, 0u64); graph.port_count()];
    let mut next_timer = graph.run_timers(Instant::now());
    let mut stats = WorkerStats::default();
    // Start of the previous round if it received packets: its duration ends at this round's
    // clock read (a busy round never sleeps, so the next round follows at once).
    let mut busy_since: Option<Instant> = None;
    while !shutdown.is_triggered() {
        let now = Instant::now();
        if let Some(start) = busy_since.take() {
            stats.busy_nanos += nanos(now.saturating_since(start));
        }
        let res = graph.poll(now);
        stats.rounds += 1;
        if res.received > 0 {
            predictor.on_packets(now);
            stats.busy_rounds += 1;
            stats.rx_packets += res.received as u64;
            stats.rx_batches += res.batches as u64;
            busy_since = Some(now);
        }
        for (port, e) in res.errors {
            if let crate::port::PortError::Lost { .. } = e {
                // A dead fd stays "ready" (a deleted TAP polls EPOLLERR): out of the poller,
                // or every sleep would end at once and the worker would spin on it.
                if let Some(Some(fd)) = fds.get(port) {
                    let _ = epoll.delete(*fd);
                }
                tracing::warn!("{}", port_lost_line(graph.port_name(port), &e));
                continue;
            }
            log_port_error(&mut err_log, graph.port_name(port), port, &e, now);
        }
        if next_timer.is_some_and(|t| now >= t) {
            next_timer = graph.run_timers(now);
        }
        if let Some(rx) = control {
            stats.wake_plans = predictor.plans;
            stats.wake_hits = predictor.hits;
            answer(rx, graph, &stats, busy_since);
        }
        if res.received > 0 || graph.has_pending_work() {
            if let Some(d) = spin {
                spin_until = now + d;
            }
            continue;
        }
        if spin.is_none() || now < spin_until {
            std::hint::spin_loop();
            continue;
        }
        let before = Instant::now();
        let plan = predictor.plan(before);
        let mut sleep = next_timer
            .map(|t| t.saturating_since(before))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        if let Some(p) = plan {
            sleep = sleep.min(p.wake_at.saturating_since(before));
        }
        if !graph.prepare_sleep() {
            // A ring from another worker got packets after this round polled it.
            continue;
        }
        let woke = epoll.wait(sleep);
        graph.woke();
        let ready = woke?;
        shutdown.bell.drain();
        let after = Instant::now();
        spin_until = after + after_wake;
        // Woken by the plan's timer, not by a packet: poll through the predicted arrival.
        if let Some(p) = plan
            && ready == 0
            && after >= p.wake_at
        {
            spin_until = spin_until.max(p.poll_until);
        }
    }
    stats.wake_plans = predictor.plans;
    stats.wake_hits = predictor.hits;
    if let Some(start) = busy_since {
        stats.busy_nanos += nanos(Instant::now().saturating_since(start));
    }
    Ok(stats)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Answer every waiting request. One `try_recv` when none is waiting.
#[inline]
fn answer(
    rx: &Receiver<Request>,
    graph: &mut Graph,
    stats: &WorkerStats,
    busy_since: Option<Instant>,
) {
    while let Ok(Request(req)) = rx.try_recv() {
        // The asker may have timed out and gone; nothing to do then.
        match req {
            RequestKind::Snapshot(reply) => {
                let mut worker = *stats;
                if let Some(start) = busy_since {
                    worker.busy_nanos += nanos(Instant::now().saturating_since(start));
                }
                let _ = reply.send(Snapshot {
                    graph: graph.report(),
                    worker,
                });
            }
            RequestKind::Tables { node, reply } => {
                let _ = reply.send(graph.tables(Instant::now(), node.as_deref()));
            }
            RequestKind::Trace { arm, reply } => {
                if let Some((filter, count)) = arm {
                    graph.arm_trace(filter, count);
                }
                let _ = reply.send(graph.trace_log());
            }
            RequestKind::Capture { port, tap, reply } => {
                let _ = reply.send(graph.set_capture(&port, tap));
            }
        }
    }
}

/// The one line logged when port `name` (`node:iface`) loses its device.
fn port_lost_line(name: &str, err: &crate::port::PortError) -> String {
    format!(
        "port {name} lost: {}; it is no longer polled and frames sent to it are dropped as port_down",
        cause(err)
    )
}

/// The line logged for `count` errors of port `name` (`node:iface`) in the last second.
fn port_error_line(name: &str, err: &crate::port::PortError, count: u64) -> String {
    format!(
        "port {name}: {err}: {} ({count} in the last second)",
        cause(err)
    )
}

fn cause(err: &crate::port::PortError) -> String {
    std::error::Error::source(err)
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Log a port error, at most one line per port per second (with the count).
fn log_port_error(
    log: &mut [(Instant, u64)],
    name: &str,
    port: usize,
    err: &crate::port::PortError,
    now: Instant,
) {
    let Some(entry) = log.get_mut(port) else {
        return;
    };
    entry.1 += 1;
    if now.saturating_since(entry.0) >= Duration::from_secs(1) {
        tracing::warn!("{}", port_error_line(name, err, entry.1));
        *entry = (now, 0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::graph::{Endpoint, GraphBuilder};
    use crate::packet::PacketPool;
    use crate::testing::{QueuePort, eth, mac};

    #[test]
    fn port_logs_name_the_node_and_interface() {
        let read = crate::port::PortError::Read {
            port: "eth0".into(),
            source: io::Error::from_raw_os_error(libc::EFAULT),
        };
        let line = port_error_line("h2:eth0", &read, 3);
        assert!(
            line.starts_with("port h2:eth0: couldn't read from eth0: Bad address"),
            "{line}"
        );
        assert!(line.ends_with("(3 in the last second)"), "{line}");
        let lost = crate::port::PortError::Lost {
            port: "eth0".into(),
            source: io::Error::from_raw_os_error(libc::EBADFD),
        };
        let line = port_lost_line("h2:eth0", &lost);
        assert!(
            line.starts_with("port h2:eth0 lost: File descriptor in bad state"),
            "{line}"
        );
    }

    #[test]
    fn poll_modes_have_their_spin_windows() {
        assert_eq!(PollMode::Adaptive.spin(), Some(SPIN_BEFORE_SLEEP));
        assert_eq!(
            PollMode::AdaptiveSpin(Duration::from_millis(10)).spin(),
            Some(Duration::from_millis(10))
        );
        assert_eq!(PollMode::Busy.spin(), None);
    }

    #[test]
    fn snapshots_are_fresh_and_count_rounds_packets_and_batches() {
        let pool = PacketPool::new(64, 256);
        let mut gb = GraphBuilder::new(pool);
        let a = QueuePort::new("a");
        let b = QueuePort::new("b");
        let pa = gb.add_port("h1:eth0", Box::new(a.clone())).unwrap();
        let pb = gb.add_port("h2:eth0", Box::new(b.clone())).unwrap();
        gb.link(Endpoint::Port(pa), Endpoint::Port(pb)).unwrap();
        let mut graph = gb.build();

        // Both ports have frames before the worker starts: its first round reads them all.
        for _ in 0..5 {
            a.push_rx(&eth(mac(2), mac(1), 0x0800, b"x"));
        }
        for _ in 0..3 {
            b.push_rx(&eth(mac(1), mac(2), 0x0800, b"y"));
        }
        let shutdown = Shutdown::new().unwrap();
        let (ctl, rx) = control(Arc::clone(&shutdown));
        let sd = Arc::clone(&shutdown);
        let worker = std::thread::spawn(move || {
            run(&mut graph, &sd, Some(&rx), PollMode::Adaptive).unwrap()
        });

        let s = ctl.snapshot(Duration::from_secs(5)).unwrap();
        assert_eq!(s.worker.rx_packets, 8);
        assert_eq!(s.worker.rx_batches, 2, "one burst per port");
        assert_eq!(s.worker.busy_rounds, 1);
        assert!(s.worker.rounds >= 1);
        assert!(s.worker.busy_nanos > 0);
        assert_eq!(s.graph.ports[0].stats.rx_packets, 5);
        assert_eq!(s.graph.ports[0].stats.tx_packets, 3);
        assert_eq!(s.graph.ports[1].stats.tx_packets, 5);
        assert_eq!(b.take_tx().len(), 5);

        // Frames pushed later are in a later snapshot (the request wakes a sleeping worker;
        // a spinning one may read them in several rounds, and may answer from a round whose
        // poll ran just before the push).
        for _ in 0..4 {
            a.push_rx(&eth(mac(2), mac(1), 0x0800, b"z"));
        }
        let mut t = ctl.snapshot(Duration::from_secs(5)).unwrap();
        for _ in 0..100 {
            if t.worker.rx_packets == 12 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            t = ctl.snapshot(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(t.worker.rx_packets, 12);
        assert_eq!(t.graph.ports[0].stats.rx_packets, 9);
        assert!((3..=6).contains(&t.worker.rx_batches), "{:?}", t.worker);
        assert!(t.worker.busy_rounds >= 2 && t.worker.busy_rounds <= t.worker.rx_batches);
        assert!(t.worker.rounds > s.worker.rounds);
        assert!(t.worker.busy_nanos >= s.worker.busy_nanos);

        shutdown.trigger();
        let last = worker.join().unwrap();
        assert_eq!(last.rx_packets, 12);
        assert!(last.busy_nanos >= t.worker.busy_nanos);
        assert_eq!(
            ctl.snapshot(Duration::from_millis(100)).unwrap_err(),
            SnapshotError::Stopped
        );
    }
}
