//! Running instances: one directory (`/run/nfv`, [`run_dir`]) with, per running topology,
//! its lock (`<name>.lock`) and its control socket (`<name>.sock`).
//!
//! **The lock is the truth.** `nfv run` takes an exclusive `flock` on `<name>.lock` before it
//! creates anything and holds it until everything it made is removed; the file holds its pid.
//! So "is topology X running" is "is X's lock held", which the kernel answers correctly even
//! after a `SIGKILL` (the lock dies with the process), and a socket or lock file left by a
//! killed run is recognised as stale: it is removed only by whoever then takes the lock.
//! `nfv clean` takes the same lock, so it can never remove a live instance's objects.
//!
//! Taking the lock retries for a short while ([`LOCK_TRIES`]): a client probing liveness
//! ([`is_live`]) holds a shared lock for microseconds, which must not make `nfv run` think
//! the topology is running. The holder unlinks both files on exit while still holding the
//! lock; a taker checks after `flock` that the path still names the file it locked (else it
//! raced with that unlink and tries again).

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

/// Where locks and control sockets live unless `NFV_RUN_DIR` says otherwise.
pub const RUN_DIR: &str = "/run/nfv";

/// How many times [`lock`] tries before it calls the topology running, 10 ms apart.
pub const LOCK_TRIES: u32 = 5;

/// The run directory: `$NFV_RUN_DIR` if set (tests use a private one), else [`RUN_DIR`].
#[must_use]
pub fn run_dir() -> PathBuf {
    std::env::var_os("NFV_RUN_DIR").map_or_else(|| PathBuf::from(RUN_DIR), PathBuf::from)
}

/// `<run dir>/<name>.sock`: the control socket of topology `name`.
#[must_use]
pub fn socket_path(name: &str) -> PathBuf {
    run_dir().join(format!("{name}.sock"))
}

/// `<run dir>/<name>.lock`.
#[must_use]
pub fn lock_path(name: &str) -> PathBuf {
    run_dir().join(format!("{name}.lock"))
}

/// The held lock of a running topology. Dropping it removes the control socket and the
/// lock file (still holding the lock), then releases it.
#[derive(Debug)]
pub struct Lock {
    file: File,
    name: String,
}

/// Someone else holds the lock: the topology is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The topology.
    pub name: String,
    /// The holder's pid, from the lock file (`None` if it could not be read).
    pub pid: Option<u32>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "topology {:?} is running (pid {pid})", self.name),
            None => write!(f, "topology {:?} is running", self.name),
        }
    }
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    // SAFETY: the fd is open for the life of `file`; flock takes no pointers.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// Take topology `name`'s lock for this process (creating the run directory, mode 0755).
/// `Ok(Err(held))` when a live instance holds it.
///
/// # Errors
/// The run directory or the lock file cannot be made or locked (not root, read-only /run).
pub fn lock(name: &str) -> Result<std::result::Result<Lock, Held>> {
    let dir = run_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&dir)
        .with_context(|| format!("couldn't create {}", dir.display()))?;
    let path = lock_path(name);
    let mut tries = 0;
    loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .with_context(|| format!("couldn't open {}", path.display()))?;
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {
                tries += 1;
                if tries >= LOCK_TRIES {
                    return Ok(Err(Held {
                        name: name.to_string(),
                        pid: read_pid(&mut file),
                    }));
                }
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("couldn't lock {}", path.display())),
        }
        // The previous holder may have unlinked the file between our open and our flock.
        let same = match (file.metadata(), std::fs::metadata(&path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        if !same {
            continue;
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())
            .with_context(|| format!("couldn't write {}", path.display()))?;
        return Ok(Ok(Lock {
            file,
            name: name.to_string(),
        }));
    }
}

impl Lock {
    /// The topology.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(socket_path(&self.name));
        let _ = std::fs::remove_file(lock_path(&self.name));
        let _ = flock(&self.file, libc::LOCK_UN);
    }
}

/// Whether topology `name` is running (its lock is held), and the holder's pid. Probes with
/// a shared non-blocking lock, released at once.
#[must_use]
pub fn is_live(name: &str) -> Option<Held> {
    let mut file = File::open(lock_path(name)).ok()?;
    match flock(&file, libc::LOCK_SH | libc::LOCK_NB) {
        Ok(()) => {
            let _ = flock(&file, libc::LOCK_UN);
            None
        }
        Err(_) => Some(Held {
            name: name.to_string(),
            pid: read_pid(&mut file),
        }),
    }
}

/// A running topology found in the run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The topology.
    pub name: String,
    /// Its pid, from its lock file.
    pub pid: Option<u32>,
    /// Its control socket.
    pub socket: PathBuf,
}

/// Every running topology (lock held and a control socket present), sorted by name.
/// Stale files (no holder) are skipped, not removed: only a new holder removes them.
///
/// # Errors
/// The run directory exists but cannot be read.
pub fn running() -> Result<Vec<Running>> {
    let dir = run_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("couldn't list {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("couldn't list {}", dir.display()))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".sock")) else {
            continue;
        };
        if let Some(held) = is_live(name) {
            out.push(Running {
                name: name.to_string(),
                pid: held.pid,
                socket: entry.path(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Whether `path` exists (a stale socket, say).
#[must_use]
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// One test (the run directory comes from the environment, shared by the process).
    #[test]
    fn lock_is_exclusive_probes_do_not_take_it_and_drop_removes_the_files() {
        let dir = std::env::temp_dir().join(format!("nfv-rundir-{}", std::process::id()));
        // SAFETY: no other test of this crate reads or writes the environment.
        unsafe { std::env::set_var("NFV_RUN_DIR", &dir) };
        let lock = lock("t1").unwrap().unwrap();
        std::fs::write(socket_path("t1"), b"").unwrap();
        let held = is_live("t1").unwrap();
        assert_eq!(held.pid, Some(std::process::id()));
        assert_eq!(
            held.to_string(),
            format!("topology \"t1\" is running (pid {})", std::process::id())
        );
        // flock locks belong to the open file, so a second open in this process conflicts.
        let again = self::lock("t1").unwrap().unwrap_err();
        assert_eq!(again.pid, Some(std::process::id()));
        let r = running().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].name, "t1");
        drop(lock);
        assert!(!exists(&socket_path("t1")) && !exists(&lock_path("t1")));
        assert!(is_live("t1").is_none());
        // A stale socket without a holder is not running.
        std::fs::write(socket_path("t2"), b"").unwrap();
        assert!(running().unwrap().is_empty());
        let l2 = self::lock("t2").unwrap().unwrap();
        drop(l2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
