// SPDX-License-Identifier: GPL-2.0

//! Inbound hooks: what ipsec_rs counts on the NAT-T port besides ESP.
//!
//! Registered only while NAT-T accounting is on (`ipsec-rs set global
//! --natt-accounting on`; off by default): every locally delivered packet
//! passes them, so a namespace that does not want these counters does not
//! pay for them.
//!
//! Hook point: NF_INET_LOCAL_IN, for IPv4 and IPv6: locally delivered
//! packets only (a router's transit ESP is never ours). IKE messages and NAT
//! keepalives sent to port 4500 are counted here, before the UDP socket
//! (which XFRM's encapsulation handler sits on) sees them, and so are
//! malformed headers of such datagrams. ESP itself, plain or
//! UDP-encapsulated, is left to the module's ESP handler (`esp_input.rs`), which
//! counts it and looks its SA up once the stack has reassembled it.
//! See Documentation/design.rst for the choice of integration points.

use crate::{
    counters::{bump, Counters},
    esp::{self, Parsed},
    nl::stats_attr as stat,
    rust::netfilter::{self, HookPoint, HookSpec, Verdict},
    rust::{net::Net, skb::SkBuff},
};
use kernel::prelude::*;

/// Runs after the filter table, so that dropped traffic is not counted.
const PRIORITY: i32 = 100;

/// The hooks registered in every namespace.
pub(crate) static HOOKS: [HookSpec; 2] = [
    HookSpec {
        family: netfilter::Family::Ipv4,
        point: HookPoint::LocalIn,
        priority: PRIORITY,
    },
    HookSpec {
        family: netfilter::Family::Ipv6,
        point: HookPoint::LocalIn,
        priority: PRIORITY,
    },
];

/// Bytes of headers looked at first: an IPv4 header with options or an
/// IPv6 header, then UDP and the ESP header, fit.
const SHORT_HEADER_BYTES: usize = 64;
/// Bytes of headers looked at when those were not enough: IPv6 with a few
/// extension headers, UDP and the ESP header fit.
const HEADER_BYTES: usize = 192;

/// Classifies a UDP datagram to the NAT-T port from its first headers;
/// `None` for everything else. A first look at the IP header (linear at
/// `LOCAL_IN`) sorts out all but UDP (and IPv6 extension headers); UDP to
/// another port than NAT-T needs only its header, made linear where it is
/// not (the UDP handler would pull it next anyway); the rest is parsed from
/// a copy of the first `SHORT_HEADER_BYTES`, and only if they were too few,
/// of `HEADER_BYTES`.
fn classify(skb: &mut SkBuff) -> Option<Parsed> {
    let len = skb.len() as usize;
    let mut first = [0u8; esp::PEEK_BYTES];
    let need = match esp::peek_ip(skb.network_bytes(&mut first)?, len) {
        esp::Peek::NotEsp | esp::Peek::Esp(_) => return None,
        esp::Peek::Udp(at) => match skb
            .pull_network(at + esp::UDP_HDR_LEN)
            .and_then(|h| h.get(at..))
        {
            Some(udp) if !esp::udp_dport_is_nat_t(udp) => return None,
            Some(_) => at + esp::UDP_HDR_LEN + esp::ESP_HDR_LEN,
            None => 0,
        },
        esp::Peek::Parse => 0,
    };
    // Without a pull (not possible here, or no memory): from a copy.
    if need != 0 {
        if let Some(hdrs) = skb.pull_network(need.min(len)) {
            return Some(esp::parse_ip_prefix(hdrs, len));
        }
    }
    let mut short = [0u8; SHORT_HEADER_BYTES];
    let p = esp::parse_ip_prefix(skb.network_bytes(&mut short)?, len);
    if !matches!(p, Parsed::Truncated) || len <= SHORT_HEADER_BYTES {
        return Some(p);
    }
    let mut buf = [0u8; HEADER_BYTES];
    Some(esp::parse_ip_prefix(skb.network_bytes(&mut buf)?, len))
}

/// Registers the NAT-T accounting hooks in `net`, counting into `counters`.
///
/// # Safety
///
/// `counters` must stay where they are, alive, until the registration is
/// dropped, and `net` must outlive it (see `netfilter::Registration::new`).
pub(crate) unsafe fn register(net: &Net, counters: &Counters) -> Result<netfilter::Registration> {
    // SAFETY: the caller's contract.
    unsafe { netfilter::Registration::new::<NattAccounting>(net, &HOOKS, counters) }
}

/// The NAT-T accounting hooks, registered with the namespace's counters.
pub(crate) struct NattAccounting;

impl netfilter::Hook for NattAccounting {
    type Data = Counters;

    fn hook(counters: &Counters, skb: &mut SkBuff, _state: &netfilter::HookState<'_>) -> Verdict {
        match classify(skb) {
            Some(Parsed::IkeNonEsp) => bump(counters, stat::IKE_PASSED),
            Some(Parsed::NatKeepalive) => bump(counters, stat::NAT_KEEPALIVE),
            // SPI 0 is plain ESP (after IPv6 extension headers): the ESP
            // handler counts it.
            Some(Parsed::Malformed(m)) if m != esp::Malformed::SpiZero => {
                bump(counters, stat::MALFORMED)
            }
            // ESP (counted by the ESP handler), IPv6 non-first fragments
            // (reassembled later, seen again then), headers cut short (UDP
            // drops those), and everything else: not ours.
            _ => {}
        }
        Verdict::Accept
    }
}
