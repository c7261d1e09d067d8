// SPDX-License-Identifier: GPL-2.0

//! What ipsec_rs needs from the kernel that the 6.12 `kernel` crate lacks.
//!
//! `bindings` holds the raw, bindgen-generated FFI; every other module here is
//! a safe wrapper over it, so that the module proper (`ipsec_rs/`) contains
//! (almost) no `unsafe`. All raw FFI of the project lives in this directory.

pub mod aead;
pub mod bindings;
pub mod compat;
pub mod errno;
pub mod genetlink;
pub mod gro;
pub mod net;
pub mod netdev;
pub mod netfilter;
pub mod params;
pub mod percpu;
pub mod rcu;
pub mod skb;
pub mod sync;
pub mod tunnel;
pub mod xfrm;

/// Monotonic time in nanoseconds (any context, lock-free).
pub fn now_ns() -> u64 {
    // SAFETY: no preconditions; NMI-safe accessor.
    unsafe { bindings::ktime_get_mono_fast_ns() }
}

/// The kernel's tick counter (`jiffies`), one load (any context).
#[inline]
pub fn jiffies() -> u64 {
    // SAFETY: `jiffies` is a live kernel variable, updated by the timer
    // interrupt; a volatile read of a machine word, as C's `READ_ONCE`.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::jiffies)) as u64 }
}

/// `j` ticks in milliseconds.
pub fn jiffies_to_msecs(j: u64) -> u64 {
    // SAFETY: a pure conversion (a shim: 7.x inlines it for HZ dividing 1000).
    u64::from(unsafe { bindings::ipsec_rs_jiffies_to_msecs(j as _) })
}

/// Fills `buf` with random bytes from the kernel's CRNG (any context).
pub fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len() as _) }
}

/// Waits until every CPU has left the networking RCU read-side sections
/// (netfilter hooks, protocol handlers) that were running (may sleep).
pub fn synchronize_net() {
    // SAFETY: process context is the caller's obligation; no other precondition.
    unsafe { bindings::synchronize_net() }
}
