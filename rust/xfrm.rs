// SPDX-License-Identifier: GPL-2.0

//! XFRM's SA database, read-only, and the hand-over of packets to XFRM's
//! output path.

use super::{
    bindings as b,
    net::Net,
    netfilter::{HookState, Stolen},
    skb::SkBuff,
};
use core::{ops::Deref, ptr::NonNull};
use kernel::{error::to_result, prelude::*, types::Opaque};

/// An SA (`struct xfrm_state`), borrowed.
#[repr(transparent)]
pub struct State(Opaque<b::xfrm_state>);

impl State {
    /// # Safety
    ///
    /// `ptr` must be a live SA that stays alive (referenced) for `'a`.
    unsafe fn from_raw<'a>(ptr: *const b::xfrm_state) -> &'a State {
        // SAFETY: transparent wrapper; liveness guaranteed by the caller.
        unsafe { &*ptr.cast::<State>() }
    }

    /// Tunnel mode (`XFRM_MODE_TUNNEL`), as opposed to transport or BEET.
    pub fn is_tunnel(&self) -> bool {
        // SAFETY: live by the type invariant; `props.mode` is set at creation.
        unsafe { b::ipsec_rs_xfrm_mode(self.0.get()) == b::IPSEC_RS_XFRM_MODE_TUNNEL as u8 }
    }

    /// The family of the outer header (`AF_INET` or `AF_INET6`).
    pub fn family(&self) -> u16 {
        // SAFETY: live; set at creation.
        unsafe { b::ipsec_rs_xfrm_family(self.0.get()) }
    }

    /// Destination address: 4 significant bytes for IPv4, 16 for IPv6.
    pub fn daddr(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        // SAFETY: live; `id.daddr` is a 16-byte union that never changes
        // after creation.
        unsafe {
            core::ptr::copy_nonoverlapping(b::ipsec_rs_xfrm_daddr(self.0.get()).cast::<u8>(), a.as_mut_ptr(), 16)
        };
        a
    }

    /// SPI, host order.
    pub fn spi(&self) -> u32 {
        // SAFETY: live; set at creation.
        unsafe { b::ipsec_rs_xfrm_spi(self.0.get()) }
    }

    /// IPsec protocol (50 for ESP).
    pub fn proto(&self) -> u8 {
        // SAFETY: live; set at creation.
        unsafe { b::ipsec_rs_xfrm_proto(self.0.get()) }
    }
}

/// A reference to an SA taken by a lookup, dropped (`xfrm_state_put`) with
/// this value.
///
/// # Invariants
///
/// `0` holds one reference to a live SA.
pub struct StateRef(NonNull<b::xfrm_state>);

impl Deref for StateRef {
    type Target = State;
    fn deref(&self) -> &State {
        // SAFETY: we hold a reference (invariant).
        unsafe { State::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for StateRef {
    fn drop(&mut self) {
        // SAFETY: the reference we hold (invariant) is dropped once.
        unsafe { b::ipsec_rs_xfrm_state_put(self.0.as_ptr()) };
    }
}

/// Looks up the SA for (`daddr`, `spi`, `proto`) in `net` that a packet with
/// `mark` would use: the lookup `xfrm_input()` performs. `daddr` holds 4
/// (IPv4, first bytes) or 16 significant bytes; `family` is AF_INET or
/// AF_INET6. Any context.
pub fn lookup(net: &Net, mark: u32, daddr: &[u8; 16], spi: u32, proto: u8, family: u16) -> Option<StateRef> {
    let mut addr = b::xfrm_address_t::default();
    // SAFETY: `xfrm_address_t` is a 16-byte union of address forms; writing
    // its bytes is how the kernel fills it too.
    unsafe {
        core::ptr::copy_nonoverlapping(daddr.as_ptr(), (&mut addr as *mut b::xfrm_address_t).cast::<u8>(), 16)
    };
    // SAFETY: `net` is live, `addr` outlives the call; the SPI is passed in
    // network byte order as the kernel expects.
    let x = unsafe { b::xfrm_state_lookup(net.as_ptr(), mark, &addr, spi.to_be(), proto, family) };
    // The lookup returned a reference we now own (or nothing).
    NonNull::new(x).map(StateRef)
}

/// Whether XFRM has an SA for (`daddr`, `spi`, `proto`) in `net`, see
/// [`lookup`].
pub fn state_exists(net: &Net, mark: u32, daddr: &[u8; 16], spi: u32, proto: u8, family: u16) -> bool {
    lookup(net, mark, daddr, spi, proto, family).is_some()
}

impl SkBuff {
    /// The packet's firewall mark (`skb->mark`), which XFRM matches SAs with.
    pub fn mark(&self) -> u32 {
        // SAFETY: the skb is live by the type invariant.
        unsafe { b::ipsec_rs_skb_mark(self.as_ptr()) }
    }

    /// The SA that will transform the packet next, if its route is an XFRM
    /// bundle (an IPv4 packet at `POST_ROUTING` in `xfrm4_output()`).
    pub fn dst_xfrm(&self) -> Option<&State> {
        // SAFETY: the skb is live; its dst (if any) is held by the skb.
        let x = unsafe { b::ipsec_rs_skb_dst_xfrm(self.as_ptr()) };
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
        // SAFETY: the skb is live; the shim checks for a missing dst.
        unsafe { b::ipsec_rs_skb_dst_mtu(self.as_ptr()) }
    }

    /// The MTU `ip_finish_output()` fragments this IPv4 packet to
    /// (`ip_skb_dst_mtu()`); 0 if the packet has no route.
    pub fn ip_output_mtu(&self, state: &HookState<'_>) -> u32 {
        // SAFETY: the skb and the hook's socket (or NULL) are live during the
        // hook; the shim checks for a missing dst.
        unsafe { b::ipsec_rs_ip_skb_dst_mtu(state.sk(), self.as_ptr()) }
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
        b::ip_do_fragment(state.net().as_ptr(), state.sk(), skb, Some(b::ipsec_rs_xfrm_output_frag))
    };
    (Stolen::new(), to_result(r))
}
