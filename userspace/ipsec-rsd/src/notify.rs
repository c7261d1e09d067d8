// SPDX-License-Identifier: GPL-2.0

//! The RFC 7296 section 2.21.4 INVALID_SPI notification, sent unprotected.
//!
//! "If an ESP or AH packet arrives with an unrecognized SPI ... the recipient
//! MAY send an INVALID_SPI notification ... If no suitable IKE SA exists,
//! the node MAY send an informational message without cryptographic
//! protection to the source IP address of the packet."  The message is an
//! IKEv2 header (INFORMATIONAL, message ID 0, a fresh initiator SPI, zero
//! responder SPI) followed by one Notify payload: protocol ID 0 and SPI size
//! 0 (section 3.10: no SPI field), type INVALID_SPI (11), and the offending
//! SPI as the notification data (section 3.10.1).
//!
//! Sent to UDP port 500, or, when the ESP packet was UDP-encapsulated, to
//! the port it came from (normally 4500) with the 4-byte non-ESP marker
//! (RFC 3948 section 2.2).  charon owns ports 500/4500 locally, so the
//! source port is an ephemeral one.  strongSwan treats such a message at
//! most as a hint, which is why the daemon also drives IKE (see
//! `backend`).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// IKEv2 payload type Notify.
pub const PAYLOAD_NOTIFY: u8 = 41;
/// IKE version 2.0.
pub const IKE_VERSION: u8 = 0x20;
/// Exchange type INFORMATIONAL.
pub const EXCHANGE_INFORMATIONAL: u8 = 37;
/// Header flag: sent by the original initiator.
pub const FLAG_INITIATOR: u8 = 0x08;
/// Notify message type INVALID_SPI.
pub const NOTIFY_INVALID_SPI: u16 = 11;
/// IKE port.
pub const IKE_PORT: u16 = 500;
/// Length of the message without the non-ESP marker.
pub const MSG_LEN: usize = 28 + 12;

/// Builds the message; `non_esp_marker` prepends four zero bytes (port 4500).
pub fn invalid_spi_message(initiator_spi: [u8; 8], spi: u32, non_esp_marker: bool) -> Vec<u8> {
    let mut m = Vec::with_capacity(MSG_LEN + 4);
    if non_esp_marker {
        m.extend_from_slice(&[0; 4]);
    }
    // IKE header (RFC 7296 section 3.1).
    m.extend_from_slice(&initiator_spi);
    m.extend_from_slice(&[0; 8]); // responder SPI: none
    m.push(PAYLOAD_NOTIFY); // next payload
    m.push(IKE_VERSION);
    m.push(EXCHANGE_INFORMATIONAL);
    m.push(FLAG_INITIATOR);
    m.extend_from_slice(&0u32.to_be_bytes()); // message ID
    m.extend_from_slice(&(MSG_LEN as u32).to_be_bytes());
    // Notify payload (section 3.10).
    m.push(0); // next payload: none
    m.push(0); // critical bit and reserved
    m.extend_from_slice(&12u16.to_be_bytes()); // payload length
    m.push(0); // protocol ID: no SPI field
    m.push(0); // SPI size
    m.extend_from_slice(&NOTIFY_INVALID_SPI.to_be_bytes());
    m.extend_from_slice(&spi.to_be_bytes()); // notification data
    m
}

/// Where and what to send for one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// Our address (the event's destination).
    pub local: IpAddr,
    /// The peer's address and port.
    pub to: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
}

impl Notify {
    /// The notification for an invalid-SPI packet from `peer` to `local`,
    /// `encap_sport` being the packet's UDP source port if it was
    /// UDP-encapsulated.
    pub fn new(
        local: IpAddr,
        peer: IpAddr,
        spi: u32,
        encap_sport: Option<u16>,
        initiator_spi: [u8; 8],
    ) -> Self {
        let port = encap_sport.unwrap_or(IKE_PORT);
        Notify {
            local,
            to: SocketAddr::new(peer, port),
            bytes: invalid_spi_message(initiator_spi, spi, encap_sport.is_some()),
        }
    }

    /// Sends it from `local` (ephemeral port).
    pub fn send(&self) -> io::Result<()> {
        let s = UdpSocket::bind(SocketAddr::new(self.local, 0))?;
        s.send_to(&self.bytes, self.to)?;
        Ok(())
    }
}

/// A fresh random initiator SPI (never zero).
pub fn random_spi() -> [u8; 8] {
    let mut b = [0u8; 8];
    // SAFETY: `b` is valid for writes of its length.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize || b == [0; 8] {
        // getrandom cannot fail for 8 bytes once the pool is initialised;
        // fall back to the clock rather than send a zero SPI.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        b = (t | 1).to_be_bytes();
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed from RFC 7296 sections 3.1, 3.10 and 3.10.1.
    #[rustfmt::skip]
    const VECTOR: [u8; 40] = [
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // IKE SA initiator's SPI
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // IKE SA responder's SPI
        0x29,                                           // next payload: N (41)
        0x20,                                           // version 2.0
        0x25,                                           // exchange: INFORMATIONAL (37)
        0x08,                                           // flags: I
        0x00, 0x00, 0x00, 0x00,                         // message ID 0
        0x00, 0x00, 0x00, 0x28,                         // length 40
        0x00, 0x00, 0x00, 0x0c,                         // N: next 0, flags 0, length 12
        0x00, 0x00, 0x00, 0x0b,                         // protocol 0, SPI size 0, type 11
        0xc0, 0xff, 0xee, 0x01,                         // data: the invalid SPI
    ];

    #[test]
    fn matches_the_hand_computed_vector() {
        let spi = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(invalid_spi_message(spi, 0xc0ffee01, false), VECTOR);
        let mut marked = vec![0, 0, 0, 0];
        marked.extend_from_slice(&VECTOR);
        assert_eq!(invalid_spi_message(spi, 0xc0ffee01, true), marked);
    }

    #[test]
    fn port_follows_encapsulation() {
        let l: IpAddr = "192.0.2.2".parse().unwrap();
        let p: IpAddr = "192.0.2.1".parse().unwrap();
        let n = Notify::new(l, p, 0x1000, None, [9; 8]);
        assert_eq!(n.to, "192.0.2.1:500".parse().unwrap());
        assert_eq!(n.bytes.len(), 40);
        let n = Notify::new(l, p, 0x1000, Some(4500), [9; 8]);
        assert_eq!(n.to, "192.0.2.1:4500".parse().unwrap());
        assert_eq!(&n.bytes[..4], &[0, 0, 0, 0]);
        assert_eq!(n.bytes.len(), 44);
    }

    #[test]
    fn random_spis_are_nonzero_and_differ() {
        let (a, b) = (random_spi(), random_spi());
        assert_ne!(a, [0; 8]);
        assert_ne!(a, b);
    }

    #[test]
    fn sends_over_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rx.local_addr().unwrap().port();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let n = Notify::new(lo, lo, 7, Some(port), [1; 8]);
        n.send().unwrap();
        let mut buf = [0u8; 64];
        let (len, _) = rx.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], &n.bytes[..]);
    }
}
