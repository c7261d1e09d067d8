//! The counters' encoding (`GET_STATS`); the counters themselves are a table in `abi.rs`.

use super::super::{stats_attr, walk, AttrWriter, Counters, NlError, NoSpace, Unknown, COUNTERS};

impl Counters {
    /// Encodes every counter; returns the bytes written (12 per counter).
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        let mut w = AttrWriter::new(buf);
        for i in COUNTERS {
            w.put_u64(i.kind, self.get(i.kind))?;
        }
        Ok(w.len())
    }

    /// Decodes counters; absent ones are 0.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, fuzz, tests"))]
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<Counters, NlError> {
        let mut c = Counters::default();
        walk(buf, stats_attr::MAX, unknown, |a| {
            let v = a.u64()?;
            if let Some(slot) = c.get_mut(a.kind) {
                *slot = v;
            }
            Ok(())
        })?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::tests::enc;
    use super::*;

    #[test]
    fn counters() {
        let mut c = Counters::default();
        for k in 1..=stats_attr::MAX {
            *c.get_mut(k).unwrap() = u64::from(k) * 1000 + 1;
        }
        assert!(c.get_mut(0).is_none());
        assert!(c.get_mut(stats_attr::MAX + 1).is_none());
        let b = enc(|buf| c.encode(buf));
        assert_eq!(b.len(), 12 * usize::from(stats_attr::MAX));
        assert_eq!(Counters::decode(&b, Unknown::Reject), Ok(c));
        assert_eq!(c.df_dropped, 22001);
        assert_eq!(c.esp_v4, 1001);
    }
}
