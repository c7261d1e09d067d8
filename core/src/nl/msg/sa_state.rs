//! One SA's state as the module keeps it (`SA_STATE_GET`).

use super::super::super::esp::{IpAddr, IPPROTO_ESP};
use super::super::{sa_state_attr, walk, AttrWriter, NlError, NoSpace, Unknown};
use super::{addr_attr, check_family, family_attr, SaSelector};

/// An SA's mode, as the `sa-mode` enum numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaMode {
    /// Transport mode.
    Transport = 0,
    /// Tunnel mode.
    Tunnel = 1,
    /// Anything else (BEET, ...).
    Other = 2,
}

impl SaMode {
    fn from_u8(v: u8) -> Option<SaMode> {
        [SaMode::Transport, SaMode::Tunnel, SaMode::Other]
            .into_iter()
            .find(|m| *m as u8 == v)
    }

    /// Its name, as the YAML enum spells it.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools"))]
    pub const fn name(self) -> &'static str {
        match self {
            SaMode::Transport => "transport",
            SaMode::Tunnel => "tunnel",
            SaMode::Other => "other",
        }
    }
}

/// Who decapsulates an SA's packets (the `sa-handler` enum): the module, or XFRM and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaHandler {
    /// The module's receive path.
    Module = 0,
    /// XFRM: the module has seen no packet of the SA yet (it takes an SA on its first).
    NotSeen = 1,
    /// XFRM: the module's receive path is off in this namespace.
    RxOff = 2,
    /// XFRM: a mode the module does not take (or ESP in UDP over IPv6 in transport mode).
    Mode = 3,
    /// XFRM: an algorithm or IV generator the module does not take.
    Algorithm = 4,
    /// XFRM: hardware offload.
    Offload = 5,
    /// XFRM: an XFRM interface's SA in transport mode (its tunnel-mode SAs are taken).
    XfrmInterface = 6,
    /// XFRM: an outbound SA.
    Direction = 7,
    /// XFRM: an encapsulation the module does not take.
    Encap = 8,
    /// XFRM: the module could not make its state (memory, or the namespace's SA limit).
    NoResources = 9,
    /// XFRM: the SA is no longer valid (expired, being deleted).
    Invalid = 10,
}

impl SaHandler {
    const ALL: [SaHandler; 11] = [
        SaHandler::Module,
        SaHandler::NotSeen,
        SaHandler::RxOff,
        SaHandler::Mode,
        SaHandler::Algorithm,
        SaHandler::Offload,
        SaHandler::XfrmInterface,
        SaHandler::Direction,
        SaHandler::Encap,
        SaHandler::NoResources,
        SaHandler::Invalid,
    ];

    fn from_u8(v: u8) -> Option<SaHandler> {
        Self::ALL.into_iter().find(|h| *h as u8 == v)
    }

    /// Its name, as the YAML enum spells it.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools"))]
    pub const fn name(self) -> &'static str {
        match self {
            SaHandler::Module => "module",
            SaHandler::NotSeen => "not-seen",
            SaHandler::RxOff => "rx-off",
            SaHandler::Mode => "mode",
            SaHandler::Algorithm => "algorithm",
            SaHandler::Offload => "offload",
            SaHandler::XfrmInterface => "xfrm-interface",
            SaHandler::Direction => "direction",
            SaHandler::Encap => "encap",
            SaHandler::NoResources => "no-resources",
            SaHandler::Invalid => "invalid",
        }
    }
}

/// The per-SA counters of an SA the module decapsulates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaCounters {
    /// Packets decapsulated.
    pub decap_ok: u64,
    /// ICV verification failures.
    pub auth_failed: u64,
    /// Replays dropped.
    pub replayed: u64,
    /// Dropped as left of the window.
    pub too_old: u64,
    /// Dropped for bad padding.
    pub bad_padding: u64,
    /// Malformed, dropped.
    pub malformed: u64,
}

/// What the module keeps for an SA it decapsulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaModuleState {
    /// Anti-replay window in packets; 0: disabled.
    pub replay_window: u32,
    /// Highest sequence number authenticated.
    pub top_seq: u64,
    /// Milliseconds since the last packet decapsulated (`None` before the first).
    pub idle_ms: Option<u64>,
    /// Connection id of its log lines.
    pub conn_id: u32,
    /// Counters.
    pub counters: SaCounters,
}

/// Longest algorithm description carried (`alg`).
pub const MAX_ALG_LEN: usize = 160;

/// One SA's state (`SA_STATE_GET`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaState {
    /// Destination address and SPI (ESP).
    pub daddr: IpAddr,
    /// SPI.
    pub spi: u32,
    /// Source address.
    pub saddr: IpAddr,
    /// Mode.
    pub mode: SaMode,
    /// UDP encapsulation type, 0 without.
    pub encap: u16,
    /// The algorithm's name (`alg_len` bytes of `alg`).
    pub alg: [u8; MAX_ALG_LEN],
    /// Bytes of `alg` in use.
    pub alg_len: usize,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Who decapsulates it.
    pub handler: SaHandler,
    /// The module's state, when it decapsulates the SA.
    pub module: Option<SaModuleState>,
}

impl SaState {
    /// What [`SaState::decode`] fills in.
    const EMPTY: SaState = SaState {
        daddr: IpAddr::v4([0; 4]),
        spi: 0,
        saddr: IpAddr::v4([0; 4]),
        mode: SaMode::Other,
        encap: 0,
        alg: [0; MAX_ALG_LEN],
        alg_len: 0,
        esn: false,
        handler: SaHandler::NotSeen,
        module: None,
    };

    /// The algorithm's name.
    pub fn alg(&self) -> &[u8] {
        self.alg.get(..self.alg_len).unwrap_or(&[])
    }

    /// Encodes it; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        use sa_state_attr::*;
        let mut w = AttrWriter::new(buf);
        w.put_u16(FAMILY, self.daddr.family.af())?;
        w.put(DADDR, self.daddr.as_slice())?;
        w.put_u32(SPI, self.spi)?;
        w.put(SADDR, self.saddr.as_slice())?;
        w.put_u8(MODE, self.mode as u8)?;
        w.put_u16(ENCAP, self.encap)?;
        w.put(ALG, self.alg())?;
        w.put_u8(ESN, u8::from(self.esn))?;
        w.put_u8(HANDLER, self.handler as u8)?;
        if let Some(m) = &self.module {
            w.put_u32(REPLAY_WINDOW, m.replay_window)?;
            w.put_u64(TOP_SEQ, m.top_seq)?;
            if let Some(idle) = m.idle_ms {
                w.put_u64(IDLE_MS, idle)?;
            }
            w.put_u32(CONN_ID, m.conn_id)?;
            let c = &m.counters;
            w.put_u64(DECAP_OK, c.decap_ok)?;
            w.put_u64(AUTH_FAILED, c.auth_failed)?;
            w.put_u64(REPLAYED, c.replayed)?;
            w.put_u64(TOO_OLD, c.too_old)?;
            w.put_u64(BAD_PADDING, c.bad_padding)?;
            w.put_u64(MALFORMED, c.malformed)?;
        }
        Ok(w.len())
    }

    /// Decodes an `SA_STATE_GET` request for one SA: family, daddr and spi (ESP), nothing else.
    pub fn decode_selector(buf: &[u8]) -> Result<SaSelector, NlError> {
        use sa_state_attr::*;
        let (mut family, mut daddr, mut spi) = (None, None, None);
        walk(buf, MAX, Unknown::Reject, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                _ => {
                    return Err(NlError::at(
                        c"SA_STATE_GET takes only family, daddr and spi",
                        a.offset,
                    ))
                }
            }
            Ok(())
        })?;
        let (Some(family), Some(daddr), Some(spi)) = (family, daddr, spi) else {
            return Err(NlError::new(
                c"SA_STATE_GET of one SA needs family, daddr and spi",
            ));
        };
        check_family(family, &daddr)?;
        Ok(SaSelector {
            daddr,
            spi,
            proto: IPPROTO_ESP,
        })
    }

    /// Decodes an `SA_STATE_GET` reply.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, tests"))]
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<SaState, NlError> {
        use sa_state_attr::*;
        let (mut family, mut daddr, mut saddr, mut spi) = (None, None, None, None);
        let (mut mode, mut handler) = (None, None);
        let mut s = SaState::EMPTY;
        let mut m = SaModuleState {
            replay_window: 0,
            top_seq: 0,
            idle_ms: None,
            conn_id: 0,
            counters: SaCounters::default(),
        };
        let mut has_module = false;
        walk(buf, MAX, unknown, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SADDR => saddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                MODE => {
                    mode = Some(
                        SaMode::from_u8(a.u8()?)
                            .ok_or(NlError::at(c"unknown SA mode", a.offset))?,
                    )
                }
                ENCAP => s.encap = a.u16()?,
                ALG => {
                    let n = a.payload.len().min(MAX_ALG_LEN);
                    if let (Some(dst), Some(src)) = (s.alg.get_mut(..n), a.payload.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    s.alg_len = n;
                }
                ESN => s.esn = a.flag()?,
                HANDLER => {
                    handler = Some(
                        SaHandler::from_u8(a.u8()?)
                            .ok_or(NlError::at(c"unknown SA handler", a.offset))?,
                    )
                }
                REPLAY_WINDOW => (m.replay_window, has_module) = (a.u32()?, true),
                TOP_SEQ => m.top_seq = a.u64()?,
                IDLE_MS => m.idle_ms = Some(a.u64()?),
                CONN_ID => m.conn_id = a.u32()?,
                DECAP_OK => m.counters.decap_ok = a.u64()?,
                AUTH_FAILED => m.counters.auth_failed = a.u64()?,
                REPLAYED => m.counters.replayed = a.u64()?,
                TOO_OLD => m.counters.too_old = a.u64()?,
                BAD_PADDING => m.counters.bad_padding = a.u64()?,
                MALFORMED => m.counters.malformed = a.u64()?,
                _ => {}
            }
            Ok(())
        })?;
        let (Some(family), Some(daddr), Some(spi), Some(mode), Some(handler)) =
            (family, daddr, spi, mode, handler)
        else {
            return Err(NlError::new(
                c"SA state without family, daddr, spi, mode or handler",
            ));
        };
        check_family(family, &daddr)?;
        s.daddr = daddr;
        s.spi = spi;
        s.saddr = saddr.unwrap_or(IpAddr {
            family,
            bytes: [0; 16],
        });
        s.mode = mode;
        s.handler = handler;
        s.module = has_module.then_some(m);
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sa_state_roundtrip() {
        let mut alg = [0u8; MAX_ALG_LEN];
        alg[..17].copy_from_slice(b"rfc4106(gcm(aes))");
        let mut st = SaState {
            daddr: IpAddr::v4([192, 0, 2, 2]),
            spi: 0x1000,
            saddr: IpAddr::v4([192, 0, 2, 1]),
            mode: SaMode::Tunnel,
            encap: 2,
            alg,
            alg_len: 17,
            esn: true,
            handler: SaHandler::Module,
            module: Some(SaModuleState {
                replay_window: 4096,
                top_seq: (1 << 32) + 5,
                idle_ms: Some(12),
                conn_id: 3,
                counters: SaCounters {
                    decap_ok: 10,
                    auth_failed: 1,
                    replayed: 2,
                    too_old: 3,
                    bad_padding: 4,
                    malformed: 5,
                },
            }),
        };
        let mut buf = [0u8; 512];
        let n = st.encode(&mut buf).unwrap();
        assert_eq!(SaState::decode(&buf[..n], Unknown::Reject).unwrap(), st);
        st.handler = SaHandler::Algorithm;
        st.module = None;
        st.daddr = IpAddr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        st.saddr = IpAddr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let n = st.encode(&mut buf).unwrap();
        assert_eq!(SaState::decode(&buf[..n], Unknown::Reject).unwrap(), st);
        // A request for one SA: the selector only.
        let mut w = AttrWriter::new(&mut buf);
        w.put_u16(sa_state_attr::FAMILY, 2).unwrap();
        w.put(sa_state_attr::DADDR, &[192, 0, 2, 2]).unwrap();
        w.put_u32(sa_state_attr::SPI, 0x1000).unwrap();
        let n = w.len();
        let sel = SaState::decode_selector(&buf[..n]).unwrap();
        assert_eq!((sel.daddr, sel.spi), (IpAddr::v4([192, 0, 2, 2]), 0x1000));
        let mut w = AttrWriter::new(&mut buf);
        w.put_u16(sa_state_attr::FAMILY, 2).unwrap();
        w.put(sa_state_attr::DADDR, &[192, 0, 2, 2]).unwrap();
        w.put_u32(sa_state_attr::SPI, 0x1000).unwrap();
        w.put_u64(sa_state_attr::DECAP_OK, 1).unwrap();
        let n = w.len();
        assert!(SaState::decode_selector(&buf[..n]).is_err());
    }
}
