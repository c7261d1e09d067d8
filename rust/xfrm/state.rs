// SPDX-License-Identifier: GPL-2.0

//! XFRM's SA database: lookups, held references, the SA's lock, its
//! lifetime and replay state, as `net/xfrm/xfrm_state.c` keeps them.

use super::super::{bindings as b, net::Net};
use core::{ffi::c_int, ops::Deref, ptr::NonNull};
use kernel::{prelude::*, types::Opaque};

/// An SA (`struct xfrm_state`), borrowed.
#[repr(transparent)]
pub struct State(Opaque<b::xfrm_state>);

impl State {
    /// # Safety
    ///
    /// `ptr` must be a live SA that stays alive (referenced) for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *const b::xfrm_state) -> &'a State {
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
    pub fn transform(&self) -> Option<super::super::aead::Aead<'_>> {
        let p = NonNull::new(self.raw().data.cast::<b::crypto_aead>())?;
        // SAFETY: for an ESP SA `x->data` is the AEAD transform, freed only
        // when the SA is destroyed, i.e. after our reference (which the
        // borrow ties the result to) is dropped.
        Some(unsafe { super::super::aead::Aead::from_raw(p) })
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
    pub(super) fn into_raw(self) -> *mut b::xfrm_state {
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
}

/// Wall-clock seconds (`ktime_get_real_seconds`), for `lastused`.
pub fn real_seconds() -> i64 {
    // SAFETY: no preconditions.
    unsafe { b::ktime_get_real_seconds() }
}
