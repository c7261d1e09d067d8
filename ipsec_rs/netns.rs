// SPDX-License-Identifier: GPL-2.0

//! The state of ipsec_rs in one network namespace.

use crate::{
    counters::Counters,
    invalid_spi::{self, Limiter},
    kapi::net::{Net, PernetId, PernetState},
    kapi::{netfilter, sync::BhSpinLock},
    nl, output, receive,
    settings::Settings,
};
use core::sync::atomic::AtomicBool;
use kernel::{new_mutex, prelude::*, sync::Mutex};

static NET_ID: PernetId = PernetId::new();

/// What the hooks of one namespace share: reached through the hooks' private
/// pointer in softirq and through `NetState::get()` from netlink.
///
/// Locks and their owners:
/// - `limiter`: BH spinlock; taken by the hooks (softirq) for one limiter
///   decision, and by netlink (process context) to swap in a reconfigured
///   limiter. Nothing sleeps or allocates under it.
/// - `config`: mutex, process context only (netlink); serialises
///   configuration changes, including every write of `settings`. Taken
///   before `limiter`, never inside it.
/// - `settings`: no lock for readers (RCU); writers hold `config`.
#[pin_data]
pub(crate) struct Shared {
    /// Counters of this namespace.
    pub(crate) counters: Counters,
    /// Invalid-SPI detection on (read lock-free by the hooks).
    pub(crate) invalid_spi_enabled: AtomicBool,
    /// Rate limiter of invalid-SPI events and log lines.
    #[pin]
    pub(crate) limiter: BhSpinLock<Limiter>,
    /// The configuration of this namespace.
    #[pin]
    pub(crate) config: Mutex<nl::GlobalConfig>,
    /// Per-SA, per-interface and global DF / pre-fragmentation / replay
    /// settings, read lock-free by the packet paths.
    pub(crate) settings: Settings,
}

/// Per-namespace state, created by the pernet `init` callback and dropped by
/// `exit`.
///
/// Owners: `hooks` and `out_hooks` hold pointers to `*shared`; `drop()`
/// unregisters both (waiting until no CPU runs them) before `shared` is freed.
pub(crate) struct NetState {
    hooks: Option<netfilter::Registration>,
    out_hooks: Option<netfilter::Registration>,
    shared: Pin<KBox<Shared>>,
}

impl NetState {
    /// What the hooks and netlink share in this namespace.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl PernetState for NetState {
    fn id() -> &'static PernetId {
        &NET_ID
    }

    fn init(net: &Net) -> impl PinInit<Self, Error> {
        let build = || -> Result<Self> {
            let cfg = nl::GlobalConfig::DEFAULT;
            let limiter = invalid_spi::new_limiter(&cfg)?;
            let shared = KBox::pin_init(
                try_pin_init!(Shared {
                    counters: Counters::new()?,
                    invalid_spi_enabled: AtomicBool::new(cfg.invalid_spi_enable),
                    limiter <- BhSpinLock::new(limiter),
                    config <- new_mutex!(cfg),
                    settings: Settings::new(&cfg)?,
                }? Error),
                GFP_KERNEL,
            )?;
            // SAFETY: `shared` is pinned on the heap and owned by the
            // `NetState` built below, whose `drop()` unregisters the hooks
            // (waiting for running ones) before `shared` is freed; `net`
            // outlives its pernet state.
            let hooks = unsafe {
                netfilter::Registration::new(net, &receive::HOOKS, &*shared as *const Shared)?
            };
            // SAFETY: as above; `Outbound` is a `repr(transparent)` view of
            // `Shared`, so the pointer is valid for it too. If this fails,
            // `hooks` is dropped (unregistered) before `shared`.
            let out_hooks = unsafe {
                netfilter::Registration::new(
                    net,
                    &output::HOOKS,
                    (&*shared as *const Shared).cast::<output::Outbound>(),
                )?
            };
            Ok(NetState { hooks: Some(hooks), out_hooks: Some(out_hooks), shared })
        };
        // SAFETY: the closure either initialises all of `slot` with one
        // write, or returns an error having written nothing. `slot` is valid
        // for writes and uninitialised (the pernet slot of this namespace).
        unsafe {
            kernel::init::pin_init_from_closure(move |slot: *mut Self| {
                slot.write(build()?);
                Ok(())
            })
        }
    }
}

impl Drop for NetState {
    fn drop(&mut self) {
        // Unregister before `shared` goes, whatever the field order.
        self.hooks.take();
        self.out_hooks.take();
    }
}
