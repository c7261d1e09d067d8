// SPDX-License-Identifier: GPL-2.0

//! Outbound tunnel-mode ESP over IPv4: the outer DF bit and
//! pre-fragmentation, following the product specification's table (see
//! `core/src/frag.rs` and Documentation/design.rst for why each hook sits
//! where it does).
//!
//! Three IPv4 hooks, registered in a namespace the first time a DF or
//! pre-fragmentation setting is made there (`PerNet::engage_outbound`; until
//! then no packet pays for them), and inert (one flag test) while every
//! setting is back at its default:
//!
//! - `PRE_ROUTING`: a received packet with DF set gets `skb->ignore_df`,
//!   so that `ip_forward()` does not drop it with ICMP fragmentation-needed
//!   before we know which SA it goes to (the "DF clear, inner DF 1" rows
//!   must be fragmented). Every such packet meets `POST_ROUTING`, which
//!   takes the flag away again unless that row applies, so plain forwarding
//!   keeps Linux's behaviour (`ip_fragment()` then sends the same ICMP
//!   `ip_forward()` would have sent).
//! - `POST_ROUTING` of the inner packet in `xfrm4_output()`, last priority:
//!   the decision of `frag::decide()` with the SA's route MTU. Fragmenting
//!   before encryption happens here (`ip_do_fragment()`, each fragment
//!   handed to `xfrm_output()`); drops are left to XFRM's own size check
//!   (`xfrm4_tunnel_check_size()`: ICMP fragmentation-needed with the MTU the
//!   sender must use) once `ignore_df` is off.
//! - `LOCAL_OUT` of the outer packet (`xfrm_output_resume()`), last
//!   priority: the outer DF bit follows the mode; a packet that does not fit
//!   is counted as fragmented after encryption, its DF bit cleared.

use crate::{
    counters::bump,
    esp::Family,
    frag::{self, Action, FragInput, PreFrag},
    netns::PerNet,
    nl::stats_attr as stat,
    rust::{
        netdev::Device,
        netfilter::{self, HookPoint, HookSpec, HookState, Verdict},
        skb::SkBuff,
        xfrm,
    },
    settings::{SaKey, Snapshot},
    tunnels,
};

/// `PRE_ROUTING` after connection tracking and destination NAT.
const PRE_PRIORITY: i32 = 0;
/// Last, after NAT and every filter: what we hand on is final.
const LAST_PRIORITY: i32 = i32::MAX;

/// The outbound hooks (IPv4 only: IPv6 has no DF bit and XFRM already
/// fragments IPv6 tunnel traffic before encryption, see the admin guide).
pub(crate) static HOOKS: [HookSpec; 3] = [
    HookSpec {
        family: netfilter::Family::Ipv4,
        point: HookPoint::PreRouting,
        priority: PRE_PRIORITY,
    },
    HookSpec {
        family: netfilter::Family::Ipv4,
        point: HookPoint::PostRouting,
        priority: LAST_PRIORITY,
    },
    HookSpec {
        family: netfilter::Family::Ipv4,
        point: HookPoint::LocalOut,
        priority: LAST_PRIORITY,
    },
];

const ETH_P_IP: u16 = crate::rust::bindings::ETH_P_IP as u16;
const AF_INET: u16 = crate::rust::bindings::AF_INET as u16;

/// The outbound hooks, registered with the namespace's state.
pub(crate) struct Outbound;

impl netfilter::Hook for Outbound {
    type Data = PerNet;

    fn hook(st: &PerNet, skb: &mut SkBuff, state: &HookState<'_>) -> Verdict {
        let snap = st.settings.read(state.rcu());
        if skb.protocol() != ETH_P_IP {
            return Verdict::Accept;
        }
        if !snap.frag_engaged() {
            // A packet marked while the settings were engaged must not keep
            // its mark if they were just withdrawn.
            if state.point() == Some(HookPoint::PostRouting) && skb.ignore_df() {
                let mut buf = [0u8; HDR_BYTES];
                if ipv4(skb, &mut buf).is_some_and(|ip| marked_by_us(skb, &ip)) {
                    skb.set_ignore_df(false);
                }
            }
            return Verdict::Accept;
        }
        match state.point() {
            Some(HookPoint::PreRouting) => {
                pre_routing(skb);
                Verdict::Accept
            }
            Some(HookPoint::PostRouting) => post_routing(st, snap, skb, state),
            Some(HookPoint::LocalOut) => local_out(st, snap, skb, state),
            _ => Verdict::Accept,
        }
    }
}

/// Bytes of header copied: an IPv4 header with options, UDP and the SPI.
const HDR_BYTES: usize = 60 + 8 + 4;

fn ipv4(skb: &SkBuff, buf: &mut [u8; HDR_BYTES]) -> Option<frag::Ipv4Info> {
    skb.network_bytes(buf).and_then(frag::ipv4_info)
}

/// Received packets with DF set: let them past `ip_forward()`'s MTU check.
fn pre_routing(skb: &mut SkBuff) {
    let mut buf = [0u8; HDR_BYTES];
    if let Some(ip) = ipv4(skb, &mut buf) {
        // Reassembled packets already ignore DF (conntrack's defrag); they
        // keep `frag_max_size`, which `ip_forward()` still checks.
        if ip.df && !skb.ignore_df() {
            skb.set_ignore_df(true);
        }
    }
}

/// Whether `pre_routing()` set `ignore_df` on this packet: forwarded, DF
/// set, not reassembled (which is the other source of `ignore_df` on
/// received packets).
fn marked_by_us(skb: &SkBuff, ip: &frag::Ipv4Info) -> bool {
    skb.ipcb_flags() & crate::rust::bindings::IPSEC_RS_IPSKB_FORWARDED as u16 != 0
        && ip.df
        && skb.ignore_df()
        && skb.ipcb_frag_max_size() == 0
}

fn post_routing(st: &PerNet, snap: &Snapshot, skb: &mut SkBuff, state: &HookState<'_>) -> Verdict {
    let mut buf = [0u8; HDR_BYTES];
    let Some(ip) = ipv4(skb, &mut buf) else {
        return Verdict::Accept;
    };
    let ours = marked_by_us(skb, &ip);
    let x = match skb.dst_xfrm() {
        Some(x) if x.is_tunnel() && x.family() == AF_INET && !skb.is_gso() => x,
        _ => {
            // Not going into an IPv4 tunnel (or a GSO packet, which XFRM
            // segments itself): Linux's behaviour.
            if ours {
                skb.set_ignore_df(false);
            }
            return Verdict::Accept;
        }
    };
    let tunnel = tunnel_of(st, state, x);
    let ifindex = tunnel.map_or(state.out_ifindex(), |dev| dev.ifindex());
    let r = snap.frag_for(&SaKey::of_state(x), ifindex as u32);
    let action = frag::decide(&FragInput {
        // A route-based tunnel's MTU has decided already: what exceeded it
        // was fragmented before the tunnel, i.e. before encryption; what
        // did not is fragmented after (see `tunnel_of`).
        prefrag: if tunnel.is_some() {
            PreFrag::Disabled
        } else {
            r.prefrag
        },
        df_mode: r.df,
        inner_family: Family::V4,
        inner_df: ip.df,
        inner_len: skb.len(),
        inner_hdr_len: ip.hdr_len,
        // The bundle's MTU already is the inner MTU (`xfrm_state_mtu()`).
        overhead: 0,
        path_mtu: skb.dst_mtu(),
    });
    apply(st, skb, state, &ip, ours, action)
}

/// Carries out at `POST_ROUTING` what `frag::decide` chose for an IPv4
/// packet bound for an IPv4 tunnel SA (`ours`: its DF bit was set by the
/// module's own policy).
fn apply(
    st: &PerNet,
    skb: &mut SkBuff,
    state: &HookState<'_>,
    ip: &frag::Ipv4Info,
    ours: bool,
    action: Action,
) -> Verdict {
    match action {
        Action::SendAsIs { .. } => {
            if ours {
                skb.set_ignore_df(false);
            }
            Verdict::Accept
        }
        Action::FragmentBeforeEncryption {
            max_inner_fragment_len,
            ..
        } => {
            bump(&st.counters, stat::FRAG_BEFORE_ENC);
            let max = u16::try_from(max_inner_fragment_len).unwrap_or(u16::MAX);
            let (stolen, res) = xfrm::fragment_to_xfrm(skb, state, max);
            if res.is_err() {
                bump(&st.counters, stat::OUT_ERRORS);
            }
            Verdict::Stolen(stolen)
        }
        Action::FragmentAfterEncryption { .. } => {
            // DF clear with inner DF set: XFRM's size check must let the
            // packet through; the outer DF bit is cleared at LOCAL_OUT.
            if ip.df {
                skb.set_ignore_df(true);
            }
            Verdict::Accept
        }
        Action::DropIcmpFragNeeded { .. } => {
            if ours {
                skb.set_ignore_df(false);
            }
            if !skb.ignore_df() {
                // `xfrm4_tunnel_check_size()` drops it and sends ICMP
                // fragmentation-needed with the bundle's MTU (or reports
                // EMSGSIZE to a local socket).
                bump(&st.counters, stat::DF_DROPPED);
            }
            // Else a local socket asked to ignore DF (IP_PMTUDISC_PROBE):
            // XFRM encrypts it whole, as without the module.
            Verdict::Accept
        }
    }
}

fn local_out(st: &PerNet, snap: &Snapshot, skb: &mut SkBuff, state: &HookState<'_>) -> Verdict {
    if skb.ipcb_flags() & crate::rust::bindings::IPSEC_RS_IPSKB_XFRM_TRANSFORMED as u16 == 0
        || skb.is_gso()
    {
        return Verdict::Accept;
    }
    let mut buf = [0u8; HDR_BYTES];
    let Some(ip) = ipv4(skb, &mut buf) else {
        return Verdict::Accept;
    };
    let Some(spi) = skb
        .network_bytes(&mut buf)
        .and_then(|h| frag::outer_esp_spi(h, &ip))
    else {
        return Verdict::Accept;
    };
    let mut daddr = [0u8; 16];
    daddr[..4].copy_from_slice(&ip.daddr);
    let find = |mark| {
        xfrm::lookup(
            state.net(),
            mark,
            &daddr,
            spi,
            crate::esp::IPPROTO_ESP,
            AF_INET,
        )
    };
    // The packet keeps its own mark; a vti found its SA with the tunnel's
    // output key instead.
    let Some(x) = find(skb.mark()).or_else(|| {
        tunnels::vti_senders(st, state.rcu(), ip.saddr, ip.daddr).find_map(|(_, okey)| find(okey))
    }) else {
        return Verdict::Accept;
    };
    if !x.is_tunnel() {
        // Transport mode: no outer header of ours to change.
        return Verdict::Accept;
    }
    let ifindex = tunnel_of(st, state, &x).map_or(state.out_ifindex(), |dev| dev.ifindex());
    let r = snap.frag_for(&SaKey::of_state(&x), ifindex as u32);
    drop(x);
    let mtu = skb.ip_output_mtu(state);
    if mtu == 0 {
        // No route (cannot happen on this path): nothing to decide.
        return Verdict::Accept;
    }
    let fits = skb.len() <= mtu;
    let d = frag::outer_after_encryption(r.df, ip.df, fits);
    if d.fragment_after {
        bump(&st.counters, stat::FRAG_AFTER_ENC);
    }
    if d.df != ip.df && skb.set_ipv4_df(d.df).is_err() {
        bump(&st.counters, stat::OUT_ERRORS);
        return Verdict::Drop;
    }
    Verdict::Accept
}

/// The route-based tunnel whose packets the outbound SA `x` encrypts: the
/// XFRM interface of its interface ID, or the vti whose output key selects
/// its mark (`tunnels::vti_sender`). Such an SA takes the tunnel's interface
/// settings (`ipsec-rs set if vti1`, not the egress interface's), and the
/// tunnel's MTU decides where a packet is fragmented, as the configuration
/// guide says of VTIs: a packet bigger than the tunnel's MTU was
/// fragmented by IP before it entered the tunnel (before encryption), or
/// refused with ICMP fragmentation-needed if its DF bit is set; one that
/// fits the tunnel but not the path once encrypted passes the driver's own
/// size check (`vti_xmit()`, `xfrmi_xmit2()`) only with DF clear, and is
/// fragmented after encryption. So pre-fragmentation settings do not apply
/// to these SAs; the DF mode does.
fn tunnel_of<'a>(st: &'a PerNet, state: &'a HookState<'_>, x: &xfrm::State) -> Option<&'a Device> {
    let rs = state.rcu();
    match x.if_id() {
        0 => tunnels::vti_sender(st, rs, x),
        if_id => tunnels::xfrm_if(st, rs, state.net(), if_id),
    }
}
