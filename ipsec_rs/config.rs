// SPDX-License-Identifier: GPL-2.0

//! Changing the configuration of one namespace: the one place that knows
//! what each change implies.
//!
//! The configuration itself is one RCU snapshot (`settings.rs`); the packet
//! paths and netlink's GET requests read it without locks. A change
//! (`SET_CONFIG`, `SA_SET`, `IF_SET`) builds the new snapshot, then does
//! what it implies, in an order that leaves everything as it was if a step
//! fails:
//!
//! 1. what can fail first: the snapshot (memory), the outbound hooks
//!    registered the first time a DF or pre-fragmentation setting is made
//!    (until then no packet pays for them), a limiter of the new size, the
//!    NAT-T accounting hooks when switched on;
//! 2. the receive path's SA table reopened when the receive path is
//!    switched on (before anyone can see it on);
//! 3. the snapshot published (which waits for a grace period: from then on
//!    no packet path sees the old one);
//! 4. what cannot fail: the limiter swapped in, the NAT-T hooks
//!    unregistered when switched off, and, when the receive path is
//!    switched off, the SA table flushed, which hands the SAs back to XFRM
//!    with our windows written into its replay state (a decryption still
//!    pending advances XFRM's replay state too when it completes: retired
//!    entries, `esp_input.rs`).
//!
//! Writers are serialised by the namespace's writer mutex, which also owns
//! the hook registrations (`netns::Engaged`; a new namespace registers
//! those its initial configuration needs itself, `netns.rs`). Process
//! context only.

use crate::{
    esp_input, invalid_spi, natt,
    netns::{Engaged, PerNet},
    nl::{IfConfig, SaConfig, Unknown},
    output,
    rust::{net::Net, netfilter},
    settings::SetError,
};
use kernel::prelude::*;

/// A change of configuration, as netlink decoded it.
pub(crate) enum Change<'a> {
    /// `SET_CONFIG`: the attributes to patch the global configuration with.
    Global(&'a [u8]),
    /// `SA_SET`: one SA's overrides.
    Sa(&'a SaConfig),
    /// `IF_SET`: one interface's overrides.
    If(&'a IfConfig),
}

/// Why a change was refused; nothing changed.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The request does not make a valid configuration (the reason, for the
    /// extended ACK).
    Invalid(&'static core::ffi::CStr),
    /// The settings tables refused it.
    Settings(SetError),
    /// A kernel resource failed (memory, hook registration).
    Errno(Error),
}

impl From<SetError> for Refused {
    fn from(e: SetError) -> Self {
        Refused::Settings(e)
    }
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Errno(e)
    }
}

/// Applies `change` to the configuration of `st`, the state of `net`.
pub(crate) fn apply(net: &Net, st: &PerNet, change: Change<'_>) -> Result<(), Refused> {
    let mut w = st.writer.lock();
    match change {
        Change::Global(attrs) => {
            let old = st.settings.global();
            let new = old
                .patched(attrs, Unknown::Reject)
                .map_err(|e| Refused::Invalid(e.cmsg))?;
            let snap = st.settings.with_global(&new)?;
            if new.frag_settings() != old.frag_settings() {
                engage_outbound(net, st, &mut w)?;
            }
            let limiter = if new.rate_config() != old.rate_config()
                || new.flow_table_size != old.flow_table_size
            {
                Some(invalid_spi::new_limiter(&new)?)
            } else {
                None
            };
            if new.natt_accounting && w.natt.is_none() {
                // SAFETY: kept in `st.writer`: see `engage_outbound`.
                w.natt = Some(unsafe { natt::register(net, &st.counters)? });
            }
            if new.rx_enable && !old.rx_enable {
                st.sa_table.reopen();
                esp_input::warn_if_gro_offload();
            }
            st.settings.publish(snap);
            if let Some(mut fresh) = limiter {
                // Swapped under the BH lock; the old table freed after
                // unlocking (process context).
                core::mem::swap(&mut *st.limiter.lock(), &mut fresh);
                drop(fresh);
            }
            if !new.natt_accounting {
                // Waits until no CPU runs the hooks.
                w.natt.take();
            }
            if old.rx_enable && !new.rx_enable {
                // No handler sees the receive path on any more (`publish`
                // waited for a grace period): give XFRM our windows.
                st.sa_table.flush();
            }
        }
        Change::Sa(c) => {
            let snap = st.settings.with_sa(net, c)?;
            if c.frag.df.is_some() || c.frag.prefrag.is_some() {
                engage_outbound(net, st, &mut w)?;
            }
            st.settings.publish(snap);
        }
        Change::If(c) => {
            let snap = st.settings.with_if(net, c)?;
            engage_outbound(net, st, &mut w)?;
            st.settings.publish(snap);
        }
    }
    Ok(())
}

/// Registers the outbound hooks if they are not yet.
fn engage_outbound(net: &Net, st: &PerNet, w: &mut Engaged) -> Result {
    if w.outbound.is_none() {
        // SAFETY: `st` is the pinned `PerNet` of `net`'s pernet state; the
        // registration is kept in `st.writer` (`Engaged`), which is
        // emptied, unregistering, before anything else of `st` is dropped
        // (`PerNet`'s drop, and `writer` is its first field); `net`
        // outlives its pernet state.
        w.outbound = Some(unsafe {
            netfilter::Registration::new::<output::Outbound>(net, &output::HOOKS, st)?
        });
    }
    Ok(())
}
