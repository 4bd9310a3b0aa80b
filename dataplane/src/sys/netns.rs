//! Named network namespaces, managed the way `ip netns` manages them, without shelling out.
//!
//! A named namespace is a file under [`NETNS_RUN_DIR`] (`/run/netns/NAME`) with the namespace's
//! `nsfs` inode bind-mounted on it. The mount is what keeps the namespace alive when no process
//! is in it, and it is also what `ip netns list`, `ip -n NAME ...` and `ip netns exec` look for, so
//! namespaces made here and by iproute2 are interchangeable.
//!
//! # Why a fresh thread for every namespace switch
//!
//! `unshare(CLONE_NEWNET)` and `setns(fd, CLONE_NEWNET)` change the namespace of the *calling
//! thread* only. Switching a thread and switching it back is fragile: if the way back fails,
//! that thread (maybe one a runtime reuses for other work) silently keeps operating in the
//! wrong namespace. So [`NetNs::create`] and [`NetNs::run_in`] do the switch on a short-lived
//! thread of their own that is never switched back; it simply exits. Anything created on that
//! thread keeps the namespace it was created in: a socket (including a netlink socket, see
//! [`super::netlink::Netlink`]) or a TAP fd opened from `/dev/net/tun` stays bound to the
//! namespace and can be used from any thread afterwards.
//!
//! # Why `/run/netns` is a shared mount point
//!
//! `ip netns add` makes `/run/netns` a mount point with shared propagation (bind-mounting it
//! on itself first if needed), and so do we. With shared propagation, a process that
//! later unshares its mount namespace (`ip netns exec` does this to remount `/sys`) still sees
//! namespaces added afterwards, and when we unmount a namespace file the unmount reaches every
//! copy, so the namespace can actually be freed instead of lingering in another mount
//! namespace's copy of the mount.
//!
//! # Caveats
//!
//! - `/sys/class/net` reflects the namespace of whoever mounted sysfs, not the calling thread;
//!   use netlink, or `/proc/sys/net` (which *does* follow the calling thread), inside
//!   [`NetNs::run_in`].
//! - Dropping a [`NetNs`] only closes its fd. The namespace lives on until
//!   [`NetNs::delete`] (or `ip netns del`) removes its mount *and* the last fd, socket or TAP
//!   device file in it is closed.

use std::ffi::{CStr, CString};
use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::{panic, ptr, thread};

/// Where named network namespaces live; the same directory iproute2 uses.
pub const NETNS_RUN_DIR: &str = "/run/netns";
const NETNS_RUN_DIR_C: &CStr = c"/run/netns";

/// `NS_GET_NSTYPE` from `<linux/nsfs.h>`: `_IO(0xb7, 0x3)`. Not in `libc` yet.
const NS_GET_NSTYPE: libc::Ioctl = 0xb703;

/// The longest name iproute2 accepts (`strlen(name) < NAME_MAX`).
const MAX_NAME_LEN: usize = 254;

/// Serialises the "is /run/netns a shared mount point yet" dance within this process, so that
/// concurrent [`NetNs::create`] calls don't stack several bind mounts on `/run/netns`.
static RUN_DIR_SETUP: Mutex<()> = Mutex::new(());

/// Errors from creating, opening, entering and deleting network namespaces.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetnsError {
    /// The name can't be a file name under [`NETNS_RUN_DIR`].
    #[error(
        "{name:?} isn't a valid network namespace name (1 to {MAX_NAME_LEN} bytes, not \".\" or \"..\", no '/' or NUL)"
    )]
    InvalidName { name: String },
    /// `mkdir /run/netns` failed.
    #[error("couldn't create directory {path}")]
    CreateRunDir {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    /// Making `/run/netns` a shared mount point failed.
    #[error("couldn't make {path} a shared mount point")]
    MakeShared {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    /// `/run/netns/NAME` exists already, probably left over from an earlier run.
    #[error(
        "network namespace {name} already exists (left over from an earlier run? `ip netns del {name}` removes it)"
    )]
    AlreadyExists { name: String },
    /// One step of creating the namespace failed; `step` says which.
    #[error("couldn't create network namespace {name} ({step})")]
    Create {
        name: String,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    /// There is no `/run/netns/NAME`.
    #[error("network namespace {name} doesn't exist")]
    NotFound { name: String },
    /// `/run/netns/NAME` exists but nothing (or something other than a network namespace) is
    /// mounted on it, e.g. after a `create` that was killed half-way.
    #[error("{path} exists but isn't a network namespace (`ip netns del {name}` removes it)")]
    NotANamespace { name: String, path: PathBuf },
    /// Opening `/run/netns/NAME` failed.
    #[error("couldn't open network namespace {name}")]
    Open {
        name: String,
        #[source]
        source: io::Error,
    },
    /// The helper thread that switches namespaces couldn't be started.
    #[error("couldn't start a thread to enter network namespace {name}")]
    Thread {
        name: String,
        #[source]
        source: io::Error,
    },
    /// `setns` into the namespace failed.
    #[error("couldn't enter network namespace {name}")]
    Enter {
        name: String,
        #[source]
        source: io::Error,
    },
    /// Unmounting or unlinking `/run/netns/NAME` failed.
    #[error("couldn't delete network namespace {name} ({step})")]
    Delete {
        name: String,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    /// Reading [`NETNS_RUN_DIR`] failed.
    #[error("couldn't list network namespaces in {path}")]
    List {
        path: &'static str,
        #[source]
        source: io::Error,
    },
}

/// A named network namespace: `/run/netns/NAME` and an open fd on it.
///
/// The fd keeps the namespace alive for as long as this value exists, even if someone runs
/// `ip netns del NAME` meanwhile.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    path: PathBuf,
    fd: OwnedFd,
}

impl NetNs {
    /// Creates a new, empty network namespace named `name`, exactly as `ip netns add NAME` does.
    ///
    /// Steps: `mkdir /run/netns` (mode 0755) if needed; make `/run/netns` a shared mount point
    /// (bind-mounting it on itself first if it isn't a mount point); create the file
    /// `/run/netns/NAME` with `O_EXCL`; then, on a fresh thread, `unshare(CLONE_NEWNET)` and
    /// bind-mount `/proc/thread-self/ns/net` onto the file. The new namespace contains only a
    /// `lo` that is down.
    ///
    /// # Errors
    ///
    /// [`NetnsError::AlreadyExists`] if `/run/netns/NAME` exists (a leftover, or a name
    /// collision), [`NetnsError::InvalidName`] for a name iproute2 would reject, and the other
    /// variants for the failing step. On failure nothing is left behind under `/run/netns`.
    pub fn create(name: &str) -> Result<NetNs, NetnsError> {
        let path = ns_path(name)?;
        prepare_run_dir()?;

        let create_err = |step, source| NetnsError::Create {
            name: name.to_owned(),
            step,
            source,
        };
        // O_EXCL makes the existence check and the creation one step, so of two concurrent
        // creators exactly one wins. iproute2 uses mode 0 too (the mount hides the file), and
        // O_RDONLY, which std won't combine with O_CREAT; the access mode makes no difference.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&path)
        {
            Ok(_file) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(NetnsError::AlreadyExists {
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(create_err("creating the namespace file", e)),
        }

        let c_path = path_to_cstring(&path);
        let bound = thread::scope(|s| {
            let handle = thread::Builder::new()
                .name("nfv-netns-add".into())
                .spawn_scoped(s, || unshare_and_bind(&c_path))
                .map_err(|e| ("starting the helper thread", e))?;
            match handle.join() {
                Ok(result) => result,
                Err(payload) => panic::resume_unwind(payload),
            }
        });
        if let Err((step, source)) = bound {
            // The bind mount is the last step, so it hasn't happened: only the file is left.
            let _ = std::fs::remove_file(&path);
            return Err(create_err(step, source));
        }

        match NetNs::open(name) {
            Ok(ns) => Ok(ns),
            Err(e) => {
                let _ = NetNs::delete_by_name(name);
                Err(e)
            }
        }
    }

    /// Opens the existing named namespace `name` (made by us or by `ip netns add`).
    ///
    /// # Errors
    ///
    /// [`NetnsError::NotFound`] if there is no `/run/netns/NAME`, and
    /// [`NetnsError::NotANamespace`] if the file exists but no network namespace is mounted
    /// on it.
    pub fn open(name: &str) -> Result<NetNs, NetnsError> {
        let path = ns_path(name)?;
        // std opens with O_CLOEXEC, so the fd doesn't leak into children we spawn.
        let file = match OpenOptions::new().read(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(NetnsError::NotFound {
                    name: name.to_owned(),
                });
            }
            Err(source) => {
                return Err(NetnsError::Open {
                    name: name.to_owned(),
                    source,
                });
            }
        };
        let fd = OwnedFd::from(file);
        // SAFETY: `fd` is an open file descriptor owned by this function; NS_GET_NSTYPE takes
        // no argument and only returns a value. On a file outside nsfs it fails with ENOTTY.
        let ns_type = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
        if ns_type != libc::CLONE_NEWNET {
            return Err(NetnsError::NotANamespace {
                name: name.to_owned(),
                path,
            });
        }
        Ok(NetNs {
            name: name.to_owned(),
            path,
            fd,
        })
    }

    /// Whether `/run/netns/NAME` exists. It says nothing about whether a namespace is mounted
    /// there; [`NetNs::open`] checks that.
    pub fn exists(name: &str) -> bool {
        ns_path(name).is_ok_and(|path| path.symlink_metadata().is_ok())
    }

    /// The namespace's name, as in `ip netns list`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The namespace fd, e.g. for [`super::netlink::Netlink::move_to_netns`].
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Runs `f` on a new thread that has entered this namespace, waits for it and returns
    /// what `f` returned.
    ///
    /// Sockets, netlink sockets and TAP fds that `f` creates belong to this namespace for their
    /// whole life, so `f` can return them and they stay usable from any thread. Reads of
    /// `/proc/sys/net/...` inside `f` see this namespace too.
    ///
    /// # Errors
    ///
    /// [`NetnsError::Thread`] if the thread can't be spawned, [`NetnsError::Enter`] if `setns`
    /// fails; `f` has not run in either case.
    ///
    /// # Panics
    ///
    /// If `f` panics, the panic is resumed on the calling thread.
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, NetnsError> {
        let fd = self.fd.as_fd();
        let outcome = thread::scope(|s| {
            let handle = thread::Builder::new()
                .name("nfv-netns-run".into())
                .spawn_scoped(s, move || {
                    // SAFETY: `fd` is borrowed from `self.fd`, which outlives this scoped
                    // thread, and refers to an nsfs file for a network namespace (checked in
                    // `open`). setns only changes this thread's namespaces; the thread is
                    // never switched back, it ends when `f` returns.
                    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(f())
                })
                .map_err(|source| NetnsError::Thread {
                    name: self.name.clone(),
                    source,
                })?;
            match handle.join() {
                Ok(result) => Ok(result),
                Err(payload) => panic::resume_unwind(payload),
            }
        })?;
        outcome.map_err(|source| NetnsError::Enter {
            name: self.name.clone(),
            source,
        })
    }

    /// Deletes the namespace like `ip netns del NAME`: detaches the mount and removes the file.
    ///
    /// The namespace itself goes away once nothing refers to it any more; devices in it (a
    /// TAP device, a veth end) are destroyed then, or moved back to the initial namespace if
    /// they are physical devices.
    ///
    /// # Errors
    ///
    /// See [`NetNs::delete_by_name`].
    pub fn delete(self) -> Result<(), NetnsError> {
        NetNs::delete_by_name(&self.name)
    }

    /// Deletes `/run/netns/NAME` like `ip netns del NAME`: `umount2(MNT_DETACH)`, then
    /// `unlink`. Also removes a leftover file with nothing mounted on it.
    ///
    /// # Errors
    ///
    /// [`NetnsError::NotFound`] if there is no such file (so cleanup code can ignore exactly
    /// that), [`NetnsError::Delete`] otherwise.
    pub fn delete_by_name(name: &str) -> Result<(), NetnsError> {
        let path = ns_path(name)?;
        let c_path = path_to_cstring(&path);
        let delete_err = |step, source| NetnsError::Delete {
            name: name.to_owned(),
            step,
            source,
        };
        // SAFETY: `c_path` is a NUL-terminated string that lives across the call; umount2
        // only reads it.
        if unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) } != 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOENT) => {
                    return Err(NetnsError::NotFound {
                        name: name.to_owned(),
                    });
                }
                // Not a mount point: a leftover file from an interrupted create. Unlink it.
                Some(libc::EINVAL) => {}
                _ => return Err(delete_err("unmounting the namespace file", e)),
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(NetnsError::NotFound {
                name: name.to_owned(),
            }),
            Err(e) => Err(delete_err("removing the namespace file", e)),
        }
    }

    /// Names under [`NETNS_RUN_DIR`], sorted; empty if the directory doesn't exist. Names that
    /// aren't UTF-8 are skipped.
    ///
    /// # Errors
    ///
    /// [`NetnsError::List`] if the directory can't be read.
    pub fn list() -> Result<Vec<String>, NetnsError> {
        let list_err = |source| NetnsError::List {
            path: NETNS_RUN_DIR,
            source,
        };
        let entries = match std::fs::read_dir(NETNS_RUN_DIR) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(list_err(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            if let Ok(name) = entry.map_err(list_err)?.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `/run/netns/NAME`, after the checks iproute2's `is_valid_netns_name` makes (plus: not
/// empty, no NUL).
fn ns_path(name: &str) -> Result<PathBuf, NetnsError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0']);
    if !valid {
        return Err(NetnsError::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(Path::new(NETNS_RUN_DIR).join(name))
}

fn path_to_cstring(path: &Path) -> CString {
    // Paths come from `ns_path`, which rejects NUL, and NETNS_RUN_DIR has none.
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

/// `mkdir -m 0755 /run/netns` and `mount --make-rshared /run/netns`, turning the directory into
/// a mount point first if it isn't one, as iproute2's `netns_add` does.
fn prepare_run_dir() -> Result<(), NetnsError> {
    // A poisoned lock only means another create panicked; the mount state is still consistent.
    let _serialised = RUN_DIR_SETUP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    match DirBuilder::new().mode(0o755).create(NETNS_RUN_DIR) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(NetnsError::CreateRunDir {
                path: NETNS_RUN_DIR,
                source,
            });
        }
    }

    let dir = NETNS_RUN_DIR_C;
    let make_shared_err = |source| NetnsError::MakeShared {
        path: NETNS_RUN_DIR,
        source,
    };
    let mut made_mount_point = false;
    loop {
        // SAFETY: all pointers are NUL-terminated literals or null (no data for a propagation
        // change); mount only reads them.
        let rc = unsafe {
            libc::mount(
                c"".as_ptr(),
                dir.as_ptr(),
                c"none".as_ptr(),
                libc::MS_SHARED | libc::MS_REC,
                ptr::null(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // EINVAL: /run/netns isn't a mount point yet, so propagation can't be set on it.
        if e.raw_os_error() != Some(libc::EINVAL) || made_mount_point {
            return Err(make_shared_err(e));
        }
        // SAFETY: as above; this bind-mounts the directory onto itself.
        let rc = unsafe {
            libc::mount(
                dir.as_ptr(),
                dir.as_ptr(),
                c"none".as_ptr(),
                libc::MS_BIND | libc::MS_REC,
                ptr::null(),
            )
        };
        if rc != 0 {
            return Err(make_shared_err(io::Error::last_os_error()));
        }
        made_mount_point = true;
    }
}

/// Runs on a thread of its own: moves that thread into a new network namespace and pins the
/// namespace by bind-mounting it onto `target`. Returns the failing step on error.
fn unshare_and_bind(target: &CString) -> Result<(), (&'static str, io::Error)> {
    // SAFETY: unshare takes no pointers and changes only the calling thread's network
    // namespace; this thread exists just for this and is discarded afterwards.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(("unshare(CLONE_NEWNET)", io::Error::last_os_error()));
    }
    // /proc/thread-self, not /proc/self: only this thread is in the new namespace.
    // SAFETY: all pointers are NUL-terminated strings that outlive the call, or null (bind
    // mounts take no data); mount only reads them.
    let rc = unsafe {
        libc::mount(
            c"/proc/thread-self/ns/net".as_ptr(),
            target.as_ptr(),
            c"none".as_ptr(),
            libc::MS_BIND,
            ptr::null(),
        )
    };
    if rc != 0 {
        return Err((
            "bind-mounting /proc/thread-self/ns/net onto the namespace file",
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_iproute2_rejects_are_invalid() {
        let too_long = "n".repeat(MAX_NAME_LEN + 1);
        for bad in ["", ".", "..", "a/b", "/abs", "nul\0", too_long.as_str()] {
            assert!(
                matches!(ns_path(bad), Err(NetnsError::InvalidName { .. })),
                "{bad:?} should be rejected"
            );
            assert!(!NetNs::exists(bad));
        }
    }

    #[test]
    fn valid_names_map_under_run_netns() {
        let path = ns_path("nfvt-a.b_c").expect("valid name");
        assert_eq!(path, Path::new("/run/netns/nfvt-a.b_c"));
        assert!(ns_path(&"n".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn already_exists_message_names_the_namespace_and_the_fix() {
        let e = NetnsError::AlreadyExists {
            name: "nfvt-x".into(),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("network namespace nfvt-x already exists"),
            "{msg}"
        );
        assert!(msg.contains("ip netns del nfvt-x"), "{msg}");
    }
}
