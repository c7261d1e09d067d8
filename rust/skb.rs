// SPDX-License-Identifier: GPL-2.0

//! A borrowed socket buffer: what the hooks need to look at a packet without
//! taking it over, plus the few changes the outbound hooks make to a packet
//! they are handed (netfilter gives a hook the skb exclusively while it runs).

use super::bindings as b;
use core::ffi::c_void;
use kernel::types::Opaque;

/// A `struct sk_buff` borrowed from the stack (a netfilter hook, a protocol
/// handler).
#[repr(transparent)]
pub struct SkBuff(Opaque<b::sk_buff>);

impl SkBuff {
    /// Borrows an skb.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live skb that the caller owns or borrows for `'a`, and
    /// nothing may free or modify its data while the borrow lasts.
    pub unsafe fn from_raw<'a>(ptr: *const b::sk_buff) -> &'a SkBuff {
        // SAFETY: transparent wrapper; liveness guaranteed by the caller.
        unsafe { &*ptr.cast::<SkBuff>() }
    }

    /// The raw pointer, for the wrappers of this directory.
    pub fn as_ptr(&self) -> *mut b::sk_buff {
        self.0.get()
    }

    /// Total length of the packet data (linear and paged).
    pub fn len(&self) -> u32 {
        // SAFETY: the skb is live by the type invariant; `len` is a plain field.
        unsafe { (*self.as_ptr()).len }
    }


    /// Up to `buf.len()` bytes starting at the network header: either a view
    /// of the skb's linear data or a copy into `buf` (for paged data). Returns
    /// fewer bytes when the packet is shorter; `None` only if the network
    /// header lies outside the data.
    pub fn network_bytes<'a>(&'a self, buf: &'a mut [u8]) -> Option<&'a [u8]> {
        // SAFETY: the skb is live by the type invariant.
        let off = unsafe { b::ipsec_rs_skb_network_offset(self.as_ptr()) };
        let avail = i64::from(self.len()) - i64::from(off);
        if off < 0 || avail <= 0 {
            return None;
        }
        let n = core::cmp::min(avail as usize, buf.len());
        // SAFETY: the skb is live, `off + n <= len`, and `buf` holds `n`
        // bytes; skb_header_pointer returns either a pointer into the skb's
        // linear data (valid while we borrow the skb) or `buf`.
        let p = unsafe {
            b::ipsec_rs_skb_header_pointer(self.as_ptr(), off, n as i32, buf.as_mut_ptr().cast::<c_void>())
        };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` points to `n` readable bytes living as long as `'a`
        // (the skb borrow or `buf`), see above.
        Some(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), n) })
    }

    /// `skb->ignore_df`: the packet may be fragmented despite its DF bit.
    pub fn ignore_df(&self) -> bool {
        // SAFETY: the skb is live by the type invariant.
        unsafe { b::ipsec_rs_skb_ignore_df(self.as_ptr()) }
    }

    /// Sets `skb->ignore_df`. Only for the packet's current owner (a hook
    /// the skb was handed to).
    pub fn set_ignore_df(&self, on: bool) {
        // SAFETY: the skb is live; the caller owns it (see above), so no one
        // else writes the flag word concurrently.
        unsafe { b::ipsec_rs_skb_set_ignore_df(self.as_ptr(), on) }
    }

    /// A GSO packet (segmented later; `len` may exceed any MTU).
    pub fn is_gso(&self) -> bool {
        // SAFETY: the skb is live.
        unsafe { b::ipsec_rs_skb_is_gso(self.as_ptr()) }
    }

    /// `skb->protocol`, host order (`ETH_P_IP`, `ETH_P_IPV6`).
    pub fn protocol(&self) -> u16 {
        // SAFETY: the skb is live.
        unsafe { b::ipsec_rs_skb_protocol(self.as_ptr()) }
    }

    /// `IPCB(skb)->flags` (`IPSKB_*`). Meaningful only where the IPv4 layer
    /// owns `skb->cb` (IPv4 netfilter hooks).
    pub fn ipcb_flags(&self) -> u16 {
        // SAFETY: the skb is live; `cb` is plain memory.
        unsafe { b::ipsec_rs_ipcb_flags(self.as_ptr()) }
    }

    /// `IPCB(skb)->frag_max_size`: the largest fragment of a reassembled
    /// packet, 0 otherwise (IPv4 hooks only).
    pub fn ipcb_frag_max_size(&self) -> u16 {
        // SAFETY: as above.
        unsafe { b::ipsec_rs_ipcb_frag_max_size(self.as_ptr()) }
    }

    /// Sets or clears the DF bit of the IPv4 header at the network header
    /// and fixes the header checksum. Returns whether the bit changed. Only
    /// for the packet's current owner; unshares the header first (may
    /// allocate with GFP_ATOMIC). `Err` if the header cannot be made
    /// writable or is not IPv4.
    pub fn set_ipv4_df(&self, df: bool) -> kernel::error::Result<bool> {
        let skb = self.as_ptr();
        // SAFETY: the skb is live.
        let off = unsafe { b::ipsec_rs_skb_network_offset(skb) };
        let hdr = core::mem::size_of::<b::iphdr>() as i32;
        if off < 0 || i64::from(self.len()) < i64::from(off) + i64::from(hdr) {
            return Err(kernel::error::code::EINVAL);
        }
        // SAFETY: the skb is live and ours (caller); this may reallocate the
        // head, after which only freshly computed pointers are used.
        kernel::error::to_result(unsafe { b::skb_ensure_writable(skb, (off + hdr) as u32) })?;
        // SAFETY: the first `off + 20` bytes are now linear and private to
        // this skb, so the IPv4 header at the network header may be written;
        // `iphdr` has alignment 4 like the network header in the linear data
        // (the stack aligns it, and `ip_send_check()` relies on the same).
        unsafe {
            let iph = b::ipsec_rs_skb_network_header(skb).cast::<b::iphdr>();
            if (*iph).version() != 4 {
                return Err(kernel::error::code::EINVAL);
            }
            let old = u16::from_be((*iph).frag_off);
            let dfbit = b::IPSEC_RS_IP_DF as u16;
            let new = if df { old | dfbit } else { old & !dfbit };
            if new == old {
                return Ok(false);
            }
            (*iph).frag_off = new.to_be();
            b::ip_send_check(iph);
        }
        Ok(true)
    }
}
