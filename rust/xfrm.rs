// SPDX-License-Identifier: GPL-2.0

//! XFRM's SA database, read-only.

use super::{bindings as b, net::Net, skb::SkBuff};

/// Whether XFRM has an SA for (`daddr`, `spi`, `proto`) in `net` that a packet
/// with `mark` would use: the lookup `xfrm_input()` performs. `daddr` holds 4
/// (IPv4, first bytes) or 16 significant bytes; `family` is AF_INET or
/// AF_INET6. Any context; takes and drops a reference.
pub fn state_exists(net: &Net, mark: u32, daddr: &[u8; 16], spi: u32, proto: u8, family: u16) -> bool {
    let mut addr = b::xfrm_address_t::default();
    // SAFETY: `xfrm_address_t` is a 16-byte union of address forms; writing
    // its bytes is how the kernel fills it too.
    unsafe {
        core::ptr::copy_nonoverlapping(daddr.as_ptr(), (&mut addr as *mut b::xfrm_address_t).cast::<u8>(), 16)
    };
    // SAFETY: `net` is live, `addr` outlives the call; the SPI is passed in
    // network byte order as the kernel expects.
    let x = unsafe { b::xfrm_state_lookup(net.as_ptr(), mark, &addr, spi.to_be(), proto, family) };
    if x.is_null() {
        return false;
    }
    // SAFETY: the lookup returned a reference we own; drop it.
    unsafe { b::ipsec_rs_xfrm_state_put(x) };
    true
}

impl SkBuff {
    /// The packet's firewall mark (`skb->mark`), which XFRM matches SAs with.
    pub fn mark(&self) -> u32 {
        // SAFETY: the skb is live by the type invariant.
        unsafe { b::ipsec_rs_skb_mark(self.as_ptr()) }
    }
}
