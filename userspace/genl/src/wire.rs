// SPDX-License-Identifier: GPL-2.0

//! Netlink and generic-netlink framing: message headers and the generic
//! TLV attributes used by the `nlctrl` family and by extended ACKs.
//!
//! The payload of the `ipsec_rs` family itself is *not* encoded here: that is
//! the core crate's `nl` module, shared with the kernel module.  This module
//! only knows the framing every netlink family shares (`linux/netlink.h`,
//! `linux/genetlink.h`).  Attributes are read with the core's iterator too
//! ([`attrs`]), the one the kernel module decodes requests with.

use ipsec_rs_core::nl;

/// Netlink protocol number of generic netlink (`NETLINK_GENERIC`).
pub const NETLINK_GENERIC: i32 = 16;
/// `SOL_NETLINK` socket option level.
pub const SOL_NETLINK: i32 = 270;
/// Join a multicast group.
pub const NETLINK_ADD_MEMBERSHIP: i32 = 1;
/// Do not echo the request back inside error messages.
pub const NETLINK_CAP_ACK: i32 = 10;
/// Ask for extended ACKs (error message text, offending attribute).
pub const NETLINK_EXT_ACK: i32 = 11;

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;
/// Size of `struct nlattr`.
pub use nl::NLA_HDRLEN;

/// Message types every netlink family shares.
pub const NLMSG_NOOP: u16 = 1;
/// An error or an acknowledgement (error 0).
pub const NLMSG_ERROR: u16 = 2;
/// End of a dump.
pub const NLMSG_DONE: u16 = 3;
/// Data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// Request flag: this is a request.
pub const NLM_F_REQUEST: u16 = 0x1;
/// Part of a multipart reply (dump).
pub const NLM_F_MULTI: u16 = 0x2;
/// Ask for an acknowledgement.
pub const NLM_F_ACK: u16 = 0x4;
/// Dump was interrupted by a change; the data may be inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// Dump request (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// In `NLMSG_ERROR`: the request was not echoed back (capped).
pub const NLM_F_CAPPED: u16 = 0x100;
/// In `NLMSG_ERROR`/`NLMSG_DONE`: extended ACK attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// Extended ACK attribute: error or warning message (NUL-terminated string).
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// Extended ACK attribute: offset of the offending attribute in the request.
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
/// Extended ACK attribute: missing attribute type.
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;

/// The generic-netlink controller family (`nlctrl`).
pub const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_GETFAMILY`.
pub const CTRL_CMD_GETFAMILY: u8 = 3;
/// Version of the controller protocol we speak.
pub const CTRL_VERSION: u8 = 2;
/// `CTRL_ATTR_FAMILY_ID` (u16).
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME` (string).
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `CTRL_ATTR_VERSION` (u32).
pub const CTRL_ATTR_VERSION: u16 = 3;
/// `CTRL_ATTR_MCAST_GROUPS` (nest of nests).
pub const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
/// `CTRL_ATTR_MCAST_GRP_NAME` (string, inside a group nest).
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
/// `CTRL_ATTR_MCAST_GRP_ID` (u32, inside a group nest).
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

/// Rounds `len` up to netlink's 4-byte alignment.
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// `struct nlmsghdr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsgHdr {
    /// Length of the message including this header.
    pub len: u32,
    /// Message type (family id for generic netlink).
    pub ty: u16,
    /// `NLM_F_*` flags.
    pub flags: u16,
    /// Sequence number.
    pub seq: u32,
    /// Port id of the sender (0: the kernel).
    pub pid: u32,
}

impl NlMsgHdr {
    /// Parses a header from the start of `b`.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let h = b.get(..NLMSG_HDRLEN)?;
        Some(NlMsgHdr {
            len: u32::from_ne_bytes([h[0], h[1], h[2], h[3]]),
            ty: u16::from_ne_bytes([h[4], h[5]]),
            flags: u16::from_ne_bytes([h[6], h[7]]),
            seq: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
            pid: u32::from_ne_bytes([h[12], h[13], h[14], h[15]]),
        })
    }

    /// Appends the header to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.ty.to_ne_bytes());
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
    }
}

/// Builds one generic-netlink request: `nlmsghdr`, `genlmsghdr` and the
/// already-encoded attribute `payload`.
pub fn build_genl(
    family: u16,
    flags: u16,
    seq: u32,
    cmd: u8,
    version: u8,
    payload: &[u8],
) -> Vec<u8> {
    let len = NLMSG_HDRLEN + GENL_HDRLEN + payload.len();
    let mut out = Vec::with_capacity(align(len));
    NlMsgHdr {
        len: len as u32,
        ty: family,
        flags,
        seq,
        pid: 0,
    }
    .write(&mut out);
    out.extend_from_slice(&[cmd, version, 0, 0]);
    out.extend_from_slice(payload);
    out.resize(align(len), 0);
    out
}

/// Iterates over the netlink messages of one datagram, yielding each header
/// and its payload (the bytes after `nlmsghdr`).  Stops at the first
/// malformed header: [`Messages::malformed`] then says so.
pub struct Messages<'a> {
    rest: &'a [u8],
    malformed: bool,
}

impl<'a> Messages<'a> {
    /// Messages of the datagram `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Messages {
            rest: buf,
            malformed: false,
        }
    }

    /// Whether iteration stopped on a truncated or inconsistent header.
    pub fn malformed(&self) -> bool {
        self.malformed
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = (NlMsgHdr, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(h) = NlMsgHdr::parse(self.rest) else {
            self.malformed = true;
            self.rest = &[];
            return None;
        };
        let len = h.len as usize;
        if len < NLMSG_HDRLEN || len > self.rest.len() {
            self.malformed = true;
            self.rest = &[];
            return None;
        }
        let payload = &self.rest[NLMSG_HDRLEN..len];
        self.rest = self.rest.get(align(len)..).unwrap_or(&[]);
        Some((h, payload))
    }
}

/// Appends one attribute (`nlattr` header, `value`, padding) to `out`.
pub fn put_attr(out: &mut Vec<u8>, ty: u16, value: &[u8]) {
    let len = NLA_HDRLEN + value.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (align(len) - len), 0);
}

/// Appends a NUL-terminated string attribute.
pub fn put_str(out: &mut Vec<u8>, ty: u16, s: &str) {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    put_attr(out, ty, &v);
}

/// The attributes in `buf`, read with the core's iterator ([`nl::Attrs`]:
/// type without the nested/byte-order flags, payload, offset), up to the
/// first malformed one, where reading stops without an error: a reply or an
/// extended ACK is taken for what it holds.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = nl::Attr<'_>> {
    nl::Attrs::new(buf).map_while(Result::ok)
}

/// Reads a string attribute value (up to the first NUL), lossily.
pub fn get_str(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// A decoded `NLMSG_ERROR` (error or acknowledgement) or `NLMSG_DONE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// 0 for success, else a negative errno.
    pub error: i32,
    /// Sequence number of the request this answers.
    pub seq: u32,
    /// The kernel's extended-ACK message (`NL_SET_ERR_MSG`), verbatim.
    pub msg: Option<String>,
    /// Offset of the offending attribute in the request, if reported.
    pub offset: Option<u32>,
    /// Type of a missing attribute, if reported.
    pub missing: Option<u32>,
}

/// Parses the payload of an `NLMSG_ERROR` message whose header is `h`.
///
/// Layout: `int error`, the request's `nlmsghdr` (followed by the request's
/// payload unless `NLM_F_CAPPED`), then extended-ACK attributes if
/// `NLM_F_ACK_TLVS`.
pub fn parse_error(h: &NlMsgHdr, payload: &[u8]) -> Option<Ack> {
    let error = i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?);
    let orig = NlMsgHdr::parse(payload.get(4..)?)?;
    let skip = if h.flags & NLM_F_CAPPED != 0 || error == 0 && h.flags & NLM_F_ACK_TLVS == 0 {
        NLMSG_HDRLEN
    } else {
        orig.len as usize
    };
    let mut ack = Ack {
        error,
        seq: orig.seq,
        msg: None,
        offset: None,
        missing: None,
    };
    if h.flags & NLM_F_ACK_TLVS != 0 {
        let tlvs = payload.get(4 + align(skip)..).unwrap_or(&[]);
        read_ack_tlvs(&mut ack, tlvs);
    }
    Some(ack)
}

/// Parses the payload of an `NLMSG_DONE` message: `int error` and, with
/// `NLM_F_ACK_TLVS`, extended-ACK attributes.
pub fn parse_done(h: &NlMsgHdr, payload: &[u8]) -> Ack {
    let error = payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
        .unwrap_or(0);
    let mut ack = Ack {
        error,
        seq: h.seq,
        msg: None,
        offset: None,
        missing: None,
    };
    if h.flags & NLM_F_ACK_TLVS != 0 {
        read_ack_tlvs(&mut ack, payload.get(4..).unwrap_or(&[]));
    }
    ack
}

fn read_ack_tlvs(ack: &mut Ack, tlvs: &[u8]) {
    for a in attrs(tlvs) {
        match a.kind {
            NLMSGERR_ATTR_MSG => {
                let s = get_str(a.payload);
                if !s.is_empty() {
                    ack.msg = Some(s);
                }
            }
            NLMSGERR_ATTR_OFFS => ack.offset = a.u32().ok(),
            NLMSGERR_ATTR_MISS_TYPE => ack.missing = a.u32().ok(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genl_request_layout() {
        let m = build_genl(0x1c, NLM_F_REQUEST | NLM_F_ACK, 7, 3, 1, &[1, 2, 3]);
        assert_eq!(m.len(), 24);
        let h = NlMsgHdr::parse(&m).unwrap();
        assert_eq!(
            h,
            NlMsgHdr {
                len: 23,
                ty: 0x1c,
                flags: 5,
                seq: 7,
                pid: 0
            }
        );
        assert_eq!(&m[16..], &[3, 1, 0, 0, 1, 2, 3, 0]);
    }

    #[test]
    fn attrs_roundtrip_and_padding() {
        let mut b = Vec::new();
        put_str(&mut b, 2, "ipsec_rs");
        put_attr(&mut b, 1, &0x1234u16.to_ne_bytes());
        assert_eq!(b.len(), 16 + 8);
        let v: Vec<_> = attrs(&b).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].kind, 2);
        assert_eq!(get_str(v[0].payload), "ipsec_rs");
        assert_eq!(v[1].u16(), Ok(0x1234));
    }

    #[test]
    fn truncated_attr_stops() {
        let b = [200u8, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(attrs(&b).count(), 0);
        // The attributes before a malformed one are read; nothing after it.
        let mut b = Vec::new();
        put_attr(&mut b, 1, &7u32.to_ne_bytes());
        b.extend_from_slice(&[3, 0, 2, 0]);
        put_attr(&mut b, 3, &8u32.to_ne_bytes());
        let kinds: Vec<u16> = attrs(&b).map(|a| a.kind).collect();
        assert_eq!(kinds, [1]);
        // The nested and byte-order flags are not part of the type.
        let mut b = Vec::new();
        put_attr(&mut b, 7 | 0x8000, &[]);
        put_attr(&mut b, 2 | 0x4000, &[]);
        let kinds: Vec<u16> = attrs(&b).map(|a| a.kind).collect();
        assert_eq!(kinds, [7, 2]);
    }

    #[test]
    fn messages_reject_bad_length() {
        let mut b = Vec::new();
        NlMsgHdr {
            len: 100,
            ty: 2,
            flags: 0,
            seq: 0,
            pid: 0,
        }
        .write(&mut b);
        let mut it = Messages::new(&b);
        assert!(it.next().is_none());
        assert!(it.malformed());
    }

    #[test]
    fn error_with_extack_capped() {
        // NLMSG_ERROR, capped, with TLVs: error, orig header, MSG, OFFS.
        let mut p = Vec::new();
        p.extend_from_slice(&(-22i32).to_ne_bytes());
        NlMsgHdr {
            len: 40,
            ty: 0x1c,
            flags: 5,
            seq: 9,
            pid: 0,
        }
        .write(&mut p);
        put_str(&mut p, NLMSGERR_ATTR_MSG, "replay window too large");
        put_attr(&mut p, NLMSGERR_ATTR_OFFS, &24u32.to_ne_bytes());
        let h = NlMsgHdr {
            len: 0,
            ty: NLMSG_ERROR,
            flags: NLM_F_CAPPED | NLM_F_ACK_TLVS,
            seq: 9,
            pid: 0,
        };
        let a = parse_error(&h, &p).unwrap();
        assert_eq!(a.error, -22);
        assert_eq!(a.seq, 9);
        assert_eq!(a.msg.as_deref(), Some("replay window too large"));
        assert_eq!(a.offset, Some(24));
    }

    #[test]
    fn error_uncapped_skips_echoed_request() {
        let req = build_genl(0x1c, 5, 3, 1, 1, &[9, 9, 9, 9]);
        let mut p = Vec::new();
        p.extend_from_slice(&(-1i32).to_ne_bytes());
        p.extend_from_slice(&req);
        put_str(&mut p, NLMSGERR_ATTR_MSG, "nope");
        let h = NlMsgHdr {
            len: 0,
            ty: NLMSG_ERROR,
            flags: NLM_F_ACK_TLVS,
            seq: 3,
            pid: 0,
        };
        let a = parse_error(&h, &p).unwrap();
        assert_eq!((a.error, a.seq, a.msg.as_deref()), (-1, 3, Some("nope")));
    }

    #[test]
    fn plain_ack() {
        let mut p = Vec::new();
        p.extend_from_slice(&0i32.to_ne_bytes());
        NlMsgHdr {
            len: 20,
            ty: 0x1c,
            flags: 5,
            seq: 4,
            pid: 0,
        }
        .write(&mut p);
        let h = NlMsgHdr {
            len: 0,
            ty: NLMSG_ERROR,
            flags: NLM_F_CAPPED,
            seq: 4,
            pid: 0,
        };
        let a = parse_error(&h, &p).unwrap();
        assert_eq!((a.error, a.seq, a.msg), (0, 4, None));
    }
}
