// SPDX-License-Identifier: GPL-2.0

//! Route-based tunnels: the receive path for the SAs of XFRM interfaces.
//!
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
//!
//! The namespace's XFRM interfaces (`Shared::xfrm_ifs`) come from the
//! netdevice notifier (`vti::Watch`), as its vti devices do.

use crate::{
    kapi::{net::Net, netdev::Device, rcu::ReadSide},
    netns::Shared,
};

/// The XFRM interface of namespace `net` that receives for SAs with
/// interface ID `if_id`, as `xfrmi_lookup()` finds it (IDs are unique
/// among a namespace's interfaces), if it is up; `None` otherwise.
pub(crate) fn device<'a>(
    shared: &'a Shared,
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
