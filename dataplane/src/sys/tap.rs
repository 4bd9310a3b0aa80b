//! TAP devices through `/dev/net/tun` ioctls (the Firecracker / Cloud Hypervisor pattern).
//!
//! Name length is checked before any syscall (Firecracker's `InvalidIfname`), the fd is
//! `O_NONBLOCK | O_CLOEXEC`, and the kernel's name is read back after `TUNSETIFF`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// `struct ifreq` reduced to what TUNSETIFF uses: the name and the flags (40 bytes total).
#[repr(C)]
struct IfReqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Errors opening a TAP.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// Name empty, over 15 bytes, or containing a NUL.
    #[error("interface name {name:?} is invalid: it must be 1 to 15 bytes without NUL")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// `open("/dev/net/tun")` failed.
    #[error("couldn't open /dev/net/tun")]
    OpenTun(#[source] io::Error),
    /// TUNSETIFF failed (name in use by another device, no permission …).
    #[error("couldn't create TAP device {name:?} (TUNSETIFF)")]
    SetIff {
        /// The name asked for.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// TUNSETPERSIST failed.
    #[error("couldn't set TAP device {name:?} persistent={persist}")]
    Persist {
        /// Device name.
        name: String,
        /// The value asked for.
        persist: bool,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Open `/dev/net/tun` and attach to (or create) TAP `name` with `IFF_TAP | IFF_NO_PI`.
/// The device is created in the network namespace of the calling thread.
/// Returns the fd and the name the kernel reports.
///
/// # Errors
/// See [`TapError`].
pub fn open_tap(name: &str) -> Result<(OwnedFd, String), TapError> {
    if name.is_empty() || name.len() > IFNAME_MAX || name.as_bytes().contains(&0) {
        return Err(TapError::InvalidName {
            name: name.to_string(),
        });
    }
    // SAFETY: the path is a valid NUL-terminated C string; open returns a new fd or -1.
    let raw = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(TapError::OpenTun(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a freshly opened fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = IfReqFlags {
        name: [0; 16],
        flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`; `req` is a live, correctly sized
    // (40-byte) repr(C) value whose name is NUL-terminated (len <= 15 of 16 bytes).
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        return Err(TapError::SetIff {
            name: name.to_string(),
            source: io::Error::last_os_error(),
        });
    }
    let kernel_name = CStr::from_bytes_until_nul(&req.name)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| name.to_string());
    Ok((fd, kernel_name))
}

/// Make the device outlive its fd (`TUNSETPERSIST`), so another process (QEMU) can attach.
///
/// # Errors
/// [`TapError::Persist`].
pub fn set_persist(fd: &OwnedFd, name: &str, persist: bool) -> Result<(), TapError> {
    // SAFETY: TUNSETPERSIST takes an integer argument by value; the fd is a valid tun fd.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETPERSIST,
            libc::c_ulong::from(persist),
        )
    };
    if rc < 0 {
        return Err(TapError::Persist {
            name: name.to_string(),
            persist,
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_name_over_15_bytes_is_rejected_before_any_syscall() {
        let err = open_tap("sixteen-chars-xx").expect_err("too long");
        assert!(matches!(err, TapError::InvalidName { .. }));
        assert!(matches!(open_tap(""), Err(TapError::InvalidName { .. })));
    }
}
