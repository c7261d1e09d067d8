// SPDX-License-Identifier: GPL-2.0

//! Per-CPU arrays of `u64` counters: cheap to bump from any context
//! (`this_cpu_add`, no lock, no atomic), summed over CPUs when read.

use super::bindings as b;
use core::ffi::c_void;
use kernel::prelude::*;

/// `N` per-CPU `u64` counters.
///
/// # Invariants
///
/// `ptr` is a live per-CPU allocation of `N` `u64`s, zeroed at allocation,
/// owned by `self` and freed in `drop()`.
pub struct PerCpuCounters<const N: usize> {
    ptr: *mut u64,
}

// SAFETY: per-CPU memory is written only through `this_cpu_add` (each CPU its
// own copy, preemption-safe) and read with READ_ONCE when summing.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}
// SAFETY: as above.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// Allocates zeroed counters (process context: may sleep).
    pub fn new() -> Result<Self> {
        // SAFETY: plain allocation call; the result is checked below.
        let ptr = unsafe { b::ipsec_rs_alloc_percpu_u64(N) }.cast::<u64>();
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self { ptr })
    }

    /// Adds `v` to counter `idx` on this CPU; any context.
    #[inline]
    pub fn add(&self, idx: usize, v: u64) {
        if idx < N {
            // SAFETY: `ptr` is live with `N` slots per CPU and `idx < N`.
            unsafe { b::ipsec_rs_pcpu_add(self.ptr, idx, v) }
        }
    }

    /// Subtracts `v` from counter `idx` on this CPU (counters are summed
    /// modulo 2^64, so a count that goes up on one CPU and down on another
    /// sums right); any context.
    #[inline]
    pub fn sub(&self, idx: usize, v: u64) {
        self.add(idx, v.wrapping_neg())
    }

    /// Adds one to counter `idx`.
    #[inline]
    pub fn inc(&self, idx: usize) {
        self.add(idx, 1)
    }

    /// Counter `idx` of this CPU (0 for `idx >= N`). Meaningful where the
    /// caller cannot migrate (softirq, BH or preemption disabled).
    #[inline]
    pub fn this_cpu(&self, idx: usize) -> u64 {
        if idx >= N {
            return 0;
        }
        // SAFETY: `ptr` is live with `N` slots per CPU and `idx < N`.
        unsafe { b::ipsec_rs_pcpu_read(self.ptr, idx) }
    }

    /// The sum of counter `idx` over all possible CPUs (0 for `idx >= N`).
    pub fn sum(&self, idx: usize) -> u64 {
        if idx >= N {
            return 0;
        }
        // SAFETY: `ptr` is live with `N` slots per CPU and `idx < N`.
        unsafe { b::ipsec_rs_pcpu_sum(self.ptr, idx) }
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `__alloc_percpu` and is freed exactly once.
        unsafe { b::free_percpu(self.ptr.cast::<c_void>()) }
    }
}
