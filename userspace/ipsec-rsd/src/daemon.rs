// SPDX-License-Identifier: GPL-2.0

//! The daemon: netlink subscription, event handling, the recovery worker.
//!
//! The main thread reads the module's events and decides (never blocks on
//! IKE); one worker thread runs the recoveries one at a time, fed by a
//! bounded queue, so a flood can neither block event reading nor pile up
//! IKE work.
//!
//! Resilience:
//!
//! * module not loaded / unloaded / reloaded: the daemon listens to the
//!   generic-netlink controller's `notify` group (`CTRL_CMD_DELFAMILY`,
//!   `CTRL_CMD_NEWFAMILY`) and also re-resolves the family every
//!   [`VERIFY_EVERY`]; when the family is gone it retries every second and
//!   resubscribes as soon as it is back;
//! * `ENOBUFS`: counted; the daemon estimates how many events it lost from
//!   the module's `events_sent` counter and goes on (the module reports a
//!   flow again after its per-flow interval if the peer keeps sending);
//! * charon restarting: every recovery opens its own VICI connection.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ipsec_rs_core::nl::{self, InvalidSpiEvent};
use ipsec_rs_genl::family::{FamilyError, Module, Notification};
use ipsec_rs_genl::wire::{self, get_str, CTRL_ATTR_FAMILY_NAME};
use ipsec_rs_genl::{Client, Error as GenlError, Event, Socket};

use crate::backend::Backend;
use crate::config::{Config, Peer};
use crate::engine::{describe, log_decision, std_addr, Counters, Decision, Engine, Skip};
use crate::notify::{random_spi, Notify};

/// Pending recoveries at most (beyond: skipped as busy).
pub const QUEUE: usize = 4;
/// How often the family is re-resolved to catch a missed reload.
pub const VERIFY_EVERY: Duration = Duration::from_secs(5);
/// How long one read waits.
const TICK: Duration = Duration::from_millis(200);

const CTRL_CMD_NEWFAMILY: u8 = 1;
const CTRL_CMD_DELFAMILY: u8 = 2;

/// Set by SIGUSR1: log the counters.
pub static DUMP: AtomicBool = AtomicBool::new(false);
/// Set by SIGTERM/SIGINT: exit.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// One recovery for the worker.
#[derive(Debug)]
pub struct Job {
    /// The peer.
    pub peer: Peer,
    /// The event, described.
    pub what: String,
    /// When the event was received.
    pub at: Instant,
}

/// Event handling, independent of the netlink socket (tests feed it).
pub struct Handler {
    engine: Engine,
    notify: bool,
    counters: Arc<Counters>,
    jobs: SyncSender<Job>,
}

impl Handler {
    /// A handler for `cfg` that queues recoveries on `jobs`.
    pub fn new(cfg: &Config, counters: Arc<Counters>, jobs: SyncSender<Job>) -> Self {
        Handler {
            engine: Engine::new(cfg),
            notify: cfg.recovery.invalid_spi_notify,
            counters,
            jobs,
        }
    }

    /// Decides for one event at `now`, logs and counts the decision, queues
    /// the recovery and sends the INVALID_SPI notify through `send`.
    pub fn handle(
        &mut self,
        ev: &InvalidSpiEvent,
        now: Instant,
        send: &mut dyn FnMut(&Notify) -> std::io::Result<()>,
    ) -> Decision {
        Counters::inc(&self.counters.events);
        let src = std_addr(&ev.saddr);
        let mut d = self.engine.decide(src, now);
        if let Decision::Act(peer) = &d {
            let job = Job {
                peer: peer.clone(),
                what: describe(ev),
                at: now,
            };
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                self.jobs.try_send(job)
            {
                d = Decision::Skip(Skip::Busy);
            }
        }
        log_decision(ev, &d);
        self.counters.count(&d);
        if let (Decision::Act(_), true) = (&d, self.notify) {
            let n = Notify::new(
                std_addr(&ev.daddr),
                src,
                ev.spi,
                ev.encap.map(|p| p.sport),
                random_spi(),
            );
            match send(&n) {
                Ok(()) => {
                    Counters::inc(&self.counters.notifies_sent);
                    tracing::info!("sent INVALID_SPI notify for spi 0x{:x} to {}", ev.spi, n.to);
                }
                Err(e) => {
                    Counters::inc(&self.counters.notify_errors);
                    tracing::warn!("cannot send INVALID_SPI notify to {}: {e}", n.to);
                }
            }
        }
        d
    }
}

/// The worker: runs queued recoveries until the queue closes.  A failure
/// that may be transient (the IKE daemon not running or not configured yet,
/// as right after a reboot) is retried every second for `retry`.  A job
/// whose event arrived before a recovery towards the same peer completed is
/// dropped: that recovery already answered it (events keep coming while a
/// recovery is being retried, and a second recovery would tear down the
/// SAs the first one just set up).
pub fn worker(
    mut backend: Box<dyn Backend>,
    jobs: Receiver<Job>,
    counters: Arc<Counters>,
    retry: Duration,
) {
    let mut done_at: Vec<(IpAddr, Instant)> = Vec::new();
    for job in jobs {
        if let Some((_, at)) = done_at.iter().find(|(a, _)| *a == job.peer.address) {
            if job.at <= *at {
                tracing::info!(
                    "recovery towards {} for {} not needed: a recovery completed after the event",
                    job.peer.address,
                    job.what
                );
                continue;
            }
        }
        let queued = job.at.elapsed();
        let t = Instant::now();
        tracing::info!(
            "recovery towards {} (connection '{}') for {} started",
            job.peer.address,
            job.peer.connection,
            job.what
        );
        let mut result = backend.recover(&job.peer);
        while let Err(f) = &result {
            if !f.retry || t.elapsed() >= retry || STOP.load(Ordering::Relaxed) {
                break;
            }
            tracing::info!(
                "recovery towards {}: {f}; retrying in 1 s",
                job.peer.address
            );
            thread::sleep(Duration::from_secs(1));
            result = backend.recover(&job.peer);
        }
        match result {
            Ok(s) => {
                Counters::inc(&counters.recoveries_ok);
                done_at.retain(|(a, _)| *a != job.peer.address);
                done_at.push((job.peer.address, Instant::now()));
                tracing::info!(
                    "recovery towards {} done in {:.3} s (queued {:.3} s): {s}",
                    job.peer.address,
                    t.elapsed().as_secs_f64(),
                    queued.as_secs_f64()
                );
            }
            Err(e) => {
                Counters::inc(&counters.recoveries_failed);
                tracing::warn!(
                    "recovery towards {} failed after {:.3} s: {e}",
                    job.peer.address,
                    t.elapsed().as_secs_f64()
                );
            }
        }
    }
}

/// The subscription to the module's events.
struct Sub {
    module: Module<Socket>,
    id: u16,
    groups: Vec<(String, u32)>,
    /// The module's `events_sent` when subscribing, and events received
    /// since; their difference after an overrun is what was lost.
    sent_base: Option<u64>,
    received: u64,
    lost_before: u64,
    /// An overrun happened; the loss is estimated when the socket is idle.
    overrun_pending: bool,
}

fn module_events_sent() -> Option<u64> {
    let mut m = Module::connect(Socket::open().ok()?).ok()?;
    m.stats().ok().map(|c| c.events_sent)
}

fn subscribe(counters: &Counters, lost_before: u64) -> Result<Sub, FamilyError> {
    let mut module = Module::connect(Socket::open().map_err(GenlError::from)?)?;
    module.subscribe()?;
    Counters::inc(&counters.subscriptions);
    let f = module.family().clone();
    tracing::info!(
        "subscribed to generic netlink family {} (id {}), group '{}'",
        f.name,
        f.id,
        nl::MCGRP_EVENTS
    );
    Ok(Sub {
        module,
        id: f.id,
        groups: f.groups,
        sent_base: module_events_sent(),
        received: 0,
        lost_before,
        overrun_pending: false,
    })
}

/// The controller's notifications about families coming and going.
fn ctrl_notify() -> Option<Client<Socket>> {
    let mut c = Client::connect(Socket::open().ok()?, "nlctrl").ok()?;
    match c.join("notify") {
        Ok(()) => Some(c),
        Err(e) => {
            tracing::debug!("no nlctrl notifications ({e}); relying on periodic checks");
            None
        }
    }
}

/// Whether a controller notification is about our family.
fn about_us(attrs: &[u8]) -> bool {
    wire::attrs(attrs)
        .any(|a| a.kind == CTRL_ATTR_FAMILY_NAME && get_str(a.payload) == nl::FAMILY_NAME)
}

/// Runs the daemon until SIGTERM/SIGINT.
pub fn run(cfg: Config, backend: Box<dyn Backend>) {
    let counters = Arc::new(Counters::default());
    let (tx, rx) = sync_channel(QUEUE);
    let wc = counters.clone();
    let retry = Duration::from_secs(cfg.recovery.retry_secs);
    let worker = thread::Builder::new()
        .name("recovery".into())
        .spawn(move || worker(backend, rx, wc, retry))
        .expect("cannot start the recovery thread");
    let mut handler = Handler::new(&cfg, counters.clone(), tx);
    let stats_every = match cfg.recovery.stats_interval_secs {
        0 => None,
        s => Some(Duration::from_secs(s)),
    };
    let mut next_stats = stats_every.map(|d| Instant::now() + d);
    let metrics_every = Duration::from_secs(cfg.recovery.metrics_interval_secs.max(1));
    let mut next_metrics = Instant::now();
    let mut ctrl = ctrl_notify();
    let mut sub: Option<Sub> = None;
    let mut lost: u64 = 0;
    let mut next_try = Instant::now();
    let mut next_verify = Instant::now() + VERIFY_EVERY;
    let mut warned_down = false;
    let mut send = |n: &Notify| n.send();

    while !STOP.load(Ordering::Relaxed) {
        if DUMP.swap(false, Ordering::Relaxed) {
            tracing::info!("{}", counters.line());
            next_metrics = Instant::now();
        }
        if !cfg.recovery.metrics_file.is_empty() && Instant::now() >= next_metrics {
            if let Err(e) = write_metrics(&cfg.recovery.metrics_file, &counters.prometheus()) {
                tracing::warn!("cannot write {}: {e}", cfg.recovery.metrics_file);
            }
            next_metrics = Instant::now() + metrics_every;
        }
        if let (Some(every), Some(at)) = (stats_every, next_stats) {
            if Instant::now() >= at {
                tracing::info!("{}", counters.line());
                next_stats = Some(at + every);
            }
        }
        if sub.is_none() && Instant::now() >= next_try {
            match subscribe(&counters, lost) {
                Ok(s) => {
                    sub = Some(s);
                    warned_down = false;
                    next_verify = Instant::now() + VERIFY_EVERY;
                }
                Err(e) => {
                    if !warned_down {
                        tracing::warn!(
                            "cannot subscribe to the module's events: {e}; retrying every second"
                        );
                        warned_down = true;
                    } else {
                        tracing::debug!("still cannot subscribe: {e}");
                    }
                    next_try = Instant::now() + Duration::from_secs(1);
                }
            }
        }
        match sub.as_mut() {
            None => thread::sleep(if ctrl.is_some() {
                Duration::from_millis(20)
            } else {
                TICK
            }),
            Some(s) => match s.module.next(Some(TICK)) {
                Ok(Notification::InvalidSpi(ev)) => {
                    s.received += 1;
                    handler.handle(&ev, Instant::now(), &mut send);
                }
                Ok(Notification::Undecodable(e)) => {
                    s.received += 1;
                    Counters::inc(&counters.decode_errors);
                    tracing::warn!("undecodable event: {e:?}");
                }
                Ok(Notification::Timeout) => {
                    // The backlog queued before an overrun has been read:
                    // what the module sent and we never received is lost.
                    if s.overrun_pending {
                        s.overrun_pending = false;
                        let est = match (s.sent_base, module_events_sent()) {
                            (Some(base), Some(now)) => {
                                now.saturating_sub(base).saturating_sub(s.received)
                            }
                            _ => 0,
                        };
                        lost = s.lost_before + est;
                        counters.events_lost.store(lost, Ordering::Relaxed);
                        tracing::warn!(
                            "about {est} events lost to netlink overruns since subscribing \
                             (the module reports a flow again after its interval)"
                        );
                    }
                }
                Ok(Notification::Overrun) => {
                    Counters::inc(&counters.overruns);
                    s.overrun_pending = true;
                    tracing::warn!(
                        "netlink receive buffer overrun (ENOBUFS): events were lost; continuing \
                         (the loss is estimated once the backlog is read)"
                    );
                }
                Err(e) => {
                    tracing::warn!("reading events failed: {e}; resubscribing");
                    sub = None;
                    next_try = Instant::now();
                }
            },
        }
        // Family removed or re-registered (module unloaded / reloaded)?
        let mut changed = false;
        if let Some(c) = ctrl.as_mut() {
            loop {
                match c.next_event(Some(Duration::from_millis(1))) {
                    Ok(Event::Message(m)) if about_us(&m.attrs) => match m.cmd {
                        CTRL_CMD_DELFAMILY => {
                            tracing::warn!("module unloaded (family {} removed)", nl::FAMILY_NAME);
                            changed = true;
                        }
                        CTRL_CMD_NEWFAMILY => {
                            tracing::info!("module loaded (family {} registered)", nl::FAMILY_NAME);
                            changed = true;
                        }
                        _ => {}
                    },
                    Ok(Event::Message(_)) => {}
                    Ok(Event::Timeout) => break,
                    Ok(Event::Overrun) => {
                        next_verify = Instant::now();
                        break;
                    }
                    Err(e) => {
                        tracing::debug!("controller notifications failed: {e}");
                        ctrl = None;
                        break;
                    }
                }
            }
        }
        if let Some(s) = sub.as_ref() {
            if Instant::now() >= next_verify {
                next_verify = Instant::now() + VERIFY_EVERY;
                match Socket::open()
                    .map_err(GenlError::from)
                    .and_then(|io| Client::connect(io, nl::FAMILY_NAME))
                {
                    Ok(c) if c.family().id == s.id && c.family().groups == s.groups => {}
                    Ok(_) => {
                        tracing::warn!("family {} was re-registered", nl::FAMILY_NAME);
                        changed = true;
                    }
                    Err(GenlError::FamilyNotFound(_)) => {
                        tracing::warn!("module unloaded (family {} gone)", nl::FAMILY_NAME);
                        changed = true;
                    }
                    Err(e) => tracing::debug!("family check failed: {e}"),
                }
            }
        }
        if changed {
            if let Some(s) = sub.take() {
                lost = s.lost_before.max(lost);
            }
            next_try = Instant::now();
            if ctrl.is_none() {
                ctrl = ctrl_notify();
            }
        }
    }
    tracing::info!("exiting; {}", counters.line());
    drop(handler);
    let _ = worker.join();
}

/// The address the daemon's log calls "peer" for an event.
pub fn event_source(ev: &InvalidSpiEvent) -> IpAddr {
    std_addr(&ev.saddr)
}

/// Replaces `path` with `text` atomically (a temporary file beside it, then
/// a rename), so that a scrape never reads half of it.
fn write_metrics(path: &str, text: &str) -> std::io::Result<()> {
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipsec_rs_core::esp::{IpAddr as CoreIp, UdpPorts};
    use std::io::Write as _;
    use std::path::Path;
    use std::sync::Mutex;

    fn event(src: [u8; 4], spi: u32, encap: Option<UdpPorts>) -> InvalidSpiEvent {
        InvalidSpiEvent {
            saddr: CoreIp::v4(src),
            daddr: CoreIp::v4([192, 0, 2, 2]),
            spi,
            encap,
            seq: 1,
            ifindex: 2,
            netns_cookie: 1,
            suppressed: 0,
            timestamp_ns: 0,
        }
    }

    fn config(enabled: bool) -> Config {
        Config::from_toml(
            &format!(
                "[recovery]\nenabled = {enabled}\n[[peer]]\naddress = \"192.0.2.1\"\nconnection = \"a-b\"\nchild = \"net\"\n"
            ),
            Path::new("t"),
        )
        .unwrap()
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `f` with the log captured; returns the log.  Serialised:
    /// tracing caches per-callsite interest globally, and a test reaching
    /// the same callsites without a subscriber at the same time could make
    /// another test's capture miss lines.
    fn logged(f: impl FnOnce()) -> String {
        static ONE: Mutex<()> = Mutex::new(());
        let _g = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let buf = Buf::default();
        let b2 = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || b2.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(sub, f);
        let mut out = buf.0.lock().unwrap().clone();
        out.flush().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn acts_queues_notifies_and_logs() {
        let counters = Arc::new(Counters::default());
        let (tx, rx) = sync_channel(QUEUE);
        let mut h = Handler::new(&config(true), counters.clone(), tx);
        let mut sent = Vec::new();
        let t0 = Instant::now();
        let log = logged(|| {
            let mut send = |n: &Notify| {
                sent.push(n.clone());
                Ok(())
            };
            let d = h.handle(&event([192, 0, 2, 1], 0x1000, None), t0, &mut send);
            assert!(matches!(d, Decision::Act(_)));
            let d = h.handle(&event([192, 0, 2, 1], 0x1000, None), t0, &mut send);
            assert_eq!(d, Decision::Skip(Skip::PeerLimit));
            let d = h.handle(&event([203, 0, 113, 9], 0x1001, None), t0, &mut send);
            assert_eq!(d, Decision::Skip(Skip::UnknownPeer));
        });
        assert!(
            log.contains("invalid SPI spi=0x1000 src=192.0.2.1 dst=192.0.2.2: acted (peer 192.0.2.1, connection a-b)"),
            "{log}"
        );
        assert!(log.contains("invalid SPI spi=0x1000 src=192.0.2.1 dst=192.0.2.2: skipped: limited (per-peer limit)"), "{log}");
        assert!(
            log.contains(
                "invalid SPI spi=0x1001 src=203.0.113.9 dst=192.0.2.2: skipped: unknown peer"
            ),
            "{log}"
        );
        let job = rx.try_recv().unwrap();
        assert_eq!(job.peer.connection, "a-b");
        assert!(rx.try_recv().is_err());
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "192.0.2.1:500".parse().unwrap());
        let s = counters.line();
        assert!(s.contains("events=3 acted=1 "), "{s}");
        assert!(
            s.contains("skipped_unknown_peer=1 skipped_peer_limit=1 "),
            "{s}"
        );
        assert!(s.contains("notifies_sent=1 "), "{s}");
    }

    #[test]
    fn recovery_off_only_logs() {
        let counters = Arc::new(Counters::default());
        let (tx, rx) = sync_channel(QUEUE);
        let mut h = Handler::new(&config(false), counters.clone(), tx);
        let mut n = 0;
        let log = logged(|| {
            let mut send = |_: &Notify| {
                n += 1;
                Ok(())
            };
            for i in 0..50 {
                let d = h.handle(
                    &event([192, 0, 2, 1], 0x1000 + i, None),
                    Instant::now(),
                    &mut send,
                );
                assert_eq!(d, Decision::Skip(Skip::Disabled));
            }
        });
        assert_eq!(n, 0, "no notify");
        assert!(rx.try_recv().is_err(), "no recovery");
        assert_eq!(log.matches("skipped: disabled").count(), 50);
        assert!(counters.line().contains("skipped_disabled=50 "));
    }

    #[test]
    fn full_queue_is_busy_and_encap_notify_uses_the_nat_port() {
        let mut cfg = config(true);
        cfg.recovery.per_peer_limit = 100;
        let counters = Arc::new(Counters::default());
        let (tx, _rx) = sync_channel(1);
        let mut h = Handler::new(&cfg, counters.clone(), tx);
        let mut sent = Vec::new();
        let mut send = |n: &Notify| {
            sent.push(n.clone());
            Ok(())
        };
        let enc = Some(UdpPorts {
            sport: 4501,
            dport: 4500,
        });
        let log = logged(|| {
            let d = h.handle(&event([192, 0, 2, 1], 1, enc), Instant::now(), &mut send);
            assert!(matches!(d, Decision::Act(_)));
            let d = h.handle(&event([192, 0, 2, 1], 2, enc), Instant::now(), &mut send);
            assert_eq!(d, Decision::Skip(Skip::Busy));
        });
        assert!(
            log.contains("encap=udp 4501->4500: skipped: limited (recovery queue full)"),
            "{log}"
        );
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "192.0.2.1:4501".parse().unwrap());
        assert_eq!(&sent[0].bytes[..4], &[0, 0, 0, 0]);
        assert!(counters.line().contains("skipped_busy=1 "));
    }

    /// Fails transiently `fail` times, then succeeds; counts its calls.
    struct Flaky {
        fail: u32,
        calls: Arc<Mutex<u32>>,
    }
    impl Backend for Flaky {
        fn check(&mut self, _: &[Peer]) {}
        fn recover(&mut self, _: &Peer) -> Result<String, crate::backend::Failure> {
            let mut n = self.calls.lock().unwrap();
            *n += 1;
            if *n <= self.fail {
                Err(crate::backend::Failure::transient(
                    "pluto is not running (ipsec whack --showstates: whack: Pluto is not running (no \"/run/pluto/pluto.ctl\"))",
                ))
            } else {
                Ok("up".into())
            }
        }
    }

    #[test]
    fn worker_retries_transient_failures_and_drops_answered_jobs() {
        let calls = Arc::new(Mutex::new(0));
        let counters = Arc::new(Counters::default());
        let (tx, rx) = sync_channel(QUEUE);
        let peer = config(true).peers[0].clone();
        let t0 = Instant::now();
        // Two events queued while the first recovery is being retried.
        for i in 0..2 {
            tx.send(Job {
                peer: peer.clone(),
                what: format!("event {i}"),
                at: t0,
            })
            .unwrap();
        }
        drop(tx);
        let b = Box::new(Flaky {
            fail: 1,
            calls: calls.clone(),
        });
        let c2 = counters.clone();
        let log = logged(|| worker(b, rx, c2, Duration::from_secs(10)));
        assert_eq!(*calls.lock().unwrap(), 2, "one retry, no second recovery");
        assert!(log.contains("Pluto is not running"), "{log}");
        assert!(log.contains("retrying in 1 s"), "{log}");
        assert!(
            log.contains("for event 1 not needed: a recovery completed after the event"),
            "{log}"
        );
        let s = counters.line();
        assert!(s.contains("recoveries_ok=1 recoveries_failed=0"), "{s}");
    }
}
