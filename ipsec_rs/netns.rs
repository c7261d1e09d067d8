// SPDX-License-Identifier: GPL-2.0

//! The state of ipsec_rs in one network namespace.

use crate::{
    counters::Counters,
    invalid_spi::{self, Limiter},
    kapi::net::{Net, PernetId, PernetState},
    kapi::{netfilter, sync::BhSpinLock},
    nl, receive,
    sa::SaTable,
};
use core::sync::atomic::{AtomicBool, AtomicU32};
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
///   configuration changes. Taken before `limiter`, never inside it.
/// - `sa_table`: BH spinlock; taken by the receive path (softirq) to find or
///   add an SA's entry, and at teardown (process context) to flush. Inside
///   it, an SA's own lock (`x->lock`) may be taken (seeding a new window,
///   writing windows back); never the other way round.
#[pin_data]
pub(crate) struct Shared {
    /// Counters of this namespace.
    pub(crate) counters: Counters,
    /// Invalid-SPI detection on (read lock-free by the hooks).
    pub(crate) invalid_spi_enabled: AtomicBool,
    /// Rate limiter of invalid-SPI events and log lines.
    #[pin]
    pub(crate) limiter: BhSpinLock<Limiter>,
    /// The receive path on (`config.rx_enable`, read lock-free in softirq).
    pub(crate) rx_enabled: AtomicBool,
    /// Default replay window (`config.replay_window`), for new SAs.
    pub(crate) replay_window: AtomicU32,
    /// Replay checking off by default (`config.replay_disabled`), for new SAs.
    pub(crate) replay_disabled: AtomicBool,
    /// The SAs the receive path decapsulates (see `sa.rs`).
    #[pin]
    pub(crate) sa_table: BhSpinLock<SaTable>,
    /// The configuration of this namespace.
    #[pin]
    pub(crate) config: Mutex<nl::GlobalConfig>,
}

/// Per-namespace state, created by the pernet `init` callback and dropped by
/// `exit`.
///
/// Owners: `hooks` holds a pointer to `*shared`; `drop()` unregisters the
/// hooks (waiting until no CPU runs them) before `shared` is freed.
pub(crate) struct NetState {
    hooks: Option<netfilter::Registration>,
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
                    rx_enabled: AtomicBool::new(cfg.rx_enable),
                    replay_window: AtomicU32::new(cfg.replay_window),
                    replay_disabled: AtomicBool::new(cfg.replay_disabled),
                    sa_table <- BhSpinLock::new(SaTable::new()?),
                    config <- new_mutex!(cfg),
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
            Ok(NetState { hooks: Some(hooks), shared })
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
        // No packet of this namespace reaches the receive path any more (its
        // devices are gone: device pernet exits run before subsystems'), and
        // no decryption is pending for it (each holds its device). Give the
        // windows back to XFRM.
        self.shared.sa_table.lock().flush();
    }
}
