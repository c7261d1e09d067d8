// SPDX-License-Identifier: GPL-2.0

//! XFRM's output side: the SA a packet's route will transform it with, the
//! route's MTU, and the hand-over of pre-fragmented packets to
//! `xfrm_output()`, as `net/xfrm/xfrm_output.c` has them.

use super::super::{
    bindings as b,
    netfilter::{HookState, Stolen},
    skb::SkBuff,
};
use super::State;
use kernel::{error::to_result, prelude::*};

impl SkBuff {
    /// The packet's route, if it has one.
    fn dst(&self) -> Option<*mut b::dst_entry> {
        // SAFETY: the skb is live; its dst (if any) is held by the skb.
        let dst = unsafe { b::ipsec_rs_skb_dst(self.as_ptr()) };
        (!dst.is_null()).then_some(dst)
    }

    /// The SA that will transform the packet next, if its route is an XFRM
    /// bundle (an IPv4 packet at `POST_ROUTING` in `xfrm4_output()`).
    pub fn dst_xfrm(&self) -> Option<&State> {
        // SAFETY: the skb holds its dst, live while the skb is borrowed.
        let x = unsafe { b::ipsec_rs_dst_xfrm(self.dst()?) };
        if x.is_null() {
            return None;
        }
        // SAFETY: the bundle dst the skb holds holds a reference to its SA
        // for as long as the skb keeps the dst, which outlives this borrow.
        Some(unsafe { State::from_raw(x) })
    }

    /// MTU of the packet's route (`dst_mtu(skb_dst(skb))`); for an XFRM
    /// bundle, the largest packet that fits once encapsulated. 0 if the
    /// packet has no route.
    pub fn dst_mtu(&self) -> u32 {
        // SAFETY: the skb holds its dst, live while the skb is borrowed.
        self.dst()
            .map_or(0, |dst| unsafe { b::ipsec_rs_dst_mtu(dst) })
    }

    /// The MTU `ip_finish_output()` fragments this IPv4 packet to
    /// (`ip_skb_dst_mtu()`); 0 if the packet has no route.
    pub fn ip_output_mtu(&self, state: &HookState<'_>) -> u32 {
        // SAFETY: the skb and the hook's socket (or NULL) are live during the
        // hook, and the skb has a route (checked), as `ip_skb_dst_mtu()`
        // requires.
        self.dst().map_or(0, |_| unsafe {
            b::ipsec_rs_ip_skb_dst_mtu(state.sk(), self.as_ptr())
        })
    }
}

/// Fragments an IPv4 packet whose route is an XFRM bundle into fragments of
/// at most `max_len` bytes (headers included; the IPv4 rules round the
/// payload of all but the last to 8 bytes) and hands each to `xfrm_output()`
/// to be encrypted, as `xfrm4_output()` would have done with the packet.
///
/// Consumes the skb whatever the outcome (XFRM or the fragmentation frees
/// it on error): the hook must return the [`Stolen`] token as its verdict.
/// Call it from the `POST_ROUTING` hook of `xfrm4_output()` only, at the
/// last priority (the remaining hooks are skipped). Softirq-safe
/// (allocates with GFP_ATOMIC).
pub fn fragment_to_xfrm(skb: &SkBuff, state: &HookState<'_>, max_len: u16) -> (Stolen, Result) {
    let skb = skb.as_ptr();
    // SAFETY: netfilter passed us this live skb, which we own until we
    // return NF_STOLEN (the caller must); `ip_do_fragment()` consumes it.
    // Its route is an XFRM bundle (caller), so each fragment is a valid
    // input of `xfrm_output()`. `frag_max_size` caps the fragment size.
    let r = unsafe {
        let cur = b::ipsec_rs_ipcb_frag_max_size(skb);
        if cur == 0 || cur > max_len {
            b::ipsec_rs_ipcb_set_frag_max_size(skb, max_len);
        }
        b::ip_do_fragment(
            state.net().as_ptr(),
            state.sk(),
            skb,
            Some(b::ipsec_rs_xfrm_output_frag),
        )
    };
    (Stolen::new(), to_result(r))
}
