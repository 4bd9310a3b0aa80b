//! End-to-end: nfv as a service (issue 11) — the always-on control socket and finding it
//! by name, `nfv ps` / `nfv inspect`, one lock per topology, and removing only what nfv
//! made. Each test is one of the observations, and failed before the change.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::process::{Command, Output, Stdio};

use common::*;

/// `nfv ARGS` with `env`: (success, stdout, stderr).
fn nfv_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(nfv_bin())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    text(&out)
}

fn nfv(args: &[&str]) -> (bool, String, String) {
    nfv_env(args, &[])
}

fn text(out: &Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cmd ARGS` as uid/gid 65534 (nobody) with no supplementary groups.
fn as_nobody(cmd: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    text(&out)
}

fn mac_of(ns: &str) -> String {
    let o = ns_exec(ns, &["cat", "/sys/class/net/eth0/address"]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Removes what a test made by hand (foreign objects, a private run directory), also when
/// the test fails.
struct Guard {
    namespaces: Vec<String>,
    links: Vec<String>,
    dirs: Vec<std::path::PathBuf>,
}

impl Guard {
    fn new(namespaces: &[&str], links: &[&str], dirs: &[&std::path::Path]) -> Guard {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect();
        Guard {
            namespaces: own(namespaces),
            links: own(links),
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        remove_objects(&self.namespaces, &self.links);
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Topology `name`: hosts `a` (`<net>.1/24`) and `b` (`<net>.2/24`) on switch `sw`, with
/// `extra` lines after the name (e.g. a `metrics:` section).
fn two_hosts(name: &str, net: &str, extra: &str) -> String {
    format!(
        "name: {name}\n{extra}nodes:\n  a:  {{ kind: host, address: {net}.1/24 }}\n  \
         b:  {{ kind: host, address: {net}.2/24 }}\n  sw: {{ kind: switch }}\n\
         links:\n  - endpoints: [a, sw:p1]\n  - endpoints: [b, sw:p2]\n"
    )
}

/// Observation 1: `nfv run examples/switch.yaml` (no `metrics:`), then `nfv show fdb` with
/// no address finds the one running topology's control socket. With two running it says
/// which; `-n` picks one; `nfv ps` and `nfv inspect` list them with what they made. A
/// private run directory (`NFV_RUN_DIR`) keeps other tests' instances out of "the only one".
#[test]
fn show_reaches_a_topology_without_metrics_through_its_control_socket() {
    if !require_root() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("nfv-rundir-lc1-{}", std::process::id()));
    let guard = Guard::new(&[], &[], &[&dir]);
    let d = dir.to_str().unwrap();
    let env = [("NFV_RUN_DIR", d)];
    let yaml = include_str!("../examples/switch.yaml");
    assert!(
        !yaml.contains("metrics:"),
        "the README example has no metrics"
    );
    let ns = ["lab1-h1", "lab1-h2", "lab1-h3"];
    let mut run = Running::start_env("lc1", yaml, &ns, &["vm1-tap"], &env);

    // The socket: root's, mode 0600.
    let sock = dir.join("lab1.sock");
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 0);

    assert!(ping("lab1-h1", "10.0.0.2", 2), "h1 -> h2");
    let (ok, fdb, err) = nfv_env(&["show", "fdb"], &env);
    assert!(ok, "nfv show fdb: {err}");
    assert!(fdb.contains("sw1 (switch): fdb"), "{fdb}");
    for h in ["lab1-h1", "lab1-h2"] {
        assert!(fdb.contains(&mac_of(h)), "{h} in:\n{fdb}");
    }

    // ps: exactly this one, with its pid and file.
    let (ok, ps, err) = nfv_env(&["ps", "--json"], &env);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&ps).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["name"], "lab1");
    assert_eq!(list[0]["pid"], run.pid());
    assert_eq!(list[0]["ports"], 4);
    assert!(list[0]["file"].as_str().unwrap().ends_with("topo.yaml"));
    for k in ["uptime_s", "rx_pps", "tx_pps", "drops_total", "drops_per_s"] {
        assert!(list[0][k].is_number(), "{k}: {v}");
    }

    // inspect: namespaces with the inode of their /run/netns file, MACs as in the kernel.
    let (ok, insp, err) = nfv_env(&["inspect", "lab1", "--json"], &env);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&insp).unwrap();
    let h1 = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "h1")
        .unwrap();
    assert_eq!(h1["namespace"], "lab1-h1");
    let ino = std::fs::metadata("/run/netns/lab1-h1").unwrap().ino();
    assert_eq!(h1["netns_inode"], ino);
    assert_eq!(h1["interfaces"][0]["mac"], mac_of("lab1-h1"));
    assert_eq!(h1["interfaces"][0]["address"], "10.0.0.1/24");
    let vm1 = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "vm1")
        .unwrap();
    assert_eq!(vm1["interfaces"][0]["ifname"], "vm1-tap");
    assert_eq!(v["workers"][0]["worker"], 0);
    assert_eq!(v["links"].as_array().unwrap().len(), 4);
    let (ok, insp, _) = nfv_env(&["inspect"], &env);
    assert!(ok);
    println!("{insp}");
    assert!(
        insp.contains("lab1-h1") && insp.contains("vm1-tap"),
        "{insp}"
    );

    // A second topology: no more "the only one".
    let yaml2 = two_hosts("lc1b", "10.66.0", "");
    let run2 = Running::start_env("lc1b", &yaml2, &["lc1b-a", "lc1b-b"], &[], &env);
    let (ok, _, err) = nfv_env(&["show", "fdb"], &env);
    assert!(!ok);
    assert!(
        err.contains("2 topologies are running: lab1 (pid ")
            && err.contains("lc1b (pid ")
            && err.contains("-n NAME"),
        "{err}"
    );
    let (ok, out, err) = nfv_env(&["show", "fdb", "-n", "lc1b"], &env);
    assert!(ok, "{err}");
    assert!(out.contains("sw (switch): fdb"), "{out}");
    let (ok, ps, err) = nfv_env(&["ps"], &env);
    assert!(ok, "{err}");
    println!("{ps}");
    assert!(ps.starts_with("NAME  PID"), "{ps}");
    assert_eq!(ps.lines().count(), 3, "{ps}");
    let (ok, _, err) = nfv_env(&["show", "fdb", "-n", "nosuch"], &env);
    assert!(!ok && err.contains("topology \"nosuch\" is not running; running: lab1"));
    drop(run2);

    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    // Stopped: its socket and lock are gone, and nothing is running.
    assert!(!sock.exists() && !dir.join("lab1.lock").exists());
    let (ok, _, err) = nfv_env(&["show", "fdb"], &env);
    assert!(!ok && err.contains("no topology is running"), "{err}");
    drop(guard);
}

/// Observation 4: any local user could read every port's traffic over the TCP API
/// (`/api/v1/capture`) and arm traces. Now the control socket is root's (uid 65534 cannot
/// connect, through nfv or curl), and TCP serves the read-only state and `/metrics` but
/// answers 403 to capture and trace.
#[test]
fn a_non_root_user_can_neither_use_the_socket_nor_capture_over_tcp() {
    if !require_root() {
        return;
    }
    let mut run = Running::start(
        "lc4",
        &two_hosts("lc4", "10.64.0", "metrics: { listen: 127.0.0.1:19496 }\n"),
        &["lc4-a", "lc4-b"],
        &[],
    );
    let sock = "/run/nfv/lc4.sock";
    let url = "http://localhost/api/v1/counters";
    // Root: fine, on the socket.
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "5", "--unix-socket", sock, url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    // Nobody: refused by the socket's mode, with nfv's hint.
    let (ok, _, err) = as_nobody(nfv_bin(), &["show", "fdb", "-n", "lc4"]);
    assert!(!ok);
    assert!(
        err.contains("Permission denied") && err.contains("run this as root"),
        "{err}"
    );
    let (ok, out, err) = as_nobody(
        "curl",
        &["-s", "-S", "--max-time", "5", "--unix-socket", sock, url],
    );
    assert!(!ok, "nobody reached the socket: {out}");
    assert!(
        err.contains("denied") || err.contains("Couldn't connect"),
        "{err}"
    );
    // Nobody over TCP: capture and trace are 403, the read-only state and metrics stay.
    for path in [
        "/api/v1/capture?port=a:eth0&count=1&seconds=1",
        "/api/v1/trace?count=1&seconds=1",
    ] {
        let (ok, out, err) = as_nobody(
            "curl",
            &[
                "-s",
                "--max-time",
                "5",
                "-w",
                "\n%{http_code}",
                &format!("http://127.0.0.1:19496{path}"),
            ],
        );
        assert!(ok, "{err}");
        assert!(out.ends_with("\n403"), "{path}: {out}");
        assert!(out.contains("control socket only"), "{out}");
    }
    let (ok, out, err) = as_nobody(
        "curl",
        &[
            "-s",
            "-S",
            "--max-time",
            "5",
            "http://127.0.0.1:19496/metrics",
        ],
    );
    assert!(
        ok && out.contains("nfv_port_rx_packets_total"),
        "{err}{out}"
    );
    let (ok, out, err) = as_nobody(nfv_bin(), &["show", "fdb", "--api", "127.0.0.1:19496"]);
    assert!(ok && out.contains("sw (switch): fdb"), "{err}");
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
}

/// Observation 5: a second `nfv run` of a running topology called its namespaces
/// "left over" and `nfv clean` removed a live instance's namespaces. Now both refuse,
/// naming the pid, and the first instance keeps forwarding.
#[test]
fn a_second_run_and_clean_refuse_a_live_topology_naming_its_pid() {
    if !require_root() {
        return;
    }
    let mut run = Running::start(
        "lc5",
        &two_hosts("lc5", "10.65.0", ""),
        &["lc5-a", "lc5-b"],
        &[],
    );
    let file = run.dir.0.join("topo.yaml");
    let file = file.to_str().unwrap();
    let pid = run.pid();
    let (ok, out, err) = nfv(&["run", file]);
    assert!(!ok, "{out}");
    assert!(
        err.contains(&format!("topology \"lc5\" is running (pid {pid})")),
        "{err}"
    );
    assert!(!err.contains("left over"), "{err}");
    let (ok, out, err) = nfv(&["clean", file]);
    assert!(!ok, "{out}");
    assert!(err.contains(&format!("is running (pid {pid})")), "{err}");
    assert!(!out.contains("removed"), "{out}");
    let present = netns_list();
    assert!(present.iter().any(|n| n == "lc5-a") && present.iter().any(|n| n == "lc5-b"));
    assert!(
        ping("lc5-a", "10.65.0.2", 2),
        "the first instance still forwards"
    );
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    let (ok, out, err) = nfv(&["clean", file]);
    assert!(ok, "{err}");
    assert!(out.contains("nothing to remove"), "{out}");
}

const T6: &str = "\
name: lc6
nodes:
  a:   { kind: host, address: 10.67.0.1/24 }
  vm:  { kind: tap, ifname: lc6-tap }
  sw:  { kind: switch }
links:
  - endpoints: [a, sw:p1]
  - endpoints: [vm, sw:p2]
";

/// Observation 6: `nfv clean` deleted by name, so a foreign veth named like a topology's
/// `kind: tap` (and its peer) or a foreign namespace `<topo>-<node>` went too. Now `run`
/// and `clean` name them as not nfv's and leave them; a real leftover (after SIGKILL)
/// carries the `nfv:lc6` marker and is removed.
#[test]
fn clean_removes_only_marked_leftovers_and_leaves_foreign_objects() {
    if !require_root() {
        return;
    }
    let _guard = Guard::new(&["lc6-a"], &["lc6-tap", "lc6-tapp"], &[]);
    let dir = TempDir::new("lc6");
    let file = dir.file("topo.yaml", T6);
    let file = file.to_str().unwrap();

    sh(&[
        "ip", "link", "add", "lc6-tap", "type", "veth", "peer", "name", "lc6-tapp",
    ]);
    sh(&["ip", "netns", "add", "lc6-a"]);
    let (ok, _, err) = nfv(&["run", file]);
    assert!(!ok);
    assert!(
        err.contains("interface lc6-tap already exists and was not made by nfv"),
        "{err}"
    );
    assert!(
        err.contains("network namespace lc6-a already exists and was not made by nfv"),
        "{err}"
    );
    assert!(
        !err.contains("nfv clean"),
        "no advice to clean foreign objects: {err}"
    );
    let (ok, out, err) = nfv(&["clean", file]);
    assert!(!ok, "foreign objects in the way: exit 1");
    assert!(!out.contains("removed"), "{out}");
    assert!(err.contains("left alone: interface lc6-tap"), "{err}");
    assert!(err.contains("left alone: network namespace lc6-a"), "{err}");
    assert!(
        link_exists("lc6-tap") && link_exists("lc6-tapp"),
        "the veth pair survives"
    );
    assert!(
        netns_list().iter().any(|n| n == "lc6-a"),
        "the namespace survives"
    );
    sh(&["ip", "link", "del", "lc6-tap"]);
    sh(&["ip", "netns", "del", "lc6-a"]);

    // A real leftover: SIGKILL leaves the namespace, the TAP and a stale socket.
    let mut run = Running::start("lc6r", T6, &["lc6-a"], &["lc6-tap"]);
    let pid = run.pid();
    signal(pid, "KILL");
    let _ = run.child.take().unwrap().wait();
    assert!(
        std::path::Path::new("/run/nfv/lc6.sock").exists(),
        "stale socket"
    );
    let (ok, ps, _) = nfv(&["ps", "--json"]);
    assert!(ok);
    assert!(
        !ps.contains("\"lc6\""),
        "a dead instance is not listed: {ps}"
    );
    let out = Command::new("ip")
        .args(["-d", "link", "show", "lc6-tap"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("alias nfv:lc6"),
        "{:?}",
        text(&out)
    );
    let (ok, _, err) = nfv(&["run", file]);
    assert!(!ok);
    assert!(
        err.contains("left over from an earlier run of \"lc6\""),
        "{err}"
    );
    assert!(err.contains("nfv clean"), "{err}");
    let (ok, out, err) = nfv(&["clean", file]);
    assert!(ok, "{err}");
    assert!(out.contains("removed network namespace lc6-a"), "{out}");
    assert!(out.contains("removed interface lc6-tap"), "{out}");
    assert!(!link_exists("lc6-tap") && !netns_list().iter().any(|n| n == "lc6-a"));
    // And it runs again (the stale socket is replaced).
    let mut run = Running::start("lc6s", T6, &["lc6-a"], &["lc6-tap"]);
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
}

const T7: &str = "\
name: xt
nodes:
  q1: { kind: host, address: 10.68.0.1/24 }
  q2: { kind: host, address: 10.68.0.2/24 }
  sw: { kind: switch }
links:
  - endpoints: [q1, sw:p1]
  - endpoints: [q2, sw:p2]
";

/// Observation 7: on stop nfv deleted each namespace by name. After `ip netns del xt-q1;
/// ip netns add xt-q1` the new namespace is someone else's, and SIGTERM must leave it.
#[test]
fn teardown_leaves_a_namespace_that_was_replaced_meanwhile() {
    if !require_root() {
        return;
    }
    let _guard = Guard::new(&["xt-q1"], &[], &[]);
    let mut run = Running::start("lc7", T7, &["xt-q1", "xt-q2"], &[]);
    sh(&["ip", "netns", "del", "xt-q1"]);
    sh(&["ip", "netns", "add", "xt-q1"]);
    let ino = std::fs::metadata("/run/netns/xt-q1").unwrap().ino();
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    let ns = netns_list();
    assert!(
        ns.iter().any(|n| n == "xt-q1"),
        "the foreign xt-q1 survives: {ns:?}"
    );
    assert_eq!(std::fs::metadata("/run/netns/xt-q1").unwrap().ino(), ino);
    assert!(
        !ns.iter().any(|n| n == "xt-q2"),
        "nfv's own xt-q2 is removed"
    );
}

/// Observation 9: a non-root `nfv run` said "couldn't make /run/netns a shared mount point:
/// Operation not permitted". Now it says it needs root and which capabilities.
#[test]
fn a_non_root_run_says_it_needs_root() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("lc9");
    let yaml = "name: lc9\nnodes:\n  a: { kind: host }\n  b: { kind: host }\n  sw: { kind: switch }\n\
                links:\n  - endpoints: [a, sw:p1]\n  - endpoints: [b, sw:p2]\n";
    let file = dir.file("topo.yaml", yaml);
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (ok, out, err) = as_nobody(nfv_bin(), &["run", file.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(err.contains("needs root"), "{err}");
    assert!(
        err.contains("CAP_NET_ADMIN") && err.contains("CAP_SYS_ADMIN"),
        "{err}"
    );
    assert!(!err.contains("shared mount point"), "{err}");
    let ns = netns_list();
    assert!(!ns.iter().any(|n| n.starts_with("lc9-")), "{ns:?}");
}

/// `nfv --help` no longer says routers, NAT and firewalls are to come.
#[test]
fn help_lists_every_function_kind() {
    let (ok, out, _) = nfv(&["--help"]);
    assert!(ok);
    assert!(!out.contains("to come"), "{out}");
    assert!(
        out.contains("switches, routers, NAT and firewalls"),
        "{out}"
    );
    for cmd in ["ps", "inspect"] {
        assert!(out.contains(&format!("  {cmd} ")), "{cmd} in:\n{out}");
    }
}

/// Stops a topology `nfv up` started (by name: the pid in its lock), then removes what the
/// guard names, also when the test fails.
struct Down(
    &'static str,
    #[allow(dead_code, reason = "dropped after the stop")] Guard,
);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new(nfv_bin())
            .args(["down", self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Daemon mode: `nfv up` returns once the topology forwards, `nfv ps --json` lists it,
/// `nfv down` stops it and returns once everything it made is gone.
#[test]
fn up_ps_down_round_trip() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("lc2");
    let file = dir.file("topo.yaml", &two_hosts("lc2", "10.69.0", ""));
    let _down = Down("lc2", Guard::new(&["lc2-a", "lc2-b"], &[], &[]));
    let (ok, out, err) = nfv(&["up", file.to_str().unwrap()]);
    assert!(ok, "nfv up: {err}{out}");
    assert!(out.contains("topology \"lc2\" is up (pid "), "{out}");
    let pid: u32 = out
        .split("(pid ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    // Forwarding at once: no wait after `up` returned.
    assert!(ping("lc2-a", "10.69.0.2", 1), "a -> b right after nfv up");
    let (ok, ps, err) = nfv(&["ps", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&ps).unwrap();
    let me = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "lc2")
        .unwrap_or_else(|| panic!("lc2 in {v}"));
    assert_eq!(me["pid"], pid);
    // A second `up` refuses.
    let (ok, _, err) = nfv(&["up", file.to_str().unwrap()]);
    assert!(
        !ok && err.contains(&format!("is running (pid {pid})")),
        "{err}"
    );
    let (ok, out, err) = nfv(&["down", "lc2"]);
    assert!(ok, "nfv down: {err}");
    assert!(out.contains("stopped"), "{out}");
    // Down returned after the cleanup: nothing left, the process gone.
    let ns = netns_list();
    assert!(!ns.iter().any(|n| n.starts_with("lc2-")), "{ns:?}");
    assert!(!std::path::Path::new("/run/nfv/lc2.sock").exists());
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty()
            || state
                .rsplit_once(')')
                .unwrap()
                .1
                .trim_start()
                .starts_with('Z'),
        "pid {pid} exited: {state}"
    );
    let log = std::fs::read_to_string("/run/nfv/lc2.log").unwrap();
    assert!(log.contains("packet accounting: every packet"), "{log}");
    let (ok, _, err) = nfv(&["down", "lc2"]);
    assert!(!ok && err.contains("not running"), "{err}");
    let _ = std::fs::remove_file("/run/nfv/lc2.log");
}

/// A start-up error: `nfv up` prints it and exits non-zero, leaving nothing behind.
#[test]
fn up_prints_the_start_up_error_and_exits_non_zero() {
    if !require_root() {
        return;
    }
    let busy = std::net::TcpListener::bind("127.0.0.1:19497").unwrap();
    let dir = TempDir::new("lc3");
    let file = dir.file(
        "topo.yaml",
        &two_hosts("lc3", "10.70.0", "metrics: { listen: 127.0.0.1:19497 }\n"),
    );
    let _down = Down("lc3", Guard::new(&["lc3-a", "lc3-b"], &[], &[]));
    let (ok, out, err) = nfv(&["up", file.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("couldn't listen for metrics on 127.0.0.1:19497"),
        "{err}"
    );
    assert!(err.contains("did not start"), "{err}");
    let ns = netns_list();
    assert!(!ns.iter().any(|n| n.starts_with("lc3-")), "{ns:?}");
    let (_, ps, _) = nfv(&["ps", "--json"]);
    assert!(!ps.contains("\"lc3\""), "{ps}");
    drop(busy);
    let _ = std::fs::remove_file("/run/nfv/lc3.log");
}

/// `Type=notify`: with `$NOTIFY_SOCKET` set, `nfv run` sends `READY=1` once forwarding and
/// `STOPPING=1` when it stops (sd_notify(3)).
#[test]
fn run_notifies_ready_and_stopping_on_notify_socket() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("lc8n");
    let path = dir.0.join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let yaml = two_hosts("lc8", "10.71.0", "");
    let mut run = Running::start_env(
        "lc8",
        &yaml,
        &["lc8-a", "lc8-b"],
        &[],
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    assert!(
        ping("lc8-a", "10.71.0.2", 1),
        "forwarding when READY=1 arrived"
    );
    let (ok, out) = run.stop();
    assert!(ok, "{out}");
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
}
