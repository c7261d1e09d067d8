// SPDX-License-Identifier: GPL-2.0

//! The state of ipsec_rs in one network namespace.

use crate::{
    counters::Counters,
    invalid_spi::{self, Limiter},
    kapi::net::{Net, PernetId, PernetState},
    kapi::{netfilter, sync::BhSpinLock},
    natt, nl, output,
    sa::SaTable,
    settings::Settings,
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
///   configuration changes, including every write of `settings`. Taken
///   before `limiter`, never inside it.
/// - `settings`: no lock for readers (RCU); writers hold `config`.
/// - `sa_table`: read without a lock (RCU) by the receive path; its BH
///   spinlock is taken to add an SA's entry (softirq) and to flush
///   (process context). Inside it, an SA's own lock (`x->lock`) may be
///   taken (seeding a new window, writing windows back); never the other
///   way round.
/// - `out_hooks`, `in_hooks`: mutexes, process context only; taken by
///   netlink under `config` to register (and `in_hooks` to unregister)
///   the outbound and NAT-T accounting hooks, and by `NetState::drop` to
///   unregister them.
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
    pub(crate) sa_table: SaTable,
    /// The configuration of this namespace.
    #[pin]
    pub(crate) config: Mutex<nl::GlobalConfig>,
    /// Per-SA, per-interface and global DF / pre-fragmentation / replay
    /// settings, read lock-free by the packet paths.
    pub(crate) settings: Settings,
    /// The outbound hooks (`output.rs`), registered the first time a DF or
    /// pre-fragmentation setting is made in the namespace: until then no
    /// packet pays for them. They point to this `Shared`.
    #[pin]
    out_hooks: Mutex<Option<netfilter::Registration>>,
    /// The NAT-T accounting hooks (`natt.rs`), registered while
    /// `config.natt_accounting` is on. They point to this `Shared`.
    #[pin]
    in_hooks: Mutex<Option<netfilter::Registration>>,
}

impl Shared {
    /// Registers the outbound hooks if they are not yet: called before a DF
    /// or pre-fragmentation setting is published, so that a failure leaves
    /// everything as it was. Process context, `config` held.
    pub(crate) fn engage_outbound(&self, net: &Net) -> Result {
        let mut hooks = self.out_hooks.lock();
        if hooks.is_none() {
            // SAFETY: `self` is the pinned, heap-allocated `Shared` of `net`'s
            // `NetState`, whose `drop()` unregisters these hooks (taking them
            // out of `out_hooks`) before `self` is freed; `net` outlives its
            // pernet state. `Outbound` is a `repr(transparent)` view of
            // `Shared`, so the pointer is valid for it.
            let reg = unsafe {
                netfilter::Registration::new(net, &output::HOOKS, (self as *const Shared).cast::<output::Outbound>())?
            };
            *hooks = Some(reg);
        }
        Ok(())
    }

    /// Registers (`on`) or unregisters the NAT-T accounting hooks. Process
    /// context, `config` held; unregistering waits for running hooks.
    pub(crate) fn set_natt_accounting(&self, net: &Net, on: bool) -> Result {
        let mut hooks = self.in_hooks.lock();
        if on && hooks.is_none() {
            // SAFETY: as in `engage_outbound`: `self` is the pinned `Shared`
            // of `net`'s `NetState`, whose `drop()` unregisters these hooks
            // (taking them out of `in_hooks`) before `self` is freed.
            *hooks = Some(unsafe { netfilter::Registration::new(net, &natt::HOOKS, self as *const Shared)? });
        } else if !on {
            hooks.take();
        }
        Ok(())
    }
}

/// Per-namespace state, created by the pernet `init` callback and dropped by
/// `exit`.
///
/// Owners: `shared.in_hooks` and `shared.out_hooks` hold pointers to
/// `*shared`; `drop()` unregisters both (waiting until no CPU runs them)
/// before `shared` is freed.
pub(crate) struct NetState {
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
                    limiter <- BhSpinLock::new(limiter, kernel::c_str!("ipsec_rs_limiter"), kernel::static_lock_class!()),
                    rx_enabled: AtomicBool::new(cfg.rx_enable),
                    replay_window: AtomicU32::new(cfg.replay_window),
                    replay_disabled: AtomicBool::new(cfg.replay_disabled),
                    sa_table <- SaTable::new(),
                    config <- new_mutex!(cfg),
                    settings: Settings::new(&cfg)?,
                    out_hooks <- new_mutex!(None),
                    in_hooks <- new_mutex!(None),
                }? Error),
                GFP_KERNEL,
            )?;
            // No one else sees `shared` yet: `config` need not be held.
            shared.set_natt_accounting(net, cfg.natt_accounting)?;
            registry_add(&shared)?;
            Ok(NetState { shared })
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
        self.shared.in_hooks.lock().take();
        self.shared.out_hooks.lock().take();
        // No packet of this namespace reaches the receive path any more (its
        // devices are gone: device pernet exits run before subsystems'), and
        // no decryption is pending for it (each holds its device). Give the
        // windows back to XFRM.
        self.shared.sa_table.flush();
        registry_remove(&self.shared);
    }
}

/// The `Shared` of every namespace (their addresses), so that module
/// unload can hand every SA back to XFRM *before* the receive path is
/// unregistered: otherwise XFRM would decapsulate, for a moment, with the
/// replay state it had when we took the SA over.
///
/// Owner: the module (`IpsecRs`), which creates it before the pernet
/// registration and frees it after; namespaces add themselves in `init`
/// and remove themselves in `drop` (process context, under the mutex).
#[pin_data(PinnedDrop)]
pub(crate) struct Registry {
    #[pin]
    list: Mutex<KVec<usize>>,
}

static REGISTRY: core::sync::atomic::AtomicPtr<Registry> = core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

impl Registry {
    /// A new, empty registry, published for the namespaces (process context).
    pub(crate) fn new() -> Result<Pin<KBox<Registry>>> {
        let r = KBox::pin_init(pin_init!(Registry { list <- new_mutex!(KVec::new()) }), GFP_KERNEL)?;
        REGISTRY.store(&*r as *const Registry as *mut Registry, core::sync::atomic::Ordering::Release);
        Ok(r)
    }

    /// Hands every namespace's SAs back to XFRM (module unload, before the
    /// receive path is unregistered). Process context.
    pub(crate) fn hand_back_all(&self) {
        let list = self.list.lock();
        for &p in list.iter() {
            // SAFETY: an address in the list is a live, pinned `Shared`: its
            // `NetState` removes it (under this mutex, which we hold) before
            // freeing it.
            let shared = unsafe { &*(p as *const Shared) };
            shared.sa_table.flush();
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Registry {
    fn drop(self: Pin<&mut Self>) {
        REGISTRY.store(core::ptr::null_mut(), core::sync::atomic::Ordering::Release);
    }
}

fn registry() -> Option<&'static Registry> {
    let p = REGISTRY.load(core::sync::atomic::Ordering::Acquire);
    // SAFETY: published by `Registry::new()` and cleared by its `drop()`,
    // which runs after the pernet registration is gone (the module's field
    // order), so every namespace callback sees a live registry.
    unsafe { p.as_ref() }
}

fn registry_add(shared: &Shared) -> Result {
    if let Some(r) = registry() {
        r.list.lock().push(shared as *const Shared as usize, GFP_KERNEL)?;
    }
    Ok(())
}

fn registry_remove(shared: &Shared) {
    if let Some(r) = registry() {
        let mut l = r.list.lock();
        let me = shared as *const Shared as usize;
        // No `swap_remove` in this kernel's KVec: move the last one here.
        if let Some(i) = l.iter().position(|&p| p == me) {
            let n = l.len();
            if let Some(&last) = l.get(n - 1) {
                if let Some(slot) = l.get_mut(i) {
                    *slot = last;
                }
            }
            // SAFETY: `n >= 1` (we found an element); the elements are `usize`.
            unsafe { l.set_len(n - 1) };
        }
    }
}
