//! Shared helpers for end-to-end tests: run the real `nfv` binary on a topology, run tools
//! inside its namespaces, and always clean up.
//!
//! Privileged tests call [`require_root`]. Without root they print why and return; with
//! `NFV_REQUIRE_PRIVILEGED=1` (set by `.ci/run`) that skip is a failure instead.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the `nfv` binary under test.
pub fn nfv_bin() -> &'static str {
    env!("CARGO_BIN_EXE_nfv")
}

/// True when privileged tests may run. See the module docs.
pub fn require_root() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        return true;
    }
    if std::env::var("NFV_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("NFV_REQUIRE_PRIVILEGED=1 but this test is not running as root");
    }
    eprintln!("skipped: needs root (TAP devices and network namespaces)");
    false
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("nfv-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Namespaces currently present.
pub fn netns_list() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// True if interface `name` exists in the host namespace.
pub fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", "dev", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Run `args` inside namespace `ns`.
pub fn ns_exec(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap()
}

/// `ping -c count` from `ns` to `dst`; true if every reply arrived.
pub fn ping(ns: &str, dst: &str, count: u32) -> bool {
    let out = ns_exec(
        ns,
        &[
            "ping",
            "-n",
            "-q",
            "-c",
            &count.to_string(),
            "-i",
            "0.2",
            "-W",
            "2",
            dst,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.contains(&format!("{count} received"))
}

/// `ping` that is expected to fail: true if no reply arrived at all.
pub fn ping_fails(ns: &str, dst: &str) -> bool {
    let out = ns_exec(
        ns,
        &["ping", "-n", "-q", "-c", "3", "-i", "0.3", "-W", "1", dst],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    !out.status.success() && text.contains(" 0 received")
}

/// A running `nfv run` on a topology; stopped (SIGTERM, then SIGKILL) and cleaned on drop.
pub struct Running {
    pub child: Option<Child>,
    /// Namespaces and host devices the topology creates (for last-resort cleanup).
    pub namespaces: Vec<String>,
    pub devices: Vec<String>,
    stdout_rx: mpsc::Receiver<String>,
    pub stdout_lines: Vec<String>,
    pub dir: TempDir,
}

/// Send `sig` to a process we started, by PID.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

impl Running {
    /// Write `yaml` to a file and start `nfv run` on it; wait until it says it is running.
    /// `namespaces`/`devices` name what the topology creates, for cleanup if nfv fails to.
    pub fn start(tag: &str, yaml: &str, namespaces: &[&str], devices: &[&str]) -> Running {
        Running::start_with(tag, yaml, namespaces, devices, false, &[])
    }

    /// As [`Running::start`], with nfv's log (stderr) written to `nfv.log` in [`Running::dir`]
    /// when `to_file` (read it with [`Running::log`]).
    pub fn start_logging(
        tag: &str,
        yaml: &str,
        namespaces: &[&str],
        devices: &[&str],
        to_file: bool,
    ) -> Running {
        Running::start_with(tag, yaml, namespaces, devices, to_file, &[])
    }

    /// [`Running::start`] with extra environment variables for `nfv run`.
    pub fn start_env(
        tag: &str,
        yaml: &str,
        namespaces: &[&str],
        devices: &[&str],
        env: &[(&str, &str)],
    ) -> Running {
        Running::start_with(tag, yaml, namespaces, devices, false, env)
    }

    fn start_with(
        tag: &str,
        yaml: &str,
        namespaces: &[&str],
        devices: &[&str],
        to_file: bool,
        env: &[(&str, &str)],
    ) -> Running {
        let dir = TempDir::new(tag);
        let file = dir.file("topo.yaml", yaml);
        let stderr = if to_file {
            Stdio::from(std::fs::File::create(dir.0.join("nfv.log")).unwrap())
        } else {
            Stdio::inherit()
        };
        let mut child = Command::new(nfv_bin())
            .arg("run")
            .arg(&file)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut r = Running {
            child: Some(child),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            devices: devices.iter().map(|s| s.to_string()).collect(),
            stdout_rx: rx,
            stdout_lines: Vec::new(),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match r.stdout_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let ready = line.contains("running");
                    r.stdout_lines.push(line);
                    if ready {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = r.child.as_mut().unwrap().try_wait().unwrap() {
                        panic!(
                            "nfv exited during start-up: {status}; stdout: {:?}",
                            r.stdout_lines
                        );
                    }
                    assert!(Instant::now() < deadline, "nfv did not start within 20 s");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = r.child.as_mut().unwrap().wait().unwrap();
                    panic!(
                        "nfv exited during start-up: {status}; stdout: {:?}",
                        r.stdout_lines
                    );
                }
            }
        }
        r
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// nfv's log so far (started with [`Running::start_logging`] `to_file`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("nfv.log")).unwrap_or_default()
    }

    /// SIGTERM and wait (up to 20 s). Returns exit success and the rest of stdout.
    pub fn stop(&mut self) -> (bool, String) {
        let mut child = self.child.take().unwrap();
        signal(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("nfv did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(l) = self.stdout_rx.recv_timeout(Duration::from_millis(500)) {
            self.stdout_lines.push(l);
        }
        (status.success(), self.stdout_lines.join("\n"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Last resort: nfv should have removed these itself (tests assert that separately).
        remove_objects(&self.namespaces, &self.devices);
    }
}

/// `ip netns del` each of `namespaces` and `ip link del` each of `links`, ignoring what is
/// not there (cleanup after a test, also when it failed).
pub fn remove_objects(namespaces: &[String], links: &[String]) {
    for ns in namespaces {
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
    }
    for d in links {
        let _ = Command::new("ip")
            .args(["link", "del", d])
            .stderr(Stdio::null())
            .status();
    }
}

/// A background tool (tcpdump, a server) in a namespace, stopped with SIGTERM; its stdout
/// and stderr collected.
pub struct Background {
    child: Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
}

impl Background {
    /// Start `args` in `ns` and wait until its stderr contains `ready` (e.g. tcpdump's
    /// "listening on"). An empty `ready` returns at once.
    pub fn start(ns: &str, args: &[&str], ready: &str) -> Background {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = BufReader::new(stdout).read_to_string(&mut s);
            let _ = tx.send(s);
        });
        let (rtx, rrx) = mpsc::channel();
        let (etx, erx) = mpsc::channel();
        let wait_for_ready = !ready.is_empty();
        let ready = ready.to_string();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            let mut seen = String::new();
            let mut told = false;
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                if !told && seen.contains(&ready) {
                    let _ = rtx.send(());
                    told = true;
                }
            }
            let _ = etx.send(seen);
        });
        if wait_for_ready {
            rrx.recv_timeout(Duration::from_secs(10))
                .expect("background tool did not become ready");
        }
        Background {
            child,
            out: rx,
            err: erx,
        }
    }

    /// SIGTERM, wait, and return everything it printed on stdout.
    pub fn finish(self) -> String {
        self.finish_both().0
    }

    /// SIGTERM, wait, and return (stdout, stderr).
    pub fn finish_both(mut self) -> (String, String) {
        signal(self.child.id(), "TERM");
        let _ = self.child.wait();
        let out = self
            .out
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        let err = self
            .err
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        (out, err)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `curl` from `ns`; returns (success, body).
pub fn curl(ns: &str, url: &str, timeout_s: u32) -> (bool, String) {
    let out = ns_exec(
        ns,
        &[
            "curl",
            "-s",
            "-S",
            "--max-time",
            &timeout_s.to_string(),
            url,
        ],
    );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Retry `f` for up to `secs` seconds until it returns true.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of the Prometheus sample written exactly as `series` (`name{labels}`) in an
/// exposition `text`; panics (showing the text) if there is none.
pub fn metric(text: &str, series: &str) -> u64 {
    let prefix = format!("{series} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"));
    line[prefix.len()..].parse().unwrap()
}

/// A UDP socket bound to `addr:port` in `ns` that reads nothing, so datagrams sent there
/// cause no ICMP port-unreachable replies (stopped on drop).
pub fn udp_sink(ns: &str, addr: &str, port: u16) -> Background {
    Background::start(
        ns,
        &[
            "python3",
            "-c",
            &format!(
                "import socket,sys,time\n\
                 s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                 s.bind(('{addr}',{port}))\n\
                 print('ready',file=sys.stderr,flush=True)\n\
                 time.sleep(60)"
            ),
        ],
        "ready",
    )
}
