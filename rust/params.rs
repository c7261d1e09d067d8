// SPDX-License-Identifier: GPL-2.0

//! Module parameters, read and written back from Rust. This kernel's
//! `module!` declares none, so a module declares its parameters in C
//! (`module_param()`, a macro) and finds each here by name among its own
//! (`THIS_MODULE->kp`, the module these wrappers are built into), of the
//! type its declaration gave it.

use super::bindings as b;
use core::ffi::CStr;

/// The types a parameter may have here, by the kernel's operations for
/// them (`param_ops_int`, `param_ops_uint`).
pub trait ParamType: Copy {
    /// The operations `module_param(name, TYPE, ...)` gives this type.
    fn ops() -> *const b::kernel_param_ops;
}

impl ParamType for i32 {
    fn ops() -> *const b::kernel_param_ops {
        // The address of an exported static; nothing is read.
        core::ptr::addr_of!(b::param_ops_int)
    }
}

impl ParamType for u32 {
    fn ops() -> *const b::kernel_param_ops {
        core::ptr::addr_of!(b::param_ops_uint)
    }
}

/// One parameter's storage.
///
/// # Invariants
///
/// Points to the static storage of a parameter of type `T` of this
/// module, which lives as long as the module.
#[derive(Clone, Copy)]
pub struct Param<T: ParamType>(*mut T);

impl<T: ParamType> Param<T> {
    /// This module's parameter `name`, if it has one of type `T`.
    pub fn find(name: &CStr) -> Option<Self> {
        // SAFETY: no precondition; the module's own descriptor.
        let m = unsafe { b::ipsec_rs_this_module() };
        if m.is_null() {
            // Built in: no parameters of its own.
            return None;
        }
        // SAFETY: a loaded module's descriptor; `kp` holds `num_kp`
        // parameters, fixed once it is loaded.
        let kps = unsafe {
            let (kp, n) = ((*m).kp, (*m).num_kp as usize);
            if kp.is_null() {
                return None;
            }
            core::slice::from_raw_parts(kp, n)
        };
        kps.iter()
            .find(|kp| {
                // SAFETY: every parameter has a NUL-terminated static name.
                kp.ops == T::ops() && unsafe { CStr::from_ptr(kp.name) } == name
            })
            // SAFETY: a parameter with these operations stores its value at
            // `arg`, a `T`.
            // INVARIANT: static storage of the module, of type `T`.
            .map(|kp| Param(unsafe { kp.__bindgen_anon_1.arg }.cast::<T>()))
    }

    /// The value (as given at load, or written back by [`Param::set`]).
    pub fn get(&self) -> T {
        // SAFETY: static storage (invariant); a volatile read, as sysfs may
        // read it at the same time (0444: nobody else writes it).
        unsafe { core::ptr::read_volatile(self.0) }
    }

    /// Writes the effective value back, for `/sys/module/.../parameters/`.
    /// Module init only (the one writer).
    pub fn set(&self, v: T) {
        // SAFETY: static storage (invariant); sysfs only reads it.
        unsafe { core::ptr::write_volatile(self.0, v) }
    }
}
