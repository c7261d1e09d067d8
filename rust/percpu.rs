// SPDX-License-Identifier: GPL-2.0

//! Per-CPU arrays of `u64` counters: cheap to bump from any context
//! (`this_cpu_add`, no lock, no atomic), summed over CPUs when read;
//! per-CPU words that only their own CPU uses (a small cache); and the
//! `this_cpu` operations themselves.
//!
//! On x86-64 the operations are what C's `this_cpu_add`, `this_cpu_read`,
//! `this_cpu_write` and `this_cpu_xchg` compile to, written here so that a counter bump on
//! the packet path is one instruction instead of a call: a per-CPU pointer
//! is an offset that the `gs` segment base (this CPU's area) turns into
//! this CPU's copy, and a single read-modify-write instruction on it cannot
//! be split by an interrupt or a migration. Other architectures call the
//! C macros through `helpers/percpu.c`, and so does User-Mode Linux on x86-64
//! (`CONFIG_UML`), whose per-CPU data is not `gs`-relative.

use super::bindings as b;
use core::ffi::c_void;
use kernel::prelude::*;

/// `this_cpu_add(*p, v)`.
///
/// # Safety
///
/// `p` is a per-CPU pointer (from `alloc_percpu`, or into such an area) to
/// a live `u64`.
#[inline(always)]
pub unsafe fn this_cpu_add(p: *mut u64, v: u64) {
    #[cfg(all(target_arch = "x86_64", not(CONFIG_UML)))]
    // SAFETY: `gs:[p]` is this CPU's copy of the per-CPU `u64` at `p`
    // (caller); one `add` to memory is atomic with respect to interrupts
    // and preemption on this CPU, which is all `this_cpu_add` promises.
    unsafe {
        core::arch::asm!("add qword ptr gs:[{p}], {v}", p = in(reg) p, v = in(reg) v,
                         options(nostack))
    }
    #[cfg(any(not(target_arch = "x86_64"), CONFIG_UML))]
    // SAFETY: as the caller promises.
    unsafe {
        b::ipsec_rs_pcpu_add(p, 0, v)
    }
}

/// `this_cpu_read(*p)`.
///
/// # Safety
///
/// As [`this_cpu_add`].
#[inline(always)]
pub unsafe fn this_cpu_read(p: *const u64) -> u64 {
    #[cfg(all(target_arch = "x86_64", not(CONFIG_UML)))]
    {
        let v: u64;
        // SAFETY: `gs:[p]` is this CPU's copy of the live `u64` (caller).
        unsafe {
            core::arch::asm!("mov {v}, qword ptr gs:[{p}]", p = in(reg) p, v = out(reg) v,
                             options(nostack, readonly, preserves_flags))
        };
        v
    }
    #[cfg(any(not(target_arch = "x86_64"), CONFIG_UML))]
    // SAFETY: as the caller promises.
    unsafe {
        b::ipsec_rs_pcpu_read(p.cast_mut(), 0)
    }
}

/// `this_cpu_write(*p, v)`.
///
/// # Safety
///
/// As [`this_cpu_add`].
#[inline(always)]
pub unsafe fn this_cpu_write(p: *mut u64, v: u64) {
    #[cfg(all(target_arch = "x86_64", not(CONFIG_UML)))]
    // SAFETY: `gs:[p]` is this CPU's copy of the live `u64` (caller); one
    // `mov` to memory cannot be split by an interrupt.
    unsafe {
        core::arch::asm!("mov qword ptr gs:[{p}], {v}", p = in(reg) p, v = in(reg) v,
                         options(nostack, preserves_flags))
    }
    #[cfg(any(not(target_arch = "x86_64"), CONFIG_UML))]
    // SAFETY: as the caller promises.
    unsafe {
        b::ipsec_rs_pcpu_write(p, 0, v)
    }
}

/// `this_cpu_xchg(*slot, p)`: this CPU's pointer in `slot` replaced by `p`,
/// the previous one returned.
///
/// # Safety
///
/// `slot` is a per-CPU pointer to a live `void *` (from `alloc_percpu`).
#[inline(always)]
pub unsafe fn this_cpu_xchg_ptr(slot: *mut *mut c_void, p: *mut c_void) -> *mut c_void {
    #[cfg(all(target_arch = "x86_64", not(CONFIG_UML)))]
    {
        let old: *mut c_void;
        // SAFETY: `gs:[slot]` is this CPU's copy of the live slot (caller).
        // As the kernel's `this_cpu_xchg`: a `cmpxchg` without `lock`
        // (only this CPU writes its copy, and one instruction cannot be
        // split by an interrupt), retried until the value it read is the
        // one it replaced; `rax` holds the previous value at the end.
        unsafe {
            core::arch::asm!(
                "mov rax, qword ptr gs:[{slot}]",
                "2:",
                "cmpxchg qword ptr gs:[{slot}], {new}",
                "jne 2b",
                slot = in(reg) slot,
                new = in(reg) p,
                out("rax") old,
                options(nostack),
            )
        };
        old
    }
    #[cfg(any(not(target_arch = "x86_64"), CONFIG_UML))]
    // SAFETY: as the caller promises.
    unsafe {
        b::ipsec_rs_pcpu_xchg_ptr(slot, p)
    }
}

/// `N` per-CPU `u64` words that only their own CPU reads and writes: a
/// small per-CPU cache (a lookup's last answer, say).
///
/// Each access is one instruction on this CPU's copy; several words read
/// or written together are consistent only if nothing else on this CPU
/// writes them in between, which holds when every user runs in softirq
/// (or with bottom halves disabled) and never from hard interrupts: the
/// caller's contract, stated where the words are used.
///
/// # Invariants
///
/// `ptr` is a live per-CPU allocation of `N` `u64`s, zeroed at allocation,
/// owned by `self` and freed in `drop()`.
pub struct PerCpuWords<const N: usize> {
    ptr: *mut u64,
}

// SAFETY: each CPU writes only its own copy, one instruction at a time
// (`this_cpu_*`); other CPUs' copies are only read, with READ_ONCE
// (`PerCpuCounters::sum`).
unsafe impl<const N: usize> Send for PerCpuWords<N> {}
// SAFETY: as above.
unsafe impl<const N: usize> Sync for PerCpuWords<N> {}

impl<const N: usize> PerCpuWords<N> {
    /// Allocates zeroed words (process context: may sleep).
    pub fn new() -> Result<Self> {
        // SAFETY: plain allocation call; the result is checked below.
        let ptr = unsafe { b::ipsec_rs_alloc_percpu_u64(N) }.cast::<u64>();
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self { ptr })
    }

    /// Word `idx` of this CPU (0 for `idx >= N`).
    #[inline(always)]
    pub fn get(&self, idx: usize) -> u64 {
        if idx >= N {
            return 0;
        }
        // SAFETY: `ptr` is live with `N` words per CPU and `idx < N`.
        unsafe { this_cpu_read(self.ptr.wrapping_add(idx)) }
    }

    /// Sets word `idx` of this CPU (nothing for `idx >= N`).
    #[inline(always)]
    pub fn set(&self, idx: usize, v: u64) {
        if idx < N {
            // SAFETY: `ptr` is live with `N` words per CPU and `idx < N`.
            unsafe { this_cpu_write(self.ptr.wrapping_add(idx), v) }
        }
    }
}

impl<const N: usize> Drop for PerCpuWords<N> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `__alloc_percpu` and is freed exactly once.
        unsafe { b::free_percpu(self.ptr.cast::<c_void>()) }
    }
}

/// `N` per-CPU `u64` counters: [`PerCpuWords`] that every CPU adds to
/// (`this_cpu_add`, one instruction, safe from any context) and that are
/// summed over CPUs when read.
pub struct PerCpuCounters<const N: usize> {
    words: PerCpuWords<N>,
}

impl<const N: usize> PerCpuCounters<N> {
    /// Allocates zeroed counters (process context: may sleep).
    pub fn new() -> Result<Self> {
        Ok(Self {
            words: PerCpuWords::new()?,
        })
    }

    /// Adds `v` to counter `idx` on this CPU; any context.
    #[inline]
    pub fn add(&self, idx: usize, v: u64) {
        if idx < N {
            // SAFETY: `words.ptr` is live with `N` slots per CPU and
            // `idx < N`: `ptr + idx` is a per-CPU pointer to a live `u64`.
            unsafe { this_cpu_add(self.words.ptr.wrapping_add(idx), v) }
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
        self.words.get(idx)
    }

    /// The sum of counter `idx` over all possible CPUs (0 for `idx >= N`).
    pub fn sum(&self, idx: usize) -> u64 {
        if idx >= N {
            return 0;
        }
        // SAFETY: `words.ptr` is live with `N` slots per CPU and `idx < N`.
        unsafe { b::ipsec_rs_pcpu_sum(self.words.ptr, idx) }
    }
}
