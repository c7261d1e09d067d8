//! One interface's overrides (`IF_GET`, `IF_SET`).

use super::super::super::frag::FragSettings;
use super::super::{if_attr, walk, AttrWriter, NlError, NoSpace, Unknown};
use super::{df_mode_attr, df_mode_to_u8, prefrag_attr, prefrag_to_u8};

/// Per-interface overrides; `None` means "inherit the global setting".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfConfig {
    /// Interface index (non-zero).
    pub ifindex: u32,
    /// DF mode and pre-fragmentation.
    pub frag: FragSettings,
}

impl IfConfig {
    /// Encodes; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        let mut w = AttrWriter::new(buf);
        w.put_u32(if_attr::IFINDEX, self.ifindex)?;
        if let Some(m) = self.frag.df {
            w.put_u8(if_attr::DF_MODE, df_mode_to_u8(m))?;
        }
        if let Some(p) = self.frag.prefrag {
            w.put_u8(if_attr::PREFRAG, prefrag_to_u8(p))?;
        }
        Ok(w.len())
    }

    /// Decodes an `IF_GET` / `IF_SET` request or reply; the interface index is mandatory.
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<IfConfig, NlError> {
        let mut ifindex = None;
        let mut frag = FragSettings::default();
        walk(buf, if_attr::MAX, unknown, |a| {
            match a.kind {
                if_attr::IFINDEX => ifindex = Some(a.u32()?),
                if_attr::DF_MODE => frag.df = Some(df_mode_attr(&a)?),
                if_attr::PREFRAG => frag.prefrag = Some(prefrag_attr(&a)?),
                _ => {}
            }
            Ok(())
        })?;
        match ifindex {
            Some(0) => Err(NlError::new(c"ifindex must not be 0")),
            Some(ifindex) => Ok(IfConfig { ifindex, frag }),
            None => Err(NlError::new(c"ifindex is required")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::super::frag::DfMode;
    use super::super::super::tests::{attr, enc};
    use super::*;

    #[test]
    fn if_config() {
        let c = IfConfig {
            ifindex: 7,
            frag: FragSettings {
                df: Some(DfMode::Copy),
                prefrag: None,
            },
        };
        let b = enc(|buf| c.encode(buf));
        assert_eq!(IfConfig::decode(&b, Unknown::Reject), Ok(c));
        assert!(IfConfig::decode(&[], Unknown::Reject).is_err());
        assert!(IfConfig::decode(&attr(1, &0u32.to_ne_bytes()), Unknown::Reject).is_err());
    }
}
