// SPDX-License-Identifier: GPL-2.0

//! `ipsec-rsd`: turns the module's invalid-SPI events into IKE recovery
//! (INVALID_SPI notify or a new IKE SA with INITIAL_CONTACT) through
//! strongSwan's VICI interface.
//!
//! See Documentation/recovery.rst.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ipsec_rsd::backend::{Backend, Command, Libreswan, StrongSwan};
use ipsec_rsd::config::{BackendKind, Config, DEFAULT_PATH};
use ipsec_rsd::daemon;

/// Invalid-SPI recovery daemon for ipsec_rs.
///
/// Subscribes to the module's invalid-SPI events and, for statically
/// configured peers only and within per-peer limits, asks the IKE daemon to
/// tell the peer its SAs are stale. Recovery is off unless enabled in the
/// configuration.
#[derive(Debug, Parser)]
#[command(
    name = "ipsec-rsd",
    version,
    after_help = "\
Signals:
  SIGUSR1          log the daemon's counters
  SIGTERM, SIGINT  log the counters and exit 0

Exit codes:
  0  success (with --check-config: the configuration is valid)
  1  usage or configuration error"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(short, long, value_name = "PATH", default_value = DEFAULT_PATH)]
    config: PathBuf,
    /// Validate the configuration, print it with defaults filled in, and exit.
    #[arg(long)]
    check_config: bool,
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ipsec-rsd: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.check_config {
        match toml::to_string(&cfg) {
            Ok(s) => print!("{s}"),
            Err(e) => {
                eprintln!("ipsec-rsd: {e}");
                return ExitCode::from(1);
            }
        }
        return ExitCode::SUCCESS;
    }
    install_signals();
    if cfg.recovery.enabled {
        tracing::info!(
            "recovery enabled ({:?} back end) towards {} peer(s); limits: {} per peer, {} overall per {} s",
            cfg.recovery.backend,
            cfg.peers.len(),
            cfg.recovery.per_peer_limit,
            cfg.recovery.global_limit,
            cfg.recovery.interval_secs
        );
    } else {
        tracing::info!(
            "recovery is disabled in {}: events are only logged",
            cli.config.display()
        );
    }
    let mut backend: Box<dyn Backend> = match cfg.recovery.backend {
        BackendKind::Strongswan => Box::new(StrongSwan::from_config(&cfg)),
        BackendKind::Libreswan => Box::new(Libreswan::new(&cfg, Command)),
    };
    if cfg.recovery.enabled {
        backend.check(&cfg.peers);
    }
    daemon::run(cfg, backend);
    ExitCode::SUCCESS
}

extern "C" fn on_signal(sig: libc::c_int) {
    use std::sync::atomic::Ordering;
    if sig == libc::SIGUSR1 {
        daemon::DUMP.store(true, Ordering::Relaxed);
    } else {
        daemon::STOP.store(true, Ordering::Relaxed);
    }
}

fn install_signals() {
    for sig in [libc::SIGUSR1, libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to atomics (async-signal-safe);
        // sigaction is given a fully initialised struct.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}
