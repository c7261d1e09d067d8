// SPDX-License-Identifier: GPL-2.0

//! An IP protocol's GRO slot: a `gro_receive` callback for one protocol
//! over IPv4 and IPv6 (`inet_offloads[proto]`, `inet6_offloads[proto]`),
//! which sees that protocol's packets inside GRO, on devices doing GRO,
//! before IP input (no netfilter hook, route or protocol handler has seen
//! them yet), and may take them there.
//!
//! Each family has one slot a protocol, taken with a `cmpxchg`
//! (`inet_add_offload()`), and the kernel's own offload modules expect it
//! free: `esp4_offload`'s init registers XFRM's ESP type offload first and
//! its GRO callback second, and a failure of the second leaves the first
//! registered after the module is freed. So a [`Slot`] *yields*: a module
//! notifier frees the slot when a module it names is about to run its init
//! (`MODULE_STATE_COMING`, before `init`), and takes it again when that
//! module goes (`MODULE_STATE_GOING`: after its exit, or after its init
//! failed). A slot already taken at [`Slot::new`] is left to its holder
//! and taken when the holder's module goes.

use super::{
    bindings as b,
    rcu::ReadSide,
    skb::{field, OwnedSkb},
    xfrm::Input,
};
use core::ffi::CStr;
use core::{
    ffi::{c_int, c_ulong, c_void},
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{new_mutex, prelude::*, sync::Mutex, types::Opaque};

/// A GRO receive handler for one IP protocol.
pub trait GroReceive: 'static {
    /// The IP protocol (`IPPROTO_*`).
    const PROTO: u8;

    /// A packet of [`GroReceive::PROTO`] inside GRO, of `family`
    /// (AF_INET/AF_INET6), as IP input would accept it: addressed to this
    /// host's link address, an IPv4 header without options or an IPv6
    /// header without extension headers, whose length is the packet's.
    /// `skb->data` points at the protocol header (pulled into the linear
    /// head), the network header at the IP header; no route, no conntrack
    /// entry, and `skb->cb` is GRO's. Softirq (NAPI poll), RCU read side
    /// (`rs`).
    ///
    /// [`Input::Decline`] must hand the packet back as it came (`skb->data`
    /// and `skb->cb` untouched): it then leaves GRO and goes up the stack
    /// as received. [`Input::Consumed`]: taken (delivered, queued, or
    /// dropped and counted); GRO does not touch it again.
    fn receive(skb: OwnedSkb, family: u16, rs: ReadSide<'_>) -> Input;
}

/// The IP header GRO pulled before the protocol's: IPv4 without options
/// (`inet_gro_receive` takes no other), IPv6 without extension headers.
const fn ip_hlen(family: u16) -> u32 {
    if family == b::AF_INET as u16 {
        20
    } else {
        40
    }
}

/// What GRO knows of `skb`, read in place: the protocol the IP layer's
/// `gro_receive` found (`NAPI_GRO_CB(skb)->proto`), whether the packet is
/// addressed to this host (`skb->pkt_type == PACKET_HOST`), and the offset
/// of that protocol's header from `data` (`skb_gro_offset()`).
///
/// # Safety
///
/// `skb` is a live packet inside GRO (its control block is GRO's).
#[inline(always)]
unsafe fn gro_facts(skb: *mut b::sk_buff) -> (u16, bool, i32) {
    // PACKET_HOST is 0: the masked bitfield is 0 whichever end of its byte
    // the compiler put it at.
    const { assert!(b::PACKET_HOST == 0) };
    // SAFETY: live skb (caller), whose `cb` (8-aligned) holds GRO's
    // `napi_gro_cb`; offsets and types from helpers/helpers.h and gro.c.
    unsafe {
        let cb = (*skb).cb.as_ptr();
        let proto = field::<u16, _>(cb, b::IPSEC_RS_OFF_GRO_PROTO as usize);
        let offset = field::<i32, _>(cb, b::IPSEC_RS_OFF_GRO_DATA_OFFSET as usize);
        let pkt_type = field::<u8, _>(skb, b::IPSEC_RS_OFF_SKB_PKT_TYPE as usize)
            & b::IPSEC_RS_PKT_TYPE_MASK as u8;
        (proto, pkt_type == 0, offset)
    }
}

/// `ERR_PTR(-EINPROGRESS)`: what a `gro_receive` callback returns for a
/// packet it took over.
fn taken() -> *mut b::sk_buff {
    ptr::without_provenance_mut(-(b::EINPROGRESS as isize) as usize)
}

/// The `gro_receive` callback of [`Slot`]'s `net_offload`s.
///
/// # Safety
///
/// Called by the IP layer's GRO (`inet_gro_receive`, `ipv6_gro_receive`,
/// or an encapsulation socket's GRO through the slot) only, with a packet
/// it owns and BH disabled.
unsafe extern "C" fn gro_receive_cb<T: GroReceive, const AF: u16>(
    _head: *mut b::list_head,
    skb: *mut b::sk_buff,
) -> *mut b::sk_buff {
    // SAFETY: GRO calls us with a live packet it owns, for this call: the
    // helpers below only read GRO's control block and move `data` within
    // the packet (a pull, and its push back); `OwnedSkb::from_raw` takes the
    // packet over, and every path that returns null hands it back to GRO
    // first (`into_raw`, then `decline`, which leaves it to go up
    // the stack as received), while the one that returns
    // `ERR_PTR(-EINPROGRESS)` keeps it (the handler delivered, queued or
    // freed it), after which GRO does not touch it (`dev_gro_receive`).
    unsafe {
        // The protocol's own packets only (not the UDP-encapsulated ones an
        // encapsulation socket's GRO passes to the same slot), sent to us.
        let (proto, to_host, offset) = gro_facts(skb);
        if proto != u16::from(T::PROTO) || !to_host || offset != ip_hlen(AF) as i32 {
            decline(skb, 0);
            return ptr::null_mut();
        }
        let hlen = ip_hlen(AF);
        if !super::skb::pskb_pull(skb, hlen) {
            decline(skb, 0);
            return ptr::null_mut();
        }
        let Some(owned) = OwnedSkb::from_raw(skb) else {
            return ptr::null_mut();
        };
        // The IP length must be the packet's (IP input would trim padding
        // and drop a short packet; GRO checks neither for us).
        let len = owned.view().len();
        let ip_len_ok = owned.network_header_bytes(hlen as usize).is_some_and(|h| {
            if AF == b::AF_INET as u16 {
                h.len() >= 4 && u32::from(u16::from_be_bytes([h[2], h[3]])) == len + hlen
            } else {
                h.len() >= 6 && u32::from(u16::from_be_bytes([h[4], h[5]])) == len
            }
        });
        if !ip_len_ok {
            decline(owned.into_raw(), hlen);
            return ptr::null_mut();
        }
        // GRO runs in softirq (NAPI poll) with BH disabled, an RCU
        // read-side section (the IP layer's `rcu_dereference` of the slot
        // relies on it too); the proof does not outlive this call.
        let rs = ReadSide::assume();
        match T::receive(owned, AF, rs) {
            Input::Decline(s) => {
                decline(s.into_raw(), hlen);
                ptr::null_mut()
            }
            Input::Consumed => taken(),
        }
    }
}

/// A packet a gro_receive callback does not take: `data` back by the
/// `pushed` bytes the callback pulled, and the packet out of GRO (it goes
/// up the stack as received).
///
/// # Safety
///
/// `skb` is a live packet GRO handed the callback, `pushed` bytes of which
/// the callback pulled.
unsafe fn decline(skb: *mut b::sk_buff, pushed: u32) {
    // SAFETY: caller's contract: the `pushed` bytes in front of `data` are
    // the packet's own (pulled, not freed), so `__skb_push` stays in the head.
    unsafe {
        if pushed != 0 {
            b::ipsec_rs___skb_push(skb, pushed);
        }
        b::ipsec_rs_gro_flush(skb);
    }
}

/// Our `net_offload`s while a [`Slot`] lives (null otherwise), to tell
/// ours from another holder's in [`foreign_registered`].
static OURS: [AtomicPtr<b::net_offload>; 2] = [
    AtomicPtr::new(ptr::null_mut()),
    AtomicPtr::new(ptr::null_mut()),
];

/// The pinned state of a [`Slot`]: the notifier first (its callback gets
/// the notifier's address, which is the state's).
#[repr(C)]
#[pin_data]
struct SlotState {
    nb: Opaque<b::notifier_block>,
    v4: Opaque<b::net_offload>,
    v6: Opaque<b::net_offload>,
    proto: u8,
    /// The modules to yield the IPv4 and IPv6 slots to.
    yield_to: [&'static CStr; 2],
    /// Held while a slot is taken or freed (by `Slot::new`, the notifier's
    /// callbacks and `Slot::drop`: process context, it may sleep in
    /// `synchronize_net`); `true` once the slot is being dropped, after
    /// which nothing takes a slot again. Without it a callback that saw the
    /// slot open could take a slot back after `drop` freed it, and a module
    /// loading once the notifier is gone would find it held.
    #[pin]
    closing: Mutex<bool>,
}

impl SlotState {
    /// Takes the slot of family `i` (0: IPv4, 1: IPv6); false if another
    /// handler holds it. Process context.
    fn take(&self, i: usize) -> bool {
        // SAFETY: our pinned `net_offload`s live until the slot is dropped,
        // which frees the slot first (and waits for running callbacks).
        let r = unsafe {
            if i == 0 {
                b::inet_add_offload(self.v4.get(), self.proto)
            } else {
                b::inet6_add_offload(self.v6.get(), self.proto)
            }
        };
        r == 0
    }

    /// Frees the slot of family `i` if it is ours (false if it was not),
    /// waiting for callbacks running on it (`synchronize_net`). Process
    /// context.
    fn release(&self, i: usize) -> bool {
        // SAFETY: a compare-and-clear of our own pointer; it may sleep
        // (process context, the caller's obligation).
        let r = unsafe {
            if i == 0 {
                b::inet_del_offload(self.v4.get(), self.proto)
            } else {
                b::inet6_del_offload(self.v6.get(), self.proto)
            }
        };
        r == 0
    }
}

/// The module notifier: yields a family's slot to the module named for it
/// before that module's init runs, takes it back once that module is gone.
///
/// # Safety
///
/// Called by the module loader's notifier chain only, on the notifier of a
/// live [`SlotState`] (registered until the slot is dropped), with `data`
/// the `struct module` concerned; process context.
unsafe extern "C" fn module_cb(
    nb: *mut b::notifier_block,
    action: c_ulong,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `nb` is the first field of a `#[repr(C)]` `SlotState`
    // (`Opaque` is transparent), live while registered.
    let st = unsafe { &*nb.cast::<SlotState>() };
    // SAFETY: `data` is a live module; its name is a NUL-terminated array
    // inside it, read during this call only.
    let name = unsafe { CStr::from_ptr(b::ipsec_rs_module_name(data.cast())) };
    let Some(i) = st
        .yield_to
        .iter()
        .position(|n| n.to_bytes() == name.to_bytes())
    else {
        return b::NOTIFY_DONE as c_int;
    };
    let name = name.to_str().unwrap_or("?");
    let family = if i == 0 { "IPv4" } else { "IPv6" };
    let closing = st.closing.lock();
    match action as u32 {
        b::module_state::MODULE_STATE_COMING => {
            if st.release(i) {
                pr_info!(
                    "{} loading: its GRO slot for IP protocol {} ({}) is left to it\n",
                    name,
                    st.proto,
                    family
                );
            }
        }
        b::module_state::MODULE_STATE_GOING if !*closing => {
            if st.take(i) {
                pr_info!(
                    "{} gone: GRO slot for IP protocol {} ({}) taken again\n",
                    name,
                    st.proto,
                    family
                );
            }
        }
        _ => {}
    }
    drop(closing);
    b::NOTIFY_DONE as c_int
}

/// A protocol's GRO slots over IPv4 and IPv6, held for handler `T` while
/// free and yielded to the modules named at [`Slot::new`] (see the module
/// docs). Dropping it frees them and waits for running callbacks; packets
/// the handler took and still holds (an asynchronous operation) are the
/// handler's business.
///
/// # Invariants
///
/// `state` is pinned, its notifier registered from `new()` until `drop()`.
pub struct Slot {
    state: Pin<KBox<SlotState>>,
}

// SAFETY: registration state only; the kernel serialises the notifier
// chain and the slots' `cmpxchg`.
unsafe impl Send for Slot {}
// SAFETY: `&Slot` offers no operation.
unsafe impl Sync for Slot {}

impl Slot {
    /// Registers `T` for its protocol over IPv4 and IPv6, yielding the
    /// IPv4 slot to module `yield_v4` and the IPv6 one to `yield_v6`.
    /// A slot another handler holds now is taken when its module goes.
    /// Process context.
    pub fn new<T: GroReceive>(yield_v4: &'static CStr, yield_v6: &'static CStr) -> Result<Self> {
        let offload =
            |cb: unsafe extern "C" fn(*mut b::list_head, *mut b::sk_buff) -> *mut b::sk_buff| {
                // SAFETY: all-zero is a valid `net_offload` (null callbacks,
                // zero flags).
                let mut o: b::net_offload = unsafe { core::mem::zeroed() };
                o.callbacks.gro_receive = Some(cb);
                Opaque::new(o)
            };
        // SAFETY: all-zero is a valid, unregistered `notifier_block`.
        let mut nb: b::notifier_block = unsafe { core::mem::zeroed() };
        nb.notifier_call = Some(module_cb);
        let state = KBox::pin_init(
            pin_init!(SlotState {
                nb: Opaque::new(nb),
                v4: offload(gro_receive_cb::<T, { b::AF_INET as u16 }>),
                v6: offload(gro_receive_cb::<T, { b::AF_INET6 as u16 }>),
                proto: T::PROTO,
                yield_to: [yield_v4, yield_v6],
                closing <- new_mutex!(false),
            }),
            GFP_KERNEL,
        )?;
        OURS[0].store(state.v4.get(), Ordering::Release);
        OURS[1].store(state.v6.get(), Ordering::Release);
        // The notifier first: a module loading meanwhile finds the slot
        // free or is told to have it.
        // SAFETY: pinned until `drop()` unregisters it.
        kernel::error::to_result(unsafe { b::register_module_notifier(state.nb.get()) })?;
        let guard = state.closing.lock();
        for (i, family) in ["IPv4", "IPv6"].into_iter().enumerate() {
            if !state.take(i) {
                pr_info!(
                    "GRO slot for IP protocol {} ({}) held by another handler: left to it\n",
                    T::PROTO,
                    family
                );
            }
        }
        drop(guard);
        Ok(Self { state })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Both slots freed, for good: a callback running now or later does
        // not take them again (`closing`), and a module loading from here
        // on finds them free even once the notifier is gone. Each release
        // ends with synchronize_net(): no CPU runs our callbacks afterwards.
        let mut closing = self.state.closing.lock();
        *closing = true;
        self.state.release(0);
        self.state.release(1);
        drop(closing);
        // SAFETY: registered (invariant); unregistering waits for running
        // notifier callbacks (the chain's rwsem), so none runs on the state
        // after this.
        unsafe { b::unregister_module_notifier(self.state.nb.get()) };
        OURS[0].store(ptr::null_mut(), Ordering::Release);
        OURS[1].store(ptr::null_mut(), Ordering::Release);
    }
}

/// The handlers registered for IP protocol `proto` now, IPv4 and IPv6.
fn registered(proto: u8) -> [*const b::net_offload; 2] {
    // The arrays' type says they have MAX_INET_PROTOS = 256 elements (a
    // binding of another length does not compile here).
    type Offloads = [*const b::net_offload; 256];
    let i = usize::from(proto);
    let (v4, v6): (*const Offloads, *const Offloads) = (
        ptr::addr_of!(b::inet_offloads),
        ptr::addr_of!(b::inet6_offloads),
    );
    // SAFETY: both arrays are exported and live as long as the kernel, and
    // index `i` (a u8) is below their 256 elements; each element is read
    // once, as READ_ONCE would (a volatile load of an aligned pointer),
    // without creating a reference to the `static mut`, and the pointers
    // are only compared, never dereferenced, so no RCU read-side section
    // is needed.
    unsafe {
        [
            ptr::read_volatile(v4.cast::<*const b::net_offload>().add(i)),
            ptr::read_volatile(v6.cast::<*const b::net_offload>().add(i)),
        ]
    }
}

/// Whether a GRO handler other than a [`Slot`]'s is registered for IP
/// protocol `proto`, over IPv4 and over IPv6 (`inet_offloads` /
/// `inet6_offloads`). Such a handler sees packets inside GRO, on devices
/// doing GRO, before IP input and so before the protocol's receive
/// handlers.
pub fn foreign_registered(proto: u8) -> (bool, bool) {
    let r = registered(proto);
    let foreign =
        |i: usize| !r[i].is_null() && r[i] != OURS[i].load(Ordering::Acquire).cast_const();
    (foreign(0), foreign(1))
}
