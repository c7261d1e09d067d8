//! Every parser and decoder on arbitrary bytes: must not panic, and ESP results must point
//! at the SPI they report.
#![no_main]

use ipsec_rs_core::esp::{classify_udp_payload, parse_esp_header, parse_ip, Parsed};
use ipsec_rs_core::nl::{
    Attrs, Counters, GlobalConfig, IfConfig, InvalidSpiEvent, SaConfig, Unknown,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Parsed::Esp(e) = parse_ip(data) {
        assert_eq!(
            &data[e.esp_offset..e.esp_offset + 4],
            &e.hdr.spi.to_be_bytes()[..]
        );
        assert_ne!(e.hdr.spi, 0);
    }
    let _ = classify_udp_payload(data);
    let _ = parse_esp_header(data);

    for u in [Unknown::Reject, Unknown::Skip] {
        // Whatever decodes must re-encode and decode to the same value.
        if let Ok(ev) = InvalidSpiEvent::decode(data, u) {
            let mut buf = [0u8; 512];
            let n = ev.encode(&mut buf).unwrap();
            assert_eq!(InvalidSpiEvent::decode(&buf[..n], Unknown::Reject), Ok(ev));
        }
        if let Ok(c) = GlobalConfig::decode(data, u) {
            let mut buf = [0u8; 512];
            let n = c.encode(&mut buf).unwrap();
            assert_eq!(GlobalConfig::decode(&buf[..n], Unknown::Reject), Ok(c));
        }
        let _ = GlobalConfig::DEFAULT.patched(data, u);
        if let Ok(c) = SaConfig::decode(data, u) {
            let mut buf = [0u8; 512];
            let n = c.encode(&mut buf).unwrap();
            assert_eq!(SaConfig::decode(&buf[..n], Unknown::Reject), Ok(c));
        }
        if let Ok(c) = IfConfig::decode(data, u) {
            let mut buf = [0u8; 512];
            let n = c.encode(&mut buf).unwrap();
            assert_eq!(IfConfig::decode(&buf[..n], Unknown::Reject), Ok(c));
        }
        let _ = Counters::decode(data, u);
    }
    for a in Attrs::new(data).flatten() {
        assert!(a.offset + 4 + a.payload.len() <= data.len());
        for n in a.nested().flatten() {
            assert!(n.payload.len() <= a.payload.len());
        }
    }
});
