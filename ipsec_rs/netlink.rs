// SPDX-License-Identifier: GPL-2.0

//! The generic-netlink family `ipsec_rs`: counters, settings and events.
//!
//! The wire format (commands, attributes, their types and ranges) is the
//! core crate's `nl` module, shared with the userspace tools and checked
//! against the YAML spec; this file maps requests to the module's state.
//! Each command's request is validated by the kernel against a policy built
//! from the core's table of its attribute set (strictly: an unknown
//! attribute, a wrong length or a value out of range is rejected with an
//! extended-ACK message pointing at the attribute); the core's decoders then
//! check what a policy cannot say (an address of the family's length,
//! settings that exclude each other).

use crate::{
    counters,
    invalid_spi,
    kapi::genetlink::{self, Dump, OpSpec, Request},
    kapi::net::{Net, PernetState},
    netns::{NetState, Shared},
    nl::{self, cmd, IfConfig, SaConfig, Unknown},
    settings::SetError,
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

/// What became of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// At least one listener of the namespace received it (or the family is
    /// going away with the module, and with it the counters).
    Delivered,
    /// Nobody in the namespace listened.
    Unheard,
    /// Lost: no memory to build it, or a listener's receive buffer was full.
    Lost,
}

/// Multicasts an invalid-SPI event to listeners in `net`. Softirq-safe.
pub(crate) fn notify_invalid_spi(net: &Net, ev: &nl::InvalidSpiEvent) -> Delivery {
    let f = FAMILY.load(Ordering::Acquire);
    if f.is_null() {
        return Delivery::Delivered;
    }
    let mut buf = [0u8; 160];
    let Ok(n) = ev.encode(&mut buf) else { return Delivery::Lost };
    // SAFETY: a non-null pointer was published by `publish()` and stays valid
    // until `unpublish()` has waited for every hook (we run in one).
    let f = unsafe { &*f };
    match f.multicast(net, 0, cmd::EVENT_INVALID_SPI, buf.get(..n).unwrap_or(&[])) {
        Ok(()) => Delivery::Delivered,
        Err(e) if e == ESRCH => Delivery::Unheard,
        Err(_) => Delivery::Lost,
    }
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
                // Settings the packet paths read lock-free: publish first, so
                // a failure leaves everything as it was.
                let frag_changed = new.frag_settings() != cfg.frag_settings();
                if frag_changed {
                    st.engage_outbound(req.net())?;
                }
                if frag_changed || new.replay_mode() != cfg.replay_mode() {
                    st.settings.set_global(&mut cfg, &new).map_err(|e| set_error(req, e))?;
                }
                if new.rate_config() != cfg.rate_config() || new.flow_table_size != cfg.flow_table_size {
                    // Allocate outside the BH lock; swap under it; free the
                    // old table after unlocking (process context).
                    let mut fresh = invalid_spi::new_limiter(&new)?;
                    core::mem::swap(&mut *st.limiter.lock(), &mut fresh);
                    drop(fresh);
                }
                // Last of the steps that can fail (registering the hooks).
                if new.natt_accounting != cfg.natt_accounting {
                    st.set_natt_accounting(req.net(), new.natt_accounting)?;
                }
                st.invalid_spi_enabled.store(new.invalid_spi_enable, Ordering::Relaxed);
                st.replay_window.store(new.replay_window, Ordering::Relaxed);
                st.replay_disabled.store(new.replay_disabled, Ordering::Relaxed);
                if cfg.rx_enable && !new.rx_enable {
                    // Switching the receive path off hands the SAs back to
                    // XFRM: give it our windows (flush writes them back).
                    // Once no handler can still see the path on, no packet
                    // starts our checks; a decryption still pending advances
                    // XFRM's replay state too when it completes (retired
                    // entries, `esp_input.rs`).
                    st.rx_enabled.store(false, Ordering::Relaxed);
                    crate::kapi::synchronize_net();
                    st.sa_table.flush();
                }
                if new.rx_enable && !cfg.rx_enable {
                    st.sa_table.reopen();
                }
                st.rx_enabled.store(new.rx_enable, Ordering::Relaxed);
                *cfg = new;
                Ok(())
            }
            cmd::SA_GET | cmd::SA_SET => sa_cmd(st, command, req),
            cmd::IF_GET | cmd::IF_SET => if_cmd(st, command, req),
            _ => {
                req.set_err_msg(c"command not supported by this module version");
                Err(crate::kapi::errno::eopnotsupp())
            }
        }
    }

    fn dumpit(&self, command: u8, d: &mut Dump<'_>) -> Result {
        let st = NetState::get(d.net()).shared();
        dump(st, command, d)
    }
}

/// Maps a refused settings change to errno and extended-ACK message.
fn set_error(req: &Request<'_>, e: SetError) -> kernel::error::Error {
    match e {
        SetError::NoSuchSa => {
            req.set_err_msg(c"no such SA in XFRM (family, daddr, spi, proto; unmarked SAs only)");
            ENOENT
        }
        SetError::NoSuchDevice => {
            req.set_err_msg(c"no such interface in this network namespace");
            ENODEV
        }
        SetError::Full => {
            req.set_err_msg(c"too many overrides in this namespace (see the admin guide for the limits)");
            ENOSPC
        }
        SetError::NoMem => ENOMEM,
    }
}

/// Decodes a request with the core's strict decoder, reporting its error.
fn decode<T>(req: &Request<'_>, f: impl FnOnce(&[u8]) -> Result<T, nl::NlError>) -> Result<T> {
    f(req.payload()).map_err(|e| {
        req.set_err_msg(e.cmsg);
        EINVAL
    })
}

/// `SA_GET` (one SA; a dump is `dumpit`) and `SA_SET`.
fn sa_cmd(st: &Shared, command: u8, req: &Request<'_>) -> Result {
    let c = decode(req, |b| SaConfig::decode(b, Unknown::Reject))?;
    let mut cfg = st.config.lock();
    if command == cmd::SA_SET {
        if c.frag.df.is_some() || c.frag.prefrag.is_some() {
            st.engage_outbound(req.net())?;
        }
        return st.settings.set_sa(&mut cfg, req.net(), &c).map_err(|e| set_error(req, e));
    }
    if c.replay.is_some() || c.frag.df.is_some() || c.frag.prefrag.is_some() {
        req.set_err_msg(c"SA_GET takes only the SA selector");
        return Err(EINVAL);
    }
    let got = st.settings.sa_get(&mut cfg, req.net(), &c.sel).map_err(|e| set_error(req, e))?;
    drop(cfg);
    reply_with(req, cmd::SA_GET, |b| got.encode(b))
}

/// `IF_GET` (one interface) and `IF_SET`.
fn if_cmd(st: &Shared, command: u8, req: &Request<'_>) -> Result {
    let c = decode(req, |b| IfConfig::decode(b, Unknown::Reject))?;
    let mut cfg = st.config.lock();
    if command == cmd::IF_SET {
        st.engage_outbound(req.net())?;
        return st.settings.set_if(&mut cfg, req.net(), &c).map_err(|e| set_error(req, e));
    }
    if c.frag.df.is_some() || c.frag.prefrag.is_some() {
        req.set_err_msg(c"IF_GET takes only the interface index");
        return Err(EINVAL);
    }
    let got = st.settings.if_get(&mut cfg, req.net(), c.ifindex).map_err(|e| set_error(req, e))?;
    drop(cfg);
    reply_with(req, cmd::IF_GET, |b| got.encode(b))
}

/// Dumps every SA or interface with overrides, a few per round. Each round
/// takes a fresh copy (stale entries pruned) and resumes at the cursor's
/// index: entries added or removed between rounds may shift the rest.
fn dump(st: &Shared, command: u8, d: &mut Dump<'_>) -> Result {
    let map = |e| match e {
        SetError::NoMem => ENOMEM,
        _ => EINVAL,
    };
    let mut buf = [0u8; 128];
    let mut pos = d.cursor();
    // Copy the entries under the config mutex, then encode without it.
    let mut cfg = st.config.lock();
    match command {
        cmd::SA_GET => {
            let list = st.settings.sa_list(&mut cfg, d.net()).map_err(map)?;
            drop(cfg);
            while let Some(e) = list.get(pos) {
                let n = e.encode(&mut buf).map_err(|_| crate::kapi::errno::emsgsize())?;
                if !d.add(command, buf.get(..n).unwrap_or(&[]))? {
                    break;
                }
                pos += 1;
            }
        }
        cmd::IF_GET => {
            let list = st.settings.if_list(&mut cfg, d.net()).map_err(map)?;
            drop(cfg);
            while let Some(e) = list.get(pos) {
                let n = e.encode(&mut buf).map_err(|_| crate::kapi::errno::emsgsize())?;
                if !d.add(command, buf.get(..n).unwrap_or(&[]))? {
                    break;
                }
                pos += 1;
            }
        }
        _ => return Err(crate::kapi::errno::eopnotsupp()),
    }
    d.set_cursor(pos);
    Ok(())
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
            OpSpec { cmd: cmd::GET_STATS, admin: false, dump: false, attrs: &[] },
            OpSpec { cmd: cmd::GET_CONFIG, admin: false, dump: false, attrs: &[] },
            OpSpec { cmd: cmd::SET_CONFIG, admin: true, dump: false, attrs: nl::config_attr::SPECS },
            OpSpec { cmd: cmd::SA_GET, admin: false, dump: true, attrs: nl::sa_attr::SPECS },
            OpSpec { cmd: cmd::SA_SET, admin: true, dump: false, attrs: nl::sa_attr::SPECS },
            OpSpec { cmd: cmd::IF_GET, admin: false, dump: true, attrs: nl::if_attr::SPECS },
            OpSpec { cmd: cmd::IF_SET, admin: true, dump: false, attrs: nl::if_attr::SPECS },
        ],
        &[c_str!("events")],
        Handler,
    )?;
    Ok(KBox::new(f, GFP_KERNEL)?)
}
