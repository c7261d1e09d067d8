// SPDX-License-Identifier: GPL-2.0

//! What differs between the kernel series the module builds against: the
//! `kernel` crate of 6.12 LTS and that of 7.x (tested on 7.3). One cfg,
//! `ipsec_rs_k7`, set by `rust/compat.mk` from the target tree's version,
//! selects a side here; the module uses these names and never tests a
//! version itself.

#[cfg(ipsec_rs_k7)]
use core::pin::Pin;
use kernel::{str::CStr, sync::LockClassKey};

#[cfg(not(ipsec_rs_k7))]
use kernel::init::PinInit;
#[cfg(ipsec_rs_k7)]
use pin_init::PinInit;

/// A pin-initialiser from a closure over the slot (6.12: `kernel::init`;
/// 7.x: the `pin_init` crate's, no longer re-exported).
#[cfg(not(ipsec_rs_k7))]
pub(crate) use kernel::init::pin_init_from_closure;
#[cfg(ipsec_rs_k7)]
pub(crate) use pin_init::pin_init_from_closure;

/// Runs the pin-initialiser `init` on `slot` (6.12's `__pinned_init`, 7.x's
/// `__init`).
///
/// # Safety
///
/// As `PinInit`'s: `slot` is valid, uninitialised memory that does not move
/// until dropped; on error it is left uninitialised.
#[inline]
pub(crate) unsafe fn pinned_init<T, E>(init: impl PinInit<T, E>, slot: *mut T) -> Result<(), E> {
    #[cfg(not(ipsec_rs_k7))]
    // SAFETY: the caller's obligations are the method's.
    let r = unsafe { init.__pinned_init(slot) };
    #[cfg(ipsec_rs_k7)]
    // SAFETY: the caller's obligations are the method's.
    let r = unsafe { init.__init(slot) };
    r
}

/// A static lockdep class as `static_lock_class!()` gives it (6.12: a
/// reference; 7.x: a pinned one).
#[cfg(not(ipsec_rs_k7))]
pub type LockClass = &'static LockClassKey;
/// A static lockdep class as `static_lock_class!()` gives it (6.12: a
/// reference; 7.x: a pinned one).
#[cfg(ipsec_rs_k7)]
pub type LockClass = Pin<&'static LockClassKey>;

/// The C `struct lock_class_key` of `key`.
pub(crate) fn lock_class_ptr(key: LockClass) -> *mut super::bindings::lock_class_key {
    #[cfg(ipsec_rs_k7)]
    let key: &'static LockClassKey = Pin::get_ref(key);
    // `LockClassKey` is a transparent wrapper of `struct lock_class_key` in
    // both series.
    (key as *const LockClassKey).cast_mut().cast()
}

/// The bytes of `s` without its NUL (6.12's `kernel::str::CStr::as_bytes`;
/// 7.x's `CStr` is `core::ffi::CStr`).
pub(crate) fn cstr_bytes(s: &CStr) -> &[u8] {
    #[cfg(not(ipsec_rs_k7))]
    let b = s.as_bytes();
    #[cfg(ipsec_rs_k7)]
    let b = s.to_bytes();
    b
}

/// The module's `module!` invocation: 6.12 takes `author: ".."`, 7.x
/// `authors: [".."]`.
#[cfg(not(ipsec_rs_k7))]
#[macro_export]
macro_rules! kernel_module {
    (type: $t:ident, name: $n:tt, author: $a:tt, description: $d:tt, license: $l:tt $(,)?) => {
        kernel::prelude::module! { type: $t, name: $n, author: $a, description: $d, license: $l, }
    };
}
/// The module's `module!` invocation: 6.12 takes `author: ".."`, 7.x
/// `authors: [".."]`.
#[cfg(ipsec_rs_k7)]
#[macro_export]
macro_rules! kernel_module {
    (type: $t:ident, name: $n:tt, author: $a:tt, description: $d:tt, license: $l:tt $(,)?) => {
        kernel::prelude::module! {
            type: $t, name: $n, authors: [$a], description: $d, license: $l,
        }
    };
}

/// Lets the `pr_*!` macros print `$t` with `{}` through its
/// `core::fmt::Display` (7.x formats through `kernel::fmt::Display`, which a
/// type must implement; 6.12 uses `core::fmt` directly: nothing to do).
#[cfg(not(ipsec_rs_k7))]
#[macro_export]
macro_rules! kernel_display {
    ($($t:ty),* $(,)?) => {};
}
/// Lets the `pr_*!` macros print `$t` with `{}` through its
/// `core::fmt::Display` (7.x formats through `kernel::fmt::Display`, which a
/// type must implement; 6.12 uses `core::fmt` directly: nothing to do).
#[cfg(ipsec_rs_k7)]
#[macro_export]
macro_rules! kernel_display {
    ($($t:ty),* $(,)?) => {
        $(
            impl kernel::fmt::Display for $t {
                fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    core::fmt::Display::fmt(self, f)
                }
            }
        )*
    };
}
