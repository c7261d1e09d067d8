//! The replay window against an obviously-correct model (a set of seen numbers plus the
//! highest one), driven by fuzzer-chosen window sizes, start points and packet streams.
#![no_main]

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;

use ipsec_rs_core::replay::{blocks_for, infer_esn, ReplayError, ReplayMode, ReplayWindow};
use libfuzzer_sys::fuzz_target;

struct Model {
    w: u64,
    esn: bool,
    top: u64,
    seen: BTreeSet<u64>,
}

impl Model {
    fn infer(&self, lo: u32) -> Result<u64, ReplayError> {
        if !self.esn {
            return Ok(u64::from(lo));
        }
        // The unique candidate in [T - W + 1, T - W + 1 + 2^32).
        let bottom = i128::from(self.top) - i128::from(self.w) + 1;
        let mut c = (bottom.div_euclid(1 << 32) << 32) + i128::from(lo);
        if c < bottom {
            c += 1 << 32;
        }
        if c < 0 {
            Err(ReplayError::TooOld)
        } else if c > i128::from(u64::MAX) {
            Err(ReplayError::SeqOverflow)
        } else {
            Ok(c as u64)
        }
    }
    fn check_full(&self, s: u64) -> Result<(), ReplayError> {
        if s == 0 {
            Err(ReplayError::SeqZero)
        } else if !self.esn && s > u64::from(u32::MAX) {
            Err(ReplayError::SeqOverflow)
        } else if s > self.top {
            Ok(())
        } else if self.top - s >= self.w {
            Err(ReplayError::TooOld)
        } else if self.seen.contains(&s) {
            Err(ReplayError::Replayed)
        } else {
            Ok(())
        }
    }
    fn update(&mut self, s: u64) -> Result<(), ReplayError> {
        self.check_full(s)?;
        self.seen.insert(s);
        self.top = self.top.max(s);
        Ok(())
    }
}

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
    let mut m = Model {
        w: u64::from(w),
        esn,
        top: 0,
        seen: BTreeSet::new(),
    };
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
        let want = m.infer(lo).and_then(|s| m.check_full(s).map(|()| s));
        assert_eq!(got, want, "check {lo:#x} top {:#x} w {w} esn {esn}", m.top);
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
