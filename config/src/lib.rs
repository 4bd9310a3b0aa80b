//! YAML topology text to a validated [`Topology`].
//!
//! This crate knows nothing about packets or the OS: it reads text and returns values. The file
//! format follows containerlab: a `name`, a map of `nodes` (each with a `kind`), a list of
//! `links` whose `endpoints` are `node` or `node:interface`, and an optional list of `chains`
//! (`[r1:wan, fw1, nat1, web]`: endpoints with nat and firewall nodes between them, expanded to
//! links). The field reference is
//! `README-fields.md` beside this crate's `Cargo.toml`.
//!
//! ```
//! let text = "
//! name: lab1
//! nodes:
//!   h1:  { kind: host, address: 10.0.0.1/24 }
//!   sw1: { kind: switch }
//! links:
//!   - endpoints: [h1, sw1:p1]
//! ";
//! let loaded = nfv_config::load_str("lab1.yaml", text)?;
//! let h1 = loaded.topology.node("h1").expect("h1 is in the file");
//! assert_eq!(h1.kind.kind_name(), "host");
//! assert!(loaded.warnings.is_empty());
//! # Ok::<(), nfv_config::ConfigError>(())
//! ```
//!
//! # Two stages
//!
//! 1. **Syntax and types** (`raw.rs`). serde-saphyr deserializes the text into structs that
//!    mirror the file, all `#[serde(deny_unknown_fields)]`, with `strict_booleans` and duplicate
//!    keys rejected. Values with a syntax of their own ([`Ipv4Cidr`], [`MacAddr`], [`IfName`]
//!    with its 15-byte limit, durations) are parsed by `FromStr` inside `Deserialize`, so a bad
//!    one fails here, at its own line and column. Stage 1 stops at the first error: the
//!    [`ConfigError`] then holds exactly one [`Problem`]. Its field path is recovered from the
//!    error's position (see `syntax.rs`).
//! 2. **Meaning** (`validate.rs`, `validate/router.rs`, `validate/function.rs` for nat and
//!    firewall). Every check runs and **every problem
//!    is collected**: unknown kinds, fields not valid for a node's kind, out-of-range numbers
//!    and VLAN ids, dangling or reused link endpoints, duplicate addresses, MACs and TAP names,
//!    gateways outside their subnet, overlapping router interfaces, routes with host bits set,
//!    duplicate routes and next hops off the router's subnets, NAT addresses owned twice and
//!    duplicate forwards, firewall rules whose fields do not fit their protocol, chains whose
//!    middle elements are not nat or firewall nodes. Values keep their positions
//!    through `serde_saphyr::Spanned`. Suspicious but valid things (a host no link uses, a
//!    configured switch port or router interface no link uses, a switch or router with no
//!    links, a nat or firewall side no link uses, NAT timeouts below the RFC floors) are
//!    warnings, returned in [`Loaded::warnings`] only when there is no error.
//!
//! A router's `routes-file` (one route per line, for tables of a million routes) is read in
//! stage 2 by a hand-written byte parser (`routes_file.rs`) and checked like `routes:`. A
//! relative path is resolved against the topology file's directory ([`load_file`]), the current
//! directory ([`load_str`]) or a given one ([`load_str_in`]).
//!
//! # Error format
//!
//! One problem per line, sorted by position:
//!
//! ```text
//! file:line:column: path: "value": message
//! examples/bad.yaml:7:25: nodes.h1.address: "10.0.0.300/24": invalid IPv4 CIDR (expected a.b.c.d/len)
//! topo.yaml:14:20: links[1].endpoints[1]: "sw9:p1": no node named "sw9"
//! topo.yaml:3:5: nodes.h1.adress: unknown field "adress", expected one of kind, address, gateway, queues, mac, mtu, ifname, worker
//! ```
//!
//! Lines and columns are 1-based (columns count characters). The path uses `.` for mapping
//! keys and `[i]` for list items. The `"value"` part is left out when the problem is about a
//! key or a whole mapping (unknown field, missing field) rather than a value.
//!
//! A misspelt field, kind, node or interface name gets the closest valid ones
//! ([`Problem::suggestions`], by edit distance): `unknown field "mac-tabel-size", expected
//! one of kind, mac-table-size, ageing, ports, worker; did you mean "mac-table-size"?`.
//! Values, quoted names and path segments over [`SHOWN_CHARS`] characters are shortened
//! (`"aaaa…" (10485760 bytes)`). A YAML syntax error also has a [`Problem::help`]: the
//! source lines with a caret and, for indentation mistakes, the line where the indentation
//! went wrong, which the parser's position is often one line past; `nfv check` prints it
//! under the problem.
//!
//! Limits, stated as such when crossed: a topology file of at most [`MAX_FILE_BYTES`]
//! (checked before it is read) and [`MAX_YAML_NODES`] YAML nodes.
//!
//! Problems in a routes file name that file and come after the topology file's, in line order,
//! at most 20 per file and then a count of the rest:
//!
//! ```text
//! topo/routes.txt:3:1: routes-file line 3: "10.0.0.0/33": prefix length must be at most 32
//! topo/routes.txt: and 4180 more problems in this file (only the first 20 are listed)
//! ```

mod explain;
mod links;
mod problem;
mod raw;
mod routes_file;
mod suggest;
mod syntax;
mod topology;
mod tree;
mod types;
mod validate;

use std::path::Path;

pub use links::{LinkElement, LinkSpec, link_tables};
pub use problem::{ConfigError, Problem, SHOWN_CHARS};
pub use topology::{
    DEFAULT_AGEING, DEFAULT_ARP_TIMEOUT, DEFAULT_HOST_IFNAME, DEFAULT_ICMP_BURST,
    DEFAULT_ICMP_RATE_LIMIT, DEFAULT_ICMP_TIMEOUT, DEFAULT_MAC_TABLE_SIZE, DEFAULT_MAX_FLOWS,
    DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_HOST, DEFAULT_MTU, DEFAULT_NAT_PORT_RANGE,
    DEFAULT_TCP_ESTABLISHED_TIMEOUT, DEFAULT_TCP_TRANSITORY_TIMEOUT, DEFAULT_UDP_TIMEOUT,
    DEFAULT_VLAN, Endpoint, FIREWALL_SIDES, FirewallSpec, ForwardSpec, FwAction, FwDirection,
    FwRuleSpec, FwState, FwTimeoutsSpec, HostSpec, KNOWN_KINDS, L4Proto, Link, MAX_AGEING,
    MAX_ARP_TIMEOUT, MAX_FLOW_TIMEOUT, MAX_SPIN, MAX_TAP_QUEUES, MAX_WORKERS, MTU_RANGE,
    MetricsSpec, NAT_ICMP_TIMEOUT_FLOOR, NAT_SIDES, NAT_TCP_ESTABLISHED_TIMEOUT_FLOOR,
    NAT_TCP_TRANSITORY_TIMEOUT_FLOOR, NAT_UDP_TIMEOUT_FLOOR, NatFiltering, NatSpec,
    NatTimeoutsSpec, Node, NodeKind, PCAP_IFNAME, PROTO_ICMP, PROTO_TCP, PROTO_UDP, PcapSpec,
    PollSpec, RouteSpec, RouterInterface, RouterSpec, SwitchPort, SwitchSpec, TapSpec, Topology,
    VLAN_RANGE, VlanMode,
};
pub use tree::{Tree, TreeValue};
pub use types::{IFNAME_MAX_LEN, IfName, Ipv4Cidr, MacAddr, ParseError, RESERVED_IFNAMES};

/// Largest topology file, in bytes (16 MiB). Checked before the file is read or parsed, so a
/// huge file is one clear problem ("the topology file is 50.0 MiB; the limit is 16 MiB")
/// rather than a parser budget or memory error. A thousand-node topology is about 100 KiB;
/// big route tables belong in a router's `routes-file`, which has no such limit.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Most YAML nodes (every key, value and list item counts one) in a topology file: the
/// parser's budget, stated as such in the message when a file goes over it.
pub const MAX_YAML_NODES: usize = 250_000;

/// `bytes` as MiB: whole, else with one decimal.
fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 20) {
        return format!("{} MiB", bytes >> 20);
    }
    #[allow(clippy::cast_precision_loss)] // display only
    let m = bytes as f64 / f64::from(1u32 << 20);
    format!("{m:.1} MiB")
}

/// The problem for a file over [`MAX_FILE_BYTES`].
fn too_big(file: &str, bytes: u64) -> ConfigError {
    ConfigError {
        problems: vec![Problem {
            file: file.to_owned(),
            line: 0,
            column: 0,
            path: String::new(),
            value: None,
            message: format!(
                "the topology file is {} ({bytes} bytes); the limit is {} \
                 (put large route tables in a router's routes-file)",
                mib(bytes),
                mib(MAX_FILE_BYTES)
            ),
            suggestions: Vec::new(),
            help: None,
        }],
    }
}

/// A topology that passed both stages, and the warnings found on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The validated topology.
    pub topology: Topology,
    /// Things that are valid but probably not meant (unused nodes and ports), by position.
    pub warnings: Vec<Problem>,
}

/// Read and validate the topology file at `path`.
///
/// Messages name the file as `path` is displayed. A router's relative `routes-file` is read
/// from the directory of `path`, and its messages name it as that directory joined with it.
///
/// # Errors
///
/// A [`ConfigError`] with one problem if the file can't be read, is larger than
/// [`MAX_FILE_BYTES`], isn't UTF-8 or fails stage 1 (syntax and types, at most
/// [`MAX_YAML_NODES`] YAML nodes), or with every problem found by stage 2 (meaning).
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let file = path.display().to_string();
    let io_error = |message: String| ConfigError {
        problems: vec![Problem {
            file: file.clone(),
            line: 0,
            column: 0,
            path: String::new(),
            value: None,
            message,
            suggestions: Vec::new(),
            help: None,
        }],
    };
    let size = std::fs::metadata(path)
        .map_err(|e| io_error(format!("cannot read the file: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(too_big(&file, size));
    }
    let bytes = std::fs::read(path).map_err(|e| io_error(format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| io_error(format!("the file is not UTF-8 text: {e}")))?;
    load_str_in(&file, &text, path.parent().unwrap_or(Path::new("")))
}

/// Validate topology `text`; `file_name` is used only in messages.
///
/// There is no directory: a router's relative `routes-file` is read from the current
/// directory. Use [`load_str_in`] to give one.
///
/// # Errors
///
/// As [`load_file`], without the I/O error for the topology file itself.
pub fn load_str(file_name: &str, text: &str) -> Result<Loaded, ConfigError> {
    load_str_in(file_name, text, Path::new(""))
}

/// Validate topology `text` as if it were a file in `base_dir`: a router's relative
/// `routes-file` is read from `base_dir` (an empty path is the current directory) and named in
/// messages as `base_dir` joined with it. `file_name` is used only in messages.
///
/// # Errors
///
/// As [`load_file`], without the I/O error for the topology file itself. A routes file that
/// cannot be read is one problem at the `routes-file:` value.
pub fn load_str_in(file_name: &str, text: &str, base_dir: &Path) -> Result<Loaded, ConfigError> {
    let len = u64::try_from(text.len()).unwrap_or(u64::MAX);
    if len > MAX_FILE_BYTES {
        return Err(too_big(file_name, len));
    }
    let options = serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        with_snippet: false,
        budget: serde_saphyr::budget! { max_nodes: MAX_YAML_NODES },
    };
    let raw: raw::RawTopology =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| ConfigError {
            problems: vec![syntax::problem_from_yaml_error(file_name, text, &e)],
        })?;
    validate::validate(file_name, base_dir, &raw)
}

/// One line of a routes file as [`parse_routes_file`] sees it.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutesFileLine {
    /// 1-based line number.
    pub number: usize,
    /// 1-based column (characters) of the field the result is about.
    pub column: usize,
    /// Characters on the line.
    pub chars: usize,
    /// `(prefix as written, length, next hop)`, or the message.
    pub parsed: Result<(std::net::Ipv4Addr, u8, std::net::Ipv4Addr), String>,
}

/// Parse `bytes` as a routes file (syntax only, as `routes-file:` is read; no file, no
/// meaning checks). For the fuzz targets (`fuzz/`), which cannot reach the crate's modules.
#[doc(hidden)]
pub fn parse_routes_file(bytes: &[u8]) -> Vec<RoutesFileLine> {
    routes_file::Lines::new(bytes)
        .map(|line| {
            let (start, parsed) = match line.parsed {
                Ok(r) => (
                    r.to.start,
                    Ok((
                        std::net::Ipv4Addr::from(r.to_addr),
                        r.prefix_len,
                        std::net::Ipv4Addr::from(r.via_addr),
                    )),
                ),
                Err((e, token)) => (token.start, Err(e.to_string())),
            };
            RoutesFileLine {
                number: line.number,
                column: line.column(start),
                chars: line.column(line.text.len()) - 1,
                parsed,
            }
        })
        .collect()
}
