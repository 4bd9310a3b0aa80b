//! `PacketPool` and `PacketBuf`: fixed-size packet buffers from one preallocated slab.
//!
//! A pool is a slab of `count` slots, each `headroom + capacity` bytes, plus a lock-free
//! free list of slot indices (`crossbeam_queue::ArrayQueue`, so buffers may be freed on a
//! different worker than the one that allocated them). `alloc` pops an index, dropping a
//! `PacketBuf` pushes it back: no heap allocation per packet.
//!
//! Pools live for the rest of the process (the slab is leaked on purpose, as DPDK mempools
//! and Snabb's packet freelist do). That makes a `PacketBuf` a plain pointer with no
//! reference count to bump per packet, and makes it impossible for a buffer to outlive its
//! memory. A data plane creates its pools once at start-up; tests make small ones.

use std::fmt;
use std::ptr::NonNull;

use crossbeam_queue::ArrayQueue;

/// Bytes reserved in front of every frame so that headers (an 802.1Q tag, a tunnel
/// header) can be prepended without moving the payload.
pub const DEFAULT_HEADROOM: usize = 128;

/// Bytes at the very start of a slot that hold the [`Offload`] metadata of a packet that has
/// some. They are part of the headroom: [`PacketBuf::prepend`] never reaches into them while
/// the packet carries offload metadata.
pub const OFFLOAD_META_LEN: usize = 16;

/// Top bit of `PacketBuf::idx`: the packet carries [`Offload`] metadata in its slot.
const OFFLOAD_FLAG: u32 = 1 << 31;

/// Checksum/segmentation offload state of a packet, as a `virtio_net_hdr` describes it
/// (virtio 1.x §5.1.6.2; Linux `include/uapi/linux/virtio_net.h`). Positions are relative to
/// the start of the frame (`data()`), like the virtio header's.
///
/// Stored in the slot's first [`OFFLOAD_META_LEN`] bytes (with the checksum start kept as a
/// slot offset, so inserting or removing an 802.1Q tag in front of the IP header, which moves
/// the frame start but not the IP header, keeps it right) plus one bit of the slot index:
/// `PacketBuf` stays 24 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    /// `VIRTIO_NET_HDR_F_*` flags: bit 0 NEEDS_CSUM (the L4 checksum field holds the
    /// pseudo-header sum; sum from `csum_start` to the end and store at
    /// `csum_start + csum_offset`), bit 1 DATA_VALID (checksums already verified).
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`: 0 none, 1 TCPv4, 4 TCPv6, 5 UDP (L4, "USO"), | 0x80 ECN.
    pub gso_type: u8,
    /// Payload bytes per segment (the MSS for TCP).
    pub gso_size: u16,
    /// Where the checksummed (transport) part starts, from the frame start.
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start`.
    pub csum_offset: u16,
}

/// Per-packet metadata carried beside the bytes. Kept to 6 bytes so a `PacketBuf` is 24
/// bytes and a batch of 32 moves as 768 (the element gets its input gate as an argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// Index of the port the packet entered the data plane on (set by the graph runner).
    pub rx_port: u16,
    /// Trace id ([`crate::trace`]); 0 (almost always) when the packet is not traced.
    pub trace: u16,
    /// Headers an earlier element validated, for the next one to reuse.
    pub parsed: Parsed,
}

/// Which headers of the packet an element validated and where they are, so that the next
/// element in a chain reuses the work instead of repeating it (VPP keeps the same in
/// `vnet_buffer(b)->l3_hdr_offset` with `VNET_BUFFER_F_L3_HDR_OFFSET_VALID`).
///
/// # Contract
/// The metadata is only ever true or absent:
/// * [`PacketBuf`] clears it whenever the frame's layout or length changes
///   ([`PacketBuf::prepend`], [`PacketBuf::trim_front`], [`PacketBuf::set_len`], a shortening
///   [`PacketBuf::truncate`]); a fresh buffer has none, a clone has the original's.
/// * An element that rewrites a validated header through [`PacketBuf::data_mut`] keeps it
///   valid (RFC 1624 incremental checksums, same lengths: NAT, TTL decrement) or sets
///   `meta.parsed` to [`Parsed::NONE`].
/// * It is set only by the element that just validated the header, after its own trimming
///   ([`crate::wire::ipv4::mark_valid`]).
///
/// Readers still check lengths (the checked views), so wrong metadata could never cause a
/// panic or an out-of-bounds read; it saves the checksum and the per-field checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Offset of the L3 header from the frame start (valid when `flags` says so).
    l3: u8,
    flags: u8,
}

impl Parsed {
    /// Nothing validated.
    pub const NONE: Parsed = Parsed { l3: 0, flags: 0 };
    /// Flag: the IPv4 header at `l3` passed RFC 1812 §5.2.2 validation (version, IHL and
    /// total length within the frame, header checksum).
    const IPV4: u8 = 1;

    /// The IPv4 header at frame offset `l3` is valid. Offsets past 255 are not recorded.
    #[inline]
    pub const fn ipv4_at(l3: usize) -> Parsed {
        if l3 > u8::MAX as usize {
            return Parsed::NONE;
        }
        Parsed {
            l3: l3 as u8,
            flags: Parsed::IPV4,
        }
    }

    /// Offset of a validated IPv4 header, if one was recorded.
    #[inline]
    pub const fn ipv4(self) -> Option<usize> {
        if self.flags & Parsed::IPV4 != 0 {
            Some(self.l3 as usize)
        } else {
            None
        }
    }
}

struct PoolInner {
    base: NonNull<u8>,
    slot_size: usize,
    headroom: usize,
    count: u32,
    free: ArrayQueue<u32>,
}

// SAFETY: `base` points to a leaked slab that is never freed; each slot is accessed only
// through the single `PacketBuf` that owns its index (the free list hands an index to at
// most one owner at a time), so sharing the pool between threads cannot create aliasing
// mutable access.
unsafe impl Sync for PoolInner {}
// SAFETY: see `Sync` above; the raw pointer is to process-lifetime memory.
unsafe impl Send for PoolInner {}

/// A handle to a pool of packet buffers. Cheap to copy; every copy refers to the same pool.
#[derive(Clone, Copy)]
pub struct PacketPool {
    inner: &'static PoolInner,
}

impl fmt::Debug for PacketPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketPool")
            .field("count", &self.inner.count)
            .field("capacity", &self.capacity())
            .field("available", &self.available())
            .finish()
    }
}

impl PacketPool {
    /// Make a pool of `count` buffers, each able to hold a frame of `capacity` bytes after
    /// [`DEFAULT_HEADROOM`] bytes of headroom. The memory is never returned (see module docs).
    ///
    /// # Panics
    /// If `count` is 0 or larger than `u32::MAX`, or a slot would exceed `u32::MAX` bytes:
    /// those are programming errors, not runtime conditions.
    pub fn new(count: usize, capacity: usize) -> PacketPool {
        Self::with_headroom(count, capacity, DEFAULT_HEADROOM)
    }

    /// As [`PacketPool::new`] with an explicit headroom.
    ///
    /// # Panics
    /// As [`PacketPool::new`].
    pub fn with_headroom(count: usize, capacity: usize, headroom: usize) -> PacketPool {
        assert!(count > 0, "a packet pool needs at least one buffer");
        let count32 = u32::try_from(count).expect("pool count fits in u32");
        assert!(
            u16::try_from(headroom).is_ok(),
            "headroom fits the 16-bit frame start"
        );
        assert!(
            count32 < OFFLOAD_FLAG,
            "pool count leaves the offload bit free"
        );
        // Round slots to a cache line so neighbouring buffers don't share lines.
        let slot_size = (headroom + capacity).div_ceil(64) * 64;
        assert!(u32::try_from(slot_size).is_ok(), "slot size fits in u32");
        let slab: &'static mut [u8] = Box::leak(vec![0u8; slot_size * count].into_boxed_slice());
        let base = NonNull::new(slab.as_mut_ptr()).expect("leaked slab is non-null");
        let free = ArrayQueue::new(count);
        for i in 0..count32 {
            // Capacity is `count`, so this cannot fail.
            let _ = free.push(i);
        }
        let inner = Box::leak(Box::new(PoolInner {
            base,
            slot_size,
            headroom,
            count: count32,
            free,
        }));
        PacketPool { inner }
    }

    /// Take a buffer from the pool, or `None` if every buffer is in use.
    /// The buffer is empty (`len() == 0`) with the pool's full headroom.
    #[inline]
    pub fn alloc(&self) -> Option<PacketBuf> {
        let idx = self.inner.free.pop()?;
        Some(PacketBuf {
            pool: self.inner,
            idx,
            head: self.inner.headroom as u16,
            len: 0,
            meta: Meta::default(),
        })
    }

    /// A copy of `pkt` (bytes and metadata) in a buffer of this pool, or `None` if the pool
    /// is empty or `pkt` does not fit in this pool's buffers.
    ///
    /// A frame too large for this pool's buffers (a 64 KB GSO frame from the large-buffer
    /// pool of an offloading port, cloned by a flooding switch) is copied into a buffer of
    /// the pool it came from instead.
    pub fn try_clone(&self, pkt: &PacketBuf) -> Option<PacketBuf> {
        let data = pkt.data();
        let head = pkt.headroom().min(self.inner.headroom);
        if head + data.len() > self.inner.slot_size {
            if std::ptr::eq(self.inner, pkt.pool) {
                return None;
            }
            return PacketPool { inner: pkt.pool }.try_clone(pkt);
        }
        let mut copy = self.alloc()?;
        copy.head = head as u16;
        copy.buffer_mut()[..data.len()].copy_from_slice(data);
        copy.len = data.len() as u32;
        copy.meta = pkt.meta;
        if let Some(o) = pkt.offload() {
            // Cannot fail unless this pool's headroom is under OFFLOAD_META_LEN; then the
            // copy is useless (its checksum would be left incomplete).
            if !copy.set_offload(Some(o)) {
                return None;
            }
        }
        Some(copy)
    }

    /// Largest frame a buffer can hold with full headroom.
    pub fn capacity(&self) -> usize {
        self.inner.slot_size - self.inner.headroom
    }

    /// Total number of buffers.
    pub fn count(&self) -> usize {
        self.inner.count as usize
    }

    /// Buffers currently free.
    pub fn available(&self) -> usize {
        self.inner.free.len()
    }
}

/// Returned by [`PacketBuf::prepend`] when there is not enough headroom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoHeadroom;

/// A move-only handle to one pool slot holding one frame. Dropping it returns the slot.
///
/// The frame is `data()`: `len` bytes starting `head` bytes into the slot. `head` is 16
/// bits (headroom is at most 64 KiB and [`PacketBuf::trim_front`] refuses to move the start
/// further) so that [`Meta`] fits beside it in 24 bytes.
pub struct PacketBuf {
    pool: &'static PoolInner,
    idx: u32,
    len: u32,
    head: u16,
    /// Metadata that travels with the packet.
    pub meta: Meta,
}

// SAFETY: a PacketBuf exclusively owns its slot (the free list hands each index to one
// owner), so moving it to another thread moves that exclusive access with it.
unsafe impl Send for PacketBuf {}

impl fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketBuf")
            .field("slot", &self.idx)
            .field("head", &self.head)
            .field("len", &self.len)
            .field("meta", &self.meta)
            .finish()
    }
}

impl PacketBuf {
    /// The slot index without the offload bit.
    #[inline]
    fn slot_index(&self) -> usize {
        (self.idx & !OFFLOAD_FLAG) as usize
    }

    #[inline]
    fn slot(&self) -> &[u8] {
        let size = self.pool.slot_size;
        // SAFETY: slot_index() < count, so the range lies inside the leaked slab; this handle owns the
        // slot exclusively, so no mutable alias exists while `&self` is borrowed.
        unsafe {
            std::slice::from_raw_parts(self.pool.base.as_ptr().add(self.slot_index() * size), size)
        }
    }

    #[inline]
    fn slot_mut(&mut self) -> &mut [u8] {
        let size = self.pool.slot_size;
        // SAFETY: as in `slot`, and `&mut self` guarantees this is the only live access.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.pool.base.as_ptr().add(self.slot_index() * size),
                size,
            )
        }
    }

    /// The packet's offload metadata, if it has any (a frame from an offloading TAP with
    /// NEEDS_CSUM or GSO). A checksum start that an element moved the frame start past is
    /// reported as `u16::MAX`, which every validation rejects.
    #[inline]
    pub fn offload(&self) -> Option<Offload> {
        if self.idx & OFFLOAD_FLAG == 0 {
            return None;
        }
        let m = &self.slot()[..OFFLOAD_META_LEN];
        let abs = u32::from_ne_bytes([m[6], m[7], m[8], m[9]]);
        let csum_start = abs
            .checked_sub(u32::from(self.head))
            .and_then(|r| u16::try_from(r).ok())
            .unwrap_or(u16::MAX);
        Some(Offload {
            flags: m[0],
            gso_type: m[1],
            gso_size: u16::from_ne_bytes([m[2], m[3]]),
            csum_start,
            csum_offset: u16::from_ne_bytes([m[4], m[5]]),
        })
    }

    /// True when the packet is a GSO super-frame (a segmentation type other than none).
    #[inline]
    pub fn is_gso(&self) -> bool {
        self.offload().is_some_and(|o| o.gso_type & 0x7f != 0)
    }

    /// Attach (or with `None`, remove) offload metadata. Returns false, changing nothing,
    /// when the frame start is within [`OFFLOAD_META_LEN`] bytes of the slot start (no room
    /// for the metadata).
    pub fn set_offload(&mut self, o: Option<Offload>) -> bool {
        let Some(o) = o else {
            self.idx &= !OFFLOAD_FLAG;
            return true;
        };
        if (self.head as usize) < OFFLOAD_META_LEN {
            return false;
        }
        let abs = u32::from(self.head) + u32::from(o.csum_start);
        let m = &mut self.slot_mut()[..OFFLOAD_META_LEN];
        m[0] = o.flags;
        m[1] = o.gso_type;
        m[2..4].copy_from_slice(&o.gso_size.to_ne_bytes());
        m[4..6].copy_from_slice(&o.csum_offset.to_ne_bytes());
        m[6..10].copy_from_slice(&abs.to_ne_bytes());
        self.idx |= OFFLOAD_FLAG;
        true
    }

    /// The frame bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let (h, l) = (self.head as usize, self.len as usize);
        &self.slot()[h..h + l]
    }

    /// The frame bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (h, l) = (self.head as usize, self.len as usize);
        &mut self.slot_mut()[h..h + l]
    }

    /// Frame length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when the frame has no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes free in front of the frame.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.head as usize
    }

    /// Bytes free after the frame.
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.pool.slot_size - self.head as usize - self.len as usize
    }

    /// Everything from the frame start to the end of the slot, for a port to read a frame
    /// into; follow with [`PacketBuf::set_len`].
    #[inline]
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        let h = self.head as usize;
        &mut self.slot_mut()[h..]
    }

    /// Set the frame length after writing into [`PacketBuf::buffer_mut`]. Clamped to the
    /// space available, so a wrong length can never expose bytes outside the slot.
    #[inline]
    pub fn set_len(&mut self, len: usize) {
        let max = self.pool.slot_size - self.head as usize;
        self.len = len.min(max) as u32;
        self.meta.parsed = Parsed::NONE;
    }

    /// Grow the frame by `n` bytes at the front and return them.
    ///
    /// # Errors
    /// [`NoHeadroom`] when fewer than `n` bytes of headroom are left.
    #[inline]
    pub fn prepend(&mut self, n: usize) -> Result<&mut [u8], NoHeadroom> {
        let reserved = if self.idx & OFFLOAD_FLAG != 0 {
            OFFLOAD_META_LEN
        } else {
            0
        };
        if n + reserved > self.head as usize {
            return Err(NoHeadroom);
        }
        self.head -= n as u16;
        self.len += n as u32;
        self.meta.parsed = Parsed::NONE;
        let h = self.head as usize;
        Ok(&mut self.slot_mut()[h..h + n])
    }

    /// Remove `n` bytes from the front. Returns false (and changes nothing) if the frame is
    /// shorter than `n` or the frame start would move past 64 KiB into the slot.
    #[inline]
    pub fn trim_front(&mut self, n: usize) -> bool {
        let Some(head) = u16::try_from(n).ok().and_then(|n| self.head.checked_add(n)) else {
            return false;
        };
        if n > self.len as usize {
            return false;
        }
        self.head = head;
        self.len -= n as u32;
        self.meta.parsed = Parsed::NONE;
        true
    }

    /// Shorten the frame to `len` bytes (no effect if it is already shorter).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len as usize {
            self.len = len as u32;
            self.meta.parsed = Parsed::NONE;
        }
    }

    /// Append `bytes` at the end. Returns false (and changes nothing) without tailroom.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.tailroom() {
            return false;
        }
        let end = self.head as usize + self.len as usize;
        self.slot_mut()[end..end + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len() as u32;
        true
    }
}

impl Drop for PacketBuf {
    #[inline]
    fn drop(&mut self) {
        // Cannot fail: the queue has room for every index and each index is owned once.
        let pushed = self.pool.free.push(self.idx & !OFFLOAD_FLAG);
        debug_assert!(pushed.is_ok(), "packet pool free list overflow");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_alloc_until_empty_then_drop_returns_slots() {
        let pool = PacketPool::new(4, 256);
        let bufs: Vec<_> = (0..4).map(|_| pool.alloc().expect("buffer")).collect();
        assert_eq!(pool.available(), 0);
        assert!(pool.alloc().is_none());
        drop(bufs);
        assert_eq!(pool.available(), 4);
    }

    #[test]
    fn packetbuf_prepend_trim_extend_respect_bounds() {
        let pool = PacketPool::with_headroom(1, 64, 8);
        let mut p = pool.alloc().expect("buffer");
        assert!(p.extend_from_slice(&[1, 2, 3]));
        assert_eq!(p.data(), &[1, 2, 3]);
        p.prepend(2).expect("headroom").copy_from_slice(&[9, 9]);
        assert_eq!(p.data(), &[9, 9, 1, 2, 3]);
        assert_eq!(p.prepend(7), Err(NoHeadroom));
        assert!(p.trim_front(3));
        assert_eq!(p.data(), &[2, 3]);
        assert!(!p.trim_front(3));
        let tail = p.tailroom();
        assert!(!p.extend_from_slice(&vec![0; tail + 1]));
        p.set_len(usize::MAX);
        assert_eq!(p.tailroom(), 0, "set_len clamps to the slot");
        assert!(p.len() + p.headroom() >= 64 + 8);
    }

    #[test]
    fn clone_copies_bytes_and_meta_into_a_new_slot() {
        let pool = PacketPool::new(2, 128);
        let mut a = pool.alloc().expect("buffer");
        assert!(a.extend_from_slice(b"hello"));
        a.meta.rx_port = 7;
        let b = pool.try_clone(&a).expect("clone");
        assert_eq!(b.data(), b"hello");
        assert_eq!(b.meta.rx_port, 7);
        assert!(pool.try_clone(&a).is_none(), "pool is empty now");
    }

    #[test]
    fn buffers_move_between_threads() {
        let pool = PacketPool::new(8, 128);
        let mut p = pool.alloc().expect("buffer");
        assert!(p.extend_from_slice(b"x"));
        let h = std::thread::spawn(move || p.data().to_vec());
        assert_eq!(h.join().expect("join"), b"x");
        assert_eq!(pool.available(), 8);
    }
}

#[cfg(test)]
mod offload_tests {
    use super::*;

    fn meta() -> Offload {
        Offload {
            flags: 1,
            gso_type: 1,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        }
    }

    #[test]
    fn offload_metadata_round_trips_and_follows_the_ip_header_through_a_tag_insert() {
        let pool = PacketPool::new(2, 256);
        let mut p = pool.alloc().expect("buffer");
        assert!(p.extend_from_slice(&[0u8; 100]));
        assert_eq!(p.offload(), None);
        assert!(p.set_offload(Some(meta())));
        assert_eq!(p.offload(), Some(meta()));
        assert!(p.is_gso());
        // An 802.1Q tag pushed in front: the transport header moved 4 bytes from the start.
        p.prepend(4).expect("headroom");
        assert_eq!(p.offload().map(|o| o.csum_start), Some(38));
        assert!(p.trim_front(4));
        // Trimmed past the checksum start: reported as invalid, not wrapped.
        assert!(p.trim_front(40));
        assert_eq!(p.offload().map(|o| o.csum_start), Some(u16::MAX));
        assert!(p.set_offload(None));
        assert_eq!(p.offload(), None);
    }

    #[test]
    fn prepend_never_overwrites_the_offload_metadata_and_drop_returns_the_slot() {
        let pool = PacketPool::with_headroom(1, 64, 20);
        let mut p = pool.alloc().expect("buffer");
        assert!(p.set_offload(Some(meta())));
        assert_eq!(
            p.prepend(5),
            Err(NoHeadroom),
            "only 4 bytes above the metadata"
        );
        assert!(p.prepend(4).is_ok());
        assert_eq!(p.offload().map(|o| o.gso_size), Some(1448));
        drop(p);
        let q = pool.alloc().expect("the slot came back");
        assert_eq!(q.offload(), None, "a fresh buffer has no offload metadata");
        let small = PacketPool::with_headroom(1, 64, 8);
        let mut s = small.alloc().expect("buffer");
        assert!(!s.set_offload(Some(meta())), "no room for the metadata");
        assert_eq!(s.offload(), None);
    }

    #[test]
    fn clone_of_a_frame_too_big_for_the_pool_uses_the_frames_own_pool() {
        let small = PacketPool::new(4, 128);
        let big = PacketPool::new(2, 4096);
        let mut p = big.alloc().expect("buffer");
        assert!(p.extend_from_slice(&[7u8; 3000]));
        assert!(p.set_offload(Some(meta())));
        let c = small.try_clone(&p).expect("cloned into the large pool");
        assert_eq!(c.data(), p.data());
        assert_eq!(c.offload(), Some(meta()));
        assert_eq!(big.available(), 0);
        assert_eq!(small.available(), 4);
        assert!(small.try_clone(&p).is_none(), "large pool empty: no clone");
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn packetbuf_stays_24_bytes() {
        // A batch of 32 handles is moved between nodes by value: keep it at 768 bytes.
        assert_eq!(std::mem::size_of::<super::PacketBuf>(), 24);
        assert_eq!(std::mem::size_of::<super::Meta>(), 6);
    }

    #[test]
    fn parsed_metadata_is_cleared_by_every_layout_or_length_change() {
        use super::{PacketPool, Parsed};
        let pool = PacketPool::new(2, 256);
        let mut p = pool.alloc().expect("buffer");
        assert_eq!(p.meta.parsed, Parsed::NONE, "a fresh buffer has none");
        assert!(p.extend_from_slice(&[0u8; 100]));
        let changes: [fn(&mut super::PacketBuf); 4] = [
            |p| drop(p.prepend(4)),
            |p| assert!(p.trim_front(4)),
            |p| p.truncate(50),
            |p| p.set_len(40),
        ];
        for (i, change) in changes.iter().enumerate() {
            p.meta.parsed = Parsed::ipv4_at(14);
            change(&mut p);
            assert_eq!(p.meta.parsed, Parsed::NONE, "change {i}");
        }
        p.meta.parsed = Parsed::ipv4_at(14);
        let len = p.len();
        p.truncate(len + 10);
        assert_eq!(
            p.meta.parsed.ipv4(),
            Some(14),
            "truncate to no shorter keeps it"
        );
        let c = pool.try_clone(&p).expect("clone");
        assert_eq!(c.meta.parsed.ipv4(), Some(14), "a clone has the same bytes");
        assert_eq!(Parsed::ipv4_at(300), Parsed::NONE);
    }

    #[test]
    fn trim_front_never_moves_the_frame_start_past_16_bits() {
        let pool = super::PacketPool::new(1, 70_000);
        let mut p = pool.alloc().expect("buffer");
        assert!(p.extend_from_slice(&vec![0u8; 69_000]));
        assert!(!p.trim_front(65_500), "start would pass 64 KiB");
        assert!(p.trim_front(1000));
        assert_eq!(p.len(), 68_000);
    }
}
