// SPDX-License-Identifier: GPL-2.0

//! A generic-netlink family: registration, request handling, replies and
//! multicast events.
//!
//! Attributes are encoded and decoded by the pure `nl` module of the core
//! crate, which userspace shares; this wrapper moves bytes.

use super::{bindings as b, net::Net};
use core::ffi::{c_char, c_int};
use kernel::{error::to_result, prelude::*, str::CStr, ThisModule};

/// One command of the family.
#[derive(Clone, Copy, Debug)]
pub struct OpSpec {
    /// Command number.
    pub cmd: u8,
    /// Requires CAP_NET_ADMIN in the namespace's user namespace
    /// (`GENL_UNS_ADMIN_PERM`): set on every command that changes state.
    pub admin: bool,
    /// Also answers dump requests (`NLM_F_DUMP`) through `Handler::dumpit`.
    pub dump: bool,
    /// The attributes the request may carry; the kernel rejects any other
    /// attribute, and any of these of the wrong size or out of range, before
    /// the handler runs (strict validation, with an extended-ACK message and
    /// the offending attribute). Empty: the request carries no attribute.
    pub attrs: &'static [AttrPolicy],
}

/// What the kernel accepts for one attribute of a request: the core's
/// description of an attribute (number, payload type, accepted values or, for
/// binary payloads, lengths), which is pure data about netlink, not about any
/// one family.
pub use crate::nl::{AttrSpec as AttrPolicy, AttrType};

/// Whether `min..=max` is narrower than what the type can carry (then the
/// policy checks the range).
fn ranged(a: &AttrPolicy) -> bool {
    let full = match a.ty {
        AttrType::U8 => u64::from(u8::MAX),
        AttrType::U16 => u64::from(u16::MAX),
        AttrType::U32 => u64::from(u32::MAX),
        AttrType::U64 => u64::MAX,
        AttrType::Binary => return true,
    };
    a.min != 0 || a.max != full
}

/// The kernel's policy of one command: one entry per attribute number up to
/// the highest, unlisted numbers rejected; the range checks the entries
/// point to live beside them.
///
/// # Invariants
///
/// `entries` has `maxattr + 1` elements; every entry whose validation type is
/// `NLA_VALIDATE_RANGE_PTR` points into `ranges`, whose buffer is never
/// reallocated after `new()` (both are only read afterwards).
struct Policy {
    entries: KVec<b::nla_policy>,
    // Read by the kernel only, through `entries`.
    #[allow(dead_code)]
    ranges: KVec<b::netlink_range_validation>,
}

impl Policy {
    fn new(attrs: &[AttrPolicy]) -> Result<Self> {
        let maxattr = attrs.iter().map(|a| usize::from(a.kind)).max().unwrap_or(0);
        let mut entries = KVec::with_capacity(maxattr + 1, GFP_KERNEL)?;
        for _ in 0..=maxattr {
            // NLA_REJECT: a number no attribute of this command has.
            entries.push(
                b::nla_policy {
                    type_: b::NLA_REJECT as u8,
                    ..Default::default()
                },
                GFP_KERNEL,
            )?;
        }
        // Attribute 0 carries the family-wide setting: validate every
        // attribute strictly.
        if let Some(e) = entries.get_mut(0) {
            e.type_ = b::NLA_UNSPEC as u8;
            e.__bindgen_anon_1.strict_start_type = 1;
        }
        let mut ranges = KVec::with_capacity(attrs.len(), GFP_KERNEL)?;
        for a in attrs.iter().filter(|a| ranged(a)) {
            ranges.push(
                b::netlink_range_validation {
                    min: a.min,
                    max: a.max,
                },
                GFP_KERNEL,
            )?;
        }
        // `ranges` is complete: its buffer no longer moves.
        let mut next_range = ranges.iter();
        for a in attrs {
            let e = entries.get_mut(usize::from(a.kind)).ok_or(EINVAL)?;
            e.type_ = match a.ty {
                AttrType::U8 => b::NLA_U8,
                AttrType::U16 => b::NLA_U16,
                AttrType::U32 => b::NLA_U32,
                AttrType::U64 => b::NLA_U64,
                AttrType::Binary => b::NLA_BINARY,
            } as u8;
            if ranged(a) {
                let r = next_range.next().ok_or(EINVAL)?;
                e.validation_type = b::nla_policy_validation::NLA_VALIDATE_RANGE_PTR as u8;
                // INVARIANT: points into `ranges`, complete and kept with
                // `entries` in the same `Policy`.
                e.__bindgen_anon_1.range = r;
            }
        }
        Ok(Self { entries, ranges })
    }
}

/// Handles the family's requests, in process context (may sleep).
pub trait Handler: Sync + Send + 'static {
    /// Handles command `cmd`. The reply, if any, goes through `req.reply()`.
    fn doit(&self, cmd: u8, req: &Request<'_>) -> Result;

    /// Handles one round of a dump of `cmd`: adds messages with
    /// `dump.add()` starting at the entry `dump.cursor()` names, and moves
    /// the cursor past what it added. The dump ends after a round that adds
    /// nothing.
    fn dumpit(&self, _cmd: u8, _dump: &mut Dump<'_>) -> Result {
        Err(super::errno::eopnotsupp())
    }
}

/// One round of a dump: a reply skb being filled.
pub struct Dump<'a> {
    skb: *mut b::sk_buff,
    cb: *mut b::netlink_callback,
    family: &'a b::genl_family,
    added: bool,
}

impl<'a> Dump<'a> {
    /// The requester's namespace.
    pub fn net(&self) -> &'a Net {
        // SAFETY: `cb` is live during the dump callback, and so is the
        // requesting socket's namespace.
        unsafe { Net::from_raw(b::ipsec_rs_dump_net(self.cb)) }
    }

    /// Where the previous round stopped (0 at the start).
    pub fn cursor(&self) -> usize {
        // SAFETY: `cb` is live; `args` is scratch space owned by the dump.
        unsafe { *b::ipsec_rs_dump_args(self.cb) as usize }
    }

    /// Saves where the next round starts.
    pub fn set_cursor(&mut self, c: usize) {
        // SAFETY: as above.
        unsafe { *b::ipsec_rs_dump_args(self.cb) = c as core::ffi::c_long };
    }

    /// Appends a message `cmd` carrying `attrs`. `Ok(false)` if it does not
    /// fit this round (the next round starts with it).
    pub fn add(&mut self, cmd: u8, attrs: &[u8]) -> Result<bool> {
        // Netlink header, genetlink header, the attributes.
        let need = 16 + 4 + attrs.len() + 8;
        // SAFETY: `skb` is the dump's reply buffer, ours during the callback.
        if unsafe { b::ipsec_rs_skb_tailroom(self.skb) } < need as u32 {
            return Ok(false);
        }
        // SAFETY: as above, with room checked; `family` is registered.
        unsafe {
            let hdr = b::ipsec_rs_dump_put(self.skb, self.cb, self.family, cmd);
            if hdr.is_null() {
                return Ok(false);
            }
            let dst = b::skb_put(self.skb, attrs.len() as u32);
            core::ptr::copy_nonoverlapping(attrs.as_ptr(), dst.cast::<u8>(), attrs.len());
            b::ipsec_rs_genlmsg_end(self.skb, hdr);
        }
        self.added = true;
        Ok(true)
    }
}

/// A request being handled.
pub struct Request<'a> {
    info: *mut b::genl_info,
    family: &'a b::genl_family,
}

impl Request<'_> {
    /// The requester's namespace.
    pub fn net(&self) -> &Net {
        // SAFETY: `info` is live during doit, and so is its namespace.
        unsafe { Net::from_raw(b::ipsec_rs_genl_info_net(self.info)) }
    }

    /// The attributes of the request (after the genetlink header).
    pub fn payload(&self) -> &[u8] {
        let mut len: c_int = 0;
        // SAFETY: `info` is live during doit; the shim returns a pointer into
        // the request message of `len` bytes, which outlives this borrow.
        let p = unsafe { b::ipsec_rs_genl_info_payload(self.info, &mut len) };
        if p.is_null() || len <= 0 {
            return &[];
        }
        // SAFETY: see above.
        unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len as usize) }
    }

    /// Sets the extended-ACK message the requester sees with the error.
    pub fn set_err_msg(&self, msg: &'static core::ffi::CStr) {
        // SAFETY: `info` is live, its extack (if any) too; the message is
        // static.
        unsafe {
            let extack = (*self.info).extack;
            if !extack.is_null() {
                b::ipsec_rs_extack_msg(extack, msg.as_ptr());
            }
        }
    }

    /// Sends a reply: command `cmd` carrying `attrs` (encoded attributes).
    pub fn reply(&self, cmd: u8, attrs: &[u8]) -> Result {
        // SAFETY: `info` is live; the message built belongs to us until
        // genlmsg_reply takes it.
        unsafe {
            let msg = build(
                self.family,
                cmd,
                attrs,
                (*self.info).snd_portid,
                (*self.info).snd_seq,
                false,
            )?;
            to_result(b::ipsec_rs_genlmsg_reply(msg, self.info))
        }
    }
}

/// Builds a genetlink message. Returns an skb we own.
///
/// # Safety
///
/// `family` must be registered.
unsafe fn build(
    family: &b::genl_family,
    cmd: u8,
    attrs: &[u8],
    portid: u32,
    seq: u32,
    atomic: bool,
) -> Result<*mut b::sk_buff> {
    let flags = if atomic {
        b::IPSEC_RS_GFP_ATOMIC
    } else {
        b::IPSEC_RS_GFP_KERNEL
    };
    // SAFETY: plain allocation, result checked.
    let skb = unsafe { b::ipsec_rs_genlmsg_new(attrs.len(), flags) };
    if skb.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `skb` is ours with room for the header and `attrs.len()` bytes
    // (genlmsg_new reserved both); `family` is registered (caller).
    unsafe {
        let hdr = b::genlmsg_put(skb, portid, seq, family, 0, cmd);
        if hdr.is_null() {
            b::ipsec_rs_kfree_skb(skb);
            return Err(super::errno::emsgsize());
        }
        let dst = b::skb_put(skb, attrs.len() as u32);
        core::ptr::copy_nonoverlapping(attrs.as_ptr(), dst.cast::<u8>(), attrs.len());
        b::ipsec_rs_genlmsg_end(skb, hdr);
    }
    Ok(skb)
}

#[repr(C)]
struct Inner<H: Handler> {
    // Must stay first: `doit_cb` recovers `Inner` from `info->family`.
    family: b::genl_family,
    ops: KVec<b::genl_ops>,
    // The ops point into these (one per op, in the same order).
    policies: KVec<Policy>,
    mcgrps: KVec<b::genl_multicast_group>,
    handler: H,
}

/// Generic netlink's `doit` callback.
///
/// # Safety
///
/// Called by generic netlink only, for our family's commands.
unsafe extern "C" fn doit_cb<H: Handler>(_skb: *mut b::sk_buff, info: *mut b::genl_info) -> c_int {
    // SAFETY: genetlink passes our family in `info->family`; it is the first
    // field of a `repr(C)` `Inner<H>`, which lives until unregistration,
    // after which no doit runs.
    let inner = unsafe { &*(*info).family.cast::<Inner<H>>() };
    // SAFETY: `info` is live for this call.
    let cmd = unsafe { (*(*info).genlhdr).cmd };
    let req = Request {
        info,
        family: &inner.family,
    };
    match inner.handler.doit(cmd, &req) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Generic netlink's `dumpit` callback.
///
/// # Safety
///
/// Called by generic netlink only, for our family's commands.
unsafe extern "C" fn dumpit_cb<H: Handler>(
    skb: *mut b::sk_buff,
    cb: *mut b::netlink_callback,
) -> c_int {
    // SAFETY: genetlink calls the dumps of our family with `cb->data`
    // pointing to its `genl_dumpit_info` for the whole dump.
    let info = unsafe { b::ipsec_rs_dump_info(cb) };
    // SAFETY: `info->info.family` is our family, the first field of a
    // `repr(C)` `Inner<H>` that lives until unregistration, after which no
    // dump runs; `info->op.cmd` is the command being dumped.
    let (inner, cmd) = unsafe { (&*(*info).info.family.cast::<Inner<H>>(), (*info).op.cmd) };
    let mut d = Dump {
        skb,
        cb,
        family: &inner.family,
        added: false,
    };
    match inner.handler.dumpit(cmd, &mut d) {
        // SAFETY: `skb` is live; its length is what we return to continue.
        Ok(()) if d.added => unsafe { (*skb).len as c_int },
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The `genl_ops` of `ops`, each with its policy from `policies` (one
/// per op, in order).
fn kernel_ops<H: Handler>(ops: &[OpSpec], policies: &[Policy]) -> Result<KVec<b::genl_ops>> {
    let mut kops = KVec::with_capacity(ops.len(), GFP_KERNEL)?;
    for (o, p) in ops.iter().zip(policies.iter()) {
        let mut flags = 0u8;
        if o.admin {
            flags |= b::GENL_UNS_ADMIN_PERM as u8;
        }
        // No attribute: no policy, which genetlink turns into "reject
        // every attribute" for a family of strict commands.
        let (policy, maxattr) = if o.attrs.is_empty() {
            (core::ptr::null(), 0)
        } else {
            (p.entries.as_ptr(), p.entries.len() as u32 - 1)
        };
        kops.push(
            b::genl_ops {
                doit: Some(doit_cb::<H>),
                dumpit: if o.dump { Some(dumpit_cb::<H>) } else { None },
                cmd: o.cmd,
                flags,
                policy,
                maxattr,
                ..Default::default()
            },
            GFP_KERNEL,
        )?;
    }
    Ok(kops)
}

/// The multicast groups named `groups` (subscribing needs CAP_NET_ADMIN).
fn kernel_groups(groups: &[&CStr]) -> Result<KVec<b::genl_multicast_group>> {
    let mut kgrps = KVec::with_capacity(groups.len(), GFP_KERNEL)?;
    for g in groups {
        let mut grp = b::genl_multicast_group {
            flags: b::IPSEC_RS_GENL_MCAST_CAP_NET_ADMIN as u8,
            ..Default::default()
        };
        copy_name(&mut grp.name, g)?;
        kgrps.push(grp, GFP_KERNEL)?;
    }
    Ok(kgrps)
}

fn copy_name(dst: &mut [c_char], name: &CStr) -> Result {
    let bytes = super::compat::cstr_bytes(name);
    if bytes.len() >= dst.len() {
        return Err(EINVAL);
    }
    for (d, s) in dst.iter_mut().zip(bytes) {
        *d = *s as c_char;
    }
    Ok(())
}

/// A registered genetlink family.
///
/// # Invariants
///
/// `inner.family` is registered from `new()` until `drop()`, and `inner` is
/// pinned (the kernel keeps pointers to the family, ops, groups and policy).
pub struct Family<H: Handler> {
    inner: Pin<KBox<Inner<H>>>,
}

// SAFETY: the kernel serialises registration; after it the family is only
// read, and the handler is `Sync + Send`.
unsafe impl<H: Handler> Send for Family<H> {}
// SAFETY: as above.
unsafe impl<H: Handler> Sync for Family<H> {}

impl<H: Handler> Family<H> {
    /// Registers family `name` (version `version`) with commands `ops` and
    /// multicast groups `groups` (subscribing needs CAP_NET_ADMIN).
    ///
    /// The kernel validates each request against its command's
    /// `OpSpec::attrs` (strictly: unknown attributes, wrong lengths, values
    /// out of range and trailing bytes are rejected with an extended ACK
    /// naming the attribute) before `Handler::doit` or `dumpit` runs;
    /// `Request::payload()` then hands the attributes to the caller.
    pub fn new(
        module: &'static ThisModule,
        name: &CStr,
        version: u32,
        ops: &[OpSpec],
        groups: &[&CStr],
        handler: H,
    ) -> Result<Self> {
        let mut policies = KVec::with_capacity(ops.len(), GFP_KERNEL)?;
        for o in ops {
            policies.push(Policy::new(o.attrs)?, GFP_KERNEL)?;
        }
        let kops = kernel_ops::<H>(ops, &policies)?;
        let kgrps = kernel_groups(groups)?;
        let mut family = b::genl_family {
            version,
            ..Default::default()
        };
        copy_name(&mut family.name, name)?;
        family.set_netnsok(1);
        family.set_parallel_ops(1);
        family.n_ops = kops.len() as u8;
        family.n_mcgrps = kgrps.len() as u8;
        // Zero, as for every new family: every command is validated
        // strictly, and one without a policy takes no attribute.
        family.resv_start_op = 0;
        family.module = module.as_ptr().cast();

        let mut inner = KBox::new(
            Inner {
                family,
                ops: kops,
                policies,
                mcgrps: kgrps,
                handler,
            },
            GFP_KERNEL,
        )?;
        inner.family.ops = inner.ops.as_ptr();
        inner.family.mcgrps = inner.mcgrps.as_ptr();
        // SAFETY: `inner` is on the heap: the family and everything it points
        // to keep their addresses (the box is pinned right after, and
        // `drop()` unregisters before freeing).
        to_result(unsafe { b::genl_register_family(&mut inner.family) })?;
        Ok(Self {
            inner: Pin::from(inner),
        })
    }

    /// The family's multicast side, for event senders that need not know
    /// its request handler.
    pub fn multicast(&self) -> &Multicast {
        // SAFETY: `Multicast` is a transparent wrapper of `genl_family`;
        // the borrow keeps the family registered (type invariant).
        unsafe { &*(&self.inner.family as *const b::genl_family).cast::<Multicast>() }
    }
}

/// A registered family's multicast groups.
///
/// # Invariants
///
/// Only reachable by reference from a registered [`Family`]
/// ([`Family::multicast`]), for no longer than it stays registered.
#[repr(transparent)]
pub struct Multicast(b::genl_family);

impl Multicast {
    /// Sends notification `cmd` with `attrs` to multicast group `group` (index
    /// into the groups given to `Family::new()`) in namespace `net`, to
    /// listeners of that namespace only. Any context: allocates with
    /// GFP_ATOMIC. `Err(ESRCH)` means nobody listens.
    pub fn send(&self, net: &Net, group: u32, cmd: u8, attrs: &[u8]) -> Result {
        // SAFETY: registered by the type invariant; the skb is handed over.
        unsafe {
            let msg = build(&self.0, cmd, attrs, 0, 0, true)?;
            to_result(b::ipsec_rs_genlmsg_multicast_netns(
                &self.0,
                net.as_ptr(),
                msg,
                group,
            ))
        }
    }
}

impl<H: Handler> Drop for Family<H> {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant; after this returns no
        // doit runs and the kernel holds no pointer into `inner`.
        unsafe { b::genl_unregister_family(&self.inner.family) };
    }
}
