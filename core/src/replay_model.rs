//! The anti-replay window's reference model, for the replay tests and the `replay` fuzz
//! target: obviously correct rather than fast, the set of every sequence number seen and
//! the highest one.  Its ESN inference is written differently from [`infer_esn`]'s: the
//! unique candidate in `[T - W + 1, T - W + 1 + 2^32)`.
//!
//! Host only (it needs `std`): built for the tests and with the `model` feature (the fuzz
//! crate's); the kernel module does not include this file.
//!
//! [`infer_esn`]: super::replay::infer_esn

use std::collections::BTreeSet;

use super::replay::ReplayError;

/// What [`ReplayWindow`](super::replay::ReplayWindow) should answer, from first principles.
#[derive(Clone, Debug)]
pub struct Model {
    /// Window size.
    pub w: u64,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Highest sequence number accepted so far (0 if none).
    pub top: u64,
    /// Every sequence number accepted so far.
    pub seen: BTreeSet<u64>,
}

impl Model {
    /// A window of `w` that has accepted nothing.
    pub fn new(w: u32, esn: bool) -> Self {
        Model {
            w: u64::from(w),
            esn,
            top: 0,
            seen: BTreeSet::new(),
        }
    }

    /// The full sequence number the low 32 bits `lo` stand for.
    pub fn infer(&self, lo: u32) -> Result<u64, ReplayError> {
        if !self.esn {
            return Ok(u64::from(lo));
        }
        // The unique candidate in [T - W + 1, T - W + 1 + 2^32).
        let bottom = i128::from(self.top) - i128::from(self.w) + 1;
        let base = bottom.div_euclid(1 << 32) << 32;
        let mut c = base + i128::from(lo);
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

    /// Whether the full sequence number `s` would be accepted.
    pub fn check_full(&self, s: u64) -> Result<(), ReplayError> {
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

    /// [`ReplayWindow::check`](super::replay::ReplayWindow::check): the full sequence
    /// number for the low bits `lo`, if it would be accepted.
    pub fn check(&self, lo: u32) -> Result<u64, ReplayError> {
        let s = self.infer(lo)?;
        self.check_full(s).map(|()| s)
    }

    /// [`ReplayWindow::update`](super::replay::ReplayWindow::update): accepts `s`.
    pub fn update(&mut self, s: u64) -> Result<(), ReplayError> {
        self.check_full(s)?;
        self.seen.insert(s);
        self.top = self.top.max(s);
        Ok(())
    }
}
