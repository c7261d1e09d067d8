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
    /// Packets delivered locally (IPv4: after reassembly).
    LocalIn,
}

/// What a hook decides for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let the packet continue.
    Accept,
    /// Drop it (netfilter frees the skb and counts it).
    Drop,
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

    /// Index of the receiving interface, 0 if none.
    pub fn in_ifindex(&self) -> i32 {
        if self.raw.in_.is_null() {
            return 0;
        }
        // SAFETY: a non-null `state->in` is a live device during the hook.
        unsafe { (*self.raw.in_).ifindex }
    }

}

/// The code run for each packet at a registered hook. Runs in softirq (or
/// with bottom halves disabled): it must not sleep.
pub trait Hook: Sync {
    /// Inspects `skb` and decides.
    fn hook(&self, skb: &SkBuff, state: &HookState<'_>) -> Verdict;
}

unsafe extern "C" fn hook_cb<T: Hook>(
    priv_: *mut c_void,
    skb: *mut b::sk_buff,
    state: *const b::nf_hook_state,
) -> c_uint {
    // SAFETY: `priv_` is the `&T` given to `Registration::new()`, which the
    // caller promised outlives the registration; netfilter passes a live skb
    // and state for the duration of this call.
    let (data, skb, state) = unsafe { (&*priv_.cast::<T>(), SkBuff::from_raw(skb), &*state) };
    match data.hook(skb, &HookState { raw: state }) {
        Verdict::Accept => b::NF_ACCEPT,
        Verdict::Drop => b::NF_DROP,
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
    /// Registers `specs` in `net`, each calling `data.hook()`.
    ///
    /// # Safety
    ///
    /// `data` must stay valid (not moved, not dropped) until the returned
    /// registration is dropped, and `net` must outlive it (drop it from the
    /// pernet exit callback at the latest).
    pub unsafe fn new<T: Hook>(net: &Net, specs: &[HookSpec], data: *const T) -> Result<Self> {
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
                    HookPoint::LocalIn => b::nf_inet_hooks::NF_INET_LOCAL_IN,
                },
                priority: s.priority,
                ..Default::default()
            };
            op.set_hook_ops_type(b::nf_hook_ops_type::NF_HOOK_OP_UNDEFINED as u32);
            ops.push(op, GFP_KERNEL)?;
        }
        // SAFETY: `ops` is initialised and will not move or be freed until
        // `drop()` unregisters it; `net` is live (caller).
        to_result(unsafe { b::nf_register_net_hooks(net.as_ptr(), ops.as_ptr(), ops.len() as u32) })?;
        Ok(Self { net: net.as_ptr(), ops })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant. This waits (synchronize_net)
        // until no CPU runs our hook, so `data` may be freed afterwards.
        unsafe { b::nf_unregister_net_hooks(self.net, self.ops.as_ptr(), self.ops.len() as u32) }
    }
}
