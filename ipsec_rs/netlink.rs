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
    config::{self, Change, Refused},
    counters, esp, esp_input,
    netns::PerNet,
    nl::{self, cmd, IfConfig, SaConfig, Unknown},
    rust::genetlink::{self, Dump, OpSpec, Request},
    rust::net::PernetState,
    rust::xfrm,
    settings::SetError,
};
use kernel::{c_str, prelude::*};

/// The registered family.
pub(crate) type Family = genetlink::Family<Handler>;

/// Handles requests; stateless (state is per namespace, `netns::PerNet`).
pub(crate) struct Handler;

/// Room for the largest reply: every counter is 12 bytes.
const REPLY_BYTES: usize = 12 * nl::stats_attr::MAX as usize + 64;

fn reply_with(
    req: &Request<'_>,
    command: u8,
    enc: impl FnOnce(&mut [u8]) -> Result<usize, nl::NoSpace>,
) -> Result {
    let mut buf = [0u8; REPLY_BYTES];
    let n = enc(&mut buf).map_err(|_| crate::rust::errno::emsgsize())?;
    req.reply(command, buf.get(..n).ok_or(EINVAL)?)
}

impl genetlink::Handler for Handler {
    fn doit(&self, command: u8, req: &Request<'_>) -> Result {
        let st = PerNet::get(req.net());
        match command {
            cmd::GET_STATS => reply_with(req, cmd::GET_STATS, |b| {
                counters::snapshot(&st.counters).encode(b)
            }),
            cmd::GET_CONFIG => {
                let cfg = st.settings.global();
                reply_with(req, cmd::GET_CONFIG, |b| cfg.encode(b))
            }
            cmd::SET_CONFIG => config::apply(req.net(), st, Change::Global(req.payload()))
                .map_err(|e| refused(req, e)),
            cmd::SA_GET | cmd::SA_SET => sa_cmd(st, command, req),
            cmd::SA_STATE_GET => {
                let sel = decode(req, nl::SaState::decode_selector)?;
                let daddr = sel.daddr.bytes;
                let Some(x) = xfrm::lookup(
                    req.net(),
                    0,
                    &daddr,
                    sel.spi,
                    sel.proto,
                    sel.daddr.family.af(),
                ) else {
                    req.set_err_msg(c"no such SA in XFRM (family, daddr, spi; unmarked SAs only)");
                    return Err(ENOENT);
                };
                let v = esp_input::sa_view(st, &x);
                reply_with(req, cmd::SA_STATE_GET, |b| v.encode(b))
            }
            cmd::IF_GET | cmd::IF_SET => if_cmd(st, command, req),
            _ => {
                req.set_err_msg(c"command not supported by this module version");
                Err(crate::rust::errno::eopnotsupp())
            }
        }
    }

    fn dumpit(&self, command: u8, d: &mut Dump<'_>) -> Result {
        let st = PerNet::get(d.net());
        dump(st, command, d)
    }
}

/// Maps a refused change to errno and extended-ACK message.
fn refused(req: &Request<'_>, e: Refused) -> kernel::error::Error {
    match e {
        Refused::Invalid(msg) => {
            req.set_err_msg(msg);
            EINVAL
        }
        Refused::Settings(e) => set_error(req, e),
        Refused::Errno(e) => e,
    }
}

/// Maps a refused settings change or lookup to errno and extended-ACK message.
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
            req.set_err_msg(
                c"too many overrides in this namespace (see the admin guide for the limits)",
            );
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
fn sa_cmd(st: &PerNet, command: u8, req: &Request<'_>) -> Result {
    let c = decode(req, |b| SaConfig::decode(b, Unknown::Reject))?;
    if command == cmd::SA_SET {
        return config::apply(req.net(), st, Change::Sa(&c)).map_err(|e| refused(req, e));
    }
    if c.replay.is_some() || c.frag.df.is_some() || c.frag.prefrag.is_some() {
        req.set_err_msg(c"SA_GET takes only the SA selector");
        return Err(EINVAL);
    }
    let got = st
        .settings
        .sa_get(req.net(), &c.sel)
        .map_err(|e| set_error(req, e))?;
    reply_with(req, cmd::SA_GET, |b| got.encode(b))
}

/// `IF_GET` (one interface) and `IF_SET`.
fn if_cmd(st: &PerNet, command: u8, req: &Request<'_>) -> Result {
    let c = decode(req, |b| IfConfig::decode(b, Unknown::Reject))?;
    if command == cmd::IF_SET {
        return config::apply(req.net(), st, Change::If(&c)).map_err(|e| refused(req, e));
    }
    if c.frag.df.is_some() || c.frag.prefrag.is_some() {
        req.set_err_msg(c"IF_GET takes only the interface index");
        return Err(EINVAL);
    }
    let got = st
        .settings
        .if_get(req.net(), c.ifindex)
        .map_err(|e| set_error(req, e))?;
    reply_with(req, cmd::IF_GET, |b| got.encode(b))
}

/// Dumps every SA or interface with overrides, a few per round. Each round
/// takes a fresh copy (stale entries left out) and resumes at the cursor's
/// index: entries added or removed between rounds may shift the rest.
fn dump(st: &PerNet, command: u8, d: &mut Dump<'_>) -> Result {
    let map = |e| match e {
        SetError::NoMem => ENOMEM,
        _ => EINVAL,
    };
    if command == cmd::SA_STATE_GET {
        return dump_sa_states(st, d);
    }
    let mut buf = [0u8; 128];
    let mut pos = d.cursor();
    match command {
        cmd::SA_GET => {
            let list = st.settings.sa_list(d.net()).map_err(map)?;
            while let Some(e) = list.get(pos) {
                let n = e
                    .encode(&mut buf)
                    .map_err(|_| crate::rust::errno::emsgsize())?;
                if !d.add(command, buf.get(..n).unwrap_or(&[]))? {
                    break;
                }
                pos += 1;
            }
        }
        cmd::IF_GET => {
            let list = st.settings.if_list(d.net()).map_err(map)?;
            while let Some(e) = list.get(pos) {
                let n = e
                    .encode(&mut buf)
                    .map_err(|_| crate::rust::errno::emsgsize())?;
                if !d.add(command, buf.get(..n).unwrap_or(&[]))? {
                    break;
                }
                pos += 1;
            }
        }
        _ => return Err(crate::rust::errno::eopnotsupp()),
    }
    d.set_cursor(pos);
    Ok(())
}

/// SAs fetched from XFRM per page of the per-SA dump.
const SA_PAGE: usize = 128;

/// Dumps every ESP SA of the namespace (`SA_STATE_GET`), in XFRM's order,
/// resuming by count: each round fetches the next page of SAs (after the
/// cursor's count) and adds as many as fit. With SAs added or deleted
/// between rounds, one may be shown twice or not at all; a namespace whose
/// SAs do not change gets each exactly once.
fn dump_sa_states(st: &PerNet, d: &mut Dump<'_>) -> Result {
    let mut buf = [0u8; 512];
    let mut pos = d.cursor();
    loop {
        let page = xfrm::states(d.net(), esp::IPPROTO_ESP, pos, SA_PAGE)?;
        for x in page.iter() {
            let v = esp_input::sa_view(st, x);
            let n = v
                .encode(&mut buf)
                .map_err(|_| crate::rust::errno::emsgsize())?;
            if !d.add(cmd::SA_STATE_GET, buf.get(..n).unwrap_or(&[]))? {
                d.set_cursor(pos);
                return Ok(());
            }
            pos += 1;
        }
        if page.len() < SA_PAGE {
            break;
        }
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
        // Every command as the core's table gives it (its request policy,
        // permission and dump), so the kernel and the tools cannot disagree.
        &nl::COMMANDS.map(|c| OpSpec {
            cmd: c.cmd,
            admin: c.admin,
            dump: c.dump,
            attrs: c.request,
        }),
        &[c_str!("events")],
        Handler,
    )?;
    Ok(KBox::new(f, GFP_KERNEL)?)
}
