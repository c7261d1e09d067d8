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

/// Bytes of headers copied from the packet to classify it: IPv6 with a few
/// extension headers, UDP and the ESP header fit.
const HEADER_BYTES: usize = 192;

impl netfilter::Hook for Shared {
    fn hook(&self, skb: &SkBuff, state: &netfilter::HookState<'_>) -> Verdict {
        let mut buf = [0u8; HEADER_BYTES];
        let Some(hdrs) = skb.network_bytes(&mut buf) else {
            return Verdict::Accept;
        };
        match esp::parse_ip_prefix(hdrs, skb.len() as usize) {
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
