//! Plain `read`/`write`/`send` on file descriptors, returning `io::Result`.

use std::io;
use std::os::fd::RawFd;

/// `read(2)` into `buf`.
///
/// # Errors
/// The OS error (EAGAIN is `WouldBlock`).
#[inline]
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid writable region of `buf.len()` bytes for the whole call.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `write(2)` of `buf`.
///
/// # Errors
/// The OS error (EAGAIN is `WouldBlock`).
#[inline]
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid readable region of `buf.len()` bytes for the whole call.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `readv(2)` of one frame into a header buffer followed by up to two data buffers.
///
/// # Errors
/// The OS error (EAGAIN is `WouldBlock`).
#[inline]
pub fn readv3(fd: RawFd, a: &mut [u8], b: &mut [u8], c: &mut [u8]) -> io::Result<usize> {
    let iov = [
        libc::iovec {
            iov_base: a.as_mut_ptr().cast(),
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        },
        libc::iovec {
            iov_base: c.as_mut_ptr().cast(),
            iov_len: c.len(),
        },
    ];
    // SAFETY: each iovec describes a distinct, valid, writable slice that outlives the call
    // (they come from three separate `&mut` borrows).
    let n = unsafe { libc::readv(fd, iov.as_ptr(), 3) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `writev(2)` of a header followed by a frame (one TAP packet).
///
/// # Errors
/// The OS error (EAGAIN is `WouldBlock`).
#[inline]
pub fn writev2(fd: RawFd, a: &[u8], b: &[u8]) -> io::Result<usize> {
    let iov = [
        libc::iovec {
            iov_base: a.as_ptr().cast_mut().cast(),
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr().cast_mut().cast(),
            iov_len: b.len(),
        },
    ];
    // SAFETY: both iovecs describe valid readable slices that outlive the call; writev only
    // reads through them (the `*mut` is the C type, not a licence to write).
    let n = unsafe { libc::writev(fd, iov.as_ptr(), 2) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
