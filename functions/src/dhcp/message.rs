//! DHCP messages on the wire (RFC 2131 §2, RFC 2132): parsing a client's message into a
//! [`Request`] (copies of what the server needs, so the frame can be overwritten by the
//! reply) and writing a reply frame.

use arrayvec::ArrayVec;
use nfv_dataplane::wire::checksum::pseudo_header_v4;
use nfv_dataplane::wire::ipv4::Ipv4;
use nfv_dataplane::wire::udp::Udp;
use nfv_dataplane::wire::{ETH_HLEN, ETHERTYPE_IPV4, be16, be32, ip_proto, write_eth};

use super::DhcpDrop;

/// Server port (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// Client port.
pub const CLIENT_PORT: u16 = 68;
/// Fixed BOOTP header before the options (RFC 2131 §2, figure 1).
pub const BOOTP_LEN: usize = 236;
/// The magic cookie 99.130.83.99 (RFC 2131 §3, RFC 2132 §2).
pub const MAGIC: [u8; 4] = [99, 130, 83, 99];
/// Longest DHCP message taken (a full 1500-byte IP packet).
pub const MAX_MESSAGE: usize = 1500 - 28;
/// Smallest DHCP message sent: replies are padded to the 300-byte BOOTP minimum
/// (RFC 1542 §2.1) that old relays and clients expect.
pub const MIN_REPLY: usize = 300;
/// Largest reply a client must accept (RFC 2131 §2: 576-byte datagrams, so 548 bytes of
/// DHCP message), unless it says more in option 57.
pub const DEFAULT_MAX_REPLY: usize = 576 - 28;

/// BOOTREQUEST / BOOTREPLY (`op`).
pub const BOOTREQUEST: u8 = 1;
/// BOOTREPLY.
pub const BOOTREPLY: u8 = 2;
/// `flags` broadcast bit (RFC 2131 §2, figure 2).
pub const FLAG_BROADCAST: u16 = 0x8000;

/// Option codes (RFC 2132).
pub mod opt {
    /// Pad.
    pub const PAD: u8 = 0;
    /// Subnet mask (§3.3).
    pub const SUBNET_MASK: u8 = 1;
    /// Router (§3.5).
    pub const ROUTER: u8 = 3;
    /// Domain name servers (§3.8).
    pub const DNS: u8 = 6;
    /// Domain name (§3.17).
    pub const DOMAIN: u8 = 15;
    /// Broadcast address (§5.3).
    pub const BROADCAST: u8 = 28;
    /// Requested IP address (§9.1).
    pub const REQUESTED_ADDRESS: u8 = 50;
    /// Lease time (§9.2).
    pub const LEASE_TIME: u8 = 51;
    /// Option overload (§9.3).
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type (§9.6).
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier (§9.7).
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list (§9.8).
    pub const PARAMETER_LIST: u8 = 55;
    /// Message (§9.9).
    pub const MESSAGE: u8 = 56;
    /// Maximum DHCP message size (§9.10).
    pub const MAX_SIZE: u8 = 57;
    /// Renewal (T1) time (§9.11).
    pub const T1: u8 = 58;
    /// Rebinding (T2) time (§9.12).
    pub const T2: u8 = 59;
    /// Client identifier (§9.14).
    pub const CLIENT_ID: u8 = 61;
    /// End.
    pub const END: u8 = 255;
}

/// DHCP message types (option 53, RFC 2132 §9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// DHCPDISCOVER.
    Discover = 1,
    /// DHCPOFFER.
    Offer = 2,
    /// DHCPREQUEST.
    Request = 3,
    /// DHCPDECLINE.
    Decline = 4,
    /// DHCPACK.
    Ack = 5,
    /// DHCPNAK.
    Nak = 6,
    /// DHCPRELEASE.
    Release = 7,
    /// DHCPINFORM.
    Inform = 8,
}

/// The configuration options the server can send, in the order it sends them without a
/// parameter request list.
pub const CONFIG_OPTIONS: [u8; 5] = [
    opt::SUBNET_MASK,
    opt::ROUTER,
    opt::BROADCAST,
    opt::DNS,
    opt::DOMAIN,
];

/// What the server needs of a client's message, copied out of the frame.
#[derive(Clone, Debug)]
pub struct Request {
    /// Message type (only those a server takes: DISCOVER, REQUEST, DECLINE, RELEASE, INFORM).
    pub kind: MessageType,
    /// Transaction id.
    pub xid: u32,
    /// `flags` (broadcast bit).
    pub flags: u16,
    /// Client address (renewing/rebinding, RELEASE, INFORM).
    pub ciaddr: u32,
    /// Relay agent address.
    pub giaddr: u32,
    /// Client hardware address.
    pub chaddr: [u8; 6],
    /// Option 50.
    pub requested: Option<u32>,
    /// Option 54.
    pub server_id: Option<u32>,
    /// Option 61, whole (type byte included).
    pub client_id: Option<ArrayVec<u8, 255>>,
    /// Option 55, as sent (`None` without the option).
    pub parameters: Option<ArrayVec<u8, 255>>,
    /// Option 57 (at least [`DEFAULT_MAX_REPLY`] is always allowed).
    pub max_size: Option<u16>,
}

impl Request {
    /// The configuration options to send, in the client's order when it sent a parameter
    /// request list (RFC 2132 §9.8: "the client MAY list the options in order of
    /// preference"), with the subnet mask added at the end if it did not ask for it (a
    /// client cannot configure an address without it); all of them otherwise.
    pub fn wanted(&self) -> ArrayVec<u8, 5> {
        let mut w = ArrayVec::new();
        match &self.parameters {
            Some(list) => {
                for c in list {
                    if CONFIG_OPTIONS.contains(c) && !w.contains(c) {
                        w.push(*c);
                    }
                }
                if !w.contains(&opt::SUBNET_MASK) {
                    w.push(opt::SUBNET_MASK);
                }
            }
            None => w.extend(CONFIG_OPTIONS),
        }
        w
    }

    /// True when the client asked for broadcast replies.
    pub fn broadcast(&self) -> bool {
        self.flags & FLAG_BROADCAST != 0
    }
}

/// Parse the DHCP message `m` (the UDP payload).
///
/// # Errors
/// The drop reason: `dhcp_oversized`, `dhcp_truncated`, `dhcp_bad_op`, `dhcp_bad_hardware`,
/// `dhcp_bad_cookie`, `dhcp_bad_options`, `dhcp_option_overload`, `dhcp_no_message_type`,
/// `dhcp_unexpected_type`.
pub fn parse(m: &[u8]) -> Result<Request, DhcpDrop> {
    if m.len() > MAX_MESSAGE {
        return Err(DhcpDrop::Oversized);
    }
    if m.len() < BOOTP_LEN + MAGIC.len() {
        return Err(DhcpDrop::Truncated);
    }
    if m[0] != BOOTREQUEST {
        return Err(DhcpDrop::BadOp);
    }
    // RFC 2131 §2: htype 1 (Ethernet), hlen 6.
    if m[1] != 1 || m[2] != 6 {
        return Err(DhcpDrop::BadHardware);
    }
    if m[BOOTP_LEN..BOOTP_LEN + 4] != MAGIC {
        return Err(DhcpDrop::BadCookie);
    }
    let mut chaddr = [0u8; 6];
    chaddr.copy_from_slice(&m[28..34]);
    let mut r = Request {
        kind: MessageType::Discover,
        xid: be32(m, 4),
        flags: be16(m, 10),
        ciaddr: be32(m, 12),
        giaddr: be32(m, 24),
        chaddr,
        requested: None,
        server_id: None,
        client_id: None,
        parameters: None,
        max_size: None,
    };
    let mut kind = None;
    let opts = &m[BOOTP_LEN + 4..];
    let mut i = 0;
    // Options end at END or at the end of the message (a missing END is tolerated, as by
    // ISC dhcpd and dnsmasq). The first instance of an option wins (RFC 3396
    // concatenation is not needed for anything a server reads).
    while let Some(&code) = opts.get(i) {
        match code {
            opt::PAD => {
                i += 1;
                continue;
            }
            opt::END => break,
            _ => {}
        }
        let len = usize::from(*opts.get(i + 1).ok_or(DhcpDrop::BadOptions)?);
        let v = opts.get(i + 2..i + 2 + len).ok_or(DhcpDrop::BadOptions)?;
        i += 2 + len;
        let addr = || -> Result<u32, DhcpDrop> {
            (len == 4).then(|| be32(v, 0)).ok_or(DhcpDrop::BadOptions)
        };
        match code {
            opt::MESSAGE_TYPE if kind.is_none() => {
                if len != 1 {
                    return Err(DhcpDrop::BadOptions);
                }
                kind = Some(v[0]);
            }
            opt::REQUESTED_ADDRESS if r.requested.is_none() => r.requested = Some(addr()?),
            opt::SERVER_ID if r.server_id.is_none() => r.server_id = Some(addr()?),
            // RFC 2132 §9.14: at least 2 bytes (type and one byte of identifier).
            opt::CLIENT_ID if r.client_id.is_none() => {
                if len < 2 {
                    return Err(DhcpDrop::BadOptions);
                }
                r.client_id = v.try_into().ok();
            }
            opt::PARAMETER_LIST if r.parameters.is_none() => {
                r.parameters = v.try_into().ok();
            }
            opt::MAX_SIZE if r.max_size.is_none() => {
                if len != 2 {
                    return Err(DhcpDrop::BadOptions);
                }
                r.max_size = Some(be16(v, 0));
            }
            // RFC 2131 §4.1: the server reads options from `sname`/`file` only when option
            // 52 says so; clients do not use it, so it is refused rather than half-read.
            opt::OVERLOAD => return Err(DhcpDrop::OptionOverload),
            _ => {}
        }
    }
    r.kind = match kind.ok_or(DhcpDrop::NoMessageType)? {
        1 => MessageType::Discover,
        3 => MessageType::Request,
        4 => MessageType::Decline,
        7 => MessageType::Release,
        8 => MessageType::Inform,
        _ => return Err(DhcpDrop::UnexpectedType),
    };
    Ok(r)
}

/// Addressing and contents of one reply frame.
#[derive(Clone, Copy)]
pub struct Reply<'a> {
    /// The request answered.
    pub req: &'a Request,
    /// OFFER, ACK or NAK.
    pub kind: MessageType,
    /// `yiaddr` (0 for NAK and the ACK to INFORM).
    pub yiaddr: u32,
    /// `ciaddr` echoed (ACK only; RFC 2131 table 3).
    pub ciaddr: u32,
    /// Destination MAC and IP address (RFC 2131 §4.1).
    pub dst_mac: [u8; 6],
    /// Destination IP address.
    pub dst_ip: u32,
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Source address and server identifier.
    pub server: u32,
    /// IP identification.
    pub ip_id: u16,
    /// Lease time in seconds (OFFER and ACK to REQUEST: options 51, 58, 59).
    pub lease_secs: Option<u32>,
    /// Option values the server has, by code in [`CONFIG_OPTIONS`] (`None`: not sent).
    pub values: &'a dyn Fn(u8, &mut Options<'_>) -> bool,
}

impl std::fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("kind", &self.kind)
            .field("yiaddr", &self.yiaddr)
            .field("dst_ip", &self.dst_ip)
            .finish_non_exhaustive()
    }
}

/// Appends options to a reply, never past its limit.
#[derive(Debug)]
pub struct Options<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Options<'_> {
    /// Append option `code` with `value`; false (nothing written) if it does not fit or the
    /// value is longer than 255 bytes. Room for END is always kept.
    pub fn put(&mut self, code: u8, value: &[u8]) -> bool {
        let Ok(len) = u8::try_from(value.len()) else {
            return false;
        };
        let end = self.pos + 2 + value.len();
        if end + 1 > self.buf.len() {
            return false;
        }
        self.buf[self.pos] = code;
        self.buf[self.pos + 1] = len;
        self.buf[self.pos + 2..end].copy_from_slice(value);
        self.pos = end;
        true
    }

    /// Append option `code` with the addresses `addrs`.
    pub fn put_addrs(&mut self, code: u8, addrs: &[u32]) -> bool {
        let mut v = ArrayVec::<u8, 64>::new();
        for a in addrs.iter().take(16) {
            v.extend(a.to_be_bytes());
        }
        self.put(code, &v)
    }
}

/// Offset of the DHCP message in a reply frame.
const DHCP_OFF: usize = ETH_HLEN + 20 + 8;

/// Write reply `r` as a whole Ethernet frame into `buf`; its length, or `None` if the
/// required options do not fit `buf` (a buffer under ~600 bytes).
pub fn write(buf: &mut [u8], r: &Reply<'_>) -> Option<usize> {
    let req = r.req;
    let max_msg = usize::from(req.max_size.unwrap_or(0))
        .saturating_sub(28)
        .clamp(DEFAULT_MAX_REPLY, MAX_MESSAGE);
    let limit = buf.len().min(DHCP_OFF + max_msg);
    let room = buf.get_mut(..limit)?;
    if room.len() < DHCP_OFF + MIN_REPLY {
        return None;
    }
    room[..DHCP_OFF + MIN_REPLY].fill(0);
    let m = &mut room[DHCP_OFF..];
    m[0] = BOOTREPLY;
    m[1] = 1;
    m[2] = 6;
    m[4..8].copy_from_slice(&req.xid.to_be_bytes());
    m[10..12].copy_from_slice(&req.flags.to_be_bytes());
    m[12..16].copy_from_slice(&r.ciaddr.to_be_bytes());
    m[16..20].copy_from_slice(&r.yiaddr.to_be_bytes());
    m[24..28].copy_from_slice(&req.giaddr.to_be_bytes());
    m[28..34].copy_from_slice(&req.chaddr);
    m[34..BOOTP_LEN].fill(0);
    m[BOOTP_LEN..BOOTP_LEN + 4].copy_from_slice(&MAGIC);
    let mut o = Options {
        buf: &mut m[BOOTP_LEN + 4..],
        pos: 0,
    };
    // RFC 2131 §4.3.1 table 3: message type and server identifier in every reply.
    let mut ok =
        o.put(opt::MESSAGE_TYPE, &[r.kind as u8]) && o.put(opt::SERVER_ID, &r.server.to_be_bytes());
    if let Some(secs) = r.lease_secs {
        // T1 = 0.5 and T2 = 0.875 of the lease (RFC 2131 §4.4.5).
        let t1 = secs / 2;
        let t2 = (u64::from(secs) * 7 / 8) as u32;
        ok = ok
            && o.put(opt::LEASE_TIME, &secs.to_be_bytes())
            && o.put(opt::T1, &t1.to_be_bytes())
            && o.put(opt::T2, &t2.to_be_bytes());
    }
    // RFC 6842: a server MUST return the client identifier it received.
    if let Some(id) = &req.client_id {
        ok = ok && o.put(opt::CLIENT_ID, id);
    }
    if !ok {
        return None;
    }
    if r.kind == MessageType::Nak {
        // RFC 2131 table 3: a NAK MAY say why (option 56).
        o.put(opt::MESSAGE, b"address not available to this client");
    } else {
        for code in req.wanted() {
            // Options the client asked for are sent while they fit (RFC 2131 §4.3.1:
            // "as many of the requested parameters as possible").
            (r.values)(code, &mut o);
        }
    }
    let end = o.pos;
    m[BOOTP_LEN + 4 + end] = opt::END;
    let msg_len = (BOOTP_LEN + 4 + end + 1).max(MIN_REPLY);
    let frame_len = DHCP_OFF + msg_len;
    write_eth(room, r.dst_mac, r.src_mac, ETHERTYPE_IPV4);
    let ip_len = (20 + 8 + msg_len) as u16;
    let ip = &mut room[ETH_HLEN..frame_len];
    ip[..20].copy_from_slice(&[
        0x45,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        64,
        ip_proto::UDP,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&r.ip_id.to_be_bytes());
    ip[12..16].copy_from_slice(&r.server.to_be_bytes());
    ip[16..20].copy_from_slice(&r.dst_ip.to_be_bytes());
    let udp_len = ip_len - 20;
    ip[20..22].copy_from_slice(&SERVER_PORT.to_be_bytes());
    ip[22..24].copy_from_slice(&CLIENT_PORT.to_be_bytes());
    ip[24..26].copy_from_slice(&udp_len.to_be_bytes());
    let mut v = Ipv4::new_checked(&mut *ip).ok()?;
    v.fill_checksum();
    let mut u = Udp::new_checked(v.payload_mut())?;
    u.fill_checksum(pseudo_header_v4(r.server, r.dst_ip, ip_proto::UDP, udp_len));
    Some(frame_len)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn message(options: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; BOOTP_LEN];
        m[0] = BOOTREQUEST;
        m[1] = 1;
        m[2] = 6;
        m[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        m[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 7]);
        m.extend_from_slice(&MAGIC);
        m.extend_from_slice(options);
        m
    }

    #[test]
    fn options_are_read_with_pad_and_without_end_and_first_instance_wins() {
        let r = parse(&message(&[
            0, 0, 53, 1, 3, 50, 4, 10, 0, 0, 5, 53, 1, 1, 55, 3, 6, 3, 99, 57, 2, 5, 220,
        ]))
        .unwrap();
        assert_eq!(r.kind, MessageType::Request);
        assert_eq!(r.requested, Some(0x0a00_0005));
        assert_eq!(r.max_size, Some(1500));
        assert_eq!(r.chaddr, [2, 0, 0, 0, 0, 7]);
        assert_eq!(r.xid, 0x1234_5678);
        assert_eq!(
            r.wanted().as_slice(),
            [opt::DNS, opt::ROUTER, opt::SUBNET_MASK],
            "client order, unknown codes left out, mask added"
        );
    }

    #[test]
    fn each_malformation_has_its_reason_rfc2131_2() {
        let ok = message(&[53, 1, 1, 255]);
        assert!(parse(&ok).is_ok());
        let cases: Vec<(Vec<u8>, DhcpDrop)> = vec![
            (ok[..239].to_vec(), DhcpDrop::Truncated),
            (vec![1; MAX_MESSAGE + 1], DhcpDrop::Oversized),
            (
                {
                    let mut m = ok.clone();
                    m[0] = BOOTREPLY;
                    m
                },
                DhcpDrop::BadOp,
            ),
            (
                {
                    let mut m = ok.clone();
                    m[2] = 16;
                    m
                },
                DhcpDrop::BadHardware,
            ),
            (
                {
                    let mut m = ok.clone();
                    m[BOOTP_LEN] = 0;
                    m
                },
                DhcpDrop::BadCookie,
            ),
            (message(&[53, 1, 1, 61, 9, 1]), DhcpDrop::BadOptions),
            (message(&[53, 1]), DhcpDrop::BadOptions),
            (message(&[53, 2, 1, 1]), DhcpDrop::BadOptions),
            (message(&[53, 1, 1, 50, 3, 1, 2, 3]), DhcpDrop::BadOptions),
            (message(&[53, 1, 1, 61, 1, 1]), DhcpDrop::BadOptions),
            (message(&[53, 1, 1, 52, 1, 3]), DhcpDrop::OptionOverload),
            (message(&[12, 1, b'x', 255]), DhcpDrop::NoMessageType),
            (message(&[53, 1, 2, 255]), DhcpDrop::UnexpectedType),
            (message(&[53, 1, 9, 255]), DhcpDrop::UnexpectedType),
        ];
        for (m, want) in cases {
            assert_eq!(parse(&m).err(), Some(want), "{m:?}");
        }
    }
}
