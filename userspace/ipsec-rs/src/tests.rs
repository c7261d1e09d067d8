// SPDX-License-Identifier: GPL-2.0

//! Command logic against a fake kernel: request bytes, reply decoding, JSON
//! stability and exit codes.  Fixtures are built with core's encoders, the
//! code the module runs.

use std::cell::RefCell;
use std::rc::Rc;

use clap::Parser;
use ipsec_rs_core::esp::{IpAddr, UdpPorts};
use ipsec_rs_core::frag::{DfMode, FragSettings, PreFrag};
use ipsec_rs_core::nl::{
    self, cmd, stats_attr, Counters, GlobalConfig, IfConfig, InvalidSpiEvent, SaConfig, SaSelector,
    Unknown,
};
use ipsec_rs_core::replay::ReplayMode;
use ipsec_rs_genl::fake::{Answer, FakeKernel, Request};
use ipsec_rs_genl::wire::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

use crate::cli::Cli;
use crate::error::{exit, AppError};
use crate::{output, run, Env};

const FAMILY_ID: u16 = 0x1d;
const GROUP_ID: u32 = 9;

fn enc(f: impl FnOnce(&mut [u8]) -> Result<usize, nl::NoSpace>) -> Vec<u8> {
    let mut b = vec![0; 1024];
    let n = f(&mut b).unwrap();
    b.truncate(n);
    b
}

/// Native-endian attribute bytes, written out by hand (independent of core's writer).
fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut v = Vec::new();
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize((len + 3) & !3, 0);
    v
}

fn counters() -> Counters {
    let mut c = Counters::default();
    for k in 1..=stats_attr::MAX {
        // Distinct, recognisable values; one above u32 to catch truncation.
        *c.get_mut(k).unwrap() = u64::from(k) * 1000 + u64::from(k);
    }
    c.df_dropped = 1 << 40;
    c
}

fn event_v4() -> InvalidSpiEvent {
    InvalidSpiEvent {
        saddr: IpAddr::v4([192, 0, 2, 1]),
        daddr: IpAddr::v4([192, 0, 2, 2]),
        spi: 0xdead_beef,
        encap: None,
        seq: 77,
        ifindex: 3,
        netns_cookie: 0x1234,
        suppressed: 12,
        timestamp_ns: 99,
    }
}

fn event_v6_encap() -> InvalidSpiEvent {
    InvalidSpiEvent {
        saddr: IpAddr::v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        daddr: IpAddr::v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
        spi: 0x100,
        encap: Some(UdpPorts {
            sport: 4500,
            dport: 4500,
        }),
        seq: 1,
        ifindex: 42,
        netns_cookie: 1,
        suppressed: 0,
        timestamp_ns: 5,
    }
}

/// The fake module: answers like the real one from typed state.
fn module_kernel(cfg: Rc<RefCell<GlobalConfig>>) -> FakeKernel {
    FakeKernel::with_family(
        nl::FAMILY_NAME,
        FAMILY_ID,
        1,
        &[(nl::MCGRP_EVENTS, GROUP_ID)],
        move |r| {
            let dump = r.hdr.flags & NLM_F_DUMP == NLM_F_DUMP;
            match r.msg.cmd {
                cmd::GET_STATS => {
                    Answer::Replies(vec![(cmd::GET_STATS, enc(|b| counters().encode(b)))])
                }
                cmd::GET_CONFIG => {
                    let c = *cfg.borrow();
                    Answer::Replies(vec![(cmd::GET_CONFIG, enc(|b| c.encode(b)))])
                }
                cmd::SET_CONFIG => {
                    let cur = *cfg.borrow();
                    match cur.patched(&r.msg.attrs, Unknown::Reject) {
                        Ok(n) => {
                            *cfg.borrow_mut() = n;
                            Answer::Replies(vec![])
                        }
                        Err(e) => Answer::Error {
                            errno: libc::EINVAL,
                            msg: Some(e.msg.into()),
                        },
                    }
                }
                cmd::SA_GET if dump => Answer::Replies(vec![
                    (cmd::SA_GET, enc(|b| sa().encode(b))),
                    (cmd::SA_GET, enc(|b| sa_v6().encode(b))),
                ]),
                cmd::SA_GET => {
                    let want = SaConfig::decode(&r.msg.attrs, Unknown::Reject).unwrap();
                    if want.sel == sa().sel {
                        Answer::Replies(vec![(cmd::SA_GET, enc(|b| sa().encode(b)))])
                    } else {
                        Answer::Error {
                            errno: libc::ENOENT,
                            msg: Some("no such SA".into()),
                        }
                    }
                }
                cmd::SA_SET => Answer::Error {
                    errno: libc::EPERM,
                    msg: None,
                },
                cmd::IF_GET => Answer::Replies(vec![(cmd::IF_GET, enc(|b| iface().encode(b)))]),
                cmd::IF_SET => Answer::Replies(vec![]),
                cmd::SA_STATE_GET if dump => Answer::Replies(
                    sa_states()
                        .iter()
                        .map(|st| (cmd::SA_STATE_GET, enc(|b| st.encode(b))))
                        .collect(),
                ),
                _ => Answer::Error {
                    errno: libc::EOPNOTSUPP,
                    msg: Some("unknown command".into()),
                },
            }
        },
    )
}

/// Three SAs: two the module decapsulates (one dropping replays), one left
/// to XFRM.
fn sa_states() -> Vec<nl::SaState> {
    let mut alg = [0u8; nl::MAX_ALG_LEN];
    alg[..17].copy_from_slice(b"rfc4106(gcm(aes))");
    let module = |spi: u32, replayed: u64| nl::SaState {
        daddr: IpAddr::v4([192, 0, 2, 2]),
        spi,
        saddr: IpAddr::v4([192, 0, 2, 1]),
        mode: nl::SaMode::Tunnel,
        encap: 0,
        alg,
        alg_len: 17,
        esn: false,
        handler: nl::SaHandler::Module,
        module: Some(nl::SaModuleState {
            replay_window: 64,
            top_seq: 100,
            idle_ms: Some(1500),
            conn_id: spi,
            counters: nl::SaCounters {
                decap_ok: 100,
                replayed,
                ..Default::default()
            },
        }),
    };
    let mut xfrm = module(0x3000, 0);
    xfrm.daddr = IpAddr::v4([198, 51, 100, 7]);
    xfrm.handler = nl::SaHandler::Algorithm;
    xfrm.module = None;
    vec![module(0x1000, 0), module(0x2000, 7), xfrm]
}

fn sa() -> SaConfig {
    SaConfig {
        sel: SaSelector {
            daddr: IpAddr::v4([10, 0, 0, 2]),
            spi: 0x1000,
            proto: 50,
        },
        replay: Some(ReplayMode::Window(128)),
        frag: FragSettings {
            df: Some(DfMode::Set),
            prefrag: None,
        },
    }
}

fn sa_v6() -> SaConfig {
    SaConfig {
        sel: SaSelector {
            daddr: IpAddr::v6([0xfe; 16]),
            spi: 7,
            proto: 50,
        },
        replay: Some(ReplayMode::Disabled),
        frag: FragSettings {
            df: None,
            prefrag: Some(PreFrag::Enabled),
        },
    }
}

fn iface() -> IfConfig {
    IfConfig {
        ifindex: 3,
        frag: FragSettings {
            df: Some(DfMode::Clear),
            prefrag: None,
        },
    }
}

fn names(i: u32) -> Option<String> {
    (i == 3).then(|| "veth0".to_string())
}

fn index(d: &str) -> Option<u32> {
    match d {
        "veth0" | "3" => Some(3),
        _ => None,
    }
}

/// Runs the command line `args` against `kernel`; returns exit code, stdout,
/// the error message and the kernel (to inspect requests).
fn run_with(kernel: FakeKernel, args: &[&str]) -> (i32, String, String, FakeKernel) {
    let cli = Cli::try_parse_from(std::iter::once("ipsec-rs").chain(args.iter().copied())).unwrap();
    let slot = Rc::new(RefCell::new(Some(kernel)));
    let mut out = Vec::new();
    // The kernel goes to the command by value; a fresh handle lets us see it
    // afterwards through the requests it recorded.
    let taken = slot.clone();
    let mut connect = move || Ok(Recorder(taken.clone()));
    let mut env = Env {
        connect: &mut connect,
        ifname: &names,
        ifindex: &index,
        out: &mut out,
    };
    let r = run(&cli.command, &mut env);
    let (code, err) = match r {
        Ok(()) => (exit::OK, String::new()),
        Err(e) => (e.exit_code(), e.message()),
    };
    let k = slot.borrow_mut().take().unwrap();
    (code, String::from_utf8(out).unwrap(), err, k)
}

/// A transport that forwards to a shared fake kernel.
struct Recorder(Rc<RefCell<Option<FakeKernel>>>);

impl ipsec_rs_genl::Transport for Recorder {
    fn send(&mut self, m: &[u8]) -> std::io::Result<()> {
        self.0.borrow_mut().as_mut().unwrap().send(m)
    }
    fn recv(&mut self, t: Option<std::time::Duration>) -> std::io::Result<Option<Vec<u8>>> {
        self.0.borrow_mut().as_mut().unwrap().recv(t)
    }
    fn add_membership(&mut self, g: u32) -> std::io::Result<()> {
        self.0.borrow_mut().as_mut().unwrap().add_membership(g)
    }
}

fn kernel() -> FakeKernel {
    module_kernel(Rc::new(RefCell::new(GlobalConfig::DEFAULT)))
}

fn last(k: &FakeKernel) -> &Request {
    k.requests.last().unwrap()
}

// ---- names ----------------------------------------------------------------

#[test]
fn counter_table_covers_every_stats_attribute_once() {
    let kinds: Vec<u16> = output::COUNTERS.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, (1..=stats_attr::MAX).collect::<Vec<_>>());
}

#[test]
fn counter_names_are_core_field_names() {
    // Counters' Debug output lists `field: value`; each value identifies the
    // attribute (see `counters()`), so the field of attribute k must carry
    // our name for k.
    let mut c = Counters::default();
    for k in 1..=stats_attr::MAX {
        *c.get_mut(k).unwrap() = u64::from(k);
    }
    let dbg = format!("{c:?}");
    let body = dbg.trim_start_matches("Counters {").trim_end_matches('}');
    let mut fields = 0;
    for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (field, v) = pair.split_once(": ").unwrap();
        let k: u16 = v.parse().unwrap();
        let info = output::COUNTERS.iter().find(|i| i.kind == k).unwrap();
        assert_eq!(info.name, field, "attribute {k}");
        fields += 1;
    }
    assert_eq!(fields, output::COUNTERS.len());
}

#[test]
fn counter_names_match_yaml_spec_if_present() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../Documentation/netlink/specs/ipsec_rs.yaml"
    );
    let Ok(yaml) = std::fs::read_to_string(path) else {
        eprintln!("{path} not found; skipping");
        return;
    };
    // The `stats` attribute set runs from its `name: stats` to the next set
    // (or `operations:`); its attribute names, in order, must be ours in
    // kebab case.
    let start = yaml.find("name: stats\n").expect("stats attribute set");
    let end = [
        yaml[start..].find("\n  -\n    name: "),
        yaml[start..].find("\noperations:"),
    ]
    .into_iter()
    .flatten()
    .min()
    .map_or(yaml.len(), |e| start + e);
    let names: Vec<&str> = yaml[start..end]
        .lines()
        .skip(1)
        .filter_map(|l| l.trim().strip_prefix("name: "))
        .collect();
    let ours: Vec<String> = output::COUNTERS
        .iter()
        .map(|i| i.name.replace('_', "-"))
        .collect();
    assert_eq!(names, ours);
}

// ---- request bytes -------------------------------------------------------

#[test]
fn stats_request_bytes() {
    let (code, _, _, k) = run_with(kernel(), &["stats", "--json"]);
    assert_eq!(code, 0);
    let r = last(&k);
    let mut want = Vec::new();
    want.extend_from_slice(&20u32.to_ne_bytes());
    want.extend_from_slice(&FAMILY_ID.to_ne_bytes());
    want.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    want.extend_from_slice(&r.hdr.seq.to_ne_bytes());
    want.extend_from_slice(&0u32.to_ne_bytes());
    want.extend_from_slice(&[cmd::GET_STATS, nl::FAMILY_VERSION, 0, 0]);
    assert_eq!(r.bytes, want);
}

#[test]
fn set_global_request_bytes() {
    let (code, out, err, k) = run_with(
        kernel(),
        &[
            "set",
            "global",
            "--replay-window",
            "1024",
            "--df-mode",
            "set",
            "--prefrag",
            "on",
            "--invalid-spi",
            "off",
        ],
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let r = last(&k);
    assert_eq!(r.msg.cmd, cmd::SET_CONFIG);
    let want = [
        attr(nl::config_attr::INVALID_SPI_ENABLE, &[0]),
        attr(nl::config_attr::REPLAY_WINDOW, &1024u32.to_ne_bytes()),
        attr(nl::config_attr::DF_MODE, &[2]),
        attr(nl::config_attr::PREFRAG, &[1]),
    ]
    .concat();
    assert_eq!(r.msg.attrs, want);
}

#[test]
fn set_global_replay_off_and_limits_bytes() {
    let (code, _, _, k) = run_with(
        kernel(),
        &[
            "set",
            "global",
            "--replay",
            "off",
            "--flow-rate",
            "2",
            "--log-interval-ms",
            "1000",
        ],
    );
    assert_eq!(code, 0);
    let want = [
        attr(nl::config_attr::FLOW_RATE, &2u32.to_ne_bytes()),
        attr(nl::config_attr::LOG_INTERVAL_MS, &1000u32.to_ne_bytes()),
        attr(nl::config_attr::REPLAY_DISABLED, &[1]),
    ]
    .concat();
    assert_eq!(last(&k).msg.attrs, want);
}

#[test]
fn set_sa_request_bytes_and_permission() {
    let (code, _, err, k) = run_with(
        kernel(),
        &[
            "set",
            "sa",
            "10.0.0.2",
            "0x1000",
            "--replay-window",
            "off",
            "--prefrag",
            "off",
        ],
    );
    let want = [
        attr(nl::sa_attr::FAMILY, &2u16.to_ne_bytes()),
        attr(nl::sa_attr::DADDR, &[10, 0, 0, 2]),
        attr(nl::sa_attr::SPI, &0x1000u32.to_ne_bytes()),
        attr(nl::sa_attr::PROTO, &[50]),
        attr(nl::sa_attr::REPLAY_DISABLED, &[1]),
        attr(nl::sa_attr::PREFRAG, &[2]),
    ]
    .concat();
    assert_eq!(last(&k).msg.cmd, cmd::SA_SET);
    assert_eq!(last(&k).msg.attrs, want);
    // The fake module refuses SA_SET with EPERM.
    assert_eq!(code, exit::PERMISSION);
    assert!(err.contains("CAP_NET_ADMIN"), "{err}");
}

#[test]
fn set_if_request_bytes() {
    let (code, _, _, k) = run_with(kernel(), &["set", "if", "veth0", "--df-mode", "copy"]);
    assert_eq!(code, 0);
    let want = [
        attr(nl::if_attr::IFINDEX, &3u32.to_ne_bytes()),
        attr(nl::if_attr::DF_MODE, &[3]),
    ]
    .concat();
    assert_eq!(last(&k).msg.cmd, cmd::IF_SET);
    assert_eq!(last(&k).msg.attrs, want);
}

#[test]
fn dumps_use_dump_flag() {
    let (code, _, _, k) = run_with(kernel(), &["show", "sa"]);
    assert_eq!(code, 0);
    assert_eq!(last(&k).hdr.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
    assert!(last(&k).msg.attrs.is_empty());
    let (_, _, _, k) = run_with(kernel(), &["show", "if"]);
    assert_eq!(last(&k).hdr.flags & NLM_F_DUMP, NLM_F_DUMP);
    let (_, _, _, k) = run_with(kernel(), &["show", "if", "veth0"]);
    assert_eq!(last(&k).hdr.flags & NLM_F_DUMP, 0);
    assert_eq!(
        last(&k).msg.attrs,
        attr(nl::if_attr::IFINDEX, &3u32.to_ne_bytes())
    );
}

// ---- validation: nothing is sent, exit 1 -----------------------------------

#[test]
fn validation_errors_exit_1_without_talking_to_the_kernel() {
    for args in [
        &["set", "global", "--replay-window", "16"][..],
        &["set", "global", "--flow-table-size", "8"],
        &["set", "global", "--log-interval-ms", "0"],
        &["set", "global", "--flow-burst", "0"],
        &["set", "global"],
        &["set", "sa", "10.0.0.2", "5", "--replay-window", "2000000"],
        &["set", "if", "nosuchdev", "--df-mode", "set"],
    ] {
        let (code, _, err, k) = run_with(kernel(), args);
        assert_eq!(code, exit::USAGE, "{args:?}: {err}");
        assert!(k.requests.is_empty(), "{args:?} sent a request");
    }
    let (_, _, err, _) = run_with(kernel(), &["set", "global", "--replay-window", "16"]);
    assert_eq!(err, "invalid setting: replay window must be 32..1048576");
}

#[test]
fn clap_rejects_bad_arguments() {
    for args in [
        &[
            "ipsec-rs",
            "set",
            "global",
            "--replay-window",
            "64",
            "--replay",
            "off",
        ][..],
        &["ipsec-rs", "set", "sa", "10.0.0.1", "0"],
        &["ipsec-rs", "set", "sa", "10.0.0.1", "0xzz"],
        &["ipsec-rs", "set", "sa", "nonsense", "1"],
        &[
            "ipsec-rs",
            "set",
            "sa",
            "10.0.0.1",
            "1",
            "--replay-window",
            "many",
        ],
        &["ipsec-rs", "set", "global", "--df-mode", "sometimes"],
        &["ipsec-rs", "monitor", "--count", "0"],
        &["ipsec-rs", "show", "sa", "10.0.0.1"],
    ] {
        assert!(Cli::try_parse_from(args).is_err(), "{args:?} parsed");
    }
    assert!(Cli::try_parse_from(["ipsec-rs", "set", "global", "--prefrag", "enabled"]).is_ok());
}

// ---- kernel errors ---------------------------------------------------------

#[test]
fn module_not_loaded_exit_2() {
    let (code, _, err, _) = run_with(FakeKernel::without_family(), &["stats", "--json"]);
    assert_eq!(code, exit::NOT_LOADED);
    assert!(err.contains("not loaded"), "{err}");
}

#[test]
fn extack_message_shown_verbatim_exit_4() {
    // The fake module answers ENOENT with an extended-ACK message.
    let (code, _, err, _) = run_with(kernel(), &["show", "sa", "10.9.9.9", "99"]);
    assert_eq!(code, exit::KERNEL);
    assert_eq!(
        err,
        "kernel: no such SA (No such file or directory (os error 2))"
    );
}

#[test]
fn error_codes_from_errno() {
    let e = |errno| {
        AppError::Netlink(ipsec_rs_genl::Error::Kernel {
            errno,
            msg: None,
            offset: None,
        })
    };
    assert_eq!(e(libc::EPERM).exit_code(), exit::PERMISSION);
    assert_eq!(e(libc::EACCES).exit_code(), exit::PERMISSION);
    assert_eq!(e(libc::EINVAL).exit_code(), exit::KERNEL);
    assert!(e(libc::EOPNOTSUPP)
        .message()
        .contains("does not implement this command"));
    let io = AppError::Netlink(std::io::Error::from_raw_os_error(libc::EPERM).into());
    assert_eq!(io.exit_code(), exit::PERMISSION);
}

#[test]
fn monitor_join_needs_permission() {
    let mut k = kernel();
    k.membership_errno = Some(libc::EPERM);
    let (code, _, err, _) = run_with(k, &["monitor", "--count", "1"]);
    assert_eq!(code, exit::PERMISSION);
    assert!(err.contains("CAP_NET_ADMIN"));
}

// ---- reply decoding and output ----------------------------------------------

#[test]
fn stats_json_snapshot() {
    let (code, out, _, _) = run_with(kernel(), &["stats", "--json"]);
    assert_eq!(code, 0);
    // The names are the tool's interface: the first 27 are pinned here, in
    // order; counters added later follow them (they cannot be renumbered).
    assert!(
        out.starts_with(concat!(
            r#"{"esp_v4":1001,"esp_v6":2002,"udp_encap_v4":3003,"udp_encap_v6":4004,"#,
            r#""invalid_spi_v4":5005,"invalid_spi_v6":6006,"events_sent":7007,"#,
            r#""suppressed_flow":8008,"suppressed_global":9009,"flows_evicted":10010,"#,
            r#""decap_ok":11011,"auth_failed":12012,"replay_dropped":13013,"#,
            r#""replay_too_old":14014,"passed_to_xfrm":15015,"nat_keepalive":16016,"#,
            r#""ike_passed":17017,"malformed":18018,"reserved_spi":19019,"#,
            r#""frag_before_enc":20020,"frag_after_enc":21021,"df_dropped":1099511627776,"#,
            r#""out_errors":23023,"bad_padding":24024,"sa_unusable":25025,"rx_errors":26026,"bad_inner":27027"#,
        )),
        "{out}"
    );
    assert!(out.ends_with("}\n"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_object().unwrap().len(), usize::from(stats_attr::MAX));
}

#[test]
fn stats_table_aligned() {
    let (code, out, _, _) = run_with(kernel(), &["stats"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("    esp_v4                      1001  ESP packets, IPv4\n"),
        "{out}"
    );
    assert!(
        out.contains("    df_dropped         1099511627776  "),
        "{out}"
    );
    assert!(out.contains("Invalid SPI:"));
}

#[test]
fn show_global_json_snapshot() {
    let (code, out, _, _) = run_with(kernel(), &["show", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        concat!(
            r#"{"invalid_spi_enable":true,"flow_rate":1,"flow_burst":1,"global_rate":600,"#,
            r#""global_burst":60,"flow_table_size":4096,"log_interval_ms":60000,"#,
            r#""flow_idle_timeout_ms":120000,"replay_window":64,"replay_disabled":false,"#,
            r#""df_mode":"copy","prefrag":"disabled","rx_enable":false,"#,
            r#""natt_accounting":false}"#,
            "\n"
        )
    );
}

#[test]
fn set_then_show_roundtrip() {
    let cfg = Rc::new(RefCell::new(GlobalConfig::DEFAULT));
    let (code, ..) = run_with(
        module_kernel(cfg.clone()),
        &["set", "global", "--replay-window", "4096"],
    );
    assert_eq!(code, 0);
    assert_eq!(cfg.borrow().replay_window, 4096);
    let (_, out, _, _) = run_with(module_kernel(cfg), &["show", "global"]);
    assert!(
        out.contains("anti-replay        window 4096 packets"),
        "{out}"
    );
}

#[test]
fn show_sas() {
    let (code, out, _, _) = run_with(kernel(), &["show", "sas"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("SA 192.0.2.1 -> 192.0.2.2 spi 0x00002000(8192) tunnel rfc4106(gcm(aes))"),
        "{out}"
    );
    assert!(
        out.contains("#replay failures: 7 (replayed 7, too old 0)"),
        "{out}"
    );
    assert!(out.contains("last packet: 1.500 s ago"), "{out}");
    assert!(out.contains("decapsulated by: XFRM (algorithm)"), "{out}");
    // Filters: by SPI, by peer (either end).
    let (_, out, _, _) = run_with(kernel(), &["show", "sas", "--spi", "0x2000", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["replayed"], 7);
    assert_eq!(v[0]["handler"], "module");
    let (_, out, _, _) = run_with(
        kernel(),
        &["show", "sas", "--peer", "198.51.100.7", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["handler"], "algorithm");
    assert_eq!(v[0]["decap_ok"], serde_json::Value::Null);
    let (_, out, _, _) = run_with(kernel(), &["show", "sas", "--peer", "192.0.2.1", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn prometheus_output() {
    let (code, out, _, _) = run_with(kernel(), &["show", "sas", "--prometheus"]);
    assert_eq!(code, 0);
    std::fs::write(std::env::temp_dir().join("ipsec-rs-sas.prom"), &out).unwrap();
    assert!(
        out.contains("# TYPE ipsec_rs_sa_replayed_total counter\n"),
        "{out}"
    );
    assert!(
        out.contains(
            r#"ipsec_rs_sa_replayed_total{saddr="192.0.2.1",daddr="192.0.2.2",spi="0x00002000"} 7"#
        ),
        "{out}"
    );
    assert!(out.contains(r#"handler="algorithm"} 1"#), "{out}");
    assert!(
        out.contains(
            r#"ipsec_rs_sa_idle_seconds{saddr="192.0.2.1",daddr="192.0.2.2",spi="0x00001000"} 1.5"#
        ),
        "{out}"
    );
    // SAs XFRM decapsulates have no module counters.
    assert!(
        !out.contains(r#"ipsec_rs_sa_decap_total{saddr="192.0.2.1",daddr="198.51.100.7""#),
        "{out}"
    );
    let (code, out, _, _) = run_with(kernel(), &["stats", "--prometheus"]);
    assert_eq!(code, 0);
    std::fs::write(std::env::temp_dir().join("ipsec-rs-stats.prom"), &out).unwrap();
    assert!(
        out.contains("# TYPE ipsec_rs_esp_v4_total counter\nipsec_rs_esp_v4_total "),
        "{out}"
    );
    assert_eq!(out.matches("# HELP ").count(), nl::COUNTERS.len());
}

#[test]
fn show_sa_json() {
    let (code, out, _, _) = run_with(kernel(), &["show", "sa", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        concat!(
            r#"[{"family":"ipv4","daddr":"10.0.0.2","spi":4096,"proto":50,"replay_window":128,"#,
            r#""replay_disabled":false,"df_mode":"set","prefrag":null},"#,
            r#"{"family":"ipv6","daddr":"fefe:fefe:fefe:fefe:fefe:fefe:fefe:fefe","spi":7,"#,
            r#""proto":50,"replay_window":null,"replay_disabled":true,"df_mode":null,"#,
            r#""prefrag":"enabled"}]"#,
            "\n"
        )
    );
    let (code, out, _, k) = run_with(kernel(), &["show", "sa", "10.0.0.2", "4096", "--json"]);
    assert_eq!(code, 0);
    assert!(out.starts_with(r#"{"family":"ipv4""#), "{out}");
    assert_eq!(
        last(&k).msg.attrs,
        enc(|b| SaConfig {
            replay: None,
            frag: FragSettings::default(),
            ..sa()
        }
        .encode(b))
    );
}

#[test]
fn show_if_json_and_table() {
    let (_, out, _, _) = run_with(kernel(), &["show", "if", "veth0", "--json"]);
    assert_eq!(
        out,
        "{\"ifindex\":3,\"ifname\":\"veth0\",\"df_mode\":\"clear\",\"prefrag\":null}\n"
    );
    let (_, out, _, _) = run_with(kernel(), &["show", "if"]);
    assert!(
        out.contains("veth0                3        clear    inherit"),
        "{out}"
    );
}

#[test]
fn event_json_snapshot() {
    assert_eq!(
        output::event_json(&event_v4(), &names),
        concat!(
            r#"{"event":"invalid_spi","family":"ipv4","saddr":"192.0.2.1","daddr":"192.0.2.2","#,
            r#""spi":3735928559,"proto":50,"encap_sport":null,"encap_dport":null,"seq":77,"#,
            r#""ifindex":3,"ifname":"veth0","netns_cookie":4660,"suppressed":12,"timestamp_ns":99}"#
        )
    );
    assert_eq!(
        output::event_json(&event_v6_encap(), &names),
        concat!(
            r#"{"event":"invalid_spi","family":"ipv6","saddr":"2001:db8::1","daddr":"2001:db8::2","#,
            r#""spi":256,"proto":17,"encap_sport":4500,"encap_dport":4500,"seq":1,"#,
            r#""ifindex":42,"ifname":null,"netns_cookie":1,"suppressed":0,"timestamp_ns":5}"#
        )
    );
}

#[test]
fn event_line_like_the_guide() {
    assert_eq!(
        output::event_line(&event_v4(), &names),
        "%CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for \
         destaddr=192.0.2.2, prot=50, spi=0xDEADBEEF(3735928559), srcaddr=192.0.2.1, \
         seq=77, if=veth0(3), netns=0x1234, suppressed=12"
    );
    assert_eq!(
        output::event_line(&event_v6_encap(), &names),
        "%CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for \
         destaddr=2001:db8::2, prot=50, spi=0x100(256), srcaddr=2001:db8::1, \
         encap=udp 4500->4500, seq=1, ifindex=42, netns=0x1, suppressed=0"
    );
}

#[test]
fn monitor_decodes_events_counts_overruns_and_stops() {
    let mut k = kernel();
    k.push_event(cmd::EVENT_INVALID_SPI, 1, &enc(|b| event_v4().encode(b)));
    k.push_overrun();
    k.push_event(cmd::GET_STATS, 1, &[]); // not an event: skipped
    k.push_event(cmd::EVENT_INVALID_SPI, 1, &[1, 2]); // undecodable: skipped
    k.push_event(
        cmd::EVENT_INVALID_SPI,
        1,
        &enc(|b| event_v6_encap().encode(b)),
    );
    k.push_event(cmd::EVENT_INVALID_SPI, 1, &enc(|b| event_v4().encode(b)));
    let (code, out, err, k) = run_with(k, &["monitor", "--json", "--count", "2"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], output::event_json(&event_v4(), &names));
    assert_eq!(lines[1], output::event_json(&event_v6_encap(), &names));
    assert_eq!(k.joined, vec![GROUP_ID]);
}

#[test]
fn monitor_timeout() {
    // The fake kernel reports a timeout once its queue is empty.
    let (code, out, _, _) = run_with(kernel(), &["monitor", "--timeout", "0.01"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let mut k = kernel();
    k.push_event(cmd::EVENT_INVALID_SPI, 1, &enc(|b| event_v4().encode(b)));
    let (code, out, err, _) = run_with(k, &["monitor", "--count", "3", "--timeout", "0.01"]);
    assert_eq!(code, exit::TIMEOUT);
    assert_eq!(out.lines().count(), 1);
    assert_eq!(err, "timed out after 1 of 3 events");
}

#[test]
fn event_fixture_decodes_with_core() {
    // The tool decodes with Unknown::Skip: an attribute from a newer module is ignored.
    let mut b = enc(|b| event_v4().encode(b));
    b.extend_from_slice(&attr(nl::event_attr::MAX + 1, &[0; 4]));
    assert_eq!(InvalidSpiEvent::decode(&b, Unknown::Skip), Ok(event_v4()));
}

#[test]
fn kernel_policy_error_names_the_attribute() {
    // SET_CONFIG with rx-enable then replay-window; the kernel's policy
    // points at the second attribute (12 bytes after the first, which
    // starts right after nlmsghdr + genlmsghdr).
    let mut buf = [0u8; 64];
    let mut w = nl::AttrWriter::new(&mut buf);
    w.put_u8(nl::config_attr::RX_ENABLE, 1).unwrap();
    w.put_u32(nl::config_attr::REPLAY_WINDOW, 16).unwrap();
    let n = w.len();
    let e = ipsec_rs_genl::Error::Kernel {
        errno: libc::ERANGE,
        msg: Some("integer out of range".into()),
        offset: Some(20 + 8),
    };
    let named = crate::proto::name_bad_attribute(e, cmd::SET_CONFIG, &buf[..n]);
    let msg = AppError::Netlink(named).message();
    assert!(
        msg.starts_with("kernel: integer out of range (attribute config/replay-window)"),
        "{msg}"
    );
}
