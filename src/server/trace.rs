//! `GET /api/v1/trace?count=N&filter=F&seconds=S`: the packet trace
//! ([`nfv_dataplane::trace`]) of a running nfv. See `docs/trace.md`.
//!
//! Arms the worker's trace for the next `count` received packets matching `filter`, then
//! asks the worker every 20 ms for the log until every wanted packet was traced and every
//! traced packet has left (tx), been dropped or been consumed, or `seconds` passed, and
//! answers with the log as JSON (`nfv trace` prints it).

use std::time::{Duration, Instant};

use nfv_dataplane::trace::{Filter, TraceLog};
use nfv_dataplane::worker::Controllers;
use serde_json::{Value, json};

use super::admin::{WORKER_TIMEOUT, json_error, worker_error};
use crate::api::TraceQuery;
use crate::http::query::BadParam;
use crate::http::{Response, Status};

const POLL: Duration = Duration::from_millis(20);

/// The JSON form of a trace log.
pub fn log_json(log: &TraceLog, complete: bool) -> Value {
    let packets: Vec<Value> = log
        .packets
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "generated_by": p.generated_by.as_ref().map(|(node, parent)| json!({
                    "node": node,
                    "packet": parent,
                })),
                "done": p.done,
                "lines": p.lines.iter().map(|l| json!({"node": l.node, "text": l.text})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "filter": log.filter,
        "remaining": log.remaining,
        "complete": complete,
        "packets": packets,
    })
}

/// `GET /api/v1/trace`. Blocks up to `q.seconds`.
pub fn answer(q: TraceQuery, ctl: &Controllers) -> Response {
    let filter = match Filter::parse(&q.filter) {
        Ok(f) => f,
        Err(e) => {
            let bad = BadParam::Rejected {
                name: "filter",
                value: q.filter,
                reason: e.to_string(),
            };
            return json_error(Status::BAD_REQUEST, bad.to_string());
        }
    };
    if let Err(e) = ctl.trace(Some((filter, q.count)), WORKER_TIMEOUT) {
        return worker_error(&e);
    }
    let deadline = Instant::now() + Duration::from_secs(q.seconds);
    loop {
        std::thread::sleep(POLL);
        let log = match ctl.trace(None, WORKER_TIMEOUT) {
            Ok(l) => l,
            Err(e) => return worker_error(&e),
        };
        let complete = log.complete();
        if complete || Instant::now() >= deadline {
            return Response::json(Status::OK, &log_json(&log, complete));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nfv_dataplane::trace::{TraceLine, TracedPacket};

    #[test]
    fn log_json_is_the_shape_the_cli_reads() {
        let line = |n: &str, t: &str| TraceLine {
            node: n.into(),
            text: t.into(),
        };
        let log = TraceLog {
            filter: "proto icmp".into(),
            remaining: 0,
            packets: vec![
                TracedPacket {
                    id: 1,
                    generated_by: None,
                    lines: vec![
                        line("h1:eth0", "rx, 98 bytes"),
                        line("sw1", "switch: in gate p1"),
                    ],
                    done: true,
                },
                TracedPacket {
                    id: 2,
                    generated_by: Some(("r1".into(), 1)),
                    lines: vec![line("r1", "icmp error")],
                    done: false,
                },
            ],
        };
        assert_eq!(log_json(&log, false), crate::api::examples::trace_log());
    }

    #[test]
    fn a_bad_filter_is_a_400_naming_it_and_a_stopped_worker_a_503() {
        let sd = nfv_dataplane::worker::Shutdown::new().unwrap();
        let (ctl, rx) = nfv_dataplane::worker::control(sd);
        let ctl = Controllers::single(ctl);
        drop(rx);
        let q = |filter: &str| TraceQuery {
            count: 1,
            filter: filter.into(),
            seconds: 1,
        };
        let a = answer(q("proto nope"), &ctl);
        assert_eq!(a.status, Status::BAD_REQUEST);
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        let e = v["error"].as_str().unwrap();
        assert!(
            e.starts_with("filter \"proto nope\": bad trace filter"),
            "{e}"
        );
        let a = answer(q("proto icmp"), &ctl);
        assert_eq!(a.status, Status::SERVICE_UNAVAILABLE);
    }
}
