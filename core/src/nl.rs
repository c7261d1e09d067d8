//! The generic-netlink ABI of `ipsec_rs`, shared by the kernel module and userspace so the
//! two cannot disagree: family name, version, multicast group, command and attribute numbers,
//! typed messages, and the encoding of netlink attributes.
//!
//! `Documentation/netlink/specs/ipsec_rs.yaml` describes the same ABI for the kernel's `ynl`
//! tools; a unit test checks that every name and number there matches this file.
//!
//! # Attribute encoding
//!
//! An attribute is `struct nlattr { u16 nla_len; u16 nla_type; }` followed by the payload;
//! `nla_len` counts the 4-byte header and the payload, and the next attribute starts at the
//! next 4-byte boundary.  The top two bits of `nla_type` are flags ([`NLA_F_NESTED`],
//! [`NLA_F_NET_BYTEORDER`]) and are masked off when decoding.  Integers are in host byte
//! order, as everywhere in netlink.  Enumerations ([`DfMode`], [`PreFrag`]) are `u8` values
//! starting at 1 so that 0 is never a valid setting.
//!
//! Encoding writes into a caller-provided `&mut [u8]` and fails with [`NoSpace`] when it is
//! too small.  Decoding is strict: an attribute with a wrong size, a duplicate, an
//! out-of-range value or a missing mandatory attribute is an [`NlError`] whose message is
//! meant for the netlink extended ACK.  Unknown attribute types are rejected in requests
//! ([`Unknown::Reject`], what the kernel uses) and may be skipped when reading replies and
//! events ([`Unknown::Skip`], what userspace uses, so that an older tool keeps working with
//! a newer module).
//!
//! # Semantics of the set commands
//!
//! * [`cmd::SET_CONFIG`] patches the global configuration: absent attributes keep their
//!   value.  The result is validated as a whole before anything changes.
//! * [`cmd::SA_SET`] and [`cmd::IF_SET`] replace all overrides of one SA / interface: an
//!   absent setting means "inherit from the wider scope".
//!
//! Everything here is pure and reentrant.

use core::ffi::CStr;

use super::esp::{Family, IpAddr, UdpPorts, IPPROTO_ESP, IPPROTO_UDP};
use super::frag::{DfMode, FragSettings, PreFrag};
use super::ratelimit::RateConfig;
use super::replay::{ReplayMode, DEFAULT_WINDOW, MAX_WINDOW, MIN_WINDOW};

/// Generic-netlink family name.
pub const FAMILY_NAME: &str = "ipsec_rs";
/// Generic-netlink family version.
pub const FAMILY_VERSION: u8 = 1;
/// Multicast group carrying [`cmd::EVENT_INVALID_SPI`] notifications.
pub const MCGRP_EVENTS: &str = "events";

/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// Attribute type flag: the payload is a nested attribute stream.
pub const NLA_F_NESTED: u16 = 0x8000;
/// Attribute type flag: the payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Mask giving the attribute type without flags.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// Command numbers (`genlmsghdr.cmd`).
pub mod cmd {
    /// Read the counters; reply: the `stats` attribute set.
    pub const GET_STATS: u8 = 1;
    /// Read the global configuration; reply: the `config` attribute set.
    pub const GET_CONFIG: u8 = 2;
    /// Change the global configuration (patch); request: the `config` attribute set.
    pub const SET_CONFIG: u8 = 3;
    /// Read one SA's overrides (or dump all); request and reply: the `sa` attribute set.
    pub const SA_GET: u8 = 4;
    /// Replace one SA's overrides; request: the `sa` attribute set.
    pub const SA_SET: u8 = 5;
    /// Read one interface's overrides (or dump all); the `iface` attribute set.
    pub const IF_GET: u8 = 6;
    /// Replace one interface's overrides; request: the `iface` attribute set.
    pub const IF_SET: u8 = 7;
    /// Notification on the `events` group: an inbound ESP packet had an unknown SPI.
    pub const EVENT_INVALID_SPI: u8 = 8;
    /// Read one SA's state (or dump every ESP SA of the namespace): the `sa-state` set.
    pub const SA_STATE_GET: u8 = 9;
    /// Highest command number.
    pub const MAX: u8 = SA_STATE_GET;
}

/// A request command of the family: what its request may carry and who may
/// send it. The kernel builds each command's operation and attribute policy
/// from this table (`ipsec_rs/netlink.rs`); the userspace client names a
/// rejected attribute from it; a unit test checks it against the YAML spec's
/// `operations`.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Command number (`cmd`).
    pub cmd: u8,
    /// The YAML spec's name of the operation.
    pub name: &'static str,
    /// The attribute set of its request and reply.
    pub set: &'static str,
    /// The attributes its request may carry (empty: none).
    pub request: &'static [AttrSpec],
    /// Changes state: requires CAP_NET_ADMIN (`admin-perm`).
    pub admin: bool,
    /// Also answers dump requests.
    pub dump: bool,
}

/// Every request command, in number order.
pub const COMMANDS: [CommandSpec; 8] = [
    CommandSpec {
        cmd: cmd::GET_STATS,
        name: "get-stats",
        set: stats_attr::SET,
        request: &[],
        admin: false,
        dump: false,
    },
    CommandSpec {
        cmd: cmd::GET_CONFIG,
        name: "get-config",
        set: config_attr::SET,
        request: &[],
        admin: false,
        dump: false,
    },
    CommandSpec {
        cmd: cmd::SET_CONFIG,
        name: "set-config",
        set: config_attr::SET,
        request: config_attr::SPECS,
        admin: true,
        dump: false,
    },
    // The selector only, in a request; the decoder refuses the rest with its
    // own message (the policy admits the whole set).
    CommandSpec {
        cmd: cmd::SA_GET,
        name: "sa-get",
        set: sa_attr::SET,
        request: sa_attr::SPECS,
        admin: false,
        dump: true,
    },
    CommandSpec {
        cmd: cmd::SA_SET,
        name: "sa-set",
        set: sa_attr::SET,
        request: sa_attr::SPECS,
        admin: true,
        dump: false,
    },
    CommandSpec {
        cmd: cmd::IF_GET,
        name: "if-get",
        set: if_attr::SET,
        request: if_attr::SPECS,
        admin: false,
        dump: true,
    },
    CommandSpec {
        cmd: cmd::IF_SET,
        name: "if-set",
        set: if_attr::SET,
        request: if_attr::SPECS,
        admin: true,
        dump: false,
    },
    // The selector (family, daddr, spi) in a request for one SA; none in a dump.
    CommandSpec {
        cmd: cmd::SA_STATE_GET,
        name: "sa-state-get",
        set: sa_state_attr::SET,
        request: sa_state_attr::SPECS,
        admin: false,
        dump: true,
    },
];

/// The request command numbered `c`.
pub fn command(c: u8) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|s| s.cmd == c)
}

/// The type of an attribute's payload, as the YAML spec names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `binary`: `min`/`max` bound its length in bytes.
    Binary,
}

/// One attribute of an attribute set: number, YAML name, type and the values (or, for
/// `binary`, the lengths) a request may carry.  The kernel module builds its attribute
/// policies from these, and a unit test checks them against the YAML spec, so the spec,
/// the constants, the kernel's validation and the tools cannot drift apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrSpec {
    /// Attribute number.
    pub kind: u16,
    /// Name in the YAML spec.
    pub name: &'static str,
    /// Payload type.
    pub ty: AttrType,
    /// Smallest accepted value (or length, for `binary`).
    pub min: u64,
    /// Largest accepted value (or length, for `binary`).
    pub max: u64,
}

const fn max_of(mut v: &[u16]) -> u16 {
    let mut m = 0;
    while let [x, rest @ ..] = v {
        if *x > m {
            m = *x;
        }
        v = rest;
    }
    m
}

/// Defines an attribute set: one constant per attribute, `MAX`, and `SPECS`.
macro_rules! attr_set {
    ($(#[$m:meta])* $module:ident = $set:literal {
        $($(#[$am:meta])* $n:literal $name:ident $yname:literal: $ty:ident [$min:expr, $max:expr];)*
    }) => {
        $(#[$m])*
        pub mod $module {
            use super::{AttrSpec, AttrType};
            $($(#[$am])* pub const $name: u16 = $n;)*
            /// Highest attribute number.
            pub const MAX: u16 = super::max_of(&[$($n),*]);
            /// The set's name in the YAML spec.
            pub const SET: &str = $set;
            /// Every attribute of the set, in number order.
            pub const SPECS: &[AttrSpec] = &[
                $(AttrSpec { kind: $n, name: $yname, ty: AttrType::$ty, min: $min as u64, max: $max as u64 },)*
            ];
        }
    };
}

attr_set! {
    /// Attributes of [`cmd::EVENT_INVALID_SPI`] (attribute set `event`).
    event_attr = "event" {
        /// u16: `AF_INET` or `AF_INET6`.
        1 FAMILY "family": U16 [0, u16::MAX];
        /// binary, 4 or 16 bytes: outer source address.
        2 SADDR "saddr": Binary [4, 16];
        /// binary, 4 or 16 bytes: outer destination address.
        3 DADDR "daddr": Binary [4, 16];
        /// u32: the SPI that has no SA.
        4 SPI "spi": U32 [0, u32::MAX];
        /// u8: IP protocol that carried ESP: 50 (ESP) or 17 (UDP-encapsulated).
        5 PROTO "proto": U8 [0, u8::MAX];
        /// u16: UDP source port (only when encapsulated).
        6 ENCAP_SPORT "encap-sport": U16 [0, u16::MAX];
        /// u16: UDP destination port (only when encapsulated).
        7 ENCAP_DPORT "encap-dport": U16 [0, u16::MAX];
        /// u32: the ESP sequence number (low 32 bits as on the wire).
        8 SEQ "seq": U32 [0, u32::MAX];
        /// u32: receiving interface index.
        9 IFINDEX "ifindex": U32 [0, u32::MAX];
        /// u64: cookie of the receiving network namespace.
        10 NETNS_COOKIE "netns-cookie": U64 [0, u64::MAX];
        /// u32: misses of this flow suppressed since its previous event.
        11 SUPPRESSED "suppressed": U32 [0, u32::MAX];
        /// u64: monotonic time of the packet, nanoseconds.
        12 TIMESTAMP_NS "timestamp-ns": U64 [0, u64::MAX];
    }
}

attr_set! {
    /// Attributes of the global configuration (attribute set `config`).
    config_attr = "config" {
        /// u8 0/1: detect, count and report invalid SPIs.
        1 INVALID_SPI_ENABLE "invalid-spi-enable": U8 [0, 1];
        /// u32: events per log interval per flow.
        2 FLOW_RATE "flow-rate": U32 [0, u32::MAX];
        /// u32: events a flow may emit at once.
        3 FLOW_BURST "flow-burst": U32 [0, u32::MAX];
        /// u32: events per log interval for all flows together.
        4 GLOBAL_RATE "global-rate": U32 [0, u32::MAX];
        /// u32: events all flows together may emit at once.
        5 GLOBAL_BURST "global-burst": U32 [0, u32::MAX];
        /// u32: slots in the flow table.
        6 FLOW_TABLE_SIZE "flow-table-size": U32 [0, u32::MAX];
        /// u32: the rate-limit interval, milliseconds.
        7 LOG_INTERVAL_MS "log-interval-ms": U32 [0, u32::MAX];
        /// u32: idle time after which a flow's slot may be reused, milliseconds.
        8 FLOW_IDLE_TIMEOUT_MS "flow-idle-timeout-ms": U32 [0, u32::MAX];
        /// u32: default anti-replay window, packets.
        9 REPLAY_WINDOW "replay-window": U32 [super::MIN_WINDOW, super::MAX_WINDOW];
        /// u8 0/1: anti-replay disabled by default.
        10 REPLAY_DISABLED "replay-disabled": U8 [0, 1];
        /// u8 enum df-mode: global DF-bit mode.
        11 DF_MODE "df-mode": U8 [1, 3];
        /// u8 enum prefrag: global pre-fragmentation.
        12 PREFRAG "prefrag": U8 [1, 2];
        /// u8 0/1: the module's own inbound ESP path on (default off).
        13 RX_ENABLE "rx-enable": U8 [0, 1];
        /// u8 0/1: count IKE, NAT keepalives and malformed datagrams on the
        /// NAT-T port (a netfilter hook on every local packet; default off).
        14 NATT_ACCOUNTING "natt-accounting": U8 [0, 1];
    }
}

attr_set! {
    /// Attributes of per-SA settings (attribute set `sa`).  An SA is selected like XFRM
    /// does: family, destination address, SPI, protocol.
    sa_attr = "sa" {
        /// u16: `AF_INET` or `AF_INET6`.
        1 FAMILY "family": U16 [0, u16::MAX];
        /// binary, 4 or 16 bytes: SA destination address.
        2 DADDR "daddr": Binary [4, 16];
        /// u32: SPI.
        3 SPI "spi": U32 [0, u32::MAX];
        /// u8: IPsec protocol, 50 (ESP) only; optional in requests.
        4 PROTO "proto": U8 [0, u8::MAX];
        /// u32: anti-replay window override, packets.
        5 REPLAY_WINDOW "replay-window": U32 [super::MIN_WINDOW, super::MAX_WINDOW];
        /// u8 0/1: anti-replay disabled for this SA (exclusive with `REPLAY_WINDOW`).
        6 REPLAY_DISABLED "replay-disabled": U8 [0, 1];
        /// u8 enum df-mode: DF-bit mode override.
        7 DF_MODE "df-mode": U8 [1, 3];
        /// u8 enum prefrag: pre-fragmentation override.
        8 PREFRAG "prefrag": U8 [1, 2];
    }
}

attr_set! {
    /// Attributes of per-interface settings (attribute set `iface`).
    if_attr = "iface" {
        /// u32: interface index.
        1 IFINDEX "ifindex": U32 [0, u32::MAX];
        /// u8 enum df-mode: DF-bit mode override.
        2 DF_MODE "df-mode": U8 [1, 3];
        /// u8 enum prefrag: pre-fragmentation override.
        3 PREFRAG "prefrag": U8 [1, 2];
    }
}

/// Where a counter belongs when the tools print counters by topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Inbound ESP processing.
    Inbound,
    /// The NAT-T port's non-ESP traffic.
    NatT,
    /// Invalid-SPI detection, its rate limiter and its events.
    InvalidSpi,
    /// Outbound DF / pre-fragmentation.
    Outbound,
}

/// One counter: its `stats` attribute number, its name (the YAML name with `_`, also the
/// field of [`Counters`] and the tools' JSON key), its section and a one-line description
/// for the tools' tables (the YAML spec documents it in full).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterInfo {
    /// `stats` attribute number.
    pub kind: u16,
    /// Field, JSON key and (with `-`) YAML name.
    pub name: &'static str,
    /// Section of the tools' tables.
    pub section: Section,
    /// One-line description.
    pub what: &'static str,
}

/// Defines the counters: the `stats` attribute set, [`Counters`] and [`COUNTERS`].  A new
/// counter is one line here (plus its entry in the YAML spec, which a unit test checks, and
/// the code that bumps it).
macro_rules! counters {
    ($($n:literal $name:ident $field:ident $sec:ident $what:literal;)*) => {
        /// Attributes of the counters (attribute set `stats`); every one is a u64.
        pub mod stats_attr {
            use super::{AttrSpec, AttrType};
            $(#[doc = $what] pub const $name: u16 = $n;)*
            /// Highest attribute number.
            pub const MAX: u16 = super::max_of(&[$($n),*]);
            /// The set's name in the YAML spec.
            pub const SET: &str = "stats";
            /// Every attribute of the set, in number order (names with `_` where the YAML
            /// spec has `-`).
            pub const SPECS: &[AttrSpec] = &[
                $(AttrSpec { kind: $n, name: stringify!($field), ty: AttrType::U64, min: 0, max: u64::MAX },)*
            ];
        }

        /// The module's counters, one u64 per [`stats_attr`] attribute.  Values wrap.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $(#[doc = $what] pub $field: u64,)*
        }

        /// Every counter, in attribute order.
        pub const COUNTERS: &[CounterInfo] = &[
            $(CounterInfo { kind: $n, name: stringify!($field), section: Section::$sec, what: $what },)*
        ];

        impl Counters {
            /// The counter for attribute `kind`, if there is one.
            pub fn get_mut(&mut self, kind: u16) -> Option<&mut u64> {
                Some(match kind {
                    $($n => &mut self.$field,)*
                    _ => return None,
                })
            }

            /// The counter for attribute `kind` (0 for no such counter).
            pub fn get(&self, kind: u16) -> u64 {
                match kind {
                    $($n => self.$field,)*
                    _ => 0,
                }
            }
        }
    };
}

attr_set! {
    /// Attributes of one SA's state (attribute set `sa-state`): what the module keeps for
    /// an SA it decapsulates, or why it leaves the SA to XFRM.
    sa_state_attr = "sa-state" {
        /// u16: `AF_INET` or `AF_INET6`.
        1 FAMILY "family": U16 [0, u16::MAX];
        /// binary, 4 or 16 bytes: SA destination address.
        2 DADDR "daddr": Binary [4, 16];
        /// u32: SPI.
        3 SPI "spi": U32 [0, u32::MAX];
        /// binary, 4 or 16 bytes: SA source address.
        4 SADDR "saddr": Binary [4, 16];
        /// u8 enum sa-mode: the SA's mode.
        5 MODE "mode": U8 [0, 2];
        /// u16: UDP encapsulation type (2, ESP in UDP), 0 without.
        6 ENCAP "encap": U16 [0, u16::MAX];
        /// binary: the algorithm's name as XFRM has it (the AEAD, or the cipher and the
        /// authentication algorithm joined by '+').
        7 ALG "alg": Binary [0, 160];
        /// u8 0/1: extended sequence numbers.
        8 ESN "esn": U8 [0, 1];
        /// u8 enum sa-handler: who decapsulates the SA's packets, and why not the module.
        9 HANDLER "handler": U8 [0, 10];
        /// u32: the module's anti-replay window, packets; 0: disabled (module only).
        10 REPLAY_WINDOW "replay-window": U32 [0, u32::MAX];
        /// u64: the highest sequence number authenticated (module only).
        11 TOP_SEQ "top-seq": U64 [0, u64::MAX];
        /// u64: milliseconds since the module last decapsulated a packet of the SA
        /// (absent before the first).
        12 IDLE_MS "idle-ms": U64 [0, u64::MAX];
        /// u64: packets decapsulated.
        13 DECAP_OK "decap-ok": U64 [0, u64::MAX];
        /// u64: ICV verification failures.
        14 AUTH_FAILED "auth-failed": U64 [0, u64::MAX];
        /// u64: replays dropped (already seen).
        15 REPLAYED "replayed": U64 [0, u64::MAX];
        /// u64: packets dropped as left of the window.
        16 TOO_OLD "too-old": U64 [0, u64::MAX];
        /// u64: packets dropped for bad padding.
        17 BAD_PADDING "bad-padding": U64 [0, u64::MAX];
        /// u64: malformed packets dropped (too short, bad trailer, not IP inside).
        18 MALFORMED "malformed": U64 [0, u64::MAX];
        /// u32: the connection id of the SA's log lines.
        19 CONN_ID "conn-id": U32 [0, u32::MAX];
    }
}

counters! {
    1 ESP_V4 esp_v4 Inbound "ESP packets, IPv4";
    2 ESP_V6 esp_v6 Inbound "ESP packets, IPv6";
    3 UDP_ENCAP_V4 udp_encap_v4 Inbound "UDP-encapsulated ESP packets, IPv4";
    4 UDP_ENCAP_V6 udp_encap_v6 Inbound "UDP-encapsulated ESP packets, IPv6";
    5 INVALID_SPI_V4 invalid_spi_v4 InvalidSpi "dropped, no SA for the SPI, IPv4";
    6 INVALID_SPI_V6 invalid_spi_v6 InvalidSpi "dropped, no SA for the SPI, IPv6";
    7 EVENTS_SENT events_sent InvalidSpi "invalid-SPI events sent";
    8 SUPPRESSED_FLOW suppressed_flow InvalidSpi "events suppressed by the per-flow limit";
    9 SUPPRESSED_GLOBAL suppressed_global InvalidSpi "events suppressed by the global limit";
    10 FLOWS_EVICTED flows_evicted InvalidSpi "active flows evicted from the table";
    11 DECAP_OK decap_ok Inbound "#pkts decaps (decrypted, verified, handed back)";
    12 AUTH_FAILED auth_failed Inbound "#pkts verify failed (ICV)";
    13 REPLAY_DROPPED replay_dropped Inbound "#pkts replay failed (already seen)";
    14 REPLAY_TOO_OLD replay_too_old Inbound "#pkts replay failed (left of window)";
    15 PASSED_TO_XFRM passed_to_xfrm Inbound "left to XFRM (algorithm or mode not handled)";
    16 NAT_KEEPALIVE nat_keepalive NatT "NAT keepalives";
    17 IKE_PASSED ike_passed NatT "IKE (non-ESP marker) datagrams";
    18 MALFORMED malformed Inbound "malformed or truncated ESP";
    19 RESERVED_SPI reserved_spi Inbound "reserved SPI (1..255)";
    20 FRAG_BEFORE_ENC frag_before_enc Outbound "#pkts fragmented before encryption";
    21 FRAG_AFTER_ENC frag_after_enc Outbound "#pkts left to fragment after encryption";
    22 DF_DROPPED df_dropped Outbound "#pkts dropped, DF set (ICMP frag needed sent)";
    23 OUT_ERRORS out_errors Outbound "#pkts dropped, fragmentation or memory error";
    24 BAD_PADDING bad_padding Inbound "#pkts dropped, bad ESP padding";
    25 SA_UNUSABLE sa_unusable Inbound "#pkts dropped, SA deleted or expired";
    26 RX_ERRORS rx_errors Inbound "#pkts dropped, no memory or backlog full";
    27 BAD_INNER bad_inner Inbound "#pkts dropped, inner protocol wrong or dummy";
    28 EVENTS_UNHEARD events_unheard InvalidSpi "events sent while nobody listened";
    29 EVENTS_LOST events_lost InvalidSpi "events lost (no memory, listener's buffer full)";
    30 SA_NO_MEMORY sa_no_memory Inbound "new SAs' packets left to XFRM, no memory for their state";
    31 REENTRY_DROPPED reentry_dropped Inbound "#pkts decapsulated, then dropped re-entering the stack";
    32 ESP_GRO esp_gro Inbound "ESP packets taken inside GRO (also in esp_v4/esp_v6)";
    33 POLICY_DROPPED policy_dropped Inbound "#pkts dropped by a vti's inbound policy check";
}

/// Encoding ran out of buffer space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSpace;

/// A decoding or validation error, for the netlink extended ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlError {
    /// Human-readable reason.
    pub msg: &'static str,
    /// The same reason NUL-terminated, for the kernel's extended ACK (which keeps
    /// a pointer to a static C string).
    pub cmsg: &'static CStr,
    /// Byte offset of the offending attribute's header in the decoded buffer, if one is to
    /// blame (for `NL_SET_ERR_MSG_ATTR`-style pointers).
    pub offset: Option<usize>,
}

const fn c_to_str(c: &'static CStr) -> &'static str {
    match c.to_str() {
        Ok(s) => s,
        Err(_) => "invalid request",
    }
}

impl NlError {
    const fn new(msg: &'static CStr) -> Self {
        NlError {
            msg: c_to_str(msg),
            cmsg: msg,
            offset: None,
        }
    }
    const fn at(msg: &'static CStr, offset: usize) -> Self {
        NlError {
            msg: c_to_str(msg),
            cmsg: msg,
            offset: Some(offset),
        }
    }
}

/// What decoders do with attribute types they do not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// Fail with "unknown attribute" (requests, in the kernel).
    Reject,
    /// Ignore them (replies and events, in userspace).
    Skip,
}

const fn align4(n: usize) -> usize {
    // Callers pass at most 65535 + 4, no overflow.
    (n + 3) & !3
}

/// Writes attributes into a caller-provided buffer.
#[derive(Debug)]
pub struct AttrWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

/// An open nested attribute, closed by [`AttrWriter::nest_end`].
#[derive(Debug)]
#[must_use]
pub struct Nest {
    start: usize,
}

impl<'a> AttrWriter<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        AttrWriter { buf, len: 0 }
    }

    /// Bytes written so far (always a multiple of 4).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes an attribute header for `payload_len` bytes and returns the payload range.
    fn header(&mut self, kind: u16, payload_len: usize) -> Result<usize, NoSpace> {
        let nla_len = payload_len.checked_add(NLA_HDRLEN).ok_or(NoSpace)?;
        let nla_len16 = u16::try_from(nla_len).map_err(|_| NoSpace)?;
        let end = self.len.checked_add(align4(nla_len)).ok_or(NoSpace)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(NoSpace)?;
        dst.fill(0);
        let (hdr, _) = dst.split_at_mut(NLA_HDRLEN);
        let (l, t) = hdr.split_at_mut(2);
        l.copy_from_slice(&nla_len16.to_ne_bytes());
        t.copy_from_slice(&kind.to_ne_bytes());
        let payload_at = self.len + NLA_HDRLEN;
        self.len = end;
        Ok(payload_at)
    }

    /// Appends attribute `kind` with `payload`.
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> Result<(), NoSpace> {
        let at = self.header(kind, payload.len())?;
        let dst = self.buf.get_mut(at..at + payload.len()).ok_or(NoSpace)?;
        dst.copy_from_slice(payload);
        Ok(())
    }

    /// Appends a u8 attribute.
    pub fn put_u8(&mut self, kind: u16, v: u8) -> Result<(), NoSpace> {
        self.put(kind, &[v])
    }

    /// Appends a u16 attribute (host order).
    pub fn put_u16(&mut self, kind: u16, v: u16) -> Result<(), NoSpace> {
        self.put(kind, &v.to_ne_bytes())
    }

    /// Appends a u32 attribute (host order).
    pub fn put_u32(&mut self, kind: u16, v: u32) -> Result<(), NoSpace> {
        self.put(kind, &v.to_ne_bytes())
    }

    /// Appends a u64 attribute (host order).
    pub fn put_u64(&mut self, kind: u16, v: u64) -> Result<(), NoSpace> {
        self.put(kind, &v.to_ne_bytes())
    }

    /// Opens a nested attribute of type `kind` (the [`NLA_F_NESTED`] flag is added).
    pub fn nest_start(&mut self, kind: u16) -> Result<Nest, NoSpace> {
        let start = self.len;
        self.header(kind | NLA_F_NESTED, 0)?;
        Ok(Nest { start })
    }

    /// Closes a nested attribute, fixing its length.
    pub fn nest_end(&mut self, nest: Nest) -> Result<(), NoSpace> {
        let len = self.len.checked_sub(nest.start).ok_or(NoSpace)?;
        let len16 = u16::try_from(len).map_err(|_| NoSpace)?;
        let dst = self
            .buf
            .get_mut(nest.start..nest.start + 2)
            .ok_or(NoSpace)?;
        dst.copy_from_slice(&len16.to_ne_bytes());
        Ok(())
    }
}

/// One decoded attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// Type without flags.
    pub kind: u16,
    /// The flag bits of `nla_type` ([`NLA_F_NESTED`], [`NLA_F_NET_BYTEORDER`]).
    pub flags: u16,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// Offset of the attribute header in the buffer being iterated.
    pub offset: usize,
}

impl<'a> Attr<'a> {
    fn fixed<const N: usize>(&self) -> Result<[u8; N], NlError> {
        <[u8; N]>::try_from(self.payload)
            .map_err(|_| NlError::at(c"attribute has the wrong size", self.offset))
    }

    /// The payload as a u8.
    pub fn u8(&self) -> Result<u8, NlError> {
        self.fixed::<1>().map(|[b]| b)
    }

    /// The payload as a host-order u16.
    pub fn u16(&self) -> Result<u16, NlError> {
        self.fixed().map(u16::from_ne_bytes)
    }

    /// The payload as a host-order u32.
    pub fn u32(&self) -> Result<u32, NlError> {
        self.fixed().map(u32::from_ne_bytes)
    }

    /// The payload as a host-order u64.
    pub fn u64(&self) -> Result<u64, NlError> {
        self.fixed().map(u64::from_ne_bytes)
    }

    /// A u8 that must be 0 or 1.
    pub fn flag(&self) -> Result<bool, NlError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(NlError::at(
                c"boolean attribute must be 0 or 1",
                self.offset,
            )),
        }
    }

    /// The payload as a nested attribute stream.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload)
    }
}

/// Iterator over the attributes of a buffer.  Yields an error (and then stops) on a
/// malformed header.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    off: usize,
    failed: bool,
}

impl<'a> Attrs<'a> {
    /// Iterates over the attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Attrs {
            buf,
            off: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, NlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.off..)?;
        if rest.is_empty() {
            return None;
        }
        let off = self.off;
        let fail = |s: &mut Self, msg| {
            s.failed = true;
            Some(Err(NlError::at(msg, off)))
        };
        let (Some(&[l0, l1]), Some(&[t0, t1])) = (
            rest.get(0..2).and_then(|s| <&[u8; 2]>::try_from(s).ok()),
            rest.get(2..4).and_then(|s| <&[u8; 2]>::try_from(s).ok()),
        ) else {
            return fail(self, c"truncated attribute header");
        };
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        let ty = u16::from_ne_bytes([t0, t1]);
        if len < NLA_HDRLEN {
            return fail(self, c"attribute length below header size");
        }
        let Some(payload) = rest.get(NLA_HDRLEN..len) else {
            return fail(self, c"attribute extends past the message");
        };
        // The last attribute's padding may be missing.
        self.off = off + align4(len).min(rest.len());
        Some(Ok(Attr {
            kind: ty & NLA_TYPE_MASK,
            flags: ty & !NLA_TYPE_MASK,
            payload,
            offset: off,
        }))
    }
}

/// Walks `buf`, rejecting duplicates, types above `max` (unless skipped) and type 0, and
/// calls `f` for each known attribute.  Attribute offsets are relative to `buf`.
fn walk<'a>(
    buf: &'a [u8],
    max: u16,
    unknown: Unknown,
    mut f: impl FnMut(Attr<'a>) -> Result<(), NlError>,
) -> Result<(), NlError> {
    let mut seen: u64 = 0;
    for a in Attrs::new(buf) {
        let a = a?;
        if a.kind == 0 || a.kind > max {
            match unknown {
                Unknown::Reject => return Err(NlError::at(c"unknown attribute", a.offset)),
                Unknown::Skip => continue,
            }
        }
        // max < 64 for every set, so the shift is in range.
        let bit = 1u64 << (a.kind & 63);
        if seen & bit != 0 {
            return Err(NlError::at(c"duplicate attribute", a.offset));
        }
        seen |= bit;
        f(a)?;
    }
    Ok(())
}

/// Wire value of a [`DfMode`].
pub const fn df_mode_to_u8(m: DfMode) -> u8 {
    match m {
        DfMode::Clear => 1,
        DfMode::Set => 2,
        DfMode::Copy => 3,
    }
}

/// Wire value of a [`PreFrag`].
pub const fn prefrag_to_u8(p: PreFrag) -> u8 {
    match p {
        PreFrag::Enabled => 1,
        PreFrag::Disabled => 2,
    }
}

fn df_mode_attr(a: &Attr<'_>) -> Result<DfMode, NlError> {
    match a.u8()? {
        1 => Ok(DfMode::Clear),
        2 => Ok(DfMode::Set),
        3 => Ok(DfMode::Copy),
        _ => Err(NlError::at(
            c"DF mode must be clear(1), set(2) or copy(3)",
            a.offset,
        )),
    }
}

fn prefrag_attr(a: &Attr<'_>) -> Result<PreFrag, NlError> {
    match a.u8()? {
        1 => Ok(PreFrag::Enabled),
        2 => Ok(PreFrag::Disabled),
        _ => Err(NlError::at(
            c"pre-fragmentation must be enabled(1) or disabled(2)",
            a.offset,
        )),
    }
}

fn family_attr(a: &Attr<'_>) -> Result<Family, NlError> {
    Family::from_af(a.u16()?).ok_or(NlError::at(c"family must be AF_INET or AF_INET6", a.offset))
}

fn addr_attr(a: &Attr<'_>) -> Result<IpAddr, NlError> {
    IpAddr::from_slice(a.payload).ok_or(NlError::at(c"address must be 4 or 16 bytes", a.offset))
}

fn check_family(family: Family, addr: &IpAddr) -> Result<(), NlError> {
    if addr.family == family {
        Ok(())
    } else {
        Err(NlError::new(c"address length does not match the family"))
    }
}

/// The invalid-SPI notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidSpiEvent {
    /// Outer source address.
    pub saddr: IpAddr,
    /// Outer destination address (same family as `saddr`).
    pub daddr: IpAddr,
    /// The SPI without SA.
    pub spi: u32,
    /// UDP ports if the packet was UDP-encapsulated (then the protocol is UDP, else ESP).
    pub encap: Option<UdpPorts>,
    /// Sequence number from the ESP header.
    pub seq: u32,
    /// Receiving interface.
    pub ifindex: u32,
    /// Network namespace cookie.
    pub netns_cookie: u64,
    /// Misses of this flow suppressed since its previous event.
    pub suppressed: u32,
    /// Monotonic timestamp, nanoseconds.
    pub timestamp_ns: u64,
}

impl InvalidSpiEvent {
    /// The protocol attribute: 17 when encapsulated, 50 otherwise.
    pub fn proto(&self) -> u8 {
        if self.encap.is_some() {
            IPPROTO_UDP
        } else {
            IPPROTO_ESP
        }
    }

    /// Encodes the event's attributes; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        use event_attr::*;
        let mut w = AttrWriter::new(buf);
        w.put_u16(FAMILY, self.saddr.family.af())?;
        w.put(SADDR, self.saddr.as_slice())?;
        w.put(DADDR, self.daddr.as_slice())?;
        w.put_u32(SPI, self.spi)?;
        w.put_u8(PROTO, self.proto())?;
        if let Some(p) = self.encap {
            w.put_u16(ENCAP_SPORT, p.sport)?;
            w.put_u16(ENCAP_DPORT, p.dport)?;
        }
        w.put_u32(SEQ, self.seq)?;
        w.put_u32(IFINDEX, self.ifindex)?;
        w.put_u64(NETNS_COOKIE, self.netns_cookie)?;
        w.put_u32(SUPPRESSED, self.suppressed)?;
        w.put_u64(TIMESTAMP_NS, self.timestamp_ns)?;
        Ok(w.len())
    }

    /// Decodes an event.  Family, addresses, SPI and protocol are mandatory; the UDP ports
    /// must be both present exactly when the protocol is UDP; the rest default to 0.
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<Self, NlError> {
        use event_attr::*;
        let (mut family, mut saddr, mut daddr, mut spi, mut proto) = (None, None, None, None, None);
        let (mut sport, mut dport) = (None, None);
        let mut ev = InvalidSpiEvent {
            saddr: IpAddr::v4([0; 4]),
            daddr: IpAddr::v4([0; 4]),
            spi: 0,
            encap: None,
            seq: 0,
            ifindex: 0,
            netns_cookie: 0,
            suppressed: 0,
            timestamp_ns: 0,
        };
        walk(buf, MAX, unknown, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                SADDR => saddr = Some(addr_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                PROTO => proto = Some(a.u8()?),
                ENCAP_SPORT => sport = Some(a.u16()?),
                ENCAP_DPORT => dport = Some(a.u16()?),
                SEQ => ev.seq = a.u32()?,
                IFINDEX => ev.ifindex = a.u32()?,
                NETNS_COOKIE => ev.netns_cookie = a.u64()?,
                SUPPRESSED => ev.suppressed = a.u32()?,
                TIMESTAMP_NS => ev.timestamp_ns = a.u64()?,
                _ => {}
            }
            Ok(())
        })?;
        let (Some(family), Some(saddr), Some(daddr), Some(spi), Some(proto)) =
            (family, saddr, daddr, spi, proto)
        else {
            return Err(NlError::new(
                c"event needs family, saddr, daddr, spi and proto",
            ));
        };
        check_family(family, &saddr)?;
        check_family(family, &daddr)?;
        ev.encap = match (proto, sport, dport) {
            (IPPROTO_ESP, None, None) => None,
            (IPPROTO_UDP, Some(sport), Some(dport)) => Some(UdpPorts { sport, dport }),
            _ => {
                return Err(NlError::new(
                    c"encap ports must be present exactly when proto is UDP",
                ))
            }
        };
        ev.saddr = saddr;
        ev.daddr = daddr;
        ev.spi = spi;
        Ok(ev)
    }
}

/// The global configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalConfig {
    /// Detect, count and report invalid SPIs.
    pub invalid_spi_enable: bool,
    /// Events per log interval per flow (>= 1).
    pub flow_rate: u32,
    /// Per-flow burst (1..=[`super::ratelimit::MAX_BURST`]).
    pub flow_burst: u32,
    /// Events per log interval overall (>= 1).
    pub global_rate: u32,
    /// Global burst (1..=[`super::ratelimit::MAX_BURST`]).
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
        df_mode: super::frag::DEFAULT_DF_MODE,
        prefrag: super::frag::DEFAULT_PREFRAG,
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

/// Identifies an SA the way XFRM does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaSelector {
    /// Destination address (its family is the SA's family).
    pub daddr: IpAddr,
    /// SPI.
    pub spi: u32,
    /// IPsec protocol: 50.
    pub proto: u8,
}

/// An SA's mode, as the `sa-mode` enum numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaMode {
    /// Transport mode.
    Transport = 0,
    /// Tunnel mode.
    Tunnel = 1,
    /// Anything else (BEET, ...).
    Other = 2,
}

impl SaMode {
    fn from_u8(v: u8) -> Option<SaMode> {
        [SaMode::Transport, SaMode::Tunnel, SaMode::Other]
            .into_iter()
            .find(|m| *m as u8 == v)
    }

    /// Its name, as the YAML enum spells it.
    pub const fn name(self) -> &'static str {
        match self {
            SaMode::Transport => "transport",
            SaMode::Tunnel => "tunnel",
            SaMode::Other => "other",
        }
    }
}

/// Who decapsulates an SA's packets (the `sa-handler` enum): the module, or XFRM and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaHandler {
    /// The module's receive path.
    Module = 0,
    /// XFRM: the module has seen no packet of the SA yet (it takes an SA on its first).
    NotSeen = 1,
    /// XFRM: the module's receive path is off in this namespace.
    RxOff = 2,
    /// XFRM: a mode the module does not take (or ESP in UDP over IPv6 in transport mode).
    Mode = 3,
    /// XFRM: an algorithm or IV generator the module does not take.
    Algorithm = 4,
    /// XFRM: hardware offload.
    Offload = 5,
    /// XFRM: an XFRM interface's SA in transport mode (its tunnel-mode SAs are taken).
    XfrmInterface = 6,
    /// XFRM: an outbound SA.
    Direction = 7,
    /// XFRM: an encapsulation the module does not take.
    Encap = 8,
    /// XFRM: the module could not make its state (memory, or the namespace's SA limit).
    NoResources = 9,
    /// XFRM: the SA is no longer valid (expired, being deleted).
    Invalid = 10,
}

impl SaHandler {
    const ALL: [SaHandler; 11] = [
        SaHandler::Module,
        SaHandler::NotSeen,
        SaHandler::RxOff,
        SaHandler::Mode,
        SaHandler::Algorithm,
        SaHandler::Offload,
        SaHandler::XfrmInterface,
        SaHandler::Direction,
        SaHandler::Encap,
        SaHandler::NoResources,
        SaHandler::Invalid,
    ];

    fn from_u8(v: u8) -> Option<SaHandler> {
        Self::ALL.into_iter().find(|h| *h as u8 == v)
    }

    /// Its name, as the YAML enum spells it.
    pub const fn name(self) -> &'static str {
        match self {
            SaHandler::Module => "module",
            SaHandler::NotSeen => "not-seen",
            SaHandler::RxOff => "rx-off",
            SaHandler::Mode => "mode",
            SaHandler::Algorithm => "algorithm",
            SaHandler::Offload => "offload",
            SaHandler::XfrmInterface => "xfrm-interface",
            SaHandler::Direction => "direction",
            SaHandler::Encap => "encap",
            SaHandler::NoResources => "no-resources",
            SaHandler::Invalid => "invalid",
        }
    }
}

/// The per-SA counters of an SA the module decapsulates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaCounters {
    /// Packets decapsulated.
    pub decap_ok: u64,
    /// ICV verification failures.
    pub auth_failed: u64,
    /// Replays dropped.
    pub replayed: u64,
    /// Dropped as left of the window.
    pub too_old: u64,
    /// Dropped for bad padding.
    pub bad_padding: u64,
    /// Malformed, dropped.
    pub malformed: u64,
}

/// What the module keeps for an SA it decapsulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaModuleState {
    /// Anti-replay window in packets; 0: disabled.
    pub replay_window: u32,
    /// Highest sequence number authenticated.
    pub top_seq: u64,
    /// Milliseconds since the last packet decapsulated (`None` before the first).
    pub idle_ms: Option<u64>,
    /// Connection id of its log lines.
    pub conn_id: u32,
    /// Counters.
    pub counters: SaCounters,
}

/// Longest algorithm description carried (`alg`).
pub const MAX_ALG_LEN: usize = 160;

/// One SA's state (`SA_STATE_GET`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaState {
    /// Destination address and SPI (ESP).
    pub daddr: IpAddr,
    /// SPI.
    pub spi: u32,
    /// Source address.
    pub saddr: IpAddr,
    /// Mode.
    pub mode: SaMode,
    /// UDP encapsulation type, 0 without.
    pub encap: u16,
    /// The algorithm's name (`alg_len` bytes of `alg`).
    pub alg: [u8; MAX_ALG_LEN],
    /// Bytes of `alg` in use.
    pub alg_len: usize,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Who decapsulates it.
    pub handler: SaHandler,
    /// The module's state, when it decapsulates the SA.
    pub module: Option<SaModuleState>,
}

impl SaState {
    /// The algorithm's name.
    pub fn alg(&self) -> &[u8] {
        self.alg.get(..self.alg_len).unwrap_or(&[])
    }

    /// Encodes it; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        use sa_state_attr::*;
        let mut w = AttrWriter::new(buf);
        w.put_u16(FAMILY, self.daddr.family.af())?;
        w.put(DADDR, self.daddr.as_slice())?;
        w.put_u32(SPI, self.spi)?;
        w.put(SADDR, self.saddr.as_slice())?;
        w.put_u8(MODE, self.mode as u8)?;
        w.put_u16(ENCAP, self.encap)?;
        w.put(ALG, self.alg())?;
        w.put_u8(ESN, u8::from(self.esn))?;
        w.put_u8(HANDLER, self.handler as u8)?;
        if let Some(m) = &self.module {
            w.put_u32(REPLAY_WINDOW, m.replay_window)?;
            w.put_u64(TOP_SEQ, m.top_seq)?;
            if let Some(idle) = m.idle_ms {
                w.put_u64(IDLE_MS, idle)?;
            }
            w.put_u32(CONN_ID, m.conn_id)?;
            let c = &m.counters;
            w.put_u64(DECAP_OK, c.decap_ok)?;
            w.put_u64(AUTH_FAILED, c.auth_failed)?;
            w.put_u64(REPLAYED, c.replayed)?;
            w.put_u64(TOO_OLD, c.too_old)?;
            w.put_u64(BAD_PADDING, c.bad_padding)?;
            w.put_u64(MALFORMED, c.malformed)?;
        }
        Ok(w.len())
    }

    /// Decodes an `SA_STATE_GET` request for one SA: family, daddr and spi (ESP), nothing else.
    pub fn decode_selector(buf: &[u8]) -> Result<SaSelector, NlError> {
        use sa_state_attr::*;
        let (mut family, mut daddr, mut spi) = (None, None, None);
        walk(buf, MAX, Unknown::Reject, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                _ => {
                    return Err(NlError::at(
                        c"SA_STATE_GET takes only family, daddr and spi",
                        a.offset,
                    ))
                }
            }
            Ok(())
        })?;
        let (Some(family), Some(daddr), Some(spi)) = (family, daddr, spi) else {
            return Err(NlError::new(
                c"SA_STATE_GET of one SA needs family, daddr and spi",
            ));
        };
        check_family(family, &daddr)?;
        Ok(SaSelector {
            daddr,
            spi,
            proto: IPPROTO_ESP,
        })
    }

    /// Decodes an `SA_STATE_GET` reply.
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<SaState, NlError> {
        use sa_state_attr::*;
        let (mut family, mut daddr, mut saddr, mut spi) = (None, None, None, None);
        let (mut mode, mut handler) = (None, None);
        let mut s = SaState {
            daddr: IpAddr::v4([0; 4]),
            spi: 0,
            saddr: IpAddr::v4([0; 4]),
            mode: SaMode::Other,
            encap: 0,
            alg: [0; MAX_ALG_LEN],
            alg_len: 0,
            esn: false,
            handler: SaHandler::NotSeen,
            module: None,
        };
        let mut m = SaModuleState {
            replay_window: 0,
            top_seq: 0,
            idle_ms: None,
            conn_id: 0,
            counters: SaCounters::default(),
        };
        let mut has_module = false;
        walk(buf, MAX, unknown, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SADDR => saddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                MODE => {
                    mode = Some(
                        SaMode::from_u8(a.u8()?)
                            .ok_or(NlError::at(c"unknown SA mode", a.offset))?,
                    )
                }
                ENCAP => s.encap = a.u16()?,
                ALG => {
                    let n = a.payload.len().min(MAX_ALG_LEN);
                    if let (Some(dst), Some(src)) = (s.alg.get_mut(..n), a.payload.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    s.alg_len = n;
                }
                ESN => s.esn = a.flag()?,
                HANDLER => {
                    handler = Some(
                        SaHandler::from_u8(a.u8()?)
                            .ok_or(NlError::at(c"unknown SA handler", a.offset))?,
                    )
                }
                REPLAY_WINDOW => (m.replay_window, has_module) = (a.u32()?, true),
                TOP_SEQ => m.top_seq = a.u64()?,
                IDLE_MS => m.idle_ms = Some(a.u64()?),
                CONN_ID => m.conn_id = a.u32()?,
                DECAP_OK => m.counters.decap_ok = a.u64()?,
                AUTH_FAILED => m.counters.auth_failed = a.u64()?,
                REPLAYED => m.counters.replayed = a.u64()?,
                TOO_OLD => m.counters.too_old = a.u64()?,
                BAD_PADDING => m.counters.bad_padding = a.u64()?,
                MALFORMED => m.counters.malformed = a.u64()?,
                _ => {}
            }
            Ok(())
        })?;
        let (Some(family), Some(daddr), Some(spi), Some(mode), Some(handler)) =
            (family, daddr, spi, mode, handler)
        else {
            return Err(NlError::new(
                c"SA state without family, daddr, spi, mode or handler",
            ));
        };
        check_family(family, &daddr)?;
        s.daddr = daddr;
        s.spi = spi;
        s.saddr = saddr.unwrap_or(IpAddr {
            family,
            bytes: [0; 16],
        });
        s.mode = mode;
        s.handler = handler;
        s.module = has_module.then_some(m);
        Ok(s)
    }
}

/// Per-SA overrides; `None` means "inherit the global setting".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaConfig {
    /// Which SA.
    pub sel: SaSelector,
    /// Replay window or disabled.
    pub replay: Option<ReplayMode>,
    /// DF mode and pre-fragmentation.
    pub frag: FragSettings,
}

impl SaConfig {
    /// Encodes selector and overrides; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        use sa_attr::*;
        let mut w = AttrWriter::new(buf);
        w.put_u16(FAMILY, self.sel.daddr.family.af())?;
        w.put(DADDR, self.sel.daddr.as_slice())?;
        w.put_u32(SPI, self.sel.spi)?;
        w.put_u8(PROTO, self.sel.proto)?;
        match self.replay {
            Some(ReplayMode::Window(win)) => w.put_u32(REPLAY_WINDOW, win)?,
            Some(ReplayMode::Disabled) => w.put_u8(REPLAY_DISABLED, 1)?,
            None => {}
        }
        if let Some(m) = self.frag.df {
            w.put_u8(DF_MODE, df_mode_to_u8(m))?;
        }
        if let Some(p) = self.frag.prefrag {
            w.put_u8(PREFRAG, prefrag_to_u8(p))?;
        }
        Ok(w.len())
    }

    /// Decodes an `SA_GET` / `SA_SET` request or reply.  Family, address and SPI are
    /// mandatory; the protocol defaults to ESP and must be ESP.
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<SaConfig, NlError> {
        use sa_attr::*;
        let (mut family, mut daddr, mut spi) = (None, None, None);
        let mut proto = IPPROTO_ESP;
        let mut window = None;
        let mut disabled = None;
        let mut frag = FragSettings::default();
        walk(buf, MAX, unknown, |a| {
            match a.kind {
                FAMILY => family = Some(family_attr(&a)?),
                DADDR => daddr = Some(addr_attr(&a)?),
                SPI => spi = Some(a.u32()?),
                PROTO => {
                    proto = a.u8()?;
                    if proto != IPPROTO_ESP {
                        return Err(NlError::at(c"only ESP (50) SAs are handled", a.offset));
                    }
                }
                REPLAY_WINDOW => {
                    let w = a.u32()?;
                    if !(MIN_WINDOW..=MAX_WINDOW).contains(&w) {
                        return Err(NlError::at(c"replay window must be 32..1048576", a.offset));
                    }
                    window = Some((w, a.offset));
                }
                REPLAY_DISABLED if a.flag()? => disabled = Some(a.offset),
                DF_MODE => frag.df = Some(df_mode_attr(&a)?),
                PREFRAG => frag.prefrag = Some(prefrag_attr(&a)?),
                _ => {}
            }
            Ok(())
        })?;
        let (Some(family), Some(daddr), Some(spi)) = (family, daddr, spi) else {
            return Err(NlError::new(c"SA is selected by family, daddr and spi"));
        };
        check_family(family, &daddr)?;
        if spi == 0 {
            return Err(NlError::new(c"SPI 0 is invalid"));
        }
        let replay = match (window, disabled) {
            (Some(_), Some(off)) => {
                return Err(NlError::at(
                    c"replay window and replay disabled are mutually exclusive",
                    off,
                ))
            }
            (Some((w, _)), None) => Some(ReplayMode::Window(w)),
            (None, Some(_)) => Some(ReplayMode::Disabled),
            (None, None) => None,
        };
        Ok(SaConfig {
            sel: SaSelector { daddr, spi, proto },
            replay,
            frag,
        })
    }
}

/// Per-interface overrides; `None` means "inherit the global setting".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfConfig {
    /// Interface index (non-zero).
    pub ifindex: u32,
    /// DF mode and pre-fragmentation.
    pub frag: FragSettings,
}

impl IfConfig {
    /// Encodes; returns the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        let mut w = AttrWriter::new(buf);
        w.put_u32(if_attr::IFINDEX, self.ifindex)?;
        if let Some(m) = self.frag.df {
            w.put_u8(if_attr::DF_MODE, df_mode_to_u8(m))?;
        }
        if let Some(p) = self.frag.prefrag {
            w.put_u8(if_attr::PREFRAG, prefrag_to_u8(p))?;
        }
        Ok(w.len())
    }

    /// Decodes an `IF_GET` / `IF_SET` request or reply; the interface index is mandatory.
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<IfConfig, NlError> {
        let mut ifindex = None;
        let mut frag = FragSettings::default();
        walk(buf, if_attr::MAX, unknown, |a| {
            match a.kind {
                if_attr::IFINDEX => ifindex = Some(a.u32()?),
                if_attr::DF_MODE => frag.df = Some(df_mode_attr(&a)?),
                if_attr::PREFRAG => frag.prefrag = Some(prefrag_attr(&a)?),
                _ => {}
            }
            Ok(())
        })?;
        match ifindex {
            Some(0) => Err(NlError::new(c"ifindex must not be 0")),
            Some(ifindex) => Ok(IfConfig { ifindex, frag }),
            None => Err(NlError::new(c"ifindex is required")),
        }
    }
}

impl Counters {
    /// Encodes every counter; returns the bytes written (12 per counter).
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, NoSpace> {
        let mut w = AttrWriter::new(buf);
        for i in COUNTERS {
            w.put_u64(i.kind, self.get(i.kind))?;
        }
        Ok(w.len())
    }

    /// Decodes counters; absent ones are 0.
    pub fn decode(buf: &[u8], unknown: Unknown) -> Result<Counters, NlError> {
        let mut c = Counters::default();
        walk(buf, stats_attr::MAX, unknown, |a| {
            let v = a.u64()?;
            if let Some(slot) = c.get_mut(a.kind) {
                *slot = v;
            }
            Ok(())
        })?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<F: Fn(&mut [u8]) -> Result<usize, NoSpace>>(f: F) -> Vec<u8> {
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

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 4 + payload.len() + 3];
        let mut w = AttrWriter::new(&mut b);
        w.put(kind, payload).unwrap();
        let n = w.len();
        b.truncate(n);
        b
    }

    fn event() -> InvalidSpiEvent {
        InvalidSpiEvent {
            saddr: IpAddr::v6([1; 16]),
            daddr: IpAddr::v6([2; 16]),
            spi: 0xdead_beef,
            encap: Some(UdpPorts {
                sport: 1024,
                dport: 4500,
            }),
            seq: 77,
            ifindex: 3,
            netns_cookie: 0x1234_5678_9abc,
            suppressed: 12,
            timestamp_ns: 99,
        }
    }

    #[test]
    fn writer_layout() {
        let mut b = [0xffu8; 32];
        let mut w = AttrWriter::new(&mut b);
        w.put_u8(7, 0xab).unwrap();
        let n = w.nest_start(2).unwrap();
        w.put_u16(1, 0x0102).unwrap();
        w.nest_end(n).unwrap();
        assert_eq!(w.len(), 8 + 4 + 8);
        assert!(!w.is_empty());
        // u8 attribute: len 5, type 7, payload, 3 zero pad bytes.
        let mut want = [0u8; 8];
        want[0..2].copy_from_slice(&5u16.to_ne_bytes());
        want[2..4].copy_from_slice(&7u16.to_ne_bytes());
        want[4] = 0xab;
        assert_eq!(&b[0..8], &want);
        let outer: Vec<_> = Attrs::new(&b[..20]).collect::<Result<_, _>>().unwrap();
        assert_eq!(outer.len(), 2);
        assert_eq!(outer[1].kind, 2);
        assert_eq!(outer[1].flags, NLA_F_NESTED);
        let inner: Vec<_> = outer[1].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inner[0].u16(), Ok(0x0102));
        assert_eq!(inner[0].offset, 0);
    }

    #[test]
    fn iterator_rejects_bad_headers() {
        let first = |b: &[u8]| Attrs::new(b).next().unwrap().unwrap_err().msg;
        assert_eq!(first(&[1, 0]), "truncated attribute header");
        assert_eq!(first(&[3, 0, 1, 0]), "attribute length below header size");
        assert_eq!(
            first(&[9, 0, 1, 0, 0, 0]),
            "attribute extends past the message"
        );
        // After an error the iterator stops.
        let mut it = Attrs::new(&[3, 0, 1, 0, 8, 0, 1, 0]);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        // Missing padding after the last attribute is accepted.
        let a: Vec<_> = Attrs::new(&[5, 0, 1, 0, 9])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(a[0].u8(), Ok(9));
        // Byte-order flag is masked.
        let b = attr(3 | NLA_F_NET_BYTEORDER, &[1, 2, 3, 4]);
        let a = Attrs::new(&b).next().unwrap().unwrap();
        assert_eq!((a.kind, a.flags), (3, NLA_F_NET_BYTEORDER));
    }

    #[test]
    fn event_roundtrip() {
        let e = event();
        let b = enc(|buf| e.encode(buf));
        assert_eq!(InvalidSpiEvent::decode(&b, Unknown::Reject), Ok(e));
        let plain = InvalidSpiEvent {
            saddr: IpAddr::v4([192, 0, 2, 1]),
            daddr: IpAddr::v4([192, 0, 2, 2]),
            encap: None,
            ..e
        };
        let b = enc(|buf| plain.encode(buf));
        assert_eq!(InvalidSpiEvent::decode(&b, Unknown::Reject), Ok(plain));
        assert_eq!(plain.proto(), 50);
    }

    #[test]
    fn event_errors() {
        let e = event();
        let b = enc(|buf| e.encode(buf));
        // Unknown attribute: rejected or skipped.
        let mut x = b.clone();
        x.extend(attr(200, &[1, 2]));
        assert_eq!(
            InvalidSpiEvent::decode(&x, Unknown::Reject)
                .unwrap_err()
                .msg,
            "unknown attribute"
        );
        assert_eq!(InvalidSpiEvent::decode(&x, Unknown::Skip), Ok(e));
        // Duplicate.
        let mut x = b.clone();
        x.extend(attr(event_attr::SEQ, &1u32.to_ne_bytes()));
        let err = InvalidSpiEvent::decode(&x, Unknown::Skip).unwrap_err();
        assert_eq!(err.msg, "duplicate attribute");
        assert_eq!(err.offset, Some(b.len()));
        // Wrong size.
        let x = [attr(event_attr::SPI, &[1, 2])].concat();
        assert_eq!(
            InvalidSpiEvent::decode(&x, Unknown::Reject)
                .unwrap_err()
                .msg,
            "attribute has the wrong size"
        );
        // Missing mandatory.
        assert!(InvalidSpiEvent::decode(&[], Unknown::Reject).is_err());
        // Address length does not match family.
        let x = [
            attr(event_attr::FAMILY, &2u16.to_ne_bytes()),
            attr(event_attr::SADDR, &[1; 16]),
            attr(event_attr::DADDR, &[1; 4]),
            attr(event_attr::SPI, &5u32.to_ne_bytes()),
            attr(event_attr::PROTO, &[50]),
        ]
        .concat();
        assert!(InvalidSpiEvent::decode(&x, Unknown::Reject).is_err());
        // ESP with ports.
        let x = [
            attr(event_attr::FAMILY, &2u16.to_ne_bytes()),
            attr(event_attr::SADDR, &[1; 4]),
            attr(event_attr::DADDR, &[1; 4]),
            attr(event_attr::SPI, &5u32.to_ne_bytes()),
            attr(event_attr::PROTO, &[50]),
            attr(event_attr::ENCAP_DPORT, &4500u16.to_ne_bytes()),
        ]
        .concat();
        assert!(InvalidSpiEvent::decode(&x, Unknown::Reject).is_err());
        // Type 0 is never valid.
        assert!(InvalidSpiEvent::decode(&attr(0, &[]), Unknown::Reject).is_err());
    }

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

    #[test]
    fn sa_config() {
        let sa = SaConfig {
            sel: SaSelector {
                daddr: IpAddr::v4([10, 0, 0, 1]),
                spi: 0xc001_d00d,
                proto: 50,
            },
            replay: Some(ReplayMode::Window(65536)),
            frag: FragSettings {
                df: Some(DfMode::Clear),
                prefrag: Some(PreFrag::Enabled),
            },
        };
        let b = enc(|buf| sa.encode(buf));
        assert_eq!(SaConfig::decode(&b, Unknown::Reject), Ok(sa));
        let sa2 = SaConfig {
            replay: Some(ReplayMode::Disabled),
            frag: FragSettings::default(),
            ..sa
        };
        let b = enc(|buf| sa2.encode(buf));
        assert_eq!(SaConfig::decode(&b, Unknown::Reject), Ok(sa2));
        let sa3 = SaConfig {
            replay: None,
            ..sa2
        };
        let b = enc(|buf| sa3.encode(buf));
        assert_eq!(SaConfig::decode(&b, Unknown::Reject), Ok(sa3));

        let sel = [
            attr(sa_attr::FAMILY, &2u16.to_ne_bytes()),
            attr(sa_attr::DADDR, &[10, 0, 0, 1]),
            attr(sa_attr::SPI, &0x1000u32.to_ne_bytes()),
        ]
        .concat();
        let ok = SaConfig::decode(&sel, Unknown::Reject).unwrap();
        assert_eq!(ok.sel.proto, 50);
        let bad = |extra: Vec<u8>| {
            SaConfig::decode(&[sel.clone(), extra].concat(), Unknown::Reject)
                .unwrap_err()
                .msg
        };
        assert_eq!(
            bad([
                attr(sa_attr::REPLAY_WINDOW, &64u32.to_ne_bytes()),
                attr(sa_attr::REPLAY_DISABLED, &[1])
            ]
            .concat()),
            "replay window and replay disabled are mutually exclusive"
        );
        assert_eq!(
            bad(attr(sa_attr::PROTO, &[51])),
            "only ESP (50) SAs are handled"
        );
        assert_eq!(
            bad(attr(
                sa_attr::REPLAY_WINDOW,
                &(MAX_WINDOW + 1).to_ne_bytes()
            )),
            "replay window must be 32..1048576"
        );
        assert_eq!(
            bad(attr(sa_attr::PREFRAG, &[3])),
            "pre-fragmentation must be enabled(1) or disabled(2)"
        );
        assert!(SaConfig::decode(&sel[..sel.len() - 8], Unknown::Reject).is_err());
        let zero = [
            attr(sa_attr::FAMILY, &10u16.to_ne_bytes()),
            attr(sa_attr::DADDR, &[1; 16]),
            attr(sa_attr::SPI, &0u32.to_ne_bytes()),
        ]
        .concat();
        assert_eq!(
            SaConfig::decode(&zero, Unknown::Reject).unwrap_err().msg,
            "SPI 0 is invalid"
        );
    }

    #[test]
    fn if_config() {
        let c = IfConfig {
            ifindex: 7,
            frag: FragSettings {
                df: Some(DfMode::Copy),
                prefrag: None,
            },
        };
        let b = enc(|buf| c.encode(buf));
        assert_eq!(IfConfig::decode(&b, Unknown::Reject), Ok(c));
        assert!(IfConfig::decode(&[], Unknown::Reject).is_err());
        assert!(IfConfig::decode(&attr(1, &0u32.to_ne_bytes()), Unknown::Reject).is_err());
    }

    #[test]
    fn counters() {
        let mut c = Counters::default();
        for k in 1..=stats_attr::MAX {
            *c.get_mut(k).unwrap() = u64::from(k) * 1000 + 1;
        }
        assert!(c.get_mut(0).is_none());
        assert!(c.get_mut(stats_attr::MAX + 1).is_none());
        let b = enc(|buf| c.encode(buf));
        assert_eq!(b.len(), 12 * usize::from(stats_attr::MAX));
        assert_eq!(Counters::decode(&b, Unknown::Reject), Ok(c));
        assert_eq!(c.df_dropped, 22001);
        assert_eq!(c.esp_v4, 1001);
    }

    #[test]
    fn command_numbers() {
        assert_eq!(
            [
                cmd::GET_STATS,
                cmd::GET_CONFIG,
                cmd::SET_CONFIG,
                cmd::SA_GET,
                cmd::SA_SET,
                cmd::IF_GET,
                cmd::IF_SET,
                cmd::EVENT_INVALID_SPI
            ],
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(cmd::MAX, 9);
    }

    /// The YAML spec, read with a tiny line parser (its layout is regular: block lists with
    /// `-` on their own line, `name:`/`value:` keys at fixed indents).
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

    fn parse_yaml() -> YamlSpec {
        let text = include_str!("../../Documentation/netlink/specs/ipsec_rs.yaml");
        let mut spec = YamlSpec {
            family: String::new(),
            attrs: vec![],
            ops: vec![],
            op_details: vec![],
            mcgrps: vec![],
            enums: vec![],
        };
        let mut section = "";
        let mut in_checks = false;
        let mut set = String::new();
        let mut name = String::new();
        for line in text.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = match line {
                    "definitions:" => "definitions",
                    "attribute-sets:" => "attribute-sets",
                    "operations:" => "operations",
                    "mcast-groups:" => "mcast-groups",
                    _ => "",
                };
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if indent <= 8 {
                in_checks = line.trim() == "checks:";
            }
            if section == "operations" && indent == 6 && line.trim() == "dump:" {
                spec.op_details.last_mut().unwrap().dump = true;
            }
            let Some((k, v)) = line.trim().split_once(": ") else {
                continue;
            };
            match (section, indent, k) {
                ("", 0, "name") => spec.family = v.to_string(),
                ("definitions", 4, "name") => spec.enums.push((v.to_string(), 0, vec![])),
                ("definitions", 4, "value-start") => {
                    spec.enums.last_mut().unwrap().1 = v.parse().unwrap()
                }
                ("definitions", 4, "entries") => {
                    spec.enums.last_mut().unwrap().2 = v
                        .trim_matches(|c| c == '[' || c == ']' || c == ' ')
                        .split(", ")
                        .map(str::to_string)
                        .collect()
                }
                ("attribute-sets", 4, "name") => set = v.to_string(),
                ("attribute-sets", 8, "name") => spec.attrs.push(YamlAttr {
                    set: set.clone(),
                    name: v.to_string(),
                    ..Default::default()
                }),
                ("attribute-sets", 8, "value") => {
                    spec.attrs.last_mut().unwrap().value = v.parse().unwrap()
                }
                ("attribute-sets", 8, "type") => spec.attrs.last_mut().unwrap().ty = v.to_string(),
                ("attribute-sets", 8, "enum") => {
                    spec.attrs.last_mut().unwrap().en = Some(v.to_string())
                }
                ("attribute-sets", 10, _) if in_checks => spec
                    .attrs
                    .last_mut()
                    .unwrap()
                    .checks
                    .push((k.to_string(), v.parse().unwrap())),
                ("operations", 6, "name") => name = v.to_string(),
                ("operations", 6, "value") => {
                    spec.ops.push((name.clone(), v.parse().unwrap()));
                    spec.op_details.push(YamlOp {
                        name: name.clone(),
                        ..Default::default()
                    });
                }
                ("operations", 6, "attribute-set") => {
                    spec.op_details.last_mut().unwrap().set = v.to_string()
                }
                ("operations", 6, "flags") => {
                    spec.op_details.last_mut().unwrap().admin = v.contains("admin-perm")
                }
                ("mcast-groups", 6, "name") => spec.mcgrps.push(v.to_string()),
                _ => {}
            }
        }
        spec
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
    fn yaml_spec_matches_constants() {
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
            let type_max = match specs.ty {
                AttrType::U8 => u64::from(u8::MAX),
                AttrType::U16 => u64::from(u16::MAX),
                AttrType::U32 => u64::from(u32::MAX),
                AttrType::U64 | AttrType::Binary => u64::MAX,
            };
            let check = |k: &str| a.checks.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
            let (min, max) = if specs.ty == AttrType::Binary {
                (
                    check("min-len").unwrap_or(0),
                    check("max-len").unwrap_or(u64::MAX),
                )
            } else if let Some(e) = &a.en {
                let (_, start, entries) = y.enums.iter().find(|(n, _, _)| n == e).unwrap();
                (
                    u64::from(*start),
                    u64::from(*start) + entries.len() as u64 - 1,
                )
            } else {
                (check("min").unwrap_or(0), check("max").unwrap_or(type_max))
            };
            assert_eq!((specs.min, specs.max), (min, max), "{what}");
        }
        // Every set is numbered 1..=MAX without gaps.
        for (set, specs) in SETS {
            let vals: Vec<u16> = specs.iter().map(|a| a.kind).collect();
            let max = vals.iter().copied().max().unwrap();
            assert_eq!(vals, (1..=max).collect::<Vec<_>>(), "{set}");
        }
        assert_eq!(event_attr::MAX, 12);
        assert_eq!(stats_attr::MAX as usize, COUNTERS.len());
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
        // Enumerations.
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

    #[test]
    fn sa_state_roundtrip() {
        let mut alg = [0u8; MAX_ALG_LEN];
        alg[..17].copy_from_slice(b"rfc4106(gcm(aes))");
        let mut st = SaState {
            daddr: IpAddr::v4([192, 0, 2, 2]),
            spi: 0x1000,
            saddr: IpAddr::v4([192, 0, 2, 1]),
            mode: SaMode::Tunnel,
            encap: 2,
            alg,
            alg_len: 17,
            esn: true,
            handler: SaHandler::Module,
            module: Some(SaModuleState {
                replay_window: 4096,
                top_seq: (1 << 32) + 5,
                idle_ms: Some(12),
                conn_id: 3,
                counters: SaCounters {
                    decap_ok: 10,
                    auth_failed: 1,
                    replayed: 2,
                    too_old: 3,
                    bad_padding: 4,
                    malformed: 5,
                },
            }),
        };
        let mut buf = [0u8; 512];
        let n = st.encode(&mut buf).unwrap();
        assert_eq!(SaState::decode(&buf[..n], Unknown::Reject).unwrap(), st);
        st.handler = SaHandler::Algorithm;
        st.module = None;
        st.daddr = IpAddr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        st.saddr = IpAddr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let n = st.encode(&mut buf).unwrap();
        assert_eq!(SaState::decode(&buf[..n], Unknown::Reject).unwrap(), st);
        // A request for one SA: the selector only.
        let mut w = AttrWriter::new(&mut buf);
        w.put_u16(sa_state_attr::FAMILY, 2).unwrap();
        w.put(sa_state_attr::DADDR, &[192, 0, 2, 2]).unwrap();
        w.put_u32(sa_state_attr::SPI, 0x1000).unwrap();
        let n = w.len();
        let sel = SaState::decode_selector(&buf[..n]).unwrap();
        assert_eq!((sel.daddr, sel.spi), (IpAddr::v4([192, 0, 2, 2]), 0x1000));
        let mut w = AttrWriter::new(&mut buf);
        w.put_u16(sa_state_attr::FAMILY, 2).unwrap();
        w.put(sa_state_attr::DADDR, &[192, 0, 2, 2]).unwrap();
        w.put_u32(sa_state_attr::SPI, 0x1000).unwrap();
        w.put_u64(sa_state_attr::DECAP_OK, 1).unwrap();
        let n = w.len();
        assert!(SaState::decode_selector(&buf[..n]).is_err());
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
}
