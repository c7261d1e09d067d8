// SPDX-License-Identifier: GPL-2.0

//! Network devices: a borrowed `struct net_device` ([`Device`]), a
//! reference on one ([`DevRef`]), and the netdevice notifier chain
//! ([`Notifier`]), which tells a subscriber of every device registered and
//! unregistered in any namespace (under RTNL, process context).

use super::{bindings as b, net::Net};
use core::{
    ffi::{c_int, c_ulong, c_void, CStr},
    marker::PhantomData,
    ptr::{self, NonNull},
};
use kernel::{error::to_result, prelude::*, types::Opaque};

/// A network device, borrowed for as long as the kernel guarantees it lives.
#[repr(transparent)]
pub struct Device(Opaque<b::net_device>);

impl Device {
    /// Borrows a `struct net_device`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live device that stays allocated for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const b::net_device) -> &'a Device {
        // SAFETY: transparent wrapper; liveness is the caller's.
        unsafe { &*ptr.cast::<Device>() }
    }

    /// The raw pointer, for the wrappers of this directory.
    pub fn as_ptr(&self) -> *mut b::net_device {
        self.0.get()
    }

    /// The interface index.
    pub fn ifindex(&self) -> i32 {
        // SAFETY: live device (type invariant); set at registration, read
        // as the kernel's lookups read it (a plain int).
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_ptr()).ifindex)) }
    }

    /// Whether the device is up (`IFF_UP`), read once as the stack's lookups
    /// read it (any context).
    pub fn is_up(&self) -> bool {
        // SAFETY: live device; `flags` changes under RTNL and is read
        // without it by the stack's receive paths too (READ_ONCE).
        let flags = unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_ptr()).flags)) };
        flags & b::IPSEC_RS_IFF_UP != 0
    }

    /// The device's namespace.
    pub fn net(&self) -> &Net {
        // SAFETY: live device; `nd_net` (a plain pointer with CONFIG_NET_NS,
        // asserted in helpers/net.c) names its namespace, which outlives its
        // devices (they are unregistered or moved before it goes).
        unsafe {
            let p = self
                .as_ptr()
                .cast::<u8>()
                .add(b::IPSEC_RS_OFF_DEV_NET as usize)
                .cast::<*const b::net>()
                .read();
            Net::from_raw(p)
        }
    }

    /// The device's rtnetlink kind (`ip -d link`'s `vti`, `veth`, ...), if it
    /// was made through rtnetlink link operations.
    pub fn kind(&self) -> Option<&CStr> {
        // SAFETY: live device; `rtnl_link_ops` is set before registration
        // and points to its module's static operations, whose `kind` is a
        // static string: both outlive the device (a module's devices are
        // unregistered before it unloads).
        unsafe {
            let ops = (*self.as_ptr()).rtnl_link_ops;
            if ops.is_null() || (*ops).kind.is_null() {
                return None;
            }
            Some(CStr::from_ptr((*ops).kind))
        }
    }

    /// Counts a packet the device's receive lost as a tunnel driver counts
    /// one (`rx_errors` and `rx_dropped`). Any context.
    pub fn count_rx_error(&self) {
        // SAFETY: live device; the counters are atomic.
        unsafe { b::ipsec_rs_dev_rx_error(self.as_ptr()) }
    }

    /// The driver's private area (`netdev_priv()`), for the wrappers of
    /// this directory that know the driver's type.
    pub fn private(&self) -> *mut c_void {
        // SAFETY: live device; a pointer computation, nothing is read.
        unsafe { b::ipsec_rs_netdev_priv(self.as_ptr()) }
    }

    /// Takes a reference on the device (`dev_hold`).
    pub fn hold(&self) -> DevRef {
        // SAFETY: live device; the reference is ours until `DevRef` drops.
        unsafe { b::ipsec_rs_dev_hold(self.as_ptr()) };
        // INVARIANT: held just above.
        DevRef(NonNull::from(&self.0).cast())
    }
}

/// A reference on a network device, dropped (`dev_put`) with the value.
///
/// # Invariants
///
/// `self.0` is a device on which we own one reference (`dev_hold`).
pub struct DevRef(NonNull<b::net_device>);

// SAFETY: a device reference may be taken and dropped on any CPU.
unsafe impl Send for DevRef {}
// SAFETY: `&DevRef` only borrows the device, which is `Sync` in the kernel
// (its fields are read concurrently under the stack's own rules).
unsafe impl Sync for DevRef {}

impl DevRef {
    /// Takes over a reference the caller owns.
    ///
    /// # Safety
    ///
    /// `dev` is a live device on which the caller owns one reference, which
    /// moves into the value.
    pub unsafe fn from_held(dev: NonNull<b::net_device>) -> Self {
        // INVARIANT: the caller's reference.
        Self(dev)
    }

    /// The device.
    pub fn get(&self) -> &Device {
        // SAFETY: held (invariant), so not freed while `self` lives.
        unsafe { Device::from_raw(self.0.as_ptr()) }
    }
}

impl Clone for DevRef {
    fn clone(&self) -> Self {
        self.get().hold()
    }
}

impl Drop for DevRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (invariant).
        unsafe { b::ipsec_rs_dev_put(self.0.as_ptr()) }
    }
}

/// What a [`Notifier`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A device was registered in its namespace (or moved into it).
    Register,
    /// A device is being unregistered from its namespace (or moved out):
    /// references on it must be dropped.
    Unregister,
}

/// A subscriber of the netdevice notifier chain.
pub trait NetdevEvents: 'static {
    /// Device `dev` had `event`. Process context, RTNL held (so device
    /// registrations are serialised); may sleep. RTNL keeps `dev` alive for
    /// the call.
    fn event(event: Event, dev: &Device);
}

/// The notifier callback.
///
/// # Safety
///
/// Called by the netdevice notifier chain only, whose `data` is a
/// `struct netdev_notifier_info` naming a live device.
unsafe extern "C" fn notifier_cb<T: NetdevEvents>(
    _nb: *mut b::notifier_block,
    action: c_ulong,
    data: *mut c_void,
) -> c_int {
    let event = match action as u32 {
        b::netdev_cmd::NETDEV_REGISTER => Event::Register,
        b::netdev_cmd::NETDEV_UNREGISTER => Event::Unregister,
        _ => return b::NOTIFY_DONE as c_int,
    };
    // SAFETY: the chain passes a `netdev_notifier_info` whose `dev` is live
    // for the call (RTNL held).
    let dev = unsafe { Device::from_raw((*data.cast::<b::netdev_notifier_info>()).dev) };
    T::event(event, dev);
    b::NOTIFY_DONE as c_int
}

/// A registration on the netdevice notifier chain for `T`.
///
/// Registering replays [`Event::Register`] for every device of every
/// namespace; unregistering replays [`Event::Unregister`] for each, so a
/// subscriber that holds device references drops them all by then.
///
/// # Invariants
///
/// `nb` is registered from `new()` until `drop()`, pinned.
pub struct Notifier<T: NetdevEvents> {
    nb: Pin<KBox<Opaque<b::notifier_block>>>,
    _t: PhantomData<T>,
}

// SAFETY: registration state only; the chain's own lock (RTNL) serialises.
unsafe impl<T: NetdevEvents> Send for Notifier<T> {}
// SAFETY: `&Notifier` offers no operation.
unsafe impl<T: NetdevEvents> Sync for Notifier<T> {}

impl<T: NetdevEvents> Notifier<T> {
    /// Subscribes `T`. Process context; takes RTNL.
    pub fn new() -> Result<Self> {
        let nb = KBox::pin(
            Opaque::new(b::notifier_block {
                notifier_call: Some(notifier_cb::<T>),
                next: ptr::null_mut(),
                priority: 0,
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: pinned until `drop()` unregisters it.
        to_result(unsafe { b::register_netdevice_notifier(nb.get()) })?;
        Ok(Self {
            nb,
            _t: PhantomData,
        })
    }
}

impl<T: NetdevEvents> Drop for Notifier<T> {
    fn drop(&mut self) {
        // SAFETY: registered (invariant). Taken under RTNL, which every
        // callback runs under: none runs after this returns.
        unsafe { b::unregister_netdevice_notifier(self.nb.get()) };
    }
}
