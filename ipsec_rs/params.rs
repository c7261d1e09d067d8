// SPDX-License-Identifier: GPL-2.0

//! The defaults of new namespaces from the module's parameters (`modprobe
//! ipsec_rs rx_enable=1 replay_window=4096`, or a line in
//! `/etc/modprobe.d/`): validated at load, where an invalid value refuses
//! the load with a message naming the parameter; a parameter not given
//! takes the core's default; the effective values are written back so that
//! `/sys/module/ipsec_rs/parameters/` shows what applies. They apply to
//! `init_net` at load and to every namespace created afterwards; per
//! namespace, `ipsec-rs set global` still overrides them. Declared in
//! `params.c` (`module_param()`), found here by name.

use crate::{
    nl::GlobalConfig,
    replay::{MAX_WINDOW, MIN_WINDOW},
    rust::params::{Param, ParamType},
};
use core::ffi::CStr;
use kernel::prelude::*;

/// The module's parameter `name` of type `T`, as `params.c` declares it.
fn param<T: ParamType>(name: &CStr) -> Result<Param<T>> {
    Param::find(name).ok_or_else(|| {
        pr_err!("parameter {:?} not declared as expected\n", name);
        EINVAL
    })
}

/// A 0/1 parameter; -1 (not given) takes `default`.
fn flag(name: &CStr, default: bool) -> Result<bool> {
    let p = param::<i32>(name)?;
    let v = match p.get() {
        -1 => default,
        0 => false,
        1 => true,
        v => {
            pr_err!(
                "parameter {}={} refused: 0 or 1\n",
                name.to_str().unwrap_or("?"),
                v
            );
            return Err(EINVAL);
        }
    };
    p.set(i32::from(v));
    Ok(v)
}

/// `rx_gro`: whether the receive path takes ESP inside GRO (module-wide:
/// the GRO slots are; each namespace's receive path still decides per
/// packet). Off by default.
pub(crate) fn rx_gro() -> Result<bool> {
    flag(c"rx_gro", false)
}

/// The configuration new namespaces start with.
pub(crate) fn defaults() -> Result<GlobalConfig> {
    let window = param::<u32>(c"replay_window")?;
    let mut c = GlobalConfig::DEFAULT;
    let window_given = window.get() != 0;
    let disabled_given = param::<i32>(c"replay_disabled")?.get() == 1;
    if window_given && disabled_given {
        pr_err!("parameters replay_window and replay_disabled=1 exclude each other\n");
        return Err(EINVAL);
    }
    c.rx_enable = flag(c"rx_enable", c.rx_enable)?;
    c.invalid_spi_enable = flag(c"invalid_spi_enable", c.invalid_spi_enable)?;
    c.replay_disabled = flag(c"replay_disabled", c.replay_disabled)?;
    if window_given {
        let w = window.get();
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&w) {
            pr_err!(
                "parameter replay_window={} refused: {}..{} packets\n",
                w,
                MIN_WINDOW,
                MAX_WINDOW
            );
            return Err(EINVAL);
        }
        c.replay_window = w;
    }
    window.set(c.replay_window);
    Ok(c)
}
