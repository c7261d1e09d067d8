// SPDX-License-Identifier: GPL-2.0

//! What the module keeps per XFRM SA it decapsulates: the anti-replay
//! window (the core crate's O(1) ring) and per-SA counters.
//!
//! Owner: a per-namespace table (`SaTable`), keyed by the SA itself: a
//! hash of RCU lists, which the packet path reads without a lock and
//! writers (entry creation in softirq, sweeps, flushes) change under the
//! table's BH spinlock. Each linked entry holds a reference on its
//! `xfrm_state`, so the key (the state's address) cannot be reused while
//! the entry exists, and the table holds one reference on each entry,
//! released a grace period after the entry is unlinked (RCU readers may
//! still be looking at it). Entries are created by the first packet of an
//! SA (softirq, GFP_ATOMIC), unlinked by a sweep when their SA is no longer
//! valid (deleted, expired, replaced), and all unlinked when the namespace
//! or the module goes away; at that point each window writes its highest
//! sequence number back into XFRM's own replay state, so that XFRM, taking
//! over, does not accept what we already accepted (and we, loading again,
//! start from there). Packets that found an entry before it was unlinked
//! hold their own reference and see it retired.
//!
//! Each CPU also remembers the last entry the packet path found, and for
//! which key (`Last`): while the table's generation (bumped by every
//! unlink) and XFRM's hash generation hold and the SA is valid, the next
//! packet with that key skips XFRM's lookup and the table's.
//!
//! The window is checked before decryption without a lock (the core's
//! window is atomics under a sequence count), and updated after it under
//! the SA's own lock (`x->lock`), in the one critical section a packet
//! takes, with the SA's validity and lifetime (`esp_input.rs`).

use crate::{
    replay::{blocks_for, ReplayError, ReplayMode, ReplayWindow, MAX_WINDOW, MIN_WINDOW},
    rust::{
        aead::AeadInfo,
        net::Net,
        percpu::PerCpuWords,
        rcu::{RcuArc, RcuGuard, ReadSide},
        sync::BhSpinLock,
        xfrm::{Mode, StateGuard, StateRef},
    },
};
use core::{
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering},
};
use kernel::prelude::*;

/// Buckets of the table (a power of two).
const BUCKETS: usize = 1024;
/// Most SAs tracked per namespace; beyond, new SAs are left to XFRM.
pub(crate) const MAX_ENTRIES: usize = 65_536;
/// Minimum interval between two replay log lines of one SA.
const LOG_INTERVAL_NS: u64 = 1_000_000_000;

/// What the receive path needs to know of an SA for every packet, read
/// once when its entry is made: all of it is fixed for the SA's life (XFRM
/// replaces an SA rather than change these).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts {
    pub(crate) mode: Mode,
    /// Outer address family.
    pub(crate) family: u16,
    /// `UDP_ENCAP_ESPINUDP` or 0.
    pub(crate) encap_type: u16,
    /// `XFRM_STATE_*` flags.
    pub(crate) flags: u8,
    /// The SA's source address as installed (NAT mapping changes).
    pub(crate) saddr: [u8; 16],
    /// The transform's sizes.
    pub(crate) aead: AeadInfo,
    /// The XFRM interface ID (`if_id`) the SA belongs to, 0 for none: its
    /// packets arrive on that interface (`tunnels.rs`).
    pub(crate) if_id: u32,
}

/// The module's state for one SA.
pub(crate) struct SaCtx {
    x: StateRef,
    /// Read once, immutable.
    pub(crate) facts: Facts,
    /// Checked and read lock-free; updated only under the SA's lock
    /// (`x->lock`), which serialises updates as the window requires: see
    /// `replay_update()`. A check spins while an update is half done;
    /// `x->lock` is only ever held with bottom halves off (softirq, or
    /// `lock_bh`), so no check (softirq) can interrupt an update on its
    /// own CPU, and one on another CPU waits a few instructions.
    window: ReplayWindow<KVec<AtomicU64>>,
    /// Connection id in log lines (per namespace, from 1; set before the
    /// entry is published).
    pub(crate) conn_id: AtomicU32,
    /// Packets decapsulated.
    pub(crate) decap_ok: AtomicU64,
    /// Replays dropped (in window, already seen).
    pub(crate) replayed: AtomicU64,
    /// Too-old packets dropped (left of the window).
    pub(crate) too_old: AtomicU64,
    /// ICV failures.
    pub(crate) auth_failed: AtomicU64,
    /// Dropped for bad padding.
    pub(crate) bad_padding: AtomicU64,
    /// Malformed, dropped (too short, bad trailer, not IP inside).
    pub(crate) malformed: AtomicU64,
    /// `jiffies` when the last packet was decapsulated (meaningful once
    /// `decap_ok` is not 0): one plain store per packet, on the cache line
    /// `decap_ok` already dirties.
    pub(crate) last_jiffies: AtomicU64,
    /// Last replay log line (monotonic ns), and replay drops not logged since.
    last_log_ns: AtomicU64,
    unlogged: AtomicU64,
    /// Handed back to XFRM (its replay state raised to ours): packets not
    /// yet checked go to XFRM; packets already past the check raise XFRM's
    /// state again when they advance. Written and read under `x->lock`.
    retired: AtomicBool,
    /// The next entry of the bucket (RCU list; written under the table's
    /// lock, and never again once this entry is unlinked).
    next: AtomicPtr<SaCtx>,
}

// SAFETY: `window` is atomics (its updates, which must not run
// concurrently, are made only through `replay_update()`, which requires the
// SA's lock); everything else is atomic or immutable.
unsafe impl Sync for SaCtx {}
// SAFETY: as above; the state reference may be dropped on any CPU.
unsafe impl Send for SaCtx {}

impl SaCtx {
    /// The window, for its lock-free check and reads.
    pub(crate) fn window(&self) -> &ReplayWindow<KVec<AtomicU64>> {
        &self.window
    }

    /// Marks `seq` seen and advances the window (re-checking it), with the
    /// SA's lock held (`guard` must be this SA's): the lock serialises the
    /// window's updates.
    pub(crate) fn replay_update(
        &self,
        guard: &mut StateGuard<'_>,
        seq: u64,
    ) -> Result<(), ReplayError> {
        if guard.state_addr() != self.x.addr() {
            return Err(ReplayError::Replayed);
        }
        self.window.update(seq)
    }

    /// Whether a replay log line may be printed now; returns the number of
    /// replay drops not logged before this one.
    pub(crate) fn log_allowed(&self, now_ns: u64) -> Option<u64> {
        let last = self.last_log_ns.load(Ordering::Relaxed);
        if last != 0 && now_ns.wrapping_sub(last) < LOG_INTERVAL_NS {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if self
            .last_log_ns
            .compare_exchange(last, now_ns.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.unlogged.swap(0, Ordering::Relaxed))
    }

    /// What the module keeps for the SA, for the per-SA view (`SA_STATE_GET`):
    /// window, highest sequence number and counters, read without a lock.
    /// Process context.
    pub(crate) fn state(&self) -> crate::nl::SaModuleState {
        let w = &self.window;
        let replay_window = match w.mode() {
            ReplayMode::Window(n) => n,
            ReplayMode::Disabled => 0,
        };
        let top_seq = w.top();
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let decap_ok = r(&self.decap_ok);
        let idle_ms = (decap_ok != 0).then(|| {
            let since = crate::rust::jiffies().wrapping_sub(r(&self.last_jiffies));
            crate::rust::jiffies_to_msecs(since)
        });
        crate::nl::SaModuleState {
            replay_window,
            top_seq,
            idle_ms,
            conn_id: self.conn_id.load(Ordering::Relaxed),
            counters: crate::nl::SaCounters {
                decap_ok,
                auth_failed: r(&self.auth_failed),
                replayed: r(&self.replayed),
                too_old: r(&self.too_old),
                bad_padding: r(&self.bad_padding),
                malformed: r(&self.malformed),
            },
        }
    }

    /// The SA.
    pub(crate) fn xfrm_state(&self) -> &StateRef {
        &self.x
    }

    /// Whether the SA was handed back to XFRM, without the lock: a hint
    /// (a packet that misses a hand-over meanwhile is caught by `retired`
    /// under the lock, after decryption).
    pub(crate) fn handed_back(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    /// Whether the SA was handed back to XFRM (call with `x->lock` held).
    pub(crate) fn retired(&self, _g: &StateGuard<'_>) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    /// Hands the SA back to XFRM: writes our highest sequence number into
    /// XFRM's replay state and retires the entry. Process context (takes
    /// the SA lock with bottom halves disabled).
    fn write_back(&self) {
        let mut g = self.x.lock_bh();
        // Under the lock: no update moves the window meanwhile.
        g.xfrm_replay_raise(self.window.top());
        self.retired.store(true, Ordering::Relaxed);
    }
}

/// Which window an SA gets.
pub(crate) fn mode_for(global_window: u32, global_disabled: bool, xfrm_window: u32) -> ReplayMode {
    if global_disabled {
        return ReplayMode::Disabled;
    }
    // The larger of our default and the window the SA was installed with
    // (`replay-window`): never narrower than what XFRM would have accepted.
    let w = global_window.max(xfrm_window).clamp(MIN_WINDOW, MAX_WINDOW);
    ReplayMode::Window(w)
}

/// The table's bookkeeping, under its lock.
struct Writer {
    count: usize,
    next_id: u32,
    /// Flushed (receive path off, namespace or module going): no new entries.
    closed: bool,
}

/// The SAs of one namespace.
#[pin_data(PinnedDrop)]
pub(crate) struct SaTable {
    /// Bucket heads of RCU lists of entries, each linked entry standing for
    /// one reference (`RcuArc::into_raw`) the table holds.
    heads: KVec<AtomicPtr<SaCtx>>,
    /// Serialises every change of the lists and of the bookkeeping.
    #[pin]
    writer: BhSpinLock<Writer>,
    /// Bumped under the lock whenever an entry is unlinked, before its
    /// release is queued: an entry that was linked when the generation was
    /// g is still linked while it is g (see `last`).
    gen: AtomicU64,
    /// Per CPU, the packet path's last answer (`Last`).
    last: PerCpuWords<LAST_WORDS>,
}

/// The packet path's per-CPU memory of the last SA it found: the entry,
/// the key it was found for (SPI, destination, family, the packet's mark)
/// and the generations that keep the answer true. Words of `SaTable::last`:
/// the entry's address (0: none), the table's generation, the SPI with
/// XFRM's SA hash generation, the mark with the family, the destination.
///
/// Why the answer holds while the generations do, for an SA whose mark
/// mask is 0 (others are not remembered): `xfrm_state_lookup` returns the
/// first SA in its hash chain with that SPI, destination, protocol and
/// family whose mark matches the packet's. An SA with mark mask 0 matches
/// every mark, so while it is valid (hashed) no other SA with the same key
/// can be added (`xfrm_state_add` finds it and refuses, `-EEXIST`), and
/// one added before it sits behind it until XFRM moves its hash tables,
/// which changes the hash generation; deleted or expired, it is no longer
/// valid, which the hit checks. The entry is still linked (and so alive
/// for the RCU read-side section) while the table's generation is the one
/// read before it was found. XFRM's own migration (`xfrm_state_migrate`)
/// inserts the moved SA before deleting the old one: packets of that
/// instant may still meet the old one, as XFRM's own do.
///
/// Each CPU's words are read and written only by the packet path on that
/// CPU, in softirq (or with bottom halves disabled), never from hard
/// interrupts: `PerCpuWords`' contract.
const LAST_WORDS: usize = 6;

/// The key of a lookup, as `Last` keeps it.
pub(crate) struct LastKey {
    spi_mark_family: (u64, u64),
    daddr: (u64, u64),
}

impl LastKey {
    pub(crate) fn new(spi: u32, mark: u32, family: u16, daddr: &[u8; 16]) -> Self {
        let (mut lo, mut hi) = ([0u8; 8], [0u8; 8]);
        lo.copy_from_slice(&daddr[..8]);
        hi.copy_from_slice(&daddr[8..]);
        LastKey {
            spi_mark_family: (u64::from(spi), u64::from(mark) | (u64::from(family) << 32)),
            daddr: (u64::from_ne_bytes(lo), u64::from_ne_bytes(hi)),
        }
    }
}

/// The generations read before a lookup, for `SaTable::remember`.
pub(crate) struct Gens {
    table: u64,
    hash: u32,
}

fn bucket_of(addr: usize) -> usize {
    // xfrm_state objects come from a slab: drop the low bits, mix the rest.
    let h = (addr >> 6).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
    (h >> 20) & (BUCKETS - 1)
}

impl SaTable {
    /// An empty table (process context).
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(SaTable {
            heads: {
                let mut v = KVec::with_capacity(BUCKETS, GFP_KERNEL)?;
                for _ in 0..BUCKETS {
                    v.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
                }
                v
            },
            writer <- BhSpinLock::new(Writer { count: 0, next_id: 1, closed: false }, kernel::c_str!("ipsec_rs_sa_table"), kernel::static_lock_class!()),
            gen: AtomicU64::new(0),
            last: PerCpuWords::new()?,
        }? Error)
    }

    /// The linked entry of SA `x`, or null. Inside an RCU read-side section
    /// (then the entry stays valid for the section), or with the lock held
    /// (then it stays linked while the lock is).
    fn lookup(&self, x: &StateRef) -> *const SaCtx {
        let Some(head) = self.heads.get(bucket_of(x.addr())) else {
            return ptr::null();
        };
        let mut p = head.load(Ordering::Acquire).cast_const();
        loop {
            // SAFETY: an entry reached from a head was linked when it was
            // reached; once unlinked it is released only after a grace
            // period (`RcuArc::release_after_grace_period`), which cannot end
            // before the caller's read-side section does, and its `next` is
            // left as it was, so the walk can go on.
            let Some(c) = (unsafe { p.as_ref() }) else {
                return ptr::null();
            };
            if c.x.addr() == x.addr() {
                return p;
            }
            p = c.next.load(Ordering::Acquire).cast_const();
        }
    }

    /// The entry of SA `x`, if any, with a reference of its own. Any
    /// context; no lock: the packet path.
    pub(crate) fn find(&self, x: &StateRef) -> Option<RcuArc<SaCtx>> {
        let _rcu = RcuGuard::new();
        let p = self.lookup(x);
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` came from `RcuArc::into_raw` (linked entries do) and
        // is valid for the read-side section (`lookup`); the table's
        // reference on it is released only after a grace period, so its
        // count is at least one while we take ours.
        Some(unsafe { RcuArc::clone_from_raw(p) })
    }

    /// The generations a lookup that may be remembered reads first:
    /// the table's, and XFRM's SA hash generation of `net` (`u32::MAX`,
    /// never a generation at rest, while XFRM is moving its tables: then
    /// the answer is not remembered).
    pub(crate) fn gens(&self, net: &Net) -> Gens {
        let hash = net.xfrm_state_hash_gen();
        let table = self.gen.load(Ordering::Acquire);
        // The lookups that follow read after the generations.
        core::sync::atomic::fence(Ordering::Acquire);
        Gens {
            table,
            hash: if hash & 1 == 0 { hash } else { u32::MAX },
        }
    }

    /// This CPU's last answer for `k`, if it still holds (`Last`), with a
    /// reference of its own. Softirq (or bottom halves disabled), inside the
    /// RCU read-side section `_rs` proves.
    pub(crate) fn last_hit(
        &self,
        _rs: ReadSide<'_>,
        net: &Net,
        k: &LastKey,
    ) -> Option<RcuArc<SaCtx>> {
        let l = &self.last;
        let p = l.get(0) as usize as *const SaCtx;
        if p.is_null()
            || l.get(3) != k.spi_mark_family.1
            || l.get(4) != k.daddr.0
            || l.get(5) != k.daddr.1
            || l.get(2) != (k.spi_mark_family.0 | (u64::from(net.xfrm_state_hash_gen()) << 32))
        {
            return None;
        }
        if self.gen.load(Ordering::Acquire) != l.get(1) {
            return None;
        }
        // SAFETY: `p` was a linked entry when the table's generation was
        // the one remembered with it (`remember`'s caller read it before
        // the lookup that found it), and it still is: unlinking bumps the
        // generation before the entry's release is queued, and the
        // release waits for the caller's read-side section (`_rs`).
        let c = unsafe { &*p };
        if !c.x.is_valid() {
            return None;
        }
        // SAFETY: a linked entry (above), from `RcuArc::into_raw`; the
        // table's reference keeps its count above zero while we take ours.
        Some(unsafe { RcuArc::clone_from_raw(p) })
    }

    /// Remembers on this CPU that `k` found `c`, with the generations `g`
    /// read before the lookup (`gens`), if `c`'s SA may be remembered
    /// (mark mask 0, see `Last`). Softirq (or bottom halves disabled).
    pub(crate) fn remember(&self, c: &SaCtx, k: &LastKey, g: &Gens) {
        if g.hash == u32::MAX || c.x.mark_mask() != 0 {
            return;
        }
        let l = &self.last;
        l.set(0, 0);
        l.set(1, g.table);
        l.set(2, k.spi_mark_family.0 | (u64::from(g.hash) << 32));
        l.set(3, k.spi_mark_family.1);
        l.set(4, k.daddr.0);
        l.set(5, k.daddr.1);
        l.set(0, c as *const SaCtx as usize as u64);
    }

    /// Unlinks every entry `drop_it` selects, calling `before` on each
    /// first; their references go after a grace period. Lock held.
    fn unlink(
        &self,
        w: &mut Writer,
        mut drop_it: impl FnMut(&SaCtx) -> bool,
        mut before: impl FnMut(&SaCtx),
    ) {
        for head in self.heads.iter() {
            let mut prev = head;
            loop {
                let p = prev.load(Ordering::Relaxed);
                // SAFETY: a linked entry; the lock keeps it linked.
                let Some(c) = (unsafe { p.as_ref() }) else {
                    break;
                };
                if !drop_it(c) {
                    prev = &c.next;
                    continue;
                }
                before(c);
                prev.store(c.next.load(Ordering::Relaxed), Ordering::Release);
                w.count -= 1;
                // Before the release is queued: a per-CPU answer naming this
                // entry is void from here (`Last`).
                self.gen.fetch_add(1, Ordering::Release);
                // SAFETY: `p` stood for the table's reference (linked
                // entries come from `RcuArc::into_raw`), given up here once:
                // the entry is no longer linked and never linked again.
                unsafe { RcuArc::release_after_grace_period(p.cast_const()) };
            }
        }
    }

    /// Accepts new entries again (receive path switched back on).
    pub(crate) fn reopen(&self) {
        self.writer.lock().closed = false;
    }

    /// Hands every SA back to XFRM (windows written back, entries retired
    /// and unlinked) and accepts no new entry until `reopen`. Process
    /// context.
    pub(crate) fn flush(&self) {
        let mut w = self.writer.lock();
        w.closed = true;
        self.unlink(
            &mut w,
            |_| true,
            |c| {
                if !c.x.is_dead() {
                    c.write_back();
                }
            },
        );
    }
}

#[pinned_drop]
impl PinnedDrop for SaTable {
    fn drop(self: Pin<&mut Self>) {
        // Its namespace is going: normally flushed already. The releases
        // run after a grace period; the module waits for them at exit.
        let this = self.into_ref().get_ref();
        let mut w = this.writer.lock();
        this.unlink(&mut w, |_| true, |_| {});
    }
}

/// Why no entry could be made.
pub(crate) enum NoEntry {
    /// Out of memory (GFP_ATOMIC) or table full.
    Resources,
    /// The table is closed (being handed back to XFRM).
    Closed,
}

/// The entry of SA `x`, created if needed with `facts` and the window `mode()` gives, taking over XFRM's
/// replay state: the window starts at XFRM's highest sequence number, with
/// everything XFRM's window covered marked seen. Softirq.
pub(crate) fn get_or_insert(
    table: &SaTable,
    x: &StateRef,
    facts: Facts,
    mode: impl FnOnce() -> ReplayMode,
    esn: bool,
) -> core::result::Result<RcuArc<SaCtx>, NoEntry> {
    if let Some(c) = table.find(x) {
        return Ok(c);
    }
    if table.writer.lock().closed {
        return Err(NoEntry::Closed);
    }
    // A new SA: decide its window, allocate outside the lock.
    let mode = mode();
    let words = match mode {
        ReplayMode::Window(w) => blocks_for(w),
        ReplayMode::Disabled => 0,
    };
    let mut storage = KVec::with_capacity(words, GFP_ATOMIC).map_err(|_| NoEntry::Resources)?;
    for _ in 0..words {
        // Within the capacity just reserved: no allocation.
        storage
            .push(AtomicU64::new(0), GFP_ATOMIC)
            .map_err(|_| NoEntry::Resources)?;
    }
    let window = ReplayWindow::new(storage, mode, esn).map_err(|_| NoEntry::Resources)?;
    let ctx = RcuArc::new(
        SaCtx {
            x: x.clone(),
            facts,
            window,
            conn_id: AtomicU32::new(0),
            decap_ok: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            too_old: AtomicU64::new(0),
            auth_failed: AtomicU64::new(0),
            bad_padding: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            last_jiffies: AtomicU64::new(0),
            last_log_ns: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            next: AtomicPtr::new(ptr::null_mut()),
        },
        GFP_ATOMIC,
    )
    .map_err(|_| NoEntry::Resources)?;

    let mut w = table.writer.lock();
    let found = table.lookup(x);
    if !found.is_null() {
        // Another CPU won the race; ours is dropped.
        // SAFETY: a linked entry (from `RcuArc::into_raw`), kept linked by
        // the lock, so its count is at least one while we take a reference.
        return Ok(unsafe { RcuArc::clone_from_raw(found) });
    }
    if w.closed {
        return Err(NoEntry::Closed);
    }
    // Dead SAs are collected whenever a new SA appears (rekeying makes
    // both happen together): O(entries), once per SA.
    table.unlink(&mut w, |c| c.x.is_dead(), |_| {});
    if w.count >= MAX_ENTRIES {
        return Err(NoEntry::Resources);
    }
    // Seed from XFRM under the SA's lock, inside the table lock: no packet
    // of this SA can be decapsulated by us before the entry is complete.
    {
        let mut g = x.lock();
        let xr = g.xfrm_replay();
        if xr.top != 0 {
            let covered = u64::from(xr.window.max(1)).min(xr.top);
            let mut s = xr.top + 1 - covered;
            while s <= xr.top {
                let _: core::result::Result<(), ReplayError> = ctx.replay_update(&mut g, s);
                s += 1;
            }
        }
    }
    ctx.conn_id.store(w.next_id, Ordering::Relaxed);
    w.next_id = w.next_id.wrapping_add(1).max(1);
    let Some(head) = table.heads.get(bucket_of(x.addr())) else {
        return Err(NoEntry::Resources);
    };
    let raw = RcuArc::into_raw(ctx.clone());
    // SAFETY: `raw` is our new entry, not yet visible to anyone else.
    unsafe { &*raw }
        .next
        .store(head.load(Ordering::Relaxed), Ordering::Relaxed);
    // Publishes the complete entry (its fields before the pointer).
    head.store(raw.cast_mut(), Ordering::Release);
    w.count += 1;
    Ok(ctx)
}
