// SPDX-License-Identifier: GPL-2.0

//! XFRM's input side: a receive handler on the protocol-handler chain of
//! an IPsec protocol, the security path of a decapsulated packet and the
//! inbound statistics, as `net/xfrm/xfrm_input.c` has them.

use super::super::{bindings as b, net::Net, skb::OwnedSkb};
use super::StateRef;
use core::ffi::c_int;
use kernel::{error::to_result, prelude::*, types::Opaque};

/// XFRM statistics (`/proc/net/xfrm_stat`) the receive path bumps.
#[derive(Clone, Copy, Debug)]
// The names follow XFRM's own (LINUX_MIB_XFRMIN*), all inbound statistics.
#[allow(clippy::enum_variant_names)]
pub enum Mib {
    /// XfrmInError.
    InError = b::LINUX_MIB_XFRMINERROR as isize,
    /// XfrmInBufferError.
    InBufferError = b::LINUX_MIB_XFRMINBUFFERERROR as isize,
    /// XfrmInHdrError.
    InHdrError = b::LINUX_MIB_XFRMINHDRERROR as isize,
    /// XfrmInStateProtoError.
    InStateProtoError = b::LINUX_MIB_XFRMINSTATEPROTOERROR as isize,
    /// XfrmInStateModeError.
    InStateModeError = b::LINUX_MIB_XFRMINSTATEMODEERROR as isize,
    /// XfrmInStateSeqError.
    InStateSeqError = b::LINUX_MIB_XFRMINSTATESEQERROR as isize,
    /// XfrmInStateExpired.
    InStateExpired = b::LINUX_MIB_XFRMINSTATEEXPIRED as isize,
    /// XfrmInStateInvalid.
    InStateInvalid = b::LINUX_MIB_XFRMINSTATEINVALID as isize,
    /// XfrmInNoStates.
    InNoStates = b::LINUX_MIB_XFRMINNOSTATES as isize,
}

impl Net {
    /// Bumps an XFRM statistic of this namespace (any context).
    pub fn xfrm_inc(&self, m: Mib) {
        // SAFETY: live namespace; per-CPU SNMP counter.
        unsafe { b::ipsec_rs_xfrm_inc_stats(self.as_ptr(), m as c_int) }
    }
}

/// Why a security path could not be attached.
#[derive(Clone, Copy, Debug)]
pub struct SecpathFull;

impl OwnedSkb {
    /// Attaches `x` to the packet's security path (`secpath_set`, then the
    /// state pushed as xfrm_input does), so that XFRM's inbound policy
    /// check (`xfrm_policy_check`) accepts the decapsulated packet. The
    /// reference moves into the security path. Clears `olen` (no offload
    /// state for the inner packet).
    pub fn secpath_push(&mut self, x: StateRef) -> core::result::Result<(), SecpathFull> {
        // SAFETY: live and ours; GFP_ATOMIC inside.
        let sp = unsafe { b::secpath_set(self.as_ptr()) };
        if sp.is_null() {
            return Err(SecpathFull);
        }
        // SAFETY: `sp` is the skb's own security path (extension), writable
        // after secpath_set (it un-shares it).
        unsafe {
            // An `int` in 6.12, a `u8` in 7.x: compared as i64.
            let len = i64::from((*sp).len);
            if !(0..i64::from(b::XFRM_MAX_DEPTH)).contains(&len) {
                return Err(SecpathFull);
            }
            (*sp).xvec[len as usize] = x.into_raw();
            (*sp).len += 1;
            (*sp).olen = 0;
        }
        Ok(())
    }
}

/// What a protocol handler decides for a packet.
pub enum Input {
    /// Not ours: the packet goes on to the next handler (XFRM), untouched.
    Decline(OwnedSkb),
    /// Ours: taken over (delivered, queued for async crypto, or dropped).
    Consumed,
}

/// A receive handler on XFRM's protocol-handler chain of one IPsec
/// protocol.
pub trait XfrmInput: 'static {
    /// The IP protocol number of one of the IPsec protocols XFRM keeps a
    /// handler chain for (50, 51 or 108: `xfrm4_protocol_register()`).
    const PROTO: u8;

    /// Handles a reassembled, locally delivered packet of
    /// [`XfrmInput::PROTO`] and `family` (AF_INET/AF_INET6), with
    /// `encap_type` 0 (plain) or the UDP encapsulation type of the socket
    /// it came through. `skb->data` and the transport header point at the
    /// protocol header, the network header at the outer IP header.
    /// Softirq, inside an RCU read-side section (`rs`).
    fn input(
        skb: OwnedSkb,
        family: u16,
        encap_type: i32,
        rs: super::super::rcu::ReadSide<'_>,
    ) -> Input;
}

/// XFRM's `handler` callback (the plain protocol).
///
/// # Safety
///
/// Called by XFRM's protocol chain only, with a received packet it owns.
unsafe extern "C" fn handler_cb<T: XfrmInput, const AF: u16>(skb: *mut b::sk_buff) -> c_int {
    // SAFETY: as `input_cb`, for the plain protocol (`xfrm{4,6}_esp_rcv`
    // and the like).
    unsafe { input_cb::<T, AF>(skb, 0, 0, 0) }
}

/// XFRM's `input_handler` callback (UDP-encapsulated packets, and plain
/// ones through `handler_cb`).
///
/// # Safety
///
/// Called by XFRM's protocol chain only, with a received packet it owns.
unsafe extern "C" fn input_cb<T: XfrmInput, const AF: u16>(
    skb: *mut b::sk_buff,
    _nexthdr: c_int,
    _spi: b::__be32,
    encap_type: c_int,
) -> c_int {
    // SAFETY: the handler chain hands us the skb: we either return -EINVAL
    // and leave it to the next handler, or consume it.
    let Some(skb) = (unsafe { OwnedSkb::from_raw(skb) }) else {
        return -(b::EINVAL as c_int);
    };
    // SAFETY: the protocol handlers run from the IP layer's local delivery
    // (`ip_local_deliver_finish`, `ip6_input_finish`, the UDP receive path
    // for encapsulated ESP), under `rcu_read_lock()` and in softirq; the
    // proof does not outlive this call.
    let rs = unsafe { super::super::rcu::ReadSide::assume() };
    match T::input(skb, AF, encap_type, rs) {
        Input::Decline(skb) => {
            let _ = skb.into_raw();
            -(b::EINVAL as c_int)
        }
        Input::Consumed => 0,
    }
}

/// XFRM's `cb_handler` callback: nothing to do.
///
/// # Safety
///
/// Called by XFRM only.
unsafe extern "C" fn cb_cb(_skb: *mut b::sk_buff, _err: c_int) -> c_int {
    // Not ours (we never call xfrm_input): let the next handler see it.
    1
}

/// XFRM's ICMP error callback (IPv4): not ours.
///
/// # Safety
///
/// Called by XFRM only.
unsafe extern "C" fn err4_cb(_skb: *mut b::sk_buff, _info: u32) -> c_int {
    // ICMP errors about ESP: esp4 handles them (PMTU, redirects).
    1
}

/// XFRM's ICMP error callback (IPv6): not ours.
///
/// # Safety
///
/// Called by XFRM only.
unsafe extern "C" fn err6_cb(
    _skb: *mut b::sk_buff,
    _opt: *mut b::inet6_skb_parm,
    _type: u8,
    _code: u8,
    _offset: c_int,
    _info: b::__be32,
) -> c_int {
    1
}

/// A protocol's handlers registered on the IPv4 and IPv6 chains
/// (`xfrm4_protocol_register`/`xfrm6_protocol_register`), global to all
/// namespaces.
///
/// Plain packets arrive through `handler` (for ESP `xfrm{4,6}_esp_rcv()`,
/// from the IP protocol table: reassembled, routed, locally delivered);
/// UDP-encapsulated ones through `input_handler` (`xfrm4_udp_encap_rcv()`
/// -> `xfrm4_rcv_encap()`, which routes the packet if needed). Both go to
/// `XfrmInput::input`, with encapsulation type 0 or the socket's. (esp4's
/// own `handler`, `xfrm4_rcv()`, calls `xfrm_input()` directly: declining
/// in `handler` would skip our `input_handler`.)
///
/// # Invariants
///
/// `v4`/`v6` are registered for protocol `proto` from `new()` until
/// `drop()`, pinned.
pub struct Registration {
    v4: Pin<KBox<Opaque<b::xfrm4_protocol>>>,
    v6: Pin<KBox<Opaque<b::xfrm6_protocol>>>,
    proto: u8,
}

// SAFETY: only registration state; the kernel serialises (de)registration.
unsafe impl Send for Registration {}
// SAFETY: `&Registration` offers no operation.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `T` for its protocol over IPv4 and IPv6 at `priority`
    /// (handlers run in decreasing priority; on the ESP chains esp4/esp6
    /// are at 0, XFRM interfaces at 10, vti at 100). Process context.
    pub fn new<T: XfrmInput>(priority: i32) -> Result<Self> {
        let proto = T::PROTO;
        let v4 = KBox::pin(
            Opaque::new(b::xfrm4_protocol {
                handler: Some(handler_cb::<T, { b::AF_INET as u16 }>),
                input_handler: Some(input_cb::<T, { b::AF_INET as u16 }>),
                cb_handler: Some(cb_cb),
                err_handler: Some(err4_cb),
                next: core::ptr::null_mut(),
                priority,
            }),
            GFP_KERNEL,
        )?;
        let v6 = KBox::pin(
            Opaque::new(b::xfrm6_protocol {
                handler: Some(handler_cb::<T, { b::AF_INET6 as u16 }>),
                input_handler: Some(input_cb::<T, { b::AF_INET6 as u16 }>),
                cb_handler: Some(cb_cb),
                err_handler: Some(err6_cb),
                next: core::ptr::null_mut(),
                priority,
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: pinned until `drop()` deregisters it.
        to_result(unsafe { b::xfrm4_protocol_register(v4.get(), proto) })?;
        // SAFETY: as above.
        if let Err(e) = to_result(unsafe { b::xfrm6_protocol_register(v6.get(), proto) }) {
            // SAFETY: registered just above; waits for running handlers.
            unsafe { b::xfrm4_protocol_deregister(v4.get(), proto) };
            return Err(e);
        }
        // INVARIANT: both registered for `proto`, pinned in `self`.
        Ok(Self { v4, v6, proto })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered (invariant). Each call ends with
        // synchronize_net(): no CPU runs our handlers afterwards (async
        // crypto completions are waited for separately: aead.rs, wait_idle).
        unsafe {
            b::xfrm6_protocol_deregister(self.v6.get(), self.proto);
            b::xfrm4_protocol_deregister(self.v4.get(), self.proto);
        }
    }
}
