//! A small synchronous rtnetlink client: the handful of link, address and route changes that
//! setting up TAP devices and test namespaces needs, without shelling out to `ip`.
//!
//! Messages are built and parsed with `netlink-packet-route` and sent over a blocking
//! `netlink-sys` socket. Every request carries `NLM_F_REQUEST | NLM_F_ACK` (plus
//! `NLM_F_CREATE | NLM_F_EXCL` when it adds an object) and waits for the kernel's answer, so a
//! method returns only once the change is in place, and a refusal comes back as an
//! [`io::Error`] holding the kernel's errno, wrapped in a [`NetlinkError`] that names the
//! operation and the object (`couldn't add address 10.0.0.1/24 to eth0 (index 2)`).
//! The socket asks for extended acks, so when the kernel explains a refusal ("MTU is less
//! than device minimum") that text is in the error too.
//!
//! # Which namespace
//!
//! A netlink socket talks to the network namespace of the thread that *created* it, for its
//! whole life. Create a [`Netlink`] inside [`super::netns::NetNs::run_in`] to manage a
//! namespace; the value can be returned from the closure and used from any thread.
//!
//! This is setup-path code: it allocates and formats freely and is not meant for a packet loop.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// `struct nlmsghdr` is 16 bytes.
const NLMSG_HDR_LEN: usize = 16;
/// `NLMSGERR_ATTR_MSG` from `<linux/netlink.h>`: the extended-ack text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Errors from [`Netlink`] requests and [`set_sysctl`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetlinkError {
    /// Opening, binding or connecting the `NETLINK_ROUTE` socket failed.
    #[error("couldn't open a NETLINK_ROUTE socket")]
    Socket(#[source] io::Error),
    /// The kernel refused a request (`source` holds its errno), or talking to it failed.
    /// `ext_ack` is the kernel's own explanation, when it gave one.
    #[error("couldn't {op}{}", kernel_says(.ext_ack.as_deref()))]
    Request {
        op: String,
        ext_ack: Option<String>,
        #[source]
        source: io::Error,
    },
    /// The kernel's reply couldn't be parsed or lacked what was asked for.
    #[error("couldn't {op}: unexpected reply from the kernel ({reason})")]
    BadReply { op: String, reason: String },
    /// No link with this name exists in the socket's network namespace.
    #[error("no network link named {name:?} in this network namespace")]
    NotFound { name: String },
    /// The link's hardware address isn't a 6-byte Ethernet address (e.g. a TUN device).
    #[error("{link} has no Ethernet address (its hardware address is {len} bytes)")]
    NotEthernet { link: String, len: usize },
    /// An IPv4 prefix length above 32.
    #[error("invalid prefix length {prefix_len} for IPv4 address {addr} (at most 32)")]
    InvalidPrefixLen { addr: Ipv4Addr, prefix_len: u8 },
    /// Writing `/proc/sys/<path>` failed.
    #[error("couldn't set sysctl {path} to {value:?}")]
    Sysctl {
        path: String,
        value: String,
        #[source]
        source: io::Error,
    },
}

impl NetlinkError {
    /// Whether the error means "no such link": [`NetlinkError::NotFound`], or a request about
    /// a link index that the kernel answered with `ENODEV`.
    pub fn is_not_found(&self) -> bool {
        match self {
            NetlinkError::NotFound { .. } => true,
            NetlinkError::Request { source, .. } => source.raw_os_error() == Some(libc::ENODEV),
            _ => false,
        }
    }
}

fn kernel_says(ext_ack: Option<&str>) -> String {
    ext_ack.map_or_else(String::new, |msg| format!(" (kernel: {msg})"))
}

/// How a single request failed, before we know how to name the operation.
enum Failure {
    Io(io::Error),
    Nack {
        source: io::Error,
        ext_ack: Option<String>,
    },
    BadReply(String),
}

/// A blocking `NETLINK_ROUTE` socket bound to the network namespace it was created in.
#[derive(Debug)]
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// Opens a `NETLINK_ROUTE` socket in the calling thread's network namespace.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Socket`] if the socket can't be opened, bound or connected.
    pub fn new() -> Result<Netlink, NetlinkError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Socket)?;
        socket.bind_auto().map_err(NetlinkError::Socket)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Socket)?;
        // Extended acks carry the kernel's explanation of a refusal; capped acks keep it from
        // echoing our whole request back. Both only improve error messages (Linux >= 4.12), so
        // a kernel without them is no reason to fail.
        if let Err(e) = socket.set_ext_ack(true) {
            tracing::debug!(error = %e, "netlink extended acks unavailable");
        }
        if let Err(e) = socket.set_cap_ack(true) {
            tracing::debug!(error = %e, "netlink capped acks unavailable");
        }
        Ok(Netlink { socket, seq: 0 })
    }

    /// The index of the link called `name`.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::NotFound`] if there is no such link in this namespace.
    pub fn link_index(&mut self, name: &str) -> Result<u32, NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let op = || format!("look up link {name:?}");
        let replies = match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(replies) => replies,
            Err(Failure::Nack { source, .. }) if source.raw_os_error() == Some(libc::ENODEV) => {
                return Err(NetlinkError::NotFound {
                    name: name.to_owned(),
                });
            }
            Err(failure) => return Err(failure.named(op())),
        };
        first_link(replies)
            .map(|link| link.header.index)
            .ok_or_else(|| NetlinkError::BadReply {
                op: op(),
                reason: "no RTM_NEWLINK in the answer".into(),
            })
    }

    /// Whether a link called `name` exists in this namespace.
    ///
    /// # Errors
    ///
    /// Only when the question can't be asked; a missing link is `Ok(false)`.
    pub fn link_exists(&mut self, name: &str) -> Result<bool, NetlinkError> {
        match self.link_index(name) {
            Ok(_) => Ok(true),
            Err(NetlinkError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The name of link `index`.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] with `ENODEV` if there is no such link.
    pub fn link_name(&mut self, index: u32) -> Result<String, NetlinkError> {
        let op = || format!("look up link index {index}");
        let link = self.get_link(index).map_err(|f| f.named(op()))?;
        link.attributes
            .into_iter()
            .find_map(|attr| match attr {
                LinkAttribute::IfName(name) => Some(name),
                _ => None,
            })
            .ok_or_else(|| NetlinkError::BadReply {
                op: op(),
                reason: "no IFLA_IFNAME".into(),
            })
    }

    /// Sets the link administratively up, like `ip link set DEV up`.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses.
    pub fn set_up(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_link(
            index,
            |link| format!("set {link} up"),
            |msg| {
                msg.header.flags = LinkFlags::Up;
                msg.header.change_mask = LinkFlags::Up;
            },
        )
    }

    /// Sets the link administratively down, like `ip link set DEV down`.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses.
    pub fn set_down(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_link(
            index,
            |link| format!("set {link} down"),
            |msg| {
                msg.header.flags = LinkFlags::empty();
                msg.header.change_mask = LinkFlags::Up;
            },
        )
    }

    /// Sets the link's MTU, like `ip link set DEV mtu MTU`.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses, e.g. `EINVAL` for an MTU outside the
    /// device's range.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<(), NetlinkError> {
        self.set_link(
            index,
            |link| format!("set MTU {mtu} on {link}"),
            |msg| {
                msg.attributes.push(LinkAttribute::Mtu(mtu));
            },
        )
    }

    /// Sets the link's Ethernet address, like `ip link set DEV address MAC`.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses, e.g. `EADDRNOTAVAIL` for a multicast
    /// address, or `EBUSY` for a device that can't change it while up.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<(), NetlinkError> {
        let mac_text = MacDisplay(mac);
        self.set_link(
            index,
            |link| format!("set address {mac_text} on {link}"),
            |msg| {
                msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
            },
        )
    }

    /// Sets the link's alias (`IFLA_IFALIAS`), like `ip link set DEV alias TEXT`. nfv marks
    /// the interfaces it creates with it (`nfv:<topology>`) so that `nfv clean` and teardown
    /// can tell them from foreign ones of the same name.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses (`EINVAL` for more than 255 bytes).
    pub fn set_alias(&mut self, index: u32, alias: &str) -> Result<(), NetlinkError> {
        self.set_link(
            index,
            |link| format!("set alias {alias:?} on {link}"),
            |msg| {
                msg.attributes
                    .push(LinkAttribute::IfAlias(alias.to_owned()));
            },
        )
    }

    /// The link's alias (`IFLA_IFALIAS`); `None` when it has none.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] with `ENODEV` if there is no such link.
    pub fn link_alias(&mut self, index: u32) -> Result<Option<String>, NetlinkError> {
        let link = self
            .get_link(index)
            .map_err(|f| f.named(format!("read the alias of link index {index}")))?;
        Ok(link.attributes.into_iter().find_map(|attr| match attr {
            LinkAttribute::IfAlias(a) if !a.is_empty() => Some(a),
            _ => None,
        }))
    }

    /// Moves the link into the network namespace `netns` (an fd on it, e.g.
    /// [`super::netns::NetNs::as_fd`]), like `ip link set DEV netns NAME`. The link keeps its
    /// name but loses its addresses and routes, and it may get another index there.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses, e.g. `EEXIST` if the target namespace
    /// has a link with the same name.
    pub fn move_to_netns(&mut self, index: u32, netns: BorrowedFd<'_>) -> Result<(), NetlinkError> {
        self.set_link(
            index,
            |link| format!("move {link} to another network namespace"),
            |msg| {
                msg.attributes
                    .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
            },
        )
    }

    /// Deletes the link, like `ip link del DEV`.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses, e.g. `EOPNOTSUPP` for a physical NIC.
    pub fn delete_link(&mut self, index: u32) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(msg), 0) {
            Ok(_) => Ok(()),
            Err(failure) => {
                let op = format!("delete {}", self.describe_link(index));
                Err(failure.named(op))
            }
        }
    }

    /// The link's Ethernet address (`IFLA_ADDRESS`).
    ///
    /// # Errors
    ///
    /// [`NetlinkError::NotEthernet`] if the link's hardware address isn't 6 bytes long,
    /// [`NetlinkError::Request`] with `ENODEV` if there is no such link.
    pub fn link_mac(&mut self, index: u32) -> Result<[u8; 6], NetlinkError> {
        let link = match self.get_link(index) {
            Ok(link) => link,
            Err(failure) => {
                return Err(failure.named(format!("read the address of link index {index}")));
            }
        };
        let address = link
            .attributes
            .into_iter()
            .find_map(|attr| match attr {
                LinkAttribute::Address(bytes) => Some(bytes),
                _ => None,
            })
            .unwrap_or_default();
        <[u8; 6]>::try_from(address.as_slice()).map_err(|_| NetlinkError::NotEthernet {
            link: self.describe_link(index),
            len: address.len(),
        })
    }

    /// The link's MTU (`IFLA_MTU`).
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] with `ENODEV` if there is no such link.
    pub fn link_mtu(&mut self, index: u32) -> Result<u32, NetlinkError> {
        let op = || format!("read the MTU of link index {index}");
        let link = self.get_link(index).map_err(|f| f.named(op()))?;
        link.attributes
            .into_iter()
            .find_map(|attr| match attr {
                LinkAttribute::Mtu(mtu) => Some(mtu),
                _ => None,
            })
            .ok_or_else(|| NetlinkError::BadReply {
                op: op(),
                reason: "no IFLA_MTU".into(),
            })
    }

    /// The link's drop counters (`IFLA_STATS64` `rx_dropped`/`tx_dropped`, as `ip -s link`
    /// shows them; they include the core stats a TAP counts when its queue is full).
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] with `ENODEV` if there is no such link.
    pub fn link_drops(&mut self, index: u32) -> Result<LinkDrops, NetlinkError> {
        let op = || format!("read the counters of link index {index}");
        let link = self.get_link(index).map_err(|f| f.named(op()))?;
        link.attributes
            .into_iter()
            .find_map(|attr| match attr {
                LinkAttribute::Stats64(s) => Some(LinkDrops {
                    rx_dropped: s.rx_dropped,
                    tx_dropped: s.tx_dropped,
                }),
                _ => None,
            })
            .ok_or_else(|| NetlinkError::BadReply {
                op: op(),
                reason: "no IFLA_STATS64".into(),
            })
    }

    /// Adds `addr/prefix_len` to the link, like `ip addr add ADDR/LEN brd + dev DEV`:
    /// `IFA_LOCAL` and `IFA_ADDRESS` are both `addr`, and `IFA_BROADCAST` is the subnet's
    /// all-ones address unless the prefix is /31 or /32, which have no broadcast address
    /// (RFC 3021). The kernel adds the prefix route when the link is up.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::InvalidPrefixLen`] for `prefix_len > 32`; [`NetlinkError::Request`] if
    /// the kernel refuses, e.g. `EEXIST` if the link has this address already.
    pub fn add_ipv4_address(
        &mut self,
        index: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        let broadcast = ipv4_broadcast(addr, prefix_len)?;
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix_len;
        msg.header.index = index;
        // What iproute2 picks when no scope is given.
        msg.header.scope = if addr.is_loopback() {
            AddressScope::Host
        } else {
            AddressScope::Universe
        };
        msg.attributes
            .push(AddressAttribute::Local(IpAddr::V4(addr)));
        msg.attributes
            .push(AddressAttribute::Address(IpAddr::V4(addr)));
        if prefix_len < 31 {
            msg.attributes.push(AddressAttribute::Broadcast(broadcast));
        }
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Ok(_) => Ok(()),
            Err(failure) => {
                let op = format!(
                    "add address {addr}/{prefix_len} to {}",
                    self.describe_link(index)
                );
                Err(failure.named(op))
            }
        }
    }

    /// Adds a default route via `gateway` to the main table, like `ip route add default via
    /// GATEWAY`: protocol `boot` (iproute2's default), scope universe, type unicast. The kernel
    /// picks the outgoing link from the connected route that covers `gateway`, so that link
    /// must be up and have its address first.
    ///
    /// # Errors
    ///
    /// [`NetlinkError::Request`] if the kernel refuses: `ENETUNREACH` if no up link reaches
    /// `gateway`, `EEXIST` if there is a default route already.
    pub fn add_ipv4_default_route(&mut self, gateway: Ipv4Addr) -> Result<(), NetlinkError> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = 0;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
        .map_err(|f| f.named(format!("add default route via {gateway}")))
    }

    /// RTM_SETLINK on `index` with whatever `fill` puts in the message. On failure, `op` words
    /// the operation given the link's description ("eth0 (index 2)").
    fn set_link(
        &mut self,
        index: u32,
        op: impl FnOnce(&str) -> String,
        fill: impl FnOnce(&mut LinkMessage),
    ) -> Result<(), NetlinkError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        fill(&mut msg);
        match self.request(RouteNetlinkMessage::SetLink(msg), 0) {
            Ok(_) => Ok(()),
            Err(failure) => {
                let link = self.describe_link(index);
                Err(failure.named(op(&link)))
            }
        }
    }

    fn get_link(&mut self, index: u32) -> Result<LinkMessage, Failure> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let replies = self.request(RouteNetlinkMessage::GetLink(msg), 0)?;
        first_link(replies).ok_or_else(|| Failure::BadReply("no RTM_NEWLINK in the answer".into()))
    }

    /// "eth0 (index 2)", or "link index 2" if the name can't be had (it is gone, or in
    /// another namespace by now). Only used to word errors.
    fn describe_link(&mut self, index: u32) -> String {
        match self.link_name(index) {
            Ok(name) => format!("{name} (index {index})"),
            Err(_) => format!("link index {index}"),
        }
    }

    /// Sends one request with `NLM_F_REQUEST | NLM_F_ACK | extra_flags` and collects the
    /// replies that carry its sequence number until the kernel's ACK (or error) arrives.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        extra_flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | extra_flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);

        let sent = retry_eintr(|| self.socket.send(&out, 0)).map_err(Failure::Io)?;
        if sent != out.len() {
            return Err(Failure::BadReply(format!(
                "sent {sent} of {} bytes",
                out.len()
            )));
        }

        let mut replies = Vec::new();
        loop {
            let mut datagram = Vec::new();
            // Peek at the size first so a large answer is never truncated.
            let peeked = retry_eintr(|| {
                self.socket
                    .recv(&mut datagram, libc::MSG_PEEK | libc::MSG_TRUNC)
            })
            .map_err(Failure::Io)?;
            datagram = Vec::with_capacity(peeked);
            let len = retry_eintr(|| self.socket.recv(&mut datagram, 0)).map_err(Failure::Io)?;
            datagram.truncate(len);

            let mut rest = datagram.as_slice();
            while !rest.is_empty() {
                let msg_len = NetlinkBuffer::new_checked(rest)
                    .map_err(|e| Failure::BadReply(e.to_string()))?
                    .length() as usize;
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..msg_len])
                    .map_err(|e| Failure::BadReply(e.to_string()))?;
                rest = rest.get(align4(msg_len)..).unwrap_or_default();
                // A late answer to an earlier request that gave up half-way: not ours.
                if msg.header.sequence_number != seq {
                    continue;
                }
                let flags = msg.header.flags;
                match msg.payload {
                    NetlinkPayload::InnerMessage(inner) => replies.push(inner),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(replies),
                        Some(_) => {
                            return Err(Failure::Nack {
                                source: e.to_io(),
                                ext_ack: ext_ack_message(flags, &e.header),
                            });
                        }
                    },
                    NetlinkPayload::Done(_) => return Ok(replies),
                    _ => {}
                }
            }
        }
    }
}

/// A link's kernel drop counters (see [`Netlink::link_drops`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkDrops {
    /// Frames the kernel dropped on receive on this link.
    pub rx_dropped: u64,
    /// Frames the kernel dropped on transmit on this link (a TAP: its queue to the user
    /// side was full).
    pub tx_dropped: u64,
}

/// Reads one link's [`LinkDrops`] on demand (at snapshot time, never per packet) through a
/// netlink socket of its own, made in the link's namespace. Keeps the last values read, so a
/// link that is gone reports what it had.
#[derive(Debug)]
pub struct LinkDropsReader {
    nl: std::cell::RefCell<Netlink>,
    index: u32,
    last: std::cell::Cell<LinkDrops>,
}

impl LinkDropsReader {
    /// A reader for the link called `name` in the calling thread's namespace.
    ///
    /// # Errors
    ///
    /// [`NetlinkError`] if the socket cannot be opened or there is no such link.
    pub fn new(name: &str) -> Result<LinkDropsReader, NetlinkError> {
        let mut nl = Netlink::new()?;
        let index = nl.link_index(name)?;
        Ok(LinkDropsReader {
            nl: std::cell::RefCell::new(nl),
            index,
            last: std::cell::Cell::new(LinkDrops::default()),
        })
    }

    /// The counters now (the last ones read if they cannot be read now).
    pub fn read(&self) -> LinkDrops {
        if let Ok(mut nl) = self.nl.try_borrow_mut()
            && let Ok(d) = nl.link_drops(self.index)
        {
            self.last.set(d);
        }
        self.last.get()
    }
}

impl Failure {
    fn named(self, op: String) -> NetlinkError {
        match self {
            Failure::Io(source) => NetlinkError::Request {
                op,
                ext_ack: None,
                source,
            },
            Failure::Nack { source, ext_ack } => NetlinkError::Request {
                op,
                ext_ack,
                source,
            },
            Failure::BadReply(reason) => NetlinkError::BadReply { op, reason },
        }
    }
}

/// Writes `value` to `/proc/sys/<path>`, e.g. `set_sysctl("net/ipv6/conf/tap0/disable_ipv6",
/// "1")`. `path` uses `/` separators (not sysctl(8)'s dots, since interface names may contain
/// dots) and may not leave `/proc/sys`.
///
/// Keys under `net/` belong to the network namespace of the *calling thread*, so call this
/// inside [`super::netns::NetNs::run_in`] to configure a namespace.
///
/// # Errors
///
/// [`NetlinkError::Sysctl`]: `InvalidInput` for a bad path, `NotFound` for an unknown key,
/// or whatever the write returned (`EINVAL` for a value the kernel rejects).
pub fn set_sysctl(path: &str, value: &str) -> Result<(), NetlinkError> {
    let sysctl_err = |source| NetlinkError::Sysctl {
        path: path.to_owned(),
        value: value.to_owned(),
        source,
    };
    let valid = !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !valid {
        return Err(sysctl_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a sysctl path is relative to /proc/sys and has no empty, \".\" or \"..\" parts",
        )));
    }
    let mut file = OpenOptions::new()
        .write(true)
        .open(format!("/proc/sys/{path}"))
        .map_err(sysctl_err)?;
    // One write: sysctl handlers parse each write() on its own.
    file.write_all(value.as_bytes()).map_err(sysctl_err)
}

fn first_link(replies: Vec<RouteNetlinkMessage>) -> Option<LinkMessage> {
    replies.into_iter().find_map(|reply| match reply {
        RouteNetlinkMessage::NewLink(link) => Some(link),
        _ => None,
    })
}

fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// The directed broadcast address of `addr/prefix_len`.
fn ipv4_broadcast(addr: Ipv4Addr, prefix_len: u8) -> Result<Ipv4Addr, NetlinkError> {
    if prefix_len > 32 {
        return Err(NetlinkError::InvalidPrefixLen { addr, prefix_len });
    }
    let host_mask = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
    Ok(Ipv4Addr::from(u32::from(addr) | host_mask))
}

/// The `NLMSGERR_ATTR_MSG` text of an `NLMSG_ERROR`, if the kernel attached one.
/// `after_code` is the error payload after the errno: the echoed request (only its header
/// when `NLM_F_CAPPED`), then, when `NLM_F_ACK_TLVS`, the extended-ack attributes.
fn ext_ack_message(flags: u16, after_code: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let echoed_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDR_LEN
    } else {
        let len: [u8; 4] = after_code.get(..4)?.try_into().ok()?;
        u32::from_ne_bytes(len) as usize
    };
    let attrs = after_code.get(align4(echoed_len)..)?;
    NlasIterator::new(attrs)
        .map_while(Result::ok)
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .map(|nla| {
            let text = nla.value().split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(text).into_owned()
        })
        .filter(|text| !text.is_empty())
}

/// `02:00:00:00:00:01`.
struct MacDisplay([u8; 6]);

impl std::fmt::Display for MacDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_sets_host_bits() {
        let addr = Ipv4Addr::new(10, 99, 0, 1);
        let brd = |len| ipv4_broadcast(addr, len).expect("valid prefix");
        assert_eq!(brd(24), Ipv4Addr::new(10, 99, 0, 255));
        assert_eq!(brd(16), Ipv4Addr::new(10, 99, 255, 255));
        assert_eq!(brd(30), Ipv4Addr::new(10, 99, 0, 3));
        assert_eq!(brd(32), addr);
        assert_eq!(brd(0), Ipv4Addr::BROADCAST);
        assert!(matches!(
            ipv4_broadcast(addr, 33),
            Err(NetlinkError::InvalidPrefixLen { prefix_len: 33, .. })
        ));
    }

    /// An NLMSG_ERROR payload after the errno, as Linux sends it with NETLINK_CAP_ACK and
    /// NETLINK_EXT_ACK set: the echoed request header, then NLMSGERR_ATTR_MSG.
    #[rustfmt::skip]
    const CAPPED_EXT_ACK: [u8; 16 + 4 + 12] = [
        // echoed nlmsghdr: len 32, type RTM_SETLINK (19), flags REQUEST|ACK, seq 7, port 0
        32, 0, 0, 0,  19, 0,  5, 0,  7, 0, 0, 0,  0, 0, 0, 0,
        // nla header: len 4 + 10, type NLMSGERR_ATTR_MSG
        14, 0,  1, 0,
        // "bad mtu!!\0", padded to 12
        b'b', b'a', b'd', b' ', b'm', b't', b'u', b'!', b'!', 0, 0, 0,
    ];

    #[test]
    fn ext_ack_text_is_found_after_capped_echo() {
        let flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
        assert_eq!(
            ext_ack_message(flags, &CAPPED_EXT_ACK).as_deref(),
            Some("bad mtu!!")
        );
        assert_eq!(ext_ack_message(NLM_F_CAPPED, &CAPPED_EXT_ACK), None);
    }

    #[test]
    fn ext_ack_text_is_found_after_full_echo() {
        // Uncapped: the echo is the whole request, whose length is its first word.
        let mut payload = vec![24, 0, 0, 0, 19, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        payload.extend_from_slice(&[0xaa; 8]); // the request's body
        payload.extend_from_slice(&CAPPED_EXT_ACK[16..]);
        assert_eq!(
            ext_ack_message(NLM_F_ACK_TLVS, &payload).as_deref(),
            Some("bad mtu!!")
        );
    }

    #[test]
    fn ext_ack_on_truncated_payload_is_none() {
        assert_eq!(ext_ack_message(NLM_F_ACK_TLVS, &[1, 2]), None);
        assert_eq!(
            ext_ack_message(NLM_F_CAPPED | NLM_F_ACK_TLVS, &CAPPED_EXT_ACK[..10]),
            None
        );
    }

    #[test]
    fn request_error_names_operation_errno_and_kernel_text() {
        let e = Failure::Nack {
            source: io::Error::from_raw_os_error(libc::EEXIST),
            ext_ack: Some("address already assigned".into()),
        }
        .named("add address 10.0.0.1/24 to eth0 (index 2)".into());
        assert_eq!(
            e.to_string(),
            "couldn't add address 10.0.0.1/24 to eth0 (index 2) (kernel: address already assigned)"
        );
        let source = std::error::Error::source(&e).expect("has a source");
        assert_eq!(
            source
                .downcast_ref::<io::Error>()
                .and_then(io::Error::raw_os_error),
            Some(libc::EEXIST)
        );
        assert!(!e.is_not_found());
    }

    #[test]
    fn sysctl_paths_that_escape_proc_sys_are_rejected() {
        for bad in [
            "",
            "/etc/passwd",
            "net/../../etc/x",
            "net//ipv4",
            "net/./x",
            "a\0b",
        ] {
            match set_sysctl(bad, "1") {
                Err(NetlinkError::Sysctl { source, .. }) => {
                    assert_eq!(source.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
                }
                other => panic!("{bad:?}: expected InvalidInput, got {other:?}"),
            }
        }
    }

    #[test]
    fn mac_display_is_lowercase_colon_separated() {
        let mac = MacDisplay([0x02, 0, 0, 0, 0xab, 0x01]);
        assert_eq!(mac.to_string(), "02:00:00:00:ab:01");
    }
}
