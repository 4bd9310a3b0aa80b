//! The control-plane server: `/metrics` and the admin API `/api/v1/…` (`docs/metrics.md`,
//! `docs/admin.md`), from a current-thread tokio runtime on its own thread, on two
//! listeners:
//!
//! * the **control socket** (`/run/nfv/<name>.sock`, mode 0600, root's), always: every
//!   route ([`Access::Full`]). Who may connect is decided by the file's mode, like any
//!   root-only socket; capture and trace, which read packets (what needs `CAP_NET_RAW`
//!   elsewhere), are served here only.
//! * the TCP listener of `metrics:`, when set: `/metrics` for Prometheus and the
//!   read-only state (topology, counters, tables) ([`Access::ReadOnly`]); trace and
//!   capture answer 403 there, because any local user can reach a loopback port.
//!
//! It never touches the packet path: every handler asks the workers over their control
//! channels ([`Controllers`]) and runs on tokio's blocking pool, so a long trace or capture
//! does not hold up a scrape.
//!
//! Transport-agnostic: [`serve`] takes any [`Accept`] source and [`connection`] any
//! `AsyncRead + AsyncWrite` stream, so the same routes can be served on a Unix socket (a
//! `tokio::net::UnixListener` only needs an `Accept` impl) or, in the tests, on an
//! in-memory pipe.
//!
//! One request per connection; the HTTP layer is [`crate::http`].

pub mod admin;
pub mod capture;
pub mod instance;
pub mod metrics;
pub mod trace;

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use nfv_dataplane::worker::Controllers;
use tokio::io::{AsyncRead, AsyncWrite};

pub use admin::Info;

use crate::api::{self, FromQuery};
use crate::http::{self, Request, Response, Status};

/// How long a client may take to send its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handlers need: the workers' control channels and the static topology answers.
#[derive(Debug)]
pub struct State {
    /// The workers.
    pub ctl: Controllers,
    /// From the topology file.
    pub info: Info,
    /// This instance (`/api/v1/instance`).
    pub instance: instance::Instance,
}

/// What a listener's clients may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Every route (the root-only control socket).
    Full,
    /// Everything but trace and capture (the TCP listener: any local user can connect).
    ReadOnly,
}

/// A source of connections: a TCP listener, later a Unix socket listener.
pub trait Accept {
    /// A connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = std::io::Result<Self::Stream>>;
}

impl Accept for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept(&mut self) -> std::io::Result<Self::Stream> {
        tokio::net::TcpListener::accept(self).await.map(|(s, _)| s)
    }
}

impl Accept for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept(&mut self) -> std::io::Result<Self::Stream> {
        tokio::net::UnixListener::accept(self).await.map(|(s, _)| s)
    }
}

/// Bind the control socket at `path`, mode 0600 (owned by the caller, root). A file
/// already there is removed first: call this holding the topology's lock
/// ([`nfv_runtime::instance::lock`]), which proves no live instance owns it.
///
/// # Errors
/// If the socket cannot be bound or its mode set.
pub fn bind_socket(path: &Path) -> Result<std::os::unix::net::UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!("removed the stale control socket {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("couldn't remove stale {}", path.display()));
        }
    }
    // Connecting needs write permission on the socket file: with the usual umask (022) it
    // is born 0755 (no one else can connect), and 0600 right after.
    let l = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("couldn't listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("couldn't make {} mode 0600", path.display()))?;
    l.set_nonblocking(true)
        .context("couldn't make the control socket non-blocking")?;
    Ok(l)
}

/// Bind the listener (done before anything is created, so a port in use is a plain
/// start-up error).
///
/// # Errors
/// If the address cannot be bound.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)
        .with_context(|| format!("couldn't listen for metrics on {addr}"))?;
    l.set_nonblocking(true)
        .context("couldn't make the metrics socket non-blocking")?;
    Ok(l)
}

/// Serve every route on the control socket `unix` and, with `metrics:`, the read-only
/// routes on `tcp`, from a current-thread tokio runtime on its own thread. The thread runs
/// until the process exits; once the workers have stopped, requests that need them answer
/// 503.
///
/// # Errors
/// If the runtime or the thread cannot be started.
pub fn spawn(
    unix: std::os::unix::net::UnixListener,
    tcp: Option<std::net::TcpListener>,
    state: State,
) -> Result<()> {
    let state = Arc::new(state);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("couldn't start the metrics runtime")?;
    std::thread::Builder::new()
        .name("nfv-metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                if let Some(tcp) = tcp {
                    match tokio::net::TcpListener::from_std(tcp) {
                        Ok(l) => {
                            tokio::spawn(serve(l, Arc::clone(&state), Access::ReadOnly));
                        }
                        Err(e) => tracing::error!("metrics: couldn't register the listener: {e}"),
                    }
                }
                match tokio::net::UnixListener::from_std(unix) {
                    Ok(l) => serve(l, state, Access::Full).await,
                    Err(e) => tracing::error!("couldn't register the control socket: {e}"),
                }
            });
        })
        .context("couldn't start the metrics thread")?;
    Ok(())
}

/// Accept connections forever, each served by its own task. A failed accept (out of fds)
/// is logged and retried after 100 ms.
pub async fn serve<A: Accept>(mut listener: A, state: Arc<State>, access: Access) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                tokio::spawn(connection(stream, Arc::clone(&state), access));
            }
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serve one request on `stream` and close it.
pub async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    state: Arc<State>,
    access: Access,
) {
    let resp = match tokio::time::timeout(READ_TIMEOUT, http::read_request(&mut stream)).await {
        Err(_) => http::HttpError::Closed.response(),
        Ok(Err(e)) => e.response(),
        Ok(Ok(req)) => tokio::task::spawn_blocking(move || answer(&req, &state, access))
            .await
            .unwrap_or_else(|e| Response::text(Status::INTERNAL_SERVER_ERROR, format!("{e}\n"))),
    };
    resp.write_to(&mut stream).await;
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Metrics,
    Topology,
    Instance,
    Counters,
    /// `/api/v1/tables/{name}`.
    Tables(&'a str),
    Trace,
    Capture,
    /// Under `/api/` but no endpoint: a JSON 404.
    NoEndpoint(&'a str),
    /// Neither `/metrics` nor under `/api/`: a text 404.
    NotFound,
    MethodNotAllowed,
}

/// The route of `method path`. Under `/api/` a trailing `/` is ignored and only `GET` is
/// allowed; outside it, only `GET /metrics` exists (any method on another path is a 404).
fn route<'a>(method: &str, path: &'a str) -> Route<'a> {
    if path.starts_with("/api/") {
        if method != "GET" {
            return Route::MethodNotAllowed;
        }
        let path = path.trim_end_matches('/');
        return match path {
            api::TOPOLOGY => Route::Topology,
            api::INSTANCE => Route::Instance,
            api::COUNTERS => Route::Counters,
            api::TRACE => Route::Trace,
            api::CAPTURE => Route::Capture,
            _ => match path.strip_prefix(api::TABLES_PREFIX) {
                Some(table) => Route::Tables(table),
                None => Route::NoEndpoint(path),
            },
        };
    }
    match (path, method) {
        ("/metrics", "GET") => Route::Metrics,
        ("/metrics", _) => Route::MethodNotAllowed,
        _ => Route::NotFound,
    }
}

/// `handler` of the endpoint's parameters, or a JSON 400 naming the bad one.
fn with_query<Q: FromQuery>(raw: &str, handler: impl FnOnce(Q) -> Response) -> Response {
    match Q::parse(raw) {
        Ok(q) => handler(q),
        Err(e) => admin::json_error(Status::BAD_REQUEST, e.to_string()),
    }
}

/// Answer `req`. Blocking: most endpoints ask the workers.
fn answer(req: &Request, state: &State, access: Access) -> Response {
    let (ctl, info) = (&state.ctl, &state.info);
    match route(&req.method, &req.path) {
        Route::Trace | Route::Capture if access == Access::ReadOnly => admin::json_error(
            Status::FORBIDDEN,
            format!(
                "{} is served on the control socket only (root): `nfv {} -n {}`",
                req.path,
                if req.path.contains("trace") {
                    "trace"
                } else {
                    "capture"
                },
                state.instance.name()
            ),
        ),
        Route::Metrics => metrics::answer(ctl),
        Route::Topology => admin::topology(info),
        Route::Instance => instance::answer(&state.instance),
        Route::Counters => admin::counters(ctl),
        Route::Tables(table) => with_query(&req.query, |q| admin::tables(table, q, ctl, info)),
        Route::Trace => with_query(&req.query, |q| trace::answer(q, ctl)),
        Route::Capture => with_query(&req.query, |q| capture::answer(q, ctl)),
        Route::NoEndpoint(path) => admin::json_error(
            Status::NOT_FOUND,
            format!(
                "no such endpoint {path}; try {}, {} or {}{{{}}}",
                api::TOPOLOGY,
                api::COUNTERS,
                api::TABLES_PREFIX,
                admin::table_names()
            ),
        ),
        Route::NotFound => Response::text(
            Status::NOT_FOUND,
            "not found; metrics are at /metrics, the admin API under /api/v1/\n",
        ),
        Route::MethodNotAllowed => Response::text(Status::METHOD_NOT_ALLOWED, "only GET\n"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[test]
    fn routes_requests() {
        assert_eq!(route("GET", "/metrics"), Route::Metrics);
        assert_eq!(route("POST", "/metrics"), Route::MethodNotAllowed);
        assert_eq!(route("GET", "/"), Route::NotFound);
        assert_eq!(route("POST", "/nope"), Route::NotFound);
        assert_eq!(route("GET", "/api/v1/tables/fdb"), Route::Tables("fdb"));
        assert_eq!(route("GET", "/api/v1/tables/fdb/"), Route::Tables("fdb"));
        assert_eq!(route("GET", "/api/v1/capture/"), Route::Capture);
        assert_eq!(route("GET", "/api/v1/trace"), Route::Trace);
        assert_eq!(route("GET", "/api/v1/topology"), Route::Topology);
        assert_eq!(route("GET", "/api/v1/instance"), Route::Instance);
        assert_eq!(route("GET", "/api/v1/counters"), Route::Counters);
        assert_eq!(
            route("GET", "/api/v1/tables/"),
            Route::NoEndpoint("/api/v1/tables")
        );
        assert_eq!(
            route("GET", "/api/v1/nope"),
            Route::NoEndpoint("/api/v1/nope")
        );
        assert_eq!(route("DELETE", "/api/v1/counters"), Route::MethodNotAllowed);
    }

    fn state() -> Arc<State> {
        let topo = nfv_config::load_str(
            "t.yaml",
            "name: t\nnodes:\n  h1: {kind: host}\n  sw1: {kind: switch}\n\
             links:\n  - endpoints: [h1, sw1:p1]\n",
        )
        .unwrap()
        .topology;
        let sd = nfv_dataplane::worker::Shutdown::new().unwrap();
        // No worker: every request that needs one gets a 503.
        let (ctl, rx) = nfv_dataplane::worker::control(sd);
        drop(rx);
        let net = nfv_runtime::build_in_memory(&topo, 1, &mut |name: &str| {
            Box::new(nfv_dataplane::testing::QueuePort::new(name)) as Box<dyn nfv_dataplane::Port>
        })
        .unwrap();
        let instance = instance::Instance::new(
            &topo,
            Path::new("t.yaml"),
            Path::new("/run/nfv/t.sock"),
            &net.pipeline,
            &net.resources,
        );
        Arc::new(State {
            ctl: Controllers::single(ctl),
            info: Info::new(&topo),
            instance,
        })
    }

    /// `raw` through [`connection`] on an in-memory pipe: (status line, head, body).
    async fn exchange(raw: &[u8]) -> (String, String, String) {
        exchange_with(raw, Access::Full).await
    }

    /// [`exchange`] as a client of a listener with `access`.
    async fn exchange_with(raw: &[u8], access: Access) -> (String, String, String) {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(connection(server, state(), access));
        client.write_all(raw).await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        task.await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.lines().next().unwrap().to_string();
        (status, format!("{head}\r\n\r\n"), body.to_string())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn serves_the_routes_on_any_stream_with_the_same_bytes() {
        let (status, head, body) = exchange(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        let text = "not found; metrics are at /metrics, the admin API under /api/v1/\n";
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                text.len()
            )
        );
        assert_eq!(body, text);

        let (status, head, body) = exchange(b"POST /metrics HTTP/1.1\r\n\r\n").await;
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
        assert!(head.contains("\r\nAllow: GET\r\n"), "{head}");
        assert_eq!(body, "only GET\n");

        for raw in [&b"garbage\r\n\r\n"[..], b"GET / HTTP/1.1\r\nX\r\n\r\n"] {
            let (status, _, body) = exchange(raw).await;
            assert_eq!(status, "HTTP/1.1 400 Bad Request");
            assert_eq!(body, "bad request\n");
        }

        let (status, head, body) = exchange(b"GET /api/v1/topology/ HTTP/1.1\r\n\r\n").await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            head.contains("Content-Type: application/json\r\n"),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["nodes"][1]["name"], "sw1");

        let (status, _, body) = exchange(b"GET /api/v1/nope HTTP/1.1\r\n\r\n").await;
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        assert!(
            body.contains("no such endpoint /api/v1/nope; try /api/v1/topology"),
            "{body}"
        );

        // No worker behind it: 503, JSON under /api/, text for /metrics.
        let (status, _, body) = exchange(b"GET /api/v1/counters HTTP/1.1\r\n\r\n").await;
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(body, r#"{"error":"the worker is not running"}"#);
        for raw in [
            &b"GET /metrics HTTP/1.1\r\n\r\n"[..],
            b"GET /metrics?x=1 HTTP/1.0\r\n\r\n",
        ] {
            let (status, head, body) = exchange(raw).await;
            assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
            assert!(head.contains("Content-Type: text/plain\r\n"), "{head}");
            assert_eq!(body, "the worker is not running\n");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tcp_clients_get_no_trace_or_capture_but_the_socket_does() {
        for path in ["/api/v1/trace?count=1", "/api/v1/capture?port=h1:eth0"] {
            let raw = format!("GET {path} HTTP/1.1\r\n\r\n");
            let (status, _, body) = exchange_with(raw.as_bytes(), Access::ReadOnly).await;
            assert_eq!(status, "HTTP/1.1 403 Forbidden", "{body}");
            assert!(body.contains("control socket only"), "{body}");
            assert!(body.contains(" -n t"), "{body}");
            // On the socket the request reaches the (absent) worker.
            let (status, _, _) = exchange_with(raw.as_bytes(), Access::Full).await;
            assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        }
        // Read-only state stays on TCP.
        let raw = b"GET /api/v1/topology HTTP/1.1\r\n\r\n";
        let (status, _, _) = exchange_with(raw, Access::ReadOnly).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn instance_names_the_process_its_nodes_and_workers() {
        let (status, _, body) = exchange(b"GET /api/v1/instance HTTP/1.1\r\n\r\n").await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["name"], "t");
        assert_eq!(v["pid"], std::process::id());
        assert_eq!(v["socket"], "/run/nfv/t.sock");
        assert!(v["file"].as_str().unwrap().ends_with("/t.yaml"), "{v}");
        assert_eq!(v["ports"], serde_json::json!(["h1:eth0"]));
        assert_eq!(v["nodes"][1]["name"], "sw1");
        assert_eq!(v["nodes"][1]["workers"], serde_json::json!([0]));
        assert_eq!(v["nodes"][0]["namespace"], "t-h1");
        assert_eq!(
            v["workers"][0]["nodes"],
            serde_json::json!(["h1:eth0", "sw1"])
        );
        assert_eq!(v["links"][0]["a"], "h1:eth0");
        assert!(v["uptime_s"].as_u64().is_some(), "{v}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn bad_parameters_are_json_400s_naming_them() {
        for (raw, msg) in [
            (
                &b"GET /api/v1/capture?count=1 HTTP/1.1\r\n\r\n"[..],
                "port=NODE:IFACE is required",
            ),
            (
                b"GET /api/v1/capture?port=h1:eth0&count=x HTTP/1.1\r\n\r\n",
                "count must be 1..=100000, not \"x\"",
            ),
            (
                b"GET /api/v1/trace?seconds=0 HTTP/1.1\r\n\r\n",
                "seconds must be 1..=60, not \"0\"",
            ),
            (
                b"GET /api/v1/trace?filter=proto+x HTTP/1.1\r\n\r\n",
                "filter \"proto x\": bad trace filter",
            ),
            (
                b"GET /api/v1/tables/fdb?node=a&node=b HTTP/1.1\r\n\r\n",
                "node is given more than once",
            ),
        ] {
            let (status, _, body) = exchange(raw).await;
            assert_eq!(status, "HTTP/1.1 400 Bad Request", "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(v["error"].as_str().unwrap().starts_with(msg), "{body}");
        }
        // A good query gets as far as the (absent) worker.
        let (status, _, _) = exchange(b"GET /api/v1/tables/fdb?node=sw%31 HTTP/1.1\r\n\r\n").await;
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    }
}
