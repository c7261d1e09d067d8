// SPDX-License-Identifier: GPL-2.0

//! XFRM: the SA database (lookups, held references, the SA's lock, its
//! lifetime and statistics accounting), the ESP protocol-handler chain, the
//! security path of a decapsulated packet, and the hand-over of packets to
//! XFRM's output path.

use super::{
    bindings as b,
    net::Net,
    netfilter::{HookState, Stolen},
    skb::{OwnedSkb, SkBuff},
};
use core::{ffi::c_int, ops::Deref, ptr::NonNull};
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
            core::ptr::copy_nonoverlapping(
                b::ipsec_rs_xfrm_daddr(self.0.get()).cast::<u8>(),
                a.as_mut_ptr(),
                16,
            )
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

    /// Source address: 4 significant bytes for IPv4, 16 for IPv6.
    pub fn saddr(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        // SAFETY: live; `props.saddr` is a 16-byte union set at creation,
        // read without the SA's lock as `vti_state_check()` reads it.
        unsafe {
            core::ptr::copy_nonoverlapping(
                core::ptr::addr_of!((*self.0.get()).props.saddr).cast::<u8>(),
                a.as_mut_ptr(),
                16,
            )
        };
        a
    }

    /// The SA's mark as (value, mask) (`x->mark`): a packet's mark `m`
    /// selects the SA when `m & mask == value`. Fixed once the SA is in the
    /// SA database.
    pub fn mark(&self) -> (u32, u32) {
        // SAFETY: live; two 32-bit fields set before insertion.
        unsafe {
            let m = core::ptr::addr_of!((*self.0.get()).mark);
            ((*m).v, (*m).m)
        }
    }

    /// The XFRM interface ID the SA belongs to (`x->if_id`), 0 for none.
    /// Fixed at creation.
    pub fn if_id(&self) -> u32 {
        // SAFETY: live; a 32-bit field set at creation.
        unsafe { (*self.0.get()).if_id }
    }
}

/// Looks up the SA for (`daddr`, `spi`, `proto`) in `net` that a packet with
/// `mark` would use: the SA `xfrm_input()` finds. `daddr` holds 4 (IPv4,
/// first bytes) or 16 significant bytes; `family` is AF_INET or AF_INET6.
/// Any context, the receive path's included.
///
/// Through XFRM's SPI hash (`xfrm_state_lookup()`: constant cost, however
/// many SAs), never through `xfrm_input_state_lookup()`, which xfrm_input()
/// itself uses (6.12.y and 7.3): that one first walks a per-CPU list of
/// every SA the CPU has looked up before, unbounded and not reordered on a
/// hit, so its cost grows with the number of SAs in use (measured with SAs
/// used in turn: 62 instructions a packet at one SA, 4,557 at 1,000;
/// `selftests/bench_scale.sh`), and a packet for an unknown SPI walks all
/// of it before the hash says no.
pub fn lookup(
    net: &Net,
    mark: u32,
    daddr: &[u8; 16],
    spi: u32,
    proto: u8,
    family: u16,
) -> Option<StateRef> {
    let mut addr = b::xfrm_address_t::default();
    // SAFETY: `xfrm_address_t` is a 16-byte union of address forms; writing
    // its bytes is how the kernel fills it too.
    unsafe {
        core::ptr::copy_nonoverlapping(
            daddr.as_ptr(),
            (&mut addr as *mut b::xfrm_address_t).cast::<u8>(),
            16,
        )
    };
    // SAFETY: `net` is live, `addr` outlives the call; the SPI is passed in
    // network byte order as the kernel expects.
    let x = unsafe { b::xfrm_state_lookup(net.as_ptr(), mark, &addr, spi.to_be(), proto, family) };
    // The lookup returned a reference we now own (or nothing).
    NonNull::new(x).map(|ptr| StateRef { ptr })
}

/// Up to `max` references to the SAs of protocol `proto` in `net`, in
/// XFRM's order (newest first), after the first `skip` of them: one page of
/// a dump that resumes by count (between two calls SAs may come and go;
/// within one, the walk holds XFRM's state lock). Process context.
pub fn states(net: &Net, proto: u8, skip: usize, max: usize) -> Result<KVec<StateRef>> {
    struct Walk {
        skip: usize,
        out: KVec<StateRef>,
    }
    unsafe extern "C" fn each(
        x: *mut b::xfrm_state,
        _count: c_int,
        data: *mut core::ffi::c_void,
    ) -> c_int {
        // SAFETY: `data` is the `Walk` below, alive for the walk.
        let w = unsafe { &mut *data.cast::<Walk>() };
        if w.skip > 0 {
            w.skip -= 1;
            return 0;
        }
        if w.out.len() == w.out.capacity() {
            // Stop: the page is full.
            return 1;
        }
        let Some(ptr) = NonNull::new(x) else { return 0 };
        // SAFETY: `x` is live while the walk holds XFRM's state lock (the
        // state list is only changed under it); the reference taken keeps it.
        unsafe { b::ipsec_rs_xfrm_state_hold(ptr.as_ptr()) };
        // Capacity was reserved: no allocation under the BH spinlock.
        match w.out.push(StateRef { ptr }, GFP_ATOMIC) {
            Ok(()) => 0,
            Err(_) => 1,
        }
    }
    let mut w = Walk {
        skip,
        out: KVec::with_capacity(max, GFP_KERNEL)?,
    };
    let mut walk = b::xfrm_state_walk::default();
    // SAFETY: `walk` is initialised here and lives on this stack frame
    // until `xfrm_state_walk_done` has taken its marker (if any) off XFRM's
    // list; `each` only runs during `xfrm_state_walk`, with `w` alive.
    unsafe {
        b::xfrm_state_walk_init(&mut walk, proto, core::ptr::null_mut());
        b::xfrm_state_walk(
            net.as_ptr(),
            &mut walk,
            Some(each),
            (&mut w as *mut Walk).cast(),
        );
        b::xfrm_state_walk_done(&mut walk, net.as_ptr());
    }
    Ok(w.out)
}

/// Whether XFRM has an SA for (`daddr`, `spi`, `proto`) in `net`, see
/// [`lookup`]. Any context.
pub fn state_exists(
    net: &Net,
    mark: u32,
    daddr: &[u8; 16],
    spi: u32,
    proto: u8,
    family: u16,
) -> bool {
    lookup(net, mark, daddr, spi, proto, family).is_some()
}

impl SkBuff {
    /// The packet's firewall mark (`skb->mark`), which XFRM matches SAs with.
    pub fn mark(&self) -> u32 {
        // SAFETY: the skb is live by the type invariant; `mark` is a u32
        // (helpers/skbuff.c), read in place.
        unsafe { super::skb::field::<u32, _>(self.as_ptr(), b::IPSEC_RS_OFF_SKB_MARK as usize) }
    }

    /// The index of the interface the packet was received on.
    pub fn ifindex(&self) -> i32 {
        let p = self.as_ptr();
        // SAFETY: the skb is live by the type invariant; its device, when
        // it has one, is live while the skb is received (RCU); a packet
        // without one carries the index it was received on (`skb_iif`).
        unsafe {
            match super::skb::dev_of(p).as_ref() {
                Some(dev) => dev.ifindex,
                None => b::ipsec_rs_skb_iif(p),
            }
        }
    }

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

/// Mode of an SA (`x->props.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Transport mode.
    Transport,
    /// Tunnel mode.
    Tunnel,
    /// BEET, route optimisation, anything else.
    Other,
}

/// The names of an SA's algorithms as XFRM holds them (`x->aead`, or
/// `x->ealg` and `x->aalg`), borrowed from the SA.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlgNames<'a> {
    /// The combined-mode algorithm (`rfc4106(gcm(aes))`, ...).
    pub aead: Option<&'a [u8]>,
    /// The encryption algorithm (`cbc(aes)`, ...).
    pub enc: Option<&'a [u8]>,
    /// The authentication algorithm (`hmac(sha256)`, ...).
    pub auth: Option<&'a [u8]>,
}

/// What the receive path needs to know about an SA before touching a
/// packet: the SA's immutable configuration.
#[derive(Clone, Copy, Debug)]
pub struct Props {
    /// Mode.
    pub mode: Mode,
    /// Outer address family (AF_INET, AF_INET6).
    pub family: u16,
    /// `XFRM_STATE_*` flags.
    pub flags: u8,
    /// UDP encapsulation type (`x->encap->encap_type`) or 0.
    pub encap_type: u16,
    /// XFRM interface id (0: none).
    pub if_id: u32,
    /// SA direction (0 unspecified, 1 in, 2 out).
    pub dir: u8,
    /// Hardware offload configured.
    pub offloaded: bool,
    /// The SA's AEAD transform exists (`x->data`).
    pub has_tfm: bool,
    /// XFRM's own replay window (`replay-window`, or the ESN window).
    pub xfrm_replay_window: u32,
    /// The SA's source address as installed (for NAT mapping changes).
    pub saddr: [u8; 16],
}

/// `XFRM_STATE_ESN`.
pub const FLAG_ESN: u8 = b::XFRM_STATE_ESN as u8;
/// `XFRM_STATE_NOECN`.
pub const FLAG_NOECN: u8 = b::XFRM_STATE_NOECN as u8;
/// `XFRM_STATE_DECAP_DSCP`.
pub const FLAG_DECAP_DSCP: u8 = b::XFRM_STATE_DECAP_DSCP as u8;

fn c_name(n: &[core::ffi::c_char]) -> &[u8] {
    // SAFETY: `c_char` and `u8` have the same size and alignment.
    let s = unsafe { core::slice::from_raw_parts(n.as_ptr().cast::<u8>(), n.len()) };
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    s.get(..end).unwrap_or(&[])
}

/// A reference to an XFRM state, held from lookup (or `clone`) until drop.
///
/// # Invariants
///
/// `ptr` is a live `xfrm_state` on which `self` owns one reference.
pub struct StateRef {
    ptr: NonNull<b::xfrm_state>,
}

// SAFETY: the reference count is atomic, and everything `StateRef` does with
// mutable state of the SA happens under the SA's lock (`StateGuard`).
unsafe impl Send for StateRef {}
// SAFETY: as above.
unsafe impl Sync for StateRef {}

impl Deref for StateRef {
    type Target = State;
    fn deref(&self) -> &State {
        // SAFETY: we hold a reference (invariant).
        unsafe { State::from_raw(self.ptr.as_ptr()) }
    }
}

impl Clone for StateRef {
    fn clone(&self) -> Self {
        // SAFETY: live by the invariant; takes a new reference.
        unsafe { b::ipsec_rs_xfrm_state_hold(self.ptr.as_ptr()) };
        Self { ptr: self.ptr }
    }
}

impl Drop for StateRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (invariant); any context.
        unsafe { b::ipsec_rs_xfrm_state_put(self.ptr.as_ptr()) }
    }
}

impl StateRef {
    fn raw(&self) -> &b::xfrm_state {
        // SAFETY: live by the invariant. The fields read through this
        // reference without the SA's lock are set when the SA is created and
        // never change afterwards (props, algorithms, encapsulation
        // template, transform); the ones that change are only touched
        // through `StateGuard`.
        unsafe { self.ptr.as_ref() }
    }

    /// The SA's identity, stable while the reference is held.
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The immutable configuration the receive path decides on.
    pub fn props(&self) -> Props {
        let x = self.raw();
        let mode = match u32::from(x.props.mode) {
            b::XFRM_MODE_TRANSPORT => Mode::Transport,
            b::XFRM_MODE_TUNNEL => Mode::Tunnel,
            _ => Mode::Other,
        };
        // SAFETY: `encap`, `aead`, `ealg`, `aalg`, `replay_esn` are null or
        // point to allocations owned by the SA and never replaced while it
        // is in the SA database (xfrm_state_update copies into a new SA, or
        // replaces `encap` only under the SA lock with the same type).
        let encap_type = match unsafe { x.encap.as_ref() } {
            Some(e) => e.encap_type,
            None => 0,
        };
        // SAFETY: as above.
        let xfrm_replay_window = match unsafe { x.replay_esn.as_ref() } {
            Some(r) => r.replay_window,
            None => u32::from(x.props.replay_window),
        };
        let mut saddr = [0u8; 16];
        // SAFETY: `xfrm_address_t` is 16 bytes of address.
        unsafe {
            core::ptr::copy_nonoverlapping(
                (&x.props.saddr as *const b::xfrm_address_t).cast::<u8>(),
                saddr.as_mut_ptr(),
                16,
            )
        };
        Props {
            mode,
            family: x.props.family,
            flags: x.props.flags,
            encap_type,
            if_id: x.if_id,
            dir: x.dir,
            offloaded: !x.xso.dev.is_null(),
            has_tfm: !x.data.is_null(),
            xfrm_replay_window,
            saddr,
        }
    }

    /// The encapsulation's source port (network order; 0 without
    /// encapsulation), as it stands: `xfrm_state_update()` may rewrite it
    /// in place (a NAT mapping change). Lock-free snapshot, as esp4 reads it.
    pub fn encap_sport_be(&self) -> u16 {
        let e = self.raw().encap;
        if e.is_null() {
            return 0;
        }
        // SAFETY: `encap` is null or owned by the SA for its life (see
        // `props`); a racy read of a 16-bit field (READ_ONCE), as esp4/esp6
        // read it.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*e).encap_sport)) }
    }

    /// The names of the SA's algorithms.
    pub fn alg_names(&self) -> AlgNames<'_> {
        let x = self.raw();
        // SAFETY: `aead`, `ealg`, `aalg` are null or owned by the SA and
        // never replaced while it is in the SA database (see `props`).
        unsafe {
            AlgNames {
                aead: x.aead.as_ref().map(|a| c_name(&a.alg_name)),
                enc: x.ealg.as_ref().map(|e| c_name(&e.alg_name)),
                auth: x.aalg.as_ref().map(|a| c_name(&a.alg_name)),
            }
        }
    }

    /// The SA's AEAD transform as its protocol built it (`x->data`: for
    /// ESP, esp4/esp6 `init_state` wrap the SA's algorithm in an IV
    /// generator, keys set through it); `None` without one.
    pub fn transform(&self) -> Option<super::aead::Aead<'_>> {
        let p = NonNull::new(self.raw().data.cast::<b::crypto_aead>())?;
        // SAFETY: for an ESP SA `x->data` is the AEAD transform, freed only
        // when the SA is destroyed, i.e. after our reference (which the
        // borrow ties the result to) is dropped.
        Some(unsafe { super::aead::Aead::from_raw(p) })
    }

    /// The SA's mark rewrite (`set-mark`, XFRMA_SET_MARK) as (value,
    /// mask), `None` without one (a zero mask: `xfrm_smark_get` then
    /// returns the mark unchanged).
    pub fn smark(&self) -> Option<(u32, u32)> {
        let m = &self.raw().props.smark;
        // SAFETY: live SA; racy reads of two 32-bit fields (READ_ONCE), as
        // xfrm_smark_get() reads them while xfrm_state_update() may replace
        // them under the SA's lock.
        let (v, mask) = unsafe {
            (
                core::ptr::read_volatile(&m.v),
                core::ptr::read_volatile(&m.m),
            )
        };
        (mask != 0).then_some((v, mask))
    }

    /// Takes the SA's lock (`x->lock`, a plain spinlock: softirq, or BH
    /// disabled, as xfrm_input takes it).
    pub fn lock(&self) -> StateGuard<'_> {
        // SAFETY: live; the lock is initialised with the SA.
        unsafe { b::ipsec_rs_spin_lock(&self.raw().lock as *const _ as *mut b::spinlock_t) };
        StateGuard { x: self }
    }

    /// Takes the SA's lock from process context (bottom halves disabled,
    /// since softirq takes it too).
    pub fn lock_bh(&self) -> StateGuardBh<'_> {
        // SAFETY: live; the lock is initialised with the SA.
        unsafe { b::ipsec_rs_spin_lock_bh(&self.raw().lock as *const _ as *mut b::spinlock_t) };
        StateGuardBh {
            g: core::mem::ManuallyDrop::new(StateGuard { x: self }),
        }
    }

    /// Whether the SA is dead (deleted or expired: never used again).
    /// Lock-free snapshot.
    pub fn is_dead(&self) -> bool {
        // SAFETY: live; a racy byte read of `km.state`, as the kernel's own
        // lockless checks do (READ_ONCE).
        let st = unsafe { core::ptr::read_volatile(&self.raw().km.state) };
        u32::from(st) == b::XFRM_STATE_DEAD
    }

    /// The mask of the SA's mark (`x->mark.m`): 0 when the SA matches
    /// packets whatever their mark. Fixed once the SA is inserted
    /// (`xfrm_state_update` does not change it).
    pub fn mark_mask(&self) -> u32 {
        self.raw().mark.m
    }

    /// Whether the SA is valid (usable), as a lock-free snapshot: a hint
    /// before decryption; `StateGuard::valid` decides, under the lock.
    pub fn is_valid(&self) -> bool {
        // SAFETY: live; a racy byte read of `km.state`, as in `is_dead`.
        let st = unsafe { core::ptr::read_volatile(&self.raw().km.state) };
        u32::from(st) == b::XFRM_STATE_VALID
    }

    /// Reports a changed NAT mapping (source address or port of a
    /// UDP-encapsulated SA) to the key manager, as esp4/esp6 do.
    pub fn new_mapping(&self, addr: &[u8; 16], sport_be: u16) {
        let mut a = to_xfrm_addr(addr);
        // SAFETY: live; `a` outlives the call. Any context (it takes its own locks).
        unsafe { b::km_new_mapping(self.ptr.as_ptr(), &mut a, sport_be) };
    }

    /// Gives the reference away, to the packet's security path.
    fn into_raw(self) -> *mut b::xfrm_state {
        let p = self.ptr.as_ptr();
        core::mem::forget(self);
        p
    }
}

fn to_xfrm_addr(daddr: &[u8; 16]) -> b::xfrm_address_t {
    let mut addr = b::xfrm_address_t::default();
    // SAFETY: `xfrm_address_t` is a 16-byte union of address forms; writing
    // its bytes is how the kernel fills it too.
    unsafe {
        core::ptr::copy_nonoverlapping(
            daddr.as_ptr(),
            (&mut addr as *mut b::xfrm_address_t).cast::<u8>(),
            16,
        )
    };
    addr
}

/// XFRM's replay state as it stands (for taking over from XFRM).
#[derive(Clone, Copy, Debug, Default)]
pub struct XfrmReplay {
    /// Highest sequence number XFRM accepted (64 bits with ESN).
    pub top: u64,
    /// XFRM's window.
    pub window: u32,
}

/// The SA's lock, held.
pub struct StateGuard<'a> {
    x: &'a StateRef,
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: held by this guard.
        unsafe { b::ipsec_rs_spin_unlock(&self.x.raw().lock as *const _ as *mut b::spinlock_t) };
    }
}

/// The SA's lock held from process context; derefs to [`StateGuard`].
pub struct StateGuardBh<'a> {
    g: core::mem::ManuallyDrop<StateGuard<'a>>,
}

impl<'a> core::ops::Deref for StateGuardBh<'a> {
    type Target = StateGuard<'a>;
    fn deref(&self) -> &StateGuard<'a> {
        &self.g
    }
}

impl<'a> core::ops::DerefMut for StateGuardBh<'a> {
    fn deref_mut(&mut self) -> &mut StateGuard<'a> {
        &mut self.g
    }
}

impl Drop for StateGuardBh<'_> {
    fn drop(&mut self) {
        // SAFETY: taken with spin_lock_bh in `lock_bh`; the inner guard is
        // never dropped (ManuallyDrop), so this is the only unlock.
        unsafe {
            b::ipsec_rs_spin_unlock_bh(&self.g.x.raw().lock as *const _ as *mut b::spinlock_t)
        };
    }
}

impl StateGuard<'_> {
    /// The address of the locked SA (see `StateRef::addr`).
    pub fn state_addr(&self) -> usize {
        self.x.addr()
    }

    /// Raises XFRM's replay state to `top` (if it is behind), marking
    /// everything in XFRM's window as seen: what we accepted, XFRM will
    /// not accept again when it takes over.
    pub fn xfrm_replay_raise(&mut self, top: u64) {
        let x = self.raw_mut();
        // SAFETY: locked; `replay`/`replay_esn` are protected by `x->lock`;
        // `bmp` has `bmp_len` words.
        unsafe {
            match (*x).replay_esn.as_mut() {
                Some(r) => {
                    let cur = (u64::from(r.seq_hi) << 32) | u64::from(r.seq);
                    if top > cur {
                        r.seq = top as u32;
                        r.seq_hi = (top >> 32) as u32;
                        let bmp = r.bmp.as_mut_slice(r.bmp_len as usize);
                        for w in bmp.iter_mut() {
                            *w = u32::MAX;
                        }
                    }
                }
                None => {
                    let top = top as u32;
                    if top > (*x).replay.seq {
                        (*x).replay.seq = top;
                        (*x).replay.bitmap = u32::MAX;
                    }
                }
            }
        }
    }

    fn raw_mut(&mut self) -> *mut b::xfrm_state {
        self.x.ptr.as_ptr()
    }

    /// `x->km.state == XFRM_STATE_VALID` (not being deleted, not expired,
    /// not an acquire placeholder).
    pub fn valid(&self) -> bool {
        u32::from(self.x.raw().km.state) == b::XFRM_STATE_VALID
    }

    /// `xfrm_state_check_expire()`: accounts first use, fires soft/hard
    /// expiry (and the key manager's expire event); true if the SA may not
    /// be used (hard limit reached).
    pub fn check_expire(&mut self) -> bool {
        // SAFETY: live and locked, as the callee expects.
        unsafe { b::xfrm_state_check_expire(self.raw_mut()) != 0 }
    }

    /// Accounts one received packet of `bytes` bytes in the SA's lifetime
    /// counters (`ip -s xfrm state`), as xfrm_input does after decryption.
    pub fn account(&mut self, bytes: u32, now_real_secs: i64) {
        let x = self.raw_mut();
        // SAFETY: locked; these fields are protected by `x->lock`.
        unsafe {
            (*x).curlft.bytes = (*x).curlft.bytes.wrapping_add(u64::from(bytes));
            (*x).curlft.packets = (*x).curlft.packets.wrapping_add(1);
            (*x).lastused = now_real_secs;
        }
    }

    /// Bumps the SA's "replay" statistic (`ip -s xfrm state`: replay).
    pub fn stat_replay(&mut self) {
        // SAFETY: locked; protected field.
        unsafe { (*self.raw_mut()).stats.replay = (*self.raw_mut()).stats.replay.wrapping_add(1) }
    }

    /// Bumps the SA's "replay-window" statistic (too old).
    pub fn stat_replay_window(&mut self) {
        // SAFETY: locked; protected field.
        unsafe {
            (*self.raw_mut()).stats.replay_window =
                (*self.raw_mut()).stats.replay_window.wrapping_add(1)
        }
    }

    /// Bumps the SA's "integrity" statistic (ICV failure).
    pub fn stat_integrity_failed(&mut self) {
        // SAFETY: locked; protected field.
        unsafe {
            (*self.raw_mut()).stats.integrity_failed =
                (*self.raw_mut()).stats.integrity_failed.wrapping_add(1)
        }
    }

    /// XFRM's own replay state.
    pub fn xfrm_replay(&self) -> XfrmReplay {
        let x = self.x.raw();
        // SAFETY: locked; `replay_esn` is owned by the SA.
        match unsafe { x.replay_esn.as_ref() } {
            Some(r) => XfrmReplay {
                top: (u64::from(r.seq_hi) << 32) | u64::from(r.seq),
                window: r.replay_window,
            },
            None => XfrmReplay {
                top: u64::from(x.replay.seq),
                window: u32::from(x.props.replay_window),
            },
        }
    }
}

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
    /// The sequence of the namespace's SA hash generation
    /// (`net->xfrm.xfrm_state_hash_generation`), which XFRM makes odd while
    /// it moves its SA hash tables to larger ones and even again after: a
    /// lookup's answer for SAs that share an SPI and a destination depends
    /// on the tables' chain order, which a move may change. Lock-free read.
    pub fn xfrm_state_hash_gen(&self) -> u32 {
        // SAFETY: live namespace; a racy read of the sequence, as
        // `read_seqcount_begin` does (READ_ONCE).
        unsafe {
            core::ptr::read_volatile(
                &(*self.as_ptr())
                    .xfrm
                    .xfrm_state_hash_generation
                    .seqcount
                    .sequence,
            )
        }
    }

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
    /// The IP protocol (`IPPROTO_ESP`, `IPPROTO_AH` or `IPPROTO_COMP`: the
    /// chains XFRM has).
    const PROTO: u8;

    /// Handles a reassembled, locally delivered packet of
    /// [`XfrmInput::PROTO`] and `family` (AF_INET/AF_INET6), with
    /// `encap_type` 0 (plain) or the UDP encapsulation type of the socket
    /// it came through. `skb->data` and the transport header point at the
    /// protocol header, the network header at the outer IP header.
    /// Softirq, inside an RCU read-side section (`rs`).
    fn input(skb: OwnedSkb, family: u16, encap_type: i32, rs: super::rcu::ReadSide<'_>) -> Input;
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
    let rs = unsafe { super::rcu::ReadSide::assume() };
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

/// Wall-clock seconds (`ktime_get_real_seconds`), for `lastused`.
pub fn real_seconds() -> i64 {
    // SAFETY: no preconditions.
    unsafe { b::ktime_get_real_seconds() }
}
