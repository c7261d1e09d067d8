// SPDX-License-Identifier: GPL-2.0

//! A spinlock that disables bottom halves while held, for data shared between
//! softirq (packet hooks) and process context (netlink). The 6.12 `kernel`
//! crate's `SpinLock` takes a plain `spin_lock()`, which lockdep rightly
//! reports as an inconsistent lock state when the lock is also taken in
//! softirq.

use super::bindings as b;
use super::compat::{lock_class_ptr, LockClass};
use core::{
    cell::UnsafeCell,
    ops::{Deref, DerefMut},
};
use kernel::{prelude::*, str::CStr, types::Opaque};

/// A `spinlock_t` protecting a `T`, always taken with `spin_lock_bh()`.
///
/// Never sleep while holding it. Each lock is in the lockdep class its
/// creator names (one per call site of `new`, with `static_lock_class!()`),
/// so lockdep checks their order like any kernel lock's.
#[pin_data]
pub struct BhSpinLock<T> {
    #[pin]
    lock: Opaque<b::spinlock_t>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the lock.
unsafe impl<T: Send> Send for BhSpinLock<T> {}
// SAFETY: as above: `&BhSpinLock` only gives access to `T` under the lock.
unsafe impl<T: Send> Sync for BhSpinLock<T> {}

impl<T> BhSpinLock<T> {
    /// A new, unlocked lock around `data`, in lockdep class `key` named
    /// `name` (`c_str!("..."), static_lock_class!()`).
    pub fn new(data: T, name: &'static CStr, key: LockClass) -> impl PinInit<Self> {
        let key = lock_class_ptr(key);
        pin_init!(Self {
            // SAFETY: initialises the pinned, uninitialised spinlock in place;
            // `name` and `key` are static, as lockdep requires.
            lock <- Opaque::ffi_init(|p| unsafe {
                b::ipsec_rs_spin_lock_init(p, name.as_char_ptr().cast(), key)
            }),
            data: UnsafeCell::new(data),
        })
    }

    /// Takes the lock (bottom halves disabled until the guard drops). Any
    /// context but hard IRQ.
    pub fn lock(&self) -> BhGuard<'_, T> {
        // SAFETY: the lock was initialised in `new()`.
        unsafe { b::ipsec_rs_spin_lock_bh(self.lock.get()) };
        BhGuard { lock: self }
    }
}

/// Access to the data of a held [`BhSpinLock`]; unlocks on drop.
pub struct BhGuard<'a, T> {
    lock: &'a BhSpinLock<T>,
}

impl<T> Deref for BhGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for BhGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held, and `&mut self` that no
        // other reference through this guard exists.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for BhGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard holds the lock.
        unsafe { b::ipsec_rs_spin_unlock_bh(self.lock.lock.get()) };
    }
}
