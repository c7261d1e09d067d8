// SPDX-License-Identifier: GPL-2.0

//! Network namespaces: a borrowed `struct net`, and per-namespace state
//! registered with `register_pernet_subsys()`.

use super::bindings as b;
use super::rcu::ReadSide;
use core::{
    cell::UnsafeCell,
    ffi::{c_int, c_void},
    marker::PhantomData,
    mem::size_of,
    ptr,
};
use kernel::{error::to_result, prelude::*, types::Opaque};

/// A network namespace, borrowed for as long as the kernel guarantees it lives
/// (the duration of a hook, a netlink request, or a pernet callback).
#[repr(transparent)]
pub struct Net(Opaque<b::net>);

impl Net {
    /// Borrows a `struct net`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `struct net` that stays alive for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const b::net) -> &'a Net {
        // SAFETY: `Net` is a transparent wrapper of `Opaque<net>`, and the
        // caller guarantees the pointee is live for `'a`.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// The raw pointer, for the wrappers of this directory.
    pub fn as_ptr(&self) -> *mut b::net {
        self.0.get()
    }

    /// The namespace's cookie: a 64-bit identifier unique for the boot,
    /// which userspace can read too (`SO_NETNS_COOKIE`).
    pub fn cookie(&self) -> u64 {
        // SAFETY: `self` is a live `struct net` by the type invariant.
        unsafe { b::ipsec_rs_net_cookie(self.as_ptr()) }
    }
}

/// Calls `f` for every network namespace that is fully set up (on the
/// kernel's namespace list: every pernet `init` ran, and no `exit` started),
/// holding `net_rwsem` for reading, so none is set up or torn down
/// meanwhile. Process context; `f` may sleep but must not create or destroy
/// namespaces.
pub fn for_each_net<F: FnMut(&Net)>(mut f: F) {
    unsafe extern "C" fn call<F: FnMut(&Net)>(net: *mut b::net, arg: *mut core::ffi::c_void) {
        // SAFETY: `arg` is the `&mut F` below, alive for the walk; `net` is
        // a live namespace on the list, kept there by `net_rwsem`.
        unsafe { (*arg.cast::<F>())(Net::from_raw(net)) }
    }
    let arg = (&mut f as *mut F).cast::<core::ffi::c_void>();
    // SAFETY: the shim walks the list under `net_rwsem` and calls `call::<F>`
    // with `arg`, which points to `f`, only during this call.
    unsafe { b::ipsec_rs_for_each_net(Some(call::<F>), arg) }
}

/// Whether `net` has an interface with index `ifindex` (any context).
pub fn dev_exists(net: &Net, ifindex: u32) -> bool {
    let Ok(idx) = i32::try_from(ifindex) else {
        return false;
    };
    let _rcu = super::rcu::RcuGuard::new();
    // SAFETY: `net` is live; the lookup needs RCU, which `_rcu` holds; the
    // device pointer is only compared with NULL, never dereferenced.
    !unsafe { b::dev_get_by_index_rcu(net.as_ptr(), idx) }.is_null()
}

/// Storage for the id the kernel assigns to a pernet subsystem.
///
/// The kernel writes it once inside `register_pernet_subsys()`, before any
/// callback runs, and only reads it afterwards.
pub struct PernetId(UnsafeCell<u32>);

// SAFETY: written only by `register_pernet_subsys()` under `pernet_ops_rwsem`
// before any reader can exist; read-only afterwards.
unsafe impl Sync for PernetId {}

impl PernetId {
    /// An unassigned id, for a `static`.
    pub const fn new() -> Self {
        Self(UnsafeCell::new(0))
    }

    fn get(&self) -> u32 {
        // SAFETY: see the `Sync` impl: no writer after registration.
        unsafe { *self.0.get() }
    }
}

/// Per-network-namespace state, created for every namespace (existing ones
/// at registration, new ones as they appear) and dropped when it goes away.
pub trait PernetState: Sized + Send + Sync + 'static {
    /// The static that holds this subsystem's id.
    fn id() -> &'static PernetId;

    /// Creates the state for `net`, in place at `slot` (stable for the
    /// namespace's life: the state may hand out pointers to itself).
    fn init(net: &Net) -> impl PinInit<Self, Error>;

    /// This subsystem's state in `net`.
    fn get(net: &Net) -> &Self {
        // SAFETY: `net` is live, `id()` was assigned at registration, and
        // `init_cb` initialised the slot before the namespace became visible;
        // it is dropped only in `exit_cb`, after which `net` is not handed out.
        unsafe { &*b::ipsec_rs_net_generic(net.as_ptr(), Self::id().get()).cast::<Self>() }
    }

    /// [`get`](Self::get) inside an RCU read-side section (the receive
    /// path): `net_generic()` read in place, without its shim call and its
    /// own `rcu_read_lock()`.
    #[inline(always)]
    fn get_rcu<'a>(net: &'a Net, _rs: &ReadSide<'_>) -> &'a Self {
        let id = Self::id().get() as usize;
        // SAFETY: `net` is live. `net->gen` is an RCU-protected pointer to
        // the namespace's `struct net_generic`, read once (READ_ONCE, as
        // `rcu_dereference()`) inside the read-side section `_rs` proves,
        // which keeps the array it points to alive (a grown array replaces
        // it and the old one is freed after a grace period); its `ptr[id]`
        // (offsets and types from helpers/helpers.h and net.c) is our state's slot,
        // which lives as long as `net` (see `get`).
        unsafe {
            let gen = ptr::read_volatile(
                net.as_ptr()
                    .cast::<u8>()
                    .add(b::IPSEC_RS_OFF_NET_GEN as usize)
                    .cast::<*const *mut c_void>(),
            );
            let slot = gen
                .cast::<u8>()
                .add(b::IPSEC_RS_OFF_NET_GENERIC_PTR as usize)
                .cast::<*mut c_void>()
                .add(id)
                .read();
            &*slot.cast::<Self>()
        }
    }
}

/// The pernet `init` callback.
///
/// # Safety
///
/// Called by the pernet subsystem only, for a namespace being set up.
unsafe extern "C" fn init_cb<T: PernetState>(net: *mut b::net) -> c_int {
    // SAFETY: the kernel passes a live namespace that outlives this call.
    let net_ref = unsafe { Net::from_raw(net) };
    // SAFETY: the kernel allocated `size_of::<T>()` bytes for our id in `net`.
    let slot = unsafe { b::ipsec_rs_net_generic(net, T::id().get()) }.cast::<T>();
    // SAFETY: `slot` is valid, suitably aligned (net_generic slots are
    // kmalloc'ed) and pinned for the namespace's life; on error nothing is
    // left initialised, which matches the kernel not calling exit.
    match unsafe { super::compat::pinned_init(T::init(net_ref), slot) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The pernet `exit` callback.
///
/// # Safety
///
/// Called by the pernet subsystem only, for a namespace being torn down.
unsafe extern "C" fn exit_cb<T: PernetState>(net: *mut b::net) {
    // SAFETY: `init_cb` initialised this slot; the kernel calls exit once.
    unsafe { ptr::drop_in_place(b::ipsec_rs_net_generic(net, T::id().get()).cast::<T>()) }
}

/// A registered pernet subsystem.
///
/// # Invariants
///
/// `ops` is registered with the kernel from `new()` until `drop()`.
pub struct PernetRegistration<T: PernetState> {
    ops: Pin<KBox<Opaque<b::pernet_operations>>>,
    _t: PhantomData<T>,
}

// SAFETY: the registration is only an owner of kernel-side state; the kernel
// synchronises (un)registration with `pernet_ops_rwsem`.
unsafe impl<T: PernetState> Send for PernetRegistration<T> {}
// SAFETY: as above; `&self` offers no operation.
unsafe impl<T: PernetState> Sync for PernetRegistration<T> {}

impl<T: PernetState> PernetRegistration<T> {
    /// Registers `T` for every network namespace (process context).
    pub fn new() -> Result<Self> {
        let ops = KBox::pin(
            Opaque::new(b::pernet_operations {
                init: Some(init_cb::<T>),
                exit: Some(exit_cb::<T>),
                id: T::id().0.get(),
                size: size_of::<T>(),
                ..Default::default()
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is fully initialised and pinned until `drop()`
        // unregisters it.
        to_result(unsafe { b::register_pernet_subsys(ops.get()) })?;
        Ok(Self {
            ops,
            _t: PhantomData,
        })
    }
}

impl<T: PernetState> Drop for PernetRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: registered by the type invariant; this calls `exit_cb` for
        // every namespace and waits for them.
        unsafe { b::unregister_pernet_subsys(self.ops.get()) }
    }
}
