// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks registered in one network namespace.

use super::{bindings as b, net::Net, skb::SkBuff};
use core::ffi::{c_uint, c_void};
use kernel::{error::to_result, prelude::*};

/// Address family of a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4 (`NFPROTO_IPV4`).
    Ipv4,
    /// IPv6 (`NFPROTO_IPV6`).
    Ipv6,
}

/// Where in the stack a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    /// Every received packet, before routing.
    PreRouting,
    /// Packets delivered locally (IPv4: after reassembly).
    LocalIn,
    /// Locally generated packets, and packets XFRM encapsulated (the outer
    /// packet, after encryption, in `xfrm_output_resume()`).
    LocalOut,
    /// Every packet about to leave, after routing; IPv4 packets about to
    /// be transformed by XFRM pass it in `xfrm4_output()`, before encryption.
    PostRouting,
}

/// Proof that a hook handed the packet over to someone else (the skb was
/// consumed): only functions of this directory that consume an skb create it.
#[derive(Debug, PartialEq, Eq)]
pub struct Stolen(());

impl Stolen {
    /// For the wrappers of this directory that consume an skb.
    pub(super) fn new() -> Self {
        Stolen(())
    }
}

/// What a hook decides for a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let the packet continue.
    Accept,
    /// Drop it (netfilter frees the skb and counts it).
    Drop,
    /// The packet was consumed by the hook (`NF_STOLEN`).
    Stolen(Stolen),
}

/// One hook to register: family, point and priority.
#[derive(Clone, Copy, Debug)]
pub struct HookSpec {
    /// Address family.
    pub family: Family,
    /// Hook point.
    pub point: HookPoint,
    /// Priority (lower runs first), e.g. `NF_IP_PRI_FILTER`.
    pub priority: i32,
}

/// What a hook is told about the packet's path.
pub struct HookState<'a> {
    raw: &'a b::nf_hook_state,
}

impl HookState<'_> {
    /// The namespace the packet is in.
    pub fn net(&self) -> &Net {
        // SAFETY: netfilter guarantees `state->net` is live during the hook.
        unsafe { Net::from_raw(self.raw.net) }
    }

    /// The hook point the packet is at (`None` for points this wrapper
    /// does not register).
    pub fn point(&self) -> Option<HookPoint> {
        match u32::from(self.raw.hook) {
            b::nf_inet_hooks::NF_INET_PRE_ROUTING => Some(HookPoint::PreRouting),
            b::nf_inet_hooks::NF_INET_LOCAL_IN => Some(HookPoint::LocalIn),
            b::nf_inet_hooks::NF_INET_LOCAL_OUT => Some(HookPoint::LocalOut),
            b::nf_inet_hooks::NF_INET_POST_ROUTING => Some(HookPoint::PostRouting),
            _ => None,
        }
    }

    /// Index of the sending interface, 0 if none.
    pub fn out_ifindex(&self) -> i32 {
        if self.raw.out.is_null() {
            return 0;
        }
        // SAFETY: a non-null `state->out` is a live device during the hook.
        unsafe { (*self.raw.out).ifindex }
    }

    /// The socket the packet is sent for (NULL for forwarded packets), for
    /// the wrappers of this directory.
    pub(super) fn sk(&self) -> *mut b::sock {
        self.raw.sk
    }

    /// Hooks run inside an RCU read-side critical section (`nf_hook()`
    /// takes `rcu_read_lock()`): the proof, for as long as the hook runs.
    pub fn rcu(&self) -> super::rcu::ReadSide<'_> {
        // SAFETY: netfilter calls hooks under rcu_read_lock(), and `self`
        // does not outlive the hook call.
        unsafe { super::rcu::ReadSide::assume() }
    }
}

/// A set of hooks: the code run for each packet at the points it is
/// registered at, and the data it is registered with. Runs in softirq (or
/// with bottom halves disabled): it must not sleep.
pub trait Hook {
    /// What the registration hands the hook (the per-namespace state, say).
    type Data: Sync;

    /// Inspects `skb` (which the hook has to itself for the call) and decides.
    fn hook(data: &Self::Data, skb: &mut SkBuff, state: &HookState<'_>) -> Verdict;
}

/// The netfilter hook function.
///
/// # Safety
///
/// Called by netfilter only, with the `priv` pointer the registration gave.
unsafe extern "C" fn hook_cb<T: Hook>(
    priv_: *mut c_void,
    skb: *mut b::sk_buff,
    state: *const b::nf_hook_state,
) -> c_uint {
    // SAFETY: `priv_` is the `T::Data` given to `Registration::new()`, which
    // the caller promised outlives the registration; netfilter passes a live
    // skb and state for the duration of this call, and the skb is the
    // hook's alone until it returns a verdict.
    let (data, skb, state) = unsafe {
        (
            &*priv_.cast::<T::Data>(),
            SkBuff::from_raw_mut(skb),
            &*state,
        )
    };
    match T::hook(data, skb, &HookState { raw: state }) {
        Verdict::Accept => b::NF_ACCEPT,
        Verdict::Drop => b::NF_DROP,
        Verdict::Stolen(_) => b::NF_STOLEN,
    }
}

/// Hooks registered in one namespace.
///
/// # Invariants
///
/// `ops` (heap, never resized, so its elements never move) is registered in
/// `net` from `new()` until `drop()`, and `net` outlives `self`.
pub struct Registration {
    net: *mut b::net,
    ops: KVec<b::nf_hook_ops>,
}

// SAFETY: registration state is owned; netfilter serialises (un)registration.
unsafe impl Send for Registration {}
// SAFETY: `&Registration` offers no operation.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `specs` in `net`, each calling `T::hook(data, ..)`.
    ///
    /// # Safety
    ///
    /// `data` must stay valid (not moved, not dropped) until the returned
    /// registration is dropped, and `net` must outlive it (drop it from the
    /// pernet exit callback at the latest).
    pub unsafe fn new<T: Hook>(
        net: &Net,
        specs: &[HookSpec],
        data: *const T::Data,
    ) -> Result<Self> {
        let mut ops = KVec::with_capacity(specs.len(), GFP_KERNEL)?;
        for s in specs {
            let mut op = b::nf_hook_ops {
                hook: Some(hook_cb::<T>),
                priv_: data as *mut c_void,
                pf: match s.family {
                    Family::Ipv4 => b::NFPROTO_IPV4 as u8,
                    Family::Ipv6 => b::NFPROTO_IPV6 as u8,
                },
                hooknum: match s.point {
                    HookPoint::PreRouting => b::nf_inet_hooks::NF_INET_PRE_ROUTING,
                    HookPoint::LocalIn => b::nf_inet_hooks::NF_INET_LOCAL_IN,
                    HookPoint::LocalOut => b::nf_inet_hooks::NF_INET_LOCAL_OUT,
                    HookPoint::PostRouting => b::nf_inet_hooks::NF_INET_POST_ROUTING,
                },
                priority: s.priority,
                ..Default::default()
            };
            op.set_hook_ops_type(b::nf_hook_ops_type::NF_HOOK_OP_UNDEFINED);
            ops.push(op, GFP_KERNEL)?;
        }
        // SAFETY: `ops` is initialised and will not move or be freed until
        // `drop()` unregisters it; `net` is live (caller).
        to_result(unsafe {
            b::nf_register_net_hooks(net.as_ptr(), ops.as_ptr(), ops.len() as u32)
        })?;
        Ok(Self {
            net: net.as_ptr(),
            ops,
        })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant. This waits (synchronize_net)
        // until no CPU runs our hook, so `data` may be freed afterwards.
        unsafe { b::nf_unregister_net_hooks(self.net, self.ops.as_ptr(), self.ops.len() as u32) }
    }
}
