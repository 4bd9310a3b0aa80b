//! Targets over the parsers: the YAML loader and validator, the routes file, the pcap reader
//! and GSO segmentation.

use std::path::Path;

use nfv_dataplane::Offload;
use nfv_dataplane::capture::{MAX_CAPLEN, PcapReader, PcapWriter, read_pcap};
use nfv_dataplane::wire::checksum;
use nfv_dataplane::wire::gso;

/// Relative paths in fuzzed topologies (routes-file, pcap read) resolve here: nothing.
const NO_DIR: &str = "/nonexistent/nfv-fuzz";

/// `nfv_config::load_str_in` on `data` as text: it returns (no panic, no hang), the same
/// answer twice, and every problem names the file (or, for a routes file, that file).
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let first = nfv_config::load_str_in("fuzz.yaml", &text, Path::new(NO_DIR));
    let again = nfv_config::load_str_in("fuzz.yaml", &text, Path::new(NO_DIR));
    assert_eq!(
        first.as_ref().map_err(ToString::to_string),
        again.as_ref().map_err(ToString::to_string),
        "the loader is deterministic"
    );
    match first {
        Ok(loaded) => {
            for w in &loaded.warnings {
                assert!(!w.to_string().is_empty());
            }
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "an error has at least one problem");
            for p in &e.problems {
                let line = p.to_string();
                assert!(
                    line.starts_with("fuzz.yaml") || line.starts_with('/'),
                    "a problem names its file: {line}"
                );
            }
        }
    }
}

/// `nfv_config::parse_routes_file` on `data`: line numbers increase, columns are on their
/// line, and every route that parses prints as `a.b.c.d/len via x.y.z.w` and parses back
/// to the same route.
pub fn routes_file(data: &[u8]) {
    let lines = nfv_config::parse_routes_file(data);
    let mut last = 0;
    for l in &lines {
        assert!(l.number > last, "line numbers increase");
        last = l.number;
        assert!(
            (1..=l.chars + 1).contains(&l.column),
            "column {} on a line of {} characters",
            l.column,
            l.chars
        );
        if let Ok((to, len, via)) = l.parsed {
            assert!(len <= 32);
            let text = format!("{to}/{len} via {via}\n");
            let back = nfv_config::parse_routes_file(text.as_bytes());
            assert_eq!(back.len(), 1, "{text}");
            assert_eq!(back[0].parsed, Ok((to, len, via)), "{text}");
        }
    }
    assert!(last <= data.iter().filter(|&&b| b == b'\n').count() + 1);
}

/// The pcap reader: `read_pcap` and a streaming `PcapReader` with a small buffer agree,
/// records account for every byte of a file that reads, and what was read writes back and
/// reads back the same.
pub fn pcap(data: &[u8]) {
    let whole = read_pcap(data);
    let mut buf = [0u8; 64];
    let streamed: Result<Vec<(usize, Vec<u8>)>, _> = PcapReader::new(data).and_then(|mut r| {
        let mut recs = Vec::new();
        while let Some(h) = r.next_into(&mut buf)? {
            assert!(h.caplen <= MAX_CAPLEN);
            recs.push((h.caplen, buf[..h.caplen.min(buf.len())].to_vec()));
        }
        Ok(recs)
    });
    match (&whole, &streamed) {
        (Ok(w), Ok(s)) => {
            assert_eq!(w.len(), s.len());
            for (rec, (caplen, head)) in w.iter().zip(s) {
                assert_eq!(rec.data.len(), *caplen);
                assert_eq!(&rec.data[..head.len()], &head[..]);
            }
            let bytes: usize = w.iter().map(|r| 16 + r.data.len()).sum();
            assert_eq!(24 + bytes, data.len(), "records account for every byte");
            let mut out = PcapWriter::new(Vec::new()).expect("in memory");
            for r in w {
                let ts = std::time::UNIX_EPOCH
                    + std::time::Duration::new(u64::from(r.ts_sec), r.ts_usec.min(999_999) * 1000);
                out.write(ts, &r.data).expect("in memory");
            }
            let back = read_pcap(&out.finish().expect("in memory")).expect("reads back");
            assert_eq!(back.len(), w.len());
            for (a, b) in back.iter().zip(w) {
                assert_eq!(a.data, b.data);
                assert_eq!(a.ts_sec, b.ts_sec);
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "both readers refuse the same way"),
        (a, b) => panic!("readers disagree: {a:?} vs {b:?}"),
    }
}

/// GSO segmentation (`wire::gso`) as a port without offload does it: an offload header
/// (8 bytes) then a frame. No frame sent over `max_frame`; the count returned is the count
/// sent; every IPv4 segment has a valid header checksum and a total length that fits it;
/// and `check` agrees with `for_each_wire_frame` about validity.
pub fn gso(data: &[u8]) {
    let Some((h, frame)) = data.split_first_chunk::<8>() else {
        return;
    };
    let o = Offload {
        flags: h[0] & 3,
        gso_type: h[1],
        gso_size: u16::from_be_bytes([h[2], h[3]]),
        csum_start: u16::from(h[4]),
        csum_offset: u16::from(h[5] & 0x1f),
    };
    let max_frame = 64 + usize::from(u16::from_be_bytes([h[6], h[7]]) % 1600);
    let mut f = frame.to_vec();
    let mut scratch = vec![0u8; 1600];
    let plan = gso::check(&f, &o);
    let mut sent = Vec::new();
    let res = gso::for_each_wire_frame(&mut f, &o, &mut scratch, max_frame, |s| {
        sent.push(s.to_vec())
    });
    if plan.is_err() {
        assert!(res.is_err(), "check refused it, segmentation must too");
        assert!(sent.is_empty(), "nothing is sent for invalid offload state");
        return;
    }
    let Ok(n) = res else {
        // TooBig can come after some segments were sent (the caller counts the packet as
        // dropped once); nothing over the limit was sent.
        assert!(sent.iter().all(|s| s.len() <= max_frame));
        return;
    };
    assert_eq!(n, sent.len());
    let gso = matches!(plan, Ok(Some(_)));
    for s in &sent {
        assert!(
            s.len() <= max_frame,
            "segment of {} over {max_frame}",
            s.len()
        );
        if gso {
            check_ipv4_segment(s);
        }
    }
}

/// An IPv4 segment cut by GSO: valid header checksum, total length within the frame.
fn check_ipv4_segment(s: &[u8]) {
    let mut l3 = 14;
    let mut et = u16::from_be_bytes([s[12], s[13]]);
    while (et == 0x8100 || et == 0x88a8) && s.len() >= l3 + 4 {
        et = u16::from_be_bytes([s[l3 + 2], s[l3 + 3]]);
        l3 += 4;
    }
    if et != 0x0800 {
        return;
    }
    let ip = &s[l3..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    assert!(ip.len() >= ihl, "segment shorter than its IPv4 header");
    assert!(checksum::verify(&ip[..ihl]), "segment IPv4 header checksum");
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert!(
        total <= ip.len(),
        "total length {total} beyond the segment ({})",
        ip.len()
    );
}
