//! Micro-benchmarks for the per-packet paths of `ipsec-rs-core`.
//!
//! Run with `cargo bench` (about a minute) or `cargo bench -- --quick` (a few seconds).
//! Prints nanoseconds per packet (best of several runs) and the ratios the design targets.

use std::hint::black_box;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use ipsec_rs_core::esp::{parse_ip, Parsed};
use ipsec_rs_core::ratelimit::{Entry, FlowKey, RateConfig, RateLimiter};
use ipsec_rs_core::replay::{blocks_for, ReplayMode, ReplayWindow};
use ipsec_rs_core::siphash::SipKey;

/// Baseline: the textbook window that shifts a `window`-bit bitmap on every advance.
struct ShiftWindow {
    bits: Vec<u64>,
    window: u64,
    top: u64,
}

impl ShiftWindow {
    fn new(window: u32) -> Self {
        ShiftWindow {
            bits: vec![0; (window as usize).div_ceil(64)],
            window: u64::from(window),
            top: 0,
        }
    }

    fn check(&self, seq: u64) -> bool {
        if seq == 0 {
            return false;
        }
        if seq > self.top {
            return true;
        }
        let age = self.top - seq;
        if age >= self.window {
            return false;
        }
        self.bits[(age / 64) as usize] & (1 << (age % 64)) == 0
    }

    fn update(&mut self, seq: u64) -> bool {
        if !self.check(seq) {
            return false;
        }
        if seq > self.top {
            let shift = seq - self.top;
            self.shift_left(shift);
            self.top = seq;
        }
        let age = self.top - seq;
        self.bits[(age / 64) as usize] |= 1 << (age % 64);
        true
    }

    /// Ages every bit by `n` (bit i = sequence top - i).
    fn shift_left(&mut self, n: u64) {
        let words = self.bits.len();
        if n >= self.window {
            self.bits.iter_mut().for_each(|w| *w = 0);
            return;
        }
        let (wshift, bshift) = ((n / 64) as usize, (n % 64) as u32);
        for i in (0..words).rev() {
            let src = i.checked_sub(wshift);
            let hi = src.map_or(0, |s| self.bits[s]);
            let lo = src
                .and_then(|s| s.checked_sub(1))
                .map_or(0, |s| self.bits[s]);
            self.bits[i] = if bshift == 0 {
                hi
            } else {
                (hi << bshift) | (lo >> (64 - bshift))
            };
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Sequence numbers for a traffic pattern.
fn traffic(kind: &str, n: usize, window: u32) -> Vec<u32> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    match kind {
        "in-order" => (1..=n as u32).collect(),
        // Reordered within a span of min(window, 256) / 2: every packet still fits.
        "reordered" => {
            let span = (window.min(256) / 2) as usize;
            let mut v: Vec<u32> = (1..=n as u32).collect();
            for chunk in v.chunks_mut(span) {
                for i in (1..chunk.len()).rev() {
                    let j = (rng.next() % (i as u64 + 1)) as usize;
                    chunk.swap(i, j);
                }
            }
            v
        }
        // Every packet arrives twice (the second copy is a replay).
        "replayed" => (1..=(n / 2) as u32).flat_map(|s| [s, s]).collect(),
        _ => unreachable!(),
    }
}

/// Best-of-`runs` nanoseconds per call of `f` over `n` packets.
fn time_per_op(runs: usize, n: usize, mut f: impl FnMut() -> u64) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        black_box(f());
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        best = best.min(ns);
    }
    best
}

fn bench_replay(quick: bool) {
    let n = if quick { 200_000 } else { 2_000_000 };
    let runs = if quick { 3 } else { 7 };
    println!("== replay: check + update per packet (ns), {n} packets, best of {runs}");
    println!(
        "{:>8} {:>10} {:>8} {:>8} {:>8}",
        "window", "traffic", "ring", "shift", "shift/ring"
    );
    let mut ring64 = std::collections::HashMap::new();
    for kind in ["in-order", "reordered", "replayed"] {
        for w in [64u32, 1024, 4096, 65536, 1 << 20] {
            let seqs = traffic(kind, n, w);
            let storage: Vec<AtomicU64> = (0..blocks_for(w)).map(|_| AtomicU64::new(0)).collect();
            let ring = time_per_op(runs, n, || {
                let r = ReplayWindow::new(&storage[..], ReplayMode::Window(w), false).unwrap();
                let mut ok = 0u64;
                for &s in &seqs {
                    if let Ok(full) = r.check(black_box(s)) {
                        ok += u64::from(r.update(full).is_ok());
                    }
                }
                ok
            });
            // The bitmap shifts the whole window on every advance: at 2^20 that is 16,384
            // words a packet, so it runs on a 64th of the packets there.
            let sn = if w > 65536 { n / 64 } else { n };
            let shift = time_per_op(runs, sn, || {
                let mut r = ShiftWindow::new(w);
                let mut ok = 0u64;
                for &s in &seqs[..sn] {
                    let s = u64::from(black_box(s));
                    if r.check(s) {
                        ok += u64::from(r.update(s));
                    }
                }
                ok
            });
            if w == 64 {
                ring64.insert(kind, ring);
            }
            println!(
                "{w:>8} {kind:>10} {ring:>8.2} {shift:>8.2} {:>9.2}x",
                shift / ring
            );
            if w >= 65536 {
                println!(
                    "{:>8} {kind:>10} ring({w})/ring(64) = {:.2} (target <= 1.2)",
                    "",
                    ring / ring64[kind]
                );
            }
        }
    }
    // Worst case for the ring: every packet jumps past the window, so each clears the whole
    // ring (1,025 words at 65,536); only authenticated packets can do this.
    let w = 65536;
    let storage: Vec<AtomicU64> = (0..blocks_for(w)).map(|_| AtomicU64::new(0)).collect();
    let jumps = time_per_op(runs, n, || {
        let r = ReplayWindow::new(&storage[..], ReplayMode::Window(w), true).unwrap();
        let mut seq = 1u64;
        for _ in 0..n {
            seq += 100_000;
            if let Ok(full) = r.check(black_box(seq as u32)) {
                let _ = r.update(full);
            }
        }
        r.top()
    });
    println!("   65536  jump-100k {jumps:>8.2}   (ESN, every packet jumps past the window)");
}

fn bench_ratelimit(quick: bool) {
    let n = if quick { 200_000 } else { 2_000_000 };
    let runs = if quick { 3 } else { 5 };
    let slots = 4096;
    let mut rng = Rng(42);
    let flows: Vec<FlowKey> = (0..65_536)
        .map(|_| {
            let mut src = [0u8; 16];
            src[..8].copy_from_slice(&rng.next().to_le_bytes());
            FlowKey {
                family: 2,
                src,
                dst: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                spi: rng.next() as u32,
            }
        })
        .collect();
    let mut table = vec![Entry::EMPTY; slots];
    let key = SipKey::from_bytes(*b"bench-key-123456");
    let mut evicted = 0;
    let ns = time_per_op(runs, n, || {
        let mut r = RateLimiter::new(&mut table[..], key, RateConfig::DEFAULT, 0).unwrap();
        // Fill the table first.
        for (i, f) in flows.iter().take(slots * 2).enumerate() {
            r.check(f, i as u64);
        }
        let mut emitted = 0u64;
        for i in 0..n {
            let f = &flows[i & 0xffff];
            let now = 1_000_000 + i as u64 * 1000; // 1 Mpps
            emitted += u64::from(matches!(
                r.check(black_box(f), now),
                ipsec_rs_core::ratelimit::Decision::Emit { .. }
            ));
        }
        evicted = r.counters().evicted;
        emitted
    });
    println!(
        "== ratelimit: spoofed flood, 65536 flows over a full {slots}-slot table: {ns:.2} ns/packet (target < 100), {evicted} evictions in last run"
    );
}

fn bench_parse(quick: bool) {
    let n = if quick { 500_000 } else { 5_000_000 };
    let runs = if quick { 3 } else { 5 };
    let mut v4 = vec![
        0x45, 0, 0, 60, 0, 0, 0, 0, 64, 50, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
    ];
    v4.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 9]);
    v4.resize(60, 0xaa);
    let mut udp = vec![
        0x45, 0, 0, 68, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
    ];
    udp.extend_from_slice(&[0x11, 0x94, 0x11, 0x94, 0, 48, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9]);
    udp.resize(68, 0xaa);
    let mut v6 = vec![0x60, 0, 0, 0, 0, 48, 60, 64];
    v6.extend_from_slice(&[0x20; 32]);
    v6.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]); // dest opts -> fragment
    v6.extend_from_slice(&[50, 0, 0, 0, 0, 0, 0, 1]); // fragment (first) -> ESP
    v6.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 9]);
    v6.resize(88, 0xaa);
    println!("== parse: ns/packet, best of {runs}");
    for (name, pkt) in [
        ("ipv4 esp", &v4),
        ("ipv4 udp-encap", &udp),
        ("ipv6 ext+esp", &v6),
    ] {
        assert!(matches!(parse_ip(pkt), Parsed::Esp(_)), "{name}");
        let ns = time_per_op(runs, n, || {
            let mut acc = 0u64;
            for _ in 0..n {
                if let Parsed::Esp(e) = parse_ip(black_box(pkt)) {
                    acc = acc.wrapping_add(u64::from(e.hdr.spi));
                }
            }
            acc
        });
        println!("{name:>16} {ns:>6.2}");
    }
}

fn main() {
    // `cargo bench` passes `--bench`; accept `--quick` or QUICK=1 for a short run.
    let quick = std::env::args().any(|a| a == "--quick") || std::env::var_os("QUICK").is_some();
    bench_replay(quick);
    bench_ratelimit(quick);
    bench_parse(quick);
}
