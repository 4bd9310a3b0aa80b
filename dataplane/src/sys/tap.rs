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
    /// Setting up the virtio header or offloads failed.
    #[error("couldn't enable offloads on TAP device {name:?} ({what})")]
    Offload {
        /// Device name.
        name: String,
        /// The ioctl that failed.
        what: &'static str,
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
    open_tap_flags(name, 0)
}

/// As [`open_tap`], with `IFF_VNET_HDR`: every read and write carries a `virtio_net_hdr`
/// in front of the frame, sized [`crate::wire::gso::VNET_HDR_LEN`] with `TUNSETVNETHDRSZ`.
/// Offloads are then switched on with [`set_offload`].
///
/// # Errors
/// See [`TapError`].
pub fn open_tap_vnet_hdr(name: &str) -> Result<(OwnedFd, String), TapError> {
    open_tap_vnet_hdr_flags(name, 0)
}

/// As [`open_tap_vnet_hdr`], opening one queue of a multiqueue TAP (`IFF_MULTI_QUEUE`):
/// call it once per queue with the same name; the first call creates the device. The kernel
/// spreads the frames it sends over the queues by flow hash and takes frames on any queue.
///
/// # Errors
/// See [`TapError`] (`SetIff` with EINVAL if the device exists without multiqueue, or has
/// as many queues as the kernel allows).
pub fn open_tap_queue_vnet_hdr(name: &str) -> Result<(OwnedFd, String), TapError> {
    open_tap_vnet_hdr_flags(name, libc::IFF_MULTI_QUEUE)
}

fn open_tap_vnet_hdr_flags(name: &str, extra: libc::c_int) -> Result<(OwnedFd, String), TapError> {
    let (fd, kernel_name) = open_tap_flags(name, libc::IFF_VNET_HDR | extra)?;
    let sz = crate::wire::gso::VNET_HDR_LEN as libc::c_int;
    // SAFETY: TUNSETVNETHDRSZ reads an int through the pointer; `sz` lives for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETVNETHDRSZ, &sz) };
    if rc < 0 {
        return Err(TapError::Offload {
            name: kernel_name,
            what: "TUNSETVNETHDRSZ",
            source: io::Error::last_os_error(),
        });
    }
    Ok((fd, kernel_name))
}

/// Offloads nfv asks for, most first: checksum, TSO for IPv4/IPv6 and UDP segmentation
/// (USO, Linux 6.2+); a kernel without USO refuses the whole set with EINVAL, so the second
/// set leaves USO out.
pub const OFFLOAD_SETS: [libc::c_uint; 2] = [
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_USO4 | libc::TUN_F_USO6,
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6,
];

/// `TUNSETOFFLOAD`: tell the kernel which offloads the user side handles. The kernel then
/// turns the matching features (tx checksumming, TSO, USO) on for the interface, so its
/// stack hands over CHECKSUM_PARTIAL frames and GSO super-frames. Tries each of
/// [`OFFLOAD_SETS`] and returns the one accepted.
///
/// # Errors
/// [`TapError::Offload`] when even the smallest set is refused.
pub fn set_offload(fd: &OwnedFd, name: &str) -> Result<libc::c_uint, TapError> {
    let mut last = None;
    for flags in OFFLOAD_SETS {
        // SAFETY: TUNSETOFFLOAD takes an unsigned long by value; the fd is a tun fd.
        let rc = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::TUNSETOFFLOAD,
                libc::c_ulong::from(flags),
            )
        };
        if rc == 0 {
            return Ok(flags);
        }
        last = Some(io::Error::last_os_error());
    }
    Err(TapError::Offload {
        name: name.to_string(),
        what: "TUNSETOFFLOAD",
        source: last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINVAL)),
    })
}

fn open_tap_flags(name: &str, extra: libc::c_int) -> Result<(OwnedFd, String), TapError> {
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
        flags: (libc::IFF_TAP | libc::IFF_NO_PI | extra) as libc::c_short,
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
