//! Packet capture: the classic libpcap file format, and the tap a worker arms on a port.
//!
//! # File format
//! Classic libpcap (not pcapng): a 24-byte global header (magic `0xa1b2c3d4`, version 2.4,
//! snaplen, `LINKTYPE_ETHERNET`), then per frame a 16-byte record header (seconds,
//! microseconds, captured length, original length) and the frame. [`PcapWriter`] writes
//! little-endian files; [`PcapReader`] streams either byte order (microsecond magic only),
//! [`read_pcap`] reads a whole file held in memory with it.
//! Hand-written: it is ~100 lines, needs no dependency, and the data plane only ever
//! writes/reads Ethernet frames whole.
//!
//! # Tap
//! A [`CaptureTap`] is armed on one port of a [`crate::graph::Graph`] (through the worker's
//! control channel). While armed, the graph copies every frame crossing the port in the
//! asked [`Direction`] into a `Vec<u8>` and `try_send`s it on a bounded channel (a full
//! channel drops the copy, never the packet). When the receiving side is gone the graph
//! disarms the tap. With no tap armed the cost is one `Option` check per burst per port.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::packet::Batch;

/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Magic of a microsecond-resolution classic pcap file.
pub const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// Snapshot length written in headers (frames are never truncated). libpcap's maximum and
/// tcpdump's default: GSO super-frames from offloading TAPs are up to ~64 KB + headers,
/// over the classic 65 535.
pub const SNAPLEN: u32 = 262_144;

/// Writes a classic pcap stream (little-endian, microseconds, Ethernet).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Write the global header to `out`.
    ///
    /// # Errors
    /// Any write error.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&PCAP_MAGIC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs: 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Append one frame captured at `ts`.
    ///
    /// # Errors
    /// Any write error.
    pub fn write(&mut self, ts: SystemTime, frame: &[u8]) -> io::Result<()> {
        let d = ts.duration_since(UNIX_EPOCH).unwrap_or_default();
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(d.as_secs() as u32).to_le_bytes());
        h[4..8].copy_from_slice(&d.subsec_micros().to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(frame)
    }

    /// Flush the output.
    ///
    /// # Errors
    /// Any flush error.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and return the output.
    ///
    /// # Errors
    /// Any flush error.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Largest captured length a record may claim ([`SNAPLEN`], libpcap's maximum): a record
/// header claiming more is a corrupt file (or not pcap at all), refused rather than read.
pub const MAX_CAPLEN: usize = SNAPLEN as usize;

/// One frame of a pcap file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// Seconds since the epoch.
    pub ts_sec: u32,
    /// Microseconds.
    pub ts_usec: u32,
    /// The frame (captured bytes).
    pub data: Vec<u8>,
}

/// Why a pcap file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PcapError {
    /// Shorter than the global header, or a record is cut short.
    #[error("truncated pcap data at byte {0}")]
    Truncated(u64),
    /// Not a classic microsecond pcap file.
    #[error(
        "not a classic pcap file (magic {0:#010x}; pcapng and nanosecond files are not supported)"
    )]
    BadMagic(u32),
    /// Not Ethernet.
    #[error("link type {0} is not Ethernet (1)")]
    LinkType(u32),
    /// A record header claims more than [`MAX_CAPLEN`] bytes.
    #[error("record at byte {at} claims {len} bytes (more than {MAX_CAPLEN}): corrupt pcap data")]
    RecordTooLong {
        /// Offset of the record header.
        at: u64,
        /// The captured length it claims.
        len: u32,
    },
    /// Reading failed (other than end of file).
    #[error("couldn't read pcap data: {0}")]
    Io(String),
}

/// The header of one record, as [`PcapReader::next_into`] returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Seconds since the epoch.
    pub ts_sec: u32,
    /// Microseconds.
    pub ts_usec: u32,
    /// Captured length: the frame's bytes in the file (at most [`MAX_CAPLEN`]).
    pub caplen: usize,
}

/// Fill `buf`; the bytes read, fewer than `buf.len()` only at the end of the data.
fn read_full(r: &mut impl io::Read, buf: &mut [u8]) -> Result<usize, PcapError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(PcapError::Io(e.to_string())),
        }
    }
    Ok(got)
}

/// A streaming reader of a classic pcap file (either byte order, microsecond magic,
/// Ethernet): the global header is checked by [`PcapReader::new`] before anything else is
/// read, then one record at a time goes straight into the caller's buffer, so memory stays
/// bounded whatever the file's size. Wrap a file in a `BufReader`: each record is two reads.
#[derive(Debug)]
pub struct PcapReader<R> {
    r: R,
    le: bool,
    /// Offset of the next record header.
    at: u64,
}

impl<R: io::Read> PcapReader<R> {
    /// Read and check the 24-byte global header.
    ///
    /// # Errors
    /// [`PcapError`] when the data is shorter than a header, not classic microsecond pcap,
    /// not Ethernet, or cannot be read.
    pub fn new(mut r: R) -> Result<PcapReader<R>, PcapError> {
        let mut head = [0u8; 24];
        let got = read_full(&mut r, &mut head)?;
        if got < head.len() {
            return Err(PcapError::Truncated(got as u64));
        }
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let le = match magic {
            PCAP_MAGIC => true,
            m if m == PCAP_MAGIC.swap_bytes() => false,
            m => return Err(PcapError::BadMagic(m)),
        };
        let rd = PcapReader { r, le, at: 24 };
        let link = rd.u32_at(&head, 20);
        if link != LINKTYPE_ETHERNET {
            return Err(PcapError::LinkType(link));
        }
        Ok(rd)
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    }

    /// Read the next record: its frame goes into `buf` (the first `buf.len()` bytes of it
    /// if it is longer: `caplen > buf.len()` tells the caller it was cut; the rest is read
    /// past). `Ok(None)` at the end of the data.
    ///
    /// # Errors
    /// [`PcapError::Truncated`] for a record cut short, [`PcapError::RecordTooLong`],
    /// [`PcapError::Io`]. The reader is then positioned nowhere useful.
    pub fn next_into(&mut self, buf: &mut [u8]) -> Result<Option<RecordHeader>, PcapError> {
        let at = self.at;
        let mut h = [0u8; 16];
        match read_full(&mut self.r, &mut h)? {
            0 => return Ok(None),
            16 => {}
            _ => return Err(PcapError::Truncated(at)),
        }
        let caplen = self.u32_at(&h, 8);
        if caplen as usize > MAX_CAPLEN {
            return Err(PcapError::RecordTooLong { at, len: caplen });
        }
        let caplen = caplen as usize;
        let keep = caplen.min(buf.len());
        if read_full(&mut self.r, &mut buf[..keep])? < keep {
            return Err(PcapError::Truncated(at));
        }
        let rest = (caplen - keep) as u64;
        if rest > 0 {
            let skipped = io::copy(&mut io::Read::take(&mut self.r, rest), &mut io::sink())
                .map_err(|e| PcapError::Io(e.to_string()))?;
            if skipped < rest {
                return Err(PcapError::Truncated(at));
            }
        }
        self.at = at + 16 + caplen as u64;
        Ok(Some(RecordHeader {
            ts_sec: self.u32_at(&h, 0),
            ts_usec: self.u32_at(&h, 4),
            caplen,
        }))
    }

    /// The underlying reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.r
    }
}

impl<R: io::Read + io::Seek> PcapReader<R> {
    /// Go back to the first record (for a replay in a loop).
    ///
    /// # Errors
    /// The seek's error.
    pub fn rewind(&mut self) -> io::Result<()> {
        self.r.seek(io::SeekFrom::Start(24))?;
        self.at = 24;
        Ok(())
    }
}

/// Parse a whole classic pcap file held in memory (either byte order).
///
/// # Errors
/// [`PcapError`] on anything but an Ethernet, microsecond classic pcap file.
pub fn read_pcap(bytes: &[u8]) -> Result<Vec<PcapRecord>, PcapError> {
    let mut r = PcapReader::new(bytes)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; MAX_CAPLEN];
    while let Some(h) = r.next_into(&mut buf)? {
        out.push(PcapRecord {
            ts_sec: h.ts_sec,
            ts_usec: h.ts_usec,
            data: buf[..h.caplen].to_vec(),
        });
    }
    Ok(out)
}

/// Which frames of a port a capture sees. rx = into the data plane, tx = out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Frames the port received.
    Rx,
    /// Frames offered to the port for sending.
    Tx,
    /// Both.
    Both,
}

impl Direction {
    /// `rx`, `tx` or `both`.
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "rx" => Some(Direction::Rx),
            "tx" => Some(Direction::Tx),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }

    fn covers(self, d: Direction) -> bool {
        self == Direction::Both || self == d
    }
}

/// A copy of one frame.
#[derive(Clone, Debug)]
pub struct CapturedFrame {
    /// Wall-clock time of the burst it was in.
    pub ts: SystemTime,
    /// [`Direction::Rx`] or [`Direction::Tx`].
    pub dir: Direction,
    /// The frame.
    pub data: Vec<u8>,
}

/// The sending half of a capture, armed on a port (see the module docs).
#[derive(Debug)]
pub struct CaptureTap {
    dir: Direction,
    tx: SyncSender<CapturedFrame>,
}

/// A new capture of `dir` frames with room for `queue` frames in flight; arm the tap,
/// read the receiver. Dropping the receiver disarms the tap at the port's next frame.
pub fn capture(dir: Direction, queue: usize) -> (CaptureTap, Receiver<CapturedFrame>) {
    let (tx, rx) = sync_channel(queue);
    (CaptureTap { dir, tx }, rx)
}

impl CaptureTap {
    /// Copy the frames of `batch` crossing in direction `d` (`Rx` or `Tx`). Returns false
    /// when the receiver is gone and the tap should be disarmed.
    pub fn record(&self, d: Direction, batch: &Batch) -> bool {
        if !self.dir.covers(d) || batch.is_empty() {
            return true;
        }
        let ts = SystemTime::now();
        for p in batch.iter() {
            let frame = CapturedFrame {
                ts,
                dir: d,
                data: p.data().to_vec(),
            };
            match self.tx.try_send(frame) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn pcap_round_trip() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_000);
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write(t, &[1, 2, 3, 4]).unwrap();
        w.write(t + Duration::from_micros(1), &[0xff; 60]).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 4 + 16 + 60);
        let recs = read_pcap(&bytes).unwrap();
        assert_eq!(
            recs,
            vec![
                PcapRecord {
                    ts_sec: 1_700_000_000,
                    ts_usec: 123_456,
                    data: vec![1, 2, 3, 4],
                },
                PcapRecord {
                    ts_sec: 1_700_000_000,
                    ts_usec: 123_457,
                    data: vec![0xff; 60],
                },
            ]
        );
        assert_eq!(read_pcap(&bytes[..24]).unwrap(), vec![]);
    }

    #[test]
    fn pcap_reader_takes_big_endian_and_rejects_bad_files() {
        let mut be = Vec::new();
        for v in [PCAP_MAGIC, 0x0002_0004, 0, 0, SNAPLEN, LINKTYPE_ETHERNET] {
            be.extend_from_slice(&v.to_be_bytes());
        }
        // The version is two u16s: 2 then 4, in big-endian that is 0x0002_0004 as a u32.
        for v in [7u32, 8, 2, 2] {
            be.extend_from_slice(&v.to_be_bytes());
        }
        be.extend_from_slice(&[9, 9]);
        let recs = read_pcap(&be).unwrap();
        assert_eq!((recs[0].ts_sec, recs[0].ts_usec), (7, 8));
        assert_eq!(recs[0].data, vec![9, 9]);

        assert_eq!(read_pcap(&be[..30]), Err(PcapError::Truncated(24)));
        assert_eq!(read_pcap(&[0; 10]), Err(PcapError::Truncated(10)));
        let mut ng = be.clone();
        ng[..4].copy_from_slice(&0x0a0d_0d0au32.to_be_bytes());
        assert_eq!(read_pcap(&ng), Err(PcapError::BadMagic(0x0a0d_0d0a)));
        let mut raw_ip = be;
        raw_ip[20..24].copy_from_slice(&101u32.to_be_bytes());
        assert_eq!(read_pcap(&raw_ip), Err(PcapError::LinkType(101)));
    }

    #[test]
    fn reader_streams_into_the_callers_buffer_and_refuses_absurd_records() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write(UNIX_EPOCH, &[1; 10]).unwrap();
        w.write(UNIX_EPOCH, &[2; 3]).unwrap();
        let bytes = w.finish().unwrap();
        let mut r = PcapReader::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let mut buf = [0u8; 4];
        let h = r.next_into(&mut buf).unwrap().unwrap();
        assert_eq!(
            (h.caplen, buf),
            (10, [1; 4]),
            "cut to the buffer, length kept"
        );
        let h = r.next_into(&mut buf).unwrap().unwrap();
        assert_eq!((h.caplen, &buf[..3]), (3, &[2u8; 3][..]));
        assert_eq!(r.next_into(&mut buf), Ok(None));
        r.rewind().unwrap();
        assert_eq!(r.next_into(&mut buf).unwrap().unwrap().caplen, 10);

        // A record claiming 4 GB is refused without reading (or allocating) anything.
        let mut huge = bytes.clone();
        huge[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            read_pcap(&huge),
            Err(PcapError::RecordTooLong {
                at: 24,
                len: u32::MAX
            })
        );
        // A frame cut short after a record header.
        assert_eq!(
            read_pcap(&bytes[..bytes.len() - 1]),
            Err(PcapError::Truncated(24 + 16 + 10))
        );
        // The header is checked from the first 24 bytes: an endless source of zeros is
        // refused at once (it used to be read whole first).
        assert_eq!(
            PcapReader::new(std::io::repeat(0)).map(|_| ()),
            Err(PcapError::BadMagic(0))
        );
    }

    #[test]
    fn graph_copies_rx_and_tx_of_the_armed_port_and_disarms() {
        use crate::graph::{Endpoint, GraphBuilder};
        use crate::testing::{QueuePort, eth, mac};
        let pool = crate::PacketPool::new(64, 256);
        let mut gb = GraphBuilder::new(pool);
        let a = QueuePort::new("a");
        let b = QueuePort::new("b");
        let pa = gb.add_port("h1:eth0", Box::new(a.clone())).unwrap();
        let pb = gb.add_port("h2:eth0", Box::new(b.clone())).unwrap();
        gb.link(Endpoint::Port(pa), Endpoint::Port(pb)).unwrap();
        let mut g = gb.build();
        let (tap, rx) = capture(Direction::Both, 16);
        assert!(!g.set_capture("nope:eth0", capture(Direction::Both, 1).0));
        assert!(g.set_capture("h2:eth0", tap));
        let ab = eth(mac(2), mac(1), 0x0800, b"to h2");
        let ba = eth(mac(1), mac(2), 0x0800, b"to h1");
        a.push_rx(&ab);
        b.push_rx(&ba);
        g.poll(crate::Instant::ZERO);
        let got: Vec<_> = rx.try_iter().map(|f| (f.dir, f.data)).collect();
        assert_eq!(got, vec![(Direction::Tx, ab.clone()), (Direction::Rx, ba)]);
        drop(rx);
        a.push_rx(&ab);
        g.poll(crate::Instant::ZERO);
        assert_eq!(b.take_tx().len(), 2, "capture never takes packets away");
        assert!(g.conservation_errors().is_empty());
    }

    #[test]
    fn tap_copies_its_direction_and_reports_a_gone_receiver() {
        let pool = crate::PacketPool::new(8, 256);
        let mut batch = Batch::new();
        for i in 0..3u8 {
            let mut p = pool.alloc().unwrap();
            assert!(p.extend_from_slice(&[i; 20]));
            assert!(batch.push(p).is_ok());
        }
        let (tap, rx) = capture(Direction::Tx, 2);
        assert!(tap.record(Direction::Rx, &batch));
        assert!(rx.try_recv().is_err(), "rx frames are not for a tx capture");
        assert!(
            tap.record(Direction::Tx, &batch),
            "a full queue drops copies"
        );
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].data, vec![1; 20]);
        assert_eq!(got[1].dir, Direction::Tx);
        drop(rx);
        assert!(!tap.record(Direction::Tx, &batch));
        assert_eq!(Direction::parse("both"), Some(Direction::Both));
        assert_eq!(Direction::parse("x"), None);
    }
}
