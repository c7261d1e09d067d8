// SPDX-License-Identifier: GPL-2.0

//! Route-based tunnels: the namespace's tunnel devices an SA or a packet
//! belongs to, for the receive path (`esp_input.rs`) and the outbound hooks
//! (`output.rs`). The devices come from the netdevice notifier
//! (`vti::Watch`): the XFRM interfaces in `PerNet::xfrm_ifs`, the vti and
//! vti6 tunnels in `PerNet::tunnels`.
//!
//! XFRM interfaces on the receive path.
//! An SA with an interface ID (`if_id`) belongs to the XFRM interface of
//! that ID: after XFRM decapsulates one of its packets, `xfrmi_rcv_cb()`
//! makes the interface the packet's device (so the inbound policy check
//! and routing see the interface, and its counters count the packet). The
//! receive path does the same for the tunnel-mode SAs it takes
//! (`esp_input.rs`): it looks the interface up in the namespace's list
//! ([`device`]) before decrypting, hands the packet to XFRM if there is
//! none it can deliver to, and after decapsulation the packet enters the
//! interface (`OwnedSkb::enter_device`). The cases left to XFRM: the
//! interface down or missing, a collect-metadata interface (XFRM attaches
//! per-packet metadata), an interface serving another namespace (moved
//! away: XFRM also checks the policy and scrubs the packet for the
//! crossing), and transport mode.

use crate::{
    netns::PerNet,
    rust::{bindings as b, net::Net, netdev::Device, rcu::ReadSide, xfrm},
};

const AF_INET: u16 = b::AF_INET as u16;

/// The XFRM interface of namespace `net` that receives for SAs with
/// interface ID `if_id`, as `xfrmi_lookup()` finds it (IDs are unique
/// among a namespace's interfaces), if it is up; `None` otherwise.
pub(crate) fn xfrm_if<'a>(
    shared: &'a PerNet,
    rs: ReadSide<'a>,
    net: &Net,
    if_id: u32,
) -> Option<&'a Device> {
    shared
        .xfrm_ifs
        .iter(rs)
        .find(|xi| xi.if_id_in(net) == Some(if_id))
        .map(|xi| xi.device())
        .filter(|dev| dev.is_up())
}

/// The namespace's vti or vti6 device of index `ifindex`, if it is still
/// there (the tunnel a packet was claimed by, looked up again after an
/// asynchronous decryption).
pub(crate) fn vti_device<'a>(
    shared: &'a PerNet,
    rs: ReadSide<'a>,
    ifindex: i32,
) -> Option<&'a Device> {
    shared
        .tunnels
        .iter(rs)
        .map(|t| t.device())
        .find(|dev| dev.ifindex() == ifindex)
}

/// The namespace's vti devices (IPv4) that send between `saddr` and
/// `daddr`, each with its output key: the tunnels whose endpoints are these
/// addresses or any (`vti_state_check()`'s test of the SA `vti_xmit()`
/// found), which look their outbound SAs up with the output key as the
/// mark.
pub(crate) fn vti_senders<'a>(
    shared: &'a PerNet,
    rs: ReadSide<'a>,
    saddr: [u8; 4],
    daddr: [u8; 4],
) -> impl Iterator<Item = (&'a Device, u32)> + 'a {
    shared.tunnels.iter(rs).filter_map(move |t| {
        let p = t.v4()?;
        let ends = |end: [u8; 4], addr: [u8; 4]| end == [0; 4] || end == addr;
        (ends(p.local, saddr) && ends(p.remote, daddr)).then_some((t.device(), p.okey))
    })
}

/// The vti device whose packets SA `x` (tunnel mode, IPv4) encrypts: one
/// sending between the SA's addresses whose output key selects the SA's
/// mark. `None` for an SA without a mark, which also serves the policies
/// without one (the namespace's policy-based traffic).
pub(crate) fn vti_sender<'a>(
    shared: &'a PerNet,
    rs: ReadSide<'a>,
    x: &xfrm::State,
) -> Option<&'a Device> {
    let (v, m) = x.mark();
    if m == 0 || x.family() != AF_INET {
        return None;
    }
    let (mut s, mut d) = ([0u8; 4], [0u8; 4]);
    s.copy_from_slice(&x.saddr()[..4]);
    d.copy_from_slice(&x.daddr()[..4]);
    vti_senders(shared, rs, s, d)
        .find(|&(_, okey)| okey & m == v)
        .map(|(dev, _)| dev)
}
