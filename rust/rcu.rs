// SPDX-License-Identifier: GPL-2.0

//! Read-copy-update for one heap value: readers (packet hooks in softirq,
//! or process context under an [`RcuGuard`]) take no lock; a writer publishes
//! a complete new value and frees the old one after a grace period.

use super::bindings as b;
use core::{
    marker::PhantomData,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::prelude::*;

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
