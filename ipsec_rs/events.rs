// SPDX-License-Identifier: GPL-2.0

//! Events multicast to the family's `events` group, from the packet paths.
//!
//! The family is registered by `netlink.rs`; what the packet paths need of
//! it is only its multicast side, published here by the module once the
//! family is registered and withdrawn before it is unregistered.

use crate::{
    globals::{self, Globals},
    nl::{self, cmd},
    rust::{genetlink::Multicast, net::Net},
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Publishes the family's multicast side to the packet paths (in the
/// module's globals, `Globals::events`).
///
/// Owner: the module, which publishes it after registering the family, and
/// before unregistering it calls [`unpublish`].
pub(crate) fn publish(g: &Globals, m: &Multicast) {
    g.events
        .store(m as *const Multicast as *mut Multicast, Ordering::Release);
}

/// Withdraws it and waits (`synchronize_net()`) until no packet path, all
/// of which run inside RCU read-side sections, can still be using it.
pub(crate) fn unpublish(g: &Globals) {
    g.events.store(core::ptr::null_mut(), Ordering::Release);
    crate::rust::synchronize_net();
}

/// What became of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// At least one listener of the namespace received it (or the family is
    /// going away with the module, and with it the counters).
    Delivered,
    /// Nobody in the namespace listened.
    Unheard,
    /// Lost: no memory to build it, or a listener's receive buffer was full.
    Lost,
}

/// Multicasts an invalid-SPI event to listeners in `net`. Softirq-safe.
pub(crate) fn invalid_spi(net: &Net, ev: &nl::InvalidSpiEvent) -> Outcome {
    let m = globals::get().map_or(core::ptr::null_mut(), |g| g.events.load(Ordering::Acquire));
    if m.is_null() {
        return Outcome::Delivered;
    }
    let mut buf = [0u8; 160];
    let Ok(n) = ev.encode(&mut buf) else {
        return Outcome::Lost;
    };
    // SAFETY: a non-null pointer was published by `publish()` and stays valid
    // until `unpublish()` has waited for every packet path (we run in one).
    let m = unsafe { &*m };
    match m.send(net, 0, cmd::EVENT_INVALID_SPI, buf.get(..n).unwrap_or(&[])) {
        Ok(()) => Outcome::Delivered,
        Err(e) if e == ESRCH => Outcome::Unheard,
        Err(_) => Outcome::Lost,
    }
}
