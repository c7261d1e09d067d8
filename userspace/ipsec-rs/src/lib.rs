// SPDX-License-Identifier: GPL-2.0

//! `ipsec-rs`: the monitoring and control tool of the ipsec_rs kernel module.
//!
//! The binary is a thin `main` around [`run`], which takes any
//! [`ipsec_rs_genl::Transport`] so that the command logic is tested against
//! a fake kernel.

#![deny(missing_docs)]

pub mod cli;
pub mod error;
pub mod output;
pub mod proto;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::time::Duration;

use ipsec_rs_core::esp::IpAddr as CoreAddr;
use ipsec_rs_core::frag::FragSettings;
use ipsec_rs_core::nl::{self, IfConfig, SaConfig, SaSelector};
use ipsec_rs_core::replay::ReplayMode;
use ipsec_rs_genl::Transport;

use cli::{Command, GlobalArgs, SaReplay, SetWhat, ShowWhat};
use error::AppError;
use output::IfNamer;
use proto::{ConfigPatch, Module, Notification};

/// Everything a command needs from the outside world.
pub struct Env<'a, T: Transport> {
    /// Opens the netlink transport (called once, only by commands that talk
    /// to the kernel, after the arguments validated).
    pub connect: &'a mut dyn FnMut() -> std::io::Result<T>,
    /// Interface index -> name.
    pub ifname: IfNamer<'a>,
    /// Interface name or number -> index.
    pub ifindex: &'a dyn Fn(&str) -> Option<u32>,
    /// Standard output.
    pub out: &'a mut dyn Write,
}

/// The system's interface lookup: a number is an index, anything else a name.
pub fn system_ifindex(dev: &str) -> Option<u32> {
    if let Ok(i) = dev.parse::<u32>() {
        return (i != 0).then_some(i);
    }
    let c = std::ffi::CString::new(dev).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the call's duration.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

fn core_addr(a: std::net::IpAddr) -> CoreAddr {
    match a {
        std::net::IpAddr::V4(v) => CoreAddr::v4(v.octets()),
        std::net::IpAddr::V6(v) => CoreAddr::v6(v.octets()),
    }
}

fn selector(daddr: std::net::IpAddr, spi: u32) -> SaSelector {
    SaSelector {
        daddr: core_addr(daddr),
        spi,
        proto: ipsec_rs_core::esp::IPPROTO_ESP,
    }
}

impl<T: Transport> Env<'_, T> {
    fn module(&mut self) -> Result<Module<T>, AppError> {
        let io = (self.connect)().map_err(|e| AppError::Netlink(e.into()))?;
        Ok(Module::connect(io)?)
    }

    fn dev(&self, dev: &str) -> Result<u32, AppError> {
        (self.ifindex)(dev).ok_or_else(|| AppError::Usage(format!("no interface '{dev}'")))
    }
}

/// Builds the `SET_CONFIG` patch of `set global`, validated by core.
pub fn global_patch(a: &GlobalArgs) -> Result<ConfigPatch, AppError> {
    let p = ConfigPatch {
        invalid_spi_enable: a.invalid_spi.map(|v| v.on()),
        flow_rate: a.flow_rate,
        flow_burst: a.flow_burst,
        global_rate: a.global_rate,
        global_burst: a.global_burst,
        flow_table_size: a.flow_table_size,
        log_interval_ms: a.log_interval_ms,
        flow_idle_timeout_ms: a.flow_idle_timeout_ms,
        replay_window: a.replay_window,
        replay_disabled: a.replay.map(|v| !v.on()),
        df_mode: a.df_mode.map(Into::into),
        prefrag: a.prefrag.map(|v| v.prefrag()),
        rx_enable: a.rx.map(|v| v.on()),
        natt_accounting: a.natt_accounting.map(|v| v.on()),
    };
    if p.is_empty() {
        return Err(AppError::Usage(
            "nothing to set: give at least one option (see 'ipsec-rs set global --help')".into(),
        ));
    }
    p.validate().map_err(AppError::validation)?;
    Ok(p)
}

/// Runs one command (everything but `completions`, which `main` handles).
pub fn run<T: Transport>(cmd: &Command, env: &mut Env<'_, T>) -> Result<(), AppError> {
    match cmd {
        Command::Stats { json, prometheus } => {
            let c = env.module()?.stats()?;
            if *prometheus {
                write!(env.out, "{}", output::counters_prometheus(&c))?;
            } else if *json {
                writeln!(env.out, "{}", output::counters_json(&c))?;
            } else {
                write!(env.out, "{}", output::counters_table(&c))?;
            }
        }
        Command::Monitor {
            json,
            count,
            timeout,
        } => monitor(env, *json, *count, *timeout)?,
        Command::Show { json, what } => {
            show(env, *json, what.as_ref().unwrap_or(&ShowWhat::Global))?
        }
        Command::Set { what } => set(env, what)?,
        Command::Completions { .. } => {}
    }
    Ok(())
}

fn show<T: Transport>(env: &mut Env<'_, T>, json: bool, what: &ShowWhat) -> Result<(), AppError> {
    match what {
        ShowWhat::Global => {
            let c = env.module()?.config()?;
            let s = if json {
                output::config_json(&c) + "\n"
            } else {
                output::config_text(&c)
            };
            write!(env.out, "{s}")?;
        }
        ShowWhat::Sa { daddr, spi } => {
            let sel = match (daddr, spi) {
                (Some(d), Some(s)) => Some(selector(*d, *s)),
                _ => None,
            };
            if let Some(s) = &sel {
                proto::encode_sa_get(s).map_err(AppError::validation)?;
            }
            let sas = env.module()?.sas(sel.as_ref())?;
            if json {
                let v: Vec<_> = sas.iter().map(output::sa_value).collect();
                let v = match (sel, v.len()) {
                    (Some(_), 1) => v.into_iter().next().unwrap_or_default(),
                    _ => serde_json::Value::Array(v),
                };
                writeln!(env.out, "{v}")?;
            } else {
                write!(env.out, "{}", output::sa_table(&sas))?;
            }
        }
        ShowWhat::Sas {
            peer,
            spi,
            prometheus,
        } => {
            let peer = peer.map(core_addr);
            let all = env.module()?.sa_states(None)?;
            let sas: Vec<_> = all
                .into_iter()
                .filter(|s| peer.is_none_or(|p| s.daddr == p || s.saddr == p))
                .filter(|s| spi.is_none_or(|n| s.spi == n))
                .collect();
            if *prometheus {
                write!(env.out, "{}", output::sa_states_prometheus(&sas))?;
            } else if json {
                let v: Vec<_> = sas.iter().map(output::sa_state_value).collect();
                writeln!(env.out, "{}", serde_json::Value::Array(v))?;
            } else {
                write!(env.out, "{}", output::sa_states_text(&sas))?;
            }
        }
        ShowWhat::If { dev } => {
            let idx = dev.as_deref().map(|d| env.dev(d)).transpose()?;
            let ifs = env.module()?.ifaces(idx)?;
            if json {
                let v: Vec<_> = ifs
                    .iter()
                    .map(|i| output::if_value(i, env.ifname))
                    .collect();
                let v = match (idx, v.len()) {
                    (Some(_), 1) => v.into_iter().next().unwrap_or_default(),
                    _ => serde_json::Value::Array(v),
                };
                writeln!(env.out, "{v}")?;
            } else {
                write!(env.out, "{}", output::if_table(&ifs, env.ifname))?;
            }
        }
    }
    Ok(())
}

fn set<T: Transport>(env: &mut Env<'_, T>, what: &SetWhat) -> Result<(), AppError> {
    match what {
        SetWhat::Global(a) => {
            let patch = global_patch(a)?;
            env.module()?.set_config(&patch)?;
        }
        SetWhat::Sa {
            daddr,
            spi,
            replay_window,
            df_mode,
            prefrag,
        } => {
            let sa = SaConfig {
                sel: selector(*daddr, *spi),
                replay: replay_window.map(|r| match r {
                    SaReplay::Window(w) => ReplayMode::Window(w),
                    SaReplay::Off => ReplayMode::Disabled,
                }),
                frag: FragSettings {
                    df: df_mode.map(Into::into),
                    prefrag: prefrag.map(|p| p.prefrag()),
                },
            };
            proto::encode_sa_set(&sa).map_err(AppError::validation)?;
            env.module()?.set_sa(&sa)?;
        }
        SetWhat::If {
            dev,
            df_mode,
            prefrag,
        } => {
            let i = IfConfig {
                ifindex: env.dev(dev)?,
                frag: FragSettings {
                    df: df_mode.map(Into::into),
                    prefrag: prefrag.map(|p| p.prefrag()),
                },
            };
            proto::encode_if_set(&i).map_err(AppError::validation)?;
            env.module()?.set_iface(&i)?;
        }
    }
    Ok(())
}

fn monitor<T: Transport>(
    env: &mut Env<'_, T>,
    json: bool,
    count: Option<u64>,
    timeout: Option<f64>,
) -> Result<(), AppError> {
    let timeout = match timeout {
        None => None,
        Some(t) if t.is_finite() && t >= 0.0 => Some(Duration::from_secs_f64(t)),
        Some(t) => return Err(AppError::Usage(format!("invalid --timeout {t}"))),
    };
    let mut m = env.module()?;
    m.subscribe()?;
    tracing::info!(
        "listening for invalid-SPI events on {}/{}",
        nl::FAMILY_NAME,
        nl::MCGRP_EVENTS
    );
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut got = 0u64;
    while count.is_none_or(|c| got < c) {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        match m.next(left)? {
            Notification::InvalidSpi(ev) => {
                got += 1;
                let line = if json {
                    output::event_json(&ev, env.ifname)
                } else {
                    output::event_line(&ev, env.ifname)
                };
                writeln!(env.out, "{line}")?;
                env.out.flush()?;
            }
            Notification::Undecodable(e) => {
                tracing::warn!("undecodable invalid-SPI event: {}", e.msg)
            }
            Notification::Overrun => tracing::warn!(
                overruns = m.overruns(),
                "events lost: socket receive buffer overflowed (ENOBUFS)"
            ),
            Notification::Timeout => {
                return match count {
                    Some(want) => Err(AppError::Timeout { got, want }),
                    None => Ok(()),
                }
            }
        }
    }
    if m.overruns() > 0 {
        tracing::warn!(overruns = m.overruns(), "some events were lost");
    }
    Ok(())
}
