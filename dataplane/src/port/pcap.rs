//! [`PcapPort`]: a port backed by pcap files, for deterministic tests and debugging.
//!
//! rx replays the frames of a file read at start-up (optionally at `rate_pps`, optionally
//! in a loop); tx appends every frame offered to the port to a pcap writer (or discards it
//! when there is none). While frames remain to replay the port keeps an eventfd readable,
//! so the worker keeps polling instead of sleeping; once the replay is over the worker
//! sleeps as usual.

use std::io::Write;
use std::os::fd::RawFd;
use std::time::SystemTime;

use crate::capture::PcapWriter;
use crate::element::DropReason;
use crate::packet::{Batch, PacketPool};
use crate::sys::poll::EventFd;

use super::{Port, PortError, PortStats};

/// Where a [`PcapPort`] records its tx frames.
pub type PcapSink = PcapWriter<Box<dyn Write + Send>>;

/// A port that replays frames as rx and records tx (see the module docs).
pub struct PcapPort {
    name: String,
    frames: Vec<Vec<u8>>,
    next: usize,
    repeat: bool,
    rate_pps: Option<u32>,
    /// Time of the first replayed frame, and frames replayed since (for the rate).
    started: Option<std::time::Instant>,
    replayed: u64,
    sink: Option<PcapSink>,
    /// Readable while frames remain to replay.
    bell: EventFd,
    stats: PortStats,
    /// Where GSO frames are cut into segments.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for PcapPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapPort")
            .field("name", &self.name)
            .field("frames", &self.frames.len())
            .field("next", &self.next)
            .field("recording", &self.sink.is_some())
            .finish_non_exhaustive()
    }
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
        let bell = EventFd::new()?;
        if !frames.is_empty() {
            bell.signal();
        }
        Ok(PcapPort {
            name: name.into(),
            frames,
            next: 0,
            repeat,
            rate_pps,
            started: None,
            replayed: 0,
            sink,
            bell,
            stats: PortStats::default(),
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
}

impl Port for PcapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn rx_burst(&mut self, pool: &PacketPool, batch: &mut Batch) -> Result<usize, PortError> {
        if self.next >= self.frames.len() {
            return Ok(0);
        }
        let mut allowed = self.allowance();
        let mut n = 0;
        while !batch.is_full() && allowed > 0 && self.next < self.frames.len() {
            let Some(mut pkt) = pool.alloc() else {
                self.stats.rx_no_buffer += 1;
                break;
            };
            let frame = &self.frames[self.next];
            self.next += 1;
            if self.repeat && self.next == self.frames.len() {
                self.next = 0;
            }
            allowed -= 1;
            self.replayed += 1;
            self.stats.rx_packets += 1;
            self.stats.rx_bytes += frame.len() as u64;
            if pkt.extend_from_slice(frame) {
                // Cannot fail: checked !is_full above.
                let _ = batch.push(pkt);
                n += 1;
            } else {
                self.stats.drops.add(DropReason::RxTruncated, 1);
            }
        }
        if self.next >= self.frames.len() {
            self.bell.drain();
        }
        Ok(n)
    }

    fn tx_burst(&mut self, batch: &mut Batch) {
        let ts = SystemTime::now();
        for pkt in batch.drain() {
            // A pcap holds wire frames: GSO frames are segmented, checksums completed.
            let sink = &mut self.sink;
            super::tx_without_offload(&mut self.stats, &mut self.scratch, usize::MAX, pkt, |f| {
                match sink {
                    Some(w) => w.write(ts, f).map(|()| f.len()),
                    None => Ok(f.len()),
                }
            });
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
}
