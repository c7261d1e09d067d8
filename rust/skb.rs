// SPDX-License-Identifier: GPL-2.0

//! Socket buffers. [`SkBuff`]: a packet borrowed from the stack (a
//! netfilter hook, a protocol handler), to look at without taking it over,
//! plus the few changes a hook may make to a packet it is handed (netfilter
//! gives a hook the skb exclusively while it runs). [`OwnedSkb`]: a packet
//! taken over (freed on drop unless handed on), with the primitives a
//! receive path builds on: pulls and trims, writable data and its
//! scatterlist, header resets, the device it arrives on, delivery.

use super::{
    bindings as b,
    netdev::{DevRef, Device},
};
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

    /// Borrows an skb exclusively: for the code it was handed to (a
    /// netfilter hook), which may change it (pull headers into the head,
    /// unshare it, set flags).
    ///
    /// # Safety
    ///
    /// `ptr` must be a live skb that the caller owns for `'a`, which no one
    /// else reads or modifies while the borrow lasts.
    pub unsafe fn from_raw_mut<'a>(ptr: *mut b::sk_buff) -> &'a mut SkBuff {
        // SAFETY: transparent wrapper; liveness and exclusivity guaranteed
        // by the caller.
        unsafe { &mut *ptr.cast::<SkBuff>() }
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
            b::ipsec_rs_skb_header_pointer(
                self.as_ptr(),
                off,
                n as i32,
                buf.as_mut_ptr().cast::<c_void>(),
            )
        };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` points to `n` readable bytes living as long as `'a`
        // (the skb borrow or `buf`), see above.
        Some(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), n) })
    }

    /// The first `n` bytes from the network header, made linear first if
    /// they are not (`pskb_may_pull`, GFP_ATOMIC: what the protocol
    /// handlers after a receive hook do with the headers they read, so the
    /// pull is work moved earlier, not added). `None` if the packet is
    /// shorter, memory is short, or `data` lies beyond the network header.
    ///
    /// Only for a receive hook (`LOCAL_IN`), which is handed the skb and
    /// whose caller holds no pointer into its head across the hook.
    pub fn pull_network(&mut self, n: usize) -> Option<&[u8]> {
        let p = self.as_ptr();
        // SAFETY: the skb is live by the type invariant.
        let nh = unsafe { b::ipsec_rs_skb_network_offset(p) };
        let nh = usize::try_from(nh).ok()?;
        let want = u32::try_from(nh.checked_add(n)?).ok()?;
        // SAFETY: live skb, handed to this hook (see above): pulling moves
        // bytes from the pages into the head (or reallocates the head, which
        // no caller pointer refers to), never changes the packet's content.
        if !unsafe { b::ipsec_rs_pskb_may_pull(p, want) } {
            return None;
        }
        // SAFETY: `[network header, + n)` is now in the linear head, valid
        // while the exclusive borrow of `self` lasts (no other method can
        // pull or reallocate meanwhile: they all take `&mut self`).
        Some(unsafe { core::slice::from_raw_parts(network_header_of(p), n) })
    }

    /// `skb->ignore_df`: the packet may be fragmented despite its DF bit.
    pub fn ignore_df(&self) -> bool {
        // SAFETY: the skb is live by the type invariant.
        unsafe { b::ipsec_rs_skb_ignore_df(self.as_ptr()) }
    }

    /// Sets `skb->ignore_df`.
    pub fn set_ignore_df(&mut self, on: bool) {
        // SAFETY: the skb is live and exclusively ours (`&mut`), so no one
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
    /// and fixes the header checksum. Returns whether the bit changed.
    /// Unshares the header first (may reallocate the head, GFP_ATOMIC: hence
    /// `&mut`, so no slice of the old head can be alive). `Err` if the header cannot be made
    /// writable or is not IPv4.
    pub fn set_ipv4_df(&mut self, df: bool) -> kernel::error::Result<bool> {
        let skb = self.as_ptr();
        // SAFETY: the skb is live.
        let off = unsafe { b::ipsec_rs_skb_network_offset(skb) };
        let hdr = core::mem::size_of::<b::iphdr>() as i32;
        if off < 0 || i64::from(self.len()) < i64::from(off) + i64::from(hdr) {
            return Err(kernel::error::code::EINVAL);
        }
        // SAFETY: the skb is live and exclusively ours (`&mut`); this may
        // reallocate the head, after which only freshly computed pointers
        // are used.
        kernel::error::to_result(unsafe { b::skb_ensure_writable(skb, (off + hdr) as u32) })?;
        // SAFETY: the first `off + 20` bytes are now linear and private to
        // this skb, so the IPv4 header at the network header may be written;
        // `iphdr` has alignment 4 like the network header in the linear data
        // (the stack aligns it, and `ip_send_check()` relies on the same).
        unsafe {
            let iph = network_header_of(skb).cast::<b::iphdr>();
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

/// A socket buffer this code owns (a protocol handler that took the packet):
/// dropping it frees the packet (`kfree_skb`), so no error path can leak it.
///
/// # Invariants
///
/// `ptr` is a live skb that nothing else frees or uses while `self` exists.
pub struct OwnedSkb {
    ptr: core::ptr::NonNull<b::sk_buff>,
}

// SAFETY: an skb may be handed from one CPU to another (async crypto
// completion); ownership is exclusive by the type invariant.
unsafe impl Send for OwnedSkb {}

impl OwnedSkb {
    /// Takes ownership of an skb.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live skb whose ownership the caller hands over.
    pub unsafe fn from_raw(ptr: *mut b::sk_buff) -> Option<Self> {
        core::ptr::NonNull::new(ptr).map(|ptr| Self { ptr })
    }

    /// Takes ownership of an skb known to be there.
    ///
    /// # Safety
    ///
    /// As [`OwnedSkb::from_raw`].
    pub unsafe fn from_raw_nonnull(ptr: core::ptr::NonNull<b::sk_buff>) -> Self {
        // INVARIANT: the caller hands a live skb over.
        Self { ptr }
    }

    /// Gives ownership back (to the stack, or to an async operation).
    pub fn into_raw(self) -> *mut b::sk_buff {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The shared read-only view.
    pub fn view(&self) -> &SkBuff {
        // SAFETY: live by the type invariant; no data changes while borrowed
        // (every mutation below takes `&mut self`).
        unsafe { SkBuff::from_raw(self.ptr.as_ptr()) }
    }

    /// Makes the first `len` bytes at `data` linear; false if the packet is
    /// shorter or memory is short (GFP_ATOMIC). Inlined: its fast path is
    /// a compare.
    #[inline(always)]
    pub fn may_pull(&mut self, len: usize) -> bool {
        // pskb_may_pull()'s own fast path, without the call.
        if len <= self.headlen() {
            return true;
        }
        let Ok(len) = u32::try_from(len) else {
            return false;
        };
        // SAFETY: live and ours by the type invariant.
        unsafe { b::ipsec_rs_pskb_may_pull(self.ptr.as_ptr(), len) }
    }

    /// Copies `out.len()` bytes from offset `off` (from `data`, linear or
    /// paged) into `out`.
    pub fn copy_bits(&self, off: usize, out: &mut [u8]) -> bool {
        let (Ok(off), Ok(n)) = (i32::try_from(off), i32::try_from(out.len())) else {
            return false;
        };
        // SAFETY: live skb; `out` is valid for `n` bytes; the callee checks
        // bounds against the packet and fails rather than overrunning.
        unsafe { b::skb_copy_bits(self.ptr.as_ptr(), off, out.as_mut_ptr().cast(), n) == 0 }
    }

    /// The linear bytes `[off, off + len)` from `data`, if linear.
    pub fn linear(&self, off: usize, len: usize) -> Option<&[u8]> {
        let end = off.checked_add(len)?;
        if end > self.headlen() {
            return None;
        }
        // SAFETY: `[data, data + headlen)` is the skb's linear area, live
        // while we own it; `end <= headlen`.
        Some(unsafe { core::slice::from_raw_parts(data_of(self.ptr.as_ptr()).add(off), len) })
    }

    /// Length of the linear part (`skb_headlen`).
    pub fn headlen(&self) -> usize {
        // SAFETY: live skb.
        unsafe { headlen_of(self.ptr.as_ptr()) }
    }

    /// Ensures the data can be written in place (decrypted into the same
    /// buffer): returns the number of scatterlist entries the data needs, or
    /// an error (GFP_ATOMIC). A packet whose head and pages are its own
    /// (not cloned, no frag list, no page shared with another skb) is
    /// writable as it is; any other is made private by `skb_cow_data`.
    pub fn make_writable(&mut self) -> Result<usize, i32> {
        let p = self.ptr.as_ptr();
        // SAFETY: live and ours; plain reads of the packet's layout.
        if unsafe { (*p).data_len == 0 && !b::ipsec_rs_skb_cloned(p) } {
            // Linear and its own: the common case, in two reads.
            return Ok(1);
        }
        // SAFETY: as above.
        let l = unsafe { b::ipsec_rs_skb_layout(p) };
        if l & b::IPSEC_RS_SKB_CLONED == 0 {
            if l & b::IPSEC_RS_SKB_NONLINEAR == 0 {
                return Ok(1);
            }
            if l & (b::IPSEC_RS_SKB_FRAG_LIST | b::IPSEC_RS_SKB_SHARED_FRAG) == 0 {
                return Ok((l >> 8) as usize + 1);
            }
        }
        let mut trailer: *mut b::sk_buff = core::ptr::null_mut();
        // SAFETY: live and ours; GFP_ATOMIC inside.
        let n = unsafe { b::skb_cow_data(p, 0, &mut trailer) };
        if n < 0 {
            Err(n)
        } else {
            Ok(n as usize)
        }
    }

    /// The linear bytes `[off, off + len)` from `data`, writable.
    ///
    /// # Safety
    ///
    /// The head must be private to this skb (`make_writable` succeeded and
    /// nothing shared it since).
    pub unsafe fn linear_mut(&mut self, off: usize, len: usize) -> Option<&mut [u8]> {
        let end = off.checked_add(len)?;
        if end > self.headlen() {
            return None;
        }
        // SAFETY: `[data, data + headlen)` is the linear area, private
        // (caller) and exclusively borrowed through `&mut self`.
        Some(unsafe { core::slice::from_raw_parts_mut(data_of(self.ptr.as_ptr()).add(off), len) })
    }

    /// Maps the packet's data (`len` bytes from `data`) into the
    /// scatterlist `sg` of `nents` entries, for a transform that works in
    /// place: a linear packet as one entry (`sg_init_one`, without
    /// `skb_to_sgvec`'s walk over fragments, ~50 instructions a packet
    /// fewer), else `skb_to_sgvec`. Returns the entries used, or a negative
    /// errno.
    ///
    /// # Safety
    ///
    /// `sg` points to `nents` writable entries, which stay alive as long as
    /// a user of them; the data must be writable in place while they are
    /// used (`make_writable` succeeded and returned `nents`).
    pub unsafe fn to_sg(&mut self, sg: *mut b::scatterlist, nents: usize) -> i32 {
        let p = self.ptr.as_ptr();
        let len = self.view().len();
        let Ok(nents) = u32::try_from(nents) else {
            return -(b::EINVAL as i32);
        };
        if nents == 0 {
            return -(b::EINVAL as i32);
        }
        if self.headlen() == len as usize {
            // SAFETY: `sg` has room for one entry (caller, checked `nents`);
            // `[data, data + len)` is the whole packet, linear and live.
            unsafe { b::sg_init_one(sg, data_of(p).cast::<core::ffi::c_void>(), len) };
            return 1;
        }
        // SAFETY: `sg` has room for `nents` entries, as many as the packet's
        // segments (caller); the skb is live and ours.
        unsafe {
            b::sg_init_table(sg, nents);
            b::skb_to_sgvec(p, sg, 0, len as i32)
        }
    }

    /// Moves `data` back by `n` bytes into the headroom (`__skb_push`), if
    /// there are that many, and returns the first `len` linear bytes from
    /// the new `data`, writable.
    ///
    /// # Safety
    ///
    /// As [`OwnedSkb::linear_mut`]; the headroom bytes are whatever lies
    /// there (the outer headers, in a protocol handler).
    pub unsafe fn push_linear(&mut self, n: usize, len: usize) -> Option<&mut [u8]> {
        let p = self.ptr.as_ptr();
        let nn = u32::try_from(n).ok()?;
        // SAFETY: live skb; plain fields.
        let headroom = unsafe { data_of(p).offset_from((*p).head) };
        if headroom < 0 || (headroom as usize) < n {
            return None;
        }
        // SAFETY: `n` bytes of headroom exist (checked).
        unsafe { b::ipsec_rs___skb_push(p, nn) };
        // SAFETY: the caller's contract.
        unsafe { self.linear_mut(0, len) }
    }

    /// Moves `data` forward by `n` linear bytes (`__skb_pull`); false if
    /// the linear area is shorter.
    pub fn pull_linear(&mut self, n: usize) -> bool {
        if n > self.headlen() {
            return false;
        }
        // SAFETY: live and ours; `n <= headlen` (checked).
        unsafe { pull_head(self.ptr.as_ptr(), n) };
        true
    }

    /// Trims the packet to `len` bytes (`pskb_trim()`); false if the
    /// pages cannot be unshared (GFP_ATOMIC).
    pub fn trim(&mut self, len: usize) -> bool {
        let Ok(len) = u32::try_from(len) else {
            return false;
        };
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_pskb_trim(self.ptr.as_ptr(), len) == 0 }
    }

    /// Takes `n` linear bytes off the front keeping CHECKSUM_COMPLETE right
    /// (`skb_pull_rcsum()`); false if the linear area is shorter.
    pub fn pull_rcsum(&mut self, n: usize) -> bool {
        if n > self.headlen() {
            return false;
        }
        // SAFETY: live and ours; `n <= headlen` (checked), as
        // `skb_pull_rcsum()` requires.
        unsafe { !b::skb_pull_rcsum(self.ptr.as_ptr(), n as u32).is_null() }
    }

    /// Sets the transport header at `data`.
    pub fn reset_transport_header(&mut self) {
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_skb_reset_transport_header(self.ptr.as_ptr()) }
    }

    /// Marks the checksum state unknown (the payload was rewritten).
    pub fn set_csum_none(&mut self) {
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_skb_csum_none(self.ptr.as_ptr()) }
    }

    /// Up to `max` bytes from the network header, which lies in the linear
    /// head in front of `data` in a protocol handler (or at it).
    pub fn network_header_bytes(&self, max: usize) -> Option<&[u8]> {
        let p = self.ptr.as_ptr();
        // SAFETY: live skb; network header and data both point into the
        // linear head, whose end is `data + headlen`.
        unsafe {
            let nh = network_header_of(p);
            let end = data_of(p).add(self.headlen());
            let avail = end.offset_from(nh);
            if avail <= 0 {
                return None;
            }
            let n = core::cmp::min(avail as usize, max);
            Some(core::slice::from_raw_parts(nh, n))
        }
    }

    /// Bytes from the network header to `data` (the outer IP header and
    /// what follows it up to the ESP header, in a protocol handler).
    pub fn network_to_data(&self) -> usize {
        let p = self.ptr.as_ptr();
        // SAFETY: live skb; both point into the linear head.
        let d = unsafe { data_of(p).offset_from(network_header_of(p)) };
        d.max(0) as usize
    }

    /// Transport-mode decapsulation, as `xfrm{4,6}_transport_input()`: the
    /// first `hdr_len` bytes at the network header (the IP header, and for
    /// IPv6 its extension headers before ESP) move forward to end right at
    /// `data` (over the ESP header, IV and any UDP header), and the network
    /// header follows them; `data` (the transport payload) stays.
    /// Returns false if the header would not fit in front of `data`.
    pub fn transport_restore_header(&mut self, hdr_len: usize) -> bool {
        let p = self.ptr.as_ptr();
        let Ok(off) = i32::try_from(hdr_len) else {
            return false;
        };
        // SAFETY: live and ours; the head is private (made writable before
        // decryption); the network header lies `network_to_data() >=
        // hdr_len` bytes before `data` (checked), so both ranges are inside
        // the head; `copy` handles the overlap.
        unsafe {
            if self.network_to_data() < hdr_len {
                return false;
            }
            let nh = network_header_of(p);
            let dst = data_of(p).sub(hdr_len);
            core::ptr::copy(nh, dst, hdr_len);
            b::ipsec_rs_skb_set_network_header(p, -off);
            b::ipsec_rs_skb_reset_transport_header(p);
        }
        true
    }

    /// Marks the transport checksum as verified (NAT-T transport mode: the
    /// peer's checksums cover addresses a NAT rewrote), as esp4 does.
    pub fn set_csum_unnecessary(&mut self) {
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_skb_csum_unnecessary(self.ptr.as_ptr()) }
    }

    /// Hands a transport-mode packet to XFRM's per-family
    /// `transport_finish` (`xfrm{4,6}_transport_finish`): the IP header's
    /// protocol becomes `nexthdr`, lengths and checksum are fixed, and the
    /// packet goes through `PRE_ROUTING` again towards local delivery (via
    /// XFRM's deferred reinjection queue), exactly as after xfrm_input.
    pub fn transport_finish(self, family: u16, nexthdr: u8) -> i32 {
        let p = self.into_raw();
        // SAFETY: `p` is ours and handed over: transport_finish consumes it
        // on every path. The afinfo is read under RCU, as xfrm_input does.
        unsafe {
            b::ipsec_rs_xfrm_mode_skb_cb_set_protocol(p, nexthdr);
            b::ipsec_rs_nf_reset_ct(p);
            b::ipsec_rs_rcu_read_lock();
            let af = b::xfrm_state_afinfo_get_rcu(family.into());
            let r = match af.as_ref().and_then(|a| a.transport_finish) {
                Some(f) => f(p, 1),
                None => {
                    b::ipsec_rs_kfree_skb(p);
                    -(b::EINVAL as i32)
                }
            };
            b::ipsec_rs_rcu_read_unlock();
            r
        }
    }

    /// Sets `skb->protocol` to `ethertype` (host order).
    pub fn set_protocol(&mut self, ethertype: u16) {
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_skb_set_protocol(self.ptr.as_ptr(), ethertype.to_be()) }
    }

    /// Makes the packet's head its own (`skb_unclone()`, GFP_ATOMIC);
    /// false if memory is short.
    pub fn unclone(&mut self) -> bool {
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_skb_unclone_atomic(self.ptr.as_ptr()) == 0 }
    }

    /// Sets the network header at `data`.
    pub fn reset_network_header(&mut self) {
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_skb_reset_network_header(self.ptr.as_ptr()) }
    }

    /// Moves the MAC header (`mac_len` bytes) to end at the network header
    /// (`skb_mac_header_rebuild()`), after the headers between were taken
    /// off; and, when there is one (`mac_len` not 0), makes its Ethernet
    /// type `ethertype` (host order), as XFRM's tunnel decapsulation does.
    pub fn rebuild_mac_header(&mut self, ethertype: u16) {
        let p = self.ptr.as_ptr();
        // SAFETY: live and ours; a MAC header of `mac_len` bytes (Ethernet's
        // when not 0: the receive path's devices) lies in the head, whose
        // room in front of the network header `skb_mac_header_rebuild()`
        // moves it into.
        unsafe {
            b::ipsec_rs_skb_mac_header_rebuild(p);
            if b::ipsec_rs_skb_mac_len(p) != 0 {
                b::ipsec_rs_skb_set_eth_proto(p, ethertype.to_be());
            }
        }
    }

    /// Sets ECN CE on the inner IPv4 (`v6 == false`) or IPv6 header at the
    /// network header.
    pub fn inner_set_ce(&mut self, v6: bool) {
        let p = self.ptr.as_ptr();
        // SAFETY: the network header is the inner header, linear and private
        // (`become_inner`).
        unsafe {
            let h = network_header_of(p);
            if v6 {
                b::ipsec_rs_ip6_ecn_set_ce(p, h.cast());
            } else {
                b::ipsec_rs_ip_ecn_set_ce(h.cast());
            }
        }
    }

    /// Copies the DSCP `dscp` (a full TOS/traffic-class byte) into the inner header.
    pub fn inner_copy_dscp(&mut self, v6: bool, dscp: u8) {
        let p = self.ptr.as_ptr();
        // SAFETY: as `inner_set_ce`.
        unsafe {
            let h = network_header_of(p);
            if v6 {
                b::ipsec_rs_ipv6_copy_dscp(dscp.into(), h.cast());
            } else {
                b::ipsec_rs_ipv4_copy_dscp(dscp.into(), h.cast());
            }
        }
    }

    /// Sets the firewall mark.
    pub fn set_mark(&mut self, mark: u32) {
        // SAFETY: live and ours.
        unsafe { b::ipsec_rs_skb_set_mark(self.ptr.as_ptr(), mark) }
    }

    /// Drops the packet's conntrack entry and its route unless that is a
    /// metadata dst (both belonged to the outer packet, before
    /// decapsulation), as xfrm_input does.
    pub fn drop_dst_and_ct(&mut self) {
        let p = self.ptr.as_ptr();
        // SAFETY: live and ours.
        unsafe {
            b::ipsec_rs_nf_reset_ct(p);
            if b::ipsec_rs_skb_valid_dst(p) {
                b::ipsec_rs_skb_dst_drop(p);
            }
        }
    }

    /// Whether the receiving device skips GRO (`netif_elide_gro()`: GRO
    /// off, or an XDP program attached).
    pub fn dev_elides_gro(&self) -> bool {
        // SAFETY: live; a received skb has a live device.
        unsafe { b::ipsec_rs_netif_elide_gro(dev_of(self.ptr.as_ptr())) }
    }

    /// Makes tunnel device `dev`, in the packet's namespace, the device
    /// the decapsulated packet arrives on, as an XFRM interface's receive
    /// does (`xfrmi_rcv_cb()` for a packet staying in its namespace): time
    /// stamp, packet type, input interface, `ignore_df` and trace reset,
    /// and the packet counted in the device's receive statistics. Route
    /// and conntrack entry go on delivery ([`Self::drop_dst_and_ct`]).
    pub fn enter_device(&mut self, dev: &Device) {
        // SAFETY: live and ours; `dev` is live (a reference), and the
        // packet holds no reference on its device while it is received
        // (the stack's own rule: the receive path runs under RCU, and a
        // device is freed only after an RCU grace period past its
        // unregistration).
        unsafe { b::ipsec_rs_skb_enter_device(self.ptr.as_ptr(), dev.as_ptr()) }
    }

    /// Makes tunnel device `dev`, in the packet's namespace, the device
    /// the decapsulated packet arrives on, as a vti or vti6 tunnel's
    /// receive does (`vti_rcv_cb()`, once its policy check passed): the
    /// packet scrubbed (`skb_scrub_packet()`: packet type, input
    /// interface, `ignore_df`, route, extensions with the security path,
    /// conntrack entry and trace), then counted in the device's receive
    /// statistics.
    pub fn enter_scrubbed(&mut self, dev: &Device) {
        // SAFETY: live and ours; `dev` is live (a reference) and needs no
        // reference from the packet while it is received (as in
        // `enter_device`).
        unsafe { b::ipsec_rs_skb_enter_scrubbed(self.ptr.as_ptr(), dev.as_ptr()) }
    }

    /// XFRM's inbound policy check of the packet as it stands (its mark,
    /// its security path), for inner family `family` (`AF_INET`,
    /// `AF_INET6`): true if a policy allows it. A refusal is counted by
    /// XFRM (`XfrmInPolBlock`, `XfrmInNoPols`, `XfrmInTmplMismatch`...).
    /// Softirq.
    pub fn policy_check_in(&mut self, family: u16) -> bool {
        // SAFETY: live and ours, its network header set; receive context.
        unsafe { b::ipsec_rs_xfrm_policy_check_in(self.ptr.as_ptr(), family) }
    }

    /// Receives the packet now, on this CPU (`netif_receive_skb`: the
    /// stack runs it to delivery before returning). Softirq or BH
    /// disabled. The stack's verdict is not the caller's business.
    pub fn receive_now(self) {
        // SAFETY: ours, handed over; BH disabled (caller).
        unsafe { b::netif_receive_skb(self.into_raw()) };
    }

    /// Takes a reference on the receiving device (kept across async crypto,
    /// as xfrm_input does), dropped with the returned value.
    pub fn hold_dev(&self) -> DevRef {
        // SAFETY: a received skb has a live device (never NULL); the
        // reference taken on it moves into the value.
        unsafe {
            let dev = dev_of(self.ptr.as_ptr());
            b::ipsec_rs_dev_hold(dev);
            DevRef::from_held(core::ptr::NonNull::new_unchecked(dev))
        }
    }

    /// The packet's namespace (`dev_net(skb->dev)`), as a handle that does
    /// not borrow the packet.
    pub fn net_ref(&self) -> NetRef {
        // SAFETY: a received skb has a live device (`skb->dev`), whose
        // namespace pointer (`dev_net()`: `nd_net`, a plain pointer with
        // CONFIG_NET_NS, asserted in helpers/net.c) is read in place.
        NetRef(unsafe {
            field::<*mut b::net, _>(dev_of(self.ptr.as_ptr()), b::IPSEC_RS_OFF_DEV_NET as usize)
        })
    }

    /// Raw pointer, for the wrappers of this directory.
    pub fn as_ptr(&self) -> *mut b::sk_buff {
        self.ptr.as_ptr()
    }
}

impl SkBuff {
    /// The packet's firewall mark (`skb->mark`), which XFRM matches SAs with.
    pub fn mark(&self) -> u32 {
        // SAFETY: the skb is live by the type invariant; `mark` is a u32
        // (helpers/skbuff.c), read in place.
        unsafe { field::<u32, _>(self.as_ptr(), b::IPSEC_RS_OFF_SKB_MARK as usize) }
    }

    /// The index of the interface the packet was received on.
    pub fn ifindex(&self) -> i32 {
        let p = self.as_ptr();
        // SAFETY: the skb is live by the type invariant; its device, when
        // it has one, is live while the skb is received (RCU); a packet
        // without one carries the index it was received on (`skb_iif`).
        unsafe {
            match dev_of(p).as_ref() {
                Some(dev) => dev.ifindex,
                None => b::ipsec_rs_skb_iif(p),
            }
        }
    }
}

impl Drop for OwnedSkb {
    fn drop(&mut self) {
        // SAFETY: ours by the type invariant, freed once.
        unsafe { b::ipsec_rs_kfree_skb(self.ptr.as_ptr()) }
    }
}

/// The namespace of a packet being received.
///
/// # Invariants
///
/// Points to the live namespace of a packet that is being processed (in
/// its protocol handler, or in an operation that holds its device). A
/// namespace outlives the processing of its packets: its devices, which
/// such packets reference (and async operations hold), are unregistered
/// before the namespace's pernet state is torn down.
#[derive(Clone, Copy)]
pub struct NetRef(*mut b::net);

impl NetRef {
    /// The namespace.
    pub fn get(&self) -> &super::net::Net {
        // SAFETY: live by the type invariant, for as long as the handle is
        // used within the packet's processing.
        unsafe { super::net::Net::from_raw(self.0) }
    }
}

/// Per-CPU GRO cells (NAPI instances on a dummy device of their own): where
/// decapsulated packets re-enter the stack, as xfrm_input's own cells do for
/// XFRM, so that the receive softirq finishes the outer packet before the
/// inner one is processed, and inner TCP segments can be coalesced by GRO.
///
/// Owner: whoever created it (the receive path's registration), which must
/// drop it only once nothing can call [`GroCells::receive`] on it.
pub struct GroCells {
    cells: kernel::alloc::KBox<Opaque<b::gro_cells>>,
    dev: core::ptr::NonNull<b::net_device>,
}

// SAFETY: `gro_cells_receive` may be called on any CPU concurrently (each
// uses its own per-CPU cell with BH disabled); creation and destruction
// happen in process context, owned by one owner.
unsafe impl Sync for GroCells {}
// SAFETY: as above; the device and cells are not tied to a thread.
unsafe impl Send for GroCells {}

impl GroCells {
    /// Allocates the dummy device and one cell per possible CPU. Process
    /// context (GFP_KERNEL).
    pub fn new() -> kernel::error::Result<Self> {
        use kernel::{alloc::flags::GFP_KERNEL, error::code::ENOMEM};
        let cells = kernel::alloc::KBox::new(Opaque::new(b::gro_cells::default()), GFP_KERNEL)?;
        // SAFETY: process context; no other precondition.
        let dev = core::ptr::NonNull::new(unsafe { b::alloc_netdev_dummy(0) }).ok_or(ENOMEM)?;
        // SAFETY: `cells` is an empty `gro_cells` (null cells), at a stable
        // heap address; `dev` is a live dummy device that outlives the cells
        // (freed after them in `drop`).
        let err = unsafe { b::gro_cells_init(cells.get(), dev.as_ptr()) };
        if err != 0 {
            // SAFETY: allocated above, never registered, no NAPI on it
            // (gro_cells_init frees what it allocated when it fails).
            unsafe { b::free_netdev(dev.as_ptr()) };
            return Err(kernel::error::Error::from_errno(err));
        }
        Ok(Self { cells, dev })
    }
}

impl GroCells {
    /// Hands `skb` to this CPU's cell (the cell's NAPI poll receives it in
    /// a later softirq round, through GRO). BH disabled. False if it was
    /// dropped (device down, queue full: counted by the device).
    pub fn receive(&self, skb: OwnedSkb) -> bool {
        // SAFETY: initialised (`new`) and alive while borrowed; the packet
        // is handed over; BH disabled (caller).
        unsafe {
            b::gro_cells_receive(self.cells.get(), skb.into_raw()) == b::NET_RX_SUCCESS as i32
        }
    }
}

impl Drop for GroCells {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`; process context; the owner
        // guarantees no `gro_cells_receive` runs or will run. Destroying
        // disables each NAPI (waiting for a running poll), frees the queued
        // packets, and frees the cells after an RCU grace period; the dummy
        // device, never registered, is freed last.
        unsafe {
            b::gro_cells_destroy(self.cells.get());
            b::free_netdev(self.dev.as_ptr());
        }
    }
}

/// `skb->data`, read directly (a plain pointer field; a call to a C
/// accessor would cost more than the read).
///
/// # Safety
///
/// `p` is a live skb.
pub(super) unsafe fn data_of(p: *mut b::sk_buff) -> *mut u8 {
    // SAFETY: caller's contract.
    unsafe { (*p).data }
}

/// `__skb_pull()` in place: `data` moved forward by `n` bytes of the
/// linear head, without a call.
///
/// # Safety
///
/// `p` is a live skb its caller may change, and `n <= skb_headlen(p)`
/// (so `len` stays at or above `data_len`, as `__skb_pull` asserts).
#[inline(always)]
unsafe fn pull_head(p: *mut b::sk_buff, n: usize) {
    // SAFETY: caller's contract: `data + n` stays within the head and
    // `len - n >= data_len >= 0`.
    unsafe {
        (*p).len -= n as u32;
        (*p).data = (*p).data.add(n);
    }
}

/// `skb_headlen()`: the bytes at `data` in the linear head.
///
/// # Safety
///
/// `p` is a live skb.
#[inline(always)]
unsafe fn headlen_of(p: *const b::sk_buff) -> usize {
    // SAFETY: caller's contract; plain fields.
    unsafe { ((*p).len - (*p).data_len) as usize }
}

/// `pskb_pull()`: `data` moved forward by `n` bytes, pulled into the
/// linear head first if they are not all there; false if the packet is
/// shorter or memory is short (GFP_ATOMIC). In place when the head holds
/// them (the usual case: a call fewer), else through the kernel.
///
/// # Safety
///
/// `p` is a live skb its caller may change.
#[inline(always)]
pub(super) unsafe fn pskb_pull(p: *mut b::sk_buff, n: u32) -> bool {
    // SAFETY: caller's contract; `n <= skb_headlen` is checked for the
    // fast path, the kernel's `pskb_pull` checks everything else.
    unsafe {
        if n as usize <= headlen_of(p) {
            pull_head(p, n as usize);
            return true;
        }
        b::ipsec_rs_gro_pull(p, n)
    }
}

/// The `T` at byte `off` of the object at `p`: a field whose offset the
/// kernel's own layout gave (`IPSEC_RS_OFF_*` in helpers.h: fields bindgen
/// names differently in every kernel, inside anonymous unions), read in
/// place instead of through a shim call.
///
/// # Safety
///
/// `p` points to a live object of the structure `off` was taken from, and
/// the field there has type `T` (helpers/skbuff.c and net.c assert the sizes).
#[inline(always)]
pub(super) unsafe fn field<T: Copy, S>(p: *const S, off: usize) -> T {
    // SAFETY: caller's contract; the kernel aligns its fields naturally.
    unsafe { p.cast::<u8>().add(off).cast::<T>().read() }
}

/// `skb->dev`: the device a received packet is on (never NULL then).
///
/// # Safety
///
/// `p` is a live skb.
#[inline(always)]
pub(super) unsafe fn dev_of(p: *const b::sk_buff) -> *mut b::net_device {
    // SAFETY: live skb (caller); `dev` is a pointer (asserted in
    // helpers/skbuff.c), read in place.
    unsafe { field::<*mut b::net_device, _>(p, b::IPSEC_RS_OFF_SKB_DEV as usize) }
}

/// `skb_network_header(p)`.
///
/// # Safety
///
/// `p` is a live skb.
#[inline(always)]
pub(super) unsafe fn network_header_of(p: *mut b::sk_buff) -> *mut u8 {
    // SAFETY: live skb (caller); `network_header` is a u16 offset from
    // `head`, which `skb_network_header()` adds the same way.
    unsafe {
        (*p).head.add(usize::from(field::<u16, _>(
            p,
            b::IPSEC_RS_OFF_SKB_NETWORK_HEADER as usize,
        )))
    }
}
