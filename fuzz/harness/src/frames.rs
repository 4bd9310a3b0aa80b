//! Frames from fuzz bytes: mostly well-formed Ethernet/ARP/IPv4/TCP/UDP/ICMP built from a
//! few choices (so the fuzzer reaches flows, tables and ICMP errors, not only the first
//! length check), with correct checksums, then sometimes corrupted (a byte, a length field, a
//! cut). Addresses come from small pools around each function's configuration so that flows
//! collide and tables fill.

use nfv_dataplane::wire::checksum;

/// Reads choices from the fuzz input; zeros once it runs out.
#[derive(Debug)]
pub struct Gen<'a> {
    data: &'a [u8],
}

impl<'a> Gen<'a> {
    pub fn new(data: &'a [u8]) -> Gen<'a> {
        Gen { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// True one time in `n` (on the next byte).
    pub fn one_in(&mut self, n: u8) -> bool {
        self.u8().is_multiple_of(n)
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// One of `items` (the first when the input ran out).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }

    /// Up to `max` raw bytes.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (usize::from(self.u8()) % (max + 1)).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

/// What a function's frames are made of.
#[derive(Debug, Clone, Copy)]
pub struct Pools<'p> {
    /// MACs the function answers to (a router interface, the NAT's sides).
    pub own_macs: &'p [[u8; 6]],
    /// IPv4 addresses worth hitting.
    pub addrs: &'p [[u8; 4]],
    /// Ports worth hitting.
    pub ports: &'p [u16],
}

/// Hosts' MACs: 02:00:00:00:00:01..08.
pub fn host_mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, 1 + n % 8]
}

const BROADCAST: [u8; 6] = [0xff; 6];

fn dst_mac(g: &mut Gen, p: &Pools) -> [u8; 6] {
    match g.u8() % 8 {
        0 => BROADCAST,
        1 => [0x01, 0x00, 0x5e, 0, 0, 1],
        2 => [0x01, 0x80, 0xc2, 0, 0, g.u8() % 16],
        3 | 4 if !p.own_macs.is_empty() => g.pick(p.own_macs),
        5 => [g.u8(), g.u8(), g.u8(), g.u8(), g.u8(), g.u8()],
        _ => host_mac(g.u8()),
    }
}

fn src_mac(g: &mut Gen) -> [u8; 6] {
    match g.u8() % 16 {
        0 => [0; 6],
        1 => BROADCAST,
        2 => [0x03, 0, 0, 0, 0, 1],
        3 => [g.u8(), g.u8(), g.u8(), g.u8(), g.u8(), g.u8()],
        _ => host_mac(g.u8()),
    }
}

fn addr(g: &mut Gen, p: &Pools) -> [u8; 4] {
    match g.u8() % 8 {
        0 => g.u32().to_be_bytes(),
        1 => g.pick(&[
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [127, 0, 0, 1],
            [224, 0, 0, 1],
            [169, 254, 1, 1],
            [240, 0, 0, 1],
            [8, 8, 8, 8],
        ]),
        _ => {
            let mut a = g.pick(p.addrs);
            // Neighbours of the pool's addresses (other hosts on the same subnets).
            if g.one_in(4) {
                a[3] = a[3].wrapping_add(g.u8() % 8);
            }
            a
        }
    }
}

fn port(g: &mut Gen, p: &Pools) -> u16 {
    if g.one_in(4) {
        g.u16()
    } else {
        g.pick(p.ports)
    }
}

/// An IPv4 packet (header + L4), valid unless `corrupt` later breaks it.
fn ipv4(g: &mut Gen, p: &Pools, depth: u8) -> Vec<u8> {
    let proto = g.pick(&[6u8, 17, 1, 6, 17, 1, 47, 0]);
    let src = addr(g, p);
    let dst = addr(g, p);
    let mut l4 = match proto {
        6 => {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&port(g, p).to_be_bytes());
            t[2..4].copy_from_slice(&port(g, p).to_be_bytes());
            t[4..8].copy_from_slice(&g.u32().to_be_bytes());
            t[8..12].copy_from_slice(&g.u32().to_be_bytes());
            t[12] = 5 << 4;
            // SYN, SYN-ACK, ACK, FIN-ACK, RST, PSH-ACK or anything.
            t[13] = g.pick(&[0x02, 0x12, 0x10, 0x11, 0x04, 0x18, 0x14]);
            if g.one_in(8) {
                t[13] = g.u8();
            }
            t[14..16].copy_from_slice(&512u16.to_be_bytes());
            t.extend_from_slice(g.bytes(64));
            t
        }
        17 => {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&port(g, p).to_be_bytes());
            u[2..4].copy_from_slice(&port(g, p).to_be_bytes());
            u.extend_from_slice(g.bytes(64));
            let len = u.len() as u16;
            u[4..6].copy_from_slice(&len.to_be_bytes());
            u
        }
        1 => {
            let ty = g.pick(&[8u8, 0, 3, 11, 12, 5, 13, 14, 4, 17]);
            let code = if ty == 3 {
                g.pick(&[0u8, 1, 3, 4, 13])
            } else {
                0
            };
            let mut c = vec![ty, code, 0, 0];
            if matches!(ty, 3 | 11 | 12 | 4 | 5) && depth == 0 {
                // An error quoting a packet (maybe cut short, as routers quote 8 bytes).
                c.extend_from_slice(&[0, 0, 0, 0]);
                if ty == 3 && code == 4 {
                    c[6..8].copy_from_slice(&g.pick(&[576u16, 1400, 68, 0]).to_be_bytes());
                }
                let inner = ipv4(g, p, depth + 1);
                let keep = match g.u8() % 4 {
                    0 => inner.len().min(28),
                    1 => usize::from(g.u8()) % (inner.len() + 1),
                    _ => inner.len(),
                };
                c.extend_from_slice(&inner[..keep]);
            } else {
                c.extend_from_slice(&g.u16().to_be_bytes()); // identifier
                c.extend_from_slice(&g.u16().to_be_bytes()); // sequence
                c.extend_from_slice(g.bytes(32));
            }
            c
        }
        _ => g.bytes(32).to_vec(),
    };
    let opts = if g.one_in(8) {
        usize::from(g.u8() % 11) * 4
    } else {
        0
    };
    let mut ip = vec![0u8; 20 + opts];
    ip[0] = 0x40 | (5 + opts / 4) as u8;
    ip[1] = g.u8() & 0x03; // ECN only
    let total = (ip.len() + l4.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&g.u16().to_be_bytes());
    let frag: u16 = match g.u8() % 8 {
        0 => 0x2000 | (g.u16() & 0x1fff), // MF + offset
        1 => g.u16() & 0x1fff,            // last fragment
        2 => 0,
        _ => 0x4000, // DF
    };
    ip[6..8].copy_from_slice(&frag.to_be_bytes());
    ip[8] = g.pick(&[64u8, 64, 1, 2, 0, 255]);
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    for b in &mut ip[20..] {
        *b = 1; // NOP options
    }
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let l4_off = match proto {
        6 => Some(16),
        17 => Some(6),
        1 => Some(2),
        _ => None,
    };
    if let Some(off) = l4_off
        && l4.len() >= off + 2
    {
        let s = if proto == 1 {
            checksum::checksum(&l4)
        } else {
            let ps = checksum::pseudo_header_v4(
                u32::from_be_bytes(src),
                u32::from_be_bytes(dst),
                proto,
                l4.len() as u16,
            );
            checksum::fold(checksum::sum(&l4, ps))
        };
        l4[off..off + 2].copy_from_slice(&s.to_be_bytes());
    }
    ip.extend_from_slice(&l4);
    ip
}

/// An ARP request or reply about addresses of the pools.
fn arp(g: &mut Gen, p: &Pools, src: [u8; 6]) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, g.pick(&[1u8, 2, 1, 2, 3])];
    a.extend_from_slice(&src);
    a.extend_from_slice(&addr(g, p));
    let tha = if a[7] == 2 { host_mac(g.u8()) } else { [0; 6] };
    a.extend_from_slice(&tha);
    a.extend_from_slice(&addr(g, p));
    if g.one_in(8) {
        a[4] = g.u8();
    }
    a
}

/// Break a valid frame a little, sometimes.
fn corrupt(g: &mut Gen, f: &mut Vec<u8>) {
    match g.u8() % 16 {
        0 if !f.is_empty() => {
            let i = usize::from(g.u16()) % f.len();
            f[i] ^= g.u8() | 1;
        }
        1 => f.truncate(usize::from(g.u8()) % (f.len() + 1)),
        2 if f.len() >= 18 => {
            // The IPv4 total length (untagged frames).
            let v = g.u16();
            f[16..18].copy_from_slice(&v.to_be_bytes());
        }
        3 => f.extend_from_slice(g.bytes(32)),
        _ => {}
    }
}

/// One frame: Ethernet (maybe 802.1Q-tagged, maybe twice) carrying ARP, IPv4 or other.
pub fn frame(g: &mut Gen, p: &Pools) -> Vec<u8> {
    let dst = dst_mac(g, p);
    let src = src_mac(g);
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    let tags = match g.u8() % 8 {
        0 => 1,
        1 if g.one_in(4) => 2,
        _ => 0,
    };
    for t in 0..tags {
        let tpid: u16 = if t == 0 && tags == 2 { 0x88a8 } else { 0x8100 };
        f.extend_from_slice(&tpid.to_be_bytes());
        let vid = g.pick(&[0u16, 1, 10, 20, 4095, 30]);
        let tci = (u16::from(g.u8() & 7) << 13) | vid;
        f.extend_from_slice(&tci.to_be_bytes());
    }
    match g.u8() % 8 {
        0 | 1 => {
            f.extend_from_slice(&0x0806u16.to_be_bytes());
            f.extend_from_slice(&arp(g, p, src));
        }
        2 => {
            let et = g.pick(&[0x86ddu16, 0x88cc, 0x0042, 0x0600, 0x9000]);
            f.extend_from_slice(&et.to_be_bytes());
            f.extend_from_slice(g.bytes(64));
        }
        _ => {
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            f.extend_from_slice(&ipv4(g, p, 0));
        }
    }
    if f.len() < 60 && !g.one_in(4) {
        f.resize(60, 0); // Ethernet padding
    }
    corrupt(g, &mut f);
    f
}
