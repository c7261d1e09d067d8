//! Anti-replay window for ESP (RFC 4303 section 3.4.3), with extended sequence numbers
//! (RFC 4303 appendix A).
//!
//! # Design
//!
//! The window remembers which of the last `window` sequence numbers below and including the
//! highest authenticated one (`top`) have been seen.  The bits live in a ring of 64-bit
//! blocks, as in RFC 6479: sequence number `s` belongs to block `s / 64`; the ring has
//! `ceil(window / 64) + 1` blocks, so that every block the window touches has its own, and
//! the block of `top` sits in a known slot (`top_slot`).  A number at or below `top` is found
//! `top / 64 - s / 64` slots behind it (fewer than the ring's length: one compare and
//! subtract, no division); a number above `top` cannot have been seen.  When the window
//! advances by `d` blocks, the `d` slots it enters are cleared (all of them if `d` exceeds the
//! ring): in order that is one word every 64 packets, so [`ReplayWindow::check`] and
//! [`ReplayWindow::update`] cost the same at every window size.  A jump clears at most the
//! ring (`window / 64 + 1` words), and only an authenticated packet can make one.
//!
//! Memory: the ring is `8 * (ceil(window / 64) + 1)` bytes, i.e. the window's bits plus at
//! most one block (see [`blocks_for`]): 16 bytes at 32, 128 KiB + 8 at 2^20.

//! # Use on the receive path
//!
//! 1. Before decryption: [`ReplayWindow::check`] with the 32 wire bits of the sequence number.
//!    It rejects zero, too-old and already-seen numbers and, with ESN, infers the high 32 bits
//!    (RFC 4303 appendix A.2.2).  It does not change the window.
//! 2. After the ICV verified (using the inferred high bits): [`ReplayWindow::update`] with
//!    the full 64-bit number.  It checks again, because another CPU may have authenticated
//!    the same packet in the meantime, and only then marks it seen and advances.
//!
//! # Concurrency
//!
//! [`ReplayWindow::check`] is lock-free; [`ReplayWindow::update`] must be serialised by the
//! caller.  The kernel keeps one window per SA and calls `update` under the SA's spinlock
//! (with the lifetime accounting that goes with it), and `check`, before decryption, with no
//! lock at all: the SA's lock is taken once a packet.  A check must still see a consistent
//! window (`top`, the slot of its block and the word it reads belong together: a torn read
//! could find the bit of a number one ring earlier, or miss a number's own bit), so the
//! window's state is atomics under a sequence count, as the kernel's `seqcount_t`: `update`
//! makes it odd while it writes, `check` reads, then retries if the count was odd or moved.
//! Every access is an atomic one (relaxed loads and stores: plain moves on x86 and arm64),
//! so a concurrent misuse gives wrong answers, never undefined behaviour.  A `check` that
//! raced an update answers for the window as it was before or after that update, never a
//! mix; `update` re-validates either way.

use core::{
    ops::Deref,
    sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};

/// Smallest configurable window, in packets.
pub const MIN_WINDOW: u32 = 32;
/// Largest configurable window, in packets (2^20).
pub const MAX_WINDOW: u32 = 1 << 20;
/// Window used unless configured otherwise, like the vendor guide.
pub const DEFAULT_WINDOW: u32 = 64;
/// Window used to infer ESN high bits when anti-replay is disabled: half the 32-bit space
/// behind the highest number seen, half ahead.
pub const DISABLED_ESN_INFERENCE_WINDOW: u32 = 1 << 31;

const BLOCK_BITS: u32 = 64;

/// Number of `u64` words of storage a window of `window` packets needs: its blocks
/// (`ceil(window / 64)`) plus one, for the block `top` is in when the window does not end on
/// a block boundary.  Windows above [`MAX_WINDOW`] are treated as [`MAX_WINDOW`].
///
/// | window | words | bytes | window / 8 |
/// |---|---|---|---|
/// | 32 | 2 | 16 | 4 |
/// | 64 | 2 | 16 | 8 |
/// | 1,024 | 17 | 136 | 128 |
/// | 4,096 | 65 | 520 | 512 |
/// | 65,536 | 1,025 | 8,200 | 8,192 |
/// | 1,048,576 | 16,385 | 131,080 | 131,072 |
pub const fn blocks_for(window: u32) -> usize {
    let w = if window > MAX_WINDOW {
        MAX_WINDOW
    } else {
        window
    };
    w.div_ceil(BLOCK_BITS) as usize + 1
}

/// Whether and how big a window is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayMode {
    /// Anti-replay with a window of this many packets ([`MIN_WINDOW`]..=[`MAX_WINDOW`]).
    Window(u32),
    /// No anti-replay: every packet is accepted (RFC 4303 3.4.3: no inbound check).  With ESN
    /// the high bits are still inferred and tracked, since the ICV covers them: the number is
    /// taken from the subspace that puts it closest to the highest seen, and never refused as
    /// too old (a first packet with any low bits is accepted).
    Disabled,
}

/// Why a sequence number is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// Within the window and already seen: a replay (or a duplicate that won a race).
    Replayed,
    /// Left of the window: too old to tell, dropped.
    TooOld,
    /// Sequence number 0 is never sent (the counter starts at 1).
    SeqZero,
    /// ESN: the inferred number would exceed 2^64 - 1; the sender has cycled.
    SeqOverflow,
}

/// Why a window cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayConfigError {
    /// Window outside [`MIN_WINDOW`]..=[`MAX_WINDOW`].
    WindowOutOfRange,
    /// Storage shorter than [`blocks_for`] the window.
    StorageTooSmall,
}

/// An anti-replay window over caller-provided storage `S` (for example `&[AtomicU64]`, or a
/// kernel vector the SA owns).  See the module documentation for the algorithm and the
/// concurrency contract.
#[derive(Debug)]
pub struct ReplayWindow<S> {
    words: S,
    /// Ring length in blocks ([`blocks_for`] the window); 0 when disabled.
    slots: usize,
    /// Window in packets; 0 when disabled.
    window: u32,
    esn: bool,
    /// Sequence count: odd while `update` writes (see the module documentation).
    gen: AtomicU32,
    /// The slot of `top`'s block.
    top_slot: AtomicUsize,
    /// Highest sequence number that passed `update`; 0 before the first one.
    top: AtomicU64,
}

/// What `update` changes, as one consistent reading.
#[derive(Clone, Copy)]
struct Head {
    top: u64,
    top_slot: usize,
}

impl<S: Deref<Target = [AtomicU64]>> ReplayWindow<S> {
    /// Builds an empty window over `storage`, which is zeroed.  `storage` must hold at least
    /// [`blocks_for`]`(window)` words (any length, even zero, when disabled); extra words are
    /// left unused.  `esn` selects 64-bit extended sequence numbers.
    pub fn new(storage: S, mode: ReplayMode, esn: bool) -> Result<Self, ReplayConfigError> {
        let (window, slots) = match mode {
            ReplayMode::Disabled => (0, 0),
            ReplayMode::Window(w) => {
                if !(MIN_WINDOW..=MAX_WINDOW).contains(&w) {
                    return Err(ReplayConfigError::WindowOutOfRange);
                }
                if storage.len() < blocks_for(w) {
                    return Err(ReplayConfigError::StorageTooSmall);
                }
                (w, blocks_for(w))
            }
        };
        storage.iter().for_each(|w| w.store(0, Ordering::Relaxed));
        Ok(ReplayWindow {
            words: storage,
            slots,
            window,
            esn,
            gen: AtomicU32::new(0),
            top_slot: AtomicUsize::new(0),
            top: AtomicU64::new(0),
        })
    }

    /// The configured mode.
    pub fn mode(&self) -> ReplayMode {
        if self.window == 0 {
            ReplayMode::Disabled
        } else {
            ReplayMode::Window(self.window)
        }
    }

    /// Whether extended sequence numbers are in use.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn esn(&self) -> bool {
        self.esn
    }

    /// Highest sequence number accepted by [`update`](Self::update) so far (0 if none).
    pub fn top(&self) -> u64 {
        self.top.load(Ordering::Relaxed)
    }

    /// Pre-decryption check of the 32 sequence-number bits found in the ESP header.
    ///
    /// Returns the full sequence number to authenticate with: with ESN the inferred 64-bit
    /// value, otherwise `seq_lo` itself.  Does not change the window.  Lock-free: may run
    /// beside an `update`, and answers for the window before or after it (retrying, with a
    /// spin hint, while an update is half done).
    pub fn check(&self, seq_lo: u32) -> Result<u64, ReplayError> {
        loop {
            let g = self.gen.load(Ordering::Acquire);
            if g & 1 == 0 {
                let r = self.check_at(self.head(), seq_lo);
                fence(Ordering::Acquire);
                if self.gen.load(Ordering::Relaxed) == g {
                    return r;
                }
            }
            core::hint::spin_loop();
        }
    }

    /// What `update` changes, read (relaxed: `check` validates it by the count, `update`
    /// is the only writer).
    fn head(&self) -> Head {
        Head {
            top: self.top.load(Ordering::Relaxed),
            top_slot: self.top_slot.load(Ordering::Relaxed),
        }
    }

    /// [`check`](Self::check) against `head`.
    fn check_at(&self, head: Head, seq_lo: u32) -> Result<u64, ReplayError> {
        let seq = if self.esn {
            if self.window == 0 {
                infer_esn_disabled(head.top, seq_lo)?
            } else {
                infer_esn(head.top, self.window, seq_lo)?
            }
        } else {
            u64::from(seq_lo)
        };
        if self.window == 0 {
            return Ok(seq);
        }
        self.locate(head, seq).map(|_| seq)
    }

    /// Post-authentication update with the full sequence number returned by
    /// [`check`](Self::check).  Re-checks it (a duplicate that authenticated concurrently
    /// fails here with [`ReplayError::Replayed`]), then marks it seen and advances the window
    /// if it is the new highest.  Updates must be serialised by the caller (the kernel: the
    /// SA's lock); checks need not be.
    pub fn update(&self, seq: u64) -> Result<(), ReplayError> {
        let head = self.head();
        // The slot of `seq`'s block if it is at or below `top`'s (`Some(None)`: above it);
        // `None` without a window.
        let at = if self.window != 0 {
            Some(self.locate(head, seq)?)
        } else if !self.esn && seq > u64::from(u32::MAX) {
            // Keep `top` meaningful for non-ESN windows even if misused.
            return Err(ReplayError::SeqOverflow);
        } else {
            None
        };
        let g = self.gen.load(Ordering::Relaxed);
        self.gen.store(g.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        if let Some(at) = at {
            let index = at.unwrap_or_else(|| self.advance(head, seq));
            if let Some(w) = self.words.get(index) {
                w.store(
                    w.load(Ordering::Relaxed) | (1u64 << (seq % u64::from(BLOCK_BITS))),
                    Ordering::Relaxed,
                );
            }
        }
        if seq > head.top {
            self.top.store(seq, Ordering::Relaxed);
        }
        self.gen.store(g.wrapping_add(2), Ordering::Release);
        Ok(())
    }

    /// Validates `seq` against the window at `head`: the slot of its block if it is at or
    /// below `top`'s block, `None` if it is in a block above (not seen, by construction).
    fn locate(&self, head: Head, seq: u64) -> Result<Option<usize>, ReplayError> {
        if seq == 0 {
            return Err(ReplayError::SeqZero);
        }
        if !self.esn && seq > u64::from(u32::MAX) {
            return Err(ReplayError::SeqOverflow);
        }
        let top = head.top;
        let (block, top_block) = (seq / u64::from(BLOCK_BITS), top / u64::from(BLOCK_BITS));
        if seq > top {
            // Above everything seen (in order, the common case): never
            // seen, no bit to read (`update` sets none above `top`, and
            // `advance` clears the blocks it enters).
            return Ok(if block > top_block {
                None
            } else {
                Some(head.top_slot)
            });
        }
        if top - seq >= u64::from(self.window) {
            return Err(ReplayError::TooOld);
        }
        // Within the window: fewer blocks behind `top`'s than the ring has (the window spans
        // at most `ceil(window / 64)` blocks below and including `top`'s), so one wrap at most.
        let behind = (top_block - block) as usize;
        let index = if behind <= head.top_slot {
            head.top_slot - behind
        } else {
            (head.top_slot + self.slots).wrapping_sub(behind)
        };
        let Some(bits) = self.words.get(index).map(|w| w.load(Ordering::Relaxed)) else {
            // Unreachable by the length check in `new` (and a consistent `head`); fail closed.
            return Err(ReplayError::Replayed);
        };
        if bits & (1u64 << (seq % u64::from(BLOCK_BITS))) != 0 {
            return Err(ReplayError::Replayed);
        }
        Ok(Some(index))
    }

    /// Moves `top`'s block forward to `seq`'s (above it), clearing the slots the window
    /// enters, and returns the new `top_slot`.  Inside `update`'s odd count.
    fn advance(&self, head: Head, seq: u64) -> usize {
        let d = seq / u64::from(BLOCK_BITS) - head.top / u64::from(BLOCK_BITS);
        let n = self.slots;
        let zero = |slot: usize| {
            if let Some(w) = self.words.get(slot) {
                w.store(0, Ordering::Relaxed);
            }
        };
        let slot = if d >= n as u64 {
            // Beyond the ring: nothing of the old window survives.
            (0..n).for_each(zero);
            // Any slot will do for the new block; keep the ring's phase simple.
            0
        } else {
            let mut slot = head.top_slot;
            for _ in 0..d {
                slot = if slot + 1 == n { 0 } else { slot + 1 };
                zero(slot);
            }
            slot
        };
        self.top_slot.store(slot, Ordering::Relaxed);
        slot
    }
}

/// Infers the high bits with anti-replay disabled: the subspace (current, previous or next)
/// that puts `seql` within 2^31 of `top`, as RFC 4303 appendix A.2.2 does with a window of
/// 2^31, except that a number that would fall before subspace 0 is taken in subspace 0: with
/// no window nothing is too old.
fn infer_esn_disabled(top: u64, seql: u32) -> Result<u64, ReplayError> {
    match infer_esn(top, DISABLED_ESN_INFERENCE_WINDOW, seql) {
        Err(ReplayError::TooOld) => Ok(u64::from(seql)),
        r => r,
    }
}

/// Infers the high 32 bits of a sequence number from its low 32 bits `seql`, the highest
/// number seen `top` and the window `w` (>= 1), exactly as RFC 4303 appendix A.2.2 does:
///
/// * case A, the window lies within one 2^32 subspace (`Tl >= W - 1`): `seql` at or above the
///   window's bottom `Tl - W + 1` is in the current subspace (`Th`), below it in the next
///   (`Th + 1`);
/// * case B, the window spans two subspaces: `seql` at or above the (wrapped) bottom is in
///   the previous subspace (`Th - 1`), otherwise in the current one (`Th`).
///
/// Fails with `TooOld` when case B points before subspace 0 and `SeqOverflow` when case A
/// points past subspace 2^32 - 1.
pub fn infer_esn(top: u64, w: u32, seql: u32) -> Result<u64, ReplayError> {
    let th = (top >> 32) as u32;
    let tl = top as u32; // low half, truncation intended
    let w_minus_1 = w.saturating_sub(1);
    let bottom = tl.wrapping_sub(w_minus_1);
    let hi = if tl >= w_minus_1 {
        if seql >= bottom {
            th
        } else {
            th.checked_add(1).ok_or(ReplayError::SeqOverflow)?
        }
    } else if seql >= bottom {
        th.checked_sub(1).ok_or(ReplayError::TooOld)?
    } else {
        th
    };
    Ok((u64::from(hi) << 32) | u64::from(seql))
}

#[cfg(test)]
mod tests {
    use super::super::replay_model::Model;
    use super::*;
    use proptest::prelude::*;

    fn words(n: usize) -> Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    fn win(w: u32, esn: bool) -> ReplayWindow<Vec<AtomicU64>> {
        ReplayWindow::new(words(blocks_for(w)), ReplayMode::Window(w), esn).unwrap()
    }

    /// check + update, as the receive path does.
    fn recv(r: &ReplayWindow<Vec<AtomicU64>>, lo: u32) -> Result<u64, ReplayError> {
        let s = r.check(lo)?;
        r.update(s)?;
        Ok(s)
    }

    #[test]
    fn sizes() {
        assert_eq!(blocks_for(32), 2);
        assert_eq!(blocks_for(64), 2);
        assert_eq!(blocks_for(65), 3);
        assert_eq!(blocks_for(129), 4);
        assert_eq!(blocks_for(1024), 17);
        assert_eq!(blocks_for(4096), 65);
        assert_eq!(blocks_for(65536), 1025);
        assert_eq!(blocks_for(MAX_WINDOW), 16385);
        assert_eq!(blocks_for(u32::MAX), blocks_for(MAX_WINDOW));
    }

    /// Issue 21's bound: a window's memory (the ring, plus the window's own fields) is at
    /// most 1.25 x (window / 8) + 64 bytes at every size from 32 to 2^20.
    #[test]
    fn memory_bound() {
        let fields = core::mem::size_of::<ReplayWindow<()>>();
        let mut w = MIN_WINDOW;
        let mut sizes = vec![];
        while w <= MAX_WINDOW {
            sizes.extend([w, w + 1, w + 63, (w * 3 / 2).min(MAX_WINDOW)]);
            w *= 2;
        }
        for w in sizes.into_iter().filter(|w| *w <= MAX_WINDOW) {
            let bytes = blocks_for(w) * 8 + fields;
            let bound = (w as usize / 8) * 5 / 4 + 64;
            assert!(bytes <= bound, "window {w}: {bytes} bytes > {bound}");
        }
    }

    /// Replay disabled with ESN (RFC 4303: no inbound check): every first packet is
    /// accepted, whatever its low bits, and later ones follow the highest seen.
    #[test]
    fn disabled_esn_accepts_everything() {
        for lo in [
            1,
            0x7fff_ffff,
            0x8000_0000,
            0x8000_0001,
            0xc000_0000,
            u32::MAX,
        ] {
            let r = ReplayWindow::new(Vec::new(), ReplayMode::Disabled, true).unwrap();
            assert_eq!(recv(&r, lo), Ok(u64::from(lo)), "first packet {lo:#x}");
        }
        let r = ReplayWindow::new(Vec::new(), ReplayMode::Disabled, true).unwrap();
        assert_eq!(recv(&r, 5), Ok(5));
        // More than 2^31 ahead of 5 would be behind subspace 0: taken in subspace 0.
        assert_eq!(recv(&r, 0xf000_0000), Ok(0xf000_0000));
        // Now closest ahead: the next subspace.
        assert_eq!(recv(&r, 3), Ok(0x1_0000_0003));
        assert_eq!(recv(&r, 0xf000_0010), Ok(0xf000_0010));
        assert_eq!(recv(&r, 2), Ok(0x1_0000_0002));
        assert_eq!(recv(&r, 0xffff_fff0), Ok(0xffff_fff0));
    }

    #[test]
    fn config_errors() {
        let st = words(4);
        assert_eq!(
            ReplayWindow::new(&st[..], ReplayMode::Window(31), false).unwrap_err(),
            ReplayConfigError::WindowOutOfRange
        );
        assert_eq!(
            ReplayWindow::new(&st[..], ReplayMode::Window(MAX_WINDOW + 1), false).unwrap_err(),
            ReplayConfigError::WindowOutOfRange
        );
        assert_eq!(
            ReplayWindow::new(&st[..], ReplayMode::Window(200), false).unwrap_err(),
            ReplayConfigError::StorageTooSmall
        );
        let r = ReplayWindow::new(&st[..], ReplayMode::Window(64), true).unwrap();
        assert_eq!(r.mode(), ReplayMode::Window(64));
        assert!(r.esn());
        let r = ReplayWindow::new(&[][..] as &[AtomicU64], ReplayMode::Disabled, false).unwrap();
        assert_eq!(r.mode(), ReplayMode::Disabled);
    }

    #[test]
    fn basic_window() {
        let r = win(64, false);
        assert_eq!(r.check(0), Err(ReplayError::SeqZero));
        assert_eq!(recv(&r, 1), Ok(1));
        assert_eq!(recv(&r, 1), Err(ReplayError::Replayed));
        assert_eq!(recv(&r, 100), Ok(100));
        assert_eq!(r.top(), 100);
        // 100 - 64 = 36 is just outside, 37 just inside.
        assert_eq!(r.check(36), Err(ReplayError::TooOld));
        assert_eq!(recv(&r, 37), Ok(37));
        assert_eq!(recv(&r, 37), Err(ReplayError::Replayed));
        assert_eq!(recv(&r, 99), Ok(99));
        // Not yet seen, inside.
        assert_eq!(r.check(98), Ok(98));
    }

    #[test]
    fn check_does_not_mutate_and_update_rechecks() {
        let r = win(64, false);
        // Two copies of packet 5 pass check before either is authenticated.
        assert_eq!(r.check(5), Ok(5));
        assert_eq!(r.check(5), Ok(5));
        assert_eq!(r.update(5), Ok(()));
        assert_eq!(r.update(5), Err(ReplayError::Replayed));
        // A packet that passed check but became too old while decrypting.
        assert_eq!(r.check(10), Ok(10));
        assert_eq!(recv(&r, 200), Ok(200));
        assert_eq!(r.update(10), Err(ReplayError::TooOld));
    }

    #[test]
    fn huge_jump_forgets_everything_old() {
        let r = win(1024, false);
        for s in 1..=2000 {
            assert_eq!(recv(&r, s), Ok(u64::from(s)));
        }
        // Jump by exactly the ring size in blocks so slots alias the old ones.
        let top = 2000 + 64 * 32;
        assert_eq!(recv(&r, top), Ok(u64::from(top)));
        for s in (top - 1023)..top {
            assert_eq!(r.check(s), Ok(u64::from(s)), "seq {s}");
        }
        assert_eq!(r.check(top - 1024), Err(ReplayError::TooOld));
    }

    #[test]
    fn non_esn_end_of_space() {
        let r = win(64, false);
        assert_eq!(recv(&r, u32::MAX), Ok(u64::from(u32::MAX)));
        assert_eq!(recv(&r, u32::MAX), Err(ReplayError::Replayed));
        assert_eq!(r.check(0), Err(ReplayError::SeqZero));
        assert_eq!(r.check(1), Err(ReplayError::TooOld));
        assert_eq!(r.update(1 << 32), Err(ReplayError::SeqOverflow));
    }

    #[test]
    fn esn_across_2_32() {
        let r = win(64, true);
        // Get there in steps (a fresh window treats 0xffff_fff0 as "before subspace 0").
        assert_eq!(recv(&r, 0x8000_0000), Ok(0x8000_0000));
        assert_eq!(recv(&r, 0xffff_fff0), Ok(0xffff_fff0));
        // Low bits wrapped: next subspace.
        assert_eq!(recv(&r, 3), Ok(0x1_0000_0003));
        // Late packets from the previous subspace are still recognised (case B).
        assert_eq!(recv(&r, 0xffff_fffe), Ok(0xffff_fffe));
        assert_eq!(recv(&r, 0xffff_fffe), Err(ReplayError::Replayed));
        assert_eq!(recv(&r, 0xffff_fff0), Err(ReplayError::Replayed));
        // Low 0 in subspace 1 is a legal number.
        assert_eq!(recv(&r, 0), Ok(0x1_0000_0000));
        // Below the bottom of the window: with ESN nothing is "too old", the number is
        // taken as far ahead in the current subspace (and would fail authentication).
        assert_eq!(r.check(0xffff_ffc0), Ok(0x1_ffff_ffc0));
        // Move well into subspace 1 (case A again).
        assert_eq!(recv(&r, 1000), Ok(0x1_0000_03e8));
        assert_eq!(r.check(999), Ok(0x1_0000_03e7));
        // Case A, seql below the bottom (1000 - 63): next subspace.
        assert_eq!(r.check(900), Ok(0x2_0000_0384));
        assert_eq!(r.check(10), Ok(0x2_0000_000a));
    }

    #[test]
    fn esn_start_and_end() {
        let r = win(64, true);
        assert_eq!(r.check(0), Err(ReplayError::SeqZero));
        // Case B with Th = 0: nothing precedes subspace 0.
        assert_eq!(r.check(0xffff_fff0), Err(ReplayError::TooOld));
        assert_eq!(r.check(5), Ok(5));
        let r = win(64, true);
        r.update(u64::MAX - 10).unwrap();
        assert_eq!(r.check(u32::MAX), Ok(u64::MAX));
        assert_eq!(r.check(1), Err(ReplayError::SeqOverflow));
    }

    #[test]
    fn disabled() {
        let r = ReplayWindow::new(&[][..] as &[AtomicU64], ReplayMode::Disabled, false).unwrap();
        for s in [5, 5, 0, 1, u32::MAX, 3] {
            let f = r.check(s).unwrap();
            assert_eq!(f, u64::from(s));
            r.update(f).unwrap();
        }
        let r = ReplayWindow::new(&[][..] as &[AtomicU64], ReplayMode::Disabled, true).unwrap();
        r.update(0xffff_fff0).unwrap();
        assert_eq!(r.check(2), Ok(0x1_0000_0002));
        r.update(0x1_0000_0002).unwrap();
        assert_eq!(r.check(0xffff_fff0), Ok(0xffff_fff0));
        assert_eq!(r.check(0xffff_fff0), Ok(0xffff_fff0));
    }

    #[test]
    fn infer_matches_rfc_examples() {
        // W = 64, T = 2^32 + 10: case B.
        let t = (1u64 << 32) + 10;
        assert_eq!(infer_esn(t, 64, 5), Ok((1 << 32) + 5));
        assert_eq!(infer_esn(t, 64, 20), Ok((1 << 32) + 20));
        assert_eq!(infer_esn(t, 64, u32::MAX), Ok(u64::from(u32::MAX)));
        // T = 100: case A.
        assert_eq!(infer_esn(100, 64, 37), Ok(37));
        assert_eq!(infer_esn(100, 64, 36), Ok((1 << 32) + 36));
    }

    /// `check` beside a writer (the kernel's lock-free check before decryption): in-order
    /// traffic through a window of two blocks, so that slots are reused every 128 numbers;
    /// readers check numbers the writer has already accepted (at or below a `top` they read
    /// first) and must never be told they are new.  Without the sequence count a reader
    /// pairing an old `top` with the new `top_slot` (just cleared) accepts them.
    #[test]
    fn check_beside_update_never_accepts_a_seen_number() {
        use std::sync::atomic::AtomicBool;
        let r = win(64, false);
        let done = AtomicBool::new(false);
        let wrong = std::thread::scope(|sc| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    sc.spawn(|| {
                        let (mut wrong, mut checks) = (0u64, 0u64);
                        while !done.load(Ordering::Relaxed) || checks < 10_000 {
                            let t = r.top();
                            if t == 0 {
                                continue;
                            }
                            for back in [0, 1, 63, 64] {
                                let s = t.saturating_sub(back).max(1);
                                checks += 1;
                                if r.check(s as u32).is_ok() {
                                    wrong += 1;
                                }
                            }
                        }
                        wrong
                    })
                })
                .collect();
            for s in 1..=2_000_000u64 {
                r.update(s).unwrap();
            }
            done.store(true, Ordering::Relaxed);
            readers.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(wrong, 0, "seen numbers reported new");
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Receive top + delta (delta may be negative), authenticate or not.
        Recv(i64, bool),
        /// Two copies race: both checked, then both updated.
        Race(i64),
        /// Arbitrary low bits.
        Raw(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (-300i64..300, proptest::bool::weighted(0.9)).prop_map(|(d, a)| Op::Recv(d, a)),
            2 => (-70_000i64..70_000, any::<bool>()).prop_map(|(d, a)| Op::Recv(d, a)),
            1 => (-(1i64 << 33)..(1i64 << 33), any::<bool>()).prop_map(|(d, a)| Op::Recv(d, a)),
            1 => (-2i64..64).prop_map(Op::Race),
            1 => any::<u32>().prop_map(Op::Raw),
        ]
    }

    fn run(w: u32, esn: bool, start: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let r = win(w, esn);
        let mut m = Model::new(w, esn);
        if start != 0 {
            prop_assert_eq!(r.update(start), m.update(start));
        }
        for o in ops {
            let target = |d: i64| (m.top as i64).wrapping_add(d) as u64;
            match o {
                Op::Recv(d, auth) => {
                    let lo = target(d) as u32;
                    let got = r.check(lo);
                    prop_assert_eq!(got, m.check(lo));
                    if let (Ok(s), true) = (got, auth) {
                        prop_assert_eq!(r.update(s), m.update(s));
                    }
                }
                Op::Race(d) => {
                    let lo = target(d) as u32;
                    let a = r.check(lo);
                    prop_assert_eq!(a, m.check(lo));
                    if let Ok(s) = a {
                        prop_assert_eq!(r.update(s), m.update(s));
                        prop_assert_eq!(r.update(s), Err(ReplayError::Replayed));
                        prop_assert_eq!(m.update(s), Err(ReplayError::Replayed));
                    }
                }
                Op::Raw(lo) => {
                    let got = r.check(lo);
                    prop_assert_eq!(got, m.check(lo));
                    if let Ok(s) = got {
                        prop_assert_eq!(r.update(s), m.update(s));
                    }
                }
            }
            prop_assert_eq!(r.top(), m.top);
        }
        // Final sweep: the whole window and a bit around it agree.
        let lo_end = m.top.saturating_sub(m.w + 70);
        for s in lo_end..=m.top.saturating_add(70) {
            prop_assert_eq!(r.check(s as u32), m.check(s as u32), "seq {}", s);
        }
        Ok(())
    }

    fn window_size() -> impl Strategy<Value = u32> {
        prop_oneof![
            Just(32u32),
            Just(33),
            Just(64),
            Just(65),
            Just(127),
            Just(128),
            Just(1000),
            Just(1024),
            Just(4096),
            Just(65536),
            32u32..5000,
        ]
    }

    fn start() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            1u64..1000,
            (0xffff_fe00u64..0x1_0000_0000),
            (0x5_ffff_fe00u64..0x6_0000_0100),
            any::<u32>().prop_map(u64::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn matches_model_non_esn(w in window_size(), s in start(), ops in proptest::collection::vec(op(), 1..300)) {
            run(w, false, s & 0xffff_ffff, ops)?;
        }

        #[test]
        fn matches_model_esn(w in window_size(), s in start(), ops in proptest::collection::vec(op(), 1..300)) {
            run(w, true, s, ops)?;
        }

        #[test]
        fn infer_matches_model(top in any::<u64>(), w in window_size(), lo in any::<u32>()) {
            let m = Model { top, ..Model::new(w, true) };
            prop_assert_eq!(infer_esn(top, w, lo), m.infer(lo));
        }
    }
}
