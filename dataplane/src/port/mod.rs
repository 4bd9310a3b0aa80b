//! Ports: where frames enter and leave the data plane.
//!
//! Direction convention, used everywhere: **rx = into the data plane from a device,
//! tx = out of the data plane to a device** (as BESS `port.h`).
//!
//! * [`TapPort`] — the user side of a TAP device (`/dev/net/tun`); nfv holds the fd. Used
//!   for namespace hosts, whose kernel side is the host's interface.
//! * [`PacketSocketPort`] — an `AF_PACKET` socket bound to an existing interface (the kernel
//!   side of a TAP that a VM's QEMU holds, or any host interface).
//! * [`PcapPort`] — replays a pcap file as rx and records tx into one (`kind: pcap`).
//!
//! Both do one `read`/`write` (or `recvmsg`/`send`) per frame, draining to `EAGAIN`; the
//! worker batches around them.

use std::io;
use std::os::fd::RawFd;

use crate::element::{DropCounters, DropReason};
use crate::packet::{Batch, PacketPool};

mod packet_socket;
mod pcap;
pub mod ring;
mod tap;

pub use packet_socket::PacketSocketPort;
pub use pcap::{PcapPort, PcapSink};
pub use tap::{TapDevice, TapError, TapPort};

/// A device-level failure (not EAGAIN, which is simply "nothing now").
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Reading from the device failed.
    #[error("couldn't read from port {port}")]
    Read {
        /// Port name.
        port: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Counters a port keeps about itself. Drops are by reason; `rx_no_buffer` counts the times
/// the pool was empty when the port wanted to read (the frame stays in the device queue).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames received from the device.
    pub rx_packets: u64,
    /// Bytes received from the device.
    pub rx_bytes: u64,
    /// Frames written to the device.
    pub tx_packets: u64,
    /// Bytes written to the device.
    pub tx_bytes: u64,
    /// Read errors other than EAGAIN.
    pub rx_errors: u64,
    /// Write errors other than EAGAIN/ENOBUFS.
    pub tx_errors: u64,
    /// Times a read was skipped because the packet pool was empty.
    pub rx_no_buffer: u64,
    /// Frames dropped by the port, by reason (truncated on rx; full or error on tx).
    pub drops: DropCounters,
}

/// A device the data plane reads frames from and writes frames to.
pub trait Port: Send {
    /// Name for logs and reports (the interface name).
    fn name(&self) -> &str;

    /// Read up to `batch.free_space()` frames into buffers from `pool`.
    /// `Ok(0)` means nothing is waiting (EAGAIN), not an error.
    ///
    /// # Errors
    /// [`PortError::Read`] on a device error; the worker logs it and keeps running.
    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError>;

    /// Write every frame of `batch`. The port consumes all of them: each is sent or dropped
    /// and counted in [`PortStats::drops`] ([`DropReason::TxFull`], [`DropReason::TxError`]).
    fn tx_burst(&mut self, batch: &mut Batch);

    /// A file descriptor that polls readable when `rx_burst` has work, for the worker to
    /// sleep on when idle.
    fn rx_fd(&self) -> Option<RawFd>;

    /// The port's counters.
    fn stats(&self) -> PortStats;

    /// Called before the worker sleeps in epoll on [`Port::rx_fd`]; false means "work is
    /// already waiting, don't sleep". A port fed by another thread (a [`ring`]) uses it to
    /// publish that its consumer is asleep. The default (a kernel fd) needs nothing.
    fn prepare_sleep(&mut self) -> bool {
        true
    }

    /// Called after the worker wakes from epoll (whatever woke it).
    fn woke(&mut self) {}

    /// True for the two halves of a ring between workers: reported as rings
    /// ([`Port::ring_report`]), not as topology ports.
    fn is_ring(&self) -> bool {
        false
    }

    /// The ring's counters, from the producing half only (so each ring is reported once).
    fn ring_report(&self) -> Option<ring::RingReport> {
        None
    }
}

/// Longest frame a port with this MTU sends: Ethernet header plus one 802.1Q tag.
pub(crate) fn max_frame(mtu: u16) -> usize {
    usize::from(mtu) + 14 + 4
}

/// How a write of one frame ended, shared by the fd-based ports.
pub(crate) fn count_tx_result(stats: &mut PortStats, res: io::Result<usize>, len: usize) {
    match res {
        Ok(_) => {
            stats.tx_packets += 1;
            stats.tx_bytes += len as u64;
        }
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS) =>
        {
            stats.drops.add(DropReason::TxFull, 1);
        }
        Err(_) => {
            stats.tx_errors += 1;
            stats.drops.add(DropReason::TxError, 1);
        }
    }
}
