// SPDX-License-Identifier: GPL-2.0

//! Invalid SPI: an inbound ESP packet for this host whose SPI has no SA.
//!
//! XFRM would drop it, bump `XfrmInNoStates` and tell nobody. The receive
//! path's ESP handler (`esp_input.rs`), which looks every locally delivered ESP
//! packet's SA up anyway, drops it itself (bumping `XfrmInNoStates` too),
//! counts it per address family, and, within the limits of the namespace's
//! rate limiter (per flow and global, see `core/src/ratelimit.rs`), logs the
//! vendor guide's line and multicasts a generic-netlink event so that a
//! recovery daemon can act.

use crate::{
    counters::bump,
    esp::{EspPacket, Family},
    events,
    netns::PerNet,
    nl::{self, stats_attr as stat},
    ratelimit::{Decision, Entry, FlowKey, RateLimiter},
    rust::{self, net::Net},
    siphash::SipKey,
};
use kernel::prelude::*;

/// The limiter of one namespace over its heap flow table.
pub(crate) type Limiter = RateLimiter<KVVec<Entry>>;

/// Builds a limiter for `cfg` with a fresh table and a fresh secret hash key
/// (process context: allocates with GFP_KERNEL).
pub(crate) fn new_limiter(cfg: &nl::GlobalConfig) -> Result<Limiter> {
    let table = KVVec::from_elem(Entry::EMPTY, cfg.flow_table_size as usize, GFP_KERNEL)?;
    let mut key = [0u8; 16];
    rust::random_bytes(&mut key);
    RateLimiter::new(
        table,
        SipKey::from_bytes(key),
        cfg.rate_config(),
        rust::now_ns(),
    )
    .map_err(|_| EINVAL)
}

/// Handles a packet whose SA the receive path's lookup did not find: counts
/// it and, within the limiter's budget, logs the guide's line and sends the
/// event. The caller drops the packet. Softirq: no sleeping.
pub(crate) fn report_miss(net: &Net, ifindex: i32, p: &EspPacket, shared: &PerNet) {
    let (counters, limiter) = (&shared.counters, &shared.limiter);
    let family = p.dst.family.af();
    bump(
        counters,
        if p.dst.family == Family::V4 {
            stat::INVALID_SPI_V4
        } else {
            stat::INVALID_SPI_V6
        },
    );

    let now = rust::now_ns();
    let key = FlowKey {
        family,
        src: p.src.bytes,
        dst: p.dst.bytes,
        spi: p.hdr.spi,
    };
    let (decision, evicted) = {
        let mut l = limiter.lock();
        let before = l.counters().evicted;
        let d = l.check(&key, now);
        (d, l.counters().evicted.wrapping_sub(before))
    };
    if evicted != 0 {
        counters.add(usize::from(stat::FLOWS_EVICTED), evicted);
    }
    match decision {
        Decision::SuppressedFlow => bump(counters, stat::SUPPRESSED_FLOW),
        Decision::SuppressedGlobal => bump(counters, stat::SUPPRESSED_GLOBAL),
        Decision::Emit {
            suppressed_since_last,
        } => {
            bump(counters, stat::EVENTS_SENT);
            pr_warn!(
                "%CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for destaddr={}, prot={}, spi={:#x}({}), srcaddr={}\n",
                p.dst,
                if p.encap.is_some() { crate::esp::IPPROTO_UDP } else { crate::esp::IPPROTO_ESP },
                p.hdr.spi,
                p.hdr.spi,
                p.src
            );
            let ev = nl::InvalidSpiEvent {
                saddr: p.src,
                daddr: p.dst,
                spi: p.hdr.spi,
                encap: p.encap,
                seq: p.hdr.seq,
                ifindex: ifindex as u32,
                netns_cookie: net.cookie(),
                suppressed: suppressed_since_last,
                timestamp_ns: now,
            };
            match events::invalid_spi(net, &ev) {
                events::Outcome::Delivered => {}
                events::Outcome::Unheard => bump(counters, stat::EVENTS_UNHEARD),
                events::Outcome::Lost => bump(counters, stat::EVENTS_LOST),
            }
        }
    }
}
