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
//! Only a namespace host's [`TapPort`] takes offload state (`IFF_VNET_HDR`, checksum and
//! segmentation offload): GSO super-frames and NEEDS_CSUM frames enter and leave through
//! it untouched. The other ports write wire frames, so they segment GSO frames and complete
//! checksums in software ([`crate::wire::gso`]) on tx.
//!
//! All do one `read`/`write` (or `recvmsg`/`send`) per frame, draining to `EAGAIN`; the
//! worker batches around them.

use std::io;
use std::os::fd::RawFd;

use crate::element::{DropCounters, DropReason};
use crate::packet::{Batch, PacketBuf, PacketPool};
use crate::wire::gso;

mod packet_socket;
mod pcap;
pub mod ring;
mod tap;

pub use packet_socket::PacketSocketPort;
pub use pcap::{PcapPort, PcapSink};
pub use tap::{GSO_FRAME_MAX, TapDevice, TapError, TapPort};

/// A device-level failure (not EAGAIN, which is simply "nothing now").
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Reading from the device failed.
    #[error("couldn't read from {port}")]
    Read {
        /// Interface name.
        port: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The device is gone (see [`LinkState::Gone`]); returned once, by the `rx_burst` after
    /// the port found out (on rx or tx). The worker takes the port's fd out of its poller.
    #[error("lost device {port}")]
    Lost {
        /// Interface name.
        port: String,
        /// The error that showed it.
        #[source]
        source: io::Error,
    },
}

/// A port's link as the port last saw it (in [`PortStats::link`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkState {
    /// Working (or never reported otherwise).
    #[default]
    Up,
    /// The device said its link is down: ENETDOWN on an `AF_PACKET` socket, EIO writing to
    /// a TAP whose interface is administratively down. Transient: frames are still tried
    /// (each failure a [`DropReason::PortDown`]), the next frame sent or received brings it
    /// back up. The fd stays in the poller: a down link does not make it readable.
    Down,
    /// The device is gone: EBADFD (a TAP whose interface was deleted), ENODEV, ENXIO (an
    /// `AF_PACKET` socket whose interface was deleted). Final: no syscall is made on it
    /// again, its fd leaves the worker's poller (a dead TAP fd polls as an error forever, and
    /// a worker reading it would spin), every frame sent to it is a
    /// [`DropReason::PortDown`] drop. A device made again under the same name is a new
    /// device; nfv does not adopt it.
    Gone,
}

impl LinkState {
    /// `up`, `down` or `gone`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
            LinkState::Gone => "gone",
        }
    }
}

/// Which way the failed syscall went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Way {
    Rx,
    Tx,
}

/// What an error from a device's fd says about its link (see [`LinkState`]). EIO is a down
/// link on tx (a TAP whose interface is administratively down refuses writes with it, and
/// takes them again once up) but a broken device on rx (a down TAP reads EAGAIN; a read that
/// fails with EIO would fail again at once, and the level-triggered poller would spin on it).
pub(crate) fn link_fault(e: &io::Error, way: Way) -> Option<LinkState> {
    match (e.raw_os_error()?, way) {
        (libc::EBADFD | libc::ENODEV | libc::ENXIO, _) | (libc::EIO, Way::Rx) => {
            Some(LinkState::Gone)
        }
        (libc::ENETDOWN, _) | (libc::EIO, Way::Tx) => Some(LinkState::Down),
        _ => None,
    }
}

/// The link part of a port: its state (mirrored into [`PortStats::link`]) and the error
/// that made it [`LinkState::Gone`], until `rx_burst` reports it.
#[derive(Debug, Default)]
pub(crate) struct Link {
    lost: Option<io::Error>,
    reported: bool,
}

impl Link {
    /// A read or write failed with `e`: note what it says about the link. `None` when the
    /// error was a link fault (the caller counts `port_down`, not a device error), else the
    /// error back.
    pub(crate) fn on_error(
        &mut self,
        stats: &mut PortStats,
        e: io::Error,
        way: Way,
    ) -> Option<io::Error> {
        match link_fault(&e, way) {
            Some(LinkState::Gone) => {
                stats.link = LinkState::Gone;
                if self.lost.is_none() && !self.reported {
                    self.lost = Some(e);
                }
                None
            }
            Some(s) => {
                if stats.link != LinkState::Gone {
                    stats.link = s;
                }
                None
            }
            None => Some(e),
        }
    }

    /// A read failed with `e` (not EAGAIN/EINTR), `n` frames into the burst: what
    /// `rx_burst` returns. A device error is counted in `rx_errors` and returned; a down link
    /// ends the burst quietly; a gone device is [`PortError::Lost`].
    pub(crate) fn rx_failed(
        &mut self,
        stats: &mut PortStats,
        e: io::Error,
        ifname: &str,
        n: usize,
    ) -> Result<usize, PortError> {
        match self.on_error(stats, e, Way::Rx) {
            Some(source) => {
                stats.rx_errors += 1;
                Err(PortError::Read {
                    port: ifname.to_string(),
                    source,
                })
            }
            None => self.rx_gone(stats, ifname).unwrap_or(Ok(n)),
        }
    }

    /// A frame was read: a down link is up again.
    #[inline]
    pub(crate) fn rx_ok(stats: &mut PortStats) {
        if stats.link == LinkState::Down {
            stats.link = LinkState::Up;
        }
    }

    /// At the start of `rx_burst`: `Some` when the port is gone — the [`PortError::Lost`]
    /// the first time, `Ok(0)` (nothing read, no syscall) afterwards.
    pub(crate) fn rx_gone(
        &mut self,
        stats: &PortStats,
        ifname: &str,
    ) -> Option<Result<usize, PortError>> {
        if stats.link != LinkState::Gone {
            return None;
        }
        if self.reported {
            return Some(Ok(0));
        }
        self.reported = true;
        let source = self
            .lost
            .take()
            .unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENODEV));
        Some(Err(PortError::Lost {
            port: ifname.to_string(),
            source,
        }))
    }
}

/// At the start of `tx_burst`: a gone port drops the whole batch as `port_down`, with no
/// syscall. True when it did.
pub(crate) fn tx_gone(stats: &mut PortStats, batch: &mut Batch) -> bool {
    if stats.link != LinkState::Gone {
        return false;
    }
    stats.drops.add(DropReason::PortDown, batch.len() as u64);
    batch.drain().for_each(drop);
    true
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
    /// Frames received as GSO super-frames (an offloading TAP; each counts once in
    /// `rx_packets`, with all its bytes in `rx_bytes`).
    pub rx_gso_packets: u64,
    /// Segments this port cut from GSO frames in software because the device takes no
    /// offload (a GSO frame counts once in `tx_packets`, its segments' bytes in `tx_bytes`).
    pub tx_gso_segments: u64,
    /// Frames dropped by the port, by reason (truncated on rx; full or error on tx).
    pub drops: DropCounters,
    /// The device's link as the port last saw it ([`LinkState`]).
    pub link: LinkState,
    /// Frames the kernel dropped on their way into nfv, before this port read them (a
    /// namespace host's TAP: its interface's `tx_dropped`, the TAP queue was full; a VM's
    /// TAP: its `rx_dropped` plus the packet socket's own drops). Read from the kernel when a
    /// report is made ([`Port::kernel_drops`]), never per packet; 0 for other ports.
    pub kernel_rx_drops: u64,
    /// Frames this port wrote that the kernel then dropped (a namespace host's TAP: its
    /// interface's `rx_dropped`; a VM's TAP: its `tx_dropped`, QEMU did not read them).
    pub kernel_tx_drops: u64,
}

/// Kernel-side drop counters of a port's device ([`Port::kernel_drops`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelDrops {
    /// See [`PortStats::kernel_rx_drops`].
    pub rx: u64,
    /// See [`PortStats::kernel_tx_drops`].
    pub tx: u64,
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

    /// The kernel's drop counters for the device (a netlink request or `getsockopt`: called
    /// when a report is made, never per packet). `None` for ports without a kernel device.
    fn kernel_drops(&self) -> Option<KernelDrops> {
        None
    }

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

/// Send one packet through a device that takes no offload state (`send` writes one wire
/// frame): a GSO frame is segmented in software into `scratch`, a NEEDS_CSUM checksum is
/// completed, frames over `max_frame` are `too_big`. The packet counts once: as sent when
/// every frame was written, else as the first failure's drop reason.
pub(crate) fn tx_without_offload(
    stats: &mut PortStats,
    link: &mut Link,
    scratch: &mut [u8],
    max_frame: usize,
    mut pkt: PacketBuf,
    mut send: impl FnMut(&[u8]) -> io::Result<usize>,
) {
    let Some(o) = pkt.offload() else {
        if pkt.len() > max_frame {
            stats.drops.add(DropReason::TooBig, 1);
            return;
        }
        let res = send(pkt.data());
        count_tx_result(stats, link, res, pkt.len());
        return;
    };
    let mut failed: Option<io::Error> = None;
    let mut bytes = 0u64;
    let res = gso::for_each_wire_frame(pkt.data_mut(), &o, scratch, max_frame, |f| {
        if failed.is_some() {
            return;
        }
        match send(f) {
            Ok(_) => {
                bytes += f.len() as u64;
            }
            Err(e) => failed = Some(e),
        }
    });
    stats.tx_bytes += bytes;
    match (res, failed) {
        (Err(r), _) => stats.drops.add(r, 1),
        (Ok(_), Some(e)) => count_tx_result(stats, link, Err(e), 0),
        (Ok(n), None) => {
            if stats.link == LinkState::Down {
                stats.link = LinkState::Up;
            }
            stats.tx_packets += 1;
            if o.gso_type & !gso::GSO_ECN != gso::GSO_NONE {
                stats.tx_gso_segments += n as u64;
            }
        }
    }
}

/// How a write of one frame ended, shared by the fd-based ports. A link fault
/// ([`LinkState`]) is a `port_down` drop, not a device error.
pub(crate) fn count_tx_result(
    stats: &mut PortStats,
    link: &mut Link,
    res: io::Result<usize>,
    len: usize,
) {
    match res {
        Ok(_) => {
            stats.tx_packets += 1;
            stats.tx_bytes += len as u64;
            if stats.link == LinkState::Down {
                stats.link = LinkState::Up;
            }
        }
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS) =>
        {
            stats.drops.add(DropReason::TxFull, 1);
        }
        Err(e) => match link.on_error(stats, e, Way::Tx) {
            None => stats.drops.add(DropReason::PortDown, 1),
            Some(_) => {
                stats.tx_errors += 1;
                stats.drops.add(DropReason::TxError, 1);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::gso::tests::tcp4_gso;

    fn gso_packet(pool: &PacketPool, payload: usize) -> PacketBuf {
        let (f, o) = tcp4_gso(payload, 0x18);
        let mut p = pool.alloc().expect("buffer");
        assert!(p.extend_from_slice(&f));
        assert!(p.set_offload(Some(o)));
        p
    }

    #[test]
    fn egress_without_offload_segments_and_counts_the_gso_frame_once() {
        let pool = PacketPool::new(4, 8192);
        let mut stats = PortStats::default();
        let mut scratch = vec![0u8; 1518];
        let mut sent = Vec::new();
        tx_without_offload(
            &mut stats,
            &mut Link::default(),
            &mut scratch,
            1518,
            gso_packet(&pool, 5000),
            |f| {
                sent.push(f.len());
                Ok(f.len())
            },
        );
        assert_eq!(sent, vec![1514, 1514, 1514, 66 + 5000 - 3 * 1448]);
        assert_eq!(stats.tx_packets, 1);
        assert_eq!(stats.tx_gso_segments, 4);
        assert_eq!(stats.tx_bytes, sent.iter().sum::<usize>() as u64);
        assert_eq!(stats.drops.total(), 0);
    }

    #[test]
    fn egress_without_offload_counts_a_failed_segment_write_as_one_drop() {
        let pool = PacketPool::new(4, 8192);
        let mut stats = PortStats::default();
        let mut scratch = vec![0u8; 1518];
        let mut calls = 0;
        tx_without_offload(
            &mut stats,
            &mut Link::default(),
            &mut scratch,
            1518,
            gso_packet(&pool, 5000),
            |f| {
                calls += 1;
                if calls == 2 {
                    Err(io::Error::from(io::ErrorKind::WouldBlock))
                } else {
                    Ok(f.len())
                }
            },
        );
        assert_eq!(calls, 2, "no writes after the failure");
        assert_eq!(stats.tx_packets, 0);
        assert_eq!(stats.drops.get(DropReason::TxFull), 1);
        // Invalid offload state: nothing written, one counted drop.
        let mut p = gso_packet(&pool, 5000);
        let mut o = p.offload().expect("offload");
        o.gso_size = 0;
        assert!(p.set_offload(Some(o)));
        tx_without_offload(
            &mut stats,
            &mut Link::default(),
            &mut scratch,
            1518,
            p,
            |_| panic!("nothing sent"),
        );
        assert_eq!(stats.drops.get(DropReason::OffloadInvalid), 1);
    }
}
