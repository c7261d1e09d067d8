//! The invalid-SPI notification ([`cmd::EVENT_INVALID_SPI`](super::super::cmd::EVENT_INVALID_SPI)).

use super::super::super::esp::{IpAddr, UdpPorts, IPPROTO_ESP, IPPROTO_UDP};
use super::super::{event_attr, walk, AttrWriter, NlError, NoSpace, Unknown};
use super::{addr_attr, check_family, family_attr};

/// The invalid-SPI notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidSpiEvent {
    /// Outer source address.
    pub saddr: IpAddr,
    /// Outer destination address (same family as `saddr`).
    pub daddr: IpAddr,
    /// The SPI without SA.
    pub spi: u32,
    /// UDP ports if the packet was UDP-encapsulated (then the protocol is UDP, else ESP).
    pub encap: Option<UdpPorts>,
    /// Sequence number from the ESP header.
    pub seq: u32,
    /// Receiving interface.
    pub ifindex: u32,
    /// Network namespace cookie.
    pub netns_cookie: u64,
    /// Misses of this flow suppressed since its previous event.
    pub suppressed: u32,
    /// Monotonic timestamp, nanoseconds.
    pub timestamp_ns: u64,
}

impl InvalidSpiEvent {
    /// The protocol attribute: 17 when encapsulated, 50 otherwise.
    pub fn proto(&self) -> u8 {
        if self.encap.is_some() {
            IPPROTO_UDP
        } else {
            IPPROTO_ESP
        }
    }

    /// Encodes the event's attributes; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        use event_attr::*;
        let mut w = AttrWriter::new(buf);
        w.put_u16(FAMILY, self.saddr.family.af())?;
        w.put(SADDR, self.saddr.as_slice())?;
        w.put(DADDR, self.daddr.as_slice())?;
        w.put_u32(SPI, self.spi)?;
        w.put_u8(PROTO, self.proto())?;
        if let Some(p) = self.encap {
            w.put_u16(ENCAP_SPORT, p.sport)?;
            w.put_u16(ENCAP_DPORT, p.dport)?;
        }
        w.put_u32(SEQ, self.seq)?;
        w.put_u32(IFINDEX, self.ifindex)?;
        w.put_u64(NETNS_COOKIE, self.netns_cookie)?;
        w.put_u32(SUPPRESSED, self.suppressed)?;
        w.put_u64(TIMESTAMP_NS, self.timestamp_ns)?;
        Ok(w.len())
    }

    /// Decodes an event.  Family, addresses, SPI and protocol are mandatory; the UDP ports
    /// must be both present exactly when the protocol is UDP; the rest default to 0.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, fuzz, tests"))]
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<Self, NlError> {
        use event_attr::*;
        let (mut family, mut saddr, mut daddr, mut spi, mut proto) = (None, None, None, None, None);
        let (mut sport, mut dport) = (None, None);
        let mut ev = InvalidSpiEvent {
            saddr: IpAddr::v4([0; 4]),
            daddr: IpAddr::v4([0; 4]),
            spi: 0,
            encap: None,
            seq: 0,
            ifindex: 0,
            netns_cookie: 0,
            suppressed: 0,
            timestamp_ns: 0,
        };
        walk(buf, MAX, unknown, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                SADDR => saddr = Some(addr_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                PROTO => proto = Some(a.u8()?),
                ENCAP_SPORT => sport = Some(a.u16()?),
                ENCAP_DPORT => dport = Some(a.u16()?),
                SEQ => ev.seq = a.u32()?,
                IFINDEX => ev.ifindex = a.u32()?,
                NETNS_COOKIE => ev.netns_cookie = a.u64()?,
                SUPPRESSED => ev.suppressed = a.u32()?,
                TIMESTAMP_NS => ev.timestamp_ns = a.u64()?,
                _ => {}
            }
            Ok(())
        })?;
        let (Some(family), Some(saddr), Some(daddr), Some(spi), Some(proto)) =
            (family, saddr, daddr, spi, proto)
        else {
            return Err(NlError::new(
                c"event needs family, saddr, daddr, spi and proto",
            ));
        };
        check_family(family, &saddr)?;
        check_family(family, &daddr)?;
        ev.encap = match (proto, sport, dport) {
            (IPPROTO_ESP, None, None) => None,
            (IPPROTO_UDP, Some(sport), Some(dport)) => Some(UdpPorts { sport, dport }),
            _ => {
                return Err(NlError::new(
                    c"encap ports must be present exactly when proto is UDP",
                ))
            }
        };
        ev.saddr = saddr;
        ev.daddr = daddr;
        ev.spi = spi;
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::tests::{attr, enc};
    use super::*;

    fn event() -> InvalidSpiEvent {
        InvalidSpiEvent {
            saddr: IpAddr::v6([1; 16]),
            daddr: IpAddr::v6([2; 16]),
            spi: 0xdead_beef,
            encap: Some(UdpPorts {
                sport: 1024,
                dport: 4500,
            }),
            seq: 77,
            ifindex: 3,
            netns_cookie: 0x1234_5678_9abc,
            suppressed: 12,
            timestamp_ns: 99,
        }
    }

    #[test]
    fn event_roundtrip() {
        let e = event();
        let b = enc(|buf| e.encode(buf));
        assert_eq!(InvalidSpiEvent::decode(&b, Unknown::Reject), Ok(e));
        let plain = InvalidSpiEvent {
            saddr: IpAddr::v4([192, 0, 2, 1]),
            daddr: IpAddr::v4([192, 0, 2, 2]),
            encap: None,
            ..e
        };
        let b = enc(|buf| plain.encode(buf));
        assert_eq!(InvalidSpiEvent::decode(&b, Unknown::Reject), Ok(plain));
        assert_eq!(plain.proto(), 50);
    }

    #[test]
    fn event_errors() {
        let e = event();
        let b = enc(|buf| e.encode(buf));
        // Unknown attribute: rejected or skipped.
        let mut x = b.clone();
        x.extend(attr(200, &[1, 2]));
        assert_eq!(
            InvalidSpiEvent::decode(&x, Unknown::Reject)
                .unwrap_err()
                .msg,
            "unknown attribute"
        );
        assert_eq!(InvalidSpiEvent::decode(&x, Unknown::Skip), Ok(e));
        // Duplicate.
        let mut x = b.clone();
        x.extend(attr(event_attr::SEQ, &1u32.to_ne_bytes()));
        let err = InvalidSpiEvent::decode(&x, Unknown::Skip).unwrap_err();
        assert_eq!(err.msg, "duplicate attribute");
        assert_eq!(err.offset, Some(b.len()));
        // Wrong size.
        let x = [attr(event_attr::SPI, &[1, 2])].concat();
        assert_eq!(
            InvalidSpiEvent::decode(&x, Unknown::Reject)
                .unwrap_err()
                .msg,
            "attribute has the wrong size"
        );
        // Missing mandatory.
        assert!(InvalidSpiEvent::decode(&[], Unknown::Reject).is_err());
        // Address length does not match family.
        let x = [
            attr(event_attr::FAMILY, &2u16.to_ne_bytes()),
            attr(event_attr::SADDR, &[1; 16]),
            attr(event_attr::DADDR, &[1; 4]),
            attr(event_attr::SPI, &5u32.to_ne_bytes()),
            attr(event_attr::PROTO, &[50]),
        ]
        .concat();
        assert!(InvalidSpiEvent::decode(&x, Unknown::Reject).is_err());
        // ESP with ports.
        let x = [
            attr(event_attr::FAMILY, &2u16.to_ne_bytes()),
            attr(event_attr::SADDR, &[1; 4]),
            attr(event_attr::DADDR, &[1; 4]),
            attr(event_attr::SPI, &5u32.to_ne_bytes()),
            attr(event_attr::PROTO, &[50]),
            attr(event_attr::ENCAP_DPORT, &4500u16.to_ne_bytes()),
        ]
        .concat();
        assert!(InvalidSpiEvent::decode(&x, Unknown::Reject).is_err());
        // Type 0 is never valid.
        assert!(InvalidSpiEvent::decode(&attr(0, &[]), Unknown::Reject).is_err());
    }
}
