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
//! which key (`SaTable::last_hit`): while the table's generation (bumped by every
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
        rcu::{Generation, RcuArc, RcuHashList, RcuLink, RcuLinked, ReadSide, LAST_KEY_WORDS},
        xfrm::{Mode, StateGuard, StateRef},
    },
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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
    /// The entry's link in the table's list.
    link: RcuLink<SaCtx>,
}

// SAFETY: `link` returns the same field every time.
unsafe impl RcuLinked for SaCtx {
    fn link(&self) -> &RcuLink<SaCtx> {
        &self.link
    }
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
    next_id: u32,
    /// Flushed (receive path off, namespace or module going): no new entries.
    closed: bool,
}

/// The SAs of one namespace: an RCU hash list of entries keyed by the
/// SA's address, with each CPU's memory of the packet path's last hit.
///
/// Why a remembered hit holds while the generations do, for an SA whose
/// mark mask is 0 (others are not remembered): `xfrm_state_lookup`
/// returns the first SA in its hash chain with that SPI, destination,
/// protocol and family whose mark matches the packet's. An SA with mark
/// mask 0 matches every mark, so while it is valid (hashed) no other SA
/// with the same key can be added (`xfrm_state_add` finds it and refuses,
/// `-EEXIST`), and one added before it sits behind it until XFRM moves its
/// hash tables, which changes XFRM's hash generation (part of the key
/// remembered); deleted or expired, it is no longer valid, which the hit
/// checks. The entry itself stays allocated while the list's generation is
/// the one read before it was found (`RcuHashList`). XFRM's own migration
/// (`xfrm_state_migrate`) inserts the moved SA before deleting the old
/// one: packets of that instant may still meet the old one, as XFRM's own
/// do.
#[pin_data]
pub(crate) struct SaTable {
    #[pin]
    entries: RcuHashList<SaCtx, Writer>,
}

/// The key of a packet path lookup, as the per-CPU memory of the last hit
/// keeps it (with XFRM's hash generation): SPI, mark and family,
/// destination.
pub(crate) struct LastKey {
    spi: u32,
    mark_family: u64,
    daddr: (u64, u64),
}

impl LastKey {
    pub(crate) fn new(spi: u32, mark: u32, family: u16, daddr: &[u8; 16]) -> Self {
        let (mut lo, mut hi) = ([0u8; 8], [0u8; 8]);
        lo.copy_from_slice(&daddr[..8]);
        hi.copy_from_slice(&daddr[8..]);
        LastKey {
            spi,
            mark_family: u64::from(mark) | (u64::from(family) << 32),
            daddr: (u64::from_ne_bytes(lo), u64::from_ne_bytes(hi)),
        }
    }

    fn words(&self, xfrm_hash_gen: u32) -> [u64; LAST_KEY_WORDS] {
        [
            u64::from(self.spi) | (u64::from(xfrm_hash_gen) << 32),
            self.mark_family,
            self.daddr.0,
            self.daddr.1,
        ]
    }
}

/// The generations read before a lookup, for `SaTable::remember`.
pub(crate) struct Gens {
    table: Generation,
    /// XFRM's SA hash generation; `None` while XFRM is moving its tables.
    hash: Option<u32>,
}

/// The bucket of an SA's entry: its address, mixed.
fn hash_of(x: &StateRef) -> usize {
    // xfrm_state objects come from a slab: drop the low bits, mix the rest.
    (x.addr() >> 6).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> 20
}

impl SaTable {
    /// An empty table (process context).
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(SaTable {
            entries <- RcuHashList::new(
                BUCKETS,
                Writer { next_id: 1, closed: false },
                kernel::c_str!("ipsec_rs_sa_table"),
                kernel::static_lock_class!(),
            ),
        }? Error)
    }

    /// The entry of SA `x`, if any, with a reference of its own. Any
    /// context; no lock: the packet path.
    pub(crate) fn find(&self, x: &StateRef) -> Option<RcuArc<SaCtx>> {
        self.entries.get(hash_of(x), |c| c.x.addr() == x.addr())
    }

    /// The generations a lookup that may be remembered reads first:
    /// the table's, and XFRM's SA hash generation of `net` (odd while XFRM
    /// is moving its tables: then the answer is not remembered).
    pub(crate) fn gens(&self, net: &Net) -> Gens {
        let hash = net.xfrm_state_hash_gen();
        Gens {
            table: self.entries.generation(),
            hash: (hash & 1 == 0).then_some(hash),
        }
    }

    /// This CPU's last answer for `k`, if it still holds, with a reference
    /// of its own. Softirq (or bottom halves disabled), inside the RCU
    /// read-side section `rs` proves.
    pub(crate) fn last_hit(
        &self,
        rs: ReadSide<'_>,
        net: &Net,
        k: &LastKey,
    ) -> Option<RcuArc<SaCtx>> {
        let c = self
            .entries
            .recall(rs, &k.words(net.xfrm_state_hash_gen()))?;
        c.x.is_valid().then_some(c)
    }

    /// Remembers on this CPU that `k` found `c`, with the generations `g`
    /// read before the lookup (`gens`), if `c`'s SA may be remembered
    /// (mark mask 0, see `SaTable`). Softirq (or bottom halves disabled).
    pub(crate) fn remember(&self, c: &SaCtx, k: &LastKey, g: &Gens) {
        let Some(hash) = g.hash else {
            return;
        };
        if c.x.mark_mask() != 0 {
            return;
        }
        self.entries
            .remember(g.table, hash_of(&c.x), &k.words(hash), c);
    }

    /// Accepts new entries again (receive path switched back on).
    pub(crate) fn reopen(&self) {
        self.entries.lock().closed = false;
    }

    /// Hands every SA back to XFRM (windows written back, entries retired
    /// and unlinked) and accepts no new entry until `reopen`. Process
    /// context.
    pub(crate) fn flush(&self) {
        let mut w = self.entries.lock();
        w.closed = true;
        w.unlink_if(|c| {
            if !c.x.is_dead() {
                c.write_back();
            }
            true
        });
    }
}

/// Why no entry could be made.
pub(crate) enum NoEntry {
    /// Out of memory (GFP_ATOMIC) or table full.
    Resources,
    /// The table is closed (being handed back to XFRM).
    Closed,
}

/// The entry of SA `x`, created if needed with `facts` and the window
/// `mode()` gives, taking over XFRM's replay state (`seed_from_xfrm`).
/// Softirq.
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
    if table.entries.lock().closed {
        return Err(NoEntry::Closed);
    }
    // A new SA: decide its window, allocate outside the lock.
    let ctx = alloc_entry(x, facts, mode(), esn).ok_or(NoEntry::Resources)?;
    let hash = hash_of(x);
    let mut w = table.entries.lock();
    if let Some(c) = w.get(hash, |c| c.x.addr() == x.addr()) {
        // Another CPU won the race; ours is dropped.
        return Ok(c);
    }
    if w.closed {
        return Err(NoEntry::Closed);
    }
    // Dead SAs are collected whenever a new SA appears (rekeying makes
    // both happen together): O(entries), once per SA.
    w.unlink_if(|c| c.x.is_dead());
    if w.len() >= MAX_ENTRIES {
        return Err(NoEntry::Resources);
    }
    seed_from_xfrm(&ctx, x);
    ctx.conn_id.store(w.next_id, Ordering::Relaxed);
    w.next_id = w.next_id.wrapping_add(1).max(1);
    if !w.push(hash, ctx.clone()) {
        return Err(NoEntry::Resources);
    }
    Ok(ctx)
}

/// Seeds a new entry's window from XFRM's replay state, under the SA's
/// lock, inside the table's: no packet of the SA can be decapsulated by
/// us before the entry is complete. The window starts at XFRM's highest
/// sequence number, with everything XFRM's window covered marked seen.
fn seed_from_xfrm(ctx: &SaCtx, x: &StateRef) {
    let mut g = x.lock();
    let xr = g.xfrm_replay();
    if xr.top != 0 {
        let covered = u64::from(xr.window.max(1)).min(xr.top);
        for s in xr.top + 1 - covered..=xr.top {
            let _: core::result::Result<(), ReplayError> = ctx.replay_update(&mut g, s);
        }
    }
}

/// A new entry for SA `x`, its window of `mode` allocated (GFP_ATOMIC);
/// `None` if memory is short.
fn alloc_entry(x: &StateRef, facts: Facts, mode: ReplayMode, esn: bool) -> Option<RcuArc<SaCtx>> {
    let words = match mode {
        ReplayMode::Window(w) => blocks_for(w),
        ReplayMode::Disabled => 0,
    };
    let mut storage = KVec::with_capacity(words, GFP_ATOMIC).ok()?;
    for _ in 0..words {
        // Within the capacity just reserved: no allocation.
        storage.push(AtomicU64::new(0), GFP_ATOMIC).ok()?;
    }
    let window = ReplayWindow::new(storage, mode, esn).ok()?;
    RcuArc::new(
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
            link: RcuLink::new(),
        },
        GFP_ATOMIC,
    )
    .ok()
}
