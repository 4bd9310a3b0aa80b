//! [`PcapPort`]: a port backed by pcap files, for deterministic tests and debugging.
//!
//! rx replays the frames of a pcap file (optionally at `rate_pps`, optionally in a loop);
//! tx appends every frame offered to the port to a pcap writer (or discards it when there is
//! none). While frames remain to replay the port keeps an eventfd readable, so the worker
//! keeps polling instead of sleeping; once the replay is over the worker sleeps as usual.
//!
//! # Streaming
//! The file is opened once ([`PcapPort::open`]: a regular file only — a FIFO or a device
//! would block or never end), its header checked, and its records streamed through a
//! 64 KB `BufReader` straight into packet buffers: memory stays bounded whatever the file's
//! size, and a read syscall comes every ~64 KB, not per frame. A corrupt or truncated record
//! met while streaming ends the pass: it is counted in `rx_errors` and reported once (a loop
//! starts again from the first record, as the good part of the file is still good).

use std::io::{BufReader, Read, Seek, Write};
use std::os::fd::RawFd;
use std::path::Path;
use std::time::SystemTime;

use crate::capture::{PcapError, PcapReader, PcapWriter};
use crate::element::DropReason;
use crate::packet::{Batch, PacketPool};
use crate::sys::poll::EventFd;

use super::{Port, PortError, PortStats};

/// Where a [`PcapPort`] records its tx frames.
pub type PcapSink = PcapWriter<Box<dyn Write + Send>>;

/// A source of pcap bytes the port can rewind (a file, or bytes in memory).
trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

/// Buffer of the file reader.
const READ_BUFFER: usize = 64 * 1024;

/// A port that replays frames as rx and records tx (see the module docs).
pub struct PcapPort {
    name: String,
    /// `None` once the replay is over (or without `read`).
    replay: Option<PcapReader<Box<dyn Source>>>,
    /// Frames read in the current pass (a loop over a file without one stops).
    pass_frames: u64,
    repeat: bool,
    rate_pps: Option<u32>,
    /// Time of the first replayed frame, and frames replayed since (for the rate).
    started: Option<std::time::Instant>,
    replayed: u64,
    sink: Option<PcapSink>,
    /// Readable while frames remain to replay.
    bell: EventFd,
    stats: PortStats,
    /// Never down (a file write error is a `tx_error`), but the shared tx path takes one.
    link: super::Link,
    /// Where GSO frames are cut into segments.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for PcapPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapPort")
            .field("name", &self.name)
            .field("replaying", &self.replay.is_some())
            .field("replayed", &self.replayed)
            .field("recording", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

/// An `InvalidData` error naming the file.
fn invalid(path: &Path, e: PcapError) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {e}", path.display()),
    )
}

impl PcapPort {
    /// A port called `name` replaying `frames` (at most `rate_pps` a second if set, again and
    /// again if `repeat`) and recording tx into `sink`.
    ///
    /// # Errors
    /// If the eventfd cannot be created.
    pub fn new(
        name: impl Into<String>,
        frames: Vec<Vec<u8>>,
        sink: Option<PcapSink>,
        rate_pps: Option<u32>,
        repeat: bool,
    ) -> std::io::Result<PcapPort> {
        let mut w = PcapWriter::new(Vec::new())?;
        for f in &frames {
            w.write(std::time::UNIX_EPOCH, f)?;
        }
        let bytes: Box<dyn Source> = Box::new(std::io::Cursor::new(w.finish()?));
        let replay = PcapReader::new(bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        Self::with_replay(
            name.into(),
            (!frames.is_empty()).then_some(replay),
            sink,
            rate_pps,
            repeat,
        )
    }

    /// A port called `name` streaming the pcap file `read` (if any) as rx, at most `rate_pps`
    /// a second if set, again and again if `repeat`, and recording tx into a new pcap file
    /// `write` (created or truncated) if any. See the module docs.
    ///
    /// # Errors
    /// `read` is not a regular file, cannot be opened, or its header is not classic
    /// Ethernet pcap; `write` cannot be created; the eventfd cannot be created. Messages
    /// name the file.
    pub fn open(
        name: impl Into<String>,
        read: Option<&Path>,
        write: Option<&Path>,
        rate_pps: Option<u32>,
        repeat: bool,
    ) -> std::io::Result<PcapPort> {
        let replay = match read {
            Some(path) => {
                use std::os::unix::fs::OpenOptionsExt;
                let with_path = |e: std::io::Error| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                };
                // Non-blocking, so a FIFO put there since the config was checked cannot
                // block the open; then anything but a regular file is refused.
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(path)
                    .map_err(with_path)?;
                if !file.metadata().map_err(with_path)?.is_file() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("{}: not a regular file", path.display()),
                    ));
                }
                let src: Box<dyn Source> = Box::new(BufReader::with_capacity(READ_BUFFER, file));
                Some(PcapReader::new(src).map_err(|e| invalid(path, e))?)
            }
            None => None,
        };
        let sink = match write {
            Some(path) => {
                let with_path = |e: std::io::Error| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                };
                let file = std::fs::File::create(path).map_err(with_path)?;
                let out: Box<dyn Write + Send> = Box::new(std::io::BufWriter::new(file));
                Some(PcapWriter::new(out).map_err(with_path)?)
            }
            None => None,
        };
        Self::with_replay(name.into(), replay, sink, rate_pps, repeat)
    }

    fn with_replay(
        name: String,
        replay: Option<PcapReader<Box<dyn Source>>>,
        sink: Option<PcapSink>,
        rate_pps: Option<u32>,
        repeat: bool,
    ) -> std::io::Result<PcapPort> {
        let bell = EventFd::new()?;
        if replay.is_some() {
            bell.signal();
        }
        Ok(PcapPort {
            name,
            replay,
            pass_frames: 0,
            repeat,
            rate_pps,
            started: None,
            replayed: 0,
            sink,
            bell,
            stats: PortStats::default(),
            link: super::Link::default(),
            scratch: vec![0; super::GSO_FRAME_MAX],
        })
    }

    /// How many frames the rate allows now.
    fn allowance(&mut self) -> u64 {
        let Some(rate) = self.rate_pps else {
            return u64::MAX;
        };
        let start = *self.started.get_or_insert_with(std::time::Instant::now);
        let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64 + 1;
        due.saturating_sub(self.replayed)
    }

    /// The end of a pass (end of file, or a bad record): start again if looping over a file
    /// that gave frames, else stop replaying. False when the replay is over.
    fn end_of_pass(&mut self) -> bool {
        let again = self.repeat
            && self.pass_frames > 0
            && self.replay.as_mut().is_some_and(|r| r.rewind().is_ok());
        self.pass_frames = 0;
        if !again {
            self.replay = None;
            self.bell.drain();
        }
        again
    }
}

impl Port for PcapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        if self.replay.is_none() {
            return Ok(0);
        }
        let mut allowed = self.allowance();
        let mut n = 0;
        while !batch.is_full() && allowed > 0 {
            let Some(replay) = self.replay.as_mut() else {
                break;
            };
            let Some(mut pkt) = pool.alloc() else {
                self.stats.rx_no_buffer += 1;
                break;
            };
            let buf = pkt.buffer_mut();
            let cap = buf.len();
            match replay.next_into(buf) {
                Ok(Some(h)) => {
                    self.pass_frames += 1;
                    allowed -= 1;
                    self.replayed += 1;
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += h.caplen as u64;
                    if h.caplen > cap {
                        self.stats.drops.add(DropReason::RxTruncated, 1);
                        continue;
                    }
                    pkt.set_len(h.caplen);
                    // Cannot fail: checked !is_full above.
                    let _ = batch.push(pkt);
                    n += 1;
                }
                Ok(None) => {
                    if !self.end_of_pass() {
                        break;
                    }
                }
                Err(e) => {
                    self.stats.rx_errors += 1;
                    self.end_of_pass();
                    return Err(PortError::Read {
                        port: self.name.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    });
                }
            }
        }
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        let ts = SystemTime::now();
        for pkt in batch.drain() {
            // A pcap holds wire frames: GSO frames are segmented, checksums completed.
            let sink = &mut self.sink;
            let link = &mut self.link;
            super::tx_without_offload(
                &mut self.stats,
                link,
                &mut self.scratch,
                usize::MAX,
                pkt,
                |f| match sink {
                    Some(w) => w.write(ts, f).map(|()| f.len()),
                    None => Ok(f.len()),
                },
            );
        }
        if let Some(w) = &mut self.sink
            && w.flush().is_err()
        {
            self.stats.tx_errors += 1;
        }
    }

    fn rx_fd(&self) -> Option<RawFd> {
        Some(self.bell.as_raw_fd())
    }

    fn stats(&self) -> PortStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::capture::read_pcap;
    use std::sync::{Arc, Mutex};

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn frames(n: u8) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![i; 60]).collect()
    }

    #[test]
    fn replays_once_then_stops_and_records_tx() {
        let pool = PacketPool::new(64, 128);
        let out = Shared::default();
        let sink = PcapWriter::new(Box::new(out.clone()) as Box<dyn Write + Send>).unwrap();
        let mut big = frames(3);
        big.push(vec![7; 500]); // larger than the pool's buffers
        let mut p = PcapPort::new("p", big, Some(sink), None, false).unwrap();
        let mut b = Batch::new();
        assert_eq!(p.rx_burst(&pool, &mut b).unwrap(), 3);
        assert_eq!(pool.available(), 64 - 3, "the cut frame's buffer went back");
        assert_eq!(p.stats().rx_packets, 4);
        assert_eq!(p.stats().drops.get(DropReason::RxTruncated), 1);
        assert_eq!(p.rx_burst(&pool, &mut Batch::new()).unwrap(), 0, "done");
        p.tx_burst(&mut b);
        assert_eq!(p.stats().tx_packets, 3);
        let recs = read_pcap(&out.0.lock().unwrap()).unwrap();
        let got: Vec<Vec<u8>> = recs.into_iter().map(|r| r.data).collect();
        assert_eq!(got, frames(3));
        assert_eq!(pool.available(), 64);
    }

    #[test]
    fn loops_and_respects_the_rate() {
        let pool = PacketPool::new(256, 128);
        let mut p = PcapPort::new("p", frames(2), None, None, true).unwrap();
        let mut b = Batch::new();
        let n = p.rx_burst(&pool, &mut b).unwrap();
        assert_eq!(n, crate::BURST, "a loop never runs dry");
        assert_eq!(b.iter().nth(2).unwrap().data(), &[0; 60][..]);
        p.tx_burst(&mut b);
        assert_eq!(
            p.stats().tx_packets,
            n as u64,
            "no sink: discarded, counted"
        );

        let mut slow = PcapPort::new("s", frames(5), None, Some(1), false).unwrap();
        let mut b = Batch::new();
        assert_eq!(
            slow.rx_burst(&pool, &mut b).unwrap(),
            1,
            "first frame at once"
        );
        assert_eq!(
            slow.rx_burst(&pool, &mut b).unwrap(),
            0,
            "then one a second"
        );
    }

    fn file_with(tag: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("nfv-pcapport-{tag}-{}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn pcap_bytes(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for f in frames {
            w.write(SystemTime::now(), f).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn open_streams_a_file_in_a_loop_and_records_into_another() {
        let src = file_with("loop", &pcap_bytes(&frames(3)));
        let dst = src.with_extension("out");
        let pool = PacketPool::new(64, 128);
        let mut p = PcapPort::open("p", Some(&src), Some(&dst), None, true).unwrap();
        let mut b = Batch::new();
        assert_eq!(p.rx_burst(&pool, &mut b).unwrap(), crate::BURST);
        let got: Vec<u8> = b.iter().map(|f| f.data()[0]).collect();
        assert_eq!(&got[..7], &[0, 1, 2, 0, 1, 2, 0], "rewound at the end");
        p.tx_burst(&mut b);
        drop(p);
        let recs = read_pcap(&std::fs::read(&dst).unwrap()).unwrap();
        assert_eq!(recs.len(), crate::BURST);
        let _ = std::fs::remove_file(&src);
        let _ = std::fs::remove_file(&dst);
    }

    #[test]
    fn open_refuses_non_regular_files_and_bad_headers_at_once() {
        let e = PcapPort::open("p", Some(Path::new("/dev/zero")), None, None, false).unwrap_err();
        assert!(
            e.to_string().contains("/dev/zero: not a regular file"),
            "{e}"
        );
        let bad = file_with("bad", &[0u8; 100]);
        let e = PcapPort::open("p", Some(&bad), None, None, false).unwrap_err();
        assert!(e.to_string().contains("not a classic pcap file"), "{e}");
        let _ = std::fs::remove_file(&bad);
    }

    #[test]
    fn a_corrupt_record_mid_file_ends_the_pass_once_counted() {
        let mut bytes = pcap_bytes(&frames(2));
        // A third record header claiming 4 GB.
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        let f = file_with("corrupt", &bytes);
        let pool = PacketPool::new(64, 128);
        let mut once = PcapPort::open("p", Some(&f), None, None, false).unwrap();
        let mut b = Batch::new();
        assert!(once.rx_burst(&pool, &mut b).is_err());
        assert_eq!(b.len(), 2, "the good frames before it were read");
        assert_eq!(once.stats().rx_errors, 1);
        assert_eq!(
            once.rx_burst(&pool, &mut b).unwrap(),
            0,
            "over, no error again"
        );
        drop(b);
        // In a loop the good part is replayed again.
        let mut looped = PcapPort::open("p", Some(&f), None, None, true).unwrap();
        let mut b = Batch::new();
        assert!(looped.rx_burst(&pool, &mut b).is_err());
        assert!(
            looped.rx_burst(&pool, &mut b).is_err(),
            "second pass, same record"
        );
        assert_eq!(b.len(), 4);
        assert_eq!(looped.stats().rx_errors, 2);
        let _ = std::fs::remove_file(&f);
    }
}
