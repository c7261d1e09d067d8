// SPDX-License-Identifier: GPL-2.0

//! Read-copy-update: readers (packet paths in softirq, or process context
//! under an [`RcuGuard`]) take no lock. [`RcuBox`]: one heap value that a
//! writer replaces whole, freeing the old one after a grace period
//! (process context). [`RcuArc`]: entries of RCU lists written in softirq,
//! reference-counted, the list's reference on an entry it no longer links
//! released after a grace period from any context. [`RcuSlots`]: a small
//! set of values added and removed in process context, removal never
//! allocating. [`RcuHashList`]: a hash table of RCU lists of [`RcuArc`]
//! entries, with a per-CPU memory of the last hit.

use super::{
    bindings as b,
    compat::LockClass,
    percpu::PerCpuWords,
    sync::{BhGuard, BhSpinLock},
};
use core::{
    marker::PhantomData,
    ops::{Deref, DerefMut},
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering},
};
use kernel::{alloc::AllocError, prelude::*, str::CStr, types::Opaque};

/// Proof that the holder runs inside an RCU read-side critical section for
/// `'a`: values read through it stay valid (are not freed) for `'a`.
#[derive(Clone, Copy)]
pub struct ReadSide<'a> {
    _p: PhantomData<&'a ()>,
}

impl ReadSide<'_> {
    /// Asserts that the caller is inside an RCU read-side critical section.
    ///
    /// # Safety
    ///
    /// The caller must be inside `rcu_read_lock()` (or a section RCU treats
    /// as one: softirq, disabled preemption) for the whole lifetime chosen.
    pub unsafe fn assume() -> Self {
        ReadSide { _p: PhantomData }
    }
}

/// `rcu_read_lock()` until dropped (any context; must not sleep meanwhile).
pub struct RcuGuard {
    // Not Send: the section must end on the CPU/task that began it.
    _p: PhantomData<*mut ()>,
}

impl RcuGuard {
    /// Enters a read-side critical section.
    pub fn new() -> Self {
        // SAFETY: no precondition; balanced by `drop()`.
        unsafe { b::ipsec_rs_rcu_read_lock() };
        RcuGuard { _p: PhantomData }
    }

    /// The proof of being in the section, for as long as the guard lives.
    pub fn side(&self) -> ReadSide<'_> {
        ReadSide { _p: PhantomData }
    }
}

impl Drop for RcuGuard {
    fn drop(&mut self) {
        // SAFETY: `new()` entered the section this ends.
        unsafe { b::ipsec_rs_rcu_read_unlock() };
    }
}

/// A heap value replaced as a whole under RCU.
///
/// # Invariants
///
/// `ptr` is never null and comes from `KBox::into_raw`; the value it points
/// to is owned by `self` (freed by `replace()` after a grace period, or by
/// `drop()`).
pub struct RcuBox<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: readers on any CPU get `&T` (so `T: Sync`); the value is freed on
// whichever CPU replaces or drops it (so `T: Send`).
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T> RcuBox<T> {
    /// Takes ownership of `value`.
    pub fn new(value: KBox<T>) -> Self {
        RcuBox {
            ptr: AtomicPtr::new(KBox::into_raw(value)),
        }
    }

    /// The current value, valid for the read-side section `rs` proves.
    pub fn get<'a>(&'a self, _rs: ReadSide<'a>) -> &'a T {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: non-null by the invariant; a replaced value is freed only
        // after a grace period, which cannot end while `_rs`'s section lasts.
        unsafe { &*p }
    }

    /// Publishes `value` and frees the previous one once no reader can still
    /// see it. Process context only: waits for a grace period (sleeps).
    /// Concurrent writers are memory-safe but race (last one wins): owners
    /// serialise their read-modify-write cycles with their own mutex.
    pub fn replace(&self, value: KBox<T>) {
        let old = self.ptr.swap(KBox::into_raw(value), Ordering::AcqRel);
        super::synchronize_net();
        // SAFETY: `old` came from `KBox::into_raw` (invariant) and is no longer
        // reachable: it was unpublished above and every reader that could have
        // loaded it has left its read-side section (grace period).
        drop(unsafe { KBox::from_raw(old) });
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader can exist (owners drop it only after
        // unregistering every reader, e.g. netfilter hooks). Invariant: from
        // `KBox::into_raw`.
        drop(unsafe { KBox::from_raw(*self.ptr.get_mut()) });
    }
}

/// A small set of heap values read under RCU, newest first, written in
/// process context: adding may allocate (to grow), removing never does, so
/// a value can always be let go of (a device reference that an unregistering
/// device waits for, say).
///
/// Writers are serialised by the owner (its own lock, or RTNL); readers take
/// no lock.
///
/// # Invariants
///
/// Every non-null slot holds a pointer from `KBox::into_raw`, owned by the
/// set; `len` counts the non-null slots.
pub struct RcuSlots<T> {
    slots: RcuBox<KVec<AtomicPtr<T>>>,
    len: AtomicUsize,
}

impl<T: Send + Sync> RcuSlots<T> {
    /// An empty set (process context: allocates).
    pub fn new() -> Result<Self> {
        Ok(Self {
            slots: RcuBox::new(KBox::new(KVec::new(), GFP_KERNEL)?),
            len: AtomicUsize::new(0),
        })
    }

    /// Whether the set is empty (one load; any context).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }

    /// The values, newest first, valid for the read-side section `rs` proves.
    pub fn iter<'a>(&'a self, rs: ReadSide<'a>) -> impl Iterator<Item = &'a T> + Clone + 'a {
        self.slots.get(rs).iter().rev().filter_map(|s| {
            let p = s.load(Ordering::Acquire);
            // SAFETY: a non-null slot owns a live value (invariant), freed by
            // `remove_where` only after a grace period, which cannot end
            // while `rs`'s section lasts.
            unsafe { p.as_ref() }
        })
    }

    /// Adds `value` as the newest. Process context, writers serialised by
    /// the caller; may sleep (grows the slots, a grace period).
    pub fn insert(&self, value: KBox<T>) -> Result {
        let n = {
            let guard = RcuGuard::new();
            let cur = self.slots.get(guard.side());
            // The slots stay in order, newest last: a free slot is reused
            // only at the end.
            if let Some(last) = cur.last() {
                if last.load(Ordering::Relaxed).is_null() {
                    last.store(KBox::into_raw(value), Ordering::Release);
                    self.len.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
            }
            cur.len()
        };
        // Writers are serialised: the slots do not change meanwhile.
        let mut next = KBox::new(KVec::with_capacity(n + 1, GFP_KERNEL)?, GFP_KERNEL)?;
        {
            let guard = RcuGuard::new();
            for s in self.slots.get(guard.side()).iter() {
                let p = s.load(Ordering::Relaxed);
                if !p.is_null() {
                    // Within the capacity: does not allocate.
                    next.push(AtomicPtr::new(p), GFP_ATOMIC)?;
                }
            }
        }
        // Within the capacity too: cannot fail, so `value` is not lost.
        next.push(AtomicPtr::new(KBox::into_raw(value)), GFP_ATOMIC)?;
        // The values move to the new slots; the old slots are freed (not
        // the values) once no reader sees them.
        self.slots.replace(next);
        self.len.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Removes the values `f` picks, each freed once no reader can see it.
    /// Process context, writers serialised by the caller; sleeps (a grace
    /// period per value removed). Never allocates.
    pub fn remove_where(&self, f: impl Fn(&T) -> bool) {
        loop {
            let gone = {
                let guard = RcuGuard::new();
                let found = self.slots.get(guard.side()).iter().find(|s| {
                    let p = s.load(Ordering::Relaxed);
                    // SAFETY: a non-null slot owns a live value (invariant),
                    // not freed meanwhile (writers are serialised).
                    !p.is_null() && f(unsafe { &*p })
                });
                match found {
                    Some(s) => s.swap(ptr::null_mut(), Ordering::AcqRel),
                    None => return,
                }
            };
            self.len.fetch_sub(1, Ordering::Relaxed);
            super::synchronize_net();
            // SAFETY: from `KBox::into_raw` (invariant), unpublished above,
            // and no reader that could have loaded it is left (grace period).
            drop(unsafe { KBox::from_raw(gone) });
        }
    }
}

impl<T> Drop for RcuSlots<T> {
    fn drop(&mut self) {
        let guard = RcuGuard::new();
        for s in self.slots.get(guard.side()).iter() {
            let p = s.swap(ptr::null_mut(), Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: owned (invariant); `&mut self`: no reader is left
                // (owners drop the set after unregistering its readers).
                drop(unsafe { KBox::from_raw(p) });
            }
        }
    }
}

/// An RCU callback head (`struct callback_head`), not yet queued.
struct RcuHead(Opaque<b::callback_head>);

/// Where a reference count saturates: never reached by real references
/// (each is a word somewhere); a count that gets there was corrupted or
/// leaked, and the value is then never freed, as `refcount_t` does.
const SATURATED: usize = usize::MAX / 2;

/// What an [`RcuArc`] points to.
#[repr(C)]
struct RcuArcInner<T> {
    refs: AtomicUsize,
    head: RcuHead,
    value: T,
}

/// A reference-counted value for RCU lists written from any context,
/// notably softirq: like the kernel crate's `Arc`, but counted with inline
/// atomics (the 6.12 crate's `Arc` calls a C helper for every count change,
/// which a packet path that takes and drops a reference a packet pays
/// twice), and with the callback head that releases a list's reference a
/// grace period after the value was unlinked
/// ([`RcuArc::release_after_grace_period`]).
///
/// # Invariants
///
/// `ptr` points to a live `RcuArcInner<T>` from `KBox::into_raw`, whose
/// `refs` counts the `RcuArc`s and raw references (`into_raw`) to it,
/// this one among them; it is freed when that count drops to zero.
pub struct RcuArc<T: Send + Sync + 'static> {
    ptr: NonNull<RcuArcInner<T>>,
}

// SAFETY: the value is shared between CPUs (`T: Sync`) and dropped by
// whichever holds the last reference (`T: Send`); the count is atomic.
unsafe impl<T: Send + Sync + 'static> Send for RcuArc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync + 'static> Sync for RcuArc<T> {}

impl<T: Send + Sync + 'static> RcuArc<T> {
    /// `value` with one reference, allocated with `flags`.
    pub fn new(value: T, flags: kernel::alloc::Flags) -> Result<Self, AllocError> {
        let inner = KBox::new(
            RcuArcInner {
                refs: AtomicUsize::new(1),
                head: RcuHead(Opaque::uninit()),
                value,
            },
            flags,
        )?;
        // INVARIANT: from `KBox::into_raw`, with the one reference returned.
        Ok(RcuArc {
            ptr: NonNull::from(KBox::leak(inner)),
        })
    }

    /// Gives up this reference as a raw pointer to the value (for a list
    /// link); `release_after_grace_period` gives it up in turn, and
    /// `clone_from_raw` takes new references through it meanwhile.
    pub fn into_raw(this: Self) -> *const T {
        let p = this.ptr.as_ptr();
        core::mem::forget(this);
        // SAFETY: a live allocation (invariant); no reference is created.
        unsafe { ptr::addr_of!((*p).value) }
    }

    /// The value's allocation, from a pointer `into_raw` gave.
    ///
    /// # Safety
    ///
    /// `p` came from `into_raw` and the value is still allocated.
    unsafe fn inner_of(p: *const T) -> NonNull<RcuArcInner<T>> {
        let at = core::mem::offset_of!(RcuArcInner<T>, value);
        // SAFETY: `p` is the `value` field of an `RcuArcInner<T>` (caller).
        unsafe {
            NonNull::new_unchecked(p.cast::<u8>().sub(at).cast::<RcuArcInner<T>>().cast_mut())
        }
    }

    /// A new reference to the value at `p`.
    ///
    /// # Safety
    ///
    /// `p` came from `into_raw` and some reference to the value is held
    /// for the whole call (so that its count stays above zero), e.g. a list
    /// link that cannot be released before an RCU read-side section the
    /// caller is in ends.
    pub unsafe fn clone_from_raw(p: *const T) -> Self {
        // SAFETY: the caller's contract; `RcuArc` takes no reference of its
        // own until `clone` counts one.
        let borrowed = core::mem::ManuallyDrop::new(RcuArc {
            ptr: unsafe { Self::inner_of(p) },
        });
        (*borrowed).clone()
    }

    /// Drops the reference `p` stands for once every RCU reader that might
    /// have reached the value has left its read-side section. Any context
    /// (the release runs from RCU's callback, in softirq). The module must
    /// call [`barrier`] before its code goes away.
    ///
    /// # Safety
    ///
    /// `p` came from `into_raw` and its reference is given up here; no other
    /// call for the same value is pending (a value is unlinked, and so
    /// released this way, once).
    pub unsafe fn release_after_grace_period(p: *const T) {
        // SAFETY: `p`'s reference keeps the value allocated until the
        // callback drops it; its head is queued once (caller).
        unsafe { b::call_rcu(Self::inner_of(p).as_ref().head.0.get(), Some(Self::release)) };
    }

    /// RCU's callback for `release_after_grace_period`.
    ///
    /// # Safety
    ///
    /// Called by RCU only, with the head that function queued.
    unsafe extern "C" fn release(head: *mut b::callback_head) {
        let at = core::mem::offset_of!(RcuArcInner<T>, head);
        // SAFETY: the head is the `head` field of a live `RcuArcInner<T>`
        // whose reference `release_after_grace_period` gave up: it is this
        // one, dropped once.
        drop(RcuArc {
            ptr: unsafe {
                NonNull::new_unchecked(head.cast::<u8>().sub(at).cast::<RcuArcInner<T>>())
            },
        });
    }

    fn inner(&self) -> &RcuArcInner<T> {
        // SAFETY: live while we hold a reference (invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Send + Sync + 'static> Clone for RcuArc<T> {
    #[inline(always)]
    fn clone(&self) -> Self {
        // Relaxed: the new reference is made from one we hold, which orders
        // everything that matters (as `Arc`).
        let old = self.inner().refs.fetch_add(1, Ordering::Relaxed);
        if old >= SATURATED {
            self.inner().refs.store(SATURATED, Ordering::Relaxed);
        }
        // INVARIANT: the count includes the new reference.
        RcuArc { ptr: self.ptr }
    }
}

impl<T: Send + Sync + 'static> Drop for RcuArc<T> {
    #[inline(always)]
    fn drop(&mut self) {
        // Release: our uses of the value happen before whoever frees it,
        // which acquires below.
        if self.inner().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        core::sync::atomic::fence(Ordering::Acquire);
        // SAFETY: the last reference: from `KBox::into_raw` (invariant), no
        // one else can reach it.
        drop(unsafe { KBox::from_raw(self.ptr.as_ptr()) });
    }
}

impl<T: Send + Sync + 'static> core::ops::Deref for RcuArc<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

/// Waits until every callback queued so far has run (module exit, after
/// the last [`RcuArc::release_after_grace_period`]). Process context: sleeps.
pub fn barrier() {
    // SAFETY: process context (caller).
    unsafe { b::rcu_barrier() }
}

/// The link an entry of an [`RcuHashList`] embeds: the next entry of its
/// bucket. Written under the list's lock only, and never again once the
/// entry is unlinked, so that a reader standing on an unlinked entry walks
/// on to the rest of the bucket.
pub struct RcuLink<T> {
    next: AtomicPtr<T>,
    /// Set when the entry is linked, never cleared: an entry is linked once.
    used: AtomicBool,
}

impl<T> RcuLink<T> {
    /// A link of an entry not yet in a list.
    pub const fn new() -> Self {
        RcuLink {
            next: AtomicPtr::new(ptr::null_mut()),
            used: AtomicBool::new(false),
        }
    }
}

impl<T> Default for RcuLink<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// An entry type of an [`RcuHashList`]: reference-counted ([`RcuArc`]),
/// with an [`RcuLink`] of its own.
///
/// # Safety
///
/// `link` returns the same field of `self` on every call.
pub unsafe trait RcuLinked: Send + Sync + Sized + 'static {
    /// The entry's link.
    fn link(&self) -> &RcuLink<Self>;
}

/// The list's bookkeeping and its owner's, under the list's lock.
struct ListState<W> {
    len: usize,
    data: W,
}

/// Words of [`RcuHashList`]'s per-CPU memory of the last hit: the entry,
/// the generation it was found under, and the key.
const LAST_WORDS: usize = 2 + LAST_KEY_WORDS;
/// Words of a key the per-CPU memory of the last hit keeps.
pub const LAST_KEY_WORDS: usize = 4;

/// A hash table of RCU lists of reference-counted entries ([`RcuArc`]), as
/// the kernel's `hlist_*_rcu` with `call_rcu()` are used: readers walk a
/// bucket without a lock, inside an RCU read-side section; writers (any
/// context but hard IRQ) change the lists under the list's BH spinlock,
/// which also guards the owner's own bookkeeping `W`
/// ([`RcuHashList::lock`]). An unlinked entry's reference is released a
/// grace period later, so that readers standing on it finish first.
///
/// Each unlink bumps the list's generation before the release is queued:
/// an entry a lookup found stays allocated while the generation read
/// before the lookup holds. Each CPU remembers the last entry a lookup
/// found and its key ([`RcuHashList::remember`], [`RcuHashList::recall`]),
/// so that the next lookup of the key on that CPU need not walk; the
/// memory is used from softirq (or with bottom halves disabled) only, never
/// from hard interrupts.
///
/// # Invariants
///
/// `heads.len()` is a power of two. Every non-null head and link points to
/// a linked entry from [`RcuArc::into_raw`], whose reference the list holds
/// (`len` of them); an unlinked entry's reference is given up with
/// [`RcuArc::release_after_grace_period`], after `gen` was bumped. A
/// non-null entry word of a CPU's `last` named a linked entry under the
/// generation remembered with it.
#[pin_data(PinnedDrop)]
pub struct RcuHashList<T: RcuLinked, W> {
    heads: KVec<AtomicPtr<T>>,
    #[pin]
    writer: BhSpinLock<ListState<W>>,
    gen: AtomicU64,
    last: PerCpuWords<LAST_WORDS>,
}

/// The list's generation, read before a lookup ([`RcuHashList::generation`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

impl<T: RcuLinked, W> RcuHashList<T, W> {
    /// An empty list of `buckets` buckets (rounded up to a power of two),
    /// its lock in lockdep class `key` named `name`, guarding `data`.
    /// Process context.
    pub fn new(
        buckets: usize,
        data: W,
        name: &'static CStr,
        key: LockClass,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            heads: {
                let n = buckets.max(1).next_power_of_two();
                let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
                for _ in 0..n {
                    v.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
                }
                // INVARIANT: a power of two of empty buckets.
                v
            },
            writer <- BhSpinLock::new(ListState { len: 0, data }, name, key),
            gen: AtomicU64::new(0),
            last: PerCpuWords::new()?,
        }? Error)
    }

    fn head(&self, hash: usize) -> &AtomicPtr<T> {
        // Power-of-two length, not empty (invariant): always in bounds.
        &self.heads[hash & (self.heads.len() - 1)]
    }

    /// The first entry of bucket `hash` that `eq` accepts, or null. The
    /// caller is inside an RCU read-side section (the entry stays allocated
    /// until it ends) or holds the lock (it stays linked meanwhile).
    fn find_raw(&self, hash: usize, eq: impl Fn(&T) -> bool) -> *const T {
        let mut p = self.head(hash).load(Ordering::Acquire).cast_const();
        // SAFETY: an entry reached from a head was linked when it was
        // reached; once unlinked it is released only after a grace period,
        // which cannot end before the caller's read-side section does (or,
        // with the lock held, it is not unlinked), and its link is left as
        // it was, so the walk can go on.
        while let Some(e) = unsafe { p.as_ref() } {
            if eq(e) {
                return p;
            }
            p = e.link().next.load(Ordering::Acquire).cast_const();
        }
        ptr::null()
    }

    /// The first entry of bucket `hash` that `eq` accepts, with a reference
    /// of its own. Any context; no lock.
    pub fn get(&self, hash: usize, eq: impl Fn(&T) -> bool) -> Option<RcuArc<T>> {
        let _rcu = RcuGuard::new();
        let p = self.find_raw(hash, eq);
        // SAFETY: `p` is null or a linked entry from `RcuArc::into_raw`,
        // allocated for the read-side section (`find_raw`) and counted by
        // the list's reference until a grace period after its unlinking.
        (!p.is_null()).then(|| unsafe { RcuArc::clone_from_raw(p) })
    }

    /// The generation, read before a lookup whose answer may be remembered
    /// ([`Self::remember`]).
    pub fn generation(&self) -> Generation {
        let g = self.gen.load(Ordering::Acquire);
        // The lookups that follow read after the generation.
        core::sync::atomic::fence(Ordering::Acquire);
        Generation(g)
    }

    /// Remembers on this CPU that `key` found `e` in bucket `hash`, under
    /// generation `g` (read before the lookup that found it), if `e` is
    /// still linked there. Softirq (or bottom halves disabled).
    pub fn remember(&self, g: Generation, hash: usize, key: &[u64; LAST_KEY_WORDS], e: &T) {
        let _rcu = RcuGuard::new();
        let p = self.find_raw(hash, |c| ptr::eq(c, e));
        if p.is_null() {
            return;
        }
        let l = &self.last;
        l.set(0, 0);
        l.set(1, g.0);
        for (i, k) in key.iter().enumerate() {
            l.set(2 + i, *k);
        }
        // INVARIANT: `p` is linked now, after `g` was read.
        l.set(0, p as usize as u64);
    }

    /// This CPU's last hit for `key`, if the generation it was found under
    /// still holds, with a reference of its own. Softirq (or bottom halves
    /// disabled), inside the RCU read-side section `_rs` proves.
    #[inline(always)]
    pub fn recall(&self, _rs: ReadSide<'_>, key: &[u64; LAST_KEY_WORDS]) -> Option<RcuArc<T>> {
        let l = &self.last;
        let p = l.get(0) as usize as *const T;
        if p.is_null()
            || l.get(2) != key[0]
            || l.get(3) != key[1]
            || l.get(4) != key[2]
            || l.get(5) != key[3]
        {
            return None;
        }
        if self.gen.load(Ordering::Acquire) != l.get(1) {
            return None;
        }
        // SAFETY: `p` was a linked entry when the generation was the one
        // remembered with it (invariant), and it still is: unlinking bumps
        // the generation before the entry's release is queued, and the
        // release waits for the caller's read-side section (`_rs`); the
        // list's reference keeps the count above zero while we take ours.
        Some(unsafe { RcuArc::clone_from_raw(p) })
    }

    /// Takes the list's lock (bottom halves disabled until the writer
    /// drops). Any context but hard IRQ.
    pub fn lock(&self) -> RcuListWriter<'_, T, W> {
        RcuListWriter {
            list: self,
            state: self.writer.lock(),
        }
    }
}

#[pinned_drop]
impl<T: RcuLinked, W> PinnedDrop for RcuHashList<T, W> {
    fn drop(self: Pin<&mut Self>) {
        // The releases run after a grace period; the module waits for them
        // at exit ([`barrier`]).
        self.into_ref().get_ref().lock().unlink_if(|_| true);
    }
}

/// The lock of an [`RcuHashList`], held: changes its lists, and gives
/// access to the owner's bookkeeping (`Deref` to `W`).
pub struct RcuListWriter<'a, T: RcuLinked, W> {
    list: &'a RcuHashList<T, W>,
    state: BhGuard<'a, ListState<W>>,
}

impl<T: RcuLinked, W> RcuListWriter<'_, T, W> {
    /// The number of linked entries.
    pub fn len(&self) -> usize {
        self.state.len
    }

    /// The first entry of bucket `hash` that `eq` accepts, with a
    /// reference of its own.
    pub fn get(&self, hash: usize, eq: impl Fn(&T) -> bool) -> Option<RcuArc<T>> {
        let p = self.list.find_raw(hash, eq);
        // SAFETY: a linked entry from `RcuArc::into_raw`, kept linked (and
        // its count above zero) by the lock we hold.
        (!p.is_null()).then(|| unsafe { RcuArc::clone_from_raw(p) })
    }

    /// Links `e` at the front of bucket `hash`, published complete (its
    /// fields before the pointer to it). An entry is linked once: one
    /// that was linked before is refused (`false`).
    pub fn push(&mut self, hash: usize, e: RcuArc<T>) -> bool {
        if e.link().used.swap(true, Ordering::Relaxed) {
            return false;
        }
        let head = self.list.head(hash);
        e.link()
            .next
            .store(head.load(Ordering::Relaxed), Ordering::Relaxed);
        // INVARIANT: the list holds the reference `into_raw` stands for.
        head.store(RcuArc::into_raw(e).cast_mut(), Ordering::Release);
        self.state.len += 1;
        true
    }

    /// Unlinks every entry `unlink` selects (it may act on the entry
    /// before it goes); each one's reference is released a grace period
    /// later.
    pub fn unlink_if(&mut self, mut unlink: impl FnMut(&T) -> bool) {
        let list = self.list;
        for head in list.heads.iter() {
            let mut prev = head;
            loop {
                let p = prev.load(Ordering::Relaxed);
                // SAFETY: a linked entry; the lock keeps it linked.
                let Some(e) = (unsafe { p.as_ref() }) else {
                    break;
                };
                if !unlink(e) {
                    prev = &e.link().next;
                    continue;
                }
                prev.store(e.link().next.load(Ordering::Relaxed), Ordering::Release);
                self.state.len -= 1;
                // Before the release is queued: a remembered hit of this
                // entry is void from here.
                list.gen.fetch_add(1, Ordering::Release);
                // SAFETY: `p` stood for the list's reference (invariant),
                // given up here once: the entry is no longer linked and is
                // never linked again (`push` refuses it).
                unsafe { RcuArc::release_after_grace_period(p.cast_const()) };
            }
        }
    }
}

impl<T: RcuLinked, W> Deref for RcuListWriter<'_, T, W> {
    type Target = W;
    fn deref(&self) -> &W {
        &self.state.data
    }
}

impl<T: RcuLinked, W> DerefMut for RcuListWriter<'_, T, W> {
    fn deref_mut(&mut self) -> &mut W {
        &mut self.state.data
    }
}
