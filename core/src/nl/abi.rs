//! The ABI's tables: family name, version and multicast group, the commands, every
//! attribute set (number, YAML name, type, accepted range) and the counters.  The kernel
//! builds its operations and attribute policies from them, the tools their names and
//! counter lists; `tests.rs` checks them against the YAML spec.

use super::super::replay::{MAX_WINDOW, MIN_WINDOW};

/// Generic-netlink family name.
// The module registers the family with a C string of its own.
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, tests"))]
pub const FAMILY_NAME: &str = "ipsec_rs";
/// Generic-netlink family version.
pub const FAMILY_VERSION: u8 = 1;
/// Multicast group carrying [`cmd::EVENT_INVALID_SPI`] notifications.
// The module registers the group with a C string of its own.
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, tests"))]
pub const MCGRP_EVENTS: &str = "events";

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
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
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
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
    pub name: &'static str,
    /// The attribute set of its request and reply.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, tests"))]
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
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: tools, tests"))]
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
            // The module uses some sets' MAX, SET and SPECS, not all.
            /// Highest attribute number.
            #[cfg_attr(MODULE, allow(dead_code, reason = "used by: tools, tests"))]
            pub const MAX: u16 = super::max_of(&[$($n),*]);
            /// The set's name in the YAML spec.
            #[cfg_attr(MODULE, allow(dead_code, reason = "used by: tools, tests"))]
            pub const SET: &str = $set;
            /// Every attribute of the set, in number order.
            #[cfg_attr(MODULE, allow(dead_code, reason = "used by: tools, tests"))]
            pub const SPECS: &[AttrSpec] = &[
                $(AttrSpec {
                    kind: $n,
                    name: $yname,
                    ty: AttrType::$ty,
                    min: $min as u64,
                    max: $max as u64,
                },)*
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
            #[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
            pub const SPECS: &[AttrSpec] = &[
                $(AttrSpec {
                    kind: $n,
                    name: stringify!($field),
                    ty: AttrType::U64,
                    min: 0,
                    max: u64::MAX,
                },)*
            ];
        }

        /// The module's counters, one u64 per [`stats_attr`] attribute.  Values wrap.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Counters {
            $(#[doc = $what] pub $field: u64,)*
        }

        /// Every counter, in attribute order.
        pub const COUNTERS: &[CounterInfo] = &[
            $(CounterInfo {
                kind: $n,
                name: stringify!($field),
                section: Section::$sec,
                what: $what,
            },)*
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
    30 SA_NO_MEMORY sa_no_memory Inbound
        "new SAs' packets left to XFRM, no memory for their state";
    31 REENTRY_DROPPED reentry_dropped Inbound
        "#pkts decapsulated, then dropped re-entering the stack";
    32 ESP_GRO esp_gro Inbound "ESP packets taken inside GRO (also in esp_v4/esp_v6)";
    33 POLICY_DROPPED policy_dropped Inbound "#pkts dropped by a vti's inbound policy check";
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
