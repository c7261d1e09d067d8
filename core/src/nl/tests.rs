//! Tests across the whole ABI: the YAML spec against the tables and messages, and every
//! decoder on arbitrary bytes; and the helpers the files' own tests share.

use super::super::frag::{DfMode, PreFrag};
use super::*;

/// Encodes with `f`, checking that every shorter buffer fails cleanly.
pub(super) fn enc<F: Fn(&mut [u8]) -> Result<usize, NoSpace>>(f: F) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = f(&mut buf).unwrap();
    // Every shorter buffer fails cleanly.
    for short in 0..n {
        let mut b = vec![0u8; short];
        assert_eq!(f(&mut b), Err(NoSpace), "len {short}");
    }
    buf.truncate(n);
    buf
}

/// One attribute of type `kind` carrying `payload`, padded.
pub(super) fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 4 + payload.len() + 3];
    let mut w = AttrWriter::new(&mut b);
    w.put(kind, payload).unwrap();
    let n = w.len();
    b.truncate(n);
    b
}

/// The YAML spec, read with a tiny line parser (its layout is regular: block lists with
/// `-` on their own line, `name:`/`value:` keys at fixed indents).
#[derive(Default)]
struct YamlSpec {
    family: String,
    attrs: Vec<YamlAttr>,
    /// (operation, value)
    ops: Vec<(String, u8)>,
    /// The same operations' set, flags and dump, in order.
    op_details: Vec<YamlOp>,
    mcgrps: Vec<String>,
    /// (enum name, value-start, entries)
    enums: Vec<(String, u8, Vec<String>)>,
}

/// One operation, as the spec gives it.
#[derive(Default)]
struct YamlOp {
    name: String,
    set: String,
    admin: bool,
    dump: bool,
}

/// One attribute of an attribute set, as the spec gives it.
#[derive(Default)]
struct YamlAttr {
    set: String,
    name: String,
    value: u16,
    ty: String,
    /// `checks:` keys and values (`min`, `max`, `min-len`, `max-len`).
    checks: Vec<(String, u64)>,
    /// `enum:` name.
    en: Option<String>,
}

/// Where the line parser is: the top-level section, whether inside an attribute's
/// `checks:`, and the attribute set and operation being read.
#[derive(Default)]
struct YamlCursor {
    section: &'static str,
    in_checks: bool,
    set: String,
    name: String,
}

fn parse_yaml() -> YamlSpec {
    let text = include_str!("../../../Documentation/netlink/specs/ipsec_rs.yaml");
    let mut spec = YamlSpec::default();
    let mut at = YamlCursor::default();
    for line in text.lines() {
        spec.read_line(&mut at, line);
    }
    spec
}

impl YamlSpec {
    fn read_line(&mut self, at: &mut YamlCursor, line: &str) {
        if !line.starts_with(' ') && line.ends_with(':') {
            at.section = match line {
                "definitions:" => "definitions",
                "attribute-sets:" => "attribute-sets",
                "operations:" => "operations",
                "mcast-groups:" => "mcast-groups",
                _ => "",
            };
            return;
        }
        let indent = line.len() - line.trim_start().len();
        if indent <= 8 {
            at.in_checks = line.trim() == "checks:";
        }
        if at.section == "operations" && indent == 6 && line.trim() == "dump:" {
            self.op_details.last_mut().unwrap().dump = true;
        }
        let Some((k, v)) = line.trim().split_once(": ") else {
            return;
        };
        match at.section {
            "attribute-sets" => self.attr_key(at, indent, k, v),
            "operations" => self.op_key(at, indent, k, v),
            section => self.other_key(section, indent, k, v),
        }
    }

    /// A key of `attribute-sets`.
    fn attr_key(&mut self, at: &mut YamlCursor, indent: usize, k: &str, v: &str) {
        match (indent, k) {
            (4, "name") => at.set = v.to_string(),
            (8, "name") => self.attrs.push(YamlAttr {
                set: at.set.clone(),
                name: v.to_string(),
                ..Default::default()
            }),
            (8, "value") => self.attrs.last_mut().unwrap().value = v.parse().unwrap(),
            (8, "type") => self.attrs.last_mut().unwrap().ty = v.to_string(),
            (8, "enum") => self.attrs.last_mut().unwrap().en = Some(v.to_string()),
            (10, _) if at.in_checks => self
                .attrs
                .last_mut()
                .unwrap()
                .checks
                .push((k.to_string(), v.parse().unwrap())),
            _ => {}
        }
    }

    /// A key of `operations`.
    fn op_key(&mut self, at: &mut YamlCursor, indent: usize, k: &str, v: &str) {
        match (indent, k) {
            (6, "name") => at.name = v.to_string(),
            (6, "value") => {
                self.ops.push((at.name.clone(), v.parse().unwrap()));
                self.op_details.push(YamlOp {
                    name: at.name.clone(),
                    ..Default::default()
                });
            }
            (6, "attribute-set") => self.op_details.last_mut().unwrap().set = v.to_string(),
            (6, "flags") => self.op_details.last_mut().unwrap().admin = v.contains("admin-perm"),
            _ => {}
        }
    }

    /// A key of the top level, `definitions` or `mcast-groups`.
    fn other_key(&mut self, section: &str, indent: usize, k: &str, v: &str) {
        match (section, indent, k) {
            ("", 0, "name") => self.family = v.to_string(),
            ("definitions", 4, "name") => self.enums.push((v.to_string(), 0, vec![])),
            ("definitions", 4, "value-start") => {
                self.enums.last_mut().unwrap().1 = v.parse().unwrap()
            }
            ("definitions", 4, "entries") => {
                self.enums.last_mut().unwrap().2 = v
                    .trim_matches(|c| c == '[' || c == ']' || c == ' ')
                    .split(", ")
                    .map(str::to_string)
                    .collect()
            }
            ("mcast-groups", 6, "name") => self.mcgrps.push(v.to_string()),
            _ => {}
        }
    }

    /// The values (or, for `binary`, the lengths) the spec accepts for `a`, whose
    /// payload type is `ty`: its `checks:`, its enum's range, or the type's.
    fn range(&self, a: &YamlAttr, ty: AttrType) -> (u64, u64) {
        let type_max = match ty {
            AttrType::U8 => u64::from(u8::MAX),
            AttrType::U16 => u64::from(u16::MAX),
            AttrType::U32 => u64::from(u32::MAX),
            AttrType::U64 | AttrType::Binary => u64::MAX,
        };
        let check = |k: &str| a.checks.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        if ty == AttrType::Binary {
            (
                check("min-len").unwrap_or(0),
                check("max-len").unwrap_or(u64::MAX),
            )
        } else if let Some(e) = &a.en {
            let (_, start, entries) = self.enums.iter().find(|(n, _, _)| n == e).unwrap();
            (
                u64::from(*start),
                u64::from(*start) + entries.len() as u64 - 1,
            )
        } else {
            (check("min").unwrap_or(0), check("max").unwrap_or(type_max))
        }
    }
}

/// Every attribute set of the core, as the kernel's policies and the tools see them.
const SETS: [(&str, &[AttrSpec]); 6] = [
    (event_attr::SET, event_attr::SPECS),
    (config_attr::SET, config_attr::SPECS),
    (sa_attr::SET, sa_attr::SPECS),
    (if_attr::SET, if_attr::SPECS),
    (stats_attr::SET, stats_attr::SPECS),
    (sa_state_attr::SET, sa_state_attr::SPECS),
];

#[test]
fn yaml_spec_matches_attribute_sets() {
    let y = parse_yaml();
    let ours: Vec<(&str, String, u16)> = SETS
        .iter()
        .flat_map(|(set, specs)| {
            specs
                .iter()
                .map(move |a| (*set, a.name.replace('_', "-"), a.kind))
        })
        .collect();
    let theirs: Vec<(&str, String, u16)> = y
        .attrs
        .iter()
        .map(|a| (a.set.as_str(), a.name.clone(), a.value))
        .collect();
    assert_eq!(ours, theirs);
    // Types and checks: what the kernel's policy enforces is what the spec says.
    let specs = SETS.iter().flat_map(|(_, specs)| specs.iter());
    for (specs, a) in specs.zip(&y.attrs) {
        let what = format!("{}/{}", a.set, a.name);
        let ty = match specs.ty {
            AttrType::U8 => "u8",
            AttrType::U16 => "u16",
            AttrType::U32 => "u32",
            AttrType::U64 => "u64",
            AttrType::Binary => "binary",
        };
        assert_eq!(a.ty, ty, "{what}");
        assert_eq!((specs.min, specs.max), y.range(a, specs.ty), "{what}");
    }
    // Every set is numbered 1..=MAX without gaps.
    for (set, specs) in SETS {
        let vals: Vec<u16> = specs.iter().map(|a| a.kind).collect();
        let max = vals.iter().copied().max().unwrap();
        assert_eq!(vals, (1..=max).collect::<Vec<_>>(), "{set}");
    }
    assert_eq!(event_attr::MAX, 12);
    assert_eq!(stats_attr::MAX as usize, COUNTERS.len());
}

#[test]
fn yaml_spec_matches_operations() {
    let y = parse_yaml();
    assert_eq!(y.family, FAMILY_NAME);
    assert_eq!(y.mcgrps, vec![MCGRP_EVENTS.to_string()]);
    assert_eq!(
        y.ops,
        vec![
            ("get-stats".to_string(), cmd::GET_STATS),
            ("get-config".to_string(), cmd::GET_CONFIG),
            ("set-config".to_string(), cmd::SET_CONFIG),
            ("sa-get".to_string(), cmd::SA_GET),
            ("sa-set".to_string(), cmd::SA_SET),
            ("if-get".to_string(), cmd::IF_GET),
            ("if-set".to_string(), cmd::IF_SET),
            ("event-invalid-spi".to_string(), cmd::EVENT_INVALID_SPI),
            ("sa-state-get".to_string(), cmd::SA_STATE_GET),
        ]
    );
    // Commands: name, attribute set, admin-perm and dump as the spec
    // says (the event, not a request, is last in the spec).
    let ours: Vec<(u8, &str, &str, bool, bool)> = COMMANDS
        .iter()
        .map(|c| (c.cmd, c.name, c.set, c.admin, c.dump))
        .collect();
    let theirs: Vec<(u8, &str, &str, bool, bool)> = y
        .ops
        .iter()
        .zip(&y.op_details)
        .filter(|((_, v), _)| *v != cmd::EVENT_INVALID_SPI)
        .map(|((_, v), d)| (*v, d.name.as_str(), d.set.as_str(), d.admin, d.dump))
        .collect();
    assert_eq!(ours, theirs);
    for c in COMMANDS {
        assert!(
            c.request.is_empty()
                || SETS
                    .iter()
                    .any(|(set, specs)| *set == c.set && core::ptr::eq(*specs, c.request))
        );
        assert_eq!(command(c.cmd).map(|s| s.cmd), Some(c.cmd));
    }
}

#[test]
fn yaml_spec_matches_enums() {
    let y = parse_yaml();
    let df = &y.enums[0];
    assert_eq!(df.0, "df-mode");
    for (k, m) in [DfMode::Clear, DfMode::Set, DfMode::Copy]
        .into_iter()
        .enumerate()
    {
        assert_eq!(df.1 + k as u8, df_mode_to_u8(m));
        assert_eq!(df.2[k], format!("{m:?}").to_lowercase());
    }
    let pf = &y.enums[1];
    assert_eq!(pf.0, "prefrag");
    for (k, p) in [PreFrag::Enabled, PreFrag::Disabled]
        .into_iter()
        .enumerate()
    {
        assert_eq!(pf.1 + k as u8, prefrag_to_u8(p));
        assert_eq!(pf.2[k], format!("{p:?}").to_lowercase());
    }
}

proptest::proptest! {
    #[test]
    fn decoders_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        for u in [Unknown::Reject, Unknown::Skip] {
            let _ = InvalidSpiEvent::decode(&data, u);
            let _ = GlobalConfig::decode(&data, u);
            let _ = GlobalConfig::DEFAULT.patched(&data, u);
            let _ = SaConfig::decode(&data, u);
            let _ = IfConfig::decode(&data, u);
            let _ = Counters::decode(&data, u);
            let _ = SaState::decode(&data, u);
            let _ = SaState::decode_selector(&data);
        }
        for a in Attrs::new(&data) {
            match a {
                Ok(a) => proptest::prop_assert!(a.offset + 4 + a.payload.len() <= data.len()),
                Err(e) => proptest::prop_assert!(e.offset.is_some()),
            }
        }
    }
}
