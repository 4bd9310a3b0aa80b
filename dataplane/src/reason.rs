//! Drop reasons, declared per element in the style of VPP's `foreach_*_error` lists.
//!
//! Every dropped packet is counted under a [`Reason`]: a one-byte code. The data plane core
//! declares the reasons that the core itself and the wire layer produce ([`DropReason`]:
//! ports, rings, the graph runner, the frame and IPv4 header checks every function makes);
//! each function declares its own in one [`drop_reasons!`](crate::drop_reasons) list next to
//! its code (an enum, its stable names and docs, and a `TABLE` of [`ReasonInfo`]) and
//! returns that table from [`Element::drop_reasons`](crate::Element::drop_reasons).
//!
//! Codes `0..ELEMENT_BASE` are the core's, codes `ELEMENT_BASE..CAPACITY` index the table of
//! the element whose [`DropCounters`] count them, as VPP numbers a node's errors from the
//! node's error base. Counting is an add into a fixed array at a constant index: no
//! allocation, no lookup per packet. Names are resolved only when counters are read
//! ([`DropCounters::nonzero`], [`DropCounters::all`]) or a traced packet is dropped.
//!
//! # Which reasons are core
//! Those counted by the core (`no_output`, `bad_gate`, `tx_full`, `tx_error`, `ring_full`,
//! `rx_truncated`, `too_big`, `malformed`, `offload_invalid`), those a function meets while
//! using core services (`no_buffer`: the pool; `no_headroom`: prepending), and the header
//! checks the wire layer makes for every function alike: the RFC 1812 §5.2.2 IPv4 header
//! validation ([`crate::wire::ipv4::parse`]), an EtherType the function does not handle, a
//! group or zero source MAC, and an ARP packet that is not Ethernet/IPv4. A switch, router,
//! NAT and firewall count those under the same name, so they are declared once.
//!
//! # Stability
//! The names are a metrics API (`reason="..."` labels, like VPP's error strings): never
//! rename one, only add. A reason moved between lists keeps its name.

use std::fmt;

/// The stable name and description of one drop reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReasonInfo {
    /// Stable snake_case name (a metrics label value).
    pub name: &'static str,
    /// One-paragraph description (from the declaration's doc comment).
    pub doc: &'static str,
}

impl ReasonInfo {
    /// The stable name.
    pub const fn as_str(&self) -> &'static str {
        self.name
    }

    /// The description as one line of text (doc comment lines joined, trimmed).
    pub fn description(&self) -> String {
        self.doc.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for ReasonInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// What an element reason without a table resolves to (an element dropping with a reason
/// list it did not return from [`Element::drop_reasons`](crate::Element::drop_reasons)).
const UNDECLARED: ReasonInfo = ReasonInfo {
    name: "undeclared",
    doc: "An element reason the element did not declare (a bug in the element).",
};

/// A drop reason as counted: a code of the core list ([`DropReason`]) or of the dropping
/// element's own list. Every `drop_reasons!` enum converts into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reason(u8);

impl Reason {
    /// First code of an element's own reasons; core codes are below.
    pub const ELEMENT_BASE: u8 = 32;
    /// Number of codes (size of the counter array).
    pub const CAPACITY: usize = 64;

    /// Core reason number `i` (used by [`drop_reasons!`](crate::drop_reasons)).
    #[doc(hidden)]
    #[inline]
    pub const fn core(i: u8) -> Reason {
        Reason(i)
    }

    /// Element reason number `i` (used by [`drop_reasons!`](crate::drop_reasons)).
    #[doc(hidden)]
    #[inline]
    pub const fn element(i: u8) -> Reason {
        Reason(Reason::ELEMENT_BASE + i)
    }

    /// Index in the counter array.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// True for one of the core reasons ([`DropReason`]).
    #[inline]
    pub const fn is_core(self) -> bool {
        self.0 < Reason::ELEMENT_BASE
    }

    /// Name and description, looking element reasons up in `element` (the dropping
    /// element's table).
    pub fn info(self, element: &'static [ReasonInfo]) -> &'static ReasonInfo {
        let table = if self.is_core() {
            DropReason::TABLE
        } else {
            element
        };
        let i = if self.is_core() {
            self.index()
        } else {
            self.index() - usize::from(Reason::ELEMENT_BASE)
        };
        table.get(i).unwrap_or(&UNDECLARED)
    }
}

/// Declare a list of drop reasons, VPP `foreach_*_error` style: an enum with one variant
/// per reason, each with a doc comment (the description shown in the README table) and its
/// stable name. Generates `ALL`, a `TABLE` of [`ReasonInfo`] in code order, `as_str`,
/// `Display` and `From<_> for` [`Reason`]. `core` is for the data plane's own list
/// ([`DropReason`]); functions use `element` and return `TABLE` from
/// [`Element::drop_reasons`](crate::Element::drop_reasons).
///
/// ```
/// nfv_dataplane::drop_reasons! {
///     /// Why the example element drops packets.
///     pub enum ExampleDrop: element {
///         /// The packet was not wanted.
///         Unwanted = "example_unwanted",
///     }
/// }
/// assert_eq!(ExampleDrop::Unwanted.as_str(), "example_unwanted");
/// assert_eq!(ExampleDrop::TABLE[0].doc.trim(), "The packet was not wanted.");
/// ```
#[macro_export]
macro_rules! drop_reasons {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $kind:ident {
            $(
                $(#[doc = $doc:literal])+
                $variant:ident = $str:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[doc = $doc])+
                $variant,
            )+
        }

        impl $name {
            /// Every reason of this list, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Names and descriptions, in code order (index = code).
            pub const TABLE: &'static [$crate::reason::ReasonInfo] = &[$(
                $crate::reason::ReasonInfo {
                    name: $str,
                    doc: concat!($($doc, "\n"),+),
                }
            ),+];

            /// Stable snake_case name.
            pub const fn as_str(self) -> &'static str {
                Self::TABLE[self as usize].name
            }
        }

        const _: () = assert!(
            $name::TABLE.len() <= $crate::reason::Reason::ELEMENT_BASE as usize,
            "too many drop reasons in one list"
        );

        impl ::core::convert::From<$name> for $crate::reason::Reason {
            #[inline]
            fn from(r: $name) -> $crate::reason::Reason {
                $crate::reason::Reason::$kind(r as u8)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

drop_reasons! {
    /// Drop reasons of the data plane core: ports, rings, the graph runner and the header
    /// checks of the wire layer that every function makes (see the module docs).
    pub enum DropReason: core {
        /// Frame under 14 bytes, a truncated 802.1Q tag, a header inconsistent with the
        /// frame length, or (rx on a host TAP) a `virtio_net_hdr` that does not fit its frame.
        Malformed = "malformed",
        /// Multicast/broadcast or all-zero source MAC.
        InvalidSourceMac = "invalid_source_mac",
        /// The port or output gate is linked to nothing.
        NoOutput = "no_output",
        /// No room to push a header (an 802.1Q tag).
        NoHeadroom = "no_headroom",
        /// The device did not accept the frame (EAGAIN/ENOBUFS).
        TxFull = "tx_full",
        /// The device returned an error writing the frame.
        TxError = "tx_error",
        /// A ring to another worker was full (the consumer worker is behind); counted by the
        /// producing side, never a block.
        RingFull = "ring_full",
        /// The frame was larger than the receive buffer.
        RxTruncated = "rx_truncated",
        /// Longer than the egress port's MTU + 18 (Ethernet header and one 802.1Q tag); for a
        /// GSO frame leaving through a port without offload, a segment that long.
        TooBig = "too_big",
        /// A function emitted on a gate it does not have (a bug, counted not panicked).
        BadGate = "bad_gate",
        /// An Ethernet type the function does not handle (IPv6 or a VLAN tag at a router, NAT
        /// or firewall).
        UnsupportedEthertype = "unsupported_ethertype",
        /// ARP too short or not Ethernet/IPv4.
        ArpInvalid = "arp_invalid",
        /// IPv4: fewer than 20 bytes after the Ethernet header (RFC 1812 §5.2.2).
        IpTooShort = "ip_too_short",
        /// IPv4: version field is not 4 (RFC 1812 §5.2.2).
        IpBadVersion = "ip_bad_version",
        /// IPv4: IHL under 5 or beyond the packet (RFC 1812 §5.2.2).
        IpBadHeaderLength = "ip_bad_header_length",
        /// IPv4: total length under the header length or over the received length (RFC 1812
        /// §5.2.2).
        IpBadTotalLength = "ip_bad_total_length",
        /// IPv4: header checksum wrong (RFC 1812 §5.2.2).
        IpBadChecksum = "ip_bad_checksum",
        /// A packet being built (fragment, ICMP error, flood copy) found the pool empty.
        NoBuffer = "no_buffer",
        /// Offload state that does not fit the frame where a function or port uses it:
        /// checksum start/field beyond the frame, GSO without segment size or NEEDS_CSUM,
        /// unknown GSO type, headers GSO cannot segment (an IPv4 fragment), NEEDS_CSUM on
        /// something other than the TCP/UDP checksum at the NAT.
        OffloadInvalid = "offload_invalid",
        /// The port's device is gone (deleted under nfv: EBADFD/ENODEV/ENXIO) or its link is
        /// down (ENETDOWN, or EIO writing to an administratively down TAP): the frame was not
        /// sent.
        PortDown = "port_down",
    }
}

/// Drop counters indexed by [`Reason`] code, with the table that names the element's own
/// codes. Plain integers: owned by one worker, no atomics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; Reason::CAPACITY],
    element: &'static [ReasonInfo],
}

// Manual: `Default` is derived for arrays of at most 32 elements only.
impl Default for DropCounters {
    fn default() -> Self {
        DropCounters::for_element(&[])
    }
}

impl DropCounters {
    /// Counters for an element whose own reasons are `element` (its
    /// [`Element::drop_reasons`](crate::Element::drop_reasons)); ports use `default()`.
    pub const fn for_element(element: &'static [ReasonInfo]) -> DropCounters {
        DropCounters {
            counts: [0; Reason::CAPACITY],
            element,
        }
    }

    /// Count `n` drops for `reason`.
    #[inline]
    pub fn add(&mut self, reason: impl Into<Reason>, n: u64) {
        // The index is below CAPACITY by construction (codes are u8 < 64); `get_mut` keeps
        // even a forged code from panicking.
        if let Some(c) = self.counts.get_mut(reason.into().index()) {
            *c += n;
        }
    }

    /// Drops counted for `reason`.
    pub fn get(&self, reason: impl Into<Reason>) -> u64 {
        self.counts.get(reason.into().index()).copied().unwrap_or(0)
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The name and description of `reason` for these counters.
    pub fn info(&self, reason: Reason) -> &'static ReasonInfo {
        reason.info(self.element)
    }

    /// The element's own reasons ([`Element::drop_reasons`](crate::Element::drop_reasons)).
    pub fn element_reasons(&self) -> &'static [ReasonInfo] {
        self.element
    }

    /// Every reason these counters can count (the core's, then the element's), with its
    /// count: what a metrics exporter lists.
    pub fn all(&self) -> impl Iterator<Item = (&'static ReasonInfo, u64)> + '_ {
        let core = DropReason::TABLE.iter().zip(self.counts.iter());
        let base = usize::from(Reason::ELEMENT_BASE);
        let element = self.element.iter().zip(self.counts[base..].iter());
        core.chain(element).map(|(i, n)| (i, *n))
    }

    /// Reasons with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static ReasonInfo, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n != 0)
            .map(|(i, n)| (Reason(i as u8).info(self.element), *n))
    }

    /// Add another set of counters to this one (the runner's core drops into an element's,
    /// or two workers' counters of the same element).
    pub fn merge(&mut self, other: &DropCounters) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        if self.element.is_empty() {
            self.element = other.element;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::drop_reasons! {
        /// Test list.
        enum TestDrop: element {
            /// First.
            First = "test_first",
            /// Second, described on
            /// two lines.
            Second = "test_second",
        }
    }

    #[test]
    fn core_table_is_in_code_order_with_unique_names() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(Reason::from(*r).index(), i, "{r} is out of order");
            assert_eq!(DropReason::TABLE[i].name, r.as_str());
        }
        let mut names: Vec<_> = DropReason::TABLE.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len(), "names are unique");
    }

    #[test]
    fn element_reasons_are_counted_apart_from_core_ones_and_named_by_the_table() {
        let mut d = DropCounters::for_element(TestDrop::TABLE);
        d.add(TestDrop::Second, 3);
        d.add(DropReason::Malformed, 1);
        d.add(TestDrop::First, 2);
        assert_eq!(d.get(TestDrop::Second), 3);
        assert_eq!(d.get(DropReason::Malformed), 1);
        assert_eq!(d.total(), 6);
        let nz: Vec<_> = d.nonzero().map(|(r, n)| (r.as_str(), n)).collect();
        assert_eq!(
            nz,
            [("malformed", 1), ("test_first", 2), ("test_second", 3)]
        );
        assert_eq!(
            d.all().count(),
            DropReason::ALL.len() + TestDrop::ALL.len(),
            "all lists core and element reasons"
        );
        assert_eq!(
            TestDrop::TABLE[1].description(),
            "Second, described on two lines."
        );
    }

    #[test]
    fn merge_keeps_the_element_table_and_undeclared_codes_still_have_a_name() {
        let mut runner = DropCounters::default();
        runner.add(DropReason::NoOutput, 1);
        let mut elem = DropCounters::for_element(TestDrop::TABLE);
        elem.add(TestDrop::First, 1);
        runner.merge(&elem);
        assert_eq!(runner.element_reasons(), TestDrop::TABLE);
        let mut anon = DropCounters::default();
        anon.add(TestDrop::First, 1);
        let names: Vec<_> = anon.nonzero().map(|(r, _)| r.to_string()).collect();
        assert_eq!(names, ["undeclared"]);
    }
}
