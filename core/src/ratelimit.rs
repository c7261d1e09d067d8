//! Rate limiter for invalid-SPI events and log lines.
//!
//! Two layers of token buckets:
//!
//! * one bucket per flow (address family, source, destination, SPI), kept in a fixed-size
//!   table that the caller allocates once; a flow may emit `flow_burst` events at once and
//!   then `flow_rate` per `interval_ns`;
//! * one global bucket (`global_burst`, `global_rate` per `interval_ns`) that caps the sum,
//!   so a flood of spoofed flows cannot flood userspace either.
//!
//! Tokens are integers scaled by the interval: one event costs `interval_ns` units and a
//! bucket gains `rate` units per elapsed nanosecond, so refill is exact, with no division and
//! no rounding drift.  Time is passed in by the caller (`now_ns`, monotonic).
//!
//! The table is open addressed with a probe window of [`PROBE`] slots starting at a
//! SipHash-2-4 of the flow under a caller-supplied secret key, so an attacker cannot aim
//! flows at one slot.  A new flow takes a free or idle slot in its window; if there is none,
//! the least recently used entry of the window is evicted (and counted).  Memory is the
//! caller's slice, and every call costs one hash and at most [`PROBE`] slot visits, whatever
//! the traffic.
//!
//! # Concurrency
//!
//! [`RateLimiter`] is plain data: every method that changes it takes `&mut self`.  The
//! kernel keeps one instance behind a spinlock (taken with bottom halves disabled, since the
//! receive path runs in softirq) and holds it for one [`RateLimiter::check`] call, which is
//! short and bounded.

use core::ops::{Deref, DerefMut};

use super::siphash::{siphash24, SipKey};

/// Slots examined per lookup.
pub const PROBE: usize = 8;
/// Largest accepted burst (per flow or global), so token arithmetic never overflows.
pub const MAX_BURST: u32 = 1_000_000;
/// Largest accepted interval: one hour.
pub const MAX_INTERVAL_NS: u64 = 3_600_000_000_000;
/// Largest accepted table: 2^24 entries.
pub const MAX_TABLE: usize = 1 << 24;

/// Identifies a flow: who sends what to whom.  IPv4 addresses use the first four bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// `AF_INET` or `AF_INET6` (any value is accepted; it is only compared and hashed).
    pub family: u16,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// The unknown SPI.
    pub spi: u32,
}

impl FlowKey {
    fn to_bytes(self) -> [u8; 38] {
        let mut b = [0u8; 38];
        let (fam, rest) = b.split_at_mut(2);
        fam.copy_from_slice(&self.family.to_le_bytes());
        let (src, rest) = rest.split_at_mut(16);
        src.copy_from_slice(&self.src);
        let (dst, spi) = rest.split_at_mut(16);
        dst.copy_from_slice(&self.dst);
        spi.copy_from_slice(&self.spi.to_le_bytes());
        b
    }
}

/// One slot of the flow table.  Allocate the table as `[Entry::EMPTY; N]` (or a vector of
/// them); the fields are private.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    key: FlowKey,
    /// Token units (one event = `interval_ns` units).
    tokens: u64,
    /// Last refill time.
    last_ns: u64,
    /// Misses not reported since this flow's last emitted event.
    suppressed: u32,
    used: bool,
}

impl Entry {
    /// An unused slot.
    pub const EMPTY: Entry = Entry {
        key: FlowKey {
            family: 0,
            src: [0; 16],
            dst: [0; 16],
            spi: 0,
        },
        tokens: 0,
        last_ns: 0,
        suppressed: 0,
        used: false,
    };
}

impl Default for Entry {
    fn default() -> Self {
        Entry::EMPTY
    }
}

/// Rate limiter configuration.  Rates are events per `interval_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateConfig {
    /// Events per interval each flow may emit in the long run (>= 1).
    pub flow_rate: u32,
    /// Events a flow may emit at once (1..=[`MAX_BURST`]).
    pub flow_burst: u32,
    /// Events per interval all flows together may emit (>= 1).
    pub global_rate: u32,
    /// Events all flows together may emit at once (1..=[`MAX_BURST`]).
    pub global_burst: u32,
    /// The interval, in nanoseconds (1..=[`MAX_INTERVAL_NS`]).
    pub interval_ns: u64,
    /// A flow not seen for this long may be replaced without counting as an eviction.
    pub idle_timeout_ns: u64,
}

impl RateConfig {
    /// The vendor guide's behaviour: one event per flow per minute, at most 600 per minute
    /// in total (bursts of 60), flows forgotten after two idle minutes.
    pub const DEFAULT: RateConfig = RateConfig {
        flow_rate: 1,
        flow_burst: 1,
        global_rate: 600,
        global_burst: 60,
        interval_ns: 60_000_000_000,
        idle_timeout_ns: 120_000_000_000,
    };

    /// Checks the ranges documented on the fields.
    /// The error is NUL-terminated so the kernel can hand it to netlink's
    /// extended ACK as is.
    pub fn validate(&self) -> Result<(), &'static core::ffi::CStr> {
        if self.flow_rate == 0 || self.global_rate == 0 {
            return Err(c"rate limit rates must be at least 1");
        }
        if !(1..=MAX_BURST).contains(&self.flow_burst)
            || !(1..=MAX_BURST).contains(&self.global_burst)
        {
            return Err(c"rate limit bursts must be 1..1000000");
        }
        if !(1..=MAX_INTERVAL_NS).contains(&self.interval_ns) {
            return Err(c"rate limit interval must be 1 ns..1 hour");
        }
        Ok(())
    }
}

impl Default for RateConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Verdict for one invalid-SPI packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Emit an event / log line; `suppressed_since_last` misses of this flow were not
    /// reported since its previous event.
    Emit {
        /// Misses of this flow suppressed since its previous emitted event.
        suppressed_since_last: u32,
    },
    /// Over the flow's own limit.
    SuppressedFlow,
    /// Within the flow's limit but over the global one.
    SuppressedGlobal,
}

/// Running totals since the limiter was built.  All counters wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateCounters {
    /// Events emitted.
    pub emitted: u64,
    /// Suppressed by the per-flow limit.
    pub suppressed_flow: u64,
    /// Suppressed by the global limit.
    pub suppressed_global: u64,
    /// Flows evicted from a full probe window while still active.
    pub evicted: u64,
}

/// Token-bucket refill in interval-scaled units: the tokens after refilling from `last` to
/// `now`, capped at `burst` events.
fn refill(tokens: u64, last: u64, now: u64, rate: u32, burst: u32, interval: u64) -> u64 {
    // A clock that goes backwards (stale `now` from another CPU) refills nothing.
    let elapsed = now.saturating_sub(last);
    let cap = u64::from(burst).saturating_mul(interval);
    tokens
        .saturating_add(elapsed.saturating_mul(u64::from(rate)))
        .min(cap)
}

/// Why a limiter cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimitError {
    /// The configuration is out of range; the message says which part.
    Config(&'static core::ffi::CStr),
    /// The table is empty or larger than [`MAX_TABLE`].
    TableSize,
}

/// The limiter over caller-provided table storage `S` (for example `&mut [Entry]`).  See
/// the module documentation for the algorithm and the concurrency contract.
#[derive(Debug)]
pub struct RateLimiter<S> {
    table: S,
    key: SipKey,
    cfg: RateConfig,
    global_tokens: u64,
    global_last: u64,
    counters: RateCounters,
}

impl<S: Deref<Target = [Entry]> + DerefMut> RateLimiter<S> {
    /// Builds a limiter over `table` (which is reset), hashing with `key`.  The global
    /// bucket starts full at time `now_ns`.
    pub fn new(
        mut table: S,
        key: SipKey,
        cfg: RateConfig,
        now_ns: u64,
    ) -> Result<Self, RateLimitError> {
        cfg.validate().map_err(RateLimitError::Config)?;
        if table.is_empty() || table.len() > MAX_TABLE {
            return Err(RateLimitError::TableSize);
        }
        table.fill(Entry::EMPTY);
        Ok(RateLimiter {
            table,
            key,
            global_tokens: u64::from(cfg.global_burst).saturating_mul(cfg.interval_ns),
            global_last: now_ns,
            cfg,
            counters: RateCounters::default(),
        })
    }

    /// The configuration in force.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn config(&self) -> RateConfig {
        self.cfg
    }

    /// Replaces the configuration, keeping flows; buckets are clipped to the new bursts.
    // The module makes a new limiter when the configuration changes.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn set_config(&mut self, cfg: RateConfig) -> Result<(), RateLimitError> {
        cfg.validate().map_err(RateLimitError::Config)?;
        // Tokens are scaled by the interval: rescale by restarting buckets full but clipped.
        let scale_changed = cfg.interval_ns != self.cfg.interval_ns;
        self.cfg = cfg;
        let gcap = u64::from(cfg.global_burst).saturating_mul(cfg.interval_ns);
        let fcap = u64::from(cfg.flow_burst).saturating_mul(cfg.interval_ns);
        self.global_tokens = if scale_changed {
            gcap
        } else {
            self.global_tokens.min(gcap)
        };
        for e in self.table.iter_mut() {
            e.tokens = if scale_changed {
                fcap
            } else {
                e.tokens.min(fcap)
            };
        }
        Ok(())
    }

    /// Counters since construction.
    pub fn counters(&self) -> RateCounters {
        self.counters
    }

    /// Number of table slots.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub fn capacity(&self) -> usize {
        self.table.len()
    }

    /// Decides whether the invalid-SPI packet of `flow` seen at `now_ns` is reported.
    pub fn check(&mut self, flow: &FlowKey, now_ns: u64) -> Decision {
        let cfg = self.cfg;
        let cost = cfg.interval_ns;
        let i = self.find_or_insert(flow, now_ns);
        let Some(e) = self.table.get_mut(i) else {
            // Unreachable: `find_or_insert` returns an index into the table.  Fail closed.
            return Decision::SuppressedGlobal;
        };
        e.tokens = refill(
            e.tokens,
            e.last_ns,
            now_ns,
            cfg.flow_rate,
            cfg.flow_burst,
            cfg.interval_ns,
        );
        e.last_ns = e.last_ns.max(now_ns);
        if e.tokens < cost {
            e.suppressed = e.suppressed.saturating_add(1);
            self.counters.suppressed_flow = self.counters.suppressed_flow.wrapping_add(1);
            return Decision::SuppressedFlow;
        }
        self.global_tokens = refill(
            self.global_tokens,
            self.global_last,
            now_ns,
            cfg.global_rate,
            cfg.global_burst,
            cfg.interval_ns,
        );
        self.global_last = self.global_last.max(now_ns);
        if self.global_tokens < cost {
            // The flow keeps its token so it can report as soon as the global limit allows.
            e.suppressed = e.suppressed.saturating_add(1);
            self.counters.suppressed_global = self.counters.suppressed_global.wrapping_add(1);
            return Decision::SuppressedGlobal;
        }
        self.global_tokens -= cost;
        e.tokens -= cost;
        let suppressed_since_last = core::mem::take(&mut e.suppressed);
        self.counters.emitted = self.counters.emitted.wrapping_add(1);
        Decision::Emit {
            suppressed_since_last,
        }
    }

    /// Index of `flow`'s entry, creating it (full bucket) if needed.
    fn find_or_insert(&mut self, flow: &FlowKey, now_ns: u64) -> usize {
        let len = self.table.len();
        let h = siphash24(&self.key, &flow.to_bytes());
        // Map the hash onto 0..len without division: (h32 * len) >> 32, len <= 2^24.
        let start = (((h >> 32) * len as u64) >> 32) as usize;
        let idle = self.cfg.idle_timeout_ns;

        let mut free: Option<usize> = None;
        let mut oldest: Option<(usize, u64)> = None;
        let mut i = start;
        for _ in 0..PROBE.min(len) {
            if let Some(e) = self.table.get(i) {
                if e.used && e.key == *flow {
                    return i;
                }
                let is_free = !e.used || now_ns.saturating_sub(e.last_ns) >= idle;
                if is_free && free.is_none() {
                    free = Some(i);
                }
                // (Not `is_none_or`: the kernel's minimum Rust, 1.78, lacks it.)
                if !matches!(oldest, Some((_, t)) if e.last_ns >= t) {
                    oldest = Some((i, e.last_ns));
                }
            }
            i = if i + 1 >= len { 0 } else { i + 1 };
        }
        let slot = match (free, oldest) {
            (Some(f), _) => f,
            (None, Some((o, _))) => {
                self.counters.evicted = self.counters.evicted.wrapping_add(1);
                o
            }
            (None, None) => start,
        };
        if let Some(e) = self.table.get_mut(slot) {
            *e = Entry {
                key: *flow,
                tokens: u64::from(self.cfg.flow_burst).saturating_mul(self.cfg.interval_ns),
                last_ns: now_ns,
                suppressed: 0,
                used: true,
            };
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: u64 = 1_000_000_000;

    fn key() -> SipKey {
        SipKey::from_bytes(*b"0123456789abcdef")
    }

    fn flow(n: u32) -> FlowKey {
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&n.to_be_bytes());
        FlowKey {
            family: 2,
            src,
            dst: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            spi: 0x1000 + n,
        }
    }

    fn limiter(cfg: RateConfig, slots: usize) -> RateLimiter<Vec<Entry>> {
        RateLimiter::new(vec![Entry::EMPTY; slots], key(), cfg, 0).unwrap()
    }

    fn emits(d: Decision) -> bool {
        matches!(d, Decision::Emit { .. })
    }

    #[test]
    fn config_validation() {
        let mut c = RateConfig::DEFAULT;
        assert!(c.validate().is_ok());
        c.flow_burst = 0;
        assert!(c.validate().is_err());
        c = RateConfig::DEFAULT;
        c.interval_ns = MAX_INTERVAL_NS + 1;
        assert!(c.validate().is_err());
        assert_eq!(
            RateLimiter::new(vec![], key(), RateConfig::DEFAULT, 0).unwrap_err(),
            RateLimitError::TableSize
        );
        // Largest burst times largest interval fits in u64.
        assert!(u64::from(MAX_BURST).checked_mul(MAX_INTERVAL_NS).is_some());
    }

    #[test]
    fn once_a_minute_per_flow_exact() {
        let mut r = limiter(RateConfig::DEFAULT, 64);
        let f = flow(1);
        assert_eq!(
            r.check(&f, 0),
            Decision::Emit {
                suppressed_since_last: 0
            }
        );
        for t in 1..=5 {
            assert_eq!(r.check(&f, t * SEC), Decision::SuppressedFlow);
        }
        // One nanosecond short of a minute: still nothing.
        assert_eq!(r.check(&f, 60 * SEC - 1), Decision::SuppressedFlow);
        assert_eq!(
            r.check(&f, 60 * SEC),
            Decision::Emit {
                suppressed_since_last: 6
            }
        );
        assert_eq!(r.check(&f, 61 * SEC), Decision::SuppressedFlow);
        assert_eq!(
            r.check(&f, 1000 * SEC),
            Decision::Emit {
                suppressed_since_last: 1
            }
        );
        let c = r.counters();
        assert_eq!(
            (c.emitted, c.suppressed_flow, c.suppressed_global),
            (3, 7, 0)
        );
    }

    #[test]
    fn fractional_refill_is_exact() {
        // 3 events per 10 s, burst 2: after emptying, one token every 3.333... s.
        let cfg = RateConfig {
            flow_rate: 3,
            flow_burst: 2,
            global_rate: 1000,
            global_burst: 1000,
            interval_ns: 10 * SEC,
            idle_timeout_ns: 100 * SEC,
        };
        let mut r = limiter(cfg, 16);
        let f = flow(7);
        assert!(emits(r.check(&f, 0)));
        assert!(emits(r.check(&f, 0)));
        assert_eq!(r.check(&f, 0), Decision::SuppressedFlow);
        // 10e9 / 3 = 3333333333.33 ns per token.
        assert_eq!(r.check(&f, 3_333_333_333), Decision::SuppressedFlow);
        assert!(emits(r.check(&f, 3_333_333_334)));
        // Second token at 6666666666.67 -> 6666666667.
        assert_eq!(r.check(&f, 6_666_666_666), Decision::SuppressedFlow);
        assert!(emits(r.check(&f, 6_666_666_667)));
        // Third exactly at 10 s.
        assert_eq!(r.check(&f, 9_999_999_999), Decision::SuppressedFlow);
        assert!(emits(r.check(&f, 10 * SEC)));
    }

    #[test]
    fn global_limit_and_fairness() {
        // Global: 10 at once, 10 per second. Flows: 1 at once, 1 per second.
        let cfg = RateConfig {
            flow_rate: 1,
            flow_burst: 1,
            global_rate: 10,
            global_burst: 10,
            interval_ns: SEC,
            idle_timeout_ns: 10 * SEC,
        };
        let mut r = limiter(cfg, 1024);
        // A noisy flow hammers at 1 MHz for a second: it gets its own budget only.
        let noisy = flow(0);
        let mut noisy_emits = 0;
        for t in 0..1_000_000u64 {
            if emits(r.check(&noisy, t * 1000)) {
                noisy_emits += 1;
            }
        }
        assert_eq!(noisy_emits, 1);
        // Nine other flows in the same second still get through: the noisy one did not
        // drain the global bucket.
        for n in 1..10 {
            assert!(emits(r.check(&flow(n), SEC - 1)), "flow {n}");
        }
        // The global bucket refilled while the noisy flow was suppressed: one token left.
        assert!(emits(r.check(&flow(10), SEC - 1)));
        assert_eq!(r.check(&flow(11), SEC - 1), Decision::SuppressedGlobal);
        assert_eq!(r.counters().suppressed_global, 1);
        // It is still entitled to its own token and reports its suppressed miss later.
        assert_eq!(
            r.check(&flow(11), SEC - 1 + SEC / 10),
            Decision::Emit {
                suppressed_since_last: 1
            }
        );
    }

    #[test]
    fn spoofed_flood_is_bounded() {
        let cfg = RateConfig {
            flow_rate: 1,
            flow_burst: 1,
            global_rate: 100,
            global_burst: 100,
            interval_ns: SEC,
            idle_timeout_ns: 60 * SEC,
        };
        let mut r = limiter(cfg, 256);
        let mut emitted = 0u64;
        // 200,000 distinct spoofed flows within one second.
        for n in 0..200_000u32 {
            if emits(r.check(&flow(n), u64::from(n) * 5000)) {
                emitted += 1;
            }
        }
        // 1 s elapsed: at most burst + rate * 1 s.
        assert!(emitted <= 200, "{emitted}");
        assert!(emitted >= 100);
        let c = r.counters();
        assert!(c.evicted > 190_000, "{c:?}");
        assert_eq!(c.emitted + c.suppressed_flow + c.suppressed_global, 200_000);
        assert_eq!(r.capacity(), 256);
    }

    #[test]
    fn idle_entries_are_reused_without_eviction() {
        let cfg = RateConfig {
            idle_timeout_ns: 10 * SEC,
            ..RateConfig::DEFAULT
        };
        let mut r = limiter(cfg, 8);
        for n in 0..8 {
            r.check(&flow(n), 0);
        }
        for n in 100..108 {
            r.check(&flow(n), 11 * SEC);
        }
        assert_eq!(r.counters().evicted, 0);
        for n in 200..208 {
            r.check(&flow(n), 12 * SEC);
        }
        assert_eq!(r.counters().evicted, 8);
    }

    #[test]
    fn clock_going_backwards_is_harmless() {
        let mut r = limiter(RateConfig::DEFAULT, 8);
        let f = flow(1);
        assert!(emits(r.check(&f, 100 * SEC)));
        assert_eq!(r.check(&f, 0), Decision::SuppressedFlow);
        assert_eq!(r.check(&f, 159 * SEC), Decision::SuppressedFlow);
        assert!(emits(r.check(&f, 160 * SEC)));
        // The far future refills without overflowing.
        assert!(emits(r.check(&f, u64::MAX)));
        assert_eq!(r.check(&f, u64::MAX), Decision::SuppressedFlow);
    }

    #[test]
    fn set_config_clips() {
        let mut r = limiter(RateConfig::DEFAULT, 8);
        let mut c = RateConfig::DEFAULT;
        c.global_burst = 1;
        r.set_config(c).unwrap();
        assert!(emits(r.check(&flow(1), 0)));
        assert_eq!(r.check(&flow(2), 0), Decision::SuppressedGlobal);
        c.flow_rate = 0;
        assert!(r.set_config(c).is_err());
        assert_eq!(r.config().flow_rate, 1);
    }

    #[test]
    fn single_slot_table() {
        let mut r = limiter(RateConfig::DEFAULT, 1);
        assert!(emits(r.check(&flow(1), 0)));
        assert!(emits(r.check(&flow(2), 0)));
        assert_eq!(r.counters().evicted, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Over any span, emits never exceed burst + rate * span / interval, globally and
        /// (with a table large enough that no flow is evicted) per flow.
        #[test]
        fn emits_within_bounds(
            flow_rate in 1u32..5, flow_burst in 1u32..5,
            global_rate in 1u32..20, global_burst in 1u32..20,
            interval in 1u64..1_000_000,
            events in proptest::collection::vec((0u32..12, 0u64..200_000), 1..600),
        ) {
            let cfg = RateConfig {
                flow_rate, flow_burst, global_rate, global_burst,
                interval_ns: interval, idle_timeout_ns: u64::MAX,
            };
            let mut r = limiter(cfg, 1024);
            let mut now = 0u64;
            let mut log: Vec<(u32, u64)> = Vec::new();
            for (f, dt) in events {
                now += dt;
                if emits(r.check(&flow(f), now)) {
                    log.push((f, now));
                }
            }
            prop_assert_eq!(r.counters().evicted, 0);
            // Any window [a, b] of emit times.
            for (i, &(_, a)) in log.iter().enumerate() {
                let mut total = 0u64;
                let mut per = [0u64; 12];
                for &(f, b) in &log[i..] {
                    total += 1;
                    per[f as usize] += 1;
                    let span = b - a;
                    let gmax = u64::from(global_burst) + span * u64::from(global_rate) / interval;
                    prop_assert!(total <= gmax, "global {} > {}", total, gmax);
                    let fmax = u64::from(flow_burst) + span * u64::from(flow_rate) / interval;
                    prop_assert!(per[f as usize] <= fmax, "flow {} {} > {}", f, per[f as usize], fmax);
                }
            }
        }
    }
}
