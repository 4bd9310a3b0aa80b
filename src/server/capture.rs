//! `GET /api/v1/capture?port=NODE:IFACE[&count=N][&seconds=S][&direction=rx|tx|both]`:
//! frames of a port as a classic pcap file (`application/vnd.tcpdump.pcap`; errors are
//! JSON). See `docs/capture.md`.
//!
//! Arms a [`nfv_dataplane::capture::CaptureTap`] on the port through the worker's control
//! channel, collects copies until `count` frames or `seconds` have passed (whichever comes
//! first), then drops the receiver, which disarms the tap at the port's next frame.

use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use nfv_dataplane::capture::{self, PcapWriter};
use nfv_dataplane::worker::Controllers;

use super::admin::{WORKER_TIMEOUT, json_error, worker_error};
use crate::api::CaptureQuery;
use crate::http::{Response, Status};

/// Frames in flight between the worker and the collector; more are dropped (from the
/// capture only).
pub const QUEUE: usize = 4096;

/// `Content-Type` of the answer.
pub const PCAP: &str = "application/vnd.tcpdump.pcap";

/// `GET /api/v1/capture`. Blocks for up to `q.seconds`.
pub fn answer(q: CaptureQuery, ctl: &Controllers) -> Response {
    let (tap, rx) = capture::capture(q.direction, QUEUE);
    match ctl.capture(q.port.clone(), tap, WORKER_TIMEOUT) {
        Ok(true) => {}
        Ok(false) => {
            return json_error(
                Status::NOT_FOUND,
                format!("no port {:?}; ports are named NODE:IFACE", q.port),
            );
        }
        Err(e) => return worker_error(&e),
    }
    let deadline = Instant::now() + Duration::from_secs_f64(q.seconds);
    let mut frames = Vec::new();
    while (frames.len() as u64) < q.count {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(f) => frames.push(f),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(rx);
    let mut w = match PcapWriter::new(Vec::new()) {
        Ok(w) => w,
        Err(e) => return json_error(Status::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    for f in &frames {
        // Writing into a Vec cannot fail.
        let _ = w.write(f.ts, &f.data);
    }
    let body = w.finish().unwrap_or_default();
    tracing::info!(port = %q.port, frames = frames.len(), "capture done");
    Response {
        status: Status::OK,
        content_type: PCAP,
        body,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::api::FromQuery as _;

    #[test]
    fn a_stopped_worker_is_a_503() {
        let sd = nfv_dataplane::worker::Shutdown::new().unwrap();
        let (ctl, rx) = nfv_dataplane::worker::control(std::sync::Arc::clone(&sd));
        let ctl = Controllers::single(ctl);
        drop(rx);
        let a = answer(CaptureQuery::parse("port=h1:eth0&count=1").unwrap(), &ctl);
        assert_eq!(a.status, Status::SERVICE_UNAVAILABLE);
        assert_eq!(a.content_type, "application/json");
        assert!(String::from_utf8(a.body).unwrap().contains("not running"));
    }
}
