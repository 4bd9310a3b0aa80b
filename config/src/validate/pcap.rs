//! `kind: pcap`: `read` (must exist and be a classic Ethernet pcap file), `write`,
//! `rate-pps`, `loop`.
//!
//! The file check here is a minimal walk of the classic pcap framing (global header, then
//! the first [`SCAN_RECORDS`] record headers) so that the config crate stays free of the data
//! plane. It never reads the frames, and refuses anything but a regular file before opening
//! it; the data plane's `PcapPort::open` streams the records at run time (the file is read
//! once, in bounded memory).

use serde_saphyr::Spanned;

use super::Report;
use crate::raw::RawNode;
use crate::topology::PcapSpec;

/// Largest `rate-pps`.
const MAX_RATE_PPS: i64 = 10_000_000;

/// Records whose headers the check walks (seeking over the frames): enough to catch a file
/// that is not pcap at all or is cut short, bounded so a huge file costs no more than a
/// small one. The data plane checks every later record as it streams them.
const SCAN_RECORDS: usize = 1024;

/// Largest captured length a record may claim: the data plane's snapshot length (libpcap
/// also refuses records longer than its maximum snaplen, 262 144).
const MAX_CAPLEN: u64 = 262_144;

/// Why `file` (of `len` bytes) is not a classic, microsecond, Ethernet pcap file (either
/// byte order): the 24-byte header, then at most [`SCAN_RECORDS`] record headers.
fn pcap_problem<F: std::io::Read + std::io::Seek>(file: &mut F, len: u64) -> Option<String> {
    use std::io::SeekFrom;
    let mut head = [0u8; 24];
    if let Err(e) = file.read_exact(&mut head) {
        return Some(if len < 24 {
            format!("too short for a pcap header ({len} bytes)")
        } else {
            format!("cannot read it: {e}")
        });
    }
    let word = |b: &[u8], at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
    let le = match u32::from_le_bytes(word(&head, 0)) {
        0xa1b2_c3d4 => true,
        0xd4c3_b2a1 => false,
        m => {
            return Some(format!(
                "not a classic pcap file (magic {m:#010x}; pcapng and nanosecond files are not supported)"
            ));
        }
    };
    let u32_at = |b: &[u8], at: usize| {
        if le {
            u32::from_le_bytes(word(b, at))
        } else {
            u32::from_be_bytes(word(b, at))
        }
    };
    let link = u32_at(&head, 20);
    if link != 1 {
        return Some(format!("link type {link} is not Ethernet (1)"));
    }
    let mut at: u64 = 24;
    for _ in 0..SCAN_RECORDS {
        if at >= len {
            break;
        }
        let mut rec = [0u8; 16];
        if at + 16 > len || file.read_exact(&mut rec).is_err() {
            return Some(format!("truncated record header at byte {at}"));
        }
        let caplen = u64::from(u32_at(&rec, 8));
        if caplen > MAX_CAPLEN {
            return Some(format!(
                "record at byte {at} claims {caplen} bytes (more than {MAX_CAPLEN}): not a pcap file or corrupt"
            ));
        }
        let end = at + 16 + caplen;
        if end > len {
            return Some(format!("truncated frame at byte {at}"));
        }
        if let Err(e) = file.seek(SeekFrom::Start(end)) {
            return Some(format!("cannot read it: {e}"));
        }
        at = end;
    }
    None
}

/// Why the file at `full` cannot be replayed: it must be a regular file (a FIFO or a device
/// such as `/dev/zero` would block or never end) whose header and first records are pcap.
/// Only the header and a bounded scan are read; the port streams the file at start-up.
fn read_problem(full: &std::path::Path) -> Option<String> {
    match super::open_regular(full) {
        Ok((file, len)) => pcap_problem(&mut std::io::BufReader::new(file), len),
        Err(why) => Some(why),
    }
}

/// `None` when neither `read` nor `write` is usable (reported).
pub(super) fn pcap(
    r: &mut Report<'_>,
    key: &Spanned<String>,
    n: &RawNode,
    path: &str,
) -> Option<PcapSpec> {
    if n.read.is_none() && n.write.is_none() {
        r.bad(
            key,
            path,
            "a pcap node needs `read: FILE`, `write: FILE` or both".to_owned(),
        );
        return None;
    }
    let mut ok = true;
    let read = n.read.as_ref().map(|f| {
        let full = r.base_dir.join(&f.value);
        if let Some(why) = read_problem(&full) {
            r.bad(
                f,
                &format!("{path}.read"),
                format!("pcap file {}: {why}", full.display()),
            );
            ok = false;
        }
        full
    });
    let write = n.write.as_ref().map(|f| {
        if f.value.is_empty() {
            r.bad(f, &format!("{path}.write"), "empty file name".to_owned());
            ok = false;
        }
        r.base_dir.join(&f.value)
    });
    let rate_pps = n.rate_pps.as_ref().and_then(|v| {
        if (1..=MAX_RATE_PPS).contains(&v.value) {
            u32::try_from(v.value).ok()
        } else {
            r.bad(
                v,
                &format!("{path}.rate-pps"),
                format!("rate-pps must be 1..={MAX_RATE_PPS}"),
            );
            ok = false;
            None
        }
    });
    if let Some(l) = &n.repeat
        && l.value
        && read.is_none()
    {
        r.bad(
            l,
            &format!("{path}.loop"),
            "loop needs a `read` file".to_owned(),
        );
        ok = false;
    }
    ok.then(|| PcapSpec {
        read,
        write,
        rate_pps,
        repeat: n.repeat.as_ref().is_some_and(|l| l.value),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::pcap_problem as problem_of;

    fn pcap_problem(bytes: &[u8]) -> Option<String> {
        problem_of(&mut std::io::Cursor::new(bytes), bytes.len() as u64)
    }

    fn file(magic: [u8; 4], link: u8, records: &[&[u8]]) -> Vec<u8> {
        let mut f = magic.to_vec();
        f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0]);
        f.extend_from_slice(&[link, 0, 0, 0]);
        for r in records {
            f.extend_from_slice(&[0; 8]);
            let len = (r.len() as u32).to_le_bytes();
            f.extend_from_slice(&len);
            f.extend_from_slice(&len);
            f.extend_from_slice(r);
        }
        f
    }

    #[test]
    fn pcap_file_check() {
        let le = [0xd4, 0xc3, 0xb2, 0xa1];
        assert_eq!(pcap_problem(&file(le, 1, &[b"abc", b""])), None);
        let good = file(le, 1, &[b"abcdef"]);
        assert!(
            pcap_problem(&good[..good.len() - 1])
                .unwrap()
                .contains("truncated frame")
        );
        assert!(
            pcap_problem(&good[..30])
                .unwrap()
                .contains("truncated record")
        );
        assert!(pcap_problem(&good[..10]).unwrap().contains("too short"));
        let mut huge = good.clone();
        huge[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            pcap_problem(&huge)
                .unwrap()
                .contains("claims 4294967295 bytes")
        );
        // Only the first SCAN_RECORDS records are walked: a bad record after them is the
        // data plane's to find while streaming.
        let many: Vec<&[u8]> = vec![b"x"; super::SCAN_RECORDS];
        let mut late = file(le, 1, &many);
        late.extend_from_slice(&[0; 3]);
        assert_eq!(pcap_problem(&late), None);
        late.truncate(late.len() - 3 - 17);
        late.extend_from_slice(&[0; 3]);
        assert!(pcap_problem(&late).unwrap().contains("truncated"));
        assert!(
            pcap_problem(&file(le, 101, &[]))
                .unwrap()
                .contains("not Ethernet")
        );
        assert!(
            pcap_problem(&file([0x0a, 0x0d, 0x0d, 0x0a], 1, &[]))
                .unwrap()
                .contains("pcapng")
        );
    }

    /// Loads `read: FILE` on another thread; the error text, or a panic if the load did not
    /// finish within 2 s (it used to read the whole file before looking at its magic).
    fn load_read(file: &str) -> String {
        let yaml = format!(
            "name: t\nnodes:\n  p: {{ kind: pcap, read: {file} }}\n  s: {{ kind: switch }}\n\
             links:\n  - endpoints: [p, s:p1]\n"
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(crate::load_str("t.yaml", &yaml).map(|_| ()));
        });
        match rx.recv_timeout(std::time::Duration::from_secs(2)) {
            Ok(r) => r.unwrap_err().to_string(),
            Err(_) => panic!("loading `read: {file}` did not finish within 2 s"),
        }
    }

    #[test]
    fn a_fifo_or_device_is_refused_at_once_with_file_line_field_and_value() {
        let dir = std::env::temp_dir().join(format!("nfv-pcap-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("in.pcap");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let err = load_read(&fifo.display().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            err.contains(&format!(
                "t.yaml:3:26: nodes.p.read: \"{}\": pcap file {}: not a regular file",
                fifo.display(),
                fifo.display()
            )),
            "{err}"
        );
        let err = load_read("/dev/zero");
        assert!(
            err.contains("nodes.p.read: \"/dev/zero\": pcap file /dev/zero: not a regular file"),
            "{err}"
        );
    }
}
