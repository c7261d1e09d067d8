// SPDX-License-Identifier: GPL-2.0

//! The `ipsec_rs` family, typed: one client of the module's requests,
//! replies and events that the control tool and the recovery daemon share.
//!
//! Every attribute payload is encoded and decoded by the core crate's `nl`
//! module, the same code the kernel module runs (and whose tables also give
//! the kernel its attribute policies), so tools and module cannot disagree
//! about the wire format. This module frames requests for the [`Client`],
//! picks the command numbers, and names the attribute the kernel's policy
//! rejected.

use crate::{Client, Error, Event, FamilyInfo, GenlMsg, Transport};
use ipsec_rs_core::frag::{DfMode, FragSettings, PreFrag};
use ipsec_rs_core::nl::{
    self, cmd, config_attr, AttrWriter, Counters, GlobalConfig, IfConfig, InvalidSpiEvent, NlError,
    NoSpace, SaConfig, SaSelector, SaState, Unknown,
};
use std::time::Duration;

/// What can go wrong with a request of the family.
#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    /// Netlink failed, or the kernel refused (its extended ACK included).
    #[error(transparent)]
    Netlink(#[from] Error),
    /// The request does not pass the core's validation; nothing was sent.
    #[error("invalid setting: {}", .0.msg)]
    Invalid(NlError),
    /// A reply the client cannot decode.
    #[error("unexpected reply from the module: {0}")]
    Reply(String),
}

/// Room for the largest request we build (a few small attributes).
const REQ_BUF: usize = 512;

/// Runs `f` on a scratch buffer and returns the encoded bytes.
fn encode(f: impl FnOnce(&mut [u8]) -> Result<usize, NoSpace>) -> Vec<u8> {
    let mut buf = vec![0u8; REQ_BUF];
    // REQ_BUF is far larger than any request of the family.
    let n = f(&mut buf).expect("request fits in REQ_BUF");
    buf.truncate(n);
    buf
}

/// A patch of the global configuration (`SET_CONFIG`): `None` keeps the
/// current value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfigPatch {
    /// `invalid-spi-enable`.
    pub invalid_spi_enable: Option<bool>,
    /// `flow-rate`.
    pub flow_rate: Option<u32>,
    /// `flow-burst`.
    pub flow_burst: Option<u32>,
    /// `global-rate`.
    pub global_rate: Option<u32>,
    /// `global-burst`.
    pub global_burst: Option<u32>,
    /// `flow-table-size`.
    pub flow_table_size: Option<u32>,
    /// `log-interval-ms`.
    pub log_interval_ms: Option<u32>,
    /// `flow-idle-timeout-ms`.
    pub flow_idle_timeout_ms: Option<u32>,
    /// `replay-window`.
    pub replay_window: Option<u32>,
    /// `replay-disabled`.
    pub replay_disabled: Option<bool>,
    /// `df-mode`.
    pub df_mode: Option<DfMode>,
    /// `prefrag`.
    pub prefrag: Option<PreFrag>,
    /// `rx-enable`.
    pub rx_enable: Option<bool>,
    /// `natt-accounting`.
    pub natt_accounting: Option<bool>,
}

impl ConfigPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == ConfigPatch::default()
    }

    /// The `SET_CONFIG` attributes.
    pub fn encode(&self) -> Vec<u8> {
        use config_attr::*;
        encode(|buf| {
            let mut w = AttrWriter::new(buf);
            let u32s = [
                (FLOW_RATE, self.flow_rate),
                (FLOW_BURST, self.flow_burst),
                (GLOBAL_RATE, self.global_rate),
                (GLOBAL_BURST, self.global_burst),
                (FLOW_TABLE_SIZE, self.flow_table_size),
                (LOG_INTERVAL_MS, self.log_interval_ms),
                (FLOW_IDLE_TIMEOUT_MS, self.flow_idle_timeout_ms),
                (REPLAY_WINDOW, self.replay_window),
            ];
            if let Some(v) = self.invalid_spi_enable {
                w.put_u8(INVALID_SPI_ENABLE, u8::from(v))?;
            }
            for (kind, v) in u32s {
                if let Some(v) = v {
                    w.put_u32(kind, v)?;
                }
            }
            if let Some(v) = self.replay_disabled {
                w.put_u8(REPLAY_DISABLED, u8::from(v))?;
            }
            if let Some(m) = self.df_mode {
                w.put_u8(DF_MODE, nl::df_mode_to_u8(m))?;
            }
            if let Some(p) = self.prefrag {
                w.put_u8(PREFRAG, nl::prefrag_to_u8(p))?;
            }
            if let Some(v) = self.rx_enable {
                w.put_u8(RX_ENABLE, u8::from(v))?;
            }
            if let Some(v) = self.natt_accounting {
                w.put_u8(NATT_ACCOUNTING, u8::from(v))?;
            }
            Ok(w.len())
        })
    }

    /// Validates the patch the way the module does (core's
    /// [`GlobalConfig::patched`]), applied to the defaults: every value's
    /// range and the exclusive replay settings.  The module re-validates
    /// against its current configuration.
    pub fn validate(&self) -> Result<(), NlError> {
        GlobalConfig::DEFAULT
            .patched(&self.encode(), Unknown::Reject)
            .map(|_| ())
    }
}

/// The `SA_SET` attributes, validated by core's decoder first.
pub fn encode_sa_set(sa: &SaConfig) -> Result<Vec<u8>, NlError> {
    let bytes = encode(|b| sa.encode(b));
    SaConfig::decode(&bytes, Unknown::Reject)?;
    Ok(bytes)
}

/// The `SA_GET` attributes selecting one SA.
pub fn encode_sa_get(sel: &SaSelector) -> Result<Vec<u8>, NlError> {
    let sa = SaConfig {
        sel: *sel,
        replay: None,
        frag: FragSettings::default(),
    };
    encode_sa_set(&sa)
}

/// The `IF_SET` attributes, validated by core's decoder first.
pub fn encode_if_set(i: &IfConfig) -> Result<Vec<u8>, NlError> {
    let bytes = encode(|b| i.encode(b));
    IfConfig::decode(&bytes, Unknown::Reject)?;
    Ok(bytes)
}

/// The `IF_GET` attributes selecting one interface.
pub fn encode_if_get(ifindex: u32) -> Result<Vec<u8>, NlError> {
    encode_if_set(&IfConfig {
        ifindex,
        frag: FragSettings::default(),
    })
}

/// The kernel's extended ACK points at the attribute its policy rejected by
/// its offset in the request; add that attribute's name (from the core's
/// table of the command's attribute set) to the message.
pub fn name_bad_attribute(e: Error, c: u8, attrs: &[u8]) -> Error {
    use Error::Kernel;
    let Kernel {
        errno,
        msg: Some(m),
        offset: Some(off),
    } = e
    else {
        return e;
    };
    // The request's attribute set, from the table the kernel's policies
    // are built from.
    let (set, specs) = nl::command(c).map_or(("", &[][..]), |s| (s.set, s.request));
    // The offset counts from the netlink header: nlmsghdr and genlmsghdr
    // come before the attributes.
    let at = (off as usize).checked_sub(crate::wire::NLMSG_HDRLEN + crate::wire::GENL_HDRLEN);
    let named = at
        .and_then(|at| nl::Attrs::new(attrs).flatten().find(|a| a.offset == at))
        .map(|a| match specs.iter().find(|s| s.kind == a.kind) {
            Some(s) => format!("{m} (attribute {set}/{})", s.name),
            None => format!("{m} (attribute {set}/{})", a.kind),
        });
    Kernel {
        errno,
        msg: Some(named.unwrap_or(m)),
        offset: Some(off),
    }
}

fn bad_reply(what: &str, e: NlError) -> FamilyError {
    FamilyError::Reply(format!("{what}: {}", e.msg))
}

fn only_reply(mut msgs: Vec<GenlMsg>, what: &str) -> Result<GenlMsg, FamilyError> {
    if msgs.len() != 1 {
        return Err(FamilyError::Reply(format!(
            "{what}: expected one reply, got {}",
            msgs.len()
        )));
    }
    Ok(msgs.remove(0))
}

/// What a monitor receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// An invalid-SPI event.
    InvalidSpi(InvalidSpiEvent),
    /// An invalid-SPI event that does not decode (a newer module may send
    /// what this client cannot read).
    Undecodable(NlError),
    /// Events were lost (socket buffer overflow).
    Overrun,
    /// The timeout expired.
    Timeout,
}

/// The module, reached through a generic-netlink client.
pub struct Module<T: Transport> {
    client: Client<T>,
}

impl<T: Transport> Module<T> {
    /// Resolves the `ipsec_rs` family over `io`.
    pub fn connect(io: T) -> Result<Self, FamilyError> {
        Ok(Module {
            client: Client::connect(io, nl::FAMILY_NAME)?,
        })
    }

    fn request(&mut self, c: u8, attrs: &[u8], dump: bool) -> Result<Vec<GenlMsg>, FamilyError> {
        self.client
            .request(c, nl::FAMILY_VERSION, attrs, dump)
            .map_err(|e| name_bad_attribute(e, c, attrs).into())
    }

    /// `GET_STATS`.
    pub fn stats(&mut self) -> Result<Counters, FamilyError> {
        let m = only_reply(self.request(cmd::GET_STATS, &[], false)?, "GET_STATS")?;
        Counters::decode(&m.attrs, Unknown::Skip).map_err(|e| bad_reply("GET_STATS", e))
    }

    /// `GET_CONFIG`.
    pub fn config(&mut self) -> Result<GlobalConfig, FamilyError> {
        let m = only_reply(self.request(cmd::GET_CONFIG, &[], false)?, "GET_CONFIG")?;
        GlobalConfig::decode(&m.attrs, Unknown::Skip).map_err(|e| bad_reply("GET_CONFIG", e))
    }

    /// `SET_CONFIG` with the patch's attributes.
    pub fn set_config(&mut self, patch: &ConfigPatch) -> Result<(), FamilyError> {
        self.request(cmd::SET_CONFIG, &patch.encode(), false)?;
        Ok(())
    }

    /// `SA_GET` of one SA, or a dump of all SAs with overrides.
    pub fn sas(&mut self, sel: Option<&SaSelector>) -> Result<Vec<SaConfig>, FamilyError> {
        let msgs = match sel {
            Some(s) => {
                let attrs = encode_sa_get(s).map_err(FamilyError::Invalid)?;
                self.request(cmd::SA_GET, &attrs, false)?
            }
            None => self.request(cmd::SA_GET, &[], true)?,
        };
        msgs.iter()
            .map(|m| SaConfig::decode(&m.attrs, Unknown::Skip).map_err(|e| bad_reply("SA_GET", e)))
            .collect()
    }

    /// `SA_SET`: replaces the overrides of one SA.
    pub fn set_sa(&mut self, sa: &SaConfig) -> Result<(), FamilyError> {
        let attrs = encode_sa_set(sa).map_err(FamilyError::Invalid)?;
        self.request(cmd::SA_SET, &attrs, false)?;
        Ok(())
    }

    /// `SA_STATE_GET` of one SA (by destination and SPI), or a dump of every
    /// ESP SA of the namespace with who decapsulates it and the module's
    /// per-SA state.
    pub fn sa_states(&mut self, sel: Option<&SaSelector>) -> Result<Vec<SaState>, FamilyError> {
        let msgs = match sel {
            Some(s) => {
                let attrs = encode(|b| {
                    let mut w = AttrWriter::new(b);
                    w.put_u16(nl::sa_state_attr::FAMILY, s.daddr.family.af())?;
                    w.put(nl::sa_state_attr::DADDR, s.daddr.as_slice())?;
                    w.put_u32(nl::sa_state_attr::SPI, s.spi)?;
                    Ok(w.len())
                });
                self.request(cmd::SA_STATE_GET, &attrs, false)?
            }
            None => self.request(cmd::SA_STATE_GET, &[], true)?,
        };
        msgs.iter()
            .map(|m| {
                SaState::decode(&m.attrs, Unknown::Skip).map_err(|e| bad_reply("SA_STATE_GET", e))
            })
            .collect()
    }

    /// `IF_GET` of one interface, or a dump of all interfaces with overrides.
    pub fn ifaces(&mut self, ifindex: Option<u32>) -> Result<Vec<IfConfig>, FamilyError> {
        let msgs = match ifindex {
            Some(i) => {
                let attrs = encode_if_get(i).map_err(FamilyError::Invalid)?;
                self.request(cmd::IF_GET, &attrs, false)?
            }
            None => self.request(cmd::IF_GET, &[], true)?,
        };
        msgs.iter()
            .map(|m| IfConfig::decode(&m.attrs, Unknown::Skip).map_err(|e| bad_reply("IF_GET", e)))
            .collect()
    }

    /// `IF_SET`: replaces the overrides of one interface.
    pub fn set_iface(&mut self, i: &IfConfig) -> Result<(), FamilyError> {
        let attrs = encode_if_set(i).map_err(FamilyError::Invalid)?;
        self.request(cmd::IF_SET, &attrs, false)?;
        Ok(())
    }

    /// Joins the `events` multicast group.
    pub fn subscribe(&mut self) -> Result<(), FamilyError> {
        Ok(self.client.join(nl::MCGRP_EVENTS)?)
    }

    /// Waits at most `timeout` for the next notification.  Messages with
    /// other commands are skipped.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Notification, FamilyError> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            match self.client.next_event(left)? {
                Event::Timeout => return Ok(Notification::Timeout),
                Event::Overrun => return Ok(Notification::Overrun),
                Event::Message(m) if m.cmd == cmd::EVENT_INVALID_SPI => {
                    return Ok(match InvalidSpiEvent::decode(&m.attrs, Unknown::Skip) {
                        Ok(ev) => Notification::InvalidSpi(ev),
                        Err(e) => Notification::Undecodable(e),
                    });
                }
                Event::Message(m) => tracing::debug!(cmd = m.cmd, "ignoring notification"),
            }
        }
    }

    /// The family as the controller resolved it (id, version, groups).
    pub fn family(&self) -> &FamilyInfo {
        self.client.family()
    }

    /// How many overruns the client has seen.
    pub fn overruns(&self) -> u64 {
        self.client.overruns()
    }

    /// Gives the transport back (tests inspect what was sent).
    pub fn into_transport(self) -> T {
        self.client.into_transport()
    }
}
