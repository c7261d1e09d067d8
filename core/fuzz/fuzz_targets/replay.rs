//! The replay window against its reference model (`ipsec_rs_core::replay_model`: a set of
//! seen numbers plus the highest one), driven by fuzzer-chosen window sizes, start points
//! and packet streams.
#![no_main]

use std::sync::atomic::AtomicU64;

use ipsec_rs_core::replay::{blocks_for, infer_esn, ReplayError, ReplayMode, ReplayWindow};
use ipsec_rs_core::replay_model::Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let w = 32 + u32::from(u16::from_le_bytes([data[0], data[1]])) % 8192;
    let esn = data[2] & 1 != 0;
    let mut start = u64::from_le_bytes(data[3..11].try_into().unwrap());
    if !esn {
        start &= 0xffff_ffff;
    }
    let storage: Vec<AtomicU64> = (0..blocks_for(w)).map(|_| AtomicU64::new(0)).collect();
    let r = ReplayWindow::new(&storage[..], ReplayMode::Window(w), esn).unwrap();
    let mut m = Model::new(w, esn);
    if start != 0 {
        assert_eq!(r.update(start), m.update(start));
    }
    // Each 3-byte record: signed 16-bit delta scaled by a shift, and an auth flag.
    for rec in data[11..].chunks_exact(3) {
        let delta = i64::from(i16::from_le_bytes([rec[0], rec[1]]));
        let shift = u32::from(rec[2] >> 2) % 24;
        let target = (m.top as i64).wrapping_add(delta << shift) as u64;
        let lo = target as u32;
        let got = r.check(lo);
        assert_eq!(
            got,
            m.check(lo),
            "check {lo:#x} top {:#x} w {w} esn {esn}",
            m.top
        );
        if esn {
            assert_eq!(infer_esn(m.top, w, lo).ok(), m.infer(lo).ok());
        }
        if let Ok(s) = got {
            if rec[2] & 1 != 0 {
                assert_eq!(r.update(s), m.update(s));
                if rec[2] & 2 != 0 {
                    // A racing duplicate.
                    assert_eq!(r.update(s), Err(ReplayError::Replayed));
                }
            }
        }
        assert_eq!(r.top(), m.top);
    }
});
