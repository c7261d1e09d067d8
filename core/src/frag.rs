//! Outbound DF-bit and pre-fragmentation decision for tunnel-mode ESP.
//!
//! Two settings, each configurable globally, per interface and per SA (the most specific one
//! wins, see [`resolve`]):
//!
//! * [`DfMode`]: the DF bit of the outer IPv4 header: always clear, always set, or copied
//!   from the inner packet;
//! * [`PreFrag`]: whether a packet that would not fit the path MTU once encapsulated is
//!   fragmented *before* encryption (each fragment becomes its own ESP packet, so the peer
//!   never reassembles ESP) or *after* it.
//!
//! [`decide`] turns the resolved settings, the inner packet and the path MTU into an
//! [`Action`].  For an IPv4 inner packet that does not fit, it follows the product
//! specification's table (the vendor guide's chapter 3, table 2) row for row:
//!
//! | pre-frag | DF mode | inner DF | action |
//! |---|---|---|---|
//! | enabled  | clear | 0 | fragment before encryption |
//! | enabled  | clear | 1 | fragment before encryption |
//! | disabled | clear | 0 | fragment after encryption |
//! | disabled | clear | 1 | fragment after encryption |
//! | enabled  | set   | 0 | fragment before encryption |
//! | enabled  | set   | 1 | drop, ICMP fragmentation needed |
//! | disabled | set   | 0 | fragment after encryption |
//! | disabled | set   | 1 | drop, ICMP fragmentation needed |
//! | enabled  | copy  | 0 | fragment before encryption |
//! | enabled  | copy  | 1 | drop, ICMP fragmentation needed |
//! | disabled | copy  | 0 | fragment after encryption |
//! | disabled | copy  | 1 | drop, ICMP fragmentation needed |
//!
//! A packet that fits is never fragmented; only the outer DF bit follows the mode (clear: 0,
//! set: 1, copy: the inner DF bit).
//!
//! IPv6 has no DF bit and IPv6 packets are never fragmented on the way, so an IPv6 inner
//! packet counts as "DF set" for `copy`.  When it does not fit: with pre-fragmentation it is
//! fragmented before encryption (IPv6 fragment header); without, the sender gets an ICMPv6
//! Packet Too Big with the usable MTU, unless that MTU would be below the IPv6 minimum of
//! 1280, in which case the tunnel must fragment after encryption (RFC 8200 section 5).
//!
//! Everything here is pure; the functions may be called concurrently from any context.

use super::esp::{Family, Ipv4Header, IPPROTO_ESP, IPPROTO_UDP, UDP_HDR_LEN};

/// Outer IPv4 DF-bit policy (RFC 4301 section 8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DfMode {
    /// Outer DF always 0.
    Clear,
    /// Outer DF always 1.
    Set,
    /// Outer DF copied from the inner header (IPv6 inner: 1).
    Copy,
}

/// Pre-fragmentation policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreFrag {
    /// Fragment the inner packet before encryption when the result would not fit.
    Enabled,
    /// Encrypt whole packets; the outer packet is fragmented if needed.
    Disabled,
}

/// DF mode when no scope sets one: copy, as the vendor guide and Linux XFRM do.
pub const DEFAULT_DF_MODE: DfMode = DfMode::Copy;
/// Pre-fragmentation when no scope sets it: disabled, as the vendor guide does.
pub const DEFAULT_PREFRAG: PreFrag = PreFrag::Disabled;
/// Smallest MTU every IPv6 link supports (RFC 8200 section 5).
pub const IPV6_MIN_MTU: u32 = 1280;

/// The settings of one scope (global, interface or SA); `None` means "inherit".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragSettings {
    /// DF-bit mode, if this scope sets it.
    pub df: Option<DfMode>,
    /// Pre-fragmentation, if this scope sets it.
    pub prefrag: Option<PreFrag>,
}

/// Settings after precedence has been applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Effective DF-bit mode.
    pub df: DfMode,
    /// Effective pre-fragmentation.
    pub prefrag: PreFrag,
}

/// Applies precedence SA > interface > global > built-in default, for each setting
/// independently.
pub const fn resolve(sa: FragSettings, iface: FragSettings, global: FragSettings) -> Resolved {
    const fn pick<T: Copy>(a: Option<T>, b: Option<T>, c: Option<T>, d: T) -> T {
        match (a, b, c) {
            (Some(x), _, _) | (None, Some(x), _) | (None, None, Some(x)) => x,
            (None, None, None) => d,
        }
    }
    Resolved {
        df: pick(sa.df, iface.df, global.df, DEFAULT_DF_MODE),
        prefrag: pick(sa.prefrag, iface.prefrag, global.prefrag, DEFAULT_PREFRAG),
    }
}

/// Everything [`decide`] needs to know about one outbound packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragInput {
    /// Effective pre-fragmentation.
    pub prefrag: PreFrag,
    /// Effective DF mode.
    pub df_mode: DfMode,
    /// Family of the inner packet.
    pub inner_family: Family,
    /// DF bit of the inner IPv4 header (ignored for IPv6).
    pub inner_df: bool,
    /// Total length of the inner packet, headers included.
    pub inner_len: u32,
    /// Length of the part of the inner packet every fragment repeats: the IPv4 header
    /// (IHL * 4) or the IPv6 header plus its unfragmentable extension headers.
    pub inner_hdr_len: u32,
    /// Bytes encapsulation adds in the worst case, see [`esp_tunnel_overhead`].
    pub overhead: u32,
    /// Path MTU towards the peer.
    pub path_mtu: u32,
}

/// What to do with an outbound packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It fits: encapsulate and send with this outer DF bit.
    SendAsIs {
        /// Outer IPv4 DF bit.
        outer_df: bool,
    },
    /// Fragment the inner packet, then encapsulate every fragment.
    FragmentBeforeEncryption {
        /// Outer IPv4 DF bit of each ESP packet.
        outer_df: bool,
        /// Largest inner fragment, headers included (and, for IPv6, the 8-byte fragment
        /// header).  Its fragmentable part is a multiple of 8 bytes and it fits the path MTU
        /// after encapsulation.
        max_inner_fragment_len: u32,
    },
    /// Encapsulate whole, let the outer IP layer fragment; the peer reassembles before
    /// decryption.
    FragmentAfterEncryption {
        /// Outer DF bit: always `false`, or the packet could not be fragmented.
        outer_df: bool,
    },
    /// Drop and send ICMP "fragmentation needed" (IPv4) or "packet too big" (IPv6).
    DropIcmpFragNeeded {
        /// The MTU the sender must use: path MTU minus the encapsulation overhead.
        mtu: u32,
    },
}

/// Worst-case bytes added by tunnel-mode ESP: outer IP header, optional UDP header (RFC
/// 3948), ESP header, IV, padding, pad-length and next-header bytes, ICV.  `block_size` is the
/// cipher's block size (1 for stream modes such as GCM); ESP aligns to at least 4 bytes, so
/// the padding is at most `max(block_size, 4) - 1`.
#[cfg_attr(MODULE, expect(dead_code, reason = "used by: tests"))]
pub const fn esp_tunnel_overhead(
    outer: Family,
    iv_len: u32,
    icv_len: u32,
    block_size: u32,
    udp_encap: bool,
) -> u32 {
    let ip = match outer {
        Family::V4 => 20,
        Family::V6 => 40,
    };
    let udp = if udp_encap { 8 } else { 0 };
    let align = if block_size > 4 { block_size } else { 4 };
    let fixed: u32 = ip + udp + 8 + 2; // IP, UDP, SPI + seq, pad length + next header
    fixed
        .saturating_add(iv_len)
        .saturating_add(icv_len)
        .saturating_add(align - 1)
}

/// Largest inner fragment (headers included) whose encapsulation fits `inner_mtu`, or `None`
/// if not even 8 bytes of payload fit.  `extra` is the per-fragment header the fragmentation
/// adds (8 for the IPv6 fragment header, 0 for IPv4).
fn max_fragment(inner_mtu: u32, hdr_len: u32, extra: u32) -> Option<u32> {
    let head = hdr_len.checked_add(extra)?;
    let room = inner_mtu.checked_sub(head)? & !7;
    if room == 0 {
        None
    } else {
        head.checked_add(room)
    }
}

/// Decides how to send one packet; see the module documentation for the rules.
pub fn decide(i: &FragInput) -> Action {
    let inner_df = match i.inner_family {
        Family::V4 => i.inner_df,
        Family::V6 => true,
    };
    let outer_df = match i.df_mode {
        DfMode::Clear => false,
        DfMode::Set => true,
        DfMode::Copy => inner_df,
    };
    let inner_mtu = i.path_mtu.saturating_sub(i.overhead);
    if i.inner_len <= inner_mtu {
        return Action::SendAsIs { outer_df };
    }
    let frag_before = |extra| match max_fragment(inner_mtu, i.inner_hdr_len, extra) {
        Some(max_inner_fragment_len) => Action::FragmentBeforeEncryption {
            outer_df,
            max_inner_fragment_len,
        },
        // Not even the smallest fragment fits: leave it to the outer IP layer.
        None => Action::FragmentAfterEncryption { outer_df: false },
    };
    match i.inner_family {
        Family::V4 => {
            if inner_df && i.df_mode != DfMode::Clear {
                Action::DropIcmpFragNeeded { mtu: inner_mtu }
            } else if i.prefrag == PreFrag::Enabled {
                frag_before(0)
            } else {
                Action::FragmentAfterEncryption { outer_df: false }
            }
        }
        Family::V6 => {
            if i.prefrag == PreFrag::Enabled {
                frag_before(8)
            } else if inner_mtu >= IPV6_MIN_MTU {
                Action::DropIcmpFragNeeded { mtu: inner_mtu }
            } else {
                Action::FragmentAfterEncryption { outer_df: false }
            }
        }
    }
}

/// What happens to the outer IPv4 header of a tunnel-mode ESP packet once it is encrypted
/// (the second half of the table: where the inner packet can no longer be seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OuterDecision {
    /// The DF bit the outer header must carry.
    pub df: bool,
    /// The packet does not fit and is left to the outer IP layer to fragment (the "fragment
    /// after encryption" rows).
    pub fragment_after: bool,
}

/// Outer DF bit of an encrypted tunnel-mode packet.  `xfrm_df` is the bit XFRM wrote (the
/// inner packet's DF bit, or 0 for SAs with `XFRM_STATE_NOPMTUDISC`); `fits` says whether the
/// packet fits the MTU of its route.
///
/// A packet that fits gets the mode's bit (clear: 0, set: 1, copy: XFRM's).  One that does
/// not fit reached this point because [`decide`] chose "fragment after encryption", so its DF
/// bit is cleared for the IP layer to fragment it; except with `copy`, which keeps XFRM's bit
/// (and so Linux's own behaviour) whatever it is.
pub const fn outer_after_encryption(mode: DfMode, xfrm_df: bool, fits: bool) -> OuterDecision {
    if fits {
        let df = match mode {
            DfMode::Clear => false,
            DfMode::Set => true,
            DfMode::Copy => xfrm_df,
        };
        return OuterDecision {
            df,
            fragment_after: false,
        };
    }
    match mode {
        DfMode::Copy => OuterDecision {
            df: xfrm_df,
            fragment_after: !xfrm_df,
        },
        DfMode::Clear | DfMode::Set => OuterDecision {
            df: false,
            fragment_after: true,
        },
    }
}

/// The fields of an IPv4 header the outbound path needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Info {
    /// Header length in bytes (IHL * 4).
    pub hdr_len: u32,
    /// The DF bit.
    pub df: bool,
    /// Protocol.
    pub proto: u8,
    /// Source address.
    pub saddr: [u8; 4],
    /// Destination address.
    pub daddr: [u8; 4],
}

/// Reads an IPv4 header at the start of `hdr`; `None` if it is not one (version, IHL).
pub fn ipv4_info(hdr: &[u8]) -> Option<Ipv4Info> {
    let h = Ipv4Header::parse(hdr).ok()?;
    Some(Ipv4Info {
        hdr_len: h.hdr_len as u32,
        df: h.df(),
        proto: h.proto,
        saddr: h.saddr,
        daddr: h.daddr,
    })
}

/// The SPI of an outer IPv4 packet XFRM built: ESP (protocol 50) or ESP in UDP (RFC 3948:
/// any ports, since XFRM only builds UDP for encapsulation, and a non-zero first word).
/// `None` for anything else, or if the header is cut short.
pub fn outer_esp_spi(pkt: &[u8], ip: &Ipv4Info) -> Option<u32> {
    let at = usize::try_from(ip.hdr_len).ok()?;
    let at = match ip.proto {
        IPPROTO_ESP => at,
        IPPROTO_UDP => at.checked_add(UDP_HDR_LEN)?,
        _ => return None,
    };
    let w = pkt.get(at..at.checked_add(4)?)?;
    let spi = u32::from_be_bytes([*w.first()?, *w.get(1)?, *w.get(2)?, *w.get(3)?]);
    if spi == 0 {
        None
    } else {
        Some(spi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AES-GCM-128 (IV 8, ICV 16), IPv4 outer, no UDP: 20 + 8 + 8 + 3 + 2 + 16 = 57.
    const GCM_V4: u32 = esp_tunnel_overhead(Family::V4, 8, 16, 1, false);

    fn input(prefrag: PreFrag, df_mode: DfMode, inner_df: bool, inner_len: u32) -> FragInput {
        FragInput {
            prefrag,
            df_mode,
            inner_family: Family::V4,
            inner_df,
            inner_len,
            inner_hdr_len: 20,
            overhead: GCM_V4,
            path_mtu: 1500,
        }
    }

    #[derive(Debug, PartialEq)]
    enum Row {
        Before,
        After,
        Drop,
    }

    #[test]
    fn overhead() {
        assert_eq!(GCM_V4, 57);
        // AES-CBC + HMAC-SHA256-128, IPv6 outer, UDP: 40 + 8 + 8 + 16 + 15 + 2 + 16.
        assert_eq!(esp_tunnel_overhead(Family::V6, 16, 16, 16, true), 105);
        assert_eq!(
            esp_tunnel_overhead(Family::V4, u32::MAX, 16, 16, true),
            u32::MAX
        );
    }

    #[test]
    fn specification_table() {
        use DfMode::*;
        use PreFrag::*;
        let table = [
            (Enabled, Clear, false, Row::Before),
            (Enabled, Clear, true, Row::Before),
            (Disabled, Clear, false, Row::After),
            (Disabled, Clear, true, Row::After),
            (Enabled, Set, false, Row::Before),
            (Enabled, Set, true, Row::Drop),
            (Disabled, Set, false, Row::After),
            (Disabled, Set, true, Row::Drop),
            (Enabled, Copy, false, Row::Before),
            (Enabled, Copy, true, Row::Drop),
            (Disabled, Copy, false, Row::After),
            (Disabled, Copy, true, Row::Drop),
        ];
        for (prefrag, df, inner_df, want) in table {
            let i = input(prefrag, df, inner_df, 1500);
            let got = decide(&i);
            let row = match got {
                Action::FragmentBeforeEncryption {
                    outer_df,
                    max_inner_fragment_len: m,
                } => {
                    // Outer DF of the fragments follows the mode.
                    assert_eq!(outer_df, df == Set, "{i:?}");
                    // 1500 - 57 = 1443 → 20 + 1416.
                    assert_eq!(m, 1436);
                    assert_eq!((m - 20) % 8, 0);
                    assert!(m + GCM_V4 <= 1500);
                    Row::Before
                }
                Action::FragmentAfterEncryption { outer_df } => {
                    assert!(!outer_df);
                    Row::After
                }
                Action::DropIcmpFragNeeded { mtu } => {
                    assert_eq!(mtu, 1500 - 57);
                    Row::Drop
                }
                Action::SendAsIs { .. } => panic!("too big packet sent as is: {i:?}"),
            };
            assert_eq!(row, want, "{prefrag:?} {df:?} inner_df={inner_df}");
        }
    }

    #[test]
    fn packets_that_fit_are_never_fragmented() {
        for prefrag in [PreFrag::Enabled, PreFrag::Disabled] {
            for (df, inner_df, outer) in [
                (DfMode::Clear, false, false),
                (DfMode::Clear, true, false),
                (DfMode::Set, false, true),
                (DfMode::Set, true, true),
                (DfMode::Copy, false, false),
                (DfMode::Copy, true, true),
            ] {
                for len in [20, 576, 1443] {
                    assert_eq!(
                        decide(&input(prefrag, df, inner_df, len)),
                        Action::SendAsIs { outer_df: outer }
                    );
                }
            }
        }
        // One byte more does not fit.
        assert_ne!(
            decide(&input(PreFrag::Disabled, DfMode::Clear, false, 1444)),
            Action::SendAsIs { outer_df: false }
        );
    }

    #[test]
    fn ipv6_inner() {
        let v6 = |prefrag, df, len, mtu| FragInput {
            prefrag,
            df_mode: df,
            inner_family: Family::V6,
            inner_df: false,
            inner_len: len,
            inner_hdr_len: 40,
            overhead: GCM_V4,
            path_mtu: mtu,
        };
        assert_eq!(
            decide(&v6(PreFrag::Disabled, DfMode::Copy, 1400, 1500)),
            Action::SendAsIs { outer_df: true }
        );
        assert_eq!(
            decide(&v6(PreFrag::Disabled, DfMode::Clear, 1400, 1500)),
            Action::SendAsIs { outer_df: false }
        );
        assert_eq!(
            decide(&v6(PreFrag::Disabled, DfMode::Clear, 1500, 1500)),
            Action::DropIcmpFragNeeded { mtu: 1443 }
        );
        // 1443 - 40 - 8 = 1395 → 1392 → 40 + 8 + 1392.
        assert_eq!(
            decide(&v6(PreFrag::Enabled, DfMode::Clear, 1500, 1500)),
            Action::FragmentBeforeEncryption {
                outer_df: false,
                max_inner_fragment_len: 1440
            }
        );
        // Path MTU too small to advertise (< 1280 after overhead): fragment after.
        assert_eq!(
            decide(&v6(PreFrag::Disabled, DfMode::Set, 1300, 1300)),
            Action::FragmentAfterEncryption { outer_df: false }
        );
    }

    #[test]
    fn tiny_mtu_falls_back() {
        let mut i = input(PreFrag::Enabled, DfMode::Clear, false, 100);
        i.path_mtu = 80;
        assert_eq!(
            decide(&i),
            Action::FragmentAfterEncryption { outer_df: false }
        );
        i.path_mtu = 0;
        assert_eq!(
            decide(&i),
            Action::FragmentAfterEncryption { outer_df: false }
        );
        i.df_mode = DfMode::Set;
        i.inner_df = true;
        assert_eq!(decide(&i), Action::DropIcmpFragNeeded { mtu: 0 });
    }

    fn v4hdr(proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![
            0x45,
            0,
            0,
            0,
            0,
            0,
            (frag >> 8) as u8,
            frag as u8,
            64,
            proto,
            0,
            0,
        ];
        h.extend_from_slice(&[192, 0, 2, 1, 192, 0, 2, 2]);
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn outer_header_parsing() {
        let esp = v4hdr(50, 0x4000, &[0, 0, 0x10, 0, 0, 0, 0, 1]);
        let ip = ipv4_info(&esp).unwrap();
        assert_eq!(
            ip,
            Ipv4Info {
                hdr_len: 20,
                df: true,
                proto: 50,
                saddr: [192, 0, 2, 1],
                daddr: [192, 0, 2, 2]
            }
        );
        assert_eq!(outer_esp_spi(&esp, &ip), Some(0x1000));
        let udp = v4hdr(17, 0, &[0x11, 0x94, 0x80, 0x00, 0, 16, 0, 0, 0, 0, 0x20, 0]);
        let ip = ipv4_info(&udp).unwrap();
        assert!(!ip.df);
        assert_eq!(outer_esp_spi(&udp, &ip), Some(0x2000));
        // IKE on the encapsulation port (non-ESP marker), other protocols, short headers.
        let ike = v4hdr(17, 0, &[0x11, 0x94, 0x11, 0x94, 0, 16, 0, 0, 0, 0, 0, 0]);
        assert_eq!(outer_esp_spi(&ike, &ipv4_info(&ike).unwrap()), None);
        let tcp = v4hdr(6, 0, &[0; 20]);
        assert_eq!(outer_esp_spi(&tcp, &ipv4_info(&tcp).unwrap()), None);
        assert_eq!(outer_esp_spi(&esp[..22], &ipv4_info(&esp).unwrap()), None);
        assert_eq!(ipv4_info(&esp[..19]), None);
        let mut v6 = esp.clone();
        v6[0] = 0x60;
        assert_eq!(ipv4_info(&v6), None);
        let mut badihl = esp.clone();
        badihl[0] = 0x44;
        assert_eq!(ipv4_info(&badihl), None);
    }

    #[test]
    fn outer_bit_after_encryption() {
        use DfMode::*;
        for xdf in [false, true] {
            let fit = |m| outer_after_encryption(m, xdf, true);
            assert_eq!(
                fit(Clear),
                OuterDecision {
                    df: false,
                    fragment_after: false
                }
            );
            assert_eq!(
                fit(Set),
                OuterDecision {
                    df: true,
                    fragment_after: false
                }
            );
            assert_eq!(
                fit(Copy),
                OuterDecision {
                    df: xdf,
                    fragment_after: false
                }
            );
            for m in [Clear, Set] {
                assert_eq!(
                    outer_after_encryption(m, xdf, false),
                    OuterDecision {
                        df: false,
                        fragment_after: true
                    }
                );
            }
            assert_eq!(
                outer_after_encryption(Copy, xdf, false),
                OuterDecision {
                    df: xdf,
                    fragment_after: !xdf
                }
            );
        }
    }

    #[test]
    fn precedence() {
        let none = FragSettings::default();
        let g = FragSettings {
            df: Some(DfMode::Clear),
            prefrag: Some(PreFrag::Enabled),
        };
        let ifc = FragSettings {
            df: Some(DfMode::Set),
            prefrag: None,
        };
        let sa = FragSettings {
            df: None,
            prefrag: Some(PreFrag::Disabled),
        };
        assert_eq!(
            resolve(none, none, none),
            Resolved {
                df: DEFAULT_DF_MODE,
                prefrag: DEFAULT_PREFRAG
            }
        );
        assert_eq!(
            resolve(none, none, g),
            Resolved {
                df: DfMode::Clear,
                prefrag: PreFrag::Enabled
            }
        );
        assert_eq!(
            resolve(none, ifc, g),
            Resolved {
                df: DfMode::Set,
                prefrag: PreFrag::Enabled
            }
        );
        assert_eq!(
            resolve(sa, ifc, g),
            Resolved {
                df: DfMode::Set,
                prefrag: PreFrag::Disabled
            }
        );
        let sa_df = FragSettings {
            df: Some(DfMode::Copy),
            prefrag: None,
        };
        assert_eq!(resolve(sa_df, ifc, g).df, DfMode::Copy);
    }

    proptest::proptest! {
        #[test]
        fn fragments_always_fit(len in 21u32..70_000, hdr in 20u32..61, mtu in 0u32..10_000,
                                ovh in 0u32..200, v6 in proptest::bool::ANY) {
            let i = FragInput {
                prefrag: PreFrag::Enabled,
                df_mode: DfMode::Clear,
                inner_family: if v6 { Family::V6 } else { Family::V4 },
                inner_df: false,
                inner_len: len,
                inner_hdr_len: hdr,
                overhead: ovh,
                path_mtu: mtu,
            };
            match decide(&i) {
                Action::SendAsIs { .. } => proptest::prop_assert!(len + ovh <= mtu),
                Action::FragmentBeforeEncryption { max_inner_fragment_len: m, .. } => {
                    proptest::prop_assert!(len + ovh > mtu);
                    proptest::prop_assert!(m + ovh <= mtu);
                    let extra = if v6 { 8 } else { 0 };
                    proptest::prop_assert!(m >= hdr + extra + 8);
                    proptest::prop_assert_eq!((m - hdr - extra) % 8, 0);
                }
                Action::FragmentAfterEncryption { outer_df } => proptest::prop_assert!(!outer_df),
                Action::DropIcmpFragNeeded { .. } => proptest::prop_assert!(false),
            }
        }
    }
}
