//! [`TapPort`]: nfv holds the user side of a TAP device; the kernel side is an interface
//! (for a namespace host, the host's `eth0`). One `read` or `write` per frame.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::{Port, PortError, PortStats, count_tx_result};
use crate::element::DropReason;
use crate::packet::{Batch, PacketPool};
use crate::sys::{fdio, tap};

pub use crate::sys::tap::TapError;

/// An open TAP device (user side).
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    name: String,
}

impl TapDevice {
    /// Create (or attach to) TAP `name` in the calling thread's network namespace,
    /// non-blocking, without packet information (`IFF_TAP | IFF_NO_PI`).
    ///
    /// # Errors
    /// [`TapError`] — invalid name, no `/dev/net/tun`, or the name belongs to another device.
    pub fn create(name: &str) -> Result<TapDevice, TapError> {
        let (fd, name) = tap::open_tap(name)?;
        Ok(TapDevice { fd, name })
    }

    /// Make the device persistent (it stays after this fd closes) or not.
    ///
    /// # Errors
    /// [`TapError::Persist`].
    pub fn set_persist(&self, persist: bool) -> Result<(), TapError> {
        tap::set_persist(&self.fd, &self.name, persist)
    }

    /// The kernel's name for the device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw fd (for tests that play the other side).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A [`Port`] over the user side of a TAP device.
#[derive(Debug)]
pub struct TapPort {
    dev: TapDevice,
    max_frame: usize,
    stats: PortStats,
}

impl TapPort {
    /// Wrap an open TAP device whose interface has MTU `mtu`. Frames longer than
    /// `mtu` + Ethernet header + one 802.1Q tag are dropped on tx as `too_big`, as a
    /// bridge drops frames its egress port cannot carry.
    pub fn new(dev: TapDevice, mtu: u16) -> TapPort {
        TapPort {
            dev,
            max_frame: super::max_frame(mtu),
            stats: PortStats::default(),
        }
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.dev.name
    }

    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        let fd = self.dev.fd.as_raw_fd();
        let mut n = 0;
        while !batch.is_full() {
            let Some(mut pkt) = pool.alloc() else {
                self.stats.rx_no_buffer += 1;
                break;
            };
            let buf = pkt.buffer_mut();
            let cap = buf.len();
            match fdio::read(fd, buf) {
                Ok(len) if len >= cap => {
                    // tun silently cuts frames longer than the buffer (TUN_PKT_STRIP): a read
                    // that fills the buffer completely may have been cut.
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += len as u64;
                    self.stats.drops.add(DropReason::RxTruncated, 1);
                }
                Ok(len) => {
                    pkt.set_len(len);
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += len as u64;
                    // Cannot fail: checked !is_full above.
                    let _ = batch.push(pkt);
                    n += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.stats.rx_errors += 1;
                    return Err(PortError::Read {
                        port: self.dev.name.clone(),
                        source,
                    });
                }
            }
        }
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        let fd = self.dev.fd.as_raw_fd();
        for pkt in batch.drain() {
            if pkt.len() > self.max_frame {
                self.stats.drops.add(DropReason::TooBig, 1);
                continue;
            }
            let res = fdio::write(fd, pkt.data());
            count_tx_result(&mut self.stats, res, pkt.len());
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        Some(self.dev.fd.as_raw_fd())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}
