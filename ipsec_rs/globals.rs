// SPDX-License-Identifier: GPL-2.0

//! The module's one global: what the kernel's callbacks that carry no data
//! pointer of ours reach (XFRM's ESP handlers and the crypto completions
//! after them, the event senders they call, and the pernet `init` of new
//! namespaces).
//!
//! Owner: the module (`main.rs`), which builds it and publishes it once,
//! before it registers anything that reads it, and withdraws and frees it
//! after everything that reads it is unregistered and has finished
//! ([`Published`]). Per-namespace state is not here: it is each namespace's
//! pernet state (`netns.rs`).

use crate::{
    decap::Delivery,
    nl::GlobalConfig,
    rust::{aead::RequestPool, genetlink::Multicast},
};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;

/// What the module shares module-wide.
pub(crate) struct Globals {
    /// The configuration new namespaces start with (the module's
    /// parameters, `params.rs`).
    pub(crate) defaults: GlobalConfig,
    /// Request memory of the receive path's decryptions.
    pub(crate) pool: RequestPool,
    /// Where decapsulated packets re-enter the stack.
    pub(crate) delivery: Delivery,
    /// The family's multicast side while the family is registered
    /// (`events.rs` publishes and withdraws it).
    pub(crate) events: AtomicPtr<Multicast>,
}

static GLOBALS: AtomicPtr<Globals> = AtomicPtr::new(core::ptr::null_mut());

/// The module's globals. `None` only before the module published them or
/// after it withdrew them, when no caller can run (see the module docs).
pub(crate) fn get() -> Option<&'static Globals> {
    let p = GLOBALS.load(Ordering::Acquire);
    // SAFETY: published by `Published::new` from a box it owns, and
    // withdrawn by its drop before the box is freed, once no reader can run
    // (the owner's contract, `main.rs`).
    unsafe { p.as_ref() }
}

/// The published globals; dropping it withdraws and frees them.
///
/// # Invariants
///
/// `GLOBALS` points to `*self.0` from `new` until `drop`.
pub(crate) struct Published(KBox<Globals>);

impl Published {
    /// Builds the globals (new namespaces' configuration `defaults`,
    /// request buffers of `req_slot` bytes kept per CPU) and publishes them.
    /// Process context.
    pub(crate) fn new(defaults: GlobalConfig, req_slot: usize) -> Result<Self> {
        let g = KBox::new(
            Globals {
                defaults,
                pool: RequestPool::new(req_slot)?,
                delivery: Delivery::new()?,
                events: AtomicPtr::new(core::ptr::null_mut()),
            },
            GFP_KERNEL,
        )?;
        GLOBALS.store(&*g as *const Globals as *mut Globals, Ordering::Release);
        // INVARIANT: published just above.
        Ok(Self(g))
    }

    /// The globals.
    pub(crate) fn get(&self) -> &Globals {
        &self.0
    }
}

impl Drop for Published {
    /// Withdraws the globals and frees them. The owner drops this only once
    /// the ESP handlers are unregistered and the family's events withdrawn,
    /// so the only readers left are pending decryptions' completions: they
    /// are waited for first.
    fn drop(&mut self) {
        self.0.pool.wait_idle();
        GLOBALS.store(core::ptr::null_mut(), Ordering::Release);
    }
}
