// SPDX-License-Identifier: GPL-2.0

//! Decapsulation per mode, once a packet is authenticated, its window
//! advanced and its trailer stripped: the inner packet (tunnel mode) or the
//! payload behind its own IP header again (transport mode) handed back to
//! the stack as XFRM hands its own, with the SA in its security path.
//!
//! Tunnel mode: the outer headers go, ECN and DSCP are carried inward as
//! XFRM does (`XFRM_STATE_NOECN`, `XFRM_STATE_DECAP_DSCP`), the SA's mark
//! rewrite applies, route and conntrack of the outer packet are dropped,
//! and the inner packet re-enters the stack ([`Delivery`]). Transport mode:
//! the IP header moves forward over ESP, and XFRM's own `transport_finish`
//! runs PRE_ROUTING and local delivery.

use crate::{
    nl::stats_attr as stat,
    rust::{
        bindings as b,
        netdev::Device,
        percpu::PerCpuCounters,
        skb::{GroCells, OwnedSkb},
        xfrm::{self, Mib, Mode, StateRef},
    },
};
use kernel::prelude::*;

const ECN_CE: u8 = 3;
const AF_INET: u16 = b::AF_INET as u16;
const AF_INET6: u16 = b::AF_INET6 as u16;

/// Why a packet could not be decapsulated: the packet, the module's counter
/// and XFRM's statistic to count it under.
pub(crate) struct Failed {
    pub(crate) skb: OwnedSkb,
    pub(crate) counter: u16,
    /// `None`: XFRM counted it already.
    pub(crate) mib: Option<Mib>,
}

fn failed(skb: OwnedSkb, counter: u16, mib: Mib) -> Result<bool, Failed> {
    Err(Failed {
        skb,
        counter,
        mib: Some(mib),
    })
}

/// What the next-header field says is inside.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Inner {
    /// Tunnel mode: an IPv4 (`v6 == false`) or IPv6 packet.
    Ip { v6: bool },
    /// Transport mode: the upper-layer protocol.
    Transport(u8),
}

impl Inner {
    /// The inner content of an SA in `mode` whose trailer says `nexthdr`;
    /// `None` for what we do not deliver: a dummy packet (RFC 4303 2.6,
    /// `IPPROTO_NONE`), or in tunnel mode anything but IP.
    pub(crate) fn of(mode: Mode, nexthdr: u8) -> Option<Inner> {
        match (mode, u32::from(nexthdr)) {
            (_, b::IPPROTO_NONE) => None,
            (Mode::Tunnel, b::IPPROTO_IPIP) => Some(Inner::Ip { v6: false }),
            (Mode::Tunnel, b::IPPROTO_IPV6) => Some(Inner::Ip { v6: true }),
            (Mode::Tunnel, _) | (Mode::Other, _) => None,
            (Mode::Transport, _) => Some(Inner::Transport(nexthdr)),
        }
    }
}

/// The SA's mark rewrite on the decapsulated packet, as xfrm_input does
/// (`xfrm_smark_get`): `(mark & !mask) | (value & mask)`.
#[inline(always)]
fn apply_smark(x: &StateRef, skb: &mut OwnedSkb) {
    if let Some((v, m)) = x.smark() {
        let mark = (skb.view().mark() & !m) | (v & m);
        skb.set_mark(mark);
    }
}

/// What decapsulation needs of the outer packet and the SA.
pub(crate) struct Params<'a> {
    /// The SA's `XFRM_STATE_*` flags.
    pub(crate) flags: u8,
    /// The outer TOS / traffic class.
    pub(crate) tos: u8,
    /// The outer address family.
    pub(crate) family: u16,
    /// UDP-encapsulated.
    pub(crate) udp: bool,
    /// Transport mode: the IP header's length to keep.
    pub(crate) hdr_len: u16,
    /// Tunnel mode: the XFRM interface the inner packet arrives on.
    pub(crate) dev: Option<&'a Device>,
    /// Tunnel mode: the vti or vti6 tunnel the inner packet arrives on,
    /// and its input key.
    pub(crate) vti: Option<(&'a Device, u32)>,
}

/// Turns the decrypted packet into its inner IP packet (tunnel mode, as
/// `xfrm4/6_remove_tunnel_encap()` and xfrm_input do): `skb->protocol` the
/// inner one's (`ethertype`), the inner header (`hlen` bytes at `data`)
/// linear and the head private, the network header reset to it and the MAC
/// header rebuilt in front of it. False (to be dropped) if the header
/// cannot be pulled or the head unshared.
#[inline(always)]
fn become_inner(skb: &mut OwnedSkb, ethertype: u16, hlen: usize) -> bool {
    skb.set_protocol(ethertype);
    if !skb.may_pull(hlen) || !skb.unclone() {
        return false;
    }
    skb.reset_network_header();
    skb.rebuild_mac_header(ethertype);
    true
}

/// Decapsulates `skb` (at its payload) for SA `x` and hands the result on.
/// `Ok(false)`: decapsulated, but the stack dropped it on the way in
/// (counted by the device). `sync`: still inside the ESP handler (see
/// [`Delivery::deliver`]). Inlined into its one caller, the completion:
/// a call here costs some twenty instructions a packet.
#[inline(always)]
pub(crate) fn decapsulate(
    delivery: &Delivery,
    mut skb: OwnedSkb,
    x: StateRef,
    inner: Inner,
    o: &Params<'_>,
    sync: bool,
) -> Result<bool, Failed> {
    match inner {
        Inner::Ip { v6 } => {
            let (ethertype, hlen) = if v6 {
                (b::ETH_P_IPV6, 40)
            } else {
                (b::ETH_P_IP, 20)
            };
            if !become_inner(&mut skb, ethertype as u16, hlen) {
                return failed(skb, stat::RX_ERRORS, Mib::InStateModeError);
            }
            if o.flags & xfrm::FLAG_DECAP_DSCP != 0 {
                skb.inner_copy_dscp(v6, o.tos);
            }
            if o.flags & xfrm::FLAG_NOECN == 0 && o.tos & ECN_CE == ECN_CE {
                skb.inner_set_ce(v6);
            }
            apply_smark(&x, &mut skb);
            if skb.secpath_push(x).is_err() {
                return failed(skb, stat::RX_ERRORS, Mib::InError);
            }
            if let Some(dev) = o.dev {
                skb.enter_device(dev);
            } else if let Some((dev, ikey)) = o.vti {
                // As `vti_rcv_cb()`: the inbound policy check with the
                // tunnel's input key as the packet's mark, then the
                // packet scrubbed (its security path with it) for the
                // tunnel.
                let mark = skb.view().mark();
                skb.set_mark(ikey);
                let allowed = skb.policy_check_in(if v6 { AF_INET6 } else { AF_INET });
                skb.set_mark(mark);
                if !allowed {
                    return Err(Failed {
                        skb,
                        counter: stat::POLICY_DROPPED,
                        mib: None,
                    });
                }
                skb.enter_scrubbed(dev);
            }
            Ok(delivery.deliver(skb, sync))
        }
        Inner::Transport(nexthdr) => {
            if o.udp {
                // The peer's checksums cover addresses a NAT rewrote, as esp4 says.
                skb.set_csum_unnecessary();
            }
            if !skb.transport_restore_header(usize::from(o.hdr_len)) {
                return failed(skb, stat::RX_ERRORS, Mib::InStateModeError);
            }
            apply_smark(&x, &mut skb);
            if skb.secpath_push(x).is_err() {
                return failed(skb, stat::RX_ERRORS, Mib::InError);
            }
            // Its verdict (a firewall drop, no socket) is the stack's.
            let _ = skb.transport_finish(o.family, nexthdr);
            Ok(true)
        }
    }
}

/// Where decapsulated tunnel-mode packets re-enter the stack: per-CPU GRO
/// cells, as xfrm_input's own, and the count of in-place deliveries running
/// on each CPU.
///
/// Owner: the receive path's registration (`main.rs`), which drops it only
/// once no handler or completion can run.
pub(crate) struct Delivery {
    gro: GroCells,
    /// Index 0: in-place deliveries running on this CPU (0 or 1).
    depth: PerCpuCounters<1>,
}

impl Delivery {
    /// Process context.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            gro: GroCells::new()?,
            depth: PerCpuCounters::new()?,
        })
    }

    /// Hands a decapsulated packet on, its route and conntrack entry
    /// dropped. When `sync` (the caller is the ESP handler, in the receive
    /// path with BH disabled), the receiving device does not do GRO (where
    /// the cells would only queue it to the backlog) and no in-place
    /// delivery of ours is already running on this CPU (a tunnel inside a
    /// tunnel: the stack stays bounded), the packet is received now, as
    /// xfrm4/6_transport_finish deliver: no trip through a queue and a
    /// second softirq round; the stack's own verdict (a firewall drop, no
    /// socket) is not ours. Otherwise (GRO on the device, an asynchronous
    /// completion, nesting) through this CPU's GRO cell. False if the
    /// packet was dropped on the way in (device down, queue full: counted
    /// by the device's `rx_dropped`).
    #[inline(always)]
    pub(crate) fn deliver(&self, mut skb: OwnedSkb, sync: bool) -> bool {
        skb.drop_dst_and_ct();
        if sync && skb.dev_elides_gro() && self.depth.this_cpu(0) == 0 {
            self.depth.add(0, 1);
            skb.receive_now();
            self.depth.sub(0, 1);
            return true;
        }
        self.gro.receive(skb)
    }
}
