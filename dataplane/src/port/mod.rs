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
    /// Frames received as GSO super-frames (an offloading TAP; each counts once in
    /// `rx_packets`, with all its bytes in `rx_bytes`).
    pub rx_gso_packets: u64,
    /// Segments this port cut from GSO frames in software because the device takes no
    /// offload (a GSO frame counts once in `tx_packets`, its segments' bytes in `tx_bytes`).
    pub tx_gso_segments: u64,
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

/// Send one packet through a device that takes no offload state (`send` writes one wire
/// frame): a GSO frame is segmented in software into `scratch`, a NEEDS_CSUM checksum is
/// completed, frames over `max_frame` are `too_big`. The packet counts once: as sent when
/// every frame was written, else as the first failure's drop reason.
pub(crate) fn tx_without_offload(
    stats: &mut PortStats,
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
        count_tx_result(stats, res, pkt.len());
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
        (Ok(_), Some(e)) => count_tx_result(stats, Err(e), 0),
        (Ok(n), None) => {
            stats.tx_packets += 1;
            if o.gso_type & !gso::GSO_ECN != gso::GSO_NONE {
                stats.tx_gso_segments += n as u64;
            }
        }
    }
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
        tx_without_offload(&mut stats, &mut scratch, 1518, p, |_| {
            panic!("nothing sent")
        });
        assert_eq!(stats.drops.get(DropReason::OffloadInvalid), 1);
    }
}
