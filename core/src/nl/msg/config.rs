//! The global configuration (`GET_CONFIG`, `SET_CONFIG`).

use super::super::super::frag::{DfMode, FragSettings, PreFrag, DEFAULT_DF_MODE, DEFAULT_PREFRAG};
use super::super::super::ratelimit::RateConfig;
use super::super::super::replay::{ReplayMode, DEFAULT_WINDOW, MAX_WINDOW, MIN_WINDOW};
use super::super::{config_attr, walk, AttrWriter, NlError, NoSpace, Unknown};
use super::{df_mode_attr, df_mode_to_u8, prefrag_attr, prefrag_to_u8};

/// The global configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalConfig {
    /// Detect, count and report invalid SPIs.
    pub invalid_spi_enable: bool,
    /// Events per log interval per flow (>= 1).
    pub flow_rate: u32,
    /// Per-flow burst (1..=[`MAX_BURST`](super::super::super::ratelimit::MAX_BURST)).
    pub flow_burst: u32,
    /// Events per log interval overall (>= 1).
    pub global_rate: u32,
    /// Global burst (1..=[`MAX_BURST`](super::super::super::ratelimit::MAX_BURST)).
    pub global_burst: u32,
    /// Flow-table slots ([`MIN_FLOW_TABLE`]..=[`MAX_FLOW_TABLE`]).
    pub flow_table_size: u32,
    /// Rate-limit interval, ms (1..=3,600,000).
    pub log_interval_ms: u32,
    /// Flow idle timeout, ms (>= 1).
    pub flow_idle_timeout_ms: u32,
    /// Default replay window ([`MIN_WINDOW`]..=[`MAX_WINDOW`]); kept while disabled.
    pub replay_window: u32,
    /// Anti-replay disabled by default.
    pub replay_disabled: bool,
    /// Global DF-bit mode.
    pub df_mode: DfMode,
    /// Global pre-fragmentation.
    pub prefrag: PreFrag,
    /// The module's own inbound ESP path (off: XFRM decapsulates everything).
    pub rx_enable: bool,
    /// Count what arrives on the NAT-T port besides ESP (IKE, keepalives,
    /// malformed datagrams): costs a netfilter hook on every local packet.
    pub natt_accounting: bool,
}

/// Smallest flow table.
pub const MIN_FLOW_TABLE: u32 = 16;
/// Largest flow table.
pub const MAX_FLOW_TABLE: u32 = 1 << 20;

impl GlobalConfig {
    /// Defaults: detection on, one event per flow per minute (600 per minute overall,
    /// bursts of 60), 4,096 flows, two-minute idle timeout, window 64, DF copy,
    /// pre-fragmentation off, receive path off, NAT-T accounting off.
    pub const DEFAULT: GlobalConfig = GlobalConfig {
        invalid_spi_enable: true,
        flow_rate: RateConfig::DEFAULT.flow_rate,
        flow_burst: RateConfig::DEFAULT.flow_burst,
        global_rate: RateConfig::DEFAULT.global_rate,
        global_burst: RateConfig::DEFAULT.global_burst,
        flow_table_size: 4096,
        log_interval_ms: 60_000,
        flow_idle_timeout_ms: 120_000,
        replay_window: DEFAULT_WINDOW,
        replay_disabled: false,
        df_mode: DEFAULT_DF_MODE,
        prefrag: DEFAULT_PREFRAG,
        rx_enable: false,
        natt_accounting: false,
    };

    /// The rate-limiter settings this configuration implies.
    pub fn rate_config(&self) -> RateConfig {
        RateConfig {
            flow_rate: self.flow_rate,
            flow_burst: self.flow_burst,
            global_rate: self.global_rate,
            global_burst: self.global_burst,
            interval_ns: u64::from(self.log_interval_ms).saturating_mul(1_000_000),
            idle_timeout_ns: u64::from(self.flow_idle_timeout_ms).saturating_mul(1_000_000),
        }
    }

    /// The default replay mode for SAs without an override.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn replay_mode(&self) -> ReplayMode {
        if self.replay_disabled {
            ReplayMode::Disabled
        } else {
            ReplayMode::Window(self.replay_window)
        }
    }

    /// The global scope of the DF / pre-fragmentation settings.
    pub fn frag_settings(&self) -> FragSettings {
        FragSettings {
            df: Some(self.df_mode),
            prefrag: Some(self.prefrag),
        }
    }

    /// Checks every range.
    pub fn validate(&self) -> Result<(), NlError> {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.replay_window) {
            return Err(NlError::new(c"replay window must be 32..1048576"));
        }
        if !(MIN_FLOW_TABLE..=MAX_FLOW_TABLE).contains(&self.flow_table_size) {
            return Err(NlError::new(c"flow table size must be 16..1048576"));
        }
        if self.log_interval_ms == 0 || self.log_interval_ms > 3_600_000 {
            return Err(NlError::new(c"log interval must be 1..3600000 ms"));
        }
        if self.flow_idle_timeout_ms == 0 {
            return Err(NlError::new(c"flow idle timeout must be at least 1 ms"));
        }
        self.rate_config().validate().map_err(NlError::new)
    }

    /// Encodes all attributes; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        use config_attr::*;
        let mut w = AttrWriter::new(buf);
        w.put_u8(INVALID_SPI_ENABLE, u8::from(self.invalid_spi_enable))?;
        w.put_u32(FLOW_RATE, self.flow_rate)?;
        w.put_u32(FLOW_BURST, self.flow_burst)?;
        w.put_u32(GLOBAL_RATE, self.global_rate)?;
        w.put_u32(GLOBAL_BURST, self.global_burst)?;
        w.put_u32(FLOW_TABLE_SIZE, self.flow_table_size)?;
        w.put_u32(LOG_INTERVAL_MS, self.log_interval_ms)?;
        w.put_u32(FLOW_IDLE_TIMEOUT_MS, self.flow_idle_timeout_ms)?;
        w.put_u32(REPLAY_WINDOW, self.replay_window)?;
        w.put_u8(REPLAY_DISABLED, u8::from(self.replay_disabled))?;
        w.put_u8(DF_MODE, df_mode_to_u8(self.df_mode))?;
        w.put_u8(PREFRAG, prefrag_to_u8(self.prefrag))?;
        w.put_u8(RX_ENABLE, u8::from(self.rx_enable))?;
        w.put_u8(NATT_ACCOUNTING, u8::from(self.natt_accounting))?;
        Ok(w.len())
    }

    /// Applies a `SET_CONFIG` request (patch semantics) and returns the new configuration,
    /// validated as a whole; `self` is not changed, so a failed request changes nothing.
    /// Setting a window and disabling replay in one request is refused as contradictory.
    pub fn patched(&self, buf: &[u8], unknown: Unknown) -> Result<GlobalConfig, NlError> {
        self.apply(buf, unknown, true)
    }

    /// Decodes a complete configuration (a `GET_CONFIG` reply, which carries the window
    /// and the disabled flag together); absent attributes take their default.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, fuzz, tests"))]
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<GlobalConfig, NlError> {
        Self::DEFAULT.apply(buf, unknown, false)
    }

    fn apply(&self, buf: &[u8], unknown: Unknown, request: bool) -> Result<GlobalConfig, NlError> {
        use config_attr::*;
        let mut c = *self;
        let mut window_set = false;
        let mut disable_at = None;
        walk(buf, MAX, unknown, |a| {
            match a.kind {
                INVALID_SPI_ENABLE => c.invalid_spi_enable = a.flag()?,
                FLOW_RATE => c.flow_rate = a.u32()?,
                FLOW_BURST => c.flow_burst = a.u32()?,
                GLOBAL_RATE => c.global_rate = a.u32()?,
                GLOBAL_BURST => c.global_burst = a.u32()?,
                FLOW_TABLE_SIZE => c.flow_table_size = a.u32()?,
                LOG_INTERVAL_MS => c.log_interval_ms = a.u32()?,
                FLOW_IDLE_TIMEOUT_MS => c.flow_idle_timeout_ms = a.u32()?,
                REPLAY_WINDOW => {
                    c.replay_window = a.u32()?;
                    if !(MIN_WINDOW..=MAX_WINDOW).contains(&c.replay_window) {
                        return Err(NlError::at(c"replay window must be 32..1048576", a.offset));
                    }
                    window_set = true;
                }
                REPLAY_DISABLED => {
                    c.replay_disabled = a.flag()?;
                    if c.replay_disabled {
                        disable_at = Some(a.offset);
                    }
                }
                DF_MODE => c.df_mode = df_mode_attr(&a)?,
                PREFRAG => c.prefrag = prefrag_attr(&a)?,
                RX_ENABLE => c.rx_enable = a.flag()?,
                NATT_ACCOUNTING => c.natt_accounting = a.flag()?,
                _ => {}
            }
            Ok(())
        })?;
        if let (true, true, Some(off)) = (request, window_set, disable_at) {
            return Err(NlError::at(
                c"replay window and replay disabled are mutually exclusive",
                off,
            ));
        }
        c.validate()?;
        Ok(c)
    }
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::tests::{attr, enc};
    use super::*;

    #[test]
    fn global_config() {
        let d = GlobalConfig::DEFAULT;
        assert_eq!(d.validate(), Ok(()));
        assert_eq!(GlobalConfig::default(), d);
        let b = enc(|buf| d.encode(buf));
        assert_eq!(GlobalConfig::decode(&b, Unknown::Reject), Ok(d));
        assert_eq!(GlobalConfig::decode(&[], Unknown::Reject), Ok(d));
        assert_eq!(d.replay_mode(), ReplayMode::Window(64));
        assert_eq!(d.rate_config().interval_ns, 60_000_000_000);
        assert_eq!(d.frag_settings().df, Some(DfMode::Copy));

        // Patch one setting.
        let req = [
            attr(config_attr::REPLAY_WINDOW, &4096u32.to_ne_bytes()),
            attr(config_attr::DF_MODE, &[2]),
        ]
        .concat();
        let c = d.patched(&req, Unknown::Reject).unwrap();
        assert_eq!((c.replay_window, c.df_mode), (4096, DfMode::Set));
        assert_eq!(c.prefrag, d.prefrag);

        let bad = |req: Vec<u8>| d.patched(&req, Unknown::Reject).unwrap_err().msg;
        assert_eq!(
            bad(attr(config_attr::REPLAY_WINDOW, &31u32.to_ne_bytes())),
            "replay window must be 32..1048576"
        );
        assert_eq!(
            bad([
                attr(config_attr::REPLAY_WINDOW, &128u32.to_ne_bytes()),
                attr(config_attr::REPLAY_DISABLED, &[1]),
            ]
            .concat()),
            "replay window and replay disabled are mutually exclusive"
        );
        assert_eq!(
            bad(attr(config_attr::DF_MODE, &[0])),
            "DF mode must be clear(1), set(2) or copy(3)"
        );
        assert_eq!(
            bad(attr(config_attr::REPLAY_DISABLED, &[2])),
            "boolean attribute must be 0 or 1"
        );
        assert_eq!(
            bad(attr(config_attr::FLOW_TABLE_SIZE, &1u32.to_ne_bytes())),
            "flow table size must be 16..1048576"
        );
        assert_eq!(
            bad(attr(config_attr::FLOW_BURST, &0u32.to_ne_bytes())),
            "rate limit bursts must be 1..1000000"
        );
        assert_eq!(
            bad(attr(config_attr::LOG_INTERVAL_MS, &0u32.to_ne_bytes())),
            "log interval must be 1..3600000 ms"
        );
        // Disabling alone is fine and keeps the window; a full reply round-trips.
        let c = d
            .patched(&attr(config_attr::REPLAY_DISABLED, &[1]), Unknown::Reject)
            .unwrap();
        assert_eq!(c.replay_mode(), ReplayMode::Disabled);
        let b = enc(|buf| c.encode(buf));
        assert_eq!(GlobalConfig::decode(&b, Unknown::Reject), Ok(c));
    }
}
