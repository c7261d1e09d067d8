// SPDX-License-Identifier: GPL-2.0

//! The state of ipsec_rs in one network namespace.

use crate::{
    counters::Counters,
    globals,
    invalid_spi::{self, Limiter},
    natt, nl, rust,
    rust::net::{Net, PernetId, PernetState},
    rust::{
        netfilter,
        rcu::RcuSlots,
        sync::BhSpinLock,
        tunnel::{Vti, XfrmIf},
    },
    sa::SaTable,
    settings::Settings,
};
use kernel::{new_mutex, prelude::*, sync::Mutex};

static NET_ID: PernetId = PernetId::new();

/// The state of ipsec_rs in one namespace: the pernet state itself, built in
/// place in the namespace's slot (`PernetState`) and dropped by its exit.
/// Reached through the hooks' private pointer in softirq and through
/// `PerNet::get(net)` (the receive path, netlink).
///
/// Locks and their owners:
/// - `settings`: the configuration, one RCU snapshot: no lock for readers
///   (the packet paths, GET requests); written by `config.rs` alone, under
///   `writer`.
/// - `writer`: mutex, process context only; serialises configuration
///   changes (`config::apply`) and owns the hook registrations it makes.
///   Taken before `limiter` and the SA table's lock, never inside them.
/// - `limiter`: BH spinlock; taken by the packet path (softirq) for one
///   limiter decision, and by `config.rs` to swap in a resized limiter.
///   Nothing sleeps or allocates under it.
/// - `sa_table`: read without a lock (RCU) by the receive path; its BH
///   spinlock is taken to add an SA's entry (softirq) and to flush
///   (process context). Inside it, an SA's own lock (`x->lock`) may be
///   taken (seeding a new window, writing windows back); never the other
///   way round.
#[pin_data(PinnedDrop)]
pub(crate) struct PerNet {
    /// The configuration's writer lock, and the hooks it registered. First,
    /// so that dropping a `PerNet` unregisters the hooks before anything
    /// they use goes (its drop does it explicitly before that).
    #[pin]
    pub(crate) writer: Mutex<Engaged>,
    /// Counters of this namespace.
    pub(crate) counters: Counters,
    /// Rate limiter of invalid-SPI events and log lines.
    #[pin]
    pub(crate) limiter: BhSpinLock<Limiter>,
    /// The SAs the receive path decapsulates (see `sa.rs`).
    #[pin]
    pub(crate) sa_table: SaTable,
    /// The configuration: global, per SA, per interface.
    pub(crate) settings: Settings,
    /// The namespace's vti and vti6 devices, held (`vti.rs`): read without
    /// a lock (RCU) by the observer above vti; written by the netdevice
    /// notifier, under RTNL.
    pub(crate) tunnels: RcuSlots<Vti>,
    /// The namespace's XFRM interfaces, held (`tunnels.rs`): read under RCU
    /// by the receive path, written by the same notifier.
    pub(crate) xfrm_ifs: RcuSlots<XfrmIf>,
}

/// The hooks a namespace's configuration engaged; each registration points
/// to the namespace's `PerNet`.
#[derive(Default)]
pub(crate) struct Engaged {
    /// The outbound hooks (`output.rs`), registered the first time a DF or
    /// pre-fragmentation setting is made in the namespace: until then no
    /// packet pays for them.
    pub(crate) outbound: Option<netfilter::Registration>,
    /// The NAT-T accounting hooks (`natt.rs`), registered while
    /// `natt_accounting` is on.
    pub(crate) natt: Option<netfilter::Registration>,
}

impl PernetState for PerNet {
    fn id() -> &'static PernetId {
        &NET_ID
    }

    /// The state of a new namespace, built in place in its pernet slot
    /// (whose address is stable for the namespace's life, so hooks may
    /// point into it), then what its initial configuration engages.
    fn init(net: &Net) -> impl PinInit<Self, Error> {
        // The module's parameters (`params.rs`), published before the
        // pernet registration.
        let cfg = globals::get().map_or(nl::GlobalConfig::DEFAULT, |g| g.defaults);
        let fields = move |limiter| {
            try_pin_init!(PerNet {
                writer <- new_mutex!(Engaged::default()),
                counters: Counters::new()?,
                limiter <- BhSpinLock::new(
                    limiter,
                    kernel::c_str!("ipsec_rs_limiter"),
                    kernel::static_lock_class!(),
                ),
                sa_table <- SaTable::new(),
                settings: Settings::new(&cfg)?,
                tunnels: RcuSlots::new()?,
                xfrm_ifs: RcuSlots::new()?,
            }? Error)
        };
        // SAFETY: on success every field of `*slot` is initialised; on error
        // whatever was initialised is dropped again before returning, so
        // nothing is left (the kernel then calls no exit for this slot).
        // `slot` is valid, pinned, uninitialised memory (the pernet slot).
        unsafe {
            rust::compat::pin_init_from_closure(move |slot: *mut Self| {
                let limiter = invalid_spi::new_limiter(&cfg)?;
                rust::compat::pinned_init(fields(limiter), slot)?;
                // SAFETY: initialised just above, pinned in the slot.
                let st = &*slot;
                let engaged = if cfg.natt_accounting {
                    // SAFETY: the counters of the pinned state, kept with the
                    // registration in its `writer`, which `drop` empties
                    // (unregistering) before anything else of it goes;
                    // `net` outlives its pernet state.
                    natt::register(net, &st.counters).map(|r| st.writer.lock().natt = Some(r))
                } else {
                    Ok(())
                };
                if let Err(e) = engaged {
                    core::ptr::drop_in_place(slot);
                    return Err(e);
                }
                Ok(())
            })
        }
    }
}

#[pinned_drop]
impl PinnedDrop for PerNet {
    fn drop(self: Pin<&mut Self>) {
        // Unregister before anything the hooks use goes (waiting until no
        // CPU runs them).
        {
            let mut w = self.writer.lock();
            w.natt.take();
            w.outbound.take();
        }
        // No packet of this namespace reaches the receive path any more (its
        // devices are gone: device pernet exits run before subsystems'), and
        // no decryption is pending for it (each holds its device). Give the
        // windows back to XFRM.
        self.sa_table.flush();
    }
}

/// Hands every namespace's SAs back to XFRM (module unload, before the
/// receive path is unregistered: otherwise XFRM would decapsulate, for a
/// moment, with the replay state it had when we took the SA over). Process
/// context, while the pernet registration holds (every namespace on the
/// kernel's list has its state).
pub(crate) fn hand_back_all() {
    rust::net::for_each_net(|net| PerNet::get(net).sa_table.flush());
}
