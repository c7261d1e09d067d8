// SPDX-License-Identifier: GPL-2.0

//! The kernel's virtual tunnel interfaces seen from outside their drivers:
//! which devices are `vti` (`ip_vti`, private area `struct ip_tunnel`) or
//! `vti6` (`ip6_vti`, `struct ip6_tnl`), and their endpoints, underlay link
//! and input key; which are XFRM interfaces (`xfrm_interface`, `struct
//! xfrm_if`), and their interface ID. All read as the drivers' own receive
//! lookups read them (without RTNL, under RCU: a concurrent `ip link
//! change` may be seen before or after, as by the drivers).

use super::{
    bindings as b,
    net::Net,
    netdev::{DevRef, Device},
};
use core::ptr::{addr_of, read_volatile};

/// A vti or vti6 device, held.
///
/// # Invariants
///
/// `dev`'s private area is a `struct ip_tunnel` if `v6` is false, a
/// `struct ip6_tnl` if it is true (its rtnetlink kind said so).
pub struct Vti {
    dev: DevRef,
    v6: bool,
}

/// An IPv4 vti tunnel's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Vti4Parms {
    /// Local endpoint (`parms.iph.saddr`), zero for any.
    pub local: [u8; 4],
    /// Remote endpoint (`parms.iph.daddr`), zero for any.
    pub remote: [u8; 4],
    /// Underlay device index (`parms.link`).
    pub link: i32,
    /// Input key in host order (`parms.i_key`): the mark XFRM looks the
    /// tunnel's inbound SAs up with.
    pub ikey: u32,
    /// Output key in host order (`parms.o_key`): the mark `vti_xmit()`
    /// looks the tunnel's outbound policy and SAs up with.
    pub okey: u32,
}

/// An IPv6 vti tunnel's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Vti6Parms {
    /// Local endpoint (`parms.laddr`), all zero for any.
    pub local: [u8; 16],
    /// Remote endpoint (`parms.raddr`), all zero for any.
    pub remote: [u8; 16],
    /// Input key in host order (`parms.i_key`).
    pub ikey: u32,
    /// Whether the tunnel receives at all: its inner protocol is IPv6 or
    /// any, and its endpoints allow receiving (`IP6_TNL_F_CAP_RCV`, or a
    /// per-packet decision); otherwise `vti6` discards what it claims
    /// before any SA lookup.
    pub receives: bool,
}

impl Vti {
    /// `dev`, held, if it is a vti or vti6 device.
    pub fn of(dev: &Device) -> Option<Self> {
        let v6 = match dev.kind()?.to_bytes() {
            b"vti" => false,
            b"vti6" => true,
            _ => return None,
        };
        // INVARIANT: the kinds `ip_vti` and `ip6_vti` register, whose
        // private areas are as documented.
        Some(Self {
            dev: dev.hold(),
            v6,
        })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        self.dev.get()
    }

    /// Whether it is a vti6 device (IPv6 outside), not a vti one.
    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// Whether the tunnel serves namespace `net`, the one its packets come
    /// from and go to (`t->net`, where it was made; kept when the device
    /// moves to another namespace).
    pub fn serves(&self, net: &Net) -> bool {
        let p = self.dev.get().private();
        // SAFETY: a `struct ip_tunnel` or `struct ip6_tnl` (invariant) of a
        // held device; `net` is set at creation and never changes.
        let t_net = unsafe {
            if self.v6 {
                (*p.cast::<b::ip6_tnl>()).net
            } else {
                (*p.cast::<b::ip_tunnel>()).net
            }
        };
        t_net == net.as_ptr()
    }

    /// The parameters of a vti device (`None` for vti6).
    pub fn v4(&self) -> Option<Vti4Parms> {
        if self.v6 {
            return None;
        }
        let t = self.dev.get().private().cast::<b::ip_tunnel>();
        // SAFETY: a `struct ip_tunnel` (invariant) of a held device; each
        // field read once, as `ip_tunnel_lookup()` reads them.
        unsafe {
            let p = core::ptr::addr_of!((*t).parms);
            Some(Vti4Parms {
                local: core::ptr::read_volatile(core::ptr::addr_of!(
                    (*p).iph.__bindgen_anon_1.__bindgen_anon_1.saddr
                ))
                .to_ne_bytes(),
                remote: core::ptr::read_volatile(core::ptr::addr_of!(
                    (*p).iph.__bindgen_anon_1.__bindgen_anon_1.daddr
                ))
                .to_ne_bytes(),
                link: core::ptr::read_volatile(core::ptr::addr_of!((*p).link)),
                ikey: u32::from_be(core::ptr::read_volatile(core::ptr::addr_of!((*p).i_key))),
                okey: u32::from_be(core::ptr::read_volatile(core::ptr::addr_of!((*p).o_key))),
            })
        }
    }

    /// The parameters of a vti6 device (`None` for vti).
    pub fn v6(&self) -> Option<Vti6Parms> {
        if !self.v6 {
            return None;
        }
        let t = self.dev.get().private().cast::<b::ip6_tnl>();
        // SAFETY: a `struct ip6_tnl` (invariant) of a held device; fields
        // read once each, as `vti6_tnl_lookup()` and `vti6_input_proto()`
        // read them; `in6_addr` is 16 bytes in network order.
        unsafe {
            let p = core::ptr::addr_of!((*t).parms);
            let addr = |a: *const b::in6_addr| core::ptr::read_volatile(a.cast::<[u8; 16]>());
            let proto = core::ptr::read_volatile(core::ptr::addr_of!((*p).proto));
            let flags = core::ptr::read_volatile(core::ptr::addr_of!((*p).flags));
            Some(Vti6Parms {
                local: addr(core::ptr::addr_of!((*p).laddr)),
                remote: addr(core::ptr::addr_of!((*p).raddr)),
                ikey: u32::from_be(core::ptr::read_volatile(core::ptr::addr_of!((*p).i_key))),
                receives: (u32::from(proto) == b::IPPROTO_IPV6 || proto == 0)
                    && flags & (b::IP6_TNL_F_CAP_RCV | b::IP6_TNL_F_CAP_PER_PACKET) != 0,
            })
        }
    }
}

/// An XFRM interface, held.
///
/// # Invariants
///
/// `dev`'s private area is a `struct xfrm_if` (its rtnetlink kind said so).
pub struct XfrmIf {
    dev: DevRef,
}

impl XfrmIf {
    /// `dev`, held, if it is an XFRM interface.
    pub fn of(dev: &Device) -> Option<Self> {
        if dev.kind()?.to_bytes() != b"xfrm" {
            return None;
        }
        // INVARIANT: the kind `xfrm_interface` registers.
        Some(Self { dev: dev.hold() })
    }

    /// The device.
    pub fn device(&self) -> &Device {
        self.dev.get()
    }

    /// The interface ID (`p.if_id`) whose SAs the interface receives for
    /// in namespace `net`, as `xfrmi_lookup()` matches it: `None` for a
    /// collect-metadata interface (`p.collect_md`, which takes the ID from
    /// each packet) and for one serving another namespace (`xi->net`, the
    /// one it was made in, kept when the device moves).
    pub fn if_id_in(&self, net: &Net) -> Option<u32> {
        let xi = self.dev.get().private().cast::<b::xfrm_if>();
        // SAFETY: a `struct xfrm_if` (invariant) of a held device; each
        // field read once, as `xfrmi_lookup()` and `xfrmi_rcv_cb()` read
        // them (`net` never changes after creation).
        unsafe {
            if (*xi).net != net.as_ptr() || read_volatile(addr_of!((*xi).p.collect_md)) {
                return None;
            }
            Some(read_volatile(addr_of!((*xi).p.if_id)))
        }
    }
}
