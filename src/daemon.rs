//! Daemon mode: `nfv up FILE` starts `nfv run FILE` in the background and returns once it
//! forwards (or with its start-up error), `nfv down NAME` stops it and waits for its
//! cleanup, and [`notify`] tells a service manager (systemd `Type=notify`, or `nfv up`)
//! that the topology is ready.
//!
//! Readiness is the systemd protocol (`sd_notify(3)`): when `$NOTIFY_SOCKET` is set,
//! `nfv run` sends the datagram `READY=1` to it once the workers forward and the control
//! socket answers, and `STOPPING=1` when it starts tearing down. `nfv up` is its own
//! service manager: it binds a datagram socket, starts `nfv run` with `NOTIFY_SOCKET`
//! pointing there, and waits for `READY=1` or for the child to exit. The child runs in its
//! own process group (a Ctrl-C in the terminal does not reach it), with stdin from
//! `/dev/null` and stdout/stderr appended to `/run/nfv/<name>.log` (mode 0600), which
//! `nfv up` prints when the start fails. A failed start has already removed what it made
//! (that is `nfv run`'s exit path), so `nfv up` only reports it.
//!
//! `nfv down` sends SIGTERM to the pid in the topology's lock file and waits until the lock
//! is released — `nfv run` releases it after removing everything it made — and the process
//! has exited, so when it returns the namespaces and devices are gone.

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use nfv_runtime::instance;

/// How long `nfv up` waits for `READY=1`.
pub const UP_TIMEOUT: Duration = Duration::from_secs(60);

/// Send `state` (`READY=1`, `STOPPING=1`) to `$NOTIFY_SOCKET` if it is set (a path, or an
/// abstract name written `@name`). Failures are logged: readiness is advisory.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let res = UnixDatagram::unbound().and_then(|s| {
        let bytes = target.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt as _;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            s.send_to_addr(state.as_bytes(), &addr)
        } else {
            s.send_to(state.as_bytes(), Path::new(&target))
        }
    });
    if let Err(e) = res {
        tracing::warn!("couldn't notify {target:?} of {state:?}: {e}");
    }
}

/// `nfv up FILE`, for a topology named `name` (the file is already validated).
///
/// # Errors
/// The run directory, the log file or the notify socket cannot be made, or the child
/// cannot be started.
pub fn up(file: &Path, name: &str, verbose: u8) -> Result<ExitCode> {
    nfv_runtime::require_privileges()?;
    if let Some(held) = instance::is_live(name) {
        eprintln!("error: {held}; `nfv down {name}` stops it");
        return Ok(ExitCode::FAILURE);
    }
    let dir = instance::run_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("couldn't create {}", dir.display()))?;
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("couldn't open {}", log_path.display()))?;
    let notify_path = dir.join(format!("{name}.up-{}", std::process::id()));
    let _ = std::fs::remove_file(&notify_path);
    let sock = UnixDatagram::bind(&notify_path)
        .with_context(|| format!("couldn't bind {}", notify_path.display()))?;
    let removed = RemoveOnDrop(&notify_path);
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let exe = std::env::current_exe().context("couldn't find the nfv binary")?;
    let mut cmd = Command::new(exe);
    if verbose > 0 {
        cmd.arg(format!("-{}", "v".repeat(usize::from(verbose))));
    }
    let mut child = cmd
        .arg("run")
        .arg(file)
        .env("NOTIFY_SOCKET", &notify_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("couldn't start nfv run")?;
    let pid = child.id();
    let deadline = Instant::now() + UP_TIMEOUT;
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]);
            if msg.lines().any(|l| l == "READY=1") {
                println!(
                    "nfv: topology {name:?} is up (pid {pid}); log {}; `nfv down {name}` stops it",
                    log_path.display()
                );
                drop(removed);
                return Ok(ExitCode::SUCCESS);
            }
        }
        if let Some(status) = child.try_wait()? {
            let mut text = String::new();
            let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut text));
            eprint!("{text}");
            eprintln!(
                "nfv up: topology {name:?} did not start ({status}); what it created was removed"
            );
            return Ok(ExitCode::FAILURE);
        }
        if Instant::now() > deadline {
            bail!(
                "topology {name:?} (pid {pid}) did not become ready within {} s; see {}",
                UP_TIMEOUT.as_secs(),
                log_path.display()
            );
        }
    }
}

/// Whether process `pid` still runs (a zombie waiting for its parent to reap it does not).
fn alive(pid: libc::pid_t) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// `nfv down NAME`: SIGTERM to the running topology's pid, then wait (up to `timeout`)
/// until its lock is released, i.e. everything it made is removed.
///
/// # Errors
/// The signal cannot be sent.
pub fn down(name: &str, timeout: Duration) -> Result<ExitCode> {
    let Some(held) = instance::is_live(name) else {
        let running = instance::running().unwrap_or_default();
        let names: Vec<&str> = running.iter().map(|r| r.name.as_str()).collect();
        eprintln!(
            "error: topology {name:?} is not running{}",
            if names.is_empty() {
                String::new()
            } else {
                format!("; running: {}", names.join(", "))
            }
        );
        return Ok(ExitCode::FAILURE);
    };
    let Some(pid) = held.pid.and_then(|p| libc::pid_t::try_from(p).ok()) else {
        bail!("topology {name:?} is running but its lock file has no pid");
    };
    // SAFETY: kill takes no pointers; `pid` is the lock holder's, read from its lock file.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("couldn't signal pid {pid}"));
    }
    let deadline = Instant::now() + timeout;
    while instance::is_live(name).is_some() || alive(pid) {
        if Instant::now() > deadline {
            bail!(
                "topology {name:?} (pid {pid}) is still stopping after {} s",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("nfv: topology {name:?} (pid {pid}) stopped; everything it made was removed");
    Ok(ExitCode::SUCCESS)
}
