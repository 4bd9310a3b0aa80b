//! `kind: pcap`: `read` (must exist and be a classic Ethernet pcap file), `write`,
//! `rate-pps`, `loop`.
//!
//! The file check here is a minimal walk of the classic pcap framing (global header, then
//! record headers) so that the config crate stays free of the data plane; the data plane's
//! `capture::read_pcap` does the real reading at start-up.

use serde_saphyr::Spanned;

use super::Report;
use crate::raw::RawNode;
use crate::topology::PcapSpec;

/// Largest `rate-pps`.
const MAX_RATE_PPS: i64 = 10_000_000;

/// Why `bytes` is not a classic, microsecond, Ethernet pcap file (either byte order).
fn pcap_problem(bytes: &[u8]) -> Option<String> {
    let Some(head) = bytes.get(..24) else {
        return Some(format!(
            "too short for a pcap header ({} bytes)",
            bytes.len()
        ));
    };
    let word = |b: &[u8], at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
    let le = match u32::from_le_bytes(word(head, 0)) {
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
    let link = u32_at(head, 20);
    if link != 1 {
        return Some(format!("link type {link} is not Ethernet (1)"));
    }
    let mut at = 24;
    while at < bytes.len() {
        let Some(rec) = bytes.get(at..at + 16) else {
            return Some(format!("truncated record header at byte {at}"));
        };
        let end = at + 16 + u32_at(rec, 8) as usize;
        if end > bytes.len() {
            return Some(format!("truncated frame at byte {at}"));
        }
        at = end;
    }
    None
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
        let problem = match std::fs::read(&full) {
            Ok(bytes) => pcap_problem(&bytes),
            Err(e) => Some(format!("cannot read it: {e}")),
        };
        if let Some(why) = problem {
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
    use super::pcap_problem;

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
}
