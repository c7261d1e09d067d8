// SPDX-License-Identifier: GPL-2.0

//! The module's parameters (`module_param()` in `shims.c`: the macro has no
//! Rust counterpart in this kernel's `module!`), as plain values.

use super::bindings as b;

/// One integer parameter's storage.
///
/// # Invariants
///
/// Points to the parameter's static storage in `shims.c`, which lives as
/// long as the module.
#[derive(Clone, Copy)]
pub struct Param<T: Copy>(*mut T);

impl<T: Copy> Param<T> {
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

/// The parameters, by name.
pub struct Params {
    /// `rx_enable` (-1: not given).
    pub rx_enable: Param<i32>,
    /// `invalid_spi_enable` (-1: not given).
    pub invalid_spi_enable: Param<i32>,
    /// `replay_window` (0: not given).
    pub replay_window: Param<u32>,
    /// `replay_disabled` (-1: not given).
    pub replay_disabled: Param<i32>,
    /// `rx_gro` (-1: not given).
    pub rx_gro: Param<i32>,
}

/// The module's parameters.
pub fn params() -> Params {
    // SAFETY: returns the addresses of static storage; no precondition.
    let p = unsafe { b::ipsec_rs_params() };
    // INVARIANT: each pointer is a parameter's static storage.
    Params {
        rx_enable: Param(p.rx_enable),
        invalid_spi_enable: Param(p.invalid_spi_enable),
        replay_window: Param(p.replay_window),
        replay_disabled: Param(p.replay_disabled),
        rx_gro: Param(p.rx_gro),
    }
}
