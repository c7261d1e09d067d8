// SPDX-License-Identifier: GPL-2.0

//! Command line.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipsec_rs_core::frag::{DfMode, PreFrag};

use crate::error::EXIT_CODES_HELP;

/// Monitor and configure the ipsec_rs kernel module over generic netlink.
///
/// Counters and settings are those of the network namespace the command
/// runs in (use `ip netns exec NS ipsec-rs ...`). Reading needs no
/// privilege unless the module says otherwise; changing settings needs
/// CAP_NET_ADMIN.
#[derive(Debug, Parser)]
#[command(name = "ipsec-rs", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the module's counters (like `show crypto ipsec sa` counters).
    #[command(after_help = EXIT_CODES_HELP)]
    Stats {
        /// Print one flat JSON object: counter name -> integer.
        #[arg(long, conflicts_with = "prometheus")]
        json: bool,
        /// Print the Prometheus text exposition format (for node_exporter's
        /// textfile collector or a scrape wrapper): `ipsec_rs_<counter>_total`.
        #[arg(long)]
        prometheus: bool,
    },
    /// Print invalid-SPI events as they arrive.
    ///
    /// Once subscribed, logs "listening for invalid-SPI events" on stderr
    /// (scripts can wait for that line before generating traffic). Lost
    /// events (socket buffer overflow) are counted and reported on stderr.
    #[command(after_help = EXIT_CODES_HELP)]
    Monitor {
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
        /// Exit after this many events (exit code 5 if --timeout expires first).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        /// Stop after this many seconds (exit code 0, or 5 with --count).
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
    },
    /// Show settings: global (default), per SA, or per interface.
    #[command(after_help = EXIT_CODES_HELP)]
    Show {
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
        /// Which settings.
        #[command(subcommand)]
        what: Option<ShowWhat>,
    },
    /// Change settings (needs CAP_NET_ADMIN).
    #[command(after_help = EXIT_CODES_HELP)]
    Set {
        /// Which settings.
        #[command(subcommand)]
        what: SetWhat,
    },
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `show` objects.
#[derive(Debug, Subcommand)]
pub enum ShowWhat {
    /// Global settings.
    Global,
    /// SA overrides: one SA, or every SA that has overrides.
    Sa {
        /// SA destination address (with SPI: select one SA).
        #[arg(requires = "spi")]
        daddr: Option<IpAddr>,
        /// SPI, decimal or 0x-hex.
        #[arg(value_parser = parse_spi)]
        spi: Option<u32>,
    },
    /// Every ESP SA of the namespace with its state, like `show crypto ipsec
    /// sa`: who decapsulates it (the module, or XFRM and why), its window and
    /// highest sequence number, time since its last packet, and its counters.
    Sas {
        /// Only SAs whose source or destination is this address.
        #[arg(long, value_name = "ADDR")]
        peer: Option<IpAddr>,
        /// Only SAs with this SPI (decimal or 0x-hex).
        #[arg(long, value_parser = parse_spi)]
        spi: Option<u32>,
        /// Print the Prometheus text exposition format: `ipsec_rs_sa_*`
        /// metrics labelled by saddr, daddr and spi.
        #[arg(long, conflicts_with = "json")]
        prometheus: bool,
    },
    /// Interface overrides: one interface, or every interface that has overrides.
    #[command(name = "if")]
    If {
        /// Interface name or index.
        dev: Option<String>,
    },
}

/// `on` / `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Enabled.
    #[value(alias = "enabled", alias = "yes")]
    On,
    /// Disabled.
    #[value(alias = "disabled", alias = "no")]
    Off,
}

impl OnOff {
    /// As a boolean.
    pub fn on(self) -> bool {
        self == OnOff::On
    }

    /// As a pre-fragmentation setting.
    pub fn prefrag(self) -> PreFrag {
        match self {
            OnOff::On => PreFrag::Enabled,
            OnOff::Off => PreFrag::Disabled,
        }
    }
}

/// DF-bit mode of the outer IPv4 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DfArg {
    /// Outer DF always 0.
    Clear,
    /// Outer DF always 1.
    Set,
    /// Copy the inner DF bit.
    Copy,
}

impl From<DfArg> for DfMode {
    fn from(d: DfArg) -> DfMode {
        match d {
            DfArg::Clear => DfMode::Clear,
            DfArg::Set => DfMode::Set,
            DfArg::Copy => DfMode::Copy,
        }
    }
}

/// Per-SA replay setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaReplay {
    /// Anti-replay with this window.
    Window(u32),
    /// Anti-replay disabled for the SA.
    Off,
}

fn parse_sa_replay(s: &str) -> Result<SaReplay, String> {
    match s {
        "off" | "disabled" => Ok(SaReplay::Off),
        _ => s
            .parse()
            .map(SaReplay::Window)
            .map_err(|_| format!("'{s}' is neither a window size in packets nor 'off'")),
    }
}

/// Parses a decimal or `0x` hexadecimal SPI.
pub fn parse_spi(s: &str) -> Result<u32, String> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    match v {
        Ok(0) => Err("SPI 0 is invalid".into()),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("'{s}' is not a 32-bit SPI (decimal or 0x-hex)")),
    }
}

/// `set` objects.
#[derive(Debug, Subcommand)]
pub enum SetWhat {
    /// Change global settings; options not given keep their value.
    Global(GlobalArgs),
    /// Replace the overrides of one SA; settings not given are inherited
    /// from the interface or global settings.
    Sa {
        /// SA destination address.
        daddr: IpAddr,
        /// SPI, decimal or 0x-hex.
        #[arg(value_parser = parse_spi)]
        spi: u32,
        /// Anti-replay window in packets (32..1048576), or `off` to disable
        /// anti-replay for this SA.
        #[arg(long, value_name = "N|off", value_parser = parse_sa_replay)]
        replay_window: Option<SaReplay>,
        /// Outer DF-bit mode (tunnel mode, IPv4 outer header).
        #[arg(long, value_enum)]
        df_mode: Option<DfArg>,
        /// Fragment before encryption when the ESP packet would exceed the MTU.
        #[arg(long, value_enum)]
        prefrag: Option<OnOff>,
    },
    /// Replace the overrides of one interface; settings not given are
    /// inherited from the global settings.
    #[command(name = "if")]
    If {
        /// Interface name or index.
        dev: String,
        /// Outer DF-bit mode (tunnel mode, IPv4 outer header).
        #[arg(long, value_enum)]
        df_mode: Option<DfArg>,
        /// Fragment before encryption when the ESP packet would exceed the MTU.
        #[arg(long, value_enum)]
        prefrag: Option<OnOff>,
    },
}

/// `set global` options.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Default anti-replay window in packets (32..1048576).
    #[arg(long, value_name = "N")]
    pub replay_window: Option<u32>,
    /// Anti-replay by default (off: SAs without their own window skip the check).
    #[arg(long, value_enum, conflicts_with = "replay_window")]
    pub replay: Option<OnOff>,
    /// Outer DF-bit mode (tunnel mode, IPv4 outer header).
    #[arg(long, value_enum)]
    pub df_mode: Option<DfArg>,
    /// Fragment before encryption when the ESP packet would exceed the MTU.
    #[arg(long, value_enum)]
    pub prefrag: Option<OnOff>,
    /// Detect, count and report packets with an unknown SPI.
    #[arg(long, value_enum)]
    pub invalid_spi: Option<OnOff>,
    /// Decapsulate inbound ESP in the module (tunnel mode, AES-GCM and
    /// AES-CBC/HMAC-SHA-256); off leaves every packet to XFRM (default off).
    #[arg(long, value_enum)]
    pub rx: Option<OnOff>,
    /// Count IKE messages, NAT keepalives and malformed datagrams sent to
    /// UDP port 4500 (a netfilter hook every locally delivered packet then
    /// passes; default off).
    #[arg(long, value_enum)]
    pub natt_accounting: Option<OnOff>,
    /// Invalid-SPI events per log interval per flow (>= 1).
    #[arg(long, value_name = "N")]
    pub flow_rate: Option<u32>,
    /// Invalid-SPI events a flow may emit at once (1..1000000).
    #[arg(long, value_name = "N")]
    pub flow_burst: Option<u32>,
    /// Invalid-SPI events per log interval, all flows together (>= 1).
    #[arg(long, value_name = "N")]
    pub global_rate: Option<u32>,
    /// Invalid-SPI events all flows together may emit at once (1..1000000).
    #[arg(long, value_name = "N")]
    pub global_burst: Option<u32>,
    /// Slots in the invalid-SPI flow table (16..1048576).
    #[arg(long, value_name = "N")]
    pub flow_table_size: Option<u32>,
    /// Rate-limit interval in milliseconds (1..3600000; the guide's is 60000).
    #[arg(long, value_name = "MS")]
    pub log_interval_ms: Option<u32>,
    /// Idle time after which a flow's slot may be reused, milliseconds (>= 1).
    #[arg(long, value_name = "MS")]
    pub flow_idle_timeout_ms: Option<u32>,
}
