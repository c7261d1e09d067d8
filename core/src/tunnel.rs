//! Which route-based tunnel claims an inbound ESP packet.
//!
//! The kernel's vti tunnels (`ip_vti`, `ip6_vti`) sit on XFRM's ESP handler
//! chain above everything else: an ESP packet between a tunnel's endpoints
//! is theirs, and XFRM looks its SA up with the tunnel's input key as the
//! mark. To report an unknown SPI there, the module must pick the tunnel
//! the kernel would pick, from the same facts: the outer addresses, the
//! device the packet arrived on, and each tunnel's endpoints, underlay
//! link and state. These are the kernel's rules, written as pure functions
//! over the candidates (in the order the kernel's hash chains hold them:
//! newest first):
//!
//! * [`pick_v4`]: `ip_tunnel_lookup()` called by `vti_input()` without a
//!   key. In turn: both endpoints equal; the remote equal and the local
//!   endpoint any; the local equal and the remote any (or a multicast
//!   local address equal to the tunnel's remote); both any. In each pass a
//!   tunnel on the packet's underlay link wins at once, else the first
//!   candidate found is kept (in the first pass, the last one: the kernel
//!   overwrites it there).
//! * [`pick_v6`]: `vti6_tnl_lookup()`: both endpoints equal; the local
//!   equal and the remote any; the remote equal and the local any; then the
//!   newest tunnel with both any. The underlay link plays no part.
//!
//! Tunnels that are down are never picked.

/// What the choice needs of an IPv4 vti tunnel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct V4Tunnel {
    /// Local endpoint (`parms.iph.saddr`), zero for any.
    pub local: [u8; 4],
    /// Remote endpoint (`parms.iph.daddr`), zero for any.
    pub remote: [u8; 4],
    /// The underlay device's index (`parms.link`), zero for any.
    pub link: i32,
    /// The tunnel device is up.
    pub up: bool,
}

/// What the choice needs of an IPv6 vti tunnel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct V6Tunnel {
    /// Local endpoint (`parms.laddr`), all zero for any.
    pub local: [u8; 16],
    /// Remote endpoint (`parms.raddr`), all zero for any.
    pub remote: [u8; 16],
    /// The tunnel device is up.
    pub up: bool,
}

const ANY4: [u8; 4] = [0; 4];
const ANY6: [u8; 16] = [0; 16];

/// The IPv4 tunnel, among the candidates (newest first, each with what the
/// caller calls it by), that claims a packet from `saddr` to `daddr`
/// received on device `link`.
pub fn pick_v4<X>(
    cands: impl Iterator<Item = (V4Tunnel, X)> + Clone,
    link: i32,
    saddr: [u8; 4],
    daddr: [u8; 4],
) -> Option<X> {
    let (local, remote) = (daddr, saddr);
    let multicast = local[0] & 0xf0 == 0xe0;
    let passes: [&dyn Fn(&V4Tunnel) -> bool; 4] = [
        &|t| t.local == local && t.remote == remote,
        &|t| t.remote == remote && t.local == ANY4,
        &|t| (t.local == local && t.remote == ANY4) || (multicast && t.remote == local),
        &|t| t.local == ANY4 && t.remote == ANY4,
    ];
    let mut cand = None;
    for (pass, matches) in passes.iter().enumerate() {
        for (t, x) in cands.clone() {
            if !t.up || !matches(&t) {
                continue;
            }
            if t.link == link {
                return Some(x);
            }
            if pass == 0 || cand.is_none() {
                cand = Some(x);
            }
        }
    }
    cand
}

/// The IPv6 tunnel, among the candidates (newest first, each with what the
/// caller calls it by), that claims a packet from `saddr` to `daddr`.
pub fn pick_v6<X>(
    cands: impl Iterator<Item = (V6Tunnel, X)> + Clone,
    saddr: &[u8; 16],
    daddr: &[u8; 16],
) -> Option<X> {
    let (local, remote) = (daddr, saddr);
    let passes: [&dyn Fn(&V6Tunnel) -> bool; 4] = [
        &|t| &t.local == local && &t.remote == remote,
        &|t| &t.local == local && t.remote == ANY6,
        &|t| &t.remote == remote && t.local == ANY6,
        &|t| t.local == ANY6 && t.remote == ANY6,
    ];
    for (pass, matches) in passes.iter().enumerate() {
        for (t, x) in cands.clone() {
            if pass == 3 && t.local == ANY6 && t.remote == ANY6 {
                // Only the newest wildcard tunnel is looked at, up or not.
                return t.up.then_some(x);
            }
            if t.up && matches(&t) {
                return Some(x);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 4] = [192, 0, 2, 1];
    const B: [u8; 4] = [192, 0, 2, 2];
    const C: [u8; 4] = [192, 0, 2, 3];

    fn t4(local: [u8; 4], remote: [u8; 4], link: i32) -> V4Tunnel {
        V4Tunnel {
            local,
            remote,
            link,
            up: true,
        }
    }

    fn v4(ts: &[V4Tunnel], link: i32, saddr: [u8; 4], daddr: [u8; 4]) -> Option<usize> {
        pick_v4(ts.iter().copied().zip(0..), link, saddr, daddr)
    }

    #[test]
    fn v4_exact_endpoints_first() {
        // Packet B -> A: the tunnel local A, remote B.
        let ts = [t4(A, ANY4, 0), t4(A, C, 0), t4(A, B, 0), t4(ANY4, ANY4, 0)];
        assert_eq!(v4(&ts, 2, B, A), Some(2));
        // From C: the tunnel to C.
        assert_eq!(v4(&ts, 2, C, A), Some(1));
    }

    #[test]
    fn v4_pass_order() {
        // Remote equal with local any beats local equal with remote any.
        let ts = [t4(A, ANY4, 0), t4(ANY4, B, 0)];
        assert_eq!(v4(&ts, 0, B, A), Some(1));
        // Without them, the local-only tunnel; then the wildcard.
        let ts = [t4(ANY4, ANY4, 0), t4(A, ANY4, 0)];
        assert_eq!(v4(&ts, 0, B, A), Some(1));
        let ts = [t4(ANY4, ANY4, 0), t4(C, ANY4, 0)];
        assert_eq!(v4(&ts, 0, B, A), Some(0));
        // Nothing for another local address.
        let ts = [t4(C, B, 0), t4(C, ANY4, 0)];
        assert_eq!(v4(&ts, 0, B, A), None);
    }

    #[test]
    fn v4_link_and_state() {
        // Same endpoints on two underlays: the packet's link wins.
        let ts = [t4(A, B, 7), t4(A, B, 5)];
        assert_eq!(v4(&ts, 5, B, A), Some(1));
        // Neither link: the kernel keeps the last of the first pass.
        assert_eq!(v4(&ts, 9, B, A), Some(1));
        // A later pass with the packet's link beats a first-pass candidate.
        let ts = [t4(A, B, 7), t4(ANY4, B, 9)];
        assert_eq!(v4(&ts, 9, B, A), Some(1));
        // In later passes the first candidate is kept.
        let ts = [t4(ANY4, B, 7), t4(ANY4, B, 8)];
        assert_eq!(v4(&ts, 9, B, A), Some(0));
        // Down tunnels are never picked.
        let mut down = t4(A, B, 0);
        down.up = false;
        assert_eq!(v4(&[down], 0, B, A), None);
        assert_eq!(v4(&[down, t4(ANY4, ANY4, 0)], 0, B, A), Some(1));
    }

    #[test]
    fn v4_multicast_local() {
        let group = [239, 1, 1, 1];
        let ts = [t4(C, group, 0)];
        assert_eq!(v4(&ts, 0, B, group), Some(0));
        // Not for a unicast destination equal to a tunnel's remote.
        let ts = [t4(C, A, 0)];
        assert_eq!(v4(&ts, 0, B, A), None);
    }

    fn a6(last: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[2] = 0x0d;
        a[3] = 0xb8;
        a[15] = last;
        a
    }

    fn t6(local: [u8; 16], remote: [u8; 16]) -> V6Tunnel {
        V6Tunnel {
            local,
            remote,
            up: true,
        }
    }

    fn v6(ts: &[V6Tunnel], saddr: [u8; 16], daddr: [u8; 16]) -> Option<usize> {
        pick_v6(ts.iter().copied().zip(0..), &saddr, &daddr)
    }

    #[test]
    fn v6_pass_order() {
        let (a, b, c) = (a6(1), a6(2), a6(3));
        let ts = [t6(ANY6, ANY6), t6(ANY6, b), t6(a, ANY6), t6(a, b)];
        assert_eq!(v6(&ts, b, a), Some(3));
        // Local equal and remote any beats remote equal and local any
        // (the other way round from IPv4).
        assert_eq!(v6(&ts[..3], b, a), Some(2));
        assert_eq!(v6(&ts[..2], b, a), Some(1));
        assert_eq!(v6(&ts[..1], b, a), Some(0));
        assert_eq!(v6(&[t6(c, b)], b, a), None);
    }

    #[test]
    fn v6_wildcard_is_the_newest_only() {
        let (a, b) = (a6(1), a6(2));
        let mut down = t6(ANY6, ANY6);
        down.up = false;
        // The newest wildcard tunnel is down: an older one is not looked at.
        assert_eq!(v6(&[down, t6(ANY6, ANY6)], b, a), None);
        assert_eq!(v6(&[t6(ANY6, ANY6), down], b, a), Some(0));
        // A down exact tunnel is skipped for the next pass.
        let mut exact = t6(a, b);
        exact.up = false;
        assert_eq!(v6(&[exact, t6(a, ANY6)], b, a), Some(1));
    }
}
