// SPDX-License-Identifier: GPL-2.0

//! A borrowed socket buffer, read-only: what the receive hooks need to look
//! at a packet without taking it over.

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
}
