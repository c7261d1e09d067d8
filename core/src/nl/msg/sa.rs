//! One SA's overrides (`SA_GET`, `SA_SET`) and how an SA is selected.

use super::super::super::esp::{IpAddr, IPPROTO_ESP};
use super::super::super::frag::FragSettings;
use super::super::super::replay::{ReplayMode, MAX_WINDOW, MIN_WINDOW};
use super::super::{sa_attr, walk, AttrWriter, NlError, NoSpace, Unknown};
use super::{addr_attr, check_family, df_mode_attr, df_mode_to_u8, family_attr};
use super::{prefrag_attr, prefrag_to_u8};

/// Identifies an SA the way XFRM does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaSelector {
    /// Destination address (its family is the SA's family).
    pub daddr: IpAddr,
    /// SPI.
    pub spi: u32,
    /// IPsec protocol: 50.
    pub proto: u8,
}

/// Per-SA overrides; `None` means "inherit the global setting".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaConfig {
    /// Which SA.
    pub sel: SaSelector,
    /// Replay window or disabled.
    pub replay: Option<ReplayMode>,
    /// DF mode and pre-fragmentation.
    pub frag: FragSettings,
}

impl SaConfig {
    /// Encodes selector and overrides; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        use sa_attr::*;
        let mut w = AttrWriter::new(buf);
        w.put_u16(FAMILY, self.sel.daddr.family.af())?;
        w.put(DADDR, self.sel.daddr.as_slice())?;
        w.put_u32(SPI, self.sel.spi)?;
        w.put_u8(PROTO, self.sel.proto)?;
        match self.replay {
            Some(ReplayMode::Window(win)) => w.put_u32(REPLAY_WINDOW, win)?,
            Some(ReplayMode::Disabled) => w.put_u8(REPLAY_DISABLED, 1)?,
            None => {}
        }
        if let Some(m) = self.frag.df {
            w.put_u8(DF_MODE, df_mode_to_u8(m))?;
        }
        if let Some(p) = self.frag.prefrag {
            w.put_u8(PREFRAG, prefrag_to_u8(p))?;
        }
        Ok(w.len())
    }

    /// Decodes an `SA_GET` / `SA_SET` request or reply.  Family, address and SPI are
    /// mandatory; the protocol defaults to ESP and must be ESP.
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<SaConfig, NlError> {
        use sa_attr::*;
        let (mut family, mut daddr, mut spi) = (None, None, None);
        let mut proto = IPPROTO_ESP;
        let mut window = None;
        let mut disabled = None;
        let mut frag = FragSettings::default();
        walk(buf, MAX, unknown, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                PROTO => {
                    proto = a.u8()?;
                    if proto != IPPROTO_ESP {
                        return Err(NlError::at(c"only ESP (50) SAs are handled", a.offset));
                    }
                }
                REPLAY_WINDOW => {
                    let w = a.u32()?;
                    if !(MIN_WINDOW..=MAX_WINDOW).contains(&w) {
                        return Err(NlError::at(c"replay window must be 32..1048576", a.offset));
                    }
                    window = Some((w, a.offset));
                }
                REPLAY_DISABLED if a.flag()? => disabled = Some(a.offset),
                DF_MODE => frag.df = Some(df_mode_attr(&a)?),
                PREFRAG => frag.prefrag = Some(prefrag_attr(&a)?),
                _ => {}
            }
            Ok(())
        })?;
        let (Some(family), Some(daddr), Some(spi)) = (family, daddr, spi) else {
            return Err(NlError::new(c"SA is selected by family, daddr and spi"));
        };
        check_family(family, &daddr)?;
        if spi == 0 {
            return Err(NlError::new(c"SPI 0 is invalid"));
        }
        let replay = match (window, disabled) {
            (Some(_), Some(off)) => {
                return Err(NlError::at(
                    c"replay window and replay disabled are mutually exclusive",
                    off,
                ))
            }
            (Some((w, _)), None) => Some(ReplayMode::Window(w)),
            (None, Some(_)) => Some(ReplayMode::Disabled),
            (None, None) => None,
        };
        Ok(SaConfig {
            sel: SaSelector { daddr, spi, proto },
            replay,
            frag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::super::frag::{DfMode, PreFrag};
    use super::super::super::tests::{attr, enc};
    use super::*;

    #[test]
    fn sa_config() {
        let sa = SaConfig {
            sel: SaSelector {
                daddr: IpAddr::v4([10, 0, 0, 1]),
                spi: 0xc001_d00d,
                proto: 50,
            },
            replay: Some(ReplayMode::Window(65536)),
            frag: FragSettings {
                df: Some(DfMode::Clear),
                prefrag: Some(PreFrag::Enabled),
            },
        };
        let b = enc(|buf| sa.encode(buf));
        assert_eq!(SaConfig::decode(&b, Unknown::Reject), Ok(sa));
        let sa2 = SaConfig {
            replay: Some(ReplayMode::Disabled),
            frag: FragSettings::default(),
            ..sa
        };
        let b = enc(|buf| sa2.encode(buf));
        assert_eq!(SaConfig::decode(&b, Unknown::Reject), Ok(sa2));
        let sa3 = SaConfig {
            replay: None,
            ..sa2
        };
        let b = enc(|buf| sa3.encode(buf));
        assert_eq!(SaConfig::decode(&b, Unknown::Reject), Ok(sa3));

        let sel = [
            attr(sa_attr::FAMILY, &2u16.to_ne_bytes()),
            attr(sa_attr::DADDR, &[10, 0, 0, 1]),
            attr(sa_attr::SPI, &0x1000u32.to_ne_bytes()),
        ]
        .concat();
        let ok = SaConfig::decode(&sel, Unknown::Reject).unwrap();
        assert_eq!(ok.sel.proto, 50);
        let bad = |extra: Vec<u8>| {
            SaConfig::decode(&[sel.clone(), extra].concat(), Unknown::Reject)
                .unwrap_err()
                .msg
        };
        assert_eq!(
            bad([
                attr(sa_attr::REPLAY_WINDOW, &64u32.to_ne_bytes()),
                attr(sa_attr::REPLAY_DISABLED, &[1])
            ]
            .concat()),
            "replay window and replay disabled are mutually exclusive"
        );
        assert_eq!(
            bad(attr(sa_attr::PROTO, &[51])),
            "only ESP (50) SAs are handled"
        );
        assert_eq!(
            bad(attr(
                sa_attr::REPLAY_WINDOW,
                &(MAX_WINDOW + 1).to_ne_bytes()
            )),
            "replay window must be 32..1048576"
        );
        assert_eq!(
            bad(attr(sa_attr::PREFRAG, &[3])),
            "pre-fragmentation must be enabled(1) or disabled(2)"
        );
        assert!(SaConfig::decode(&sel[..sel.len() - 8], Unknown::Reject).is_err());
        let zero = [
            attr(sa_attr::FAMILY, &10u16.to_ne_bytes()),
            attr(sa_attr::DADDR, &[1; 16]),
            attr(sa_attr::SPI, &0u32.to_ne_bytes()),
        ]
        .concat();
        assert_eq!(
            SaConfig::decode(&zero, Unknown::Reject).unwrap_err().msg,
            "SPI 0 is invalid"
        );
    }
}
