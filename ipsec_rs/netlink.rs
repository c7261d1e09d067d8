// SPDX-License-Identifier: GPL-2.0

//! The generic-netlink family `ipsec_rs`: counters, settings and events.
//!
//! The wire format (commands, attributes, their types) is the core crate's
//! `nl` module, shared with the userspace tools; this file maps requests to
//! the module's state. Requests are validated by the core's strict decoders
//! (unknown attributes and wrong sizes are rejected, with an extended-ACK
//! message), not by a family-wide kernel policy: the attribute sets of the
//! commands overlap in numbering with different types.

use crate::{
    counters,
    invalid_spi,
    kapi::genetlink::{self, OpSpec, Request},
    kapi::net::{Net, PernetState},
    netns::NetState,
    nl::{self, cmd, Unknown},
};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{c_str, prelude::*};

/// The registered family.
pub(crate) type Family = genetlink::Family<Handler>;

/// The family, for sending events from the packet hooks.
///
/// Owner: the module (`IpsecRs`), which publishes it after registering it,
/// and before unregistering it clears this pointer and waits
/// (`synchronize_net()`) until no hook, all of which run inside RCU
/// read-side sections, can still be using it.
static FAMILY: AtomicPtr<Family> = AtomicPtr::new(core::ptr::null_mut());

/// Publishes the family to the hooks.
pub(crate) fn publish(f: &Family) {
    FAMILY.store(f as *const Family as *mut Family, Ordering::Release);
}

/// Withdraws the family from the hooks and waits until none uses it.
pub(crate) fn unpublish() {
    FAMILY.store(core::ptr::null_mut(), Ordering::Release);
    crate::kapi::synchronize_net();
}

/// Multicasts an invalid-SPI event to listeners in `net`. Softirq-safe.
pub(crate) fn notify_invalid_spi(net: &Net, ev: &nl::InvalidSpiEvent) {
    let f = FAMILY.load(Ordering::Acquire);
    if f.is_null() {
        return;
    }
    let mut buf = [0u8; 160];
    let Ok(n) = ev.encode(&mut buf) else { return };
    // SAFETY: a non-null pointer was published by `publish()` and stays valid
    // until `unpublish()` has waited for every hook (we run in one).
    let f = unsafe { &*f };
    // ESRCH (nobody listening) is normal; ENOMEM under memory pressure loses
    // the event but the log line and counters still record the miss.
    let _ = f.multicast(net, 0, cmd::EVENT_INVALID_SPI, buf.get(..n).unwrap_or(&[]));
}

/// Handles requests; stateless (state is per namespace, in `NetState`).
pub(crate) struct Handler;

/// Room for the largest reply: every counter is 12 bytes.
const REPLY_BYTES: usize = 12 * nl::stats_attr::MAX as usize + 64;

fn reply_with(req: &Request<'_>, command: u8, enc: impl FnOnce(&mut [u8]) -> Result<usize, nl::NoSpace>) -> Result {
    let mut buf = [0u8; REPLY_BYTES];
    let n = enc(&mut buf).map_err(|_| crate::kapi::errno::emsgsize())?;
    req.reply(command, buf.get(..n).ok_or(EINVAL)?)
}

impl genetlink::Handler for Handler {
    fn doit(&self, command: u8, req: &Request<'_>) -> Result {
        let st = NetState::get(req.net()).shared();
        match command {
            cmd::GET_STATS | cmd::GET_CONFIG if !req.payload().is_empty() => {
                req.set_err_msg(c"this command takes no attributes");
                Err(EINVAL)
            }
            cmd::GET_STATS => reply_with(req, cmd::GET_STATS, |b| counters::snapshot(&st.counters).encode(b)),
            cmd::GET_CONFIG => {
                let cfg = *st.config.lock();
                reply_with(req, cmd::GET_CONFIG, |b| cfg.encode(b))
            }
            cmd::SET_CONFIG => {
                let mut cfg = st.config.lock();
                let new = match cfg.patched(req.payload(), Unknown::Reject) {
                    Ok(n) => n,
                    Err(e) => {
                        req.set_err_msg(e.cmsg);
                        return Err(EINVAL);
                    }
                };
                if new.rate_config() != cfg.rate_config() || new.flow_table_size != cfg.flow_table_size {
                    // Allocate outside the BH lock; swap under it; free the
                    // old table after unlocking (process context).
                    let mut fresh = invalid_spi::new_limiter(&new)?;
                    core::mem::swap(&mut *st.limiter.lock(), &mut fresh);
                    drop(fresh);
                }
                st.invalid_spi_enabled.store(new.invalid_spi_enable, Ordering::Relaxed);
                st.replay_window.store(new.replay_window, Ordering::Relaxed);
                st.replay_disabled.store(new.replay_disabled, Ordering::Relaxed);
                if cfg.rx_enable && !new.rx_enable {
                    // Switching the receive path off hands the SAs back to
                    // XFRM: give it our windows (flush writes them back).
                    st.rx_enabled.store(false, Ordering::Relaxed);
                    crate::kapi::synchronize_net();
                    crate::kapi::crypto::wait_idle();
                    st.sa_table.lock().flush();
                }
                st.rx_enabled.store(new.rx_enable, Ordering::Relaxed);
                *cfg = new;
                Ok(())
            }
            _ => {
                req.set_err_msg(c"command not supported by this module version");
                Err(crate::kapi::errno::eopnotsupp())
            }
        }
    }
}

/// Registers the family: reading is open to all (like /proc/net/xfrm_stat);
/// every command that changes state needs CAP_NET_ADMIN in the namespace's
/// user namespace, and so does subscribing to events.
pub(crate) fn register(module: &'static ThisModule) -> Result<KBox<Family>> {
    let f = genetlink::Family::new(
        module,
        c_str!("ipsec_rs"),
        nl::FAMILY_VERSION.into(),
        &[
            OpSpec { cmd: cmd::GET_STATS, admin: false },
            OpSpec { cmd: cmd::GET_CONFIG, admin: false },
            OpSpec { cmd: cmd::SET_CONFIG, admin: true },
        ],
        &[c_str!("events")],
        Handler,
    )?;
    Ok(KBox::new(f, GFP_KERNEL)?)
}
