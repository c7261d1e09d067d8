//! Classification of inbound packets as ESP, UDP-encapsulated ESP (RFC 3948), IKE on the
//! NAT-T port, NAT keepalive, fragment or something else.
//!
//! Every function works on a byte slice and never reads outside it: all accesses go through
//! `get` and checked arithmetic, so arbitrary input yields a [`Parsed`] value, never a panic.
//!
//! Three entry points, from the most to the least context:
//!
//! * [`parse_ip`], [`parse_ipv4`], [`parse_ipv6`]: a whole IP packet starting at the IP
//!   header (what a netfilter hook sees);
//! * [`classify_udp_payload`]: the payload of a UDP datagram received on the NAT-T port
//!   (what a UDP `encap_rcv` hook sees);
//! * [`parse_esp_header`]: the payload that follows an IP header with protocol 50 (what an
//!   XFRM protocol handler sees).
//!
//! All functions are pure and may be called concurrently from any context.

/// IP protocol number of ESP.
pub const IPPROTO_ESP: u8 = 50;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// The UDP encapsulation type of ESP in UDP (RFC 3948) on an IKE socket
/// (`UDP_ENCAP_ESPINUDP`, Linux's UAPI `<linux/udp.h>`), as XFRM records
/// it in an SA and hands it to the protocol handlers.
pub const UDP_ENCAP_ESPINUDP: u16 = 2;
/// UDP port of IKE with NAT traversal and of UDP-encapsulated ESP (RFC 3948).
pub const NAT_T_PORT: u16 = 4500;
/// Length of the fixed ESP header (SPI and sequence number).
pub const ESP_HDR_LEN: usize = 8;
/// SPIs below this value are reserved by IANA (RFC 4303 section 2.1).
pub const FIRST_UNRESERVED_SPI: u32 = 256;
/// Maximum number of IPv6 extension headers walked before giving up.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

const IPV6_HDR_LEN: usize = 40;
/// UDP header length.
pub const UDP_HDR_LEN: usize = 8;
const NEXTHDR_HOP: u8 = 0;
const NEXTHDR_ROUTING: u8 = 43;
const NEXTHDR_FRAGMENT: u8 = 44;
const NEXTHDR_DEST: u8 = 60;

/// Address family of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The Linux `AF_*` value (`AF_INET` = 2, `AF_INET6` = 10).
    pub const fn af(self) -> u16 {
        match self {
            Family::V4 => 2,
            Family::V6 => 10,
        }
    }

    /// The family for a Linux `AF_*` value, if it is IPv4 or IPv6.
    pub const fn from_af(af: u16) -> Option<Family> {
        match af {
            2 => Some(Family::V4),
            10 => Some(Family::V6),
            _ => None,
        }
    }

    /// Address length in bytes: 4 or 16.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

/// An IPv4 or IPv6 address.  IPv4 addresses occupy the first four bytes of `bytes`, the
/// rest is zero, so two `IpAddr` compare equal exactly when family and address are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpAddr {
    /// Address family.
    pub family: Family,
    /// Address bytes in network order, zero padded for IPv4.
    pub bytes: [u8; 16],
}

impl IpAddr {
    /// An IPv4 address.
    pub const fn v4(a: [u8; 4]) -> Self {
        IpAddr {
            family: Family::V4,
            bytes: [a[0], a[1], a[2], a[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        }
    }

    /// An IPv6 address.
    pub const fn v6(a: [u8; 16]) -> Self {
        IpAddr {
            family: Family::V6,
            bytes: a,
        }
    }

    /// An address of `family` from a 16-byte field (an `xfrm_address_t`, say),
    /// of which only the family's bytes count: the rest is zeroed.
    pub fn of_family(family: Family, mut bytes: [u8; 16]) -> Self {
        if let Some(rest) = bytes.get_mut(family.addr_len()..) {
            rest.fill(0);
        }
        IpAddr { family, bytes }
    }

    /// The significant bytes: 4 for IPv4, 16 for IPv6.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes
            .get(..self.family.addr_len())
            .unwrap_or(&self.bytes)
    }

    /// Builds an address from 4 or 16 bytes; `None` for any other length.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        if let Ok(a) = <[u8; 4]>::try_from(b) {
            Some(Self::v4(a))
        } else if let Ok(a) = <[u8; 16]>::try_from(b) {
            Some(Self::v6(a))
        } else {
            None
        }
    }
}

/// How an SPI value is to be treated (RFC 4303 section 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpiClass {
    /// 1..=255: reserved by IANA, never assigned to an SA by a conforming peer.
    Reserved,
    /// 256 and above: may belong to an SA.
    Normal,
}

impl SpiClass {
    /// Classifies a non-zero SPI.
    pub const fn of(spi: u32) -> SpiClass {
        if spi < FIRST_UNRESERVED_SPI {
            SpiClass::Reserved
        } else {
            SpiClass::Normal
        }
    }
}

/// The fixed part of an ESP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspHeader {
    /// Security Parameters Index, never zero.
    pub spi: u32,
    /// Low 32 bits of the sequence number as carried on the wire.
    pub seq: u32,
    /// Whether `spi` is in the IANA reserved range.
    pub class: SpiClass,
}

/// Why a packet is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// IP version nibble is neither 4 nor 6 (or does not match the parser called).
    BadVersion,
    /// IPv4 IHL below 5.
    BadHeaderLength,
    /// IPv4 total length smaller than the header.
    BadTotalLength,
    /// UDP length field smaller than the UDP header or larger than the IP payload.
    BadUdpLength,
    /// SPI 0 in ESP position (RFC 4303: reserved for local use, never on the wire).
    SpiZero,
    /// More than [`MAX_IPV6_EXT_HEADERS`] IPv6 extension headers.
    TooManyExtHeaders,
}

/// UDP ports of a UDP-encapsulated ESP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpPorts {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// An ESP packet found inside an IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EspPacket {
    /// The ESP header.
    pub hdr: EspHeader,
    /// UDP ports when the ESP packet is UDP-encapsulated (RFC 3948).
    pub encap: Option<UdpPorts>,
    /// Outer source address.
    pub src: IpAddr,
    /// Outer destination address.
    pub dst: IpAddr,
    /// Offset of the SPI field from the start of the buffer passed to the parser.
    pub esp_offset: usize,
    /// The packet is the first fragment of a fragmented datagram: the ESP header is
    /// present but the rest of the datagram must be reassembled before decryption.
    pub first_fragment: bool,
}

/// Result of classifying a whole IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// An ESP packet (plain or UDP-encapsulated).
    Esp(EspPacket),
    /// A UDP datagram to the NAT-T port starting with the non-ESP marker (IKE): not ours.
    IkeNonEsp,
    /// A NAT keepalive (a single 0xFF byte to the NAT-T port): not ours.
    NatKeepalive,
    /// A non-first fragment: no ESP header can be seen until reassembly.
    Fragment,
    /// Neither ESP nor UDP to the NAT-T port.
    NotEsp,
    /// The buffer ends before the headers needed for a decision.
    Truncated,
    /// The headers are inconsistent.
    Malformed(Malformed),
}

/// Result of classifying the payload of a UDP datagram sent to the NAT-T port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpPayload {
    /// UDP-encapsulated ESP.
    Esp(EspHeader),
    /// Starts with the 4-byte zero non-ESP marker: IKE.
    IkeNonEsp,
    /// Exactly one byte 0xFF: NAT keepalive (RFC 3948 section 2.3).
    NatKeepalive,
    /// Too short to hold an ESP header and not a keepalive.
    Truncated,
}

/// Whether IP input refuses a packet for its outer addresses before any
/// protocol handler sees it, which GRO does not check for ESP's handlers:
/// IPv4's martian source or destination (`ip_route_input_slow()`: a
/// multicast, limited-broadcast, 0.0.0.0 or loopback source; a 0.0.0.0 or
/// loopback destination; the rest of 0/8 is not martian in 6.x) and
/// IPv6's (`ip6_rcv_core()`, RFC 4291 2.5.3 and 2.7: a loopback source or
/// destination, a multicast source). Loopback is refused here even where
/// `route_localnet` would let IPv4 input take it: a refused packet is only
/// declined, and IP input judges it.
pub fn outer_addresses_refused(v6: bool, saddr: &[u8], daddr: &[u8]) -> bool {
    if v6 {
        const LOOPBACK: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        return saddr == LOOPBACK || daddr == LOOPBACK || saddr.first() == Some(&0xff);
    }
    let (Some(&s0), Some(&d0)) = (saddr.first(), daddr.first()) else {
        return true;
    };
    (224..240).contains(&s0)
        || saddr == [255, 255, 255, 255]
        || saddr == [0, 0, 0, 0]
        || s0 == 127
        || daddr == [0, 0, 0, 0]
        || d0 == 127
}

/// The fixed part of an IPv4 header: the one parser of IPv4 headers (the
/// classifier, the outbound DF path and the receive path's outer header all
/// read it through [`Ipv4Header::parse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes, options included (IHL * 4, at least 20).
    pub hdr_len: usize,
    /// Type of service (DSCP and ECN).
    pub tos: u8,
    /// Total length.
    pub total_len: usize,
    /// Flags and fragment offset (host order).
    pub frag_off: u16,
    /// Protocol.
    pub proto: u8,
    /// Source address.
    pub saddr: [u8; 4],
    /// Destination address.
    pub daddr: [u8; 4],
}

/// Why bytes are not an IPv4 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Fewer than 20 bytes.
    Truncated,
    /// Not version 4.
    BadVersion,
    /// IHL below 5.
    BadHeaderLength,
}

impl Ipv4Header {
    /// Reads the IPv4 header at the start of `b` (its fixed 20 bytes;
    /// options are not read, only counted in `hdr_len`).
    pub fn parse(b: &[u8]) -> Result<Ipv4Header, Ipv4Error> {
        let &vihl = b.first().ok_or(Ipv4Error::Truncated)?;
        if vihl >> 4 != 4 {
            return Err(Ipv4Error::BadVersion);
        }
        let hdr_len = usize::from(vihl & 0x0f) * 4;
        if hdr_len < 20 {
            return Err(Ipv4Error::BadHeaderLength);
        }
        let f = b.get(..20).ok_or(Ipv4Error::Truncated)?;
        let (Some(tot), Some(frag), Some(&tos), Some(&proto), Some(s), Some(d)) = (
            be16(f, 2),
            be16(f, 6),
            f.get(1),
            f.get(9),
            f.get(12..16),
            f.get(16..20),
        ) else {
            return Err(Ipv4Error::Truncated);
        };
        let mut saddr = [0u8; 4];
        let mut daddr = [0u8; 4];
        saddr.copy_from_slice(s);
        daddr.copy_from_slice(d);
        Ok(Ipv4Header {
            hdr_len,
            tos,
            total_len: usize::from(tot),
            frag_off: frag,
            proto,
            saddr,
            daddr,
        })
    }

    /// The DF bit.
    pub const fn df(&self) -> bool {
        self.frag_off & 0x4000 != 0
    }

    /// More fragments follow.
    pub const fn more_fragments(&self) -> bool {
        self.frag_off & 0x2000 != 0
    }

    /// The fragment offset (in 8-byte units); non-zero for a non-first fragment.
    pub const fn offset(&self) -> u16 {
        self.frag_off & 0x1fff
    }
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_be_bytes(a))
}

/// Parses the ESP header at the start of `payload` (the data after the IP header, or after
/// the UDP header for encapsulated ESP).
///
/// Returns `Err(Parsed::Truncated)` when fewer than 8 bytes are present and
/// `Err(Parsed::Malformed(Malformed::SpiZero))` for SPI 0.
pub fn parse_esp_header(payload: &[u8]) -> Result<EspHeader, Parsed> {
    let (Some(spi), Some(seq)) = (be32(payload, 0), be32(payload, 4)) else {
        return Err(Parsed::Truncated);
    };
    if spi == 0 {
        return Err(Parsed::Malformed(Malformed::SpiZero));
    }
    Ok(EspHeader {
        spi,
        seq,
        class: SpiClass::of(spi),
    })
}

/// Classifies the payload of a UDP datagram addressed to the NAT-T port (RFC 3948).
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: fuzz, tests"))]
pub fn classify_udp_payload(payload: &[u8]) -> UdpPayload {
    classify_payload(payload, payload.len())
}

/// As [`classify_udp_payload`], when `payload` may be only the first bytes of a payload of
/// `wire_len` bytes: a keepalive is exactly one byte on the wire, not a cut-off view.
fn classify_payload(payload: &[u8], wire_len: usize) -> UdpPayload {
    if payload == [0xff] && wire_len == 1 {
        return UdpPayload::NatKeepalive;
    }
    if payload.get(..4) == Some(&[0, 0, 0, 0]) {
        return UdpPayload::IkeNonEsp;
    }
    match parse_esp_header(payload) {
        Ok(h) => UdpPayload::Esp(h),
        // SPI 0 is impossible here: four zero bytes are the non-ESP marker.
        Err(_) => UdpPayload::Truncated,
    }
}

/// Classifies a whole IP packet, dispatching on the version nibble.
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: benches, fuzz, tests"))]
pub fn parse_ip(pkt: &[u8]) -> Parsed {
    parse_ip_prefix(pkt, pkt.len())
}

/// Classifies an IP packet of `wire_len` bytes of which only the first bytes, `prefix`, are
/// at hand (headers copied out of a socket buffer, say).  Lengths in the headers are checked
/// against `wire_len`; only the bytes needed for the decision (IP, extension, UDP and ESP
/// headers) must be in `prefix`, else the result is `Truncated`.  A `wire_len` below
/// `prefix.len()` is taken as `prefix.len()`.
pub fn parse_ip_prefix(prefix: &[u8], wire_len: usize) -> Parsed {
    let wire_len = wire_len.max(prefix.len());
    match prefix.first().map(|b| b >> 4) {
        None => Parsed::Truncated,
        Some(4) => parse_ipv4_prefix(prefix, wire_len),
        Some(6) => parse_ipv6_prefix(prefix, wire_len),
        Some(_) => Parsed::Malformed(Malformed::BadVersion),
    }
}

/// What a first look at an IP packet's fixed header tells, before its other headers are
/// fetched (a hook that must copy paged headers out of a socket buffer looks at most packets
/// only this far).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peek {
    /// Neither ESP nor UDP: [`parse_ip_prefix`] would say `NotEsp` or `Fragment`.
    NotEsp,
    /// A UDP datagram whose header starts this many bytes into the packet: `NotEsp` unless
    /// its destination port is the NAT-T port ([`udp_dport_is_nat_t`]), else parse it.
    Udp(usize),
    /// ESP right after the IP header, which starts this many bytes into the packet: parse it
    /// (the headers end 8 bytes further).
    Esp(usize),
    /// Anything else (IPv6 extension headers, inconsistent headers): parse it.
    Parse,
}

/// Bytes of the packet [`peek_ip`] needs: the IPv4 header up to its protocol field, the
/// IPv6 header up to its next-header field.
pub const PEEK_BYTES: usize = 10;

/// The first look at an IP packet of `wire_len` bytes whose first bytes are `hdr` (at least
/// [`PEEK_BYTES`] of them, else the answer is `Parse`).
pub fn peek_ip(hdr: &[u8], wire_len: usize) -> Peek {
    let wire_len = wire_len.max(hdr.len());
    match hdr.first().map(|b| b >> 4) {
        Some(4) => {
            let (Some(&vihl), Some(tot), Some(frag), Some(&proto)) =
                (hdr.first(), be16(hdr, 2), be16(hdr, 6), hdr.get(9))
            else {
                return Peek::Parse;
            };
            let ihl = usize::from(vihl & 0x0f) * 4;
            let tot = usize::from(tot);
            if ihl < 20 || tot < ihl || tot > wire_len {
                return Peek::Parse;
            }
            if frag & 0x1fff != 0 {
                return Peek::NotEsp;
            }
            match proto {
                IPPROTO_ESP => Peek::Esp(ihl),
                IPPROTO_UDP if tot >= ihl + UDP_HDR_LEN => Peek::Udp(ihl),
                IPPROTO_UDP => Peek::Parse,
                _ => Peek::NotEsp,
            }
        }
        Some(6) => {
            let (Some(plen), Some(&nh)) = (be16(hdr, 4), hdr.get(6)) else {
                return Peek::Parse;
            };
            let total = IPV6_HDR_LEN + usize::from(plen);
            if total > wire_len {
                return Peek::Parse;
            }
            match nh {
                IPPROTO_ESP if wire_len >= IPV6_HDR_LEN => Peek::Esp(IPV6_HDR_LEN),
                IPPROTO_ESP | NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_DEST | NEXTHDR_FRAGMENT => {
                    Peek::Parse
                }
                IPPROTO_UDP if total >= IPV6_HDR_LEN + UDP_HDR_LEN => Peek::Udp(IPV6_HDR_LEN),
                IPPROTO_UDP => Peek::Parse,
                _ => Peek::NotEsp,
            }
        }
        _ => Peek::Parse,
    }
}

/// Whether a UDP header (its first 4 bytes at least) is addressed to the NAT-T port.
pub fn udp_dport_is_nat_t(udp: &[u8]) -> bool {
    be16(udp, 2) == Some(NAT_T_PORT)
}

/// The transport part shared by IPv4 and IPv6: `l4` starts after the last IP header.
fn parse_l4(
    proto: u8,
    l4: &[u8],
    l4_wire_len: usize,
    l4_offset: usize,
    src: IpAddr,
    dst: IpAddr,
    first_fragment: bool,
) -> Parsed {
    let esp = |hdr, encap, esp_offset| {
        Parsed::Esp(EspPacket {
            hdr,
            encap,
            src,
            dst,
            esp_offset,
            first_fragment,
        })
    };
    match proto {
        IPPROTO_ESP => match parse_esp_header(l4) {
            Ok(h) => esp(h, None, l4_offset),
            Err(e) => e,
        },
        IPPROTO_UDP => {
            let (Some(sport), Some(dport), Some(ulen)) = (be16(l4, 0), be16(l4, 2), be16(l4, 4))
            else {
                return Parsed::Truncated;
            };
            if dport != NAT_T_PORT {
                return Parsed::NotEsp;
            }
            let ulen = usize::from(ulen);
            // A first fragment carries only part of the datagram: the UDP length then
            // describes the reassembled datagram, so only its lower bound can be checked.
            if ulen < UDP_HDR_LEN || (!first_fragment && ulen > l4_wire_len) {
                return Parsed::Malformed(Malformed::BadUdpLength);
            }
            let (end, payload_wire) = if first_fragment {
                (l4.len(), l4_wire_len.saturating_sub(UDP_HDR_LEN))
            } else {
                (ulen.min(l4.len()), ulen - UDP_HDR_LEN)
            };
            let payload = l4.get(UDP_HDR_LEN..end).unwrap_or(&[]);
            match classify_payload(payload, payload_wire) {
                UdpPayload::Esp(h) => match l4_offset.checked_add(UDP_HDR_LEN) {
                    Some(off) => esp(h, Some(UdpPorts { sport, dport }), off),
                    None => Parsed::Malformed(Malformed::BadUdpLength),
                },
                UdpPayload::IkeNonEsp => Parsed::IkeNonEsp,
                UdpPayload::NatKeepalive => Parsed::NatKeepalive,
                UdpPayload::Truncated => Parsed::Truncated,
            }
        }
        _ => Parsed::NotEsp,
    }
}

/// Classifies an IPv4 packet.  The buffer may extend past the IPv4 total length (link layer
/// padding); bytes beyond it are ignored.
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
pub fn parse_ipv4(pkt: &[u8]) -> Parsed {
    parse_ipv4_prefix(pkt, pkt.len())
}

fn parse_ipv4_prefix(pkt: &[u8], wire_len: usize) -> Parsed {
    let h = match Ipv4Header::parse(pkt) {
        Ok(h) => h,
        Err(Ipv4Error::Truncated) => return Parsed::Truncated,
        Err(Ipv4Error::BadVersion) => return Parsed::Malformed(Malformed::BadVersion),
        Err(Ipv4Error::BadHeaderLength) => return Parsed::Malformed(Malformed::BadHeaderLength),
    };
    let (ihl, tot) = (h.hdr_len, h.total_len);
    if tot < ihl {
        return Parsed::Malformed(Malformed::BadTotalLength);
    }
    if tot > wire_len {
        return Parsed::Truncated;
    }
    let Some(datagram) = pkt.get(..tot.min(pkt.len())) else {
        return Parsed::Truncated;
    };
    let Some(l4) = datagram.get(ihl..) else {
        return Parsed::Truncated;
    };
    if h.offset() != 0 {
        return Parsed::Fragment;
    }
    parse_l4(
        h.proto,
        l4,
        tot - ihl,
        ihl,
        IpAddr::v4(h.saddr),
        IpAddr::v4(h.daddr),
        h.more_fragments(),
    )
}

/// Classifies an IPv6 packet, walking hop-by-hop, routing, destination options and fragment
/// headers.  Jumbograms (payload length 0) are not supported and yield `Truncated`.
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
pub fn parse_ipv6(pkt: &[u8]) -> Parsed {
    parse_ipv6_prefix(pkt, pkt.len())
}

fn parse_ipv6_prefix(pkt: &[u8], wire_len: usize) -> Parsed {
    let Some(&v) = pkt.first() else {
        return Parsed::Truncated;
    };
    if v >> 4 != 6 {
        return Parsed::Malformed(Malformed::BadVersion);
    }
    let (Some(plen), Some(&first_nh), Some(s), Some(d)) =
        (be16(pkt, 4), pkt.get(6), pkt.get(8..24), pkt.get(24..40))
    else {
        return Parsed::Truncated;
    };
    let (Some(src), Some(dst)) = (IpAddr::from_slice(s), IpAddr::from_slice(d)) else {
        return Parsed::Truncated;
    };
    let total = IPV6_HDR_LEN + usize::from(plen);
    if total > wire_len {
        return Parsed::Truncated;
    }
    let Some(datagram) = pkt.get(..total.min(pkt.len())) else {
        return Parsed::Truncated;
    };

    let mut nh = first_nh;
    let mut off = IPV6_HDR_LEN;
    let mut first_fragment = false;
    for _ in 0..=MAX_IPV6_EXT_HEADERS {
        let hdr_len = match nh {
            NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_DEST => match datagram.get(off + 1) {
                // Length in 8-octet units, not counting the first 8 octets.
                Some(&l) => (usize::from(l) + 1) * 8,
                None => return Parsed::Truncated,
            },
            NEXTHDR_FRAGMENT => {
                let Some(fo) = be16(datagram, off + 2) else {
                    return Parsed::Truncated;
                };
                if fo & 0xfff8 != 0 {
                    return Parsed::Fragment;
                }
                first_fragment |= fo & 1 != 0;
                8
            }
            _ => {
                let Some(l4) = datagram.get(off..) else {
                    return Parsed::Truncated;
                };
                return parse_l4(
                    nh,
                    l4,
                    total.saturating_sub(off),
                    off,
                    src,
                    dst,
                    first_fragment,
                );
            }
        };
        let Some(&next) = datagram.get(off) else {
            return Parsed::Truncated;
        };
        nh = next;
        // `off` stays below 40 + 65535 + 9 * 2048, far from overflow.
        off += hdr_len;
    }
    Parsed::Malformed(Malformed::TooManyExtHeaders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_addresses_as_ip_input_judges_them() {
        let ok4 = |s: [u8; 4], d: [u8; 4]| !outer_addresses_refused(false, &s, &d);
        assert!(ok4([192, 0, 2, 1], [192, 0, 2, 2]));
        assert!(ok4([240, 0, 0, 1], [192, 0, 2, 2]), "class E: not refused");
        assert!(
            ok4([0, 1, 2, 3], [192, 0, 2, 2]),
            "0/8 but 0.0.0.0: not refused"
        );
        for s in [
            [224, 0, 0, 1],
            [239, 1, 2, 3],
            [255, 255, 255, 255],
            [0, 0, 0, 0],
            [127, 0, 0, 1],
        ] {
            assert!(!ok4(s, [192, 0, 2, 2]), "source {s:?}");
        }
        for d in [[0, 0, 0, 0], [127, 0, 0, 1]] {
            assert!(!ok4([192, 0, 2, 1], d), "destination {d:?}");
        }
        let a = |last: u8, first: u8| {
            let mut x = [0u8; 16];
            x[0] = first;
            x[15] = last;
            x
        };
        let doc = a(1, 0x20);
        assert!(!outer_addresses_refused(true, &doc, &a(2, 0x20)));
        assert!(
            outer_addresses_refused(true, &a(1, 0), &a(2, 0x20)),
            "loopback source"
        );
        assert!(
            outer_addresses_refused(true, &doc, &a(1, 0)),
            "loopback destination"
        );
        assert!(
            outer_addresses_refused(true, &a(1, 0xff), &a(2, 0x20)),
            "multicast source"
        );
        assert!(outer_addresses_refused(false, &[], &[]), "no address");
    }

    const S4: [u8; 4] = [192, 0, 2, 1];
    const D4: [u8; 4] = [198, 51, 100, 7];

    fn ipv4(proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
        let tot = (20 + l4.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&tot.to_be_bytes());
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&S4);
        p.extend_from_slice(&D4);
        p.extend_from_slice(l4);
        p
    }

    fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&sport.to_be_bytes());
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    fn esp(spi: u32, seq: u32) -> Vec<u8> {
        let mut e = spi.to_be_bytes().to_vec();
        e.extend_from_slice(&seq.to_be_bytes());
        e.extend_from_slice(&[0xaa; 24]);
        e
    }

    /// IPv6 packet with the given chain of (next header, raw extension header bytes).
    fn ipv6(exts: &[(u8, Vec<u8>)], last_nh: u8, l4: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut first = last_nh;
        for (nh, bytes) in exts.iter().rev() {
            let mut b = bytes.clone();
            b[0] = first;
            first = *nh;
            b.extend_from_slice(&body);
            body = b;
        }
        body.extend_from_slice(l4);
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(body.len() as u16).to_be_bytes());
        p.push(first);
        p.push(64);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].repeat(4));
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb9].repeat(4));
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn of_family_keeps_only_the_family_bytes() {
        let mut b = [0xffu8; 16];
        b[..4].copy_from_slice(&[192, 0, 2, 1]);
        assert_eq!(IpAddr::of_family(Family::V4, b), IpAddr::v4([192, 0, 2, 1]));
        assert_eq!(IpAddr::of_family(Family::V6, b).bytes, b);
    }

    #[test]
    fn plain_esp_v4() {
        let p = ipv4(50, 0, &esp(0x1234_5678, 9));
        let Parsed::Esp(e) = parse_ip(&p) else {
            panic!("{:?}", parse_ip(&p))
        };
        assert_eq!(e.hdr.spi, 0x1234_5678);
        assert_eq!(e.hdr.seq, 9);
        assert_eq!(e.hdr.class, SpiClass::Normal);
        assert_eq!(e.encap, None);
        assert_eq!(e.src, IpAddr::v4(S4));
        assert_eq!(e.dst.as_slice(), &D4);
        assert_eq!(e.esp_offset, 20);
        assert!(!e.first_fragment);
    }

    #[test]
    fn spi_zero_and_reserved() {
        let p = ipv4(50, 0, &esp(0, 1));
        assert_eq!(parse_ip(&p), Parsed::Malformed(Malformed::SpiZero));
        for spi in [1, 255] {
            let Parsed::Esp(e) = parse_ip(&ipv4(50, 0, &esp(spi, 1))) else {
                panic!()
            };
            assert_eq!(e.hdr.class, SpiClass::Reserved);
        }
        let Parsed::Esp(e) = parse_ip(&ipv4(50, 0, &esp(256, 1))) else {
            panic!()
        };
        assert_eq!(e.hdr.class, SpiClass::Normal);
    }

    #[test]
    fn udp_encap_v4() {
        let p = ipv4(17, 0, &udp(1234, 4500, &esp(0x100, 7)));
        let Parsed::Esp(e) = parse_ip(&p) else {
            panic!()
        };
        assert_eq!(
            e.encap,
            Some(UdpPorts {
                sport: 1234,
                dport: 4500
            })
        );
        assert_eq!(e.esp_offset, 28);
        assert_eq!(&p[e.esp_offset..e.esp_offset + 4], &0x100u32.to_be_bytes());
        assert_eq!(
            parse_ip(&ipv4(17, 0, &udp(4500, 4500, &[0xff]))),
            Parsed::NatKeepalive
        );
        assert_eq!(
            parse_ip(&ipv4(17, 0, &udp(500, 4500, &[0, 0, 0, 0, 1, 2, 3]))),
            Parsed::IkeNonEsp
        );
        assert_eq!(
            parse_ip(&ipv4(17, 0, &udp(4500, 500, &esp(0x100, 7)))),
            Parsed::NotEsp
        );
        // Two bytes, not a keepalive, too short for ESP.
        assert_eq!(
            parse_ip(&ipv4(17, 0, &udp(4500, 4500, &[0xff, 0xff]))),
            Parsed::Truncated
        );
        assert_eq!(
            parse_ip(&ipv4(17, 0, &udp(4500, 4500, &[]))),
            Parsed::Truncated
        );
    }

    #[test]
    fn udp_payload_rules() {
        assert_eq!(classify_udp_payload(&[0xff]), UdpPayload::NatKeepalive);
        assert_eq!(classify_udp_payload(&[0, 0, 0, 0]), UdpPayload::IkeNonEsp);
        assert_eq!(classify_udp_payload(&[0xfe]), UdpPayload::Truncated);
        assert_eq!(
            classify_udp_payload(&[0, 0, 0, 1, 0, 0, 0]),
            UdpPayload::Truncated
        );
        assert!(matches!(
            classify_udp_payload(&[0, 0, 0, 1, 0, 0, 0, 5]),
            UdpPayload::Esp(EspHeader {
                spi: 1,
                seq: 5,
                class: SpiClass::Reserved
            })
        ));
    }

    #[test]
    fn bad_udp_length() {
        let mut u = udp(1, 4500, &esp(0x100, 1));
        u[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            parse_ip(&ipv4(17, 0, &u)),
            Parsed::Malformed(Malformed::BadUdpLength)
        );
        u[4..6].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(
            parse_ip(&ipv4(17, 0, &u)),
            Parsed::Malformed(Malformed::BadUdpLength)
        );
    }

    #[test]
    fn ipv4_fragments_and_lengths() {
        // Non-first fragment.
        assert_eq!(
            parse_ip(&ipv4(50, 0x0010, &esp(0x100, 1))),
            Parsed::Fragment
        );
        assert_eq!(
            parse_ip(&ipv4(50, 0x2010, &esp(0x100, 1))),
            Parsed::Fragment
        );
        // First fragment: MF set, offset 0.
        let Parsed::Esp(e) = parse_ip(&ipv4(50, 0x2000, &esp(0x100, 1))) else {
            panic!()
        };
        assert!(e.first_fragment);
        // DF set is irrelevant.
        assert!(matches!(
            parse_ip(&ipv4(50, 0x4000, &esp(0x100, 1))),
            Parsed::Esp(_)
        ));
        // IHL < 5.
        let mut p = ipv4(50, 0, &esp(0x100, 1));
        p[0] = 0x44;
        assert_eq!(parse_ip(&p), Parsed::Malformed(Malformed::BadHeaderLength));
        // IHL with options beyond the total length.
        p[0] = 0x4f;
        assert_eq!(parse_ip(&p), Parsed::Malformed(Malformed::BadTotalLength));
        // ... and beyond a short buffer.
        assert_eq!(parse_ip(&p[..19]), Parsed::Truncated);
        // Total length below the header / beyond the buffer.
        let mut p = ipv4(50, 0, &esp(0x100, 1));
        p[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(parse_ip(&p), Parsed::Malformed(Malformed::BadTotalLength));
        p[2..4].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(parse_ip(&p), Parsed::Truncated);
        // Trailing link-layer padding is ignored; total length cuts the ESP header.
        let mut p = ipv4(50, 0, &esp(0x100, 1));
        p[2..4].copy_from_slice(&26u16.to_be_bytes());
        assert_eq!(parse_ip(&p), Parsed::Truncated);
        // IPv4 options are skipped.
        let mut p = ipv4(50, 0, &[1, 1, 1, 1]);
        p[0] = 0x46;
        p.extend_from_slice(&esp(0x200, 3));
        let tot = p.len() as u16;
        p[2..4].copy_from_slice(&tot.to_be_bytes());
        let Parsed::Esp(e) = parse_ip(&p) else {
            panic!()
        };
        assert_eq!((e.hdr.spi, e.esp_offset), (0x200, 24));
        // Other protocols.
        assert_eq!(parse_ip(&ipv4(6, 0, &[0; 20])), Parsed::NotEsp);
        assert_eq!(parse_ip(&[]), Parsed::Truncated);
        assert_eq!(parse_ip(&[0x75]), Parsed::Malformed(Malformed::BadVersion));
        assert_eq!(
            parse_ipv4(&[0x60]),
            Parsed::Malformed(Malformed::BadVersion)
        );
        assert_eq!(
            parse_ipv6(&[0x45]),
            Parsed::Malformed(Malformed::BadVersion)
        );
    }

    #[test]
    fn ipv6_plain_and_extensions() {
        let Parsed::Esp(e) = parse_ip(&ipv6(&[], 50, &esp(0x999, 42))) else {
            panic!()
        };
        assert_eq!((e.hdr.spi, e.hdr.seq, e.esp_offset), (0x999, 42, 40));
        assert_eq!(e.src.family, Family::V6);
        assert_eq!(e.src.as_slice().len(), 16);

        // Hop-by-hop (8 bytes), routing (24 bytes), dest opts (8 bytes), then UDP-encap.
        let exts = vec![
            (0u8, vec![0u8, 0, 0, 0, 0, 0, 0, 0]),
            (43u8, {
                let mut r = vec![0u8; 24];
                r[1] = 2;
                r
            }),
            (60u8, vec![0u8; 8]),
        ];
        let p = ipv6(&exts, 17, &udp(4500, 4500, &esp(0x1000, 5)));
        let Parsed::Esp(e) = parse_ip(&p) else {
            panic!("{:?}", parse_ip(&p))
        };
        assert_eq!(e.esp_offset, 40 + 8 + 24 + 8 + 8);
        assert_eq!(e.encap.map(|u| u.dport), Some(4500));
        assert!(!e.first_fragment);

        // First fragment (offset 0, M=1) and a later fragment.
        let mut f = vec![0u8; 8];
        f[3] = 1;
        let Parsed::Esp(e) = parse_ip(&ipv6(&[(44, f)], 50, &esp(0x1000, 5))) else {
            panic!()
        };
        assert!(e.first_fragment);
        let mut f = vec![0u8; 8];
        f[2..4].copy_from_slice(&(185u16 << 3).to_be_bytes());
        assert_eq!(
            parse_ip(&ipv6(&[(44, f)], 50, &esp(1, 1))),
            Parsed::Fragment
        );

        // Too many extension headers.
        let many: Vec<_> = (0..9).map(|_| (60u8, vec![0u8; 8])).collect();
        assert_eq!(
            parse_ip(&ipv6(&many, 50, &esp(0x1000, 1))),
            Parsed::Malformed(Malformed::TooManyExtHeaders)
        );
        // Extension header longer than the packet.
        let mut r = vec![0u8; 8];
        r[1] = 200;
        assert_eq!(
            parse_ip(&ipv6(&[(60, r)], 50, &esp(1, 1))),
            Parsed::Truncated
        );
        // No next header.
        assert_eq!(parse_ip(&ipv6(&[], 59, &[])), Parsed::NotEsp);
        // Payload length beyond the buffer.
        let mut p = ipv6(&[], 50, &esp(0x1000, 1));
        p[4] = 0xff;
        assert_eq!(parse_ip(&p), Parsed::Truncated);
        // Truncated fixed header.
        assert_eq!(parse_ip(&p[..39]), Parsed::Truncated);
    }

    #[test]
    fn every_prefix_is_safe() {
        let samples = [
            ipv4(50, 0, &esp(0x100, 1)),
            ipv4(17, 0, &udp(4500, 4500, &esp(0x100, 7))),
            ipv6(
                &[(0, vec![0; 8]), (44, vec![0; 8])],
                17,
                &udp(1, 4500, &[0xff]),
            ),
        ];
        for s in &samples {
            for n in 0..=s.len() {
                let _ = parse_ip(&s[..n]);
                let _ = parse_ipv4(&s[..n]);
                let _ = parse_ipv6(&s[..n]);
                let _ = classify_udp_payload(&s[..n]);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let r = parse_ip(&data);
            if let Parsed::Esp(e) = r {
                // The reported offset points at the SPI that was parsed.
                let spi = &data[e.esp_offset..e.esp_offset + 4];
                proptest::prop_assert_eq!(spi, &e.hdr.spi.to_be_bytes()[..]);
            }
        }
    }

    #[test]
    fn peek_sorts_out_the_common_cases() {
        let tcp = ipv4(6, 0, &[0u8; 20]);
        assert_eq!(peek_ip(&tcp[..PEEK_BYTES], tcp.len()), Peek::NotEsp);
        let mut udp = [0u8; 16];
        udp[2..4].copy_from_slice(&7777u16.to_be_bytes());
        let u = ipv4(IPPROTO_UDP, 0, &udp);
        assert_eq!(peek_ip(&u[..PEEK_BYTES], u.len()), Peek::Udp(20));
        assert!(!udp_dport_is_nat_t(&u[20..]));
        udp[2..4].copy_from_slice(&NAT_T_PORT.to_be_bytes());
        assert!(udp_dport_is_nat_t(&udp));
        let e = ipv4(IPPROTO_ESP, 0, &[0u8; 16]);
        assert_eq!(peek_ip(&e[..PEEK_BYTES], e.len()), Peek::Esp(20));
        // A non-first fragment, whatever its protocol.
        let f = ipv4(IPPROTO_ESP, 10, &[0u8; 16]);
        assert_eq!(peek_ip(&f[..PEEK_BYTES], f.len()), Peek::NotEsp);
        // Too few bytes to tell.
        assert_eq!(peek_ip(&tcp[..6], tcp.len()), Peek::Parse);
    }

    proptest::proptest! {
        #[test]
        fn peek_agrees_with_parse(mut data in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
                                  v6 in proptest::bool::ANY, proto in proptest::sample::select(vec![6u8, 17, 50, 0, 44, 58]),
                                  nat_t in proptest::bool::ANY) {
            // Mostly well-formed headers, so that every branch is reached.
            if data.len() >= 48 {
                let n = data.len();
                if v6 {
                    data[0] = 0x60;
                    data[4..6].copy_from_slice(&((n - 40) as u16).to_be_bytes());
                    data[6] = proto;
                } else {
                    data[0] = 0x45;
                    data[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                    data[6] &= 0x20;
                    data[7] = 0;
                    data[9] = proto;
                }
                if nat_t {
                    let at = if v6 { 40 } else { 20 };
                    data[at + 2..at + 4].copy_from_slice(&NAT_T_PORT.to_be_bytes());
                }
            }
            let parsed = parse_ip(&data);
            match peek_ip(&data, data.len()) {
                Peek::NotEsp => proptest::prop_assert!(matches!(parsed, Parsed::NotEsp | Parsed::Fragment), "{parsed:?}"),
                Peek::Udp(off) => {
                    if !udp_dport_is_nat_t(&data[off..]) {
                        proptest::prop_assert_eq!(parsed, Parsed::NotEsp);
                    } else {
                        // UDP and ESP headers (or the IKE marker) are all the parse needs.
                        let k = (off + UDP_HDR_LEN + ESP_HDR_LEN).min(data.len());
                        proptest::prop_assert_eq!(parse_ip_prefix(&data[..k], data.len()), parsed);
                    }
                }
                Peek::Esp(off) => {
                    // The headers the parse needs end 8 bytes after the IP header.
                    let k = (off + ESP_HDR_LEN).min(data.len());
                    proptest::prop_assert_eq!(parse_ip_prefix(&data[..k], data.len()), parsed);
                }
                Peek::Parse => {}
            }
        }
    }

    /// Every prefix that holds the headers classifies like the whole packet.
    fn prefix_agrees(pkt: &[u8], headers: usize) {
        let whole = parse_ip(pkt);
        for k in headers..=pkt.len() {
            assert_eq!(
                parse_ip_prefix(&pkt[..k], pkt.len()),
                whole,
                "prefix {k} of {}",
                pkt.len()
            );
        }
    }

    #[test]
    fn prefix_of_large_packets() {
        let mut esp_body = vec![0u8; 1400];
        esp_body[..8].copy_from_slice(&[0, 0, 0x10, 0, 0, 0, 0, 7]);
        let p = ipv4(IPPROTO_ESP, 0, &esp_body);
        assert!(
            matches!(parse_ip_prefix(&p[..64], p.len()), Parsed::Esp(e) if e.hdr.spi == 0x1000)
        );
        prefix_agrees(&p, 28);
        let u = ipv4(IPPROTO_UDP, 0, &udp(4500, 4500, &esp_body));
        assert!(matches!(parse_ip_prefix(&u[..64], u.len()), Parsed::Esp(e) if e.encap.is_some()));
        prefix_agrees(&u, 36);
        let ike = ipv4(
            IPPROTO_UDP,
            0,
            &udp(4500, 4500, &[0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        );
        prefix_agrees(&ike, 32);
    }

    #[test]
    fn cut_off_payload_is_not_a_keepalive() {
        let mut body = vec![0xffu8; 100];
        body[1] = 1;
        let u = ipv4(IPPROTO_UDP, 0, &udp(4500, 4500, &body));
        // Only the first payload byte (0xff) is visible: not a keepalive.
        assert_ne!(parse_ip_prefix(&u[..29], u.len()), Parsed::NatKeepalive);
        let k = ipv4(IPPROTO_UDP, 0, &udp(4500, 4500, &[0xff]));
        assert_eq!(parse_ip_prefix(&k, k.len()), Parsed::NatKeepalive);
    }

    #[test]
    fn headers_longer_than_the_wire_are_truncated() {
        let p = ipv4(IPPROTO_ESP, 0, &[0, 0, 0x10, 0, 0, 0, 0, 1, 9, 9]);
        // The wire holds fewer bytes than the IPv4 total length claims.
        assert_eq!(parse_ip_prefix(&p[..28], 28), Parsed::Truncated);
    }
}
