// SPDX-License-Identifier: GPL-2.0

//! Human and JSON renderings of counters, settings and events.
//!
//! JSON key names are the YAML spec's attribute names with `-` replaced by
//! `_` (`esp-v4` -> `esp_v4`), which are also the field names of the core
//! crate's typed structs.  They are part of the tool's interface: tests
//! pin the exact strings.

use std::fmt::Write as _;

use ipsec_rs_core::esp::{Family, IpAddr};
use ipsec_rs_core::frag::{DfMode, PreFrag};
use ipsec_rs_core::nl::{
    self, Counters, GlobalConfig, IfConfig, InvalidSpiEvent, SaConfig, SaState,
};
use ipsec_rs_core::replay::ReplayMode;
use serde_json::{json, Map, Value};

// The counters' names, sections and one-line descriptions are the core's
// table (`nl::COUNTERS`), the one place a counter is declared.
pub use ipsec_rs_core::nl::{CounterInfo, Section, COUNTERS};

fn section_title(s: Section) -> &'static str {
    match s {
        Section::Inbound => "Inbound ESP",
        Section::NatT => "NAT-T port (UDP 4500), passed on",
        Section::InvalidSpi => "Invalid SPI",
        Section::Outbound => "Outbound (tunnel mode)",
    }
}

fn counter_value(c: &Counters, kind: u16) -> u64 {
    c.get(kind)
}

/// `stats --json`: one flat object, counters in attribute order.
pub fn counters_json(c: &Counters) -> String {
    let mut m = Map::new();
    for i in COUNTERS {
        m.insert(i.name.to_string(), json!(counter_value(c, i.kind)));
    }
    Value::Object(m).to_string()
}

/// `stats`: an aligned table by section.
pub fn counters_table(c: &Counters) -> String {
    let width = COUNTERS
        .iter()
        .map(|i| counter_value(c, i.kind).to_string().len())
        .max();
    let width = width.unwrap_or(1).max(5);
    let mut out = String::from("ipsec_rs counters (this network namespace)\n");
    for sec in [
        Section::Inbound,
        Section::NatT,
        Section::InvalidSpi,
        Section::Outbound,
    ] {
        let _ = writeln!(out, "\n  {}:", section_title(sec));
        for i in COUNTERS.iter().filter(|i| i.section == sec) {
            let _ = writeln!(
                out,
                "    {:<18} {:>width$}  {}",
                i.name,
                counter_value(c, i.kind),
                i.what
            );
        }
    }
    out
}

/// Formats an address like `inet_ntop`.
pub fn addr_string(a: &IpAddr) -> String {
    match a.family {
        Family::V4 => {
            let b = a.bytes;
            std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
        }
        Family::V6 => std::net::Ipv6Addr::from(a.bytes).to_string(),
    }
}

/// `ipv4` or `ipv6`.
pub fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

/// The YAML enum name of a DF mode.
pub fn df_name(m: DfMode) -> &'static str {
    match m {
        DfMode::Clear => "clear",
        DfMode::Set => "set",
        DfMode::Copy => "copy",
    }
}

/// The YAML enum name of a pre-fragmentation setting.
pub fn prefrag_name(p: PreFrag) -> &'static str {
    match p {
        PreFrag::Enabled => "enabled",
        PreFrag::Disabled => "disabled",
    }
}

/// Maps an interface index to its name in the caller's namespace.
pub type IfNamer<'a> = &'a dyn Fn(u32) -> Option<String>;

/// The system's `if_indextoname`.
pub fn system_ifname(ifindex: u32) -> Option<String> {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes the function may write.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// `monitor --json`: one object per event, fixed keys (absent ports and
/// unknown interface names are `null`).
pub fn event_json(e: &InvalidSpiEvent, ifname: IfNamer<'_>) -> String {
    let v = json!({
        "event": "invalid_spi",
        "family": family_name(e.saddr.family),
        "saddr": addr_string(&e.saddr),
        "daddr": addr_string(&e.daddr),
        "spi": e.spi,
        "proto": e.proto(),
        "encap_sport": e.encap.map(|p| p.sport),
        "encap_dport": e.encap.map(|p| p.dport),
        "seq": e.seq,
        "ifindex": e.ifindex,
        "ifname": ifname(e.ifindex),
        "netns_cookie": e.netns_cookie,
        "suppressed": e.suppressed,
        "timestamp_ns": e.timestamp_ns,
    });
    v.to_string()
}

/// `monitor`: the vendor's log line plus the fields it lacks.
///
/// The vendor's `prot=50` is the IPsec protocol (ESP); for UDP-encapsulated
/// packets the UDP ports follow in `encap=udp SPORT->DPORT`.
pub fn event_line(e: &InvalidSpiEvent, ifname: IfNamer<'_>) -> String {
    let mut s = format!(
        "%CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for \
         destaddr={}, prot=50, spi=0x{:X}({}), srcaddr={}",
        addr_string(&e.daddr),
        e.spi,
        e.spi,
        addr_string(&e.saddr),
    );
    if let Some(p) = e.encap {
        let _ = write!(s, ", encap=udp {}->{}", p.sport, p.dport);
    }
    let _ = write!(s, ", seq={}", e.seq);
    match ifname(e.ifindex) {
        Some(n) => {
            let _ = write!(s, ", if={n}({})", e.ifindex);
        }
        None => {
            let _ = write!(s, ", ifindex={}", e.ifindex);
        }
    }
    let _ = write!(
        s,
        ", netns=0x{:x}, suppressed={}",
        e.netns_cookie, e.suppressed
    );
    s
}

/// `show global --json`.
pub fn config_json(c: &GlobalConfig) -> String {
    json!({
        "invalid_spi_enable": c.invalid_spi_enable,
        "flow_rate": c.flow_rate,
        "flow_burst": c.flow_burst,
        "global_rate": c.global_rate,
        "global_burst": c.global_burst,
        "flow_table_size": c.flow_table_size,
        "log_interval_ms": c.log_interval_ms,
        "flow_idle_timeout_ms": c.flow_idle_timeout_ms,
        "replay_window": c.replay_window,
        "replay_disabled": c.replay_disabled,
        "df_mode": df_name(c.df_mode),
        "prefrag": prefrag_name(c.prefrag),
        "rx_enable": c.rx_enable,
        "natt_accounting": c.natt_accounting,
    })
    .to_string()
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// `show global`.
pub fn config_text(c: &GlobalConfig) -> String {
    let replay = if c.replay_disabled {
        format!("disabled (window {} kept)", c.replay_window)
    } else {
        format!("window {} packets", c.replay_window)
    };
    let rows = [
        ("anti-replay", replay),
        ("df-mode", df_name(c.df_mode).to_string()),
        ("prefrag", prefrag_name(c.prefrag).to_string()),
        ("invalid-spi", on_off(c.invalid_spi_enable).to_string()),
        ("rx", on_off(c.rx_enable).to_string()),
        ("natt-accounting", on_off(c.natt_accounting).to_string()),
        (
            "flow-rate",
            format!("{} per interval, burst {}", c.flow_rate, c.flow_burst),
        ),
        (
            "global-rate",
            format!("{} per interval, burst {}", c.global_rate, c.global_burst),
        ),
        ("log-interval", format!("{} ms", c.log_interval_ms)),
        ("flow-table-size", format!("{} flows", c.flow_table_size)),
        (
            "flow-idle-timeout",
            format!("{} ms", c.flow_idle_timeout_ms),
        ),
    ];
    let mut out = String::from("ipsec_rs global settings\n");
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<18} {v}");
    }
    out
}

fn opt_name<T>(v: Option<T>, f: fn(T) -> &'static str) -> Value {
    v.map_or(Value::Null, |x| Value::from(f(x)))
}

/// One SA as a JSON value; `null` means "inherited".
pub fn sa_value(s: &SaConfig) -> Value {
    let (window, disabled) = match s.replay {
        None => (Value::Null, Value::Null),
        Some(ReplayMode::Window(w)) => (json!(w), json!(false)),
        Some(ReplayMode::Disabled) => (Value::Null, json!(true)),
    };
    json!({
        "family": family_name(s.sel.daddr.family),
        "daddr": addr_string(&s.sel.daddr),
        "spi": s.sel.spi,
        "proto": s.sel.proto,
        "replay_window": window,
        "replay_disabled": disabled,
        "df_mode": opt_name(s.frag.df, df_name),
        "prefrag": opt_name(s.frag.prefrag, prefrag_name),
    })
}

/// One interface as a JSON value; `null` means "inherited".
pub fn if_value(i: &IfConfig, ifname: IfNamer<'_>) -> Value {
    json!({
        "ifindex": i.ifindex,
        "ifname": ifname(i.ifindex),
        "df_mode": opt_name(i.frag.df, df_name),
        "prefrag": opt_name(i.frag.prefrag, prefrag_name),
    })
}

fn or_inherit(v: Option<&'static str>) -> &'static str {
    v.unwrap_or("inherit")
}

/// `show sa` table.
pub fn sa_table(sas: &[SaConfig]) -> String {
    let mut out = format!(
        "{:<40} {:<22} {:<14} {:<8} {}\n",
        "DESTINATION", "SPI", "REPLAY", "DF", "PREFRAG"
    );
    for s in sas {
        let _ = writeln!(
            out,
            "{:<40} {:<22} {:<14} {:<8} {}",
            addr_string(&s.sel.daddr),
            format!("0x{:08x}({})", s.sel.spi, s.sel.spi),
            crate::proto::replay_mode_name(s.replay),
            or_inherit(s.frag.df.map(df_name)),
            or_inherit(s.frag.prefrag.map(prefrag_name)),
        );
    }
    out
}

/// `show if` table.
pub fn if_table(ifs: &[IfConfig], ifname: IfNamer<'_>) -> String {
    let mut out = format!(
        "{:<20} {:<8} {:<8} {}\n",
        "INTERFACE", "INDEX", "DF", "PREFRAG"
    );
    for i in ifs {
        let _ = writeln!(
            out,
            "{:<20} {:<8} {:<8} {}",
            ifname(i.ifindex).unwrap_or_else(|| "?".into()),
            i.ifindex,
            or_inherit(i.frag.df.map(df_name)),
            or_inherit(i.frag.prefrag.map(prefrag_name)),
        );
    }
    out
}

/// One SA's state as a JSON value (`show sas --json`); the module's fields
/// are `null` for SAs XFRM decapsulates.
pub fn sa_state_value(s: &SaState) -> Value {
    let m = s.module.as_ref();
    let c = m.map(|m| m.counters);
    json!({
        "family": family_name(s.daddr.family),
        "saddr": addr_string(&s.saddr),
        "daddr": addr_string(&s.daddr),
        "spi": s.spi,
        "mode": s.mode.name(),
        "encap": if s.encap != 0 { "espinudp" } else { "none" },
        "alg": String::from_utf8_lossy(s.alg()),
        "esn": s.esn,
        "handler": s.handler.name(),
        "replay_window": m.map(|m| m.replay_window),
        "top_seq": m.map(|m| m.top_seq),
        "idle_ms": m.and_then(|m| m.idle_ms),
        "conn_id": m.map(|m| m.conn_id),
        "decap_ok": c.map(|c| c.decap_ok),
        "auth_failed": c.map(|c| c.auth_failed),
        "replayed": c.map(|c| c.replayed),
        "too_old": c.map(|c| c.too_old),
        "bad_padding": c.map(|c| c.bad_padding),
        "malformed": c.map(|c| c.malformed),
    })
}

/// `show sas`: a block per SA, in the spirit of `show crypto ipsec sa`.
pub fn sa_states_text(sas: &[SaState]) -> String {
    let mut out = String::new();
    for s in sas {
        let _ = writeln!(
            out,
            "SA {} -> {} spi 0x{:08x}({}) {} {}{}{}",
            addr_string(&s.saddr),
            addr_string(&s.daddr),
            s.spi,
            s.spi,
            s.mode.name(),
            String::from_utf8_lossy(s.alg()),
            if s.encap != 0 { " udp-encap" } else { "" },
            if s.esn { " esn" } else { "" },
        );
        match &s.module {
            Some(m) => {
                let c = &m.counters;
                let window = if m.replay_window == 0 {
                    "off".to_string()
                } else {
                    m.replay_window.to_string()
                };
                let idle = m.idle_ms.map_or("no packet yet".to_string(), |ms| {
                    format!("{}.{:03} s", ms / 1000, ms % 1000)
                });
                let _ = writeln!(
                    out,
                    "    decapsulated by: module (connection id {})",
                    m.conn_id
                );
                let _ = writeln!(
                    out,
                    "    replay window: {window}, highest seq: {}, last packet: {idle} ago",
                    m.top_seq
                );
                let _ = writeln!(
                    out,
                    "    #pkts decaps: {}, #auth failures: {}, #replay failures: {} (replayed {}, too old {})",
                    c.decap_ok,
                    c.auth_failed,
                    c.replayed + c.too_old,
                    c.replayed,
                    c.too_old
                );
                let _ = writeln!(
                    out,
                    "    #bad padding: {}, #malformed: {}",
                    c.bad_padding, c.malformed
                );
            }
            None => {
                let _ = writeln!(out, "    decapsulated by: XFRM ({})", s.handler.name());
            }
        }
    }
    if sas.is_empty() {
        out.push_str("no ESP SA\n");
    }
    out
}

/// The namespace's counters in the Prometheus text exposition format
/// (version 0.0.4): one counter family per module counter,
/// `ipsec_rs_<name>_total`, with the core's description as HELP.
pub fn counters_prometheus(c: &Counters) -> String {
    let mut out = String::new();
    for info in COUNTERS {
        let name = format!("ipsec_rs_{}_total", info.name);
        let _ = writeln!(out, "# HELP {name} {}", prom_help(info.what));
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {}", counter_value(c, info.kind));
    }
    out
}

/// HELP text: backslashes and newlines escaped, as the format requires.
fn prom_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A label value: backslash, double quote and newline escaped.
fn prom_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The per-SA view in the Prometheus text exposition format: an info metric
/// for every ESP SA (labels: saddr, daddr, spi, mode, alg, handler), and for
/// the SAs the module decapsulates their counters and gauges, labelled by
/// saddr, daddr and spi.
pub fn sa_states_prometheus(sas: &[SaState]) -> String {
    let labels = |s: &SaState| {
        format!(
            "saddr=\"{}\",daddr=\"{}\",spi=\"0x{:08x}\"",
            addr_string(&s.saddr),
            addr_string(&s.daddr),
            s.spi
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "# HELP ipsec_rs_sa_info An ESP SA of the namespace; handler: who decapsulates it (module, or the reason XFRM does).");
    let _ = writeln!(out, "# TYPE ipsec_rs_sa_info gauge");
    for s in sas {
        let _ = writeln!(
            out,
            "ipsec_rs_sa_info{{{},mode=\"{}\",alg=\"{}\",handler=\"{}\"}} 1",
            labels(s),
            s.mode.name(),
            prom_label(&String::from_utf8_lossy(s.alg())),
            s.handler.name()
        );
    }
    type Field = fn(&nl::SaModuleState) -> Option<f64>;
    let families: [(&str, &str, &str, Field); 10] = [
        (
            "ipsec_rs_sa_decap_total",
            "counter",
            "Packets of the SA decapsulated by the module.",
            |m| Some(m.counters.decap_ok as f64),
        ),
        (
            "ipsec_rs_sa_auth_failed_total",
            "counter",
            "Packets of the SA whose ICV did not verify.",
            |m| Some(m.counters.auth_failed as f64),
        ),
        (
            "ipsec_rs_sa_replayed_total",
            "counter",
            "Replays of the SA dropped (already seen).",
            |m| Some(m.counters.replayed as f64),
        ),
        (
            "ipsec_rs_sa_too_old_total",
            "counter",
            "Packets of the SA dropped as left of the window.",
            |m| Some(m.counters.too_old as f64),
        ),
        (
            "ipsec_rs_sa_bad_padding_total",
            "counter",
            "Packets of the SA dropped for bad padding.",
            |m| Some(m.counters.bad_padding as f64),
        ),
        (
            "ipsec_rs_sa_malformed_total",
            "counter",
            "Malformed packets of the SA dropped.",
            |m| Some(m.counters.malformed as f64),
        ),
        (
            "ipsec_rs_sa_replay_window",
            "gauge",
            "The module's anti-replay window of the SA in packets (0: disabled).",
            |m| Some(f64::from(m.replay_window)),
        ),
        (
            "ipsec_rs_sa_top_seq",
            "gauge",
            "The highest sequence number of the SA authenticated.",
            |m| Some(m.top_seq as f64),
        ),
        (
            "ipsec_rs_sa_idle_seconds",
            "gauge",
            "Seconds since the module last decapsulated a packet of the SA.",
            |m| m.idle_ms.map(|ms| ms as f64 / 1000.0),
        ),
        (
            "ipsec_rs_sa_conn_id",
            "gauge",
            "The connection id of the SA's log lines.",
            |m| Some(f64::from(m.conn_id)),
        ),
    ];
    for (name, kind, help, f) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for s in sas {
            if let Some(v) = s.module.as_ref().and_then(f) {
                let _ = writeln!(out, "{name}{{{}}} {v}", labels(s));
            }
        }
    }
    out
}
