//! Domain value types: parsed with `FromStr`, so a bad value fails in stage 1 at its own location.
//!
//! Each type validates its own *syntax* (an [`IfName`] is never longer than 15 bytes, a
//! [`Ipv4Cidr`] never has a prefix over 32). Constraints that depend on where the value is used
//! (a host address must not be the network address, a MAC must be unicast) are stage-2 checks
//! in `validate.rs`, because a generic `Ipv4Cidr` or `MacAddr` may legitimately be either.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{Deserialize, Deserializer, Error as _};

/// Longest interface name Linux accepts: `IFNAMSIZ` (16) minus the terminating NUL.
pub const IFNAME_MAX_LEN: usize = 15;

/// Why a value could not be parsed. The message does not repeat the value: the caller
/// ([`crate::Problem`]) prints it next to the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// An empty interface name.
    #[error("interface name is empty")]
    IfNameEmpty,
    /// An interface name over [`IFNAME_MAX_LEN`] bytes.
    #[error("interface name is {0} bytes, Linux allows at most {IFNAME_MAX_LEN}")]
    IfNameTooLong(usize),
    /// An interface name with a character the kernel refuses (`dev_valid_name`).
    #[error("interface name must not contain {0:?}")]
    IfNameChar(char),
    /// An interface name with whitespace.
    #[error("interface name must not contain whitespace")]
    IfNameWhitespace,
    /// `.` or `..`.
    #[error("interface name must not be \".\" or \"..\"")]
    IfNameDots,
    /// A name Linux keeps for itself ([`RESERVED_IFNAMES`]); the text says why.
    #[error("reserved interface name: {0}")]
    IfNameReserved(&'static str),
    /// Not six colon-separated hex octets.
    #[error("invalid MAC address (expected six hex octets like 02:00:00:00:00:01)")]
    Mac,
    /// Not `a.b.c.d/len`.
    #[error("invalid IPv4 CIDR (expected a.b.c.d/len)")]
    Cidr,
    /// `a.b.c.d/len` with `len` over 32.
    #[error("prefix length {0} is too long, an IPv4 prefix is at most 32")]
    CidrPrefix(u64),
    /// Not `a.b.c.d`.
    #[error("invalid IPv4 address (expected a.b.c.d)")]
    Ipv4,
    /// Not `ip:port`.
    #[error("invalid socket address (expected ip:port like 127.0.0.1:9464, or \"[::1]:9464\")")]
    SocketAddr,
    /// Not a number with an optional unit.
    #[error("invalid duration (expected 500ms, 300s, 5m, 1h, or a whole number of seconds)")]
    Duration,
}

/// Interface names that pass the kernel's syntax rules but cannot be an nfv interface, and
/// why: refused by `nfv check` rather than failing at start-up.
pub const RESERVED_IFNAMES: [(&str, &str); 4] = [
    (
        "lo",
        "the loopback interface, which every network namespace already has",
    ),
    (
        "all",
        "the kernel refuses it (it is the /proc/sys/net/ipv4/conf/all entry)",
    ),
    (
        "default",
        "the kernel refuses it (it is the /proc/sys/net/ipv4/conf/default entry)",
    ),
    (
        "bonding_masters",
        "a file in /sys/class/net whenever the bonding driver is loaded",
    ),
];

/// A Linux network interface name: 1..=15 bytes, no `/`, `:` or whitespace, not `.` or `..`,
/// and none of the [`RESERVED_IFNAMES`].
///
/// The same rules as the kernel's `dev_valid_name`, checked at load time so that a long name is
/// a config error with a line number rather than an `EINVAL` from `TUNSETIFF` at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfName(pub(crate) String);

impl IfName {
    /// The name as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IfName {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() {
            return Err(ParseError::IfNameEmpty);
        }
        if s.len() > IFNAME_MAX_LEN {
            return Err(ParseError::IfNameTooLong(s.len()));
        }
        if s == "." || s == ".." {
            return Err(ParseError::IfNameDots);
        }
        if let Some(c) = s.chars().find(|&c| c == '/' || c == ':') {
            return Err(ParseError::IfNameChar(c));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(ParseError::IfNameWhitespace);
        }
        if let Some((_, why)) = RESERVED_IFNAMES.iter().find(|(name, _)| *name == s) {
            return Err(ParseError::IfNameReserved(why));
        }
        Ok(IfName(s.to_owned()))
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Ethernet address. Parsed from and printed as `aa:bb:cc:dd:ee:ff` (lowercase on output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// True for group (multicast and broadcast) addresses: the low bit of the first octet is set.
    #[must_use]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// True for `00:00:00:00:00:00`.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl FromStr for MacAddr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or(ParseError::Mac)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseError::Mac);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| ParseError::Mac)?;
        }
        if parts.next().is_some() {
            return Err(ParseError::Mac);
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// An IPv4 address with a prefix length, as in `10.0.0.1/24`. The address keeps its host bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address as written (host bits kept).
    pub addr: Ipv4Addr,
    /// 0..=32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// The subnet mask, e.g. `255.255.255.0` for `/24`.
    #[must_use]
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    /// The network address (host bits cleared), e.g. `10.0.0.0` for `10.0.0.1/24`.
    #[must_use]
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask_bits())
    }

    /// The broadcast address (host bits set), e.g. `10.0.0.255` for `10.0.0.1/24`.
    #[must_use]
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask_bits())
    }

    /// True if `ip` is inside this subnet.
    #[must_use]
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask_bits() == u32::from(self.network())
    }

    fn mask_bits(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (addr, len) = s.split_once('/').ok_or(ParseError::Cidr)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| ParseError::Cidr)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Cidr);
        }
        let len: u64 = len.parse().map_err(|_| ParseError::Cidr)?;
        let prefix_len = u8::try_from(len)
            .ok()
            .filter(|&l| l <= 32)
            .ok_or(ParseError::CidrPrefix(len))?;
        Ok(Ipv4Cidr { addr, prefix_len })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Parse a duration: `500ms`, `300s`, `5m`, `1h`, or a bare whole number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return Err(ParseError::Duration);
    }
    let n: u64 = digits.parse().map_err(|_| ParseError::Duration)?;
    let (ms_per_unit, s_per_unit) = match unit {
        "ms" => (1, 0),
        "" | "s" => (0, 1),
        "m" => (0, 60),
        "h" => (0, 3600),
        _ => return Err(ParseError::Duration),
    };
    if ms_per_unit == 1 {
        Ok(Duration::from_millis(n))
    } else {
        n.checked_mul(s_per_unit)
            .map(Duration::from_secs)
            .ok_or(ParseError::Duration)
    }
}

/// `30%`, `0.5%`, `0.0001%` as parts per million: a percentage from 0 to 100 with at most
/// four decimals.
///
/// # Errors
/// The message for a problem, naming the expected form.
pub(crate) fn parse_percent(s: &str) -> Result<u32, String> {
    let bad = || "expected a percentage from 0% to 100% (at most four decimals: 0.5%)".to_owned();
    let n = s.strip_suffix('%').ok_or_else(bad)?;
    let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
    if whole.is_empty()
        || frac.len() > 4
        || !(whole.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let frac: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<4}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(10_000)
        .and_then(|w| w.checked_add(frac))
        .filter(|p| *p <= 1_000_000)
        .ok_or_else(bad)
}

/// Deserialize any scalar as a string and parse it with `FromStr`, so that the error (and its
/// location) belongs to the value. Numbers are read as their text (`ageing: 300`).
pub(crate) fn deserialize_parsed<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(D::Error::custom)
}

impl<'de> Deserialize<'de> for IfName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

impl<'de> Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("eth0")]
    #[case("a")]
    #[case("fifteen-bytes-x")]
    #[case("vm1.tap")]
    #[case("...")]
    #[case("lo0")]
    #[case("Lo")]
    fn ifname_accepts(#[case] s: &str) {
        assert_eq!(s.parse::<IfName>().map(|n| n.to_string()), Ok(s.to_owned()));
    }

    #[rstest]
    #[case("", ParseError::IfNameEmpty)]
    #[case("sixteen-bytes-xx", ParseError::IfNameTooLong(16))]
    #[case("a/b", ParseError::IfNameChar('/'))]
    #[case("a:b", ParseError::IfNameChar(':'))]
    #[case("a b", ParseError::IfNameWhitespace)]
    #[case("a\tb", ParseError::IfNameWhitespace)]
    #[case(".", ParseError::IfNameDots)]
    #[case("..", ParseError::IfNameDots)]
    #[case("lo", ParseError::IfNameReserved(RESERVED_IFNAMES[0].1))]
    #[case("all", ParseError::IfNameReserved(RESERVED_IFNAMES[1].1))]
    #[case("default", ParseError::IfNameReserved(RESERVED_IFNAMES[2].1))]
    fn ifname_rejects(#[case] s: &str, #[case] want: ParseError) {
        assert_eq!(s.parse::<IfName>(), Err(want));
    }

    #[test]
    fn ifname_too_long_message_names_the_limit() {
        let err = "this-name-is-too-long".parse::<IfName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "interface name is 21 bytes, Linux allows at most 15"
        );
    }

    #[rstest]
    #[case("02:00:00:00:00:01", [2, 0, 0, 0, 0, 1])]
    #[case("AA:bb:Cc:dD:ee:FF", [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])]
    fn mac_parses(#[case] s: &str, #[case] want: [u8; 6]) {
        assert_eq!(s.parse::<MacAddr>(), Ok(MacAddr(want)));
    }

    #[rstest]
    #[case("")]
    #[case("02:00:00:00:00")]
    #[case("02:00:00:00:00:01:02")]
    #[case("02-00-00-00-00-01")]
    #[case("2:0:0:0:0:1")]
    #[case("02:00:00:00:00:0g")]
    #[case("+2:00:00:00:00:01")]
    fn mac_rejects(#[case] s: &str) {
        assert_eq!(s.parse::<MacAddr>(), Err(ParseError::Mac));
    }

    #[test]
    fn mac_displays_lowercase() {
        let mac: MacAddr = "AA:BB:CC:DD:EE:0F".parse().unwrap();
        assert_eq!(mac.to_string(), "aa:bb:cc:dd:ee:0f");
        assert!(!mac.is_multicast() && !mac.is_zero());
        assert!(
            "01:00:5e:00:00:01"
                .parse::<MacAddr>()
                .unwrap()
                .is_multicast()
        );
    }

    #[rstest]
    #[case("10.0.0.1/24", "10.0.0.0", "255.255.255.0", "10.0.0.255")]
    #[case("10.0.0.1/32", "10.0.0.1", "255.255.255.255", "10.0.0.1")]
    #[case("10.0.0.1/31", "10.0.0.0", "255.255.255.254", "10.0.0.1")]
    #[case("192.168.7.9/0", "0.0.0.0", "0.0.0.0", "255.255.255.255")]
    #[case("172.16.5.4/12", "172.16.0.0", "255.240.0.0", "172.31.255.255")]
    fn cidr_math(#[case] s: &str, #[case] net: &str, #[case] mask: &str, #[case] bcast: &str) {
        let c: Ipv4Cidr = s.parse().unwrap();
        assert_eq!(c.to_string(), s);
        assert_eq!(c.network().to_string(), net);
        assert_eq!(c.netmask().to_string(), mask);
        assert_eq!(c.broadcast().to_string(), bcast);
        assert!(c.contains(c.addr));
        assert!(c.contains(c.network()));
        assert!(c.contains(c.broadcast()));
    }

    #[test]
    fn cidr_contains_is_bounded_by_the_prefix() {
        let c: Ipv4Cidr = "10.0.0.1/24".parse().unwrap();
        assert!(c.contains(Ipv4Addr::new(10, 0, 0, 254)));
        assert!(!c.contains(Ipv4Addr::new(10, 0, 1, 1)));
        assert!(!c.contains(Ipv4Addr::new(9, 255, 255, 255)));
    }

    #[rstest]
    #[case("10.0.0.300/24", ParseError::Cidr)]
    #[case("10.0.0.1", ParseError::Cidr)]
    #[case("10.0.0.1/", ParseError::Cidr)]
    #[case("10.0.0.1/+4", ParseError::Cidr)]
    #[case("10.0.0.1/24/1", ParseError::Cidr)]
    #[case("10.0.0/24", ParseError::Cidr)]
    #[case("10.0.0.1/33", ParseError::CidrPrefix(33))]
    #[case("10.0.0.1/999", ParseError::CidrPrefix(999))]
    #[case("10.0.0.1/1000", ParseError::Cidr)]
    fn cidr_rejects(#[case] s: &str, #[case] want: ParseError) {
        assert_eq!(s.parse::<Ipv4Cidr>(), Err(want));
    }

    #[rstest]
    #[case("300s", Duration::from_secs(300))]
    #[case("300", Duration::from_secs(300))]
    #[case("5m", Duration::from_secs(300))]
    #[case("1h", Duration::from_secs(3600))]
    #[case("500ms", Duration::from_millis(500))]
    #[case("0", Duration::ZERO)]
    fn duration_parses(#[case] s: &str, #[case] want: Duration) {
        assert_eq!(parse_duration(s), Ok(want));
    }

    #[rstest]
    #[case("")]
    #[case("s")]
    #[case("5 m")]
    #[case("1.5s")]
    #[case("-1s")]
    #[case("5d")]
    #[case("5M")]
    #[case("99999999999999999999s")]
    #[case("9999999999999999999h")]
    fn duration_rejects(#[case] s: &str) {
        assert_eq!(parse_duration(s), Err(ParseError::Duration));
    }
}
