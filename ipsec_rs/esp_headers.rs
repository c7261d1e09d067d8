// SPDX-License-Identifier: GPL-2.0

//! The headers of a locally delivered ESP packet as the receive path and
//! the vti observer read them before any SA is known: the ESP header
//! (core's parser), the outer IP header and, for UDP-encapsulated ESP, the
//! UDP ports; and the per-family counters of what arrives.

use crate::{
    counters::bump,
    esp::{self, EspHeader, ESP_HDR_LEN},
    netns::PerNet,
    nl::stats_attr as stat,
    rust::{bindings as b, skb::OwnedSkb},
};

const AF_INET: u16 = b::AF_INET as u16;
const AF_INET6: u16 = b::AF_INET6 as u16;

/// Why a packet's headers cannot be read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Shorter than an ESP header (XFRM drops it: XfrmInHdrError).
    Short,
    /// SPI 0: never on the wire (RFC 4303 2.1), never an SA's.
    SpiZero,
    /// An outer header this path does not read (XFRM's to judge).
    Outer,
}

/// The ESP header at `data`, and the outer header in front of it into `o`,
/// of a packet of `family`, UDP-encapsulated if `udp`: the ESP header made
/// linear first. An SPI of 0 is reported once the rest was read.
#[inline(always)]
pub(crate) fn read(
    skb: &mut OwnedSkb,
    family: u16,
    udp: bool,
    o: &mut OuterHeader,
) -> Result<EspHeader, Unreadable> {
    if !skb.may_pull(ESP_HDR_LEN) {
        return Err(Unreadable::Short);
    }
    let h = match skb.linear(0, ESP_HDR_LEN).map(esp::parse_esp_header) {
        Some(Ok(h)) => Some(h),
        Some(Err(esp::Parsed::Malformed(esp::Malformed::SpiZero))) => None,
        _ => return Err(Unreadable::Short),
    };
    let bytes = skb.network_header_bytes(48).ok_or(Unreadable::Outer)?;
    if !o.parse_into(bytes, family, udp) {
        return Err(Unreadable::Outer);
    }
    h.ok_or(Unreadable::SpiZero)
}

/// What the receive path reads from the outer IP header (and the UDP
/// header of UDP-encapsulated ESP).
pub(crate) struct OuterHeader {
    pub(crate) saddr: [u8; 16],
    pub(crate) daddr: [u8; 16],
    /// TOS / traffic class.
    pub(crate) tos: u8,
    /// UDP ports in network order, 0 without encapsulation.
    pub(crate) sport_be: u16,
    pub(crate) dport_be: u16,
}

impl OuterHeader {
    /// Whether IP input would have refused the packet for its addresses
    /// (`esp::outer_addresses_refused`): to be checked where GRO, which
    /// does not check them, hands us the packet.
    pub(crate) fn refused_by_ip_input(&self, family: u16) -> bool {
        let n = if family == AF_INET6 { 16 } else { 4 };
        esp::outer_addresses_refused(family == AF_INET6, &self.saddr[..n], &self.daddr[..n])
    }

    /// Reads the outer header `h` of a packet of `family`,
    /// UDP-encapsulated if `udp`.
    pub(crate) fn parse(h: &[u8], family: u16, udp: bool) -> Option<Self> {
        let mut o = Self::EMPTY;
        o.parse_into(h, family, udp).then_some(o)
    }

    /// Nothing read yet.
    pub(crate) const EMPTY: Self = OuterHeader {
        saddr: [0; 16],
        daddr: [0; 16],
        tos: 0,
        sport_be: 0,
        dport_be: 0,
    };

    /// [`Self::parse`] into `self`, which is [`Self::EMPTY`] (an IPv4
    /// address fills the first 4 bytes only): false if `h` is not a header
    /// of `family` this path reads. Filled in place, the receive path's
    /// copy is inlined into it (a returned one cost a call and a copy: 60
    /// instructions a packet).
    pub(crate) fn parse_into(&mut self, h: &[u8], family: u16, udp: bool) -> bool {
        self.read(h, family, udp).is_some()
    }

    #[inline(always)]
    fn read(&mut self, h: &[u8], family: u16, udp: bool) -> Option<()> {
        let o = self;
        o.sport_be = 0;
        o.dport_be = 0;
        let ports_at = match family {
            AF_INET => {
                let ip = esp::Ipv4Header::parse(h).ok()?;
                o.saddr[..4].copy_from_slice(&ip.saddr);
                o.daddr[..4].copy_from_slice(&ip.daddr);
                o.tos = ip.tos;
                udp.then_some(ip.hdr_len)
            }
            AF_INET6 => {
                // IPv6 input checked the version; GRO does not.
                if *h.first()? >> 4 != 6 {
                    return None;
                }
                o.saddr.copy_from_slice(h.get(8..24)?);
                o.daddr.copy_from_slice(h.get(24..40)?);
                o.tos = (*h.first()? << 4) | (*h.get(1)? >> 4);
                // UDP-encapsulated ESP over IPv6: the UDP header follows the
                // fixed header (extension headers before UDP are not expected
                // on IKE's socket path; without them we do not check mappings).
                (udp && *h.get(6)? == esp::IPPROTO_UDP).then_some(40)
            }
            _ => return None,
        };
        if let Some(at) = ports_at {
            o.sport_be = u16::from_ne_bytes([*h.get(at)?, *h.get(at + 1)?]);
            o.dport_be = u16::from_ne_bytes([*h.get(at + 2)?, *h.get(at + 3)?]);
        }
        Some(())
    }

    /// The packet as the invalid-SPI report describes it.
    pub(crate) fn esp_packet(
        &self,
        family: u16,
        hdr: EspHeader,
        udp: bool,
    ) -> Option<esp::EspPacket> {
        let fam = esp::Family::from_af(family)?;
        Some(esp::EspPacket {
            hdr,
            encap: udp.then(|| esp::UdpPorts {
                sport: u16::from_be(self.sport_be),
                dport: u16::from_be(self.dport_be),
            }),
            src: esp::IpAddr {
                family: fam,
                bytes: self.saddr,
            },
            dst: esp::IpAddr {
                family: fam,
                bytes: self.daddr,
            },
            esp_offset: 0,
            first_fragment: false,
        })
    }
}

/// Counts a locally delivered ESP packet: per family and encapsulation,
/// and, when its header was read (`h`), its SPI if IANA reserved (the
/// class the header's parser found).
pub(crate) fn count_esp(shared: &PerNet, family: u16, udp: bool, h: Option<&EspHeader>) {
    let c = match (family == AF_INET, udp) {
        (true, false) => stat::ESP_V4,
        (false, false) => stat::ESP_V6,
        (true, true) => stat::UDP_ENCAP_V4,
        (false, true) => stat::UDP_ENCAP_V6,
    };
    bump(&shared.counters, c);
    if h.is_some_and(|h| h.class == esp::SpiClass::Reserved) {
        bump(&shared.counters, stat::RESERVED_SPI);
    }
}
