//! [`PacketSocketPort`]: an `AF_PACKET` socket on an existing interface.
//!
//! For `kind: tap` nodes nfv creates a persistent TAP for a VM; QEMU attaches to its user
//! side, so nfv reaches the VM through the TAP's *kernel* side with this port. The kernel
//! strips 802.1Q tags on receive into metadata; they are put back here so trunk ports to
//! VMs see the frame exactly as the VM sent it.
//!
//! No offload: GSO frames from an offloading namespace host are segmented, and NEEDS_CSUM
//! checksums completed, in software before they are sent (`port::tx_without_offload`).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::{
    KernelDrops, Link, LinkState, Port, PortError, PortStats, tx_gone, tx_without_offload,
};
use crate::element::DropReason;
use crate::packet::{Batch, PacketPool};
use crate::sys::netlink::LinkDropsReader;
use crate::sys::packet_socket;

/// A [`Port`] over an `AF_PACKET` socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocketPort {
    fd: OwnedFd,
    name: String,
    max_frame: usize,
    stats: PortStats,
    link: Link,
    /// The interface's kernel drop counters (none if netlink could not be opened).
    kernel: Option<LinkDropsReader>,
    /// The socket's own drops so far (`PACKET_STATISTICS` resets on every read).
    socket_drops: std::cell::Cell<u64>,
    /// Where GSO frames are cut into segments (this port takes no offload state).
    scratch: Vec<u8>,
}

impl PacketSocketPort {
    /// Bind to interface `name` with index `ifindex` and MTU `mtu` (in the calling thread's
    /// namespace). Longer frames are dropped on tx as `too_big`.
    ///
    /// # Errors
    /// The OS error from socket setup.
    pub fn open(name: &str, ifindex: u32, mtu: u16) -> std::io::Result<PacketSocketPort> {
        Ok(PacketSocketPort {
            fd: packet_socket::open(ifindex)?,
            name: name.to_string(),
            max_frame: super::max_frame(mtu),
            stats: PortStats::default(),
            link: Link::default(),
            kernel: LinkDropsReader::new(name).ok(),
            socket_drops: std::cell::Cell::new(0),
            scratch: vec![0; super::max_frame(mtu)],
        })
    }
}

impl Port for PacketSocketPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        if let Some(gone) = self.link.rx_gone(&self.stats, &self.name) {
            return gone;
        }
        let fd = self.fd.as_raw_fd();
        let mut n = 0;
        while !batch.is_full() {
            let Some(mut pkt) = pool.alloc() else {
                self.stats.rx_no_buffer += 1;
                break;
            };
            let buf = pkt.buffer_mut();
            // Keep 4 bytes spare for a tag the kernel may have stripped.
            let cap = buf.len().saturating_sub(4);
            match packet_socket::recv(fd, &mut buf[..cap]) {
                Ok((len, tag)) => {
                    Link::rx_ok(&mut self.stats);
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += len as u64;
                    if len > cap {
                        self.stats.drops.add(DropReason::RxTruncated, 1);
                        continue;
                    }
                    pkt.set_len(len);
                    if let Some(tag) = tag
                        && (len < 12 || !reinsert_tag(&mut pkt, tag))
                    {
                        self.stats.drops.add(DropReason::Malformed, 1);
                        continue;
                    }
                    let _ = batch.push(pkt);
                    n += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return self.link.rx_failed(&mut self.stats, e, &self.name, n),
            }
        }
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        if tx_gone(&mut self.stats, batch) {
            return;
        }
        let fd = self.fd.as_raw_fd();
        for pkt in batch.drain() {
            if self.stats.link == LinkState::Gone {
                // Found gone earlier in this burst: no more syscalls.
                self.stats.drops.add(DropReason::PortDown, 1);
                continue;
            }
            // The VM's TAP is a device without offload from here: wire frames only.
            tx_without_offload(
                &mut self.stats,
                &mut self.link,
                &mut self.scratch,
                self.max_frame,
                pkt,
                |f| packet_socket::send(fd, f),
            );
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }

    /// rx: the socket's own drops plus the interface's `rx_dropped` (frames from the VM the
    /// kernel dropped); tx: the interface's `tx_dropped` (frames for the VM its TAP queue had
    /// no room for).
    fn kernel_drops(&self) -> Option<KernelDrops> {
        if let Ok(n) = packet_socket::drops_since_last(self.fd.as_raw_fd()) {
            self.socket_drops
                .set(self.socket_drops.get() + u64::from(n));
        }
        let link = self
            .kernel
            .as_ref()
            .map(LinkDropsReader::read)
            .unwrap_or_default();
        Some(KernelDrops {
            rx: self.socket_drops.get() + link.rx_dropped,
            tx: link.tx_dropped,
        })
    }
}

/// Put a stripped 802.1Q/802.1ad tag back after the two MAC addresses.
fn reinsert_tag(pkt: &mut crate::packet::PacketBuf, tag: packet_socket::StrippedTag) -> bool {
    if pkt.prepend(4).is_err() {
        return false;
    }
    let d = pkt.data_mut();
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&tag.tpid.to_be_bytes());
    d[14..16].copy_from_slice(&tag.tci.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reinsert_tag_restores_the_8021q_header() {
        let pool = PacketPool::new(1, 128);
        let mut p = pool.alloc().expect("buf");
        let frame: Vec<u8> = (0u8..20).collect();
        assert!(p.extend_from_slice(&frame));
        assert!(reinsert_tag(
            &mut p,
            packet_socket::StrippedTag {
                tpid: 0x8100,
                tci: 0x0014
            }
        ));
        let d = p.data();
        assert_eq!(&d[..12], &frame[..12]);
        assert_eq!(&d[12..16], &[0x81, 0x00, 0x00, 0x14]);
        assert_eq!(&d[16..], &frame[12..]);
    }
}
