// SPDX-License-Identifier: GPL-2.0

//! Route-based tunnels: the ESP between the endpoints of vti and vti6
//! tunnels, for invalid-SPI detection and the receive path.
//!
//! `ip_vti` and `ip6_vti` sit on XFRM's ESP handler chain at priority 100,
//! above the receive path (`esp_input.rs`, 50): ESP between a tunnel's
//! endpoints is theirs, XFRM looks its SA up with the tunnel's input key
//! (`ikey`) as the mark, and drops a packet whose SA it does not find as
//! `XfrmInNoStates`, telling nobody. So the module has a handler above
//! them ([`Observer`], priority [`PRIORITY`]): while invalid-SPI detection
//! or the receive path is on and the namespace has vti or vti6 devices, it
//! picks the tunnel the driver will pick (`core/src/tunnel.rs`) and looks
//! the SA up as XFRM will. A miss is reported as the receive path reports
//! one (`invalid_spi.rs`: counters, the log line, the event) and the packet
//! goes on down the chain untouched, to vti (which drops it and counts it in
//! XFRM's statistics and the tunnel's `rx_errors`). A known SA's packet,
//! with the receive path on, goes to the receive path as the tunnel's
//! (`esp_input::receive_vti`), which decapsulates it and does what vti's
//! receive callback does, or declines it to vti.
//!
//! The namespace's vti and vti6 devices (`PerNet::tunnels`), and its XFRM
//! interfaces for the receive path (`PerNet::xfrm_ifs`, `tunnels.rs`), come
//! from the netdevice notifier ([`Watch`]): each is held from its
//! registration in the namespace (or its move into it) to its
//! unregistration, and read under RCU by the observer; its endpoints, link
//! and key are read from the device for each packet, as the driver reads
//! them.

use crate::{
    esp,
    esp_headers::{self, count_esp, OuterHeader},
    esp_input::{self, VtiRx},
    invalid_spi,
    netns::PerNet,
    rust::{
        bindings as b,
        net::PernetState,
        netdev::{Device, Event, NetdevEvents},
        rcu::{RcuSlots, ReadSide},
        skb::OwnedSkb,
        tunnel::{Vti, XfrmIf},
        xfrm::{self, Input, XfrmInput},
    },
    tunnel::{pick_v4, pick_v6, V4Tunnel, V6Tunnel},
};
use kernel::prelude::*;

/// The handler's place on XFRM's ESP handler chain: above vti (100).
pub(crate) const PRIORITY: i32 = 110;

const AF_INET: u16 = b::AF_INET as u16;

/// The handler above vti on the ESP handler chain.
pub(crate) struct Observer;

impl XfrmInput for Observer {
    const PROTO: u8 = esp::IPPROTO_ESP;

    fn input(mut skb: OwnedSkb, family: u16, encap_type: i32, rs: ReadSide<'_>) -> Input {
        let netr = skb.net_ref();
        let net = netr.get();
        let shared = PerNet::get_rcu(net, &rs);
        // Only a tunnel that is up claims packets (`ip_tunnel_lookup()`,
        // `vti6_tnl_lookup()`): with none of the packet's family up (the
        // usual case where ip_vti and ip6_vti are loaded: each namespace
        // has their fallback devices, down), nothing to parse.
        let v6 = family != AF_INET;
        if !shared
            .tunnels
            .iter(rs)
            .any(|t| t.is_v6() == v6 && t.device().is_up())
        {
            return Input::Decline(skb);
        }
        let cfg = shared.settings.read(rs);
        let (rx_on, detect) = (cfg.rx_enabled(), cfg.invalid_spi_enabled());
        if !rx_on && !detect {
            return Input::Decline(skb);
        }
        let udp = encap_type != 0;
        if udp && encap_type != i32::from(esp::UDP_ENCAP_ESPINUDP) {
            return Input::Decline(skb);
        }
        // SPI 0 is never an SA's (the receive path counts it malformed).
        let mut o = OuterHeader::EMPTY;
        let Ok(h) = esp_headers::read(&mut skb, family, udp, &mut o) else {
            return Input::Decline(skb);
        };
        let Some(t) = claimed(shared, rs, family, skb.view().ifindex(), &o) else {
            return Input::Decline(skb);
        };
        let mark = t.1;
        if rx_on && t.0.serves(net) {
            // The receive path takes it as the tunnel would, or declines
            // it to the tunnel; its one SA lookup (with the tunnel's key)
            // also finds an unknown SPI, and reports it as below.
            let v = VtiRx {
                dev: t.0.device(),
                ikey: mark,
            };
            return esp_input::receive_vti(skb, family, encap_type, rs, v);
        }
        // As `xfrm_input()` will look it up for the tunnel (its `ikey` as
        // the mark); the reference found is dropped at once.
        if !detect || xfrm::lookup(net, mark, &o.daddr, h.spi, esp::IPPROTO_ESP, family).is_some() {
            return Input::Decline(skb);
        }
        // Seen and reported: counted as the receive path counts what it
        // sees, so that each packet counted as seen has one outcome.
        count_esp(shared, family, udp, Some(&h));
        if let Some(p) = o.esp_packet(family, h, udp) {
            invalid_spi::report_miss(net, skb.view().ifindex(), &p, shared);
        }
        Input::Decline(skb)
    }
}

/// The tunnel that claims a packet of `family` with outer header `o`,
/// received on device `ifindex`, if one does and would look its SA up,
/// with its input key (the mark XFRM looks SAs up with).
fn claimed<'a>(
    shared: &'a PerNet,
    rs: ReadSide<'a>,
    family: u16,
    ifindex: i32,
    o: &OuterHeader,
) -> Option<(&'a Vti, u32)> {
    let tunnels = shared.tunnels.iter(rs);
    if family == AF_INET {
        let cands = tunnels.filter_map(|t| {
            let p = t.v4()?;
            let c = V4Tunnel {
                local: p.local,
                remote: p.remote,
                link: p.link,
                up: t.device().is_up(),
            };
            Some((c, (t, p.ikey)))
        });
        let (mut s, mut d) = ([0u8; 4], [0u8; 4]);
        s.copy_from_slice(&o.saddr[..4]);
        d.copy_from_slice(&o.daddr[..4]);
        pick_v4(cands, ifindex, s, d)
    } else {
        let cands = tunnels.filter_map(|t| {
            let p = t.v6()?;
            let c = V6Tunnel {
                local: p.local,
                remote: p.remote,
                up: t.device().is_up(),
            };
            Some((c, (t, p)))
        });
        // A tunnel that does not receive discards before any lookup.
        pick_v6(cands, &o.saddr, &o.daddr).and_then(|(t, p)| p.receives.then_some((t, p.ikey)))
    }
}

/// The netdevice notifier's subscriber: keeps each namespace's vti and vti6
/// devices in its `PerNet::tunnels`, and its XFRM interfaces in
/// `PerNet::xfrm_ifs` (`tunnels.rs`).
pub(crate) struct Watch;

impl NetdevEvents for Watch {
    fn event(event: Event, dev: &Device) {
        // Every namespace whose devices come and go has its state: ours is
        // made before its devices' (subsystems' pernet init runs first) and
        // dropped after them.
        let shared = PerNet::get(dev.net());
        match event {
            Event::Register => {
                if let Some(vti) = Vti::of(dev) {
                    watch(
                        &shared.tunnels,
                        vti,
                        dev,
                        "invalid SPIs between its endpoints go unreported",
                    );
                } else if let Some(xi) = XfrmIf::of(dev) {
                    watch(&shared.xfrm_ifs, xi, dev, "its SAs are left to XFRM");
                }
            }
            Event::Unregister => {
                let gone = dev.as_ptr();
                if !shared.tunnels.is_empty() {
                    shared.tunnels.remove_where(|t| t.device().as_ptr() == gone);
                }
                if !shared.xfrm_ifs.is_empty() {
                    shared
                        .xfrm_ifs
                        .remove_where(|t| t.device().as_ptr() == gone);
                }
            }
        }
    }
}

/// Adds device `dev`'s `entry` to `slots`; if there is no memory for it,
/// says what goes without (`lost`).
fn watch<T: Send + Sync>(slots: &RcuSlots<T>, entry: T, dev: &Device, lost: &str) {
    let added = KBox::new(entry, GFP_KERNEL)
        .map_err(Error::from)
        .and_then(|e| slots.insert(e));
    if added.is_err() {
        pr_warn!(
            "device {} not watched (out of memory): {}\n",
            dev.ifindex(),
            lost
        );
    }
}
