// SPDX-License-Identifier: GPL-2.0

//! The decision per invalid-SPI event, its limits, and the daemon's
//! counters.
//!
//! The engine is pure: it is given the time, so tests drive it with a fake
//! clock.  Memory is bounded by the configuration: state exists only for
//! configured peers (at most `limit` timestamps each) and for the global
//! limit; events from any other address allocate nothing.

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipsec_rs_core::nl::InvalidSpiEvent;

use crate::config::{Config, Peer};

/// Why an event did not lead to recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Recovery is disabled in the configuration.
    Disabled,
    /// The packet's source is not a configured peer.
    UnknownPeer,
    /// The peer's own limit is used up for this interval.
    PeerLimit,
    /// The global limit is used up for this interval.
    GlobalLimit,
    /// The previous recovery is still running and the queue is full.
    Busy,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Skip::Disabled => "disabled",
            Skip::UnknownPeer => "unknown peer",
            Skip::PeerLimit => "limited (per-peer limit)",
            Skip::GlobalLimit => "limited (global limit)",
            Skip::Busy => "limited (recovery queue full)",
        })
    }
}

/// The engine's answer for one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Recover towards this configured peer.
    Act(Peer),
    /// Do nothing.
    Skip(Skip),
}

/// At most `limit` hits within any `interval` (sliding window).
#[derive(Debug)]
struct Window {
    limit: usize,
    interval: Duration,
    hits: VecDeque<Instant>,
}

impl Window {
    fn new(limit: u32, interval: Duration) -> Self {
        Window {
            limit: limit as usize,
            interval,
            hits: VecDeque::with_capacity(limit.min(64) as usize),
        }
    }
    fn has_room(&mut self, now: Instant) -> bool {
        while let Some(&t) = self.hits.front() {
            if now.saturating_duration_since(t) >= self.interval {
                self.hits.pop_front();
            } else {
                break;
            }
        }
        self.hits.len() < self.limit
    }
    fn record(&mut self, now: Instant) {
        self.hits.push_back(now);
    }
}

/// Decides, per event, whether to recover.
#[derive(Debug)]
pub struct Engine {
    enabled: bool,
    peers: Vec<(Peer, Window)>,
    global: Window,
}

impl Engine {
    /// An engine for `cfg`.
    pub fn new(cfg: &Config) -> Self {
        let r = &cfg.recovery;
        let iv = Duration::from_secs(r.interval_secs);
        Engine {
            enabled: r.enabled,
            peers: cfg
                .peers
                .iter()
                .map(|p| {
                    (
                        p.clone(),
                        Window::new(p.limit.unwrap_or(r.per_peer_limit), iv),
                    )
                })
                .collect(),
            global: Window::new(r.global_limit, iv),
        }
    }

    /// Decides for an event whose packet came from `src`, at time `now`.
    /// An `Act` uses up one unit of the peer's and of the global limit.
    pub fn decide(&mut self, src: IpAddr, now: Instant) -> Decision {
        let Some((peer, win)) = self.peers.iter_mut().find(|(p, _)| p.address == src) else {
            return Decision::Skip(Skip::UnknownPeer);
        };
        if !self.enabled {
            return Decision::Skip(Skip::Disabled);
        }
        if !win.has_room(now) {
            return Decision::Skip(Skip::PeerLimit);
        }
        if !self.global.has_room(now) {
            return Decision::Skip(Skip::GlobalLimit);
        }
        win.record(now);
        self.global.record(now);
        Decision::Act(peer.clone())
    }
}

/// The event's source as a std address.
pub fn std_addr(a: &ipsec_rs_core::esp::IpAddr) -> IpAddr {
    match <[u8; 4]>::try_from(a.as_slice()) {
        Ok(v4) => IpAddr::from(v4),
        Err(_) => IpAddr::from(a.bytes),
    }
}

/// One line describing an event, for the decision log.
pub fn describe(ev: &InvalidSpiEvent) -> String {
    let mut s = format!(
        "spi=0x{:x} src={} dst={}",
        ev.spi,
        std_addr(&ev.saddr),
        std_addr(&ev.daddr)
    );
    if let Some(p) = ev.encap {
        s.push_str(&format!(" encap=udp {}->{}", p.sport, p.dport));
    }
    s
}

/// Logs a decision (target `ipsec_rsd::decision`, level INFO).
pub fn log_decision(ev: &InvalidSpiEvent, d: &Decision) {
    let what = describe(ev);
    match d {
        Decision::Act(p) => tracing::info!(
            target: "ipsec_rsd::decision",
            "invalid SPI {what}: acted (peer {}, connection {})",
            p.address,
            p.connection
        ),
        Decision::Skip(s) => {
            tracing::info!(target: "ipsec_rsd::decision", "invalid SPI {what}: skipped: {s}")
        }
    }
}

macro_rules! counters {
    ($($name:ident: $doc:literal,)*) => {
        /// The daemon's own counters (shared with the recovery worker).
        #[derive(Debug, Default)]
        pub struct Counters {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        impl Counters {
            /// `name=value` pairs, in a fixed order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }

            /// Each counter's one-line description, in the same order.
            pub const HELP: &'static [(&'static str, &'static str)] = &[$((stringify!($name), $doc),)*];
        }
    };
}

counters! {
    events: "Invalid-SPI events received.",
    acted: "Events that led to a recovery.",
    skipped_disabled: "Events skipped because recovery is disabled.",
    skipped_unknown_peer: "Events from addresses that are not configured peers.",
    skipped_peer_limit: "Events skipped by a peer's limit.",
    skipped_global_limit: "Events skipped by the global limit.",
    skipped_busy: "Events skipped because the recovery queue was full.",
    recoveries_ok: "Recoveries the IKE daemon completed.",
    recoveries_failed: "Recoveries that failed.",
    notifies_sent: "INVALID_SPI notifications sent.",
    notify_errors: "INVALID_SPI notifications that could not be sent.",
    overruns: "Netlink receive buffer overruns (ENOBUFS): events were lost.",
    events_lost: "Events lost to overruns (module's events_sent minus events received).",
    decode_errors: "Events that could not be decoded.",
    subscriptions: "Times the daemon (re)subscribed to the module's events.",
}

impl Counters {
    /// Adds one to `c`.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a decision.
    pub fn count(&self, d: &Decision) {
        Self::inc(match d {
            Decision::Act(_) => &self.acted,
            Decision::Skip(Skip::Disabled) => &self.skipped_disabled,
            Decision::Skip(Skip::UnknownPeer) => &self.skipped_unknown_peer,
            Decision::Skip(Skip::PeerLimit) => &self.skipped_peer_limit,
            Decision::Skip(Skip::GlobalLimit) => &self.skipped_global_limit,
            Decision::Skip(Skip::Busy) => &self.skipped_busy,
        });
    }

    /// The counters in the Prometheus text exposition format:
    /// `ipsec_rsd_<name>_total`, with HELP and TYPE lines.
    pub fn prometheus(&self) -> String {
        let mut s = String::new();
        for ((name, v), (_, help)) in self.snapshot().into_iter().zip(Self::HELP) {
            let m = format!("ipsec_rsd_{name}_total");
            s.push_str(&format!("# HELP {m} {help}\n# TYPE {m} counter\n{m} {v}\n"));
        }
        s
    }

    /// `ipsec-rsd stats: events=N acted=N ...`.
    pub fn line(&self) -> String {
        let mut s = String::from("ipsec-rsd stats:");
        for (k, v) in self.snapshot() {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(enabled: bool, per_peer: u32, global: u32) -> Config {
        let mut t = format!(
            "[recovery]\nenabled = {enabled}\nper_peer_limit = {per_peer}\nglobal_limit = {global}\ninterval_secs = 60\n"
        );
        for i in 1..=20 {
            t.push_str(&format!(
                "[[peer]]\naddress = \"10.0.0.{i}\"\nconnection = \"c{i}\"\n"
            ));
        }
        t.push_str("[[peer]]\naddress = \"2001:db8::1\"\nconnection = \"v6\"\nlimit = 3\n");
        Config::from_toml(&t, Path::new("t")).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ignores_unconfigured_peers() {
        let mut e = Engine::new(&cfg(true, 1, 10));
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let src = IpAddr::from((0xc633_6400u32 + i).to_be_bytes()); // 198.51.100.x+
            assert_eq!(e.decide(src, t0), Decision::Skip(Skip::UnknownPeer));
        }
        // The flood used up nothing: a configured peer still gets its turn.
        assert!(matches!(e.decide(ip("10.0.0.1"), t0), Decision::Act(p) if p.connection == "c1"));
    }

    #[test]
    fn recovery_off_does_nothing() {
        let mut e = Engine::new(&cfg(false, 1, 10));
        let t0 = Instant::now();
        for s in 0..100 {
            let d = e.decide(ip("10.0.0.1"), t0 + Duration::from_secs(s * 61));
            assert_eq!(d, Decision::Skip(Skip::Disabled));
        }
        assert_eq!(
            e.decide(ip("10.9.9.9"), t0),
            Decision::Skip(Skip::UnknownPeer)
        );
    }

    #[test]
    fn per_peer_limit_under_a_flood() {
        let mut e = Engine::new(&cfg(true, 1, 10));
        let t0 = Instant::now();
        let mut acted = 0;
        // 100 events per second for 5 minutes from one peer (fake clock).
        for ms in (0..300_000u64).step_by(10) {
            if let Decision::Act(_) = e.decide(ip("10.0.0.1"), t0 + Duration::from_millis(ms)) {
                acted += 1;
            }
        }
        assert_eq!(acted, 5, "once per 60 s over 300 s");
        // Per-peer override: 3 per interval.
        let mut acted = 0;
        for ms in (0..59_000u64).step_by(100) {
            if let Decision::Act(_) = e.decide(ip("2001:db8::1"), t0 + Duration::from_millis(ms)) {
                acted += 1;
            }
        }
        assert_eq!(acted, 3);
        assert_eq!(
            e.decide(ip("2001:db8::1"), t0 + Duration::from_millis(59_500)),
            Decision::Skip(Skip::PeerLimit)
        );
    }

    #[test]
    fn global_limit_under_a_flood_from_all_peers() {
        let mut e = Engine::new(&cfg(true, 5, 10));
        let t0 = Instant::now();
        let mut acted = 0;
        let mut global = 0;
        let mut peer = 0;
        for round in 0..50u64 {
            for i in 1..=20 {
                let now = t0 + Duration::from_millis(round * 100 + i);
                match e.decide(ip(&format!("10.0.0.{i}")), now) {
                    Decision::Act(_) => acted += 1,
                    Decision::Skip(Skip::GlobalLimit) => global += 1,
                    Decision::Skip(Skip::PeerLimit) => peer += 1,
                    d => panic!("{d:?}"),
                }
            }
        }
        assert_eq!(acted, 10);
        assert_eq!(acted + global + peer, 1000);
        // A minute after the first actions the budget is back.
        let later = t0 + Duration::from_secs(61);
        assert!(matches!(e.decide(ip("10.0.0.20"), later), Decision::Act(_)));
    }

    #[test]
    fn peer_limited_events_do_not_use_the_global_budget() {
        let mut e = Engine::new(&cfg(true, 1, 2));
        let t0 = Instant::now();
        assert!(matches!(e.decide(ip("10.0.0.1"), t0), Decision::Act(_)));
        for _ in 0..100 {
            assert_eq!(
                e.decide(ip("10.0.0.1"), t0),
                Decision::Skip(Skip::PeerLimit)
            );
        }
        assert!(matches!(e.decide(ip("10.0.0.2"), t0), Decision::Act(_)));
        assert_eq!(
            e.decide(ip("10.0.0.3"), t0),
            Decision::Skip(Skip::GlobalLimit)
        );
    }

    #[test]
    fn counters_count_decisions() {
        let c = Counters::default();
        c.count(&Decision::Skip(Skip::UnknownPeer));
        c.count(&Decision::Skip(Skip::UnknownPeer));
        c.count(&Decision::Skip(Skip::Busy));
        let line = c.line();
        assert!(
            line.starts_with("ipsec-rsd stats: events=0 acted=0 "),
            "{line}"
        );
        assert!(line.contains(" skipped_unknown_peer=2 "), "{line}");
        assert!(line.contains(" skipped_busy=1 "), "{line}");
    }
}

#[cfg(test)]
mod metrics_tests {
    use super::Counters;

    #[test]
    fn prometheus_text() {
        let c = Counters::default();
        Counters::inc(&c.events);
        Counters::inc(&c.events);
        Counters::inc(&c.acted);
        let t = c.prometheus();
        assert!(t.contains("# HELP ipsec_rsd_events_total Invalid-SPI events received.\n# TYPE ipsec_rsd_events_total counter\nipsec_rsd_events_total 2\n"), "{t}");
        assert!(t.contains("ipsec_rsd_acted_total 1\n"), "{t}");
        assert_eq!(t.matches("# TYPE ").count(), Counters::HELP.len());
    }
}
