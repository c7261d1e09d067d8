// SPDX-License-Identifier: GPL-2.0

//! Inbound hooks: where ipsec_rs sees ESP addressed to this host.
//!
//! Hook point: NF_INET_LOCAL_IN, for IPv4 and IPv6. A router only forwards
//! transit ESP, which is never ours to count or report, and LOCAL_IN only
//! sees locally delivered packets; IPv4 has reassembled them by then (IPv6 has
//! not: its non-first fragments are counted as such and passed on).
//! See Documentation/design.rst for the choice of integration points.

use crate::{
    counters::bump,
    esp::{self, Family, Parsed},
    nl::stats_attr as stat,
    kapi::netfilter::{self, HookPoint, HookSpec, Verdict},
    kapi::skb::SkBuff,
    invalid_spi::{self, Outcome},
    netns::Shared,
};
use core::sync::atomic::Ordering;

/// Runs after the filter table, so that dropped traffic is not counted.
const PRIORITY: i32 = 100;

/// The hooks registered in every namespace.
pub(crate) static HOOKS: [HookSpec; 2] = [
    HookSpec { family: netfilter::Family::Ipv4, point: HookPoint::LocalIn, priority: PRIORITY },
    HookSpec { family: netfilter::Family::Ipv6, point: HookPoint::LocalIn, priority: PRIORITY },
];

/// UDP header length.
const UDP_HDR_LEN: usize = 8;
/// Bytes of headers looked at first: an IPv4 header with options or an
/// IPv6 header, then UDP and the ESP header, fit.
const SHORT_HEADER_BYTES: usize = 64;
/// Bytes of headers looked at when those were not enough: IPv6 with a few
/// extension headers, UDP and the ESP header fit.
const HEADER_BYTES: usize = 192;

/// Classifies the packet from its first headers. A first look at the IP
/// header (linear at `LOCAL_IN`) sorts out everything but ESP and UDP;
/// UDP to another port than NAT-T and plain ESP need only their first
/// transport bytes, made linear where they are not (the UDP or ESP handler
/// would pull them next anyway); the rest (IPv6 extension headers, say) is
/// parsed from a copy of the first `SHORT_HEADER_BYTES`, and only if they
/// were too few, of `HEADER_BYTES`.
fn classify(skb: &SkBuff) -> Option<Parsed> {
    let len = skb.len() as usize;
    let mut first = [0u8; esp::PEEK_BYTES];
    let need = match esp::peek_ip(skb.network_bytes(&mut first)?, len) {
        esp::Peek::NotEsp => return Some(Parsed::NotEsp),
        esp::Peek::Udp(at) => match skb.pull_network(at + UDP_HDR_LEN).and_then(|h| h.get(at..)) {
            Some(udp) if !esp::udp_dport_is_nat_t(udp) => return Some(Parsed::NotEsp),
            Some(_) => at + UDP_HDR_LEN + esp::ESP_HDR_LEN,
            None => 0,
        },
        esp::Peek::Esp(at) => at + esp::ESP_HDR_LEN,
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

impl netfilter::Hook for Shared {
    fn hook(&self, skb: &SkBuff, state: &netfilter::HookState<'_>) -> Verdict {
        let Some(parsed) = classify(skb) else {
            return Verdict::Accept;
        };
        match parsed {
            Parsed::Esp(p) => {
                let c = match (p.src.family, p.encap.is_some()) {
                    (Family::V4, false) => stat::ESP_V4,
                    (Family::V6, false) => stat::ESP_V6,
                    (Family::V4, true) => stat::UDP_ENCAP_V4,
                    (Family::V6, true) => stat::UDP_ENCAP_V6,
                };
                bump(&self.counters, c);
                if p.hdr.class != esp::SpiClass::Normal {
                    bump(&self.counters, stat::RESERVED_SPI);
                }
                if self.invalid_spi_enabled.load(Ordering::Relaxed) {
                    let net = state.net();
                    if let Outcome::Invalid =
                        invalid_spi::check(net, skb, state.in_ifindex(), &p, &self.counters, &self.limiter)
                    {
                        return Verdict::Drop;
                    }
                }
            }
            Parsed::IkeNonEsp => bump(&self.counters, stat::IKE_PASSED),
            Parsed::NatKeepalive => bump(&self.counters, stat::NAT_KEEPALIVE),
            Parsed::Malformed(_) => bump(&self.counters, stat::MALFORMED),
            // IPv6 non-first fragments (reassembled later, seen again then),
            // headers cut short (XFRM counts and drops those), and everything
            // that is not ESP: not ours.
            Parsed::Fragment | Parsed::Truncated | Parsed::NotEsp => {}
        }
        Verdict::Accept
    }
}
