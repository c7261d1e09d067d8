// SPDX-License-Identifier: GPL-2.0

//! Read-copy-update: readers (packet paths in softirq, or process context
//! under an [`RcuGuard`]) take no lock. [`RcuBox`]: one heap value that a
//! writer replaces whole, freeing the old one after a grace period
//! (process context). [`drop_arc_after_grace_period`]: the reference an RCU
//! list held on an entry it no longer links, released after a grace period
//! from any context, for lists written in softirq.

use super::bindings as b;
use core::{
    marker::PhantomData,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{prelude::*, sync::Arc, types::Opaque};

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
        RcuBox { ptr: AtomicPtr::new(KBox::into_raw(value)) }
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

/// An RCU callback head, embedded in a value that RCU readers may still
/// see after it was unlinked (see [`RcuRelease`]).
pub struct RcuHead(Opaque<b::callback_head>);

impl RcuHead {
    /// A head not yet queued.
    pub const fn new() -> Self {
        RcuHead(Opaque::uninit())
    }
}

impl Default for RcuHead {
    fn default() -> Self {
        Self::new()
    }
}

/// A type shared through [`Arc`] whose references an RCU structure may
/// drop only after a grace period, through its embedded [`RcuHead`].
///
/// # Safety
///
/// `rcu_head()` returns the [`RcuHead`] field at byte offset `HEAD_OFFSET`
/// within `Self` (`core::mem::offset_of!`), used for nothing else.
pub unsafe trait RcuRelease: Sized + Send + Sync + 'static {
    /// Where the head is.
    const HEAD_OFFSET: usize;
    /// The head.
    fn rcu_head(&self) -> &RcuHead;
}

/// Drops the reference `ptr` stands for once every RCU reader that might
/// have reached the value has left its read-side section. Any context (the
/// release runs from RCU's callback, in softirq). The module must call
/// [`barrier`] before its code goes away.
///
/// # Safety
///
/// `ptr` comes from `Arc::into_raw` and its reference is given up here; no
/// other call for the same value's head is pending (a value is unlinked,
/// and so released, once).
pub unsafe fn drop_arc_after_grace_period<T: RcuRelease>(ptr: *const T) {
    // SAFETY: `ptr` is a live value (we hold a reference); the value stays
    // allocated until `release` drops that reference, after the grace
    // period; the head is queued once (caller), and `release` finds the
    // value back from it (`HEAD_OFFSET`, trait contract).
    unsafe { b::call_rcu((*ptr).rcu_head().0.get(), Some(release::<T>)) };
}

/// RCU's callback for `drop_arc_after_grace_period`.
///
/// # Safety
///
/// Called by RCU only, with the head that function queued.
unsafe extern "C" fn release<T: RcuRelease>(head: *mut b::callback_head) {
    // SAFETY: queued by `drop_arc_after_grace_period` with the head at
    // `HEAD_OFFSET` inside a value whose reference (from `Arc::into_raw`) it
    // gave up: this is that reference, dropped once.
    drop(unsafe { Arc::from_raw(head.cast::<u8>().sub(T::HEAD_OFFSET).cast::<T>()) });
}

/// Waits until every callback queued so far has run (module exit, after
/// the last [`drop_arc_after_grace_period`]). Process context: sleeps.
pub fn barrier() {
    // SAFETY: process context (caller).
    unsafe { b::rcu_barrier() }
}
