//! Starting the worker threads of a [`Pipeline`] (one per graph, each pinned to a CPU) and
//! collecting them again.

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context as _, Result, anyhow};
use nfv_dataplane::Graph;
use nfv_dataplane::graph::GraphReport;
use nfv_dataplane::pipeline::Pipeline;
use nfv_dataplane::sys::cpu;
use nfv_dataplane::worker::{self, Controllers, PollMode, Shutdown, WorkerStats};

type Joined = (Graph, std::io::Result<WorkerStats>);

/// Worker threads that are running.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<JoinHandle<Joined>>,
}

/// What the workers left when they stopped.
#[derive(Debug)]
pub struct Stopped {
    /// The graphs (index = worker); drop them before removing devices.
    pub graphs: Vec<Graph>,
    /// Every counter, all workers merged.
    pub report: GraphReport,
    /// Packet accounting problems over all workers and rings (empty when all balances).
    pub conservation: Vec<String>,
}

/// Start one thread per graph of `pipeline`, each with its own shutdown (a child of
/// `shutdown`) and control channel, pinned to a CPU when the machine allows (see
/// [`cpu::cpu_for_worker`]). Returns the threads and the controllers to ask them.
///
/// # Errors
/// If an eventfd or a thread cannot be created (the threads already started are stopped).
pub fn start(
    pipeline: Pipeline,
    shutdown: &Arc<Shutdown>,
    mode: PollMode,
) -> Result<(Workers, Controllers)> {
    let n = pipeline.graphs.len();
    let allowed = cpu::allowed_cpus().unwrap_or_default();
    let ports: Vec<(String, usize)> = pipeline
        .placement
        .iter()
        .filter(|p| p.is_port)
        .map(|p| (p.name.clone(), p.worker))
        .collect();
    // Every eventfd first, so a failure here leaves no thread running.
    let shutdowns = (0..n)
        .map(|_| shutdown.child())
        .collect::<std::io::Result<Vec<_>>>()
        .context("couldn't create a worker's eventfd")?;
    let mut handles = Vec::with_capacity(n);
    let mut ctls = Vec::with_capacity(n);
    for (i, (mut graph, sd)) in pipeline.graphs.into_iter().zip(shutdowns).enumerate() {
        let (ctl, requests) = worker::control(Arc::clone(&sd));
        let pin = cpu::cpu_for_worker(i, n, &allowed);
        let spawned = std::thread::Builder::new()
            .name(format!("nfv-worker-{i}"))
            .spawn(move || {
                if let Some(c) = pin {
                    match cpu::pin_current_thread(c) {
                        Ok(()) => tracing::debug!("worker {i} pinned to CPU {c}"),
                        Err(e) => tracing::warn!("worker {i}: couldn't pin to CPU {c}: {e}"),
                    }
                }
                let res = worker::run(&mut graph, &sd, Some(&requests), mode);
                (graph, res)
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                shutdown.trigger();
                for h in handles {
                    let _ = h.join();
                }
                return Err(anyhow!(e).context("couldn't start a worker thread"));
            }
        }
        ctls.push(ctl);
    }
    Ok((Workers { handles }, Controllers::new(ctls, ports)))
}

impl Workers {
    /// Wait for every worker (after the shutdown was triggered) and gather their counters.
    ///
    /// # Errors
    /// A worker that panicked or whose loop failed (after all of them have stopped).
    pub fn join(self) -> Result<Stopped> {
        let mut graphs = Vec::with_capacity(self.handles.len());
        let mut first_err = None;
        for (i, h) in self.handles.into_iter().enumerate() {
            match h.join() {
                Ok((g, res)) => {
                    if let Err(e) = res {
                        first_err.get_or_insert(anyhow!(e).context(format!("worker {i} failed")));
                    }
                    graphs.push(g);
                }
                Err(_) => {
                    first_err.get_or_insert(anyhow!("worker {i} panicked"));
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        let report = GraphReport::merge(graphs.iter().map(Graph::report));
        let conservation = Pipeline::conservation_errors(&graphs);
        Ok(Stopped {
            graphs,
            report,
            conservation,
        })
    }
}
