//! `nfv`: the command line. `run` and `check` a topology, `clean` after a crash, `demo`.

mod api;
mod check_cmd;
mod cli_extras;
mod client;
mod daemon;
mod demo;
mod graph_cmd;
mod http;
mod output;
mod report;
mod server;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::{CommandFactory as _, Parser, Subcommand};
use nfv_dataplane::worker::{self, Shutdown};
use nfv_runtime::{self as runtime, instance, workers};

/// A network-function-virtualization data plane: switches, routers, NAT and firewalls wired
/// to namespaces, VMs and host interfaces from one YAML topology file.
#[derive(Debug, Parser)]
#[command(name = "nfv", version, long_about = None)]
struct Cli {
    /// More logging (-v debug, -vv trace). `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring a topology up and forward until Ctrl-C / SIGTERM, then remove everything and
    /// print the counters.
    Run {
        /// Topology file (YAML).
        file: PathBuf,
    },
    /// Start a topology in the background: returns once it forwards (exit 0), or prints
    /// its start-up error and exits 1 (what it made already removed). Logs go to
    /// /run/nfv/NAME.log.
    Up {
        /// Topology file (YAML).
        file: PathBuf,
    },
    /// Stop a running topology and wait until everything it made is removed.
    Down {
        /// The topology's name.
        name: String,
        /// Seconds to wait for the cleanup.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Validate a topology file without touching the system. Exit 1 on any problem.
    Check {
        /// Topology file (YAML).
        file: PathBuf,
        #[command(flatten)]
        out: output::JsonArg,
    },
    /// Remove what a crashed run of a topology left behind: only namespaces and devices that
    /// carry its `nfv:<topology>` marker; refuses a running topology.
    Clean {
        /// Topology file (YAML).
        file: PathBuf,
    },
    /// Run a built-in topology (two namespace hosts on a switch), send real traffic between
    /// them, print what happened and the counters, and clean up.
    Demo,
    /// Show a table of a running nfv (over its admin API): fdb, arp, routes, nat, flows or
    /// rules, of every node that has it or of NODE.
    Show(client::ShowArgs),
    /// Live rates of a running nfv (over its admin API): per port rx/tx pps and bps and
    /// drops/s, per function in pps and drops/s.
    Stats(client::StatsArgs),
    /// Trace the next packets matching a filter through a running nfv (over its admin
    /// API): every node each crossed and what it did, VPP `show trace` style
    /// (docs/trace.md).
    Trace(client::TraceArgs),
    /// Capture the frames crossing a port of a running nfv (over its admin API) into a pcap
    /// file, until COUNT frames or S seconds (docs/capture.md).
    Capture(client::CaptureArgs),
    /// Draw a topology as a Graphviz graph: DOT on stdout, or `-o x.dot`, `-o x.svg`/`.png`
    /// (rendered by Graphviz's `dot`). Validates first, like `check`.
    Graph {
        /// Topology file (YAML).
        file: PathBuf,
        /// Output file: `.dot`/`.gv` for DOT text, `.svg`/`.png`/`.pdf` to render with `dot`.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// List the running topologies (from their control sockets in /run/nfv): name, pid,
    /// uptime, file, ports, rx/tx pps, drops.
    Ps(client::PsArgs),
    /// Show what a running topology made: nodes, namespaces, interfaces (index, MAC,
    /// address), workers and links.
    Inspect(client::InspectArgs),
    /// Print a shell completion script: `nfv completion bash > /etc/bash_completion.d/nfv`.
    Completion(cli_extras::CompletionArgs),
    /// Print the man page (`nfv man | man -l -`), or write every page with `--dir`.
    Man(cli_extras::ManArgs),
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match verbose {
        0 if quiet => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own story on stdout; its info logs would repeat it.
    init_logging(cli.verbose, matches!(cli.command, Command::Demo));
    let res = match &cli.command {
        Command::Check { file, out } if out.json => check_cmd::check_json_cmd(file),
        Command::Check { file, .. } => return check(file),
        Command::Run { file } => run(file),
        Command::Clean { file } => clean(file),
        Command::Demo => demo::run(),
        Command::Show(args) => client::show(args),
        Command::Stats(args) => client::stats(args),
        Command::Trace(args) => client::trace(args),
        Command::Capture(args) => client::capture(args),
        Command::Graph { file, output } => graph_cmd::run(file, output.as_deref()),
        Command::Up { file } => up(file, cli.verbose),
        Command::Down { name, timeout } => {
            daemon::down(name, std::time::Duration::from_secs(*timeout))
        }
        Command::Ps(args) => client::ps(args),
        Command::Inspect(args) => client::inspect(args),
        Command::Completion(args) => cli_extras::completion(args, Cli::command()),
        Command::Man(args) => cli_extras::man(args, Cli::command()),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nfv: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Load and validate, printing every problem. `None` when there were errors.
fn load(file: &Path) -> Option<nfv_config::Topology> {
    match nfv_config::load_file(file) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                check_cmd::print_problem(check_cmd::Severity::Warning, w);
            }
            Some(loaded.topology)
        }
        Err(e) => {
            for p in &e.problems {
                check_cmd::print_problem(check_cmd::Severity::Error, p);
            }
            eprintln!(
                "{}: {} problem{} found",
                file.display(),
                e.problems.len(),
                if e.problems.len() == 1 { "" } else { "s" }
            );
            None
        }
    }
}

fn up(file: &Path, verbose: u8) -> Result<ExitCode> {
    let Some(topo) = load(file) else {
        return Ok(ExitCode::FAILURE);
    };
    daemon::up(file, &topo.name, verbose)
}

fn check(file: &Path) -> ExitCode {
    match load(file) {
        Some(t) => {
            println!(
                "{}: ok: topology {:?}, {} nodes, {} links",
                file.display(),
                t.name,
                t.nodes.len(),
                t.links.len()
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

/// The topology's lock, or `None` having said who holds it and what to do.
fn lock_or_say(topo: &nfv_config::Topology, what: &str) -> Result<Option<instance::Lock>> {
    runtime::require_privileges()?;
    match instance::lock(&topo.name)? {
        Ok(lock) => Ok(Some(lock)),
        Err(held) => {
            let stop = match held.pid {
                Some(pid) => format!("`kill {pid}` stops it"),
                None => "stop it first".to_string(),
            };
            eprintln!("error: {held}: {what}; {stop}");
            Ok(None)
        }
    }
}

fn clean(file: &Path) -> Result<ExitCode> {
    let Some(topo) = load(file) else {
        return Ok(ExitCode::FAILURE);
    };
    // Held while cleaning: no `nfv run` of this topology can start meanwhile.
    let Some(_lock) = lock_or_say(&topo, "`nfv clean` removes only what a stopped run left")?
    else {
        return Ok(ExitCode::FAILURE);
    };
    let cleaned = runtime::clean(&topo)?;
    if cleaned.removed.is_empty() && cleaned.foreign.is_empty() {
        println!("nothing to remove for topology {:?}", topo.name);
    }
    for r in &cleaned.removed {
        println!("removed {r}");
    }
    for f in &cleaned.foreign {
        eprintln!("left alone: {f}");
    }
    if cleaned.foreign.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} object(s) in the way of topology {:?} are not nfv's; nfv never removes them",
            cleaned.foreign.len(),
            topo.name
        );
        Ok(ExitCode::FAILURE)
    }
}

/// SIGINT/SIGTERM trigger `shutdown`; installed before anything is created so a signal
/// during start-up still leads to a full cleanup.
fn install_signals(shutdown: &Arc<Shutdown>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("couldn't install signal handlers")?;
    let sd = Arc::clone(shutdown);
    std::thread::Builder::new()
        .name("nfv-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                tracing::info!("signal {sig}: stopping");
                sd.trigger();
            }
        })
        .context("couldn't start the signal thread")?;
    Ok(())
}

fn run(file: &Path) -> Result<ExitCode> {
    let Some(topo) = load(file) else {
        return Ok(ExitCode::FAILURE);
    };
    // Held until everything this run made is removed (dropped last): the proof, for
    // `nfv ps`, `nfv clean` and a second `nfv run`, that this topology is live.
    let Some(lock) = lock_or_say(&topo, "a topology runs once")? else {
        return Ok(ExitCode::FAILURE);
    };
    let clashes = runtime::preflight(&topo)?;
    if !clashes.is_empty() {
        for c in &clashes {
            eprintln!("error: {c}");
        }
        if clashes.iter().any(|c| c.leftover) {
            eprintln!(
                "nothing was created; `nfv clean {}` removes the leftovers",
                file.display()
            );
        } else {
            eprintln!("nothing was created");
        }
        return Ok(ExitCode::FAILURE);
    }
    // Bound before anything is created: a port in use stops here with nothing to clean up.
    let socket_path = instance::socket_path(&topo.name);
    let control = server::bind_socket(&socket_path)?;
    let metrics_listener = match &topo.metrics {
        Some(m) => Some((server::bind(m.listen)?, m.listen)),
        None => None,
    };
    let shutdown = Shutdown::new().context("couldn't create the shutdown eventfd")?;
    install_signals(&shutdown)?;
    let sd = Arc::clone(&shutdown);
    let net = runtime::bring_up(&topo, &move || sd.is_triggered())?;
    let runtime::Network {
        pipeline,
        resources,
        ..
    } = net;
    let ports = pipeline.placement.iter().filter(|p| p.is_port).count();
    let nworkers = pipeline.graphs.len();
    let poll_mode = match topo.poll {
        nfv_config::PollSpec::Adaptive => match (topo.spin, topo.cpu_budget) {
            (None, None) => worker::PollMode::Adaptive,
            (Some(d), None) => worker::PollMode::AdaptiveSpin(d),
            (spin, Some(b)) => worker::PollMode::AdaptiveTuned {
                spin: spin.unwrap_or(worker::SPIN_BEFORE_SLEEP),
                wake_budget_ppm: b,
            },
        },
        nfv_config::PollSpec::Busy => worker::PollMode::Busy,
    };
    let me = server::instance::Instance::new(&topo, file, &socket_path, &pipeline, &resources);
    // On error `resources` is dropped on the way out, removing everything created.
    let (running, ctl) = workers::start(pipeline, &shutdown, poll_mode)?;
    let (tcp, addr) = metrics_listener.unzip();
    let state = server::State {
        ctl,
        info: server::Info::new(&topo),
        instance: me,
    };
    if let Err(e) = server::spawn(control, tcp, state) {
        shutdown.trigger();
        let _ = running.join();
        return Err(e);
    }
    if let Some(addr) = addr {
        tracing::info!(
            "metrics: serving http://{addr}/metrics and the read-only admin API http://{addr}/api/v1/"
        );
    }
    println!(
        "nfv: topology {:?} running: {ports} ports on {nworkers} worker{}; control socket {} \
         (`nfv show -n {}`); Ctrl-C or SIGTERM stops it",
        topo.name,
        if nworkers == 1 { "" } else { "s" },
        socket_path.display(),
        topo.name
    );
    daemon::notify("READY=1");
    let stopped = running.join();
    daemon::notify("STOPPING=1");
    let (report, conservation) = match stopped {
        Ok(s) => {
            // Close every TAP/packet socket before removing namespaces and devices.
            drop(s.graphs);
            (s.report, s.conservation)
        }
        Err(e) => {
            drop(resources);
            return Err(e.context("the data plane failed; everything created was removed"));
        }
    };
    drop(resources);
    drop(lock);
    print!("{}", report::format(&report));
    for e in &conservation {
        tracing::error!("packet accounting: {e}");
    }
    if conservation.is_empty() {
        println!("packet accounting: every packet forwarded or dropped with a reason");
    }
    Ok(ExitCode::SUCCESS)
}
