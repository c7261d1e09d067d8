// SPDX-License-Identifier: GPL-2.0

//! The module's per-namespace, per-CPU counters.
//!
//! A counter's index is its netlink attribute number (`nl::stats_attr`), so
//! the module and the tools share one list and cannot disagree on names.

use crate::{nl, rust::percpu::PerCpuCounters};

/// Number of counter slots (index 0 is unused, as attribute 0 is).
pub(crate) const NR_COUNTERS: usize = nl::stats_attr::MAX as usize + 1;

/// The counters of one namespace.
pub(crate) type Counters = PerCpuCounters<NR_COUNTERS>;

/// Bumps counter `attr` (an `nl::stats_attr` number).
#[inline]
pub(crate) fn bump(counters: &Counters, attr: u16) {
    counters.inc(usize::from(attr))
}

/// A consistent-enough snapshot (each counter summed over CPUs) in the
/// netlink ABI's form.
pub(crate) fn snapshot(counters: &Counters) -> nl::Counters {
    let mut out = nl::Counters::default();
    for attr in 1..=nl::stats_attr::MAX {
        if let Some(slot) = out.get_mut(attr) {
            *slot = counters.sum(usize::from(attr));
        }
    }
    out
}
