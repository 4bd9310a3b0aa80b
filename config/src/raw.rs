//! Stage 1: serde structs that mirror the file, every one `#[serde(deny_unknown_fields)]`.
//!
//! Nodes are one flat [`RawNode`] with every kind's fields optional, not an internally tagged
//! enum: `#[serde(tag = "kind")]` buffers the node through serde's `Content`, which loses
//! `Spanned` locations and points errors at the start of the node instead of the bad value
//! (serde's buffering has no place for the spans). Which fields a kind allows is checked in
//! stage 2.
//!
//! Values that only have a *syntax* (CIDR, MAC, interface name, duration) are domain types
//! parsed here, so their errors carry the value's own location. Integers are read as `i64` and
//! range-checked in stage 2, which reports every out-of-range value at once.
//!
//! To add a top-level section (like `metrics`, or `workers` later), add an `Option<Spanned<..>>`
//! field to [`RawTopology`] and a check in `validate.rs`.

use std::fmt;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::tree::Tree;
use crate::types::{IfName, Ipv4Cidr, MacAddr, ParseError, deserialize_parsed, parse_duration};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawTopology {
    pub name: Spanned<String>,
    pub nodes: Spanned<RawMap<RawNode>>,
    #[serde(default)]
    pub links: Option<Spanned<Vec<Spanned<RawLink>>>>,
    /// Lists of endpoints through nat and firewall nodes; the length is checked in stage 2.
    #[serde(default)]
    pub chains: Option<Spanned<Vec<Spanned<RawChain>>>>,
    /// The Prometheus endpoint; loopback-only unless `allow-remote` (checked in stage 2).
    #[serde(default)]
    pub metrics: Option<Spanned<RawMetrics>>,
    /// `adaptive` or `busy` (checked in stage 2).
    #[serde(default)]
    pub poll: Option<Spanned<String>>,
    /// Number of worker threads (checked in stage 2).
    #[serde(default)]
    pub workers: Option<Spanned<i64>>,
    /// How long an adaptive worker polls after the last packet before it sleeps.
    #[serde(default)]
    pub spin: Option<Spanned<RawDuration>>,
    /// Share of a core each adaptive worker may poll for predicted packets (a percentage).
    #[serde(default)]
    pub cpu_budget: Option<Spanned<String>>,
}

/// `metrics:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawMetrics {
    pub listen: Spanned<RawSocketAddr>,
    pub allow_remote: Option<Spanned<bool>>,
}

/// `ip:port` (IPv6 as `[addr]:port`), with our own parse error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSocketAddr(pub SocketAddr);

impl<'de> Deserialize<'de> for RawSocketAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct P(SocketAddr);
        impl std::str::FromStr for P {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                s.parse().map(P).map_err(|_| ParseError::SocketAddr)
            }
        }
        deserialize_parsed::<D, P>(deserializer).map(|p| RawSocketAddr(p.0))
    }
}

impl fmt::Display for RawSocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One node, all kinds' fields together. `kind` is a string so that an unknown kind is a
/// stage-2 problem reported with the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawNode {
    pub kind: Spanned<String>,
    // every kind: the worker thread the node runs on
    pub worker: Option<Spanned<i64>>,
    // host
    pub address: Option<Spanned<Ipv4Cidr>>,
    pub gateway: Option<Spanned<RawIpv4>>,
    pub queues: Option<Spanned<i64>>,
    // host, tap
    pub mac: Option<Spanned<MacAddr>>,
    pub mtu: Option<Spanned<i64>>,
    pub ifname: Option<Spanned<IfName>>,
    // switch
    pub mac_table_size: Option<Spanned<i64>>,
    pub ageing: Option<Spanned<RawDuration>>,
    pub ports: Option<Spanned<RawMap<RawPort>>>,
    // router
    pub interfaces: Option<Spanned<RawMap<RawInterface>>>,
    pub routes: Option<Spanned<Vec<Spanned<RawRoute>>>>,
    pub routes_file: Option<Spanned<String>>,
    pub icmp_rate_limit: Option<Spanned<i64>>,
    pub icmp_burst: Option<Spanned<i64>>,
    pub arp_timeout: Option<Spanned<RawDuration>>,
    pub redirects: Option<Spanned<bool>>,
    // nat
    pub external: Option<Spanned<Vec<Spanned<RawIpv4>>>>,
    pub port_range: Option<Spanned<String>>,
    pub filtering: Option<Spanned<String>>,
    pub max_sessions: Option<Spanned<i64>>,
    pub max_sessions_per_host: Option<Spanned<i64>>,
    pub forwards: Option<Spanned<Vec<Spanned<RawForward>>>>,
    pub one_to_one: Option<Spanned<Vec<Spanned<RawOneToOne>>>>,
    pub mac_inside: Option<Spanned<MacAddr>>,
    pub mac_outside: Option<Spanned<MacAddr>>,
    // nat, firewall (also icmp-rate-limit, icmp-burst)
    pub timeouts: Option<Spanned<RawTimeouts>>,
    // firewall
    pub default: Option<Spanned<String>>,
    pub rules: Option<Spanned<Vec<Spanned<RawFwRule>>>>,
    pub max_flows: Option<Spanned<i64>>,
    pub max_flows_per_host: Option<Spanned<i64>>,
    // pcap
    pub read: Option<Spanned<String>>,
    pub write: Option<Spanned<String>>,
    pub rate_pps: Option<Spanned<i64>>,
    #[serde(rename = "loop")]
    pub repeat: Option<Spanned<bool>>,
}

/// A field present in a [`RawNode`]: its YAML name, where its value is, and the value's text.
pub(crate) struct PresentField {
    pub name: &'static str,
    pub at: Location,
    pub value: Option<String>,
}

impl RawNode {
    /// Every optional field that the file sets, by YAML name. Keep in step with the struct.
    pub(crate) fn present_fields(&self) -> Vec<PresentField> {
        fn whole<T>(name: &'static str, v: Option<&Spanned<T>>) -> Option<PresentField> {
            v.map(|v| PresentField {
                name,
                at: v.referenced,
                value: None,
            })
        }
        fn field<T: fmt::Display>(
            name: &'static str,
            v: Option<&Spanned<T>>,
        ) -> Option<PresentField> {
            v.map(|v| PresentField {
                name,
                at: v.referenced,
                value: Some(v.value.to_string()),
            })
        }
        [
            field("address", self.address.as_ref()),
            field("gateway", self.gateway.as_ref()),
            field("queues", self.queues.as_ref()),
            field("mac", self.mac.as_ref()),
            field("mtu", self.mtu.as_ref()),
            field("ifname", self.ifname.as_ref()),
            field("mac-table-size", self.mac_table_size.as_ref()),
            field("ageing", self.ageing.as_ref()),
            whole("ports", self.ports.as_ref()),
            whole("interfaces", self.interfaces.as_ref()),
            whole("routes", self.routes.as_ref()),
            field("routes-file", self.routes_file.as_ref()),
            field("icmp-rate-limit", self.icmp_rate_limit.as_ref()),
            field("icmp-burst", self.icmp_burst.as_ref()),
            field("arp-timeout", self.arp_timeout.as_ref()),
            field("redirects", self.redirects.as_ref()),
            whole("external", self.external.as_ref()),
            field("port-range", self.port_range.as_ref()),
            field("filtering", self.filtering.as_ref()),
            field("max-sessions", self.max_sessions.as_ref()),
            field("max-sessions-per-host", self.max_sessions_per_host.as_ref()),
            whole("forwards", self.forwards.as_ref()),
            whole("one-to-one", self.one_to_one.as_ref()),
            field("mac-inside", self.mac_inside.as_ref()),
            field("mac-outside", self.mac_outside.as_ref()),
            whole("timeouts", self.timeouts.as_ref()),
            field("default", self.default.as_ref()),
            whole("rules", self.rules.as_ref()),
            field("max-flows", self.max_flows.as_ref()),
            field("max-flows-per-host", self.max_flows_per_host.as_ref()),
            field("read", self.read.as_ref()),
            field("write", self.write.as_ref()),
            field("rate-pps", self.rate_pps.as_ref()),
            field("loop", self.repeat.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Field names of [`RawNode`] as written in YAML, for the per-kind check.
pub(crate) const HOST_FIELDS: &[&str] = &["address", "gateway", "queues", "mac", "mtu", "ifname"];
pub(crate) const TAP_FIELDS: &[&str] = &["ifname", "mtu", "mac"];
pub(crate) const PCAP_FIELDS: &[&str] = &["read", "write", "rate-pps", "loop"];
pub(crate) const SWITCH_FIELDS: &[&str] = &["mac-table-size", "ageing", "ports"];
pub(crate) const ROUTER_FIELDS: &[&str] = &[
    "interfaces",
    "routes",
    "routes-file",
    "icmp-rate-limit",
    "icmp-burst",
    "arp-timeout",
    "redirects",
];

pub(crate) const NAT_FIELDS: &[&str] = &[
    "external",
    "port-range",
    "filtering",
    "max-sessions",
    "max-sessions-per-host",
    "timeouts",
    "forwards",
    "one-to-one",
    "icmp-rate-limit",
    "icmp-burst",
    "mac-inside",
    "mac-outside",
    "mtu",
];
pub(crate) const FIREWALL_FIELDS: &[&str] = &[
    "default",
    "rules",
    "max-flows",
    "max-flows-per-host",
    "timeouts",
    "icmp-rate-limit",
    "icmp-burst",
    "mtu",
];

/// The fields valid for `kind` (without `kind` itself), or `None` for an unknown kind.
pub(crate) fn fields_of_kind(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "host" => Some(HOST_FIELDS),
        "tap" => Some(TAP_FIELDS),
        "pcap" => Some(PCAP_FIELDS),
        "switch" => Some(SWITCH_FIELDS),
        "router" => Some(ROUTER_FIELDS),
        "nat" => Some(NAT_FIELDS),
        "firewall" => Some(FIREWALL_FIELDS),
        _ => None,
    }
}

/// One entry of a switch's `ports:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawPort {
    pub vlan: Option<Spanned<i64>>,
    pub vlans: Option<Spanned<Vec<Spanned<i64>>>>,
    pub native_vlan: Option<Spanned<i64>>,
}

/// One entry of a router's `interfaces:`. `address` is required, so a missing one is a stage-1
/// "missing required field" at the entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawInterface {
    pub address: Spanned<Ipv4Cidr>,
    pub mtu: Option<Spanned<i64>>,
    pub mac: Option<Spanned<MacAddr>>,
}

/// One entry of a router's `routes:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawRoute {
    pub to: Spanned<Ipv4Cidr>,
    pub via: Spanned<RawIpv4>,
}

/// A NAT's or firewall's `timeouts:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawTimeouts {
    pub udp: Option<Spanned<RawDuration>>,
    pub tcp_established: Option<Spanned<RawDuration>>,
    pub tcp_transitory: Option<Spanned<RawDuration>>,
    pub icmp: Option<Spanned<RawDuration>>,
}

/// One entry of a NAT's `forwards:`. `proto` and `to` are strings checked in stage 2.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawForward {
    pub proto: Spanned<String>,
    pub external: Option<Spanned<RawIpv4>>,
    pub port: Spanned<i64>,
    pub to: Spanned<String>,
}

/// One entry of a NAT's `one-to-one:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawOneToOne {
    pub inside: Spanned<RawIpv4>,
    pub outside: Spanned<RawIpv4>,
}

/// One entry of a firewall's `rules:`. Words (`action`, `proto`, ports, …) are strings
/// checked in stage 2, so that every bad one is reported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawFwRule {
    pub action: Spanned<String>,
    pub direction: Option<Spanned<String>>,
    pub src: Option<Spanned<Ipv4Cidr>>,
    pub dst: Option<Spanned<Ipv4Cidr>>,
    pub proto: Option<Spanned<String>>,
    pub src_port: Option<Spanned<String>>,
    pub dst_port: Option<Spanned<String>>,
    pub icmp_type: Option<Spanned<i64>>,
    pub state: Option<Spanned<RawStates>>,
}

/// `state: new` or `state: [new, related]`. A single value has no span of its own: the
/// enclosing `Spanned` is its location.
#[derive(Debug)]
pub(crate) enum RawStates {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawStates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatesVisitor;

        impl<'de> Visitor<'de> for StatesVisitor {
            type Value = RawStates;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a state (new, established, related) or a list of them")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawStates, E> {
                Ok(RawStates::One(v.to_owned()))
            }

            // Other scalars become words too, so stage 2 reports them like any unknown state.
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawStates, E> {
                Ok(RawStates::One(v.to_string()))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawStates, E> {
                Ok(RawStates::One(v.to_string()))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawStates, E> {
                Ok(RawStates::One(v.to_string()))
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawStates, E> {
                Ok(RawStates::One(v.to_string()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStates, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element()? {
                    out.push(s);
                }
                Ok(RawStates::Many(out))
            }
        }

        deserializer.deserialize_any(StatesVisitor)
    }
}

/// One entry of `chains:`: endpoints and nat/firewall node names, as written.
pub(crate) type RawChain = Vec<Spanned<String>>;

/// One entry of `links:`. `endpoints` is a list so that a wrong count is a stage-2 problem.
/// The other keys are link attributes ([`crate::links`]), each kept as a [`Tree`] for its
/// own validation; any other key is an unknown field, as with `deny_unknown_fields`.
#[derive(Debug)]
pub(crate) struct RawLink {
    pub endpoints: Spanned<Vec<Spanned<String>>>,
    pub attributes: Vec<(Spanned<String>, Tree)>,
}

impl<'de> Deserialize<'de> for RawLink {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawLink;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("struct RawLink")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLink, A::Error> {
                let mut endpoints = None;
                let mut attributes = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if key.value == "endpoints" {
                        if endpoints.is_some() {
                            return Err(serde::de::Error::duplicate_field("endpoints"));
                        }
                        endpoints = Some(map.next_value()?);
                    } else if crate::links::attribute(&key.value).is_some() {
                        attributes.push((key, map.next_value::<Tree>()?));
                    } else {
                        return Err(serde::de::Error::unknown_field(
                            &key.value,
                            crate::links::link_fields(),
                        ));
                    }
                }
                let endpoints =
                    endpoints.ok_or_else(|| serde::de::Error::missing_field("endpoints"))?;
                Ok(RawLink {
                    endpoints,
                    attributes,
                })
            }
        }
        deserializer.deserialize_struct("RawLink", crate::links::link_fields(), V)
    }
}

/// An IPv4 address with our own parse error (std's says only "invalid IP address syntax").
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawIpv4(pub Ipv4Addr);

impl<'de> Deserialize<'de> for RawIpv4 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct P(Ipv4Addr);
        impl std::str::FromStr for P {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                s.parse().map(P).map_err(|_| ParseError::Ipv4)
            }
        }
        deserialize_parsed::<D, P>(deserializer).map(|p| RawIpv4(p.0))
    }
}

impl fmt::Display for RawIpv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A duration with the text it was written as (for messages about its range).
#[derive(Debug, Clone)]
pub(crate) struct RawDuration {
    pub text: String,
    pub value: Duration,
}

impl fmt::Display for RawDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let value = parse_duration(&text).map_err(serde::de::Error::custom)?;
        Ok(RawDuration { text, value })
    }
}

/// A YAML mapping kept in file order, keys with their locations. Duplicate keys never reach
/// here: serde-saphyr rejects them (`DuplicateKeyPolicy::Error`).
#[derive(Debug)]
pub(crate) struct RawMap<V>(pub Vec<(Spanned<String>, Spanned<V>)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for RawMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = RawMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMap<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(RawMap(entries))
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}
