//! [`TapPort`]: nfv holds the user side of a TAP device; the kernel side is an interface
//! (for a namespace host, the host's `eth0`). One `read` or `write` per frame.
//!
//! # Offload (namespace hosts)
//! A device made with [`TapDevice::create_with_offload`] has `IFF_VNET_HDR` (a 12-byte
//! `virtio_net_hdr_v1` in front of every frame) and `TUNSETOFFLOAD` checksum + TSO4/TSO6
//! (+ USO4/USO6 where the kernel has them). The namespace's stack then hands over
//! CHECKSUM_PARTIAL frames and GSO super-frames of up to 64 KB, and takes them back the same
//! way: one syscall moves up to ~44 MSS-sized segments instead of one.
//!
//! Buffers: every read gathers into `[virtio header | a normal pool buffer | the tail of a
//! large buffer]` (`readv`). A frame that fits the normal buffer (almost all but TCP/UDP
//! bulk data) stays there and the large buffer is kept for the next read; a larger frame
//! has its first part copied into the large buffer (a ≤ 2 KB memcpy, against ~2.7 µs of
//! syscall for a frame of up to 64 KB), so large buffers hold only large frames.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::{
    KernelDrops, Link, LinkState, Port, PortError, PortStats, count_tx_result, tx_gone,
    tx_without_offload,
};
use crate::element::DropReason;
use crate::packet::{Batch, PacketBuf, PacketPool};
use crate::sys::netlink::LinkDropsReader;
use crate::sys::{fdio, tap};
use crate::wire::gso::{self, VNET_HDR_LEN, VirtioNetHdr};

pub use crate::sys::tap::TapError;

/// Buffer size for the largest GSO frame a TAP hands over: 64 KB (`GSO_MAX_SIZE`, which
/// bounds the skb from the network header on) plus the link header, tags and margin. A
/// larger frame would be counted `rx_truncated`, never cut silently.
pub const GSO_FRAME_MAX: usize = 65536 + 256;

/// An open TAP device (user side).
#[derive(Debug)]
pub struct TapDevice {
    fd: OwnedFd,
    name: String,
    /// `TUN_F_*` offloads enabled (0: plain frames, no virtio header).
    offloads: u32,
    /// The interface's kernel drop counters, read through a netlink socket made in its
    /// namespace (a namespace host's device, queue 0 only; `None` where netlink failed).
    kernel: Option<LinkDropsReader>,
}

impl TapDevice {
    /// Create (or attach to) TAP `name` in the calling thread's network namespace,
    /// non-blocking, without packet information (`IFF_TAP | IFF_NO_PI`).
    ///
    /// # Errors
    /// [`TapError`] — invalid name, no `/dev/net/tun`, or the name belongs to another device.
    pub fn create(name: &str) -> Result<TapDevice, TapError> {
        let (fd, name) = tap::open_tap(name)?;
        Ok(TapDevice {
            fd,
            name,
            offloads: 0,
            kernel: None,
        })
    }

    /// As [`TapDevice::create`], with `IFF_VNET_HDR` and checksum/segmentation offload
    /// (see the module docs). The interface gets TSO/GSO features as a result.
    ///
    /// # Errors
    /// [`TapError`], including [`TapError::Offload`] when the kernel refuses the virtio
    /// header size or every offload set.
    pub fn create_with_offload(name: &str) -> Result<TapDevice, TapError> {
        let mut dev = Self::offloaded(tap::open_tap_vnet_hdr(name)?)?;
        dev.watch_kernel_drops();
        Ok(dev)
    }

    fn offloaded((fd, name): (OwnedFd, String)) -> Result<TapDevice, TapError> {
        let offloads = tap::set_offload(&fd, &name)?;
        Ok(TapDevice {
            fd,
            name,
            offloads,
            kernel: None,
        })
    }

    /// Read the interface's kernel drop counters at report time ([`Port::kernel_drops`]),
    /// through a netlink socket made now, in the calling thread's namespace (the device's).
    /// Best effort: without netlink the counters are simply not reported.
    pub fn watch_kernel_drops(&mut self) {
        self.kernel = LinkDropsReader::new(&self.name).ok();
    }

    /// `queues` queues of one multiqueue TAP `name`, each as [`TapDevice::create_with_offload`]
    /// (one queue: a plain single-queue TAP, exactly that).
    ///
    /// # Errors
    /// As [`TapDevice::create_with_offload`]; queues opened before the failure are closed.
    pub fn create_queues_with_offload(
        name: &str,
        queues: usize,
    ) -> Result<Vec<TapDevice>, TapError> {
        if queues <= 1 {
            return Ok(vec![TapDevice::create_with_offload(name)?]);
        }
        let mut devs = (0..queues)
            .map(|_| Self::offloaded(tap::open_tap_queue_vnet_hdr(name)?))
            .collect::<Result<Vec<_>, _>>()?;
        // One device: its counters are reported once, by queue 0.
        if let Some(d) = devs.first_mut() {
            d.watch_kernel_drops();
        }
        Ok(devs)
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

    /// The `TUN_F_*` offload flags in effect (0 without offload).
    pub fn offloads(&self) -> u32 {
        self.offloads
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
    link: Link,
    /// Pool of [`GSO_FRAME_MAX`]-sized buffers (offloading devices only).
    large: Option<PacketPool>,
    /// A large buffer not used by the last read, kept for the next.
    spare: Option<PacketBuf>,
    /// Where GSO frames are cut into segments for a device without offload.
    scratch: Vec<u8>,
}

impl TapPort {
    /// Wrap an open TAP device whose interface has MTU `mtu`. Frames longer than
    /// `mtu` + Ethernet header + one 802.1Q tag are dropped on tx as `too_big`, as a
    /// bridge drops frames its egress port cannot carry. A device without offload gets
    /// GSO frames segmented and checksums completed in software.
    pub fn new(dev: TapDevice, mtu: u16) -> TapPort {
        let max_frame = super::max_frame(mtu);
        TapPort {
            dev,
            max_frame,
            stats: PortStats::default(),
            link: Link::default(),
            large: None,
            spare: None,
            scratch: vec![0; max_frame],
        }
    }

    /// As [`TapPort::new`] for a device made with [`TapDevice::create_with_offload`]:
    /// frames larger than the normal pool's buffers (GSO frames) are read into buffers of
    /// `large`, whose capacity should be at least [`GSO_FRAME_MAX`]. GSO frames are not
    /// held to the MTU on tx: the kernel segments them for the namespace's stack (as a Linux
    /// bridge forwards GSO skbs, `is_skb_forwardable`).
    pub fn with_large_pool(dev: TapDevice, mtu: u16, large: PacketPool) -> TapPort {
        let mut p = TapPort::new(dev, mtu);
        p.large = Some(large);
        p
    }

    fn vnet_hdr(&self) -> bool {
        self.dev.offloads != 0
    }

    /// Read one frame with its virtio header. `Ok(None)`: EAGAIN or no buffer (stop);
    /// `Ok(Some(None))`: a frame was read and dropped (counted).
    #[allow(clippy::option_option)]
    fn read_vnet(
        &mut self,
        mut small: PacketBuf,
    ) -> Result<Option<Option<PacketBuf>>, std::io::Error> {
        let mut large = match (self.spare.take(), &self.large) {
            (Some(b), _) => Some(b),
            (None, Some(pool)) => match pool.alloc() {
                Some(b) => Some(b),
                None => {
                    self.stats.rx_no_buffer += 1;
                    return Ok(None);
                }
            },
            (None, None) => None,
        };
        let mut hdr = [0u8; VNET_HDR_LEN];
        let small_buf = small.buffer_mut();
        let scap = small_buf.len();
        let mut none: [u8; 0] = [];
        let tail: &mut [u8] = match &mut large {
            Some(b) => b.buffer_mut().get_mut(scap..).unwrap_or(&mut none[..]),
            None => &mut none[..],
        };
        let cap = scap + tail.len();
        let n = fdio::readv3(self.dev.fd.as_raw_fd(), &mut hdr, small_buf, tail);
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                self.spare = large;
                return Err(e);
            }
        };
        let len = n.saturating_sub(VNET_HDR_LEN);
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += len as u64;
        if n < VNET_HDR_LEN + 14 {
            self.spare = large;
            self.stats.drops.add(DropReason::Malformed, 1);
            return Ok(Some(None));
        }
        if len >= cap {
            // As in the plain read: a full buffer may mean the kernel cut the frame.
            self.spare = large;
            self.stats.drops.add(DropReason::RxTruncated, 1);
            return Ok(Some(None));
        }
        let mut pkt = if len <= scap {
            self.spare = large;
            small.set_len(len);
            small
        } else {
            let Some(mut big) = large else {
                self.stats.drops.add(DropReason::RxTruncated, 1);
                return Ok(Some(None));
            };
            big.buffer_mut()[..scap].copy_from_slice(&small.buffer_mut()[..scap]);
            big.set_len(len);
            big
        };
        if let Some(o) = VirtioNetHdr::parse(&hdr).to_offload() {
            // A virtio header that does not fit its frame is a malformed frame (counted as
            // `malformed`, like any header inconsistent with the frame's length).
            let gso = match gso::check(pkt.data(), &o) {
                Ok(plan) => plan.is_some(),
                Err(_) => {
                    self.stats.drops.add(DropReason::Malformed, 1);
                    return Ok(Some(None));
                }
            };
            if !pkt.set_offload(Some(o)) {
                self.stats.drops.add(DropReason::Malformed, 1);
                return Ok(Some(None));
            }
            if gso {
                self.stats.rx_gso_packets += 1;
            }
        }
        Ok(Some(Some(pkt)))
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.dev.name
    }

    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        if let Some(gone) = self.link.rx_gone(&self.stats, &self.dev.name) {
            return gone;
        }
        let fd = self.dev.fd.as_raw_fd();
        let mut n = 0;
        while !batch.is_full() {
            let Some(mut pkt) = pool.alloc() else {
                self.stats.rx_no_buffer += 1;
                break;
            };
            if self.vnet_hdr() {
                match self.read_vnet(pkt) {
                    Ok(Some(Some(p))) => {
                        Link::rx_ok(&mut self.stats);
                        // Cannot fail: checked !is_full above.
                        let _ = batch.push(p);
                        n += 1;
                    }
                    Ok(Some(None)) => {}
                    Ok(None) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return self.link.rx_failed(&mut self.stats, e, &self.dev.name, n);
                    }
                }
                continue;
            }
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
                    Link::rx_ok(&mut self.stats);
                    pkt.set_len(len);
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += len as u64;
                    // Cannot fail: checked !is_full above.
                    let _ = batch.push(pkt);
                    n += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return self.link.rx_failed(&mut self.stats, e, &self.dev.name, n),
            }
        }
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        if tx_gone(&mut self.stats, batch) {
            return;
        }
        let fd = self.dev.fd.as_raw_fd();
        if !self.vnet_hdr() {
            for pkt in batch.drain() {
                if self.stats.link == LinkState::Gone {
                    // Found gone earlier in this burst: no more syscalls.
                    self.stats.drops.add(DropReason::PortDown, 1);
                    continue;
                }
                tx_without_offload(
                    &mut self.stats,
                    &mut self.link,
                    &mut self.scratch,
                    self.max_frame,
                    pkt,
                    |f| fdio::write(fd, f),
                );
            }
            return;
        }
        for pkt in batch.drain() {
            if self.stats.link == LinkState::Gone {
                self.stats.drops.add(DropReason::PortDown, 1);
                continue;
            }
            let o = pkt.offload();
            let gso = match o.map(|o| gso::check(pkt.data(), &o)) {
                None => false,
                Some(Ok(plan)) => plan.is_some(),
                Some(Err(r)) => {
                    // The kernel would refuse it (EINVAL) or corrupt it: count it here.
                    self.stats.drops.add(r, 1);
                    continue;
                }
            };
            if !gso && pkt.len() > self.max_frame {
                self.stats.drops.add(DropReason::TooBig, 1);
                continue;
            }
            let hdr = VirtioNetHdr::for_frame(pkt.data(), o).emit();
            let res = fdio::writev2(fd, &hdr, pkt.data());
            count_tx_result(&mut self.stats, &mut self.link, res, pkt.len());
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        Some(self.dev.fd.as_raw_fd())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }

    /// rx: the interface's `tx_dropped` (frames its stack sent that the TAP queue had no room
    /// for: nfv did not read them in time); tx: its `rx_dropped` (frames nfv wrote that the
    /// kernel dropped).
    fn kernel_drops(&self) -> Option<KernelDrops> {
        let d = self.dev.kernel.as_ref()?.read();
        Some(KernelDrops {
            rx: d.tx_dropped,
            tx: d.rx_dropped,
        })
    }
}
